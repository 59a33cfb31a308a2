//! The unsafe half of the allocation layer: [`install`] wraps SQLite's default allocator with
//! `SQLITE_CONFIG_MALLOC`; the wrapper counts allocations once armed and fails those
//! [`AllocTrigger::fails`] names. Every decision is in `alloc.rs`; this file only forwards.

use std::ffi::{c_int, c_void};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use rusqlite::ffi;

use super::alloc::AllocTrigger;

/// SQLite's own methods, read once with `SQLITE_CONFIG_GETMALLOC`.
struct RealMethods(ffi::sqlite3_mem_methods);

// SAFETY: the struct holds function pointers and a null `pAppData`, read-only after install.
unsafe impl Send for RealMethods {}
// SAFETY: as above: never mutated after it is set.
unsafe impl Sync for RealMethods {}

static REAL: OnceLock<RealMethods> = OnceLock::new();
static ARMED: AtomicBool = AtomicBool::new(false);
static COUNT: AtomicU64 = AtomicU64::new(0);
static NTH: AtomicU64 = AtomicU64::new(0);
static PERSISTENT: AtomicBool = AtomicBool::new(false);
static FIRED: AtomicU64 = AtomicU64::new(0);

/// Why the allocator could not be installed.
#[derive(Debug, thiserror::Error)]
pub enum AllocInstallError {
    /// SQLite was already initialised (a connection opened or a VFS registered first).
    #[error("sqlite3_config({op}) returned {code}: SQLite was initialised before the allocator")]
    Config {
        /// Which config call.
        op: &'static str,
        /// Its result code (21 = `SQLITE_MISUSE`).
        code: c_int,
    },
}

/// Installs the counting wrapper (disarmed). Idempotent; must run before anything initialises
/// SQLite in this process.
///
/// # Errors
/// [`AllocInstallError::Config`] when SQLite is already initialised.
pub fn install() -> Result<(), AllocInstallError> {
    if REAL.get().is_some() {
        return Ok(());
    }
    let mut real = ffi::sqlite3_mem_methods {
        xMalloc: None,
        xFree: None,
        xRealloc: None,
        xSize: None,
        xRoundup: None,
        xInit: None,
        xShutdown: None,
        pAppData: std::ptr::null_mut(),
    };
    // SAFETY: GETMALLOC writes the current methods into the struct we pass.
    let code = unsafe { ffi::sqlite3_config(ffi::SQLITE_CONFIG_GETMALLOC, &mut real as *mut _) };
    if code != ffi::SQLITE_OK {
        return Err(AllocInstallError::Config {
            op: "GETMALLOC",
            code,
        });
    }
    let real = REAL.get_or_init(|| RealMethods(real));
    let wrapped = ffi::sqlite3_mem_methods {
        xMalloc: Some(counting_malloc),
        xRealloc: Some(counting_realloc),
        ..real.0
    };
    // SAFETY: SQLite copies the struct; the function pointers live for the whole process.
    let code = unsafe { ffi::sqlite3_config(ffi::SQLITE_CONFIG_MALLOC, &wrapped as *const _) };
    if code != ffi::SQLITE_OK {
        return Err(AllocInstallError::Config { op: "MALLOC", code });
    }
    Ok(())
}

/// Starts counting from zero with `trigger` deciding which allocations fail.
pub fn arm(trigger: AllocTrigger) {
    ARMED.store(false, Ordering::SeqCst);
    COUNT.store(0, Ordering::SeqCst);
    FIRED.store(0, Ordering::SeqCst);
    NTH.store(trigger.nth, Ordering::SeqCst);
    PERSISTENT.store(trigger.persistent, Ordering::SeqCst);
    ARMED.store(true, Ordering::SeqCst);
}

/// Stops failing allocations; returns how many failed since [`arm`].
pub fn disarm() -> u64 {
    ARMED.store(false, Ordering::SeqCst);
    FIRED.load(Ordering::SeqCst)
}

/// Allocations failed since the last [`arm`].
pub fn fired() -> u64 {
    FIRED.load(Ordering::SeqCst)
}

/// Sets SQLite's hard and soft heap limits (bytes; `None` leaves one alone).
pub fn set_heap_limits(hard: Option<i64>, soft: Option<i64>) {
    if let Some(hard) = hard {
        // SAFETY: a plain setter, safe at any time after initialisation.
        unsafe { ffi::sqlite3_hard_heap_limit64(hard) };
    }
    if let Some(soft) = soft {
        // SAFETY: as above.
        unsafe { ffi::sqlite3_soft_heap_limit64(soft) };
    }
}

/// The decision for one allocation: counts it when armed and says whether it fails.
fn should_fail() -> bool {
    if !ARMED.load(Ordering::Relaxed) {
        return false;
    }
    let count = COUNT.fetch_add(1, Ordering::SeqCst) + 1;
    let trigger = AllocTrigger {
        nth: NTH.load(Ordering::Relaxed),
        persistent: PERSISTENT.load(Ordering::Relaxed),
    };
    let fails = trigger.fails(count);
    if fails {
        FIRED.fetch_add(1, Ordering::SeqCst);
    }
    fails
}

unsafe extern "C" fn counting_malloc(size: c_int) -> *mut c_void {
    if should_fail() {
        return std::ptr::null_mut();
    }
    match REAL.get().and_then(|r| r.0.xMalloc) {
        // SAFETY: SQLite's own xMalloc, called with SQLite's argument.
        Some(real) => unsafe { real(size) },
        None => std::ptr::null_mut(),
    }
}

unsafe extern "C" fn counting_realloc(ptr: *mut c_void, size: c_int) -> *mut c_void {
    if should_fail() {
        return std::ptr::null_mut();
    }
    match REAL.get().and_then(|r| r.0.xRealloc) {
        // SAFETY: SQLite's own xRealloc, called with SQLite's arguments.
        Some(real) => unsafe { real(ptr, size) },
        None => std::ptr::null_mut(),
    }
}
