//! The `corruption` family: damage to an index page, a table page, a WAL frame or the header,
//! applied to the files at rest after the workload ([`Corruption`]). Index damage must be
//! repaired, table damage reported as `corrupt` and never served, and every acknowledged
//! capture stays intact or is named missing (`corruption_accounted`).

pub mod drive;
pub mod plan;

use plan::Corruption;

use crate::engine::{Family, IterationJob, Sink, WorkerError};
use crate::scenario::Scenario;

impl Family for Corruption {
    fn name(&self) -> &'static str {
        "corruption"
    }

    fn validate(&self, scenario: &Scenario) -> Result<(), String> {
        self.validate_in(scenario)
    }

    fn drive(&self, job: &IterationJob, sink: &mut Sink<'_>) -> Result<(), WorkerError> {
        drive::drive(job, self, sink)
    }
}
