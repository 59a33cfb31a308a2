//! The online backup: a stepwise copy of one read snapshot of the source: [`SourceReader`], [`write_snapshot`].
//!
//! # Why the logical hash describes exactly the copied pages
//!
//! In WAL mode the [`SourceReader`] opens a read transaction (`BEGIN` plus a
//! first read) before anything is hashed or copied, and keeps it open until
//! the copy is finished. A WAL read transaction pins one snapshot: the
//! reader's `mxFrame` is fixed, later commits by other connections are
//! invisible to it, and writers are never blocked by it (they append to the
//! WAL; only checkpoints cannot backfill past it). `sqlite3_backup_step`
//! opens a read transaction of its own only when the source connection has
//! none (`backup.c`: `SQLITE_TXN_NONE == sqlite3BtreeTxnState(p->pSrc)`);
//! here one is open, so every step reads the same snapshot and the backup
//! never restarts. The logical hash is computed on the same connection
//! inside the same transaction, so hash and copy describe the same state.
//!
//! In a rollback-journal mode a long read transaction would block writers
//! (their commit needs the lock the reader's SHARED lock forbids), so there
//! each step takes its own short read lock and the hash is computed from the
//! finished copy: the backup API restarts whenever the source changes
//! between steps, so a finished copy is the source as of its last step.

use std::fs;
use std::path::{Path, PathBuf};
use std::thread;

use rusqlite::backup::{Backup, StepResult};
use rusqlite::{Connection, OpenFlags};

use super::config::BackupConfig;
use super::error::BackupError;
use super::fsutil::{ensure_dir, file_sha256, parent_dir, sync_dir, sync_file, temp_sibling};
use super::logical_hash::{self, LogicalHash};
use super::manifest::{BackupManifest, Verification, VerificationState, WalPosition};
use super::stamp;
use crate::config::Config;

/// Consecutive `SQLITE_BUSY`/`SQLITE_LOCKED` steps tolerated before giving up.
const MAX_BUSY_STEPS: u32 = 10_000;

/// A read-only connection to the live database that copies are made from.
pub(crate) struct SourceReader {
    conn: Connection,
    path: PathBuf,
    wal: bool,
    pinned: Option<Contents>,
}

/// What a snapshot holds, read in one read transaction: its logical hash, and the newest
/// `updated_at` of a capture in it (0 when it holds none; the guarded prune's horizon,
/// [`BackupManifest::prune_horizon_ms`]).
struct Contents {
    logical: LogicalHash,
    newest_change_ms: i64,
}

impl Contents {
    /// Read through `conn` (inside the caller's read transaction, if any).
    fn read(conn: &Connection) -> rusqlite::Result<Contents> {
        Ok(Contents {
            logical: logical_hash::compute(conn)?,
            newest_change_ms: conn.query_row(
                "SELECT coalesce(max(updated_at), 0) FROM captures",
                [],
                |row| row.get(0),
            )?,
        })
    }
}

impl SourceReader {
    /// Open `config.path` read-only (through `config.vfs`).
    pub(crate) fn open(config: &Config) -> Result<SourceReader, BackupError> {
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let path = config.path.clone();
        let conn = match &config.vfs {
            Some(vfs) => Connection::open_with_flags_and_vfs(&path, flags, vfs.as_str()),
            None => Connection::open_with_flags(&path, flags),
        }
        .map_err(BackupError::sqlite("open the source read-only", &path))?;
        let mode: String = conn
            .query_row("PRAGMA journal_mode", [], |row| row.get(0))
            .map_err(BackupError::sqlite("read the source's journal mode", &path))?;
        Ok(SourceReader {
            conn,
            path,
            wal: mode.eq_ignore_ascii_case("wal"),
            pinned: None,
        })
    }

    /// In WAL mode: open the read transaction that pins the snapshot and hash
    /// it. Call while the caller knows what the snapshot contains (e.g. with
    /// the write lock held). A no-op in rollback modes.
    pub(crate) fn pin(&mut self) -> Result<(), BackupError> {
        if !self.wal || self.pinned.is_some() {
            return Ok(());
        }
        self.conn
            .execute_batch("BEGIN DEFERRED")
            .map_err(BackupError::sqlite(
                "begin the backup read transaction",
                &self.path,
            ))?;
        let contents = Contents::read(&self.conn)
            .map_err(BackupError::sqlite("hash the source snapshot", &self.path))?;
        self.pinned = Some(contents);
        Ok(())
    }

    fn release(&mut self) {
        if !self.conn.is_autocommit() {
            let _ = self.conn.execute_batch("ROLLBACK");
        }
    }
}

impl Drop for SourceReader {
    fn drop(&mut self) {
        self.release();
    }
}

/// A finished backup: where it is and its manifest.
#[derive(Debug, Clone)]
pub(crate) struct Snapshot {
    /// The snapshot file.
    pub(crate) path: PathBuf,
    /// Its manifest (already stored).
    pub(crate) manifest: BackupManifest,
}

