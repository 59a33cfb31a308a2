//! Safe handles on what SQLite and the wrapped VFS pass to a call: the
//! wrapped VFS and file, the open request, file-control arguments, shared
//! memory regions and mapped pages. Only this crate makes them (from
//! pointers that are valid per the crate's safety invariants); the hooks
//! can use them or forward them, never forge them.

use std::borrow::Cow;
use std::cell::Cell;
use std::ffi::{CStr, c_char, c_int, c_void};
use std::marker::PhantomData;
use std::ops::{Deref, DerefMut};
use std::ptr;

use rusqlite::ffi;

use crate::trampolines::Header;
use crate::{Code, into_result};

/// The VFS a registered shim wraps.
#[derive(Debug)]
pub struct RealVfs {
    vfs: *mut ffi::sqlite3_vfs,
}

impl RealVfs {
    /// # Safety
    /// `vfs` must be a registered VFS (which lives until exit).
    #[inline]
    pub(crate) unsafe fn new(vfs: *mut ffi::sqlite3_vfs) -> RealVfs {
        RealVfs { vfs }
    }

    #[inline]
    fn methods(&self) -> &ffi::sqlite3_vfs {
        // SAFETY: a registered VFS lives until exit (invariant 1).
        unsafe { &*self.vfs }
    }

    /// `xDelete` of `path`, syncing the directory if `sync_dir`.
    #[inline]
    pub fn delete(&self, path: &CStr, sync_dir: bool) -> Result<(), Code> {
        let x_delete = self.methods().xDelete.ok_or(ffi::SQLITE_IOERR_DELETE)?;
        // SAFETY: a live VFS and a NUL-terminated path.
        into_result(unsafe { x_delete(self.vfs, path.as_ptr(), c_int::from(sync_dir)) })
    }

    /// `xAccess`: whether `path` passes the `SQLITE_ACCESS_*` check `flags`.
    #[inline]
    pub fn access(&self, path: &CStr, flags: c_int) -> Result<bool, Code> {
        let x_access = self.methods().xAccess.ok_or(ffi::SQLITE_IOERR_ACCESS)?;
        let mut answer: c_int = 0;
        // SAFETY: a live VFS, a NUL-terminated path and a valid out pointer.
        into_result(unsafe { x_access(self.vfs, path.as_ptr(), flags, &mut answer) })?;
        Ok(answer != 0)
    }
}

/// The wrapped VFS's half of an open file.
///
/// Only exists while the file is open (between a successful `xOpen` and
/// `xClose`), borrowed by one hook call.
#[derive(Debug)]
pub struct RealFile {
    file: *mut ffi::sqlite3_file,
}

#[inline]
fn length(len: usize, code: Code) -> Result<c_int, Code> {
    c_int::try_from(len).map_err(|_| code)
}

impl RealFile {
    /// # Safety
    /// `file` must be an open file of the wrapped VFS (its `pMethods` valid)
    /// that stays open while the value lives.
    #[inline]
    pub(crate) unsafe fn new(file: *mut ffi::sqlite3_file) -> RealFile {
        RealFile { file }
    }

    #[inline]
    fn methods(&self) -> &ffi::sqlite3_io_methods {
        // SAFETY: the file is open, so its methods table is valid (invariant 3).
        unsafe { &*(*self.file).pMethods }
    }

    /// Reads exactly `buf.len()` bytes at `offset` (`SQLITE_IOERR_SHORT_READ`
    /// past the end, with the rest of `buf` zeroed).
    #[inline]
    pub fn read(&mut self, buf: &mut [u8], offset: i64) -> Result<(), Code> {
        let amt = length(buf.len(), ffi::SQLITE_IOERR_READ)?;
        // SAFETY: `buf` is valid for `amt` bytes.
        into_result(unsafe { self.read_raw(buf.as_mut_ptr().cast(), amt, offset) })
    }

