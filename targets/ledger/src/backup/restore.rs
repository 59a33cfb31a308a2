//! Restoring a snapshot plus archived WAL frames: [`plan_restore`], [`restore`].
//!
//! A plan picks the newest usable snapshot at or before the target and the
//! contiguous run of archive segments of its lineage up to the target
//! transaction; any missing segment or transaction is an
//! [`BackupError::ArchiveGap`]. Restoring copies the snapshot to a temporary
//! file beside the destination, writes each archived frame's page image at
//! `(pgno - 1) * page_size`, sets the file length to `db_size * page_size`
//! at every commit frame, stops after the target's commit frame, and then
//! checks the result (`integrity_check`, an open through the ledger, and the
//! logical hash when the result is the snapshot itself) before renaming it
//! into place.

use std::fs::{self, OpenOptions};
use std::io::{Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::config::BackupConfig;
use super::error::BackupError;
use super::fsutil::{ScratchDir, parent_dir, sync_dir, sync_file, temp_sibling};
use super::lock::lock_for_restore;
use super::logical_hash::LogicalHash;
use super::manifest::{BackupEntry, BackupState, list_backups};
use super::segment::{self, SegmentHeader};
use super::wal::{self, FRAME_HEADER_BYTES};
use super::{archive, stamp, verify};

/// What to restore to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum RestoreTarget {
    /// The newest state the backups and the archive hold.
    Latest,
    /// The state after the last transaction archived at or before `ms`.
    Timestamp {
        /// Unix milliseconds (ledger clock).
        ms: i64,
    },
    /// The state right after archive transaction `txid`.
    Txid {
        /// The transaction number.
        txid: u64,
    },
}

impl std::fmt::Display for RestoreTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RestoreTarget::Latest => write!(f, "the latest state"),
            RestoreTarget::Timestamp { ms } => write!(f, "time {} ({ms})", stamp::utc_text(*ms)),
            RestoreTarget::Txid { txid } => write!(f, "transaction {txid}"),
        }
    }
}

/// One segment a restore applies.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlannedSegment {
    /// The segment file.
    pub path: PathBuf,
    /// Its sequence number.
    pub seq: u64,
    /// Its first transaction.
    pub first_txid: u64,
    /// Its last transaction.
    pub last_txid: u64,
}

/// What a restore will do: the output of `ledger restore … --dry-run`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RestorePlan {
    /// What was asked for.
    pub target: RestoreTarget,
    /// Where the database will be written (must not exist).
    pub into: PathBuf,
    /// The snapshot restored from.
    pub snapshot: PathBuf,
    /// When it was taken.
    pub snapshot_created_at_ms: i64,
    /// The logical content of the snapshot.
    pub snapshot_logical: LogicalHash,
    /// Page size of the snapshot.
    pub page_size: u32,
    /// The snapshot's archive lineage, if it has one.
    pub lineage: Option<u64>,
    /// The last transaction the snapshot contains.
    pub snapshot_txid: Option<u64>,
    /// The transaction the result ends at (`snapshot_txid` when no frames apply).
    pub target_txid: Option<u64>,
    /// When that transaction was archived.
    pub target_commit_ms: Option<i64>,
    /// The segments to apply, in order.
    pub segments: Vec<PlannedSegment>,
    /// Transactions to apply on top of the snapshot.
    pub transactions: u64,
}

/// What a restore did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RestoreReport {
    /// The plan carried out.
    pub plan: RestorePlan,
    /// Transactions applied.
    pub applied_transactions: u64,
    /// Frames (page images) written.
    pub applied_frames: u64,
    /// The restored database's logical content.
    pub logical: LogicalHash,
}

fn usable(entry: &BackupEntry) -> bool {
    matches!(entry.state, BackupState::Verified | BackupState::Unverified)
}

fn no_point(config: &BackupConfig, target: RestoreTarget, detail: String) -> BackupError {
    BackupError::NoRestorePoint {
        dir: config.dir.clone(),
        target: target.to_string(),
        detail,
    }
}

