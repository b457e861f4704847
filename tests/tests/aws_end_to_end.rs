//! The Lambda handlers in-process, end to end on the moto server that `scripts/test.sh` starts:
//! every hop between two functions goes through the AWS service that carries it in a
//! deployment, and what a handler receives is built from what that service delivered.
//!
//! 1. A creditor and a plan are created through the plan-creation function's router and the
//!    plan is signed through the mandate-signing function's router, as API Gateway hands them
//!    requests (payload 2.0), on DynamoDB, S3 and SES.
//! 2. The daily-scheduler handler gets the schedule's EventBridge event and sends the day's
//!    batch request to the SQS queue; the message is received from that queue and handed to the
//!    batch-generator handler as an SQS event, which writes the pain.008 into S3 (validated
//!    against the ISO XSD).
//! 3. The bank's pain.002 rejecting that collection is put into the bucket under `inbound/`,
//!    with a space, a `+` and an umlaut in its key. The bucket's notification configuration has
//!    S3 announce it on a second queue (moto delivers it itself, its key URL-encoded); that
//!    message is handed to the return-processor handler.
//! 4. The collection is rejected in DynamoDB with its reason, the debtor has one e-mail in
//!    moto's SES record, and the daily job later re-presents the instalment as a new collection.
//!
//! Every delivery is made twice (SQS and EventBridge deliver at least once), and the second one
//! changes nothing: no second collection, file or e-mail.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use aws_sdk_sqs::types::{Message, MessageSystemAttributeName};
use base64::Engine;
use chrono::{DateTime, NaiveDate, Utc};
use serde_json::{Value, json};
use tower::ServiceExt;
use tranche_domain::collection::{Collection, CollectionStatus, TaskStatus};
use tranche_domain::plan::{InstalmentStatus, PlanId, PlanStatus};
use tranche_domain::ports::{Clock, CollectionQuery, Ports};
use tranche_domain::secrets::{random_reference, sha256_hex};
use tranche_domain::signing::Links;
use tranche_http::ApiState;
use tranche_lambda::Wiring;
use tranche_tests::app::{TEST_API_KEY, creditor_body, plan_body, test_today, valid_signature};
use tranche_tests::bank_files::{Reported, pain002_rejects};
use tranche_tests::moto::{MotoAccount, SENDER};
use tranche_tests::xsd::validate_pain008;

/// The debtor of the fixture plan.
const DEBTOR: &str = "joerg.mueller@example.org";

/// Where the signing links point; nothing is served there, the test calls the routers.
const PUBLIC_URL: &str = "https://pay.tranche.example";

fn day(text: &str) -> NaiveDate {
    text.parse().expect("a date")
}

/// A clock the test moves from day to day; the time of day is the real one.
struct MovableClock(Mutex<NaiveDate>);

impl Clock for MovableClock {
    fn now(&self) -> DateTime<Utc> {
        self.today().and_time(Utc::now().time()).and_utc()
    }

    fn today(&self) -> NaiveDate {
        *self.0.lock().unwrap()
    }
}

fn event_text(name: &str) -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/events")
        .join(name);
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("fixture {} cannot be read: {e}", path.display()))
}

/// One test's account on moto, its ports on a clock the test moves, and the SQS client.
struct Deployment {
    account: Arc<MotoAccount>,
    clock: Arc<MovableClock>,
    ports: Ports,
    links: Links,
    sqs: aws_sdk_sqs::Client,
}

impl Deployment {
    async fn new(test: &str) -> Option<Deployment> {
        let account = MotoAccount::new(test).await?;
        let clock = Arc::new(MovableClock(Mutex::new(test_today())));
        let ports = account.ports.ports_with_clock(
            Arc::new(tranche_mandate_signing::document::PdfRenderer),
            clock.clone(),
        );
        ports
            .api_keys
            .add_api_key_hash(&sha256_hex(TEST_API_KEY))
            .await
            .unwrap();
        let sqs = aws_sdk_sqs::Client::new(&account.config);
        Some(Deployment {
            account,
            clock,
            ports,
            links: Links {
                public_url: PUBLIC_URL.to_owned(),
                mail_from: SENDER.to_owned(),
            },
            sqs,
        })
    }

