//! Bank reports applied in groups: changes to one plan in one file, an acceptance and rejects
//! of the same transactions in one report, and one file applied by two processes at once. Each
//! item must apply exactly once whatever the grouping (see `tranche_domain::returns`).

use chrono::NaiveDate;
use tranche_domain::bank_reports::{ItemKind, ItemScope, ReportFormat, ReportHeader, ReportItem};
use tranche_domain::signing::Links;
use tranche_local::host;
use tranche_tests::app::{TestApp, plan_body};
use tranche_tests::bank_files::{Reported, camt054_returns};

fn day(text: &str) -> NaiveDate {
    text.parse().expect("a date")
}

#[tokio::test]
async fn two_instalments_of_one_plan_and_a_repeat_in_one_file_each_apply_once() {
    let app = TestApp::spawn().await;
    app.given_creditor_acme().await;
    for _ in 0..5 {
        app.given_signed_plan(&plan_body()).await;
    }
    let mut today = day("2027-01-29");
    loop {
        app.daily(today).await;
        let batched = app.all_items("/v1/collections").await;
        if batched.iter().filter(|c| c["instalment_seq"] == 2).count() == 5 {
            break;
        }
        today = today.succ_opt().unwrap();
        assert!(today < day("2027-04-01"));
    }
    let collections = app.all_items("/v1/collections").await;
    assert_eq!(collections.len(), 10, "{collections:#?}");
    let returns: Vec<Reported> = collections
        .iter()
        .map(|c| {
            Reported::of(
                c,
                if c["instalment_seq"] == 1 {
                    "AM04"
                } else {
                    "MS02"
                },
            )
        })
        .chain(std::iter::once(Reported::of(&collections[0], "AM04")))
        .collect();

    let (_, summary) = app
        .post_bank_file(camt054_returns("C54-SCR", &returns, today))
        .await;

    assert_eq!(summary["applied"], 10, "{summary}");
    assert_eq!(summary["duplicates"], 1, "{summary}");
    for plan_id in collections.iter().map(|c| c["plan_id"].as_str().unwrap()) {
        let plan = app.plan(plan_id).await;
        assert_eq!(plan["instalments"][0]["status"], "retrying", "{plan}");
        assert_eq!(plan["instalments"][1]["status"], "failed", "{plan}");
        assert_eq!(plan["status"], "in_dunning");
    }
    let returned = app.all_items("/v1/collections?status=returned").await;
    assert_eq!(returned.len(), 10);
    assert_eq!(app.all_items("/v1/tasks?status=open").await.len(), 5);
}

#[tokio::test]
async fn an_acceptance_then_a_reject_in_one_report_both_apply() {
    let app = TestApp::spawn().await;
    app.given_creditor_acme().await;
    app.given_signed_plan(&plan_body()).await;
    app.given_signed_plan(&plan_body()).await;
    let written = app.daily(day("2027-01-29")).await;
    let batch_id = &written.batches_written[0];
    let message_id = batch_id.trim_start_matches("bat_").to_ascii_uppercase();
    let collections = app.all_items("/v1/collections").await;
    let header = ReportHeader {
        format: ReportFormat::Pain002V10,
        message_id: "PSR-SCR".into(),
    };
    let item = |kind, scope, e2e: Option<String>, reason: Option<&str>| ReportItem {
        kind,
        scope,
        original_message_id: Some(message_id.clone()),
        original_payment_information_id: None,
        end_to_end_id: e2e,
        mandate_reference: None,
        amount: None,
        collection_date: None,
        reason_code: reason.map(str::to_owned),
        reason_proprietary: None,
        additional_info: None,
        booking_date: None,
        charges: None,
        bank_reference: None,
    };
    let items = vec![
        item(
            ItemKind::Rejected,
            ItemScope::Transaction,
            Some(collections[1]["end_to_end_id"].as_str().unwrap().to_owned()),
            Some("AM04"),
        ),
        item(ItemKind::Accepted, ItemScope::Message, None, None),
        item(
            ItemKind::Rejected,
            ItemScope::Transaction,
            Some(collections[0]["end_to_end_id"].as_str().unwrap().to_owned()),
            Some("MS02"),
        ),
        item(
            ItemKind::Rejected,
            ItemScope::Transaction,
            Some(collections[0]["end_to_end_id"].as_str().unwrap().to_owned()),
            Some("MS02"),
        ),
    ];
    let ports = host::open_ports(&app.data, host::clock_for(Some(day("2027-01-30")))).unwrap();
    let links = Links {
        public_url: "http://127.0.0.1".into(),
        mail_from: "Tranche <noreply@tranche.invalid>".into(),
    };

    let report =
        tranche_domain::returns::apply_report(&ports, &links, &header, &items, "inbound/x.xml")
            .await
            .unwrap();

    // Reject of 1, accept of 0 (1 is rejected already: a duplicate), reject of 0, repeat.
    assert_eq!(report.applied, 3, "{report:?}");
    assert_eq!(report.duplicates, 2, "{report:?}");
    let now = app.all_items("/v1/collections").await;
    assert!(now.iter().all(|c| c["status"] == "rejected"), "{now:#?}");
}

#[tokio::test]
async fn the_same_file_applied_twice_at_once_applies_each_item_once() {
    use tranche_tests::bank_files::pain002_rejects;
    let app = TestApp::spawn().await;
    app.given_creditor_acme().await;
    for _ in 0..20 {
        app.given_signed_plan(&plan_body()).await;
    }
    let written = app.daily(day("2027-01-29")).await;
    let message_id = written.batches_written[0]
        .trim_start_matches("bat_")
        .to_ascii_uppercase();
    let collections = app.all_items("/v1/collections").await;
    let rejected: Vec<Reported> = collections
        .iter()
        .map(|c| Reported::of(c, "MS02"))
        .collect();
    let file = pain002_rejects("PSR-TWICE", &message_id, &rejected);
    let first = host::open_ports(&app.data, host::clock_for(Some(day("2027-01-30")))).unwrap();
    let second = host::open_ports(&app.data, host::clock_for(Some(day("2027-01-30")))).unwrap();
    let links = Links {
        public_url: "http://127.0.0.1".into(),
        mail_from: "Tranche <noreply@tranche.invalid>".into(),
    };
    let mails_before = app.outbox().len();

    let (a, b) = tokio::join!(
        tranche_domain::returns::process_bank_file(&first, &links, file.as_bytes()),
        tranche_domain::returns::process_bank_file(&second, &links, file.as_bytes())
    );

    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(a.applied + b.applied, 20, "{a:?} {b:?}");
    assert_eq!(a.duplicates + b.duplicates, 20);
    assert_eq!(
        app.all_items("/v1/collections?status=rejected").await.len(),
        20
    );
    assert_eq!(app.all_items("/v1/tasks?status=open").await.len(), 20);
    assert_eq!(app.outbox().len() - mails_before, 20);
}
