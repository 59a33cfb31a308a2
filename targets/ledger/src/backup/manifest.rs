//! The sidecar `<snapshot>.json` describing a backup, and listing them: [`BackupManifest`], [`list_backups`].
//!
//! A snapshot is only listed through its manifest. The manifest is renamed
//! into place before the snapshot file, so a snapshot file without a manifest
//! is an orphan of an interrupted backup (rotation deletes it), and a
//! manifest whose file is missing is listed as [`BackupState::Missing`],
//! never as verified.

use std::fs;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::config::BackupConfig;
use super::error::BackupError;
use super::fsutil::write_durably;
use super::logical_hash::LogicalHash;
use super::stamp;

/// Where in the WAL archive a snapshot sits: it contains exactly the archived
/// transactions `..= txid` of `lineage`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct WalPosition {
    /// The archive lineage (a new one starts whenever the archive cannot
    /// prove continuity, always with a snapshot).
    pub lineage: u64,
    /// The last archived transaction the snapshot contains (0 = none yet).
    pub txid: u64,
}

/// The outcome of the most recent verification of a backup.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VerificationState {
    /// Never verified (verification skipped or not yet run).
    Unverified,
    /// Integrity check, file hash, logical hash and restore test passed.
    Verified,
    /// A check failed; see `detail`.
    Failed,
}

/// The last verification of a backup.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Verification {
    /// Outcome.
    pub state: VerificationState,
    /// When it ran (ledger clock), if it ran.
    pub at_ms: Option<i64>,
    /// The failed check, for `Failed`.
    pub detail: Option<String>,
}

/// Everything known about one backup, stored beside it as JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackupManifest {
    /// Manifest format version (1).
    pub format: u32,
    /// The snapshot file name, relative to the backup directory.
    pub file: String,
    /// When the backup was taken (ledger clock, unix ms).
    pub created_at_ms: i64,
    /// The database it was taken from.
    pub source: PathBuf,
    /// The source's logical content, from the read snapshot the copy was made in.
    pub logical: LogicalHash,
    /// sha256 of the finished snapshot file.
    pub file_sha256: String,
    /// Snapshot file size in bytes.
    pub size_bytes: u64,
    /// Page size of the snapshot (equal to the source's).
    pub page_size: u32,
    /// The WAL archive position, when archiving was on.
    pub wal_position: Option<WalPosition>,
    /// The last verification.
    pub verification: Verification,
    /// The newest change time (`updated_at`) of a capture the snapshot holds (0 when it holds
    /// none), read with `logical` from the same snapshot; absent in manifests written before it
    /// existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub newest_change_ms: Option<i64>,
}

impl BackupManifest {
    /// The guarded prune's horizon: it deletes only captures last changed strictly before
    /// it. One past the newest change the snapshot holds, and never past the backup's own
    /// time: a writer whose ledger time runs behind the backup's (another open ledger, such
    /// as the one that took the backup, moves its own time past every listed backup) can
    /// commit, after the snapshot was pinned, a change dated before the backup, which the
    /// snapshot does not hold; dated after the snapshot's newest change, it is kept.
    pub fn prune_horizon_ms(&self) -> i64 {
        self.newest_change_ms.map_or(self.created_at_ms, |newest| {
            newest.saturating_add(1).min(self.created_at_ms)
        })
    }

    /// The manifest path of snapshot `snapshot`: `<snapshot>.json`.
    pub fn path_for(snapshot: &Path) -> PathBuf {
        let mut name = snapshot.as_os_str().to_os_string();
        name.push(".json");
        PathBuf::from(name)
    }

    /// Read the manifest of snapshot `snapshot`.
    ///
    /// # Errors
    /// [`BackupError::Manifest`] when missing or not valid JSON.
    pub fn load(snapshot: &Path) -> Result<BackupManifest, BackupError> {
        let path = BackupManifest::path_for(snapshot);
        let text = fs::read_to_string(&path).map_err(|error| BackupError::Manifest {
            path: path.clone(),
            detail: error.to_string(),
        })?;
        serde_json::from_str(&text).map_err(|error| BackupError::Manifest {
            path,
            detail: error.to_string(),
        })
    }

