//! Restore time of a 100k-capture ledger from a verified snapshot plus archived WAL segments
//! (`ledger::backup::restore` to the latest state: copy, apply the archived transactions,
//! `integrity_check`, test open, rename). `BENCH_QUICK=1` keeps the short pass of every bench.

use std::path::Path;

use benches::{scratch, settings};
use criterion::{Criterion, criterion_group, criterion_main};
use ledger::backup::{BackupConfig, RestoreTarget, plan_restore, restore};
use ledger::{Config, Ledger, NewCapture, Source, Synchronous};

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

criterion_group! {
    name = benches;
    config = settings::criterion();
    targets = restore_bench
}
criterion_main!(benches);
