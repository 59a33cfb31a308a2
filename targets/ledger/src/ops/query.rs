//! Read-only queries: duplicates, single captures, the export queue, the
//! crash-resume queue ([`recovery_queue`]) and the whole crash-resume set
//! ([`recoverable_captures`]).

use rusqlite::OptionalExtension;

use crate::capture::{Capture, CaptureId, RecoveryEntry};
use crate::db::Db;
use crate::error::Result;
use crate::row::{self, CAPTURE_COLUMNS};
use crate::schema::NON_TERMINAL_IN;
use crate::status::Status;

/// The capture whose content hash is `content_hash`, if any.
pub(crate) fn find_duplicate(db: Db<'_>, content_hash: &str) -> Result<Option<CaptureId>> {
    db.conn
        .prepare_cached(DUPLICATE_BY_HASH_SQL)
        .and_then(|mut stmt| stmt.query_row([content_hash], |row| row.get(0)).optional())
        .map_err(db.err("look up capture by content hash"))
}

/// Up to `limit` captures awaiting export, oldest first.
pub(crate) fn pending_exports(db: Db<'_>, limit: usize) -> Result<Vec<Capture>> {
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    row::query_captures(db, "list pending exports", &pending_sql(), [limit])
}

/// The export-queue query (`?1` = limit). It walks the recovery index
/// (non-terminal captures by `(created_at, id)`) and skips staged rows, so it
/// needs no sort: with `captures_status_created` the two status ranges would
/// be merged in a temp B-tree. The queue is small (non-terminal rows only).
pub(crate) fn pending_sql() -> String {
    format!(
        "SELECT {CAPTURE_COLUMNS} FROM captures INDEXED BY captures_recoverable
         WHERE status IN {NON_TERMINAL_IN}
           AND status IN ('transcribed','failed_transcription')
         ORDER BY created_at, id
         LIMIT ?1"
    )
}

/// The dedup-by-content query (`?1` = hash).
pub(crate) const DUPLICATE_BY_HASH_SQL: &str = "SELECT id FROM captures WHERE content_hash = ?1";

/// The dedup-by-channel query (`?1` = channel, `?2` = native id).
pub(crate) const DUPLICATE_BY_CHANNEL_SQL: &str = "SELECT id FROM captures
             WHERE json_extract(meta_json, '$.channel') = ?1
               AND json_extract(meta_json, '$.channel_native_id') = ?2";

/// The crash-resume query: its `WHERE` is the partial index's, and the index
/// is `(created_at, id)`, so walking `captures_recoverable` yields the rows in
/// order without a sort. Without statistics the planner prefers
/// `captures_status_created` plus a temp B-tree, so the query pins the index
/// with `INDEXED BY` (preparing fails loudly if the index ever goes missing).
pub(crate) fn recoverable_sql() -> String {
    format!(
        "SELECT {CAPTURE_COLUMNS} FROM captures INDEXED BY captures_recoverable
         WHERE status IN {NON_TERMINAL_IN}
         ORDER BY created_at, id"
    )
}

/// Every non-terminal capture, oldest first (created_at, then id).
pub(crate) fn recoverable_captures(db: Db<'_>) -> Result<Vec<Capture>> {
    let sql = mutant!(
        RecoveryMissesFailedTranscription,
        recoverable_sql().replace("ORDER BY", "AND status <> 'failed_transcription' ORDER BY"),
        recoverable_sql()
    );
    row::query_captures(db, "list recoverable captures", &sql, [])
}

/// The crash-resume queue query: id, status and creation time of every
/// non-terminal capture, oldest first. `captures_recoverable` is
/// `(created_at, id, status)` over the non-terminal rows (schema version 2),
/// so the plan reads that partial index alone: no lookup into the table and
/// no sort, and the cost follows the backlog, not the table.
pub(crate) fn recovery_queue_sql() -> String {
    format!(
        "SELECT id, status, created_at FROM captures INDEXED BY captures_recoverable
         WHERE status IN {NON_TERMINAL_IN}
         ORDER BY created_at, id"
    )
}

/// Every non-terminal capture's id, status and creation time, oldest first.
pub(crate) fn recovery_queue(db: Db<'_>) -> Result<Vec<RecoveryEntry>> {
    let sql = mutant!(
        RecoveryMissesFailedTranscription,
        recovery_queue_sql().replace("ORDER BY", "AND status <> 'failed_transcription' ORDER BY"),
        recovery_queue_sql()
    );
    let raws: Vec<(String, String, i64)> = db
        .conn
        .prepare_cached(&sql)
        .and_then(|mut stmt| {
            stmt.query_map([], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))?
                .collect()
        })
        .map_err(db.err("list the recovery queue"))?;
    raws.into_iter()
        .map(|(id, status, created_at)| {
            let status = Status::parse(&status)
                .ok_or_else(|| db.corrupt(format!("capture {id} has unknown status {status:?}")))?;
            Ok(RecoveryEntry {
                id,
                status,
                created_at,
            })
        })
        .collect()
}
