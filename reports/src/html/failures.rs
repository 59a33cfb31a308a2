//! The "Failures" section, triage first: one block per cause ([`crate::triage`]) with a count,
//! one line of why, the command that reproduces it (the minimal case's first, when shrinking
//! found one) and where its files are; each iteration's full detail is collapsed below.

use maud::{Markup, html};

use super::svg;
use crate::RunResults;
use crate::results::{IterationResult, IterationStatus, ShrunkCase, TimelineKind};
use crate::triage::{Cause, FailureGroup, group_failures};

/// Most groups shown; the rest are counted.
const MAX_GROUPS_SHOWN: usize = 30;

/// Most iterations detailed per group; the rest are counted.
const MAX_ITERATIONS_DETAILED: usize = 10;

/// The section.
pub fn section(r: &RunResults) -> Markup {
    let groups = group_failures(r);
    let failing: usize = groups.iter().map(|g| g.iterations.len()).sum();
    html! {
        section #failures {
            @if groups.is_empty() {
                h2 { "Failures" }
                p { "Every iteration passed every check." }
            } @else {
                h2 {
                    "Failures: " (plural(failing, "iteration", "iterations")) ", "
                    (plural(groups.len(), "cause", "causes"))
                }
                p.muted {
                    "One block per cause (scenario and first failing check). Each failing "
                    "iteration's files are kept next to this report in "
                    code { "failures/<scenario>-<iteration>/" } "."
                }
                @for group in groups.iter().take(MAX_GROUPS_SHOWN) {
                    (group_block(group))
                }
                @if groups.len() > MAX_GROUPS_SHOWN {
                    p.muted { "and " (groups.len() - MAX_GROUPS_SHOWN) " more causes; every iteration is in results.json" }
                }
            }
        }
    }
}

/// `1 iteration`, `2 iterations`.
pub fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

fn group_block(g: &FailureGroup<'_>) -> Markup {
    let first = g.representative();
    let indices: Vec<String> = g
        .iterations
        .iter()
        .map(|i| format!("#{}", i.iteration))
        .collect();
    let also = g.also_failed();
    html! {
        article.failure.error[g.cause == Cause::NotJudged] id={"failure-" (g.scenario) "-" (first.iteration)} {
            h3 {
                (g.scenario) " · " (g.cause) " "
                span.muted { "(" (plural(g.iterations.len(), "iteration", "iterations")) ": " (indices.join(", ")) "; " (g.family) ")" }
            }
            p.why { strong { "Why: " } (g.why()) }
            @if !also.is_empty() {
                p.muted { "Also failed in these iterations: " (also.join(", ")) " (details below)." }
            }
            @if let Some(shrunk) = &first.shrunk {
                (minimal_case(shrunk))
            }
            p { "Reproduce iteration #" (first.iteration) ":" }
            pre { code { (first.replay) } }
            @if let Some(files) = &first.files {
                p.muted { "Its files: " code { (files) } }
            }
            details {
                summary { "Details of " (plural(g.iterations.len(), "iteration", "iterations")) ": every failing check, timeline, trace" }
                @for it in g.iterations.iter().take(MAX_ITERATIONS_DETAILED) {
                    (iteration_detail(it))
                }
                @if g.iterations.len() > MAX_ITERATIONS_DETAILED {
                    p.muted { "and " (g.iterations.len() - MAX_ITERATIONS_DETAILED) " more; every one is in results.json" }
                }
            }
        }
    }
}

/// The minimal case: its size, how to replay it, where its files are.
fn minimal_case(s: &ShrunkCase) -> Markup {
    html! {
        div.shrunk {
            p {
                strong { "Minimal case: a plan of " (plural(s.operations as usize, "operation", "operations")) }
                " (shrunk from the original plan of " (s.operations_before) " in " (plural(s.tries as usize, "try", "tries"))
                @if s.budget_spent { ", budget spent" } ")"
                " · fails " (s.failure.name) " · trace digest " code { (s.trace_digest) }
            }
            @match &s.replay {
                Some(replay) => {
                    p { "Reproduce the minimal case:" }
                    pre { code { (replay) } }
                }
                None => p.muted { "No capsule was written for it (pass --capsules DIR)." },
            }
            @if let Some(capsule) = &s.capsule {
                p.muted { "Capsule: " code { (capsule) } @if let Some(files) = &s.files { " · its files: " code { (files) } } }
            }
        }
    }
}

/// Everything about one iteration: identity, counts, failing checks (identical details said
/// once), error, timeline and trace.
fn iteration_detail(it: &IterationResult) -> Markup {
    let mut by_detail: Vec<(Vec<&str>, &str)> = Vec::new();
    for c in it.checks.iter().filter(|c| !c.passed) {
        match by_detail.iter_mut().find(|(_, d)| *d == c.detail) {
            Some((names, _)) => names.push(&c.name),
            None => by_detail.push((vec![&c.name], &c.detail)),
        }
    }
    html! {
        div.iteration {
            h4 {
                (it.scenario) " #" (it.iteration) " "
                span.muted { @if it.status == IterationStatus::Error { "(could not be judged)" } @else { "(check failed)" } }
            }
            p {
                "seed " code { (it.seed) } " · trace digest " code { (it.trace_digest) } " · "
                (plural(it.operations as usize, "operation", "operations")) " ran"
                @if let Some(s) = &it.shrunk { " (of a plan of " (s.operations_before) ")" }
                ", " (it.acknowledged) " acknowledged, " (it.lost_acknowledged) " lost"
            }
            pre { code { (it.replay) } }
            @if let Some(files) = &it.files {
                p.muted { "Files: " code { (files) } }
            }
            @for (names, detail) in &by_detail {
                p { strong { (names.join(", ")) } }
                pre { (detail) }
            }
            @if let Some(error) = &it.error {
                p { strong { "error" } }
                pre { (error) }
            }
            @if !it.timeline.is_empty() {
                (timeline(it))
            }
        }
    }
}

fn timeline(it: &IterationResult) -> Markup {
    let events: Vec<&str> = it
        .timeline
        .iter()
        .filter(|e| e.kind == TimelineKind::Fault && e.operation.is_none())
        .map(|e| e.text.as_str())
        .collect();
    html! {
        p.legend {
            @for (kind, label) in [(TimelineKind::Acknowledged, "acknowledged"), (TimelineKind::Failed, "failed"), (TimelineKind::InFlight, "in flight"), (TimelineKind::Fault, "injected fault")] {
                span { span.dot style={"background:" (svg::colour(kind))} {} (label) }
            }
        }
        (svg::timeline(&it.timeline))
        @if !events.is_empty() {
            div.events {
                p.muted { "Fault-layer events at no operation (arming, crash images; not drawn on the axis):" }
                ul { @for e in &events { li { (e) } } }
            }
        }
        details {
            summary { "trace (" (it.timeline.len()) " steps)" }
            pre {
                @for e in &it.timeline {
                    @match (e.kind, e.operation) {
                        (TimelineKind::Fault, Some(op)) => { (format!("{op:>4}  !! ")) (e.text) "\n" }
                        (TimelineKind::Fault, None) => { "      ·· " (e.text) "\n" }
                        (_, op) => { (format!("{:>4}  ", op.unwrap_or(0))) (e.text) " -> " (e.outcome) "\n" }
                    }
                }
            }
        }
    }
}
