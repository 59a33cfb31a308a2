//! Shared fixtures: a ledger in a temp dir, captures, and table dumps.

use std::sync::Arc;

use ledger::{Config, Ledger, NewCapture, OpenOptions, Source, StageOutcome, StepClock};
use rusqlite::Connection;
use tempfile::TempDir;

pub const START_MS: i64 = 1_700_000_000_000;

/// A ledger in its own temp dir, with a step clock and a fixed id seed.
pub struct Fixture {
    pub dir: TempDir,
    pub config: Config,
    pub ledger: Ledger,
}

impl Fixture {
    pub fn new() -> Fixture {
        Fixture::with_step(1)
    }

    pub fn with_step(step_ms: i64) -> Fixture {
        let dir = tempfile::tempdir().expect("temp dir");
        let config = Config::new(dir.path().join("ledger.db"), dir.path().join("vault"));
        let ledger = open(&config, step_ms, 7);
        Fixture {
            dir,
            config,
            ledger,
        }
    }

    /// Take a backup into `backups/` beside the database through the backup module, and
    /// check that it verified.
    pub fn verified_backup(&mut self) {
        let mut backups = ledger::BackupConfig::new(self.dir.path().join("backups"));
        backups.step_pause = std::time::Duration::ZERO;
        let report = self.ledger.backup(&backups).expect("backup");
        assert_eq!(report.status.consecutive_failures, 0, "{report:#?}");
    }

    pub fn conn(&self) -> &Connection {
        self.ledger.connection()
    }

    pub fn stage(&mut self, new: &NewCapture) -> String {
        match self.ledger.stage(new).expect("stage") {
            StageOutcome::Staged(id) => id,
            other => panic!("expected a new capture, got {other:?}"),
        }
    }

    pub fn vault_files(&self) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(&self.config.vault_dir)
            .expect("vault dir")
            .map(|entry| {
                entry
                    .expect("entry")
                    .file_name()
                    .to_string_lossy()
                    .into_owned()
            })
            .collect();
        names.sort();
        names
    }

    pub fn dump(&self) -> Vec<String> {
        dump(self.conn())
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

pub fn email(text: &str) -> NewCapture {
    NewCapture {
        source: Source::Email,
        raw_content: text.into(),
        channel: None,
        channel_native_id: None,
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

pub fn count(conn: &Connection, sql: &str) -> i64 {
    conn.query_row(sql, [], |row| row.get(0)).expect("count")
}

/// A ledger on a [`ledger::ManualClock`] with `tuning` applied.
pub fn open_manual(config: &Config, clock: &Arc<ledger::ManualClock>) -> Ledger {
    Ledger::open_with(
        config,
        OpenOptions {
            clock: Arc::clone(clock) as Arc<dyn ledger::Clock>,
            id_seed: Some(11),
        },
    )
    .expect("open ledger")
}
