//! What the ledger did about damage at rest, by kind ([`RepairKind`]): each corruption report
//! it made (at open and since) counts once under its action, and a database it refused to
//! open counts as refused. Measurements for notes (iteration figures summed over a run), never
//! a gate: `corruption_accounted` judges whether what was done was right.

use ledger::integrity::RepairAction;
use ledger::{SafetyEvent, SafetyEventKind};
use serde::{Deserialize, Serialize};

/// One thing the ledger did about damage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RepairKind {
    /// Damaged indexes rebuilt (`REINDEX`, then `VACUUM`) and re-checked.
    Reindex,
    /// Only free pages damaged: dropped by `VACUUM` (a `Reindexed` action naming no index).
    Vacuum,
    /// The database rebuilt from a verified backup (the chain: snapshot plus WAL archive).
    Restore,
    /// Damaged WAL frames replaced by their archived copies before recovery.
    WalFramesRestored,
    /// A damaged WAL frame's chain re-sealed so recovery kept later transactions (its page is
    /// then refused on read, and a later report says what became of it).
    WalResealed,
    /// Nothing repaired: the ledger stopped serving (or did not open) and named what it lost.
    RefusedAndNamed,
}

impl RepairKind {
    /// Every kind, in the order figures list them.
    pub const ALL: [RepairKind; 6] = [
        RepairKind::Reindex,
        RepairKind::Vacuum,
        RepairKind::Restore,
        RepairKind::WalFramesRestored,
        RepairKind::WalResealed,
        RepairKind::RefusedAndNamed,
    ];

    /// The kind of a corruption report's action.
    pub fn of(action: &RepairAction) -> RepairKind {
        match action {
            RepairAction::Reindexed(indexes) if indexes.is_empty() => RepairKind::Vacuum,
            RepairAction::Reindexed(_) => RepairKind::Reindex,
            RepairAction::Restored { .. } => RepairKind::Restore,
            RepairAction::WalFramesRestored(_) => RepairKind::WalFramesRestored,
            RepairAction::WalResealed { .. } => RepairKind::WalResealed,
            RepairAction::NotRepaired(_) => RepairKind::RefusedAndNamed,
        }
    }

    /// The iteration figure that counts this kind.
    pub fn figure(self) -> &'static str {
        match self {
            RepairKind::Reindex => "repairs_reindex",
            RepairKind::Vacuum => "repairs_vacuum",
            RepairKind::Restore => "repairs_restore",
            RepairKind::WalFramesRestored => "repairs_wal_frames_restored",
            RepairKind::WalResealed => "repairs_wal_resealed",
            RepairKind::RefusedAndNamed => "repairs_refused_and_named",
        }
    }
}

/// The kind of every corruption report among `events` (a ledger's safety events), oldest first.
pub fn repairs_in(events: &[SafetyEvent]) -> Vec<RepairKind> {
    events
        .iter()
        .filter_map(|event| match &event.kind {
            SafetyEventKind::Corruption(report) => Some(RepairKind::of(&report.action)),
            _ => None,
        })
        .collect()
}

/// One figure per kind (zero included, so every corruption iteration lists the same names):
/// how many of `repairs` are of it.
pub fn figures(repairs: &[RepairKind]) -> Vec<(String, u64)> {
    RepairKind::ALL
        .into_iter()
        .map(|kind| {
            let count = repairs.iter().filter(|r| **r == kind).count() as u64;
            (kind.figure().to_owned(), count)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_action_counts_under_its_own_figure() {
        let repairs = [
            RepairKind::of(&RepairAction::Reindexed(vec!["x".into()])),
            RepairKind::of(&RepairAction::WalResealed { frame: 3, page: 7 }),
            RepairKind::of(&RepairAction::NotRepaired("table".into())),
            RepairKind::of(&RepairAction::Reindexed(vec!["y".into()])),
            RepairKind::of(&RepairAction::Reindexed(Vec::new())),
        ];
        assert_eq!(
            figures(&repairs),
            [
                ("repairs_reindex".to_owned(), 2),
                ("repairs_vacuum".to_owned(), 1),
                ("repairs_restore".to_owned(), 0),
                ("repairs_wal_frames_restored".to_owned(), 0),
                ("repairs_wal_resealed".to_owned(), 1),
                ("repairs_refused_and_named".to_owned(), 1),
            ]
        );
    }
}
