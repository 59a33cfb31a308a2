//! `fault_response`: did the ledger respond to the fault as the fault layer requires? Judged by
//! [`problems`] from what a family's drive gathered ([`FaultResponse`]), never from how the
//! fault was made.

use reports::BitFlipCounts;

/// What a drive gathered about the ledger's response to its fault.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FaultResponse {
    /// Bit flips in what reads returned, with page checksums on: flipped whole-page reads
    /// must be caught.
    BitFlips(BitFlipCounts),
    /// Memory pressure raised through the ledger's probe.
    MemoryPressure(PressureResponse),
    /// A backup drill: each step where the drill saw the ledger answer other than the drill
    /// requires (a failed verification not reported, a prune not refused, ...), one line each.
    BackupDrill {
        /// What the drill saw go wrong.
        observed: Vec<String>,
    },
}

/// What the plan asked of the ledger under memory pressure, and what its counters say it did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PressureResponse {
    /// The plan requires the cache to shrink.
    pub require_shrink: bool,
    /// The plan requires mmap to fall back.
    pub require_mmap_fallback: bool,
    /// Times the ledger shrank its cache.
    pub cache_shrinks: u64,
    /// Times the ledger left mmap.
    pub mmap_fallbacks: u64,
}

/// The problems `fault_response` finds; empty when it holds.
pub fn problems(response: &FaultResponse) -> Vec<String> {
    match response {
        FaultResponse::BitFlips(counts) => bit_flips_caught(counts),
        FaultResponse::MemoryPressure(pressure) => pressure_answered(pressure),
        FaultResponse::BackupDrill { observed } => observed.clone(),
    }
}

/// Not one mismatch per flip: after the first, the ledger's integrity check re-reads pages with
/// verification off (to describe the damage), and persistent flips recur there.
fn bit_flips_caught(counts: &BitFlipCounts) -> Vec<String> {
    if counts.in_page_reads == 0 || counts.detected > 0 {
        Vec::new()
    } else {
        vec![format!(
            "page checksums caught none of {} flipped page read(s)",
            counts.in_page_reads
        )]
    }
}

fn pressure_answered(pressure: &PressureResponse) -> Vec<String> {
    let mut problems = Vec::new();
    if pressure.require_shrink && pressure.cache_shrinks == 0 {
        problems.push("the cache never shrank under memory pressure".to_owned());
    }
    if pressure.require_mmap_fallback && pressure.mmap_fallbacks == 0 {
        problems.push("mmap never fell back under memory pressure".to_owned());
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flips(in_page_reads: u64, detected: u64) -> FaultResponse {
        FaultResponse::BitFlips(BitFlipCounts {
            injected: in_page_reads + 1,
            in_page_reads,
            detected,
        })
    }

    #[test]
    fn uncaught_page_flips_fail_and_caught_ones_pass() {
        assert_eq!(problems(&flips(3, 1)), Vec::<String>::new());
        assert_eq!(problems(&flips(0, 0)), Vec::<String>::new());
        let failed = problems(&flips(3, 0));
        assert!(failed[0].contains("none of 3"), "{failed:?}");
    }

    #[test]
    fn pressure_without_the_required_response_fails() {
        let pressure = |cache_shrinks, mmap_fallbacks| {
            FaultResponse::MemoryPressure(PressureResponse {
                require_shrink: true,
                require_mmap_fallback: true,
                cache_shrinks,
                mmap_fallbacks,
            })
        };
        assert!(problems(&pressure(1, 1)).is_empty());
        assert_eq!(problems(&pressure(0, 1)).len(), 1);
        assert_eq!(problems(&pressure(0, 0)).len(), 2);
        let not_required = FaultResponse::MemoryPressure(PressureResponse {
            require_shrink: false,
            require_mmap_fallback: false,
            cache_shrinks: 0,
            mmap_fallbacks: 0,
        });
        assert!(problems(&not_required).is_empty());
    }

    #[test]
    fn a_drill_fails_on_what_it_observed() {
        let observed = vec!["a failed verification was reported as verified".to_owned()];
        assert_eq!(
            problems(&FaultResponse::BackupDrill {
                observed: observed.clone()
            }),
            observed
        );
    }
}
