//! A production build carries no planted bug: without the `mutants` feature the
//! `ledger` binary contains none of the mutant names (with it, all of them,
//! which shows the search finds them), and the default features enable
//! neither `mutants` nor `failpoints`.

use std::collections::BTreeSet;

/// The catalogue's source: the `mutants` module itself is compiled only with the feature.
const MUTANTS_SOURCE: &str = include_str!("../../src/mutants.rs");
const MANIFEST: &str = include_str!("../../Cargo.toml");

/// Every name in `ledger::mutants::CATALOGUE` (its `name: "…",` lines).
fn catalogued_names() -> Vec<&'static str> {
    MUTANTS_SOURCE
        .lines()
        .filter_map(|line| line.trim().strip_prefix("name: \"")?.strip_suffix("\","))
        .collect()
}

#[test]
fn the_ledger_binary_names_mutants_only_when_built_with_them() {
    let names = catalogued_names();
    assert!(names.len() >= 16, "catalogue parse found only {names:?}");
    let binary = std::fs::read(env!("CARGO_BIN_EXE_ledger")).expect("read the ledger binary");
    let text = String::from_utf8_lossy(&binary);
    let found: Vec<&str> = names
        .iter()
        .copied()
        .filter(|name| text.contains(name))
        .collect();
    if cfg!(feature = "mutants") {
        assert_eq!(found, names, "a mutants build should carry every name");
    } else {
        assert!(
            found.is_empty(),
            "a build without `mutants` carries {found:?}"
        );
    }
}

/// The features `default` turns on, directly or through other features.
fn default_features(manifest: &toml::Table) -> BTreeSet<String> {
    let features = manifest
        .get("features")
        .and_then(toml::Value::as_table)
        .cloned()
        .unwrap_or_default();
    let mut enabled = BTreeSet::new();
    let mut pending = vec!["default".to_owned()];
    while let Some(feature) = pending.pop() {
        let implied = features.get(&feature).and_then(toml::Value::as_array);
        for next in implied
            .into_iter()
            .flatten()
            .filter_map(toml::Value::as_str)
        {
            if enabled.insert(next.to_owned()) {
                pending.push(next.to_owned());
            }
        }
    }
    enabled
}

#[test]
fn default_features_enable_neither_mutants_nor_failpoints() {
    let manifest: toml::Table = MANIFEST.parse().expect("parse Cargo.toml");
    let features = manifest["features"].as_table().expect("[features]");
    assert!(features.contains_key("mutants") && features.contains_key("failpoints"));
    let defaults = default_features(&manifest);
    let unwanted: Vec<&String> = defaults
        .iter()
        .filter(|f| ["mutants", "failpoints", "fail/failpoints"].contains(&f.as_str()))
        .collect();
    assert!(unwanted.is_empty(), "default features enable {unwanted:?}");
}

#[test]
fn default_features_follow_implied_features() {
    let manifest: toml::Table =
        "[features]\ndefault = [\"dev\"]\ndev = [\"mutants\"]\nmutants = []"
            .parse()
            .expect("parse");
    assert_eq!(
        default_features(&manifest),
        BTreeSet::from(["dev".to_owned(), "mutants".to_owned()])
    );
}
