//! Seeded datasets cached on disk, by bench size: [`Dataset::cached`]. The builder and cache
//! live in `perfkit::dataset` (the perf scenarios use the same files).

use std::path::{Path, PathBuf};

use perfkit::dataset::{Dataset as Built, DatasetSpec};
pub use perfkit::dataset::{Variant, data_dir};

use crate::BenchError;
use crate::settings::Size;

/// A built dataset of a bench size.
#[derive(Debug, Clone)]
pub struct Dataset {
    /// The database file (WAL mode, analysed).
    pub path: PathBuf,
    /// Its size.
    pub size: Size,
    /// Its schema.
    pub variant: Variant,
}

impl Dataset {
    /// The dataset of `size` with `variant`'s schema and a 3 % backlog, built now if not cached.
    ///
    /// # Errors
    /// Any I/O or SQLite failure while building.
    pub fn cached(size: Size, variant: Variant) -> Result<Dataset, BenchError> {
        let built = Built::cached(DatasetSpec::new(size.captures(), variant))?;
        Ok(Dataset {
            path: built.path,
            size,
            variant,
        })
    }

    /// A copy of this dataset in `dir` (for benches that write), as `name`.
    ///
    /// # Errors
    /// I/O errors.
    pub fn copy_to(&self, dir: &Path, name: &str) -> Result<PathBuf, BenchError> {
        let target = dir.join(name);
        std::fs::copy(&self.path, &target).map_err(|source| BenchError::Io {
            what: "copy the dataset to",
            path: target.clone(),
            source,
        })?;
        Ok(target)
    }
}
