//! Plan actions: how a plan bends without breaking.
//!
//! A debtor loses a job for two months, wins a bonus, pays one instalment by bank transfer, or
//! asks for smaller amounts. Each of these is a [`PlanAction`], and [`apply`] is a pure function
//! from a plan and an action to the changed plan, or a typed [`Refusal`] that says why not
//! (the plan's state, an instalment already with the bank, a field out of its limits).
//!
//! Three rules hold for every action:
//!
//! - **The money is exact.** For every plan at every moment, collected + scheduled + received
//!   outside + cancelled = total, to the cent ([`balance`], [`check_money`]). `apply` checks it
//!   after every action and refuses to answer a plan that breaks it.
//! - **What the bank has is never touched.** An instalment whose collection exists (status
//!   `collecting`: the collection is created by the daily job and batched in the same run, so it
//!   is batched, submitted, or about to be) or is `collected` keeps its date, amount and status.
//!   `apply` checks this too ([`check_locked_untouched`]).
//! - **A changed date or amount is announced again.** A changed instalment goes back to
//!   `planned` with no notice date, so the daily job sends a new pre-notification and waits the
//!   creditor's pre-notification days before collecting it; every new date is on or after the
//!   earliest legal due date of the day of the change.
//!
//! An instalment that is moved away (skipped, paused to the end, replaced by a new calendar,
//! paid outside) keeps its record with status `skipped`: it holds no money any more, a later
//! instalment with a new `seq` carries its amount. Seqs are never reused, so the collection ids
//! derived from them (`col_<plan>_<seq>_<attempt>`) stay unique.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::calendar::roll_forward;
use crate::error::FieldError;
use crate::money::Amount;
use crate::plan::{Instalment, InstalmentStatus, Plan, PlanStatus};
use crate::requests::Reader;
use crate::schedule::{
    self, Frequency, InstalmentKind, Rounding, ScheduleTerms, Split, unrolled_due_date,
};

/// The longest pause with an end date, in months.
pub const MAX_PAUSE_MONTHS: u32 = 12;
/// The longest reason or reference text.
pub const MAX_REASON_CHARS: usize = 500;

/// What `apply` needs to know of the day: today and the earliest due date a changed instalment
/// may have (today + pre-notification days + lead days, for the plan's creditor).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ActionContext {
    pub today: NaiveDate,
    pub earliest_due_date: NaiveDate,
}

/// Where the instalments that fall in a pause go: the creditor chooses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum PauseMode {
    /// Every instalment from the pause on moves by whole periods, keeping the rhythm.
    #[default]
    ShiftCalendar,
    /// Only the instalments inside the pause move, to the end of the plan.
    AppendAtEnd,
}

impl PauseMode {
    pub fn as_str(self) -> &'static str {
        match self {
            PauseMode::ShiftCalendar => "shift_calendar",
            PauseMode::AppendAtEnd => "append_at_end",
        }
    }
}

/// A pause of the plan, as agreed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pause {
    pub from: NaiveDate,
    /// The day collections may start again; `None` for a pause until a `resume`.
    pub until: Option<NaiveDate>,
    pub mode: PauseMode,
}

/// What a payment received outside direct debit does to the rest of the plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum PaymentEffect {
    /// The last instalments are dropped (or the last one made smaller): the plan ends earlier.
    #[default]
    ShortenPlan,
    /// Every remaining instalment is made smaller; the plan ends on the same day.
    LowerInstalments,
}

/// Money the creditor received outside direct debit (a bank transfer, cash).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutsidePayment {
    pub amount: Amount,
    pub received_on: NaiveDate,
    pub reference: Option<String>,
    pub effect: PaymentEffect,
}

/// A change of a plan, after every field was read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PlanAction {
    /// Nothing is collected from `from` (until `until`, or until a [`PlanAction::Resume`]). On
    /// a plan in dunning it first resumes it.
    Pause {
        from: NaiveDate,
        until: Option<NaiveDate>,
        mode: PauseMode,
    },
    /// Ends an open pause, or brings a plan in dunning back to collecting. The held
    /// instalments move to on or after the earliest legal date (`mode`, default the pause's).
    Resume { mode: Option<PauseMode> },
    /// The instalment `seq` moves to the end of the plan. On a plan in dunning it first resumes
    /// it (so a failed instalment can be the one moved).
    Skip { seq: u32 },
    /// A new calendar for the remaining balance, laid out by the same maths as a new plan.
    Reschedule {
        /// When given, it must equal the remaining balance: a check that the caller and the
        /// plan agree on what is left.
        total: Option<Amount>,
        split: Split,
        frequency: Frequency,
        start_date: NaiveDate,
        rounding: Rounding,
    },
    /// Money received outside direct debit.
    RecordPayment(OutsidePayment),
    /// One collection for the whole remaining balance, on the earliest legal date.
    Payoff,
    /// Nothing more is collected.
    Cancel { reason: String },
}

impl PlanAction {
    /// The action's name, as in its URL and its event (`plan.<name>`).
    pub fn name(&self) -> &'static str {
        match self {
            PlanAction::Pause { .. } => "pause",
            PlanAction::Resume { .. } => "resume",
            PlanAction::Skip { .. } => "skip",
            PlanAction::Reschedule { .. } => "reschedule",
            PlanAction::RecordPayment(_) => "payment",
            PlanAction::Payoff => "payoff",
            PlanAction::Cancel { .. } => "cancel",
        }
    }

    /// The event kind it is recorded under.
    pub fn event_kind(&self) -> &'static str {
        match self {
            PlanAction::Pause { .. } => "plan.paused",
            PlanAction::Resume { .. } => "plan.resumed",
            PlanAction::Skip { .. } => "instalment.skipped",
            PlanAction::Reschedule { .. } => "plan.rescheduled",
            PlanAction::RecordPayment(_) => "plan.payment_recorded",
            PlanAction::Payoff => "plan.payoff",
            PlanAction::Cancel { .. } => "plan.cancelled",
        }
    }

    /// The plan states the action is allowed in.
    fn allowed_in(&self) -> &'static [PlanStatus] {
        use PlanStatus::*;
        match self {
            PlanAction::Pause { .. } => &[Active, InDunning],
            PlanAction::Resume { .. } => &[Paused, InDunning],
            PlanAction::Skip { .. } => &[Active, Paused, InDunning],
            PlanAction::Reschedule { .. } | PlanAction::Payoff => &[Active, Paused, InDunning],
            PlanAction::RecordPayment(_) => &[Active, Paused, InDunning, Defaulted],
            PlanAction::Cancel { .. } => &[AwaitingSignature, Active, Paused, InDunning, Defaulted],
        }
    }
}

