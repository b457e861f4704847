//! The daily job: what happens every morning without anyone thinking about it.
//!
//! As of day D (the injected clock's today), in this order:
//! 1. collections that no report contradicted within the creditor's settlement window become
//!    `settled`, their instalments `collected`, a first collection moves its mandate to `RCUR`,
//!    and a plan whose every instalment is done becomes `completed`;
//! 2. for every plan with something due ([`next_action_on`] on or before D, an index query):
//!    pre-notifications go out (unless the signing confirmation already announced the
//!    instalment early enough), and instalments whose submission deadline has come become
//!    collections, each with its own EndToEndId;
//! 3. the new collections are written into pain.008 files, one per creditor, scheme and date;
//! 4. mandates that reach 36 months without a collection expire (the creditor is warned 30
//!    days before).
//!
//! Where step 3 happens is the caller's choice: [`run_daily`] writes the files itself (the local
//! host), [`run_daily_requesting`] hands one [`BatchRequest`] per creditor, scheme and date to
//! [`BatchRequests`] (in AWS: the batch-request queue, read by the batch-generator function), so
//! the files of a large day are written in parallel and outside the daily job's time limit.
//!
//! Exactly once: a collection's id is derived from its plan, instalment and attempt and it is
//! inserted conditionally in the same transaction that moves its plan to the next version, so
//! running the job twice for a day, for an earlier day after a later one, or again after a
//! crash, creates nothing twice. Pre-notifications are sent before that transaction: a crash in
//! between sends a notice twice, never not at all.

use std::collections::{BTreeSet, HashMap, HashSet};

use chrono::{Days, Months, NaiveDate};
use serde::Serialize;
use serde_json::json;
use tracing::{info, warn};

use crate::batches::{self, BatchOutcome};
use crate::calendar::{add_target_days, sub_target_days};
use crate::collection::{
    BatchRequest, Collection, CollectionAmendment, CollectionStatus, Task, TaskStatus,
};
use crate::creditor::{Creditor, CreditorId, FirstSequence};
use crate::error::StoreError;
use crate::events::Event;
use crate::group_commit;
use crate::i18n::{fill, format_amount, format_date, texts};
use crate::mandate::{Mandate, MandateId, MandateStatus};
use crate::pain008::SequenceType;
use crate::plan::{InstalmentStatus, Plan, PlanId, PlanStatus};
use crate::ports::{CollectionQuery, Email, Ports, Write};
use crate::secrets;
use crate::signing::Links;
use crate::use_cases::UseCaseError;

/// How many days before the legal minimum a pre-notification goes out, so a late e-mail still
/// arrives in time.
pub const NOTICE_MARGIN_DAYS: u64 = 2;
/// The earliest a collection may reach the bank: 14 calendar days before its date.
pub const EARLIEST_PRESENTATION_DAYS: u64 = 14;
/// Months without a collection after which a mandate expires.
pub const MANDATE_EXPIRY_MONTHS: u32 = 36;
/// Days before expiry the creditor is warned.
pub const EXPIRY_WARNING_DAYS: u64 = 30;
/// Plans read per page of the work list.
const PAGE: u32 = 500;

/// What a run did, for the log and the operator.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct DailyReport {
    pub day: Option<NaiveDate>,
    pub notices_sent: u64,
    pub collections_created: u64,
    pub collections_settled: u64,
    pub plans_completed: u64,
    pub plans_stopped: u64,
    pub plans_defaulted: u64,
    pub batches_written: Vec<String>,
    /// Batch requests handed to the batch generator ([`run_daily_requesting`]).
    pub batch_requests_sent: u64,
    pub mandates_expired: u64,
    pub expiry_warnings: u64,
    pub tasks_opened: u64,
    /// What could not be done, and what to fix.
    pub problems: Vec<String>,
}

/// The day an instalment's collection must be created: its submission deadline (the due date
/// minus the creditor's lead days in TARGET days), never earlier than 14 days before the due
/// date.
pub fn collection_day(due: NaiveDate, lead_days: u32) -> NaiveDate {
    let deadline = sub_target_days(due, lead_days);
    let earliest = due - Days::new(EARLIEST_PRESENTATION_DAYS);
    deadline.max(earliest)
}

/// The day a pre-notification for `due` goes out.
pub fn notice_day(due: NaiveDate, pre_notification_days: u32) -> NaiveDate {
    due - Days::new(u64::from(pre_notification_days) + NOTICE_MARGIN_DAYS)
}

/// Whether a notice given on `notified_on` announces `due` early enough.
pub fn notified_in_time(
    notified_on: NaiveDate,
    due: NaiveDate,
    pre_notification_days: u32,
) -> bool {
    notified_on + Days::new(u64::from(pre_notification_days)) <= due
}

/// The next day the daily job has work for `plan`: the earliest notice or collection day of its
/// pending instalments; `None` when it has none, or is not active.
pub fn next_action_on(plan: &Plan, creditor: &Creditor) -> Option<NaiveDate> {
    if plan.status == PlanStatus::InDunning {
        return plan
            .dunning_since
            .map(|since| since + Days::new(u64::from(creditor.dunning.default_after_days)));
    }
    let held_from = held_from(plan);
    if plan.status != PlanStatus::Active && held_from.is_none() {
        return None;
    }
    plan.instalments
        .iter()
        .filter(|i| {
            matches!(
                i.status,
                InstalmentStatus::Planned | InstalmentStatus::Notified | InstalmentStatus::Retrying
            ) && held_from.is_none_or(|from| i.due_date < from)
        })
        .map(|i| match i.notified_on {
            Some(_) => collection_day(i.due_date, creditor.lead_days),
            None => notice_day(i.due_date, creditor.pre_notification_days)
                .min(collection_day(i.due_date, creditor.lead_days)),
        })
        .min()
}

