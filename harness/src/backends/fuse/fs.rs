//! The FUSE file system ([`CachingFs`]): every request is answered from the [`CacheModel`];
//! durable state is also written to a backing directory, which therefore always holds what a
//! `drop` crash image holds. Durable mutations (writes, truncates, syncs, creates, renames,
//! unlinks, of anything but `-shm`) are counted; an armed cut fails the chosen one and every
//! request after it with `EIO` (except reads, and anything on `-shm`, which is memory), so
//! the cache is frozen as the power cut left it.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, UNIX_EPOCH};

use fuser::{
    Errno, FileAttr, FileHandle, FileType, Filesystem, FopenFlags, Generation, INodeNo, LockOwner,
    OpenFlags, RenameFlags, ReplyAttr, ReplyCreate, ReplyData, ReplyDirectory, ReplyEmpty,
    ReplyEntry, ReplyOpen, ReplyWrite, Request, TimeOrNow, WriteFlags,
};

use super::model::{CacheError, CacheModel, Durable, Ino, NodeKind, is_shm};

/// How long the kernel may cache entries and attributes: every change goes through this mount,
/// so the kernel's copy never goes stale.
const TTL: Duration = Duration::from_secs(60);

/// The cache, the mutation count and the cut, shared by the file system and its controller.
#[derive(Debug, Default)]
pub struct CacheState {
    /// Every inode's current and durable state.
    pub model: CacheModel,
    /// Durable mutations so far (the cut one included).
    pub mutations: u64,
    /// Cut before this durable mutation (1-based), if armed.
    pub armed: Option<u64>,
    /// Whether the power has been cut.
    pub cut: bool,
    /// The first error writing the backing directory, if any.
    pub backing_error: Option<String>,
}

/// The shared handle to a mount's cache state.
pub type SharedState = Arc<Mutex<CacheState>>;

/// Locks `state`, surviving a poisoned lock (a panicking request thread).
pub fn lock(state: &SharedState) -> MutexGuard<'_, CacheState> {
    state.lock().unwrap_or_else(|p| p.into_inner())
}

/// The FUSE file system over the shared cache and a backing directory.
pub struct CachingFs {
    state: SharedState,
    backing: PathBuf,
}

impl CachingFs {
    /// A file system over `state`, persisting durable state below `backing` (must exist).
    pub fn new(state: SharedState, backing: PathBuf) -> CachingFs {
        CachingFs { state, backing }
    }

    fn state(&self) -> MutexGuard<'_, CacheState> {
        lock(&self.state)
    }
}

fn errno(error: CacheError) -> Errno {
    match error {
        CacheError::NotFound => Errno::ENOENT,
        CacheError::Exists => Errno::EEXIST,
        CacheError::NotDir => Errno::ENOTDIR,
        CacheError::IsDir => Errno::EISDIR,
        CacheError::NotEmpty => Errno::ENOTEMPTY,
    }
}

fn attr(model: &CacheModel, ino: Ino) -> Option<FileAttr> {
    let kind = model.kind(ino)?;
    let size = model.len(ino);
    Some(FileAttr {
        ino: INodeNo(ino),
        size,
        blocks: size.div_ceil(512),
        atime: UNIX_EPOCH,
        mtime: UNIX_EPOCH,
        ctime: UNIX_EPOCH,
        crtime: UNIX_EPOCH,
        kind: match kind {
            NodeKind::File => FileType::RegularFile,
            NodeKind::Dir => FileType::Directory,
        },
        perm: match kind {
            NodeKind::File => 0o644,
            NodeKind::Dir => 0o755,
        },
        nlink: match kind {
            NodeKind::File => 1,
            NodeKind::Dir => 2,
        },
        uid: 0,
        gid: 0,
        rdev: 0,
        blksize: 4096,
        flags: 0,
    })
}

