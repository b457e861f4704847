//! The daily job and the batch files, black-box: plans signed through HTTP, the job run day by
//! day as `tranche daily --today` runs it, the results read back through the operator API, and
//! every pain.008 validated against the official XSD.

use std::collections::HashMap;

use chrono::{Datelike, Days, NaiveDate};
use reqwest::Method;
use serde_json::{Value, json};
use tranche_domain::calendar::is_target_day;
use tranche_domain::pain008::Pain008Version;
use tranche_tests::app::{TestApp, creditor_body, plan_body, test_today};
use tranche_tests::xsd::validate_pain008;

fn day(text: &str) -> NaiveDate {
    text.parse().expect("a date")
}

fn days(from: NaiveDate, to: NaiveDate) -> impl Iterator<Item = NaiveDate> {
    from.iter_days().take_while(move |d| *d <= to)
}

/// Runs the job every day from `from` to `to` and validates every file it writes.
async fn run_days(app: &TestApp, from: NaiveDate, to: NaiveDate, version: Pain008Version) {
    for today in days(from, to) {
        let report = app.daily(today).await;
        assert!(report.problems.is_empty(), "{today}: {:?}", report.problems);
        for batch in &report.batches_written {
            let xml = app.batch_file(batch).await;
            if let Err(e) = validate_pain008(&xml, version) {
                panic!("{today}: batch {batch} is not valid {version:?}: {e}");
            }
        }
    }
}

async fn collections_of(app: &TestApp, plan_id: &str) -> Vec<Value> {
    let mut all: Vec<Value> = app
        .all_items("/v1/collections")
        .await
        .into_iter()
        .filter(|c| c["plan_id"] == plan_id)
        .collect();
    all.sort_by_key(|c| c["instalment_seq"].as_u64());
    all
}

#[tokio::test]
async fn a_signed_plan_is_collected_once_per_instalment_on_its_dates_and_completes() {
    let app = TestApp::spawn().await;
    app.given_creditor_acme().await;
    let link = app.given_signed_plan(&plan_body()).await;
    let plan = app.plan(&link.plan_id).await;

    run_days(&app, test_today(), day("2027-07-15"), Pain008Version::V08).await;

    let collections = collections_of(&app, &link.plan_id).await;
    let instalments = plan["instalments"].as_array().unwrap();
    assert_eq!(collections.len(), instalments.len());
    for (collection, instalment) in collections.iter().zip(instalments) {
        assert_eq!(collection["collection_date"], instalment["due_date"]);
        assert_eq!(collection["amount"], instalment["amount"]);
        assert_eq!(collection["status"], "settled");
    }
    let sequences: Vec<&str> = collections
        .iter()
        .map(|c| c["sequence_type"].as_str().unwrap())
        .collect();
    assert_eq!(sequences, ["FRST", "RCUR", "RCUR", "RCUR", "RCUR", "RCUR"]);
    let plan = app.plan(&link.plan_id).await;
    assert_eq!(plan["status"], "completed");
    assert!(
        plan["instalments"]
            .as_array()
            .unwrap()
            .iter()
            .all(|i| i["status"] == "collected")
    );
    assert_eq!(app.mandate(&link.mandate_id).await["status"], "active");
}

#[tokio::test]
async fn running_the_job_twice_or_for_an_earlier_day_creates_nothing_twice() {
    let app = TestApp::spawn().await;
    app.given_creditor_acme().await;
    app.given_signed_plan(&plan_body()).await;
    app.given_signed_plan(&plan_body()).await;

    let first = app.daily(day("2027-01-29")).await;
    let again = app.daily(day("2027-01-29")).await;
    let earlier = app.daily(day("2027-01-28")).await;
    let later = app.daily(day("2027-02-26")).await;
    let later_again = app.daily(day("2027-02-26")).await;
    let back = app.daily(day("2027-01-29")).await;

    assert_eq!(first.collections_created, 2);
    assert_eq!(first.batches_written.len(), 1);
    for report in [&again, &earlier, &later_again, &back] {
        assert_eq!(report.collections_created, 0, "{:?}", report.day);
        assert!(report.batches_written.is_empty(), "{:?}", report.day);
    }
    assert_eq!(later.collections_created, 2);
    assert_eq!(app.all_items("/v1/collections").await.len(), 4);
    assert_eq!(app.all_items("/v1/batches").await.len(), 2);
}