/// The newest backup with a WAL archive position (by lineage, then
/// transaction, then creation time; the last of equals).
fn newest_with_position(backups: &[BackupEntry]) -> Option<&BackupEntry> {
    let mut chained: Vec<&BackupEntry> = backups
        .iter()
        .filter(|e| e.manifest.as_ref().and_then(|m| m.wal_position).is_some())
        .collect();
    chained.sort_by_key(|e| {
        let p = e.manifest.as_ref().and_then(|m| m.wal_position);
        p.map(|p| (p.lineage, p.txid, e.created_at_ms))
    });
    let older = mutant!(RestoreFromOlderBackup, chained.len() >= 2, false);
    if older {
        return chained.get(chained.len() - 2).copied();
    }
    chained.last().copied()
}

/// Choose the snapshot and segments that reach `target`.
///
/// # Errors
/// [`BackupError::NoRestorePoint`] when nothing reaches it,
/// [`BackupError::ArchiveGap`] when the archive is missing transactions on
/// the way, [`BackupError::Io`]/[`BackupError::Segment`] for unreadable files.
pub fn plan_restore(
    config: &BackupConfig,
    target: RestoreTarget,
    into: &Path,
) -> Result<RestorePlan, BackupError> {
    let backups: Vec<BackupEntry> = list_backups(config)?
        .backups
        .into_iter()
        .filter(usable)
        .collect();
    let archive_dir = config.archive_dir();
    let segments = segment::list(&archive_dir)?;
    let state = archive::load_state(&archive_dir)?;
    let position = |e: &BackupEntry| e.manifest.as_ref().and_then(|m| m.wal_position);
    let chosen = match target {
        RestoreTarget::Latest => newest_with_position(&backups).or_else(|| backups.first()),
        RestoreTarget::Timestamp { ms } => backups.iter().find(|e| e.created_at_ms <= ms),
        RestoreTarget::Txid { txid } => backups
            .iter()
            .filter(|e| position(e).is_some_and(|p| p.txid <= txid))
            .max_by_key(|e| position(e).map(|p| (p.txid, p.lineage, e.created_at_ms))),
    };
    let Some(chosen) = chosen else {
        let detail = format!(
            "{} usable backups, none early enough; list them with `ledger backups list`",
            backups.len()
        );
        return Err(no_point(config, target, detail));
    };
    let Some(manifest) = chosen.manifest.clone() else {
        return Err(no_point(
            config,
            target,
            "the backup has no manifest".into(),
        ));
    };
    let mut plan = RestorePlan {
        target,
        into: into.to_path_buf(),
        snapshot: chosen.path.clone(),
        snapshot_created_at_ms: manifest.created_at_ms,
        snapshot_logical: manifest.logical.clone(),
        page_size: manifest.page_size,
        lineage: manifest.wal_position.map(|p| p.lineage),
        snapshot_txid: manifest.wal_position.map(|p| p.txid),
        target_txid: manifest.wal_position.map(|p| p.txid),
        target_commit_ms: None,
        segments: Vec::new(),
        transactions: 0,
    };
    let Some(start) = manifest.wal_position else {
        if let RestoreTarget::Txid { .. } = target {
            return Err(no_point(
                config,
                target,
                "no backup has a WAL archive position".into(),
            ));
        }
        return Ok(plan);
    };
    let lineage: Vec<&(PathBuf, SegmentHeader)> = segments
        .iter()
        .filter(|(_, h)| h.lineage == start.lineage && h.last_txid() > start.txid)
        .collect();
    let archived_end = archived_end(&lineage, &state, start.lineage, start.txid);
    let end = match target {
        RestoreTarget::Latest => archived_end,
        RestoreTarget::Txid { txid } => {
            if txid > archived_end {
                let detail = format!(
                    "lineage {} is archived up to transaction {archived_end}",
                    start.lineage
                );
                return Err(no_point(config, target, detail));
            }
            txid
        }
        RestoreTarget::Timestamp { ms } => lineage
            .iter()
            .flat_map(|(_, h)| h.commits.iter())
            .filter(|c| c.commit_ms <= ms)
            .map(|c| c.txid)
            .max()
            .unwrap_or(start.txid)
            .max(start.txid),
    };
    let mut expected = start.txid + 1;
    let mut previous_seq: Option<u64> = None;
    for (path, header) in &lineage {
        if expected > end {
            break;
        }
        if header.first_txid() > expected || previous_seq.is_some_and(|s| header.seq != s + 1) {
            return Err(BackupError::ArchiveGap {
                dir: archive_dir,
                detail: format!(
                    "transactions {expected}..{} of lineage {} are missing (segment {} follows {})",
                    header.first_txid() - 1,
                    start.lineage,
                    header.seq,
                    previous_seq
                        .map_or_else(|| "the snapshot".to_owned(), |s| format!("segment {s}"))
                ),
            });
        }
        plan.segments.push(PlannedSegment {
            path: path.clone(),
            seq: header.seq,
            first_txid: header.first_txid(),
            last_txid: header.last_txid(),
        });
        if let Some(commit) = header.commits.iter().rfind(|c| c.txid <= end) {
            plan.target_commit_ms = Some(commit.commit_ms);
        }
        expected = header.last_txid() + 1;
        previous_seq = Some(header.seq);
    }
    if expected <= end {
        return Err(BackupError::ArchiveGap {
            dir: archive_dir,
            detail: format!(
                "transactions {expected}..={end} of lineage {} are in no segment",
                start.lineage
            ),
        });
    }
    plan.target_txid = Some(end);
    plan.transactions = end - start.txid;
    Ok(plan)
}

