//! Memory pressure: [`MemoryPressure`], a fake probe the drive worker hands the ledger and
//! raises and lowers at seeded-free, fixed operations of the plan.
//!
//! What the ledger must do: while pressure is on, shrink its page cache and (with memory
//! mapping in use, so `page-checksums = false`) fall back from mmap; every operation still
//! succeeds or fails cleanly, and nothing acknowledged is lost. The drive worker reports the
//! ledger's safety counters; `require-shrink` / `require-mmap-fallback` make their absence a
//! failed verdict.

use serde::{Deserialize, Serialize};

/// When pressure is on, and what the ledger must have done about it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct MemoryPressure {
    /// Pressure goes on before this operation (0-based plan index).
    pub on_at: usize,
    /// Pressure goes off before this operation; absent = stays on.
    pub off_at: Option<usize>,
    /// The ledger must have shrunk its cache at least once.
    #[serde(default = "yes")]
    pub require_shrink: bool,
    /// The ledger must have fallen back from mmap at least once.
    #[serde(default)]
    pub require_mmap_fallback: bool,
}

fn yes() -> bool {
    true
}

impl MemoryPressure {
    /// Whether pressure is on during operation `index`.
    pub fn on_during(&self, index: usize) -> bool {
        index >= self.on_at && self.off_at.is_none_or(|off| index < off)
    }

    /// Checks what serde cannot.
    ///
    /// # Errors
    /// A message naming the bad field.
    pub fn validate(&self) -> Result<(), String> {
        match self.off_at {
            Some(off) if off <= self.on_at => {
                Err("memory-pressure `off-at` must come after `on-at`".into())
            }
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pressure_window_is_half_open() {
        let plan = MemoryPressure {
            on_at: 2,
            off_at: Some(4),
            require_shrink: true,
            require_mmap_fallback: false,
        };
        let on: Vec<usize> = (0..6).filter(|i| plan.on_during(*i)).collect();
        assert_eq!(on, vec![2, 3]);
        assert!(plan.validate().is_ok());
        let bad = MemoryPressure {
            off_at: Some(2),
            ..plan
        };
        assert!(bad.validate().is_err());
    }
}
