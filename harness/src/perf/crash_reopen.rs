//! Recovery-time claims: how long the ledger takes to come back after a crash.
//!
//! [`build_crash_image`] starts a writer process (`__worker perf-wal-writer`,
//! [`wal_writer`]) that stages captures until its WAL holds the asked
//! megabytes, then kills it with `SIGKILL`: the database, its WAL and its WAL
//! index are left exactly as a `kill -9` leaves them. The WAL grows either
//! because the writer turned automatic checkpoints off, or (a stalled
//! checkpoint) because a second connection of the writer held a read
//! snapshot from the start, so each commit's automatic checkpoint could copy
//! nothing back. A checkpointed copy of the same content is the clean image.
//! [`measure_reopen`] then times, interleaved, opening fresh copies of the
//! images: every sample copies its image first (untimed) and times only the
//! open (and, for the stalled checkpoint, the first write after it, whose
//! automatic checkpoint resumes now that the reader is gone), so each open
//! recovers the same WAL.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use ledger::{Config, Ledger, NewCapture, Source};
use perfkit::{AbConfig, AbReport, Arm, PerfError, ab_report, sql_err};
use serde::{Deserialize, Serialize};

/// The worker phase of the writer that is killed.
pub const WAL_WRITER_PHASE: &str = "perf-wal-writer";

/// The line the writer prints once its WAL is full.
const READY: &str = "wal-writer-ready";

const DB_FILE: &str = "ledger.db";

/// What the writer process is asked to do.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WalWriterInput {
    /// The directory the ledger is created in.
    pub dir: PathBuf,
    /// Megabytes of WAL to leave.
    pub wal_mb: u64,
    /// Grow the WAL behind a long reader (automatic checkpoints on, stalled by the reader's
    /// snapshot) instead of with automatic checkpoints off.
    #[serde(default)]
    pub long_reader: bool,
}

fn io_err(what: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> PerfError {
    let path = path.to_owned();
    move |source| PerfError::Io { what, path, source }
}

fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

fn config(dir: &Path) -> Config {
    Config::new(dir.join(DB_FILE), dir.join("vault"))
}

/// A passive checkpoint on `conn`: (frames in the WAL, frames checkpointed).
fn passive_checkpoint(conn: &rusqlite::Connection) -> rusqlite::Result<(i64, i64)> {
    conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |row| {
        Ok((row.get(1)?, row.get(2)?))
    })
}

/// Worker side: stage captures until the WAL holds the asked megabytes (with
/// automatic checkpoints off, or behind a reader that holds its snapshot from
/// the first write on), print the ready line with the WAL's frames and those
/// a passive checkpoint could copy, then wait to be killed.
///
/// # Errors
/// The input cannot be read, or the ledger fails.
pub fn wal_writer(input: &Path) -> anyhow::Result<()> {
    let input: WalWriterInput = serde_json::from_slice(&std::fs::read(input)?)?;
    let config = config(&input.dir);
    let mut ledger = Ledger::open(&config)?;
    let reader = if input.long_reader {
        let reader = rusqlite::Connection::open(&config.path)?;
        reader.execute_batch("BEGIN")?;
        reader.query_row("SELECT count(*) FROM captures", [], |_| Ok(()))?;
        Some(reader)
    } else {
        ledger
            .connection()
            .pragma_update(None, "wal_autocheckpoint", 0)?;
        None
    };
    let wal = sibling(&config.path, "-wal");
    let body = "lorem ipsum dolor sit amet ".repeat(120);
    let mut n = 0u64;
    while std::fs::metadata(&wal).map_or(0, |m| m.len()) < input.wal_mb << 20 {
        ledger.stage(&NewCapture {
            source: Source::Email,
            raw_content: format!("{n} {body}"),
            channel: Some("inbox".into()),
            channel_native_id: Some(format!("m{n}")),
        })?;
        n += 1;
    }
    let (frames, checkpointed) = passive_checkpoint(ledger.connection())?;
    println!("{READY} {n} {frames} {checkpointed}");
    let _held = reader;
    loop {
        std::thread::sleep(std::time::Duration::from_secs(60));
    }
}

/// A database left by a killed writer, and a clean copy of the same content.
#[derive(Debug)]
pub struct CrashImage {
    /// The directory holding the crashed `ledger.db`, `-wal` and `-shm`.
    pub crashed: PathBuf,
    /// The directory holding the same content checkpointed, without a WAL.
    pub clean: PathBuf,
    /// Bytes in the crashed WAL.
    pub wal_bytes: u64,
    /// Captures the writer staged.
    pub captures: u64,
    /// Frames in the crashed WAL, as the writer's last passive checkpoint counted them.
    pub wal_frames: i64,
    /// Frames that checkpoint could copy back (none behind a long reader).
    pub checkpointed_frames: i64,
    /// Whether a long reader held its snapshot while the WAL grew.
    pub long_reader: bool,
}

