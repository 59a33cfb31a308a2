//! The line a run prints about what the ledger did about damage at rest: the `repairs_*`
//! figures of its corruption iterations ([`crate::oracle::repairs`]) and the captures named,
//! summed over the run.

use std::collections::BTreeMap;

use reports::RunResults;

use crate::oracle::repairs::RepairKind;

/// The figure that counts the captures the ledger's reports named.
const NAMED: &str = "captures_named";

/// `repairs by kind over N corruption iteration(s): reindex 3, restore 1, ...; K capture(s)
/// named`, or `None` when no iteration recorded repairs.
pub(super) fn line(results: &RunResults) -> Option<String> {
    line_of(results.iterations.iter().map(|it| &it.figures))
}

/// [`line`] over each iteration's figures.
fn line_of<'a>(iterations: impl Iterator<Item = &'a BTreeMap<String, f64>>) -> Option<String> {
    let counted: Vec<_> = iterations
        .filter(|figures| figures.contains_key(RepairKind::Reindex.figure()))
        .collect();
    if counted.is_empty() {
        return None;
    }
    let sum = |name: &str| -> u64 {
        counted
            .iter()
            .map(|figures| figures.get(name).copied().unwrap_or(0.0) as u64)
            .sum()
    };
    let kinds: Vec<String> = RepairKind::ALL
        .into_iter()
        .map(|kind| {
            let figure = kind.figure();
            format!("{} {}", figure.trim_start_matches("repairs_"), sum(figure))
        })
        .collect();
    Some(format!(
        "repairs by kind over {} corruption iteration(s): {}; {} capture(s) named",
        counted.len(),
        kinds.join(", "),
        sum(NAMED)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sums_the_repair_figures_of_the_iterations_that_have_them() {
        let other = BTreeMap::from([("retries".to_owned(), 3.0)]);
        assert_eq!(line_of([&other].into_iter()), None);
        let damaged = BTreeMap::from([
            ("repairs_reindex".to_owned(), 2.0),
            ("repairs_refused_and_named".to_owned(), 1.0),
            (NAMED.to_owned(), 7.0),
        ]);
        assert_eq!(
            line_of([&damaged, &other, &damaged].into_iter()).as_deref(),
            Some(
                "repairs by kind over 2 corruption iteration(s): reindex 4, vacuum 0, restore 0, \
                 wal_frames_restored 0, wal_resealed 0, refused_and_named 2; 14 capture(s) named"
            )
        );
    }
}
