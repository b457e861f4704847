//! Debtor self-service: the link in pre-notifications and dunning e-mails that lets the debtor
//! ask to pause, to skip an instalment, or to spread the rest over more instalments.
//!
//! A request is turned into the same [`PlanAction`] an operator would send, applied with
//! [`plan_actions::apply`] and measured against the creditor's [`SelfServiceLimits`]:
//!
//! - within every limit it is applied at once (recorded as the debtor's change, the debtor gets
//!   the new calendar, the creditor an e-mail);
//! - beyond any of them it waits on the plan as a [`PendingRequest`] and becomes a task for the
//!   creditor; closing the task with the outcome `accept` applies it, `refuse` drops it, and the
//!   debtor is told either way.
//!
//! Links are like signing links: 256 random bits, only the SHA-256 stored, expiring after
//! [`LINK_DAYS`] days; unlike them they work more than once (each e-mail carries a new one).

use chrono::{Duration, Months, NaiveDate};
use serde::{Deserialize, Serialize};
use serde_json::json;
use tracing::{info, warn};

use crate::collection::{Task, TaskStatus};
use crate::creditor::{Creditor, Language, SelfServiceLimits};
use crate::error::{FieldError, StoreError};
use crate::events::Event;
use crate::i18n::{fill, format_amount, format_date, plan_texts};
use crate::money::Amount;
use crate::plan::{Plan, PlanId, PlanStatus, SelfServiceToken};
use crate::plan_actions::{self, ActionContext, PauseMode, PlanAction, Refusal};
use crate::plan_changes::{self, Actor};
use crate::ports::{Email, Ports, Write};
use crate::schedule::{self, Split};
use crate::secrets;
use crate::signing::Links;
use crate::use_cases::UseCaseError;

/// How long a self-service link works.
pub const LINK_DAYS: i64 = 45;
/// The longest pause a debtor may ask for on the page, in months.
pub const MAX_PAUSE_MONTHS: u32 = 12;
/// The task kind of a request beyond the limits.
pub const TASK_KIND: &str = "self_service_request";

/// What the debtor asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum SelfServiceRequest {
    /// No collection for so many months from today; the calendar shifts.
    Pause { months: u32 },
    /// This instalment moves to the end.
    Skip { seq: u32 },
    /// What is left, over this many instalments.
    Spread { count: u32 },
}

/// A request beyond the creditor's limits, waiting on the plan for the creditor's answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingRequest {
    pub request: SelfServiceRequest,
    pub task_id: String,
    pub asked_on: NaiveDate,
    /// Which limits it goes beyond, for the creditor.
    pub beyond: Vec<String>,
}

/// Makes a fresh self-service link for `plan_id` and stores its hash; answers the URL.
pub async fn issue_link(
    ports: &Ports,
    links: &Links,
    plan_id: &PlanId,
) -> Result<String, StoreError> {
    let (stored, url) = new_link(ports, links, plan_id);
    ports.plans.insert_self_service_token(&stored).await?;
    Ok(url)
}

/// A fresh link for `plan_id`: what the store keeps (the token's hash) and the URL.
fn new_link(ports: &Ports, links: &Links, plan_id: &PlanId) -> (SelfServiceToken, String) {
    let token = secrets::random_token();
    let now = ports.clock.now();
    let stored = SelfServiceToken {
        token_hash: secrets::sha256_hex(&token),
        plan_id: plan_id.clone(),
        expires_at: now + Duration::days(LINK_DAYS),
        created_at: now,
    };
    let url = format!(
        "{}/self-service/{token}",
        links.public_url.trim_end_matches('/')
    );
    (stored, url)
}

