//! What `corruption_accounted` judges: after damage at rest, what the reopened ledger said
//! (its full integrity check, the captures it named) and what it served for every capture the
//! model knows. Gathered in the check phase of any scenario that lists the check.

use std::path::Path;

use ledger::integrity::{CheckLevel, RepairAction};
use ledger::{Ledger, LedgerError};

use crate::oracle::corruption::reported_damage;
use crate::oracle::repairs::{RepairKind, repairs_in};
use crate::oracle::{AckModel, CaptureState, CorruptionEvidence, InjectedDamage, Served};

/// The evidence when the damaged database did not even reopen: every capture refused with the
/// open error's kind, named as the error names them.
pub(crate) fn refused_at_open(
    e: &LedgerError,
    model: &AckModel,
    db_path: &Path,
    chain_reaches_all: bool,
) -> CorruptionEvidence {
    CorruptionEvidence {
        integrity: Some(Err(kind_and_message(e))),
        named: e.unreadable_captures().to_vec(),
        served: model
            .capture_ids()
            .map(|id| (id.clone(), Served::Refused(e.kind().to_owned())))
            .collect(),
        reported_damage: Vec::new(),
        injected: InjectedDamage::read(db_path).transpose(),
        chain_reaches_all,
        repairs: vec![RepairKind::RefusedAndNamed],
    }
}

fn kind_and_message(e: &LedgerError) -> String {
    format!("{}: {e}", e.kind())
}

/// Asks the reopened ledger for a full integrity check (which repairs what it can), then reads
/// every capture the model knows through it and every damaged object its reports named.
pub(crate) fn gather(
    ledger: &mut Ledger,
    model: &AckModel,
    db_path: &Path,
    chain_reaches_all: bool,
) -> CorruptionEvidence {
    let integrity = match ledger.check_integrity(CheckLevel::Full) {
        Ok(()) => Ok(match ledger.corruption() {
            None if ledger.safety_counters().repairs > 0 => "repaired".to_owned(),
            None => "sound".to_owned(),
            Some(report) => format!("damaged: {report}"),
        }),
        Err(e) => Err(kind_and_message(&e)),
    };
    let named = ledger
        .corruption()
        .map(|report| {
            let mut named = report.unreadable.clone();
            if let RepairAction::Restored { missing, .. } = &report.action {
                named.extend(missing.iter().cloned());
            }
            named
        })
        .unwrap_or_default();
    let served = model
        .capture_ids()
        .map(|id| {
            let served = match ledger.capture(id) {
                Ok(Some(c)) => Served::Found(CaptureState {
                    source: c.source.as_str().to_owned(),
                    raw_content: c.raw_content,
                    status: c.status.as_str().to_owned(),
                    content_hash: c.content_hash,
                    audit: Vec::new(),
                }),
                Ok(None) => Served::Absent,
                Err(e) => Served::Refused(e.kind().to_owned()),
            };
            (id.clone(), served)
        })
        .collect();
    CorruptionEvidence {
        integrity: Some(integrity),
        named,
        served,
        reported_damage: reported_damage(ledger.safety_events()),
        injected: InjectedDamage::read(db_path).transpose(),
        chain_reaches_all,
        repairs: repairs_in(ledger.safety_events()),
    }
}

/// The iteration's figures: the ledger's repairs by kind ([`crate::oracle::repairs`]) and the
/// captures its reports named.
pub(crate) fn figures(evidence: &CorruptionEvidence) -> Vec<(String, u64)> {
    let mut figures = crate::oracle::repairs::figures(&evidence.repairs);
    figures.push(("captures_named".to_owned(), evidence.named.len() as u64));
    figures
}
