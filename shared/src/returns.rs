//! The return processor: a bank report (pain.002, camt.054, camt.053) read, matched to the
//! collections it speaks of, applied, and the creditor's dunning started.
//!
//! Matching: by the original message id and payment information id for whole-file and
//! whole-batch statuses, by EndToEndId for transactions, and, when a bank left the EndToEndId
//! out, by mandate reference, amount and date. What matches nothing is kept as a creditor task,
//! never dropped.
//!
//! Exactly once: an item's change to a collection is conditional on the collection's, the
//! plan's and the mandate's versions, and made only to a collection that has not failed
//! already; the same file read twice, a retry after a crash in the middle of a file, or the
//! same return reported by pain.002 and again by camt.054 changes nothing the second time.
//!
//! Many items at once: the collections of up to [`LOOKUP_CHUNK`] items are read in one store
//! call by their EndToEndIds, and the changes are committed in groups
//! ([`group_commit`](crate::group_commit)) of up to [`GROUP`] per transaction, one disk sync per
//! group; fewer when the store's transaction would not hold more (DynamoDB takes 100 items). A
//! group never holds two changes to one collection, plan or mandate: the second waits for the
//! first's commit and is built on what that left. A group that fails a condition is committed change by change, and a change that
//! fails alone (another process changed its collection or plan meanwhile) is built again from a
//! fresh read, so it is neither lost nor applied twice.
//!
//! The e-mails, tasks and mandate invitations of a group follow its commit, so a retry of the
//! file never sends them twice; a crash between a group's commit and its e-mails loses those
//! e-mails instead (at most a group's worth).
//!
//! Dunning per failure class ([`crate::reason_codes`]): soft failures are re-presented after
//! the creditor's `retry_after_days` (at most `max_representations` times; MS03 once) as new
//! collections with new EndToEndIds, announced to the debtor; hard failures e-mail the debtor
//! and open a "call the customer" task; account and mandate failures invalidate the mandate,
//! invite the debtor to sign a new one and tell the creditor. A plan whose failure dunning
//! cannot fix is `in_dunning`, and `defaulted` after the creditor's `default_after_days`.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use chrono::{DateTime, Days, NaiveDate, Utc};
use serde::Serialize;
use serde_json::json;
use tracing::{debug, info, warn};

use crate::bank_reports::{
    self, ItemKind, ItemScope, ReadLimits, ReportError, ReportHeader, ReportItem,
};
use crate::calendar::roll_forward;
use crate::collection::{Collection, CollectionStatus, RTransaction, Task, TaskStatus};
use crate::creditor::{Creditor, CreditorId, Language};
use crate::error::StoreError;
use crate::events::Event;
use crate::group_commit::{Group, GroupOutcome, InFlight, Unit};
use crate::i18n::{fill, format_amount, format_date, texts};
use crate::mandate::{Mandate, MandateId, MandateStatus};
use crate::plan::{InstalmentStatus, Plan, PlanId, PlanStatus};
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

/// Changes (one item applied to one collection) committed in one transaction, at most (fewer
/// where the store's transaction holds fewer: DynamoDB's 100 items). A file's first group holds
/// one change and each next group twice as many as the one before, so a file of a few items is
/// applied nearly item by item, and a large one soon this many at a time.
///
/// Large on purpose: each change rewrites rows at random places in their tables and indexes,
/// and a page that several changes of one transaction touch is written to SQLite's log once.
/// On 100 000 returns (README, Figures) groups of 8 192 take the file-system output from 35 GB
/// to 11 GB and the time from about 40 s to 25 s, for up to 460 MB more peak memory (707 MiB
/// with the outbox); 256 took half as long again. The price: a crash between a group's commit and its e-mails loses up to this many
/// notices (a retry of the file finds the items applied and sends none).
const GROUP: usize = 8192;
/// Items whose collections (and plans) are read ahead in one store call: a group never spans
/// two chunks, since what is read ahead must not be older than what waits for its commit, so
/// this is [`GROUP`] too.
const LOOKUP_CHUNK: usize = GROUP;
/// Times a change whose collection, plan or mandate another process changed meanwhile is built
/// again from a fresh read and committed alone, before it counts as applied by that process.
const RETRIES: u32 = 2;
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
    let mut run = ReportRun {
        ports,
        links,
        header,
        file_key,
        report: ReturnsReport {
            format: Some(header.format),
            message_id: Some(header.message_id.clone()),
            file_key: file_key.to_owned(),
            items: items.len() as u64,
            ..ReturnsReport::default()
        },
        creditors: HashMap::new(),
        changed: HashSet::new(),
        group: Group::default(),
        group_keys: HashSet::new(),
        group_limit: 1,
        plans: HashMap::new(),
        mandates: HashMap::new(),
        in_flight: None,
    };
    if let Err(e) = run.apply_items(items).await {
        // What the group in flight committed is told to the people it concerns all the same:
        // a retry of the file finds it applied and tells no one.
        if let Err(landing) = run.land().await {
            warn!(error = %landing, "the group in flight did not land after an error");
        }
        return Err(e.into());
    }

    let report = run.report;
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

