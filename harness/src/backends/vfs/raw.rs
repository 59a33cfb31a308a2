//! All the unsafe code of the fault VFS: the leaked `sqlite3_vfs`, the two
//! static `sqlite3_io_methods` tables and the `extern "C"` trampolines.
//!
//! Each trampoline runs inside [`guard`] (`catch_unwind`: a panic becomes
//! `SQLITE_IOERR` and never crosses FFI), turns pointers into safe values
//! and asks the [`Controller`] what to do.
//!
//! Layout of our `sqlite3_file`: a [`ShimFile`] header (rounded up to 16
//! bytes) followed by the real VFS's file. `xOpen` leaves `pMethods` NULL
//! until the real open succeeded, so SQLite never calls our `xClose` on a
//! file that was never opened.

use std::ffi::{CStr, CString, c_char, c_int, c_void};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::ptr;
use std::sync::{Arc, Mutex};

use rusqlite::ffi;

use super::VfsError;
use super::controller::{Call, Code, Controller, OpenFile, RealFile};

/// `pAppData` of our VFS: the real VFS and the controller.
struct VfsApp {
    real: *mut ffi::sqlite3_vfs,
    ctrl: Arc<Controller>,
    methods: &'static ffi::sqlite3_io_methods,
}

/// Our header at the start of every `sqlite3_file` SQLite allocates for us.
#[repr(C)]
struct ShimFile {
    base: ffi::sqlite3_file,
    handle: *mut Handle,
}

/// What an open file owns; boxed in `xOpen`, freed in `xClose`.
struct Handle {
    ctrl: Arc<Controller>,
    file: OpenFile,
}

/// Offset of the real file behind our header.
const HEADER: usize = size_of::<ShimFile>().next_multiple_of(16);

/// Version 2: shared memory forwarded, no `xFetch` (every read goes through `xRead`).
static METHODS_V2: ffi::sqlite3_io_methods = io_methods(2);
/// Version 3: also forwards `xFetch`/`xUnfetch`, so memory-mapped I/O works.
static METHODS_V3: ffi::sqlite3_io_methods = io_methods(3);

const fn io_methods(version: c_int) -> ffi::sqlite3_io_methods {
    ffi::sqlite3_io_methods {
        iVersion: version,
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
        xFetch: if version >= 3 { Some(x_fetch) } else { None },
        xUnfetch: if version >= 3 { Some(x_unfetch) } else { None },
    }
}

/// Serialises registrations so "name taken" checks do not race.
static REGISTER: Mutex<()> = Mutex::new(());

/// Registers a VFS named `name` wrapping the default VFS (not as the default).
/// The VFS, its name and `ctrl` are leaked: SQLite may use them until exit.
pub(super) fn register(
    name: &str,
    ctrl: Arc<Controller>,
    forward_fetch: bool,
) -> Result<(), VfsError> {
    let _serial = REGISTER
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let c_name = CString::new(name).map_err(|_| VfsError::BadName(name.to_owned()))?;
    // SAFETY: `c_name` is a valid NUL-terminated string; vfs_find may be called at any time.
    if !unsafe { ffi::sqlite3_vfs_find(c_name.as_ptr()) }.is_null() {
        return Err(VfsError::NameTaken(name.to_owned()));
    }
    // SAFETY: NULL asks for the default VFS.
    let real = unsafe { ffi::sqlite3_vfs_find(ptr::null()) };
    if real.is_null() {
        return Err(VfsError::NoDefaultVfs);
    }
    // SAFETY: `real` is a registered VFS; registered VFSes live until exit.
    let (real_size, max_path) = unsafe { ((*real).szOsFile, (*real).mxPathname) };
    let app = Box::into_raw(Box::new(VfsApp {
        real,
        ctrl,
        methods: if forward_fetch {
            &METHODS_V3
        } else {
            &METHODS_V2
        },
    }));
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
        return Err(VfsError::Register {
            name: name.to_owned(),
            code: rc,
        });
    }
    Ok(())
}