/// The last transaction of `lineage` the archive should hold: from the
/// state file when it is that lineage (so missing trailing segments are
/// caught), else from the segments.
fn archived_end(
    lineage: &[&(PathBuf, SegmentHeader)],
    state: &archive::ArchiveState,
    id: u64,
    from: u64,
) -> u64 {
    let from_segments = lineage
        .iter()
        .map(|(_, h)| h.last_txid())
        .max()
        .unwrap_or(from);
    if state.lineage == id {
        state.last_txid.max(from_segments)
    } else {
        from_segments
    }
}

/// Carry out `plan` (see the module doc). The destination appears only
/// when every check passed; the snapshot is locked against rotation meanwhile.
///
/// # Errors
/// [`BackupError::TargetExists`], [`BackupError::Segment`] (a frame fails
/// its checksum or salts), [`BackupError::RestoreCheckFailed`], [`BackupError::Io`].
pub fn restore(plan: &RestorePlan) -> Result<RestoreReport, BackupError> {
    let into = &plan.into;
    for path in [into.clone(), archive::wal_path(into)] {
        if path.exists() {
            return Err(BackupError::TargetExists { path });
        }
    }
    let _lock = lock_for_restore(&plan.snapshot)?;
    let temp = temp_sibling(into);
    for stale in [temp.clone(), archive::wal_path(&temp)] {
        if stale.exists() {
            fs::remove_file(&stale)
                .map_err(BackupError::io("remove stale restore file", &stale))?;
        }
    }
    fs::copy(&plan.snapshot, &temp).map_err(BackupError::io("copy snapshot", &temp))?;
    let applied = apply_segments(plan, &temp);
    let report = applied.and_then(|(transactions, frames)| {
        crate::failpoint::hit(super::FAILPOINT_RESTORE_BEFORE_RENAME).map_err(|_| {
            BackupError::FailPoint {
                name: super::FAILPOINT_RESTORE_BEFORE_RENAME,
            }
        })?;
        sync_file(&temp)?;
        let logical = check_restored(plan, &temp)?;
        Ok(RestoreReport {
            plan: plan.clone(),
            applied_transactions: transactions,
            applied_frames: frames,
            logical,
        })
    });
    let report = match report {
        Ok(report) => report,
        Err(error) => {
            let _ = fs::remove_file(&temp);
            return Err(error);
        }
    };
    fs::rename(&temp, into)
        .map_err(BackupError::io("rename restored database into place", into))?;
    sync_dir(&parent_dir(into))?;
    if_mutant!(RestoreDropsNewestCapture, {
        drop_newest_capture(into);
    });
    Ok(report)
}

/// The planted bug `restore-drops-newest-capture`: the newest exported capture (and its audit
/// rows) vanish from the restored copy.
#[cfg(feature = "mutants")]
fn drop_newest_capture(file: &Path) {
    let config = crate::Config::new(file, parent_dir(file).join(".mutant-vault"));
    let config = crate::mutants::keep_active(config);
    if let Ok(ledger) = crate::Ledger::open(&config) {
        let _ = ledger.connection().execute_batch(
            "UPDATE errors_log SET capture_id = NULL WHERE capture_id =
               (SELECT id FROM captures WHERE status LIKE 'exported%'
                ORDER BY created_at DESC, id DESC LIMIT 1);
             DELETE FROM exports_audit WHERE capture_id =
               (SELECT id FROM captures WHERE status LIKE 'exported%'
                ORDER BY created_at DESC, id DESC LIMIT 1);
             DELETE FROM captures WHERE id =
               (SELECT id FROM captures WHERE status LIKE 'exported%'
                ORDER BY created_at DESC, id DESC LIMIT 1);",
        );
    }
}

