//! A recovery after an unclean shutdown is reported once, by the open that found it (metrics
//! `safety.recoveries`, a safety event, the open report); a clean close, an archive-mode close
//! that keeps its WAL, and the open after a recovered one report none.

use std::path::Path;

use ledger::{Config, Ledger, SafetyEventKind};

use crate::support::{email, open};

fn recoveries(ledger: &Ledger) -> (u64, usize) {
    let counted = ledger
        .metrics_snapshot()
        .expect("metrics")
        .safety
        .recoveries;
    let events = ledger
        .safety_events()
        .iter()
        .filter(|e| {
            matches!(
                e.kind,
                SafetyEventKind::RecoveredAfterUncleanShutdown { .. }
            )
        })
        .count();
    (counted, events)
}

/// A ledger with a few writes in its WAL.
fn written(dir: &Path) -> (Config, Ledger) {
    let config = Config::new(dir.join("l.db"), dir.join("vault"));
    let mut ledger = open(&config, 1, 3);
    for n in 0..3 {
        ledger.stage(&email(&format!("mail {n}"))).expect("stage");
    }
    (config, ledger)
}

/// The database and WAL as a process killed now would leave them, copied into `into`.
fn crash_image(config: &Config, into: &Path) -> Config {
    for suffix in ["", "-wal"] {
        let mut from = config.path.as_os_str().to_owned();
        from.push(suffix);
        let mut to = into.join("l.db").into_os_string();
        to.push(suffix);
        std::fs::copy(&from, &to).expect("copy the crash image");
    }
    Config::new(into.join("l.db"), into.join("vault"))
}

#[test]
fn an_unclean_shutdown_is_reported_once_by_the_open_that_recovers() {
    let dir = tempfile::tempdir().expect("tempdir");
    let image = tempfile::tempdir().expect("tempdir");
    let (config, ledger) = written(dir.path());
    let crashed = crash_image(&config, image.path());
    drop(ledger);
    let recovered = open(&crashed, 1, 4);
    assert_eq!(recoveries(&recovered), (1, 1));
    assert!(recovered.open_report().recovery_likely());
    recovered.close().expect("close");
    let again = open(&crashed, 1, 5);
    assert_eq!(recoveries(&again), (0, 0), "reported once, not again");
}

#[test]
fn a_clean_close_or_a_dropped_ledger_reports_no_recovery() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (config, ledger) = written(dir.path());
    ledger.close().expect("close");
    assert_eq!(recoveries(&open(&config, 1, 4)), (0, 0));
    let (config, ledger) = written(dir.path());
    drop(ledger);
    assert_eq!(recoveries(&open(&config, 1, 5)), (0, 0));
}

#[test]
fn an_archive_mode_close_that_keeps_its_wal_is_no_crash() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (config, mut ledger) = written(dir.path());
    ledger
        .enable_wal_archive(&ledger::BackupConfig::new(dir.path().join("backups")))
        .expect("archive mode");
    ledger.stage(&email("after archiving")).expect("stage");
    drop(ledger);
    let mut wal = config.path.as_os_str().to_owned();
    wal.push("-wal");
    assert!(
        std::fs::metadata(&wal).is_ok_and(|m| m.len() > 0),
        "archive mode keeps the WAL"
    );
    let reopened = open(&config, 1, 4);
    assert_eq!(recoveries(&reopened), (0, 0));
}
