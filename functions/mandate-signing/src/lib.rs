//! The mandate-signing function: the signing pages the debtor opens from the link
//! (`GET`/`POST /sign/{token}`), the self-service page of a running plan
//! (`GET`/`POST /self-service/{token}`), the one-day PDF download after signing, and the operator's
//! calls on mandates (`/v1/mandates/...`: read, amend, cancel, the PDF, the event history).
//!
//! One axum [`Router`], mounted by the local host beside the other functions' routers and, in
//! AWS, served through `lambda_http`.
//!
//! # Layout
//!
//! - this file: the routes and handlers.
//! - [`pages`]: the server-rendered HTML, escaped, under a restrictive CSP.
//! - [`self_service_pages`]: the debtor's self-service page (`/self-service/{token}`): pause,
//!   skip or spread the rest, within the creditor's limits.
//! - [`document`]: the PDF copy of a signed mandate.

pub mod document;
pub mod pages;
pub mod self_service_pages;

use std::net::SocketAddr;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, Form, FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::json;
use tranche_domain::creditor::Language;
use tranche_domain::events::verify_chain;
use tranche_domain::i18n::{self, fill, texts};
use tranche_domain::secrets;
use tranche_domain::signing::{
    self, LinkProblem, Links, RequestOrigin, SigningForm, SigningOutcome, SigningSession,
};
use tranche_http::problem::Problem;
use tranche_http::{ApiState, json_response, parse_json, require_api_key};

use crate::pages::{FormState, SigningPage};
use crate::self_service_pages::{Notice, SelfServicePage};
use tranche_domain::self_service::{
    self, LinkProblem as SelfServiceLinkProblem, Outcome as SelfServiceOutcome, SelfServiceForm,
};

/// What this function builds besides the DynamoDB tables (its `main` and the in-process AWS tests
/// use it): it stores and serves the signed mandate PDFs, e-mails codes and copies, and renders the
/// PDF.
#[cfg(feature = "wiring")]
pub const WIRING: tranche_lambda::Wiring = tranche_lambda::Wiring {
    function: "mandate-signing",
    files: Some(tranche_lambda::s3_files),
    mailer: Some(tranche_lambda::ses_mailer),
    documents: Some(document::pdf_renderer),
};

/// The signing pages (public, reached through their secret link) and the operator's mandate
/// calls (bearer-key authenticated). No fallback, so a host can merge it with other routers.
pub fn router(state: ApiState) -> Router {
    let operator = Router::new()
        .route("/v1/mandates/{id}", get(get_mandate).patch(amend_mandate))
        .route("/v1/mandates/{id}/cancel", post(cancel_mandate))
        .route("/v1/mandates/{id}/document", get(mandate_document))
        .route("/v1/mandates/{id}/events", get(mandate_events))
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            require_api_key,
        ));
    Router::new()
        .route("/sign/style.css", get(stylesheet))
        .route("/sign/documents/{token}", get(download_document))
        .route(
            "/sign/{token}",
            get(show_signing_page).post(submit_signing_form),
        )
        .route(
            "/self-service/{token}",
            get(show_self_service_page).post(submit_self_service_form),
        )
        .merge(operator)
        .with_state(state)
}

fn self_service_link_problem(problem: SelfServiceLinkProblem, language: Language) -> Response {
    let status = match problem {
        SelfServiceLinkProblem::Unknown => StatusCode::NOT_FOUND,
        SelfServiceLinkProblem::Expired => StatusCode::GONE,
    };
    html(
        status,
        self_service_pages::link_problem_page(language, problem),
        "none",
    )
}

/// Renders a self-service page with a fresh CSP nonce.
#[allow(clippy::too_many_arguments)]
fn render_self_service_page(
    status: StatusCode,
    token: &str,
    language: Language,
    creditor: &tranche_domain::creditor::Creditor,
    plan: &tranche_domain::plan::Plan,
    form: &SelfServiceForm,
    errors: &[tranche_domain::error::FieldError],
    notice: Notice,
) -> Response {
    let nonce = secrets::random_token();
    let body = self_service_pages::self_service_page(&SelfServicePage {
        language,
        token,
        creditor,
        plan,
        form,
        errors,
        notice,
        nonce: &nonce,
    });
    html(status, body, &nonce)
}

