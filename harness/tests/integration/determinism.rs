//! The determinism guard: every scenario whose faults are deterministic runs twice with the same
//! seed, and the traces must be identical; a mismatch names the first differing event.

use harness::engine::{RunControl, RunPlan, run};
use harness::scenario::{Registry, Scenario};
use harness::trace::Trace;

use super::support::scenarios_dir;

/// The trace of iteration 0, its workers run as `control` says (forked or exec'd).
fn trace_of_with(scenario: &Scenario, seed: u64, control: &RunControl) -> Trace {
    let plan = RunPlan {
        only_iteration: Some(0),
        ..RunPlan::new(
            vec![scenario.clone()],
            seed,
            env!("CARGO_BIN_EXE_resilience").into(),
        )
    };
    let (_, outcomes) = run(&plan, &mut [], control).expect("the run runs");
    outcomes
        .into_iter()
        .next()
        .unwrap_or_else(|| {
            panic!(
                "{} ran no iteration 0 (skipped: its backend cannot run here?)",
                scenario.name
            )
        })
        .trace
}

fn trace_of(scenario: &Scenario, seed: u64) -> Trace {
    trace_of_with(scenario, seed, &RunControl::new())
}

/// The first event where two traces differ (in what the digest covers), described.
fn first_difference(a: &Trace, b: &Trace) -> Option<String> {
    let (a, b) = (a.canonical_events(), b.canonical_events());
    let n = a.len().max(b.len());
    (0..n).find_map(|i| match (a.get(i), b.get(i)) {
        (Some(x), Some(y)) if x == y => None,
        (x, y) => Some(format!("event {i}: {x:?} vs {y:?}")),
    })
}

#[test]
fn deterministic_scenarios_give_identical_traces_for_one_seed() {
    let registry = Registry::load(&scenarios_dir(), &[]).expect("scenarios load");
    let deterministic: Vec<&Scenario> = registry
        .scenarios()
        .iter()
        .filter(|s| s.is_deterministic() && s.perf.is_none())
        .collect();
    assert!(deterministic.len() >= 3, "the baseline family at least");
    for scenario in deterministic {
        // Once through the fork server, once exec'd: the launch changes nothing traced.
        let first = trace_of(scenario, 77);
        let second = trace_of_with(scenario, 77, &RunControl::new().with_exec_workers());
        assert!(
            !first.events.is_empty(),
            "{} recorded nothing",
            scenario.name
        );
        if let Some(diff) = first_difference(&first, &second) {
            panic!(
                "{} is not deterministic: first difference at {diff}",
                scenario.name
            );
        }
        assert_eq!(first.digest(), second.digest());
    }
}

#[test]
fn the_guard_names_the_first_differing_event() {
    let registry = Registry::load(&scenarios_dir(), &[]).expect("scenarios load");
    let scenario = registry.get("baseline-mixed-pipeline").unwrap();
    let a = trace_of(scenario, 1);
    let b = trace_of(scenario, 2);
    let diff = first_difference(&a, &b).expect("different seeds differ");
    assert!(diff.starts_with("event 0:"), "{diff}");
}
