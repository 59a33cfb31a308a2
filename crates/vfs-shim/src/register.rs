//! [`register`]: installing a stacked VFS over a registered one.

use std::ffi::{CString, c_int};
use std::ptr;
use std::sync::Mutex;

use rusqlite::ffi;

use crate::hooks::VfsHooks;
use crate::trampolines::{self, HEADER};

/// Where and how to register a stacked VFS.
#[derive(Debug, Clone, Copy)]
pub struct VfsConfig<'a> {
    /// The new VFS's name (for `open_with_flags_and_vfs`).
    pub name: &'a str,
    /// The registered VFS to wrap; `None` = the default VFS.
    pub over: Option<&'a str>,
    /// Offer memory-mapped reads (`sqlite3_io_methods` version 3, with
    /// `xFetch`/`xUnfetch`); `false` = version 2, every read is an `xRead`.
    pub memory_mapping: bool,
}

/// Why [`register`] failed.
#[derive(Debug, thiserror::Error)]
pub enum RegisterError {
    /// A VFS of this name is already registered in this process.
    #[error("a VFS named {0:?} is already registered")]
    NameTaken(String),
    /// A name with a NUL byte cannot be passed to SQLite.
    #[error("VFS name {0:?} contains a NUL byte")]
    BadName(String),
    /// The VFS to wrap is not registered (`None`: there is no default VFS).
    #[error("no VFS to wrap: {} is not registered", .0.as_deref().unwrap_or("the default VFS"))]
    NoSuchVfs(Option<String>),
    /// `sqlite3_vfs_register` failed.
    #[error("failed to register VFS {name:?}: SQLite error code {code}")]
    Register {
        /// The VFS name.
        name: String,
        /// The SQLite result code.
        code: i32,
    },
}

/// `pAppData` of a registered shim (leaked, invariant 1).
pub(crate) struct VfsApp<V> {
    /// The wrapped VFS.
    pub(crate) real: *mut ffi::sqlite3_vfs,
    /// This registration's methods table for wrapped files.
    pub(crate) methods: *const ffi::sqlite3_io_methods,
    pub(crate) hooks: V,
}

/// Serialises registrations, so the "name taken" check does not race.
static REGISTER: Mutex<()> = Mutex::new(());

fn c_string(name: &str) -> Result<CString, RegisterError> {
    CString::new(name).map_err(|_| RegisterError::BadName(name.to_owned()))
}

/// Registers a VFS named `config.name` over `config.over` (not as the
/// default), driven by `hooks`. The VFS, its name and `hooks` are leaked:
/// SQLite may use them until the process exits.
///
/// # Errors
/// [`RegisterError::NameTaken`] when the name is in use (checked first),
/// [`RegisterError::NoSuchVfs`], [`RegisterError::BadName`], or SQLite's
/// refusal.
pub fn register<V: VfsHooks>(config: &VfsConfig<'_>, hooks: V) -> Result<(), RegisterError> {
    let _serial = REGISTER
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let name = c_string(config.name)?;
    // SAFETY: a NUL-terminated name; vfs_find may be called at any time.
    if !unsafe { ffi::sqlite3_vfs_find(name.as_ptr()) }.is_null() {
        return Err(RegisterError::NameTaken(config.name.to_owned()));
    }
    let over = config.over.map(c_string).transpose()?;
    // SAFETY: NULL asks for the default VFS, otherwise a NUL-terminated name.
    let real = unsafe { ffi::sqlite3_vfs_find(over.as_ref().map_or(ptr::null(), |n| n.as_ptr())) };
    if real.is_null() {
        return Err(RegisterError::NoSuchVfs(config.over.map(str::to_owned)));
    }
    // SAFETY: `real` is a registered VFS, alive until exit.
    let (real_size, max_path) = unsafe { ((*real).szOsFile, (*real).mxPathname) };
    let version = if config.memory_mapping { 3 } else { 2 };
    let methods = Box::into_raw(Box::new(trampolines::io_methods::<V::File>(version)));
    let app = Box::into_raw(Box::new(VfsApp {
        real,
        methods,
        hooks,
    }));
    let z_name = name.into_raw();
    let vfs = Box::into_raw(Box::new(trampolines::vfs_methods::<V>(
        HEADER as c_int + real_size,
        max_path,
        z_name,
        app.cast(),
    )));
    // SAFETY: `vfs` is a fully initialised sqlite3_vfs whose parts are leaked.
    let rc = unsafe { ffi::sqlite3_vfs_register(vfs, 0) };
    if rc != ffi::SQLITE_OK {
        // SAFETY: registration failed, so SQLite kept no pointer to these; we own them.
        unsafe {
            drop(Box::from_raw(vfs));
            drop(CString::from_raw(z_name));
            drop(Box::from_raw(app));
            drop(Box::from_raw(methods));
        }
        return Err(RegisterError::Register {
            name: config.name.to_owned(),
            code: rc,
        });
    }
    Ok(())
}
