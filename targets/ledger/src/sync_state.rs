//! Named values in the `sync_state` table that operations tooling reads and
//! writes: the [`keys`] and [`get`] / [`set`].
//!
//! Values are text; timestamps are unix milliseconds as decimal text.

use rusqlite::OptionalExtension;

use crate::db::Db;
use crate::error::Result;

/// The keys, one place for every reader and writer.
pub mod keys {
    /// When the newest verified backup was taken (unix ms), present only while
    /// backup escalation allows pruning: the backup module writes it with every
    /// outcome it records, and retention pruning never deletes rows newer than it.
    pub const BACKUP_LAST_VERIFIED_AT_MS: &str = "backup.last_verified_at_ms";
    /// Last `PRAGMA optimize` run by maintenance (unix ms).
    pub const MAINT_LAST_OPTIMIZE_MS: &str = "maintenance.last_optimize_ms";
    /// Last `ANALYZE` run by maintenance (unix ms).
    pub const MAINT_LAST_ANALYZE_MS: &str = "maintenance.last_analyze_ms";
    /// Row count of `captures` at the last `ANALYZE`.
    pub const MAINT_ANALYZE_ROWS: &str = "maintenance.analyze_rows";
    /// Last index check (`PRAGMA integrity_check`) run by maintenance (unix ms).
    pub const MAINT_LAST_INDEX_CHECK_MS: &str = "maintenance.last_index_check_ms";
    /// Per-operation p95 baselines (JSON object), see [`crate::perf`].
    pub const PERF_BASELINE: &str = "perf.baseline";
    /// Database size samples (JSON array of `[unix ms, bytes]`), see [`crate::capacity`].
    pub const CAPACITY_SAMPLES: &str = "capacity.samples";
}

/// The value stored under `key`, if any.
pub(crate) fn get(db: Db<'_>, key: &str) -> Result<Option<String>> {
    db.conn
        .prepare_cached("SELECT value FROM sync_state WHERE key = ?1")
        .and_then(|mut stmt| stmt.query_row([key], |row| row.get(0)).optional())
        .map_err(db.err("read sync_state"))
}

/// The value under `key` parsed as an integer; `None` when absent or not a number.
pub(crate) fn get_i64(db: Db<'_>, key: &str) -> Result<Option<i64>> {
    Ok(get(db, key)?.and_then(|value| value.trim().parse().ok()))
}

/// Store `value` under `key` (inside the caller's transaction, if any).
pub(crate) fn set(db: Db<'_>, key: &str, value: &str, now_ms: i64) -> Result<()> {
    db.conn
        .prepare_cached(
            "INSERT INTO sync_state (key, value, updated_at) VALUES (?1, ?2, ?3)
             ON CONFLICT(key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
        )
        .and_then(|mut stmt| stmt.execute((key, value, now_ms)))
        .map_err(db.err("write sync_state"))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rusqlite::Connection;
    use std::path::Path;

    #[test]
    fn set_then_get_overwrites() {
        let conn = Connection::open_in_memory().expect("db");
        let db = Db::new(&conn, Path::new(":memory:"));
        crate::schema::migrate(db).expect("schema");
        assert_eq!(get(db, keys::MAINT_ANALYZE_ROWS).expect("get"), None);
        set(db, keys::MAINT_ANALYZE_ROWS, "5", 1).expect("set");
        set(db, keys::MAINT_ANALYZE_ROWS, "7", 2).expect("set");
        assert_eq!(get_i64(db, keys::MAINT_ANALYZE_ROWS).expect("get"), Some(7));
        set(db, keys::MAINT_ANALYZE_ROWS, "x", 3).expect("set");
        assert_eq!(get_i64(db, keys::MAINT_ANALYZE_ROWS).expect("get"), None);
    }
}
