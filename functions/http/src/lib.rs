//! What the HTTP functions (plan-creation, mandate-signing) share: the handler state,
//! bearer-key authentication of the operator API, JSON bodies and `application/problem+json`
//! errors. Each function's router is built on these and mounted alone in its Lambda, or merged
//! with the others by the local host.
//!
//! # Layout
//!
//! - [`problem`]: `application/problem+json` answers.
//! - this file: [`ApiState`], [`require_api_key`] and [`bearer_key`], [`operator_actor`],
//!   [`parse_json`], [`json_response`], [`with_health_and_fallback`].

pub mod problem;

use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::Value;
use tranche_domain::ports::Ports;
use tranche_domain::secrets::sha256_hex;

use crate::problem::Problem;

/// What every handler needs: the ports, and where links and e-mails point.
#[derive(Clone)]
pub struct ApiState {
    pub ports: Ports,
    /// `https://pay.example.com`: signing links are `<public_url>/sign/<token>`.
    pub public_url: String,
    /// The sender of the e-mails to debtors and creditors (`Tranche <noreply@example.com>`).
    pub mail_from: String,
}

/// The key of an `Authorization: Bearer <key>` header, trimmed; `None` when the header is
/// absent, of another scheme, or empty. The Lambda authorizer reads keys the same way.
pub fn bearer_key(headers: &axum::http::HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|k| !k.is_empty())
}

/// A function's router as a host serves it: with `GET /healthz` (no key needed) and a
/// problem+json 404 for every other route. The local host applies it to all routers merged;
/// each HTTP Lambda applies it to its own.
pub fn with_health_and_fallback(router: axum::Router) -> axum::Router {
    axum::Router::new()
        .route(
            "/healthz",
            axum::routing::get(|| async { axum::Json(serde_json::json!({"status": "ok"})) }),
        )
        .merge(router)
        .fallback(|| async {
            Problem::not_found("There is no such route. The operator API lives under /v1.")
        })
}

/// Refuses `/v1` calls without a known `Authorization: Bearer <key>`. Keys are compared by
/// their SHA-256: the store never holds a key itself.
pub async fn require_api_key(
    State(state): State<ApiState>,
    request: Request,
    next: Next,
) -> Response {
    let Some(key) = bearer_key(request.headers()) else {
        return Problem::unauthorized().into_response();
    };
    match state
        .ports
        .api_keys
        .api_key_hash_exists(&sha256_hex(key))
        .await
    {
        Ok(true) => next.run(request).await,
        Ok(false) => Problem::unauthorized().into_response(),
        Err(e) => {
            tracing::error!(error = %e, "api key lookup failed");
            Problem::unavailable().into_response()
        }
    }
}

/// Who makes an operator call, for the history of what it changes: the fingerprint (first 12
/// hex digits of the SHA-256) of the API key, never the key. [`require_api_key`] has let only
/// known keys through.
pub fn operator_actor(headers: &axum::http::HeaderMap) -> tranche_domain::plan_changes::Actor {
    let key = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .unwrap_or_default();
    tranche_domain::plan_changes::Actor::Operator(sha256_hex(key)[..12].to_owned())
}

/// Reads a JSON body, answering a 400 problem for an empty or malformed one.
pub fn parse_json(body: &Bytes) -> Result<Value, Problem> {
    if body.is_empty() {
        return Err(Problem::malformed_body("the body is empty"));
    }
    serde_json::from_slice(body).map_err(Problem::malformed_body)
}

/// A JSON answer with its content type.
pub fn json_response(status: StatusCode, value: &Value) -> Response {
    let mut response = (status, value.to_string()).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}
