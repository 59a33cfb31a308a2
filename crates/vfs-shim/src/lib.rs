//! A stacking SQLite VFS whose behaviour is written in safe Rust.
//!
//! [`register`] installs a VFS that wraps a registered one (the default, or
//! a named one). Every call SQLite makes on it goes through generic
//! `extern "C"` trampolines to two hook traits: [`VfsHooks`] for the
//! VFS-level calls (`xOpen`, `xDelete`, `xAccess`) and [`FileHooks`] for the
//! calls on an open file. Every hook has a default that passes the call
//! through to the wrapped VFS or file, so an implementation only writes the
//! calls it changes. Hooks never see a raw pointer: the wrapped file, SQLite's
//! buffers, file-control arguments, shared-memory regions and mapped pages
//! reach them as safe values or as opaque types only this crate can make.
//!
//! This crate holds all the `unsafe` SQLite VFS code of the workspace (the
//! ledger's page-checksum VFS and the harness's fault-injection VFS build on
//! it), plus [`seed_prng`], so that those modules can forbid `unsafe`.
//!
//! # Safety invariants
//!
//! Every `unsafe` block in this crate relies on these, and nothing else:
//!
//! 1. **Leaked registrations.** A registered VFS, its name, its hooks, its
//!    `sqlite3_io_methods` table and the pointer to the VFS it wraps are
//!    leaked: SQLite may use them until the process exits. The wrapped VFS is
//!    a registered one, and SQLite never frees a registered VFS.
//! 2. **File layout.** SQLite allocates `szOsFile` = `HEADER` + the wrapped
//!    VFS's `szOsFile` bytes (8-aligned) per file. A wrapped file starts with
//!    a `Header` (SQLite's `sqlite3_file`, then the boxed hooks); the wrapped
//!    VFS's file lives at offset `HEADER`. A file the hooks chose not to wrap
//!    ([`VfsHooks::wraps`]) is opened by the wrapped VFS at offset 0 with its
//!    own methods, so SQLite never calls our methods on it.
//! 3. **Open means both halves are live.** `xOpen` installs our methods
//!    table only after the wrapped file opened successfully and the hooks
//!    were boxed into the header; until then `pMethods` is NULL, so SQLite
//!    makes no call on a half-open file. From then until `xClose`, the
//!    header's box is live and the wrapped file's `pMethods` is valid.
//!    `xClose` closes the wrapped file exactly once and frees the box;
//!    SQLite makes no call on a file after `xClose`.
//! 4. **One table per registration.** Each registration has its own methods
//!    table, so a file whose `pMethods` is that table carries a header with
//!    that registration's hook type.
//! 5. **No unwinding into C.** Every trampoline that runs hook code runs it
//!    inside `catch_unwind`; a panic becomes an error code (or a safe answer
//!    for calls that cannot fail).
//! 6. **Buffers.** SQLite's read buffer may be uninitialised before the
//!    wrapped read; it is exposed as a slice only after that read succeeded.
//!    A write buffer is `amt` initialised bytes. Pointers SQLite passes for
//!    a call are valid for that call only, and nothing here keeps them.
//! 7. **Write buffers a shim may change.** SQLite's `xWrite` buffer is
//!    declared `const`, but it is SQLite's own writable memory (a page-cache
//!    page, a temporary page buffer, a stack header) that nothing else reads
//!    or writes during the call: SQLite's `cksumvfs` writes each page's
//!    checksum into it, in the bytes SQLite reserves for such shims. Only
//!    hooks that opt in ([`FileHooks::WRITES_IN_PLACE`]) get it mutably, and
//!    they change only those reserved bytes.
//!
//! Mutual exclusion is SQLite's: it serialises the calls on one file (the
//! connection's mutex), and the hooks take `&self`, so they synchronise
//! whatever state they share across files and threads themselves
//! ([`VfsHooks`] and [`FileHooks`] are `Send + Sync`).

mod hooks;
mod prng;
mod real;
mod register;
mod trampolines;

pub use hooks::{FileHooks, VfsHooks};
pub use prng::seed_prng;
pub use real::{
    ClosingFile, Fetched, FetchedPage, FileControl, OpenRequest, Pragma, RealFile, RealOpen,
    RealVfs, ShmRegion,
};
pub use register::{RegisterError, VfsConfig, register};

/// An SQLite result code (`SQLITE_OK` is 0).
pub type Code = std::ffi::c_int;

/// `Ok(())` for `SQLITE_OK`, otherwise the code as the error.
#[inline]
pub fn into_result(rc: Code) -> Result<(), Code> {
    if rc == rusqlite::ffi::SQLITE_OK {
        Ok(())
    } else {
        Err(rc)
    }
}

/// `SQLITE_OK` for `Ok(())`, otherwise the error's code.
#[inline]
pub fn into_code(result: Result<(), Code>) -> Code {
    match result {
        Ok(()) => rusqlite::ffi::SQLITE_OK,
        Err(rc) => rc,
    }
}
