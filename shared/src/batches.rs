//! The batch generator: the scheduled collections of one creditor, scheme and collection date
//! into pain.008 files in the file store.
//!
//! One file per creditor, scheme and date, one `PmtInf` per sequence type, split into parts of
//! at most the creditor's `max_transactions_per_file`. The file is streamed to a temporary file
//! and handed to the file store from there, and the collections are paged through, so memory
//! stays flat whatever the batch size. A batch's id is derived from its creditor, scheme, date,
//! round and part and inserted conditionally together with the collections' move to `batched`:
//! a second run writes no second file for the same collections.

use std::fs::File;
use std::io::BufWriter;
use std::path::PathBuf;

use chrono::NaiveDate;
use tracing::info;

use crate::charset;
use crate::collection::{
    Batch, BatchRequest, Collection, CollectionAmendment, CollectionStatus, PaymentInformationRef,
};
use crate::creditor::Creditor;
use crate::error::StoreError;
use crate::money::Amount;
use crate::pain008::{
    AccountAmendment, CreditorParty, DirectDebitTransaction, GroupHeader, MandateAmendment,
    Pain008Error, Pain008Writer, PaymentInformation, SequenceType,
};
use crate::plan::Scheme;
use crate::ports::{Ports, Write};
use crate::secrets;
use crate::use_cases::UseCaseError;

/// Collections read per page.
const PAGE: u32 = 500;

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

/// Pages through the scheduled collections of the request in id order, from after
/// `start_after` up to and including `stop_at`, calling `visit` on each.
async fn for_each_scheduled<F>(
    ports: &Ports,
    request: &BatchRequest,
    start_after: Option<String>,
    stop_at: Option<&str>,
    mut visit: F,
) -> Result<(), UseCaseError>
where
    F: FnMut(&Collection) -> Result<(), UseCaseError>,
{
    let mut after = start_after;
    loop {
        let page = ports
            .collections
            .scheduled_collections(
                &request.creditor_id,
                request.scheme,
                request.collection_date,
                after.as_deref(),
                PAGE,
            )
            .await?;
        for collection in &page.items {
            if stop_at.is_some_and(|stop| collection.id.as_str() > stop) {
                return Ok(());
            }
            visit(collection)?;
        }
        match page.next {
            Some(next) => after = Some(next),
            None => return Ok(()),
        }
    }
}

/// One part of a round: the id range it covers and its totals per sequence type.
#[derive(Debug, Default, Clone)]
struct Part {
    /// The last id of the part before, where paging for this part starts.
    starts_after: Option<String>,
    last_id: String,
    count: u64,
    sum_cents: i64,
    /// (sequence type, count, sum) in `SequenceType` order.
    sequences: Vec<(SequenceType, u64, i64)>,
}

/// Writes the files of one creditor, scheme and date.
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

    // First pass: the parts and their totals, without keeping the collections.
    let max = u64::from(creditor.max_transactions_per_file.max(1));
    let mut parts: Vec<Part> = Vec::new();
    for_each_scheduled(ports, request, None, None, |collection| {
        if parts.last().is_none_or(|p| p.count == max) {
            parts.push(Part {
                starts_after: parts.last().map(|p| p.last_id.clone()),
                ..Part::default()
            });
        }
        let part = parts.last_mut().expect("a part was pushed");
        part.last_id = collection.id.clone();
        part.count += 1;
        part.sum_cents += collection.amount.cents();
        match part
            .sequences
            .iter_mut()
            .find(|(s, _, _)| *s == collection.sequence_type)
        {
            Some((_, count, sum)) => {
                *count += 1;
                *sum += collection.amount.cents();
            }
            None => part
                .sequences
                .push((collection.sequence_type, 1, collection.amount.cents())),
        }
        Ok(())
    })
    .await?;
    if parts.is_empty() {
        return Ok(BatchOutcome::Written(Vec::new()));
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
    let mut written = Vec::new();
    for (index, part) in parts.iter_mut().enumerate() {
        part.sequences.sort_by_key(|(s, _, _)| *s);
        match write_part(
            ports,
            &creditor,
            &party,
            request,
            round,
            index as u32 + 1,
            part,
        )
        .await?
        {
            Ok(id) => written.push(id),
            Err(problem) => return Ok(BatchOutcome::Refused(problem)),
        }
    }
    Ok(BatchOutcome::Written(written))
}

fn invalid(error: Pain008Error) -> String {
    format!("The batch file could not be written: {error}. Nothing was marked batched.")
}

