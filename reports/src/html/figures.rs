//! The "Figures" section: the named measurements iterations recorded in `figures` (lock-wait
//! percentiles, retries, WAL size, allocation points swept, ...), per scenario, as the least,
//! median and largest value over its iterations. Absent when no iteration recorded any.

use std::collections::BTreeMap;

use maud::{Markup, html};

use crate::results::RunResults;

/// Per (scenario, figure): every iteration's value, in run order.
fn gather(r: &RunResults) -> BTreeMap<(&str, &str), Vec<f64>> {
    let mut values: BTreeMap<(&str, &str), Vec<f64>> = BTreeMap::new();
    for it in &r.iterations {
        for (name, value) in &it.figures {
            values
                .entry((it.scenario.as_str(), name.as_str()))
                .or_default()
                .push(*value);
        }
    }
    values
}

/// The lower median of `values` (not empty), and the least and largest.
fn spread(values: &[f64]) -> (f64, f64, f64) {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    (
        sorted[0],
        sorted[(sorted.len() - 1) / 2],
        sorted[sorted.len() - 1],
    )
}

/// Integers as integers, the rest with three decimals.
fn show(value: f64) -> String {
    if value.fract() == 0.0 && value.abs() < 1e15 {
        format!("{}", value as i64)
    } else {
        format!("{value:.3}")
    }
}

/// The section, or nothing when no iteration recorded a figure.
pub fn section(r: &RunResults) -> Markup {
    let values = gather(r);
    html! {
        @if !values.is_empty() {
            section #figures {
                h2 { "Figures" }
                p.muted { "Measurements the iterations recorded (results.json `figures`): least, median and largest over each scenario's iterations. Lock waits are in microseconds." }
                table {
                    tr { th { "scenario" } th { "figure" } th { "iterations" } th { "least" } th { "median" } th { "largest" } }
                    @for ((scenario, name), v) in &values {
                        @let (least, median, largest) = spread(v);
                        tr {
                            td { code { (scenario) } }
                            td { (name) }
                            td.num { (v.len()) }
                            td.num { (show(least)) }
                            td.num { (show(median)) }
                            td.num { (show(largest)) }
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::RunStarted;
    use crate::results::{IterationResult, IterationStatus};

    fn iteration(index: u32, p99: f64) -> IterationResult {
        let mut it = IterationResult {
            base_seed: 1,
            seed: 1,
            duration_ms: 1,
            operations: 1,
            acknowledged: 1,
            ..IterationResult::new(
                "lock-writer-processes",
                "lock-contention",
                index,
                IterationStatus::Passed,
            )
        };
        it.figures.insert("lock_wait_p99_us".into(), p99);
        it
    }

    #[test]
    fn figures_show_least_median_and_largest_per_scenario() {
        let mut r = RunResults::new(&RunStarted::example());
        assert!(
            section(&r).into_string().is_empty(),
            "no figures, no section"
        );
        r.iterations = vec![
            iteration(0, 300.0),
            iteration(1, 100.0),
            iteration(2, 2500.0),
        ];
        let page = section(&r).into_string();
        assert!(page.contains("lock_wait_p99_us"), "{page}");
        for value in ["100", "300", "2500"] {
            assert!(
                page.contains(&format!("<td class=\"num\">{value}</td>")),
                "{page}"
            );
        }
    }
}
