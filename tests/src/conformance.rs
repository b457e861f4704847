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
//! read is filtered to their own creditor (or only asserted to contain their own plans), so they
//! also pass on one table shared by a whole test run, in any order and in parallel.
//!
//! Contracts these checks pin down beyond the trait docs:
//! - a signing token is usable while `at < expires_at`; at its expiry instant it is expired;
//! - a page size is clamped to 1..=500, and `next` is `None` exactly on the last page (also when
//!   that page is full);
//! - an idempotency key takes one answer: completing it twice, or releasing it once answered,
//!   fails its condition and keeps the first answer; releasing an unknown key does nothing.

use std::any::Any;
use std::collections::BTreeSet;
use std::sync::Arc;

use chrono::Duration;
use tranche_domain::creditor::CreditorId;
use tranche_domain::error::StoreError;
use tranche_domain::plan::{Plan, PlanId, PlanStatus};
use tranche_domain::ports::{
    ApiKeyStore, CreditorStore, IdempotencyRecord, IdempotencyStore, PlanQuery, PlanStore,
    StoredResponse,
};
use tranche_domain::secrets::{random_id, random_token, sha256_hex};

use crate::fixtures::{
    at, creditor, plan, signing_token, unique_creditor_id, unique_plan_id, unique_token_hash,
};

/// The store ports under test. Most adapters implement all four on one value
/// ([`Stores::from_store`]); the fields are public so an adapter split over several values can be
/// bundled by hand.
#[derive(Clone)]
pub struct Stores {
    pub creditors: Arc<dyn CreditorStore>,
    pub plans: Arc<dyn PlanStore>,
    pub idempotency: Arc<dyn IdempotencyStore>,
    pub api_keys: Arc<dyn ApiKeyStore>,
    /// Whatever must live as long as the stores: a temporary folder, a server process.
    keep_alive: Option<Arc<dyn Any + Send + Sync>>,
}

impl Stores {
    /// Every port from one store value.
    pub fn from_store<S>(store: S) -> Self
    where
        S: CreditorStore + PlanStore + IdempotencyStore + ApiKeyStore + 'static,
    {
        let store = Arc::new(store);
        Self {
            creditors: store.clone(),
            plans: store.clone(),
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
