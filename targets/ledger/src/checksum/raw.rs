//! All the unsafe code of the checksum VFS: the leaked `sqlite3_vfs`, the
//! static `sqlite3_io_methods`, the `extern "C"` trampolines, and the two
//! connection-level calls (reserve bytes, release memory).
//!
//! Each trampoline runs inside [`guard`] (`catch_unwind`: a panic becomes
//! `SQLITE_IOERR` and never crosses FFI) and hands safe slices to
//! [`ChecksumFile`]. Files other than main databases and WALs (journals,
//! temp files) are opened directly by the VFS underneath, without our header,
//! so they cost nothing.
//!
//! Layout of our `sqlite3_file`: a [`ShimFile`] header (rounded up to 16
//! bytes) followed by the underlying VFS's file. `xOpen` leaves `pMethods`
//! NULL until the underlying open succeeded.

use std::ffi::{CStr, CString, c_char, c_int, c_void};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::ptr;
use std::sync::{Arc, Mutex};

use rusqlite::{Connection, ffi};

use super::ChecksumError;
use super::file::{ChecksumFile, Code, RealFile};

/// `pAppData` of our VFS: the VFS we stack on.
struct VfsApp {
    real: *mut ffi::sqlite3_vfs,
}

/// Our header at the start of every main-db or WAL `sqlite3_file`.
#[repr(C)]
struct ShimFile {
    base: ffi::sqlite3_file,
    handle: *mut ChecksumFile,
}

const HEADER: usize = size_of::<ShimFile>().next_multiple_of(16);

static METHODS: ffi::sqlite3_io_methods = ffi::sqlite3_io_methods {
    iVersion: 3,
    xClose: Some(x_close),
    xRead: Some(x_read),
    xWrite: Some(x_write),
    xTruncate: Some(x_truncate),
    xSync: Some(x_sync),
    xFileSize: Some(x_file_size),
    xLock: Some(x_lock),
    xUnlock: Some(x_unlock),
    xCheckReservedLock: Some(x_check_reserved_lock),
    xFileControl: Some(x_file_control),
    xSectorSize: Some(x_sector_size),
    xDeviceCharacteristics: Some(x_device_characteristics),
    xShmMap: Some(x_shm_map),
    xShmLock: Some(x_shm_lock),
    xShmBarrier: Some(x_shm_barrier),
    xShmUnmap: Some(x_shm_unmap),
    xFetch: Some(x_fetch),
    xUnfetch: Some(x_unfetch),
};

static REGISTER: Mutex<()> = Mutex::new(());

