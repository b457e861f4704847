//! The AWS adapters of Tranche's ports: what the Lambda functions run on.
//!
//! # Layout
//!
//! - [`dynamodb`]: every store port on DynamoDB (the tables, their key schema and GSIs are
//!   listed at the top of that module), with request counters per operation kind.
//! - [`s3`]: the file store on S3 (multipart upload from a file, streaming reads).
//! - [`sqs`]: batch-generation requests from the daily scheduler to the batch generator.
//! - [`ses`]: the mailer on SES v2 (Simple content, or Raw MIME when there is an attachment).
//!
//! [`AwsPorts::from_env`] builds all of them from the environment, once per Lambda cold start.
//!
//! # HTTP and TLS
//!
//! The SDK crates are built without default features, so neither the legacy hyper 0.14 client
//! nor aws-lc-sys (a C library build) comes in. The one HTTP client is the SDK's hyper 1 client
//! on rustls with the ring provider, trusting the system's root certificates: HTTPS to AWS from
//! Lambda, and plain HTTP to a moto server on loopback in tests (the endpoint's scheme decides).

pub mod dynamodb;
pub mod s3;
pub mod ses;
pub mod sqs;

use std::sync::Arc;

use aws_config::{BehaviorVersion, SdkConfig};
use aws_smithy_http_client::tls;
use tranche_domain::ports::{Clock, DocumentRenderer, Ports, SystemClock};

pub use dynamodb::{
    DynamoStore, RequestCounts, RequestCountsSnapshot, StoredSize, Tables, provision,
};
pub use s3::S3FileStore;
pub use ses::SesMailer;
pub use sqs::BatchRequestQueue;

/// A setting the environment lacks or has wrong.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(pub String);

/// The one HTTP client: hyper 1 on rustls with ring, trusting the system's root certificates.
/// It speaks plain HTTP too, for an emulator's `http://` endpoint.
fn http_client() -> aws_smithy_runtime_api::client::http::SharedHttpClient {
    aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(
            tls::rustls_provider::CryptoMode::Ring,
        ))
        .build_https()
}

/// The SDK configuration from the environment (region, credentials, and `AWS_ENDPOINT_URL` for
/// a local emulator), on the rustls/ring HTTPS client.
pub async fn sdk_config() -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .http_client(http_client())
        .load()
        .await
}

/// The SDK configuration for an emulator (moto) at `endpoint`: fixed test credentials and the
/// region `eu-central-1`, whatever the environment says. For tests.
pub async fn emulator_sdk_config(endpoint: &str) -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .http_client(http_client())
        .endpoint_url(endpoint)
        .region(aws_config::Region::new("eu-central-1"))
        .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
            "testing",
            "testing",
            None,
            None,
            "tranche-emulator",
        ))
        .load()
        .await
}

/// An S3 client for `config`. `TRANCHE_S3_FORCE_PATH_STYLE=true` (or an `AWS_ENDPOINT_URL` on
/// plain HTTP, as a local emulator is) addresses the bucket in the path instead of the host
/// name, which an emulator on `127.0.0.1:port` needs.
pub fn s3_client(config: &SdkConfig) -> aws_sdk_s3::Client {
    let path_style = std::env::var("TRANCHE_S3_FORCE_PATH_STYLE")
        .map(|v| v == "true" || v == "1")
        .unwrap_or(false)
        || config
            .endpoint_url()
            .is_some_and(|url| url.starts_with("http://"));
    let s3_config = aws_sdk_s3::config::Builder::from(config)
        .force_path_style(path_style)
        .build();
    aws_sdk_s3::Client::from_conf(s3_config)
}

/// Every AWS adapter, built once per process.
///
/// Environment:
///
/// | variable | meaning |
/// |---|---|
/// | `TRANCHE_TABLE_PREFIX`, `TRANCHE_TABLE_<NAME>` | the DynamoDB table names ([`Tables::from_env`]) |
/// | `TRANCHE_BUCKET` | the S3 bucket of batch files, mandate PDFs and bank files (required) |
/// | `TRANCHE_BATCH_QUEUE_URL` | the SQS queue of batch requests (optional: only the daily scheduler sends) |
/// | `TRANCHE_MAIL_FROM` | the sender of every e-mail, a verified SES identity (optional: else each e-mail's own `from`) |
/// | `TRANCHE_S3_FORCE_PATH_STYLE` | `true` for an S3 emulator on `host:port` |
/// | `AWS_REGION`, `AWS_ENDPOINT_URL`, credentials | as the AWS SDK reads them |
#[derive(Debug, Clone)]
pub struct AwsPorts {
    pub store: DynamoStore,
    pub files: S3FileStore,
    pub mailer: SesMailer,
    pub batch_queue: Option<BatchRequestQueue>,
}

