//! The signing pages, black-box through HTTP as a browser without JavaScript uses them.

use chrono::Days;
use reqwest::StatusCode;
use serde_json::json;
use tranche_domain::creditor::Language;
use tranche_domain::i18n::{fill, format_amount, format_date, texts};
use tranche_domain::money::Amount;
use tranche_tests::app::{
    FormFields, TestApp, creditor_body, pdf_text, plan_body, test_today, valid_signature,
    with_field, without_field,
};

fn plan_in(language: &str) -> serde_json::Value {
    let mut body = plan_body();
    body["debtor"]["language"] = json!(language);
    body
}

#[tokio::test]
async fn a_debtor_signs_in_each_of_the_four_languages_from_page_to_pdf() {
    for (code, language) in [
        ("en", Language::En),
        ("de", Language::De),
        ("fr", Language::Fr),
        ("nl", Language::Nl),
    ] {
        let app = TestApp::spawn().await;
        app.given_creditor_acme().await;
        let link = app.given_plan(&plan_in(code)).await;
        let t = texts(language);

        let shown = app.open_page(&link.url, None).await;
        let document = shown.input_value("document").unwrap();
        let wrong_iban = with_field(
            valid_signature(&document),
            "iban",
            "DE89 3704 0044 0532 0130 01",
        );
        let refused = app.post_form(&link.url, &wrong_iban).await;
        let right = with_field(
            valid_signature(&document),
            "iban",
            "de89 3704 0044 0532 0130 00",
        );
        let signed = app.post_form(&link.url, &right).await;

        assert_eq!(shown.status, StatusCode::OK, "{code}");
        assert!(
            shown.html.contains(&format!("<html lang=\"{code}\">")),
            "{code}"
        );
        let text = shown.text();
        assert!(text.contains(t.page_title), "{code}: title");
        assert!(
            text.contains(&fill(t.core_rights, &[("creditor", "Acme Energie GmbH")])),
            "{code}: refund right"
        );
        assert!(
            text.contains("DE98ZZZ09999999999"),
            "{code}: creditor identifier"
        );
        assert!(
            text.contains(&fill(t.pre_notification, &[("days", "14")])),
            "{code}: pre-notification"
        );
        let plan = app.plan(&link.plan_id).await;
        for instalment in plan["instalments"].as_array().unwrap() {
            let date = instalment["due_date"].as_str().unwrap().parse().unwrap();
            let amount = Amount::parse(instalment["amount"].as_str().unwrap()).unwrap();
            assert!(
                text.contains(&format_date(date, language)),
                "{code}: {date}"
            );
            assert!(
                text.contains(&format_amount(amount, language)),
                "{code}: {amount}"
            );
        }
        assert!(text.contains(&format_amount(Amount::parse("1000.00").unwrap(), language)));

        assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY, "{code}");
        assert_eq!(
            refused.error_at("iban").as_deref(),
            Some(t.error_iban_invalid),
            "{code}"
        );
        assert_eq!(
            refused.input_value("iban").as_deref(),
            Some("DE89 3704 0044 0532 0130 01"),
            "{code}: value kept"
        );

        assert_eq!(signed.status, StatusCode::OK, "{code}: {}", signed.html);
        assert!(signed.html.contains(&format!("<html lang=\"{code}\">")));
        assert!(signed.text().contains(t.confirmed_title), "{code}");
        let (status, content_type, pdf) = app.download(&signed.document_link().unwrap()).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(content_type, "application/pdf");
        let pdf = pdf_text(&pdf);
        assert!(
            pdf.contains("DE89 3704 0044 0532 0130 00"),
            "{code}: IBAN in the PDF"
        );
        assert!(pdf.contains(t.mandate_heading), "{code}: title in the PDF");

        let mandate = app.mandate(&link.mandate_id).await;
        assert_eq!(mandate["status"], "signed");
        assert_eq!(mandate["language"], code);
        assert_eq!(mandate["debtor"]["iban"], "DE89370400440532013000");
        assert_eq!(mandate["signature"]["ip_address"], "127.0.0.1");
        assert_eq!(mandate["signature"]["user_agent"], "TrancheTest/1.0");
        assert_eq!(mandate["signature"]["signer_name"], "Jörg Müller");
        assert_eq!(mandate["signature"]["method"], "click");
        assert_eq!(
            mandate["signature"]["document_sha256"]
                .as_str()
                .unwrap()
                .len(),
            64
        );
        assert_eq!(app.plan(&link.plan_id).await["status"], "active");

        let mails = app.outbox();
        let to_debtor = mails
            .iter()
            .find(|m| m.to == ["joerg.mueller@example.org"])
            .expect("a mail to the debtor");
        let to_creditor = mails
            .iter()
            .find(|m| m.to == ["billing@acme-energie.example"])
            .expect("a copy to the creditor");
        let reference = mandate["reference"].as_str().unwrap();
        assert!(
            to_debtor.subject.contains(reference),
            "{code}: {}",
            to_debtor.subject
        );
        assert_eq!(to_debtor.attachments.len(), 1);
        assert!(to_debtor.attachments[0].1.starts_with(b"%PDF"));
        assert!(to_creditor.subject.contains(reference));
    }
}

