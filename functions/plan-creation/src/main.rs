//! The plan-creation Lambda: the operator API for creditors, plans, collections, batch files,
//! tasks and the event feed, behind API Gateway. Wiring only; the routes are
//! `tranche_plan_creation::router`, the same router `tranche serve` mounts.

use lambda_http::Error;

#[tokio::main]
async fn main() -> Result<(), Error> {
    tranche_lambda::init_tracing();
    let state = tranche_lambda::api_state_from_env(tranche_plan_creation::WIRING).await?;
    let app = tranche_http::with_health_and_fallback(tranche_plan_creation::router(state));
    lambda_http::run(tranche_lambda::with_source_address(app)).await
}