    /// Write the manifest of snapshot `snapshot` durably (temp, fsync, rename, fsync dir).
    ///
    /// # Errors
    /// [`BackupError::Io`].
    pub fn store(&self, snapshot: &Path) -> Result<(), BackupError> {
        let path = BackupManifest::path_for(snapshot);
        let text = serde_json::to_vec_pretty(self).map_err(|error| BackupError::Manifest {
            path: path.clone(),
            detail: error.to_string(),
        })?;
        write_durably(&path, &text)
    }
}

/// What a listed backup is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BackupState {
    /// Passed its last verification.
    Verified,
    /// Never verified.
    Unverified,
    /// Failed its last verification.
    Failed,
    /// The manifest exists, the snapshot file does not.
    Missing,
    /// A snapshot file without a manifest (an interrupted backup).
    Orphan,
}

/// One row of [`list_backups`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackupEntry {
    /// The snapshot file.
    pub path: PathBuf,
    /// When taken (from the manifest; from the name for orphans, else 0).
    pub created_at_ms: i64,
    /// `created_at_ms` as UTC text.
    pub created_at_utc: String,
    /// What it is.
    pub state: BackupState,
    /// The manifest, when readable.
    pub manifest: Option<BackupManifest>,
}

/// The report of `ledger backups list`: every backup, newest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackupList {
    /// The backup directory.
    pub dir: PathBuf,
    /// The backups, newest first.
    pub backups: Vec<BackupEntry>,
    /// Manifests that could not be read, with the reason.
    pub unreadable: Vec<String>,
}

fn state_of(manifest: &BackupManifest, exists: bool) -> BackupState {
    if !exists {
        return BackupState::Missing;
    }
    match manifest.verification.state {
        VerificationState::Verified => BackupState::Verified,
        VerificationState::Unverified => BackupState::Unverified,
        VerificationState::Failed => BackupState::Failed,
    }
}

/// List the backups in `config.dir`, newest first. A missing directory is an
/// empty list.
///
/// # Errors
/// [`BackupError::Io`] when the directory cannot be read.
pub fn list_backups(config: &BackupConfig) -> Result<BackupList, BackupError> {
    let dir = &config.dir;
    let mut list = BackupList {
        dir: dir.clone(),
        backups: Vec::new(),
        unreadable: Vec::new(),
    };
    if !dir.is_dir() {
        return Ok(list);
    }
    let mut names: Vec<String> = fs::read_dir(dir)
        .map_err(BackupError::io("list backup directory", dir))?
        .filter_map(|entry| entry.ok())
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with("ledger-"))
        .collect();
    names.sort();
    for name in &names {
        if let Some(db_name) = name.strip_suffix(".json") {
            let snapshot = dir.join(db_name);
            match BackupManifest::load(&snapshot) {
                Ok(manifest) => list.backups.push(BackupEntry {
                    created_at_ms: manifest.created_at_ms,
                    created_at_utc: stamp::utc_text(manifest.created_at_ms),
                    state: state_of(&manifest, snapshot.is_file()),
                    path: snapshot,
                    manifest: Some(manifest),
                }),
                Err(error) => list.unreadable.push(error.to_string()),
            }
        } else if name.ends_with(".db") && !names.contains(&format!("{name}.json")) {
            list.backups.push(BackupEntry {
                path: dir.join(name),
                created_at_ms: 0,
                created_at_utc: stamp::utc_text(0),
                state: BackupState::Orphan,
                manifest: None,
            });
        }
    }
    list.backups
        .sort_by(|a, b| (b.created_at_ms, &b.path).cmp(&(a.created_at_ms, &a.path)));
    Ok(list)
}