/// Why an action was not applied; nothing was changed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// The plan's state does not allow it (409); the message names the state.
    #[error("{detail}")]
    State { status: PlanStatus, detail: String },
    /// The instalment is with the bank, or already moved (409).
    #[error("{0}")]
    Instalment(String),
    /// There is no instalment with this seq (404).
    #[error("the plan has no instalment {0}")]
    NoInstalment(u32),
    /// Fields out of their limits (422), each named with its limit.
    #[error("{} invalid field(s)", .0.len())]
    Fields(Vec<FieldError>),
    /// The change would break the money invariant or touch an instalment with the bank: a bug,
    /// refused rather than stored.
    #[error("the change was refused by a safety check: {0}")]
    Broken(String),
}

fn field(name: &str, message: impl Into<String>) -> Refusal {
    Refusal::Fields(vec![FieldError::new(name, message)])
}

/// Whether an instalment is with the bank (its collection exists) or done: never changed.
pub fn is_locked(status: InstalmentStatus) -> bool {
    matches!(
        status,
        InstalmentStatus::Collecting | InstalmentStatus::Collected
    )
}

/// Whether an instalment still holds money to collect and may be changed.
pub fn is_open(status: InstalmentStatus) -> bool {
    matches!(
        status,
        InstalmentStatus::Planned
            | InstalmentStatus::Notified
            | InstalmentStatus::Retrying
            | InstalmentStatus::Failed
    )
}

/// Where a plan's total is, in cents.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct Balance {
    pub total: i64,
    /// Instalments collected (settled).
    pub collected: i64,
    /// Instalments still to collect, in flight included (planned, notified, collecting,
    /// retrying, failed).
    pub scheduled: i64,
    pub received_outside: i64,
    /// Instalments cancelled: not collected, ever.
    pub cancelled: i64,
}

impl Balance {
    pub fn is_exact(&self) -> bool {
        self.collected + self.scheduled + self.received_outside + self.cancelled == self.total
    }
}

/// The plan's money by where it is. `skipped` instalments hold nothing: their amount moved to
/// later instalments.
pub fn balance(plan: &Plan) -> Balance {
    let mut b = Balance {
        total: plan.total.cents(),
        ..Balance::default()
    };
    for i in &plan.instalments {
        let cents = i.amount.cents();
        match i.status {
            InstalmentStatus::Collected => b.collected += cents,
            InstalmentStatus::Cancelled => b.cancelled += cents,
            InstalmentStatus::Skipped => {}
            _ => b.scheduled += cents,
        }
    }
    b.received_outside = plan.received_outside.iter().map(|p| p.amount.cents()).sum();
    b
}

/// The money left to collect that may still be changed (in-flight collections excluded), in
/// cents.
pub fn remaining_cents(plan: &Plan) -> i64 {
    plan.instalments
        .iter()
        .filter(|i| is_open(i.status))
        .map(|i| i.amount.cents())
        .sum()
}

/// The money invariant: collected + scheduled + received outside + cancelled = total, to the
/// cent.
pub fn check_money(plan: &Plan) -> Result<(), String> {
    let b = balance(plan);
    if b.is_exact() {
        Ok(())
    } else {
        Err(format!(
            "plan {}: collected {} + scheduled {} + received outside {} + cancelled {} != total {} \
             (cents)",
            plan.id, b.collected, b.scheduled, b.received_outside, b.cancelled, b.total
        ))
    }
}

/// Every instalment of `before` that is with the bank or collected is unchanged in `after`.
pub fn check_locked_untouched(before: &Plan, after: &Plan) -> Result<(), String> {
    for locked in before.instalments.iter().filter(|i| is_locked(i.status)) {
        let same = after.instalments.iter().find(|i| i.seq == locked.seq);
        if same != Some(locked) {
            return Err(format!(
                "instalment {} is {:?} and must not change",
                locked.seq, locked.status
            ));
        }
    }
    Ok(())
}

/// The seqs of the instalments whose date, amount or status differ, and of the new ones.
pub fn changed_instalments(before: &Plan, after: &Plan) -> Vec<u32> {
    after
        .instalments
        .iter()
        .filter(|a| before.instalments.iter().find(|b| b.seq == a.seq) != Some(*a))
        .map(|a| a.seq)
        .collect()
}

/// Applies `action` to `plan` as of `ctx`: the changed plan (version, events and the daily
/// job's `next_action_on` are the caller's), or why not.
pub fn apply(plan: &Plan, action: &PlanAction, ctx: &ActionContext) -> Result<Plan, Refusal> {
    if !action.allowed_in().contains(&plan.status) {
        return Err(state_refusal(plan.status, action));
    }
    let mut next = plan.clone();
    // A pause or a skip agreed with a debtor in dunning is a new arrangement: the plan first
    // collects again (its failed and held instalments on or after the earliest legal date,
    // keeping the rhythm), then the pause or the skip applies to that calendar.
    if plan.status == PlanStatus::InDunning
        && matches!(action, PlanAction::Pause { .. } | PlanAction::Skip { .. })
    {
        resume(&mut next, Some(PauseMode::ShiftCalendar), ctx);
    }
    match action {
        PlanAction::Pause { from, until, mode } => pause(&mut next, *from, *until, *mode, ctx)?,
        PlanAction::Resume { mode } => resume(&mut next, *mode, ctx),
        PlanAction::Skip { seq } => skip(&mut next, *seq, ctx)?,
        PlanAction::Reschedule {
            total,
            split,
            frequency,
            start_date,
            rounding,
        } => reschedule(
            &mut next,
            *total,
            *split,
            *frequency,
            *start_date,
            *rounding,
            ctx,
        )?,
        PlanAction::RecordPayment(payment) => record_payment(&mut next, payment, ctx)?,
        PlanAction::Payoff => payoff(&mut next, ctx)?,
        PlanAction::Cancel { reason } => cancel(&mut next, reason),
    }
    complete_if_done(&mut next);

    let money = check_money(&next);
    debug_assert!(money.is_ok(), "{money:?}");
    money.map_err(Refusal::Broken)?;
    let locked = check_locked_untouched(plan, &next);
    debug_assert!(locked.is_ok(), "{locked:?}");
    locked.map_err(Refusal::Broken)?;
    Ok(next)
}

