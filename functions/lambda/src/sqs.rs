//! An SQS batch handled message by message, answering the messages that failed (a partial
//! batch failure), so one bad message never sends its neighbours round again.
//!
//! The event source mapping must have `FunctionResponseTypes: [ReportBatchItemFailures]`:
//! without it Lambda ignores the answer and keeps every message of a batch that did not throw.
//!
//! What a failure means depends on whether a new delivery may succeed:
//!
//! - **retryable** (a store or the file store unavailable, throttled): the message and every
//!   message after it in the batch are answered as failed without being tried, since the next
//!   ones would most likely meet the same outage. SQS delivers them again once their visibility
//!   timeout ends.
//! - **permanent** (a body that is not what the queue carries, a bank file that cannot be read):
//!   the message is answered as failed and the next one is handled. SQS delivers it again until
//!   the queue's `maxReceiveCount`, then moves it to the dead-letter queue, whose alarm calls
//!   the operator. Nothing is dropped silently; the handlers are idempotent, so the few repeat
//!   deliveries change nothing.

use std::future::Future;

use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent};
use tracing::{error, info, warn};

/// An error that knows whether a new delivery of the same message may succeed.
pub trait Retryable: std::fmt::Display {
    fn is_retryable(&self) -> bool;
}

/// Handles every message of `event` in order with `handle` (which gets the message body) and
/// answers the ids of the messages to deliver again.
pub async fn handle_batch<E, F, Fut>(event: &SqsEvent, mut handle: F) -> SqsBatchResponse
where
    E: Retryable,
    F: FnMut(String) -> Fut,
    Fut: Future<Output = Result<(), E>>,
{
    let mut failed: Vec<String> = Vec::new();
    let mut outage = false;
    for record in &event.records {
        let message_id = record.message_id.clone().unwrap_or_default();
        let receive_count = record
            .attributes
            .get("ApproximateReceiveCount")
            .map(String::as_str)
            .unwrap_or("?");
        if outage {
            failed.push(message_id);
            continue;
        }
        let body = record.body.clone().unwrap_or_default();
        match handle(body).await {
            Ok(()) => info!(message_id = %message_id, "message handled"),
            Err(e) if e.is_retryable() => {
                warn!(
                    message_id = %message_id,
                    receive_count,
                    retryable = true,
                    error = %e,
                    "message failed; it and the rest of the batch will be delivered again"
                );
                failed.push(message_id);
                outage = true;
            }
            Err(e) => {
                error!(
                    message_id = %message_id,
                    receive_count,
                    retryable = false,
                    error = %e,
                    "message refused; it goes to the dead-letter queue after its last delivery"
                );
                failed.push(message_id);
            }
        }
    }
    let mut response = SqsBatchResponse::default();
    response.batch_item_failures = failed
        .into_iter()
        .map(|id| {
            let mut failure = BatchItemFailure::default();
            failure.item_identifier = id;
            failure
        })
        .collect();
    response
}

#[cfg(test)]
mod tests {
    use aws_lambda_events::event::sqs::SqsMessage;

    use super::*;

    #[derive(Debug)]
    enum TestError {
        Outage,
        Refused,
    }

    impl std::fmt::Display for TestError {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "{self:?}")
        }
    }

    impl Retryable for TestError {
        fn is_retryable(&self) -> bool {
            matches!(self, TestError::Outage)
        }
    }

    fn event(bodies: &[&str]) -> SqsEvent {
        let mut event = SqsEvent::default();
        event.records = bodies
            .iter()
            .enumerate()
            .map(|(n, body)| {
                let mut message = SqsMessage::default();
                message.message_id = Some(format!("m-{}", n + 1));
                message.body = Some((*body).to_owned());
                message
            })
            .collect();
        event
    }

    fn failed_ids(response: &SqsBatchResponse) -> Vec<&str> {
        response
            .batch_item_failures
            .iter()
            .map(|f| f.item_identifier.as_str())
            .collect()
    }

    async fn by_body(body: String) -> Result<(), TestError> {
        match body.as_str() {
            "outage" => Err(TestError::Outage),
            "refused" => Err(TestError::Refused),
            _ => Ok(()),
        }
    }

    #[tokio::test]
    async fn a_batch_that_all_succeeds_answers_no_failure() {
        let response = handle_batch(&event(&["ok", "ok"]), by_body).await;

        assert!(response.batch_item_failures.is_empty());
    }

    #[tokio::test]
    async fn a_refused_message_fails_alone_and_the_next_ones_are_still_handled() {
        let mut seen = Vec::new();

        let response = handle_batch(&event(&["ok", "refused", "ok"]), |body| {
            seen.push(body.clone());
            by_body(body)
        })
        .await;

        assert_eq!(failed_ids(&response), ["m-2"]);
        assert_eq!(seen, ["ok", "refused", "ok"]);
    }

    #[tokio::test]
    async fn an_outage_fails_its_message_and_every_later_one_without_trying_them() {
        let mut seen = Vec::new();

        let response = handle_batch(&event(&["ok", "outage", "ok", "refused"]), |body| {
            seen.push(body.clone());
            by_body(body)
        })
        .await;

        assert_eq!(failed_ids(&response), ["m-2", "m-3", "m-4"]);
        assert_eq!(seen, ["ok", "outage"]);
    }

    #[test]
    fn the_answer_has_the_shape_lambda_reads() {
        let mut response = SqsBatchResponse::default();
        let mut failure = BatchItemFailure::default();
        failure.item_identifier = "m-2".to_owned();
        response.batch_item_failures.push(failure);

        let json = serde_json::to_value(&response).unwrap();

        assert_eq!(
            json,
            serde_json::json!({"batchItemFailures": [{"itemIdentifier": "m-2"}]})
        );
    }
}
