//! Lock contention: retries with backoff, the busy handler's deadline, and
//! what a lock timeout says. No assertion depends on how long anything took.

use std::sync::mpsc;
use std::time::Duration;

use ledger::{Config, LedgerError, Operation, RetryPolicy, StageOutcome};
use rusqlite::Connection;

use crate::support::{open, voice};

fn config(dir: &tempfile::TempDir, busy_timeout_ms: u32, retry: RetryPolicy) -> Config {
    let mut config = Config::new(dir.path().join("l.db"), dir.path().join("vault"));
    config.tuning.busy_timeout_ms = busy_timeout_ms;
    config.tuning.retry = retry;
    config
}

fn hold_write_lock(config: &Config) -> Connection {
    let holder = Connection::open(&config.path).expect("holder");
    holder.execute_batch("BEGIN IMMEDIATE").expect("write lock");
    holder
}

#[test]
fn exhausted_retries_name_the_lock_state_and_are_counted() {
    let dir = tempfile::tempdir().expect("temp dir");
    let retry = RetryPolicy {
        max_attempts: 3,
        base_delay_ms: 1,
        max_delay_ms: 2,
        budget_ms: 60_000,
    };
    let config = config(&dir, 5, retry);
    let mut ledger = open(&config, 1, 1);
    let holder = hold_write_lock(&config);
    let error = ledger.stage(&voice(1)).expect_err("locked");
    assert_eq!(error.kind(), "lock_timeout", "{error}");
    assert_eq!(error.sqlite_code(), Some(rusqlite::ErrorCode::DatabaseBusy));
    let LedgerError::LockTimeout { diagnosis, .. } = &error else {
        panic!("expected a lock timeout, got {error:?}");
    };
    assert_eq!(diagnosis.attempts, 3);
    assert!(!diagnosis.own_transaction_open);
    let message = error.to_string();
    assert!(
        message.contains("l.db") && message.contains("WAL"),
        "{message}"
    );
    let metrics = ledger.metrics();
    assert_eq!(metrics.operation(Operation::Stage).retries, 2);
    assert_eq!(metrics.operation(Operation::Stage).errors, 1);
    assert_eq!(ledger.retries(), 2);
    let snapshot = ledger.metrics_snapshot().expect("snapshot");
    assert!(
        snapshot.busy.waits >= 1 && snapshot.busy.gave_up >= 1,
        "{snapshot:?}"
    );
    drop(holder);
    assert!(matches!(
        ledger.stage(&voice(1)).expect("free"),
        StageOutcome::Staged(_)
    ));
}

#[test]
fn retry_disabled_fails_on_the_first_busy() {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = config(&dir, 0, RetryPolicy::disabled());
    let mut ledger = open(&config, 1, 1);
    let _holder = hold_write_lock(&config);
    let error = ledger.stage(&voice(1)).expect_err("locked");
    assert!(
        matches!(&error, LedgerError::LockTimeout { diagnosis, .. } if diagnosis.attempts == 1),
        "{error:?}"
    );
    assert_eq!(ledger.retries(), 0);
    assert_eq!(ledger.metrics_snapshot().expect("snapshot").busy.waits, 0);
}

#[test]
fn a_lock_released_during_backoff_lets_the_retry_succeed() {
    let dir = tempfile::tempdir().expect("temp dir");
    let retry = RetryPolicy {
        max_attempts: 50,
        base_delay_ms: 2,
        max_delay_ms: 20,
        budget_ms: 60_000,
    };
    let config = config(&dir, 0, retry);
    let mut ledger = open(&config, 1, 1);
    let (locked_tx, locked_rx) = mpsc::channel();
    let path = config.path.clone();
    let holder = std::thread::spawn(move || {
        let conn = Connection::open(path).expect("holder");
        conn.execute_batch("BEGIN IMMEDIATE").expect("write lock");
        locked_tx.send(()).expect("signal");
        std::thread::sleep(Duration::from_millis(30));
        conn.execute_batch("COMMIT").expect("release");
    });
    locked_rx.recv().expect("lock held");
    let outcome = ledger.stage(&voice(1)).expect("retried until free");
    holder.join().expect("holder thread");
    assert!(matches!(outcome, StageOutcome::Staged(_)));
    assert!(ledger.retries() >= 1);
}

#[test]
fn an_open_transaction_of_our_own_is_named() {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = config(&dir, 0, RetryPolicy::disabled());
    let mut ledger = open(&config, 1, 1);
    let _holder = hold_write_lock(&config);
    ledger
        .connection()
        .execute_batch("BEGIN")
        .expect("caller's own transaction");
    let error = ledger.stage(&voice(1)).expect_err("locked");
    let LedgerError::LockTimeout { diagnosis, .. } = &error else {
        panic!("expected a lock timeout, got {error:?}");
    };
    assert!(diagnosis.own_transaction_open);
    assert!(
        error.to_string().contains("commit or roll it back"),
        "{error}"
    );
}

#[test]
fn a_leftover_wal_is_reported_at_open_and_its_commits_survive() {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = Config::new(dir.path().join("l.db"), dir.path().join("vault"));
    let mut ledger = open(&config, 1, 1);
    let StageOutcome::Staged(id) = ledger.stage(&voice(1)).expect("stage") else {
        panic!("new capture");
    };
    let crashed = Config::new(dir.path().join("copy.db"), dir.path().join("vault"));
    for suffix in ["", "-wal", "-shm"] {
        let from = format!("{}{suffix}", config.path.display());
        let to = format!("{}{suffix}", crashed.path.display());
        std::fs::copy(from, to).expect("copy as a crash would leave it");
    }
    let reopened = open(&crashed, 1, 2);
    assert!(
        reopened.open_report().recovery_likely(),
        "{:?}",
        reopened.open_report()
    );
    assert!(reopened.capture(&id).expect("read").is_some());
    drop(ledger);
}

#[test]
fn metrics_snapshots_are_written_as_json_lines_once_per_interval() {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = Config::new(dir.path().join("l.db"), dir.path().join("vault"));
    let clock = std::sync::Arc::new(ledger::ManualClock::new(crate::support::START_MS));
    let mut ledger = crate::support::open_manual(&config, &clock);
    ledger.stage(&voice(1)).expect("stage");
    let mut sink = ledger::metrics::JsonLinesSink::new(Vec::new(), 60_000);
    let first = ledger.metrics_snapshot().expect("snapshot");
    assert!(sink.offer(&first).expect("write"));
    clock.advance(59_999);
    assert!(
        !sink
            .offer(&ledger.metrics_snapshot().expect("snapshot"))
            .expect("skip")
    );
    clock.advance(1);
    assert!(
        sink.offer(&ledger.metrics_snapshot().expect("snapshot"))
            .expect("write")
    );
    let text = String::from_utf8(sink.into_inner()).expect("utf8");
    let lines: Vec<ledger::MetricsSnapshot> = text
        .lines()
        .map(|line| serde_json::from_str(line).expect("one snapshot per line"))
        .collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0].taken_at_ms, first.taken_at_ms);
    assert_eq!(lines[0].operations, first.operations);
    assert_eq!(lines[1].operations["stage"].ok, 1);
    assert_eq!(lines[1].queue_depth, 1);
}
