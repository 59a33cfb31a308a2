//! The heap settings of the harness's processes. glibc's defaults give freed memory back to
//! the kernel as they go (trimming the heap top, unmapping large blocks) and fault it in again
//! on the next allocation. A worker lives for one phase and exits, and the supervisor frees and
//! allocates the same sizes every iteration: each keeps what it took instead. A worker's peak
//! is what it would reach anyway, and the kernel takes everything back at exit.

/// Heap top kept when freed, and largest block served from the heap rather than `mmap`.
const KEEP_BYTES: i32 = 32 << 20;
/// Extra bytes asked of the kernel each time the heap grows.
const GROW_PAD_BYTES: i32 = 4 << 20;

/// Tunes glibc's allocator of this process as [the module](self) says (a forked child keeps the
/// settings); elsewhere (another libc) it does nothing. Call it first thing in `main`.
pub fn keep_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: `mallopt` only sets allocator parameters (under the allocator's own lock).
    unsafe {
        use nix::libc::{M_MMAP_THRESHOLD, M_TOP_PAD, M_TRIM_THRESHOLD, mallopt};
        mallopt(M_TRIM_THRESHOLD, KEEP_BYTES);
        mallopt(M_MMAP_THRESHOLD, KEEP_BYTES);
        mallopt(M_TOP_PAD, GROW_PAD_BYTES);
    }
}
