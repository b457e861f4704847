//! Signing a mandate: the debtor opens the link, checks the plan and the mandate, enters the
//! account, signs; and the operator's calls on mandates (read, amend, cancel, the PDF).
//!
//! The signing link's token is stored only as a SHA-256, works once, and expires. The document
//! the page shows is built by [`mandate_document`]; its canonical text with the debtor's data is
//! hashed into the signature evidence and rendered as the PDF copy, so the three are one.
//! Everything a signature changes (the mandate, its plan, the token, the events) is written in
//! one conditional transaction, so a link used twice at the same moment signs once.

use chrono::Duration;
use serde_json::{Value, json};
use tracing::{error, info};

use crate::creditor::{Creditor, Language, PostalAddress};
use crate::document::{DocumentField, MandateDocument, ScheduleLine};
use crate::error::{FieldError, StoreError};
use crate::events::Event;
use crate::i18n::{self, Texts, fill, format_amount, format_date, texts};
use crate::identifiers::{Bic, Iban, is_sepa_country};
use crate::mandate::{
    Amendment, Cancellation, EmailCodeChallenge, Mandate, MandateDebtor, MandateId, MandateStatus,
    SignatureEvidence, SigningMethod,
};
use crate::plan::{DebtorType, InstalmentStatus, Plan, PlanStatus, Scheme, SigningToken};
use crate::ports::{Attachment, Email, Ports, Write};
use crate::requests::{MAX_NAME_CHARS, Reader};
use crate::schedule::InstalmentKind;
use crate::secrets;
use crate::use_cases::UseCaseError;

/// How long an e-mailed code works.
pub const EMAIL_CODE_MINUTES: i64 = 15;
/// Wrong codes allowed before the code stops working.
pub const EMAIL_CODE_ATTEMPTS: u32 = 5;
/// How long the download link on the confirmation page works.
pub const DOWNLOAD_LINK_HOURS: i64 = 24;

/// Why a signing link shows no mandate. The pages for these say nothing about the mandate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkProblem {
    /// No such token (mistyped, truncated, or never issued).
    Unknown,
    /// The mandate was signed through this link.
    Used,
    /// The link's time ran out, or the creditor withdrew the invitation.
    Expired,
}

/// Everything a signing page needs, loaded from a valid link.
#[derive(Debug, Clone)]
pub struct SigningSession {
    pub token_hash: String,
    pub creditor: Creditor,
    pub plan: Plan,
    pub mandate: Mandate,
}

/// Where e-mails and links point; host configuration the use cases need.
#[derive(Debug, Clone)]
pub struct Links {
    /// `https://pay.example.com`
    pub public_url: String,
    /// `Tranche <noreply@example.com>`
    pub mail_from: String,
}

/// Opens a signing link: the session, or why the link shows nothing.
pub async fn open_signing_link(
    ports: &Ports,
    token: &str,
) -> Result<Result<SigningSession, LinkProblem>, UseCaseError> {
    let well_formed = token.len() == 64 && token.chars().all(|c| c.is_ascii_hexdigit());
    if !well_formed {
        return Ok(Err(LinkProblem::Unknown));
    }
    let token_hash = secrets::sha256_hex(token);
    let Some(record) = ports.plans.get_signing_token(&token_hash).await? else {
        return Ok(Err(LinkProblem::Unknown));
    };
    if record.used_at.is_some() {
        return Ok(Err(LinkProblem::Used));
    }
    if record.expires_at <= ports.clock.now() {
        return Ok(Err(LinkProblem::Expired));
    }
    let session = load_session(ports, token_hash, &record).await?;
    if session.mandate.status != MandateStatus::Invited {
        return Ok(Err(LinkProblem::Expired));
    }
    Ok(Ok(session))
}

async fn load_session(
    ports: &Ports,
    token_hash: String,
    record: &SigningToken,
) -> Result<SigningSession, UseCaseError> {
    let corrupt = |what: &str| {
        UseCaseError::Store(StoreError::Corrupt(format!(
            "the signing link of plan {} points to a missing {what}",
            record.plan_id
        )))
    };
    let plan = ports
        .plans
        .get_plan(&record.plan_id)
        .await?
        .ok_or_else(|| corrupt("plan"))?;
    let mandate_id = record
        .mandate_id
        .clone()
        .or_else(|| plan.mandate_id.clone())
        .ok_or_else(|| corrupt("mandate"))?;
    let mandate = ports
        .mandates
        .get_mandate(&MandateId(mandate_id))
        .await?
        .ok_or_else(|| corrupt("mandate"))?;
    let creditor = ports
        .creditors
        .get_creditor(&plan.creditor_id)
        .await?
        .ok_or_else(|| corrupt("creditor"))?;
    Ok(SigningSession {
        token_hash,
        creditor,
        plan,
        mandate,
    })
}

