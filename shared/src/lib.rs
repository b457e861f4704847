//! Tranche's domain crate: everything that is true of repayment plans and SEPA direct debits,
//! whatever runs it. No AWS SDK, no HTTP framework, no database driver: the functions in
//! `functions/` and the adapters in `infra/` depend on this crate, never the other way round.
//!
//! # Layout
//!
//! - [`money`]: the [`money::Amount`] type, exact to the cent, and the currency.
//! - [`identifiers`]: IBAN, BIC and creditor identifier newtypes, checked on construction.
//! - [`calendar`]: the TARGET2 calendar and business-day arithmetic.
//! - [`charset`]: the SEPA character set and the transliteration of names into it.
//! - [`pain008`]: the streaming pain.008 writer.
//! - [`schedule`]: plan maths, from a total and terms to dated instalments.
//! - [`compliance`]: the consumer-credit rule table a consumer plan is assessed against.
//! - [`creditor`], [`plan`], [`mandate`], [`collection`]: the aggregates (and batches, tasks).
//! - [`plan_actions`]: pause, resume, skip, reschedule, payments outside, payoff and cancel, as
//!   pure functions that keep the money invariant.
//! - [`plan_changes`]: plan actions on the ports: stored, recorded as events, mailed.
//! - [`self_service`]: the debtor's self-service link and page requests, within the creditor's
//!   limits or as a task for the creditor.
//! - [`events`]: the append-only, hash-chained event log.
//! - [`group_commit`]: many units of work committed a group per transaction, falling back to
//!   one by one when a condition fails.
//! - [`document`]: the mandate document that is shown, hashed as evidence and sent as PDF.
//! - [`requests`]: the operator's JSON requests, checked field by field.
//! - [`use_cases`]: what the operator API does with creditors and plans, on the ports.
//! - [`signing`]: the signing link, the signature and its evidence, and the operator's calls on
//!   mandates.
//! - [`daily`]: the daily job (settlement, pre-notifications, collections, expiry).
//! - [`bank_reports`]: the pain.002 / camt.054 / camt.053 readers.
//! - [`reason_codes`]: what a reject or return reason means and how dunning handles it.
//! - [`returns`]: the return processor: bank reports matched and applied, dunning started.
//! - [`batches`]: the batch generator, collections into pain.008 files.
//! - [`ports`]: the traits the adapters implement, and the clock.
//! - [`error`]: field errors and store errors.
//! - [`i18n`]: the texts debtors and creditors read, in four languages, and amount and date
//!   formats.
//! - [`secrets`]: random tokens and ids, and their hashes.

pub mod bank_reports;
pub mod batches;
pub mod calendar;
pub mod charset;
pub mod collection;
pub mod compliance;
pub mod creditor;
pub mod daily;
pub mod document;
pub mod error;
pub mod events;
pub mod group_commit;
pub mod i18n;
pub mod identifiers;
pub mod mandate;
pub mod money;
pub mod pain008;
pub mod plan;
pub mod plan_actions;
pub mod plan_changes;
pub mod ports;
pub mod reason_codes;
pub mod requests;
pub mod returns;
pub mod schedule;
pub mod secrets;
pub mod self_service;
pub mod signing;
pub mod use_cases;
