//! File-system helpers: atomic writes, bounded non-blocking reads, output-directory safety and
//! staging directories that a later run can recognise and clean up.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum FsError {
    // The I/O error is part of the message and deliberately not a `#[source]`, so error chains
    // printed with `{:#}` do not repeat it.
    #[error("{path}: {error}")]
    Io { path: PathBuf, error: std::io::Error },
    #[error("{path}: file is larger than the limit of {limit} bytes")]
    TooLarge { path: PathBuf, limit: u64 },
    #[error("{path}: is {kind}, not a regular file; refusing to read it")]
    NotRegular { path: PathBuf, kind: &'static str },
}

/// What a non-regular file is, for messages.
fn kind_of(ft: &std::fs::FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt as _;
        if ft.is_fifo() {
            return "a FIFO (named pipe)";
        }
        if ft.is_socket() {
            return "a socket";
        }
        if ft.is_char_device() {
            return "a character device";
        }
        if ft.is_block_device() {
            return "a block device";
        }
    }
    if ft.is_dir() { "a directory" } else { "a special file" }
}

/// Open a file for reading without blocking and only if it is a regular file. A FIFO opened the
/// ordinary way blocks until a writer appears, and a device never ends: both are refused.
pub fn open_regular(path: &Path) -> Result<std::fs::File, FsError> {
    open_regular_sized(path).map(|(file, _)| file)
}

/// [`open_regular`], with the file's size at opening.
fn open_regular_sized(path: &Path) -> Result<(std::fs::File, u64), FsError> {
    #[cfg(unix)]
    let file = {
        use rustix::fs::{Mode, OFlags};
        match rustix::fs::open(path, OFlags::RDONLY | OFlags::NONBLOCK | OFlags::CLOEXEC, Mode::empty()) {
            Ok(fd) => std::fs::File::from(fd),
            // Opening a socket fails with ENXIO: say what it is rather than "no such device".
            Err(e) if e == rustix::io::Errno::NXIO => {
                if let Ok(meta) = std::fs::metadata(path) {
                    return Err(FsError::NotRegular { path: path.to_path_buf(), kind: kind_of(&meta.file_type()) });
                }
                return Err(FsError::Io { path: path.to_path_buf(), error: e.into() });
            }
            Err(e) => return Err(FsError::Io { path: path.to_path_buf(), error: e.into() }),
        }
    };
    #[cfg(not(unix))]
    let file = std::fs::File::open(path).map_err(io(path))?;
    let meta = file.metadata().map_err(io(path))?;
    if !meta.is_file() {
        return Err(FsError::NotRegular { path: path.to_path_buf(), kind: kind_of(&meta.file_type()) });
    }
    Ok((file, meta.len()))
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> FsError + '_ {
    move |source| FsError::Io { path: path.to_path_buf(), error: source }
}

/// Read at most `limit` bytes of a regular file ([`open_regular`]); a longer file is an error,
/// never silently truncated.
pub fn read_bounded(path: &Path, limit: u64) -> Result<Vec<u8>, FsError> {
    let (file, size) = open_regular_sized(path)?;
    // Sized from the file's length (it may still grow: the cap is what bounds the read).
    let mut buf = Vec::with_capacity(size.min(limit).saturating_add(1) as usize);
    file.take(limit + 1).read_to_end(&mut buf).map_err(io(path))?;
    if buf.len() as u64 > limit {
        return Err(FsError::TooLarge { path: path.to_path_buf(), limit });
    }
    Ok(buf)
}

/// Write `bytes` to `path` atomically: a temporary file in the same directory, fsync, rename.
/// A crash leaves either the old file or the new one, never a partial one.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), FsError> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(io(dir))?;
    tmp.write_all(bytes).map_err(io(path))?;
    // Temporary files are created 0600; outputs are ordinary readable files (keys use their own
    // writer with 0600).
    #[cfg(unix)]
    std::fs::set_permissions(tmp.path(), std::os::unix::fs::PermissionsExt::from_mode(0o644)).map_err(io(path))?;
    tmp.as_file().sync_all().map_err(io(path))?;
    tmp.persist(path).map_err(|e| FsError::Io { path: path.to_path_buf(), error: e.error })?;
    Ok(())
}

