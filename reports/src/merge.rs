//! [`merge`]: joins the `results.json` of the shards of one run into the results of the whole.
//!
//! Shards must come from the same revision and base seed and together cover every shard index
//! exactly once; anything else is refused with a message saying which part does not fit.

use std::collections::BTreeMap;

use crate::results::{RunResults, Summary};

/// Shard results that cannot be merged.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MergeError {
    /// Nothing to merge.
    #[error("no shard results given")]
    Empty,
    /// A part is not a shard (it ran without `--shard`).
    #[error("part {part} ran without --shard; only the shards of one run can be merged")]
    NotAShard {
        /// 1-based position among the parts.
        part: usize,
    },
    /// Parts from different revisions.
    #[error(
        "shards come from different revisions ({first} and {other}); rerun them from one build"
    )]
    Revision {
        /// The first part's revision.
        first: String,
        /// A differing revision.
        other: String,
    },
    /// Parts from different base seeds.
    #[error(
        "shards come from different base seeds ({first} and {other}); run every shard with the same --seed"
    )]
    Seed {
        /// The first part's seed.
        first: u64,
        /// A differing seed.
        other: u64,
    },
    /// Shard counts differ, a shard appears twice, or one is missing.
    #[error("shards do not form one run: {0}")]
    Coverage(String),
}

/// Merges shard results into the results of the whole run.
pub fn merge(parts: &[RunResults]) -> Result<RunResults, MergeError> {
    let first = parts.first().ok_or(MergeError::Empty)?;
    let mut seen: BTreeMap<u32, usize> = BTreeMap::new();
    let count = first.shard.ok_or(MergeError::NotAShard { part: 1 })?.count;
    for (i, part) in parts.iter().enumerate() {
        let shard = part.shard.ok_or(MergeError::NotAShard { part: i + 1 })?;
        if part.revision != first.revision {
            return Err(MergeError::Revision {
                first: first.revision.clone(),
                other: part.revision.clone(),
            });
        }
        if part.base_seed != first.base_seed {
            return Err(MergeError::Seed {
                first: first.base_seed,
                other: part.base_seed,
            });
        }
        if shard.count != count {
            return Err(MergeError::Coverage(format!(
                "part {} is shard {shard} but part 1 is one of {count}",
                i + 1
            )));
        }
        if let Some(earlier) = seen.insert(shard.index, i + 1) {
            return Err(MergeError::Coverage(format!(
                "shard {shard} is given twice (parts {earlier} and {})",
                i + 1
            )));
        }
    }
    let missing: Vec<String> = (1..=count)
        .filter(|k| !seen.contains_key(k))
        .map(|k| format!("{k}/{count}"))
        .collect();
    if !missing.is_empty() {
        return Err(MergeError::Coverage(format!(
            "missing shard(s) {}",
            missing.join(", ")
        )));
    }

    let mut merged = first.clone();
    merged.shard = None;
    merged.iterations.clear();
    merged.skipped.clear();
    merged.summary = Summary::default();
    let mut scenarios = BTreeMap::new();
    for part in parts {
        for s in &part.scenarios {
            scenarios
                .entry(s.name.clone())
                .and_modify(|m: &mut crate::events::ScenarioInfo| {
                    m.planned_iterations += s.planned_iterations
                })
                .or_insert_with(|| s.clone());
        }
        merged.skipped.extend(part.skipped.iter().cloned());
        merged.complete &= part.complete;
        merged.interrupted |= part.interrupted;
        merged.wall_time_ms = merged.wall_time_ms.max(part.wall_time_ms);
        merged.shrink_wall_time_ms = merged.shrink_wall_time_ms.max(part.shrink_wall_time_ms);
        merged.started_at_unix = merged.started_at_unix.min(part.started_at_unix);
    }
    merged.explore = None;
    for part in parts {
        if let Some(explore) = &part.explore {
            merged
                .explore
                .get_or_insert_with(Default::default)
                .merge(explore);
        }
    }
    let mut iterations: Vec<_> = parts
        .iter()
        .flat_map(|p| p.iterations.iter().cloned())
        .collect();
    iterations.sort_by(|a, b| (&a.scenario, a.iteration).cmp(&(&b.scenario, b.iteration)));
    for it in iterations {
        merged.push(it);
    }
    let order: Vec<String> = first.scenarios.iter().map(|s| s.name.clone()).collect();
    merged.scenarios = scenarios.into_values().collect();
    merged.scenarios.sort_by_key(|s| {
        order
            .iter()
            .position(|n| *n == s.name)
            .unwrap_or(usize::MAX)
    });
    Ok(merged)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::RunStarted;
    use crate::results::Shard;

    fn shard(index: u32, count: u32) -> RunResults {
        let mut started = RunStarted::example();
        started.shard = Some(Shard { index, count });
        let mut r = RunResults::new(&started);
        r.complete = true;
        r
    }

    #[test]
    fn refuses_mismatched_or_incomplete_shards() {
        assert_eq!(merge(&[]), Err(MergeError::Empty));
        let mut other_seed = shard(2, 2);
        other_seed.base_seed = 99;
        assert!(matches!(
            merge(&[shard(1, 2), other_seed]),
            Err(MergeError::Seed { .. })
        ));
        let mut other_rev = shard(2, 2);
        other_rev.revision = "elsewhere".into();
        assert!(matches!(
            merge(&[shard(1, 2), other_rev]),
            Err(MergeError::Revision { .. })
        ));
        let err = merge(&[shard(1, 3), shard(3, 3)]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "shards do not form one run: missing shard(s) 2/3"
        );
        assert!(matches!(
            merge(&[shard(1, 2), shard(1, 2)]),
            Err(MergeError::Coverage(_))
        ));
        let mut unsharded = shard(1, 1);
        unsharded.shard = None;
        assert_eq!(merge(&[unsharded]), Err(MergeError::NotAShard { part: 1 }));
    }

    #[test]
    fn merges_complete_shards() {
        let merged = merge(&[shard(2, 2), shard(1, 2)]).unwrap();
        assert_eq!(merged.shard, None);
        assert!(merged.complete);
        assert_eq!(merged.scenarios[0].planned_iterations, 2);
    }
}
