//! Opening an existing ledger for a command, with errors that say what to do: [`existing`].

use anyhow::{Context, bail};
use ledger::{Config, Ledger};

use crate::cli::Location;

/// Open the ledger at `location`; a missing database is an error naming the path.
pub fn existing(location: &Location) -> anyhow::Result<Ledger> {
    let db = &location.db;
    if !db.exists() {
        bail!(
            "database file {} does not exist; pass --db with the path of an existing ledger database",
            db.display()
        );
    }
    if !db.is_file() {
        bail!(
            "{} is not a file; pass --db with the path of a ledger database file",
            db.display()
        );
    }
    let vault = match &location.vault {
        Some(vault) => vault.clone(),
        None => db
            .parent()
            .map(|parent| parent.join("vault"))
            .unwrap_or_else(|| "vault".into()),
    };
    let config = Config::new(db, vault);
    Ledger::open(&config)
        .map_err(|error| {
            let remedy = error.remedy();
            anyhow::Error::new(error)
                .context(format!("cannot open ledger {}; {remedy}", db.display()))
        })
        .with_context(|| "opening the ledger".to_owned())
}
