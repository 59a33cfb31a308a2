//! The median and its seeded percentile-bootstrap interval ([`RatioEstimate`]), and the
//! sign-flip null of an A/A control ([`sign_flip_null_interval`]; over several connection sets,
//! [`sign_flip_null_by_set`]): how far from 1 the median ratio of two equally fast arms
//! falls by chance.

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use super::error::PerfError;

/// A median ratio with its bootstrap confidence interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RatioEstimate {
    /// The median of the per-pair ratios.
    pub median: f64,
    /// Lower bound of the interval.
    pub low: f64,
    /// Upper bound of the interval.
    pub high: f64,
    /// The interval's confidence level (e.g. 0.95).
    pub confidence: f64,
    /// How many pairs the ratios came from.
    pub pairs: usize,
}

impl RatioEstimate {
    /// Whether `value` lies within the interval (bounds included).
    pub fn contains(&self, value: f64) -> bool {
        self.low <= value && value <= self.high
    }

    /// How far the interval reaches from 1 on either side: the noise an A/A
    /// control shows (0 = no noise at all).
    pub fn spread_from_one(&self) -> f64 {
        (1.0 - self.low).abs().max((self.high - 1.0).abs())
    }
}

impl std::fmt::Display for RatioEstimate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{:.2}x [{:.2}, {:.2}] ({:.0} % CI, {} pairs)",
            self.median,
            self.low,
            self.high,
            self.confidence * 100.0,
            self.pairs
        )
    }
}

/// The median of `values` (the mean of the two middle values for an even count).
///
/// # Errors
/// [`PerfError::NoSamples`] when `values` is empty.
pub fn median(values: &[f64]) -> Result<f64, PerfError> {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let n = sorted.len();
    match n {
        0 => Err(PerfError::NoSamples),
        _ if n % 2 == 1 => Ok(sorted[n / 2]),
        _ => Ok((sorted[n / 2 - 1] + sorted[n / 2]) / 2.0),
    }
}

/// The median of `ratios` with a percentile-bootstrap interval at
/// `confidence`, from `resamples` resamples drawn with a ChaCha8 rng seeded
/// by `seed` (same inputs, same interval).
///
/// # Errors
/// [`PerfError::NoSamples`] for no ratios; [`PerfError::InvalidConfig`] for
/// zero resamples or a confidence outside (0, 1).
pub fn bootstrap_median_interval(
    ratios: &[f64],
    resamples: usize,
    confidence: f64,
    seed: u64,
) -> Result<RatioEstimate, PerfError> {
    let estimate = resampled_medians(ratios, None, resamples, confidence, seed, false)?;
    Ok(RatioEstimate {
        median: median(ratios)?,
        ..estimate
    })
}

/// The null distribution of the median ratio of two equally fast arms, from an A/A control's
/// per-pair `ratios`: each of `resamples` resamples draws the pairs with replacement and inverts
/// each drawn ratio with probability 1/2, because an A/A pair has no orientation (which of its
/// two baseline samples is the numerator is arbitrary). The result is centred on 1 whatever
/// median the control landed on by chance, and spread as a median of `ratios.len()` pair
/// ratios is: its `low` is the lowest median ratio an equally fast candidate plausibly shows
/// (one-sided at `(1 - confidence) / 2`), its `median` the null's own (about 1).
///
/// # Errors
/// As [`bootstrap_median_interval`].
pub fn sign_flip_null_interval(
    ratios: &[f64],
    resamples: usize,
    confidence: f64,
    seed: u64,
) -> Result<RatioEstimate, PerfError> {
    resampled_medians(ratios, None, resamples, confidence, seed, true)
}

