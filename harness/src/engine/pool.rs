//! [`run`]: the whole run, `--jobs` iterations at a time, streaming events to the reporters.
//!
//! Iterations are taken from a queue in plan order. Ctrl-C (through [`RunControl`]) or a spent
//! time budget stops new iterations from starting; those are reported as skipped. Progress is a
//! reporter like any other output.

use std::collections::{BTreeMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, mpsc};
use std::thread;
use std::time::{Duration, Instant};

use reports::events::{RunStarted, ScenarioInfo};
use reports::results::Shard;
use reports::{IterationStatus, Reporter, RunEvent, Summary};

use super::control::RunControl;
use super::job::IterationJob;
use super::outcome::IterationOutcome;
use super::seed::iteration_seed;
use super::shard::in_shard;
use super::supervisor::run_iteration;
use crate::scenario::Scenario;
use crate::workload::generate;

/// What to run and how.
#[derive(Debug, Clone)]
pub struct RunPlan {
    /// Scenarios selected (overrides already applied).
    pub scenarios: Vec<Scenario>,
    /// Base seed.
    pub base_seed: u64,
    /// Only these iterations of each scenario (`None`: `0..scenario.iterations`).
    pub only_iteration: Option<u32>,
    /// Iterations running at once.
    pub jobs: usize,
    /// Stop starting iterations after this long.
    pub time_budget: Option<Duration>,
    /// The binary to re-execute as a worker.
    pub worker_exe: PathBuf,
    /// Where failing iterations' files are copied (database, vault, job).
    pub keep_failures_in: Option<PathBuf>,
    /// Command line and filter, for the record.
    pub command: Vec<String>,
    /// The filter expression, for the record.
    pub filter: Option<String>,
    /// Only the iterations of this shard.
    pub shard: Option<Shard>,
    /// Source revision, for the record (and for merging shards).
    pub revision: String,
    /// Options every replay command must repeat (`--scenarios DIR`, each `--set`).
    pub replay_args: Vec<String>,
}

impl RunPlan {
    /// A plan over `scenarios` with `base_seed`, run by `worker_exe`, with the defaults of a
    /// one-off run: one job, every iteration, no time budget, no shard, nothing kept, nothing
    /// to repeat on replay. Callers set the fields that differ.
    pub fn new(scenarios: Vec<Scenario>, base_seed: u64, worker_exe: PathBuf) -> RunPlan {
        RunPlan {
            scenarios,
            base_seed,
            only_iteration: None,
            jobs: 1,
            time_budget: None,
            worker_exe,
            keep_failures_in: None,
            command: Vec::new(),
            filter: None,
            shard: None,
            revision: "unknown".to_owned(),
            replay_args: Vec::new(),
        }
    }

    /// The (scenario, iteration) pairs of the plan, in order.
    pub(super) fn slots(&self) -> Vec<(Arc<Scenario>, u32)> {
        let mut slots = Vec::new();
        for scenario in &self.scenarios {
            let scenario = Arc::new(scenario.clone());
            let iterations: Vec<u32> = match (self.only_iteration, &scenario.capsule) {
                (Some(i), _) => vec![i],
                (None, Some(_)) => vec![0],
                (None, None) => (0..scenario.iterations).collect(),
            };
            slots.extend(
                iterations
                    .into_iter()
                    .filter(|i| in_shard(self.shard, &scenario.name, *i))
                    .map(|i| (Arc::clone(&scenario), i)),
            );
        }
        slots
    }

    /// The job of one iteration, its files under `work_root`; the plan is generated here.
    pub fn job(&self, scenario: &Scenario, iteration: u32, work_root: &Path) -> IterationJob {
        let (seed, plan) = match &scenario.capsule {
            Some(capsule) => (capsule.seed, capsule.operations.clone()),
            None => {
                let seed = iteration_seed(self.base_seed, &scenario.name, iteration);
                let plan = scenario
                    .family()
                    .workload_plan(&scenario.workload, seed)
                    .unwrap_or_else(|| generate(&scenario.workload, seed));
                (seed, plan)
            }
        };
        let dir = work_root.join(format!("{}-{iteration}", scenario.name));
        IterationJob {
            scenario: scenario.clone(),
            family: scenario.family.clone(),
            base_seed: self.base_seed,
            seed,
            iteration,
            db_path: dir.join("ledger.db"),
            vault_dir: dir.join("vault"),
            plan,
            replay_args: self.replay_args.clone(),
        }
    }
}

