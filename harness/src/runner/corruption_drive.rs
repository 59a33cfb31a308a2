//! Damage at rest ([`crate::faults::Corruption`]): the drive phase ([`drive`]) runs the
//! workload (archiving the WAL after each operation when `target.wal-archive-dir` is set),
//! leaves the ledger (closed, or abandoned with its WAL for a `wal-frame` target) and
//! damages the files; the check phase ([`evidence`]) asks the reopened ledger for a full
//! integrity check and for every acknowledged capture, for `corruption_accounted`.

use ledger::integrity::{CheckLevel, RepairAction};
use ledger::{BackupConfig, Ledger, LedgerError};

use super::job::{IterationJob, WorkerMessage};
use super::vfs_drive::Sink;
use super::worker::{WorkerError, apply_workload_pragmas, drive_options, ledger_config};
use crate::faults::Corruption;
use crate::oracle::{AckModel, CaptureState, CorruptionEvidence, Served};
use crate::workload::{CaptureIds, execute};

/// Runs the workload, then damages the files as `corruption` says and reports it as a fault.
pub(super) fn drive(
    job: &IterationJob,
    corruption: &Corruption,
    sink: Sink<'_>,
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
            ledger.archive_wal(backup)?;
        }
    }
    if corruption.keeps_wal() {
        // As a crash would: no checkpoint, the WAL stays for the check phase's recovery.
        std::mem::forget(ledger);
    } else {
        ledger.close()?;
    }
    let description = corruption
        .apply(&job.db_path, job.seed)
        .map_err(|e| WorkerError::Scratch {
            path: job.db_path.display().to_string(),
            source: std::io::Error::other(e),
        })?
        .unwrap_or_else(|| "corruption: nothing of that kind to damage".into());
    sink(WorkerMessage::Fault {
        during_operation: None,
        description,
    })
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

/// The evidence when the damaged database did not even reopen: every capture refused with the
/// open error's kind.
pub(super) fn refused_at_open(e: &LedgerError, model: &AckModel) -> CorruptionEvidence {
    CorruptionEvidence {
        integrity: Some(Err(kind_and_message(e))),
        named: Vec::new(),
        served: model
            .capture_ids()
            .map(|id| (id.clone(), Served::Refused(e.kind().to_owned())))
            .collect(),
    }
}

fn kind_and_message(e: &LedgerError) -> String {
    format!("{}: {e}", e.kind())
}

/// Asks the reopened ledger for a full integrity check (which repairs what it can), then reads
/// every capture the model knows through it.
pub(super) fn evidence(ledger: &mut Ledger, model: &AckModel) -> CorruptionEvidence {
    let integrity = match ledger.check_integrity(CheckLevel::Full) {
        Ok(()) => Ok(match ledger.corruption() {
            None if ledger.safety_counters().repairs > 0 => "repaired".to_owned(),
            None => "sound".to_owned(),
            Some(report) => format!("damaged: {report}"),
        }),
        Err(e) => Err(kind_and_message(&e)),
    };
    let named = ledger
        .corruption()
        .map(|report| {
            let mut named = report.unreadable.clone();
            if let RepairAction::Restored { missing, .. } = &report.action {
                named.extend(missing.iter().cloned());
            }
            named
        })
        .unwrap_or_default();
    let served = model
        .capture_ids()
        .map(|id| {
            let served = match ledger.capture(id) {
                Ok(Some(c)) => Served::Found(CaptureState {
                    source: c.source.as_str().to_owned(),
                    raw_content: c.raw_content,
                    status: c.status.as_str().to_owned(),
                    content_hash: c.content_hash,
                    audit: Vec::new(),
                }),
                Ok(None) => Served::Absent,
                Err(e) => Served::Refused(e.kind().to_owned()),
            };
            (id.clone(), served)
        })
        .collect();
    CorruptionEvidence {
        integrity: Some(integrity),
        named,
        served,
    }
}
