//! The report's sections, each a function of the results: summary, matrix, failures, trends,
//! scenarios.

use std::collections::{BTreeMap, BTreeSet};

use maud::{Markup, html};

use super::svg;
use crate::history::HistoryEntry;
use crate::results::{IterationResult, IterationStatus, RunResults, TimelineKind};

/// Most failures shown in full; the rest are listed by name.
const MAX_FAILURES_SHOWN: usize = 50;

/// `PASS`, `FAIL` or `INTERRUPTED`.
pub fn verdict_text(results: &RunResults) -> &'static str {
    if !results.summary.all_passed() {
        "FAIL"
    } else if results.interrupted || !results.complete {
        "INTERRUPTED"
    } else {
        "PASS"
    }
}

fn stat(label: &str, value: impl std::fmt::Display, bad: bool) -> Markup {
    html! {
        div.stat.bad[bad] {
            div.value { (value) }
            div.label { (label) }
        }
    }
}

/// Verdict, totals and the run's identity (revision, seed, command).
pub fn summary(r: &RunResults) -> Markup {
    let s = &r.summary;
    let verdict = verdict_text(r);
    let skipped: u64 = r.skipped.iter().map(|k| k.count).sum();
    html! {
        header {
            h1 { "Resilience report " span.verdict.pass[verdict == "PASS"].fail[verdict == "FAIL"].interrupted[verdict == "INTERRUPTED"] { (verdict) } }
            p.muted {
                "revision " code { (r.revision) } " · base seed " code { (r.base_seed) }
                @if let Some(shard) = r.shard { " · shard " (shard) }
                @if let Some(filter) = &r.filter { " · filter " code { (filter) } }
                " · harness " (r.harness_version)
            }
        }
        section #summary {
            h2 { "Summary" }
            div.stats {
                (stat("iterations", s.iterations, false))
                (stat("passed", s.passed, false))
                (stat("failed", s.failed, s.failed > 0))
                (stat("errors", s.errors, s.errors > 0))
                (stat("lost acknowledged writes", s.lost_acknowledged, s.lost_acknowledged > 0))
                (stat("lost where durability is not promised", s.lost_where_not_promised, false))
                (stat("faults injected", s.faults_injected, false))
                (stat("operations", s.operations, false))
                (stat("acknowledged", s.acknowledged, false))
                (stat("wall time", format!("{:.1} s", r.wall_time_ms as f64 / 1000.0), false))
                (stat("skipped", skipped, false))
            }
            p.muted { "command: " code { (r.command.join(" ")) } }
        }
    }
}

/// Families × checks, each cell counting iterations passed and failed.
pub fn matrix(r: &RunResults) -> Markup {
    let checks: BTreeSet<&str> = r
        .iterations
        .iter()
        .flat_map(|i| i.checks.iter().map(|c| c.name.as_str()))
        .collect();
    // (held, failed, failed as the scenario expected: a capsule proving a mutant is still caught)
    let mut cells: BTreeMap<(&str, &str), (u64, u64, u64)> = BTreeMap::new();
    let mut errors: BTreeMap<&str, u64> = BTreeMap::new();
    let mut lost: BTreeMap<&str, u64> = BTreeMap::new();
    for it in &r.iterations {
        for c in &it.checks {
            let cell = cells
                .entry((it.family.as_str(), c.name.as_str()))
                .or_default();
            match (c.passed, it.status) {
                (true, _) => cell.0 += 1,
                (false, IterationStatus::Passed) => cell.2 += 1,
                (false, _) => cell.1 += 1,
            }
        }
        if it.status == IterationStatus::Error {
            *errors.entry(it.family.as_str()).or_default() += 1;
        }
        *lost.entry(it.family.as_str()).or_default() += it.lost_acknowledged;
    }
    let families: BTreeSet<&str> = r.iterations.iter().map(|i| i.family.as_str()).collect();
    html! {
        section #matrix .scroll {
            h2 { "Fault families × checks" }
            table {
                tr {
                    th { "family" }
                    @for c in &checks { th { (c) } }
                    th { "errors" }
                    th { "lost acknowledged" }
                }
                @for f in &families {
                    tr {
                        th { (f) }
                        @for c in &checks {
                            @match cells.get(&(*f, *c)) {
                                None => td.none { "–" },
                                Some((pass, 0, 0)) => td.ok.num { (pass) " ✓" },
                                Some((pass, 0, expected)) => td.ok.num title="failed as the scenario expects (expected-failures)" {
                                    (pass) " ✓ · " (expected) " expected ✗"
                                },
                                Some((pass, fail, _)) => td.bad.num { (fail) " ✗ / " (pass) " ✓" },
                            }
                        }
                        @let e = errors.get(f).copied().unwrap_or(0);
                        td.num.bad[e > 0].ok[e == 0] { (e) }
                        @let l = lost.get(f).copied().unwrap_or(0);
                        td.num.bad[l > 0].ok[l == 0] { (l) }
                    }
                }
            }
        }
    }
}