#[tokio::test]
async fn the_debtor_is_pre_notified_when_the_signing_confirmation_came_too_late() {
    let app = TestApp::spawn().await;
    app.given_creditor_acme().await;
    let link = app.given_plan(&plan_body()).await;
    // Signed a week before the first due date: too late to announce 1 February.
    let app = app.restart_on(day("2027-01-25")).await;
    assert_eq!(app.sign(&link).await.status, reqwest::StatusCode::OK);
    let mails_before = app.outbox().len();

    let report = app.daily(day("2027-01-25")).await;
    run_days(
        &app,
        day("2027-01-26"),
        day("2027-02-15"),
        Pain008Version::V08,
    )
    .await;

    assert_eq!(report.notices_sent, 1);
    let notice = &app.outbox()[mails_before];
    assert_eq!(notice.to, ["joerg.mueller@example.org"]);
    assert!(notice.subject.contains("166,70"), "{}", notice.subject);
    let collections = collections_of(&app, &link.plan_id).await;
    // 25 January + 14 days' notice = 8 February, then one TARGET day of lead time.
    assert_eq!(collections[0]["collection_date"], "2027-02-09");
    assert!(notice.text.contains("9. Februar 2027"), "{}", notice.text);
    let plan = app.plan(&link.plan_id).await;
    assert_eq!(plan["instalments"][0]["due_date"], "2027-02-09");
    assert_eq!(plan["instalments"][1]["due_date"], "2027-03-01");
}

#[tokio::test]
async fn a_mandate_amended_to_another_bank_sends_smnda_on_the_next_collection_only() {
    let app = TestApp::spawn().await;
    app.given_creditor_acme().await;
    let link = app.given_signed_plan(&plan_body()).await;
    run_days(&app, test_today(), day("2027-02-10"), Pain008Version::V08).await;
    let amended = app
        .call(
            Method::PATCH,
            &format!("/v1/mandates/{}", link.mandate_id),
            Some(&json!({"iban": "DE44500105175407324931"})),
        )
        .await;
    assert!(amended.status().is_success());

    run_days(
        &app,
        day("2027-02-11"),
        day("2027-04-05"),
        Pain008Version::V08,
    )
    .await;

    let collections = collections_of(&app, &link.plan_id).await;
    assert!(collections[0]["amendment"].is_null());
    assert_eq!(collections[1]["amendment"], "OtherBank");
    assert_eq!(collections[1]["debtor_iban"], "DE44500105175407324931");
    assert!(collections[2]["amendment"].is_null());
    let batch = collections[1]["batch_id"].as_str().unwrap();
    let xml = String::from_utf8(app.batch_file(batch).await).unwrap();
    assert!(xml.contains("<AmdmntInd>true</AmdmntInd>"), "{xml}");
    assert!(xml.contains("SMNDA"), "{xml}");
}

#[tokio::test]
async fn each_file_version_the_creditor_chooses_validates_against_its_schema() {
    for (setting, version) in [
        ("pain.008.001.08", Pain008Version::V08),
        ("pain.008.001.02", Pain008Version::V02),
        ("pain.008.001.08-gbic5", Pain008Version::Gbic5),
    ] {
        let app = TestApp::spawn().await;
        let mut creditor = creditor_body();
        creditor["pain008_version"] = json!(setting);
        assert!(
            app.put_creditor("acme", &creditor)
                .await
                .status()
                .is_success()
        );
        let mut business = plan_body();
        business["debtor"]["type"] = json!("business");
        business["scheme"] = json!("B2B");
        app.given_signed_plan(&plan_body()).await;
        app.given_signed_plan(&business).await;

        let report = app.daily(day("2027-01-29")).await;

        assert_eq!(
            report.batches_written.len(),
            2,
            "{setting}: one file per scheme"
        );
        for batch in &report.batches_written {
            let xml = app.batch_file(batch).await;
            validate_pain008(&xml, version).unwrap_or_else(|e| panic!("{setting}: {e}"));
            let text = String::from_utf8(xml).unwrap();
            assert!(
                !(text.contains(">CORE<") && text.contains(">B2B<")),
                "schemes mixed"
            );
        }
    }
}

