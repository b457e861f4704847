//! Tranche's domain crate: everything that is true of repayment plans and SEPA direct debits,
//! whatever runs it. No AWS SDK, no HTTP framework, no database driver: the functions in
//! `functions/` and the adapters in `infra/` depend on this crate, never the other way round.
//!
//! # Layout
//!
//! - [`money`]: the [`money::Amount`] type, exact to the cent, and the currency.
//! - [`identifiers`]: IBAN, BIC and creditor identifier newtypes, checked on construction.
//! - [`calendar`]: the TARGET2 calendar and business-day arithmetic.
//! - [`schedule`]: plan maths, from a total and terms to dated instalments.
//! - [`compliance`]: the consumer-credit rule table a consumer plan is assessed against.
//! - [`creditor`], [`plan`]: the aggregates.
//! - [`requests`]: the operator's JSON requests, checked field by field.
//! - [`use_cases`]: what the operator API does, on the ports.
//! - [`ports`]: the traits the adapters implement, and the clock.
//! - [`error`]: field errors and store errors.
//! - [`secrets`]: random tokens and ids, and their hashes.

pub mod calendar;
pub mod compliance;
pub mod creditor;
pub mod error;
pub mod identifiers;
pub mod money;
pub mod plan;
pub mod ports;
pub mod requests;
pub mod schedule;
pub mod secrets;
pub mod use_cases;