#[tokio::test]
async fn the_lang_parameter_wins_and_accept_language_serves_pages_without_a_plan() {
    let app = TestApp::spawn().await;
    app.given_creditor_acme().await;
    let link = app.given_plan(&plan_in("de")).await;

    let chosen = app
        .open_page(&format!("{}?lang=fr", link.url), Some("nl"))
        .await;
    let debtors = app.open_page(&link.url, Some("nl, en;q=0.5")).await;
    let unknown = app
        .open_page(
            &format!("{}/sign/{}", app.base_url, "0".repeat(64)),
            Some("nl-BE, fr;q=0.8"),
        )
        .await;

    assert!(chosen.html.contains("<html lang=\"fr\">"));
    assert!(debtors.html.contains("<html lang=\"de\">"));
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    assert!(unknown.html.contains("<html lang=\"nl\">"));
    assert!(
        unknown
            .text()
            .contains(texts(Language::Nl).link_unknown_title)
    );
}

#[tokio::test]
async fn each_missing_or_wrong_field_is_shown_at_the_field_and_nothing_is_signed() {
    let app = TestApp::spawn().await;
    app.given_creditor_acme().await;
    let link = app.given_plan(&plan_in("en")).await;
    let t = texts(Language::En);
    let document = app
        .open_page(&link.url, None)
        .await
        .input_value("document")
        .unwrap();
    let valid = || valid_signature(&document);
    let cases: Vec<(&str, FormFields, &str)> = vec![
        ("name", with_field(valid(), "name", "  "), t.error_required),
        ("street", without_field(valid(), "street"), t.error_required),
        (
            "postcode",
            with_field(valid(), "postcode", ""),
            t.error_required,
        ),
        ("town", without_field(valid(), "town"), t.error_required),
        (
            "country",
            with_field(valid(), "country", "US"),
            t.error_country,
        ),
        ("accept", without_field(valid(), "accept"), t.error_accept),
        ("iban", without_field(valid(), "iban"), t.error_required),
        (
            "iban",
            with_field(valid(), "iban", "DE89 3704 0044 0532 0130 0"),
            t.error_iban_invalid,
        ),
        (
            "iban",
            with_field(valid(), "iban", "BR1800360305000010009795493C1"),
            t.error_iban_not_sepa,
        ),
        ("bic", with_field(valid(), "bic", "COBADEF"), t.error_bic),
        (
            "signature_name",
            with_field(valid(), "signature_name", "Someone Else"),
            t.error_signature_name,
        ),
    ];

    for (field, form, message) in cases {
        let page = app.post_form(&link.url, &form).await;

        assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY, "{field}");
        assert_eq!(page.error_at(field).as_deref(), Some(message), "{field}");
        assert!(page.html.contains("id=\"error-summary\""), "{field}");
    }
    assert_eq!(app.mandate(&link.mandate_id).await["status"], "invited");
    assert_eq!(
        app.open_page(&link.url, None).await.status,
        StatusCode::OK,
        "the link still works"
    );
    assert!(app.outbox().is_empty());
}

