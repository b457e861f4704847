//! The signing page in a real headless Chromium, at a desktop and a phone viewport: what a
//! debtor sees and does, with screenshots kept in `tests/artifacts/`.

use fantoccini::key::Key;
use tranche_tests::app::{TestApp, plan_body};
use tranche_tests::browser::Browser;

/// The form's fields in the order the keyboard must reach them.
const FORM_ORDER: [&str; 10] = [
    "name",
    "street",
    "building",
    "postcode",
    "town",
    "country",
    "iban",
    "bic",
    "signature_name",
    "accept",
];

async fn sign_through_the_page(browser: &Browser, viewport: &str) {
    let app = TestApp::spawn().await;
    app.given_creditor_acme().await;
    let link = app.given_plan(&plan_body()).await;

    browser.goto(&link.url).await;
    let rows = browser.find_all("#plan tbody tr").await;
    let total = browser.text_of("#total").await;
    let plan_text = browser.text_of("#plan").await;
    browser
        .screenshot_full_page(&format!("signing-{viewport}-1-opened"))
        .await;
    browser.fill("iban", "DE89 3704 0044 0532 0130 01").await;
    browser.fill("signature_name", "Jörg Müller").await;
    browser.tick("accept").await;
    browser.submit().await;
    let error = browser.text_of("#iban-error").await;
    let kept = browser.property("#iban", "value").await;
    browser
        .screenshot_full_page(&format!("signing-{viewport}-2-bad-iban"))
        .await;
    browser.fill("iban", "de89 3704 0044 0532 0130 00").await;
    browser.fill("signature_name", "Jörg Müller").await;
    browser.tick("accept").await;
    browser.submit().await;
    let confirmation = browser.text_of("#confirmation").await;
    browser
        .screenshot_full_page(&format!("signing-{viewport}-3-signed"))
        .await;
    let pdf = browser.download("#document-link").await;

    assert_eq!(rows.len(), 6, "{viewport}: every instalment is shown");
    // WebDriver reads the no-break space of "1.000,00 €" as a plain space.
    assert_eq!(total.replace('\u{a0}', " "), "1.000,00 €");
    assert!(
        plan_text.contains("1. Februar 2027") && plan_text.contains("166,70"),
        "{plan_text}"
    );
    assert!(error.contains("IBAN"), "{viewport}: {error}");
    assert_eq!(
        kept.as_deref(),
        Some("DE89 3704 0044 0532 0130 01"),
        "{viewport}: the typed IBAN is kept"
    );
    assert_eq!(confirmation, "Mandat unterschrieben");
    assert!(
        pdf.starts_with(b"%PDF"),
        "{viewport}: the download is a PDF"
    );
    assert_eq!(app.mandate(&link.mandate_id).await["status"], "signed");
}

#[tokio::test]
async fn a_debtor_signs_on_a_desktop_after_fixing_a_mistyped_iban() {
    let browser = Browser::desktop().await;
    sign_through_the_page(&browser, "desktop").await;
    browser.close().await;
}

#[tokio::test]
async fn a_debtor_signs_on_a_phone_without_sideways_scrolling() {
    let browser = Browser::phone().await;
    let app = TestApp::spawn().await;
    app.given_creditor_acme().await;
    let link = app.given_plan(&plan_body()).await;
    browser.goto(&link.url).await;
    browser.assert_no_horizontal_scroll().await;
    let viewport = browser.attribute("meta[name=viewport]", "content").await;

    sign_through_the_page(&browser, "phone").await;
    browser.assert_no_horizontal_scroll().await;

    assert_eq!(
        viewport.as_deref(),
        Some("width=device-width, initial-scale=1")
    );
    browser.close().await;
}

#[tokio::test]
async fn the_form_is_usable_with_the_keyboard_alone() {
    let browser = Browser::desktop().await;
    let app = TestApp::spawn().await;
    app.given_creditor_acme().await;
    let link = app.given_plan(&plan_body()).await;
    browser.goto(&format!("{}?lang=en", link.url)).await;

    let order = browser.tab_order(20).await;
    let positions: Vec<usize> = FORM_ORDER
        .iter()
        .map(|field| {
            order
                .iter()
                .position(|focused| focused == field)
                .unwrap_or_else(|| panic!("Tab never reaches {field}: {order:?}"))
        })
        .collect();
    assert!(positions.windows(2).all(|w| w[0] < w[1]), "{order:?}");

    browser.fill("iban", "DE89370400440532013000").await;
    assert_eq!(browser.press_tab().await, "bic");
    assert_eq!(browser.press_tab().await, "signature_name");
    browser.type_text("Jörg Müller").await;
    assert_eq!(browser.press_tab().await, "accept");
    browser.press(Key::Space).await;
    assert!(browser.is_ticked("accept").await, "Space ticks the consent");
    assert_eq!(browser.press_tab().await, "action");
    browser.press(Key::Enter).await;
    let confirmation = browser.text_of("#confirmation").await;

    assert_eq!(confirmation, "Mandate signed");
    browser.close().await;
}

#[tokio::test]
async fn every_field_has_a_visible_label() {
    let browser = Browser::phone().await;
    let app = TestApp::spawn().await;
    app.given_creditor_acme().await;
    let link = app.given_plan(&plan_body()).await;
    browser.goto(&link.url).await;

    for field in FORM_ORDER {
        let label = browser.text_of(&format!("label[for={field}]")).await;
        assert!(!label.trim().is_empty(), "{field} has no label");
    }
    browser.close().await;
}
