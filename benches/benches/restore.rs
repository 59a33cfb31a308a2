//! Restore time of a 100k-capture ledger from a verified snapshot plus archived WAL segments
//! (`ledger::backup::restore` to the latest state: copy, apply the archived transactions,
//! `integrity_check`, test open, rename), and beside it the ledger's repair of one damaged page
//! of the `captures` table from the same chain (`repair/100k/table-page`: open, full integrity
//! check, rebuild from the snapshot and the archive, row comparison, swap, re-check).
//! `BENCH_QUICK=1` keeps the short pass of every bench.

use std::path::{Path, PathBuf};

use benches::{scratch, settings};
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use ledger::backup::{BackupConfig, RestoreTarget, plan_restore, restore};
use ledger::integrity::{CheckLevel, RepairAction};
use ledger::{Config, Ledger, NewCapture, SafetyEventKind, Source, Synchronous};

/// Captures in the snapshot.
const CAPTURES: usize = 100_000;
/// Captures staged after the snapshot, archived in segments of [`PER_SEGMENT`].
const ARCHIVED: usize = 2_000;
const PER_SEGMENT: usize = 200;

fn capture(n: usize) -> NewCapture {
    NewCapture {
        source: Source::Email,
        raw_content: format!("restore bench body {n} {}", "x".repeat(160)),
        channel: Some("imap:bench".into()),
        channel_native_id: Some(format!("b{n}")),
    }
}

/// A ledger of `CAPTURES` captures with one verified snapshot and `ARCHIVED` archived captures.
fn build(dir: &Path) -> BackupConfig {
    let mut config = Config::new(dir.join("live.db"), dir.join("vault"));
    config.tuning.synchronous = Synchronous::Normal;
    let mut ledger = Ledger::open(&config).expect("open");
    for n in 0..CAPTURES {
        ledger.stage(&capture(n)).expect("stage");
    }
    let mut backups = BackupConfig::new(dir.join("backups"));
    backups.archive = true;
    backups.step_pause = std::time::Duration::ZERO;
    backups.pages_per_step = 4096;
    ledger.enable_wal_archive(&backups).expect("archive on");
    let report = ledger.backup(&backups).expect("backup");
    assert!(
        report.verification.is_some_and(|v| v.ok),
        "snapshot verified"
    );
    for n in CAPTURES..CAPTURES + ARCHIVED {
        ledger.stage(&capture(n)).expect("stage");
        if (n + 1 - CAPTURES).is_multiple_of(PER_SEGMENT) {
            ledger.archive_wal(&backups).expect("archive");
        }
    }
    backups
}

fn restore_bench(c: &mut Criterion) {
    let dir = scratch::tempdir();
    let backups = build(dir.path());
    let into = dir.path().join("restored.db");
    let plan = plan_restore(&backups, RestoreTarget::Latest, &into).expect("plan");
    assert_eq!(
        plan.segments.len(),
        ARCHIVED / PER_SEGMENT,
        "segments planned"
    );
    let mut group = c.benchmark_group("restore/100k");
    group.sample_size(10);
    group.bench_function("snapshot+segments", |b| {
        b.iter(|| {
            let _ = std::fs::remove_file(&into);
            let report = restore(&plan).expect("restore");
            assert_eq!(report.logical.captures as usize, CAPTURES + ARCHIVED);
        })
    });
    group.finish();
}

fn live_config(dir: &Path, db: &Path) -> Config {
    let mut config = Config::new(db.to_path_buf(), dir.join("vault"));
    config.tuning.synchronous = Synchronous::Normal;
    config.tuning.wal_archive_dir = Some(dir.join("backups").join("wal"));
    config
}

/// The live ledger with its WAL archived to the end and checkpointed into the file, copied to
/// `pristine.db`; the page number of a leaf page of `captures` in it.
fn pristine(dir: &Path, backups: &BackupConfig) -> (PathBuf, u64) {
    let live = dir.join("live.db");
    let mut ledger = Ledger::open(&live_config(dir, &live)).expect("reopen live");
    ledger.enable_wal_archive(backups).expect("archive on");
    ledger
        .checkpoint_archived(backups)
        .expect("archive and checkpoint");
    let page: i64 = ledger
        .connection()
        .query_row(
            "SELECT pageno FROM dbstat WHERE name = 'captures' AND pagetype = 'leaf'
             ORDER BY pageno LIMIT 1 OFFSET 500",
            [],
            |r| r.get(0),
        )
        .expect("a captures leaf page");
    ledger.close().expect("close");
    let copy = dir.join("pristine.db");
    std::fs::copy(&live, &copy).expect("copy");
    (copy, page as u64)
}

fn repair_bench(c: &mut Criterion) {
    let dir = scratch::tempdir();
    let backups = build(dir.path());
    let (pristine, page) = pristine(dir.path(), &backups);
    let damaged = dir.path().join("damaged.db");
    let mut group = c.benchmark_group("repair/100k");
    group.sample_size(10);
    group.bench_function("table-page", |b| {
        b.iter_batched(
            || {
                for suffix in ["-wal", "-shm", ".damaged"] {
                    let mut name = damaged.as_os_str().to_owned();
                    name.push(suffix);
                    let _ = std::fs::remove_file(PathBuf::from(name));
                }
                std::fs::copy(&pristine, &damaged).expect("copy");
                let mut bytes = std::fs::read(&damaged).expect("read");
                bytes[(page as usize - 1) * 4096 + 2048] ^= 0x10;
                std::fs::write(&damaged, bytes).expect("damage");
            },
            |()| {
                let mut ledger = Ledger::open(&live_config(dir.path(), &damaged)).expect("open");
                ledger.check_integrity(CheckLevel::Full).expect("repaired");
                let restored = ledger.safety_events().iter().any(|e| {
                    matches!(&e.kind, SafetyEventKind::Corruption(report)
                        if matches!(report.action, RepairAction::Restored { .. }))
                });
                assert!(restored, "the damaged page was restored from the chain");
            },
            BatchSize::PerIteration,
        )
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = settings::criterion();
    targets = restore_bench, repair_bench
}
criterion_main!(benches);
