//! Memory pressure, mmap fallback, coherency after a restore by another
//! process, integrity repair and refusal, rollback settling. Time is a StepClock.

use std::fs;
use std::path::Path;
use std::process::Command;
use std::sync::{Arc, Mutex};

use ledger::integrity::{CheckLevel, RepairAction, RestoredBackup};
use ledger::memory::CacheReason;
use ledger::{
    Config, Ledger, LedgerError, ManualProbe, MemorySample, OpenOptions, RestoreSource,
    SafetyEventKind, StageOutcome, StepClock,
};

use crate::support::{self, count, voice};

fn pragma(ledger: &Ledger, name: &str) -> i64 {
    ledger
        .connection()
        .query_row(&format!("PRAGMA {name}"), [], |r| r.get(0))
        .expect("pragma")
}

fn open_stepping(config: &Config, step_ms: i64) -> Ledger {
    Ledger::open_with(
        config,
        OpenOptions {
            clock: Arc::new(StepClock::new(support::START_MS, step_ms)),
            id_seed: Some(3),
        },
    )
    .expect("open")
}

fn stage(ledger: &mut Ledger, n: u32) -> String {
    match ledger.stage(&voice(n)).expect("stage") {
        StageOutcome::Staged(id) => id,
        other => panic!("{other:?}"),
    }
}

const PRESSURE: MemorySample = MemorySample {
    psi_some_avg10: Some(40.0),
    available_bytes: Some(16 << 20),
};
const CALM: MemorySample = MemorySample {
    psi_some_avg10: Some(0.0),
    available_bytes: Some(8 << 30),
};

#[test]
fn pressure_shrinks_cache_and_mmap_then_restores_after_the_calm_period() {
    let dir = tempfile::tempdir().expect("dir");
    let mut config = Config::new(dir.path().join("l.db"), dir.path().join("vault"));
    config.tuning.adaptive_cache = false;
    config.tuning.memory_poll_interval_ms = 1_000;
    config.tuning.pressure_calm_ms = 10_000;
    let mut ledger = open_stepping(&config, 1_000);
    let probe = ManualProbe::new(CALM);
    ledger.set_memory_probe(Box::new(probe.clone()));
    stage(&mut ledger, 1);
    assert_eq!(pragma(&ledger, "cache_size"), -64_000);
    assert_eq!(pragma(&ledger, "mmap_size"), 268_435_456);

    probe.set(PRESSURE);
    stage(&mut ledger, 2);
    assert_eq!(pragma(&ledger, "cache_size"), -2_000);
    assert_eq!(pragma(&ledger, "mmap_size"), 0);
    let counters = ledger.safety_counters();
    assert_eq!((counters.cache_shrinks, counters.mmap_fallbacks), (1, 1));
    assert!(
        ledger
            .safety_events()
            .iter()
            .any(|e| matches!(e.kind, SafetyEventKind::MemoryReleased { .. }))
    );

    probe.set(CALM);
    for n in 3..8 {
        stage(&mut ledger, n);
        assert_eq!(
            pragma(&ledger, "cache_size"),
            -2_000,
            "hysteresis holds the floor"
        );
    }
    for n in 8..20 {
        stage(&mut ledger, n);
    }
    assert_eq!(pragma(&ledger, "cache_size"), -64_000);
    assert_eq!(pragma(&ledger, "mmap_size"), 268_435_456);
    assert_eq!(ledger.safety_counters().mmap_restores, 1);
    assert_eq!(ledger.recoverable_captures().expect("all served").len(), 19);
}

