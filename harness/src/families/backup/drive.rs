//! The drive phase of the `backup/` family: [`BackupRun`] runs the workload plan with backups,
//! archiving, rotation and restores between its operations, injects the drill's fault
//! ([`super::plan::BackupDrill`]) and judges `backups_restorable` and
//! `fault_response` in this process. Main type: [`BackupRun`].
//!
//! Operations are reported before and after they run like in every drive, so the supervisor
//! keeps the record and the check worker judges the live database afterwards (it must be
//! untouched by whatever happened to the backups). The model the backup verdicts use is built
//! from exactly the messages sent to the supervisor. Prunes run as the backup-guarded prune.
//! The drills with a crash or a kill live in `crash.rs`, the child process they kill in
//! `step.rs`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use ledger::backup::{BackupConfig, BackupReport, BackupState, list_backups};
use ledger::{Ledger, LedgerError, OpenOptions, StepClock};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::plan::BackupSpec;
use crate::backends::vfs::VfsOptions;
use crate::backends::vfs_drive::register_vfs;
use crate::engine::{
    IterationJob, ReportingDrive, Sink, WorkerError, WorkerMessage, execution_from, iteration_dir,
    ledger_config,
};
use crate::oracle::backups::{BackupsInDrive, ReportedBackup, ReportedPrune, restores_within};
use crate::oracle::fault_response::FaultResponse;
use crate::oracle::{AckModel, CheckName, DriveEvidence, judge_in_drive};
use crate::workload::{CaptureIds, OpOutcome, OpValue, execute_guarded};

/// Mixed into the iteration seed for the drill's own choices (which backup, which delay).
const DRILL_SALT: u64 = 0xBAC0_0F17_5EED_0007;

/// The drive's clock (the same as the plain drive's, shared by every ledger of the drill).
const CLOCK_START_MS: i64 = 1_767_225_600_000;
const CLOCK_STEP_MS: i64 = 15 * 60 * 1000;

/// One backup drill in progress: what was reported to the supervisor, the backups and prunes
/// the ledger reported, and the problems found so far.
pub(super) struct BackupRun<'a> {
    /// The job.
    pub(super) job: &'a IterationJob,
    /// The drill.
    pub(super) spec: &'a BackupSpec,
    /// What the drill reported so far, and the guarded prunes it saw.
    pub(super) drive: ReportingDrive<'a, 'a>,
    /// Where backups go.
    pub(super) config: BackupConfig,
    /// Every backup attempt the ledger reported.
    pub(super) backups: Vec<ReportedBackup>,
    /// `fault_response` problems.
    pub(super) problems: Vec<String>,
    /// `backups_restorable` problems found along the way (beyond the final restores).
    pub(super) restore_problems: Vec<String>,
    /// Figures for `results.json`.
    pub(super) figures: BTreeMap<String, u64>,
    /// The drill's seeded choices.
    pub(super) rng: ChaCha8Rng,
    /// The drive's shared clock.
    pub(super) clock: Arc<StepClock>,
}

