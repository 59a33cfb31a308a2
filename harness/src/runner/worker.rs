//! The worker side: the hidden `__worker drive|check JOB` subcommand.
//!
//! `drive` opens the ledger and executes the plan, reporting each operation before and after it
//! runs (through the fault VFS when the plan has a disk layer: see `vfs_drive.rs`). `check` runs
//! in a fresh process after the drive worker is gone: it reopens the ledger (which runs
//! recovery) on the live files or on each crash image, gathers [`Evidence`] and prints each
//! check's verdict. `exhaustive` (power loss, `--exhaustive`) does both for every crash point in
//! one process (`exhaustive.rs`).

use std::fs;
use std::io::{self, Write};
use std::path::Path;
use std::sync::Arc;

use ledger::{Config, ExportMode, Ledger, LedgerError, OpenOptions, Status, StepClock};

use super::job::{CheckInput, CheckedDatabase, IterationJob, WorkerMessage};
use super::verdicts::Verdicts;
use crate::faults::vfs::VfsError;
use crate::oracle::checks::RecoveryEvidence;
use crate::oracle::{AckModel, CheckName, Evidence, Execution, LedgerSnapshot};
use crate::workload::{CaptureIds, execute};

/// The logical clock's start: 2026-01-01T00:00:00Z.
const CLOCK_START_MS: i64 = 1_767_225_600_000;
/// Each clock reading advances 15 minutes, so a workload spans days and prunes have work.
const CLOCK_STEP_MS: i64 = 15 * 60 * 1000;
/// The check phase's clock starts a year later than the drive phase's.
const CHECK_CLOCK_OFFSET_MS: i64 = 365 * 24 * 3_600_000;

