//! The clock family's plan: [`ClockPlan`] (the `[fault]` table) and the seeded schedule of clock
//! steps it gives for one iteration ([`ClockPlan::schedule`], [`ClockStep`]).

use ledger::backup::RetentionPolicy;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::workload::Operation;

/// Mixed into the iteration seed for the schedule (which operations, which steps).
const SCHEDULE_SALT: u64 = 0xC10C_5EED_0000_0015;

/// What a clock step may be.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum StepKind {
    /// The wall clock steps backwards (an NTP correction, a restored VM snapshot).
    Back,
    /// The wall clock steps forwards (an NTP step after a drift, a resumed laptop).
    Forward,
    /// The wall clock stops advancing for some operations.
    Stall,
}

/// Wall-clock steps during a workload with backups, WAL archiving, rotation, guarded prunes
/// and point-in-time restores (see the family's module doc for what must hold).
///
/// TOML:
/// ```toml
/// [fault]
/// kind = "clock"
/// steps = 6
/// kinds = ["back", "forward", "stall"]
/// max-back-minutes = 360
/// max-forward-minutes = 2880
/// max-stall-operations = 6
/// every = 6
/// restores = 16
/// prune-every = 3
/// retention = { hourly = 0, daily = 0, weekly = 0 }
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields, default)]
pub struct ClockPlan {
    /// Clock steps per iteration, each at a distinct seeded operation.
    pub steps: usize,
    /// The kinds of step drawn from (uniformly).
    pub kinds: Vec<StepKind>,
    /// A backwards step goes back 1 to this many minutes.
    pub max_back_minutes: u32,
    /// A forward step goes forward 1 to this many minutes.
    pub max_forward_minutes: u32,
    /// A stall lasts 1 to this many operations.
    pub max_stall_operations: usize,
    /// A backup (then a rotation) after every this many operations.
    pub every: usize,
    /// Point-in-time restores judged at the end.
    pub restores: usize,
    /// A guarded prune of every exported capture (`days = 0`) after every this many generated
    /// operations, so prunes meet captures changed after a backup whose clock stepped back
    /// (0: only the workload's own prunes).
    pub prune_every: usize,
    /// The retention policy rotation applies after each backup (default: keep nothing but what
    /// rotation always keeps, the newest verified backup).
    pub retention: RetentionPolicy,
}

impl Default for ClockPlan {
    fn default() -> ClockPlan {
        ClockPlan {
            steps: 6,
            kinds: vec![StepKind::Back, StepKind::Forward, StepKind::Stall],
            max_back_minutes: 6 * 60,
            max_forward_minutes: 48 * 60,
            max_stall_operations: 6,
            every: 6,
            restores: 16,
            prune_every: 0,
            retention: RetentionPolicy {
                hourly: 0,
                daily: 0,
                weekly: 0,
            },
        }
    }
}

/// One step of the schedule: what happens to the wall clock just before an operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClockStep {
    /// The clock jumps by this many milliseconds (negative: backwards).
    Jump(i64),
    /// The clock stands still for this many operations.
    Stall(usize),
}

impl ClockStep {
    /// The step as a trace line.
    pub fn describe(self) -> String {
        match self {
            ClockStep::Jump(ms) if ms < 0 => {
                format!("wall clock stepped back {} min", -ms / 60_000)
            }
            ClockStep::Jump(ms) => format!("wall clock stepped forward {} min", ms / 60_000),
            ClockStep::Stall(ops) => format!("wall clock stalled for {ops} operations"),
        }
    }
}

impl ClockPlan {
    /// Checks what serde cannot.
    ///
    /// # Errors
    /// A message naming the field.
    pub fn validate(&self) -> Result<(), String> {
        if self.steps > 0 && self.kinds.is_empty() {
            return Err("`fault.kinds` must name at least one kind of clock step".into());
        }
        if self.every == 0 {
            return Err("`fault.every` must be at least 1".into());
        }
        let zero = |kind: StepKind, n: u64| self.kinds.contains(&kind) && n == 0;
        if zero(StepKind::Back, self.max_back_minutes.into())
            || zero(StepKind::Forward, self.max_forward_minutes.into())
            || zero(StepKind::Stall, self.max_stall_operations as u64)
        {
            return Err("a clock step kind listed in `fault.kinds` has a maximum of 0".into());
        }
        Ok(())
    }