/// [`sign_flip_null_interval`] for an A/A control measured on several connection sets:
/// `set_of[i]` is the set ratio `i` was measured on (its own baseline and twin connections).
/// Each resample picks one set at random and draws all `ratios.len()` pairs from that set's
/// ratios (inverting each at random), so the null is spread as the median ratio of one pair of
/// connections is: by the offset between them (where their page buffers lie, measured up to
/// ±1-3 % between equally configured connections on a full scan) as well as by the pairs'
/// noise, while the A/B median averages that offset over the sets. With one set this is
/// [`sign_flip_null_interval`] exactly.
///
/// # Errors
/// As [`bootstrap_median_interval`]; [`PerfError::InvalidConfig`] when `set_of` is not one
/// entry per ratio.
pub fn sign_flip_null_by_set(
    ratios: &[f64],
    set_of: &[usize],
    resamples: usize,
    confidence: f64,
    seed: u64,
) -> Result<RatioEstimate, PerfError> {
    if set_of.len() != ratios.len() {
        return Err(PerfError::InvalidConfig(format!(
            "{} set indexes for {} ratios",
            set_of.len(),
            ratios.len()
        )));
    }
    let mut sets: Vec<Vec<f64>> = Vec::new();
    for (&ratio, &set) in ratios.iter().zip(set_of) {
        if sets.len() <= set {
            sets.resize(set + 1, Vec::new());
        }
        sets[set].push(ratio);
    }
    sets.retain(|ratios| !ratios.is_empty());
    if sets.len() <= 1 {
        return sign_flip_null_interval(ratios, resamples, confidence, seed);
    }
    resampled_medians(ratios, Some(&sets), resamples, confidence, seed, true)
}

