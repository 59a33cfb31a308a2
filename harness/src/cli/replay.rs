//! `resilience replay SCENARIO --seed N --iteration I`: one iteration, its trace and verdicts.

use reports::IterationStatus;

use super::output::{out, out_line};
use super::{ReplayArgs, UsageError, exit_codes, load_registry};
use crate::engine::{RunControl, RunPlan, run as run_plan};

pub(super) fn replay(args: &ReplayArgs) -> anyhow::Result<i32> {
    let registry = load_registry(&args.scenarios)?;
    let scenario = match capsule_file(&args.scenario)? {
        Some(capsule) => capsule,
        None => {
            let named = registry
                .get(&args.scenario)
                .ok_or_else(|| UsageError(unknown_scenario(&registry, &args.scenario)))?;
            let mut overridden =
                super::with_overrides(&args.scenarios, std::slice::from_ref(named))?;
            overridden.remove(0)
        }
    };
    let scenario = &scenario;
    if !scenario.is_deterministic() {
        eprintln!(
            "note: {} depends on timing ({}); the replay uses the same seed and plan but may not hit the same instant",
            scenario.name,
            if scenario.perf.is_some() {
                "a performance measurement"
            } else {
                "a timing-dependent fault"
            }
        );
    }
    let plan = RunPlan {
        scenarios: vec![scenario.clone()],
        base_seed: args.seed,
        only_iteration: Some(args.iteration),
        jobs: 1,
        time_budget: None,
        worker_exe: std::env::current_exe()?,
        keep_failures_in: None,
        command: std::env::args().collect(),
        filter: None,
        shard: None,
        revision: super::revision(&args.scenarios.dir()?),
        replay_args: args.scenarios.replay_args(),
    };
    let (_, outcomes) = run_plan(&plan, &mut [], &RunControl::new())?;
    let outcome = outcomes
        .first()
        .ok_or_else(|| anyhow::anyhow!("the iteration did not run"))?;
    let result = &outcome.result;
    out_line(format_args!(
        "{} iteration {} seed {} (base seed {})",
        result.scenario, result.iteration, result.seed, result.base_seed
    ))?;
    out(outcome.trace.render())?;
    out_line(format_args!("trace digest {}", result.trace_digest))?;
    for check in &result.checks {
        let mark = if check.passed { "ok  " } else { "FAIL" };
        out_line(format_args!(
            "{mark} {}{}",
            check.name,
            if check.detail.is_empty() {
                String::new()
            } else {
                format!(": {}", check.detail)
            }
        ))?;
    }
    if let Some(error) = &result.error {
        out_line(format_args!("ERROR {error}"))?;
    }
    out_line(format_args!(
        "lost acknowledged writes: {}",
        result.lost_acknowledged
    ))?;
    if let Some(capsule) = &scenario.capsule {
        if capsule.digest != result.trace_digest {
            out_line(format_args!(
                "DIGEST MISMATCH: the capsule recorded {}, the replay gave {}",
                capsule.digest, result.trace_digest
            ))?;
            return Ok(exit_codes::CHECK_FAILED);
        }
        out_line(format_args!(
            "same digest as the capsule ({})",
            capsule.digest
        ))?;
    }
    Ok(match result.status {
        IterationStatus::Passed => exit_codes::OK,
        _ => exit_codes::CHECK_FAILED,
    })
}

/// The error for a scenario name that does not exist: the closest names, and where to look.
fn unknown_scenario(registry: &crate::scenario::Registry, name: &str) -> String {
    let close = registry.closest_names(name, 5);
    let hint = if close.is_empty() {
        String::new()
    } else {
        format!("; did you mean: {}?", close.join(", "))
    };
    format!(
        "no scenario is named `{name}`{hint} (`resilience list --all` shows every name; a \
         regression capsule is given by the path of its .toml file)"
    )
}

/// A scenario file given by path (`resilience replay scenarios/regressions/x.toml`), or `None`
/// when the argument is a scenario name.
fn capsule_file(arg: &str) -> anyhow::Result<Option<crate::scenario::Scenario>> {
    let path = std::path::Path::new(arg);
    if !arg.ends_with(".toml") {
        return Ok(None);
    }
    let text = std::fs::read_to_string(path)
        .map_err(|e| UsageError(format!("cannot read {}: {e}", path.display())))?;
    let family = path
        .parent()
        .and_then(|p| p.file_name())
        .map_or("regressions".to_owned(), |f| {
            f.to_string_lossy().into_owned()
        });
    crate::scenario::Scenario::parse(path, &family, &text)
        .map(Some)
        .map_err(|e| UsageError(e.to_string()).into())
}
