//! The batch generator writes a file in steps, each one commit the store can take: crashes
//! injected between any two of them (before a step, or after it with the answer lost), and two
//! runs at once, leave every collection in exactly one complete file once the request is run
//! again.

use std::path::Path;
use std::sync::Arc;

use chrono::NaiveDate;
use reqwest::Method;
use tranche_domain::batches::{BatchOutcome, generate_batches};
use tranche_domain::collection::{BatchRequest, Collection};
use tranche_domain::creditor::CreditorId;
use tranche_domain::plan::Scheme;
use tranche_domain::ports::Ports;
use tranche_local::host;
use tranche_tests::app::TestApp;
use tranche_tests::batch_files::{
    assert_each_collection_in_one_complete_file, insert_collections, scheduled_collections,
};
use tranche_tests::faults::{Crash, Steps};
use tranche_tests::fixtures::creditor;

/// A Monday, a TARGET day.
fn collection_date() -> NaiveDate {
    "2027-03-01".parse().expect("a date")
}

/// Collections per test, and the creditor's most per file: three files, the last one short.
const COLLECTIONS: usize = 250;
const MAX_PER_FILE: u32 = 100;
/// Writes one commit takes in these tests, as DynamoDB takes 100 items: a file of 100
/// collections needs ten commits.
const WRITES_PER_COMMIT: usize = 12;

/// `ports` with commits of at most [`WRITES_PER_COMMIT`] writes, failing step `steps.fail_at`.
fn faulty(ports: &Ports, steps: &Arc<Steps>) -> Ports {
    tranche_tests::faults::faulty(ports, steps, Some(WRITES_PER_COMMIT))
}

/// A fresh data folder with the creditor `acme` (at most [`MAX_PER_FILE`] per file) and
/// [`COLLECTIONS`] scheduled collections.
async fn given_scheduled(data: &Path) -> (Ports, Vec<Collection>) {
    let ports = host::open_ports(data, host::clock_for(Some("2027-02-26".parse().unwrap())))
        .expect("the data opens");
    let acme = CreditorId::parse("acme").unwrap();
    let mut settings = creditor(&acme);
    settings.max_transactions_per_file = MAX_PER_FILE;
    ports.creditors.put_creditor(&settings).await.unwrap();
    let collections = scheduled_collections(&acme, collection_date(), COLLECTIONS);
    insert_collections(&ports, &collections).await;
    (ports, collections)
}

fn request() -> BatchRequest {
    BatchRequest {
        creditor_id: CreditorId::parse("acme").unwrap(),
        scheme: Scheme::Core,
        collection_date: collection_date(),
    }
}

fn written(outcome: BatchOutcome) -> Vec<String> {
    match outcome {
        BatchOutcome::Written(ids) => ids,
        BatchOutcome::Refused(problem) => panic!("refused: {problem}"),
    }
}

/// How many steps a run without crashes takes.
async fn steps_of_a_whole_run() -> u32 {
    let folder = tempfile::tempdir().unwrap();
    let (ports, collections) = given_scheduled(folder.path()).await;
    let steps = Steps::new(0, Crash::Before);

    let ids = written(
        generate_batches(&faulty(&ports, &steps), &request())
            .await
            .unwrap(),
    );

    assert_eq!(ids.len(), 3, "{ids:?}");
    let acme = CreditorId::parse("acme").unwrap();
    assert_each_collection_in_one_complete_file(
        &ports,
        &acme,
        collection_date(),
        &collections,
        u64::from(MAX_PER_FILE),
    )
    .await;
    steps.taken()
}

/// Crashes the first run at every step in turn, then runs the request again (bounded, without
/// crashes) and once more, and checks the files each time.
async fn crash_at_every_step(crash: Crash) {
    let total = steps_of_a_whole_run().await;
    // 100 collections at 11 a commit: 10 commits, a file and its completion, per full file.
    assert!(total >= 28, "a whole run takes {total} steps");
    let acme = CreditorId::parse("acme").unwrap();

    for fail_at in 1..=total {
        let folder = tempfile::tempdir().unwrap();
        let (ports, collections) = given_scheduled(folder.path()).await;

        let first =
            generate_batches(&faulty(&ports, &Steps::new(fail_at, crash)), &request()).await;
        let rerun = generate_batches(&faulty(&ports, &Steps::new(0, crash)), &request()).await;
        let again = generate_batches(&faulty(&ports, &Steps::new(0, crash)), &request()).await;

        assert!(
            first.is_err(),
            "{crash:?} step {fail_at}: the crash surfaces"
        );
        written(rerun.unwrap());
        assert_eq!(
            written(again.unwrap()),
            Vec::<String>::new(),
            "{crash:?} step {fail_at}: a third run writes nothing"
        );
        let batches = assert_each_collection_in_one_complete_file(
            &ports,
            &acme,
            collection_date(),
            &collections,
            u64::from(MAX_PER_FILE),
        )
        .await;
        assert!(batches.len() >= 3, "{crash:?} step {fail_at}");
    }
}

