//! The Lambda handlers in-process, fed the event JSON AWS sends them (fixtures in
//! `tests/fixtures/events/`, modelled on `aws_lambda_events`' own), on the embedded adapters: a
//! host on a temporary data folder sets the scene over HTTP, and the handlers then run on ports
//! opened on the same folder, as each Lambda runs on the same tables.

use std::path::Path;
use std::sync::{Arc, Mutex};

use aws_lambda_events::event::apigw::ApiGatewayV2CustomAuthorizerV2Request;
use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use base64::Engine;
use chrono::NaiveDate;
use reqwest::Method;
use serde_json::{Value, json};
use tower::ServiceExt;
use tranche_domain::collection::BatchRequest;
use tranche_domain::daily::BatchRequests;
use tranche_domain::error::StoreError;
use tranche_domain::ports::{FixedDayClock, Ports};
use tranche_domain::signing::Links;
use tranche_http::ApiState;
use tranche_local::host;
use tranche_tests::app::{TEST_API_KEY, TestApp, creditor_body, plan_body, valid_signature};
use tranche_tests::bank_files::{Reported, camt054_returns, pain002_rejects};

fn day(text: &str) -> NaiveDate {
    text.parse().expect("a date")
}

fn event_text(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/events")
        .join(name);
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("fixture {} cannot be read: {e}", path.display()))
}

fn event<T: serde::de::DeserializeOwned>(name: &str) -> T {
    serde_json::from_str(&event_text(name))
        .unwrap_or_else(|e| panic!("fixture {name} is not the event it claims to be: {e}"))
}

/// The ports a Lambda would have on the host's data, its clock pinned to `today`.
fn ports_on(app: &TestApp, today: NaiveDate) -> Ports {
    host::open_ports(&app.data, Arc::new(FixedDayClock(today))).expect("the data opens")
}

fn links(app: &TestApp) -> Links {
    Links {
        public_url: app.base_url.clone(),
        mail_from: host::DEFAULT_MAIL_FROM.to_owned(),
    }
}

fn failed_ids(response: &SqsBatchResponse) -> Vec<&str> {
    response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.as_str())
        .collect()
}

/// Whether `written` holds every value of `original` at the same place (it may add fields,
/// such as the `null`s of optional ones the fixture leaves out).
fn holds(written: &Value, original: &Value, at: &str) {
    match (written, original) {
        (Value::Object(written), Value::Object(original)) => {
            for (field, value) in original {
                let place = format!("{at}.{field}");
                holds(written.get(field).unwrap_or(&Value::Null), value, &place);
            }
        }
        (Value::Array(written), Value::Array(original)) => {
            assert_eq!(written.len(), original.len(), "{at}");
            for (index, (w, o)) in written.iter().zip(original).enumerate() {
                holds(w, o, &format!("{at}[{index}]"));
            }
        }
        _ => assert_eq!(written, original, "{at}"),
    }
}

#[test]
fn every_event_fixture_reads_as_its_event_type_and_writes_back_the_same_json() {
    fn round_trip<T: serde::de::DeserializeOwned + serde::Serialize>(name: &str) {
        let original: Value = serde_json::from_str(&event_text(name)).unwrap();
        let parsed: T = event(name);
        holds(&serde_json::to_value(&parsed).unwrap(), &original, name);
    }
    round_trip::<SqsEvent>("sqs-batch-requests.json");
    round_trip::<SqsEvent>("sqs-inbound-files.json");
    round_trip::<EventBridgeEvent<Value>>("eventbridge-daily.json");
    round_trip::<ApiGatewayV2CustomAuthorizerV2Request>("http-api-authorizer.json");
}

/// The batch-request queue as the daily job sees it, in memory: what was sent, in order.
#[derive(Default)]
struct SentRequests(Mutex<Vec<BatchRequest>>);

#[async_trait::async_trait]
impl BatchRequests for SentRequests {
    async fn request_batch(&self, request: &BatchRequest) -> Result<(), StoreError> {
        self.0.lock().unwrap().push(request.clone());
        Ok(())
    }
}

impl SentRequests {
    /// What the queue would deliver to the batch generator: one SQS message per request, in a
    /// batch event shaped like the fixture's.
    fn as_sqs_event(&self) -> SqsEvent {
        let mut delivered: SqsEvent = event("sqs-batch-requests.json");
        let template = delivered.records[0].clone();
        delivered.records = self
            .0
            .lock()
            .unwrap()
            .iter()
            .enumerate()
            .map(|(n, request)| {
                let mut message = template.clone();
                message.message_id = Some(format!("daily-{n}"));
                message.body = Some(serde_json::to_string(request).unwrap());
                message
            })
            .collect();
        delivered
    }
}

