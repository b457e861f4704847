//! The batch generator: the scheduled collections of one creditor, scheme and collection date
//! into pain.008 files in the file store.
//!
//! One file per creditor, scheme and date, one `PmtInf` per sequence type, split into parts of
//! at most the creditor's `max_transactions_per_file`. The file is streamed to a temporary file
//! and handed to the file store from there, and the collections are paged through, so memory
//! stays flat whatever the batch size.
//!
//! # Steps
//!
//! A file of 10 000 collections cannot be recorded in one transaction (DynamoDB takes at most
//! 100 items in one), so a batch is written in steps, each one commit that is right on its own:
//!
//! 1. **Open**: the batch record is inserted, `open`, together with the first collections moved
//!    to `batched` under its id. Its id derives from creditor, scheme, date, round and part, and
//!    the insert is conditional, so two runs cannot open two batches under one id.
//! 2. **Fill**: more collections are moved in, as many per commit as the store takes
//!    ([`TransactionalStore::fits_in_one_commit`](crate::ports::TransactionalStore)); every such
//!    commit updates the record's totals too, conditionally on its revision, and each collection
//!    conditionally on its version. So a collection is in one batch only, and the record always
//!    counts exactly the collections that name it.
//! 3. **Seal**: once the batch is full or no scheduled collection is left, the record becomes
//!    `sealed` (in the last fill commit, or alone): no collection moves in after that, and its
//!    `created_at` becomes the file's `CreDtTm`.
//! 4. **File**: the file is written from the sealed record and the collections that name the
//!    batch, and stored under a key derived from the message id. It depends on nothing but the
//!    sealed record and those collections (and the creditor's name and account), so a second run
//!    writing it writes the same bytes.
//! 5. **Complete**: the record becomes `complete`. Only a complete batch is downloadable.
//!
//! A run first finishes every unfinished batch of its creditor, scheme and date (filling an open
//! one further, then the steps after), and only then opens new ones, in a new round. A crash or
//! an error between any two steps leaves a batch that the next run finishes; a run that meets a
//! batch another run is writing joins it, and whichever commit comes second is refused and read
//! again. Nothing is ever moved back to `scheduled`.

use std::fs::File;
use std::io::BufWriter;
use std::path::PathBuf;

use chrono::NaiveDate;
use tracing::{debug, info};

use crate::charset;
use crate::collection::{
    Batch, BatchRequest, BatchStatus, Collection, CollectionAmendment, CollectionStatus,
    PaymentInformationRef,
};
use crate::creditor::Creditor;
use crate::error::StoreError;
use crate::money::Amount;
use crate::pain008::{
    AccountAmendment, CreditorParty, DirectDebitTransaction, GroupHeader, MandateAmendment,
    Pain008Error, Pain008Version, Pain008Writer, PaymentInformation,
};
use crate::plan::Scheme;
use crate::ports::{Ports, Write};
use crate::secrets;
use crate::use_cases::UseCaseError;

/// Collections read per page.
const PAGE: u32 = 500;

/// How often in a row a step may lose a race to another run before the run gives up (with a
/// retryable error): each lost race means the other run made progress.
const MAX_LOST_RACES: u32 = 50;

/// What came of a batch request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BatchOutcome {
    /// The ids of the batches written (none when nothing was scheduled).
    Written(Vec<String>),
    /// No file was written and nothing was marked batched: what to fix.
    Refused(String),
}

fn scheme_code(scheme: Scheme) -> &'static str {
    match scheme {
        Scheme::Core => "CORE",
        Scheme::B2b => "B2B",
    }
}

/// The message id of a batch: `TR`, the date, the scheme's letter, the round, the part and a
/// digest of the creditor id; 24 characters of the SEPA identifier set, unique per creditor.
pub fn message_id(
    creditor: &Creditor,
    scheme: Scheme,
    date: NaiveDate,
    round: u32,
    part: u32,
) -> String {
    let digest = secrets::sha256_hex(creditor.id.as_str());
    format!(
        "TR{}{}{:02}{:03}{}",
        date.format("%Y%m%d"),
        if scheme == Scheme::Core { 'C' } else { 'B' },
        round % 100,
        part % 1000,
        digest[..8].to_ascii_uppercase()
    )
}

