//! The return-processor function: a bank report dropped in the file store (in AWS: an S3
//! object under the inbound prefix, announced on SQS) is read, matched to the collections it
//! speaks of, applied, and the creditor's dunning started (`tranche_domain::returns`).
//!
//! Locally, `POST /v1/returns` (the body is the bank file) and `tranche returns FILE` do the
//! same.
//!
//! [`handle_event`] is the Lambda handler. The inbound-file queue carries S3's event
//! notifications (one JSON document per message, with one or more records), so a message is
//! read as such: the object key is URL-decoded (S3 writes a space as `+`, and some emulators
//! write `/` as `%2F`), S3's test event sent when notifications are configured is acknowledged,
//! and every created object is read, matched and applied once. A file read twice (a repeated
//! delivery) applies nothing the second time.

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::middleware;
use axum::response::Response;
use axum::routing::post;
use serde_json::json;
use tranche_domain::error::{FieldError, StoreError};
use tranche_domain::ports::Ports;
use tranche_domain::returns::{self, ReturnsError, ReturnsReport};
use tranche_domain::signing::Links;
use tranche_domain::use_cases::UseCaseError;
use tranche_http::problem::Problem;
use tranche_http::{ApiState, json_response, require_api_key};
use tranche_lambda::sqs::{self, Retryable};

/// What this function builds besides the DynamoDB tables (its `main` and the in-process AWS tests
/// use it): it reads bank files from S3 and e-mails debtors and creditors about failed collections.
#[cfg(feature = "wiring")]
pub const WIRING: tranche_lambda::Wiring = tranche_lambda::Wiring {
    function: "return-processor",
    files: Some(tranche_lambda::s3_files),
    mailer: Some(tranche_lambda::ses_mailer),
    documents: None,
};

/// The largest bank file the API takes in one request (the reader's own limit is larger, for
/// files that come through the file store).
pub const MAX_UPLOAD_BYTES: usize = 50 * 1024 * 1024;

/// Why a bank file could not be handled.
#[derive(Debug, thiserror::Error)]
pub enum HandleError {
    /// The file cannot be read: retrying cannot help (dead-letter it).
    #[error("the bank file is refused: {0}")]
    Refused(String),
    /// The announced file is not in the file store: S3 reads are strongly consistent, so it
    /// was deleted after it was announced, and retrying cannot bring it back.
    #[error("the bank file {0} is not in the file store")]
    Missing(String),
    /// The message is not an S3 event notification.
    #[error("the message is not an S3 event notification: {0}")]
    Malformed(String),
    /// A store failed: worth a retry.
    #[error("the store failed: {0}")]
    Unavailable(String),
    /// A stored item cannot be read, or a rule refused a change: retrying cannot help.
    #[error("the bank file cannot be applied: {0}")]
    Failed(String),
}

impl HandleError {
    /// Whether a retry of the same message may succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(self, HandleError::Unavailable(_))
    }
}

impl Retryable for HandleError {
    fn is_retryable(&self) -> bool {
        HandleError::is_retryable(self)
    }
}

fn store_error(error: StoreError) -> HandleError {
    match error {
        StoreError::Unavailable(_) => HandleError::Unavailable(error.to_string()),
        _ => HandleError::Failed(error.to_string()),
    }
}

fn handle_error(error: ReturnsError) -> HandleError {
    match error {
        ReturnsError::Unreadable(e) => HandleError::Refused(e.to_string()),
        ReturnsError::UseCase(UseCaseError::Store(e)) => store_error(e),
        ReturnsError::UseCase(e) => HandleError::Failed(e.to_string()),
    }
}

/// Processes the bank file stored under `key` (an S3 object key, URL-decoded). The file stays
/// where it is: its key is what the applied items record as their source.
pub async fn handle_stored_file(
    ports: &Ports,
    links: &Links,
    key: &str,
) -> Result<ReturnsReport, HandleError> {
    let bytes = ports
        .files
        .get_file(key)
        .await
        .map_err(store_error)?
        .ok_or_else(|| HandleError::Missing(key.to_owned()))?;
    returns::process_stored_bank_file(ports, links, key, &bytes)
        .await
        .map_err(handle_error)
}

