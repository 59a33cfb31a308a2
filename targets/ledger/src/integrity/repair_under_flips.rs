//! The index repair under transient bit flips: a real checksummed database with a damaged
//! index page, repaired through the checksum VFS stacked over a VFS that flips a bit in what
//! reads of one chosen page return (the file is unchanged), as the harness's bit-flip scenarios
//! do. The repair must never write such a flip back.

use std::path::Path;
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};

use rusqlite::{Connection, OpenFlags};
use vfs_shim::{Code, FileHooks, OpenRequest, RealFile, RealOpen, VfsConfig, VfsHooks};

use super::detect::check;
use super::repair::{damaged_objects, repair};
use super::{CheckLevel, Damage, RepairAction};
use crate::checksum;

const FLIPPER: &str = "repair-test-flipper";

/// The page whose reads are flipped (0: none), the byte of it flipped, and how many more
/// reads to flip.
static FLIP_PAGE: AtomicU32 = AtomicU32::new(0);
static FLIP_BYTE: AtomicUsize = AtomicUsize::new(0);
static FLIPS_LEFT: AtomicUsize = AtomicUsize::new(0);

struct Flipper;

struct FlipperFile;

impl VfsHooks for Flipper {
    type File = FlipperFile;

    fn wraps(&self, request: &OpenRequest<'_, FlipperFile>) -> bool {
        request.flags() & rusqlite::ffi::SQLITE_OPEN_MAIN_DB != 0
    }

    fn open(
        &self,
        _: &OpenRequest<'_, FlipperFile>,
        real: RealOpen<'_>,
    ) -> Result<FlipperFile, Code> {
        real.open()?;
        Ok(FlipperFile)
    }
}

impl FileHooks for FlipperFile {
    fn after_read(&self, _real: &mut RealFile, data: &mut [u8], offset: i64) -> Result<(), Code> {
        let page = FLIP_PAGE.load(Ordering::SeqCst);
        let whole_page = data.len() >= 512 && data.len().is_power_of_two();
        let at = i64::from(page.max(1) - 1) * data.len() as i64;
        if page != 0 && whole_page && offset == at {
            let left = FLIPS_LEFT.load(Ordering::SeqCst);
            if left > 0 {
                FLIPS_LEFT.store(left - 1, Ordering::SeqCst);
                data[FLIP_BYTE.load(Ordering::SeqCst)] ^= 0x01;
            }
        }
        Ok(())
    }
}

/// The checksum VFS over the flipper.
fn vfs() -> String {
    let config = VfsConfig {
        name: FLIPPER,
        over: None,
        memory_mapping: false,
    };
    let _ = vfs_shim::register(&config, Flipper);
    checksum::vfs_name(Some(FLIPPER)).expect("checksum VFS over the flipper")
}

fn open(path: &Path) -> Connection {
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE;
    Connection::open_with_flags_and_vfs(path, flags, vfs().as_str()).expect("open")
}

/// Every row of `captures`, read through its table.
fn rows(conn: &Connection) -> Vec<(String, String)> {
    conn.prepare("SELECT id, body FROM captures NOT INDEXED ORDER BY rowid")
        .and_then(|mut stmt| {
            stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect()
        })
        .expect("rows")
}

