//! The `failpoints` family: actions at the ledger's named fail points (return, panic, sleep,
//! pause, counted and seeded-probability chains), or a crash at every point in turn
//! (`crash-at-each`, [`sweep`]). A crash loses nothing acknowledged, an export happens exactly
//! once, and a prune deletes only what a verified backup holds.
//!
//! A fail point's `panic` is a crash at exactly that step: the worker reports
//! [`WorkerMessage::Crashed`] and aborts (see [`prepare`]); the supervisor judges the abort like
//! a `kill -9` ([`Family::planned_crash`]).

pub mod plan;
mod prepare;
mod sweep;

use std::process::ExitStatus;

use plan::FailPoints;

use crate::engine::{
    Family, IterationContext, IterationJob, IterationOutcome, Sink, WorkerError, WorkerMessage,
    run_plain,
};
use crate::scenario::Scenario;

impl Family for FailPoints {
    fn name(&self) -> &'static str {
        "failpoints"
    }

    fn validate(&self, _scenario: &Scenario) -> Result<(), String> {
        FailPoints::validate(self)
    }

    fn drive(&self, job: &IterationJob, sink: &mut Sink<'_>) -> Result<(), WorkerError> {
        prepare::prepare(self, job.seed)?;
        run_plain(job, sink)
    }

    fn run_iteration(&self, context: &IterationContext<'_>) -> Option<IterationOutcome> {
        self.crash_at_each
            .then(|| sweep::run(context.exe, context.job, context.dir, context.control))
    }

    fn planned_crash(
        &self,
        _status: Option<ExitStatus>,
        messages: &[WorkerMessage],
        _stderr: &str,
    ) -> Option<String> {
        messages.iter().find_map(|m| match m {
            WorkerMessage::Crashed { point } => {
                Some(format!("the worker aborted at fail point {point}"))
            }
            _ => None,
        })
    }

    fn reports_own_crash(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fail_point_abort_is_a_crash_once_reported() {
        let plan = FailPoints::crash_at("ledger::export::before_commit");
        let crashed = [WorkerMessage::Crashed {
            point: "ledger::export::before_commit".into(),
        }];
        let note = plan
            .planned_crash(None, &crashed, "")
            .expect("a planned crash");
        assert!(note.contains("ledger::export::before_commit"));
        assert!(plan.planned_crash(None, &[], "").is_none());
    }
}
