//! Time and id sources, injectable for deterministic replay: [`Clock`], [`StepClock`], [`OpenOptions`].
//!
//! The clock is the seam every time the ledger records or compares comes through; the ledger
//! never reads it raw, but through ledger time ([`crate::ledger_time`]): the clock's reading,
//! never before a time already recorded, so a clock stepping backwards never makes the ledger's
//! records go back in time.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// A source of unix-millisecond timestamps.
pub trait Clock: Send + Sync {
    /// The current time in unix milliseconds.
    fn now_ms(&self) -> i64;
}

/// The wall clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> i64 {
        match SystemTime::now().duration_since(UNIX_EPOCH) {
            Ok(elapsed) => i64::try_from(elapsed.as_millis()).unwrap_or(i64::MAX),
            Err(before) => -i64::try_from(before.duration().as_millis()).unwrap_or(i64::MAX),
        }
    }
}

/// A deterministic clock: each [`Clock::now_ms`] call returns the current
/// value, then advances it by `step_ms`.
#[derive(Debug)]
pub struct StepClock {
    next: AtomicI64,
    step_ms: i64,
}

impl StepClock {
    /// A clock whose first reading is `start_ms`.
    pub fn new(start_ms: i64, step_ms: i64) -> StepClock {
        StepClock {
            next: AtomicI64::new(start_ms),
            step_ms,
        }
    }
}

impl Clock for StepClock {
    fn now_ms(&self) -> i64 {
        self.next.fetch_add(self.step_ms, Ordering::SeqCst)
    }
}

/// A clock that stands still until told to move: for tests that advance
/// time by days to make maintenance due. Share it through an `Arc`.
#[derive(Debug)]
pub struct ManualClock {
    now: AtomicI64,
}

impl ManualClock {
    /// A clock reading `start_ms`.
    pub fn new(start_ms: i64) -> ManualClock {
        ManualClock {
            now: AtomicI64::new(start_ms),
        }
    }

    /// Move the clock forward by `ms`.
    pub fn advance(&self, ms: i64) {
        self.now.fetch_add(ms, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now_ms(&self) -> i64 {
        self.now.load(Ordering::SeqCst)
    }
}

/// Runtime choices for [`crate::Ledger::open_with`].
#[derive(Clone)]
pub struct OpenOptions {
    /// Where timestamps come from.
    pub clock: Arc<dyn Clock>,
    /// Seed for id generation: with `Some(seed)`, ids are
    /// `Ulid::from_parts(clock ms, ChaCha8Rng(seed) random u128)`, so the same
    /// seed and call sequence give the same ids. `None` = random ids.
    pub id_seed: Option<u64>,
}

impl Default for OpenOptions {
    fn default() -> OpenOptions {
        OpenOptions {
            clock: Arc::new(SystemClock),
            id_seed: None,
        }
    }
}

impl std::fmt::Debug for OpenOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenOptions")
            .field("clock_now_ms", &"<dyn Clock>")
            .field("id_seed", &self.id_seed)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn step_clock_returns_then_advances() {
        let clock = StepClock::new(1_000, 7);
        assert_eq!(clock.now_ms(), 1_000);
        assert_eq!(clock.now_ms(), 1_007);
        assert_eq!(clock.now_ms(), 1_014);
    }

    #[test]
    fn manual_clock_moves_only_when_advanced() {
        let clock = ManualClock::new(5);
        assert_eq!(clock.now_ms(), 5);
        assert_eq!(clock.now_ms(), 5);
        clock.advance(10);
        assert_eq!(clock.now_ms(), 15);
    }

    #[test]
    fn system_clock_is_after_2020() {
        assert!(SystemClock.now_ms() > 1_577_836_800_000);
    }
}
