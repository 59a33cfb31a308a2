//! The resilience harness.
pub mod faults;