/// Checks what the creditor contributes to every file, before anything is written.
fn creditor_party(creditor: &Creditor) -> Result<CreditorParty, String> {
    let name = charset::to_sepa_text(&creditor.name, 70).ok_or_else(|| {
        format!(
            "The creditor name \"{}\" has no character left once converted to the SEPA \
             character set (A-Z a-z 0-9 / - ? : ( ) . , ' + and space). Set a name in Latin \
             letters with PUT /v1/creditors/{}.",
            creditor.name, creditor.id
        )
    })?;
    Ok(CreditorParty {
        name,
        address: Some(creditor.address.clone()),
        iban: creditor.iban.clone(),
        bic: creditor.bic.clone(),
        creditor_identifier: creditor.creditor_identifier.clone(),
    })
}

fn transaction(collection: &Collection) -> DirectDebitTransaction {
    DirectDebitTransaction {
        end_to_end_id: collection.end_to_end_id.clone(),
        amount: collection.amount,
        mandate_reference: collection.mandate_reference.clone(),
        mandate_signed_on: collection.mandate_signed_on,
        amendment: collection.amendment.as_ref().map(|a| MandateAmendment {
            account: Some(match a {
                CollectionAmendment::SameBank { previous_iban } => AccountAmendment::SameBank {
                    previous_iban: previous_iban.clone(),
                },
                CollectionAmendment::OtherBank => AccountAmendment::OtherBank,
            }),
            previous_mandate_reference: None,
        }),
        debtor_name: collection.debtor_name.clone(),
        debtor_address: collection.debtor_address.clone(),
        debtor_iban: collection.debtor_iban.clone(),
        debtor_bic: collection.debtor_bic.clone(),
        remittance: collection.remittance.clone(),
    }
}

/// The id of the batch with this message id.
fn batch_id(message_id: &str) -> String {
    format!("bat_{}", message_id.to_ascii_lowercase())
}

fn invalid(error: Pain008Error) -> String {
    format!("The batch file could not be written: {error}.")
}

fn corrupt(what: String) -> UseCaseError {
    UseCaseError::Store(StoreError::Corrupt(what))
}

/// Writes the files of one creditor, scheme and date: first finishes the batches an earlier
/// run left unfinished, then batches what is still scheduled, in a new round.
pub async fn generate_batches(
    ports: &Ports,
    request: &BatchRequest,
) -> Result<BatchOutcome, UseCaseError> {
    let Some(creditor) = ports.creditors.get_creditor(&request.creditor_id).await? else {
        return Ok(BatchOutcome::Refused(format!(
            "There is no creditor \"{}\".",
            request.creditor_id
        )));
    };
    let party = match creditor_party(&creditor) {
        Ok(party) => party,
        Err(problem) => return Ok(BatchOutcome::Refused(problem)),
    };
    let writer = BatchWriter {
        ports,
        creditor: &creditor,
        party: &party,
        request,
        max: u64::from(creditor.max_transactions_per_file.max(1)),
    };

    let mut written = Vec::new();
    for batch in writer.unfinished().await? {
        info!(batch_id = %batch.id, status = batch.status.as_str(), "finishing a batch");
        match writer.finish(batch).await? {
            (id, None) => written.push(id),
            (_, Some(problem)) => return Ok(BatchOutcome::Refused(problem)),
        }
    }

    // Every scheduled collection is checked before any is moved, so that data the file
    // cannot hold refuses the request with nothing more marked batched.
    if let Some(problem) = writer.check_scheduled().await? {
        return Ok(BatchOutcome::Refused(format!(
            "{problem} Nothing was marked batched."
        )));
    }

    let round = ports
        .collections
        .batch_rounds(
            &request.creditor_id,
            request.scheme,
            request.collection_date,
        )
        .await?
        + 1;
    let mut part = 1;
    loop {
        match writer.open(round, part).await? {
            Opened::Batch(batch, stopped_by) => match (writer.finish(batch).await?, stopped_by) {
                ((id, None), None) => written.push(id),
                ((_, Some(problem)), _) | (_, Some(problem)) => {
                    return Ok(BatchOutcome::Refused(problem));
                }
            },
            // A complete batch holds this id already (the round number wrapped, or another
            // run wrote this part): the next part number gives a new message id.
            Opened::Taken => {}
            Opened::Nothing => break,
            Opened::Refused(problem) => return Ok(BatchOutcome::Refused(problem)),
        }
        part += 1;
    }
    Ok(BatchOutcome::Written(written))
}