/// The first due date an open-ended pause holds: a `paused` plan still collects what falls
/// before its pause, and nothing from it on until it is resumed.
fn held_from(plan: &Plan) -> Option<NaiveDate> {
    match (plan.status, plan.pause) {
        (PlanStatus::Paused, Some(pause)) => Some(pause.from),
        _ => None,
    }
}

/// Runs the whole job for the clock's today.
/// Where the daily job sends the batch files of the day when it does not write them itself.
#[async_trait::async_trait]
pub trait BatchRequests: Send + Sync {
    /// Asks for the files of one creditor, scheme and collection date. The batch generator
    /// handles a request twice harmlessly: it finds nothing left to batch the second time.
    async fn request_batch(&self, request: &BatchRequest) -> Result<(), StoreError>;
}

/// Runs the whole job for the clock's today, writing the day's batch files itself.
pub async fn run_daily(ports: &Ports, links: &Links) -> Result<DailyReport, UseCaseError> {
    run(ports, links, None).await
}

/// Runs the whole job for the clock's today, handing each creditor, scheme and date whose
/// collections wait for a file to `requests` instead of writing the files.
pub async fn run_daily_requesting(
    ports: &Ports,
    links: &Links,
    requests: &dyn BatchRequests,
) -> Result<DailyReport, UseCaseError> {
    run(ports, links, Some(requests)).await
}

async fn run(
    ports: &Ports,
    links: &Links,
    requests: Option<&dyn BatchRequests>,
) -> Result<DailyReport, UseCaseError> {
    let day = ports.clock.today();
    let mut report = DailyReport {
        day: Some(day),
        ..DailyReport::default()
    };
    let mut creditors = CreditorCache::default();

    settle_collections(ports, day, &mut creditors, &mut report).await?;

    let mut touched: BTreeSet<(String, String, NaiveDate)> = BTreeSet::new();
    let mut after: Option<String> = None;
    // Works wait for their commit across pages of the work list, so a commit holds up to
    // [`GROUP`] plans whatever the page size. A later page never holds a plan of an uncommitted
    // work (the list goes on after the last plan read), and a mandate an uncommitted work
    // changes is read again only after that work is committed.
    let mut works: Vec<PlanWork> = Vec::new();
    let mut written_mandates: HashSet<String> = HashSet::new();
    // A full group is committed while the next pages are read and worked out (the store reads
    // beside a commit), and waited for before the group after it is committed. The mandates it
    // writes count as written until then.
    let mut in_flight: Option<InFlight<'_>> = None;
    loop {
        let page = ports
            .plans
            .plans_due_by(day, after.as_deref(), PAGE)
            .await?;
        // The page's mandates in one read. A mandate that a plan's work changes is built on
        // by the next plan that shares it only after that work is committed, so one group
        // never writes a mandate twice.
        let mandate_ids: Vec<MandateId> = page
            .items
            .iter()
            .filter_map(|plan| plan.mandate_id.clone().map(MandateId))
            .collect();
        let mut mandates = mandates_by_id(ports, &mandate_ids).await?;
        for plan in &page.items {
            if let Some(id) = &plan.mandate_id
                && (written_mandates.contains(id)
                    || in_flight.as_ref().is_some_and(|f| f.writes(id)))
            {
                if let Some(landing) = in_flight.take() {
                    written_mandates.extend(landing.keys.iter().cloned());
                    let committed = landing.landed().await?;
                    finish_works(ports, committed, &mut touched, &mut report).await?;
                }
                let committed = commit_grouped(ports, std::mem::take(&mut works)).await?;
                finish_works(ports, committed, &mut touched, &mut report).await?;
                read_again(ports, &mut mandates, &mut written_mandates).await?;
            }
            let mandate = plan.mandate_id.as_ref().and_then(|id| mandates.get(id));
            let work = process_plan(
                ports,
                links,
                plan,
                mandate,
                day,
                &mut creditors,
                &mut report,
            )
            .await?;
            written_mandates.extend(work.writes.iter().filter_map(|w| match w {
                Write::UpdateMandate(m) => Some(m.id.0.clone()),
                _ => None,
            }));
            works.push(work);
        }
        if works.len() >= GROUP {
            if let Some(landing) = in_flight.take() {
                let committed = landing.landed().await?;
                finish_works(ports, committed, &mut touched, &mut report).await?;
            }
            in_flight = Some(
                InFlight::start(
                    commit_grouped(ports, std::mem::take(&mut works)),
                    std::mem::take(&mut written_mandates),
                )
                .await,
            );
        }
        if let Some(flight) = &mut in_flight {
            flight.push_on().await;
        }
        match page.next {
            Some(next) => after = Some(next),
            None => break,
        }
    }
    if let Some(landing) = in_flight.take() {
        let committed = landing.landed().await?;
        finish_works(ports, committed, &mut touched, &mut report).await?;
    }
    let committed = commit_grouped(ports, works).await?;
    finish_works(ports, committed, &mut touched, &mut report).await?;

    // Batches a crashed or failed run left unfinished are finished by their request, even
    // when none of their collections is still scheduled.
    let mut after: Option<String> = None;
    loop {
        let page = ports
            .collections
            .unfinished_batches(after.as_deref(), PAGE)
            .await?;
        for batch in &page.items {
            touched.insert((
                batch.creditor_id.to_string(),
                scheme_code(batch.scheme).to_owned(),
                batch.collection_date,
            ));
        }
        match page.next {
            Some(next) => after = Some(next),
            None => break,
        }
    }
    hand_over_batches(ports, requests, &touched, &mut creditors, &mut report).await?;

    // Collections still waiting for their file (a refused batch on an earlier run) are
    // batched too. Listed after this run's files are written, so the list holds only those
    // (when the files are written here) instead of every collection this run created.
    let mut waiting: BTreeSet<(String, String, NaiveDate)> = BTreeSet::new();
    let mut after: Option<String> = None;
    loop {
        let page = ports
            .collections
            .list_collections(&CollectionQuery {
                status: Some(CollectionStatus::Scheduled),
                after: after.clone(),
                limit: PAGE,
                ..CollectionQuery::default()
            })
            .await?;
        for collection in &page.items {
            let key = (
                collection.creditor_id.to_string(),
                scheme_code(collection.scheme).to_owned(),
                collection.collection_date,
            );
            if !touched.contains(&key) {
                waiting.insert(key);
            }
        }
        match page.next {
            Some(next) => after = Some(next),
            None => break,
        }
    }
    hand_over_batches(ports, requests, &waiting, &mut creditors, &mut report).await?;

    expire_mandates(ports, links, day, &mut creditors, &mut report).await?;
    info!(
        day = %day,
        notices = report.notices_sent,
        collections = report.collections_created,
        settled = report.collections_settled,
        batches = report.batches_written.len(),
        batch_requests = report.batch_requests_sent,
        "daily job done"
    );
    Ok(report)
}

