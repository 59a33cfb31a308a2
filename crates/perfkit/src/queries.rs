//! The benched reads, with the ledger's own SQL where it exposes it: [`Query`], [`Probe`].

use super::plan::PlanExpectation;
use rusqlite::{Connection, Row};

use super::dataset::Variant;
use super::error::{PerfError, sql_err};
use super::generate::{START_MS, YEAR_MS};

const COLUMNS: &str =
    "id, source, raw_content, content_hash, status, meta_json, created_at, updated_at";
const DAY_MS: i64 = 24 * 3600 * 1000;

/// A read the benches time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Query {
    /// Every non-terminal capture in full, oldest first
    /// (`ledger::recoverable_captures_sql()`; its `INDEXED BY` dropped for the before schema).
    Recovery,
    /// The crash-resume queue: id, status and creation time of every non-terminal capture,
    /// oldest first (`ledger::recovery_queue_sql()`; its `INDEXED BY` dropped for the before
    /// schema).
    RecoveryQueue,
    /// Non-terminal captures of the last 30 days, oldest first.
    RecoveryWindow,
    /// The ledger's pending-exports query with `LIMIT 100`.
    ExportReady,
    /// Terminal captures of the last 7 days joined with their audit rows.
    AuditJoin,
    /// The stage-time duplicate check by content hash (point lookup).
    Dedup,
    /// The stage-time duplicate check by channel and native id (JSON expression index).
    DedupChannel,
    /// Every byte of every capture: a sequential scan larger than a 64 MB cache at 100k.
    FullScan,
}

impl Query {
    /// Kebab-case name, used in bench ids.
    pub fn name(self) -> &'static str {
        match self {
            Query::Recovery => "recovery",
            Query::RecoveryQueue => "recovery-queue",
            Query::RecoveryWindow => "recovery-window",
            Query::ExportReady => "export-ready",
            Query::AuditJoin => "audit-join",
            Query::Dedup => "dedup",
            Query::DedupChannel => "dedup-channel",
            Query::FullScan => "full-scan",
        }
    }

    /// The SQL for a schema variant.
    ///
    /// # Panics
    /// If the ledger's recovery SQL no longer pins its index the way this
    /// crate strips it for the before schema (update this function).
    pub fn sql(self, variant: Variant) -> String {
        match self {
            Query::Recovery => unpinned(ledger::recoverable_captures_sql(), variant),
            Query::RecoveryQueue => unpinned(ledger::recovery_queue_sql(), variant),
            Query::RecoveryWindow => format!(
                "SELECT {COLUMNS} FROM captures
                 WHERE status IN ('staged','transcribed','failed_transcription') AND created_at >= ?1
                 ORDER BY created_at, id"
            ),
            Query::ExportReady => format!(
                "SELECT {COLUMNS} FROM captures
                 WHERE status IN ('transcribed','failed_transcription')
                 ORDER BY created_at, id
                 LIMIT 100"
            ),
            Query::AuditJoin => "SELECT c.id, c.status, a.mode, a.vault_path, a.exported_at
                 FROM captures c JOIN exports_audit a ON a.capture_id = c.id
                 WHERE c.status IN ('exported','exported_placeholder','exported_duplicate')
                   AND c.created_at >= ?1
                 ORDER BY c.created_at, c.id"
                .into(),
            Query::Dedup => "SELECT id FROM captures WHERE content_hash = ?1".into(),
            Query::DedupChannel => "SELECT id FROM captures
                 WHERE json_extract(meta_json, '$.channel') = ?1
                   AND json_extract(meta_json, '$.channel_native_id') = ?2"
                .into(),
            Query::FullScan => "SELECT id, raw_content, meta_json FROM captures".into(),
        }
    }

    /// What this query's plan should look like on the ledger schema, if anything is intended.
    pub fn intended_plan(self) -> Option<PlanExpectation> {
        let sort_free = PlanExpectation::index_without_sort;
        match self {
            Query::Recovery | Query::RecoveryQueue | Query::RecoveryWindow => {
                Some(sort_free("captures_recoverable"))
            }
            Query::ExportReady => Some(sort_free("captures_status_created")),
            Query::AuditJoin => Some(PlanExpectation {
                no_temp_btree: false,
                ..sort_free("exports_audit_capture")
            }),
            Query::Dedup => Some(sort_free("sqlite_autoindex_captures_2")),
            Query::DedupChannel => Some(sort_free("captures_channel_native")),
            Query::FullScan => None,
        }
    }
}

