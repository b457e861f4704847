//! The store conformance suite on the DynamoDB store, against the moto server that
//! `scripts/test.sh` starts on loopback. Every test provisions its own tables (a random prefix),
//! so the tests run in parallel on one server.

use tranche_tests::conformance::Stores;
use tranche_tests::moto::MotoAccount;

/// Fresh tables on moto, or `None` (the test returns early) when moto is not configured outside
/// CI.
async fn dynamodb_stores() -> Option<Stores> {
    let account = MotoAccount::new("store_conformance_dynamodb").await?;
    let store = account.ports.store.clone();
    Some(Stores::from_store(store).keeping_alive(account))
}

mod dynamodb {
    use super::*;

    tranche_tests::store_conformance_tests!(match dynamodb_stores().await {
        Some(stores) => stores,
        None => return,
    });
}
