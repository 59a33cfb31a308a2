//! Regression detection against the run history: [`regressions`] flags a perf figure (the
//! ratio, or either arm's median time) that falls outside the spread of the earlier runs by
//! more than a relative margin, in the worse direction: a ratio below the history's lowest, a
//! median time above the history's highest. [`attach_history`] hands each perf scenario its
//! earlier figures from `history.jsonl`.
//!
//! A flag is a note in the results and the report, not a failure: absolute times move with the
//! machine and its load, so only the ratio gate fails an iteration.

use std::collections::BTreeMap;

use reports::history::HistoryEntry;
use reports::perf::{FIGURES, PerfCheck, PerfRegression, figure_key};

use crate::scenario::Scenario;

/// Earlier values a figure needs before it is compared (a spread of one or two runs says
/// nothing).
pub const MIN_HISTORY: usize = 3;

/// Gives every perf scenario its earlier figures (oldest first), by figure name.
pub fn attach_history(scenarios: &mut [Scenario], earlier: &[HistoryEntry]) {
    for scenario in scenarios {
        let name = scenario.name.clone();
        if let Some(perf) = &mut scenario.perf {
            perf.history = earlier
                .iter()
                .map(|entry| {
                    FIGURES
                        .iter()
                        .filter_map(|figure| {
                            let value = entry.figures.get(&figure_key(&name, figure))?;
                            Some(((*figure).to_owned(), *value))
                        })
                        .collect::<BTreeMap<String, f64>>()
                })
                .filter(|figures| !figures.is_empty())
                .collect();
        }
    }
}

/// The figures of `check` outside the history's spread by more than `margin` (relative to the
/// spread's bound), in the worse direction.
pub fn regressions(
    check: &PerfCheck,
    history: &[BTreeMap<String, f64>],
    margin: f64,
) -> Vec<PerfRegression> {
    let mut found = Vec::new();
    for (figure, value) in check.figures() {
        let earlier: Vec<f64> = history
            .iter()
            .filter_map(|figures| figures.get(figure).copied())
            .filter(|v| v.is_finite())
            .collect();
        if earlier.len() < MIN_HISTORY {
            continue;
        }
        let low = earlier.iter().copied().fold(f64::INFINITY, f64::min);
        let high = earlier.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let higher_is_better = figure == FIGURES[0];
        let detail = if higher_is_better && value < low * (1.0 - margin) {
            format!(
                "{figure} {value:.2} is below the lowest of {} earlier runs ({low:.2}) by more than {:.0} %",
                earlier.len(),
                margin * 100.0
            )
        } else if !higher_is_better && value > high * (1.0 + margin) {
            format!(
                "{figure} {value:.3} is above the highest of {} earlier runs ({high:.3}) by more than {:.0} %",
                earlier.len(),
                margin * 100.0
            )
        } else {
            continue;
        };
        found.push(PerfRegression {
            figure: figure.to_owned(),
            value,
            history_low: low,
            history_high: high,
            runs: earlier.len(),
            detail,
        });
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use reports::perf::{PerfVerdict, RatioInterval};

    fn check(ratio: f64, candidate_ms: f64) -> PerfCheck {
        let interval = RatioInterval {
            median: ratio,
            low: ratio,
            high: ratio,
            confidence: 0.95,
            pairs: 3,
        };
        PerfCheck {
            claim: "index-recovery".into(),
            statement: "s".into(),
            condition: "c".into(),
            query: "recovery".into(),
            baseline: "a".into(),
            candidate: "b".into(),
            baseline_median_ms: 50.0,
            candidate_median_ms: candidate_ms,
            ratio: interval,
            control: interval,
            target: 5.0,
            gated: true,
            known_to_fail: false,
            verdict: PerfVerdict::Holds,
            plan: None,
            regressions: Vec::new(),
        }
    }

    fn history(ratios: &[f64]) -> Vec<BTreeMap<String, f64>> {
        ratios
            .iter()
            .map(|r| {
                BTreeMap::from([
                    ("ratio".to_owned(), *r),
                    ("baseline-ms".to_owned(), 50.0),
                    ("candidate-ms".to_owned(), 50.0 / r),
                ])
            })
            .collect()
    }

    #[test]
    fn a_ratio_below_the_spread_by_the_margin_is_flagged() {
        let earlier = history(&[9.0, 10.0, 11.0]);
        let flagged = regressions(&check(7.0, 5.0), &earlier, 0.1);
        assert_eq!(flagged.len(), 1, "{flagged:?}");
        assert_eq!(flagged[0].figure, "ratio");
        assert_eq!(flagged[0].history_low, 9.0);
        assert!(regressions(&check(8.5, 5.0), &earlier, 0.1).is_empty());
        assert!(regressions(&check(20.0, 2.0), &earlier, 0.1).is_empty());
    }

    #[test]
    fn a_slower_arm_is_flagged_and_a_short_history_is_not_judged() {
        let earlier = history(&[9.0, 10.0, 11.0]);
        let flagged = regressions(&check(10.0, 9.0), &earlier, 0.1);
        assert_eq!(
            flagged
                .iter()
                .map(|r| r.figure.as_str())
                .collect::<Vec<_>>(),
            ["candidate-ms"]
        );
        assert!(regressions(&check(1.0, 90.0), &history(&[9.0, 10.0]), 0.1).is_empty());
    }

    #[test]
    fn history_is_attached_per_scenario() {
        let mut entry = HistoryEntry {
            started_at_unix: 0,
            revision: "r".into(),
            base_seed: 1,
            iterations: 1,
            passed: 1,
            failed: 0,
            errors: 0,
            lost_acknowledged: 0,
            wall_time_ms: 1,
            figures: BTreeMap::new(),
        };
        entry
            .figures
            .insert(figure_key("index-recovery", "ratio"), 9.5);
        entry.figures.insert(figure_key("other", "ratio"), 1.0);
        let text = "name = \"index-recovery\"\ndescription = \"d\"\nchecks = []\n[perf]\nclaim = \"index-recovery\"\n";
        let scenario = Scenario::parse(std::path::Path::new("perf/x.toml"), "perf", text).unwrap();
        let mut scenarios = vec![scenario];
        attach_history(&mut scenarios, &[entry.clone(), entry]);
        let history = &scenarios[0].perf.as_ref().unwrap().history;
        assert_eq!(history.len(), 2);
        assert_eq!(history[0], BTreeMap::from([("ratio".to_owned(), 9.5)]));
    }
}
