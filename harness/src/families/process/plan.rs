//! Process faults: [`ProcessKill`] (`kill -9` of the worker that is writing) and
//! [`ProcessStop`] (`SIGSTOP` of it, resumed later or never).
//!
//! The supervisor, not the worker, delivers the signal: it watches the worker's
//! "operation started" messages and signals the worker's whole process group a seeded delay
//! after the chosen operation began, so the signal lands before, inside or after that
//! operation's commit. [`SignalPlan`] is that decision.
//!
//! With `hold-at = "<fail point>"` the signal lands inside an operation for certain: the drive
//! worker holds at that fail point the first time it is reached (it reports `held` and sleeps),
//! and the supervisor signals as soon as it reads that report, instead of after a delay. Whether
//! the hold was reached is recorded in the iteration (figure `signal_inside_operation`).

use std::time::Duration;

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::engine::signal::{KillPoint, SignalAction, SignalPlan};

/// Where and when to kill the writer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct ProcessKill {
    /// Largest delay, in microseconds, between the start of the chosen operation and the signal.
    #[serde(default = "default_max_delay_us")]
    pub max_delay_us: u64,
    /// Kill while the worker holds at this fail point (see the module doc) instead of at a
    /// seeded operation and delay.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hold_at: Option<String>,
    /// Hold the `hit`-th time `hold-at` is reached (1 = the first).
    #[serde(default = "default_hold_hit")]
    pub hold_at_hit: u32,
}

fn default_hold_hit() -> u32 {
    1
}

fn default_max_delay_us() -> u64 {
    1500
}

impl Default for ProcessKill {
    fn default() -> Self {
        ProcessKill {
            max_delay_us: default_max_delay_us(),
            hold_at: None,
            hold_at_hit: default_hold_hit(),
        }
    }
}

impl ProcessKill {
    /// The seeded kill for a workload of `operations` operations.
    pub fn choose(&self, seed: u64, operations: usize) -> SignalPlan {
        SignalPlan {
            point: choose_point(seed, operations, self.max_delay_us),
            action: SignalAction::Kill,
            on_hold: self.hold_at.is_some(),
        }
    }
}

/// Where and when to stop the writer, and when (if ever) to let it go on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct ProcessStop {
    /// Largest delay, in microseconds, between the start of the chosen operation and the signal.
    #[serde(default = "default_max_delay_us")]
    pub max_delay_us: u64,
    /// Milliseconds after which `SIGCONT` resumes the writer; absent = never (the worker hangs
    /// and the iteration's timeout must end it).
    pub resume_after_ms: Option<u64>,
    /// Stop the worker while it holds at this fail point (see the module doc); it holds for
    /// `hold-ms` and then goes on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hold_at: Option<String>,
    /// Hold the `hit`-th time `hold-at` is reached (1 = the first).
    #[serde(default = "default_hold_hit")]
    pub hold_at_hit: u32,
    /// How long the worker holds at `hold-at`, in milliseconds (counted while it runs).
    #[serde(default = "default_hold_ms")]
    pub hold_ms: u64,
}

fn default_hold_ms() -> u64 {
    100
}

/// Checks that a `hold-at` names a fail point of the ledger.
///
/// # Errors
/// The name, when the ledger has no such fail point.
pub fn validate_hold(hold_at: Option<&str>, hit: u32) -> Result<(), String> {
    if hit == 0 {
        return Err("`hold-at-hit` counts from 1".into());
    }
    match hold_at {
        Some(name) if !ledger::failpoint::every().contains(&name) => Err(format!(
            "`hold-at = \"{name}\"` is not a fail point of the ledger (see ledger::failpoint::every)"
        )),
        _ => Ok(()),
    }
}

/// Chooses a seeded point within a workload of `operations` operations.
fn choose_point(seed: u64, operations: usize, max_delay_us: u64) -> KillPoint {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x6b69_6c6c);
    KillPoint {
        operation: rng.random_range(0..operations.max(1)),
        delay_us: rng.random_range(0..=max_delay_us),
    }
}

impl ProcessStop {
    /// The seeded stop for a workload of `operations` operations.
    pub fn choose(&self, seed: u64, operations: usize) -> SignalPlan {
        SignalPlan {
            point: choose_point(seed, operations, self.max_delay_us),
            action: SignalAction::Stop(self.resume_after_ms.map(Duration::from_millis)),
            on_hold: self.hold_at.is_some(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kill_points_are_seeded_and_in_range() {
        let plan = ProcessKill::default();
        assert_eq!(plan.choose(9, 50), plan.choose(9, 50));
        for seed in 0..200 {
            let p = plan.choose(seed, 50).point;
            assert!(p.operation < 50 && p.delay_us <= plan.max_delay_us);
        }
        let spread: std::collections::BTreeSet<usize> = (0..200)
            .map(|s| plan.choose(s, 50).point.operation)
            .collect();
        assert!(spread.len() > 30, "kill points should cover the workload");
    }
}