fn state_refusal(status: PlanStatus, action: &PlanAction) -> Refusal {
    let state = status.as_str();
    let detail = match (status, action) {
        (PlanStatus::Completed, _) => format!(
            "The plan is {state}: everything was collected or settled, so it cannot be changed \
             ({}).",
            action.name()
        ),
        (PlanStatus::Cancelled, _) => format!(
            "The plan is {state}: nothing is collected any more, so it cannot be changed ({}).",
            action.name()
        ),
        (PlanStatus::Paused, PlanAction::Pause { .. }) => {
            format!("The plan is {state} already; resume it first to pause it differently.")
        }
        (PlanStatus::Active, PlanAction::Resume { .. }) => {
            format!("The plan is {state}: there is nothing to resume.")
        }
        (PlanStatus::AwaitingSignature, _) => format!(
            "The plan is {state}: until the debtor signs, it can only be cancelled (or a new \
             plan created)."
        ),
        _ => {
            let allowed: Vec<&str> = action.allowed_in().iter().map(|s| s.as_str()).collect();
            format!(
                "The plan is {state}; {} is allowed only for a plan that is {}.",
                action.name(),
                allowed.join(" or ")
            )
        }
    };
    Refusal::State { status, detail }
}

/// The date `periods` periods after `date`, on a TARGET day.
fn shifted(date: NaiveDate, frequency: Frequency, periods: u32) -> NaiveDate {
    roll_forward(unrolled_due_date(date, frequency, periods).unwrap_or(date))
}

/// The plan's rhythm: step `k` is its `start_date` plus `k` periods, rolled to a TARGET day
/// (as a new plan lays out its dates), so a moved instalment keeps the day of the month the
/// debtor agreed to instead of drifting with each holiday it was rolled over.
fn rhythm_date(plan: &Plan, step: u32) -> NaiveDate {
    shifted(plan.start_date, plan.frequency, step)
}

/// The step of the rhythm `date` is on, if it is on one.
fn rhythm_step(plan: &Plan, date: NaiveDate) -> Option<u32> {
    (0..=1200)
        .map(|k| (k, rhythm_date(plan, k)))
        .take_while(|(_, d)| *d <= date)
        .find(|(_, d)| *d == date)
        .map(|(k, _)| k)
}

/// The first step of the rhythm on or after `date`.
fn rhythm_step_from(plan: &Plan, date: NaiveDate) -> u32 {
    (0..=1200)
        .find(|k| rhythm_date(plan, *k) >= date)
        .unwrap_or(1200)
}

/// `due` moved by `periods` periods: along the rhythm when it is on it, else from itself.
fn moved(plan: &Plan, due: NaiveDate, periods: u32) -> NaiveDate {
    match rhythm_step(plan, due) {
        Some(step) => rhythm_date(plan, step + periods),
        None => shifted(due, plan.frequency, periods),
    }
}

/// The fewest whole periods that bring `date` on or after `target`.
fn periods_until(plan: &Plan, date: NaiveDate, target: NaiveDate) -> u32 {
    (0..=1200)
        .find(|k| moved(plan, date, *k) >= target)
        .unwrap_or(0)
}

/// The last date the plan collects on (skipped and cancelled instalments apart).
fn last_date(plan: &Plan) -> Option<NaiveDate> {
    plan.instalments
        .iter()
        .filter(|i| {
            !matches!(
                i.status,
                InstalmentStatus::Skipped | InstalmentStatus::Cancelled
            )
        })
        .map(|i| i.due_date)
        .max()
}

fn next_seq(plan: &Plan) -> u32 {
    plan.instalments.iter().map(|i| i.seq).max().unwrap_or(0) + 1
}

/// A changed instalment waits for a new pre-notification.
fn renotify(instalment: &mut Instalment) {
    instalment.status = InstalmentStatus::Planned;
    instalment.notified_on = None;
}

fn push_instalment(plan: &mut Plan, due_date: NaiveDate, cents: i64) {
    let seq = next_seq(plan);
    let amount = Amount::from_cents(cents).expect("only positive amounts are moved");
    plan.instalments.push(Instalment {
        seq,
        due_date,
        amount,
        kind: InstalmentKind::Regular,
        status: InstalmentStatus::Planned,
        notified_on: None,
        attempts: 0,
    });
}

/// Appends `amounts` on the plan's rhythm after its last date, one period apart, none before
/// `floor`.
fn append_at_end(plan: &mut Plan, amounts: &[i64], floor: NaiveDate) {
    let after = last_date(plan).map_or(floor, |last| last.succ_opt().unwrap_or(last));
    let first = rhythm_step_from(plan, after.max(floor));
    for (k, cents) in amounts.iter().enumerate() {
        let due = rhythm_date(plan, first + k as u32);
        push_instalment(plan, due, *cents);
    }
}

/// Marks open instalments skipped (their money moves elsewhere) and answers their amounts.
fn skip_all(plan: &mut Plan, which: impl Fn(&Instalment) -> bool) -> Vec<i64> {
    let mut amounts = Vec::new();
    for i in plan.instalments.iter_mut() {
        if is_open(i.status) && which(i) {
            i.status = InstalmentStatus::Skipped;
            amounts.push(i.amount.cents());
        }
    }
    amounts
}

/// Moves every open instalment that `which` picks by `periods` periods, never before `floor`.
fn shift_open(
    plan: &mut Plan,
    periods: u32,
    floor: NaiveDate,
    which: impl Fn(&Instalment) -> bool,
) {
    let dates: Vec<NaiveDate> = plan
        .instalments
        .iter()
        .map(|i| moved(plan, i.due_date, periods).max(roll_forward(floor)))
        .collect();
    for (i, due) in plan.instalments.iter_mut().zip(dates) {
        if is_open(i.status)
            && which(i)
            && (due != i.due_date || i.status == InstalmentStatus::Failed)
        {
            i.due_date = due;
            renotify(i);
        }
    }
}

fn pause(
    plan: &mut Plan,
    from: NaiveDate,
    until: Option<NaiveDate>,
    mode: PauseMode,
    ctx: &ActionContext,
) -> Result<(), Refusal> {
    let mut errors = Vec::new();
    if from < ctx.today {
        errors.push(FieldError::new(
            "from",
            format!("must be today ({}) or later", ctx.today),
        ));
    }
    if let Some(until) = until {
        let latest = from
            .checked_add_months(chrono::Months::new(MAX_PAUSE_MONTHS))
            .unwrap_or(from);
        if until <= from {
            errors.push(FieldError::new(
                "until",
                format!("must be after `from` ({from})"),
            ));
        } else if until > latest {
            errors.push(FieldError::new(
                "until",
                format!(
                    "must be at most {MAX_PAUSE_MONTHS} months after `from`, so on or before \
                     {latest}"
                ),
            ));
        }
    }
    if !errors.is_empty() {
        return Err(Refusal::Fields(errors));
    }
    plan.pause = Some(Pause { from, until, mode });
    let Some(until) = until else {
        // Open-ended: the daily job holds the instalments from `from` on until a resume.
        plan.status = PlanStatus::Paused;
        return Ok(());
    };
    let inside = |i: &Instalment| i.due_date >= from && i.due_date < until;
    let floor = until.max(ctx.earliest_due_date);
    match mode {
        PauseMode::ShiftCalendar => {
            let first = plan
                .instalments
                .iter()
                .filter(|i| is_open(i.status) && inside(i))
                .map(|i| i.due_date)
                .min();
            if let Some(first) = first {
                let k = periods_until(plan, first, until);
                shift_open(plan, k, ctx.earliest_due_date, |i| i.due_date >= from);
            }
        }
        PauseMode::AppendAtEnd => {
            let moved = skip_all(plan, inside);
            append_at_end(plan, &moved, floor);
        }
    }
    Ok(())
}

