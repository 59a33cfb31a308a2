//! The logical content of a ledger, independent of page layout: [`LogicalHash`].
//!
//! Two databases with the same captures `(id, status, content_hash)` and the
//! same `exports_audit` rows have the same hash, whatever their pages look
//! like. Backups record it from the source's read snapshot; verification and
//! restore recompute it from the copy.

use rusqlite::Connection;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::fsutil::hex;

/// The hash and the row counts it covers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogicalHash {
    /// Lowercase hex sha256 over the sorted rows.
    pub hash: String,
    /// Rows of `captures`.
    pub captures: u64,
    /// Rows of `exports_audit`.
    pub audit_rows: u64,
}

fn field(hasher: &mut Sha256, value: Option<&str>) {
    match value {
        Some(text) => {
            hasher.update([1u8]);
            hasher.update((text.len() as u64).to_be_bytes());
            hasher.update(text.as_bytes());
        }
        None => hasher.update([0u8]),
    }
}

/// Hash the captures and audit rows `conn` sees (in its current read
/// transaction, if one is open).
///
/// # Errors
/// The SQLite error of a failed query.
pub fn compute(conn: &Connection) -> rusqlite::Result<LogicalHash> {
    let mut hasher = Sha256::new();
    hasher.update(b"ledger-logical-v1\0captures\0");
    let mut captures = 0u64;
    let mut stmt = conn.prepare("SELECT id, status, content_hash FROM captures ORDER BY id")?;
    let mut rows = stmt.query([])?;
    while let Some(row) = rows.next()? {
        captures += 1;
        for i in 0..3 {
            field(&mut hasher, row.get_ref(i)?.as_str_or_null()?);
        }
    }
    hasher.update(b"\0exports_audit\0");
    let mut audit_rows = 0u64;
    let mut stmt = conn.prepare(
        "SELECT id, capture_id, vault_path, hash_at_export, exported_at, mode, error_flag
         FROM exports_audit ORDER BY id",
    )?;
    let mut rows = stmt.query([])?;
    while let Some(row) = rows.next()? {
        audit_rows += 1;
        for i in [0, 1, 2, 3, 5] {
            field(&mut hasher, row.get_ref(i)?.as_str_or_null()?);
        }
        hasher.update(row.get::<_, i64>(4)?.to_be_bytes());
        hasher.update(row.get::<_, i64>(6)?.to_be_bytes());
    }
    Ok(LogicalHash {
        hash: hex(&hasher.finalize()),
        captures,
        audit_rows,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn db(rows: &str) -> Connection {
        let conn = Connection::open_in_memory().expect("memory db");
        conn.execute_batch(
            "CREATE TABLE captures(id TEXT PRIMARY KEY, status TEXT, content_hash TEXT, x TEXT);
             CREATE TABLE exports_audit(id TEXT, capture_id TEXT, vault_path TEXT,
               hash_at_export TEXT, exported_at INTEGER, mode TEXT, error_flag INTEGER);",
        )
        .expect("schema");
        conn.execute_batch(rows).expect("rows");
        conn
    }

    #[test]
    fn order_and_unhashed_columns_do_not_matter() {
        let a = db("INSERT INTO captures VALUES ('a','staged',NULL,'1'),('b','exported','h','2');");
        let b =
            db("INSERT INTO captures VALUES ('b','exported','h','zz'),('a','staged',NULL,'y');");
        assert_eq!(compute(&a).expect("a"), compute(&b).expect("b"));
    }

    #[test]
    fn null_differs_from_empty_and_status_matters() {
        let null = db("INSERT INTO captures VALUES ('a','staged',NULL,'');");
        let empty = db("INSERT INTO captures VALUES ('a','staged','','');");
        let other = db("INSERT INTO captures VALUES ('a','transcribed',NULL,'');");
        let hash = |c: &Connection| compute(c).expect("hash").hash;
        assert_ne!(hash(&null), hash(&empty));
        assert_ne!(hash(&null), hash(&other));
    }
}
