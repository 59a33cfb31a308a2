//! The `disk` family: I/O errors, short (torn) writes and bit flips from the fault VFS during
//! the whole drive phase ([`DiskFaults`]).
//!
//! What the ledger must survive: an operation hit by an I/O error returns a typed error and
//! leaves no partial transaction; once the fault clears, the same ledger instance works again;
//! nothing acknowledged is lost. With page checksums on, flipped whole-page reads must be caught
//! (`fault_response`, judged here from the flip and mismatch counts).

pub mod plan;

use plan::DiskFaults;

use crate::backends::vfs::{FaultVfs, VfsError};
use crate::backends::vfs_drive::{Pass, VfsRules, bit_flip_counts, register_vfs, run_pass};
use crate::engine::{CheckedDatabase, Family, IterationJob, Sink, WorkerError, WorkerMessage};
use crate::oracle::fault_response::FaultResponse;
use crate::oracle::{CheckName, DriveEvidence, judge_in_drive};
use crate::scenario::Scenario;

impl VfsRules for DiskFaults {
    fn apply(&self, vfs: &FaultVfs) -> Result<(), VfsError> {
        DiskFaults::apply(self, vfs)
    }

    fn clears_before(&self, index: usize, first_fault_at: Option<usize>) -> bool {
        DiskFaults::clears_before(self, index, first_fault_at)
    }

    fn armed_after_maintain(&self) -> bool {
        self.arm_after_maintain
    }
}

impl DiskFaults {
    /// True when the drive judges `fault_response`: bit flips with page checksums on.
    fn judges_flips(&self, scenario: &Scenario) -> bool {
        !self.bit_flips.is_empty() && scenario.target.page_checksums
    }
}

impl Family for DiskFaults {
    fn name(&self) -> &'static str {
        "disk"
    }

    fn validate(&self, _scenario: &Scenario) -> Result<(), String> {
        DiskFaults::validate(self).map_err(|e| e.to_string())
    }

    fn drive(&self, job: &IterationJob, sink: &mut Sink<'_>) -> Result<(), WorkerError> {
        let vfs = register_vfs(self.vfs_options())?;
        vfs.set_seed(job.seed);
        let live = CheckedDatabase::live(job);
        run_pass(job, &live, &vfs, Pass::Rules(self), sink)?;
        if self.bit_flips.is_empty() {
            return Ok(());
        }
        let counts = bit_flip_counts(&vfs);
        sink(WorkerMessage::BitFlips(counts))?;
        if self.judges_flips(&job.scenario) {
            let evidence = DriveEvidence::FaultResponse(FaultResponse::BitFlips(counts));
            sink(judge_in_drive(CheckName::FaultResponse, &evidence).into())?;
        }
        Ok(())
    }

    fn drive_checks(&self, scenario: &Scenario) -> Vec<CheckName> {
        if self.judges_flips(scenario) {
            vec![CheckName::FaultResponse]
        } else {
            Vec::new()
        }
    }
}