/// `GET /self-service/{token}`: the plan's calendar and, while it can change, the form.
async fn show_self_service_page(
    State(state): State<ApiState>,
    Path(token): Path<String>,
    Query(query): Query<LanguageQuery>,
    headers: HeaderMap,
) -> Response {
    let fallback = i18n::negotiate(query.lang.as_deref(), None, accept_language(&headers));
    let session = match self_service::open_link(&state.ports, &token).await {
        Ok(Ok(session)) => session,
        Ok(Err(problem)) => return self_service_link_problem(problem, fallback),
        Err(e) => return unavailable_page(fallback, &e),
    };
    let language = i18n::negotiate(
        query.lang.as_deref(),
        Some(session.plan.debtor.language),
        accept_language(&headers),
    );
    render_self_service_page(
        StatusCode::OK,
        &token,
        language,
        &session.creditor,
        &session.plan,
        &SelfServiceForm::default(),
        &[],
        Notice::None,
    )
}

/// The self-service form's fields; all optional so a missing one is an error at its field.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct SelfServiceFormBody {
    choice: String,
    months: String,
    seq: String,
    count: String,
}

/// `POST /self-service/{token}`: applies a request within the creditor's limits (200 with the
/// new calendar), hands one beyond them to the creditor (202), shows form errors beside their
/// fields (422), or says the plan cannot change here (409).
async fn submit_self_service_form(
    State(state): State<ApiState>,
    Path(token): Path<String>,
    Query(query): Query<LanguageQuery>,
    headers: HeaderMap,
    Form(body): Form<SelfServiceFormBody>,
) -> Response {
    let fallback = i18n::negotiate(query.lang.as_deref(), None, accept_language(&headers));
    let session = match self_service::open_link(&state.ports, &token).await {
        Ok(Ok(session)) => session,
        Ok(Err(problem)) => return self_service_link_problem(problem, fallback),
        Err(e) => return unavailable_page(fallback, &e),
    };
    let language = i18n::negotiate(
        query.lang.as_deref(),
        Some(session.plan.debtor.language),
        accept_language(&headers),
    );
    let form = SelfServiceForm {
        choice: body.choice,
        months: body.months,
        seq: body.seq,
        count: body.count,
    };
    let links = Links {
        public_url: state.public_url.clone(),
        mail_from: state.mail_from.clone(),
    };
    // After a change the form starts empty again; after errors it keeps what was sent.
    let empty = SelfServiceForm::default();
    let render = |status, plan: &tranche_domain::plan::Plan, errors: &[_], notice| {
        render_self_service_page(
            status,
            &token,
            language,
            &session.creditor,
            plan,
            if notice == Notice::Applied {
                &empty
            } else {
                &form
            },
            errors,
            notice,
        )
    };
    match self_service::submit(&state.ports, &links, &session, &form, language).await {
        Ok(Ok(SelfServiceOutcome::Applied(plan))) => {
            render(StatusCode::OK, &plan, &[], Notice::Applied)
        }
        Ok(Ok(SelfServiceOutcome::Pending(plan))) => {
            render(StatusCode::ACCEPTED, &plan, &[], Notice::Pending)
        }
        Ok(Ok(SelfServiceOutcome::Closed)) => {
            render(StatusCode::CONFLICT, &session.plan, &[], Notice::None)
        }
        Ok(Err(errors)) => render(
            StatusCode::UNPROCESSABLE_ENTITY,
            &session.plan,
            &errors,
            Notice::None,
        ),
        Err(tranche_domain::use_cases::UseCaseError::Conflict(_)) => {
            render(StatusCode::CONFLICT, &session.plan, &[], Notice::None)
        }
        Err(e) => unavailable_page(language, &e),
    }
}

/// Where a request came from: the peer address when the host sees the socket (the local host),
/// else the first `X-Forwarded-For` address (API Gateway sets it), else `unknown`.
pub struct ClientAddress(pub String);

impl<S: Send + Sync> FromRequestParts<S> for ClientAddress {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        if let Some(ConnectInfo(peer)) = parts.extensions.get::<ConnectInfo<SocketAddr>>() {
            return Ok(ClientAddress(peer.ip().to_string()));
        }
        let forwarded = parts
            .headers
            .get("x-forwarded-for")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(',').next())
            .map(str::trim)
            .filter(|v| !v.is_empty());
        Ok(ClientAddress(forwarded.unwrap_or("unknown").to_owned()))
    }
}

#[derive(Debug, Deserialize)]
struct LanguageQuery {
    lang: Option<String>,
}

fn accept_language(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok())
}

/// An HTML answer with the headers every signing page carries.
fn html(status: StatusCode, body: String, nonce: &str) -> Response {
    let mut response = (status, body).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    if let Ok(policy) = HeaderValue::from_str(&pages::content_security_policy(nonce)) {
        headers.insert(header::CONTENT_SECURITY_POLICY, policy);
    }
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    response
}

fn link_problem_response(problem: LinkProblem, language: Language) -> Response {
    let status = match problem {
        LinkProblem::Unknown => StatusCode::NOT_FOUND,
        LinkProblem::Used | LinkProblem::Expired => StatusCode::GONE,
    };
    html(status, pages::link_problem_page(language, problem), "none")
}

