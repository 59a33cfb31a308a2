//! The interleaved A/B runner with its A/A control: [`run_ab`], [`AbReport`].

use std::time::Instant;

use serde::{Deserialize, Serialize};

use super::error::PerfError;
use super::stats::{RatioEstimate, bootstrap_median_interval, median};

/// One side of a comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Arm {
    /// The reference ("before", default settings): the ratio's numerator.
    Baseline,
    /// The change under test: the ratio's denominator.
    Candidate,
}

impl Arm {
    /// `"baseline"` or `"candidate"`.
    pub fn name(self) -> &'static str {
        match self {
            Arm::Baseline => "baseline",
            Arm::Candidate => "candidate",
        }
    }
}

/// How many pairs to run and how to summarise them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AbConfig {
    /// Measured pairs (each one baseline sample, then one candidate sample).
    pub pairs: usize,
    /// Pairs run first and discarded (warm caches, settled CPU frequency).
    pub warmup_pairs: usize,
    /// Arm executions per timed sample (raise it for sub-millisecond work).
    pub iterations_per_sample: usize,
    /// Bootstrap resamples for the interval.
    pub resamples: usize,
    /// Confidence level of the interval, in (0, 1).
    pub confidence: f64,
    /// Seed of the bootstrap rng.
    pub seed: u64,
}

impl Default for AbConfig {
    fn default() -> AbConfig {
        AbConfig {
            pairs: 41,
            warmup_pairs: 3,
            iterations_per_sample: 1,
            resamples: 2000,
            confidence: 0.95,
            seed: 0x5eed,
        }
    }
}

impl AbConfig {
    /// A short pass: 15 pairs, 1 warm-up pair, 1000 resamples.
    pub fn quick() -> AbConfig {
        AbConfig {
            pairs: 15,
            warmup_pairs: 1,
            resamples: 1000,
            ..AbConfig::default()
        }
    }

    fn validate(&self) -> Result<(), PerfError> {
        if self.pairs == 0 {
            return Err(PerfError::InvalidConfig("pairs must be at least 1".into()));
        }
        if self.iterations_per_sample == 0 {
            return Err(PerfError::InvalidConfig(
                "iterations_per_sample must be at least 1".into(),
            ));
        }
        Ok(())
    }
}

/// Per-pair timings, in seconds per arm execution.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AbSamples {
    /// Baseline timings, one per pair.
    pub baseline: Vec<f64>,
    /// Candidate timings, one per pair.
    pub candidate: Vec<f64>,
}

impl AbSamples {
    /// `baseline[i] / candidate[i]` for every pair: above 1, the candidate is faster.
    pub fn ratios(&self) -> Vec<f64> {
        self.baseline
            .iter()
            .zip(&self.candidate)
            .map(|(baseline, candidate)| baseline / candidate)
            .collect()
    }

    /// The median ratio with its bootstrap interval.
    ///
    /// # Errors
    /// [`PerfError::NoSamples`] or [`PerfError::InvalidConfig`].
    pub fn estimate(&self, config: &AbConfig) -> Result<RatioEstimate, PerfError> {
        bootstrap_median_interval(
            &self.ratios(),
            config.resamples,
            config.confidence,
            config.seed,
        )
    }
}

/// The outcome of one comparison.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AbReport {
    /// Median baseline time, seconds.
    pub baseline_median_s: f64,
    /// Median candidate time, seconds.
    pub candidate_median_s: f64,
    /// Median of `baseline / candidate` per pair, with its interval.
    pub ratio: RatioEstimate,
    /// The A/A control: the baseline against itself, alternated the same way.
    pub control: RatioEstimate,
    /// The raw A/B timings.
    pub samples: AbSamples,
}

impl std::fmt::Display for AbReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "baseline {:.3} ms, candidate {:.3} ms, ratio {}, A/A {}",
            self.baseline_median_s * 1e3,
            self.candidate_median_s * 1e3,
            self.ratio,
            self.control
        )
    }
}

fn checked(arm: Arm, seconds: f64) -> Result<f64, PerfError> {
    if seconds.is_finite() && seconds > 0.0 {
        Ok(seconds)
    } else {
        Err(PerfError::InvalidTiming {
            arm: arm.name(),
            value: seconds,
        })
    }
}

/// Collects `config.pairs` pairs from `measure(arm, pair)`, which returns the
/// seconds one sample of `arm` took: baseline, candidate, baseline,
/// candidate… after `config.warmup_pairs` discarded pairs.
///
/// # Errors
/// [`PerfError::Arm`] when `measure` fails, [`PerfError::InvalidTiming`] for a
/// non-positive time, [`PerfError::InvalidConfig`].
pub fn measure_pairs<E>(
    config: &AbConfig,
    mut measure: impl FnMut(Arm, usize) -> Result<f64, E>,
) -> Result<AbSamples, PerfError>
where
    E: std::error::Error + Send + Sync + 'static,
{
    config.validate()?;
    let mut samples = AbSamples::default();
    for pair in 0..config.warmup_pairs + config.pairs {
        let mut one = |arm: Arm| {
            let seconds = measure(arm, pair).map_err(|source| PerfError::Arm {
                arm: arm.name(),
                pair,
                source: Box::new(source),
            })?;
            checked(arm, seconds)
        };
        let baseline = one(Arm::Baseline)?;
        let candidate = one(Arm::Candidate)?;
        if pair >= config.warmup_pairs {
            samples.baseline.push(baseline);
            samples.candidate.push(candidate);
        }
    }
    Ok(samples)
}

