//! [`CorruptionEvidence`]: what the ledger said and served after its files were damaged, and the
//! `corruption_accounted` check that judges it against the model.
//!
//! The property: every acknowledged capture is either intact (served with its acknowledged
//! content, or still intact on disk while the ledger refuses to serve a database it knows is
//! damaged) or reported missing by name (in the ledger's corruption report); never served with
//! other content, never served as absent, never refused with an untyped error. A ledger that
//! says the database is sound (or repaired) must be right: `integrity_check` is then `ok`.
//! A ledger that reports damage must name the object the harness damaged ([`InjectedDamage`]),
//! as what it is: a table page called an index passes a `REINDEX` off as a repair.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use ledger::integrity::Damage;
use ledger::{SafetyEvent, SafetyEventKind};
use serde::{Deserialize, Serialize};

use super::model::{AckModel, CaptureState};
use super::repairs::RepairKind;
use super::snapshot::LedgerSnapshot;

/// What a read of one capture through the ledger returned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Served {
    /// `Ok(Some)`: the capture as served (audit rows are not part of a served capture).
    Found(CaptureState),
    /// `Ok(None)`: the ledger said no such capture.
    Absent,
    /// `Err`: the ledger error's kind (`corrupt`, `sqlite`, ...).
    Refused(String),
}

/// What kind of b-tree the harness damaged a page of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ObjectKind {
    /// An index of `captures`.
    Index,
    /// The `captures` table.
    Table,
    /// Free space: a page on the freelist (`name` says trunk or leaf).
    FreeSpace,
}

/// The b-tree page the harness damaged, as the harness knows it (never as the ledger says):
/// written beside the database by the corruption family, read by the check phase.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InjectedDamage {
    /// Index or table.
    pub kind: ObjectKind,
    /// The b-tree's name in `sqlite_schema` (for free space: `trunk` or `leaf`).
    pub name: String,
    /// The damaged page.
    pub page: u32,
}

impl InjectedDamage {
    /// Where the record of the damage done to the database at `db` is kept.
    pub fn record_path(db: &Path) -> PathBuf {
        let mut path = db.as_os_str().to_owned();
        path.push("-injected-damage.json");
        PathBuf::from(path)
    }

    /// The damage recorded beside the database at `db`, if any was recorded.
    ///
    /// # Errors
    /// The record exists but cannot be read or parsed.
    pub fn read(db: &Path) -> Result<Option<InjectedDamage>, String> {
        let path = Self::record_path(db);
        match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|e| format!("{}: {e}", path.display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(format!("{}: {e}", path.display())),
        }
    }

    /// Records this damage beside the database at `db`.
    ///
    /// # Errors
    /// The record cannot be written.
    pub fn write(&self, db: &Path) -> std::io::Result<()> {
        let json = serde_json::to_vec(self).map_err(std::io::Error::other)?;
        std::fs::write(Self::record_path(db), json)
    }

    /// How a ledger's account names this object: `table captures`, `index captures_status`.
    pub fn label(&self) -> String {
        match self.kind {
            ObjectKind::Index => format!("index {}", self.name),
            ObjectKind::Table => format!("table {}", self.name),
            ObjectKind::FreeSpace => "free space".to_owned(),
        }
    }
}

/// The ledger's answers after reopening damaged files.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CorruptionEvidence {
    /// The full integrity check through the ledger: `Ok(text)` when it found the database
    /// sound or repaired it (text says which), `Err(kind: message)` when it refused.
    pub integrity: Option<Result<String, String>>,
    /// Capture ids the ledger's corruption report names (unreadable, or missing since a
    /// restored backup).
    pub named: Vec<String>,
    /// Per acknowledged capture id: what `Ledger::capture` returned.
    pub served: BTreeMap<String, Served>,
    /// Every damaged object the ledger's corruption reports named (`table captures`,
    /// `index x`, `header`, `free space`, `unknown: ...`), after a repair too.
    #[serde(default)]
    pub reported_damage: Vec<String>,
    /// What the harness damaged, when it damaged a b-tree page (or why its record is unreadable).
    #[serde(default)]
    pub injected: Option<Result<InjectedDamage, String>>,
    /// Whether the ledger had a backup chain that reaches every acknowledged capture (the WAL
    /// archived after every operation): a capture intact on disk after its repair must then be
    /// served, not refused.
    #[serde(default)]
    pub chain_reaches_all: bool,
    /// What the ledger did about the damage, one entry per corruption report (at open and
    /// since), or one refusal when it did not open: counted, never judged.
    #[serde(default)]
    pub repairs: Vec<RepairKind>,
}

fn same_content(a: &CaptureState, b: &CaptureState) -> bool {
    a.source == b.source
        && a.raw_content == b.raw_content
        && a.status == b.status
        && a.content_hash == b.content_hash
}

