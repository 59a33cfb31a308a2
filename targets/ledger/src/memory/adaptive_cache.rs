//! The cache-size rule ([`choose`], fed by [`read_inputs`]) and
//! memory-pressure hysteresis ([`PressureTracker`]).
//!
//! Measured on this kind of machine (benches/RESULTS.md; 100k captures is a
//! 200 MB database with a 3 % backlog): a 64 MB page cache makes the
//! recovery query about 2-3x faster than SQLite's 2 MB default (13.2 ms →
//! 4.1 ms) and export-ready 3-9x, because their working set, the ~3 000
//! non-terminal rows each on a page of its own plus two small indexes, is
//! about 13.5 MB: more than 2 MB, less than 64 MB. The same 64 MB cache is
//! 14-23 % slower on a full scan of the 200 MB table (every page misses
//! anyway; most likely the bigger cache recycles colder buffers), up to 2x
//! slower on the recovery query with a fresh connection per query (the
//! cache is never warm), and 25 % slower on recovery at 1M captures, whose
//! working set (~123 MB) no longer fits. So the rule sizes the cache to what
//! the hot queries touch, not to the database:
//!
//! 1. a connection opened per query gets the floor (2 MB);
//! 2. a database no larger than the floor gets the floor (it already fits);
//! 3. a database no larger than the ceiling (`cache-size`, 64 MB by default)
//!    is cached whole: scans fit too (10k, 20 MB: full scan 1.3-1.5x);
//! 4. a larger database is cached to the hot queries' working set
//!    ([`super::working_set`]: recovery and export-ready), when that is
//!    measured and lies between the floor and the ceiling: 12.9 MiB at 100k,
//!    so 17 MiB (in one scratch sweep a 14 MiB cache gave recovery 1.94x
//!    against 2.89x at 17 MiB: headroom matters near the working set);
//! 5. otherwise the floor: the working set is unknown, already fits the
//!    floor, or exceeds the ceiling (1M), where a big cache only loses.
//!
//! The size wanted in 3 and 4 gets 25 % headroom, is rounded up to a MiB,
//! and is capped by the ceiling and by a memory budget of 1/8 of the
//! available memory (cgroup headroom or `MemAvailable`), never below the
//! floor.
//!
//! What it buys at 100k (interleaved A/B against the default, 41 pairs,
//! `resilience run --filter adaptive`): recovery 1.81x [1.69, 2.07] on a
//! reused connection in wall-clock time, 1.43-1.94x in thread CPU time, as
//! much as the 64 MB cache at about a quarter of its memory (goal 1.4x, the
//! seed's own; docs/performance.md), no change on a fresh connection per query
//! (0.99x [0.93, 1.09]: the floor). A full scan larger than the cache on the
//! same reused connection cost about 7 % with the hot-set cache (0.90-0.97x
//! over twelve runs, against 0.77-0.86x with 64 MB); the scan watch
//! ([`super::scan_watch`]) now recognises such a scan-dominated connection
//! from its hit and miss counters and gives it the floor.
//!
//! Under memory pressure the ledger drops to the floor and releases what
//! SQLite can spare; it restores the chosen size only after the pressure has
//! been gone for `pressure-calm-ms` ([`PressureTracker`]).

use rusqlite::Connection;

use super::working_set;

/// The smallest cache the ledger ever sets, in KiB (SQLite's default).
pub const FLOOR_KIB: u64 = 2000;

/// How the connection is used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectionUse {
    /// One long-lived connection (the ledger's).
    Reused,
    /// A fresh connection per query.
    PerQuery,
}

/// What the rule looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CacheInputs {
    /// Size of the database (page count × page size).
    pub db_bytes: u64,
    /// Memory available to this process, if known.
    pub available_bytes: Option<u64>,
    /// How the connection is used.
    pub connection: ConnectionUse,
    /// The largest cache allowed, in KiB.
    pub ceiling_kib: u64,
    /// The hot queries' working set in bytes ([`working_set::measure`]), if
    /// measured; the rule only needs it when the database exceeds the ceiling.
    pub working_set_bytes: Option<u64>,
}

