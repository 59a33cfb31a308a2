//! The staging ledger: the SQLite storage layer of a note-capture app.
//!
//! Voice memos and emails are staged in SQLite, transcribed, then exported as
//! Markdown files to a vault. A capture the caller was told was saved (the
//! call returned `Ok`) is never lost: every write is one `BEGIN IMMEDIATE`
//! transaction committed before `Ok`, and an `Err` changes nothing.
//!
//! ```
//! use ledger::{Config, ExportMode, ExportOutcome, Ledger, NewCapture, Source, StageOutcome, Status};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let dir = tempfile::tempdir()?;
//! let mut ledger = Ledger::open(&Config::new(dir.path().join("ledger.db"), dir.path().join("vault")))?;
//! let memo = NewCapture {
//!     source: Source::Voice,
//!     raw_content: "memos/2024-05-01.m4a".into(),
//!     channel: Some("phone".into()),
//!     channel_native_id: Some("rec-1".into()),
//! };
//! let StageOutcome::Staged(id) = ledger.stage(&memo)? else { unreachable!() };
//! assert_eq!(ledger.stage(&memo)?, StageOutcome::Duplicate(id.clone()));
//! ledger.record_transcription(&id, "buy milk")?;
//! assert_eq!(ledger.record_export(&id, ExportMode::Initial)?, ExportOutcome::Exported);
//! assert_eq!(ledger.capture(&id)?.map(|c| c.status), Some(Status::Exported));
//! assert!(dir.path().join("vault").join(format!("{id}.md")).exists());
//! # Ok(())
//! # }
//! ```
//!
//! After a crash, resume from [`Ledger::recovery_queue`]: the id, status and
//! creation time of every non-terminal capture, oldest first, read from a
//! partial index alone (schema version 2; an older database is migrated at
//! open, and a version-1 build refuses a version-2 database), then load each
//! capture with [`Ledger::capture`] when it is its turn.
//! [`Ledger::recoverable_captures`] still returns every body at once.
//!
//! Modules: [`config`] (pragmas), [`clock`] (deterministic time and ids),
//! [`ledger_time`] (what "now" means when the clock goes backwards),
//! [`status`] (the state machine), [`error`], [`failpoint`] (fault-injection
//! sites, feature `failpoints`); the operations live behind [`Ledger`].
//!
//! Operations: [`retry`] (backoff with seeded jitter), [`lock`] (what a lock
//! timeout names), [`maintenance`] (clock-driven upkeep), [`plans`]
//! (query-plan validation), [`metrics`] (latency histograms and snapshots as
//! JSON lines), [`perf`] (regression alerts), [`capacity`] (growth forecast),
//! [`health`] (the report `ledger health` prints), [`sync_state`] (the keys
//! these keep in the `sync_state` table).
#![warn(missing_docs)]

// First: the `mutant!` and `if_mutant!` switches are used by the modules below.
#[macro_use]
mod mutant_switch;

pub mod backup;
mod busy;
pub mod caller_errors;
pub mod capacity;
mod capture;
mod chain_repair;
pub mod checksum;
mod clean_close;
pub mod clock;
pub mod coherency;
pub mod config;
pub mod crc32c;
mod db;
pub mod error;
pub mod failpoint;
pub mod fs_events;
pub mod health;
mod ids;
pub mod integrity;
mod ledger;
mod ledger_safety;
pub mod ledger_time;
pub mod lock;
pub mod maintenance;
pub mod memory;
pub mod metrics;
pub mod mmap_fallback;
#[cfg(feature = "mutants")]
pub mod mutants;
mod open;
mod open_repair;
mod ops;
pub mod perf;
pub mod plans;
pub mod retry;
mod row;
pub mod safety;
mod schema;
mod sidecar;
pub mod status;
pub mod sync_state;
mod tx;
mod vault;

pub use backup::{BackupConfig, BackupError};
pub use busy::LockWaits;
pub use capture::{
    Capture, CaptureId, ExportOutcome, NewCapture, RecoveryEntry, StageOutcome, content_hash,
};
pub use clock::{Clock, ManualClock, OpenOptions, StepClock, SystemClock};
pub use config::{Config, JournalMode, Synchronous, Tuning};
pub use error::{LedgerError, Result};
pub use health::{CheckReport, HealthReport, HealthStatus};
pub use integrity::{CorruptionReport, RestoreSource};
pub use ledger::Ledger;
pub use maintenance::{MaintenancePolicy, MaintenanceReport};
pub use memory::{ManualProbe, MemoryProbe, MemorySample};
pub use metrics::{MetricsSnapshot, Operation};
pub use open::OpenReport;
pub use retry::RetryPolicy;
pub use safety::{SafetyCounters, SafetyEvent, SafetyEventKind};
pub use schema::SCHEMA_VERSION;
pub use status::{ExportMode, Source, Status};
pub use vault::file_name as vault_file_name;

/// The crash-resume query [`Ledger::recoverable_captures`] runs, for
/// query-plan checks (`EXPLAIN QUERY PLAN`).
pub fn recoverable_captures_sql() -> String {
    ops::query::recoverable_sql()
}

/// The crash-resume queue query [`Ledger::recovery_queue`] runs, for
/// query-plan checks and benches.
pub fn recovery_queue_sql() -> String {
    ops::query::recovery_queue_sql()
}