/// Registers `name` over the VFS `inner` (`None` = the default) unless a VFS
/// of that name exists already. The VFS and its name are leaked.
pub(super) fn register(name: &str, inner: Option<&str>) -> Result<(), ChecksumError> {
    let _serial = REGISTER
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let c_name = CString::new(name).map_err(|_| ChecksumError::BadName(name.to_owned()))?;
    // SAFETY: `c_name` is NUL-terminated; vfs_find may be called at any time.
    if !unsafe { ffi::sqlite3_vfs_find(c_name.as_ptr()) }.is_null() {
        return Ok(());
    }
    let c_inner = inner
        .map(|n| CString::new(n).map_err(|_| ChecksumError::BadName(n.to_owned())))
        .transpose()?;
    let inner_ptr = c_inner.as_ref().map_or(ptr::null(), |n| n.as_ptr());
    // SAFETY: NULL asks for the default VFS, otherwise a NUL-terminated name.
    let real = unsafe { ffi::sqlite3_vfs_find(inner_ptr) };
    if real.is_null() {
        return Err(ChecksumError::NoSuchVfs(
            inner.unwrap_or("<default>").to_owned(),
        ));
    }
    // SAFETY: `real` is a registered VFS; registered VFSes live until exit.
    let (real_size, max_path) = unsafe { ((*real).szOsFile, (*real).mxPathname) };
    let app = Box::into_raw(Box::new(VfsApp { real }));
    let z_name = c_name.into_raw();
    let vfs = Box::into_raw(Box::new(ffi::sqlite3_vfs {
        iVersion: 2,
        szOsFile: HEADER as c_int + real_size,
        mxPathname: max_path,
        pNext: ptr::null_mut(),
        zName: z_name,
        pAppData: app.cast(),
        xOpen: Some(x_open),
        xDelete: Some(x_delete),
        xAccess: Some(x_access),
        xFullPathname: Some(x_full_pathname),
        xDlOpen: Some(x_dl_open),
        xDlError: Some(x_dl_error),
        xDlSym: Some(x_dl_sym),
        xDlClose: Some(x_dl_close),
        xRandomness: Some(x_randomness),
        xSleep: Some(x_sleep),
        xCurrentTime: Some(x_current_time),
        xGetLastError: Some(x_get_last_error),
        xCurrentTimeInt64: Some(x_current_time_int64),
        xSetSystemCall: None,
        xGetSystemCall: None,
        xNextSystemCall: None,
    }));
    // SAFETY: `vfs` is a fully initialised, leaked sqlite3_vfs.
    let rc = unsafe { ffi::sqlite3_vfs_register(vfs, 0) };
    if rc != ffi::SQLITE_OK {
        // SAFETY: registration failed, so SQLite kept no pointer to these; we own them.
        unsafe {
            drop(Box::from_raw(vfs));
            drop(CString::from_raw(z_name));
            drop(Box::from_raw(app));
        }
        return Err(ChecksumError::Register {
            name: name.to_owned(),
            code: rc,
        });
    }
    Ok(())
}

/// `SQLITE_FCNTL_RESERVE_BYTES` on `main`: asks for `reserve` bytes per page
/// (applies when the database is created or vacuumed). Returns the previous
/// requested value.
pub(super) fn request_reserve_bytes(conn: &Connection, reserve: u8) -> Result<i32, i32> {
    let mut value: c_int = c_int::from(reserve);
    // SAFETY: the handle is live for the borrow of `conn`; the opcode takes a pointer to an int.
    let rc = unsafe {
        ffi::sqlite3_file_control(
            conn.handle(),
            c"main".as_ptr(),
            ffi::SQLITE_FCNTL_RESERVE_BYTES,
            (&raw mut value).cast(),
        )
    };
    if rc == ffi::SQLITE_OK {
        Ok(value)
    } else {
        Err(rc)
    }
}

/// `sqlite3_db_release_memory`: frees what the connection's caches can spare.
pub(crate) fn release_memory(conn: &Connection) -> i32 {
    // SAFETY: the handle is live for the borrow of `conn`; no statement is being stepped.
    unsafe { ffi::sqlite3_db_release_memory(conn.handle()) }
}

fn guard(body: impl FnOnce() -> c_int) -> c_int {
    catch_unwind(AssertUnwindSafe(body)).unwrap_or(ffi::SQLITE_IOERR)
}

fn result(rc: c_int) -> Result<(), Code> {
    if rc == ffi::SQLITE_OK {
        Ok(())
    } else {
        Err(rc)
    }
}

/// # Safety
/// `vfs` must be a VFS created by [`register`].
unsafe fn real_vfs<'a>(
    vfs: *mut ffi::sqlite3_vfs,
) -> (&'a ffi::sqlite3_vfs, *mut ffi::sqlite3_vfs) {
    // SAFETY: per the contract, pAppData is a leaked `VfsApp` whose `real` lives until exit.
    unsafe {
        let real = (*(*vfs).pAppData.cast::<VfsApp>()).real;
        (&*real, real)
    }
}

/// # Safety
/// `file` must point to `szOsFile` bytes SQLite allocated for our VFS.
unsafe fn real_of(file: *mut ffi::sqlite3_file) -> *mut ffi::sqlite3_file {
    // SAFETY: the allocation is HEADER + the underlying szOsFile bytes long.
    unsafe { file.cast::<u8>().add(HEADER).cast() }
}

