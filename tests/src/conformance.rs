//! The store conformance suite: what every adapter of the store ports must do, checked through
//! the port traits only, so the embedded adapter and the AWS adapter are held to the same
//! behaviour.
//!
//! Each check is an async function taking a [`Stores`];
//! [`crate::store_conformance_tests!`] turns the whole list into one `#[tokio::test]` each for
//! an adapter:
//!
//! ```no_run
//! mod sqlite_in_memory {
//!     use tranche_tests::conformance::Stores;
//!     tranche_tests::store_conformance_tests!(
//!         Stores::from_store(tranche_local::sqlite::SqliteStore::in_memory().unwrap())
//!     );
//! }
//! ```
//!
//! The checks share nothing but the store: every id they write is random and every list they
//! read is filtered to their own creditor or aggregate (or only asserted to contain their own
//! plans), so they also pass on one table shared by a whole test run, in any order and in
//! parallel.
//!
//! Contracts these checks pin down beyond the trait docs:
//! - a signing token is usable while `at < expires_at`; at its expiry instant it is expired;
//! - a page size is clamped to 1..=500, and `next` is `None` exactly on the last page (also when
//!   that page is full);
//! - an idempotency key takes one answer: completing it twice, or releasing it once answered,
//!   fails its condition and keeps the first answer; releasing an unknown key does nothing;
//! - a mandate reference is unique per creditor, not across creditors;
//! - a mandate is found by a download token hash only while its stored version carries that
//!   hash: an update that replaces or clears it moves or removes the lookup;
//! - an aggregate's events come back in numeric `seq` order, and only its own, also when another
//!   aggregate's id starts with the same characters;
//! - an event comes back exactly as appended (its `data` JSON with integers beyond 2^53, its
//!   time to the microsecond), so its hash chain still verifies;
//! - a signing token used inside a commit meets the conditions of `use_signing_token`, and the
//!   use of an unknown token creates no token;
//! - a self-service token is stored once per hash and read back whatever its expiry (the
//!   caller checks `expires_at`);
//! - a refused commit leaves nothing behind, not even a claim on a key: the ids, the mandate
//!   reference and the token hash it would have taken are free for a corrected retry;
//! - collections looked up by a list of EndToEndIds come back once each, also when the list
//!   names one twice or is longer than a page (500 ids); plans and mandates read by a list of
//!   ids likewise;
//! - a batch is listed by `unfinished_batches` exactly while its stored status is not
//!   `complete`; a batch update is conditional on its revision, as a plan's on its version.

use std::any::Any;
use std::collections::BTreeSet;
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use serde_json::json;
use tranche_domain::collection::{
    Batch, BatchStatus, Collection, CollectionStatus, PaymentInformationRef,
};
use tranche_domain::creditor::CreditorId;
use tranche_domain::error::StoreError;
use tranche_domain::events::{Event, verify_chain};
use tranche_domain::mandate::{Mandate, MandateStatus};
use tranche_domain::pain008::SequenceType;
use tranche_domain::plan::{Plan, PlanId, PlanStatus, SelfServiceToken, SigningToken};
use tranche_domain::ports::{
    ApiKeyStore, CollectionStore, CreditorStore, EventStore, IdempotencyRecord, IdempotencyStore,
    MandateStore, PlanQuery, PlanStore, Store, StoredResponse, TransactionalStore, Write,
};
use tranche_domain::secrets::{random_id, random_reference, random_token, sha256_hex};

use crate::fixtures::{
    at, creditor, event_chain, mandate, plan, signing_token, unique_creditor_id, unique_mandate_id,
    unique_mandate_reference, unique_plan_id, unique_token_hash,
};

/// The store ports under test. Most adapters implement all of them on one value
/// ([`Stores::from_store`]); the fields are public so an adapter split over several values can be
/// bundled by hand.
#[derive(Clone)]
pub struct Stores {
    pub creditors: Arc<dyn CreditorStore>,
    pub plans: Arc<dyn PlanStore>,
    pub mandates: Arc<dyn MandateStore>,
    pub collections: Arc<dyn CollectionStore>,
    pub events: Arc<dyn EventStore>,
    /// Every mandate and event is written through here, as the use cases write them.
    pub transactions: Arc<dyn TransactionalStore>,
    pub idempotency: Arc<dyn IdempotencyStore>,
    pub api_keys: Arc<dyn ApiKeyStore>,
    /// Whatever must live as long as the stores: a temporary folder, a server process.
    keep_alive: Option<Arc<dyn Any + Send + Sync>>,
}

impl Stores {
    /// Every port from one store value.
    pub fn from_store<S: Store>(store: S) -> Self {
        let store = Arc::new(store);
        Self {
            creditors: store.clone(),
            plans: store.clone(),
            mandates: store.clone(),
            collections: store.clone(),
            events: store.clone(),
            transactions: store.clone(),
            idempotency: store.clone(),
            api_keys: store,
            keep_alive: None,
        }
    }

    /// Keeps `guard` (a `tempfile::TempDir`, a child process handle) alive as long as these
    /// stores, so a file-backed store's folder is not deleted under it mid-test.
    pub fn keeping_alive(mut self, guard: impl Any + Send + Sync) -> Self {
        self.keep_alive = Some(Arc::new(guard));
        self
    }
}

/// Expands to one `#[tokio::test]` per conformance check, each building its stores with the
/// given expression (evaluated inside the async test, so it may `.await`). Invoke it inside a
/// module of its own, one module per adapter; `tokio` must be a (dev-)dependency of the crate
/// that invokes it.
#[macro_export]
macro_rules! store_conformance_tests {
    ($make_stores:expr) => {
        $crate::store_conformance_tests!(@checks $make_stores;
            a_creditor_round_trips_and_a_second_put_replaces_it,
            an_inserted_plan_and_its_signing_token_read_back_as_stored,
            a_duplicate_plan_id_fails_its_condition_and_stores_nothing,
            a_duplicate_token_hash_fails_its_condition_and_stores_no_plan,
            an_update_at_the_next_version_succeeds_and_a_stale_one_fails,
            an_update_of_an_unknown_plan_fails_its_condition,
            concurrent_updates_from_one_version_let_exactly_one_win,
            list_pages_return_every_plan_once_in_id_order,
            list_filters_by_creditor_and_status,
            list_without_a_creditor_filters_by_status_alone,
            list_page_size_is_at_least_one,
            a_signing_token_can_be_used_only_once,
            concurrent_uses_of_a_signing_token_let_exactly_one_win,
            an_expired_or_unknown_signing_token_fails_its_condition,
            an_idempotency_key_is_claimed_only_once,
            concurrent_claims_of_an_idempotency_key_let_exactly_one_win,
            a_completed_idempotency_key_keeps_its_first_answer,
            a_released_idempotency_key_can_be_claimed_again,
            api_key_hashes_are_registered_once_and_found,
            an_inserted_mandate_reads_back_as_stored,
            a_duplicate_mandate_id_fails_its_condition_and_keeps_the_stored_mandate,
            a_mandate_reference_is_unique_per_creditor_only,
            a_mandate_update_at_the_next_version_succeeds_and_a_stale_one_fails,
            an_update_of_an_unknown_mandate_fails_its_condition,
            concurrent_mandate_updates_from_one_version_let_exactly_one_win,
            a_mandate_is_found_by_its_download_token_only_while_it_carries_it,
            events_come_back_in_seq_order_without_other_aggregates,
            an_event_with_an_existing_seq_fails_its_condition_and_keeps_the_first,
            concurrent_appends_of_one_seq_let_exactly_one_win,
            an_event_chain_verifies_after_a_round_trip_through_the_store,
            a_commit_applies_every_write_in_it,
            a_commit_whose_last_write_fails_leaves_nothing_of_the_earlier_writes,
            a_commit_ending_in_a_stale_plan_update_leaves_the_token_and_the_mandate_as_they_were,
            a_commit_whose_first_write_fails_applies_none_of_the_later_ones,
            a_signing_token_used_in_a_commit_fails_a_second_commit_and_rolls_it_back,
            an_expired_or_unknown_signing_token_fails_a_commit_and_rolls_it_back,
            concurrent_signature_commits_with_one_token_let_exactly_one_win,
            collections_are_found_by_their_end_to_end_ids_each_once,
            plans_and_mandates_are_read_by_their_ids_each_once,
            a_self_service_token_reads_back_and_its_hash_is_taken_once,
            self_service_tokens_stored_at_once_each_read_back_and_a_taken_hash_fails,
            a_plan_changed_by_plan_actions_reads_back_as_stored,
            an_open_batch_is_unfinished_until_an_update_at_its_next_revision_completes_it,
            a_batch_update_at_a_stale_revision_fails_and_changes_nothing,
            a_batch_opened_with_its_collections_commits_both_or_neither,
            unfinished_batches_come_back_once_each_in_id_order_across_pages,
            the_daily_work_list_holds_every_due_plan_once_across_pages,
            unsettled_collections_come_back_once_each_across_statuses_and_pages,
            the_newest_event_of_each_aggregate_is_read_at_once,
        );
    };
    (@checks $make_stores:expr; $($check:ident),+ $(,)?) => {
        $(
            #[tokio::test]
            async fn $check() {
                let stores: $crate::conformance::Stores = $make_stores;
                $crate::conformance::$check(&stores).await;
            }
        )+
    };
}

fn assert_condition_failed<T: std::fmt::Debug>(result: Result<T, StoreError>, what: &str) {
    match result {
        Err(StoreError::ConditionFailed(_)) => {}
        other => panic!("{what}: expected ConditionFailed, got {other:?}"),
    }
}

/// Inserts plans for one creditor, one per status in `statuses`, each with its own token.
async fn insert_plans(
    stores: &Stores,
    creditor_id: &CreditorId,
    statuses: &[PlanStatus],
) -> Vec<Plan> {
    let mut plans = Vec::new();
    for &status in statuses {
        let plan = plan(&unique_plan_id(), creditor_id, status);
        stores
            .plans
            .insert_plan(&plan, &signing_token(&plan))
            .await
            .expect("a new plan is inserted");
        plans.push(plan);
    }
    plans
}

/// Follows `next` from the first page to the last and answers every page's ids.
async fn walk_pages(stores: &Stores, query: PlanQuery) -> Vec<Vec<PlanId>> {
    let mut pages = Vec::new();
    let mut query = query;
    loop {
        let page = stores
            .plans
            .list_plans(&query)
            .await
            .expect("a list call answers");
        assert!(
            page.items.len() <= query.limit.clamp(1, 500) as usize,
            "a page holds at most `limit` plans"
        );
        pages.push(page.items.iter().map(|plan| plan.id.clone()).collect());
        match page.next {
            Some(next) => {
                assert!(
                    !page.items.is_empty(),
                    "a page with a next cursor is not empty"
                );
                query.after = Some(next);
            }
            None => return pages,
        }
        assert!(pages.len() < 100_000, "paging never ends");
    }
}

