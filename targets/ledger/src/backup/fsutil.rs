//! Durable file-system steps shared by snapshots, manifests and segments: [`write_durably`].

use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};

use super::error::BackupError;

/// The directory holding `path` (`.` for a bare name).
pub(crate) fn parent_dir(path: &Path) -> PathBuf {
    match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// fsync a directory so entries created, renamed or removed in it are durable.
pub(crate) fn sync_dir(dir: &Path) -> Result<(), BackupError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(BackupError::io("fsync directory", dir))
}

/// fsync a file's data and metadata.
pub(crate) fn sync_file(path: &Path) -> Result<(), BackupError> {
    File::open(path)
        .and_then(|f| f.sync_all())
        .map_err(BackupError::io("fsync file", path))
}

/// Create `dir` (and parents) if missing, syncing the parent when created.
pub(crate) fn ensure_dir(dir: &Path) -> Result<(), BackupError> {
    if dir.is_dir() {
        return Ok(());
    }
    fs::create_dir_all(dir).map_err(BackupError::io("create directory", dir))?;
    sync_dir(&parent_dir(dir))
}

/// The temporary sibling a file is written under before its rename.
pub(crate) fn temp_sibling(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    parent_dir(path).join(format!(".{name}.tmp"))
}

/// Write `bytes` to `path` durably: temp file, fsync, rename, fsync directory.
pub(crate) fn write_durably(path: &Path, bytes: &[u8]) -> Result<(), BackupError> {
    let temp = temp_sibling(path);
    let mut file = File::create(&temp).map_err(BackupError::io("create", &temp))?;
    file.write_all(bytes)
        .and_then(|()| file.sync_all())
        .map_err(BackupError::io("write and fsync", &temp))?;
    drop(file);
    fs::rename(&temp, path).map_err(BackupError::io("rename into place", path))?;
    sync_dir(&parent_dir(path))
}

/// Lowercase hex sha256 of a file's bytes.
pub(crate) fn file_sha256(path: &Path) -> Result<String, BackupError> {
    use sha2::{Digest, Sha256};
    use std::io::Read;
    let mut file = File::open(path).map_err(BackupError::io("open for hashing", path))?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; 1 << 16];
    loop {
        let n = file
            .read(&mut buffer)
            .map_err(BackupError::io("read for hashing", path))?;
        if n == 0 {
            break;
        }
        hasher.update(&buffer[..n]);
    }
    Ok(hex(&hasher.finalize()))
}

/// Lowercase hex of `bytes`.
pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// A scratch directory removed (best effort) when dropped.
#[derive(Debug)]
pub(crate) struct ScratchDir {
    path: PathBuf,
}

impl ScratchDir {
    /// Create `<parent>/.<label>-<pid>-<n>` (a fresh one each call).
    pub(crate) fn new(parent: &Path, label: &str) -> Result<ScratchDir, BackupError> {
        use std::sync::atomic::{AtomicU64, Ordering};
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let path = parent.join(format!(".{label}-{}-{n}", std::process::id()));
        if path.exists() {
            fs::remove_dir_all(&path).map_err(BackupError::io("clear scratch directory", &path))?;
        }
        fs::create_dir_all(&path).map_err(BackupError::io("create scratch directory", &path))?;
        Ok(ScratchDir { path })
    }

    /// The directory.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.path);
    }
}