    /// `xRead` into SQLite's buffer.
    ///
    /// # Safety
    /// `buf` must be valid for writes of `amt` bytes.
    #[inline]
    pub(crate) unsafe fn read_raw(&mut self, buf: *mut c_void, amt: c_int, offset: i64) -> Code {
        match self.methods().xRead {
            // SAFETY: an open file; the caller vouches for the buffer.
            Some(x_read) => unsafe { x_read(self.file, buf, amt, offset) },
            None => ffi::SQLITE_IOERR_READ,
        }
    }

    /// Writes `data` at `offset`.
    #[inline]
    pub fn write(&mut self, data: &[u8], offset: i64) -> Result<(), Code> {
        let x_write = self.methods().xWrite.ok_or(ffi::SQLITE_IOERR_WRITE)?;
        let amt = length(data.len(), ffi::SQLITE_IOERR_WRITE)?;
        // SAFETY: an open file; `data` is valid for `amt` bytes.
        into_result(unsafe { x_write(self.file, data.as_ptr().cast(), amt, offset) })
    }

    /// Truncates (or extends) the file to `size` bytes.
    #[inline]
    pub fn truncate(&mut self, size: i64) -> Result<(), Code> {
        let x_truncate = self.methods().xTruncate.ok_or(ffi::SQLITE_IOERR_TRUNCATE)?;
        // SAFETY: an open file.
        into_result(unsafe { x_truncate(self.file, size) })
    }

    /// Syncs the file with SQLite's sync `flags`.
    #[inline]
    pub fn sync(&mut self, flags: c_int) -> Result<(), Code> {
        let x_sync = self.methods().xSync.ok_or(ffi::SQLITE_IOERR_FSYNC)?;
        // SAFETY: an open file.
        into_result(unsafe { x_sync(self.file, flags) })
    }

    /// The file's size in bytes.
    #[inline]
    pub fn file_size(&mut self) -> Result<i64, Code> {
        let x_file_size = self.methods().xFileSize.ok_or(ffi::SQLITE_IOERR_FSTAT)?;
        let mut size = 0i64;
        // SAFETY: an open file and a valid out pointer.
        into_result(unsafe { x_file_size(self.file, &mut size) })?;
        Ok(size)
    }

    /// Takes the lock `level` (`SQLITE_LOCK_*`).
    #[inline]
    pub fn lock(&mut self, level: c_int) -> Result<(), Code> {
        let x_lock = self.methods().xLock.ok_or(ffi::SQLITE_IOERR_LOCK)?;
        // SAFETY: an open file.
        into_result(unsafe { x_lock(self.file, level) })
    }

    /// Lowers the lock to `level`.
    #[inline]
    pub fn unlock(&mut self, level: c_int) -> Result<(), Code> {
        let x_unlock = self.methods().xUnlock.ok_or(ffi::SQLITE_IOERR_UNLOCK)?;
        // SAFETY: an open file.
        into_result(unsafe { x_unlock(self.file, level) })
    }

    /// Whether any connection holds a RESERVED lock on the file.
    #[inline]
    pub fn check_reserved_lock(&mut self) -> Result<bool, Code> {
        let x_check = self
            .methods()
            .xCheckReservedLock
            .ok_or(ffi::SQLITE_IOERR_CHECKRESERVEDLOCK)?;
        let mut reserved: c_int = 0;
        // SAFETY: an open file and a valid out pointer.
        into_result(unsafe { x_check(self.file, &mut reserved) })?;
        Ok(reserved != 0)
    }

    /// Forwards SQLite's file control (`SQLITE_NOTFOUND` if the wrapped file has none).
    #[inline]
    pub fn file_control(&mut self, control: &mut FileControl<'_>) -> Result<(), Code> {
        let x_file_control = self.methods().xFileControl.ok_or(ffi::SQLITE_NOTFOUND)?;
        // SAFETY: an open file; the opcode and argument are SQLite's, valid for this call.
        into_result(unsafe { x_file_control(self.file, control.op, control.arg) })
    }

