//! The batch-generator function: a batch request (one creditor, scheme and collection date, as
//! JSON in an SQS message body) mapped to `tranche_domain::batches::generate_batches`, which
//! writes the pain.008 files into the file store. The daily job writes the files of the day
//! itself; the batch-request queue is how a file is asked for again, for example after a
//! creditor's settings were fixed (`{"creditor_id": "acme", "scheme": "CORE",
//! "collection_date": "2027-03-01"}`).
//!
//! [`handle_event`] is the Lambda handler: every message of an SQS batch, with partial batch
//! failures (see `tranche_lambda::sqs`).

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use tracing::{info, warn};
use tranche_domain::batches::{self, BatchOutcome};
use tranche_domain::collection::BatchRequest;
use tranche_domain::daily;
use tranche_domain::error::StoreError;
use tranche_domain::ports::Ports;
use tranche_domain::use_cases::UseCaseError;
use tranche_lambda::sqs::{self, Retryable};

/// What this function builds besides the DynamoDB tables (its `main` and the in-process AWS tests
/// use it): it writes pain.008 files to S3 and sends no e-mail.
#[cfg(feature = "wiring")]
pub const WIRING: tranche_lambda::Wiring = tranche_lambda::Wiring {
    function: "batch-generator",
    files: Some(tranche_lambda::s3_files),
    mailer: None,
    documents: None,
};

/// Why a message could not be handled.
#[derive(Debug, thiserror::Error)]
pub enum HandleError {
    /// The message is not a batch request: retrying cannot help (dead-letter it).
    #[error("the message is not a batch request: {0}")]
    Malformed(String),
    /// The request names a creditor that does not exist: retrying cannot help.
    #[error("the batch request names no known creditor: {0}")]
    UnknownCreditor(String),
    /// A use case failed; retryable when a store was unavailable.
    #[error(transparent)]
    UseCase(#[from] UseCaseError),
}

impl Retryable for HandleError {
    fn is_retryable(&self) -> bool {
        matches!(
            self,
            HandleError::UseCase(UseCaseError::Store(StoreError::Unavailable(_)))
        )
    }
}

/// Handles one message body: writes the files of the request. A request the creditor's
/// settings keep from being written is answered as handled, once the task asking the
/// creditor's staff to fix them is open: a retry would be refused the same way until someone
/// changes the settings, and the next daily run writes the waiting collections then.
pub async fn handle(ports: &Ports, body: &str) -> Result<BatchOutcome, HandleError> {
    let request: BatchRequest =
        serde_json::from_str(body).map_err(|e| HandleError::Malformed(e.to_string()))?;
    let outcome = batches::generate_batches(ports, &request).await?;
    match &outcome {
        BatchOutcome::Written(ids) => info!(
            creditor_id = %request.creditor_id,
            collection_date = %request.collection_date,
            files = ids.len(),
            "batch request handled"
        ),
        BatchOutcome::Refused(problem) => {
            let Some(creditor) = ports
                .creditors
                .get_creditor(&request.creditor_id)
                .await
                .map_err(UseCaseError::from)?
            else {
                return Err(HandleError::UnknownCreditor(problem.clone()));
            };
            let opened = ports
                .tasks
                .open_task(&daily::settings_task(&creditor, problem, ports))
                .await
                .map_err(UseCaseError::from)?;
            warn!(
                creditor_id = %request.creditor_id,
                collection_date = %request.collection_date,
                task_opened = opened,
                "batch refused by the creditor's settings"
            );
        }
    }
    Ok(outcome)
}

/// The Lambda handler: each message of the batch through [`handle`]; the answer lists the
/// messages to deliver again.
pub async fn handle_event(ports: &Ports, event: &SqsEvent) -> SqsBatchResponse {
    sqs::handle_batch(event, |body| async move {
        handle(ports, &body).await.map(|_| ())
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_batch_request_reads_from_its_json_form() {
        let request: BatchRequest = serde_json::from_str(
            r#"{"creditor_id": "acme", "scheme": "CORE", "collection_date": "2027-03-01"}"#,
        )
        .unwrap();
        assert_eq!(request.creditor_id.as_str(), "acme");
        assert_eq!(request.collection_date.to_string(), "2027-03-01");
    }

    #[test]
    fn only_an_unavailable_store_is_worth_a_retry() {
        let unavailable = HandleError::UseCase(UseCaseError::Store(StoreError::Unavailable(
            "throttled".into(),
        )));
        let corrupt =
            HandleError::UseCase(UseCaseError::Store(StoreError::Corrupt("bad item".into())));

        assert!(unavailable.is_retryable());
        assert!(!corrupt.is_retryable());
        assert!(!HandleError::Malformed("not json".into()).is_retryable());
        assert!(!HandleError::UnknownCreditor("no acme".into()).is_retryable());
    }
}
