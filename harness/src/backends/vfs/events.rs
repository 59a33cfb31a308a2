//! What the VFS injected ([`FaultEvent`]) and how often each call ran ([`IoCounts`]).
//!
//! Events are deterministic for a given seed and workload: no timestamps,
//! no absolute paths, no pointers. The harness copies them into its trace.

use std::sync::atomic::{AtomicU64, Ordering};

use serde::{Deserialize, Serialize};

use super::rules::{FileKind, IoOp};

/// One injected fault, in injection order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct FaultEvent {
    /// Position in the VFS's event stream, from 0.
    pub seq: u64,
    /// The call that was faulted; `None` for a power cut not tied to a call
    /// ([`FaultVfs::power_cut_now`](super::FaultVfs::power_cut_now)).
    pub op: Option<IoOp>,
    /// The kind of file the call touched (`any` when not tied to a call).
    pub file: FileKind,
    /// The file name only (no directory), empty when unknown.
    pub path_name: String,
    /// Byte offset of the call, where it has one.
    pub offset: Option<i64>,
    /// Byte length of the call, where it has one.
    pub len: Option<i64>,
    /// What was injected.
    pub kind: FaultEventKind,
}

impl FaultEvent {
    /// One deterministic line for traces: what was injected, on which call of which file
    /// (file name only, no directory, no timing).
    pub fn describe(&self) -> String {
        let op = self
            .op
            .map(|op| format!("{op:?}").to_lowercase())
            .unwrap_or_else(|| "no call".into());
        let mut at = String::new();
        if !self.path_name.is_empty() {
            at.push_str(&format!(" of {}", self.path_name));
        }
        if let Some(offset) = self.offset {
            at.push_str(&format!(" at {offset}"));
        }
        if let Some(len) = self.len {
            at.push_str(&format!(" ({len} bytes)"));
        }
        match &self.kind {
            FaultEventKind::Error { code } => format!("vfs: {op}{at} failed with code {code}"),
            FaultEventKind::LandedError { code } => {
                format!("vfs: {op}{at} took effect, then failed with code {code}")
            }
            FaultEventKind::ShortWrite { kept_sectors, code } => {
                format!("vfs: short write{at}: {kept_sectors} sector(s) kept, then code {code}")
            }
            FaultEventKind::BitFlip { bits } => {
                format!("vfs: {op}{at} returned data with bits {bits:?} flipped")
            }
            FaultEventKind::PowerCut => format!("vfs: power cut before {op}{at}"),
            FaultEventKind::Delayed { ms } => format!("vfs: {op}{at} delayed by {ms} ms"),
        }
    }
}

/// What a [`FaultEvent`] injected.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub enum FaultEventKind {
    /// The call returned `code` without touching the file.
    Error {
        /// The SQLite result code returned.
        code: i32,
    },
    /// The call took effect (the data was written, synced, truncated or unlinked), then
    /// returned `code`: the caller cannot tell that it landed.
    LandedError {
        /// The SQLite result code returned.
        code: i32,
    },
    /// Only the first `kept_sectors` 512-byte sectors of the write reached the file.
    ShortWrite {
        /// Sectors written before the error.
        kept_sectors: u32,
        /// The SQLite result code returned.
        code: i32,
    },
    /// The read succeeded but these bits of the returned data were flipped.
    BitFlip {
        /// Absolute bit positions in the file: `byte_offset * 8 + bit` (bit 0 = least significant).
        bits: Vec<u64>,
    },
    /// The power was cut before this call executed; every later call fails.
    PowerCut,
    /// The call waited this many milliseconds, then ran normally.
    Delayed {
        /// The injected latency.
        ms: u64,
    },
}

/// How many times each VFS call ran through the shim (including faulted ones).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct IoCounts {
    /// `xOpen` calls.
    pub opens: u64,
    /// `xClose` calls.
    pub closes: u64,
    /// `xDelete` calls.
    pub deletes: u64,
    /// `xRead` calls.
    pub reads: u64,
    /// `xWrite` calls.
    pub writes: u64,
    /// `xSync` calls.
    pub syncs: u64,
    /// `xTruncate` calls.
    pub truncates: u64,
    /// `xLock` calls.
    pub locks: u64,
    /// `xShmMap` calls.
    pub shm_maps: u64,
    /// `xFetch` calls (0 unless `forward_fetch`).
    pub fetches: u64,
    /// `SQLITE_FCNTL_SIZE_HINT` file controls (these can grow a file).
    pub size_hints: u64,
    /// Calls refused because the power had been cut.
    pub failed_after_cut: u64,
    /// Writes, syncs and truncates on a main DB, WAL or journal: the calls
    /// [`CrashTrigger::BeforeNthMutation`](super::CrashTrigger) counts. Counted on the
    /// tracking path only (power loss tracked, or a rule or cut armed).
    pub durable_mutations: u64,
}

/// Lock-free counters behind [`IoCounts`].
#[derive(Debug, Default)]
pub(super) struct Counters {
    pub(super) opens: AtomicU64,
    pub(super) closes: AtomicU64,
    pub(super) deletes: AtomicU64,
    pub(super) reads: AtomicU64,
    pub(super) writes: AtomicU64,
    pub(super) syncs: AtomicU64,
    pub(super) truncates: AtomicU64,
    pub(super) locks: AtomicU64,
    pub(super) shm_maps: AtomicU64,
    pub(super) fetches: AtomicU64,
    pub(super) size_hints: AtomicU64,
    pub(super) failed_after_cut: AtomicU64,
    pub(super) durable_mutations: AtomicU64,
}

/// Adds one to a counter.
pub(super) fn bump(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

impl Counters {
    /// Sets every counter back to 0.
    pub(super) fn reset(&self) {
        for counter in [
            &self.opens,
            &self.closes,
            &self.deletes,
            &self.reads,
            &self.writes,
            &self.syncs,
            &self.truncates,
            &self.locks,
            &self.shm_maps,
            &self.fetches,
            &self.size_hints,
            &self.failed_after_cut,
            &self.durable_mutations,
        ] {
            counter.store(0, Ordering::Relaxed);
        }
    }

    /// A consistent-enough snapshot for reporting.
    pub(super) fn snapshot(&self) -> IoCounts {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        IoCounts {
            opens: get(&self.opens),
            closes: get(&self.closes),
            deletes: get(&self.deletes),
            reads: get(&self.reads),
            writes: get(&self.writes),
            syncs: get(&self.syncs),
            truncates: get(&self.truncates),
            locks: get(&self.locks),
            shm_maps: get(&self.shm_maps),
            fetches: get(&self.fetches),
            size_hints: get(&self.size_hints),
            failed_after_cut: get(&self.failed_after_cut),
            durable_mutations: get(&self.durable_mutations),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_serialize_without_absolute_data() {
        let event = FaultEvent {
            seq: 0,
            op: Some(IoOp::Sync),
            file: FileKind::Wal,
            path_name: "db-wal".into(),
            offset: None,
            len: None,
            kind: FaultEventKind::Error { code: 1034 },
        };
        let json = serde_json::to_string(&event).unwrap();
        assert_eq!(
            json,
            r#"{"seq":0,"op":"sync","file":"wal","path-name":"db-wal","offset":null,"len":null,"kind":{"error":{"code":1034}}}"#
        );
        assert_eq!(serde_json::from_str::<FaultEvent>(&json).unwrap(), event);
        assert_eq!(
            event.describe(),
            "vfs: sync of db-wal failed with code 1034"
        );
    }
}