    /// The sector size (4096 if the wrapped file does not say).
    #[inline]
    pub fn sector_size(&mut self) -> c_int {
        match self.methods().xSectorSize {
            // SAFETY: an open file.
            Some(x_sector_size) => unsafe { x_sector_size(self.file) },
            None => 4096,
        }
    }

    /// The `SQLITE_IOCAP_*` bits (none if the wrapped file does not say).
    #[inline]
    pub fn device_characteristics(&mut self) -> c_int {
        match self.methods().xDeviceCharacteristics {
            // SAFETY: an open file.
            Some(x_device_characteristics) => unsafe { x_device_characteristics(self.file) },
            None => 0,
        }
    }

    /// Maps shared-memory `region` of `size` bytes, creating it if `extend`.
    #[inline]
    pub fn shm_map(&mut self, region: c_int, size: c_int, extend: bool) -> ShmRegion<'_> {
        let Some(x_shm_map) = self.methods().xShmMap else {
            return ShmRegion::refused(ffi::SQLITE_IOERR_SHMMAP);
        };
        let mut mapped: *mut c_void = ptr::null_mut();
        // SAFETY: an open file and a valid out pointer.
        let rc = unsafe { x_shm_map(self.file, region, size, c_int::from(extend), &mut mapped) };
        ShmRegion {
            mapped,
            rc,
            _file: PhantomData,
        }
    }

    /// Takes or releases shared-memory locks.
    #[inline]
    pub fn shm_lock(&mut self, offset: c_int, n: c_int, flags: c_int) -> Result<(), Code> {
        let x_shm_lock = self.methods().xShmLock.ok_or(ffi::SQLITE_IOERR_SHMLOCK)?;
        // SAFETY: an open file.
        into_result(unsafe { x_shm_lock(self.file, offset, n, flags) })
    }

    /// A memory barrier on the shared memory.
    #[inline]
    pub fn shm_barrier(&mut self) {
        if let Some(x_shm_barrier) = self.methods().xShmBarrier {
            // SAFETY: an open file.
            unsafe { x_shm_barrier(self.file) }
        }
    }

    /// Unmaps the shared memory, deleting it if `delete`.
    #[inline]
    pub fn shm_unmap(&mut self, delete: bool) -> Result<(), Code> {
        let Some(x_shm_unmap) = self.methods().xShmUnmap else {
            return Ok(());
        };
        // SAFETY: an open file.
        into_result(unsafe { x_shm_unmap(self.file, c_int::from(delete)) })
    }

    /// Maps `amt` bytes at `offset`; [`Fetched::none`] when the wrapped file cannot map.
    #[inline]
    pub fn fetch(&mut self, offset: i64, amt: c_int) -> Fetched<'_> {
        let methods = self.methods();
        let (true, Some(x_fetch)) = (methods.iVersion >= 3, methods.xFetch) else {
            return Fetched::none();
        };
        let mut page: *mut c_void = ptr::null_mut();
        // SAFETY: an open file of a version-3 VFS and a valid out pointer.
        let rc = unsafe { x_fetch(self.file, offset, amt, &mut page) };
        Fetched {
            page,
            rc,
            _file: PhantomData,
        }
    }

    /// Releases a page [`RealFile::fetch`] handed out.
    #[inline]
    pub fn unfetch(&mut self, offset: i64, page: FetchedPage<'_>) -> Result<(), Code> {
        let methods = self.methods();
        let (true, Some(x_unfetch)) = (methods.iVersion >= 3, methods.xUnfetch) else {
            return Ok(());
        };
        // SAFETY: an open file of a version-3 VFS; the page is one SQLite got from it (or NULL).
        into_result(unsafe { x_unfetch(self.file, offset, page.page) })
    }

    /// `xClose`, once.
    ///
    /// # Safety
    /// The file must not be used afterwards.
    #[inline]
    unsafe fn close_once(&mut self) -> Code {
        match self.methods().xClose {
            // SAFETY: an open file, closed once per the caller's contract.
            Some(x_close) => unsafe { x_close(self.file) },
            None => ffi::SQLITE_OK,
        }
    }
}