/// Seeds SQLite's process-wide PRNG (`SQLITE_TESTCTRL_PRNG_SEED`); 0 restores OS randomness.
pub(super) fn seed_prng(seed: i32) {
    // SAFETY: PRNG_SEED takes an int and a (nullable) sqlite3*; it only resets the PRNG state.
    unsafe {
        ffi::sqlite3_test_control(
            ffi::SQLITE_TESTCTRL_PRNG_SEED,
            seed,
            ptr::null_mut::<ffi::sqlite3>(),
        );
    }
}

/// Runs a trampoline body; a panic becomes `SQLITE_IOERR`.
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

/// Our app data.
///
/// # Safety
/// `vfs` must be a VFS created by [`register`].
unsafe fn app<'a>(vfs: *mut ffi::sqlite3_vfs) -> &'a VfsApp {
    // SAFETY: per the contract, pAppData is a leaked `VfsApp`, never freed.
    unsafe { &*(*vfs).pAppData.cast::<VfsApp>() }
}

/// The real file behind our header.
///
/// # Safety
/// `file` must point to `szOsFile` bytes SQLite allocated for our VFS.
unsafe fn real_of(file: *mut ffi::sqlite3_file) -> *mut ffi::sqlite3_file {
    // SAFETY: the allocation is HEADER + the real szOsFile bytes long.
    unsafe { file.cast::<u8>().add(HEADER).cast() }
}

/// The handle and real file of an open file.
///
/// # Safety
/// `file` must be a file our `xOpen` opened successfully and not yet closed.
unsafe fn parts<'a>(file: *mut ffi::sqlite3_file) -> (&'a Handle, Real) {
    // SAFETY: a successful xOpen stored a live boxed Handle; xClose frees it last.
    unsafe { (&*(*file.cast::<ShimFile>()).handle, Real(real_of(file))) }
}

/// The real, open `sqlite3_file`; only built by [`parts`], so always valid.
struct Real(*mut ffi::sqlite3_file);

impl Real {
    fn methods(&self) -> &ffi::sqlite3_io_methods {
        // SAFETY: `Real` wraps a successfully opened real file; its pMethods is valid until xClose.
        unsafe { &*(*self.0).pMethods }
    }
}

impl RealFile for Real {
    fn write(&mut self, data: &[u8], offset: i64) -> Result<(), Code> {
        let x_write = self.methods().xWrite.expect("real xWrite");
        // SAFETY: open real file; `data` is valid for `data.len()` bytes.
        result(unsafe { x_write(self.0, data.as_ptr().cast(), data.len() as c_int, offset) })
    }

    fn truncate(&mut self, size: i64) -> Result<(), Code> {
        let x_truncate = self.methods().xTruncate.expect("real xTruncate");
        // SAFETY: open real file.
        result(unsafe { x_truncate(self.0, size) })
    }

    fn sync(&mut self, flags: i32) -> Result<(), Code> {
        let x_sync = self.methods().xSync.expect("real xSync");
        // SAFETY: open real file.
        result(unsafe { x_sync(self.0, flags) })
    }

