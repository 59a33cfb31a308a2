//! [`Registry`]: every scenario file under `scenarios/`, loaded and validated at once.
//!
//! Every bad file is reported, not just the first; names must be unique across families.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use super::file::ScenarioError;
use super::{Override, Scenario};

/// The loaded scenarios, sorted by family then name.
#[derive(Debug, Clone)]
pub struct Registry {
    scenarios: Vec<Scenario>,
}

/// Scenario files that could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// The scenarios directory itself cannot be read.
    #[error("cannot read scenario directory {path}: {source}; pass --scenarios DIR")]
    Unreadable {
        /// The directory.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// One or more files are invalid; each error names its file.
    #[error("{} invalid scenario file(s):\n{}", .0.len(), .0.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("\n"))]
    Invalid(Vec<ScenarioError>),
}

impl Registry {
    /// Loads `<dir>/<family>/*.toml` (sorted), applying `overrides` to each scenario.
    pub fn load(dir: &Path, overrides: &[Override]) -> Result<Registry, RegistryError> {
        let unreadable = |source| RegistryError::Unreadable {
            path: dir.to_owned(),
            source,
        };
        let mut files = Vec::new();
        for family in sorted_entries(dir).map_err(unreadable)? {
            if !family.is_dir() {
                continue;
            }
            for file in sorted_entries(&family).map_err(unreadable)? {
                if file.extension().is_some_and(|e| e == "toml") {
                    files.push((family_name(&family), file));
                }
            }
        }
        let mut scenarios = Vec::new();
        let mut errors = Vec::new();
        for (family, path) in files {
            match load_one(&path, &family, overrides) {
                Ok(s) => scenarios.push(s),
                Err(e) => errors.push(e),
            }
        }
        let mut seen: BTreeMap<String, PathBuf> = BTreeMap::new();
        for s in &scenarios {
            if let Some(first) = seen.insert(s.name.clone(), s.path.clone()) {
                errors.push(ScenarioError::whole_file(
                    &s.path,
                    format!(
                        "scenario name `{}` is already used by {}",
                        s.name,
                        first.display()
                    ),
                ));
            }
        }
        if !errors.is_empty() {
            return Err(RegistryError::Invalid(errors));
        }
        scenarios.sort_by(|a, b| (&a.family, &a.name).cmp(&(&b.family, &b.name)));
        Ok(Registry { scenarios })
    }

    /// All scenarios, sorted by family then name.
    pub fn scenarios(&self) -> &[Scenario] {
        &self.scenarios
    }

    /// The scenario with this exact name.
    pub fn get(&self, name: &str) -> Option<&Scenario> {
        self.scenarios.iter().find(|s| s.name == name)
    }

    /// At most `limit` scenario names closest to `name` (Jaro-Winkler at least 0.7, or
    /// containing it), best first: the suggestions for a name that does not exist.
    pub fn closest_names(&self, name: &str, limit: usize) -> Vec<String> {
        let mut scored: Vec<(f64, &str)> = self
            .scenarios
            .iter()
            .map(|s| {
                let contains = !name.is_empty() && s.name.contains(name);
                let score = if contains {
                    1.0
                } else {
                    strsim::jaro_winkler(name, &s.name)
                };
                (score, s.name.as_str())
            })
            .filter(|(score, _)| *score >= 0.7)
            .collect();
        scored.sort_by(|a, b| b.0.total_cmp(&a.0).then_with(|| a.1.cmp(b.1)));
        scored
            .into_iter()
            .take(limit)
            .map(|(_, n)| n.to_owned())
            .collect()
    }
}

fn load_one(path: &Path, family: &str, overrides: &[Override]) -> Result<Scenario, ScenarioError> {
    let text = fs::read_to_string(path)
        .map_err(|e| ScenarioError::whole_file(path, format!("cannot read: {e}")))?;
    let scenario = Scenario::parse(path, family, &text)?;
    if overrides.is_empty() {
        return Ok(scenario);
    }
    let mut table: toml::Table =
        toml::from_str(&text).map_err(|e| ScenarioError::whole_file(path, e.to_string()))?;
    for o in overrides {
        o.apply(&mut table)
            .map_err(|e| ScenarioError::whole_file(path, e.to_string()))?;
    }
    let described: Vec<&str> = overrides.iter().map(|o| o.text.as_str()).collect();
    Scenario::from_table(path, family, table).map_err(|m| {
        ScenarioError::whole_file(
            path,
            format!("after --set {}: {m}", described.join(" --set ")),
        )
    })
}

fn sorted_entries(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut entries = fs::read_dir(dir)?
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<Vec<_>, _>>()?;
    entries.sort();
    Ok(entries)
}

fn family_name(dir: &Path) -> String {
    dir.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, rel: &str, text: &str) {
        let path = dir.join(rel);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, text).unwrap();
    }

    const OK: &str = "name = \"a\"\ndescription = \"d\"\nchecks = [\"integrity\"]\n";

    #[test]
    fn loads_families_and_reports_every_bad_file() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "fam/a.toml", OK);
        write(
            dir.path(),
            "fam/b.toml",
            "name = \"b\"\ndescriptio = \"d\"\nchecks = []\n",
        );
        write(dir.path(), "other/c.toml", OK);
        let err = Registry::load(dir.path(), &[]).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("2 invalid scenario file(s)"), "{text}");
        assert!(
            text.contains("b.toml:2:1: unknown field `descriptio`"),
            "{text}"
        );
        assert!(text.contains("already used by"), "{text}");
    }

    #[test]
    fn closest_names_rank_typos_and_fragments_first() {
        let dir = tempfile::tempdir().unwrap();
        for name in ["kill-writer", "kill-writer-long", "baseline-mixed"] {
            write(
                dir.path(),
                &format!("fam/{name}.toml"),
                &OK.replace("\"a\"", &format!("\"{name}\"")),
            );
        }
        let reg = Registry::load(dir.path(), &[]).unwrap();
        assert_eq!(reg.closest_names("kill-writr", 5)[0], "kill-writer");
        assert_eq!(
            reg.closest_names("writer", 5),
            ["kill-writer", "kill-writer-long"]
        );
        assert!(reg.closest_names("nosuchscenario", 5).is_empty());
    }

    #[test]
    fn overrides_are_validated_like_the_file() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "fam/a.toml", OK);
        let good: Override = "target.synchronous=normal".parse().unwrap();
        let reg = Registry::load(dir.path(), &[good]).unwrap();
        assert_eq!(
            reg.get("a").unwrap().target.synchronous,
            ledger::Synchronous::Normal
        );
        assert_eq!(reg.get("a").unwrap().family, "fam");
        let bad: Override = "target.synchronous=sometimes".parse().unwrap();
        let err = Registry::load(dir.path(), &[bad]).unwrap_err().to_string();
        assert!(
            err.contains("after --set target.synchronous=sometimes"),
            "{err}"
        );
        assert!(err.contains("sometimes"), "{err}");
    }
}