/// The wrapped file while `xClose` runs: usable as a [`RealFile`] until
/// [`ClosingFile::close`], closed on drop if the hook did not close it.
#[derive(Debug)]
pub struct ClosingFile<'a> {
    real: RealFile,
    closed: bool,
    _call: PhantomData<&'a mut ()>,
}

impl ClosingFile<'_> {
    /// # Safety
    /// As [`RealFile::new`]; nothing may use the file after this value.
    #[inline]
    pub(crate) unsafe fn new(file: *mut ffi::sqlite3_file) -> Self {
        ClosingFile {
            // SAFETY: per the caller's contract.
            real: unsafe { RealFile::new(file) },
            closed: false,
            _call: PhantomData,
        }
    }

    /// Closes the wrapped file.
    #[inline]
    pub fn close(mut self) -> Result<(), Code> {
        self.closed = true;
        // SAFETY: `self` is consumed, so nothing uses the file afterwards.
        into_result(unsafe { self.real.close_once() })
    }
}

impl Deref for ClosingFile<'_> {
    type Target = RealFile;

    #[inline]
    fn deref(&self) -> &RealFile {
        &self.real
    }
}

impl DerefMut for ClosingFile<'_> {
    #[inline]
    fn deref_mut(&mut self) -> &mut RealFile {
        &mut self.real
    }
}

impl Drop for ClosingFile<'_> {
    #[inline]
    fn drop(&mut self) {
        if !self.closed {
            // SAFETY: dropped, so nothing uses the file afterwards.
            unsafe { self.real.close_once() };
        }
    }
}

/// What SQLite asks `xOpen` to open.
#[derive(Debug)]
pub struct OpenRequest<'a, F> {
    name: ffi::sqlite3_filename,
    flags: c_int,
    methods: *const ffi::sqlite3_io_methods,
    _call: PhantomData<&'a F>,
}

impl<'a, F> OpenRequest<'a, F> {
    /// # Safety
    /// `name` is NULL or SQLite's NUL-terminated name for this `xOpen`;
    /// `methods` is the methods table of the registration whose files carry
    /// a `Header<F>`.
    #[inline]
    pub(crate) unsafe fn new(
        name: ffi::sqlite3_filename,
        flags: c_int,
        methods: *const ffi::sqlite3_io_methods,
    ) -> Self {
        OpenRequest {
            name,
            flags,
            methods,
            _call: PhantomData,
        }
    }

    /// The file's full path; `None` for a temporary file SQLite names itself.
    #[inline]
    pub fn name(&self) -> Option<&'a CStr> {
        // SAFETY: a non-NULL name is NUL-terminated and outlives the xOpen call.
        (!self.name.is_null()).then(|| unsafe { CStr::from_ptr(self.name) })
    }

    /// SQLite's `SQLITE_OPEN_*` flags.
    #[inline]
    pub fn flags(&self) -> c_int {
        self.flags
    }

    /// For a WAL or main journal: the hooks of its main database file, when
    /// that file was opened (and wrapped) through this same registration.
    #[inline]
    pub fn main_database(&self) -> Option<&'a F> {
        let belongs = ffi::SQLITE_OPEN_WAL | ffi::SQLITE_OPEN_MAIN_JOURNAL;
        if self.flags & belongs == 0 || self.name.is_null() {
            return None;
        }
        // SAFETY: SQLite names a WAL or main journal from its pager, which
        // sqlite3_database_file_object maps back to the open database file.
        let db = unsafe { ffi::sqlite3_database_file_object(self.name) };
        // SAFETY: `db` is NULL or the open main database file, which stays
        // open during this xOpen; our table there means it starts with a
        // live `Header<F>` (invariants 3 and 4).
        unsafe {
            if db.is_null() || !ptr::eq((*db).pMethods, self.methods) {
                return None;
            }
            (*db.cast::<Header<F>>()).hooks.as_ref()
        }
    }
}

