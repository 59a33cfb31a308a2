//! The layout rules of `harness/src`, read from the source: the engine names no family, the
//! oracle imports no family, and no module imports one that imports it back.
//!
//! Imports are the `crate::…` and `super::…` paths in a file (test modules left out), each
//! resolved to the deepest module file it names: `crate::engine::drive::Sink` is an edge to
//! `engine/drive.rs`, `crate::engine::Family` one to `engine/mod.rs`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// Every `.rs` file under `dir`, relative to `src()`.
fn files(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).expect("read src") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            found.extend(files(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            found.push(path.strip_prefix(src()).expect("under src").to_owned());
        }
    }
    found.sort();
    found
}

/// A file's module path: `engine/drive.rs` is `["engine", "drive"]`, `engine/mod.rs` and
/// `lib.rs` are `["engine"]` and `[]`.
fn module_of(file: &Path) -> Vec<String> {
    let mut parts: Vec<String> = file
        .with_extension("")
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if matches!(
        parts.last().map(String::as_str),
        Some("mod" | "lib" | "main")
    ) {
        parts.pop();
    }
    parts
}

/// The file's code without comments (a doc link is not an import) and without its test module
/// (by convention the last item of a file).
fn code(file: &Path) -> String {
    let text = std::fs::read_to_string(src().join(file)).expect("read file");
    let text = match text.find("#[cfg(test)]") {
        Some(at) => &text[..at],
        None => &text,
    };
    text.lines()
        .map(|line| line.find("//").map_or(line, |at| &line[..at]))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Every path after `crate::` or `super::` in `code`, as written (segments of identifiers).
fn paths(code: &str, module: &[String]) -> Vec<Vec<String>> {
    let mut found = Vec::new();
    let bytes = code.as_bytes();
    let ident = |c: u8| c.is_ascii_alphanumeric() || c == b'_';
    let mut i = 0;
    while i < bytes.len() {
        let rest = &bytes[i..];
        let preceded_by_ident = i > 0 && (ident(bytes[i - 1]) || bytes[i - 1] == b':');
        let start = if preceded_by_ident {
            None
        } else if rest.starts_with(b"crate::") {
            Some((Vec::new(), "crate::".len()))
        } else if rest.starts_with(b"super::") {
            // `super` of `a/b.rs` (module a::b) is `a`; of `a/b/mod.rs` (module a::b) it is `a`.
            let mut base = module.to_vec();
            base.pop();
            let mut skip = "super::".len();
            while bytes[i + skip..].starts_with(b"super::") {
                base.pop();
                skip += "super::".len();
            }
            Some((base, skip))
        } else {
            None
        };
        let Some((mut path, skip)) = start else {
            i += 1;
            continue;
        };
        let mut j = i + skip;
        loop {
            let seg_start = j;
            while j < bytes.len() && ident(bytes[j]) {
                j += 1;
            }
            if j == seg_start {
                break;
            }
            path.push(code[seg_start..j].to_owned());
            if bytes[j..].starts_with(b"::") && j + 2 < bytes.len() && ident(bytes[j + 2]) {
                j += 2;
            } else {
                break;
            }
        }
        found.push(path);
        i = j.max(i + 1);
    }
    found
}

/// Module path → its file, for every file under `src()`.
fn modules() -> BTreeMap<Vec<String>, PathBuf> {
    files(&src())
        .into_iter()
        .filter(|f| f != Path::new("main.rs"))
        .map(|f| (module_of(&f), f))
        .collect()
}

/// Paths of `use child::…` items, where `child` is a module declared in `module`.
fn child_uses(
    code: &str,
    module: &[String],
    modules: &BTreeMap<Vec<String>, PathBuf>,
) -> Vec<Vec<String>> {
    code.lines()
        .filter_map(|line| line.trim().strip_prefix("use "))
        .filter_map(|rest| {
            let segments: Vec<String> = rest
                .split("::")
                .map(|s| {
                    s.chars()
                        .take_while(|c| c.is_alphanumeric() || *c == '_')
                        .collect()
                })
                .take_while(|s: &String| !s.is_empty())
                .collect();
            let mut path = module.to_vec();
            path.extend(segments);
            let child = &path[..module.len() + 1.min(path.len() - module.len())];
            modules.contains_key(child).then_some(path)
        })
        .collect()
}

/// The files `file` imports (resolved to the deepest module file each path names).
fn imports(file: &Path, modules: &BTreeMap<Vec<String>, PathBuf>) -> BTreeSet<PathBuf> {
    let module = module_of(file);
    let code = code(file);
    let mut edges = BTreeSet::new();
    let mut found = paths(&code, &module);
    found.extend(child_uses(&code, &module, modules));
    for path in found {
        let target = (0..=path.len())
            .rev()
            .find_map(|n| modules.get(&path[..n]))
            .expect("the crate root resolves");
        if target != file {
            edges.insert(target.clone());
        }
    }
    edges
}

fn graph() -> BTreeMap<PathBuf, BTreeSet<PathBuf>> {
    let modules = modules();
    modules
        .values()
        .map(|file| (file.clone(), imports(file, &modules)))
        .collect()
}

/// Every type a family implements `Family` on (`impl Family for X`, and the payload of each
/// `FaultPlan` variant), and `FaultPlan`.
fn family_types() -> BTreeSet<String> {
    let mut types = BTreeSet::from(["FaultPlan".to_owned()]);
    let plans = code(Path::new("families/mod.rs"));
    let body = &plans[plans.find("pub enum FaultPlan {").expect("FaultPlan")..];
    let body = &body[..body.find("\n}").expect("end of FaultPlan")];
    for (at, _) in body.match_indices('(') {
        let path: String = body[at + 1..]
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == ':')
            .collect();
        types.extend(path.rsplit("::").next().map(str::to_owned));
    }
    for file in files(&src().join("families")) {
        let text = code(&file);
        for (at, _) in text.match_indices("impl Family for ") {
            let name: String = text[at + "impl Family for ".len()..]
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            types.insert(name);
        }
    }
    types
}

