//! Crashes injected between the daily job's writes: a run that dies half-way leaves nothing
//! half-done, and the next run finishes the job without doing anything twice.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use async_trait::async_trait;
use chrono::NaiveDate;
use tranche_domain::collection::BatchStatus;
use tranche_domain::error::StoreError;
use tranche_domain::pain008::Pain008Version;
use tranche_domain::ports::{Ports, TransactionalStore, Write};
use tranche_domain::signing::Links;
use tranche_local::host;
use tranche_tests::app::{TestApp, plan_body};
use tranche_tests::faults::{Crash, FaultyFiles, FaultyTransactions, Steps};
use tranche_tests::xsd::validate_pain008;

fn day(text: &str) -> NaiveDate {
    text.parse().expect("a date")
}

/// A store whose commits that complete a batch die after the file is stored: the file exists,
/// the batch is still sealed.
struct FailingBatchCommits {
    inner: Arc<dyn TransactionalStore>,
    failures_left: AtomicU32,
}

#[async_trait]
impl TransactionalStore for FailingBatchCommits {
    async fn commit(&self, writes: &[Write]) -> Result<(), StoreError> {
        let writes_batch = writes.iter().any(
            |w| matches!(w, Write::UpdateBatch(batch) if batch.status == BatchStatus::Complete),
        );
        if writes_batch && self.failures_left.load(Ordering::SeqCst) > 0 {
            self.failures_left.fetch_sub(1, Ordering::SeqCst);
            return Err(StoreError::Unavailable(
                "injected crash before the commit".into(),
            ));
        }
        self.inner.commit(writes).await
    }
}

fn ports_for(app: &TestApp, today: NaiveDate) -> Ports {
    host::open_ports(&app.data, host::clock_for(Some(today))).expect("the data opens")
}

fn links() -> Links {
    Links {
        public_url: "http://127.0.0.1".into(),
        mail_from: "Tranche <noreply@tranche.invalid>".into(),
    }
}

async fn assert_one_valid_batch_per_collection(app: &TestApp, files_in_store: usize) {
    let batches = app.all_items("/v1/batches").await;
    assert_eq!(batches.len(), 1, "one batch: {batches:?}");
    let collections = app.all_items("/v1/collections").await;
    assert_eq!(collections.len(), 2);
    assert!(
        collections
            .iter()
            .all(|c| c["status"] == "batched" && c["batch_id"] == batches[0]["id"])
    );
    let xml = app.batch_file(batches[0]["id"].as_str().unwrap()).await;
    validate_pain008(&xml, Pain008Version::V08).unwrap();
    assert_eq!(
        String::from_utf8(xml)
            .unwrap()
            .matches("<DrctDbtTxInf>")
            .count(),
        2
    );
    let stored = std::fs::read_dir(app.data.join("files/batches/acme/2027-02-01"))
        .map(|entries| entries.count())
        .unwrap_or(0);
    assert_eq!(stored, files_in_store);
}

#[tokio::test]
async fn a_crash_before_the_file_is_stored_is_finished_by_the_next_run() {
    let app = TestApp::spawn().await;
    app.given_creditor_acme().await;
    app.given_signed_plan(&plan_body()).await;
    app.given_signed_plan(&plan_body()).await;
    let mut ports = ports_for(&app, day("2027-01-29"));
    // A process killed after writing the temporary file, before storing it.
    ports.files = Arc::new(FaultyFiles {
        inner: ports.files.clone(),
        steps: Steps::new(1, Crash::Before),
    });

    let crashed = tranche_domain::daily::run_daily(&ports, &links()).await;
    let finished = app.daily(day("2027-01-29")).await;
    let again = app.daily(day("2027-01-29")).await;

    assert!(crashed.is_err(), "the injected crash surfaces");
    assert_eq!(
        finished.collections_created, 0,
        "the crashed run had created them"
    );
    assert_eq!(finished.batches_written.len(), 1);
    assert!(again.batches_written.is_empty());
    assert_one_valid_batch_per_collection(&app, 1).await;
}