/// What came of opening a batch.
enum Opened {
    /// The batch, stored (and further along when another run opened it first), and the
    /// problem that stopped its filling early, when one did.
    Batch(Batch, Option<String>),
    /// A complete batch has this id.
    Taken,
    /// No scheduled collection is left.
    Nothing,
    /// The first collection cannot go into a file: what to fix.
    Refused(String),
}

/// The total of a draft with no collection yet, replaced by [`add_to`] with the first one (an
/// amount is never zero); a batch is stored only with at least one collection.
fn placeholder_total() -> Result<Amount, UseCaseError> {
    Amount::from_cents(1).map_err(|e| corrupt(e.to_string()))
}

/// The update that moves `collection` into the batch `batch_id`.
fn claimed(collection: &Collection, batch_id: &str, now: chrono::DateTime<chrono::Utc>) -> Write {
    let mut claimed = collection.clone();
    claimed.status = CollectionStatus::Batched;
    claimed.batch_id = Some(batch_id.to_owned());
    claimed.updated_at = now;
    claimed.version += 1;
    Write::UpdateCollection(claimed)
}

/// Counts `collection` into the record's totals and its `PmtInf` block; the blocks stay in
/// `SequenceType` order and are numbered `<message id>-1`, `-2`, ... in that order.
fn add_to(batch: &mut Batch, collection: &Collection) -> Result<(), UseCaseError> {
    let cents = collection.amount.cents();
    // An amount is never zero: an empty draft's total is a placeholder the first replaces.
    let before = match batch.number_of_transactions {
        0 => 0,
        _ => batch.control_sum.cents(),
    };
    batch.number_of_transactions += 1;
    batch.control_sum = before
        .checked_add(cents)
        .and_then(|sum| Amount::from_cents(sum).ok())
        .ok_or_else(|| corrupt(format!("the total of batch {} overflows", batch.id)))?;
    match batch
        .payment_informations
        .iter_mut()
        .find(|p| p.sequence_type == collection.sequence_type)
    {
        Some(block) => {
            block.number_of_transactions += 1;
            block.control_sum_cents += cents;
        }
        None => {
            batch.payment_informations.push(PaymentInformationRef {
                id: String::new(),
                sequence_type: collection.sequence_type,
                number_of_transactions: 1,
                control_sum_cents: cents,
            });
            batch.payment_informations.sort_by_key(|p| p.sequence_type);
            for (index, block) in batch.payment_informations.iter_mut().enumerate() {
                block.id = format!("{}-{}", batch.message_id, index + 1);
            }
        }
    }
    Ok(())
}

/// The collections of one request on their way into batches.
struct BatchWriter<'a> {
    ports: &'a Ports,
    creditor: &'a Creditor,
    party: &'a CreditorParty,
    request: &'a BatchRequest,
    /// The creditor's `max_transactions_per_file`.
    max: u64,
}

