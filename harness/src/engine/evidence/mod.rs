//! Evidence the check phase gathers for checks that need more than the database's content:
//! the state after resuming ([`after_recovery`]) and what a damaged ledger said and served
//! ([`corruption`]).

pub mod after_recovery;
pub mod corruption;
