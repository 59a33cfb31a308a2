//! What every family's drive shares: the [`Sink`] messages go to, the ledger
//! configuration and clock of a job, scratch directories, and [`run_plain`], the drive loop
//! without a fault layer of its own.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use ledger::{Config, Ledger, LedgerError, OpenOptions, StepClock};

pub use super::error::WorkerError;
use super::job::{CheckedDatabase, IterationJob, WorkerMessage};
use crate::workload::{CaptureIds, execute};

/// Where a worker's messages go: stdout in a worker process, a vector in tests.
pub type Sink<'a> = dyn FnMut(WorkerMessage) -> Result<(), WorkerError> + 'a;

/// The logical clock's start: 2026-01-01T00:00:00Z.
pub const CLOCK_START_MS: i64 = 1_767_225_600_000;
/// Each clock reading advances 15 minutes, so a workload spans days and prunes have work.
pub const CLOCK_STEP_MS: i64 = 15 * 60 * 1000;
/// The check phase's clock starts a year later than the drive phase's.
pub const CHECK_CLOCK_OFFSET_MS: i64 = 365 * 24 * 3_600_000;

/// The ledger configuration of a job.
pub fn ledger_config(job: &IterationJob) -> Config {
    ledger_config_at(job, &job.db_path, &job.vault_dir)
}

/// The ledger configuration of a job, for a database and vault elsewhere (crash images).
pub fn ledger_config_at(job: &IterationJob, db_path: &Path, vault_dir: &Path) -> Config {
    let mut config = Config::new(db_path, vault_dir);
    config.tuning = job.scenario.target.clone();
    config
}

/// The drive phase's clock and id seed (the same for every pass over one job).
pub fn drive_options(job: &IterationJob) -> OpenOptions {
    OpenOptions {
        clock: Arc::new(StepClock::new(CLOCK_START_MS, CLOCK_STEP_MS)),
        id_seed: Some(job.seed),
    }
}

/// Workload-side connection settings (`wal-autocheckpoint`), applied right after open.
pub fn apply_workload_pragmas(job: &IterationJob, ledger: &Ledger) -> Result<(), WorkerError> {
    if let Some(pages) = job.scenario.workload.wal_autocheckpoint {
        ledger
            .connection()
            .pragma_update(None, "wal_autocheckpoint", pages)
            .map_err(|source| {
                WorkerError::Open(LedgerError::Sqlite {
                    operation: "set wal_autocheckpoint",
                    path: job.db_path.clone(),
                    source,
                })
            })?;
    }
    Ok(())
}

/// The drive loop without a fault layer of its own: prepares the fail points and holds the plan
/// asks for, opens the ledger and executes the plan, reporting before and after each
/// operation.
///
/// # Errors
/// The ledger did not open, or `sink` failed.
pub fn run_plain(job: &IterationJob, sink: &mut Sink<'_>) -> Result<(), WorkerError> {
    let mut ledger = Ledger::open_with(&ledger_config(job), drive_options(job))?;
    apply_workload_pragmas(job, &ledger)?;
    let mut ids = CaptureIds::default();
    for (index, op) in job.plan.iter().enumerate() {
        sink(WorkerMessage::OpStarted { index })?;
        let outcome = execute(&mut ledger, op, &mut ids);
        sink(WorkerMessage::OpFinished { index, outcome })?;
    }
    Ok(())
}

/// The iteration's directory (the database's parent).
pub fn iteration_dir(job: &IterationJob) -> PathBuf {
    job.db_path
        .parent()
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf)
}

/// The job's database and vault names, placed in `dir`.
pub fn scratch_target(job: &IterationJob, dir: &Path) -> CheckedDatabase {
    CheckedDatabase {
        label: "scratch".into(),
        db_path: dir.join(job.db_path.file_name().unwrap_or("ledger.db".as_ref())),
        vault_dir: dir.join("vault"),
    }
}

/// Empties (or creates) `dir`.
///
/// # Errors
/// [`WorkerError::Scratch`] naming the directory.
pub fn fresh_dir(dir: &Path) -> Result<(), WorkerError> {
    let scratch_err = |source| WorkerError::Scratch {
        path: dir.display().to_string(),
        source,
    };
    if dir.exists() {
        std::fs::remove_dir_all(dir).map_err(scratch_err)?;
    }
    std::fs::create_dir_all(dir).map_err(scratch_err)
}
