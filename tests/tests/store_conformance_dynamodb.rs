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

/// What DynamoDB cannot do all-or-nothing is refused whole: a commit above the 100 items of one
/// transaction writes nothing and says so, and the store tells callers beforehand.
mod transaction_limit {
    use tranche_domain::error::StoreError;
    use tranche_domain::plan::PlanStatus;
    use tranche_domain::ports::{PlanStore, TransactionalStore, Write};
    use tranche_tests::fixtures::{plan, unique_creditor_id, unique_plan_id};
    use tranche_tests::moto::MotoAccount;

    #[tokio::test]
    async fn a_commit_above_one_transaction_is_refused_and_writes_nothing() {
        let Some(account) = MotoAccount::new("a_commit_above_one_transaction").await else {
            return;
        };
        let store = &account.ports.store;
        let creditor_id = unique_creditor_id();
        let plans: Vec<_> = (0..101)
            .map(|_| plan(&unique_plan_id(), &creditor_id, PlanStatus::Active))
            .collect();
        let writes: Vec<Write> = plans.iter().cloned().map(Write::InsertPlan).collect();

        assert!(store.fits_in_one_commit(&writes[..100]));
        assert!(!store.fits_in_one_commit(&writes));
        let result = store.commit(&writes).await;

        match result {
            Err(StoreError::Corrupt(message)) => assert!(message.contains("100"), "{message}"),
            other => panic!("expected a refusal naming the limit, got {other:?}"),
        }
        for plan in [&plans[0], &plans[100]] {
            assert_eq!(store.get_plan(&plan.id).await.unwrap(), None);
        }
    }

    #[tokio::test]
    async fn a_commit_of_exactly_one_transaction_applies_every_write() {
        let Some(account) = MotoAccount::new("a_commit_of_exactly_one_transaction").await else {
            return;
        };
        let store = &account.ports.store;
        let creditor_id = unique_creditor_id();
        let plans: Vec<_> = (0..100)
            .map(|_| plan(&unique_plan_id(), &creditor_id, PlanStatus::Active))
            .collect();
        let writes: Vec<Write> = plans.iter().cloned().map(Write::InsertPlan).collect();

        store.commit(&writes).await.unwrap();

        for plan in [&plans[0], &plans[99]] {
            assert_eq!(store.get_plan(&plan.id).await.unwrap().as_ref(), Some(plan));
        }
    }
}