/// # Safety
/// `file` must be a file our `xOpen` opened with our methods and not yet closed.
unsafe fn parts<'a>(file: *mut ffi::sqlite3_file) -> (&'a ChecksumFile, Real) {
    // SAFETY: a successful xOpen stored a live boxed ChecksumFile; xClose frees it last.
    unsafe { (&*(*file.cast::<ShimFile>()).handle, Real(real_of(file))) }
}

/// The underlying, open `sqlite3_file`; only built by [`parts`].
struct Real(*mut ffi::sqlite3_file);

impl Real {
    fn methods(&self) -> &ffi::sqlite3_io_methods {
        // SAFETY: `Real` wraps a successfully opened file; its pMethods is valid until xClose.
        unsafe { &*(*self.0).pMethods }
    }
}

impl RealFile for Real {
    fn read(&mut self, buf: &mut [u8], offset: i64) -> Result<(), Code> {
        let x_read = self.methods().xRead.ok_or(ffi::SQLITE_IOERR_READ)?;
        // SAFETY: open file; `buf` is valid for `buf.len()` bytes.
        result(unsafe { x_read(self.0, buf.as_mut_ptr().cast(), buf.len() as c_int, offset) })
    }

    fn write(&mut self, data: &[u8], offset: i64) -> Result<(), Code> {
        let x_write = self.methods().xWrite.ok_or(ffi::SQLITE_IOERR_WRITE)?;
        // SAFETY: open file; `data` is valid for `data.len()` bytes.
        result(unsafe { x_write(self.0, data.as_ptr().cast(), data.len() as c_int, offset) })
    }
}

/// The checksum state of the main database `name`'s WAL belongs to, if that
/// database was opened through a checksum VFS.
///
/// # Safety
/// `name` must be a WAL file name SQLite passed to `xOpen`.
unsafe fn database_of_wal(name: ffi::sqlite3_filename) -> Option<ChecksumFile> {
    // SAFETY: per the contract, SQLite can map this name to its database file.
    let db = unsafe { ffi::sqlite3_database_file_object(name) };
    if db.is_null() {
        return None;
    }
    // SAFETY: `db` is an open sqlite3_file; our methods mean it starts with a ShimFile.
    unsafe {
        if !ptr::eq((*db).pMethods, &METHODS) {
            return None;
        }
        let handle = (*db.cast::<ShimFile>()).handle;
        let main = handle.as_ref()?;
        let path = CStr::from_ptr(name).to_string_lossy().into_owned();
        Some(ChecksumFile::wal(path, Arc::clone(main.db_state())))
    }
}

// ----- sqlite3_vfs methods -----

