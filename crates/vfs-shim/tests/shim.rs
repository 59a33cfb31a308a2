//! The shim end to end: VFSes registered over the default one, driven by
//! real SQLite connections on databases in a temporary directory.

use std::ffi::{CStr, c_int};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicUsize, Ordering};

use rusqlite::{Connection, OpenFlags, ffi};
use vfs_shim::{
    Code, FileControl, FileHooks, OpenRequest, RealFile, RealOpen, RegisterError, VfsConfig,
    VfsHooks, register,
};

fn config(name: &str) -> VfsConfig<'_> {
    VfsConfig {
        name,
        over: None,
        memory_mapping: true,
    }
}

fn open(path: &Path, vfs: &str) -> Connection {
    let conn = Connection::open_with_flags_and_vfs(path, OpenFlags::default(), vfs).expect("open");
    conn.pragma_update(None, "journal_mode", "wal")
        .expect("wal");
    conn
}

fn fill(conn: &Connection, rows: i64) {
    conn.execute_batch("CREATE TABLE t (id INTEGER PRIMARY KEY, body BLOB NOT NULL)")
        .expect("create");
    for id in 0..rows {
        conn.execute("INSERT INTO t VALUES (?1, ?2)", (id, vec![id as u8; 700]))
            .expect("insert");
    }
}

fn checksum(conn: &Connection) -> (i64, i64) {
    conn.query_row(
        "SELECT count(*), sum(length(body) + id) FROM t",
        [],
        |row| Ok((row.get(0)?, row.get(1)?)),
    )
    .expect("read back")
}

/// Implements only what it must: every call passes through.
struct PassThrough;

struct PassFile;

impl FileHooks for PassFile {}

impl VfsHooks for PassThrough {
    type File = PassFile;

    fn open(&self, _: &OpenRequest<'_, PassFile>, real: RealOpen<'_>) -> Result<PassFile, Code> {
        real.open()?;
        Ok(PassFile)
    }
}

#[test]
fn a_pass_through_vfs_round_trips_data() {
    register(&config("shim-test-pass-through"), PassThrough).expect("register");
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("pass.db");
    let conn = open(&path, "shim-test-pass-through");
    fill(&conn, 300);
    let written = checksum(&conn);
    drop(conn);

    let again = open(&path, "shim-test-pass-through");
    assert_eq!(checksum(&again), written);
    let ok: String = again
        .query_row("PRAGMA integrity_check", [], |row| row.get(0))
        .expect("integrity_check");
    assert_eq!(ok, "ok");
    drop(again);
    let plain = Connection::open(&path).expect("open without the shim");
    assert_eq!(checksum(&plain), written, "the file is plain SQLite");
}

/// Counts calls and fails or panics on demand.
#[derive(Default)]
struct Probe {
    wrapped_opens: AtomicUsize,
    closes: AtomicUsize,
    writes: AtomicUsize,
    wal_found_its_database: AtomicBool,
    fail_writes_with: AtomicI32,
    panic_on_write: AtomicBool,
}

struct ProbeVfs {
    probe: Arc<Probe>,
    wrap_only_main_and_wal: bool,
}

struct ProbeFile {
    probe: Arc<Probe>,
    main_db: bool,
}

impl VfsHooks for ProbeVfs {
    type File = ProbeFile;

    fn wraps(&self, request: &OpenRequest<'_, ProbeFile>) -> bool {
        let main_or_wal = ffi::SQLITE_OPEN_MAIN_DB | ffi::SQLITE_OPEN_WAL;
        !self.wrap_only_main_and_wal || request.flags() & main_or_wal != 0
    }

    fn open(
        &self,
        request: &OpenRequest<'_, ProbeFile>,
        real: RealOpen<'_>,
    ) -> Result<ProbeFile, Code> {
        if request.flags() & ffi::SQLITE_OPEN_WAL != 0 {
            let found = request.main_database().is_some_and(|main| main.main_db);
            self.probe
                .wal_found_its_database
                .store(found, Ordering::SeqCst);
        }
        real.open()?;
        self.probe.wrapped_opens.fetch_add(1, Ordering::SeqCst);
        Ok(ProbeFile {
            probe: Arc::clone(&self.probe),
            main_db: request.flags() & ffi::SQLITE_OPEN_MAIN_DB != 0,
        })
    }
}

impl FileHooks for ProbeFile {
    fn close(self, real: vfs_shim::ClosingFile<'_>) -> Result<(), Code> {
        self.probe.closes.fetch_add(1, Ordering::SeqCst);
        real.close()
    }

    fn write(&self, real: &mut RealFile, data: &[u8], offset: i64) -> Result<(), Code> {
        self.probe.writes.fetch_add(1, Ordering::SeqCst);
        assert!(
            !self.probe.panic_on_write.load(Ordering::SeqCst),
            "planted panic"
        );
        match self.probe.fail_writes_with.load(Ordering::SeqCst) {
            0 => real.write(data, offset),
            code => Err(code),
        }
    }

    fn file_control(&self, real: &mut RealFile, control: &mut FileControl<'_>) -> Result<(), Code> {
        if let Some(mut pragma) = control.pragma()
            && pragma.name().eq_ignore_ascii_case("shim_probe")
        {
            let answer: &CStr = if pragma.value().as_deref() == Some("main") {
                c"main-db"
            } else {
                c"probe"
            };
            let answer = if self.main_db { answer } else { c"not main" };
            return pragma.answer(answer);
        }
        real.file_control(control)
    }
}

fn probe_vfs(name: &str, wrap_only_main_and_wal: bool) -> Arc<Probe> {
    let probe = Arc::new(Probe::default());
    let hooks = ProbeVfs {
        probe: Arc::clone(&probe),
        wrap_only_main_and_wal,
    };
    register(&config(name), hooks).expect("register");
    probe
}

