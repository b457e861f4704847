//! The debtor's self-service page as server-rendered HTML, built like the signing pages: the
//! creditor's branding, the debtor's language, no JavaScript (three radio options, each with its
//! own field, and one submit button), one column that fits a phone, a label on every field and
//! each error beside its field. Every text and value is escaped where it enters the HTML.

use std::fmt::Write as _;

use tranche_domain::creditor::{Creditor, Language};
use tranche_domain::error::FieldError;
use tranche_domain::i18n::{fill, format_amount, format_date, plan_texts, texts};
use tranche_domain::plan::Plan;
use tranche_domain::self_service::{self, LinkProblem, SelfServiceForm};

use crate::pages::{brand_header, error_for, escape, head, language_switcher};

/// What the page says above the calendar after a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Notice {
    None,
    Applied,
    Pending,
}

/// Everything the page shows.
pub struct SelfServicePage<'a> {
    pub language: Language,
    pub token: &'a str,
    pub creditor: &'a Creditor,
    pub plan: &'a Plan,
    pub form: &'a SelfServiceForm,
    pub errors: &'a [FieldError],
    pub notice: Notice,
    pub nonce: &'a str,
}

/// The page: the calendar still to pay, and the form while the plan can change and no request
/// is waiting for the creditor.
pub fn self_service_page(page: &SelfServicePage<'_>) -> String {
    let SelfServicePage {
        language,
        token,
        creditor,
        plan,
        form,
        errors,
        notice,
        nonce,
    } = *page;
    let t = plan_texts(language);
    let base = texts(language);
    let title = fill(t.page_title, &[("creditor", &creditor.name)]);
    let mut out = String::with_capacity(8 * 1024);
    head(
        &mut out,
        language,
        &title,
        creditor.branding.color.as_deref(),
        nonce,
    );
    brand_header(&mut out, creditor);
    out.push_str("<main>\n");
    language_switcher(&mut out, base, language);
    let _ = writeln!(
        out,
        "<h1>{}</h1>\n<p>{}</p>",
        escape(&title),
        escape(t.page_intro)
    );

    let waiting = plan.pending_request.is_some() || notice == Notice::Pending;
    match notice {
        Notice::Applied => {
            let _ = writeln!(
                out,
                "<div class=\"notice\" role=\"status\" id=\"outcome\"><strong>{}</strong><br>{}</div>",
                escape(t.applied_title),
                escape(t.applied_text)
            );
        }
        _ if waiting => {
            let _ = writeln!(
                out,
                "<div class=\"notice\" role=\"status\" id=\"outcome\"><strong>{}</strong><br>{}</div>",
                escape(&fill(t.pending_title, &[("creditor", &creditor.name)])),
                escape(&fill(t.pending_text, &[("creditor", &creditor.name)]))
            );
        }
        _ => {}
    }

    calendar(&mut out, language, plan);

    if !self_service::can_change(plan) {
        let _ = writeln!(
            out,
            "<section id=\"closed\"><h2>{}</h2><p>{}</p></section>",
            escape(t.closed_title),
            escape(&fill(t.closed_text, &[("creditor", &creditor.name)]))
        );
    } else if !waiting {
        request_form(
            &mut out,
            &page_args(language, token, creditor, plan, form, errors),
        );
    }
    out.push_str("</main>\n</body>\n</html>\n");
    out
}

struct FormArgs<'a> {
    language: Language,
    token: &'a str,
    creditor: &'a Creditor,
    plan: &'a Plan,
    form: &'a SelfServiceForm,
    errors: &'a [FieldError],
}

fn page_args<'a>(
    language: Language,
    token: &'a str,
    creditor: &'a Creditor,
    plan: &'a Plan,
    form: &'a SelfServiceForm,
    errors: &'a [FieldError],
) -> FormArgs<'a> {
    FormArgs {
        language,
        token,
        creditor,
        plan,
        form,
        errors,
    }
}

fn calendar(out: &mut String, language: Language, plan: &Plan) {
    let t = plan_texts(language);
    let base = texts(language);
    let _ = write!(
        out,
        "<section id=\"calendar\">\n<h2>{}</h2>\n<table>\n<thead><tr><th scope=\"col\">{}</th>\
         <th scope=\"col\">{}</th><th scope=\"col\" class=\"amount\">{}</th></tr></thead>\n<tbody>\n",
        escape(t.calendar_heading),
        escape(base.column_number),
        escape(base.column_due_date),
        escape(base.column_amount)
    );
    for (seq, date, amount) in self_service::skippable(plan) {
        let _ = writeln!(
            out,
            "<tr><td>{seq}</td><td>{}</td><td class=\"amount\">{}</td></tr>",
            escape(&format_date(date, language)),
            escape(&format_amount(amount, language))
        );
    }
    out.push_str("</tbody>\n</table>\n</section>\n");
}

fn radio(out: &mut String, value: &str, label: &str, checked: bool) {
    let _ = writeln!(
        out,
        "<div class=\"checkbox\"><input type=\"radio\" name=\"choice\" id=\"choice-{value}\" \
         value=\"{value}\"{}><label for=\"choice-{value}\">{}</label></div>",
        if checked { " checked" } else { "" },
        escape(label)
    );
}

