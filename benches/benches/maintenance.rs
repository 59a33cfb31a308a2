//! `PRAGMA integrity_check` and an online backup (rusqlite's backup API, to
//! tmpfs) of the ledger dataset at each size.

use std::hint::black_box;

use benches::connect::{Tuning, open};
use benches::dataset::{Dataset, Variant};
use benches::{scratch, settings};
use criterion::{Criterion, criterion_group, criterion_main};
use rusqlite::MAIN_DB;

fn maintenance(c: &mut Criterion) {
    let dir = scratch::tempdir();
    for size in settings::sizes() {
        let data = Dataset::cached(size, Variant::Ledger).expect("dataset");
        let conn = open(&data.path, Tuning::LEDGER).expect("open dataset");
        let mut group = c.benchmark_group(format!("maintenance/{}", size.label()));
        group.sample_size(10);
        group.bench_function("integrity-check", |b| {
            b.iter(|| {
                let verdict: String = conn
                    .query_row("PRAGMA integrity_check", [], |row| row.get(0))
                    .expect("integrity_check");
                assert_eq!(verdict, "ok");
                black_box(verdict)
            })
        });
        let target = dir.path().join(format!("backup-{}.db", size.label()));
        group.bench_function("backup", |b| {
            b.iter(|| {
                conn.backup(MAIN_DB, &target, None::<fn(rusqlite::backup::Progress)>)
                    .expect("online backup");
            })
        });
        group.finish();
    }
}

criterion_group! {
    name = benches;
    config = settings::criterion();
    targets = maintenance
}
criterion_main!(benches);