fn extended_code(err: &rusqlite::Error) -> Option<c_int> {
    err.sqlite_error().map(|e| e.extended_code)
}

#[test]
fn an_overridden_write_hook_sees_every_write_and_close() {
    let probe = probe_vfs("shim-test-writes", false);
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("writes.db");
    let conn = open(&path, "shim-test-writes");
    fill(&conn, 50);
    assert!(
        probe.writes.load(Ordering::SeqCst) >= 50,
        "each committed insert writes at least one WAL frame through the hook"
    );
    let written = checksum(&conn);
    drop(conn);
    assert_eq!(
        probe.closes.load(Ordering::SeqCst),
        probe.wrapped_opens.load(Ordering::SeqCst),
        "every wrapped file is closed once"
    );
    assert_eq!(checksum(&Connection::open(&path).expect("plain")), written);
}

#[test]
fn a_hook_error_is_the_sqlite_error_code() {
    let probe = probe_vfs("shim-test-errors", false);
    let dir = tempfile::tempdir().expect("tempdir");
    let conn = open(&dir.path().join("errors.db"), "shim-test-errors");
    fill(&conn, 5);
    probe
        .fail_writes_with
        .store(ffi::SQLITE_IOERR_WRITE, Ordering::SeqCst);
    let err = conn
        .execute("INSERT INTO t VALUES (100, x'00')", [])
        .expect_err("the write hook fails the commit");
    assert_eq!(extended_code(&err), Some(ffi::SQLITE_IOERR_WRITE), "{err}");
}

#[test]
fn a_panicking_hook_is_an_ioerr_not_an_abort() {
    let probe = probe_vfs("shim-test-panics", false);
    let dir = tempfile::tempdir().expect("tempdir");
    let conn = open(&dir.path().join("panics.db"), "shim-test-panics");
    fill(&conn, 5);
    probe.panic_on_write.store(true, Ordering::SeqCst);
    let err = conn
        .execute("INSERT INTO t VALUES (100, x'00')", [])
        .expect_err("the panic fails the commit");
    assert_eq!(extended_code(&err), Some(ffi::SQLITE_IOERR), "{err}");
}

#[test]
fn a_wal_finds_the_hooks_of_its_database_and_pragmas_reach_the_hook() {
    let probe = probe_vfs("shim-test-wal", true);
    let dir = tempfile::tempdir().expect("tempdir");
    let conn = open(&dir.path().join("wal.db"), "shim-test-wal");
    fill(&conn, 5);
    assert!(probe.wal_found_its_database.load(Ordering::SeqCst));
    let answer: String = conn
        .query_row("PRAGMA shim_probe", [], |row| row.get(0))
        .expect("pragma");
    assert_eq!(answer, "probe");
    let answer: String = conn
        .query_row("PRAGMA shim_probe = main", [], |row| row.get(0))
        .expect("pragma with a value");
    assert_eq!(answer, "main-db");
    // Only the main database and the WAL are wrapped (no journal in WAL mode).
    assert_eq!(probe.wrapped_opens.load(Ordering::SeqCst), 2);
}

#[test]
fn files_the_hooks_do_not_wrap_skip_them() {
    let probe = probe_vfs("shim-test-unwrapped", true);
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("journal.db");
    let conn =
        Connection::open_with_flags_and_vfs(&path, OpenFlags::default(), "shim-test-unwrapped")
            .expect("open");
    conn.pragma_update(None, "journal_mode", "delete")
        .expect("rollback journal");
    fill(&conn, 20);
    let wrapped_writes = probe.writes.load(Ordering::SeqCst);
    conn.execute("UPDATE t SET body = x'01' WHERE id < 10", [])
        .expect("update through a journal");
    assert_eq!(
        probe.wrapped_opens.load(Ordering::SeqCst),
        1,
        "only the main database"
    );
    assert!(
        probe.writes.load(Ordering::SeqCst) > wrapped_writes,
        "main-db writes still hooked"
    );
}

#[test]
fn registration_refuses_taken_names_and_missing_vfses() {
    register(&config("shim-test-taken"), PassThrough).expect("first registration");
    assert!(matches!(
        register(&config("shim-test-taken"), PassThrough),
        Err(RegisterError::NameTaken(name)) if name == "shim-test-taken"
    ));
    let over_missing = VfsConfig {
        over: Some("shim-test-no-such-vfs"),
        ..config("shim-test-over-missing")
    };
    assert!(matches!(
        register(&over_missing, PassThrough),
        Err(RegisterError::NoSuchVfs(Some(_)))
    ));
    assert!(matches!(
        register(&config("bad\0name"), PassThrough),
        Err(RegisterError::BadName(_))
    ));
}

#[test]
fn a_shim_stacks_over_another_shim() {
    register(&config("shim-test-lower"), PassThrough).expect("lower");
    let probe = Arc::new(Probe::default());
    let upper = VfsConfig {
        name: "shim-test-upper",
        over: Some("shim-test-lower"),
        memory_mapping: false,
    };
    let hooks = ProbeVfs {
        probe: Arc::clone(&probe),
        wrap_only_main_and_wal: false,
    };
    register(&upper, hooks).expect("upper");
    let dir = tempfile::tempdir().expect("tempdir");
    let conn = open(&dir.path().join("stacked.db"), "shim-test-upper");
    conn.pragma_update(None, "mmap_size", 1 << 20)
        .expect("mmap on");
    fill(&conn, 40);
    assert_eq!(checksum(&conn).0, 40);
    assert!(probe.writes.load(Ordering::SeqCst) >= 40);
}
