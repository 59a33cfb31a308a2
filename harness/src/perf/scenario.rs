//! A scenario's `[perf]` table ([`PerfSpec`]) and its measurement ([`measure`]): one claim,
//! both arms on the same seeded data in one process, ABAB… with an A/A control, both arms
//! with fresh statistics (`ANALYZE`), plus the query-plan check where the claim has an
//! intended plan.
//!
//! ```toml
//! [perf]
//! claim = "index-recovery"      # a claim of `seed_claims()` or `goal_claims()`
//! captures = 100000             # dataset size (tiny in tests)
//! backlog-percent = 3.0         # non-terminal share of the captures
//! pairs = 41                    # measured A/B pairs (and as many A/A pairs)
//! warmup-pairs = 3
//! target = 5.0                  # the gate ratio; default: the claim's target
//! gate = true                   # default: false where the claim is known to fail
//! candidate-schema = "ledger"   # index claims: "before" measures an unindexed candidate
//! regression-margin = 0.10      # flag figures this far (relative) outside the history's spread
//! wal-mb = 16                   # recovery-time claims: the WAL a killed writer leaves
//! clock = "thread-cpu"          # query claims: "wall" to time with the wall clock
//! connection-sets = 8           # reused-connection claims: connection sets rotated (default 1)
//! ```
//!
//! Query claims time each sample by the measuring thread's CPU time by default
//! ([`Clock::ThreadCpu`]): the datasets are in the OS page cache, so a query's reads are system
//! time, and the time other processes hold the CPU (the wall clock's main noise on a shared
//! machine) is left out. The recovery-time claims time the wall clock (a reopen waits for the
//! disk).

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::path::Path;

use reports::perf::{PerfCheck, PerfVerdict, PlanVerdict, RatioInterval};
use rusqlite::Connection;
use serde::{Deserialize, Serialize};

use ledger::memory::CacheChoice;
use ledger::memory::adaptive_cache::ConnectionUse;
use ledger::memory::scan_watch::{self, ScanWatch};
use perfkit::connect::{Tuning, describe_choice, open, open_adaptive};
use perfkit::dataset::{Dataset, DatasetSpec, Variant};
use perfkit::queries::{Probe, Query};
use perfkit::{
    AbConfig, AbReport, Arm, Claim, ClaimGate, Clock, PerfError, PlanExpectation, RatioEstimate,
    Slot, Verdict, check_plan, goal_claims, query_plan, recovery_time_claims, run_ab,
    run_ab_twinned, seed_claims, sql_err,
};

use super::crash_reopen::{Reopen, build_crash_image, measure_reopen};

/// The claims a perf scenario can measure (the ids of [`seed_claims`] and [`goal_claims`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ClaimId {
    /// Composite and partial indexes vs the before schema, the crash-resume queue.
    IndexRecovery,
    /// Composite indexes vs the before schema, export-ready `LIMIT 100`.
    IndexExportReady,
    /// 64 MB cache vs the default on the recovery query, reused connection.
    CacheRecoveryReused,
    /// 64 MB cache vs the default on a full scan larger than the cache (known to fail).
    CacheScanLargerThanCache,
    /// 64 MB cache vs the default with a fresh connection per query (known to fail).
    CacheFreshConnection,
    /// The ledger's adaptive cache vs the default on the recovery query, reused connection.
    AdaptiveRecoveryReused,
    /// The adaptive cache vs the default on a full scan larger than 64 MB (no loss beyond noise).
    AdaptiveScanLargerThanCache,
    /// The adaptive cache vs the default, fresh connection per query (no loss beyond noise).
    AdaptiveFreshConnection,
    /// A clean reopen vs the ledger's reopen after `kill -9` left a WAL.
    CrashReopenVsClean,
    /// SQLite's own recovery vs the ledger's reopen of the same crashed files.
    CrashReopenVsSqlite,
    /// A clean reopen and first write vs the same after `kill -9` left a WAL grown behind a
    /// long reader (its checkpoints stalled), whose checkpoint the first write resumes.
    CrashReopenStalledCheckpoint,
}

