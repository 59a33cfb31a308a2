//! The `extern "C"` functions SQLite calls, generic over the hooks: each
//! turns SQLite's pointers into the safe values of `real.rs`, calls the
//! hook inside `catch_unwind` and turns its answer back into SQLite's.
//! The crate docs list the invariants every `unsafe` block here relies on.

use std::cell::Cell;
use std::ffi::{CStr, c_char, c_int, c_void};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::ptr;

use rusqlite::ffi;

use crate::hooks::{FileHooks, VfsHooks};
use crate::into_code;
use crate::real::{
    ClosingFile, FetchedPage, FileControl, OpenRequest, RealFile, RealOpen, RealVfs,
};
use crate::register::VfsApp;

/// The start of every wrapped file (invariant 2).
#[repr(C)]
pub(crate) struct Header<F> {
    base: ffi::sqlite3_file,
    /// The file's boxed hooks; NULL until the open succeeded.
    pub(crate) hooks: *mut F,
}

/// Offset of the wrapped VFS's file behind the header (16-aligned, like SQLite's own shims).
pub(crate) const HEADER: usize = size_of::<Header<u8>>().next_multiple_of(16);

/// The methods table of wrapped files; `version` 3 adds `xFetch`/`xUnfetch`.
pub(crate) const fn io_methods<F: FileHooks>(version: c_int) -> ffi::sqlite3_io_methods {
    ffi::sqlite3_io_methods {
        iVersion: version,
        xClose: Some(x_close::<F>),
        xRead: Some(x_read::<F>),
        xWrite: Some(x_write::<F>),
        xTruncate: Some(x_truncate::<F>),
        xSync: Some(x_sync::<F>),
        xFileSize: Some(x_file_size::<F>),
        xLock: Some(x_lock::<F>),
        xUnlock: Some(x_unlock::<F>),
        xCheckReservedLock: Some(x_check_reserved_lock::<F>),
        xFileControl: Some(x_file_control::<F>),
        xSectorSize: Some(x_sector_size::<F>),
        xDeviceCharacteristics: Some(x_device_characteristics::<F>),
        xShmMap: Some(x_shm_map::<F>),
        xShmLock: Some(x_shm_lock::<F>),
        xShmBarrier: Some(x_shm_barrier::<F>),
        xShmUnmap: Some(x_shm_unmap::<F>),
        xFetch: if version >= 3 {
            Some(x_fetch::<F>)
        } else {
            None
        },
        xUnfetch: if version >= 3 {
            Some(x_unfetch::<F>)
        } else {
            None
        },
    }
}

/// The `sqlite3_vfs` of a registration whose `pAppData` is a `VfsApp<V>`.
pub(crate) fn vfs_methods<V: VfsHooks>(
    file_size: c_int,
    max_path: c_int,
    name: *const c_char,
    app: *mut c_void,
) -> ffi::sqlite3_vfs {
    ffi::sqlite3_vfs {
        iVersion: 2,
        szOsFile: file_size,
        mxPathname: max_path,
        pNext: ptr::null_mut(),
        zName: name,
        pAppData: app,
        xOpen: Some(x_open::<V>),
        xDelete: Some(x_delete::<V>),
        xAccess: Some(x_access::<V>),
        xFullPathname: Some(x_full_pathname::<V>),
        xDlOpen: Some(x_dl_open::<V>),
        xDlError: Some(x_dl_error::<V>),
        xDlSym: Some(x_dl_sym::<V>),
        xDlClose: Some(x_dl_close::<V>),
        xRandomness: Some(x_randomness::<V>),
        xSleep: Some(x_sleep::<V>),
        xCurrentTime: Some(x_current_time::<V>),
        xGetLastError: Some(x_get_last_error::<V>),
        xCurrentTimeInt64: Some(x_current_time_int64::<V>),
        xSetSystemCall: None,
        xGetSystemCall: None,
        xNextSystemCall: None,
    }
}

/// Runs hook code; a panic becomes `SQLITE_IOERR` (invariant 5).
fn guard(body: impl FnOnce() -> c_int) -> c_int {
    catch_unwind(AssertUnwindSafe(body)).unwrap_or(ffi::SQLITE_IOERR)
}