fn resume(plan: &mut Plan, mode: Option<PauseMode>, ctx: &ActionContext) {
    let mode = mode
        .or(plan.pause.map(|p| p.mode))
        .unwrap_or(PauseMode::ShiftCalendar);
    // Held: from the pause's start when paused; everything still open when in dunning.
    let held_from = match (plan.status, plan.pause) {
        (PlanStatus::Paused, Some(pause)) => pause.from,
        _ => NaiveDate::MIN,
    };
    let held = |i: &Instalment| i.due_date >= held_from;
    match mode {
        PauseMode::ShiftCalendar => {
            let first = plan
                .instalments
                .iter()
                .filter(|i| is_open(i.status) && held(i))
                .map(|i| i.due_date)
                .min();
            if let Some(first) = first {
                let k = periods_until(plan, first, ctx.earliest_due_date);
                shift_open(plan, k, ctx.earliest_due_date, held);
            }
        }
        PauseMode::AppendAtEnd => {
            let earliest = ctx.earliest_due_date;
            let moved = skip_all(plan, |i| held(i) && i.due_date < earliest);
            append_at_end(plan, &moved, earliest);
            shift_open(plan, 0, earliest, held);
        }
    }
    if let Some(pause) = plan.pause.as_mut()
        && pause.until.is_none()
    {
        pause.until = Some(ctx.today);
    }
    reactivate(plan);
}

/// Back to collecting: out of a pause or out of dunning.
fn reactivate(plan: &mut Plan) {
    plan.status = PlanStatus::Active;
    plan.dunning_since = None;
    plan.status_reason = None;
}

fn skip(plan: &mut Plan, seq: u32, ctx: &ActionContext) -> Result<(), Refusal> {
    let Some(instalment) = plan.instalments.iter().find(|i| i.seq == seq) else {
        return Err(Refusal::NoInstalment(seq));
    };
    if !is_open(instalment.status) {
        let why = if is_locked(instalment.status) {
            "its collection is with the bank (batched or submitted) or done"
        } else {
            "it no longer holds money to collect"
        };
        return Err(Refusal::Instalment(format!(
            "Instalment {seq} is {} and cannot be skipped: {why}.",
            status_name(instalment.status)
        )));
    }
    let moved = skip_all(plan, |i| i.seq == seq);
    append_at_end(plan, &moved, ctx.earliest_due_date);
    Ok(())
}

fn reschedule(
    plan: &mut Plan,
    total: Option<Amount>,
    split: Split,
    frequency: Frequency,
    start_date: NaiveDate,
    rounding: Rounding,
    ctx: &ActionContext,
) -> Result<(), Refusal> {
    let remaining = remaining_cents(plan);
    let Ok(remaining_amount) = Amount::from_cents(remaining) else {
        return Err(Refusal::Instalment(
            "Nothing is left to reschedule: every instalment is collected or with the bank."
                .to_owned(),
        ));
    };
    if let Some(total) = total
        && total != remaining_amount
    {
        return Err(field(
            "total",
            format!(
                "must equal the remaining balance {remaining_amount} (what is neither collected \
                 nor with the bank), or be left out"
            ),
        ));
    }
    if let Split::InstalmentAmount(amount) = split
        && amount > remaining_amount
    {
        return Err(field(
            "instalment_amount",
            format!("must not be more than the remaining balance {remaining_amount}"),
        ));
    }
    let terms = ScheduleTerms {
        total: remaining_amount,
        split,
        frequency,
        start_date,
        down_payment: None,
        rounding,
    };
    let laid_out =
        schedule::build_schedule(&terms, ctx.earliest_due_date).map_err(Refusal::Fields)?;
    skip_all(plan, |_| true);
    for instalment in laid_out {
        push_instalment(plan, instalment.due_date, instalment.amount.cents());
    }
    plan.frequency = frequency;
    plan.rounding = rounding;
    plan.start_date = start_date;
    plan.pause = None;
    reactivate(plan);
    Ok(())
}

fn record_payment(
    plan: &mut Plan,
    payment: &OutsidePayment,
    ctx: &ActionContext,
) -> Result<(), Refusal> {
    let remaining = remaining_cents(plan);
    let mut errors = Vec::new();
    if payment.received_on > ctx.today {
        errors.push(FieldError::new(
            "received_on",
            format!("must be today ({}) or earlier", ctx.today),
        ));
    }
    if payment.amount.cents() > remaining {
        let limit = Amount::from_cents(remaining).map_or("0.00".to_owned(), |a| a.to_string());
        errors.push(FieldError::new(
            "amount",
            format!(
                "must be at most the remaining balance {limit} (what is neither collected nor \
                 with the bank)"
            ),
        ));
    }
    if !errors.is_empty() {
        return Err(Refusal::Fields(errors));
    }
    plan.received_outside.push(payment.clone());

    let mut open: Vec<usize> = (0..plan.instalments.len())
        .filter(|&k| is_open(plan.instalments[k].status))
        .collect();
    open.sort_by_key(|&k| (plan.instalments[k].due_date, plan.instalments[k].seq));
    match payment.effect {
        PaymentEffect::ShortenPlan => {
            let mut left = payment.amount.cents();
            for &k in open.iter().rev() {
                if left == 0 {
                    break;
                }
                let instalment = &mut plan.instalments[k];
                let cents = instalment.amount.cents();
                if cents <= left {
                    instalment.status = InstalmentStatus::Skipped;
                    left -= cents;
                } else {
                    instalment.amount = Amount::from_cents(cents - left).expect("positive");
                    renotify(instalment);
                    left = 0;
                }
            }
        }
        PaymentEffect::LowerInstalments => {
            let rest = remaining - payment.amount.cents();
            let n = open.len() as i64;
            let base = rest / n;
            let odd = rest % n;
            for (position, &k) in open.iter().enumerate() {
                let takes_odd = match plan.rounding {
                    Rounding::First => position == 0,
                    Rounding::Last => position + 1 == open.len(),
                };
                let cents = base + if takes_odd { odd } else { 0 };
                let instalment = &mut plan.instalments[k];
                if cents == 0 {
                    instalment.status = InstalmentStatus::Skipped;
                } else if cents != instalment.amount.cents() {
                    instalment.amount = Amount::from_cents(cents).expect("positive");
                    renotify(instalment);
                }
            }
        }
    }
    Ok(())
}

