//! The return processor: a bank report (pain.002, camt.054, camt.053) read, matched to the
//! collections it speaks of, applied, and the creditor's dunning started.
//!
//! Matching: by the original message id and payment information id for whole-file and
//! whole-batch statuses, by EndToEndId for transactions, and, when a bank left the EndToEndId
//! out, by mandate reference, amount and date. What matches nothing is kept as a creditor task,
//! never dropped.
//!
//! Exactly once: each item is applied in its own transaction, conditional on the collection's
//! version, and only to a collection that has not failed already; the same file read twice, a
//! retry after a crash in the middle of a file, or the same return reported by pain.002 and
//! again by camt.054 changes nothing the second time.
//!
//! Dunning per failure class ([`crate::reason_codes`]): soft failures are re-presented after
//! the creditor's `retry_after_days` (at most `max_representations` times; MS03 once) as new
//! collections with new EndToEndIds, announced to the debtor; hard failures e-mail the debtor
//! and open a "call the customer" task; account and mandate failures invalidate the mandate,
//! invite the debtor to sign a new one and tell the creditor. A plan whose failure dunning
//! cannot fix is `in_dunning`, and `defaulted` after the creditor's `default_after_days`.

use chrono::{Days, NaiveDate};
use serde::Serialize;
use serde_json::json;
use tracing::info;

use crate::bank_reports::{
    self, ItemKind, ItemScope, ReadLimits, ReportError, ReportHeader, ReportItem,
};
use crate::calendar::roll_forward;
use crate::collection::{Collection, CollectionStatus, RTransaction, Task, TaskStatus};
use crate::creditor::{Creditor, CreditorId};
use crate::error::StoreError;
use crate::events::Event;
use crate::i18n::{fill, format_amount, format_date, texts};
use crate::mandate::{Mandate, MandateStatus};
use crate::plan::{InstalmentStatus, Plan, PlanStatus};
use crate::ports::{CollectionQuery, Email, Ports, Write};
use crate::reason_codes::{self, FailureClass};
use crate::schedule::earliest_due_date;
use crate::secrets;
use crate::signing::{self, Links};
use crate::use_cases::UseCaseError;

/// What a report did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ReturnsReport {
    pub format: Option<crate::bank_reports::ReportFormat>,
    pub message_id: Option<String>,
    /// Where the file was kept.
    pub file_key: String,
    pub items: u64,
    /// Collections whose status the report changed.
    pub applied: u64,
    /// Items that said again what was already applied.
    pub duplicates: u64,
    /// Items that matched no collection (each a creditor task).
    pub unmatched: u64,
    pub representations_scheduled: u64,
    pub tasks_opened: u64,
}