/// Opens the wrapped file of the `xOpen` in progress; see [`crate::VfsHooks::open`].
#[derive(Debug)]
pub struct RealOpen<'a> {
    vfs: *mut ffi::sqlite3_vfs,
    name: ffi::sqlite3_filename,
    file: *mut ffi::sqlite3_file,
    flags: c_int,
    out_flags: *mut c_int,
    opened: &'a Cell<bool>,
}

impl<'a> RealOpen<'a> {
    /// # Safety
    /// `vfs` is the registered wrapped VFS; `name`, `flags` and `out_flags`
    /// are SQLite's for this `xOpen`; `file` points to the wrapped VFS's
    /// `szOsFile` bytes with a NULL `pMethods`.
    #[inline]
    pub(crate) unsafe fn new(
        vfs: *mut ffi::sqlite3_vfs,
        name: ffi::sqlite3_filename,
        file: *mut ffi::sqlite3_file,
        flags: c_int,
        out_flags: *mut c_int,
        opened: &'a Cell<bool>,
    ) -> Self {
        RealOpen {
            vfs,
            name,
            file,
            flags,
            out_flags,
            opened,
        }
    }

    /// Opens the wrapped file with SQLite's name and flags.
    #[inline]
    pub fn open(self) -> Result<(), Code> {
        // SAFETY: a registered VFS lives until exit.
        let Some(x_open) = (unsafe { (*self.vfs).xOpen }) else {
            return Err(ffi::SQLITE_CANTOPEN);
        };
        // SAFETY: per the constructor's contract; `self` is consumed, so this runs once.
        let rc = unsafe { x_open(self.vfs, self.name, self.file, self.flags, self.out_flags) };
        self.opened.set(rc == ffi::SQLITE_OK);
        into_result(rc)
    }
}

/// SQLite's `xFileControl` request: an opcode and its argument.
#[derive(Debug)]
pub struct FileControl<'a> {
    op: c_int,
    arg: *mut c_void,
    _call: PhantomData<&'a mut c_void>,
}

impl FileControl<'_> {
    /// # Safety
    /// `op` and `arg` are SQLite's for this `xFileControl` call.
    #[inline]
    pub(crate) unsafe fn new(op: c_int, arg: *mut c_void) -> Self {
        FileControl {
            op,
            arg,
            _call: PhantomData,
        }
    }

    /// The `SQLITE_FCNTL_*` opcode.
    #[inline]
    pub fn op(&self) -> c_int {
        self.op
    }

    /// For `SQLITE_FCNTL_PRAGMA`: the pragma being run.
    #[inline]
    pub fn pragma(&mut self) -> Option<Pragma<'_>> {
        if self.op != ffi::SQLITE_FCNTL_PRAGMA || self.arg.is_null() {
            return None;
        }
        Some(Pragma {
            args: self.arg.cast(),
            _control: PhantomData,
        })
    }
}

/// A `PRAGMA` SQLite offers the VFS first (`SQLITE_FCNTL_PRAGMA`). Answer
/// it with [`Pragma::answer`] and `Ok(())`; return `SQLITE_NOTFOUND` (or
/// forward) to let SQLite handle it.
#[derive(Debug)]
pub struct Pragma<'a> {
    /// SQLite's `char*[3]`: the result out, the name, the value (or NULL).
    args: *mut *mut c_char,
    _control: PhantomData<&'a mut c_void>,
}

