//! What a `--db` path holds before the ledger opens it: [`DbFile`] and [`inspect`].

use std::io::Read;
use std::path::Path;

use rusqlite::{Connection, OpenFlags};

/// The 16 bytes every SQLite database file starts with.
const SQLITE_HEADER: &[u8; 16] = b"SQLite format 3\0";

/// What is at a database path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DbFile {
    /// Nothing.
    Missing,
    /// A directory or another non-file.
    NotAFile,
    /// An empty file, or a SQLite database without tables: opening makes it a ledger.
    Empty,
    /// A file that does not start with the SQLite header.
    NotSqlite,
    /// A SQLite database with tables but no `captures` table.
    OtherSqlite,
    /// A SQLite database with the ledger's `captures` table.
    Ledger,
    /// A SQLite file whose tables could not be listed (e.g. damaged): the ledger's own open
    /// decides.
    Unreadable,
}

/// Look at `path` without changing it: the header, then the table list through a read-only
/// connection.
pub fn inspect(path: &Path) -> DbFile {
    let Ok(meta) = std::fs::metadata(path) else {
        return DbFile::Missing;
    };
    if !meta.is_file() {
        return DbFile::NotAFile;
    }
    if meta.len() == 0 {
        return DbFile::Empty;
    }
    let mut header = [0u8; 16];
    let read = std::fs::File::open(path).and_then(|mut file| file.read_exact(&mut header));
    if read.is_err() || &header != SQLITE_HEADER {
        return DbFile::NotSqlite;
    }
    let tables = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY).and_then(
        |conn| {
            conn.query_row(
                "SELECT count(*), coalesce(sum(name = 'captures'), 0) FROM sqlite_master WHERE type = 'table'",
                [],
                |row| Ok((row.get::<_, i64>(0)?, row.get::<_, i64>(1)?)),
            )
        },
    );
    match tables {
        Ok((0, _)) => DbFile::Empty,
        Ok((_, 0)) => DbFile::OtherSqlite,
        Ok(_) => DbFile::Ledger,
        Err(_) => DbFile::Unreadable,
    }
}

/// Why `path`, holding `kind`, cannot be used as a ledger, in words; `None` when it can.
pub fn refusal(path: &Path, kind: DbFile) -> Option<String> {
    let path = path.display();
    match kind {
        DbFile::NotAFile => Some(format!(
            "{path} is not a file; pass --db with the path of a ledger database file"
        )),
        DbFile::NotSqlite => Some(format!(
            "{path} is not a SQLite database (it does not start with the SQLite header); pass \
             --db with the path of a ledger database (if it was one, its first page is damaged: \
             restore from the last verified backup)"
        )),
        DbFile::OtherSqlite => Some(format!(
            "{path} is a SQLite database but not a ledger (it has no captures table); pass --db \
             with the path of a ledger database, or a new path to `ledger init`"
        )),
        DbFile::Missing | DbFile::Empty | DbFile::Ledger | DbFile::Unreadable => None,
    }
}