/// Whether the failure `item` reports of `collection` may change its mandate: a rejected first
/// collection puts it back on FRST, an account or mandate failure makes it unusable. As
/// [`ReportRun::prepare`] decides, before it knows whether the item was applied already.
fn may_change_mandate(item: &ReportItem, collection: &Collection) -> bool {
    let rejected_first = collection.sequence_type == crate::pain008::SequenceType::First
        && item.kind == ItemKind::Rejected;
    rejected_first
        || matches!(
            reason_codes::class_of(item.reason_code.as_deref()),
            FailureClass::AccountOrMandate | FailureClass::Deceased
        )
}

/// The EndToEndId a transaction item names, when it names one.
fn end_to_end_id(item: &ReportItem) -> Option<&str> {
    if item.scope != ItemScope::Transaction {
        return None;
    }
    item.end_to_end_id
        .as_deref()
        .map(str::trim)
        .filter(|id| !id.is_empty() && *id != "NOTPROVIDED")
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

/// One report being applied: its counters, what it read once, and the changes waiting for
/// their group's commit.
struct ReportRun<'a> {
    ports: &'a Ports,
    links: &'a Links,
    header: &'a ReportHeader,
    file_key: &'a str,
    report: ReturnsReport,
    /// Creditors read once per report (the return processor never changes one).
    creditors: HashMap<CreditorId, Option<Arc<Creditor>>>,
    /// Collections this report changed (or is about to): a copy read before is stale.
    changed: HashSet<String>,
    /// Changes built but not committed yet.
    group: Group<Change<'a>>,
    /// The collections, plans and mandates the group writes.
    group_keys: HashSet<String>,
    /// How many changes the group takes before it is committed.
    group_limit: usize,
    /// Plans read ahead for a chunk of items, each taken by the first change built on it: a
    /// later change to the same plan reads it again, after the group that changed it.
    plans: HashMap<PlanId, Plan>,
    /// Mandates a chunk's failures may change, read ahead with their newest events and taken
    /// as the plans are.
    mandates: HashMap<String, (Mandate, Option<Event>)>,
    /// The group sent to the store before this one, committing while the next changes are
    /// read and built ([`Self::send_group`]); its people are told once it has landed. A change
    /// to a collection, plan or mandate it writes waits for it, and what was read ahead of them
    /// is read again.
    in_flight: Option<InFlight<'a, Result<GroupOutcome<Change<'a>>, StoreError>>>,
}

/// One item's change to one collection: its writes, and what follows their commit.
struct Change<'a> {
    item: &'a ReportItem,
    collection_id: String,
    writes: Vec<Write>,
    /// A re-presentation is scheduled.
    representation: bool,
    /// The failure notice to the debtor.
    notice: Option<Notice>,
    task: Option<Task>,
    /// The mandate became unusable: the debtor is invited to sign a new one.
    invitation: Option<Box<Invitation>>,
}

struct Invitation {
    creditor: Arc<Creditor>,
    plan: Plan,
    mandate: Mandate,
}

impl Unit for Change<'_> {
    fn writes(&self) -> &[Write] {
        &self.writes
    }

    fn writes_mut(&mut self) -> &mut Vec<Write> {
        &mut self.writes
    }
}

/// What an item means for one collection.
enum Prepared<'a> {
    Change(Box<Change<'a>>),
    /// The collection is past what the item says: reported (and applied) before.
    Duplicate,
    /// Nothing to do, and nothing to count (the creditor or plan is gone).
    Nothing,
}