fn sorted_ids(plans: &[Plan]) -> Vec<PlanId> {
    let mut ids: Vec<PlanId> = plans.iter().map(|plan| plan.id.clone()).collect();
    ids.sort();
    ids
}

fn idempotency_record(key: &str) -> IdempotencyRecord {
    IdempotencyRecord {
        key: key.to_owned(),
        request_hash: sha256_hex(random_token()),
        response: None,
        created_at: at("2027-01-04T09:30:00.250Z"),
    }
}

fn unique_idempotency_key() -> String {
    format!("POST /v1/plans:{}", random_id("idem"))
}

/// `put_creditor` then `get_creditor` answers an equal creditor; a second put with the same id
/// replaces it; an unknown id reads as `None`.
pub async fn a_creditor_round_trips_and_a_second_put_replaces_it(stores: &Stores) {
    let id = unique_creditor_id();
    let first = creditor(&id);

    stores.creditors.put_creditor(&first).await.unwrap();
    let read = stores.creditors.get_creditor(&id).await.unwrap();

    assert_eq!(read.as_ref(), Some(&first));

    let mut second = first.clone();
    second.name = "Acme Forderungsmanagement GmbH".to_owned();
    second.lead_days = 2;
    second.updated_at = at("2027-02-01T12:00:00Z");
    stores.creditors.put_creditor(&second).await.unwrap();
    let read = stores.creditors.get_creditor(&id).await.unwrap();

    assert_eq!(read, Some(second));
    let unknown = stores
        .creditors
        .get_creditor(&unique_creditor_id())
        .await
        .unwrap();
    assert_eq!(unknown, None);
}

/// A plan and its token, inserted together, read back equal (instalments, amounts and
/// timestamps included); unknown ids read as `None`.
pub async fn an_inserted_plan_and_its_signing_token_read_back_as_stored(stores: &Stores) {
    let plan = plan(
        &unique_plan_id(),
        &unique_creditor_id(),
        PlanStatus::AwaitingSignature,
    );
    let token = signing_token(&plan);

    stores.plans.insert_plan(&plan, &token).await.unwrap();

    assert_eq!(stores.plans.get_plan(&plan.id).await.unwrap(), Some(plan));
    assert_eq!(
        stores
            .plans
            .get_signing_token(&token.token_hash)
            .await
            .unwrap(),
        Some(token)
    );
    assert_eq!(
        stores.plans.get_plan(&unique_plan_id()).await.unwrap(),
        None
    );
    assert_eq!(
        stores
            .plans
            .get_signing_token(&unique_token_hash())
            .await
            .unwrap(),
        None
    );
}

/// Inserting a plan whose id exists fails its condition, leaves the stored plan as it was, and
/// does not store the second insert's token either (both or neither).
pub async fn a_duplicate_plan_id_fails_its_condition_and_stores_nothing(stores: &Stores) {
    let original = plan(
        &unique_plan_id(),
        &unique_creditor_id(),
        PlanStatus::AwaitingSignature,
    );
    stores
        .plans
        .insert_plan(&original, &signing_token(&original))
        .await
        .unwrap();
    let mut impostor = original.clone();
    impostor.creditor_id = unique_creditor_id();
    impostor.status = PlanStatus::Active;
    let impostor_token = signing_token(&impostor);

    let result = stores.plans.insert_plan(&impostor, &impostor_token).await;

    assert_condition_failed(result, "inserting a plan id twice");
    assert_eq!(
        stores.plans.get_plan(&original.id).await.unwrap(),
        Some(original)
    );
    assert_eq!(
        stores
            .plans
            .get_signing_token(&impostor_token.token_hash)
            .await
            .unwrap(),
        None,
        "the token of a refused insert is not stored"
    );
    let listed = stores
        .plans
        .list_plans(&PlanQuery {
            creditor_id: Some(impostor.creditor_id.clone()),
            limit: 10,
            ..PlanQuery::default()
        })
        .await
        .unwrap();
    assert!(
        listed.items.is_empty(),
        "the refused plan is not listed under its creditor"
    );
}

/// Inserting a new plan with a token hash that exists fails its condition, stores no plan, and
/// leaves the existing token pointing at its own plan.
pub async fn a_duplicate_token_hash_fails_its_condition_and_stores_no_plan(stores: &Stores) {
    let creditor_id = unique_creditor_id();
    let first = plan(
        &unique_plan_id(),
        &creditor_id,
        PlanStatus::AwaitingSignature,
    );
    let token = signing_token(&first);
    stores.plans.insert_plan(&first, &token).await.unwrap();
    let second = plan(
        &unique_plan_id(),
        &creditor_id,
        PlanStatus::AwaitingSignature,
    );
    let mut reused = token.clone();
    reused.plan_id = second.id.clone();

    let result = stores.plans.insert_plan(&second, &reused).await;

    assert_condition_failed(result, "inserting a token hash twice");
    assert_eq!(stores.plans.get_plan(&second.id).await.unwrap(), None);
    assert_eq!(
        stores
            .plans
            .get_signing_token(&token.token_hash)
            .await
            .unwrap(),
        Some(token)
    );
}

/// An update carrying the stored version plus one replaces the plan, and list filters see its
/// new status; an update carrying a version that is not the next one fails its condition and
/// changes nothing.
pub async fn an_update_at_the_next_version_succeeds_and_a_stale_one_fails(stores: &Stores) {
    let creditor_id = unique_creditor_id();
    let stored = insert_plans(stores, &creditor_id, &[PlanStatus::AwaitingSignature]).await;
    let mut signed = stored[0].clone();
    signed.status = PlanStatus::Active;
    signed.mandate_id = Some("mnd_signed".to_owned());
    signed.updated_at = at("2027-01-05T10:00:00Z");
    signed.version = 2;

    stores.plans.update_plan(&signed).await.unwrap();

    assert_eq!(
        stores.plans.get_plan(&signed.id).await.unwrap(),
        Some(signed.clone())
    );
    let active = stores
        .plans
        .list_plans(&PlanQuery {
            creditor_id: Some(creditor_id.clone()),
            status: Some(PlanStatus::Active),
            limit: 10,
            after: None,
        })
        .await
        .unwrap();
    assert_eq!(sorted_ids(&active.items), [signed.id.clone()]);
    let awaiting = stores
        .plans
        .list_plans(&PlanQuery {
            creditor_id: Some(creditor_id.clone()),
            status: Some(PlanStatus::AwaitingSignature),
            limit: 10,
            after: None,
        })
        .await
        .unwrap();
    assert!(
        awaiting.items.is_empty(),
        "the old status no longer lists the plan"
    );

    // A writer that read version 1 and did not see the signature.
    let mut stale = stored[0].clone();
    stale.status = PlanStatus::Cancelled;
    stale.version = 2;
    assert_condition_failed(stores.plans.update_plan(&stale).await, "a stale update");

    // A writer that skips a version.
    let mut skipping = signed.clone();
    skipping.status = PlanStatus::Paused;
    skipping.version = 4;
    assert_condition_failed(
        stores.plans.update_plan(&skipping).await,
        "a skipping update",
    );

    assert_eq!(
        stores.plans.get_plan(&signed.id).await.unwrap(),
        Some(signed)
    );
}

/// Updating a plan that was never inserted fails its condition and does not create it.
pub async fn an_update_of_an_unknown_plan_fails_its_condition(stores: &Stores) {
    let mut ghost = plan(&unique_plan_id(), &unique_creditor_id(), PlanStatus::Active);
    ghost.version = 2;

    assert_condition_failed(
        stores.plans.update_plan(&ghost).await,
        "updating an unknown plan",
    );
    assert_eq!(stores.plans.get_plan(&ghost.id).await.unwrap(), None);
}

/// Eight writers that all read version 1 update at once: exactly one wins, and the stored plan
/// is the winner's.
pub async fn concurrent_updates_from_one_version_let_exactly_one_win(stores: &Stores) {
    let stored = insert_plans(stores, &unique_creditor_id(), &[PlanStatus::Active]).await;
    let writers: Vec<_> = (0..8)
        .map(|n| {
            let stores = stores.clone();
            let mut update = stored[0].clone();
            update.version = 2;
            update.mandate_id = Some(format!("mnd_writer_{n}"));
            tokio::spawn(async move {
                let result = stores.plans.update_plan(&update).await;
                (update, result)
            })
        })
        .collect();

    let mut winners = Vec::new();
    for writer in writers {
        let (update, result) = writer.await.expect("a writer task finishes");
        match result {
            Ok(()) => winners.push(update),
            Err(StoreError::ConditionFailed(_)) => {}
            Err(other) => panic!("a losing update fails its condition, not {other:?}"),
        }
    }

    assert_eq!(winners.len(), 1, "exactly one concurrent update wins");
    assert_eq!(
        stores.plans.get_plan(&stored[0].id).await.unwrap().as_ref(),
        winners.first()
    );
}

/// Paging through one creditor's plans with a small page size answers every plan exactly once,
/// in id order, whatever order they were inserted in; the last page has no `next`, also when
/// it is full.
pub async fn list_pages_return_every_plan_once_in_id_order(stores: &Stores) {
    let seven = unique_creditor_id();
    let six = unique_creditor_id();
    let inserted_seven = insert_plans(stores, &seven, &[PlanStatus::Active; 7]).await;
    let inserted_six = insert_plans(stores, &six, &[PlanStatus::Active; 6]).await;

    let pages_seven = walk_pages(
        stores,
        PlanQuery {
            creditor_id: Some(seven),
            limit: 3,
            ..PlanQuery::default()
        },
    )
    .await;
    let pages_six = walk_pages(
        stores,
        PlanQuery {
            creditor_id: Some(six),
            limit: 3,
            ..PlanQuery::default()
        },
    )
    .await;

    let sizes: Vec<usize> = pages_seven.iter().map(Vec::len).collect();
    assert_eq!(sizes, [3, 3, 1]);
    assert_eq!(pages_seven.concat(), sorted_ids(&inserted_seven));
    let sizes: Vec<usize> = pages_six.iter().map(Vec::len).collect();
    assert_eq!(sizes, [3, 3], "a full last page has no next cursor");
    assert_eq!(pages_six.concat(), sorted_ids(&inserted_six));
}