unsafe extern "C" fn x_open(
    vfs: *mut ffi::sqlite3_vfs,
    name: ffi::sqlite3_filename,
    file: *mut ffi::sqlite3_file,
    flags: c_int,
    out_flags: *mut c_int,
) -> c_int {
    guard(|| {
        // SAFETY: SQLite calls xOpen on our registered VFS.
        let (real_vfs, real_ptr) = unsafe { real_vfs(vfs) };
        let Some(x_open) = real_vfs.xOpen else {
            return ffi::SQLITE_CANTOPEN;
        };
        let main = flags & ffi::SQLITE_OPEN_MAIN_DB != 0;
        let wal = flags & ffi::SQLITE_OPEN_WAL != 0;
        if !(main || wal) || name.is_null() {
            // SAFETY: the underlying VFS opens into the same (larger than needed) allocation.
            return unsafe { x_open(real_ptr, name, file, flags, out_flags) };
        }
        let shim = file.cast::<ShimFile>();
        // SAFETY: SQLite allocated szOsFile (8-aligned) bytes at `file`.
        let real = unsafe { real_of(file) };
        // SAFETY: as above; NULL pMethods means "not open" to SQLite and to us.
        unsafe {
            (*shim).base.pMethods = ptr::null();
            (*shim).handle = ptr::null_mut();
            (*real).pMethods = ptr::null();
        }
        let handle = if main {
            // SAFETY: a non-NULL name is NUL-terminated and owned by SQLite.
            let path = unsafe { CStr::from_ptr(name) }
                .to_string_lossy()
                .into_owned();
            ChecksumFile::main(path)
        } else {
            // SAFETY: SQLite passes the WAL's name, which it can map to the database file.
            match unsafe { database_of_wal(name) } {
                Some(file) => file,
                None => {
                    // SAFETY: a non-NULL name is NUL-terminated and owned by SQLite.
                    let path = unsafe { CStr::from_ptr(name) }
                        .to_string_lossy()
                        .into_owned();
                    ChecksumFile::wal(path, super::file::DbState::new())
                }
            }
        };
        // SAFETY: the underlying xOpen gets its own VFS and the bytes after our header.
        let rc = unsafe { x_open(real_ptr, name, real, flags, out_flags) };
        if rc != ffi::SQLITE_OK {
            // SAFETY: if the failed open left methods set, it expects xClose.
            unsafe {
                if let Some(methods) = (*real).pMethods.as_ref()
                    && let Some(x_close) = methods.xClose
                {
                    x_close(real);
                }
            }
            return rc;
        }
        // SAFETY: header initialised above; the underlying file is open.
        unsafe {
            (*shim).handle = Box::into_raw(Box::new(handle));
            (*shim).base.pMethods = &METHODS;
        }
        ffi::SQLITE_OK
    })
}

unsafe extern "C" fn x_delete(
    vfs: *mut ffi::sqlite3_vfs,
    name: *const c_char,
    sync_dir: c_int,
) -> c_int {
    guard(|| {
        // SAFETY: SQLite calls this on our registered VFS.
        let (real, ptr) = unsafe { real_vfs(vfs) };
        match real.xDelete {
            // SAFETY: forwarding SQLite's arguments.
            Some(f) => unsafe { f(ptr, name, sync_dir) },
            None => ffi::SQLITE_IOERR_DELETE,
        }
    })
}

unsafe extern "C" fn x_access(
    vfs: *mut ffi::sqlite3_vfs,
    name: *const c_char,
    flags: c_int,
    res_out: *mut c_int,
) -> c_int {
    guard(|| {
        // SAFETY: SQLite calls this on our registered VFS.
        let (real, ptr) = unsafe { real_vfs(vfs) };
        match real.xAccess {
            // SAFETY: forwarding SQLite's arguments.
            Some(f) => unsafe { f(ptr, name, flags, res_out) },
            None => ffi::SQLITE_IOERR_ACCESS,
        }
    })
}

unsafe extern "C" fn x_full_pathname(
    vfs: *mut ffi::sqlite3_vfs,
    name: *const c_char,
    n_out: c_int,
    z_out: *mut c_char,
) -> c_int {
    guard(|| {
        // SAFETY: SQLite calls this on our registered VFS.
        let (real, ptr) = unsafe { real_vfs(vfs) };
        match real.xFullPathname {
            // SAFETY: forwarding SQLite's arguments.
            Some(f) => unsafe { f(ptr, name, n_out, z_out) },
            None => ffi::SQLITE_CANTOPEN,
        }
    })
}

unsafe extern "C" fn x_dl_open(vfs: *mut ffi::sqlite3_vfs, name: *const c_char) -> *mut c_void {
    // SAFETY: SQLite calls this on our registered VFS.
    let (real, ptr) = unsafe { real_vfs(vfs) };
    match real.xDlOpen {
        // SAFETY: forwarding SQLite's arguments.
        Some(f) => unsafe { f(ptr, name) },
        None => ptr::null_mut(),
    }
}

