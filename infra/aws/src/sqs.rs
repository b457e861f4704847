//! Batch-generation requests on SQS: the daily scheduler sends one message per creditor, scheme
//! and collection date, and the batch-generator function is triggered by the queue.
//!
//! A duplicate message is harmless: the batch generator finds no scheduled collections left for
//! a request already handled, and a batch's round and part are claimed conditionally.

use async_trait::async_trait;
use aws_sdk_sqs::Client;
use aws_sdk_sqs::error::DisplayErrorContext;
use tranche_domain::collection::BatchRequest;
use tranche_domain::daily::BatchRequests;
use tranche_domain::error::StoreError;

/// The queue of batch requests. Cloning is cheap and shares the client.
#[derive(Debug, Clone)]
pub struct BatchRequestQueue {
    client: Client,
    queue_url: String,
}

/// One message taken from the queue: the request and the handle that deletes it.
#[derive(Debug, Clone, PartialEq)]
pub struct ReceivedRequest {
    pub request: BatchRequest,
    pub receipt_handle: String,
}

impl BatchRequestQueue {
    pub fn new(client: Client, queue_url: impl Into<String>) -> Self {
        Self {
            client,
            queue_url: queue_url.into(),
        }
    }

    pub fn queue_url(&self) -> &str {
        &self.queue_url
    }

    /// Sends the request as its JSON form, the body the batch generator reads; answers the
    /// message id.
    pub async fn send(&self, request: &BatchRequest) -> Result<String, StoreError> {
        let body = serde_json::to_string(request).map_err(|e| {
            StoreError::Corrupt(format!("the batch request could not be written: {e}"))
        })?;
        let sent = self
            .client
            .send_message()
            .queue_url(&self.queue_url)
            .message_body(body)
            .send()
            .await
            .map_err(|e| {
                StoreError::Unavailable(format!(
                    "sending a batch request: {}",
                    DisplayErrorContext(&e)
                ))
            })?;
        Ok(sent.message_id.unwrap_or_default())
    }

    /// Takes up to `max` (1 to 10) messages, waiting up to `wait_seconds` for the first; a
    /// message whose body is not a batch request is an error. For tests and tools: in AWS the
    /// queue triggers the function.
    pub async fn receive(
        &self,
        max: i32,
        wait_seconds: i32,
    ) -> Result<Vec<ReceivedRequest>, StoreError> {
        let answer = self
            .client
            .receive_message()
            .queue_url(&self.queue_url)
            .max_number_of_messages(max.clamp(1, 10))
            .wait_time_seconds(wait_seconds.clamp(0, 20))
            .send()
            .await
            .map_err(|e| {
                StoreError::Unavailable(format!(
                    "receiving batch requests: {}",
                    DisplayErrorContext(&e)
                ))
            })?;
        answer
            .messages
            .unwrap_or_default()
            .into_iter()
            .map(|message| {
                let body = message.body.unwrap_or_default();
                let request = serde_json::from_str(&body).map_err(|e| {
                    StoreError::Corrupt(format!("a queued message is not a batch request: {e}"))
                })?;
                Ok(ReceivedRequest {
                    request,
                    receipt_handle: message.receipt_handle.unwrap_or_default(),
                })
            })
            .collect()
    }

    /// Deletes a handled message.
    pub async fn delete(&self, receipt_handle: &str) -> Result<(), StoreError> {
        self.client
            .delete_message()
            .queue_url(&self.queue_url)
            .receipt_handle(receipt_handle)
            .send()
            .await
            .map_err(|e| {
                StoreError::Unavailable(format!(
                    "deleting a batch request: {}",
                    DisplayErrorContext(&e)
                ))
            })?;
        Ok(())
    }
}

/// How the daily job asks for the day's files in AWS: each request becomes one message.
#[async_trait]
impl BatchRequests for BatchRequestQueue {
    async fn request_batch(&self, request: &BatchRequest) -> Result<(), StoreError> {
        self.send(request).await.map(|_| ())
    }
}

/// Creates the queue `name` (standard) and answers its URL; an existing queue is reused. For
/// tests: the SAM template creates the real queue with its dead-letter queue.
pub async fn provision_queue(client: &Client, name: &str) -> Result<String, StoreError> {
    let created = client
        .create_queue()
        .queue_name(name)
        .send()
        .await
        .map_err(|e| {
            StoreError::Unavailable(format!(
                "creating queue {name}: {}",
                DisplayErrorContext(&e)
            ))
        })?;
    created
        .queue_url
        .ok_or_else(|| StoreError::Unavailable(format!("SQS gave no URL for queue {name}")))
}