    fn file_size(&mut self) -> Result<i64, Code> {
        let x_file_size = self.methods().xFileSize.expect("real xFileSize");
        let mut size = 0i64;
        // SAFETY: open real file; `size` is a valid out pointer.
        result(unsafe { x_file_size(self.0, &mut size) })?;
        Ok(size)
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
        let app = unsafe { app(vfs) };
        let shim = file.cast::<ShimFile>();
        // SAFETY: SQLite allocated szOsFile (8-aligned) bytes at `file`.
        let real = unsafe { real_of(file) };
        // SAFETY: as above; NULL pMethods means "not open" to SQLite and to us.
        unsafe {
            (*shim).base.pMethods = ptr::null();
            (*shim).handle = ptr::null_mut();
            (*real).pMethods = ptr::null();
        }
        let path = if name.is_null() {
            None
        } else {
            // SAFETY: a non-NULL name is a NUL-terminated string owned by SQLite during the call.
            unsafe { CStr::from_ptr(name) }.to_str().ok()
        };
        let x_open = match app.real_vfs().xOpen {
            Some(x_open) => x_open,
            None => return ffi::SQLITE_CANTOPEN,
        };
        // SAFETY: the real xOpen gets the real VFS and the bytes reserved for its file.
        let opened = app.ctrl.open(path, flags, || unsafe {
            x_open(app.real, name, real, flags, out_flags)
        });
        match opened {
            Ok(open) => {
                let handle = Box::new(Handle {
                    ctrl: Arc::clone(&app.ctrl),
                    file: open,
                });
                // SAFETY: header initialised above; the real file is open.
                unsafe {
                    (*shim).handle = Box::into_raw(handle);
                    (*shim).base.pMethods = app.methods;
                }
                ffi::SQLITE_OK
            }
            Err(rc) => {
                // SAFETY: if the failed real xOpen left methods set, it expects xClose.
                unsafe {
                    if let Some(methods) = (*real).pMethods.as_ref()
                        && let Some(x_close) = methods.xClose
                    {
                        x_close(real);
                    }
                }
                rc
            }
        }
    })
}

impl VfsApp {
    fn real_vfs(&self) -> &ffi::sqlite3_vfs {
        // SAFETY: `real` is a registered VFS, alive until exit.
        unsafe { &*self.real }
    }
}

unsafe extern "C" fn x_delete(
    vfs: *mut ffi::sqlite3_vfs,
    name: *const c_char,
    sync_dir: c_int,
) -> c_int {
    guard(|| {
        // SAFETY: SQLite calls xDelete on our registered VFS.
        let app = unsafe { app(vfs) };
        let x_delete = app.real_vfs().xDelete.expect("real xDelete");
        // SAFETY: SQLite passes a NUL-terminated path.
        let path = unsafe { CStr::from_ptr(name) }.to_string_lossy();
        // SAFETY: forwarding SQLite's arguments to the real VFS.
        app.ctrl.delete(&path, sync_dir != 0, || unsafe {
            x_delete(app.real, name, sync_dir)
        })
    })
}

unsafe extern "C" fn x_access(
    vfs: *mut ffi::sqlite3_vfs,
    name: *const c_char,
    flags: c_int,
    res_out: *mut c_int,
) -> c_int {
    guard(|| {
        // SAFETY: SQLite calls xAccess on our registered VFS.
        let app = unsafe { app(vfs) };
        if let Err(rc) = app.ctrl.gate(Call::Access) {
            return rc;
        }
        let x_access = app.real_vfs().xAccess.expect("real xAccess");
        // SAFETY: forwarding SQLite's arguments to the real VFS.
        unsafe { x_access(app.real, name, flags, res_out) }
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
        let app = unsafe { app(vfs) };
        let f = app.real_vfs().xFullPathname.expect("real xFullPathname");
        // SAFETY: forwarding SQLite's arguments to the real VFS.
        unsafe { f(app.real, name, n_out, z_out) }
    })
}

unsafe extern "C" fn x_dl_open(vfs: *mut ffi::sqlite3_vfs, name: *const c_char) -> *mut c_void {
    // SAFETY: SQLite calls this on our registered VFS.
    let app = unsafe { app(vfs) };
    match app.real_vfs().xDlOpen {
        // SAFETY: forwarding SQLite's arguments to the real VFS.
        Some(f) => unsafe { f(app.real, name) },
        None => ptr::null_mut(),
    }
}

unsafe extern "C" fn x_dl_error(vfs: *mut ffi::sqlite3_vfs, n: c_int, msg: *mut c_char) {
    // SAFETY: SQLite calls this on our registered VFS.
    let app = unsafe { app(vfs) };
    if let Some(f) = app.real_vfs().xDlError {
        // SAFETY: forwarding SQLite's arguments to the real VFS.
        unsafe { f(app.real, n, msg) }
    }
}

type DlSym = unsafe extern "C" fn(*mut ffi::sqlite3_vfs, *mut c_void, *const c_char);

