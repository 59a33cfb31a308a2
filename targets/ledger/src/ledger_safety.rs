//! The hooks [`Ledger`] runs around its operations: at open, between
//! operations (coherency, memory pressure, mmap restore, scheduled integrity
//! checks) and after a failure (rollback settled, suspicion of corruption,
//! mmap fallback).

use std::path::Path;

use rusqlite::Connection;

use crate::coherency::{Coherency, Incoherence};
use crate::db::Db;
use crate::error::{LedgerError, Result};
use crate::integrity::wal_break::{WalGuard, WalRepair};
use crate::integrity::{
    CheckLevel, CorruptionReport, Damage, Findings, RepairAction, RestoreSource, detect, repair,
};
use crate::ledger::Ledger;
use crate::memory::adaptive_cache::{self, PressureChange};
use crate::memory::scan_watch::ScanWatch;
use crate::memory::{CacheChoice, CacheReason, ConnectionUse, MemoryProbe};
use crate::metrics::Operation;
use crate::mmap_fallback::{self, MmapOffReason};
use crate::open::OpenReport;
use crate::safety::{SafetyCounters, SafetyEvent, SafetyEventKind};
use crate::{checksum, tx};

fn corrupt(path: &Path, report: &CorruptionReport) -> LedgerError {
    LedgerError::Corrupt {
        path: path.to_path_buf(),
        detail: report.to_string(),
        unreadable: report.unreadable.clone(),
    }
}

impl Ledger {
    /// Replace the memory-pressure probe (the default reads `/proc`); tests
    /// and the harness inject a [`crate::ManualProbe`].
    pub fn set_memory_probe(&mut self, probe: Box<dyn MemoryProbe>) {
        self.safety.probe = probe;
        self.safety.last_poll_ms = None;
    }

    /// Where a verified backup comes from when damage cannot be repaired in place.
    pub fn set_restore_source(&mut self, source: Box<dyn RestoreSource>) {
        self.safety.restore = Some(source);
    }

    /// Every safety action so far, oldest first.
    pub fn safety_events(&self) -> &[SafetyEvent] {
        &self.safety.events
    }

    /// Counts of safety actions.
    pub fn safety_counters(&self) -> SafetyCounters {
        self.safety.counters.get()
    }

    /// Health problems only the ledger's memory knows: damage that stopped it
    /// serving (the database may look sound, e.g. a WAL recovered short of
    /// a damaged frame), and WAL breaks kept as SQLite recovered them.
    pub(crate) fn add_safety_problems(&self, report: &mut crate::health::HealthReport) {
        use crate::health::{HealthStatus, Problem};
        if let Some(damage) = &self.safety.poisoned {
            report.problems.push(Problem {
                severity: HealthStatus::Unhealthy,
                what: format!("the ledger stopped serving: {damage}"),
                remedy: "restore the newest verified backup (and the WAL archive); the damaged WAL is kept beside the database".into(),
            });
        }
        let ambiguous = self.safety.counters.get().wal_breaks_ambiguous;
        if ambiguous > 0 {
            report.problems.push(Problem {
                severity: HealthStatus::Degraded,
                what: format!(
                    "{ambiguous} WAL checksum break(s) at open that may be writes torn by a power cut; \
                     SQLite kept the transactions before each"
                ),
                remedy: "compare with the WAL kept as <db>-wal.damaged-N if the last shutdown was not a power cut".into(),
            });
        }
        report.status = report
            .problems
            .iter()
            .map(|p| p.severity)
            .max()
            .unwrap_or(report.status)
            .max(report.status);
    }

    /// Refuse a capture a restore could not bring back (named in the
    /// corruption report), rather than serve it as absent.
    pub(crate) fn refuse_lost(&self, id: &str) -> Result<()> {
        if self.safety.lost.contains(id) {
            return Err(LedgerError::Corrupt {
                path: self.config.path.clone(),
                detail: format!(
                    "capture {id} was lost with damaged pages: the restored backup chain does not reach it"
                ),
                unreadable: vec![id.to_owned()],
            });
        }
        Ok(())
    }

