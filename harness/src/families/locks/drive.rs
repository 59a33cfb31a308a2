//! Drive phase for lock contention: [`drive`] creates the database, stops a lock holder if the
//! plan has one, opens the long reader, starts the writers (processes or threads, see
//! `lock_actors.rs`), forwards their operation reports to the supervisor, and judges
//! `contention_absorbed` with the lock-wait figures.
//!
//! Every child is in the drive worker's process group (the supervisor's timeout kills them all)
//! and is also owned by a [`Children`] guard that resumes (`SIGCONT`) and kills whatever is
//! still running on every way out of [`drive`], so a stopped holder never outlives the
//! iteration.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::thread;
use std::time::{Duration, Instant};

use ledger::Ledger;
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use super::actors::{ActorJob, ActorReport, LongReaderRun, ReaderReport, run_writer};
use super::plan::{LockContention, LockExpectation, WriterKind};
use crate::engine::{IterationJob, Sink, WorkerMessage};
use crate::engine::{WorkerError, drive_options, ledger_config};
use crate::oracle::CheckName;
use crate::oracle::contention::{
    ContentionEvidence, LockBudget, WriterOutcome, contention_absorbed, is_lock_error,
};
use crate::oracle::{Execution, OpRecord};
use crate::workload::OpOutcome;

/// Who sent a report: writer `k` or the holder; `None` = its stream ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Actor {
    Writer(usize),
    Holder,
}

type Report = (Actor, Option<ActorReport>);

/// How long the holder may take to get the lock (nobody else is running yet).
const HOLDER_START: Duration = Duration::from_secs(10);
/// How long a writer process may take to exit after its last report.
const EXIT_GRACE: Duration = Duration::from_secs(5);

/// Runs the job under its lock-contention plan.
pub(super) fn drive(
    job: &IterationJob,
    locks: &LockContention,
    sink: &mut Sink<'_>,
) -> Result<(), WorkerError> {
    Ledger::open_with(&ledger_config(job), drive_options(job))?
        .close()
        .map_err(WorkerError::Open)?;
    let ranges = locks.writer_ranges(&job.scenario.workload, job.seed);
    let (tx, rx) = mpsc::channel::<Report>();
    let mut children = Children::default();
    let mut run = Contention::new(locks, ranges.len());
    if let Some(holder) = &locks.stopped_holder {
        run.holder = start_holder(job, &tx, &rx, &mut children, holder.stop_ms)?;
    }
    let reader = locks
        .long_reader
        .as_ref()
        .map(|r| LongReaderRun::start(&job.db_path, Duration::from_millis(r.checkpoint_every_ms)));
    let started = Instant::now();
    let threads = start_writers(
        job,
        locks.writer_kind,
        &ranges,
        &tx,
        &mut children,
        &mut run,
    )?;
    drop(tx);
    let deadline = started + Duration::from_millis(locks.writer_bound_ms);
    run.collect(&rx, deadline, &mut children, sink)?;
    if let Some(holder) = run.holder.as_mut().filter(|h| !h.resumed) {
        holder.resume();
    }
    run.hangs(job, &children);
    for k in 0..run.writers.len() {
        if run.writers[k].hang.is_some() {
            children.kill(Actor::Writer(k));
        }
    }
    let exits = children.finish();
    for (actor, status) in exits {
        if let (Actor::Writer(k), Some(status)) = (actor, status)
            && !status.success()
            && run.writers[k].hang.is_none()
        {
            run.writers[k].abnormal_end = Some(format!("process ended with {status}"));
        }
    }
    for (k, handle) in threads {
        // A thread whose stream ended is returning (or unwinding): joining it does not block.
        if run.ended[k] && handle.join().is_err() {
            run.writers[k].abnormal_end = Some("writer thread panicked".into());
        }
    }
    let reader = reader.map(LongReaderRun::finish);
    run.report(job, locks, reader, started.elapsed(), sink)
}

