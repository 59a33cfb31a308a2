//! The performance section: A/B bars against the target line per check (inline SVG) and the
//! claims table (claim, condition, ratio with interval, A/A control, verdict, plan, history).
//! Empty when the run measured nothing.

use maud::{Markup, html};

use crate::perf::{PerfCheck, PerfVerdict};
use crate::results::RunResults;

/// Width of a ratio chart in SVG units.
const WIDTH: f64 = 640.0;
/// Left margin for the arm labels.
const LABEL: f64 = 150.0;

/// The perf checks of the run with their scenario, in scenario order.
fn checks(r: &RunResults) -> Vec<(&str, &PerfCheck)> {
    let mut list: Vec<(&str, &PerfCheck)> = r
        .iterations
        .iter()
        .flat_map(|it| it.perf.iter().map(move |c| (it.scenario.as_str(), c)))
        .collect();
    list.sort_by(|a, b| a.0.cmp(b.0));
    list
}

fn verdict_class(check: &PerfCheck) -> &'static str {
    match check.verdict {
        PerfVerdict::Holds => "ok",
        PerfVerdict::Inconclusive => "none",
        PerfVerdict::DoesNotHold if check.gated => "bad",
        PerfVerdict::DoesNotHold => "none",
    }
}

/// The claims table and one chart per check; nothing when no perf check ran.
pub fn section(r: &RunResults) -> Markup {
    let list = checks(r);
    if list.is_empty() {
        return html! {};
    }
    html! {
        section #performance {
            h2 { "Performance claims (" (list.len()) ")" }
            p.muted { "Ratios are A / B per interleaved pair (ABAB…, same data, one process), median with its bootstrap interval; the A/A control runs A against itself. Gated checks need the median at or above the target; conditions known to fail are recorded, not gated." }
            table.claims {
                tr {
                    th { "claim" } th { "condition" } th { "target" } th { "ratio [interval]" }
                    th { "A/A" } th { "A median" } th { "B median" } th { "verdict" } th { "plan" } th { "history" }
                }
                @for (scenario, c) in &list {
                    tr {
                        td { code { (c.claim) } br; span.muted { (scenario) } }
                        td { (c.condition) }
                        td.num { "≥ " (format!("{:.1}x", c.target)) }
                        td.num { (c.ratio.to_string()) }
                        td.num { (c.control.to_string()) }
                        td.num { (format!("{:.3} ms", c.baseline_median_ms)) }
                        td.num { (format!("{:.3} ms", c.candidate_median_ms)) }
                        td class=(verdict_class(c)) {
                            (c.verdict.as_str())
                            @if !c.gated { br; span.muted { "not gated (known to fail here)" } }
                            @else if !c.gate_passed() { br; strong { "gate failed" } }
                        }
                        @match &c.plan {
                            None => td.none { "–" },
                            Some(plan) if plan.passed => td.ok { "uses " code { (plan.expected_index) } },
                            Some(plan) => td.bad { (plan.problems.join("; ")) },
                        }
                        @if c.regressions.is_empty() {
                            td.muted { "no regression" }
                        } @else {
                            td.bad { @for reg in &c.regressions { "regression: " (reg.detail) br; } }
                        }
                    }
                }
            }
            @for (scenario, c) in &list {
                h3 { (scenario) ": " (c.statement) }
                (chart(c))
                p.muted { "A = " (c.baseline) " · B = " (c.candidate) " · query " code { (c.query) } }
            }
        }
    }
}

/// A log scale from `lo` to `hi` onto the chart's plotting width.
fn scale(lo: f64, hi: f64) -> impl Fn(f64) -> f64 {
    let (lo, hi) = (lo.ln(), hi.ln());
    move |v: f64| LABEL + (WIDTH - LABEL - 20.0) * (v.max(1e-9).ln() - lo) / (hi - lo)
}