fn payoff(plan: &mut Plan, ctx: &ActionContext) -> Result<(), Refusal> {
    let remaining = remaining_cents(plan);
    if remaining == 0 {
        return Err(Refusal::Instalment(
            "Nothing is left to pay off: every instalment is collected or with the bank."
                .to_owned(),
        ));
    }
    skip_all(plan, |_| true);
    push_instalment(plan, roll_forward(ctx.earliest_due_date), remaining);
    plan.pause = None;
    reactivate(plan);
    Ok(())
}

fn cancel(plan: &mut Plan, reason: &str) {
    for i in plan.instalments.iter_mut() {
        if is_open(i.status) {
            i.status = InstalmentStatus::Cancelled;
        }
    }
    plan.status = PlanStatus::Cancelled;
    plan.status_reason = Some(reason.to_owned());
    plan.pause = None;
}

/// A plan with nothing left to collect or in flight is completed (a payment outside that
/// covered the rest).
fn complete_if_done(plan: &mut Plan) {
    let done = plan.instalments.iter().all(|i| {
        matches!(
            i.status,
            InstalmentStatus::Collected | InstalmentStatus::Skipped | InstalmentStatus::Cancelled
        )
    });
    if done
        && matches!(
            plan.status,
            PlanStatus::Active | PlanStatus::Paused | PlanStatus::InDunning | PlanStatus::Defaulted
        )
    {
        plan.status = PlanStatus::Completed;
        plan.dunning_since = None;
    }
}

fn status_name(status: InstalmentStatus) -> &'static str {
    match status {
        InstalmentStatus::Planned => "planned",
        InstalmentStatus::Notified => "notified",
        InstalmentStatus::Collecting => "collecting",
        InstalmentStatus::Collected => "collected",
        InstalmentStatus::Failed => "failed",
        InstalmentStatus::Retrying => "retrying",
        InstalmentStatus::Skipped => "skipped",
        InstalmentStatus::Cancelled => "cancelled",
    }
}

/// Reads the JSON body of an action (`kind` is the URL's action name; `seq` is the skip's
/// instalment from the URL). Every wrong field is named with its limit.
pub fn parse_action(
    kind: &str,
    body: &Value,
    seq: Option<u32>,
    plan: &Plan,
) -> Result<(PlanAction, Option<String>), Vec<FieldError>> {
    let empty = Value::Object(Map::new());
    let body = if body.is_null() { &empty } else { body };
    let mut r = Reader::default();
    let modes = [
        ("shift_calendar", PauseMode::ShiftCalendar),
        ("append_at_end", PauseMode::AppendAtEnd),
    ];
    let known: &[&str] = match kind {
        "pause" => &["from", "until", "mode", "reason"],
        "resume" => &["mode", "reason"],
        "skip" | "payoff" => &["reason"],
        "reschedule" => &[
            "total",
            "count",
            "instalment_amount",
            "frequency",
            "start_date",
            "rounding",
            "reason",
        ],
        "payments" => &["amount", "received_on", "effect", "reference", "reason"],
        _ => &["reason"],
    };
    let Some(map) = r.object(body, "", known) else {
        return r.finish(None);
    };
    let reason = r.text(map, "", "reason", kind == "cancel", MAX_REASON_CHARS);
    let action = match kind {
        "pause" => {
            let from = r.date(map, "", "from", true);
            let until = r.date(map, "", "until", false);
            let mode = r.choice(map, "", "mode", false, &modes).unwrap_or_default();
            from.map(|from| PlanAction::Pause { from, until, mode })
        }
        "resume" => Some(PlanAction::Resume {
            mode: r.choice(map, "", "mode", false, &modes),
        }),
        "skip" => seq.map(|seq| PlanAction::Skip { seq }),
        "payoff" => Some(PlanAction::Payoff),
        "cancel" => reason.clone().map(|reason| PlanAction::Cancel { reason }),
        "reschedule" => {
            let total = r.amount(map, "", "total", false);
            let count = r.whole_number(map, "", "count", false, 1..=schedule::MAX_INSTALMENTS);
            let instalment_amount = r.amount(map, "", "instalment_amount", false);
            let has = |key: &str| map.get(key).is_some_and(|v| !v.is_null());
            let split = match (has("count"), has("instalment_amount")) {
                (true, true) => {
                    r.error("count", "give either count or instalment_amount, not both");
                    None
                }
                (false, false) => {
                    r.error("count", "is required unless instalment_amount is given");
                    None
                }
                (true, false) => count.map(Split::Count),
                (false, true) => instalment_amount.map(Split::InstalmentAmount),
            };
            let frequencies: Vec<(&str, Frequency)> =
                Frequency::ALL.iter().map(|f| (f.as_str(), *f)).collect();
            let frequency = if has("frequency") {
                r.choice(map, "", "frequency", false, &frequencies)
            } else {
                Some(plan.frequency)
            };
            let start_date = r.date(map, "", "start_date", true);
            let rounding = if has("rounding") {
                r.choice(
                    map,
                    "",
                    "rounding",
                    false,
                    &[("first", Rounding::First), ("last", Rounding::Last)],
                )
            } else {
                Some(plan.rounding)
            };
            match (split, frequency, start_date, rounding) {
                (Some(split), Some(frequency), Some(start_date), Some(rounding)) => {
                    Some(PlanAction::Reschedule {
                        total,
                        split,
                        frequency,
                        start_date,
                        rounding,
                    })
                }
                _ => None,
            }
        }
        "payments" => {
            let amount = r.amount(map, "", "amount", true);
            let received_on = r.date(map, "", "received_on", true);
            let effect = r
                .choice(
                    map,
                    "",
                    "effect",
                    false,
                    &[
                        ("shorten_plan", PaymentEffect::ShortenPlan),
                        ("lower_instalments", PaymentEffect::LowerInstalments),
                    ],
                )
                .unwrap_or_default();
            let reference = r.text(map, "", "reference", false, 140);
            match (amount, received_on) {
                (Some(amount), Some(received_on)) => {
                    Some(PlanAction::RecordPayment(OutsidePayment {
                        amount,
                        received_on,
                        reference,
                        effect,
                    }))
                }
                _ => None,
            }
        }
        other => {
            r.error(
                "action",
                format!(
                    "\"{other}\" is not a plan action; use pause, resume, reschedule, payments, \
                     payoff, cancel or instalments/{{seq}}/skip"
                ),
            );
            None
        }
    };
    r.finish(action).map(|action| (action, reason))
}

#[cfg(test)]
pub(crate) mod tests {
    use chrono::{Days, TimeZone, Utc};
    use proptest::prelude::*;

