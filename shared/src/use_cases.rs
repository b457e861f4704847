//! What the operator API does, on the ports: each function is one call of the API, whatever
//! hosts it (a Lambda behind API Gateway or the local `tranche serve`).

use chrono::{Duration, NaiveDate};
use serde::Serialize;
use serde_json::{Value, json};
use tracing::info;

use crate::collection::{Batch, Collection, CollectionStatus, Task, TaskStatus};
use crate::compliance::{self, ComplianceAssessment, ComplianceInput, ComplianceStatus};
use crate::creditor::{
    ComplianceMode, Creditor, CreditorId, DEFAULT_LEAD_DAYS, DEFAULT_MANDATE_REFERENCE_PREFIX,
    DEFAULT_MAX_TRANSACTIONS_PER_FILE, DEFAULT_PRE_NOTIFICATION_DAYS, DEFAULT_SETTLEMENT_DAYS,
};
use crate::error::{FieldError, StoreError};
use crate::events::Event;
use crate::mandate::{Mandate, MandateId};
use crate::money::Amount;
use crate::plan::{Instalment, InstalmentStatus, Plan, PlanId, PlanStatus, SigningToken};
use crate::ports::{CollectionQuery, Page, PlanQuery, Ports, Write};
use crate::requests::{self, PlanRequest};
use crate::schedule::{self, ScheduledInstalment};
use crate::secrets;

/// How long a signing link works after the plan is created.
pub const SIGNING_LINK_DAYS: i64 = 30;

/// Why a use case did not do what it was asked. The HTTP layer maps each variant to a status
/// and a problem+json body; nothing was changed when one of these is returned.
#[derive(Debug, thiserror::Error)]
pub enum UseCaseError {
    /// Fields of the request are wrong (422), each named with what to fix.
    #[error("the request has {} invalid field(s)", .0.len())]
    Invalid(Vec<FieldError>),
    /// The addressed resource does not exist (404).
    #[error("{0}")]
    NotFound(String),
    /// The resource is in a state that does not allow the action (409), named in the message.
    #[error("{0}")]
    Conflict(String),
    /// The request is well-formed but a business rule refuses it (422), e.g. a creditor that
    /// refuses plans inside the consumer-credit rules.
    #[error("{detail}")]
    Refused {
        detail: String,
        errors: Vec<FieldError>,
    },
    /// The store failed; worth a retry.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl UseCaseError {
    fn field(field: &str, message: impl Into<String>) -> Self {
        UseCaseError::Invalid(vec![FieldError::new(field, message)])
    }
}

/// Creates or replaces a creditor; answers it and whether it was new.
pub async fn put_creditor(
    ports: &Ports,
    id: &str,
    body: &Value,
) -> Result<(Creditor, bool), UseCaseError> {
    let id = CreditorId::parse(id).ok_or_else(|| {
        UseCaseError::field("id", "must be 1 to 64 characters of A-Z a-z 0-9 - _")
    })?;
    let request = requests::parse_creditor(body).map_err(UseCaseError::Invalid)?;
    let now = ports.clock.now();
    let existing = ports.creditors.get_creditor(&id).await?;
    let creditor = Creditor {
        created_at: existing.as_ref().map_or(now, |c| c.created_at),
        updated_at: now,
        id: id.clone(),
        name: request.name,
        creditor_identifier: request.creditor_identifier,
        iban: request.iban,
        bic: request.bic,
        address: request.address,
        email: request.email,
        language: request.language,
        pre_notification_days: request
            .pre_notification_days
            .unwrap_or(DEFAULT_PRE_NOTIFICATION_DAYS),
        lead_days: request.lead_days.unwrap_or(DEFAULT_LEAD_DAYS),
        branding: request.branding,
        compliance_mode: request.compliance_mode.unwrap_or_default(),
        signing_method: request.signing_method.unwrap_or_default(),
        mandate_reference_prefix: request
            .mandate_reference_prefix
            .unwrap_or_else(|| DEFAULT_MANDATE_REFERENCE_PREFIX.to_owned()),
        first_sequence: request.first_sequence.unwrap_or_default(),
        pain008_version: request.pain008_version.unwrap_or_default(),
        max_transactions_per_file: request
            .max_transactions_per_file
            .unwrap_or(DEFAULT_MAX_TRANSACTIONS_PER_FILE),
        settlement_days: request.settlement_days.unwrap_or(DEFAULT_SETTLEMENT_DAYS),
        dunning: request.dunning.unwrap_or_default(),
        self_service: request.self_service.unwrap_or_default(),
    };
    ports.creditors.put_creditor(&creditor).await?;
    info!(creditor_id = %id, created = existing.is_none(), "creditor stored");
    Ok((creditor, existing.is_none()))
}

