//! Inline SVG pictures: the fault timeline of an iteration and trend sparklines.

use maud::{Markup, html};

use crate::results::{TimelineEntry, TimelineKind};

/// Width of a timeline in SVG units.
const TIMELINE_WIDTH: f64 = 1000.0;

/// The colour a timeline step is drawn in.
pub fn colour(kind: TimelineKind) -> &'static str {
    match kind {
        TimelineKind::Acknowledged => "#1a7f37",
        TimelineKind::Failed => "#8c959f",
        TimelineKind::InFlight => "#bf8700",
        TimelineKind::Fault => "#cf222e",
    }
}

/// Operations as dots on one axis (green acknowledged, grey failed, amber in flight) and
/// injected faults as red bars at the operation they hit; hovering shows each step's text.
/// Fault-layer events that belong to no operation (a power cut being armed, crash images made
/// after the cut) are not drawn: they did not happen at any point of the axis.
pub fn timeline(entries: &[TimelineEntry]) -> Markup {
    let last = entries
        .iter()
        .filter_map(|e| e.operation)
        .max()
        .unwrap_or(0)
        .max(1) as f64;
    let x = |op: Option<u64>| 20.0 + (TIMELINE_WIDTH - 40.0) * op.unwrap_or(0) as f64 / last;
    html! {
        svg.timeline viewBox={"0 0 " (TIMELINE_WIDTH) " 56"} width="100%" height="56" role="img" aria-label="fault timeline" {
            line x1="20" y1="28" x2=(TIMELINE_WIDTH - 20.0) y2="28" stroke="#d0d7de" stroke-width="1" {}
            @for entry in entries {
                @if entry.kind == TimelineKind::Fault {
                    @if let Some(op) = entry.operation {
                        rect x=(x(Some(op)) - 2.0) y="8" width="4" height="40" fill=(colour(entry.kind)) {
                            title { "fault injected during op " (op) ": " (entry.text) }
                        }
                    }
                } @else {
                    circle cx=(x(entry.operation)) cy="28" r="4" fill=(colour(entry.kind)) {
                        title { "op " (entry.operation.unwrap_or(0)) ": " (entry.text) " -> " (entry.outcome) }
                    }
                }
            }
            text x="20" y="54" { "op 0" }
            text x=(TIMELINE_WIDTH - 20.0) y="54" text-anchor="end" { "op " (last as u64) }
        }
    }
}

/// A small line chart of `values` (oldest first); the last point is marked.
pub fn sparkline(values: &[f64]) -> Markup {
    const W: f64 = 160.0;
    const H: f64 = 32.0;
    if values.is_empty() {
        return html! { span.muted { "no data" } };
    }
    let (lo, hi) = values
        .iter()
        .fold((f64::MAX, f64::MIN), |(lo, hi), v| (lo.min(*v), hi.max(*v)));
    let span = if hi > lo { hi - lo } else { 1.0 };
    let step = if values.len() > 1 {
        W / (values.len() - 1) as f64
    } else {
        0.0
    };
    let point = |i: usize, v: f64| (i as f64 * step, H - 3.0 - (H - 6.0) * (v - lo) / span);
    let points: Vec<String> = values
        .iter()
        .enumerate()
        .map(|(i, v)| {
            let (px, py) = point(i, *v);
            format!("{px:.1},{py:.1}")
        })
        .collect();
    let (lx, ly) = point(values.len() - 1, values[values.len() - 1]);
    html! {
        svg viewBox={"-3 0 " (W + 6.0) " " (H)} width="166" height="32" role="img" aria-label="trend" {
            polyline points=(points.join(" ")) fill="none" stroke="#0969da" stroke-width="1.5" {}
            circle cx=(format!("{lx:.1}")) cy=(format!("{ly:.1}")) r="2.5" fill="#0969da" {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(operation: Option<u64>, kind: TimelineKind, text: &str) -> TimelineEntry {
        TimelineEntry {
            operation,
            kind,
            text: text.into(),
            outcome: String::new(),
        }
    }

    #[test]
    fn only_injected_faults_are_drawn_as_faults() {
        let svg = timeline(&[
            entry(
                None,
                TimelineKind::Fault,
                "power cut armed before mutation 3",
            ),
            entry(Some(0), TimelineKind::Acknowledged, "stage #0"),
            entry(Some(4), TimelineKind::Fault, "vfs: power cut before write"),
            entry(None, TimelineKind::Fault, "crash image drop"),
        ])
        .into_string();
        assert_eq!(svg.matches("<rect").count(), 1, "{svg}");
        assert!(svg.contains("fault injected during op 4: vfs: power cut before write"));
        assert!(
            !svg.contains("crash image") && !svg.contains("armed"),
            "{svg}"
        );
    }
}
