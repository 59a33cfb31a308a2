//! Each check failing on a real ledger database that was deliberately broken after a clean
//! workload, and passing on the untouched one. The workload runs in this process
//! ([`drive_job`]); the evidence is gathered the way the check worker gathers it.

use std::path::Path;

use harness::engine::evidence_after_reopen;
use harness::engine::{IterationJob, execution_from};
use harness::oracle::{CaptureState, CheckName, Evidence, LedgerSnapshot, Part, Phase};
use harness::scenario::Registry;
use rusqlite::Connection;

use super::support::{drive_in_process, scenarios_dir};

/// A finished baseline workload in `dir`, and its evidence-gathering inputs.
struct Finished {
    job: IterationJob,
    execution: harness::oracle::Execution,
}

fn finished_workload(dir: &Path, seed: u64) -> Finished {
    let registry = Registry::load(&scenarios_dir(), &[]).expect("scenarios load");
    let scenario = registry
        .get("baseline-mixed-pipeline")
        .expect("baseline scenario")
        .clone();
    let (job, messages) = drive_in_process(&scenario, seed, dir);
    let (execution, _) = execution_from(&job.plan, &messages);
    Finished { job, execution }
}

/// Failing checks; `corruption_accounted` and the after-recovery checks are left out: their
/// evidence is gathered only for scenarios that run them (see `corruption.rs` and
/// `failpoints.rs`).
fn failing(e: &Evidence) -> Vec<CheckName> {
    CheckName::ALL
        .into_iter()
        .filter(|c| c.phase() == Phase::Check)
        .filter(|c| {
            ![
                CheckName::CorruptionAccounted,
                CheckName::ExportedOnce,
                CheckName::PruneBackedUp,
                CheckName::BackupsRestorable,
            ]
            .contains(c)
        })
        .filter(|c| !e.check(*c).passed)
        .collect()
}

fn tamper(job: &IterationJob, sql: &str) {
    let conn = Connection::open(&job.db_path).unwrap();
    conn.execute_batch(sql).unwrap();
}

/// An acknowledged capture in the given status.
fn capture_in(job: &IterationJob, statuses: &str) -> String {
    let conn = Connection::open(&job.db_path).unwrap();
    conn.query_row(
        &format!(
            "SELECT id FROM captures WHERE status IN ({statuses}) ORDER BY created_at LIMIT 1"
        ),
        [],
        |r| r.get(0),
    )
    .expect("the workload left such a capture")
}

#[test]
fn an_untouched_database_passes_every_check() {
    let dir = tempfile::tempdir().unwrap();
    let f = finished_workload(dir.path(), 1);
    let e = evidence_after_reopen(&f.job, &f.execution);
    assert_eq!(failing(&e), [], "{:?}", CheckName::ALL.map(|c| e.check(c)));
}

#[test]
fn a_deleted_acknowledged_capture_fails_durability_and_prefix_consistency() {
    let dir = tempfile::tempdir().unwrap();
    let f = finished_workload(dir.path(), 2);
    let id = capture_in(&f.job, "'staged','transcribed','failed_transcription'");
    tamper(
        &f.job,
        &format!(
            "DROP TRIGGER IF EXISTS captures_keep_non_terminal; DELETE FROM errors_log WHERE capture_id = '{id}'; DELETE FROM captures WHERE id = '{id}';"
        ),
    );
    let e = evidence_after_reopen(&f.job, &f.execution);
    let failed = failing(&e);
    assert!(
        failed.contains(&CheckName::AcknowledgedDurable),
        "{failed:?}"
    );
    assert!(failed.contains(&CheckName::PrefixConsistent), "{failed:?}");
    assert!(e.lost_acknowledged() >= 1);
}

#[test]
fn an_unacknowledged_capture_fails_no_partial() {
    let dir = tempfile::tempdir().unwrap();
    let f = finished_workload(dir.path(), 3);
    tamper(
        &f.job,
        "INSERT INTO captures (id, source, raw_content, content_hash, status, meta_json, created_at, updated_at)
         VALUES ('01ZZZZZZZZZZZZZZZZZZZZZZZZ', 'voice', 'voice/ghost.m4a', NULL, 'staged', '{}', 1, 1);",
    );
    let e = evidence_after_reopen(&f.job, &f.execution);
    assert!(
        failing(&e).contains(&CheckName::NoPartial),
        "{:?}",
        failing(&e)
    );
}