    use super::*;
    use crate::compliance::{ComplianceAssessment, ComplianceStatus};
    use crate::creditor::{CreditorId, Language};
    use crate::money::Currency;
    use crate::plan::{Debtor, DebtorType, PlanId, PlanKind, Scheme};

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    fn euros(text: &str) -> Amount {
        Amount::parse(text).unwrap()
    }

    /// A monthly active plan of `total` in `count` instalments from `start`.
    pub(crate) fn plan(total: &str, count: u32, start: NaiveDate) -> Plan {
        plan_every(total, count, start, Frequency::Monthly)
    }

    /// An active plan of `total` in `count` instalments from `start`, every `frequency`.
    fn plan_every(total: &str, count: u32, start: NaiveDate, frequency: Frequency) -> Plan {
        let terms = ScheduleTerms {
            total: euros(total),
            split: Split::Count(count),
            frequency,
            start_date: start,
            down_payment: None,
            rounding: Rounding::Last,
        };
        let laid_out = schedule::build_schedule(&terms, start).unwrap();
        let now = Utc.with_ymd_and_hms(2027, 1, 1, 9, 0, 0).unwrap();
        Plan {
            id: PlanId("pln_test".into()),
            creditor_id: CreditorId::parse("acme").unwrap(),
            kind: PlanKind::Repayment,
            debtor: Debtor {
                name: "Jo".into(),
                email: "jo@example.com".into(),
                language: Language::En,
                debtor_type: DebtorType::Consumer,
                address: None,
            },
            currency: Currency::Eur,
            total: terms.total,
            invoices: Vec::new(),
            frequency,
            start_date: start,
            rounding: Rounding::Last,
            scheme: Scheme::Core,
            mandate_id: None,
            status: PlanStatus::Active,
            status_reason: None,
            next_action_on: None,
            dunning_since: None,
            instalments: laid_out
                .into_iter()
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
            compliance: ComplianceAssessment {
                status: ComplianceStatus::OutsideConsumerCredit,
                summary: String::new(),
                findings: Vec::new(),
            },
            signing_expires_at: now,
            created_at: now,
            updated_at: now,
            event_head: None,
            version: 1,
            received_outside: Vec::new(),
            pause: None,
            self_service_changes: 0,
            pending_request: None,
        }
    }

    pub(crate) fn ctx(today: NaiveDate) -> ActionContext {
        ActionContext {
            today,
            earliest_due_date: schedule::earliest_due_date(today, 14, 1),
        }
    }

    fn open_dates(plan: &Plan) -> Vec<NaiveDate> {
        let mut dates: Vec<NaiveDate> = plan
            .instalments
            .iter()
            .filter(|i| is_open(i.status))
            .map(|i| i.due_date)
            .collect();
        dates.sort();
        dates
    }

    #[test]
    fn a_pause_with_an_end_shifts_the_calendar_past_it() {
        let before = plan("600.00", 6, date(2027, 3, 1));
        let after = apply(
            &before,
            &PlanAction::Pause {
                from: date(2027, 4, 1),
                until: date(2027, 6, 1).into(),
                mode: PauseMode::ShiftCalendar,
            },
            &ctx(date(2027, 2, 1)),
        )
        .unwrap();
        let dates = open_dates(&after);
        assert_eq!(dates[0], date(2027, 3, 1));
        assert!(
            dates[1..].iter().all(|d| *d >= date(2027, 6, 1)),
            "{dates:?}"
        );
        assert_eq!(dates.len(), 6);
        assert_eq!(after.status, PlanStatus::Active);
        check_money(&after).unwrap();
    }

    #[test]
    fn a_pause_appending_at_the_end_moves_only_the_instalments_inside_it() {
        let before = plan("600.00", 6, date(2027, 3, 1));
        let after = apply(
            &before,
            &PlanAction::Pause {
                from: date(2027, 4, 1),
                until: date(2027, 6, 1).into(),
                mode: PauseMode::AppendAtEnd,
            },
            &ctx(date(2027, 2, 1)),
        )
        .unwrap();
        let skipped: Vec<u32> = after
            .instalments
            .iter()
            .filter(|i| i.status == InstalmentStatus::Skipped)
            .map(|i| i.seq)
            .collect();
        assert_eq!(skipped, vec![2, 3]);
        assert_eq!(after.instalments.len(), 8);
        assert!(after.instalments[6].due_date > before.instalments[5].due_date);
        assert!(
            open_dates(&after)
                .iter()
                .all(|d| *d < date(2027, 4, 1) || *d >= date(2027, 6, 1))
        );
    }

    #[test]
    fn a_skipped_instalment_is_collected_after_the_last_one() {
        let before = plan("300.00", 3, date(2027, 3, 1));
        let after = apply(
            &before,
            &PlanAction::Skip { seq: 2 },
            &ctx(date(2027, 2, 1)),
        )
        .unwrap();
        assert_eq!(after.instalments[1].status, InstalmentStatus::Skipped);
        let new = after.instalments.last().unwrap();
        assert_eq!((new.seq, new.amount), (4, euros("100.00")));
        assert!(new.due_date > before.instalments[2].due_date);
    }

    #[test]
    fn an_instalment_with_the_bank_cannot_be_skipped_and_an_unknown_one_is_not_found() {
        let mut before = plan("300.00", 3, date(2027, 3, 1));
        before.instalments[0].status = InstalmentStatus::Collecting;
        let refusal = apply(
            &before,
            &PlanAction::Skip { seq: 1 },
            &ctx(date(2027, 2, 1)),
        );
        assert!(
            matches!(refusal, Err(Refusal::Instalment(_))),
            "{refusal:?}"
        );
        let refusal = apply(
            &before,
            &PlanAction::Skip { seq: 9 },
            &ctx(date(2027, 2, 1)),
        );
        assert_eq!(refusal, Err(Refusal::NoInstalment(9)));
    }

    #[test]
    fn a_payment_outside_shortens_the_plan_from_the_end() {
        let before = plan("300.00", 3, date(2027, 3, 1));
        let payment = OutsidePayment {
            amount: euros("150.00"),
            received_on: date(2027, 2, 1),
            reference: None,
            effect: PaymentEffect::ShortenPlan,
        };
        let after = apply(
            &before,
            &PlanAction::RecordPayment(payment),
            &ctx(date(2027, 2, 1)),
        )
        .unwrap();
        let statuses: Vec<(InstalmentStatus, String)> = after
            .instalments
            .iter()
            .map(|i| (i.status, i.amount.to_string()))
            .collect();
        assert_eq!(statuses[2].0, InstalmentStatus::Skipped);
        assert_eq!(statuses[1].1, "50.00");
        assert_eq!(statuses[0].1, "100.00");
        assert_eq!(balance(&after).received_outside, 15000);
    }