/// Why a bank file was refused as a whole.
#[derive(Debug, thiserror::Error)]
pub enum ReturnsError {
    /// The file cannot be read: retrying cannot help.
    #[error(transparent)]
    Unreadable(#[from] ReportError),
    /// The store failed: worth a retry.
    #[error(transparent)]
    UseCase(#[from] UseCaseError),
}

impl From<StoreError> for ReturnsError {
    fn from(error: StoreError) -> Self {
        ReturnsError::UseCase(error.into())
    }
}

/// Reads, matches and applies a bank file; the file is kept in the file store under
/// `inbound/<sha256>` (the S3 key it came from, in AWS).
pub async fn process_bank_file(
    ports: &Ports,
    links: &Links,
    bytes: &[u8],
) -> Result<ReturnsReport, ReturnsError> {
    let mut items = Vec::new();
    let header = bank_reports::read_report(bytes, ReadLimits::default(), &mut |item| {
        items.push(item);
    })?;
    let file_key = format!("inbound/{}.xml", secrets::sha256_hex(bytes));
    ports
        .files
        .put_file(&file_key, "application/xml", bytes)
        .await?;
    apply_report(ports, links, &header, &items, &file_key).await
}

/// Reads, matches and applies a bank file that is already in the file store under `key` (in
/// AWS: dropped into the bucket's inbound prefix and announced on SQS). Unlike
/// [`process_bank_file`] it does not store the file again: in AWS that copy would itself be
/// announced, and the file read once more.
pub async fn process_stored_bank_file(
    ports: &Ports,
    links: &Links,
    key: &str,
    bytes: &[u8],
) -> Result<ReturnsReport, ReturnsError> {
    let mut items = Vec::new();
    let header = bank_reports::read_report(bytes, ReadLimits::default(), &mut |item| {
        items.push(item);
    })?;
    apply_report(ports, links, &header, &items, key).await
}

/// Matches and applies the items of one report.
pub async fn apply_report(
    ports: &Ports,
    links: &Links,
    header: &ReportHeader,
    items: &[ReportItem],
    file_key: &str,
) -> Result<ReturnsReport, ReturnsError> {
    let mut report = ReturnsReport {
        format: Some(header.format),
        message_id: Some(header.message_id.clone()),
        file_key: file_key.to_owned(),
        items: items.len() as u64,
        ..ReturnsReport::default()
    };
    for (index, item) in items.iter().enumerate() {
        let collections = match_item(ports, item).await?;
        if collections.is_empty() {
            report.unmatched += 1;
            let task = unmatched_task(ports, header, item, index, file_key);
            if ports.tasks.open_task(&task).await? {
                report.tasks_opened += 1;
            }
            continue;
        }
        for collection in collections {
            apply_to_collection(
                ports,
                links,
                header,
                item,
                &collection,
                file_key,
                &mut report,
            )
            .await?;
        }
    }
    info!(
        message_id = %header.message_id,
        items = report.items,
        applied = report.applied,
        duplicates = report.duplicates,
        unmatched = report.unmatched,
        "bank report applied"
    );
    Ok(report)
}

/// The collections an item speaks of.
async fn match_item(ports: &Ports, item: &ReportItem) -> Result<Vec<Collection>, UseCaseError> {
    match item.scope {
        ItemScope::Message | ItemScope::PaymentInformation => {
            let Some(message_id) = &item.original_message_id else {
                return Ok(Vec::new());
            };
            let batch_id = format!("bat_{}", message_id.trim().to_ascii_lowercase());
            let Some(batch) = ports.collections.get_batch(&batch_id).await? else {
                return Ok(Vec::new());
            };
            let sequence = match (item.scope, &item.original_payment_information_id) {
                (ItemScope::PaymentInformation, Some(id)) => {
                    match batch.payment_informations.iter().find(|p| p.id == *id) {
                        Some(block) => Some(block.sequence_type),
                        None => return Ok(Vec::new()),
                    }
                }
                _ => None,
            };
            let mut found = Vec::new();
            let mut after: Option<String> = None;
            loop {
                let page = ports
                    .collections
                    .collections_of_batch(&batch.id, after.as_deref(), 500)
                    .await?;
                found.extend(
                    page.items
                        .into_iter()
                        .filter(|c| sequence.is_none_or(|s| c.sequence_type == s)),
                );
                match page.next {
                    Some(next) => after = Some(next),
                    None => return Ok(found),
                }
            }
        }
        ItemScope::Transaction => {
            if let Some(end_to_end_id) = item.end_to_end_id.as_deref().map(str::trim)
                && !end_to_end_id.is_empty()
                && end_to_end_id != "NOTPROVIDED"
                && let Some(found) = ports
                    .collections
                    .get_collection_by_end_to_end_id(end_to_end_id)
                    .await?
            {
                return Ok(vec![found]);
            }
            // Without an EndToEndId: the mandate reference, the amount and the date together.
            let (Some(reference), Some(amount), Some(date)) =
                (&item.mandate_reference, item.amount, item.collection_date)
            else {
                return Ok(Vec::new());
            };
            let mut after: Option<String> = None;
            loop {
                let page = ports
                    .collections
                    .list_collections(&CollectionQuery {
                        collection_date: Some(date),
                        after: after.clone(),
                        limit: 500,
                        ..CollectionQuery::default()
                    })
                    .await?;
                if let Some(found) = page.items.into_iter().find(|c| {
                    c.mandate_reference == reference.trim()
                        && c.amount == amount
                        && !is_failed(c.status)
                }) {
                    return Ok(vec![found]);
                }
                match page.next {
                    Some(next) => after = Some(next),
                    None => return Ok(Vec::new()),
                }
            }
        }
    }
}

fn is_failed(status: CollectionStatus) -> bool {
    matches!(
        status,
        CollectionStatus::Rejected | CollectionStatus::Returned | CollectionStatus::Refunded
    )
}

fn unmatched_task(
    ports: &Ports,
    header: &ReportHeader,
    item: &ReportItem,
    index: usize,
    file_key: &str,
) -> Task {
    let now = ports.clock.now();
    Task {
        id: format!(
            "tsk_unmatched_{}",
            &secrets::sha256_hex(format!("{file_key}#{index}"))[..24]
        ),
        creditor_id: CreditorId::parse("unmatched").expect("a valid id"),
        plan_id: None,
        mandate_id: None,
        kind: "unmatched_report_item".to_owned(),
        title: "A bank report names a collection Tranche does not know".to_owned(),
        detail: format!(
            "Item {} of report {} ({:?}, {:?}): EndToEndId {:?}, original message {:?}, batch \
             {:?}, mandate {:?}, amount {:?}, date {:?}, reason {:?} {:?}, bank text {:?}. \
             Find the payment in the bank's records and settle it by hand.",
            index + 1,
            header.message_id,
            header.format,
            item.kind,
            item.end_to_end_id,
            item.original_message_id,
            item.original_payment_information_id,
            item.mandate_reference,
            item.amount.map(|a| a.to_string()),
            item.collection_date,
            item.reason_code,
            item.reason_proprietary,
            item.additional_info,
        ),
        status: TaskStatus::Open,
        outcome: None,
        created_at: now,
        updated_at: now,
    }
}

/// Applies one item to one collection, in one transaction.
#[allow(clippy::too_many_arguments)]
async fn apply_to_collection(
    ports: &Ports,
    links: &Links,
    header: &ReportHeader,
    item: &ReportItem,
    collection: &Collection,
    file_key: &str,
    report: &mut ReturnsReport,
) -> Result<(), UseCaseError> {
    let now = ports.clock.now();
    if item.kind == ItemKind::Accepted {
        if collection.status != CollectionStatus::Batched {
            report.duplicates += 1;
            return Ok(());
        }
        let mut submitted = collection.clone();
        submitted.status = CollectionStatus::Submitted;
        submitted.updated_at = now;
        submitted.version += 1;
        let event = Event::after(
            submitted.event_head.as_ref(),
            &submitted.id,
            "collection.submitted",
            now,
            "bank",
            json!({"report": header.message_id}),
        );
        submitted.event_head = Some(event.head());
        return commit_counted(
            ports,
            vec![
                Write::AppendEvent(event),
                Write::UpdateCollection(submitted),
            ],
            report,
        )
        .await;
    }

    // A failure: once per collection, whichever report says it first.
    if is_failed(collection.status) || collection.status == CollectionStatus::Scheduled {
        report.duplicates += 1;
        return Ok(());
    }
    let Some(creditor) = ports
        .creditors
        .get_creditor(&collection.creditor_id)
        .await?
    else {
        return Ok(());
    };
    let Some(mut plan) = ports.plans.get_plan(&collection.plan_id).await? else {
        return Ok(());
    };
    let mandate = ports.mandates.get_mandate(&collection.mandate_id).await?;
    let class = reason_codes::class_of(item.reason_code.as_deref());
    let kind = match item.kind {
        // A refund claim reported as a plain return is still a refund.
        ItemKind::Returned if matches!(item.reason_code.as_deref(), Some("MD06" | "MD01")) => {
            ItemKind::Refunded
        }
        other => other,
    };
    let r_transaction = RTransaction {
        kind,
        reason_code: item.reason_code.clone(),
        reason_proprietary: item.reason_proprietary.clone(),
        meaning: reason_codes::meaning_of(item.reason_code.as_deref()),
        additional_info: item.additional_info.clone(),
        class,
        source_file: file_key.to_owned(),
        source_message_id: header.message_id.clone(),
        reported_at: now,
        charges: item.charges,
    };

    let mut failed = collection.clone();
    failed.status = match kind {
        ItemKind::Rejected => CollectionStatus::Rejected,
        ItemKind::Refunded => CollectionStatus::Refunded,
        _ => CollectionStatus::Returned,
    };
    failed.status_reason = Some(format!(
        "{} {} ({})",
        item.reason_code
            .as_deref()
            .or(item.reason_proprietary.as_deref())
            .unwrap_or("-"),
        r_transaction.meaning,
        header.message_id
    ));
    failed.r_transaction = Some(r_transaction.clone());
    failed.updated_at = now;
    failed.version += 1;
    let event = Event::after(
        failed.event_head.as_ref(),
        &failed.id,
        &format!("collection.{}", failed.status.as_str()),
        now,
        "bank",
        json!({"reason_code": item.reason_code, "reason_proprietary": item.reason_proprietary, "class": class, "report": header.message_id, "file": file_key}),
    );
    failed.event_head = Some(event.head());
    let mut writes = vec![Write::AppendEvent(event), Write::UpdateCollection(failed)];

    // The instalment, the plan and the mandate.
    let today = ports.clock.today();
    let policy = creditor.dunning;
    let max_attempts = 1 + match class {
        FailureClass::Soft => policy.max_representations,
        FailureClass::SoftOnce => policy.max_representations.min(1),
        _ => 0,
    };
    let mut outcome = Outcome::default();
    if let Some(instalment) = plan
        .instalments
        .iter_mut()
        .find(|i| i.seq == collection.instalment_seq)
    {
        let retry = matches!(class, FailureClass::Soft | FailureClass::SoftOnce)
            && instalment.attempts < max_attempts
            && kind != ItemKind::Refunded;
        if retry {
            let wanted = today + Days::new(u64::from(policy.retry_after_days));
            let earliest =
                earliest_due_date(today, creditor.pre_notification_days, creditor.lead_days);
            let date = roll_forward(wanted.max(earliest));
            instalment.status = InstalmentStatus::Retrying;
            instalment.due_date = date;
            instalment.notified_on = None;
            outcome.representation = Some(date);
        } else {
            instalment.status = InstalmentStatus::Failed;
        }
    }
    outcome.mandate_unusable = matches!(
        class,
        FailureClass::AccountOrMandate | FailureClass::Deceased
    );
    let needs_person = outcome.representation.is_none() && class != FailureClass::Technical;
    if needs_person && !outcome.mandate_unusable && plan.status == PlanStatus::Active {
        plan.status = PlanStatus::InDunning;
        plan.dunning_since = Some(today);
    }
    if plan.status == PlanStatus::Completed {
        // A refund or late return reopens a finished plan.
        plan.status = PlanStatus::InDunning;
        plan.dunning_since = Some(today);
    }
    if outcome.mandate_unusable {
        plan.status_reason = Some(format!(
            "the mandate can no longer be used: {}",
            r_transaction.meaning
        ));
    }
    plan.next_action_on = crate::daily::next_action_on(&plan, &creditor);
    let event = Event::after(
        plan.event_head.as_ref(),
        &plan.id.0,
        "instalment.failed",
        now,
        "bank",
        json!({"seq": collection.instalment_seq, "collection_id": collection.id, "reason_code": item.reason_code, "class": class, "representation_on": outcome.representation, "plan_status": plan.status}),
    );
    plan.event_head = Some(event.head());
    plan.updated_at = now;
    plan.version += 1;
    writes.push(Write::AppendEvent(event));
    writes.push(Write::UpdatePlan(plan.clone()));

    let mut invalidated: Option<Mandate> = None;
    if let Some(mut mandate) = mandate {
        let mut changed = false;
        if collection.sequence_type == crate::pain008::SequenceType::First
            && kind == ItemKind::Rejected
            && mandate.next_sequence != Some(crate::pain008::SequenceType::First)
        {
            // A rejected first collection was never presented: the next one is FRST again.
            mandate.next_sequence = Some(crate::pain008::SequenceType::First);
            changed = true;
        }
        if outcome.mandate_unusable && mandate.status.is_usable() {
            mandate.status = MandateStatus::Invalid;
            changed = true;
        }
        if changed {
            mandate.updated_at = now;
            mandate.version += 1;
            writes.push(Write::AppendEvent(Event::next(
                ports.events.list_events(&mandate.id.0).await?.last(),
                &mandate.id.0,
                if mandate.status == MandateStatus::Invalid {
                    "mandate.invalidated"
                } else {
                    "mandate.sequence_reset"
                },
                now,
                "bank",
                json!({"reason_code": item.reason_code, "collection_id": collection.id}),
            )));
            writes.push(Write::UpdateMandate(mandate.clone()));
            if mandate.status == MandateStatus::Invalid {
                invalidated = Some(mandate);
            }
        }
    }

    match ports.transactions.commit(&writes).await {
        Ok(()) => report.applied += 1,
        Err(StoreError::ConditionFailed(reason)) => {
            info!(collection_id = %collection.id, reason = %reason, "applied meanwhile");
            report.duplicates += 1;
            return Ok(());
        }
        Err(e) => return Err(e.into()),
    }
    if outcome.representation.is_some() {
        report.representations_scheduled += 1;
    }

    // Tell the people: after the commit, so a retry of the file does not tell them twice.
    dun(
        ports,
        links,
        &creditor,
        &plan,
        collection,
        &r_transaction,
        class,
        &outcome,
        report,
    )
    .await?;
    if let Some(mandate) = invalidated
        && class != FailureClass::Deceased
    {
        signing::invite_new_mandate(ports, links, &creditor, &plan, &mandate).await?;
    }
    Ok(())
}

#[derive(Debug, Default)]
struct Outcome {
    /// The new date of a re-presentation.
    representation: Option<NaiveDate>,
    mandate_unusable: bool,
}

async fn commit_counted(
    ports: &Ports,
    writes: Vec<Write>,
    report: &mut ReturnsReport,
) -> Result<(), UseCaseError> {
    match ports.transactions.commit(&writes).await {
        Ok(()) => report.applied += 1,
        Err(StoreError::ConditionFailed(_)) => report.duplicates += 1,
        Err(e) => return Err(e.into()),
    }
    Ok(())
}

/// The e-mails and the task a failure calls for.
#[allow(clippy::too_many_arguments)]
async fn dun(
    ports: &Ports,
    links: &Links,
    creditor: &Creditor,
    plan: &Plan,
    collection: &Collection,
    r_transaction: &RTransaction,
    class: FailureClass,
    outcome: &Outcome,
    report: &mut ReturnsReport,
) -> Result<(), UseCaseError> {
    let now = ports.clock.now();
    let language = plan.debtor.language;
    let t = texts(language);
    let amount = format_amount(collection.amount, language);
    let date = format_date(collection.collection_date, language);

    // The debtor hears of every failure that is theirs to act on.
    if class != FailureClass::Technical && class != FailureClass::Deceased {
        let next = match outcome.representation {
            Some(on) => fill(t.mail_failed_retry, &[("date", &format_date(on, language))]),
            None if outcome.mandate_unusable => t.mail_failed_new_mandate.to_owned(),
            None => fill(t.mail_failed_contact, &[("creditor", &creditor.name)]),
        };
        let email = Email {
            from: links.mail_from.clone(),
            to: vec![plan.debtor.email.clone()],
            subject: fill(
                t.mail_failed_subject,
                &[("amount", &amount), ("creditor", &creditor.name)],
            ),
            text_body: fill(
                t.mail_failed_body,
                &[
                    ("name", &plan.debtor.name),
                    ("amount", &amount),
                    ("date", &date),
                    ("creditor", &creditor.name),
                    ("reason", &r_transaction.meaning),
                    ("next", &next),
                ],
            ),
            html_body: None,
            attachments: Vec::new(),
        };
        if let Err(e) = ports.mailer.send(&email).await {
            tracing::warn!(plan_id = %plan.id, error = %e, "failure notice not sent");
        }
    }

    if outcome.representation.is_some() {
        return Ok(());
    }
    let (kind, title) = match class {
        FailureClass::Technical => (
            "fix_collection_data",
            "A collection failed on our side: fix the cause, then collect again",
        ),
        FailureClass::AccountOrMandate => (
            "mandate_unusable",
            "The debtor's account or mandate cannot be used: a new mandate was asked for",
        ),
        FailureClass::Deceased => ("debtor_deceased", "The debtor has died: handle the estate"),
        _ => ("call_customer", "Call the customer: a collection failed"),
    };
    let task = Task {
        id: format!("tsk_{kind}_{}", collection.id.trim_start_matches("col_")),
        creditor_id: creditor.id.clone(),
        plan_id: Some(plan.id.clone()),
        mandate_id: Some(collection.mandate_id.clone()),
        kind: kind.to_owned(),
        title: title.to_owned(),
        detail: format!(
            "Instalment {} of plan {} ({} due {}) was {}: {} {}. Debtor: {}, {}. Plan status: {}.",
            collection.instalment_seq,
            plan.id,
            collection.amount,
            collection.collection_date,
            r_transaction_kind(r_transaction),
            r_transaction
                .reason_code
                .as_deref()
                .or(r_transaction.reason_proprietary.as_deref())
                .unwrap_or("no code"),
            r_transaction.meaning,
            plan.debtor.name,
            plan.debtor.email,
            plan.status.as_str(),
        ),
        status: TaskStatus::Open,
        outcome: None,
        created_at: now,
        updated_at: now,
    };
    if ports.tasks.open_task(&task).await? {
        report.tasks_opened += 1;
    }
    Ok(())
}

fn r_transaction_kind(r: &RTransaction) -> &'static str {
    match r.kind {
        ItemKind::Rejected => "rejected",
        ItemKind::Refunded => "refunded",
        ItemKind::Reversed => "reversed",
        _ => "returned",
    }
}