/// A checksummed database with a damaged page of index `by_body` (its checksum fails, at rest)
/// and a leaf page of the table whose reads the tests flip: returns the rows as written, the
/// table page, and the offset in it of a byte of a row's body.
fn damaged_index(path: &Path) -> (Vec<(String, String)>, u32, usize) {
    let conn = open(path);
    checksum::request_reserve(&conn).expect("reserve bytes");
    conn.execute_batch(
        "CREATE TABLE captures (id TEXT PRIMARY KEY, body TEXT);
         CREATE INDEX by_body ON captures (body);",
    )
    .expect("schema");
    for n in 0..600 {
        conn.execute(
            "INSERT INTO captures VALUES (?1, ?2)",
            (format!("id-{n:05}"), format!("body-{n:05}")),
        )
        .expect("insert");
    }
    let written = rows(&conn);
    let page = |name: &str| -> u32 {
        conn.query_row(
            "SELECT pageno FROM dbstat WHERE name = ?1 AND pagetype = 'leaf'
             ORDER BY pageno LIMIT 1 OFFSET 1",
            [name],
            |r| r.get(0),
        )
        .expect("a leaf page")
    };
    let (index_page, table_page) = (page("by_body"), page("captures"));
    drop(conn);
    assert_eq!(checksum::reserve_bytes_of(path).expect("header"), Some(8));
    let mut bytes = std::fs::read(path).expect("read");
    let size = 4096;
    let table = &bytes[(table_page as usize - 1) * size..][..size];
    let body = table
        .windows(5)
        .position(|w| w == b"body-")
        .expect("a body on the table page")
        + 9;
    let index = (index_page as usize - 1) * size;
    bytes[index + size - 100] ^= 0x10;
    std::fs::write(path, bytes).expect("damage the index at rest");
    (written, table_page, body)
}

/// Detects the damage as the ledger does and repairs it with the reads of `table_page` flipped
/// `flips` times (the flipper disarmed afterwards).
fn repair_with_flips(
    conn: &Connection,
    path: &Path,
    table_page: u32,
    byte: usize,
    flips: usize,
) -> Result<RepairAction, String> {
    let findings = check(conn, path, CheckLevel::Full)
        .expect("check")
        .expect("the index page is damaged");
    let damage = damaged_objects(conn, &findings);
    assert_eq!(damage, [Damage::Index("by_body".into())]);
    FLIP_BYTE.store(byte, Ordering::SeqCst);
    FLIPS_LEFT.store(flips, Ordering::SeqCst);
    FLIP_PAGE.store(table_page, Ordering::SeqCst);
    let action = repair(conn, path, &findings, &damage);
    FLIP_PAGE.store(0, Ordering::SeqCst);
    action
}

/// One test at a time drives the process-wide flipper.
static FLIPPER_IN_USE: std::sync::Mutex<()> = std::sync::Mutex::new(());

#[test]
fn a_flipped_read_of_an_undamaged_page_is_never_written_back() {
    let _one = FLIPPER_IN_USE.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("flips.db");
    let (written, table_page, byte) = damaged_index(&path);
    let conn = open(&path);
    let action = repair_with_flips(&conn, &path, table_page, byte, usize::MAX);
    let refused = action.expect_err("a page read wrong every time refuses the repair");
    assert!(refused.contains("refused after 3 attempts"), "{refused}");
    drop(conn);
    let conn = open(&path);
    assert_eq!(
        changed(&rows(&conn), &written),
        Vec::<String>::new(),
        "the table page read wrong during the repair is intact on disk"
    );
}

/// The rows of `now` that differ from `written`, as `id: was -> is`.
fn changed(now: &[(String, String)], written: &[(String, String)]) -> Vec<String> {
    let mut changed: Vec<String> = now
        .iter()
        .zip(written)
        .filter(|(is, was)| is != was)
        .map(|((id, is), (_, was))| format!("{id}: {was} -> {is}"))
        .collect();
    if now.len() != written.len() {
        changed.push(format!("{} rows, {} written", now.len(), written.len()));
    }
    changed
}

#[test]
fn a_rebuild_that_met_a_transient_flip_is_tried_again() {
    let _one = FLIPPER_IN_USE.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("transient.db");
    let (written, table_page, byte) = damaged_index(&path);
    let conn = open(&path);
    let action = repair_with_flips(&conn, &path, table_page, byte, 2);
    assert_eq!(action, Ok(RepairAction::Reindexed(vec!["by_body".into()])));
    assert_eq!(
        FLIPS_LEFT.load(Ordering::SeqCst),
        0,
        "both flipped reads were made"
    );
    assert_eq!(changed(&rows(&conn), &written), Vec::<String>::new());
    let ok: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .expect("integrity_check");
    assert_eq!(ok, "ok");
}
