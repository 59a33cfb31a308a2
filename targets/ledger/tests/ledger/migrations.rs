//! Opening is idempotent; a newer schema is refused.

use ledger::{Config, Ledger, LedgerError, SCHEMA_VERSION};

use crate::support::{Fixture, voice};

fn user_version(conn: &rusqlite::Connection) -> i64 {
    conn.query_row("PRAGMA user_version", [], |row| row.get(0))
        .expect("user_version")
}

#[test]
fn opening_twice_keeps_data_and_version() {
    let mut fixture = Fixture::new();
    let id = fixture.stage(&voice(1));
    let schema = crate::support::dump(fixture.conn());
    assert_eq!(user_version(fixture.conn()), SCHEMA_VERSION);
    let Fixture {
        dir,
        config,
        ledger,
    } = fixture;
    ledger.close().expect("close");
    for _ in 0..2 {
        let reopened = Ledger::open(&config).expect("reopen");
        assert_eq!(user_version(reopened.connection()), SCHEMA_VERSION);
        assert_eq!(crate::support::dump(reopened.connection()), schema);
        assert!(reopened.capture(&id).expect("read").is_some());
        reopened.close().expect("close");
    }
    drop(dir);
}

#[test]
fn a_newer_schema_is_refused() {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = Config::new(dir.path().join("l.db"), dir.path().join("vault"));
    Ledger::open(&config)
        .expect("create")
        .close()
        .expect("close");
    // Writers must go through the checksum VFS, or the pages they write fail verification.
    let vfs = ledger::checksum::vfs_name(None).expect("checksum vfs");
    let conn = rusqlite::Connection::open_with_flags_and_vfs(
        &config.path,
        rusqlite::OpenFlags::default(),
        vfs.as_str(),
    )
    .expect("raw open");
    conn.pragma_update(None, "user_version", SCHEMA_VERSION + 1)
        .expect("bump");
    drop(conn);
    let error = Ledger::open(&config).expect_err("refused");
    assert!(matches!(
        error,
        LedgerError::Migration { found, supported }
            if found == SCHEMA_VERSION + 1 && supported == SCHEMA_VERSION
    ));
    assert_eq!(error.kind(), "migration");
}

#[test]
fn open_creates_the_vault_dir_and_applies_pragmas() {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = Config::new(dir.path().join("l.db"), dir.path().join("a/b/vault"));
    let ledger = Ledger::open(&config).expect("open");
    assert!(config.vault_dir.is_dir());
    let conn = ledger.connection();
    let pragma = |name: &str| -> String {
        conn.query_row(&format!("PRAGMA {name}"), [], |row| {
            row.get::<_, rusqlite::types::Value>(0)
        })
        .map(|value| format!("{value:?}"))
        .expect("pragma")
    };
    assert_eq!(pragma("journal_mode"), "Text(\"wal\")");
    assert_eq!(pragma("synchronous"), "Integer(2)");
    // The ledger's own busy handler (deadline = busy-timeout-ms, waits
    // counted in metrics) replaces SQLite's timeout handler, so the pragma reads 0.
    assert_eq!(pragma("busy_timeout"), "Integer(0)");
    // The adaptive cache keeps SQLite's 2 MB floor for a database that small.
    assert_eq!(pragma("cache_size"), "Integer(-2000)");
    assert_eq!(pragma("foreign_keys"), "Integer(1)");
}

#[test]
fn every_journal_mode_opens() {
    use ledger::JournalMode;
    for mode in [
        JournalMode::Wal,
        JournalMode::Delete,
        JournalMode::Truncate,
        JournalMode::Persist,
    ] {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut config = Config::new(dir.path().join("l.db"), dir.path().join("vault"));
        config.tuning.journal_mode = mode;
        let mut ledger = Ledger::open(&config).expect("open");
        ledger.stage(&voice(1)).expect("stage");
        let actual: String = ledger
            .connection()
            .query_row("PRAGMA journal_mode", [], |row| row.get(0))
            .expect("journal_mode");
        assert_eq!(actual, mode.as_str());
    }
}

#[test]
fn an_unknown_vfs_is_an_open_error() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut config = Config::new(dir.path().join("l.db"), dir.path().join("vault"));
    config.vfs = Some("no-such-vfs".into());
    let error = Ledger::open(&config).expect_err("refused");
    assert_eq!(error.kind(), "open");
    assert!(error.sqlite_code().is_some());
}

#[test]
fn the_default_vfs_can_be_named() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut config = Config::new(dir.path().join("l.db"), dir.path().join("vault"));
    config.vfs = Some("unix".into());
    let mut ledger = Ledger::open(&config).expect("open through named vfs");
    ledger.stage(&voice(1)).expect("stage");
}