impl ClaimId {
    /// The claim's id, as in [`seed_claims`] or [`goal_claims`].
    pub fn as_str(self) -> &'static str {
        match self {
            ClaimId::IndexRecovery => "index-recovery",
            ClaimId::IndexExportReady => "index-export-ready",
            ClaimId::CacheRecoveryReused => "cache-recovery-reused",
            ClaimId::CacheScanLargerThanCache => "cache-scan-larger-than-cache",
            ClaimId::CacheFreshConnection => "cache-fresh-connection",
            ClaimId::AdaptiveRecoveryReused => "adaptive-recovery-reused",
            ClaimId::AdaptiveScanLargerThanCache => "adaptive-scan-larger-than-cache",
            ClaimId::AdaptiveFreshConnection => "adaptive-fresh-connection",
            ClaimId::CrashReopenVsClean => "crash-reopen-vs-clean",
            ClaimId::CrashReopenVsSqlite => "crash-reopen-vs-sqlite",
            ClaimId::CrashReopenStalledCheckpoint => "crash-reopen-stalled-checkpoint",
        }
    }

    /// The two reopens a recovery-time claim compares (baseline, candidate).
    fn reopens(self) -> Option<(Reopen, Reopen)> {
        match self {
            ClaimId::CrashReopenVsClean => Some((Reopen::LedgerClean, Reopen::LedgerCrashed)),
            ClaimId::CrashReopenVsSqlite => Some((Reopen::SqliteCrashed, Reopen::LedgerCrashed)),
            ClaimId::CrashReopenStalledCheckpoint => {
                Some((Reopen::LedgerCleanThenWrite, Reopen::LedgerCrashedThenWrite))
            }
            _ => None,
        }
    }

    /// Whether the crash image's WAL grows behind a long reader (recovery-time claims).
    fn long_reader(self) -> bool {
        self == ClaimId::CrashReopenStalledCheckpoint
    }

    fn query(self) -> Query {
        match self {
            ClaimId::IndexExportReady => Query::ExportReady,
            ClaimId::CacheScanLargerThanCache | ClaimId::AdaptiveScanLargerThanCache => {
                Query::FullScan
            }
            ClaimId::IndexRecovery => Query::RecoveryQueue,
            _ => Query::Recovery,
        }
    }

    /// What the candidate's plan must look like (index claims only). Export-ready is allowed
    /// its temp B-tree: the benched query merges two status ranges of
    /// `captures_status_created` (the ledger's own queue query walks the recovery index).
    fn intended_plan(self) -> Option<PlanExpectation> {
        let no_scan = vec!["captures".to_owned()];
        match self {
            ClaimId::IndexRecovery => Some(PlanExpectation {
                no_full_scan_of: no_scan,
                ..PlanExpectation::index_without_sort("captures_recoverable")
            }),
            ClaimId::IndexExportReady => Some(PlanExpectation {
                no_temp_btree: false,
                no_full_scan_of: no_scan,
                ..PlanExpectation::index_without_sort("captures_status_created")
            }),
            _ => None,
        }
    }
}

/// The `[perf]` table of a scenario: which claim, on what data, how many pairs, which gate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct PerfSpec {
    /// The claim measured.
    pub claim: ClaimId,
    /// Captures in the dataset.
    #[serde(default = "default_captures")]
    pub captures: usize,
    /// Non-terminal captures, in per cent.
    #[serde(default = "default_backlog_percent")]
    pub backlog_percent: f64,
    /// Measured A/B pairs (the A/A control runs as many).
    #[serde(default = "default_pairs")]
    pub pairs: usize,
    /// Discarded pairs first.
    #[serde(default = "default_warmup_pairs")]
    pub warmup_pairs: usize,
    /// The gate ratio; absent: the claim's own target.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<f64>,
    /// Whether the ratio gates the iteration; absent: not where the claim is known to fail.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gate: Option<bool>,
    /// Index claims: the candidate's schema (`before` = a deliberately unindexed candidate).
    #[serde(default = "default_candidate_schema")]
    pub candidate_schema: Variant,
    /// Relative margin beyond the history's spread before a figure is flagged.
    #[serde(default = "default_regression_margin")]
    pub regression_margin: f64,
    /// Recovery-time claims: megabytes of WAL the killed writer leaves.
    #[serde(default = "default_wal_mb")]
    pub wal_mb: u64,
    /// Query claims: what a sample's time is read from (recovery-time claims: the wall clock).
    #[serde(default = "default_clock")]
    pub clock: Clock,
    /// Reused-connection claims: connection sets the blocks rotate over, each its own baseline,
    /// twin and candidate connection (`perfkit::run_ab_twinned`); the A/A control's null draws
    /// each resample from one set (`perfkit::sign_flip_null_by_set`).
    #[serde(default = "default_connection_sets")]
    pub connection_sets: usize,
    /// Earlier runs' figures of this scenario (oldest first), attached by the CLI from
    /// `--history`; never written in files.
    #[serde(skip)]
    pub history: Vec<BTreeMap<String, f64>>,
}

