//! The `process` family: `kill -9` ([`ProcessKill`]) or `SIGSTOP` ([`ProcessStop`]) of the
//! writing worker, delivered by the supervisor a seeded delay after a seeded operation began,
//! or while the worker holds at a fail point (`hold-at`). Nothing acknowledged may be lost and
//! nothing partial may be visible after reopening; a stopped writer resumed later goes on as if
//! nothing happened, one never resumed is ended by the supervisor's timeout.

mod hold;
pub mod plan;

use std::time::Duration;

use plan::{ProcessKill, ProcessStop, validate_hold};

use crate::engine::{Family, IterationJob, SignalPlan, Sink, WorkerError, run_plain};
use crate::scenario::Scenario;

/// Implements [`Family`] for a process fault: both kinds validate their hold, are timing
/// dependent, have the supervisor signal the worker, and hold (for `$hold`) before the plain
/// drive.
macro_rules! process_family {
    ($plan:ty, $hold:expr) => {
        impl Family for $plan {
            fn name(&self) -> &'static str {
                "process"
            }

            fn validate(&self, _scenario: &Scenario) -> Result<(), String> {
                validate_hold(self.hold_at.as_deref(), self.hold_at_hit)
            }

            fn is_deterministic(&self) -> bool {
                false
            }

            fn signal_plan(&self, seed: u64, operations: usize) -> Option<SignalPlan> {
                Some(self.choose(seed, operations))
            }

            fn knows_shutdown(&self) -> bool {
                true
            }

            fn drive(&self, job: &IterationJob, sink: &mut Sink<'_>) -> Result<(), WorkerError> {
                let hold_for: fn(&$plan) -> Option<Duration> = $hold;
                hold::hold(self.hold_at.as_deref(), self.hold_at_hit, hold_for(self))?;
                run_plain(job, sink)
            }
        }
    };
}

process_family!(ProcessKill, |_| None);
process_family!(ProcessStop, |stop| Some(Duration::from_millis(
    stop.hold_ms
)));
