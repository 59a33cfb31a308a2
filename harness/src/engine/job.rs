//! The supervisor–worker protocol: the [`IterationJob`] a worker reads, and the
//! [`WorkerMessage`] lines it writes on stdout.
//!
//! A worker writes each message as one JSON line and flushes it before going on, so everything
//! reported before a `kill -9` is still in the pipe for the supervisor to read.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::error::WorkerError;

use crate::oracle::{CheckName, DriveCounters, Execution, OpRecord, Verdict};
use crate::scenario::Scenario;
use crate::workload::{OpOutcome, Operation};

/// Everything a worker needs to run one iteration; written as `job.json` in the iteration's
/// directory.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct IterationJob {
    /// The scenario, with overrides applied.
    pub scenario: Scenario,
    /// Its family.
    pub family: String,
    /// The run's base seed.
    pub base_seed: u64,
    /// This iteration's seed.
    pub seed: u64,
    /// Iteration index.
    pub iteration: u32,
    /// Ledger database path.
    pub db_path: PathBuf,
    /// Vault directory for exports.
    pub vault_dir: PathBuf,
    /// The workload plan.
    pub plan: Vec<Operation>,
    /// Options the replay command must repeat to rebuild this scenario (`--scenarios`, `--set`).
    #[serde(default)]
    pub replay_args: Vec<String>,
}

/// Input of the check phase: the job and what the drive phase did.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CheckInput {
    /// The job.
    pub job: IterationJob,
    /// Plan and records as the supervisor saw them.
    pub execution: Execution,
    /// Crash images to check instead of the job's own files (power loss); empty = the job's
    /// database and vault.
    #[serde(default)]
    pub images: Vec<CheckedDatabase>,
    /// What the drive counted against the ledger's own counters, when it counted.
    #[serde(default)]
    pub drive_counters: Option<DriveCounters>,
    /// How the drive's ledger ended, when the trace knows it (crash images are always cut
    /// while the ledger was open).
    #[serde(default)]
    pub shutdown: Option<crate::oracle::restart::Shutdown>,
}

/// One database the check phase reopens and judges: the live files or a crash image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckedDatabase {
    /// A short name for verdict details (`drop`, `torn-0.5`, ...).
    pub label: String,
    /// The database file.
    pub db_path: PathBuf,
    /// The vault directory that goes with it (a copy per image: resuming writes to it).
    pub vault_dir: PathBuf,
}

impl CheckedDatabase {
    /// The job's own database and vault.
    pub fn live(job: &IterationJob) -> CheckedDatabase {
        CheckedDatabase {
            label: "live".into(),
            db_path: job.db_path.clone(),
            vault_dir: job.vault_dir.clone(),
        }
    }
}

/// One line a worker writes on stdout.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WorkerMessage {
    /// Operation `index` is about to run.
    OpStarted {
        /// Plan index.
        index: usize,
    },
    /// Operation `index` returned.
    OpFinished {
        /// Plan index.
        index: usize,
        /// What it returned.
        outcome: OpOutcome,
    },
    /// A fault the worker injected.
    Fault {
        /// Operation during which it happened.
        during_operation: Option<usize>,
        /// What was injected.
        description: String,
    },
    /// A check's verdict (check phase).
    Verdict {
        /// The check.
        name: CheckName,
        /// Whether it held.
        passed: bool,
        /// Expected vs found.
        detail: String,
    },
    /// Acknowledged writes found missing (check phase).
    LostAcknowledged {
        /// How many.
        count: u64,
    },
    /// A crash image the drive worker wrote after a power cut; the check phase judges it.
    CrashImage(CheckedDatabase),
    /// Bit flips the fault VFS injected in the drive phase and what the ledger's page
    /// checksums detected (drive phase, disk plans with bit flips).
    BitFlips(reports::BitFlipCounts),
    /// Exhaustive power loss: crash states checked and the time it took.
    CrashStates {
        /// Crash states (crash point × crash mode) reopened and checked.
        checked: u64,
        /// Microseconds spent on them (for the rate; never part of the trace).
        elapsed_us: u64,
    },
    /// A named measurement of the drive (lock waits, retries, allocation points swept); it
    /// lands in the iteration's `figures` and never in the trace.
    Figure {
        /// Its name in `figures`.
        name: String,
        /// Its value.
        value: u64,
    },
    /// The drive's count of the ledger's retries and busy answers against the ledger's own
    /// counters, at the end of the workload (drive phase, drives through the fault VFS).
    Counters(DriveCounters),
    /// The drive worker holds at a fail point (a `hold-at` process fault): the supervisor
    /// signals it now, inside the operation.
    Held {
        /// The fail point.
        point: String,
    },
    /// The drive worker crashes at a fail point (`panic`): it aborts right after this line, and
    /// the supervisor judges the abort like a `kill -9`.
    Crashed {
        /// The fail point.
        point: String,
    },
}

