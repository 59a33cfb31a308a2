//! The `results.json` schema: [`RunResults`] and what it holds.
//!
//! The schema is versioned by [`SCHEMA_VERSION`]; a field is only ever added, and a change of
//! meaning bumps the version.

use serde::{Deserialize, Serialize};

use crate::events::{RunEvent, RunStarted, ScenarioInfo};

/// The check whose presence means a scenario promises durability (the name the harness uses).
pub const DURABILITY_CHECK: &str = "acknowledged_durable";

/// Version of the `results.json` schema written by this crate.
pub const SCHEMA_VERSION: u32 = 1;

/// Everything a run produced: the content of `results.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunResults {
    /// Schema version, [`SCHEMA_VERSION`] when written by this crate.
    pub schema_version: u32,
    /// Base seed of the run.
    pub base_seed: u64,
    /// Command line of the run.
    pub command: Vec<String>,
    /// Filter expression, if any.
    pub filter: Option<String>,
    /// Harness version.
    pub harness_version: String,
    /// Source revision the harness was built from (`git describe`), `unknown` outside a checkout.
    #[serde(default)]
    pub revision: String,
    /// The shard this run covered, when the run was split with `--shard`.
    #[serde(default)]
    pub shard: Option<Shard>,
    /// Seconds since the Unix epoch at the start.
    pub started_at_unix: u64,
    /// Scenarios selected.
    pub scenarios: Vec<ScenarioInfo>,
    /// One entry per finished iteration, in finishing order.
    pub iterations: Vec<IterationResult>,
    /// Iterations planned but never started, per scenario, with the reason.
    pub skipped: Vec<SkippedIterations>,
    /// Totals over `iterations`.
    pub summary: Summary,
    /// False while the run is still going; true once the final file is written.
    pub complete: bool,
    /// True when a signal stopped the run (SIGINT from Ctrl-C, or SIGTERM).
    pub interrupted: bool,
    /// Wall time of the run's iterations, from the first started to the last finished (set
    /// when the run finishes); start-up and shrinking are not in it.
    pub wall_time_ms: u64,
    /// Wall time spent shrinking failures after the iterations (`run --shrink-budget`), 0 when
    /// nothing was shrunk.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub shrink_wall_time_ms: u64,
    /// The kill matrix, in the results of `resilience selftest` only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selftest: Option<crate::selftest::KillMatrix>,
    /// Rounds, coverage and failure signatures, in the results of `resilience explore` only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub explore: Option<crate::explore::ExploreSummary>,
}

impl RunResults {
    /// Empty results for a run that has just started.
    pub fn new(started: &RunStarted) -> RunResults {
        RunResults {
            schema_version: SCHEMA_VERSION,
            base_seed: started.base_seed,
            command: started.command.clone(),
            filter: started.filter.clone(),
            harness_version: started.harness_version.clone(),
            revision: started.revision.clone(),
            shard: started.shard,
            started_at_unix: started.started_at_unix,
            scenarios: started.scenarios.clone(),
            iterations: Vec::new(),
            skipped: Vec::new(),
            summary: Summary::default(),
            complete: false,
            interrupted: false,
            wall_time_ms: 0,
            shrink_wall_time_ms: 0,
            selftest: None,
            explore: None,
        }
    }

    /// Adds one finished iteration and updates the summary.
    pub fn push(&mut self, iteration: IterationResult) {
        self.summary.add(&iteration);
        self.iterations.push(iteration);
    }

    /// Folds one event in: the single place where events become results, shared by every
    /// reporter that needs the whole run.
    pub fn apply(results: &mut Option<RunResults>, event: &RunEvent) {
        match event {
            RunEvent::Started(started) => *results = Some(RunResults::new(started)),
            RunEvent::IterationFinished(it) => {
                if let Some(r) = results {
                    r.push((**it).clone());
                }
            }
            RunEvent::IterationsSkipped {
                scenario,
                count,
                reason,
            } => {
                if let Some(r) = results {
                    r.skipped.push(SkippedIterations {
                        scenario: scenario.clone(),
                        count: *count,
                        reason: reason.clone(),
                    });
                }
            }
            RunEvent::Finished {
                wall_time_ms,
                interrupted,
            } => {
                if let Some(r) = results {
                    r.complete = true;
                    r.interrupted = *interrupted;
                    r.wall_time_ms = *wall_time_ms;
                }
            }
        }
    }

    /// Iterations that did not pass, in (scenario, iteration) order.
    pub fn not_passed(&self) -> Vec<&IterationResult> {
        let mut list: Vec<&IterationResult> = self
            .iterations
            .iter()
            .filter(|i| i.status != IterationStatus::Passed)
            .collect();
        list.sort_by(|a, b| (&a.scenario, a.iteration).cmp(&(&b.scenario, b.iteration)));
        list
    }
}