/// Two time bars (A and B, linear ms) and a ratio row (log scale) with its interval, the A/A
/// interval around 1 and the target as a red line.
pub fn chart(c: &PerfCheck) -> Markup {
    let slowest = c.baseline_median_ms.max(c.candidate_median_ms).max(1e-9);
    let bar = |ms: f64| (WIDTH - LABEL - 20.0) * ms / slowest;
    let lo = [c.ratio.low, c.control.low, c.target, 1.0]
        .into_iter()
        .fold(f64::INFINITY, f64::min)
        / 1.5;
    let hi = [c.ratio.high, c.control.high, c.target, 1.0]
        .into_iter()
        .fold(f64::NEG_INFINITY, f64::max)
        * 1.5;
    let x = scale(lo.max(1e-6), hi);
    let colour = if c.gate_passed() {
        "#1a7f37"
    } else {
        "#cf222e"
    };
    html! {
        svg.perf viewBox={"0 0 " (WIDTH) " 118"} width="100%" height="118" role="img" aria-label={"A/B chart of " (c.claim)} {
            text x="4" y="18" { "A " (format!("{:.3} ms", c.baseline_median_ms)) }
            rect x=(LABEL) y="6" width=(format!("{:.1}", bar(c.baseline_median_ms))) height="16" fill="#8c959f" {
                title { "A: " (c.baseline) }
            }
            text x="4" y="42" { "B " (format!("{:.3} ms", c.candidate_median_ms)) }
            rect x=(LABEL) y="30" width=(format!("{:.1}", bar(c.candidate_median_ms))) height="16" fill="#0969da" {
                title { "B: " (c.candidate) }
            }
            text x="4" y="74" { "ratio A/B " (format!("{:.2}x", c.ratio.median)) }
            line x1=(format!("{:.1}", x(c.ratio.low))) y1="70" x2=(format!("{:.1}", x(c.ratio.high))) y2="70" stroke=(colour) stroke-width="2" {}
            circle cx=(format!("{:.1}", x(c.ratio.median))) cy="70" r="5" fill=(colour) {
                title { "ratio " (c.ratio.to_string()) }
            }
            text x="4" y="94" { "A/A " (format!("{:.2}x", c.control.median)) }
            line x1=(format!("{:.1}", x(c.control.low))) y1="90" x2=(format!("{:.1}", x(c.control.high))) y2="90" stroke="#8c959f" stroke-width="2" {}
            circle cx=(format!("{:.1}", x(c.control.median))) cy="90" r="3" fill="#8c959f" {}
            line x1=(format!("{:.1}", x(1.0))) y1="58" x2=(format!("{:.1}", x(1.0))) y2="100" stroke="#d0d7de" stroke-width="1" {}
            line.target x1=(format!("{:.1}", x(c.target))) y1="56" x2=(format!("{:.1}", x(c.target))) y2="102" stroke="#cf222e" stroke-width="2" stroke-dasharray="4 3" {
                title { "target ≥ " (format!("{:.1}x", c.target)) }
            }
            text x=(format!("{:.1}", x(c.target))) y="114" text-anchor="middle" { "target " (format!("{:.1}x", c.target)) }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::RunStarted;
    use crate::perf::{PerfRegression, PlanVerdict, RatioInterval};
    use crate::results::{IterationResult, IterationStatus};

    fn interval(median: f64, low: f64, high: f64) -> RatioInterval {
        RatioInterval {
            median,
            low,
            high,
            confidence: 0.95,
            pairs: 41,
        }
    }

    fn check(claim: &str, ratio: RatioInterval, verdict: PerfVerdict, gated: bool) -> PerfCheck {
        PerfCheck {
            claim: claim.into(),
            statement: format!("{claim} statement"),
            condition: "100k captures, 3 % backlog".into(),
            query: "recovery".into(),
            baseline: "before schema".into(),
            candidate: "ledger schema".into(),
            baseline_median_ms: 54.0,
            candidate_median_ms: 54.0 / ratio.median,
            ratio,
            control: interval(1.0, 0.97, 1.04),
            target: 5.0,
            gated,
            known_to_fail: !gated,
            verdict,
            plan: None,
            regressions: Vec::new(),
        }
    }

    fn run(checks: Vec<PerfCheck>) -> RunResults {
        let mut results = RunResults::new(&RunStarted::example());
        for (i, c) in checks.into_iter().enumerate() {
            let scenario = format!("{}-{i}", c.claim);
            results.push(IterationResult {
                base_seed: 7,
                seed: 1,
                trace_digest: "d".into(),
                duration_ms: 1,
                replay: "r".into(),
                perf: vec![c],
                ..IterationResult::new(&scenario, "perf", 0, IterationStatus::Passed)
            });
        }
        results
    }

    #[test]
    fn no_perf_checks_no_section() {
        assert_eq!(section(&run(Vec::new())).into_string(), "");
    }

    #[test]
    fn the_claims_table_shows_each_verdict() {
        let mut holds = check(
            "index-recovery",
            interval(9.2, 8.6, 11.1),
            PerfVerdict::Holds,
            true,
        );
        holds.plan = Some(PlanVerdict {
            expected_index: "captures_recoverable".into(),
            passed: true,
            plan: vec!["SCAN captures USING INDEX captures_recoverable".into()],
            problems: Vec::new(),
        });
        let mut fails = check(
            "index-unindexed",
            interval(1.0, 0.9, 1.1),
            PerfVerdict::DoesNotHold,
            true,
        );
        fails.regressions = vec![PerfRegression {
            figure: "ratio".into(),
            value: 1.0,
            history_low: 9.0,
            history_high: 11.0,
            runs: 3,
            detail: "ratio 1.00 is below the lowest of 3 earlier runs".into(),
        }];
        let known = check(
            "cache-fresh-connection",
            interval(0.46, 0.43, 0.48),
            PerfVerdict::DoesNotHold,
            false,
        );
        let unclear = check(
            "cache-recovery-reused",
            interval(5.1, 4.0, 6.0),
            PerfVerdict::Inconclusive,
            true,
        );
        let html = section(&run(vec![holds, fails, known, unclear])).into_string();
        assert!(html.contains("Performance claims (4)"));
        assert!(html.contains("9.20x [8.60, 11.10]"));
        assert!(html.contains(">holds<"));
        assert!(html.contains("does not hold<br><strong>gate failed</strong>"));
        assert!(html.contains(
            "does not hold<br><span class=\"muted\">not gated (known to fail here)</span>"
        ));
        assert!(html.contains(">inconclusive<"));
        assert!(html.contains("uses <code>captures_recoverable</code>"));
        assert!(html.contains("regression: ratio 1.00 is below the lowest of 3 earlier runs"));
        assert_eq!(
            html.matches("class=\"target\"").count(),
            4,
            "one target line per chart"
        );
    }

    #[test]
    fn text_from_claims_is_escaped() {
        let mut c = check(
            "index-recovery",
            interval(9.0, 8.0, 10.0),
            PerfVerdict::Holds,
            true,
        );
        c.condition = "<script>alert('x')</script>".into();
        c.baseline = "a \"quoted\" <b>arm</b>".into();
        let html = section(&run(vec![c])).into_string();
        assert!(!html.contains("<script"));
        assert!(!html.contains("<b>arm"));
        assert!(html.contains("&lt;script&gt;alert('x')&lt;/script&gt;"));
    }
}
