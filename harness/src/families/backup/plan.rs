//! The `[backup]` table of a scenario: [`BackupSpec`], which backup drill the drive worker runs
//! around the workload (the `backup/` family).
//!
//! The workload plan still runs and is reported operation by operation, so the check worker
//! judges the live database as in every family; the backup drive adds backups, archiving,
//! rotation and restores between the operations, injects the drill's fault, and judges
//! `backups_restorable` and `fault_response` itself (see `drive.rs`).

use serde::{Deserialize, Serialize};

use crate::backends::vfs::{CrashMode, FaultRule};

/// Which backup drill, and its sizes.
///
/// TOML:
/// ```toml
/// [backup]
/// drill = "dest-faults"   # see BackupDrill
/// every = 8               # a backup after every 8th operation
/// [[backup.dest-rules]]   # dest-faults only: the fault VFS rules at the backup destination
/// op = "write"
/// trigger = { nth = 3 }
/// error = "full"
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct BackupSpec {
    /// The drill.
    pub drill: BackupDrill,
    /// A backup after every this many operations (default 10).
    #[serde(default = "default_every")]
    pub every: usize,
    /// `dest-faults`: rules installed in the fault VFS the backups are written through.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dest_rules: Vec<FaultRule>,
    /// `power-loss-backup`: crash images of the destination checked (default: all four modes).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub modes: Vec<CrashMode>,
    /// Kill drills: the largest delay, in microseconds, between the child's "started" line and
    /// its `SIGKILL` (default 3000).
    #[serde(default = "default_kill_delay")]
    pub max_kill_delay_us: u64,
    /// `drill`: random timestamps restored to per iteration (default 10).
    #[serde(default = "default_timestamps")]
    pub timestamps: usize,
    /// `drill`: operations left unarchived before the live database is destroyed (default 3).
    #[serde(default = "default_unarchived")]
    pub unarchived: usize,
}

fn default_every() -> usize {
    10
}

fn default_kill_delay() -> u64 {
    3000
}

fn default_timestamps() -> usize {
    10
}

fn default_unarchived() -> usize {
    3
}

/// The backup drills. Each names what it must show.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum BackupDrill {
    /// A writer thread runs the workload while backups are taken on another connection: each
    /// verified backup equals the model at one instant between its start and its end.
    ConcurrentWrites,
    /// Backups written through the fault VFS with `dest-rules` (ENOSPC, EIO): a backup whose
    /// destination failed is never reported verified, escalation advances per failure and resets
    /// on success, guarded pruning stops when escalation pauses it, the live database is
    /// untouched.
    DestFaults,
    /// Power cut while a backup is being written through the power-loss-tracking fault VFS: in
    /// every crash image of the backup directory no half backup is listed verified and the
    /// newest verified backup survives and restores.
    PowerLossBackup,
    /// Rotation in a child process killed at a seeded moment, then any of its unsynced deletions
    /// undone (what a power cut may leave): no half backup listed verified, the newest verified
    /// one survives.
    PowerLossRotation,
    /// A verified backup's file is damaged at rest: re-verification must catch it, escalation
    /// advances, and it is no longer listed verified.
    CorruptBackup,
    /// WAL archiving in a child process `kill -9`ed at a seeded moment: archiving goes on
    /// afterwards and a restore to the latest state equals the model.
    KillArchive,
    /// A restore in a child process `kill -9`ed at a seeded moment: the target is absent or a
    /// complete restore, and restoring again succeeds and equals the model.
    KillRestore,
    /// Rotation with no retention runs over and over while a restore reads an old backup: the
    /// restore succeeds and equals the model, the backup being restored is kept.
    RetentionDuringRestore,
    /// The disaster-recovery drill: destroy the live database, restore to random timestamps
    /// (each must equal the model at T) and to the latest state (the model minus at most the
    /// unarchived operations, reported in `figures`).
    Drill,
}

impl BackupDrill {
    /// Whether the same seed gives the same trace: false for the drills whose outcome depends
    /// on timing (a writer thread, a kill after a delay, rotations racing a restore).
    pub fn is_deterministic(self) -> bool {
        matches!(
            self,
            BackupDrill::DestFaults
                | BackupDrill::PowerLossBackup
                | BackupDrill::CorruptBackup
                | BackupDrill::Drill
        )
    }

    /// Whether the drill runs the ledger with WAL archiving on.
    pub fn archives(self) -> bool {
        matches!(
            self,
            BackupDrill::KillArchive | BackupDrill::KillRestore | BackupDrill::Drill
        )
    }
}

impl BackupSpec {
    /// Checks what serde cannot.
    ///
    /// # Errors
    /// A message naming the field.
    pub fn validate(&self) -> Result<(), String> {
        if self.every == 0 {
            return Err("`backup.every` must be at least 1".into());
        }
        if self.drill == BackupDrill::DestFaults && self.dest_rules.is_empty() {
            return Err(
                "`backup.drill = \"dest-faults\"` needs at least one [[backup.dest-rules]]".into(),
            );
        }
        if self.drill != BackupDrill::DestFaults && !self.dest_rules.is_empty() {
            return Err("`backup.dest-rules` is only used by `drill = \"dest-faults\"`".into());
        }
        for rule in &self.dest_rules {
            rule.validate()
                .map_err(|e| format!("[[backup.dest-rules]]: {e}"))?;
        }
        if self.drill == BackupDrill::Drill && self.timestamps == 0 {
            return Err("`backup.timestamps` must be at least 1".into());
        }
        Ok(())
    }

    /// The crash modes of `power-loss-backup` (all four when none are named).
    pub fn crash_modes(&self) -> Vec<CrashMode> {
        if self.modes.is_empty() {
            crate::families::power_loss::plan::PowerLoss::default().modes
        } else {
            self.modes.clone()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{BackupDrill, BackupSpec};

    #[test]
    fn a_dest_fault_drill_needs_rules() {
        let spec: BackupSpec = toml::from_str("drill = \"dest-faults\"").expect("parses");
        assert!(spec.validate().unwrap_err().contains("dest-rules"));
        let spec: BackupSpec = toml::from_str(
            "drill = \"dest-faults\"\n[[dest-rules]]\nop = \"write\"\ntrigger = { nth = 2 }\nerror = \"full\"",
        )
        .expect("parses");
        spec.validate().expect("valid");
        assert_eq!(spec.drill, BackupDrill::DestFaults);
        assert_eq!(spec.every, 10);
    }
}
