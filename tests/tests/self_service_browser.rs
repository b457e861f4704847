//! The self-service page in a real headless Chromium at a phone viewport: the debtor opens the
//! link of a pre-notification, makes a mistake the page explains beside the field, then skips
//! an instalment. Screenshots are kept in `tests/artifacts/`.

use chrono::NaiveDate;
use reqwest::StatusCode;
use tranche_tests::app::{TestApp, plan_body};
use tranche_tests::browser::Browser;

fn day(text: &str) -> NaiveDate {
    text.parse().expect("a date")
}

/// The link in the pre-notification of a plan signed on 25 January 2027.
async fn notified_plan() -> (TestApp, String, String) {
    let app = TestApp::spawn().await;
    app.given_creditor_acme().await;
    let link = app.given_plan(&plan_body()).await;
    let app = app.restart_on(day("2027-01-25")).await;
    assert_eq!(app.sign(&link).await.status, StatusCode::OK);
    app.daily(day("2027-01-25")).await;
    let notice = app.outbox().pop().expect("the pre-notification");
    let start = notice
        .text
        .find("/self-service/")
        .and_then(|i| notice.text[..i].rfind("http://"))
        .expect("a self-service link");
    let url = notice.text[start..]
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned();
    (app, link.plan_id, url)
}

#[tokio::test]
async fn a_debtor_skips_an_instalment_on_a_phone_after_fixing_a_missing_number() {
    let browser = Browser::phone().await;
    let (app, plan_id, url) = notified_plan().await;

    browser.goto(&url).await;
    browser.assert_no_horizontal_scroll().await;
    let viewport = browser.attribute("meta[name=viewport]", "content").await;
    let rows = browser.find_all("#calendar tbody tr").await;
    for field in [
        "choice-pause",
        "months",
        "choice-skip",
        "seq",
        "choice-spread",
        "count",
    ] {
        let label = browser.text_of(&format!("label[for={field}]")).await;
        assert!(!label.trim().is_empty(), "{field} has no label");
    }
    browser
        .screenshot_full_page("self-service-phone-1-opened")
        .await;

    // Spreading without saying over how many instalments: the error is beside the field.
    browser.click("#choice-spread").await;
    browser.submit().await;
    let error = browser.text_of("#count-error").await;
    browser.assert_no_horizontal_scroll().await;
    browser
        .screenshot_full_page("self-service-phone-2-error")
        .await;

    browser.click("#choice-skip").await;
    browser.select("seq", "3").await;
    browser.submit().await;
    let outcome = browser.text_of("#outcome").await;
    let still_chosen = browser.is_ticked("#choice-skip").await;
    let rows_after = browser.find_all("#calendar tbody tr").await;
    browser.assert_no_horizontal_scroll().await;
    browser
        .screenshot_full_page("self-service-phone-3-skipped")
        .await;

    assert_eq!(
        viewport.as_deref(),
        Some("width=device-width, initial-scale=1")
    );
    assert_eq!(rows.len(), 6);
    assert!(error.contains("ganze Zahl"), "{error}");
    assert!(outcome.contains("Erledigt"), "{outcome}");
    assert_eq!(
        rows_after.len(),
        6,
        "the skipped instalment is shown at its new place"
    );
    assert!(!still_chosen, "after a change the form starts empty");
    let plan = app.plan(&plan_id).await;
    assert_eq!(plan["instalments"][2]["status"], "skipped");
    browser.close().await;
}
