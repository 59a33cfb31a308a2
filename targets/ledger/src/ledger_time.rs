//! Ledger time: what "now" means to the ledger when the clock seam ([`crate::Clock`]) goes
//! backwards, jumps forwards or stands still. Main type: `LedgerTime` (inside the crate, one per
//! open ledger); the rule is `not_before`.
//!
//! # The rule
//!
//! Every time the ledger records (a capture's `created_at`/`updated_at`, an export's
//! `exported_at`, `errors_log` and `sync_state` times, a backup's `created_at_ms`, a WAL archive
//! commit's `commit_ms`, maintenance stamps) or compares (retention pruning's cutoff, the guarded
//! prune's backup time, the maintenance and integrity schedules, memory-pressure hysteresis) is
//! **ledger time**: the clock's reading, but never earlier than a time the ledger has already
//! recorded:
//!
//! ```text
//! ledger_now = max(clock_now, latest time already recorded)
//! ```
//!
//! So ledger time never goes backwards, whatever the wall clock does:
//! - the clock steps **back** (an NTP correction, a VM restored from a snapshot): ledger time
//!   stands at the latest recorded time until the clock catches up; everything recorded in
//!   between carries that same time;
//! - the clock steps **forward**: ledger time follows it (a forward step is indistinguishable
//!   from time passing; retention and schedules see the days as passed);
//! - the clock **stalls**: ledger time stalls with it.
//!
//! Ties are allowed (non-decreasing, not strictly increasing), and every consumer treats them as
//! "the same instant, in recording order": a point-in-time restore to `T` restores every
//! transaction archived at a ledger time `<= T`, which is always a prefix of the archived
//! transactions; a guarded prune deletes rows last changed strictly *before* the newest verified
//! backup's time, so a row changed at the backup's own instant (possibly after it) is kept, and
//! never one changed after the newest change the backup holds
//! ([`crate::backup::BackupManifest::prune_horizon_ms`]): a backup taken by another open ledger
//! can be dated after a change the writer commits once the snapshot is pinned. A change
//! committed after the pin in the same millisecond as the snapshot's newest change, by the
//! ledger that made that change, is the one tie this does not separate.
//!
//! Backups need a strict order (rotation keeps "the newest verified backup" by `created_at_ms`,
//! and names files by it), so a backup's time is additionally after every backup already in its
//! directory: `max(ledger_now, newest listed backup + 1 ms)`, and ledger time then moves up to
//! it. The WAL archive keeps its last commit time in its state file and never records an
//! earlier one, so archive commit times are non-decreasing across processes too.
//!
//! What a point-in-time restore to `T` therefore means: the state after the last transaction
//! whose archive commit time, as the ledger recorded it (ledger time, not the wall clock), is at
//! or before `T`.
//!
//! # Across processes
//!
//! The latest recorded time survives a reopen: at open, ledger time starts from the newest
//! time the database holds that can be found by index (the time part of the newest capture and
//! export ids, which are ULIDs made from ledger time, the last `errors_log` row, and the newest
//! `sync_state` row, where every backup outcome is recorded). A status change recorded after all
//! of these (a transcription of an older capture after the newest stage, export and backup) is
//! not among them, so after a reopen with the clock set back a later write may be dated before
//! it; never before the newest backup, so the guarded prune's rule still holds. (Finding the
//! newest `updated_at` exactly would take a scan of `captures` at every open.) Two ledgers open
//! on one database
//! at the same time each keep their own latest time; with a clock going backwards between their
//! writes, one may record a time before the other's latest (the backup directory and the
//! archive state still keep their own order, above).

use std::cell::Cell;
use std::sync::Arc;

use rusqlite::{Connection, OptionalExtension};

use crate::clock::Clock;

/// The ledger-time rule: `clock_ms`, but never before `recorded_ms`.
///
/// The `wall-clock-time` mutant's one site: under it the raw clock reading is used as is.
pub(crate) fn not_before(recorded_ms: i64, clock_ms: i64) -> i64 {
    mutant!(WallClockTime, clock_ms, clock_ms.max(recorded_ms))
}

/// A ledger's time source: its clock seam plus the latest time it has handed out or seen
/// recorded (see the module doc).
pub(crate) struct LedgerTime {
    clock: Arc<dyn Clock>,
    latest: Cell<i64>,
}

impl LedgerTime {
    /// Ledger time over `clock`, with nothing recorded yet.
    pub(crate) fn new(clock: Arc<dyn Clock>) -> LedgerTime {
        LedgerTime {
            clock,
            latest: Cell::new(i64::MIN),
        }
    }

    /// One reading: the clock, never before what was already recorded.
    pub(crate) fn now_ms(&self) -> i64 {
        let now = not_before(self.latest.get(), self.clock.now_ms());
        self.observe(now);
        now
    }

    /// Notes that `ms` was recorded (by this ledger or found on disk): later readings are not
    /// before it.
    pub(crate) fn observe(&self, ms: i64) {
        self.latest.set(self.latest.get().max(ms));
    }

    /// Starts from the newest time `conn`'s database holds (see the module doc); a database
    /// that cannot be read (damaged, not migrated) adds nothing.
    pub(crate) fn observe_database(&self, conn: &Connection) {
        if let Some(ms) = latest_recorded_ms(conn) {
            self.observe(ms);
        }
    }
}

