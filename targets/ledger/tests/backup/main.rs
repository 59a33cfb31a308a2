//! Integration tests of backups, verification, escalation, rotation and
//! point-in-time restore, one module per area. Real files in temp dirs, the
//! bundled SQLite, the ledger's `StepClock`; no wall-clock assertions.

mod cli;
mod clock_steps;
mod escalation;
mod online;
mod pitr;
mod restore_time;
mod rotation;
mod support;
mod verify;
