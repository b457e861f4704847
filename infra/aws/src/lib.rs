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
//! A Lambda function builds the ones it uses, once per cold start, from its [`Wiring`] and the
//! [`Names`] in its environment; [`AwsPorts`] has them all, for tests.
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

use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region, SharedCredentialsProvider};
use aws_smithy_http_client::tls;
pub use aws_types::SdkConfig;
use tranche_domain::ports::{
    Clock, DocumentRenderer, FileStore, Mailer, NotWired, Ports, Services, SystemClock,
};

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

/// The SDK configuration of a Lambda function, from its environment: the region
/// (`AWS_REGION`), the execution role's credentials (`AWS_ACCESS_KEY_ID`,
/// `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`, which Lambda sets), and `AWS_ENDPOINT_URL` for
/// an emulator; on the rustls/ring HTTPS client.
///
/// Built from these variables alone instead of `aws_config::defaults(..).load()`, whose
/// provider chain (profile files, SSO, web identity through STS, the container and instance
/// metadata services) a Lambda function never reaches but every binary would link.
pub fn sdk_config() -> Result<SdkConfig, ConfigError> {
    sdk_config_from(|name| std::env::var(name).ok())
}

/// [`sdk_config`] on the variables `var` answers (an empty value counts as unset).
pub fn sdk_config_from(var: impl Fn(&str) -> Option<String>) -> Result<SdkConfig, ConfigError> {
    let var = |name: &str| var(name).filter(|value| !value.trim().is_empty());
    let required = |name: &str| {
        var(name).ok_or_else(|| {
            ConfigError(format!(
                "{name} is not set: Lambda sets it (the function's region and execution role); \
                 to run a function elsewhere, set AWS_REGION, AWS_ACCESS_KEY_ID and \
                 AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN with temporary credentials)"
            ))
        })
    };
    let region = match var("AWS_REGION").or_else(|| var("AWS_DEFAULT_REGION")) {
        Some(region) => region,
        None => required("AWS_REGION")?,
    };
    let credentials = Credentials::new(
        required("AWS_ACCESS_KEY_ID")?,
        required("AWS_SECRET_ACCESS_KEY")?,
        var("AWS_SESSION_TOKEN"),
        None,
        "environment",
    );
    let mut config = SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(region))
        .credentials_provider(SharedCredentialsProvider::new(credentials))
        .http_client(http_client());
    if let Some(endpoint) = var("AWS_ENDPOINT_URL") {
        config = config.endpoint_url(endpoint);
    }
    Ok(config.build())
}

