//! The plan-creation function: the operator API for creditors and plans.
//!
//! One axum [`Router`] maps HTTP requests to the use cases of `tranche_domain::use_cases`;
//! the same router is mounted by the local host (`tranche serve`) and, in AWS, served through
//! `lambda_http` behind API Gateway.
//!
//! Authentication, problem+json errors and the handler state come from `tranche-http`.

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use serde::Deserialize;
use serde_json::{Value, json};
use tranche_domain::error::{FieldError, StoreError};
use tranche_domain::plan::Plan;
use tranche_domain::plan_changes;
use tranche_domain::ports::{IdempotencyRecord, StoredResponse};
use tranche_domain::secrets::sha256_hex;
use tranche_domain::signing::Links;
use tranche_domain::use_cases;
use tranche_http::problem::Problem;
use tranche_http::{ApiState, json_response, operator_actor, parse_json, require_api_key};

/// What this function builds besides the DynamoDB tables (its `main` and the in-process AWS tests
/// use it): it serves batch files from S3 and e-mails signing links and plan changes; renders no
/// PDF.
#[cfg(feature = "wiring")]
pub const WIRING: tranche_lambda::Wiring = tranche_lambda::Wiring {
    function: "plan-creation",
    files: Some(tranche_lambda::s3_files),
    mailer: Some(tranche_lambda::ses_mailer),
    documents: None,
};

/// The operator API for creditors, plans, and the reads of collections, batch files and tasks
/// (`/v1/...`, bearer-key authenticated). It has no
/// fallback, so a host can merge it with the other functions' routers.
pub fn router(state: ApiState) -> Router {
    Router::new()
        .route("/v1/creditors/{id}", put(put_creditor).get(get_creditor))
        .route("/v1/plans/preview", post(preview_plan))
        .route("/v1/plans", post(create_plan).get(list_plans))
        .route("/v1/plans/{id}", get(get_plan))
        .route("/v1/plans/{id}/events", get(plan_history))
        .route("/v1/plans/{id}/pause", post(pause_plan))
        .route("/v1/plans/{id}/resume", post(resume_plan))
        .route("/v1/plans/{id}/reschedule", post(reschedule_plan))
        .route("/v1/plans/{id}/payments", post(record_payment))
        .route("/v1/plans/{id}/payoff", post(pay_off_plan))
        .route("/v1/plans/{id}/cancel", post(cancel_plan))
        .route(
            "/v1/plans/{id}/instalments/{seq}/skip",
            post(skip_instalment),
        )
        .route("/v1/collections", get(list_collections))
        .route("/v1/batches", get(list_batches))
        .route("/v1/batches/{id}", get(get_batch))
        .route("/v1/batches/{id}/file", get(batch_file))
        .route("/v1/tasks", get(list_tasks))
        .route("/v1/tasks/{id}/close", post(close_task))
        .route("/v1/events", get(event_feed))
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            require_api_key,
        ))
        .with_state(state)
}

