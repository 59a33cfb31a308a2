//! Repair: which objects are damaged ([`damaged_objects`]), `REINDEX` when
//! only indexes (or free pages) are, reading only the pages known damaged
//! unverified ([`repair`]), and which captures can no longer be read when a
//! table is ([`unreadable_captures`]).

use std::path::Path;

use rusqlite::Connection;

use super::classify::is_checksum;
use super::detect::{check, set_verification, verify_except};
use super::messages::classify_line;
use super::owners::PageOwners;
use super::{CheckLevel, Damage, Findings, RepairAction};

/// Every object the findings implicate (read with verification off): each
/// checksum mismatch's page and each message ([`classify_line`]) mapped to
/// its owner.
pub(crate) fn damaged_objects(conn: &Connection, findings: &Findings) -> Vec<Damage> {
    set_verification(conn, false);
    let owners = PageOwners::read(conn);
    set_verification(conn, true);
    let mut damage: Vec<Damage> = findings
        .checksum_faults
        .iter()
        .map(|f| match f.page {
            Some(page) => owners.page(page),
            None => Damage::Unknown(f.to_string()),
        })
        .collect();
    let mut unattributed = Vec::new();
    for message in &findings.messages {
        match classify_line(&owners, message) {
            Damage::Unknown(line) if is_bare_error(&line) => unattributed.push(line),
            found => damage.push(found),
        }
    }
    if damage.is_empty() {
        damage.extend(unattributed.into_iter().map(Damage::Unknown));
    }
    damage.sort();
    damage.dedup();
    damage
}

/// SQLite's text for an error that stopped a check (`SQLITE_CORRUPT`,
/// `SQLITE_IOERR` from a page that failed its checksum): it names nothing, so
/// it adds nothing when other findings name the damage (a wrong attribution
/// is caught by the re-check after a repair).
fn is_bare_error(line: &str) -> bool {
    ["database disk image is malformed", "disk I/O error"]
        .iter()
        .any(|text| line.starts_with(text))
}

/// How many times the rebuild is tried when a page outside the known damage fails its
/// checksum during it (or during its re-check) before the repair is refused.
const REBUILD_ATTEMPTS: usize = 3;

/// Try to repair: `REINDEX` the damaged indexes and `VACUUM` (which leaves
/// damaged free pages behind), then re-check. `Err` with the damage when
/// something other than indexes and free space is damaged, or the re-check
/// still fails.
///
/// Only the pages that failed their checksum in `findings` are read unverified
/// ([`verify_except`]); every other page is verified, so a page read wrong by a
/// transient flip fails the rebuild instead of being written back for good. Such a
/// rebuild is tried again ([`REBUILD_ATTEMPTS`] in all), then refused.
pub(crate) fn repair(
    conn: &Connection,
    path: &Path,
    findings: &Findings,
    damage: &[Damage],
) -> Result<RepairAction, String> {
    if damage.is_empty()
        || !damage
            .iter()
            .all(|d| matches!(d, Damage::Index(_) | Damage::FreeSpace))
    {
        return Err("damage is not confined to indexes".to_owned());
    }
    let indexes: Vec<String> = damage
        .iter()
        .filter_map(|d| match d {
            Damage::Index(name) => Some(name.clone()),
            _ => None,
        })
        .collect();
    let damaged_pages: Vec<u32> = findings
        .checksum_faults
        .iter()
        .filter_map(|f| f.page)
        .collect();
    let mut failed = String::new();
    for _ in 0..REBUILD_ATTEMPTS {
        match rebuild(conn, path, &indexes, &damaged_pages) {
            Ok(()) => return Ok(RepairAction::Reindexed(indexes)),
            Err(Rebuild::ReadWrong(why)) => failed = why,
            Err(Rebuild::Failed(why)) => return Err(why),
        }
    }
    Err(format!(
        "{failed} (refused after {REBUILD_ATTEMPTS} attempts: a page outside the damage \
         failed its checksum each time, and nothing read from it was written)"
    ))
}

/// Why one rebuild did not repair.
enum Rebuild {
    /// A page outside the known damage failed its checksum (perhaps a transient flip).
    ReadWrong(String),
    /// Anything else.
    Failed(String),
}

