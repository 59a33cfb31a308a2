//! `resilience explore` on an iteration budget (no wall time involved): failures grouped by
//! signature, each new one shrunk into a capsule candidate that replays, the history making
//! them known, and disjoint fresh seeds per shard.

use std::path::Path;

use super::support::{resilience, results, scenarios_dir, stderr};

fn explore(out: &Path, extra: &[&str]) -> std::process::Output {
    let scenarios = scenarios_dir();
    resilience()
        .args(["explore", "--scenarios", scenarios.to_str().unwrap()])
        .args(["--seed", "1", "--jobs", "2", "--out", out.to_str().unwrap()])
        .args(extra)
        .output()
        .expect("resilience runs")
}

/// A planted bug that loses writes on every power cut: each signature is new the first night,
/// its candidate replays (the mutant is caught, as the capsule expects), and a second night
/// with the history knows them all.
#[test]
fn new_signatures_become_candidates_and_the_history_makes_them_known() {
    let dir = tempfile::tempdir().unwrap();
    let history = dir.path().join("signatures.txt");
    let failing = [
        "--filter",
        "power-loss-wal-full",
        "--set",
        "target.mutant=durability-off",
        "--max-iterations",
        "24",
        "--shrink-budget",
        "4",
        "--history",
        history.to_str().unwrap(),
    ];
    let first = dir.path().join("first");
    let output = explore(&first, &failing);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let r = results(&first);
    let explored = r.explore.as_ref().expect("explore results");
    assert_eq!(r.summary.iterations, 24);
    assert_eq!(explored.default_iterations, 20);
    assert_eq!(explored.fresh_iterations, 4);
    assert!(r.summary.failed > 0);
    assert!(explored.new_signatures() > 0 && explored.known_signatures() == 0);
    let grouped: u64 = explored.signatures.iter().map(|s| s.count).sum();
    assert_eq!(grouped, r.summary.failed + r.summary.errors);
    assert!(
        (explored.signatures.len() as u64) < r.summary.failed,
        "repeats group: {} signatures for {} failures",
        explored.signatures.len(),
        r.summary.failed
    );
    let summary = std::fs::read_to_string(first.join("job-summary.md")).unwrap();
    assert!(
        summary.contains(&format!("**{} new**, 0 known", explored.new_signatures())),
        "{summary}"
    );
    let with_candidate = explored
        .signatures
        .iter()
        .find(|s| s.candidate.is_some())
        .expect("a new signature was shrunk into a candidate");
    let candidate = first.join(with_candidate.candidate.as_ref().unwrap());
    let text = std::fs::read_to_string(&candidate).unwrap();
    assert!(
        text.contains(&format!("Signature {}", with_candidate.id)),
        "{text}"
    );
    assert!(text.contains("expected-failures"), "{text}");
    let replay = resilience()
        .args(["replay", candidate.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(replay.status.code(), Some(0), "{}", stderr(&replay));

    let second = dir.path().join("second");
    let output = explore(&second, &failing);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let again = results(&second);
    let explored_again = again.explore.as_ref().unwrap();
    assert_eq!(
        explored_again.new_signatures(),
        0,
        "{:?}",
        explored_again.signatures
    );
    assert!(explored_again.known_signatures() > 0);
}

/// The real ledger on an iteration budget: everything passes, no signature, and the fresh
/// iterations of two shards of one base seed are disjoint and lie past the default set.
#[test]
fn shards_explore_disjoint_fresh_iterations() {
    let dir = tempfile::tempdir().unwrap();
    let mut fresh = Vec::new();
    for shard in ["1/2", "2/2"] {
        let out = dir.path().join(shard.replace('/', "-"));
        let output = explore(
            &out,
            &[
                "--filter",
                "eio-write-once",
                "--shard",
                shard,
                "--max-iterations",
                "12",
            ],
        );
        assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
        let r = results(&out);
        let explored = r.explore.as_ref().unwrap();
        assert!(explored.signatures.is_empty());
        assert!(explored.fresh_iterations > 0);
        fresh.push(
            r.iterations
                .iter()
                .map(|i| i.iteration)
                .filter(|i| *i >= 10)
                .collect::<Vec<_>>(),
        );
    }
    assert!(fresh[0].iter().all(|i| !fresh[1].contains(i)), "{fresh:?}");
}