/// Writes (or, with `requests`, asks for) the batch files of each creditor, scheme and date in
/// `keys`.
async fn hand_over_batches(
    ports: &Ports,
    requests: Option<&dyn BatchRequests>,
    keys: &BTreeSet<(String, String, NaiveDate)>,
    creditors: &mut CreditorCache,
    report: &mut DailyReport,
) -> Result<(), UseCaseError> {
    for (creditor_id, scheme, date) in keys {
        let Some(creditor) = creditors
            .get(
                ports,
                &CreditorId::parse(creditor_id).unwrap_or_else(|| unreachable_id(creditor_id)),
            )
            .await?
        else {
            continue;
        };
        let scheme = if scheme.as_str() == "B2B" {
            crate::plan::Scheme::B2b
        } else {
            crate::plan::Scheme::Core
        };
        let request = BatchRequest {
            creditor_id: creditor.id.clone(),
            scheme,
            collection_date: *date,
        };
        if let Some(requests) = requests {
            requests.request_batch(&request).await?;
            report.batch_requests_sent += 1;
            continue;
        }
        match batches::generate_batches(ports, &request).await? {
            BatchOutcome::Written(ids) => report.batches_written.extend(ids),
            BatchOutcome::Refused(problem) => {
                report.problems.push(problem.clone());
                let task = settings_task(&creditor, &problem, ports);
                if ports.tasks.open_task(&task).await? {
                    report.tasks_opened += 1;
                }
            }
        }
    }

    Ok(())
}

fn unreachable_id(id: &str) -> CreditorId {
    panic!("creditor id {id} came from a stored creditor and parses")
}

/// Creditors read once per run.
#[derive(Default)]
struct CreditorCache {
    creditors: HashMap<CreditorId, Option<Creditor>>,
}

impl CreditorCache {
    async fn get(
        &mut self,
        ports: &Ports,
        id: &CreditorId,
    ) -> Result<Option<Creditor>, UseCaseError> {
        if let Some(found) = self.creditors.get(id) {
            return Ok(found.clone());
        }
        let creditor = ports.creditors.get_creditor(id).await?;
        self.creditors.insert(id.clone(), creditor.clone());
        Ok(creditor)
    }
}

/// The task that asks the creditor's staff to fix a setting that kept a batch file from being
/// written. Its id comes from the creditor and the problem, so the same problem, met again by
/// the next daily run or by the batch generator, opens one task.
pub fn settings_task(creditor: &Creditor, problem: &str, ports: &Ports) -> Task {
    let now = ports.clock.now();
    Task {
        id: format!(
            "tsk_settings_{}_{}",
            creditor.id,
            &secrets::sha256_hex(problem)[..12]
        ),
        creditor_id: creditor.id.clone(),
        plan_id: None,
        mandate_id: None,
        kind: "invalid_creditor_settings".to_owned(),
        title: "Fix the creditor settings: no batch file could be written".to_owned(),
        detail: problem.to_owned(),
        status: TaskStatus::Open,
        outcome: None,
        created_at: now,
        updated_at: now,
    }
}

fn scheme_code(scheme: crate::plan::Scheme) -> &'static str {
    match scheme {
        crate::plan::Scheme::Core => "CORE",
        crate::plan::Scheme::B2b => "B2B",
    }
}

/// The writes one plan needs, and what they mean for the report once committed.
#[derive(Debug, Default)]
struct PlanWork {
    plan_id: String,
    writes: Vec<Write>,
    collections_created: u64,
    plans_completed: u64,
    collections_settled: u64,
    touched: Vec<(String, String, NaiveDate)>,
    task: Option<Task>,
    stopped: bool,
    defaulted: bool,
}

/// How many plans' writes go into one transaction: one commit (and one disk sync) per group
/// instead of per plan.
const GROUP: usize = 4096;