/// The problems `corruption_accounted` reports.
pub(super) fn corruption_accounted(
    snapshot: &LedgerSnapshot,
    model: &AckModel,
    evidence: Option<&CorruptionEvidence>,
) -> Vec<String> {
    let Some(evidence) = evidence else {
        return vec![
            "no corruption evidence was gathered (the check phase did not ask the ledger)".into(),
        ];
    };
    let mut problems = damage_named(evidence);
    if let Some(Ok(said)) = &evidence.integrity
        && snapshot.integrity != ["ok"]
    {
        problems.push(format!(
            "the ledger said the database is {said}, but integrity_check says {}",
            snapshot.integrity.join(" | ")
        ));
    }
    for id in model.capture_ids() {
        let acceptable = model.states_at(id, model.acknowledged_instant());
        let matches =
            |found: &CaptureState| acceptable.iter().flatten().any(|a| same_content(a, found));
        let on_disk_intact = match snapshot.captures.get(id) {
            Some(on_disk) => matches(on_disk),
            None => acceptable.contains(&None),
        };
        let named = evidence.named.contains(id);
        match evidence.served.get(id) {
            None => problems.push(format!("{id}: not asked")),
            Some(Served::Found(found)) if matches(found) => {}
            Some(Served::Found(found)) => problems.push(format!(
                "{id}: served as {} ({} bytes of content), not its acknowledged state (silent wrong answer)",
                found.status,
                found.raw_content.len()
            )),
            Some(Served::Absent) if acceptable.contains(&None) => {}
            Some(Served::Absent) => problems.push(format!(
                "{id}: served as absent{} (silently gone)",
                if named {
                    ", though named in the report"
                } else {
                    ""
                }
            )),
            Some(Served::Refused(kind)) if kind != "corrupt" => problems.push(format!(
                "{id}: refused with a `{kind}` error, not a typed corrupt error"
            )),
            Some(Served::Refused(_)) if evidence.chain_reaches_all && on_disk_intact => {
                problems.push(format!(
                    "{id}: refused{}, though the backup chain reaches it and it is intact on disk",
                    if named { " and named lost" } else { "" }
                ));
            }
            Some(Served::Refused(_)) if named || on_disk_intact => {}
            Some(Served::Refused(_)) => problems.push(format!(
                "{id}: refused as corrupt, damaged on disk, and not named in the ledger's report"
            )),
        }
    }
    problems
}

/// Every object the ledger's corruption reports among `events` (its safety events, at open and
/// since) named damaged, as [`InjectedDamage::label`] names objects.
pub fn reported_damage(events: &[SafetyEvent]) -> Vec<String> {
    let mut named: Vec<String> = events
        .iter()
        .filter_map(|event| match &event.kind {
            SafetyEventKind::Corruption(report) => Some(report.damage.iter()),
            _ => None,
        })
        .flatten()
        .map(|damage| match damage {
            Damage::Index(name) => format!("index {name}"),
            Damage::Table(name) => format!("table {name}"),
            Damage::FreeSpace => "free space".to_owned(),
            Damage::Header => "header".to_owned(),
            Damage::Unknown(what) => format!("unknown: {what}"),
        })
        .collect();
    named.sort();
    named.dedup();
    named
}

/// The ledger's account must name what the harness damaged, as what it is, whenever it reports
/// damage at all (whether it noticed is judged by what it then served).
fn damage_named(evidence: &CorruptionEvidence) -> Vec<String> {
    match &evidence.injected {
        None => Vec::new(),
        Some(Err(why)) => vec![format!(
            "the record of the injected damage is unreadable: {why}"
        )],
        Some(Ok(_)) if evidence.reported_damage.is_empty() => Vec::new(),
        Some(Ok(injected)) if evidence.reported_damage.contains(&injected.label()) => Vec::new(),
        Some(Ok(injected)) => vec![format!(
            "the harness damaged page {} of {}, but the ledger's account of the damage names {:?} (a wrong account: the repair it chose does not fit the damage)",
            injected.page,
            injected.label(),
            evidence.reported_damage
        )],
    }
}

#[cfg(test)]
mod tests {
    use ledger::Source;

    use super::*;
    use crate::oracle::{Execution, OpRecord};
    use crate::workload::{OpOutcome, OpValue, Operation};

    fn model() -> AckModel {
        AckModel::build(&Execution {
            operations: vec![Operation::Stage {
                ordinal: 0,
                source: Source::Voice,
                content: "voice/1.m4a".into(),
                channel: None,
                channel_native_id: None,
            }],
            records: vec![OpRecord::Finished(OpOutcome::Ok(OpValue::Staged(
                "A".into(),
            )))],
        })
    }

    fn staged(content: &str) -> CaptureState {
        CaptureState {
            source: "voice".into(),
            raw_content: content.into(),
            status: "staged".into(),
            content_hash: None,
            audit: Vec::new(),
        }
    }

