//! Opening the database: directories, the connection (through an optional
//! VFS), pragmas in a fixed order, then migrations: [`open_connection`].

use std::fs;
use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

use crate::config::Config;
use crate::db::Db;
use crate::error::{LedgerError, Result};
use crate::{checksum, schema, vault};

/// Create the vault directory (syncing its parent when it is new), open the
/// database, sync the database's directory if the file was just created,
/// apply the pragmas and migrate.
pub(crate) fn open_connection(config: &Config) -> Result<Connection> {
    ensure_dir(&config.vault_dir)?;
    let existed = config.path.exists();
    let conn = connect(config)?;
    if !existed && config.path.exists() {
        vault::sync_dir(parent_dir(&config.path))?;
    }
    let db = Db::new(&conn, &config.path);
    checksum::layout::prepare(db, config)?;
    apply_pragmas(db, config)?;
    schema::migrate(db)?;
    Ok(conn)
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
        .pragma_update(None, "synchronous", tuning.synchronous.as_str())
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