/// Counts committed works in the report, notes the batches they touched and opens their tasks.
async fn finish_works(
    ports: &Ports,
    committed: Vec<PlanWork>,
    touched: &mut BTreeSet<(String, String, NaiveDate)>,
    report: &mut DailyReport,
) -> Result<(), UseCaseError> {
    for work in committed {
        report.collections_created += work.collections_created;
        touched.extend(work.touched);
        if work.stopped {
            report.plans_stopped += 1;
        }
        if work.defaulted {
            report.plans_defaulted += 1;
        }
        if let Some(task) = work.task
            && ports.tasks.open_task(&task).await?
        {
            report.tasks_opened += 1;
        }
    }
    Ok(())
}

/// Commits the works in groups ([`group_commit`]); a plan whose own writes fail their
/// conditions was changed by another run meanwhile: what that run did stands, and the plan is
/// looked at again on the next run. Answers the committed works.
async fn commit_grouped(
    ports: &Ports,
    works: Vec<PlanWork>,
) -> Result<Vec<PlanWork>, UseCaseError> {
    let works: Vec<PlanWork> = works.into_iter().filter(|w| !w.writes.is_empty()).collect();
    let outcome = group_commit::commit_in_groups(ports.transactions.as_ref(), works, GROUP).await?;
    for (work, reason) in &outcome.refused {
        info!(plan_id = %work.plan_id, reason = %reason, "plan changed meanwhile");
    }
    Ok(outcome.committed)
}

impl group_commit::Unit for PlanWork {
    fn writes(&self) -> &[Write] {
        &self.writes
    }

    fn writes_mut(&mut self) -> &mut Vec<Write> {
        &mut self.writes
    }
}

/// A plan in dunning whose time has run out becomes `defaulted`, and the creditor is told.
async fn default_if_due(
    ports: &Ports,
    links: &Links,
    creditor: &Creditor,
    mut plan: Plan,
    day: NaiveDate,
    mut work: PlanWork,
) -> Result<PlanWork, UseCaseError> {
    let due = next_action_on(&plan, creditor);
    if due.is_none_or(|due| due > day) {
        return Ok(work);
    }
    let now = ports.clock.now();
    let open: i64 = plan
        .instalments
        .iter()
        .filter(|i| {
            !matches!(
                i.status,
                InstalmentStatus::Collected
                    | InstalmentStatus::Cancelled
                    | InstalmentStatus::Skipped
            )
        })
        .map(|i| i.amount.cents())
        .sum();
    let open = crate::money::Amount::from_cents(open).map_or_else(
        |_| "0.00".to_owned(),
        |a| format_amount(a, creditor.language),
    );
    plan.status = PlanStatus::Defaulted;
    plan.next_action_on = None;
    let event = Event::after(
        plan.event_head.as_ref(),
        &plan.id.0,
        "plan.defaulted",
        now,
        "system",
        json!({"dunning_since": plan.dunning_since, "open": open}),
    );
    plan.event_head = Some(event.head());
    plan.updated_at = now;
    plan.version += 1;
    work.writes = vec![Write::AppendEvent(event), Write::UpdatePlan(plan.clone())];
    let t = texts(creditor.language);
    let since = plan
        .dunning_since
        .map(|d| format_date(d, creditor.language))
        .unwrap_or_default();
    let email = Email {
        from: links.mail_from.clone(),
        to: vec![creditor.email.clone()],
        subject: fill(
            t.mail_defaulted_subject,
            &[("plan", &plan.id.0), ("debtor", &plan.debtor.name)],
        ),
        text_body: fill(
            t.mail_defaulted_body,
            &[
                ("plan", &plan.id.0),
                ("debtor", &plan.debtor.name),
                ("date", &since),
                ("open", &open),
            ],
        ),
        html_body: None,
        attachments: Vec::new(),
    };
    if let Err(e) = ports.mailer.send(&email).await {
        warn!(plan_id = %plan.id, error = %e, "default notice not sent");
    }
    work.defaulted = true;
    Ok(work)
}

/// The statement text of an instalment: plan, position and invoices, in the SEPA set later.
fn remittance(plan: &Plan, seq: u32) -> String {
    let regular = plan.instalments.len();
    let mut text = format!(
        "Plan {} {seq}/{regular}",
        plan.id.0.trim_start_matches("pln_")
    );
    if !plan.invoices.is_empty() {
        let invoices: Vec<&str> = plan.invoices.iter().map(|i| i.reference.as_str()).collect();
        text.push(' ');
        text.push_str(&invoices.join(" "));
    }
    text
}

