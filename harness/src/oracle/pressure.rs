//! Part of `faults_observable`: memory pressure must be counted by the ledger's metrics with
//! the numbers the drive saw ([`PressureSeen`], [`pressure_observable`]).
//!
//! The memory-pressure drive records each time it raised pressure (the trace's `memory pressure
//! on` events) and, after the open and after every operation, reads `PRAGMA cache_size` and
//! `PRAGMA mmap_size` on the ledger's connection. A shrink it sees is the cache going down to
//! the ledger's pressure size ([`ledger::memory::adaptive_cache::FLOOR_KIB`]) while pressure was
//! on; a fallback is `mmap_size` going from above 0 to 0 while pressure was on. The ledger's
//! metrics (`safety.cache_shrinks`, `safety.mmap_fallbacks`) must equal what the drive saw, and
//! when the plan requires a shrink (or a fallback), one must have been seen per pressure event.

use serde::{Deserialize, Serialize};

/// What a memory-pressure drive saw, and the ledger's metrics at its end.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PressureSeen {
    /// Times the drive raised pressure (the trace's pressure events).
    pub pressure_events: u64,
    /// The plan requires the cache to shrink under pressure.
    pub require_shrink: bool,
    /// The plan requires mmap to fall back under pressure.
    pub require_mmap_fallback: bool,
    /// Shrinks the drive saw on the connection.
    pub shrinks_seen: u64,
    /// mmap fallbacks the drive saw on the connection.
    pub fallbacks_seen: u64,
    /// The ledger's metrics: `safety.cache_shrinks`.
    pub shrinks_counted: u64,
    /// The ledger's metrics: `safety.mmap_fallbacks`.
    pub fallbacks_counted: u64,
}

/// Problems: the ledger's counts against what the drive saw (nothing to judge without a
/// memory-pressure drive).
pub fn pressure_observable(seen: Option<&PressureSeen>) -> Vec<String> {
    let Some(seen) = seen else {
        return Vec::new();
    };
    let mut problems = Vec::new();
    for (what, saw, counted) in [
        ("cache shrink(s)", seen.shrinks_seen, seen.shrinks_counted),
        (
            "mmap fallback(s)",
            seen.fallbacks_seen,
            seen.fallbacks_counted,
        ),
    ] {
        if saw != counted {
            problems.push(format!(
                "the drive saw {saw} {what} under memory pressure on the ledger's connection, its metrics count {counted}"
            ));
        }
    }
    for (required, what, saw) in [
        (seen.require_shrink, "cache shrink(s)", seen.shrinks_seen),
        (
            seen.require_mmap_fallback,
            "mmap fallback(s)",
            seen.fallbacks_seen,
        ),
    ] {
        if required && saw != seen.pressure_events {
            problems.push(format!(
                "{} memory pressure event(s), {saw} {what}: one is required per event",
                seen.pressure_events
            ));
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seen(shrinks: (u64, u64), fallbacks: (u64, u64)) -> PressureSeen {
        PressureSeen {
            pressure_events: 1,
            require_shrink: true,
            require_mmap_fallback: true,
            shrinks_seen: shrinks.0,
            shrinks_counted: shrinks.1,
            fallbacks_seen: fallbacks.0,
            fallbacks_counted: fallbacks.1,
        }
    }

    #[test]
    fn counts_equal_to_what_the_drive_saw_pass() {
        assert!(pressure_observable(Some(&seen((1, 1), (1, 1)))).is_empty());
        assert!(pressure_observable(None).is_empty());
    }

    #[test]
    fn a_count_above_or_below_what_was_seen_fails() {
        let over = pressure_observable(Some(&seen((1, 20), (1, 1))));
        assert_eq!(
            over,
            [
                "the drive saw 1 cache shrink(s) under memory pressure on the ledger's connection, its metrics count 20"
            ]
        );
        assert_eq!(pressure_observable(Some(&seen((1, 1), (1, 0)))).len(), 1);
    }

    #[test]
    fn a_pressure_event_without_its_required_response_fails() {
        assert_eq!(pressure_observable(Some(&seen((0, 0), (1, 1)))).len(), 1);
        let optional = PressureSeen {
            require_mmap_fallback: false,
            ..seen((1, 1), (0, 0))
        };
        assert!(pressure_observable(Some(&optional)).is_empty());
    }
}