/// A creditor filter answers only that creditor's plans, and creditor plus status only those
/// with the status.
pub async fn list_filters_by_creditor_and_status(stores: &Stores) {
    let ours = unique_creditor_id();
    let theirs = unique_creditor_id();
    let statuses = [
        PlanStatus::Active,
        PlanStatus::Paused,
        PlanStatus::Active,
        PlanStatus::Cancelled,
        PlanStatus::Active,
        PlanStatus::InDunning,
    ];
    let our_plans = insert_plans(stores, &ours, &statuses).await;
    insert_plans(stores, &theirs, &statuses).await;

    let all_ours = walk_pages(
        stores,
        PlanQuery {
            creditor_id: Some(ours.clone()),
            limit: 4,
            ..PlanQuery::default()
        },
    )
    .await
    .concat();
    let our_active = walk_pages(
        stores,
        PlanQuery {
            creditor_id: Some(ours.clone()),
            status: Some(PlanStatus::Active),
            limit: 2,
            after: None,
        },
    )
    .await
    .concat();
    let our_defaulted = walk_pages(
        stores,
        PlanQuery {
            creditor_id: Some(ours.clone()),
            status: Some(PlanStatus::Defaulted),
            limit: 2,
            after: None,
        },
    )
    .await
    .concat();

    assert_eq!(all_ours, sorted_ids(&our_plans));
    let active: Vec<Plan> = our_plans
        .iter()
        .filter(|plan| plan.status == PlanStatus::Active)
        .cloned()
        .collect();
    assert_eq!(our_active, sorted_ids(&active));
    assert!(our_defaulted.is_empty());
}

/// A status filter without a creditor answers plans of every creditor with that status, in id
/// order. Other checks may share the store, so this only asserts that its own plans are among
/// them and that nothing of another status is.
pub async fn list_without_a_creditor_filters_by_status_alone(stores: &Stores) {
    let first = insert_plans(
        stores,
        &unique_creditor_id(),
        &[PlanStatus::Defaulted, PlanStatus::Completed],
    )
    .await;
    let second = insert_plans(stores, &unique_creditor_id(), &[PlanStatus::Defaulted]).await;
    let query = PlanQuery {
        status: Some(PlanStatus::Defaulted),
        limit: 50,
        ..PlanQuery::default()
    };

    let mut items = Vec::new();
    let mut query = query;
    loop {
        let page = stores.plans.list_plans(&query).await.unwrap();
        items.extend(page.items);
        match page.next {
            Some(next) => query.after = Some(next),
            None => break,
        }
    }

    assert!(
        items
            .iter()
            .all(|plan| plan.status == PlanStatus::Defaulted)
    );
    let ids: Vec<PlanId> = items.iter().map(|plan| plan.id.clone()).collect();
    assert!(
        ids.windows(2).all(|pair| pair[0] < pair[1]),
        "ids ascend, each once"
    );
    let listed: BTreeSet<PlanId> = ids.into_iter().collect();
    assert!(listed.contains(&first[0].id));
    assert!(listed.contains(&second[0].id));
    assert!(!listed.contains(&first[1].id));
}

/// A page size of 0 is raised to 1, so a careless caller still pages forward.
pub async fn list_page_size_is_at_least_one(stores: &Stores) {
    let creditor_id = unique_creditor_id();
    let inserted = insert_plans(stores, &creditor_id, &[PlanStatus::Active; 2]).await;

    let page = stores
        .plans
        .list_plans(&PlanQuery {
            creditor_id: Some(creditor_id),
            limit: 0,
            ..PlanQuery::default()
        })
        .await
        .unwrap();

    assert_eq!(page.items.len(), 1);
    assert_eq!(page.items[0].id, sorted_ids(&inserted)[0]);
    assert!(page.next.is_some());
}

/// The first use of a token before its expiry succeeds and is recorded; the second fails its
/// condition and keeps the first time of use.
pub async fn a_signing_token_can_be_used_only_once(stores: &Stores) {
    let stored = plan(
        &unique_plan_id(),
        &unique_creditor_id(),
        PlanStatus::AwaitingSignature,
    );
    let token = signing_token(&stored);
    stores.plans.insert_plan(&stored, &token).await.unwrap();
    let first_use = token.expires_at - Duration::days(3) + Duration::microseconds(123_456);

    stores
        .plans
        .use_signing_token(&token.token_hash, first_use)
        .await
        .unwrap();
    let second = stores
        .plans
        .use_signing_token(&token.token_hash, first_use + Duration::minutes(1))
        .await;

    assert_condition_failed(second, "using a token twice");
    let read = stores
        .plans
        .get_signing_token(&token.token_hash)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(read.used_at, Some(first_use));
    assert_eq!(read.expires_at, token.expires_at);
    assert_eq!(read.plan_id, stored.id);
}

/// Eight signers submit the same link at once: exactly one use succeeds.
pub async fn concurrent_uses_of_a_signing_token_let_exactly_one_win(stores: &Stores) {
    let stored = plan(
        &unique_plan_id(),
        &unique_creditor_id(),
        PlanStatus::AwaitingSignature,
    );
    let token = signing_token(&stored);
    stores.plans.insert_plan(&stored, &token).await.unwrap();
    let now = token.expires_at - Duration::hours(1);

    let signers: Vec<_> = (0..8)
        .map(|_| {
            let stores = stores.clone();
            let token_hash = token.token_hash.clone();
            tokio::spawn(async move { stores.plans.use_signing_token(&token_hash, now).await })
        })
        .collect();
    let mut wins = 0;
    for signer in signers {
        match signer.await.expect("a signer task finishes") {
            Ok(()) => wins += 1,
            Err(StoreError::ConditionFailed(_)) => {}
            Err(other) => panic!("a losing use fails its condition, not {other:?}"),
        }
    }

    assert_eq!(wins, 1, "exactly one concurrent use wins");
}

/// A token used after, or exactly at, its expiry fails its condition and stays unused; an
/// unknown token fails its condition too.
pub async fn an_expired_or_unknown_signing_token_fails_its_condition(stores: &Stores) {
    let stored = plan(
        &unique_plan_id(),
        &unique_creditor_id(),
        PlanStatus::AwaitingSignature,
    );
    let token = signing_token(&stored);
    stores.plans.insert_plan(&stored, &token).await.unwrap();

    let late = stores
        .plans
        .use_signing_token(&token.token_hash, token.expires_at + Duration::seconds(1))
        .await;
    let on_the_dot = stores
        .plans
        .use_signing_token(&token.token_hash, token.expires_at)
        .await;
    let unknown = stores
        .plans
        .use_signing_token(&unique_token_hash(), token.expires_at - Duration::days(1))
        .await;

    assert_condition_failed(late, "using an expired token");
    assert_condition_failed(on_the_dot, "using a token at its expiry instant");
    assert_condition_failed(unknown, "using an unknown token");
    let read = stores
        .plans
        .get_signing_token(&token.token_hash)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(read.used_at, None);
}

/// A key is claimed once: the second claim, even with another body, fails its condition and
/// leaves the first claim as it was, with no answer yet.
pub async fn an_idempotency_key_is_claimed_only_once(stores: &Stores) {
    let key = unique_idempotency_key();
    let first = idempotency_record(&key);
    let second = idempotency_record(&key);

    stores
        .idempotency
        .claim_idempotency_key(&first)
        .await
        .unwrap();
    let again = stores.idempotency.claim_idempotency_key(&second).await;

    assert_condition_failed(again, "claiming a key twice");
    let read = stores
        .idempotency
        .get_idempotency_record(&key)
        .await
        .unwrap();
    assert_eq!(read, Some(first));
    let unknown = stores
        .idempotency
        .get_idempotency_record(&unique_idempotency_key())
        .await
        .unwrap();
    assert_eq!(unknown, None);
}

/// Eight repeats of one request arrive at once: exactly one claims the key.
pub async fn concurrent_claims_of_an_idempotency_key_let_exactly_one_win(stores: &Stores) {
    let key = unique_idempotency_key();

    let claims: Vec<_> = (0..8)
        .map(|_| {
            let stores = stores.clone();
            let record = idempotency_record(&key);
            tokio::spawn(async move { stores.idempotency.claim_idempotency_key(&record).await })
        })
        .collect();
    let mut wins = 0;
    for claim in claims {
        match claim.await.expect("a claim task finishes") {
            Ok(()) => wins += 1,
            Err(StoreError::ConditionFailed(_)) => {}
            Err(other) => panic!("a losing claim fails its condition, not {other:?}"),
        }
    }

    assert_eq!(wins, 1, "exactly one concurrent claim wins");
}

/// Completing a claimed key stores its answer for every repeat; a second completion and a
/// release both fail their condition and keep the first answer; completing an unclaimed key
/// fails its condition and claims nothing.
pub async fn a_completed_idempotency_key_keeps_its_first_answer(stores: &Stores) {
    let key = unique_idempotency_key();
    let claim = idempotency_record(&key);
    let answer = StoredResponse {
        status: 201,
        body: r#"{"id":"pln_x","status":"awaiting_signature","note":"Grüße"}"#.to_owned(),
    };
    let other_answer = StoredResponse {
        status: 422,
        body: "{}".to_owned(),
    };
    stores
        .idempotency
        .claim_idempotency_key(&claim)
        .await
        .unwrap();

    stores
        .idempotency
        .complete_idempotency_key(&key, &answer)
        .await
        .unwrap();
    let second = stores
        .idempotency
        .complete_idempotency_key(&key, &other_answer)
        .await;
    let release = stores.idempotency.release_idempotency_key(&key).await;

    assert_condition_failed(second, "completing a key twice");
    assert_condition_failed(release, "releasing a completed key");
    let read = stores
        .idempotency
        .get_idempotency_record(&key)
        .await
        .unwrap();
    let expected = IdempotencyRecord {
        response: Some(answer),
        ..claim
    };
    assert_eq!(read, Some(expected));

    let unclaimed = unique_idempotency_key();
    let completed = stores
        .idempotency
        .complete_idempotency_key(&unclaimed, &other_answer)
        .await;
    assert_condition_failed(completed, "completing an unclaimed key");
    assert_eq!(
        stores
            .idempotency
            .get_idempotency_record(&unclaimed)
            .await
            .unwrap(),
        None
    );
}

/// Releasing a claimed key that has no answer frees it for a new claim; releasing an unknown
/// key does nothing.
pub async fn a_released_idempotency_key_can_be_claimed_again(stores: &Stores) {
    let key = unique_idempotency_key();
    stores
        .idempotency
        .claim_idempotency_key(&idempotency_record(&key))
        .await
        .unwrap();

    stores
        .idempotency
        .release_idempotency_key(&key)
        .await
        .unwrap();

    assert_eq!(
        stores
            .idempotency
            .get_idempotency_record(&key)
            .await
            .unwrap(),
        None
    );
    let reclaim = idempotency_record(&key);
    stores
        .idempotency
        .claim_idempotency_key(&reclaim)
        .await
        .unwrap();
    assert_eq!(
        stores
            .idempotency
            .get_idempotency_record(&key)
            .await
            .unwrap(),
        Some(reclaim)
    );
    stores
        .idempotency
        .release_idempotency_key(&unique_idempotency_key())
        .await
        .unwrap();
}