fn default_captures() -> usize {
    100_000
}
fn default_backlog_percent() -> f64 {
    3.0
}
fn default_pairs() -> usize {
    41
}
fn default_warmup_pairs() -> usize {
    3
}
fn default_candidate_schema() -> Variant {
    Variant::Ledger
}
fn default_regression_margin() -> f64 {
    0.10
}
fn default_wal_mb() -> u64 {
    16
}
fn default_clock() -> Clock {
    Clock::ThreadCpu
}
fn default_connection_sets() -> usize {
    1
}

impl PerfSpec {
    /// Checks what serde cannot: sizes and ranges.
    ///
    /// # Errors
    /// A message naming the bad key.
    pub fn validate(&self) -> Result<(), String> {
        if self.captures < 100 {
            return Err("`perf.captures` must be at least 100".into());
        }
        if !(0.1..=90.0).contains(&self.backlog_percent) {
            return Err("`perf.backlog-percent` must be between 0.1 and 90".into());
        }
        if self.pairs < 3 {
            return Err("`perf.pairs` must be at least 3".into());
        }
        if self.target.is_some_and(|t| !(t.is_finite() && t > 0.0)) {
            return Err("`perf.target` must be a positive ratio".into());
        }
        if self.target.is_some() && self.claim().gate == ClaimGate::NoLossBeyondNoise {
            return Err(format!(
                "`perf.target` does not apply to `{}`: its threshold comes from the A/A control",
                self.claim.as_str()
            ));
        }
        if !(self.regression_margin.is_finite() && self.regression_margin >= 0.0) {
            return Err("`perf.regression-margin` must be zero or more".into());
        }
        if !(1..=16).contains(&self.connection_sets) {
            return Err("`perf.connection-sets` must be between 1 and 16".into());
        }
        if !(1..=1024).contains(&self.wal_mb) {
            return Err("`perf.wal-mb` must be between 1 and 1024".into());
        }
        if self.claim.long_reader() && self.wal_mb < STALLED_WAL_MIN_MB {
            return Err(format!(
                "`perf.wal-mb` must be at least {STALLED_WAL_MIN_MB} for `{}`: a smaller WAL stays \
                 under SQLite's automatic checkpoint (1000 pages), so the first write would not \
                 resume the stalled checkpoint",
                self.claim.as_str()
            ));
        }
        Ok(())
    }

    fn backlog_permille(&self) -> u32 {
        (self.backlog_percent * 10.0).round() as u32
    }

    fn dataset(&self, variant: Variant) -> DatasetSpec {
        DatasetSpec {
            captures: self.captures,
            backlog_permille: self.backlog_permille(),
            variant,
        }
    }

