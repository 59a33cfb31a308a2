//! `PRAGMA integrity_check` as a value: [`integrity_problems`].

use rusqlite::Connection;

/// `None` when `integrity_check` says `ok`, else its first rows joined.
///
/// # Errors
/// The SQLite error when the check cannot run at all (e.g. not a database).
pub(crate) fn integrity_problems(conn: &Connection) -> rusqlite::Result<Option<String>> {
    let rows: Vec<String> = conn
        .prepare("PRAGMA integrity_check(20)")?
        .query_map([], |row| row.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    if rows.len() == 1 && rows[0] == "ok" {
        Ok(None)
    } else {
        Ok(Some(rows.join("; ")))
    }
}
