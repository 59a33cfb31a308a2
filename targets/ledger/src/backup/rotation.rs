//! Grandfather-father-son retention of snapshots: [`RetentionPolicy`], [`plan_rotation`], [`rotate`].
//!
//! Backups are bucketed by UTC hour, day and ISO week. The newest usable
//! backup (not failed, not missing) of each of the `hourly` most recent
//! hours that have one is kept, likewise for days and weeks. Always kept:
//! the newest verified backup, and any backup a restore holds locked.
//! Everything else (failed, missing-file, orphan files of interrupted
//! backups, surplus) goes.

use std::collections::BTreeSet;
use std::fs;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::config::BackupConfig;
use super::error::BackupError;
use super::fsutil::sync_dir;
use super::lock::try_lock_for_delete;
use super::manifest::{BackupEntry, BackupManifest, BackupState, list_backups};
use super::stamp;

/// How many backups of each period rotation keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields, default)]
pub struct RetentionPolicy {
    /// The newest backup of each of this many most recent hours (default 24).
    pub hourly: u32,
    /// The newest backup of each of this many most recent days (default 7).
    pub daily: u32,
    /// The newest backup of each of this many most recent weeks (default 4).
    pub weekly: u32,
}

impl Default for RetentionPolicy {
    fn default() -> RetentionPolicy {
        RetentionPolicy {
            hourly: 24,
            daily: 7,
            weekly: 4,
        }
    }
}

/// Why a backup is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeepReason {
    /// The newest verified backup.
    NewestVerified,
    /// A restore is reading it.
    InUse,
    /// The newest of one of the kept hours.
    Hourly,
    /// The newest of one of the kept days.
    Daily,
    /// The newest of one of the kept weeks.
    Weekly,
}

impl std::fmt::Display for KeepReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            KeepReason::NewestVerified => "newest verified",
            KeepReason::InUse => "a restore is reading it",
            KeepReason::Hourly => "newest of its hour",
            KeepReason::Daily => "newest of its day",
            KeepReason::Weekly => "newest of its week",
        })
    }
}

/// One backup and rotation's decision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RotationDecision {
    /// The snapshot file.
    pub path: PathBuf,
    /// When it was taken.
    pub created_at_ms: i64,
    /// Its state when listed.
    pub state: BackupState,
    /// Why it stays; empty = it goes.
    pub keep: Vec<KeepReason>,
}

/// The report of `ledger rotate [--dry-run]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RotationReport {
    /// `true` = nothing was deleted.
    pub dry_run: bool,
    /// Every backup with its decision, newest first.
    pub decisions: Vec<RotationDecision>,
    /// The snapshot files deleted (or that would be, in a dry run).
    pub deleted: Vec<PathBuf>,
}

fn usable(entry: &BackupEntry) -> bool {
    matches!(entry.state, BackupState::Verified | BackupState::Unverified)
}

fn keep_buckets(
    entries: &[BackupEntry],
    count: u32,
    bucket: fn(i64) -> i64,
    reason: KeepReason,
    keep: &mut [Vec<KeepReason>],
) {
    let mut seen = BTreeSet::new();
    for (i, entry) in entries.iter().enumerate() {
        if seen.len() >= count as usize {
            break;
        }
        if usable(entry) && seen.insert(bucket(entry.created_at_ms)) {
            keep[i].push(reason);
        }
    }
}

/// Decide, without touching files, what rotation keeps. `entries` newest
/// first (as [`list_backups`] returns them); `in_use(i)` says whether entry
/// `i` is held by a restore.
pub fn plan_rotation(
    entries: &[BackupEntry],
    policy: &RetentionPolicy,
    in_use: impl Fn(usize) -> bool,
) -> Vec<RotationDecision> {
    let mut keep = vec![Vec::new(); entries.len()];
    if let Some(i) = entries
        .iter()
        .position(|entry| entry.state == BackupState::Verified)
    {
        keep[i].push(KeepReason::NewestVerified);
    }
    for (i, reasons) in keep.iter_mut().enumerate() {
        if entries[i].manifest.is_some() && in_use(i) {
            reasons.push(KeepReason::InUse);
        }
    }
    keep_buckets(
        entries,
        policy.hourly,
        stamp::hour_bucket,
        KeepReason::Hourly,
        &mut keep,
    );
    keep_buckets(
        entries,
        policy.daily,
        stamp::day_bucket,
        KeepReason::Daily,
        &mut keep,
    );
    keep_buckets(
        entries,
        policy.weekly,
        stamp::week_bucket,
        KeepReason::Weekly,
        &mut keep,
    );
    entries
        .iter()
        .zip(keep)
        .map(|(entry, keep)| RotationDecision {
            path: entry.path.clone(),
            created_at_ms: entry.created_at_ms,
            state: entry.state,
            keep,
        })
        .collect()
}

/// Apply `config.retention` to `config.dir`. With `dry_run`, only report.
/// A backup whose exclusive lock cannot be taken is being restored and is
/// kept (`in_use`). Deletes the snapshot file, then its manifest, then
/// fsyncs the directory.
///
/// # Errors
/// [`BackupError::Io`] when listing, locking or deleting fails.
pub fn rotate(config: &BackupConfig, dry_run: bool) -> Result<RotationReport, BackupError> {
    let list = list_backups(config)?;
    let mut locks = Vec::new();
    let mut busy = vec![false; list.backups.len()];
    for (i, entry) in list.backups.iter().enumerate() {
        if entry.manifest.is_some() {
            match try_lock_for_delete(&entry.path)? {
                Some(lock) => locks.push(lock),
                None => busy[i] = true,
            }
        }
    }
    let decisions = plan_rotation(&list.backups, &config.retention, |i| busy[i]);
    let mut deleted = Vec::new();
    for decision in decisions.iter().filter(|d| d.keep.is_empty()) {
        if !dry_run {
            remove_if_present(&decision.path)?;
            remove_if_present(&BackupManifest::path_for(&decision.path))?;
        }
        deleted.push(decision.path.clone());
    }
    if !dry_run && !deleted.is_empty() {
        sync_dir(&config.dir)?;
    }
    drop(locks);
    Ok(RotationReport {
        dry_run,
        decisions,
        deleted,
    })
}

fn remove_if_present(path: &std::path::Path) -> Result<(), BackupError> {
    match fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(error) => Err(BackupError::Io {
            action: "delete backup",
            path: path.to_path_buf(),
            source: error,
        }),
    }
}