async fn put_creditor(
    State(state): State<ApiState>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, Problem> {
    let body = parse_json(&body)?;
    let (creditor, created) = use_cases::put_creditor(&state.ports, &id, &body).await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok(json_response(status, &json!(creditor)))
}

async fn get_creditor(
    State(state): State<ApiState>,
    Path(id): Path<String>,
) -> Result<Response, Problem> {
    let creditor = use_cases::get_creditor(&state.ports, &id).await?;
    Ok(json_response(StatusCode::OK, &json!(creditor)))
}

async fn preview_plan(State(state): State<ApiState>, body: Bytes) -> Result<Response, Problem> {
    let body = parse_json(&body)?;
    let preview = use_cases::preview_plan(&state.ports, &body).await?;
    Ok(json_response(StatusCode::OK, &json!(preview)))
}

/// The JSON form of a plan with its money `balance`; `signing_url` only right after creation.
fn plan_json(plan: &Plan, signing_url: Option<&str>) -> Value {
    let mut value = json!(plan);
    if let Some(map) = value.as_object_mut() {
        map.insert("balance".into(), json!(plan_changes::balance_view(plan)));
        if let Some(url) = signing_url {
            map.insert("signing_url".into(), json!(url));
        }
    }
    value
}

/// `POST /v1/plans`, idempotent under an `Idempotency-Key` header (see [`idempotent`]).
async fn create_plan(
    State(state): State<ApiState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, Problem> {
    idempotent(&state, &headers, "POST /v1/plans", &body, || {
        create_plan_response(&state, &body)
    })
    .await
}

/// Runs `run` at most once per `Idempotency-Key` (scoped by `scope`, the method and path): the
/// key is claimed with a conditional write before anything else, so two concurrent repeats
/// cannot both act; a repeat answers the first answer byte for byte; the same key with another
/// body is refused. Without the header, `run` simply runs. Server errors give the key back.
async fn idempotent<F, Fut>(
    state: &ApiState,
    headers: &HeaderMap,
    scope: &str,
    body: &Bytes,
    run: F,
) -> Result<Response, Problem>
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = Result<Response, Problem>>,
{
    let Some(key) = headers.get("idempotency-key") else {
        return run().await;
    };
    let key = key
        .to_str()
        .ok()
        .map(str::trim)
        .filter(|k| !k.is_empty() && k.len() <= 255)
        .ok_or_else(|| {
            Problem::invalid_fields(vec![FieldError::new(
                "Idempotency-Key",
                "must be 1 to 255 visible ASCII characters, e.g. a UUID",
            )])
        })?;
    let scoped_key = format!("{scope}:{key}");
    let record = IdempotencyRecord {
        key: scoped_key.clone(),
        request_hash: sha256_hex(body),
        response: None,
        created_at: state.ports.clock.now(),
    };

    match state.ports.idempotency.claim_idempotency_key(&record).await {
        Ok(()) => {}
        Err(StoreError::ConditionFailed(_)) => return replay(state, &record).await,
        Err(e) => return Err(use_cases::UseCaseError::Store(e).into()),
    }

    let response = match run().await {
        Ok(response) => response,
        Err(problem) => problem.into_response(),
    };
    if response.status().is_server_error() {
        if let Err(e) = state
            .ports
            .idempotency
            .release_idempotency_key(&scoped_key)
            .await
        {
            tracing::error!(error = %e, "idempotency key release failed");
        }
        return Ok(response);
    }
    // Keep the answer, success or client error, so a repeat gets it byte for byte.
    let (parts, body) = response.into_parts();
    let bytes = axum::body::to_bytes(body, usize::MAX)
        .await
        .unwrap_or_default();
    let stored = StoredResponse {
        status: parts.status.as_u16(),
        body: String::from_utf8_lossy(&bytes).into_owned(),
    };
    if let Err(e) = state
        .ports
        .idempotency
        .complete_idempotency_key(&scoped_key, &stored)
        .await
    {
        tracing::error!(error = %e, "idempotency key completion failed");
    }
    Ok(Response::from_parts(parts, axum::body::Body::from(bytes)))
}

async fn replay(state: &ApiState, claim: &IdempotencyRecord) -> Result<Response, Problem> {
    let stored = state
        .ports
        .idempotency
        .get_idempotency_record(&claim.key)
        .await
        .map_err(use_cases::UseCaseError::Store)?;
    let Some(stored) = stored else {
        return Err(Problem::unavailable());
    };
    if stored.request_hash != claim.request_hash {
        return Err(Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "idempotency-key-reused",
            "Idempotency-Key reused with another body",
            "This Idempotency-Key was used for a different request body. Use a new key for a new \
             request, or send exactly the first body to get its answer again.",
        ));
    }
    let Some(response) = stored.response else {
        return Err(Problem::new(
            StatusCode::CONFLICT,
            "idempotency-key-in-progress",
            "The first request with this key is still being processed",
            "A request with this Idempotency-Key is still being processed. Send it again in a \
             moment to get its answer.",
        ));
    };
    let status = StatusCode::from_u16(response.status).unwrap_or(StatusCode::OK);
    let content_type = if status.is_success() {
        "application/json"
    } else {
        "application/problem+json"
    };
    let mut answer = (status, response.body).into_response();
    answer
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    answer
        .headers_mut()
        .insert("idempotent-replayed", HeaderValue::from_static("true"));
    Ok(answer)
}

async fn create_plan_response(state: &ApiState, body: &Bytes) -> Result<Response, Problem> {
    let body = parse_json(body)?;
    let created = use_cases::create_plan(&state.ports, &body, &state.public_url).await?;
    let mut response = json_response(
        StatusCode::CREATED,
        &plan_json(&created.plan, Some(&created.signing_url)),
    );
    if let Ok(location) = HeaderValue::from_str(&format!("/v1/plans/{}", created.plan.id)) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    Ok(response)
}

async fn get_plan(
    State(state): State<ApiState>,
    Path(id): Path<String>,
) -> Result<Response, Problem> {
    let plan = use_cases::get_plan(&state.ports, &id).await?;
    Ok(json_response(StatusCode::OK, &plan_json(&plan, None)))
}

#[derive(Debug, Deserialize)]
struct ListQuery {
    status: Option<String>,
    creditor_id: Option<String>,
    after: Option<String>,
    limit: Option<String>,
}

async fn list_plans(
    State(state): State<ApiState>,
    Query(query): Query<ListQuery>,
) -> Result<Response, Problem> {
    let page = use_cases::list_plans(
        &state.ports,
        query.status.as_deref(),
        query.creditor_id.as_deref(),
        query.after.as_deref(),
        query.limit.as_deref(),
    )
    .await?;
    let items: Vec<Value> = page.items.iter().map(|p| plan_json(p, None)).collect();
    Ok(json_response(
        StatusCode::OK,
        &json!({"items": items, "next": page.next}),
    ))
}

#[derive(Debug, Deserialize)]
struct CollectionsQuery {
    status: Option<String>,
    date: Option<String>,
    creditor_id: Option<String>,
    after: Option<String>,
    limit: Option<String>,
}

fn page_json<T: serde::Serialize>(items: &[T], next: Option<String>) -> Value {
    json!({"items": items, "next": next})
}

async fn list_collections(
    State(state): State<ApiState>,
    Query(query): Query<CollectionsQuery>,
) -> Result<Response, Problem> {
    let page = use_cases::list_collections(
        &state.ports,
        query.status.as_deref(),
        query.date.as_deref(),
        query.creditor_id.as_deref(),
        query.after.as_deref(),
        query.limit.as_deref(),
    )
    .await?;
    Ok(json_response(
        StatusCode::OK,
        &page_json(&page.items, page.next),
    ))
}

#[derive(Debug, Deserialize)]
struct BatchesQuery {
    creditor_id: Option<String>,
    after: Option<String>,
    limit: Option<String>,
}

async fn list_batches(
    State(state): State<ApiState>,
    Query(query): Query<BatchesQuery>,
) -> Result<Response, Problem> {
    let page = use_cases::list_batches(
        &state.ports,
        query.creditor_id.as_deref(),
        query.after.as_deref(),
        query.limit.as_deref(),
    )
    .await?;
    let items: Vec<Value> = page.items.iter().map(batch_json).collect();
    Ok(json_response(
        StatusCode::OK,
        &json!({"items": items, "next": page.next}),
    ))
}

fn batch_json(batch: &tranche_domain::collection::Batch) -> Value {
    let mut value = json!(batch);
    if let Some(map) = value.as_object_mut() {
        map.insert(
            "file_url".into(),
            json!(format!("/v1/batches/{}/file", batch.id)),
        );
    }
    value
}

async fn get_batch(
    State(state): State<ApiState>,
    Path(id): Path<String>,
) -> Result<Response, Problem> {
    let batch = use_cases::get_batch(&state.ports, &id).await?;
    Ok(json_response(StatusCode::OK, &batch_json(&batch)))
}

async fn batch_file(
    State(state): State<ApiState>,
    Path(id): Path<String>,
) -> Result<Response, Problem> {
    let (batch, bytes) = use_cases::batch_file(&state.ports, &id).await?;
    let mut response = bytes.into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/xml"),
    );
    if let Ok(disposition) = HeaderValue::from_str(&format!(
        "attachment; filename=\"{}.xml\"",
        batch.message_id
    )) {
        headers.insert(header::CONTENT_DISPOSITION, disposition);
    }
    Ok(response)
}

