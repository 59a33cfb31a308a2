//! The benches measure a production ledger: nothing in their dependency graph
//! turns on the ledger's `mutants` or `failpoints` feature (depending on the
//! harness would, through Cargo's feature unification).

use std::collections::BTreeSet;
use std::process::Command;

/// The ledger features `cargo tree` resolves for `package` alone.
fn ledger_features_of(package: &str) -> BTreeSet<String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let output = Command::new(cargo)
        .args(["tree", "-e", "features", "--prefix", "none", "-p", package])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("run cargo tree");
    assert!(
        output.status.success(),
        "cargo tree failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| line.strip_prefix("ledger feature \"")?.split('"').next())
        .map(str::to_owned)
        .collect()
}

#[test]
fn benches_build_the_ledger_without_mutants_or_failpoints() {
    let features = ledger_features_of("benches");
    assert!(
        features.contains("default"),
        "ledger not found: {features:?}"
    );
    assert!(
        !features.contains("mutants") && !features.contains("failpoints"),
        "benches build the ledger with {features:?}"
    );
}

#[test]
fn the_harness_build_shows_both_features() {
    let features = ledger_features_of("harness");
    assert!(
        features.contains("mutants") && features.contains("failpoints"),
        "the check does not see the harness's ledger features: {features:?}"
    );
}
