//! The harness's own cost: `Ledger::stage` (WAL + FULL) on tmpfs through the
//! default VFS, through the fault VFS in pass-through, and through the fault
//! VFS tracking power loss (real syncs skipped, as the harness simulates).
//! Each arm has its own fresh ledger. After criterion, an interleaved A/B
//! (`perfkit::run_ab`) prints each shim's time over the default's with
//! its bootstrap interval and the A/A control.

use std::hint::black_box;
use std::path::Path;

use benches::inserts::new_capture;
use benches::{scratch, settings};
use criterion::{Criterion, criterion_group, criterion_main};
use harness::backends::vfs::{FaultVfs, VfsOptions};
use ledger::{Config, Ledger, LedgerError};
use perfkit::{AbConfig, Arm, run_ab};

fn open_ledger(dir: &Path, name: &str, vfs: Option<&FaultVfs>) -> Ledger {
    let mut config = Config::new(dir.join(format!("{name}.db")), dir.join("vault"));
    config.vfs = vfs.map(|vfs| vfs.name().to_owned());
    Ledger::open(&config).expect("open ledger")
}

fn stage(ledger: &mut Ledger, next: &mut u64) -> Result<(), LedgerError> {
    *next += 1;
    black_box(ledger.stage(&new_capture(*next))?);
    Ok(())
}

fn vfs_overhead(c: &mut Criterion) {
    let dir = scratch::tempdir();
    eprintln!(
        "vfs benches in {} (tmpfs: {})",
        dir.path().display(),
        scratch::on_tmpfs()
    );
    let pass_through = FaultVfs::register(
        "bench-pass-through",
        VfsOptions {
            forward_fetch: true,
            ..VfsOptions::default()
        },
    )
    .expect("register pass-through VFS");
    let tracking = FaultVfs::register(
        "bench-tracking",
        VfsOptions {
            forward_fetch: true,
            track_power_loss: true,
            skip_real_sync: true,
        },
    )
    .expect("register tracking VFS");
    let mut arms = [
        ("default-vfs", open_ledger(dir.path(), "default", None)),
        (
            "pass-through",
            open_ledger(dir.path(), "pass", Some(&pass_through)),
        ),
        (
            "power-loss-tracking",
            open_ledger(dir.path(), "tracking", Some(&tracking)),
        ),
    ];
    let mut next = 0;
    let mut group = c.benchmark_group("vfs/stage");
    for (label, ledger) in arms.iter_mut() {
        group.bench_function(*label, |b| {
            b.iter(|| stage(ledger, &mut next).expect("stage"))
        });
    }
    group.finish();

    let config = AbConfig {
        iterations_per_sample: 200,
        ..if settings::quick() {
            AbConfig::quick()
        } else {
            AbConfig::default()
        }
    };
    let [(_, default), rest @ ..] = &mut arms;
    for (label, shim) in rest.iter_mut() {
        let report = run_ab(&config, |arm| match arm {
            Arm::Baseline => stage(shim, &mut next),
            Arm::Candidate => stage(default, &mut next),
        })
        .expect("interleaved A/B");
        eprintln!("vfs overhead {label} / default-vfs (ABAB, time ratio): {report}");
    }
}

criterion_group! {
    name = benches;
    config = settings::criterion();
    targets = vfs_overhead
}
criterion_main!(benches);
