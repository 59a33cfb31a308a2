//! Page-cache counters of one connection through `sqlite3_db_status`: [`cache_counters`],
//! [`cache_used_bytes`].

use rusqlite::{Connection, ffi};

/// Read one `SQLITE_DBSTATUS_*` current value, or `None` if SQLite refuses.
fn db_status(conn: &Connection, op: i32) -> Option<u64> {
    let mut current = 0;
    let mut highwater = 0;
    // SAFETY: `conn.handle()` is the live `sqlite3*` owned by `conn`, which is
    // borrowed for the whole call and is not `Sync`, so no other thread uses
    // the handle meanwhile; both out-pointers point to locals that outlive the
    // call; `resetFlag = 0` only reads the counters.
    let rc = unsafe { ffi::sqlite3_db_status(conn.handle(), op, &mut current, &mut highwater, 0) };
    (rc == ffi::SQLITE_OK).then(|| u64::try_from(current).unwrap_or(0))
}

/// (hits, misses) of this connection's page cache since it was opened.
pub(crate) fn cache_counters(conn: &Connection) -> (Option<u64>, Option<u64>) {
    (
        db_status(conn, ffi::SQLITE_DBSTATUS_CACHE_HIT),
        db_status(conn, ffi::SQLITE_DBSTATUS_CACHE_MISS),
    )
}

/// Heap bytes this connection's page caches hold now (`SQLITE_DBSTATUS_CACHE_USED`).
pub(crate) fn cache_used_bytes(conn: &Connection) -> Option<u64> {
    db_status(conn, ffi::SQLITE_DBSTATUS_CACHE_USED)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn releasing_memory_shrinks_the_cache_used() {
        let dir = tempfile::tempdir().expect("tempdir");
        let conn = Connection::open(dir.path().join("t.db")).expect("db");
        conn.execute_batch(
            "CREATE TABLE t(x);
             WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 300)
             INSERT INTO t SELECT randomblob(3000) FROM n;",
        )
        .expect("fill");
        let _: i64 = conn
            .query_row("SELECT count(*) FROM t WHERE length(x) > 0", [], |r| {
                r.get(0)
            })
            .expect("read every page");
        let before = cache_used_bytes(&conn).expect("available");
        conn.release_memory().expect("release");
        let after = cache_used_bytes(&conn).expect("available");
        assert!(after < before, "{before} -> {after}");
    }

    #[test]
    fn reading_pages_counts_hits_or_misses() {
        let conn = Connection::open_in_memory().expect("db");
        conn.execute_batch(
            "CREATE TABLE t(x); INSERT INTO t SELECT value FROM json_each('[1,2,3,4,5]');",
        )
        .expect("fill");
        let before = cache_counters(&conn);
        for _ in 0..5 {
            let _: i64 = conn
                .query_row("SELECT count(*) FROM t", [], |row| row.get(0))
                .expect("count");
        }
        let (Some(hits), Some(misses)) = cache_counters(&conn) else {
            panic!("counters available");
        };
        let (Some(hits_before), Some(misses_before)) = before else {
            panic!("counters available");
        };
        assert!(hits + misses > hits_before + misses_before);
    }
}
