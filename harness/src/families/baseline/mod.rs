//! The `baseline` family: no fault. Every check must hold on it; it is what the other families
//! are compared against.

use crate::engine::Family;

/// No fault: the ledger runs the workload as it would in production.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Baseline;

impl Family for Baseline {
    fn name(&self) -> &'static str {
        "baseline"
    }
}