unsafe extern "C" fn x_dl_sym(
    vfs: *mut ffi::sqlite3_vfs,
    handle: *mut c_void,
    symbol: *const c_char,
) -> Option<DlSym> {
    // SAFETY: SQLite calls this on our registered VFS.
    let app = unsafe { app(vfs) };
    // SAFETY: forwarding SQLite's arguments to the real VFS.
    app.real_vfs()
        .xDlSym
        .and_then(|f| unsafe { f(app.real, handle, symbol) })
}

unsafe extern "C" fn x_dl_close(vfs: *mut ffi::sqlite3_vfs, handle: *mut c_void) {
    // SAFETY: SQLite calls this on our registered VFS.
    let app = unsafe { app(vfs) };
    if let Some(f) = app.real_vfs().xDlClose {
        // SAFETY: forwarding SQLite's arguments to the real VFS.
        unsafe { f(app.real, handle) }
    }
}

unsafe extern "C" fn x_randomness(vfs: *mut ffi::sqlite3_vfs, n: c_int, out: *mut c_char) -> c_int {
    // SAFETY: SQLite calls this on our registered VFS.
    let app = unsafe { app(vfs) };
    let f = app.real_vfs().xRandomness.expect("real xRandomness");
    // SAFETY: forwarding SQLite's arguments to the real VFS.
    unsafe { f(app.real, n, out) }
}

unsafe extern "C" fn x_sleep(vfs: *mut ffi::sqlite3_vfs, micros: c_int) -> c_int {
    // SAFETY: SQLite calls this on our registered VFS.
    let app = unsafe { app(vfs) };
    let f = app.real_vfs().xSleep.expect("real xSleep");
    // SAFETY: forwarding SQLite's arguments to the real VFS.
    unsafe { f(app.real, micros) }
}

unsafe extern "C" fn x_current_time(vfs: *mut ffi::sqlite3_vfs, out: *mut f64) -> c_int {
    // SAFETY: SQLite calls this on our registered VFS.
    let app = unsafe { app(vfs) };
    let f = app.real_vfs().xCurrentTime.expect("real xCurrentTime");
    // SAFETY: forwarding SQLite's arguments to the real VFS.
    unsafe { f(app.real, out) }
}

unsafe extern "C" fn x_get_last_error(
    vfs: *mut ffi::sqlite3_vfs,
    n: c_int,
    out: *mut c_char,
) -> c_int {
    // SAFETY: SQLite calls this on our registered VFS.
    let app = unsafe { app(vfs) };
    match app.real_vfs().xGetLastError {
        // SAFETY: forwarding SQLite's arguments to the real VFS.
        Some(f) => unsafe { f(app.real, n, out) },
        None => 0,
    }
}

unsafe extern "C" fn x_current_time_int64(
    vfs: *mut ffi::sqlite3_vfs,
    out: *mut ffi::sqlite3_int64,
) -> c_int {
    // SAFETY: SQLite calls this on our registered VFS.
    let app = unsafe { app(vfs) };
    let f = app
        .real_vfs()
        .xCurrentTimeInt64
        .expect("real xCurrentTimeInt64");
    // SAFETY: forwarding SQLite's arguments to the real VFS.
    unsafe { f(app.real, out) }
}

// ----- sqlite3_io_methods -----

