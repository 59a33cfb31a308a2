//! The two hook traits a stacked VFS implements, in safe code. Every
//! default passes the call through to the wrapped VFS or file unchanged.

use std::ffi::{CStr, c_int};

use crate::Code;
use crate::real::{
    ClosingFile, Fetched, FetchedPage, FileControl, OpenRequest, RealFile, RealOpen, RealVfs,
    ShmRegion,
};

/// The VFS-level calls: which files to wrap, how to open them, `xDelete`
/// and `xAccess`. The other VFS calls (path names, dynamic loading,
/// randomness, sleep, time) always pass through.
///
/// One value serves every connection of the registered VFS, on any thread.
pub trait VfsHooks: Send + Sync + 'static {
    /// What the hooks keep for one wrapped open file.
    type File: FileHooks;

    /// Whether to wrap the file being opened. `false` lets the wrapped VFS
    /// open it directly: no header, no hooks, no cost per call.
    fn wraps(&self, _request: &OpenRequest<'_, Self::File>) -> bool {
        true
    }

    /// `xOpen` of a wrapped file: open the wrapped file with
    /// [`RealOpen::open`] (or refuse with an error code) and return the
    /// file's hooks. Returning `Ok` without a successful `real.open()` fails
    /// the open with `SQLITE_CANTOPEN`; on any failure a wrapped file that
    /// did open is closed again.
    fn open(
        &self,
        request: &OpenRequest<'_, Self::File>,
        real: RealOpen<'_>,
    ) -> Result<Self::File, Code>;

    /// `xDelete` of `path`; `sync_dir` asks for the directory to be synced.
    fn delete(&self, real: &RealVfs, path: &CStr, sync_dir: bool) -> Result<(), Code> {
        real.delete(path, sync_dir)
    }

    /// `xAccess`: whether `path` passes the `SQLITE_ACCESS_*` check `flags`.
    fn access(&self, real: &RealVfs, path: &CStr, flags: c_int) -> Result<bool, Code> {
        real.access(path, flags)
    }
}

/// The calls on one wrapped open file; `real` is the wrapped VFS's file.
///
/// SQLite serialises the calls on one file; state shared with other files
/// (through the [`VfsHooks`] value) needs its own synchronisation.
pub trait FileHooks: Send + Sync + Sized + 'static {
    /// `xClose`. The wrapped file is closed when `real` is dropped if the
    /// hook did not close it with [`ClosingFile::close`].
    fn close(self, real: ClosingFile<'_>) -> Result<(), Code> {
        real.close()
    }

    /// Before `xRead` of `len` bytes at `offset`; an error skips the read.
    fn before_read(&self, _real: &mut RealFile, _offset: i64, _len: usize) -> Result<(), Code> {
        Ok(())
    }

    /// After a successful `xRead`: `data` is what SQLite will get (the hook
    /// may change it); an error fails the read.
    fn after_read(&self, _real: &mut RealFile, _data: &mut [u8], _offset: i64) -> Result<(), Code> {
        Ok(())
    }

    /// `xWrite` of `data` at `offset`.
    fn write(&self, real: &mut RealFile, data: &[u8], offset: i64) -> Result<(), Code> {
        real.write(data, offset)
    }

    /// Whether `xWrite` goes to [`FileHooks::write_in_place`] with SQLite's
    /// own buffer instead of [`FileHooks::write`] (invariant 7 of the crate).
    const WRITES_IN_PLACE: bool = false;

    /// `xWrite` of `data` at `offset`, when [`FileHooks::WRITES_IN_PLACE`]:
    /// the hook may change the bytes SQLite reserves at the end of each page
    /// for VFS shims before writing them, as SQLite's `cksumvfs` writes a
    /// page's checksum into the buffer it is handed (no copy of the page).
    fn write_in_place(
        &self,
        real: &mut RealFile,
        data: &mut [u8],
        offset: i64,
    ) -> Result<(), Code> {
        self.write(real, data, offset)
    }

    /// `xTruncate` to `size` bytes.
    fn truncate(&self, real: &mut RealFile, size: i64) -> Result<(), Code> {
        real.truncate(size)
    }

    /// `xSync` with SQLite's sync `flags`.
    fn sync(&self, real: &mut RealFile, flags: c_int) -> Result<(), Code> {
        real.sync(flags)
    }

    /// `xFileSize`.
    fn file_size(&self, real: &mut RealFile) -> Result<i64, Code> {
        real.file_size()
    }

    /// `xLock` to `level`.
    fn lock(&self, real: &mut RealFile, level: c_int) -> Result<(), Code> {
        real.lock(level)
    }

    /// `xUnlock` to `level`.
    fn unlock(&self, real: &mut RealFile, level: c_int) -> Result<(), Code> {
        real.unlock(level)
    }

    /// `xCheckReservedLock`: whether any connection holds a RESERVED lock.
    fn check_reserved_lock(&self, real: &mut RealFile) -> Result<bool, Code> {
        real.check_reserved_lock()
    }

    /// `xFileControl`; `SQLITE_NOTFOUND` means "not handled".
    fn file_control(&self, real: &mut RealFile, control: &mut FileControl<'_>) -> Result<(), Code> {
        real.file_control(control)
    }

    /// `xSectorSize`.
    fn sector_size(&self, real: &mut RealFile) -> c_int {
        real.sector_size()
    }

    /// `xDeviceCharacteristics` (`SQLITE_IOCAP_*` bits).
    fn device_characteristics(&self, real: &mut RealFile) -> c_int {
        real.device_characteristics()
    }

    /// `xShmMap` of shared-memory `region` (of `size` bytes), creating it if `extend`.
    fn shm_map<'r>(
        &self,
        real: &'r mut RealFile,
        region: c_int,
        size: c_int,
        extend: bool,
    ) -> ShmRegion<'r> {
        real.shm_map(region, size, extend)
    }

    /// `xShmLock` of `n` slots from `offset` with `SQLITE_SHM_*` `flags`.
    fn shm_lock(
        &self,
        real: &mut RealFile,
        offset: c_int,
        n: c_int,
        flags: c_int,
    ) -> Result<(), Code> {
        real.shm_lock(offset, n, flags)
    }

    /// `xShmBarrier`.
    fn shm_barrier(&self, real: &mut RealFile) {
        real.shm_barrier();
    }

    /// `xShmUnmap`; `delete` asks for the shared memory to be deleted.
    fn shm_unmap(&self, real: &mut RealFile, delete: bool) -> Result<(), Code> {
        real.shm_unmap(delete)
    }

    /// `xFetch` of `amt` bytes at `offset` (only with memory mapping on, see
    /// [`crate::VfsConfig::memory_mapping`]); [`Fetched::none`] makes SQLite use `xRead`.
    fn fetch<'r>(&self, real: &'r mut RealFile, offset: i64, amt: c_int) -> Fetched<'r> {
        real.fetch(offset, amt)
    }

    /// `xUnfetch` of a page `xFetch` handed out (or of every page, see [`FetchedPage`]).
    fn unfetch(&self, real: &mut RealFile, offset: i64, page: FetchedPage<'_>) -> Result<(), Code> {
        real.unfetch(offset, page)
    }
}
