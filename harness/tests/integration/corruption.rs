//! `corruption_accounted` on real ledger databases damaged at rest: the corrupt-table-page
//! scenario (one bit) holds with page checksums on, and heavy damage (64 bits in one table
//! page) fails the check once checksums are off (the ledger then serves damaged rows).

use std::path::Path;

use harness::engine::evidence_after_reopen;
use harness::engine::execution_from;
use harness::families::FaultPlan;
use harness::oracle::repairs::RepairKind;
use harness::oracle::{CheckName, Evidence, Part, Served};
use harness::scenario::Registry;

use super::support::{drive_in_process, drive_iteration_in_process, scenarios_dir};

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

/// Iteration `iteration` of scenario `name` at base seed `seed` (what `resilience replay` runs),
/// driven in `dir`, and the evidence the check worker gathers for it.
fn replayed(name: &str, seed: u64, iteration: u32, dir: &Path) -> Evidence {
    let registry = Registry::load(&scenarios_dir(), &[]).expect("scenarios load");
    let scenario = registry.get(name).expect("scenario").clone();
    let (job, messages) = drive_iteration_in_process(&scenario, seed, iteration, dir);
    let (execution, _) = execution_from(&job.plan, &messages);
    evidence_after_reopen(&job, &execution)
}

/// The acknowledged captures (not pruned) the poisoned ledger refused without naming them,
/// split by whether their row reads on disk (the check reads each on its own).
fn refused_unnamed(e: &Evidence) -> (Vec<String>, Vec<String>) {
    let snapshot = e.snapshot.as_ref().expect("the file opens for the check");
    let corruption = e.corruption.as_ref().expect("corruption evidence");
    let pruned = |id: &str| {
        e.model
            .states_at(id, e.model.acknowledged_instant())
            .contains(&None)
    };
    corruption
        .served
        .iter()
        .filter(|(id, served)| {
            matches!(served, Served::Refused(_)) && !corruption.named.contains(*id) && !pruned(id)
        })
        .map(|(id, _)| id.clone())
        .partition(|id| snapshot.captures.contains_key(id))
}

/// A flipped bit in a cell pointer of page 15 of captures makes one row read as garbage (a
/// NULL id), and the ledger, rightly, stops serving and names the capture that row held. The
/// check used to read the table in one scan, fail on that row, and take every capture for
/// damaged on disk: the four intact captures after it, refused unnamed, failed
/// `corruption_accounted`, and `faults_observable` could not read `errors_log`. Each capture is
/// now read on its own when the scan fails.
#[test]
fn intact_captures_beside_a_garbage_row_are_judged_intact() {
    let dir = tempfile::tempdir().unwrap();
    let mut e = replayed("corrupt-table-page", 1, 76, dir.path());
    let snapshot = e.snapshot.as_ref().expect("the file opens");
    assert!(
        snapshot.unreadable.contains_key(&Part::Captures),
        "the case no longer damages a row: {:?}",
        snapshot.unreadable
    );
    let (intact, damaged) = refused_unnamed(&e);
    assert_eq!(intact.len(), 4, "{intact:?}");
    assert_eq!(
        e.corruption.as_ref().map(|c| c.repairs.clone()),
        Some(vec![RepairKind::RefusedAndNamed]),
        "counted as refused and named"
    );
    assert_eq!(damaged, [] as [String; 0], "every damaged capture is named");
    for check in [CheckName::CorruptionAccounted, CheckName::FaultsObservable] {
        let verdict = e.check(check);
        assert!(verdict.passed, "{check}: {}", verdict.detail);
    }
    let integrity = e.check(CheckName::Integrity);
    assert!(
        !integrity.passed && integrity.detail.contains("database unreadable"),
        "a check of the content does not judge a partial read: {}",
        integrity.detail
    );
    let corruption = e.corruption.as_mut().expect("corruption evidence");
    let named = corruption
        .named
        .pop()
        .expect("the ledger named the damaged capture");
    let verdict = e.check(CheckName::CorruptionAccounted);
    assert!(
        !verdict.passed && verdict.detail.contains(&named),
        "a damaged capture left unnamed still fails: {}",
        verdict.detail
    );
}

/// A flipped bit in the WAL image of an `exports_audit` page: the re-sealed page is refused on
/// every read and the ledger stops serving. The five non-terminal captures it refused without
/// naming have no audit row and read intact on disk; the check used to fail them because the
/// audit table stopped its one-scan read (`database disk image is malformed`).
#[test]
fn a_damaged_audit_page_leaves_the_captures_judged_by_their_own_rows() {
    let dir = tempfile::tempdir().unwrap();
    let e = replayed("corrupt-wal-frame", 2, 126, dir.path());
    let snapshot = e.snapshot.as_ref().expect("the file opens");
    assert!(
        !snapshot.unreadable.is_empty(),
        "the case no longer damages a table the check reads"
    );
    let (intact, damaged) = refused_unnamed(&e);
    assert_eq!(intact.len(), 5, "{intact:?}");
    assert_eq!(damaged, [] as [String; 0]);
    for check in [CheckName::CorruptionAccounted, CheckName::FaultsObservable] {
        let verdict = e.check(check);
        assert!(verdict.passed, "{check}: {}", verdict.detail);
    }
}

/// A flipped header bit that stops the file opening: the check cannot read it (nor its
/// `errors_log`), and `faults_observable` judges the open's refusal, a typed corrupt error
/// naming every capture. An open that refused with an untyped error fails it.
#[test]
fn an_unopenable_file_is_judged_by_the_opens_refusal() {
    let dir = tempfile::tempdir().unwrap();
    let mut e = replayed("corrupt-header", 1, 3, dir.path());
    assert!(
        e.snapshot.is_err(),
        "the case no longer stops the file opening"
    );
    let refusal = e
        .reopen
        .as_ref()
        .expect_err("the ledger refuses to open it");
    assert_eq!(refusal.kind, "corrupt", "{refusal}");
    assert_eq!(
        e.corruption.as_ref().map(|c| c.repairs.clone()),
        Some(vec![RepairKind::RefusedAndNamed])
    );
    for check in [CheckName::CorruptionAccounted, CheckName::FaultsObservable] {
        let verdict = e.check(check);
        assert!(verdict.passed, "{check}: {}", verdict.detail);
    }
    if let Err(refusal) = &mut e.reopen {
        refusal.kind = "open".into();
    }
    let verdict = e.check(CheckName::FaultsObservable);
    assert!(
        !verdict.passed && verdict.detail.contains("not a typed corrupt error"),
        "{}",
        verdict.detail
    );
}
