//! The operator's calls on mandates: read, amend, cancel, the PDF and the event history.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tranche_tests::app::{TestApp, creditor_body, error_fields, pdf_text, plan_body, problem};

async fn signed_mandate(app: &TestApp) -> (String, String) {
    let mut creditor = creditor_body();
    creditor["mandate_reference_prefix"] = json!("ACME-");
    assert!(
        app.put_creditor("acme", &creditor)
            .await
            .status()
            .is_success()
    );
    let link = app.given_plan(&plan_body()).await;
    assert_eq!(app.sign(&link).await.status, StatusCode::OK);
    (link.mandate_id, link.plan_id)
}

async fn patch(app: &TestApp, id: &str, body: Value) -> reqwest::Response {
    app.call(Method::PATCH, &format!("/v1/mandates/{id}"), Some(&body))
        .await
}

async fn cancel(app: &TestApp, id: &str, body: Value) -> reqwest::Response {
    app.call(
        Method::POST,
        &format!("/v1/mandates/{id}/cancel"),
        Some(&body),
    )
    .await
}

async fn events(app: &TestApp, id: &str) -> Value {
    app.call(Method::GET, &format!("/v1/mandates/{id}/events"), None)
        .await
        .json()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_new_plan_invites_a_mandate_with_the_creditors_reference_prefix() {
    let app = TestApp::spawn().await;
    let mut creditor = creditor_body();
    creditor["mandate_reference_prefix"] = json!("ACME-");
    app.put_creditor("acme", &creditor).await;

    let link = app.given_plan(&plan_body()).await;
    let mandate = app.mandate(&link.mandate_id).await;

    assert_eq!(mandate["status"], "invited");
    assert_eq!(mandate["plan_id"], link.plan_id.as_str());
    assert_eq!(mandate["scheme"], "CORE");
    let reference = mandate["reference"].as_str().unwrap();
    assert!(
        reference.starts_with("ACME-") && reference.len() <= 35,
        "{reference}"
    );
    assert!(mandate.get("download_token_hash").is_none());
}

#[tokio::test]
async fn a_mandate_reference_prefix_outside_the_sepa_set_is_refused() {
    let app = TestApp::spawn().await;
    let mut creditor = creditor_body();
    creditor["mandate_reference_prefix"] = json!("ÄCME/");

    let response = app.put_creditor("acme", &creditor).await;

    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        error_fields(&problem(response).await),
        ["mandate_reference_prefix"]
    );
}

#[tokio::test]
async fn a_new_iban_is_an_amendment_that_keeps_the_old_and_new_account() {
    let app = TestApp::spawn().await;
    let (id, _) = signed_mandate(&app).await;

    let response = patch(
        &app,
        &id,
        json!({"iban": "DE44 5001 0517 5407 3249 31", "reason": "new bank"}),
    )
    .await;

    assert_eq!(response.status(), StatusCode::OK);
    let mandate: Value = response.json().await.unwrap();
    assert_eq!(mandate["status"], "amended");
    assert_eq!(mandate["debtor"]["iban"], "DE44500105175407324931");
    let amendment = &mandate["amendments"][0];
    assert_eq!(amendment["previous_iban"], "DE89370400440532013000");
    assert_eq!(amendment["new_iban"], "DE44500105175407324931");
    assert_eq!(amendment["presented"], false);
    let history = events(&app, &id).await;
    let kinds: Vec<&str> = history["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        ["mandate.invited", "mandate.signed", "mandate.amended"]
    );
    assert_eq!(history["events"][2]["data"]["moved_bank"], true);
}

#[tokio::test]
async fn a_bad_amendment_is_refused_naming_the_field_and_changes_nothing() {
    let app = TestApp::spawn().await;
    let (id, _) = signed_mandate(&app).await;

    let bad_iban = patch(&app, &id, json!({"iban": "DE44 5001 0517 5407 3249 32"})).await;
    let nothing = patch(&app, &id, json!({"reason": "no account given"})).await;
    let typo = patch(&app, &id, json!({"ibna": "DE44500105175407324931"})).await;

    assert_eq!(error_fields(&problem(bad_iban).await), ["iban"]);
    assert_eq!(error_fields(&problem(nothing).await), ["iban"]);
    assert!(error_fields(&problem(typo).await).contains(&"ibna".to_owned()));
    assert_eq!(app.mandate(&id).await["status"], "signed");
}

#[tokio::test]
async fn an_unsigned_mandate_cannot_be_amended_and_says_why() {
    let app = TestApp::spawn().await;
    app.given_creditor_acme().await;
    let link = app.given_plan(&plan_body()).await;

    let response = patch(
        &app,
        &link.mandate_id,
        json!({"iban": "DE44500105175407324931"}),
    )
    .await;

    assert_eq!(response.status(), StatusCode::CONFLICT);
    assert!(
        problem(response).await["detail"]
            .as_str()
            .unwrap()
            .contains("invited")
    );
}

