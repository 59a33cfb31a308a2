//! Deleting old terminal captures with their audit rows: [`prune_exported_older_than`].

use std::collections::BTreeSet;

use crate::db::Db;
use crate::error::Result;
use crate::schema::TERMINAL_IN;
use crate::{failpoint, tx};

const MS_PER_DAY: i64 = 86_400_000;

/// Delete captures whose status is terminal and `updated_at < now - days`,
/// with their audit rows; their `errors_log` rows keep the message with
/// `capture_id` NULL. Returns the ids of the captures deleted, oldest id first.
pub(crate) fn prune_exported_older_than(db: Db<'_>, now_ms: i64, days: u32) -> Result<Vec<String>> {
    prune_before(db, now_ms.saturating_sub(i64::from(days) * MS_PER_DAY))
}

/// [`prune_exported_older_than`] as one attempt of a retried write: `meant` gathers the
/// captures every attempt set out to delete. A retry after a `COMMIT` that failed but landed
/// finds nothing left to delete, so the captures an earlier attempt meant to delete and that
/// are gone now are reported as pruned with this attempt's: the caller is told what was
/// deleted, not what the last attempt deleted.
pub(crate) fn prune_exported_older_than_once(
    db: Db<'_>,
    now_ms: i64,
    days: u32,
    meant: &mut BTreeSet<String>,
) -> Result<Vec<String>> {
    let cutoff = now_ms.saturating_sub(i64::from(days) * MS_PER_DAY);
    let candidates: Vec<String> = db
        .conn
        .prepare_cached(&candidates_sql())
        .and_then(|mut stmt| stmt.query_map([cutoff], |row| row.get(0))?.collect())
        .map_err(db.err("select captures to prune"))?;
    let earlier: Vec<String> = meant.iter().cloned().collect();
    meant.extend(candidates);
    let mut deleted = prune_before(db, cutoff)?;
    for id in earlier {
        if deleted.contains(&id) {
            continue;
        }
        let exists: bool = db
            .conn
            .prepare_cached("SELECT EXISTS (SELECT 1 FROM captures WHERE id = ?1)")
            .and_then(|mut stmt| stmt.query_row([&id], |row| row.get(0)))
            .map_err(db.err("look for a capture an earlier attempt pruned"))?;
        if !exists {
            deleted.push(id);
        }
    }
    deleted.sort();
    Ok(deleted)
}

/// The prune-candidates query (`?1` = cutoff). `created_at <= updated_at`
/// (a capture is created before it changes), so `created_at < ?1` is implied
/// by `updated_at < ?1` and lets `captures_status_created` seek to the old
/// rows instead of reading every terminal one. A capture whose clock went
/// backwards (`updated_at < created_at`) is merely kept longer.
pub(crate) fn candidates_sql() -> String {
    format!(
        "SELECT id FROM captures INDEXED BY captures_status_created
         WHERE status IN {TERMINAL_IN} AND created_at < ?1 AND updated_at < ?1"
    )
}

/// Delete terminal captures with `updated_at < cutoff_ms`, as
/// [`prune_exported_older_than`] does.
pub(crate) fn prune_before(db: Db<'_>, cutoff: i64) -> Result<Vec<String>> {
    tx::immediate(db, |db| {
        let ids: Vec<String> = db
            .conn
            .prepare_cached(&candidates_sql())
            .and_then(|mut stmt| stmt.query_map([cutoff], |row| row.get(0))?.collect())
            .map_err(db.err("select captures to prune"))?;
        for id in &ids {
            db.conn
                .prepare_cached("UPDATE errors_log SET capture_id = NULL WHERE capture_id = ?1")
                .and_then(|mut stmt| stmt.execute([id]))
                .map_err(db.err("detach error log rows"))?;
        }
        failpoint::hit(failpoint::PRUNE_BEFORE_DELETE)?;
        let mut deleted = Vec::with_capacity(ids.len());
        for id in ids {
            let removed = db
                .conn
                .prepare_cached(&format!(
                    "DELETE FROM captures WHERE id = ?1 AND status IN {TERMINAL_IN}"
                ))
                .and_then(|mut stmt| stmt.execute([&id]))
                .map_err(db.err("delete pruned capture"))?;
            // Already gone through ON DELETE CASCADE when foreign keys are on.
            db.conn
                .prepare_cached("DELETE FROM exports_audit WHERE capture_id = ?1")
                .and_then(|mut stmt| stmt.execute([&id]))
                .map_err(db.err("delete pruned audit rows"))?;
            if removed == 1 {
                deleted.push(id);
            }
        }
        deleted.sort();
        failpoint::hit(failpoint::PRUNE_BEFORE_COMMIT)?;
        Ok(deleted)
    })
}
