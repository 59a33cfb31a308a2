//! Drive phase for the memory layers: [`drive_alloc`] runs the plan with an allocation fault,
//! heap limits or `RLIMIT_AS`, and the allocation sweep ([`super::sweep`]) runs each of its
//! passes the same way ([`run_alloc_pass`]); [`drive_pressure`] runs it with a memory-pressure
//! probe.
//!
//! The counting allocator was installed by the worker entry before SQLite initialised (see
//! `alloc_raw.rs`); here it is only armed and disarmed around the workload.

use ledger::{Ledger, ManualProbe, MemorySample};

use super::alloc::{AllocFaults, AllocTrigger};
use super::alloc_raw;
use super::pressure::MemoryPressure;
use crate::backends::counting::RetryWatch;
use crate::engine::{
    CheckedDatabase, IterationJob, Sink, WorkerError, WorkerMessage, apply_workload_pragmas,
    drive_options, ledger_config_at,
};
use crate::oracle::DriveCounters;
use crate::oracle::fault_response::{FaultResponse, PressureResponse};
use crate::oracle::pressure::PressureSeen;
use crate::oracle::{CheckName, DriveEvidence, judge_in_drive};
use crate::workload::{CaptureIds, execute};

/// A reading well under pressure (PSI 80 %, 1 MiB available) and one well clear of it.
const PRESSED: MemorySample = MemorySample {
    psi_some_avg10: Some(80.0),
    available_bytes: Some(1 << 20),
};
const CALM: MemorySample = MemorySample {
    psi_some_avg10: Some(0.0),
    available_bytes: Some(8 << 30),
};

/// Runs the job's plan under its allocation plan.
pub(super) fn drive_alloc(
    job: &IterationJob,
    alloc: &AllocFaults,
    sink: &mut Sink<'_>,
) -> Result<(), WorkerError> {
    let target = CheckedDatabase::live(job);
    let trigger = alloc.trigger(job.seed);
    let fired = run_alloc_pass(job, &target, alloc, trigger, sink)?;
    sink(WorkerMessage::Fault {
        during_operation: None,
        description: describe_alloc(alloc, trigger, fired),
    })
}

/// One pass on `target`: opens the ledger unarmed, applies limits, arms `trigger`, runs the
/// plan; returns how many allocations failed.
pub(super) fn run_alloc_pass(
    job: &IterationJob,
    target: &CheckedDatabase,
    alloc: &AllocFaults,
    trigger: Option<AllocTrigger>,
    sink: &mut Sink<'_>,
) -> Result<u64, WorkerError> {
    let config = ledger_config_at(job, &target.db_path, &target.vault_dir);
    let mut ledger = Ledger::open_with(&config, drive_options(job))?;
    apply_workload_pragmas(job, &ledger)?;
    alloc_raw::set_heap_limits(alloc.hard_heap_limit, alloc.soft_heap_limit);
    if let Some(headroom) = alloc.rlimit_as_headroom {
        limit_address_space(headroom);
    }
    if let Some(trigger) = trigger {
        alloc_raw::arm(trigger);
    }
    let result = run_plan(job, &mut ledger, sink, |_, _| {});
    let fired = alloc_raw::disarm();
    alloc_raw::set_heap_limits(
        alloc.hard_heap_limit.map(|_| 0),
        alloc.soft_heap_limit.map(|_| 0),
    );
    drop(ledger);
    result.map(|()| fired)
}

/// Executes the plan, reporting each operation; `before` runs before each one.
fn run_plan(
    job: &IterationJob,
    ledger: &mut Ledger,
    sink: &mut Sink<'_>,
    mut before: impl FnMut(usize, &Ledger),
) -> Result<(), WorkerError> {
    let mut ids = CaptureIds::default();
    for (index, op) in job.plan.iter().enumerate() {
        before(index, ledger);
        sink(WorkerMessage::OpStarted { index })?;
        let outcome = execute(ledger, op, &mut ids);
        sink(WorkerMessage::OpFinished { index, outcome })?;
    }
    Ok(())
}

fn describe_alloc(alloc: &AllocFaults, trigger: Option<AllocTrigger>, fired: u64) -> String {
    let mut parts = Vec::new();
    if let Some(t) = trigger {
        parts.push(format!(
            "allocation {} failed{}: {fired} allocation(s) refused",
            t.nth,
            if t.persistent {
                " and every one after it"
            } else {
                " once"
            }
        ));
    }
    if let Some(hard) = alloc.hard_heap_limit {
        parts.push(format!("hard heap limit {hard} bytes"));
    }
    if let Some(soft) = alloc.soft_heap_limit {
        parts.push(format!("soft heap limit {soft} bytes"));
    }
    if let Some(headroom) = alloc.rlimit_as_headroom {
        parts.push(format!(
            "RLIMIT_AS {headroom} bytes over the opened worker's size"
        ));
    }
    parts.join("; ")
}

/// Caps the address space at its current size plus `headroom` bytes. Best effort: a limit
/// that cannot be read or set leaves the worker unlimited (the fault note still says which).
fn limit_address_space(headroom: u64) {
    use nix::sys::resource::{Resource, setrlimit};
    let pages = std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse::<u64>().ok());
    if let Some(pages) = pages {
        let limit = pages * 4096 + headroom;
        let _ = setrlimit(Resource::RLIMIT_AS, limit, limit);
    }
}