/// The SDK configuration for an emulator (moto) at `endpoint`: [`sdk_config_from`] with fixed
/// test credentials and the region `eu-central-1`, whatever the environment says. For tests.
pub fn emulator_sdk_config(endpoint: &str) -> SdkConfig {
    sdk_config_from(|name| match name {
        "AWS_REGION" => Some("eu-central-1".to_owned()),
        "AWS_ACCESS_KEY_ID" | "AWS_SECRET_ACCESS_KEY" => Some("testing".to_owned()),
        "AWS_ENDPOINT_URL" => Some(endpoint.to_owned()),
        _ => None,
    })
    .expect("the emulator's variables are complete")
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

/// The names the adapters work on, from the environment:
///
/// | variable | meaning |
/// |---|---|
/// | `TRANCHE_TABLE_PREFIX`, `TRANCHE_TABLE_<NAME>` | the DynamoDB table names ([`Tables::from_env`]) |
/// | `TRANCHE_BUCKET` | the S3 bucket of batch files, mandate PDFs and bank files (required where S3 is wired) |
/// | `TRANCHE_BATCH_QUEUE_URL` | the SQS queue of batch requests (only the daily scheduler sends) |
/// | `TRANCHE_MAIL_FROM` | the sender of every e-mail, a verified SES identity (optional: else each e-mail's own `from`) |
/// | `TRANCHE_S3_FORCE_PATH_STYLE` | `true` for an S3 emulator on `host:port` |
/// | `AWS_REGION` (or `AWS_DEFAULT_REGION`), `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`, `AWS_ENDPOINT_URL` | the SDK configuration ([`sdk_config`]); Lambda sets all but the endpoint |
#[derive(Debug, Clone)]
pub struct Names {
    pub tables: Tables,
    pub bucket: Option<String>,
    pub queue_url: Option<String>,
    pub mail_from: Option<String>,
}

impl Names {
    /// Reads the environment (see the table above).
    pub fn from_env() -> Self {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        Self {
            tables: Tables::from_env(),
            bucket: var("TRANCHE_BUCKET"),
            queue_url: var("TRANCHE_BATCH_QUEUE_URL"),
            mail_from: var("TRANCHE_MAIL_FROM"),
        }
    }
}

/// Builds a file store from the SDK configuration and the names.
pub type FilesConstructor = fn(&SdkConfig, &Names) -> Result<Arc<dyn FileStore>, ConfigError>;
/// Builds a mailer from the SDK configuration and the names.
pub type MailerConstructor = fn(&SdkConfig, &Names) -> Arc<dyn Mailer>;
/// Builds the PDF renderer (it lives in the mandate-signing crate).
pub type DocumentsConstructor = fn() -> Arc<dyn DocumentRenderer>;

/// What one Lambda function builds besides the tables: each function crate declares its own
/// (`WIRING`), its `main` and the in-process AWS tests build its ports from it.
///
/// The constructors are named in the function's source, not chosen at run time, so a binary
/// links only the adapters its wiring names: the authorizer has no S3, SES or PDF code at all,
/// and only mandate-signing renders PDFs. A port left out is [`NotWired`], failing every call
/// with the function's name.
#[derive(Debug, Clone, Copy)]
pub struct Wiring {
    /// The function's name, for the error of a port it leaves out.
    pub function: &'static str,
    /// The S3 file store ([`s3_files`]), for functions that write or read files.
    pub files: Option<FilesConstructor>,
    /// The SES mailer ([`ses_mailer`]), for functions that send e-mails.
    pub mailer: Option<MailerConstructor>,
    /// The PDF renderer, for the function that signs mandates.
    pub documents: Option<DocumentsConstructor>,
}

impl Wiring {
    /// The ports of this function: the DynamoDB store for every store port, the adapters it
    /// names, [`NotWired`] for the others, on `clock`.
    pub fn ports(
        &self,
        config: &SdkConfig,
        names: &Names,
        clock: Arc<dyn Clock>,
    ) -> Result<Ports, ConfigError> {
        let not_wired = Arc::new(NotWired {
            function: self.function,
        });
        let store = Arc::new(DynamoStore::new(
            aws_sdk_dynamodb::Client::new(config),
            names.tables.clone(),
        ));
        Ok(Ports::on_store(
            store,
            Services {
                files: match self.files {
                    Some(files) => files(config, names)?,
                    None => not_wired.clone(),
                },
                mailer: match self.mailer {
                    Some(mailer) => mailer(config, names),
                    None => not_wired.clone(),
                },
                documents: match self.documents {
                    Some(documents) => documents(),
                    None => not_wired,
                },
                clock,
            },
        ))
    }
}

/// The S3 file store on `TRANCHE_BUCKET`, which must be set.
pub fn s3_files(config: &SdkConfig, names: &Names) -> Result<Arc<dyn FileStore>, ConfigError> {
    let bucket = names.bucket.clone().ok_or_else(|| {
        ConfigError(
            "TRANCHE_BUCKET is not set: name the S3 bucket for batch files, mandate documents \
             and bank files"
                .to_owned(),
        )
    })?;
    Ok(Arc::new(S3FileStore::new(s3_client(config), bucket)))
}

/// The SES mailer, sending as `TRANCHE_MAIL_FROM` when it is set.
pub fn ses_mailer(config: &SdkConfig, names: &Names) -> Arc<dyn Mailer> {
    Arc::new(SesMailer::new(
        aws_sdk_sesv2::Client::new(config),
        names.mail_from.clone(),
    ))
}

/// The batch-request queue at `queue_url`, for the daily scheduler.
pub fn sqs_batch_queue(config: &SdkConfig, queue_url: String) -> BatchRequestQueue {
    BatchRequestQueue::new(aws_sdk_sqs::Client::new(config), queue_url)
}

/// Every AWS adapter on explicit names, for tests: what each function's [`Wiring`] picks from.
#[derive(Debug, Clone)]
pub struct AwsPorts {
    pub store: DynamoStore,
    pub files: S3FileStore,
    pub mailer: SesMailer,
    pub batch_queue: Option<BatchRequestQueue>,
}

impl AwsPorts {
    /// The adapters on explicit names, for tests.
    pub fn new(
        config: &SdkConfig,
        tables: Tables,
        bucket: String,
        queue_url: Option<String>,
        mail_from: Option<String>,
    ) -> Self {
        Self {
            store: DynamoStore::new(aws_sdk_dynamodb::Client::new(config), tables),
            files: S3FileStore::new(s3_client(config), bucket),
            mailer: SesMailer::new(aws_sdk_sesv2::Client::new(config), mail_from),
            batch_queue: queue_url.map(|url| sqs_batch_queue(config, url)),
        }
    }

    /// Every port on these adapters, with the given PDF renderer and clock (tests pin the day).
    pub fn ports_with_clock(
        &self,
        documents: Arc<dyn DocumentRenderer>,
        clock: Arc<dyn Clock>,
    ) -> Ports {
        Ports::on_store(
            Arc::new(self.store.clone()),
            Services {
                files: Arc::new(self.files.clone()),
                mailer: Arc::new(self.mailer.clone()),
                documents,
                clock,
            },
        )
    }

    /// As [`AwsPorts::ports_with_clock`], on the real clock.
    pub fn ports(&self, documents: Arc<dyn DocumentRenderer>) -> Ports {
        self.ports_with_clock(documents, Arc::new(SystemClock))
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

#[cfg(test)]
mod tests {
    use super::*;

    fn from(vars: &[(&str, &str)]) -> Result<SdkConfig, ConfigError> {
        sdk_config_from(|name| {
            vars.iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| (*v).to_owned())
        })
    }

    #[test]
    fn the_sdk_configuration_takes_region_credentials_and_endpoint_from_the_variables() {
        let config = from(&[
            ("AWS_REGION", "eu-west-1"),
            ("AWS_ACCESS_KEY_ID", "AKID"),
            ("AWS_SECRET_ACCESS_KEY", "secret"),
            ("AWS_SESSION_TOKEN", "token"),
        ])
        .unwrap();
        assert_eq!(config.region().map(|r| r.as_ref()), Some("eu-west-1"));
        assert!(config.credentials_provider().is_some());
        assert_eq!(config.endpoint_url(), None);

        let config = from(&[
            ("AWS_DEFAULT_REGION", "eu-central-1"),
            ("AWS_ACCESS_KEY_ID", "AKID"),
            ("AWS_SECRET_ACCESS_KEY", "secret"),
            ("AWS_ENDPOINT_URL", "http://127.0.0.1:5000"),
        ])
        .unwrap();
        assert_eq!(config.region().map(|r| r.as_ref()), Some("eu-central-1"));
        assert_eq!(config.endpoint_url(), Some("http://127.0.0.1:5000"));
    }

    #[test]
    fn a_missing_region_or_credential_is_named_with_what_sets_it() {
        let no_secret = from(&[("AWS_REGION", "eu-west-1"), ("AWS_ACCESS_KEY_ID", "AKID")])
            .unwrap_err()
            .to_string();
        assert!(
            no_secret.starts_with("AWS_SECRET_ACCESS_KEY is not set: Lambda sets it"),
            "{no_secret}"
        );
        let no_region = from(&[
            ("AWS_REGION", " "),
            ("AWS_ACCESS_KEY_ID", "AKID"),
            ("AWS_SECRET_ACCESS_KEY", "secret"),
        ])
        .unwrap_err()
        .to_string();
        assert!(
            no_region.starts_with("AWS_REGION is not set"),
            "{no_region}"
        );
    }
}