/// Replace directory `target` by `staged` (a fully written sibling directory).
///
/// On Linux the two are swapped with one `renameat2(RENAME_EXCHANGE)`, so at every instant
/// `target` is either the complete old tree or the complete new one, even if the process is
/// killed. Where the exchange is unsupported, the old tree is renamed aside first: a failure
/// before the second rename puts it back, but a hard kill between the two renames leaves the old
/// tree under `.<name>.old-*/tree`.
pub fn replace_dir(staged: &Path, target: &Path) -> Result<(), FsError> {
    if !target.exists() {
        return std::fs::rename(staged, target).map_err(io(target));
    }
    #[cfg(target_os = "linux")]
    {
        use rustix::fs::{CWD, RenameFlags, renameat_with};
        match renameat_with(CWD, staged, CWD, target, RenameFlags::EXCHANGE) {
            Ok(()) => {
                // `staged` now holds the previous tree. Mark it as a staging directory first, so
                // that if this process is killed while removing it, the next run removes the rest.
                let _ = std::fs::write(staged.join(STAGING_MARKER), STAGING_MARKER_TEXT);
                let _ = std::fs::remove_dir_all(staged);
                return Ok(());
            }
            Err(e) if e == rustix::io::Errno::INVAL || e == rustix::io::Errno::NOSYS => {}
            Err(e) => return Err(FsError::Io { path: target.to_path_buf(), error: e.into() }),
        }
    }
    let parent = match target.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = target.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let aside =
        tempfile::Builder::new().prefix(&format!(".{name}.old-")).tempdir_in(&parent).map_err(io(&parent))?.keep();
    let aside_target = aside.join("tree");
    std::fs::rename(target, &aside_target).map_err(io(target))?;
    if let Err(e) = std::fs::rename(staged, target) {
        // Put the previous tree back so the user keeps the last good output.
        let _ = std::fs::rename(&aside_target, target);
        return Err(FsError::Io { path: target.to_path_buf(), error: e });
    }
    let _ = std::fs::remove_dir_all(&aside);
    Ok(())
}

/// fsync a directory, so that renames and new entries in it survive a crash.
pub fn sync_dir(dir: &Path) -> Result<(), FsError> {
    std::fs::File::open(dir).and_then(|d| d.sync_all()).map_err(io(dir))
}

/// Whether a process with this id exists (Linux: `/proc/<pid>`); used to recognise leftovers of
/// killed runs. Elsewhere every process counts as alive, so nothing is removed by mistake.
pub fn process_alive(pid: u32) -> bool {
    if cfg!(target_os = "linux") { Path::new("/proc").join(pid.to_string()).exists() } else { true }
}

/// Marker file inside a staging directory while a run writes it; the run holds an exclusive
/// `flock` on it, so a later run can tell a killed run's leftovers from a run in progress.
pub const STAGING_MARKER: &str = ".rrctl-staging";
const STAGING_MARKER_TEXT: &[u8] = b"rrctl staging directory; removed by the next run if left behind\n";

/// A staging directory `.<name>.staging-XXXXXX` beside an output `<name>`, removed when dropped
/// unless [`Staging::commit`] swapped it in.
#[derive(Debug)]
pub struct Staging {
    path: PathBuf,
    // Held for the life of the run: the lock tells later runs this directory is in use.
    _lock: std::fs::File,
    committed: bool,
}

fn staging_prefix(target: &Path) -> String {
    let name = target.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "out".into());
    format!(".{name}.staging-")
}

