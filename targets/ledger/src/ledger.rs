//! The ledger handle: [`Ledger`] owns one connection, the config, the clock and the id rng.

use std::sync::Arc;

use rusqlite::Connection;

use crate::capture::{Capture, CaptureId, ExportOutcome, NewCapture, StageOutcome};
use crate::clock::{Clock, OpenOptions};
use crate::config::Config;
use crate::db::Db;
use crate::error::{LedgerError, Result};
use crate::ids::IdGenerator;
use crate::integrity::detect;
use crate::safety::Safety;
use crate::status::ExportMode;
use crate::{open, ops, tx};

/// The staging ledger.
///
/// Every write is one `BEGIN IMMEDIATE` transaction, committed before it
/// returns `Ok`; an `Err` leaves the database unchanged. Each write reads the
/// clock exactly once; reads never do.
pub struct Ledger {
    pub(crate) conn: Connection,
    pub(crate) config: Config,
    pub(crate) clock: Arc<dyn Clock>,
    ids: IdGenerator,
    pub(crate) safety: Safety,
}

impl std::fmt::Debug for Ledger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ledger")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Ledger {
    /// Open (creating if needed) with the system clock and random ids.
    ///
    /// # Errors
    /// See [`Ledger::open_with`].
    pub fn open(config: &Config) -> Result<Ledger> {
        Ledger::open_with(config, OpenOptions::default())
    }

    /// Open (creating if needed): create the vault directory, open the
    /// database through `config.vfs`, fsync its directory if the file is new,
    /// apply the pragmas (journal mode verified) and migrate the schema.
    ///
    /// # Errors
    /// `Open`, `Io`, `Sqlite`, `JournalMode`, or `Migration` when the database
    /// is newer than this build.
    pub fn open_with(config: &Config, options: OpenOptions) -> Result<Ledger> {
        let unclean = detect::unclean_shutdown(&config.path);
        let conn = open::open_connection(config)?;
        let mut ledger = Ledger {
            conn,
            config: config.clone(),
            clock: options.clock,
            ids: IdGenerator::new(options.id_seed),
            safety: Safety::new(config),
        };
        ledger.after_open(unclean)?;
        Ok(ledger)
    }

    fn db(&self) -> Db<'_> {
        Db::new(&self.conn, &self.config.path)
    }

    fn read_db(&self) -> Result<Db<'_>> {
        self.read_guard()?;
        let db = self.db();
        tx::discard_stale_transaction(db)?;
        Ok(db)
    }

    /// The write's clock reading, after the between-operations work.
    fn begin_write(&mut self) -> Result<i64> {
        let now = self.clock.now_ms();
        self.between_operations(now)?;
        Ok(now)
    }

    /// The config this ledger was opened with.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Stage a capture, or return the existing capture it duplicates (same
    /// email content hash, or same channel and native id), which makes a
    /// retried stage idempotent.
    ///
    /// # Errors
    /// `Sqlite` (nothing stored).
    pub fn stage(&mut self, new: &NewCapture) -> Result<StageOutcome> {
        let now = self.begin_write()?;
        let db = Db::new(&self.conn, &self.config.path);
        let result = ops::stage::stage(db, &mut self.ids, now, new);
        self.after_operation(result, true)
    }

    /// `staged → transcribed`, storing the transcript (and, for voice, its hash).
    ///
    /// # Errors
    /// `NotFound`, `IllegalTransition`, `DuplicateContent` (a voice transcript
    /// whose hash another capture has), `Sqlite`; nothing changed on error.
    pub fn record_transcription(&mut self, id: &str, transcript: &str) -> Result<()> {
        let now = self.begin_write()?;
        let result = ops::transcribe::record_transcription(self.db(), now, id, transcript);
        self.after_operation(result, true)
    }

    /// `staged → failed_transcription`, logging `message` in `errors_log`.
    ///
    /// # Errors
    /// `NotFound`, `IllegalTransition`, `Sqlite`; nothing changed on error.
    pub fn mark_transcription_failed(&mut self, id: &str, message: &str) -> Result<()> {
        let now = self.begin_write()?;
        let result = ops::transcribe::mark_transcription_failed(self.db(), now, id, message);
        self.after_operation(result, true)
    }

    /// Export a capture: write `<vault_dir>/<id>.md` (not for
    /// `DuplicateSkip`), then record the audit row and the status change in
    /// one transaction. Idempotent: already in the mode's terminal status →
    /// `AlreadyExported`, nothing rewritten.
    ///
    /// # Errors
    /// `NotFound`, `IllegalTransition`, `Vault`, `Io`, `Sqlite`. On error the
    /// database is unchanged, but the vault file may already be written.
    pub fn record_export(&mut self, id: &str, mode: ExportMode) -> Result<ExportOutcome> {
        let now = self.begin_write()?;
        let db = Db::new(&self.conn, &self.config.path);
        let result =
            ops::export::record_export(db, &mut self.ids, now, &self.config.vault_dir, id, mode);
        self.after_operation(result, true)
    }

    /// The capture whose content hash is `content_hash`, if any.
    ///
    /// # Errors
    /// `Sqlite`.
    pub fn find_duplicate(&self, content_hash: &str) -> Result<Option<CaptureId>> {
        self.after_operation(
            ops::query::find_duplicate(self.read_db()?, content_hash),
            false,
        )
    }

    /// The capture with this id, if any.
    ///
    /// # Errors
    /// `Sqlite`, `Corrupt`.
    pub fn capture(&self, id: &str) -> Result<Option<Capture>> {
        self.after_operation(crate::row::capture_by_id(self.read_db()?, id), false)
    }

    /// Up to `limit` transcribed or failed captures, oldest first.
    ///
    /// # Errors
    /// `Sqlite`, `Corrupt`.
    pub fn pending_exports(&self, limit: usize) -> Result<Vec<Capture>> {
        self.after_operation(ops::query::pending_exports(self.read_db()?, limit), false)
    }

    /// Every non-terminal capture, oldest first (created_at, then id): what a
    /// crash-resume must finish.
    ///
    /// # Errors
    /// `Sqlite`, `Corrupt`.
    pub fn recoverable_captures(&self) -> Result<Vec<Capture>> {
        self.after_operation(ops::query::recoverable_captures(self.read_db()?), false)
    }

    /// Delete terminal captures last updated more than `days` days ago, with
    /// their audit rows. Returns the ids of the captures deleted.
    ///
    /// # Errors
    /// `Sqlite`; nothing deleted on error.
    pub fn prune_exported_older_than(&mut self, days: u32) -> Result<Vec<CaptureId>> {
        let now = self.begin_write()?;
        let result = ops::prune::prune_exported_older_than(self.db(), now, days);
        self.after_operation(result, true)
    }

    /// The underlying connection, for read-only use by checks and tools.
    pub fn connection(&self) -> &Connection {
        &self.conn
    }

    /// Close the connection (checkpointing the WAL if this is the last one).
    ///
    /// # Errors
    /// `Sqlite` when SQLite refuses to close.
    pub fn close(self) -> Result<()> {
        let path = self.config.path;
        self.conn
            .close()
            .map_err(|(_, source)| LedgerError::Sqlite {
                operation: "close the connection",
                path,
                source,
            })
    }
}