/// What the morning brings for one plan, built on `mandate` (its mandate as stored, when it has
/// one).
#[allow(clippy::too_many_arguments)]
async fn process_plan(
    ports: &Ports,
    links: &Links,
    plan: &Plan,
    mandate: Option<&Mandate>,
    day: NaiveDate,
    creditors: &mut CreditorCache,
    report: &mut DailyReport,
) -> Result<PlanWork, UseCaseError> {
    let mut work = PlanWork {
        plan_id: plan.id.0.clone(),
        ..PlanWork::default()
    };
    let now = ports.clock.now();
    let Some(creditor) = creditors.get(ports, &plan.creditor_id).await? else {
        report
            .problems
            .push(format!("plan {} belongs to an unknown creditor", plan.id));
        return Ok(work);
    };
    let mut plan = plan.clone();
    let mut writes = Vec::new();

    if plan.status == PlanStatus::InDunning {
        return default_if_due(ports, links, &creditor, plan, day, work).await;
    }

    let usable = mandate.filter(|m| m.status.is_usable() && m.debtor.is_some());
    let Some(mandate) = usable else {
        // No collection without a usable mandate: the plan says why, the creditor is told.
        let status = mandate.map_or("missing", |m| m.status.as_str());
        let reason = format!("no collection: the mandate is {status}");
        plan.status_reason = Some(reason.clone());
        plan.next_action_on = None;
        plan.updated_at = now;
        plan.version += 1;
        let event = Event::after(
            plan.event_head.as_ref(),
            &plan.id.0,
            "plan.stopped",
            now,
            "system",
            json!({"reason": reason}),
        );
        plan.event_head = Some(event.head());
        writes.push(Write::AppendEvent(event));
        writes.push(Write::UpdatePlan(plan.clone()));
        work.writes = writes;
        work.stopped = true;
        work.task = Some(Task {
            id: format!("tsk_mandate_{}", plan.id.0.trim_start_matches("pln_")),
            creditor_id: creditor.id.clone(),
            plan_id: Some(plan.id.clone()),
            mandate_id: plan.mandate_id.clone().map(MandateId),
            kind: "mandate_unusable".to_owned(),
            title: "Get a new mandate: collections have stopped".to_owned(),
            detail: format!(
                "Plan {} cannot be collected because its mandate is {status}. Ask the debtor \
                 ({}) to sign a new mandate, or agree another way to pay.",
                plan.id, plan.debtor.email
            ),
            status: TaskStatus::Open,
            outcome: None,
            created_at: now,
            updated_at: now,
        });
        return Ok(work);
    };
    let mut mandate = mandate.clone();
    let mut mandate_changed = false;
    let debtor = mandate
        .debtor
        .clone()
        .expect("a usable mandate has its debtor");
    let lead = creditor.lead_days;
    let notice_days = creditor.pre_notification_days;
    // Instalments moved away by a plan action (skipped) or cancelled are not counted: the
    // debtor reads "instalment 3 of 6" of the calendar that holds money.
    let count = plan
        .instalments
        .iter()
        .filter(|i| {
            !matches!(
                i.status,
                InstalmentStatus::Skipped | InstalmentStatus::Cancelled
            )
        })
        .count() as u32;
    for index in 0..plan.instalments.len() {
        let instalment = plan.instalments[index].clone();
        if !matches!(
            instalment.status,
            InstalmentStatus::Planned | InstalmentStatus::Notified | InstalmentStatus::Retrying
        ) || held_from(&plan).is_some_and(|from| instalment.due_date >= from)
        {
            continue;
        }
        let mut due = instalment.due_date;
        let mut notified_on = instalment.notified_on;

        // A notice too late for its date: the date moves to the earliest legal one, announced now.
        let late = notified_on.is_none_or(|on| !notified_in_time(on, due, notice_days))
            && day > due - Days::new(u64::from(notice_days));
        if late {
            due = crate::schedule::earliest_due_date(day, notice_days, lead);
            notified_on = None;
        }
        if notified_on.is_none()
            && day >= notice_day(due, notice_days).min(collection_day(due, lead))
        {
            send_notice(ports, links, &creditor, &plan, &mandate, index, due, count).await?;
            report.notices_sent += 1;
            notified_on = Some(day);
            let event = Event::after(
                plan.event_head.as_ref(),
                &plan.id.0,
                "instalment.notified",
                now,
                "system",
                json!({"seq": instalment.seq, "due_date": due, "amount": instalment.amount, "moved_from": late.then_some(instalment.due_date)}),
            );
            plan.event_head = Some(event.head());
            writes.push(Write::AppendEvent(event));
        }
        {
            let slot = &mut plan.instalments[index];
            slot.due_date = due;
            slot.notified_on = notified_on;
            if notified_on.is_some() && slot.status == InstalmentStatus::Planned {
                slot.status = InstalmentStatus::Notified;
            }
        }

        let ready = notified_on.is_some_and(|on| notified_in_time(on, due, notice_days))
            && day >= collection_day(due, lead);
        if !ready {
            continue;
        }
        let attempt = instalment.attempts + 1;
        let sequence_type = mandate
            .next_sequence
            .unwrap_or(match creditor.first_sequence {
                FirstSequence::First => SequenceType::First,
                FirstSequence::Recurrent => SequenceType::Recurrent,
            });
        let amendment = mandate.amendments.iter().find(|a| !a.presented).map(|a| {
            if a.moved_bank() {
                CollectionAmendment::OtherBank
            } else {
                CollectionAmendment::SameBank {
                    previous_iban: a.previous_iban.clone(),
                }
            }
        });
        for pending in mandate.amendments.iter_mut().filter(|a| !a.presented) {
            pending.presented = true;
        }
        let collection = Collection {
            id: Collection::id_for(&plan.id, instalment.seq, attempt),
            creditor_id: creditor.id.clone(),
            plan_id: plan.id.clone(),
            mandate_id: mandate.id.clone(),
            instalment_seq: instalment.seq,
            attempt,
            end_to_end_id: format!("TR{}", secrets::random_reference(24)),
            amount: instalment.amount,
            collection_date: due,
            scheme: mandate.scheme,
            sequence_type,
            amendment,
            mandate_reference: mandate.reference.clone(),
            mandate_signed_on: mandate
                .signature
                .as_ref()
                .map_or(day, |s| s.signed_at.date_naive()),
            debtor_name: debtor.name.clone(),
            debtor_address: Some(debtor.address.clone()),
            debtor_iban: debtor.iban.clone(),
            debtor_bic: debtor.bic.clone(),
            remittance: remittance(&plan, instalment.seq),
            status: CollectionStatus::Scheduled,
            batch_id: None,
            status_reason: None,
            r_transaction: None,
            created_at: now,
            updated_at: now,
            event_head: None,
            version: 1,
        };
        let mut collection = collection;
        let created = Event::after(
            None,
            &collection.id,
            "collection.created",
            now,
            "system",
            json!({"plan_id": plan.id, "seq": instalment.seq, "attempt": attempt, "amount": collection.amount, "collection_date": due, "sequence_type": sequence_type, "end_to_end_id": collection.end_to_end_id}),
        );
        let collecting = Event::after(
            plan.event_head.as_ref(),
            &plan.id.0,
            "instalment.collecting",
            now,
            "system",
            json!({"seq": instalment.seq, "collection_id": collection.id}),
        );
        plan.event_head = Some(collecting.head());
        collection.event_head = Some(created.head());
        writes.push(Write::AppendEvent(created));
        writes.push(Write::AppendEvent(collecting));
        let slot = &mut plan.instalments[index];
        slot.status = InstalmentStatus::Collecting;
        slot.attempts = attempt;
        mandate.next_sequence = Some(sequence_type);
        mandate.last_presented_on = Some(due);
        mandate.expiry_warned = false;
        if mandate.status == MandateStatus::Signed {
            mandate.status = MandateStatus::Active;
        }
        mandate_changed = true;
        work.touched.push((
            creditor.id.to_string(),
            scheme_code(collection.scheme).to_owned(),
            due,
        ));
        writes.push(Write::InsertCollection(collection));
        work.collections_created += 1;
    }

    plan.next_action_on = next_action_on(&plan, &creditor);
    plan.updated_at = now;
    plan.version += 1;
    writes.push(Write::UpdatePlan(plan.clone()));
    if mandate_changed {
        mandate.updated_at = now;
        mandate.version += 1;
        writes.push(Write::UpdateMandate(mandate));
    }
    work.writes = writes;
    Ok(work)
}