/// A worker that could not do its job (as opposed to a check that failed).
#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    /// The job file could not be read.
    #[error("cannot read job {path}: {source}")]
    Job {
        /// The job file.
        path: String,
        /// What went wrong.
        #[source]
        source: io::Error,
    },
    /// The ledger could not be opened before the workload.
    #[error("ledger did not open: {0}")]
    Open(#[from] LedgerError),
    /// stdout is gone (the supervisor died).
    #[error("cannot report to the supervisor: {0}")]
    Report(#[source] io::Error),
    /// The fault VFS could not be registered, took a bad rule, or could not write an image.
    #[error("fault VFS: {0}")]
    Vfs(#[from] VfsError),
    /// The fail crate refused a fail-point action of the plan.
    #[error("fail points: {0}")]
    FailPoints(String),
    /// A scratch directory (counting pass, crash state) could not be made or copied.
    #[error("cannot prepare {path}: {source}")]
    Scratch {
        /// The directory.
        path: String,
        /// What went wrong.
        #[source]
        source: io::Error,
    },
    /// A backup drill's own step (a child's archive, restore or rotation, or the drill's set-up)
    /// failed where it had to succeed.
    #[error("backup drill: {0}")]
    Backup(String),
}

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
pub(super) fn drive_options(job: &IterationJob) -> OpenOptions {
    OpenOptions {
        clock: Arc::new(StepClock::new(CLOCK_START_MS, CLOCK_STEP_MS)),
        id_seed: Some(job.seed),
    }
}

/// Workload-side connection settings (`wal-autocheckpoint`), applied right after open.
pub(super) fn apply_workload_pragmas(
    job: &IterationJob,
    ledger: &Ledger,
) -> Result<(), WorkerError> {
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

pub(super) fn report(out: &mut impl Write, message: &WorkerMessage) -> Result<(), WorkerError> {
    let mut line = serde_json::to_vec(message).expect("worker messages serialise");
    line.push(b'\n');
    out.write_all(&line)
        .and_then(|()| out.flush())
        .map_err(WorkerError::Report)
}

pub(super) fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T, WorkerError> {
    let job_err = |source| WorkerError::Job {
        path: path.display().to_string(),
        source,
    };
    let text = fs::read_to_string(path).map_err(job_err)?;
    serde_json::from_str(&text).map_err(|e| job_err(io::Error::other(e)))
}

/// Drive phase: executes the plan, reporting before and after each operation on stdout.
pub fn drive(job_path: &Path) -> Result<(), WorkerError> {
    let job: IterationJob = read_json(job_path)?;
    let mut out = io::stdout().lock();
    drive_job(&job, &mut |message| report(&mut out, &message))
}

/// Executes the job's plan in this process, handing each message to `sink` as it happens.
/// With a disk-layer plan the ledger is opened through the fault VFS (see `vfs_drive.rs`).
pub fn drive_job(
    job: &IterationJob,
    sink: &mut dyn FnMut(WorkerMessage) -> Result<(), WorkerError>,
) -> Result<(), WorkerError> {
    if let Some(backup) = &job.scenario.backup {
        return super::backup_drive::drive(job, backup, sink);
    }
    if let crate::faults::FaultPlan::Corruption(corruption) = &job.scenario.fault {
        return super::corruption_drive::drive(job, corruption, sink);
    }
    if job.scenario.fault.vfs_options().is_some() {
        return super::vfs_drive::drive(job, sink);
    }
    if let crate::faults::FaultPlan::LockContention(locks) = &job.scenario.fault {
        return super::lock_drive::drive(job, locks, sink);
    }
    if matches!(
        job.scenario.fault,
        crate::faults::FaultPlan::Alloc(_) | crate::faults::FaultPlan::MemoryPressure(_)
    ) {
        return super::mem_drive::drive(job, sink);
    }
    super::fail_drive::prepare(job)?;
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

/// Check phase: reopens the ledger (or each crash image), gathers evidence, prints verdicts.
pub fn check(input_path: &Path) -> Result<(), WorkerError> {
    let input: CheckInput = read_json(input_path)?;
    let targets = if input.images.is_empty() {
        vec![CheckedDatabase::live(&input.job)]
    } else {
        input.images.clone()
    };
    let mut verdicts = Verdicts::new(&input.job.scenario.checks);
    let mut figures = Vec::new();
    for target in &targets {
        let evidence = evidence_after_reopen_at(&input.job, &input.execution, target);
        if let Some(after) = &evidence.after_recovery {
            figures = super::after_recovery::figures(after);
        }
        verdicts.add(&target.label, &evidence);
    }
    let mut out = io::stdout().lock();
    for message in verdicts.messages(targets.len() > 1) {
        report(&mut out, &message)?;
    }
    for (name, value) in figures {
        report(&mut out, &WorkerMessage::Figure { name, value })?;
    }
    Ok(())
}

/// Reopens the job's ledger (running its recovery) and gathers what the checks judge. Resumes
/// the recoverable captures when the scenario asks for `recovery_complete`, so it changes the
/// database: call it once, last.
pub fn evidence_after_reopen(job: &IterationJob, execution: &Execution) -> Evidence {
    evidence_after_reopen_at(job, execution, &CheckedDatabase::live(job))
}

/// [`evidence_after_reopen`] on another database and vault (a crash image), opened with the
/// default VFS through the ledger's normal open.
pub fn evidence_after_reopen_at(
    job: &IterationJob,
    execution: &Execution,
    target: &CheckedDatabase,
) -> Evidence {
    let model = AckModel::build(execution);
    let options = OpenOptions {
        clock: Arc::new(StepClock::new(
            CLOCK_START_MS + CHECK_CLOCK_OFFSET_MS,
            CLOCK_STEP_MS,
        )),
        id_seed: Some(job.seed.wrapping_add(1)),
    };
    let config = ledger_config_at(job, &target.db_path, &target.vault_dir);
    let mut reopened = Ledger::open_with(&config, options);
    let corruption = job
        .scenario
        .checks
        .contains(&CheckName::CorruptionAccounted)
        .then(|| match &mut reopened {
            Ok(ledger) => super::corruption_drive::evidence(ledger, &model),
            Err(e) => super::corruption_drive::refused_at_open(e, &model),
        });
    let snapshot =
        LedgerSnapshot::read(&target.db_path, &target.vault_dir).map_err(|e| e.to_string());
    let wants_after = super::after_recovery::wanted(&job.scenario.checks);
    let wants_resume = job.scenario.checks.contains(&CheckName::RecoveryComplete) || wants_after;
    let mut after_recovery = None;
    let (reopen, recovery) = match reopened {
        Ok(mut ledger) => {
            let recovery = recovery_evidence(&mut ledger, wants_resume);
            if wants_after {
                after_recovery = Some(super::after_recovery::gather(
                    &mut ledger,
                    execution,
                    &model,
                    target,
                ));
            }
            (Ok(()), recovery)
        }
        Err(e) => {
            let message = format!("ledger did not reopen: {e}");
            (
                Err(message.clone()),
                RecoveryEvidence {
                    recoverable: Err(message),
                    resume_errors: Vec::new(),
                    left_after_resume: Vec::new(),
                },
            )
        }
    };
    Evidence {
        snapshot,
        model,
        recovery,
        reopen,
        corruption,
        after_recovery,
    }
}

/// Reads the crash-resume queue (`Ledger::recovery_queue`), then (if asked) drives every
/// queued capture to a terminal state.
fn recovery_evidence(ledger: &mut Ledger, resume: bool) -> RecoveryEvidence {
    let recoverable = ledger.recovery_queue();
    let mut resume_errors = Vec::new();
    let mut left_after_resume = Vec::new();
    if resume && let Ok(queue) = &recoverable {
        for entry in queue {
            if let Err(e) = resume_one(ledger, &entry.id, entry.status) {
                resume_errors.push(format!("{}: {e}", entry.id));
            }
        }
        left_after_resume =
            non_terminal_ids(ledger).unwrap_or_else(|e| vec![format!("query failed: {e}")]);
    }
    RecoveryEvidence {
        recoverable: recoverable
            .map(|queue| queue.into_iter().map(|entry| entry.id).collect())
            .map_err(|e| e.to_string()),
        resume_errors,
        left_after_resume,
    }
}

/// Finishes one capture the way the app would after a restart.
fn resume_one(ledger: &mut Ledger, id: &str, status: Status) -> Result<(), LedgerError> {
    match status {
        Status::Staged => {
            match ledger.record_transcription(id, &format!("resumed transcript of {id}")) {
                Ok(()) => ledger.record_export(id, ExportMode::Initial).map(drop),
                Err(LedgerError::DuplicateContent { .. }) => ledger
                    .record_export(id, ExportMode::DuplicateSkip)
                    .map(drop),
                Err(e) => Err(e),
            }
        }
        Status::Transcribed => ledger.record_export(id, ExportMode::Initial).map(drop),
        Status::FailedTranscription => ledger.record_export(id, ExportMode::Placeholder).map(drop),
        _ => Ok(()),
    }
}

/// Non-terminal capture ids, read with plain SQL rather than the ledger's query.
fn non_terminal_ids(ledger: &Ledger) -> rusqlite::Result<Vec<String>> {
    let mut stmt = ledger
        .connection()
        .prepare("SELECT id, status FROM captures ORDER BY created_at, id")?;
    let rows = stmt.query_map([], |row| {
        Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?))
    })?;
    let mut left = Vec::new();
    for row in rows {
        let (id, status) = row?;
        if Status::parse(&status).is_none_or(|s| !s.is_terminal()) {
            left.push(id);
        }
    }
    Ok(left)
}
