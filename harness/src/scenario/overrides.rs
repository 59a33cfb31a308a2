//! `--set key=value`: [`Override`] changes one field of every selected scenario for one run.
//!
//! The key is a dotted path into the scenario file (`target.synchronous`, `iterations`,
//! `workload.operations`); the value is read as a TOML value (`5`, `true`, `"text"`, `[1, 2]`),
//! and as a plain string when it is not one (`normal`). The result goes through the same
//! validation as the file itself. [`apply_overrides`] applies them to the scenarios a command
//! selected, and reports each distinct problem once, naming the scenarios it concerns.

use std::collections::BTreeMap;
use std::str::FromStr;

use super::Scenario;

/// One `key=value` override.
#[derive(Debug, Clone, PartialEq)]
pub struct Override {
    /// Dotted path of the field.
    pub key: Vec<String>,
    /// The value to put there.
    pub value: toml::Value,
    /// The text as given, for error messages.
    pub text: String,
}

/// A malformed `--set` argument.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid --set `{text}`: {reason}")]
pub struct OverrideError {
    /// The argument as given.
    pub text: String,
    /// What is wrong with it.
    pub reason: String,
}

impl FromStr for Override {
    type Err = OverrideError;

    fn from_str(text: &str) -> Result<Override, OverrideError> {
        let err = |reason: &str| OverrideError {
            text: text.to_owned(),
            reason: reason.to_owned(),
        };
        let (key, raw) = text
            .split_once('=')
            .ok_or_else(|| err("expected KEY=VALUE, e.g. target.synchronous=normal"))?;
        let key: Vec<String> = key.trim().split('.').map(str::to_owned).collect();
        if key.iter().any(|part| part.is_empty()) {
            return Err(err(
                "the key must be a dotted path such as target.synchronous",
            ));
        }
        let value = parse_value(raw.trim());
        Ok(Override {
            key,
            value,
            text: text.to_owned(),
        })
    }
}

/// Reads `raw` as a TOML value, or as a string when it is not valid TOML.
fn parse_value(raw: &str) -> toml::Value {
    toml::from_str::<toml::Table>(&format!("v = {raw}"))
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or_else(|| toml::Value::String(raw.to_owned()))
}

impl Override {
    /// Writes the value into `table`, creating intermediate tables as needed.
    pub fn apply(&self, table: &mut toml::Table) -> Result<(), OverrideError> {
        let (last, parents) = self.key.split_last().expect("key is never empty");
        let mut current = table;
        for part in parents {
            let entry = current
                .entry(part.clone())
                .or_insert_with(|| toml::Value::Table(toml::Table::new()));
            current = entry.as_table_mut().ok_or_else(|| OverrideError {
                text: self.text.clone(),
                reason: format!("`{part}` is not a table in this scenario"),
            })?;
        }
        current.insert(last.clone(), self.value.clone());
        Ok(())
    }
}

/// `--set` values that the selected scenarios refuse: each distinct reason once, with the
/// scenarios it concerns.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", describe_rejections(.0))]
pub struct OverridesRejected(pub Vec<Rejection>);

/// One reason the overrides were refused, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    /// The `--set` arguments as given, joined.
    pub overrides: String,
    /// What is wrong (the same text for every scenario in `scenarios`).
    pub reason: String,
    /// The selected scenarios that refuse it.
    pub scenarios: Vec<String>,
}

/// Most scenario names listed in one rejection before "and N more".
const NAMES_SHOWN: usize = 5;

