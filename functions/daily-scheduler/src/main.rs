//! The daily-scheduler Lambda: the daily schedule's event into the daily job. Wiring only; the
//! handler is `tranche_daily_scheduler::handle_event`.

use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use lambda_runtime::{Diagnostic, Error, LambdaEvent, service_fn};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    tranche_lambda::init_tracing();
    let links = tranche_lambda::links_from_env()?;
    let ports = tranche_lambda::ports_from_env(tranche_daily_scheduler::WIRING).await?;
    let batch_requests = tranche_lambda::batch_requests_from_env().await?;
    let (ports, links, batch_requests) = (&ports, &links, batch_requests.as_ref());
    lambda_runtime::run(service_fn(
        |event: LambdaEvent<EventBridgeEvent<Value>>| async move {
            tranche_daily_scheduler::handle_event(ports, links, batch_requests, &event.payload)
                .await
                .map_err(|e| -> Diagnostic {
                    tranche_lambda::diagnostic(&e, tranche_daily_scheduler::is_retryable(&e))
                })
        },
    ))
    .await
}