    fn snapshot(a: Option<CaptureState>, integrity: &str) -> LedgerSnapshot {
        let mut s = LedgerSnapshot {
            integrity: vec![integrity.into()],
            ..LedgerSnapshot::default()
        };
        if let Some(a) = a {
            s.creation_order.push("A".into());
            s.captures.insert("A".into(), a);
        }
        s
    }

    fn evidence(served: Served, named: bool, integrity: Result<&str, &str>) -> CorruptionEvidence {
        CorruptionEvidence {
            integrity: Some(integrity.map(str::to_owned).map_err(str::to_owned)),
            named: if named { vec!["A".into()] } else { Vec::new() },
            served: [("A".to_owned(), served)].into(),
            reported_damage: Vec::new(),
            injected: None,
            chain_reaches_all: false,
            repairs: Vec::new(),
        }
    }

    #[test]
    fn intact_or_named_passes() {
        let good = snapshot(Some(staged("voice/1.m4a")), "ok");
        let served = evidence(Served::Found(staged("voice/1.m4a")), false, Ok("sound"));
        assert_eq!(
            corruption_accounted(&good, &model(), Some(&served)),
            [] as [String; 0]
        );
        let damaged = snapshot(Some(staged("voice/1.m4q")), "Tree 2 page 2 cell 0: bad");
        let named = evidence(Served::Refused("corrupt".into()), true, Err("corrupt"));
        assert_eq!(
            corruption_accounted(&damaged, &model(), Some(&named)),
            [] as [String; 0]
        );
        let refused_intact = evidence(Served::Refused("corrupt".into()), false, Err("corrupt"));
        assert_eq!(
            corruption_accounted(&good, &model(), Some(&refused_intact)),
            [] as [String; 0]
        );
    }

    #[test]
    fn silent_wrong_gone_unnamed_or_untyped_fails() {
        let damaged = snapshot(Some(staged("voice/1.m4q")), "Tree 2 page 2 cell 0: bad");
        let cases = [
            evidence(Served::Found(staged("voice/1.m4q")), false, Err("corrupt")),
            evidence(Served::Absent, true, Err("corrupt")),
            evidence(Served::Refused("corrupt".into()), false, Err("corrupt")),
            evidence(Served::Refused("sqlite".into()), true, Err("sqlite")),
        ];
        for case in cases {
            assert_eq!(
                corruption_accounted(&damaged, &model(), Some(&case)).len(),
                1,
                "{case:?}"
            );
        }
        let said_sound = evidence(Served::Found(staged("voice/1.m4a")), false, Ok("repaired"));
        let broken_index = snapshot(Some(staged("voice/1.m4a")), "row 1 missing from index x");
        assert_eq!(
            corruption_accounted(&broken_index, &model(), Some(&said_sound)).len(),
            1
        );
        assert_eq!(corruption_accounted(&damaged, &model(), None).len(), 1);
    }

    #[test]
    fn with_a_chain_that_reaches_it_an_intact_capture_must_be_served() {
        let good = snapshot(Some(staged("voice/1.m4a")), "ok");
        let mut refused = evidence(Served::Refused("corrupt".into()), true, Err("corrupt"));
        assert_eq!(
            corruption_accounted(&good, &model(), Some(&refused)),
            [] as [String; 0]
        );
        refused.chain_reaches_all = true;
        assert_eq!(
            corruption_accounted(&good, &model(), Some(&refused)).len(),
            1
        );
        let damaged = snapshot(Some(staged("voice/1.m4q")), "Tree 2 page 2 cell 0: bad");
        assert_eq!(
            corruption_accounted(&damaged, &model(), Some(&refused)),
            [] as [String; 0],
            "damaged on disk and named: judged as without a chain"
        );
    }

    #[test]
    fn a_report_that_misnames_the_damaged_object_fails() {
        let good = snapshot(Some(staged("voice/1.m4a")), "ok");
        let mut repaired = evidence(Served::Found(staged("voice/1.m4a")), false, Ok("repaired"));
        repaired.injected = Some(Ok(InjectedDamage {
            kind: ObjectKind::Table,
            name: "captures".into(),
            page: 15,
        }));
        assert_eq!(
            corruption_accounted(&good, &model(), Some(&repaired)),
            [] as [String; 0],
            "nothing reported: judged by what was served"
        );
        repaired.reported_damage = vec!["table captures".into(), "free space".into()];
        assert_eq!(
            corruption_accounted(&good, &model(), Some(&repaired)),
            [] as [String; 0]
        );
        repaired.reported_damage = vec!["index captures".into()];
        let problems = corruption_accounted(&good, &model(), Some(&repaired));
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(
            problems[0].contains("page 15 of table captures"),
            "{problems:?}"
        );
        repaired.injected = Some(Err("bad json".into()));
        assert_eq!(
            corruption_accounted(&good, &model(), Some(&repaired)).len(),
            1
        );
    }
}
