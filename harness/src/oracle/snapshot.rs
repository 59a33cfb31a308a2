//! [`LedgerSnapshot`]: the logical content of a ledger database, read with plain SQL.
//!
//! The oracle reads the tables itself rather than through the ledger's queries, so a bug in a
//! ledger query cannot hide a bug in the data.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use rusqlite::{Connection, OpenFlags};

use super::model::CaptureState;

/// What the database holds, plus the vault's file names.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LedgerSnapshot {
    /// Captures by id.
    pub captures: BTreeMap<String, CaptureState>,
    /// Capture ids in `(created_at, id)` order: the order the recovery query must use.
    pub creation_order: Vec<String>,
    /// Audit rows whose capture does not exist.
    pub orphan_audit_rows: Vec<String>,
    /// Audit rows whose `vault_path` is not `<capture id>.md`.
    pub misnamed_exports: Vec<String>,
    /// File names in the vault directory.
    pub vault_files: BTreeSet<String>,
    /// Rows of `PRAGMA integrity_check` (`["ok"]` when sound).
    pub integrity: Vec<String>,
    /// Rows of `PRAGMA foreign_key_check`, rendered.
    pub foreign_key_violations: Vec<String>,
    /// `errors_log` rows of errors that reached a caller (stage `operation`), per operation.
    pub caller_errors_logged: BTreeMap<String, u64>,
}

/// The database could not be read at all.
#[derive(Debug, thiserror::Error)]
#[error("cannot read ledger database {path}: {source}")]
pub struct SnapshotError {
    /// The database path.
    pub path: String,
    /// SQLite's error.
    #[source]
    pub source: rusqlite::Error,
}

impl LedgerSnapshot {
    /// Reads the database at `db` (read-only, default VFS) and lists `vault_dir`.
    pub fn read(db: &Path, vault_dir: &Path) -> Result<LedgerSnapshot, SnapshotError> {
        let err = |source| SnapshotError {
            path: db.display().to_string(),
            source,
        };
        let conn =
            Connection::open_with_flags(db, OpenFlags::SQLITE_OPEN_READ_ONLY).map_err(err)?;
        let mut snapshot = LedgerSnapshot {
            integrity: pragma_rows(&conn, "PRAGMA integrity_check")
                .unwrap_or_else(|e| vec![format!("integrity_check failed: {e}")]),
            foreign_key_violations: pragma_rows(&conn, "PRAGMA foreign_key_check").map_err(err)?,
            ..LedgerSnapshot::default()
        };
        read_captures(&conn, &mut snapshot).map_err(err)?;
        read_audit(&conn, &mut snapshot).map_err(err)?;
        snapshot.caller_errors_logged = read_caller_errors(&conn).map_err(err)?;
        snapshot.vault_files = std::fs::read_dir(vault_dir)
            .map(|entries| {
                entries
                    .filter_map(Result::ok)
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .filter(|name| name.ends_with(".md"))
                    .collect()
            })
            .unwrap_or_default();
        Ok(snapshot)
    }

    /// Ids of captures whose status is not terminal (or not a status at all), in creation order.
    pub fn non_terminal(&self) -> Vec<String> {
        self.creation_order
            .iter()
            .filter(|id| {
                ledger::Status::parse(&self.captures[*id].status).is_none_or(|s| !s.is_terminal())
            })
            .cloned()
            .collect()
    }
}

fn pragma_rows(conn: &Connection, sql: &str) -> rusqlite::Result<Vec<String>> {
    let mut stmt = conn.prepare(sql)?;
    let columns = stmt.column_count();
    let rows = stmt.query_map([], |row| {
        let mut parts = Vec::with_capacity(columns);
        for i in 0..columns {
            let value: rusqlite::types::Value = row.get(i)?;
            parts.push(match value {
                rusqlite::types::Value::Null => "NULL".to_owned(),
                rusqlite::types::Value::Integer(i) => i.to_string(),
                rusqlite::types::Value::Real(r) => r.to_string(),
                rusqlite::types::Value::Text(t) => t,
                rusqlite::types::Value::Blob(b) => format!("<{} bytes>", b.len()),
            });
        }
        Ok(parts.join(" "))
    })?;
    rows.collect()
}

fn read_captures(conn: &Connection, snapshot: &mut LedgerSnapshot) -> rusqlite::Result<()> {
    let mut stmt = conn.prepare(
        "SELECT id, source, raw_content, status, content_hash FROM captures ORDER BY created_at, id",
    )?;
    let rows = stmt.query_map([], |row| {
        Ok((
            row.get::<_, String>(0)?,
            CaptureState {
                source: row.get(1)?,
                raw_content: row.get(2)?,
                status: row.get(3)?,
                content_hash: row.get(4)?,
                audit: Vec::new(),
            },
        ))
    })?;
    for row in rows {
        let (id, state) = row?;
        snapshot.creation_order.push(id.clone());
        snapshot.captures.insert(id, state);
    }
    Ok(())
}

/// `errors_log` rows with stage `operation`, counted per operation (the message's prefix).
fn read_caller_errors(conn: &Connection) -> rusqlite::Result<BTreeMap<String, u64>> {
    let mut stmt = conn.prepare(
        "SELECT substr(message, 1, instr(message, ':') - 1), count(*) FROM errors_log
         WHERE stage = 'operation' GROUP BY 1",
    )?;
    let rows = stmt.query_map([], |row| {
        Ok((
            row.get::<_, String>(0)?,
            u64::try_from(row.get::<_, i64>(1)?).unwrap_or(0),
        ))
    })?;
    rows.collect()
}

fn read_audit(conn: &Connection, snapshot: &mut LedgerSnapshot) -> rusqlite::Result<()> {
    let mut stmt =
        conn.prepare("SELECT id, capture_id, mode, vault_path FROM exports_audit ORDER BY id")?;
    let rows = stmt.query_map([], |row| {
        Ok((
            row.get::<_, String>(0)?,
            row.get::<_, String>(1)?,
            row.get::<_, String>(2)?,
            row.get::<_, String>(3)?,
        ))
    })?;
    for row in rows {
        let (audit_id, capture_id, mode, vault_path) = row?;
        if vault_path != format!("{capture_id}.md") {
            snapshot.misnamed_exports.push(format!(
                "audit {audit_id}: capture {capture_id} exported as {vault_path}"
            ));
        }
        match snapshot.captures.get_mut(&capture_id) {
            Some(capture) => {
                capture.audit.push(mode);
                capture.audit.sort();
            }
            None => snapshot
                .orphan_audit_rows
                .push(format!("audit {audit_id} -> missing capture {capture_id}")),
        }
    }
    Ok(())
}
