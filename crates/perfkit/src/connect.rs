//! Opening a dataset with a cache and mmap setting: [`Tuning`], [`open`];
//! and with the ledger's own adaptive cache rule: [`open_adaptive`].

use std::path::Path;

use ledger::memory::adaptive_cache::{self, CacheChoice, ConnectionUse};
use ledger::memory::{MemoryProbe, ProcMemoryProbe};
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

/// The ledger's cache ceiling in KiB: its default `cache-size` (64 MB), the
/// ceiling its adaptive rule works under.
pub fn ledger_ceiling_kib() -> u64 {
    ledger::Tuning::default().cache_size.unsigned_abs()
}

/// Opens `path` like [`open`] with SQLite's defaults (no mmap), then sizes
/// its cache with the ledger's own rule
/// (`ledger::memory::adaptive_cache::apply`) from the database's real size,
/// its measured hot working set, this machine's available memory and the
/// ledger's ceiling, for a connection used as `connection` says. A connection per query reads
/// no memory figures: the rule keeps SQLite's default for it without looking at any input, and
/// reading `/proc` on every new connection would time this arm's probe, not the ledger's rule.
///
/// # Errors
/// [`PerfError::Sqlite`].
pub fn open_adaptive(
    path: &Path,
    connection: ConnectionUse,
) -> Result<(Connection, CacheChoice), PerfError> {
    let conn = open(path, Tuning::SQLITE_DEFAULT)?;
    let available = match connection {
        ConnectionUse::Reused => ProcMemoryProbe.sample().available_bytes,
        ConnectionUse::PerQuery => None,
    };
    let choice = adaptive_cache::apply(&conn, connection, available, ledger_ceiling_kib())
        .map_err(sql_err("apply the adaptive cache rule"))?;
    Ok((conn, choice))
}

/// How a cache choice reads in reports: `adaptive cache (17408 KiB: HotWorkingSet)`.
pub fn describe_choice(choice: &CacheChoice) -> String {
    format!("adaptive cache ({} KiB: {:?})", choice.kib, choice.reason)
}
