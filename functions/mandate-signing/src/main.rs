//! The mandate-signing Lambda: the signing pages (`/sign/...`) and the operator's mandate calls
//! (`/v1/mandates/...`), behind API Gateway. Wiring only; the routes are
//! `tranche_mandate_signing::router`, the same router `tranche serve` mounts.

use lambda_http::Error;

#[tokio::main]
async fn main() -> Result<(), Error> {
    tranche_lambda::init_tracing();
    let state = tranche_lambda::api_state_from_env(tranche_mandate_signing::WIRING).await?;
    let app = tranche_http::with_health_and_fallback(tranche_mandate_signing::router(state));
    lambda_http::run(tranche_lambda::with_source_address(app)).await
}