/// The identifiers of `code` outside comments.
fn identifiers(code: &str) -> BTreeSet<String> {
    code.lines()
        .map(|line| line.find("//").map_or(line, |at| &line[..at]))
        .flat_map(|line| line.split(|c: char| !(c.is_alphanumeric() || c == '_')))
        .filter(|word| !word.is_empty())
        .map(str::to_owned)
        .collect()
}

#[test]
fn the_engine_names_no_family() {
    let types = family_types();
    assert!(
        types.contains("PowerLoss") && types.contains("ProcessKill") && types.contains("Baseline"),
        "{types:?}"
    );
    let mut offences = Vec::new();
    for (file, edges) in graph() {
        if !file.starts_with("engine") {
            continue;
        }
        for edge in edges {
            if edge.starts_with("families") {
                offences.push(format!("{} imports {}", file.display(), edge.display()));
            }
        }
        for word in identifiers(&code(&file)) {
            if types.contains(&word) || word == "families" {
                offences.push(format!("{} names `{word}`", file.display()));
            }
        }
    }
    assert!(offences.is_empty(), "{offences:#?}");
}

#[test]
fn the_oracle_imports_no_family_and_nothing_that_runs_faults() {
    let mut offences = Vec::new();
    for (file, edges) in graph() {
        if !file.starts_with("oracle") {
            continue;
        }
        for edge in edges {
            let allowed = edge.starts_with("oracle") || edge.starts_with("workload");
            if !allowed {
                offences.push(format!("{} imports {}", file.display(), edge.display()));
            }
        }
    }
    assert!(offences.is_empty(), "{offences:#?}");
}

#[test]
fn no_module_imports_one_that_imports_it_back() {
    let graph = graph();
    let mut cycles = Vec::new();
    for (file, edges) in &graph {
        for edge in edges {
            if file < edge && graph.get(edge).is_some_and(|back| back.contains(file)) {
                cycles.push(format!("{} <-> {}", file.display(), edge.display()));
            }
        }
    }
    assert!(cycles.is_empty(), "{cycles:#?}");
}

#[test]
fn the_rules_can_fail() {
    // The parser sees imports, so the rules above are not vacuous.
    let graph = graph();
    let supervisor = &graph[Path::new("engine/supervisor.rs")];
    assert!(
        supervisor.contains(Path::new("engine/job.rs")),
        "{supervisor:?}"
    );
    let families = &graph[Path::new("families/mod.rs")];
    assert!(
        families.contains(Path::new("engine/mod.rs")),
        "{families:?}"
    );
    assert!(
        families.contains(Path::new("families/power_loss/plan.rs")),
        "a child module's `use` is an edge too: {families:?}"
    );
    let code = "use crate::engine::{Family};\nfn f() { super::plan::X; }";
    assert!(identifiers("let p = PowerLoss; // Disk").contains("PowerLoss"));
    assert!(!identifiers("let p = PowerLoss; // Disk").contains("Disk"));
    let module = vec!["families".to_owned(), "disk".to_owned()];
    let found = paths(code, &module);
    assert_eq!(
        found,
        [
            vec!["engine".to_owned()],
            vec!["families".to_owned(), "plan".to_owned(), "X".to_owned()],
        ]
    );
}