fn address_lines(address: &PostalAddress, language: Language) -> Vec<String> {
    let street = match &address.building {
        Some(building) => format!("{} {building}", address.street),
        None => address.street.clone(),
    };
    let country = i18n::country_name(&address.country, language).unwrap_or(&address.country);
    vec![
        street,
        format!("{} {}", address.postcode, address.town),
        country.to_owned(),
    ]
}

/// The mandate document in `language`: what the signing page shows and, with the debtor's
/// data, what is signed and sent as PDF.
pub fn mandate_document(
    creditor: &Creditor,
    plan: &Plan,
    mandate: &Mandate,
    debtor: Option<&MandateDebtor>,
    language: Language,
) -> MandateDocument {
    let t = texts(language);
    let name = creditor.name.as_str();
    let field = |label: &str, value: String| DocumentField {
        label: label.to_owned(),
        value,
    };

    let mut creditor_lines = vec![creditor.name.clone()];
    creditor_lines.extend(address_lines(&creditor.address, language));

    let scheme = match mandate.scheme {
        Scheme::Core => t.scheme_core,
        Scheme::B2b => t.scheme_b2b,
    };
    let mut fields = vec![
        field(
            t.creditor_identifier_label,
            creditor.creditor_identifier.to_string(),
        ),
        field(t.mandate_reference_label, mandate.reference.clone()),
        field(t.payment_type_label, t.payment_type_recurrent.to_owned()),
        field(t.scheme_label, scheme.to_owned()),
    ];
    if let Some(debtor) = debtor {
        fields.push(field(t.debtor_label, debtor.name.clone()));
        fields.push(field(
            t.address_label,
            address_lines(&debtor.address, language).join(", "),
        ));
        fields.push(field(t.field_iban, debtor.iban.to_paper()));
        if let Some(bic) = &debtor.bic {
            fields.push(field(t.field_bic, bic.to_string()));
        }
    }

    let (authorisation, rights) = match mandate.scheme {
        Scheme::Core => (t.core_authorisation, t.core_rights),
        Scheme::B2b => (t.b2b_authorisation, t.b2b_rights),
    };
    let days = creditor.pre_notification_days.to_string();
    let paragraphs = vec![
        fill(authorisation, &[("creditor", name)]),
        fill(rights, &[("creditor", name)]),
        fill(t.pre_notification, &[("days", &days)]),
    ];

    let schedule = plan
        .instalments
        .iter()
        .map(|i| ScheduleLine {
            number: match i.kind {
                InstalmentKind::DownPayment => t.down_payment.to_owned(),
                InstalmentKind::Regular => i.seq.to_string(),
            },
            due_date: format_date(i.due_date, language),
            amount: format_amount(i.amount, language),
        })
        .collect();

    MandateDocument {
        language,
        title: t.mandate_heading.to_owned(),
        creditor_lines,
        fields,
        paragraphs,
        schedule_heading: t.plan_heading.to_owned(),
        schedule,
        total: field(t.total, format_amount(plan.total, language)),
        signature: None,
        fingerprint: None,
    }
}

/// What the debtor sent from the signing form, as text.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SigningForm {
    pub name: String,
    pub street: String,
    pub building: String,
    pub postcode: String,
    pub town: String,
    pub country: String,
    pub iban: String,
    pub bic: String,
    pub signature_name: String,
    pub accept: bool,
    pub code: String,
    /// SHA-256 of the document the page showed, sent back so a plan changed in between is
    /// noticed.
    pub document: String,
    /// `true` when the debtor asked for a (new) e-mail code rather than to sign.
    pub send_code: bool,
}

/// Where the request came from, for the evidence.
#[derive(Debug, Clone, Default)]
pub struct RequestOrigin {
    pub ip_address: String,
    pub user_agent: String,
}

/// What came of a submitted signing form.
#[derive(Debug, Clone)]
pub enum SigningOutcome {
    /// Signed: the mandate as stored, and the one-day download link's token.
    Signed {
        mandate: Box<Mandate>,
        download_token: String,
    },
    /// Not signed: the errors, per form field (`iban`, `code`, ... or `form`), in the page's
    /// language. `code_sent_to` says the code field is to be shown.
    Refused {
        errors: Vec<FieldError>,
        code_sent_to: Option<String>,
    },
    /// A code was mailed; the page asks for it.
    CodeSent { to: String },
}

