//! The batch-generator Lambda: SQS batch requests into pain.008 files. Wiring only; the handler
//! is `tranche_batch_generator::handle_event`.

use aws_lambda_events::event::sqs::SqsEvent;
use lambda_runtime::{Error, LambdaEvent, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    tranche_lambda::init_tracing();
    let ports = tranche_lambda::ports_from_env(tranche_batch_generator::WIRING).await?;
    let ports = &ports;
    lambda_runtime::run(service_fn(|event: LambdaEvent<SqsEvent>| async move {
        Ok::<_, Error>(tranche_batch_generator::handle_event(ports, &event.payload).await)
    }))
    .await
}
