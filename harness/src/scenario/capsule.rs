//! [`write_capsule`]: freezes a failing case into a scenario file under
//! `scenarios/regressions/`, so it replays with the same digest and runs in every CI run (it is
//! tagged `smoke`, and the default run takes every family).

use std::path::{Path, PathBuf};

use super::file::{Capsule, Scenario};
use crate::workload::Operation;

/// What a capsule is made from.
#[derive(Debug, Clone)]
pub struct CapsuleSource<'a> {
    /// The scenario the failure was found in.
    pub scenario: &'a Scenario,
    /// The iteration it was found in.
    pub iteration: u32,
    /// The run's base seed.
    pub base_seed: u64,
    /// The iteration seed.
    pub seed: u64,
    /// The operations (minimised, when shrinking ran).
    pub operations: Vec<Operation>,
    /// The digest of the (minimised) case's trace.
    pub digest: String,
    /// One line saying what failed.
    pub finding: String,
}

/// The scenario a capsule file holds: the original's target, fault and checks, with the case's
/// seed and operations fixed.
pub fn capsule_scenario(source: &CapsuleSource<'_>) -> Scenario {
    let original = source.scenario;
    let mut scenario = original.clone();
    scenario.name = format!("regression-{}-{:08x}", original.name, source.seed as u32);
    scenario.description = format!(
        "Regression capsule: {} Found in {} iteration {} (base seed {}); {} operations. Original scenario: {}",
        source.finding,
        original.name,
        source.iteration,
        source.base_seed,
        source.operations.len(),
        original.description
    );
    scenario.tags = vec!["regression".to_owned(), "smoke".to_owned()];
    scenario.iterations = 1;
    scenario.capsule = Some(Capsule {
        seed: source.seed,
        digest: source.digest.clone(),
        found_in: format!(
            "{} iteration {} base seed {}",
            original.name, source.iteration, source.base_seed
        ),
        operations: source.operations.clone(),
    });
    scenario
}

/// Writes the capsule as `<dir>/<name>.toml` and returns its path.
pub fn write_capsule(dir: &Path, source: &CapsuleSource<'_>) -> std::io::Result<PathBuf> {
    let scenario = capsule_scenario(source);
    let text = toml::to_string_pretty(&scenario).map_err(std::io::Error::other)?;
    std::fs::create_dir_all(dir)?;
    let path = dir.join(format!("{}.toml", scenario.name));
    reports::write_file_atomically(&path, text.as_bytes())?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::WorkloadSpec;
    use crate::workload::generate;

    #[test]
    fn a_capsule_reads_back_as_the_same_case() {
        let original = Scenario::parse(
            Path::new("scenarios/process-crash/kill-writer.toml"),
            "process-crash",
            "name = \"kill-writer\"\ndescription = \"d\"\nchecks = [\"integrity\"]\n[fault]\nkind = \"process-kill\"\n",
        )
        .unwrap();
        let operations = generate(&WorkloadSpec::default(), 9)[..5].to_vec();
        let source = CapsuleSource {
            scenario: &original,
            iteration: 3,
            base_seed: 1,
            seed: 0xdead_beef,
            operations: operations.clone(),
            digest: "abc".into(),
            finding: "acknowledged_durable: 1 lost.".into(),
        };
        let dir = tempfile::tempdir().unwrap();
        let path = write_capsule(dir.path(), &source).unwrap();
        assert!(path.ends_with("regression-kill-writer-deadbeef.toml"));
        let text = std::fs::read_to_string(&path).unwrap();
        let back = Scenario::parse(&path, "regressions", &text).unwrap();
        let capsule = back.capsule.as_ref().unwrap();
        assert_eq!(capsule.operations, operations);
        assert_eq!(capsule.seed, 0xdead_beef);
        assert_eq!(back.fault, original.fault);
        assert_eq!(back.tags, ["regression", "smoke"]);
    }
}
