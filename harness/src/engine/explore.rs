//! [`explore`]: the default set once, then rounds of fresh seeds until the budget is spent,
//! steered by [`Coverage`].
//!
//! Fresh seeds are fresh iteration numbers: after a scenario's own `0..iterations`, round after
//! round draws the next iteration numbers `iterations, iterations + 1, ...` that fall in this
//! shard (the same `--shard` partition as `run`). An iteration's seed derives from the base
//! seed, scenario and number as in any run, so the shards of one base seed draw disjoint
//! streams, a night is reproducible from its base seed, and `resilience replay NAME --seed
//! BASE --iteration I` re-runs any iteration it ran. Capsules (fixed seeds) run in the default
//! set only.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use reports::explore::ExploreSummary;
use reports::{IterationResult, IterationStatus, Reporter, RunEvent, Summary};

use super::control::{RunControl, TIME_BUDGET_SPENT};
use super::coverage::Coverage;
use super::pool::{RunError, RunPlan, emit_skipped, run_slots, started_event};
use super::shard::in_shard;
use crate::scenario::Scenario;

/// When exploration stops (whichever comes first; at least one must be set).
#[derive(Debug, Clone, Copy, Default)]
pub struct ExploreLimits {
    /// Stop starting iterations after this long.
    pub time_budget: Option<Duration>,
    /// Stop after this many iterations in all (default set included): a budget that does not
    /// depend on the machine's speed.
    pub max_iterations: Option<u64>,
}

/// Where an exploration stands, for progress lines.
#[derive(Debug, Clone, Copy)]
pub struct ExploreProgress {
    /// Rounds of fresh seeds finished (0 while the default set runs).
    pub rounds: u64,
    /// Iterations finished so far.
    pub iterations: u64,
    /// Of which failed or could not be judged.
    pub not_passed: u64,
    /// Distinct coverage keys so far.
    pub coverage_keys: u64,
    /// Time since the start.
    pub elapsed: Duration,
}

/// What an exploration produced.
#[derive(Debug)]
pub struct Explored {
    /// Totals over every finished iteration.
    pub summary: Summary,
    /// Every iteration that did not pass, in finishing order.
    pub not_passed: Vec<IterationResult>,
    /// Rounds, counts and coverage (no signatures yet).
    pub stats: ExploreSummary,
}

/// Why iterations the iteration budget cut were skipped.
const ITERATION_BUDGET_SPENT: &str = "iteration budget spent";

/// Runs the default set of `plan` once, then rounds of fresh seeds until `limits` or an
/// interrupt stops it; every finished iteration goes to `reporters` as in [`super::run`].
pub fn explore(
    plan: &RunPlan,
    limits: ExploreLimits,
    reporters: &mut [&mut dyn Reporter],
    control: &RunControl,
    progress: &mut dyn FnMut(&ExploreProgress),
) -> Result<Explored, RunError> {
    let started = Instant::now();
    let budget_end = limits.time_budget.map(|b| started + b);
    let work_root = tempfile::Builder::new()
        .prefix("resilience-")
        .tempdir_in(super::work_dir())
        .map_err(RunError::WorkDir)?;
    let mut emit = |event: RunEvent| -> Result<(), RunError> {
        for reporter in reporters.iter_mut() {
            reporter.on_event(&event).map_err(RunError::Report)?;
        }
        Ok(())
    };
    let default_slots = plan.slots();
    emit(RunEvent::Started(started_event(plan, &default_slots)))?;

    let mut state = Exploration {
        coverage: Coverage::default(),
        summary: Summary::default(),
        not_passed: Vec::new(),
        skipped: BTreeMap::new(),
        finished: 0,
    };
    let mut stats = ExploreSummary {
        time_budget_secs: limits.time_budget.map(|d| d.as_secs()),
        max_iterations: limits.max_iterations,
        ..ExploreSummary::default()
    };
    stats.default_iterations = state.run_round(
        plan,
        default_slots,
        &RoundContext::new(&work_root, control, budget_end, limits),
        &mut emit,
    )?;
    progress(&state.progress(0, started));

    let fresh: Vec<Arc<Scenario>> = plan
        .scenarios
        .iter()
        .filter(|s| s.capsule.is_none())
        .map(|s| Arc::new(s.clone()))
        .collect();
    let mut next_iteration: Vec<u32> = fresh.iter().map(|s| s.iterations).collect();
    let round_size = (2 * fresh.len()).max(16 * plan.jobs.max(1));
    while !fresh.is_empty()
        && !control.is_interrupted()
        && budget_end.is_none_or(|end| Instant::now() < end)
        && limits.max_iterations.is_none_or(|max| state.finished < max)
    {
        let names: Vec<&str> = fresh.iter().map(|s| s.name.as_str()).collect();
        let counts = state.coverage.allocate(&names, round_size);
        let slots = interleave(&fresh, &counts, &mut next_iteration, plan);
        stats.fresh_iterations += state.run_round(
            plan,
            slots,
            &RoundContext::new(&work_root, control, budget_end, limits),
            &mut emit,
        )?;
        stats.rounds += 1;
        progress(&state.progress(stats.rounds, started));
    }

    stats.coverage_keys = state.coverage.distinct_keys();
    let mut by_reason: BTreeMap<String, BTreeMap<String, u64>> = BTreeMap::new();
    for ((scenario, reason), count) in state.skipped {
        if reason == TIME_BUDGET_SPENT {
            stats.skipped_by_budget += count;
        }
        *by_reason
            .entry(reason)
            .or_default()
            .entry(scenario)
            .or_default() += count;
    }
    for (reason, per_scenario) in by_reason {
        let slots = per_scenario
            .into_iter()
            .map(|(scenario, count)| ((scenario, None), count))
            .collect();
        emit_skipped(&mut emit, slots, &reason)?;
    }
    emit(RunEvent::Finished {
        wall_time_ms: started.elapsed().as_millis() as u64,
        interrupted: control.is_interrupted(),
    })?;
    Ok(Explored {
        summary: state.summary,
        not_passed: state.not_passed,
        stats,
    })
}

