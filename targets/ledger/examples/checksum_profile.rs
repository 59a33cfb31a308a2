//! A fixed, repeatable workload for counting instructions of the page-checksum layer:
//! `N` stages (one transaction each) into a fresh ledger with checksums on or off.
//!
//! ```sh
//! cargo build --release -p ledger --example checksum_profile
//! valgrind --tool=callgrind target/release/examples/checksum_profile on 2000 /dev/shm
//! valgrind --tool=callgrind target/release/examples/checksum_profile off 2000 /dev/shm
//! ```

use ledger::{Config, Ledger, NewCapture, Source};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let checksums = args.next().as_deref() == Some("on");
    let n: u32 = args.next().map_or(Ok(2000), |a| a.parse())?;
    let base = args.next().unwrap_or_else(|| "/dev/shm".into());
    let dir = tempfile::tempdir_in(base)?;
    let mut config = Config::new(dir.path().join("l.db"), dir.path().join("vault"));
    config.tuning.page_checksums = checksums;
    let mut ledger = Ledger::open(&config)?;
    for k in 0..n {
        ledger.stage(&NewCapture {
            source: Source::Voice,
            raw_content: format!("memos/{k}-{}.m4a", "x".repeat(200)),
            channel: Some("phone".into()),
            channel_native_id: Some(format!("rec-{k}")),
        })?;
    }
    ledger.close()?;
    Ok(())
}