/// [`link_line`] for many e-mails at once, their links stored in one store call; answers one
/// line per plan, in the order given. When the links cannot be stored every line is empty and
/// the e-mails go out without them.
pub async fn link_lines(ports: &Ports, links: &Links, plans: &[(PlanId, Language)]) -> Vec<String> {
    if plans.is_empty() {
        return Vec::new();
    }
    let (stored, urls): (Vec<SelfServiceToken>, Vec<String>) = plans
        .iter()
        .map(|(plan_id, _)| new_link(ports, links, plan_id))
        .unzip();
    if let Err(e) = ports.plans.insert_self_service_tokens(&stored).await {
        warn!(links = stored.len(), error = %e, "self-service links not stored");
        return vec![String::new(); plans.len()];
    }
    plans
        .iter()
        .zip(urls)
        .map(|((_, language), url)| {
            format!(
                "\n\n{}",
                fill(
                    plan_texts(*language).mail_self_service_line,
                    &[("link", &url)]
                )
            )
        })
        .collect()
}

/// The line that carries the link, for the end of a pre-notification or dunning e-mail; empty
/// when the link could not be stored (the e-mail still goes out: the notice matters more).
pub async fn link_line(
    ports: &Ports,
    links: &Links,
    plan_id: &PlanId,
    language: Language,
) -> String {
    match issue_link(ports, links, plan_id).await {
        Ok(url) => format!(
            "\n\n{}",
            fill(
                plan_texts(language).mail_self_service_line,
                &[("link", &url)]
            )
        ),
        Err(e) => {
            warn!(plan_id = %plan_id, error = %e, "self-service link not stored");
            String::new()
        }
    }
}

/// Why a link shows no plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkProblem {
    Unknown,
    Expired,
}

/// An opened link: the plan and its creditor.
#[derive(Debug, Clone)]
pub struct Session {
    pub plan: Plan,
    pub creditor: Creditor,
}

/// Opens a self-service link.
pub async fn open_link(
    ports: &Ports,
    token: &str,
) -> Result<Result<Session, LinkProblem>, UseCaseError> {
    let well_formed = token.len() == 64 && token.chars().all(|c| c.is_ascii_hexdigit());
    if !well_formed {
        return Ok(Err(LinkProblem::Unknown));
    }
    let Some(stored) = ports
        .plans
        .get_self_service_token(&secrets::sha256_hex(token))
        .await?
    else {
        return Ok(Err(LinkProblem::Unknown));
    };
    if ports.clock.now() >= stored.expires_at {
        return Ok(Err(LinkProblem::Expired));
    }
    let Some(plan) = ports.plans.get_plan(&stored.plan_id).await? else {
        return Ok(Err(LinkProblem::Unknown));
    };
    let Some(creditor) = ports.creditors.get_creditor(&plan.creditor_id).await? else {
        return Ok(Err(LinkProblem::Unknown));
    };
    Ok(Ok(Session { plan, creditor }))
}

/// Whether the plan can be changed on the page at all.
pub fn can_change(plan: &Plan) -> bool {
    matches!(
        plan.status,
        PlanStatus::Active | PlanStatus::Paused | PlanStatus::InDunning
    ) && plan_actions::remaining_cents(plan) > 0
}

/// The open instalments the debtor may pick to skip: (seq, due date, amount), by date.
pub fn skippable(plan: &Plan) -> Vec<(u32, NaiveDate, Amount)> {
    let mut open: Vec<(u32, NaiveDate, Amount)> = plan
        .instalments
        .iter()
        .filter(|i| plan_actions::is_open(i.status))
        .map(|i| (i.seq, i.due_date, i.amount))
        .collect();
    open.sort_by_key(|(seq, date, _)| (*date, *seq));
    open
}

/// The form of the page, as the browser sent it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SelfServiceForm {
    /// `pause`, `skip` or `spread`.
    pub choice: String,
    pub months: String,
    pub seq: String,
    pub count: String,
}

