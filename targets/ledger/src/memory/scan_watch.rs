//! Recognising a connection whose reads are dominated by scans larger than its
//! cache: [`ScanWatch`], followed on a live connection by [`follow`].
//!
//! The adaptive rule sizes a reused connection's cache to the hot queries'
//! working set ([`super::adaptive_cache`]). A full scan of a table larger than
//! that cache misses on every page whatever the cache's size, and a bigger
//! cache makes each miss dearer: measured at 100k captures (200 MB), the
//! 17 MiB hot-set cache costs a full scan about 7 % against SQLite's 2 MB
//! default, the 64 MB cache 14-23 % (benches/RESULTS.md; most likely the
//! recycled page buffers are colder in the CPU caches).
//!
//! SQLite's per-connection counters (`SQLITE_DBSTATUS_CACHE_HIT` and
//! `_MISS`) tell the two apart. The watch looks at them in *windows*: a window
//! closes once the connection has missed twice as many pages as the chosen
//! cache holds (the cache was refilled twice over). A hot set that fits the
//! cache stops missing once warm, so its window never closes; a window that
//! closes with fewer hits than misses means the big cache is not holding
//! anything the connection reads again: the connection is scan-dominated and
//! gets the floor (SQLite's default). After [`RETRY_AFTER_WINDOWS`] windows
//! at the floor the chosen cache is tried again (the workload may have
//! changed), and dropped again after one window if the scans go on.

use rusqlite::Connection;

use super::adaptive_cache::{CacheChoice, CacheReason, FLOOR_KIB};

/// Windows closed at the floor before the chosen cache is tried again. At
/// most one window closes per look at the counters: the ledger looks at each
/// memory poll (every second by default), the perf arms after each query. Each
/// retry costs one window of misses at the chosen size; with 8 the adaptive
/// scan claim still lost up to 5 % (one scan in nine at 17 MiB).
pub const RETRY_AFTER_WINDOWS: u32 = 32;

/// The watch's state (see the module doc).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScanWatch {
    /// (hits, misses) when the current window opened.
    window_start: Option<(u64, u64)>,
    /// Windows closed at the floor since the connection was found scan-dominated.
    floor_windows: Option<u32>,
}

impl ScanWatch {
    /// Whether the connection is currently judged scan-dominated.
    pub fn scan_dominated(&self) -> bool {
        self.floor_windows.is_some()
    }

    /// Feed the connection's cumulative cache counters; `window_pages` is the
    /// chosen cache's size in pages. Returns the new judgement when it changes.
    pub fn observe(&mut self, hits: u64, misses: u64, window_pages: u64) -> Option<bool> {
        let (hits_at, misses_at) = *self.window_start.get_or_insert((hits, misses));
        let missed = misses.saturating_sub(misses_at);
        if missed < 2 * window_pages.max(1) {
            return None;
        }
        let hit = hits.saturating_sub(hits_at);
        self.window_start = Some((hits, misses));
        match self.floor_windows {
            None if hit < missed => {
                self.floor_windows = Some(0);
                Some(true)
            }
            None => None,
            Some(n) if n + 1 >= RETRY_AFTER_WINDOWS => {
                self.floor_windows = None;
                Some(false)
            }
            Some(n) => {
                self.floor_windows = Some(n + 1);
                None
            }
        }
    }

    /// The cache a connection gets: `chosen` (the rule's answer), or the
    /// floor while the connection is scan-dominated. A choice at the floor
    /// already is returned as is.
    pub fn cache_for(&self, chosen: CacheChoice) -> CacheChoice {
        if self.scan_dominated() && chosen.kib > FLOOR_KIB {
            CacheChoice {
                kib: FLOOR_KIB,
                reason: CacheReason::ScanDominated,
            }
        } else {
            chosen
        }
    }
}