#[tokio::test]
async fn a_crash_before_any_step_of_a_batch_is_finished_by_the_rerun_with_each_collection_in_one_file()
 {
    crash_at_every_step(Crash::Before).await;
}

#[tokio::test]
async fn a_crash_after_any_step_with_its_answer_lost_is_finished_by_the_rerun_with_each_collection_in_one_file()
 {
    crash_at_every_step(Crash::After).await;
}

#[tokio::test]
async fn crashes_in_a_row_at_every_few_steps_still_end_with_each_collection_in_one_file() {
    let folder = tempfile::tempdir().unwrap();
    let (ports, collections) = given_scheduled(folder.path()).await;

    // Each run dies at its third step, until a run has nothing left to do.
    let mut runs = 0;
    loop {
        runs += 1;
        assert!(runs < 100, "the runs make progress");
        let crash = if runs % 2 == 0 {
            Crash::After
        } else {
            Crash::Before
        };
        if generate_batches(&faulty(&ports, &Steps::new(3, crash)), &request())
            .await
            .is_ok()
        {
            break;
        }
    }

    assert!(runs > 5, "{runs} runs");
    let acme = CreditorId::parse("acme").unwrap();
    assert_each_collection_in_one_complete_file(
        &ports,
        &acme,
        collection_date(),
        &collections,
        u64::from(MAX_PER_FILE),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_runs_at_once_put_each_collection_in_one_file() {
    for _ in 0..5 {
        let folder = tempfile::tempdir().unwrap();
        let (ports, collections) = given_scheduled(folder.path()).await;
        let other = host::open_ports(folder.path(), host::clock_for(None)).unwrap();
        let (first, second) = (
            faulty(&ports, &Steps::new(0, Crash::Before)),
            faulty(&other, &Steps::new(0, Crash::Before)),
        );

        let request = request();

        let (a, b) = tokio::join!(
            generate_batches(&first, &request),
            generate_batches(&second, &request)
        );

        let (a, b) = (written(a.unwrap()), written(b.unwrap()));
        assert!(!a.is_empty() || !b.is_empty());
        let acme = CreditorId::parse("acme").unwrap();
        assert_each_collection_in_one_complete_file(
            &ports,
            &acme,
            collection_date(),
            &collections,
            u64::from(MAX_PER_FILE),
        )
        .await;
    }
}

#[tokio::test]
async fn an_unfinished_batch_is_listed_with_its_status_and_its_file_is_refused_until_the_daily_job_finishes_it()
 {
    let app = TestApp::spawn().await;
    app.given_creditor_acme().await;
    let ports = host::open_ports(&app.data, host::clock_for(Some(app.today))).unwrap();
    let acme = CreditorId::parse("acme").unwrap();
    let mut settings = ports.creditors.get_creditor(&acme).await.unwrap().unwrap();
    settings.max_transactions_per_file = MAX_PER_FILE;
    ports.creditors.put_creditor(&settings).await.unwrap();
    let collections = scheduled_collections(&acme, collection_date(), COLLECTIONS);
    insert_collections(&ports, &collections).await;

    // The run dies with the first file's record open and 44 collections moved into it.
    let crashed =
        generate_batches(&faulty(&ports, &Steps::new(5, Crash::Before)), &request()).await;
    let listed = app.all_items("/v1/batches").await;
    let id = listed[0]["id"].as_str().unwrap().to_owned();
    let refused = app
        .call(Method::GET, &format!("/v1/batches/{id}/file"), None)
        .await;
    let refused_status = refused.status();
    let problem: serde_json::Value = refused.json().await.unwrap();
    let report = app.daily(app.today).await;

    assert!(crashed.is_err());
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0]["status"], "open");
    assert_eq!(listed[0]["number_of_transactions"], 44);
    assert_eq!(refused_status, reqwest::StatusCode::CONFLICT);
    assert!(
        problem["detail"].as_str().unwrap().contains("is open"),
        "{problem}"
    );
    assert_eq!(report.batches_written.len(), 3, "{report:?}");
    assert_eq!(
        report.batches_written[0], id,
        "the open batch is finished first"
    );
    let batches = app.all_items("/v1/batches").await;
    assert!(
        batches.iter().all(|b| b["status"] == "complete"),
        "{batches:?}"
    );
    let xml = app.batch_file(&id).await;
    tranche_tests::xsd::validate_pain008(&xml, tranche_domain::pain008::Pain008Version::V08)
        .unwrap();
    assert_each_collection_in_one_complete_file(
        &ports,
        &acme,
        collection_date(),
        &collections,
        u64::from(MAX_PER_FILE),
    )
    .await;
}
