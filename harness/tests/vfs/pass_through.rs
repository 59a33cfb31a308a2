//! With no rules the shim behaves like the default VFS.

use harness::backends::vfs::VfsOptions;
use rusqlite::Connection;

use crate::common::{open, register, tempdir};

#[test]
fn wal_database_works_and_shares_shm_with_the_default_vfs() {
    let dir = tempdir();
    let db = dir.path().join("p.db");
    let vfs = register(VfsOptions::default());
    let a = open(&vfs, &db).unwrap();
    a.pragma_update(None, "journal_mode", "WAL").unwrap();
    a.pragma_update(None, "synchronous", "FULL").unwrap();
    a.execute_batch("CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT)")
        .unwrap();
    for batch in 0..50 {
        a.execute_batch("BEGIN").unwrap();
        for i in 0..10 {
            let id = batch * 10 + i;
            a.execute("INSERT INTO t VALUES (?1, ?2)", (id, format!("row {id}")))
                .unwrap();
        }
        a.execute_batch("COMMIT").unwrap();
    }
    let (n, sum): (i64, i64) = a
        .query_row("SELECT count(*), sum(id) FROM t", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .unwrap();
    assert_eq!((n, sum), (500, 499 * 500 / 2));

    let b = Connection::open(&db).unwrap();
    let seen: i64 = b
        .query_row("SELECT count(*) FROM t", [], |r| r.get(0))
        .unwrap();
    assert_eq!(seen, 500);
    b.execute("INSERT INTO t VALUES (1000, 'from default')", [])
        .unwrap();
    let text: String = a
        .query_row("SELECT v FROM t WHERE id = 1000", [], |r| r.get(0))
        .unwrap();
    assert_eq!(text, "from default");

    let counts = vfs.io_counts();
    assert!(counts.shm_maps > 0 && counts.writes > 0 && counts.syncs > 0);
    assert_eq!(counts.fetches, 0, "io_methods v2 has no xFetch");
    assert!(vfs.events().is_empty());
}

fn mmap_reads(forward_fetch: bool) -> u64 {
    let dir = tempdir();
    let db = dir.path().join("m.db");
    let vfs = register(VfsOptions {
        forward_fetch,
        ..VfsOptions::default()
    });
    let conn = open(&vfs, &db).unwrap();
    conn.pragma_update(None, "mmap_size", 8 << 20).unwrap();
    conn.execute_batch(
        "CREATE TABLE t(id INTEGER PRIMARY KEY, v BLOB);
         WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 300)
         INSERT INTO t SELECT i, randomblob(500) FROM n;",
    )
    .unwrap();
    drop(conn);
    let conn = open(&vfs, &db).unwrap();
    conn.pragma_update(None, "mmap_size", 8 << 20).unwrap();
    let (n, bytes): (i64, i64) = conn
        .query_row("SELECT count(*), sum(length(v)) FROM t", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .unwrap();
    assert_eq!((n, bytes), (300, 300 * 500));
    vfs.io_counts().fetches
}

#[test]
fn mmap_goes_through_xfetch_only_when_forwarded() {
    assert!(
        mmap_reads(true) > 0,
        "forward_fetch = true must call xFetch"
    );
    assert_eq!(
        mmap_reads(false),
        0,
        "forward_fetch = false must never call xFetch"
    );
}

#[test]
fn registering_a_name_twice_fails() {
    let vfs = register(VfsOptions::default());
    let err =
        harness::backends::vfs::FaultVfs::register(vfs.name(), VfsOptions::default()).unwrap_err();
    assert!(err.to_string().contains("already registered"), "{err}");
    let image = vfs.write_crash_image(
        std::path::Path::new("/nonexistent"),
        harness::backends::vfs::CrashMode::Keep,
    );
    assert!(matches!(
        image,
        Err(harness::backends::vfs::VfsError::NotTracking)
    ));
}