/// A registered API key hash is found, registering it again is harmless, and an unknown hash is
/// not found.
pub async fn api_key_hashes_are_registered_once_and_found(stores: &Stores) {
    let key_hash = sha256_hex(random_token());

    stores.api_keys.add_api_key_hash(&key_hash).await.unwrap();
    stores.api_keys.add_api_key_hash(&key_hash).await.unwrap();

    assert!(
        stores
            .api_keys
            .api_key_hash_exists(&key_hash)
            .await
            .unwrap()
    );
    let unknown = sha256_hex(random_token());
    assert!(!stores.api_keys.api_key_hash_exists(&unknown).await.unwrap());
}

/// A plan awaiting signature with its signing token and invited mandate, and the first event of
/// each: what creating a plan commits, not stored yet.
struct Invitation {
    plan: Plan,
    token: SigningToken,
    mandate: Mandate,
    plan_created: Event,
    mandate_invited: Event,
}

impl Invitation {
    /// A new invitation under a creditor of its own.
    fn new() -> Self {
        let creditor_id = unique_creditor_id();
        let plan = plan(
            &unique_plan_id(),
            &creditor_id,
            PlanStatus::AwaitingSignature,
        );
        let token = signing_token(&plan);
        let mut mandate = mandate(&unique_mandate_id(), &creditor_id, &plan.id);
        mandate.status = MandateStatus::Invited;
        let plan_created = Event::next(
            None,
            &plan.id.0,
            "plan.created",
            plan.created_at,
            "operator",
            json!({"instalments": plan.instalments.len(), "mandate_id": mandate.id}),
        );
        let mandate_invited = Event::next(
            None,
            &mandate.id.0,
            "mandate.invited",
            mandate.created_at,
            "operator",
            json!({"plan_id": plan.id, "reference": mandate.reference}),
        );
        Self {
            plan,
            token,
            mandate,
            plan_created,
            mandate_invited,
        }
    }

    /// The writes of the plan creation, in the order the use case commits them.
    fn writes(&self) -> Vec<Write> {
        vec![
            Write::InsertPlan(self.plan.clone()),
            Write::InsertMandate(self.mandate.clone()),
            Write::InsertSigningToken(self.token.clone()),
            Write::AppendEvent(self.plan_created.clone()),
            Write::AppendEvent(self.mandate_invited.clone()),
        ]
    }

    /// The debtor's signature at `signed_at`, prepared from the stored invitation.
    fn signature(&self, signed_at: DateTime<Utc>) -> Signature {
        let mut mandate = self.mandate.clone();
        mandate.status = MandateStatus::Signed;
        mandate.download_token_hash = Some(unique_token_hash());
        mandate.download_expires_at = Some(signed_at + Duration::days(1));
        mandate.updated_at = signed_at;
        mandate.version += 1;
        let mut plan = self.plan.clone();
        plan.status = PlanStatus::Active;
        plan.mandate_id = Some(mandate.id.0.clone());
        plan.updated_at = signed_at;
        plan.version += 1;
        let signed = Event::next(
            Some(&self.mandate_invited),
            &mandate.id.0,
            "mandate.signed",
            signed_at,
            "debtor",
            json!({"method": "click"}),
        );
        let writes = vec![
            Write::UseSigningToken {
                token_hash: self.token.token_hash.clone(),
                at: signed_at,
            },
            Write::UpdateMandate(mandate.clone()),
            Write::AppendEvent(signed),
            Write::UpdatePlan(plan),
        ];
        Signature { writes, mandate }
    }

    /// A day before the signing link expires.
    fn signing_time(&self) -> DateTime<Utc> {
        self.token.expires_at - Duration::days(1) + Duration::microseconds(654_321)
    }

    /// Asserts that nothing of the invitation is stored.
    async fn assert_absent(&self, stores: &Stores) {
        assert_eq!(stores.plans.get_plan(&self.plan.id).await.unwrap(), None);
        assert_eq!(
            stores.mandates.get_mandate(&self.mandate.id).await.unwrap(),
            None
        );
        assert_eq!(
            stores
                .plans
                .get_signing_token(&self.token.token_hash)
                .await
                .unwrap(),
            None
        );
        assert_eq!(
            stores.events.list_events(&self.plan.id.0).await.unwrap(),
            []
        );
        assert_eq!(
            stores.events.list_events(&self.mandate.id.0).await.unwrap(),
            []
        );
    }
}

/// The debtor's signature as one commit: the token used, the mandate signed with a download
/// link, the event, and last the plan made active.
struct Signature {
    writes: Vec<Write>,
    /// The mandate as the commit stores it.
    mandate: Mandate,
}

/// Commits a new [`Invitation`] and answers it.
async fn commit_invitation(stores: &Stores) -> Invitation {
    let invitation = Invitation::new();
    stores
        .transactions
        .commit(&invitation.writes())
        .await
        .expect("a new invitation is committed");
    invitation
}

/// Stores the fixture mandate under a new id, creditor and plan, and answers it.
async fn insert_mandate(stores: &Stores) -> Mandate {
    let mandate = mandate(
        &unique_mandate_id(),
        &unique_creditor_id(),
        &unique_plan_id(),
    );
    stores
        .transactions
        .commit(&[Write::InsertMandate(mandate.clone())])
        .await
        .expect("a new mandate is inserted");
    mandate
}

/// A chain of `count` events for one aggregate, all at the same instant, so only `seq` orders
/// them.
fn numbered_events(aggregate_id: &str, count: u64) -> Vec<Event> {
    let mut events: Vec<Event> = Vec::new();
    for n in 1..=count {
        let event = Event::next(
            events.last(),
            aggregate_id,
            "plan.instalment_planned",
            at("2027-01-04T09:30:00.000001Z"),
            "system",
            json!({"instalment": n}),
        );
        events.push(event);
    }
    events
}

/// A mandate inserted through a commit reads back equal, its whole body included (debtor,
/// evidence, document, amendments, microsecond timestamps); an unknown id reads as `None`.
pub async fn an_inserted_mandate_reads_back_as_stored(stores: &Stores) {
    let mandate = mandate(
        &unique_mandate_id(),
        &unique_creditor_id(),
        &unique_plan_id(),
    );

    stores
        .transactions
        .commit(&[Write::InsertMandate(mandate.clone())])
        .await
        .unwrap();

    assert_eq!(
        stores.mandates.get_mandate(&mandate.id).await.unwrap(),
        Some(mandate)
    );
    assert_eq!(
        stores
            .mandates
            .get_mandate(&unique_mandate_id())
            .await
            .unwrap(),
        None
    );
}

/// Inserting a mandate whose id exists fails its condition and leaves the stored one as it was;
/// the refused insert holds no claim on its own reference afterwards.
pub async fn a_duplicate_mandate_id_fails_its_condition_and_keeps_the_stored_mandate(
    stores: &Stores,
) {
    let stored = insert_mandate(stores).await;
    let mut impostor = mandate(&stored.id, &unique_creditor_id(), &unique_plan_id());
    impostor.status = MandateStatus::Invited;

    let result = stores
        .transactions
        .commit(&[Write::InsertMandate(impostor.clone())])
        .await;

    assert_condition_failed(result, "inserting a mandate id twice");
    assert_eq!(
        stores.mandates.get_mandate(&stored.id).await.unwrap(),
        Some(stored)
    );
    let mut retry = impostor;
    retry.id = unique_mandate_id();
    stores
        .transactions
        .commit(&[Write::InsertMandate(retry.clone())])
        .await
        .expect("the reference of a refused insert is free");
    assert_eq!(
        stores.mandates.get_mandate(&retry.id).await.unwrap(),
        Some(retry)
    );
}

/// A second mandate with the same reference under the same creditor fails its condition and is
/// not stored; the same reference under another creditor is a different mandate and is stored.
pub async fn a_mandate_reference_is_unique_per_creditor_only(stores: &Stores) {
    let creditor_id = unique_creditor_id();
    let first = mandate(&unique_mandate_id(), &creditor_id, &unique_plan_id());
    stores
        .transactions
        .commit(&[Write::InsertMandate(first.clone())])
        .await
        .unwrap();
    let mut same_creditor = mandate(&unique_mandate_id(), &creditor_id, &unique_plan_id());
    same_creditor.reference = first.reference.clone();
    let mut other_creditor = mandate(
        &unique_mandate_id(),
        &unique_creditor_id(),
        &unique_plan_id(),
    );
    other_creditor.reference = first.reference.clone();

    let clash = stores
        .transactions
        .commit(&[Write::InsertMandate(same_creditor.clone())])
        .await;
    let elsewhere = stores
        .transactions
        .commit(&[Write::InsertMandate(other_creditor.clone())])
        .await;

    assert_condition_failed(clash, "reusing a reference under one creditor");
    assert_eq!(
        stores
            .mandates
            .get_mandate(&same_creditor.id)
            .await
            .unwrap(),
        None
    );
    assert!(
        elsewhere.is_ok(),
        "another creditor may use the same reference: {elsewhere:?}"
    );
    assert_eq!(
        stores
            .mandates
            .get_mandate(&other_creditor.id)
            .await
            .unwrap(),
        Some(other_creditor)
    );
    assert_eq!(
        stores.mandates.get_mandate(&first.id).await.unwrap(),
        Some(first)
    );
}

/// An update carrying the stored version plus one replaces the mandate; an update from a stale
/// version, or one that skips a version, fails its condition and changes nothing.
pub async fn a_mandate_update_at_the_next_version_succeeds_and_a_stale_one_fails(stores: &Stores) {
    let stored = insert_mandate(stores).await;
    let mut active = stored.clone();
    active.status = MandateStatus::Active;
    active.document_key = Some(format!("mandates/{}.pdf", active.id));
    active.updated_at = at("2027-03-01T06:00:00.000042Z");
    active.version = 2;

    stores
        .transactions
        .commit(&[Write::UpdateMandate(active.clone())])
        .await
        .unwrap();

    assert_eq!(
        stores.mandates.get_mandate(&active.id).await.unwrap(),
        Some(active.clone())
    );

    // A writer that read version 1 and did not see the first collection.
    let mut stale = stored.clone();
    stale.status = MandateStatus::Cancelled;
    stale.version = 2;
    assert_condition_failed(
        stores
            .transactions
            .commit(&[Write::UpdateMandate(stale)])
            .await,
        "a stale mandate update",
    );

    // A writer that skips a version.
    let mut skipping = active.clone();
    skipping.status = MandateStatus::Expired;
    skipping.version = 4;
    assert_condition_failed(
        stores
            .transactions
            .commit(&[Write::UpdateMandate(skipping)])
            .await,
        "a skipping mandate update",
    );

    assert_eq!(
        stores.mandates.get_mandate(&active.id).await.unwrap(),
        Some(active)
    );
}

