//! Arguments and dispatch: [`main_impl`] parses, sets up logging, runs one
//! subcommand and maps its outcome to an exit code.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::logging;

/// Operate a staging-ledger database: health, checks, maintenance, statistics.
///
/// Exit codes: 0 success (healthy or degraded); 1 unhealthy, a failed check or
/// a failed maintenance step; 2 bad usage or input (e.g. a missing database).
#[derive(Debug, Parser)]
#[command(name = "ledger", version)]
pub struct Cli {
    /// Log format on stderr.
    #[arg(long, value_enum, default_value_t = LogFormat::Text, global = true)]
    pub log_format: LogFormat,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// How log lines on stderr look.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// Where the ledger lives.
#[derive(Debug, Clone, Args)]
pub struct Location {
    /// The database file (must exist).
    #[arg(long)]
    pub db: PathBuf,
    /// The vault directory (default: `vault` beside the database).
    #[arg(long)]
    pub vault: Option<PathBuf>,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Health: checks, metrics, plan warnings, regressions, capacity; exit 1 when unhealthy.
    Health {
        /// Where the ledger lives.
        #[command(flatten)]
        location: Location,
        /// Print the full report as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Integrity (quick, or full with --full), foreign keys and query plans; exit 1 on a problem.
    Check {
        /// Where the ledger lives.
        #[command(flatten)]
        location: Location,
        /// Run `PRAGMA integrity_check` instead of `quick_check`.
        #[arg(long)]
        full: bool,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Run the maintenance that is due; exit 1 when a step failed.
    Maintain {
        /// Where the ledger lives.
        #[command(flatten)]
        location: Location,
        /// Only list what is due and why.
        #[arg(long)]
        dry_run: bool,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Print one metrics snapshot as a JSON line.
    Stats {
        /// Where the ledger lives.
        #[command(flatten)]
        location: Location,
    },
}

/// What a subcommand concluded.
pub enum Outcome {
    /// Exit 0.
    Success,
    /// Exit 1: the database is unhealthy, a check or a step failed.
    Failure,
}

/// Parse, set up logging, dispatch, and map the result to an exit code.
pub fn main_impl() -> ExitCode {
    let cli = Cli::parse();
    logging::init(cli.log_format);
    let result = match cli.command {
        Command::Health { location, json } => crate::health::run(&location, json),
        Command::Check {
            location,
            full,
            json,
        } => crate::check::run(&location, full, json),
        Command::Maintain {
            location,
            dry_run,
            json,
        } => crate::maintain::run(&location, dry_run, json),
        Command::Stats { location } => crate::stats::run(&location),
    };
    match result {
        Ok(Outcome::Success) => ExitCode::SUCCESS,
        Ok(Outcome::Failure) => ExitCode::from(1),
        Err(error) => {
            if is_broken_pipe(&error) {
                return ExitCode::SUCCESS;
            }
            eprintln!("error: {error:#}");
            ExitCode::from(2)
        }
    }
}

fn is_broken_pipe(error: &anyhow::Error) -> bool {
    error
        .downcast_ref::<std::io::Error>()
        .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
}
