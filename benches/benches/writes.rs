//! Writes on tmpfs, starting from a copy of the 10k dataset:
//! - `writes/stage`: one `Ledger::stage` (duplicate check + insert, one
//!   transaction) with WAL + `synchronous=FULL` against `NORMAL`, plus
//!   p50/p95/p99 of single calls printed after the bench;
//! - `writes/insert-1` and `writes/batch-1000`: the ledger's insert, one row
//!   per transaction and 1000 per transaction, on the ledger schema against
//!   the before schema: the cost of maintaining the ledger's indexes.

use std::hint::black_box;
use std::path::Path;
use std::time::Instant;

use benches::dataset::{Dataset, Variant};
use benches::inserts::{Percentiles, insert_raw, new_capture};
use benches::scratch;
use benches::settings::{self, Size};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use ledger::{Config, Ledger, StageOutcome, Synchronous};
use rusqlite::Connection;

const SYNC_ARMS: [(&str, Synchronous); 2] = [
    ("wal-full", Synchronous::Full),
    ("wal-normal", Synchronous::Normal),
];

fn open_ledger(dir: &Path, synchronous: Synchronous) -> Ledger {
    let data = Dataset::cached(Size::K10, Variant::Ledger).expect("dataset");
    let name = format!("stage-{}.db", synchronous.as_str());
    let path = data.copy_to(dir, &name).expect("copy dataset");
    let mut config = Config::new(path, dir.join("vault"));
    config.tuning.synchronous = synchronous;
    Ledger::open(&config).expect("open ledger")
}

fn stage_one(ledger: &mut Ledger, next: &mut u64) {
    *next += 1;
    let outcome = ledger.stage(&new_capture(*next)).expect("stage");
    assert!(matches!(outcome, StageOutcome::Staged(_)));
    black_box(outcome);
}

fn stage(c: &mut Criterion, dir: &Path) {
    let mut group = c.benchmark_group("writes/stage");
    let mut next = 0;
    for (label, synchronous) in SYNC_ARMS {
        let mut ledger = open_ledger(dir, synchronous);
        group.bench_function(label, |b| b.iter(|| stage_one(&mut ledger, &mut next)));
        let samples = (0..2000)
            .map(|_| {
                let start = Instant::now();
                stage_one(&mut ledger, &mut next);
                start.elapsed()
            })
            .collect();
        if let Some(p) = Percentiles::of(samples) {
            eprintln!("writes/stage/{label}: 2000 single stages: {p}");
        }
    }
    group.finish();
}

fn open_raw(dir: &Path, variant: Variant) -> Connection {
    let data = Dataset::cached(Size::K10, variant).expect("dataset");
    let path = data
        .copy_to(dir, &format!("insert-{}.db", variant.label()))
        .expect("copy dataset");
    let conn = Connection::open(path).expect("open copy");
    conn.execute_batch(
        "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA cache_size=-64000;",
    )
    .expect("pragmas");
    conn
}

fn index_maintenance(c: &mut Criterion, dir: &Path) {
    let arms = [Variant::Before, Variant::Ledger].map(|variant| (variant, open_raw(dir, variant)));
    let mut next = 1_000_000;
    let mut single = c.benchmark_group("writes/insert-1");
    for (variant, conn) in &arms {
        single.bench_function(variant.label(), |b| {
            b.iter(|| {
                next += 1;
                let tx = conn.unchecked_transaction().expect("begin");
                insert_raw(&tx, next).expect("insert");
                tx.commit().expect("commit");
            })
        });
    }
    single.finish();
    let mut batch = c.benchmark_group("writes/batch-1000");
    batch.throughput(Throughput::Elements(1000));
    batch.sample_size(10);
    for (variant, conn) in &arms {
        batch.bench_function(variant.label(), |b| {
            b.iter(|| {
                let tx = conn.unchecked_transaction().expect("begin");
                for _ in 0..1000 {
                    next += 1;
                    insert_raw(&tx, next).expect("insert");
                }
                tx.commit().expect("commit");
            })
        });
    }
    batch.finish();
}

fn writes(c: &mut Criterion) {
    let dir = scratch::tempdir();
    eprintln!(
        "write benches in {} (tmpfs: {})",
        dir.path().display(),
        scratch::on_tmpfs()
    );
    stage(c, dir.path());
    index_maintenance(c, dir.path());
}

criterion_group! {
    name = benches;
    config = settings::criterion();
    targets = writes
}
criterion_main!(benches);
