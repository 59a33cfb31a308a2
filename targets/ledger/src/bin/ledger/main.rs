//! `ledger`: creation, health, checks, maintenance, statistics, backups and restore of a staging-ledger database.

mod backup;
mod check;
mod cli;
mod dbfile;
mod health;
mod init;
mod logging;
mod maintain;
mod open;
mod restore;
mod stats;

fn main() -> std::process::ExitCode {
    cli::main_impl()
}
