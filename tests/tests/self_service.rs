//! Debtor self-service, black-box: the link in a pre-notification, the page in the debtor's
//! language, requests within the creditor's limits applied at once, requests beyond them turned
//! into a task the creditor accepts or refuses, and every refusal shown beside its field with
//! nothing changed.

use chrono::NaiveDate;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tranche_tests::app::{TestApp, creditor_body, error_fields, plan_body, problem};

fn day(text: &str) -> NaiveDate {
    text.parse().expect("a date")
}

/// A plan signed on 25 January 2027 (too late for the signing confirmation to announce 1
/// February), and the self-service link of the pre-notification the daily job sends that day.
async fn notified_plan() -> (TestApp, String, String) {
    let app = TestApp::spawn().await;
    app.given_creditor_acme().await;
    let link = app.given_plan(&plan_body()).await;
    let app = app.restart_on(day("2027-01-25")).await;
    assert_eq!(app.sign(&link).await.status, StatusCode::OK);
    let report = app.daily(day("2027-01-25")).await;
    assert_eq!(report.notices_sent, 1);
    let notice = app.outbox().pop().expect("the pre-notification");
    let url = self_service_url(&notice.text);
    (app, link.plan_id, url)
}

fn self_service_url(text: &str) -> String {
    let start = text
        .find("http://")
        .filter(|i| text[*i..].contains("/self-service/"))
        .unwrap_or_else(|| panic!("no self-service link in: {text}"));
    let start = text[start..]
        .find("/self-service/")
        .map(|i| {
            let before = &text[..start + i];
            before.rfind("http://").unwrap()
        })
        .unwrap();
    text[start..]
        .split_whitespace()
        .next()
        .expect("a link")
        .to_owned()
}