impl<'a> ReportRun<'a> {
    /// Matches and applies `items`, a chunk at a time, and commits everything.
    async fn apply_items(&mut self, items: &'a [ReportItem]) -> Result<(), UseCaseError> {
        for (chunk_index, chunk) in items.chunks(LOOKUP_CHUNK).enumerate() {
            // What is read ahead of the group in flight is read again when an item needs it.
            self.send_group().await?;
            let known = self.collections_by_end_to_end_id(chunk).await?;
            self.read_plans_of(known.values()).await?;
            self.read_mandates_of(chunk, &known).await?;
            for (offset, item) in chunk.iter().enumerate() {
                self.apply_item(item, chunk_index * LOOKUP_CHUNK + offset, &known)
                    .await?;
            }
        }
        self.commit_group().await
    }

    /// The collections the transaction items of `chunk` name by EndToEndId, by that id.
    async fn collections_by_end_to_end_id(
        &self,
        chunk: &[ReportItem],
    ) -> Result<HashMap<String, Collection>, UseCaseError> {
        let ids: Vec<String> = chunk
            .iter()
            .filter_map(end_to_end_id)
            .map(str::to_owned)
            .collect();
        if ids.is_empty() {
            return Ok(HashMap::new());
        }
        let found = self
            .ports
            .collections
            .get_collections_by_end_to_end_ids(&ids)
            .await?;
        Ok(found
            .into_iter()
            .map(|c| (c.end_to_end_id.clone(), c))
            .collect())
    }

    /// Matches one item and applies it to each collection it speaks of.
    async fn apply_item(
        &mut self,
        item: &'a ReportItem,
        index: usize,
        known: &HashMap<String, Collection>,
    ) -> Result<(), UseCaseError> {
        let collections = match end_to_end_id(item).and_then(|id| known.get(id)) {
            Some(collection) => vec![collection.clone()],
            None => {
                // The other ways to match read the store as it is now, statuses included:
                // what waits for its commit goes first.
                self.commit_group().await?;
                match_item(self.ports, item).await?
            }
        };
        if collections.is_empty() {
            self.report.unmatched += 1;
            let task = unmatched_task(self.ports, self.header, item, index, self.file_key);
            if self.ports.tasks.open_task(&task).await? {
                self.report.tasks_opened += 1;
            }
            return Ok(());
        }
        for collection in collections {
            self.apply_to_collection(item, collection).await?;
        }
        Ok(())
    }

    /// Adds the item's change to `collection` to the group, committing the group first when it
    /// writes the same collection, plan or mandate or the store's transaction would not hold the
    /// change with it, and after when it is full.
    async fn apply_to_collection(
        &mut self,
        item: &'a ReportItem,
        collection: Collection,
    ) -> Result<(), UseCaseError> {
        let keys = [
            collection.id.clone(),
            collection.plan_id.0.clone(),
            collection.mandate_id.0.clone(),
        ];
        if let Some(flight) = &self.in_flight
            && keys.iter().any(|key| flight.writes(key))
        {
            self.land().await?;
        }
        if keys.iter().any(|key| self.group_keys.contains(key)) {
            self.commit_group().await?;
        }
        let collection = if self.changed.contains(&collection.id) {
            // Read before an earlier item of this report changed it.
            match self
                .ports
                .collections
                .get_collection(&collection.id)
                .await?
            {
                Some(collection) => collection,
                None => return Ok(()),
            }
        } else {
            collection
        };
        match self.prepare(item, &collection).await? {
            Prepared::Duplicate => self.report.duplicates += 1,
            Prepared::Nothing => {}
            Prepared::Change(change) => {
                self.changed.insert(collection.id.clone());
                if let Err(change) = self
                    .group
                    .push_if_fits(self.ports.transactions.as_ref(), *change)
                {
                    // The store's transaction would not hold it with the waiting changes.
                    self.commit_group().await?;
                    self.group.start_with(change);
                }
                self.group_keys.extend(keys);
                if self.group.len() >= self.group_limit {
                    self.send_group().await?;
                }
            }
        }
        Ok(())
    }

    /// Commits the waiting changes and the group in flight, and tells the people about those
    /// that were committed.
    async fn commit_group(&mut self) -> Result<(), UseCaseError> {
        self.send_group().await?;
        self.land().await
    }

