//! The return-processor function: a bank report dropped in the file store (in AWS: an S3
//! object under the inbound prefix, announced on SQS) is read, matched to the collections it
//! speaks of, applied, and the creditor's dunning started (`tranche_domain::returns`).
//!
//! Locally, `POST /v1/returns` (the body is the bank file) and `tranche returns FILE` do the
//! same.

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::middleware;
use axum::response::Response;
use axum::routing::post;
use serde_json::json;
use tranche_domain::error::FieldError;
use tranche_domain::ports::Ports;
use tranche_domain::returns::{self, ReturnsError, ReturnsReport};
use tranche_domain::signing::Links;
use tranche_http::problem::Problem;
use tranche_http::{ApiState, json_response, require_api_key};

/// The largest bank file the API takes in one request (the reader's own limit is larger, for
/// files that come through the file store).
pub const MAX_UPLOAD_BYTES: usize = 50 * 1024 * 1024;

/// Why a bank file could not be handled.
#[derive(Debug, thiserror::Error)]
pub enum HandleError {
    /// The file cannot be read: retrying cannot help (dead-letter it).
    #[error("the bank file is refused: {0}")]
    Refused(String),
    /// The file is not in the file store (yet): worth a retry.
    #[error("the bank file {0} is not in the file store")]
    Missing(String),
    /// The store failed: worth a retry.
    #[error("the store failed: {0}")]
    Unavailable(String),
}

impl HandleError {
    /// Whether a retry of the same message may succeed.
    pub fn is_retryable(&self) -> bool {
        !matches!(self, HandleError::Refused(_))
    }
}

fn handle_error(error: ReturnsError) -> HandleError {
    match error {
        ReturnsError::Unreadable(e) => HandleError::Refused(e.to_string()),
        ReturnsError::UseCase(e) => HandleError::Unavailable(e.to_string()),
    }
}

/// Processes the bank file stored under `key` (an S3 object key, URL-decoded).
pub async fn handle_stored_file(
    ports: &Ports,
    links: &Links,
    key: &str,
) -> Result<ReturnsReport, HandleError> {
    let bytes = ports
        .files
        .get_file(key)
        .await
        .map_err(|e| HandleError::Unavailable(e.to_string()))?
        .ok_or_else(|| HandleError::Missing(key.to_owned()))?;
    returns::process_bank_file(ports, links, &bytes)
        .await
        .map_err(handle_error)
}

/// Processes a bank file's bytes.
pub async fn handle_bytes(
    ports: &Ports,
    links: &Links,
    bytes: &[u8],
) -> Result<ReturnsReport, HandleError> {
    returns::process_bank_file(ports, links, bytes)
        .await
        .map_err(handle_error)
}

/// `POST /v1/returns`: the local twin of an S3 drop (bearer-key authenticated).
pub fn router(state: ApiState) -> Router {
    Router::new()
        .route("/v1/returns", post(post_returns))
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            require_api_key,
        ))
        .layer(axum::extract::DefaultBodyLimit::max(MAX_UPLOAD_BYTES))
        .with_state(state)
}

async fn post_returns(State(state): State<ApiState>, body: Bytes) -> Result<Response, Problem> {
    let links = Links {
        public_url: state.public_url.clone(),
        mail_from: state.mail_from.clone(),
    };
    match handle_bytes(&state.ports, &links, &body).await {
        Ok(report) => Ok(json_response(StatusCode::OK, &json!(report))),
        Err(HandleError::Refused(reason)) => Err(Problem {
            errors: vec![FieldError::new("body", reason.clone())],
            ..Problem::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "unreadable-bank-file",
                "The bank file cannot be read",
                format!("{reason}. Nothing of it was applied."),
            )
        }),
        Err(e) => {
            tracing::error!(error = %e, "bank file failed");
            Err(Problem::unavailable())
        }
    }
}
