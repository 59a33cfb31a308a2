//! Running `PRAGMA quick_check` / `integrity_check` and collecting what they
//! and the checksum VFS report: [`check`], [`unclean_shutdown`].

use std::path::Path;

use rusqlite::Connection;

use super::messages::split_rows;
use super::{CheckLevel, Findings};
use crate::checksum;
use crate::integrity::classify::is_corruption;

/// A leftover non-empty `-wal` or `-journal`: the last connection did not close cleanly.
pub fn unclean_shutdown(db_path: &Path) -> bool {
    ["-wal", "-journal"].iter().any(|suffix| {
        std::fs::metadata(crate::sidecar::sidecar(db_path, suffix)).is_ok_and(|m| m.len() > 0)
    })
}

fn run_pragma(conn: &Connection, level: CheckLevel) -> rusqlite::Result<Vec<String>> {
    let mut stmt = conn.prepare(level.pragma())?;
    let rows = stmt.query_map([], |row| row.get::<_, String>(0))?;
    rows.collect()
}

/// Switch the checksum VFS's verification for `conn` (no-op without it).
pub(crate) fn set_verification(conn: &Connection, on: bool) {
    let _ = conn.execute_batch(if on {
        "PRAGMA checksum_verification=ON"
    } else {
        "PRAGMA checksum_verification=OFF"
    });
    if on {
        checksum::release_memory(conn);
    }
}

/// Verification on for `conn` except for `pages` (a repair reading the pages it knows
/// damaged): a page outside them that fails its checksum still fails the read (no-op without
/// the checksum VFS).
pub(crate) fn verify_except(conn: &Connection, pages: &[u32]) {
    let list: Vec<String> = pages.iter().map(u32::to_string).collect();
    let _ = conn.execute_batch(&format!(
        "PRAGMA checksum_verification='except:{}'",
        list.join(",")
    ));
}

/// Run the check; `Ok(None)` when the database is sound. On damage, also
/// runs a full `integrity_check` with checksum verification off, so damage
/// that makes pages unreadable is described logically as well.
///
/// # Errors
/// A failure that is not corruption (I/O, busy).
pub(crate) fn check(
    conn: &Connection,
    path: &Path,
    level: CheckLevel,
) -> rusqlite::Result<Option<Findings>> {
    let before = checksum::faults_for(path).len();
    let mut messages = match run_pragma(conn, level) {
        Ok(rows) if rows == ["ok"] => return Ok(None),
        Ok(rows) => rows,
        Err(e) if is_corruption(&e) => vec![e.to_string()],
        Err(e) => return Err(e),
    };
    let faults: Vec<_> = checksum::faults_for(path)
        .into_iter()
        .skip(before)
        .collect();
    set_verification(conn, false);
    let logical = run_pragma(conn, CheckLevel::Full);
    set_verification(conn, true);
    match logical {
        Ok(rows) => messages.extend(rows.into_iter().filter(|r| r != "ok")),
        Err(e) => messages.push(e.to_string()),
    }
    let mut messages = split_rows(&messages);
    messages.dedup();
    Ok(Some(Findings {
        level,
        messages,
        checksum_faults: faults,
    }))
}