/// Runs hook code whose call cannot fail; a panic gives `fallback`.
fn guard_or<T>(fallback: T, body: impl FnOnce() -> T) -> T {
    catch_unwind(AssertUnwindSafe(body)).unwrap_or(fallback)
}

/// # Safety
/// `vfs` must be a VFS registered by [`crate::register`] with hooks `V`.
unsafe fn app<'a, V>(vfs: *mut ffi::sqlite3_vfs) -> &'a VfsApp<V> {
    // SAFETY: pAppData is a leaked VfsApp<V> (invariant 1).
    unsafe { &*(*vfs).pAppData.cast::<VfsApp<V>>() }
}

/// # Safety
/// `file` must point to the `szOsFile` bytes SQLite allocated for our VFS.
unsafe fn real_of(file: *mut ffi::sqlite3_file) -> *mut ffi::sqlite3_file {
    // SAFETY: the allocation is HEADER + the wrapped szOsFile bytes (invariant 2).
    unsafe { file.cast::<u8>().add(HEADER).cast() }
}

/// # Safety
/// `file` must be a wrapped file with hooks `F`, open and not yet closed.
unsafe fn parts<'a, F>(file: *mut ffi::sqlite3_file) -> (&'a F, RealFile) {
    // SAFETY: an open wrapped file has live hooks and an open wrapped file (invariant 3).
    unsafe {
        (
            &*(*file.cast::<Header<F>>()).hooks,
            RealFile::new(real_of(file)),
        )
    }
}

/// Runs `call` with the hooks and wrapped file of an open wrapped file.
///
/// # Safety
/// As [`parts`].
unsafe fn with_file<F>(
    file: *mut ffi::sqlite3_file,
    call: impl FnOnce(&F, &mut RealFile) -> c_int,
) -> c_int {
    guard(|| {
        // SAFETY: per the caller's contract.
        let (hooks, mut real) = unsafe { parts::<F>(file) };
        call(hooks, &mut real)
    })
}

/// Closes a wrapped file whose open failed, if the wrapped VFS left it open.
///
/// # Safety
/// `real` is the wrapped VFS's file of a failed `xOpen`.
unsafe fn close_failed(real: *mut ffi::sqlite3_file) {
    // SAFETY: if the failed open left methods set, it expects xClose.
    unsafe {
        if let Some(methods) = (*real).pMethods.as_ref()
            && let Some(x_close) = methods.xClose
        {
            x_close(real);
        }
    }
}

// ----- sqlite3_vfs methods -----

unsafe extern "C" fn x_open<V: VfsHooks>(
    vfs: *mut ffi::sqlite3_vfs,
    name: ffi::sqlite3_filename,
    file: *mut ffi::sqlite3_file,
    flags: c_int,
    out_flags: *mut c_int,
) -> c_int {
    guard(|| {
        // SAFETY: SQLite calls xOpen on our registered VFS.
        let app = unsafe { app::<V>(vfs) };
        // SAFETY: SQLite's name and flags for this call; the table is this registration's.
        let request = unsafe { OpenRequest::new(name, flags, app.methods) };
        if !app.hooks.wraps(&request) {
            // SAFETY: a live VFS; it opens at offset 0 of an allocation larger than it needs.
            return match unsafe { (*app.real).xOpen } {
                Some(x_open) => unsafe { x_open(app.real, name, file, flags, out_flags) },
                None => ffi::SQLITE_CANTOPEN,
            };
        }
        let header = file.cast::<Header<V::File>>();
        // SAFETY: SQLite allocated szOsFile (8-aligned) bytes at `file`.
        let real = unsafe { real_of(file) };
        // SAFETY: as above; a NULL pMethods means "not open" to SQLite and to us.
        unsafe {
            (*header).base.pMethods = ptr::null();
            (*header).hooks = ptr::null_mut();
            (*real).pMethods = ptr::null();
        }
        let opened = Cell::new(false);
        // SAFETY: the wrapped VFS, SQLite's arguments and the bytes reserved for its file.
        let opener = unsafe { RealOpen::new(app.real, name, real, flags, out_flags, &opened) };
        let result = guard_or(Err(ffi::SQLITE_IOERR), || app.hooks.open(&request, opener));
        match result {
            Ok(hooks) if opened.get() => {
                // SAFETY: the header was initialised above and the wrapped file is open.
                unsafe {
                    (*header).hooks = Box::into_raw(Box::new(hooks));
                    (*header).base.pMethods = app.methods;
                }
                ffi::SQLITE_OK
            }
            other => {
                // SAFETY: the wrapped file's open failed or its success was not kept.
                unsafe { close_failed(real) };
                match other {
                    Ok(_) => ffi::SQLITE_CANTOPEN,
                    Err(rc) => rc,
                }
            }
        }
    })
}