pub async fn get_creditor(ports: &Ports, id: &str) -> Result<Creditor, UseCaseError> {
    let not_found = || UseCaseError::NotFound(format!("There is no creditor with id \"{id}\"."));
    let id = CreditorId::parse(id).ok_or_else(not_found)?;
    ports
        .creditors
        .get_creditor(&id)
        .await?
        .ok_or_else(not_found)
}

/// A plan's calendar as it would be created today, with its compliance assessment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PlanPreview {
    pub instalments: Vec<ScheduledInstalment>,
    pub total: Amount,
    pub count: usize,
    pub first_due_date: NaiveDate,
    pub last_due_date: NaiveDate,
    /// The earliest due date a plan created today may have, for this creditor.
    pub earliest_due_date: NaiveDate,
    pub compliance: ComplianceAssessment,
}

/// A plan just created, with the signing link: the only time the link is shown, since only
/// its hash is stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreatedPlan {
    pub plan: Plan,
    pub signing_url: String,
}

async fn draft_plan(
    ports: &Ports,
    body: &Value,
) -> Result<(PlanRequest, Creditor, PlanPreview), UseCaseError> {
    let request = requests::parse_plan(body).map_err(UseCaseError::Invalid)?;
    let creditor = match CreditorId::parse(&request.creditor_id) {
        Some(id) => ports.creditors.get_creditor(&id).await?,
        None => None,
    };
    let Some(creditor) = creditor else {
        return Err(UseCaseError::field(
            "creditor_id",
            format!(
                "there is no creditor \"{}\"; create it first with PUT /v1/creditors/{{id}}",
                request.creditor_id
            ),
        ));
    };
    if request.mandate_id.is_some() {
        return Err(UseCaseError::field(
            "mandate_id",
            "there is no signed mandate with this reference for this creditor; leave mandate_id \
             out and the debtor is invited to sign one",
        ));
    }

    let today = ports.clock.today();
    let earliest =
        schedule::earliest_due_date(today, creditor.pre_notification_days, creditor.lead_days);
    let instalments =
        schedule::build_schedule(&request.schedule, earliest).map_err(UseCaseError::Invalid)?;
    let (first, last) = match (instalments.first(), instalments.last()) {
        (Some(first), Some(last)) => (first.due_date, last.due_date),
        _ => return Err(UseCaseError::field("count", "the plan has no instalments")),
    };

    let compliance = compliance::assess(&ComplianceInput {
        debtor_type: request.debtor.debtor_type,
        kind: request.kind,
        total: request.schedule.total,
        agreed_on: today,
        first_due_date: first,
        last_due_date: last,
        instalment_count: instalments.len() as u32,
        country: request
            .debtor
            .address
            .as_ref()
            .map_or_else(|| creditor.address.country.clone(), |a| a.country.clone()),
        interest_or_charges: false,
    });
    if creditor.compliance_mode == ComplianceMode::Refuse
        && compliance.status == ComplianceStatus::InsideConsumerCredit
    {
        return Err(UseCaseError::Refused {
            detail: format!(
                "This creditor refuses plans that fall inside the consumer-credit rules: {}",
                compliance.summary
            ),
            errors: vec![FieldError::new(
                "debtor.type",
                "the plan is a consumer credit under the creditor's compliance setting; change \
                 its terms or the creditor's compliance_mode",
            )],
        });
    }

    let preview = PlanPreview {
        total: request.schedule.total,
        count: instalments.len(),
        first_due_date: first,
        last_due_date: last,
        earliest_due_date: earliest,
        instalments,
        compliance,
    };
    Ok((request, creditor, preview))
}

/// Lays out a plan without storing anything.
pub async fn preview_plan(ports: &Ports, body: &Value) -> Result<PlanPreview, UseCaseError> {
    draft_plan(ports, body).await.map(|(_, _, preview)| preview)
}

