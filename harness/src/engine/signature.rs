//! Failure signatures: [`signature_of`] names what a failure looks like, whatever its seed, so
//! repeats group; [`group`] folds a run's failures into [`Signature`]s; [`known_ids`] reads the
//! signatures already known (capsules and a history file).
//!
//! A signature is the scenario, the first failing check (`error` for an iteration that could
//! not be judged), the kind and site of each fault injected (its description up to the
//! particulars: `vfs: power cut before write of ledger.db-wal`), and the shape of the
//! discrepancy: the first clause of the failing check's detail (or of the error) up to its particulars,
//! with the contents of brackets and quotes, ids, hex digests, paths and numbers blanked. Its id is the first 12 hex digits
//! of SHA-256 of that text.

use std::path::Path;

use reports::explore::Signature;
use reports::results::TimelineKind;
use reports::{IterationResult, IterationStatus};
use sha2::{Digest, Sha256};

use super::coverage::blank_numbers;

/// The words a capsule's description uses before a signature id.
pub const CAPSULE_MARK: &str = "Signature ";

/// The signature of a failed or errored iteration (`count` 1, not known, no candidate).
pub fn signature_of(it: &IterationResult) -> Signature {
    let (check, detail) = match (it.status, it.first_failure(), &it.error) {
        (IterationStatus::Failed, Some(check), _) => (check.name.clone(), check.detail.clone()),
        (_, _, Some(error)) => ("error".to_owned(), error.clone()),
        (_, Some(check), None) => (check.name.clone(), check.detail.clone()),
        (_, None, None) => ("error".to_owned(), String::new()),
    };
    let mut faults: Vec<String> = it
        .timeline
        .iter()
        .filter(|e| e.kind == TimelineKind::Fault)
        .map(|e| fault_site(&e.text))
        .collect();
    faults.sort();
    faults.dedup();
    let shape = normalise(first_clause(&detail));
    let canonical = format!("{}\n{check}\n{}\n{shape}", it.scenario, faults.join("\n"));
    let digest = Sha256::digest(canonical.as_bytes());
    let id: String = digest[..6].iter().map(|b| format!("{b:02x}")).collect();
    Signature {
        id,
        scenario: it.scenario.clone(),
        check,
        faults,
        shape,
        count: 1,
        known: false,
        first_iteration: it.iteration,
        replay: it.replay.clone(),
        candidate: None,
        candidate_replay: None,
    }
}

/// Groups failures by signature, in order of first appearance, counting repeats; a signature
/// whose id is in `known` is marked known.
pub fn group(
    failures: &[IterationResult],
    known: &std::collections::BTreeSet<String>,
) -> Vec<Signature> {
    let mut order: Vec<Signature> = Vec::new();
    for it in failures {
        let mut sig = signature_of(it);
        match order.iter_mut().find(|s| s.id == sig.id) {
            Some(existing) => existing.count += 1,
            None => {
                sig.known = known.contains(&sig.id);
                order.push(sig);
            }
        }
    }
    order
}

