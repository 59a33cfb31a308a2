//! The actors of a lock-contention iteration, each with its own connection: a writer
//! ([`run_writer`], a process `__worker lock-writer` or a thread), the lock holder
//! ([`holder_worker`], a process, so it can be stopped), and the long reader with its
//! checkpointer ([`LongReaderRun`], threads of the coordinator). They report to the coordinator
//! (`drive.rs`) as [`ActorReport`]s, one JSON line each for processes.

use std::io::{self, BufRead, Write};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use ledger::{Ledger, LedgerError};
use rusqlite::Connection;
use serde::{Deserialize, Serialize};

use super::plan::writer_seed;
use crate::engine::{IterationJob, WorkerMessage};
use crate::engine::{WorkerError, apply_workload_pragmas, drive_options, ledger_config, read_json};
use crate::workload::{CaptureIds, OpError, execute};

/// What a writer or the holder tells the coordinator.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(super) enum ActorReport {
    /// An operation started or finished (its index in the iteration's plan).
    Op(WorkerMessage),
    /// The ledger did not open for this writer.
    OpenFailed(OpError),
    /// The writer's plan is done and its ledger closed.
    Finished {
        /// Per write operation: microseconds waited for locks (busy handler and retry sleeps).
        lock_waits_us: Vec<u64>,
        /// Retries the ledger made.
        retries: u64,
        /// Times the busy handler's deadline passed.
        busy_gave_up: u64,
    },
    /// The holder has the write lock.
    Locked,
    /// The holder released it.
    Released,
}

/// The input of a writer or holder process.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct ActorJob {
    /// The iteration.
    pub(super) job: IterationJob,
    /// The writer's number.
    pub(super) writer: usize,
    /// Its operations in the iteration's plan.
    pub(super) range: Range<usize>,
}

/// Opens this writer's own ledger and runs its operations, reporting each; `send` returns
/// false when the coordinator is gone (the writer then stops).
pub(super) fn run_writer(
    job: &IterationJob,
    writer: usize,
    range: Range<usize>,
    send: &mut dyn FnMut(ActorReport) -> bool,
) {
    let mut options = drive_options(job);
    options.id_seed = Some(writer_seed(job.seed, writer));
    let opened = Ledger::open_with(&ledger_config(job), options).and_then(|ledger| {
        apply_workload_pragmas(job, &ledger)
            .map(|()| ledger)
            .map_err(|e| match e {
                WorkerError::Open(e) => e,
                other => LedgerError::Io {
                    path: job.db_path.clone(),
                    source: io::Error::other(other.to_string()),
                },
            })
    });
    let mut ledger = match opened {
        Ok(ledger) => ledger,
        Err(error) => {
            send(ActorReport::OpenFailed(open_error(&error)));
            return;
        }
    };
    let mut ids = CaptureIds::default();
    let mut lock_waits_us = Vec::with_capacity(range.len());
    for index in range {
        if !send(ActorReport::Op(WorkerMessage::OpStarted { index })) {
            return;
        }
        let before = ledger.lock_waits();
        let outcome = execute(&mut ledger, &job.plan[index], &mut ids);
        let after = ledger.lock_waits();
        lock_waits_us.push(
            after.busy_waited_us.saturating_sub(before.busy_waited_us)
                + after.retry_slept_us.saturating_sub(before.retry_slept_us),
        );
        if !send(ActorReport::Op(WorkerMessage::OpFinished {
            index,
            outcome,
        })) {
            return;
        }
    }
    let retries = ledger.retries();
    let busy_gave_up = ledger.lock_waits().busy_gave_up;
    let _ = ledger.close();
    send(ActorReport::Finished {
        lock_waits_us,
        retries,
        busy_gave_up,
    });
}

fn open_error(error: &LedgerError) -> OpError {
    OpError {
        kind: error.kind().to_owned(),
        sqlite_code: error.extended_code(),
        message: error.to_string(),
        outcome_unknown: false,
    }
}

/// Writes one report as a JSON line on `out`; false when the coordinator is gone.
fn write_report(out: &mut impl Write, report: &ActorReport) -> bool {
    let mut line = serde_json::to_vec(report).expect("actor reports serialise");
    line.push(b'\n');
    out.write_all(&line).and_then(|()| out.flush()).is_ok()
}

/// `__worker lock-writer INPUT`: one writer process.
///
/// # Errors
/// When the input cannot be read.
pub fn writer_worker(input: &Path) -> Result<(), WorkerError> {
    let actor: ActorJob = read_json(input)?;
    let mut out = io::stdout().lock();
    run_writer(&actor.job, actor.writer, actor.range, &mut |report| {
        write_report(&mut out, &report)
    });
    Ok(())
}

/// `__worker lock-holder INPUT`: takes the write lock (`BEGIN IMMEDIATE` on a plain
/// connection), says so, and holds it until a line (or end of file) arrives on stdin; the
/// coordinator stops it meanwhile. Commits nothing: the holder only holds.
///
/// # Errors
/// When the input cannot be read or the lock cannot be taken.
pub fn holder_worker(input: &Path) -> Result<(), WorkerError> {
    let actor: ActorJob = read_json(input)?;
    let sqlite = |operation: &'static str| {
        let path = actor.job.db_path.clone();
        move |source| {
            WorkerError::Open(LedgerError::Sqlite {
                operation,
                path,
                source,
            })
        }
    };
    let conn = Connection::open(&actor.job.db_path).map_err(sqlite("open the holder"))?;
    conn.busy_timeout(Duration::from_secs(5))
        .map_err(sqlite("set busy_timeout"))?;
    conn.execute_batch("BEGIN IMMEDIATE")
        .map_err(sqlite("take the write lock"))?;
    let mut out = io::stdout().lock();
    write_report(&mut out, &ActorReport::Locked);
    let mut line = String::new();
    let _ = io::stdin().lock().read_line(&mut line);
    conn.execute_batch("ROLLBACK")
        .map_err(sqlite("release the write lock"))?;
    write_report(&mut out, &ActorReport::Released);
    Ok(())
}

