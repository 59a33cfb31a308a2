//! The clock family's drive: [`drive`] runs the plan on one ledger whose clock seam is a
//! [`WallClock`] stepped by the schedule, with WAL archiving after every operation, a backup and
//! a rotation every `every` operations and prunes guarded by backups, then judges rotation, the
//! prunes, every verified backup and point-in-time restores (`backups_restorable`).
//!
//! Operations are reported before and after they run like in every drive, so the check worker
//! judges the live database afterwards (no acknowledged write lost). The model the drive judges
//! against is built from exactly the messages sent to the supervisor.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use ledger::backup::{
    BackupConfig, BackupManifest, BackupState, RestoreTarget, VerificationState, list_backups,
    plan_restore, rotate,
};
use ledger::{Ledger, OpenOptions};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::plan::{ClockPlan, ClockStep};
use super::wall::WallClock;
use crate::engine::drive::CLOCK_START_MS;
use crate::engine::{
    IterationJob, ReportingDrive, Sink, WorkerError, WorkerMessage, fresh_dir, iteration_dir,
    ledger_config,
};
use crate::oracle::backups::{
    BackupsInDrive, ReportedBackup, expected_at, plan_matches, restores_within,
};
use crate::oracle::{CheckName, DriveEvidence, judge_in_drive};

/// Each wall-clock reading advances ten minutes (a workload spans a day or more, so rotation
/// buckets and prune ages differ).
const WALL_STEP_MS: i64 = 10 * 60 * 1000;

/// Mixed into the iteration seed for the restore targets.
const RESTORE_SALT: u64 = 0xC10C_0000_7E57_0015;

/// One point of the ledger's history: a time the ledger recorded (an archive commit or a
/// backup) and the model instant (acknowledged writes) it holds.
#[derive(Debug, Clone, Copy)]
struct Recorded {
    at_ms: i64,
    instant: usize,
}

/// The drive in progress.
struct ClockRun<'a, 'b> {
    job: &'a IterationJob,
    plan: &'a ClockPlan,
    drive: ReportingDrive<'a, 'b>,
    config: BackupConfig,
    backups: Vec<ReportedBackup>,
    history: Vec<Recorded>,
    problems: Vec<String>,
    figures: BTreeMap<String, u64>,
}

impl ClockRun<'_, '_> {
    fn count(&mut self, figure: &str) {
        *self.figures.entry(figure.into()).or_default() += 1;
    }

    /// Archives the WAL and records the commit time the ledger gave it.
    fn archive(&mut self, ledger: &mut Ledger) -> Result<(), WorkerError> {
        match ledger.archive_wal(&self.config) {
            Ok(report) => {
                if let Some(step) = report.step {
                    let instant = self.drive.instant();
                    self.history.push(Recorded {
                        at_ms: step.at_ms,
                        instant,
                    });
                }
                if let Some((reason, path)) = report.lineage_break {
                    self.count("lineage_breaks");
                    self.drive
                        .note(format!("archive started a new lineage: {reason}"))?;
                    self.lineage_backup(path);
                }
            }
            Err(e) => self.problems.push(format!("archiving failed: {e}")),
        }
        Ok(())
    }

    /// Records the backup a lineage break made (inside `archive_wal`) as its manifest says.
    fn lineage_backup(&mut self, path: std::path::PathBuf) {
        let at = self.drive.instant();
        match BackupManifest::load(&path) {
            Ok(manifest) => {
                self.history.push(Recorded {
                    at_ms: manifest.created_at_ms,
                    instant: at,
                });
                self.backups.push(ReportedBackup {
                    verified: manifest.verification.state == VerificationState::Verified,
                    path,
                    at,
                    until: at,
                    restored_as_of: None,
                });
            }
            Err(e) => self
                .problems
                .push(format!("the backup of a new lineage has no manifest: {e}")),
        }
    }

    /// Takes a backup and records it (and its time) as the ledger reported it.
    fn backup(&mut self, ledger: &mut Ledger) {
        let at = self.drive.instant();
        self.count("backups_attempted");
        match ledger.backup(&self.config) {
            Ok(report) => {
                let verified = report.verification.as_ref().is_some_and(|v| v.ok);
                if verified {
                    self.count("backups_verified");
                }
                self.history.push(Recorded {
                    at_ms: report.manifest.created_at_ms,
                    instant: at,
                });
                self.backups.push(ReportedBackup {
                    path: report.path,
                    verified,
                    at,
                    until: at,
                    restored_as_of: None,
                });
            }
            Err(e) => self.problems.push(format!("backup failed: {e}")),
        }
    }

    /// Rotates; the newest backup reported verified must still be listed verified after it.
    fn rotate(&mut self) {
        match rotate(&self.config, false) {
            Ok(report) => {
                *self.figures.entry("rotated_away".into()).or_default() +=
                    report.deleted.len() as u64;
            }
            Err(e) => {
                self.problems.push(format!("rotation failed: {e}"));
                return;
            }
        }
        let Some(newest) = self.backups.iter().rev().find(|b| b.verified).cloned() else {
            return;
        };
        let listed = list_backups(&self.config).map(|list| {
            list.backups
                .iter()
                .any(|e| e.path == newest.path && e.state == BackupState::Verified)
        });
        if !matches!(listed, Ok(true)) {
            self.problems.push(format!(
                "rotation deleted the newest verified backup {} (taken after {} acknowledged writes)",
                newest.path.display(),
                newest.at
            ));
        }
    }
}

