//! The open's peak memory after a crash left a 64 MB WAL, gated as a ratio and measured by
//! counting allocations, never by a clock: the ledger's own (this binary's global allocator)
//! plus SQLite's (`sqlite3_memory_highwater`), during `Ledger::open` of the crashed files
//! against `Ledger::open` of the same content checkpointed and then crashed with a small WAL
//! (one more capture): both opens recover a WAL and run the quick check of an unclean shutdown
//! over the same pages, so what differs is the WAL's size. The WAL-damage guard streams the WAL
//! a frame at a time, a sound one and one with a damaged frame alike (the scan, the kept copy
//! and the repair), so that size must not show in the peak. The broken variant the gate must
//! fail is the same open with the WAL read whole first, as the guard read a damaged WAL before.
//!
//! One test in a binary of its own: the allocation counters are process-wide.

use std::alloc::{GlobalAlloc, Layout, System};
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use ledger::{Config, Ledger, NewCapture, Source};

/// The system allocator, counting the bytes live and their peak.
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

fn grew(bytes: usize) {
    let now = LIVE.fetch_add(bytes, Ordering::SeqCst) + bytes;
    PEAK.fetch_max(now, Ordering::SeqCst);
}

// SAFETY: every call is forwarded to `System` unchanged; the counters only observe sizes.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's contract for `alloc` is passed on as is.
        let ptr = unsafe { System.alloc(layout) };
        if !ptr.is_null() {
            grew(layout.size());
        }
        ptr
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as for `alloc`.
        let ptr = unsafe { System.alloc_zeroed(layout) };
        if !ptr.is_null() {
            grew(layout.size());
        }
        ptr
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` was allocated by `System` with `layout` (every allocation goes there).
        unsafe { System.dealloc(ptr, layout) };
        LIVE.fetch_sub(layout.size(), Ordering::SeqCst);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: as for `dealloc`, and the caller's contract for `realloc`.
        let moved = unsafe { System.realloc(ptr, layout, new_size) };
        if !moved.is_null() {
            LIVE.fetch_sub(layout.size(), Ordering::SeqCst);
            grew(new_size);
        }
        moved
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// The gate: the open with the large WAL may peak at most this many times the open with the
/// small one.
const MAX_PEAK_RATIO: f64 = 1.5;

const WAL_MB: u64 = 64;

fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

fn config(dir: &Path) -> Config {
    Config::new(dir.join("ledger.db"), dir.join("vault"))
}

fn copy_image(from: &Path, to: &Path) {
    fs::create_dir_all(to).expect("dir");
    for suffix in ["", "-wal", "-shm"] {
        let source = sibling(&config(from).path, suffix);
        if source.exists() {
            fs::copy(&source, sibling(&config(to).path, suffix)).expect("copy");
        }
    }
}

fn capture(n: u64) -> NewCapture {
    NewCapture {
        source: Source::Email,
        raw_content: format!("{n} {}", "lorem ipsum dolor sit amet ".repeat(120)),
        channel: Some("inbox".into()),
        channel_native_id: Some(format!("m{n}")),
    }
}

/// Opens the ledger in `writer` with automatic checkpoints off, stages captures from `first`
/// on until its WAL holds `bytes` (at least one), and copies the files as a `kill -9` leaves
/// them (WAL and index included) into `into`.
fn crash_with_wal(writer: &Path, first: u64, bytes: u64, into: &Path) {
    let mut ledger = Ledger::open(&config(writer)).expect("open");
    ledger
        .connection()
        .pragma_update(None, "wal_autocheckpoint", 0)
        .expect("no checkpoints");
    let wal = sibling(&config(writer).path, "-wal");
    let mut n = first;
    while n == first || fs::metadata(&wal).map_or(0, |m| m.len()) < bytes {
        ledger.stage(&capture(n)).expect("stage");
        n += 1;
    }
    copy_image(writer, into);
    drop(ledger);
}

/// The crash image with a WAL of `megabytes` (`large`), and the same content checkpointed
/// and crashed again after one more capture (`small`).
fn images(root: &Path, megabytes: u64) -> (PathBuf, PathBuf) {
    let (large, small, again) = (root.join("large"), root.join("small"), root.join("again"));
    crash_with_wal(&root.join("writer"), 0, megabytes << 20, &large);
    copy_image(&large, &again);
    let conn = rusqlite::Connection::open(config(&again).path).expect("open the copy");
    conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
        .expect("checkpoint");
    conn.close().expect("close");
    crash_with_wal(&again, 1 << 20, 0, &small);
    (large, small)
}

/// Peak bytes during `Ledger::open` of a fresh copy of `image`, after `before_open` ran on the
/// copy's WAL path: the ledger's allocations plus SQLite's high-water mark (an upper bound of
/// their common peak). `before_open` may return what it read, which stays held through the open.
fn open_peak_with<T>(image: &Path, run: &Path, before_open: impl FnOnce(&Path) -> T) -> usize {
    let _ = fs::remove_dir_all(run);
    copy_image(image, run);
    let config = config(run);
    // SAFETY: resetting SQLite's process-wide high-water mark has no other effect.
    unsafe { rusqlite::ffi::sqlite3_memory_highwater(1) };
    PEAK.store(LIVE.load(Ordering::SeqCst), Ordering::SeqCst);
    let before = LIVE.load(Ordering::SeqCst);
    let held = before_open(&sibling(&config.path, "-wal"));
    let opened = Ledger::open(&config);
    let ledger_peak = PEAK.load(Ordering::SeqCst) - before;
    // SAFETY: reading SQLite's process-wide high-water mark.
    let sqlite_peak = unsafe { rusqlite::ffi::sqlite3_memory_highwater(0) };
    drop((opened, held));
    ledger_peak + usize::try_from(sqlite_peak).unwrap_or(0)
}

/// [`open_peak_with`] with nothing done before the open.
fn open_peak(image: &Path, run: &Path) -> usize {
    open_peak_with(image, run, |_| ())
}

/// Flips a bit in the page image of the WAL's middle frame (later transactions follow it).
fn damage_middle_frame(image: &Path) {
    let path = sibling(&config(image).path, "-wal");
    let mut wal = fs::read(&path).expect("wal");
    let page_size = u32::from_be_bytes([wal[8], wal[9], wal[10], wal[11]]) as usize;
    let frames = (wal.len() - 32) / (24 + page_size);
    wal[32 + frames / 2 * (24 + page_size) + 24 + 200] ^= 0x10;
    fs::write(&path, wal).expect("write wal");
}

#[test]
fn the_open_after_a_crash_with_a_64_mb_wal_peaks_about_as_high_as_with_a_small_wal() {
    let dir = tempfile::tempdir().expect("dir");
    let (large, small) = images(dir.path(), WAL_MB);
    let wal_bytes = |image: &Path| {
        fs::metadata(sibling(&config(image).path, "-wal"))
            .expect("wal")
            .len()
    };
    let (large_wal, small_wal) = (wal_bytes(&large), wal_bytes(&small));
    assert!(large_wal >= WAL_MB << 20, "{large_wal}");
    assert!(small_wal < 1 << 20, "{small_wal}");
    let run = dir.path().join("run");
    let small_peak = open_peak(&small, &run);
    let large_peak = open_peak(&large, &run);
    let ratio = large_peak as f64 / small_peak as f64;
    println!(
        "peak during Ledger::open after a crash: {small_wal} B WAL {small_peak} B, {large_wal} B \
         WAL {large_peak} B: {ratio:.2}x (gate <= {MAX_PEAK_RATIO}x)"
    );
    assert!(
        ratio <= MAX_PEAK_RATIO,
        "a sound {large_wal} B WAL shows in the open's peak: {large_peak} B against {small_peak} \
         B with a {small_wal} B WAL ({ratio:.2}x)"
    );

    damage_middle_frame(&large);
    let damaged_peak = open_peak(&large, &run);
    assert!(
        sibling(&config(&run).path, "-wal.damaged-1").exists(),
        "the guard found the damaged frame and kept the WAL as found"
    );
    let damaged_ratio = damaged_peak as f64 / small_peak as f64;
    println!(
        "peak during Ledger::open of the {large_wal} B WAL with a damaged frame: {damaged_peak} \
         B: {damaged_ratio:.2}x (gate <= {MAX_PEAK_RATIO}x)"
    );
    assert!(
        damaged_ratio <= MAX_PEAK_RATIO,
        "a damaged {large_wal} B WAL shows in the open's peak: {damaged_peak} B against \
         {small_peak} B ({damaged_ratio:.2}x)"
    );

    let whole_peak = open_peak_with(&large, &run, |wal| fs::read(wal).expect("read the WAL"));
    let whole_ratio = whole_peak as f64 / small_peak as f64;
    println!(
        "peak during the same open with the WAL read whole first (the guard before it streamed a \
         damaged WAL): {whole_peak} B: {whole_ratio:.2}x"
    );
    assert!(
        whole_ratio > MAX_PEAK_RATIO,
        "the gate must fail a WAL read whole: {whole_peak} B against {small_peak} B \
         ({whole_ratio:.2}x)"
    );
}