/// Spawns the holder, waits until it holds the write lock, and stops it.
fn start_holder(
    job: &IterationJob,
    tx: &Sender<Report>,
    rx: &Receiver<Report>,
    children: &mut Children,
    stop_ms: u64,
) -> Result<Option<HolderRun>, WorkerError> {
    let actor = ActorJob {
        job: job.clone(),
        writer: usize::MAX,
        range: 0..0,
    };
    let mut child = spawn_actor(job, "lock-holder", "holder", &actor, true)?;
    let stdin = child.stdin.take();
    forward(&mut child, Actor::Holder, tx);
    children.push(Actor::Holder, child);
    let locked = loop {
        match rx.recv_timeout(HOLDER_START) {
            Ok((Actor::Holder, Some(ActorReport::Locked))) => break true,
            Ok((Actor::Holder, None)) | Err(_) => break false,
            Ok(_) => {}
        }
    };
    if !locked {
        return Ok(None);
    }
    let pid = children.pid(Actor::Holder);
    if let Some(pid) = pid {
        let _ = kill(pid, Signal::SIGSTOP);
    }
    Ok(Some(HolderRun {
        pid,
        stdin,
        locked_at: Instant::now(),
        resume_at: Instant::now() + Duration::from_millis(stop_ms),
        resumed: false,
        released_after: None,
    }))
}

/// Starts every writer; returns the handles of writer threads.
fn start_writers(
    job: &IterationJob,
    kind: WriterKind,
    ranges: &[std::ops::Range<usize>],
    tx: &Sender<Report>,
    children: &mut Children,
    run: &mut Contention,
) -> Result<Vec<(usize, thread::JoinHandle<()>)>, WorkerError> {
    let mut threads = Vec::new();
    for (k, range) in ranges.iter().enumerate() {
        match kind {
            WriterKind::Processes => {
                let actor = ActorJob {
                    job: job.clone(),
                    writer: k,
                    range: range.clone(),
                };
                let mut child =
                    spawn_actor(job, "lock-writer", &format!("writer-{k}"), &actor, false)?;
                run.writers[k].label = format!("writer {k} (process {})", child.id());
                forward(&mut child, Actor::Writer(k), tx);
                children.push(Actor::Writer(k), child);
            }
            WriterKind::Threads => {
                run.writers[k].label = format!("writer {k} (thread)");
                let (job, range, tx) = (job.clone(), range.clone(), tx.clone());
                threads.push((
                    k,
                    thread::spawn(move || {
                        let end = EndNotice(Actor::Writer(k), tx);
                        run_writer(&job, k, range, &mut |report| {
                            end.1.send((Actor::Writer(k), Some(report))).is_ok()
                        });
                    }),
                ));
            }
        }
    }
    Ok(threads)
}

/// Writes the actor's input beside the database and spawns `exe __worker PHASE INPUT`, in this
/// worker's process group.
fn spawn_actor(
    job: &IterationJob,
    phase: &str,
    name: &str,
    actor: &ActorJob,
    piped_stdin: bool,
) -> Result<Child, WorkerError> {
    let dir = job.db_path.parent().unwrap_or(Path::new("."));
    let input = dir.join(format!("{name}.json"));
    let scratch = |source| WorkerError::Scratch {
        path: input.display().to_string(),
        source,
    };
    let text = serde_json::to_vec(actor).map_err(|e| scratch(std::io::Error::other(e)))?;
    std::fs::write(&input, text).map_err(scratch)?;
    let exe = std::env::current_exe().map_err(scratch)?;
    Command::new(exe)
        .args(["__worker", phase])
        .arg(&input)
        .stdin(if piped_stdin {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(scratch)
}

/// A thread that turns the child's stdout lines into reports, then says the stream ended.
fn forward(child: &mut Child, actor: Actor, tx: &Sender<Report>) {
    let stdout = child.stdout.take().expect("stdout is piped");
    let tx = tx.clone();
    thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if let Ok(report) = serde_json::from_str(&line)
                && tx.send((actor, Some(report))).is_err()
            {
                return;
            }
        }
        let _ = tx.send((actor, None));
    });
}