/// Creates a plan awaiting the debtor's signature, with a fresh signing link under
/// `signing_base_url` (`https://pay.example.com`, the link being `<base>/sign/<token>`).
pub async fn create_plan(
    ports: &Ports,
    body: &Value,
    signing_base_url: &str,
) -> Result<CreatedPlan, UseCaseError> {
    let (request, creditor, preview) = draft_plan(ports, body).await?;
    let now = ports.clock.now();
    let mandate_id = MandateId(secrets::random_id("mnd"));

    let plan = Plan {
        id: PlanId(secrets::random_id("pln")),
        creditor_id: CreditorId::parse(&request.creditor_id)
            .expect("the creditor was found under this id"),
        kind: request.kind,
        debtor: request.debtor,
        currency: request.currency,
        total: request.schedule.total,
        invoices: request.invoices,
        frequency: request.schedule.frequency,
        start_date: request.schedule.start_date,
        rounding: request.schedule.rounding,
        scheme: request.scheme,
        mandate_id: Some(mandate_id.0.clone()),
        status: PlanStatus::AwaitingSignature,
        status_reason: None,
        next_action_on: None,
        dunning_since: None,
        instalments: preview
            .instalments
            .iter()
            .map(|i| Instalment {
                seq: i.seq,
                due_date: i.due_date,
                amount: i.amount,
                kind: i.kind,
                status: InstalmentStatus::Planned,
                notified_on: None,
                attempts: 0,
            })
            .collect(),
        compliance: preview.compliance,
        signing_expires_at: now + Duration::days(SIGNING_LINK_DAYS),
        created_at: now,
        updated_at: now,
        event_head: None,
        version: 1,
        received_outside: Vec::new(),
        pause: None,
        self_service_changes: 0,
        pending_request: None,
    };
    let token = secrets::random_token();
    let signing_token = SigningToken {
        token_hash: secrets::sha256_hex(&token),
        plan_id: plan.id.clone(),
        expires_at: plan.signing_expires_at,
        used_at: None,
        mandate_id: Some(mandate_id.0.clone()),
    };
    let mandate = Mandate {
        id: mandate_id,
        ..Mandate::invited(
            plan.creditor_id.clone(),
            &creditor.mandate_reference_prefix,
            plan.id.clone(),
            plan.scheme,
            plan.debtor.debtor_type,
            plan.debtor.language,
            plan.debtor.email.clone(),
            now,
        )
    };
    let mut plan = plan;
    let plan_created = Event::next(
        None,
        &plan.id.0,
        "plan.created",
        now,
        "operator",
        json!({"total": plan.total, "instalments": plan.instalments.len(), "mandate_id": mandate.id}),
    );
    plan.event_head = Some(plan_created.head());
    let mandate_invited = Event::next(
        None,
        &mandate.id.0,
        "mandate.invited",
        now,
        "operator",
        json!({"plan_id": plan.id, "reference": mandate.reference, "scheme": mandate.scheme}),
    );
    ports
        .transactions
        .commit(&[
            Write::InsertPlan(plan.clone()),
            Write::InsertMandate(mandate),
            Write::InsertSigningToken(signing_token),
            Write::AppendEvent(plan_created),
            Write::AppendEvent(mandate_invited),
        ])
        .await?;
    info!(plan_id = %plan.id, creditor_id = %plan.creditor_id, instalments = plan.instalments.len(), "plan created");

    let signing_url = format!("{}/sign/{token}", signing_base_url.trim_end_matches('/'));
    Ok(CreatedPlan { plan, signing_url })
}

pub async fn get_plan(ports: &Ports, id: &str) -> Result<Plan, UseCaseError> {
    ports
        .plans
        .get_plan(&PlanId(id.to_owned()))
        .await?
        .ok_or_else(|| UseCaseError::NotFound(format!("There is no plan with id \"{id}\".")))
}

/// Default and largest page sizes of list calls.
pub const DEFAULT_PAGE_SIZE: u32 = 50;
pub const MAX_PAGE_SIZE: u32 = 500;

