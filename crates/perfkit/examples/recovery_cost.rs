//! Where the recovery query's time goes on each cache arm: per query, the measuring thread's
//! user and system CPU time (`getrusage(RUSAGE_THREAD)`: system time is the reads from the OS
//! page cache) and SQLite's page-cache hits and misses on the connection
//! (`SQLITE_DBSTATUS_CACHE_HIT`/`_MISS`), arms run in a shuffled order in each round, as the
//! perf family runs them.
//!
//! ```sh
//! cargo build --release -p perfkit --example recovery_cost
//! target/release/examples/recovery_cost 100000 200   # captures, rounds
//! target/release/examples/recovery_cost 100000 40 full-scan
//! target/release/examples/recovery_cost 100000 40 full-scan 6   # and 6 more default connections
//! ```
//!
//! Arms: `default` (SQLite's 2 MB, no mmap: the claims' baseline), `adaptive` (the ledger's
//! rule, no mmap: the adaptive claims' candidate), `cache-64mb`, and `adaptive-mmap` (the rule
//! with the ledger's `mmap_size`, 256 MiB: how the ledger itself reads); with `full-scan`, also
//! `default-unanalyzed` (a second default connection, which ran no `ANALYZE`) and
//! `adaptive-at-floor` (the rule's connection after one query at its size, then set to the
//! floor, as the scan watch leaves a scan-dominated connection); a fourth argument adds that
//! many more default connections (`default-2`, ...: how far equally configured connections
//! differ).

use std::time::Duration;

use ledger::memory::adaptive_cache::ConnectionUse;
use nix::sys::resource::{UsageWho, getrusage};
use perfkit::connect::{MMAP_256_MIB, Tuning, describe_choice, open, open_adaptive};
use perfkit::dataset::{Dataset, DatasetSpec, Variant, data_dir};
use perfkit::queries::{Probe, Query};
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use rusqlite::Connection;

/// (user, system) CPU time of this thread so far.
fn thread_times() -> (Duration, Duration) {
    let usage = getrusage(UsageWho::RUSAGE_THREAD).expect("getrusage");
    let micros = |t: nix::sys::time::TimeVal| {
        Duration::from_micros(t.tv_sec() as u64 * 1_000_000 + t.tv_usec() as u64)
    };
    (micros(usage.user_time()), micros(usage.system_time()))
}

/// (hits, misses) of `conn`'s page cache so far.
fn cache_counters(conn: &Connection) -> (i64, i64) {
    let status = |op| {
        let (mut current, mut high) = (0, 0);
        // SAFETY: `conn.handle()` is a live connection; the out-pointers are valid.
        unsafe {
            rusqlite::ffi::sqlite3_db_status(conn.handle(), op, &mut current, &mut high, 0);
        }
        i64::from(current)
    };
    (
        status(rusqlite::ffi::SQLITE_DBSTATUS_CACHE_HIT),
        status(rusqlite::ffi::SQLITE_DBSTATUS_CACHE_MISS),
    )
}

/// One arm's totals over the measured rounds.
#[derive(Default)]
struct Totals {
    user: Duration,
    system: Duration,
    hits: i64,
    misses: i64,
    per_query_ms: Vec<f64>,
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let captures = args.get(1).map_or(Ok(100_000), |a| a.parse())?;
    let rounds: usize = args.get(2).map_or(Ok(200), |a| a.parse())?;
    let query = match args.get(3).map(String::as_str) {
        None | Some("recovery") => Query::Recovery,
        Some("full-scan") => Query::FullScan,
        Some(other) => return Err(format!("unknown query {other}").into()),
    };
    let data = Dataset::cached_in(&data_dir(), DatasetSpec::new(captures, Variant::Ledger))?;
    let default = open(&data.path, Tuning::SQLITE_DEFAULT)?;
    default.execute_batch("ANALYZE")?;
    let unanalyzed = open(&data.path, Tuning::SQLITE_DEFAULT)?;
    let (at_floor, _) = open_adaptive(&data.path, ConnectionUse::Reused)?;
    let (shrunk, _) = open_adaptive(&data.path, ConnectionUse::Reused)?;
    let big = open(&data.path, Tuning::CACHE_64MB)?;
    let (adaptive, choice) = open_adaptive(&data.path, ConnectionUse::Reused)?;
    let (adaptive_mmap, _) = open_adaptive(&data.path, ConnectionUse::Reused)?;
    adaptive_mmap.pragma_update(None, "mmap_size", MMAP_256_MIB)?;
    println!(
        "dataset {} ({captures} captures); adaptive arm: {}",
        data.path.display(),
        describe_choice(&choice)
    );
    let mut probe = Probe::load(&default)?;
    let late = &*Box::leak(Box::new(open(&data.path, Tuning::SQLITE_DEFAULT)?));
    let mut arms: Vec<(&str, &Connection)> = vec![
        ("default", &default),
        ("adaptive", &adaptive),
        ("cache-64mb", &big),
        ("adaptive-mmap", &adaptive_mmap),
    ];
    if query == Query::FullScan {
        std::hint::black_box(probe.run(&at_floor, query, Variant::Ledger)?);
        at_floor.pragma_update(None, "cache_size", -2000)?;
        arms.push(("default-unanalyzed", &unanalyzed));
        arms.push(("adaptive-at-floor", &at_floor));
        std::hint::black_box(probe.run(&shrunk, query, Variant::Ledger)?);
        shrunk.pragma_update(None, "cache_size", -2000)?;
        shrunk.execute_batch("PRAGMA shrink_memory")?;
        arms.push(("adaptive-at-floor-shrunk", &shrunk));
        arms.push(("default-late", late));
        let more: usize = args.get(4).map_or(Ok(0), |a| a.parse())?;
        for n in 0..more {
            let conn = &*Box::leak(Box::new(open(&data.path, Tuning::SQLITE_DEFAULT)?));
            arms.push((
                Box::leak(format!("default-{}", n + 2).into_boxed_str()),
                conn,
            ));
        }
    }
    let mut totals: Vec<Totals> = arms.iter().map(|_| Totals::default()).collect();
    let mut order: Vec<usize> = (0..arms.len()).collect();
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let warmup = 5;
    for round in 0..warmup + rounds {
        order.shuffle(&mut rng);
        for &arm in &order {
            let conn = arms[arm].1;
            let (hits0, misses0) = cache_counters(conn);
            let (user0, system0) = thread_times();
            let cpu = perfkit::Clock::ThreadCpu.time(|| {
                std::hint::black_box(probe.run(conn, query, Variant::Ledger)?);
                Ok::<_, perfkit::PerfError>(())
            })?;
            let (user1, system1) = thread_times();
            let (hits1, misses1) = cache_counters(conn);
            if round >= warmup {
                let t = &mut totals[arm];
                t.user += user1 - user0;
                t.system += system1 - system0;
                t.hits += hits1 - hits0;
                t.misses += misses1 - misses0;
                t.per_query_ms.push(cpu * 1e3);
            }
        }
    }
    println!(
        "| arm | median CPU ms/query | user ms/query | system ms/query | hits/query | misses/query |"
    );
    println!("|---|---|---|---|---|---|");
    for (arm, t) in arms.iter().zip(&mut totals) {
        let n = rounds as f64;
        println!(
            "| {} | {:.3} | {:.3} | {:.3} | {:.0} | {:.0} |",
            arm.0,
            perfkit::median(&t.per_query_ms)?,
            t.user.as_secs_f64() * 1e3 / n,
            t.system.as_secs_f64() * 1e3 / n,
            t.hits as f64 / n,
            t.misses as f64 / n
        );
    }
    Ok(())
}
