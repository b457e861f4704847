//! Bank reports end to end: plans signed and collected, then pain.002 / camt.054 / camt.053
//! files about those collections posted as the bank would send them, and the statuses,
//! re-presentations, tasks, e-mails and events checked.

use chrono::{Days, NaiveDate};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tranche_domain::pain008::Pain008Version;
use tranche_tests::app::{TestApp, plan_body};
use tranche_tests::bank_files::{
    Reported, camt053_batch_booked, camt054_returns, pain002_rejects, pain002_whole_file,
};
use tranche_tests::xsd::validate_pain008;

fn day(text: &str) -> NaiveDate {
    text.parse().expect("a date")
}

async fn run_days(app: &TestApp, from: NaiveDate, to: NaiveDate) {
    for today in from.iter_days().take_while(|d| *d <= to) {
        let report = app.daily(today).await;
        assert!(report.problems.is_empty(), "{today}: {:?}", report.problems);
        for batch in &report.batches_written {
            validate_pain008(&app.batch_file(batch).await, Pain008Version::V08).unwrap();
        }
    }
}

/// `n` signed plans whose first collections are in one batch written on 29 January 2027.
async fn collected(n: usize) -> (TestApp, Vec<Value>, String) {
    let app = TestApp::spawn().await;
    app.given_creditor_acme().await;
    for _ in 0..n {
        app.given_signed_plan(&plan_body()).await;
    }
    let report = app.daily(day("2027-01-29")).await;
    assert_eq!(report.batches_written.len(), 1);
    let batch = app
        .call(
            Method::GET,
            &format!("/v1/batches/{}", report.batches_written[0]),
            None,
        )
        .await
        .json::<Value>()
        .await
        .unwrap();
    let collections = app.all_items("/v1/collections").await;
    (
        app,
        collections,
        batch["message_id"].as_str().unwrap().to_owned(),
    )
}

async fn collection(app: &TestApp, id: &str) -> Value {
    app.all_items("/v1/collections")
        .await
        .into_iter()
        .find(|c| c["id"] == id)
        .expect("the collection")
}