unsafe extern "C" fn x_delete<V: VfsHooks>(
    vfs: *mut ffi::sqlite3_vfs,
    name: *const c_char,
    sync_dir: c_int,
) -> c_int {
    guard(|| {
        // SAFETY: SQLite calls this on our registered VFS.
        let app = unsafe { app::<V>(vfs) };
        if name.is_null() {
            return ffi::SQLITE_IOERR_DELETE;
        }
        // SAFETY: the wrapped VFS is registered; the name is NUL-terminated.
        let (real, path) = unsafe { (RealVfs::new(app.real), CStr::from_ptr(name)) };
        into_code(app.hooks.delete(&real, path, sync_dir != 0))
    })
}

unsafe extern "C" fn x_access<V: VfsHooks>(
    vfs: *mut ffi::sqlite3_vfs,
    name: *const c_char,
    flags: c_int,
    res_out: *mut c_int,
) -> c_int {
    guard(|| {
        // SAFETY: SQLite calls this on our registered VFS.
        let app = unsafe { app::<V>(vfs) };
        if name.is_null() {
            return ffi::SQLITE_IOERR_ACCESS;
        }
        // SAFETY: the wrapped VFS is registered; the name is NUL-terminated.
        let (real, path) = unsafe { (RealVfs::new(app.real), CStr::from_ptr(name)) };
        match app.hooks.access(&real, path, flags) {
            Ok(yes) => {
                // SAFETY: SQLite's out pointer for this call.
                unsafe { *res_out = c_int::from(yes) };
                ffi::SQLITE_OK
            }
            Err(rc) => rc,
        }
    })
}

/// The wrapped VFS of our VFS `vfs`.
///
/// # Safety
/// As [`app`].
unsafe fn real_vfs<'a, V>(
    vfs: *mut ffi::sqlite3_vfs,
) -> (&'a ffi::sqlite3_vfs, *mut ffi::sqlite3_vfs) {
    // SAFETY: per the caller's contract; the wrapped VFS lives until exit (invariant 1).
    unsafe {
        let real = app::<V>(vfs).real;
        (&*real, real)
    }
}

unsafe extern "C" fn x_full_pathname<V>(
    vfs: *mut ffi::sqlite3_vfs,
    name: *const c_char,
    n_out: c_int,
    z_out: *mut c_char,
) -> c_int {
    // SAFETY: SQLite calls this on our registered VFS.
    let (real, ptr) = unsafe { real_vfs::<V>(vfs) };
    match real.xFullPathname {
        // SAFETY: forwarding SQLite's arguments.
        Some(f) => unsafe { f(ptr, name, n_out, z_out) },
        None => ffi::SQLITE_CANTOPEN,
    }
}

unsafe extern "C" fn x_dl_open<V>(vfs: *mut ffi::sqlite3_vfs, name: *const c_char) -> *mut c_void {
    // SAFETY: SQLite calls this on our registered VFS.
    let (real, ptr) = unsafe { real_vfs::<V>(vfs) };
    match real.xDlOpen {
        // SAFETY: forwarding SQLite's arguments.
        Some(f) => unsafe { f(ptr, name) },
        None => ptr::null_mut(),
    }
}

unsafe extern "C" fn x_dl_error<V>(vfs: *mut ffi::sqlite3_vfs, n: c_int, msg: *mut c_char) {
    // SAFETY: SQLite calls this on our registered VFS.
    let (real, ptr) = unsafe { real_vfs::<V>(vfs) };
    if let Some(f) = real.xDlError {
        // SAFETY: forwarding SQLite's arguments.
        unsafe { f(ptr, n, msg) }
    }
}

type DlSym = unsafe extern "C" fn(*mut ffi::sqlite3_vfs, *mut c_void, *const c_char);

