//! Batch files on the DynamoDB store and S3 (moto): a file far larger than one DynamoDB
//! transaction is written in steps that each fit one, also when a run dies half-way.

use std::sync::Arc;

use chrono::NaiveDate;
use tranche_domain::batches::{BatchOutcome, generate_batches};
use tranche_domain::collection::BatchRequest;
use tranche_domain::creditor::{CreditorId, DEFAULT_MAX_TRANSACTIONS_PER_FILE};
use tranche_domain::plan::Scheme;
use tranche_domain::ports::Ports;
use tranche_tests::batch_files::{
    assert_each_collection_in_one_complete_file, insert_collections, scheduled_collections,
};
use tranche_tests::faults::{Crash, FaultyTransactions, Steps};
use tranche_tests::fixtures::{creditor, unique_creditor_id};
use tranche_tests::moto::MotoAccount;

fn collection_date() -> NaiveDate {
    "2027-03-01".parse().expect("a date")
}

fn ports_of(account: &MotoAccount) -> Ports {
    account
        .ports
        .ports(Arc::new(tranche_mandate_signing::document::PdfRenderer))
}

/// A creditor with the default most transactions per file, and `count` scheduled collections.
async fn given_scheduled(
    ports: &Ports,
    count: usize,
) -> (CreditorId, Vec<tranche_domain::collection::Collection>) {
    let creditor_id = unique_creditor_id();
    let settings = creditor(&creditor_id);
    assert_eq!(
        settings.max_transactions_per_file,
        DEFAULT_MAX_TRANSACTIONS_PER_FILE
    );
    ports.creditors.put_creditor(&settings).await.unwrap();
    let collections = scheduled_collections(&creditor_id, collection_date(), count);
    insert_collections(ports, &collections).await;
    (creditor_id, collections)
}

fn request(creditor_id: &CreditorId) -> BatchRequest {
    BatchRequest {
        creditor_id: creditor_id.clone(),
        scheme: Scheme::Core,
        collection_date: collection_date(),
    }
}

#[tokio::test]
async fn a_file_of_250_collections_is_written_through_dynamodb_in_transactions_of_at_most_100_items()
 {
    let Some(account) = MotoAccount::new("a_file_of_250_collections").await else {
        return;
    };
    let ports = ports_of(&account);
    let (creditor_id, collections) = given_scheduled(&ports, 250).await;
    let before = account.ports.store.request_counts().snapshot();

    let outcome = generate_batches(&ports, &request(&creditor_id))
        .await
        .unwrap();

    let used = account
        .ports
        .store
        .request_counts()
        .snapshot()
        .since(&before);
    let BatchOutcome::Written(ids) = outcome else {
        panic!("refused: {outcome:?}");
    };
    assert_eq!(ids.len(), 1, "one file: {ids:?}");
    let batches = assert_each_collection_in_one_complete_file(
        &ports,
        &creditor_id,
        collection_date(),
        &collections,
        u64::from(DEFAULT_MAX_TRANSACTIONS_PER_FILE),
    )
    .await;
    assert_eq!(batches[0].number_of_transactions, 250);
    assert!(
        used.transact_write_items >= 3,
        "250 collections take at least three transactions: {used:?}"
    );
}

#[tokio::test]
async fn a_run_that_dies_between_two_transactions_of_a_file_is_finished_by_the_next_on_dynamodb() {
    let Some(account) = MotoAccount::new("a_run_that_dies_between_two_transactions").await else {
        return;
    };
    let ports = ports_of(&account);
    let (creditor_id, collections) = given_scheduled(&ports, 250).await;
    let mut failing = ports.clone();
    failing.transactions = Arc::new(FaultyTransactions {
        inner: ports.transactions.clone(),
        steps: Steps::new(2, Crash::Before),
        max_writes: None,
    });

    let crashed = generate_batches(&failing, &request(&creditor_id)).await;
    let open = ports
        .collections
        .unfinished_batches(None, 500)
        .await
        .unwrap();
    let finished = generate_batches(&ports, &request(&creditor_id))
        .await
        .unwrap();
    let again = generate_batches(&ports, &request(&creditor_id))
        .await
        .unwrap();

    assert!(crashed.is_err());
    let open: Vec<_> = open
        .items
        .into_iter()
        .filter(|b| b.creditor_id == creditor_id)
        .collect();
    assert_eq!(open.len(), 1, "the first transaction opened the batch");
    assert_eq!(finished, BatchOutcome::Written(vec![open[0].id.clone()]));
    assert_eq!(again, BatchOutcome::Written(Vec::new()));
    assert_each_collection_in_one_complete_file(
        &ports,
        &creditor_id,
        collection_date(),
        &collections,
        u64::from(DEFAULT_MAX_TRANSACTIONS_PER_FILE),
    )
    .await;
}