/// Updating a mandate that was never inserted fails its condition and does not create it.
pub async fn an_update_of_an_unknown_mandate_fails_its_condition(stores: &Stores) {
    let mut ghost = mandate(
        &unique_mandate_id(),
        &unique_creditor_id(),
        &unique_plan_id(),
    );
    ghost.version = 2;

    let result = stores
        .transactions
        .commit(&[Write::UpdateMandate(ghost.clone())])
        .await;

    assert_condition_failed(result, "updating an unknown mandate");
    assert_eq!(stores.mandates.get_mandate(&ghost.id).await.unwrap(), None);
}

/// Eight writers that all read version 1 of a mandate update it at once: exactly one wins, and
/// the stored mandate is the winner's.
pub async fn concurrent_mandate_updates_from_one_version_let_exactly_one_win(stores: &Stores) {
    let stored = insert_mandate(stores).await;
    let writers: Vec<_> = (0..8)
        .map(|n| {
            let stores = stores.clone();
            let mut update = stored.clone();
            update.document_key = Some(format!("mandates/writer-{n}.pdf"));
            update.version = 2;
            tokio::spawn(async move {
                let result = stores
                    .transactions
                    .commit(&[Write::UpdateMandate(update.clone())])
                    .await;
                (update, result)
            })
        })
        .collect();

    let mut winners = Vec::new();
    for writer in writers {
        let (update, result) = writer.await.expect("a writer task finishes");
        match result {
            Ok(()) => winners.push(update),
            Err(StoreError::ConditionFailed(_)) => {}
            Err(other) => panic!("a losing update fails its condition, not {other:?}"),
        }
    }

    assert_eq!(winners.len(), 1, "exactly one concurrent update wins");
    assert_eq!(
        stores
            .mandates
            .get_mandate(&stored.id)
            .await
            .unwrap()
            .as_ref(),
        winners.first()
    );
}

/// A download token hash finds nothing until an update gives it to a mandate, then finds that
/// mandate as stored; a new link replaces the old one, and clearing the link removes it. An
/// unknown hash finds nothing.
pub async fn a_mandate_is_found_by_its_download_token_only_while_it_carries_it(stores: &Stores) {
    let stored = insert_mandate(stores).await;
    let first_link = unique_token_hash();
    let second_link = unique_token_hash();
    let by_link = |hash: String| {
        let stores = stores.clone();
        async move {
            stores
                .mandates
                .get_mandate_by_download_token(&hash)
                .await
                .expect("a lookup by download link answers")
        }
    };

    assert_eq!(by_link(first_link.clone()).await, None);

    let mut linked = stored.clone();
    linked.download_token_hash = Some(first_link.clone());
    linked.download_expires_at = Some(at("2027-01-07T18:42:07.123456Z"));
    linked.version = 2;
    stores
        .transactions
        .commit(&[Write::UpdateMandate(linked.clone())])
        .await
        .unwrap();

    assert_eq!(by_link(first_link.clone()).await, Some(linked.clone()));
    assert_eq!(by_link(unique_token_hash()).await, None);

    let mut relinked = linked.clone();
    relinked.download_token_hash = Some(second_link.clone());
    relinked.version = 3;
    stores
        .transactions
        .commit(&[Write::UpdateMandate(relinked.clone())])
        .await
        .unwrap();

    assert_eq!(by_link(first_link).await, None, "the old link is gone");
    assert_eq!(by_link(second_link.clone()).await, Some(relinked.clone()));

    let mut unlinked = relinked;
    unlinked.download_token_hash = None;
    unlinked.download_expires_at = None;
    unlinked.version = 4;
    stores
        .transactions
        .commit(&[Write::UpdateMandate(unlinked)])
        .await
        .unwrap();

    assert_eq!(by_link(second_link).await, None, "a cleared link is gone");
}

/// Twelve events appended out of order, a few per commit and interleaved with two other
/// aggregates' events, come back in `seq` order (10 after 9, not after 1); each aggregate gets
/// only its own, although one id starts with the other; an unknown aggregate has none.
pub async fn events_come_back_in_seq_order_without_other_aggregates(stores: &Stores) {
    let aggregate = random_id("mnd");
    let longer = format!("{aggregate}7");
    let shorter = aggregate[..aggregate.len() - 1].to_owned();
    let ours = numbered_events(&aggregate, 12);
    let theirs = numbered_events(&longer, 3);
    let shorter_events = numbered_events(&shorter, 2);
    let append_order = [7, 2, 11, 1, 12, 4, 9, 3, 10, 6, 5, 8];

    for (i, seqs) in append_order.chunks(3).enumerate() {
        let mut writes: Vec<Write> = seqs
            .iter()
            .map(|&seq| Write::AppendEvent(ours[seq - 1].clone()))
            .collect();
        writes.extend(theirs.get(i).cloned().map(Write::AppendEvent));
        writes.extend(shorter_events.get(i).cloned().map(Write::AppendEvent));
        stores.transactions.commit(&writes).await.unwrap();
    }

    assert_eq!(stores.events.list_events(&aggregate).await.unwrap(), ours);
    assert_eq!(stores.events.list_events(&longer).await.unwrap(), theirs);
    assert_eq!(
        stores.events.list_events(&shorter).await.unwrap(),
        shorter_events
    );
    assert_eq!(
        stores.events.list_events(&random_id("mnd")).await.unwrap(),
        []
    );
}

/// Appending an event whose `(aggregate_id, seq)` is stored fails its condition, whatever its
/// content, and the stored event stays; the same `seq` in another aggregate is no clash.
pub async fn an_event_with_an_existing_seq_fails_its_condition_and_keeps_the_first(
    stores: &Stores,
) {
    let aggregate = random_id("mnd");
    let chain = event_chain(&aggregate);
    stores
        .transactions
        .commit(&[
            Write::AppendEvent(chain[0].clone()),
            Write::AppendEvent(chain[1].clone()),
        ])
        .await
        .unwrap();
    let forged = Event::next(
        Some(&chain[0]),
        &aggregate,
        "mandate.cancelled",
        chain[1].at,
        "operator",
        json!({"reason": "forged"}),
    );

    let over_the_second = stores
        .transactions
        .commit(&[Write::AppendEvent(forged)])
        .await;
    let the_first_again = stores
        .transactions
        .commit(&[Write::AppendEvent(chain[0].clone())])
        .await;

    assert_condition_failed(over_the_second, "appending a seq that is stored");
    assert_condition_failed(the_first_again, "appending the same event twice");
    assert_eq!(
        stores.events.list_events(&aggregate).await.unwrap(),
        chain[..2]
    );
    let elsewhere = event_chain(&random_id("mnd"));
    stores
        .transactions
        .commit(&[Write::AppendEvent(elsewhere[0].clone())])
        .await
        .expect("seq 1 of another aggregate is no clash");
}

/// Eight writers append the next event of one aggregate at once: exactly one wins, and the log
/// holds the first event and the winner's.
pub async fn concurrent_appends_of_one_seq_let_exactly_one_win(stores: &Stores) {
    let aggregate = random_id("pln");
    let first = numbered_events(&aggregate, 1).remove(0);
    stores
        .transactions
        .commit(&[Write::AppendEvent(first.clone())])
        .await
        .unwrap();
    let writers: Vec<_> = (0..8)
        .map(|n| {
            let stores = stores.clone();
            let event = Event::next(
                Some(&first),
                &aggregate,
                "plan.paused",
                first.at + Duration::seconds(1),
                "operator",
                json!({"writer": n}),
            );
            tokio::spawn(async move {
                let result = stores
                    .transactions
                    .commit(&[Write::AppendEvent(event.clone())])
                    .await;
                (event, result)
            })
        })
        .collect();

    let mut winners = Vec::new();
    for writer in writers {
        let (event, result) = writer.await.expect("a writer task finishes");
        match result {
            Ok(()) => winners.push(event),
            Err(StoreError::ConditionFailed(_)) => {}
            Err(other) => panic!("a losing append fails its condition, not {other:?}"),
        }
    }

    assert_eq!(winners.len(), 1, "exactly one concurrent append wins");
    let mut expected = vec![first];
    expected.extend(winners);
    assert_eq!(
        stores.events.list_events(&aggregate).await.unwrap(),
        expected
    );
}

/// A mandate's hash chain (`Event::next`), appended over several commits, comes back equal field
/// by field and verifies with `verify_chain`: the store keeps the `data` JSON exactly (large
/// integers, escapes, non-ASCII text, nulls, empty containers) and the time to the microsecond.
pub async fn an_event_chain_verifies_after_a_round_trip_through_the_store(stores: &Stores) {
    let aggregate = random_id("mnd");
    let chain = event_chain(&aggregate);
    let (first_commit, later) = chain.split_at(2);

    stores
        .transactions
        .commit(
            &first_commit
                .iter()
                .cloned()
                .map(Write::AppendEvent)
                .collect::<Vec<_>>(),
        )
        .await
        .unwrap();
    for event in later {
        stores
            .transactions
            .commit(&[Write::AppendEvent(event.clone())])
            .await
            .unwrap();
    }
    let listed = stores.events.list_events(&aggregate).await.unwrap();

    assert_eq!(verify_chain(&listed), Ok(()));
    assert_eq!(listed, chain);
}

/// One commit of a plan, its mandate, its signing token and two events stores all of them,
/// each readable afterwards as written.
pub async fn a_commit_applies_every_write_in_it(stores: &Stores) {
    let invitation = Invitation::new();

    stores
        .transactions
        .commit(&invitation.writes())
        .await
        .unwrap();

    assert_eq!(
        stores.plans.get_plan(&invitation.plan.id).await.unwrap(),
        Some(invitation.plan.clone())
    );
    assert_eq!(
        stores
            .mandates
            .get_mandate(&invitation.mandate.id)
            .await
            .unwrap(),
        Some(invitation.mandate.clone())
    );
    assert_eq!(
        stores
            .plans
            .get_signing_token(&invitation.token.token_hash)
            .await
            .unwrap(),
        Some(invitation.token.clone())
    );
    assert_eq!(
        stores
            .events
            .list_events(&invitation.plan.id.0)
            .await
            .unwrap(),
        [invitation.plan_created]
    );
    assert_eq!(
        stores
            .events
            .list_events(&invitation.mandate.id.0)
            .await
            .unwrap(),
        [invitation.mandate_invited]
    );
}