impl CacheState {
    /// Counts one durable mutation; `Err(EIO)` when the power is (or now goes) out.
    fn mutate(&mut self) -> Result<(), Errno> {
        if self.cut {
            return Err(Errno::EIO);
        }
        self.mutations += 1;
        if self.armed == Some(self.mutations) {
            self.cut = true;
            return Err(Errno::EIO);
        }
        Ok(())
    }

    /// `Err(EIO)` once the power is out (every request fails, as in the fault VFS).
    fn alive(&self) -> Result<(), Errno> {
        if self.cut { Err(Errno::EIO) } else { Ok(()) }
    }

    /// Counts a mutation unless it touches SQLite's shared-memory index, which is memory, not
    /// disk: it keeps working after the cut (a mapped `-shm` page that failed to load would
    /// kill the process with `SIGBUS`, which the fault VFS's real mapping never does).
    fn mutate_unless_shm(&mut self, name: Option<&OsStr>) -> Result<(), Errno> {
        match name {
            Some(name) if is_shm(name) => Ok(()),
            _ => self.mutate(),
        }
    }

    /// `Err(EIO)` once the power is out, except for the shared-memory index.
    fn alive_unless_shm(&self, ino: Ino) -> Result<(), Errno> {
        if self.name_of(ino).is_some_and(|name| is_shm(&name)) {
            Ok(())
        } else {
            self.alive()
        }
    }

    /// The name of `ino` in its current directory, for the shm test.
    fn name_of(&self, ino: Ino) -> Option<std::ffi::OsString> {
        self.model
            .durable_paths(ino)
            .first()
            .and_then(|p| p.file_name().map(OsStr::to_owned))
            .or_else(|| self.current_name(ino))
    }

    fn current_name(&self, ino: Ino) -> Option<std::ffi::OsString> {
        let mut stack = vec![super::model::ROOT];
        while let Some(dir) = stack.pop() {
            for (name, child) in self.model.entries(dir).ok()? {
                if child == ino {
                    return Some(name);
                }
                if self.model.kind(child) == Some(NodeKind::Dir) {
                    stack.push(child);
                }
            }
        }
        None
    }

    /// Writes the durable state of `ino` (a synced file, or a synced directory's entries) to
    /// the backing directory, so it mirrors a `drop` image.
    fn persist(&mut self, backing: &Path, ino: Ino) {
        if let Err(e) = persist(&self.model, backing, ino) {
            self.backing_error.get_or_insert_with(|| e.to_string());
        }
    }
}

fn persist(model: &CacheModel, backing: &Path, ino: Ino) -> std::io::Result<()> {
    for path in model.durable_paths(ino) {
        let target = backing.join(&path);
        match model.durable(ino) {
            Some(Durable::File(bytes)) => std::fs::write(&target, bytes)?,
            Some(Durable::Dir(entries)) => {
                std::fs::create_dir_all(&target)?;
                for stale in std::fs::read_dir(&target)? {
                    let stale = stale?;
                    if !entries.contains_key(&stale.file_name()) {
                        let p = stale.path();
                        if p.is_dir() {
                            std::fs::remove_dir_all(p)?;
                        } else {
                            std::fs::remove_file(p)?;
                        }
                    }
                }
                for child in entries.values() {
                    persist(model, backing, *child)?;
                }
            }
            None => {}
        }
    }
    Ok(())
}

impl Filesystem for CachingFs {
    fn lookup(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEntry) {
        let st = self.state();
        if let Err(e) = st.alive() {
            return reply.error(e);
        }
        match st
            .model
            .lookup(parent.0, name)
            .and_then(|ino| attr(&st.model, ino))
        {
            Some(a) => reply.entry(&TTL, &a, Generation(0)),
            None => reply.error(Errno::ENOENT),
        }
    }

    fn getattr(&self, _req: &Request, ino: INodeNo, _fh: Option<FileHandle>, reply: ReplyAttr) {
        let st = self.state();
        match attr(&st.model, ino.0) {
            Some(a) => reply.attr(&TTL, &a),
            None => reply.error(Errno::ENOENT),
        }
    }

