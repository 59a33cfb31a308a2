//! [`run_iteration`]: one iteration as two worker processes, judged by what they reported.
//!
//! Each worker runs in its own process group with a deadline; on timeout the group is killed.
//! Process faults are delivered from here: when the drive worker reports that the chosen
//! operation started, the supervisor waits the seeded delay and signals the group.

use std::collections::VecDeque;
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::ExitStatus;
use std::thread;
use std::time::{Duration, Instant};

use reports::{CheckResult, IterationResult, IterationStatus};

use super::control::RunControl;
use super::family::{Family, IterationContext};
use super::job::{CheckInput, IterationJob, WorkerMessage, execution_from};
use super::outcome::IterationOutcome;
use super::signal::{SignalAction, SignalPlan, kill_group};
use super::worker_output::{Fill, WorkerOutput};
use crate::oracle::restart::Shutdown;
use crate::oracle::{CheckName, Execution, OpRecord};
use crate::trace::Trace;

/// Bytes of a worker's stderr kept for the report.
const STDERR_TAIL: usize = 4096;

/// What one worker process did.
#[derive(Debug)]
pub struct WorkerRun {
    messages: Vec<WorkerMessage>,
    status: Option<ExitStatus>,
    timed_out: bool,
    /// The plan's signal was delivered (its description).
    signalled: Option<String>,
    /// The plan's signal was a kill, so the worker's death is expected.
    killed_by_plan: bool,
    /// The worker aborted as its plan intended (a fail point's panic, `RLIMIT_AS`): judged
    /// like a kill ([`Family::planned_crash`]).
    crashed_by_plan: Option<String>,
    stderr_tail: String,
}

impl WorkerRun {
    /// Why the worker ended abnormally, or `None` when it exited 0 or was killed by the plan.
    pub fn failure(&self, phase: &str, timeout: Duration) -> Option<String> {
        if self.timed_out {
            return Some(format!(
                "{phase} worker hung: killed after {}s{}",
                timeout.as_secs(),
                self.stderr_suffix()
            ));
        }
        if self.killed_by_plan || self.crashed_by_plan.is_some() {
            return None;
        }
        match self.status {
            Some(s) if s.success() => None,
            Some(s) => Some(format!(
                "{phase} worker ended with {}{}",
                describe_status(s),
                self.stderr_suffix()
            )),
            None => Some(format!(
                "{phase} worker could not be waited for{}",
                self.stderr_suffix()
            )),
        }
    }

    fn stderr_suffix(&self) -> String {
        if self.stderr_tail.trim().is_empty() {
            String::new()
        } else {
            format!("; stderr tail:\n{}", self.stderr_tail.trim_end())
        }
    }
}

fn describe_status(status: ExitStatus) -> String {
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exit code {code}"),
        (None, Some(signal)) => format!(
            "signal {signal} ({})",
            nix::sys::signal::Signal::try_from(signal).map_or("unknown", |s| s.as_str())
        ),
        _ => "an unknown status".to_owned(),
    }
}

