//! Fail points: an error injected between the steps of an operation leaves
//! the database as it was. Own test binary: fail points are process-global,
//! and `FailScenario` serialises the tests.
#![cfg(feature = "failpoints")]

use std::sync::Arc;

use fail::FailScenario;
use ledger::{
    Config, ExportMode, ExportOutcome, Ledger, LedgerError, NewCapture, OpenOptions, Source,
    StageOutcome, Status, StepClock, failpoint,
};
use rusqlite::Connection;

struct Env {
    _dir: tempfile::TempDir,
    config: Config,
    ledger: Ledger,
}

fn env() -> Env {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = Config::new(dir.path().join("l.db"), dir.path().join("vault"));
    let ledger = open(&config).expect("open");
    Env {
        _dir: dir,
        config,
        ledger,
    }
}

fn open(config: &Config) -> ledger::Result<Ledger> {
    Ledger::open_with(
        config,
        OpenOptions {
            clock: Arc::new(StepClock::new(1_700_000_000_000, 86_400_000)),
            id_seed: Some(3),
        },
    )
}

fn voice(n: u32) -> NewCapture {
    NewCapture {
        source: Source::Voice,
        raw_content: format!("memos/{n}.m4a"),
        channel: Some("phone".into()),
        channel_native_id: Some(format!("rec-{n}")),
    }
}

fn staged(ledger: &mut Ledger, n: u32) -> String {
    match ledger.stage(&voice(n)).expect("stage") {
        StageOutcome::Staged(id) => id,
        other => panic!("expected new capture, got {other:?}"),
    }
}

fn dump(conn: &Connection) -> Vec<String> {
    let mut rows = Vec::new();
    for table in ["captures", "exports_audit", "errors_log", "sync_state"] {
        // The log of errors that reached the caller is the one row a failed call adds.
        let filter = if table == "errors_log" {
            "WHERE stage != 'operation'"
        } else {
            ""
        };
        let mut stmt = conn
            .prepare(&format!("SELECT * FROM {table} {filter} ORDER BY 1"))
            .expect("prepare");
        let columns = stmt.column_count();
        let mut query = stmt.query([]).expect("query");
        while let Some(row) = query.next().expect("row") {
            let values: Vec<String> = (0..columns)
                .map(|i| format!("{:?}", row.get_ref(i).expect("value")))
                .collect();
            rows.push(format!("{table}: {}", values.join(" | ")));
        }
    }
    rows
}

fn assert_fail_point<T: std::fmt::Debug>(result: ledger::Result<T>, name: &str) {
    match result {
        Err(LedgerError::FailPoint { name: got }) => assert_eq!(got, name),
        other => panic!("expected fail point {name}, got {other:?}"),
    }
}

fn status(ledger: &Ledger, id: &str) -> Status {
    ledger.capture(id).expect("read").expect("exists").status
}

#[test]
fn export_failing_after_audit_insert_leaves_no_audit_row() {
    let scenario = FailScenario::setup();
    let mut env = env();
    let id = staged(&mut env.ledger, 1);
    env.ledger
        .record_transcription(&id, "words")
        .expect("transcribe");
    let before = dump(env.ledger.connection());
    fail::cfg(failpoint::EXPORT_AFTER_AUDIT_INSERT, "return").expect("cfg");
    let result = env.ledger.record_export(&id, ExportMode::Initial);
    assert_fail_point(result, failpoint::EXPORT_AFTER_AUDIT_INSERT);
    assert!(env.ledger.connection().is_autocommit());
    assert_eq!(dump(env.ledger.connection()), before);
    assert_eq!(status(&env.ledger, &id), Status::Transcribed);
    let file = env.config.vault_dir.join(format!("{id}.md"));
    assert!(file.exists(), "the file is written before the transaction");
    fail::remove(failpoint::EXPORT_AFTER_AUDIT_INSERT);
    assert_eq!(
        env.ledger
            .record_export(&id, ExportMode::Initial)
            .expect("retry"),
        ExportOutcome::Exported
    );
    let files: Vec<_> = std::fs::read_dir(&env.config.vault_dir)
        .expect("vault")
        .collect();
    assert_eq!(files.len(), 1);
    scenario.teardown();
}

#[test]
fn stage_failing_before_commit_stores_nothing() {
    let scenario = FailScenario::setup();
    let mut env = env();
    fail::cfg(failpoint::STAGE_BEFORE_COMMIT, "return").expect("cfg");
    assert_fail_point(env.ledger.stage(&voice(1)), failpoint::STAGE_BEFORE_COMMIT);
    assert!(dump(env.ledger.connection()).is_empty());
    fail::remove(failpoint::STAGE_BEFORE_COMMIT);
    assert!(matches!(
        env.ledger.stage(&voice(1)).expect("retry"),
        StageOutcome::Staged(_)
    ));
    scenario.teardown();
}

fn caller_errors_logged(conn: &Connection) -> Vec<String> {
    conn.prepare("SELECT message FROM errors_log WHERE stage = 'operation' ORDER BY id")
        .and_then(|mut stmt| stmt.query_map([], |row| row.get(0))?.collect())
        .expect("errors_log")
}