/// Runs the writer (`exe __worker perf-wal-writer`) in `work/crashed`, kills it
/// with `SIGKILL` once its WAL holds `wal_mb` MB (grown behind a long reader
/// when `long_reader`), and makes the clean copy in `work/clean`.
///
/// # Errors
/// The writer could not start or ended before its WAL was full, a long reader
/// did not stall its checkpoints, or a copy failed.
pub fn build_crash_image(
    exe: &Path,
    work: &Path,
    wal_mb: u64,
    long_reader: bool,
) -> Result<CrashImage, PerfError> {
    let crashed = work.join("crashed");
    let clean = work.join("clean");
    for dir in [&crashed, &clean] {
        let _ = std::fs::remove_dir_all(dir);
        std::fs::create_dir_all(dir).map_err(io_err("create", dir))?;
    }
    let input_path = work.join("wal-writer.json");
    let input = WalWriterInput {
        dir: crashed.clone(),
        wal_mb,
        long_reader,
    };
    let bytes = serde_json::to_vec(&input)
        .map_err(|e| io_err("write", &input_path)(std::io::Error::other(e)))?;
    std::fs::write(&input_path, bytes).map_err(io_err("write", &input_path))?;
    let mut child = Command::new(exe)
        .args(["__worker", WAL_WRITER_PHASE])
        .arg(&input_path)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(io_err("start the WAL writer", exe))?;
    let stdout = child.stdout.take().expect("stdout is piped");
    let ready = BufReader::new(stdout)
        .lines()
        .map_while(Result::ok)
        .find_map(|line| line.strip_prefix(READY).map(parse_ready));
    child.kill().map_err(io_err("kill the WAL writer", exe))?;
    child.wait().map_err(io_err("reap the WAL writer", exe))?;
    let (captures, wal_frames, checkpointed_frames) = ready.ok_or_else(|| {
        io_err("run the WAL writer", exe)(std::io::Error::other("it ended before its WAL was full"))
    })?;
    if long_reader && checkpointed_frames * 2 >= wal_frames {
        return Err(io_err("stall the WAL writer's checkpoints", exe)(
            std::io::Error::other(format!(
                "the long reader did not stall them: {checkpointed_frames} of {wal_frames} frames checkpointed"
            )),
        ));
    }
    let db = crashed.join(DB_FILE);
    let wal_bytes = std::fs::metadata(sibling(&db, "-wal"))
        .map_err(io_err("stat", &db))?
        .len();
    copy_image(&crashed, &clean)?;
    let conn =
        rusqlite::Connection::open(clean.join(DB_FILE)).map_err(sql_err("open the clean copy"))?;
    conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
        .map_err(sql_err("checkpoint the clean copy"))?;
    conn.close()
        .map_err(|(_, e)| sql_err("close the clean copy")(e))?;
    for suffix in ["-wal", "-shm"] {
        let _ = std::fs::remove_file(sibling(&clean.join(DB_FILE), suffix));
    }
    Ok(CrashImage {
        crashed,
        clean,
        wal_bytes,
        captures,
        wal_frames,
        checkpointed_frames,
        long_reader,
    })
}

/// The ready line's counts after its tag: captures, WAL frames, frames checkpointed.
fn parse_ready(rest: &str) -> (u64, i64, i64) {
    let mut fields = rest.split_whitespace();
    let captures = fields.next().and_then(|n| n.parse().ok()).unwrap_or(0);
    let mut next = || fields.next().and_then(|n| n.parse().ok()).unwrap_or(-1);
    let frames = next();
    (captures, frames, next())
}

/// Replaces `to`'s database files with copies of `from`'s (the `-wal` and
/// `-shm` only when `from` has them).
fn copy_image(from: &Path, to: &Path) -> Result<(), PerfError> {
    let (source, target) = (from.join(DB_FILE), to.join(DB_FILE));
    for suffix in ["", "-wal", "-shm"] {
        let (src, dst) = (sibling(&source, suffix), sibling(&target, suffix));
        let _ = std::fs::remove_file(&dst);
        if suffix.is_empty() || src.exists() {
            std::fs::copy(&src, &dst).map_err(io_err("copy", &src))?;
        }
    }
    Ok(())
}

/// How an arm reopens its image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reopen {
    /// `Ledger::open` of the clean image.
    LedgerClean,
    /// `Ledger::open` of the crashed image (WAL guard, recovery, quick check).
    LedgerCrashed,
    /// SQLite alone on the crashed image: open and one read (its WAL recovery).
    SqliteCrashed,
    /// `Ledger::open` of the clean image, then its first write (a stage).
    LedgerCleanThenWrite,
    /// `Ledger::open` of the crashed image, then its first write, whose automatic
    /// checkpoint copies back the frames a long reader held in the WAL.
    LedgerCrashedThenWrite,
}