/// Runs one worker: `exe __worker <phase> <input>` (forked by this thread's fork server unless
/// `control` says exec), collecting its messages until it exits or the deadline passes.
/// `signal` says when and how the plan signals the group.
pub fn run_worker(
    exe: &Path,
    phase: &str,
    input: &Path,
    timeout: Duration,
    signal: Option<SignalPlan>,
    control: &RunControl,
) -> std::io::Result<WorkerRun> {
    let super::launch::Launched {
        pgid,
        stdout,
        stderr,
        waiter,
    } = super::launch::launch(exe, phase, input, control)?;
    control.register(pgid);
    let mut output = WorkerOutput::new(stdout, stderr, STDERR_TAIL);
    let deadline = Instant::now() + timeout;
    let mut run = WorkerRun {
        messages: Vec::new(),
        status: None,
        timed_out: false,
        signalled: None,
        killed_by_plan: false,
        crashed_by_plan: None,
        stderr_tail: String::new(),
    };
    let mut lines = VecDeque::new();
    loop {
        let fill = output.fill(Some(deadline), &mut lines);
        for line in lines.drain(..) {
            let Ok(message) = serde_json::from_str::<WorkerMessage>(&line) else {
                continue;
            };
            let trigger = match (&message, signal) {
                (WorkerMessage::OpStarted { index }, Some(p)) => {
                    !p.on_hold && *index == p.point.operation
                }
                (WorkerMessage::Held { .. }, Some(p)) => p.on_hold,
                _ => false,
            };
            run.messages.push(message);
            if let (true, Some(plan)) = (trigger, signal) {
                if !plan.on_hold {
                    thread::sleep(Duration::from_micros(plan.point.delay_us));
                }
                run.signalled = Some(plan.deliver(pgid));
                run.killed_by_plan = plan.action == SignalAction::Kill;
            }
        }
        match fill {
            Fill::Read => {}
            Fill::Closed => break,
            Fill::TimedOut => {
                let _ = kill_group(pgid);
                run.timed_out = true;
                break;
            }
        }
    }
    // Whatever is still in the pipe after a kill was reported before the kill.
    while output.fill(None, &mut lines) != Fill::Closed {}
    run.messages.extend(
        lines
            .drain(..)
            .filter_map(|line| serde_json::from_str(&line).ok()),
    );
    run.status = waiter.wait();
    let _ = kill_group(pgid);
    control.unregister(pgid);
    run.stderr_tail = output.stderr_tail();
    Ok(run)
}

/// The result of `job` with what every kind of iteration reports (identity, status, checks,
/// digest, duration, replay command) and nothing counted yet: each runner sets the counts and
/// extras it has with struct update syntax.
pub fn base_result(
    job: &IterationJob,
    trace: &Trace,
    started: Instant,
    status: IterationStatus,
    checks: Vec<CheckResult>,
) -> IterationResult {
    IterationResult {
        base_seed: job.base_seed,
        seed: job.seed,
        checks,
        trace_digest: trace.digest(),
        duration_ms: started.elapsed().as_millis() as u64,
        replay: replay_command(job),
        ..IterationResult::new(&job.scenario.name, &job.family, job.iteration, status)
    }
}

/// The command that re-runs one iteration.
pub fn replay_command(job: &IterationJob) -> String {
    let mut command = format!(
        "resilience replay {} --seed {} --iteration {}",
        job.scenario.name, job.base_seed, job.iteration
    );
    for arg in &job.replay_args {
        command.push(' ');
        command.push_str(&shell_quote(arg));
    }
    command
}

/// `arg` as one shell word: unchanged when it is plain, single-quoted otherwise.
fn shell_quote(arg: &str) -> String {
    let plain = arg
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "-_./=:,+@%".contains(c));
    if plain && !arg.is_empty() {
        arg.to_owned()
    } else {
        format!("'{}'", arg.replace('\'', "'\\''"))
    }
}

/// Verdicts, lost writes and crash-state counts a check (or exhaustive) worker reported.
#[derive(Debug, Default)]
struct Judged {
    checks: Vec<CheckResult>,
    lost: u64,
    crash_states: Option<(u64, u64)>,
    figures: std::collections::BTreeMap<String, f64>,
}

impl Judged {
    fn take(&mut self, messages: &[WorkerMessage]) {
        for message in messages {
            match message {
                WorkerMessage::Verdict {
                    name,
                    passed,
                    detail,
                } => self.checks.push(CheckResult {
                    name: name.as_str().to_owned(),
                    passed: *passed,
                    detail: detail.clone(),
                }),
                WorkerMessage::LostAcknowledged { count } => self.lost = *count,
                WorkerMessage::CrashStates {
                    checked,
                    elapsed_us,
                } => self.crash_states = Some((*checked, *elapsed_us)),
                WorkerMessage::Figure { name, value } => {
                    self.figures.insert(name.clone(), *value as f64);
                }
                _ => {}
            }
        }
    }
}

/// An error naming each check the scenario lists (or its family's drive always judges) that no
/// worker gave a verdict on: a check that was silently not run must not count as passed.
fn missing_verdicts(listed: &[CheckName], judged: &[CheckResult]) -> Option<String> {
    let missing: Vec<&str> = listed
        .iter()
        .map(|name| name.as_str())
        .filter(|name| !judged.iter().any(|check| check.name == *name))
        .collect();
    (!missing.is_empty()).then(|| {
        format!(
            "no verdict for the listed check(s) {}: the workers ended without judging them",
            missing.join(", ")
        )
    })
}

