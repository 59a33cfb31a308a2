//! Verification catches damaged backups; skipped verification is caught by
//! the restore's own check.

use ledger::LedgerError;
use ledger::backup::{
    self, BackupError, BackupManifest, RestoreTarget, plan_restore, restore, verify_backup_file,
};

use crate::support::{Env, flip_bit, truncate_half};

fn unverified_backup(env: &mut Env) -> std::path::PathBuf {
    for n in 0..300 {
        env.stage(n);
    }
    let mut config = env.backups.clone();
    config.verify = false;
    let report = env.ledger.backup(&config).expect("backup");
    assert!(report.verification.is_none());
    report.path
}

fn failed_check(path: &std::path::Path) -> String {
    let report = verify_backup_file(path).expect("verification runs");
    assert!(!report.ok, "{report:?}");
    report.checks.last().expect("a check").name.clone()
}

#[test]
fn a_good_backup_passes_every_check() {
    let mut env = Env::new();
    let path = unverified_backup(&mut env);
    let report = verify_backup_file(&path).expect("verify");
    assert!(report.ok, "{report:?}");
    let names: Vec<_> = report.checks.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "manifest",
            "file_hash",
            "integrity_check",
            "logical_hash",
            "restore_test"
        ]
    );
}

#[test]
fn verification_catches_a_truncated_backup() {
    let mut env = Env::new();
    let path = unverified_backup(&mut env);
    truncate_half(&path);
    assert_eq!(failed_check(&path), "file_hash");
}

#[test]
fn verification_catches_a_bit_flip() {
    let mut env = Env::new();
    let path = unverified_backup(&mut env);
    let len = std::fs::metadata(&path).expect("stat").len() as usize;
    flip_bit(&path, len / 2 + 100);
    assert_eq!(failed_check(&path), "file_hash");
}

#[test]
fn a_bit_flip_with_a_matching_manifest_is_caught_by_the_database_checks() {
    let mut env = Env::new();
    let path = unverified_backup(&mut env);
    // Damage a b-tree page of `captures`, then make the manifest's file hash
    // agree, as if the damage happened before the hash was taken.
    let page_size = 4096;
    let len = std::fs::metadata(&path).expect("stat").len() as usize;
    for page in 2..len / page_size {
        flip_bit(&path, page * page_size + 8);
    }
    let mut manifest = BackupManifest::load(&path).expect("manifest");
    manifest.file_sha256 = sha_of(&path);
    manifest.store(&path).expect("store");
    let failed = failed_check(&path);
    assert!(
        failed == "integrity_check" || failed == "logical_hash",
        "{failed}"
    );
}

fn sha_of(path: &std::path::Path) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(std::fs::read(path).expect("read"))
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[test]
fn skipped_verification_and_a_truncated_backup_fail_the_restore_check() {
    let mut env = Env::new();
    let path = unverified_backup(&mut env);
    truncate_half(&path);
    let listed = backup::list_backups(&env.backups).expect("list");
    assert_eq!(listed.backups[0].state, backup::BackupState::Unverified);
    let into = env.path("restored.db");
    let plan = plan_restore(&env.backups, RestoreTarget::Latest, &into).expect("plan");
    assert_eq!(plan.snapshot, path);
    let error = restore(&plan).expect_err("a truncated snapshot must not restore");
    assert!(
        matches!(error, BackupError::RestoreCheckFailed { .. }),
        "{error}"
    );
    assert!(
        error.to_string().contains(&*path.to_string_lossy()),
        "{error}"
    );
    assert!(!into.exists(), "no restored file may appear");
    let ledger_error: LedgerError = error.into();
    assert_eq!(ledger_error.kind(), "backup");
}

#[test]
fn restore_of_an_intact_snapshot_equals_the_source() {
    let mut env = Env::new();
    let path = unverified_backup(&mut env);
    let into = env.path("restored.db");
    let plan = plan_restore(&env.backups, RestoreTarget::Latest, &into).expect("plan");
    let report = restore(&plan).expect("restore");
    assert_eq!(plan.snapshot, path);
    assert_eq!(report.logical, plan.snapshot_logical);
    assert_eq!(
        crate::support::dump_file(&into),
        crate::support::dump(env.ledger.connection())
    );
    let again = restore(&plan).expect_err("target exists now");
    assert!(matches!(again, BackupError::TargetExists { .. }), "{again}");
}
