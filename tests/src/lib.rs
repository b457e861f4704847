//! Black-box tests across crates, and the helpers and fixtures they share.
//!
//! # Layout
//!
//! - [`app`]: `spawn_app`, the local host started in-process on a free port, with one method
//!   per operator API call; used by `tests/api_*.rs`.
//! - [`browser`]: `Browser`, a real headless Chromium (Debian's `chromium` driven through its
//!   own `chromedriver`) on a desktop or phone screen, with helpers to fill, tick, submit, read,
//!   use the keyboard, check for sideways scrolling and save screenshots to `tests/artifacts/`;
//!   self-tested by `tests/browser_harness.rs`.
//! - [`batch_files`]: scheduled collections made to order, and the check that each ended up in
//!   exactly one complete pain.008 file whose contents and totals match its batch.
//! - [`bank_files`]: pain.002, camt.054 and camt.053 reports made to order about the
//!   collections a test created.
//! - [`conformance`]: the store conformance suite, one async check per behaviour every store
//!   adapter must show, and the [`store_conformance_tests!`] macro that runs them all against an
//!   adapter.
//! - [`faults`]: crashes injected into the store's commits and the file store's writes, before a
//!   step or after it with its answer lost, for the exactly-once tests.
//! - [`moto`]: the moto server `scripts/test.sh` starts, and a private set of AWS resources on it
//!   per test (tables, bucket, queue, sender) with the `tranche-aws` adapters.
//! - [`fixtures`]: test data (a creditor, plans, signing tokens) loaded from
//!   `tests/fixtures/store/` and varied with random ids.
//! - `tests/`: the test binaries, such as `store_conformance_sqlite.rs` (the suite on the SQLite
//!   store, in memory and on disk).

pub mod app;
pub mod bank_files;
pub mod batch_files;
pub mod bench;
pub mod browser;
pub mod conformance;
pub mod faults;
pub mod fixtures;
pub mod moto;
pub mod xsd;
