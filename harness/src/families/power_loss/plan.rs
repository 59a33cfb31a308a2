//! Power loss: [`PowerLoss`], a cut before a seeded durable mutation, then crash images.
//!
//! What the ledger must survive: with `synchronous = FULL` or `EXTRA`, every acknowledged
//! operation is in every crash image after SQLite's recovery; with WAL and `NORMAL`, the image
//! is the model after some prefix of the acknowledged operations; never corruption. The
//! operation during which the power went is in flight: all or nothing.
//!
//! The crash point is drawn from the iteration's seed over the number of durable mutations
//! (writes, syncs and truncates of the main DB, WAL and journal) the workload makes when it
//! runs uncut, which the drive worker learns with a counting pass.

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

pub use crate::backends::vfs::mode_label;
use crate::backends::vfs::{CrashMode, VfsError, VfsOptions};

/// Mixed into the iteration seed to draw the crash point.
const CRASH_POINT_SALT: u64 = 0x9057_C0DE_0FF0_0001;

/// A power cut and the crash images checked after it.
///
/// TOML:
/// ```toml
/// [fault]
/// kind = "power-loss"
/// modes = ["drop", "keep", { torn = { p = 0.5 } }, "sector-prefix"]
/// skip-real-sync = true
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct PowerLoss {
    /// Crash modes: one image per mode, each checked (default: all four).
    #[serde(default = "all_modes")]
    pub modes: Vec<CrashMode>,
    /// Skip real fsyncs of tracked files while simulating (faster; durability is modelled).
    #[serde(default = "yes")]
    pub skip_real_sync: bool,
    /// Check every crash point of the workload (times each mode) in one worker process instead
    /// of one seeded point. Set by `resilience run --exhaustive`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub exhaustive: bool,
    /// How `exhaustive` builds each crash state: from the write log of one recorded run
    /// (default), or by re-running the workload cut at that point (the reference method).
    #[serde(default, skip_serializing_if = "CrashStates::is_recorded")]
    pub crash_states: CrashStates,
    /// Where the ledger's files live while the power is cut: the fault VFS inside SQLite
    /// (default) or the FUSE file system with its own cache (`backend = "fuse"`).
    #[serde(default, skip_serializing_if = "Backend::is_vfs")]
    pub backend: Backend,
}

/// How the exhaustive pass builds its crash states.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CrashStates {
    /// Record the workload's write log once; each crash state is a prefix of it.
    #[default]
    Recorded,
    /// Re-run the workload up to each crash point (slower; the reference the recorded method
    /// is compared with).
    Rerun,
}

impl CrashStates {
    fn is_recorded(&self) -> bool {
        *self == CrashStates::Recorded
    }
}

/// The storage backend a power-loss scenario runs on.
///
/// TOML: `backend = "vfs"` (default), `"fuse"` or `"both"`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Backend {
    /// The fault VFS: SQLite's file I/O is modelled, the vault through the ledger's
    /// `fs_events`.
    #[default]
    Vfs,
    /// The FUSE backend: SQLite's default VFS on a mount that observes every system call,
    /// the vault included; the ledger's `fs_events` are not used.
    Fuse,
    /// Both, cut before the same seeded operation, and the `backends_agree` check on what each
    /// leaves durable (modes `drop` and `keep` only: the others draw differently per backend).
    Both,
}

impl Backend {
    /// Whether this is the default backend (kept out of serialized plans).
    pub fn is_vfs(&self) -> bool {
        *self == Backend::Vfs
    }
}

fn all_modes() -> Vec<CrashMode> {
    vec![
        CrashMode::Drop,
        CrashMode::Keep,
        CrashMode::Torn { p: 0.5 },
        CrashMode::SectorPrefix,
    ]
}

fn yes() -> bool {
    true
}