    /// The damage that stopped this ledger serving, if any.
    pub fn corruption(&self) -> Option<&CorruptionReport> {
        self.safety.poisoned.as_ref()
    }

    /// Run the between-operations work now (reads the clock once): reopen a
    /// replaced database, poll memory, run due checks.
    ///
    /// # Errors
    /// `Corrupt` when the database is damaged beyond repair; open errors on reopen.
    pub fn refresh(&mut self) -> Result<()> {
        let now = self.time.now_ms();
        self.between_operations(now)
    }

    /// Run an integrity check now, repairing what can be repaired.
    ///
    /// # Errors
    /// `Corrupt` (with what was found and done) when the damage is not repaired.
    pub fn check_integrity(&mut self, level: CheckLevel) -> Result<()> {
        let now = self.time.now_ms();
        self.run_check(level, Some(now))
    }

    /// After `open_connection`: mmap and cache choice, coherency baseline,
    /// what the WAL guard found, and a quick check if the last shutdown was
    /// unclean (full after a re-sealed WAL). Damage that is not repaired
    /// leaves the ledger open but refusing every call.
    pub(crate) fn after_open(&mut self, unclean: bool, wal: Option<WalGuard>) -> Result<()> {
        if mmap_fallback::this_process_address_space_limited() {
            self.mmap_off(MmapOffReason::AddressSpaceLimited, None);
        }
        self.safety.last_sample = self.safety.probe.sample();
        self.apply_cache(None);
        self.capture_coherency()?;
        let mut level = CheckLevel::Quick;
        if let Some(guard) = wal {
            if guard.repair == WalRepair::Resealed {
                level = CheckLevel::Full;
            }
            self.record_wal_guard(&guard);
        }
        if unclean && self.safety.poisoned.is_none() {
            match self.run_check(level, None) {
                Err(e) if self.safety.poisoned.is_some() => {
                    tracing::error!(path = %self.config.path.display(), error = %e,
                        "opened a damaged database: every call is refused until it is restored");
                }
                other => other?,
            }
        }
        Ok(())
    }

    /// Report the recovery after an unclean shutdown this open `found` (a WAL no clean close
    /// vouched for, or a hot journal): counted and logged as a safety event once, by this
    /// open only (a reconnect later in the same ledger does not report it again).
    pub(crate) fn report_recovery(&mut self, found: &OpenReport) {
        let recovered = mutant!(RecoveryReportedEveryOpen, true, found.recovery_likely());
        if !recovered {
            return;
        }
        self.safety.count(|c| c.recoveries += 1);
        self.safety.log(
            None,
            SafetyEventKind::RecoveredAfterUncleanShutdown {
                wal_bytes: found.leftover_wal_bytes.unwrap_or(0),
                hot_journal: found.hot_journal,
            },
        );
    }

    /// Report what the WAL guard found: an ambiguous break is logged and
    /// counted; damage at rest is a corruption (event, counters, `errors_log`),
    /// and poisons the ledger unless repaired.
    fn record_wal_guard(&mut self, guard: &WalGuard) {
        let path = self.config.path.display().to_string();
        let kept = guard.copy.as_ref().map_or_else(
            || "the WAL as found could not be copied".to_owned(),
            |copy| format!("the WAL as found is kept as {}", copy.display()),
        );
        let archived = matches!(guard.repair, WalRepair::FromArchive(_));
        if !guard.found.proven && !archived {
            tracing::warn!(%path, "{}; SQLite's recovery keeps what precedes it; {kept}", guard.found);
            self.safety.count(|c| c.wal_breaks_ambiguous += 1);
            return;
        }
        self.safety.count(|c| c.corruptions += 1);
        let action = match &guard.repair {
            WalRepair::FromArchive(frames) => RepairAction::WalFramesRestored(frames.clone()),
            WalRepair::Resealed => RepairAction::WalResealed {
                frame: guard.found.frame,
                page: guard.found.page,
            },
            WalRepair::NotRepaired(why) => RepairAction::NotRepaired(format!("{why}; {kept}")),
        };
        let report = CorruptionReport {
            findings: Findings {
                level: CheckLevel::Quick,
                messages: vec![format!("{}; {kept}", guard.found)],
                checksum_faults: Vec::new(),
            },
            damage: vec![Damage::Unknown(format!(
                "WAL frame {} (page {})",
                guard.found.frame, guard.found.page
            ))],
            action,
            unreadable: Vec::new(),
        };
        self.log_integrity(None, &report);
        self.safety
            .log(None, SafetyEventKind::Corruption(Box::new(report.clone())));
        if report.repaired() {
            tracing::warn!(%path, "{report}");
            self.safety.count(|c| c.repairs += 1);
        } else {
            tracing::error!(%path, "{report}");
            self.safety.poisoned = Some(report);
        }
    }

