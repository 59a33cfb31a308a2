//! Arguments and dispatch: [`main_impl`] parses, sets up logging, runs one
//! subcommand and maps its outcome to an exit code.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::logging;

/// Operate a staging-ledger database: health, checks, maintenance, statistics,
/// backups, verification, rotation, WAL archiving and restore.
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
    /// The database file (must exist, except for `init`).
    #[arg(long)]
    pub db: PathBuf,
    /// The vault directory (default: `vault` beside the database).
    #[arg(long)]
    pub vault: Option<PathBuf>,
}

/// Where the backups live.
#[derive(Debug, Clone, Args)]
pub struct BackupPlace {
    /// The backup directory (default: `backups` beside the database).
    #[arg(long)]
    pub backup_dir: Option<PathBuf>,
    /// Pin snapshots at a WAL archive position (point-in-time recovery).
    #[arg(long)]
    pub archive: bool,
}

/// What `ledger restore` restores to, and where.
#[derive(Debug, Clone, Args)]
pub struct RestoreArgs {
    /// Restore the newest state the backups and the WAL archive hold.
    #[arg(long, conflicts_with_all = ["to", "txid"])]
    pub latest: bool,
    /// Restore the state after the last transaction archived at or before
    /// this time: unix milliseconds or UTC `2024-05-01T12:00:00.000Z`.
    #[arg(long, conflicts_with = "txid")]
    pub to: Option<String>,
    /// Restore the state right after archive transaction N.
    #[arg(long)]
    pub txid: Option<u64>,
    /// The new database file to write (must not exist).
    #[arg(long)]
    pub into: PathBuf,
    /// Only print the plan: snapshot, segments, target.
    #[arg(long)]
    pub dry_run: bool,
    /// Print the plan or report as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Backup subcommands of `ledger backups`.
#[derive(Debug, Subcommand)]
pub enum BackupsCommand {
    /// List backups with their verification state and age.
    List {
        /// Where the ledger lives.
        #[command(flatten)]
        location: Location,
        /// Where the backups live.
        #[command(flatten)]
        place: BackupPlace,
        /// Print the list as JSON.
        #[arg(long)]
        json: bool,
    },
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create a ledger: schema and default pragmas (WAL, synchronous FULL, page checksums);
    /// an existing ledger is left as it is, any other existing file is refused.
    Init {
        /// Where the ledger lives.
        #[command(flatten)]
        location: Location,
    },
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
    /// Take an online backup and verify it; exit 1 when verification failed.
    Backup {
        /// Where the ledger lives.
        #[command(flatten)]
        location: Location,
        /// Where the backups live.
        #[command(flatten)]
        place: BackupPlace,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Inspect backups.
    #[command(subcommand)]
    Backups(BackupsCommand),
    /// Verify one backup file (integrity, logical hash, restore test); exit 1 when it fails.
    Verify {
        /// The backup file (`ledger-<stamp>.db`).
        path: PathBuf,
        /// Record the outcome in this ledger (escalation); optional.
        #[arg(long)]
        db: Option<PathBuf>,
        /// Where the backups live.
        #[command(flatten)]
        place: BackupPlace,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Restore a backup (plus archived WAL) into a new database file.
    Restore {
        /// Where the ledger lives (its backups are found beside it).
        #[command(flatten)]
        location: Location,
        /// Where the backups live.
        #[command(flatten)]
        place: BackupPlace,
        /// What to restore and where.
        #[command(flatten)]
        args: RestoreArgs,
    },
    /// Delete backups the retention policy no longer keeps.
    Rotate {
        /// Where the ledger lives.
        #[command(flatten)]
        location: Location,
        /// Where the backups live.
        #[command(flatten)]
        place: BackupPlace,
        /// Only list what would be deleted.
        #[arg(long)]
        dry_run: bool,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Copy new WAL frames into the archive (point-in-time recovery).
    Archive {
        /// Where the ledger lives.
        #[command(flatten)]
        location: Location,
        /// Where the backups live.
        #[command(flatten)]
        place: BackupPlace,
        /// Checkpoint what was archived afterwards.
        #[arg(long)]
        checkpoint: bool,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
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
        Command::Init { location } => crate::init::run(&location),
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
        Command::Backup {
            location,
            place,
            json,
        } => crate::backup::run_backup(&location, &place, json),
        Command::Backups(BackupsCommand::List {
            location,
            place,
            json,
        }) => crate::backup::run_list(&location, &place, json),
        Command::Verify {
            path,
            db,
            place,
            json,
        } => {
            let location = db.map(|db| Location { db, vault: None });
            crate::backup::run_verify(&path, location.as_ref(), &place, json)
        }
        Command::Restore {
            location,
            place,
            args,
        } => crate::restore::run(&location, &place, &args),
        Command::Rotate {
            location,
            place,
            dry_run,
            json,
        } => crate::backup::run_rotate(&location, &place, dry_run, json),
        Command::Archive {
            location,
            place,
            checkpoint,
            json,
        } => crate::backup::run_archive(&location, &place, checkpoint, json),
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
