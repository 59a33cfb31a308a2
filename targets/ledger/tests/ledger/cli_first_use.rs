//! The `ledger` binary as an app developer first meets it: `init`, a path that is not a
//! ledger, the WAL an archive-mode close keeps, log lines without colour codes on a pipe, and
//! rotation's keep reasons in words.

use std::path::Path;
use std::process::{Command, Output};

fn ledger(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ledger"))
        .args(args)
        .output()
        .expect("run the ledger binary")
}

fn said(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

fn s(path: &Path) -> &str {
    path.to_str().expect("utf-8 temp path")
}

#[test]
fn init_creates_a_ledger_and_is_idempotent_on_one() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("notes.db");
    let output = ledger(&["init", "--db", s(&db)]);
    assert_eq!(output.status.code(), Some(0), "{}", said(&output));
    assert!(said(&output).contains("created"), "{}", said(&output));
    assert!(
        said(&output).contains("journal_mode wal") && said(&output).contains("synchronous full"),
        "{}",
        said(&output)
    );
    let output = ledger(&["health", "--db", s(&db)]);
    assert_eq!(output.status.code(), Some(0), "{}", said(&output));
    let output = ledger(&["init", "--db", s(&db)]);
    assert_eq!(output.status.code(), Some(0), "{}", said(&output));
    assert!(
        said(&output).contains("already a ledger"),
        "{}",
        said(&output)
    );
}

#[test]
fn init_refuses_an_existing_file_that_is_not_a_ledger() {
    let dir = tempfile::tempdir().expect("temp dir");
    let text = dir.path().join("notes.txt");
    std::fs::write(&text, "shopping list\n").expect("write");
    let output = ledger(&["init", "--db", s(&text)]);
    assert_eq!(output.status.code(), Some(2), "{}", said(&output));
    assert!(
        said(&output).contains(s(&text)) && said(&output).contains("not a SQLite database"),
        "{}",
        said(&output)
    );
    assert_eq!(
        std::fs::read_to_string(&text).expect("read"),
        "shopping list\n"
    );

    let other = dir.path().join("other.db");
    rusqlite::Connection::open(&other)
        .and_then(|conn| conn.execute_batch("CREATE TABLE contacts(name TEXT)"))
        .expect("another app's database");
    let output = ledger(&["init", "--db", s(&other)]);
    assert_eq!(output.status.code(), Some(2), "{}", said(&output));
    assert!(
        said(&output).contains(s(&other)) && said(&output).contains("not a ledger"),
        "{}",
        said(&output)
    );
}

#[test]
fn a_file_that_is_not_sqlite_is_named_as_such_by_every_command() {
    let dir = tempfile::tempdir().expect("temp dir");
    let text = dir.path().join("wrong.txt");
    std::fs::write(&text, "not a database at all, just some text\n").expect("write");
    for args in [
        &["health", "--db"][..],
        &["check", "--full", "--db"][..],
        &["stats", "--db"][..],
        &["backup", "--db"][..],
    ] {
        let mut args = args.to_vec();
        args.push(s(&text));
        let output = ledger(&args);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {}", said(&output));
        let said = said(&output);
        assert!(
            said.contains(s(&text)) && said.contains("not a SQLite database"),
            "{args:?}: {said}"
        );
        assert!(!said.contains("ledger check --full"), "{args:?}: {said}");
    }
}

/// `ledger backup --archive` keeps the WAL on purpose; the next command must not call that a
/// crash. The same WAL without the clean-close marker (what a killed process leaves) still
/// gets the warning, without colour codes since stderr is a pipe here.
#[test]
fn a_wal_kept_by_an_archive_mode_close_is_not_reported_as_a_crash() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("notes.db");
    assert!(ledger(&["init", "--db", s(&db)]).status.success());
    let output = ledger(&["backup", "--archive", "--db", s(&db)]);
    assert_eq!(output.status.code(), Some(0), "{}", said(&output));
    let wal = dir.path().join("notes.db-wal");
    assert!(
        std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0) > 0,
        "archive mode keeps the WAL"
    );
    let output = ledger(&["health", "--db", s(&db)]);
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(!stderr.contains("non-empty WAL"), "{stderr}");

    let output = ledger(&["backup", "--archive", "--db", s(&db)]);
    assert_eq!(output.status.code(), Some(0), "{}", said(&output));
    std::fs::remove_file(dir.path().join("notes.db-clean-close")).expect("the marker is there");
    let output = ledger(&["health", "--db", s(&db)]);
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(stderr.contains("non-empty WAL"), "{stderr}");
    assert!(
        !stderr.contains('\u{1b}'),
        "colour codes on a pipe: {stderr:?}"
    );
}

#[test]
fn rotation_gives_its_keep_reasons_in_words() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("notes.db");
    assert!(ledger(&["init", "--db", s(&db)]).status.success());
    assert!(ledger(&["backup", "--db", s(&db)]).status.success());
    let output = ledger(&["rotate", "--dry-run", "--db", s(&db)]);
    assert_eq!(output.status.code(), Some(0), "{}", said(&output));
    let said = said(&output);
    assert!(said.contains("keep (newest verified"), "{said}");
    assert!(!said.contains("NewestVerified"), "{said}");
}
