//! The drive of damage at rest ([`Corruption`]): runs the workload (archiving the WAL after
//! each operation when `target.wal-archive-dir` is set), leaves the ledger (closed, or
//! abandoned with its WAL for a `wal-frame` target; with `archive-restart-after`, the WAL
//! checkpointed behind the archive's back once, so a second verified backup starts a new
//! lineage), damages the files and records which b-tree
//! it damaged beside the database ([`crate::oracle::InjectedDamage`]). The check phase
//! gathers what `corruption_accounted` judges, for any scenario that lists it.

use ledger::{BackupConfig, Ledger};

use super::plan::Corruption;
use crate::engine::{
    IterationJob, Sink, WorkerError, WorkerMessage, apply_workload_pragmas, drive_options,
    ledger_config,
};
use crate::workload::{CaptureIds, execute};

/// Runs the workload, then damages the files as `corruption` says and reports it as a fault.
pub(super) fn drive(
    job: &IterationJob,
    corruption: &Corruption,
    sink: &mut Sink<'_>,
) -> Result<(), WorkerError> {
    let mut ledger = Ledger::open_with(&ledger_config(job), drive_options(job))?;
    apply_workload_pragmas(job, &ledger)?;
    let archive = archive_config(job)?;
    if let Some(backup) = &archive {
        ledger.enable_wal_archive(backup)?;
        ledger.backup(backup)?;
        ledger.checkpoint_archived(backup)?;
    }
    let mut ids = CaptureIds::default();
    for (index, op) in job.plan.iter().enumerate() {
        sink(WorkerMessage::OpStarted { index })?;
        let outcome = execute(&mut ledger, op, &mut ids);
        sink(WorkerMessage::OpFinished { index, outcome })?;
        if let Some(backup) = &archive {
            if index + 1 == job.plan.len() && !corruption.keeps_wal() {
                run_the_close_optimize(&ledger, job)?;
            }
            ledger.archive_wal(backup)?;
            if corruption.archive_restart_after == Some(index) {
                checkpoint_unarchived(job)?;
            }
        }
    }
    if corruption.keeps_wal() {
        // As a crash would: no checkpoint, the WAL stays for the check phase's recovery.
        std::mem::forget(ledger);
    } else {
        if let Some(backup) = &archive {
            checkpoint_into_the_file(&mut ledger, backup, job)?;
        }
        ledger.close()?;
    }
    let scratch = |source| WorkerError::Scratch {
        path: job.db_path.display().to_string(),
        source,
    };
    let applied = corruption
        .apply(&job.db_path, job.seed)
        .map_err(|e| scratch(std::io::Error::other(e)))?;
    if let Some(object) = applied.as_ref().and_then(|a| a.object.as_ref()) {
        object.write(&job.db_path).map_err(scratch)?;
    }
    let description = applied.map_or_else(
        || "corruption: nothing of that kind to damage".into(),
        |a| a.description,
    );
    sink(WorkerMessage::Fault {
        during_operation: None,
        description,
    })
}

/// The `PRAGMA optimize` the close would run, run after the last operation so it is archived
/// with that operation's transaction (not as a statistics-only last segment): the close then
/// writes no WAL frame (page 1 among them) that would shadow the damage.
fn run_the_close_optimize(ledger: &Ledger, job: &IterationJob) -> Result<(), WorkerError> {
    ledger
        .connection()
        .execute_batch("PRAGMA optimize")
        .map_err(|source| {
            WorkerError::Open(ledger::LedgerError::Sqlite {
                operation: "run the close's PRAGMA optimize",
                path: job.db_path.clone(),
                source,
            })
        })
}

/// With the WAL archived the ledger keeps its WAL at close, and the WAL's page images shadow
/// the file's: damage to a shadowed page would be invisible. Archive, checkpoint, and truncate
/// the fully archived WAL, so the damage lands on the pages the check phase reads (the close's
/// `PRAGMA optimize` already ran: [`run_the_close_optimize`]).
fn checkpoint_into_the_file(
    ledger: &mut Ledger,
    backup: &BackupConfig,
    job: &IterationJob,
) -> Result<(), WorkerError> {
    ledger.checkpoint_archived(backup)?;
    ledger
        .connection()
        .execute_batch("PRAGMA wal_checkpoint(TRUNCATE)")
        .map_err(|source| {
            WorkerError::Open(ledger::LedgerError::Sqlite {
                operation: "truncate the archived WAL",
                path: job.db_path.clone(),
                source,
            })
        })
}

/// A checkpoint that truncates the WAL from a second connection, as a process without
/// archiving would: the WAL restarts unsealed, so the ledger's next archive finds a break and
/// takes a new verified backup that starts a new lineage.
fn checkpoint_unarchived(job: &IterationJob) -> Result<(), WorkerError> {
    let open = |source| {
        WorkerError::Open(ledger::LedgerError::Sqlite {
            operation: "checkpoint the WAL from a second connection",
            path: job.db_path.clone(),
            source,
        })
    };
    let other = rusqlite::Connection::open(&job.db_path).map_err(open)?;
    other
        .execute_batch("PRAGMA wal_checkpoint(TRUNCATE)")
        .map_err(open)?;
    other.close().map_err(|(_, source)| open(source))
}

/// With `target.wal-archive-dir` (`<backups>/wal`, relative to the database's directory), the
/// backup configuration whose WAL archive that is: the drive then takes a snapshot, checkpoints
/// (so every later frame is archived) and archives the WAL after every operation.
fn archive_config(job: &IterationJob) -> Result<Option<BackupConfig>, WorkerError> {
    let Some(archive) = &job.scenario.target.wal_archive_dir else {
        return Ok(None);
    };
    let db_dir = job.db_path.parent().unwrap_or(std::path::Path::new("."));
    let archive = db_dir.join(archive);
    let mut backup = BackupConfig::new(archive.parent().unwrap_or(db_dir));
    backup.archive = true;
    if backup.archive_dir() != archive {
        return Err(WorkerError::Scratch {
            path: archive.display().to_string(),
            source: std::io::Error::other("target.wal-archive-dir must name a `wal` directory"),
        });
    }
    Ok(Some(backup))
}