/// The drive phase of one clock iteration (see the module doc).
///
/// # Errors
/// The ledger did not open, a scratch directory could not be made, or `sink` failed.
pub(super) fn drive(
    plan: &ClockPlan,
    job: &IterationJob,
    sink: &mut Sink<'_>,
) -> Result<(), WorkerError> {
    let scratch = iteration_dir(job).join("clock-scratch");
    fresh_dir(&scratch)?;
    let mut config = BackupConfig::new(iteration_dir(job).join("backups"));
    config.step_pause = std::time::Duration::ZERO;
    config.archive = true;
    config.retention = plan.retention;
    let mut run = ClockRun {
        job,
        plan,
        drive: ReportingDrive::new(job, sink),
        config,
        backups: Vec::new(),
        history: Vec::new(),
        problems: Vec::new(),
        figures: BTreeMap::new(),
    };
    let wall = Arc::new(WallClock::new(CLOCK_START_MS, WALL_STEP_MS));
    let options = OpenOptions {
        clock: wall.clone(),
        id_seed: Some(job.seed),
    };
    let mut ledger = Ledger::open_with(&ledger_config(job), options)?;
    ledger.enable_wal_archive(&run.config)?;
    run.backup(&mut ledger);
    let schedule = plan.schedule(job.seed, job.plan.len());
    let mut stalled_until = None;
    for index in 0..job.plan.len() {
        if stalled_until == Some(index) {
            wall.set_stalled(false);
            stalled_until = None;
        }
        if let Some((_, step)) = schedule.iter().find(|(at, _)| *at == index) {
            match *step {
                ClockStep::Jump(ms) => wall.jump(ms),
                ClockStep::Stall(ops) => {
                    wall.set_stalled(true);
                    stalled_until = Some(index + ops);
                }
            }
            run.count("clock_steps");
            run.drive.send(WorkerMessage::Fault {
                during_operation: Some(index),
                description: step.describe(),
            })?;
        }
        run.drive.op(&mut ledger, index, &run.config)?;
        run.archive(&mut ledger)?;
        if (index + 1) % plan.every == 0 {
            run.backup(&mut ledger);
            run.rotate();
        }
    }
    wall.set_stalled(false);
    drop(ledger);
    judge_restores(&mut run, &scratch);
    finish(run)
}

/// Restores every backup still listed verified (each must equal the model at its snapshot
/// point) and point-in-time restores to seeded times T (each must equal the model at the last
/// recorded point at or before T, as the ledger's time recorded it).
fn judge_restores(run: &mut ClockRun<'_, '_>, scratch: &Path) {
    let model = run.drive.model();
    let listed = match list_backups(&run.config) {
        Ok(list) => list.backups,
        Err(e) => {
            run.problems.push(format!("backups cannot be listed: {e}"));
            return;
        }
    };
    for (n, entry) in listed
        .iter()
        .filter(|e| e.state == BackupState::Verified)
        .enumerate()
    {
        match run
            .backups
            .iter_mut()
            .find(|b| b.verified && b.path == entry.path)
        {
            Some(reported) => {
                match restores_within(reported, &model, &scratch.join(format!("backup-{n}"))) {
                    Ok(instant) => {
                        reported.restored_as_of = Some(instant);
                        run.count("backups_restored");
                    }
                    Err(problem) => run.problems.push(problem),
                }
            }
            None => run.problems.push(format!(
                "{} is listed verified but the ledger never reported it verified",
                entry.path.display()
            )),
        }
    }
    let oldest = listed
        .iter()
        .filter(|e| matches!(e.state, BackupState::Verified | BackupState::Unverified))
        .map(|e| e.created_at_ms)
        .min();
    let (Some(oldest), Some(last)) = (oldest, run.history.last().copied()) else {
        run.problems
            .push("no backup or archive to restore a point in time from".into());
        return;
    };
    let mut rng = ChaCha8Rng::seed_from_u64(run.job.seed ^ RESTORE_SALT);
    let reachable: Vec<i64> = run
        .history
        .iter()
        .map(|r| r.at_ms)
        .filter(|t| *t >= oldest)
        .collect();
    for n in 0..run.plan.restores {
        let t = if n == 0 || reachable.is_empty() {
            last.at_ms + 1_000
        } else {
            let near = reachable[rng.random_range(0..reachable.len())];
            (near + rng.random_range(-1..=1)).max(oldest)
        };
        let expected = run
            .history
            .iter()
            .rev()
            .find(|r| r.at_ms <= t)
            .map_or(0, |r| r.instant);
        let dir = scratch.join(format!("pitr-{n}"));
        let outcome = plan_restore(
            &run.config,
            RestoreTarget::Timestamp { ms: t },
            &dir.join("restored.db"),
        )
        .map_err(|e| format!("no plan: {e}"))
        .and_then(|plan| plan_matches(&plan, &expected_at(&model, expected), &dir));
        match outcome {
            Ok(()) => run.count("point_in_time_restores"),
            Err(problem) => run.problems.push(format!(
                "point-in-time restore to T={t} (expected the model after {expected} acknowledged writes, the last recorded at or before T): {problem}"
            )),
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}

/// Sends `backups_restorable`, judged by the oracle from what the drive gathered, and the
/// figures.
fn finish(mut run: ClockRun<'_, '_>) -> Result<(), WorkerError> {
    let evidence = DriveEvidence::Backups(BackupsInDrive {
        restore_problems: std::mem::take(&mut run.problems),
        prunes: run.drive.prunes.clone(),
        backups: run.backups.clone(),
        model: run.drive.model(),
    });
    run.drive
        .send(judge_in_drive(CheckName::BackupsRestorable, &evidence).into())?;
    for (name, value) in std::mem::take(&mut run.figures) {
        run.drive.send(WorkerMessage::Figure { name, value })?;
    }
    Ok(())
}
