//! `--set key=value`: [`Override`] changes one field of every selected scenario for one run.
//!
//! The key is a dotted path into the scenario file (`target.synchronous`, `iterations`,
//! `workload.operations`); the value is read as a TOML value (`5`, `true`, `"text"`, `[1, 2]`),
//! and as a plain string when it is not one (`normal`). The result goes through the same
//! validation as the file itself.

use std::str::FromStr;

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
}