#[allow(clippy::too_many_arguments)]
async fn send_notice(
    ports: &Ports,
    links: &Links,
    creditor: &Creditor,
    plan: &Plan,
    mandate: &Mandate,
    index: usize,
    due: NaiveDate,
    count: u32,
) -> Result<(), UseCaseError> {
    let instalment = &plan.instalments[index];
    // Its place by date among the instalments that hold money (seqs of moved ones are gaps).
    let position = plan
        .instalments
        .iter()
        .filter(|i| {
            !matches!(
                i.status,
                InstalmentStatus::Skipped | InstalmentStatus::Cancelled
            )
        })
        .filter(|i| (i.due_date, i.seq) <= (due, instalment.seq))
        .count();
    let language = mandate.language;
    let t = texts(language);
    let amount = format_amount(instalment.amount, language);
    let date = format_date(due, language);
    let iban = mandate
        .debtor
        .as_ref()
        .map(|d| d.iban.masked())
        .unwrap_or_default();
    let name = mandate
        .debtor
        .as_ref()
        .map_or(plan.debtor.name.as_str(), |d| d.name.as_str());
    let self_service = crate::self_service::link_line(ports, links, &plan.id, language).await;
    let email = Email {
        from: links.mail_from.clone(),
        to: vec![mandate.debtor_email.clone()],
        subject: fill(
            t.mail_prenotification_subject,
            &[
                ("amount", &amount),
                ("date", &date),
                ("creditor", &creditor.name),
            ],
        ),
        text_body: fill(
            t.mail_prenotification_body,
            &[
                ("name", name),
                ("creditor", &creditor.name),
                ("amount", &amount),
                ("iban", &iban),
                ("date", &date),
                ("seq", &position.to_string()),
                ("count", &count.to_string()),
                ("reference", &mandate.reference),
                ("creditor_identifier", creditor.creditor_identifier.as_str()),
            ],
        ) + &self_service,
        html_body: None,
        attachments: Vec::new(),
    };
    ports
        .mailer
        .send(&email)
        .await
        .map_err(|e| UseCaseError::Store(StoreError::Unavailable(e.to_string())))?;
    Ok(())
}

