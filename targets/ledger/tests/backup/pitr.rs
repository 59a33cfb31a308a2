//! Point-in-time recovery from archived WAL frames: restoring to every
//! archived transaction (by number and by time) gives exactly the source's
//! state after it; a missing segment is reported as a gap.

use std::path::PathBuf;

use ledger::backup::{self, BackupError, RestoreTarget, plan_restore, restore};
use ledger::{ExportMode, LedgerError, StageOutcome, Status};
use proptest::prelude::*;
use rusqlite::Connection;

use crate::support::{Env, dump, dump_file, voice};

/// The source after one archived transaction.
struct Point {
    txid: u64,
    at_ms: i64,
    dump: Vec<String>,
}

#[derive(Debug, Clone, Copy)]
enum Op {
    Stage,
    Transcribe(usize),
    FailTranscription(usize),
    Export(usize),
    Prune,
    Checkpoint,
    Backup,
}

fn arb_op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => Just(Op::Stage),
        3 => (0usize..64).prop_map(Op::Transcribe),
        1 => (0usize..64).prop_map(Op::FailTranscription),
        3 => (0usize..64).prop_map(Op::Export),
        1 => Just(Op::Prune),
        1 => Just(Op::Checkpoint),
        1 => Just(Op::Backup),
    ]
}

/// Run `ops` with archiving after each, returning every archived point.
fn run(env: &mut Env, ops: &[Op]) -> Vec<Point> {
    let mut config = env.backups.clone();
    config.archive = true;
    env.backups = config.clone();
    env.ledger
        .enable_wal_archive(&config)
        .expect("enable archiving");
    let first = env.ledger.backup(&config).expect("first backup");
    assert!(first.lineage_started.is_some());
    let mut points = Vec::new();
    let mut ids: Vec<String> = Vec::new();
    let mut n = 0;
    let pick = |ids: &Vec<String>, k: usize| ids.get(k % ids.len().max(1)).cloned();
    for op in ops {
        match *op {
            Op::Stage => {
                n += 1;
                if let StageOutcome::Staged(id) = env.ledger.stage(&voice(n)).expect("stage") {
                    ids.push(id);
                }
            }
            Op::Transcribe(k) => {
                if let Some(id) = pick(&ids, k) {
                    let _ = env.ledger.record_transcription(&id, &format!("text {id}"));
                }
            }
            Op::FailTranscription(k) => {
                if let Some(id) = pick(&ids, k) {
                    let _ = env.ledger.mark_transcription_failed(&id, "no audio");
                }
            }
            Op::Export(k) => {
                if let Some(id) = pick(&ids, k) {
                    let mode = match env.ledger.capture(&id).expect("read").map(|c| c.status) {
                        Some(Status::FailedTranscription) => ExportMode::Placeholder,
                        _ => ExportMode::Initial,
                    };
                    let _ = env.ledger.record_export(&id, mode);
                }
            }
            Op::Prune => {
                let _ = env.ledger.prune_exported_older_than(0).expect("prune");
            }
            Op::Checkpoint => {
                let report = env.ledger.checkpoint_archived(&config).expect("checkpoint");
                assert!(report.sealed, "{report:?}");
                if let Some(step) = report.archive.step.filter(|s| s.transactions > 0) {
                    points.push(Point {
                        txid: step.position.txid,
                        at_ms: step.at_ms,
                        dump: dump(env.ledger.connection()),
                    });
                }
            }
            Op::Backup => {
                let report = env.ledger.backup(&config).expect("backup");
                assert!(report.lineage_started.is_none(), "{report:?}");
                assert_eq!(report.verification.map(|v| v.ok), Some(true));
            }
        }
        let report = env.ledger.archive_wal(&config).expect("archive");
        assert!(report.lineage_break.is_none(), "{report:?}");
        let step = report.step.expect("a step");
        if step.transactions > 0 {
            points.push(Point {
                txid: step.position.txid,
                at_ms: step.at_ms,
                dump: dump(env.ledger.connection()),
            });
        }
    }
    points
}

fn restored(env: &Env, target: RestoreTarget, name: &str) -> (Vec<String>, backup::RestoreReport) {
    let into: PathBuf = env.path(name);
    let plan = plan_restore(&env.backups, target, &into).expect("plan");
    let report = restore(&plan).expect("restore");
    (dump_file(&into), report)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 6, ..ProptestConfig::default() })]
    #[test]
    fn restore_to_each_transaction_equals_the_source_after_it(
        ops in prop::collection::vec(arb_op(), 5..40)
    ) {
        let mut env = Env::new();
        let points = run(&mut env, &ops);
        for (i, point) in points.iter().enumerate() {
            let (by_txid, report) =
                restored(&env, RestoreTarget::Txid { txid: point.txid }, &format!("t{i}.db"));
            prop_assert_eq!(&by_txid, &point.dump, "txid {} via {:?}", point.txid, report.plan);
            let (by_time, _) =
                restored(&env, RestoreTarget::Timestamp { ms: point.at_ms }, &format!("m{i}.db"));
            prop_assert_eq!(&by_time, &point.dump, "time {}", point.at_ms);
        }
        let (latest, _) = restored(&env, RestoreTarget::Latest, "latest.db");
        prop_assert_eq!(latest, dump(env.ledger.connection()));
    }
}

