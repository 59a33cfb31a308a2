//! Online backup: the copy is one read snapshot of the source, even while
//! another connection keeps writing.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use ledger::backup::{self, VerificationState};
use ledger::{Config, StageOutcome};
use rusqlite::Connection;

use crate::support::{Env, open, voice};

#[test]
fn backup_under_concurrent_writes_is_the_source_at_one_point() {
    let mut env = Env::new();
    for n in 0..1500 {
        env.stage(n);
    }
    let acked: Arc<Mutex<Vec<String>>> = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let (started_tx, started_rx) = std::sync::mpsc::channel();
    let writer = {
        let config: Config = env.config.clone();
        let acked = Arc::clone(&acked);
        let stop = Arc::clone(&stop);
        std::thread::spawn(move || {
            let mut writer = open(&config, 1, 99);
            let mut n = 100_000;
            while !stop.load(Ordering::SeqCst) {
                if let StageOutcome::Staged(id) = writer.stage(&voice(n)).expect("writer stage") {
                    acked.lock().expect("lock").push(id);
                }
                n += 1;
                // Pace the writer so the backup's own bookkeeping write is
                // not starved of the write lock (SQLite's lock is not fair).
                std::thread::sleep(std::time::Duration::from_micros(300));
                if n == 100_005 {
                    let _ = started_tx.send(());
                }
            }
        })
    };
    started_rx.recv().expect("writer started");
    let mut config = env.backups.clone();
    config.pages_per_step = 1;
    let report = env.ledger.backup(&config).expect("backup");
    let seen_at_backup_end = acked.lock().expect("lock").len();
    while acked.lock().expect("lock").len() < seen_at_backup_end + 5 {
        std::thread::yield_now();
    }
    stop.store(true, Ordering::SeqCst);
    writer.join().expect("writer thread");

    assert_eq!(
        report.verification.as_ref().map(|v| v.ok),
        Some(true),
        "{report:?}"
    );
    assert_eq!(
        report.manifest.verification.state,
        VerificationState::Verified
    );
    // The backup holds the 1500 initial captures plus a prefix of the
    // writer's acknowledged captures: one point in the source's history.
    let copy = Connection::open(&report.path).expect("open backup");
    let in_backup: std::collections::BTreeSet<String> = copy
        .prepare("SELECT id FROM captures")
        .and_then(|mut s| s.query_map([], |r| r.get(0))?.collect())
        .expect("ids");
    let acked = acked.lock().expect("lock").clone();
    let k = acked
        .iter()
        .take_while(|id| in_backup.contains(*id))
        .count();
    assert_eq!(
        in_backup.len(),
        1500 + k,
        "not a prefix of the writer's commits"
    );
    assert!(
        k < acked.len(),
        "the writer kept committing after the snapshot"
    );
    // ...and its logical hash is the one taken from the source's snapshot.
    let found = backup::logical_hash(&copy).expect("hash");
    assert_eq!(found, report.manifest.logical);
}

#[test]
fn backup_is_renamed_into_place_with_its_manifest_and_no_temp_files() {
    let mut env = Env::new();
    env.stage(1);
    let report = env.ledger.backup(&env.backups).expect("backup");
    let mut names: Vec<String> = std::fs::read_dir(&env.backups.dir)
        .expect("list")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    let file = report.manifest.file.clone();
    assert_eq!(names, [file.clone(), format!("{file}.json")]);
    assert!(file.starts_with("ledger-2023"), "{file}");
    let list = backup::list_backups(&env.backups).expect("list");
    assert_eq!(list.backups.len(), 1);
    assert_eq!(list.backups[0].state, backup::BackupState::Verified);
    let status = env.ledger.backup_status(&env.backups).expect("status");
    assert_eq!(status.health, backup::BackupHealth::Healthy);
    assert_eq!(
        status.last_verified_path.as_deref(),
        Some(report.path.as_path())
    );
}

#[test]
fn an_unknown_destination_vfs_fails_the_backup_and_names_it() {
    let mut env = Env::new();
    env.stage(1);
    let mut backups = env.backups.clone();
    backups.dest_vfs = Some("no-such-vfs".into());
    let error = env.ledger.backup(&backups).expect_err("no such VFS");
    assert!(error.to_string().contains("no-such-vfs"), "{error}");
    let status = env.ledger.backup_status(&backups).expect("status");
    assert_eq!(
        status.consecutive_failures, 1,
        "a failed backup advances escalation"
    );
}