/// Write the planned frames into `file`: `(transactions, frames)` applied.
fn apply_segments(plan: &RestorePlan, file: &Path) -> Result<(u64, u64), BackupError> {
    let (Some(from), Some(to)) = (plan.snapshot_txid, plan.target_txid) else {
        return Ok((0, 0));
    };
    let mut out = OpenOptions::new()
        .write(true)
        .open(file)
        .map_err(BackupError::io("open restored file", file))?;
    let mut previous: Option<SegmentHeader> = None;
    let (mut transactions, mut frames_written) = (0u64, 0u64);
    let skipped: Option<usize> = mutant!(
        RestoreSkipsSegment,
        plan.segments.len().checked_sub(1),
        None
    );
    for (nth, planned) in plan.segments.iter().enumerate() {
        let (header, frames) = segment::read(&planned.path)?;
        let generation = header.generation;
        let damaged = |detail: String| BackupError::Segment {
            path: planned.path.clone(),
            detail,
        };
        if generation.page_size != plan.page_size {
            return Err(damaged(format!(
                "page size {} differs from the snapshot's {}",
                generation.page_size, plan.page_size
            )));
        }
        if let Some(prev) = &previous {
            let chained = if prev.generation == generation {
                header.first_frame == prev.first_frame + prev.frame_count
                    && header.checksum_before == prev.checksum_after
            } else {
                header.first_frame == 1 && header.checksum_before == generation.header_checksum
            };
            if !chained {
                return Err(damaged(format!(
                    "does not continue segment {} (frame or checksum chain broken)",
                    prev.seq
                )));
            }
        }
        if skipped == Some(nth) {
            previous = Some(header);
            continue;
        }
        let mut running = header.checksum_before;
        let mut commits = header.commits.iter().peekable();
        for (index, frame) in frames.chunks_exact(generation.frame_bytes()).enumerate() {
            let Some((fh, sum)) = wal::check_frame(&generation, frame, running) else {
                return Err(damaged(format!(
                    "frame {} fails its salt or checksum test",
                    header.first_frame as usize + index
                )));
            };
            running = sum;
            let commit = commits
                .peek()
                .copied()
                .filter(|c| c.frame as usize == index);
            let txid = match commits.peek() {
                Some(c) => c.txid,
                None => return Err(damaged("frames after the last commit record".into())),
            };
            if txid > from && txid <= to {
                let offset = u64::from(fh.pgno - 1) * u64::from(plan.page_size);
                out.seek(SeekFrom::Start(offset))
                    .and_then(|_| out.write_all(&frame[FRAME_HEADER_BYTES..]))
                    .map_err(BackupError::io("write page", file))?;
                frames_written += 1;
            }
            if let Some(commit) = commit {
                if fh.db_size != commit.db_size {
                    return Err(damaged(format!(
                        "commit frame {index} says {} pages, the record {}",
                        fh.db_size, commit.db_size
                    )));
                }
                commits.next();
                if commit.txid > from && commit.txid <= to {
                    out.set_len(u64::from(fh.db_size) * u64::from(plan.page_size))
                        .map_err(BackupError::io("set restored file size", file))?;
                    transactions += 1;
                }
                if commit.txid >= to {
                    return Ok((transactions, frames_written));
                }
            }
        }
        if running != header.checksum_after {
            return Err(damaged(
                "checksum after the last frame differs from the header".into(),
            ));
        }
        previous = Some(header);
    }
    Ok((transactions, frames_written))
}

/// `integrity_check`, an open through the ledger, and the logical hash
/// (compared with the snapshot's when no frames were applied).
fn check_restored(plan: &RestorePlan, temp: &Path) -> Result<LogicalHash, BackupError> {
    let failed = |detail: String| BackupError::RestoreCheckFailed {
        snapshot: plan.snapshot.clone(),
        path: temp.to_path_buf(),
        detail,
    };
    let scratch = ScratchDir::new(&parent_dir(temp), "restore-check")?;
    let expected = (plan.transactions == 0).then_some(&plan.snapshot_logical);
    verify::open_and_check(temp, &scratch.path().join("vault"), expected).map_err(failed)
}