unsafe extern "C" fn x_dl_error(vfs: *mut ffi::sqlite3_vfs, n: c_int, msg: *mut c_char) {
    // SAFETY: SQLite calls this on our registered VFS.
    let (real, ptr) = unsafe { real_vfs(vfs) };
    if let Some(f) = real.xDlError {
        // SAFETY: forwarding SQLite's arguments.
        unsafe { f(ptr, n, msg) }
    }
}

type DlSym = unsafe extern "C" fn(*mut ffi::sqlite3_vfs, *mut c_void, *const c_char);

unsafe extern "C" fn x_dl_sym(
    vfs: *mut ffi::sqlite3_vfs,
    handle: *mut c_void,
    symbol: *const c_char,
) -> Option<DlSym> {
    // SAFETY: SQLite calls this on our registered VFS.
    let (real, ptr) = unsafe { real_vfs(vfs) };
    // SAFETY: forwarding SQLite's arguments.
    real.xDlSym.and_then(|f| unsafe { f(ptr, handle, symbol) })
}

unsafe extern "C" fn x_dl_close(vfs: *mut ffi::sqlite3_vfs, handle: *mut c_void) {
    // SAFETY: SQLite calls this on our registered VFS.
    let (real, ptr) = unsafe { real_vfs(vfs) };
    if let Some(f) = real.xDlClose {
        // SAFETY: forwarding SQLite's arguments.
        unsafe { f(ptr, handle) }
    }
}

unsafe extern "C" fn x_randomness(vfs: *mut ffi::sqlite3_vfs, n: c_int, out: *mut c_char) -> c_int {
    // SAFETY: SQLite calls this on our registered VFS.
    let (real, ptr) = unsafe { real_vfs(vfs) };
    match real.xRandomness {
        // SAFETY: forwarding SQLite's arguments.
        Some(f) => unsafe { f(ptr, n, out) },
        None => 0,
    }
}

unsafe extern "C" fn x_sleep(vfs: *mut ffi::sqlite3_vfs, micros: c_int) -> c_int {
    // SAFETY: SQLite calls this on our registered VFS.
    let (real, ptr) = unsafe { real_vfs(vfs) };
    match real.xSleep {
        // SAFETY: forwarding SQLite's arguments.
        Some(f) => unsafe { f(ptr, micros) },
        None => 0,
    }
}

unsafe extern "C" fn x_current_time(vfs: *mut ffi::sqlite3_vfs, out: *mut f64) -> c_int {
    // SAFETY: SQLite calls this on our registered VFS.
    let (real, ptr) = unsafe { real_vfs(vfs) };
    match real.xCurrentTime {
        // SAFETY: forwarding SQLite's arguments.
        Some(f) => unsafe { f(ptr, out) },
        None => ffi::SQLITE_ERROR,
    }
}

unsafe extern "C" fn x_get_last_error(
    vfs: *mut ffi::sqlite3_vfs,
    n: c_int,
    out: *mut c_char,
) -> c_int {
    // SAFETY: SQLite calls this on our registered VFS.
    let (real, ptr) = unsafe { real_vfs(vfs) };
    match real.xGetLastError {
        // SAFETY: forwarding SQLite's arguments.
        Some(f) => unsafe { f(ptr, n, out) },
        None => 0,
    }
}

unsafe extern "C" fn x_current_time_int64(
    vfs: *mut ffi::sqlite3_vfs,
    out: *mut ffi::sqlite3_int64,
) -> c_int {
    // SAFETY: SQLite calls this on our registered VFS.
    let (real, ptr) = unsafe { real_vfs(vfs) };
    match real.xCurrentTimeInt64 {
        // SAFETY: forwarding SQLite's arguments.
        Some(f) => unsafe { f(ptr, out) },
        None => ffi::SQLITE_ERROR,
    }
}

// ----- sqlite3_io_methods -----