unsafe extern "C" fn x_dl_sym<V>(
    vfs: *mut ffi::sqlite3_vfs,
    handle: *mut c_void,
    symbol: *const c_char,
) -> Option<DlSym> {
    // SAFETY: SQLite calls this on our registered VFS.
    let (real, ptr) = unsafe { real_vfs::<V>(vfs) };
    // SAFETY: forwarding SQLite's arguments.
    real.xDlSym.and_then(|f| unsafe { f(ptr, handle, symbol) })
}

unsafe extern "C" fn x_dl_close<V>(vfs: *mut ffi::sqlite3_vfs, handle: *mut c_void) {
    // SAFETY: SQLite calls this on our registered VFS.
    let (real, ptr) = unsafe { real_vfs::<V>(vfs) };
    if let Some(f) = real.xDlClose {
        // SAFETY: forwarding SQLite's arguments.
        unsafe { f(ptr, handle) }
    }
}

unsafe extern "C" fn x_randomness<V>(
    vfs: *mut ffi::sqlite3_vfs,
    n: c_int,
    out: *mut c_char,
) -> c_int {
    // SAFETY: SQLite calls this on our registered VFS.
    let (real, ptr) = unsafe { real_vfs::<V>(vfs) };
    match real.xRandomness {
        // SAFETY: forwarding SQLite's arguments.
        Some(f) => unsafe { f(ptr, n, out) },
        None => 0,
    }
}

unsafe extern "C" fn x_sleep<V>(vfs: *mut ffi::sqlite3_vfs, micros: c_int) -> c_int {
    // SAFETY: SQLite calls this on our registered VFS.
    let (real, ptr) = unsafe { real_vfs::<V>(vfs) };
    match real.xSleep {
        // SAFETY: forwarding SQLite's arguments.
        Some(f) => unsafe { f(ptr, micros) },
        None => 0,
    }
}

unsafe extern "C" fn x_current_time<V>(vfs: *mut ffi::sqlite3_vfs, out: *mut f64) -> c_int {
    // SAFETY: SQLite calls this on our registered VFS.
    let (real, ptr) = unsafe { real_vfs::<V>(vfs) };
    match real.xCurrentTime {
        // SAFETY: forwarding SQLite's arguments.
        Some(f) => unsafe { f(ptr, out) },
        None => ffi::SQLITE_ERROR,
    }
}

unsafe extern "C" fn x_get_last_error<V>(
    vfs: *mut ffi::sqlite3_vfs,
    n: c_int,
    out: *mut c_char,
) -> c_int {
    // SAFETY: SQLite calls this on our registered VFS.
    let (real, ptr) = unsafe { real_vfs::<V>(vfs) };
    match real.xGetLastError {
        // SAFETY: forwarding SQLite's arguments.
        Some(f) => unsafe { f(ptr, n, out) },
        None => 0,
    }
}

unsafe extern "C" fn x_current_time_int64<V>(
    vfs: *mut ffi::sqlite3_vfs,
    out: *mut ffi::sqlite3_int64,
) -> c_int {
    // SAFETY: SQLite calls this on our registered VFS.
    let (real, ptr) = unsafe { real_vfs::<V>(vfs) };
    match real.xCurrentTimeInt64 {
        // SAFETY: forwarding SQLite's arguments.
        Some(f) => unsafe { f(ptr, out) },
        None => ffi::SQLITE_ERROR,
    }
}

// ----- sqlite3_io_methods (only ever installed on open wrapped files) -----

unsafe extern "C" fn x_close<F: FileHooks>(file: *mut ffi::sqlite3_file) -> c_int {
    guard(|| {
        // SAFETY: SQLite closes an open wrapped file once and never uses it
        // again: the hooks are taken out of the header, the wrapped file is
        // closed by (or after) the hook.
        let (hooks, real) = unsafe {
            let header = file.cast::<Header<F>>();
            let hooks = Box::from_raw((*header).hooks);
            (*header).hooks = ptr::null_mut();
            (hooks, ClosingFile::new(real_of(file)))
        };
        into_code((*hooks).close(real))
    })
}

