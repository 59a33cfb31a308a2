//! Verified online backups, escalation, rotation, WAL archiving and
//! point-in-time restore (the Litestream model: snapshots plus archived WAL).
//!
//! Library entry points, and the `ledger` CLI commands they back:
//!
//! | CLI | entry point | report |
//! |---|---|---|
//! | `ledger backup` | [`crate::Ledger::backup`] | [`BackupReport`] |
//! | `ledger backups list` | [`list_backups`] | [`BackupList`] |
//! | `ledger backups status` | [`crate::Ledger::backup_status`] | [`BackupStatus`] |
//! | `ledger verify PATH` | [`crate::Ledger::verify_backup`] (records) or [`verify_backup_file`] | [`VerifyReport`] |
//! | `ledger restore --latest\|--to T\|--txid N --into PATH --dry-run` | [`plan_restore`] | [`RestorePlan`] |
//! | `ledger restore … --into PATH` | [`plan_restore`] then [`restore`] | [`RestoreReport`] |
//! | `ledger rotate [--dry-run]` | [`rotate`] | [`RotationReport`] |
//! | `ledger archive` | [`crate::Ledger::archive_wal`] | [`ArchiveReport`] |
//! | `ledger checkpoint` | [`crate::Ledger::checkpoint_archived`] | [`CheckpointReport`] |
//! | `ledger prune --days N` | [`crate::Ledger::prune_after_verified_backup`] | [`GuardedPrune`] |
//!
//! Every report is `serde::Serialize`. Layout of the backup directory:
//! `ledger-<UTC stamp>.db` snapshots, `<snapshot>.json` manifests
//! ([`BackupManifest`]), and `wal/` with `seg-<seq>.walseg` archive segments
//! and `state.json`.

mod archive;
mod config;
mod error;
mod escalation;
mod fsutil;
mod integrity;
mod ledger_api;
mod lock;
mod logical_hash;
mod manifest;
pub(crate) mod rebuild;
mod restore;
mod rotation;
mod segment;
mod snapshot;
mod stamp;
mod state;
mod verify;
pub mod wal;

pub use archive::{ArchiveState, ArchiveStep};
pub use config::BackupConfig;
pub use error::BackupError;
pub use escalation::{BackupHealth, EscalationPolicy};
pub use ledger_api::{ArchiveReport, BackupReport, CheckpointReport, GuardedPrune};
pub use lock::{RestoreLock, lock_for_restore};
pub use logical_hash::{LogicalHash, compute as logical_hash};
pub use manifest::{
    BackupEntry, BackupList, BackupManifest, BackupState, Verification, VerificationState,
    WalPosition, list_backups,
};
pub use restore::{
    PlannedSegment, RestorePlan, RestoreReport, RestoreTarget, plan_restore, restore,
};
pub use rotation::{
    KeepReason, RetentionPolicy, RotationDecision, RotationReport, plan_rotation, rotate,
};
pub(crate) use segment::archived_frame;
pub use segment::{CommitRecord, SegmentHeader};
pub use stamp::{file_name as snapshot_file_name, utc_text};
pub(crate) use state::read_record;
pub use state::{
    BackupRecord, BackupStatus, KEY_CONSECUTIVE_FAILURES, KEY_LAST_FAILURE_AT,
    KEY_LAST_FAILURE_PATH, KEY_LAST_VERIFIED_AT, KEY_LAST_VERIFIED_PATH,
    KEY_LAST_VERIFIED_SNAPSHOT_AT, KEY_STATUS,
};
pub use verify::{VerifyCheck, VerifyReport, verify_backup_file};

/// Fail point: snapshot and manifest written, before the rename into place.
pub const FAILPOINT_BEFORE_RENAME: &str = "ledger::backup::before_rename";
/// Fail point: the backup is in place, before it is verified.
pub const FAILPOINT_BEFORE_VERIFY: &str = "ledger::backup::before_verify";
/// Fail point: archive segments written, before the checkpoint.
pub const FAILPOINT_ARCHIVE_BEFORE_CHECKPOINT: &str = "ledger::archive::before_checkpoint";
/// Fail point: the WAL checkpointed (under the write lock), before the archive is sealed.
pub const FAILPOINT_ARCHIVE_AFTER_CHECKPOINT: &str = "ledger::archive::after_checkpoint";
/// Fail point: a restore's frames applied, before its checks and rename.
pub const FAILPOINT_RESTORE_BEFORE_RENAME: &str = "ledger::restore::before_rename";

/// Every backup fail point name (kept apart from [`crate::failpoint::ALL`]).
pub const FAILPOINTS: [&str; 5] = [
    FAILPOINT_BEFORE_RENAME,
    FAILPOINT_BEFORE_VERIFY,
    FAILPOINT_ARCHIVE_BEFORE_CHECKPOINT,
    FAILPOINT_RESTORE_BEFORE_RENAME,
    FAILPOINT_ARCHIVE_AFTER_CHECKPOINT,
];
