//! `ledger init --db PATH`: create a ledger with its schema and default pragmas; an existing
//! ledger is left as it is, any other existing file is refused.

use anyhow::bail;
use ledger::{Config, Ledger};

use crate::cli::{Location, Outcome};
use crate::dbfile::{self, DbFile};

/// Create the ledger at `location` (or report the one already there).
pub fn run(location: &Location) -> anyhow::Result<Outcome> {
    let db = &location.db;
    let kind = dbfile::inspect(db);
    if let Some(refusal) = dbfile::refusal(db, kind) {
        bail!("{refusal}");
    }
    if kind == DbFile::Unreadable {
        bail!(
            "{} exists but its tables cannot be read; run `ledger check --full --db {}`",
            db.display(),
            db.display()
        );
    }
    if let Some(parent) = db.parent().filter(|p| !p.as_os_str().is_empty())
        && !parent.is_dir()
    {
        bail!(
            "directory {} does not exist; create it first or pass another --db",
            parent.display()
        );
    }
    let vault = crate::open::vault_dir(location);
    let ledger = Ledger::open(&Config::new(db, &vault))?;
    let conn = ledger.connection();
    let pragma = |name: &str| -> anyhow::Result<String> {
        Ok(conn.query_row(&format!("PRAGMA {name}"), [], |row| {
            row.get::<_, rusqlite::types::Value>(0)
                .map(|value| match value {
                    rusqlite::types::Value::Integer(n) => n.to_string(),
                    rusqlite::types::Value::Text(text) => text,
                    other => format!("{other:?}"),
                })
        })?)
    };
    let verb = if kind == DbFile::Ledger {
        "already a ledger, nothing changed"
    } else {
        "created"
    };
    println!("{}: {verb}", db.display());
    let synchronous = match pragma("synchronous")?.as_str() {
        "0" => "off".to_owned(),
        "1" => "normal".to_owned(),
        "2" => "full".to_owned(),
        "3" => "extra".to_owned(),
        other => other.to_owned(),
    };
    println!(
        "schema version {}, journal_mode {}, synchronous {synchronous}",
        pragma("user_version")?,
        pragma("journal_mode")?,
    );
    println!("vault: {}", vault.display());
    ledger.close()?;
    Ok(Outcome::Success)
}
