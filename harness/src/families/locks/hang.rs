//! What can be seen of a hung lock-contention writer, from `/proc`: [`process_state`] (its
//! scheduler state and wait channel) and [`file_locks`] (who holds which POSIX lock on the
//! database, WAL and shared-memory files). Best effort: anything unreadable is said so.

use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use nix::unistd::Pid;

/// Most lock entries quoted.
const MOST_LOCKS: usize = 12;

/// `pid 123 state S (sleeping) in futex_wait_queue`, or why it cannot be told.
pub(super) fn process_state(pid: Pid) -> String {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok();
    let state = stat
        .as_deref()
        .and_then(|s| s.rsplit_once(')'))
        .and_then(|(_, rest)| rest.split_whitespace().next())
        .map(|s| match s {
            "R" => "R (running)",
            "S" => "S (sleeping)",
            "D" => "D (waiting on I/O)",
            "T" | "t" => "T (stopped)",
            "Z" => "Z (zombie)",
            _ => "unknown",
        });
    let wchan = std::fs::read_to_string(format!("/proc/{pid}/wchan"))
        .ok()
        .filter(|w| !w.is_empty() && w != "0");
    match (state, wchan) {
        (Some(state), Some(wchan)) => format!("pid {pid} state {state} in {wchan}"),
        (Some(state), None) => format!("pid {pid} state {state}"),
        (None, _) => format!("pid {pid}: no longer visible in /proc"),
    }
}

/// The POSIX locks held on `db` and its `-wal`/`-shm` files, naming the holders in `labels`
/// (the drive worker itself is `drive worker`).
pub(super) fn file_locks(db: &Path, labels: &[(Pid, String)]) -> String {
    let mut files = BTreeMap::new();
    for suffix in ["", "-wal", "-shm"] {
        let mut name = db.as_os_str().to_owned();
        name.push(suffix);
        if let Ok(meta) = std::fs::metadata(&name) {
            let file = Path::new(&name)
                .file_name()
                .map_or(String::new(), |n| n.to_string_lossy().into_owned());
            files.insert(meta.ino(), file);
        }
    }
    let Ok(table) = std::fs::read_to_string("/proc/locks") else {
        return "/proc/locks unreadable".to_owned();
    };
    let me = Pid::this();
    let mut held = Vec::new();
    for line in table.lines() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let [_, _, _, access, pid, device, start, end, ..] = fields[..] else {
            continue;
        };
        let Some(file) = device
            .rsplit(':')
            .next()
            .and_then(|ino| ino.parse::<u64>().ok())
            .and_then(|ino| files.get(&ino))
        else {
            continue;
        };
        let holder = pid.parse::<i32>().ok().map(Pid::from_raw).map_or_else(
            || format!("pid {pid}"),
            |p| {
                labels
                    .iter()
                    .find(|(q, _)| *q == p)
                    .map(|(_, l)| format!("{l} (pid {p})"))
                    .unwrap_or_else(|| {
                        if p == me {
                            format!("drive worker (pid {p})")
                        } else {
                            format!("pid {p}")
                        }
                    })
            },
        );
        held.push(format!(
            "{holder} {access} {file}[{start}..{end}]{}",
            meaning(file, start)
        ));
    }
    if held.is_empty() {
        return "none".to_owned();
    }
    let more = held.len().saturating_sub(MOST_LOCKS);
    held.truncate(MOST_LOCKS);
    let mut text = held.join(", ");
    if more > 0 {
        text.push_str(&format!(", and {more} more"));
    }
    text
}

/// What SQLite uses the locked byte at `start` of `file` for (unix VFS, WAL mode).
fn meaning(file: &str, start: &str) -> &'static str {
    const PENDING: u64 = 0x4000_0000;
    let Ok(start) = start.parse::<u64>() else {
        return "";
    };
    if file.ends_with("-shm") {
        match start {
            120 => " (WAL write lock)",
            121 => " (checkpoint lock)",
            122 => " (recovery lock)",
            123..=127 => " (read mark)",
            128 => " (shm in use)",
            _ => "",
        }
    } else if file.ends_with("-wal") {
        ""
    } else {
        match start {
            PENDING => " (pending)",
            s if s == PENDING + 1 => " (reserved)",
            s if s >= PENDING + 2 => " (shared)",
            _ => "",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_held_write_lock_is_named_with_its_holder() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("l.db");
        let conn = rusqlite::Connection::open(&db).unwrap();
        conn.execute_batch("PRAGMA journal_mode=WAL; CREATE TABLE t(x); BEGIN IMMEDIATE;")
            .unwrap();
        let seen = file_locks(&db, &[]);
        assert!(seen.contains("drive worker"), "{seen}");
        assert!(
            seen.contains("l.db-shm[120..120] (WAL write lock)"),
            "{seen}"
        );
        assert!(process_state(Pid::this()).contains("state"));
    }
}
