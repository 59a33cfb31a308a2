//! Detection strength of the page-checksum codes against random multi-bit
//! flips: for each code (version 1, cksumvfs's Fletcher sum; version 2,
//! CRC32C) and each flip count `k`, `N` trials each seal a fresh random page,
//! flip `k` distinct bits chosen uniformly over the whole page (reserved bytes
//! included) and count the pages that still verify (in either version, as a
//! read does).
//!
//! ```sh
//! cargo run --release -p ledger --example checksum_detection -- 100000 4096 2,3,8
//! ```

use std::collections::BTreeSet;

use ledger::checksum::{PageCode, RESERVE_BYTES, page_checksum_ok};
use rand::{Rng, RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let trials: u64 = args.next().map_or(Ok(100_000), |a| a.parse())?;
    let page_len: usize = args.next().map_or(Ok(4096), |a| a.parse())?;
    let flips: Vec<usize> = args
        .next()
        .unwrap_or_else(|| "2,3,8".into())
        .split(',')
        .map(str::parse)
        .collect::<Result<_, _>>()?;
    println!("{trials} trials per row, {page_len}-byte pages, flips anywhere in the page");
    for code in [PageCode::Fletcher, PageCode::Crc32c] {
        for &k in &flips {
            let mut rng = ChaCha8Rng::seed_from_u64(0x5eed ^ k as u64);
            let undetected = (0..trials)
                .filter(|_| survives(code, k, page_len, &mut rng))
                .count();
            println!(
                "version {} ({code:?}): {k}-bit flips: {undetected} undetected of {trials} ({} detected)",
                code.version(),
                trials - undetected as u64
            );
        }
    }
    Ok(())
}

/// Whether a random page sealed in `code` still verifies after `k` random flips.
fn survives(code: PageCode, k: usize, page_len: usize, rng: &mut ChaCha8Rng) -> bool {
    let mut page = vec![0u8; page_len];
    rng.fill_bytes(&mut page);
    let sum = code.checksum(&page);
    page[page_len - RESERVE_BYTES..].copy_from_slice(&sum);
    let mut bits = BTreeSet::new();
    while bits.len() < k {
        bits.insert(rng.random_range(0..page_len * 8));
    }
    for bit in bits {
        page[bit / 8] ^= 1 << (bit % 8);
    }
    page_checksum_ok(&page)
}
