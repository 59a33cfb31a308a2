//! The harness's power-loss crash cycle: one crash point of a 200-operation workload (WAL +
//! FULL), i.e. rerun the workload cut before that durable mutation, write one crash image per
//! mode (drop, keep, torn, sector prefix) and reopen and judge each with the full oracle.
//! Criterion times single crash points, cycling through the workload's points; then one pass
//! over every point (the first 100 with `BENCH_QUICK=1`) prints crash states per second, the
//! rate `resilience run --exhaustive` reports.

use std::path::PathBuf;
use std::time::Instant;

use benches::{scratch, settings};
use criterion::{Criterion, criterion_group, criterion_main};
use harness::engine::RunPlan;
use harness::families::FaultPlan;
use harness::families::power_loss::exhaustive::CrashCycles;
use harness::scenario::{Override, Registry};

/// The scenario timed, and the workload size the issue names.
const SCENARIO: &str = "power-loss-wal-full";
const OPERATIONS: &str = "workload.operations=200";

fn scenarios_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../scenarios")
}

fn crash_cycles(c: &mut Criterion) {
    let dir = scratch::tempdir();
    let set: Override = OPERATIONS.parse().expect("override");
    let registry = Registry::load(&scenarios_dir(), &[set]).expect("load scenarios");
    let scenario = registry.get(SCENARIO).expect("scenario").clone();
    let plan = RunPlan::new(vec![scenario.clone()], 1, PathBuf::new());
    let job = plan.job(&scenario, 0, dir.path());
    std::fs::create_dir_all(job.db_path.parent().expect("iteration dir")).expect("mkdir");
    let FaultPlan::PowerLoss(power) = &scenario.fault else {
        panic!("{SCENARIO} is a power-loss scenario");
    };
    let mut cycles = CrashCycles::prepare(&job, power, &mut |_| Ok(())).expect("prepare");
    let points = cycles.mutations();
    eprintln!(
        "crash cycles: {SCENARIO}, 200 operations, {points} crash points, scratch on tmpfs: {}",
        scratch::on_tmpfs()
    );

    let mut next = 0;
    c.bench_function("crash-cycle/point", |b| {
        b.iter(|| {
            next = next % points + 1;
            cycles.check(next).expect("crash cycle")
        })
    });

    let last = if settings::quick() {
        points.min(100)
    } else {
        points
    };
    let before = cycles.states();
    let started = Instant::now();
    for point in 1..=last {
        cycles.check(point).expect("crash cycle");
    }
    let seconds = started.elapsed().as_secs_f64();
    let states = cycles.states() - before;
    eprintln!(
        "crash-cycle/pass: {last} crash points, {states} crash states in {seconds:.2} s = {:.0} states/s",
        states as f64 / seconds
    );
}

criterion_group! {
    name = benches;
    config = settings::criterion();
    targets = crash_cycles
}
criterion_main!(benches);
