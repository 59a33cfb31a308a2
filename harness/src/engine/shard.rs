//! `--shard K/N`: which (scenario, iteration) pairs a shard runs.
//!
//! A pair belongs to shard `hash(scenario, iteration) mod N + 1`, with a stable hash, so each
//! shard is deterministic, the shards partition the run, and adding a scenario moves no other
//! scenario's iterations between shards.

use reports::results::Shard;
use sha2::{Digest, Sha256};

/// Parses `K/N` with `1 <= K <= N`.
pub fn parse_shard(text: &str) -> Result<Shard, String> {
    let err = || format!("invalid shard `{text}`: expected K/N with 1 <= K <= N, e.g. 2/4");
    let (k, n) = text.split_once('/').ok_or_else(err)?;
    let index: u32 = k.trim().parse().map_err(|_| err())?;
    let count: u32 = n.trim().parse().map_err(|_| err())?;
    if index == 0 || count == 0 || index > count {
        return Err(err());
    }
    Ok(Shard { index, count })
}

/// True when `shard` runs iteration `iteration` of `scenario` (always true without sharding).
pub fn in_shard(shard: Option<Shard>, scenario: &str, iteration: u32) -> bool {
    let Some(shard) = shard else { return true };
    let digest = Sha256::digest(format!("{scenario}:{iteration}").as_bytes());
    let hash = u64::from_le_bytes(digest[..8].try_into().expect("sha256 has 32 bytes"));
    hash % u64::from(shard.count) + 1 == u64::from(shard.index)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_validates() {
        assert_eq!(parse_shard("2/4"), Ok(Shard { index: 2, count: 4 }));
        for bad in ["0/4", "5/4", "2", "a/b", "1/0"] {
            assert!(parse_shard(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn shards_partition_the_space_evenly_enough() {
        let shards: Vec<Shard> = (1..=4).map(|index| Shard { index, count: 4 }).collect();
        let mut sizes = [0usize; 4];
        for it in 0..400 {
            let owners: Vec<usize> = (0..4)
                .filter(|&k| in_shard(Some(shards[k]), "kill-writer", it))
                .collect();
            assert_eq!(
                owners.len(),
                1,
                "iteration {it} belongs to exactly one shard"
            );
            sizes[owners[0]] += 1;
        }
        assert!(sizes.iter().all(|&n| n > 60), "{sizes:?}");
        assert!(in_shard(None, "x", 3));
    }
}
