//! One scenario file: [`Scenario`] = target config × workload × fault plan × checks × iterations.
//!
//! Files are TOML with kebab-case keys; unknown keys are errors. A parse error names the file,
//! line and column, and shows the offending line.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::engine::Family;
use crate::families::FaultPlan;
use crate::families::backup::plan::BackupSpec;
use crate::oracle::{CheckName, Phase};
use crate::perf::scenario::PerfSpec;

/// A scenario as loaded from `scenarios/<family>/<name>.toml`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Scenario {
    /// Unique name, used by filters, reports and `replay`.
    pub name: String,
    /// What the scenario shows, for people reading `list` and the report.
    pub description: String,
    /// Tags for filters (`smoke` marks the quick subset).
    #[serde(default)]
    pub tags: Vec<String>,
    /// Iterations per run; each gets its own seed.
    #[serde(default = "default_iterations")]
    pub iterations: u32,
    /// Seconds after which an iteration's worker is killed and the iteration is an error.
    #[serde(default = "default_timeout_secs")]
    pub timeout_secs: u64,
    /// Ledger configuration (pragmas).
    #[serde(default)]
    pub target: ledger::Tuning,
    /// What operations the ledger is driven with.
    #[serde(default)]
    pub workload: WorkloadSpec,
    /// What is injected.
    #[serde(default)]
    pub fault: FaultPlan,
    /// Checks run after the workload (and the fault, and a reopen); may be empty for a perf
    /// scenario, whose checks are its ratio gate and plan check.
    #[serde(default)]
    pub checks: Vec<CheckName>,
    /// The iteration passes when exactly these checks fail (and every other holds); used by
    /// capsules of planted bugs (`target.mutant`), which prove the harness still catches them.
    /// Strict: if a listed check holds, the iteration fails. Empty (the default): every check
    /// must hold.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub expected_failures: Vec<CheckName>,
    /// A fixed case (a regression capsule): this seed and these operations instead of generated
    /// ones.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capsule: Option<Capsule>,
    /// A performance check instead of a fault workload (the `perf/` family).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub perf: Option<PerfSpec>,
    /// A backup drill run around the workload (the `backup/` family).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backup: Option<BackupSpec>,
    /// Family: the folder the file sits in. Set by the loader, not written in the file.
    #[serde(skip)]
    pub family: String,
    /// Where the scenario was loaded from. Set by the loader.
    #[serde(skip)]
    pub path: PathBuf,
}

fn default_iterations() -> u32 {
    1
}

fn default_timeout_secs() -> u64 {
    60
}

/// A failing case frozen into a scenario file: it replays with the same trace digest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Capsule {
    /// The iteration seed, used as is (not derived from a base seed). Written as a string:
    /// TOML integers stop at `i64::MAX` and seeds use all 64 bits.
    #[serde(with = "seed_text")]
    pub seed: u64,
    /// The trace digest the case produced when it was captured.
    pub digest: String,
    /// The scenario and iteration it was found in, for the record.
    pub found_in: String,
    /// The (minimised) operations.
    pub operations: Vec<crate::workload::Operation>,
}

/// A `u64` written as a decimal string, read from a string or an integer.
mod seed_text {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(seed: &u64, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&seed.to_string())
    }

    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Text {
        Int(u64),
        Str(String),
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
        match Text::deserialize(d)? {
            Text::Int(n) => Ok(n),
            Text::Str(s) => s.parse().map_err(serde::de::Error::custom),
        }
    }
}

/// The kind and size of the workload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields, default)]
pub struct WorkloadSpec {
    /// Which generator.
    pub kind: WorkloadKind,
    /// Number of operations per iteration.
    pub operations: usize,
    /// `PRAGMA wal_autocheckpoint` (pages) set on the ledger's connection after it opens, so a
    /// small value puts checkpoints inside the workload; absent = SQLite's default (1000).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wal_autocheckpoint: Option<u32>,
    /// Emails of 5,000..12,000 bytes instead of 40..400: larger than a 4 KiB page, so their
    /// rows spill into overflow pages (and a prune frees whole chains of them).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub large_emails: bool,
}

impl Default for WorkloadSpec {
    fn default() -> Self {
        WorkloadSpec {
            kind: WorkloadKind::CapturePipeline,
            operations: 60,
            wal_autocheckpoint: None,
            large_emails: false,
        }
    }
}