/// Settles collections past the creditor's settlement window that no report contradicted.
/// A plan's collections sit next to each other in id order (`col_<plan>_...`), so one page's
/// collections of a plan settle in one write set.
async fn settle_collections(
    ports: &Ports,
    day: NaiveDate,
    creditors: &mut CreditorCache,
    report: &mut DailyReport,
) -> Result<(), UseCaseError> {
    let mut after: Option<String> = None;
    // As for the work list: works wait for their commit across pages, up to [`GROUP`] plans,
    // and a plan or mandate an uncommitted work writes is read again after that work's commit.
    let mut works: Vec<PlanWork> = Vec::new();
    let mut pending_plans: HashSet<String> = HashSet::new();
    let mut pending_mandates: HashSet<String> = HashSet::new();
    // As for the work list, a full group is committed while the next pages are worked out.
    let mut in_flight: Option<InFlight<'_>> = None;
    loop {
        let page = ports
            .collections
            .unsettled_collections_by(day, after.as_deref(), PAGE)
            .await?;
        let mut due: Vec<&Collection> = Vec::new();
        for collection in &page.items {
            let Some(creditor) = creditors.get(ports, &collection.creditor_id).await? else {
                continue;
            };
            if add_target_days(collection.collection_date, creditor.settlement_days) <= day {
                due.push(collection);
            }
        }
        // The page's plans, and the mandates a first collection moves on, in one read each.
        let plan_ids: Vec<PlanId> = due.iter().map(|c| c.plan_id.clone()).collect();
        let mut plans: HashMap<String, Plan> = ports
            .plans
            .get_plans(&plan_ids)
            .await?
            .into_iter()
            .map(|p| (p.id.0.clone(), p))
            .collect();
        let mandate_ids: Vec<MandateId> = due
            .iter()
            .filter(|c| c.sequence_type == SequenceType::First)
            .map(|c| c.mandate_id.clone())
            .collect();
        let mut mandates = mandates_by_id(ports, &mandate_ids).await?;
        for group in due.chunk_by(|a, b| a.plan_id == b.plan_id) {
            let first = group[0];
            let in_flight_writes = in_flight
                .as_ref()
                .is_some_and(|f| f.writes(&first.plan_id.0) || f.writes(&first.mandate_id.0));
            if in_flight_writes
                || pending_plans.contains(&first.plan_id.0)
                || pending_mandates.contains(&first.mandate_id.0)
            {
                // Every plan and mandate the commits below write is read again, as far as this
                // page holds it (a plan is taken out of `plans` when its work is built, so this
                // group's own plan counts as held).
                let mut stale_plans = std::mem::take(&mut pending_plans);
                if let Some(landing) = in_flight.take() {
                    stale_plans.extend(landing.keys.iter().cloned());
                    pending_mandates.extend(landing.keys.iter().cloned());
                    count_settled(landing.landed().await?, report);
                }
                settle_committed(ports, std::mem::take(&mut works), report).await?;
                let stale_plans: Vec<PlanId> = stale_plans
                    .into_iter()
                    .filter(|id| plans.remove(id).is_some() || *id == first.plan_id.0)
                    .map(PlanId)
                    .collect();
                for fresh in ports.plans.get_plans(&stale_plans).await? {
                    plans.insert(fresh.id.0.clone(), fresh);
                }
                read_again(ports, &mut mandates, &mut pending_mandates).await?;
            }
            let Some(plan) = plans.remove(&first.plan_id.0) else {
                continue;
            };
            let mandate = mandates.get(&first.mandate_id.0).cloned();
            let work = settle_plan_collections(ports, group, plan, mandate);
            pending_plans.insert(first.plan_id.0.clone());
            for write in &work.writes {
                if let Write::UpdateMandate(m) = write {
                    pending_mandates.insert(m.id.0.clone());
                }
            }
            works.push(work);
        }
        if works.len() >= GROUP {
            if let Some(landing) = in_flight.take() {
                count_settled(landing.landed().await?, report);
            }
            let mut keys = std::mem::take(&mut pending_plans);
            keys.extend(std::mem::take(&mut pending_mandates));
            let commit = commit_grouped(ports, std::mem::take(&mut works));
            in_flight = Some(InFlight::start(commit, keys).await);
        }
        if let Some(flight) = &mut in_flight {
            flight.push_on().await;
        }
        match page.next {
            Some(next) => after = Some(next),
            None => break,
        }
    }
    if let Some(landing) = in_flight.take() {
        count_settled(landing.landed().await?, report);
    }
    settle_committed(ports, works, report).await
}

/// Counts what committed settlement works did.
fn count_settled(committed: Vec<PlanWork>, report: &mut DailyReport) {
    for work in committed {
        report.collections_settled += work.collections_settled;
        report.plans_completed += work.plans_completed;
    }
}

/// A group of works being committed while the job reads and works out the next plans.
type InFlight<'a> = group_commit::InFlight<'a, Result<Vec<PlanWork>, UseCaseError>>;

/// The stored mandates of `ids`, by id, in one read.
async fn mandates_by_id(
    ports: &Ports,
    ids: &[MandateId],
) -> Result<HashMap<String, Mandate>, UseCaseError> {
    Ok(ports
        .mandates
        .get_mandates(ids)
        .await?
        .into_iter()
        .map(|m| (m.id.0.clone(), m))
        .collect())
}

/// After a commit of works that wrote the mandates in `written`: reads again those of them
/// that `mandates` holds, as the commit left them (a mandate deleted meanwhile leaves the map),
/// and empties `written`.
async fn read_again(
    ports: &Ports,
    mandates: &mut HashMap<String, Mandate>,
    written: &mut HashSet<String>,
) -> Result<(), UseCaseError> {
    let stale: Vec<MandateId> = written
        .drain()
        .filter(|id| mandates.remove(id).is_some())
        .map(MandateId)
        .collect();
    for fresh in ports.mandates.get_mandates(&stale).await? {
        mandates.insert(fresh.id.0.clone(), fresh);
    }
    Ok(())
}

/// Commits settlement works and counts what they did.
async fn settle_committed(
    ports: &Ports,
    works: Vec<PlanWork>,
    report: &mut DailyReport,
) -> Result<(), UseCaseError> {
    count_settled(commit_grouped(ports, works).await?, report);
    Ok(())
}