    /// The claim with this spec's condition and target.
    pub fn claim(&self) -> Claim {
        let mut claim = seed_claims()
            .into_iter()
            .chain(goal_claims())
            .chain(recovery_time_claims())
            .find(|c| c.id == self.claim.as_str())
            .expect("every ClaimId is a seed, goal or recovery-time claim");
        let size = self.dataset(Variant::Ledger).size_label();
        let backlog = format!("{} % backlog", self.backlog_percent);
        claim.condition = match self.claim {
            ClaimId::IndexRecovery | ClaimId::IndexExportReady => format!(
                "{size} captures, {backlog}, ANALYZE on both, warm reused connection{}",
                if self.candidate_schema == Variant::Before {
                    " (candidate deliberately unindexed: the before schema)"
                } else {
                    ""
                }
            ),
            ClaimId::CacheRecoveryReused | ClaimId::AdaptiveRecoveryReused => {
                format!("{size} captures, {backlog}, ledger schema, warm reused connection")
            }
            ClaimId::CacheScanLargerThanCache | ClaimId::AdaptiveScanLargerThanCache => format!(
                "full scan of {size} captures (a table larger than 64 MB at 100k), reused connection"
            ),
            ClaimId::CacheFreshConnection | ClaimId::AdaptiveFreshConnection => {
                format!("recovery query at {size} captures on a fresh connection per query")
            }
            ClaimId::CrashReopenVsClean
            | ClaimId::CrashReopenVsSqlite
            | ClaimId::CrashReopenStalledCheckpoint => {
                claim
                    .condition
                    .replacen("16 MB", &format!("{} MB", self.wal_mb), 1)
            }
        };
        if self.claim.reopens().is_none() && self.clock == Clock::ThreadCpu {
            claim
                .condition
                .push_str("; each sample timed by the thread's CPU time");
        }
        if let Some(target) = self.target {
            claim.target_ratio = target;
        }
        claim
    }

    /// The measured query's name (`reopen` for the recovery-time claims).
    pub fn query_name(&self) -> &'static str {
        match self.claim.reopens() {
            Some(_) => REOPEN,
            None => self.claim.query().name(),
        }
    }

    fn ab_config(&self, seed: u64) -> AbConfig {
        AbConfig {
            pairs: self.pairs,
            warmup_pairs: self.warmup_pairs,
            seed,
            clock: self.clock,
            sets: self.connection_sets,
            ..AbConfig::default()
        }
    }
}

fn interval(estimate: &RatioEstimate) -> RatioInterval {
    RatioInterval {
        median: estimate.median,
        low: estimate.low,
        high: estimate.high,
        confidence: estimate.confidence,
        pairs: estimate.pairs,
    }
}

fn analyzed(path: &Path, tuning: Tuning) -> Result<Connection, PerfError> {
    let conn = open(path, tuning)?;
    conn.execute_batch("ANALYZE")
        .map_err(sql_err(format!("analyze {}", path.display())))?;
    Ok(conn)
}

fn plan_verdict(
    conn: &Connection,
    sql: &str,
    expectation: &PlanExpectation,
) -> Result<PlanVerdict, PerfError> {
    let plan = query_plan(conn, sql)?;
    let problems: Vec<String> = check_plan(&plan, expectation)
        .iter()
        .map(ToString::to_string)
        .collect();
    Ok(PlanVerdict {
        expected_index: expectation.uses_index.clone().unwrap_or_default(),
        passed: problems.is_empty(),
        plan: plan.into_iter().map(|row| row.detail).collect(),
        problems,
    })
}

/// One arm: a connection and the schema variant its query is written for.
struct Side<'a> {
    conn: &'a Connection,
    variant: Variant,
    /// The adaptive rule's choice, when the arm follows it between queries as
    /// the ledger does (`ledger::memory::scan_watch::follow`).
    follows_scans: Option<CacheChoice>,
    /// The cache sizes the scan watch set on this arm, in order (KiB).
    watch_changes: RefCell<Vec<u64>>,
}

impl<'a> Side<'a> {
    fn plain(conn: &'a Connection, variant: Variant) -> Side<'a> {
        Side {
            conn,
            variant,
            follows_scans: None,
            watch_changes: RefCell::new(Vec::new()),
        }
    }
}

/// One connection set of a reused-connection comparison: the baseline (the A/B numerator and
/// the A/A pair's numerator), a twin configured as the baseline (the A/A denominator: the
/// control sees what differs between equally configured connections, their page buffers' places
/// in memory, up to ±1-3 % on a full scan, which the A/B pair, two connections, always carries),
/// and the candidate.
struct Set<'a> {
    baseline: Side<'a>,
    twin: Side<'a>,
    candidate: Side<'a>,
}

