//! A borrowed connection plus the path its errors name: [`Db`].

use std::path::Path;

use rusqlite::Connection;

use crate::error::LedgerError;

/// The connection and database path every operation works with.
#[derive(Clone, Copy)]
pub(crate) struct Db<'a> {
    pub(crate) conn: &'a Connection,
    pub(crate) path: &'a Path,
}

impl<'a> Db<'a> {
    /// Pair a connection with the path its errors should name.
    pub(crate) fn new(conn: &'a Connection, path: &'a Path) -> Db<'a> {
        Db { conn, path }
    }

    /// Map a rusqlite error to [`LedgerError::Sqlite`] for `operation`, or to
    /// [`LedgerError::Corrupt`] when it says the data read was damaged.
    pub(crate) fn err(
        self,
        operation: &'static str,
    ) -> impl FnOnce(rusqlite::Error) -> LedgerError {
        move |source| crate::integrity::classify::from_sqlite(self.path, operation, source)
    }

    /// A [`LedgerError::Corrupt`] naming this database.
    pub(crate) fn corrupt(self, detail: String) -> LedgerError {
        LedgerError::Corrupt {
            path: self.path.to_path_buf(),
            detail,
            unreadable: Vec::new(),
        }
    }
}
