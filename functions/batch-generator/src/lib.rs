//! The batch-generator function: a batch request (one creditor, scheme and collection date, as
//! JSON in an SQS message body) mapped to `tranche_domain::batches::generate_batches`, which
//! writes the pain.008 files into the file store. Locally the daily job calls it directly.

use tranche_domain::batches::{self, BatchOutcome};
use tranche_domain::collection::BatchRequest;
use tranche_domain::ports::Ports;
use tranche_domain::use_cases::UseCaseError;

/// Why a message could not be handled.
#[derive(Debug, thiserror::Error)]
pub enum HandleError {
    /// The message is not a batch request: retrying cannot help (dead-letter it).
    #[error("the message is not a batch request: {0}")]
    Malformed(String),
    /// The store failed: worth a retry.
    #[error(transparent)]
    UseCase(#[from] UseCaseError),
}

/// Handles one message body.
pub async fn handle(ports: &Ports, body: &str) -> Result<BatchOutcome, HandleError> {
    let request: BatchRequest =
        serde_json::from_str(body).map_err(|e| HandleError::Malformed(e.to_string()))?;
    Ok(batches::generate_batches(ports, &request).await?)
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
}