/// Why the rule chose its size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheReason {
    /// Fresh connection per query: a big cache would never be warm.
    PerQueryConnection,
    /// The database (or its hot working set) fits in the floor.
    SmallDatabase,
    /// The database is larger than the ceiling and its hot working set is
    /// unknown or larger than the ceiling too: a big cache would only thrash.
    LargerThanCeiling,
    /// The whole database fits under the ceiling: cache it all.
    FitsWorkingSet,
    /// Limited by the memory budget.
    MemoryBudget,
    /// Memory pressure: the floor until it passes.
    Pressure,
    /// `adaptive-cache` is off: the configured `cache-size`.
    Configured,
    /// The database is larger than the ceiling; the hot queries' working set
    /// fits under it: cache that.
    HotWorkingSet,
    /// The connection's reads are dominated by scans larger than the cache
    /// ([`super::scan_watch`]): the floor until the chosen cache is retried.
    ScanDominated,
}

/// The rule's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CacheChoice {
    /// `cache_size` in KiB (the pragma gets the negated value).
    pub kib: u64,
    /// Why.
    pub reason: CacheReason,
}

/// Choose the cache size (see the module doc).
pub fn choose(inputs: CacheInputs) -> CacheChoice {
    let floor = |reason| CacheChoice {
        kib: FLOOR_KIB,
        reason,
    };
    let ceiling = inputs.ceiling_kib.max(FLOOR_KIB);
    let db_kib = inputs.db_bytes.div_ceil(1024);
    if inputs.connection == ConnectionUse::PerQuery {
        return floor(CacheReason::PerQueryConnection);
    }
    if db_kib <= FLOOR_KIB {
        return floor(CacheReason::SmallDatabase);
    }
    let (want_kib, reason) = if db_kib <= ceiling {
        (db_kib, CacheReason::FitsWorkingSet)
    } else {
        match inputs.working_set_bytes.map(|b| b.div_ceil(1024)) {
            Some(hot) if hot <= FLOOR_KIB => return floor(CacheReason::SmallDatabase),
            Some(hot) if hot <= ceiling => (hot, CacheReason::HotWorkingSet),
            _ => return floor(CacheReason::LargerThanCeiling),
        }
    };
    let wanted = ((want_kib + want_kib / 4).div_ceil(1024) * 1024).min(ceiling);
    match inputs.available_bytes.map(|b| b / 8 / 1024) {
        Some(budget) if budget < wanted => CacheChoice {
            kib: budget.max(FLOOR_KIB),
            reason: CacheReason::MemoryBudget,
        },
        _ => CacheChoice {
            kib: wanted,
            reason,
        },
    }
}

/// Reads the rule's inputs from an open ledger database: its size from
/// `page_count` × `page_size`, and its hot working set
/// ([`working_set::measure`]) only when the rule needs it (a reused
/// connection to a database larger than the ceiling). A database without
/// the ledger's indexes gets no working set (the rule then keeps the floor).
///
/// # Errors
/// SQLite errors reading the two pragmas.
pub fn read_inputs(
    conn: &Connection,
    connection: ConnectionUse,
    available_bytes: Option<u64>,
    ceiling_kib: u64,
) -> rusqlite::Result<CacheInputs> {
    let pragma = |name: &str| -> rusqlite::Result<u64> {
        conn.query_row(&format!("PRAGMA {name}"), [], |row| row.get::<_, i64>(0))
            .map(|value| value.max(0) as u64)
    };
    let page_size = pragma("page_size")?.max(512);
    let db_bytes = pragma("page_count")? * page_size;
    let needs_working_set =
        connection == ConnectionUse::Reused && db_bytes.div_ceil(1024) > ceiling_kib.max(FLOOR_KIB);
    let working_set_bytes = if needs_working_set {
        working_set::measure(conn).ok().map(|set| set.bytes)
    } else {
        None
    };
    Ok(CacheInputs {
        db_bytes,
        available_bytes,
        connection,
        ceiling_kib,
        working_set_bytes,
    })
}