unsafe extern "C" fn x_read<F: FileHooks>(
    file: *mut ffi::sqlite3_file,
    buf: *mut c_void,
    amt: c_int,
    offset: i64,
) -> c_int {
    let call = |hooks: &F, real: &mut RealFile| {
        let len = amt.max(0) as usize;
        if let Err(rc) = hooks.before_read(real, offset, len) {
            return rc;
        }
        // SAFETY: SQLite's buffer holds `amt` bytes.
        let rc = unsafe { real.read_raw(buf, amt, offset) };
        if rc != ffi::SQLITE_OK {
            return rc;
        }
        // SAFETY: the successful read initialised all `amt` bytes (invariant 6).
        let data = unsafe { std::slice::from_raw_parts_mut(buf.cast::<u8>(), len) };
        into_code(hooks.after_read(real, data, offset))
    };
    // SAFETY: SQLite calls io methods on open wrapped files only.
    unsafe { with_file::<F>(file, call) }
}

unsafe extern "C" fn x_write<F: FileHooks>(
    file: *mut ffi::sqlite3_file,
    buf: *const c_void,
    amt: c_int,
    offset: i64,
) -> c_int {
    let call = |hooks: &F, real: &mut RealFile| {
        let len = amt.max(0) as usize;
        if F::WRITES_IN_PLACE {
            // SAFETY: SQLite passes `amt` initialised bytes (invariant 6) of a buffer it owns,
            // does not touch during the call and lets a shim change (invariant 7).
            let data = unsafe { std::slice::from_raw_parts_mut(buf.cast::<u8>().cast_mut(), len) };
            return into_code(hooks.write_in_place(real, data, offset));
        }
        // SAFETY: SQLite passes `amt` initialised bytes (invariant 6).
        let data = unsafe { std::slice::from_raw_parts(buf.cast::<u8>(), len) };
        into_code(hooks.write(real, data, offset))
    };
    // SAFETY: SQLite calls io methods on open wrapped files only.
    unsafe { with_file::<F>(file, call) }
}

unsafe extern "C" fn x_truncate<F: FileHooks>(file: *mut ffi::sqlite3_file, size: i64) -> c_int {
    // SAFETY: SQLite calls io methods on open wrapped files only.
    unsafe { with_file::<F>(file, |hooks, real| into_code(hooks.truncate(real, size))) }
}

unsafe extern "C" fn x_sync<F: FileHooks>(file: *mut ffi::sqlite3_file, flags: c_int) -> c_int {
    // SAFETY: SQLite calls io methods on open wrapped files only.
    unsafe { with_file::<F>(file, |hooks, real| into_code(hooks.sync(real, flags))) }
}

unsafe extern "C" fn x_file_size<F: FileHooks>(
    file: *mut ffi::sqlite3_file,
    out: *mut i64,
) -> c_int {
    let call = |hooks: &F, real: &mut RealFile| match hooks.file_size(real) {
        Ok(size) => {
            // SAFETY: SQLite's out pointer for this call.
            unsafe { *out = size };
            ffi::SQLITE_OK
        }
        Err(rc) => rc,
    };
    // SAFETY: SQLite calls io methods on open wrapped files only.
    unsafe { with_file::<F>(file, call) }
}

unsafe extern "C" fn x_lock<F: FileHooks>(file: *mut ffi::sqlite3_file, level: c_int) -> c_int {
    // SAFETY: SQLite calls io methods on open wrapped files only.
    unsafe { with_file::<F>(file, |hooks, real| into_code(hooks.lock(real, level))) }
}

unsafe extern "C" fn x_unlock<F: FileHooks>(file: *mut ffi::sqlite3_file, level: c_int) -> c_int {
    // SAFETY: SQLite calls io methods on open wrapped files only.
    unsafe { with_file::<F>(file, |hooks, real| into_code(hooks.unlock(real, level))) }
}

unsafe extern "C" fn x_check_reserved_lock<F: FileHooks>(
    file: *mut ffi::sqlite3_file,
    out: *mut c_int,
) -> c_int {
    let call = |hooks: &F, real: &mut RealFile| match hooks.check_reserved_lock(real) {
        Ok(reserved) => {
            // SAFETY: SQLite's out pointer for this call.
            unsafe { *out = c_int::from(reserved) };
            ffi::SQLITE_OK
        }
        Err(rc) => rc,
    };
    // SAFETY: SQLite calls io methods on open wrapped files only.
    unsafe { with_file::<F>(file, call) }
}