impl<'a> BackupRun<'a> {
    pub(super) fn new(
        job: &'a IterationJob,
        spec: &'a BackupSpec,
        sink: &'a mut Sink<'a>,
    ) -> BackupRun<'a> {
        let mut config = BackupConfig::new(iteration_dir(job).join("backups"));
        config.step_pause = std::time::Duration::ZERO;
        config.archive = spec.drill.archives();
        BackupRun {
            job,
            spec,
            drive: ReportingDrive::new(job, sink),
            config,
            backups: Vec::new(),
            problems: Vec::new(),
            restore_problems: Vec::new(),
            figures: BTreeMap::new(),
            rng: ChaCha8Rng::seed_from_u64(job.seed ^ DRILL_SALT),
            clock: Arc::new(StepClock::new(CLOCK_START_MS, CLOCK_STEP_MS)),
        }
    }

    /// The options every ledger of the drill opens with (one clock for all).
    pub(super) fn options(&self) -> OpenOptions {
        OpenOptions {
            clock: self.clock.clone(),
            id_seed: Some(self.job.seed),
        }
    }

    /// Opens the live ledger (archiving on when the drill archives).
    pub(super) fn open(&self) -> Result<Ledger, WorkerError> {
        let mut ledger = Ledger::open_with(&ledger_config(self.job), self.options())?;
        if self.config.archive {
            ledger.enable_wal_archive(&self.config)?;
        }
        Ok(ledger)
    }

    /// Takes a backup with `config`, recording it (and the escalation it moved) as reported.
    pub(super) fn backup(
        &mut self,
        ledger: &mut Ledger,
        config: &BackupConfig,
    ) -> Result<BackupReport, LedgerError> {
        let at = self.drive.instant();
        let before = ledger
            .backup_status(config)
            .map(|s| s.consecutive_failures)
            .unwrap_or(0);
        let result = ledger.backup(config);
        *self.figures.entry("backups_attempted".into()).or_default() += 1;
        let verified = matches!(&result, Ok(r) if r.verification.as_ref().is_some_and(|v| v.ok));
        if let Ok(report) = &result {
            self.backups.push(ReportedBackup {
                path: report.path.clone(),
                verified,
                at,
                until: at,
                restored_as_of: None,
            });
        }
        if verified {
            *self.figures.entry("backups_verified".into()).or_default() += 1;
        }
        if config.verify {
            let after = ledger
                .backup_status(config)
                .map(|s| s.consecutive_failures)
                .unwrap_or(u32::MAX);
            let expected = if verified {
                0
            } else {
                before.saturating_add(1)
            };
            if after != expected {
                self.problems.push(format!(
                    "escalation: {} consecutive failures after a backup that {} (was {before}), expected {expected}",
                    after,
                    if verified { "verified" } else { "failed" }
                ));
            }
        }
        result
    }

    /// The plan's operations with `at_point(run, ledger, k)` after every `every`-th one.
    pub(super) fn run_plan(
        &mut self,
        ledger: &mut Ledger,
        at_point: &mut dyn FnMut(
            &mut BackupRun<'a>,
            &mut Ledger,
            usize,
        ) -> Result<bool, WorkerError>,
    ) -> Result<(), WorkerError> {
        for index in 0..self.job.plan.len() {
            self.drive.op(ledger, index, &self.config)?;
            if (index + 1) % self.spec.every == 0
                && !at_point(self, ledger, index / self.spec.every)?
            {
                return Ok(());
            }
        }
        Ok(())
    }

    /// Backup points in the plan.
    pub(super) fn points(&self) -> usize {
        self.job.plan.len() / self.spec.every
    }

    /// A seeded backup point (index) at which a fault lands: never the first when there are
    /// several, so a backup exists before it.
    pub(super) fn seeded_point(&mut self) -> usize {
        let points = self.points();
        self.rng
            .random_range(points.min(2).saturating_sub(1)..points.max(1))
    }

    /// The backups listed verified in `dir`, matched with what was reported; one problem for
    /// each verified listing nobody was told about.
    pub(super) fn listed_verified(&mut self, dir: &Path) -> Vec<ReportedBackup> {
        let config = BackupConfig {
            dir: dir.to_path_buf(),
            ..self.config.clone()
        };
        let list = match list_backups(&config) {
            Ok(list) => list,
            Err(e) => {
                self.restore_problems.push(format!(
                    "backups in {} cannot be listed: {e}",
                    dir.display()
                ));
                return Vec::new();
            }
        };
        let mut listed = Vec::new();
        for entry in list
            .backups
            .iter()
            .filter(|e| e.state == BackupState::Verified)
        {
            let name = entry.path.file_name();
            match self
                .backups
                .iter()
                .find(|b| b.path.file_name() == name && b.verified)
            {
                Some(reported) => listed.push(ReportedBackup {
                    path: entry.path.clone(),
                    ..reported.clone()
                }),
                None => self.restore_problems.push(format!(
                    "{} is listed verified but the ledger never reported it verified",
                    entry.path.display()
                )),
            }
        }
        listed
    }

    /// Restores each of `backups` into `scratch` and compares it with the final model; the
    /// reported backup of each that matched learns the instant it matched at.
    pub(super) fn judge_restores(&mut self, backups: &[ReportedBackup], scratch: &Path) {
        let model = self.drive.model();
        for (n, backup) in backups.iter().filter(|b| b.verified).enumerate() {
            let dir = scratch.join(format!("restore-{n}"));
            match restores_within(backup, &model, &dir) {
                Ok(instant) => {
                    *self.figures.entry("backups_restored".into()).or_default() += 1;
                    let name = backup.path.file_name();
                    for reported in self
                        .backups
                        .iter_mut()
                        .filter(|b| b.verified && b.path.file_name() == name)
                    {
                        reported.restored_as_of = Some(instant);
                    }
                }
                Err(problem) => self.restore_problems.push(problem),
            }
            let _ = std::fs::remove_dir_all(&dir);
        }
    }

    /// Sends the two verdicts, judged by the oracle from what the drill gathered, and the
    /// figures. `fault_response` only when the drill judges one.
    pub(super) fn finish(mut self, judges_response: bool) -> Result<(), WorkerError> {
        let backups = DriveEvidence::Backups(BackupsInDrive {
            restore_problems: std::mem::take(&mut self.restore_problems),
            prunes: self.drive.prunes.clone(),
            backups: self.backups.clone(),
            model: self.drive.model(),
        });
        self.drive
            .send(judge_in_drive(CheckName::BackupsRestorable, &backups).into())?;
        if judges_response {
            let observed = std::mem::take(&mut self.problems);
            let response = DriveEvidence::FaultResponse(FaultResponse::BackupDrill { observed });
            self.drive
                .send(judge_in_drive(CheckName::FaultResponse, &response).into())?;
        }
        let figures = std::mem::take(&mut self.figures);
        for (name, value) in figures {
            self.drive.send(WorkerMessage::Figure { name, value })?;
        }
        Ok(())
    }
}