#[test]
fn an_error_that_reaches_the_caller_is_logged_once_and_an_answer_is_not() {
    let scenario = FailScenario::setup();
    let mut env = env();
    fail::cfg(failpoint::STAGE_BEFORE_COMMIT, "return").expect("cfg");
    assert_fail_point(env.ledger.stage(&voice(1)), failpoint::STAGE_BEFORE_COMMIT);
    fail::remove(failpoint::STAGE_BEFORE_COMMIT);
    let logged = caller_errors_logged(env.ledger.connection());
    assert_eq!(logged.len(), 1, "{logged:?}");
    assert!(logged[0].starts_with("stage: fail_point: "), "{logged:?}");
    assert!(matches!(
        env.ledger
            .record_transcription("01NOSUCHCAPTURE0000000000", "x"),
        Err(LedgerError::NotFound { .. })
    ));
    assert_eq!(caller_errors_logged(env.ledger.connection()).len(), 1);
    let metrics = env.ledger.metrics_snapshot().expect("metrics");
    assert_eq!(metrics.operations["stage"].errors, 1);
    scenario.teardown();
}

#[test]
fn a_guarded_prune_logs_its_fault_error_like_a_plain_prune() {
    let scenario = FailScenario::setup();
    let mut env = env();
    let mut backups = ledger::backup::BackupConfig::new(env._dir.path().join("backups"));
    backups.step_pause = std::time::Duration::ZERO;
    staged(&mut env.ledger, 1);
    env.ledger.backup(&backups).expect("verified backup");
    fail::cfg(failpoint::PRUNE_BEFORE_DELETE, "return").expect("cfg");
    assert_fail_point(
        env.ledger.prune_after_verified_backup(&backups, 0),
        failpoint::PRUNE_BEFORE_DELETE,
    );
    fail::remove(failpoint::PRUNE_BEFORE_DELETE);
    let logged = caller_errors_logged(env.ledger.connection());
    assert_eq!(logged.len(), 1, "{logged:?}");
    assert!(logged[0].starts_with("prune: fail_point: "), "{logged:?}");
    scenario.teardown();
}

#[test]
fn a_failed_migration_leaves_an_empty_database_that_opens_later() {
    let scenario = FailScenario::setup();
    let dir = tempfile::tempdir().expect("temp dir");
    let config = Config::new(dir.path().join("l.db"), dir.path().join("vault"));
    fail::cfg(failpoint::MIGRATE_BEFORE_COMMIT, "return").expect("cfg");
    assert_fail_point(open(&config), failpoint::MIGRATE_BEFORE_COMMIT);
    fail::remove(failpoint::MIGRATE_BEFORE_COMMIT);
    let conn = Connection::open(&config.path).expect("raw open");
    let version: i64 = conn
        .query_row("PRAGMA user_version", [], |row| row.get(0))
        .expect("version");
    assert_eq!(version, 0);
    drop(conn);
    open(&config).expect("migrates on the next open");
    scenario.teardown();
}

/// A workload over three staged captures that passes through every fail
/// point except the migration's; returns the fail points that fired.
fn workload(ledger: &mut Ledger, ids: &[String]) -> Vec<String> {
    let mut hits = Vec::new();
    let mut step = |ledger: &mut Ledger, op: &dyn Fn(&mut Ledger) -> ledger::Result<()>| {
        let before = dump(ledger.connection());
        match op(ledger) {
            Ok(()) => {}
            Err(LedgerError::FailPoint { name }) => {
                assert!(ledger.connection().is_autocommit());
                assert_eq!(
                    dump(ledger.connection()),
                    before,
                    "{name} changed the database"
                );
                hits.push(name);
            }
            Err(other) => {
                // Only as a consequence of an earlier injected failure.
                assert!(!hits.is_empty(), "unexpected error {other:?}");
                assert_eq!(
                    dump(ledger.connection()),
                    before,
                    "{other} changed the database"
                );
            }
        }
    };
    step(ledger, &|l| l.stage(&voice(9)).map(drop));
    step(ledger, &|l| l.record_transcription(&ids[0], "zero"));
    step(ledger, &|l| l.mark_transcription_failed(&ids[1], "noise"));
    step(ledger, &|l| {
        l.record_export(&ids[0], ExportMode::Initial).map(drop)
    });
    step(ledger, &|l| {
        l.record_export(&ids[1], ExportMode::Placeholder).map(drop)
    });
    step(ledger, &|l| {
        l.record_export(&ids[2], ExportMode::DuplicateSkip)
            .map(drop)
    });
    step(ledger, &|l| l.prune_exported_older_than(0).map(drop));
    hits
}

#[test]
fn every_fail_point_rolls_back_its_operation() {
    for name in failpoint::ALL {
        if name == failpoint::MIGRATE_BEFORE_COMMIT {
            continue;
        }
        let scenario = FailScenario::setup();
        let mut env = env();
        let ids: Vec<String> = (0..3).map(|n| staged(&mut env.ledger, n)).collect();
        fail::cfg(name, "return").expect("cfg");
        let hits = workload(&mut env.ledger, &ids);
        assert!(hits.iter().any(|hit| hit == name), "{name} was never hit");
        fail::remove(name);
        let integrity: String = env
            .ledger
            .connection()
            .query_row("PRAGMA integrity_check", [], |row| row.get(0))
            .expect("integrity");
        assert_eq!(integrity, "ok");
        scenario.teardown();
    }
}