#[tokio::test]
async fn a_pain002_with_a_reject_of_each_class_starts_the_right_dunning_once() {
    let (app, collections, message_id) = collected(4).await;
    let [soft, hard, account, technical] = [
        &collections[0],
        &collections[1],
        &collections[2],
        &collections[3],
    ];
    let file = pain002_rejects(
        "PSR-1",
        &message_id,
        &[
            Reported::of(soft, "AM04"),
            Reported::of(hard, "MS02"),
            Reported::of(account, "AC04"),
            Reported::of(technical, "FF01"),
        ],
    );
    let mails_before = app.outbox().len();

    let (status, first) = app.post_bank_file(file.clone()).await;
    let (_, again) = app.post_bank_file(file).await;

    assert_eq!(status, StatusCode::OK, "{first}");
    assert_eq!(first["applied"], 4);
    assert_eq!(again["applied"], 0);
    assert_eq!(
        again["duplicates"], 4,
        "the same file twice changes nothing"
    );
    for c in [soft, hard, account, technical] {
        let now = collection(&app, c["id"].as_str().unwrap()).await;
        assert_eq!(now["status"], "rejected");
        assert!(
            now["r_transaction"]["source_file"]
                .as_str()
                .unwrap()
                .starts_with("inbound/")
        );
    }

    // Soft: re-presented later, after a notice.
    let plan = app.plan(soft["plan_id"].as_str().unwrap()).await;
    assert_eq!(plan["status"], "active");
    assert_eq!(plan["instalments"][0]["status"], "retrying");
    // Hard: in dunning, the debtor told, the creditor asked to call.
    let plan = app.plan(hard["plan_id"].as_str().unwrap()).await;
    assert_eq!(plan["status"], "in_dunning");
    // Account: the mandate is invalid and a new one is asked for.
    let mandate = app.mandate(account["mandate_id"].as_str().unwrap()).await;
    assert_eq!(mandate["status"], "invalid");
    let tasks = app.all_items("/v1/tasks?status=open").await;
    let kinds: Vec<&str> = tasks.iter().map(|t| t["kind"].as_str().unwrap()).collect();
    assert!(kinds.contains(&"call_customer"), "{kinds:?}");
    assert!(kinds.contains(&"mandate_unusable"), "{kinds:?}");
    assert!(kinds.contains(&"fix_collection_data"), "{kinds:?}");
    assert_eq!(
        tasks.len(),
        3,
        "one task each, none for the soft failure: {kinds:?}"
    );
    let mails = &app.outbox()[mails_before..];
    let to_debtor = mails
        .iter()
        .filter(|m| m.to == ["joerg.mueller@example.org"])
        .count();
    // AM04, MS02, AC04 failure notices and the new-mandate invitation; nothing for FF01.
    assert_eq!(
        to_debtor,
        4,
        "{:?}",
        mails.iter().map(|m| &m.subject).collect::<Vec<_>>()
    );
    assert!(
        mails.iter().any(|m| m.text.contains("/sign/")),
        "a link to a new mandate"
    );

    // The soft failure is re-presented as a new collection with a new EndToEndId.
    run_days(&app, day("2027-02-02"), day("2027-02-28")).await;
    let retries: Vec<Value> = app
        .all_items("/v1/collections")
        .await
        .into_iter()
        .filter(|c| c["plan_id"] == soft["plan_id"] && c["instalment_seq"] == 1)
        .collect();
    assert_eq!(retries.len(), 2);
    assert_eq!(retries[1]["attempt"], 2);
    assert_ne!(retries[1]["end_to_end_id"], retries[0]["end_to_end_id"]);
    assert_eq!(
        retries[1]["sequence_type"], "FRST",
        "a rejected FRST keeps the mandate on FRST"
    );
    assert!(day(retries[1]["collection_date"].as_str().unwrap()) >= day("2027-02-16"));
    // Nothing more was collected for the hard, account and technical failures' instalment 1.
    for c in [hard, account, technical] {
        let attempts = app
            .all_items("/v1/collections")
            .await
            .into_iter()
            .filter(|x| x["plan_id"] == c["plan_id"] && x["instalment_seq"] == 1)
            .count();
        assert_eq!(attempts, 1);
    }
}

#[tokio::test]
async fn a_camt054_return_of_a_re_presentation_counts_toward_the_limit_then_dunning() {
    let (app, collections, message_id) = collected(1).await;
    let first = &collections[0];
    app.post_bank_file(pain002_rejects(
        "PSR-2",
        &message_id,
        &[Reported::of(first, "AM04")],
    ))
    .await;

    let mut today = day("2027-02-02");
    for attempt in 2..=3 {
        // Run until the next attempt is batched, then return it.
        let retry = loop {
            run_days(&app, today, today).await;
            today = today + Days::new(1);
            if let Some(c) = app
                .all_items("/v1/collections?status=batched")
                .await
                .into_iter()
                .find(|c| c["instalment_seq"] == 1 && c["attempt"] == attempt)
            {
                break c;
            }
            assert!(today < day("2027-04-30"), "attempt {attempt} never came");
        };
        let (_, summary) = app
            .post_bank_file(camt054_returns(
                &format!("C54-{attempt}"),
                &[Reported::of(&retry, "AM04")],
                today,
            ))
            .await;
        assert_eq!(summary["applied"], 1, "{summary}");
    }

    let plan = app.plan(first["plan_id"].as_str().unwrap()).await;
    assert_eq!(
        plan["instalments"][0]["status"], "failed",
        "two re-presentations, then no more"
    );
    assert_eq!(plan["status"], "in_dunning");
    assert!(
        app.all_items("/v1/tasks?status=open")
            .await
            .iter()
            .any(|t| t["kind"] == "call_customer")
    );
}