    fn capture_coherency(&mut self) -> Result<()> {
        let db = Db::new(&self.conn, &self.config.path);
        self.safety.coherency = Some(
            Coherency::capture(&self.conn, &self.config.path)
                .map_err(db.err("read data_version"))?,
        );
        Ok(())
    }

    /// Before a write (the write's clock reading is `now`).
    pub(crate) fn between_operations(&mut self, now: i64) -> Result<()> {
        if let Some(report) = &self.safety.poisoned {
            return Err(corrupt(&self.config.path, report));
        }
        self.keep_coherent(now)?;
        if self.safety.mmap_failed.take() {
            self.mmap_off(MmapOffReason::IoError, Some(now));
        }
        self.poll_memory(now);
        let due = if self.safety.suspect.take() {
            Some(CheckLevel::Quick)
        } else {
            self.safety.schedule.due(now)
        };
        if let Some(level) = due {
            self.run_check(level, Some(now))?;
        }
        Ok(())
    }

    /// Before a read: refuse a known-corrupt or replaced database.
    pub(crate) fn read_guard(&self) -> Result<()> {
        if let Some(report) = &self.safety.poisoned {
            return Err(corrupt(&self.config.path, report));
        }
        if let Some(found) = self
            .safety
            .coherency
            .as_ref()
            .and_then(|c| c.file_check(&self.config.path))
        {
            return Err(LedgerError::Stale {
                path: self.config.path.clone(),
                reason: format!("{found:?}"),
            });
        }
        Ok(())
    }

    /// After any operation: note what a failure implies for the next one.
    pub(crate) fn after_operation<T>(
        &self,
        operation: Operation,
        result: Result<T>,
        wrote: bool,
    ) -> Result<T> {
        let result = self.settle_failure(result, wrote);
        if let Err(error) = &result {
            let db = Db::new(&self.conn, &self.config.path);
            self.caller_errors
                .note(db, operation.as_str(), error, || self.time.now_ms());
        }
        result
    }

    /// After a failed call: mark the database suspect on `corrupt`, note an mmap I/O error,
    /// and settle a failed write's transaction.
    fn settle_failure<T>(&self, result: Result<T>, wrote: bool) -> Result<T> {
        let Err(error) = &result else {
            return result;
        };
        if error.kind() == "corrupt" {
            self.safety.suspect.set(true);
        }
        if error
            .extended_code()
            .is_some_and(mmap_fallback::is_mmap_error)
        {
            self.safety.mmap_failed.set(true);
        }
        if wrote {
            let db = Db::new(&self.conn, &self.config.path);
            if let Err(settle) = tx::settle_after_failure(db) {
                self.safety.suspect.set(true);
                return Err(settle);
            }
            self.safety.count(|c| c.rollbacks_settled += 1);
        }
        result
    }

