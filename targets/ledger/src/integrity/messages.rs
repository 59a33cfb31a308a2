//! What one line of `PRAGMA integrity_check` output says is damaged:
//! [`classify_line`].
//!
//! SQLite's wording varies (btree.c's structural messages, pragma.c's
//! logical ones, and whatever future versions add), so the classifier keys on
//! what a line names, not on its wording, in this order:
//! 1. `Freelist: …` — free space.
//! 2. `Tree R page P…` — the b-tree rooted at R (else the owner of page P).
//! 3. A schema object named in the line: an index is index damage (rebuilt by
//!    `REINDEX`), a table is table damage.
//! 4. A page named in the line (`page N`, `Page N:`) — its owner
//!    ([`PageOwners::page`]).
//! 5. A line about the header (`… header …`, the root-page bookkeeping of
//!    `max rootpage` / `incremental_vacuum`) — the header.
//!
//! Only a line that names nothing of these is [`Damage::Unknown`].
//! `integrity_check` returns the b-tree messages as one row joined by
//! newlines under a `*** in database main ***` banner: [`split_rows`]
//! separates them.

use super::Damage;
use super::owners::PageOwners;

/// The individual messages of `integrity_check`'s rows (banner lines dropped).
pub(crate) fn split_rows(rows: &[String]) -> Vec<String> {
    rows.iter()
        .flat_map(|row| row.lines())
        .map(str::trim)
        .filter(|line| !line.is_empty() && *line != "ok" && !line.starts_with("*** in database"))
        .map(str::to_owned)
        .collect()
}

/// The damage one message names.
pub(crate) fn classify_line(owners: &PageOwners, line: &str) -> Damage {
    if line.starts_with("Freelist:") {
        return Damage::FreeSpace;
    }
    if let Some((root, page)) = tree_prefix(line) {
        return owners
            .tree_rooted_at(root)
            .or_else(|| page.map(|p| owners.page(p)))
            .unwrap_or_else(|| Damage::Unknown(line.to_owned()));
    }
    if let Some(damage) = named_object(owners, line) {
        return damage;
    }
    if let Some(page) = named_page(line) {
        return owners.page(page);
    }
    let lower = line.to_ascii_lowercase();
    if lower.contains("header")
        || lower.contains("max rootpage")
        || lower.contains("incremental_vacuum")
    {
        return Damage::Header;
    }
    Damage::Unknown(line.to_owned())
}

/// `Tree R page P[ cell C| right child]: …` → (R, P).
fn tree_prefix(line: &str) -> Option<(u32, Option<u32>)> {
    let mut words = line.strip_prefix("Tree ")?.split_whitespace();
    let root = number(words.next()?)?;
    let page = match (words.next(), words.next()) {
        (Some("page"), Some(p)) => number(p),
        _ => None,
    };
    Some((root, page))
}

/// A schema object named by a word of the line (an index first: a line that
/// names an index and its table is about the index).
fn named_object(owners: &PageOwners, line: &str) -> Option<Damage> {
    let mut table = None;
    for word in words(line) {
        for part in std::iter::once(word).chain(word.split('.')) {
            match owners.tree_named(part) {
                Some(Damage::Index(name)) => return Some(Damage::Index(name)),
                Some(found) if table.is_none() => table = Some(found),
                _ => {}
            }
        }
    }
    table
}

/// The first `page N` / `Page N:` / `page number N` of the line.
fn named_page(line: &str) -> Option<u32> {
    let words: Vec<&str> = line
        .split_whitespace()
        .filter(|w| !w.eq_ignore_ascii_case("number"))
        .collect();
    words
        .windows(2)
        .find_map(|w| w[0].eq_ignore_ascii_case("page").then(|| number(w[1]))?)
}

fn words(line: &str) -> impl Iterator<Item = &str> {
    line.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '.' || c == '$'))
        .map(|w| w.trim_matches('.'))
        .filter(|w| !w.is_empty())
}

fn number(word: &str) -> Option<u32> {
    word.trim_end_matches([':', ',', '.']).parse().ok()
}

#[cfg(test)]
mod tests {
    use super::super::owners::{Tree, TreeKind};
    use super::*;
    use proptest::prelude::*;