fn busy_workload(env: &mut Env) -> Vec<Point> {
    let mut ops = Vec::new();
    for k in 0..12 {
        ops.extend([Op::Stage, Op::Transcribe(k), Op::Export(k)]);
        if k % 4 == 3 {
            ops.push(Op::Checkpoint);
        }
    }
    run(env, &ops)
}

#[test]
fn frames_are_applied_across_wal_restarts_and_truncations() {
    let mut env = Env::new();
    let points = busy_workload(&mut env);
    assert!(points.len() > 20);
    let last = points.last().expect("points");
    let (latest, report) = restored(&env, RestoreTarget::Latest, "latest.db");
    assert_eq!(latest, last.dump);
    assert!(report.applied_transactions > 20, "{report:?}");
    assert_eq!(report.plan.target_txid, Some(last.txid));
}

#[test]
fn a_deleted_middle_segment_is_reported_as_a_gap() {
    let mut env = Env::new();
    let points = busy_workload(&mut env);
    let mut segments: Vec<PathBuf> = std::fs::read_dir(env.backups.archive_dir())
        .expect("archive dir")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "walseg"))
        .collect();
    segments.sort();
    let middle = segments[segments.len() / 2].clone();
    std::fs::remove_file(&middle).expect("delete segment");

    let into = env.path("r.db");
    let error = plan_restore(&env.backups, RestoreTarget::Latest, &into).expect_err("gap");
    assert!(matches!(error, BackupError::ArchiveGap { .. }), "{error}");
    assert!(error.to_string().contains("missing"), "{error}");
    // Points before the gap still restore exactly.
    let early = &points[1];
    let (before, _) = restored(&env, RestoreTarget::Txid { txid: early.txid }, "early.db");
    assert_eq!(before, early.dump);
}

#[test]
fn a_deleted_last_segment_is_a_gap_too() {
    let mut env = Env::new();
    busy_workload(&mut env);
    let mut segments: Vec<PathBuf> = std::fs::read_dir(env.backups.archive_dir())
        .expect("archive dir")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "walseg"))
        .collect();
    segments.sort();
    std::fs::remove_file(segments.last().expect("a segment")).expect("delete");
    let error = plan_restore(&env.backups, RestoreTarget::Latest, &env.path("r.db"))
        .expect_err("gap at the end");
    assert!(matches!(error, BackupError::ArchiveGap { .. }), "{error}");
}

#[test]
fn a_damaged_segment_fails_the_restore() {
    let mut env = Env::new();
    busy_workload(&mut env);
    let mut segments: Vec<PathBuf> = std::fs::read_dir(env.backups.archive_dir())
        .expect("archive dir")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "walseg"))
        .collect();
    segments.sort();
    let last = segments.last().expect("a segment");
    let len = std::fs::metadata(last).expect("stat").len() as usize;
    crate::support::flip_bit(last, len - 100);
    let into = env.path("r.db");
    let plan = plan_restore(&env.backups, RestoreTarget::Latest, &into).expect("plan");
    let error = restore(&plan).expect_err("damaged");
    assert!(matches!(error, BackupError::Segment { .. }), "{error}");
    assert!(!into.exists());
}

#[test]
fn a_checkpoint_the_archive_did_not_see_starts_a_new_lineage() {
    let mut env = Env::new();
    let points = busy_workload(&mut env);
    env.stage(1000);
    // Another connection checkpoints and truncates the WAL behind the
    // archive's back: the staged capture was never archived.
    let other = Connection::open(&env.config.path).expect("open");
    other
        .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
        .expect("checkpoint");
    drop(other);
    env.stage(1001);
    let report = env.ledger.archive_wal(&env.backups).expect("archive");
    let (reason, backup_path) = report.lineage_break.expect("a break is reported");
    assert!(reason.contains("generation"), "{reason}");
    assert!(backup_path.exists());
    let logged: i64 = env
        .ledger
        .connection()
        .query_row(
            "SELECT count(*) FROM errors_log WHERE stage = 'backup' AND message LIKE '%archive break%'",
            [],
            |r| r.get(0),
        )
        .expect("count");
    assert_eq!(logged, 1);
    // The old lineage still restores to its points; latest is the new one.
    let old = &points[points.len() - 1];
    let (restored_old, _) = restored(&env, RestoreTarget::Txid { txid: old.txid }, "old.db");
    assert_eq!(restored_old, old.dump);
    env.ledger
        .archive_wal(&env.backups)
        .expect("archive after break");
    let (latest, _) = restored(&env, RestoreTarget::Latest, "latest.db");
    assert_eq!(latest, dump(env.ledger.connection()));
}

#[test]
fn archiving_requires_it_to_be_enabled() {
    let mut env = Env::new();
    let error = env
        .ledger
        .archive_wal(&env.backups)
        .expect_err("not enabled");
    assert!(
        matches!(
            error,
            LedgerError::Backup(BackupError::ArchiveNotEnabled { .. })
        ),
        "{error}"
    );
    assert!(error.to_string().contains("enable_wal_archive"), "{error}");
}
