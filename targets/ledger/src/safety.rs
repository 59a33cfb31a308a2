//! The data-safety state a [`crate::Ledger`] keeps between operations
//! ([`Safety`]) and what it reports: [`SafetyEvent`]s and [`SafetyCounters`].

use std::cell::Cell;

use serde::{Deserialize, Serialize};

use crate::coherency::{Coherency, Incoherence};
use crate::config::Config;
use crate::integrity::{CheckLevel, CorruptionReport, IntegritySchedule, RestoreSource};
use crate::memory::scan_watch::ScanWatch;
use crate::memory::{CacheReason, MemoryProbe, MemorySample, PressureTracker, ProcMemoryProbe};
use crate::mmap_fallback::{MmapChange, MmapState};

/// One change the ledger made to protect the data or the machine.
#[derive(Debug, Clone, PartialEq)]
pub struct SafetyEvent {
    /// Clock time of the operation that triggered it (`None` at open).
    pub at_ms: Option<i64>,
    /// What happened.
    pub kind: SafetyEventKind,
}

/// What happened.
#[derive(Debug, Clone, PartialEq)]
pub enum SafetyEventKind {
    /// `cache_size` changed.
    CacheResized {
        /// Previous size in KiB.
        from_kib: u64,
        /// New size in KiB.
        to_kib: u64,
        /// Why.
        reason: CacheReason,
    },
    /// Pressure shrank the cache and `sqlite3_db_release_memory` ran: this many bytes of the
    /// connection's page cache were freed (its `SQLITE_DBSTATUS_CACHE_USED` before less after).
    MemoryReleased {
        /// Bytes freed.
        bytes: i64,
    },
    /// Memory mapping was turned off or restored.
    Mmap(MmapChange),
    /// The connection was reopened.
    Reopened(Incoherence),
    /// An integrity check ran and found nothing.
    CheckPassed(CheckLevel),
    /// An integrity check found damage; the report says what was done.
    Corruption(Box<CorruptionReport>),
    /// The open found what an unclean shutdown leaves (a WAL no clean close vouched for, or a
    /// hot rollback journal): SQLite recovered from it. Reported once, by the open that found it.
    RecoveredAfterUncleanShutdown {
        /// Size of the leftover WAL (0 when there was none).
        wal_bytes: u64,
        /// Whether a hot rollback journal was there.
        hot_journal: bool,
    },
}

/// Counts of safety actions, for metrics (the metrics snapshot's `safety`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct SafetyCounters {
    /// Cache shrinks under pressure.
    pub cache_shrinks: u64,
    /// Cache size changes of any kind.
    pub cache_resizes: u64,
    /// Fallbacks to `mmap_size = 0`.
    pub mmap_fallbacks: u64,
    /// Restores of the configured `mmap_size`.
    pub mmap_restores: u64,
    /// Connection reopens (file replaced, schema drift).
    pub reopens: u64,
    /// Integrity checks run (quick and full).
    pub integrity_checks: u64,
    /// Corruptions found.
    pub corruptions: u64,
    /// Corruptions repaired (REINDEX or restore).
    pub repairs: u64,
    /// Failed writes after which the transaction state was checked and settled.
    pub rollbacks_settled: u64,
    /// WAL checksum breaks found at open that may be writes torn by a power
    /// cut (kept as SQLite recovered them, logged, the WAL copied aside).
    pub wal_breaks_ambiguous: u64,
    /// Recoveries after an unclean shutdown found at open (0 or 1 per open).
    pub recoveries: u64,
}

/// Everything the ledger tracks between operations.
pub(crate) struct Safety {
    pub(crate) probe: Box<dyn MemoryProbe>,
    pub(crate) last_sample: MemorySample,
    pub(crate) last_poll_ms: Option<i64>,
    pub(crate) pressure: PressureTracker,
    pub(crate) cache_kib: Option<u64>,
    pub(crate) scan_watch: ScanWatch,
    pub(crate) mmap: MmapState,
    pub(crate) coherency: Option<Coherency>,
    pub(crate) schedule: IntegritySchedule,
    pub(crate) suspect: Cell<bool>,
    pub(crate) mmap_failed: Cell<bool>,
    pub(crate) poisoned: Option<CorruptionReport>,
    pub(crate) restore: Option<Box<dyn RestoreSource>>,
    /// Captures a restore did not bring back (refused by id, never absent).
    pub(crate) lost: std::collections::BTreeSet<String>,
    pub(crate) events: Vec<SafetyEvent>,
    pub(crate) counters: Cell<SafetyCounters>,
}

impl Safety {
    pub(crate) fn new(config: &Config) -> Safety {
        let t = &config.tuning;
        Safety {
            probe: Box::new(ProcMemoryProbe),
            last_sample: MemorySample::default(),
            last_poll_ms: None,
            pressure: PressureTracker::new(i64::from(t.pressure_calm_ms)),
            cache_kib: None,
            scan_watch: ScanWatch::default(),
            mmap: MmapState::new(t.mmap_size, i64::from(t.pressure_calm_ms)),
            coherency: None,
            schedule: IntegritySchedule::new(
                i64::from(t.quick_check_interval_ms),
                i64::from(t.integrity_check_interval_ms),
            ),
            suspect: Cell::new(false),
            mmap_failed: Cell::new(false),
            poisoned: None,
            restore: None,
            lost: std::collections::BTreeSet::new(),
            events: Vec::new(),
            counters: Cell::new(SafetyCounters::default()),
        }
    }

    pub(crate) fn count(&self, bump: impl FnOnce(&mut SafetyCounters)) {
        let mut counters = self.counters.get();
        bump(&mut counters);
        self.counters.set(counters);
    }

    pub(crate) fn log(&mut self, at_ms: Option<i64>, kind: SafetyEventKind) {
        self.events.push(SafetyEvent { at_ms, kind });
    }
}
