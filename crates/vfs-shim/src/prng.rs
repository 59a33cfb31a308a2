//! Seeding SQLite's own PRNG, the randomness it writes into files.

use std::ptr;

use rusqlite::ffi;

/// Seeds SQLite's process-wide PRNG (`SQLITE_TESTCTRL_PRNG_SEED`); `0`
/// restores seeding from the OS.
///
/// SQLite writes random bytes into files through its VFS (the WAL header
/// salts), so a VFS user that wants identical bytes for identical runs seeds
/// this too. It affects every connection in the process.
pub fn seed_prng(seed: i32) {
    // SAFETY: PRNG_SEED takes an int and a (nullable) sqlite3*; it only resets the PRNG state.
    unsafe {
        ffi::sqlite3_test_control(
            ffi::SQLITE_TESTCTRL_PRNG_SEED,
            seed,
            ptr::null_mut::<ffi::sqlite3>(),
        );
    }
}
