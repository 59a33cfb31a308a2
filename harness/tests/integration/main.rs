//! Integration tests of the harness: the CLI as a user sees it, the runner with real worker
//! processes, and the oracle on real databases that were deliberately broken.

mod ambiguous_commit;
mod architecture;
mod as_read;
mod backup;
mod broken_databases;
mod cli;
mod clock;
mod corruption;
mod determinism;
mod explore;
mod failpoints;
mod fork_server;
mod fuse;
mod golden;
mod locks;
mod mutants;
mod observable;
mod perf;
mod power_loss;
mod regressions;
mod report;
mod runner;
mod support;
