//! Memory mapping with fallback: [`MmapState`] decides when `mmap_size`
//! drops to 0 (an `SQLITE_IOERR_MMAP`-class error, memory pressure, a limited
//! address space) and when the configured size comes back (after
//! `pressure-calm-ms` without a new reason; never while the address space is
//! limited).

use nix::sys::resource::{RLIM_INFINITY, Resource, getrlimit};

/// Why mapping is off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MmapOffReason {
    /// A memory-mapped read failed (`SQLITE_IOERR_MMAP`).
    IoError,
    /// Memory pressure.
    Pressure,
    /// `RLIMIT_AS` is set: mappings eat the limited address space.
    AddressSpaceLimited,
}

/// What the ledger should set now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MmapChange {
    /// Set `mmap_size = 0`.
    Disable(MmapOffReason),
    /// Set the configured `mmap_size` again.
    Restore,
}

/// The fallback state of one connection.
#[derive(Debug, Clone)]
pub struct MmapState {
    configured: i64,
    off: Option<(MmapOffReason, i64)>,
    calm_ms: i64,
}

/// Whether this process's `RLIMIT_AS` (its soft limit) is finite: one `getrlimit` call, cheap
/// enough for every memory poll.
pub fn this_process_address_space_limited() -> bool {
    getrlimit(Resource::RLIMIT_AS).is_ok_and(|(soft, _)| soft != RLIM_INFINITY)
}

impl MmapState {
    /// The state for a connection configured with `mmap_size = configured`.
    pub fn new(configured: i64, calm_ms: i64) -> MmapState {
        MmapState {
            configured,
            off: None,
            calm_ms,
        }
    }

    /// The `mmap_size` currently in force.
    pub fn current(&self) -> i64 {
        if self.off.is_some() {
            0
        } else {
            self.configured
        }
    }

    /// Why mapping is off, if it is.
    pub fn off_reason(&self) -> Option<MmapOffReason> {
        self.off.map(|(reason, _)| reason)
    }

    /// Turn mapping off for `reason` at `now_ms`; `Some` when that changes the pragma.
    pub fn disable(&mut self, reason: MmapOffReason, now_ms: i64) -> Option<MmapChange> {
        let was_on = self.off.is_none() && self.configured > 0;
        self.off = Some((reason, now_ms));
        was_on.then_some(MmapChange::Disable(reason))
    }

    /// Restore mapping once the reason has been gone for the calm period.
    pub fn maybe_restore(
        &mut self,
        now_ms: i64,
        pressured: bool,
        as_limited: bool,
    ) -> Option<MmapChange> {
        let (reason, since) = self.off?;
        let blocked = match reason {
            MmapOffReason::AddressSpaceLimited => as_limited,
            MmapOffReason::Pressure | MmapOffReason::IoError => pressured,
        };
        if blocked || now_ms - since < self.calm_ms {
            return None;
        }
        self.off = None;
        (self.configured > 0).then_some(MmapChange::Restore)
    }
}

/// Whether an extended result code is an `SQLITE_IOERR_MMAP`-class failure.
pub fn is_mmap_error(extended_code: i32) -> bool {
    extended_code == rusqlite::ffi::SQLITE_IOERR_MMAP
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sees_a_finite_address_space_limit_set_in_the_process() {
        use nix::sys::resource::setrlimit;
        use nix::sys::wait::{WaitStatus, waitpid};
        use nix::unistd::{ForkResult, fork};
        assert!(!this_process_address_space_limited());
        // SAFETY: the child only calls async-signal-safe functions (the two rlimit calls, no
        // allocation) and `_exit`.
        match unsafe { fork() }.expect("fork") {
            ForkResult::Child => {
                let limited = setrlimit(Resource::RLIMIT_AS, 64 << 30, RLIM_INFINITY).is_ok()
                    && this_process_address_space_limited();
                unsafe { nix::libc::_exit(if limited { 0 } else { 1 }) }
            }
            ForkResult::Parent { child } => {
                assert_eq!(
                    waitpid(child, None).expect("wait"),
                    WaitStatus::Exited(child, 0)
                );
            }
        }
    }

    #[test]
    fn falls_back_then_restores_after_the_calm_period() {
        let mut state = MmapState::new(256 << 20, 1000);
        assert_eq!(state.current(), 256 << 20);
        assert_eq!(
            state.disable(MmapOffReason::IoError, 100),
            Some(MmapChange::Disable(MmapOffReason::IoError))
        );
        assert_eq!(state.current(), 0);
        assert_eq!(
            state.disable(MmapOffReason::IoError, 200),
            None,
            "already off"
        );
        assert_eq!(state.maybe_restore(900, false, false), None);
        assert_eq!(
            state.maybe_restore(1200, true, false),
            None,
            "pressure holds it off"
        );
        assert_eq!(
            state.maybe_restore(1200, false, false),
            Some(MmapChange::Restore)
        );
        assert_eq!(state.current(), 256 << 20);
    }

    #[test]
    fn a_limited_address_space_keeps_it_off() {
        let mut state = MmapState::new(256 << 20, 0);
        state.disable(MmapOffReason::AddressSpaceLimited, 0);
        assert_eq!(state.maybe_restore(10_000, false, true), None);
        assert!(is_mmap_error(rusqlite::ffi::SQLITE_IOERR_MMAP));
        assert!(!is_mmap_error(rusqlite::ffi::SQLITE_IOERR_READ));
    }
}
