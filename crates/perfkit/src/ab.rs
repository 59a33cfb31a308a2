//! The interleaved A/B runner with its A/A control: [`run_ab`], [`AbReport`].
//!
//! The A/A control runs in the same loop as the comparison it calibrates: each block is one A/B
//! pair and one A/A pair, their four samples in an order shuffled by the configured seed, so a
//! cost that falls on a place in the sequence (caches the other arm evicted, a connection the
//! previous sample closed, a frequency step) falls on every slot alike, and the control sees the
//! same load as the comparison.

use std::time::{Duration, Instant};

use nix::time::{ClockId, clock_gettime};
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;

use serde::{Deserialize, Serialize};

use super::error::PerfError;
use super::stats::{RatioEstimate, bootstrap_median_interval, median, sign_flip_null_by_set};

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

/// What a sample's time is read from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Clock {
    /// The wall clock: everything, including time the thread waited for a CPU.
    #[default]
    Wall,
    /// The measuring thread's CPU time (user + system, `CLOCK_THREAD_CPUTIME_ID`): what the
    /// sample itself cost, without the time other processes held the CPU. For work on data in
    /// memory or the OS page cache (reads are then system time), this is the wall time of a
    /// quiet machine; it does not count time waiting for a disk.
    ThreadCpu,
}

impl Clock {
    fn now(self) -> Duration {
        match self {
            Clock::Wall => Duration::ZERO,
            Clock::ThreadCpu => clock_gettime(ClockId::CLOCK_THREAD_CPUTIME_ID)
                .map_or(Duration::ZERO, Duration::from),
        }
    }

