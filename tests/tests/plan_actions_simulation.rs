//! Plan actions across simulated months: two plans signed through HTTP, the daily job run
//! every day as `tranche daily --today` runs it, the operator pausing, skipping, recording a
//! payment received outside and paying off on the days they happen, and the pain.008 files the
//! bank receives read back to check what was really collected, every file validated against
//! the ISO schema.

use chrono::NaiveDate;
use serde_json::{Value, json};
use tranche_domain::pain008::Pain008Version;
use tranche_tests::app::{TestApp, plan_body, test_today};
use tranche_tests::xsd::validate_pain008;

fn day(text: &str) -> NaiveDate {
    text.parse().expect("a date")
}

/// One transaction of a pain.008 file as the bank reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Debit {
    date: NaiveDate,
    cents: i64,
    mandate: String,
}

fn between<'a>(text: &'a str, open: &str, close: &str) -> Option<&'a str> {
    let start = text.find(open)? + open.len();
    let end = text[start..].find(close)? + start;
    Some(&text[start..end])
}

fn cents(text: &str) -> i64 {
    let (euros, cents) = text.split_once('.').expect("two decimals");
    euros.parse::<i64>().unwrap() * 100 + cents.parse::<i64>().unwrap()
}

/// The debits of a pain.008 file: each `PmtInf` has its date, each `DrctDbtTxInf` its amount
/// and mandate.
fn debits(xml: &str) -> Vec<Debit> {
    let mut found = Vec::new();
    for block in xml.split("<PmtInf>").skip(1) {
        let date = day(between(block, "<ReqdColltnDt>", "</ReqdColltnDt>").expect("a date"));
        for transaction in block.split("<DrctDbtTxInf>").skip(1) {
            let amount =
                between(transaction, "<InstdAmt Ccy=\"EUR\">", "</InstdAmt>").expect("an amount");
            let mandate = between(transaction, "<MndtId>", "</MndtId>").expect("a mandate");
            found.push(Debit {
                date,
                cents: cents(amount),
                mandate: mandate.to_owned(),
            });
        }
    }
    found
}

/// Runs the job every day of `from..=to`, validates every file and keeps its debits.
async fn run_days(app: &TestApp, from: NaiveDate, to: NaiveDate, bank: &mut Vec<Debit>) {
    for today in from.iter_days().take_while(|d| *d <= to) {
        let report = app.daily(today).await;
        assert!(report.problems.is_empty(), "{today}: {:?}", report.problems);
        for batch in &report.batches_written {
            let xml = app.batch_file(batch).await;
            if let Err(e) = validate_pain008(&xml, Pain008Version::V08) {
                panic!("{today}: batch {batch} is not valid: {e}");
            }
            bank.extend(debits(&String::from_utf8(xml).expect("UTF-8")));
        }
    }
}

async fn act(app: &TestApp, plan_id: &str, action: &str, body: Value) -> Value {
    let response = app.plan_action(plan_id, action, &body).await;
    let status = response.status();
    let plan: Value = response.json().await.expect("a JSON answer");
    assert_eq!(status, reqwest::StatusCode::OK, "{action}: {plan}");
    plan
}

fn mandate_reference(mandate: &Value) -> String {
    mandate["reference"]
        .as_str()
        .expect("a reference")
        .to_owned()
}

fn of(bank: &[Debit], mandate: &str) -> Vec<Debit> {
    let mut mine: Vec<Debit> = bank
        .iter()
        .filter(|d| d.mandate == mandate)
        .cloned()
        .collect();
    mine.sort_by_key(|d| d.date);
    mine
}