/// The keys of the objects an SQS message body announces: the created objects of an S3 event
/// notification, URL-decoded; none for S3's test event.
///
/// Only the two fields used are read, each record's `eventName` and `s3.object.key`: S3 writes
/// more (`userIdentity`, `requestParameters`, ...), but moto leaves those out, and a record is
/// not refused for lacking what nothing here needs.
pub fn announced_keys(body: &str) -> Result<Vec<String>, HandleError> {
    let value: serde_json::Value =
        serde_json::from_str(body).map_err(|e| HandleError::Malformed(e.to_string()))?;
    if value.get("Event").and_then(|e| e.as_str()) == Some("s3:TestEvent") {
        return Ok(Vec::new());
    }
    let Some(records) = value.get("Records").and_then(|r| r.as_array()) else {
        return Err(HandleError::Malformed("no `Records` list".into()));
    };
    let mut keys = Vec::new();
    for record in records {
        let created = record
            .get("eventName")
            .and_then(|name| name.as_str())
            .is_some_and(|name| name.starts_with("ObjectCreated:"));
        if !created {
            continue;
        }
        let Some(key) = record.pointer("/s3/object/key").and_then(|k| k.as_str()) else {
            return Err(HandleError::Malformed(
                "a record names no object key".into(),
            ));
        };
        keys.push(decode_object_key(key)?);
    }
    Ok(keys)
}

/// An object key as S3 event notifications write it, decoded: `+` is a space, `%XX` a byte
/// (`%2B` a plus sign, `%2F` a slash), and the bytes UTF-8. The one decoder of event keys in
/// the workspace; a key that is not UTF-8 once decoded is refused for good.
pub fn decode_object_key(encoded: &str) -> Result<String, HandleError> {
    let spaced = encoded.replace('+', " ");
    percent_encoding::percent_decode_str(&spaced)
        .decode_utf8()
        .map(|key| key.into_owned())
        .map_err(|_| HandleError::Malformed(format!("the object key {encoded} is not UTF-8")))
}

/// One message of the inbound-file queue: every bank file it announces, read and applied.
pub async fn handle_message(
    ports: &Ports,
    links: &Links,
    body: &str,
) -> Result<Vec<ReturnsReport>, HandleError> {
    let mut reports = Vec::new();
    for key in announced_keys(body)? {
        let report = handle_stored_file(ports, links, &key).await?;
        tracing::info!(
            file_key = %key,
            message_id = report.message_id.as_deref().unwrap_or("?"),
            items = report.items,
            applied = report.applied,
            duplicates = report.duplicates,
            unmatched = report.unmatched,
            tasks_opened = report.tasks_opened,
            "bank file applied"
        );
        reports.push(report);
    }
    Ok(reports)
}

/// The Lambda handler: each message of the batch through [`handle_message`]; the answer lists
/// the messages to deliver again (see `tranche_lambda::sqs` for what is retried).
pub async fn handle_event(ports: &Ports, links: &Links, event: &SqsEvent) -> SqsBatchResponse {
    sqs::handle_batch(event, |body| async move {
        handle_message(ports, links, &body).await.map(|_| ())
    })
    .await
}

/// Processes a bank file's bytes.
pub async fn handle_bytes(
    ports: &Ports,
    links: &Links,
    bytes: &[u8],
) -> Result<ReturnsReport, HandleError> {
    returns::process_bank_file(ports, links, bytes)
        .await
        .map_err(handle_error)
}

/// `POST /v1/returns`: the local twin of an S3 drop (bearer-key authenticated).
pub fn router(state: ApiState) -> Router {
    Router::new()
        .route("/v1/returns", post(post_returns))
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            require_api_key,
        ))
        .layer(axum::extract::DefaultBodyLimit::max(MAX_UPLOAD_BYTES))
        .with_state(state)
}

