//! Evidence the check phase gathers for checks that need more than the database's content:
//! the state after resuming ([`after_recovery`]), what a damaged ledger said and served
//! ([`corruption`]), and what the ledger reported across a restart ([`restart`]).

pub mod after_recovery;
pub mod corruption;
pub mod restart;