/// A writer thread runs the plan on its own connection while this thread takes backups.
pub(super) fn concurrent_writes(mut run: BackupRun<'_>, scratch: &Path) -> Result<(), WorkerError> {
    let job = run.job;
    let shared: Arc<Mutex<Vec<WorkerMessage>>> = Arc::default();
    let mut backup_ledger = run.open()?;
    let mut writer_ledger = run.open()?;
    let writer_config = run.config.clone();
    let writer_messages = shared.clone();
    let plan = job.plan.clone();
    let writer = std::thread::spawn(move || {
        let mut ids = CaptureIds::default();
        for (index, op) in plan.iter().enumerate() {
            lock(&writer_messages).push(WorkerMessage::OpStarted { index });
            let outcome = execute_guarded(&mut writer_ledger, op, &mut ids, &writer_config);
            lock(&writer_messages).push(WorkerMessage::OpFinished { index, outcome });
        }
    });
    let config = run.config.clone();
    let mut forwarded = 0;
    let mut started_by_end = Vec::new();
    loop {
        let finished = writer.is_finished();
        forward(&mut run, &shared, &mut forwarded)?;
        if finished {
            break;
        }
        let at = run.drive.instant();
        let result = backup_ledger.backup(&config);
        let started = ops_started(&shared);
        forward(&mut run, &shared, &mut forwarded)?;
        *run.figures.entry("backups_attempted".into()).or_default() += 1;
        match result {
            Ok(report) => {
                let verified = report.verification.as_ref().is_some_and(|v| v.ok);
                if verified {
                    *run.figures.entry("backups_verified".into()).or_default() += 1;
                }
                started_by_end.push((run.backups.len(), started));
                run.backups.push(ReportedBackup {
                    path: report.path,
                    verified,
                    at,
                    until: at,
                    restored_as_of: None,
                });
            }
            Err(e) => run
                .problems
                .push(format!("backup under concurrent writes failed: {e}")),
        }
    }
    if writer.join().is_err() {
        run.problems.push("the writer thread panicked".into());
    }
    forward(&mut run, &shared, &mut forwarded)?;
    for (backup, started) in started_by_end {
        let until = run.drive.instant_after_ops(started);
        let backup = &mut run.backups[backup];
        backup.until = until;
        if backup.until > backup.at {
            *run.figures
                .entry("backups_with_concurrent_commits".into())
                .or_default() += 1;
        }
    }
    drop(backup_ledger);
    for (at, op, pruned) in run.prunes_from_messages() {
        run.drive.prunes.push(ReportedPrune {
            at,
            pruned,
            op: Some(op),
        });
    }
    let backups = run.backups.clone();
    run.judge_restores(&backups, scratch);
    run.finish(true)
}