#[test]
fn pressure_reports_the_page_cache_bytes_it_freed() {
    let dir = tempfile::tempdir().expect("dir");
    let mut config = Config::new(dir.path().join("l.db"), dir.path().join("vault"));
    config.tuning.adaptive_cache = false;
    config.tuning.memory_poll_interval_ms = 1_000;
    let mut ledger = open_stepping(&config, 1_000);
    let probe = ManualProbe::new(CALM);
    ledger.set_memory_probe(Box::new(probe.clone()));
    let filler = "x".repeat(4000);
    for n in 0..300 {
        let mut memo = voice(n);
        memo.raw_content = format!("{filler}{n}");
        ledger.stage(&memo).expect("stage");
    }
    assert_eq!(ledger.recoverable_captures().expect("read all").len(), 300);
    probe.set(PRESSURE);
    stage(&mut ledger, 300);
    let freed: Vec<i64> = ledger
        .safety_events()
        .iter()
        .filter_map(|e| match e.kind {
            SafetyEventKind::MemoryReleased { bytes } => Some(bytes),
            _ => None,
        })
        .collect();
    assert_eq!(freed.len(), 1, "{freed:?}");
    assert!(
        freed[0] > 100 * 4096,
        "a warm cache of 300 captures of 4 KB each was released: {freed:?}"
    );
}

#[test]
fn adaptive_cache_grows_for_a_working_set_between_floor_and_ceiling() {
    let dir = tempfile::tempdir().expect("dir");
    let config = Config::new(dir.path().join("l.db"), dir.path().join("vault"));
    let mut ledger = open_stepping(&config, 1_000);
    ledger.set_memory_probe(Box::new(ManualProbe::new(CALM)));
    assert_eq!(
        pragma(&ledger, "cache_size"),
        -2_000,
        "a tiny database keeps the floor"
    );
    let filler = "x".repeat(4000);
    for n in 0..1200 {
        let mut memo = voice(n);
        memo.raw_content = format!("{n}-{filler}");
        ledger.stage(&memo).expect("stage");
    }
    let cache = -pragma(&ledger, "cache_size");
    assert!(
        cache > 2_000 && cache <= 64_000,
        "grown to the working set: {cache}"
    );
    assert!(ledger.safety_events().iter().any(|e| matches!(
        e.kind,
        SafetyEventKind::CacheResized {
            reason: CacheReason::FitsWorkingSet,
            ..
        }
    )));
}

#[test]
fn a_database_larger_than_the_ceiling_gets_its_hot_working_set() {
    let dir = tempfile::tempdir().expect("dir");
    let mut config = Config::new(dir.path().join("l.db"), dir.path().join("vault"));
    config.tuning.cache_size = -6_000;
    let mut ledger = open_stepping(&config, 1_000);
    ledger.set_memory_probe(Box::new(ManualProbe::new(CALM)));
    let filler = "x".repeat(3000);
    for n in 0..2000 {
        let mut memo = voice(n);
        memo.raw_content = format!("{n}-{filler}");
        ledger.stage(&memo).expect("stage");
    }
    assert!(
        pragma(&ledger, "page_count") * pragma(&ledger, "page_size") > 6_000 * 1024,
        "the database outgrew the 6 MB ceiling"
    );
    assert_eq!(
        pragma(&ledger, "cache_size"),
        -2_000,
        "2000 pending rows (~8 MB) do not fit the ceiling: the floor"
    );
    ledger
        .connection()
        .execute_batch(
            "UPDATE captures SET status = 'transcribed' WHERE rowid % 3 <> 0;
             UPDATE captures SET status = 'exported' WHERE status = 'transcribed';",
        )
        .expect("export two thirds");
    let set = ledger::memory::working_set::measure(ledger.connection()).expect("measure");
    assert_eq!(set.hot_rows, 666);
    assert_eq!(set.pages_per_row, 1);
    ledger.refresh().expect("refresh");
    assert_eq!(
        pragma(&ledger, "cache_size"),
        -4096,
        "666 hot pages (~2.8 MB) + 25 %, rounded up to a MiB"
    );
    assert!(ledger.safety_events().iter().any(|e| matches!(
        e.kind,
        SafetyEventKind::CacheResized {
            reason: CacheReason::HotWorkingSet,
            to_kib: 4096,
            ..
        }
    )));
}

