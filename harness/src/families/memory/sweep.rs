//! `sweep = true`: allocation N = 1, 2, 3… fails (once, then from then on) in one worker until
//! a pass completes without the fault firing, and every pass is checked like a crash state of
//! the exhaustive power-loss loop. A pass that leaves the same files and the same answers as one
//! checked before is the same state: it is counted with that state's verdicts, not reopened.

use std::collections::HashMap;
use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::path::Path;

use ledger::Ledger;

use super::alloc::{AllocFaults, AllocTrigger};
use super::drive::run_alloc_pass;
use crate::engine::{
    IterationJob, Judged, Sink, Verdicts, WorkerError, WorkerMessage, drive_options,
    evidence_after_reopen_at, execution_from, fresh_dir, iteration_dir, ledger_config_at,
    scratch_target,
};
use crate::oracle::Execution;

/// The first pass runs unarmed on a database it creates and is the iteration's trace; each armed
/// pass starts from a copy of a database the ledger created and closed (so the workload runs on
/// a reopened database, and the schema is not created again per pass) and is checked in this
/// process, its verdicts folded into one per check.
pub(super) fn sweep(
    job: &IterationJob,
    alloc: &AllocFaults,
    sink: &mut Sink<'_>,
) -> Result<(), WorkerError> {
    let dir = iteration_dir(job).join("sweep");
    fresh_dir(&dir)?;
    run_alloc_pass(job, &scratch_target(job, &dir), alloc, None, sink)?;
    let template = iteration_dir(job).join("sweep-template");
    create_template(job, &template)?;
    let mut verdicts = Verdicts::new(&job.scenario.checks);
    let mut judged: HashMap<u64, Judged> = HashMap::new();
    let mut identical = 0;
    let mut lost_total = 0;
    let mut swept = [0u64; 2];
    let mut fired_total = 0;
    for (mode, persistent) in [false, true].into_iter().enumerate() {
        for nth in 1..=alloc.sweep_limit {
            fresh_dir(&dir)?;
            copy_files(&template, &dir)?;
            copy_files(&template.join("vault"), &dir.join("vault"))?;
            let target = scratch_target(job, &dir);
            let trigger = AllocTrigger { nth, persistent };
            let mut messages = Vec::new();
            let fired = run_alloc_pass(job, &target, alloc, Some(trigger), &mut |m| {
                messages.push(m);
                Ok(())
            })?;
            if fired == 0 {
                break;
            }
            swept[mode] = nth;
            fired_total += fired;
            let (execution, _) = execution_from(&job.plan, &messages);
            let key = state_key(&execution, &dir)?;
            if let Some(before) = judged.get(&key) {
                verdicts.repeat(before);
                lost_total += before.lost;
                identical += 1;
                continue;
            }
            let evidence = evidence_after_reopen_at(job, &execution, &target);
            let label = format!(
                "allocation {nth} failed {}",
                if persistent { "from then on" } else { "once" }
            );
            let result = verdicts.add_judged(&label, &evidence);
            lost_total += result.lost;
            judged.insert(key, result);
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::remove_dir_all(&template);
    sink(WorkerMessage::Fault {
        during_operation: None,
        description: format!(
            "allocation sweep: {} allocation point(s) failed once, {} failed from then on; {} states checked, {identical} of them identical to one checked before",
            swept[0],
            swept[1],
            verdicts.states()
        ),
    })?;
    for (name, value) in [
        ("alloc_points_swept", swept[0]),
        ("alloc_points_swept_persistent", swept[1]),
        ("alloc_faults_fired", fired_total),
        ("alloc_states_identical", identical),
    ] {
        sink(WorkerMessage::Figure {
            name: name.to_owned(),
            value,
        })?;
    }
    verdicts.lost = lost_total;
    for message in verdicts.messages(true) {
        sink(message)?;
    }
    Ok(())
}

/// What decides a pass's verdicts: the answers the ledger gave (the model is built from them)
/// and every file the pass left under `dir`, by relative path and content. The check reopens
/// with a fixed clock and id seed, so two passes with the same key are judged the same.
fn state_key(execution: &Execution, dir: &Path) -> Result<u64, WorkerError> {
    let mut hasher = DefaultHasher::new();
    format!("{execution:?}").hash(&mut hasher);
    hash_tree(dir, dir, &mut hasher).map_err(|source| WorkerError::Scratch {
        path: dir.display().to_string(),
        source,
    })?;
    Ok(hasher.finish())
}

/// Hashes the files under `dir` (recursively, in name order) by path relative to `root` and
/// content.
fn hash_tree(root: &Path, dir: &Path, hasher: &mut DefaultHasher) -> std::io::Result<()> {
    let mut entries = std::fs::read_dir(dir)?.collect::<Result<Vec<_>, _>>()?;
    entries.sort_by_key(std::fs::DirEntry::file_name);
    for entry in entries {
        let path = entry.path();
        path.strip_prefix(root).unwrap_or(&path).hash(hasher);
        if entry.file_type()?.is_dir() {
            hash_tree(root, &path, hasher)?;
        } else {
            std::fs::read(&path)?.hash(hasher);
        }
    }
    Ok(())
}

/// A database the ledger created and closed cleanly, in `dir`: every armed pass of the sweep
/// starts from a copy of it instead of creating the schema again (the fault is armed only after
/// the open, so the allocations it counts are the workload's either way).
fn create_template(job: &IterationJob, dir: &Path) -> Result<(), WorkerError> {
    fresh_dir(dir)?;
    let target = scratch_target(job, dir);
    let config = ledger_config_at(job, &target.db_path, &target.vault_dir);
    drop(Ledger::open_with(&config, drive_options(job))?);
    Ok(())
}

/// Copies the files of `from` (not its subdirectories) into `to`, creating `to`.
fn copy_files(from: &Path, to: &Path) -> Result<(), WorkerError> {
    let copy_err = |source| WorkerError::Scratch {
        path: to.display().to_string(),
        source,
    };
    std::fs::create_dir_all(to).map_err(copy_err)?;
    for entry in std::fs::read_dir(from).map_err(copy_err)? {
        let entry = entry.map_err(copy_err)?;
        if entry.file_type().map_err(copy_err)?.is_file() {
            std::fs::copy(entry.path(), to.join(entry.file_name())).map_err(copy_err)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oracle::OpRecord;

    fn execution(records: Vec<OpRecord>) -> Execution {
        Execution {
            operations: Vec::new(),
            records,
        }
    }

    #[test]
    fn a_pass_is_keyed_by_its_answers_and_every_file_it_left() {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::create_dir(dir.path().join("vault")).expect("vault");
        std::fs::write(dir.path().join("ledger.db"), b"pages").expect("db");
        std::fs::write(dir.path().join("vault").join("a.md"), b"note").expect("note");
        let answered = execution(vec![OpRecord::InFlight]);
        let key = state_key(&answered, dir.path()).expect("key");
        assert_eq!(state_key(&answered, dir.path()).expect("key"), key);

        let other_answers = execution(vec![OpRecord::NotStarted]);
        assert_ne!(state_key(&other_answers, dir.path()).expect("key"), key);

        std::fs::write(dir.path().join("vault").join("a.md"), b"note!").expect("note");
        let edited = state_key(&answered, dir.path()).expect("key");
        assert_ne!(edited, key);

        std::fs::write(dir.path().join("ledger.db-wal"), b"").expect("wal");
        assert_ne!(state_key(&answered, dir.path()).expect("key"), edited);
    }
}