/// Interleaved A/B of `query` on reused connections, block `b` on set `b % sets.len()`
/// (`config.sets` of them, [`perfkit::run_ab_twinned`]).
fn compare(config: &AbConfig, query: Query, sets: &[Set<'_>]) -> Result<AbReport, PerfError> {
    debug_assert_eq!(sets.len(), config.sets, "one set of connections per set");
    let mut probe = Probe::load(sets[0].baseline.conn)?;
    let mut watches = vec![
        [
            ScanWatch::default(),
            ScanWatch::default(),
            ScanWatch::default()
        ];
        sets.len()
    ];
    run_ab_twinned(config, |slot, set| {
        let (side, watch) = match slot {
            Slot::Baseline | Slot::ControlNumerator => (&sets[set].baseline, &mut watches[set][0]),
            Slot::Candidate => (&sets[set].candidate, &mut watches[set][1]),
            Slot::ControlDenominator => (&sets[set].twin, &mut watches[set][2]),
        };
        std::hint::black_box(probe.run(side.conn, query, side.variant)?);
        if let Some(chosen) = side.follows_scans
            && let Some(now) = scan_watch::follow(side.conn, watch, chosen)
                .map_err(sql_err("follow the scan watch"))?
        {
            side.watch_changes.borrow_mut().push(now.kib);
        }
        Ok::<_, PerfError>(())
    })
}

/// `config.sets` connections from `open` (called with the set's index).
fn per_set<T>(
    config: &AbConfig,
    mut open: impl FnMut(usize) -> Result<T, PerfError>,
) -> Result<Vec<T>, PerfError> {
    (0..config.sets).map(&mut open).collect()
}

/// A connection to `path` with `tuning`, for set `set`: the first runs `ANALYZE` (the
/// statistics are the file's, so every later connection reads them).
fn analyzed_once(path: &Path, tuning: Tuning, set: usize) -> Result<Connection, PerfError> {
    if set == 0 {
        analyzed(path, tuning)
    } else {
        open(path, tuning)
    }
}

/// Per connection set, a baseline connection to `path` with `tuning` (the first runs
/// `ANALYZE`) and its twin, configured the same.
fn baselines_and_twins(
    config: &AbConfig,
    path: &Path,
    tuning: Tuning,
) -> Result<(Vec<Connection>, Vec<Connection>), PerfError> {
    let baselines = per_set(config, |set| analyzed_once(path, tuning, set))?;
    let twins = per_set(config, |_| open(path, tuning))?;
    Ok((baselines, twins))
}

/// The sets from parallel lists of connections.
fn sets<'a>(
    baselines: &'a [Connection],
    twins: &'a [Connection],
    candidates: Vec<Side<'a>>,
    variant: Variant,
) -> Vec<Set<'a>> {
    baselines
        .iter()
        .zip(twins)
        .zip(candidates)
        .map(|((baseline, twin), candidate)| Set {
            baseline: Side::plain(baseline, variant),
            twin: Side::plain(twin, variant),
            candidate,
        })
        .collect()
}

/// `items[0]` when every item is the same, else each item prefixed with its set.
fn one_or_each(items: &[String]) -> String {
    match items {
        [first, rest @ ..] if rest.iter().all(|item| item == first) => first.clone(),
        _ => items
            .iter()
            .enumerate()
            .map(|(set, item)| format!("set {set}: {item}"))
            .collect::<Vec<_>>()
            .join("; "),
    }
}

/// The candidate of a fresh-connection comparison.
#[derive(Clone, Copy)]
enum FreshCandidate {
    /// `cache_size=-64000` set on every new connection.
    Cache64Mb,
    /// The ledger's rule applied to every new connection (as a per-query connection).
    Adaptive,
}

fn compare_fresh(
    config: &AbConfig,
    data: &Dataset,
    query: Query,
    candidate: FreshCandidate,
) -> Result<AbReport, PerfError> {
    let mut probe = Probe::load(&open(&data.path, Tuning::SQLITE_DEFAULT)?)?;
    run_ab(config, |arm| {
        let conn = match (arm, candidate) {
            (Arm::Baseline, _) => open(&data.path, Tuning::SQLITE_DEFAULT)?,
            (Arm::Candidate, FreshCandidate::Cache64Mb) => open(&data.path, Tuning::CACHE_64MB)?,
            (Arm::Candidate, FreshCandidate::Adaptive) => {
                open_adaptive(&data.path, ConnectionUse::PerQuery)?.0
            }
        };
        std::hint::black_box(probe.run(&conn, query, Variant::Ledger)?);
        Ok::<_, PerfError>(())
    })
}