impl BackupRun<'_> {
    /// Guarded prunes the writer thread made, as (instant before, ids), from the messages.
    fn prunes_from_messages(&self) -> Vec<(usize, usize, Vec<String>)> {
        let mut prunes = Vec::new();
        for (n, message) in self.drive.messages().iter().enumerate() {
            if let WorkerMessage::OpFinished {
                index,
                outcome: OpOutcome::Ok(OpValue::Pruned(ids)),
            } = message
                && !ids.is_empty()
            {
                let before =
                    AckModel::build(&execution_from(&self.job.plan, &self.drive.messages()[..n]).0);
                prunes.push((before.acknowledged_instant(), *index, ids.clone()));
            }
        }
        prunes
    }
}

fn lock(messages: &Mutex<Vec<WorkerMessage>>) -> std::sync::MutexGuard<'_, Vec<WorkerMessage>> {
    messages
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// How many of the plan's operations the writer has started (it runs them in order).
fn ops_started(shared: &Mutex<Vec<WorkerMessage>>) -> usize {
    lock(shared)
        .iter()
        .filter(|m| matches!(m, WorkerMessage::OpStarted { .. }))
        .count()
}

/// Sends the writer's messages not sent yet.
fn forward(
    run: &mut BackupRun<'_>,
    shared: &Mutex<Vec<WorkerMessage>>,
    forwarded: &mut usize,
) -> Result<(), WorkerError> {
    let fresh: Vec<WorkerMessage> = lock(shared)[*forwarded..].to_vec();
    *forwarded += fresh.len();
    for message in fresh {
        run.drive.send(message)?;
    }
    Ok(())
}

/// Backups written through the fault VFS with the scenario's destination rules.
pub(super) fn dest_faults(mut run: BackupRun<'_>, scratch: &Path) -> Result<(), WorkerError> {
    let vfs = register_vfs(VfsOptions::default())?;
    vfs.set_seed(run.job.seed);
    for rule in &run.spec.dest_rules {
        vfs.add_rule(rule.clone())?;
    }
    let mut faulty = run.config.clone();
    faulty.dest_vfs = Some(vfs.name().to_owned());
    let mut ledger = run.open()?;
    // A destination that keeps failing (every rule `from-nth`) can produce no verified backup;
    // a transient fault SQLite absorbed may leave an intact backup, which verification (reading
    // through the default VFS) and `backups_restorable` judge.
    let failing_for_good = run
        .spec
        .dest_rules
        .iter()
        .all(|r| matches!(r.trigger, crate::backends::vfs::Trigger::FromNth(_)));
    let mut fired_total = 0;
    run.run_plan(&mut ledger, &mut |run, ledger, _| {
        let seen = vfs.events().len();
        let result = run.backup(ledger, &faulty);
        let events = vfs.events();
        let fired = events.len() - seen;
        fired_total += fired;
        for event in &events[seen..] {
            run.drive
                .note(format!("backup destination: {}", event.describe()))?;
        }
        let verified = matches!(&result, Ok(r) if r.verification.as_ref().is_some_and(|v| v.ok));
        if fired > 0 && verified {
            if failing_for_good {
                run.problems.push(format!(
                    "a backup whose destination failed {fired} time(s) was reported verified"
                ));
            } else {
                *run.figures
                    .entry("verified_despite_transient_fault".into())
                    .or_default() += 1;
            }
        }
        if let Err(e) = &result {
            *run.figures.entry("backups_failed".into()).or_default() += 1;
            run.drive.note(format!("backup failed: {}", e.kind()))?;
        }
        Ok(true)
    })?;
    if fired_total == 0 {
        run.problems
            .push("the destination rules never fired: the drill tested nothing".into());
    }
    run.figures
        .insert("destination_faults".into(), fired_total as u64);
    refused_prune(&mut run, &mut ledger)?;
    drop(ledger);
    let listed = run.listed_verified(&run.config.dir.clone());
    run.judge_restores(&listed, scratch);
    run.finish(true)
}