/// The percentile interval and the median of `resamples` resampled medians of `ratios.len()`
/// draws from `ratios`, each ratio inverted at random when `flip`; with `groups`, each resample
/// draws from one group picked at random.
fn resampled_medians(
    ratios: &[f64],
    groups: Option<&[Vec<f64>]>,
    resamples: usize,
    confidence: f64,
    seed: u64,
    flip: bool,
) -> Result<RatioEstimate, PerfError> {
    if resamples == 0 {
        return Err(PerfError::InvalidConfig(
            "resamples must be at least 1".into(),
        ));
    }
    if !(confidence > 0.0 && confidence < 1.0) {
        return Err(PerfError::InvalidConfig(format!(
            "confidence {confidence} is not between 0 and 1"
        )));
    }
    if ratios.is_empty() {
        return Err(PerfError::NoSamples);
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut resample = vec![0.0; ratios.len()];
    let mut medians = Vec::with_capacity(resamples);
    for _ in 0..resamples {
        let from = match groups {
            Some(groups) => &groups[rng.random_range(0..groups.len())],
            None => ratios,
        };
        for slot in resample.iter_mut() {
            let ratio = from[rng.random_range(0..from.len())];
            *slot = if flip && rng.random_bool(0.5) {
                1.0 / ratio
            } else {
                ratio
            };
        }
        medians.push(median(&resample)?);
    }
    medians.sort_by(f64::total_cmp);
    let tail = (1.0 - confidence) / 2.0;
    Ok(RatioEstimate {
        median: percentile(&medians, 0.5),
        low: percentile(&medians, tail),
        high: percentile(&medians, 1.0 - tail),
        confidence,
        pairs: ratios.len(),
    })
}

/// The `q` quantile (0..=1) of sorted, non-empty `values`, nearest rank.
fn percentile(sorted: &[f64], q: f64) -> f64 {
    let last = sorted.len() - 1;
    let rank = (q * last as f64).round() as usize;
    sorted[rank.min(last)]
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Synthetic ratios around `true_ratio`: multiplicative noise of up to ±`noise`.
    fn synthetic(true_ratio: f64, noise: f64, n: usize, seed: u64) -> Vec<f64> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        (0..n)
            .map(|_| true_ratio * (1.0 + rng.random_range(-noise..=noise)))
            .collect()
    }

    #[test]
    fn median_of_odd_and_even_counts() {
        assert_eq!(median(&[3.0, 1.0, 2.0]).unwrap(), 2.0);
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]).unwrap(), 2.5);
        assert!(matches!(median(&[]), Err(PerfError::NoSamples)));
    }

    #[test]
    fn interval_contains_the_true_ratio_at_about_its_confidence() {
        let seeds = 0..100u64;
        let covered = seeds
            .clone()
            .filter(|&seed| {
                let ratios = synthetic(5.0, 0.2, 41, seed);
                let estimate = bootstrap_median_interval(&ratios, 1000, 0.95, seed).unwrap();
                assert!(estimate.low <= estimate.median && estimate.median <= estimate.high);
                estimate.contains(5.0)
            })
            .count();
        assert!(covered >= 88, "covered {covered} of {}", seeds.count());
    }

    #[test]
    fn interval_is_deterministic_for_a_seed() {
        let ratios = synthetic(2.0, 0.3, 31, 7);
        let first = bootstrap_median_interval(&ratios, 500, 0.9, 11).unwrap();
        let second = bootstrap_median_interval(&ratios, 500, 0.9, 11).unwrap();
        assert_eq!(first, second);
    }

    #[test]
    fn interval_narrows_with_less_noise() {
        let noisy = bootstrap_median_interval(&synthetic(2.0, 0.4, 41, 1), 1000, 0.95, 1).unwrap();
        let quiet = bootstrap_median_interval(&synthetic(2.0, 0.02, 41, 1), 1000, 0.95, 1).unwrap();
        assert!(quiet.high - quiet.low < noisy.high - noisy.low);
    }

    #[test]
    fn the_sign_flip_null_is_centred_on_one_whatever_the_control_median() {
        let offset = synthetic(1.04, 0.05, 41, 5);
        let control = bootstrap_median_interval(&offset, 1000, 0.95, 5).unwrap();
        assert!(control.low > 1.0, "{control}");
        let null = sign_flip_null_interval(&offset, 1000, 0.95, 5).unwrap();
        assert!(null.low < 1.0 && 1.0 < null.high, "{null}");
        assert!((null.median - 1.0).abs() < 0.03, "{null}");
        let symmetric = (null.low * null.high).ln().abs();
        assert!(symmetric < 0.02, "low and high mirror each other: {null}");
        let quiet = sign_flip_null_interval(&synthetic(1.0, 0.01, 41, 5), 1000, 0.95, 5).unwrap();
        assert!(quiet.high - quiet.low < null.high - null.low);
        assert!(matches!(
            sign_flip_null_interval(&[], 10, 0.95, 0),
            Err(PerfError::NoSamples)
        ));
    }

    #[test]
    fn the_null_by_set_draws_each_resample_from_one_set() {
        let ratios = synthetic(1.0, 0.05, 40, 9);
        let plain = sign_flip_null_interval(&ratios, 500, 0.95, 3).unwrap();
        let one_set = sign_flip_null_by_set(&ratios, &[0; 40], 500, 0.95, 3).unwrap();
        assert_eq!(plain, one_set, "one set is the plain sign-flip null");
        // Set 0's twin is 10 % off its baseline, set 1's is not: a resample from set 0 has its
        // median 10 % off, which pooling both sets into every resample would hide.
        let offsets: Vec<f64> = (0..40)
            .map(|i| if i % 2 == 0 { 1.1 } else { 1.0 })
            .collect();
        let set_of: Vec<usize> = (0..40).map(|i| i % 2).collect();
        let by_set = sign_flip_null_by_set(&offsets, &set_of, 500, 0.95, 3).unwrap();
        let pooled = sign_flip_null_interval(&offsets, 500, 0.95, 3).unwrap();
        assert!((by_set.low - 1.0 / 1.1).abs() < 1e-9, "{by_set}");
        assert!(pooled.low >= 1.0 / 1.1 + 0.05, "{pooled}");
        assert!(matches!(
            sign_flip_null_by_set(&ratios, &[0; 3], 10, 0.95, 0),
            Err(PerfError::InvalidConfig(_))
        ));
    }

    #[test]
    fn bad_configuration_is_refused() {
        assert!(matches!(
            bootstrap_median_interval(&[1.0], 0, 0.95, 0),
            Err(PerfError::InvalidConfig(_))
        ));
        assert!(matches!(
            bootstrap_median_interval(&[1.0], 10, 1.0, 0),
            Err(PerfError::InvalidConfig(_))
        ));
    }
}