/// Workload generators.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum WorkloadKind {
    /// Bursts of stages, transcriptions, failures, exports, duplicates and prunes, like the
    /// capture pipeline of the note app.
    CapturePipeline,
    /// The capture pipeline with the ledger's housekeeping woven in: six fixed operations first
    /// (a failed transcription exported as a placeholder, an email transcribed and exported, so
    /// every capture fail point is reached whatever the seed), then after every quarter two of
    /// backup, guarded prune, archived checkpoint, maintenance and restore (in a fixed rotation,
    /// so every kind appears in every plan and a restore always follows a backup). The plan is
    /// 14 operations longer than `operations`.
    PipelineWithBackups,
}

/// A scenario file that could not be used, with its location.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ScenarioError {
    /// The file.
    pub path: PathBuf,
    /// 1-based line and column, when known.
    pub position: Option<(usize, usize)>,
    /// What is wrong.
    pub message: String,
    /// The offending source line, when known.
    pub source_line: Option<String>,
}

impl fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.position {
            Some((line, col)) => {
                write!(f, "{}:{line}:{col}: {}", self.path.display(), self.message)?
            }
            None => write!(f, "{}: {}", self.path.display(), self.message)?,
        }
        if let (Some(text), Some((line, col))) = (&self.source_line, self.position) {
            let gutter = line.to_string().len();
            write!(
                f,
                "\n{:gutter$} |\n{line} | {text}\n{:gutter$} | {:>col$}",
                "", "", "^"
            )?;
        }
        Ok(())
    }
}

impl ScenarioError {
    /// An error at a byte span of `source`.
    pub fn at_span(
        path: &Path,
        source: &str,
        span: Option<std::ops::Range<usize>>,
        message: String,
    ) -> ScenarioError {
        let position = span.map(|s| line_col(source, s.start));
        let source_line = position
            .and_then(|(line, _)| source.lines().nth(line - 1))
            .map(str::to_owned);
        ScenarioError {
            path: path.to_owned(),
            position,
            message,
            source_line,
        }
    }

    /// An error about the file as a whole.
    pub fn whole_file(path: &Path, message: String) -> ScenarioError {
        ScenarioError {
            path: path.to_owned(),
            position: None,
            message,
            source_line: None,
        }
    }
}

/// 1-based (line, column) of a byte offset.
fn line_col(source: &str, offset: usize) -> (usize, usize) {
    let before = &source[..offset.min(source.len())];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
}

impl Scenario {
    /// Parses a scenario from TOML text; `family` comes from the folder.
    pub fn parse(path: &Path, family: &str, text: &str) -> Result<Scenario, ScenarioError> {
        let mut scenario: Scenario = toml::from_str(text)
            .map_err(|e| ScenarioError::at_span(path, text, e.span(), e.message().to_owned()))?;
        scenario.family = family.to_owned();
        scenario.path = path.to_owned();
        scenario
            .validate()
            .map_err(|m| ScenarioError::whole_file(path, m))?;
        Ok(scenario)
    }

    /// Builds a scenario from an already parsed table (after `--set` overrides).
    pub fn from_table(path: &Path, family: &str, table: toml::Table) -> Result<Scenario, String> {
        let mut scenario: Scenario = table
            .try_into()
            .map_err(|e: toml::de::Error| e.message().to_owned())?;
        scenario.family = family.to_owned();
        scenario.path = path.to_owned();
        scenario.validate()?;
        Ok(scenario)
    }

    /// The family that runs this scenario: the `[perf]` or `[backup]` table when there is one
    /// (validation makes sure it comes without a `[fault]`), else the fault plan's.
    pub fn family(&self) -> &dyn Family {
        if let Some(perf) = &self.perf {
            return perf;
        }
        if let Some(backup) = &self.backup {
            return backup;
        }
        self.fault.family()
    }

    /// True when the same seed always gives the same trace (its family's faults are free of
    /// timing; a perf measurement never is: re-running a failed one is re-measuring it, not
    /// shrinking it).
    pub fn is_deterministic(&self) -> bool {
        self.family().is_deterministic()
    }

