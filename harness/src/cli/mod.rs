//! The `resilience` command line: [`Cli`] and [`main_impl`], one file per subcommand.
//!
//! Exit codes ([`exit_codes`]): 0 every check held; 1 a check failed or an iteration could not
//! be judged; 2 bad usage or bad input (a bad scenario file, a filter matching nothing);
//! 3 the harness itself failed; 130 interrupted by SIGINT (Ctrl-C); 143 stopped by SIGTERM.

mod explore;
mod list;
mod output;
mod repairs;
mod replay;
mod report;
mod run;
mod scenarios_dir;
mod selftest;
mod shrink;

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::scenario::Override;

/// Documented exit codes.
pub mod exit_codes {
    /// Every check held.
    pub const OK: i32 = 0;
    /// A check failed, or an iteration could not be judged.
    pub const CHECK_FAILED: i32 = 1;
    /// Bad usage or bad input.
    pub const BAD_INPUT: i32 = 2;
    /// The harness itself failed.
    pub const HARNESS_ERROR: i32 = 3;
    /// Stopped by Ctrl-C (SIGINT); finished iterations kept.
    pub const INTERRUPTED: i32 = 130;
    /// Stopped by SIGTERM (a cancelled CI job); finished iterations kept.
    pub const TERMINATED: i32 = 143;
}

/// Drives the staging ledger under injected faults and checks what survived.
#[derive(Debug, Parser)]
#[command(name = "resilience", version, about)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// List scenarios with their family and tags.
    List(ListArgs),
    /// Run scenarios and write results.json.
    Run(RunArgs),
    /// Run the default set once, then fresh seeds until the budget is spent, steered toward what
    /// was exercised least; group failures by signature and shrink each new one into a capsule
    /// candidate.
    Explore(ExploreArgs),
    /// Re-run one iteration and print its trace.
    Replay(ReplayArgs),
    /// Run the ledger's planted bugs against the families that should catch them, and the real
    /// ledger over every family; print the kill matrix. Exit 1 if a bug survives or the real
    /// ledger fails anything.
    Selftest(SelftestArgs),
    /// Work with the outputs of earlier runs.
    #[command(subcommand)]
    Report(ReportCommand),
    /// Internal: one phase of one iteration, run by the supervisor in a child process.
    #[command(name = "__worker", hide = true)]
    Worker {
        /// `drive`, `check`, `exhaustive`, `perf`, `lock-writer` or `lock-holder`.
        phase: String,
        /// The job file.
        input: PathBuf,
    },
    /// Internal: a fork server, started once per pool thread, that forks a `__worker` per
    /// request of the supervisor (its stdin is the supervisor's socket).
    #[command(name = "__fork-server", hide = true)]
    ForkServer,
}

#[derive(Debug, Subcommand)]
enum ReportCommand {
    /// Merge the results of the shards of one run into one results.json, junit.xml and report.html.
    Merge(MergeArgs),
}

#[derive(Debug, Args)]
struct MergeArgs {
    /// The shards' output directories (each holding a results.json).
    #[arg(required = true)]
    shards: Vec<PathBuf>,
    /// Where the merged outputs go.
    #[arg(long)]
    out: PathBuf,
    /// History directory: read for trends, and the merged run appended to it.
    #[arg(long)]
    history: Option<PathBuf>,
}

/// Options shared by every subcommand that loads scenarios.
#[derive(Debug, Args)]
struct ScenarioArgs {
    /// Directory holding one folder per scenario family [default: $RESILIENCE_SCENARIOS, else
    /// `scenarios/` in the current directory or a parent, else next to the executable or a
    /// parent of it].
    #[arg(long)]
    scenarios: Option<PathBuf>,
    /// Override a scenario field for this run, e.g. `--set target.synchronous=normal`.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    overrides: Vec<Override>,
}

