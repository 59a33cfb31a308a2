//! `corruption_accounted` on real ledger databases damaged at rest: the corrupt-table-page
//! scenario (one bit) holds with page checksums on, and heavy damage (64 bits in one table
//! page) fails the check once checksums are off (the ledger then serves damaged rows).

use std::path::Path;

use harness::engine::evidence_after_reopen;
use harness::engine::execution_from;
use harness::families::FaultPlan;
use harness::oracle::{CheckName, Evidence};
use harness::scenario::Registry;

use super::support::{drive_in_process, scenarios_dir};

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
    let (job, messages) = drive_in_process(&scenario, seed, dir);
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

/// With the WAL archived after every operation, the damaged frame is replaced from the archive
/// before SQLite's recovery: nothing acknowledged is lost and the database is sound.
#[test]
fn a_damaged_wal_frame_is_restored_from_the_archive_the_drive_kept() {
    let dir = tempfile::tempdir().unwrap();
    let registry = Registry::load(&scenarios_dir(), &[]).expect("scenarios load");
    let scenario = registry
        .get("corrupt-wal-frame-archived")
        .expect("scenario")
        .clone();
    let (job, _) = drive_in_process(&scenario, 1, dir.path());
    let ledger = ledger::Ledger::open(&harness::engine::ledger_config(&job)).expect("open");
    let restored = ledger.safety_events().iter().any(|e| {
        matches!(&e.kind, ledger::SafetyEventKind::Corruption(report)
            if matches!(report.action, ledger::integrity::RepairAction::WalFramesRestored(_)))
    });
    assert!(restored, "{:?}", ledger.safety_events());
    assert_eq!(ledger.safety_counters().repairs, 1);
}
