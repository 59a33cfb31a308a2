//! Opening through the checksum VFS and putting the database into the
//! checksummed layout (8 reserved bytes per page): [`vfs_for`], [`prepare`].

use rusqlite::ffi;

use super::RESERVE_BYTES;
use crate::config::Config;
use crate::db::Db;
use crate::error::{LedgerError, Result};

/// The VFS name to open `config.path` through: the checksum VFS stacked over
/// `config.vfs` when `page-checksums` is on, else `config.vfs` itself.
pub(crate) fn vfs_for(config: &Config) -> Result<Option<String>> {
    if !config.tuning.page_checksums {
        return Ok(config.vfs.clone());
    }
    super::vfs_name(config.vfs.as_deref())
        .map(Some)
        .map_err(|e| LedgerError::Open {
            path: config.path.clone(),
            source: rusqlite::Error::SqliteFailure(
                ffi::Error::new(ffi::SQLITE_CANTOPEN),
                Some(e.to_string()),
            ),
        })
}

/// What [`prepare`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Layout {
    /// Checksums are off.
    Off,
    /// A new database, created with the reserve.
    Created,
    /// The database already had the reserve.
    Present,
    /// An existing database was rewritten by `VACUUM` into the layout.
    Migrated,
    /// The database reserves a different number of bytes (SQLite can only
    /// grow the reserve): it is served without checksums.
    Incompatible(u8),
}

/// Before any pragma writes: request the reserve for a new database, or
/// migrate an existing one without it (journal mode `DELETE` during the
/// `VACUUM`, so every page is rewritten straight into the main file; the
/// caller's pragmas restore the configured mode).
pub(crate) fn prepare(db: Db<'_>, config: &Config) -> Result<Layout> {
    if !config.tuning.page_checksums {
        return Ok(Layout::Off);
    }
    let found = super::reserve_bytes_of(&config.path).map_err(|source| LedgerError::Io {
        path: config.path.clone(),
        source,
    })?;
    let request = || {
        super::request_reserve(db.conn).map_err(|code| LedgerError::Sqlite {
            operation: "request reserved bytes for page checksums",
            path: config.path.clone(),
            source: rusqlite::Error::SqliteFailure(ffi::Error::new(code), None),
        })
    };
    match found {
        None => {
            request()?;
            Ok(Layout::Created)
        }
        Some(n) if usize::from(n) == RESERVE_BYTES => Ok(Layout::Present),
        Some(n) if usize::from(n) > RESERVE_BYTES => Ok(Layout::Incompatible(n)),
        Some(_) => {
            request()?;
            db.conn
                .pragma_update(None, "journal_mode", "delete")
                .map_err(db.err("leave WAL mode to add page checksums"))?;
            db.conn
                .execute_batch("VACUUM")
                .map_err(db.err("vacuum into the page-checksum layout"))?;
            Ok(Layout::Migrated)
        }
    }
}
