//! Cost of the page-checksum layer and of the adaptive cache, as ratios
//! against the same ledger without them, measured interleaved in one process.
//!
//! ```sh
//! cargo run --release -p ledger --example safety_cost -- /dev/shm
//! ```

use std::path::Path;
use std::time::{Duration, Instant};

use ledger::{Config, Ledger, NewCapture, Source};

const INSERTS: u32 = 2_000;
const QUERIES: u32 = 200;
const ROUNDS: usize = 7;

fn memo(n: u32) -> NewCapture {
    NewCapture {
        source: Source::Voice,
        raw_content: format!("memos/{n}-{}.m4a", "x".repeat(200)),
        channel: Some("phone".into()),
        channel_native_id: Some(format!("rec-{n}")),
    }
}

fn config(dir: &Path, name: &str, checksums: bool, adaptive: bool) -> Config {
    let mut config = Config::new(
        dir.join(format!("{name}.db")),
        dir.join(format!("{name}-vault")),
    );
    config.tuning.page_checksums = checksums;
    config.tuning.adaptive_cache = adaptive;
    config
}

/// (insert time, recovery-query time) for one fresh ledger.
fn run(config: &Config) -> Result<(Duration, Duration), Box<dyn std::error::Error>> {
    let _ = std::fs::remove_file(&config.path);
    let mut ledger = Ledger::open(config)?;
    let start = Instant::now();
    for n in 0..INSERTS {
        ledger.stage(&memo(n))?;
    }
    let inserts = start.elapsed();
    let start = Instant::now();
    for _ in 0..QUERIES {
        std::hint::black_box(ledger.recoverable_captures()?);
    }
    let queries = start.elapsed();
    ledger.close()?;
    for suffix in ["", "-wal", "-shm"] {
        let mut path = config.path.as_os_str().to_owned();
        path.push(suffix);
        let _ = std::fs::remove_file(path);
    }
    Ok((inserts, queries))
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn compare(
    dir: &Path,
    label: &str,
    a: &Config,
    b: &Config,
) -> Result<(), Box<dyn std::error::Error>> {
    let (mut insert_ratio, mut query_ratio) = (Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        let (ai, aq) = run(a)?;
        let (bi, bq) = run(b)?;
        insert_ratio.push(ai.as_secs_f64() / bi.as_secs_f64());
        query_ratio.push(aq.as_secs_f64() / bq.as_secs_f64());
    }
    println!(
        "{label} ({}): insert x{:.3}, recovery query x{:.3} (median of {ROUNDS} interleaved rounds; {INSERTS} inserts, {QUERIES} queries over {INSERTS} captures)",
        dir.display(),
        median(insert_ratio),
        median(query_ratio)
    );
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let base = std::env::args().nth(1).unwrap_or_else(|| "/dev/shm".into());
    let dir = tempfile::tempdir_in(base)?;
    let on = config(dir.path(), "on", true, true);
    let off = config(dir.path(), "off", false, true);
    compare(dir.path(), "checksums on / off", &on, &off)?;
    let mut mmap_off_on = on.clone();
    mmap_off_on.tuning.mmap_size = 0;
    let mut mmap_off_off = off.clone();
    mmap_off_off.tuning.mmap_size = 0;
    compare(
        dir.path(),
        "checksums on / off, mmap_size=0",
        &mmap_off_on,
        &mmap_off_off,
    )?;
    let fixed = config(dir.path(), "fixed", true, false);
    compare(dir.path(), "adaptive cache / fixed 64 MB", &on, &fixed)?;
    Ok(())
}
