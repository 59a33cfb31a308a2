//! Scratch directories for write benches, on tmpfs when the machine has one: [`tempdir`].

use std::path::Path;

/// A fresh directory under `/dev/shm` when present (fsync costs nothing
/// there, so the VFS and index costs are not hidden behind the disk), else
/// the system temp directory.
///
/// # Panics
/// When no temporary directory can be created.
pub fn tempdir() -> tempfile::TempDir {
    let shm = Path::new("/dev/shm");
    let made = if shm.is_dir() {
        tempfile::Builder::new()
            .prefix("ledger-bench-")
            .tempdir_in(shm)
    } else {
        tempfile::Builder::new().prefix("ledger-bench-").tempdir()
    };
    made.expect("create a scratch directory for the bench")
}

/// Whether scratch directories land on tmpfs.
pub fn on_tmpfs() -> bool {
    Path::new("/dev/shm").is_dir()
}