#[test]
fn a_status_without_its_audit_row_fails_the_state_machine() {
    let dir = tempfile::tempdir().unwrap();
    let f = finished_workload(dir.path(), 4);
    let id = capture_in(&f.job, "'exported'");
    tamper(
        &f.job,
        &format!("PRAGMA foreign_keys=OFF; DELETE FROM exports_audit WHERE capture_id = '{id}';"),
    );
    let e = evidence_after_reopen(&f.job, &f.execution);
    assert!(
        failing(&e).contains(&CheckName::StateMachine),
        "{:?}",
        failing(&e)
    );
}

#[test]
fn a_damaged_index_page_fails_integrity() {
    let dir = tempfile::tempdir().unwrap();
    let f = finished_workload(dir.path(), 5);
    let (page, page_size): (i64, i64) = {
        let conn = Connection::open(&f.job.db_path).unwrap();
        conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE);")
            .unwrap();
        let page = conn
            .query_row("SELECT rootpage FROM sqlite_schema WHERE type = 'index' AND tbl_name = 'captures' LIMIT 1", [], |r| r.get(0))
            .unwrap();
        let size = conn
            .query_row("PRAGMA page_size", [], |r| r.get(0))
            .unwrap();
        (page, size)
    };
    let mut bytes = std::fs::read(&f.job.db_path).unwrap();
    let start = ((page - 1) * page_size) as usize;
    bytes[start..start + 8].copy_from_slice(&[0xff; 8]);
    std::fs::write(&f.job.db_path, bytes).unwrap();
    let e = evidence_after_reopen(&f.job, &f.execution);
    assert!(
        failing(&e).contains(&CheckName::Integrity),
        "{:?}",
        failing(&e)
    );
}

#[test]
fn a_missing_recovery_index_fails_recovery_complete() {
    let dir = tempfile::tempdir().unwrap();
    let f = finished_workload(dir.path(), 6);
    tamper(&f.job, "DROP INDEX captures_recoverable;");
    let e = evidence_after_reopen(&f.job, &f.execution);
    let failed = failing(&e);
    assert!(failed.contains(&CheckName::RecoveryComplete), "{failed:?}");
}

/// A row whose text is not UTF-8 stops a whole read (`LedgerSnapshot::read`, which restores and
/// backups are compared with), but not the read the checks judge damage by: every other capture
/// is read on its own, the damaged one is left out, and the table is named as not read whole,
/// so the checks of the content still say the database is unreadable.
#[test]
fn a_row_that_does_not_read_leaves_every_other_capture_read() {
    let dir = tempfile::tempdir().unwrap();
    let f = finished_workload(dir.path(), 7);
    let whole = LedgerSnapshot::read(&f.job.db_path, &f.job.vault_dir).expect("sound");
    let id = capture_in(
        &f.job,
        "'staged','transcribed','failed_transcription','exported'",
    );
    tamper(
        &f.job,
        &format!("UPDATE captures SET raw_content = CAST(X'C328' AS TEXT) WHERE id = '{id}';"),
    );
    assert!(LedgerSnapshot::read(&f.job.db_path, &f.job.vault_dir).is_err());
    let partial =
        LedgerSnapshot::read_what_reads(&f.job.db_path, &f.job.vault_dir).expect("it opens");
    assert!(partial.unreadable.contains_key(&Part::Captures));
    let mut expected = whole.captures.clone();
    expected.remove(&id);
    let read: std::collections::BTreeMap<_, _> = partial
        .captures
        .iter()
        .map(|(id, c)| {
            (
                id.clone(),
                CaptureState {
                    audit: whole.captures[id].audit.clone(),
                    ..c.clone()
                },
            )
        })
        .collect();
    assert_eq!(read, expected);
    let order: Vec<&String> = whole.creation_order.iter().filter(|c| **c != id).collect();
    assert_eq!(partial.creation_order.iter().collect::<Vec<_>>(), order);
    let e = evidence_after_reopen(&f.job, &f.execution);
    assert!(
        e.check(CheckName::AcknowledgedDurable)
            .detail
            .contains("database unreadable"),
        "{:?}",
        e.check(CheckName::AcknowledgedDurable)
    );
}