/// What every round shares.
struct RoundContext<'a> {
    work_root: &'a tempfile::TempDir,
    control: &'a RunControl,
    budget_end: Option<Instant>,
    limits: ExploreLimits,
}

impl<'a> RoundContext<'a> {
    fn new(
        work_root: &'a tempfile::TempDir,
        control: &'a RunControl,
        budget_end: Option<Instant>,
        limits: ExploreLimits,
    ) -> Self {
        RoundContext {
            work_root,
            control,
            budget_end,
            limits,
        }
    }
}

/// The running totals of an exploration.
struct Exploration {
    coverage: Coverage,
    summary: Summary,
    not_passed: Vec<IterationResult>,
    /// Slots never started, per (scenario, reason).
    skipped: BTreeMap<(String, String), u64>,
    finished: u64,
}

impl Exploration {
    /// Runs `slots` (cut to what the iteration budget leaves); returns how many finished.
    fn run_round(
        &mut self,
        plan: &RunPlan,
        mut slots: Vec<(Arc<Scenario>, u32)>,
        context: &RoundContext<'_>,
        emit: &mut dyn FnMut(RunEvent) -> Result<(), RunError>,
    ) -> Result<u64, RunError> {
        if let Some(max) = context.limits.max_iterations {
            let left = max.saturating_sub(self.finished) as usize;
            for (scenario, _) in slots.drain(left.min(slots.len())..) {
                *self
                    .skipped
                    .entry((scenario.name.clone(), ITERATION_BUDGET_SPENT.to_owned()))
                    .or_default() += 1;
            }
        }
        let mut finished = 0u64;
        let coverage = &mut self.coverage;
        let not_passed = &mut self.not_passed;
        let summary = &mut self.summary;
        let (_, skipped) = run_slots(
            plan,
            slots,
            context.work_root.path(),
            context.control,
            context.budget_end,
            emit,
            &mut |outcome| {
                finished += 1;
                summary.add(&outcome.result);
                coverage.observe(
                    &outcome.result.scenario,
                    &outcome.trace,
                    Duration::from_millis(outcome.result.duration_ms),
                );
                if outcome.result.status != IterationStatus::Passed {
                    not_passed.push(outcome.result);
                }
            },
        )?;
        let reason = context.control.skip_reason();
        for ((scenario, own_reason), count) in skipped {
            let reason = own_reason.unwrap_or_else(|| reason.clone());
            *self.skipped.entry((scenario, reason)).or_default() += count;
        }
        self.finished += finished;
        Ok(finished)
    }

    fn progress(&self, rounds: u64, started: Instant) -> ExploreProgress {
        ExploreProgress {
            rounds,
            iterations: self.finished,
            not_passed: self.summary.failed + self.summary.errors,
            coverage_keys: self.coverage.distinct_keys(),
            elapsed: started.elapsed(),
        }
    }
}

/// The round's slots: `counts[i]` fresh iteration numbers of `scenarios[i]` in this shard,
/// taken round-robin across scenarios so a round cut short is cut fairly.
fn interleave(
    scenarios: &[Arc<Scenario>],
    counts: &[usize],
    next_iteration: &mut [u32],
    plan: &RunPlan,
) -> Vec<(Arc<Scenario>, u32)> {
    let mut left = counts.to_vec();
    let mut slots = Vec::new();
    while left.iter().any(|n| *n > 0) {
        for (i, scenario) in scenarios.iter().enumerate() {
            if left[i] == 0 {
                continue;
            }
            left[i] -= 1;
            let iteration = loop {
                let candidate = next_iteration[i];
                next_iteration[i] += 1;
                if in_shard(plan.shard, &scenario.name, candidate) {
                    break candidate;
                }
            };
            slots.push((Arc::clone(scenario), iteration));
        }
    }
    slots
}

#[cfg(test)]
mod tests {
    use super::*;
    use reports::results::Shard;

    fn scenario(name: &str, iterations: u32) -> Arc<Scenario> {
        let mut s = Scenario::parse(
            std::path::Path::new("x.toml"),
            "baseline",
            &format!("name = \"{name}\"\ndescription = \"d\"\nchecks = [\"integrity\"]\n"),
        )
        .unwrap();
        s.iterations = iterations;
        Arc::new(s)
    }

    fn drawn(shard: Option<Shard>) -> Vec<u32> {
        let scenarios = vec![scenario("a", 5)];
        let mut plan = RunPlan::new(Vec::new(), 1, "resilience".into());
        plan.shard = shard;
        let mut next = vec![5];
        let mut all = interleave(&scenarios, &[20], &mut next, &plan);
        all.extend(interleave(&scenarios, &[20], &mut next, &plan));
        all.into_iter().map(|(_, i)| i).collect()
    }

    #[test]
    fn shards_draw_disjoint_fresh_iterations_after_the_default_set() {
        let one = drawn(Some(Shard { index: 1, count: 2 }));
        let two = drawn(Some(Shard { index: 2, count: 2 }));
        assert_eq!(one.len(), 40);
        assert!(one.iter().chain(&two).all(|i| *i >= 5));
        assert!(one.iter().all(|i| !two.contains(i)), "{one:?} {two:?}");
        let mut sorted = one.clone();
        sorted.dedup();
        assert_eq!(sorted, one, "no iteration is drawn twice");
        assert_eq!(drawn(None), (5..45).collect::<Vec<_>>());
    }
}
