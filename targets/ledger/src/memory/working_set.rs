//! The hot queries' working set ([`WorkingSet`], [`measure`]): the bytes of
//! page cache the recovery and export-ready queries touch on a warm
//! connection, estimated cheaply from the recovery index.
//!
//! Both queries read the non-terminal captures (export-ready a subset of
//! them) through small indexes: the partial `captures_recoverable` and the
//! `transcribed`/`failed_transcription` range of `captures_status_created`.
//! Non-terminal rows are scattered through the table (a capture stays
//! pending while newer ones are exported), so each one costs a table page of
//! its own, or more when a row overflows. The estimate is therefore
//!
//! ```text
//! hot_rows × pages_per_row × page_size      the table pages of the hot rows
//! + hot_rows × 128                          their entries in the two indexes
//! + database / 256                          interior pages on the way down
//! ```
//!
//! `hot_rows` is a `count(*)` over the partial index (it never touches the
//! table); `pages_per_row` comes from the mean size of up to 64 hot rows.
//! At 100k captures with a 3 % backlog (a 200 MB database) this is about
//! 3 000 rows × 1 page × 4 KiB + 0.4 MB + 0.8 MB ≈ 13.5 MB, and reading it
//! costs about 3 000 index entries and 64 rows. Dedup's point lookups are
//! left out on purpose: they walk the whole hash index and table, and the
//! measured gain of any cache on them is within noise (their misses are
//! served from the OS cache).

use rusqlite::Connection;

use crate::schema::NON_TERMINAL_IN;

/// Index bytes counted per hot row (two index entries with their share of a page).
pub const INDEX_BYTES_PER_HOT_ROW: u64 = 128;
/// The share of the database counted for interior pages (1 / this).
pub const INTERIOR_SHARE: u64 = 256;
/// Hot rows whose size is sampled.
pub const SAMPLED_ROWS: u32 = 64;
/// Bytes of a table leaf page not available to a row's payload (page
/// header, cell pointer, reserved checksum bytes), rounded up.
const PAGE_OVERHEAD: u64 = 64;

/// What [`measure`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WorkingSet {
    /// Non-terminal captures (what recovery reads).
    pub hot_rows: u64,
    /// Table pages one hot row occupies (1 unless rows overflow a page).
    pub pages_per_row: u64,
    /// The estimated working set, in bytes (never more than the database).
    pub bytes: u64,
}

impl WorkingSet {
    /// The estimate for `hot_rows` rows of `mean_row_bytes` in a database of
    /// `db_bytes` with `page_size` pages (see the module doc).
    pub fn estimate(hot_rows: u64, mean_row_bytes: u64, page_size: u64, db_bytes: u64) -> Self {
        let usable = page_size.saturating_sub(PAGE_OVERHEAD).max(1);
        let pages_per_row = mean_row_bytes.div_ceil(usable).max(1);
        let bytes = hot_rows
            .saturating_mul(pages_per_row)
            .saturating_mul(page_size)
            .saturating_add(hot_rows.saturating_mul(INDEX_BYTES_PER_HOT_ROW))
            .saturating_add(db_bytes / INTERIOR_SHARE);
        WorkingSet {
            hot_rows,
            pages_per_row,
            bytes: bytes.min(db_bytes),
        }
    }
}

/// Measures the working set of the ledger database on `conn`.
///
/// # Errors
/// SQLite errors, e.g. when `conn` is not a ledger database (no
/// `captures_recoverable` index).
pub fn measure(conn: &Connection) -> rusqlite::Result<WorkingSet> {
    let hot_rows: i64 = conn.query_row(
        &format!(
            "SELECT count(*) FROM captures INDEXED BY captures_recoverable
             WHERE status IN {NON_TERMINAL_IN}"
        ),
        [],
        |row| row.get(0),
    )?;
    let mean_row_bytes: Option<f64> = conn.query_row(
        &format!(
            "SELECT avg(row_bytes) FROM (
                 SELECT octet_length(id) + octet_length(source) + octet_length(raw_content)
                        + ifnull(octet_length(content_hash), 0) + octet_length(status)
                        + octet_length(meta_json) + 16 AS row_bytes
                 FROM captures INDEXED BY captures_recoverable
                 WHERE status IN {NON_TERMINAL_IN}
                 LIMIT {SAMPLED_ROWS})"
        ),
        [],
        |row| row.get(0),
    )?;
    let pragma = |name: &str| -> rusqlite::Result<u64> {
        conn.query_row(&format!("PRAGMA {name}"), [], |row| row.get::<_, i64>(0))
            .map(|value| value.max(0) as u64)
    };
    let page_size = pragma("page_size")?.max(512);
    let db_bytes = pragma("page_count")? * page_size;
    Ok(WorkingSet::estimate(
        hot_rows.max(0) as u64,
        mean_row_bytes.unwrap_or(0.0).ceil() as u64,
        page_size,
        db_bytes,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    const MB: u64 = 1024 * 1024;

    #[test]
    fn a_100k_like_backlog_is_about_13_mb_of_a_200_mb_database() {
        let set = WorkingSet::estimate(3_000, 1_200, 4096, 200 * MB);
        assert_eq!(set.pages_per_row, 1);
        assert_eq!(
            set.bytes,
            3_000 * 4096 + 3_000 * INDEX_BYTES_PER_HOT_ROW + 200 * MB / INTERIOR_SHARE
        );
        assert!((13_000_000..14_000_000).contains(&set.bytes), "{set:?}");
    }

    #[test]
    fn overflowing_rows_cost_more_pages_and_the_estimate_never_exceeds_the_database() {
        assert_eq!(
            WorkingSet::estimate(10, 9_000, 4096, 100 * MB).pages_per_row,
            3
        );
        let all_hot = WorkingSet::estimate(5_000, 1_000, 4096, 8 * MB);
        assert_eq!(all_hot.bytes, 8 * MB);
        assert_eq!(
            WorkingSet::estimate(0, 0, 4096, 40 * MB).bytes,
            40 * MB / 256
        );
    }
}
