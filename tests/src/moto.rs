//! The moto server the test command starts on loopback: where tests of the AWS adapters find it,
//! and fresh, private AWS resources on it for each test.
//!
//! `scripts/test.sh` starts moto (through `scripts/moto_serial.py`, which lets moto's backends see
//! one request at a time: moto's transactions are not atomic under parallel requests, DynamoDB's
//! are) and exports its URL as `TRANCHE_MOTO_ENDPOINT`. Under
//! `CI=true` a test that needs moto fails when the variable is missing; run by hand without it,
//! the test prints a notice and passes without checking anything.
//!
//! Every test gets its own table prefix, bucket and queue (random names), so tests run in
//! parallel on one server and never see each other's items; nothing is reset between them.

use std::sync::Arc;

use serde_json::Value;
use tranche_aws::{AwsPorts, Names, Tables, emulator_sdk_config, provision_all};
use tranche_domain::secrets::random_reference;

/// The variable that carries the moto endpoint.
pub const ENDPOINT_VARIABLE: &str = "TRANCHE_MOTO_ENDPOINT";

/// The sender identity every test's mailer uses (verified on moto by [`MotoAccount::new`]).
pub const SENDER: &str = "Tranche <noreply@tranche.example>";

/// The moto endpoint, or `None` (after a notice on stderr) when it is not set outside CI.
///
/// # Panics
///
/// When `CI=true` and the endpoint is not set: CI must run the AWS tests, not skip them.
pub fn endpoint(test: &str) -> Option<String> {
    match std::env::var(ENDPOINT_VARIABLE) {
        Ok(endpoint) if !endpoint.is_empty() => Some(endpoint),
        _ => {
            if std::env::var("CI").is_ok_and(|ci| ci == "true") {
                panic!(
                    "{ENDPOINT_VARIABLE} is not set, but CI=true: run the tests through \
                     scripts/test.sh, which starts moto and sets it"
                );
            }
            eprintln!(
                "notice: {test} skipped: {ENDPOINT_VARIABLE} is not set (scripts/test.sh starts \
                 moto and sets it)"
            );
            None
        }
    }
}

/// One test's own AWS resources on moto: tables, a bucket, a queue and the adapters on them.
#[derive(Debug, Clone)]
pub struct MotoAccount {
    pub endpoint: String,
    pub config: tranche_aws::SdkConfig,
    pub tables: Tables,
    pub bucket: String,
    pub queue_url: String,
    pub ports: AwsPorts,
}

impl MotoAccount {
    /// Creates the resources under fresh random names; `None` when moto is not configured
    /// (see [`endpoint`]).
    pub async fn new(test: &str) -> Option<Arc<MotoAccount>> {
        let endpoint = endpoint(test)?;
        let config = emulator_sdk_config(&endpoint);
        let name = random_reference(10).to_ascii_lowercase();
        let tables = Tables::with_prefix(&format!("t{name}-"));
        let bucket = format!("tranche-{name}");
        let queue_url = provision_all(
            &config,
            &tables,
            &bucket,
            Some(&format!("batches-{name}")),
            Some(SENDER),
        )
        .await
        .expect("the resources are created on moto")
        .expect("a queue URL");
        let ports = AwsPorts::new(
            &config,
            tables.clone(),
            bucket.clone(),
            Some(queue_url.clone()),
            Some(SENDER.to_owned()),
        );
        Some(Arc::new(MotoAccount {
            endpoint,
            config,
            tables,
            bucket,
            queue_url,
            ports,
        }))
    }

    /// The names a function's wiring builds its adapters on, as its environment would give them.
    pub fn names(&self) -> Names {
        Names {
            tables: self.tables.clone(),
            bucket: Some(self.bucket.clone()),
            queue_url: Some(self.queue_url.clone()),
            mail_from: Some(SENDER.to_owned()),
        }
    }

    /// moto's whole state (`GET /moto-api/data.json`): how a test reads the e-mails SES "sent".
    ///
    /// moto 5.2.5 answers 500 while another test's S3 multipart upload is in flight (it cannot
    /// describe a part that belongs to no bucket yet), so a failed read is repeated a few times.
    pub async fn data(&self) -> Value {
        let url = format!("{}/moto-api/data.json", self.endpoint);
        let mut last_error = String::new();
        for _ in 0..50 {
            let response = reqwest::get(&url).await.expect("moto answers");
            if response.status().is_success() {
                return response.json().await.expect("moto's data is JSON");
            }
            last_error = response.status().to_string();
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        }
        panic!("moto's data.json kept failing: {last_error}");
    }

    /// The ARN of the queue at `queue_url`.
    pub async fn queue_arn(&self, queue_url: &str) -> String {
        use aws_sdk_sqs::types::QueueAttributeName;
        aws_sdk_sqs::Client::new(&self.config)
            .get_queue_attributes()
            .queue_url(queue_url)
            .attribute_names(QueueAttributeName::QueueArn)
            .send()
            .await
            .unwrap()
            .attributes
            .unwrap()
            .remove(&QueueAttributeName::QueueArn)
            .expect("a queue ARN")
    }

    /// The bucket's notification configuration as the SAM template writes it: objects created
    /// under `inbound/` are announced on the queue at `queue_url`, by moto's own S3-to-SQS
    /// notifications.
    pub async fn announce_inbound_files(&self, queue_url: &str) {
        use aws_sdk_s3::types::{
            Event, FilterRule, FilterRuleName, NotificationConfiguration,
            NotificationConfigurationFilter, QueueConfiguration, S3KeyFilter,
        };
        let inbound_only = NotificationConfigurationFilter::builder()
            .key(
                S3KeyFilter::builder()
                    .filter_rules(
                        FilterRule::builder()
                            .name(FilterRuleName::Prefix)
                            .value("inbound/")
                            .build(),
                    )
                    .build(),
            )
            .build();
        let files = &self.ports.files;
        files
            .client()
            .put_bucket_notification_configuration()
            .bucket(files.bucket())
            .notification_configuration(
                NotificationConfiguration::builder()
                    .queue_configurations(
                        QueueConfiguration::builder()
                            .id("inbound-bank-files")
                            .queue_arn(self.queue_arn(queue_url).await)
                            .events(Event::S3ObjectCreated)
                            .filter(inbound_only)
                            .build()
                            .unwrap(),
                    )
                    .build(),
            )
            .send()
            .await
            .unwrap();
    }
}
