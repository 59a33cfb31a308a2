//! Backup bookkeeping in `sync_state` and `errors_log`: [`BackupStatus`], [`record_outcome`].
//!
//! Keys (all under `backup.`): `consecutive_failures`, `status` (the
//! [`BackupHealth`] text), `last_verified_at`, `last_verified_path`,
//! `last_verified_snapshot_at` (when the last verified backup was taken),
//! `last_failure_at`, `last_failure_path`. Every failure also gets an
//! `errors_log` row with stage `backup`.

use std::path::{Path, PathBuf};

use rusqlite::OptionalExtension;
use serde::{Deserialize, Serialize};

use super::escalation::{BackupHealth, EscalationPolicy};
use crate::db::Db;
use crate::error::Result;
use crate::tx;

/// `sync_state` key: consecutive verification failures.
pub const KEY_CONSECUTIVE_FAILURES: &str = "backup.consecutive_failures";
/// `sync_state` key: the health level text.
pub const KEY_STATUS: &str = "backup.status";
/// `sync_state` key: when the last successful verification ran.
pub const KEY_LAST_VERIFIED_AT: &str = "backup.last_verified_at";
/// `sync_state` key: the last verified backup file.
pub const KEY_LAST_VERIFIED_PATH: &str = "backup.last_verified_path";
/// `sync_state` key: when the last verified backup was taken.
pub const KEY_LAST_VERIFIED_SNAPSHOT_AT: &str = "backup.last_verified_snapshot_at";
/// `sync_state` key: when the last failure happened.
pub const KEY_LAST_FAILURE_AT: &str = "backup.last_failure_at";
/// `sync_state` key: the backup file (or directory) of the last failure.
pub const KEY_LAST_FAILURE_PATH: &str = "backup.last_failure_path";

/// The backup health as recorded in the ledger (`ledger backups status`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackupStatus {
    /// The level the failure count maps to.
    pub health: BackupHealth,
    /// Verification (or backup) failures since the last success.
    pub consecutive_failures: u32,
    /// When the last successful verification ran.
    pub last_verified_at_ms: Option<i64>,
    /// The last verified backup.
    pub last_verified_path: Option<PathBuf>,
    /// That backup's prune horizon ([`super::BackupManifest::prune_horizon_ms`]): every
    /// capture changed before it is in it as it is.
    pub last_verified_snapshot_at_ms: Option<i64>,
}

/// The backup record as the backup module wrote it, read without an escalation
/// policy: what health, the metrics snapshot and `ledger health` show.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackupRecord {
    /// The level recorded with the last outcome (`healthy` when none was recorded).
    pub health: BackupHealth,
    /// Verification (or backup) failures since the last success.
    pub consecutive_failures: u32,
    /// When the last successful verification ran.
    pub last_verified_at_ms: Option<i64>,
    /// The last verified backup.
    pub last_verified_path: Option<String>,
    /// That backup's prune horizon ([`super::BackupManifest::prune_horizon_ms`]): every
    /// capture changed before it is in it as it is.
    pub last_verified_snapshot_at_ms: Option<i64>,
    /// When the last failure happened.
    pub last_failure_at_ms: Option<i64>,
    /// The backup file (or directory) of the last failure.
    pub last_failure_path: Option<String>,
}

/// What happened to one backup attempt or verification.
#[derive(Debug, Clone)]
pub(crate) enum Outcome<'a> {
    /// The backup at `path`, verified; `snapshot_at_ms` is its prune horizon.
    Verified { path: &'a Path, snapshot_at_ms: i64 },
    /// The backup (or the attempt to make one) at `path` failed.
    Failed { path: &'a Path, message: &'a str },
}

fn get(db: Db<'_>, key: &str) -> Result<Option<String>> {
    db.conn
        .prepare_cached("SELECT value FROM sync_state WHERE key = ?1")
        .and_then(|mut stmt| stmt.query_row([key], |row| row.get(0)).optional())
        .map_err(db.err("read backup state"))
}

