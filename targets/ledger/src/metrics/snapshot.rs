//! One serialisable picture of the ledger's metrics: [`MetricsSnapshot`], built by [`take`].

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::histogram::LatencySummary;
use super::recorder::{Operation, Recorder};
use crate::backup::BackupRecord;
use crate::db::Db;
use crate::error::Result;
use crate::safety::SafetyCounters;
use crate::schema::NON_TERMINAL_IN;

const MS_PER_DAY: i64 = 86_400_000;

/// Counters and latency figures of one operation in this process.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct OperationMetrics {
    /// Calls that returned `Ok`.
    pub ok: u64,
    /// Calls that returned `Err`.
    pub errors: u64,
    /// Extra attempts made by the retry loop.
    pub retries: u64,
    /// Latency, retries and backoff included.
    pub latency: LatencySummary,
}

/// What the busy handler did in this process.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct BusyMetrics {
    /// Times a lock was waited for (one per probe).
    pub waits: u64,
    /// Milliseconds slept waiting for locks.
    pub waited_ms: u64,
    /// Times the wait deadline passed and `SQLITE_BUSY` was returned.
    pub gave_up: u64,
}

/// This connection's page-cache counters (`sqlite3_db_status`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CacheMetrics {
    /// Page requests served from the cache.
    pub hits: Option<u64>,
    /// Page requests that went to the file.
    pub misses: Option<u64>,
    /// hits / (hits + misses), when there was any request.
    pub hit_ratio: Option<f64>,
}

/// Sizes on disk.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StorageMetrics {
    /// `PRAGMA page_size`.
    pub page_size: u64,
    /// `PRAGMA page_count`.
    pub page_count: u64,
    /// page_size × page_count.
    pub database_bytes: u64,
    /// Size of the `-wal` file (0 when absent).
    pub wal_bytes: u64,
    /// `PRAGMA freelist_count`.
    pub freelist_pages: u64,
    /// freelist_count / page_count.
    pub free_fraction: f64,
}

/// Exports recorded in `exports_audit`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ExportMetrics {
    /// Audit rows.
    pub total: u64,
    /// Audit rows with mode `placeholder`.
    pub placeholder: u64,
    /// placeholder / total (0 when there is none).
    pub placeholder_ratio: f64,
}

/// Metrics at one moment: one JSON line of the metrics log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetricsSnapshot {
    /// When the snapshot was taken (the ledger's clock).
    pub taken_at_ms: i64,
    /// The database file.
    pub path: String,
    /// Per operation, in this process.
    pub operations: BTreeMap<String, OperationMetrics>,
    /// Retries of every operation together, in this process.
    pub retries: u64,
    /// Lock waits, in this process.
    pub busy: BusyMetrics,
    /// Page cache of this connection.
    pub cache: CacheMetrics,
    /// Sizes on disk.
    pub storage: StorageMetrics,
    /// Non-terminal captures (what is waiting to be transcribed or exported).
    pub queue_depth: u64,
    /// Captures per status.
    pub captures_by_status: BTreeMap<String, u64>,
    /// `errors_log` rows of the last 24 hours, per stage.
    pub errors_last_24h: BTreeMap<String, u64>,
    /// Export audit figures.
    pub exports: ExportMetrics,
    /// The backup record the backup module writes (escalation level, last verified and
    /// last failed backup).
    pub backup: BackupRecord,
    /// Safety actions in this process: recoveries after an unclean shutdown, cache shrinks and
    /// mmap fallbacks under memory pressure, integrity checks, corruptions and repairs.
    #[serde(default)]
    pub safety: SafetyCounters,
}

fn count(db: Db<'_>, what: &'static str, sql: &str) -> Result<u64> {
    let n: i64 = db
        .conn
        .query_row(sql, [], |row| row.get(0))
        .map_err(db.err(what))?;
    Ok(u64::try_from(n).unwrap_or(0))
}

