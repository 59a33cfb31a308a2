//! Cache coherency: detect that the database the connection serves is no
//! longer the one on disk ([`Coherency`]).
//!
//! - File identity: `(dev, inode)` of the path. A restore that renames a
//!   file into place leaves the connection reading the old, unlinked inode;
//!   only a reopen sees the new file.
//! - `PRAGMA data_version`: another connection committed. SQLite already
//!   drops its page cache; the ledger then re-reads `user_version`, so a
//!   schema migrated by another process (drift from [`crate::SCHEMA_VERSION`])
//!   is noticed and the connection reopened (which refuses a newer schema).

use std::os::unix::fs::MetadataExt;
use std::path::Path;

use rusqlite::Connection;

/// `(dev, inode)` of a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileIdentity {
    /// Device.
    pub dev: u64,
    /// Inode.
    pub ino: u64,
}

impl FileIdentity {
    /// The identity of `path`, if it exists.
    pub fn of(path: &Path) -> Option<FileIdentity> {
        std::fs::metadata(path).ok().map(|m| FileIdentity {
            dev: m.dev(),
            ino: m.ino(),
        })
    }
}

/// Why the connection must be reopened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Incoherence {
    /// The file at the path is another file (replaced, e.g. by a restore).
    FileReplaced,
    /// The file at the path is gone.
    FileMissing,
    /// The schema version changed under the connection.
    SchemaDrift {
        /// `user_version` when last seen.
        was: i64,
        /// `user_version` now.
        now: i64,
    },
}

/// What the connection last saw.
#[derive(Debug, Clone)]
pub struct Coherency {
    identity: Option<FileIdentity>,
    data_version: i64,
    user_version: i64,
}

fn pragma_i64(conn: &Connection, name: &str) -> rusqlite::Result<i64> {
    conn.query_row(&format!("PRAGMA {name}"), [], |row| row.get(0))
}

impl Coherency {
    /// Record what `conn` (just opened on `path`) sees.
    pub fn capture(conn: &Connection, path: &Path) -> rusqlite::Result<Coherency> {
        Ok(Coherency {
            identity: FileIdentity::of(path),
            data_version: pragma_i64(conn, "data_version")?,
            user_version: pragma_i64(conn, "user_version")?,
        })
    }

    /// The cheap check (one `stat`): is the file still the one opened?
    pub fn file_check(&self, path: &Path) -> Option<Incoherence> {
        match (self.identity, FileIdentity::of(path)) {
            (Some(_), None) => Some(Incoherence::FileMissing),
            (Some(was), Some(now)) if was != now => Some(Incoherence::FileReplaced),
            _ => None,
        }
    }

    /// The full check: file identity, then (when another connection
    /// committed) the schema version.
    pub fn check(
        &mut self,
        conn: &Connection,
        path: &Path,
    ) -> rusqlite::Result<Option<Incoherence>> {
        if let Some(found) = self.file_check(path) {
            return Ok(Some(found));
        }
        let data_version = pragma_i64(conn, "data_version")?;
        if data_version == self.data_version {
            return Ok(None);
        }
        self.data_version = data_version;
        let user_version = pragma_i64(conn, "user_version")?;
        if user_version != self.user_version {
            let was = self.user_version;
            self.user_version = user_version;
            return Ok(Some(Incoherence::SchemaDrift {
                was,
                now: user_version,
            }));
        }
        Ok(None)
    }
}
