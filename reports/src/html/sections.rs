//! The report's sections, each a function of the results: summary, matrix, trends, scenarios
//! (failures are in `failures.rs`).

use std::collections::{BTreeMap, BTreeSet};

use maud::{Markup, PreEscaped, html};

use super::svg;
use crate::history::HistoryEntry;
use crate::results::{DURABILITY_CHECK, DurabilityPromise, IterationStatus, RunResults};
use crate::run_settings::special_settings;

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

/// Verdict, totals, the run's identity (revision, seed, command) and what made it special.
pub fn summary(r: &RunResults) -> Markup {
    let s = &r.summary;
    let verdict = verdict_text(r);
    let skipped: u64 = r.skipped.iter().map(|k| k.count).sum();
    let total_ms = r.wall_time_ms + r.shrink_wall_time_ms;
    html! {
        header {
            h1 { "Resilience report " span.verdict.pass[verdict == "PASS"].fail[verdict == "FAIL"].interrupted[verdict == "INTERRUPTED"] { (verdict) } }
            p.muted {
                "revision " code { (r.revision) } " · base seed " code { (r.base_seed) }
                " · harness " (r.harness_version)
            }
            (settings(r))
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
                (stat(&wall_time_label(r), seconds(total_ms), false))
                (stat("skipped", skipped, false))
            }
            (not_promised(r))
            p.muted { "command: " code { (r.command.join(" ")) } }
        }
    }
}

fn seconds(ms: u64) -> String {
    format!("{:.1} s", ms as f64 / 1000.0)
}

/// What the wall time counts: the iterations, and shrinking when there was any; start-up
/// (building, loading scenarios) is never in it.
fn wall_time_label(r: &RunResults) -> String {
    if r.shrink_wall_time_ms > 0 {
        format!(
            "wall time: iterations {} + shrinking {}",
            seconds(r.wall_time_ms),
            seconds(r.shrink_wall_time_ms)
        )
    } else {
        "wall time of the iterations (start-up not counted)".to_owned()
    }
}

/// The header line naming what differs from a default run: planted bug, `--set`, filter,
/// shard, iteration count, time budget, skipped iterations.
fn settings(r: &RunResults) -> Markup {
    let special = special_settings(&r.command);
    let skipped: Vec<String> = r
        .skipped
        .iter()
        .map(|k| format!("{} of {} ({})", k.count, k.scenario, k.reason))
        .collect();
    let nothing =
        special.is_empty() && r.filter.is_none() && r.shard.is_none() && skipped.is_empty();
    html! {
        p.settings {
            @if nothing {
                "Settings: the default run (every scenario not tagged slow or expected-fail, each with its own iteration count, no override)"
            } @else {
                strong { "This run: " }
                @for s in &special {
                    span.setting.loud[s.loud] { (s.label) " " code { (s.value) } }
                }
                @if let Some(filter) = &r.filter { span.setting { "filter " code { (filter) } } }
                @if let Some(shard) = r.shard { span.setting { "shard " code { (shard) } } }
                @if !skipped.is_empty() {
                    span.setting.loud { "skipped iterations: " (skipped.join(", ")) }
                }
            }
        }
    }
}

