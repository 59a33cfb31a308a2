//! The `ledger` binary's backup commands on a real database: backup, list,
//! verify, restore (dry run and real, latest and to a transaction), rotate,
//! archive, and the errors that name the file and what to do.

use std::path::Path;
use std::process::{Command, Output};

use crate::support::{Env, dump_file, truncate_half};

fn ledger(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ledger"))
        .args(args)
        .output()
        .expect("run the ledger binary")
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

fn s(path: &Path) -> &str {
    path.to_str().expect("utf-8 temp path")
}

/// A closed ledger with `n` captures, and its paths.
fn populated(n: u32) -> Env {
    let mut env = Env::new();
    for i in 0..n {
        env.stage(i);
    }
    env
}

fn captures(path: &Path) -> Vec<String> {
    dump_file(path)
        .into_iter()
        .filter(|row| row.starts_with("captures:"))
        .collect()
}

fn backup_path(output: &Output) -> String {
    let stdout = String::from_utf8_lossy(&output.stdout);
    stdout
        .lines()
        .find_map(|line| line.strip_prefix("backup: "))
        .expect("backup line")
        .to_owned()
}

#[test]
fn backup_list_verify_restore_and_rotate_through_the_binary() {
    let env = populated(7);
    let db = env.config.path.clone();
    let dir = env.backups.dir.clone();
    let output = ledger(&["backup", "--db", s(&db), "--backup-dir", s(&dir)]);
    assert!(output.status.success(), "{}", text(&output));
    assert!(text(&output).contains("verified"), "{}", text(&output));
    let backup = backup_path(&output);

    let output = ledger(&["backups", "list", "--db", s(&db), "--backup-dir", s(&dir)]);
    assert!(output.status.success(), "{}", text(&output));
    let listing = text(&output);
    assert!(
        listing.contains("verified") && listing.contains(&backup),
        "{listing}"
    );
    assert!(listing.contains("age "), "{listing}");

    let output = ledger(&["verify", &backup]);
    assert!(output.status.success(), "{}", text(&output));

    let into = env.path("restored.db");
    let output = ledger(&[
        "restore",
        "--db",
        s(&db),
        "--backup-dir",
        s(&dir),
        "--latest",
        "--into",
        s(&into),
        "--dry-run",
    ]);
    assert!(output.status.success(), "{}", text(&output));
    let plan = text(&output);
    assert!(
        plan.contains("snapshot:") && plan.contains("segments:") && plan.contains("into:"),
        "{plan}"
    );
    assert!(!into.exists(), "a dry run writes nothing");

    let output = ledger(&[
        "restore",
        "--db",
        s(&db),
        "--backup-dir",
        s(&dir),
        "--latest",
        "--into",
        s(&into),
    ]);
    assert!(output.status.success(), "{}", text(&output));
    assert_eq!(captures(&into), captures(&db));

    let output = ledger(&[
        "rotate",
        "--db",
        s(&db),
        "--backup-dir",
        s(&dir),
        "--dry-run",
    ]);
    assert!(output.status.success(), "{}", text(&output));
    assert!(
        text(&output).contains("keep (newest verified"),
        "{}",
        text(&output)
    );
    assert!(Path::new(&backup).exists());
}

#[test]
fn restore_to_a_transaction_from_the_archive() {
    let mut env = populated(3);
    let db = env.config.path.clone();
    let dir = env.backups.dir.clone();
    let into = env.path("at-txid.db");
    let mut archived = env.backups.clone();
    archived.archive = true;
    env.ledger
        .enable_wal_archive(&archived)
        .expect("archive on");
    let txid = env
        .ledger
        .backup(&archived)
        .expect("pinned backup")
        .manifest
        .wal_position
        .expect("pinned snapshot")
        .txid;
    for n in 10..14 {
        env.stage(n);
    }
    env.ledger.archive_wal(&archived).expect("archive");
    let target = (txid + 2).to_string();
    let output = ledger(&[
        "restore",
        "--db",
        s(&db),
        "--backup-dir",
        s(&dir),
        "--txid",
        &target,
        "--into",
        s(&into),
    ]);
    assert!(output.status.success(), "{}", text(&output));
    assert_eq!(
        captures(&into).len(),
        4,
        "3 in the snapshot; transaction txid+1 records the verified backup, txid+2 stages one"
    );

    let output = ledger(&["archive", "--db", s(&db), "--backup-dir", s(&dir)]);
    assert!(output.status.success(), "{}", text(&output));
}

#[test]
fn a_truncated_backup_fails_verify_with_exit_1() {
    let env = populated(40);
    let db = env.config.path.clone();
    let dir = env.backups.dir.clone();
    let output = ledger(&["backup", "--db", s(&db), "--backup-dir", s(&dir)]);
    assert!(output.status.success(), "{}", text(&output));
    let backup = backup_path(&output);
    truncate_half(Path::new(&backup));
    let output = ledger(&["verify", &backup, "--db", s(&db), "--backup-dir", s(&dir)]);
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    let said = text(&output);
    assert!(said.contains("FAILED") && said.contains(&backup), "{said}");
    assert!(said.contains("take a new backup"), "{said}");
    let output = ledger(&["backups", "list", "--db", s(&db), "--backup-dir", s(&dir)]);
    assert!(text(&output).contains("FAILED"), "{}", text(&output));
}

#[test]
fn errors_name_the_file_and_what_to_do() {
    let env = populated(2);
    let db = env.config.path.clone();
    let dir = env.backups.dir.clone();
    let missing = env.path("no-such-backup.db");
    let output = ledger(&["verify", s(&missing)]);
    assert_eq!(output.status.code(), Some(2));
    assert!(text(&output).contains(s(&missing)), "{}", text(&output));

    let output = ledger(&[
        "restore",
        "--db",
        s(&db),
        "--backup-dir",
        s(&dir),
        "--latest",
        "--into",
        s(&db),
    ]);
    assert_eq!(output.status.code(), Some(2));
    let said = text(&output);
    assert!(said.contains(s(&db)) && said.contains("new path"), "{said}");

    let into = env.path("fresh.db");
    let output = ledger(&[
        "restore",
        "--db",
        s(&db),
        "--backup-dir",
        s(&dir),
        "--latest",
        "--into",
        s(&into),
    ]);
    assert_eq!(output.status.code(), Some(2));
    let said = text(&output);
    assert!(
        said.contains(s(&dir)) && said.contains("backups list"),
        "{said}"
    );

    let output = ledger(&[
        "restore",
        "--db",
        s(&db),
        "--to",
        "yesterday",
        "--into",
        s(&into),
    ]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        text(&output).contains("unix milliseconds"),
        "{}",
        text(&output)
    );
}

fn health_json(db: &Path) -> serde_json::Value {
    let output = ledger(&["health", "--json", "--db", s(db)]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    serde_json::from_slice(&output.stdout).expect("health --json is JSON")
}

fn problems(health: &serde_json::Value) -> Vec<String> {
    health["problems"]
        .as_array()
        .expect("problems")
        .iter()
        .map(|problem| problem["what"].as_str().unwrap_or_default().to_owned())
        .collect()
}

/// `health` reads the record `ledger backup` and `ledger verify` write: two verified backups
/// are seen as such, and each failed verification escalates WARN, DEGRADED, pruning paused.
#[test]
fn health_reads_the_backup_record_the_backup_commands_write() {
    let env = populated(5);
    let db = env.config.path.clone();
    let dir = env.backups.dir.clone();
    drop(env.ledger);
    let first = ledger(&["backup", "--db", s(&db), "--backup-dir", s(&dir)]);
    assert!(first.status.success(), "{}", text(&first));
    let second = ledger(&["backup", "--db", s(&db), "--backup-dir", s(&dir)]);
    assert!(second.status.success(), "{}", text(&second));
    let newest = backup_path(&second);

    let health = health_json(&db);
    assert!(
        !problems(&health).iter().any(|what| what.contains("backup")),
        "two verified backups, yet health says {:?}",
        problems(&health)
    );
    let backup = &health["metrics"]["backup"];
    assert_eq!(backup["health"], "healthy", "{backup}");
    assert_eq!(backup["last_verified_path"], newest.as_str(), "{backup}");

    let damaged = backup_path(&first);
    truncate_half(Path::new(&damaged));
    for (failures, level) in [(1, "warn"), (2, "degraded"), (3, "pruning_paused")] {
        let output = ledger(&["verify", &damaged, "--db", s(&db), "--backup-dir", s(&dir)]);
        assert_eq!(output.status.code(), Some(1), "{}", text(&output));
        let health = health_json(&db);
        let backup = &health["metrics"]["backup"];
        assert_eq!(backup["health"], level, "{backup}");
        assert_eq!(backup["consecutive_failures"], failures, "{backup}");
        assert_eq!(backup["last_verified_path"], newest.as_str(), "{backup}");
        let said = problems(&health);
        assert!(
            said.iter()
                .any(|what| what.contains(level) && what.contains(&damaged)),
            "health does not show the {level} escalation naming {damaged}: {said:?}"
        );
        assert_eq!(health["status"], "degraded", "{health}");
    }
}