/// The rule applied to `conn` ([`read_inputs`], then [`choose`]), and the
/// choice set as its `cache_size`: what the ledger does at open and what
/// the benches' adaptive arm does. A connection per query always gets the
/// floor, which is SQLite's own default, so it is left untouched: reading
/// the inputs and setting the pragma would only add three statements to
/// every short-lived connection.
///
/// # Errors
/// SQLite errors reading the inputs or setting the pragma.
pub fn apply(
    conn: &Connection,
    connection: ConnectionUse,
    available_bytes: Option<u64>,
    ceiling_kib: u64,
) -> rusqlite::Result<CacheChoice> {
    if connection == ConnectionUse::PerQuery {
        return Ok(CacheChoice {
            kib: FLOOR_KIB,
            reason: CacheReason::PerQueryConnection,
        });
    }
    let choice = choose(read_inputs(conn, connection, available_bytes, ceiling_kib)?);
    let kib = i64::try_from(choice.kib).unwrap_or(i64::MAX);
    conn.pragma_update(None, "cache_size", -kib)?;
    Ok(choice)
}

/// A change of pressure state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PressureChange {
    /// Pressure started: shrink now.
    Entered,
    /// Pressure has been gone for the calm period: restore.
    Cleared,
}

/// Pressure state with hysteresis, driven by the ledger's clock.
#[derive(Debug, Clone)]
pub struct PressureTracker {
    calm_ms: i64,
    under: bool,
    calm_since: Option<i64>,
}

impl PressureTracker {
    /// A tracker that restores after `calm_ms` without pressure.
    pub fn new(calm_ms: i64) -> PressureTracker {
        PressureTracker {
            calm_ms,
            under: false,
            calm_since: None,
        }
    }

    /// Whether the ledger is in its shrunk state.
    pub fn under_pressure(&self) -> bool {
        self.under
    }

