//! The seed's "before" schema (primary keys and `UNIQUE(content_hash)` only)
//! against the ledger's (composite and partial indexes); both analysed, both
//! with the ledger's cache and mmap, warm reused connections. Each query's
//! plan is printed once per variant.

use std::hint::black_box;

use benches::connect::{Tuning, open};
use benches::dataset::{Dataset, Variant};
use benches::plans::print_plan;
use benches::queries::{Probe, Query};
use benches::settings::{self, Size};
use criterion::{Criterion, criterion_group, criterion_main};

const QUERIES: [Query; 7] = [
    Query::RecoveryQueue,
    Query::Recovery,
    Query::RecoveryWindow,
    Query::ExportReady,
    Query::AuditJoin,
    Query::Dedup,
    Query::DedupChannel,
];

fn bench_size(c: &mut Criterion, size: Size) {
    let arms = [Variant::Before, Variant::Ledger].map(|variant| {
        let data = Dataset::cached(size, variant).expect("dataset");
        let conn = open(&data.path, Tuning::LEDGER).expect("open dataset");
        let probe = Probe::load(&conn).expect("probe");
        (variant, conn, probe)
    });
    for query in QUERIES {
        let mut group = c.benchmark_group(format!("indexes/{}/{}", query.name(), size.label()));
        if size == Size::M1 {
            group.sample_size(10);
        }
        for (variant, conn, probe) in &arms {
            print_plan(conn, query, *variant).expect("plan");
            let mut probe = probe.clone();
            group.bench_function(variant.label(), |b| {
                b.iter(|| black_box(probe.run(conn, query, *variant).expect("query")))
            });
        }
        group.finish();
    }
}

fn indexes(c: &mut Criterion) {
    for size in settings::sizes() {
        bench_size(c, size);
    }
}

criterion_group! {
    name = benches;
    config = settings::criterion();
    targets = indexes
}
criterion_main!(benches);
