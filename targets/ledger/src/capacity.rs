//! Capacity planning: a least-squares line through database-size samples
//! gives growth per day and the days left before a limit: [`Samples`] and [`forecast`].

use serde::{Deserialize, Serialize};

const MS_PER_DAY: f64 = 86_400_000.0;
/// Samples kept (one per maintenance day, so about three months).
pub const MAX_SAMPLES: usize = 90;

/// `(unix ms, database bytes)` pairs, oldest first; stored as JSON under `capacity.samples`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Samples(pub Vec<(i64, u64)>);

impl Samples {
    /// Parse the stored JSON; an unreadable value starts afresh.
    pub fn parse(text: Option<&str>) -> Samples {
        text.and_then(|text| serde_json::from_str(text).ok())
            .unwrap_or_default()
    }

    /// Add a sample, replacing one taken at the same moment and keeping the
    /// newest [`MAX_SAMPLES`].
    pub fn push(&mut self, at_ms: i64, bytes: u64) {
        self.0.retain(|(t, _)| *t != at_ms);
        self.0.push((at_ms, bytes));
        self.0.sort_by_key(|(t, _)| *t);
        let excess = self.0.len().saturating_sub(MAX_SAMPLES);
        self.0.drain(..excess);
    }
}

/// What the samples say about the future.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Forecast {
    /// Samples behind the fit.
    pub samples: usize,
    /// The fitted growth in bytes per day (`None` with fewer than 2 samples at distinct times).
    pub growth_bytes_per_day: Option<f64>,
    /// The configured limit.
    pub limit_bytes: u64,
    /// The latest size.
    pub current_bytes: u64,
    /// Days until the limit at the fitted growth (`None` when not growing).
    pub days_left: Option<f64>,
}

/// Fit `samples` (least squares) and project when `limit_bytes` is reached
/// from `current_bytes`.
pub fn forecast(samples: &Samples, current_bytes: u64, limit_bytes: u64) -> Forecast {
    let growth = slope_per_day(&samples.0);
    let days_left = growth.filter(|g| *g > 0.0).map(|g| {
        let room = limit_bytes.saturating_sub(current_bytes) as f64;
        room / g
    });
    Forecast {
        samples: samples.0.len(),
        growth_bytes_per_day: growth,
        limit_bytes,
        current_bytes,
        days_left,
    }
}

fn slope_per_day(points: &[(i64, u64)]) -> Option<f64> {
    if points.len() < 2 {
        return None;
    }
    let n = points.len() as f64;
    let origin = points[0].0;
    let xs: Vec<f64> = points
        .iter()
        .map(|(t, _)| (t - origin) as f64 / MS_PER_DAY)
        .collect();
    let ys: Vec<f64> = points.iter().map(|(_, b)| *b as f64).collect();
    let mean_x = xs.iter().sum::<f64>() / n;
    let mean_y = ys.iter().sum::<f64>() / n;
    let sxx: f64 = xs.iter().map(|x| (x - mean_x).powi(2)).sum();
    if sxx <= f64::EPSILON {
        return None;
    }
    let sxy: f64 = xs
        .iter()
        .zip(&ys)
        .map(|(x, y)| (x - mean_x) * (y - mean_y))
        .sum();
    Some(sxy / sxx)
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: i64 = 86_400_000;

    #[test]
    fn linear_growth_is_fitted_exactly() {
        let mut samples = Samples::default();
        for day in 0..10 {
            samples.push(day * DAY, 1_000 + 500 * day as u64);
        }
        let forecast = forecast(&samples, 5_500, 10_500);
        assert!((forecast.growth_bytes_per_day.expect("fit") - 500.0).abs() < 1e-6);
        assert!((forecast.days_left.expect("growing") - 10.0).abs() < 1e-6);
    }

    #[test]
    fn one_sample_or_shrinking_gives_no_days_left() {
        let mut samples = Samples::default();
        samples.push(0, 100);
        assert_eq!(forecast(&samples, 100, 1_000).growth_bytes_per_day, None);
        samples.push(DAY, 50);
        let shrinking = forecast(&samples, 50, 1_000);
        assert!(shrinking.growth_bytes_per_day.expect("fit") < 0.0);
        assert_eq!(shrinking.days_left, None);
    }

    #[test]
    fn keeps_the_newest_samples_and_round_trips() {
        let mut samples = Samples::default();
        for day in 0..(MAX_SAMPLES as i64 + 5) {
            samples.push(day * DAY, 1);
        }
        samples.push(3 * DAY + DAY * 90, 2);
        assert_eq!(samples.0.len(), MAX_SAMPLES);
        assert_eq!(samples.0[0].0, 5 * DAY);
        let text = serde_json::to_string(&samples).expect("json");
        assert_eq!(Samples::parse(Some(&text)), samples);
    }
}
