//! The embedded adapters and the local host: Tranche on one machine, with no cloud.
//!
//! # Layout
//!
//! - [`sqlite`]: every store port on one SQLite database (rusqlite, bundled).
//! - [`files`]: the file store as a folder on disk.
//! - [`outbox`]: the mailer as an outbox folder of `.eml` files.
//! - [`host`]: the `tranche` binary's subcommands, wiring the adapters to the functions.
//! - [`demo`]: `tranche demo`, the whole story on a fresh data folder, told in the terminal.

pub mod demo;
pub mod files;
pub mod host;
pub mod outbox;
pub mod sqlite;
