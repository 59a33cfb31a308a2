//! One backup-side step in a child process, so a drill can `kill -9` it: the hidden
//! `__worker backup-step INPUT` phase ([`backup_step`]) and the parent's side
//! ([`run_and_kill`]). Main type: [`StepInput`].
//!
//! The child prints `started` before the step and `done` after it; the parent waits for
//! `started`, sleeps a seeded delay and sends `SIGKILL`, so the kill lands before, inside or
//! after the step. The child stays in the drive worker's process group, so the supervisor's
//! clean-up reaches it too.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use ledger::backup::{BackupConfig, RestorePlan};
use ledger::{Config, Ledger, OpenOptions, StepClock};
use serde::{Deserialize, Serialize};

use crate::engine::{WorkerError, read_json};

/// What the child does.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepInput {
    /// Open the live ledger with archiving on and archive its WAL (and checkpoint when asked).
    Archive {
        /// The live database.
        db: PathBuf,
        /// Its vault.
        vault: PathBuf,
        /// The scenario's ledger tuning.
        tuning: ledger::Tuning,
        /// Where the archive is.
        backups: BackupConfig,
        /// Archive, then checkpoint under the write lock.
        checkpoint: bool,
        /// The child's clock start (after everything the drive's clock handed out).
        clock_start_ms: i64,
    },
    /// Carry out a restore plan.
    Restore {
        /// The plan.
        plan: RestorePlan,
    },
    /// Apply the retention policy to the backup directory.
    Rotate {
        /// The backup directory and its policy.
        backups: BackupConfig,
    },
}

/// How a killed step ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct StepEnd {
    /// The child said `done` before the kill: the step completed.
    pub(super) done: bool,
}

/// Child side: runs the step in `input`, saying `started` and `done` on stdout.
///
/// # Errors
/// [`WorkerError`] when the input is unreadable or the step fails (the parent sees no `done`).
pub fn backup_step(input: &Path) -> Result<(), WorkerError> {
    let step: StepInput = read_json(input)?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "started")
        .and_then(|()| out.flush())
        .map_err(WorkerError::Report)?;
    let failed = |e: &dyn std::fmt::Display| WorkerError::Step(format!("backup drill: {e}"));
    match step {
        StepInput::Archive {
            db,
            vault,
            tuning,
            backups,
            checkpoint,
            clock_start_ms,
        } => {
            let options = OpenOptions {
                clock: Arc::new(StepClock::new(clock_start_ms, 1)),
                id_seed: Some(1),
            };
            let mut config = Config::new(db, vault);
            config.tuning = tuning;
            let mut ledger = Ledger::open_with(&config, options)?;
            ledger.enable_wal_archive(&backups)?;
            if checkpoint {
                ledger
                    .checkpoint_archived(&backups)
                    .map_err(|e| failed(&e))?;
            } else {
                ledger.archive_wal(&backups).map_err(|e| failed(&e))?;
            }
        }
        StepInput::Restore { plan } => {
            ledger::backup::restore(&plan).map_err(|e| failed(&e))?;
        }
        StepInput::Rotate { backups } => {
            ledger::backup::rotate(&backups, false).map_err(|e| failed(&e))?;
        }
    }
    writeln!(out, "done")
        .and_then(|()| out.flush())
        .map_err(WorkerError::Report)
}

/// Parent side: runs `input` in a child (`dir/step.json`), kills it `delay_us` after it said
/// `started` (unless it already exited), and reports whether it finished.
///
/// # Errors
/// [`WorkerError::Scratch`] when the child cannot be started or never says `started`.
pub(super) fn run_and_kill(
    input: &StepInput,
    dir: &Path,
    delay_us: u64,
) -> Result<StepEnd, WorkerError> {
    let path: PathBuf = dir.join("step.json");
    let scratch = |source: std::io::Error| WorkerError::Scratch {
        path: path.display().to_string(),
        source,
    };
    let bytes = serde_json::to_vec(input).map_err(|e| scratch(std::io::Error::other(e)))?;
    std::fs::write(&path, bytes).map_err(scratch)?;
    let exe = std::env::current_exe().map_err(scratch)?;
    let mut child = Command::new(exe)
        .args(["__worker", "backup-step"])
        .arg(&path)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(scratch)?;
    let stdout = child.stdout.take().expect("stdout is piped");
    let mut lines = BufReader::new(stdout).lines();
    let started = matches!(lines.next(), Some(Ok(line)) if line == "started");
    if started {
        std::thread::sleep(Duration::from_micros(delay_us));
    }
    let _ = child.kill();
    let _ = child.wait();
    if !started {
        return Err(scratch(std::io::Error::other(
            "the backup-step child never said `started`",
        )));
    }
    let done = lines.any(|line| line.is_ok_and(|l| l == "done"));
    Ok(StepEnd { done })
}