    #[test]
    fn a_payment_outside_can_lower_every_remaining_instalment() {
        let before = plan("300.00", 3, date(2027, 3, 1));
        let payment = OutsidePayment {
            amount: euros("100.00"),
            received_on: date(2027, 2, 1),
            reference: None,
            effect: PaymentEffect::LowerInstalments,
        };
        let after = apply(
            &before,
            &PlanAction::RecordPayment(payment),
            &ctx(date(2027, 2, 1)),
        )
        .unwrap();
        let amounts: Vec<String> = after
            .instalments
            .iter()
            .map(|i| i.amount.to_string())
            .collect();
        assert_eq!(amounts, vec!["66.66", "66.66", "66.68"]);
    }

    #[test]
    fn a_payment_above_the_remaining_balance_names_the_limit() {
        let mut before = plan("300.00", 3, date(2027, 3, 1));
        before.instalments[0].status = InstalmentStatus::Collected;
        let payment = OutsidePayment {
            amount: euros("250.00"),
            received_on: date(2027, 2, 1),
            reference: None,
            effect: PaymentEffect::ShortenPlan,
        };
        let Err(Refusal::Fields(errors)) = apply(
            &before,
            &PlanAction::RecordPayment(payment),
            &ctx(date(2027, 2, 1)),
        ) else {
            panic!("refused")
        };
        assert_eq!(errors[0].field, "amount");
        assert!(
            errors[0].message.contains("200.00"),
            "{}",
            errors[0].message
        );
    }

    #[test]
    fn a_payment_covering_the_rest_completes_the_plan() {
        let before = plan("300.00", 3, date(2027, 3, 1));
        let payment = OutsidePayment {
            amount: euros("300.00"),
            received_on: date(2027, 2, 1),
            reference: None,
            effect: PaymentEffect::LowerInstalments,
        };
        let after = apply(
            &before,
            &PlanAction::RecordPayment(payment),
            &ctx(date(2027, 2, 1)),
        )
        .unwrap();
        assert_eq!(after.status, PlanStatus::Completed);
    }

    #[test]
    fn a_payoff_is_one_instalment_on_the_earliest_legal_date() {
        let mut before = plan("300.00", 3, date(2027, 3, 1));
        before.instalments[0].status = InstalmentStatus::Collecting;
        let c = ctx(date(2027, 3, 5));
        let after = apply(&before, &PlanAction::Payoff, &c).unwrap();
        let open: Vec<&Instalment> = after
            .instalments
            .iter()
            .filter(|i| is_open(i.status))
            .collect();
        assert_eq!(open.len(), 1);
        assert_eq!(open[0].amount, euros("200.00"));
        assert_eq!(open[0].due_date, c.earliest_due_date);
        assert_eq!(after.instalments[0], before.instalments[0]);
    }

    #[test]
    fn a_reschedule_lays_out_the_remaining_balance_like_a_new_plan() {
        let mut before = plan("300.00", 3, date(2027, 3, 1));
        before.instalments[0].status = InstalmentStatus::Collected;
        before.status = PlanStatus::InDunning;
        before.instalments[1].status = InstalmentStatus::Failed;
        let after = apply(
            &before,
            &PlanAction::Reschedule {
                total: None,
                split: Split::Count(4),
                frequency: Frequency::Monthly,
                start_date: date(2027, 5, 3),
                rounding: Rounding::Last,
            },
            &ctx(date(2027, 4, 1)),
        )
        .unwrap();
        let open: Vec<String> = after
            .instalments
            .iter()
            .filter(|i| is_open(i.status))
            .map(|i| i.amount.to_string())
            .collect();
        assert_eq!(open, vec!["50.00", "50.00", "50.00", "50.00"]);
        assert_eq!(after.status, PlanStatus::Active);
    }

    #[test]
    fn a_reschedule_that_does_not_cover_the_remaining_balance_is_refused() {
        let before = plan("300.00", 3, date(2027, 3, 1));
        let Err(Refusal::Fields(errors)) = apply(
            &before,
            &PlanAction::Reschedule {
                total: Some(euros("250.00")),
                split: Split::Count(2),
                frequency: Frequency::Monthly,
                start_date: date(2027, 5, 3),
                rounding: Rounding::Last,
            },
            &ctx(date(2027, 2, 1)),
        ) else {
            panic!("refused")
        };
        assert_eq!(errors[0].field, "total");
        assert!(errors[0].message.contains("300.00"));
    }

    #[test]
    fn a_completed_or_cancelled_plan_refuses_every_action_naming_its_state() {
        for status in [PlanStatus::Completed, PlanStatus::Cancelled] {
            let mut before = plan("300.00", 3, date(2027, 3, 1));
            before.status = status;
            let refusal = apply(&before, &PlanAction::Payoff, &ctx(date(2027, 2, 1)));
            let Err(Refusal::State { detail, .. }) = refusal else {
                panic!("{refusal:?}")
            };
            assert!(detail.contains(status.as_str()), "{detail}");
        }
    }

    #[test]
    fn an_open_pause_holds_the_plan_and_a_resume_moves_the_held_instalments_past_today() {
        let before = plan("300.00", 3, date(2027, 3, 1));
        let paused = apply(
            &before,
            &PlanAction::Pause {
                from: date(2027, 2, 20),
                until: None,
                mode: PauseMode::ShiftCalendar,
            },
            &ctx(date(2027, 2, 1)),
        )
        .unwrap();
        assert_eq!(paused.status, PlanStatus::Paused);
        let c = ctx(date(2027, 4, 15));
        let resumed = apply(&paused, &PlanAction::Resume { mode: None }, &c).unwrap();
        assert_eq!(resumed.status, PlanStatus::Active);
        assert!(
            open_dates(&resumed)
                .iter()
                .all(|d| *d >= c.earliest_due_date)
        );
        assert_eq!(open_dates(&resumed).len(), 3);
    }

    #[test]
    fn a_cancel_moves_the_rest_to_cancelled_and_keeps_the_money_exact() {
        let mut before = plan("300.00", 3, date(2027, 3, 1));
        before.instalments[0].status = InstalmentStatus::Collected;
        let after = apply(
            &before,
            &PlanAction::Cancel {
                reason: "debtor insolvent".into(),
            },
            &ctx(date(2027, 3, 10)),
        )
        .unwrap();
        let b = balance(&after);
        assert_eq!((b.collected, b.cancelled, b.scheduled), (10000, 20000, 0));
        assert_eq!(after.status_reason.as_deref(), Some("debtor insolvent"));
    }

