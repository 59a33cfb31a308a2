//! Perf scenarios: one `__worker perf JOB` process measures the scenario's claim
//! ([`crate::perf::scenario::measure`]) and writes `perf.json` beside the job; the supervisor
//! ([`run_perf_iteration`]) turns it into the iteration's checks (`perf_gate` or
//! `perf_recorded`, and `query_plan`), flags regressions against the history and records the
//! [`PerfCheck`] in the results.
//!
//! Perf workers serialise on an exclusive lock (`perf.lock` in the dataset directory), so two
//! measurements never share the CPU with each other, whatever `--jobs` says.

use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use reports::perf::PerfCheck;
use reports::{CheckResult, IterationResult, IterationStatus};

use crate::engine::IterationJob;
use crate::engine::RunControl;
use crate::engine::{IterationOutcome, base_result, run_worker};
use crate::oracle::Execution;
use crate::perf::PerfError;
use crate::perf::dataset::data_dir;
use crate::perf::regression::regressions;
use crate::trace::Trace;

/// The file the perf worker writes its measurement to, in the iteration directory.
const PERF_FILE: &str = "perf.json";

/// A perf worker that could not measure.
#[derive(Debug, thiserror::Error)]
pub enum PerfDriveError {
    /// The job file could not be read or parsed.
    #[error("cannot read perf job {path}")]
    Job {
        /// The job file.
        path: PathBuf,
        /// What went wrong.
        #[source]
        source: io::Error,
    },
    /// The job is not a perf scenario.
    #[error("scenario {0} has no [perf] table")]
    NotPerf(String),
    /// Building the dataset or measuring failed.
    #[error("measuring {scenario} failed")]
    Measure {
        /// The scenario.
        scenario: String,
        /// What failed.
        #[source]
        source: Box<PerfError>,
    },
    /// The measurement lock or the result file could not be written.
    #[error("cannot write {path}")]
    Write {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        #[source]
        source: io::Error,
    },
}

fn iteration_dir(job: &IterationJob) -> PathBuf {
    job.db_path
        .parent()
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf)
}

/// Worker side: measures the job's claim under the perf lock and writes `perf.json`.
///
/// # Errors
/// [`PerfDriveError`]: the job, the measurement or the result file.
pub fn perf_worker(job_path: &Path) -> Result<(), PerfDriveError> {
    let job_err = |source| PerfDriveError::Job {
        path: job_path.to_owned(),
        source,
    };
    let text = std::fs::read_to_string(job_path).map_err(job_err)?;
    let job: IterationJob =
        serde_json::from_str(&text).map_err(|e| job_err(io::Error::other(e)))?;
    let spec = job
        .scenario
        .perf
        .as_ref()
        .ok_or_else(|| PerfDriveError::NotPerf(job.scenario.name.clone()))?;
    let dir = data_dir();
    let lock_path = dir.join("perf.lock");
    let write_err = |path: &Path| {
        let path = path.to_owned();
        move |source| PerfDriveError::Write { path, source }
    };
    std::fs::create_dir_all(&dir).map_err(write_err(&dir))?;
    let lock_file = std::fs::File::create(&lock_path).map_err(write_err(&lock_path))?;
    let _lock = nix::fcntl::Flock::lock(lock_file, nix::fcntl::FlockArg::LockExclusive)
        .map_err(|(_, errno)| write_err(&lock_path)(io::Error::from_raw_os_error(errno as i32)))?;
    let check = crate::perf::scenario::measure(spec, &dir, job.seed).map_err(|source| {
        PerfDriveError::Measure {
            scenario: job.scenario.name.clone(),
            source: Box::new(source),
        }
    })?;
    let out = iteration_dir(&job).join(PERF_FILE);
    let bytes =
        serde_json::to_vec_pretty(&check).map_err(|e| write_err(&out)(io::Error::other(e)))?;
    reports::write_file_atomically(&out, &bytes).map_err(write_err(&out))
}

/// The checks a perf measurement yields: the ratio gate (or the ungated record) and the plan.
pub fn perf_checks(check: &PerfCheck) -> Vec<CheckResult> {
    let summary = format!(
        "{}: A {:.3} ms, B {:.3} ms, ratio {} ({:.0} % CI, {} pairs), A/A {}, target >= {:.2}x: {}",
        check.claim,
        check.baseline_median_ms,
        check.candidate_median_ms,
        check.ratio,
        check.ratio.confidence * 100.0,
        check.ratio.pairs,
        check.control,
        check.target,
        check.verdict.as_str()
    );
    let mut checks = vec![if check.gated {
        CheckResult {
            name: "perf_gate".into(),
            passed: check.gate_passed(),
            detail: summary,
        }
    } else {
        CheckResult {
            name: "perf_recorded".into(),
            passed: true,
            detail: format!("{summary} (not gated: known to fail under this condition)"),
        }
    }];
    if let Some(plan) = &check.plan {
        checks.push(CheckResult {
            name: "query_plan".into(),
            passed: plan.passed,
            detail: if plan.passed {
                format!("uses {}: {}", plan.expected_index, plan.plan.join(" / "))
            } else {
                format!(
                    "{}; plan: {}",
                    plan.problems.join("; "),
                    plan.plan.join(" / ")
                )
            },
        });
    }
    checks
}

/// Supervisor side: one perf iteration as one worker process.
pub(super) fn run_perf_iteration(
    exe: &Path,
    job: &IterationJob,
    dir: &Path,
    control: &RunControl,
) -> IterationOutcome {
    let started = Instant::now();
    let timeout = Duration::from_secs(job.scenario.timeout_secs);
    let job_path = dir.join("job.json");
    let ran = serde_json::to_vec(job)
        .map_err(io::Error::other)
        .and_then(|bytes| std::fs::write(&job_path, bytes))
        .and_then(|()| run_worker(exe, "perf", &job_path, timeout, None, control));
    let mut error = match &ran {
        Ok(run) => run.failure("perf", timeout),
        Err(e) => Some(format!("cannot start the perf worker: {e}")),
    };
    let mut perf = Vec::new();
    if error.is_none() {
        let path = dir.join(PERF_FILE);
        match std::fs::read(&path)
            .map_err(|e| e.to_string())
            .and_then(|bytes| {
                serde_json::from_slice::<PerfCheck>(&bytes).map_err(|e| e.to_string())
            }) {
            Ok(mut check) => {
                if let Some(spec) = &job.scenario.perf {
                    check.regressions = regressions(&check, &spec.history, spec.regression_margin);
                }
                perf.push(check);
            }
            Err(e) => error = Some(format!("the perf worker left no readable {PERF_FILE}: {e}")),
        }
    }
    let checks: Vec<CheckResult> = perf.iter().flat_map(perf_checks).collect();
    for check in &checks {
        eprintln!(
            "perf {}: {} {}",
            job.scenario.name, check.name, check.detail
        );
    }
    for regression in perf.iter().flat_map(|c| &c.regressions) {
        eprintln!(
            "perf {}: regression: {}",
            job.scenario.name, regression.detail
        );
    }
    let status = if error.is_some() {
        IterationStatus::Error
    } else if checks.iter().all(|c| c.passed) {
        IterationStatus::Passed
    } else {
        IterationStatus::Failed
    };
    let trace = Trace::new(&Execution::default(), &[]);
    let result = IterationResult {
        error,
        perf,
        ..base_result(job, &trace, started, status, checks)
    };
    IterationOutcome { result, trace }
}
