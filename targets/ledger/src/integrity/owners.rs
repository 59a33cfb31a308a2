//! Who owns each page of the database: [`PageOwners`], read from
//! `sqlite_schema` (names, kinds, root pages) and the `dbstat` virtual table
//! (every page reachable from a root, with its type: internal, leaf or
//! overflow). A page no b-tree reaches is free (on the freelist, or orphaned
//! by damage elsewhere); page 1 also holds the database header.
//!
//! `dbstat` is compiled into the bundled SQLite (`SQLITE_ENABLE_DBSTAT_VTAB`)
//! and tolerates damaged pages (it marks them and goes on), so the map is
//! read even on a damaged file; read it with page-checksum verification off.

use std::collections::HashMap;

use rusqlite::Connection;

use super::Damage;

/// Whether a b-tree is a table or an index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TreeKind {
    /// A table's rows (or `sqlite_schema`).
    Table,
    /// An index, rebuildable from its table.
    Index,
}

/// One b-tree of the schema.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Tree {
    /// Its name in `sqlite_schema` (`sqlite_schema` for page 1's tree).
    pub name: String,
    /// Table or index.
    pub kind: TreeKind,
    /// Its root page.
    pub root: u32,
}

/// The schema's b-trees and which of them owns each page.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct PageOwners {
    trees: Vec<Tree>,
    owner: HashMap<u32, usize>,
}

impl PageOwners {
    /// A map from explicit parts (tests): `trees`, and `(page, tree name)`.
    #[cfg(test)]
    pub(crate) fn new(trees: Vec<Tree>, pages: &[(u32, &str)]) -> PageOwners {
        let mut owners = PageOwners {
            trees,
            owner: HashMap::new(),
        };
        for (page, name) in pages {
            owners.assign(*page, name);
        }
        owners
    }

    /// Reads the map from `conn` (best effort: what cannot be read is left
    /// out, so those pages count as free).
    pub(crate) fn read(conn: &Connection) -> PageOwners {
        let mut trees = vec![Tree {
            name: "sqlite_schema".to_owned(),
            kind: TreeKind::Table,
            root: 1,
        }];
        let schema: rusqlite::Result<Vec<(String, String, Option<u32>)>> = conn
            .prepare("SELECT name, type, rootpage FROM sqlite_schema")
            .and_then(|mut stmt| {
                stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
                    .collect()
            });
        for (name, kind, root) in schema.unwrap_or_default() {
            let kind = match kind.as_str() {
                "index" => TreeKind::Index,
                "table" => TreeKind::Table,
                _ => continue,
            };
            if let Some(root) = root.filter(|&r| r > 0) {
                trees.push(Tree { name, kind, root });
            }
        }
        let pages: Vec<(u32, String)> = conn
            .prepare("SELECT pageno, name FROM dbstat")
            .and_then(|mut stmt| {
                stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
                    .collect()
            })
            .unwrap_or_default();
        let mut owners = PageOwners {
            trees,
            owner: HashMap::new(),
        };
        for (page, name) in &pages {
            owners.assign(*page, name);
        }
        owners
    }

    fn assign(&mut self, page: u32, name: &str) {
        let name = if name == "sqlite_master" {
            "sqlite_schema"
        } else {
            name
        };
        if let Some(i) = self.trees.iter().position(|t| t.name == name) {
            self.owner.insert(page, i);
        }
    }

    /// The damage a tree's name stands for, if it names one.
    pub(crate) fn tree_named(&self, name: &str) -> Option<Damage> {
        self.trees
            .iter()
            .find(|t| t.name.eq_ignore_ascii_case(name))
            .map(damage_of)
    }

    /// The damage to the tree rooted at `root`, if one is.
    pub(crate) fn tree_rooted_at(&self, root: u32) -> Option<Damage> {
        self.trees.iter().find(|t| t.root == root).map(damage_of)
    }

    /// The damage a damaged `page` stands for: its b-tree's (an overflow
    /// page belongs to the tree whose cell spills into it), the header's for
    /// page 1, free space for a page no b-tree reaches.
    pub(crate) fn page(&self, page: u32) -> Damage {
        if page == 1 {
            return Damage::Header;
        }
        match self.owner.get(&page) {
            Some(&i) => damage_of(&self.trees[i]),
            None => Damage::FreeSpace,
        }
    }
}

fn damage_of(tree: &Tree) -> Damage {
    match tree.kind {
        TreeKind::Index => Damage::Index(tree.name.clone()),
        TreeKind::Table if tree.root == 1 => Damage::Header,
        TreeKind::Table => mutant!(
            TableDamageCalledIndex,
            Damage::Index(tree.name.clone()),
            Damage::Table(tree.name.clone())
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_every_page_owner_of_a_real_database() {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(
            "CREATE TABLE t (id TEXT PRIMARY KEY, body TEXT);
             CREATE INDEX t_body ON t (body);",
        )
        .unwrap();
        let big = "x".repeat(9000);
        for i in 0..50 {
            conn.execute("INSERT INTO t VALUES (?1, ?2)", (format!("id{i}"), &big))
                .unwrap();
        }
        let owners = PageOwners::read(&conn);
        let count: u32 = conn
            .query_row("PRAGMA page_count", [], |r| r.get(0))
            .unwrap();
        let kinds: Vec<Damage> = (1..=count).map(|p| owners.page(p)).collect();
        assert_eq!(kinds[0], Damage::Header);
        assert!(kinds.contains(&Damage::Table("t".into())));
        assert!(kinds.contains(&Damage::Index("t_body".into())));
        assert!(kinds.contains(&Damage::Index("sqlite_autoindex_t_1".into())));
        let overflow: u32 = conn
            .query_row(
                "SELECT pageno FROM dbstat WHERE name = 't' AND pagetype = 'overflow' LIMIT 1",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(owners.page(overflow), Damage::Table("t".into()));
        assert_eq!(owners.page(count + 5), Damage::FreeSpace);
    }
}
