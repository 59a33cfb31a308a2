//! Same clock, same seed, same operations: same ids.

use ledger::{Config, ExportMode, StageOutcome};

use crate::support::{dump, email, open, voice};

fn run(seed: u64) -> (Vec<String>, Vec<String>) {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = Config::new(dir.path().join("l.db"), dir.path().join("vault"));
    let mut ledger = open(&config, 3, seed);
    let mut ids = Vec::new();
    for n in 0..5 {
        for new in [voice(n), email(&format!("mail {n}")), voice(n)] {
            let (StageOutcome::Staged(id) | StageOutcome::Duplicate(id)) =
                ledger.stage(&new).expect("stage");
            ids.push(id);
        }
    }
    ledger
        .record_transcription(&ids[0], "hello")
        .expect("transcribe");
    ledger
        .record_export(&ids[0], ExportMode::Initial)
        .expect("export");
    ledger
        .record_export(&ids[1], ExportMode::DuplicateSkip)
        .expect("skip");
    let rows = dump(ledger.connection());
    (ids, rows)
}

#[test]
fn same_seed_and_clock_give_identical_ids_and_rows() {
    let first = run(42);
    assert_eq!(first, run(42));
    assert_ne!(first.0, run(43).0);
    assert!(first.0.iter().all(|id| id.len() == 26));
}