/// A commit whose last write is an event at a stored `(aggregate_id, seq)` fails its condition
/// and stores none of its earlier writes: no plan, no mandate, no token, no other event. Nor
/// does it hold any key: the same writes without the clashing event then go through.
pub async fn a_commit_whose_last_write_fails_leaves_nothing_of_the_earlier_writes(stores: &Stores) {
    let other_aggregate = random_id("mnd");
    let existing = event_chain(&other_aggregate).remove(0);
    stores
        .transactions
        .commit(&[Write::AppendEvent(existing.clone())])
        .await
        .unwrap();
    let clash = Event::next(
        None,
        &other_aggregate,
        "mandate.invited",
        existing.at,
        "system",
        json!({"clash": true}),
    );
    let invitation = Invitation::new();
    let mut writes = invitation.writes();
    writes.push(Write::AppendEvent(clash));

    let result = stores.transactions.commit(&writes).await;

    assert_condition_failed(result, "a commit ending in a stored event");
    invitation.assert_absent(stores).await;
    assert_eq!(
        stores.events.list_events(&other_aggregate).await.unwrap(),
        [existing]
    );
    stores
        .transactions
        .commit(&invitation.writes())
        .await
        .expect("a refused commit holds no ids, reference or token hash");
}

/// A signature prepared from version 1 of a plan that another writer has changed meanwhile: its
/// last write, the plan update, fails its condition, so the token stays unused, the mandate
/// keeps its version and has no download link, and no event is added.
pub async fn a_commit_ending_in_a_stale_plan_update_leaves_the_token_and_the_mandate_as_they_were(
    stores: &Stores,
) {
    let invitation = commit_invitation(stores).await;
    let mut paused = invitation.plan.clone();
    paused.status = PlanStatus::Paused;
    paused.version = 2;
    stores.plans.update_plan(&paused).await.unwrap();
    let signature = invitation.signature(invitation.signing_time());
    let link = signature.mandate.download_token_hash.clone().unwrap();

    let result = stores.transactions.commit(&signature.writes).await;

    assert_condition_failed(result, "a signature over a changed plan");
    let token = stores
        .plans
        .get_signing_token(&invitation.token.token_hash)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(token.used_at, None, "the token is still unused");
    assert_eq!(
        stores
            .mandates
            .get_mandate(&invitation.mandate.id)
            .await
            .unwrap(),
        Some(invitation.mandate.clone())
    );
    assert_eq!(
        stores
            .mandates
            .get_mandate_by_download_token(&link)
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        stores
            .events
            .list_events(&invitation.mandate.id.0)
            .await
            .unwrap(),
        [invitation.mandate_invited]
    );
    assert_eq!(
        stores.plans.get_plan(&paused.id).await.unwrap(),
        Some(paused)
    );
}

/// A commit whose first write fails its condition (a mandate id that exists) applies none of
/// the writes after it, though each of them alone would succeed.
pub async fn a_commit_whose_first_write_fails_applies_none_of_the_later_ones(stores: &Stores) {
    let stored = insert_mandate(stores).await;
    let mut duplicate = mandate(&stored.id, &unique_creditor_id(), &unique_plan_id());
    duplicate.status = MandateStatus::Invited;
    let invitation = Invitation::new();
    let mut writes = vec![Write::InsertMandate(duplicate)];
    writes.extend(invitation.writes());

    let result = stores.transactions.commit(&writes).await;

    assert_condition_failed(result, "a commit starting with a stored mandate id");
    invitation.assert_absent(stores).await;
    assert_eq!(
        stores.mandates.get_mandate(&stored.id).await.unwrap(),
        Some(stored)
    );
}

/// The signature commit uses the token once and applies all its writes; a second commit with
/// the same token (a replayed link) fails its condition and stores none of its other writes,
/// and the token keeps its first time of use.
pub async fn a_signing_token_used_in_a_commit_fails_a_second_commit_and_rolls_it_back(
    stores: &Stores,
) {
    let invitation = commit_invitation(stores).await;
    let signed_at = invitation.signing_time();
    let signature = invitation.signature(signed_at);

    stores.transactions.commit(&signature.writes).await.unwrap();

    let token = stores
        .plans
        .get_signing_token(&invitation.token.token_hash)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(token.used_at, Some(signed_at));
    assert_eq!(
        stores
            .mandates
            .get_mandate(&invitation.mandate.id)
            .await
            .unwrap(),
        Some(signature.mandate)
    );

    let mut replayed = mandate(
        &unique_mandate_id(),
        &invitation.plan.creditor_id,
        &invitation.plan.id,
    );
    replayed.status = MandateStatus::Signed;
    let replayed_event = Event::next(
        None,
        &replayed.id.0,
        "mandate.signed",
        signed_at + Duration::minutes(5),
        "debtor",
        json!({"method": "click"}),
    );
    let replay = stores
        .transactions
        .commit(&[
            Write::InsertMandate(replayed.clone()),
            Write::AppendEvent(replayed_event),
            Write::UseSigningToken {
                token_hash: invitation.token.token_hash.clone(),
                at: signed_at + Duration::minutes(5),
            },
        ])
        .await;

    assert_condition_failed(replay, "a second commit with a used token");
    assert_eq!(
        stores.mandates.get_mandate(&replayed.id).await.unwrap(),
        None
    );
    assert_eq!(stores.events.list_events(&replayed.id.0).await.unwrap(), []);
    let token = stores
        .plans
        .get_signing_token(&invitation.token.token_hash)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(token.used_at, Some(signed_at), "the first use is kept");
}

/// A token used in a commit at its expiry instant, or a token that does not exist, fails the
/// commit and rolls back the mandate written before it; the unknown token is not created.
pub async fn an_expired_or_unknown_signing_token_fails_a_commit_and_rolls_it_back(stores: &Stores) {
    let invitation = commit_invitation(stores).await;
    let creditor_id = &invitation.plan.creditor_id;
    let late = mandate(&unique_mandate_id(), creditor_id, &invitation.plan.id);
    let unknown = mandate(&unique_mandate_id(), creditor_id, &invitation.plan.id);
    let unknown_hash = unique_token_hash();

    let expired = stores
        .transactions
        .commit(&[
            Write::InsertMandate(late.clone()),
            Write::UseSigningToken {
                token_hash: invitation.token.token_hash.clone(),
                at: invitation.token.expires_at,
            },
        ])
        .await;
    let missing = stores
        .transactions
        .commit(&[
            Write::InsertMandate(unknown.clone()),
            Write::UseSigningToken {
                token_hash: unknown_hash.clone(),
                at: invitation.signing_time(),
            },
        ])
        .await;

    assert_condition_failed(expired, "a commit using an expired token");
    assert_condition_failed(missing, "a commit using an unknown token");
    assert_eq!(stores.mandates.get_mandate(&late.id).await.unwrap(), None);
    assert_eq!(
        stores.mandates.get_mandate(&unknown.id).await.unwrap(),
        None
    );
    assert_eq!(
        stores.plans.get_signing_token(&unknown_hash).await.unwrap(),
        None,
        "using an unknown token does not create it"
    );
    let token = stores
        .plans
        .get_signing_token(&invitation.token.token_hash)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(token.used_at, None);
}

/// Eight signers submit the same link at once, each commit using the token and storing a mandate
/// and an event of its own: exactly one commit wins, and only its mandate and event are stored.
pub async fn concurrent_signature_commits_with_one_token_let_exactly_one_win(stores: &Stores) {
    let invitation = commit_invitation(stores).await;
    let signed_at = invitation.signing_time();
    let signers: Vec<_> = (0..8)
        .map(|_| {
            let stores = stores.clone();
            let mandate = mandate(
                &unique_mandate_id(),
                &invitation.plan.creditor_id,
                &invitation.plan.id,
            );
            let event = Event::next(
                None,
                &mandate.id.0,
                "mandate.signed",
                signed_at,
                "debtor",
                json!({"method": "click"}),
            );
            let writes = vec![
                Write::UseSigningToken {
                    token_hash: invitation.token.token_hash.clone(),
                    at: signed_at,
                },
                Write::InsertMandate(mandate.clone()),
                Write::AppendEvent(event.clone()),
            ];
            tokio::spawn(async move {
                let result = stores.transactions.commit(&writes).await;
                (mandate, event, result)
            })
        })
        .collect();

    let mut wins = 0;
    for signer in signers {
        let (mandate, event, result) = signer.await.expect("a signer task finishes");
        let stored = stores.mandates.get_mandate(&mandate.id).await.unwrap();
        let events = stores.events.list_events(&mandate.id.0).await.unwrap();
        match result {
            Ok(()) => {
                wins += 1;
                assert_eq!(stored, Some(mandate));
                assert_eq!(events, [event]);
            }
            Err(StoreError::ConditionFailed(_)) => {
                assert_eq!(stored, None, "a losing commit stores no mandate");
                assert_eq!(events, [], "a losing commit stores no event");
            }
            Err(other) => panic!("a losing commit fails its condition, not {other:?}"),
        }
    }

    assert_eq!(wins, 1, "exactly one concurrent signature wins");
}

/// A batched first collection of instalment `seq` of a new plan of `creditor_id`, with a fresh
/// EndToEndId and mandate reference.
fn batched_collection(creditor_id: &CreditorId, seq: u32) -> Collection {
    let plan = plan(&unique_plan_id(), creditor_id, PlanStatus::Active);
    let instalment = &plan.instalments[seq as usize - 1];
    Collection {
        id: Collection::id_for(&plan.id, seq, 1),
        creditor_id: creditor_id.clone(),
        plan_id: plan.id.clone(),
        mandate_id: unique_mandate_id(),
        instalment_seq: seq,
        attempt: 1,
        end_to_end_id: format!("TR{}", random_reference(24)),
        amount: instalment.amount,
        collection_date: instalment.due_date,
        scheme: plan.scheme,
        sequence_type: SequenceType::First,
        amendment: None,
        mandate_reference: unique_mandate_reference(),
        mandate_signed_on: instalment.due_date - Duration::days(30),
        debtor_name: plan.debtor.name.clone(),
        debtor_address: plan.debtor.address.clone(),
        debtor_iban: creditor(creditor_id).iban,
        debtor_bic: None,
        remittance: format!("Plan {} {seq}/{}", plan.id, plan.instalments.len()),
        status: CollectionStatus::Batched,
        batch_id: Some(random_id("bat")),
        status_reason: None,
        r_transaction: None,
        created_at: at("2027-02-15T06:00:00.125Z"),
        updated_at: at("2027-02-15T06:00:01.5Z"),
        event_head: None,
        version: 2,
    }
}

fn by_id(mut collections: Vec<Collection>) -> Vec<Collection> {
    collections.sort_by(|a, b| a.id.cmp(&b.id));
    collections
}

