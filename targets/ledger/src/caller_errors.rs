//! Errors that reached a caller, written to `errors_log` with stage [`STAGE`]: [`CallerErrors`].
//!
//! Each failed call whose error is a fault (not an answer such as `not_found`,
//! `illegal_transition` or `duplicate_content`) gets one row, message
//! `<operation>: <kind>: <error>`, written in its own transaction before the error is returned.
//! When that write fails too (the disk is full, the I/O error persists) the row is kept in
//! memory and written before the next write, or at close: a row is never written twice, and
//! only a process that dies first loses it. A write whose `COMMIT` failed may have landed all
//! the same (an ambiguous commit): its rows are written again only if no identical row (same
//! message and time) is in the log.

use std::cell::RefCell;

use crate::db::Db;
use crate::error::{LedgerError, Result};
use crate::tx;

/// The `errors_log` stage of errors that reached a caller.
pub const STAGE: &str = "operation";

/// Error kinds that are answers to the caller rather than faults: never logged.
pub const ANSWER_KINDS: [&str; 3] = ["not_found", "illegal_transition", "duplicate_content"];

/// A row not yet known to be in `errors_log`.
#[derive(Debug, Clone)]
struct PendingRow {
    message: String,
    at: i64,
    /// An earlier write of it failed at `COMMIT`, so it may be in the log already.
    maybe_written: bool,
}

/// Rows not yet written to `errors_log`.
#[derive(Debug, Default)]
pub(crate) struct CallerErrors {
    pending: RefCell<Vec<PendingRow>>,
}

impl CallerErrors {
    /// Note that `error` reached the caller of `operation` (at ledger time `now`, read only
    /// when the error is logged), and write every pending row.
    pub(crate) fn note(
        &self,
        db: Db<'_>,
        operation: &str,
        error: &LedgerError,
        now: impl FnOnce() -> i64,
    ) {
        if ANSWER_KINDS.contains(&error.kind()) {
            return;
        }
        if_mutant!(ErrorNeverLogged, {
            return;
        });
        self.pending.borrow_mut().push(PendingRow {
            message: format!("{operation}: {}: {error}", error.kind()),
            at: now(),
            maybe_written: false,
        });
        self.flush(db);
    }

    /// Write the pending rows in one transaction; on failure keep them for the next try.
    /// Does nothing inside the caller's own open transaction.
    pub(crate) fn flush(&self, db: Db<'_>) {
        if self.pending.borrow().is_empty() || !db.conn.is_autocommit() {
            return;
        }
        let rows = self.pending.borrow().clone();
        let written: Result<()> = tx::immediate(db, |db| {
            let mut insert = db
                .conn
                .prepare_cached(
                    "INSERT INTO errors_log (capture_id, stage, message, created_at)
                     VALUES (NULL, ?1, ?2, ?3)",
                )
                .map_err(db.err("log an error that reached the caller"))?;
            for row in &rows {
                if row.maybe_written && already_logged(db, row)? {
                    continue;
                }
                insert
                    .execute((STAGE, &row.message, row.at))
                    .map_err(db.err("log an error that reached the caller"))?;
            }
            Ok(())
        });
        match written {
            Ok(()) => self.pending.borrow_mut().clear(),
            Err(error) => {
                if error.is_commit_failure() {
                    for row in self.pending.borrow_mut().iter_mut() {
                        row.maybe_written = true;
                    }
                }
                tracing::warn!(
                pending = rows.len(),
                %error,
                    "errors that reached the caller not yet in errors_log; retried before the next write"
                );
            }
        }
    }
}

/// Whether `row` is in the log already (written by a `COMMIT` that reported failure).
fn already_logged(db: Db<'_>, row: &PendingRow) -> Result<bool> {
    db.conn
        .prepare_cached(
            "SELECT EXISTS (SELECT 1 FROM errors_log
             WHERE stage = ?1 AND message = ?2 AND created_at = ?3)",
        )
        .and_then(|mut stmt| stmt.query_row((STAGE, &row.message, row.at), |r| r.get(0)))
        .map_err(db.err("look for an error row an ambiguous commit wrote"))
}
