//! Seeded datasets built once and cached on disk: [`Dataset::cached`], shared
//! by the benches and the harness's perf scenarios.
//!
//! Files live in `target/bench-data/` (or `BENCH_DATA_DIR`), named by size,
//! backlog (when not the default 3 %), schema variant, generator version and
//! a fingerprint of the schema's DDL, so a changed ledger schema gets a fresh
//! dataset. Builders take an exclusive lock on `<file>.lock`, so two
//! processes asking for the same dataset build it once. A build runs in one
//! transaction with prepared statements, `journal_mode=OFF` and
//! `synchronous=OFF`, then `ANALYZE`, then switches to WAL (the ledger's
//! mode) and is renamed into place, so a half-built file is never used.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Instant;

use rusqlite::Connection;

use serde::{Deserialize, Serialize};

use super::before_schema;
use super::error::{PerfError, sql_err};
use super::generate::{DEFAULT_BACKLOG_PERMILLE, Generated, Rows, START_MS, YEAR_MS};

/// Bumped whenever the generator's output changes.
const GENERATOR_VERSION: u32 = 1;
/// The generator's seed (the size is mixed in).
const SEED: u64 = 0x1ed9_e2b3;

/// Which schema a dataset carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Variant {
    /// The ledger's own schema, created by `Ledger::open` (composite and partial indexes).
    Ledger,
    /// The seed's "before" schema: primary keys and `UNIQUE(content_hash)` only.
    Before,
}

impl Variant {
    /// `"ledger"` or `"before"`.
    pub fn label(self) -> &'static str {
        match self {
            Variant::Ledger => "ledger",
            Variant::Before => "before",
        }
    }
}

/// What a dataset holds: how many captures, how many of them non-terminal, which schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DatasetSpec {
    /// Captures in the table.
    pub captures: usize,
    /// Non-terminal captures per 1000 (30 = the default 3 % backlog).
    pub backlog_permille: u32,
    /// The schema.
    pub variant: Variant,
}

impl DatasetSpec {
    /// `captures` with the default 3 % backlog and `variant`'s schema.
    pub fn new(captures: usize, variant: Variant) -> DatasetSpec {
        DatasetSpec {
            captures,
            backlog_permille: DEFAULT_BACKLOG_PERMILLE,
            variant,
        }
    }

    /// `10k`, `100k`, `1m`, or the plain count: in file names and reports.
    pub fn size_label(&self) -> String {
        match self.captures {
            n if n >= 1_000_000 && n % 1_000_000 == 0 => format!("{}m", n / 1_000_000),
            n if n >= 1_000 && n % 1_000 == 0 => format!("{}k", n / 1_000),
            n => n.to_string(),
        }
    }

    fn file_stem(&self) -> String {
        let backlog = if self.backlog_permille == DEFAULT_BACKLOG_PERMILLE {
            String::new()
        } else {
            format!("-b{}", self.backlog_permille)
        };
        format!(
            "captures-{}{backlog}-{}",
            self.size_label(),
            self.variant.label()
        )
    }
}

/// A built dataset.
#[derive(Debug, Clone)]
pub struct Dataset {
    /// The database file (WAL mode, analysed).
    pub path: PathBuf,
    /// What it holds.
    pub spec: DatasetSpec,
}

/// Where datasets are cached: `BENCH_DATA_DIR`, else `$CARGO_TARGET_DIR/bench-data`, else the
/// workspace's `target/bench-data`.
pub fn data_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("BENCH_DATA_DIR") {
        return PathBuf::from(dir);
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target"));
    target.join("bench-data")
}

fn fnv1a(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
    })
}

