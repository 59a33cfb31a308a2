//! What the ledger does to the file system outside SQLite, for one observer: [`FsEvent`] and
//! [`set_observer`].
//!
//! SQLite's I/O goes through a VFS a caller can wrap; the vault's files and the directory
//! fsyncs do not. A power-loss model (the harness's) needs to know which of those changes were
//! made durable, so the ledger reports them here. The observer is process-global and a plain
//! function: the ledger calls it synchronously and keeps no state for it.

use std::path::Path;
use std::sync::RwLock;

/// One file-system change the ledger made outside SQLite.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FsEvent<'a> {
    /// `target` is about to be replaced by a rename (its old content, if any, is still there).
    Replacing {
        /// The file the rename will create or replace.
        target: &'a Path,
    },
    /// `dir` was fsynced: every entry created or renamed in it before is durable.
    DirSynced {
        /// The directory.
        dir: &'a Path,
    },
}

/// The observer's signature.
pub type Observer = fn(FsEvent<'_>);

static OBSERVER: RwLock<Option<Observer>> = RwLock::new(None);

/// Install (or with `None` remove) the process's observer.
pub fn set_observer(observer: Option<Observer>) {
    *OBSERVER.write().unwrap_or_else(|p| p.into_inner()) = observer;
}

/// Hand `event` to the observer, if any.
pub(crate) fn emit(event: FsEvent<'_>) {
    let observer = *OBSERVER.read().unwrap_or_else(|p| p.into_inner());
    if let Some(observer) = observer {
        observer(event);
    }
}
