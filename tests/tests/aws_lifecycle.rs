//! A plan's whole life on the AWS adapters, against the moto server that `scripts/test.sh`
//! starts: created and signed through the real HTTP routers on DynamoDB, S3 and SES, then the
//! daily job run day by day (pre-notifications, collections, batch files, settlement) until the
//! plan completes. It checks the outcome as the embedded store's tests do, that running a day
//! that did something a second time changes nothing, and measures the DynamoDB requests one
//! collected instalment costs.

use std::sync::{Arc, Mutex};

use chrono::{DateTime, NaiveDate, Utc};
use serde_json::Value;
use tranche_domain::batches::BatchOutcome;
use tranche_domain::collection::{BatchRequest, CollectionStatus};
use tranche_domain::daily::run_daily;
use tranche_domain::plan::{PlanId, PlanStatus};
use tranche_domain::ports::{Clock, CollectionQuery};
use tranche_domain::secrets::sha256_hex;
use tranche_domain::signing::Links;
use tranche_http::ApiState;
use tranche_tests::app::{TEST_API_KEY, creditor_body, plan_body, test_today, valid_signature};
use tranche_tests::moto::{MotoAccount, SENDER};

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

#[tokio::test]
async fn a_plan_lives_its_whole_life_on_aws_and_each_instalment_costs_few_dynamodb_writes() {
    let Some(account) = MotoAccount::new("a_plan_lives_its_whole_life_on_aws").await else {
        return;
    };
    let clock = Arc::new(MovableClock(Mutex::new(test_today())));
    let ports = account.ports.ports_with_clock(
        Arc::new(tranche_mandate_signing::document::PdfRenderer),
        clock.clone(),
    );
    let store = account.ports.store.clone();
    ports
        .api_keys
        .add_api_key_hash(&sha256_hex(TEST_API_KEY))
        .await
        .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let links = Links {
        public_url: base.clone(),
        mail_from: SENDER.to_owned(),
    };
    let router = tranche_local::host::app(ApiState {
        ports: ports.clone(),
        public_url: base.clone(),
        mail_from: SENDER.to_owned(),
    });
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    let http = reqwest::Client::new();

    // Arrange: a creditor and a plan, signed by the debtor on the signing page.
    let response = http
        .put(format!("{base}/v1/creditors/acme"))
        .bearer_auth(TEST_API_KEY)
        .json(&creditor_body())
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success(), "{}", response.status());
    let at_creation = store.request_counts().snapshot();
    let response = http
        .post(format!("{base}/v1/plans"))
        .bearer_auth(TEST_API_KEY)
        .json(&plan_body())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), reqwest::StatusCode::CREATED);
    let created: Value = response.json().await.unwrap();
    let plan_id = PlanId(created["id"].as_str().unwrap().to_owned());
    let signing_url = created["signing_url"].as_str().unwrap().to_owned();
    let page = http
        .get(&signing_url)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let document = tranche_tests::app::input_value(&page, "document")
        .expect("the signing page carries its hash");
    let signed = http
        .post(&signing_url)
        .form(&valid_signature(&document))
        .send()
        .await
        .unwrap();
    assert_eq!(signed.status(), reqwest::StatusCode::OK);
    let instalments = ports
        .plans
        .get_plan(&plan_id)
        .await
        .unwrap()
        .unwrap()
        .instalments
        .len();

    // Act: the daily job every day until the last instalment has settled.
    let before = store.request_counts().snapshot();
    let signing = before.since(&at_creation);
    println!(
        "figure: DynamoDB requests to create a plan and sign its mandate (the API call, the \
         signing page shown and posted): {} write requests ({} items), {} read requests; billed \
         on demand: {} write units for the tables, {} for their index entries, {} read units",
        signing.writes(),
        signing.items_written,
        signing.reads(),
        signing.write_units,
        signing.index_write_units,
        signing.read_units()
    );
    let mut day = test_today();
    let last_day: NaiveDate = "2027-07-15".parse().unwrap();
    let mut batches = Vec::new();
    let mut runs = 0u32;
    while day <= last_day {
        *clock.0.lock().unwrap() = day;
        let report = run_daily(&ports, &links).await.unwrap();
        runs += 1;
        assert!(report.problems.is_empty(), "{day}: {:?}", report.problems);
        batches.extend(report.batches_written.clone());
        let acted = report.notices_sent
            + report.collections_created
            + report.collections_settled
            + report.plans_completed
            + report.batches_written.len() as u64
            > 0;
        if !acted {
            day = day.succ_opt().unwrap();
            continue;
        }
        // The same day again, as a duplicate trigger would run it: it must change nothing.
        let again = run_daily(&ports, &links).await.unwrap();
        runs += 1;
        assert_eq!(
            again.collections_created, 0,
            "{day}: a second run collects nothing"
        );
        assert!(
            again.batches_written.is_empty(),
            "{day}: a second run writes no file"
        );
        assert_eq!(again.notices_sent, 0, "{day}: a second run notifies nobody");
        day = day.succ_opt().unwrap();
    }
    let during = store.request_counts().snapshot().since(&before);
    // A day with nothing to do: what every daily run costs whatever the number of plans.
    let idle_start = store.request_counts().snapshot();
    *clock.0.lock().unwrap() = last_day.succ_opt().unwrap();
    let idle = run_daily(&ports, &links).await.unwrap();
    assert_eq!(idle.collections_created + idle.notices_sent, 0);
    let idle = store.request_counts().snapshot().since(&idle_start);
    println!(
        "figure: DynamoDB requests of a daily run with nothing to do: {} read requests, {} read \
         units, {} write requests",
        idle.reads(),
        idle.read_units(),
        idle.writes()
    );

    // Assert: every instalment collected once and settled, the plan complete, one file each.
    let plan = ports.plans.get_plan(&plan_id).await.unwrap().unwrap();
    assert_eq!(plan.status, PlanStatus::Completed);
    let collections = ports
        .collections
        .list_collections(&CollectionQuery {
            creditor_id: Some(plan.creditor_id.clone()),
            limit: 500,
            ..CollectionQuery::default()
        })
        .await
        .unwrap()
        .items;
    assert_eq!(collections.len(), instalments);
    assert!(
        collections
            .iter()
            .all(|c| c.status == CollectionStatus::Settled)
    );
    assert_eq!(
        batches.len(),
        instalments,
        "one batch file per collection date"
    );
    for batch in &batches {
        let batch = ports.collections.get_batch(batch).await.unwrap().unwrap();
        let xml = ports
            .files
            .get_file(&batch.file_key)
            .await
            .unwrap()
            .unwrap();
        assert!(String::from_utf8(xml).unwrap().contains(&batch.message_id));
    }

    // A batch request delivered again by SQS (at least once) writes no second file.
    let queue = account.ports.batch_queue.clone().expect("a queue");
    let first = ports
        .collections
        .get_batch(&batches[0])
        .await
        .unwrap()
        .unwrap();
    let request = BatchRequest {
        creditor_id: first.creditor_id.clone(),
        scheme: first.scheme,
        collection_date: first.collection_date,
    };
    queue.send(&request).await.unwrap();
    queue.send(&request).await.unwrap();
    let mut delivered = Vec::new();
    while delivered.len() < 2 {
        let received = queue.receive(10, 1).await.unwrap();
        assert!(!received.is_empty(), "both deliveries arrive");
        delivered.extend(received);
    }
    for message in &delivered {
        let body = serde_json::to_string(&message.request).unwrap();
        let outcome = tranche_batch_generator::handle(&ports, &body)
            .await
            .unwrap();
        assert_eq!(
            outcome,
            BatchOutcome::Written(Vec::new()),
            "nothing is batched twice"
        );
        queue.delete(&message.receipt_handle).await.unwrap();
    }
    let all_batches = ports
        .collections
        .list_batches(None, None, 500)
        .await
        .unwrap();
    assert_eq!(all_batches.items.len(), instalments);

    let per_instalment = during.writes() as f64 / instalments as f64;
    println!(
        "figure: DynamoDB requests over a plan's life after signing ({instalments} instalments, \
         {} days, the days with work run twice: {runs} runs): {} write requests ({} items), {} read requests; \
         {per_instalment:.2} write requests per collected instalment; billed on demand: {} write \
         units for the tables, {} for their index entries, {} read units; by kind: {:?}",
        (last_day - test_today()).num_days() + 1,
        during.writes(),
        during.items_written,
        during.reads(),
        during.write_units,
        during.index_write_units,
        during.read_units(),
        during
    );

    // What the plan's life leaves stored, which on-demand storage and backups are billed on.
    let sizes = store.stored_size().await.unwrap();
    let tables: Vec<String> = sizes
        .iter()
        .filter(|size| size.items > 0)
        .map(|size| {
            format!(
                "{} {} items {} B + {} index entries {} B",
                size.table, size.items, size.item_bytes, size.index_entries, size.index_bytes
            )
        })
        .collect();
    let total: u64 = sizes.iter().map(|s| s.item_bytes + s.index_bytes).sum();
    assert!(
        sizes
            .iter()
            .any(|s| s.table == store.tables().plans && s.items == 1),
        "the plan is stored: {sizes:?}"
    );
    println!(
        "figure: DynamoDB storage after the plan's life (with its creditor and API key): {total} \
         bytes billed; {}",
        tables.join("; ")
    );
    assert!(
        per_instalment <= 5.0,
        "at most 5 DynamoDB write requests per collected instalment: {per_instalment:.2}"
    );
}