    #[test]
    fn moved_instalments_keep_the_agreed_day_of_the_month_across_rolled_dates() {
        // Monthly on the 25th: 25 April 2027 is a Sunday, so instalment 4 is on the 26th.
        let before = plan("500.00", 5, date(2027, 1, 25));
        assert_eq!(before.instalments[3].due_date, date(2027, 4, 26));
        let c = ctx(date(2027, 1, 4));

        let skipped = apply(&before, &PlanAction::Skip { seq: 4 }, &c).unwrap();
        let paused = apply(
            &before,
            &PlanAction::Pause {
                from: date(2027, 3, 1),
                until: Some(date(2027, 5, 1)),
                mode: PauseMode::ShiftCalendar,
            },
            &c,
        )
        .unwrap();

        assert_eq!(skipped.instalments[5].due_date, date(2027, 6, 25));
        assert_eq!(
            open_dates(&paused),
            vec![
                date(2027, 1, 25),
                date(2027, 2, 25),
                date(2027, 5, 25),
                date(2027, 6, 25),
                date(2027, 7, 26)
            ]
        );
    }

    #[test]
    fn skipping_the_failed_instalment_of_a_plan_in_dunning_moves_it_to_the_end_and_resumes() {
        let mut before = plan("300.00", 3, date(2027, 3, 1));
        before.instalments[0].status = InstalmentStatus::Failed;
        before.instalments[0].attempts = 1;
        before.status = PlanStatus::InDunning;
        before.dunning_since = Some(date(2027, 3, 5));
        let c = ctx(date(2027, 3, 10));

        let after = apply(&before, &PlanAction::Skip { seq: 1 }, &c).unwrap();

        assert_eq!(after.status, PlanStatus::Active);
        assert_eq!(after.dunning_since, None);
        assert_eq!(after.instalments[0].status, InstalmentStatus::Skipped);
        assert!(open_dates(&after).iter().all(|d| *d >= c.earliest_due_date));
        assert_eq!(open_dates(&after).len(), 3);
        assert_eq!(balance(&after).scheduled, 30000);
    }

    #[test]
    fn a_broken_balance_is_detected() {
        let mut broken = plan("300.00", 3, date(2027, 3, 1));
        broken.instalments[0].amount = euros("99.99");
        assert!(check_money(&broken).is_err());
    }

    /// A random action, with parameters around the plan's dates.
    fn action(start: NaiveDate) -> impl Strategy<Value = PlanAction> {
        let day = move |offset: u64| start + Days::new(offset);
        // Cancel ends a sequence, so it is drawn less often than the actions that go on.
        prop_oneof![
            3 => (0u64..200, prop::option::of(1u64..200), any::<bool>()).prop_map(
                move |(from, len, append)| PlanAction::Pause {
                    from: day(from),
                    until: len.map(|l| day(from + l)),
                    mode: if append {
                        PauseMode::AppendAtEnd
                    } else {
                        PauseMode::ShiftCalendar
                    },
                }
            ),
            3 => prop::option::of(any::<bool>()).prop_map(|m| PlanAction::Resume {
                mode: m.map(|a| if a {
                    PauseMode::AppendAtEnd
                } else {
                    PauseMode::ShiftCalendar
                })
            }),
            3 => (1u32..30).prop_map(|seq| PlanAction::Skip { seq }),
            3 => (1u32..24, 0u64..120, any::<bool>()).prop_map(move |(count, offset, first)| {
                PlanAction::Reschedule {
                    total: None,
                    split: Split::Count(count),
                    frequency: Frequency::Monthly,
                    start_date: day(offset),
                    rounding: if first {
                        Rounding::First
                    } else {
                        Rounding::Last
                    },
                }
            }),
            3 => (1i64..200_000, any::<bool>()).prop_map(move |(cents, lower)| {
                PlanAction::RecordPayment(OutsidePayment {
                    amount: Amount::from_cents(cents).unwrap(),
                    received_on: start,
                    reference: None,
                    effect: if lower {
                        PaymentEffect::LowerInstalments
                    } else {
                        PaymentEffect::ShortenPlan
                    },
                })
            }),
            1 => Just(PlanAction::Payoff),
            1 => Just(PlanAction::Cancel {
                reason: "test".into()
            }),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(1000))]

        /// Random sequences of actions on random plans, with the bank taking instalments in
        /// between: the money stays exact and what the bank has never changes.
        #[test]
        fn random_actions_keep_the_money_exact_and_never_touch_the_bank(
            total in 100i64..1_000_000,
            count in 1u32..24,
            frequency in prop::sample::select(Frequency::ALL.to_vec()),
            locked in 0usize..6,
            failed in any::<bool>(),
            steps in prop::collection::vec((action(date(2027, 3, 1)), 0usize..3), 1..10),
        ) {
            let total = Amount::from_cents(total.max(i64::from(count))).unwrap();
            let mut current = plan_every(&total.to_string(), count, date(2027, 3, 1), frequency);
            for i in current.instalments.iter_mut().take(locked) {
                i.status = InstalmentStatus::Collected;
            }
            if failed && let Some(i) = current.instalments.iter_mut().find(|i| i.status == InstalmentStatus::Planned) {
                i.status = InstalmentStatus::Failed;
                current.status = PlanStatus::InDunning;
            }
            if current.instalments.iter().all(|i| i.status == InstalmentStatus::Collected) {
                current.status = PlanStatus::Completed;
            }
            let mut today = date(2027, 2, 1);
            for (action, bank_takes) in steps {
                // The bank takes the next open instalments (the daily job's collections).
                let mut open: Vec<usize> = (0..current.instalments.len())
                    .filter(|&k| is_open(current.instalments[k].status))
                    .collect();
                open.sort_by_key(|&k| current.instalments[k].due_date);
                for &k in open.iter().take(bank_takes) {
                    current.instalments[k].status = InstalmentStatus::Collecting;
                }
                today = today + Days::new(10);
                match apply(&current, &action, &ctx(today)) {
                    Ok(next) => {
                        prop_assert!(check_money(&next).is_ok(), "{:?}", check_money(&next));
                        prop_assert!(check_locked_untouched(&current, &next).is_ok());
                        let changed = changed_instalments(&current, &next);
                        for seq in changed {
                            let i = next.instalments.iter().find(|i| i.seq == seq).unwrap();
                            if is_open(i.status) {
                                prop_assert_eq!(i.notified_on, None);
                                prop_assert!(i.due_date >= ctx(today).earliest_due_date
                                    || current.instalments.iter().any(|b| b.seq == seq && b.due_date == i.due_date));
                            }
                        }
                        current = next;
                    }
                    Err(Refusal::Broken(why)) => prop_assert!(false, "{}", why),
                    Err(_) => {}
                }
                prop_assert!(check_money(&current).is_ok());
            }
        }
    }
}
