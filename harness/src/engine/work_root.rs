//! Where a run keeps its iterations' files: [`work_dir`].
//!
//! On tmpfs (`/dev/shm`) when the machine has one and `TMPDIR` does not name another place:
//! nothing a verdict depends on needs a real disk (power loss is modelled by the fault VFS, a
//! `kill -9` keeps the page cache, and the drives' real fsyncs only cost time), and tmpfs makes
//! those fsyncs and the per-iteration files nearly free.

use std::path::{Path, PathBuf};

/// The tmpfs the work directory goes to when present.
const TMPFS: &str = "/dev/shm";

/// The directory a run's (or a shrink's) temporary work directory is made in: `TMPDIR` when
/// set, else `/dev/shm` when it is a directory, else the system's temporary directory.
pub fn work_dir() -> PathBuf {
    work_dir_given(std::env::var_os("TMPDIR").is_some(), Path::new(TMPFS))
}

fn work_dir_given(tmpdir_set: bool, tmpfs: &Path) -> PathBuf {
    if !tmpdir_set && tmpfs.is_dir() {
        tmpfs.to_path_buf()
    } else {
        std::env::temp_dir()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tmpfs_unless_tmpdir_says_otherwise_or_there_is_none() {
        let tmpfs = tempfile::tempdir().unwrap();
        assert_eq!(work_dir_given(false, tmpfs.path()), tmpfs.path());
        assert_eq!(work_dir_given(true, tmpfs.path()), std::env::temp_dir());
        let missing = tmpfs.path().join("missing");
        assert_eq!(work_dir_given(false, &missing), std::env::temp_dir());
    }
}