#[test]
fn a_restore_by_another_process_is_seen_and_the_connection_reopened() {
    let dir = tempfile::tempdir().expect("dir");
    let config = Config::new(dir.path().join("l.db"), dir.path().join("vault"));
    let mut ledger = open_stepping(&config, 1);
    let kept = stage(&mut ledger, 1);
    let backup = dir.path().join("backup.db");
    ledger
        .connection()
        .execute("VACUUM INTO ?1", [backup.to_string_lossy()])
        .expect("backup");
    let lost = stage(&mut ledger, 2);
    ledger
        .connection()
        .execute_batch("PRAGMA wal_checkpoint(TRUNCATE)")
        .expect("checkpoint");
    let status = Command::new("sh")
        .arg("-c")
        .arg(r#"cp "$1" "$2.tmp" && mv "$2.tmp" "$2""#)
        .arg("restore")
        .arg(&backup)
        .arg(&config.path)
        .status()
        .expect("spawn restore");
    assert!(status.success());
    assert!(
        matches!(ledger.capture(&lost), Err(LedgerError::Stale { .. })),
        "no stale read"
    );
    stage(&mut ledger, 3);
    assert_eq!(ledger.capture(&lost).expect("reopened"), None);
    assert!(ledger.capture(&kept).expect("reopened").is_some());
    assert_eq!(ledger.safety_counters().reopens, 1);
}

#[test]
fn schema_drift_from_another_connection_reopens_and_refuses_a_newer_schema() {
    let dir = tempfile::tempdir().expect("dir");
    let config = Config::new(dir.path().join("l.db"), dir.path().join("vault"));
    let mut ledger = open_stepping(&config, 1);
    stage(&mut ledger, 1);
    let vfs = ledger::checksum::vfs_name(None).expect("vfs");
    let other = rusqlite::Connection::open_with_flags_and_vfs(
        &config.path,
        rusqlite::OpenFlags::default(),
        vfs.as_str(),
    )
    .expect("other");
    other
        .pragma_update(None, "user_version", ledger::SCHEMA_VERSION + 1)
        .expect("bump");
    assert!(matches!(
        ledger.stage(&voice(2)),
        Err(LedgerError::Migration { .. })
    ));
}

fn page_size(path: &Path) -> usize {
    let file = fs::read(path).expect("read");
    usize::from(u16::from_be_bytes([file[16], file[17]]))
}

/// Flip a bit in the last cell of `object`'s root page.
fn damage_root_of(config: &Config, object: &str) {
    let ledger = support::open(config, 1, 7);
    let root: i64 = ledger
        .connection()
        .query_row(
            "SELECT rootpage FROM sqlite_schema WHERE name = ?1",
            [object],
            |r| r.get(0),
        )
        .expect("root");
    ledger.close().expect("close");
    let size = page_size(&config.path);
    let mut bytes = fs::read(&config.path).expect("read");
    let at = root as usize * size - 8 - 6;
    bytes[at] ^= 0x20;
    fs::write(&config.path, bytes).expect("write");
}

fn populated(dir: &Path) -> (Config, Vec<String>) {
    let config = Config::new(dir.join("l.db"), dir.join("vault"));
    let mut ledger = support::open(&config, 1, 7);
    let ids = (0..5).map(|n| stage(&mut ledger, n)).collect();
    ledger.close().expect("close");
    (config, ids)
}

#[test]
fn a_damaged_index_is_rebuilt_by_reindex_and_logged() {
    let dir = tempfile::tempdir().expect("dir");
    let (config, ids) = populated(dir.path());
    damage_root_of(&config, "captures_status_created");
    let mut ledger = support::open(&config, 1, 7);
    ledger.check_integrity(CheckLevel::Full).expect("repaired");
    let repaired = ledger.safety_events().iter().find_map(|e| match &e.kind {
        SafetyEventKind::Corruption(report) => Some(report.action.clone()),
        _ => None,
    });
    assert_eq!(
        repaired,
        Some(RepairAction::Reindexed(vec![
            "captures_status_created".into()
        ]))
    );
    assert_eq!(
        count(
            ledger.connection(),
            "SELECT count(*) FROM errors_log WHERE stage = 'integrity'"
        ),
        1
    );
    assert_eq!(
        ledger.recoverable_captures().expect("served").len(),
        ids.len()
    );
    ledger.check_integrity(CheckLevel::Full).expect("clean now");
}

#[test]
fn a_damaged_table_page_stops_the_ledger_serving() {
    let dir = tempfile::tempdir().expect("dir");
    let (config, ids) = populated(dir.path());
    damage_root_of(&config, "captures");
    let mut ledger = support::open(&config, 1, 7);
    let error = ledger
        .check_integrity(CheckLevel::Quick)
        .expect_err("not repairable");
    assert_eq!(error.kind(), "corrupt");
    let report = ledger.corruption().expect("report");
    assert!(matches!(report.action, RepairAction::NotRepaired(_)));
    assert!(!report.unreadable.is_empty() && report.unreadable.iter().all(|id| ids.contains(id)));
    assert!(matches!(
        ledger.capture(&ids[0]),
        Err(LedgerError::Corrupt { .. })
    ));
    assert!(matches!(
        ledger.stage(&voice(99)),
        Err(LedgerError::Corrupt { .. })
    ));
}

struct CopyBackup {
    from: std::path::PathBuf,
    calls: Arc<Mutex<u32>>,
}

impl RestoreSource for CopyBackup {
    fn restore_newest(
        &mut self,
        db_path: &Path,
    ) -> Result<RestoredBackup, Box<dyn std::error::Error + Send + Sync>> {
        *self.calls.lock().expect("lock") += 1;
        fs::copy(&self.from, db_path)?;
        Ok(RestoredBackup {
            taken_at_ms: 1,
            label: self.from.display().to_string(),
        })
    }
}

#[test]
fn a_restore_source_replaces_a_damaged_database_and_names_what_is_missing() {
    let dir = tempfile::tempdir().expect("dir");
    let config = Config::new(dir.path().join("l.db"), dir.path().join("vault"));
    let mut ledger = support::open(&config, 1, 7);
    let kept = stage(&mut ledger, 1);
    let backup = dir.path().join("backup.db");
    ledger
        .connection()
        .execute("VACUUM INTO ?1", [backup.to_string_lossy()])
        .expect("backup");
    let after = stage(&mut ledger, 2);
    ledger.close().expect("close");
    damage_root_of(&config, "captures");
    let mut ledger = support::open(&config, 1, 7);
    let calls = Arc::new(Mutex::new(0));
    ledger.set_restore_source(Box::new(CopyBackup {
        from: backup,
        calls: Arc::clone(&calls),
    }));
    ledger.check_integrity(CheckLevel::Quick).expect("restored");
    assert_eq!(*calls.lock().expect("lock"), 1);
    let action = ledger.safety_events().iter().find_map(|e| match &e.kind {
        SafetyEventKind::Corruption(report) => Some(report.action.clone()),
        _ => None,
    });
    match action {
        Some(RepairAction::Restored { missing, .. }) => assert_eq!(missing, vec![after]),
        other => panic!("{other:?}"),
    }
    assert!(ledger.capture(&kept).expect("served").is_some());
}

#[test]
fn quick_checks_run_on_the_clock_schedule() {
    let dir = tempfile::tempdir().expect("dir");
    let mut config = Config::new(dir.path().join("l.db"), dir.path().join("vault"));
    config.tuning.quick_check_interval_ms = 10;
    config.tuning.integrity_check_interval_ms = 0;
    let mut ledger = open_stepping(&config, 1);
    for n in 0..25 {
        stage(&mut ledger, n);
    }
    assert_eq!(ledger.safety_counters().integrity_checks, 2);
}

#[test]
fn a_failed_write_leaves_no_transaction_and_no_trace() {
    let mut fixture = support::Fixture::new();
    let id = fixture.stage(&voice(1));
    fixture
        .conn()
        .execute_batch("BEGIN; INSERT INTO sync_state VALUES ('k', 'v', 1);")
        .expect("stray tx");
    let before = fixture.dump();
    let error = fixture
        .ledger
        .record_export(&id, ledger::ExportMode::Initial)
        .expect_err("illegal");
    assert_eq!(error.kind(), "illegal_transition");
    assert!(fixture.conn().is_autocommit());
    assert_eq!(count(fixture.conn(), "SELECT count(*) FROM sync_state"), 0);
    assert_eq!(
        fixture.dump().len(),
        before.len() - 1,
        "only the stray row is gone"
    );
    assert!(fixture.ledger.safety_counters().rollbacks_settled >= 1);
}
