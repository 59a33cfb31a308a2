//! `corruption_accounted` on real ledger databases damaged at rest: the corrupt-table-page
//! scenario (one bit) holds with page checksums on, and heavy damage (64 bits in one table
//! page) fails the check once checksums are off (the ledger then serves damaged rows).

use std::path::Path;

use harness::faults::FaultPlan;
use harness::oracle::{CheckName, Evidence};
use harness::runner::worker::{drive_job, evidence_after_reopen};
use harness::runner::{RunPlan, execution_from};
use harness::scenario::Registry;

use super::support::scenarios_dir;

/// Runs corrupt-table-page (with `bits` flipped, checksums on or off) in `dir` and gathers the
/// evidence the check worker would.
fn damaged(dir: &Path, seed: u64, bits: u32, page_checksums: bool) -> Evidence {
    let registry = Registry::load(&scenarios_dir(), &[]).expect("scenarios load");
    let mut scenario = registry
        .get("corrupt-table-page")
        .expect("corruption scenario")
        .clone();
    scenario.target.page_checksums = page_checksums;
    if let FaultPlan::Corruption(c) = &mut scenario.fault {
        c.bits = bits;
    }
    let plan = RunPlan::new(
        vec![scenario.clone()],
        seed,
        env!("CARGO_BIN_EXE_resilience").into(),
    );
    let job = plan.job(&scenario, 0, dir);
    std::fs::create_dir_all(job.db_path.parent().unwrap()).unwrap();
    let mut messages = Vec::new();
    drive_job(&job, &mut |m| {
        messages.push(m);
        Ok(())
    })
    .expect("workload and damage run");
    let (execution, faults) = execution_from(&job.plan, &messages);
    assert!(
        faults
            .iter()
            .any(|(_, d)| d.starts_with("corruption: flipped")),
        "{faults:?}"
    );
    evidence_after_reopen(&job, &execution)
}

#[test]
fn table_damage_is_accounted_with_checksums_and_caught_without_them() {
    let dir = tempfile::tempdir().unwrap();
    let with = damaged(&dir.path().join("on"), 3, 1, true);
    let verdict = with.check(CheckName::CorruptionAccounted);
    assert!(verdict.passed, "{}", verdict.detail);
    let without = damaged(&dir.path().join("off"), 3, 64, false);
    let verdict = without.check(CheckName::CorruptionAccounted);
    assert!(
        !verdict.passed,
        "64 flipped bits in a table page, served without checksums, went unnoticed"
    );
}
