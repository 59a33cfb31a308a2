//! SQLite's default 2 MB page cache against `cache_size=-64000` and against
//! the ledger's adaptive cache (its own rule, `ledger::memory::adaptive_cache`,
//! applied to the dataset at open: database size, measured hot working set,
//! this machine's available memory, the ledger's 64 MB ceiling), on the
//! ledger schema with mmap off in every arm (so the page cache is what
//! differs): warm reused connections for each query, including a full scan
//! larger than the cache at 100k, and a fresh connection per query (where
//! the rule is applied on every new connection).

use std::hint::black_box;

use benches::connect::{ConnectionUse, Tuning, describe_choice, open, open_adaptive};
use benches::dataset::{Dataset, Variant};
use benches::queries::{Probe, Query};
use benches::settings::{self, Size};
use criterion::{Criterion, criterion_group, criterion_main};
use rusqlite::Connection;

const FIXED_ARMS: [(&str, Tuning); 2] = [
    ("default-2mb", Tuning::SQLITE_DEFAULT),
    ("64mb", Tuning::CACHE_64MB),
];
const ADAPTIVE: &str = "adaptive";

const WARM_QUERIES: [Query; 6] = [
    Query::Recovery,
    Query::RecoveryWindow,
    Query::ExportReady,
    Query::AuditJoin,
    Query::Dedup,
    Query::FullScan,
];

const FRESH_QUERIES: [Query; 2] = [Query::Recovery, Query::ExportReady];

fn warm(c: &mut Criterion, data: &Dataset) {
    let mut arms: Vec<(&str, Connection)> = FIXED_ARMS
        .iter()
        .map(|(label, tuning)| (*label, open(&data.path, *tuning).expect("open dataset")))
        .collect();
    let (adaptive, choice) =
        open_adaptive(&data.path, ConnectionUse::Reused).expect("open with the ledger's rule");
    eprintln!(
        "cache/{}: reused connection gets {}",
        data.size.label(),
        describe_choice(&choice)
    );
    arms.push((ADAPTIVE, adaptive));
    let probe = Probe::load(&arms[0].1).expect("probe");
    for query in WARM_QUERIES {
        let name = format!("cache/{}/{}", query.name(), data.size.label());
        let mut group = c.benchmark_group(name);
        if data.size == Size::M1 || query == Query::FullScan {
            group.sample_size(10);
        }
        for (label, conn) in &arms {
            let mut probe = probe.clone();
            group.bench_function(*label, |b| {
                b.iter(|| black_box(probe.run(conn, query, Variant::Ledger).expect("query")))
            });
        }
        group.finish();
    }
}

fn fresh(c: &mut Criterion, data: &Dataset) {
    let probe =
        Probe::load(&open(&data.path, Tuning::SQLITE_DEFAULT).expect("open")).expect("probe");
    let (_, choice) = open_adaptive(&data.path, ConnectionUse::PerQuery).expect("open");
    eprintln!(
        "cache-fresh/{}: each new connection gets {}",
        data.size.label(),
        describe_choice(&choice)
    );
    for query in FRESH_QUERIES {
        let name = format!("cache-fresh/{}/{}", query.name(), data.size.label());
        let mut group = c.benchmark_group(name);
        for (label, tuning) in FIXED_ARMS {
            let mut probe = probe.clone();
            group.bench_function(label, |b| {
                b.iter(|| {
                    let conn = open(&data.path, tuning).expect("open dataset");
                    black_box(probe.run(&conn, query, Variant::Ledger).expect("query"))
                })
            });
        }
        let mut probe = probe.clone();
        group.bench_function(ADAPTIVE, |b| {
            b.iter(|| {
                let (conn, _) =
                    open_adaptive(&data.path, ConnectionUse::PerQuery).expect("open dataset");
                black_box(probe.run(&conn, query, Variant::Ledger).expect("query"))
            })
        });
        group.finish();
    }
}

fn cache(c: &mut Criterion) {
    for size in settings::sizes() {
        let data = Dataset::cached(size, Variant::Ledger).expect("dataset");
        warm(c, &data);
        fresh(c, &data);
    }
}

criterion_group! {
    name = benches;
    config = settings::criterion();
    targets = cache
}
criterion_main!(benches);
