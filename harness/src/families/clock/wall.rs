//! The wall clock the clock family hands the ledger: [`WallClock`], a step clock the drive can
//! jump backwards or forwards and stall between operations.

use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};

/// A deterministic wall clock: each reading returns the current value and advances it by a
/// fixed step, unless stalled; [`WallClock::jump`] moves it by any amount, backwards included.
#[derive(Debug)]
pub struct WallClock {
    next: AtomicI64,
    step_ms: i64,
    stalled: AtomicBool,
}

impl WallClock {
    /// A clock whose first reading is `start_ms`, advancing `step_ms` per reading.
    pub fn new(start_ms: i64, step_ms: i64) -> WallClock {
        WallClock {
            next: AtomicI64::new(start_ms),
            step_ms,
            stalled: AtomicBool::new(false),
        }
    }

    /// Moves the clock by `ms` (negative: backwards), as an NTP step would.
    pub fn jump(&self, ms: i64) {
        self.next.fetch_add(ms, Ordering::SeqCst);
    }

    /// Stops (or restarts) the clock's advance: while stalled every reading is the same.
    pub fn set_stalled(&self, stalled: bool) {
        self.stalled.store(stalled, Ordering::SeqCst);
    }
}

impl ledger::Clock for WallClock {
    fn now_ms(&self) -> i64 {
        if self.stalled.load(Ordering::SeqCst) {
            self.next.load(Ordering::SeqCst)
        } else {
            self.next.fetch_add(self.step_ms, Ordering::SeqCst)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::WallClock;
    use ledger::Clock;

    #[test]
    fn the_clock_steps_jumps_and_stalls() {
        let clock = WallClock::new(1_000, 10);
        assert_eq!(clock.now_ms(), 1_000);
        assert_eq!(clock.now_ms(), 1_010);
        clock.jump(-500);
        assert_eq!(clock.now_ms(), 520, "stepped back");
        clock.set_stalled(true);
        assert_eq!(clock.now_ms(), 530);
        assert_eq!(clock.now_ms(), 530, "stalled");
        clock.set_stalled(false);
        clock.jump(1_000);
        assert_eq!(clock.now_ms(), 1_530, "stepped forward");
        assert_eq!(clock.now_ms(), 1_540);
    }
}