    /// Feed one reading taken at `now_ms`.
    pub fn observe(&mut self, now_ms: i64, pressured: bool) -> Option<PressureChange> {
        if pressured {
            self.calm_since = None;
            if self.under {
                return None;
            }
            self.under = true;
            return Some(PressureChange::Entered);
        }
        if !self.under {
            return None;
        }
        let since = *self.calm_since.get_or_insert(now_ms);
        if now_ms - since >= self.calm_ms {
            self.under = false;
            self.calm_since = None;
            return Some(PressureChange::Cleared);
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MB: u64 = 1024 * 1024;

    #[test]
    fn a_connection_per_query_keeps_sqlites_default_which_is_the_floor() {
        let conn = Connection::open_in_memory().expect("open");
        let choice = apply(&conn, ConnectionUse::PerQuery, None, 64_000).expect("apply");
        assert_eq!(choice.reason, CacheReason::PerQueryConnection);
        let cache_size: i64 = conn
            .query_row("PRAGMA cache_size", [], |row| row.get(0))
            .expect("cache_size");
        assert_eq!(cache_size, -(FLOOR_KIB as i64));
    }

    fn inputs(db_mb: u64) -> CacheInputs {
        CacheInputs {
            db_bytes: db_mb * MB,
            available_bytes: Some(8 * 1024 * MB),
            connection: ConnectionUse::Reused,
            ceiling_kib: 64_000,
            working_set_bytes: None,
        }
    }

    /// A 100k-like ledger: 200 MB on disk, a hot set of 13.5 MB.
    fn hundred_k() -> CacheInputs {
        CacheInputs {
            working_set_bytes: Some(13 * MB + MB / 2),
            ..inputs(200)
        }
    }

    /// The rule before the working set: the database's size alone.
    fn whole_database_rule(inputs: CacheInputs) -> CacheChoice {
        choose(CacheInputs {
            working_set_bytes: None,
            ..inputs
        })
    }

    #[test]
    fn a_database_larger_than_the_ceiling_gets_its_hot_working_set() {
        let choice = choose(hundred_k());
        assert_eq!(
            (choice.kib, choice.reason),
            (17 * 1024, CacheReason::HotWorkingSet),
            "13.5 MB + 25 % rounded up to a MiB"
        );
        assert_ne!(
            whole_database_rule(hundred_k()),
            choice,
            "the whole-database rule gives the floor here and loses the recovery gain"
        );
        assert!(choice.kib > FLOOR_KIB && choice.kib < 64_000);
    }

    #[test]
    fn a_hot_set_outside_floor_and_ceiling_keeps_the_floor() {
        let million = choose(CacheInputs {
            working_set_bytes: Some(123 * MB),
            ..inputs(2000)
        });
        assert_eq!(
            (million.kib, million.reason),
            (FLOOR_KIB, CacheReason::LargerThanCeiling)
        );
        let idle = choose(CacheInputs {
            working_set_bytes: Some(MB),
            ..inputs(200)
        });
        assert_eq!(
            (idle.kib, idle.reason),
            (FLOOR_KIB, CacheReason::SmallDatabase)
        );
        let near = choose(CacheInputs {
            working_set_bytes: Some(60 * MB),
            ..inputs(200)
        });
        assert_eq!(near.kib, 64_000, "headroom is capped by the ceiling");
        let per_query = choose(CacheInputs {
            connection: ConnectionUse::PerQuery,
            ..hundred_k()
        });
        assert_eq!(per_query.reason, CacheReason::PerQueryConnection);
        let tight = choose(CacheInputs {
            available_bytes: Some(64 * MB),
            ..hundred_k()
        });
        assert_eq!(
            (tight.kib, tight.reason),
            (8 * 1024, CacheReason::MemoryBudget)
        );
    }

    #[test]
    fn grows_only_for_working_sets_between_floor_and_ceiling() {
        assert_eq!(choose(inputs(1)).kib, FLOOR_KIB);
        let mid = choose(inputs(20));
        assert_eq!(mid.reason, CacheReason::FitsWorkingSet);
        assert_eq!(mid.kib, 25 * 1024);
        assert_eq!(choose(inputs(60)).kib, 64_000);
        let big = choose(inputs(500));
        assert_eq!(
            (big.kib, big.reason),
            (FLOOR_KIB, CacheReason::LargerThanCeiling)
        );
    }

    #[test]
    fn per_query_connections_keep_the_floor() {
        let choice = choose(CacheInputs {
            connection: ConnectionUse::PerQuery,
            ..inputs(20)
        });
        assert_eq!(
            (choice.kib, choice.reason),
            (FLOOR_KIB, CacheReason::PerQueryConnection)
        );
    }

    #[test]
    fn the_memory_budget_caps_but_never_below_the_floor() {
        let tight = choose(CacheInputs {
            available_bytes: Some(80 * MB),
            ..inputs(40)
        });
        assert_eq!(
            (tight.kib, tight.reason),
            (10 * 1024, CacheReason::MemoryBudget)
        );
        let starved = choose(CacheInputs {
            available_bytes: Some(MB),
            ..inputs(40)
        });
        assert_eq!(starved.kib, FLOOR_KIB);
    }

    #[test]
    fn pressure_restores_only_after_a_calm_period() {
        let mut tracker = PressureTracker::new(1000);
        assert_eq!(tracker.observe(0, false), None);
        assert_eq!(tracker.observe(10, true), Some(PressureChange::Entered));
        assert_eq!(tracker.observe(20, true), None);
        assert_eq!(tracker.observe(30, false), None);
        assert_eq!(
            tracker.observe(500, true),
            None,
            "pressure came back: calm restarts"
        );
        assert_eq!(tracker.observe(600, false), None);
        assert_eq!(tracker.observe(1599, false), None);
        assert_eq!(tracker.observe(1600, false), Some(PressureChange::Cleared));
        assert!(!tracker.under_pressure());
    }
}
