//! The ledger handle: [`Ledger`] owns one connection, the config, the clock,
//! the id rng, the retry jitter rng and the in-process metrics.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rusqlite::Connection;

use crate::busy::{self, BusyStats};
use crate::capture::{Capture, CaptureId, ExportOutcome, NewCapture, RecoveryEntry, StageOutcome};
use crate::clock::OpenOptions;
use crate::config::Config;
use crate::db::Db;
use crate::error::{LedgerError, Result};
use crate::health::{self, CheckReport, HealthReport};
use crate::ids::IdGenerator;
use crate::integrity::detect;
use crate::ledger_time::LedgerTime;
use crate::lock::LockDiagnosis;
use crate::maintenance::{self, DueStep, MaintenanceReport};
use crate::metrics::{BusyMetrics, LatencySummary, MetricsSnapshot, Operation, Recorder};
use crate::open::OpenReport;
use crate::retry::{self, Idempotence, RealTime, Retried};
use crate::safety::Safety;
use crate::status::ExportMode;
use crate::{open, ops, tx};

/// Mixed into the id seed to seed the retry jitter, so the two streams differ.
const JITTER_SEED_SALT: u64 = 0x6a69_7474_6572_0001;

/// The staging ledger.
///
/// Every write is one `BEGIN IMMEDIATE` transaction, committed before it
/// returns `Ok`; an `Err` leaves the database unchanged. Each write reads the
/// clock exactly once, however often it is retried; reads never do.
///
/// Transient failures (busy, locked, I/O) are retried per
/// [`crate::Tuning::retry`], with jitter seeded from `OpenOptions::id_seed`
/// so a seeded run replays; every call is counted and timed in
/// [`Ledger::metrics`].
pub struct Ledger {
    pub(crate) conn: Connection,
    pub(crate) config: Config,
    /// Ledger time: the clock seam, never before a time already recorded.
    pub(crate) time: LedgerTime,
    ids: IdGenerator,
    jitter: RefCell<ChaCha8Rng>,
    recorder: RefCell<Recorder>,
    baseline_mark: RefCell<Recorder>,
    busy: Arc<BusyStats>,
    open_report: OpenReport,
    pub(crate) safety: Safety,
    /// Errors that reached a caller, on their way to `errors_log`.
    pub(crate) caller_errors: crate::caller_errors::CallerErrors,
    /// Marks a WAL left behind as kept by a clean close once the connection (declared first,
    /// so dropped first) is closed: by [`Ledger::close`] or by dropping the ledger.
    _clean_close: crate::clean_close::OnClose,
}