#[tokio::test]
async fn a_batch_above_the_creditors_maximum_is_split_into_several_files() {
    let app = TestApp::spawn().await;
    let mut creditor = creditor_body();
    creditor["max_transactions_per_file"] = json!(2);
    app.put_creditor("acme", &creditor).await;
    for _ in 0..5 {
        app.given_signed_plan(&plan_body()).await;
    }

    let report = app.daily(day("2027-01-29")).await;

    assert_eq!(report.collections_created, 5);
    assert_eq!(report.batches_written.len(), 3);
    let mut total = 0;
    for batch in &report.batches_written {
        let xml = app.batch_file(batch).await;
        validate_pain008(&xml, Pain008Version::V08).unwrap();
        total += String::from_utf8(xml)
            .unwrap()
            .matches("<DrctDbtTxInf>")
            .count();
    }
    assert_eq!(total, 5, "every collection in exactly one file");
    let batched = app
        .all_items("/v1/collections?status=batched&date=2027-02-01")
        .await;
    assert_eq!(batched.len(), 5);
}

#[tokio::test]
async fn a_creditor_name_with_no_sepa_character_writes_no_file_and_opens_a_task_until_fixed() {
    let app = TestApp::spawn().await;
    app.given_creditor_acme().await;
    app.given_signed_plan(&plan_body()).await;
    let mut unusable = creditor_body();
    unusable["name"] = json!("###");
    app.put_creditor("acme", &unusable).await;

    let refused = app.daily(day("2027-01-29")).await;

    assert!(refused.batches_written.is_empty());
    assert!(
        refused.problems[0].contains("SEPA character set"),
        "{:?}",
        refused.problems
    );
    assert!(app.all_items("/v1/batches").await.is_empty());
    assert_eq!(
        app.all_items("/v1/collections?status=scheduled")
            .await
            .len(),
        1
    );
    let tasks = app.all_items("/v1/tasks?status=open").await;
    assert_eq!(tasks.len(), 1);
    assert_eq!(tasks[0]["kind"], "invalid_creditor_settings");

    app.given_creditor_acme().await;
    let fixed = app.daily(day("2027-01-29")).await;

    assert_eq!(fixed.batches_written.len(), 1);
    assert_eq!(
        app.all_items("/v1/collections?status=batched").await.len(),
        1
    );
}

#[tokio::test]
async fn a_mandate_that_expires_before_its_first_collection_stops_the_plan_and_opens_a_task() {
    let app = TestApp::spawn().await;
    app.given_creditor_acme().await;
    let mut far = plan_body();
    far["start_date"] = json!("2030-02-01");
    far["count"] = json!(2);
    let link = app.given_signed_plan(&far).await;

    let warned = app.daily(day("2029-12-06")).await;
    let expired = app.daily(day("2030-01-04")).await;
    run_days(
        &app,
        day("2030-01-05"),
        day("2030-02-05"),
        Pain008Version::V08,
    )
    .await;

    assert_eq!(warned.expiry_warnings, 1);
    let warning = app
        .outbox()
        .into_iter()
        .find(|m| m.to == ["billing@acme-energie.example"] && m.subject.contains("verfällt"));
    assert!(warning.is_some(), "the creditor is warned 30 days before");
    assert_eq!(expired.mandates_expired, 1);
    assert_eq!(app.mandate(&link.mandate_id).await["status"], "expired");
    assert!(
        collections_of(&app, &link.plan_id).await.is_empty(),
        "nothing collected"
    );
    let plan = app.plan(&link.plan_id).await;
    assert!(
        plan["status_reason"].as_str().unwrap().contains("expired"),
        "{plan}"
    );
    let tasks = app.all_items("/v1/tasks?status=open").await;
    assert!(
        tasks
            .iter()
            .any(|t| t["kind"] == "mandate_unusable" && t["plan_id"] == link.plan_id.as_str())
    );
}

#[tokio::test]
async fn a_cancelled_mandate_stops_collections_that_are_not_yet_made() {
    let app = TestApp::spawn().await;
    app.given_creditor_acme().await;
    let link = app.given_signed_plan(&plan_body()).await;
    run_days(&app, test_today(), day("2027-02-10"), Pain008Version::V08).await;
    app.call(
        Method::POST,
        &format!("/v1/mandates/{}/cancel", link.mandate_id),
        Some(&json!({"reason": "debtor revoked"})),
    )
    .await;

    run_days(
        &app,
        day("2027-02-11"),
        day("2027-05-10"),
        Pain008Version::V08,
    )
    .await;

    assert_eq!(collections_of(&app, &link.plan_id).await.len(), 1);
}