    /// The generated workload with a `Prune { days: 0 }` after every `prune_every` operations.
    pub fn with_prunes(&self, generated: Vec<Operation>) -> Vec<Operation> {
        if self.prune_every == 0 {
            return generated;
        }
        let mut plan = Vec::with_capacity(generated.len() + generated.len() / self.prune_every);
        for (n, op) in generated.into_iter().enumerate() {
            plan.push(op);
            if (n + 1) % self.prune_every == 0 {
                plan.push(Operation::Prune { days: 0 });
            }
        }
        plan
    }

    /// The iteration's schedule: `(operation index, step)` in operation order, at most one step
    /// per operation, never before the first operation (the first backup needs a start).
    pub fn schedule(&self, seed: u64, operations: usize) -> Vec<(usize, ClockStep)> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed ^ SCHEDULE_SALT);
        let mut at: Vec<usize> = Vec::new();
        let slots = operations.saturating_sub(1);
        while at.len() < self.steps.min(slots) {
            let index = rng.random_range(1..operations);
            if !at.contains(&index) {
                at.push(index);
            }
        }
        at.sort_unstable();
        at.into_iter()
            .map(|index| {
                let kind = self.kinds[rng.random_range(0..self.kinds.len())];
                let step = match kind {
                    StepKind::Back => ClockStep::Jump(
                        -60_000 * i64::from(rng.random_range(1..=self.max_back_minutes)),
                    ),
                    StepKind::Forward => ClockStep::Jump(
                        60_000 * i64::from(rng.random_range(1..=self.max_forward_minutes)),
                    ),
                    StepKind::Stall => {
                        ClockStep::Stall(rng.random_range(1..=self.max_stall_operations))
                    }
                };
                (index, step)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::{ClockPlan, ClockStep, StepKind};
    use crate::workload::Operation;

    #[test]
    fn a_plan_parses_with_defaults_and_refuses_unknown_fields() {
        let plan: ClockPlan = toml::from_str("steps = 3\nkinds = [\"back\"]").expect("parses");
        assert_eq!(plan.steps, 3);
        assert_eq!(plan.every, 6);
        plan.validate().expect("valid");
        assert!(toml::from_str::<ClockPlan>("stepz = 3").is_err());
        let empty: ClockPlan = toml::from_str("kinds = []").expect("parses");
        assert!(empty.validate().unwrap_err().contains("kinds"));
    }

    #[test]
    fn the_schedule_is_seeded_sorted_and_within_the_plan() {
        let plan = ClockPlan {
            kinds: vec![StepKind::Back],
            ..ClockPlan::default()
        };
        let schedule = plan.schedule(7, 60);
        assert_eq!(schedule, plan.schedule(7, 60), "same seed, same schedule");
        assert_ne!(schedule, plan.schedule(8, 60));
        assert_eq!(schedule.len(), plan.steps);
        assert!(schedule.windows(2).all(|w| w[0].0 < w[1].0));
        for (index, step) in schedule {
            assert!((1..60).contains(&index));
            assert!(
                matches!(step, ClockStep::Jump(ms) if (-6 * 3_600_000..0).contains(&ms)),
                "{step:?}"
            );
        }
        assert!(
            plan.schedule(7, 1).is_empty(),
            "no room before the first operation"
        );
    }

    #[test]
    fn prunes_are_woven_in_only_when_asked() {
        let generated = vec![Operation::Recover; 7];
        let plain = ClockPlan::default();
        assert_eq!(plain.with_prunes(generated.clone()), generated);
        let pruning = ClockPlan {
            prune_every: 3,
            ..ClockPlan::default()
        };
        let plan = pruning.with_prunes(generated);
        assert_eq!(plan.len(), 9);
        assert_eq!(plan[3], Operation::Prune { days: 0 });
        assert_eq!(plan[7], Operation::Prune { days: 0 });
    }
}