fn is_zero(value: &u64) -> bool {
    *value == 0
}

/// One part of a run split with `--shard K/N`: shard `index` (1-based) of `count`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shard {
    /// Which shard, 1-based.
    pub index: u32,
    /// How many shards.
    pub count: u32,
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

/// Iterations of one scenario that never ran.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SkippedIterations {
    /// Scenario name.
    pub scenario: String,
    /// How many.
    pub count: u64,
    /// Why they were skipped.
    pub reason: String,
}

/// Totals of a run.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    /// Iterations finished.
    pub iterations: u64,
    /// Iterations whose every check held.
    pub passed: u64,
    /// Iterations where a check failed.
    pub failed: u64,
    /// Iterations the harness could not judge (worker died outside a planned fault, timed out, setup failed).
    pub errors: u64,
    /// Operations run across all iterations.
    pub operations: u64,
    /// Operations that returned `Ok` (acknowledged).
    pub acknowledged: u64,
    /// Faults injected (fault events in traces).
    pub faults_injected: u64,
    /// Acknowledged operations whose effect was missing afterwards, in iterations whose
    /// scenario promises durability (it runs `acknowledged_durable`): each one is a failure.
    pub lost_acknowledged: u64,
    /// Acknowledged operations lost where the scenario does not promise durability (e.g. WAL
    /// with `synchronous=NORMAL` under power loss): measured, documented, not a failure.
    #[serde(default)]
    pub lost_where_not_promised: u64,
    /// Bit flips injected and detected, summed over the iterations that report them.
    #[serde(default)]
    pub bit_flips: BitFlipCounts,
}

impl Summary {
    /// Counts one iteration in.
    pub fn add(&mut self, it: &IterationResult) {
        self.iterations += 1;
        match it.status {
            IterationStatus::Passed => self.passed += 1,
            IterationStatus::Failed => self.failed += 1,
            IterationStatus::Error => self.errors += 1,
        }
        self.operations += it.operations;
        self.acknowledged += it.acknowledged;
        self.faults_injected += it.faults_injected;
        if it.durability_promise() == DurabilityPromise::Promised {
            self.lost_acknowledged += it.lost_acknowledged;
        } else {
            self.lost_where_not_promised += it.lost_acknowledged;
        }
        if let Some(flips) = it.bit_flips {
            self.bit_flips.injected += flips.injected;
            self.bit_flips.in_page_reads += flips.in_page_reads;
            self.bit_flips.detected += flips.detected;
        }
    }

    /// True when nothing failed and nothing errored.
    pub fn all_passed(&self) -> bool {
        self.failed == 0 && self.errors == 0
    }
}

/// The verdict of one iteration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IterationStatus {
    /// Every check held.
    Passed,
    /// At least one check failed: the target misbehaved.
    Failed,
    /// The harness could not judge the iteration: a worker died unexpectedly, hung, or setup failed.
    Error,
}

/// One (scenario, iteration): what ran, what was injected, what the checks found.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IterationResult {
    /// Scenario name.
    pub scenario: String,
    /// Scenario family.
    pub family: String,
    /// Iteration index within the scenario.
    pub iteration: u32,
    /// Base seed of the run (what `replay --seed` takes).
    pub base_seed: u64,
    /// The iteration's own seed, derived from the base seed, scenario and iteration.
    pub seed: u64,
    /// Verdict.
    pub status: IterationStatus,
    /// Each check with its verdict and detail.
    pub checks: Vec<CheckResult>,
    /// Digest of the trace (operations, results, fault events); equal seeds give equal digests
    /// in deterministic families.
    pub trace_digest: String,
    /// Wall time of the iteration.
    pub duration_ms: u64,
    /// Operations started.
    pub operations: u64,
    /// Operations that returned `Ok`.
    pub acknowledged: u64,
    /// Fault events recorded.
    pub faults_injected: u64,
    /// Acknowledged operations whose effect was missing after the fault.
    pub lost_acknowledged: u64,
    /// The command that re-runs exactly this iteration.
    pub replay: String,
    /// Set when the harness could not judge the iteration, or a worker ended abnormally.
    pub error: Option<String>,
    /// Operations and fault events in order; kept only for iterations that did not pass.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub timeline: Vec<TimelineEntry>,
    /// Exhaustive power loss (`run --exhaustive`): crash states (crash point x crash mode)
    /// reopened and checked in this iteration. Absent for sampled iterations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crash_states: Option<u64>,
    /// Exhaustive power loss: crash states checked per second of the checking loop (a
    /// measurement for notes, never a gate). Absent for sampled iterations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crash_states_per_sec: Option<f64>,
    /// Perf scenarios: each perf check with A, B, the ratio and its interval, the A/A control,
    /// the target, the verdict, the plan check and regressions. Absent for other scenarios.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub perf: Vec<crate::perf::PerfCheck>,
    /// Disk plans with bit flips: flips injected in the drive phase and checksum mismatches
    /// the ledger detected. Absent for other iterations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bit_flips: Option<BitFlipCounts>,
    /// Named measurements a fault layer reported for this iteration (measurements for notes,
    /// never gates): `lock_wait_p50_us`/`p95`/`p99` and `retries` (lock contention),
    /// `alloc_points_swept` and `alloc_faults_fired` (allocation sweep), `cache_shrinks` and
    /// `mmap_fallbacks` (memory pressure). Absent when empty.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub figures: std::collections::BTreeMap<String, f64>,
    /// The minimal failing case found by shrinking this (failing) iteration; the report shows
    /// it first, with this iteration as the original beside it. Absent when not shrunk.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shrunk: Option<ShrunkCase>,
    /// Where this iteration's files were kept, relative to the output directory
    /// (`failures/<scenario>-<iteration>/`); absent when they were not kept (passed, replay).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub files: Option<String>,
}

