//! The backup operations on an open ledger: a second `impl` block of [`Ledger`].
//!
//! These need the ledger's connection (write lock for archive positions,
//! `sync_state` for bookkeeping) and its clock; restore, listing and
//! rotation need neither and are free functions.

use std::path::{Path, PathBuf};

use rusqlite::config::DbConfig;
use rusqlite::{Connection, OpenFlags};
use serde::{Deserialize, Serialize};

use super::archive::{self, ArchiveStep, Continuity};
use super::config::BackupConfig;
use super::error::BackupError;
use super::fsutil::ensure_dir;
use super::manifest::{BackupManifest, Verification, VerificationState, list_backups};
use super::snapshot::{SourceReader, write_snapshot};
use super::state::{self, BackupStatus, Outcome};
use super::verify::{VerifyReport, verify_backup_file};
use super::{
    FAILPOINT_ARCHIVE_AFTER_CHECKPOINT, FAILPOINT_ARCHIVE_BEFORE_CHECKPOINT,
    FAILPOINT_BEFORE_VERIFY,
};
use crate::capture::CaptureId;
use crate::db::Db;
use crate::error::Result;
use crate::ledger::Ledger;
use crate::ledger_time::not_before;
use crate::metrics::Operation;
use crate::{failpoint, ops};

const MS_PER_DAY: i64 = 86_400_000;

/// The report of `ledger backup`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackupReport {
    /// The snapshot file.
    pub path: PathBuf,
    /// Its manifest (with the verification outcome).
    pub manifest: BackupManifest,
    /// The verification, unless skipped (`BackupConfig::verify = false`).
    pub verification: Option<VerifyReport>,
    /// The backup health after this backup.
    pub status: BackupStatus,
    /// Why a new archive lineage started with this backup, if one did.
    pub lineage_started: Option<String>,
}

/// The report of `ledger archive`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArchiveReport {
    /// What was archived (empty when a new lineage started instead).
    pub step: Option<ArchiveStep>,
    /// When continuity could not be proven: why, and the backup that
    /// started the new lineage.
    pub lineage_break: Option<(String, PathBuf)>,
}

/// The report of `ledger checkpoint`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckpointReport {
    /// The archiving done first.
    pub archive: ArchiveReport,
    /// Frames in the WAL at the checkpoint.
    pub wal_frames: i64,
    /// Frames copied into the database.
    pub checkpointed_frames: i64,
    /// Whether the WAL was fully archived and checkpointed, so its restart
    /// continues the archive lineage.
    pub sealed: bool,
}

/// The report of `ledger prune --days N` (guarded by backups).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GuardedPrune {
    /// `now - days`.
    pub requested_cutoff_ms: i64,
    /// The cutoff used: never later than the newest verified backup.
    pub effective_cutoff_ms: i64,
    /// When the newest verified backup was taken.
    pub verified_backup_at_ms: i64,
    /// The captures deleted.
    pub pruned: Vec<CaptureId>,
}