/// Reads the form; each error is named by its form field, in the debtor's language.
pub fn read_form(
    plan: &Plan,
    form: &SelfServiceForm,
    language: Language,
) -> Result<SelfServiceRequest, Vec<FieldError>> {
    let t = plan_texts(language);
    let number = |text: &str, min: u32, max: u32, field: &str| {
        text.trim()
            .parse::<u32>()
            .ok()
            .filter(|n| (min..=max).contains(n))
            .ok_or_else(|| {
                vec![FieldError::new(
                    field,
                    fill(
                        t.error_number,
                        &[("min", &min.to_string()), ("max", &max.to_string())],
                    ),
                )]
            })
    };
    match form.choice.as_str() {
        "pause" => number(&form.months, 1, MAX_PAUSE_MONTHS, "months")
            .map(|months| SelfServiceRequest::Pause { months }),
        "skip" => {
            let seq = form.seq.trim().parse::<u32>().ok();
            match seq.filter(|s| skippable(plan).iter().any(|(open, _, _)| open == s)) {
                Some(seq) => Ok(SelfServiceRequest::Skip { seq }),
                None => Err(vec![FieldError::new("seq", t.error_instalment)]),
            }
        }
        "spread" => {
            let open = skippable(plan).len() as u32;
            number(
                &form.count,
                (open + 1).min(schedule::MAX_INSTALMENTS),
                schedule::MAX_INSTALMENTS,
                "count",
            )
            .map(|count| SelfServiceRequest::Spread { count })
        }
        _ => Err(vec![FieldError::new("choice", t.error_choose)]),
    }
}

/// The plan action a request stands for, as of `ctx`.
pub fn to_action(plan: &Plan, request: SelfServiceRequest, ctx: &ActionContext) -> PlanAction {
    match request {
        SelfServiceRequest::Pause { months } => {
            let from = ctx.today;
            let until = from.checked_add_months(Months::new(months)).unwrap_or(from);
            PlanAction::Pause {
                from,
                until: Some(until),
                mode: PauseMode::ShiftCalendar,
            }
        }
        SelfServiceRequest::Skip { seq } => PlanAction::Skip { seq },
        SelfServiceRequest::Spread { count } => {
            let next_due = skippable(plan).first().map(|(_, date, _)| *date);
            let start_date = next_due
                .unwrap_or(ctx.earliest_due_date)
                .max(ctx.earliest_due_date);
            PlanAction::Reschedule {
                total: None,
                split: Split::Count(count),
                frequency: plan.frequency,
                start_date,
                rounding: plan.rounding,
            }
        }
    }
}

fn last_open_date(plan: &Plan) -> Option<NaiveDate> {
    plan.instalments
        .iter()
        .filter(|i| plan_actions::is_open(i.status))
        .map(|i| i.due_date)
        .max()
}

/// The creditor's limits the change from `before` to `after` goes beyond, in the creditor's
/// words; empty when it stays within all of them.
pub fn limits_exceeded(
    before: &Plan,
    after: &Plan,
    limits: &SelfServiceLimits,
    language: Language,
) -> Vec<String> {
    let mut beyond = Vec::new();
    if before.self_service_changes >= limits.max_changes_per_plan {
        beyond.push(format!(
            "changes per plan: this plan had {} already, the limit is {}",
            before.self_service_changes, limits.max_changes_per_plan
        ));
    }
    let count = after
        .instalments
        .iter()
        .filter(|i| plan_actions::is_open(i.status))
        .count() as u32;
    if count > limits.max_count {
        beyond.push(format!(
            "instalments: {count} left, the limit is {}",
            limits.max_count
        ));
    }
    let changed = plan_actions::changed_instalments(before, after);
    let smallest = after
        .instalments
        .iter()
        .filter(|i| changed.contains(&i.seq) && plan_actions::is_open(i.status))
        .map(|i| i.amount)
        .min();
    if let Some(smallest) = smallest
        && smallest < limits.min_instalment
    {
        beyond.push(format!(
            "instalment amount: {}, the minimum is {}",
            format_amount(smallest, language),
            format_amount(limits.min_instalment, language)
        ));
    }
    if let (Some(was), Some(now)) = (last_open_date(before), last_open_date(after)) {
        let latest = was
            .checked_add_months(Months::new(limits.max_extension_months))
            .unwrap_or(was);
        if now > latest {
            beyond.push(format!(
                "end of the plan: {}, the latest is {} ({} months after {})",
                format_date(now, language),
                format_date(latest, language),
                limits.max_extension_months,
                format_date(was, language)
            ));
        }
    }
    beyond
}