/// Says a writer thread's stream ended when dropped, also when the writer panicked.
struct EndNotice(Actor, Sender<Report>);

impl Drop for EndNotice {
    fn drop(&mut self) {
        let _ = self.1.send((self.0, None));
    }
}

/// The stopped holder while the writers run.
struct HolderRun {
    pid: Option<Pid>,
    stdin: Option<ChildStdin>,
    locked_at: Instant,
    resume_at: Instant,
    resumed: bool,
    released_after: Option<Duration>,
}

impl HolderRun {
    /// `SIGCONT`, then the line that makes it release the lock.
    fn resume(&mut self) {
        if let Some(pid) = self.pid {
            let _ = kill(pid, Signal::SIGCONT);
        }
        if let Some(mut stdin) = self.stdin.take() {
            let _ = stdin.write_all(b"release\n");
        }
        self.resumed = true;
    }
}

/// What the coordinator gathers while the writers run.
struct Contention {
    writers: Vec<WriterOutcome>,
    ended: Vec<bool>,
    holder: Option<HolderRun>,
    holder_started: bool,
    lock_waits_us: Vec<u64>,
    retries: u64,
    busy_gave_up: u64,
    records: Vec<(usize, OpOutcome)>,
}

impl Contention {
    fn new(locks: &LockContention, writers: usize) -> Contention {
        Contention {
            writers: vec![WriterOutcome::default(); writers],
            ended: vec![false; writers],
            holder: None,
            holder_started: locks.stopped_holder.is_some(),
            lock_waits_us: Vec::new(),
            retries: 0,
            busy_gave_up: 0,
            records: Vec::new(),
        }
    }

    /// Receives reports until every writer ended and the holder released, or `deadline`.
    fn collect(
        &mut self,
        rx: &Receiver<Report>,
        deadline: Instant,
        children: &mut Children,
        sink: &mut Sink<'_>,
    ) -> Result<(), WorkerError> {
        loop {
            let holder_done = self
                .holder
                .as_ref()
                .is_none_or(|h| h.released_after.is_some());
            if self.ended.iter().all(|e| *e) && holder_done {
                return Ok(());
            }
            let mut wake = deadline;
            if let Some(h) = self.holder.as_mut().filter(|h| !h.resumed) {
                if Instant::now() >= h.resume_at {
                    h.resume();
                    continue;
                }
                wake = wake.min(h.resume_at);
            }
            match rx.recv_timeout(wake.saturating_duration_since(Instant::now())) {
                Ok((actor, report)) => self.take(actor, report, sink)?,
                Err(RecvTimeoutError::Timeout) if Instant::now() >= deadline => return Ok(()),
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => {
                    children.resume_all();
                    return Ok(());
                }
            }
        }
    }

    fn take(
        &mut self,
        actor: Actor,
        report: Option<ActorReport>,
        sink: &mut Sink<'_>,
    ) -> Result<(), WorkerError> {
        match (actor, report) {
            (Actor::Writer(k), None) => self.ended[k] = true,
            (Actor::Holder, None) => {
                if let Some(h) = self.holder.as_mut() {
                    h.stdin = None;
                }
            }
            (_, Some(ActorReport::Op(message))) => {
                if let WorkerMessage::OpFinished { index, outcome } = &message {
                    self.records.push((*index, outcome.clone()));
                }
                sink(message)?;
            }
            (Actor::Writer(k), Some(ActorReport::OpenFailed(error))) => {
                self.writers[k].open_error = Some(error);
            }
            (
                Actor::Writer(k),
                Some(ActorReport::Finished {
                    lock_waits_us,
                    retries,
                    busy_gave_up,
                }),
            ) => {
                self.writers[k].finished = true;
                self.lock_waits_us.extend(lock_waits_us);
                self.retries += retries;
                self.busy_gave_up += busy_gave_up;
            }
            (Actor::Holder, Some(ActorReport::Released)) => {
                if let Some(h) = self.holder.as_mut() {
                    h.released_after = Some(h.locked_at.elapsed());
                }
            }
            (_, Some(_)) => {}
        }
        Ok(())
    }