/// One step of the watch on `conn`, whose rule chose `chosen`: read the
/// connection's cache counters, [`ScanWatch::observe`] them, and when the
/// judgement changes set `cache_size` to [`ScanWatch::cache_for`] and return
/// that choice. Nothing happens when `chosen` is the floor already.
///
/// # Errors
/// SQLite errors reading `page_size` or setting `cache_size`.
pub fn follow(
    conn: &Connection,
    watch: &mut ScanWatch,
    chosen: CacheChoice,
) -> rusqlite::Result<Option<CacheChoice>> {
    if chosen.kib <= FLOOR_KIB {
        return Ok(None);
    }
    let (Some(hits), Some(misses)) = crate::metrics::cache_counters(conn) else {
        return Ok(None);
    };
    let page_size: i64 = conn.query_row("PRAGMA page_size", [], |row| row.get(0))?;
    let window_pages = chosen.kib * 1024 / u64::try_from(page_size.max(512)).unwrap_or(4096);
    if watch.observe(hits, misses, window_pages).is_none() {
        return Ok(None);
    }
    let now = watch.cache_for(chosen);
    conn.pragma_update(
        None,
        "cache_size",
        -i64::try_from(now.kib).unwrap_or(i64::MAX),
    )?;
    Ok(Some(now))
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOT: CacheChoice = CacheChoice {
        kib: 17 * 1024,
        reason: CacheReason::HotWorkingSet,
    };

    #[test]
    fn a_warm_hot_set_never_closes_a_window() {
        let mut watch = ScanWatch::default();
        let pages = 4352;
        assert_eq!(watch.observe(0, 0, pages), None);
        // cold start: the hot set (3 300 pages) misses once, then only hits
        assert_eq!(watch.observe(500, 3_300, pages), None);
        for round in 1..100 {
            assert_eq!(watch.observe(500 + round * 40_000, 3_300, pages), None);
        }
        assert!(!watch.scan_dominated());
        assert_eq!(watch.cache_for(HOT), HOT);
    }

    #[test]
    fn a_scan_larger_than_the_cache_gets_the_floor_then_a_retry() {
        let mut watch = ScanWatch::default();
        let pages = 4352;
        watch.observe(0, 0, pages);
        assert_eq!(watch.observe(900, 50_000, pages), Some(true));
        assert_eq!(watch.cache_for(HOT).kib, FLOOR_KIB);
        assert_eq!(watch.cache_for(HOT).reason, CacheReason::ScanDominated);
        let mut misses = 50_000;
        for _ in 1..RETRY_AFTER_WINDOWS {
            misses += 2 * pages;
            assert_eq!(watch.observe(900, misses, pages), None);
        }
        misses += 2 * pages;
        assert_eq!(watch.observe(900, misses, pages), Some(false));
        assert_eq!(watch.cache_for(HOT), HOT, "the chosen cache is tried again");
    }

    #[test]
    fn a_window_of_mostly_hits_keeps_the_cache() {
        let mut watch = ScanWatch::default();
        watch.observe(0, 0, 100);
        assert_eq!(watch.observe(1_000, 300, 100), None);
        assert!(!watch.scan_dominated());
    }

    fn table_of(rows: u32) -> (tempfile::TempDir, Connection) {
        let dir = tempfile::tempdir().expect("dir");
        let conn = Connection::open(dir.path().join("t.db")).expect("open");
        conn.execute_batch(&format!(
            "PRAGMA page_size = 512; CREATE TABLE t(x);
             WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {rows})
             INSERT INTO t SELECT zeroblob(400) FROM n;"
        ))
        .expect("fill");
        (dir, conn)
    }

    fn scan(conn: &Connection) {
        let _: i64 = conn
            .query_row("SELECT sum(length(x)) FROM t", [], |row| row.get(0))
            .expect("scan");
    }

    #[test]
    fn following_a_real_connection_drops_a_scanned_cache_to_the_floor() {
        let chosen = CacheChoice {
            kib: FLOOR_KIB + 48,
            reason: CacheReason::HotWorkingSet,
        };
        let (_dir, conn) = table_of(12_000);
        conn.pragma_update(None, "cache_size", -i64::try_from(chosen.kib).unwrap())
            .expect("cache");
        let mut watch = ScanWatch::default();
        assert_eq!(follow(&conn, &mut watch, chosen).expect("follow"), None);
        scan(&conn);
        let now = follow(&conn, &mut watch, chosen).expect("follow");
        assert_eq!(now.map(|c| c.reason), Some(CacheReason::ScanDominated));
        let size: i64 = conn
            .query_row("PRAGMA cache_size", [], |row| row.get(0))
            .expect("cache_size");
        assert_eq!(size, -i64::try_from(FLOOR_KIB).unwrap());
    }

    #[test]
    fn following_a_real_connection_keeps_a_cache_that_holds_its_reads() {
        let chosen = CacheChoice {
            kib: FLOOR_KIB + 48,
            reason: CacheReason::HotWorkingSet,
        };
        let (_dir, conn) = table_of(2_000);
        conn.pragma_update(None, "cache_size", -i64::try_from(chosen.kib).unwrap())
            .expect("cache");
        let mut watch = ScanWatch::default();
        for _ in 0..20 {
            scan(&conn);
            assert_eq!(follow(&conn, &mut watch, chosen).expect("follow"), None);
        }
        assert!(!watch.scan_dominated());
    }
}
