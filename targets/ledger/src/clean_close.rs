//! Telling a WAL kept on purpose from one a crash left: [`record`] writes a marker
//! `<db>-clean-close` after a clean close that left a WAL behind (archive mode keeps it), and
//! [`take`] reads it at the next open, which consumes it.
//!
//! The marker holds the WAL's size and the salts of its header as the close left them. It
//! vouches for a WAL only when both still match: frames a later crash appended change the
//! size, a restarted WAL changes the salts. It is advisory: a lost marker only costs a
//! needless recovery warning, and a marker that no longer matches is ignored.

use std::fs;
use std::path::{Path, PathBuf};

use crate::sidecar::sidecar;

/// Where the marker of the database at `db` lives.
pub(crate) fn marker_path(db: &Path) -> PathBuf {
    sidecar(db, "-clean-close")
}

fn wal_path(db: &Path) -> PathBuf {
    sidecar(db, "-wal")
}

/// The WAL as the marker describes it: `<size> <salt hex>`; `None` without a non-empty WAL.
fn describe_wal(db: &Path) -> Option<String> {
    use std::io::Read;
    let mut file = fs::File::open(wal_path(db)).ok()?;
    let len = file.metadata().ok()?.len();
    let mut header = [0u8; 24];
    file.read_exact(&mut header).ok()?;
    let hex: String = header[16..]
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect();
    Some(format!("{len} {hex}"))
}

/// After a clean close of the database at `db`: mark the WAL it left, if any (else remove
/// an old marker).
pub(crate) fn record(db: &Path) {
    let marker = marker_path(db);
    let written = match describe_wal(db) {
        Some(description) => fs::write(&marker, description),
        None => match fs::remove_file(&marker) {
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(()),
            other => other,
        },
    };
    if let Err(error) = written {
        tracing::debug!(marker = %marker.display(), %error, "clean-close marker not updated");
    }
}

/// Records the marker when dropped: a field of the ledger declared after its connection, so
/// the connection is closed (by `Ledger::close` or by dropping the ledger) before the WAL it
/// left is described. A ledger that never drops (a killed process) leaves no marker.
#[derive(Debug)]
pub(crate) struct OnClose {
    db: PathBuf,
}

impl OnClose {
    /// The marker of the database at `db`, recorded when this value drops.
    pub(crate) fn new(db: &Path) -> OnClose {
        OnClose {
            db: db.to_path_buf(),
        }
    }
}

impl Drop for OnClose {
    fn drop(&mut self) {
        record(&self.db);
    }
}

/// At open, before SQLite reads the WAL: whether the WAL of `db` is exactly the one a clean
/// close left. The marker is removed either way, so it vouches for one open only.
pub(crate) fn take(db: &Path) -> bool {
    let marker = marker_path(db);
    let Ok(recorded) = fs::read_to_string(&marker) else {
        return false;
    };
    let matches = describe_wal(db).is_some_and(|found| found == recorded);
    if let Err(error) = fs::remove_file(&marker) {
        tracing::debug!(marker = %marker.display(), %error, "clean-close marker not removed");
    }
    matches
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wal_with(db: &Path, len: usize, salt: u8) {
        let mut bytes = vec![0u8; len];
        bytes[16..24].fill(salt);
        fs::write(wal_path(db), bytes).expect("write wal");
    }

    #[test]
    fn vouches_once_for_the_wal_the_close_left_and_never_for_a_changed_one() {
        let dir = tempfile::tempdir().expect("temp dir");
        let db = dir.path().join("l.db");
        wal_with(&db, 64, 1);
        record(&db);
        assert!(take(&db), "the WAL the close left");
        assert!(!take(&db), "the marker is consumed");

        record(&db);
        wal_with(&db, 96, 1);
        assert!(!take(&db), "frames appended after the close");

        wal_with(&db, 64, 1);
        record(&db);
        wal_with(&db, 64, 2);
        assert!(!take(&db), "a restarted WAL");
    }

    #[test]
    fn a_close_without_a_wal_leaves_no_marker() {
        let dir = tempfile::tempdir().expect("temp dir");
        let db = dir.path().join("l.db");
        fs::write(marker_path(&db), "64 00").expect("old marker");
        record(&db);
        assert!(!marker_path(&db).exists());
        assert!(!take(&db));
    }
}