/// What the long reader and its checkpointer saw.
#[derive(Debug, Clone, Default)]
pub(super) struct ReaderReport {
    /// A snapshot that moved, a checkpoint that failed or could not finish at the end.
    pub(super) problems: Vec<String>,
    /// `wal_checkpoint(PASSIVE)` calls made while the reader held its snapshot.
    pub(super) checkpoints: u64,
    /// Of those, the ones that could not copy every frame (the reader pinned them).
    pub(super) checkpoints_blocked: u64,
    /// Largest `-wal` size seen, in bytes.
    pub(super) wal_peak_bytes: u64,
}

/// A read transaction held open, and a checkpointer beside it, until [`LongReaderRun::finish`].
pub(super) struct LongReaderRun {
    stop: Arc<AtomicBool>,
    thread: JoinHandle<ReaderReport>,
}

/// What the reader's snapshot shows: captures, and the total length of their statuses and
/// contents (any committed change moves one of them).
const SNAPSHOT_QUERY: &str =
    "SELECT count(*), total(length(status)), total(length(raw_content)) FROM captures";

impl LongReaderRun {
    /// Opens the reader's snapshot (returns once it is held) and starts checkpointing every
    /// `every`.
    pub(super) fn start(db_path: &Path, every: Duration) -> LongReaderRun {
        let stop = Arc::new(AtomicBool::new(false));
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let path = db_path.to_owned();
        let flag = Arc::clone(&stop);
        let thread = thread::spawn(move || {
            let mut report = ReaderReport::default();
            if let Err(problem) = read_and_checkpoint(&path, every, &flag, &ready_tx, &mut report) {
                report.problems.push(problem);
            }
            let _ = ready_tx.send(());
            report
        });
        let _ = ready_rx.recv();
        LongReaderRun { stop, thread }
    }

    /// Ends the reader's transaction, runs the final `wal_checkpoint(TRUNCATE)`, and returns
    /// what was seen.
    pub(super) fn finish(self) -> ReaderReport {
        self.stop.store(true, Ordering::SeqCst);
        self.thread.join().unwrap_or_else(|_| ReaderReport {
            problems: vec!["the long reader panicked".into()],
            ..ReaderReport::default()
        })
    }
}

type Snapshot = (i64, f64, f64);

fn read_and_checkpoint(
    path: &Path,
    every: Duration,
    stop: &AtomicBool,
    ready: &std::sync::mpsc::Sender<()>,
    report: &mut ReaderReport,
) -> Result<(), String> {
    let fail = |what: &str| {
        let what = what.to_owned();
        move |e: rusqlite::Error| format!("long reader: cannot {what}: {e}")
    };
    let reader = Connection::open(path).map_err(fail("open"))?;
    reader.execute_batch("BEGIN").map_err(fail("begin"))?;
    let snapshot = |conn: &Connection| -> rusqlite::Result<Snapshot> {
        conn.query_row(SNAPSHOT_QUERY, [], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })
    };
    let first = snapshot(&reader).map_err(fail("read its snapshot"))?;
    let checkpointer = Connection::open(path).map_err(fail("open the checkpointer"))?;
    checkpointer
        .busy_timeout(Duration::from_secs(5))
        .map_err(fail("set busy_timeout"))?;
    let _ = ready.send(());
    let wal = wal_path(path);
    let checkpoint = |mode: &str| -> rusqlite::Result<(i64, i64, i64)> {
        checkpointer.query_row(&format!("PRAGMA wal_checkpoint({mode})"), [], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })
    };
    while !stop.load(Ordering::SeqCst) {
        let (_, log, done) = checkpoint("PASSIVE").map_err(fail("checkpoint"))?;
        report.checkpoints += 1;
        if done < log {
            report.checkpoints_blocked += 1;
        }
        let size = std::fs::metadata(&wal).map_or(0, |m| m.len());
        report.wal_peak_bytes = report.wal_peak_bytes.max(size);
        thread::sleep(every);
    }
    let last = snapshot(&reader).map_err(fail("read its snapshot again"))?;
    if last != first {
        report.problems.push(format!(
            "the long reader's snapshot moved while its transaction was open: {first:?} then {last:?}"
        ));
    }
    reader
        .execute_batch("COMMIT")
        .map_err(fail("end its transaction"))?;
    let (busy, log, done) = checkpoint("TRUNCATE").map_err(fail("run the final checkpoint"))?;
    let left = std::fs::metadata(&wal).map_or(0, |m| m.len());
    if busy != 0 || left != 0 {
        report.problems.push(format!(
            "the checkpoint after the long reader ended did not complete: busy {busy}, {done} of {log} frames, WAL {left} bytes left (a connection still holds a read transaction)"
        ));
    }
    Ok(())
}

/// `<db>-wal`.
pub(super) fn wal_path(db: &Path) -> PathBuf {
    let mut name = db.as_os_str().to_owned();
    name.push("-wal");
    PathBuf::from(name)
}