    fn set_today(&self, today: NaiveDate) {
        *self.clock.0.lock().unwrap() = today;
    }

    /// The ports of one function, built from its wiring as its `main` builds them (adapters it
    /// leaves out fail every call), on this test's account and clock.
    fn ports_of(&self, wiring: Wiring) -> Ports {
        wiring
            .ports(
                &self.account.config,
                &self.account.names(),
                self.clock.clone(),
            )
            .expect("the function's adapters are built")
    }

    /// The state of an HTTP function, on the ports of its wiring.
    fn state_of(&self, wiring: Wiring) -> ApiState {
        ApiState {
            ports: self.ports_of(wiring),
            public_url: self.links.public_url.clone(),
            mail_from: self.links.mail_from.clone(),
        }
    }

    /// A queue for the bank files, announced on it as the SAM template sets the bucket up.
    /// Answers the queue's URL.
    async fn announce_inbound_files(&self) -> String {
        let queue_url = self
            .sqs
            .create_queue()
            .queue_name(format!("inbound-{}", random_reference(10).to_lowercase()))
            .send()
            .await
            .unwrap()
            .queue_url
            .expect("a queue URL");
        self.account.announce_inbound_files(&queue_url).await;
        queue_url
    }

    /// The messages the queue delivers, received until `enough` says so (or a few seconds
    /// passed), with the attributes Lambda's event source mapping passes on.
    async fn receive(&self, queue_url: &str, enough: impl Fn(&[Message]) -> bool) -> Vec<Message> {
        let mut received = Vec::new();
        for _ in 0..5 {
            let answer = self
                .sqs
                .receive_message()
                .queue_url(queue_url)
                .max_number_of_messages(10)
                .wait_time_seconds(1)
                .message_system_attribute_names(MessageSystemAttributeName::All)
                .send()
                .await
                .unwrap();
            received.extend(answer.messages.unwrap_or_default());
            if enough(&received) {
                break;
            }
        }
        received
    }

    /// The SQS event Lambda's event source mapping makes of `messages` from `queue_url`.
    async fn sqs_event(&self, queue_url: &str, messages: &[Message]) -> SqsEvent {
        let arn = self.account.queue_arn(queue_url).await;
        let mut event = SqsEvent::default();
        event.records = messages
            .iter()
            .map(|message| {
                let mut record = SqsMessage::default();
                record.message_id = message.message_id.clone();
                record.receipt_handle = message.receipt_handle.clone();
                record.body = message.body.clone();
                record.md5_of_body = message.md5_of_body.clone();
                record.attributes = message
                    .attributes
                    .iter()
                    .flatten()
                    .map(|(name, value)| (name.as_str().to_owned(), value.clone()))
                    .collect();
                record.event_source = Some("aws:sqs".to_owned());
                record.event_source_arn = Some(arn.clone());
                record.aws_region = Some("eu-central-1".to_owned());
                record
            })
            .collect();
        // What Lambda hands over goes through JSON: the event must survive that trip.
        serde_json::from_value(serde_json::to_value(&event).unwrap()).unwrap()
    }

    /// Deletes handled messages, as Lambda does for those its handler did not answer as failed.
    async fn delete(&self, queue_url: &str, messages: &[Message]) {
        for message in messages {
            self.sqs
                .delete_message()
                .queue_url(queue_url)
                .receipt_handle(message.receipt_handle().unwrap())
                .send()
                .await
                .unwrap();
        }
    }

    async fn collections(&self) -> Vec<Collection> {
        self.ports
            .collections
            .list_collections(&CollectionQuery {
                limit: 500,
                ..CollectionQuery::default()
            })
            .await
            .unwrap()
            .items
    }