unsafe extern "C" fn x_close(file: *mut ffi::sqlite3_file) -> c_int {
    guard(|| {
        // SAFETY: SQLite closes only files our xOpen opened (pMethods set).
        let (_, real) = unsafe { parts(file) };
        let x_close = real.methods().xClose.expect("real xClose");
        // SAFETY: closing the open real file once; it is not used afterwards.
        let real_rc = unsafe { x_close(real.0) };
        // SAFETY: the handle was boxed in xOpen; SQLite makes no call on `file` after xClose.
        let handle = unsafe { Box::from_raw((*file.cast::<ShimFile>()).handle) };
        match handle.ctrl.close() {
            ffi::SQLITE_OK => real_rc,
            rc => rc,
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
        let (h, real) = unsafe { parts(file) };
        let len = amt.max(0) as usize;
        if let Err(rc) = h.ctrl.before_read(&h.file, offset, len) {
            return rc;
        }
        let x_read = real.methods().xRead.expect("real xRead");
        // SAFETY: forwarding SQLite's buffer of `amt` bytes to the real file.
        let rc = unsafe { x_read(real.0, buf, amt, offset) };
        if rc == ffi::SQLITE_OK {
            // SAFETY: the successful read initialised all `amt` bytes of SQLite's buffer.
            let data = unsafe { std::slice::from_raw_parts_mut(buf.cast::<u8>(), len) };
            h.ctrl.after_read(&h.file, data, offset);
        }
        rc
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
        h.ctrl.write(&h.file, &mut real, data, offset)
    })
}

unsafe extern "C" fn x_truncate(file: *mut ffi::sqlite3_file, size: i64) -> c_int {
    guard(|| {
        // SAFETY: called on an open file of ours.
        let (h, mut real) = unsafe { parts(file) };
        h.ctrl.truncate(&h.file, &mut real, size)
    })
}

unsafe extern "C" fn x_sync(file: *mut ffi::sqlite3_file, flags: c_int) -> c_int {
    guard(|| {
        // SAFETY: called on an open file of ours.
        let (h, mut real) = unsafe { parts(file) };
        h.ctrl.sync(&h.file, &mut real, flags)
    })
}

unsafe extern "C" fn x_file_size(file: *mut ffi::sqlite3_file, size: *mut i64) -> c_int {
    guard(|| {
        // SAFETY: called on an open file of ours.
        let (h, real) = unsafe { parts(file) };
        if let Err(rc) = h.ctrl.gate(Call::FileSize) {
            return rc;
        }
        let f = real.methods().xFileSize.expect("real xFileSize");
        // SAFETY: forwarding SQLite's out pointer to the real file.
        unsafe { f(real.0, size) }
    })
}

unsafe extern "C" fn x_lock(file: *mut ffi::sqlite3_file, level: c_int) -> c_int {
    guard(|| {
        // SAFETY: called on an open file of ours.
        let (h, real) = unsafe { parts(file) };
        if let Err(rc) = h.ctrl.before_lock(&h.file) {
            return rc;
        }
        let f = real.methods().xLock.expect("real xLock");
        // SAFETY: forwarding to the open real file.
        unsafe { f(real.0, level) }
    })
}

unsafe extern "C" fn x_unlock(file: *mut ffi::sqlite3_file, level: c_int) -> c_int {
    guard(|| {
        // SAFETY: called on an open file of ours.
        let (h, real) = unsafe { parts(file) };
        if let Err(rc) = h.ctrl.gate(Call::Unlock) {
            return rc;
        }
        let f = real.methods().xUnlock.expect("real xUnlock");
        // SAFETY: forwarding to the open real file.
        unsafe { f(real.0, level) }
    })
}

unsafe extern "C" fn x_check_reserved_lock(file: *mut ffi::sqlite3_file, out: *mut c_int) -> c_int {
    guard(|| {
        // SAFETY: called on an open file of ours.
        let (h, real) = unsafe { parts(file) };
        if let Err(rc) = h.ctrl.gate(Call::CheckReservedLock) {
            return rc;
        }
        let f = real
            .methods()
            .xCheckReservedLock
            .expect("real xCheckReservedLock");
        // SAFETY: forwarding SQLite's out pointer to the open real file.
        unsafe { f(real.0, out) }
    })
}

unsafe extern "C" fn x_file_control(
    file: *mut ffi::sqlite3_file,
    op: c_int,
    arg: *mut c_void,
) -> c_int {
    guard(|| {
        // SAFETY: called on an open file of ours.
        let (h, mut real) = unsafe { parts(file) };
        let f = real.methods().xFileControl.expect("real xFileControl");
        let target = real.0;
        // SAFETY: forwarding SQLite's opcode and argument to the open real file.
        let forward = || unsafe { f(target, op, arg) };
        if op == ffi::SQLITE_FCNTL_SIZE_HINT {
            return h.ctrl.size_hint(&h.file, &mut real, forward);
        }
        match h.ctrl.gate(Call::FileControl) {
            Ok(()) => forward(),
            Err(rc) => rc,
        }
    })
}

unsafe extern "C" fn x_sector_size(file: *mut ffi::sqlite3_file) -> c_int {
    guard(|| {
        // SAFETY: called on an open file of ours.
        let (_, real) = unsafe { parts(file) };
        let f = real.methods().xSectorSize.expect("real xSectorSize");
        // SAFETY: forwarding to the open real file.
        unsafe { f(real.0) }
    })
}

unsafe extern "C" fn x_device_characteristics(file: *mut ffi::sqlite3_file) -> c_int {
    // A panic here would be reported as "no characteristics", the safe answer.
    catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: called on an open file of ours.
        let (_, real) = unsafe { parts(file) };
        let f = real
            .methods()
            .xDeviceCharacteristics
            .expect("real xDeviceCharacteristics");
        // SAFETY: forwarding to the open real file.
        unsafe { f(real.0) }
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
    guard(|| {
        // SAFETY: called on an open file of ours.
        let (h, real) = unsafe { parts(file) };
        if let Err(rc) = h.ctrl.before_shm_map(&h.file, i64::from(region)) {
            // SAFETY: SQLite's out pointer is valid; NULL means "no mapping".
            unsafe { *out = ptr::null_mut() };
            return rc;
        }
        let f = real.methods().xShmMap.expect("real xShmMap");
        // SAFETY: forwarding SQLite's arguments to the open real file.
        unsafe { f(real.0, region, size, extend, out) }
    })
}

unsafe extern "C" fn x_shm_lock(
    file: *mut ffi::sqlite3_file,
    offset: c_int,
    n: c_int,
    flags: c_int,
) -> c_int {
    guard(|| {
        // SAFETY: called on an open file of ours.
        let (h, real) = unsafe { parts(file) };
        if let Err(rc) = h.ctrl.gate(Call::ShmLock) {
            return rc;
        }
        let f = real.methods().xShmLock.expect("real xShmLock");
        // SAFETY: forwarding to the open real file.
        unsafe { f(real.0, offset, n, flags) }
    })
}

unsafe extern "C" fn x_shm_barrier(file: *mut ffi::sqlite3_file) {
    let _ = catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: called on an open file of ours.
        let (_, real) = unsafe { parts(file) };
        if let Some(f) = real.methods().xShmBarrier {
            // SAFETY: forwarding to the open real file.
            unsafe { f(real.0) }
        }
    }));
}

