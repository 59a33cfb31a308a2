//! The exploration section of an explored run ([`section`]): iterations of the default set
//! and on fresh seeds, what the budget skipped, coverage keys, and the failure signatures,
//! new ones first, each with its replay command and capsule candidate.

use maud::{Markup, html};

use crate::results::RunResults;

/// Nothing for a run that was not explored.
pub fn section(r: &RunResults) -> Markup {
    let Some(e) = &r.explore else {
        return html! {};
    };
    let mut signatures: Vec<_> = e.signatures.iter().collect();
    signatures.sort_by_key(|s| s.known);
    html! {
        section #explore {
            h2 { "Exploration" }
            p {
                (e.default_iterations) " default-set and " (e.fresh_iterations)
                " fresh-seed iterations over " (e.rounds) " round(s); "
                (e.skipped_by_budget) " skipped by the budget; "
                (e.coverage_keys) " coverage keys. Failure signatures: "
                strong { (e.new_signatures()) " new" } ", " (e.known_signatures()) " known."
            }
            @if !signatures.is_empty() {
                table {
                    tr { th { "signature" } th { "" } th { "scenario" } th { "check" } th { "iterations" } th { "shape" } th { "replay" } }
                    @for s in signatures {
                        tr {
                            td { code { (s.id) } }
                            td.bad[!s.known] { @if s.known { "known" } @else { "new" } }
                            td { (s.scenario) }
                            td { (s.check) }
                            td.num { (s.count) }
                            td { (s.shape) }
                            td { code { (s.candidate_replay.as_deref().unwrap_or(&s.replay)) } }
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
    use crate::explore::ExploreSummary;

    #[test]
    fn an_explored_run_says_how_many_signatures_are_new_and_known() {
        let mut r = RunResults::new(&RunStarted::example());
        assert!(section(&r).into_string().is_empty());
        r.explore = Some(ExploreSummary {
            fresh_iterations: 7,
            ..ExploreSummary::default()
        });
        let text = section(&r).into_string();
        assert!(text.contains("7 fresh-seed iterations"), "{text}");
        assert!(text.contains("<strong>0 new</strong>, 0 known"), "{text}");
    }
}