    /// The e-mails moto's SES recorded for `address`, simple and raw, as JSON.
    async fn mail_to(&self, address: &str) -> Vec<Value> {
        let data = self.account.data().await;
        let mut mails = Vec::new();
        for kind in ["Message", "RawMessage"] {
            let listed: Vec<Value> = match &data["ses"][kind] {
                Value::Object(by_id) => by_id.values().cloned().collect(),
                Value::Array(items) => items.clone(),
                _ => Vec::new(),
            };
            mails.extend(
                listed
                    .into_iter()
                    .filter(|m| m.to_string().contains(address)),
            );
        }
        mails
    }
}

/// An HTTP API request (payload 2.0) as API Gateway hands it to a function, through
/// `lambda_http`'s conversion into the function's router; answers the status and body.
async fn through_api_gateway(
    router: axum::Router,
    method: &str,
    path: &str,
    content_type: &str,
    body: Option<&[u8]>,
) -> (u16, String) {
    let mut request: Value = serde_json::from_str(&event_text("http-api-sign-post.json")).unwrap();
    request["rawPath"] = json!(path);
    request["rawQueryString"] = json!("");
    request["routeKey"] = json!("$default");
    request["requestContext"]["routeKey"] = json!("$default");
    request["requestContext"]["http"]["path"] = json!(path);
    request["requestContext"]["http"]["method"] = json!(method);
    request["headers"]["content-type"] = json!(content_type);
    request["headers"]["authorization"] = json!(format!("Bearer {TEST_API_KEY}"));
    match body {
        Some(bytes) => {
            request["body"] = json!(base64::engine::general_purpose::STANDARD.encode(bytes));
            request["isBase64Encoded"] = json!(true);
        }
        None => {
            request["body"] = Value::Null;
            request["isBase64Encoded"] = json!(false);
        }
    }
    let request = lambda_http::request::from_str(&request.to_string()).expect("an HTTP request");
    let (parts, body) = request.into_parts();
    let mut request = axum::extract::Request::from_parts(parts, axum::body::Body::new(body));
    // The HTTP functions' own layer would put API Gateway's source address here.
    request
        .extensions_mut()
        .insert(axum::extract::ConnectInfo(SocketAddr::from((
            [198, 51, 100, 23],
            0,
        ))));
    let app = tranche_http::with_health_and_fallback(router);
    let response = app.oneshot(request).await.expect("the router answers");
    let status = response.status().as_u16();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    (status, String::from_utf8_lossy(&bytes).into_owned())
}

fn failed_ids(response: &SqsBatchResponse) -> Vec<&str> {
    response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.as_str())
        .collect()
}

/// The object keys of the S3 event notifications among `messages`, as S3 wrote them.
fn announced_keys(messages: &[Message]) -> Vec<String> {
    messages
        .iter()
        .filter_map(|m| serde_json::from_str::<Value>(m.body()?).ok())
        .flat_map(|body| body["Records"].as_array().cloned().unwrap_or_default())
        .filter_map(|record| record["s3"]["object"]["key"].as_str().map(str::to_owned))
        .collect()
}

