//! Plan changes on the ports: the operator's `POST /v1/plans/{id}/{action}` calls and the
//! debtor's self-service requests, built on the pure [`crate::plan_actions::apply`].
//!
//! A change is read, checked and applied to the stored plan; a dry run stops there and answers
//! the new calendar. Otherwise the changed plan and its event (who, why, what changed) are
//! committed together on the condition that the plan's version is still the one read, so two
//! changes made at the same moment cannot both land on the same old plan. After the commit the
//! debtor gets an e-mail with the new calendar.

use chrono::NaiveDate;
use serde::Serialize;
use serde_json::{Value, json};
use tracing::{info, warn};

use crate::creditor::Creditor;
use crate::error::{FieldError, StoreError};
use crate::events::Event;
use crate::i18n::{fill, format_amount, format_date, plan_texts};
use crate::money::Amount;
use crate::plan::Plan;
use crate::plan_actions::{
    self, ActionContext, Balance, PauseMode, PaymentEffect, PlanAction, Refusal,
};
use crate::ports::{Email, Ports, Write};
use crate::schedule::{self, Split};
use crate::signing::Links;
use crate::use_cases::UseCaseError;

/// Who asked for a change: an operator (by the fingerprint of the API key used) or the debtor
/// (through self-service). Recorded as the event's actor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    /// The first 12 hex digits of the SHA-256 of the operator's API key.
    Operator(String),
    Debtor,
    /// The creditor accepted a debtor's request that was beyond the limits (a closed task).
    CreditorApproval {
        task_id: String,
    },
}

impl Actor {
    pub fn as_event_actor(&self) -> String {
        match self {
            Actor::Operator(key) => format!("operator:{key}"),
            Actor::Debtor => "debtor".to_owned(),
            Actor::CreditorApproval { task_id } => format!("operator:task:{task_id}"),
        }
    }
}

/// The answer to a change: the plan after it (not stored on a dry run), what changed, and the
/// money balance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangeOutcome {
    pub plan: Plan,
    pub changed: Vec<u32>,
    pub dry_run: bool,
}

/// The money of a plan as JSON amounts, for answers and events.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BalanceView {
    pub total: String,
    pub collected: String,
    pub scheduled: String,
    pub received_outside: String,
    pub cancelled: String,
    /// What is neither collected nor with the bank: what an action may still change.
    pub remaining: String,
}

pub fn balance_view(plan: &Plan) -> BalanceView {
    let b: Balance = plan_actions::balance(plan);
    BalanceView {
        total: cents_text(b.total),
        collected: cents_text(b.collected),
        scheduled: cents_text(b.scheduled),
        received_outside: cents_text(b.received_outside),
        cancelled: cents_text(b.cancelled),
        remaining: cents_text(plan_actions::remaining_cents(plan)),
    }
}

/// Cents as a JSON amount string, zero included (`"0.00"`).
pub fn cents_text(cents: i64) -> String {
    format!("{}.{:02}", cents / 100, cents % 100)
}

/// The earliest due date a change made today may give an instalment, for this creditor.
pub fn action_context(ports: &Ports, creditor: &Creditor) -> ActionContext {
    let today = ports.clock.today();
    ActionContext {
        today,
        earliest_due_date: schedule::earliest_due_date(
            today,
            creditor.pre_notification_days,
            creditor.lead_days,
        ),
    }
}

/// Maps a domain refusal to the use-case error the HTTP layer turns into problem+json.
pub fn refusal_error(refusal: Refusal) -> UseCaseError {
    match refusal {
        Refusal::State { detail, .. } | Refusal::Instalment(detail) => {
            UseCaseError::Conflict(detail)
        }
        Refusal::NoInstalment(seq) => UseCaseError::NotFound(format!(
            "The plan has no instalment {seq}; instalments count from 1 (see GET /v1/plans/{{id}})."
        )),
        Refusal::Fields(errors) => UseCaseError::Invalid(errors),
        Refusal::Broken(why) => UseCaseError::Store(StoreError::Corrupt(why)),
    }
}