fn io_err(what: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> PerfError {
    let path = path.to_path_buf();
    move |source| PerfError::Io { what, path, source }
}

fn remove_db_files(path: &Path) -> Result<(), PerfError> {
    for suffix in ["", "-wal", "-shm", "-journal"] {
        let file = PathBuf::from(format!("{}{suffix}", path.display()));
        match fs::remove_file(&file) {
            Ok(()) => {}
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
            Err(error) => return Err(io_err("remove", &file)(error)),
        }
    }
    Ok(())
}

/// Creates the ledger's schema in `path` through `Ledger::open` (the real migrations).
fn create_ledger_schema(path: &Path, scratch: &Path) -> Result<(), PerfError> {
    let config = ledger::Config::new(path, scratch.join("vault"));
    ledger::Ledger::open(&config)?.close()?;
    Ok(())
}

/// The DDL text of every schema object, in a stable order.
fn schema_text(conn: &Connection) -> Result<String, PerfError> {
    conn.query_row(
        "SELECT group_concat(sql, ';') FROM
           (SELECT sql FROM sqlite_schema WHERE sql IS NOT NULL ORDER BY name)",
        [],
        |row| row.get(0),
    )
    .map_err(sql_err("read the schema"))
}

/// A fingerprint of `variant`'s DDL (for the ledger, as its migrations create it now).
fn fingerprint(variant: Variant, dir: &Path) -> Result<u64, PerfError> {
    match variant {
        Variant::Before => Ok(fnv1a(before_schema::DDL)),
        Variant::Ledger => {
            let probe = dir.join(format!("schema-probe-{}.db", std::process::id()));
            remove_db_files(&probe)?;
            create_ledger_schema(&probe, dir)?;
            let conn = Connection::open(&probe).map_err(sql_err("open the schema probe"))?;
            let text = schema_text(&conn)?;
            drop(conn);
            remove_db_files(&probe)?;
            Ok(fnv1a(&text))
        }
    }
}

impl Dataset {
    /// The dataset `spec` in [`data_dir`], built now if not cached.
    ///
    /// # Errors
    /// Any I/O or SQLite failure while building.
    pub fn cached(spec: DatasetSpec) -> Result<Dataset, PerfError> {
        Dataset::cached_in(&data_dir(), spec)
    }

    /// The dataset `spec` in `dir`, built now (under an exclusive lock) if not cached.
    ///
    /// # Errors
    /// Any I/O or SQLite failure while building.
    pub fn cached_in(dir: &Path, spec: DatasetSpec) -> Result<Dataset, PerfError> {
        fs::create_dir_all(dir).map_err(io_err("create", dir))?;
        let key = fingerprint(spec.variant, dir)?;
        let path = dir.join(format!(
            "{}-g{GENERATOR_VERSION}-{key:016x}.db",
            spec.file_stem()
        ));
        if !path.exists() {
            let _lock = lock(&path)?;
            if !path.exists() {
                let started = Instant::now();
                eprintln!("building {} ...", path.display());
                build(&path, dir, spec)?;
                eprintln!("built in {:.1} s", started.elapsed().as_secs_f64());
            }
        }
        Ok(Dataset { path, spec })
    }

    /// A copy of this dataset in `dir` (for benches that write), as `name`.
    ///
    /// # Errors
    /// I/O errors.
    pub fn copy_to(&self, dir: &Path, name: &str) -> Result<PathBuf, PerfError> {
        let target = dir.join(name);
        fs::copy(&self.path, &target).map_err(io_err("copy the dataset to", &target))?;
        Ok(target)
    }
}

/// An exclusive lock on `<path>.lock`, held until dropped.
fn lock(path: &Path) -> Result<nix::fcntl::Flock<fs::File>, PerfError> {
    let lock_path = PathBuf::from(format!("{}.lock", path.display()));
    let file = fs::File::create(&lock_path).map_err(io_err("create", &lock_path))?;
    nix::fcntl::Flock::lock(file, nix::fcntl::FlockArg::LockExclusive).map_err(|(_, errno)| {
        io_err("lock", &lock_path)(std::io::Error::from_raw_os_error(errno as i32))
    })
}

fn build(path: &Path, dir: &Path, spec: DatasetSpec) -> Result<(), PerfError> {
    let building = PathBuf::from(format!("{}.building", path.display()));
    remove_db_files(&building)?;
    match spec.variant {
        Variant::Ledger => create_ledger_schema(&building, dir)?,
        Variant::Before => Connection::open(&building)
            .and_then(|conn| conn.execute_batch(before_schema::DDL))
            .map_err(sql_err("create the before schema"))?,
    }
    let mut conn = Connection::open(&building).map_err(sql_err("open the dataset"))?;
    conn.execute_batch(
        "PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF; PRAGMA foreign_keys=OFF;
         PRAGMA cache_size=-1000000; PRAGMA temp_store=MEMORY;",
    )
    .map_err(sql_err("set the build pragmas"))?;
    fill(&mut conn, spec)?;
    conn.execute_batch("ANALYZE; PRAGMA journal_mode=WAL;")
        .map_err(sql_err("analyse the dataset"))?;
    conn.close()
        .map_err(|(_, source)| sql_err("close the dataset")(source))?;
    fs::rename(&building, path).map_err(io_err("rename the dataset to", path))
}

fn fill(conn: &mut Connection, spec: DatasetSpec) -> Result<(), PerfError> {
    let tx = conn
        .transaction()
        .map_err(sql_err("begin the build transaction"))?;
    {
        let mut capture = tx
            .prepare(
                "INSERT INTO captures
                   (id, source, raw_content, content_hash, status, meta_json, created_at, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            )
            .map_err(sql_err("prepare the capture insert"))?;
        let mut audit = tx
            .prepare(
                "INSERT INTO exports_audit
                   (id, capture_id, vault_path, hash_at_export, exported_at, mode, error_flag)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, 0)",
            )
            .map_err(sql_err("prepare the audit insert"))?;
        let mut error = tx
            .prepare(
                "INSERT INTO errors_log (capture_id, stage, message, created_at)
                 VALUES (?1, 'transcribe', ?2, ?3)",
            )
            .map_err(sql_err("prepare the error insert"))?;
        let seed = SEED ^ spec.captures as u64;
        for Generated {
            capture: row,
            audit: audit_row,
            error_message,
        } in Rows::with_backlog(spec.captures, seed, spec.backlog_permille)
        {
            capture
                .execute((
                    &row.id,
                    row.source,
                    &row.raw_content,
                    &row.content_hash,
                    row.status,
                    &row.meta_json,
                    row.created_at,
                    row.updated_at,
                ))
                .map_err(sql_err("insert a capture"))?;
            if let Some(a) = audit_row {
                audit
                    .execute((
                        &a.id,
                        &row.id,
                        format!("{}.md", row.id),
                        &row.content_hash,
                        a.exported_at,
                        a.mode,
                    ))
                    .map_err(sql_err("insert an audit row"))?;
            }
            if let Some(message) = error_message {
                error
                    .execute((&row.id, message, row.created_at))
                    .map_err(sql_err("insert an error row"))?;
            }
        }
        tx.execute(
            "INSERT INTO sync_state (key, value, updated_at) VALUES
               ('inbox.cursor', 'n0', ?1), ('phone.cursor', 'n0', ?1)",
            [START_MS + YEAR_MS],
        )
        .map_err(sql_err("insert sync state"))?;
    }
    tx.commit().map_err(sql_err("commit the build transaction"))
}