unsafe extern "C" fn x_file_control<F: FileHooks>(
    file: *mut ffi::sqlite3_file,
    op: c_int,
    arg: *mut c_void,
) -> c_int {
    let call = |hooks: &F, real: &mut RealFile| {
        // SAFETY: SQLite's opcode and argument for this call.
        let mut control = unsafe { FileControl::new(op, arg) };
        into_code(hooks.file_control(real, &mut control))
    };
    // SAFETY: SQLite calls io methods on open wrapped files only.
    unsafe { with_file::<F>(file, call) }
}

unsafe extern "C" fn x_sector_size<F: FileHooks>(file: *mut ffi::sqlite3_file) -> c_int {
    guard_or(4096, || {
        // SAFETY: SQLite calls io methods on open wrapped files only.
        let (hooks, mut real) = unsafe { parts::<F>(file) };
        hooks.sector_size(&mut real)
    })
}

unsafe extern "C" fn x_device_characteristics<F: FileHooks>(file: *mut ffi::sqlite3_file) -> c_int {
    // A panic answers "no characteristics", the safe answer.
    guard_or(0, || {
        // SAFETY: SQLite calls io methods on open wrapped files only.
        let (hooks, mut real) = unsafe { parts::<F>(file) };
        hooks.device_characteristics(&mut real)
    })
}

unsafe extern "C" fn x_shm_map<F: FileHooks>(
    file: *mut ffi::sqlite3_file,
    region: c_int,
    size: c_int,
    extend: c_int,
    out: *mut *mut c_void,
) -> c_int {
    // SAFETY: SQLite's out pointer for this call; NULL means "no region" if a hook panics.
    unsafe { *out = ptr::null_mut() };
    let call = |hooks: &F, real: &mut RealFile| {
        let mapped = hooks.shm_map(real, region, size, extend != 0);
        // SAFETY: SQLite's out pointer; the region is the wrapped file's answer (or NULL).
        unsafe { *out = mapped.mapped };
        mapped.rc
    };
    // SAFETY: SQLite calls io methods on open wrapped files only.
    unsafe { with_file::<F>(file, call) }
}

unsafe extern "C" fn x_shm_lock<F: FileHooks>(
    file: *mut ffi::sqlite3_file,
    offset: c_int,
    n: c_int,
    flags: c_int,
) -> c_int {
    // SAFETY: SQLite calls io methods on open wrapped files only.
    unsafe {
        with_file::<F>(file, |hooks, real| {
            into_code(hooks.shm_lock(real, offset, n, flags))
        })
    }
}

unsafe extern "C" fn x_shm_barrier<F: FileHooks>(file: *mut ffi::sqlite3_file) {
    guard_or((), || {
        // SAFETY: SQLite calls io methods on open wrapped files only.
        let (hooks, mut real) = unsafe { parts::<F>(file) };
        hooks.shm_barrier(&mut real);
    });
}

unsafe extern "C" fn x_shm_unmap<F: FileHooks>(
    file: *mut ffi::sqlite3_file,
    delete: c_int,
) -> c_int {
    // SAFETY: SQLite calls io methods on open wrapped files only.
    unsafe {
        with_file::<F>(file, |hooks, real| {
            into_code(hooks.shm_unmap(real, delete != 0))
        })
    }
}

unsafe extern "C" fn x_fetch<F: FileHooks>(
    file: *mut ffi::sqlite3_file,
    offset: i64,
    amt: c_int,
    out: *mut *mut c_void,
) -> c_int {
    // SAFETY: SQLite's out pointer for this call; NULL means "use xRead".
    unsafe { *out = ptr::null_mut() };
    let call = |hooks: &F, real: &mut RealFile| {
        let fetched = hooks.fetch(real, offset, amt);
        // SAFETY: SQLite's out pointer; the page is the wrapped file's answer (or NULL).
        unsafe { *out = fetched.page };
        fetched.rc
    };
    // SAFETY: SQLite calls io methods on open wrapped files only.
    unsafe { with_file::<F>(file, call) }
}

unsafe extern "C" fn x_unfetch<F: FileHooks>(
    file: *mut ffi::sqlite3_file,
    offset: i64,
    page: *mut c_void,
) -> c_int {
    let call = |hooks: &F, real: &mut RealFile| {
        // SAFETY: SQLite's page argument for this call.
        let page = unsafe { FetchedPage::new(page) };
        into_code(hooks.unfetch(real, offset, page))
    };
    // SAFETY: SQLite calls io methods on open wrapped files only.
    unsafe { with_file::<F>(file, call) }
}