impl ScenarioArgs {
    /// The scenarios directory, given or found ([`scenarios_dir::locate`]).
    fn dir(&self) -> Result<PathBuf, UsageError> {
        scenarios_dir::locate(self.scenarios.as_deref())
    }

    /// What a replay command must repeat to load the same scenarios: `--scenarios` when it was
    /// given, and every `--set`.
    fn replay_args(&self) -> Vec<String> {
        let mut args = Vec::new();
        if let Some(dir) = &self.scenarios {
            args.push("--scenarios".to_owned());
            args.push(dir.display().to_string());
        }
        for o in &self.overrides {
            args.push("--set".to_owned());
            args.push(o.text.clone());
        }
        args
    }
}

#[derive(Debug, Args)]
struct ListArgs {
    #[command(flatten)]
    scenarios: ScenarioArgs,
    /// Only scenarios whose name, family or tag matches (globs; `a,b` = either).
    #[arg(long)]
    filter: Option<String>,
    /// Every scenario, including those a run without `--filter` leaves out (`slow` perf
    /// scenarios and `expected-fail` known gaps).
    #[arg(long, conflicts_with = "filter")]
    all: bool,
}

#[derive(Debug, Args)]
struct RunArgs {
    #[command(flatten)]
    scenarios: ScenarioArgs,
    /// Only scenarios whose name, family or tag matches (globs; `a,b` = either).
    #[arg(long)]
    filter: Option<String>,
    /// Base seed; each iteration's seed derives from it. Random (and printed) when absent.
    #[arg(long)]
    seed: Option<u64>,
    /// Iterations per scenario, instead of each scenario's own count.
    #[arg(long)]
    iterations: Option<u32>,
    /// Iterations running at once [default: number of CPUs].
    #[arg(long)]
    jobs: Option<usize>,
    /// Output directory for results.json, junit.xml, report.html and failing iterations' files.
    #[arg(long, default_value = "target/resilience")]
    out: PathBuf,
    /// Run only shard K of N of the (scenario, iteration) space, e.g. `--shard 2/4`.
    #[arg(long, value_parser = crate::engine::parse_shard)]
    shard: Option<reports::results::Shard>,
    /// History directory: earlier runs are read for the report's trends and this run is appended.
    #[arg(long)]
    history: Option<PathBuf>,
    /// Stop starting iterations after this long (e.g. `90s`, `10m`); the rest are recorded as skipped.
    #[arg(long, value_parser = humantime::parse_duration)]
    time_budget: Option<std::time::Duration>,
    /// Power-loss scenarios: check every write/sync/truncate of each iteration's workload as the
    /// crash point (times each crash mode) in one worker process, instead of one seeded point.
    /// Results record the crash states checked and the rate. Other scenarios run as usual.
    #[arg(long)]
    exhaustive: bool,
    /// Shrink the first failing iteration of each deterministic scenario, re-running at most
    /// this many smaller candidates in workers (0 = no shrinking).
    #[arg(long, default_value_t = 40)]
    shrink_budget: usize,
    /// Write each shrunk case as a regression capsule (a scenario file) into this directory,
    /// e.g. `scenarios/regressions`.
    #[arg(long)]
    capsules: Option<PathBuf>,
}