/// A plan of each frequency, started on staggered days; the job runs every day of a year.
#[tokio::test]
async fn a_simulated_year_collects_every_instalment_of_every_frequency_once_on_its_date() {
    let app = TestApp::spawn().await;
    app.given_creditor_acme().await;
    let frequencies = [
        ("weekly", 20),
        ("biweekly", 12),
        ("monthly", 10),
        ("bimonthly", 5),
        ("quarterly", 4),
        ("semiannual", 2),
        ("yearly", 1),
    ];
    let mut plans = HashMap::new();
    for (index, (frequency, count)) in frequencies.iter().enumerate() {
        let mut body = plan_body();
        body.as_object_mut().unwrap().remove("invoices");
        body["frequency"] = json!(frequency);
        body["count"] = json!(count);
        body["total"] = json!("1234.56");
        body["start_date"] = json!(format!("2027-02-{:02}", 1 + index * 4));
        if index % 2 == 0 {
            body["down_payment"] = json!({"amount": "100.00"});
        }
        let link = app.given_signed_plan(&body).await;
        plans.insert(frequency.to_string(), link);
    }

    run_days(&app, test_today(), day("2028-03-15"), Pain008Version::V08).await;

    for (frequency, link) in &plans {
        let plan = app.plan(&link.plan_id).await;
        let collections = collections_of(&app, &link.plan_id).await;
        let instalments = plan["instalments"].as_array().unwrap();
        assert_eq!(collections.len(), instalments.len(), "{frequency}");
        let mut cents = 0i64;
        for (collection, instalment) in collections.iter().zip(instalments) {
            assert_eq!(
                collection["instalment_seq"], instalment["seq"],
                "{frequency}"
            );
            assert_eq!(
                collection["collection_date"], instalment["due_date"],
                "{frequency}"
            );
            let date = day(collection["collection_date"].as_str().unwrap());
            assert!(is_target_day(date), "{frequency}: {date} is no TARGET day");
            assert!(date.year() == 2027 || date.year() == 2028);
            let amount =
                tranche_domain::money::Amount::parse(collection["amount"].as_str().unwrap())
                    .unwrap();
            cents += amount.cents();
        }
        assert_eq!(cents, 123_456, "{frequency}: the plan's total, to the cent");
        assert_eq!(plan["status"], "completed", "{frequency}");
    }
    let first_day = test_today() + Days::new(1);
    assert!(
        app.daily(first_day).await.collections_created == 0,
        "no day collects twice"
    );
}

#[tokio::test]
async fn a_debtor_warned_of_expiry_signs_a_new_mandate_and_the_plan_moves_onto_it() {
    let app = TestApp::spawn().await;
    app.given_creditor_acme().await;
    let mut far = plan_body();
    far["start_date"] = json!("2030-02-01");
    far["count"] = json!(2);
    let link = app.given_signed_plan(&far).await;

    app.daily(day("2029-12-06")).await;
    let invitation = app
        .outbox()
        .into_iter()
        .find(|m| m.to == ["joerg.mueller@example.org"] && m.text.contains("/sign/"))
        .expect("the debtor is invited to sign a new mandate");
    let url = invitation
        .text
        .split_whitespace()
        .find(|word| word.contains("/sign/"))
        .unwrap()
        .to_owned();
    let app = app.restart_on(day("2029-12-10")).await;
    let shown = app.open_page(&url, None).await;
    let document = shown.input_value("document").unwrap();
    let signed = app
        .post_form(&url, &tranche_tests::app::valid_signature(&document))
        .await;
    run_days(
        &app,
        day("2029-12-11"),
        day("2030-02-10"),
        Pain008Version::V08,
    )
    .await;

    assert_eq!(signed.status, reqwest::StatusCode::OK, "{}", signed.html);
    let plan = app.plan(&link.plan_id).await;
    let new_mandate = plan["mandate_id"].as_str().unwrap().to_owned();
    assert_ne!(new_mandate, link.mandate_id);
    assert_eq!(app.mandate(&new_mandate).await["status"], "active");
    let old = app.mandate(&link.mandate_id).await;
    assert_eq!(old["status"], "cancelled");
    assert!(
        old["cancellation"]["reason"]
            .as_str()
            .unwrap()
            .contains("replaced")
    );
    let collections = collections_of(&app, &link.plan_id).await;
    assert_eq!(collections.len(), 1);
    assert_eq!(collections[0]["mandate_id"], new_mandate.as_str());
    assert_eq!(collections[0]["sequence_type"], "FRST");
}