    const TABLE_ROOT: u32 = 2;
    const INDEX_ROOT: u32 = 3;

    fn owners() -> PageOwners {
        let tree = |name: &str, kind, root| Tree {
            name: name.to_owned(),
            kind,
            root,
        };
        PageOwners::new(
            vec![
                tree("sqlite_schema", TreeKind::Table, 1),
                tree("captures", TreeKind::Table, TABLE_ROOT),
                tree("sqlite_autoindex_captures_1", TreeKind::Index, INDEX_ROOT),
                tree("captures_channel_native", TreeKind::Index, 12),
            ],
            &[
                (1, "sqlite_schema"),
                (2, "captures"),
                (20, "captures"),
                (21, "captures"),
                (3, "sqlite_autoindex_captures_1"),
                (30, "sqlite_autoindex_captures_1"),
                (12, "captures_channel_native"),
            ],
        )
    }

    /// Every b-tree message body of btree.c (`checkAppendMsg`) in SQLite
    /// 3.54, with `{p}` for a page number and `{n}` for any other number.
    /// Under a `Tree R page P…:` prefix they name R's tree.
    const TREE_BODIES: &[&str] = &[
        "invalid page number {p}",
        "2nd reference to page {p}",
        "Failed to read ptrmap key={p}",
        "Bad ptr map entry key={p} expected=({n},{n}) got=({n},{n})",
        "failed to get page {p}",
        "overflow list length is {n} but should be {n}",
        "unable to get the page. error code={n}",
        "btree depth exceeds {n}",
        "btreeInitPage() returns error code {n}",
        "free space corruption",
        "Offset {n} out of range {n}..{n}",
        "Extends off end of page",
        "Bad cell header size",
        "Rowid {n} out of order",
        "Child page depth differs",
    ];

    /// btree.c's prefixes for the bodies above.
    const TREE_PREFIXES: &[&str] = &[
        "Tree {r} page {p}: ",
        "Tree {r} page {p} cell {n}: ",
        "Tree {r} page {p} right child: ",
    ];

    /// btree.c's messages without a tree prefix that name a page.
    const PAGE_MESSAGES: &[&str] = &[
        "Multiple uses for byte {n} of page {p}",
        "Fragmentation of {n} bytes reported as {n} on page {p}",
        "Page {p}: pointer map referenced",
        "invalid page number {p}",
        "2nd reference to page {p}",
        "failed to get page {p}",
    ];

    /// btree.c's freelist messages (prefix `Freelist: `).
    const FREELIST_MESSAGES: &[&str] = &[
        "Freelist: freelist leaf count too big on page {p}",
        "Freelist: size is {n} but should be {n}",
        "Freelist: invalid page number {p}",
        "Freelist: 2nd reference to page {p}",
        "Freelist: failed to get page {p}",
    ];

    /// btree.c's messages about the header's root-page bookkeeping.
    const HEADER_MESSAGES: &[&str] = &[
        "max rootpage ({n}) disagrees with header ({n})",
        "incremental_vacuum enabled with a max rootpage of zero",
    ];

    /// pragma.c's messages naming an index (`{i}`).
    const INDEX_MESSAGES: &[&str] = &[
        "wrong # of entries in index {i}",
        "row {n} missing from index {i}",
        "rowid not at end-of-record for row {n} of index {i}",
        "row {n} values differ from index {i}",
        "non-unique entry in index {i}",
        "index {i} stores an imprecise floating-point value for row {n}",
    ];

    /// pragma.c's messages naming a table (`{t}`) and maybe a column.
    const TABLE_MESSAGES: &[&str] = &[
        "row not in PRIMARY KEY order for {t}",
        "NULL value in {t}.raw_content",
        "non-TEXT value in {t}.id",
        "NUMERIC value in {t}.created_at",
        "TEXT value in {t}.created_at",
        "CHECK constraint failed in {t}",
    ];

    fn fill(form: &str, r: u32, p: u32, n: u64, i: &str, t: &str) -> String {
        form.replace("{r}", &r.to_string())
            .replace("{p}", &p.to_string())
            .replace("{n}", &n.to_string())
            .replace("{i}", i)
            .replace("{t}", t)
    }

    fn page_strategy() -> impl Strategy<Value = u32> {
        prop::sample::select(vec![1u32, 2, 3, 12, 20, 21, 30, 40, 99])
    }