/// `POST /v1/plans/{id}/{action}` (and `/instalments/{seq}/skip`): reads the body, applies the
/// action and, unless `dry_run`, stores it and tells the debtor.
///
/// `expected_version`, when given (an `If-Match` header), must be the plan's version now.
#[allow(clippy::too_many_arguments)]
pub async fn change_plan(
    ports: &Ports,
    links: &Links,
    plan_id: &str,
    kind: &str,
    seq: Option<&str>,
    body: &Value,
    actor: &Actor,
    dry_run: bool,
    expected_version: Option<u64>,
) -> Result<ChangeOutcome, UseCaseError> {
    let plan = crate::use_cases::get_plan(ports, plan_id).await?;
    let seq = match seq {
        None => None,
        Some(text) => match text.parse::<u32>() {
            Ok(n) if n >= 1 => Some(n),
            _ => {
                return Err(UseCaseError::Invalid(vec![FieldError::new(
                    "seq",
                    "must be an instalment number, counting from 1",
                )]));
            }
        },
    };
    let (action, reason) =
        plan_actions::parse_action(kind, body, seq, &plan).map_err(UseCaseError::Invalid)?;
    if let Some(expected) = expected_version
        && expected != plan.version
    {
        return Err(UseCaseError::Conflict(format!(
            "The plan is at version {}, not {expected}: it changed since it was read. Read it \
             again and decide on the current calendar.",
            plan.version
        )));
    }
    let creditor = ports
        .creditors
        .get_creditor(&plan.creditor_id)
        .await?
        .ok_or_else(|| {
            UseCaseError::Store(StoreError::Corrupt(format!(
                "plan {} belongs to an unknown creditor",
                plan.id
            )))
        })?;
    apply_change(
        ports,
        links,
        &creditor,
        &plan,
        &action,
        reason.as_deref(),
        actor,
        dry_run,
    )
    .await
}

/// Applies a read action to a read plan: the shared path of operator calls, self-service and
/// accepted self-service tasks.
#[allow(clippy::too_many_arguments)]
pub async fn apply_change(
    ports: &Ports,
    links: &Links,
    creditor: &Creditor,
    plan: &Plan,
    action: &PlanAction,
    reason: Option<&str>,
    actor: &Actor,
    dry_run: bool,
) -> Result<ChangeOutcome, UseCaseError> {
    let ctx = action_context(ports, creditor);
    let mut next = plan_actions::apply(plan, action, &ctx).map_err(refusal_error)?;
    if matches!(actor, Actor::Debtor | Actor::CreditorApproval { .. }) {
        next.self_service_changes += 1;
    }
    next.next_action_on = crate::daily::next_action_on(&next, creditor);
    let changed = plan_actions::changed_instalments(plan, &next);
    if dry_run {
        return Ok(ChangeOutcome {
            plan: next,
            changed,
            dry_run: true,
        });
    }

    let now = ports.clock.now();
    let event = Event::after(
        plan.event_head.as_ref(),
        &plan.id.0,
        action.event_kind(),
        now,
        &actor.as_event_actor(),
        json!({
            "action": action_json(action),
            "reason": reason,
            "changed": changed,
            "status": next.status,
            "balance": balance_view(&next),
        }),
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
            return Err(UseCaseError::Conflict(format!(
                "Plan {} was changed at the same moment by someone else (it was at version {}). \
                 Nothing was changed; read it again and send the change again.",
                plan.id, plan.version
            )));
        }
        Err(e) => return Err(e.into()),
    }
    info!(plan_id = %next.id, action = action.name(), version = next.version, changed = changed.len(), "plan changed");
    // An accepted self-service request is announced by its own e-mail (`self_service::decide`).
    if !matches!(actor, Actor::CreditorApproval { .. }) {
        tell_debtor(ports, links, creditor, &next, action, reason).await;
    }
    Ok(ChangeOutcome {
        plan: next,
        changed,
        dry_run: false,
    })
}

/// The action's parameters as event data.
pub fn action_json(action: &PlanAction) -> Value {
    match action {
        PlanAction::Pause { from, until, mode } => {
            json!({"name": "pause", "from": from, "until": until, "mode": mode})
        }
        PlanAction::Resume { mode } => json!({"name": "resume", "mode": mode}),
        PlanAction::Skip { seq } => json!({"name": "skip", "seq": seq}),
        PlanAction::Reschedule {
            total,
            split,
            frequency,
            start_date,
            rounding,
        } => {
            let (count, instalment_amount) = match split {
                Split::Count(n) => (Some(*n), None),
                Split::InstalmentAmount(a) => (None, Some(*a)),
            };
            json!({"name": "reschedule", "total": total, "count": count, "instalment_amount": instalment_amount, "frequency": frequency, "start_date": start_date, "rounding": rounding})
        }
        PlanAction::RecordPayment(p) => {
            json!({"name": "payment", "amount": p.amount, "received_on": p.received_on, "effect": p.effect, "reference": p.reference})
        }
        PlanAction::Payoff => json!({"name": "payoff"}),
        PlanAction::Cancel { reason } => json!({"name": "cancel", "reason": reason}),
    }
}

