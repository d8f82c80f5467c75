//! File-system helpers: atomic writes and bounded reads.

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
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> FsError + '_ {
    move |source| FsError::Io { path: path.to_path_buf(), error: source }
}

/// Read at most `limit` bytes of a file; a longer file is an error, never silently truncated.
pub fn read_bounded(path: &Path, limit: u64) -> Result<Vec<u8>, FsError> {
    let file = std::fs::File::open(path).map_err(io(path))?;
    let mut buf = Vec::new();
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
                // `staged` now holds the previous tree.
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
