//! The store conformance suite on the embedded SQLite store: in memory, on a file, and across
//! closing and reopening that file.

use tranche_local::sqlite::SqliteStore;
use tranche_tests::conformance::Stores;

/// A fresh database file in a temporary folder that lives as long as the stores.
fn file_backed_stores() -> Stores {
    let folder = tempfile::tempdir().expect("a temporary folder");
    let store = SqliteStore::open(&folder.path().join("data").join("tranche.sqlite"))
        .expect("a new database file opens");
    Stores::from_store(store).keeping_alive(folder)
}

mod in_memory {
    use super::*;

    tranche_tests::store_conformance_tests!(Stores::from_store(
        SqliteStore::in_memory().expect("an in-memory database opens")
    ));
}

mod on_disk {
    use super::*;

    tranche_tests::store_conformance_tests!(file_backed_stores());
}

mod file {
    use chrono::Duration;
    use tranche_domain::error::StoreError;
    use tranche_domain::plan::PlanStatus;
    use tranche_domain::ports::{
        ApiKeyStore, CreditorStore, IdempotencyRecord, IdempotencyStore, PlanStore, StoredResponse,
    };
    use tranche_local::sqlite::SqliteStore;
    use tranche_tests::fixtures::{
        at, creditor, plan, signing_token, unique_creditor_id, unique_plan_id,
    };

    #[tokio::test]
    async fn everything_written_survives_closing_and_reopening_the_file() {
        let folder = tempfile::tempdir().unwrap();
        let path = folder.path().join("tranche.sqlite");
        let creditor_id = unique_creditor_id();
        let creditor = creditor(&creditor_id);
        let mut plan = plan(
            &unique_plan_id(),
            &creditor_id,
            PlanStatus::AwaitingSignature,
        );
        let token = signing_token(&plan);
        let used_at = token.expires_at - Duration::days(1);
        let record = IdempotencyRecord {
            key: "POST /v1/plans:reopen".to_owned(),
            request_hash: "ab".repeat(32),
            response: None,
            created_at: at("2027-01-04T09:30:00Z"),
        };
        let answer = StoredResponse {
            status: 201,
            body: "{}".to_owned(),
        };

        let store = SqliteStore::open(&path).unwrap();
        store.put_creditor(&creditor).await.unwrap();
        store.insert_plan(&plan, &token).await.unwrap();
        plan.status = PlanStatus::Active;
        plan.version = 2;
        store.update_plan(&plan).await.unwrap();
        store
            .use_signing_token(&token.token_hash, used_at)
            .await
            .unwrap();
        store.claim_idempotency_key(&record).await.unwrap();
        store
            .complete_idempotency_key(&record.key, &answer)
            .await
            .unwrap();
        store.add_api_key_hash(&"cd".repeat(32)).await.unwrap();
        drop(store);

        let store = SqliteStore::open(&path).unwrap();

        assert_eq!(
            store.get_creditor(&creditor_id).await.unwrap(),
            Some(creditor)
        );
        assert_eq!(store.get_plan(&plan.id).await.unwrap(), Some(plan.clone()));
        let token_read = store
            .get_signing_token(&token.token_hash)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(token_read.used_at, Some(used_at));
        let record_read = store
            .get_idempotency_record(&record.key)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(record_read.response, Some(answer));
        assert!(store.api_key_hash_exists(&"cd".repeat(32)).await.unwrap());
        plan.version = 3;
        store.update_plan(&plan).await.unwrap();
    }

    #[tokio::test]
    async fn two_stores_on_one_file_see_each_others_writes_and_conditions() {
        let folder = tempfile::tempdir().unwrap();
        let path = folder.path().join("tranche.sqlite");
        let server = SqliteStore::open(&path).unwrap();
        let daily_job = SqliteStore::open(&path).unwrap();
        let plan = plan(&unique_plan_id(), &unique_creditor_id(), PlanStatus::Active);
        server
            .insert_plan(&plan, &signing_token(&plan))
            .await
            .unwrap();
        let mut from_server = plan.clone();
        from_server.status = PlanStatus::Paused;
        from_server.version = 2;
        let mut from_job = plan.clone();
        from_job.status = PlanStatus::InDunning;
        from_job.version = 2;

        server.update_plan(&from_server).await.unwrap();
        let job_result = daily_job.update_plan(&from_job).await;

        assert!(
            matches!(job_result, Err(StoreError::ConditionFailed(_))),
            "the second writer from version 1 loses its condition: {job_result:?}"
        );
        assert_eq!(
            daily_job.get_plan(&plan.id).await.unwrap(),
            Some(from_server)
        );
    }
}
