//! Where the scenario files are, found at run time: [`locate`].
//!
//! The binary carries no path of the machine that built it. In order: `--scenarios DIR`; the
//! `RESILIENCE_SCENARIOS` environment variable; a `scenarios/` folder in the current directory
//! or one of its parents (running from anywhere inside a checkout); a `scenarios/` folder next
//! to the executable or in one of its parents (`target/release/resilience` of a checkout, or a
//! binary installed beside its scenarios).

use std::path::{Path, PathBuf};

use super::UsageError;

/// The environment variable naming the scenarios directory.
pub const SCENARIOS_ENV: &str = "RESILIENCE_SCENARIOS";

/// The folder name searched for.
const FOLDER: &str = "scenarios";

/// The scenarios directory: `explicit` when given, else the first place of the search order
/// (see the module doc) that holds one; the error lists every place looked at.
pub fn locate(explicit: Option<&Path>) -> Result<PathBuf, UsageError> {
    if let Some(dir) = explicit {
        return Ok(dir.to_owned());
    }
    let from_env = std::env::var_os(SCENARIOS_ENV).map(PathBuf::from);
    let cwd = std::env::current_dir().ok();
    let exe_dir = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(Path::to_owned));
    search(from_env, cwd.as_deref(), exe_dir.as_deref())
}

/// The search itself, over the given starting points (separate from the process's own state
/// so that it can be tested).
fn search(
    from_env: Option<PathBuf>,
    cwd: Option<&Path>,
    exe_dir: Option<&Path>,
) -> Result<PathBuf, UsageError> {
    if let Some(dir) = from_env {
        return if dir.is_dir() {
            Ok(dir)
        } else {
            Err(UsageError(format!(
                "{SCENARIOS_ENV}={} is not a directory",
                dir.display()
            )))
        };
    }
    let mut looked = Vec::new();
    for start in [cwd, exe_dir].into_iter().flatten() {
        for ancestor in start.ancestors() {
            let candidate = ancestor.join(FOLDER);
            if candidate.is_dir() {
                return Ok(candidate);
            }
            if !looked.contains(&candidate) {
                looked.push(candidate);
            }
        }
    }
    Err(UsageError(format!(
        "cannot find the scenarios directory; looked in {SCENARIOS_ENV} (unset) and {}; \
         pass --scenarios DIR or set {SCENARIOS_ENV}",
        looked
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_environment_variable_wins_over_the_search() {
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(root.path().join("scenarios")).unwrap();
        let elsewhere = tempfile::tempdir().unwrap();
        let found = search(Some(elsewhere.path().to_owned()), Some(root.path()), None).unwrap();
        assert_eq!(found, elsewhere.path());
        let missing = search(Some(root.path().join("nope")), Some(root.path()), None);
        assert!(missing.unwrap_err().0.contains("is not a directory"));
    }

    #[test]
    fn a_parent_of_the_current_directory_holding_scenarios_is_found() {
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(root.path().join("scenarios")).unwrap();
        let deep = root.path().join("harness/src");
        std::fs::create_dir_all(&deep).unwrap();
        assert_eq!(
            search(None, Some(&deep), None).unwrap(),
            root.path().join("scenarios")
        );
    }

    #[test]
    fn the_executables_checkout_is_searched_after_the_current_directory() {
        let checkout = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(checkout.path().join("scenarios")).unwrap();
        let exe_dir = checkout.path().join("target/release");
        std::fs::create_dir_all(&exe_dir).unwrap();
        let cwd = tempfile::tempdir().unwrap();
        assert_eq!(
            search(None, Some(cwd.path()), Some(&exe_dir)).unwrap(),
            checkout.path().join("scenarios")
        );
    }

    #[test]
    fn the_error_lists_where_it_looked() {
        let cwd = tempfile::tempdir().unwrap();
        let error = search(None, Some(cwd.path()), None).unwrap_err().0;
        assert!(
            error.contains(&cwd.path().join("scenarios").display().to_string()),
            "{error}"
        );
        assert!(error.contains(SCENARIOS_ENV), "{error}");
    }

    #[test]
    fn a_place_is_listed_once_when_the_executable_sits_in_the_current_directory() {
        let cwd = tempfile::tempdir().unwrap();
        let error = search(None, Some(cwd.path()), Some(cwd.path()))
            .unwrap_err()
            .0;
        let place = cwd.path().join("scenarios").display().to_string();
        assert_eq!(error.matches(&place).count(), 1, "{error}");
    }
}