/// Creates creditor `acme` and the fixture plan through the plan-creation function, and signs
/// it through the mandate-signing function; answers the plan's id.
async fn given_a_signed_plan(deployment: &Deployment) -> PlanId {
    let operator =
        || tranche_plan_creation::router(deployment.state_of(tranche_plan_creation::WIRING));
    let signing =
        || tranche_mandate_signing::router(deployment.state_of(tranche_mandate_signing::WIRING));

    let creditor = serde_json::to_vec(&creditor_body()).unwrap();
    let (status, answer) = through_api_gateway(
        operator(),
        "PUT",
        "/v1/creditors/acme",
        "application/json",
        Some(&creditor),
    )
    .await;
    assert!((200..300).contains(&status), "{status} {answer}");
    let plan = serde_json::to_vec(&plan_body()).unwrap();
    let (status, answer) = through_api_gateway(
        operator(),
        "POST",
        "/v1/plans",
        "application/json",
        Some(&plan),
    )
    .await;
    assert_eq!(status, 201, "{answer}");
    let created: Value = serde_json::from_str(&answer).unwrap();
    let signing_path = created["signing_url"]
        .as_str()
        .unwrap()
        .strip_prefix(PUBLIC_URL)
        .expect("the link points at the public URL")
        .to_owned();

    let (status, page) = through_api_gateway(signing(), "GET", &signing_path, "", None).await;
    assert_eq!(status, 200, "{page}");
    let document =
        tranche_tests::app::input_value(&page, "document").expect("the page carries its hash");
    let form = reqwest::Client::new()
        .post("http://form.invalid/")
        .form(&valid_signature(&document))
        .build()
        .unwrap();
    let (status, page) = through_api_gateway(
        signing(),
        "POST",
        &signing_path,
        "application/x-www-form-urlencoded",
        form.body().unwrap().as_bytes(),
    )
    .await;
    assert_eq!(status, 200, "{page}");
    PlanId(created["id"].as_str().unwrap().to_owned())
}