/// The run's start as reporters see it: the plan and how many of `slots` each scenario has.
pub(super) fn started_event(plan: &RunPlan, slots: &[(Arc<Scenario>, u32)]) -> RunStarted {
    let mut planned: BTreeMap<&str, u64> = BTreeMap::new();
    for (scenario, _) in slots {
        *planned.entry(scenario.name.as_str()).or_default() += 1;
    }
    RunStarted {
        base_seed: plan.base_seed,
        command: plan.command.clone(),
        filter: plan.filter.clone(),
        scenarios: plan
            .scenarios
            .iter()
            .map(|s| ScenarioInfo {
                name: s.name.clone(),
                family: s.family.clone(),
                tags: s.tags.clone(),
                description: s.description.clone(),
                planned_iterations: planned.get(s.name.as_str()).copied().unwrap_or(0),
            })
            .collect(),
        planned_iterations: slots.len() as u64,
        started_at_unix: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs()),
        harness_version: env!("CARGO_PKG_VERSION").to_owned(),
        revision: plan.revision.clone(),
        shard: plan.shard,
    }
}

/// A run that could not be carried out at all.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The temporary work directory could not be made.
    #[error("cannot create a temporary work directory: {0}")]
    WorkDir(#[source] std::io::Error),
    /// A reporter could not write its output.
    #[error("cannot write results: {0}")]
    Report(#[source] std::io::Error),
}

/// Runs the plan; returns the summary and every iteration's outcome (with traces).
pub fn run(
    plan: &RunPlan,
    reporters: &mut [&mut dyn Reporter],
    control: &RunControl,
) -> Result<(Summary, Vec<IterationOutcome>), RunError> {
    let started = Instant::now();
    let work_root = tempfile::Builder::new()
        .prefix("resilience-")
        .tempdir_in(super::work_dir())
        .map_err(RunError::WorkDir)?;
    let slots = plan.slots();
    let mut emit = |event: RunEvent| -> Result<(), RunError> {
        for reporter in reporters.iter_mut() {
            reporter.on_event(&event).map_err(RunError::Report)?;
        }
        Ok(())
    };
    emit(RunEvent::Started(started_event(plan, &slots)))?;

    let budget_end = plan.time_budget.map(|b| started + b);
    let mut outcomes = Vec::new();
    let (summary, skipped) = run_slots(
        plan,
        slots,
        work_root.path(),
        control,
        budget_end,
        &mut emit,
        &mut |outcome| outcomes.push(outcome),
    )?;
    emit_skipped(&mut emit, skipped, &control.skip_reason())?;
    emit(RunEvent::Finished {
        wall_time_ms: started.elapsed().as_millis() as u64,
        interrupted: control.is_interrupted(),
    })?;
    Ok((summary, outcomes))
}

/// Slots never started, counted per scenario and per reason of their own (`None`: the run's
/// reason, an interrupt or the time budget; `Some`: the scenario cannot run here).
pub(super) type SkippedSlots = BTreeMap<(String, Option<String>), u64>;

/// Reports the iterations never started, per scenario, with their own reason or else `reason`.
pub(super) fn emit_skipped(
    emit: &mut dyn FnMut(RunEvent) -> Result<(), RunError>,
    skipped: SkippedSlots,
    reason: &str,
) -> Result<(), RunError> {
    for ((scenario, own_reason), count) in skipped {
        emit(RunEvent::IterationsSkipped {
            scenario,
            count,
            reason: own_reason.unwrap_or_else(|| reason.to_owned()),
        })?;
    }
    Ok(())
}

/// Runs `slots`, `plan.jobs` at a time, files under `work_root`; each finished iteration is
/// emitted and handed to `keep`. Returns the summary of what finished and, per scenario, how
/// many slots were never started (interrupted, or `budget_end` passed).
pub(super) fn run_slots(
    plan: &RunPlan,
    slots: Vec<(Arc<Scenario>, u32)>,
    work_root: &Path,
    control: &RunControl,
    budget_end: Option<Instant>,
    emit: &mut dyn FnMut(RunEvent) -> Result<(), RunError>,
    keep: &mut dyn FnMut(IterationOutcome),
) -> Result<(Summary, SkippedSlots), RunError> {
    let queue = Arc::new(Mutex::new(VecDeque::from(slots)));
    let (results_tx, results_rx) =
        mpsc::channel::<Result<IterationOutcome, (Arc<Scenario>, Option<String>)>>();
    let mut workers = Vec::new();
    for _ in 0..plan.jobs.max(1) {
        let queue = Arc::clone(&queue);
        let tx = results_tx.clone();
        let control = control.clone();
        let plan = plan.clone();
        let work_root = work_root.to_owned();
        workers.push(thread::spawn(move || {
            loop {
                let Some((scenario, iteration)) = queue.lock().expect("job queue").pop_front()
                else {
                    break;
                };
                let over_budget = budget_end.is_some_and(|end| Instant::now() >= end);
                if control.is_interrupted() || over_budget {
                    if tx.send(Err((scenario, None))).is_err() {
                        break;
                    }
                    continue;
                }
                if let Some(reason) = scenario.family().unavailable() {
                    if tx.send(Err((scenario, Some(reason)))).is_err() {
                        break;
                    }
                    continue;
                }
                let job = plan.job(&scenario, iteration, &work_root);
                let message = run_one(&plan, &job, &control).ok_or((scenario, None));
                if tx.send(message).is_err() {
                    break;
                }
            }
        }));
    }
    drop(results_tx);

    let mut summary = Summary::default();
    let mut skipped: SkippedSlots = BTreeMap::new();
    for message in results_rx {
        match message {
            Ok(outcome) => {
                summary.add(&outcome.result);
                emit(RunEvent::IterationFinished(Box::new(
                    outcome.result.clone(),
                )))?;
                keep(outcome);
            }
            Err((scenario, reason)) => {
                *skipped.entry((scenario.name.clone(), reason)).or_default() += 1;
            }
        }
    }
    for worker in workers {
        let _ = worker.join();
    }
    Ok((summary, skipped))
}

/// Runs one iteration in its own directory; `None` when it was cut short by an interrupt (or
/// its directory could not be made), so it counts as skipped rather than failed.
fn run_one(plan: &RunPlan, job: &IterationJob, control: &RunControl) -> Option<IterationOutcome> {
    let dir = job.db_path.parent().expect("db path has a parent");
    std::fs::create_dir_all(dir).ok()?;
    let mut outcome = run_iteration(&plan.worker_exe, job, dir, control);
    // A worker killed while a FUSE backend was mounted could not unmount it.
    crate::backends::fuse::unmount_below(dir);
    if control.is_interrupted() && outcome.result.status != IterationStatus::Passed {
        let _ = std::fs::remove_dir_all(dir);
        return None;
    }
    if outcome.result.status != IterationStatus::Passed
        && let Some(keep) = &plan.keep_failures_in
    {
        let name = dir.file_name().expect("named dir");
        copy_dir(dir, &keep.join(name));
        let kept = Path::new(keep.file_name().unwrap_or_default()).join(name);
        outcome
            .result
            .relocate_paths(&dir.display().to_string(), &kept.display().to_string());
        outcome.result.files = Some(format!("{}/", kept.display()));
    }
    let _ = std::fs::remove_dir_all(dir);
    Some(outcome)
}

/// Copies a directory tree; best effort (the copy is a convenience for debugging).
fn copy_dir(from: &Path, to: &Path) {
    let Ok(entries) = std::fs::read_dir(from) else {
        return;
    };
    let _ = std::fs::create_dir_all(to);
    for entry in entries.flatten() {
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            let _ = std::fs::copy(entry.path(), target);
        }
    }
}
