//! Repair: which objects are damaged ([`damaged_objects`]), `REINDEX` when
//! only indexes (or free pages) are, and which captures can no longer be
//! read when a table is ([`unreadable_captures`]).

use std::path::Path;

use rusqlite::{Connection, OptionalExtension};

use super::detect::{check, set_verification};
use super::{CheckLevel, Damage, Findings, RepairAction};

fn object_of_page(conn: &Connection, page: u32) -> Option<Damage> {
    let name: Option<String> = conn
        .query_row("SELECT name FROM dbstat WHERE pageno = ?1", [page], |r| {
            r.get(0)
        })
        .optional()
        .ok()?;
    Some(match name {
        Some(name) => object_named(conn, &name),
        None => Damage::FreeSpace,
    })
}

fn object_named(conn: &Connection, name: &str) -> Damage {
    let kind: Option<String> = conn
        .query_row(
            "SELECT type FROM sqlite_schema WHERE name = ?1",
            [name],
            |r| r.get(0),
        )
        .optional()
        .ok()
        .flatten();
    match kind.as_deref() {
        Some("index") => Damage::Index(name.to_owned()),
        _ if name.starts_with("sqlite_autoindex_") => Damage::Index(name.to_owned()),
        _ => Damage::Table(name.to_owned()),
    }
}

fn object_of_root(conn: &Connection, root: u32) -> Damage {
    let name: Option<String> = conn
        .query_row(
            "SELECT name FROM sqlite_schema WHERE rootpage = ?1",
            [root],
            |r| r.get(0),
        )
        .optional()
        .ok()
        .flatten();
    match name {
        Some(name) => object_named(conn, &name),
        None => Damage::Unknown(format!("tree rooted at page {root}")),
    }
}

fn object_of_message(conn: &Connection, message: &str) -> Damage {
    if let Some(rest) = message.split(" index ").nth(1) {
        let name = rest.split_whitespace().next().unwrap_or(rest);
        return object_named(conn, name);
    }
    if let Some(rest) = message.strip_prefix("Tree ")
        && let Some(root) = rest.split_whitespace().next().and_then(|n| n.parse().ok())
    {
        return object_of_root(conn, root);
    }
    if message.contains("never used") || message.contains("freelist") {
        return Damage::FreeSpace;
    }
    Damage::Unknown(message.to_owned())
}

/// Every object the findings implicate (read with verification off).
pub(crate) fn damaged_objects(conn: &Connection, findings: &Findings) -> Vec<Damage> {
    set_verification(conn, false);
    let mut damage: Vec<Damage> = findings
        .checksum_faults
        .iter()
        .map(|f| match f.page {
            Some(page) => object_of_page(conn, page).unwrap_or(Damage::Unknown(f.to_string())),
            None => Damage::Unknown(f.to_string()),
        })
        .collect();
    for message in &findings.messages {
        let is_checksum_error =
            message.contains("disk I/O error") && !findings.checksum_faults.is_empty();
        if !is_checksum_error {
            damage.push(object_of_message(conn, message));
        }
    }
    set_verification(conn, true);
    damage.sort();
    damage.dedup();
    damage
}

/// Try to repair: `REINDEX` the damaged indexes and `VACUUM` (which leaves
/// damaged free pages behind), then re-check. `Err` with the damage when
/// something other than indexes and free space is damaged, or the re-check
/// still fails.
pub(crate) fn repair(
    conn: &Connection,
    path: &Path,
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
    set_verification(conn, false);
    let rebuilt = indexes
        .iter()
        .try_for_each(|name| {
            conn.execute_batch(&format!("REINDEX \"{}\"", name.replace('"', "\"\"")))
        })
        .and_then(|()| conn.execute_batch("VACUUM"));
    set_verification(conn, true);
    rebuilt.map_err(|e| format!("REINDEX failed: {e}"))?;
    match check(conn, path, CheckLevel::Full) {
        Ok(None) => Ok(RepairAction::Reindexed(indexes)),
        Ok(Some(still)) => Err(format!(
            "still damaged after REINDEX: {}",
            still.messages.join("; ")
        )),
        Err(e) => Err(format!("re-check failed: {e}")),
    }
}

/// Captures whose rows can no longer be read: ids listed by the primary-key
/// index (read without verification) whose row fails to read with it.
pub(crate) fn unreadable_captures(conn: &Connection) -> Vec<String> {
    set_verification(conn, false);
    let ids: Vec<String> = conn
        .prepare("SELECT id FROM captures INDEXED BY sqlite_autoindex_captures_1 ORDER BY id")
        .and_then(|mut stmt| stmt.query_map([], |r| r.get(0))?.collect())
        .unwrap_or_default();
    set_verification(conn, true);
    ids.into_iter()
        .filter(|id| {
            conn.query_row(
                "SELECT id, source, raw_content, content_hash, status, meta_json FROM captures WHERE id = ?1",
                [id],
                |_| Ok(()),
            )
            .is_err()
        })
        .collect()
}