/// What was measured, before it becomes a [`PerfCheck`].
struct Measured {
    report: AbReport,
    baseline: String,
    candidate: String,
    plan: Option<PlanVerdict>,
}

const REOPEN: &str = "reopen";
/// The smallest WAL (MB) above SQLite's automatic checkpoint of 1000 4 KiB pages.
const STALLED_WAL_MIN_MB: u64 = 5;
const DEFAULT_CACHE: &str = "SQLite's default cache (cache_size=-2000, about 2 MB)";
const BIG_CACHE: &str = "cache_size=-64000 (64 MB)";

/// Measures `spec`'s claim on datasets cached in `data_dir` (built there if missing), with the
/// bootstrap seeded by `seed`.
///
/// # Errors
/// A dataset could not be built or opened, a query failed, or the A/B runner refused a timing.
pub fn measure(spec: &PerfSpec, data_dir: &Path, seed: u64) -> Result<PerfCheck, PerfError> {
    let claim = spec.claim();
    let config = spec.ab_config(seed);
    if let Some(reopens) = spec.claim.reopens() {
        let measured = measure_recovery_time(spec, &config, data_dir, reopens)?;
        return Ok(perf_check(spec, &claim, measured));
    }
    let query = spec.claim.query();
    let ledger = Dataset::cached_in(data_dir, spec.dataset(Variant::Ledger))?;
    let measured = match spec.claim {
        ClaimId::IndexRecovery | ClaimId::IndexExportReady => {
            let before = Dataset::cached_in(data_dir, spec.dataset(Variant::Before))?;
            let candidate_data = match spec.candidate_schema {
                Variant::Ledger => &ledger,
                Variant::Before => &before,
            };
            let (bases, twins) = baselines_and_twins(&config, &before.path, Tuning::LEDGER)?;
            let cands = per_set(&config, |set| {
                analyzed_once(&candidate_data.path, Tuning::LEDGER, set)
            })?;
            let plan = match spec.claim.intended_plan() {
                Some(expectation) => Some(plan_verdict(
                    &cands[0],
                    &query.sql(spec.candidate_schema),
                    &expectation,
                )?),
                None => None,
            };
            let candidates = cands
                .iter()
                .map(|cand| Side::plain(cand, spec.candidate_schema))
                .collect();
            let report = compare(
                &config,
                query,
                &sets(&bases, &twins, candidates, Variant::Before),
            )?;
            Measured {
                report,
                baseline: "before schema (primary keys + UNIQUE(content_hash)), ANALYZE".into(),
                candidate: format!("{} schema, ANALYZE", spec.candidate_schema.label()),
                plan,
            }
        }
        ClaimId::CacheRecoveryReused | ClaimId::CacheScanLargerThanCache => {
            let (smalls, twins) =
                baselines_and_twins(&config, &ledger.path, Tuning::SQLITE_DEFAULT)?;
            let bigs = per_set(&config, |set| {
                analyzed_once(&ledger.path, Tuning::CACHE_64MB, set)
            })?;
            let candidates = bigs
                .iter()
                .map(|big| Side::plain(big, Variant::Ledger))
                .collect();
            Measured {
                report: compare(
                    &config,
                    query,
                    &sets(&smalls, &twins, candidates, Variant::Ledger),
                )?,
                baseline: DEFAULT_CACHE.into(),
                candidate: BIG_CACHE.into(),
                plan: None,
            }
        }
        ClaimId::CacheFreshConnection => {
            drop(analyzed(&ledger.path, Tuning::SQLITE_DEFAULT)?);
            Measured {
                report: compare_fresh(&config, &ledger, query, FreshCandidate::Cache64Mb)?,
                baseline: format!("{DEFAULT_CACHE}, new connection per query"),
                candidate: format!("{BIG_CACHE}, new connection per query"),
                plan: None,
            }
        }
        ClaimId::AdaptiveRecoveryReused | ClaimId::AdaptiveScanLargerThanCache => {
            let (smalls, twins) =
                baselines_and_twins(&config, &ledger.path, Tuning::SQLITE_DEFAULT)?;
            let adaptive = per_set(&config, |_| {
                open_adaptive(&ledger.path, ConnectionUse::Reused)
            })?;
            let candidates = adaptive
                .iter()
                .map(|(conn, choice)| Side {
                    follows_scans: Some(*choice),
                    ..Side::plain(conn, Variant::Ledger)
                })
                .collect();
            let sets = sets(&smalls, &twins, candidates, Variant::Ledger);
            let report = compare(&config, query, &sets)?;
            let choices: Vec<String> = adaptive
                .iter()
                .map(|(_, choice)| describe_choice(choice))
                .collect();
            let watched: Vec<Vec<u64>> = sets
                .iter()
                .map(|set| set.candidate.watch_changes.borrow().clone())
                .collect();
            Measured {
                report,
                baseline: DEFAULT_CACHE.into(),
                candidate: format!(
                    "{}, followed by the ledger's scan watch between queries (cache set to {} KiB \
                     by the watch during the run)",
                    one_or_each(&choices),
                    one_or_each(&watched.iter().map(|w| format!("{w:?}")).collect::<Vec<_>>())
                ),
                plan: None,
            }
        }
        ClaimId::AdaptiveFreshConnection => {
            drop(analyzed(&ledger.path, Tuning::SQLITE_DEFAULT)?);
            let (_, choice) = open_adaptive(&ledger.path, ConnectionUse::PerQuery)?;
            Measured {
                report: compare_fresh(&config, &ledger, query, FreshCandidate::Adaptive)?,
                baseline: format!("{DEFAULT_CACHE}, new connection per query"),
                candidate: format!(
                    "{}, the rule applied on each new connection",
                    describe_choice(&choice)
                ),
                plan: None,
            }
        }
        ClaimId::CrashReopenVsClean
        | ClaimId::CrashReopenVsSqlite
        | ClaimId::CrashReopenStalledCheckpoint => {
            unreachable!("measured by measure_recovery_time")
        }
    };
    Ok(perf_check(spec, &claim, measured))
}

