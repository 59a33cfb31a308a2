//! Fault rules as data ([`FaultRule`], [`BitFlipRule`]) and the pure decision
//! "does this call fault?" ([`RuleState::fires`]).
//!
//! Trigger semantics, per rule, counting only the calls the rule matches
//! (same [`IoOp`], and the same [`FileKind`] unless the rule says `any`):
//! - `nth = N`: fires on the Nth matching call; with `persistent = true` it
//!   keeps firing on every later matching call (a device that died).
//! - `from-nth = N`: fires on every matching call from the Nth on, whatever
//!   `persistent` says.
//! - `probability = P`: fires on each matching call with probability P (drawn
//!   from the seeded RNG); without `persistent` it retires after its first hit.
//!
//! At most one rule fires per call: the first (in insertion order) that
//! fires wins; later rules still count the call but draw no randomness.

use rand::RngExt;
use rusqlite::ffi;
use serde::{Deserialize, Serialize};

use super::VfsError;

/// One kind of VFS call a rule can target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum IoOp {
    /// `xRead`.
    Read,
    /// `xWrite`.
    Write,
    /// `xSync`.
    Sync,
    /// `xTruncate`.
    Truncate,
    /// `xLock`.
    Lock,
    /// `xOpen`.
    Open,
    /// `xDelete`.
    Delete,
    /// `xShmMap` (the WAL index).
    ShmMap,
    /// `xFetch` (memory-mapped reads, only with `forward_fetch`).
    Fetch,
}

/// Which file a call touches, classified from the `SQLITE_OPEN_*` flags given to `xOpen`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FileKind {
    /// The main database file (`SQLITE_OPEN_MAIN_DB`).
    MainDb,
    /// The write-ahead log (`SQLITE_OPEN_WAL`).
    Wal,
    /// The rollback journal or a super-journal.
    Journal,
    /// The WAL index (`-shm`); only `xShmMap` calls are attributed to it.
    Shm,
    /// Temporary databases, sub-journals and anything else.
    Other,
    /// Matches every kind (rules only; never the kind of a real call).
    #[default]
    Any,
}

impl FileKind {
    /// Classifies a file from the flags SQLite passes to `xOpen`.
    pub fn from_open_flags(flags: i32) -> FileKind {
        if flags & ffi::SQLITE_OPEN_MAIN_DB != 0 {
            FileKind::MainDb
        } else if flags & ffi::SQLITE_OPEN_WAL != 0 {
            FileKind::Wal
        } else if flags & (ffi::SQLITE_OPEN_MAIN_JOURNAL | ffi::SQLITE_OPEN_SUPER_JOURNAL) != 0 {
            FileKind::Journal
        } else {
            FileKind::Other
        }
    }

    /// Classifies a file by its name, for calls (`xDelete`) that carry no open flags.
    pub fn from_name(name: &str) -> FileKind {
        if name.ends_with("-wal") {
            FileKind::Wal
        } else if name.ends_with("-journal") || name.contains("-mj") {
            FileKind::Journal
        } else if name.ends_with("-shm") {
            FileKind::Shm
        } else {
            FileKind::Other
        }
    }

    /// Whether the file holds durable state (main DB, WAL, journal): the
    /// files power loss is modelled for and mutations are counted on.
    pub fn is_durable(self) -> bool {
        matches!(self, FileKind::MainDb | FileKind::Wal | FileKind::Journal)
    }

    /// Whether a rule for `self` matches a call on a file of kind `actual`.
    pub fn matches(self, actual: FileKind) -> bool {
        self == FileKind::Any || self == actual
    }
}

/// When a rule fires; see the module documentation for the exact semantics.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Trigger {
    /// The Nth matching call (1-based).
    Nth(u64),
    /// Every matching call from the Nth on.
    FromNth(u64),
    /// Each matching call with this probability, drawn from the seed.
    Probability(f64),
}

/// The error an injected fault returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FaultError {
    /// The `SQLITE_IOERR_<OP>` extended code of the op (`SQLITE_CANTOPEN` for `open`,
    /// `SQLITE_IOERR_MMAP` for `fetch`).
    #[default]
    Ioerr,
    /// `SQLITE_FULL` (ENOSPC); `write` only.
    Full,
    /// `SQLITE_BUSY`; `lock` only.
    Busy,
    /// `SQLITE_CANTOPEN`; `open` only.
    CantOpen,
}