    fn keep_coherent(&mut self, now: i64) -> Result<()> {
        let Some(coherency) = self.safety.coherency.as_mut() else {
            return Ok(());
        };
        let db = Db::new(&self.conn, &self.config.path);
        let found = coherency
            .check(&self.conn, &self.config.path)
            .map_err(db.err("check the database is unchanged"))?;
        match found {
            None => Ok(()),
            Some(Incoherence::FileMissing) => Err(LedgerError::Stale {
                path: self.config.path.clone(),
                reason: "the database file is gone".to_owned(),
            }),
            Some(why) => self.reopen(why, Some(now)),
        }
    }

    fn reopen(&mut self, why: Incoherence, now: Option<i64>) -> Result<()> {
        let fresh = self.reconnect()?;
        let old = std::mem::replace(&mut self.conn, fresh);
        let _ = old.close();
        self.safety.cache_kib = None;
        self.safety.scan_watch = ScanWatch::default();
        self.safety.log(now, SafetyEventKind::Reopened(why));
        self.safety.count(|c| c.reopens += 1);
        self.apply_cache(now);
        self.apply_mmap();
        self.capture_coherency()
    }

    fn poll_memory(&mut self, now: i64) {
        let interval = i64::from(self.config.tuning.memory_poll_interval_ms);
        if self
            .safety
            .last_poll_ms
            .is_some_and(|last| now - last < interval)
        {
            return;
        }
        self.safety.last_poll_ms = Some(now);
        self.safety.last_sample = self.safety.probe.sample();
        let pressured = self.safety.last_sample.under_pressure();
        match self.safety.pressure.observe(now, pressured) {
            Some(PressureChange::Entered) => {
                let before = crate::metrics::db_status::cache_used_bytes(&self.conn);
                self.apply_cache(Some(now));
                if checksum::release_memory(&self.conn) == 0 {
                    let after = crate::metrics::db_status::cache_used_bytes(&self.conn);
                    let freed = before.zip(after).map_or(0, |(b, a)| b.saturating_sub(a));
                    self.safety.log(
                        Some(now),
                        SafetyEventKind::MemoryReleased {
                            bytes: i64::try_from(freed).unwrap_or(i64::MAX),
                        },
                    );
                }
                self.mmap_off(MmapOffReason::Pressure, Some(now));
            }
            Some(PressureChange::Cleared) | None => self.apply_cache(Some(now)),
        }
        let as_limited = mmap_fallback::this_process_address_space_limited();
        if let Some(change) = self.safety.mmap.maybe_restore(now, pressured, as_limited) {
            self.apply_mmap();
            self.safety.log(Some(now), SafetyEventKind::Mmap(change));
            self.safety.count(|c| c.mmap_restores += 1);
        }
    }

    fn cache_choice(&mut self) -> Option<CacheChoice> {
        let tuning = &self.config.tuning;
        let ignores_pressure = mutant!(CacheNeverShrinks, true, false);
        if self.safety.pressure.under_pressure() && !ignores_pressure {
            return Some(CacheChoice {
                kib: adaptive_cache::FLOOR_KIB,
                reason: CacheReason::Pressure,
            });
        }
        let pragma = |name: &str| -> i64 {
            self.conn
                .query_row(&format!("PRAGMA {name}"), [], |r| r.get(0))
                .unwrap_or(0)
        };
        let page_size = pragma("page_size").max(512) as u64;
        let ceiling_kib = match tuning.cache_size {
            n if n < 0 => n.unsigned_abs(),
            n => n as u64 * page_size / 1024,
        };
        if !tuning.adaptive_cache {
            return Some(CacheChoice {
                kib: ceiling_kib,
                reason: CacheReason::Configured,
            });
        }
        let inputs = adaptive_cache::read_inputs(
            &self.conn,
            ConnectionUse::Reused,
            self.safety.last_sample.available_bytes,
            ceiling_kib,
        )
        .ok()?;
        let chosen = adaptive_cache::choose(inputs);
        if chosen.kib > adaptive_cache::FLOOR_KIB
            && let (Some(hits), Some(misses)) = crate::metrics::cache_counters(&self.conn)
        {
            let window_pages = chosen.kib * 1024 / page_size;
            self.safety.scan_watch.observe(hits, misses, window_pages);
        }
        Some(self.safety.scan_watch.cache_for(chosen))
    }

