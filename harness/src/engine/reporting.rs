//! [`ReportingDrive`]: a drive that keeps every message it reports, so it can build the model
//! of what was acknowledged so far while it runs (the backup drills and the clock family judge
//! their backups and restores against that model in the drive).

use ledger::{BackupConfig, Ledger};

use super::drive::{Sink, WorkerError};
use super::job::{IterationJob, WorkerMessage, execution_from};
use crate::oracle::AckModel;
use crate::oracle::backups::ReportedPrune;
use crate::workload::{CaptureIds, execute_guarded};

/// What a drive reported so far, and the guarded prunes it saw.
pub struct ReportingDrive<'a, 'b> {
    job: &'a IterationJob,
    sink: &'a mut Sink<'b>,
    messages: Vec<WorkerMessage>,
    ids: CaptureIds,
    /// Every guarded prune that removed captures.
    pub prunes: Vec<ReportedPrune>,
}

impl<'a, 'b> ReportingDrive<'a, 'b> {
    /// A drive of `job` reporting through `sink`, nothing reported yet.
    pub fn new(job: &'a IterationJob, sink: &'a mut Sink<'b>) -> ReportingDrive<'a, 'b> {
        ReportingDrive {
            job,
            sink,
            messages: Vec::new(),
            ids: CaptureIds::default(),
            prunes: Vec::new(),
        }
    }

    /// Reports `message` to the supervisor and keeps it for the model.
    ///
    /// # Errors
    /// What the sink returned.
    pub fn send(&mut self, message: WorkerMessage) -> Result<(), WorkerError> {
        self.messages.push(message.clone());
        (self.sink)(message)
    }

    /// Notes a fault line in the trace.
    ///
    /// # Errors
    /// What the sink returned.
    pub fn note(&mut self, description: String) -> Result<(), WorkerError> {
        self.send(WorkerMessage::Fault {
            during_operation: None,
            description,
        })
    }

    /// Every message reported so far, in order.
    pub fn messages(&self) -> &[WorkerMessage] {
        &self.messages
    }

    /// The model built from what was reported so far.
    pub fn model(&self) -> AckModel {
        AckModel::build(&execution_from(&self.job.plan, &self.messages).0)
    }

    /// Acknowledged writes among the plan's first `ops` operations, as reported so far: once
    /// they have all finished, the latest instant a snapshot taken while operation `ops - 1` was
    /// in flight may equal (its commit may precede the snapshot, its answer follow it).
    pub fn instant_after_ops(&self, ops: usize) -> usize {
        let first: Vec<WorkerMessage> =
            self.messages
                .iter()
                .filter(|m| match m {
                    WorkerMessage::OpStarted { index }
                    | WorkerMessage::OpFinished { index, .. } => *index < ops,
                    _ => true,
                })
                .cloned()
                .collect();
        AckModel::build(&execution_from(&self.job.plan, &first).0).acknowledged_instant()
    }

    /// Acknowledged writes so far (the model instant).
    pub fn instant(&self) -> usize {
        self.model().acknowledged_instant()
    }

    /// Runs plan operation `index` (prunes guarded by the backups in `config`), reporting it
    /// and recording a prune that removed captures.
    ///
    /// # Errors
    /// What the sink returned.
    pub fn op(
        &mut self,
        ledger: &mut Ledger,
        index: usize,
        config: &BackupConfig,
    ) -> Result<(), WorkerError> {
        let at = self.instant();
        self.send(WorkerMessage::OpStarted { index })?;
        let op = &self.job.plan[index];
        let outcome = execute_guarded(ledger, op, &mut self.ids, config);
        self.prunes
            .extend(ReportedPrune::from_outcome(at, index, op, &outcome));
        self.send(WorkerMessage::OpFinished { index, outcome })
    }
}
