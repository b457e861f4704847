//! The daily-scheduler function: the daily job (EventBridge schedule): pre-notifications, due instalments into collections, dunning retries due today, mandate expiry.
//!
//! This crate is the place in the workspace where the function's trigger is mapped to its use
//! cases of `tranche_domain`; it has no code yet. The README's Limitations section says which
//! capabilities are still to come.