/// A recovery-time claim: a crash image left by a killed writer (this
/// executable's `perf-wal-writer` phase) in `data_dir/crash-reopen`, then the
/// two reopens interleaved.
fn measure_recovery_time(
    spec: &PerfSpec,
    config: &AbConfig,
    data_dir: &Path,
    (baseline, candidate): (Reopen, Reopen),
) -> Result<Measured, PerfError> {
    let work = data_dir.join("crash-reopen");
    let exe = std::env::current_exe().map_err(|source| PerfError::Io {
        what: "find the current executable",
        path: work.clone(),
        source,
    })?;
    let image = build_crash_image(&exe, &work, spec.wal_mb, spec.claim.long_reader())?;
    let report = measure_reopen(config, &image, &work.join("run"), (baseline, candidate))?;
    Ok(Measured {
        report,
        baseline: baseline.describe(&image),
        candidate: candidate.describe(&image),
        plan: None,
    })
}

fn perf_check(spec: &PerfSpec, claim: &Claim, measured: Measured) -> PerfCheck {
    let claim = claim
        .clone()
        .with_noise_threshold(&measured.report.control_null);
    let judged = claim.clone().with_measurement(measured.report.ratio);
    PerfCheck {
        claim: claim.id.clone(),
        statement: claim.claim.clone(),
        condition: claim.condition.clone(),
        query: spec.query_name().to_owned(),
        baseline: measured.baseline,
        candidate: measured.candidate,
        baseline_median_ms: measured.report.baseline_median_s * 1e3,
        candidate_median_ms: measured.report.candidate_median_s * 1e3,
        ratio: interval(&measured.report.ratio),
        control: interval(&measured.report.control),
        target: claim.target_ratio,
        gated: spec.gate.unwrap_or(!claim.known_to_fail),
        known_to_fail: claim.known_to_fail,
        verdict: match judged.verdict() {
            Verdict::Holds => PerfVerdict::Holds,
            Verdict::DoesNotHold => PerfVerdict::DoesNotHold,
            Verdict::Inconclusive | Verdict::NotMeasured => PerfVerdict::Inconclusive,
        },
        plan: measured.plan,
        regressions: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(text: &str) -> PerfSpec {
        toml::from_str(text).unwrap()
    }

    #[test]
    fn defaults_are_the_real_family_and_the_claim_gives_the_target() {
        let s = spec("claim = \"index-recovery\"");
        assert_eq!(s.captures, 100_000);
        assert_eq!(s.backlog_permille(), 30);
        assert_eq!(s.claim().target_ratio, 5.0);
        assert!(
            s.claim()
                .condition
                .starts_with("100k captures, 3 % backlog")
        );
        let known = spec("claim = \"cache-fresh-connection\"\ntarget = 2.0");
        assert!(known.claim().known_to_fail);
        assert_eq!(known.claim().target_ratio, 2.0);
        assert!(
            spec("claim = \"index-recovery\"\npairs = 1")
                .validate()
                .is_err()
        );
        assert!(toml::from_str::<PerfSpec>("claim = \"nope\"").is_err());
    }

    #[test]
    fn adaptive_claims_use_the_ledgers_rule_and_the_control_noise() {
        let dir = tempfile::tempdir().unwrap();
        let tiny = |claim: &str| PerfSpec {
            captures: 300,
            pairs: 3,
            warmup_pairs: 0,
            ..spec(&format!("claim = \"{claim}\""))
        };
        let reused = measure(&tiny("adaptive-recovery-reused"), dir.path(), 1).unwrap();
        assert_eq!(reused.target, 1.4);
        assert!(reused.gated);
        assert!(
            reused
                .candidate
                .contains("adaptive cache (2000 KiB: SmallDatabase)"),
            "a 300-capture database fits the floor: {}",
            reused.candidate
        );
        let fresh = measure(&tiny("adaptive-fresh-connection"), dir.path(), 1).unwrap();
        assert!(
            fresh.candidate.contains("PerQueryConnection"),
            "{}",
            fresh.candidate
        );
        assert!(
            fresh.target <= 1.0 && fresh.target > 0.0,
            "the threshold is the lower bound of the A/A control's sign-flip null: {}",
            fresh.target
        );
        assert_eq!(
            fresh.gate_passed(),
            fresh.ratio.median >= fresh.target,
            "gated on the median against the noise threshold"
        );
        let scan = tiny("adaptive-scan-larger-than-cache");
        assert_eq!(scan.query_name(), "full-scan");
        let over_sets = PerfSpec {
            connection_sets: 3,
            ..scan.clone()
        };
        let measured = measure(&over_sets, dir.path(), 1).unwrap();
        assert!(measured.gated && measured.target <= 1.0, "{measured:?}");
        assert_eq!(measured.ratio.pairs, 3);
        assert!(
            measured
                .candidate
                .starts_with("adaptive cache (2000 KiB: SmallDatabase)"),
            "one description for three equal choices: {}",
            measured.candidate
        );
        for sets in [0, 17] {
            let bad = PerfSpec {
                connection_sets: sets,
                ..scan.clone()
            };
            assert!(bad.validate().unwrap_err().contains("connection-sets"));
        }
        let with_target = PerfSpec {
            target: Some(1.0),
            ..scan
        };
        assert!(with_target.validate().unwrap_err().contains("A/A control"));
    }

    #[test]
    fn a_tiny_measurement_records_both_arms_and_the_plan() {
        let dir = tempfile::tempdir().unwrap();
        let indexed = PerfSpec {
            captures: 300,
            pairs: 3,
            warmup_pairs: 0,
            ..spec("claim = \"index-recovery\"")
        };
        let check = measure(&indexed, dir.path(), 1).unwrap();
        assert_eq!(check.claim, "index-recovery");
        assert_eq!(check.ratio.pairs, 3);
        assert_eq!(check.control.pairs, 3);
        assert!(check.baseline_median_ms > 0.0 && check.candidate_median_ms > 0.0);
        let plan = check.plan.expect("index claims check the plan");
        assert!(plan.passed, "{plan:?}");

        let unindexed = PerfSpec {
            candidate_schema: Variant::Before,
            ..indexed
        };
        let plan = measure(&unindexed, dir.path(), 1).unwrap().plan.unwrap();
        assert!(!plan.passed);
        assert!(
            plan.problems
                .iter()
                .any(|p| p.contains("captures_recoverable"))
        );
    }
}
