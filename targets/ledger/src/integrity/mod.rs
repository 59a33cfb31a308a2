//! Corruption detection and repair: [`CorruptionReport`] (what was found and
//! what was done), the [`RestoreSource`] hook a verified-backup module
//! implements, and the scheduled checks ([`IntegritySchedule`]).
//!
//! Policy: `PRAGMA quick_check` on open after an unclean shutdown and every
//! `quick-check-interval-ms`, a full `integrity_check` every
//! `integrity-check-interval-ms`, and at the next write after any read that
//! hit corruption. Damage confined to indexes (or free pages) is repaired by
//! `REINDEX` (+ `VACUUM`) and re-checked; anything else stops the ledger
//! serving: every call returns [`crate::LedgerError::Corrupt`] carrying the
//! report, until a [`RestoreSource`] restores a verified backup.

pub(crate) mod classify;
pub mod detect;
pub(crate) mod messages;
pub(crate) mod owners;
pub(crate) mod repair;
#[cfg(test)]
mod repair_under_flips;
pub mod wal_break;
mod wal_frames;

use std::fmt;
use std::path::Path;

use crate::capture::CaptureId;
use crate::checksum::ChecksumFault;

/// How thorough a check is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CheckLevel {
    /// `PRAGMA quick_check`: structure, not index content.
    Quick,
    /// `PRAGMA integrity_check`: also index content.
    Full,
}

impl CheckLevel {
    fn pragma(self) -> &'static str {
        match self {
            CheckLevel::Quick => "PRAGMA quick_check",
            CheckLevel::Full => "PRAGMA integrity_check",
        }
    }
}

/// What a failed check reported.
#[derive(Debug, Clone, PartialEq)]
pub struct Findings {
    /// The check that found it.
    pub level: CheckLevel,
    /// SQLite's messages (and errors), `ok` left out.
    pub messages: Vec<String>,
    /// Checksum mismatches seen during the check.
    pub checksum_faults: Vec<ChecksumFault>,
}

/// A damaged object.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Damage {
    /// An index (rebuildable from its table).
    Index(String),
    /// A table (its rows are the data).
    Table(String),
    /// Free pages (on the freelist, or reached by no b-tree).
    FreeSpace,
    /// The database header (page 1, which also roots `sqlite_schema`).
    Header,
    /// Something not attributed to an object.
    Unknown(String),
}

/// A backup that was restored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestoredBackup {
    /// When the backup was taken (unix ms).
    pub taken_at_ms: i64,
    /// Which backup (a path or name).
    pub label: String,
}

/// What the ledger did about damage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RepairAction {
    /// The named indexes were rebuilt and the re-check passed.
    Reindexed(Vec<String>),
    /// Nothing could be repaired in place; the ledger stopped serving.
    NotRepaired(String),
    /// A verified backup replaced the database; `missing` are the captures
    /// the damaged database listed that the backup lacks.
    Restored {
        /// The backup.
        backup: RestoredBackup,
        /// Captures acknowledged after the backup and now gone.
        missing: Vec<CaptureId>,
    },
    /// Damaged WAL frames (1-based) were replaced by their archived copies
    /// before SQLite's recovery, which then kept every committed transaction.
    WalFramesRestored(Vec<u32>),
    /// A damaged WAL frame's chain was re-sealed so recovery kept the
    /// transactions after it; the damaged page image fails its page checksum
    /// and is refused on every read (the check after open deals with it).
    WalResealed {
        /// The damaged frame (1-based).
        frame: u32,
        /// The page it holds.
        page: u32,
    },
}

/// What was found and what was done.
#[derive(Debug, Clone, PartialEq)]
pub struct CorruptionReport {
    /// The check's findings.
    pub findings: Findings,
    /// The damaged objects.
    pub damage: Vec<Damage>,
    /// What the ledger did.
    pub action: RepairAction,
    /// Captures whose rows cannot be read (by id, from the primary-key index).
    pub unreadable: Vec<CaptureId>,
}

