//! Shared fixtures: a ledger with a step clock and a backup directory.

use std::path::PathBuf;
use std::sync::Arc;

use ledger::backup::BackupConfig;
use ledger::{Config, Ledger, NewCapture, OpenOptions, Source, StageOutcome, StepClock};
use rusqlite::Connection;
use tempfile::TempDir;

pub const START_MS: i64 = 1_700_000_000_000;

pub struct Env {
    pub dir: TempDir,
    pub config: Config,
    pub backups: BackupConfig,
    pub ledger: Ledger,
}

impl Env {
    pub fn new() -> Env {
        Env::with_step(1_000)
    }

    pub fn with_step(step_ms: i64) -> Env {
        let dir = tempfile::tempdir().expect("temp dir");
        let config = Config::new(dir.path().join("ledger.db"), dir.path().join("vault"));
        let ledger = open(&config, step_ms, 11);
        let mut backups = BackupConfig::new(dir.path().join("backups"));
        backups.step_pause = std::time::Duration::ZERO;
        Env {
            dir,
            config,
            backups,
            ledger,
        }
    }

    pub fn stage(&mut self, n: u32) -> String {
        match self.ledger.stage(&voice(n)).expect("stage") {
            StageOutcome::Staged(id) => id,
            other => panic!("expected a new capture, got {other:?}"),
        }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
}

pub fn open(config: &Config, step_ms: i64, seed: u64) -> Ledger {
    Ledger::open_with(
        config,
        OpenOptions {
            clock: Arc::new(StepClock::new(START_MS, step_ms)),
            id_seed: Some(seed),
        },
    )
    .expect("open ledger")
}

pub fn voice(n: u32) -> NewCapture {
    NewCapture {
        source: Source::Voice,
        raw_content: format!("memos/{n}.m4a"),
        channel: Some("phone".into()),
        channel_native_id: Some(format!("rec-{n}")),
    }
}

/// Every row of the four tables, as text, in a stable order.
pub fn dump(conn: &Connection) -> Vec<String> {
    let mut rows = Vec::new();
    for table in ["captures", "exports_audit", "errors_log", "sync_state"] {
        let mut stmt = conn
            .prepare(&format!("SELECT * FROM {table} ORDER BY 1"))
            .expect("prepare dump");
        let columns = stmt.column_count();
        let mut query = stmt.query([]).expect("query dump");
        while let Some(row) = query.next().expect("row") {
            let values: Vec<String> = (0..columns)
                .map(|i| format!("{:?}", row.get_ref(i).expect("value")))
                .collect();
            rows.push(format!("{table}: {}", values.join(" | ")));
        }
    }
    rows
}

pub fn dump_file(path: &std::path::Path) -> Vec<String> {
    let conn = Connection::open(path).expect("open restored");
    dump(&conn)
}

/// Flip one bit of `path` at byte `offset`.
pub fn flip_bit(path: &std::path::Path, offset: usize) {
    let mut bytes = std::fs::read(path).expect("read");
    bytes[offset] ^= 0x10;
    std::fs::write(path, bytes).expect("write");
}

/// Truncate `path` to half its size.
pub fn truncate_half(path: &std::path::Path) {
    let file = std::fs::OpenOptions::new()
        .write(true)
        .open(path)
        .expect("open");
    let len = file.metadata().expect("stat").len();
    file.set_len(len / 2).expect("truncate");
}
