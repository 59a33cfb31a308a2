//! New captures for the write benches, unique per counter value:
//! [`new_capture`] for `Ledger::stage`, [`insert_raw`] for the same row
//! through plain SQL (so the before schema can take it too), and
//! [`Percentiles`] for per-call latencies.

use std::time::Duration;

use rusqlite::Connection;
use ulid::Ulid;

use crate::{BenchError, sql_err};
use perfkit::{START_MS, YEAR_MS};

/// The ledger's insert, as `ops/stage.rs` runs it.
pub const INSERT_SQL: &str = "INSERT INTO captures
   (id, source, raw_content, content_hash, status, meta_json, created_at, updated_at)
 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7)";

fn body(n: u64) -> String {
    let mut text = format!("bench capture {n}:");
    while text.len() < 1000 {
        text.push_str(" remember to reply to the client about the budget");
    }
    text
}

/// An email capture with a unique body (about 1 KB) and channel id.
pub fn new_capture(n: u64) -> ledger::NewCapture {
    ledger::NewCapture {
        source: ledger::Source::Email,
        raw_content: body(n),
        channel: Some("bench".into()),
        channel_native_id: Some(format!("b{n}")),
    }
}

/// Inserts capture `n` as staged with [`INSERT_SQL`] (no transaction of its own).
///
/// # Errors
/// [`BenchError::Sqlite`].
pub fn insert_raw(conn: &Connection, n: u64) -> Result<(), BenchError> {
    let created = START_MS + YEAR_MS + n as i64;
    let raw = body(n);
    conn.prepare_cached(INSERT_SQL)
        .and_then(|mut stmt| {
            stmt.execute((
                Ulid::from_parts(created as u64, u128::from(n)).to_string(),
                "email",
                &raw,
                ledger::content_hash(&raw),
                "staged",
                format!(r#"{{"channel":"bench","channel_native_id":"b{n}"}}"#),
                created,
            ))
        })
        .map_err(sql_err("insert a bench capture"))?;
    Ok(())
}

/// p50, p95 and p99 of a set of latencies.
#[derive(Debug, Clone, Copy)]
pub struct Percentiles {
    /// Median.
    pub p50: Duration,
    /// 95th percentile.
    pub p95: Duration,
    /// 99th percentile.
    pub p99: Duration,
}

impl Percentiles {
    /// Nearest-rank percentiles of `samples`; `None` when empty.
    pub fn of(mut samples: Vec<Duration>) -> Option<Percentiles> {
        if samples.is_empty() {
            return None;
        }
        samples.sort();
        let at = |q: f64| samples[((samples.len() - 1) as f64 * q).round() as usize];
        Some(Percentiles {
            p50: at(0.50),
            p95: at(0.95),
            p99: at(0.99),
        })
    }
}

impl std::fmt::Display for Percentiles {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "p50 {:.1} µs, p95 {:.1} µs, p99 {:.1} µs",
            self.p50.as_secs_f64() * 1e6,
            self.p95.as_secs_f64() * 1e6,
            self.p99.as_secs_f64() * 1e6
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_by_nearest_rank() {
        let samples = (1..=100).map(Duration::from_micros).collect();
        let p = Percentiles::of(samples).unwrap();
        assert_eq!(p.p50, Duration::from_micros(51));
        assert_eq!(p.p95, Duration::from_micros(95));
        assert_eq!(p.p99, Duration::from_micros(99));
        assert!(Percentiles::of(Vec::new()).is_none());
    }
}