fn normalise_name(name: &str) -> String {
    name.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

/// Checks the form; the debtor's data, or the errors in `t`'s language.
fn check_form(
    form: &SigningForm,
    t: &Texts,
    debtor_type: DebtorType,
) -> Result<(MandateDebtor, String), Vec<FieldError>> {
    let mut errors = Vec::new();
    let mut text = |field: &str, value: &str, required: bool, max: usize| -> Option<String> {
        let value = value.trim();
        if value.is_empty() {
            if required {
                errors.push(FieldError::new(field, t.error_required));
            }
            return None;
        }
        if value.chars().count() > max || value.chars().any(char::is_control) {
            errors.push(FieldError::new(
                field,
                fill(t.error_too_long, &[("max", &max.to_string())]),
            ));
            return None;
        }
        Some(value.to_owned())
    };
    let name = text("name", &form.name, true, MAX_NAME_CHARS);
    let street = text("street", &form.street, true, 70);
    let building = text("building", &form.building, false, 16);
    let postcode = text("postcode", &form.postcode, true, 16);
    let town = text("town", &form.town, true, 35);
    let signature_name = text("signature_name", &form.signature_name, true, MAX_NAME_CHARS);
    let country = form.country.trim().to_ascii_uppercase();
    if !is_sepa_country(&country) {
        errors.push(FieldError::new("country", t.error_country));
    }
    let iban = if form.iban.trim().is_empty() {
        errors.push(FieldError::new("iban", t.error_required));
        None
    } else {
        match Iban::parse(&form.iban) {
            Ok(iban) => Some(iban),
            Err(e) if e.0.contains("SEPA") => {
                errors.push(FieldError::new("iban", t.error_iban_not_sepa));
                None
            }
            Err(_) => {
                errors.push(FieldError::new("iban", t.error_iban_invalid));
                None
            }
        }
    };
    let bic = if form.bic.trim().is_empty() {
        None
    } else {
        match Bic::parse(&form.bic) {
            Ok(bic) => Some(bic),
            Err(_) => {
                errors.push(FieldError::new("bic", t.error_bic));
                None
            }
        }
    };
    if !form.accept {
        errors.push(FieldError::new("accept", t.error_accept));
    }
    // A consumer signs for their own account; a business's representative may sign in their
    // own name.
    if let (Some(name), Some(signer), DebtorType::Consumer) = (&name, &signature_name, debtor_type)
        && normalise_name(name) != normalise_name(signer)
    {
        errors.push(FieldError::new("signature_name", t.error_signature_name));
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    match (name, street, postcode, town, iban, signature_name) {
        (Some(name), Some(street), Some(postcode), Some(town), Some(iban), Some(signer)) => Ok((
            MandateDebtor {
                name,
                address: PostalAddress {
                    street,
                    building,
                    postcode,
                    town,
                    country,
                },
                iban,
                bic,
            },
            signer,
        )),
        _ => Err(vec![FieldError::new("form", t.error_summary)]),
    }
}

fn code_hash(mandate_id: &MandateId, code: &str) -> String {
    secrets::sha256_hex(format!("{}:{}", mandate_id.0, code.trim()))
}

/// Mails a fresh code and stores its hash on the mandate.
async fn send_code(
    ports: &Ports,
    session: &SigningSession,
    links: &Links,
) -> Result<SigningOutcome, UseCaseError> {
    let now = ports.clock.now();
    let code = secrets::random_code();
    let mut mandate = session.mandate.clone();
    mandate.email_code = Some(EmailCodeChallenge {
        code_hash: code_hash(&mandate.id, &code),
        sent_to: mandate.debtor_email.clone(),
        expires_at: now + Duration::minutes(EMAIL_CODE_MINUTES),
        attempts_left: EMAIL_CODE_ATTEMPTS,
    });
    mandate.updated_at = now;
    mandate.version += 1;
    ports
        .transactions
        .commit(&[Write::UpdateMandate(mandate.clone())])
        .await?;

    let t = texts(mandate.language);
    let creditor = session.creditor.name.as_str();
    let minutes = EMAIL_CODE_MINUTES.to_string();
    let email = Email {
        from: links.mail_from.clone(),
        to: vec![mandate.debtor_email.clone()],
        subject: fill(
            t.mail_code_subject,
            &[("code", &code), ("creditor", creditor)],
        ),
        text_body: fill(
            t.mail_code_body,
            &[
                ("code", &code),
                ("creditor", creditor),
                ("minutes", &minutes),
            ],
        ),
        html_body: None,
        attachments: Vec::new(),
    };
    ports
        .mailer
        .send(&email)
        .await
        .map_err(|e| UseCaseError::Store(StoreError::Unavailable(e.to_string())))?;
    info!(mandate_id = %mandate.id, "signing code sent");
    Ok(SigningOutcome::CodeSent {
        to: mandate.debtor_email,
    })
}

/// Checks the e-mailed code; on a wrong one, counts the attempt.
async fn check_code(
    ports: &Ports,
    session: &SigningSession,
    code: &str,
    t: &Texts,
) -> Result<Result<(), Vec<FieldError>>, UseCaseError> {
    let mandate = &session.mandate;
    let Some(challenge) = &mandate.email_code else {
        return Ok(Err(vec![FieldError::new("code", t.error_code_expired)]));
    };
    if challenge.expires_at <= ports.clock.now() {
        return Ok(Err(vec![FieldError::new("code", t.error_code_expired)]));
    }
    if challenge.attempts_left == 0 {
        return Ok(Err(vec![FieldError::new("code", t.error_code_locked)]));
    }
    if code.trim().is_empty() {
        return Ok(Err(vec![FieldError::new("code", t.error_required)]));
    }
    if code_hash(&mandate.id, code) == challenge.code_hash {
        return Ok(Ok(()));
    }

    let mut counted = mandate.clone();
    let left = challenge.attempts_left - 1;
    if let Some(challenge) = counted.email_code.as_mut() {
        challenge.attempts_left = left;
    }
    counted.version += 1;
    ports
        .transactions
        .commit(&[Write::UpdateMandate(counted)])
        .await?;
    let message = if left == 0 {
        t.error_code_locked.to_owned()
    } else {
        fill(t.error_code_wrong, &[("left", &left.to_string())])
    };
    Ok(Err(vec![FieldError::new("code", message)]))
}

async fn last_event(ports: &Ports, aggregate_id: &str) -> Result<Option<Event>, UseCaseError> {
    Ok(ports.events.list_events(aggregate_id).await?.pop())
}

/// Handles a submitted signing form in `language`.
pub async fn submit_signature(
    ports: &Ports,
    session: &SigningSession,
    form: &SigningForm,
    origin: &RequestOrigin,
    language: Language,
    links: &Links,
) -> Result<SigningOutcome, UseCaseError> {
    let t = texts(language);
    let method = session.creditor.signing_method;
    let code_pending = || {
        (method == SigningMethod::EmailCode && session.mandate.email_code.is_some())
            .then(|| session.mandate.debtor_email.clone())
    };
    let refused = |errors: Vec<FieldError>| SigningOutcome::Refused {
        errors,
        code_sent_to: code_pending(),
    };

    if form.send_code && method == SigningMethod::EmailCode {
        return send_code(ports, session, links).await;
    }

    let shown = mandate_document(
        &session.creditor,
        &session.plan,
        &session.mandate,
        None,
        language,
    );
    if form.document != shown.sha256() {
        return Ok(refused(vec![FieldError::new(
            "form",
            t.error_document_changed,
        )]));
    }
    let (debtor, signer_name) = match check_form(form, t, session.mandate.debtor_type) {
        Ok(checked) => checked,
        Err(errors) => return Ok(refused(errors)),
    };
    if method == SigningMethod::EmailCode {
        if session.mandate.email_code.is_none() {
            return send_code(ports, session, links).await;
        }
        if let Err(errors) = check_code(ports, session, &form.code, t).await? {
            return Ok(refused(errors));
        }
    }

    sign(ports, session, debtor, signer_name, origin, language, links).await
}

async fn sign(
    ports: &Ports,
    session: &SigningSession,
    debtor: MandateDebtor,
    signer_name: String,
    origin: &RequestOrigin,
    language: Language,
    links: &Links,
) -> Result<SigningOutcome, UseCaseError> {
    let now = ports.clock.now();
    let t = texts(language);
    let method = session.creditor.signing_method;

    let mut document = mandate_document(
        &session.creditor,
        &session.plan,
        &session.mandate,
        Some(&debtor),
        language,
    );
    let document_sha256 = document.sha256();
    let method_text = match method {
        SigningMethod::Click => t.method_click.to_owned(),
        SigningMethod::EmailCode => fill(
            t.method_email_code,
            &[("email", &session.mandate.debtor_email)],
        ),
    };
    document.signature = Some(fill(
        t.signed_line,
        &[
            ("date", &format_date(now.date_naive(), language)),
            ("time", &now.format("%H:%M").to_string()),
            ("name", &signer_name),
            ("method", &method_text),
        ],
    ));
    document.fingerprint = Some(DocumentField {
        label: t.document_fingerprint_label.to_owned(),
        value: document_sha256.clone(),
    });

    let pdf = ports.documents.render_pdf(&document)?;
    let document_key = format!(
        "mandates/{}/{}.pdf",
        session.creditor.id, session.mandate.id
    );
    ports
        .files
        .put_file(&document_key, "application/pdf", &pdf)
        .await?;

    let download_token = secrets::random_token();
    let evidence = SignatureEvidence {
        signed_at: now,
        method,
        signer_name,
        ip_address: origin.ip_address.clone(),
        user_agent: origin.user_agent.clone(),
        document_sha256: document_sha256.clone(),
        code_sent_to: session
            .mandate
            .email_code
            .as_ref()
            .map(|c| c.sent_to.clone()),
    };
    let mut mandate = session.mandate.clone();
    mandate.status = MandateStatus::Signed;
    mandate.debtor = Some(debtor);
    mandate.signature = Some(evidence.clone());
    mandate.language = language;
    mandate.document = Some(document);
    mandate.document_key = Some(document_key);
    mandate.download_token_hash = Some(secrets::sha256_hex(&download_token));
    mandate.download_expires_at = Some(now + Duration::hours(DOWNLOAD_LINK_HOURS));
    mandate.email_code = None;
    mandate.updated_at = now;
    mandate.version += 1;

    let mut plan = session.plan.clone();
    let replaced = plan
        .mandate_id
        .clone()
        .filter(|previous| *previous != mandate.id.0);
    plan.mandate_id = Some(mandate.id.0.clone());
    if replaced.is_some() {
        plan.status_reason = None;
    }
    plan.status = PlanStatus::Active;
    // The confirmation lists every instalment: it is the pre-notification of each one it
    // announces early enough.
    let today = ports.clock.today();
    let notice_days = session.creditor.pre_notification_days;
    for instalment in &mut plan.instalments {
        if crate::daily::notified_in_time(today, instalment.due_date, notice_days) {
            instalment.notified_on = Some(today);
            instalment.status = InstalmentStatus::Notified;
        }
    }
    plan.next_action_on = crate::daily::next_action_on(&plan, &session.creditor);
    plan.updated_at = now;
    plan.version += 1;

    let signed = Event::next(
        last_event(ports, &mandate.id.0).await?.as_ref(),
        &mandate.id.0,
        "mandate.signed",
        now,
        "debtor",
        json!({
            "method": evidence.method,
            "signer_name": evidence.signer_name,
            "ip_address": evidence.ip_address,
            "user_agent": evidence.user_agent,
            "document_sha256": evidence.document_sha256,
            "code_sent_to": evidence.code_sent_to,
        }),
    );
    let activated = Event::after(
        plan.event_head.as_ref(),
        &plan.id.0,
        "plan.activated",
        now,
        "debtor",
        json!({"mandate_id": mandate.id, "mandate_reference": mandate.reference}),
    );
    plan.event_head = Some(activated.head());
    let mut writes = vec![
        Write::UseSigningToken {
            token_hash: session.token_hash.clone(),
            at: now,
        },
        Write::UpdateMandate(mandate.clone()),
        Write::UpdatePlan(plan.clone()),
        Write::AppendEvent(signed),
        Write::AppendEvent(activated),
    ];
    // A new mandate replaces the plan's previous one, which is cancelled if still in use.
    if let Some(previous) = replaced
        && let Some(mut old) = ports.mandates.get_mandate(&MandateId(previous)).await?
        && old.status.is_usable()
    {
        let reason = format!("replaced by mandate {}", mandate.reference);
        writes.push(Write::AppendEvent(Event::next(
            last_event(ports, &old.id.0).await?.as_ref(),
            &old.id.0,
            "mandate.cancelled",
            now,
            "debtor",
            json!({"reason": reason, "replaced_by": mandate.id}),
        )));
        old.status = MandateStatus::Cancelled;
        old.cancellation = Some(Cancellation { at: now, reason });
        old.updated_at = now;
        old.version += 1;
        writes.push(Write::UpdateMandate(old));
    }
    let committed = ports.transactions.commit(&writes).await;
    match committed {
        Ok(()) => {}
        Err(StoreError::ConditionFailed(reason)) => {
            info!(mandate_id = %mandate.id, reason = %reason, "signature lost a race");
            return Ok(SigningOutcome::Refused {
                errors: vec![FieldError::new("form", t.link_used_text)],
                code_sent_to: None,
            });
        }
        Err(e) => return Err(e.into()),
    }
    info!(mandate_id = %mandate.id, plan_id = %plan.id, method = ?method, "mandate signed");

    send_confirmations(ports, &session.creditor, &plan, &mandate, &pdf, links).await;
    Ok(SigningOutcome::Signed {
        mandate: Box::new(mandate),
        download_token,
    })
}

/// The confirmation to the debtor (with the PDF) and the notice to the creditor. The mandate is
/// signed whatever happens here; a failed e-mail is logged for the operator to resend.
async fn send_confirmations(
    ports: &Ports,
    creditor: &Creditor,
    plan: &Plan,
    mandate: &Mandate,
    pdf: &[u8],
    links: &Links,
) {
    let Some(debtor) = &mandate.debtor else {
        return;
    };
    let attachment = Attachment {
        filename: format!("{}.pdf", mandate.reference),
        content_type: "application/pdf".to_owned(),
        bytes: pdf.to_vec(),
    };
    let t = texts(mandate.language);
    let schedule = plan
        .instalments
        .iter()
        .map(|i| {
            format!(
                "{}  {}",
                format_date(i.due_date, mandate.language),
                format_amount(i.amount, mandate.language)
            )
        })
        .collect::<Vec<_>>()
        .join("\n");
    let days = creditor.pre_notification_days.to_string();
    let iban = debtor.iban.masked();
    let to_debtor = Email {
        from: links.mail_from.clone(),
        to: vec![mandate.debtor_email.clone()],
        subject: fill(
            t.mail_confirmation_subject,
            &[
                ("reference", &mandate.reference),
                ("creditor", &creditor.name),
            ],
        ),
        text_body: fill(
            t.mail_confirmation_body,
            &[
                ("name", &debtor.name),
                ("reference", &mandate.reference),
                ("creditor", &creditor.name),
                ("iban", &iban),
                ("schedule", &schedule),
                ("days", &days),
            ],
        ),
        html_body: None,
        attachments: vec![attachment.clone()],
    };

    let c = texts(creditor.language);
    let first_date = plan
        .instalments
        .first()
        .map(|i| format_date(i.due_date, creditor.language))
        .unwrap_or_default();
    let to_creditor = Email {
        from: links.mail_from.clone(),
        to: vec![creditor.email.clone()],
        subject: fill(
            c.mail_creditor_subject,
            &[("reference", &mandate.reference), ("debtor", &debtor.name)],
        ),
        text_body: fill(
            c.mail_creditor_body,
            &[
                ("debtor", &debtor.name),
                ("reference", &mandate.reference),
                ("plan", &plan.id.0),
                ("total", &format_amount(plan.total, creditor.language)),
                ("count", &plan.instalments.len().to_string()),
                ("first_date", &first_date),
            ],
        ),
        html_body: None,
        attachments: vec![attachment],
    };
    for (email, to) in [(to_debtor, "debtor"), (to_creditor, "creditor")] {
        if let Err(e) = ports.mailer.send(&email).await {
            error!(mandate_id = %mandate.id, to, error = %e, "confirmation e-mail not sent");
        }
    }
}

/// The PDF behind a confirmation page's download link, while the link works.
pub async fn download_document(
    ports: &Ports,
    download_token: &str,
) -> Result<Option<(Mandate, Vec<u8>)>, UseCaseError> {
    let hash = secrets::sha256_hex(download_token);
    let Some(mandate) = ports.mandates.get_mandate_by_download_token(&hash).await? else {
        return Ok(None);
    };
    let live = mandate
        .download_expires_at
        .is_some_and(|until| until > ports.clock.now());
    if !live {
        return Ok(None);
    }
    let Some(key) = &mandate.document_key else {
        return Ok(None);
    };
    Ok(ports.files.get_file(key).await?.map(|pdf| (mandate, pdf)))
}

// --- the operator's calls ---

async fn load_mandate(ports: &Ports, id: &str) -> Result<Mandate, UseCaseError> {
    ports
        .mandates
        .get_mandate(&MandateId(id.to_owned()))
        .await?
        .ok_or_else(|| UseCaseError::NotFound(format!("There is no mandate with id \"{id}\".")))
}

/// A mandate as the operator API shows it: everything but the secrets' hashes.
pub fn mandate_json(mandate: &Mandate) -> Value {
    let mut value = json!(mandate);
    if let Some(map) = value.as_object_mut() {
        for secret in ["download_token_hash", "download_expires_at", "email_code"] {
            map.remove(secret);
        }
        map.insert(
            "document_url".into(),
            json!(format!("/v1/mandates/{}/document", mandate.id)),
        );
    }
    value
}

pub async fn get_mandate(ports: &Ports, id: &str) -> Result<Mandate, UseCaseError> {
    load_mandate(ports, id).await
}

/// The PDF copy of a signed mandate.
pub async fn mandate_pdf(ports: &Ports, id: &str) -> Result<(Mandate, Vec<u8>), UseCaseError> {
    let mandate = load_mandate(ports, id).await?;
    let not_signed = || {
        UseCaseError::NotFound(format!(
            "Mandate \"{id}\" has no document yet: it is {}, and the document exists once the \
             debtor has signed.",
            mandate.status.as_str()
        ))
    };
    let key = mandate.document_key.clone().ok_or_else(not_signed)?;
    let pdf = ports.files.get_file(&key).await?.ok_or_else(not_signed)?;
    Ok((mandate, pdf))
}

fn require_status(
    mandate: &Mandate,
    allowed: &[MandateStatus],
    action: &str,
) -> Result<(), UseCaseError> {
    if allowed.contains(&mandate.status) {
        Ok(())
    } else {
        let names: Vec<&str> = allowed.iter().map(|s| s.as_str()).collect();
        Err(UseCaseError::Conflict(format!(
            "Mandate {} is {}; it can be {action} only when it is {}.",
            mandate.id,
            mandate.status.as_str(),
            names.join(" or ")
        )))
    }
}

/// `PATCH /v1/mandates/{id}` with a new `iban` and/or `bic` (and an optional `reason`): records
/// an amendment, keeping the old and new values, so the next collection carries the amendment
/// indicator.
pub async fn amend_mandate(ports: &Ports, id: &str, body: &Value) -> Result<Mandate, UseCaseError> {
    let mut r = Reader::default();
    let parsed = r.object(body, "", &["iban", "bic", "reason"]).map(|map| {
        let iban = r.identifier(map, "", "iban", false, Iban::parse);
        let bic = r.identifier(map, "", "bic", false, Bic::parse);
        let reason = r.text(map, "", "reason", false, 140);
        let has = |key: &str| map.get(key).is_some_and(|v| !v.is_null());
        if !has("iban") && !has("bic") {
            r.error("iban", "give a new iban, a new bic, or both");
        }
        (iban, bic, reason, has("bic"))
    });
    let (new_iban, new_bic, reason, bic_given) = r.finish(parsed).map_err(UseCaseError::Invalid)?;

    let mut mandate = load_mandate(ports, id).await?;
    require_status(
        &mandate,
        &[
            MandateStatus::Signed,
            MandateStatus::Active,
            MandateStatus::Amended,
        ],
        "amended",
    )?;
    let now = ports.clock.now();
    let Some(debtor) = mandate.debtor.as_mut() else {
        return Err(UseCaseError::Conflict(format!(
            "Mandate {id} has no debtor account yet."
        )));
    };
    let amendment = Amendment {
        at: now,
        previous_iban: debtor.iban.clone(),
        new_iban: new_iban.unwrap_or_else(|| debtor.iban.clone()),
        previous_bic: debtor.bic.clone(),
        new_bic: if bic_given {
            new_bic
        } else {
            debtor.bic.clone()
        },
        reason,
        presented: false,
    };
    if amendment.previous_iban == amendment.new_iban && amendment.previous_bic == amendment.new_bic
    {
        return Err(UseCaseError::Invalid(vec![FieldError::new(
            "iban",
            "is the account the mandate already has; nothing to amend",
        )]));
    }
    debtor.iban = amendment.new_iban.clone();
    debtor.bic = amendment.new_bic.clone();
    let event = Event::next(
        last_event(ports, &mandate.id.0).await?.as_ref(),
        &mandate.id.0,
        "mandate.amended",
        now,
        "operator",
        json!({
            "previous_iban": amendment.previous_iban,
            "new_iban": amendment.new_iban,
            "previous_bic": amendment.previous_bic,
            "new_bic": amendment.new_bic,
            "moved_bank": amendment.moved_bank(),
            "reason": amendment.reason,
        }),
    );
    mandate.amendments.push(amendment);
    mandate.status = MandateStatus::Amended;
    mandate.updated_at = now;
    mandate.version += 1;
    ports
        .transactions
        .commit(&[
            Write::UpdateMandate(mandate.clone()),
            Write::AppendEvent(event),
        ])
        .await
        .map_err(conflict_on_race)?;
    info!(mandate_id = %mandate.id, "mandate amended");
    Ok(mandate)
}

fn conflict_on_race(error: StoreError) -> UseCaseError {
    match error {
        StoreError::ConditionFailed(_) => UseCaseError::Conflict(
            "The mandate or its plan was changed at the same moment; read it again and retry."
                .to_owned(),
        ),
        other => other.into(),
    }
}

/// `POST /v1/mandates/{id}/cancel` with a `reason`: the mandate is cancelled and its plan stops
/// collecting, saying why.
pub async fn cancel_mandate(
    ports: &Ports,
    id: &str,
    body: &Value,
) -> Result<Mandate, UseCaseError> {
    let mut r = Reader::default();
    let reason = r
        .object(body, "", &["reason"])
        .and_then(|map| r.text(map, "", "reason", true, 140));
    let reason = r.finish(reason).map_err(UseCaseError::Invalid)?;

    let mut mandate = load_mandate(ports, id).await?;
    require_status(
        &mandate,
        &[
            MandateStatus::Invited,
            MandateStatus::Signed,
            MandateStatus::Active,
            MandateStatus::Amended,
        ],
        "cancelled",
    )?;
    let now = ports.clock.now();
    mandate.status = MandateStatus::Cancelled;
    mandate.cancellation = Some(Cancellation {
        at: now,
        reason: reason.clone(),
    });
    mandate.updated_at = now;
    mandate.version += 1;
    let mut writes = vec![
        Write::UpdateMandate(mandate.clone()),
        Write::AppendEvent(Event::next(
            last_event(ports, &mandate.id.0).await?.as_ref(),
            &mandate.id.0,
            "mandate.cancelled",
            now,
            "operator",
            json!({"reason": reason}),
        )),
    ];

    if let Some(mut plan) = ports.plans.get_plan(&mandate.plan_id).await?
        && !matches!(plan.status, PlanStatus::Completed | PlanStatus::Cancelled)
    {
        plan.status = PlanStatus::Cancelled;
        plan.status_reason = Some(format!(
            "mandate {} was cancelled: {reason}",
            mandate.reference
        ));
        for instalment in &mut plan.instalments {
            if matches!(
                instalment.status,
                InstalmentStatus::Planned | InstalmentStatus::Notified
            ) {
                instalment.status = InstalmentStatus::Cancelled;
            }
        }
        plan.updated_at = now;
        plan.version += 1;
        let cancelled = Event::after(
            plan.event_head.as_ref(),
            &plan.id.0,
            "plan.cancelled",
            now,
            "operator",
            json!({"reason": plan.status_reason, "mandate_id": mandate.id}),
        );
        plan.event_head = Some(cancelled.head());
        writes.push(Write::AppendEvent(cancelled));
        writes.push(Write::UpdatePlan(plan));
    }
    ports
        .transactions
        .commit(&writes)
        .await
        .map_err(conflict_on_race)?;
    info!(mandate_id = %mandate.id, "mandate cancelled");
    Ok(mandate)
}

/// Invites the debtor to sign a new mandate for `plan` (its current one is expiring or can no
/// longer be used): a new mandate, `invited`, and a signing link mailed to the debtor; the plan
/// moves onto the new mandate once it is signed. Answers the new mandate's id.
pub async fn invite_new_mandate(
    ports: &Ports,
    links: &Links,
    creditor: &Creditor,
    plan: &Plan,
    previous: &Mandate,
) -> Result<MandateId, UseCaseError> {
    let now = ports.clock.now();
    let mandate = Mandate::invited(
        creditor.id.clone(),
        &creditor.mandate_reference_prefix,
        plan.id.clone(),
        previous.scheme,
        previous.debtor_type,
        previous.language,
        previous.debtor_email.clone(),
        now,
    );
    let token = secrets::random_token();
    let days = crate::use_cases::SIGNING_LINK_DAYS;
    let record = SigningToken {
        token_hash: secrets::sha256_hex(&token),
        plan_id: plan.id.clone(),
        expires_at: now + Duration::days(days),
        used_at: None,
        mandate_id: Some(mandate.id.0.clone()),
    };
    let invited = Event::next(
        None,
        &mandate.id.0,
        "mandate.invited",
        now,
        "system",
        json!({"plan_id": plan.id, "reference": mandate.reference, "replaces": previous.id}),
    );
    ports
        .transactions
        .commit(&[
            Write::InsertMandate(mandate.clone()),
            Write::InsertSigningToken(record),
            Write::AppendEvent(invited),
        ])
        .await?;

    let t = texts(mandate.language);
    let link = format!("{}/sign/{token}", links.public_url.trim_end_matches('/'));
    let name = previous
        .debtor
        .as_ref()
        .map_or(plan.debtor.name.as_str(), |d| d.name.as_str());
    let email = Email {
        from: links.mail_from.clone(),
        to: vec![mandate.debtor_email.clone()],
        subject: fill(t.mail_resign_subject, &[("creditor", &creditor.name)]),
        text_body: fill(
            t.mail_resign_body,
            &[
                ("name", name),
                ("reference", &previous.reference),
                ("creditor", &creditor.name),
                ("link", &link),
                ("days", &days.to_string()),
            ],
        ),
        html_body: None,
        attachments: Vec::new(),
    };
    if let Err(e) = ports.mailer.send(&email).await {
        error!(mandate_id = %mandate.id, error = %e, "invitation to a new mandate not sent");
    }
    info!(mandate_id = %mandate.id, replaces = %previous.id, "new mandate invited");
    Ok(mandate.id)
}

/// The events of a mandate or plan, oldest first.
pub async fn history(ports: &Ports, aggregate_id: &str) -> Result<Vec<Event>, UseCaseError> {
    Ok(ports.events.list_events(aggregate_id).await?)
}