/// Which scenarios lost acknowledged writes without promising durability, and why that is
/// not a failure; nothing when none did.
fn not_promised(r: &RunResults) -> Markup {
    let mut lost: BTreeMap<&str, (u64, DurabilityPromise)> = BTreeMap::new();
    for it in &r.iterations {
        let promise = it.durability_promise();
        if promise != DurabilityPromise::Promised && it.lost_acknowledged > 0 {
            let entry = lost.entry(it.scenario.as_str()).or_insert((0, promise));
            entry.0 += it.lost_acknowledged;
        }
    }
    let description = |name: &str| {
        r.scenarios
            .iter()
            .find(|s| s.name == name)
            .map_or(String::new(), |s| loss_reason(&s.description))
    };
    html! {
        @if !lost.is_empty() {
            div #not-promised {
                p {
                    (r.summary.lost_where_not_promised) " acknowledged writes were lost where durability is not promised. "
                    "They are measured, not failures (the matrix's lost acknowledged row leaves them out), in these scenarios:"
                }
                ul {
                    @for (name, (count, promise)) in &lost {
                        li {
                            code { (name) } ": " (count) " lost; "
                            @match promise {
                                DurabilityPromise::LossExpected => {
                                    "a regression capsule of a planted bug: it expects " code { (DURABILITY_CHECK) } " to fail, and it did"
                                }
                                _ => {
                                    "it does not check " code { (DURABILITY_CHECK) } "; its description says why: " (description(name))
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// Words that mark the sentence of a description explaining a loss.
const LOSS_WORDS: [&str; 4] = [DURABILITY_CHECK, "durab", "lost", "lose"];

/// Longest explanation quoted from a description, in characters, before `…`.
const REASON_MAX_CHARS: usize = 320;

/// The sentence of a scenario's description that explains why acknowledged writes may be lost
/// there (the first naming durability or a loss), else its first sentence; at most 320
/// characters.
fn loss_reason(description: &str) -> String {
    let sentences: Vec<&str> = description
        .split_inclusive(". ")
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect();
    let chosen = sentences
        .iter()
        .find(|s| LOSS_WORDS.iter().any(|w| s.contains(w)))
        .or(sentences.first())
        .copied()
        .unwrap_or("");
    if chosen.chars().count() > REASON_MAX_CHARS {
        chosen
            .chars()
            .take(REASON_MAX_CHARS - 1)
            .collect::<String>()
            + "…"
    } else {
        chosen.to_owned()
    }
}

/// Families × checks, each cell counting iterations passed and failed. The longer of the two
/// lists runs down the rows, so the table fits the page: it is laid out at the page's width
/// and its headings wrap at `_` and `-` (full names on hover); it never scrolls sideways.
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
        if it.durability_promise() == DurabilityPromise::Promised {
            *lost.entry(it.family.as_str()).or_default() += it.lost_acknowledged;
        }
    }
    let families: BTreeSet<&str> = r.iterations.iter().map(|i| i.family.as_str()).collect();
    let cell = |family: &str, check: &str| -> Markup {
        html! {
            @match cells.get(&(family, check)) {
                None => td.none { "–" },
                Some((pass, 0, 0)) => td.ok.num { (pass) " ✓" },
                Some((pass, 0, expected)) => td.ok.num title="failed as the scenario expects (expected-failures)" {
                    (pass) " ✓ · " (expected) " expected ✗"
                },
                Some((pass, fail, _)) => td.bad.num { (fail) " ✗ / " (pass) " ✓" },
            }
        }
    };
    let count = |map: &BTreeMap<&str, u64>, family: &str| -> Markup {
        let n = map.get(family).copied().unwrap_or(0);
        html! { td.num.bad[n > 0].ok[n == 0] { (n) } }
    };
    let families_across = families.len() <= checks.len();
    html! {
        section #matrix {
            h2 { "Fault families × checks" }
            table.matrix {
                @if families_across {
                    tr {
                        th.corner { "check \\ family" }
                        @for f in &families { th title=(f) { (wrappable(f)) } }
                    }
                    @for c in &checks {
                        tr {
                            th title=(c) { (wrappable(c)) }
                            @for f in &families { (cell(f, c)) }
                        }
                    }
                    tr { th { "errors" } @for f in &families { (count(&errors, f)) } }
                    tr { th { "lost acknowledged" } @for f in &families { (count(&lost, f)) } }
                } @else {
                    tr {
                        th.corner { "family \\ check" }
                        @for c in &checks { th title=(c) { (wrappable(c)) } }
                        th { "errors" }
                        th { "lost acknowledged" }
                    }
                    @for f in &families {
                        tr {
                            th title=(f) { (wrappable(f)) }
                            @for c in &checks { (cell(f, c)) }
                            (count(&errors, f))
                            (count(&lost, f))
                        }
                    }
                }
            }
        }
    }
}

/// A name with a line-break opportunity after each `_` and `-`.
fn wrappable(name: &str) -> Markup {
    let mut html = String::new();
    for ch in name.chars() {
        html.push_str(&maud::html! { (ch) }.into_string());
        if ch == '_' || ch == '-' {
            html.push_str("<wbr>");
        }
    }
    PreEscaped(html)
}

/// Sparklines over earlier runs plus this one.
pub fn trends(r: &RunResults, history: &[HistoryEntry]) -> Markup {
    let mut runs: Vec<HistoryEntry> = history.to_vec();
    runs.push(HistoryEntry::from_results(r));
    let series = |f: &dyn Fn(&HistoryEntry) -> f64| -> Vec<f64> { runs.iter().map(f).collect() };
    let figure_names: BTreeSet<&String> = runs.iter().flat_map(|h| h.figures.keys()).collect();
    html! {
        section #trends {
            h2 { "Trends" }
            @if runs.len() < 2 {
                p.muted { "Only this run so far: no earlier run in the history; pass --history DIR to keep one and see trends." }
            } @else {
                p.muted { "Over the last " (runs.len()) " runs, this one included." }
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
