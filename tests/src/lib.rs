//! Black-box tests across crates, and the helpers and fixtures they share.
//!
//! # Layout
//!
//! - [`app`]: `spawn_app`, the local host started in-process on a free port, with one method
//!   per operator API call; used by `tests/api_*.rs`.
//! - [`conformance`]: the store conformance suite, one async check per behaviour every store
//!   adapter must show, and the [`store_conformance_tests!`] macro that runs them all against an
//!   adapter.
//! - [`fixtures`]: test data (a creditor, plans, signing tokens) loaded from
//!   `tests/fixtures/store/` and varied with random ids.
//! - `tests/`: the test binaries, such as `store_conformance_sqlite.rs` (the suite on the SQLite
//!   store, in memory and on disk).

pub mod app;
pub mod conformance;
pub mod fixtures;
