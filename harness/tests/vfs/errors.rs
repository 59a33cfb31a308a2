//! Each supported op/error pair surfaces to rusqlite as the expected code.

use std::path::Path;
use std::time::Duration;

use harness::backends::vfs::{
    FaultError, FaultRule, FaultVfs, FileKind, IoOp, Trigger, VfsOptions,
};
use rusqlite::{Connection, ffi};

use crate::common::{code, create_db, open, payload, register, tempdir};

fn insert(conn: &Connection, id: i64) -> rusqlite::Result<usize> {
    conn.execute("INSERT INTO t(id, v) VALUES (?1, ?2)", (id, payload(id)))
}

fn count(conn: &Connection) -> rusqlite::Result<i64> {
    conn.query_row("SELECT count(*) FROM t", [], |r| r.get(0))
}

/// Runs `action` on a fresh database (journal `mode`) after adding `rule`;
/// returns the extended code it failed with.
type Case = (
    &'static str,
    FaultRule,
    i32,
    fn(&FaultVfs, &Path) -> rusqlite::Result<()>,
);

fn fault_code(
    mode: &str,
    options: VfsOptions,
    rule: FaultRule,
    action: impl Fn(&FaultVfs, &Path) -> rusqlite::Result<()>,
) -> i32 {
    let dir = tempdir();
    let db = dir.path().join("e.db");
    create_db(&db, mode);
    let vfs = register(options);
    vfs.add_rule(rule.clone()).unwrap();
    let err = action(&vfs, &db).expect_err("the fault must surface");
    let events = vfs.events();
    assert_eq!(events.len(), 1, "{rule:?}: {events:?}");
    code(&err)
}

fn insert_through(vfs: &FaultVfs, db: &Path) -> rusqlite::Result<()> {
    let conn = open(vfs, db)?;
    conn.busy_timeout(Duration::ZERO)?;
    insert(&conn, 1).map(drop)
}

fn insert_truncate_mode(vfs: &FaultVfs, db: &Path) -> rusqlite::Result<()> {
    let conn = open(vfs, db)?;
    conn.pragma_update(None, "journal_mode", "TRUNCATE")?;
    insert(&conn, 1).map(drop)
}

fn read_through(vfs: &FaultVfs, db: &Path) -> rusqlite::Result<()> {
    let conn = open(vfs, db)?;
    conn.busy_timeout(Duration::ZERO)?;
    count(&conn).map(drop)
}

#[test]
fn each_op_error_pair_surfaces_as_its_extended_code() {
    let plain = VfsOptions::default;
    let rule = FaultRule::new;
    let once = Trigger::Nth(1);
    let cases: Vec<Case> = vec![
        (
            "wal",
            rule(IoOp::Write, once).on(FileKind::Wal),
            ffi::SQLITE_IOERR_WRITE,
            insert_through,
        ),
        (
            "wal",
            rule(IoOp::Write, once)
                .on(FileKind::Wal)
                .with_error(FaultError::Full),
            ffi::SQLITE_FULL,
            insert_through,
        ),
        (
            "wal",
            rule(IoOp::Sync, once).on(FileKind::Wal),
            ffi::SQLITE_IOERR_FSYNC,
            insert_through,
        ),
        (
            "wal",
            rule(IoOp::Read, once).on(FileKind::MainDb),
            ffi::SQLITE_IOERR_READ,
            read_through,
        ),
        (
            "wal",
            rule(IoOp::Lock, once),
            ffi::SQLITE_IOERR_LOCK,
            read_through,
        ),
        (
            "wal",
            rule(IoOp::Lock, once).with_error(FaultError::Busy),
            ffi::SQLITE_BUSY,
            read_through,
        ),
        (
            "wal",
            rule(IoOp::Open, once).on(FileKind::MainDb),
            ffi::SQLITE_CANTOPEN,
            read_through,
        ),
        (
            "wal",
            rule(IoOp::Open, once)
                .on(FileKind::Wal)
                .with_error(FaultError::CantOpen),
            ffi::SQLITE_CANTOPEN,
            read_through,
        ),
        (
            "wal",
            rule(IoOp::ShmMap, once),
            ffi::SQLITE_IOERR_SHMMAP,
            read_through,
        ),
        (
            "delete",
            rule(IoOp::Delete, once).on(FileKind::Journal),
            ffi::SQLITE_IOERR_DELETE,
            insert_through,
        ),
        (
            "truncate",
            rule(IoOp::Truncate, once).on(FileKind::Journal),
            ffi::SQLITE_IOERR_TRUNCATE,
            insert_truncate_mode,
        ),
    ];
    for (mode, rule, expected, action) in cases {
        let got = fault_code(mode, plain(), rule.clone(), action);
        assert_eq!(got, expected, "{mode} {rule:?}");
    }
    let fetch = FaultRule::new(IoOp::Fetch, once);
    let mmap = VfsOptions {
        forward_fetch: true,
        ..VfsOptions::default()
    };
    let got = fault_code("wal", mmap, fetch, |vfs, db| {
        let conn = open(vfs, db)?;
        conn.pragma_update(None, "mmap_size", 1 << 20)?;
        count(&conn).map(drop)
    });
    assert_eq!(got, ffi::SQLITE_IOERR_MMAP);
}

#[test]
fn invalid_rules_are_rejected_with_a_reason() {
    let vfs = register(VfsOptions::default());
    let err = vfs
        .add_rule(FaultRule::new(IoOp::Sync, Trigger::Nth(1)).with_error(FaultError::Busy))
        .unwrap_err();
    assert!(err.to_string().contains("busy with lock"), "{err}");
}

#[test]
fn connection_works_again_after_a_once_fault_and_after_clear_rules() {
    let dir = tempdir();
    let db = dir.path().join("r.db");
    create_db(&db, "wal");
    let vfs = register(VfsOptions::default());
    let conn = open(&vfs, &db).unwrap();
    conn.pragma_update(None, "synchronous", "FULL").unwrap();

    vfs.add_rule(FaultRule::new(IoOp::Sync, Trigger::Nth(1)).on(FileKind::Wal))
        .unwrap();
    assert_eq!(
        code(&insert(&conn, 1).unwrap_err()),
        ffi::SQLITE_IOERR_FSYNC
    );
    insert(&conn, 1).expect("a once-rule fires once; the next commit succeeds");

    vfs.add_rule(
        FaultRule::new(IoOp::Write, Trigger::Nth(1))
            .on(FileKind::Wal)
            .persistent(),
    )
    .unwrap();
    for id in 2..5 {
        assert_eq!(
            code(&insert(&conn, id).unwrap_err()),
            ffi::SQLITE_IOERR_WRITE
        );
    }
    vfs.clear_rules();
    insert(&conn, 2).expect("clear_rules ends persistent faults");
    assert_eq!(count(&conn).unwrap(), 2);
    assert_eq!(vfs.events().len(), 4);
}