/// `get_collections_by_end_to_end_ids` answers the stored collections the list names, each
/// once even when named twice, leaves unknown ids out, reads a list longer than a page whole,
/// and answers nothing for an empty list.
pub async fn collections_are_found_by_their_end_to_end_ids_each_once(stores: &Stores) {
    let creditor_id = unique_creditor_id();
    let stored: Vec<Collection> = (1..=3)
        .map(|seq| batched_collection(&creditor_id, seq))
        .collect();
    let inserts: Vec<Write> = stored
        .iter()
        .cloned()
        .map(Write::InsertCollection)
        .collect();
    stores.transactions.commit(&inserts).await.unwrap();
    let unknown = || format!("TR{}", random_reference(24));
    let mut long: Vec<String> = (0..600).map(|_| unknown()).collect();
    long.push(stored[1].end_to_end_id.clone());

    let named = stores
        .collections
        .get_collections_by_end_to_end_ids(&[
            stored[0].end_to_end_id.clone(),
            unknown(),
            stored[2].end_to_end_id.clone(),
            stored[0].end_to_end_id.clone(),
        ])
        .await
        .unwrap();
    let from_long = stores
        .collections
        .get_collections_by_end_to_end_ids(&long)
        .await
        .unwrap();
    let from_none = stores
        .collections
        .get_collections_by_end_to_end_ids(&[])
        .await
        .unwrap();

    assert_eq!(
        by_id(named),
        by_id(vec![stored[0].clone(), stored[2].clone()])
    );
    assert_eq!(from_long, [stored[1].clone()]);
    assert!(from_none.is_empty());
}

/// `get_plans` and `get_mandates` answer the stored rows the list names, each once even when
/// named twice, leave unknown ids out, read a list longer than a page whole, and answer nothing
/// for an empty list.
pub async fn plans_and_mandates_are_read_by_their_ids_each_once(stores: &Stores) {
    let creditor_id = unique_creditor_id();
    let plans: Vec<Plan> = (0..3)
        .map(|_| plan(&unique_plan_id(), &creditor_id, PlanStatus::Active))
        .collect();
    let mandates: Vec<Mandate> = plans
        .iter()
        .map(|p| mandate(&unique_mandate_id(), &creditor_id, &p.id))
        .collect();
    for p in &plans {
        stores
            .plans
            .insert_plan(p, &signing_token(p))
            .await
            .unwrap();
    }
    let inserts: Vec<Write> = mandates.iter().cloned().map(Write::InsertMandate).collect();
    stores.transactions.commit(&inserts).await.unwrap();
    let mut long_plans: Vec<PlanId> = (0..600).map(|_| unique_plan_id()).collect();
    long_plans.push(plans[1].id.clone());
    let mut long_mandates: Vec<_> = (0..600).map(|_| unique_mandate_id()).collect();
    long_mandates.push(mandates[1].id.clone());

    let mut named_plans = stores
        .plans
        .get_plans(&[
            plans[0].id.clone(),
            unique_plan_id(),
            plans[2].id.clone(),
            plans[0].id.clone(),
        ])
        .await
        .unwrap();
    let mut named_mandates = stores
        .mandates
        .get_mandates(&[
            mandates[2].id.clone(),
            mandates[0].id.clone(),
            unique_mandate_id(),
            mandates[2].id.clone(),
        ])
        .await
        .unwrap();
    named_plans.sort_by(|a, b| a.id.0.cmp(&b.id.0));
    named_mandates.sort_by(|a, b| a.id.0.cmp(&b.id.0));
    let mut expected_plans = vec![plans[0].clone(), plans[2].clone()];
    expected_plans.sort_by(|a, b| a.id.0.cmp(&b.id.0));
    let mut expected_mandates = vec![mandates[0].clone(), mandates[2].clone()];
    expected_mandates.sort_by(|a, b| a.id.0.cmp(&b.id.0));

    assert_eq!(named_plans, expected_plans);
    assert_eq!(named_mandates, expected_mandates);
    assert_eq!(
        stores.plans.get_plans(&long_plans).await.unwrap(),
        [plans[1].clone()]
    );
    assert_eq!(
        stores.mandates.get_mandates(&long_mandates).await.unwrap(),
        [mandates[1].clone()]
    );
    assert!(stores.plans.get_plans(&[]).await.unwrap().is_empty());
    assert!(stores.mandates.get_mandates(&[]).await.unwrap().is_empty());
}

/// A self-service link's token: stored once, read back as stored (an expired one too: expiry is
/// the caller's check), a second insert of its hash fails, an unknown hash reads as none.
pub async fn a_self_service_token_reads_back_and_its_hash_is_taken_once(stores: &Stores) {
    let plan_id = unique_plan_id();
    let token = SelfServiceToken {
        token_hash: unique_token_hash(),
        plan_id: plan_id.clone(),
        expires_at: at("2027-02-01T10:00:00.123456Z"),
        created_at: at("2026-12-18T10:00:00.654321Z"),
    };
    stores
        .plans
        .insert_self_service_token(&token)
        .await
        .unwrap();

    let again = SelfServiceToken {
        plan_id: unique_plan_id(),
        ..token.clone()
    };
    assert_condition_failed(
        stores.plans.insert_self_service_token(&again).await,
        "inserting a self-service token hash twice",
    );
    let read = stores
        .plans
        .get_self_service_token(&token.token_hash)
        .await
        .unwrap();
    assert_eq!(read, Some(token));
    let unknown = stores
        .plans
        .get_self_service_token(&unique_token_hash())
        .await
        .unwrap();
    assert_eq!(unknown, None);
}

/// Self-service links stored in one call (a group of failure notices) each read back as
/// stored; a call that holds a hash taken already fails its condition.
pub async fn self_service_tokens_stored_at_once_each_read_back_and_a_taken_hash_fails(
    stores: &Stores,
) {
    let tokens: Vec<SelfServiceToken> = (0..3)
        .map(|_| SelfServiceToken {
            token_hash: unique_token_hash(),
            plan_id: unique_plan_id(),
            expires_at: at("2027-02-01T10:00:00.123456Z"),
            created_at: at("2026-12-18T10:00:00.654321Z"),
        })
        .collect();

    stores
        .plans
        .insert_self_service_tokens(&tokens)
        .await
        .unwrap();

    for token in &tokens {
        let read = stores
            .plans
            .get_self_service_token(&token.token_hash)
            .await
            .unwrap();
        assert_eq!(read.as_ref(), Some(token));
    }
    let taken = SelfServiceToken {
        plan_id: unique_plan_id(),
        ..tokens[1].clone()
    };
    assert_condition_failed(
        stores.plans.insert_self_service_tokens(&[taken]).await,
        "storing a self-service token hash that is taken",
    );
    stores.plans.insert_self_service_tokens(&[]).await.unwrap();
}

/// A plan carrying what plan actions add (payments received outside, a pause, a waiting
/// self-service request, the count of changes) round-trips through an update.
pub async fn a_plan_changed_by_plan_actions_reads_back_as_stored(stores: &Stores) {
    use tranche_domain::money::Amount;
    use tranche_domain::plan_actions::{OutsidePayment, Pause, PauseMode, PaymentEffect};
    use tranche_domain::self_service::{PendingRequest, SelfServiceRequest};

    let stored = plan(&unique_plan_id(), &unique_creditor_id(), PlanStatus::Active);
    let token = signing_token(&stored);
    stores.plans.insert_plan(&stored, &token).await.unwrap();
    let mut changed = stored.clone();
    changed.status = PlanStatus::Paused;
    changed.received_outside = vec![OutsidePayment {
        amount: Amount::parse("123.45").unwrap(),
        received_on: "2027-03-09".parse().unwrap(),
        reference: Some("Überweisung \"4711\"".to_owned()),
        effect: PaymentEffect::LowerInstalments,
    }];
    changed.pause = Some(Pause {
        from: "2027-04-01".parse().unwrap(),
        until: None,
        mode: PauseMode::AppendAtEnd,
    });
    changed.pending_request = Some(PendingRequest {
        request: SelfServiceRequest::Spread { count: 30 },
        task_id: "tsk_self_service_x_2".to_owned(),
        asked_on: "2027-03-10".parse().unwrap(),
        beyond: vec!["instalments: 30 left, the limit is 24".to_owned()],
    });
    changed.self_service_changes = 2;
    changed.version += 1;
    stores.plans.update_plan(&changed).await.unwrap();

    let read = stores.plans.get_plan(&stored.id).await.unwrap();
    assert_eq!(read, Some(changed));
}

/// An open batch of `creditor_id` at revision 1, of round `round`, with one `FRST` block.
fn open_batch(creditor_id: &CreditorId, round: u32) -> Batch {
    let message_id = format!("TR{}", random_reference(20));
    Batch {
        id: format!("bat_{}", message_id.to_ascii_lowercase()),
        message_id: message_id.clone(),
        creditor_id: creditor_id.clone(),
        scheme: tranche_domain::plan::Scheme::Core,
        collection_date: "2027-03-01".parse().unwrap(),
        round,
        part: 1,
        version: tranche_domain::pain008::Pain008Version::V08,
        file_key: format!("batches/{creditor_id}/2027-03-01/{message_id}.xml"),
        number_of_transactions: 1,
        control_sum: "12.50".parse().unwrap(),
        payment_informations: vec![PaymentInformationRef {
            id: format!("{message_id}-1"),
            sequence_type: SequenceType::First,
            number_of_transactions: 1,
            control_sum_cents: 1250,
        }],
        created_at: at("2027-02-15T06:00:00.125Z"),
        status: BatchStatus::Open,
        revision: 1,
    }
}

/// Every unfinished batch of `creditor_id`, walking `unfinished_batches` page by page.
async fn unfinished_of(stores: &Stores, creditor_id: &CreditorId, limit: u32) -> Vec<Batch> {
    let mut found = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let page = stores
            .collections
            .unfinished_batches(after.as_deref(), limit)
            .await
            .unwrap();
        found.extend(
            page.items
                .into_iter()
                .filter(|b| b.creditor_id == *creditor_id),
        );
        match page.next {
            Some(next) => after = Some(next),
            None => return found,
        }
    }
}

/// The batch generator's steps on the store: a batch inserted open is listed as unfinished,
/// a sealed one still is, and once an update at the next revision completes it, it is not.
pub async fn an_open_batch_is_unfinished_until_an_update_at_its_next_revision_completes_it(
    stores: &Stores,
) {
    let creditor_id = unique_creditor_id();
    let open = open_batch(&creditor_id, 1);
    stores
        .transactions
        .commit(&[Write::InsertBatch(open.clone())])
        .await
        .unwrap();
    assert_eq!(
        unfinished_of(stores, &creditor_id, 500).await,
        std::slice::from_ref(&open)
    );

    let mut sealed = open.clone();
    sealed.status = BatchStatus::Sealed;
    sealed.revision = 2;
    stores
        .transactions
        .commit(&[Write::UpdateBatch(sealed.clone())])
        .await
        .unwrap();
    assert_eq!(
        unfinished_of(stores, &creditor_id, 500).await,
        [sealed.clone()]
    );

    let mut complete = sealed.clone();
    complete.status = BatchStatus::Complete;
    complete.revision = 3;
    stores
        .transactions
        .commit(&[Write::UpdateBatch(complete.clone())])
        .await
        .unwrap();

    assert!(unfinished_of(stores, &creditor_id, 500).await.is_empty());
    let read = stores.collections.get_batch(&open.id).await.unwrap();
    assert_eq!(read, Some(complete.clone()));
    let listed = stores
        .collections
        .list_batches(Some(&creditor_id), None, 500)
        .await
        .unwrap();
    assert_eq!(listed.items, [complete]);
}