/// Lists plans, filtered by `status` and `creditor_id` (query parameters, checked here).
pub async fn list_plans(
    ports: &Ports,
    status: Option<&str>,
    creditor_id: Option<&str>,
    after: Option<&str>,
    limit: Option<&str>,
) -> Result<Page<Plan>, UseCaseError> {
    let mut errors = Vec::new();
    let status = status.and_then(|s| {
        let parsed = PlanStatus::parse(s);
        if parsed.is_none() {
            let names: Vec<&str> = PlanStatus::ALL.iter().map(|s| s.as_str()).collect();
            errors.push(FieldError::new(
                "status",
                format!(
                    "\"{s}\" is not a plan status; use one of {}",
                    names.join(", ")
                ),
            ));
        }
        parsed
    });
    let creditor_id = creditor_id.and_then(|c| {
        let parsed = CreditorId::parse(c);
        if parsed.is_none() {
            errors.push(FieldError::new("creditor_id", "is not a creditor id"));
        }
        parsed
    });
    let limit = page_size(limit, &mut errors);
    if !errors.is_empty() {
        return Err(UseCaseError::Invalid(errors));
    }
    let query = PlanQuery {
        creditor_id,
        status,
        after: after.map(str::to_owned),
        limit,
    };
    Ok(ports.plans.list_plans(&query).await?)
}

fn page_size(limit: Option<&str>, errors: &mut Vec<FieldError>) -> u32 {
    match limit {
        None => DEFAULT_PAGE_SIZE,
        Some(text) => match text.parse::<u32>() {
            Ok(n) if (1..=MAX_PAGE_SIZE).contains(&n) => n,
            _ => {
                errors.push(FieldError::new(
                    "limit",
                    format!("must be a whole number from 1 to {MAX_PAGE_SIZE}"),
                ));
                DEFAULT_PAGE_SIZE
            }
        },
    }
}

/// `GET /v1/collections?status=&date=&creditor_id=`: collections, filtered.
pub async fn list_collections(
    ports: &Ports,
    status: Option<&str>,
    date: Option<&str>,
    creditor_id: Option<&str>,
    after: Option<&str>,
    limit: Option<&str>,
) -> Result<Page<Collection>, UseCaseError> {
    let mut errors = Vec::new();
    let status = status.and_then(|s| {
        let parsed = CollectionStatus::parse(s);
        if parsed.is_none() {
            let names: Vec<&str> = CollectionStatus::ALL.iter().map(|s| s.as_str()).collect();
            errors.push(FieldError::new(
                "status",
                format!(
                    "\"{s}\" is not a collection status; use one of {}",
                    names.join(", ")
                ),
            ));
        }
        parsed
    });
    let collection_date = date.and_then(|d| {
        let parsed = NaiveDate::parse_from_str(d, "%Y-%m-%d").ok();
        if parsed.is_none() {
            errors.push(FieldError::new(
                "date",
                format!("\"{d}\" is not a date; write it as YYYY-MM-DD"),
            ));
        }
        parsed
    });
    let creditor_id = creditor_id.and_then(|c| {
        let parsed = CreditorId::parse(c);
        if parsed.is_none() {
            errors.push(FieldError::new("creditor_id", "is not a creditor id"));
        }
        parsed
    });
    let limit = page_size(limit, &mut errors);
    if !errors.is_empty() {
        return Err(UseCaseError::Invalid(errors));
    }
    Ok(ports
        .collections
        .list_collections(&CollectionQuery {
            creditor_id,
            status,
            collection_date,
            after: after.map(str::to_owned),
            limit,
        })
        .await?)
}

/// `GET /v1/batches?creditor_id=`: the pain.008 files written, oldest id first, each with its
/// `status`; only `complete` ones can be downloaded.
pub async fn list_batches(
    ports: &Ports,
    creditor_id: Option<&str>,
    after: Option<&str>,
    limit: Option<&str>,
) -> Result<Page<Batch>, UseCaseError> {
    let mut errors = Vec::new();
    let creditor_id = creditor_id.and_then(|c| {
        let parsed = CreditorId::parse(c);
        if parsed.is_none() {
            errors.push(FieldError::new("creditor_id", "is not a creditor id"));
        }
        parsed
    });
    let limit = page_size(limit, &mut errors);
    if !errors.is_empty() {
        return Err(UseCaseError::Invalid(errors));
    }
    Ok(ports
        .collections
        .list_batches(creditor_id.as_ref(), after, limit)
        .await?)
}

pub async fn get_batch(ports: &Ports, id: &str) -> Result<Batch, UseCaseError> {
    ports
        .collections
        .get_batch(id)
        .await?
        .ok_or_else(|| UseCaseError::NotFound(format!("There is no batch with id \"{id}\".")))
}