fn describe_rejections(rejections: &[Rejection]) -> String {
    rejections
        .iter()
        .map(|r| {
            let shown: Vec<&str> = r
                .scenarios
                .iter()
                .take(NAMES_SHOWN)
                .map(String::as_str)
                .collect();
            let more = r.scenarios.len().saturating_sub(NAMES_SHOWN);
            format!(
                "--set {}: {} (in {} selected scenario{}: {}{})",
                r.overrides,
                r.reason,
                r.scenarios.len(),
                if r.scenarios.len() == 1 { "" } else { "s" },
                shown.join(", "),
                if more > 0 {
                    format!(" and {more} more")
                } else {
                    String::new()
                }
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The `scenarios` with every override applied (each re-read from its file and validated like
/// the file itself). Scenarios not given here are never looked at, so a value only some
/// scenarios refuse is an error only when one of those is selected.
pub fn apply_overrides(
    scenarios: &[Scenario],
    overrides: &[Override],
) -> Result<Vec<Scenario>, OverridesRejected> {
    if overrides.is_empty() {
        return Ok(scenarios.to_vec());
    }
    let described = overrides
        .iter()
        .map(|o| o.text.as_str())
        .collect::<Vec<_>>()
        .join(" --set ");
    let mut applied = Vec::new();
    let mut refused: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for scenario in scenarios {
        match override_one(scenario, overrides) {
            Ok(s) => applied.push(s),
            Err(reason) => refused
                .entry(reason)
                .or_default()
                .push(scenario.name.clone()),
        }
    }
    if refused.is_empty() {
        return Ok(applied);
    }
    Err(OverridesRejected(
        refused
            .into_iter()
            .map(|(reason, scenarios)| Rejection {
                overrides: described.clone(),
                reason,
                scenarios,
            })
            .collect(),
    ))
}

/// One scenario, re-read from its file, with `overrides` applied; the reason when refused.
fn override_one(scenario: &Scenario, overrides: &[Override]) -> Result<Scenario, String> {
    let text = std::fs::read_to_string(&scenario.path)
        .map_err(|e| format!("cannot read {}: {e}", scenario.path.display()))?;
    let mut table: toml::Table = toml::from_str(&text).map_err(|e| e.message().to_owned())?;
    for o in overrides {
        o.apply(&mut table).map_err(|e| e.reason)?;
    }
    Scenario::from_table(&scenario.path, &scenario.family, table)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_toml_or_plain_strings() {
        let o: Override = "target.synchronous=normal".parse().unwrap();
        assert_eq!(o.key, ["target", "synchronous"]);
        assert_eq!(o.value, toml::Value::String("normal".into()));
        let o: Override = "iterations=5".parse().unwrap();
        assert_eq!(o.value, toml::Value::Integer(5));
        let o: Override = "target.foreign-keys=false".parse().unwrap();
        assert_eq!(o.value, toml::Value::Boolean(false));
    }

    #[test]
    fn malformed_arguments_are_refused() {
        assert!("iterations".parse::<Override>().is_err());
        assert!("target..x=1".parse::<Override>().is_err());
    }

    #[test]
    fn apply_creates_missing_tables_and_refuses_scalars() {
        let mut table = toml::Table::new();
        table.insert("name".into(), toml::Value::String("x".into()));
        "target.synchronous=off"
            .parse::<Override>()
            .unwrap()
            .apply(&mut table)
            .unwrap();
        assert_eq!(table["target"]["synchronous"].as_str(), Some("off"));
        let err = "name.inner=1"
            .parse::<Override>()
            .unwrap()
            .apply(&mut table)
            .unwrap_err();
        assert!(err.reason.contains("not a table"));
    }

    fn scenario_file(dir: &std::path::Path, name: &str, extra: &str) -> Scenario {
        let text =
            format!("name = \"{name}\"\ndescription = \"d\"\nchecks = [\"integrity\"]\n{extra}");
        let path = dir.join(format!("{name}.toml"));
        std::fs::write(&path, &text).unwrap();
        Scenario::parse(&path, "fam", &text).unwrap()
    }

    #[test]
    fn a_refused_value_is_reported_once_for_every_scenario_it_concerns() {
        let dir = tempfile::tempdir().unwrap();
        let scenarios: Vec<Scenario> = ["a", "b", "c"]
            .iter()
            .map(|n| scenario_file(dir.path(), n, ""))
            .collect();
        let bad: Override = "target.synchronous=sometimes".parse().unwrap();
        let err = apply_overrides(&scenarios, &[bad]).unwrap_err();
        assert_eq!(err.0.len(), 1, "{err}");
        assert_eq!(err.0[0].scenarios, ["a", "b", "c"]);
        let text = err.to_string();
        assert_eq!(text.matches("sometimes").count(), 2, "{text}");
        assert!(
            text.starts_with("--set target.synchronous=sometimes: unknown variant"),
            "{text}"
        );
        assert!(text.contains("in 3 selected scenarios: a, b, c"), "{text}");
    }
}
