//! The drive loop through the fault VFS: [`register_vfs`] and [`run_pass`], shared by every
//! family whose faults live in the VFS (disk errors, torn writes and bit flips; power loss).
//!
//! The worker registers a fault VFS under a name unique in the process, seeds it and SQLite's
//! PRNG from the iteration seed, and opens the ledger through it. Every VFS fault event becomes
//! a [`WorkerMessage::Fault`] line (deterministic text, no paths, no timings) placed at the
//! operation during which it happened. When the power goes, the operation in flight gets no
//! `OpFinished` (its outcome is unknown) and the pass stops.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use ledger::{Ledger, LedgerError};

use super::counting::{LatencyTally, RetryWatch};
use super::vfs::{FaultEventKind, FaultVfs, VfsError, VfsOptions, seed_sqlite_prng};
use crate::engine::{
    CheckedDatabase, IterationJob, Sink, WorkerError, WorkerMessage, apply_workload_pragmas,
    drive_options, fresh_dir, ledger_config_at, scratch_target,
};
use crate::workload::{CaptureIds, Operation, execute};

/// Error rules a pass installs once the ledger is open, and when it clears them.
pub trait VfsRules {
    /// Installs every rule in `vfs`.
    ///
    /// # Errors
    /// A rule the VFS refuses.
    fn apply(&self, vfs: &FaultVfs) -> Result<(), VfsError>;

    /// Whether the rules are cleared before operation `index`, given the operation during
    /// which the first fault happened.
    fn clears_before(&self, index: usize, first_fault_at: Option<usize>) -> bool;

    /// Whether the rules wait for the workload's first `maintain` to finish instead of being
    /// installed at open.
    fn armed_after_maintain(&self) -> bool {
        false
    }
}

/// What a pass injects besides what the VFS was armed with.
#[derive(Clone, Copy)]
pub enum Pass<'a> {
    /// Error and bit-flip rules, installed once the ledger is open (so triggers count workload
    /// calls, not the schema set-up) and cleared when the rules say so.
    Rules(&'a dyn VfsRules),
    /// No rules: at most the armed power cut. The ledger's retries are off.
    PowerCut,
}