    proptest! {
        #[test]
        fn a_tree_message_names_its_tree(
            prefix in prop::sample::select(TREE_PREFIXES),
            body in prop::sample::select(TREE_BODIES),
            root in prop::sample::select(vec![TABLE_ROOT, INDEX_ROOT, 12]),
            p in page_strategy(),
            n in 0u64..100_000,
        ) {
            let line = fill(&format!("{prefix}{body}"), root, p, n, "", "");
            let want = owners().tree_rooted_at(root).unwrap();
            prop_assert_eq!(classify_line(&owners(), &line), want, "{}", line);
        }

        #[test]
        fn a_page_message_names_the_page_owner(
            form in prop::sample::select(PAGE_MESSAGES),
            p in page_strategy(),
            n in 0u64..100_000,
        ) {
            let line = fill(form, 0, p, n, "", "");
            prop_assert_eq!(classify_line(&owners(), &line), owners().page(p), "{}", line);
        }

        #[test]
        fn freelist_and_header_messages(
            form in prop::sample::select(FREELIST_MESSAGES),
            header in prop::sample::select(HEADER_MESSAGES),
            p in page_strategy(),
            n in 0u64..100_000,
        ) {
            let line = fill(form, 0, p, n, "", "");
            prop_assert_eq!(classify_line(&owners(), &line), Damage::FreeSpace, "{}", line);
            let line = fill(header, 0, p, n, "", "");
            prop_assert_eq!(classify_line(&owners(), &line), Damage::Header, "{}", line);
        }

        #[test]
        fn a_message_naming_an_index_is_index_damage(
            form in prop::sample::select(INDEX_MESSAGES),
            index in prop::sample::select(vec!["sqlite_autoindex_captures_1", "captures_channel_native"]),
            n in 0u64..100_000,
        ) {
            let line = fill(form, 0, 0, n, index, "");
            prop_assert_eq!(classify_line(&owners(), &line), Damage::Index(index.to_owned()), "{}", line);
        }

        #[test]
        fn a_message_naming_a_table_is_table_damage(form in prop::sample::select(TABLE_MESSAGES)) {
            let line = fill(form, 0, 0, 0, "", "captures");
            prop_assert_eq!(classify_line(&owners(), &line), Damage::Table("captures".into()), "{}", line);
        }

        #[test]
        fn an_unknown_wording_falls_back_to_what_it_names(
            words in "[a-z ]{0,30}",
            p in page_strategy(),
        ) {
            let line = format!("{words} on page {p} {words}");
            prop_assume!(["header", "rootpage", "incremental", "captures"].iter().all(|w| !line.contains(w)));
            prop_assert_eq!(classify_line(&owners(), &line), owners().page(p), "{}", line);
            let line = format!("{words} captures_channel_native {words}");
            prop_assert_eq!(
                classify_line(&owners(), &line),
                Damage::Index("captures_channel_native".into()),
                "{}", line
            );
        }
    }

    #[test]
    fn the_replayed_failures_are_index_damage() {
        let rows = vec![
            "*** in database main ***\nFragmentation of 16 bytes reported as 0 on page 3"
                .to_owned(),
            "index captures_channel_native stores an imprecise floating-point value for row 9"
                .to_owned(),
        ];
        let lines = split_rows(&rows);
        assert_eq!(lines.len(), 2, "{lines:?}");
        assert_eq!(
            classify_line(&owners(), &lines[0]),
            Damage::Index("sqlite_autoindex_captures_1".into())
        );
        assert_eq!(
            classify_line(&owners(), &lines[1]),
            Damage::Index("captures_channel_native".into())
        );
    }

    #[test]
    fn table_pages_are_never_index_damage() {
        for line in [
            "Fragmentation of 16 bytes reported as 0 on page 20",
            "Tree 2 page 21 cell 4: Rowid 9 out of order",
            "Page 21: pointer map referenced",
        ] {
            assert_eq!(
                classify_line(&owners(), line),
                Damage::Table("captures".into()),
                "{line}"
            );
        }
        assert_eq!(
            classify_line(&owners(), "something new entirely"),
            Damage::Unknown("something new entirely".into())
        );
    }
}