#[derive(Debug, Args)]
struct ExploreArgs {
    #[command(flatten)]
    scenarios: ScenarioArgs,
    /// Stop starting iterations after this long (e.g. `10m`, `45m`).
    #[arg(long, value_parser = humantime::parse_duration, required_unless_present = "max_iterations")]
    time_budget: Option<std::time::Duration>,
    /// Stop after this many iterations in all, default set included (a budget independent of
    /// the machine's speed).
    #[arg(long)]
    max_iterations: Option<u64>,
    /// Only scenarios whose name, family or tag matches (globs; `a,b` = either).
    #[arg(long)]
    filter: Option<String>,
    /// Base seed of the night; shards of one base seed draw disjoint seeds. Random (and
    /// printed) when absent.
    #[arg(long)]
    seed: Option<u64>,
    /// Run only shard K of N, e.g. `--shard 2/4`.
    #[arg(long, value_parser = crate::engine::parse_shard)]
    shard: Option<reports::results::Shard>,
    /// Iterations running at once [default: number of CPUs + 1, as some iterations wait on
    /// timers].
    #[arg(long)]
    jobs: Option<usize>,
    /// Output directory: results.json, junit.xml, report.html, job-summary.md, failures/,
    /// candidates/.
    #[arg(long, default_value = "target/explore")]
    out: PathBuf,
    /// Signature history file: one known signature id per line (first word); new signatures
    /// are appended.
    #[arg(long)]
    history: Option<PathBuf>,
    /// Candidates tried when shrinking each new signature (0 = no shrinking, no candidates).
    #[arg(long, default_value_t = 40)]
    shrink_budget: usize,
}

#[derive(Debug, Args)]
struct SelftestArgs {
    /// Directory holding one folder per scenario family [default: found as for `run`].
    #[arg(long)]
    scenarios: Option<PathBuf>,
    /// The quick subset for CI: fewer iterations, the real ledger on the smoke scenarios only.
    #[arg(long)]
    quick: bool,
    /// Base seed of every run [default: 10].
    #[arg(long)]
    seed: Option<u64>,
    /// Iterations per scenario, instead of the self-test's own counts.
    #[arg(long)]
    iterations: Option<u32>,
    /// Iterations running at once [default: number of CPUs].
    #[arg(long)]
    jobs: Option<usize>,
    /// Output directory: results.json (with the kill matrix), report.html, each mutant's results.
    #[arg(long, default_value = "target/resilience/selftest")]
    out: PathBuf,
}

#[derive(Debug, Args)]
struct ReplayArgs {
    #[command(flatten)]
    scenarios: ScenarioArgs,
    /// The scenario's name, or the path of a scenario file (a regression capsule).
    scenario: String,
    /// The run's base seed (as printed by `run` and in results.json); a capsule's own seed is
    /// used whatever this says.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Which iteration.
    #[arg(long, default_value_t = 0)]
    iteration: u32,
}

impl Cli {
    /// Parses `argv` (including the program name) without running anything; for checking
    /// commands written in scripts and workflows.
    pub fn try_parse_from_args(argv: &[String]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(argv)
    }
}

/// Parses the command line and runs it; returns the process exit code.
pub fn main_impl() -> i32 {
    crate::engine::heap_settings::keep_freed_memory();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::List(args) => list::list(&args),
        Command::Run(args) => run::run(&args),
        Command::Explore(args) => explore::explore(&args),
        Command::Replay(args) => replay::replay(&args),
        Command::Selftest(args) => selftest::selftest(&args),
        Command::Report(ReportCommand::Merge(args)) => report::merge(&args),
        Command::Worker { phase, input } => worker(&phase, &input),
        Command::ForkServer => crate::engine::fork_server::serve(&worker_exit_code)
            .map(|()| exit_codes::OK)
            .map_err(Into::into),
    };
    crate::engine::end_thread_fork_server();
    exit_code(result)
}

/// The exit code of a command's result; an error is printed on stderr first.
fn exit_code(result: anyhow::Result<i32>) -> i32 {
    match result {
        Ok(code) => code,
        Err(e) if output::is_broken_pipe(&e) => exit_codes::OK,
        Err(e) => {
            eprintln!("error: {e:#}");
            match e.downcast_ref::<UsageError>() {
                Some(_) => exit_codes::BAD_INPUT,
                None => exit_codes::HARNESS_ERROR,
            }
        }
    }
}

/// What `__worker PHASE INPUT` does and the exit code it ends with; a forked worker runs this.
fn worker_exit_code(phase: &str, input: &std::path::Path) -> i32 {
    exit_code(worker(phase, input))
}

