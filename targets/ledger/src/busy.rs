//! The busy handler: waits for a lock with growing sleeps until a deadline,
//! and counts what it did: [`install`] and [`BusyStats`].
//!
//! SQLite calls the handler when a lock it needs is held elsewhere; returning
//! `false` makes the statement fail with `SQLITE_BUSY`. Some busy conditions
//! (e.g. `SQLITE_BUSY_RECOVERY`, `SQLITE_BUSY_SNAPSHOT`) never reach the
//! handler; the retry loop covers those.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use rusqlite::Connection;

/// Sleeps between lock probes, in milliseconds (SQLite's own schedule); the
/// last one repeats.
const PROBE_DELAYS_MS: [u64; 12] = [1, 2, 5, 10, 15, 20, 25, 25, 25, 50, 50, 100];

/// Counters the busy handler keeps; shared with the ledger's metrics.
#[derive(Debug, Default)]
pub(crate) struct BusyStats {
    /// Times the handler was called (each one a wait for a lock).
    pub(crate) waits: AtomicU64,
    /// Microseconds spent sleeping in the handler.
    pub(crate) waited_us: AtomicU64,
    /// Times the deadline passed and the handler gave up.
    pub(crate) gave_up: AtomicU64,
    /// Microseconds the retry loop slept between attempts (backoff after busy or I/O errors).
    pub(crate) retry_slept_us: AtomicU64,
}

/// How long this ledger has waited for locks since it opened: what the harness turns into
/// per-operation lock-wait figures (differences around each call).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LockWaits {
    /// Times the busy handler waited for a lock.
    pub busy_waits: u64,
    /// Microseconds the busy handler slept (an upper bound of the time spent waiting for a
    /// lock: each sleep ends at the next probe).
    pub busy_waited_us: u64,
    /// Times the busy deadline passed and SQLite's `SQLITE_BUSY` went to the retry loop.
    pub busy_gave_up: u64,
    /// Microseconds slept between retried attempts.
    pub retry_slept_us: u64,
}

impl BusyStats {
    /// A consistent-enough copy: (waits, waited microseconds, gave up).
    pub(crate) fn read(&self) -> (u64, u64, u64) {
        (
            self.waits.load(Ordering::Relaxed),
            self.waited_us.load(Ordering::Relaxed),
            self.gave_up.load(Ordering::Relaxed),
        )
    }

    /// Every counter, the retry sleeps included.
    pub(crate) fn lock_waits(&self) -> LockWaits {
        let (busy_waits, busy_waited_us, busy_gave_up) = self.read();
        LockWaits {
            busy_waits,
            busy_waited_us,
            busy_gave_up,
            retry_slept_us: self.retry_slept_us.load(Ordering::Relaxed),
        }
    }
}

/// The delay before probe number `count` (0-based), capped so the wait never
/// passes `remaining`.
fn probe_delay(count: i32, remaining: Duration) -> Duration {
    let index = usize::try_from(count)
        .unwrap_or(0)
        .min(PROBE_DELAYS_MS.len() - 1);
    Duration::from_millis(PROBE_DELAYS_MS[index]).min(remaining)
}

/// Install a handler on `conn` that waits at most `deadline` per lock
/// (counted from the first probe of that lock) and records into `stats`.
/// A zero deadline installs no handler: `SQLITE_BUSY` comes back at once.
pub(crate) fn install(
    conn: &mut Connection,
    deadline: Duration,
    stats: Arc<BusyStats>,
) -> rusqlite::Result<()> {
    if deadline.is_zero() {
        return conn.busy_timeout(Duration::ZERO);
    }
    let mut first_probe = Instant::now();
    conn.busy_handler(Some(move |count: i32| {
        if count == 0 {
            first_probe = Instant::now();
        }
        let remaining = deadline.saturating_sub(first_probe.elapsed());
        if remaining.is_zero() {
            stats.gave_up.fetch_add(1, Ordering::Relaxed);
            return false;
        }
        let delay = probe_delay(count, remaining);
        stats.waits.fetch_add(1, Ordering::Relaxed);
        stats.waited_us.fetch_add(
            u64::try_from(delay.as_micros()).unwrap_or(u64::MAX),
            Ordering::Relaxed,
        );
        std::thread::sleep(delay);
        true
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_then_repeat_and_never_pass_the_deadline() {
        let long = Duration::from_secs(10);
        let delays: Vec<_> = (0..20).map(|count| probe_delay(count, long)).collect();
        assert!(delays.windows(2).all(|pair| pair[0] <= pair[1]));
        assert_eq!(delays[19], Duration::from_millis(100));
        assert_eq!(
            probe_delay(5, Duration::from_millis(3)),
            Duration::from_millis(3)
        );
    }

    #[test]
    fn a_held_lock_is_waited_for_then_reported_busy() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("b.db");
        let holder = Connection::open(&path).expect("holder");
        holder
            .execute_batch("PRAGMA journal_mode=WAL; CREATE TABLE t(x); BEGIN IMMEDIATE;")
            .expect("hold the write lock");
        let mut waiter = Connection::open(&path).expect("waiter");
        let stats = Arc::new(BusyStats::default());
        install(&mut waiter, Duration::from_millis(30), Arc::clone(&stats)).expect("install");
        let error = waiter
            .execute_batch("BEGIN IMMEDIATE")
            .expect_err("lock is held");
        assert_eq!(
            error.sqlite_error_code(),
            Some(rusqlite::ErrorCode::DatabaseBusy)
        );
        let (waits, _, gave_up) = stats.read();
        assert!(waits >= 1, "{waits}");
        assert_eq!(gave_up, 1);
    }

    #[test]
    fn zero_deadline_fails_without_waiting() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("b.db");
        let holder = Connection::open(&path).expect("holder");
        holder
            .execute_batch("PRAGMA journal_mode=WAL; CREATE TABLE t(x); BEGIN IMMEDIATE;")
            .expect("hold the write lock");
        let mut waiter = Connection::open(&path).expect("waiter");
        let stats = Arc::new(BusyStats::default());
        install(&mut waiter, Duration::ZERO, Arc::clone(&stats)).expect("install");
        assert!(waiter.execute_batch("BEGIN IMMEDIATE").is_err());
        assert_eq!(stats.read(), (0, 0, 0));
    }
}
