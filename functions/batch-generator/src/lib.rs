//! The batch-generator function: pain.008 batch files (an SQS request per creditor, scheme and date) written to the file store.
//!
//! This crate is the place in the workspace where the function's trigger is mapped to its use
//! cases of `tranche_domain`; it has no code yet. The README's Limitations section says which
//! capabilities are still to come.