    /// Sends the waiting changes, if any, to the store and goes on without waiting for their
    /// commit, after the group sent before has landed: one group in flight at a time.
    async fn send_group(&mut self) -> Result<(), UseCaseError> {
        if self.group.is_empty() {
            return Ok(());
        }
        self.land().await?;
        self.group_limit = (self.group_limit * 2).min(GROUP);
        let group = std::mem::take(&mut self.group);
        let commit = group.commit_owned_group(self.ports.transactions.as_ref());
        let keys = std::mem::take(&mut self.group_keys);
        self.in_flight = Some(InFlight::start(commit, keys).await);
        Ok(())
    }

    /// Waits for the group in flight, builds its refused changes again, and tells the people
    /// about its committed ones. What was read ahead of its collections, plans and mandates is
    /// dropped, to be read again as the commit left them.
    async fn land(&mut self) -> Result<(), UseCaseError> {
        let Some(flight) = self.in_flight.take() else {
            return Ok(());
        };
        for key in &flight.keys {
            self.plans.remove(&PlanId(key.clone()));
            self.mandates.remove(key);
        }
        let outcome = flight.landed().await?;
        let mut committed = outcome.committed;
        for (change, reason) in outcome.refused {
            if let Some(change) = self.retry_alone(change, reason).await? {
                committed.push(change);
            }
        }
        self.after_commit(committed).await
    }