/// Signature ids already known: named after [`CAPSULE_MARK`] in the `.toml` files of
/// `regressions` (capsules written by `explore` carry their signature), and the first word of
/// each line of `history` (lines starting with `#` are comments). Missing places know nothing.
pub fn known_ids(
    regressions: &Path,
    history: Option<&Path>,
) -> std::io::Result<std::collections::BTreeSet<String>> {
    let mut ids = std::collections::BTreeSet::new();
    if let Ok(entries) = std::fs::read_dir(regressions) {
        for entry in entries.flatten() {
            if entry.path().extension().is_some_and(|e| e == "toml") {
                let text = std::fs::read_to_string(entry.path())?;
                for (at, _) in text.match_indices(CAPSULE_MARK) {
                    let id: String = text[at + CAPSULE_MARK.len()..]
                        .chars()
                        .take_while(char::is_ascii_hexdigit)
                        .collect();
                    if id.len() == 12 {
                        ids.insert(id);
                    }
                }
            }
        }
    }
    if let Some(history) = history {
        match std::fs::read_to_string(history) {
            Ok(text) => ids.extend(
                text.lines()
                    .map(str::trim)
                    .filter(|l| !l.is_empty() && !l.starts_with('#'))
                    .filter_map(|l| l.split_whitespace().next().map(str::to_owned)),
            ),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
    }
    Ok(ids)
}

/// A fault's kind and site: its description, normalised, up to where the particulars start
/// (an offset ` at `, a parenthesis, a comma or a colon after the first word).
fn fault_site(description: &str) -> String {
    let text = normalise(description);
    let (prefix, rest) = match text.split_once(": ") {
        Some((first, rest)) if !first.contains(' ') => (format!("{first}: "), rest.to_owned()),
        _ => (String::new(), text.clone()),
    };
    let end = [" at ", " (", ", ", ": "]
        .iter()
        .filter_map(|mark| rest.find(mark))
        .min()
        .unwrap_or(rest.len());
    format!("{prefix}{}", rest[..end].trim())
}

/// The kind of a discrepancy: the first line of `text`, up to the first `;` or ` | ` (one
/// crash state's finding, not the list) and at most its first two `: `-separated parts (what
/// and where, without the particulars: the lost capture's state, SQLite's message).
fn first_clause(text: &str) -> &str {
    let line = text.lines().next().unwrap_or_default();
    let mut end = [";", " | "]
        .iter()
        .filter_map(|mark| line.find(mark))
        .min()
        .unwrap_or(line.len());
    if let Some((second, _)) = line[..end].match_indices(": ").nth(1) {
        end = second;
    }
    line[..end].trim()
}

/// Blanks what varies between equal failures: the contents of brackets and quotes (crash
/// modes, audit states), ULIDs and other long ids, hex digests, paths, then every number.
fn normalise(text: &str) -> String {
    let mut unbracketed = String::with_capacity(text.len());
    let mut depth = 0usize;
    let mut quoted = false;
    for c in text.chars() {
        match c {
            '[' if !quoted => {
                depth += 1;
                if depth == 1 {
                    unbracketed.push('[');
                }
            }
            ']' if !quoted && depth > 0 => {
                depth -= 1;
                if depth == 0 {
                    unbracketed.push(']');
                }
            }
            '"' if depth == 0 => {
                if !quoted {
                    unbracketed.push_str("\"…\"");
                }
                quoted = !quoted;
            }
            _ if depth > 0 || quoted => {}
            _ => unbracketed.push(c),
        }
    }
    let words: Vec<String> = unbracketed
        .split(' ')
        .map(|word| {
            let core = word.trim_matches(|c: char| !c.is_ascii_alphanumeric() && c != '/');
            if core.contains('/') {
                word.replace(core, "<path>")
            } else if is_id(core) {
                word.replace(core, "<id>")
            } else {
                word.to_owned()
            }
        })
        .collect();
    blank_numbers(&words.join(" "))
}

/// A ULID (26 base-32 characters) or a hex digest (16 or more hex digits).
fn is_id(word: &str) -> bool {
    let ulid = word.len() == 26
        && word
            .chars()
            .all(|c| c.is_ascii_digit() || c.is_ascii_uppercase());
    let hex = word.len() >= 16 && word.chars().all(|c| c.is_ascii_hexdigit());
    ulid || hex
}

#[cfg(test)]
mod tests {
    use super::*;
    use reports::CheckResult;
    use reports::results::TimelineEntry;

    fn failed(iteration: u32, detail: &str, fault: &str) -> IterationResult {
        let mut it = IterationResult::new("s", "f", iteration, IterationStatus::Failed);
        it.checks = vec![CheckResult {
            name: "acknowledged_durable".into(),
            passed: false,
            detail: detail.into(),
        }];
        it.timeline = vec![
            TimelineEntry {
                operation: Some(3),
                kind: TimelineKind::Acknowledged,
                text: "export #2 initial".into(),
                outcome: "ok".into(),
            },
            TimelineEntry {
                operation: Some(3),
                kind: TimelineKind::Fault,
                text: fault.into(),
                outcome: String::new(),
            },
        ];
        it
    }

    #[test]
    fn seeds_ids_and_numbers_do_not_split_a_signature() {
        let one = failed(
            1,
            "failed in 3 of 4 states: [drop] 01KDVDNA0060EQ765H6N26T3R6: found absent; more",
            "vfs: power cut before write of ledger.db-wal at 4096 (512 bytes)",
        );
        let two = failed(
            9,
            "failed in 1 of 4 states: [torn-0.5] 01KDVFC7T0KVFYB9W6X057WR9G: found absent; other",
            "vfs: power cut before write of ledger.db-wal at 8192 (4096 bytes)",
        );
        let other = failed(
            1,
            "failed in 1 of 4 states: [drop] database unreadable: no such table",
            "vfs: power cut before write of ledger.db-wal at 8192 (4096 bytes)",
        );
        let a = signature_of(&one);
        assert_eq!(a.id, signature_of(&two).id);
        assert_eq!(a.shape, "failed in # of # states: [] <id>");
        assert_eq!(a.faults, ["vfs: power cut before write of ledger.db-wal"]);
        assert_ne!(
            a.id,
            signature_of(&other).id,
            "another discrepancy is another signature"
        );
        let known = [a.id.clone()].into_iter().collect();
        let grouped = group(&[one, other, two], &known);
        assert_eq!(grouped.len(), 2);
        assert_eq!((grouped[0].count, grouped[0].known), (2, true));
        assert_eq!((grouped[1].count, grouped[1].known), (1, false));
    }

    #[test]
    fn quoted_states_and_paths_are_blanked() {
        assert_eq!(
            normalise("expected audit [\"initial\"], found \"x\" in failures/a-3/ledger.db: bad"),
            "expected audit [], found \"…\" in <path>: bad"
        );
        assert_eq!(
            fault_site("crash image drop: 2 file(s), 3 of 4 pieces kept"),
            "crash image drop"
        );
    }

    #[test]
    fn capsules_and_the_history_make_a_signature_known() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("regression-x.toml"),
            "description = \"Regression capsule: integrity failed. Signature 0123456789ab.\"\n",
        )
        .unwrap();
        let history = dir.path().join("signatures.txt");
        std::fs::write(&history, "# known\nba9876543210 s integrity\n").unwrap();
        let ids = known_ids(dir.path(), Some(&history)).unwrap();
        assert!(ids.contains("0123456789ab") && ids.contains("ba9876543210"));
        assert_eq!(ids.len(), 2);
        let none = known_ids(&dir.path().join("absent"), None).unwrap();
        assert!(none.is_empty());
    }
}
