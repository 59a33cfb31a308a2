//! DDL and append-only migrations, versioned by `PRAGMA user_version`: [`migrate`].
//!
//! Each migration runs in its own `BEGIN IMMEDIATE` transaction that re-reads
//! the version first, so concurrent openers and re-runs are harmless.
//!
//! Schema-level guards (triggers that `RAISE(ABORT)`):
//! - a capture whose status is non-terminal is never deleted;
//! - status changes follow the state machine;
//! - a capture's `source` never changes, and a voice capture's `content_hash`,
//!   once set, never changes;
//! - placeholder audit rows are never updated, and deleted only once their
//!   capture is gone. Prune deletes the (terminal) capture, and the audit rows
//!   go with it: `ON DELETE CASCADE` (or prune's explicit sweep when
//!   `foreign_keys` is off), so a placeholder row can only leave together with
//!   its capture.
//!
//! `exports_audit.vault_path` is checked to be `<capture_id>.md`.

use crate::db::Db;
use crate::error::{LedgerError, Result};
use crate::{failpoint, tx};

/// The statuses a crash-resume picks up, as the SQL `IN` list used by the
/// partial index and by the recovery query (the text must match exactly for
/// the planner to use the index).
pub(crate) const NON_TERMINAL_IN: &str = "('staged','transcribed','failed_transcription')";
/// The terminal statuses, as an SQL `IN` list.
pub(crate) const TERMINAL_IN: &str = "('exported','exported_placeholder','exported_duplicate')";

const V1: &str = "
CREATE TABLE IF NOT EXISTS captures (
    id           TEXT PRIMARY KEY,
    source       TEXT NOT NULL CHECK (source IN ('voice','email')),
    raw_content  TEXT NOT NULL,
    content_hash TEXT UNIQUE NULL,
    status       TEXT NOT NULL CHECK (status IN ('staged','transcribed','failed_transcription',
                                                 'exported','exported_placeholder','exported_duplicate')),
    meta_json    TEXT NOT NULL CHECK (json_valid(meta_json)),
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL
);