#[tokio::test]
async fn cancelling_a_mandate_stops_its_plan_and_says_why() {
    let app = TestApp::spawn().await;
    let (id, plan_id) = signed_mandate(&app).await;

    let without_reason = cancel(&app, &id, json!({})).await;
    let cancelled = cancel(&app, &id, json!({"reason": "customer revoked the mandate"})).await;
    let again = cancel(&app, &id, json!({"reason": "twice"})).await;

    assert_eq!(error_fields(&problem(without_reason).await), ["reason"]);
    assert_eq!(cancelled.status(), StatusCode::OK);
    let mandate: Value = cancelled.json().await.unwrap();
    assert_eq!(mandate["status"], "cancelled");
    assert_eq!(
        mandate["cancellation"]["reason"],
        "customer revoked the mandate"
    );
    let plan = app.plan(&plan_id).await;
    assert_eq!(plan["status"], "cancelled");
    assert!(
        plan["status_reason"]
            .as_str()
            .unwrap()
            .contains("customer revoked the mandate")
    );
    assert!(
        plan["instalments"]
            .as_array()
            .unwrap()
            .iter()
            .all(|i| i["status"] == "cancelled")
    );
    assert_eq!(again.status(), StatusCode::CONFLICT);
    assert!(
        problem(again).await["detail"]
            .as_str()
            .unwrap()
            .contains("cancelled")
    );
}

#[tokio::test]
async fn a_cancelled_invitation_turns_its_signing_link_off() {
    let app = TestApp::spawn().await;
    app.given_creditor_acme().await;
    let link = app.given_plan(&plan_body()).await;

    cancel(
        &app,
        &link.mandate_id,
        json!({"reason": "sent to the wrong person"}),
    )
    .await;
    let page = app.open_page(&link.url, None).await;

    assert_eq!(page.status, StatusCode::GONE);
    assert!(!page.html.contains("Acme"));
}

#[tokio::test]
async fn the_mandate_pdf_carries_every_mandatory_field() {
    let app = TestApp::spawn().await;
    app.given_creditor_acme().await;
    let link = app.given_plan(&plan_body()).await;
    let before = app
        .download(&format!("/v1/mandates/{}/document", link.mandate_id))
        .await;
    app.sign(&link).await;

    let (status, content_type, pdf) = app
        .download(&format!("/v1/mandates/{}/document", link.mandate_id))
        .await;

    assert_eq!(before.0, StatusCode::NOT_FOUND);
    assert_eq!(status, StatusCode::OK);
    assert_eq!(content_type, "application/pdf");
    let text = pdf_text(&pdf);
    let mandate = app.mandate(&link.mandate_id).await;
    for mandatory in [
        "SEPA-Lastschriftmandat",
        "Acme Energie GmbH",
        "Hauptstraße 12",
        "DE98ZZZ09999999999",
        mandate["reference"].as_str().unwrap(),
        "Wiederkehrende Zahlung",
        "SEPA-Basislastschrift",
        "Jörg Müller",
        "Lindenallee 3, 50667 Köln",
        "DE89 3704 0044 0532 0130 00",
        "acht Wochen",
        "1. Februar 2027",
        "166,70 €",
        "1.000,00 €",
        mandate["signature"]["document_sha256"].as_str().unwrap(),
    ] {
        assert!(
            text.contains(mandatory),
            "the PDF lacks {mandatory:?}:\n{text}"
        );
    }
}

#[tokio::test]
async fn the_event_history_is_a_hash_chain_that_shows_tampering() {
    let app = TestApp::spawn().await;
    let (id, _) = signed_mandate(&app).await;
    assert_eq!(events(&app, &id).await["chain"]["intact"], true);

    let database = rusqlite::Connection::open(app.data.join("tranche.sqlite3")).unwrap();
    let changed = database
        .execute(
            "UPDATE events SET body = json_set(body, '$.data.ip_address', '198.51.100.9')
             WHERE aggregate_id = ?1 AND seq = 2",
            [&id],
        )
        .unwrap();
    assert_eq!(changed, 1);
    let history = events(&app, &id).await;

    assert_eq!(history["chain"]["intact"], false);
    assert_eq!(history["chain"]["broken_at"], 2);
}

#[tokio::test]
async fn an_unknown_mandate_is_a_404_problem() {
    let app = TestApp::spawn().await;

    let response = app
        .call(Method::GET, "/v1/mandates/mnd_nothing", None)
        .await;

    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert!(
        problem(response).await["detail"]
            .as_str()
            .unwrap()
            .contains("mnd_nothing")
    );
}
