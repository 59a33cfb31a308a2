//! The seed's claims and our goals, measured with perfkit's interleaved
//! A/B runner (`perfkit::run_ab`: ABAB… on the same data in one
//! process, median of per-pair ratios, bootstrap interval, A/A control) at
//! each selected size, printed as claims tables. Not a criterion bench: it
//! prints ratios, it does not gate. The adaptive-cache goals
//! (`perfkit::goal_claims`) compare SQLite's default cache with the
//! cache the ledger's own rule chooses for the dataset.

use std::convert::Infallible;

use benches::connect::{ConnectionUse, Tuning, describe_choice, open, open_adaptive};
use benches::dataset::{Dataset, Variant};
use benches::queries::{Probe, Query};
use benches::settings::{self, Size};
use ledger::memory::CacheChoice;
use ledger::memory::scan_watch::{self, ScanWatch};
use perfkit::{AbConfig, AbReport, Arm, Claim, ClaimTable, goal_claims, run_ab, seed_claims};
use rusqlite::Connection;

struct Side<'a> {
    conn: &'a Connection,
    variant: Variant,
    /// The adaptive rule's choice, when the arm follows the ledger's scan watch between queries.
    follows_scans: Option<CacheChoice>,
}

fn compare(config: &AbConfig, query: Query, baseline: &Side<'_>, candidate: &Side<'_>) -> AbReport {
    let mut probe = Probe::load(baseline.conn).expect("probe");
    let mut watches = [ScanWatch::default(), ScanWatch::default()];
    run_ab(config, |arm| {
        let (side, watch) = match arm {
            Arm::Baseline => (baseline, &mut watches[0]),
            Arm::Candidate => (candidate, &mut watches[1]),
        };
        std::hint::black_box(probe.run(side.conn, query, side.variant).expect("query"));
        if let Some(chosen) = side.follows_scans {
            scan_watch::follow(side.conn, watch, chosen).expect("follow the scan watch");
        }
        Ok::<_, Infallible>(())
    })
    .expect("interleaved A/B")
}

/// Default vs `candidate` (which opens a new connection) on a fresh connection per query.
fn compare_fresh(
    config: &AbConfig,
    data: &Dataset,
    query: Query,
    candidate: impl Fn() -> Connection,
) -> AbReport {
    let mut probe =
        Probe::load(&open(&data.path, Tuning::SQLITE_DEFAULT).expect("open")).expect("probe");
    run_ab(config, |arm| {
        let conn = match arm {
            Arm::Baseline => open(&data.path, Tuning::SQLITE_DEFAULT).expect("open dataset"),
            Arm::Candidate => candidate(),
        };
        std::hint::black_box(probe.run(&conn, query, Variant::Ledger).expect("query"));
        Ok::<_, Infallible>(())
    })
    .expect("interleaved A/B")
}

fn claims_at(size: Size) {
    let config = if settings::quick() || size == Size::M1 {
        AbConfig::quick()
    } else {
        AbConfig::default()
    };
    let ledger_data = Dataset::cached(size, Variant::Ledger).expect("dataset");
    let before_data = Dataset::cached(size, Variant::Before).expect("dataset");
    let before = open(&before_data.path, Tuning::LEDGER).expect("open");
    let indexed = open(&ledger_data.path, Tuning::LEDGER).expect("open");
    let default_cache = open(&ledger_data.path, Tuning::SQLITE_DEFAULT).expect("open");
    let big_cache = open(&ledger_data.path, Tuning::CACHE_64MB).expect("open");
    let (adaptive, choice) =
        open_adaptive(&ledger_data.path, ConnectionUse::Reused).expect("open adaptive");
    let (_, fresh_choice) =
        open_adaptive(&ledger_data.path, ConnectionUse::PerQuery).expect("open adaptive");
    let side = |conn, variant| Side {
        conn,
        variant,
        follows_scans: None,
    };
    let adaptive_side = Side {
        follows_scans: Some(choice),
        ..side(&adaptive, Variant::Ledger)
    };

    let mut table = ClaimTable {
        claims: seed_claims().into_iter().chain(goal_claims()).collect(),
    };
    for claim in &mut table.claims {
        claim.condition = claim
            .condition
            .replace("100k captures", &format!("{} captures", size.label()));
    }
    table.claims.push(Claim::new(
        "goal-index-recovery",
        "ours: the crash-resume queue >= 10x faster than the before schema",
        "same as index-recovery",
        10.0,
    ));
    let measured = [
        (
            "index-recovery",
            compare(
                &config,
                Query::RecoveryQueue,
                &side(&before, Variant::Before),
                &side(&indexed, Variant::Ledger),
            ),
        ),
        (
            "index-export-ready",
            compare(
                &config,
                Query::ExportReady,
                &side(&before, Variant::Before),
                &side(&indexed, Variant::Ledger),
            ),
        ),
        (
            "cache-recovery-reused",
            compare(
                &config,
                Query::Recovery,
                &side(&default_cache, Variant::Ledger),
                &side(&big_cache, Variant::Ledger),
            ),
        ),
        (
            "cache-scan-larger-than-cache",
            compare(
                &config,
                Query::FullScan,
                &side(&default_cache, Variant::Ledger),
                &side(&big_cache, Variant::Ledger),
            ),
        ),
        (
            "cache-fresh-connection",
            compare_fresh(&config, &ledger_data, Query::Recovery, || {
                open(&ledger_data.path, Tuning::CACHE_64MB).expect("open dataset")
            }),
        ),
        (
            "adaptive-recovery-reused",
            compare(
                &config,
                Query::Recovery,
                &side(&default_cache, Variant::Ledger),
                &adaptive_side,
            ),
        ),
        (
            "adaptive-scan-larger-than-cache",
            compare(
                &config,
                Query::FullScan,
                &side(&default_cache, Variant::Ledger),
                &adaptive_side,
            ),
        ),
        (
            "adaptive-fresh-connection",
            compare_fresh(&config, &ledger_data, Query::Recovery, || {
                open_adaptive(&ledger_data.path, ConnectionUse::PerQuery)
                    .expect("open dataset")
                    .0
            }),
        ),
    ];
    println!(
        "\n## claims at {} ({} pairs per comparison)\n",
        size.label(),
        config.pairs
    );
    println!(
        "adaptive arm: reused connection {}; fresh connection {}\n",
        describe_choice(&choice),
        describe_choice(&fresh_choice)
    );
    for (id, report) in &measured {
        println!("- {id}: {report}");
        table.record_with_control(id, report.ratio, &report.control_null);
    }
    table.record("goal-index-recovery", measured[0].1.ratio);
    println!("\n{table}");
}

fn main() {
    for size in settings::sizes() {
        claims_at(size);
    }
}
