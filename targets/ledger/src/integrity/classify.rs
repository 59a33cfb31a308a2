//! Which SQLite failures mean the database is damaged: [`from_sqlite`].
//!
//! A checksum mismatch (`SQLITE_IOERR_DATA`), `SQLITE_CORRUPT*` and
//! `SQLITE_NOTADB` become [`LedgerError::Corrupt`], naming the file and page
//! when the checksum VFS recorded them; everything else stays
//! [`LedgerError::Sqlite`] with both result codes.

use std::path::Path;

use rusqlite::ErrorCode;

use crate::checksum;
use crate::error::LedgerError;

/// Whether `error` says the data read was damaged.
pub(crate) fn is_corruption(error: &rusqlite::Error) -> bool {
    match error {
        rusqlite::Error::SqliteFailure(e, _) => {
            e.extended_code == checksum::IOERR_DATA
                || matches!(e.code, ErrorCode::DatabaseCorrupt | ErrorCode::NotADatabase)
        }
        _ => false,
    }
}

/// The ledger error for `source`, raised while doing `operation` on `path`.
pub(crate) fn from_sqlite(
    path: &Path,
    operation: &'static str,
    source: rusqlite::Error,
) -> LedgerError {
    if !is_corruption(&source) {
        return LedgerError::Sqlite {
            operation,
            path: path.to_path_buf(),
            source,
        };
    }
    let detail = match checksum::faults_for(path).last() {
        Some(fault) if is_checksum(&source) => {
            format!("failed to {operation}: {fault}")
        }
        _ => format!("failed to {operation}: {source}"),
    };
    LedgerError::Corrupt {
        path: path.to_path_buf(),
        detail,
        unreadable: Vec::new(),
    }
}

/// Whether `error` is a page that failed its checksum (`SQLITE_IOERR_DATA`).
pub(crate) fn is_checksum(error: &rusqlite::Error) -> bool {
    matches!(error, rusqlite::Error::SqliteFailure(e, _) if e.extended_code == checksum::IOERR_DATA)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rusqlite::ffi;

    fn failure(code: i32) -> rusqlite::Error {
        rusqlite::Error::SqliteFailure(ffi::Error::new(code), None)
    }

    #[test]
    fn checksum_and_corrupt_codes_are_corruption() {
        assert!(is_corruption(&failure(ffi::SQLITE_IOERR_DATA)));
        assert!(is_corruption(&failure(ffi::SQLITE_CORRUPT_INDEX)));
        assert!(is_corruption(&failure(ffi::SQLITE_NOTADB)));
        assert!(!is_corruption(&failure(ffi::SQLITE_IOERR_FSYNC)));
        assert!(!is_corruption(&failure(ffi::SQLITE_BUSY)));
    }

    #[test]
    fn other_errors_keep_their_codes() {
        let e = from_sqlite(
            Path::new("x.db"),
            "insert capture",
            failure(ffi::SQLITE_IOERR_FSYNC),
        );
        assert_eq!(e.extended_code(), Some(ffi::SQLITE_IOERR_FSYNC));
        let c = from_sqlite(
            Path::new("x.db"),
            "read capture",
            failure(ffi::SQLITE_CORRUPT),
        );
        assert_eq!(c.kind(), "corrupt");
        assert!(c.to_string().contains("read capture"), "{c}");
    }
}
