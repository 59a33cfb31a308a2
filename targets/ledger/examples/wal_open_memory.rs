//! Peak memory and time of `Ledger::open` on a database left with a large WAL
//! by a process that never closed it (as after `kill -9`).
//!
//! ```sh
//! cargo build --release -p ledger --example wal_open_memory
//! target/release/examples/wal_open_memory build /dev/shm/walmem 64   # a 64 MB WAL
//! target/release/examples/wal_open_memory open /dev/shm/walmem       # one open, in a fresh process
//! target/release/examples/wal_open_memory clean /dev/shm/walmem      # the same, checkpointed first
//! target/release/examples/wal_open_memory damaged /dev/shm/walmem    # a frame of the WAL damaged
//! ```
//!
//! `build` stages captures with automatic checkpoints off until the `-wal` holds
//! the asked megabytes, then exits without closing (no checkpoint, the WAL and
//! its index stay). `open` copies the three files to `<dir>/open/`, opens the
//! copy once and prints the open's wall time, the WAL size and the process's
//! peak resident memory (`VmHWM`) before and after the open. `clean` first
//! checkpoints the copy and removes its WAL (a plain SQLite connection; the
//! WAL's page images are already sealed), so the open is a clean reopen of
//! the same content. `damaged` first flips a bit in the page of the copy's middle WAL frame
//! (later commits follow it), so the open's WAL-damage guard finds a break, keeps a copy of the
//! WAL and repairs it.

use std::path::{Path, PathBuf};
use std::time::Instant;

use ledger::{Config, Ledger, NewCapture, Source};

fn config(dir: &Path) -> Config {
    Config::new(dir.join("ledger.db"), dir.join("vault"))
}

fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|line| line.strip_prefix("VmHWM:"))
                .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

fn build(dir: &Path, megabytes: u64) -> Result<(), Box<dyn std::error::Error>> {
    std::fs::create_dir_all(dir)?;
    let config = config(dir);
    let mut ledger = Ledger::open(&config)?;
    ledger
        .connection()
        .pragma_update(None, "wal_autocheckpoint", 0)?;
    let wal = sibling(&config.path, "-wal");
    let body = "lorem ipsum dolor sit amet ".repeat(120);
    let mut n = 0u64;
    while std::fs::metadata(&wal).map_or(0, |m| m.len()) < megabytes << 20 {
        ledger.stage(&NewCapture {
            source: Source::Email,
            raw_content: format!("{n} {body}"),
            channel: Some("inbox".into()),
            channel_native_id: Some(format!("m{n}")),
        })?;
        n += 1;
    }
    println!(
        "staged {n} captures; WAL {} bytes; exiting without closing",
        std::fs::metadata(&wal)?.len()
    );
    std::process::exit(0);
}

/// What `open` does to the copy before opening it.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Before {
    Nothing,
    Checkpoint,
    DamageMiddleFrame,
}

/// Flips a bit in the page image of the middle frame of the WAL at `wal`.
fn damage_middle_frame(wal: &Path) -> Result<(), Box<dyn std::error::Error>> {
    use std::os::unix::fs::FileExt;
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(wal)?;
    let mut header = [0u8; 32];
    file.read_exact_at(&mut header, 0)?;
    let page_size = u64::from(u32::from_be_bytes([
        header[8], header[9], header[10], header[11],
    ]));
    let frames = (file.metadata()?.len() - 32) / (24 + page_size);
    let at = 32 + frames / 2 * (24 + page_size) + 24 + 200;
    let mut byte = [0u8; 1];
    file.read_exact_at(&mut byte, at)?;
    file.write_all_at(&[byte[0] ^ 0x10], at)?;
    Ok(())
}

fn open(dir: &Path, first: Before) -> Result<(), Box<dyn std::error::Error>> {
    let source = config(dir);
    let copy_dir = dir.join("open");
    let _ = std::fs::remove_dir_all(&copy_dir);
    std::fs::create_dir_all(&copy_dir)?;
    let target = config(&copy_dir);
    for suffix in ["", "-wal", "-shm"] {
        std::fs::copy(sibling(&source.path, suffix), sibling(&target.path, suffix))?;
    }
    if first == Before::DamageMiddleFrame {
        damage_middle_frame(&sibling(&target.path, "-wal"))?;
    }
    if first == Before::Checkpoint {
        let conn = rusqlite::Connection::open(&target.path)?;
        conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
        conn.close().map_err(|(_, e)| e)?;
        let _ = std::fs::remove_file(sibling(&target.path, "-wal"));
    }
    let wal_bytes = std::fs::metadata(sibling(&target.path, "-wal")).map_or(0, |m| m.len());
    let before = peak_rss_kib();
    let started = Instant::now();
    let ledger = Ledger::open(&target)?;
    let elapsed = started.elapsed();
    let after = peak_rss_kib();
    println!(
        "open: {:.1} ms, WAL {wal_bytes} bytes, peak RSS {before} KiB before, {after} KiB after (+{} KiB){}",
        elapsed.as_secs_f64() * 1e3,
        after.saturating_sub(before),
        if sibling(&target.path, "-wal.damaged-1").exists() {
            ", the WAL guard kept a damaged copy"
        } else {
            ""
        }
    );
    drop(ledger);
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some("build") if args.len() == 4 => build(Path::new(&args[2]), args[3].parse()?),
        Some("open") if args.len() == 3 => open(Path::new(&args[2]), Before::Nothing),
        Some("clean") if args.len() == 3 => open(Path::new(&args[2]), Before::Checkpoint),
        Some("damaged") if args.len() == 3 => {
            open(Path::new(&args[2]), Before::DamageMiddleFrame)
        }
        _ => Err(
            "usage: wal_open_memory build <dir> <megabytes> | open <dir> | clean <dir> | damaged <dir>"
                .into(),
        ),
    }
}
