//! Opening a dataset with a cache and mmap setting: [`Tuning`], [`open`].

use std::path::Path;

use rusqlite::{Connection, OpenFlags};

use super::error::{PerfError, sql_err};

/// 256 MiB, the ledger's `mmap_size`.
pub const MMAP_256_MIB: i64 = 268_435_456;

/// The read-side pragmas a bench arm differs in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tuning {
    /// `PRAGMA cache_size`; `None` leaves SQLite's default (-2000, about 2 MB).
    pub cache_size: Option<i64>,
    /// `PRAGMA mmap_size` in bytes (0 = off, the bundled SQLite's default).
    pub mmap_size: i64,
}

impl Tuning {
    /// SQLite's defaults: 2 MB cache, no mmap.
    pub const SQLITE_DEFAULT: Tuning = Tuning {
        cache_size: None,
        mmap_size: 0,
    };
    /// The ledger's cache (64 MB) without mmap: the cache arm of the cache bench.
    pub const CACHE_64MB: Tuning = Tuning {
        cache_size: Some(-64_000),
        mmap_size: 0,
    };
    /// The ledger's defaults: 64 MB cache, 256 MiB mmap.
    pub const LEDGER: Tuning = Tuning {
        cache_size: Some(-64_000),
        mmap_size: MMAP_256_MIB,
    };
}

/// Opens `path` (which must exist) read-write without creating it, with `tuning`.
///
/// # Errors
/// [`PerfError::Sqlite`].
pub fn open(path: &Path, tuning: Tuning) -> Result<Connection, PerfError> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(sql_err(format!("open {}", path.display())))?;
    if let Some(cache_size) = tuning.cache_size {
        conn.pragma_update(None, "cache_size", cache_size)
            .map_err(sql_err("set cache_size"))?;
    }
    conn.pragma_update(None, "mmap_size", tuning.mmap_size)
        .map_err(sql_err("set mmap_size"))?;
    Ok(conn)
}
