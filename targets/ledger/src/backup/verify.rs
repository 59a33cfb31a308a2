//! Proving a backup restorable: [`verify_backup_file`] and its [`VerifyReport`].
//!
//! Checks, in order, stopping at the first failure:
//! 1. `manifest`: `<backup>.json` exists and parses;
//! 2. `file_hash`: size and sha256 equal the manifest's (any bit flip);
//! 3. `integrity_check`: the file opened read-only passes `PRAGMA integrity_check`;
//! 4. `logical_hash`: the copy's captures and audit rows hash to the source's
//!    hash recorded from the backup's read snapshot;
//! 5. `restore_test`: a copy in a scratch directory opens through
//!    [`crate::Ledger::open_with`] (pragmas, WAL, migrations), passes
//!    `integrity_check` and has the same logical hash.

use std::fs;
use std::path::{Path, PathBuf};

use rusqlite::{Connection, OpenFlags};
use serde::{Deserialize, Serialize};

use super::error::BackupError;
use super::fsutil::{ScratchDir, file_sha256, parent_dir};
use super::integrity::integrity_problems;
use super::logical_hash::{self, LogicalHash};
use super::manifest::BackupManifest;
use crate::config::Config;
use crate::ledger::Ledger;

/// One check of a verification.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerifyCheck {
    /// `manifest`, `file_hash`, `integrity_check`, `logical_hash` or `restore_test`.
    pub name: String,
    /// Whether it held.
    pub passed: bool,
    /// What was found when it did not.
    pub detail: String,
}

/// The report of `ledger verify PATH`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerifyReport {
    /// The backup file.
    pub path: PathBuf,
    /// Every check passed.
    pub ok: bool,
    /// The checks run, in order (stops after the first failure).
    pub checks: Vec<VerifyCheck>,
    /// The logical content recorded at backup time.
    pub expected: Option<LogicalHash>,
    /// The logical content found in the copy.
    pub found: Option<LogicalHash>,
}

impl VerifyReport {
    /// The first failed check as `"name: detail"`, if any.
    pub fn failure(&self) -> Option<String> {
        self.checks
            .iter()
            .find(|check| !check.passed)
            .map(|check| format!("{}: {}", check.name, check.detail))
    }

    /// The report as a [`BackupError::VerificationFailed`], when it failed.
    pub fn into_error(self) -> Option<BackupError> {
        let detail = self.failure()?;
        Some(BackupError::VerificationFailed {
            path: self.path,
            detail,
        })
    }
}

struct Checks {
    report: VerifyReport,
}

impl Checks {
    fn pass(&mut self, name: &str) {
        self.report.checks.push(VerifyCheck {
            name: name.into(),
            passed: true,
            detail: String::new(),
        });
    }

    fn fail(mut self, name: &str, detail: String) -> VerifyReport {
        self.report.checks.push(VerifyCheck {
            name: name.into(),
            passed: false,
            detail,
        });
        self.report.ok = false;
        self.report
    }
}

