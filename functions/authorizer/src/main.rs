//! The authorizer Lambda of the HTTP API's `/v1` routes. Wiring only; the decision is
//! `tranche_authorizer::authorize`.

use aws_lambda_events::event::apigw::ApiGatewayV2CustomAuthorizerV2Request;
use lambda_runtime::{Diagnostic, Error, LambdaEvent, service_fn};
use tranche_domain::error::StoreError;

#[tokio::main]
async fn main() -> Result<(), Error> {
    tranche_lambda::init_tracing();
    let ports = tranche_lambda::ports_from_env(tranche_authorizer::WIRING).await?;
    let ports = &ports;
    lambda_runtime::run(service_fn(
        |event: LambdaEvent<ApiGatewayV2CustomAuthorizerV2Request>| async move {
            tranche_authorizer::authorize(ports, &event.payload)
                .await
                .map_err(|e| -> Diagnostic {
                    let retryable = matches!(e, StoreError::Unavailable(_));
                    tranche_lambda::diagnostic(&e, retryable)
                })
        },
    ))
    .await
}
