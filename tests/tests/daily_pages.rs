//! The daily job over more plans than one page of its work list, on the embedded store: works
//! wait for their commit across pages, and plans that share a mandate are built on that
//! mandate as the earlier plan's commit left it.

use std::collections::HashMap;

use chrono::NaiveDate;
use tranche_domain::calendar::add_target_days;
use tranche_domain::collection::CollectionStatus;
use tranche_domain::daily;
use tranche_domain::pain008::SequenceType;
use tranche_domain::ports::{CollectionQuery, Write};
use tranche_domain::use_cases;
use tranche_local::host;
use tranche_tests::bench::{CopyIds, clone_signed, fixture, links, sign_one_plan};

/// More than two groups of the daily job's commits (4 096 plans), each many pages of its work
/// list (500 plans a page).
const PLANS: usize = 8_501;

fn day(text: &str) -> NaiveDate {
    text.parse().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plans_over_several_pages_are_collected_and_settled_once_each_sharing_mandates() {
    // Arrange: one signed plan and its copies; every third copy shares the mandate of the
    // copy before it.
    let folder = tempfile::tempdir().unwrap();
    let signed_on = day("2027-01-04");
    let ports = host::open_ports(folder.path(), host::clock_for(Some(signed_on))).unwrap();
    let (creditor, _) = use_cases::put_creditor(&ports, "acme", &fixture("creditor-acme.json"))
        .await
        .unwrap();
    let (plan, mandate) = sign_one_plan(&ports, &links()).await;
    let plan_events = ports.events.list_events(&plan.id.0).await.unwrap();
    let mandate_events = ports.events.list_events(&mandate.id.0).await.unwrap();
    let mut plans_of_mandate: HashMap<String, usize> = HashMap::from([(mandate.id.0.clone(), 1)]);
    let mut previous_mandate = mandate.id.0.clone();
    let mut writes = Vec::new();
    for copy in 1..PLANS {
        let mut ids = CopyIds::fresh(&creditor.mandate_reference_prefix);
        let shares = copy % 3 == 0;
        if shares {
            ids.mandate_id = previous_mandate.clone();
        }
        let copy = clone_signed(&ids, &plan, &mandate, &plan_events, &mandate_events, &[]);
        let (own_events, its_mandate_events) = copy.events.split_at(plan_events.len());
        writes.push(Write::InsertPlan(copy.plan));
        writes.extend(own_events.iter().cloned().map(Write::AppendEvent));
        if !shares {
            writes.push(Write::InsertMandate(copy.mandate));
            writes.extend(its_mandate_events.iter().cloned().map(Write::AppendEvent));
        }
        *plans_of_mandate.entry(ids.mandate_id.clone()).or_default() += 1;
        previous_mandate = ids.mandate_id;
    }
    ports.transactions.commit(&writes).await.unwrap();
    let due = plan.instalments[0].due_date;
    let collection_day = daily::collection_day(due, creditor.lead_days);
    let settlement_day = add_target_days(due, creditor.settlement_days);

    // Act: the collection day, the settlement day, and each again.
    let run = |today: NaiveDate| {
        let folder = folder.path().to_owned();
        async move {
            let ports = host::open_ports(&folder, host::clock_for(Some(today))).unwrap();
            daily::run_daily(&ports, &links()).await.unwrap()
        }
    };
    let collected = run(collection_day).await;
    let collected_again = run(collection_day).await;
    let settled = run(settlement_day).await;
    let settled_again = run(settlement_day).await;

    // Assert: one collection per plan, each settled once; every mandate on RCUR after its
    // first collections, the FRST ones being one per plan that was first on its mandate.
    assert!(collected.problems.is_empty(), "{:?}", collected.problems);
    assert_eq!(collected.collections_created, PLANS as u64);
    assert_eq!(collected_again.collections_created, 0);
    assert_eq!(settled.collections_settled, PLANS as u64);
    assert_eq!(settled_again.collections_settled, 0);
    let ports = host::open_ports(folder.path(), host::clock_for(Some(settlement_day))).unwrap();
    let mut collections = Vec::new();
    let mut query = CollectionQuery {
        limit: 500,
        ..CollectionQuery::default()
    };
    loop {
        let page = ports.collections.list_collections(&query).await.unwrap();
        collections.extend(page.items);
        match page.next {
            Some(next) => query.after = Some(next),
            None => break,
        }
    }
    assert_eq!(collections.len(), PLANS);
    let mut per_plan: HashMap<String, usize> = HashMap::new();
    for collection in &collections {
        assert_eq!(
            collection.status,
            CollectionStatus::Settled,
            "{}",
            collection.id
        );
        assert_eq!(
            collection.sequence_type,
            SequenceType::First,
            "{}",
            collection.id
        );
        *per_plan.entry(collection.plan_id.0.clone()).or_default() += 1;
    }
    assert!(
        per_plan.values().all(|&n| n == 1),
        "one collection per plan"
    );
    for (mandate_id, plans) in &plans_of_mandate {
        let mandate = ports
            .mandates
            .get_mandate(&tranche_domain::mandate::MandateId(mandate_id.clone()))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            mandate.next_sequence,
            Some(SequenceType::Recurrent),
            "mandate {mandate_id} of {plans} plans"
        );
    }
}
