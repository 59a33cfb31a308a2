//! Helpers shared by the VFS tests.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use harness::backends::vfs::{FaultVfs, VfsOptions};
use rusqlite::{Connection, OpenFlags};

/// Registers a VFS with a name unique in this test process.
pub fn register(options: VfsOptions) -> FaultVfs {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let name = format!("test-faults-{}", NEXT.fetch_add(1, Ordering::Relaxed));
    FaultVfs::register(&name, options).expect("register VFS")
}

/// A fresh directory, on tmpfs when the machine has one.
pub fn tempdir() -> tempfile::TempDir {
    if Path::new("/dev/shm").is_dir() {
        tempfile::tempdir_in("/dev/shm").expect("tempdir in /dev/shm")
    } else {
        tempfile::tempdir().expect("tempdir")
    }
}

/// Opens `path` through `vfs`.
pub fn open(vfs: &FaultVfs, path: &Path) -> rusqlite::Result<Connection> {
    Connection::open_with_flags_and_vfs(path, OpenFlags::default(), vfs.name())
}

/// Creates `path` with the default VFS: table `t(id INTEGER PRIMARY KEY, v BLOB)`
/// in `journal_mode`, closed cleanly (so it is durable before faults start).
pub fn create_db(path: &Path, journal_mode: &str) {
    let conn = Connection::open(path).expect("create db");
    conn.pragma_update(None, "journal_mode", journal_mode)
        .unwrap();
    conn.execute_batch("CREATE TABLE t(id INTEGER PRIMARY KEY, v BLOB NOT NULL);")
        .unwrap();
}

/// The deterministic payload of row `id`.
pub fn payload(id: i64) -> Vec<u8> {
    let len = 50 + (id as usize * 397) % 1500;
    (0..len).map(|i| (i as i64 * 31 + id * 7) as u8).collect()
}

/// The SQLite extended code of an error.
pub fn code(err: &rusqlite::Error) -> i32 {
    match err {
        rusqlite::Error::SqliteFailure(e, _) => e.extended_code,
        other => panic!("not an SQLite failure: {other:?}"),
    }
}

/// The non-`-shm` files of `dir`, by name.
pub fn snapshot(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file() && !p.to_string_lossy().ends_with("-shm"))
        .map(|p| {
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                std::fs::read(&p).unwrap(),
            )
        })
        .collect()
}

/// What a reopened database holds.
#[derive(Debug)]
pub struct Recovered {
    /// `PRAGMA integrity_check` (or the error opening/reading).
    pub integrity: String,
    /// Row ids present, sorted.
    pub ids: Vec<i64>,
    /// Rows whose payload is not what was written.
    pub bad_payloads: usize,
}

/// Opens `path` with the default VFS (running SQLite's recovery) and reads it.
pub fn recover(path: &Path) -> Recovered {
    let read = || -> rusqlite::Result<Recovered> {
        let conn = Connection::open(path)?;
        let integrity: String = conn.query_row("PRAGMA integrity_check", [], |r| r.get(0))?;
        let mut stmt = conn.prepare("SELECT id, v FROM t ORDER BY id")?;
        let rows = stmt
            .query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, Vec<u8>>(1)?)))?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(Recovered {
            integrity,
            bad_payloads: rows.iter().filter(|(id, v)| *v != payload(*id)).count(),
            ids: rows.into_iter().map(|(id, _)| id).collect(),
        })
    };
    read().unwrap_or_else(|e| Recovered {
        integrity: format!("error: {e}"),
        ids: Vec::new(),
        bad_payloads: 0,
    })
}

/// A small deterministic workload: one insert per transaction, ids 1..=n,
/// and every third transaction also rewrites an older row. Stops at the first
/// error. Returns the acknowledged ids.
pub fn insert_workload(conn: &Connection, n: i64) -> Vec<i64> {
    let mut acked = Vec::new();
    for id in 1..=n {
        let tx = || -> rusqlite::Result<()> {
            conn.execute_batch("BEGIN")?;
            conn.execute("INSERT INTO t(id, v) VALUES (?1, ?2)", (id, payload(id)))?;
            if id % 3 == 0 {
                let old = id / 2;
                conn.execute("UPDATE t SET v = ?2 WHERE id = ?1", (old, payload(old)))?;
            }
            conn.execute_batch("COMMIT")
        };
        match tx() {
            Ok(()) => acked.push(id),
            Err(_) => {
                let _ = conn.execute_batch("ROLLBACK");
                break;
            }
        }
    }
    acked
}

/// A subdirectory `name` of `dir`, created.
pub fn subdir(dir: &Path, name: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::create_dir_all(&path).unwrap();
    path
}
