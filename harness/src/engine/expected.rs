//! `expected-failures`: an iteration that passes when exactly the listed checks fail
//! ([`judge`]), for regression capsules of planted bugs.

use reports::CheckResult;

use crate::oracle::CheckName;

/// Name of the verdict added when the failing checks are not exactly the expected ones.
pub const EXPECTED_FAILURES: &str = "expected_failures";

/// With no expected failures, `false` and `checks` untouched. Otherwise: `true` when the
/// failing checks are exactly `expected` (the iteration passes); if not, a failing
/// `expected_failures` verdict is appended saying what differed, and `false`.
pub fn judge(expected: &[CheckName], checks: &mut Vec<CheckResult>) -> bool {
    if expected.is_empty() {
        return false;
    }
    let mut want: Vec<&str> = expected.iter().map(|c| c.as_str()).collect();
    want.sort_unstable();
    want.dedup();
    let mut failed: Vec<&str> = checks
        .iter()
        .filter(|c| !c.passed)
        .map(|c| c.name.as_str())
        .collect();
    failed.sort_unstable();
    failed.dedup();
    if failed == want {
        return true;
    }
    let detail = format!(
        "expected exactly {want:?} to fail (the planted bug must still be caught), but {failed:?} failed"
    );
    checks.push(CheckResult {
        name: EXPECTED_FAILURES.to_owned(),
        passed: false,
        detail,
    });
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(name: &str, passed: bool) -> CheckResult {
        CheckResult {
            name: name.into(),
            passed,
            detail: String::new(),
        }
    }

    #[test]
    fn nothing_expected_changes_nothing() {
        let mut checks = vec![check("integrity", false)];
        assert!(!judge(&[], &mut checks));
        assert_eq!(checks.len(), 1);
    }

    #[test]
    fn exactly_the_expected_failures_pass() {
        let mut checks = vec![check("integrity", true), check("recovery_complete", false)];
        assert!(judge(&[CheckName::RecoveryComplete], &mut checks));
        assert_eq!(checks.len(), 2);
    }

    #[test]
    fn an_expected_failure_that_holds_fails_the_iteration() {
        let mut checks = vec![check("integrity", true), check("recovery_complete", true)];
        assert!(!judge(&[CheckName::RecoveryComplete], &mut checks));
        let added = checks.last().unwrap();
        assert_eq!(added.name, EXPECTED_FAILURES);
        assert!(!added.passed);
        assert!(
            added.detail.contains("recovery_complete"),
            "{}",
            added.detail
        );
    }

    #[test]
    fn an_unexpected_failure_fails_the_iteration() {
        let mut checks = vec![check("integrity", false), check("recovery_complete", false)];
        assert!(!judge(&[CheckName::RecoveryComplete], &mut checks));
    }
}