impl Ledger {
    fn backup_db(&self) -> Db<'_> {
        Db::new(self.connection(), &self.config().path)
    }

    /// Prepare the ledger's connection for WAL archiving: automatic
    /// checkpoints off (`wal_autocheckpoint=0`) and no checkpoint on close,
    /// so frames stay in the WAL until [`Ledger::checkpoint_archived`]
    /// archives and checkpoints them. Every other connection writing this
    /// database must do the same, or the archive sees a break (reported,
    /// and a new lineage starts with a new snapshot).
    ///
    /// # Errors
    /// `Sqlite`; `Backup(ArchiveNotEnabled)` when the database is not in WAL mode.
    pub fn enable_wal_archive(&mut self, config: &BackupConfig) -> Result<()> {
        let db = self.backup_db();
        let mode: String = db
            .conn
            .query_row("PRAGMA journal_mode", [], |row| row.get(0))
            .map_err(db.err("read journal mode"))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(BackupError::ArchiveNotEnabled {
                path: db.path.to_path_buf(),
                detail: format!("journal mode is {mode}, archiving needs wal"),
            }
            .into());
        }
        db.conn
            .pragma_update(None, "wal_autocheckpoint", 0)
            .map_err(db.err("turn automatic checkpoints off"))?;
        db.conn
            .set_db_config(DbConfig::SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, true)
            .map_err(db.err("turn checkpoint-on-close off"))?;
        ensure_dir(&config.archive_dir())?;
        Ok(())
    }

    fn require_archiving(&self) -> Result<()> {
        let db = self.backup_db();
        let auto: i64 = db
            .conn
            .query_row("PRAGMA wal_autocheckpoint", [], |row| row.get(0))
            .map_err(db.err("read wal_autocheckpoint"))?;
        let no_close_ckpt = db
            .conn
            .db_config(DbConfig::SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE)
            .map_err(db.err("read checkpoint-on-close"))?;
        if auto != 0 || !no_close_ckpt {
            return Err(BackupError::ArchiveNotEnabled {
                path: db.path.to_path_buf(),
                detail: format!(
                    "wal_autocheckpoint is {auto} and checkpoint-on-close is {}",
                    if no_close_ckpt { "off" } else { "on" }
                ),
            }
            .into());
        }
        Ok(())
    }

    /// Run `body` holding the database's write lock (`BEGIN IMMEDIATE`,
    /// always rolled back: `body` writes files, not rows).
    fn with_write_lock<T>(&self, body: impl FnOnce() -> Result<T>) -> Result<T> {
        let db = self.backup_db();
        crate::tx::discard_stale_transaction(db)?;
        db.conn
            .execute_batch("BEGIN IMMEDIATE")
            .map_err(db.err("take the write lock for archiving"))?;
        let result = body();
        let released = db
            .conn
            .execute_batch("ROLLBACK")
            .map_err(db.err("release the archiving write lock"));
        let value = result?;
        released?;
        Ok(value)
    }

    /// Take an online backup into `config.dir` (see [`crate::backup`]),
    /// then verify it unless `config.verify` is false, and record the
    /// outcome in `sync_state`/`errors_log`. With `config.archive`, the
    /// snapshot is pinned at a known WAL archive position (starting a new
    /// lineage when the archive cannot continue).
    ///
    /// A failed verification is not an `Err`: it is in the report and
    /// advances the escalation. A backup that could not be made is an `Err`
    /// and advances the escalation too.
    ///
    /// # Errors
    /// `Backup(..)` naming the file, `Sqlite`, `FailPoint`.
    pub fn backup(&mut self, config: &BackupConfig) -> Result<BackupReport> {
        let now = self.backup_time(config);
        match self.backup_at(config, now) {
            Ok(report) => Ok(report),
            Err(error) => {
                let message = error.to_string();
                let outcome = Outcome::Failed {
                    path: &config.dir,
                    message: &message,
                };
                let _ = state::record_outcome(
                    self.backup_db(),
                    self.now_ms(),
                    &config.escalation,
                    &outcome,
                );
                Err(error)
            }
        }
    }

    /// A backup's time: ledger time, and after every backup already listed in `config.dir`
    /// (rotation and restores order backups by it; see [`crate::ledger_time`]). Ledger time
    /// moves up to it.
    fn backup_time(&self, config: &BackupConfig) -> i64 {
        let now = self.now_ms();
        let newest = list_backups(config)
            .ok()
            .and_then(|list| list.backups.iter().map(|b| b.created_at_ms).max());
        let at = match newest {
            Some(newest) => not_before(newest.saturating_add(1), now),
            None => now,
        };
        self.time.observe(at);
        at
    }

    fn backup_at(&mut self, config: &BackupConfig, now: i64) -> Result<BackupReport> {
        ensure_dir(&config.dir)?;
        let mut reader = SourceReader::open(self.config())?;
        let mut lineage_started = None;
        let position = if config.archive {
            self.require_archiving()?;
            let db_path = self.config().path.clone();
            let dir = config.archive_dir();
            ensure_dir(&dir)?;
            let position = self.with_write_lock(|| {
                let position = match archive::archive_locked(&db_path, &dir, now)? {
                    Continuity::Continued(step) => {
                        archive::seal(&dir)?;
                        step.position
                    }
                    Continuity::Break(reason) => {
                        lineage_started = Some(reason);
                        archive::start_lineage(&db_path, &dir)?
                    }
                };
                reader.pin()?;
                Ok(position)
            })?;
            Some(position)
        } else {
            reader.pin()?;
            None
        };
        let snapshot = write_snapshot(reader, config, now, position)?;
        if_mutant!(BackupVerifiedBeforeCheck, {
            let early = Outcome::Verified {
                path: &snapshot.path,
                snapshot_at_ms: snapshot.manifest.prune_horizon_ms(),
            };
            state::record_outcome(self.backup_db(), now, &config.escalation, &early)?;
        });
        failpoint::hit(FAILPOINT_BEFORE_VERIFY)?;
        let (verification, status, manifest) = if config.verify {
            let (report, status, manifest) = self.verify_and_record(config, &snapshot.path)?;
            (Some(report), status, manifest)
        } else {
            let status = self.backup_status(config)?;
            (None, status, snapshot.manifest)
        };
        Ok(BackupReport {
            path: snapshot.path,
            manifest,
            verification,
            status,
            lineage_started,
        })
    }

    fn verify_and_record(
        &mut self,
        config: &BackupConfig,
        path: &Path,
    ) -> Result<(VerifyReport, BackupStatus, BackupManifest)> {
        let report = verify_backup_file(path)?;
        let now = self.now_ms();
        let manifest = BackupManifest::load(path).ok().map(|mut manifest| {
            manifest.verification = Verification {
                state: if report.ok {
                    VerificationState::Verified
                } else {
                    VerificationState::Failed
                },
                at_ms: Some(now),
                detail: report.failure(),
            };
            manifest
        });
        if let Some(manifest) = &manifest {
            manifest.store(path)?;
        }
        let failure = report.failure();
        let outcome = match (&manifest, &failure) {
            (Some(manifest), None) => Outcome::Verified {
                path,
                snapshot_at_ms: manifest.prune_horizon_ms(),
            },
            (_, failure) => Outcome::Failed {
                path,
                message: failure.as_deref().unwrap_or("manifest unreadable"),
            },
        };
        let status = state::record_outcome(self.backup_db(), now, &config.escalation, &outcome)?;
        let manifest = match manifest {
            Some(manifest) => manifest,
            None => BackupManifest::load(path)?,
        };
        Ok((report, status, manifest))
    }

    /// Verify the backup at `path` (see [`crate::backup::verify_backup_file`]),
    /// store the outcome in its manifest, and record it in `sync_state`
    /// (`backup.*`) and, on failure, `errors_log` (stage `backup`):
    /// escalation advances on failure and resets on success.
    ///
    /// # Errors
    /// `Backup(Manifest)` when the manifest is unreadable (recorded as a
    /// failure first), `Backup(Io)`, `Sqlite`.
    pub fn verify_backup(&mut self, config: &BackupConfig, path: &Path) -> Result<VerifyReport> {
        Ok(self.verify_and_record(config, path)?.0)
    }

    /// The recorded backup health.
    ///
    /// # Errors
    /// `Sqlite`.
    pub fn backup_status(&self, config: &BackupConfig) -> Result<BackupStatus> {
        state::read_status(self.backup_db(), &config.escalation)
    }

    /// Copy the WAL's newly committed frames into an archive segment. When
    /// the archive cannot prove it continues (no lineage yet, or a WAL
    /// restart it did not see), the break is logged in `errors_log` and a
    /// backup starts a new lineage.
    ///
    /// # Errors
    /// `Backup(ArchiveNotEnabled)` unless [`Ledger::enable_wal_archive`] ran,
    /// `Backup(WalFormat|Io)`, `Sqlite`.
    pub fn archive_wal(&mut self, config: &BackupConfig) -> Result<ArchiveReport> {
        self.require_archiving()?;
        let now = self.now_ms();
        let db_path = self.config().path.clone();
        let dir = config.archive_dir();
        ensure_dir(&dir)?;
        let continuity =
            self.with_write_lock(|| Ok(archive::archive_locked(&db_path, &dir, now)?))?;
        match continuity {
            Continuity::Continued(step) => {
                self.time.observe(step.at_ms);
                Ok(ArchiveReport {
                    step: Some(step),
                    lineage_break: None,
                })
            }
            Continuity::Break(reason) => {
                let message = format!("WAL archive break: {reason}; starting a new lineage");
                state::record_outcome(
                    self.backup_db(),
                    now,
                    &config.escalation,
                    &Outcome::Failed {
                        path: &dir,
                        message: &message,
                    },
                )?;
                let config = BackupConfig {
                    archive: true,
                    ..config.clone()
                };
                let backup = self.backup(&config)?;
                Ok(ArchiveReport {
                    step: None,
                    lineage_break: Some((reason, backup.path)),
                })
            }
        }
    }

    /// Archive, then checkpoint (PASSIVE, from a second connection) while
    /// this connection holds the write lock, so no frame can be added
    /// between the archive and the checkpoint. When every frame was both
    /// archived and copied back, the WAL generation is sealed: the restart
    /// the next writer makes continues the lineage.
    ///
    /// # Errors
    /// As [`Ledger::archive_wal`], plus `FailPoint`.
    pub fn checkpoint_archived(&mut self, config: &BackupConfig) -> Result<CheckpointReport> {
        let first = self.archive_wal(config)?;
        let now = self.now_ms();
        let path = self.config().path.clone();
        let vfs = self.config().vfs.clone();
        let dir = config.archive_dir();
        let (step, wal_frames, checkpointed_frames, sealed) = self.with_write_lock(|| {
            let step = match archive::archive_locked(&path, &dir, now)? {
                Continuity::Continued(step) => step,
                Continuity::Break(reason) => {
                    return Err(BackupError::ArchiveGap {
                        dir: dir.clone(),
                        detail: format!("the WAL changed under the write lock: {reason}"),
                    }
                    .into());
                }
            };
            failpoint::hit(FAILPOINT_ARCHIVE_BEFORE_CHECKPOINT)?;
            let (busy, log, done) = passive_checkpoint(&path, vfs.as_deref())?;
            failpoint::hit(FAILPOINT_ARCHIVE_AFTER_CHECKPOINT)?;
            let state = archive::load_state(&dir)?;
            let sealed = busy == 0 && log == done && log == i64::from(state.next_frame) - 1;
            if sealed {
                archive::seal(&dir)?;
            }
            Ok((step, log, done, sealed))
        })?;
        self.time.observe(step.at_ms);
        let archive = ArchiveReport {
            step: Some(step).filter(|s| s.transactions > 0).or(first.step),
            lineage_break: first.lineage_break,
        };
        Ok(CheckpointReport {
            archive,
            wal_frames,
            checkpointed_frames,
            sealed,
        })
    }

    /// Retention pruning guarded by backups: like
    /// [`Ledger::prune_exported_older_than`], but only when a verified
    /// backup exists and escalation has not paused pruning, and never past
    /// the newest verified backup (rows last changed after it are kept).
    ///
    /// A fault error is logged in `errors_log` like a plain prune's (operation `prune`); a
    /// backup error (a refusal, an unreadable backup directory) reports through the backup
    /// status instead.
    ///
    /// # Errors
    /// `Backup(PruneRefused)` (no verified backup; pruning paused), `Sqlite`.
    pub fn prune_after_verified_backup(
        &mut self,
        config: &BackupConfig,
        days: u32,
    ) -> Result<GuardedPrune> {
        let pruned = self.prune_guarded(config, days);
        if let Err(error) = &pruned
            && error.kind() != "backup"
        {
            self.caller_errors
                .note(self.backup_db(), Operation::Prune.as_str(), error, || {
                    self.now_ms()
                });
        }
        pruned
    }

    /// [`Ledger::prune_after_verified_backup`] without logging its error.
    fn prune_guarded(&mut self, config: &BackupConfig, days: u32) -> Result<GuardedPrune> {
        let status = self.backup_status(config)?;
        let path = self.config().path.clone();
        if_mutant!(PruneIgnoresBackup, {
            let now = self.now_ms();
            let pruned = ops::prune::prune_exported_older_than(self.backup_db(), now, days)?;
            let cutoff = now.saturating_sub(i64::from(days) * MS_PER_DAY);
            return Ok(GuardedPrune {
                requested_cutoff_ms: cutoff,
                effective_cutoff_ms: cutoff,
                verified_backup_at_ms: status.last_verified_snapshot_at_ms.unwrap_or(cutoff),
                pruned,
            });
        });
        if status.health == super::BackupHealth::PruningPaused {
            return Err(BackupError::PruneRefused {
                path,
                detail: format!(
                    "{} backup verifications failed in a row; fix the backups and verify one first",
                    status.consecutive_failures
                ),
            }
            .into());
        }
        let Some(backup_at) = status.last_verified_snapshot_at_ms else {
            return Err(BackupError::PruneRefused {
                path,
                detail: "no verified backup yet; run a backup first".into(),
            }
            .into());
        };
        let now = self.now_ms();
        let requested = now.saturating_sub(i64::from(days) * MS_PER_DAY);
        let effective = requested.min(backup_at);
        let pruned = ops::prune::prune_exported_older_than(
            self.backup_db(),
            effective.saturating_add(i64::from(days) * MS_PER_DAY),
            days,
        )?;
        Ok(GuardedPrune {
            requested_cutoff_ms: requested,
            effective_cutoff_ms: effective,
            verified_backup_at_ms: backup_at,
            pruned,
        })
    }
}

/// `PRAGMA wal_checkpoint(PASSIVE)` from a fresh connection: (busy, log, checkpointed).
fn passive_checkpoint(
    path: &Path,
    vfs: Option<&str>,
) -> std::result::Result<(i64, i64, i64), BackupError> {
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = match vfs {
        Some(vfs) => Connection::open_with_flags_and_vfs(path, flags, vfs),
        None => Connection::open_with_flags(path, flags),
    }
    .map_err(BackupError::sqlite("open the checkpoint connection", path))?;
    conn.set_db_config(DbConfig::SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, true)
        .map_err(BackupError::sqlite(
            "configure the checkpoint connection",
            path,
        ))?;
    conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |row| {
        Ok((row.get(0)?, row.get(1)?, row.get(2)?))
    })
    .map_err(BackupError::sqlite("checkpoint the WAL", path))
}
