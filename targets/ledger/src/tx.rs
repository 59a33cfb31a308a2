//! One write operation = one `BEGIN IMMEDIATE` transaction: [`immediate`].
//!
//! On any error the transaction is rolled back if SQLite still has it open
//! (after `SQLITE_NOMEM` or an I/O error SQLite may already have rolled back
//! by itself, so `is_autocommit` is checked, never assumed).

use crate::db::Db;
use crate::error::Result;

/// Operation name of a failed `BEGIN IMMEDIATE`.
pub(crate) const BEGIN: &str = "begin transaction";
/// Operation name of a failed `COMMIT`.
pub(crate) const COMMIT: &str = "commit transaction";
/// Operation name of a failed `ROLLBACK` of a transaction left open earlier.
pub(crate) const ROLLBACK_STALE: &str = "roll back a transaction left open";

/// Run `body` inside `BEGIN IMMEDIATE … COMMIT`.
///
/// Returns `Ok` only after `COMMIT` succeeded; on `Err` the database is as it
/// was before the call (the transaction was rolled back).
pub(crate) fn immediate<T>(db: Db<'_>, body: impl FnOnce(Db<'_>) -> Result<T>) -> Result<T> {
    discard_stale_transaction(db)?;
    let result = db
        .conn
        .execute_batch(begin_statement())
        .map_err(db.err(BEGIN))
        .and_then(|()| body(db))
        .and_then(|value| match db.conn.execute_batch("COMMIT") {
            Ok(()) => Ok(value),
            Err(error) => mutant!(
                SwallowCommitError,
                {
                    roll_back_if_open(db);
                    Ok(value)
                },
                Err(db.err(COMMIT)(error))
            ),
        });
    if result.is_err() {
        roll_back_if_open(db);
    }
    result
}

/// `BEGIN IMMEDIATE`, or a deferred `BEGIN` under the `no-begin-immediate` mutant.
fn begin_statement() -> &'static str {
    mutant!(NoBeginImmediate, "BEGIN", "BEGIN IMMEDIATE")
}

/// Roll back a transaction a failed rollback left open, so nothing
/// uncommitted is seen or committed by the next operation.
pub(crate) fn discard_stale_transaction(db: Db<'_>) -> Result<()> {
    if db.conn.is_autocommit() {
        return Ok(());
    }
    db.conn
        .execute_batch("ROLLBACK")
        .map_err(db.err(ROLLBACK_STALE))
}

/// After a failed write: the transaction must be gone (SQLite may have
/// rolled it back itself; otherwise roll it back now), and the
/// prepared-statement cache is emptied so no statement of the failed
/// operation (possibly mid-step or compiled against a schema that changed)
/// is reused.
///
/// # Errors
/// `Sqlite` when the transaction is still open after a `ROLLBACK`.
pub(crate) fn settle_after_failure(db: Db<'_>) -> Result<()> {
    discard_stale_transaction(db)?;
    db.conn.flush_prepared_statement_cache();
    if db.conn.is_autocommit() {
        Ok(())
    } else {
        Err(crate::error::LedgerError::Sqlite {
            operation: ROLLBACK_STALE,
            path: db.path.to_path_buf(),
            source: rusqlite::Error::SqliteFailure(
                rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_ERROR),
                Some("transaction still open after ROLLBACK".to_owned()),
            ),
        })
    }
}

/// Best effort: the caller is already returning the original error. If the
/// rollback itself fails, [`discard_stale_transaction`] retries before the
/// next operation, and closing the connection rolls back too.
fn roll_back_if_open(db: Db<'_>) {
    if !db.conn.is_autocommit() {
        let _ = db.conn.execute_batch("ROLLBACK");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::LedgerError;
    use rusqlite::Connection;
    use std::path::Path;

    fn setup() -> Connection {
        let conn = Connection::open_in_memory().expect("in-memory db");
        conn.execute_batch("CREATE TABLE t(x INTEGER NOT NULL)")
            .expect("table");
        conn
    }

    fn count(conn: &Connection) -> i64 {
        conn.query_row("SELECT count(*) FROM t", [], |row| row.get(0))
            .expect("count")
    }

    #[test]
    fn commits_on_ok() {
        let conn = setup();
        let db = Db::new(&conn, Path::new(":memory:"));
        immediate(db, |db| {
            db.conn
                .execute("INSERT INTO t VALUES (1)", [])
                .map_err(db.err("insert"))
        })
        .expect("committed");
        assert!(conn.is_autocommit());
        assert_eq!(count(&conn), 1);
    }

    #[test]
    fn rolls_back_on_err() {
        let conn = setup();
        let db = Db::new(&conn, Path::new(":memory:"));
        let result: Result<()> = immediate(db, |db| {
            db.conn
                .execute("INSERT INTO t VALUES (1)", [])
                .map_err(db.err("insert"))?;
            Err(LedgerError::NotFound { id: "x".into() })
        });
        assert!(result.is_err());
        assert!(conn.is_autocommit());
        assert_eq!(count(&conn), 0);
    }

    #[test]
    fn settling_after_a_failure_leaves_no_transaction_open() {
        let conn = setup();
        conn.execute_batch("BEGIN; INSERT INTO t VALUES (3);")
            .expect("open tx");
        let db = Db::new(&conn, Path::new(":memory:"));
        settle_after_failure(db).expect("settled");
        assert!(conn.is_autocommit());
        assert_eq!(count(&conn), 0, "nothing of the failed operation remains");
        settle_after_failure(db).expect("idempotent");
    }

    #[test]
    fn a_stale_transaction_is_discarded_first() {
        let conn = setup();
        conn.execute_batch("BEGIN; INSERT INTO t VALUES (7);")
            .expect("stale tx");
        let db = Db::new(&conn, Path::new(":memory:"));
        immediate(db, |_| Ok(())).expect("runs");
        assert_eq!(count(&conn), 0);
    }
}