    fn apply_cache(&mut self, now: Option<i64>) {
        let Some(choice) = self.cache_choice() else {
            return;
        };
        let from = self
            .safety
            .cache_kib
            .unwrap_or_else(|| self.config.tuning.cache_size.unsigned_abs());
        if from == choice.kib {
            self.safety.cache_kib = Some(choice.kib);
            if_mutant!(ShrinkCountedEveryPoll, {
                if choice.reason == CacheReason::Pressure {
                    self.safety.count(|c| c.cache_shrinks += 1);
                }
            });
            return;
        }
        let kib = i64::try_from(choice.kib).unwrap_or(i64::MAX);
        if self.conn.pragma_update(None, "cache_size", -kib).is_err() {
            return;
        }
        self.safety.cache_kib = Some(choice.kib);
        self.safety.log(
            now,
            SafetyEventKind::CacheResized {
                from_kib: from,
                to_kib: choice.kib,
                reason: choice.reason,
            },
        );
        self.safety.count(|c| {
            c.cache_resizes += 1;
            if choice.reason == CacheReason::Pressure {
                c.cache_shrinks += 1;
            }
        });
    }

    fn mmap_off(&mut self, reason: MmapOffReason, now: Option<i64>) {
        if let Some(change) = self.safety.mmap.disable(reason, now.unwrap_or(0)) {
            self.apply_mmap();
            self.safety.log(now, SafetyEventKind::Mmap(change));
            self.safety.count(|c| c.mmap_fallbacks += 1);
        }
    }

    fn apply_mmap(&self) {
        let _ = self
            .conn
            .pragma_update(None, "mmap_size", self.safety.mmap.current());
    }

    fn run_check(&mut self, level: CheckLevel, now: Option<i64>) -> Result<()> {
        self.safety.count(|c| c.integrity_checks += 1);
        let db = Db::new(&self.conn, &self.config.path);
        let findings = match detect::check(&self.conn, &self.config.path, level) {
            Ok(None) => {
                self.safety.log(now, SafetyEventKind::CheckPassed(level));
                return Ok(());
            }
            Ok(Some(findings)) => findings,
            Err(e) => return Err(db.err("run an integrity check")(e)),
        };
        self.safety.count(|c| c.corruptions += 1);
        let damage = repair::damaged_objects(&self.conn, &findings);
        let action = match repair::repair(&self.conn, &self.config.path, &findings, &damage) {
            Ok(action) => action,
            Err(why) => RepairAction::NotRepaired(why),
        };
        let unreadable = match action {
            RepairAction::NotRepaired(_) => repair::unreadable_captures(&self.conn),
            _ => Vec::new(),
        };
        let mut report = CorruptionReport {
            findings,
            damage,
            action,
            unreadable,
        };
        if !report.repaired() {
            report.action = if let Some(mut source) = self.safety.restore.take() {
                let action = self.restore_from(source.as_mut(), &report);
                self.safety.restore = Some(source);
                action
            } else if let Some(chain) = self.backup_chain() {
                self.restore_from_chain(&chain, &report)
            } else {
                RepairAction::NotRepaired(format!(
                    "{}; a backup directory with WAL archiving (tuning `wal-archive-dir`) \
                     would have rebuilt it from the newest snapshot and the archive",
                    report.action_text()
                ))
            };
            if let RepairAction::Restored { .. } = report.action {
                report.unreadable.clear();
            }
        }
        self.log_integrity(now, &report);
        self.safety
            .log(now, SafetyEventKind::Corruption(Box::new(report.clone())));
        if report.repaired() {
            self.safety.count(|c| c.repairs += 1);
            return Ok(());
        }
        let error = corrupt(&self.config.path, &report);
        self.safety.poisoned = Some(report);
        Err(error)
    }

