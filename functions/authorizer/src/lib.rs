//! The authorizer of the operator API (`/v1/...`) in API Gateway: a request is let through when
//! its `Authorization: Bearer <key>` names a registered key. Keys are stored only as their
//! SHA-256 (the `api_keys` port), exactly as the local host checks them, so the same key works
//! in both and a leaked table gives no key away.
//!
//! The HTTP API calls this Lambda (payload 2.0, simple responses) before it invokes the
//! operator functions, and caches the answer per `Authorization` header for a few minutes. The
//! functions check the key again themselves (their routers carry the same check as locally), so
//! a route deployed without the authorizer is still closed, and a key removed from the table
//! stops working at once in the functions, at the gateway when its cached answer expires.

use aws_lambda_events::event::apigw::{
    ApiGatewayV2CustomAuthorizerSimpleResponse, ApiGatewayV2CustomAuthorizerV2Request,
};
use serde_json::{Value, json};
use tracing::{info, warn};
use tranche_domain::error::StoreError;
use tranche_domain::ports::Ports;
use tranche_domain::secrets::sha256_hex;

/// What this function builds besides the DynamoDB tables (its `main` and the in-process AWS tests
/// use it): it reads API key hashes only.
#[cfg(feature = "wiring")]
pub const WIRING: tranche_lambda::Wiring = tranche_lambda::Wiring {
    function: "authorizer",
    files: None,
    mailer: None,
    documents: None,
};

/// Decides one request: authorized when its bearer key's SHA-256 is registered. A store that
/// cannot answer is an error, never a yes: API Gateway then answers 500 and the caller retries.
pub async fn authorize(
    ports: &Ports,
    request: &ApiGatewayV2CustomAuthorizerV2Request,
) -> Result<ApiGatewayV2CustomAuthorizerSimpleResponse<Value>, StoreError> {
    let route = request.route_key.as_deref().unwrap_or("?");
    let authorized = match tranche_http::bearer_key(&request.headers) {
        Some(key) => ports.api_keys.api_key_hash_exists(&sha256_hex(key)).await?,
        None => false,
    };
    if authorized {
        info!(route, "operator key accepted");
    } else {
        warn!(route, "operator key missing or unknown");
    }
    let mut response = ApiGatewayV2CustomAuthorizerSimpleResponse::default();
    response.is_authorized = authorized;
    response.context = json!({});
    Ok(response)
}
