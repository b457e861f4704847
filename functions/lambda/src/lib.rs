//! What the Lambda functions of Tranche share, so that each function's library holds its
//! handlers and each `main.rs` is wiring only.
//!
//! # Layout
//!
//! - [`sqs`]: an SQS batch handled message by message, with partial batch failures and errors
//!   classed as retryable or permanent. Used by the function libraries (feature-free).
//! - `runtime` (feature `runtime`, on by default; the binaries use it): [`init_tracing`],
//!   [`ports_from_env`], [`batch_requests_from_env`], [`links_from_env`],
//!   [`api_state_from_env`], [`with_source_address`], [`diagnostic`].
//!
//! A binary's `main` calls `init_tracing`, builds its ports (or its HTTP state) once, before
//! the first event, and hands a handler of its function's library to the runtime. The handlers
//! are tested in the function crates and in `tests/`, without Lambda.
//!
//! # Environment of the binaries
//!
//! | variable | meaning |
//! |---|---|
//! | `TRANCHE_PUBLIC_URL` | the base of the signing links sent to debtors (the HTTP API's URL or a custom domain) |
//! | `TRANCHE_MAIL_FROM` | the sender of e-mails, an identity verified in SES |
//! | the AWS adapters' variables | table, bucket and queue names; see `tranche-aws` |
//! | `AWS_LAMBDA_LOG_FORMAT`, `AWS_LAMBDA_LOG_LEVEL` | set by Lambda's logging configuration: JSON lines, and their level |

pub mod sqs;

#[cfg(feature = "runtime")]
mod runtime;

#[cfg(feature = "runtime")]
pub use runtime::*;
