//! The ledger's operations, one file per operation family.

pub(crate) mod export;
pub(crate) mod prune;
pub(crate) mod query;
pub(crate) mod stage;
pub(crate) mod transcribe;

use crate::capture::Capture;
use crate::db::Db;
use crate::error::{LedgerError, Result};
use crate::row;
use crate::status::Status;

/// The capture `id`, or [`LedgerError::NotFound`].
pub(crate) fn require_capture(db: Db<'_>, id: &str) -> Result<Capture> {
    row::capture_by_id(db, id)?.ok_or_else(|| LedgerError::NotFound { id: id.to_owned() })
}

/// [`LedgerError::IllegalTransition`] unless `capture` may move to `to`.
pub(crate) fn check_transition(capture: &Capture, to: Status) -> Result<()> {
    if capture.status.can_transition_to(to) {
        Ok(())
    } else {
        Err(LedgerError::IllegalTransition {
            id: capture.id.clone(),
            from: capture.status,
            to,
        })
    }
}

/// Move capture `id` from `from` to `to`, failing unless exactly one row changed.
pub(crate) fn update_status(
    db: Db<'_>,
    id: &str,
    from: Status,
    to: Status,
    now_ms: i64,
) -> Result<()> {
    let changed = db
        .conn
        .prepare_cached(
            "UPDATE captures SET status = ?1, updated_at = ?2 WHERE id = ?3 AND status = ?4",
        )
        .and_then(|mut stmt| stmt.execute((to.as_str(), now_ms, id, from.as_str())))
        .map_err(db.err("update capture status"))?;
    if changed == 1 {
        Ok(())
    } else {
        Err(db.corrupt(format!(
            "capture {id} changed under an immediate transaction ({changed} rows updated)"
        )))
    }
}
