//! The captures of a `captures` table that does not read in one scan (a damaged page, a row
//! whose text is not UTF-8), read one at a time: every id the primary-key index or the table
//! still lists is looked up on its own, and a capture is kept only when its own row reads.

use std::collections::BTreeSet;

use rusqlite::Connection;

use super::{CAPTURE_COLUMNS, LedgerSnapshot, capture_row};

/// Adds to `snapshot` every listed capture whose row reads, in `(created_at, id)` order.
pub(super) fn read_captures(conn: &Connection, snapshot: &mut LedgerSnapshot) {
    let mut ids = BTreeSet::new();
    list(
        conn,
        "SELECT id FROM captures INDEXED BY sqlite_autoindex_captures_1",
        &mut ids,
    );
    list(conn, "SELECT id FROM captures NOT INDEXED", &mut ids);
    let mut read = Vec::new();
    for id in ids {
        let row = conn.query_row(
            &format!("SELECT {CAPTURE_COLUMNS}, created_at FROM captures WHERE id = ?1"),
            [&id],
            |row| Ok((row.get::<_, i64>(5)?, capture_row(row)?)),
        );
        if let Ok((created_at, (read_id, state))) = row
            && read_id == id
        {
            read.push((created_at, id, state));
        }
    }
    read.sort_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)));
    for (_, id, state) in read {
        snapshot.creation_order.push(id.clone());
        snapshot.captures.insert(id, state);
    }
}

/// Adds the ids `sql` yields until a row does not step; an id that is not text is skipped.
fn list(conn: &Connection, sql: &str, ids: &mut BTreeSet<String>) {
    let Ok(mut stmt) = conn.prepare(sql) else {
        return;
    };
    let Ok(mut rows) = stmt.query([]) else {
        return;
    };
    while let Ok(Some(row)) = rows.next() {
        if let Ok(id) = row.get::<_, String>(0) {
            ids.insert(id);
        }
    }
}