impl Reopen {
    /// What the arm does, for the report.
    pub fn describe(self, image: &CrashImage) -> String {
        match self {
            Reopen::LedgerClean => "Ledger::open of the same content checkpointed, no WAL".into(),
            Reopen::LedgerCrashed => format!(
                "Ledger::open after kill -9 ({} B WAL, {} captures): WAL guard, SQLite's recovery, quick check",
                image.wal_bytes, image.captures
            ),
            Reopen::SqliteCrashed => format!(
                "plain SQLite after kill -9 ({} B WAL): open + SELECT count(*) FROM sqlite_master (its WAL recovery)",
                image.wal_bytes
            ),
            Reopen::LedgerCleanThenWrite => {
                "Ledger::open of the same content checkpointed, no WAL, then one stage".into()
            }
            Reopen::LedgerCrashedThenWrite => format!(
                "Ledger::open after kill -9 ({} B WAL of {} frames, {} checkpointed: {}), then one \
                 stage, whose automatic checkpoint resumes",
                image.wal_bytes,
                image.wal_frames,
                image.checkpointed_frames,
                if image.long_reader {
                    "grown behind a long reader's snapshot"
                } else {
                    "automatic checkpoints off"
                }
            ),
        }
    }

    fn time(self, image: &CrashImage, run: &Path) -> Result<f64, PerfError> {
        let from = match self {
            Reopen::LedgerClean | Reopen::LedgerCleanThenWrite => &image.clean,
            Reopen::LedgerCrashed | Reopen::SqliteCrashed | Reopen::LedgerCrashedThenWrite => {
                &image.crashed
            }
        };
        let _ = std::fs::remove_dir_all(run);
        std::fs::create_dir_all(run).map_err(io_err("create", run))?;
        copy_image(from, run)?;
        let started = Instant::now();
        let seconds = match self {
            Reopen::LedgerClean | Reopen::LedgerCrashed => {
                let ledger = Ledger::open(&config(run))?;
                let seconds = started.elapsed().as_secs_f64();
                drop(ledger);
                seconds
            }
            Reopen::SqliteCrashed => {
                let conn = rusqlite::Connection::open(run.join(DB_FILE))
                    .map_err(sql_err("open the crashed copy"))?;
                conn.query_row("SELECT count(*) FROM sqlite_master", [], |_| Ok(()))
                    .map_err(sql_err("read the crashed copy"))?;
                let seconds = started.elapsed().as_secs_f64();
                drop(conn);
                seconds
            }
            Reopen::LedgerCleanThenWrite | Reopen::LedgerCrashedThenWrite => {
                let mut ledger = Ledger::open(&config(run))?;
                ledger.stage(&first_write())?;
                let seconds = started.elapsed().as_secs_f64();
                let (frames, checkpointed) = wal_index_backfill(&run.join(DB_FILE))?;
                drop(ledger);
                if self == Reopen::LedgerCrashedThenWrite && checkpointed < frames {
                    return Err(PerfError::Io {
                        what: "resume the checkpoint after the first write",
                        path: run.to_owned(),
                        source: std::io::Error::other(format!(
                            "{checkpointed} of {frames} frames checkpointed"
                        )),
                    });
                }
                seconds
            }
        };
        Ok(seconds)
    }
}

/// What the WAL index (`<db>-shm`, shared with the open connection) says:
/// (the last valid frame, frames checkpointed back into the database), read
/// without checkpointing anything.
fn wal_index_backfill(db: &Path) -> Result<(u32, u32), PerfError> {
    let shm = sibling(db, "-shm");
    let bytes = std::fs::read(&shm).map_err(io_err("read", &shm))?;
    let native = |at: usize| {
        bytes
            .get(at..at + 4)
            .map(|b| u32::from_ne_bytes([b[0], b[1], b[2], b[3]]))
    };
    match (native(16), native(96)) {
        (Some(frames), Some(backfilled)) => Ok((frames, backfilled)),
        _ => Err(io_err("read", &shm)(std::io::Error::other(
            "the WAL index is shorter than its header",
        ))),
    }
}

/// The capture the first write after a reopen stages (not in any image).
fn first_write() -> NewCapture {
    NewCapture {
        source: Source::Email,
        raw_content: "the first capture after the restart".into(),
        channel: Some("inbox".into()),
        channel_native_id: Some("after-restart".into()),
    }
}

/// Times `baseline` and `candidate` reopens of `image`, interleaved with an
/// A/A control, each sample on a fresh copy in `run`.
///
/// # Errors
/// A copy or an open failed, or the A/B runner refused a timing.
pub fn measure_reopen(
    config: &AbConfig,
    image: &CrashImage,
    run: &Path,
    (baseline, candidate): (Reopen, Reopen),
) -> Result<AbReport, PerfError> {
    ab_report(config, |arm, _| match arm {
        Arm::Baseline => baseline.time(image, run),
        Arm::Candidate => candidate.time(image, run),
    })
}
