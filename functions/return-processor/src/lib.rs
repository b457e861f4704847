//! The return-processor function: bank reports (pain.002, camt.054, camt.053) announced by S3 notifications on SQS: read, matched and applied, dunning started.
//!
//! This crate is the place in the workspace where the function's trigger is mapped to its use
//! cases of `tranche_domain`; it has no code yet. The README's Limitations section says which
//! capabilities are still to come.
