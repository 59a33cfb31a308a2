//! Allocation faults: [`AllocFaults`], SQLite's allocator failing the Nth allocation, heap
//! limits and `RLIMIT_AS` on the drive worker.
//!
//! The allocator wrapper (`alloc_raw.rs`) is installed with `SQLITE_CONFIG_MALLOC` first thing
//! in every worker, before anything initialises SQLite; it counts allocations (malloc and
//! growing realloc) once armed and asks [`AllocTrigger::fails`], a pure function of the
//! count, whether this one fails. The drive worker arms it after the ledger opened, so the
//! count starts at the workload's first operation and the same seed gives the same trace.
//!
//! What the ledger must survive: every operation either succeeds or fails with an error
//! (`SQLITE_NOMEM`, or whatever SQLite made of it); a failed operation leaves no trace (SQLite
//! may roll the transaction back by itself: the ledger notices with `is_autocommit`); nothing
//! acknowledged is lost; the database reopens intact. Under `rlimit-as` a Rust-side allocation
//! failure aborts the worker, which the oracle judges like a `kill -9`.
//!
//! `sweep = true` runs the workload in one worker with N = 1, 2, 3… (transient, then
//! persistent) until a pass completes without the fault firing, checking every pass.

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

/// Which allocations fail, and the limits the drive worker runs under.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct AllocFaults {
    /// Fail the Nth allocation after the ledger opened (1-based); absent = a seeded N in
    /// `1..=max-nth` when `max-nth` is set, else no allocation fault.
    pub nth: Option<u64>,
    /// Upper bound of the seeded N.
    pub max_nth: Option<u64>,
    /// Fail every allocation from the Nth on (persistent), instead of the Nth only.
    #[serde(default)]
    pub persistent: bool,
    /// Every N from 1 on, transient and persistent, in one worker (see the module doc).
    #[serde(default)]
    pub sweep: bool,
    /// Sweep bound: stop after this many N per mode even if the fault still fires.
    #[serde(default = "default_sweep_limit")]
    pub sweep_limit: u64,
    /// `sqlite3_hard_heap_limit64`, bytes, set after the ledger opened.
    pub hard_heap_limit: Option<i64>,
    /// `sqlite3_soft_heap_limit64`, bytes, set after the ledger opened.
    pub soft_heap_limit: Option<i64>,
    /// `RLIMIT_AS` of the drive worker, bytes over its address-space size once the ledger
    /// opened (so the limit bites during the workload, not at start-up).
    pub rlimit_as_headroom: Option<u64>,
}

fn default_sweep_limit() -> u64 {
    20_000
}

/// The pure decision: which allocation counts fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct AllocTrigger {
    /// The first failing allocation (1-based).
    pub nth: u64,
    /// Every later one fails too.
    pub persistent: bool,
}

impl AllocTrigger {
    /// True when allocation number `count` (1-based, counted since arming) fails.
    pub fn fails(self, count: u64) -> bool {
        count == self.nth || (self.persistent && count > self.nth)
    }
}

impl AllocFaults {
    /// The trigger for one iteration, or `None` when the plan fails no allocation.
    pub fn trigger(&self, seed: u64) -> Option<AllocTrigger> {
        let nth = match (self.nth, self.max_nth) {
            (Some(n), _) => n,
            (None, Some(max)) => {
                ChaCha8Rng::seed_from_u64(seed ^ 0x0061_6c6c_6f63).random_range(1..=max.max(1))
            }
            (None, None) => return None,
        };
        Some(AllocTrigger {
            nth,
            persistent: self.persistent,
        })
    }

    /// Checks what serde cannot.
    ///
    /// # Errors
    /// A message naming the bad field.
    pub fn validate(&self) -> Result<(), String> {
        if self.nth == Some(0) || self.max_nth == Some(0) {
            return Err("alloc `nth` and `max-nth` count from 1".into());
        }
        if self.sweep && (self.nth.is_some() || self.max_nth.is_some()) {
            return Err("alloc `sweep` chooses every N itself: drop `nth`/`max-nth`".into());
        }
        if self.sweep && self.sweep_limit == 0 {
            return Err("alloc `sweep-limit` must be at least 1".into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transient_fails_once_persistent_from_then_on() {
        let once = AllocTrigger {
            nth: 3,
            persistent: false,
        };
        let from = AllocTrigger {
            nth: 3,
            persistent: true,
        };
        let fired = |t: AllocTrigger| (1..=6).filter(|c| t.fails(*c)).collect::<Vec<_>>();
        assert_eq!(fired(once), vec![3]);
        assert_eq!(fired(from), vec![3, 4, 5, 6]);
    }

    #[test]
    fn seeded_nth_is_in_range_and_replays() {
        let plan = AllocFaults {
            max_nth: Some(50),
            ..AllocFaults::default()
        };
        for seed in 0..100 {
            let t = plan.trigger(seed).expect("a trigger");
            assert!((1..=50).contains(&t.nth));
            assert_eq!(plan.trigger(seed), Some(t));
        }
        assert_eq!(AllocFaults::default().trigger(1), None);
    }

    #[test]
    fn validation_names_the_field() {
        let bad = AllocFaults {
            sweep: true,
            nth: Some(2),
            ..AllocFaults::default()
        };
        assert!(bad.validate().unwrap_err().contains("sweep"));
    }
}
