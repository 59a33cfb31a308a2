//! The [`Controller`]: what the fault VFS does. The hooks in `hooks.rs`
//! call it around every real call; it decides faults, records events and
//! counts, and keeps the power-loss model. It never touches a raw pointer:
//! real I/O reaches it through [`RealFile`] and closures.
//!
//! Pass-through cost: when no rule, bit flip or power cut is armed and
//! power loss is not tracked, every call is one relaxed atomic increment and
//! one relaxed atomic load away from the real VFS.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard};

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rusqlite::ffi;

use super::bitflip::flip_bits;
use super::events::{Counters, FaultEvent, FaultEventKind, IoCounts, bump};
use super::options::{CrashTrigger, VfsError, VfsOptions};
use super::power_loss::{
    CrashImageStats, CrashMode, ImageFiles, PowerLossModel, SECTOR, validate_mode,
};
use super::rules::{BitFlipRule, FaultRule, FileKind, IoOp, RuleState, ioerr_code};
use super::write_log::{ModelOp, WriteLog};

/// An SQLite result code.
pub(super) type Code = i32;

/// Mixed into the seed for crash images, so images do not depend on how many
/// random draws the workload consumed.
const IMAGE_SALT: u64 = 0x5EED_1A6E_C0DE_0001;

/// The real file under the shim, as seen by the controller.
pub(super) trait RealFile {
    /// Writes `data` at `offset`.
    fn write(&mut self, data: &[u8], offset: i64) -> Result<(), Code>;
    /// Truncates (or extends) the file to `size` bytes.
    fn truncate(&mut self, size: i64) -> Result<(), Code>;
    /// Syncs the file with SQLite's sync `flags`.
    fn sync(&mut self, flags: i32) -> Result<(), Code>;
    /// The file's current size.
    fn file_size(&mut self) -> Result<i64, Code>;
}

/// Calls that are not [`IoOp`]s but still fail after a power cut.
#[derive(Debug, Clone, Copy)]
pub(super) enum Call {
    Unlock,
    CheckReservedLock,
    FileSize,
    ShmLock,
    ShmUnmap,
    FileControl,
    Access,
}

impl Call {
    fn cut_code(self) -> Code {
        match self {
            Call::Unlock => ffi::SQLITE_IOERR_UNLOCK,
            Call::CheckReservedLock => ffi::SQLITE_IOERR_CHECKRESERVEDLOCK,
            Call::FileSize => ffi::SQLITE_IOERR_FSTAT,
            Call::ShmLock => ffi::SQLITE_IOERR_SHMLOCK,
            Call::ShmUnmap => ffi::SQLITE_IOERR,
            Call::FileControl => ffi::SQLITE_IOERR,
            Call::Access => ffi::SQLITE_IOERR_ACCESS,
        }
    }
}

/// What the shim knows about one open file; owned by the `sqlite3_file`.
#[derive(Debug)]
pub(super) struct OpenFile {
    kind: FileKind,
    path: Option<PathBuf>,
    name: String,
    tracked: bool,
    /// The next successful sync also syncs the directory (the unix VFS's `UNIXFILE_DIRSYNC`).
    dir_sync_pending: AtomicBool,
}

impl OpenFile {
    fn tracked_path(&self) -> Option<&Path> {
        self.path.as_deref().filter(|_| self.tracked)
    }
}

#[derive(Debug)]
struct State {
    seed: u64,
    rng: ChaCha8Rng,
    rules: Vec<(FaultRule, RuleState)>,
    flips: Vec<(BitFlipRule, RuleState)>,
    events: Vec<FaultEvent>,
    /// `(n, mutations seen since arming)` for `BeforeNthMutation(n)`.
    armed: Option<(u64, u64)>,
    model: PowerLossModel,
    /// The write log being recorded, if any.
    log: Option<Vec<(u64, ModelOp)>>,
}

/// The outcome of the checks before a call.
enum Verdict {
    /// Run the real call.
    Pass,
    /// Fail with this code (power cut).
    Refuse(Code),
    /// The rule at this index fired.
    Rule(usize),
    /// A landing rule fired: run the real call, then return this code.
    Lands(Code),
}

/// Where a call happened, for events.
struct Site<'a> {
    op: IoOp,
    file: FileKind,
    name: &'a str,
    offset: Option<i64>,
    len: Option<i64>,
}