impl FaultError {
    /// The SQLite result code this error produces for `op`, or why the pair makes no sense.
    pub fn code_for(self, op: IoOp) -> Result<i32, String> {
        let code = match (self, op) {
            (FaultError::Ioerr, op) => ioerr_code(op),
            (FaultError::Full, IoOp::Write) => ffi::SQLITE_FULL,
            (FaultError::Busy, IoOp::Lock) => ffi::SQLITE_BUSY,
            (FaultError::CantOpen, IoOp::Open) => ffi::SQLITE_CANTOPEN,
            (error, op) => {
                return Err(format!(
                    "error {error:?} cannot be returned by {op:?}: full goes with write, \
                     busy with lock, cant-open with open, ioerr with every op"
                ));
            }
        };
        Ok(code)
    }
}

/// The `SQLITE_IOERR_*` extended code SQLite's own VFS returns when `op` fails.
pub fn ioerr_code(op: IoOp) -> i32 {
    match op {
        IoOp::Read => ffi::SQLITE_IOERR_READ,
        IoOp::Write => ffi::SQLITE_IOERR_WRITE,
        IoOp::Sync => ffi::SQLITE_IOERR_FSYNC,
        IoOp::Truncate => ffi::SQLITE_IOERR_TRUNCATE,
        IoOp::Lock => ffi::SQLITE_IOERR_LOCK,
        IoOp::Open => ffi::SQLITE_CANTOPEN,
        IoOp::Delete => ffi::SQLITE_IOERR_DELETE,
        IoOp::ShmMap => ffi::SQLITE_IOERR_SHMMAP,
        IoOp::Fetch => ffi::SQLITE_IOERR_MMAP,
    }
}

/// An I/O error rule: which calls fail, when, and how.
///
/// TOML: `{ op = "write", file = "wal", trigger = { nth = 3 }, persistent = true, error = "ioerr" }`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct FaultRule {
    /// The call kind the rule targets.
    pub op: IoOp,
    /// The file kind the rule targets (default `any`).
    #[serde(default)]
    pub file: FileKind,
    /// When the rule fires.
    pub trigger: Trigger,
    /// Keep firing after the first hit (default: fire once).
    #[serde(default)]
    pub persistent: bool,
    /// The error returned (default: the op's `SQLITE_IOERR_*`).
    #[serde(default)]
    pub error: FaultError,
    /// Write only: let the first k 512-byte sectors of the write reach the file, then fail.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub short_write_sectors: Option<u32>,
    /// The call takes effect, then the error is returned: an ambiguous outcome, such as an
    /// fsync that reached the disk but reported EIO, or a journal unlinked whose `unlink`
    /// reported failure (a COMMIT that fails yet lands). `write`, `sync`, `truncate` and
    /// `delete` only.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub lands: bool,
    /// Latency instead of an error: the call waits this many milliseconds, then runs and
    /// answers as it would have (a slow disk). `error`, `lands` and `short-write-sectors` do
    /// not apply.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delay_ms: Option<u64>,
}

impl FaultRule {
    /// A once-firing rule for `op` on any file with the op's default error.
    pub fn new(op: IoOp, trigger: Trigger) -> FaultRule {
        FaultRule {
            op,
            file: FileKind::Any,
            trigger,
            persistent: false,
            error: FaultError::Ioerr,
            short_write_sectors: None,
            lands: false,
            delay_ms: None,
        }
    }

    /// Restricts the rule to one file kind.
    pub fn on(mut self, file: FileKind) -> FaultRule {
        self.file = file;
        self
    }

    /// Makes the rule keep firing after its first hit.
    pub fn persistent(mut self) -> FaultRule {
        self.persistent = true;
        self
    }

    /// Sets the returned error.
    pub fn with_error(mut self, error: FaultError) -> FaultRule {
        self.error = error;
        self
    }

    /// Turns a write rule into a short write keeping `sectors` sectors.
    pub fn short_write(mut self, sectors: u32) -> FaultRule {
        self.short_write_sectors = Some(sectors);
        self
    }