fn free_name(dir: &Path, created_at_ms: i64) -> PathBuf {
    let base = stamp::file_name(created_at_ms);
    let mut path = dir.join(&base);
    let mut n = 2;
    while path.exists() || BackupManifest::path_for(&path).exists() {
        path = dir.join(base.replace(".db", &format!("-{n}.db")));
        n += 1;
    }
    path
}

fn copy_pages(
    reader: &SourceReader,
    temp: &Path,
    config: &BackupConfig,
) -> Result<(), BackupError> {
    if temp.exists() {
        fs::remove_file(temp).map_err(BackupError::io("remove stale temporary backup", temp))?;
    }
    // Through the checksum VFS: the backup's own page writes (the journal-mode switch below
    // rewrites page 1) must keep the page checksums the copied pages carry.
    let vfs =
        crate::checksum::vfs_name(config.dest_vfs.as_deref()).map_err(|e| BackupError::Io {
            action: "register the checksum VFS for",
            path: temp.to_path_buf(),
            source: std::io::Error::other(e),
        })?;
    let mut dest = Connection::open_with_flags_and_vfs(temp, OpenFlags::default(), vfs.as_str())
        .map_err(BackupError::sqlite("create the backup file", temp))?;
    dest.pragma_update(None, "synchronous", "OFF")
        .map_err(BackupError::sqlite("configure the backup file", temp))?;
    {
        let backup = Backup::new(&reader.conn, &mut dest)
            .map_err(BackupError::sqlite("start the online backup", temp))?;
        let mut busy = 0;
        loop {
            match backup
                .step(config.pages_per_step.max(1))
                .map_err(BackupError::sqlite("step the online backup", temp))?
            {
                StepResult::Done => break,
                StepResult::More => busy = 0,
                StepResult::Busy | StepResult::Locked => {
                    busy += 1;
                    if busy > MAX_BUSY_STEPS {
                        return Err(BackupError::Sqlite {
                            operation: "step the online backup (source stayed locked)",
                            path: reader.path.clone(),
                            source: rusqlite::Error::SqliteFailure(
                                rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_BUSY),
                                None,
                            ),
                        });
                    }
                }
                _ => {}
            }
            thread::sleep(config.step_pause);
        }
    }
    // The copied page 1 says "WAL" (bytes 18/19 = 2); switch the copy to a
    // plain rollback-journal database so it opens read-only without -wal/-shm.
    let mode: String = dest
        .pragma_update_and_check(None, "journal_mode", "DELETE", |row| row.get(0))
        .map_err(BackupError::sqlite("set the backup's journal mode", temp))?;
    if !mode.eq_ignore_ascii_case("delete") {
        return Err(BackupError::VerificationFailed {
            path: temp.to_path_buf(),
            detail: format!("journal mode stayed {mode:?}"),
        });
    }
    dest.close()
        .map_err(|(_, source)| BackupError::sqlite("close the backup file", temp)(source))
}

fn page_size(path: &Path) -> Result<u32, BackupError> {
    let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY)
        .map_err(BackupError::sqlite("open the backup", path))?;
    conn.query_row("PRAGMA page_size", [], |row| row.get(0))
        .map_err(BackupError::sqlite("read the backup's page size", path))
}

fn contents_of_file(path: &Path) -> Result<Contents, BackupError> {
    let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY)
        .map_err(BackupError::sqlite("open the backup", path))?;
    Contents::read(&conn).map_err(BackupError::sqlite("hash the backup", path))
}

/// Copy `reader`'s snapshot into `config.dir` as `ledger-<stamp>.db` with its
/// manifest: pages into a temporary file stepwise, fsync, manifest stored,
/// atomic rename, directory fsync. Pins the snapshot first if the caller has
/// not.
pub(crate) fn write_snapshot(
    mut reader: SourceReader,
    config: &BackupConfig,
    created_at_ms: i64,
    wal_position: Option<WalPosition>,
) -> crate::Result<Snapshot> {
    ensure_dir(&config.dir)?;
    reader.pin()?;
    let path = free_name(&config.dir, created_at_ms);
    let temp = temp_sibling(&path);
    copy_pages(&reader, &temp, config)?;
    let contents = match reader.pinned.take() {
        Some(contents) => contents,
        None => contents_of_file(&temp)?,
    };
    reader.release();
    sync_file(&temp)?;
    let manifest = BackupManifest {
        format: 1,
        file: path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        created_at_ms,
        source: reader.path.clone(),
        logical: contents.logical,
        file_sha256: file_sha256(&temp)?,
        size_bytes: fs::metadata(&temp)
            .map_err(BackupError::io("stat backup", &temp))?
            .len(),
        page_size: page_size(&temp)?,
        wal_position,
        verification: Verification {
            state: VerificationState::Unverified,
            at_ms: None,
            detail: None,
        },
        newest_change_ms: Some(contents.newest_change_ms),
    };
    manifest.store(&path)?;
    crate::failpoint::hit(super::FAILPOINT_BEFORE_RENAME)?;
    fs::rename(&temp, &path).map_err(BackupError::io("rename backup into place", &path))?;
    sync_dir(&parent_dir(&path))?;
    Ok(Snapshot { path, manifest })
}