/// Memory pressure: a [`ManualProbe`] raised over the plan's window; the verdict says whether
/// the cache shrank and mmap fell back as required.
pub(super) fn drive_pressure(
    job: &IterationJob,
    pressure: &MemoryPressure,
    sink: &mut Sink<'_>,
) -> Result<(), WorkerError> {
    let config = ledger_config_at(job, &job.db_path, &job.vault_dir);
    let mut ledger = Ledger::open_with(&config, drive_options(job))?;
    apply_workload_pragmas(job, &ledger)?;
    let probe = ManualProbe::new(CALM);
    ledger.set_memory_probe(Box::new(probe.clone()));
    let retries = RetryWatch::start();
    let mut was_on = false;
    let mut changes = Vec::new();
    let mut sizes = ConnectionSizes::read(&ledger);
    let mut seen = ResponsesSeen::default();
    run_plan(job, &mut ledger, sink, |index, ledger| {
        if index > 0 {
            let now = ConnectionSizes::read(ledger);
            seen.between(sizes, now, pressure.on_during(index - 1));
            sizes = now;
        }
        let on = pressure.on_during(index);
        if on != was_on {
            probe.set(if on { PRESSED } else { CALM });
            changes.push((index, on));
            was_on = on;
        }
    })?;
    if let Some(last) = job.plan.len().checked_sub(1) {
        seen.between(
            sizes,
            ConnectionSizes::read(&ledger),
            pressure.on_during(last),
        );
    }
    let pressure_events = changes.iter().filter(|(_, on)| *on).count() as u64;
    for (index, on) in changes {
        sink(WorkerMessage::Fault {
            during_operation: Some(index),
            description: format!("memory pressure {}", if on { "on" } else { "off" }),
        })?;
    }
    let counters = ledger.safety_counters();
    for (name, value) in [
        ("pressure_events", pressure_events),
        ("cache_shrinks", counters.cache_shrinks),
        ("cache_resizes", counters.cache_resizes),
        ("mmap_fallbacks", counters.mmap_fallbacks),
        ("mmap_restores", counters.mmap_restores),
    ] {
        sink(WorkerMessage::Figure {
            name: name.to_owned(),
            value,
        })?;
    }
    let metrics = ledger
        .metrics_snapshot()
        .map_or(counters, |snapshot| snapshot.safety);
    let waits = ledger.lock_waits();
    let retries_counted = ledger.metrics().total_retries();
    sink(WorkerMessage::Counters(DriveCounters {
        retries_seen: retries.stop(),
        retries_counted,
        busy_answers: 0,
        busy_handler_calls: waits.busy_waits + waits.busy_gave_up,
        busy_handler_installed: ledger.config().tuning.busy_timeout_ms > 0,
        latency: None,
        pressure: Some(PressureSeen {
            pressure_events,
            require_shrink: pressure.require_shrink,
            require_mmap_fallback: pressure.require_mmap_fallback,
            shrinks_seen: seen.shrinks,
            fallbacks_seen: seen.fallbacks,
            shrinks_counted: metrics.cache_shrinks,
            fallbacks_counted: metrics.mmap_fallbacks,
        }),
    }))?;
    let response = FaultResponse::MemoryPressure(PressureResponse {
        require_shrink: pressure.require_shrink,
        require_mmap_fallback: pressure.require_mmap_fallback,
        cache_shrinks: counters.cache_shrinks,
        mmap_fallbacks: counters.mmap_fallbacks,
    });
    sink(
        judge_in_drive(
            CheckName::FaultResponse,
            &DriveEvidence::FaultResponse(response),
        )
        .into(),
    )
}

/// The page cache and memory map of the ledger's connection, read with `PRAGMA`s.
#[derive(Debug, Clone, Copy)]
struct ConnectionSizes {
    cache_kib: u64,
    mmap_bytes: i64,
}

impl ConnectionSizes {
    fn read(ledger: &Ledger) -> ConnectionSizes {
        let pragma = |name: &str| -> i64 {
            ledger
                .connection()
                .query_row(&format!("PRAGMA {name}"), [], |row| row.get(0))
                .unwrap_or(0)
        };
        let cache = pragma("cache_size");
        let cache_kib = if cache < 0 {
            cache.unsigned_abs()
        } else {
            cache.unsigned_abs() * pragma("page_size").unsigned_abs() / 1024
        };
        ConnectionSizes {
            cache_kib,
            mmap_bytes: pragma("mmap_size"),
        }
    }
}

/// The ledger's responses to pressure the drive saw on the connection.
#[derive(Debug, Default)]
struct ResponsesSeen {
    shrinks: u64,
    fallbacks: u64,
}

impl ResponsesSeen {
    /// Counts what changed from `before` to `after` across one operation run under pressure
    /// (`pressed`): the cache down to the ledger's pressure size, mmap from on to off.
    fn between(&mut self, before: ConnectionSizes, after: ConnectionSizes, pressed: bool) {
        if !pressed {
            return;
        }
        let floor = ledger::memory::adaptive_cache::FLOOR_KIB;
        if before.cache_kib > floor && after.cache_kib == floor {
            self.shrinks += 1;
        }
        if before.mmap_bytes > 0 && after.mmap_bytes == 0 {
            self.fallbacks += 1;
        }
    }
}
