//! File-system helpers: atomic writes and bounded reads.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum FsError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: file is larger than the limit of {limit} bytes")]
    TooLarge { path: PathBuf, limit: u64 },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> FsError + '_ {
    move |source| FsError::Io { path: path.to_path_buf(), source }
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
    tmp.as_file().sync_all().map_err(io(path))?;
    tmp.persist(path).map_err(|e| FsError::Io { path: path.to_path_buf(), source: e.error })?;
    Ok(())
}

/// Replace directory `target` by `staged` (a fully written sibling directory) as close to
/// atomically as a POSIX file system allows: the old tree is renamed aside, the new one renamed
/// in, then the old one removed. A failure before the second rename leaves `target` untouched.
pub fn replace_dir(staged: &Path, target: &Path) -> Result<(), FsError> {
    let parent = match target.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    if target.exists() {
        let name = target.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let aside =
            tempfile::Builder::new().prefix(&format!(".{name}.old-")).tempdir_in(&parent).map_err(io(&parent))?.keep();
        let aside_target = aside.join("tree");
        std::fs::rename(target, &aside_target).map_err(io(target))?;
        if let Err(e) = std::fs::rename(staged, target) {
            // Put the previous tree back so the user keeps the last good output.
            let _ = std::fs::rename(&aside_target, target);
            return Err(FsError::Io { path: target.to_path_buf(), source: e });
        }
        let _ = std::fs::remove_dir_all(&aside);
    } else {
        std::fs::rename(staged, target).map_err(io(target))?;
    }
    Ok(())
}