/// The pain.008 XML of a batch; refused (409) until the batch is complete, since the file of
/// an open or sealed batch is not yet, or not yet known to be, in the file store with all its
/// collections.
pub async fn batch_file(ports: &Ports, id: &str) -> Result<(Batch, Vec<u8>), UseCaseError> {
    let batch = get_batch(ports, id).await?;
    if batch.status != crate::collection::BatchStatus::Complete {
        return Err(UseCaseError::Conflict(format!(
            "Batch \"{id}\" is {}: its file is still being written. A later run of the batch \
             generator (the daily job, or a batch request for its creditor, scheme and date) \
             finishes it.",
            batch.status.as_str()
        )));
    }
    let bytes = ports
        .files
        .get_file(&batch.file_key)
        .await?
        .ok_or_else(|| {
            UseCaseError::Store(StoreError::Corrupt(format!(
                "the file {} of batch {id} is missing from the file store",
                batch.file_key
            )))
        })?;
    Ok((batch, bytes))
}

/// `GET /v1/tasks?status=open`.
pub async fn list_tasks(
    ports: &Ports,
    status: Option<&str>,
    after: Option<&str>,
    limit: Option<&str>,
) -> Result<Page<Task>, UseCaseError> {
    let mut errors = Vec::new();
    let status = match status {
        None => None,
        Some("open") => Some(TaskStatus::Open),
        Some("closed") => Some(TaskStatus::Closed),
        Some(other) => {
            errors.push(FieldError::new(
                "status",
                format!("\"{other}\" is not a task status; use \"open\" or \"closed\""),
            ));
            None
        }
    };
    let limit = page_size(limit, &mut errors);
    if !errors.is_empty() {
        return Err(UseCaseError::Invalid(errors));
    }
    Ok(ports.tasks.list_tasks(status, after, limit).await?)
}

/// `POST /v1/tasks/{id}/close` with an `outcome` ("promised to pay", "new plan agreed").
///
/// A debtor's self-service request beyond the creditor's limits is decided here: the outcome
/// `accept` applies it, `refuse` drops it, before the task closes
/// ([`crate::self_service::decide`]).
pub async fn close_task(
    ports: &Ports,
    links: &crate::signing::Links,
    id: &str,
    body: &Value,
) -> Result<Task, UseCaseError> {
    let mut r = crate::requests::Reader::default();
    let outcome = r
        .object(body, "", &["outcome"])
        .and_then(|map| r.text(map, "", "outcome", true, 500));
    let outcome = r.finish(outcome).map_err(UseCaseError::Invalid)?;
    let Some(mut task) = ports.tasks.get_task(id).await? else {
        return Err(UseCaseError::NotFound(format!(
            "There is no task with id \"{id}\"."
        )));
    };
    if task.status != TaskStatus::Open {
        return Err(UseCaseError::Conflict(format!(
            "Task {id} is closed already (outcome: {}).",
            task.outcome.as_deref().unwrap_or("none")
        )));
    }
    if task.kind == crate::self_service::TASK_KIND {
        crate::self_service::decide(ports, links, &task, &outcome).await?;
    }
    let now = ports.clock.now();
    task.status = TaskStatus::Closed;
    task.outcome = Some(outcome);
    task.updated_at = now;
    match ports.tasks.close_task(&task).await {
        Ok(()) => {}
        Err(StoreError::ConditionFailed(_)) => {
            return Err(UseCaseError::Conflict(format!(
                "Task {id} was closed at the same moment by someone else."
            )));
        }
        Err(e) => return Err(e.into()),
    }
    info!(task_id = %task.id, "task closed");
    Ok(task)
}

/// `GET /v1/events?after=<cursor>`: every change, oldest first, and the cursor to continue
/// from (the last event's position; the same cursor when there is nothing new).
pub async fn event_feed(
    ports: &Ports,
    after: Option<&str>,
    limit: Option<&str>,
) -> Result<(Vec<(u64, crate::events::Event)>, u64), UseCaseError> {
    let mut errors = Vec::new();
    let after = match after {
        None => 0,
        Some(text) => text.parse::<u64>().unwrap_or_else(|_| {
            errors.push(FieldError::new(
                "after",
                "must be the `next` cursor of an earlier answer (a whole number), or absent",
            ));
            0
        }),
    };
    let limit = page_size(limit, &mut errors);
    if !errors.is_empty() {
        return Err(UseCaseError::Invalid(errors));
    }
    let events = ports.events.feed(after, limit).await?;
    let next = events.last().map_or(after, |(position, _)| *position);
    Ok((events, next))
}