/// The newest time recorded in the database that an index can find: the time part of the
/// greatest capture and export ids (ULIDs made from ledger time), the last `errors_log` row and
/// the newest `sync_state` row (a small table). `None` when nothing could be read.
fn latest_recorded_ms(conn: &Connection) -> Option<i64> {
    let ulid_ms = |sql: &str| -> Option<i64> {
        let id: Option<String> = conn.query_row(sql, [], |row| row.get(0)).ok()?;
        let ulid = ulid::Ulid::from_string(&id?).ok()?;
        i64::try_from(ulid.timestamp_ms()).ok()
    };
    let number = |sql: &str| -> Option<i64> {
        conn.query_row(sql, [], |row| row.get::<_, Option<i64>>(0))
            .optional()
            .ok()
            .flatten()
            .flatten()
    };
    [
        ulid_ms("SELECT MAX(id) FROM captures"),
        ulid_ms("SELECT MAX(id) FROM exports_audit"),
        number("SELECT created_at FROM errors_log ORDER BY id DESC LIMIT 1"),
        number("SELECT MAX(updated_at) FROM sync_state"),
    ]
    .into_iter()
    .flatten()
    .max()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;
    use std::sync::atomic::{AtomicI64, Ordering};

    /// A clock set by hand to any value, backwards included.
    struct SetClock(AtomicI64);

    impl Clock for SetClock {
        fn now_ms(&self) -> i64 {
            self.0.load(Ordering::SeqCst)
        }
    }

    fn time_at(start: i64) -> (Arc<SetClock>, LedgerTime) {
        let clock = Arc::new(SetClock(AtomicI64::new(start)));
        let time = LedgerTime::new(clock.clone());
        (clock, time)
    }

    #[test]
    fn a_clock_stepping_back_leaves_ledger_time_where_it_was_until_it_catches_up() {
        let (clock, time) = time_at(10_000);
        assert_eq!(time.now_ms(), 10_000);
        clock.0.store(4_000, Ordering::SeqCst);
        assert_eq!(time.now_ms(), 10_000, "stepped back: ledger time stands");
        clock.0.store(9_999, Ordering::SeqCst);
        assert_eq!(time.now_ms(), 10_000);
        clock.0.store(10_500, Ordering::SeqCst);
        assert_eq!(
            time.now_ms(),
            10_500,
            "caught up: ledger time follows again"
        );
    }

    #[test]
    fn a_forward_step_is_followed_and_a_stall_stalls() {
        let (clock, time) = time_at(1_000);
        assert_eq!(time.now_ms(), 1_000);
        clock.0.store(90_000_000, Ordering::SeqCst);
        assert_eq!(time.now_ms(), 90_000_000);
        assert_eq!(
            time.now_ms(),
            90_000_000,
            "a stalled clock gives the same time"
        );
    }

    #[test]
    fn what_was_recorded_before_bounds_the_first_reading() {
        let (_, time) = time_at(5_000);
        time.observe(7_000);
        assert_eq!(time.now_ms(), 7_000);
        time.observe(6_000);
        assert_eq!(
            time.now_ms(),
            7_000,
            "observing an older time changes nothing"
        );
    }

    #[test]
    fn a_manual_clock_reads_the_same_through_ledger_time() {
        let clock = Arc::new(ManualClock::new(42));
        let time = LedgerTime::new(clock.clone());
        assert_eq!(time.now_ms(), 42);
        clock.advance(8);
        assert_eq!(time.now_ms(), 50);
    }

    #[test]
    fn the_database_seeds_the_latest_time() {
        let conn = Connection::open_in_memory().expect("open");
        conn.execute_batch(
            "CREATE TABLE captures (id TEXT PRIMARY KEY);
             CREATE TABLE exports_audit (id TEXT PRIMARY KEY);
             CREATE TABLE errors_log (id INTEGER PRIMARY KEY, created_at INTEGER NOT NULL);
             CREATE TABLE sync_state (key TEXT PRIMARY KEY, updated_at INTEGER NOT NULL);",
        )
        .expect("schema");
        assert_eq!(latest_recorded_ms(&conn), None);
        let id = ulid::Ulid::from_parts(8_000, 1).to_string();
        conn.execute("INSERT INTO captures VALUES (?1)", [&id])
            .expect("capture");
        conn.execute("INSERT INTO sync_state VALUES ('k', 6000)", [])
            .expect("sync_state");
        assert_eq!(latest_recorded_ms(&conn), Some(8_000));
        conn.execute("INSERT INTO errors_log VALUES (1, 9000)", [])
            .expect("errors_log");
        let (_, time) = time_at(1_000);
        time.observe_database(&conn);
        assert_eq!(time.now_ms(), 9_000);
    }

    #[test]
    fn an_unreadable_database_seeds_nothing() {
        let conn = Connection::open_in_memory().expect("open");
        assert_eq!(latest_recorded_ms(&conn), None);
        let (_, time) = time_at(1_000);
        time.observe_database(&conn);
        assert_eq!(time.now_ms(), 1_000);
    }
}
