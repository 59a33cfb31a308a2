//! [`IterationOutcome`]: what one iteration produced, whoever ran it.

use reports::IterationResult;

use crate::trace::Trace;

/// The result of one iteration, with its trace for `replay`.
pub struct IterationOutcome {
    /// What goes into the reports.
    pub result: IterationResult,
    /// The full trace.
    pub trace: Trace,
}
