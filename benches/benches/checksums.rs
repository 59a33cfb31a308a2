//! Cost of the page-checksum layer on writes: `checksums/stage`, one `Ledger::stage` (duplicate
//! check + insert, one WAL + `synchronous=FULL` transaction) on a fresh ledger in tmpfs, with
//! page checksums off (the baseline) and on. The ratio on/off is the layer's cost.

use std::hint::black_box;
use std::path::Path;

use benches::inserts::new_capture;
use benches::scratch;
use benches::settings;
use criterion::{Criterion, criterion_group, criterion_main};
use ledger::{Config, Ledger, StageOutcome};

fn open(dir: &Path, checksums: bool) -> Ledger {
    let label = if checksums { "on" } else { "off" };
    let mut config = Config::new(
        dir.join(format!("{label}.db")),
        dir.join(format!("{label}-vault")),
    );
    config.tuning.page_checksums = checksums;
    Ledger::open(&config).expect("open ledger")
}

fn checksums(c: &mut Criterion) {
    let dir = scratch::tempdir();
    eprintln!(
        "checksum benches in {} (tmpfs: {})",
        dir.path().display(),
        scratch::on_tmpfs()
    );
    let mut group = c.benchmark_group("checksums/stage");
    let mut next = 0;
    for checksums in [false, true] {
        let mut ledger = open(dir.path(), checksums);
        group.bench_function(if checksums { "on" } else { "off" }, |b| {
            b.iter(|| {
                next += 1;
                let outcome = ledger.stage(&new_capture(next)).expect("stage");
                assert!(matches!(outcome, StageOutcome::Staged(_)));
                black_box(outcome);
            })
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = settings::criterion();
    targets = checksums
}
criterion_main!(benches);