/// Decides faults and keeps state for one registered VFS.
#[derive(Debug)]
pub(super) struct Controller {
    options: VfsOptions,
    counters: Counters,
    /// Something (rules, flips, armed or done power cut) needs the slow path.
    active: AtomicBool,
    crashed: AtomicBool,
    state: Mutex<State>,
}

fn file_name(path: Option<&Path>) -> String {
    path.and_then(Path::file_name)
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

impl Controller {
    pub(super) fn new(options: VfsOptions) -> Controller {
        Controller {
            options,
            counters: Counters::default(),
            active: AtomicBool::new(false),
            crashed: AtomicBool::new(false),
            state: Mutex::new(State {
                seed: 0,
                rng: ChaCha8Rng::seed_from_u64(0),
                rules: Vec::new(),
                flips: Vec::new(),
                events: Vec::new(),
                armed: None,
                model: PowerLossModel::default(),
                log: None,
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn slow(&self, tracked: bool) -> bool {
        tracked || self.active.load(Ordering::Relaxed)
    }

    fn refresh_active(&self, st: &State) {
        let active = !st.rules.is_empty()
            || !st.flips.is_empty()
            || st.armed.is_some()
            || self.crashed.load(Ordering::Relaxed);
        self.active.store(active, Ordering::Relaxed);
    }

    // ----- the safe API behind `FaultVfs` -----

    pub(super) fn add_rule(&self, rule: FaultRule) -> Result<(), VfsError> {
        rule.validate()?;
        let mut st = self.lock();
        st.rules.push((rule, RuleState::default()));
        self.refresh_active(&st);
        Ok(())
    }

    pub(super) fn add_bit_flip(&self, rule: BitFlipRule) -> Result<(), VfsError> {
        rule.validate()?;
        let mut st = self.lock();
        st.flips.push((rule, RuleState::default()));
        self.refresh_active(&st);
        Ok(())
    }

    pub(super) fn clear_rules(&self) {
        let mut st = self.lock();
        st.rules.clear();
        st.flips.clear();
        self.refresh_active(&st);
    }

    pub(super) fn reset(&self) {
        let mut st = self.lock();
        st.rng = ChaCha8Rng::seed_from_u64(st.seed);
        st.rules.clear();
        st.flips.clear();
        st.events.clear();
        st.armed = None;
        st.model = PowerLossModel::default();
        st.log = None;
        self.counters.reset();
        self.crashed.store(false, Ordering::Relaxed);
        self.refresh_active(&st);
    }

    pub(super) fn set_seed(&self, seed: u64) {
        let mut st = self.lock();
        st.seed = seed;
        st.rng = ChaCha8Rng::seed_from_u64(seed);
    }

    pub(super) fn arm(&self, trigger: CrashTrigger) {
        let CrashTrigger::BeforeNthMutation(n) = trigger;
        let mut st = self.lock();
        st.armed = Some((n.max(1), 0));
        self.refresh_active(&st);
    }

    pub(super) fn cut_now(&self) {
        let mut st = self.lock();
        if !self.crashed.load(Ordering::Relaxed) {
            self.cut(&mut st, None);
        }
    }

    pub(super) fn has_crashed(&self) -> bool {
        self.crashed.load(Ordering::Relaxed)
    }

    pub(super) fn events(&self) -> Vec<FaultEvent> {
        self.lock().events.clone()
    }

    pub(super) fn counts(&self) -> IoCounts {
        self.counters.snapshot()
    }

    pub(super) fn crash_image(
        &self,
        mode: CrashMode,
    ) -> Result<(ImageFiles, CrashImageStats), VfsError> {
        if !self.options.track_power_loss {
            return Err(VfsError::NotTracking);
        }
        if !self.has_crashed() {
            return Err(VfsError::NoPowerCut);
        }
        validate_mode(mode)?;
        let st = self.lock();
        let mut rng = ChaCha8Rng::seed_from_u64(st.seed ^ IMAGE_SALT);
        Ok(st.model.image(mode, &mut rng))
    }

    /// Starts recording the write log (dropping one recorded before).
    pub(super) fn record_write_log(&self) {
        self.lock().log = Some(Vec::new());
    }

    /// Stops recording and returns the log.
    pub(super) fn take_write_log(&self) -> WriteLog {
        let mut st = self.lock();
        let entries = st.log.take().unwrap_or_default();
        let mutations = self.counters.durable_mutations.load(Ordering::Relaxed);
        WriteLog::new(entries, mutations, st.seed ^ IMAGE_SALT)
    }

    /// Applies `op` to the power-loss model and, while recording, logs it tagged with the
    /// durable mutations made so far (this one included).
    fn model_op(&self, st: &mut State, op: ModelOp) {
        if let Some(log) = st.log.as_mut() {
            let tag = self.counters.durable_mutations.load(Ordering::Relaxed);
            log.push((tag, op.clone()));
        }
        op.apply(&mut st.model);
    }

    // ----- decisions -----

    fn push_event(st: &mut State, site: &Site<'_>, op: Option<IoOp>, kind: FaultEventKind) {
        let seq = st.events.len() as u64;
        st.events.push(FaultEvent {
            seq,
            op,
            file: site.file,
            path_name: site.name.to_owned(),
            offset: site.offset,
            len: site.len,
            kind,
        });
    }

    fn cut(&self, st: &mut State, site: Option<&Site<'_>>) {
        self.crashed.store(true, Ordering::Relaxed);
        st.armed = None;
        let none = Site {
            op: IoOp::Write,
            file: FileKind::Any,
            name: "",
            offset: None,
            len: None,
        };
        let op = site.map(|s| s.op);
        Self::push_event(st, site.unwrap_or(&none), op, FaultEventKind::PowerCut);
        self.refresh_active(st);
    }

    /// Counts the call and, after a cut, refuses it with `code`.
    fn refuse_if_cut(&self, code: Code) -> Result<(), Code> {
        if self.crashed.load(Ordering::Relaxed) {
            bump(&self.counters.failed_after_cut);
            Err(code)
        } else {
            Ok(())
        }
    }

    /// The index of the rule that fires on this call, if any.
    fn decide(st: &mut State, op: IoOp, file: FileKind) -> Option<usize> {
        let State { rules, rng, .. } = st;
        let mut winner = None;
        for (i, (rule, state)) in rules.iter_mut().enumerate() {
            if rule.op != op || !rule.file.matches(file) {
                continue;
            }
            if winner.is_some() {
                state.count();
            } else if state.fires(&rule.trigger, rule.persistent, rng) {
                winner = Some(i);
            }
        }
        winner
    }

    /// Power-cut check, then rule check, for a call about to execute.
    /// Records an `Error` event for a plain rule hit; short writes are left to the caller.
    fn gate_op(&self, st: &mut State, site: &Site<'_>, mutation: bool) -> Verdict {
        if let Err(rc) = self.refuse_if_cut(ioerr_code(site.op)) {
            return Verdict::Refuse(rc);
        }
        if mutation && site.file.is_durable() {
            bump(&self.counters.durable_mutations);
        }
        if mutation
            && site.file.is_durable()
            && let Some((n, seen)) = st.armed.as_mut()
        {
            *seen += 1;
            if *seen >= *n {
                self.cut(st, Some(site));
                bump(&self.counters.failed_after_cut);
                return Verdict::Refuse(ioerr_code(site.op));
            }
        }
        let Some(i) = Self::decide(st, site.op, site.file) else {
            return Verdict::Pass;
        };
        let rule = &st.rules[i].0;
        if let Some(ms) = rule.delay_ms {
            Self::push_event(st, site, Some(site.op), FaultEventKind::Delayed { ms });
            std::thread::sleep(std::time::Duration::from_millis(ms));
            return Verdict::Pass;
        }
        let code = rule.code();
        if rule.lands {
            Self::push_event(
                st,
                site,
                Some(site.op),
                FaultEventKind::LandedError { code },
            );
            return Verdict::Lands(code);
        }
        if rule.short_write_sectors.is_none() {
            Self::push_event(st, site, Some(site.op), FaultEventKind::Error { code });
        }
        Verdict::Rule(i)
    }

    /// [`Self::gate_op`] for calls that cannot be short: a rule hit becomes its code.
    /// `Ok(Some(code))`: run the call, then return `code` (a landing rule fired).
    fn gate_simple(
        &self,
        st: &mut State,
        site: &Site<'_>,
        mutation: bool,
    ) -> Result<Option<Code>, Code> {
        match self.gate_op(st, site, mutation) {
            Verdict::Pass => Ok(None),
            Verdict::Lands(rc) => Ok(Some(rc)),
            Verdict::Refuse(rc) => Err(rc),
            Verdict::Rule(i) => Err(st.rules[i].0.code()),
        }
    }

    /// [`Self::gate_simple`] for calls no landing rule can target (validation refuses them).
    fn gate_refusing(&self, st: &mut State, site: &Site<'_>, mutation: bool) -> Result<(), Code> {
        self.gate_simple(st, site, mutation).map(|_| ())
    }

    fn site<'a>(file: &'a OpenFile, op: IoOp, offset: Option<i64>, len: Option<i64>) -> Site<'a> {
        Site {
            op,
            file: file.kind,
            name: &file.name,
            offset,
            len,
        }
    }

    // ----- calls -----

    /// `xOpen`: `real_open` opens the real file and returns its result code.
    pub(super) fn open(
        &self,
        path: Option<&str>,
        flags: i32,
        real_open: impl FnOnce() -> Code,
    ) -> Result<OpenFile, Code> {
        bump(&self.counters.opens);
        let kind = FileKind::from_open_flags(flags);
        let path = path.map(PathBuf::from);
        let tracked = self.options.track_power_loss && kind.is_durable() && path.is_some();
        let unix_dir_sync = flags & ffi::SQLITE_OPEN_CREATE != 0
            && matches!(kind, FileKind::Wal | FileKind::Journal);
        let mut file = OpenFile {
            kind,
            name: file_name(path.as_deref()),
            path,
            tracked,
            dir_sync_pending: AtomicBool::new(unix_dir_sync),
        };
        if !self.slow(tracked) {
            return match real_open() {
                ffi::SQLITE_OK => Ok(file),
                rc => Err(rc),
            };
        }
        let mut st = self.lock();
        self.gate_refusing(&mut st, &Self::site(&file, IoOp::Open, None, None), false)?;
        let existed = file.tracked_path().is_some_and(Path::exists);
        match real_open() {
            ffi::SQLITE_OK => {}
            rc => return Err(rc),
        }
        if let Some(path) = file.tracked_path() {
            if !existed {
                // Created here: the entry is durable only after a directory sync,
                // which the first successful sync of this handle performs.
                self.model_op(
                    &mut st,
                    ModelOp::Create {
                        path: path.to_path_buf(),
                    },
                );
                file.dir_sync_pending = AtomicBool::new(true);
            } else if !st.model.is_present(path) {
                let content = std::fs::read(path).unwrap_or_default();
                let path = path.to_path_buf();
                self.model_op(&mut st, ModelOp::Adopt { path, content });
            }
        }
        Ok(file)
    }

    /// `xClose` (after the real close): refused after a cut.
    pub(super) fn close(&self) -> Code {
        bump(&self.counters.closes);
        match self.refuse_if_cut(ffi::SQLITE_IOERR_CLOSE) {
            Ok(()) => ffi::SQLITE_OK,
            Err(rc) => rc,
        }
    }

    /// `xDelete`: `real_delete` unlinks the file (and syncs the directory if asked).
    pub(super) fn delete(
        &self,
        path: &str,
        sync_dir: bool,
        real_delete: impl FnOnce() -> Code,
    ) -> Code {
        bump(&self.counters.deletes);
        let full = Path::new(path);
        let kind = FileKind::from_name(path);
        let tracked = self.options.track_power_loss && kind != FileKind::Shm;
        if !self.slow(tracked) {
            return real_delete();
        }
        let mut st = self.lock();
        let name = file_name(Some(full));
        let site = Site {
            op: IoOp::Delete,
            file: kind,
            name: &name,
            offset: None,
            len: None,
        };
        let landed = match self.gate_simple(&mut st, &site, false) {
            Ok(landed) => landed,
            Err(rc) => return rc,
        };
        if tracked && !st.model.is_present(full) && full.exists() {
            let content = std::fs::read(full).unwrap_or_default();
            let path = full.to_path_buf();
            self.model_op(&mut st, ModelOp::Adopt { path, content });
        }
        let rc = real_delete();
        if rc == ffi::SQLITE_OK && tracked {
            let path = full.to_path_buf();
            self.model_op(&mut st, ModelOp::Delete { path, sync_dir });
        }
        landed.filter(|_| rc == ffi::SQLITE_OK).unwrap_or(rc)
    }

    /// Calls with no fault rules of their own: refused after a cut, else pass.
    pub(super) fn gate(&self, call: Call) -> Result<(), Code> {
        self.refuse_if_cut(call.cut_code())
    }

    /// Before `xRead`: a rule may fail it.
    pub(super) fn before_read(&self, file: &OpenFile, offset: i64, len: usize) -> Result<(), Code> {
        bump(&self.counters.reads);
        if !self.slow(false) {
            return Ok(());
        }
        let mut st = self.lock();
        let site = Self::site(file, IoOp::Read, Some(offset), Some(len as i64));
        self.gate_refusing(&mut st, &site, false)
    }

    /// After a successful `xRead`: a bit-flip rule may corrupt the returned data.
    pub(super) fn after_read(&self, file: &OpenFile, buf: &mut [u8], offset: i64) {
        if !self.slow(false) {
            return;
        }
        let mut st = self.lock();
        let State { flips, rng, .. } = &mut *st;
        let mut bits = None;
        for (rule, state) in flips.iter_mut() {
            if !rule.file.matches(file.kind) {
                continue;
            }
            if bits.is_some() {
                state.count();
            } else if state.fires(&rule.trigger, rule.persistent, rng) {
                bits = Some(flip_bits(buf, offset, rule.bits, rng));
            }
        }
        if let Some(bits) = bits {
            let site = Self::site(file, IoOp::Read, Some(offset), Some(buf.len() as i64));
            Self::push_event(
                &mut st,
                &site,
                Some(IoOp::Read),
                FaultEventKind::BitFlip { bits },
            );
        }
    }

    /// `xWrite`, including short writes.
    pub(super) fn write(
        &self,
        file: &OpenFile,
        real: &mut dyn RealFile,
        data: &[u8],
        offset: i64,
    ) -> Code {
        bump(&self.counters.writes);
        if !self.slow(file.tracked) {
            return code(real.write(data, offset));
        }
        let mut st = self.lock();
        let site = Self::site(file, IoOp::Write, Some(offset), Some(data.len() as i64));
        let mut landed = None;
        match self.gate_op(&mut st, &site, true) {
            Verdict::Pass => {}
            Verdict::Lands(rc) => landed = Some(rc),
            Verdict::Refuse(rc) => return rc,
            Verdict::Rule(i) => {
                let rule = &st.rules[i].0;
                let rc = rule.code();
                let Some(sectors) = rule.short_write_sectors else {
                    return rc;
                };
                let kept = (sectors as usize * SECTOR as usize).min(data.len());
                if kept > 0 {
                    if let Err(real_rc) = real.write(&data[..kept], offset) {
                        return real_rc;
                    }
                    if let Some(path) = file.tracked_path() {
                        let op = ModelOp::Write {
                            path: path.to_path_buf(),
                            offset: offset as u64,
                            data: data[..kept].to_vec(),
                        };
                        self.model_op(&mut st, op);
                    }
                }
                let kept_sectors = kept.div_ceil(SECTOR as usize) as u32;
                let kind = FaultEventKind::ShortWrite {
                    kept_sectors,
                    code: rc,
                };
                Self::push_event(&mut st, &site, Some(IoOp::Write), kind);
                return rc;
            }
        }
        if let Err(rc) = real.write(data, offset) {
            return rc;
        }
        if let Some(path) = file.tracked_path() {
            let op = ModelOp::Write {
                path: path.to_path_buf(),
                offset: offset as u64,
                data: data.to_vec(),
            };
            self.model_op(&mut st, op);
        }
        landed.unwrap_or(ffi::SQLITE_OK)
    }

    /// `xSync`; with `skip_real_sync` on a tracked file only the model is synced.
    pub(super) fn sync(&self, file: &OpenFile, real: &mut dyn RealFile, flags: i32) -> Code {
        bump(&self.counters.syncs);
        if !self.slow(file.tracked) {
            return code(real.sync(flags));
        }
        let mut st = self.lock();
        let landed =
            match self.gate_simple(&mut st, &Self::site(file, IoOp::Sync, None, None), true) {
                Ok(landed) => landed,
                Err(rc) => return rc,
            };
        if !(file.tracked && self.options.skip_real_sync)
            && let Err(rc) = real.sync(flags)
        {
            return rc;
        }
        if let Some(path) = file.tracked_path() {
            let synced = ModelOp::Sync {
                path: path.to_path_buf(),
            };
            self.model_op(&mut st, synced);
            // Mirrors unixSync: the first sync of a handle flagged UNIXFILE_DIRSYNC
            // (journal/WAL opened with CREATE; here also any file the shim created)
            // fsyncs the directory.
            if file.dir_sync_pending.swap(false, Ordering::Relaxed)
                && let Some(dir) = path.parent()
            {
                let dir = dir.to_path_buf();
                self.model_op(&mut st, ModelOp::SyncDir { dir });
            }
        }
        landed.unwrap_or(ffi::SQLITE_OK)
    }

    /// `xTruncate`; the model records the size the file really has afterwards.
    pub(super) fn truncate(&self, file: &OpenFile, real: &mut dyn RealFile, size: i64) -> Code {
        bump(&self.counters.truncates);
        if !self.slow(file.tracked) {
            return code(real.truncate(size));
        }
        let mut st = self.lock();
        let site = Self::site(file, IoOp::Truncate, Some(size), None);
        let landed = match self.gate_simple(&mut st, &site, true) {
            Ok(landed) => landed,
            Err(rc) => return rc,
        };
        if let Err(rc) = real.truncate(size) {
            return rc;
        }
        if let Some(path) = file.tracked_path() {
            let actual = real.file_size().unwrap_or(size);
            let op = ModelOp::Truncate {
                path: path.to_path_buf(),
                size: actual.max(0) as u64,
            };
            self.model_op(&mut st, op);
        }
        landed.unwrap_or(ffi::SQLITE_OK)
    }

    /// `SQLITE_FCNTL_SIZE_HINT`: with mmap the unix VFS grows the file with
    /// `ftruncate` here, bypassing `xTruncate`; the model records the new size.
    pub(super) fn size_hint<R: RealFile>(
        &self,
        file: &OpenFile,
        real: &mut R,
        hint: impl FnOnce(&mut R) -> Code,
    ) -> Code {
        bump(&self.counters.size_hints);
        if !self.slow(file.tracked) {
            return hint(real);
        }
        let mut st = self.lock();
        if let Err(rc) = self.refuse_if_cut(ffi::SQLITE_IOERR_TRUNCATE) {
            return rc;
        }
        let rc = hint(real);
        if let Some(path) = file.tracked_path() {
            let before = st.model.current_len(path);
            if let Ok(after) = real.file_size()
                && before != Some(after.max(0) as u64)
            {
                let op = ModelOp::Truncate {
                    path: path.to_path_buf(),
                    size: after.max(0) as u64,
                };
                self.model_op(&mut st, op);
            }
        }
        rc
    }

    /// `xLock`: rules for `lock` may fail it (`busy` or `ioerr`).
    pub(super) fn before_lock(&self, file: &OpenFile) -> Result<(), Code> {
        bump(&self.counters.locks);
        if !self.slow(false) {
            return Ok(());
        }
        let mut st = self.lock();
        self.gate_refusing(&mut st, &Self::site(file, IoOp::Lock, None, None), false)
    }

    /// `xShmMap`: attributed to the `-shm` file.
    pub(super) fn before_shm_map(&self, file: &OpenFile, region: i64) -> Result<(), Code> {
        bump(&self.counters.shm_maps);
        if !self.slow(false) {
            return Ok(());
        }
        let mut st = self.lock();
        let name = format!("{}-shm", file.name);
        let site = Site {
            op: IoOp::ShmMap,
            file: FileKind::Shm,
            name: &name,
            offset: Some(region),
            len: None,
        };
        self.gate_refusing(&mut st, &site, false)
    }

    /// `xFetch`.
    pub(super) fn before_fetch(&self, file: &OpenFile, offset: i64, len: i64) -> Result<(), Code> {
        bump(&self.counters.fetches);
        if !self.slow(false) {
            return Ok(());
        }
        let mut st = self.lock();
        self.gate_refusing(
            &mut st,
            &Self::site(file, IoOp::Fetch, Some(offset), Some(len)),
            false,
        )
    }
}

fn code(result: Result<(), Code>) -> Code {
    match result {
        Ok(()) => ffi::SQLITE_OK,
        Err(rc) => rc,
    }
}
