//! Opening the database: directories, the connection (through an optional
//! VFS), pragmas in a fixed order, then migrations: [`open_connection`]; what
//! was found on the way is an [`OpenReport`].

use std::fs;
use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};
use serde::{Deserialize, Serialize};

use crate::config::Config;
use crate::db::Db;
use crate::error::{LedgerError, Result};
use crate::{checksum, schema, vault};

/// What opening found: signs of an earlier unclean shutdown, and query plans
/// that do not use their indexes.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct OpenReport {
    /// Size of a `-wal` file present before this open (left by a crash, or
    /// in use by another connection); SQLite replays or ignores its frames.
    pub leftover_wal_bytes: Option<u64>,
    /// Whether a `-shm` file was present before this open.
    pub leftover_shm: bool,
    /// Whether the leftover WAL is exactly the one the last clean close kept (archive mode
    /// keeps the WAL on purpose): no crash, nothing to recover.
    pub wal_kept_by_clean_close: bool,
    /// Whether a hot rollback journal (`-journal` starting with the journal magic) was present
    /// before this open: a transaction was cut short and SQLite rolls it back.
    #[serde(default)]
    pub hot_journal: bool,
    /// Query-plan problems found after migrating.
    pub plan_warnings: Vec<crate::plans::PlanWarning>,
}

impl OpenReport {
    /// Whether SQLite probably ran crash recovery: on a non-empty WAL a clean close did not
    /// keep, or on a hot rollback journal.
    pub fn recovery_likely(&self) -> bool {
        (self.leftover_wal_bytes.is_some_and(|bytes| bytes > 0) && !self.wal_kept_by_clean_close)
            || self.hot_journal
    }
}

/// The first bytes of a rollback journal whose transaction was not finished (SQLite zeroes or
/// removes the header when a transaction ends, whatever the journal mode).
const JOURNAL_MAGIC: [u8; 8] = [0xd9, 0xd5, 0x05, 0xf9, 0x20, 0xa1, 0x63, 0xd7];

/// Whether `<db>-journal` is hot: present and starting with the journal magic.
pub(crate) fn hot_journal(db: &Path) -> bool {
    use std::io::Read;
    let mut name = db.as_os_str().to_owned();
    name.push("-journal");
    let mut header = [0u8; 8];
    fs::File::open(Path::new(&name))
        .and_then(|mut file| file.read_exact(&mut header))
        .is_ok_and(|()| header == JOURNAL_MAGIC)
}

/// Create the vault directory (syncing its parent when it is new), open the
/// database, sync the database's directory if the file was just created,
/// apply the pragmas and migrate.
pub(crate) fn open_connection(config: &Config) -> Result<(Connection, OpenReport)> {
    #[cfg(feature = "mutants")]
    crate::mutants::activate(config.tuning.mutant.as_deref())?;
    ensure_dir(&config.vault_dir)?;
    let existed = config.path.exists();
    let (leftover_wal_bytes, leftover_shm) = crate::lock::leftover_files(&config.path);
    let hot_journal = hot_journal(&config.path);
    let wal_kept_by_clean_close = crate::clean_close::take(&config.path);
    let conn = connect(config)?;
    if !existed && config.path.exists() {
        vault::sync_dir(parent_dir(&config.path))?;
    }
    let db = Db::new(&conn, &config.path);
    checksum::layout::prepare(db, config)?;
    apply_pragmas(db, config)?;
    schema::migrate(db)?;
    let report = OpenReport {
        leftover_wal_bytes,
        leftover_shm,
        wal_kept_by_clean_close,
        hot_journal,
        plan_warnings: crate::plans::check(db),
    };
    log_report(config, &report);
    Ok((conn, report))
}

fn log_report(config: &Config, report: &OpenReport) {
    let path = config.path.display();
    if report.recovery_likely() {
        tracing::warn!(
            %path,
            wal_bytes = report.leftover_wal_bytes,
            shm = report.leftover_shm,
            hot_journal = report.hot_journal,
            "opened a database with a non-empty WAL or a hot journal: after a crash SQLite \
             recovered the committed transactions and rolled back the unfinished one (if another \
             process has it open, this is normal); run `ledger check` if the last shutdown was \
             unclean"
        );
    }
    for warning in &report.plan_warnings {
        tracing::warn!(%path, query = %warning.query, problem = %warning.problem, "{warning}");
    }
}

fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    }
}

fn ensure_dir(dir: &Path) -> Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    fs::create_dir_all(dir).map_err(|source| LedgerError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    vault::sync_dir(parent_dir(dir))
}

fn connect(config: &Config) -> Result<Connection> {
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
        | OpenFlags::SQLITE_OPEN_CREATE
        | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let opened = match checksum::layout::vfs_for(config)? {
        Some(vfs) => Connection::open_with_flags_and_vfs(&config.path, flags, vfs.as_str()),
        None => Connection::open_with_flags(&config.path, flags),
    };
    opened.map_err(|source| LedgerError::Open {
        path: config.path.clone(),
        source,
    })
}

/// The sync level to set: the tuning's, unless the `durability-off` mutant is active.
fn synchronous(tuning: &crate::config::Tuning) -> &'static str {
    mutant!(
        DurabilityOff,
        crate::config::Synchronous::Off.as_str(),
        tuning.synchronous.as_str()
    )
}

/// journal_mode (verified), synchronous, busy_timeout, cache_size, mmap_size, foreign_keys.
fn apply_pragmas(db: Db<'_>, config: &Config) -> Result<()> {
    let tuning = &config.tuning;
    let requested = tuning.journal_mode;
    let actual: String = db
        .conn
        .pragma_update_and_check(None, "journal_mode", requested.as_str(), |row| row.get(0))
        .map_err(db.err("set journal_mode"))?;
    if !actual.eq_ignore_ascii_case(requested.as_str()) {
        return Err(LedgerError::JournalMode {
            path: config.path.clone(),
            requested,
            actual,
        });
    }
    db.conn
        .pragma_update(None, "synchronous", synchronous(tuning))
        .map_err(db.err("set synchronous"))?;
    db.conn
        .busy_timeout(Duration::from_millis(u64::from(
            tuning.busy_timeout_ms.min(i32::MAX as u32),
        )))
        .map_err(db.err("set busy_timeout"))?;
    db.conn
        .pragma_update(None, "cache_size", tuning.cache_size)
        .map_err(db.err("set cache_size"))?;
    db.conn
        .pragma_update(None, "mmap_size", tuning.mmap_size)
        .map_err(db.err("set mmap_size"))?;
    db.conn
        .pragma_update(None, "foreign_keys", tuning.foreign_keys)
        .map_err(db.err("set foreign_keys"))
}