    /// Makes the rule delay the call by `ms` milliseconds instead of failing it.
    pub fn delayed(mut self, ms: u64) -> FaultRule {
        self.delay_ms = Some(ms);
        self
    }

    /// Makes the call take effect before the error is returned (see [`FaultRule::lands`]).
    pub fn landing(mut self) -> FaultRule {
        self.lands = true;
        self
    }

    /// The result code this rule injects (valid rules only).
    pub fn code(&self) -> i32 {
        self.error.code_for(self.op).unwrap_or(ffi::SQLITE_IOERR)
    }

    /// Checks that the rule can ever match and that its error fits its op.
    ///
    /// # Errors
    /// [`VfsError::InvalidRule`] naming the rule and what is wrong.
    pub fn validate(&self) -> Result<(), VfsError> {
        let invalid = |reason: String| VfsError::InvalidRule {
            rule: format!("{self:?}"),
            reason,
        };
        self.error.code_for(self.op).map_err(invalid)?;
        validate_trigger(&self.trigger).map_err(invalid)?;
        if self.short_write_sectors.is_some() && self.op != IoOp::Write {
            return Err(invalid(
                "short-write-sectors only applies to op = \"write\"".into(),
            ));
        }
        if self.lands
            && (self.short_write_sectors.is_some()
                || !matches!(
                    self.op,
                    IoOp::Write | IoOp::Sync | IoOp::Truncate | IoOp::Delete
                ))
        {
            return Err(invalid(
                "lands applies to op = \"write\", \"sync\", \"truncate\" or \"delete\", \
                 without short-write-sectors"
                    .into(),
            ));
        }
        if self.delay_ms.is_some() && (self.lands || self.short_write_sectors.is_some()) {
            return Err(invalid(
                "delay-ms delays the call and lets it run: no lands, no short-write-sectors".into(),
            ));
        }
        if self.op == IoOp::ShmMap && !matches!(self.file, FileKind::Shm | FileKind::Any) {
            return Err(invalid("shm-map calls only touch file = \"shm\"".into()));
        }
        if self.file == FileKind::Shm && self.op != IoOp::ShmMap {
            return Err(invalid(
                "the -shm file is only reached through op = \"shm-map\"".into(),
            ));
        }
        Ok(())
    }
}

/// A bit-flip rule: matching `xRead`s return data with seeded bits flipped
/// (latent sector corruption as seen by reads; the file is unchanged).
///
/// TOML: `{ file = "main-db", trigger = { nth = 2 }, bits = 3 }`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct BitFlipRule {
    /// The file whose reads are corrupted (`main-db`, `wal`, `journal` or `any`).
    #[serde(default)]
    pub file: FileKind,
    /// Which reads are corrupted.
    pub trigger: Trigger,
    /// How many distinct bits to flip per corrupted read (default 1).
    #[serde(default = "one")]
    pub bits: u32,
    /// Keep corrupting after the first hit (same meaning as [`FaultRule::persistent`]).
    #[serde(default)]
    pub persistent: bool,
}

fn one() -> u32 {
    1
}

impl BitFlipRule {
    /// Checks the rule.
    ///
    /// # Errors
    /// [`VfsError::InvalidRule`] when the file kind is never read or `bits` is 0.
    pub fn validate(&self) -> Result<(), VfsError> {
        let invalid = |reason: String| VfsError::InvalidRule {
            rule: format!("{self:?}"),
            reason,
        };
        validate_trigger(&self.trigger).map_err(invalid)?;
        if matches!(self.file, FileKind::Shm | FileKind::Other) {
            return Err(invalid(
                "bit flips apply to main-db, wal, journal or any".into(),
            ));
        }
        if self.bits == 0 {
            return Err(invalid("bits must be at least 1".into()));
        }
        Ok(())
    }
}

fn validate_trigger(trigger: &Trigger) -> Result<(), String> {
    match *trigger {
        Trigger::Nth(0) | Trigger::FromNth(0) => Err("nth and from-nth are 1-based".into()),
        Trigger::Probability(p) if !(0.0..=1.0).contains(&p) => {
            Err(format!("probability {p} is not within 0..=1"))
        }
        _ => Ok(()),
    }
}

/// Per-rule counters: matching calls seen and whether a once-rule has retired.
#[derive(Debug, Clone, Default)]
pub(super) struct RuleState {
    matched: u64,
    fired: bool,
}