#[tokio::test]
async fn a_signing_link_works_once_and_a_used_link_reveals_nothing() {
    let app = TestApp::spawn().await;
    app.given_creditor_acme().await;
    let link = app.given_plan(&plan_in("en")).await;
    let document = app
        .open_page(&link.url, None)
        .await
        .input_value("document")
        .unwrap();

    let first = app.post_form(&link.url, &valid_signature(&document)).await;
    let again = app.post_form(&link.url, &valid_signature(&document)).await;
    let reopened = app.open_page(&link.url, None).await;

    assert_eq!(first.status, StatusCode::OK);
    let reference = app.mandate(&link.mandate_id).await["reference"]
        .as_str()
        .unwrap()
        .to_owned();
    for page in [&again, &reopened] {
        assert_eq!(page.status, StatusCode::GONE);
        assert!(page.text().contains(texts(Language::En).link_used_title));
        for secret in [reference.as_str(), "Acme", "Müller", "1000", "DE89"] {
            assert!(!page.html.contains(secret), "a used link shows {secret}");
        }
    }
    let signed_events: Vec<serde_json::Value> = app
        .call(
            reqwest::Method::GET,
            &format!("/v1/mandates/{}/events", link.mandate_id),
            None,
        )
        .await
        .json::<serde_json::Value>()
        .await
        .unwrap()["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "mandate.signed")
        .cloned()
        .collect();
    assert_eq!(signed_events.len(), 1, "signed once");
}

#[tokio::test]
async fn an_expired_link_shows_a_clear_page_and_signs_nothing() {
    let app = TestApp::spawn().await;
    app.given_creditor_acme().await;
    let link = app.given_plan(&plan_in("de")).await;
    let document = app
        .open_page(&link.url, None)
        .await
        .input_value("document")
        .unwrap();

    let app = app.restart_on(test_today() + Days::new(31)).await;
    let shown = app.open_page(&link.url, None).await;
    let posted = app.post_form(&link.url, &valid_signature(&document)).await;

    for page in [&shown, &posted] {
        assert_eq!(page.status, StatusCode::GONE);
        assert!(page.text().contains(texts(Language::En).link_expired_title));
        assert!(!page.html.contains("Acme"));
    }
    assert_eq!(app.mandate(&link.mandate_id).await["status"], "invited");
}

#[tokio::test]
async fn form_input_is_escaped_where_it_is_shown_again_under_a_strict_policy() {
    let app = TestApp::spawn().await;
    app.given_creditor_acme().await;
    let link = app.given_plan(&plan_in("en")).await;
    let document = app
        .open_page(&link.url, None)
        .await
        .input_value("document")
        .unwrap();
    let hostile = "\"><script>alert(1)</script>";
    let form = with_field(
        with_field(valid_signature(&document), "street", hostile),
        "accept",
        "",
    );
    let form = without_field(form, "accept");

    let page = app.post_form(&link.url, &form).await;

    assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(!page.html.contains("<script>"));
    assert!(
        page.html
            .contains("&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;")
    );
    let policy = page.headers["content-security-policy"].to_str().unwrap();
    assert!(policy.contains("default-src 'none'"));
    assert!(!policy.contains("script-src"));
    assert_eq!(page.headers["x-frame-options"], "DENY");
}

#[tokio::test]
async fn a_plan_changed_between_showing_and_signing_is_not_signed() {
    let app = TestApp::spawn().await;
    app.given_creditor_acme().await;
    let link = app.given_plan(&plan_in("en")).await;

    let page = app
        .post_form(&link.url, &valid_signature(&"0".repeat(64)))
        .await;

    assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        page.text()
            .contains(texts(Language::En).error_document_changed)
    );
    assert_eq!(app.mandate(&link.mandate_id).await["status"], "invited");
}

#[tokio::test]
async fn a_business_signs_a_b2b_mandate_that_states_the_absence_of_a_refund() {
    let app = TestApp::spawn().await;
    app.given_creditor_acme().await;
    let mut body = plan_in("en");
    body["debtor"]["type"] = json!("business");
    body["debtor"]["name"] = json!("Müller Bau GmbH");
    body["scheme"] = json!("B2B");
    let link = app.given_plan(&body).await;
    let t = texts(Language::En);

    let shown = app.open_page(&link.url, None).await;
    let document = shown.input_value("document").unwrap();
    let form = with_field(
        with_field(valid_signature(&document), "name", "Müller Bau GmbH"),
        "signature_name",
        "Jörg Müller",
    );
    let signed = app.post_form(&link.url, &form).await;

    let text = shown.text();
    assert!(text.contains(&fill(t.b2b_rights, &[("creditor", "Acme Energie GmbH")])));
    assert!(!text.contains(&fill(t.core_rights, &[("creditor", "Acme Energie GmbH")])));
    assert!(text.contains(t.scheme_b2b));
    assert_eq!(
        signed.status,
        StatusCode::OK,
        "a representative signs for the business"
    );
    assert_eq!(app.mandate(&link.mandate_id).await["scheme"], "B2B");
}

