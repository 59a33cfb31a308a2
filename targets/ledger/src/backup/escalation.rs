//! Consecutive verification failures as a health level: [`EscalationPolicy`], [`BackupHealth`].
//!
//! HEALTHY → WARN → DEGRADED → PRUNING_PAUSED as failures accumulate; one
//! verified backup resets the count to zero (HEALTHY).

use serde::{Deserialize, Serialize};

/// The backup health level.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BackupHealth {
    /// The last verification passed (or none failed yet).
    #[default]
    Healthy,
    /// Recent verifications failed; still pruning.
    Warn,
    /// Several verifications in a row failed.
    Degraded,
    /// So many failed that retention pruning is paused until one passes.
    PruningPaused,
}

impl BackupHealth {
    /// The text stored in `sync_state` (`healthy`, `warn`, `degraded`, `pruning_paused`).
    pub fn as_str(self) -> &'static str {
        match self {
            BackupHealth::Healthy => "healthy",
            BackupHealth::Warn => "warn",
            BackupHealth::Degraded => "degraded",
            BackupHealth::PruningPaused => "pruning_paused",
        }
    }

    /// The level whose [`BackupHealth::as_str`] is `text`.
    pub fn parse(text: &str) -> Option<BackupHealth> {
        [
            BackupHealth::Healthy,
            BackupHealth::Warn,
            BackupHealth::Degraded,
            BackupHealth::PruningPaused,
        ]
        .into_iter()
        .find(|level| level.as_str() == text.trim())
    }
}

/// Thresholds (consecutive failures) for each level.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields, default)]
pub struct EscalationPolicy {
    /// Failures from which the level is at least WARN (default 1).
    pub warn_after: u32,
    /// Failures from which the level is at least DEGRADED (default 2).
    pub degraded_after: u32,
    /// Failures from which pruning is paused (default 3).
    pub pause_pruning_after: u32,
}

impl Default for EscalationPolicy {
    fn default() -> EscalationPolicy {
        EscalationPolicy {
            warn_after: 1,
            degraded_after: 2,
            pause_pruning_after: 3,
        }
    }
}

impl EscalationPolicy {
    /// The level after `consecutive_failures` failures in a row.
    pub fn level(&self, consecutive_failures: u32) -> BackupHealth {
        if consecutive_failures == 0 {
            BackupHealth::Healthy
        } else if consecutive_failures >= self.pause_pruning_after {
            BackupHealth::PruningPaused
        } else if consecutive_failures >= self.degraded_after {
            BackupHealth::Degraded
        } else if consecutive_failures >= self.warn_after {
            BackupHealth::Warn
        } else {
            BackupHealth::Healthy
        }
    }

    /// The failure count after one more verification: 0 on success, +1 on failure.
    pub fn next(&self, consecutive_failures: u32, verified: bool) -> u32 {
        if verified {
            0
        } else {
            consecutive_failures.saturating_add(1)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escalates_one_step_per_failure_and_one_success_resets() {
        let policy = EscalationPolicy::default();
        let mut failures = 0;
        let mut seen = vec![policy.level(failures)];
        for _ in 0..4 {
            failures = policy.next(failures, false);
            seen.push(policy.level(failures));
        }
        assert_eq!(
            seen,
            [
                BackupHealth::Healthy,
                BackupHealth::Warn,
                BackupHealth::Degraded,
                BackupHealth::PruningPaused,
                BackupHealth::PruningPaused
            ]
        );
        failures = policy.next(failures, true);
        assert_eq!(policy.level(failures), BackupHealth::Healthy);
    }

    #[test]
    fn thresholds_are_configurable() {
        let policy = EscalationPolicy {
            warn_after: 2,
            degraded_after: 4,
            pause_pruning_after: 6,
        };
        assert_eq!(policy.level(1), BackupHealth::Healthy);
        assert_eq!(policy.level(3), BackupHealth::Warn);
        assert_eq!(policy.level(5), BackupHealth::Degraded);
        assert_eq!(policy.level(6), BackupHealth::PruningPaused);
    }
}