/// Each iteration that did not pass: how to replay it, what was found, its fault timeline.
pub fn failures(r: &RunResults) -> Markup {
    let bad = r.not_passed();
    html! {
        section #failures {
            h2 { "Failures (" (bad.len()) ")" }
            @if bad.is_empty() {
                p { "Every iteration passed every check." }
            }
            @for it in bad.iter().take(MAX_FAILURES_SHOWN) {
                (failure(it))
            }
            @if bad.len() > MAX_FAILURES_SHOWN {
                p.muted { "and " (bad.len() - MAX_FAILURES_SHOWN) " more; every one is in results.json" }
            }
        }
    }
}

fn failure(it: &IterationResult) -> Markup {
    let is_error = it.status == IterationStatus::Error;
    html! {
        article.failure.error[is_error] id={"failure-" (it.scenario) "-" (it.iteration)} {
            h3 { (it.scenario) " #" (it.iteration) " " span.muted { "(" (it.family) ", " @if is_error { "could not be judged" } @else { "check failed" } ")" } }
            @if let Some(shrunk) = &it.shrunk {
                (super::selftest::shrunk_case(shrunk))
                p.muted { "The original case:" }
            }
            p {
                "seed " code { (it.seed) } " · trace digest " code { (it.trace_digest) }
                " · " (it.operations) " operations, " (it.acknowledged) " acknowledged, "
                (it.lost_acknowledged) " lost"
            }
            p { "Reproduce:" }
            pre { code { (it.replay) } }
            @for c in it.checks.iter().filter(|c| !c.passed) {
                p { strong { (c.name) } }
                pre { (c.detail) }
            }
            @if let Some(error) = &it.error {
                p { strong { "error" } }
                pre { (error) }
            }
            @if !it.timeline.is_empty() {
                p.legend {
                    @for (kind, label) in [(TimelineKind::Acknowledged, "acknowledged"), (TimelineKind::Failed, "failed"), (TimelineKind::InFlight, "in flight"), (TimelineKind::Fault, "fault")] {
                        span { span.dot style={"background:" (svg::colour(kind))} {} (label) }
                    }
                }
                (svg::timeline(&it.timeline))
                details {
                    summary { "trace (" (it.timeline.len()) " steps)" }
                    pre {
                        @for e in &it.timeline {
                            @if e.kind == TimelineKind::Fault {
                                "      !! " (e.text) "\n"
                            } @else {
                                (format!("{:>4}  ", e.operation.unwrap_or(0))) (e.text) " -> " (e.outcome) "\n"
                            }
                        }
                    }
                }
            }
        }
    }
}

/// Sparklines over earlier runs plus this one.
pub fn trends(r: &RunResults, history: &[HistoryEntry]) -> Markup {
    let mut runs: Vec<HistoryEntry> = history.to_vec();
    runs.push(HistoryEntry::from_results(r));
    let series = |f: &dyn Fn(&HistoryEntry) -> f64| -> Vec<f64> { runs.iter().map(f).collect() };
    let figure_names: BTreeSet<&String> = runs.iter().flat_map(|h| h.figures.keys()).collect();
    html! {
        section #trends {
            h2 { "Trends (" (runs.len()) " runs)" }
            @if runs.len() < 2 {
                p.muted { "No earlier runs in the history yet; pass --history DIR to keep one." }
            }
            table {
                tr { th { "figure" } th { "trend" } th { "this run" } }
                tr { td { "pass rate" } td { (svg::sparkline(&series(&|h| h.pass_rate()))) } td.num { (format!("{:.1} %", 100.0 * runs[runs.len() - 1].pass_rate())) } }
                tr { td { "lost acknowledged writes" } td { (svg::sparkline(&series(&|h| h.lost_acknowledged as f64))) } td.num { (r.summary.lost_acknowledged) } }
                tr { td { "wall time (s)" } td { (svg::sparkline(&series(&|h| h.wall_time_ms as f64 / 1000.0))) } td.num { (format!("{:.1}", r.wall_time_ms as f64 / 1000.0)) } }
                @for name in figure_names {
                    @let values: Vec<f64> = runs.iter().filter_map(|h| h.figures.get(name).copied()).collect();
                    tr { td { (name) } td { (svg::sparkline(&values)) } td.num { @if let Some(v) = values.last() { (format!("{v:.3}")) } } }
                }
            }
        }
    }
}

/// The scenarios of the run with what each is about.
pub fn scenarios(r: &RunResults) -> Markup {
    html! {
        section #scenarios {
            h2 { "Scenarios" }
            table {
                tr { th { "scenario" } th { "family" } th { "tags" } th { "iterations" } th { "description" } }
                @for s in &r.scenarios {
                    tr {
                        td { code { (s.name) } }
                        td { (s.family) }
                        td { (s.tags.join(", ")) }
                        td.num { (s.planned_iterations) }
                        td { (s.description) }
                    }
                }
            }
        }
    }
}
