//! Copying committed WAL frames into archive segments: [`ArchiveState`], [`archive_locked`].
//!
//! Every function here runs while the caller holds the database's write lock
//! (`BEGIN IMMEDIATE` on the ledger's connection): no frame can be appended
//! and the WAL cannot restart while the file is read, so what is read is
//! exactly the committed log.
//!
//! Continuity. The archive is a chain of *lineages*; each starts with a
//! snapshot pinned at its start position. Within a lineage the archive
//! follows the WAL frame by frame and across restarts: a new WAL generation
//! continues the lineage only if the previous one was *sealed* (archived up
//! to its end while the write lock was held: at a pin or at
//! [`crate::Ledger::checkpoint_archived`]) and the new header is the one a
//! restart produces (checkpoint sequence + 1, salt-1 + 1). Anything else (a
//! checkpoint by another connection, a WAL deleted on close) may have
//! dropped frames the archive never saw: that is a *break*, reported, and
//! the caller starts a new lineage with a new snapshot.

use std::fs::{self, File};
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::error::BackupError;
use super::fsutil::{ensure_dir, write_durably};
use super::manifest::WalPosition;
use super::segment::{self, CommitRecord, SegmentHeader};
use super::wal::{self, Generation, WAL_HEADER_BYTES};

/// The archiver's position, stored as `wal/state.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct ArchiveState {
    /// State format (1).
    pub format: u32,
    /// The current lineage (0 = none started).
    pub lineage: u64,
    /// The WAL generation being followed (`None`: no WAL when last seen).
    pub generation: Option<Generation>,
    /// WAL index (1-based) of the next frame to archive.
    pub next_frame: u32,
    /// Running WAL checksum before `next_frame`.
    pub checksum: [u32; 2],
    /// Whether `generation` is known complete up to `next_frame - 1`.
    pub sealed: bool,
    /// The last transaction number given out.
    pub last_txid: u64,
    /// The next segment number.
    pub next_seq: u64,
    /// The latest commit time recorded (ledger time): a later pass never records an earlier one,
    /// whatever clock the archiving process has ([`crate::ledger_time`]).
    #[serde(default)]
    pub last_commit_ms: i64,
}

/// What one archiving pass did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArchiveStep {
    /// The segment written, if any.
    pub segment: Option<PathBuf>,
    /// Transactions archived.
    pub transactions: u64,
    /// Frames archived.
    pub frames: u32,
    /// The position after the pass.
    pub position: WalPosition,
    /// The commit time recorded for the transactions archived (ledger clock).
    pub at_ms: i64,
}

/// Why the archive could not continue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Continuity {
    /// The pass ran.
    Continued(ArchiveStep),
    /// The WAL cannot be proven to continue the lineage; why.
    Break(String),
}

fn state_path(dir: &Path) -> PathBuf {
    dir.join("state.json")
}

/// Load `dir/state.json` (default when missing).
///
/// # Errors
/// [`BackupError::Io`] or [`BackupError::Manifest`] for a damaged file.
pub(crate) fn load_state(dir: &Path) -> Result<ArchiveState, BackupError> {
    let path = state_path(dir);
    match fs::read(&path) {
        Ok(bytes) => serde_json::from_slice(&bytes).map_err(|error| BackupError::Manifest {
            path,
            detail: error.to_string(),
        }),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(ArchiveState {
            format: 1,
            next_seq: 1,
            ..ArchiveState::default()
        }),
        Err(error) => Err(BackupError::Io {
            action: "read archive state",
            path,
            source: error,
        }),
    }
}

fn store_state(dir: &Path, state: &ArchiveState) -> Result<(), BackupError> {
    let path = state_path(dir);
    let bytes = serde_json::to_vec_pretty(state).map_err(|error| BackupError::Manifest {
        path: path.clone(),
        detail: error.to_string(),
    })?;
    write_durably(&path, &bytes)
}

/// The `-wal` file of database `db`.
pub(crate) fn wal_path(db: &Path) -> PathBuf {
    crate::sidecar::sidecar(db, "-wal")
}

/// The WAL's header and the bytes from frame `from` (1-based) to the end.
fn read_wal(wal: &Path, from: u32) -> Result<Option<(Generation, Vec<u8>)>, BackupError> {
    let mut file = match File::open(wal) {
        Ok(file) => file,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(error) => {
            return Err(BackupError::Io {
                action: "open WAL",
                path: wal.to_path_buf(),
                source: error,
            });
        }
    };
    let mut header = Vec::with_capacity(WAL_HEADER_BYTES);
    (&mut file)
        .take(WAL_HEADER_BYTES as u64)
        .read_to_end(&mut header)
        .map_err(BackupError::io("read WAL header", wal))?;
    let generation = wal::parse_header(&header).map_err(|detail| BackupError::WalFormat {
        path: wal.to_path_buf(),
        detail,
    })?;
    let Some(generation) = generation else {
        return Ok(None);
    };
    let mut bytes = Vec::new();
    file.seek(SeekFrom::Start(generation.frame_offset(from)))
        .and_then(|_| file.read_to_end(&mut bytes))
        .map_err(BackupError::io("read WAL frames", wal))?;
    Ok(Some((generation, bytes)))
}