fn form(fields: &[(&'static str, &str)]) -> Vec<(&'static str, String)> {
    fields.iter().map(|(k, v)| (*k, (*v).to_owned())).collect()
}

fn open(plan: &Value) -> Vec<Value> {
    plan["instalments"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| matches!(i["status"].as_str(), Some("planned" | "notified")))
        .cloned()
        .collect()
}

#[tokio::test]
async fn a_pre_notification_links_to_a_page_in_the_debtors_language_with_the_calendar() {
    let (app, _plan_id, url) = notified_plan().await;

    let page = app.open_page(&url, None).await;

    assert_eq!(page.status, StatusCode::OK);
    assert!(page.html.contains("<html lang=\"de\">"));
    let text = page.text();
    assert!(text.contains("Ihr Zahlungsplan mit"), "{text}");
    assert!(text.contains("166,70"), "{text}");
    assert_eq!(page.html.matches("<tr><td>").count(), 6);
    for field in [
        "months",
        "seq",
        "count",
        "choice-pause",
        "choice-skip",
        "choice-spread",
    ] {
        assert!(
            page.html.contains(&format!("<label for=\"{field}\">")),
            "{field} has a label"
        );
    }
    assert!(!page.html.contains("<script"));
    assert!(
        page.headers["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("default-src 'none'")
    );
    let english = app.open_page(&format!("{url}?lang=en"), None).await;
    assert!(english.text().contains("Your payment plan with"));
}

#[tokio::test]
async fn a_skip_within_the_limits_applies_at_once_and_both_sides_are_told() {
    let (app, plan_id, url) = notified_plan().await;
    let mails = app.outbox().len();

    let page = app
        .post_form(&url, &form(&[("choice", "skip"), ("seq", "3")]))
        .await;

    assert_eq!(page.status, StatusCode::OK, "{}", page.html);
    assert!(page.html.contains("id=\"outcome\""));
    let plan = app.plan(&plan_id).await;
    assert_eq!(plan["instalments"][2]["status"], "skipped");
    assert_eq!(plan["instalments"][6]["seq"], 7);
    assert_eq!(
        plan["instalments"][6]["amount"],
        plan["instalments"][2]["amount"]
    );
    assert_eq!(plan["self_service_changes"], 1);
    let events = app.plan_events(&plan_id).await;
    let skipped = events
        .iter()
        .find(|e| e["kind"] == "instalment.skipped")
        .expect("the change is in the history");
    assert_eq!(skipped["actor"], "debtor");
    let sent = &app.outbox()[mails..];
    assert!(
        sent.iter()
            .any(|m| m.to == ["joerg.mueller@example.org"] && m.subject.contains("geändert")),
        "{sent:?}"
    );
    let creditor_email = creditor_body()["email"].as_str().unwrap().to_owned();
    assert!(
        sent.iter().any(|m| m.to == [creditor_email.clone()]),
        "{sent:?}"
    );
}

#[tokio::test]
async fn a_request_beyond_the_limits_waits_as_a_task_and_accepting_it_applies_it() {
    let (app, plan_id, url) = notified_plan().await;
    let before = app.plan(&plan_id).await;

    // 30 instalments: more than the default limit of 24.
    let page = app
        .post_form(&url, &form(&[("choice", "spread"), ("count", "30")]))
        .await;

    assert_eq!(page.status, StatusCode::ACCEPTED, "{}", page.html);
    assert!(page.html.contains("id=\"outcome\""));
    assert!(
        !page.html.contains("<form"),
        "no second request while one waits"
    );
    let waiting = app.plan(&plan_id).await;
    assert_eq!(waiting["instalments"], before["instalments"]);
    assert_eq!(waiting["pending_request"]["request"]["kind"], "spread");
    let task_id = waiting["pending_request"]["task_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let tasks = app.all_items("/v1/tasks?status=open").await;
    let task = tasks
        .iter()
        .find(|t| t["id"] == task_id.as_str())
        .expect("an open task");
    assert_eq!(task["kind"], "self_service_request");
    assert!(
        task["detail"].as_str().unwrap().contains("the limit is 24"),
        "{task}"
    );

    let response = app
        .call(
            Method::POST,
            &format!("/v1/tasks/{task_id}/close"),
            Some(&json!({"outcome": "maybe later"})),
        )
        .await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error_fields(&problem(response).await), ["outcome"]);

    let mails = app.outbox().len();
    let response = app
        .call(
            Method::POST,
            &format!("/v1/tasks/{task_id}/close"),
            Some(&json!({"outcome": "accept: agreed on the phone"})),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let plan = app.plan(&plan_id).await;
    assert_eq!(open(&plan).len(), 30);
    assert_eq!(plan["pending_request"], Value::Null);
    assert_eq!(plan["balance"]["scheduled"], "1000.00");
    let told = &app.outbox()[mails..];
    assert!(
        told.iter()
            .any(|m| m.to == ["joerg.mueller@example.org"] && m.subject.contains("angenommen")),
        "{told:?}"
    );
}

#[tokio::test]
async fn a_refused_request_leaves_the_plan_as_it_was_and_the_debtor_is_told() {
    let (app, plan_id, url) = notified_plan().await;
    let before = app.plan(&plan_id).await;
    app.post_form(&url, &form(&[("choice", "spread"), ("count", "30")]))
        .await;
    let task_id = app.plan(&plan_id).await["pending_request"]["task_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let mails = app.outbox().len();

    let response = app
        .call(
            Method::POST,
            &format!("/v1/tasks/{task_id}/close"),
            Some(&json!({"outcome": "refuse"})),
        )
        .await;

    assert_eq!(response.status(), StatusCode::OK);
    let plan = app.plan(&plan_id).await;
    assert_eq!(plan["instalments"], before["instalments"]);
    assert_eq!(plan["pending_request"], Value::Null);
    let told = &app.outbox()[mails..];
    assert!(
        told.iter().any(|m| m.subject.contains("nicht angenommen")),
        "{told:?}"
    );
    // The page offers the form again.
    assert!(app.open_page(&url, None).await.html.contains("<form"));
}

#[tokio::test]
async fn form_errors_are_shown_beside_their_fields_and_change_nothing() {
    let (app, plan_id, url) = notified_plan().await;
    let before = app.plan(&plan_id).await;

    let none = app.post_form(&url, &form(&[])).await;
    let months = app
        .post_form(&url, &form(&[("choice", "pause"), ("months", "0")]))
        .await;
    let count = app
        .post_form(&url, &form(&[("choice", "spread"), ("count", "3")]))
        .await;
    let seq = app
        .post_form(&url, &form(&[("choice", "skip"), ("seq", "99")]))
        .await;

    for page in [&none, &months, &count, &seq] {
        assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
    }
    assert!(none.error_at("choice").is_some(), "{}", none.html);
    assert!(
        months.error_at("months").unwrap().contains("1"),
        "{}",
        months.html
    );
    assert_eq!(months.input_value("months").as_deref(), Some("0"));
    assert!(
        count.error_at("count").unwrap().contains("7"),
        "{}",
        count.html
    );
    assert!(seq.error_at("seq").is_some());
    let after = app.plan(&plan_id).await;
    assert_eq!(after["version"], before["version"]);
}

#[tokio::test]
async fn the_third_change_goes_beyond_the_default_two_per_plan() {
    let (app, plan_id, url) = notified_plan().await;
    let first = app
        .post_form(&url, &form(&[("choice", "pause"), ("months", "1")]))
        .await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.html);
    let second = app
        .post_form(&url, &form(&[("choice", "skip"), ("seq", "4")]))
        .await;
    assert_eq!(second.status, StatusCode::OK, "{}", second.html);

    let third = app
        .post_form(&url, &form(&[("choice", "skip"), ("seq", "5")]))
        .await;

    assert_eq!(third.status, StatusCode::ACCEPTED, "{}", third.html);
    let plan = app.plan(&plan_id).await;
    assert!(
        plan["pending_request"]["beyond"][0]
            .as_str()
            .unwrap()
            .contains("changes per plan")
    );
}

#[tokio::test]
async fn unknown_malformed_and_expired_links_show_nothing_of_the_plan() {
    let (app, _plan_id, url) = notified_plan().await;

    let unknown = app
        .open_page(&format!("/self-service/{}", "ab".repeat(32)), None)
        .await;
    let malformed = app.open_page("/self-service/not-a-token", None).await;
    let app = app.restart_on(day("2027-03-15")).await;
    let expired = app.open_page(&url, None).await;

    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    assert_eq!(malformed.status, StatusCode::NOT_FOUND);
    assert_eq!(expired.status, StatusCode::GONE);
    assert!(!expired.text().contains("166,70"));
}

#[tokio::test]
async fn a_cancelled_plan_cannot_be_changed_on_the_page() {
    let (app, plan_id, url) = notified_plan().await;
    let response = app
        .plan_action(&plan_id, "cancel", &json!({"reason": "paid in full"}))
        .await;
    assert_eq!(response.status(), StatusCode::OK);

    let shown = app.open_page(&url, None).await;
    let posted = app
        .post_form(&url, &form(&[("choice", "skip"), ("seq", "3")]))
        .await;

    assert!(shown.html.contains("id=\"closed\""));
    assert!(!shown.html.contains("<form"));
    assert_eq!(posted.status, StatusCode::CONFLICT);
}

#[tokio::test]
async fn the_creditor_sets_the_limits_and_bad_limits_are_refused_by_field() {
    let app = TestApp::spawn().await;
    let mut body = creditor_body();
    body["self_service"] = json!({"max_count": 0, "min_instalment": 5, "max_extension_months": 3});
    let response = app.put_creditor("acme", &body).await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        error_fields(&problem(response).await),
        ["self_service.max_count", "self_service.min_instalment"]
    );

    body["self_service"] =
        json!({"max_count": 12, "min_instalment": "50.00", "max_extension_months": 3});
    let response = app.put_creditor("acme", &body).await;
    assert!(response.status().is_success());
    let creditor: Value = app.get_creditor("acme").await.json().await.unwrap();
    assert_eq!(
        creditor["self_service"],
        json!({"max_count": 12, "min_instalment": "50.00", "max_extension_months": 3, "max_changes_per_plan": 2})
    );
}

/// A signed plan whose first collection (1 February) the bank rejects with `reason` on
/// 2 February; answers the host on that day and the self-service link of the debtor's e-mail.
async fn rejected_first_collection(reason: &str) -> (TestApp, String, String) {
    let app = TestApp::spawn().await;
    app.given_creditor_acme().await;
    let link = app.given_signed_plan(&plan_body()).await;
    app.daily(day("2027-01-29")).await;
    let collection = app
        .all_items("/v1/collections")
        .await
        .into_iter()
        .find(|c| c["plan_id"] == link.plan_id.as_str())
        .expect("a collection");
    let batch = app
        .all_items("/v1/batches")
        .await
        .into_iter()
        .find(|b| b["id"] == collection["batch_id"])
        .expect("its batch");
    let file = tranche_tests::bank_files::pain002_rejects(
        "PSR-SELF-SERVICE",
        batch["message_id"].as_str().unwrap(),
        &[tranche_tests::bank_files::Reported {
            end_to_end_id: collection["end_to_end_id"].as_str().unwrap().to_owned(),
            amount: collection["amount"].as_str().unwrap().to_owned(),
            reason: reason.to_owned(),
            date: day(collection["collection_date"].as_str().unwrap()),
            mandate_reference: collection["mandate_reference"].as_str().unwrap().to_owned(),
        }],
    );
    let app = app.restart_on(day("2027-02-02")).await;
    let mails = app.outbox().len();
    let (status, summary) = app.post_bank_file(file).await;
    assert_eq!(status, StatusCode::OK, "{summary}");
    let outbox = app.outbox();
    let dunning = outbox[mails..]
        .iter()
        .find(|m| m.to == ["joerg.mueller@example.org"])
        .expect("the debtor is told");
    let url = self_service_url(&dunning.text);
    (app, link.plan_id, url)
}

#[tokio::test]
async fn a_dunning_e_mail_carries_a_working_self_service_link() {
    let (app, _plan_id, url) = rejected_first_collection("AM04").await;

    let page = app.open_page(&url, None).await;

    assert_eq!(page.status, StatusCode::OK);
    assert!(page.html.contains("<form"));
}

#[tokio::test]
async fn a_debtor_in_dunning_moves_the_failed_instalment_to_the_end_and_the_plan_collects_again() {
    // MS02: refused by the debtor, no re-presentation: the plan is in dunning.
    let (app, plan_id, url) = rejected_first_collection("MS02").await;
    assert_eq!(app.plan(&plan_id).await["status"], "in_dunning");

    let page = app
        .post_form(&url, &form(&[("choice", "skip"), ("seq", "1")]))
        .await;

    assert_eq!(page.status, StatusCode::OK, "{}", page.html);
    let plan = app.plan(&plan_id).await;
    assert_eq!(plan["status"], "active");
    assert_eq!(plan["instalments"][0]["status"], "skipped");
    assert_eq!(
        plan["instalments"][6]["amount"],
        plan["instalments"][0]["amount"]
    );
    assert_eq!(plan["balance"]["scheduled"], "1000.00");
    assert!(plan["next_action_on"].is_string());
}
