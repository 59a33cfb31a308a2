//! A fixed-size log-scale latency histogram: [`Histogram`].
//!
//! Bucket `i` holds values up to `floor(2^(i / 8))` microseconds (about 9 %
//! apart), from 1 µs to about 8.6 hours; a percentile is the upper bound of
//! the bucket it falls in, so it never under-reports. Recording is O(1) and
//! allocation-free.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Sub-buckets per power of two.
const PER_OCTAVE: f64 = 8.0;
/// Bucket count: 2^(279/8) µs ≈ 8.6 h; longer values go in the last bucket.
const BUCKETS: usize = 280;

/// Latencies of one operation.
#[derive(Debug, Clone)]
pub struct Histogram {
    counts: [u64; BUCKETS],
    count: u64,
    sum_us: u64,
    max_us: u64,
}

impl Default for Histogram {
    fn default() -> Histogram {
        Histogram {
            counts: [0; BUCKETS],
            count: 0,
            sum_us: 0,
            max_us: 0,
        }
    }
}

/// The bucket a value of `us` microseconds falls in.
fn bucket_of(us: u64) -> usize {
    if us <= 1 {
        return 0;
    }
    let index = ((us as f64).log2() * PER_OCTAVE).ceil();
    (index as usize).min(BUCKETS - 1)
}

/// The largest value bucket `index` holds, in microseconds.
fn upper_bound(index: usize) -> u64 {
    (2f64.powf(index as f64 / PER_OCTAVE)).floor() as u64
}

impl Histogram {
    /// Record one latency.
    pub fn record(&mut self, latency: Duration) {
        self.record_us(u64::try_from(latency.as_micros()).unwrap_or(u64::MAX));
    }

    /// Record one latency given in microseconds.
    pub fn record_us(&mut self, us: u64) {
        self.counts[bucket_of(us)] += 1;
        self.count += 1;
        self.sum_us = self.sum_us.saturating_add(us);
        self.max_us = self.max_us.max(us);
    }

    /// The values recorded since `earlier` was copied from this histogram
    /// (the maximum is kept, as it cannot be subtracted).
    pub fn since(&self, earlier: &Histogram) -> Histogram {
        let mut counts = [0; BUCKETS];
        for (slot, (now, then)) in counts
            .iter_mut()
            .zip(self.counts.iter().zip(&earlier.counts))
        {
            *slot = now.saturating_sub(*then);
        }
        Histogram {
            counts,
            count: self.count.saturating_sub(earlier.count),
            sum_us: self.sum_us.saturating_sub(earlier.sum_us),
            max_us: self.max_us,
        }
    }

    /// Values recorded.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// The value at quantile `q` (0 < q ≤ 1) in microseconds, rounded up to
    /// its bucket's bound and never above the maximum seen; 0 when empty.
    pub fn quantile_us(&self, q: f64) -> u64 {
        if self.count == 0 {
            return 0;
        }
        let rank = ((q.clamp(0.0, 1.0) * self.count as f64).ceil() as u64).max(1);
        let mut seen = 0;
        for (index, count) in self.counts.iter().enumerate() {
            seen += count;
            if seen >= rank {
                return upper_bound(index).max(1).min(self.max_us);
            }
        }
        self.max_us
    }

    /// Count, mean, p50, p95, p99 and max.
    pub fn summary(&self) -> LatencySummary {
        LatencySummary {
            count: self.count,
            mean_us: self.sum_us.checked_div(self.count).unwrap_or(0),
            p50_us: self.quantile_us(0.50),
            p95_us: self.quantile_us(0.95),
            p99_us: self.quantile_us(0.99),
            max_us: self.max_us,
        }
    }
}

/// A histogram reduced to the figures health and reports show.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LatencySummary {
    /// Values recorded.
    pub count: u64,
    /// Mean, in microseconds.
    pub mean_us: u64,
    /// Median, in microseconds (bucket upper bound).
    pub p50_us: u64,
    /// 95th percentile, in microseconds (bucket upper bound).
    pub p95_us: u64,
    /// 99th percentile, in microseconds (bucket upper bound).
    pub p99_us: u64,
    /// The largest value, in microseconds.
    pub max_us: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_histogram_reports_zeros() {
        assert_eq!(Histogram::default().summary(), LatencySummary::default());
    }

    #[test]
    fn percentiles_of_recorded_values_are_within_a_bucket() {
        let mut histogram = Histogram::default();
        for us in 1..=1000 {
            histogram.record_us(us);
        }
        let summary = histogram.summary();
        assert_eq!(summary.count, 1000);
        assert_eq!(summary.max_us, 1000);
        for (got, exact) in [
            (summary.p50_us, 500),
            (summary.p95_us, 950),
            (summary.p99_us, 990),
        ] {
            assert!(
                got >= exact && got as f64 <= exact as f64 * 1.1,
                "{got} vs {exact}"
            );
        }
        assert!(summary.p50_us <= summary.p95_us && summary.p95_us <= summary.p99_us);
    }

    #[test]
    fn a_slow_tail_shows_in_p99_not_p50() {
        let mut histogram = Histogram::default();
        for _ in 0..98 {
            histogram.record(Duration::from_micros(100));
        }
        for _ in 0..2 {
            histogram.record(Duration::from_millis(50));
        }
        let summary = histogram.summary();
        assert!(summary.p50_us >= 100 && summary.p50_us < 110);
        assert!(summary.p95_us < 110);
        assert_eq!(summary.p99_us, 50_000);
    }

    #[test]
    fn since_keeps_only_newer_values() {
        let mut histogram = Histogram::default();
        histogram.record_us(10);
        let mark = histogram.clone();
        histogram.record_us(1_000);
        histogram.record_us(1_000);
        let newer = histogram.since(&mark);
        assert_eq!(newer.count(), 2);
        assert!(newer.quantile_us(0.5) >= 1_000);
    }

    #[test]
    fn huge_values_land_in_the_last_bucket() {
        let mut histogram = Histogram::default();
        histogram.record_us(u64::MAX);
        assert_eq!(histogram.quantile_us(0.5), upper_bound(BUCKETS - 1));
    }

    #[test]
    fn bucket_bounds_hold_their_values() {
        for us in [1, 2, 3, 7, 100, 12_345, 9_999_999] {
            assert!(upper_bound(bucket_of(us)) >= us, "{us}");
            assert!(
                bucket_of(us) == 0 || upper_bound(bucket_of(us) - 1) < us,
                "{us}"
            );
        }
    }
}
