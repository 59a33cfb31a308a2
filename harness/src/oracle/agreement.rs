//! `backends_agree`: the same workload and the same cut on the fault VFS and on the FUSE
//! backend must leave the same durable files ([`BackendComparison`]). Each compared cut holds
//! both backends' crash images as trees (relative path → bytes; a directory is its path with a
//! trailing `/`); any difference is a problem that shows both views side by side.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// The files and directories of one crash image: relative path → bytes (`None` = directory).
pub type TreeView = BTreeMap<String, Option<Vec<u8>>>;

/// One cut, as each backend imaged it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ComparedCut {
    /// Where the cut was and which crash mode (`cut before operation 7, drop`).
    pub label: String,
    /// The fault VFS's image (its vault as the vault model leaves it).
    pub vfs: TreeView,
    /// The FUSE backend's image.
    pub fuse: TreeView,
}

/// Every compared cut of an iteration.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BackendComparison {
    /// The cuts, in order.
    pub cuts: Vec<ComparedCut>,
}

impl BackendComparison {
    /// One problem per cut whose images differ, each listing every differing path with both
    /// views side by side.
    pub fn problems(&self) -> Vec<String> {
        if self.cuts.is_empty() {
            return vec!["no cut was compared".into()];
        }
        self.cuts
            .iter()
            .filter(|cut| cut.vfs != cut.fuse)
            .map(|cut| {
                let paths: BTreeSet<&String> = cut.vfs.keys().chain(cut.fuse.keys()).collect();
                let differing: Vec<String> = paths
                    .into_iter()
                    .filter(|path| cut.vfs.get(*path) != cut.fuse.get(*path))
                    .map(|path| {
                        format!(
                            "{path}: vfs {} | fuse {}",
                            describe(cut.vfs.get(path), cut.fuse.get(path)),
                            describe(cut.fuse.get(path), cut.vfs.get(path))
                        )
                    })
                    .collect();
                format!(
                    "{}: the backends disagree: {}",
                    cut.label,
                    differing.join("; ")
                )
            })
            .collect()
    }
}

/// One side of a differing path, with where it first differs from the other side.
fn describe(this: Option<&Option<Vec<u8>>>, other: Option<&Option<Vec<u8>>>) -> String {
    match this {
        None => "absent".into(),
        Some(None) => "directory".into(),
        Some(Some(bytes)) => {
            let first_difference = match other {
                Some(Some(theirs)) => bytes
                    .iter()
                    .zip(theirs)
                    .position(|(a, b)| a != b)
                    .unwrap_or(bytes.len().min(theirs.len())),
                _ => 0,
            };
            format!(
                "{} bytes (first difference at byte {first_difference})",
                bytes.len()
            )
        }
    }
}

/// Reads the tree below `root` into a [`TreeView`].
///
/// # Errors
/// The first I/O error.
pub fn read_tree(root: &Path) -> std::io::Result<TreeView> {
    let mut view = TreeView::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir)? {
            let path = entry?.path();
            let relative = path
                .strip_prefix(root)
                .unwrap_or(&path)
                .to_string_lossy()
                .into_owned();
            if path.is_dir() {
                view.insert(format!("{relative}/"), None);
                stack.push(path);
            } else {
                view.insert(relative, Some(std::fs::read(&path)?));
            }
        }
    }
    Ok(view)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree(entries: &[(&str, Option<&[u8]>)]) -> TreeView {
        entries
            .iter()
            .map(|(p, b)| ((*p).to_owned(), b.map(<[u8]>::to_vec)))
            .collect()
    }

    #[test]
    fn equal_images_agree_and_any_difference_is_shown_side_by_side() {
        let same = tree(&[("db", Some(b"abc")), ("vault/", None)]);
        let agree = BackendComparison {
            cuts: vec![ComparedCut {
                label: "cut before operation 3, drop".into(),
                vfs: same.clone(),
                fuse: same.clone(),
            }],
        };
        assert!(agree.problems().is_empty());
        let mut journal_back = same.clone();
        journal_back.insert("db-journal".into(), Some(b"hot".to_vec()));
        journal_back.insert("db".into(), Some(b"abd".to_vec()));
        let disagree = BackendComparison {
            cuts: vec![ComparedCut {
                label: "cut before operation 3, drop".into(),
                vfs: journal_back,
                fuse: same,
            }],
        };
        let problems = disagree.problems();
        assert_eq!(problems.len(), 1);
        assert!(
            problems[0].contains("db: vfs 3 bytes (first difference at byte 2) | fuse 3 bytes"),
            "{problems:?}"
        );
        assert!(
            problems[0].contains("db-journal: vfs 3 bytes"),
            "{problems:?}"
        );
        assert!(problems[0].contains("| fuse absent"), "{problems:?}");
        assert_eq!(
            BackendComparison::default().problems(),
            ["no cut was compared"]
        );
    }

    #[test]
    fn a_tree_lists_directories_and_files() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("vault")).unwrap();
        std::fs::write(dir.path().join("vault/a.md"), "a").unwrap();
        let view = read_tree(dir.path()).unwrap();
        assert_eq!(view, tree(&[("vault/", None), ("vault/a.md", Some(b"a"))]));
    }
}