/// The writes that settle some collections of `plan`, as stored, and move on `mandate` (as
/// stored, when it was read) after a first collection.
fn settle_plan_collections(
    ports: &Ports,
    collections: &[&Collection],
    mut plan: Plan,
    mandate: Option<Mandate>,
) -> PlanWork {
    let now = ports.clock.now();
    let mut work = PlanWork {
        plan_id: plan.id.0.clone(),
        ..PlanWork::default()
    };
    let mut first_settled = false;
    for collection in collections {
        let mut settled = (*collection).clone();
        settled.status = CollectionStatus::Settled;
        settled.updated_at = now;
        settled.version += 1;
        let event = Event::after(
            settled.event_head.as_ref(),
            &settled.id,
            "collection.settled",
            now,
            "system",
            json!({}),
        );
        settled.event_head = Some(event.head());
        work.writes.push(Write::AppendEvent(event));
        work.writes.push(Write::UpdateCollection(settled));
        work.collections_settled += 1;
        first_settled |= collection.sequence_type == SequenceType::First;

        if let Some(instalment) = plan
            .instalments
            .iter_mut()
            .find(|i| i.seq == collection.instalment_seq)
            && instalment.status == InstalmentStatus::Collecting
        {
            instalment.status = InstalmentStatus::Collected;
        }
        let event = Event::after(
            plan.event_head.as_ref(),
            &plan.id.0,
            "instalment.collected",
            now,
            "system",
            json!({"seq": collection.instalment_seq, "collection_id": collection.id}),
        );
        plan.event_head = Some(event.head());
        work.writes.push(Write::AppendEvent(event));
    }

    let all_done = plan.instalments.iter().all(|i| {
        matches!(
            i.status,
            InstalmentStatus::Collected | InstalmentStatus::Skipped | InstalmentStatus::Cancelled
        )
    });
    if all_done && plan.status == PlanStatus::Active {
        plan.status = PlanStatus::Completed;
        plan.next_action_on = None;
        let event = Event::after(
            plan.event_head.as_ref(),
            &plan.id.0,
            "plan.completed",
            now,
            "system",
            json!({}),
        );
        plan.event_head = Some(event.head());
        work.writes.push(Write::AppendEvent(event));
        work.plans_completed += 1;
    }
    plan.updated_at = now;
    plan.version += 1;
    work.writes.push(Write::UpdatePlan(plan));

    // A first collection that was not rejected moves its mandate on to RCUR.
    if first_settled
        && let Some(mut mandate) = mandate
        && mandate.next_sequence == Some(SequenceType::First)
    {
        mandate.next_sequence = Some(SequenceType::Recurrent);
        mandate.updated_at = now;
        mandate.version += 1;
        work.writes.push(Write::UpdateMandate(mandate));
    }
    work
}

/// Warns about and expires mandates that reach 36 months without a collection.
async fn expire_mandates(
    ports: &Ports,
    links: &Links,
    day: NaiveDate,
    creditors: &mut CreditorCache,
    report: &mut DailyReport,
) -> Result<(), UseCaseError> {
    let now = ports.clock.now();
    let horizon = day + Days::new(EXPIRY_WARNING_DAYS);
    let mut after: Option<String> = None;
    loop {
        let page = ports
            .mandates
            .mandates_expiring_by(horizon, after.as_deref(), PAGE)
            .await?;
        for mandate in &page.items {
            let Some(expires_on) = expiry_date(mandate) else {
                continue;
            };
            let Some(creditor) = creditors.get(ports, &mandate.creditor_id).await? else {
                continue;
            };
            let mut changed = mandate.clone();
            if expires_on <= day {
                changed.status = MandateStatus::Expired;
                report.mandates_expired += 1;
            } else if !mandate.expiry_warned {
                let t = texts(creditor.language);
                let date = format_date(expires_on, creditor.language);
                let debtor = mandate.debtor.as_ref().map_or("", |d| d.name.as_str());
                let email = Email {
                    from: links.mail_from.clone(),
                    to: vec![creditor.email.clone()],
                    subject: fill(
                        t.mail_expiry_warning_subject,
                        &[("reference", &mandate.reference), ("date", &date)],
                    ),
                    text_body: fill(
                        t.mail_expiry_warning_body,
                        &[
                            ("reference", &mandate.reference),
                            ("date", &date),
                            ("debtor", debtor),
                        ],
                    ),
                    html_body: None,
                    attachments: Vec::new(),
                };
                if let Err(e) = ports.mailer.send(&email).await {
                    warn!(mandate_id = %mandate.id, error = %e, "expiry warning not sent");
                    continue;
                }
                changed.expiry_warned = true;
                report.expiry_warnings += 1;
                // The debtor gets a link to sign a new mandate for the rest of the plan.
                if let Some(plan) = ports.plans.get_plan(&mandate.plan_id).await?
                    && plan.status == PlanStatus::Active
                    && plan.mandate_id.as_deref() == Some(mandate.id.0.as_str())
                {
                    crate::signing::invite_new_mandate(ports, links, &creditor, &plan, mandate)
                        .await?;
                }
            } else {
                continue;
            }
            changed.updated_at = now;
            changed.version += 1;
            let event = Event::next(
                ports.events.list_events(&mandate.id.0).await?.last(),
                &mandate.id.0,
                if changed.status == MandateStatus::Expired {
                    "mandate.expired"
                } else {
                    "mandate.expiry_warned"
                },
                now,
                "system",
                json!({"expires_on": expires_on}),
            );
            match ports
                .transactions
                .commit(&[Write::UpdateMandate(changed), Write::AppendEvent(event)])
                .await
            {
                Ok(()) | Err(StoreError::ConditionFailed(_)) => {}
                Err(e) => return Err(e.into()),
            }
        }
        match page.next {
            Some(next) => after = Some(next),
            None => return Ok(()),
        }
    }
}

/// The day a mandate expires: 36 months after its last presented collection, or after its
/// signature when it has none; `None` for mandates not in use.
pub fn expiry_date(mandate: &Mandate) -> Option<NaiveDate> {
    if !mandate.status.is_usable() {
        return None;
    }
    let from = mandate
        .last_presented_on
        .or_else(|| mandate.signature.as_ref().map(|s| s.signed_at.date_naive()))?;
    from.checked_add_months(Months::new(MANDATE_EXPIRY_MONTHS))
}
