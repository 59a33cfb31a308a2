//! Memory-pressure probes: [`MemoryProbe`], the real [`ProcMemoryProbe`]
//! (PSI `/proc/pressure/memory`, `MemAvailable`, the cgroup v2 limit) and
//! [`ManualProbe`], whose readings a test or the harness sets.

use std::fs;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long one reading of `/proc` serves every ledger in the process. PSI `avg10` is itself a
/// ten-second average, so a reading this fresh loses nothing, and a process that opens many
/// ledgers (the harness reopening crash images, a CLI) reads five files once, not per open.
const PROC_READING_TTL: Duration = Duration::from_millis(100);

/// One reading of the machine's memory state; `None` = unknown.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct MemorySample {
    /// PSI `some avg10`: % of the last 10 s some task stalled on memory.
    pub psi_some_avg10: Option<f64>,
    /// Bytes available: `MemAvailable`, or the cgroup's headroom if smaller.
    pub available_bytes: Option<u64>,
}

/// PSI `some avg10` at or above this is pressure.
pub const PSI_PRESSURE_PCT: f64 = 10.0;
/// Less than this many bytes available is pressure.
pub const LOW_AVAILABLE_BYTES: u64 = 64 * 1024 * 1024;

impl MemorySample {
    /// Whether this reading means memory pressure.
    pub fn under_pressure(&self) -> bool {
        self.psi_some_avg10.is_some_and(|p| p >= PSI_PRESSURE_PCT)
            || self
                .available_bytes
                .is_some_and(|b| b < LOW_AVAILABLE_BYTES)
    }
}

/// A source of memory readings, polled between operations.
pub trait MemoryProbe: Send {
    /// The current reading.
    fn sample(&mut self) -> MemorySample;
}

/// Reads `/proc/pressure/memory`, `/proc/meminfo` and the cgroup v2
/// `memory.max`/`memory.current` of this process (one reading serves the whole process for
/// 100 ms).
#[derive(Debug, Default, Clone, Copy)]
pub struct ProcMemoryProbe;

impl MemoryProbe for ProcMemoryProbe {
    fn sample(&mut self) -> MemorySample {
        static LAST: Mutex<Option<(Instant, MemorySample)>> = Mutex::new(None);
        let mut last = LAST.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((at, sample)) = *last
            && at.elapsed() < PROC_READING_TTL
        {
            return sample;
        }
        let sample = read_proc();
        *last = Some((Instant::now(), sample));
        sample
    }
}

/// One fresh reading of `/proc` and the cgroup files.
fn read_proc() -> MemorySample {
    let psi = fs::read_to_string("/proc/pressure/memory")
        .ok()
        .and_then(|text| parse_psi_some_avg10(&text));
    let mem_available = fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|text| parse_mem_available(&text));
    let cgroup = cgroup_headroom();
    let available_bytes = match (mem_available, cgroup) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    MemorySample {
        psi_some_avg10: psi,
        available_bytes,
    }
}

/// `some avg10=…` from a PSI file.
pub fn parse_psi_some_avg10(text: &str) -> Option<f64> {
    let line = text.lines().find(|l| l.starts_with("some "))?;
    let field = line
        .split_whitespace()
        .find_map(|f| f.strip_prefix("avg10="))?;
    field.parse().ok()
}

/// `MemAvailable` from `/proc/meminfo`, in bytes.
pub fn parse_mem_available(text: &str) -> Option<u64> {
    let line = text.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    kib.checked_mul(1024)
}

fn cgroup_headroom() -> Option<u64> {
    let cgroup = fs::read_to_string("/proc/self/cgroup").ok()?;
    let path = cgroup.lines().find_map(|l| l.strip_prefix("0::"))?;
    let dir = format!("/sys/fs/cgroup{}", path.trim_end());
    let max = fs::read_to_string(format!("{dir}/memory.max")).ok()?;
    let max: u64 = max.trim().parse().ok()?;
    let current: u64 = fs::read_to_string(format!("{dir}/memory.current"))
        .ok()?
        .trim()
        .parse()
        .ok()?;
    Some(max.saturating_sub(current))
}

/// A probe whose reading is set by hand; clones share the reading.
#[derive(Debug, Clone, Default)]
pub struct ManualProbe(Arc<Mutex<MemorySample>>);

impl ManualProbe {
    /// A probe reporting `sample` until [`ManualProbe::set`] changes it.
    pub fn new(sample: MemorySample) -> ManualProbe {
        ManualProbe(Arc::new(Mutex::new(sample)))
    }

    /// Change the reading every clone reports.
    pub fn set(&self, sample: MemorySample) {
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = sample;
    }
}

impl MemoryProbe for ManualProbe {
    fn sample(&mut self) -> MemorySample {
        *self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_psi_and_meminfo() {
        let psi = "some avg10=12.50 avg60=3.00 avg300=1.00 total=1\nfull avg10=1.00 avg60=0 avg300=0 total=0\n";
        assert_eq!(parse_psi_some_avg10(psi), Some(12.5));
        let meminfo = "MemTotal:  8000 kB\nMemAvailable:   2048 kB\n";
        assert_eq!(parse_mem_available(meminfo), Some(2048 * 1024));
        assert_eq!(parse_psi_some_avg10("garbage"), None);
    }

    #[test]
    fn pressure_thresholds() {
        assert!(!MemorySample::default().under_pressure());
        let psi = MemorySample {
            psi_some_avg10: Some(25.0),
            available_bytes: None,
        };
        assert!(psi.under_pressure());
        let low = MemorySample {
            psi_some_avg10: Some(0.0),
            available_bytes: Some(1024),
        };
        assert!(low.under_pressure());
    }

    #[test]
    fn manual_probe_clones_share_the_reading() {
        let probe = ManualProbe::default();
        let mut clone = probe.clone();
        probe.set(MemorySample {
            psi_some_avg10: Some(50.0),
            available_bytes: None,
        });
        assert!(clone.sample().under_pressure());
    }

    #[test]
    fn the_real_probe_reads_without_failing() {
        let _ = ProcMemoryProbe.sample();
    }
}