    /// Marks every writer that has not ended as hung, with what can be seen of it.
    fn hangs(&mut self, job: &IterationJob, children: &Children) {
        let held = super::hang::file_locks(&job.db_path, &children.pids());
        for k in 0..self.writers.len() {
            if self.ended[k] {
                continue;
            }
            let state = children.pid(Actor::Writer(k)).map_or(
                "a thread of the drive worker".to_owned(),
                super::hang::process_state,
            );
            self.writers[k].hang = Some(format!("{state}; locks on the database files: {held}"));
        }
    }

    /// Emits the fault notes, the figures and the verdict.
    fn report(
        self,
        job: &IterationJob,
        locks: &LockContention,
        reader: Option<ReaderReport>,
        elapsed: Duration,
        sink: &mut Sink<'_>,
    ) -> Result<(), WorkerError> {
        let mut notes = vec![format!(
            "{} writer {} on one database for {} ms",
            self.writers.len(),
            match locks.writer_kind {
                WriterKind::Processes => "processes",
                WriterKind::Threads => "threads",
            },
            elapsed.as_millis()
        )];
        let mut figures = lock_wait_figures(&self.lock_waits_us);
        figures.push(("writers", self.writers.len() as u64));
        figures.push(("retries", self.retries));
        figures.push(("busy_gave_up", self.busy_gave_up));
        let surfaced = self
            .records
            .iter()
            .filter(|(_, o)| matches!(o, OpOutcome::Err(e) if is_lock_error(e)))
            .count();
        figures.push(("lock_errors_surfaced", surfaced as u64));
        let mut holders = Vec::new();
        if self.holder_started {
            let held = self
                .holder
                .as_ref()
                .and_then(|h| h.released_after)
                .map(|d| d.as_millis() as u64);
            notes.push(match (&self.holder, held) {
                (None, _) => "the lock holder never took the write lock".to_owned(),
                (Some(_), Some(ms)) => format!(
                    "lock holder stopped (SIGSTOP) holding the write lock, resumed (SIGCONT) after {} ms; held it {ms} ms",
                    locks.stopped_holder.as_ref().map_or(0, |h| h.stop_ms)
                ),
                (Some(_), None) => "lock holder stopped holding the write lock, never released it".to_owned(),
            });
            if let Some(ms) = held {
                figures.push(("holder_held_ms", ms));
            }
            holders.push(held);
        }
        let reader_problems = match &reader {
            Some(r) => {
                notes.push(format!(
                    "long reader held one snapshot throughout: {} checkpoints, {} blocked by it, WAL peak {} bytes",
                    r.checkpoints, r.checkpoints_blocked, r.wal_peak_bytes
                ));
                figures.push(("checkpoints", r.checkpoints));
                figures.push(("checkpoints_blocked", r.checkpoints_blocked));
                figures.push(("wal_peak_bytes", r.wal_peak_bytes));
                r.problems.clone()
            }
            None => Vec::new(),
        };
        for description in notes {
            sink(WorkerMessage::Fault {
                during_operation: None,
                description,
            })?;
        }
        for (name, value) in figures {
            sink(WorkerMessage::Figure {
                name: name.to_owned(),
                value,
            })?;
        }
        let mut records = vec![OpRecord::NotStarted; job.plan.len()];
        for (index, outcome) in self.records {
            if let Some(slot) = records.get_mut(index) {
                *slot = OpRecord::Finished(outcome);
            }
        }
        let evidence = ContentionEvidence {
            budget: match locks.expect {
                LockExpectation::Absorbed => LockBudget::Within,
                LockExpectation::CleanBusy => LockBudget::Exceeded,
            },
            writers: self.writers,
            execution: Execution {
                operations: job.plan.clone(),
                records,
            },
            holders,
            reader_problems,
        };
        let problems = contention_absorbed(&evidence);
        let mut detail = problems
            .iter()
            .take(6)
            .cloned()
            .collect::<Vec<_>>()
            .join("; ");
        if problems.len() > 6 {
            detail.push_str(&format!("; and {} more", problems.len() - 6));
        }
        sink(WorkerMessage::Verdict {
            name: CheckName::ContentionAbsorbed,
            passed: problems.is_empty(),
            detail,
        })
    }
}