#[tokio::test]
async fn a_pause_a_skip_and_a_payoff_reach_the_bank_as_agreed_and_the_money_adds_up() {
    let app = TestApp::spawn().await;
    app.given_creditor_acme().await;
    // Two plans of 1000.00 in six monthly instalments from 1 February 2027 (166.70, then
    // 166.66): A is paused and has an instalment skipped, B gets a payment outside and is paid
    // off.
    let a = app.given_signed_plan(&plan_body()).await;
    let b = app.given_signed_plan(&plan_body()).await;
    let mandate_a = mandate_reference(&app.mandate(&a.mandate_id).await);
    let mandate_b = mandate_reference(&app.mandate(&b.mandate_id).await);
    let mut bank = Vec::new();

    run_days(&app, test_today(), day("2027-02-10"), &mut bank).await;

    // 10 February: A pauses March and April, shifting its calendar.
    let app = app.restart_on(day("2027-02-10")).await;
    let paused = act(
        &app,
        &a.plan_id,
        "pause",
        json!({"from": "2027-03-01", "until": "2027-05-01", "reason": "two months without work"}),
    )
    .await;
    assert_eq!(paused["status"], "active");
    run_days(&app, day("2027-02-11"), day("2027-03-10"), &mut bank).await;

    // 10 March: B's debtor paid 200.00 by bank transfer; 15 March: B pays off the rest.
    let app = app.restart_on(day("2027-03-10")).await;
    act(
        &app,
        &b.plan_id,
        "payments",
        json!({"amount": "200.00", "received_on": "2027-03-09", "reference": "transfer 4711"}),
    )
    .await;
    run_days(&app, day("2027-03-11"), day("2027-03-15"), &mut bank).await;
    let app = app.restart_on(day("2027-03-15")).await;
    let paid_off = act(&app, &b.plan_id, "payoff", json!({"reason": "bonus"})).await;
    let payoff = paid_off["instalments"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["status"] == "planned")
        .expect("the payoff instalment")
        .clone();
    assert_eq!(payoff["amount"], "466.64");

    // 20 April: A skips its instalment of 1 June (instalment 3): it moves to the end.
    run_days(&app, day("2027-03-16"), day("2027-04-20"), &mut bank).await;
    let app = app.restart_on(day("2027-04-20")).await;
    let june = app.plan(&a.plan_id).await["instalments"][2].clone();
    assert_eq!(june["due_date"], "2027-06-01");
    let skipped = act(&app, &a.plan_id, "instalments/3/skip", json!({})).await;
    let moved_to = skipped["instalments"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();

    run_days(&app, day("2027-04-21"), day("2027-10-15"), &mut bank).await;

    // Plan A: nothing collected during the pause, the skipped amount last, on its new date.
    let a_debits = of(&bank, &mandate_a);
    assert!(
        a_debits
            .iter()
            .all(|d| d.date < day("2027-03-01") || d.date >= day("2027-05-01")),
        "{a_debits:?}"
    );
    assert_eq!(a_debits.len(), 6, "{a_debits:?}");
    let last = a_debits.last().unwrap();
    assert_eq!(last.cents, cents(june["amount"].as_str().unwrap()));
    assert_eq!(last.date, day(moved_to["due_date"].as_str().unwrap()));
    assert!(a_debits.iter().all(|d| d.date != day("2027-06-01")));
    assert_eq!(a_debits.iter().map(|d| d.cents).sum::<i64>(), 100_000);

    // Plan B: February and March by direct debit, then the payoff as one collection.
    let b_debits = of(&bank, &mandate_b);
    let amounts: Vec<i64> = b_debits.iter().map(|d| d.cents).collect();
    assert_eq!(amounts, [16_670, 16_666, 46_664], "{b_debits:?}");
    assert_eq!(b_debits[2].date, day(payoff["due_date"].as_str().unwrap()));

    // Both plans end complete, with collected + received outside = total to the cent.
    let app = app.restart_on(day("2027-10-15")).await;
    for (plan_id, outside) in [(&a.plan_id, 0), (&b.plan_id, 20_000)] {
        let plan = app.plan(plan_id).await;
        assert_eq!(plan["status"], "completed", "{plan}");
        let balance = &plan["balance"];
        assert_eq!(
            cents(balance["received_outside"].as_str().unwrap()),
            outside
        );
        assert_eq!(
            cents(balance["collected"].as_str().unwrap()) + outside,
            cents(plan["total"].as_str().unwrap()),
            "{balance}"
        );
        assert_eq!(balance["scheduled"], "0.00");
        let debited: i64 = of(
            &bank,
            if plan_id == &a.plan_id {
                &mandate_a
            } else {
                &mandate_b
            },
        )
        .iter()
        .map(|d| d.cents)
        .sum();
        assert_eq!(debited + outside, 100_000);
    }
}
