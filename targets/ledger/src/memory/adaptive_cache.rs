//! The cache-size rule ([`choose`]) and memory-pressure hysteresis ([`PressureTracker`]).
//!
//! Measured on this kind of machine: a 64 MB page cache beats SQLite's 2 MB
//! default (about 2x) only when a query's working set is 2-64 MB *and* the
//! connection is reused; it is 35-47 % slower on scans larger than 64 MB
//! (every page misses anyway, and the bigger cache only adds bookkeeping) and
//! 10-25 % slower with a fresh connection per query (the cache is never
//! warm). So the rule grows the cache only where the gain lives:
//!
//! 1. a connection opened per query gets the floor (2 MB);
//! 2. a database no larger than the floor gets the floor (it already fits);
//! 3. a database larger than the ceiling (`cache-size`, 64 MB by default)
//!    gets the floor: its scans cannot fit, and the big cache only loses;
//! 4. otherwise the database (its working set's upper bound) plus 25 %,
//!    rounded up to a MiB, capped by the ceiling and by a memory budget of
//!    1/8 of the available memory (cgroup headroom or `MemAvailable`), never
//!    below the floor.
//!
//! Under memory pressure the ledger drops to the floor and releases what
//! SQLite can spare; it restores the chosen size only after the pressure has
//! been gone for `pressure-calm-ms` ([`PressureTracker`]).

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
}

/// Why the rule chose its size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheReason {
    /// Fresh connection per query: a big cache would never be warm.
    PerQueryConnection,
    /// The database fits in the floor.
    SmallDatabase,
    /// The database is larger than the ceiling: scans would only thrash.
    LargerThanCeiling,
    /// The working set fits: cache it all.
    FitsWorkingSet,
    /// Limited by the memory budget.
    MemoryBudget,
    /// Memory pressure: the floor until it passes.
    Pressure,
    /// `adaptive-cache` is off: the configured `cache-size`.
    Configured,
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
    let floor = CacheChoice {
        kib: FLOOR_KIB,
        reason: CacheReason::SmallDatabase,
    };
    let ceiling = inputs.ceiling_kib.max(FLOOR_KIB);
    let db_kib = inputs.db_bytes.div_ceil(1024);
    if inputs.connection == ConnectionUse::PerQuery {
        return CacheChoice {
            reason: CacheReason::PerQueryConnection,
            ..floor
        };
    }
    if db_kib <= FLOOR_KIB {
        return floor;
    }
    if db_kib > ceiling {
        return CacheChoice {
            reason: CacheReason::LargerThanCeiling,
            ..floor
        };
    }
    let wanted = (db_kib + db_kib / 4).div_ceil(1024) * 1024;
    let wanted = wanted.min(ceiling);
    match inputs.available_bytes.map(|b| b / 8 / 1024) {
        Some(budget) if budget < wanted => CacheChoice {
            kib: budget.max(FLOOR_KIB),
            reason: CacheReason::MemoryBudget,
        },
        _ => CacheChoice {
            kib: wanted,
            reason: CacheReason::FitsWorkingSet,
        },
    }
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

    fn inputs(db_mb: u64) -> CacheInputs {
        CacheInputs {
            db_bytes: db_mb * MB,
            available_bytes: Some(8 * 1024 * MB),
            connection: ConnectionUse::Reused,
            ceiling_kib: 64_000,
        }
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
