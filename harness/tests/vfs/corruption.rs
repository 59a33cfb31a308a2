//! Short writes and bit flips.

use std::ffi::{CString, c_void};

use harness::backends::vfs::{
    BitFlipRule, FaultEventKind, FaultRule, FileKind, IoOp, Trigger, VfsOptions,
};
use rusqlite::{Connection, ffi};

use crate::common::{code, create_db, open, payload, register, tempdir};

#[test]
fn short_write_lets_exactly_k_sectors_reach_the_file() {
    let dir = tempdir();
    let db = dir.path().join("s.db");
    let reference = dir.path().join("ref.db");
    create_db(&db, "delete");
    {
        let conn = Connection::open(&db).unwrap();
        for id in 1..=20 {
            conn.execute("INSERT INTO t VALUES (?1, ?2)", (id, payload(id)))
                .unwrap();
        }
    }
    std::fs::copy(&db, &reference).unwrap();
    let before = std::fs::read(&db).unwrap();

    let update = "UPDATE t SET v = zeroblob(600) || v WHERE id % 2 = 0";
    Connection::open(&reference)
        .unwrap()
        .execute(update, [])
        .unwrap();
    let wanted = std::fs::read(&reference).unwrap();

    let vfs = register(VfsOptions::default());
    let conn = open(&vfs, &db).unwrap();
    // The first main-DB write is short; every later one fails, so the pager
    // cannot roll the page back before we look.
    vfs.add_rule(
        FaultRule::new(IoOp::Write, Trigger::Nth(1))
            .on(FileKind::MainDb)
            .short_write(3),
    )
    .unwrap();
    vfs.add_rule(FaultRule::new(IoOp::Write, Trigger::FromNth(2)).on(FileKind::MainDb))
        .unwrap();
    let err = conn.execute(update, []).unwrap_err();
    assert_eq!(code(&err), ffi::SQLITE_IOERR_WRITE);

    let short = &vfs.events()[0];
    assert_eq!(
        short.kind,
        FaultEventKind::ShortWrite {
            kept_sectors: 3,
            code: ffi::SQLITE_IOERR_WRITE
        }
    );
    let (offset, len) = (short.offset.unwrap() as usize, short.len.unwrap() as usize);
    assert!(len > 3 * 512, "a page write: {len}");
    let after = std::fs::read(&db).unwrap();
    let mut expected = before.clone();
    expected[offset..offset + 3 * 512].copy_from_slice(&wanted[offset..offset + 3 * 512]);
    assert_eq!(after.len(), before.len());
    assert!(
        after == expected,
        "only the first 3 sectors of the write reached the file"
    );
    assert_ne!(after, before, "the kept sectors changed the file");
}

#[test]
fn bit_flip_changes_exactly_the_recorded_bits_of_the_read_not_the_file() {
    let dir = tempdir();
    let db = dir.path().join("b.db");
    create_db(&db, "wal");
    {
        let conn = Connection::open(&db).unwrap();
        conn.execute("INSERT INTO t VALUES (1, ?1)", [payload(1)])
            .unwrap();
        conn.pragma_update(None, "wal_checkpoint", "TRUNCATE")
            .unwrap();
    }
    let on_disk = std::fs::read(&db).unwrap();
    let vfs = register(VfsOptions::default());
    let conn = open(&vfs, &db).unwrap();
    conn.query_row("SELECT count(*) FROM t", [], |r| r.get::<_, i64>(0))
        .unwrap();
    vfs.set_seed(42);
    vfs.add_bit_flip(BitFlipRule {
        file: FileKind::MainDb,
        trigger: Trigger::Nth(1),
        bits: 5,
        persistent: false,
    })
    .unwrap();

    let page = 4096usize;
    let offset = page as i64;
    let mut buf = vec![0u8; page];
    let main = CString::new("main").unwrap();
    let mut file: *mut ffi::sqlite3_file = std::ptr::null_mut();
    // SAFETY: a valid open connection, "main" exists, and FILE_POINTER writes one pointer to `file`.
    let rc = unsafe {
        ffi::sqlite3_file_control(
            conn.handle(),
            main.as_ptr(),
            ffi::SQLITE_FCNTL_FILE_POINTER,
            (&mut file as *mut *mut ffi::sqlite3_file).cast::<c_void>(),
        )
    };
    assert_eq!(rc, ffi::SQLITE_OK);
    // SAFETY: `file` is the connection's open main-DB file (our shim); `buf` holds `page` bytes.
    let rc = unsafe {
        let read = (*(*file).pMethods).xRead.unwrap();
        read(file, buf.as_mut_ptr().cast(), page as i32, offset)
    };
    assert_eq!(rc, ffi::SQLITE_OK);

    let events = vfs.events();
    let FaultEventKind::BitFlip { bits } = &events[0].kind else {
        panic!("expected a bit flip: {events:?}");
    };
    assert_eq!(bits.len(), 5);
    let mut differing = Vec::new();
    for (i, (got, disk)) in buf.iter().zip(&on_disk[page..2 * page]).enumerate() {
        for bit in 0..8 {
            if (got ^ disk) & (1 << bit) != 0 {
                differing.push((offset as u64 + i as u64) * 8 + bit);
            }
        }
    }
    assert_eq!(&differing, bits);
    assert_eq!(
        std::fs::read(&db).unwrap(),
        on_disk,
        "the file itself is unchanged"
    );
}
