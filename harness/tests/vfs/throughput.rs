//! A rough throughput comparison (not a test of speed; run by hand):
//! `cargo test --release -p harness --test vfs -- --ignored --nocapture throughput`

use std::time::Instant;

use harness::backends::vfs::VfsOptions;
use rusqlite::Connection;

use crate::common::{create_db, open, payload, register, tempdir};

fn inserts_per_second(conn: &Connection, n: i64) -> f64 {
    conn.pragma_update(None, "synchronous", "FULL").unwrap();
    let start = Instant::now();
    for id in 1..=n {
        conn.execute("INSERT INTO t VALUES (?1, ?2)", (id, payload(id % 64)))
            .unwrap();
    }
    n as f64 / start.elapsed().as_secs_f64()
}

#[test]
#[ignore = "measurement, run by hand in release mode"]
fn throughput() {
    let n = 20_000;
    let setups: [(&str, Option<VfsOptions>); 4] = [
        ("default VFS", None),
        ("shim pass-through", Some(VfsOptions::default())),
        (
            "shim tracking",
            Some(VfsOptions {
                track_power_loss: true,
                ..VfsOptions::default()
            }),
        ),
        (
            "shim tracking, skip real sync",
            Some(VfsOptions {
                track_power_loss: true,
                skip_real_sync: true,
                ..VfsOptions::default()
            }),
        ),
    ];
    for round in 0..2 {
        for (label, options) in &setups {
            let dir = tempdir();
            let db = dir.path().join("t.db");
            create_db(&db, "wal");
            let conn = match options {
                None => Connection::open(&db).unwrap(),
                Some(options) => open(&register(options.clone()), &db).unwrap(),
            };
            let rate = inserts_per_second(&conn, n);
            println!(
                "round {round} {label:32} {rate:>10.0} inserts/s (WAL, FULL, one insert per transaction)"
            );
        }
    }
}
