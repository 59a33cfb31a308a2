//! The worker side: the hidden `__worker PHASE INPUT` subcommand.
//!
//! `drive` reads the job and hands it to its family's drive, which reports each operation
//! before and after it runs. `check` runs in a fresh process after the drive worker is gone
//! (see `check.rs`). `exhaustive` drives and checks every case of a job in one process, for a
//! family that enumerates its cases. Families add phases of their own for the processes their
//! drives start ([`super::family::WorkerPhase`]); [`run_phase`] dispatches all of them.

use std::io;
use std::path::Path;

use super::drive::{Sink, WorkerError};
use super::family::WorkerPhase;
use super::job::{IterationJob, read_json, report};

/// Runs worker phase `phase` on `input`: an engine phase, or one of `family_phases`.
///
/// # Errors
/// [`UnknownPhase`] for a phase nobody knows; otherwise what the phase returned.
pub fn run_phase(phase: &str, input: &Path, family_phases: &[WorkerPhase]) -> anyhow::Result<()> {
    match phase {
        "drive" => Ok(drive(input)?),
        "check" => Ok(super::check::check(input)?),
        "exhaustive" => Ok(drive_and_check(input)?),
        other => match family_phases.iter().find(|p| p.name == other) {
            Some(found) => (found.run)(input),
            None => Err(UnknownPhase(other.to_owned()).into()),
        },
    }
}

/// A worker phase neither the engine nor any family knows.
#[derive(Debug, thiserror::Error)]
#[error("unknown worker phase `{0}`")]
pub struct UnknownPhase(pub String);

/// Drive phase: executes the plan, reporting before and after each operation on stdout.
///
/// # Errors
/// The job could not be read, or the drive could not do its job.
pub fn drive(job_path: &Path) -> Result<(), WorkerError> {
    let job: IterationJob = read_json(job_path)?;
    let mut out = io::stdout().lock();
    drive_job(&job, &mut |message| report(&mut out, &message))
}

/// Executes the job's plan in this process through its family's drive, handing each message
/// to `sink` as it happens.
///
/// # Errors
/// What the family's drive returned.
pub fn drive_job(job: &IterationJob, sink: &mut Sink<'_>) -> Result<(), WorkerError> {
    job.scenario.family().drive(job, sink)
}

/// Exhaustive phase: drives and checks every case of the job, reporting on stdout.
///
/// # Errors
/// The job could not be read, or the family could not do its job.
pub fn drive_and_check(job_path: &Path) -> Result<(), WorkerError> {
    let job: IterationJob = read_json(job_path)?;
    let mut out = io::stdout().lock();
    drive_and_check_job(&job, &mut |message| report(&mut out, &message))
}

/// Drives and checks every case of the job in this process (see
/// [`super::family::Family::drive_and_check`]).
///
/// # Errors
/// What the family returned.
pub fn drive_and_check_job(job: &IterationJob, sink: &mut Sink<'_>) -> Result<(), WorkerError> {
    job.scenario.family().drive_and_check(job, sink)
}
