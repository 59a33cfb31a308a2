//! Advisory locks that keep rotation away from a backup being restored: [`RestoreLock`].
//!
//! A restore holds a shared `flock` on the backup's manifest for as long as
//! it reads the snapshot; rotation deletes a backup only after taking an
//! exclusive `flock` on the manifest without waiting. The manifest, not the
//! snapshot, is locked because SQLite's own POSIX locks on the snapshot are
//! dropped whenever any descriptor of that file is closed in the process.

use std::fs::File;
use std::path::Path;

use nix::errno::Errno;
use nix::fcntl::{Flock, FlockArg};

use super::error::BackupError;
use super::manifest::BackupManifest;

/// A held lock on a backup; released when dropped.
#[derive(Debug)]
pub struct RestoreLock {
    _lock: Flock<File>,
}

fn lock(snapshot: &Path, arg: FlockArg) -> Result<Option<RestoreLock>, BackupError> {
    let path = BackupManifest::path_for(snapshot);
    let file = File::open(&path).map_err(BackupError::io("open manifest to lock", &path))?;
    match Flock::lock(file, arg) {
        Ok(lock) => Ok(Some(RestoreLock { _lock: lock })),
        Err((_, Errno::EWOULDBLOCK)) => Ok(None),
        Err((_, errno)) => Err(BackupError::Io {
            action: "lock manifest",
            path,
            source: std::io::Error::from(errno),
        }),
    }
}

/// Take the shared lock a restore holds on `snapshot` (waits for a rotation
/// deleting it to finish).
///
/// # Errors
/// [`BackupError::Io`] when the manifest cannot be opened or locked.
pub fn lock_for_restore(snapshot: &Path) -> Result<RestoreLock, BackupError> {
    lock(snapshot, FlockArg::LockShared)?.ok_or_else(|| BackupError::Io {
        action: "lock manifest for restore",
        path: BackupManifest::path_for(snapshot),
        source: std::io::Error::from(Errno::EWOULDBLOCK),
    })
}

/// Try the exclusive lock rotation needs; `None` = a restore is reading it.
pub(crate) fn try_lock_for_delete(snapshot: &Path) -> Result<Option<RestoreLock>, BackupError> {
    lock(snapshot, FlockArg::LockExclusiveNonblock)
}