/// What the page shows after a request.
#[derive(Debug, Clone)]
pub enum Outcome {
    /// Applied at once: the plan after it.
    Applied(Plan),
    /// Beyond the limits (or another request still waiting): the creditor decides.
    Pending(Plan),
    /// The plan cannot be changed here (completed, cancelled, defaulted, nothing left).
    Closed,
}

/// Handles a request sent from the page. `Err(errors)` inside `Ok` are form errors to show
/// beside their fields; nothing was changed then.
pub async fn submit(
    ports: &Ports,
    links: &Links,
    session: &Session,
    form: &SelfServiceForm,
    language: Language,
) -> Result<Result<Outcome, Vec<FieldError>>, UseCaseError> {
    let Session { plan, creditor } = session;
    if !can_change(plan) {
        return Ok(Ok(Outcome::Closed));
    }
    if plan.pending_request.is_some() {
        return Ok(Ok(Outcome::Pending(plan.clone())));
    }
    let request = match read_form(plan, form, language) {
        Ok(request) => request,
        Err(errors) => return Ok(Err(errors)),
    };
    let ctx = plan_changes::action_context(ports, creditor);
    let action = to_action(plan, request, &ctx);
    let after = match plan_actions::apply(plan, &action, &ctx) {
        Ok(after) => after,
        Err(Refusal::Fields(errors)) => {
            let field = match request {
                SelfServiceRequest::Pause { .. } => "months",
                SelfServiceRequest::Skip { .. } => "seq",
                SelfServiceRequest::Spread { .. } => "count",
            };
            let message = errors
                .into_iter()
                .map(|e| e.message)
                .collect::<Vec<_>>()
                .join("; ");
            return Ok(Err(vec![FieldError::new(field, message)]));
        }
        Err(Refusal::Instalment(_)) | Err(Refusal::NoInstalment(_)) => {
            return Ok(Err(vec![FieldError::new(
                "seq",
                plan_texts(language).error_instalment,
            )]));
        }
        Err(_) => return Ok(Ok(Outcome::Closed)),
    };

    let beyond = limits_exceeded(plan, &after, &creditor.self_service, creditor.language);
    if beyond.is_empty() {
        let changed = plan_changes::apply_change(
            ports,
            links,
            creditor,
            plan,
            &action,
            Some("self-service"),
            &Actor::Debtor,
            false,
        )
        .await?;
        tell_creditor_changed(ports, links, creditor, &changed.plan, &action).await;
        return Ok(Ok(Outcome::Applied(changed.plan)));
    }
    let pending = ask_creditor(ports, links, creditor, plan, request, &action, beyond).await?;
    Ok(Ok(Outcome::Pending(pending)))
}

async fn send(ports: &Ports, email: Email, plan: &Plan, what: &str) {
    if let Err(e) = ports.mailer.send(&email).await {
        warn!(plan_id = %plan.id, error = %e, what, "e-mail not sent");
    }
}

async fn tell_creditor_changed(
    ports: &Ports,
    links: &Links,
    creditor: &Creditor,
    plan: &Plan,
    action: &PlanAction,
) {
    let language = creditor.language;
    let t = plan_texts(language);
    let values = [
        ("debtor", plan.debtor.name.as_str()),
        ("plan", plan.id.0.as_str()),
    ];
    let email = Email {
        from: links.mail_from.clone(),
        to: vec![creditor.email.clone()],
        subject: fill(t.mail_creditor_changed_subject, &values),
        text_body: fill(
            t.mail_creditor_changed_body,
            &[
                ("debtor", &plan.debtor.name),
                ("plan", &plan.id.0),
                ("change", &plan_changes::change_text(action, language)),
                ("calendar", &plan_changes::calendar_lines(plan, language)),
            ],
        ),
        html_body: None,
        attachments: Vec::new(),
    };
    send(ports, email, plan, "self-service change notice").await;
}