unsafe extern "C" fn x_close(file: *mut ffi::sqlite3_file) -> c_int {
    guard(|| {
        // SAFETY: SQLite closes only files our xOpen opened (pMethods set).
        let (h, mut real) = unsafe { parts(file) };
        let flushed = h.flush(&mut real);
        let rc = match real.methods().xClose {
            // SAFETY: closing the open underlying file once; it is not used afterwards.
            Some(x_close) => unsafe { x_close(real.0) },
            None => ffi::SQLITE_OK,
        };
        // SAFETY: the handle was boxed in xOpen; SQLite makes no call on `file` after xClose.
        drop(unsafe { Box::from_raw((*file.cast::<ShimFile>()).handle) });
        match flushed {
            Ok(()) => rc,
            Err(code) => code,
        }
    })
}

unsafe extern "C" fn x_read(
    file: *mut ffi::sqlite3_file,
    buf: *mut c_void,
    amt: c_int,
    offset: i64,
) -> c_int {
    guard(|| {
        // SAFETY: called on an open file of ours.
        let (h, mut real) = unsafe { parts(file) };
        if let Err(rc) = h.flush(&mut real) {
            return rc;
        }
        let Some(x_read) = real.methods().xRead else {
            return ffi::SQLITE_IOERR_READ;
        };
        // SAFETY: forwarding SQLite's buffer of `amt` bytes to the underlying file.
        let rc = unsafe { x_read(real.0, buf, amt, offset) };
        if rc != ffi::SQLITE_OK {
            return rc;
        }
        // SAFETY: the successful read initialised all `amt` bytes of SQLite's buffer.
        let data = unsafe { std::slice::from_raw_parts(buf.cast::<u8>(), amt.max(0) as usize) };
        match h.after_read(&mut real, data, offset) {
            Ok(()) => ffi::SQLITE_OK,
            Err(rc) => rc,
        }
    })
}

unsafe extern "C" fn x_write(
    file: *mut ffi::sqlite3_file,
    buf: *const c_void,
    amt: c_int,
    offset: i64,
) -> c_int {
    guard(|| {
        // SAFETY: called on an open file of ours.
        let (h, mut real) = unsafe { parts(file) };
        // SAFETY: SQLite passes `amt` initialised bytes to write.
        let data = unsafe { std::slice::from_raw_parts(buf.cast::<u8>(), amt.max(0) as usize) };
        match h.write(&mut real, data, offset) {
            Ok(()) => ffi::SQLITE_OK,
            Err(rc) => rc,
        }
    })
}

/// Flush a held-back WAL header, then forward `call` to the underlying file.
fn flushed_then(file: *mut ffi::sqlite3_file, call: impl FnOnce(&Real) -> c_int) -> c_int {
    guard(|| {
        // SAFETY: only called from trampolines on open files of ours.
        let (h, mut real) = unsafe { parts(file) };
        match h.flush(&mut real) {
            Ok(()) => call(&real),
            Err(rc) => rc,
        }
    })
}

unsafe extern "C" fn x_truncate(file: *mut ffi::sqlite3_file, size: i64) -> c_int {
    flushed_then(file, |real| match real.methods().xTruncate {
        // SAFETY: forwarding to the open underlying file.
        Some(f) => unsafe { f(real.0, size) },
        None => ffi::SQLITE_IOERR_TRUNCATE,
    })
}

unsafe extern "C" fn x_sync(file: *mut ffi::sqlite3_file, flags: c_int) -> c_int {
    flushed_then(file, |real| match real.methods().xSync {
        // SAFETY: forwarding to the open underlying file.
        Some(f) => unsafe { f(real.0, flags) },
        None => ffi::SQLITE_IOERR_FSYNC,
    })
}

unsafe extern "C" fn x_file_size(file: *mut ffi::sqlite3_file, size: *mut i64) -> c_int {
    flushed_then(file, |real| match real.methods().xFileSize {
        // SAFETY: forwarding SQLite's out pointer to the open underlying file.
        Some(f) => unsafe { f(real.0, size) },
        None => ffi::SQLITE_IOERR_FSTAT,
    })
}