fn set(db: Db<'_>, key: &str, value: &str, now_ms: i64) -> Result<()> {
    db.conn
        .prepare_cached(
            "INSERT INTO sync_state (key, value, updated_at) VALUES (?1, ?2, ?3)
             ON CONFLICT(key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
        )
        .and_then(|mut stmt| stmt.execute((key, value, now_ms)))
        .map_err(db.err("write backup state"))?;
    Ok(())
}

/// A backup still listed verified: where, when taken and when verified.
struct VerifiedBackup {
    path: PathBuf,
    created_at_ms: i64,
    verified_at_ms: i64,
}

/// The newest backup beside `failed` whose manifest says it passed its last verification,
/// other than `failed` itself.
fn newest_verified_besides(failed: &Path) -> Option<VerifiedBackup> {
    let dir = failed.parent()?;
    let list = super::list_backups(&super::BackupConfig::new(dir)).ok()?;
    list.backups
        .into_iter()
        .filter(|b| b.state == super::BackupState::Verified && b.path != failed)
        .find_map(|b| {
            let verification = b.manifest?.verification;
            Some(VerifiedBackup {
                path: b.path,
                created_at_ms: b.created_at_ms,
                verified_at_ms: verification.at_ms?,
            })
        })
}

/// Drop the record of the last verified backup.
fn forget_last_verified(db: Db<'_>) -> Result<()> {
    db.conn
        .prepare_cached("DELETE FROM sync_state WHERE key IN (?1, ?2, ?3)")
        .and_then(|mut stmt| {
            stmt.execute((
                KEY_LAST_VERIFIED_AT,
                KEY_LAST_VERIFIED_PATH,
                KEY_LAST_VERIFIED_SNAPSHOT_AT,
            ))
        })
        .map_err(db.err("forget the last verified backup"))?;
    Ok(())
}

/// Read the recorded status.
pub(crate) fn read_status(db: Db<'_>, policy: &EscalationPolicy) -> Result<BackupStatus> {
    tx::discard_stale_transaction(db)?;
    status_in(db, policy)
}

/// Read the record as the backup module last wrote it.
pub(crate) fn read_record(db: Db<'_>) -> Result<BackupRecord> {
    let number = |key| -> Result<Option<i64>> { Ok(get(db, key)?.and_then(|v| v.parse().ok())) };
    Ok(BackupRecord {
        health: get(db, KEY_STATUS)?
            .and_then(|text| BackupHealth::parse(&text))
            .unwrap_or_default(),
        consecutive_failures: get(db, KEY_CONSECUTIVE_FAILURES)?
            .and_then(|v| v.parse::<u32>().ok())
            .unwrap_or(0),
        last_verified_at_ms: number(KEY_LAST_VERIFIED_AT)?,
        last_verified_path: get(db, KEY_LAST_VERIFIED_PATH)?,
        last_verified_snapshot_at_ms: number(mutant!(
            HealthReadsStaleBackupKey,
            "backup.last_verified",
            KEY_LAST_VERIFIED_SNAPSHOT_AT
        ))?,
        last_failure_at_ms: number(KEY_LAST_FAILURE_AT)?,
        last_failure_path: get(db, KEY_LAST_FAILURE_PATH)?,
    })
}

fn status_in(db: Db<'_>, policy: &EscalationPolicy) -> Result<BackupStatus> {
    let failures = get(db, KEY_CONSECUTIVE_FAILURES)?
        .and_then(|v| v.parse::<u32>().ok())
        .unwrap_or(0);
    let number = |key| -> Result<Option<i64>> { Ok(get(db, key)?.and_then(|v| v.parse().ok())) };
    Ok(BackupStatus {
        health: policy.level(failures),
        consecutive_failures: failures,
        last_verified_at_ms: number(KEY_LAST_VERIFIED_AT)?,
        last_verified_path: get(db, KEY_LAST_VERIFIED_PATH)?.map(PathBuf::from),
        last_verified_snapshot_at_ms: number(KEY_LAST_VERIFIED_SNAPSHOT_AT)?,
    })
}

/// Record `outcome` in one transaction: advance or reset the failure count,
/// store the level, and log a failure in `errors_log` (stage `backup`).
pub(crate) fn record_outcome(
    db: Db<'_>,
    now_ms: i64,
    policy: &EscalationPolicy,
    outcome: &Outcome<'_>,
) -> Result<BackupStatus> {
    tx::immediate(db, |db| {
        let failures = get(db, KEY_CONSECUTIVE_FAILURES)?
            .and_then(|v| v.parse::<u32>().ok())
            .unwrap_or(0);
        let verified = matches!(outcome, Outcome::Verified { .. });
        let failures = policy.next(failures, verified);
        set(db, KEY_CONSECUTIVE_FAILURES, &failures.to_string(), now_ms)?;
        set(db, KEY_STATUS, policy.level(failures).as_str(), now_ms)?;
        match outcome {
            Outcome::Verified {
                path,
                snapshot_at_ms,
            } => {
                set(db, KEY_LAST_VERIFIED_AT, &now_ms.to_string(), now_ms)?;
                set(db, KEY_LAST_VERIFIED_PATH, &path.to_string_lossy(), now_ms)?;
                let newer = get(db, KEY_LAST_VERIFIED_SNAPSHOT_AT)?
                    .and_then(|v| v.parse::<i64>().ok())
                    .is_none_or(|old| *snapshot_at_ms >= old);
                if newer {
                    set(
                        db,
                        KEY_LAST_VERIFIED_SNAPSHOT_AT,
                        &snapshot_at_ms.to_string(),
                        now_ms,
                    )?;
                }
            }
            Outcome::Failed { path, message } => {
                set(db, KEY_LAST_FAILURE_AT, &now_ms.to_string(), now_ms)?;
                set(db, KEY_LAST_FAILURE_PATH, &path.to_string_lossy(), now_ms)?;
                if get(db, KEY_LAST_VERIFIED_PATH)?.as_deref() == Some(&*path.to_string_lossy()) {
                    // The newest verified backup just failed re-verification: guarded pruning
                    // must not trust it any more. The newest other backup still listed verified
                    // (older, so it licenses less) becomes the last verified one, if any.
                    forget_last_verified(db)?;
                    if let Some(older) = newest_verified_besides(path) {
                        set(
                            db,
                            KEY_LAST_VERIFIED_AT,
                            &older.verified_at_ms.to_string(),
                            now_ms,
                        )?;
                        set(
                            db,
                            KEY_LAST_VERIFIED_PATH,
                            &older.path.to_string_lossy(),
                            now_ms,
                        )?;
                        set(
                            db,
                            KEY_LAST_VERIFIED_SNAPSHOT_AT,
                            &older.created_at_ms.to_string(),
                            now_ms,
                        )?;
                    }
                }
                db.conn
                    .prepare_cached(
                        "INSERT INTO errors_log (capture_id, stage, message, created_at)
                         VALUES (NULL, 'backup', ?1, ?2)",
                    )
                    .and_then(|mut stmt| {
                        stmt.execute((format!("{}: {message}", path.display()), now_ms))
                    })
                    .map_err(db.err("log backup failure"))?;
            }
        }
        let status = status_in(db, policy)?;
        license_retention_pruning(db, &status, now_ms)?;
        Ok(status)
    })
}

/// Keeps the key automated maintenance reads before retention pruning
/// (`backup.last_verified_at_ms`) equal to the snapshot time of the newest
/// verified backup while escalation allows pruning, and absent otherwise, so
/// `ledger maintain` prunes only behind a backup this module verified.
fn license_retention_pruning(db: Db<'_>, status: &BackupStatus, now_ms: i64) -> Result<()> {
    let licence = status
        .last_verified_snapshot_at_ms
        .filter(|_| status.health != BackupHealth::PruningPaused);
    match licence {
        Some(snapshot_at) => set(
            db,
            crate::sync_state::keys::BACKUP_LAST_VERIFIED_AT_MS,
            &snapshot_at.to_string(),
            now_ms,
        ),
        None => db
            .conn
            .prepare_cached("DELETE FROM sync_state WHERE key = ?1")
            .and_then(|mut stmt| {
                stmt.execute([crate::sync_state::keys::BACKUP_LAST_VERIFIED_AT_MS])
            })
            .map(|_| ())
            .map_err(db.err("withdraw the retention-pruning licence")),
    }
}