    fn setattr(
        &self,
        _req: &Request,
        ino: INodeNo,
        _mode: Option<u32>,
        _uid: Option<u32>,
        _gid: Option<u32>,
        size: Option<u64>,
        _atime: Option<TimeOrNow>,
        _mtime: Option<TimeOrNow>,
        _ctime: Option<std::time::SystemTime>,
        _fh: Option<FileHandle>,
        _crtime: Option<std::time::SystemTime>,
        _chgtime: Option<std::time::SystemTime>,
        _bkuptime: Option<std::time::SystemTime>,
        _flags: Option<fuser::BsdFileFlags>,
        reply: ReplyAttr,
    ) {
        let mut st = self.state();
        if let Some(size) = size {
            let name = st.name_of(ino.0);
            if let Err(e) = st.mutate_unless_shm(name.as_deref()) {
                return reply.error(e);
            }
            if let Err(e) = st.model.truncate(ino.0, size) {
                return reply.error(errno(e));
            }
        } else if let Err(e) = st.alive_unless_shm(ino.0) {
            return reply.error(e);
        }
        match attr(&st.model, ino.0) {
            Some(a) => reply.attr(&TTL, &a),
            None => reply.error(Errno::ENOENT),
        }
    }

    fn mkdir(
        &self,
        _req: &Request,
        parent: INodeNo,
        name: &OsStr,
        _mode: u32,
        _umask: u32,
        reply: ReplyEntry,
    ) {
        let mut st = self.state();
        if let Err(e) = st.mutate() {
            return reply.error(e);
        }
        match st.model.create(parent.0, name, NodeKind::Dir) {
            Ok(ino) => reply.entry(&TTL, &attr(&st.model, ino).expect("made"), Generation(0)),
            Err(e) => reply.error(errno(e)),
        }
    }

    fn unlink(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEmpty) {
        let mut st = self.state();
        if let Err(e) = st.mutate_unless_shm(Some(name)) {
            return reply.error(e);
        }
        match st.model.remove(parent.0, name, false) {
            Ok(()) => reply.ok(),
            Err(e) => reply.error(errno(e)),
        }
    }

    fn rmdir(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEmpty) {
        let mut st = self.state();
        if let Err(e) = st.mutate() {
            return reply.error(e);
        }
        match st.model.remove(parent.0, name, true) {
            Ok(()) => reply.ok(),
            Err(e) => reply.error(errno(e)),
        }
    }

    fn rename(
        &self,
        _req: &Request,
        parent: INodeNo,
        name: &OsStr,
        newparent: INodeNo,
        newname: &OsStr,
        flags: RenameFlags,
        reply: ReplyEmpty,
    ) {
        if !flags.is_empty() {
            return reply.error(Errno::EINVAL);
        }
        let mut st = self.state();
        if let Err(e) = st.mutate() {
            return reply.error(e);
        }
        match st.model.rename(parent.0, name, newparent.0, newname) {
            Ok(()) => reply.ok(),
            Err(e) => reply.error(errno(e)),
        }
    }

    fn open(&self, _req: &Request, ino: INodeNo, flags: OpenFlags, reply: ReplyOpen) {
        let mut st = self.state();
        if let Err(e) = st.alive_unless_shm(ino.0) {
            return reply.error(e);
        }
        if flags.0 & nix::libc::O_TRUNC != 0 && st.model.len(ino.0) > 0 {
            let name = st.name_of(ino.0);
            if let Err(e) = st.mutate_unless_shm(name.as_deref()) {
                return reply.error(e);
            }
            if let Err(e) = st.model.truncate(ino.0, 0) {
                return reply.error(errno(e));
            }
        }
        reply.opened(FileHandle(0), FopenFlags::empty());
    }