/// Keeps the request on the plan (a conditional write, with its event) and opens the
/// creditor's task; answers the plan as stored.
#[allow(clippy::too_many_arguments)]
async fn ask_creditor(
    ports: &Ports,
    links: &Links,
    creditor: &Creditor,
    plan: &Plan,
    request: SelfServiceRequest,
    action: &PlanAction,
    beyond: Vec<String>,
) -> Result<Plan, UseCaseError> {
    let now = ports.clock.now();
    let task_id = format!(
        "tsk_self_service_{}_{}",
        plan.id.0.trim_start_matches("pln_"),
        plan.version
    );
    let mut next = plan.clone();
    next.pending_request = Some(PendingRequest {
        request,
        task_id: task_id.clone(),
        asked_on: ports.clock.today(),
        beyond: beyond.clone(),
    });
    let event = Event::after(
        plan.event_head.as_ref(),
        &plan.id.0,
        "self_service.requested",
        now,
        &Actor::Debtor.as_event_actor(),
        json!({"request": request, "action": plan_changes::action_json(action), "beyond": beyond, "task_id": task_id}),
    );
    next.event_head = Some(event.head());
    next.updated_at = now;
    next.version = plan.version + 1;
    match ports
        .transactions
        .commit(&[Write::AppendEvent(event), Write::UpdatePlan(next.clone())])
        .await
    {
        Ok(()) => {}
        Err(StoreError::ConditionFailed(_)) => {
            return Err(UseCaseError::Conflict(
                "The plan changed at the same moment; nothing was asked. Please try again."
                    .to_owned(),
            ));
        }
        Err(e) => return Err(e.into()),
    }
    let language = creditor.language;
    let change = plan_changes::change_text(action, language);
    let task = Task {
        id: task_id.clone(),
        creditor_id: creditor.id.clone(),
        plan_id: Some(plan.id.clone()),
        mandate_id: plan.mandate_id.clone().map(crate::mandate::MandateId),
        kind: TASK_KIND.to_owned(),
        title: "Accept or refuse a debtor's request to change a plan".to_owned(),
        detail: format!(
            "{} asks through self-service to change plan {}: {change} This goes beyond the \
             self-service limits ({}). Close this task with the outcome \"accept\" to apply it, \
             or \"refuse\" to keep the plan as it is; the debtor is told either way.",
            plan.debtor.name,
            plan.id,
            beyond.join("; ")
        ),
        status: TaskStatus::Open,
        outcome: None,
        created_at: now,
        updated_at: now,
    };
    ports.tasks.open_task(&task).await?;
    info!(plan_id = %plan.id, task_id = %task_id, "self-service request waits for the creditor");
    let t = plan_texts(language);
    let email = Email {
        from: links.mail_from.clone(),
        to: vec![creditor.email.clone()],
        subject: fill(
            t.mail_creditor_request_subject,
            &[("debtor", &plan.debtor.name), ("plan", &plan.id.0)],
        ),
        text_body: fill(
            t.mail_creditor_request_body,
            &[
                ("debtor", &plan.debtor.name),
                ("plan", &plan.id.0),
                ("change", &change),
                ("why", &beyond.join("; ")),
                ("task", &task_id),
            ],
        ),
        html_body: None,
        attachments: Vec::new(),
    };
    send(ports, email, plan, "self-service request notice").await;
    Ok(next)
}