/// The instalments still to collect, one line each: `3 March 2027: 100.00 EUR`.
pub fn calendar_lines(plan: &Plan, language: crate::creditor::Language) -> String {
    let mut open: Vec<(NaiveDate, Amount)> = plan
        .instalments
        .iter()
        .filter(|i| {
            plan_actions::is_open(i.status) || i.status == crate::plan::InstalmentStatus::Collecting
        })
        .map(|i| (i.due_date, i.amount))
        .collect();
    open.sort();
    if open.is_empty() {
        return format!("- {}", plan_texts(language).calendar_empty);
    }
    open.iter()
        .map(|(date, amount)| {
            format!(
                "- {}: {}",
                format_date(*date, language),
                format_amount(*amount, language)
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The change in the debtor's words.
pub fn change_text(action: &PlanAction, language: crate::creditor::Language) -> String {
    let t = plan_texts(language);
    match action {
        PlanAction::Pause { from, until, mode } => {
            let base = match until {
                Some(until) => fill(
                    t.change_pause_until,
                    &[
                        ("from", &format_date(*from, language)),
                        ("until", &format_date(*until, language)),
                    ],
                ),
                None => fill(t.change_pause, &[("from", &format_date(*from, language))]),
            };
            match mode {
                PauseMode::ShiftCalendar => base,
                PauseMode::AppendAtEnd => format!("{base} {}", t.change_pause_append),
            }
        }
        PlanAction::Resume { .. } => t.change_resume.to_owned(),
        PlanAction::Skip { seq } => fill(t.change_skip, &[("seq", &seq.to_string())]),
        PlanAction::Reschedule { .. } => t.change_reschedule.to_owned(),
        PlanAction::RecordPayment(p) => {
            let base = fill(
                t.change_payment,
                &[
                    ("amount", &format_amount(p.amount, language)),
                    ("date", &format_date(p.received_on, language)),
                ],
            );
            match p.effect {
                PaymentEffect::ShortenPlan => format!("{base} {}", t.change_payment_shorten),
                PaymentEffect::LowerInstalments => format!("{base} {}", t.change_payment_lower),
            }
        }
        PlanAction::Payoff => t.change_payoff.to_owned(),
        PlanAction::Cancel { .. } => t.change_cancel.to_owned(),
    }
}

/// The debtor's e-mail with the new calendar. A failure to send is logged: the change stands,
/// and every changed instalment still gets its own pre-notification before it is collected.
async fn tell_debtor(
    ports: &Ports,
    links: &Links,
    creditor: &Creditor,
    plan: &Plan,
    action: &PlanAction,
    reason: Option<&str>,
) {
    let language = plan.debtor.language;
    let t = plan_texts(language);
    let reason_line = reason
        .map(|r| fill(t.reason_line, &[("reason", r)]))
        .unwrap_or_default();
    let email = Email {
        from: links.mail_from.clone(),
        to: vec![plan.debtor.email.clone()],
        subject: fill(t.mail_changed_subject, &[("creditor", &creditor.name)]),
        text_body: fill(
            t.mail_changed_body,
            &[
                ("name", &plan.debtor.name),
                ("creditor", &creditor.name),
                ("change", &change_text(action, language)),
                ("reason", &reason_line),
                ("calendar", &calendar_lines(plan, language)),
            ],
        ),
        html_body: None,
        attachments: Vec::new(),
    };
    if let Err(e) = ports.mailer.send(&email).await {
        warn!(plan_id = %plan.id, error = %e, "plan change notice not sent");
    }
}

/// The plan's history: its events, oldest first.
pub async fn plan_history(ports: &Ports, id: &str) -> Result<Vec<Event>, UseCaseError> {
    let plan = crate::use_cases::get_plan(ports, id).await?;
    Ok(ports.events.list_events(&plan.id.0).await?)
}