#[tokio::test]
async fn the_same_return_in_a_pain002_and_again_in_a_camt054_applies_once() {
    let (app, collections, message_id) = collected(1).await;
    let c = Reported::of(&collections[0], "MS02");

    let (_, from_pain) = app
        .post_bank_file(pain002_rejects(
            "PSR-3",
            &message_id,
            std::slice::from_ref(&c),
        ))
        .await;
    let (_, from_camt) = app
        .post_bank_file(camt054_returns("C54-3", &[c], day("2027-02-03")))
        .await;

    assert_eq!(from_pain["applied"], 1);
    assert_eq!(from_camt["applied"], 0);
    assert_eq!(from_camt["duplicates"], 1);
    let tasks = app.all_items("/v1/tasks?status=open").await;
    assert_eq!(tasks.len(), 1);
}

#[tokio::test]
async fn a_camt053_batch_booked_entry_returns_each_collection_it_holds() {
    let (app, collections, _) = collected(3).await;
    run_days(&app, day("2027-01-30"), day("2027-02-02")).await;
    let returns: Vec<Reported> = collections
        .iter()
        .take(2)
        .map(|c| Reported::of(c, "AC06"))
        .collect();

    let (status, summary) = app
        .post_bank_file(camt053_batch_booked("C53-1", &returns, day("2027-02-03")))
        .await;

    assert_eq!(status, StatusCode::OK, "{summary}");
    assert_eq!(summary["applied"], 2);
    assert_eq!(
        collection(&app, collections[0]["id"].as_str().unwrap()).await["status"],
        "returned"
    );
    assert_eq!(
        collection(&app, collections[1]["id"].as_str().unwrap()).await["status"],
        "returned"
    );
    assert_eq!(
        collection(&app, collections[2]["id"].as_str().unwrap()).await["status"],
        "batched"
    );
}

#[tokio::test]
async fn a_whole_file_reject_fails_every_collection_of_the_file_and_an_acceptance_submits_them() {
    let (app, _, message_id) = collected(2).await;
    let accepted = app
        .post_bank_file(pain002_whole_file("PSR-4", &message_id, "ACCP", None))
        .await;
    assert_eq!(accepted.1["applied"], 2);
    assert_eq!(
        app.all_items("/v1/collections?status=submitted")
            .await
            .len(),
        2
    );

    let (_, rejected) = app
        .post_bank_file(pain002_whole_file(
            "PSR-5",
            &message_id,
            "RJCT",
            Some("FF01"),
        ))
        .await;

    assert_eq!(rejected["applied"], 2);
    assert_eq!(
        app.all_items("/v1/collections?status=rejected").await.len(),
        2
    );
}

#[tokio::test]
async fn an_item_that_matches_nothing_becomes_a_task_not_a_loss() {
    let (app, _, _) = collected(1).await;
    let stranger = Reported {
        end_to_end_id: "NOT-OURS-1".into(),
        amount: "12.34".into(),
        reason: "AM04".into(),
        date: day("2027-02-01"),
        mandate_reference: "SOMEONE-ELSE".into(),
    };

    let (_, summary) = app
        .post_bank_file(camt054_returns("C54-9", &[stranger], day("2027-02-03")))
        .await;

    assert_eq!(summary["unmatched"], 1);
    let tasks = app.all_items("/v1/tasks?status=open").await;
    assert_eq!(tasks[0]["kind"], "unmatched_report_item");
    assert!(tasks[0]["detail"].as_str().unwrap().contains("NOT-OURS-1"));
}

#[tokio::test]
async fn a_refund_weeks_later_reopens_the_instalment_and_a_plan_in_dunning_defaults() {
    let (app, collections, _) = collected(1).await;
    run_days(&app, day("2027-01-30"), day("2027-02-10")).await;
    assert_eq!(
        collection(&app, collections[0]["id"].as_str().unwrap()).await["status"],
        "settled"
    );

    let (_, summary) = app
        .post_bank_file(camt054_returns(
            "C54-R",
            &[Reported::of(&collections[0], "MD06")],
            day("2027-03-15"),
        ))
        .await;
    let refunded = collection(&app, collections[0]["id"].as_str().unwrap()).await;
    let plan_id = collections[0]["plan_id"].as_str().unwrap();

    assert_eq!(summary["applied"], 1);
    assert_eq!(refunded["status"], "refunded");
    let plan = app.plan(plan_id).await;
    assert_eq!(plan["instalments"][0]["status"], "failed");
    assert_eq!(plan["status"], "in_dunning");

    let report = app.daily(day("2027-04-30")).await;
    assert_eq!(report.plans_defaulted, 1);
    assert_eq!(app.plan(plan_id).await["status"], "defaulted");
    assert!(
        app.outbox()
            .iter()
            .any(|m| m.to == ["billing@acme-energie.example"] && m.subject.contains(plan_id))
    );
}