impl RuleState {
    /// Counts a matching call without deciding (another rule already fired).
    pub(super) fn count(&mut self) {
        self.matched += 1;
    }

    /// Counts a matching call and decides whether the rule fires on it.
    pub(super) fn fires<R: rand::Rng>(
        &mut self,
        trigger: &Trigger,
        persistent: bool,
        rng: &mut R,
    ) -> bool {
        self.matched += 1;
        let fire = match *trigger {
            Trigger::Nth(n) if persistent => self.matched >= n,
            Trigger::Nth(n) => self.matched == n,
            Trigger::FromNth(n) => self.matched >= n,
            Trigger::Probability(_) if self.fired && !persistent => false,
            Trigger::Probability(p) => rng.random_bool(p),
        };
        self.fired |= fire;
        fire
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn run(trigger: Trigger, persistent: bool, calls: u64) -> Vec<u64> {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        let mut state = RuleState::default();
        (1..=calls)
            .filter(|_| state.fires(&trigger, persistent, &mut rng))
            .collect::<Vec<_>>()
    }

    #[test]
    fn nth_fires_once_or_from_then_on() {
        assert_eq!(run(Trigger::Nth(3), false, 6), vec![3]);
        assert_eq!(run(Trigger::Nth(3), true, 6), vec![3, 4, 5, 6]);
        assert_eq!(run(Trigger::FromNth(5), false, 6), vec![5, 6]);
    }

    #[test]
    fn a_delay_lets_the_call_run_so_it_cannot_land_or_tear() {
        let delayed = FaultRule::new(IoOp::Sync, Trigger::Nth(1)).delayed(5);
        assert!(delayed.validate().is_ok());
        assert!(delayed.clone().landing().validate().is_err());
        let rule: FaultRule =
            toml::from_str("op = \"lock\"\ntrigger = { nth = 1 }\ndelay-ms = 40").unwrap();
        assert_eq!(rule.delay_ms, Some(40));
    }

    #[test]
    fn probability_once_retires_after_first_hit() {
        assert_eq!(run(Trigger::Probability(1.0), false, 4), vec![1]);
        assert_eq!(run(Trigger::Probability(1.0), true, 3), vec![1, 2, 3]);
        assert!(run(Trigger::Probability(0.0), true, 50).is_empty());
    }

    #[test]
    fn incompatible_pairs_are_rejected() {
        let busy_write = FaultRule::new(IoOp::Write, Trigger::Nth(1)).with_error(FaultError::Busy);
        assert!(busy_write.validate().is_err());
        let short_sync = FaultRule::new(IoOp::Sync, Trigger::Nth(1)).short_write(1);
        assert!(short_sync.validate().is_err());
        assert!(
            FaultRule::new(IoOp::Read, Trigger::Nth(0))
                .validate()
                .is_err()
        );
        let full = FaultRule::new(IoOp::Write, Trigger::Nth(1)).with_error(FaultError::Full);
        assert_eq!(full.code(), ffi::SQLITE_FULL);
        let landing_read = FaultRule::new(IoOp::Read, Trigger::Nth(1)).landing();
        assert!(landing_read.validate().is_err());
        let landing_short = FaultRule::new(IoOp::Write, Trigger::Nth(1))
            .short_write(1)
            .landing();
        assert!(landing_short.validate().is_err());
        let landing_delete = FaultRule::new(IoOp::Delete, Trigger::Nth(1)).landing();
        assert!(landing_delete.validate().is_ok());
    }

    #[test]
    fn toml_shape() {
        let rule: FaultRule = toml::from_str(
            "op = \"write\"\nfile = \"wal\"\ntrigger = { nth = 3 }\npersistent = true\nerror = \"ioerr\"",
        )
        .unwrap();
        assert_eq!(
            rule,
            FaultRule::new(IoOp::Write, Trigger::Nth(3))
                .on(FileKind::Wal)
                .persistent()
        );
        assert!(
            toml::from_str::<FaultRule>("op = \"read\"\ntrigger = { nth = 1 }\nbogus = 1").is_err()
        );
        let flip: BitFlipRule = toml::from_str("trigger = { probability = 0.5 }").unwrap();
        assert_eq!(flip.bits, 1);
    }
}
