//! The self-test part of `report.html`: the kill matrix ([`kill_matrix`]).

use maud::{Markup, html};

use crate::selftest::{KillMatrix, KillVerdict};

/// Mutant × family, each cell caught (with the first failing check) or not, and the real
/// ledger's false alarms.
pub fn kill_matrix(m: &KillMatrix) -> Markup {
    html! {
        section #selftest {
            h2 { "Self-test: planted bugs × families" }
            table {
                tr {
                    th { "mutant" } th { "family" } th { "verdict" }
                    th { "first failing check" } th { "failed / iterations" } th { "replay" }
                }
                @for r in &m.rows {
                    tr {
                        th title=(r.description) { (r.mutant) }
                        td { (r.family) }
                        @match r.verdict {
                            KillVerdict::Caught => td.ok { (r.verdict.label()) },
                            KillVerdict::Missed => td.bad { (r.verdict.label()) },
                            _ => td.none { (r.verdict.label()) },
                        }
                        td { (r.first_failing_check.as_deref().unwrap_or("")) }
                        td.num { (r.failed) " / " (r.iterations) }
                        td { code { (r.replay.as_deref().unwrap_or("")) } }
                    }
                }
            }
            @if m.false_alarms.is_empty() {
                p.ok { "Real ledger: no false alarm in " (m.real_iterations) " iterations." }
            } @else {
                p.bad {
                    "Real ledger: " (m.false_alarms.len()) " false alarm(s): "
                    (m.false_alarms.join(", "))
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::selftest::KillRow;

    #[test]
    fn the_matrix_shows_every_verdict_and_escapes_text() {
        let row = |mutant: &str, verdict| KillRow {
            mutant: mutant.into(),
            description: "<bug>".into(),
            family: "baseline".into(),
            verdict,
            first_failing_check: Some("recovery_complete".into()),
            iterations: 2,
            failed: 1,
            replay: None,
        };
        let m = KillMatrix {
            rows: vec![
                row("a", KillVerdict::Caught),
                row("b", KillVerdict::Missed),
                row("c", KillVerdict::NoFamilyYet),
            ],
            false_alarms: vec![],
            real_iterations: 4,
        };
        let page = kill_matrix(&m).into_string();
        assert!(page.contains("caught") && page.contains("MISSED"));
        assert!(page.contains("no family yet"));
        assert!(page.contains("&lt;bug&gt;") && !page.contains("<bug>"));
        assert!(page.contains("no false alarm in 4 iterations"));
    }
}