fn pragma_u64(db: Db<'_>, pragma: &'static str) -> Result<u64> {
    count(db, pragma, &format!("PRAGMA {pragma}"))
}

/// Size of `<path>-wal`, 0 when absent.
pub(crate) fn wal_bytes(path: &Path) -> u64 {
    let mut wal = path.as_os_str().to_owned();
    wal.push("-wal");
    std::fs::metadata(wal).map(|meta| meta.len()).unwrap_or(0)
}

/// Sizes on disk of the database at `db`.
pub(crate) fn storage(db: Db<'_>) -> Result<StorageMetrics> {
    let page_size = pragma_u64(db, "page_size")?;
    let page_count = pragma_u64(db, "page_count")?;
    let freelist_pages = pragma_u64(db, "freelist_count")?;
    Ok(StorageMetrics {
        page_size,
        page_count,
        database_bytes: page_size * page_count,
        wal_bytes: wal_bytes(db.path),
        freelist_pages,
        free_fraction: if page_count == 0 {
            0.0
        } else {
            freelist_pages as f64 / page_count as f64
        },
    })
}

fn grouped(
    db: Db<'_>,
    what: &'static str,
    sql: &str,
    params: impl rusqlite::Params,
) -> Result<BTreeMap<String, u64>> {
    db.conn
        .prepare(sql)
        .and_then(|mut stmt| {
            stmt.query_map(params, |row| {
                Ok((
                    row.get::<_, String>(0)?,
                    u64::try_from(row.get::<_, i64>(1)?).unwrap_or(0),
                ))
            })?
            .collect()
        })
        .map_err(db.err(what))
}

/// Build a snapshot from the in-process `recorder` and `busy` figures plus
/// what the database says, at `now_ms`.
pub(crate) fn take(
    db: Db<'_>,
    recorder: &Recorder,
    busy: BusyMetrics,
    safety: SafetyCounters,
    now_ms: i64,
) -> Result<MetricsSnapshot> {
    let operations = Operation::ALL
        .iter()
        .map(|op| {
            let stats = recorder.operation(*op);
            let metrics = OperationMetrics {
                ok: stats.ok,
                errors: stats.errors,
                retries: stats.retries,
                latency: stats.latency.summary(),
            };
            (op.as_str().to_owned(), metrics)
        })
        .collect();
    let (hits, misses) = super::cache_counters(db.conn);
    let hit_ratio = match (hits, misses) {
        (Some(h), Some(m)) if h + m > 0 => Some(h as f64 / (h + m) as f64),
        _ => None,
    };
    let total = count(
        db,
        "count export audit rows",
        "SELECT count(*) FROM exports_audit",
    )?;
    let placeholder = count(
        db,
        "count placeholder exports",
        "SELECT count(*) FROM exports_audit WHERE mode = 'placeholder'",
    )?;
    Ok(MetricsSnapshot {
        taken_at_ms: now_ms,
        path: db.path.display().to_string(),
        operations,
        retries: recorder.total_retries(),
        busy,
        cache: CacheMetrics {
            hits,
            misses,
            hit_ratio,
        },
        storage: storage(db)?,
        queue_depth: count(
            db,
            "count non-terminal captures",
            &format!("SELECT count(*) FROM captures WHERE status IN {NON_TERMINAL_IN}"),
        )?,
        captures_by_status: grouped(
            db,
            "count captures per status",
            "SELECT status, count(*) FROM captures GROUP BY status",
            [],
        )?,
        errors_last_24h: grouped(
            db,
            "count recent errors per stage",
            "SELECT stage, count(*) FROM errors_log WHERE created_at >= ?1 GROUP BY stage",
            [now_ms.saturating_sub(MS_PER_DAY)],
        )?,
        exports: ExportMetrics {
            total,
            placeholder,
            placeholder_ratio: if total == 0 {
                0.0
            } else {
                placeholder as f64 / total as f64
            },
        },
        backup: crate::backup::read_record(db)?,
        safety,
    })
}
