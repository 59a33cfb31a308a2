//! `ledger`: health, checks, maintenance and statistics of a staging-ledger database.

mod check;
mod cli;
mod health;
mod logging;
mod maintain;
mod open;
mod stats;

fn main() -> std::process::ExitCode {
    cli::main_impl()
}