#[tokio::test]
async fn the_daily_schedule_event_asks_the_batch_generator_for_the_files_once_per_day() {
    let app = TestApp::spawn().await;
    app.given_creditor_acme().await;
    app.given_signed_plan(&plan_body()).await;
    let ports = ports_on(&app, day("2027-01-29"));
    let schedule: EventBridgeEvent<Value> = event("eventbridge-daily.json");
    let queue = SentRequests::default();

    let first = tranche_daily_scheduler::handle_event(&ports, &links(&app), &queue, &schedule)
        .await
        .expect("the daily job runs");

    assert_eq!(first.day, Some(day("2027-01-29")));
    assert_eq!(first.collections_created, 1);
    assert_eq!(first.batch_requests_sent, 1);
    assert!(
        first.batches_written.is_empty(),
        "the job wrote no file itself"
    );
    assert_eq!(
        serde_json::to_value(&queue.0.lock().unwrap()[0]).unwrap(),
        json!({"creditor_id": "acme", "scheme": "CORE", "collection_date": "2027-02-01"})
    );

    let generated = tranche_batch_generator::handle_event(&ports, &queue.as_sqs_event()).await;

    assert!(generated.batch_item_failures.is_empty());
    assert_eq!(app.all_items("/v1/batches").await.len(), 1);
    assert_eq!(
        app.all_items("/v1/collections?status=batched").await.len(),
        1
    );

    let again = tranche_daily_scheduler::handle_event(&ports, &links(&app), &queue, &schedule)
        .await
        .expect("the daily job runs again");

    assert_eq!(again.collections_created, 0);
    assert_eq!(
        again.batch_requests_sent, 0,
        "nothing waits for a file any more"
    );
    assert_eq!(app.all_items("/v1/collections").await.len(), 1);
}

/// A signed plan whose first collection (due 2027-02-01) the daily job of 29 January could not
/// put in a file, because the creditor's name has no SEPA character.
async fn collection_waiting_for_its_file() -> TestApp {
    let app = TestApp::spawn().await;
    app.given_creditor_acme().await;
    app.given_signed_plan(&plan_body()).await;
    let mut unusable = creditor_body();
    unusable["name"] = json!("###");
    app.put_creditor("acme", &unusable).await;
    let refused = app.daily(day("2027-01-29")).await;
    assert!(refused.batches_written.is_empty());
    let scheduled = app.all_items("/v1/collections?status=scheduled").await;
    assert_eq!(scheduled.len(), 1);
    assert_eq!(scheduled[0]["collection_date"], "2027-02-01");
    app
}

#[tokio::test]
async fn a_batch_request_writes_the_file_and_only_the_unreadable_and_unknown_ones_fail() {
    let app = collection_waiting_for_its_file().await;
    app.given_creditor_acme().await;
    let ports = ports_on(&app, day("2027-01-29"));
    let requests: SqsEvent = event("sqs-batch-requests.json");

    let response = tranche_batch_generator::handle_event(&ports, &requests).await;

    assert_eq!(
        failed_ids(&response),
        [
            "9f1c2d3e-0000-4000-8000-000000000002",
            "9f1c2d3e-0000-4000-8000-000000000003"
        ],
        "the malformed body and the unknown creditor are answered as failed"
    );
    assert_eq!(app.all_items("/v1/batches").await.len(), 1);
    assert_eq!(
        app.all_items("/v1/collections?status=batched").await.len(),
        1
    );

    let redelivered = tranche_batch_generator::handle_event(&ports, &requests).await;

    assert_eq!(failed_ids(&redelivered).len(), 2);
    assert_eq!(
        app.all_items("/v1/batches").await.len(),
        1,
        "a repeated request writes no second file"
    );
}

#[tokio::test]
async fn a_batch_request_the_creditor_settings_refuse_is_handled_by_one_open_task() {
    let app = collection_waiting_for_its_file().await;
    let ports = ports_on(&app, day("2027-01-29"));
    let requests: SqsEvent = event("sqs-batch-requests.json");

    let response = tranche_batch_generator::handle_event(&ports, &requests).await;

    assert!(
        !failed_ids(&response).contains(&"9f1c2d3e-0000-4000-8000-000000000001"),
        "a retry would be refused the same way: the message is done once the task is open"
    );
    assert!(app.all_items("/v1/batches").await.is_empty());
    let tasks = app.all_items("/v1/tasks?status=open").await;
    assert_eq!(tasks.len(), 1, "the daily job's task, not a second one");
    assert_eq!(tasks[0]["kind"], "invalid_creditor_settings");
}