/// Lock-wait p50/p95/p99/max over every write operation (microseconds), and how many waited.
fn lock_wait_figures(waits: &[u64]) -> Vec<(&'static str, u64)> {
    let mut sorted = waits.to_vec();
    sorted.sort_unstable();
    let rank = |q: f64| -> u64 {
        if sorted.is_empty() {
            return 0;
        }
        let index = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len()) - 1;
        sorted[index]
    };
    vec![
        ("lock_wait_p50_us", rank(0.50)),
        ("lock_wait_p95_us", rank(0.95)),
        ("lock_wait_p99_us", rank(0.99)),
        ("lock_wait_max_us", sorted.last().copied().unwrap_or(0)),
        (
            "lock_waited_ops",
            sorted.iter().filter(|w| **w > 0).count() as u64,
        ),
        ("write_ops", sorted.len() as u64),
    ]
}

/// The processes this drive started; whatever still runs when it is dropped (or
/// [`Children::finish`]ed) is resumed and killed, so a stopped holder never outlives it.
#[derive(Default)]
struct Children {
    running: Vec<(Actor, Child)>,
}

impl Children {
    fn push(&mut self, actor: Actor, child: Child) {
        self.running.push((actor, child));
    }

    fn pid(&self, actor: Actor) -> Option<Pid> {
        self.running
            .iter()
            .find(|(a, _)| *a == actor)
            .map(|(_, c)| Pid::from_raw(c.id() as i32))
    }

    fn pids(&self) -> Vec<(Pid, String)> {
        self.running
            .iter()
            .map(|(a, c)| {
                (
                    Pid::from_raw(c.id() as i32),
                    format!("{a:?}").to_lowercase(),
                )
            })
            .collect()
    }

    /// Resumes and kills one child (it is reaped by [`Children::finish`]).
    fn kill(&mut self, actor: Actor) {
        for (_, child) in self.running.iter_mut().filter(|(a, _)| *a == actor) {
            let _ = kill(Pid::from_raw(child.id() as i32), Signal::SIGCONT);
            let _ = child.kill();
        }
    }

    /// `SIGCONT` to every child (nothing stays stopped).
    fn resume_all(&self) {
        for (_, child) in &self.running {
            let _ = kill(Pid::from_raw(child.id() as i32), Signal::SIGCONT);
        }
    }

    /// Waits a little for each child to exit, kills those that do not; returns how each ended
    /// (`None`: it had to be killed).
    fn finish(&mut self) -> Vec<(Actor, Option<ExitStatus>)> {
        self.resume_all();
        let grace = Instant::now() + EXIT_GRACE;
        let mut ended = Vec::new();
        for (actor, mut child) in self.running.drain(..) {
            let status = loop {
                match child.try_wait() {
                    Ok(Some(status)) => break Some(status),
                    Ok(None) if Instant::now() < grace => thread::sleep(Duration::from_millis(2)),
                    _ => {
                        let _ = child.kill();
                        let _ = child.wait();
                        break None;
                    }
                }
            };
            ended.push((actor, status));
        }
        ended
    }
}

impl Drop for Children {
    fn drop(&mut self) {
        self.resume_all();
        for (_, child) in &mut self.running {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
