//! The operator API for creditors and plans, black-box through HTTP.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tranche_tests::app::{TestApp, creditor_body, error_fields, plan_body, problem};

#[tokio::test]
async fn operator_calls_without_a_known_api_key_are_refused_with_a_problem() {
    let app = TestApp::spawn().await;

    for key in [None, Some("wrong-key"), Some("")] {
        let response = app.call_with_key(Method::GET, "/v1/plans", None, key).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "key {key:?}");
        assert_eq!(response.headers()["www-authenticate"], "Bearer");
        let problem = problem(response).await;
        assert!(
            problem["detail"]
                .as_str()
                .unwrap()
                .contains("Authorization: Bearer")
        );
    }
    let response = app
        .call_with_key(
            Method::PUT,
            "/v1/creditors/acme",
            Some(&creditor_body()),
            None,
        )
        .await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        app.get_creditor("acme").await.status(),
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn the_health_check_answers_without_a_key() {
    let app = TestApp::spawn().await;

    let response = app.call_with_key(Method::GET, "/healthz", None, None).await;

    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_creditor_is_created_then_replaced_with_its_defaults_filled_in() {
    let app = TestApp::spawn().await;
    let mut body = creditor_body();
    body.as_object_mut()
        .unwrap()
        .remove("pre_notification_days");
    body.as_object_mut().unwrap().remove("lead_days");

    let created = app.put_creditor("acme", &body).await;
    body["name"] = json!("Acme Energie AG");
    let replaced = app.put_creditor("acme", &body).await;

    assert_eq!(created.status(), StatusCode::CREATED);
    assert_eq!(replaced.status(), StatusCode::OK);
    let stored: Value = app.get_creditor("acme").await.json().await.unwrap();
    assert_eq!(stored["name"], "Acme Energie AG");
    assert_eq!(stored["iban"], "DE89370400440532013000");
    assert_eq!(stored["pre_notification_days"], 14);
    assert_eq!(stored["lead_days"], 1);
    assert_eq!(stored["compliance_mode"], "inform");
}

#[tokio::test]
async fn a_creditor_with_a_wrong_iban_bic_and_identifier_is_refused_naming_each_and_not_stored() {
    let app = TestApp::spawn().await;
    let mut body = creditor_body();
    body["iban"] = json!("DE89370400440532013001");
    body["bic"] = json!("COBADEF");
    body["creditor_identifier"] = json!("DE99ZZZ09999999999");
    body["branding"]["color"] = json!("green");

    let response = app.put_creditor("acme", &body).await;

    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let problem = problem(response).await;
    let fields = error_fields(&problem);
    for field in ["iban", "bic", "creditor_identifier", "branding.color"] {
        assert!(
            fields.contains(&field.to_owned()),
            "{field} not named in {problem}"
        );
    }
    assert_eq!(
        app.get_creditor("acme").await.status(),
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn a_preview_lays_out_the_calendar_to_the_cent_without_storing_anything() {
    let app = TestApp::spawn().await;
    app.given_creditor_acme().await;

    let response = app.preview_plan(&plan_body()).await;

    assert_eq!(response.status(), StatusCode::OK);
    let preview: Value = response.json().await.unwrap();
    let instalments = preview["instalments"].as_array().unwrap();
    assert_eq!(instalments.len(), 6);
    assert_eq!(preview["total"], "1000.00");
    let amounts: Vec<&str> = instalments
        .iter()
        .map(|i| i["amount"].as_str().unwrap())
        .collect();
    assert_eq!(
        amounts,
        ["166.70", "166.66", "166.66", "166.66", "166.66", "166.66"]
    );
    let dates: Vec<&str> = instalments
        .iter()
        .map(|i| i["due_date"].as_str().unwrap())
        .collect();
    assert_eq!(
        dates,
        [
            "2027-02-01",
            "2027-03-01",
            "2027-04-01",
            "2027-05-03",
            "2027-06-01",
            "2027-07-01"
        ],
        "monthly on the 1st, 1 May 2027 (a Saturday, and a TARGET holiday) rolled to Monday 3 May"
    );
    assert_eq!(
        preview["compliance"]["status"], "outside_consumer_credit",
        "a free repayment plan of existing debts: {}",
        preview["compliance"]
    );
    assert!(app.all_plan_ids().await.is_empty());
}

#[tokio::test]
async fn a_created_plan_awaits_signature_with_a_single_signing_link() {
    let app = TestApp::spawn().await;
    app.given_creditor_acme().await;

    let first = app.create_plan(&plan_body()).await;
    let second = app.create_plan(&plan_body()).await;

    assert_eq!(first.status(), StatusCode::CREATED);
    let location = first.headers()["location"].to_str().unwrap().to_owned();
    let first: Value = first.json().await.unwrap();
    let second: Value = second.json().await.unwrap();
    assert_eq!(first["status"], "awaiting_signature");
    assert_eq!(
        location,
        format!("/v1/plans/{}", first["id"].as_str().unwrap())
    );
    let url = first["signing_url"].as_str().unwrap();
    let token = url.rsplit('/').next().unwrap();
    assert!(url.starts_with(&format!("{}/sign/", app.base_url)));
    assert_eq!(token.len(), 64, "256 random bits in hex");
    assert_ne!(first["signing_url"], second["signing_url"]);
    assert_ne!(first["id"], second["id"]);

    let stored: Value = app
        .get_plan(first["id"].as_str().unwrap())
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(stored["instalments"], first["instalments"]);
    assert!(
        stored.get("signing_url").is_none(),
        "the link is only shown once"
    );
    assert!(
        !stored.to_string().contains(token),
        "the token itself is never stored"
    );
    assert!(
        stored["instalments"]
            .as_array()
            .unwrap()
            .iter()
            .all(|i| i["status"] == "planned")
    );
}

#[tokio::test]
async fn plans_are_listed_by_status_and_page_by_page() {
    let app = TestApp::spawn().await;
    app.given_creditor_acme().await;
    let mut created = Vec::new();
    for _ in 0..5 {
        let plan: Value = app.create_plan(&plan_body()).await.json().await.unwrap();
        created.push(plan["id"].as_str().unwrap().to_owned());
    }

    let awaiting: Value = app
        .list_plans("status=awaiting_signature")
        .await
        .json()
        .await
        .unwrap();
    let active: Value = app.list_plans("status=active").await.json().await.unwrap();
    let first_page: Value = app.list_plans("limit=2").await.json().await.unwrap();

    assert_eq!(awaiting["items"].as_array().unwrap().len(), 5);
    assert!(active["items"].as_array().unwrap().is_empty());
    assert_eq!(first_page["items"].as_array().unwrap().len(), 2);
    assert!(first_page["next"].is_string());
    let mut listed = app.all_plan_ids().await;
    listed.sort();
    created.sort();
    assert_eq!(listed, created);
}

#[tokio::test]
async fn a_list_with_an_unknown_status_is_refused_naming_the_statuses() {
    let app = TestApp::spawn().await;

    let response = app.list_plans("status=open").await;

    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let problem = problem(response).await;
    assert_eq!(error_fields(&problem), ["status"]);
    assert!(
        problem["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("awaiting_signature")
    );
}

#[tokio::test]
async fn an_unknown_plan_is_a_404_problem() {
    let app = TestApp::spawn().await;

    let response = app.get_plan("pln_doesnotexist").await;

    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert!(
        problem(response).await["detail"]
            .as_str()
            .unwrap()
            .contains("pln_doesnotexist")
    );
}

#[tokio::test]
async fn the_same_idempotency_key_creates_one_plan_and_answers_the_first_answer_again() {
    let app = TestApp::spawn().await;
    app.given_creditor_acme().await;

    let first = app.create_plan_with_key(&plan_body(), "order-7781").await;
    let first_status = first.status();
    let first_body: Value = first.json().await.unwrap();
    let again = app.create_plan_with_key(&plan_body(), "order-7781").await;

    assert_eq!(first_status, StatusCode::CREATED);
    assert_eq!(again.status(), StatusCode::CREATED);
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    let again_body: Value = again.json().await.unwrap();
    assert_eq!(again_body, first_body);
    assert_eq!(app.all_plan_ids().await.len(), 1);
}

#[tokio::test]
async fn an_idempotency_key_reused_with_another_body_is_refused_and_creates_nothing() {
    let app = TestApp::spawn().await;
    app.given_creditor_acme().await;
    app.create_plan_with_key(&plan_body(), "order-7782").await;
    let mut other = plan_body();
    other["count"] = json!(3);

    let response = app.create_plan_with_key(&other, "order-7782").await;

    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        problem(response).await["detail"]
            .as_str()
            .unwrap()
            .contains("Idempotency-Key")
    );
    assert_eq!(app.all_plan_ids().await.len(), 1);
}

#[tokio::test]
async fn creditors_and_plans_survive_a_restart_of_the_host() {
    let app = TestApp::spawn().await;
    app.given_creditor_acme().await;
    let plan: Value = app.create_plan(&plan_body()).await.json().await.unwrap();
    let id = plan["id"].as_str().unwrap().to_owned();

    let app = app.restart().await;

    let stored: Value = app.get_plan(&id).await.json().await.unwrap();
    assert_eq!(stored["instalments"], plan["instalments"]);
    assert_eq!(app.get_creditor("acme").await.status(), StatusCode::OK);
}

/// One wrong thing: its name, the change to the valid body, and the field the answer must name.
type BadCase = (&'static str, Box<dyn Fn(&mut Value)>, &'static str);

fn bad_plan_requests() -> Vec<BadCase> {
    vec![
        (
            "zero total",
            Box::new(|b| b["total"] = json!("0.00")),
            "total",
        ),
        (
            "negative total",
            Box::new(|b| b["total"] = json!("-100.00")),
            "total",
        ),
        (
            "three decimals",
            Box::new(|b| b["total"] = json!("1000.001")),
            "total",
        ),
        (
            "non-numeric total",
            Box::new(|b| b["total"] = json!("a thousand")),
            "total",
        ),
        (
            "total as a JSON number",
            Box::new(|b| b["total"] = json!(1000.0)),
            "total",
        ),
        ("count zero", Box::new(|b| b["count"] = json!(0)), "count"),
        (
            "count over the limit",
            Box::new(|b| b["count"] = json!(121)),
            "count",
        ),
        (
            "unknown frequency",
            Box::new(|b| b["frequency"] = json!("daily")),
            "frequency",
        ),
        (
            "impossible date",
            Box::new(|b| b["start_date"] = json!("2027-02-30")),
            "start_date",
        ),
        (
            "past date",
            Box::new(|b| b["start_date"] = json!("2020-01-01")),
            "start_date",
        ),
        (
            "currency other than EUR",
            Box::new(|b| b["currency"] = json!("USD")),
            "currency",
        ),
        (
            "unknown creditor",
            Box::new(|b| b["creditor_id"] = json!("nobody")),
            "creditor_id",
        ),
        (
            "down payment not below the total",
            Box::new(|b| b["down_payment"] = json!({"amount": "1000.00"})),
            "down_payment.amount",
        ),
        (
            "instalment amount above the total",
            Box::new(|b| {
                b.as_object_mut().unwrap().remove("count");
                b["instalment_amount"] = json!("1000.01");
            }),
            "instalment_amount",
        ),
        (
            "unknown field",
            Box::new(|b| b["totl"] = json!("1000.00")),
            "totl",
        ),
        (
            "B2B for a consumer",
            Box::new(|b| b["scheme"] = json!("B2B")),
            "scheme",
        ),
        (
            "missing debtor e-mail",
            Box::new(|b| {
                b["debtor"]
                    .as_object_mut()
                    .unwrap()
                    .remove("email")
                    .map(|_| ())
                    .unwrap()
            }),
            "debtor.email",
        ),
        (
            "invalid debtor e-mail",
            Box::new(|b| b["debtor"]["email"] = json!("joerg at example")),
            "debtor.email",
        ),
        (
            "invoices not adding up",
            Box::new(|b| b["invoices"][1]["amount"] = json!("300.00")),
            "invoices",
        ),
        (
            "both count and instalment amount",
            Box::new(|b| b["instalment_amount"] = json!("100.00")),
            "count",
        ),
        (
            "unknown kind",
            Box::new(|b| b["kind"] = json!("loan")),
            "kind",
        ),
        (
            "unknown debtor type",
            Box::new(|b| b["debtor"]["type"] = json!("person")),
            "debtor.type",
        ),
    ]
}

#[tokio::test]
async fn every_bad_plan_request_is_refused_naming_its_field_and_stores_nothing() {
    let app = TestApp::spawn().await;
    app.given_creditor_acme().await;

    for (case, change, field) in bad_plan_requests() {
        let mut body = plan_body();
        change(&mut body);

        let preview = app.preview_plan(&body).await;
        let create = app.create_plan(&body).await;

        assert_eq!(
            preview.status(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "{case}: preview"
        );
        assert_eq!(
            create.status(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "{case}: create"
        );
        let problem = problem(create).await;
        assert!(
            error_fields(&problem).contains(&field.to_owned()),
            "{case}: expected `{field}` in {problem}"
        );
        assert!(
            !problem["detail"].as_str().unwrap().is_empty(),
            "{case}: no detail"
        );
    }
    assert!(
        app.all_plan_ids().await.is_empty(),
        "a refused request stored a plan"
    );
}

#[tokio::test]
async fn a_start_date_too_early_is_refused_naming_the_earliest_legal_date() {
    let app = TestApp::spawn().await;
    app.given_creditor_acme().await;
    let mut body = plan_body();
    body["start_date"] = json!("2027-01-11");

    let response = app.create_plan(&body).await;

    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let problem = problem(response).await;
    assert_eq!(error_fields(&problem), ["start_date"]);
    // Today 2027-01-04 + 14 days pre-notification = 2027-01-18, + 1 TARGET day lead time.
    assert!(
        problem["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("2027-01-19"),
        "{problem}"
    );
}

#[tokio::test]
async fn several_wrong_fields_are_all_named_in_one_answer() {
    let app = TestApp::spawn().await;
    app.given_creditor_acme().await;
    let mut body = plan_body();
    body["total"] = json!(12.5);
    body["frequency"] = json!("fortnightly");
    body["debtor"]["language"] = json!("xx");

    let problem = problem(app.create_plan(&body).await).await;

    let fields = error_fields(&problem);
    for field in ["total", "frequency", "debtor.language"] {
        assert!(
            fields.contains(&field.to_owned()),
            "{field} missing in {problem}"
        );
    }
}

#[tokio::test]
async fn a_body_that_is_not_json_is_a_400_problem() {
    let app = TestApp::spawn().await;
    app.given_creditor_acme().await;

    let response = app.create_plan_raw("{\"total\": ").await;

    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(error_fields(&problem(response).await), ["body"]);
    assert!(app.all_plan_ids().await.is_empty());
}

#[tokio::test]
async fn a_creditor_that_refuses_consumer_credit_refuses_such_a_plan_but_previews_explain_why() {
    let app = TestApp::spawn().await;
    let mut creditor = creditor_body();
    creditor["compliance_mode"] = json!("refuse");
    app.put_creditor("acme", &creditor).await;
    let mut body = plan_body();
    body["kind"] = json!("instalment");
    body.as_object_mut().unwrap().remove("invoices");
    body["count"] = json!(12);

    let preview = app.preview_plan(&body).await;
    let create = app.create_plan(&body).await;

    assert_eq!(preview.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(create.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let problem = problem(create).await;
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("consumer-credit"),
        "{problem}"
    );
    assert!(app.all_plan_ids().await.is_empty());
}