/// Archive the committed frames the lineage has not seen yet (write lock held).
pub(crate) fn archive_locked(
    db: &Path,
    dir: &Path,
    now_ms: i64,
) -> Result<Continuity, BackupError> {
    let mut state = load_state(dir)?;
    if state.lineage == 0 {
        return Ok(Continuity::Break("no archive lineage started yet".into()));
    }
    let now_ms = crate::ledger_time::not_before(state.last_commit_ms, now_ms);
    let wal = wal_path(db);
    let Some((header, _)) = read_wal(&wal, 1)? else {
        return Ok(Continuity::Continued(idle(&state, now_ms)));
    };
    let (start, seed) = match state.generation {
        Some(known) if known == header => (state.next_frame, state.checksum),
        None => (1, header.header_checksum),
        Some(known) if state.sealed && known.followed_by(&header) => (1, header.header_checksum),
        Some(known) => {
            return Ok(Continuity::Break(format!(
                "the WAL moved from generation (checkpoint {}, salt-1 {:#x}) to (checkpoint {}, salt-1 {:#x}) {}",
                known.ckpt_seq,
                known.salt1,
                header.ckpt_seq,
                header.salt1,
                if state.sealed {
                    "skipping a generation"
                } else {
                    "after a checkpoint the archive did not see; frames may have been lost"
                }
            )));
        }
    };
    let Some((_, bytes)) = read_wal(&wal, start)? else {
        return Ok(Continuity::Continued(idle(&state, now_ms)));
    };
    let committed = wal::scan_committed(&header, &bytes, seed);
    if state.generation != Some(header) {
        state.generation = Some(header);
        state.next_frame = 1;
        state.checksum = header.header_checksum;
        state.sealed = false;
    }
    if committed.frames == 0 {
        store_state(dir, &state)?;
        return Ok(Continuity::Continued(idle(&state, now_ms)));
    }
    let commits: Vec<CommitRecord> = committed
        .commits
        .iter()
        .zip(state.last_txid + 1..)
        .map(|(&(frame, db_size), txid)| CommitRecord {
            txid,
            frame,
            db_size,
            commit_ms: now_ms,
        })
        .collect();
    let frame_bytes = committed.frames as usize * header.frame_bytes();
    let segment_header = SegmentHeader {
        format: 1,
        seq: state.next_seq,
        lineage: state.lineage,
        generation: header,
        first_frame: start,
        frame_count: committed.frames,
        checksum_before: seed,
        checksum_after: committed.checksum_after,
        commits,
        archived_at_ms: now_ms,
    };
    let path = segment::write(dir, &segment_header, &bytes[..frame_bytes])?;
    let transactions = segment_header.commits.len() as u64;
    state.next_frame = start + committed.frames;
    state.checksum = committed.checksum_after;
    state.sealed = false;
    state.last_txid += transactions;
    state.next_seq += 1;
    state.last_commit_ms = state.last_commit_ms.max(now_ms);
    store_state(dir, &state)?;
    Ok(Continuity::Continued(ArchiveStep {
        segment: Some(path),
        transactions,
        frames: committed.frames,
        position: position(&state),
        at_ms: now_ms,
    }))
}

fn position(state: &ArchiveState) -> WalPosition {
    WalPosition {
        lineage: state.lineage,
        txid: state.last_txid,
    }
}

fn idle(state: &ArchiveState, now_ms: i64) -> ArchiveStep {
    ArchiveStep {
        segment: None,
        transactions: 0,
        frames: 0,
        position: position(state),
        at_ms: now_ms,
    }
}

/// Mark the followed generation complete up to what was archived (write
/// lock held, everything archived): a restart may follow it.
pub(crate) fn seal(dir: &Path) -> Result<(), BackupError> {
    let mut state = load_state(dir)?;
    state.sealed = true;
    store_state(dir, &state)
}

/// Start a new lineage at the WAL's current end (write lock held; the
/// caller pins a snapshot before releasing it). The start takes a
/// transaction number of its own: the snapshot holds every transaction
/// numbered before it *plus* whatever the archive did not see during the
/// break, so it must not share a number with the old lineage's last state.
pub(crate) fn start_lineage(db: &Path, dir: &Path) -> Result<WalPosition, BackupError> {
    ensure_dir(dir)?;
    let mut state = load_state(dir)?;
    state.lineage += 1;
    state.last_txid += 1;
    state.sealed = true;
    match read_wal(&wal_path(db), 1)? {
        Some((header, bytes)) => {
            let committed = wal::scan_committed(&header, &bytes, header.header_checksum);
            state.generation = Some(header);
            state.next_frame = 1 + committed.frames;
            state.checksum = committed.checksum_after;
        }
        None => {
            state.generation = None;
            state.next_frame = 1;
            state.checksum = [0, 0];
        }
    }
    store_state(dir, &state)?;
    Ok(position(&state))
}