    /// Runs `work` and returns how long it took on this clock, in seconds.
    ///
    /// # Errors
    /// `work`'s error.
    pub fn time<E>(self, work: impl FnOnce() -> Result<(), E>) -> Result<f64, E> {
        let wall = Instant::now();
        let cpu = self.now();
        work()?;
        Ok(match self {
            Clock::Wall => wall.elapsed().as_secs_f64(),
            Clock::ThreadCpu => self.now().saturating_sub(cpu).as_secs_f64(),
        })
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
    /// What [`run_ab`] reads a sample's time from.
    #[serde(default)]
    pub clock: Clock,
    /// Connection sets the blocks rotate over ([`run_ab_twinned`]: block `b` runs every slot on
    /// set [`AbConfig::set_of_block`], each set its own baseline, candidate and twin); the
    /// control's null draws each resample from one set's A/A pairs ([`AbSamples::null`]). At
    /// least 1; the warm-up runs at least one block per set.
    #[serde(default = "one_set")]
    pub sets: usize,
}

fn one_set() -> usize {
    1
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
            clock: Clock::Wall,
            sets: 1,
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

    /// Blocks run and discarded first: `warmup_pairs`, at least one per connection set.
    pub fn warmup_blocks(&self) -> usize {
        self.warmup_pairs.max(self.sets)
    }

    /// The connection set block `block` (counted from the first warm-up block) runs on.
    pub fn set_of_block(&self, block: usize) -> usize {
        block % self.sets.max(1)
    }

    fn validate(&self) -> Result<(), PerfError> {
        if self.pairs == 0 {
            return Err(PerfError::InvalidConfig("pairs must be at least 1".into()));
        }
        if self.sets == 0 {
            return Err(PerfError::InvalidConfig("sets must be at least 1".into()));
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

    /// For an A/A control's samples (collected with `config`): the sign-flip null of the median
    /// ratio, each resample from one connection set ([`sign_flip_null_by_set`]): what the
    /// median of an equally fast candidate on connections of its own would show.
    ///
    /// # Errors
    /// [`PerfError::NoSamples`] or [`PerfError::InvalidConfig`].
    pub fn null(&self, config: &AbConfig) -> Result<RatioEstimate, PerfError> {
        let warmup = config.warmup_blocks();
        let set_of: Vec<usize> = (0..self.baseline.len())
            .map(|measured| config.set_of_block(warmup + measured))
            .collect();
        sign_flip_null_by_set(
            &self.ratios(),
            &set_of,
            config.resamples,
            config.confidence,
            config.seed ^ 0x0f11_95ed,
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
    /// The A/A control's sign-flip null ([`AbSamples::null`]): the median ratio of two equally
    /// fast arms as chance spreads it, centred on 1; its `low` is the "no loss beyond the A/A
    /// noise" threshold.
    pub control_null: RatioEstimate,
    /// The raw A/B timings.
    pub samples: AbSamples,
    /// The raw A/A timings (numerator, denominator), block by block.
    #[serde(default)]
    pub control_samples: AbSamples,
}

impl std::fmt::Display for AbReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "baseline {:.3} ms, candidate {:.3} ms, ratio {}, A/A {}, A/A null low {:.2}",
            self.baseline_median_s * 1e3,
            self.candidate_median_s * 1e3,
            self.ratio,
            self.control,
            self.control_null.low
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

/// One sample of a block: which arm runs, and where its time goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Slot {
    /// The A/B pair's baseline (numerator).
    Baseline,
    /// The A/B pair's candidate (denominator).
    Candidate,
    /// The A/A pair's numerator (a baseline sample, on the baseline's own resources).
    ControlNumerator,
    /// The A/A pair's denominator (a baseline sample; [`run_ab_twinned`] runs it on a twin of
    /// the baseline: the same configuration on resources of its own, e.g. a second connection).
    ControlDenominator,
}

impl Slot {
    /// The arm a slot's sample runs.
    pub fn arm(self) -> Arm {
        match self {
            Slot::Candidate => Arm::Candidate,
            Slot::Baseline | Slot::ControlNumerator | Slot::ControlDenominator => Arm::Baseline,
        }
    }
}

/// Collects `config.pairs` blocks from `measure(arm, pair)`, which returns the
/// seconds one sample of `arm` took, after [`AbConfig::warmup_blocks`] discarded
/// blocks. A block is one A/B pair and, with `control`, one A/A pair (two
/// baseline samples), its samples run in an order shuffled by `config.seed`:
/// whatever a sample's place costs (what ran just before it, a frequency
/// step) falls on every slot alike, the A/A pair's as much as the A/B pair's.
fn collect<E>(
    config: &AbConfig,
    control: bool,
    mut measure: impl FnMut(Slot, usize) -> Result<f64, E>,
) -> Result<(AbSamples, AbSamples), PerfError>
where
    E: std::error::Error + Send + Sync + 'static,
{
    config.validate()?;
    let mut rng = ChaCha8Rng::seed_from_u64(config.seed ^ 0x0b10_c4ed);
    let mut samples = AbSamples::default();
    let mut controls = AbSamples::default();
    let mut order = vec![Slot::Baseline, Slot::Candidate];
    if control {
        order.extend([Slot::ControlNumerator, Slot::ControlDenominator]);
    }
    let warmup = config.warmup_blocks();
    for pair in 0..warmup + config.pairs {
        order.shuffle(&mut rng);
        let mut times = [0.0; 4];
        for &slot in &order {
            let arm = slot.arm();
            let seconds = measure(slot, pair).map_err(|source| PerfError::Arm {
                arm: arm.name(),
                pair,
                source: Box::new(source),
            })?;
            times[slot as usize] = checked(arm, seconds)?;
        }
        if pair >= warmup {
            samples.baseline.push(times[Slot::Baseline as usize]);
            samples.candidate.push(times[Slot::Candidate as usize]);
            if control {
                controls
                    .baseline
                    .push(times[Slot::ControlNumerator as usize]);
                controls
                    .candidate
                    .push(times[Slot::ControlDenominator as usize]);
            }
        }
    }
    Ok((samples, controls))
}

/// Collects `config.pairs` pairs from `measure(arm, pair)`, which returns the
/// seconds one sample of `arm` took, each pair in an order shuffled by
/// `config.seed`, after `config.warmup_pairs` discarded pairs.
///
/// # Errors
/// [`PerfError::Arm`] when `measure` fails, [`PerfError::InvalidTiming`] for a
/// non-positive time, [`PerfError::InvalidConfig`].
pub fn measure_pairs<E>(
    config: &AbConfig,
    measure: impl FnMut(Arm, usize) -> Result<f64, E>,
) -> Result<AbSamples, PerfError>
where
    E: std::error::Error + Send + Sync + 'static,
{
    let mut measure = measure;
    collect(config, false, |slot: Slot, pair| measure(slot.arm(), pair)).map(|(samples, _)| samples)
}

/// A full report from given timings: the A/B pairs, each shuffled together
/// with an A/A pair of the control, where `measure` is asked for the baseline
/// in both slots. Use it with fake timings in tests, or with timings measured some
/// other way.
///
/// # Errors
/// As [`measure_pairs`].
pub fn ab_report<E>(
    config: &AbConfig,
    measure: impl FnMut(Arm, usize) -> Result<f64, E>,
) -> Result<AbReport, PerfError>
where
    E: std::error::Error + Send + Sync + 'static,
{
    let mut measure = measure;
    ab_report_by_slot(config, |slot: Slot, pair| measure(slot.arm(), pair))
}

/// As [`ab_report`], with `measure` told each sample's [`Slot`], so the A/A pair's
/// denominator can run on a twin of the baseline.
///
/// # Errors
/// As [`measure_pairs`].
pub fn ab_report_by_slot<E>(
    config: &AbConfig,
    measure: impl FnMut(Slot, usize) -> Result<f64, E>,
) -> Result<AbReport, PerfError>
where
    E: std::error::Error + Send + Sync + 'static,
{
    let (samples, control) = collect(config, true, measure)?;
    Ok(AbReport {
        baseline_median_s: median(&samples.baseline)?,
        candidate_median_s: median(&samples.candidate)?,
        ratio: samples.estimate(config)?,
        control: control.estimate(config)?,
        control_null: control.null(config)?,
        samples,
        control_samples: control,
    })
}

/// Times `run(arm)` on `config.clock`, alternating arms, and reports the
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
    run_ab_twinned(config, |slot, _| run(slot.arm()))
}

/// As [`run_ab`], with `run` told each sample's [`Slot`] and connection set
/// (`0..config.sets`, [`AbConfig::set_of_block`]): a runner whose arms hold resources (a
/// connection each) runs the A/A denominator on a twin of the baseline, so the A/A control also
/// sees what differs between equally configured resources (measured up to ±1-3 % between default
/// connections on a full scan), not only the noise of one. With several sets, each set is a
/// baseline, a candidate and a twin of their own, and block `b` runs on set `b % sets`: what a
/// connection's place costs is averaged over the sets in the A/B ratio as in the A/A control,
/// and the control's null sees one set's draw of it per resample.
///
/// # Errors
/// As [`measure_pairs`].
pub fn run_ab_twinned<E>(
    config: &AbConfig,
    mut run: impl FnMut(Slot, usize) -> Result<(), E>,
) -> Result<AbReport, PerfError>
where
    E: std::error::Error + Send + Sync + 'static,
{
    let iterations = config.iterations_per_sample.max(1);
    ab_report_by_slot(config, |slot, block| {
        let set = config.set_of_block(block);
        let seconds = config.clock.time(|| {
            for _ in 0..iterations {
                run(slot, set)?;
            }
            Ok::<(), E>(())
        })?;
        Ok::<f64, E>(seconds / iterations as f64)
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
    fn each_pair_runs_both_arms_in_a_shuffled_order_and_warmup_is_discarded() {
        let mut calls = Vec::new();
        let samples = measure_pairs(&config(40), |arm, pair| {
            calls.push((arm, pair));
            Ok::<_, Infallible>(if pair < 2 { 100.0 } else { 1.0 })
        })
        .unwrap();
        assert_eq!(calls.len(), 84);
        let pairs: Vec<[Arm; 2]> = calls.chunks(2).map(|c| [c[0].0, c[1].0]).collect();
        assert!(
            pairs
                .iter()
                .all(|p| p.contains(&Arm::Baseline) && p.contains(&Arm::Candidate))
        );
        let baseline_first = pairs.iter().filter(|p| p[0] == Arm::Baseline).count();
        assert!(
            (12..=30).contains(&baseline_first),
            "{baseline_first} of 42"
        );
        assert_eq!(samples.baseline, vec![1.0; 40]);
        assert_eq!(samples.candidate, vec![1.0; 40]);
    }

    #[test]
    fn the_control_shares_each_block_and_a_place_cost_falls_on_every_slot() {
        let mut calls = Vec::new();
        let report = ab_report(&config(40), |arm, pair| {
            calls.push((arm, pair));
            Ok::<_, Infallible>(match arm {
                Arm::Baseline => 2.0,
                Arm::Candidate => 1.0,
            })
        })
        .unwrap();
        for block in calls.chunks(4) {
            let baselines = block
                .iter()
                .filter(|(arm, _)| *arm == Arm::Baseline)
                .count();
            assert_eq!(baselines, 3, "one A/B pair and one A/A pair: {block:?}");
            assert!(block.iter().all(|(_, pair)| *pair == block[0].1));
        }
        assert_eq!(report.ratio.median, 2.0);
        assert_eq!(report.control.median, 1.0);

        // A sample that directly follows a candidate sample costs 1.5x: in a fixed order
        // (baseline, candidate, baseline, baseline) the A/A numerator would always pay it.
        let mut previous = None;
        let report = ab_report(&config(60), |arm, _| {
            let base = match arm {
                Arm::Baseline => 2.0,
                Arm::Candidate => 1.0,
            };
            let after_candidate = previous == Some(Arm::Candidate);
            previous = Some(arm);
            Ok::<_, Infallible>(if after_candidate { base * 1.5 } else { base })
        })
        .unwrap();
        assert!(report.control.contains(1.0), "{report}");
        assert!(report.ratio.contains(2.0), "{report}");
    }

    #[test]
    fn thread_cpu_time_leaves_out_sleeping() {
        let slept = Clock::ThreadCpu
            .time(|| {
                std::thread::sleep(std::time::Duration::from_millis(30));
                Ok::<_, Infallible>(())
            })
            .unwrap();
        let wall = Clock::Wall
            .time(|| {
                std::thread::sleep(std::time::Duration::from_millis(30));
                Ok::<_, Infallible>(())
            })
            .unwrap();
        assert!(slept < 0.01, "{slept}");
        assert!(wall >= 0.03, "{wall}");
        let spun = Clock::ThreadCpu
            .time(|| {
                let start = Instant::now();
                while start.elapsed() < Duration::from_millis(20) {
                    std::hint::black_box(0u64);
                }
                Ok::<_, Infallible>(())
            })
            .unwrap();
        assert!(spun > 0.0, "{spun}");
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
    fn a_twinned_control_runs_its_denominator_on_the_twin_and_sees_its_offset() {
        let mut slots = Vec::new();
        let report = ab_report_by_slot(&config(40), |slot, _| {
            slots.push(slot);
            Ok::<_, Infallible>(match slot {
                Slot::Baseline | Slot::ControlNumerator => 1.0,
                Slot::ControlDenominator => 1.02,
                Slot::Candidate => 1.02,
            })
        })
        .unwrap();
        assert_eq!(slots.len(), 42 * 4);
        for slot in [
            Slot::Baseline,
            Slot::ControlNumerator,
            Slot::ControlDenominator,
        ] {
            assert_eq!(slots.iter().filter(|s| **s == slot).count(), 42);
        }
        assert!(
            (report.control.median - 1.0 / 1.02).abs() < 1e-9,
            "{report}"
        );
        assert!(
            report.control_null.low <= report.ratio.median,
            "an offset the twin shows is noise, not a loss: {report}"
        );
        let untwinned = ab_report(&config(40), |arm, _| {
            Ok::<_, Infallible>(match arm {
                Arm::Baseline => 1.0,
                Arm::Candidate => 1.02,
            })
        })
        .unwrap();
        assert!(
            untwinned.control_null.low > untwinned.ratio.median,
            "{untwinned}"
        );
    }

    #[test]
    fn blocks_rotate_over_the_connection_sets_and_each_set_is_warmed_up() {
        let config = AbConfig {
            sets: 4,
            ..config(8)
        };
        assert_eq!(
            config.warmup_blocks(),
            4,
            "at least one warm-up block per set"
        );
        let mut seen = Vec::new();
        let report = run_ab_twinned(&config, |slot, set| {
            seen.push((slot, set));
            Ok::<_, Infallible>(())
        })
        .unwrap();
        assert_eq!(seen.len(), (4 + 8) * 4);
        for (block, samples) in seen.chunks(4).enumerate() {
            assert!(
                samples.iter().all(|(_, set)| *set == block % 4),
                "{samples:?}"
            );
        }
        assert_eq!(report.samples.baseline.len(), 8);
        assert_eq!(report.control_samples.baseline.len(), 8);
        let zero = AbConfig {
            sets: 0,
            ..config.clone()
        };
        assert!(matches!(
            run_ab_twinned(&zero, |_, _| Ok::<_, Infallible>(())),
            Err(PerfError::InvalidConfig(_))
        ));
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
        assert!(matches!(failing, Err(PerfError::Arm { pair: 0, .. })));
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