    /// Checks what serde cannot: sizes, names, non-empty lists.
    fn validate(&self) -> Result<(), String> {
        let name_ok = !self.name.is_empty()
            && self
                .name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        if !name_ok {
            return Err(format!(
                "scenario name `{}` must be non-empty kebab-case (a-z, 0-9, -)",
                self.name
            ));
        }
        if self.iterations == 0 {
            return Err("`iterations` must be at least 1".into());
        }
        if self.timeout_secs == 0 {
            return Err("`timeout-secs` must be at least 1".into());
        }
        if self.workload.operations == 0 {
            return Err("`workload.operations` must be at least 1".into());
        }
        let tables = [
            self.perf.is_some().then_some("[perf]"),
            self.backup.is_some().then_some("[backup]"),
            (self.fault != FaultPlan::None).then_some("[fault]"),
        ];
        let tables: Vec<&str> = tables.into_iter().flatten().collect();
        if tables.len() > 1 {
            return Err(format!(
                "a scenario has one family: {} cannot come together",
                tables.join(" and ")
            ));
        }
        if self.checks.is_empty() && self.perf.is_none() {
            return Err("`checks` must name at least one check".into());
        }
        if self
            .capsule
            .as_ref()
            .is_some_and(|c| c.operations.is_empty())
        {
            return Err("`capsule.operations` must hold at least one operation".into());
        }
        if let Some(check) = self.checks.iter().find(|c| c.phase() == Phase::Drive) {
            return Err(format!(
                "`checks` lists `{check}`, which the {} family's drive judges by itself: \
                 remove it from `checks`",
                self.family().name()
            ));
        }
        let in_fault = self.fault != FaultPlan::None;
        self.family()
            .validate(self)
            .map_err(|e| if in_fault { format!("[fault]: {e}") } else { e })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
name = "baseline-mixed"
description = "no fault"
tags = ["smoke"]
iterations = 3
checks = ["integrity", "state_machine"]

[target]
synchronous = "normal"

[workload]
operations = 10
"#;

    #[test]
    fn parses_a_good_file() {
        let s = Scenario::parse(Path::new("scenarios/baseline/x.toml"), "baseline", GOOD).unwrap();
        assert_eq!(s.name, "baseline-mixed");
        assert_eq!(s.family, "baseline");
        assert_eq!(s.iterations, 3);
        assert_eq!(s.workload.operations, 10);
        assert_eq!(s.target.synchronous, ledger::Synchronous::Normal);
        assert_eq!(s.fault, FaultPlan::None);
    }

    #[test]
    fn a_typo_names_file_line_and_column() {
        let text = GOOD.replace("synchronous", "synchronus");
        let err =
            Scenario::parse(Path::new("scenarios/baseline/x.toml"), "baseline", &text).unwrap_err();
        assert_eq!(err.position, Some((9, 1)));
        let shown = err.to_string();
        assert!(
            shown.starts_with("scenarios/baseline/x.toml:9:1: unknown field `synchronus`"),
            "{shown}"
        );
        assert!(shown.contains("synchronus = \"normal\""), "{shown}");
    }

    #[test]
    fn an_unknown_check_is_an_error() {
        let text = GOOD.replace("\"integrity\"", "\"integrty\"");
        let err = Scenario::parse(Path::new("x.toml"), "f", &text).unwrap_err();
        assert!(err.message.contains("integrty"), "{}", err.message);
        assert_eq!(err.position.map(|p| p.0), Some(6));
    }

    #[test]
    fn semantic_errors_name_the_file() {
        let text = GOOD.replace("iterations = 3", "iterations = 0");
        let err = Scenario::parse(Path::new("x.toml"), "f", &text).unwrap_err();
        assert_eq!(err.to_string(), "x.toml: `iterations` must be at least 1");
    }

    #[test]
    fn a_check_only_a_drive_judges_cannot_be_listed() {
        for check in ["fault_response", "contention_absorbed"] {
            let text = GOOD.replace(
                r#"checks = ["integrity", "state_machine"]"#,
                &format!(r#"checks = ["integrity", "{check}"]"#),
            );
            let err = Scenario::parse(Path::new("x.toml"), "f", &text).unwrap_err();
            assert!(err.to_string().contains(check), "{err}");
        }
        let backups = GOOD.replace(
            r#"checks = ["integrity", "state_machine"]"#,
            r#"checks = ["integrity", "backups_restorable"]"#,
        );
        Scenario::parse(Path::new("x.toml"), "f", &backups).expect("judged after reopening too");
    }

    #[test]
    fn a_scenario_has_one_family() {
        let text =
            format!("{GOOD}\n[fault]\nkind = \"process-kill\"\n[backup]\ndrill = \"drill\"\n");
        let err = Scenario::parse(Path::new("x.toml"), "f", &text).unwrap_err();
        assert!(err.to_string().contains("[backup] and [fault]"), "{err}");
        let kill = format!("{GOOD}\n[fault]\nkind = \"process-kill\"\n");
        let s = Scenario::parse(Path::new("x.toml"), "f", &kill).expect("one family");
        assert_eq!(s.family().name(), "process");
        assert!(!s.is_deterministic());
    }
}