/// What the debtor sees when something broke on our side (the cause is logged, not shown).
fn unavailable_page(language: Language, error: &dyn std::fmt::Display) -> Response {
    tracing::error!(error = %error, "signing page failed");
    html(
        StatusCode::SERVICE_UNAVAILABLE,
        pages::unavailable_page(language),
        "none",
    )
}

async fn stylesheet() -> Response {
    let mut response = pages::STYLESHEET.into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/css; charset=utf-8"),
    );
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=3600"),
    );
    response
}

/// The form as the page first shows it: what the operator already knows of the debtor.
fn initial_form(session: &SigningSession) -> SigningForm {
    let debtor = &session.plan.debtor;
    let address = debtor.address.as_ref();
    SigningForm {
        name: debtor.name.clone(),
        street: address.map(|a| a.street.clone()).unwrap_or_default(),
        building: address.and_then(|a| a.building.clone()).unwrap_or_default(),
        postcode: address.map(|a| a.postcode.clone()).unwrap_or_default(),
        town: address.map(|a| a.town.clone()).unwrap_or_default(),
        country: address
            .map(|a| a.country.clone())
            .unwrap_or_else(|| session.creditor.address.country.clone()),
        ..SigningForm::default()
    }
}

fn render_signing_page(
    status: StatusCode,
    session: &SigningSession,
    token: &str,
    language: Language,
    state: FormState<'_>,
) -> Response {
    let document = signing::mandate_document(
        &session.creditor,
        &session.plan,
        &session.mandate,
        None,
        language,
    );
    let nonce = secrets::random_token();
    let body = pages::signing_page(&SigningPage {
        language,
        token,
        creditor: &session.creditor,
        plan: &session.plan,
        document: &document,
        state,
        nonce: &nonce,
    });
    html(status, body, &nonce)
}

async fn show_signing_page(
    State(state): State<ApiState>,
    Path(token): Path<String>,
    Query(query): Query<LanguageQuery>,
    headers: HeaderMap,
) -> Response {
    let fallback = i18n::negotiate(query.lang.as_deref(), None, accept_language(&headers));
    let session = match signing::open_signing_link(&state.ports, &token).await {
        Ok(Ok(session)) => session,
        Ok(Err(problem)) => return link_problem_response(problem, fallback),
        Err(e) => return unavailable_page(fallback, &e),
    };
    let language = i18n::negotiate(
        query.lang.as_deref(),
        Some(session.plan.debtor.language),
        accept_language(&headers),
    );
    let form = initial_form(&session);
    let code_sent_to = session
        .mandate
        .email_code
        .as_ref()
        .map(|c| c.sent_to.clone());
    render_signing_page(
        StatusCode::OK,
        &session,
        &token,
        language,
        FormState {
            form: &form,
            errors: &[],
            code_sent_to: code_sent_to.as_deref(),
        },
    )
}

/// The signing form's fields; every one optional here so a missing one becomes an error shown
/// at its field rather than a rejected request.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct SigningFormBody {
    name: String,
    street: String,
    building: String,
    postcode: String,
    town: String,
    country: String,
    iban: String,
    bic: String,
    signature_name: String,
    accept: Option<String>,
    code: String,
    document: String,
    action: String,
}

