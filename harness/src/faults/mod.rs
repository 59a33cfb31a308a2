//! Fault layers the harness injects into the ledger.