impl Default for PowerLoss {
    fn default() -> Self {
        PowerLoss {
            modes: all_modes(),
            skip_real_sync: true,
            exhaustive: false,
            crash_states: CrashStates::Recorded,
            backend: Backend::Vfs,
        }
    }
}

impl PowerLoss {
    /// The VFS options the plan needs: power-loss tracking, reads through `xRead`.
    pub fn vfs_options(&self) -> VfsOptions {
        VfsOptions {
            forward_fetch: false,
            track_power_loss: true,
            skip_real_sync: self.skip_real_sync,
        }
    }

    /// The seeded crash point: cut before durable mutation `1..=mutations`.
    pub fn crash_point(&self, seed: u64, mutations: u64) -> u64 {
        let mut rng = ChaCha8Rng::seed_from_u64(seed ^ CRASH_POINT_SALT);
        rng.random_range(1..=mutations.max(1))
    }

    /// Checks the modes.
    ///
    /// # Errors
    /// [`VfsError::InvalidCrashMode`] for no mode or a torn probability outside `0..=1`.
    pub fn validate(&self) -> Result<(), VfsError> {
        if self.modes.is_empty() {
            return Err(VfsError::InvalidCrashMode(
                "`modes` must name at least one crash mode".into(),
            ));
        }
        if self.backend == Backend::Both
            && let Some(mode) = self
                .modes
                .iter()
                .find(|m| !matches!(m, CrashMode::Drop | CrashMode::Keep))
        {
            return Err(VfsError::InvalidCrashMode(format!(
                "backend = \"both\" compares the modes without random choices (drop, keep), not {}",
                mode_label(*mode)
            )));
        }
        for mode in &self.modes {
            if let CrashMode::Torn { p } = mode
                && !(0.0..=1.0).contains(p)
            {
                return Err(VfsError::InvalidCrashMode(format!(
                    "torn p = {p} is not within 0..=1"
                )));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::families::FaultPlan;

    #[test]
    fn crash_points_are_seeded_and_cover_the_workload() {
        let plan = PowerLoss::default();
        assert_eq!(plan.crash_point(7, 300), plan.crash_point(7, 300));
        let points: std::collections::BTreeSet<u64> =
            (0..500).map(|s| plan.crash_point(s, 300)).collect();
        assert!(points.iter().all(|p| (1..=300).contains(p)));
        assert!(points.len() > 200, "{}", points.len());
        assert_eq!(plan.crash_point(1, 0), 1);
    }

    #[test]
    fn toml_shape_defaults_and_labels() {
        let plan: FaultPlan = toml::from_str(
            "kind = \"power-loss\"\nmodes = [\"drop\", { torn = { p = 0.25 } }]\nskip-real-sync = false",
        )
        .unwrap();
        let FaultPlan::PowerLoss(p) = plan else {
            panic!("not power loss: {plan:?}")
        };
        assert_eq!(p.modes, vec![CrashMode::Drop, CrashMode::Torn { p: 0.25 }]);
        assert!(!p.skip_real_sync && !p.exhaustive);
        assert_eq!(mode_label(p.modes[1]), "torn-0.25");
        let default: FaultPlan = toml::from_str("kind = \"power-loss\"").unwrap();
        assert_eq!(default, FaultPlan::PowerLoss(PowerLoss::default()));
        let fuse: FaultPlan = toml::from_str("kind = \"power-loss\"\nbackend = \"fuse\"").unwrap();
        assert!(matches!(
            fuse,
            FaultPlan::PowerLoss(PowerLoss {
                backend: Backend::Fuse,
                ..
            })
        ));
        let unknown = toml::from_str::<FaultPlan>("kind = \"power-loss\"\nbackend = \"nfs\"");
        assert!(
            unknown
                .unwrap_err()
                .to_string()
                .contains("unknown variant `nfs`")
        );
        let bad = PowerLoss {
            modes: vec![CrashMode::Torn { p: 2.0 }],
            ..PowerLoss::default()
        };
        assert!(bad.validate().is_err());
    }
}