    /// Builds a refused change again from a fresh read of its collection (and so of its plan
    /// and mandate) and commits it alone; answers it when it was committed.
    async fn retry_alone(
        &mut self,
        refused: Change<'a>,
        mut reason: String,
    ) -> Result<Option<Change<'a>>, UseCaseError> {
        let Change {
            item,
            collection_id,
            ..
        } = refused;
        for _ in 0..RETRIES {
            debug!(collection_id = %collection_id, reason = %reason, "changed meanwhile, reading it again");
            let Some(collection) = self
                .ports
                .collections
                .get_collection(&collection_id)
                .await?
            else {
                return Ok(None);
            };
            // Nothing read ahead: it may be what changed meanwhile.
            self.plans.remove(&collection.plan_id);
            self.mandates.remove(&collection.mandate_id.0);
            let change = match self.prepare(item, &collection).await? {
                Prepared::Change(change) => change,
                Prepared::Duplicate => {
                    self.report.duplicates += 1;
                    return Ok(None);
                }
                Prepared::Nothing => return Ok(None),
            };
            match self.ports.transactions.commit(&change.writes).await {
                Ok(()) => return Ok(Some(*change)),
                Err(StoreError::ConditionFailed(again)) => reason = again,
                Err(e) => return Err(e.into()),
            }
        }
        info!(collection_id = %collection_id, reason = %reason, "applied meanwhile");
        self.report.duplicates += 1;
        Ok(None)
    }

    /// Counts the committed changes and sends, opens and invites what they call for: after the
    /// commit, so a retry of the file does not tell anyone twice.
    async fn after_commit(&mut self, mut committed: Vec<Change<'a>>) -> Result<(), UseCaseError> {
        let mut notices = Vec::new();
        for change in &mut committed {
            self.report.applied += 1;
            if change.representation {
                self.report.representations_scheduled += 1;
            }
            notices.extend(change.notice.take());
        }
        send_notices(self.ports, self.links, notices).await;
        for change in committed {
            if let Some(task) = change.task
                && self.ports.tasks.open_task(&task).await?
            {
                self.report.tasks_opened += 1;
            }
            if let Some(invitation) = change.invitation {
                let Invitation {
                    creditor,
                    plan,
                    mandate,
                } = *invitation;
                signing::invite_new_mandate(self.ports, self.links, &creditor, &plan, &mandate)
                    .await?;
            }
        }
        Ok(())
    }

    /// Reads the plans of `collections` in one store call, for [`Self::plan`].
    async fn read_plans_of(
        &mut self,
        collections: impl Iterator<Item = &Collection>,
    ) -> Result<(), UseCaseError> {
        let ids: Vec<PlanId> = collections.map(|c| c.plan_id.clone()).collect();
        self.plans.clear();
        if ids.is_empty() {
            return Ok(());
        }
        let plans = self.ports.plans.get_plans(&ids).await?;
        self.plans = plans.into_iter().map(|p| (p.id.clone(), p)).collect();
        Ok(())
    }

    /// Reads the mandates that the failures of `chunk` may change (a rejected first collection,
    /// an account or mandate failure), and their newest events, in one store call each, for
    /// [`Self::mandate_with_head`].
    async fn read_mandates_of(
        &mut self,
        chunk: &[ReportItem],
        known: &HashMap<String, Collection>,
    ) -> Result<(), UseCaseError> {
        self.mandates.clear();
        let ids: Vec<MandateId> = chunk
            .iter()
            .filter_map(|item| {
                let collection = known.get(end_to_end_id(item)?)?;
                may_change_mandate(item, collection).then(|| collection.mandate_id.clone())
            })
            .collect();
        if ids.is_empty() {
            return Ok(());
        }
        let mandates = self.ports.mandates.get_mandates(&ids).await?;
        let ids: Vec<String> = mandates.iter().map(|m| m.id.0.clone()).collect();
        let mut heads: HashMap<String, Event> = self
            .ports
            .events
            .last_events(&ids)
            .await?
            .into_iter()
            .map(|event| (event.aggregate_id.clone(), event))
            .collect();
        self.mandates = mandates
            .into_iter()
            .map(|m| {
                let head = heads.remove(&m.id.0);
                (m.id.0.clone(), (m, head))
            })
            .collect();
        Ok(())
    }

    /// The mandate and its newest event as read ahead for this chunk, or as stored now when
    /// they were taken already.
    async fn mandate_with_head(
        &mut self,
        id: &MandateId,
    ) -> Result<Option<(Mandate, Option<Event>)>, UseCaseError> {
        if let Some(found) = self.mandates.remove(&id.0) {
            return Ok(Some(found));
        }
        let Some(mandate) = self.ports.mandates.get_mandate(id).await? else {
            return Ok(None);
        };
        let head = self
            .ports
            .events
            .last_events(std::slice::from_ref(&id.0))
            .await?
            .pop();
        Ok(Some((mandate, head)))
    }

    /// The plan as read ahead for this chunk, or as stored now when it was taken already.
    async fn plan(&mut self, id: &PlanId) -> Result<Option<Plan>, UseCaseError> {
        match self.plans.remove(id) {
            Some(plan) => Ok(Some(plan)),
            None => Ok(self.ports.plans.get_plan(id).await?),
        }
    }

    async fn creditor(&mut self, id: &CreditorId) -> Result<Option<Arc<Creditor>>, UseCaseError> {
        if let Some(found) = self.creditors.get(id) {
            return Ok(found.clone());
        }
        let creditor = self.ports.creditors.get_creditor(id).await?.map(Arc::new);
        self.creditors.insert(id.clone(), creditor.clone());
        Ok(creditor)
    }

    /// The change `item` makes to `collection`, built on the collection as given and on the
    /// plan and mandate as stored now.
    async fn prepare(
        &mut self,
        item: &'a ReportItem,
        collection: &Collection,
    ) -> Result<Prepared<'a>, UseCaseError> {
        let ports = self.ports;
        let header = self.header;
        let now = ports.clock.now();
        if item.kind == ItemKind::Accepted {
            if collection.status != CollectionStatus::Batched {
                return Ok(Prepared::Duplicate);
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
            return Ok(Prepared::Change(Box::new(Change {
                item,
                collection_id: collection.id.clone(),
                writes: vec![
                    Write::AppendEvent(event),
                    Write::UpdateCollection(submitted),
                ],
                representation: false,
                notice: None,
                task: None,
                invitation: None,
            })));
        }

        // A failure: once per collection, whichever report says it first.
        if is_failed(collection.status) || collection.status == CollectionStatus::Scheduled {
            return Ok(Prepared::Duplicate);
        }
        let Some(creditor) = self.creditor(&collection.creditor_id).await? else {
            return Ok(Prepared::Nothing);
        };
        let Some(mut plan) = self.plan(&collection.plan_id).await? else {
            return Ok(Prepared::Nothing);
        };
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
            source_file: self.file_key.to_owned(),
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
            json!({"reason_code": item.reason_code, "reason_proprietary": item.reason_proprietary, "class": class, "report": header.message_id, "file": self.file_key}),
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

        // Only a rejected first collection or an unusable mandate changes the mandate.
        let rejected_first = collection.sequence_type == crate::pain008::SequenceType::First
            && kind == ItemKind::Rejected;
        let mandate = if rejected_first || outcome.mandate_unusable {
            self.mandate_with_head(&collection.mandate_id).await?
        } else {
            None
        };
        let mut invitation = None;
        if let Some((mut mandate, head)) = mandate {
            let mut changed = false;
            if rejected_first && mandate.next_sequence != Some(crate::pain008::SequenceType::First)
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
                    head.as_ref(),
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
                if mandate.status == MandateStatus::Invalid && class != FailureClass::Deceased {
                    invitation = Some(Box::new(Invitation {
                        creditor: Arc::clone(&creditor),
                        plan: plan.clone(),
                        mandate,
                    }));
                }
            }
        }

        let (notice, task) = dunning(
            self.links,
            &creditor,
            &plan,
            collection,
            &r_transaction,
            class,
            &outcome,
            now,
        );
        Ok(Prepared::Change(Box::new(Change {
            item,
            collection_id: collection.id.clone(),
            writes,
            representation: outcome.representation.is_some(),
            notice: notice.map(|email| Notice {
                plan_id: plan.id.clone(),
                email,
                // A debtor who cannot pay this month can ask for a pause or smaller
                // instalments; not when the mandate is gone.
                self_service: (!outcome.mandate_unusable).then_some(plan.debtor.language),
            }),
            task,
            invitation,
        })))
    }
}