#[tokio::test]
async fn unreadable_files_are_refused_with_a_reason_and_apply_nothing() {
    let (app, _, message_id) = collected(1).await;
    let valid = pain002_whole_file("PSR-6", &message_id, "RJCT", Some("FF01"));
    let bomb = r#"<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">]><Document>&lol2;</Document>"#;
    let cases = [
        ("not XML", "this is not a bank file".to_owned()),
        ("truncated", valid[..valid.len() / 2].to_owned()),
        ("an XML bomb", bomb.to_owned()),
        (
            "a foreign message",
            "<?xml version=\"1.0\"?><html><body>hello</body></html>".to_owned(),
        ),
    ];

    for (case, body) in cases {
        let (status, problem) = app.post_bank_file(body).await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{case}: {problem}"
        );
        assert!(!problem["detail"].as_str().unwrap().is_empty(), "{case}");
    }
    assert_eq!(
        app.all_items("/v1/collections?status=batched").await.len(),
        1
    );
    assert!(app.all_items("/v1/tasks?status=open").await.is_empty());
}

#[tokio::test]
async fn a_task_is_closed_with_its_outcome_once() {
    let (app, collections, message_id) = collected(1).await;
    app.post_bank_file(pain002_rejects(
        "PSR-7",
        &message_id,
        &[Reported::of(&collections[0], "MS02")],
    ))
    .await;
    let task = app.all_items("/v1/tasks?status=open").await.remove(0);
    let path = format!("/v1/tasks/{}/close", task["id"].as_str().unwrap());

    let missing = app.call(Method::POST, &path, Some(&json!({}))).await;
    let closed = app
        .call(
            Method::POST,
            &path,
            Some(&json!({"outcome": "promised to pay"})),
        )
        .await;
    let again = app
        .call(Method::POST, &path, Some(&json!({"outcome": "twice"})))
        .await;

    assert_eq!(missing.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(closed.status(), StatusCode::OK);
    assert_eq!(
        closed.json::<Value>().await.unwrap()["outcome"],
        "promised to pay"
    );
    assert_eq!(again.status(), StatusCode::CONFLICT);
    assert!(app.all_items("/v1/tasks?status=open").await.is_empty());
    assert_eq!(app.all_items("/v1/tasks?status=closed").await.len(), 1);
}

#[tokio::test]
async fn the_event_feed_pages_through_every_change_once_in_order() {
    let (app, collections, message_id) = collected(2).await;
    app.post_bank_file(pain002_rejects(
        "PSR-8",
        &message_id,
        &[Reported::of(&collections[0], "AM04")],
    ))
    .await;

    let mut positions = Vec::new();
    let mut kinds = Vec::new();
    let mut after = "0".to_owned();
    loop {
        let page: Value = app
            .call(
                Method::GET,
                &format!("/v1/events?after={after}&limit=3"),
                None,
            )
            .await
            .json()
            .await
            .unwrap();
        let events = page["events"].as_array().unwrap();
        if events.is_empty() {
            assert_eq!(page["next"], after, "an empty page keeps the cursor");
            break;
        }
        for event in events {
            positions.push(event["position"].as_u64().unwrap());
            kinds.push(event["kind"].as_str().unwrap().to_owned());
        }
        after = page["next"].as_str().unwrap().to_owned();
    }

    assert!(
        positions.windows(2).all(|w| w[0] < w[1]),
        "oldest first, no repeats"
    );
    for kind in [
        "plan.created",
        "mandate.invited",
        "mandate.signed",
        "collection.created",
        "collection.rejected",
        "instalment.failed",
    ] {
        assert!(
            kinds.iter().any(|k| k == kind),
            "{kind} missing from {kinds:?}"
        );
    }
}