/// One rebuild: `REINDEX` and `VACUUM` reading only `damaged_pages` unverified, then a full
/// re-check with verification on.
fn rebuild(
    conn: &Connection,
    path: &Path,
    indexes: &[String],
    damaged_pages: &[u32],
) -> Result<(), Rebuild> {
    mutant!(
        RepairVerificationOff,
        set_verification(conn, false),
        verify_except(conn, damaged_pages)
    );
    let rebuilt = indexes
        .iter()
        .try_for_each(|name| reindex(conn, name))
        .and_then(|()| conn.execute_batch("VACUUM"));
    set_verification(conn, true);
    rebuilt.map_err(|e| {
        let why = format!("REINDEX failed: {e}");
        if is_checksum(&e) {
            Rebuild::ReadWrong(why)
        } else {
            Rebuild::Failed(why)
        }
    })?;
    match check(conn, path, CheckLevel::Full) {
        Ok(None) => Ok(()),
        Ok(Some(still)) => {
            let why = format!("still damaged after REINDEX: {}", still.messages.join("; "));
            if still.checksum_faults.is_empty() {
                Err(Rebuild::Failed(why))
            } else {
                Err(Rebuild::ReadWrong(why))
            }
        }
        Err(e) => Err(Rebuild::Failed(format!("re-check failed: {e}"))),
    }
}

/// `REINDEX` of index `name`; when that fails because freeing the damaged
/// index's own pages needs to read them (`REINDEX` and `DROP INDEX` both walk
/// the old tree: found at `corrupt-index-page --seed 3 --iteration 153`), an
/// index the schema can create again (one with SQL, not a `UNIQUE`
/// constraint's autoindex) is taken out of `sqlite_schema` with
/// `writable_schema`, leaving its pages orphaned for the `VACUUM` after it to
/// drop, and created again from its SQL. A `REINDEX` that failed because a
/// page outside the known damage failed its checksum is not worked around that
/// way: its rebuild is tried again (orphaned pages would stay behind if every
/// `VACUUM` after it met such a page too: `bit-flip-main-db --seed 424242
/// --iteration 101`).
fn reindex(conn: &Connection, name: &str) -> rusqlite::Result<()> {
    let quoted = format!("\"{}\"", name.replace('"', "\"\""));
    let Err(failed) = conn.execute_batch(&format!("REINDEX {quoted}")) else {
        return Ok(());
    };
    if is_checksum(&failed) {
        return Err(failed);
    }
    match recreate(conn, name) {
        Ok(true) => Ok(()),
        Ok(false) => Err(failed),
        Err(e) => Err(e),
    }
}

/// Takes index `name` out of `sqlite_schema` and creates it again from its SQL, in one
/// transaction (reading as the rebuild does: `sqlite_schema` shares page 1 with every other
/// schema row, and is verified unless page 1 itself is known damaged, which a repair
/// refuses). `Ok(false)` for an index without SQL.
fn recreate(conn: &Connection, name: &str) -> rusqlite::Result<bool> {
    conn.execute_batch("BEGIN IMMEDIATE")?;
    let done = (|| {
        let sql: Option<String> = conn.query_row(
            "SELECT sql FROM sqlite_schema WHERE type = 'index' AND name = ?1",
            [name],
            |r| r.get(0),
        )?;
        let Some(sql) = sql else {
            return Ok(false);
        };
        conn.execute_batch("PRAGMA writable_schema=ON")?;
        let removed = conn.execute(
            "DELETE FROM sqlite_schema WHERE type = 'index' AND name = ?1",
            [name],
        );
        conn.execute_batch("PRAGMA writable_schema=RESET")?;
        removed?;
        conn.execute_batch(&sql)?;
        Ok(true)
    })();
    match done {
        Ok(true) => conn.execute_batch("COMMIT").map(|()| true),
        other => {
            let _ = conn.execute_batch("ROLLBACK");
            other
        }
    }
}

/// Captures whose rows can no longer be read: ids listed by the primary-key
/// index (read without verification) whose row, or one of whose export audit
/// rows, fails to read with it (a damaged `exports_audit` page makes the
/// captures it records the exports of unreadable as a whole).
pub(crate) fn unreadable_captures(conn: &Connection) -> Vec<String> {
    listed_capture_ids(conn)
        .into_iter()
        .filter(|id| {
            let row = conn.query_row(
                "SELECT id, source, raw_content, content_hash, status, meta_json FROM captures WHERE id = ?1",
                [id],
                |_| Ok(()),
            );
            let audit = conn
                .prepare_cached("SELECT * FROM exports_audit WHERE capture_id = ?1")
                .and_then(|mut stmt| {
                    let columns = stmt.column_count();
                    stmt.query_map([id], |r| {
                        (0..columns).try_for_each(|i| r.get_ref(i).map(drop))
                    })?
                    .collect::<rusqlite::Result<Vec<()>>>()
                });
            row.is_err() || audit.is_err()
        })
        .collect()
}