/// Bit flips injected on read by the fault VFS, and what the ledger's page checksums caught.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BitFlipCounts {
    /// Reads whose returned data had bits flipped.
    pub injected: u64,
    /// Of those, reads of a whole page (512..65536 bytes, a power of two): the reads page
    /// checksums cover. Flips in shorter reads (the 100-byte header at open, WAL headers) are
    /// left to SQLite's own checks.
    pub in_page_reads: u64,
    /// Page checksum mismatches the ledger recorded (`ledger::checksum::fault_count()`).
    pub detected: u64,
}

/// A failing iteration minimised: fewer operations, same seed and fault plan, same first
/// failing check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShrunkCase {
    /// Operations in the original plan.
    pub operations_before: u64,
    /// Operations in the minimal plan.
    pub operations: u64,
    /// Candidates re-run in workers.
    pub tries: u64,
    /// True when the try budget ran out before shrinking was finished.
    pub budget_spent: bool,
    /// The minimal case's first failing check and its detail.
    pub failure: CheckResult,
    /// The minimal case's trace digest.
    pub trace_digest: String,
    /// The regression capsule written for it, if any (`resilience replay PATH` re-runs it):
    /// relative to the output directory when it is inside it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capsule: Option<String>,
    /// The command that re-runs the minimal case (`resilience replay <capsule>`), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replay: Option<String>,
    /// Where the minimal case's files are, relative to the output directory, if kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub files: Option<String>,
}

/// One step of an iteration's timeline: an operation with its outcome, or a fault.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimelineEntry {
    /// The operation's index in the plan (for a fault, the operation it happened during).
    pub operation: Option<u64>,
    /// What kind of step.
    pub kind: TimelineKind,
    /// The operation or fault, described.
    pub text: String,
    /// The operation's result (empty for faults).
    pub outcome: String,
}

/// The kinds of timeline steps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TimelineKind {
    /// An operation that returned `Ok`.
    Acknowledged,
    /// An operation that returned an error.
    Failed,
    /// An operation that never answered (in flight at a crash).
    InFlight,
    /// A fault the harness injected.
    Fault,
}

impl IterationResult {
    /// An iteration of `scenario` (in `family`) with `status` and nothing else recorded yet:
    /// no seeds, checks, counts, timeline or extras. Runners and fixtures set what they have
    /// with struct update syntax.
    pub fn new(scenario: &str, family: &str, iteration: u32, status: IterationStatus) -> Self {
        IterationResult {
            scenario: scenario.to_owned(),
            family: family.to_owned(),
            iteration,
            base_seed: 0,
            seed: 0,
            status,
            checks: Vec::new(),
            trace_digest: String::new(),
            duration_ms: 0,
            operations: 0,
            acknowledged: 0,
            faults_injected: 0,
            lost_acknowledged: 0,
            replay: String::new(),
            error: None,
            timeline: Vec::new(),
            crash_states: None,
            crash_states_per_sec: None,
            perf: Vec::new(),
            bit_flips: None,
            figures: Default::default(),
            shrunk: None,
            files: None,
        }
    }

    /// The first failing check, if any.
    pub fn first_failure(&self) -> Option<&CheckResult> {
        self.checks.iter().find(|c| !c.passed)
    }