impl std::fmt::Debug for Ledger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ledger")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Ledger {
    /// Open (creating if needed) with the system clock and random ids.
    ///
    /// # Errors
    /// See [`Ledger::open_with`].
    pub fn open(config: &Config) -> Result<Ledger> {
        Ledger::open_with(config, OpenOptions::default())
    }

    /// Open (creating if needed): create the vault directory, check a
    /// leftover WAL for damage SQLite's recovery would hide (and repair it:
    /// [`crate::integrity::wal_break`]), open the database through
    /// `config.vfs`, fsync its directory if the file is new, apply the
    /// pragmas (journal mode verified), migrate the schema, install the busy
    /// handler and check the query plans (problems are logged and kept in
    /// [`Ledger::open_report`]).
    ///
    /// A database that does not open because page 1 (the header) is damaged
    /// is rebuilt from the backup chain when one is configured
    /// ([`crate::open_repair`]). Other damage found at open that cannot be
    /// repaired does not fail the open:
    /// the ledger opens refusing every call with `Corrupt`, and
    /// [`Ledger::corruption`] says what was found, done and lost.
    ///
    /// # Errors
    /// `Open`, `Io`, `Sqlite`, `JournalMode`, or `Migration` when the database
    /// is newer than this build.
    pub fn open_with(config: &Config, options: OpenOptions) -> Result<Ledger> {
        let unclean = detect::unclean_shutdown(&config.path);
        // What the last shutdown left, before the WAL guard may rewrite or set aside the WAL.
        let (wal_left, _) = crate::lock::leftover_files(&config.path);
        let hot_journal = open::hot_journal(&config.path);
        #[cfg(feature = "mutants")]
        crate::mutants::activate(config.tuning.mutant.as_deref())?;
        let wal_guard = crate::integrity::wal_break::guard(config);
        let busy = Arc::new(BusyStats::default());
        let rebuilds_at_open = mutant!(HeaderDamageNotRebuilt, false, true);
        let (conn, open_report, repaired_at_open) = match connect(config, &busy) {
            Err(error) if error.kind() == "corrupt" && rebuilds_at_open => {
                let report = crate::open_repair::rebuild_unopenable(config, error)?;
                let (conn, open_report) = connect(config, &busy)?;
                (conn, open_report, Some(report))
            }
            connected => {
                let (conn, open_report) = connected?;
                (conn, open_report, None)
            }
        };
        let jitter = match options.id_seed {
            Some(seed) => ChaCha8Rng::seed_from_u64(seed ^ JITTER_SEED_SALT),
            None => ChaCha8Rng::from_rng(&mut rand::rng()),
        };
        let mut ledger = Ledger {
            conn,
            config: config.clone(),
            time: LedgerTime::new(options.clock),
            ids: IdGenerator::new(options.id_seed),
            jitter: RefCell::new(jitter),
            recorder: RefCell::new(Recorder::default()),
            baseline_mark: RefCell::new(Recorder::default()),
            busy,
            open_report,
            caller_errors: crate::caller_errors::CallerErrors::default(),
            safety: Safety::new(config),
            _clean_close: crate::clean_close::OnClose::new(&config.path),
        };
        ledger.time.observe_database(&ledger.conn);
        let repaired = repaired_at_open.is_some();
        if let Some(report) = repaired_at_open {
            ledger.record_repair_at_open(report);
        }
        ledger.after_open(unclean || repaired, wal_guard)?;
        ledger.open_report.leftover_wal_bytes = wal_left;
        ledger.open_report.hot_journal = hot_journal;
        let found = ledger.open_report.clone();
        ledger.report_recovery(&found);
        Ok(ledger)
    }

    fn db(&self) -> Db<'_> {
        Db::new(&self.conn, &self.config.path)
    }

    /// One reading of ledger time (for backup bookkeeping): the clock, never before a time
    /// already recorded ([`crate::ledger_time`]).
    pub(crate) fn now_ms(&self) -> i64 {
        self.time.now_ms()
    }

    /// Reopens the connection the way `open_with` made it (busy handler included); used when
    /// the database file was replaced under this ledger.
    pub(crate) fn reconnect(&mut self) -> Result<Connection> {
        let (conn, report) = connect(&self.config, &self.busy)?;
        self.open_report = report;
        Ok(conn)
    }

    /// Before a write: one clock reading for the whole write (however often it is retried),
    /// then the between-operations safety work.
    fn begin_write(&mut self) -> Result<i64> {
        self.caller_errors.flush(self.db());
        let now = self.time.now_ms();
        self.between_operations(now)?;
        Ok(now)
    }

    /// The config this ledger was opened with.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// What opening found: a leftover WAL (crash recovery), plan warnings.
    pub fn open_report(&self) -> &OpenReport {
        &self.open_report
    }

    /// A call refused before it ran (a known-corrupt database, a failed check between
    /// operations): counted as a failed call and logged like any error that reaches the caller.
    fn refused(&self, operation: Operation, error: LedgerError) -> LedgerError {
        self.recorder
            .borrow_mut()
            .record(operation, false, 0, std::time::Duration::ZERO);
        self.caller_errors
            .note(self.db(), operation.as_str(), &error, || self.time.now_ms());
        error
    }

    /// Record a finished call, turn an exhausted lock wait into
    /// [`LedgerError::LockTimeout`] naming what is known, and log failures.
    fn finish<T>(
        &self,
        operation: Operation,
        started: Instant,
        own_transaction_open: bool,
        retried: Retried<T>,
    ) -> Result<T> {
        let Retried {
            result,
            attempts,
            slept,
            ..
        } = retried;
        self.busy.retry_slept_us.fetch_add(
            u64::try_from(slept.as_micros()).unwrap_or(u64::MAX),
            std::sync::atomic::Ordering::Relaxed,
        );
        let elapsed = started.elapsed();
        let retries = mutant!(
            RetriesNotCounted,
            if result.is_ok() {
                attempts.saturating_sub(1)
            } else {
                0
            },
            attempts.saturating_sub(1)
        );
        self.recorder
            .borrow_mut()
            .record(operation, result.is_ok(), retries, elapsed);
        let error = match result {
            Ok(value) => return Ok(value),
            Err(error) => error,
        };
        let error = match error {
            LedgerError::Sqlite {
                operation: step,
                source,
                ..
            } if retry::is_lock_error_source(&source) => LedgerError::LockTimeout {
                operation: step,
                diagnosis: Box::new(LockDiagnosis::gather(
                    self.db(),
                    own_transaction_open,
                    attempts,
                    u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX),
                )),
                source,
            },
            other => other,
        };
        tracing::warn!(
            operation = operation.as_str(),
            path = %self.config.path.display(),
            kind = error.kind(),
            attempts,
            error = %error,
            remedy = error.remedy(),
            "ledger operation failed"
        );
        Err(error)
    }

    /// Run `attempt` under the retry policy, measured as `operation`.
    fn retried<T>(
        jitter: &RefCell<ChaCha8Rng>,
        policy: &retry::RetryPolicy,
        idempotence: Idempotence,
        attempt: impl FnMut(u32) -> Result<T>,
    ) -> Retried<T> {
        retry::run(
            policy,
            idempotence,
            &mut jitter.borrow_mut(),
            &mut RealTime::start(),
            attempt,
        )
    }

    /// Run a read under the retry policy and record it.
    /// Refuses a known-corrupt or replaced database first (see `read_guard`).
    fn read<T>(&self, operation: Operation, body: impl Fn(Db<'_>) -> Result<T>) -> Result<T> {
        if let Err(refusal) = self.read_guard() {
            return Err(self.refused(operation, refusal));
        }
        let started = Instant::now();
        let own = !self.conn.is_autocommit();
        let retried = Ledger::retried(
            &self.jitter,
            &retry_policy(&self.config),
            Idempotence::Idempotent,
            |_| {
                let db = self.db();
                tx::discard_stale_transaction(db)?;
                body(db)
            },
        );
        let result = self.finish(operation, started, own, retried);
        self.after_operation(operation, result, false)
    }

    /// Runs one write: one clock reading and the between-operations work, then `attempt`
    /// under the retry policy (it gets the connection, the id generator, the vault directory
    /// and the clock reading). The caller may amend the [`Retried`] before
    /// [`Ledger::finish_write`] records and settles it.
    fn attempt_write<T>(
        &mut self,
        operation: Operation,
        idempotence: Idempotence,
        mut attempt: impl FnMut(Db<'_>, &mut IdGenerator, &std::path::Path, i64) -> Result<T>,
    ) -> Result<AttemptedWrite<T>> {
        let now = match self.begin_write() {
            Ok(now) => now,
            Err(refusal) => return Err(self.refused(operation, refusal)),
        };
        let started = Instant::now();
        let own = !self.conn.is_autocommit();
        let db = Db::new(&self.conn, &self.config.path);
        let ids = &mut self.ids;
        let vault_dir = &self.config.vault_dir;
        let policy = retry_policy(&self.config);
        let retried = Ledger::retried(&self.jitter, &policy, idempotence, |_| {
            attempt(db, ids, vault_dir, now)
        });
        Ok(AttemptedWrite {
            retried,
            started,
            own_transaction_open: own,
        })
    }

    /// Records a write's attempts in the metrics and settles the connection after a failure.
    fn finish_write<T>(&self, operation: Operation, write: AttemptedWrite<T>) -> Result<T> {
        let result = self.finish(
            operation,
            write.started,
            write.own_transaction_open,
            write.retried,
        );
        self.after_operation(operation, result, true)
    }

    /// Stage a capture, or return the existing capture it duplicates (same
    /// email content hash, or same channel and native id), which makes a
    /// retried stage idempotent. When a retry finds the capture an earlier
    /// attempt committed despite its failed `COMMIT`, the result is
    /// `Staged` with that id.
    ///
    /// # Errors
    /// `Sqlite`, `LockTimeout` (nothing stored).
    pub fn stage(&mut self, new: &NewCapture) -> Result<StageOutcome> {
        let mut attempted: Vec<CaptureId> = Vec::new();
        let mut write = self.attempt_write(
            Operation::Stage,
            Idempotence::Idempotent,
            |db, ids, _, now| ops::stage::stage(db, ids, now, new, &mut attempted),
        )?;
        if write.retried.earlier_commit_failure
            && let Ok(StageOutcome::Duplicate(existing)) = &write.retried.result
            && attempted.contains(existing)
        {
            write.retried.result = Ok(StageOutcome::Staged(existing.clone()));
        }
        self.finish_write(Operation::Stage, write)
    }

    /// `staged → transcribed`, storing the transcript (and, for voice, its hash).
    /// Retried only when the failed attempt did not reach `COMMIT`.
    ///
    /// # Errors
    /// `NotFound`, `IllegalTransition`, `DuplicateContent` (a voice transcript
    /// whose hash another capture has), `Sqlite`, `LockTimeout`; nothing
    /// changed on error.
    pub fn record_transcription(&mut self, id: &str, transcript: &str) -> Result<()> {
        let write = self.attempt_write(
            Operation::RecordTranscription,
            Idempotence::OnlyIfNotCommitted,
            |db, _, _, now| ops::transcribe::record_transcription(db, now, id, transcript),
        )?;
        let result = self.finish_write(Operation::RecordTranscription, write);
        mutant!(
            NomemSwallowed,
            crate::mutants::swallow_nomem(result),
            result
        )
    }

    /// `staged → failed_transcription`, logging `message` in `errors_log`.
    /// Retried only when the failed attempt did not reach `COMMIT`.
    ///
    /// # Errors
    /// `NotFound`, `IllegalTransition`, `Sqlite`, `LockTimeout`; nothing changed on error.
    pub fn mark_transcription_failed(&mut self, id: &str, message: &str) -> Result<()> {
        let write = self.attempt_write(
            Operation::MarkTranscriptionFailed,
            Idempotence::OnlyIfNotCommitted,
            |db, _, _, now| ops::transcribe::mark_transcription_failed(db, now, id, message),
        )?;
        let result = self.finish_write(Operation::MarkTranscriptionFailed, write);
        mutant!(
            NomemSwallowed,
            crate::mutants::swallow_nomem(result),
            result
        )
    }

    /// Export a capture: write `<vault_dir>/<id>.md` (not for
    /// `DuplicateSkip`), then record the audit row and the status change in
    /// one transaction. Idempotent: already in the mode's terminal status →
    /// `AlreadyExported`, nothing rewritten (but when a retry finds the export
    /// an earlier attempt committed despite its failed `COMMIT`, the result
    /// is `Exported`).
    ///
    /// # Errors
    /// `NotFound`, `IllegalTransition`, `Vault`, `Io`, `Sqlite`,
    /// `LockTimeout`. On error the database is unchanged, but the vault file
    /// may already be written.
    pub fn record_export(&mut self, id: &str, mode: ExportMode) -> Result<ExportOutcome> {
        let mut write = self.attempt_write(
            Operation::RecordExport,
            Idempotence::Idempotent,
            |db, ids, vault_dir, now| ops::export::record_export(db, ids, now, vault_dir, id, mode),
        )?;
        if write.retried.earlier_commit_failure
            && matches!(write.retried.result, Ok(ExportOutcome::AlreadyExported))
        {
            write.retried.result = Ok(ExportOutcome::Exported);
        }
        self.finish_write(Operation::RecordExport, write)
    }

    /// The capture whose content hash is `content_hash`, if any.
    ///
    /// # Errors
    /// `Sqlite`, `LockTimeout`.
    pub fn find_duplicate(&self, content_hash: &str) -> Result<Option<CaptureId>> {
        self.read(Operation::FindDuplicate, |db| {
            ops::query::find_duplicate(db, content_hash)
        })
    }

    /// The capture with this id, if any.
    ///
    /// # Errors
    /// `Sqlite`, `LockTimeout`, `Corrupt`.
    pub fn capture(&self, id: &str) -> Result<Option<Capture>> {
        self.refuse_lost(id)?;
        self.read(Operation::Capture, |db| crate::row::capture_by_id(db, id))
    }

    /// Up to `limit` transcribed or failed captures, oldest first.
    ///
    /// # Errors
    /// `Sqlite`, `LockTimeout`, `Corrupt`.
    pub fn pending_exports(&self, limit: usize) -> Result<Vec<Capture>> {
        self.read(Operation::PendingExports, |db| {
            ops::query::pending_exports(db, limit)
        })
    }

    /// Every non-terminal capture in full, oldest first (created_at, then id):
    /// what a crash-resume must finish. This loads every body at once (one
    /// table lookup per capture: about 0.2 s for a 30 000-capture backlog in a
    /// million captures); a resume should walk [`Ledger::recovery_queue`] and
    /// load each capture when it gets to it.
    ///
    /// # Errors
    /// `Sqlite`, `LockTimeout`, `Corrupt`.
    pub fn recoverable_captures(&self) -> Result<Vec<Capture>> {
        self.read(
            Operation::RecoverableCaptures,
            ops::query::recoverable_captures,
        )
    }

    /// The crash-resume queue: id, status and creation time of every
    /// non-terminal capture, oldest first (created_at, then id). Read from the
    /// partial index `captures_recoverable` alone (no table lookup, no sort),
    /// so its cost follows the backlog, not the table; the status says what
    /// the resume does next, and [`Ledger::capture`] loads a body when needed.
    ///
    /// # Errors
    /// `Sqlite`, `LockTimeout`, `Corrupt` (an unknown status).
    pub fn recovery_queue(&self) -> Result<Vec<RecoveryEntry>> {
        self.read(Operation::RecoveryQueue, ops::query::recovery_queue)
    }

    /// Delete terminal captures last updated more than `days` days ago, with
    /// their audit rows. Returns the ids of the captures deleted.
    ///
    /// This deletes regardless of backups; automated retention
    /// ([`Ledger::maintain`]) also waits for a verified backup.
    ///
    /// # Errors
    /// `Sqlite`, `LockTimeout`; nothing deleted on error.
    pub fn prune_exported_older_than(&mut self, days: u32) -> Result<Vec<CaptureId>> {
        let mut meant = std::collections::BTreeSet::new();
        let write = self.attempt_write(
            Operation::Prune,
            Idempotence::Idempotent,
            |db, _, _, now| ops::prune::prune_exported_older_than_once(db, now, days, &mut meant),
        )?;
        self.finish_write(Operation::Prune, write)
    }

    /// In-process counters: per operation calls, errors, retries and latency
    /// (p50/p95/p99). Cheap: touches no database.
    pub fn metrics(&self) -> Recorder {
        self.recorder.borrow().clone()
    }

    /// Retries made by every operation since open (what the harness reports).
    pub fn retries(&self) -> u64 {
        self.recorder.borrow().total_retries()
    }

    /// Time spent waiting for locks since open: busy-handler waits and retry sleeps. Cheap:
    /// touches no database.
    pub fn lock_waits(&self) -> crate::busy::LockWaits {
        self.busy.lock_waits()
    }

    fn busy_metrics(&self) -> BusyMetrics {
        let (waits, waited_us, gave_up) = self.busy.read();
        BusyMetrics {
            waits,
            waited_ms: waited_us / 1000,
            gave_up,
        }
    }

    /// Latency figures per operation since open (`since_mark = false`) or
    /// since the last maintenance run folded them into the baselines.
    fn latencies(&self, since_mark: bool) -> BTreeMap<String, LatencySummary> {
        let recorder = self.recorder.borrow();
        let mark = self.baseline_mark.borrow();
        Operation::ALL
            .iter()
            .map(|op| {
                let histogram = &recorder.operation(*op).latency;
                let summary = if since_mark {
                    histogram.since(&mark.operation(*op).latency).summary()
                } else {
                    histogram.summary()
                };
                (op.as_str().to_owned(), summary)
            })
            .collect()
    }

    /// Every metric: this process's counters and latencies plus what the
    /// database says (sizes, queue depth, recent errors, exports, backup).
    /// Reads the clock once (for `taken_at_ms` and the 24 h window).
    ///
    /// # Errors
    /// `Sqlite`.
    pub fn metrics_snapshot(&self) -> Result<MetricsSnapshot> {
        let now = self.time.now_ms();
        crate::metrics::take(
            self.db(),
            &self.recorder.borrow(),
            self.busy_metrics(),
            self.safety_counters(),
            now,
        )
    }

    /// Maintenance due now, and why, without running any of it.
    ///
    /// # Errors
    /// `Sqlite`.
    pub fn maintenance_due(&self) -> Result<Vec<DueStep>> {
        let now = self.time.now_ms();
        maintenance::plan(self.db(), &self.config.tuning.maintenance, now)
    }

    /// Run the maintenance that is due (or only list it when `dry_run`):
    /// integrity/index check and REINDEX, ANALYZE, retention pruning after a
    /// verified backup, VACUUM, WAL checkpoint, `PRAGMA optimize`, trend
    /// samples. Each step is reported with its duration; a failing step does
    /// not stop the others.
    ///
    /// # Errors
    /// `Sqlite` when the plan itself cannot be made.
    pub fn maintain(&mut self, dry_run: bool) -> Result<MaintenanceReport> {
        let now = self.time.now_ms();
        let db = self.db();
        tx::discard_stale_transaction(db)?;
        let due = maintenance::plan(db, &self.config.tuning.maintenance, now)?;
        let latencies = self.latencies(true);
        let report = maintenance::run(db, due, now, dry_run, &latencies);
        if !dry_run {
            *self.baseline_mark.borrow_mut() = self.recorder.borrow().clone();
        }
        Ok(report)
    }

    /// Integrity and plan checks: `PRAGMA quick_check` (or `integrity_check`
    /// when `full`), foreign keys, orphan audit rows, query plans.
    ///
    /// # Errors
    /// `Sqlite` when a check cannot run at all.
    pub fn check(&self, full: bool) -> Result<CheckReport> {
        health::check(self.db(), full)
    }

    /// The health report: checks, metrics, plan warnings, regressions
    /// against the stored baselines, capacity forecast and due maintenance.
    ///
    /// # Errors
    /// `Sqlite` when the database cannot be read.
    pub fn health(&self) -> Result<HealthReport> {
        let snapshot = self.metrics_snapshot()?;
        let due = maintenance::plan(
            self.db(),
            &self.config.tuning.maintenance,
            snapshot.taken_at_ms,
        )?;
        let mut report = health::assemble(
            self.db(),
            &self.config.tuning.maintenance,
            &self.open_report,
            snapshot,
            self.latencies(false),
            due,
        )?;
        self.add_safety_problems(&mut report);
        Ok(report)
    }

    /// The underlying connection, for read-only use by checks and tools.
    pub fn connection(&self) -> &Connection {
        &self.conn
    }

    /// Write the errors that reached a caller and are not yet in `errors_log` (best effort),
    /// run `PRAGMA optimize` (best effort, logged on failure), then close the
    /// connection (checkpointing the WAL if this is the last one).
    ///
    /// # Errors
    /// `Sqlite` when SQLite refuses to close.
    pub fn close(self) -> Result<()> {
        self.caller_errors.flush(self.db());
        let path = self.config.path;
        if self.conn.is_autocommit()
            && let Err(error) = self.conn.execute_batch("PRAGMA optimize")
        {
            tracing::warn!(path = %path.display(), %error, "PRAGMA optimize on close failed; statistics may be stale, run `ledger maintain`");
        }
        self.conn
            .close()
            .map_err(move |(_, source)| LedgerError::Sqlite {
                operation: "close the connection",
                path,
                source,
            })
        // The rest of the ledger drops here: `_clean_close` marks a WAL the close kept.
    }
}

/// A write's attempts, before they are recorded: what the retry loop returned, when the write
/// started, and whether the caller already had a transaction open.
struct AttemptedWrite<T> {
    retried: Retried<T>,
    started: Instant,
    own_transaction_open: bool,
}

/// Opens the connection and installs the ledger's busy handler (deadline = `busy-timeout-ms`,
/// waits counted in `busy`).
fn connect(config: &Config, busy: &Arc<BusyStats>) -> Result<(Connection, OpenReport)> {
    let (mut conn, report) = open::open_connection(config)?;
    let deadline = mutant!(
        NoBeginImmediate,
        Duration::ZERO,
        Duration::from_millis(u64::from(config.tuning.busy_timeout_ms))
    );
    busy::install(&mut conn, deadline, Arc::clone(busy)).map_err(|source| LedgerError::Sqlite {
        operation: "install the busy handler",
        path: config.path.clone(),
        source,
    })?;
    Ok((conn, report))
}

/// The tuning's retry policy, or none at all under the `no-begin-immediate` mutant.
fn retry_policy(config: &Config) -> retry::RetryPolicy {
    mutant!(
        NoBeginImmediate,
        retry::RetryPolicy::disabled(),
        config.tuning.retry.clone()
    )
}