async fn submit_signing_form(
    State(state): State<ApiState>,
    Path(token): Path<String>,
    Query(query): Query<LanguageQuery>,
    ClientAddress(ip_address): ClientAddress,
    headers: HeaderMap,
    Form(body): Form<SigningFormBody>,
) -> Response {
    let fallback = i18n::negotiate(query.lang.as_deref(), None, accept_language(&headers));
    let session = match signing::open_signing_link(&state.ports, &token).await {
        Ok(Ok(session)) => session,
        Ok(Err(problem)) => return link_problem_response(problem, fallback),
        Err(e) => return unavailable_page(fallback, &e),
    };
    let language = i18n::negotiate(
        query.lang.as_deref(),
        Some(session.plan.debtor.language),
        accept_language(&headers),
    );
    let form = SigningForm {
        name: body.name,
        street: body.street,
        building: body.building,
        postcode: body.postcode,
        town: body.town,
        country: body.country,
        iban: body.iban,
        bic: body.bic,
        signature_name: body.signature_name,
        accept: body.accept.is_some(),
        code: body.code,
        document: body.document,
        send_code: body.action == "send_code",
    };
    let origin = RequestOrigin {
        ip_address,
        user_agent: headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .chars()
            .take(512)
            .collect(),
    };
    let links = Links {
        public_url: state.public_url.clone(),
        mail_from: state.mail_from.clone(),
    };

    let outcome =
        signing::submit_signature(&state.ports, &session, &form, &origin, language, &links).await;
    match outcome {
        Ok(SigningOutcome::Signed {
            mandate,
            download_token,
        }) => {
            let t = texts(language);
            let debtor = mandate.debtor.as_ref();
            let text = fill(
                t.confirmed_text,
                &[
                    ("name", debtor.map(|d| d.name.as_str()).unwrap_or_default()),
                    ("reference", &mandate.reference),
                    ("creditor", &session.creditor.name),
                    (
                        "iban",
                        &debtor.map(|d| d.iban.to_paper()).unwrap_or_default(),
                    ),
                    ("email", &mandate.debtor_email),
                ],
            );
            let Some(document) = mandate.document.as_ref() else {
                return unavailable_page(language, &"a signed mandate without its document");
            };
            let nonce = secrets::random_token();
            let body = pages::confirmation_page(
                language,
                &session.creditor,
                &session.plan,
                document,
                &text,
                &format!("/sign/documents/{download_token}"),
                &nonce,
            );
            html(StatusCode::OK, body, &nonce)
        }
        Ok(SigningOutcome::CodeSent { to }) => {
            let form = SigningForm {
                code: String::new(),
                ..form
            };
            render_signing_page(
                StatusCode::OK,
                &session,
                &token,
                language,
                FormState {
                    form: &form,
                    errors: &[],
                    code_sent_to: Some(&to),
                },
            )
        }
        Ok(SigningOutcome::Refused {
            errors,
            code_sent_to,
        }) => {
            let form = SigningForm {
                code: String::new(),
                ..form
            };
            render_signing_page(
                StatusCode::UNPROCESSABLE_ENTITY,
                &session,
                &token,
                language,
                FormState {
                    form: &form,
                    errors: &errors,
                    code_sent_to: code_sent_to.as_deref(),
                },
            )
        }
        Err(e) => unavailable_page(language, &e),
    }
}

fn pdf_response(filename: &str, pdf: Vec<u8>) -> Response {
    let mut response = pdf.into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/pdf"),
    );
    if let Ok(disposition) =
        HeaderValue::from_str(&format!("attachment; filename=\"{filename}.pdf\""))
    {
        headers.insert(header::CONTENT_DISPOSITION, disposition);
    }
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

async fn download_document(
    State(state): State<ApiState>,
    Path(token): Path<String>,
    headers: HeaderMap,
) -> Response {
    let language = i18n::negotiate(None, None, accept_language(&headers));
    match signing::download_document(&state.ports, &token).await {
        Ok(Some((mandate, pdf))) => pdf_response(&mandate.reference, pdf),
        Ok(None) => link_problem_response(LinkProblem::Expired, language),
        Err(e) => unavailable_page(language, &e),
    }
}

async fn get_mandate(
    State(state): State<ApiState>,
    Path(id): Path<String>,
) -> Result<Response, Problem> {
    let mandate = signing::get_mandate(&state.ports, &id).await?;
    Ok(json_response(
        StatusCode::OK,
        &signing::mandate_json(&mandate),
    ))
}

async fn amend_mandate(
    State(state): State<ApiState>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, Problem> {
    let body = parse_json(&body)?;
    let mandate = signing::amend_mandate(&state.ports, &id, &body).await?;
    Ok(json_response(
        StatusCode::OK,
        &signing::mandate_json(&mandate),
    ))
}

async fn cancel_mandate(
    State(state): State<ApiState>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, Problem> {
    let body = parse_json(&body)?;
    let mandate = signing::cancel_mandate(&state.ports, &id, &body).await?;
    Ok(json_response(
        StatusCode::OK,
        &signing::mandate_json(&mandate),
    ))
}

async fn mandate_document(
    State(state): State<ApiState>,
    Path(id): Path<String>,
) -> Result<Response, Problem> {
    let (mandate, pdf) = signing::mandate_pdf(&state.ports, &id).await?;
    Ok(pdf_response(&mandate.reference, pdf))
}

/// The mandate's event history and whether its hash chain is intact.
async fn mandate_events(
    State(state): State<ApiState>,
    Path(id): Path<String>,
) -> Result<Response, Problem> {
    let mandate = signing::get_mandate(&state.ports, &id).await?;
    let events = signing::history(&state.ports, &mandate.id.0).await?;
    let chain = match verify_chain(&events) {
        Ok(()) => json!({"intact": true}),
        Err(broken) => json!({"intact": false, "broken_at": broken.seq, "reason": broken.reason}),
    };
    Ok(json_response(
        StatusCode::OK,
        &json!({"events": events, "chain": chain}),
    ))
}