/// A failure notice to a debtor, sent once its change is committed.
struct Notice {
    plan_id: PlanId,
    email: Email,
    /// The debtor's language, when the notice carries a self-service link.
    self_service: Option<Language>,
}

#[derive(Debug, Default)]
struct Outcome {
    /// The new date of a re-presentation.
    representation: Option<NaiveDate>,
    mandate_unusable: bool,
}

/// Sends the failure notices, all in one call to the mailer. A notice that cannot be sent is
/// logged and not tried again: its change is committed, and a retry of the file would not
/// send it either.
async fn send_notices(ports: &Ports, links: &Links, mut notices: Vec<Notice>) {
    // The group's self-service links are stored in one call, not one commit per e-mail.
    let wanted: Vec<(PlanId, Language)> = notices
        .iter()
        .filter_map(|n| n.self_service.map(|language| (n.plan_id.clone(), language)))
        .collect();
    let mut lines = crate::self_service::link_lines(ports, links, &wanted)
        .await
        .into_iter();
    for notice in notices.iter_mut().filter(|n| n.self_service.is_some()) {
        notice
            .email
            .text_body
            .push_str(&lines.next().unwrap_or_default());
    }
    let (plans, emails): (Vec<PlanId>, Vec<Email>) = notices
        .into_iter()
        .map(|Notice { plan_id, email, .. }| (plan_id, email))
        .unzip();
    let outcomes = ports.mailer.send_all(&emails).await;
    for (plan_id, outcome) in plans.iter().zip(outcomes) {
        if let Err(e) = outcome {
            warn!(plan_id = %plan_id, error = %e, "failure notice not sent");
        }
    }
}

/// The e-mail to the debtor and the task for the creditor that a failure calls for.
#[allow(clippy::too_many_arguments)]
fn dunning(
    links: &Links,
    creditor: &Creditor,
    plan: &Plan,
    collection: &Collection,
    r_transaction: &RTransaction,
    class: FailureClass,
    outcome: &Outcome,
    now: DateTime<Utc>,
) -> (Option<Email>, Option<Task>) {
    let language = plan.debtor.language;
    let t = texts(language);
    let amount = format_amount(collection.amount, language);
    let date = format_date(collection.collection_date, language);

    // The debtor hears of every failure that is theirs to act on.
    let mut notice = None;
    if class != FailureClass::Technical && class != FailureClass::Deceased {
        let next = match outcome.representation {
            Some(on) => fill(t.mail_failed_retry, &[("date", &format_date(on, language))]),
            None if outcome.mandate_unusable => t.mail_failed_new_mandate.to_owned(),
            None => fill(t.mail_failed_contact, &[("creditor", &creditor.name)]),
        };
        notice = Some(Email {
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
        });
    }

    if outcome.representation.is_some() {
        return (notice, None);
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
    (notice, Some(task))
}

fn r_transaction_kind(r: &RTransaction) -> &'static str {
    match r.kind {
        ItemKind::Rejected => "rejected",
        ItemKind::Refunded => "refunded",
        ItemKind::Reversed => "reversed",
        _ => "returned",
    }
}