/// Runs one iteration: its family's own way when it has one ([`Family::run_iteration`]), else
/// [`run_drive_and_check`].
pub fn run_iteration(
    exe: &Path,
    job: &IterationJob,
    dir: &Path,
    control: &RunControl,
) -> IterationOutcome {
    let context = IterationContext {
        exe,
        job,
        dir,
        control,
    };
    let family = job.scenario.family();
    family
        .run_iteration(&context)
        .unwrap_or_else(|| run_drive_and_check(&context, family))
}

/// Was the worker ended by `SIGABRT` (the only end a plan may cause on purpose)?
fn aborted(status: Option<ExitStatus>) -> bool {
    status.and_then(|s| s.signal()) == Some(nix::sys::signal::Signal::SIGABRT as i32)
}

/// Runs one iteration as a drive worker, then a check worker, both from `exe`. A job whose
/// family checks in its drive ([`Family::checks_in_drive`]) runs as one `exhaustive` worker
/// that drives and checks every case.
pub fn run_drive_and_check(
    context: &IterationContext<'_>,
    family: &dyn Family,
) -> IterationOutcome {
    let IterationContext {
        exe,
        job,
        dir,
        control,
    } = *context;
    let started = Instant::now();
    let exhaustive = family.checks_in_drive(job);
    let timeout = Duration::from_secs(job.scenario.timeout_secs);
    let signal = family.signal_plan(job.seed, job.plan.len());
    let job_path = dir.join("job.json");
    let phase = if exhaustive { "exhaustive" } else { "drive" };
    let mut drive = write_input(&job_path, job)
        .and_then(|()| run_worker(exe, phase, &job_path, timeout, signal, control));
    if let Ok(run) = &mut drive
        && aborted(run.status)
    {
        run.crashed_by_plan = family.planned_crash(run.status, &run.messages, &run.stderr_tail);
    }
    let (execution, mut faults, mut error) = match &drive {
        Ok(run) => {
            let (execution, faults) = execution_from(&job.plan, &run.messages);
            (execution, faults, run.failure(phase, timeout))
        }
        Err(e) => (
            Execution::default(),
            Vec::new(),
            Some(format!("cannot start the {phase} worker: {e}")),
        ),
    };
    if let (Ok(run), Some(plan)) = (&drive, signal)
        && let Some(description) = &run.signalled
    {
        let during = if plan.on_hold {
            execution
                .records
                .iter()
                .rposition(|r| *r == OpRecord::InFlight)
        } else {
            Some(plan.point.operation)
        };
        faults.push((during, description.clone()));
    }
    if let Ok(run) = &drive
        && let Some(description) = &run.crashed_by_plan
        && !family.reports_own_crash()
    {
        // A crash the worker reported before it aborted is already in the trace; one known
        // only from the worker's end (an RLIMIT_AS abort) is added here.
        let during = execution
            .records
            .iter()
            .rposition(|r| *r == OpRecord::InFlight);
        faults.push((during, description.clone()));
    }
    let trace = Trace::new(&execution, &faults);
    let mut judged = Judged::default();
    if let Ok(run) = &drive {
        // Exhaustive verdicts, and any drive-phase verdicts (fault_response) and figures.
        judged.take(&run.messages);
        if signal.is_some_and(|p| p.on_hold) {
            let inside = u8::from(run.signalled.is_some());
            judged
                .figures
                .insert("signal_inside_operation".to_owned(), f64::from(inside));
        }
    }
    if !exhaustive && error.is_none() && !control.is_interrupted() {
        let input_path = dir.join("check.json");
        let images: Vec<_> = drive
            .as_ref()
            .map(|run| {
                run.messages
                    .iter()
                    .filter_map(|m| match m {
                        WorkerMessage::CrashImage(image) => Some(image.clone()),
                        _ => None,
                    })
                    .collect()
            })
            .unwrap_or_default();
        let drive_counters = drive.as_ref().ok().and_then(|run| {
            run.messages.iter().find_map(|m| match m {
                WorkerMessage::Counters(counters) => Some(counters.clone()),
                _ => None,
            })
        });
        let shutdown = match &drive {
            Ok(run) if family.knows_shutdown() => shutdown_of(run, &execution, !images.is_empty()),
            _ => None,
        };
        let input = CheckInput {
            job: job.clone(),
            execution: execution.clone(),
            images,
            drive_counters,
            shutdown,
        };
        match write_input(&input_path, &input)
            .and_then(|()| run_worker(exe, "check", &input_path, timeout, None, control))
        {
            Ok(run) => {
                judged.take(&run.messages);
                error = run.failure("check", timeout);
            }
            Err(e) => error = Some(format!("cannot start the check worker: {e}")),
        }
    }
    let Judged {
        mut checks,
        lost,
        crash_states,
        figures,
    } = judged;
    if error.is_none() && !control.is_interrupted() {
        let mut expected_verdicts = job.scenario.checks.clone();
        expected_verdicts.extend(family.drive_checks(&job.scenario));
        error = missing_verdicts(&expected_verdicts, &checks);
    }
    let expected = super::expected::judge(&job.scenario.expected_failures, &mut checks);
    let status = if error.is_some() {
        IterationStatus::Error
    } else if expected || checks.iter().all(|c| c.passed) {
        IterationStatus::Passed
    } else {
        IterationStatus::Failed
    };
    let records = &execution.records;
    let result = IterationResult {
        operations: records
            .iter()
            .filter(|r| !matches!(r, OpRecord::NotStarted))
            .count() as u64,
        acknowledged: records
            .iter()
            .filter(|r| matches!(r, OpRecord::Finished(o) if o.is_ok()))
            .count() as u64,
        faults_injected: trace.fault_count() as u64,
        lost_acknowledged: lost,
        timeline: if status == IterationStatus::Passed {
            Vec::new()
        } else {
            trace.timeline()
        },
        error,
        crash_states: crash_states.map(|(checked, _)| checked),
        crash_states_per_sec: crash_states.map(|(checked, us)| {
            if us == 0 {
                0.0
            } else {
                checked as f64 * 1e6 / us as f64
            }
        }),
        bit_flips: drive.as_ref().ok().and_then(|run| {
            run.messages.iter().find_map(|m| match m {
                WorkerMessage::BitFlips(counts) => Some(*counts),
                _ => None,
            })
        }),
        figures,
        ..base_result(job, &trace, started, status, checks)
    };
    IterationOutcome { result, trace }
}