/// An error in what the user asked for (exit code 2), as opposed to a harness failure.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

fn worker(phase: &str, input: &std::path::Path) -> anyhow::Result<i32> {
    // First, before anything initialises SQLite.
    crate::families::prepare_worker_process()?;
    crate::engine::run_phase(phase, input, &crate::families::worker_phases()).map_err(|e| {
        match e.downcast::<crate::engine::worker::UnknownPhase>() {
            Ok(unknown) => UsageError(unknown.to_string()).into(),
            Err(other) => other,
        }
    })?;
    Ok(exit_codes::OK)
}

/// Loads the registry as the files say (no `--set` yet: overrides are applied to the selected
/// scenarios only, by [`with_overrides`]), mapping invalid files to a usage error.
fn load_registry(args: &ScenarioArgs) -> anyhow::Result<crate::scenario::Registry> {
    crate::scenario::Registry::load(&args.dir()?, &[]).map_err(|e| UsageError(e.to_string()).into())
}

/// The selected `scenarios` with every `--set` applied; a refused value is a usage error,
/// reported once with the selected scenarios it concerns.
fn with_overrides(
    args: &ScenarioArgs,
    scenarios: &[crate::scenario::Scenario],
) -> anyhow::Result<Vec<crate::scenario::Scenario>> {
    crate::scenario::apply_overrides(scenarios, &args.overrides)
        .map_err(|e| UsageError(e.to_string()).into())
}

/// Creates the output directory; failing to is bad input (exit 2: the user named a place the
/// harness cannot write), not a harness failure.
fn create_out_dir(out: &std::path::Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(out).map_err(|e| {
        UsageError(format!(
            "cannot create output directory {}: {e}; pass --out with a writable directory",
            out.display()
        ))
        .into()
    })
}

/// Scenarios with this tag document a known gap (e.g. bit flips before page checksums): a run
/// without `--filter` leaves them out so the default set passes; a filter naming them runs them.
pub const EXPECTED_FAIL_TAG: &str = "expected-fail";

/// Scenarios with this tag take minutes (the `perf/` family builds and measures 100k-capture
/// datasets): a run without `--filter` leaves them out; `--filter perf` runs them.
pub const SLOW_TAG: &str = "slow";

/// True for scenarios a run without `--filter` leaves out (`expected-fail` or `slow`).
fn hidden_by_default(scenario: &crate::scenario::Scenario) -> bool {
    scenario
        .tags
        .iter()
        .any(|t| t == EXPECTED_FAIL_TAG || t == SLOW_TAG)
}

/// Selects scenarios with an optional filter (without one: all but `expected-fail` and `slow`), mapping
/// no-match to a usage error.
fn select(
    registry: &crate::scenario::Registry,
    filter: Option<&str>,
) -> anyhow::Result<Vec<crate::scenario::Scenario>> {
    let Some(expression) = filter else {
        return Ok(registry
            .scenarios()
            .iter()
            .filter(|s| !hidden_by_default(s))
            .cloned()
            .collect());
    };
    let filter =
        crate::scenario::Filter::parse(expression).map_err(|e| UsageError(e.to_string()))?;
    let selected = filter
        .select(registry.scenarios())
        .map_err(|e| UsageError(e.to_string()))?;
    Ok(selected.into_iter().cloned().collect())
}

/// The source revision for the record: `RESILIENCE_REVISION` when set (CI passes it), else
/// `git describe --always --dirty` of the checkout holding the scenarios, else `unknown`.
fn revision(scenarios_dir: &std::path::Path) -> String {
    if let Ok(revision) = std::env::var("RESILIENCE_REVISION") {
        return revision;
    }
    std::process::Command::new("git")
        .arg("-C")
        .arg(scenarios_dir)
        .args(["describe", "--always", "--dirty"])
        .stderr(std::process::Stdio::null())
        .output()
        .ok()
        .filter(|o| o.status.success())
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "unknown".to_owned())
}