    fn read(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        offset: u64,
        size: u32,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        reply: ReplyData,
    ) {
        // Reads keep working after the cut: they change nothing durable, and a memory-mapped
        // page (SQLite's `mmap_size`, the `-shm` index) that failed to load would kill the
        // process with `SIGBUS` instead of failing the operation.
        let st = self.state();
        match st.model.read(ino.0, offset, size) {
            Ok(bytes) => reply.data(bytes),
            Err(e) => reply.error(errno(e)),
        }
    }

    fn write(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        offset: u64,
        data: &[u8],
        _write_flags: WriteFlags,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        reply: ReplyWrite,
    ) {
        let mut st = self.state();
        let name = st.name_of(ino.0);
        if let Err(e) = st.mutate_unless_shm(name.as_deref()) {
            return reply.error(e);
        }
        match st.model.write(ino.0, offset, data) {
            Ok(()) => reply.written(data.len() as u32),
            Err(e) => reply.error(errno(e)),
        }
    }

    fn flush(
        &self,
        _req: &Request,
        _ino: INodeNo,
        _fh: FileHandle,
        _lock_owner: LockOwner,
        reply: ReplyEmpty,
    ) {
        reply.ok();
    }

    fn fsync(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        _datasync: bool,
        reply: ReplyEmpty,
    ) {
        let mut st = self.state();
        let name = st.name_of(ino.0);
        if let Err(e) = st.mutate_unless_shm(name.as_deref()) {
            return reply.error(e);
        }
        match st.model.sync(ino.0) {
            Ok(()) => {
                st.persist(&self.backing, ino.0);
                reply.ok()
            }
            Err(e) => reply.error(errno(e)),
        }
    }

    fn readdir(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        offset: u64,
        mut reply: ReplyDirectory,
    ) {
        let st = self.state();
        if let Err(e) = st.alive() {
            return reply.error(e);
        }
        let entries = match st.model.entries(ino.0) {
            Ok(entries) => entries,
            Err(e) => return reply.error(errno(e)),
        };
        let dots = [(".".into(), ino.0), ("..".into(), ino.0)];
        for (i, (name, child)) in dots
            .into_iter()
            .chain(entries)
            .enumerate()
            .skip(offset as usize)
        {
            let kind = match st.model.kind(child) {
                Some(NodeKind::Dir) => FileType::Directory,
                _ => FileType::RegularFile,
            };
            if reply.add(INodeNo(child), (i + 1) as u64, kind, &name) {
                break;
            }
        }
        reply.ok();
    }

    fn fsyncdir(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        _datasync: bool,
        reply: ReplyEmpty,
    ) {
        let mut st = self.state();
        if let Err(e) = st.mutate() {
            return reply.error(e);
        }
        match st.model.sync(ino.0) {
            Ok(()) => {
                st.persist(&self.backing, ino.0);
                reply.ok()
            }
            Err(e) => reply.error(errno(e)),
        }
    }

    fn access(&self, _req: &Request, ino: INodeNo, _mask: fuser::AccessFlags, reply: ReplyEmpty) {
        let st = self.state();
        match st.model.kind(ino.0) {
            Some(_) => reply.ok(),
            None => reply.error(Errno::ENOENT),
        }
    }

    fn create(
        &self,
        _req: &Request,
        parent: INodeNo,
        name: &OsStr,
        _mode: u32,
        _umask: u32,
        _flags: i32,
        reply: ReplyCreate,
    ) {
        let mut st = self.state();
        if let Err(e) = st.mutate_unless_shm(Some(name)) {
            return reply.error(e);
        }
        match st.model.create(parent.0, name, NodeKind::File) {
            Ok(ino) => reply.created(
                &TTL,
                &attr(&st.model, ino).expect("made"),
                Generation(0),
                FileHandle(0),
                FopenFlags::empty(),
            ),
            Err(e) => reply.error(errno(e)),
        }
    }
}