/// A full report from given timings: the A/B pairs, then the A/A control
/// where `measure` is asked for the baseline in both slots. Use it with fake
/// timings in tests, or with timings measured some other way.
///
/// # Errors
/// As [`measure_pairs`].
pub fn ab_report<E>(
    config: &AbConfig,
    mut measure: impl FnMut(Arm, usize) -> Result<f64, E>,
) -> Result<AbReport, PerfError>
where
    E: std::error::Error + Send + Sync + 'static,
{
    let samples = measure_pairs(config, &mut measure)?;
    let control = measure_pairs(config, |_, pair| measure(Arm::Baseline, pair))?;
    Ok(AbReport {
        baseline_median_s: median(&samples.baseline)?,
        candidate_median_s: median(&samples.candidate)?,
        ratio: samples.estimate(config)?,
        control: control.estimate(config)?,
        samples,
    })
}

/// Times `run(arm)` with the wall clock, alternating arms, and reports the
/// ratio and the A/A control (see [`ab_report`]). Each sample runs the arm
/// `config.iterations_per_sample` times and divides.
///
/// # Errors
/// As [`measure_pairs`].
pub fn run_ab<E>(
    config: &AbConfig,
    mut run: impl FnMut(Arm) -> Result<(), E>,
) -> Result<AbReport, PerfError>
where
    E: std::error::Error + Send + Sync + 'static,
{
    let iterations = config.iterations_per_sample.max(1);
    ab_report(config, |arm, _| {
        let start = Instant::now();
        for _ in 0..iterations {
            run(arm)?;
        }
        Ok::<f64, E>(start.elapsed().as_secs_f64() / iterations as f64)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{RngExt, SeedableRng};
    use rand_chacha::ChaCha8Rng;
    use std::convert::Infallible;

    fn config(pairs: usize) -> AbConfig {
        AbConfig {
            pairs,
            warmup_pairs: 2,
            resamples: 1000,
            ..AbConfig::default()
        }
    }

    #[test]
    fn arms_alternate_and_warmup_is_discarded() {
        let mut calls = Vec::new();
        let samples = measure_pairs(&config(3), |arm, pair| {
            calls.push((arm, pair));
            Ok::<_, Infallible>(if pair < 2 { 100.0 } else { 1.0 })
        })
        .unwrap();
        let arms: Vec<Arm> = calls.iter().map(|(arm, _)| *arm).collect();
        assert_eq!(arms.len(), 10);
        assert!(
            arms.chunks(2)
                .all(|pair| pair == [Arm::Baseline, Arm::Candidate])
        );
        assert_eq!(samples.baseline, vec![1.0; 3]);
        assert_eq!(samples.candidate, vec![1.0; 3]);
    }

    #[test]
    fn fake_timings_give_the_true_ratio_and_a_flat_control() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let report = ab_report(&config(41), |arm, _| {
            let jitter = 1.0 + rng.random_range(-0.1..=0.1);
            Ok::<_, Infallible>(match arm {
                Arm::Baseline => 0.009 * jitter,
                Arm::Candidate => 0.001 * jitter,
            })
        })
        .unwrap();
        assert!(report.ratio.contains(9.0), "{report}");
        assert!(report.control.contains(1.0), "{report}");
        assert!(report.control.spread_from_one() < 0.2, "{report}");
    }

    #[test]
    fn identical_distributions_give_a_ratio_near_one() {
        let covered = (0..50u64)
            .filter(|&seed| {
                let mut rng = ChaCha8Rng::seed_from_u64(seed);
                let report = ab_report(&config(61), |_, _| {
                    Ok::<_, Infallible>(0.004 * (1.0 + rng.random_range(0.0..=0.3)))
                })
                .unwrap();
                assert!((report.ratio.median - 1.0).abs() < 0.1, "{report}");
                assert!(report.control.spread_from_one() < 0.15, "{report}");
                report.ratio.contains(1.0) && report.control.contains(1.0)
            })
            .count();
        assert!(
            covered >= 40,
            "ratio and control both contained 1 in {covered} of 50"
        );
    }

    #[test]
    fn drift_cancels_in_the_pair_ratio() {
        let report = ab_report(&config(21), |arm, pair| {
            let drift = 1.0 + pair as f64 * 0.5;
            Ok::<_, Infallible>(match arm {
                Arm::Baseline => 2.0 * drift,
                Arm::Candidate => drift,
            })
        })
        .unwrap();
        assert_eq!(report.ratio.median, 2.0);
        assert_eq!(report.ratio.low, 2.0);
        assert_eq!(report.ratio.high, 2.0);
    }

    #[test]
    fn bad_timings_and_arm_errors_are_reported() {
        let zero = measure_pairs(&config(1), |_, _| Ok::<_, Infallible>(0.0));
        assert!(matches!(zero, Err(PerfError::InvalidTiming { .. })));
        let failing = measure_pairs(&config(1), |_, _| {
            Err::<f64, _>(std::io::Error::other("arm broke"))
        });
        assert!(matches!(
            failing,
            Err(PerfError::Arm {
                arm: "baseline",
                pair: 0,
                ..
            })
        ));
        let none = measure_pairs(&config(0), |_, _| Ok::<_, Infallible>(1.0));
        assert!(matches!(none, Err(PerfError::InvalidConfig(_))));
    }

    #[test]
    fn run_ab_calls_each_arm_per_iteration() {
        let mut counts = [0usize; 2];
        let config = AbConfig {
            iterations_per_sample: 3,
            ..config(4)
        };
        run_ab(&config, |arm| {
            counts[arm as usize] += 1;
            std::thread::sleep(std::time::Duration::from_micros(1));
            Ok::<_, Infallible>(())
        })
        .unwrap();
        assert_eq!(counts[Arm::Baseline as usize], 3 * 6 * 3);
        assert_eq!(counts[Arm::Candidate as usize], 6 * 3);
    }
}