/// Capture ids from the primary-key index, read without verification. When the schema itself
/// cannot be parsed (a damaged `sqlite_schema` page: a flipped bit in a trigger's SQL), the ids
/// are listed with `writable_schema` on, which makes SQLite load whatever of the schema parses,
/// and the schema is reset afterwards; without that, damage to page 1 would leave the ledger
/// refusing every capture without naming one.
pub(crate) fn listed_capture_ids(conn: &Connection) -> Vec<String> {
    set_verification(conn, false);
    let ids = list_ids(conn)
        .or_else(|_| tolerating_a_damaged_schema(conn))
        .unwrap_or_default();
    set_verification(conn, true);
    ids
}

fn list_ids(conn: &Connection) -> rusqlite::Result<Vec<String>> {
    conn.prepare("SELECT id FROM captures INDEXED BY sqlite_autoindex_captures_1 ORDER BY id")
        .and_then(|mut stmt| stmt.query_map([], |r| r.get(0))?.collect())
}

/// [`list_ids`] with `writable_schema` on: the first statement loads what parses (and fails),
/// the second runs against it.
fn tolerating_a_damaged_schema(conn: &Connection) -> rusqlite::Result<Vec<String>> {
    conn.execute_batch("PRAGMA writable_schema=ON")?;
    let ids = list_ids(conn).or_else(|_| list_ids(conn));
    let _ = conn.execute_batch("PRAGMA writable_schema=RESET");
    ids
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A database whose `sqlite_schema` holds a trigger whose SQL no longer parses (as a
    /// flipped bit in page 1 leaves it), reopened so the schema is read from disk.
    fn with_a_damaged_trigger(dir: &std::path::Path) -> Connection {
        let path = dir.join("damaged.db");
        let conn = Connection::open(&path).expect("create");
        conn.execute_batch(
            "CREATE TABLE captures (id TEXT PRIMARY KEY, body TEXT);
             INSERT INTO captures VALUES ('a', 'x'), ('b', 'y');
             CREATE TRIGGER keep BEFORE DELETE ON captures BEGIN SELECT 1; END;
             PRAGMA writable_schema=ON;
             UPDATE sqlite_schema SET sql = replace(sql, 'DELETE', 'DELEVE')
               WHERE name = 'keep';",
        )
        .expect("damage the trigger");
        drop(conn);
        Connection::open(&path).expect("reopen")
    }

    /// An index whose leaf page type byte is garbage: `REINDEX` and `DROP
    /// INDEX` fail, the repair still rebuilds it and the file checks clean.
    #[test]
    fn an_index_too_damaged_to_reindex_is_created_again() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("index.db");
        let conn = Connection::open(&path).expect("create");
        conn.execute_batch(
            "CREATE TABLE captures (id TEXT PRIMARY KEY, status TEXT, created_at INTEGER);
             CREATE INDEX by_status ON captures (status, created_at);",
        )
        .expect("schema");
        for n in 0..2000 {
            conn.execute(
                "INSERT INTO captures VALUES (?1, ?2, ?3)",
                (format!("id-{n:05}"), format!("status-{}", n % 7), n),
            )
            .expect("insert");
        }
        let leaf: u32 = conn
            .query_row(
                "SELECT pageno FROM dbstat WHERE name = 'by_status' AND pagetype = 'leaf'
                 ORDER BY pageno LIMIT 1 OFFSET 2",
                [],
                |r| r.get(0),
            )
            .expect("a leaf of the index");
        drop(conn);
        let mut bytes = std::fs::read(&path).expect("read");
        bytes[(leaf as usize - 1) * 4096] = 0xff;
        std::fs::write(&path, bytes).expect("damage");
        let conn = Connection::open(&path).expect("reopen");
        assert!(
            conn.execute_batch("REINDEX by_status").is_err(),
            "REINDEX fails"
        );
        let findings = Findings {
            level: CheckLevel::Full,
            messages: Vec::new(),
            checksum_faults: Vec::new(),
        };
        let action = repair(
            &conn,
            &path,
            &findings,
            &[Damage::Index("by_status".into())],
        );
        assert_eq!(
            action,
            Ok(RepairAction::Reindexed(vec!["by_status".into()]))
        );
        let n: i64 = conn
            .query_row(
                "SELECT count(*) FROM captures INDEXED BY by_status WHERE status = 'status-3'",
                [],
                |r| r.get(0),
            )
            .expect("the index serves");
        assert_eq!(n, 286);
    }

    #[test]
    fn captures_are_listed_even_when_the_schema_does_not_parse() {
        let dir = tempfile::tempdir().expect("temp dir");
        let conn = with_a_damaged_trigger(dir.path());
        assert!(
            list_ids(&conn).is_err(),
            "the damaged schema must not parse"
        );
        assert_eq!(listed_capture_ids(&conn), ["a", "b"]);
        assert!(
            list_ids(&conn).is_err(),
            "the schema is reset afterwards: nothing runs against a partial schema"
        );
    }
}