#[allow(clippy::too_many_arguments)]
async fn write_part(
    ports: &Ports,
    creditor: &Creditor,
    party: &CreditorParty,
    request: &BatchRequest,
    round: u32,
    part_number: u32,
    part: &Part,
) -> Result<Result<String, String>, UseCaseError> {
    let now = ports.clock.now();
    let message_id = message_id(
        creditor,
        request.scheme,
        request.collection_date,
        round,
        part_number,
    );
    let path: PathBuf =
        std::env::temp_dir().join(format!("tranche-{}.xml", secrets::random_token()));
    let file = File::create(&path).map_err(|e| {
        UseCaseError::Store(StoreError::Unavailable(format!(
            "a temporary batch file could not be created in {}: {e}",
            std::env::temp_dir().display()
        )))
    })?;

    let header = GroupHeader {
        message_id: message_id.clone(),
        created_at: now,
        initiating_party: party.name.clone(),
        number_of_transactions: part.count,
        control_sum_cents: part.sum_cents,
    };
    let result = write_file(
        ports,
        request,
        party,
        part,
        &message_id,
        &header,
        creditor,
        file,
    )
    .await;
    let mut writes = match result {
        Ok(Ok(writes)) => writes,
        Ok(Err(problem)) => {
            let _ = std::fs::remove_file(&path);
            return Ok(Err(problem));
        }
        Err(e) => {
            let _ = std::fs::remove_file(&path);
            return Err(e);
        }
    };

    let batch_id = format!("bat_{}", message_id.to_ascii_lowercase());
    let file_key = format!(
        "batches/{}/{}/{}.xml",
        creditor.id, request.collection_date, message_id
    );
    let stored = ports
        .files
        .put_file_from_path(&file_key, "application/xml", &path)
        .await;
    let _ = std::fs::remove_file(&path);
    stored?;

    for write in &mut writes {
        if let Write::UpdateCollection(collection) = write {
            collection.status = CollectionStatus::Batched;
            collection.batch_id = Some(batch_id.clone());
            collection.updated_at = now;
            collection.version += 1;
        }
    }
    let control_sum = Amount::from_cents(part.sum_cents).map_err(|e| {
        UseCaseError::Store(StoreError::Corrupt(format!(
            "a batch total is not an amount: {e}"
        )))
    })?;
    writes.insert(
        0,
        Write::InsertBatch(Batch {
            id: batch_id.clone(),
            message_id: message_id.clone(),
            creditor_id: creditor.id.clone(),
            scheme: request.scheme,
            collection_date: request.collection_date,
            round,
            part: part_number,
            version: creditor.pain008_version,
            file_key,
            number_of_transactions: part.count,
            control_sum,
            payment_informations: part
                .sequences
                .iter()
                .enumerate()
                .map(|(index, (sequence_type, _, _))| PaymentInformationRef {
                    id: format!("{message_id}-{}", index + 1),
                    sequence_type: *sequence_type,
                })
                .collect(),
            created_at: now,
        }),
    );
    match ports.transactions.commit(&writes).await {
        Ok(()) => {}
        Err(StoreError::ConditionFailed(reason)) => {
            // Another run wrote this batch (or batched these collections) first.
            info!(batch_id = %batch_id, reason = %reason, "batch written by another run");
            return Ok(Ok(batch_id));
        }
        Err(e) => return Err(e.into()),
    }
    info!(
        batch_id = %batch_id,
        creditor_id = %creditor.id,
        scheme = scheme_code(request.scheme),
        transactions = part.count,
        "batch written"
    );
    Ok(Ok(batch_id))
}

/// Streams one part's file and answers the collection updates to commit with it.
#[allow(clippy::too_many_arguments)]
async fn write_file(
    ports: &Ports,
    request: &BatchRequest,
    party: &CreditorParty,
    part: &Part,
    message_id: &str,
    header: &GroupHeader,
    creditor: &Creditor,
    file: File,
) -> Result<Result<Vec<Write>, String>, UseCaseError> {
    let mut writer =
        match Pain008Writer::start(BufWriter::new(file), creditor.pain008_version, header) {
            Ok(writer) => writer,
            Err(e) => return Ok(Err(invalid(e))),
        };
    let mut writes = Vec::with_capacity(part.count as usize);
    for (index, (sequence_type, count, sum)) in part.sequences.iter().enumerate() {
        let info = PaymentInformation {
            payment_information_id: format!("{message_id}-{}", index + 1),
            scheme: request.scheme,
            sequence_type: *sequence_type,
            collection_date: request.collection_date,
            creditor: party.clone(),
            number_of_transactions: *count,
            control_sum_cents: *sum,
        };
        if let Err(e) = writer.start_payment_information(&info) {
            return Ok(Err(invalid(e)));
        }
        let mut failure: Option<String> = None;
        let start = part.starts_after.clone();
        for_each_scheduled(ports, request, start, Some(&part.last_id), |collection| {
            if failure.is_some() || collection.sequence_type != *sequence_type {
                return Ok(());
            }
            match writer.write_transaction(&transaction(collection)) {
                Ok(()) => writes.push(Write::UpdateCollection(collection.clone())),
                Err(e) => failure = Some(format!("collection {}: {}", collection.id, invalid(e))),
            }
            Ok(())
        })
        .await?;
        if let Some(problem) = failure {
            return Ok(Err(problem));
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
            Ok(Ok(writes))
        }
        Err(e) => Ok(Err(invalid(e))),
    }
}
