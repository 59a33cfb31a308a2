//! Performance checks in the results: [`PerfCheck`] (A, B, the ratio with its interval, the
//! A/A control, the target, the verdict, the plan check and any regression against the
//! history), and the history figures they leave ([`history_figures`]).
//!
//! Ratios are `baseline / candidate`: above 1, the candidate is faster. A perf check gates on
//! the ratio, never on an absolute time.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::results::RunResults;

/// The name of a perf figure in `HistoryEntry::figures`: `perf.<scenario>.<figure>`.
pub fn figure_key(scenario: &str, figure: &str) -> String {
    format!("perf.{scenario}.{figure}")
}

/// The figures each perf check leaves in the history: the ratio and both arms' medians.
pub const FIGURES: [&str; 3] = ["ratio", "baseline-ms", "candidate-ms"];

/// A median ratio with its bootstrap interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RatioInterval {
    /// The median of the per-pair ratios.
    pub median: f64,
    /// Lower bound of the interval.
    pub low: f64,
    /// Upper bound of the interval.
    pub high: f64,
    /// Confidence level of the interval (e.g. 0.95).
    pub confidence: f64,
    /// Pairs behind the ratio.
    pub pairs: usize,
}

impl std::fmt::Display for RatioInterval {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:.2}x [{:.2}, {:.2}]", self.median, self.low, self.high)
    }
}

/// Whether a measured ratio meets its target, judged on the interval.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PerfVerdict {
    /// The whole interval is at or above the target.
    Holds,
    /// The whole interval is below the target.
    DoesNotHold,
    /// The interval straddles the target.
    Inconclusive,
}

impl PerfVerdict {
    /// `holds`, `does not hold`, `inconclusive`.
    pub fn as_str(self) -> &'static str {
        match self {
            PerfVerdict::Holds => "holds",
            PerfVerdict::DoesNotHold => "does not hold",
            PerfVerdict::Inconclusive => "inconclusive",
        }
    }
}

/// The query-plan check of a perf check: does `EXPLAIN QUERY PLAN` use the intended index?
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanVerdict {
    /// The index the query is meant to use.
    pub expected_index: String,
    /// True when the plan is as intended.
    pub passed: bool,
    /// The plan's lines.
    pub plan: Vec<String>,
    /// Every way the plan misses its expectation.
    pub problems: Vec<String>,
}

/// A figure that fell outside the history's spread by more than the margin.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PerfRegression {
    /// `ratio`, `baseline-ms` or `candidate-ms`.
    pub figure: String,
    /// This run's value.
    pub value: f64,
    /// Lowest value in the history.
    pub history_low: f64,
    /// Highest value in the history.
    pub history_high: f64,
    /// Earlier runs compared against.
    pub runs: usize,
    /// What moved, in words.
    pub detail: String,
}

/// One performance check: a claim measured as an interleaved A/B ratio.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PerfCheck {
    /// The claim's stable id (`index-recovery`, `cache-recovery-reused`, ...).
    pub claim: String,
    /// What is claimed, in words.
    pub statement: String,
    /// The condition it was measured under (size, backlog, connection reuse).
    pub condition: String,
    /// The query measured.
    pub query: String,
    /// Arm A, the ratio's numerator.
    pub baseline: String,
    /// Arm B, the ratio's denominator.
    pub candidate: String,
    /// Median time of arm A, milliseconds.
    pub baseline_median_ms: f64,
    /// Median time of arm B, milliseconds.
    pub candidate_median_ms: f64,
    /// Median of the per-pair ratios A/B with its bootstrap interval.
    pub ratio: RatioInterval,
    /// The A/A control (A against itself): how far noise alone moves the ratio.
    pub control: RatioInterval,
    /// The ratio the claim needs, at least.
    pub target: f64,
    /// Whether the check gates the run (false for conditions known to fail, recorded only).
    pub gated: bool,
    /// Whether this condition is one where the claim is known to fail.
    pub known_to_fail: bool,
    /// The verdict from the interval against the target.
    pub verdict: PerfVerdict,
    /// The query-plan check, when the claim has an intended plan.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan: Option<PlanVerdict>,
    /// Figures outside the history's spread (flagged, not a failure).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub regressions: Vec<PerfRegression>,
}

impl PerfCheck {
    /// Whether the gate holds: an ungated check always does; a gated one when the median ratio
    /// reaches the target (the verdict says whether the interval does too).
    pub fn gate_passed(&self) -> bool {
        !self.gated || self.ratio.median >= self.target
    }

    /// This check's history figures: the ratio and both medians.
    pub fn figures(&self) -> [(&'static str, f64); 3] {
        [
            (FIGURES[0], self.ratio.median),
            (FIGURES[1], self.baseline_median_ms),
            (FIGURES[2], self.candidate_median_ms),
        ]
    }
}

/// Every perf figure of a run, keyed by [`figure_key`]; a scenario run several times keeps the
/// median over its iterations.
pub fn history_figures(results: &RunResults) -> BTreeMap<String, f64> {
    let mut values: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    for iteration in &results.iterations {
        for check in &iteration.perf {
            for (figure, value) in check.figures() {
                values
                    .entry(figure_key(&iteration.scenario, figure))
                    .or_default()
                    .push(value);
            }
        }
    }
    values
        .into_iter()
        .map(|(key, mut list)| {
            list.sort_by(f64::total_cmp);
            let mid = list.len() / 2;
            let median = if list.len() % 2 == 1 {
                list[mid]
            } else {
                (list[mid - 1] + list[mid]) / 2.0
            };
            (key, median)
        })
        .collect()
}
