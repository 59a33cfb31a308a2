//! The bit-flip section: per family, the bits the fault VFS flipped on read, how many of those
//! reads were whole pages (what page checksums cover), and how many mismatches the ledger's
//! checksums recorded ([`section`]).

use std::collections::BTreeMap;

use maud::{Markup, html};

use crate::results::{BitFlipCounts, RunResults};

fn add(total: &mut BitFlipCounts, flips: &BitFlipCounts) {
    total.injected += flips.injected;
    total.in_page_reads += flips.in_page_reads;
    total.detected += flips.detected;
}

fn row(label: &str, flips: &BitFlipCounts) -> Markup {
    let missed = flips.detected < flips.in_page_reads;
    html! {
        tr {
            th { (label) }
            td.num { (flips.injected) }
            td.num { (flips.in_page_reads) }
            td.num.bad[missed].ok[!missed]
                title="page checksum mismatches the ledger recorded; fewer than the flipped page reads means some went unnoticed" {
                (flips.detected)
            }
        }
    }
}

/// Families whose iterations flipped bits, with their totals; nothing when no iteration did.
pub fn section(r: &RunResults) -> Markup {
    let mut families: BTreeMap<&str, BitFlipCounts> = BTreeMap::new();
    for it in &r.iterations {
        if let Some(flips) = &it.bit_flips {
            add(families.entry(it.family.as_str()).or_default(), flips);
        }
    }
    html! {
        @if !families.is_empty() {
            section #bit-flips {
                h2 { "Bit flips" }
                table {
                    tr { th { "family" } th { "injected" } th { "in page reads" } th { "detected" } }
                    @for (family, flips) in &families { (row(family, flips)) }
                    @if families.len() > 1 { (row("all", &r.summary.bit_flips)) }
                }
            }
        }
    }
}