/// Registers a fault VFS under a name unique in this process.
///
/// # Errors
/// SQLite refused the registration.
pub fn register_vfs(options: VfsOptions) -> Result<FaultVfs, WorkerError> {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let name = format!(
        "resilience-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    );
    Ok(FaultVfs::register(&name, options)?)
}

/// Runs the workload uncut in `scratch` (removed afterwards) and returns the number of durable
/// mutations it made, the range crash points are drawn from.
///
/// # Errors
/// The scratch directory could not be made, or the pass failed.
pub fn count_mutations(
    job: &IterationJob,
    vfs: &FaultVfs,
    scratch: &Path,
) -> Result<u64, WorkerError> {
    fresh_dir(scratch)?;
    vfs.reset();
    vfs.set_seed(job.seed);
    let target = scratch_target(job, scratch);
    run_pass(job, &target, vfs, Pass::PowerCut, &mut |_| Ok(()))?;
    let mutations = vfs.io_counts().durable_mutations;
    let _ = std::fs::remove_dir_all(scratch);
    Ok(mutations)
}

/// One pass of the workload on `target` through `vfs`: opens the ledger, runs the plan until it
/// ends or the power is cut, reporting operations and VFS events. Error rules are
/// installed once the ledger is open (so triggers count workload calls, not the schema set-up)
/// and cleared when its `clear-after-operations` says so.
///
/// # Errors
/// The ledger did not open (other than because of the cut), a rule was refused, or `sink`
/// failed.
pub fn run_pass(
    job: &IterationJob,
    target: &CheckedDatabase,
    vfs: &FaultVfs,
    pass: Pass<'_>,
    sink: &mut Sink<'_>,
) -> Result<(), WorkerError> {
    seed_sqlite_prng(job.seed);
    let mut config = ledger_config_at(job, &target.db_path, &target.vault_dir);
    config.vfs = Some(vfs.name().to_owned());
    let rules = match pass {
        Pass::Rules(rules) => Some(rules),
        Pass::PowerCut => {
            // A power cut injects no transient fault before the cut, and after the cut every
            // call fails: the ledger's retries would only sleep through backoff the dead machine
            // never has (it cost 4x in crash states per second). The check phase keeps the policy.
            config.tuning.retry = ledger::RetryPolicy::disabled();
            None
        }
    };
    let mut seen = 0;
    let opened = Ledger::open_with(&config, drive_options(job));
    report_events(vfs, &mut seen, None, sink)?;
    let mut ledger = match opened {
        Ok(ledger) => ledger,
        Err(_) if vfs.has_crashed() => return Ok(()),
        Err(e) => return Err(e.into()),
    };
    apply_workload_pragmas(job, &ledger)?;
    let mut unarmed = rules.filter(|r| r.armed_after_maintain());
    if let Some(rules) = rules
        && unarmed.is_none()
    {
        rules.apply(vfs)?;
    }
    let retries = rules.map(|_| RetryWatch::start());
    let mut latency = LatencyTally::default();
    let mut ids = CaptureIds::default();
    let mut first_fault = None;
    for (index, op) in job.plan.iter().enumerate() {
        if rules.is_some_and(|r| r.clears_before(index, first_fault)) && first_fault.is_some() {
            vfs.clear_rules();
            first_fault = None;
            sink(WorkerMessage::Fault {
                during_operation: Some(index),
                description: "vfs: fault rules cleared before this operation".into(),
            })?;
        }
        sink(WorkerMessage::OpStarted { index })?;
        let outcome = execute(&mut ledger, op, &mut ids);
        if report_events(vfs, &mut seen, Some(index), sink)? && first_fault.is_none() {
            first_fault = Some(index);
        }
        latency.after(op, vfs);
        if *op == Operation::Maintain
            && let Some(rules) = unarmed.take()
        {
            rules.apply(vfs)?;
            sink(WorkerMessage::Fault {
                during_operation: Some(index),
                description: "vfs: fault rules installed after this maintenance".into(),
            })?;
        }
        if vfs.has_crashed() {
            close_after_cut(ledger);
            return Ok(());
        }
        sink(WorkerMessage::OpFinished { index, outcome })?;
    }
    if let Some(retries) = retries {
        let counters = retries.finish(&ledger, vfs, latency);
        for (name, value) in counters.figures() {
            sink(WorkerMessage::Figure {
                name: name.to_owned(),
                value,
            })?;
        }
        sink(WorkerMessage::Counters(counters))?;
    }
    let closed = ledger.close();
    report_events(vfs, &mut seen, None, sink)?;
    match closed {
        Err(_) if vfs.has_crashed() => Ok(()),
        Err(e) if rules.is_some() => sink(WorkerMessage::Fault {
            during_operation: None,
            description: format!("closing the ledger failed: {}", e.kind()),
        }),
        other => other.map_err(WorkerError::from),
    }
}

/// Flips the VFS injected (all, and those in whole-page reads, which page checksums cover)
/// and the checksum mismatches the ledger's checksum VFS recorded in this process.
pub fn bit_flip_counts(vfs: &FaultVfs) -> reports::BitFlipCounts {
    let flips: Vec<_> = vfs
        .events()
        .into_iter()
        .filter(|e| matches!(e.kind, FaultEventKind::BitFlip { .. }))
        .collect();
    let page_sized = |len: Option<i64>| {
        len.is_some_and(|l| (512..=65536).contains(&l) && (l as u64).is_power_of_two())
    };
    reports::BitFlipCounts {
        injected: flips.len() as u64,
        in_page_reads: flips.iter().filter(|e| page_sized(e.len)).count() as u64,
        detected: ledger::checksum::fault_count(),
    }
}

/// Drops the ledger after a cut: every call fails, so closing changes nothing on "disk".
fn close_after_cut(ledger: Ledger) {
    let _: Result<(), LedgerError> = ledger.close();
}

/// Sends the VFS events after `seen` as fault lines; true when there were any.
fn report_events(
    vfs: &FaultVfs,
    seen: &mut usize,
    during_operation: Option<usize>,
    sink: &mut Sink<'_>,
) -> Result<bool, WorkerError> {
    let events = vfs.events();
    let fresh = events.len() > *seen;
    for event in &events[(*seen).min(events.len())..] {
        sink(WorkerMessage::Fault {
            during_operation,
            description: event.describe(),
        })?;
    }
    *seen = events.len();
    Ok(fresh)
}