unsafe extern "C" fn x_lock(file: *mut ffi::sqlite3_file, level: c_int) -> c_int {
    forward(file, |real| match real.methods().xLock {
        // SAFETY: forwarding to the open underlying file.
        Some(f) => unsafe { f(real.0, level) },
        None => ffi::SQLITE_IOERR_LOCK,
    })
}

unsafe extern "C" fn x_unlock(file: *mut ffi::sqlite3_file, level: c_int) -> c_int {
    flushed_then(file, |real| match real.methods().xUnlock {
        // SAFETY: forwarding to the open underlying file.
        Some(f) => unsafe { f(real.0, level) },
        None => ffi::SQLITE_IOERR_UNLOCK,
    })
}

unsafe extern "C" fn x_check_reserved_lock(file: *mut ffi::sqlite3_file, out: *mut c_int) -> c_int {
    forward(file, |real| match real.methods().xCheckReservedLock {
        // SAFETY: forwarding SQLite's out pointer to the open underlying file.
        Some(f) => unsafe { f(real.0, out) },
        None => ffi::SQLITE_IOERR_CHECKRESERVEDLOCK,
    })
}

/// Forward `call` to the underlying file.
fn forward(file: *mut ffi::sqlite3_file, call: impl FnOnce(&Real) -> c_int) -> c_int {
    guard(|| {
        // SAFETY: only called from trampolines on open files of ours.
        let (_, real) = unsafe { parts(file) };
        call(&real)
    })
}

unsafe extern "C" fn x_file_control(
    file: *mut ffi::sqlite3_file,
    op: c_int,
    arg: *mut c_void,
) -> c_int {
    guard(|| {
        // SAFETY: called on an open file of ours.
        let (h, real) = unsafe { parts(file) };
        if op == ffi::SQLITE_FCNTL_PRAGMA
            && let Some(rc) = checksum_pragma(h, arg)
        {
            return rc;
        }
        match real.methods().xFileControl {
            // SAFETY: forwarding SQLite's opcode and argument to the open underlying file.
            Some(f) => unsafe { f(real.0, op, arg) },
            None => ffi::SQLITE_NOTFOUND,
        }
    })
}

/// `PRAGMA checksum_verification[=on|off]`, answered like `cksumvfs` does.
fn checksum_pragma(h: &ChecksumFile, arg: *mut c_void) -> Option<c_int> {
    let args = arg.cast::<*mut c_char>();
    // SAFETY: for SQLITE_FCNTL_PRAGMA, `arg` is a char*[3]: result out, name, value (or NULL).
    let (name, value) = unsafe { (*args.add(1), *args.add(2)) };
    // SAFETY: the pragma name is a NUL-terminated string owned by SQLite.
    let name = unsafe { CStr::from_ptr(name) }.to_str().ok()?;
    if !name.eq_ignore_ascii_case("checksum_verification") {
        return None;
    }
    let now = if value.is_null() {
        h.db_state().verifying_now()
    } else {
        // SAFETY: a non-NULL value is a NUL-terminated string owned by SQLite.
        let value = unsafe { CStr::from_ptr(value) }
            .to_string_lossy()
            .to_ascii_lowercase();
        let on = matches!(value.as_str(), "1" | "on" | "yes" | "true");
        h.db_state().set_verify(on)
    };
    let answer: &CStr = if now { c"1" } else { c"0" };
    // SAFETY: SQLite frees the result with sqlite3_free, so it must come from sqlite3_malloc.
    unsafe {
        let out = ffi::sqlite3_malloc(2).cast::<c_char>();
        if out.is_null() {
            return Some(ffi::SQLITE_NOMEM);
        }
        ptr::copy_nonoverlapping(answer.as_ptr(), out, 2);
        *args = out;
    }
    Some(ffi::SQLITE_OK)
}