impl BatchWriter<'_> {
    /// The first problem a file of the scheduled collections would have, page by page.
    async fn check_scheduled(&self) -> Result<Option<String>, UseCaseError> {
        let mut after: Option<String> = None;
        loop {
            let page = self.scheduled(after.as_deref(), PAGE).await?;
            if let Err((_, problem)) = self.check(self.creditor.pain008_version, &page.items) {
                return Ok(Some(problem));
            }
            match page.next {
                Some(next) => after = Some(next),
                None => return Ok(None),
            }
        }
    }

    async fn scheduled(
        &self,
        after: Option<&str>,
        limit: u32,
    ) -> Result<crate::ports::Page<Collection>, UseCaseError> {
        Ok(self
            .ports
            .collections
            .scheduled_collections(
                &self.request.creditor_id,
                self.request.scheme,
                self.request.collection_date,
                after,
                limit,
            )
            .await?)
    }

    /// Writes `collections` into a file that is thrown away, to learn whether a real one could
    /// hold them; answers the index of the first that cannot be written and why.
    fn check(
        &self,
        version: Pain008Version,
        collections: &[Collection],
    ) -> Result<(), (usize, String)> {
        if collections.is_empty() {
            return Ok(());
        }
        let mut totals: Vec<(crate::pain008::SequenceType, u64, i64)> = Vec::new();
        for collection in collections {
            match totals
                .iter_mut()
                .find(|(s, _, _)| *s == collection.sequence_type)
            {
                Some((_, count, sum)) => {
                    *count += 1;
                    *sum = sum.saturating_add(collection.amount.cents());
                }
                None => totals.push((collection.sequence_type, 1, collection.amount.cents())),
            }
        }
        let header = GroupHeader {
            message_id: "CHECK".to_owned(),
            created_at: self.ports.clock.now(),
            initiating_party: self.party.name.clone(),
            number_of_transactions: collections.len() as u64,
            control_sum_cents: totals
                .iter()
                .map(|(_, _, sum)| sum)
                .fold(0i64, |a, b| a.saturating_add(*b)),
        };
        let mut writer =
            Pain008Writer::start(std::io::sink(), version, &header).map_err(|e| (0, invalid(e)))?;
        for (block, (sequence_type, count, sum)) in totals.iter().enumerate() {
            let info = PaymentInformation {
                payment_information_id: format!("CHECK-{}", block + 1),
                scheme: self.request.scheme,
                sequence_type: *sequence_type,
                collection_date: self.request.collection_date,
                creditor: self.party.clone(),
                number_of_transactions: *count,
                control_sum_cents: *sum,
            };
            writer
                .start_payment_information(&info)
                .map_err(|e| (0, invalid(e)))?;
            for (index, collection) in collections.iter().enumerate() {
                if collection.sequence_type != *sequence_type {
                    continue;
                }
                writer
                    .write_transaction(&transaction(collection))
                    .map_err(|e| {
                        (
                            index,
                            format!("collection {}: {}", collection.id, invalid(e)),
                        )
                    })?;
            }
            writer
                .end_payment_information()
                .map_err(|e| (0, invalid(e)))?;
        }
        writer.finish().map(|_| ()).map_err(|e| (0, invalid(e)))
    }

    /// The unfinished batches of this creditor, scheme and date: few, normally none.
    async fn unfinished(&self) -> Result<Vec<Batch>, UseCaseError> {
        let mut found = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let page = self
                .ports
                .collections
                .unfinished_batches(after.as_deref(), PAGE)
                .await?;
            found.extend(page.items.into_iter().filter(|b| {
                b.creditor_id == self.request.creditor_id
                    && b.scheme == self.request.scheme
                    && b.collection_date == self.request.collection_date
                    && b.status != BatchStatus::Complete
            }));
            match page.next {
                Some(next) => after = Some(next),
                None => return Ok(found),
            }
        }
    }

    /// Step 1: opens part `part` of round `round` with the first scheduled collections.
    async fn open(&self, round: u32, part: u32) -> Result<Opened, UseCaseError> {
        let creditor = self.creditor;
        let request = self.request;
        let message_id = message_id(
            creditor,
            request.scheme,
            request.collection_date,
            round,
            part,
        );
        let draft = Batch {
            id: batch_id(&message_id),
            file_key: format!(
                "batches/{}/{}/{}.xml",
                creditor.id, request.collection_date, message_id
            ),
            message_id,
            creditor_id: creditor.id.clone(),
            scheme: request.scheme,
            collection_date: request.collection_date,
            round,
            part,
            version: creditor.pain008_version,
            number_of_transactions: 0,
            control_sum: placeholder_total()?,
            payment_informations: Vec::new(),
            created_at: self.ports.clock.now(),
            status: BatchStatus::Open,
            revision: 0,
        };
        match self.fill(draft, false).await? {
            Filled::Batch(batch, problem) => Ok(Opened::Batch(batch, problem)),
            Filled::Refused(problem) => Ok(Opened::Refused(problem)),
            Filled::Taken => Ok(Opened::Taken),
            Filled::Nothing => Ok(Opened::Nothing),
        }
    }

    /// Steps 1 to 3: moves scheduled collections into `batch` until it is full or none is
    /// left, then seals it. `stored` says whether the record exists yet (step 1 inserts it
    /// with the first collections). Answers the batch as stored, sealed or further along, and
    /// the problem that stopped the filling early, when one did.
    async fn fill(&self, mut batch: Batch, mut stored: bool) -> Result<Filled, UseCaseError> {
        let ports = self.ports;
        let mut buffer: std::collections::VecDeque<Collection> = Default::default();
        let mut after: Option<String> = None;
        let mut exhausted = false;
        let mut lost_races = 0;
        let mut problem: Option<String> = None;
        loop {
            if stored && batch.status != BatchStatus::Open {
                return Ok(Filled::Batch(batch, problem));
            }
            let room = self.max.saturating_sub(batch.number_of_transactions);
            if buffer.is_empty() && !exhausted && room > 0 && problem.is_none() {
                let page = self.scheduled(after.as_deref(), PAGE).await?;
                exhausted = page.next.is_none();
                after = page.next;
                buffer.extend(page.items);
                if buffer.is_empty() && !exhausted {
                    continue;
                }
            }

            // The chunk: as many collections as fit in one commit beside the record.
            let now = ports.clock.now();
            let mut next = batch.clone();
            next.revision += 1;
            let mut writes = vec![if stored {
                Write::UpdateBatch(next.clone())
            } else {
                Write::InsertBatch(next.clone())
            }];
            let mut chunk: Vec<Collection> = Vec::new();
            while (chunk.len() as u64) < room && problem.is_none() {
                let Some(collection) = buffer.pop_front() else {
                    break;
                };
                writes.push(claimed(&collection, &batch.id, now));
                if chunk.is_empty() || ports.transactions.fits_in_one_commit(&writes) {
                    chunk.push(collection);
                } else {
                    writes.pop();
                    buffer.push_front(collection);
                    break;
                }
            }
            if let Err((index, found)) = self.check(batch.version, &chunk) {
                // Collections scheduled after the check of the whole request: the batch is
                // sealed with what it holds, and the request refused.
                for collection in chunk.drain(index..).rev() {
                    buffer.push_front(collection);
                }
                writes.truncate(1 + chunk.len());
                problem = Some(found);
            }
            for collection in &chunk {
                add_to(&mut next, collection)?;
            }
            let full = next.number_of_transactions >= self.max;
            let seal = full || problem.is_some() || (exhausted && buffer.is_empty());
            if next.number_of_transactions == 0 {
                // Nothing to move in and nothing stored: no batch.
                return Ok(match problem {
                    Some(problem) => Filled::Refused(problem),
                    None => Filled::Nothing,
                });
            }
            if chunk.is_empty() && !seal {
                continue;
            }
            if seal {
                next.status = BatchStatus::Sealed;
                next.created_at = now;
            }
            writes[0] = if stored {
                Write::UpdateBatch(next.clone())
            } else {
                Write::InsertBatch(next.clone())
            };

            match ports.transactions.commit(&writes).await {
                Ok(()) => {
                    debug!(
                        batch_id = %next.id,
                        moved = chunk.len(),
                        transactions = next.number_of_transactions,
                        sealed = seal,
                        "collections moved into a batch"
                    );
                    batch = next;
                    stored = true;
                    lost_races = 0;
                }
                Err(StoreError::ConditionFailed(reason)) => {
                    lost_races += 1;
                    if lost_races > MAX_LOST_RACES {
                        return Err(UseCaseError::Store(StoreError::Unavailable(format!(
                            "batch {} kept changing under this run: {reason}",
                            batch.id
                        ))));
                    }
                    debug!(batch_id = %batch.id, reason = %reason, "lost a race, reading again");
                    // Another run moved the record or a collection on: read both again.
                    match ports.collections.get_batch(&batch.id).await? {
                        Some(current) if !stored && current.status == BatchStatus::Complete => {
                            return Ok(Filled::Taken);
                        }
                        Some(current) => {
                            batch = current;
                            stored = true;
                        }
                        None if stored => {
                            return Err(corrupt(format!("batch {} disappeared", batch.id)));
                        }
                        None => {}
                    }
                    buffer.clear();
                    after = None;
                    exhausted = false;
                    problem = None;
                }
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Takes `batch` from whatever step it is at to complete; answers its id, and the problem
    /// that refused the request, when one did (the batch is then complete or sealed, and the
    /// next run finishes it once the problem is fixed).
    async fn finish(&self, mut batch: Batch) -> Result<(String, Option<String>), UseCaseError> {
        let mut problem = None;
        let mut lost_races = 0;
        loop {
            match batch.status {
                BatchStatus::Open => match self.fill(batch.clone(), true).await? {
                    Filled::Batch(filled, found) => {
                        batch = filled;
                        problem = problem.or(found);
                    }
                    Filled::Taken | Filled::Nothing | Filled::Refused(_) => {
                        return Err(corrupt(format!("batch {} was not filled", batch.id)));
                    }
                },
                BatchStatus::Sealed => {
                    if let Err(found) = self.store_file(&batch).await? {
                        return Ok((batch.id, Some(found)));
                    }
                    let mut complete = batch.clone();
                    complete.status = BatchStatus::Complete;
                    complete.revision += 1;
                    match self
                        .ports
                        .transactions
                        .commit(&[Write::UpdateBatch(complete.clone())])
                        .await
                    {
                        Ok(()) => {
                            info!(
                                batch_id = %complete.id,
                                creditor_id = %complete.creditor_id,
                                scheme = scheme_code(complete.scheme),
                                transactions = complete.number_of_transactions,
                                "batch written"
                            );
                            batch = complete;
                        }
                        Err(StoreError::ConditionFailed(reason)) => {
                            lost_races += 1;
                            if lost_races > MAX_LOST_RACES {
                                return Err(UseCaseError::Store(StoreError::Unavailable(format!(
                                    "batch {} kept changing: {reason}",
                                    batch.id
                                ))));
                            }
                            info!(batch_id = %batch.id, reason = %reason, "batch completed by another run");
                            batch = self
                                .ports
                                .collections
                                .get_batch(&batch.id)
                                .await?
                                .ok_or_else(|| {
                                    corrupt(format!("batch {} disappeared", batch.id))
                                })?;
                        }
                        Err(e) => return Err(e.into()),
                    }
                }
                BatchStatus::Complete => return Ok((batch.id, problem)),
            }
        }
    }

    /// Step 4: writes the file of a sealed batch from its record and the collections that
    /// name it, and stores it under the batch's file key. Answers what to fix when the file
    /// cannot be written.
    async fn store_file(&self, batch: &Batch) -> Result<Result<(), String>, UseCaseError> {
        let path: PathBuf =
            std::env::temp_dir().join(format!("tranche-{}.xml", secrets::random_token()));
        let file = File::create(&path).map_err(|e| {
            UseCaseError::Store(StoreError::Unavailable(format!(
                "a temporary batch file could not be created in {}: {e}",
                std::env::temp_dir().display()
            )))
        })?;
        let written = self.write_file(batch, file).await;
        if !matches!(written, Ok(Ok(()))) {
            let _ = std::fs::remove_file(&path);
            return written;
        }
        let stored = self
            .ports
            .files
            .put_file_from_path(&batch.file_key, "application/xml", &path)
            .await;
        let _ = std::fs::remove_file(&path);
        stored?;
        Ok(Ok(()))
    }

    async fn write_file(
        &self,
        batch: &Batch,
        file: File,
    ) -> Result<Result<(), String>, UseCaseError> {
        let header = GroupHeader {
            message_id: batch.message_id.clone(),
            created_at: batch.created_at,
            initiating_party: self.party.name.clone(),
            number_of_transactions: batch.number_of_transactions,
            control_sum_cents: batch.control_sum.cents(),
        };
        let mut writer = match Pain008Writer::start(BufWriter::new(file), batch.version, &header) {
            Ok(writer) => writer,
            Err(e) => return Ok(Err(invalid(e))),
        };
        for block in &batch.payment_informations {
            let info = PaymentInformation {
                payment_information_id: block.id.clone(),
                scheme: batch.scheme,
                sequence_type: block.sequence_type,
                collection_date: batch.collection_date,
                creditor: self.party.clone(),
                number_of_transactions: block.number_of_transactions,
                control_sum_cents: block.control_sum_cents,
            };
            if let Err(e) = writer.start_payment_information(&info) {
                return Ok(Err(invalid(e)));
            }
            let (mut count, mut sum) = (0u64, 0i64);
            let mut after: Option<String> = None;
            loop {
                let page = self
                    .ports
                    .collections
                    .collections_of_batch(&batch.id, after.as_deref(), PAGE)
                    .await?;
                for collection in &page.items {
                    if collection.sequence_type != block.sequence_type {
                        continue;
                    }
                    count += 1;
                    sum += collection.amount.cents();
                    if count > block.number_of_transactions {
                        return Err(corrupt(format!(
                            "batch {} counts {} {} collections, but more name it",
                            batch.id,
                            block.number_of_transactions,
                            block.sequence_type.code()
                        )));
                    }
                    if let Err(e) = writer.write_transaction(&transaction(collection)) {
                        return Ok(Err(format!("collection {}: {}", collection.id, invalid(e))));
                    }
                }
                match page.next {
                    Some(next) => after = Some(next),
                    None => break,
                }
            }
            if (count, sum) != (block.number_of_transactions, block.control_sum_cents) {
                // An index that has not caught up with the last moves yet (DynamoDB's are
                // eventually consistent): the next attempt finds them.
                return Err(UseCaseError::Store(StoreError::Unavailable(format!(
                    "batch {} counts {} {} collections, but only {count} are listed under it yet",
                    batch.id,
                    block.number_of_transactions,
                    block.sequence_type.code()
                ))));
            }
            if let Err(e) = writer.end_payment_information() {
                return Ok(Err(invalid(e)));
            }
        }
        match writer.finish() {
            Ok(mut buffered) => {
                use std::io::Write as _;
                buffered.flush().map_err(|e| {
                    UseCaseError::Store(StoreError::Unavailable(format!(
                        "the batch file could not be written: {e}"
                    )))
                })?;
                Ok(Ok(()))
            }
            Err(e) => Ok(Err(invalid(e))),
        }
    }
}

/// What came of filling a batch.
enum Filled {
    /// The batch as stored (sealed or further along), and the problem that stopped the
    /// filling early, when one did.
    Batch(Batch, Option<String>),
    /// Nothing was stored: the first collection cannot go into a file, for this reason.
    Refused(String),
    /// A complete batch has this id already.
    Taken,
    /// No scheduled collection was left to open the batch with.
    Nothing,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pain008::SequenceType;

    fn batch() -> Batch {
        serde_json::from_value(serde_json::json!({
            "id": "bat_tr20270301c01001abcdef12",
            "message_id": "TR20270301C01001ABCDEF12",
            "creditor_id": "acme",
            "scheme": "CORE",
            "collection_date": "2027-03-01",
            "round": 1,
            "part": 1,
            "version": "pain.008.001.08",
            "file_key": "batches/acme/2027-03-01/TR20270301C01001ABCDEF12.xml",
            "number_of_transactions": 0,
            "control_sum": "0.01",
            "payment_informations": [],
            "created_at": "2027-02-26T06:00:00Z",
            "status": "open",
            "revision": 1
        }))
        .unwrap()
    }

    fn collection(sequence_type: SequenceType, cents: i64) -> Collection {
        let mut collection: Collection =
            serde_json::from_str(include_str!("../../tests/fixtures/store/collection.json"))
                .unwrap();
        collection.sequence_type = sequence_type;
        collection.amount = Amount::from_cents(cents).unwrap();
        collection
    }

    #[test]
    fn collections_added_to_a_batch_keep_its_blocks_in_sequence_order_with_exact_totals() {
        let mut batch = batch();

        for (sequence_type, cents) in [
            (SequenceType::Recurrent, 1000),
            (SequenceType::First, 250),
            (SequenceType::Recurrent, 1),
        ] {
            add_to(&mut batch, &collection(sequence_type, cents)).unwrap();
        }

        assert_eq!(batch.number_of_transactions, 3);
        assert_eq!(batch.control_sum.cents(), 1251);
        let blocks: Vec<(&str, SequenceType, u64, i64)> = batch
            .payment_informations
            .iter()
            .map(|p| {
                (
                    p.id.as_str(),
                    p.sequence_type,
                    p.number_of_transactions,
                    p.control_sum_cents,
                )
            })
            .collect();
        assert_eq!(
            blocks,
            [
                ("TR20270301C01001ABCDEF12-1", SequenceType::First, 1, 250),
                (
                    "TR20270301C01001ABCDEF12-2",
                    SequenceType::Recurrent,
                    2,
                    1001
                ),
            ]
        );
    }
}
