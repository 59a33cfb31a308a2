//! Disk faults: [`DiskFaults`], I/O error rules and bit flips installed in the fault VFS for the
//! whole drive phase.
//!
//! What the ledger must survive: an operation hit by an I/O error (EIO on read, write, fsync or
//! truncate; ENOSPC; a failed lock or open; a short write) returns a typed error and leaves no
//! partial transaction; once the fault clears, the same ledger instance works again; nothing
//! acknowledged is lost. Bit flips on read are latent corruption: the ledger must return an error
//! or the right data: with page checksums on, a flipped page read is caught; without them
//! (`page-checksums = false`, the control scenario) the checks are expected to fail.

use serde::{Deserialize, Serialize};

use crate::backends::vfs::{BitFlipRule, FaultRule, FaultVfs, VfsError, VfsOptions};

/// I/O error rules and bit flips for the drive phase.
///
/// TOML:
/// ```toml
/// [fault]
/// kind = "disk"
/// clear-after-operations = 3
/// [[fault.rules]]
/// op = "sync"
/// file = "wal"
/// trigger = { nth = 2 }
/// [[fault.bit-flips]]
/// file = "main-db"
/// trigger = { probability = 0.01 }
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct DiskFaults {
    /// I/O error rules (the VFS's [`FaultRule`]s), in priority order.
    #[serde(default)]
    pub rules: Vec<FaultRule>,
    /// Bit-flip-on-read rules.
    #[serde(default)]
    pub bit_flips: Vec<BitFlipRule>,
    /// Remove every rule this many operations after the operation that met the first fault,
    /// so the rest of the workload shows the same ledger instance working again. Absent: the
    /// rules stay for the whole drive phase.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clear_after_operations: Option<usize>,
    /// Install the rules only once the workload's first `maintain` has finished (which folds
    /// the latencies so far into the ledger's performance baselines), instead of at open: the
    /// baselines are measured without the fault, the rest of the workload with it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub arm_after_maintain: bool,
}

impl DiskFaults {
    /// The VFS options the plan needs: no power-loss tracking, reads through `xRead`.
    pub fn vfs_options(&self) -> VfsOptions {
        VfsOptions::default()
    }

    /// Installs every rule in `vfs`.
    ///
    /// # Errors
    /// [`VfsError::InvalidRule`] for a rule that can never fire or whose error does not fit.
    pub fn apply(&self, vfs: &FaultVfs) -> Result<(), VfsError> {
        for rule in &self.rules {
            vfs.add_rule(rule.clone())?;
        }
        for flip in &self.bit_flips {
            vfs.add_bit_flip(flip.clone())?;
        }
        Ok(())
    }

    /// Checks every rule without a VFS (for scenario validation).
    ///
    /// # Errors
    /// The first invalid rule's error.
    pub fn validate(&self) -> Result<(), VfsError> {
        if self.rules.is_empty() && self.bit_flips.is_empty() {
            return Err(VfsError::InvalidRule {
                rule: "[fault]".into(),
                reason: "a disk plan needs at least one [[fault.rules]] or [[fault.bit-flips]]"
                    .into(),
            });
        }
        self.rules.iter().try_for_each(FaultRule::validate)?;
        self.bit_flips.iter().try_for_each(BitFlipRule::validate)
    }

    /// Whether the rules should be cleared before operation `index`, given the operation
    /// during which the first fault happened.
    pub fn clears_before(&self, index: usize, first_fault_at: Option<usize>) -> bool {
        match (self.clear_after_operations, first_fault_at) {
            (Some(after), Some(first)) => index > first && index - first >= after,
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::families::FaultPlan;

    #[test]
    fn toml_shape_and_validation() {
        let plan: FaultPlan = toml::from_str(
            "kind = \"disk\"\nclear-after-operations = 2\n\
             [[rules]]\nop = \"sync\"\nfile = \"wal\"\ntrigger = { nth = 2 }\n\
             [[bit-flips]]\nfile = \"main-db\"\ntrigger = { nth = 1 }\n",
        )
        .unwrap();
        let FaultPlan::Disk(disk) = plan else {
            panic!("not a disk plan: {plan:?}")
        };
        assert_eq!(disk.rules.len(), 1);
        assert_eq!(disk.bit_flips.len(), 1);
        assert!(disk.validate().is_ok());
        assert!(DiskFaults::default().validate().is_err());
        assert!(toml::from_str::<FaultPlan>("kind = \"disk\"\nbogus = 1").is_err());
    }

    #[test]
    fn rules_clear_a_fixed_number_of_operations_after_the_first_fault() {
        let disk = DiskFaults {
            clear_after_operations: Some(2),
            ..DiskFaults::default()
        };
        assert!(!disk.clears_before(5, None));
        assert!(!disk.clears_before(4, Some(3)));
        assert!(disk.clears_before(5, Some(3)));
        assert!(!DiskFaults::default().clears_before(9, Some(0)));
    }
}