unsafe extern "C" fn x_sector_size(file: *mut ffi::sqlite3_file) -> c_int {
    catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: called on an open file of ours.
        let (_, real) = unsafe { parts(file) };
        match real.methods().xSectorSize {
            // SAFETY: forwarding to the open underlying file.
            Some(f) => unsafe { f(real.0) },
            None => 4096,
        }
    }))
    .unwrap_or(4096)
}

unsafe extern "C" fn x_device_characteristics(file: *mut ffi::sqlite3_file) -> c_int {
    catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: called on an open file of ours.
        let (_, real) = unsafe { parts(file) };
        match real.methods().xDeviceCharacteristics {
            // SAFETY: forwarding to the open underlying file.
            Some(f) => unsafe { f(real.0) },
            None => 0,
        }
    }))
    .unwrap_or(0)
}

unsafe extern "C" fn x_shm_map(
    file: *mut ffi::sqlite3_file,
    region: c_int,
    size: c_int,
    extend: c_int,
    out: *mut *mut c_void,
) -> c_int {
    forward(file, |real| match real.methods().xShmMap {
        // SAFETY: forwarding SQLite's arguments to the open underlying file.
        Some(f) => unsafe { f(real.0, region, size, extend, out) },
        None => ffi::SQLITE_IOERR_SHMMAP,
    })
}

unsafe extern "C" fn x_shm_lock(
    file: *mut ffi::sqlite3_file,
    offset: c_int,
    n: c_int,
    flags: c_int,
) -> c_int {
    forward(file, |real| match real.methods().xShmLock {
        // SAFETY: forwarding to the open underlying file.
        Some(f) => unsafe { f(real.0, offset, n, flags) },
        None => ffi::SQLITE_IOERR_SHMLOCK,
    })
}

unsafe extern "C" fn x_shm_barrier(file: *mut ffi::sqlite3_file) {
    let _ = catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: called on an open file of ours.
        let (_, real) = unsafe { parts(file) };
        if let Some(f) = real.methods().xShmBarrier {
            // SAFETY: forwarding to the open underlying file.
            unsafe { f(real.0) }
        }
    }));
}

unsafe extern "C" fn x_shm_unmap(file: *mut ffi::sqlite3_file, delete: c_int) -> c_int {
    forward(file, |real| match real.methods().xShmUnmap {
        // SAFETY: forwarding to the open underlying file.
        Some(f) => unsafe { f(real.0, delete) },
        None => ffi::SQLITE_OK,
    })
}

unsafe extern "C" fn x_fetch(
    file: *mut ffi::sqlite3_file,
    offset: i64,
    amt: c_int,
    out: *mut *mut c_void,
) -> c_int {
    guard(|| {
        // SAFETY: SQLite's out pointer is valid; NULL means "use xRead".
        unsafe { *out = ptr::null_mut() };
        // SAFETY: called on an open file of ours.
        let (h, real) = unsafe { parts(file) };
        let methods = real.methods();
        let (Some(fetch), true) = (methods.xFetch, methods.iVersion >= 3 && h.maps_pages()) else {
            return ffi::SQLITE_OK;
        };
        // SAFETY: forwarding SQLite's arguments to the open underlying file.
        unsafe { fetch(real.0, offset, amt, out) }
    })
}

unsafe extern "C" fn x_unfetch(
    file: *mut ffi::sqlite3_file,
    offset: i64,
    page: *mut c_void,
) -> c_int {
    forward(file, |real| {
        let methods = real.methods();
        match (methods.iVersion >= 3, methods.xUnfetch) {
            // SAFETY: releasing a page the underlying xFetch handed out (or all, for NULL).
            (true, Some(f)) => unsafe { f(real.0, offset, page) },
            _ => ffi::SQLITE_OK,
        }
    })
}