    /// Close the damaged database, let `source` put the newest verified
    /// backup in place, reopen and check it; names the captures the damaged
    /// database listed that the backup lacks.
    fn restore_from(
        &mut self,
        source: &mut dyn RestoreSource,
        report: &CorruptionReport,
    ) -> RepairAction {
        let listed = repair::listed_capture_ids(&self.conn);
        let placeholder = match Connection::open_in_memory() {
            Ok(conn) => conn,
            Err(e) => return RepairAction::NotRepaired(format!("restore not attempted: {e}")),
        };
        let damaged = std::mem::replace(&mut self.conn, placeholder);
        let _ = damaged.close();
        set_aside_sidecars(&self.config.path);
        let backup = match source.restore_newest(&self.config.path) {
            Ok(backup) => backup,
            Err(e) => {
                return RepairAction::NotRepaired(format!(
                    "restore failed: {e}; {}",
                    report.action_text()
                ));
            }
        };
        match self.reconnect() {
            Ok(conn) => self.conn = conn,
            Err(e) => {
                return RepairAction::NotRepaired(format!("restored backup does not open: {e}"));
            }
        }
        if let Ok(Some(still)) = detect::check(&self.conn, &self.config.path, CheckLevel::Full) {
            return RepairAction::NotRepaired(format!(
                "restored backup is damaged: {}",
                still.messages.join("; ")
            ));
        }
        self.after_replaced();
        let present = repair::listed_capture_ids(&self.conn);
        let missing: Vec<String> = listed
            .into_iter()
            .filter(|id| !present.contains(id))
            .collect();
        self.safety.lost = missing.iter().cloned().collect();
        RepairAction::Restored { backup, missing }
    }

    /// Record a repair made before the connection was opened (a database
    /// that did not open, rebuilt from the backup chain): counted, logged to
    /// `errors_log` and the safety events, and its lost captures refused.
    pub(crate) fn record_repair_at_open(&mut self, report: CorruptionReport) {
        self.safety.count(|c| {
            c.corruptions += 1;
            c.repairs += 1;
        });
        if let RepairAction::Restored { missing, .. } = &report.action {
            self.safety.lost = missing.iter().cloned().collect();
        }
        tracing::warn!(path = %self.config.path.display(), "{report}");
        self.log_integrity(None, &report);
        self.safety
            .log(None, SafetyEventKind::Corruption(Box::new(report)));
    }

    /// After the database file was replaced by a restored copy: cache, mmap
    /// and the coherency baseline of the new file.
    pub(crate) fn after_replaced(&mut self) {
        self.safety.cache_kib = None;
        self.apply_cache(None);
        self.apply_mmap();
        let _ = self.capture_coherency();
    }

    /// `errors_log`, stage `integrity`, when the database can still be written.
    fn log_integrity(&self, now: Option<i64>, report: &CorruptionReport) {
        let at = now.unwrap_or_else(|| self.time.now_ms());
        let db = Db::new(&self.conn, &self.config.path);
        let _ = tx::immediate(db, |db| {
            db.conn
                .execute(
                    "INSERT INTO errors_log (capture_id, stage, message, created_at) VALUES (NULL, 'integrity', ?1, ?2)",
                    (report.to_string(), at),
                )
                .map_err(db.err("log an integrity finding"))
        });
    }
}

impl CorruptionReport {
    pub(crate) fn action_text(&self) -> String {
        match &self.action {
            RepairAction::NotRepaired(why) => why.clone(),
            other => format!("{other:?}"),
        }
    }
}

/// Move the damaged database's `-wal` aside (kept for forensics) and drop
/// its `-shm`, so the restored file is not mixed with the old log.
pub(crate) fn set_aside_sidecars(db_path: &Path) {
    let with = |suffix: &str| crate::sidecar::sidecar(db_path, suffix);
    let _ = std::fs::rename(with("-wal"), with("-wal.damaged"));
    let _ = std::fs::remove_file(with("-shm"));
}