impl AwsPorts {
    /// Reads the environment (see the table above) and builds the clients.
    pub async fn from_env() -> Result<Self, ConfigError> {
        let config = sdk_config().await;
        let bucket = std::env::var("TRANCHE_BUCKET")
            .ok()
            .filter(|b| !b.is_empty())
            .ok_or_else(|| {
                ConfigError(
                    "TRANCHE_BUCKET is not set: name the S3 bucket for batch files, mandate \
                     documents and bank files"
                        .to_owned(),
                )
            })?;
        let queue_url = std::env::var("TRANCHE_BATCH_QUEUE_URL")
            .ok()
            .filter(|u| !u.is_empty());
        let from = std::env::var("TRANCHE_MAIL_FROM")
            .ok()
            .filter(|f| !f.is_empty());
        Ok(Self::new(
            &config,
            Tables::from_env(),
            bucket,
            queue_url,
            from,
        ))
    }

    /// The adapters on explicit names, for tests.
    pub fn new(
        config: &SdkConfig,
        tables: Tables,
        bucket: String,
        queue_url: Option<String>,
        mail_from: Option<String>,
    ) -> Self {
        let sqs = aws_sdk_sqs::Client::new(config);
        Self {
            store: DynamoStore::new(aws_sdk_dynamodb::Client::new(config), tables),
            files: S3FileStore::new(s3_client(config), bucket),
            mailer: SesMailer::new(aws_sdk_sesv2::Client::new(config), mail_from),
            batch_queue: queue_url.map(|url| BatchRequestQueue::new(sqs, url)),
        }
    }

    /// The [`Ports`] of a Lambda function: these adapters, the given PDF renderer (it lives in
    /// the mandate-signing crate) and the real clock.
    pub fn ports(&self, documents: Arc<dyn DocumentRenderer>) -> Ports {
        self.ports_with_clock(documents, Arc::new(SystemClock))
    }

    /// As [`AwsPorts::ports`], with a chosen clock (tests pin the day).
    pub fn ports_with_clock(
        &self,
        documents: Arc<dyn DocumentRenderer>,
        clock: Arc<dyn Clock>,
    ) -> Ports {
        let store = Arc::new(self.store.clone());
        Ports {
            creditors: store.clone(),
            plans: store.clone(),
            mandates: store.clone(),
            collections: store.clone(),
            tasks: store.clone(),
            events: store.clone(),
            transactions: store.clone(),
            idempotency: store.clone(),
            api_keys: store,
            files: Arc::new(self.files.clone()),
            mailer: Arc::new(self.mailer.clone()),
            documents,
            clock,
        }
    }
}

/// Creates everything the adapters need, for tests against an emulator (or a first manual
/// set-up): the tables, the bucket, the queue (when `queue_name` is given; answers its URL) and
/// the sender identity (when given).
pub async fn provision_all(
    config: &SdkConfig,
    tables: &Tables,
    bucket: &str,
    queue_name: Option<&str>,
    sender: Option<&str>,
) -> Result<Option<String>, ConfigError> {
    provision(&aws_sdk_dynamodb::Client::new(config), tables)
        .await
        .map_err(|e| ConfigError(e.to_string()))?;
    s3::provision_bucket(&s3_client(config), bucket)
        .await
        .map_err(|e| ConfigError(e.to_string()))?;
    if let Some(sender) = sender {
        ses::provision_sender(&aws_sdk_sesv2::Client::new(config), sender)
            .await
            .map_err(|e| ConfigError(e.to_string()))?;
    }
    match queue_name {
        Some(name) => Ok(Some(
            sqs::provision_queue(&aws_sdk_sqs::Client::new(config), name)
                .await
                .map_err(|e| ConfigError(e.to_string()))?,
        )),
        None => Ok(None),
    }
}