/// A collected plan and the bank's reports on it, stored where the fixture's S3 notifications
/// say they were dropped: a pain.002 rejecting the collection for insufficient funds, and a
/// camt.054 reporting the same return again.
async fn bank_files_dropped() -> (TestApp, Value) {
    let app = TestApp::spawn().await;
    app.given_creditor_acme().await;
    app.given_signed_plan(&plan_body()).await;
    let report = app.daily(day("2027-01-29")).await;
    let batch: Value = app
        .call(
            Method::GET,
            &format!("/v1/batches/{}", report.batches_written[0]),
            None,
        )
        .await
        .json()
        .await
        .unwrap();
    let collection = app.all_items("/v1/collections").await.remove(0);
    let reported = Reported {
        end_to_end_id: collection["end_to_end_id"].as_str().unwrap().to_owned(),
        amount: collection["amount"].as_str().unwrap().to_owned(),
        reason: "AM04".to_owned(),
        date: day("2027-02-01"),
        mandate_reference: collection["mandate_reference"].as_str().unwrap().to_owned(),
    };
    let ports = ports_on(&app, day("2027-02-02"));
    let pain002 = pain002_rejects(
        "PSR-1",
        batch["message_id"].as_str().unwrap(),
        std::slice::from_ref(&reported),
    );
    let camt054 = camt054_returns("NTF-1", &[reported], day("2027-02-02"));
    ports
        .files
        .put_file(
            "inbound/2027-03-02/pain.002 acme rejects.xml",
            "application/xml",
            pain002.as_bytes(),
        )
        .await
        .unwrap();
    ports
        .files
        .put_file(
            "inbound/2027-03-02/camt.054+acme.xml",
            "application/xml",
            camt054.as_bytes(),
        )
        .await
        .unwrap();
    (app, collection)
}

#[tokio::test]
async fn announced_bank_files_are_read_from_their_decoded_keys_and_applied_once() {
    let (app, collection) = bank_files_dropped().await;
    let ports = ports_on(&app, day("2027-02-02"));
    let notifications: SqsEvent = event("sqs-inbound-files.json");

    let response =
        tranche_return_processor::handle_event(&ports, &links(&app), &notifications).await;

    assert!(
        response.batch_item_failures.is_empty(),
        "{:?}",
        response.batch_item_failures
    );
    let after: Vec<Value> = app.all_items("/v1/collections").await;
    let rejected = after.iter().find(|c| c["id"] == collection["id"]).unwrap();
    assert_eq!(rejected["status"], "rejected");
    let tasks_before = app.all_items("/v1/tasks").await.len();
    let collections_before = app.all_items("/v1/collections").await;
    assert_eq!(
        ports.files.list_files("inbound/").await.unwrap(),
        [
            "inbound/2027-03-02/camt.054+acme.xml",
            "inbound/2027-03-02/pain.002 acme rejects.xml"
        ],
        "a file read from the bucket is not stored again (in AWS that copy would be announced)"
    );

    let redelivered =
        tranche_return_processor::handle_event(&ports, &links(&app), &notifications).await;

    assert!(redelivered.batch_item_failures.is_empty());
    assert_eq!(app.all_items("/v1/tasks").await.len(), tasks_before);
    assert_eq!(app.all_items("/v1/collections").await, collections_before);
}

#[tokio::test]
async fn a_notification_of_a_file_that_is_gone_fails_alone_and_the_test_event_is_acknowledged() {
    let app = TestApp::spawn().await;
    let ports = ports_on(&app, day("2027-02-02"));
    let notifications: SqsEvent = event("sqs-inbound-files.json");

    let response =
        tranche_return_processor::handle_event(&ports, &links(&app), &notifications).await;

    assert_eq!(
        failed_ids(&response),
        [
            "5d6b0a8e-7e1a-4d8f-9c55-3a2a8c1f0002",
            "5d6b0a8e-7e1a-4d8f-9c55-3a2a8c1f0003"
        ],
        "both files are missing (permanent: each fails alone); S3's test event is not a failure"
    );
}

#[tokio::test]
async fn the_authorizer_lets_a_registered_key_through_and_nothing_else() {
    let app = TestApp::spawn().await;
    let ports = ports_on(&app, day("2027-01-04"));
    let registered: ApiGatewayV2CustomAuthorizerV2Request = event("http-api-authorizer.json");
    let mut unknown = registered.clone();
    unknown.headers.insert(
        "authorization",
        "Bearer tk_not_a_key_anyone_registered".parse().unwrap(),
    );
    let mut other_scheme = registered.clone();
    other_scheme.headers.insert(
        "authorization",
        format!("Basic {TEST_API_KEY}").parse().unwrap(),
    );
    let mut without = registered.clone();
    without.headers.remove("authorization");

    let decide = |request| {
        let ports = ports.clone();
        async move {
            tranche_authorizer::authorize(&ports, &request)
                .await
                .expect("the store answers")
        }
    };

    assert!(decide(registered.clone()).await.is_authorized);
    assert!(!decide(unknown).await.is_authorized);
    assert!(!decide(other_scheme).await.is_authorized);
    assert!(!decide(without).await.is_authorized);
    assert_eq!(
        serde_json::to_value(decide(registered).await).unwrap(),
        json!({"isAuthorized": true, "context": {}})
    );
}