impl CorruptionReport {
    /// Whether the ledger can keep serving.
    pub fn repaired(&self) -> bool {
        !matches!(self.action, RepairAction::NotRepaired(_))
    }
}

impl fmt::Display for CorruptionReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "found: ")?;
        let found: Vec<String> = self
            .findings
            .checksum_faults
            .iter()
            .map(ToString::to_string)
            .chain(self.findings.messages.iter().cloned())
            .collect();
        write!(
            f,
            "{}; damaged: {:?}; done: ",
            found.join("; "),
            self.damage
        )?;
        match &self.action {
            RepairAction::Reindexed(names) => {
                write!(f, "rebuilt {} and re-checked ok", names.join(", "))?
            }
            RepairAction::NotRepaired(why) => write!(
                f,
                "nothing ({why}); the ledger stopped serving: restore a verified backup"
            )?,
            RepairAction::Restored { backup, missing } => write!(
                f,
                "restored backup {} taken at {}; missing since: {:?}",
                backup.label, backup.taken_at_ms, missing
            )?,
            RepairAction::WalFramesRestored(frames) => write!(
                f,
                "replaced WAL frame(s) {frames:?} with their archived copies before recovery"
            )?,
            RepairAction::WalResealed { frame, page } => write!(
                f,
                "re-sealed the WAL chain over frame {frame} so recovery kept the later \
                 transactions; page {page}'s damaged image is refused on read"
            )?,
        }
        if !self.unreadable.is_empty() {
            write!(f, "; unreadable captures: {}", self.unreadable.join(", "))?;
        }
        Ok(())
    }
}

/// Where a verified backup comes from; the backup module implements it.
pub trait RestoreSource: Send {
    /// Replace the database file at `db_path` (no connection is open on it)
    /// with the newest verified backup.
    ///
    /// # Errors
    /// No verified backup, or the copy failed.
    fn restore_newest(
        &mut self,
        db_path: &Path,
    ) -> Result<RestoredBackup, Box<dyn std::error::Error + Send + Sync>>;
}

/// When the next scheduled checks are due (clock-driven).
#[derive(Debug, Clone)]
pub struct IntegritySchedule {
    quick_every_ms: i64,
    full_every_ms: i64,
    last_quick: Option<i64>,
    last_full: Option<i64>,
}

impl IntegritySchedule {
    /// Quick checks every `quick_every_ms`, full every `full_every_ms` (0 = never).
    pub fn new(quick_every_ms: i64, full_every_ms: i64) -> IntegritySchedule {
        IntegritySchedule {
            quick_every_ms,
            full_every_ms,
            last_quick: None,
            last_full: None,
        }
    }

    /// The check due at `now_ms`, if any; the first call starts the clock.
    pub fn due(&mut self, now_ms: i64) -> Option<CheckLevel> {
        let full_since = *self.last_full.get_or_insert(now_ms);
        let quick_since = *self.last_quick.get_or_insert(now_ms);
        if self.full_every_ms > 0 && now_ms - full_since >= self.full_every_ms {
            self.last_full = Some(now_ms);
            self.last_quick = Some(now_ms);
            return Some(CheckLevel::Full);
        }
        if self.quick_every_ms > 0 && now_ms - quick_since >= self.quick_every_ms {
            self.last_quick = Some(now_ms);
            return Some(CheckLevel::Quick);
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedule_runs_quick_then_full() {
        let mut s = IntegritySchedule::new(100, 1000);
        assert_eq!(s.due(0), None);
        assert_eq!(s.due(99), None);
        assert_eq!(s.due(100), Some(CheckLevel::Quick));
        assert_eq!(s.due(150), None);
        assert_eq!(s.due(1000), Some(CheckLevel::Full));
        assert_eq!(s.due(1050), None);
    }

    #[test]
    fn zero_disables() {
        let mut s = IntegritySchedule::new(0, 0);
        assert_eq!(s.due(0), None);
        assert_eq!(s.due(i64::MAX / 2), None);
    }
}