fn parent_of(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

impl Staging {
    /// Create a staging directory beside `target`, first removing stale staging directories of
    /// earlier runs for the same target (see [`remove_stale_staging`]).
    pub fn beside(target: &Path) -> Result<Staging, FsError> {
        let parent = parent_of(target);
        std::fs::create_dir_all(&parent).map_err(io(&parent))?;
        let removed = remove_stale_staging(target);
        if removed > 0 {
            tracing::info!(
                "removed {removed} staging director(ies) left behind by killed runs in {}",
                parent.display()
            );
        }
        let dir = tempfile::Builder::new().prefix(&staging_prefix(target)).tempdir_in(&parent).map_err(io(&parent))?;
        let path = dir.keep();
        let marker = path.join(STAGING_MARKER);
        let lock = (|| {
            let mut f = std::fs::OpenOptions::new().write(true).create_new(true).open(&marker)?;
            f.write_all(STAGING_MARKER_TEXT)?;
            #[cfg(unix)]
            rustix::fs::flock(&f, rustix::fs::FlockOperation::NonBlockingLockExclusive)?;
            Ok::<_, std::io::Error>(f)
        })();
        match lock {
            Ok(lock) => Ok(Staging { path, _lock: lock, committed: false }),
            Err(e) => {
                let _ = std::fs::remove_dir_all(&path);
                Err(FsError::Io { path: marker, error: e })
            }
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Swap the staged tree in as `target` ([`replace_dir`]); the marker does not go along.
    pub fn commit(mut self, target: &Path) -> Result<(), FsError> {
        let marker = self.path.join(STAGING_MARKER);
        std::fs::remove_file(&marker).map_err(io(&marker))?;
        let result = replace_dir(&self.path, target);
        self.committed = result.is_ok();
        result
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        if !self.committed {
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}

/// Remove the staging directories killed runs left beside `target`: only directories named
/// `.<name>.staging-*` that hold a [`STAGING_MARKER`] no running process has locked. Returns how
/// many were removed.
pub fn remove_stale_staging(target: &Path) -> usize {
    let parent = parent_of(target);
    let prefix = staging_prefix(target);
    let Ok(entries) = std::fs::read_dir(&parent) else { return 0 };
    let mut removed = 0;
    for entry in entries.flatten() {
        if !entry.file_name().to_string_lossy().starts_with(&prefix) {
            continue;
        }
        let path = entry.path();
        let is_dir = std::fs::symlink_metadata(&path).is_ok_and(|m| m.is_dir());
        let marker = path.join(STAGING_MARKER);
        if !is_dir || !std::fs::symlink_metadata(&marker).is_ok_and(|m| m.is_file()) {
            continue;
        }
        let Ok(f) = std::fs::File::open(&marker) else { continue };
        #[cfg(unix)]
        if rustix::fs::flock(&f, rustix::fs::FlockOperation::NonBlockingLockExclusive).is_err() {
            // Another run is writing it right now.
            continue;
        }
        if std::fs::remove_dir_all(&path).is_ok() {
            removed += 1;
        }
        drop(f);
    }
    removed
}

/// Why an output directory is refused.
#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    #[error("output {out} is the input {input}; writing it would delete the input")]
    IsInput { out: PathBuf, input: PathBuf },
    #[error("output {out} contains the input {input}; replacing it would delete the input")]
    ContainsInput { out: PathBuf, input: PathBuf },
    #[error("output {out} is inside the input {input}; choose a directory outside it")]
    InsideInput { out: PathBuf, input: PathBuf },
    #[error("output {out} is {kind}, not a directory; refusing to replace it")]
    NotADirectory { out: PathBuf, kind: &'static str },
    #[error(
        "output {out} is a non-empty directory that {command} did not write (it has no {marker} marker file); refusing to replace it: remove it or choose another directory"
    )]
    Foreign { out: PathBuf, command: String, marker: String },
    #[error("output {out} is a symbolic link to {target}, which does not exist")]
    DanglingLink { out: PathBuf, target: PathBuf },
    #[error(transparent)]
    Fs(#[from] FsError),
}

/// An output directory that passed [`check_output_dir`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutputDir {
    /// Where to write: the output itself or, when it is a symbolic link, the directory it points
    /// at (the link stays and sees the new tree).
    pub dir: PathBuf,
    /// It is a non-empty earlier output of the same command (it holds the marker).
    pub earlier_output: bool,
}

/// `path` made absolute with symbolic links resolved, also when its last components do not
/// exist yet.
fn resolve_lenient(path: &Path) -> Result<PathBuf, FsError> {
    let abs = if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir().map_err(io(Path::new(".")))?.join(path)
    };
    let mut existing = abs.as_path();
    let mut rest = Vec::new();
    loop {
        match existing.canonicalize() {
            Ok(c) => return Ok(rest.iter().rev().fold(c, |acc: PathBuf, part| acc.join(part))),
            Err(_) => match (existing.parent(), existing.file_name()) {
                (Some(parent), Some(name)) => {
                    rest.push(name.to_os_string());
                    existing = parent;
                }
                _ => return Ok(abs),
            },
        }
    }
}

/// Check that `out` may be replaced as a whole by a command (named `command` in messages) that
/// reads `inputs` and marks its outputs with the file `marker`. Refused: an output that is, contains
/// or is inside an input; anything but a directory; a non-empty directory without the marker.
/// A symbolic link is followed: the returned [`OutputDir::dir`] is what it points at.
pub fn check_output_dir(out: &Path, inputs: &[&Path], marker: &str, command: &str) -> Result<OutputDir, OutputError> {
    let mut dir = out.to_path_buf();
    if std::fs::symlink_metadata(out).is_ok_and(|m| m.file_type().is_symlink()) {
        match out.canonicalize() {
            Ok(target) => dir = target,
            Err(_) => {
                let target = std::fs::read_link(out).unwrap_or_default();
                return Err(OutputError::DanglingLink { out: out.to_path_buf(), target });
            }
        }
    }
    let meta = std::fs::metadata(&dir).ok();
    if let Some(m) = &meta
        && !m.is_dir()
    {
        return Err(OutputError::NotADirectory { out: out.to_path_buf(), kind: kind_of_output(&m.file_type()) });
    }
    let abs_out = resolve_lenient(&dir)?;
    for input in inputs {
        let Ok(abs_in) = input.canonicalize() else { continue };
        let (out, input) = (out.to_path_buf(), input.to_path_buf());
        if abs_in == abs_out {
            return Err(OutputError::IsInput { out, input });
        }
        if abs_in.starts_with(&abs_out) {
            return Err(OutputError::ContainsInput { out, input });
        }
        if abs_out.starts_with(&abs_in) {
            return Err(OutputError::InsideInput { out, input });
        }
    }
    let mut earlier_output = false;
    if meta.is_some() {
        let non_empty = std::fs::read_dir(&dir).map_err(io(&dir))?.next().is_some();
        if non_empty {
            if !std::fs::symlink_metadata(dir.join(marker)).is_ok_and(|m| m.is_file()) {
                return Err(OutputError::Foreign {
                    out: out.to_path_buf(),
                    command: command.to_string(),
                    marker: marker.to_string(),
                });
            }
            earlier_output = true;
        }
    }
    Ok(OutputDir { dir, earlier_output })
}

fn kind_of_output(ft: &std::fs::FileType) -> &'static str {
    if ft.is_file() { "a regular file" } else { kind_of(ft) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replace_dir_swaps_whole_trees() {
        let tmp = tempfile::tempdir().unwrap();
        let target = tmp.path().join("dist");
        std::fs::create_dir(&target).unwrap();
        std::fs::write(target.join("old"), b"1").unwrap();
        let staged = tmp.path().join("staged");
        std::fs::create_dir(&staged).unwrap();
        std::fs::write(staged.join("new"), b"2").unwrap();
        replace_dir(&staged, &target).unwrap();
        assert!(target.join("new").exists() && !target.join("old").exists());
        assert!(!staged.exists(), "the previous tree is removed");
        assert_eq!(std::fs::read_dir(tmp.path()).unwrap().count(), 1, "nothing left beside dist");
    }

    #[test]
    fn read_bounded_refuses_longer_files() {
        let tmp = tempfile::tempdir().unwrap();
        let p = tmp.path().join("f");
        std::fs::write(&p, vec![b'x'; 11]).unwrap();
        assert!(matches!(read_bounded(&p, 10), Err(FsError::TooLarge { limit: 10, .. })));
        assert_eq!(read_bounded(&p, 11).unwrap().len(), 11);
    }

    #[test]
    fn write_atomic_replaces_content() {
        let tmp = tempfile::tempdir().unwrap();
        let p = tmp.path().join("a/b.json");
        write_atomic(&p, b"one").unwrap();
        write_atomic(&p, b"two").unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"two");
        let mode = std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&p).unwrap().permissions());
        assert_eq!(mode & 0o777, 0o644);
        assert_eq!(std::fs::read_dir(p.parent().unwrap()).unwrap().count(), 1, "no temporary files left");
    }
}
