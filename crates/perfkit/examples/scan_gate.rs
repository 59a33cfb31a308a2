//! How often the no-loss gate of `adaptive-scan-larger-than-cache` fails, and for which
//! candidate: each run measures the claim as the perf family does (a full scan on reused
//! connections, the baseline a default connection that ran `ANALYZE`, the A/A denominator on a
//! twin default connection, 41 shuffled blocks timed by the thread's CPU time), on connections
//! opened for that run, for two candidates in turn, each with one connection set (one baseline,
//! twin and candidate connection, as the claim ran before) and with `sets` of them (blocks
//! rotating over the sets, the null drawn from one set per resample):
//!
//! - `identical`: one more default connection (the same configuration as the baseline), so
//!   every gate failure is a false alarm;
//! - `adaptive`: the ledger's adaptive rule followed by its scan watch between queries (the
//!   claim's own candidate);
//! - `64mb` (only when asked for): a 64 MB cache, which loses 10-20 % on this scan, so every
//!   run should fail the gate.
//!
//! ```sh
//! cargo build --release -p perfkit --example scan_gate
//! target/release/examples/scan_gate 100000 6 8    # captures, runs per candidate, sets
//! target/release/examples/scan_gate 100000 3 8 64mb   # the candidates to run (default: both)
//! ```

use ledger::memory::adaptive_cache::ConnectionUse;
use ledger::memory::scan_watch::{self, ScanWatch};
use perfkit::connect::{Tuning, open, open_adaptive};
use perfkit::dataset::{Dataset, DatasetSpec, Variant, data_dir};
use perfkit::queries::{Probe, Query};
use perfkit::{AbConfig, Claim, Clock, Slot, Verdict, run_ab_twinned};

/// What one measurement gives: the report and the cache sizes the scan watch set on each
/// candidate connection.
type Measured = (perfkit::AbReport, Vec<Vec<u64>>);

/// One measurement of the claim on fresh connections, `sets` of each; the report and the cache
/// sizes the scan watch set on each candidate connection.
fn measure(
    data: &Dataset,
    kind: &str,
    sets: usize,
    seed: u64,
) -> Result<Measured, Box<dyn std::error::Error>> {
    let mut baselines = Vec::new();
    let (mut twins, mut candidates) = (Vec::new(), Vec::new());
    for set in 0..sets {
        let baseline = open(&data.path, Tuning::SQLITE_DEFAULT)?;
        if set == 0 {
            baseline.execute_batch("ANALYZE")?;
        }
        baselines.push(baseline);
        twins.push(open(&data.path, Tuning::SQLITE_DEFAULT)?);
        candidates.push(match kind {
            "adaptive" => {
                let (conn, choice) = open_adaptive(&data.path, ConnectionUse::Reused)?;
                (conn, Some(choice))
            }
            "64mb" => (open(&data.path, Tuning::CACHE_64MB)?, None),
            _ => (open(&data.path, Tuning::SQLITE_DEFAULT)?, None),
        });
    }
    let mut probe = Probe::load(&baselines[0])?;
    let mut watches = vec![ScanWatch::default(); sets];
    let mut changes = vec![Vec::new(); sets];
    let config = AbConfig {
        seed,
        clock: Clock::ThreadCpu,
        sets,
        ..AbConfig::default()
    };
    let report = run_ab_twinned(&config, |slot, set| {
        let conn = match slot {
            Slot::Baseline | Slot::ControlNumerator => &baselines[set],
            Slot::Candidate => &candidates[set].0,
            Slot::ControlDenominator => &twins[set],
        };
        std::hint::black_box(probe.run(conn, Query::FullScan, Variant::Ledger)?);
        if slot == Slot::Candidate
            && let Some(chosen) = candidates[set].1
            && let Some(now) = scan_watch::follow(conn, &mut watches[set], chosen)
                .map_err(perfkit::sql_err("follow the scan watch"))?
        {
            changes[set].push(now.kib);
        }
        Ok::<_, perfkit::PerfError>(())
    })?;
    Ok((report, changes))
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let captures = args.get(1).map_or(Ok(100_000), |a| a.parse())?;
    let runs: u64 = args.get(2).map_or(Ok(6), |a| a.parse())?;
    let many: usize = args.get(3).map_or(Ok(8), |a| a.parse())?;
    let kinds: Vec<&str> = args
        .get(4)
        .map_or("identical,adaptive", String::as_str)
        .split(',')
        .collect();
    let data = Dataset::cached_in(&data_dir(), DatasetSpec::new(captures, Variant::Ledger))?;
    println!(
        "| run | candidate | sets | ratio [95 % CI] | A/A [95 % CI] | null low | verdict | watch set on set 0 (KiB) |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    let mut failed = vec![[0u32; 2]; kinds.len()];
    for run in 1..=runs {
        for (k, &kind) in kinds.iter().enumerate() {
            for (i, sets) in [1, many].into_iter().enumerate() {
                let (report, changes) = measure(&data, kind, sets, run)?;
                let verdict = Claim::no_loss("x", "x", "x")
                    .with_noise_threshold(&report.control_null)
                    .with_measurement(report.ratio)
                    .verdict();
                if verdict != Verdict::Holds {
                    failed[k][i] += 1;
                }
                println!(
                    "| {run} | {kind} | {sets} | {:.3}x [{:.3}, {:.3}] | {:.3}x [{:.3}, {:.3}] | {:.3} | {verdict:?} | {:?} |",
                    report.ratio.median,
                    report.ratio.low,
                    report.ratio.high,
                    report.control.median,
                    report.control.low,
                    report.control.high,
                    report.control_null.low,
                    changes[0],
                );
            }
        }
    }
    for (kind, [one, all]) in kinds.iter().zip(&failed) {
        println!(
            "{kind}: the gate failed {one} of {runs} runs with one set, {all} with {many} sets"
        );
    }
    Ok(())
}
