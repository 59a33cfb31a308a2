//! Ledger time under a wall clock that steps backwards: every time the ledger records is
//! `max(clock, latest recorded)` (`ledger::ledger_time`), backups are strictly ordered, rotation
//! keeps the newest verified backup, a guarded prune keeps rows changed after the backup, archive
//! commit times never go back, and a reopened ledger starts from what its database recorded.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use ledger::backup::{BackupState, KeepReason, RetentionPolicy, list_backups, rotate};
use ledger::{Clock, Config, ExportMode, Ledger, OpenOptions, StageOutcome};

use crate::support::{START_MS, voice};

const HOUR: i64 = 3_600_000;

/// A wall clock set by hand, backwards included.
struct SetClock(AtomicI64);

impl SetClock {
    fn set(&self, ms: i64) {
        self.0.store(ms, Ordering::SeqCst);
    }
}

impl Clock for SetClock {
    fn now_ms(&self) -> i64 {
        self.0.load(Ordering::SeqCst)
    }
}

fn staged(ledger: &mut Ledger, n: u32) -> String {
    match ledger.stage(&voice(n)).expect("stage") {
        StageOutcome::Staged(id) => id,
        other => panic!("expected a new capture, got {other:?}"),
    }
}

fn exported(ledger: &mut Ledger, n: u32) -> String {
    let id = staged(ledger, n);
    ledger
        .record_transcription(&id, &format!("words {n}"))
        .expect("transcribe");
    ledger
        .record_export(&id, ExportMode::Initial)
        .expect("export");
    id
}

fn open(config: &Config, clock: &Arc<SetClock>) -> Ledger {
    Ledger::open_with(
        config,
        OpenOptions {
            clock: clock.clone(),
            id_seed: Some(3),
        },
    )
    .expect("open")
}

#[test]
fn a_clock_stepping_back_never_dates_anything_before_what_was_recorded() {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = Config::new(dir.path().join("ledger.db"), dir.path().join("vault"));
    let clock = Arc::new(SetClock(AtomicI64::new(START_MS + 9 * HOUR)));
    let mut ledger = open(&config, &clock);
    let mut backups = ledger::backup::BackupConfig::new(dir.path().join("backups"));
    backups.step_pause = std::time::Duration::ZERO;
    backups.archive = true;
    backups.retention = RetentionPolicy {
        hourly: 0,
        daily: 0,
        weekly: 0,
    };
    ledger.enable_wal_archive(&backups).expect("archive on");
    let before = exported(&mut ledger, 1);
    clock.set(START_MS + 10 * HOUR);
    let first = ledger.backup(&backups).expect("first backup");
    assert_eq!(first.manifest.created_at_ms, START_MS + 10 * HOUR);

    clock.set(START_MS + 7 * HOUR);
    let after = exported(&mut ledger, 2);
    let changed = ledger.capture(&after).expect("read").expect("present");
    assert_eq!(
        changed.updated_at,
        START_MS + 10 * HOUR,
        "three hours back on the wall clock, ledger time stands at the backup's"
    );
    let step = ledger
        .archive_wal(&backups)
        .expect("archive")
        .step
        .expect("continued");
    assert_eq!(step.at_ms, START_MS + 10 * HOUR);

    let pruned = ledger
        .prune_after_verified_backup(&backups, 0)
        .expect("guarded prune");
    assert_eq!(
        pruned.pruned,
        [before],
        "only the capture the first backup holds; the one exported after it is kept"
    );
    let second = ledger.backup(&backups).expect("second backup");
    assert_eq!(
        second.manifest.created_at_ms,
        START_MS + 10 * HOUR + 1,
        "a backup is after every backup already in its directory"
    );
    let list = list_backups(&backups).expect("list");
    assert_eq!(
        list.backups[0].path, second.path,
        "the newer backup lists first"
    );

    let rotation = rotate(&backups, false).expect("rotate");
    assert_eq!(rotation.deleted, [first.path]);
    assert!(
        rotation
            .decisions
            .iter()
            .any(|d| d.path == second.path && d.keep.contains(&KeepReason::NewestVerified))
    );

    drop(ledger);

    clock.set(START_MS);
    let mut reopened = open(&config, &clock);
    let third = staged(&mut reopened, 3);
    let row = reopened.capture(&third).expect("read").expect("present");
    assert!(
        row.created_at > START_MS + 10 * HOUR,
        "a reopened ledger starts from the latest time its database recorded (the backup's), not from the wall clock: {}",
        row.created_at
    );
    assert!(
        list_backups(&backups)
            .expect("list")
            .backups
            .iter()
            .any(|e| e.path == second.path && e.state == BackupState::Verified)
    );
}

/// A guarded prune deletes only what the newest verified backup holds as it is now: a capture
/// changed after the backup's snapshot by a writer whose clock is behind the backup's time is
/// kept, however the two clocks compare (found by the harness's `backup-concurrent-writes`: a
/// backup dated after an export whose snapshot still held the capture as transcribed).
#[test]
fn a_prune_keeps_a_capture_changed_after_the_snapshot_by_a_writer_whose_clock_is_behind() {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = Config::new(dir.path().join("ledger.db"), dir.path().join("vault"));
    let writer_clock = Arc::new(SetClock(AtomicI64::new(START_MS + 8 * HOUR)));
    let backup_clock = Arc::new(SetClock(AtomicI64::new(START_MS + 10 * HOUR)));
    let mut writer = open(&config, &writer_clock);
    let mut backups = ledger::backup::BackupConfig::new(dir.path().join("backups"));
    backups.step_pause = std::time::Duration::ZERO;
    let id = staged(&mut writer, 1);
    writer
        .record_transcription(&id, "words 1")
        .expect("transcribe");
    let mut backup_side = open(&config, &backup_clock);
    let report = backup_side.backup(&backups).expect("backup");
    assert!(report.verification.is_some_and(|v| v.ok), "verified");

    writer_clock.set(START_MS + 9 * HOUR);
    writer
        .record_export(&id, ExportMode::Initial)
        .expect("export after the snapshot");
    writer_clock.set(START_MS + 9 * HOUR + HOUR / 2);
    let prune = writer
        .prune_after_verified_backup(&backups, 0)
        .expect("prune");
    assert!(
        !prune.pruned.contains(&id),
        "the backup holds {id} as transcribed, not as exported: {prune:?}"
    );
}
