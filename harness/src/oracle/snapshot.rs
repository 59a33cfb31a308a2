//! [`LedgerSnapshot`]: the logical content of a ledger database, read with plain SQL.
//!
//! The oracle reads the tables itself rather than through the ledger's queries, so a bug in a
//! ledger query cannot hide a bug in the data.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use rusqlite::{Connection, OpenFlags};

use super::model::CaptureState;

mod by_id;

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
    /// The parts a damaged database did not yield whole, with SQLite's error
    /// ([`LedgerSnapshot::read_what_reads`]); empty for a snapshot read whole.
    pub unreadable: BTreeMap<Part, String>,
}

/// A part of the database a snapshot reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Part {
    /// `captures`: what is missing from [`LedgerSnapshot::captures`] did not read.
    Captures,
    /// `exports_audit`: audit rows may be missing.
    ExportsAudit,
    /// `errors_log`: [`LedgerSnapshot::caller_errors_logged`] is not the log's count.
    ErrorsLog,
    /// `PRAGMA foreign_key_check` stopped.
    ForeignKeys,
}

/// The database could not be read at all (or, for [`LedgerSnapshot::read`], not whole).
#[derive(Debug, thiserror::Error)]
#[error("cannot read ledger database {path}: {what}")]
pub struct SnapshotError {
    /// The database path.
    pub path: String,
    /// What SQLite said.
    pub what: String,
}

impl LedgerSnapshot {
    /// Reads the whole database at `db` (read-only, default VFS) and lists `vault_dir`.
    ///
    /// # Errors
    /// The database does not open, its schema does not parse, or a part of it does not read.
    pub fn read(db: &Path, vault_dir: &Path) -> Result<LedgerSnapshot, SnapshotError> {
        let snapshot = Self::read_what_reads(db, vault_dir)?;
        match snapshot.unreadable_text() {
            None => Ok(snapshot),
            Some(what) => Err(SnapshotError {
                path: db.display().to_string(),
                what,
            }),
        }
    }

    /// Reads what a damaged database at `db` still yields: a row that does not read (SQLite's
    /// error, or text that is not UTF-8) stops no other, each capture the primary-key index or
    /// the table lists is then read on its own, and each part that did not read whole is named
    /// in [`LedgerSnapshot::unreadable`]. So a capture is in [`LedgerSnapshot::captures`] only
    /// if its row reads intact on disk.
    ///
    /// # Errors
    /// The database does not open or its schema does not parse: nothing reads.
    pub fn read_what_reads(db: &Path, vault_dir: &Path) -> Result<LedgerSnapshot, SnapshotError> {
        let err = |source: rusqlite::Error| SnapshotError {
            path: db.display().to_string(),
            what: source.to_string(),
        };
        let conn =
            Connection::open_with_flags(db, OpenFlags::SQLITE_OPEN_READ_ONLY).map_err(err)?;
        conn.query_row("SELECT count(*) FROM sqlite_schema", [], |_| Ok(()))
            .map_err(err)?;
        let mut snapshot = LedgerSnapshot {
            integrity: pragma_rows(&conn, "PRAGMA integrity_check")
                .unwrap_or_else(|e| vec![format!("integrity_check failed: {e}")]),
            ..LedgerSnapshot::default()
        };
        match pragma_rows(&conn, "PRAGMA foreign_key_check") {
            Ok(rows) => snapshot.foreign_key_violations = rows,
            Err(e) => snapshot.not_whole(Part::ForeignKeys, &e),
        }
        if let Err(e) = read_captures(&conn, &mut snapshot) {
            snapshot.not_whole(Part::Captures, &e);
            by_id::read_captures(&conn, &mut snapshot);
        }
        if let Err(e) = read_audit(&conn, &mut snapshot) {
            snapshot.not_whole(Part::ExportsAudit, &e);
        }
        match read_caller_errors(&conn) {
            Ok(logged) => snapshot.caller_errors_logged = logged,
            Err(e) => snapshot.not_whole(Part::ErrorsLog, &e),
        }
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

    /// The parts that did not read, as one text (`None` when the snapshot is whole).
    pub fn unreadable_text(&self) -> Option<String> {
        (!self.unreadable.is_empty()).then(|| {
            self.unreadable
                .iter()
                .map(|(part, why)| format!("{part:?}: {why}"))
                .collect::<Vec<_>>()
                .join("; ")
        })
    }

    fn not_whole(&mut self, part: Part, e: &rusqlite::Error) {
        self.unreadable.insert(part, e.to_string());
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

/// Every capture in one scan; all or nothing.
fn read_captures(conn: &Connection, snapshot: &mut LedgerSnapshot) -> rusqlite::Result<()> {
    let mut stmt = conn.prepare(&format!(
        "SELECT {CAPTURE_COLUMNS} FROM captures ORDER BY created_at, id"
    ))?;
    let rows = stmt
        .query_map([], capture_row)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    for (id, state) in rows {
        snapshot.creation_order.push(id.clone());
        snapshot.captures.insert(id, state);
    }
    Ok(())
}

/// The columns [`capture_row`] reads.
const CAPTURE_COLUMNS: &str = "id, source, raw_content, status, content_hash";

/// One capture row as `(id, state)`.
fn capture_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<(String, CaptureState)> {
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

/// Audit rows in id order, each taken in as read: a row that does not read stops the scan
/// (the rows before it are kept).
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