CREATE TABLE IF NOT EXISTS exports_audit (
    id             TEXT PRIMARY KEY,
    capture_id     TEXT NOT NULL REFERENCES captures(id) ON DELETE CASCADE,
    vault_path     TEXT NOT NULL CHECK (vault_path = capture_id || '.md'),
    hash_at_export TEXT NULL,
    exported_at    INTEGER NOT NULL,
    mode           TEXT NOT NULL CHECK (mode IN ('initial','duplicate_skip','placeholder')),
    error_flag     INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE IF NOT EXISTS errors_log (
    id         INTEGER PRIMARY KEY,
    capture_id TEXT NULL REFERENCES captures(id) ON DELETE SET NULL,
    stage      TEXT NOT NULL CHECK (stage IN ('poll','transcribe','export','backup','integrity')),
    message    TEXT NOT NULL,
    created_at INTEGER NOT NULL
);

CREATE TABLE IF NOT EXISTS sync_state (
    key        TEXT PRIMARY KEY,
    value      TEXT NOT NULL,
    updated_at INTEGER NOT NULL
);

CREATE INDEX IF NOT EXISTS captures_status_created ON captures(status, created_at);

CREATE INDEX IF NOT EXISTS captures_recoverable ON captures(created_at, id)
    WHERE status IN ('staged','transcribed','failed_transcription');

CREATE UNIQUE INDEX IF NOT EXISTS captures_channel_native ON captures(
    json_extract(meta_json, '$.channel'),
    json_extract(meta_json, '$.channel_native_id'));

CREATE INDEX IF NOT EXISTS exports_audit_capture ON exports_audit(capture_id);

CREATE UNIQUE INDEX IF NOT EXISTS exports_audit_one_final ON exports_audit(capture_id)
    WHERE mode IN ('initial','duplicate_skip');

CREATE INDEX IF NOT EXISTS errors_log_capture ON errors_log(capture_id);

CREATE TRIGGER IF NOT EXISTS captures_keep_non_terminal
BEFORE DELETE ON captures
WHEN OLD.status IN ('staged','transcribed','failed_transcription')
BEGIN
    SELECT RAISE(ABORT, 'ledger: a non-terminal capture cannot be deleted');
END;

CREATE TRIGGER IF NOT EXISTS captures_legal_transition
BEFORE UPDATE OF status ON captures
WHEN NEW.status IS NOT OLD.status
 AND (OLD.status, NEW.status) NOT IN (VALUES
        ('staged', 'transcribed'),
        ('transcribed', 'exported'),
        ('staged', 'failed_transcription'),
        ('failed_transcription', 'exported_placeholder'),
        ('staged', 'exported_duplicate'),
        ('transcribed', 'exported_duplicate'))
BEGIN
    SELECT RAISE(ABORT, 'ledger: illegal status transition');
END;

CREATE TRIGGER IF NOT EXISTS captures_source_immutable
BEFORE UPDATE OF source ON captures
WHEN NEW.source IS NOT OLD.source
BEGIN
    SELECT RAISE(ABORT, 'ledger: a capture''s source cannot change');
END;

CREATE TRIGGER IF NOT EXISTS captures_voice_hash_set_once
BEFORE UPDATE OF content_hash ON captures
WHEN OLD.source = 'voice'
 AND OLD.content_hash IS NOT NULL
 AND NEW.content_hash IS NOT OLD.content_hash
BEGIN
    SELECT RAISE(ABORT, 'ledger: a voice capture''s content hash is set once');
END;

CREATE TRIGGER IF NOT EXISTS exports_audit_placeholder_no_update
BEFORE UPDATE ON exports_audit
WHEN OLD.mode = 'placeholder'
BEGIN
    SELECT RAISE(ABORT, 'ledger: placeholder export rows are immutable');
END;

CREATE TRIGGER IF NOT EXISTS exports_audit_placeholder_no_delete
BEFORE DELETE ON exports_audit
WHEN OLD.mode = 'placeholder'
 AND EXISTS (SELECT 1 FROM captures WHERE id = OLD.capture_id)
BEGIN
    SELECT RAISE(ABORT, 'ledger: placeholder export rows leave only with their capture');
END;
";

/// Version 2: `captures_recoverable` also holds `status`, so the crash-resume
/// queue (id, status, creation time of every non-terminal capture, oldest
/// first) is read from that small partial index alone, with no lookup into
/// the table. Rebuilding the index reads the whole table once.
const V2: &str = "
DROP INDEX IF EXISTS captures_recoverable;
CREATE INDEX captures_recoverable ON captures(created_at, id, status)
    WHERE status IN ('staged','transcribed','failed_transcription');
";

/// Version 3: `errors_log` also takes stage `operation`, the errors that reached a caller
/// (`crate::caller_errors`). SQLite cannot change a CHECK in place, so the table is rebuilt
/// with its rows and ids.
const V3: &str = "
CREATE TABLE errors_log_v3 (
    id         INTEGER PRIMARY KEY,
    capture_id TEXT NULL REFERENCES captures(id) ON DELETE SET NULL,
    stage      TEXT NOT NULL
               CHECK (stage IN ('poll','transcribe','export','backup','integrity','operation')),
    message    TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
INSERT INTO errors_log_v3 (id, capture_id, stage, message, created_at)
    SELECT id, capture_id, stage, message, created_at FROM errors_log;
DROP TABLE errors_log;
ALTER TABLE errors_log_v3 RENAME TO errors_log;
CREATE INDEX errors_log_capture ON errors_log(capture_id);
";

/// The migrations, in order; entry `i` takes `user_version` from `i` to `i + 1`.
/// Append only: never edit a released entry.
const MIGRATIONS: [&str; 3] = [V1, V2, V3];

/// The schema version this build writes and understands.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// The database's `PRAGMA user_version`.
pub(crate) fn user_version(db: Db<'_>) -> Result<i64> {
    db.conn
        .query_row("PRAGMA user_version", [], |row| row.get(0))
        .map_err(db.err("read schema version"))
}

fn refuse_newer(found: i64) -> Result<()> {
    if found > SCHEMA_VERSION {
        return Err(LedgerError::Migration {
            found,
            supported: SCHEMA_VERSION,
        });
    }
    Ok(())
}

/// Bring the schema up to [`SCHEMA_VERSION`]; refuse a newer database.
pub(crate) fn migrate(db: Db<'_>) -> Result<()> {
    let found = user_version(db)?;
    refuse_newer(found)?;
    for (target, ddl) in (1..).zip(MIGRATIONS) {
        if found >= target {
            continue;
        }
        tx::immediate(db, |db| {
            let current = user_version(db)?;
            refuse_newer(current)?;
            if current >= target {
                return Ok(());
            }
            db.conn
                .execute_batch(ddl)
                .map_err(db.err("apply schema migration"))?;
            db.conn
                .pragma_update(None, "user_version", target)
                .map_err(db.err("set schema version"))?;
            failpoint::hit(failpoint::MIGRATE_BEFORE_COMMIT)
        })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rusqlite::Connection;
    use std::path::Path;

    fn migrated() -> Connection {
        let conn = Connection::open_in_memory().expect("in-memory db");
        conn.pragma_update(None, "foreign_keys", true)
            .expect("foreign keys");
        migrate(Db::new(&conn, Path::new(":memory:"))).expect("migrates");
        conn
    }

    #[test]
    fn migrate_sets_user_version_and_is_idempotent() {
        let conn = migrated();
        let db = Db::new(&conn, Path::new(":memory:"));
        assert_eq!(user_version(db).expect("version"), SCHEMA_VERSION);
        migrate(db).expect("second run");
        assert_eq!(user_version(db).expect("version"), SCHEMA_VERSION);
    }

    #[test]
    fn exactly_four_tables() {
        let conn = migrated();
        let mut tables: Vec<String> = conn
            .prepare("SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name")
            .and_then(|mut stmt| stmt.query_map([], |row| row.get(0))?.collect())
            .expect("tables");
        tables.sort();
        assert_eq!(
            tables,
            ["captures", "errors_log", "exports_audit", "sync_state"]
        );
    }

    fn index_columns(conn: &Connection, index: &str) -> Vec<String> {
        conn.prepare("SELECT name FROM pragma_index_info(?1) ORDER BY seqno")
            .and_then(|mut stmt| stmt.query_map([index], |row| row.get(0))?.collect())
            .expect("index columns")
    }

    #[test]
    fn a_version_2_database_keeps_its_error_rows_and_takes_operation_errors() {
        let conn = Connection::open_in_memory().expect("in-memory db");
        conn.execute_batch(V1).expect("v1 schema");
        conn.execute_batch(V2).expect("v2 schema");
        conn.pragma_update(None, "user_version", 2).expect("v2");
        conn.execute(
            "INSERT INTO errors_log VALUES (7, NULL, 'backup', 'b.db: hash differs', 5)",
            [],
        )
        .expect("insert");
        let refused = conn.execute(
            "INSERT INTO errors_log VALUES (8, NULL, 'operation', 'stage: io: x', 6)",
            [],
        );
        assert!(refused.is_err(), "version 2 refuses stage operation");
        let db = Db::new(&conn, Path::new(":memory:"));
        migrate(db).expect("migrates");
        assert_eq!(user_version(db).expect("version"), 3);
        conn.execute(
            "INSERT INTO errors_log VALUES (8, NULL, 'operation', 'stage: io: x', 6)",
            [],
        )
        .expect("version 3 takes stage operation");
        let rows: Vec<(i64, String)> = conn
            .prepare("SELECT id, stage FROM errors_log ORDER BY id")
            .and_then(|mut stmt| {
                stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
                    .collect()
            })
            .expect("rows");
        assert_eq!(
            rows,
            [(7, "backup".to_owned()), (8, "operation".to_owned())]
        );
        assert_eq!(index_columns(&conn, "errors_log_capture"), ["capture_id"]);
    }

    #[test]
    fn a_version_1_database_gets_the_covering_recovery_index() {
        let conn = Connection::open_in_memory().expect("in-memory db");
        conn.execute_batch(V1).expect("v1 schema");
        conn.pragma_update(None, "user_version", 1).expect("v1");
        conn.execute(
            "INSERT INTO captures VALUES ('A','email','x',NULL,'staged','{}',1,1)",
            [],
        )
        .expect("insert");
        assert_eq!(
            index_columns(&conn, "captures_recoverable"),
            ["created_at", "id"]
        );
        let db = Db::new(&conn, Path::new(":memory:"));
        migrate(db).expect("migrates");
        assert_eq!(user_version(db).expect("version"), SCHEMA_VERSION);
        assert_eq!(
            index_columns(&conn, "captures_recoverable"),
            ["created_at", "id", "status"]
        );
        let plan: String = conn
            .query_row(
                &format!(
                    "EXPLAIN QUERY PLAN {}",
                    crate::ops::query::recovery_queue_sql()
                ),
                [],
                |row| row.get(3),
            )
            .expect("plan");
        assert!(
            plan.contains("COVERING INDEX captures_recoverable"),
            "{plan}"
        );
        let ids: Vec<String> = conn
            .prepare(&crate::ops::query::recovery_queue_sql())
            .and_then(|mut stmt| stmt.query_map([], |row| row.get(0))?.collect())
            .expect("queue");
        assert_eq!(ids, ["A"]);
    }

    #[test]
    fn newer_user_version_is_refused() {
        let conn = migrated();
        conn.pragma_update(None, "user_version", SCHEMA_VERSION + 1)
            .expect("bump");
        let error = migrate(Db::new(&conn, Path::new(":memory:"))).expect_err("refused");
        assert!(matches!(
            error,
            LedgerError::Migration { found, supported }
                if found == SCHEMA_VERSION + 1 && supported == SCHEMA_VERSION
        ));
    }

    #[test]
    fn illegal_transition_refused_by_trigger() {
        let conn = migrated();
        conn.execute(
            "INSERT INTO captures VALUES ('A','email','x',NULL,'staged','{}',1,1)",
            [],
        )
        .expect("insert");
        let result = conn.execute("UPDATE captures SET status = 'exported' WHERE id = 'A'", []);
        assert!(result.is_err());
    }
}
