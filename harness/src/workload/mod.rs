//! Workloads: a seeded plan of ledger [`Operation`]s, and what each returned ([`OpOutcome`]).
//!
//! A plan is a value: it is generated from the iteration's seed ([`generate`]), written into the
//! worker's job, executed ([`execute`]), and could be edited (shrunk) without re-generating.
//! Operations name captures by *stage ordinal* (the k-th `Stage` of the plan), never by id: ids
//! are only known once the ledger answers.

mod execute;
mod generate;

pub use execute::{CaptureIds, backup_config, execute, execute_guarded};
pub use generate::generate;

use ledger::{ExportMode, Source};
use serde::{Deserialize, Serialize};

/// The k-th `Stage` operation of a plan (0-based), standing for the capture it created.
pub type StageOrdinal = usize;

/// One ledger operation of a workload plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Operation {
    /// Stage a capture; `ordinal` is this stage's place among the plan's stages.
    Stage {
        /// This stage's ordinal.
        ordinal: StageOrdinal,
        /// Voice memo or email.
        source: Source,
        /// Email body, or the voice memo's audio reference.
        content: String,
        /// Channel the capture came from (e.g. `imap:inbox`).
        channel: Option<String>,
        /// The channel's own id for it (e.g. a Message-ID).
        channel_native_id: Option<String>,
    },
    /// Record a transcription for a capture.
    Transcribe {
        /// The capture.
        capture: StageOrdinal,
        /// Transcript text.
        transcript: String,
    },
    /// Mark a capture's transcription as failed.
    FailTranscription {
        /// The capture.
        capture: StageOrdinal,
        /// Error message.
        message: String,
    },
    /// Export a capture to the vault.
    Export {
        /// The capture.
        capture: StageOrdinal,
        /// Initial, placeholder or duplicate skip.
        mode: ExportMode,
    },
    /// Ask whether content is already captured (read only).
    CheckDuplicate {
        /// Content whose hash is looked up.
        content: String,
    },
    /// List captures ready for export (read only).
    PendingExports {
        /// At most this many.
        limit: usize,
    },
    /// The crash-resume query (read only).
    Recover,
    /// Delete exported captures older than `days`.
    Prune {
        /// Age threshold in days.
        days: u32,
    },
    /// Take a verified online backup (WAL archiving on) into the iteration's `backups/`.
    Backup,
    /// Prune exported captures older than `days`, guarded by the last verified backup.
    GuardedPrune {
        /// Age threshold in days.
        days: u32,
    },
    /// Archive the WAL and checkpoint it (`checkpoint_archived`).
    Checkpoint,
    /// Run the maintenance that is due (`maintain`).
    Maintain,
    /// Restore the latest backup into a new file under the iteration's `restored/`.
    Restore,
}

impl Operation {
    /// True for operations that cannot change the database.
    pub fn is_read_only(&self) -> bool {
        matches!(
            self,
            Operation::CheckDuplicate { .. }
                | Operation::PendingExports { .. }
                | Operation::Recover
        )
    }

    /// A one-line description for traces.
    pub fn describe(&self) -> String {
        match self {
            Operation::Stage {
                ordinal,
                source,
                content,
                channel_native_id,
                ..
            } => format!(
                "stage #{ordinal} {} ({} bytes{})",
                source.as_str(),
                content.len(),
                channel_native_id
                    .as_ref()
                    .map(|id| format!(", native id {id}"))
                    .unwrap_or_default()
            ),
            Operation::Transcribe {
                capture,
                transcript,
            } => {
                format!("transcribe #{capture} ({} bytes)", transcript.len())
            }
            Operation::FailTranscription { capture, .. } => {
                format!("fail-transcription #{capture}")
            }
            Operation::Export { capture, mode } => format!("export #{capture} {}", mode.as_str()),
            Operation::CheckDuplicate { content } => {
                format!("check-duplicate ({} bytes)", content.len())
            }
            Operation::PendingExports { limit } => format!("pending-exports limit {limit}"),
            Operation::Recover => "recoverable-captures".to_owned(),
            Operation::Prune { days } => format!("prune older than {days} days"),
            Operation::Backup => "backup".to_owned(),
            Operation::GuardedPrune { days } => {
                format!("prune older than {days} days after a verified backup")
            }
            Operation::Checkpoint => "checkpoint (archived)".to_owned(),
            Operation::Maintain => "maintain".to_owned(),
            Operation::Restore => "restore latest backup".to_owned(),
        }
    }
}

/// What an operation returned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OpOutcome {
    /// `Ok`: the operation is acknowledged.
    Ok(OpValue),
    /// `Err`: the operation must have left no trace (unless its outcome is unknown).
    Err(OpError),
}

impl OpOutcome {
    /// True when the ledger acknowledged the operation.
    pub fn is_ok(&self) -> bool {
        matches!(self, OpOutcome::Ok(_))
    }

    /// A one-line description for traces.
    pub fn describe(&self) -> String {
        match self {
            OpOutcome::Ok(value) => format!("ok {}", value.describe()),
            OpOutcome::Err(e) if e.outcome_unknown => {
                format!("err {} (outcome unknown): {}", e.kind, e.message)
            }
            OpOutcome::Err(e) => format!("err {}: {}", e.kind, e.message),
        }
    }
}

/// The value of an acknowledged operation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OpValue {
    /// A new capture with this id.
    Staged(String),
    /// Already captured as this id; nothing inserted.
    Duplicate(String),
    /// A state change was committed.
    Done,
    /// The capture was already exported; nothing changed.
    AlreadyExported,
    /// Duplicate lookup answer.
    Found(Option<String>),
    /// Ids returned by a listing query, in order.
    Captures(Vec<String>),
    /// Ids of the captures a prune deleted.
    Pruned(Vec<String>),
    /// A backup was taken; whether the ledger reported it verified.
    BackedUp {
        /// The snapshot's file name in the backup directory (named by the logical clock).
        file: String,
        /// Verified by the ledger.
        verified: bool,
    },
}

impl OpValue {
    fn describe(&self) -> String {
        match self {
            OpValue::Staged(id) => format!("staged {id}"),
            OpValue::Duplicate(id) => format!("duplicate of {id}"),
            OpValue::Done => "done".into(),
            OpValue::AlreadyExported => "already exported".into(),
            OpValue::Found(found) => format!("found {}", found.as_deref().unwrap_or("nothing")),
            OpValue::Captures(ids) => format!("{} captures", ids.len()),
            OpValue::Pruned(ids) => format!("pruned {}", ids.len()),
            OpValue::BackedUp { file, verified } => format!(
                "backed up {file}{}",
                if *verified {
                    ", verified"
                } else {
                    ", not verified"
                }
            ),
        }
    }
}

/// A failed operation, classified the way the ledger classified it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpError {
    /// The ledger's error kind (`not_found`, `illegal_transition`, `sqlite`, ...).
    pub kind: String,
    /// SQLite's extended result code, when SQLite failed.
    pub sqlite_code: Option<i32>,
    /// The error as displayed.
    pub message: String,
    /// True when the operation may have committed despite the error (the ledger's
    /// `is_commit_failure`: a failed `COMMIT` whose frames may already be on disk, which
    /// SQLite's recovery can bring back after a crash). The oracle treats it as maybe-applied.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub outcome_unknown: bool,
}