async fn post_returns(State(state): State<ApiState>, body: Bytes) -> Result<Response, Problem> {
    let links = Links {
        public_url: state.public_url.clone(),
        mail_from: state.mail_from.clone(),
    };
    match handle_bytes(&state.ports, &links, &body).await {
        Ok(report) => Ok(json_response(StatusCode::OK, &json!(report))),
        Err(HandleError::Refused(reason)) => Err(Problem {
            errors: vec![FieldError::new("body", reason.clone())],
            ..Problem::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "unreadable-bank-file",
                "The bank file cannot be read",
                format!("{reason}. Nothing of it was applied."),
            )
        }),
        Err(e) => {
            tracing::error!(error = %e, "bank file failed");
            Err(Problem::unavailable())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_object_key_is_decoded_as_s3_and_moto_write_it() {
        assert_eq!(
            decode_object_key("inbound/2027-03-02/pain.002+acme.xml").unwrap(),
            "inbound/2027-03-02/pain.002 acme.xml"
        );
        assert_eq!(
            decode_object_key("inbound%2Fcamt.054%2Bacme%C3%A9.xml").unwrap(),
            "inbound/camt.054+acme\u{e9}.xml"
        );
        assert_eq!(
            decode_object_key("inbound%2Fpain002+2027-03-01%C3%A4.xml").unwrap(),
            "inbound/pain002 2027-03-01\u{e4}.xml"
        );
    }

    #[test]
    fn a_key_that_is_not_utf8_once_decoded_is_refused_for_good() {
        let error = decode_object_key("inbound/%FF.xml").unwrap_err();

        assert!(matches!(error, HandleError::Malformed(_)));
        assert!(!error.is_retryable());
    }

    #[test]
    fn a_record_is_read_for_its_event_name_and_key_alone_as_moto_writes_it() {
        let body = r#"{"Records": [{"eventVersion": "2.1", "eventSource": "aws:s3",
            "eventName": "ObjectCreated:Put", "eventTime": "2027-02-02T06:00:00.000Z",
            "s3": {"bucket": {"name": "b"}, "object": {"key": "inbound%2Fpain.002+a.xml"}}},
            {"eventName": "ObjectRemoved:Delete", "s3": {"object": {"key": "inbound/old.xml"}}}]}"#;

        assert_eq!(announced_keys(body).unwrap(), ["inbound/pain.002 a.xml"]);
    }

    #[test]
    fn a_created_object_without_a_key_is_malformed() {
        let body = r#"{"Records": [{"eventName": "ObjectCreated:Put", "s3": {"object": {}}}]}"#;

        assert!(matches!(
            announced_keys(body),
            Err(HandleError::Malformed(_))
        ));
    }

    #[test]
    fn s3s_test_event_announces_nothing() {
        let body = r#"{"Service":"Amazon S3","Event":"s3:TestEvent","Bucket":"b"}"#;

        assert_eq!(announced_keys(body).unwrap(), Vec::<String>::new());
    }

    #[test]
    fn a_body_that_is_no_s3_notification_is_malformed() {
        assert!(matches!(
            announced_keys("{\"creditor_id\": \"acme\"}"),
            Err(HandleError::Malformed(_))
        ));
        assert!(matches!(
            announced_keys("not json"),
            Err(HandleError::Malformed(_))
        ));
    }

    #[test]
    fn only_an_unavailable_store_is_worth_a_retry() {
        assert!(HandleError::Unavailable("throttled".into()).is_retryable());
        assert!(!HandleError::Refused("not XML".into()).is_retryable());
        assert!(!HandleError::Missing("inbound/x.xml".into()).is_retryable());
        assert!(!HandleError::Failed("corrupt item".into()).is_retryable());
    }
}
