//! The signing pages as server-rendered HTML: no JavaScript, a plain form, one column that fits
//! a phone, a label on every field and each error next to its field, in the debtor's language.
//!
//! Every text and every value is escaped where it enters the HTML ([`escape`]). Styles come from
//! `/sign/style.css`, plus one inline rule for the creditor's colour allowed by a per-response
//! CSP nonce; the colour was checked to be `#RRGGBB` when the creditor was stored.

use std::fmt::Write as _;

use tranche_domain::creditor::{Creditor, Language};
use tranche_domain::document::MandateDocument;
use tranche_domain::error::FieldError;
use tranche_domain::i18n::{self, Texts, fill, format_amount, texts};
use tranche_domain::mandate::SigningMethod;
use tranche_domain::plan::Plan;
use tranche_domain::signing::{LinkProblem, SigningForm};

/// The page's stylesheet, served at `/sign/style.css`.
pub const STYLESHEET: &str = r#"
*{box-sizing:border-box}
html{-webkit-text-size-adjust:100%}
body{margin:0;font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;color:#1c2430;background:#f4f6f8}
header.brand{background:var(--brand,#24527a);color:#fff;padding:.75rem 1rem;display:flex;align-items:center;gap:.75rem}
header.brand img{max-height:2.5rem;max-width:10rem;background:#fff;border-radius:4px;padding:2px}
header.brand strong{font-size:1.1rem}
main{max-width:42rem;margin:0 auto;padding:1rem}
section,form.sign{background:#fff;border-radius:8px;padding:1rem;margin:0 0 1rem;box-shadow:0 1px 2px rgba(0,0,0,.08)}
h1{font-size:1.5rem;line-height:1.25;margin:.5rem 0 .75rem}
h2{font-size:1.15rem;margin:0 0 .75rem}
nav.lang{font-size:.9rem;text-align:right}
nav.lang a{color:inherit;margin-left:.5rem}
nav.lang a[aria-current]{font-weight:700;text-decoration:none}
table{width:100%;border-collapse:collapse;font-variant-numeric:tabular-nums}
th,td{padding:.35rem .25rem;border-bottom:1px solid #e3e7eb;text-align:left}
td.amount,th.amount{text-align:right;white-space:nowrap}
tfoot th,tfoot td{border-bottom:0;font-weight:700}
dl{margin:0 0 1rem}
dt{color:#56606b;font-size:.9rem;margin-top:.6rem}
dd{margin:0;overflow-wrap:anywhere}
@media (min-width:36rem){dl{display:grid;grid-template-columns:minmax(9rem,14rem) 1fr;gap:.35rem 1rem}dt{margin:0;overflow-wrap:anywhere}}
p.legal{font-size:.95rem}
.field{margin:0 0 1rem}
label{display:block;font-weight:600;margin:0 0 .25rem}
input[type=text],input[type=email],select{width:100%;font:inherit;padding:.6rem .7rem;border:1px solid #8a96a3;border-radius:6px;background:#fff}
input:focus,select:focus,button:focus,a:focus{outline:3px solid var(--brand,#24527a);outline-offset:2px}
.hint{font-size:.9rem;color:#56606b;margin:.25rem 0 0}
.field.invalid input,.field.invalid select{border-color:#b3261e;border-width:2px}
.error{color:#b3261e;font-weight:600;margin:.25rem 0 0}
.checkbox{display:flex;gap:.6rem;align-items:flex-start}
.checkbox input{width:1.4rem;height:1.4rem;margin:.15rem 0 0;flex:none}
.checkbox label{font-weight:400}
.notice{background:#eef6ee;border-left:4px solid #2e7d32;padding:.75rem;margin:0 0 1rem}
.error-summary{background:#fdecea;border-left:4px solid #b3261e;padding:.75rem;margin:0 0 1rem;font-weight:600}
button{font:inherit;font-weight:700;padding:.8rem 1.2rem;border:0;border-radius:6px;background:var(--brand,#24527a);color:#fff;width:100%;cursor:pointer;margin:.25rem 0}
button.secondary{background:#fff;color:var(--brand,#24527a);border:2px solid var(--brand,#24527a)}
a.download{display:inline-block;font-weight:700;padding:.8rem 1.2rem;border-radius:6px;background:var(--brand,#24527a);color:#fff;text-decoration:none}
@media (min-width:40rem){button{width:auto}}
fieldset{border:0;padding:0;margin:0 0 1rem;min-width:0}
legend{font-weight:700;font-size:1.15rem;margin:0 0 .75rem;padding:0}
.option{border:1px solid #c9d1d9;border-radius:8px;padding:.75rem;margin:0 0 .75rem}
.option .checkbox label{font-weight:600}
.option .field{margin:.75rem 0 0 2rem}
.limits{font-size:.9rem;color:#56606b}
"#;

/// Escapes text for HTML element content and quoted attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The Content-Security-Policy of every signing page: nothing but our own stylesheet, the
/// one nonce'd colour rule, images over https (the creditor's logo), and forms posting back
/// to us; no scripts at all.
pub fn content_security_policy(nonce: &str) -> String {
    format!(
        "default-src 'none'; style-src 'self' 'nonce-{nonce}'; img-src 'self' https:; \
         form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
    )
}

pub(crate) fn head(
    out: &mut String,
    language: Language,
    title: &str,
    color: Option<&str>,
    nonce: &str,
) {
    let _ = write!(
        out,
        "<!doctype html>\n<html lang=\"{}\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <meta name=\"referrer\" content=\"no-referrer\">\n\
         <meta name=\"robots\" content=\"noindex\">\n\
         <title>{}</title>\n<link rel=\"stylesheet\" href=\"/sign/style.css\">\n",
        language.as_str(),
        escape(title)
    );
    if let Some(color) = color.filter(|c| is_hex_color(c)) {
        let _ = writeln!(
            out,
            "<style nonce=\"{nonce}\">:root{{--brand:{color}}}</style>"
        );
    }
    out.push_str("</head>\n<body>\n");
}

fn is_hex_color(color: &str) -> bool {
    color.len() == 7 && color.starts_with('#') && color[1..].chars().all(|c| c.is_ascii_hexdigit())
}

pub(crate) fn brand_header(out: &mut String, creditor: &Creditor) {
    out.push_str("<header class=\"brand\">");
    if let Some(logo) = &creditor.branding.logo_url {
        let _ = write!(
            out,
            "<img src=\"{}\" alt=\"\" width=\"120\" height=\"40\">",
            escape(logo)
        );
    }
    let _ = writeln!(out, "<strong>{}</strong></header>", escape(&creditor.name));
}

pub(crate) fn language_switcher(out: &mut String, t: &Texts, current: Language) {
    let _ = write!(
        out,
        "<nav class=\"lang\" aria-label=\"{}\">{}:",
        escape(t.language_label),
        escape(t.language_label)
    );
    for (language, name) in [
        (Language::En, "English"),
        (Language::De, "Deutsch"),
        (Language::Fr, "Français"),
        (Language::Nl, "Nederlands"),
    ] {
        let current_mark = if language == current {
            " aria-current=\"true\""
        } else {
            ""
        };
        let code = language.as_str();
        let _ = write!(
            out,
            " <a href=\"?lang={code}\" hreflang=\"{code}\" lang=\"{code}\"{current_mark}>{name}</a>"
        );
    }
    out.push_str("</nav>\n");
}

/// The plan's calendar as a table, from the document so page, evidence and PDF agree.
fn schedule_table(out: &mut String, t: &Texts, document: &MandateDocument, plan: &Plan) {
    let _ = write!(
        out,
        "<section id=\"plan\">\n<h2>{}</h2>\n<table>\n<thead><tr><th scope=\"col\">{}</th>\
         <th scope=\"col\">{}</th><th scope=\"col\" class=\"amount\">{}</th></tr></thead>\n<tbody>\n",
        escape(&document.schedule_heading),
        escape(t.column_number),
        escape(t.column_due_date),
        escape(t.column_amount)
    );
    for line in &document.schedule {
        let _ = writeln!(
            out,
            "<tr><td>{}</td><td>{}</td><td class=\"amount\">{}</td></tr>",
            escape(&line.number),
            escape(&line.due_date),
            escape(&line.amount)
        );
    }
    let _ = write!(
        out,
        "</tbody>\n<tfoot><tr><th scope=\"row\" colspan=\"2\">{}</th><td class=\"amount\" id=\"total\">{}</td></tr></tfoot>\n</table>\n",
        escape(&document.total.label),
        escape(&document.total.value)
    );
    if !plan.invoices.is_empty() {
        let _ = write!(out, "<p>{}:</p>\n<ul>\n", escape(t.invoices));
        for invoice in &plan.invoices {
            let _ = writeln!(
                out,
                "<li>{} ({})</li>",
                escape(&invoice.reference),
                escape(&format_amount(invoice.amount, document.language))
            );
        }
        out.push_str("</ul>\n");
    }
    out.push_str("</section>\n");
}

fn mandate_section(out: &mut String, t: &Texts, document: &MandateDocument) {
    let _ = write!(
        out,
        "<section id=\"mandate\">\n<h2>{}</h2>\n<dl>\n<dt>{}</dt><dd>{}</dd>\n",
        escape(&document.title),
        escape(t.creditor_label),
        document
            .creditor_lines
            .iter()
            .map(|l| escape(l))
            .collect::<Vec<_>>()
            .join("<br>")
    );
    for field in &document.fields {
        let _ = writeln!(
            out,
            "<dt>{}</dt><dd>{}</dd>",
            escape(&field.label),
            escape(&field.value)
        );
    }
    out.push_str("</dl>\n");
    for paragraph in &document.paragraphs {
        let _ = writeln!(out, "<p class=\"legal\">{}</p>", escape(paragraph));
    }
    out.push_str("</section>\n");
}

/// What the signing page shows besides the plan and the mandate.
pub struct FormState<'a> {
    pub form: &'a SigningForm,
    pub errors: &'a [FieldError],
    /// The address a code was mailed to, when the page asks for it.
    pub code_sent_to: Option<&'a str>,
}

struct Field<'a> {
    name: &'a str,
    label: &'a str,
    value: &'a str,
    required: bool,
    autocomplete: &'a str,
    hint: Option<&'a str>,
    extra: &'a str,
}

pub(crate) fn error_for<'e>(errors: &'e [FieldError], field: &str) -> Option<&'e str> {
    errors
        .iter()
        .find(|e| e.field == field)
        .map(|e| e.message.as_str())
}

fn text_field(out: &mut String, field: Field<'_>, errors: &[FieldError]) {
    let error = error_for(errors, field.name);
    let mut described_by = Vec::new();
    if field.hint.is_some() {
        described_by.push(format!("{}-hint", field.name));
    }
    if error.is_some() {
        described_by.push(format!("{}-error", field.name));
    }
    let _ = write!(
        out,
        "<div class=\"field{}\">\n<label for=\"{name}\">{}</label>\n\
         <input type=\"text\" id=\"{name}\" name=\"{name}\" value=\"{}\" autocomplete=\"{}\"{}{}{}{}>\n",
        if error.is_some() { " invalid" } else { "" },
        escape(field.label),
        escape(field.value),
        field.autocomplete,
        if field.required { " required" } else { "" },
        if described_by.is_empty() {
            String::new()
        } else {
            format!(" aria-describedby=\"{}\"", described_by.join(" "))
        },
        if error.is_some() {
            " aria-invalid=\"true\""
        } else {
            ""
        },
        field.extra,
        name = field.name,
    );
    if let Some(hint) = field.hint {
        let _ = writeln!(
            out,
            "<p class=\"hint\" id=\"{}-hint\">{}</p>",
            field.name,
            escape(hint)
        );
    }
    if let Some(error) = error {
        let _ = writeln!(
            out,
            "<p class=\"error\" id=\"{}-error\">{}</p>",
            field.name,
            escape(error)
        );
    }
    out.push_str("</div>\n");
}

fn country_field(
    out: &mut String,
    t: &Texts,
    language: Language,
    selected: &str,
    errors: &[FieldError],
) {
    let error = error_for(errors, "country");
    let _ = write!(
        out,
        "<div class=\"field{}\">\n<label for=\"country\">{}</label>\n<select id=\"country\" name=\"country\" autocomplete=\"country\" required{}>\n",
        if error.is_some() { " invalid" } else { "" },
        escape(t.field_country),
        if error.is_some() {
            " aria-invalid=\"true\" aria-describedby=\"country-error\""
        } else {
            ""
        }
    );
    let mut countries: Vec<(&str, &str)> = i18n::sepa_countries()
        .filter_map(|code| i18n::country_name(code, language).map(|name| (code, name)))
        .collect();
    countries.sort_by(|a, b| a.1.cmp(b.1));
    for (code, name) in countries {
        let _ = writeln!(
            out,
            "<option value=\"{code}\"{}>{}</option>",
            if code == selected { " selected" } else { "" },
            escape(name)
        );
    }
    out.push_str("</select>\n");
    if let Some(error) = error {
        let _ = writeln!(
            out,
            "<p class=\"error\" id=\"country-error\">{}</p>",
            escape(error)
        );
    }
    out.push_str("</div>\n");
}

/// Everything the signing page is drawn from.
pub struct SigningPage<'a> {
    pub language: Language,
    pub token: &'a str,
    pub creditor: &'a Creditor,
    pub plan: &'a Plan,
    /// The document as shown (without the debtor's data); its hash goes back with the form.
    pub document: &'a MandateDocument,
    pub state: FormState<'a>,
    pub nonce: &'a str,
}

/// The signing page.
pub fn signing_page(page: &SigningPage<'_>) -> String {
    let t = texts(page.language);
    let creditor = page.creditor;
    let form = page.state.form;
    let errors = page.state.errors;
    let mut out = String::with_capacity(16 * 1024);

    head(
        &mut out,
        page.language,
        &format!("{} – {}", t.page_title, creditor.name),
        creditor.branding.color.as_deref(),
        page.nonce,
    );
    brand_header(&mut out, creditor);
    out.push_str("<main>\n");
    language_switcher(&mut out, t, page.language);
    let _ = write!(
        out,
        "<h1>{}</h1>\n<p>{}</p>\n",
        escape(t.page_title),
        escape(&fill(t.intro, &[("creditor", &creditor.name)]))
    );
    schedule_table(&mut out, t, page.document, page.plan);
    mandate_section(&mut out, t, page.document);

    let _ = write!(
        out,
        "<form class=\"sign\" id=\"details\" method=\"post\" action=\"/sign/{}?lang={}#details\">\n<h2>{}</h2>\n",
        escape(page.token),
        page.language.as_str(),
        escape(t.form_heading)
    );
    if !errors.is_empty() {
        let general = error_for(errors, "form").unwrap_or(t.error_summary);
        let _ = writeln!(
            out,
            "<div class=\"error-summary\" role=\"alert\" id=\"error-summary\">{}</div>",
            escape(general)
        );
    }
    if let Some(to) = page.state.code_sent_to {
        let minutes = tranche_domain::signing::EMAIL_CODE_MINUTES.to_string();
        let _ = writeln!(
            out,
            "<p class=\"notice\" role=\"status\" id=\"code-sent\">{}</p>",
            escape(&fill(t.code_sent, &[("email", to), ("minutes", &minutes)]))
        );
    }
    let fields = [
        Field {
            name: "name",
            label: t.field_name,
            value: &form.name,
            required: true,
            autocomplete: "name",
            hint: None,
            extra: "",
        },
        Field {
            name: "street",
            label: t.field_street,
            value: &form.street,
            required: true,
            autocomplete: "address-line1",
            hint: None,
            extra: "",
        },
        Field {
            name: "building",
            label: t.field_building,
            value: &form.building,
            required: false,
            autocomplete: "address-line2",
            hint: None,
            extra: "",
        },
        Field {
            name: "postcode",
            label: t.field_postcode,
            value: &form.postcode,
            required: true,
            autocomplete: "postal-code",
            hint: None,
            extra: "",
        },
        Field {
            name: "town",
            label: t.field_town,
            value: &form.town,
            required: true,
            autocomplete: "address-level2",
            hint: None,
            extra: "",
        },
    ];
    for field in fields {
        text_field(&mut out, field, errors);
    }
    country_field(&mut out, t, page.language, &form.country, errors);
    text_field(
        &mut out,
        Field {
            name: "iban",
            label: t.field_iban,
            value: &form.iban,
            required: true,
            autocomplete: "off",
            hint: Some(t.field_iban_hint),
            extra: " autocapitalize=\"characters\" spellcheck=\"false\"",
        },
        errors,
    );
    text_field(
        &mut out,
        Field {
            name: "bic",
            label: t.field_bic,
            value: &form.bic,
            required: false,
            autocomplete: "off",
            hint: None,
            extra: " autocapitalize=\"characters\" spellcheck=\"false\"",
        },
        errors,
    );
    text_field(
        &mut out,
        Field {
            name: "signature_name",
            label: t.field_signature_name,
            value: &form.signature_name,
            required: true,
            autocomplete: "name",
            hint: None,
            extra: "",
        },
        errors,
    );

    let accept_error = error_for(errors, "accept");
    let _ = write!(
        out,
        "<div class=\"field{}\">\n<div class=\"checkbox\"><input type=\"checkbox\" id=\"accept\" name=\"accept\" value=\"yes\"{}{}>\
         <label for=\"accept\">{}</label></div>\n",
        if accept_error.is_some() {
            " invalid"
        } else {
            ""
        },
        if form.accept { " checked" } else { "" },
        if accept_error.is_some() {
            " aria-invalid=\"true\" aria-describedby=\"accept-error\""
        } else {
            " required"
        },
        escape(t.field_accept)
    );
    if let Some(error) = accept_error {
        let _ = writeln!(
            out,
            "<p class=\"error\" id=\"accept-error\">{}</p>",
            escape(error)
        );
    }
    out.push_str("</div>\n");

    if page.state.code_sent_to.is_some() {
        text_field(
            &mut out,
            Field {
                name: "code",
                label: t.field_code,
                value: "",
                required: true,
                autocomplete: "one-time-code",
                hint: None,
                extra: " inputmode=\"numeric\" maxlength=\"6\"",
            },
            errors,
        );
    }
    let _ = write!(
        out,
        "<input type=\"hidden\" name=\"document\" value=\"{}\">\n\
         <button type=\"submit\" name=\"action\" value=\"sign\">{}</button>\n",
        page.document.sha256(),
        escape(t.submit_sign)
    );
    if creditor.signing_method == SigningMethod::EmailCode && page.state.code_sent_to.is_some() {
        let _ = writeln!(
            out,
            "<button type=\"submit\" name=\"action\" value=\"send_code\" class=\"secondary\" formnovalidate>{}</button>",
            escape(t.submit_send_code)
        );
    }
    out.push_str("</form>\n</main>\n</body>\n</html>\n");
    out
}

/// The page after signing: what was signed, and the PDF.
pub fn confirmation_page(
    language: Language,
    creditor: &Creditor,
    plan: &Plan,
    document: &MandateDocument,
    text: &str,
    download_url: &str,
    nonce: &str,
) -> String {
    let t = texts(language);
    let mut out = String::with_capacity(8 * 1024);
    head(
        &mut out,
        language,
        &format!("{} – {}", t.confirmed_title, creditor.name),
        creditor.branding.color.as_deref(),
        nonce,
    );
    brand_header(&mut out, creditor);
    let _ = write!(
        out,
        "<main>\n<h1 id=\"confirmation\">{}</h1>\n<p class=\"notice\" role=\"status\">{}</p>\n\
         <p><a class=\"download\" id=\"document-link\" href=\"{}\">{}</a></p>\n",
        escape(t.confirmed_title),
        escape(text),
        escape(download_url),
        escape(t.download_document)
    );
    schedule_table(&mut out, t, document, plan);
    mandate_section(&mut out, t, document);
    out.push_str("</main>\n</body>\n</html>\n");
    out
}

/// The page for a failure on our side: no details, nothing changed, try again.
pub fn unavailable_page(language: Language) -> String {
    let t = texts(language);
    let mut out = String::with_capacity(1024);
    head(&mut out, language, t.unavailable_title, None, "");
    let _ = write!(
        out,
        "<main>\n<section>\n<h1>{}</h1>\n<p>{}</p>\n</section>\n</main>\n</body>\n</html>\n",
        escape(t.unavailable_title),
        escape(t.unavailable_text)
    );
    out
}

/// The page for a link that shows no mandate: nothing of the mandate, the creditor or the plan.
pub fn link_problem_page(language: Language, problem: LinkProblem) -> String {
    let t = texts(language);
    let (title, text) = match problem {
        LinkProblem::Unknown => (t.link_unknown_title, t.link_unknown_text),
        LinkProblem::Used => (t.link_used_title, t.link_used_text),
        LinkProblem::Expired => (t.link_expired_title, t.link_expired_text),
    };
    let mut out = String::with_capacity(1024);
    head(&mut out, language, title, None, "");
    let _ = write!(
        out,
        "<main>\n<section>\n<h1 id=\"link-problem\">{}</h1>\n<p>{}</p>\n</section>\n</main>\n</body>\n</html>\n",
        escape(title),
        escape(text)
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_neutralises_markup_and_quotes() {
        assert_eq!(
            escape("<script>alert('x')</script> & \"q\""),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;q&quot;"
        );
    }

    #[test]
    fn the_policy_allows_no_scripts_and_posts_only_to_us() {
        let policy = content_security_policy("abc");
        assert!(policy.contains("default-src 'none'"));
        assert!(!policy.contains("script-src"));
        assert!(policy.contains("form-action 'self'"));
        assert!(policy.contains("'nonce-abc'"));
    }

    #[test]
    fn only_a_hex_colour_reaches_the_inline_style() {
        let mut out = String::new();
        head(
            &mut out,
            Language::En,
            "t",
            Some("red;}body{display:none"),
            "n",
        );
        assert!(!out.contains("<style"));
        let mut out = String::new();
        head(&mut out, Language::En, "t", Some("#0A7E4F"), "n");
        assert!(out.contains("<style nonce=\"n\">:root{--brand:#0A7E4F}</style>"));
    }

    #[test]
    fn problem_pages_carry_their_language() {
        let page = link_problem_page(Language::Fr, LinkProblem::Expired);
        assert!(page.contains("<html lang=\"fr\">"));
    }
}
