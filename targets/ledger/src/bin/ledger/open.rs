//! Opening an existing ledger for a command, with errors that say what to do: [`existing`].

use std::path::PathBuf;

use anyhow::{Context, bail};
use ledger::{Config, Ledger};

use crate::cli::Location;
use crate::dbfile::{self, DbFile};

/// Open the ledger at `location`; a missing database, or a file that is not a ledger, is an
/// error naming the path.
pub fn existing(location: &Location) -> anyhow::Result<Ledger> {
    let db = &location.db;
    let kind = dbfile::inspect(db);
    if kind == DbFile::Missing {
        bail!(
            "database file {} does not exist; pass --db with the path of an existing ledger database, or create one with `ledger init --db {}`",
            db.display(),
            db.display()
        );
    }
    if let Some(refusal) = dbfile::refusal(db, kind) {
        bail!("{refusal}");
    }
    let config = Config::new(db, vault_dir(location));
    Ledger::open(&config)
        .map_err(|error| {
            let remedy = error.remedy();
            anyhow::Error::new(error)
                .context(format!("cannot open ledger {}; {remedy}", db.display()))
        })
        .with_context(|| "opening the ledger".to_owned())
}

/// The vault directory: `--vault`, else `vault` beside the database.
pub fn vault_dir(location: &Location) -> PathBuf {
    match &location.vault {
        Some(vault) => vault.clone(),
        None => location
            .db
            .parent()
            .map(|parent| parent.join("vault"))
            .unwrap_or_else(|| "vault".into()),
    }
}