/// Sends an HTTP API request (payload 2.0, as API Gateway hands it to the Lambda) through
/// `lambda_http`'s conversion into the router the HTTP Lambda serves.
async fn through_lambda_http(router: axum::Router, request_json: &str) -> (u16, String) {
    let request = lambda_http::request::from_str(request_json).expect("an HTTP API request");
    let (parts, body) = request.into_parts();
    let request = axum::extract::Request::from_parts(parts, axum::body::Body::new(body));
    let app = tranche_lambda::with_source_address(tranche_http::with_health_and_fallback(router));
    let response = app.oneshot(request).await.expect("the router answers");
    let status = response.status().as_u16();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    (status, String::from_utf8_lossy(&bytes).into_owned())
}

#[tokio::test]
async fn a_signature_through_api_gateway_records_the_source_address_api_gateway_saw() {
    let app = TestApp::spawn().await;
    app.given_creditor_acme().await;
    let link = app.given_plan(&plan_body()).await;
    let document = app
        .open_page(&link.url, None)
        .await
        .input_value("document")
        .expect("the page carries its hash");
    let token = link.url.rsplit('/').next().unwrap();
    let form = reqwest::Client::new()
        .post("http://form.invalid/")
        .form(&valid_signature(&document))
        .build()
        .unwrap();
    // API Gateway hands a form body to the Lambda base64-encoded (`isBase64Encoded: true`).
    let body =
        base64::engine::general_purpose::STANDARD.encode(form.body().unwrap().as_bytes().unwrap());
    let request_json = event_text("http-api-sign-post.json")
        .replace("/sign/TOKEN", &format!("/sign/{token}"))
        .replace("\"BODY\"", &serde_json::to_string(&body).unwrap());
    let state = ApiState {
        ports: ports_on(&app, app.today),
        public_url: app.base_url.clone(),
        mail_from: host::DEFAULT_MAIL_FROM.to_owned(),
    };

    let (status, html) =
        through_lambda_http(tranche_mandate_signing::router(state), &request_json).await;

    assert_eq!(status, 200, "{html}");
    let mandate = app.mandate(&link.mandate_id).await;
    assert_eq!(
        mandate["signature"]["ip_address"], "198.51.100.23",
        "the request context's sourceIp, not the client-written first X-Forwarded-For entry"
    );
}

#[tokio::test]
async fn an_operator_call_through_api_gateway_needs_the_key_and_unknown_routes_are_problems() {
    let app = TestApp::spawn().await;
    let state = ApiState {
        ports: ports_on(&app, app.today),
        public_url: app.base_url.clone(),
        mail_from: host::DEFAULT_MAIL_FROM.to_owned(),
    };
    let call = |method: &str, path: &str, key: Option<&str>| {
        let mut request: Value = serde_json::from_str(&event_text("http-api-sign-post.json"))
            .expect("the fixture is JSON");
        request["rawPath"] = json!(path);
        request["requestContext"]["http"]["path"] = json!(path);
        request["requestContext"]["http"]["method"] = json!(method);
        request["rawQueryString"] = json!("");
        request["body"] = Value::Null;
        match key {
            Some(key) => request["headers"]["authorization"] = json!(format!("Bearer {key}")),
            None => {
                request["headers"]
                    .as_object_mut()
                    .unwrap()
                    .remove("authorization");
            }
        }
        request.to_string()
    };

    let (without_key, _) = through_lambda_http(
        tranche_plan_creation::router(state.clone()),
        &call("GET", "/v1/plans", None),
    )
    .await;
    let (with_key, plans) = through_lambda_http(
        tranche_plan_creation::router(state.clone()),
        &call("GET", "/v1/plans", Some(TEST_API_KEY)),
    )
    .await;
    let (health, _) = through_lambda_http(
        tranche_plan_creation::router(state.clone()),
        &call("GET", "/healthz", None),
    )
    .await;
    let (unknown, problem) = through_lambda_http(
        tranche_plan_creation::router(state),
        &call("GET", "/v2/nothing", Some(TEST_API_KEY)),
    )
    .await;

    assert_eq!(without_key, 401);
    assert_eq!(with_key, 200);
    assert_eq!(
        serde_json::from_str::<Value>(&plans).unwrap()["items"],
        json!([])
    );
    assert_eq!(health, 200);
    assert_eq!(unknown, 404);
    assert!(problem.contains("/v1"), "{problem}");
}
