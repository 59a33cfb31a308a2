//! The names of a database's companion files: [`sidecar`].

use std::path::{Path, PathBuf};

/// `db` with `suffix` appended to its file name: `-wal`, `-shm`, `-journal`, and the ledger's
/// own companions (`-clean-close`, `-wal.damaged`).
pub(crate) fn sidecar(db: &Path, suffix: &str) -> PathBuf {
    let mut name = db.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}
