//! Shared helpers: running the `resilience` binary, writing scenario trees.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The binary under test.
pub fn resilience() -> Command {
    Command::new(env!("CARGO_BIN_EXE_resilience"))
}

/// The repository's scenario directory.
pub fn scenarios_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios")
}

/// Runs the binary with `args`, returning its output.
pub fn run(args: &[&str]) -> Output {
    resilience().args(args).output().expect("resilience runs")
}

/// Writes `text` at `dir/rel`, creating folders.
pub fn write(dir: &Path, rel: &str, text: &str) {
    let path = dir.join(rel);
    std::fs::create_dir_all(path.parent().expect("has parent")).expect("mkdir");
    std::fs::write(path, text).expect("write");
}

/// Reads `results.json` from an output directory.
pub fn results(out: &Path) -> reports::RunResults {
    reports::json::read_results(&out.join("results.json")).expect("results.json parses")
}

/// stderr as text.
pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Runs iteration 0 of `scenario` with `seed` in this process (the drive phase only, files under
/// `dir`) and returns its job and the messages the drive reported.
pub fn drive_in_process(
    scenario: &harness::scenario::Scenario,
    seed: u64,
    dir: &Path,
) -> (
    harness::engine::IterationJob,
    Vec<harness::engine::WorkerMessage>,
) {
    drive_iteration_in_process(scenario, seed, 0, dir)
}

/// [`drive_in_process`] for iteration `iteration` of a run with base seed `seed`: the job
/// `resilience replay <scenario> --seed <seed> --iteration <iteration>` runs.
pub fn drive_iteration_in_process(
    scenario: &harness::scenario::Scenario,
    seed: u64,
    iteration: u32,
    dir: &Path,
) -> (
    harness::engine::IterationJob,
    Vec<harness::engine::WorkerMessage>,
) {
    let plan = harness::engine::RunPlan::new(
        vec![scenario.clone()],
        seed,
        env!("CARGO_BIN_EXE_resilience").into(),
    );
    let job = plan.job(scenario, iteration, dir);
    std::fs::create_dir_all(job.db_path.parent().expect("iteration dir")).expect("mkdir");
    let mut messages = Vec::new();
    harness::engine::worker::drive_job(&job, &mut |m| {
        messages.push(m);
        Ok(())
    })
    .expect("the drive runs");
    (job, messages)
}
