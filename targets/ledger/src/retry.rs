//! Retry with exponential backoff and seeded jitter: [`RetryPolicy`] and [`run`].
//!
//! Only transient SQLite failures are retried (`SQLITE_BUSY`, `SQLITE_LOCKED`
//! and the `SQLITE_IOERR` family); `SQLITE_CORRUPT`, `SQLITE_FULL`, constraint
//! violations and every non-SQLite error are returned at once. An operation
//! that is not idempotent is retried only when its failed attempt certainly
//! did not commit (the error did not come from `COMMIT`).
//!
//! The jitter comes from a [`ChaCha8Rng`] the caller seeds, and sleeping and
//! elapsed time go through [`RetryEnv`], so a schedule replays exactly and
//! tests run in virtual time.

use std::time::{Duration, Instant};

use rand::RngExt;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::error::LedgerError;

/// How often and how patiently a failed write is tried again.
///
/// Deserialised from the `[target.retry]` table of a scenario (kebab-case).
/// `max-attempts = 1` disables retrying.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields, default)]
pub struct RetryPolicy {
    /// Attempts in all, the first included (at least 1).
    pub max_attempts: u32,
    /// The nominal delay before the first retry, in milliseconds.
    pub base_delay_ms: u64,
    /// The nominal delay never grows past this, in milliseconds.
    pub max_delay_ms: u64,
    /// No retry starts once this much time (attempts and sleeps) has passed, in milliseconds.
    pub budget_ms: u64,
}

impl Default for RetryPolicy {
    fn default() -> RetryPolicy {
        RetryPolicy {
            max_attempts: 6,
            base_delay_ms: 5,
            max_delay_ms: 500,
            budget_ms: 10_000,
        }
    }
}

impl RetryPolicy {
    /// A policy that never retries.
    pub fn disabled() -> RetryPolicy {
        RetryPolicy {
            max_attempts: 1,
            ..RetryPolicy::default()
        }
    }

    /// The nominal (jitter-free) delay before retry number `retry` (1-based):
    /// `base * 2^(retry-1)`, capped at `max_delay_ms`.
    pub fn nominal_delay(&self, retry: u32) -> Duration {
        let factor = 1u64
            .checked_shl(retry.saturating_sub(1))
            .unwrap_or(u64::MAX);
        let ms = self
            .base_delay_ms
            .saturating_mul(factor)
            .min(self.max_delay_ms);
        Duration::from_millis(ms)
    }

    /// The delay before retry number `retry`: uniformly drawn from
    /// `[nominal / 2, nominal]` ("equal jitter"), so consecutive bounds never shrink.
    pub fn delay(&self, retry: u32, rng: &mut ChaCha8Rng) -> Duration {
        let nominal = self.nominal_delay(retry);
        let half = nominal / 2;
        let spread = u64::try_from((nominal - half).as_micros()).unwrap_or(u64::MAX);
        let jitter = if spread == 0 {
            0
        } else {
            rng.random_range(0..=spread)
        };
        half + Duration::from_micros(jitter)
    }
}

/// Whether an operation may run twice with the effect of once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Idempotence {
    /// A repeat is harmless (stage dedups, export and prune are idempotent):
    /// retried after any transient error, even a failed `COMMIT`.
    Idempotent,
    /// A repeat after a commit that may have happened would be wrong:
    /// retried only when the failed attempt did not reach `COMMIT`.
    OnlyIfNotCommitted,
}

/// Whether `error` is worth another attempt at all (SQLite said busy,
/// locked, or a transient I/O error).
pub fn is_transient(error: &LedgerError) -> bool {
    use rusqlite::ErrorCode;
    matches!(error, LedgerError::Sqlite { .. })
        && matches!(
            error.sqlite_code(),
            Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked | ErrorCode::SystemIoFailure)
        )
}

/// Whether an operation of kind `idempotence` that failed with `error` may be retried.
pub fn is_retryable(error: &LedgerError, idempotence: Idempotence) -> bool {
    is_transient(error)
        && mutant!(
            BlindRetry,
            true,
            idempotence == Idempotence::Idempotent || !error.is_commit_failure()
        )
}

/// Whether SQLite said the database was busy or locked.
pub(crate) fn is_lock_error_source(error: &rusqlite::Error) -> bool {
    matches!(
        error.sqlite_error_code(),
        Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
    )
}

/// Time as the retry loop sees it: real in production, virtual in tests.
pub trait RetryEnv {
    /// Time since the operation's first attempt started.
    fn elapsed(&self) -> Duration;
    /// Wait `delay` before the next attempt.
    fn sleep(&mut self, delay: Duration);
}

