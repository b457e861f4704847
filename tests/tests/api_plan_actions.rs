//! The plan actions of the operator API, black-box: pause, resume, skip, reschedule, payments
//! received outside, payoff and cancel on a plan signed through the real signing page, each
//! with its dry run, and every refusal answered with problem+json and nothing changed.

use chrono::NaiveDate;
use reqwest::StatusCode;
use serde_json::{Value, json};
use tranche_tests::app::{TestApp, error_fields, plan_body, problem};

fn day(text: &str) -> NaiveDate {
    text.parse().expect("a date")
}

/// A host with creditor `acme` and a signed plan: 1000.00 in six monthly instalments from
/// 1 February 2027 (166.70, then 166.66), today being Monday 4 January 2027.
async fn signed_plan() -> (TestApp, String) {
    let app = TestApp::spawn().await;
    app.given_creditor_acme().await;
    let link = app.given_signed_plan(&plan_body()).await;
    (app, link.plan_id)
}

async fn ok(response: reqwest::Response) -> Value {
    let status = response.status();
    let body: Value = response.json().await.expect("a JSON answer");
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

fn open_instalments(plan: &Value) -> Vec<Value> {
    plan["instalments"]
        .as_array()
        .expect("instalments")
        .iter()
        .filter(|i| {
            matches!(
                i["status"].as_str(),
                Some("planned" | "notified" | "retrying" | "failed")
            )
        })
        .cloned()
        .collect()
}

fn due_dates(instalments: &[Value]) -> Vec<NaiveDate> {
    instalments
        .iter()
        .map(|i| day(i["due_date"].as_str().expect("a date")))
        .collect()
}

fn cents(amount: &Value) -> i64 {
    let text = amount.as_str().expect("an amount string");
    let (euros, cents) = text.split_once('.').expect("two decimals");
    euros.parse::<i64>().unwrap() * 100 + cents.parse::<i64>().unwrap()
}

fn open_sum(plan: &Value) -> i64 {
    open_instalments(plan)
        .iter()
        .map(|i| cents(&i["amount"]))
        .sum()
}

/// The money invariant as the API shows it.
fn assert_balance_exact(plan: &Value) {
    let b = &plan["balance"];
    let parts = cents(&b["collected"])
        + cents(&b["scheduled"])
        + cents(&b["received_outside"])
        + cents(&b["cancelled"]);
    assert_eq!(parts, cents(&b["total"]), "{b}");
    assert_eq!(b["total"], plan["total"]);
}

async fn assert_unchanged(app: &TestApp, plan_id: &str, before: &Value) {
    let now = app.plan(plan_id).await;
    assert_eq!(now["version"], before["version"]);
    assert_eq!(now["instalments"], before["instalments"]);
    assert_eq!(now["status"], before["status"]);
}

#[tokio::test]
async fn a_dry_run_answers_the_new_calendar_and_changes_nothing() {
    let (app, plan_id) = signed_plan().await;
    let before = app.plan(&plan_id).await;
    let mails = app.outbox().len();

    let answer = ok(app
        .plan_action(
            &plan_id,
            "pause?dry_run=true",
            &json!({"from": "2027-03-01", "until": "2027-05-01"}),
        )
        .await)
    .await;

    assert_eq!(answer["dry_run"], true);
    assert!(
        due_dates(&open_instalments(&answer))[1..]
            .iter()
            .all(|d| *d >= day("2027-05-01"))
    );
    assert_unchanged(&app, &plan_id, &before).await;
    assert_eq!(app.outbox().len(), mails);
    assert!(
        app.plan_events(&plan_id)
            .await
            .iter()
            .all(|e| e["kind"] != "plan.paused")
    );
}

#[tokio::test]
async fn a_pause_with_an_end_moves_the_instalments_after_it_records_who_and_why_and_mails_the_calendar()
 {
    let (app, plan_id) = signed_plan().await;
    let before = app.plan(&plan_id).await;

    let plan = ok(app
        .plan_action(
            &plan_id,
            "pause",
            &json!({"from": "2027-03-01", "until": "2027-05-01", "reason": "lost job for two months"}),
        )
        .await)
    .await;

    let dates = due_dates(&open_instalments(&plan));
    assert_eq!(dates.len(), 6);
    assert_eq!(dates[0], day("2027-02-01"));
    assert!(
        dates[1..].iter().all(|d| *d >= day("2027-05-01")),
        "{dates:?}"
    );
    assert_eq!(plan["status"], "active");
    assert_eq!(plan["version"], before["version"].as_u64().unwrap() + 1);
    assert_eq!(plan["pause"]["mode"], "shift_calendar");
    assert_balance_exact(&plan);
    let moved = &plan["instalments"][1];
    assert_eq!(moved["status"], "planned");
    assert_eq!(moved["notified_on"], Value::Null);

    let events = app.plan_events(&plan_id).await;
    let paused = events
        .iter()
        .find(|e| e["kind"] == "plan.paused")
        .expect("a plan.paused event");
    assert!(paused["actor"].as_str().unwrap().starts_with("operator:"));
    assert_eq!(paused["data"]["reason"], "lost job for two months");
    assert_eq!(paused["data"]["action"]["until"], "2027-05-01");
    let feed: Value = app
        .call(reqwest::Method::GET, "/v1/events?limit=500", None)
        .await
        .json()
        .await
        .unwrap();
    assert!(
        feed["events"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["kind"] == "plan.paused" && e["aggregate_id"] == plan_id.as_str()),
        "the change is in the event feed"
    );

    let mail = app.outbox().pop().expect("an e-mail to the debtor");
    assert_eq!(mail.to, vec!["joerg.mueller@example.org".to_owned()]);
    assert!(mail.subject.contains("geändert"), "{}", mail.subject);
    assert!(mail.text.contains("lost job for two months"));
    assert!(
        mail.text.contains("1. Februar 2027") || mail.text.contains("01.02.2027"),
        "{}",
        mail.text
    );
}

#[tokio::test]
async fn an_open_pause_stops_the_plan_and_a_resume_brings_the_held_instalments_past_the_legal_date()
{
    let (app, plan_id) = signed_plan().await;
    let paused = ok(app
        .plan_action(&plan_id, "pause", &json!({"from": "2027-01-20"}))
        .await)
    .await;
    assert_eq!(paused["status"], "paused");

    let app = app.restart_on(day("2027-04-01")).await;
    let resumed = ok(app.plan_action(&plan_id, "resume", &json!({})).await).await;

    assert_eq!(resumed["status"], "active");
    let dates = due_dates(&open_instalments(&resumed));
    assert_eq!(dates.len(), 6);
    // 1 April + 14 days pre-notification + 1 TARGET day.
    assert!(dates.iter().all(|d| *d >= day("2027-04-16")), "{dates:?}");
    assert_balance_exact(&resumed);
}

#[tokio::test]
async fn a_skipped_instalment_moves_to_the_end_with_its_amount() {
    let (app, plan_id) = signed_plan().await;
    let before = app.plan(&plan_id).await;
    let last_date = day(before["instalments"][5]["due_date"].as_str().unwrap());

    let plan = ok(app
        .plan_action(&plan_id, "instalments/2/skip", &json!({}))
        .await)
    .await;

    assert_eq!(plan["instalments"][1]["status"], "skipped");
    let moved = plan["instalments"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert_eq!(moved["seq"], 7);
    assert_eq!(moved["amount"], before["instalments"][1]["amount"]);
    assert!(day(moved["due_date"].as_str().unwrap()) > last_date);
    assert_eq!(plan["changed"], json!([2, 7]));
    assert_balance_exact(&plan);

    // The moved instalment is announced anew, as the sixth of six (the skipped one holds no
    // money), with the debtor's self-service link.
    let due = day(moved["due_date"].as_str().unwrap());
    let report = app.daily(due - chrono::Days::new(16)).await;
    assert_eq!(report.notices_sent, 1);
    let notice = app.outbox().pop().expect("a pre-notification");
    assert!(notice.text.contains("Rate 6 von 6"), "{}", notice.text);
    assert!(notice.text.contains("/self-service/"), "{}", notice.text);
}

#[tokio::test]
async fn a_reschedule_spreads_the_remaining_balance_like_a_new_plan() {
    let (app, plan_id) = signed_plan().await;

    let plan = ok(app
        .plan_action(
            &plan_id,
            "reschedule",
            &json!({"count": 10, "start_date": "2027-03-01", "total": "1000.00"}),
        )
        .await)
    .await;

    let open = open_instalments(&plan);
    assert_eq!(open.len(), 10);
    assert_eq!(open_sum(&plan), 100_000);
    assert_eq!(open[0]["due_date"], "2027-03-01");
    assert_eq!(open[0]["amount"], "100.00");
    assert_balance_exact(&plan);
}

#[tokio::test]
async fn a_payment_received_outside_shortens_the_plan_or_lowers_the_instalments() {
    let (app, plan_id) = signed_plan().await;

    let shortened = ok(app
        .plan_action(
            &plan_id,
            "payments",
            &json!({"amount": "300.00", "received_on": "2027-01-04", "reference": "bank transfer 0815"}),
        )
        .await)
    .await;
    assert_eq!(shortened["balance"]["received_outside"], "300.00");
    assert_eq!(shortened["balance"]["scheduled"], "700.00");
    assert_eq!(open_instalments(&shortened).len(), 5);
    assert_balance_exact(&shortened);

    let lowered = ok(app
        .plan_action(
            &plan_id,
            "payments",
            &json!({"amount": "200.00", "received_on": "2027-01-04", "effect": "lower_instalments"}),
        )
        .await)
    .await;
    let open = open_instalments(&lowered);
    assert_eq!(open.len(), 5);
    assert_eq!(open_sum(&lowered), 50_000);
    assert_eq!(lowered["balance"]["received_outside"], "500.00");
    assert_balance_exact(&lowered);
}

#[tokio::test]
async fn a_payoff_is_one_instalment_of_the_whole_rest_on_the_earliest_legal_date() {
    let (app, plan_id) = signed_plan().await;

    let plan = ok(app.plan_action(&plan_id, "payoff", &json!({})).await).await;

    let open = open_instalments(&plan);
    assert_eq!(open.len(), 1);
    assert_eq!(open[0]["amount"], "1000.00");
    // 4 January + 14 days = 18 January, + 1 TARGET day.
    assert_eq!(open[0]["due_date"], "2027-01-19");
    assert_balance_exact(&plan);
}

#[tokio::test]
async fn a_cancel_needs_a_reason_and_then_nothing_is_collected() {
    let (app, plan_id) = signed_plan().await;
    let before = app.plan(&plan_id).await;

    let refused = app.plan_action(&plan_id, "cancel", &json!({})).await;
    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error_fields(&problem(refused).await), ["reason"]);
    assert_unchanged(&app, &plan_id, &before).await;

    let plan = ok(app
        .plan_action(
            &plan_id,
            "cancel",
            &json!({"reason": "debtor paid the invoice in full"}),
        )
        .await)
    .await;
    assert_eq!(plan["status"], "cancelled");
    assert_eq!(plan["status_reason"], "debtor paid the invoice in full");
    assert_eq!(plan["balance"]["cancelled"], "1000.00");
    assert_eq!(plan["next_action_on"], Value::Null);
    assert_balance_exact(&plan);

    let report = app.daily(day("2027-01-29")).await;
    assert_eq!(report.collections_created, 0);
}

#[tokio::test]
async fn every_action_on_an_unknown_plan_is_404() {
    let app = TestApp::spawn().await;
    app.given_creditor_acme().await;
    for action in [
        "pause",
        "resume",
        "reschedule",
        "payments",
        "payoff",
        "cancel",
        "instalments/1/skip",
    ] {
        let response = app
            .plan_action("pln_unknown", action, &json!({"reason": "x"}))
            .await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{action}");
        assert_eq!(
            response.headers()["content-type"],
            "application/problem+json"
        );
    }
}

#[tokio::test]
async fn a_cancelled_plan_refuses_every_action_with_409_naming_its_state() {
    let (app, plan_id) = signed_plan().await;
    ok(app
        .plan_action(&plan_id, "cancel", &json!({"reason": "agreed otherwise"}))
        .await)
    .await;
    let before = app.plan(&plan_id).await;

    for (action, body) in [
        ("pause", json!({"from": "2027-03-01"})),
        ("resume", json!({})),
        (
            "reschedule",
            json!({"count": 3, "start_date": "2027-03-01"}),
        ),
        (
            "payments",
            json!({"amount": "10.00", "received_on": "2027-01-04"}),
        ),
        ("payoff", json!({})),
        ("cancel", json!({"reason": "again"})),
        ("instalments/3/skip", json!({})),
    ] {
        let response = app.plan_action(&plan_id, action, &body).await;
        assert_eq!(response.status(), StatusCode::CONFLICT, "{action}");
        let problem = problem(response).await;
        assert!(
            problem["detail"].as_str().unwrap().contains("cancelled"),
            "{action}: {problem}"
        );
    }
    assert_unchanged(&app, &plan_id, &before).await;
}

#[tokio::test]
async fn a_plan_awaiting_signature_can_only_be_cancelled() {
    let app = TestApp::spawn().await;
    app.given_creditor_acme().await;
    let link = app.given_plan(&plan_body()).await;

    let response = app.plan_action(&link.plan_id, "payoff", &json!({})).await;
    assert_eq!(response.status(), StatusCode::CONFLICT);
    assert!(
        problem(response).await["detail"]
            .as_str()
            .unwrap()
            .contains("awaiting_signature")
    );
    let plan = ok(app
        .plan_action(&link.plan_id, "cancel", &json!({"reason": "never signed"}))
        .await)
    .await;
    assert_eq!(plan["status"], "cancelled");
}

#[tokio::test]
async fn a_payment_above_the_remaining_balance_is_refused_naming_the_limit() {
    let (app, plan_id) = signed_plan().await;
    let before = app.plan(&plan_id).await;

    let response = app
        .plan_action(
            &plan_id,
            "payments",
            &json!({"amount": "1000.01", "received_on": "2027-01-04"}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let problem = problem(response).await;
    assert_eq!(error_fields(&problem), ["amount"]);
    assert!(
        problem["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("1000.00")
    );

    let response = app
        .plan_action(
            &plan_id,
            "payments",
            &json!({"amount": "10.00", "received_on": "2027-01-05"}),
        )
        .await;
    assert_eq!(error_fields(&problem_of(response).await), ["received_on"]);

    let response = app
        .plan_action(
            &plan_id,
            "payments",
            &json!({"amount": 10.0, "received_on": "2027-01-04"}),
        )
        .await;
    assert_eq!(error_fields(&problem_of(response).await), ["amount"]);
    assert_unchanged(&app, &plan_id, &before).await;
}

async fn problem_of(response: reqwest::Response) -> Value {
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    problem(response).await
}

#[tokio::test]
async fn a_reschedule_that_does_not_cover_the_balance_or_starts_too_early_is_refused() {
    let (app, plan_id) = signed_plan().await;
    let before = app.plan(&plan_id).await;

    let response = app
        .plan_action(
            &plan_id,
            "reschedule",
            &json!({"count": 4, "start_date": "2027-03-01", "total": "900.00"}),
        )
        .await;
    let problem = problem_of(response).await;
    assert_eq!(error_fields(&problem), ["total"]);
    assert!(
        problem["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("1000.00")
    );

    let response = app
        .plan_action(
            &plan_id,
            "reschedule",
            &json!({"count": 4, "start_date": "2027-01-10"}),
        )
        .await;
    let problem = problem_of(response).await;
    assert_eq!(error_fields(&problem), ["start_date"]);
    assert!(
        problem["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("2027-01-19"),
        "{problem}"
    );

    let response = app
        .plan_action(&plan_id, "reschedule", &json!({"start_date": "2027-03-01"}))
        .await;
    assert_eq!(error_fields(&problem_of(response).await), ["count"]);
    assert_unchanged(&app, &plan_id, &before).await;
}

#[tokio::test]
async fn a_pause_in_the_past_or_ending_before_it_starts_is_refused() {
    let (app, plan_id) = signed_plan().await;
    let before = app.plan(&plan_id).await;

    let response = app
        .plan_action(&plan_id, "pause", &json!({"from": "2027-01-01"}))
        .await;
    assert_eq!(error_fields(&problem_of(response).await), ["from"]);
    let response = app
        .plan_action(
            &plan_id,
            "pause",
            &json!({"from": "2027-03-01", "until": "2027-02-01", "mode": "append_at_end"}),
        )
        .await;
    assert_eq!(error_fields(&problem_of(response).await), ["until"]);
    let response = app
        .plan_action(
            &plan_id,
            "pause",
            &json!({"from": "2027-03-01", "mode": "sideways"}),
        )
        .await;
    assert_eq!(error_fields(&problem_of(response).await), ["mode"]);
    let response = app
        .plan_action(
            &plan_id,
            "pause?dry_run=maybe",
            &json!({"from": "2027-03-01"}),
        )
        .await;
    assert_eq!(error_fields(&problem_of(response).await), ["dry_run"]);
    assert_unchanged(&app, &plan_id, &before).await;
}

#[tokio::test]
async fn an_instalment_with_the_bank_is_never_changed() {
    let (app, plan_id) = signed_plan().await;
    // The first instalment (1 February) goes to the bank on 29 January (D-1).
    let report = app.daily(day("2027-01-29")).await;
    assert_eq!(report.collections_created, 1);
    let app = app.restart_on(day("2027-01-29")).await;
    let before = app.plan(&plan_id).await;
    assert_eq!(before["instalments"][0]["status"], "collecting");

    let response = app
        .plan_action(&plan_id, "instalments/1/skip", &json!({}))
        .await;
    assert_eq!(response.status(), StatusCode::CONFLICT);
    assert!(
        problem(response).await["detail"]
            .as_str()
            .unwrap()
            .contains("collecting")
    );
    assert_unchanged(&app, &plan_id, &before).await;

    let plan = ok(app.plan_action(&plan_id, "payoff", &json!({})).await).await;
    assert_eq!(plan["instalments"][0], before["instalments"][0]);
    let open = open_instalments(&plan);
    assert_eq!(open.len(), 1);
    assert_eq!(open[0]["amount"], "833.30");
    assert_balance_exact(&plan);
}

#[tokio::test]
async fn unknown_or_malformed_instalment_numbers_are_404_and_422() {
    let (app, plan_id) = signed_plan().await;
    let response = app
        .plan_action(&plan_id, "instalments/99/skip", &json!({}))
        .await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    let response = app
        .plan_action(&plan_id, "instalments/0/skip", &json!({}))
        .await;
    assert_eq!(error_fields(&problem_of(response).await), ["seq"]);
}

#[tokio::test]
async fn a_change_against_a_stale_version_is_refused_and_changes_nothing() {
    let (app, plan_id) = signed_plan().await;
    let before = app.plan(&plan_id).await;
    let stale = before["version"].as_u64().unwrap() - 1;

    let response = reqwest::Client::new()
        .post(format!("{}/v1/plans/{plan_id}/payoff", app.base_url))
        .bearer_auth(tranche_tests::app::TEST_API_KEY)
        .header("if-match", format!("\"{stale}\""))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CONFLICT);
    assert_unchanged(&app, &plan_id, &before).await;

    let current = before["version"].as_u64().unwrap();
    let response = reqwest::Client::new()
        .post(format!("{}/v1/plans/{plan_id}/payoff", app.base_url))
        .bearer_auth(tranche_tests::app::TEST_API_KEY)
        .header("if-match", format!("\"{current}\""))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.headers()["etag"],
        format!("\"{}\"", current + 1).as_str()
    );
}

#[tokio::test]
async fn a_plan_in_dunning_is_active_again_after_a_reschedule() {
    let (app, plan_id) = signed_plan().await;
    app.daily(day("2027-01-29")).await;
    // The debtor refuses the first collection (MS02): no re-presentation, the plan goes into
    // dunning.
    let collection = app
        .all_items("/v1/collections")
        .await
        .into_iter()
        .find(|c| c["plan_id"] == plan_id.as_str())
        .expect("a collection");
    let batch = app
        .all_items("/v1/batches")
        .await
        .into_iter()
        .find(|b| b["id"] == collection["batch_id"])
        .expect("its batch");
    let file = tranche_tests::bank_files::pain002_rejects(
        "PSR-DUNNING",
        batch["message_id"].as_str().unwrap(),
        &[tranche_tests::bank_files::Reported {
            end_to_end_id: collection["end_to_end_id"].as_str().unwrap().to_owned(),
            amount: collection["amount"].as_str().unwrap().to_owned(),
            reason: "MS02".to_owned(),
            date: day(collection["collection_date"].as_str().unwrap()),
            mandate_reference: collection["mandate_reference"].as_str().unwrap().to_owned(),
        }],
    );
    let app = app.restart_on(day("2027-02-02")).await;
    let (status, summary) = app.post_bank_file(file).await;
    assert_eq!(status, StatusCode::OK, "{summary}");
    let plan = app.plan(&plan_id).await;
    assert_eq!(plan["status"], "in_dunning", "{plan}");

    let plan = ok(app
        .plan_action(
            &plan_id,
            "reschedule",
            &json!({"count": 6, "start_date": "2027-03-01", "reason": "new arrangement by phone"}),
        )
        .await)
    .await;
    assert_eq!(plan["status"], "active");
    assert_eq!(plan["dunning_since"], Value::Null);
    assert_eq!(open_sum(&plan), 100_000);
    assert!(plan["next_action_on"].is_string());
    assert_balance_exact(&plan);
}

#[tokio::test]
async fn a_payment_sent_twice_with_one_idempotency_key_is_recorded_once() {
    let (app, plan_id) = signed_plan().await;
    let send = |body: Value| {
        let url = format!("{}/v1/plans/{plan_id}/payments", app.base_url);
        async move {
            reqwest::Client::new()
                .post(url)
                .bearer_auth(tranche_tests::app::TEST_API_KEY)
                .header("idempotency-key", "transfer-0815")
                .json(&body)
                .send()
                .await
                .unwrap()
        }
    };
    let body = json!({"amount": "100.00", "received_on": "2027-01-04"});

    let first = send(body.clone()).await;
    assert_eq!(first.status(), StatusCode::OK);
    let first: Value = first.json().await.unwrap();
    let again = send(body).await;
    assert_eq!(again.status(), StatusCode::OK);
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    let again: Value = again.json().await.unwrap();
    let other = send(json!({"amount": "50.00", "received_on": "2027-01-04"})).await;

    assert_eq!(again, first);
    assert_eq!(other.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let plan = app.plan(&plan_id).await;
    assert_eq!(plan["balance"]["received_outside"], "100.00");
    assert_eq!(plan["received_outside"].as_array().unwrap().len(), 1);
}