#[tokio::test]
async fn a_crash_between_storing_the_file_and_recording_it_writes_no_second_batch() {
    let app = TestApp::spawn().await;
    app.given_creditor_acme().await;
    app.given_signed_plan(&plan_body()).await;
    app.given_signed_plan(&plan_body()).await;
    let mut ports = ports_for(&app, day("2027-01-29"));
    ports.transactions = Arc::new(FailingBatchCommits {
        inner: ports.transactions.clone(),
        failures_left: AtomicU32::new(1),
    });

    let crashed = tranche_domain::daily::run_daily(&ports, &links()).await;
    let finished = app.daily(day("2027-01-29")).await;
    let later = app.daily(day("2027-01-30")).await;

    assert!(crashed.is_err());
    assert_eq!(finished.batches_written.len(), 1);
    assert!(later.batches_written.is_empty());
    // The crashed run's file was stored under the same key and replaced by the finished one.
    assert_one_valid_batch_per_collection(&app, 1).await;
}

#[tokio::test]
async fn two_runs_of_the_same_day_at_once_collect_and_batch_once() {
    let app = TestApp::spawn().await;
    app.given_creditor_acme().await;
    app.given_signed_plan(&plan_body()).await;
    app.given_signed_plan(&plan_body()).await;
    let first = ports_for(&app, day("2027-01-29"));
    let second = ports_for(&app, day("2027-01-29"));

    let links = links();
    let (a, b) = tokio::join!(
        tranche_domain::daily::run_daily(&first, &links),
        tranche_domain::daily::run_daily(&second, &links)
    );

    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(a.collections_created + b.collections_created, 2);
    assert_one_valid_batch_per_collection(&app, 1).await;
}

#[tokio::test]
async fn a_crash_in_the_middle_of_a_bank_file_is_finished_by_the_retry_without_applying_twice() {
    use tranche_tests::bank_files::{Reported, pain002_rejects};
    let app = TestApp::spawn().await;
    app.given_creditor_acme().await;
    for _ in 0..3 {
        app.given_signed_plan(&plan_body()).await;
    }
    let written = app.daily(day("2027-01-29")).await;
    let batch_id = &written.batches_written[0];
    let message_id = batch_id.trim_start_matches("bat_").to_ascii_uppercase();
    let rejected: Vec<Reported> = app
        .all_items("/v1/collections")
        .await
        .iter()
        .map(|c| Reported {
            end_to_end_id: c["end_to_end_id"].as_str().unwrap().to_owned(),
            amount: c["amount"].as_str().unwrap().to_owned(),
            reason: "MS02".to_owned(),
            date: day(c["collection_date"].as_str().unwrap()),
            mandate_reference: c["mandate_reference"].as_str().unwrap().to_owned(),
        })
        .collect();
    let file = pain002_rejects("PSR-CRASH", &message_id, &rejected);
    let mut ports = ports_for(&app, day("2027-02-02"));
    // A process killed in the middle of the bank file, at its second commit.
    ports.transactions = Arc::new(FaultyTransactions {
        inner: ports.transactions.clone(),
        steps: Steps::new(2, Crash::Before),
        max_writes: None,
    });

    let crashed =
        tranche_domain::returns::process_bank_file(&ports, &links(), file.as_bytes()).await;
    let (_, retried) = app.post_bank_file(file).await;

    assert!(crashed.is_err(), "the injected crash surfaces");
    assert_eq!(
        retried["applied"], 2,
        "the retry applies what the crash left: {retried}"
    );
    assert_eq!(
        retried["duplicates"], 1,
        "and not the item applied before the crash"
    );
    assert_eq!(
        app.all_items("/v1/collections?status=rejected").await.len(),
        3
    );
    let tasks = app.all_items("/v1/tasks?status=open").await;
    assert_eq!(tasks.len(), 3, "one call-the-customer task per collection");
}