    /// Whether this iteration promised that acknowledged writes survive, and if not, why.
    pub fn durability_promise(&self) -> DurabilityPromise {
        match self.checks.iter().find(|c| c.name == DURABILITY_CHECK) {
            None => DurabilityPromise::NotChecked,
            // A passing iteration whose durability check failed is a capsule of a planted bug
            // that expects the loss (`expected-failures`).
            Some(c) if !c.passed && self.status == IterationStatus::Passed => {
                DurabilityPromise::LossExpected
            }
            Some(_) => DurabilityPromise::Promised,
        }
    }

    /// Replaces the directory `from` with `to` in every text this result quotes (check
    /// details, the error, the timeline, the minimal case): used when the iteration's files
    /// move from a temporary directory to the output directory, so no text names a path that
    /// no longer exists.
    pub fn relocate_paths(&mut self, from: &str, to: &str) {
        if from.is_empty() {
            return;
        }
        let fix = |text: &mut String| {
            if text.contains(from) {
                *text = text.replace(from, to);
            }
        };
        self.checks.iter_mut().for_each(|c| fix(&mut c.detail));
        if let Some(error) = &mut self.error {
            fix(error);
        }
        for entry in &mut self.timeline {
            fix(&mut entry.text);
            fix(&mut entry.outcome);
        }
        if let Some(shrunk) = &mut self.shrunk {
            fix(&mut shrunk.failure.detail);
        }
    }

    /// Prefixes the kept files this result names (relative to its run's output directory)
    /// with `base`, that directory as seen from elsewhere: `report merge` uses it so a merged
    /// report names each shard's files where they are.
    pub fn rebase_kept_files(&mut self, base: &str) {
        let rebase = |relative: &str| format!("{}/{relative}", base.trim_end_matches('/'));
        if let Some(files) = self.files.clone() {
            let dir = files.trim_end_matches('/');
            self.relocate_paths(dir, &rebase(dir));
            self.files = Some(rebase(&files));
        }
        if let Some(shrunk) = &mut self.shrunk {
            for path in [&mut shrunk.files, &mut shrunk.capsule]
                .into_iter()
                .flatten()
            {
                if !path.starts_with('/') {
                    let dir = path.trim_end_matches('/').to_owned();
                    shrunk.failure.detail = shrunk.failure.detail.replace(&dir, &rebase(&dir));
                    *path = rebase(path);
                }
            }
        }
    }
}

/// Whether an iteration promised durability of acknowledged writes (see
/// [`IterationResult::durability_promise`]); a loss counts as a failure only when promised.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DurabilityPromise {
    /// The scenario runs `acknowledged_durable`: every acknowledged write must survive.
    Promised,
    /// The scenario does not run `acknowledged_durable` (its configuration does not promise
    /// durability, e.g. WAL with `synchronous=NORMAL` under power loss); losses are measured.
    NotChecked,
    /// A regression capsule of a planted bug that expects `acknowledged_durable` to fail.
    LossExpected,
}

/// One check's verdict.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckResult {
    /// The check's name, as in scenario files (`integrity`, `acknowledged_durable`, ...).
    pub name: String,
    /// True when the property held.
    pub passed: bool,
    /// What was expected and what was found; empty when it passed with nothing to say.
    pub detail: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relocated_paths_name_the_kept_directory_everywhere() {
        let tmp = "/tmp/resilience-x/wal-1";
        let mut it = IterationResult::new("wal", "power-loss", 1, IterationStatus::Failed);
        it.checks.push(CheckResult {
            name: "integrity".into(),
            passed: false,
            detail: format!("cannot read {tmp}/crash-drop/ledger.db"),
        });
        it.error = Some(format!("worker died in {tmp}"));
        it.timeline.push(TimelineEntry {
            operation: None,
            kind: TimelineKind::Fault,
            text: format!("image {tmp}/crash-drop"),
            outcome: String::new(),
        });
        it.relocate_paths(tmp, "failures/wal-1");
        let text = serde_json::to_string(&it).unwrap();
        assert!(!text.contains("/tmp/"), "{text}");
        assert_eq!(
            it.checks[0].detail,
            "cannot read failures/wal-1/crash-drop/ledger.db"
        );
        assert_eq!(it.error.as_deref(), Some("worker died in failures/wal-1"));
        it.files = Some("failures/wal-1/".into());
        it.rebase_kept_files("shards/2");
        assert_eq!(it.files.as_deref(), Some("shards/2/failures/wal-1/"));
        assert_eq!(
            it.checks[0].detail,
            "cannot read shards/2/failures/wal-1/crash-drop/ledger.db"
        );
    }
}