/// Wall time and `std::thread::sleep`.
#[derive(Debug)]
pub struct RealTime {
    started: Instant,
}

impl RealTime {
    /// Start measuring now.
    pub fn start() -> RealTime {
        RealTime {
            started: Instant::now(),
        }
    }
}

impl RetryEnv for RealTime {
    fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }

    fn sleep(&mut self, delay: Duration) {
        std::thread::sleep(delay);
    }
}

/// What a retried operation ended with.
#[derive(Debug)]
pub struct Retried<T> {
    /// The last attempt's result.
    pub result: Result<T, LedgerError>,
    /// Attempts made (1 = no retry).
    pub attempts: u32,
    /// Whether an earlier attempt failed at `COMMIT` (its outcome unknown).
    pub earlier_commit_failure: bool,
    /// Time slept between attempts.
    pub slept: Duration,
}

/// Run `attempt` until it succeeds, fails for good, or the policy's attempts
/// or time budget run out. `attempt` receives the 1-based attempt number.
pub fn run<T>(
    policy: &RetryPolicy,
    idempotence: Idempotence,
    rng: &mut ChaCha8Rng,
    env: &mut dyn RetryEnv,
    mut attempt: impl FnMut(u32) -> Result<T, LedgerError>,
) -> Retried<T> {
    let budget = Duration::from_millis(policy.budget_ms);
    let mut earlier_commit_failure = false;
    let mut slept = Duration::ZERO;
    let mut number = 1;
    loop {
        let result = attempt(number);
        let error = match &result {
            Err(error) if number < policy.max_attempts && is_retryable(error, idempotence) => error,
            _ => {
                return Retried {
                    result,
                    attempts: number,
                    earlier_commit_failure,
                    slept,
                };
            }
        };
        let delay = policy.delay(number, rng);
        if env.elapsed() + delay > budget {
            return Retried {
                result,
                attempts: number,
                earlier_commit_failure,
                slept,
            };
        }
        earlier_commit_failure |= error.is_commit_failure();
        env.sleep(delay);
        slept += delay;
        number += 1;
        crate::failpoint::observe(crate::failpoint::RETRY_AGAIN);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rand::SeedableRng;
    use rusqlite::ErrorCode;

    struct VirtualTime {
        now: Duration,
        per_attempt: Duration,
        sleeps: Vec<Duration>,
    }

    impl RetryEnv for VirtualTime {
        fn elapsed(&self) -> Duration {
            self.now
        }
        fn sleep(&mut self, delay: Duration) {
            self.sleeps.push(delay);
            self.now += delay + self.per_attempt;
        }
    }

    fn sqlite_error(code: ErrorCode, extended: i32, operation: &'static str) -> LedgerError {
        LedgerError::Sqlite {
            operation,
            path: "t.db".into(),
            source: rusqlite::Error::SqliteFailure(
                rusqlite::ffi::Error {
                    code,
                    extended_code: extended,
                },
                None,
            ),
        }
    }

    const CODES: [(ErrorCode, i32, bool); 8] = [
        (ErrorCode::DatabaseBusy, 5, true),
        (ErrorCode::DatabaseBusy, 517, true),
        (ErrorCode::DatabaseLocked, 6, true),
        (ErrorCode::SystemIoFailure, 1034, true),
        (ErrorCode::DatabaseCorrupt, 11, false),
        (ErrorCode::DiskFull, 13, false),
        (ErrorCode::ConstraintViolation, 2067, false),
        (ErrorCode::NotADatabase, 26, false),
    ];

    fn policy_strategy() -> impl Strategy<Value = RetryPolicy> {
        (1u32..12, 0u64..50, 0u64..2_000, 0u64..20_000).prop_map(
            |(max_attempts, base_delay_ms, max_delay_ms, budget_ms)| RetryPolicy {
                max_attempts,
                base_delay_ms,
                max_delay_ms,
                budget_ms,
            },
        )
    }

    proptest! {
        #[test]
        fn attempts_and_time_are_bounded(
            policy in policy_strategy(),
            seed in any::<u64>(),
            code in 0usize..4,
            per_attempt_ms in 0u64..100,
        ) {
            let (code, extended, _) = CODES[code];
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            let mut env = VirtualTime { now: Duration::ZERO, per_attempt: Duration::from_millis(per_attempt_ms), sleeps: vec![] };
            let mut calls = 0;
            let out: Retried<()> = run(&policy, Idempotence::Idempotent, &mut rng, &mut env, |_| {
                calls += 1;
                Err(sqlite_error(code, extended, "insert capture"))
            });
            prop_assert!(out.attempts >= 1 && out.attempts <= policy.max_attempts.max(1));
            prop_assert_eq!(out.attempts, calls);
            prop_assert!(env.sleeps.iter().sum::<Duration>() <= Duration::from_millis(policy.budget_ms));
            prop_assert_eq!(out.slept, env.sleeps.iter().sum::<Duration>());
        }

        #[test]
        fn backoff_is_monotone_within_jitter_bounds(policy in policy_strategy(), seed in any::<u64>()) {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            let mut previous_nominal = Duration::ZERO;
            for retry in 1..40 {
                let nominal = policy.nominal_delay(retry);
                prop_assert!(nominal >= previous_nominal);
                prop_assert!(nominal <= Duration::from_millis(policy.max_delay_ms));
                let delay = policy.delay(retry, &mut rng);
                prop_assert!(delay >= nominal / 2 && delay <= nominal, "{delay:?} outside [{:?}, {nominal:?}]", nominal / 2);
                previous_nominal = nominal;
            }
        }

        #[test]
        fn never_retries_a_non_transient_error(
            policy in policy_strategy(),
            seed in any::<u64>(),
            code in 4usize..8,
            idempotent in any::<bool>(),
        ) {
            let (code, extended, _) = CODES[code];
            let idempotence = if idempotent { Idempotence::Idempotent } else { Idempotence::OnlyIfNotCommitted };
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            let mut env = VirtualTime { now: Duration::ZERO, per_attempt: Duration::ZERO, sleeps: vec![] };
            let out: Retried<()> = run(&policy, idempotence, &mut rng, &mut env, |_| Err(sqlite_error(code, extended, "insert capture")));
            prop_assert_eq!(out.attempts, 1);
            prop_assert!(env.sleeps.is_empty());
        }

        #[test]
        fn same_seed_same_schedule(policy in policy_strategy(), seed in any::<u64>()) {
            let schedule = |seed| {
                let mut rng = ChaCha8Rng::seed_from_u64(seed);
                (1..10).map(|retry| policy.delay(retry, &mut rng)).collect::<Vec<_>>()
            };
            prop_assert_eq!(schedule(seed), schedule(seed));
        }
    }

    #[test]
    fn classification_table() {
        for (code, extended, transient) in CODES {
            assert_eq!(
                is_transient(&sqlite_error(code, extended, "insert capture")),
                transient,
                "{code:?}"
            );
        }
        assert!(!is_transient(&LedgerError::NotFound { id: "x".into() }));
    }

    #[test]
    fn a_commit_failure_is_retried_only_when_idempotent() {
        let error = sqlite_error(ErrorCode::SystemIoFailure, 1034, crate::tx::COMMIT);
        assert!(is_retryable(&error, Idempotence::Idempotent));
        assert!(!is_retryable(&error, Idempotence::OnlyIfNotCommitted));
        let begin = sqlite_error(ErrorCode::DatabaseBusy, 5, crate::tx::BEGIN);
        assert!(is_retryable(&begin, Idempotence::OnlyIfNotCommitted));
    }

    #[test]
    fn succeeds_after_transient_failures_and_reports_attempts() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let mut env = VirtualTime {
            now: Duration::ZERO,
            per_attempt: Duration::ZERO,
            sleeps: vec![],
        };
        let out = run(
            &RetryPolicy::default(),
            Idempotence::Idempotent,
            &mut rng,
            &mut env,
            |n| {
                if n < 3 {
                    Err(sqlite_error(ErrorCode::DatabaseBusy, 5, crate::tx::COMMIT))
                } else {
                    Ok(n)
                }
            },
        );
        assert_eq!(out.result.expect("third attempt succeeds"), 3);
        assert_eq!(out.attempts, 3);
        assert!(out.earlier_commit_failure);
        assert_eq!(env.sleeps.len(), 2);
    }

    #[test]
    fn disabled_policy_makes_one_attempt() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let mut env = RealTime::start();
        let out: Retried<()> = run(
            &RetryPolicy::disabled(),
            Idempotence::Idempotent,
            &mut rng,
            &mut env,
            |_| Err(sqlite_error(ErrorCode::DatabaseBusy, 5, crate::tx::BEGIN)),
        );
        assert_eq!(out.attempts, 1);
    }
}