/// How the drive's ledger ended: unclean when the drive left crash images (cut while the
/// ledger was open), or when a planned kill or crash ended the worker before its last operation
/// finished; clean when the worker exited successfully; `None` when it cannot be told (a kill
/// after the last operation may have met a ledger already dropped).
fn shutdown_of(run: &WorkerRun, execution: &Execution, images: bool) -> Option<Shutdown> {
    if images {
        return Some(Shutdown::Unclean);
    }
    if run.killed_by_plan || run.crashed_by_plan.is_some() {
        let unfinished = execution
            .records
            .iter()
            .any(|r| !matches!(r, OpRecord::Finished(_)));
        return unfinished.then_some(Shutdown::Unclean);
    }
    run.status
        .is_some_and(|s| s.success())
        .then_some(Shutdown::Clean)
}

fn write_input(path: &Path, value: &impl serde::Serialize) -> std::io::Result<()> {
    std::fs::write(
        path,
        serde_json::to_vec(value).map_err(std::io::Error::other)?,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn verdict(name: CheckName) -> CheckResult {
        CheckResult {
            name: name.as_str().to_owned(),
            passed: true,
            detail: String::new(),
        }
    }

    #[test]
    fn a_listed_check_without_a_verdict_is_an_error() {
        let listed = [CheckName::Integrity, CheckName::NoPartial];
        let error = missing_verdicts(&listed, &[verdict(CheckName::Integrity)])
            .expect("no_partial was never judged");
        assert!(error.contains("no_partial"), "{error}");
        assert_eq!(
            missing_verdicts(
                &listed,
                &[verdict(CheckName::Integrity), verdict(CheckName::NoPartial)]
            ),
            None
        );
    }
}