/// Two runs finishing one batch: the update from a revision that is no longer stored fails its
/// condition and leaves the stored batch as it was; so does an update of an unknown batch.
pub async fn a_batch_update_at_a_stale_revision_fails_and_changes_nothing(stores: &Stores) {
    let creditor_id = unique_creditor_id();
    let open = open_batch(&creditor_id, 1);
    stores
        .transactions
        .commit(&[Write::InsertBatch(open.clone())])
        .await
        .unwrap();
    let mut first = open.clone();
    first.number_of_transactions = 2;
    first.revision = 2;
    stores
        .transactions
        .commit(&[Write::UpdateBatch(first.clone())])
        .await
        .unwrap();

    let mut stale = open.clone();
    stale.status = BatchStatus::Sealed;
    stale.revision = 2;
    let result = stores
        .transactions
        .commit(&[Write::UpdateBatch(stale)])
        .await;
    let mut unknown = open_batch(&creditor_id, 2);
    unknown.revision = 2;
    let unknown_result = stores
        .transactions
        .commit(&[Write::UpdateBatch(unknown.clone())])
        .await;

    assert_condition_failed(result, "an update from a stale revision");
    assert_condition_failed(unknown_result, "an update of an unknown batch");
    assert_eq!(
        stores.collections.get_batch(&open.id).await.unwrap(),
        Some(first)
    );
    assert_eq!(
        stores.collections.get_batch(&unknown.id).await.unwrap(),
        None
    );
}

/// Step 1 of a batch: the record and the collections moved into it commit together; when one
/// collection's version is stale, neither the batch nor any collection is written.
pub async fn a_batch_opened_with_its_collections_commits_both_or_neither(stores: &Stores) {
    let creditor_id = unique_creditor_id();
    let mut scheduled: Vec<Collection> = (1..=3)
        .map(|seq| {
            let mut collection = batched_collection(&creditor_id, seq);
            collection.status = CollectionStatus::Scheduled;
            collection.batch_id = None;
            collection.version = 1;
            collection
        })
        .collect();
    let inserts: Vec<Write> = scheduled
        .iter()
        .cloned()
        .map(Write::InsertCollection)
        .collect();
    stores.transactions.commit(&inserts).await.unwrap();
    let batch = open_batch(&creditor_id, 1);
    let moved = |collection: &Collection, version: u64| {
        let mut moved = collection.clone();
        moved.status = CollectionStatus::Batched;
        moved.batch_id = Some(batch.id.clone());
        moved.version = version;
        Write::UpdateCollection(moved)
    };

    let mut refused = vec![Write::InsertBatch(batch.clone())];
    refused.extend(scheduled.iter().take(2).map(|c| moved(c, 2)));
    refused.push(moved(&scheduled[2], 3));
    let refused_result = stores.transactions.commit(&refused).await;
    let mut opened = vec![Write::InsertBatch(batch.clone())];
    opened.extend(scheduled.iter().map(|c| moved(c, 2)));
    stores.transactions.commit(&opened).await.unwrap();

    assert_condition_failed(refused_result, "a move of a collection at a stale version");
    assert_eq!(
        stores.collections.get_batch(&batch.id).await.unwrap(),
        Some(batch.clone())
    );
    let of_batch = stores
        .collections
        .collections_of_batch(&batch.id, None, 500)
        .await
        .unwrap();
    for collection in &mut scheduled {
        collection.status = CollectionStatus::Batched;
        collection.batch_id = Some(batch.id.clone());
        collection.version = 2;
    }
    assert_eq!(of_batch.items, by_id(scheduled));
    assert_eq!(of_batch.next, None);
}

/// Unfinished batches of many rounds, walked two at a time: each comes back once, in id order.
pub async fn unfinished_batches_come_back_once_each_in_id_order_across_pages(stores: &Stores) {
    let creditor_id = unique_creditor_id();
    let mut batches: Vec<Batch> = (1..=5)
        .map(|round| open_batch(&creditor_id, round))
        .collect();
    let inserts: Vec<Write> = batches.iter().cloned().map(Write::InsertBatch).collect();
    stores.transactions.commit(&inserts).await.unwrap();
    let mut done = batches.pop().unwrap();
    done.status = BatchStatus::Complete;
    done.revision = 2;
    stores
        .transactions
        .commit(&[Write::UpdateBatch(done)])
        .await
        .unwrap();

    let found = unfinished_of(stores, &creditor_id, 2).await;

    batches.sort_by(|a, b| a.id.cmp(&b.id));
    assert_eq!(found, batches);
}

/// A day long before every other fixture's dates, so that the work lists below hold the plans
/// and collections of the check that asks, and few of anyone else's in a shared store.
fn early(day: &str) -> chrono::NaiveDate {
    day.parse().expect("a fixture date")
}

/// The daily job's work list, walked two plans at a time: every plan due on or before the day
/// comes back once, several on one date included, and no plan due later or never.
pub async fn the_daily_work_list_holds_every_due_plan_once_across_pages(stores: &Stores) {
    let creditor_id = unique_creditor_id();
    let dates = [
        Some("2019-03-01"),
        Some("2019-03-04"),
        Some("2019-03-04"),
        Some("2019-03-04"),
        Some("2019-03-05"),
        Some("2019-03-06"),
        None,
    ];
    let mut due = BTreeSet::new();
    for date in dates {
        let mut plan = plan(&unique_plan_id(), &creditor_id, PlanStatus::Active);
        plan.next_action_on = date.map(early);
        stores
            .plans
            .insert_plan(&plan, &signing_token(&plan))
            .await
            .expect("a new plan is inserted");
        if plan
            .next_action_on
            .is_some_and(|d| d <= early("2019-03-05"))
        {
            due.insert(plan.id.0.clone());
        }
    }

    let mut found = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let page = stores
            .plans
            .plans_due_by(early("2019-03-05"), after.as_deref(), 2)
            .await
            .expect("the work list answers");
        assert!(page.items.len() <= 2, "a page holds at most `limit` plans");
        for plan in page.items {
            assert!(
                plan.next_action_on
                    .is_some_and(|d| d <= early("2019-03-05")),
                "plan {} is not due on the day",
                plan.id
            );
            if plan.creditor_id == creditor_id {
                found.push(plan.id.0);
            }
        }
        match page.next {
            Some(next) => after = Some(next),
            None => break,
        }
        assert!(found.len() < 100_000, "paging never ends");
    }

    let once: BTreeSet<String> = found.iter().cloned().collect();
    assert_eq!(once.len(), found.len(), "a plan came back twice: {found:?}");
    assert_eq!(once, due);
}

/// The candidates for settlement, walked two at a time: every batched or submitted collection
/// dated on or before the day comes back once, across both statuses, and none settled,
/// rejected or dated later.
pub async fn unsettled_collections_come_back_once_each_across_statuses_and_pages(stores: &Stores) {
    let creditor_id = unique_creditor_id();
    let kinds = [
        (CollectionStatus::Batched, "2019-04-01"),
        (CollectionStatus::Batched, "2019-04-02"),
        (CollectionStatus::Batched, "2019-04-02"),
        (CollectionStatus::Batched, "2019-04-09"),
        (CollectionStatus::Submitted, "2019-04-01"),
        (CollectionStatus::Submitted, "2019-04-02"),
        (CollectionStatus::Submitted, "2019-04-03"),
        (CollectionStatus::Settled, "2019-04-01"),
        (CollectionStatus::Rejected, "2019-04-02"),
    ];
    let day = early("2019-04-03");
    let mut unsettled = BTreeSet::new();
    let mut inserts = Vec::new();
    for (status, date) in kinds {
        let mut collection = batched_collection(&creditor_id, 1);
        collection.status = status;
        collection.collection_date = early(date);
        if matches!(
            status,
            CollectionStatus::Batched | CollectionStatus::Submitted
        ) && collection.collection_date <= day
        {
            unsettled.insert(collection.id.clone());
        }
        inserts.push(Write::InsertCollection(collection));
    }
    stores.transactions.commit(&inserts).await.unwrap();

    let mut found = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let page = stores
            .collections
            .unsettled_collections_by(day, after.as_deref(), 2)
            .await
            .expect("the settlement list answers");
        assert!(
            page.items.len() <= 2,
            "a page holds at most `limit` collections"
        );
        for collection in page.items {
            assert!(
                matches!(
                    collection.status,
                    CollectionStatus::Batched | CollectionStatus::Submitted
                ) && collection.collection_date <= day,
                "collection {} is not waiting for settlement on the day",
                collection.id
            );
            if collection.creditor_id == creditor_id {
                found.push(collection.id);
            }
        }
        match page.next {
            Some(next) => after = Some(next),
            None => break,
        }
        assert!(found.len() < 100_000, "paging never ends");
    }

    let once: BTreeSet<String> = found.iter().cloned().collect();
    assert_eq!(
        once.len(),
        found.len(),
        "a collection came back twice: {found:?}"
    );
    assert_eq!(once, unsettled);
}

/// `last_events` answers the newest event of each named aggregate once, even when named twice
/// and appended out of order (seq 10 after 9, not after 1), leaves out an aggregate with no
/// events, and answers nothing for an empty list.
pub async fn the_newest_event_of_each_aggregate_is_read_at_once(stores: &Stores) {
    let first = random_id("mnd");
    let second = format!("{first}7");
    let third = random_id("mnd");
    let first_events = numbered_events(&first, 11);
    let second_events = numbered_events(&second, 2);
    let third_events = numbered_events(&third, 1);
    let mut writes: Vec<Write> = first_events
        .iter()
        .rev()
        .cloned()
        .map(Write::AppendEvent)
        .collect();
    writes.extend(second_events.iter().cloned().map(Write::AppendEvent));
    writes.extend(third_events.iter().cloned().map(Write::AppendEvent));
    stores.transactions.commit(&writes).await.unwrap();

    let mut heads = stores
        .events
        .last_events(&[
            second.clone(),
            first.clone(),
            random_id("mnd"),
            third.clone(),
            first.clone(),
        ])
        .await
        .unwrap();
    let none = stores.events.last_events(&[]).await.unwrap();

    heads.sort_by(|a, b| a.aggregate_id.cmp(&b.aggregate_id));
    let mut expected = vec![
        first_events[10].clone(),
        second_events[1].clone(),
        third_events[0].clone(),
    ];
    expected.sort_by(|a, b| a.aggregate_id.cmp(&b.aggregate_id));
    assert_eq!(heads, expected);
    assert!(none.is_empty());
}
