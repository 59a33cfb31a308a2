//! The bit-flip section: per scenario, the reads the fault VFS flipped, how many of those were
//! whole pages (what page checksums cover), and how many mismatches the ledger's checksums
//! recorded ([`section`]). A scenario whose flipped page reads were none of them caught (the
//! no-checksums control, or checksums that do not verify) is marked.

use std::collections::BTreeMap;

use maud::{Markup, html};

use crate::results::{BitFlipCounts, RunResults};

fn add(total: &mut BitFlipCounts, flips: &BitFlipCounts) {
    total.injected += flips.injected;
    total.in_page_reads += flips.in_page_reads;
    total.detected += flips.detected;
}

fn row(label: &str, flips: &BitFlipCounts) -> Markup {
    let none_caught = flips.in_page_reads > 0 && flips.detected == 0;
    html! {
        tr {
            th { (label) }
            td.num { (flips.injected) }
            td.num { (flips.in_page_reads) }
            td.num.bad[none_caught]
                title="page checksum mismatches the ledger recorded (flipped pages re-read with verification off, to describe damage, are not counted)" {
                (flips.detected)
            }
        }
    }
}

/// Scenarios whose iterations flipped bits, with their totals; nothing when no iteration did.
pub fn section(r: &RunResults) -> Markup {
    let mut scenarios: BTreeMap<&str, BitFlipCounts> = BTreeMap::new();
    for it in &r.iterations {
        if let Some(flips) = &it.bit_flips {
            add(scenarios.entry(it.scenario.as_str()).or_default(), flips);
        }
    }
    html! {
        @if !scenarios.is_empty() {
            section #bit-flips {
                h2 { "Bit flips" }
                table {
                    tr { th { "scenario" } th { "injected" } th { "in page reads" } th { "detected" } }
                    @for (scenario, flips) in &scenarios { (row(scenario, flips)) }
                    @if scenarios.len() > 1 { (row("all", &r.summary.bit_flips)) }
                }
            }
        }
    }
}