async fn creditor_with_email_codes(app: &TestApp) {
    let mut creditor = creditor_body();
    creditor["signing_method"] = json!("email_code");
    assert!(
        app.put_creditor("acme", &creditor)
            .await
            .status()
            .is_success()
    );
}

fn code_in(mail: &str) -> String {
    mail.split(|c: char| !c.is_ascii_digit())
        .find(|word| word.len() == 6)
        .expect("a 6-digit code in the mail")
        .to_owned()
}

#[tokio::test]
async fn with_email_codes_the_mailed_code_signs_and_a_wrong_one_counts_down() {
    let app = TestApp::spawn().await;
    creditor_with_email_codes(&app).await;
    let link = app.given_plan(&plan_in("en")).await;
    let t = texts(Language::En);
    let document = app
        .open_page(&link.url, None)
        .await
        .input_value("document")
        .unwrap();

    let asked = app.post_form(&link.url, &valid_signature(&document)).await;
    let mails = app.outbox();
    let code = code_in(&mails[0].subject);
    let wrong_code = if code == "000000" { "000001" } else { "000000" };
    let wrong = app
        .post_form(
            &link.url,
            &with_field(valid_signature(&document), "code", wrong_code),
        )
        .await;
    let right = app
        .post_form(
            &link.url,
            &with_field(valid_signature(&document), "code", &code),
        )
        .await;

    assert_eq!(asked.status, StatusCode::OK);
    assert!(asked.html.contains("id=\"code-sent\""));
    assert!(asked.html.contains("name=\"code\""));
    assert_eq!(mails.len(), 1);
    assert_eq!(mails[0].to, ["joerg.mueller@example.org"]);
    assert_eq!(code_in(&mails[0].text), code);
    assert_eq!(wrong.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        wrong.error_at("code").as_deref(),
        Some(fill(t.error_code_wrong, &[("left", "4")]).as_str())
    );
    assert_eq!(right.status, StatusCode::OK, "{}", right.html);
    let mandate = app.mandate(&link.mandate_id).await;
    assert_eq!(mandate["signature"]["method"], "email_code");
    assert_eq!(
        mandate["signature"]["code_sent_to"],
        "joerg.mueller@example.org"
    );
    assert!(
        mandate.get("email_code").is_none(),
        "the code's hash is not shown"
    );
}

#[tokio::test]
async fn five_wrong_codes_lock_the_code_until_a_new_one_is_sent() {
    let app = TestApp::spawn().await;
    creditor_with_email_codes(&app).await;
    let link = app.given_plan(&plan_in("en")).await;
    let t = texts(Language::En);
    let document = app
        .open_page(&link.url, None)
        .await
        .input_value("document")
        .unwrap();
    app.post_form(&link.url, &valid_signature(&document)).await;
    let code = code_in(&app.outbox()[0].subject);
    let wrong_code = if code == "999999" { "999998" } else { "999999" };

    for _ in 0..5 {
        app.post_form(
            &link.url,
            &with_field(valid_signature(&document), "code", wrong_code),
        )
        .await;
    }
    let locked = app
        .post_form(
            &link.url,
            &with_field(valid_signature(&document), "code", &code),
        )
        .await;
    let resent = app
        .post_form(
            &link.url,
            &with_field(valid_signature(&document), "action", "send_code"),
        )
        .await;
    let new_code = code_in(&app.outbox()[1].subject);
    let signed = app
        .post_form(
            &link.url,
            &with_field(valid_signature(&document), "code", &new_code),
        )
        .await;

    assert_eq!(locked.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        locked.error_at("code").as_deref(),
        Some(t.error_code_locked)
    );
    assert_eq!(resent.status, StatusCode::OK);
    assert_eq!(signed.status, StatusCode::OK);
}

#[tokio::test]
async fn a_code_from_yesterday_has_expired() {
    let app = TestApp::spawn().await;
    creditor_with_email_codes(&app).await;
    let link = app.given_plan(&plan_in("en")).await;
    let document = app
        .open_page(&link.url, None)
        .await
        .input_value("document")
        .unwrap();
    app.post_form(&link.url, &valid_signature(&document)).await;
    let code = code_in(&app.outbox()[0].subject);

    let app = app.restart_on(test_today() + Days::new(1)).await;
    let late = app
        .post_form(
            &link.url,
            &with_field(valid_signature(&document), "code", &code),
        )
        .await;

    assert_eq!(late.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        late.error_at("code").as_deref(),
        Some(texts(Language::En).error_code_expired)
    );
    assert_eq!(app.mandate(&link.mandate_id).await["status"], "invited");
}