#[derive(Debug, Deserialize)]
struct TasksQuery {
    status: Option<String>,
    after: Option<String>,
    limit: Option<String>,
}

async fn list_tasks(
    State(state): State<ApiState>,
    Query(query): Query<TasksQuery>,
) -> Result<Response, Problem> {
    let page = use_cases::list_tasks(
        &state.ports,
        query.status.as_deref(),
        query.after.as_deref(),
        query.limit.as_deref(),
    )
    .await?;
    Ok(json_response(
        StatusCode::OK,
        &page_json(&page.items, page.next),
    ))
}

async fn close_task(
    State(state): State<ApiState>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, Problem> {
    let body = parse_json(&body)?;
    let links = Links {
        public_url: state.public_url.clone(),
        mail_from: state.mail_from.clone(),
    };
    let task = use_cases::close_task(&state.ports, &links, &id, &body).await?;
    Ok(json_response(StatusCode::OK, &json!(task)))
}

#[derive(Debug, Deserialize)]
struct FeedQuery {
    after: Option<String>,
    limit: Option<String>,
}

/// The event feed: `{events: [{position, ...event}], next}`; pass `next` as `after`.
async fn event_feed(
    State(state): State<ApiState>,
    Query(query): Query<FeedQuery>,
) -> Result<Response, Problem> {
    let (events, next) =
        use_cases::event_feed(&state.ports, query.after.as_deref(), query.limit.as_deref()).await?;
    let events: Vec<Value> = events
        .into_iter()
        .map(|(position, event)| {
            let mut value = json!(event);
            if let Some(map) = value.as_object_mut() {
                map.insert("position".into(), json!(position));
            }
            value
        })
        .collect();
    Ok(json_response(
        StatusCode::OK,
        &json!({"events": events, "next": next.to_string()}),
    ))
}

/// `?dry_run=true` on a plan action.
#[derive(Debug, Deserialize)]
struct ActionQuery {
    dry_run: Option<String>,
}

/// One plan action: the body read (an empty body is `{}`), the change applied by the domain,
/// stored on the condition that the plan's version has not moved (and, with `If-Match`, that
/// it is the version given), and the plan answered with what changed. With `?dry_run=true`
/// nothing is stored or sent: the answer is the calendar the change would give. With an
/// `Idempotency-Key` a retried call (a payment sent again after a timeout) changes the plan
/// once and answers the first answer again.
async fn plan_action(
    state: ApiState,
    id: String,
    kind: &'static str,
    seq: Option<String>,
    query: ActionQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, Problem> {
    let mut errors = Vec::new();
    let dry_run = match query.dry_run.as_deref() {
        None | Some("false") => false,
        Some("true") => true,
        Some(_) => {
            errors.push(FieldError::new("dry_run", "must be true or false"));
            false
        }
    };
    let expected_version = match headers.get(header::IF_MATCH) {
        None => None,
        Some(value) => {
            let parsed = value
                .to_str()
                .ok()
                .map(|v| v.trim().trim_start_matches("W/").trim_matches('"'))
                .and_then(|v| v.parse::<u64>().ok());
            if parsed.is_none() {
                errors.push(FieldError::new(
                    "If-Match",
                    "must be the plan's version as a whole number, e.g. \"3\"",
                ));
            }
            parsed
        }
    };
    if !errors.is_empty() {
        return Err(Problem::invalid_fields(errors));
    }
    let raw = body;
    let body = if raw.iter().all(u8::is_ascii_whitespace) {
        json!({})
    } else {
        parse_json(&raw)?
    };
    let links = Links {
        public_url: state.public_url.clone(),
        mail_from: state.mail_from.clone(),
    };
    let scope = format!(
        "POST /v1/plans/{id}/{}",
        seq.as_deref()
            .map_or(kind.to_owned(), |seq| format!("instalments/{seq}/{kind}"))
    );
    let act = || async {
        let outcome = plan_changes::change_plan(
            &state.ports,
            &links,
            &id,
            kind,
            seq.as_deref(),
            &body,
            &operator_actor(&headers),
            dry_run,
            expected_version,
        )
        .await?;
        let mut value = plan_json(&outcome.plan, None);
        if let Some(map) = value.as_object_mut() {
            map.insert("changed".into(), json!(outcome.changed));
            map.insert("dry_run".into(), json!(outcome.dry_run));
        }
        let mut response = json_response(StatusCode::OK, &value);
        if let Ok(etag) = HeaderValue::from_str(&format!("\"{}\"", outcome.plan.version)) {
            response.headers_mut().insert(header::ETAG, etag);
        }
        Ok(response)
    };
    // A dry run stores nothing, so it needs no key; a real change runs once per key.
    if dry_run {
        return act().await;
    }
    idempotent(&state, &headers, &scope, &raw, act).await
}

macro_rules! plan_action_handler {
    ($name:ident, $kind:literal) => {
        async fn $name(
            State(state): State<ApiState>,
            Path(id): Path<String>,
            Query(query): Query<ActionQuery>,
            headers: HeaderMap,
            body: Bytes,
        ) -> Result<Response, Problem> {
            plan_action(state, id, $kind, None, query, headers, body).await
        }
    };
}

plan_action_handler!(pause_plan, "pause");
plan_action_handler!(resume_plan, "resume");
plan_action_handler!(reschedule_plan, "reschedule");
plan_action_handler!(record_payment, "payments");
plan_action_handler!(pay_off_plan, "payoff");
plan_action_handler!(cancel_plan, "cancel");

async fn skip_instalment(
    State(state): State<ApiState>,
    Path((id, seq)): Path<(String, String)>,
    Query(query): Query<ActionQuery>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, Problem> {
    plan_action(state, id, "skip", Some(seq), query, headers, body).await
}

/// `GET /v1/plans/{id}/events`: the plan's history, oldest first, each change with its actor
/// and its reason.
async fn plan_history(
    State(state): State<ApiState>,
    Path(id): Path<String>,
) -> Result<Response, Problem> {
    let events = plan_changes::plan_history(&state.ports, &id).await?;
    Ok(json_response(StatusCode::OK, &json!({"events": events})))
}