impl From<Verdict> for WorkerMessage {
    fn from(verdict: Verdict) -> WorkerMessage {
        WorkerMessage::Verdict {
            name: verdict.name,
            passed: verdict.passed,
            detail: verdict.detail,
        }
    }
}

/// Fault events as (operation during which it happened, description).
pub type FaultNotes = Vec<(Option<usize>, String)>;

/// Turns drive-phase messages into per-operation records and fault notes.
pub fn execution_from(plan: &[Operation], messages: &[WorkerMessage]) -> (Execution, FaultNotes) {
    let mut records = vec![OpRecord::NotStarted; plan.len()];
    let mut faults = Vec::new();
    let mut last_started = None;
    for message in messages {
        match message {
            WorkerMessage::OpStarted { index } => {
                records[*index] = OpRecord::InFlight;
                last_started = Some(*index);
            }
            WorkerMessage::Held { point } => {
                faults.push((last_started, format!("held at fail point {point}")))
            }
            WorkerMessage::Crashed { point } => {
                faults.push((last_started, format!("crash (abort) at fail point {point}")))
            }
            WorkerMessage::OpFinished { index, outcome } => {
                records[*index] = OpRecord::Finished(outcome.clone())
            }
            WorkerMessage::Fault {
                during_operation,
                description,
            } => faults.push((*during_operation, description.clone())),
            WorkerMessage::Verdict { .. }
            | WorkerMessage::LostAcknowledged { .. }
            | WorkerMessage::CrashImage(_)
            | WorkerMessage::BitFlips(_)
            | WorkerMessage::CrashStates { .. }
            | WorkerMessage::Counters(_)
            | WorkerMessage::Figure { .. } => {}
        }
    }
    let execution = Execution {
        operations: plan.to_vec(),
        records,
    };
    (execution, faults)
}

/// Writes one message as a JSON line on `out`, flushed before going on.
///
/// # Errors
/// [`WorkerError::Report`] when the supervisor's end of the pipe is gone.
pub fn report(out: &mut impl Write, message: &WorkerMessage) -> Result<(), WorkerError> {
    let mut line = serde_json::to_vec(message).expect("worker messages serialise");
    line.push(b'\n');
    out.write_all(&line)
        .and_then(|()| out.flush())
        .map_err(WorkerError::Report)
}

/// Writes one protocol line on stdout, best effort: for callbacks inside the ledger (a fail
/// point's hold or crash) that cannot return an error. The drive loop's stdout lock is
/// re-entrant on this thread, and no write is in progress when a fail point runs.
pub fn send_line(message: &WorkerMessage) {
    let _ = report(&mut io::stdout().lock(), message);
}

/// Reads a worker's input file.
///
/// # Errors
/// [`WorkerError::Job`] naming the file.
pub fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T, WorkerError> {
    let job_err = |source| WorkerError::Job {
        path: path.display().to_string(),
        source,
    };
    let text = fs::read_to_string(path).map_err(job_err)?;
    serde_json::from_str(&text).map_err(|e| job_err(io::Error::other(e)))
}
