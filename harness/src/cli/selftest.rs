//! `resilience selftest`: the kill matrix of the ledger's planted bugs, and a false-alarm run
//! of the real ledger.

use anyhow::Context;
use reports::selftest::KillMatrix;

use super::{SelftestArgs, exit_codes, revision};
use crate::engine::RunControl;
use crate::selftest::{SelftestPlan, run_selftest};

/// Fixed base seed of a self-test without `--seed`, so two self-tests run the same cases.
const DEFAULT_SEED: u64 = 10;

pub(super) fn selftest(args: &SelftestArgs) -> anyhow::Result<i32> {
    let jobs = args
        .jobs
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let (mutant_iterations, real_iterations, real_filter) = if args.quick {
        (2, 1, Some("smoke".to_owned()))
    } else {
        (6, 2, None)
    };
    let scenarios_dir = super::scenarios_dir::locate(args.scenarios.as_deref())?;
    let plan = SelftestPlan {
        revision: revision(&scenarios_dir),
        scenarios_dir,
        base_seed: args.seed.unwrap_or(DEFAULT_SEED),
        mutant_iterations: args.iterations.unwrap_or(mutant_iterations),
        real_iterations: args.iterations.unwrap_or(real_iterations),
        real_filter,
        jobs,
        worker_exe: std::env::current_exe()
            .context("cannot find the resilience binary to re-execute")?,
        out: args.out.clone(),
    };
    super::create_out_dir(&args.out)?;
    eprintln!(
        "resilience selftest: seed {}, {jobs} job(s), outputs in {}",
        plan.base_seed,
        args.out.display()
    );
    let control = RunControl::new();
    crate::engine::install_stop_signals(&control)
        .context("cannot install the SIGINT and SIGTERM handlers")?;
    let mut results = run_selftest(&plan, &control)?;
    results.complete = true;
    let matrix = results.selftest.clone().unwrap_or_default();
    reports::json::write_atomically(&args.out.join("results.json"), &results)
        .context("cannot write results.json")?;
    reports::write_file_atomically(
        &args.out.join("report.html"),
        reports::html::render(&results, &[]).as_bytes(),
    )
    .context("cannot write report.html")?;
    super::output::out(render_matrix(&matrix))?;
    eprintln!(
        "resilience selftest: {}, {}",
        args.out.join("results.json").display(),
        args.out.join("report.html").display()
    );
    Ok(if let Some(signal) = control.stopped_by() {
        signal.exit_code()
    } else if matrix.passed() {
        exit_codes::OK
    } else {
        exit_codes::CHECK_FAILED
    })
}

/// The matrix as plain text, one row per (mutant, family).
pub fn render_matrix(m: &KillMatrix) -> String {
    let mut text = format!(
        "{:<38} {:<22} {:<14} {}\n",
        "mutant", "family", "verdict", "first failing check (failed/iterations)"
    );
    for r in &m.rows {
        let check = match &r.first_failing_check {
            Some(c) => format!("{c} ({}/{})", r.failed, r.iterations),
            None if r.iterations > 0 => format!("- (0/{})", r.iterations),
            None => String::new(),
        };
        text.push_str(&format!(
            "{:<38} {:<22} {:<14} {}\n",
            r.mutant,
            r.family,
            r.verdict.label(),
            check
        ));
    }
    if m.false_alarms.is_empty() {
        text.push_str(&format!(
            "real ledger: 0 false alarms in {} iterations\n",
            m.real_iterations
        ));
    } else {
        text.push_str(&format!(
            "real ledger: {} FALSE ALARM(S): {}\n",
            m.false_alarms.len(),
            m.false_alarms.join(", ")
        ));
    }
    text
}