/// The ledger's `sql` as is, or for the before schema without its
/// `INDEXED BY captures_recoverable` (an index that schema lacks).
///
/// # Panics
/// If the ledger's SQL no longer pins its index that way (update this function).
fn unpinned(sql: String, variant: Variant) -> String {
    match variant {
        Variant::Ledger => sql,
        Variant::Before => {
            let pin = "INDEXED BY captures_recoverable";
            assert!(sql.contains(pin), "recovery SQL changed: {sql}");
            sql.replace(pin, "")
        }
    }
}

fn consume(row: &Row<'_>) -> rusqlite::Result<usize> {
    let mut bytes = 0;
    for index in 0..row.as_ref().column_count() {
        bytes += match row.get_ref(index)? {
            rusqlite::types::ValueRef::Text(text) => text.len(),
            rusqlite::types::ValueRef::Blob(blob) => blob.len(),
            _ => 8,
        };
    }
    Ok(bytes)
}

/// Parameters for the point lookups (existing hashes and channel ids, cycled)
/// and the runner of every [`Query`].
#[derive(Debug, Clone)]
pub struct Probe {
    hashes: Vec<String>,
    channels: Vec<(String, String)>,
    next: usize,
}

impl Probe {
    /// Samples 1024 existing hashes and channel ids from `conn` (spread over the table).
    ///
    /// # Errors
    /// [`PerfError::Sqlite`].
    pub fn load(conn: &Connection) -> Result<Probe, PerfError> {
        let hashes = conn
            .prepare(
                "SELECT content_hash FROM captures WHERE content_hash IS NOT NULL
                 ORDER BY substr(content_hash, 9) LIMIT 1024",
            )
            .and_then(|mut stmt| stmt.query_map([], |row| row.get(0))?.collect())
            .map_err(sql_err("sample content hashes"))?;
        let channels = conn
            .prepare(
                "SELECT json_extract(meta_json, '$.channel'), json_extract(meta_json, '$.channel_native_id')
                 FROM captures ORDER BY substr(id, 20) LIMIT 1024",
            )
            .and_then(|mut stmt| {
                stmt.query_map([], |row| Ok((row.get(0)?, row.get(1)?)))?
                    .collect()
            })
            .map_err(sql_err("sample channel ids"))?;
        Ok(Probe {
            hashes,
            channels,
            next: 0,
        })
    }

    /// Runs `query` on `conn` (prepared through the connection's statement
    /// cache) and returns the bytes read, so nothing is optimised away.
    ///
    /// # Errors
    /// [`PerfError::Sqlite`].
    pub fn run(
        &mut self,
        conn: &Connection,
        query: Query,
        variant: Variant,
    ) -> Result<usize, PerfError> {
        let end = START_MS + YEAR_MS;
        self.next = self.next.wrapping_add(1);
        let mut stmt = conn
            .prepare_cached(&query.sql(variant))
            .map_err(sql_err(format!("prepare {}", query.name())))?;
        let mut rows = match query {
            Query::RecoveryWindow => stmt.query([end - 30 * DAY_MS]),
            Query::AuditJoin => stmt.query([end - 7 * DAY_MS]),
            Query::Dedup => stmt.query([&self.hashes[self.next % self.hashes.len()]]),
            Query::DedupChannel => {
                let (channel, native) = &self.channels[self.next % self.channels.len()];
                stmt.query([channel, native])
            }
            Query::Recovery | Query::RecoveryQueue | Query::ExportReady | Query::FullScan => {
                stmt.query([])
            }
        }
        .map_err(sql_err(format!("run {}", query.name())))?;
        let mut bytes = 0;
        while let Some(row) = rows
            .next()
            .map_err(sql_err(format!("step {}", query.name())))?
        {
            bytes += consume(row).map_err(sql_err(format!("read {}", query.name())))?;
        }
        Ok(bytes)
    }
}
