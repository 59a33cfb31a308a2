//! Prints every criterion group's medians and its ratios against the group's
//! baseline arm, as a Markdown table, from `target/criterion/**/new/`.
//!
//! `cargo run -p benches --bin bench-ratios [CRITERION_DIR]`
//!
//! The baseline arm of a group is the first of `before`, `default-2mb`,
//! `off`, `wal-full`, `default-vfs` it has; the ratio is baseline median /
//! arm median (above 1: the arm is faster).

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

const BASELINES: [&str; 5] = ["before", "default-2mb", "off", "wal-full", "default-vfs"];

fn median_ns(dir: &Path) -> Option<(String, String, f64)> {
    let read = |name: &str| -> Option<serde_json::Value> {
        serde_json::from_str(&fs::read_to_string(dir.join(name)).ok()?).ok()
    };
    let bench = read("benchmark.json")?;
    let estimates = read("estimates.json")?;
    Some((
        bench["group_id"].as_str()?.to_owned(),
        bench["function_id"].as_str()?.to_owned(),
        estimates["median"]["point_estimate"].as_f64()?,
    ))
}

fn walk(dir: &Path, found: &mut Vec<PathBuf>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            if path.file_name().is_some_and(|name| name == "new") {
                found.push(path);
            } else {
                walk(&path, found);
            }
        }
    }
}

fn human(ns: f64) -> String {
    match ns {
        ns if ns >= 1e9 => format!("{:.2} s", ns / 1e9),
        ns if ns >= 1e6 => format!("{:.2} ms", ns / 1e6),
        ns if ns >= 1e3 => format!("{:.1} µs", ns / 1e3),
        ns => format!("{ns:.0} ns"),
    }
}

fn main() {
    let root = std::env::args()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/criterion"));
    let mut dirs = Vec::new();
    walk(&root, &mut dirs);
    let mut groups: BTreeMap<String, Vec<(String, f64)>> = BTreeMap::new();
    for dir in dirs {
        if let Some((group, function, ns)) = median_ns(&dir) {
            groups.entry(group).or_default().push((function, ns));
        }
    }
    println!("| group | baseline (median) | arm (median) | ratio baseline/arm |");
    println!("|---|---|---|---|");
    for (group, mut arms) in groups {
        arms.sort_by(|a, b| a.0.cmp(&b.0));
        let baseline = BASELINES
            .iter()
            .find_map(|name| arms.iter().find(|(function, _)| function == name))
            .cloned();
        match baseline {
            Some((base_name, base_ns)) => {
                for (function, ns) in arms.iter().filter(|(function, _)| *function != base_name) {
                    println!(
                        "| {group} | {base_name} {} | {function} {} | {:.2}x |",
                        human(base_ns),
                        human(*ns),
                        base_ns / ns
                    );
                }
            }
            None => {
                for (function, ns) in &arms {
                    println!("| {group} | - | {function} {} | - |", human(*ns));
                }
            }
        }
    }
}