/// Whether a task's outcome accepts (`accept...`) or refuses (`refuse...`) a request.
fn decision(outcome: &str) -> Option<bool> {
    let lower = outcome.trim().to_lowercase();
    if lower.starts_with("accept") {
        Some(true)
    } else if lower.starts_with("refuse") {
        Some(false)
    } else {
        None
    }
}

/// Closing a self-service task: `accept` applies the waiting request, `refuse` drops it; the
/// plan change is committed before the task is closed, so a failed change leaves the task open
/// to decide again. The debtor is told the outcome with the calendar that now holds.
pub async fn decide(
    ports: &Ports,
    links: &Links,
    task: &Task,
    outcome: &str,
) -> Result<(), UseCaseError> {
    let Some(accept) = decision(outcome) else {
        return Err(UseCaseError::Invalid(vec![FieldError::new(
            "outcome",
            "must start with \"accept\" or \"refuse\" for a self-service request (a note may \
             follow, \"refuse: two changes already\")",
        )]));
    };
    let plan_id = task.plan_id.clone().ok_or_else(|| {
        UseCaseError::Store(StoreError::Corrupt(format!("task {} has no plan", task.id)))
    })?;
    let plan = ports.plans.get_plan(&plan_id).await?.ok_or_else(|| {
        UseCaseError::NotFound(format!("There is no plan with id \"{plan_id}\"."))
    })?;
    let pending = match &plan.pending_request {
        Some(p) if p.task_id == task.id => p.clone(),
        _ => {
            return Err(UseCaseError::Conflict(format!(
                "Plan {plan_id} has no request waiting for task {}.",
                task.id
            )));
        }
    };
    let creditor = ports
        .creditors
        .get_creditor(&plan.creditor_id)
        .await?
        .ok_or_else(|| {
            UseCaseError::Store(StoreError::Corrupt(format!(
                "plan {plan_id} belongs to an unknown creditor"
            )))
        })?;
    let mut cleared = plan.clone();
    cleared.pending_request = None;
    let ctx = plan_changes::action_context(ports, &creditor);
    let action = to_action(&plan, pending.request, &ctx);
    let actor = Actor::CreditorApproval {
        task_id: task.id.clone(),
    };
    let language = plan.debtor.language;
    let t = plan_texts(language);
    let change = plan_changes::change_text(&action, language);
    let (after, subject, body) = if accept {
        let changed = plan_changes::apply_change(
            ports,
            links,
            &creditor,
            &cleared,
            &action,
            Some(outcome),
            &actor,
            false,
        )
        .await?;
        (
            changed.plan,
            t.mail_request_accepted_subject,
            t.mail_request_accepted_body,
        )
    } else {
        let now = ports.clock.now();
        let event = Event::after(
            plan.event_head.as_ref(),
            &plan.id.0,
            "self_service.refused",
            now,
            &actor.as_event_actor(),
            json!({"request": pending.request, "reason": outcome}),
        );
        cleared.event_head = Some(event.head());
        cleared.updated_at = now;
        cleared.version = plan.version + 1;
        match ports
            .transactions
            .commit(&[
                Write::AppendEvent(event),
                Write::UpdatePlan(cleared.clone()),
            ])
            .await
        {
            Ok(()) => {}
            Err(StoreError::ConditionFailed(_)) => {
                return Err(UseCaseError::Conflict(format!(
                    "Plan {plan_id} changed at the same moment; nothing was decided. Close the \
                     task again."
                )));
            }
            Err(e) => return Err(e.into()),
        }
        (
            cleared,
            t.mail_request_refused_subject,
            t.mail_request_refused_body,
        )
    };
    let email = Email {
        from: links.mail_from.clone(),
        to: vec![after.debtor.email.clone()],
        subject: fill(subject, &[("creditor", &creditor.name)]),
        text_body: fill(
            body,
            &[
                ("name", &after.debtor.name),
                ("creditor", &creditor.name),
                ("change", &change),
                ("calendar", &plan_changes::calendar_lines(&after, language)),
            ],
        ),
        html_body: None,
        attachments: Vec::new(),
    };
    send(ports, email, &after, "self-service decision notice").await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan_actions::tests::{ctx, plan};

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    fn limits() -> SelfServiceLimits {
        SelfServiceLimits::default()
    }

    #[test]
    fn a_skip_of_a_plan_within_its_limits_exceeds_nothing() {
        let before = plan("600.00", 6, date(2027, 3, 1));
        let c = ctx(date(2027, 2, 1));
        let after = plan_actions::apply(
            &before,
            &to_action(&before, SelfServiceRequest::Skip { seq: 2 }, &c),
            &c,
        )
        .unwrap();
        assert!(limits_exceeded(&before, &after, &limits(), Language::En).is_empty());
    }

    #[test]
    fn each_limit_is_named_when_a_spread_goes_beyond_it() {
        let mut before = plan("600.00", 6, date(2027, 3, 1));
        before.self_service_changes = 2;
        let c = ctx(date(2027, 2, 1));
        // 40 instalments of 15.00: more than 24, below 20.00, years beyond 6 months, third change.
        let action = to_action(&before, SelfServiceRequest::Spread { count: 40 }, &c);
        let after = plan_actions::apply(&before, &action, &c).unwrap();

        let beyond = limits_exceeded(&before, &after, &limits(), Language::En);

        assert_eq!(beyond.len(), 4, "{beyond:?}");
        assert!(beyond[0].starts_with("changes per plan"));
        assert!(beyond[1].starts_with("instalments: 40 left, the limit is 24"));
        assert!(
            beyond[2].starts_with("instalment amount: €15.00"),
            "{beyond:?}"
        );
        assert!(beyond[3].starts_with("end of the plan"));
    }

    #[test]
    fn a_spread_starts_on_the_next_open_instalment_and_a_pause_today() {
        let before = plan("600.00", 6, date(2027, 3, 1));
        let c = ctx(date(2027, 2, 1));
        let PlanAction::Reschedule {
            start_date, split, ..
        } = to_action(&before, SelfServiceRequest::Spread { count: 8 }, &c)
        else {
            panic!("a spread is a reschedule")
        };
        assert_eq!((start_date, split), (date(2027, 3, 1), Split::Count(8)));
        let PlanAction::Pause { from, until, .. } =
            to_action(&before, SelfServiceRequest::Pause { months: 2 }, &c)
        else {
            panic!("a pause")
        };
        assert_eq!((from, until), (date(2027, 2, 1), Some(date(2027, 4, 1))));
    }

    #[test]
    fn the_form_names_the_field_at_fault_in_the_debtors_language() {
        let open = plan("600.00", 6, date(2027, 3, 1));
        let read = |choice: &str, months: &str, seq: &str, count: &str| {
            read_form(
                &open,
                &SelfServiceForm {
                    choice: choice.into(),
                    months: months.into(),
                    seq: seq.into(),
                    count: count.into(),
                },
                Language::Fr,
            )
        };
        assert_eq!(read("", "", "", "").unwrap_err()[0].field, "choice");
        let months = read("pause", "13", "", "").unwrap_err();
        assert_eq!(months[0].field, "months");
        assert!(
            months[0].message.contains("de 1 à 12"),
            "{}",
            months[0].message
        );
        assert_eq!(read("skip", "", "9", "").unwrap_err()[0].field, "seq");
        assert_eq!(read("spread", "", "", "6").unwrap_err()[0].field, "count");
        assert_eq!(
            read("spread", "", "", " 7 "),
            Ok(SelfServiceRequest::Spread { count: 7 })
        );
    }

    #[test]
    fn a_decision_reads_accept_or_refuse_with_a_note_and_nothing_else() {
        assert_eq!(decision("Accept"), Some(true));
        assert_eq!(decision("refuse: two changes already"), Some(false));
        assert_eq!(decision("maybe"), None);
    }
}