/// A field under its option, with its error right below it.
fn number_field(out: &mut String, name: &str, label: &str, value: &str, errors: &[FieldError]) {
    let error = error_for(errors, name);
    let _ = writeln!(
        out,
        "<div class=\"field{}\"><label for=\"{name}\">{}</label>\
         <input type=\"text\" inputmode=\"numeric\" id=\"{name}\" name=\"{name}\" value=\"{}\" \
         autocomplete=\"off\"{}>",
        if error.is_some() { " invalid" } else { "" },
        escape(label),
        escape(value),
        if error.is_some() {
            format!(" aria-invalid=\"true\" aria-describedby=\"{name}-error\"")
        } else {
            String::new()
        }
    );
    if let Some(error) = error {
        let _ = writeln!(
            out,
            "<p class=\"error\" id=\"{name}-error\">{}</p>",
            escape(error)
        );
    }
    out.push_str("</div>\n");
}

fn request_form(out: &mut String, args: &FormArgs<'_>) {
    let FormArgs {
        language,
        token,
        creditor,
        plan,
        form,
        errors,
    } = *args;
    let t = plan_texts(language);
    let base = texts(language);
    let _ = writeln!(
        out,
        "<form class=\"sign\" method=\"post\" action=\"/self-service/{}?lang={}\" novalidate>",
        escape(token),
        language.as_str()
    );
    if !errors.is_empty() {
        let _ = writeln!(
            out,
            "<div class=\"error-summary\" role=\"alert\">{}</div>",
            escape(base.error_summary)
        );
    }
    let choice_error = error_for(errors, "choice");
    let _ = write!(
        out,
        "<fieldset{}>\n<legend>{}</legend>\n",
        if choice_error.is_some() {
            " aria-describedby=\"choice-error\""
        } else {
            ""
        },
        escape(t.choose_heading)
    );
    if let Some(error) = choice_error {
        let _ = writeln!(
            out,
            "<p class=\"error\" id=\"choice-error\">{}</p>",
            escape(error)
        );
    }

    out.push_str("<div class=\"option\">\n");
    radio(out, "pause", t.option_pause, form.choice == "pause");
    number_field(out, "months", t.field_pause_months, &form.months, errors);
    out.push_str("</div>\n<div class=\"option\">\n");
    radio(out, "skip", t.option_skip, form.choice == "skip");
    let seq_error = error_for(errors, "seq");
    let _ = writeln!(
        out,
        "<div class=\"field{}\"><label for=\"seq\">{}</label><select id=\"seq\" name=\"seq\"{}>",
        if seq_error.is_some() { " invalid" } else { "" },
        escape(t.field_skip_seq),
        if seq_error.is_some() {
            " aria-invalid=\"true\" aria-describedby=\"seq-error\""
        } else {
            ""
        }
    );
    for (seq, date, amount) in self_service::skippable(plan) {
        let selected = if form.seq == seq.to_string() {
            " selected"
        } else {
            ""
        };
        let _ = writeln!(
            out,
            "<option value=\"{seq}\"{selected}>{seq}: {}, {}</option>",
            escape(&format_date(date, language)),
            escape(&format_amount(amount, language))
        );
    }
    out.push_str("</select>\n");
    if let Some(error) = seq_error {
        let _ = writeln!(
            out,
            "<p class=\"error\" id=\"seq-error\">{}</p>",
            escape(error)
        );
    }
    out.push_str("</div>\n</div>\n<div class=\"option\">\n");
    radio(out, "spread", t.option_spread, form.choice == "spread");
    number_field(out, "count", t.field_spread_count, &form.count, errors);
    out.push_str("</div>\n</fieldset>\n");

    let limits = &creditor.self_service;
    let _ = writeln!(
        out,
        "<p class=\"limits\" id=\"limits\">{}</p>",
        escape(&fill(
            t.limits,
            &[
                ("count", &limits.max_count.to_string()),
                ("min", &format_amount(limits.min_instalment, language)),
                ("months", &limits.max_extension_months.to_string()),
                ("changes", &limits.max_changes_per_plan.to_string()),
                ("creditor", &creditor.name),
            ],
        ))
    );
    let _ = writeln!(
        out,
        "<button type=\"submit\" id=\"submit\">{}</button>\n</form>",
        escape(t.submit)
    );
}

/// The page for a link that shows no plan: nothing of the plan or the creditor.
pub fn link_problem_page(language: Language, _problem: LinkProblem) -> String {
    let t = plan_texts(language);
    let mut out = String::with_capacity(1024);
    head(&mut out, language, t.link_unknown_title, None, "");
    let _ = write!(
        out,
        "<main>\n<section>\n<h1 id=\"link-problem\">{}</h1>\n<p>{}</p>\n</section>\n</main>\n</body>\n</html>\n",
        escape(t.link_unknown_title),
        escape(t.link_unknown_text)
    );
    out
}