/// With no verified backup, or pruning paused by escalation, a guarded prune of everything
/// exported must be refused (the drill's last step; it is not a plan operation, so a prune that
/// goes through also shows as lost acknowledged captures in the check phase).
fn refused_prune(run: &mut BackupRun<'_>, ledger: &mut Ledger) -> Result<(), WorkerError> {
    let config = run.config.clone();
    let status = ledger.backup_status(&config)?;
    let must_refuse = status.health == ledger::backup::BackupHealth::PruningPaused
        || status.last_verified_snapshot_at_ms.is_none();
    if !must_refuse {
        return Ok(());
    }
    match ledger.prune_after_verified_backup(&config, 0) {
        Err(_) => *run.figures.entry("prunes_refused".into()).or_default() += 1,
        Ok(pruned) => run.problems.push(format!(
            "a guarded prune ran ({} captures removed) with {} and {} consecutive backup failures",
            pruned.pruned.len(),
            if status.last_verified_snapshot_at_ms.is_none() {
                "no verified backup"
            } else {
                "a verified backup"
            },
            status.consecutive_failures
        )),
    }
    Ok(())
}

/// A verified backup is damaged at rest at a seeded backup point; re-verification must catch it.
pub(super) fn corrupt_backup(mut run: BackupRun<'_>, scratch: &Path) -> Result<(), WorkerError> {
    use rand::RngExt;
    let points = run.points().max(1);
    let target = run.rng.random_range(0..points);
    let damage_at = run.rng.random_range(0.1..0.9f64);
    let mut ledger = run.open()?;
    let config = run.config.clone();
    run.run_plan(&mut ledger, &mut |run, ledger, k| {
        let report = run.backup(ledger, &config);
        if k != target {
            return Ok(true);
        }
        let Ok(report) = report else {
            run.problems.push("the backup to damage could not be taken".into());
            return Ok(true);
        };
        let path = report.path.clone();
        damage(&path, damage_at).map_err(|source| WorkerError::Scratch {
            path: path.display().to_string(),
            source,
        })?;
        run.drive.note("a verified backup file damaged at rest".into())?;
        let before = ledger.backup_status(&config).map(|s| s.consecutive_failures).unwrap_or(0);
        let caught = match ledger.verify_backup(&config, &path) {
            Ok(verdict) if verdict.ok => {
                run.problems
                    .push(format!("re-verification passed the damaged backup {}", path.display()));
                false
            }
            Ok(_) => {
                *run.figures.entry("damage_caught".into()).or_default() += 1;
                true
            }
            Err(e) => {
                run.problems.push(format!("re-verification errored instead of failing: {e}"));
                false
            }
        };
        let after = ledger.backup_status(&config).map(|s| s.consecutive_failures).unwrap_or(0);
        if after != before + 1 {
            run.problems.push(format!(
                "escalation: {after} consecutive failures after a failed verification (was {before})"
            ));
        }
        for backup in run.backups.iter_mut().filter(|b| caught && b.path == path) {
            backup.verified = false;
        }
        Ok(true)
    })?;
    drop(ledger);
    let listed = run.listed_verified(&run.config.dir.clone());
    run.judge_restores(&listed, scratch);
    run.finish(true)
}

/// Damage a file: half the time truncate it at `fraction` of its length (page aligned),
/// otherwise flip one byte at that fraction.
fn damage(path: &PathBuf, fraction: f64) -> std::io::Result<()> {
    let bytes = std::fs::read(path)?;
    let offset = ((bytes.len() as f64 * fraction) as usize).min(bytes.len().saturating_sub(1));
    if fraction < 0.5 {
        let file = std::fs::OpenOptions::new().write(true).open(path)?;
        file.set_len(offset.max(1) as u64)
    } else {
        let mut bytes = bytes;
        bytes[offset] ^= 0x5a;
        std::fs::write(path, bytes)
    }
}
