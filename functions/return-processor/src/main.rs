//! The return-processor Lambda: S3 notifications of bank files, from SQS, into matched and
//! applied returns. Wiring only; the handler is `tranche_return_processor::handle_event`.

use aws_lambda_events::event::sqs::SqsEvent;
use lambda_runtime::{Error, LambdaEvent, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    tranche_lambda::init_tracing();
    let links = tranche_lambda::links_from_env()?;
    let ports = tranche_lambda::ports_from_env(tranche_return_processor::WIRING).await?;
    let (ports, links) = (&ports, &links);
    lambda_runtime::run(service_fn(|event: LambdaEvent<SqsEvent>| async move {
        Ok::<_, Error>(tranche_return_processor::handle_event(ports, links, &event.payload).await)
    }))
    .await
}