impl Pragma<'_> {
    #[inline]
    fn text(&self, index: usize) -> Option<Cow<'_, str>> {
        // SAFETY: `args` is SQLite's char*[3] for this call (FileControl::pragma).
        let text = unsafe { *self.args.add(index) };
        // SAFETY: a non-NULL entry is a NUL-terminated string owned by SQLite.
        (!text.is_null()).then(|| unsafe { CStr::from_ptr(text) }.to_string_lossy())
    }

    /// The pragma's name, as written.
    #[inline]
    pub fn name(&self) -> Cow<'_, str> {
        self.text(1).unwrap_or_default()
    }

    /// The value after `=` (or in parentheses), if any.
    #[inline]
    pub fn value(&self) -> Option<Cow<'_, str>> {
        self.text(2)
    }

    /// Sets the pragma's result row to `text`.
    ///
    /// # Errors
    /// `SQLITE_NOMEM` when SQLite cannot allocate the copy.
    #[inline]
    pub fn answer(&mut self, text: &CStr) -> Result<(), Code> {
        let bytes = text.to_bytes_with_nul();
        let size = length(bytes.len(), ffi::SQLITE_NOMEM)?;
        // SAFETY: SQLite frees the result with sqlite3_free, so it comes from
        // sqlite3_malloc; the copy fits; `args[0]` is the result slot, NULL or
        // an earlier answer of ours.
        unsafe {
            let out = ffi::sqlite3_malloc(size).cast::<c_char>();
            if out.is_null() {
                return Err(ffi::SQLITE_NOMEM);
            }
            ptr::copy_nonoverlapping(bytes.as_ptr().cast::<c_char>(), out, bytes.len());
            ffi::sqlite3_free((*self.args).cast());
            *self.args = out;
        }
        Ok(())
    }
}

/// The outcome of `xShmMap`: a region (possibly with a non-OK code, as the
/// unix VFS's `SQLITE_READONLY`) or a refusal.
#[derive(Debug)]
pub struct ShmRegion<'a> {
    pub(crate) mapped: *mut c_void,
    pub(crate) rc: Code,
    _file: PhantomData<&'a mut RealFile>,
}

impl ShmRegion<'_> {
    /// No region, failing with `code`.
    #[inline]
    pub fn refused(code: Code) -> ShmRegion<'static> {
        ShmRegion {
            mapped: ptr::null_mut(),
            rc: code,
            _file: PhantomData,
        }
    }

    /// The result code SQLite gets.
    #[inline]
    pub fn code(&self) -> Code {
        self.rc
    }
}

/// The outcome of `xFetch`: a mapped page, no page (SQLite then reads with
/// `xRead`), or an error.
#[derive(Debug)]
pub struct Fetched<'a> {
    pub(crate) page: *mut c_void,
    pub(crate) rc: Code,
    _file: PhantomData<&'a mut RealFile>,
}

impl Fetched<'_> {
    /// No mapping: SQLite reads the page with `xRead` instead.
    #[inline]
    pub fn none() -> Fetched<'static> {
        Fetched::refused(ffi::SQLITE_OK)
    }

    /// No mapping, failing with `code`.
    #[inline]
    pub fn refused(code: Code) -> Fetched<'static> {
        Fetched {
            page: ptr::null_mut(),
            rc: code,
            _file: PhantomData,
        }
    }

    /// The result code SQLite gets.
    #[inline]
    pub fn code(&self) -> Code {
        self.rc
    }
}

/// A page SQLite gives back in `xUnfetch` (or "every page", as NULL).
#[derive(Debug)]
pub struct FetchedPage<'a> {
    page: *mut c_void,
    _call: PhantomData<&'a mut c_void>,
}

impl FetchedPage<'_> {
    /// # Safety
    /// `page` is SQLite's argument for this `xUnfetch` call.
    #[inline]
    pub(crate) unsafe fn new(page: *mut c_void) -> Self {
        FetchedPage {
            page,
            _call: PhantomData,
        }
    }
}