/// Verify the backup at `path` (see the module doc). Failed checks are in
/// the report, not errors.
///
/// # Errors
/// [`BackupError::Io`] when no scratch directory can be made for the restore test.
pub fn verify_backup_file(path: &Path) -> Result<VerifyReport, BackupError> {
    let mut checks = Checks {
        report: VerifyReport {
            path: path.to_path_buf(),
            ok: true,
            checks: Vec::new(),
            expected: None,
            found: None,
        },
    };
    let manifest = match BackupManifest::load(path) {
        Ok(manifest) => manifest,
        Err(error) => return Ok(checks.fail("manifest", error.to_string())),
    };
    checks.pass("manifest");
    checks.report.expected = Some(manifest.logical.clone());
    if_mutant!(BackupVerifiedUnchecked, {
        return Ok(checks.report);
    });
    if let Err(detail) = check_file_hash(path, &manifest) {
        return Ok(checks.fail("file_hash", detail));
    }
    checks.pass("file_hash");
    let found = match check_read_only(path) {
        Ok(found) => found,
        Err((name, detail)) => return Ok(checks.fail(name, detail)),
    };
    checks.pass("integrity_check");
    checks.report.found = Some(found.clone());
    if found != manifest.logical {
        let detail = format!(
            "copy has {} captures, {} audit rows, hash {}; source snapshot had {} captures, {} audit rows, hash {}",
            found.captures,
            found.audit_rows,
            found.hash,
            manifest.logical.captures,
            manifest.logical.audit_rows,
            manifest.logical.hash
        );
        return Ok(checks.fail("logical_hash", detail));
    }
    checks.pass("logical_hash");
    match restore_test(path, &manifest.logical) {
        Ok(None) => checks.pass("restore_test"),
        Ok(Some(detail)) => return Ok(checks.fail("restore_test", detail)),
        Err(error) => return Err(error),
    }
    Ok(checks.report)
}

fn check_file_hash(path: &Path, manifest: &BackupManifest) -> Result<(), String> {
    let size = fs::metadata(path)
        .map_err(|error| format!("cannot stat the file: {error}"))?
        .len();
    if size != manifest.size_bytes {
        return Err(format!(
            "file is {size} bytes, the manifest says {} (truncated or extended)",
            manifest.size_bytes
        ));
    }
    let sha = file_sha256(path).map_err(|error| error.to_string())?;
    if sha != manifest.file_sha256 {
        return Err(format!(
            "sha256 {sha} differs from the manifest's {} (the file changed after it was written)",
            manifest.file_sha256
        ));
    }
    Ok(())
}

fn check_read_only(path: &Path) -> Result<LogicalHash, (&'static str, String)> {
    let fail = |error: rusqlite::Error| ("integrity_check", error.to_string());
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(fail)?;
    if let Some(problems) = integrity_problems(&conn).map_err(fail)? {
        return Err(("integrity_check", problems));
    }
    logical_hash::compute(&conn).map_err(|error| ("logical_hash", error.to_string()))
}

/// Copy `path` into a scratch directory, open it as a ledger, check it.
/// `Ok(Some(detail))` = the restore test failed.
pub(crate) fn restore_test(
    path: &Path,
    expected: &LogicalHash,
) -> Result<Option<String>, BackupError> {
    let scratch = ScratchDir::new(&parent_dir(path), "restore-test")?;
    let copy = scratch.path().join("ledger.db");
    fs::copy(path, &copy).map_err(BackupError::io("copy backup for the restore test", &copy))?;
    Ok(open_and_check(&copy, &scratch.path().join("vault"), Some(expected)).err())
}

/// Open `db` through the ledger's normal open, run `integrity_check` and
/// compare its content to `expected` (when given): the content found, or
/// the first problem.
pub(crate) fn open_and_check(
    db: &Path,
    vault: &Path,
    expected: Option<&LogicalHash>,
) -> Result<LogicalHash, String> {
    let config = Config::new(db, vault);
    #[cfg(feature = "mutants")]
    let config = crate::mutants::keep_active(config);
    let ledger = Ledger::open(&config)
        .map_err(|error| format!("the ledger cannot open the copy: {error}"))?;
    let conn = ledger.connection();
    if let Some(problems) =
        integrity_problems(conn).map_err(|error| format!("integrity_check: {error}"))?
    {
        return Err(format!("integrity_check after open: {problems}"));
    }
    let found = logical_hash::compute(conn).map_err(|error| format!("logical hash: {error}"))?;
    if let Some(expected) = expected.filter(|expected| **expected != found) {
        return Err(format!(
            "logical hash {} ({} captures) differs from the expected {} ({} captures)",
            found.hash, found.captures, expected.hash, expected.captures
        ));
    }
    ledger
        .close()
        .map_err(|error| format!("closing the copy: {error}"))?;
    Ok(found)
}
