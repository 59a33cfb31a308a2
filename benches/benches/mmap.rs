//! `mmap_size` 0 against 256 MiB on the ledger schema (64 MB cache in both
//! arms, warm reused connections): a full sequential scan and the recovery scan.

use std::hint::black_box;

use benches::connect::{MMAP_256_MIB, Tuning, open};
use benches::dataset::{Dataset, Variant};
use benches::queries::{Probe, Query};
use benches::settings;
use criterion::{Criterion, criterion_group, criterion_main};

const ARMS: [(&str, i64); 2] = [("off", 0), ("256mib", MMAP_256_MIB)];

fn mmap(c: &mut Criterion) {
    for size in settings::sizes() {
        let data = Dataset::cached(size, Variant::Ledger).expect("dataset");
        let arms = ARMS.map(|(label, mmap_size)| {
            let tuning = Tuning {
                mmap_size,
                ..Tuning::CACHE_64MB
            };
            let conn = open(&data.path, tuning).expect("open dataset");
            let probe = Probe::load(&conn).expect("probe");
            (label, conn, probe)
        });
        for query in [Query::FullScan, Query::Recovery] {
            let mut group = c.benchmark_group(format!("mmap/{}/{}", query.name(), size.label()));
            group.sample_size(10);
            for (label, conn, probe) in &arms {
                let mut probe = probe.clone();
                group.bench_function(*label, |b| {
                    b.iter(|| black_box(probe.run(conn, query, Variant::Ledger).expect("query")))
                });
            }
            group.finish();
        }
    }
}

criterion_group! {
    name = benches;
    config = settings::criterion();
    targets = mmap
}
criterion_main!(benches);