unsafe extern "C" fn x_shm_unmap(file: *mut ffi::sqlite3_file, delete: c_int) -> c_int {
    guard(|| {
        // SAFETY: called on an open file of ours.
        let (h, real) = unsafe { parts(file) };
        let f = real.methods().xShmUnmap.expect("real xShmUnmap");
        // After a cut the mapping is still released, but nothing is deleted.
        let (delete, rc) = match h.ctrl.gate(Call::ShmUnmap) {
            Ok(()) => (delete, ffi::SQLITE_OK),
            Err(rc) => (0, rc),
        };
        // SAFETY: forwarding to the open real file.
        let real_rc = unsafe { f(real.0, delete) };
        if rc == ffi::SQLITE_OK { real_rc } else { rc }
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
        if let Err(rc) = h.ctrl.before_fetch(&h.file, offset, i64::from(amt)) {
            return rc;
        }
        let f = real.methods().xFetch.expect("real xFetch");
        // SAFETY: forwarding SQLite's arguments to the open real file.
        unsafe { f(real.0, offset, amt, out) }
    })
}

unsafe extern "C" fn x_unfetch(
    file: *mut ffi::sqlite3_file,
    offset: i64,
    page: *mut c_void,
) -> c_int {
    guard(|| {
        // SAFETY: called on an open file of ours.
        let (_, real) = unsafe { parts(file) };
        let f = real.methods().xUnfetch.expect("real xUnfetch");
        // SAFETY: releasing a page the real xFetch handed out.
        unsafe { f(real.0, offset, page) }
    })
}