#[tokio::test]
async fn a_signed_plan_is_collected_rejected_and_represented_through_sqs_and_s3_once_per_delivery()
{
    let Some(deployment) = Deployment::new("aws_end_to_end_lifecycle").await else {
        return;
    };
    let inbound_queue = deployment.announce_inbound_files().await;
    let batch_queue = deployment
        .account
        .ports
        .batch_queue
        .clone()
        .expect("a batch-request queue");
    let plan_id = given_a_signed_plan(&deployment).await;
    let schedule: EventBridgeEvent<Value> =
        serde_json::from_str(&event_text("eventbridge-daily.json")).unwrap();

    // The daily schedule fires three days before the first collection date (2027-02-01).
    deployment.set_today(day("2027-01-29"));
    let first_run = tranche_daily_scheduler::handle_event(
        &deployment.ports_of(tranche_daily_scheduler::WIRING),
        &deployment.links,
        &batch_queue,
        &schedule,
    )
    .await
    .expect("the daily job runs");

    assert_eq!(first_run.collections_created, 1);
    assert_eq!(first_run.batch_requests_sent, 1);
    assert!(first_run.batches_written.is_empty(), "{first_run:?}");

    // The batch request, through SQS, to the batch generator; delivered twice.
    let requests = deployment
        .receive(batch_queue.queue_url(), |m| !m.is_empty())
        .await;
    assert_eq!(
        requests.len(),
        1,
        "one request for one creditor, scheme and date"
    );
    assert_eq!(
        serde_json::from_str::<Value>(requests[0].body().unwrap()).unwrap(),
        json!({"creditor_id": "acme", "scheme": "CORE", "collection_date": "2027-02-01"})
    );
    let request_event = deployment
        .sqs_event(batch_queue.queue_url(), &requests)
        .await;

    let generated = tranche_batch_generator::handle_event(
        &deployment.ports_of(tranche_batch_generator::WIRING),
        &request_event,
    )
    .await;
    let generated_again = tranche_batch_generator::handle_event(
        &deployment.ports_of(tranche_batch_generator::WIRING),
        &request_event,
    )
    .await;
    deployment.delete(batch_queue.queue_url(), &requests).await;

    assert!(failed_ids(&generated).is_empty(), "{generated:?}");
    assert!(
        failed_ids(&generated_again).is_empty(),
        "{generated_again:?}"
    );
    let batches = deployment
        .ports
        .collections
        .list_batches(None, None, 500)
        .await
        .unwrap()
        .items;
    assert_eq!(
        batches.len(),
        1,
        "the repeated request wrote no second file"
    );
    let batch = &batches[0];
    assert_eq!(
        deployment.ports.files.list_files("batches/").await.unwrap(),
        std::slice::from_ref(&batch.file_key),
        "one pain.008 in S3"
    );
    let xml = deployment
        .ports
        .files
        .get_file(&batch.file_key)
        .await
        .unwrap()
        .expect("the batch file is in S3");
    validate_pain008(&xml, batch.version).expect("the pain.008 in S3 is valid");
    let collection = deployment.collections().await.remove(0);
    assert_eq!(collection.status, CollectionStatus::Batched);
    assert!(String::from_utf8_lossy(&xml).contains(&collection.end_to_end_id));

    // The same schedule event again (EventBridge delivers at least once): nothing new.
    let mails_before_repeat = deployment.mail_to(DEBTOR).await.len();
    let second_run = tranche_daily_scheduler::handle_event(
        &deployment.ports_of(tranche_daily_scheduler::WIRING),
        &deployment.links,
        &batch_queue,
        &schedule,
    )
    .await
    .expect("the daily job runs again");

    assert_eq!(second_run.collections_created, 0);
    assert_eq!(second_run.batch_requests_sent, 0);
    assert_eq!(second_run.notices_sent, 0);
    assert_eq!(deployment.collections().await.len(), 1);
    assert!(
        deployment
            .receive(batch_queue.queue_url(), |_| true)
            .await
            .is_empty(),
        "no second batch request"
    );
    assert_eq!(
        deployment.mail_to(DEBTOR).await.len(),
        mails_before_repeat,
        "no second e-mail"
    );

    // The bank rejects the collection: its pain.002 is dropped into the bucket.
    let bank_file = pain002_rejects(
        "PSR-E2E-1",
        &batch.message_id,
        &[Reported {
            end_to_end_id: collection.end_to_end_id.clone(),
            amount: collection.amount.to_string(),
            reason: "AM04".to_owned(),
            date: collection.collection_date,
            mandate_reference: collection.mandate_reference.clone(),
        }],
    );
    let key = "inbound/2027-02-02/pain.002 Rückläufer+acme.xml";
    deployment.set_today(day("2027-02-02"));
    deployment
        .ports
        .files
        .put_file(key, "application/xml", bank_file.as_bytes())
        .await
        .unwrap();

    let notifications = deployment
        .receive(&inbound_queue, |m| !announced_keys(m).is_empty())
        .await;
    let keys = announced_keys(&notifications);
    assert_eq!(
        keys.len(),
        1,
        "S3 announced the bank file, and not the batch file outside inbound/: {keys:?}"
    );
    assert_ne!(keys[0], key, "S3 wrote the key URL-encoded");
    let notification_event = deployment.sqs_event(&inbound_queue, &notifications).await;
    let mails_before = deployment.mail_to(DEBTOR).await.len();

    let processed = tranche_return_processor::handle_event(
        &deployment.ports_of(tranche_return_processor::WIRING),
        &deployment.links,
        &notification_event,
    )
    .await;

    assert!(failed_ids(&processed).is_empty(), "{processed:?}");
    let rejected = deployment
        .ports
        .collections
        .get_collection(&collection.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(rejected.status, CollectionStatus::Rejected);
    let reported = rejected.r_transaction.as_ref().expect("the reject");
    assert_eq!(reported.reason_code.as_deref(), Some("AM04"));
    assert_eq!(
        reported.source_file, key,
        "the file was read from its decoded key"
    );
    let plan = deployment
        .ports
        .plans
        .get_plan(&plan_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(plan.status, PlanStatus::Active);
    assert_eq!(
        plan.instalments[0].status,
        InstalmentStatus::Retrying,
        "insufficient funds: the instalment is presented again"
    );
    let tasks = deployment
        .ports
        .tasks
        .list_tasks(Some(TaskStatus::Open), None, 500)
        .await
        .unwrap()
        .items;
    assert!(tasks.is_empty(), "a soft failure needs nobody: {tasks:?}");
    let mails = deployment.mail_to(DEBTOR).await;
    assert_eq!(
        mails.len(),
        mails_before + 1,
        "the debtor is told of the failed collection once"
    );

    // The same notification delivered again: nothing changes, nobody is written to.
    let collections_before = deployment.collections().await;
    let processed_again = tranche_return_processor::handle_event(
        &deployment.ports_of(tranche_return_processor::WIRING),
        &deployment.links,
        &notification_event,
    )
    .await;
    deployment.delete(&inbound_queue, &notifications).await;

    assert!(
        failed_ids(&processed_again).is_empty(),
        "{processed_again:?}"
    );
    assert_eq!(deployment.collections().await, collections_before);
    assert_eq!(deployment.mail_to(DEBTOR).await.len(), mails.len());
    assert!(
        deployment
            .ports
            .tasks
            .list_tasks(None, None, 500)
            .await
            .unwrap()
            .items
            .is_empty()
    );

    // The dunning: the daily job presents the instalment again, as a new collection.
    let mut today = day("2027-02-03");
    let representation = loop {
        deployment.set_today(today);
        let report = tranche_daily_scheduler::handle_event(
            &deployment.ports_of(tranche_daily_scheduler::WIRING),
            &deployment.links,
            &batch_queue,
            &schedule,
        )
        .await
        .expect("the daily job runs");
        assert!(report.problems.is_empty(), "{today}: {:?}", report.problems);
        if let Some(again) = deployment
            .collections()
            .await
            .into_iter()
            .find(|c| c.instalment_seq == 1 && c.attempt == 2)
        {
            break again;
        }
        today = today.succ_opt().unwrap();
        assert!(
            today <= day("2027-03-01"),
            "the instalment was never presented again"
        );
    };
    assert_eq!(representation.status, CollectionStatus::Scheduled);
    assert_ne!(representation.end_to_end_id, collection.end_to_end_id);
    assert!(representation.collection_date >= day("2027-02-09"));
}

#[tokio::test]
async fn a_bank_file_deleted_before_its_notification_is_read_fails_alone_and_for_good() {
    let Some(deployment) = Deployment::new("aws_end_to_end_missing_file").await else {
        return;
    };
    let inbound_queue = deployment.announce_inbound_files().await;
    let key = "inbound/2027-02-02/camt.054 gelöscht.xml";
    deployment
        .ports
        .files
        .put_file(key, "application/xml", b"<Document/>")
        .await
        .unwrap();
    let notifications = deployment
        .receive(&inbound_queue, |m| !announced_keys(m).is_empty())
        .await;
    let files = &deployment.account.ports.files;
    files
        .client()
        .delete_object()
        .bucket(files.bucket())
        .key(key)
        .send()
        .await
        .unwrap();
    let event = deployment.sqs_event(&inbound_queue, &notifications).await;
    let announcing: Vec<&str> = notifications
        .iter()
        .filter(|m| !announced_keys(std::slice::from_ref(*m)).is_empty())
        .map(|m| m.message_id().unwrap())
        .collect();
    assert_eq!(announcing.len(), 1);
    assert!(
        notifications.len() > 1,
        "moto sent S3's test event before the notification: {notifications:?}"
    );

    let response = tranche_return_processor::handle_event(
        &deployment.ports_of(tranche_return_processor::WIRING),
        &deployment.links,
        &event,
    )
    .await;

    assert_eq!(
        failed_ids(&response),
        announcing,
        "only the missing file's message fails; S3's test event is acknowledged"
    );
    assert!(
        !tranche_return_processor::handle_message(
            &deployment.ports,
            &deployment.links,
            notifications
                .iter()
                .find(|m| m.message_id() == Some(announcing[0]))
                .and_then(|m| m.body())
                .unwrap(),
        )
        .await
        .unwrap_err()
        .is_retryable(),
        "a file that is gone does not come back: the message goes to the dead-letter queue"
    );
}
