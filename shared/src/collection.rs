//! Collections: one presentation of one instalment to the debtor's bank, and the batches
//! (pain.008 files) they travel in.
//!
//! A collection's id is derived from its plan, instalment and attempt
//! (`col_<plan>_<seq>_<attempt>`), and it is created with a conditional insert, so however
//! often the daily job runs for a day, an instalment attempt is collected once.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::creditor::{CreditorId, PostalAddress};
use crate::identifiers::{Bic, Iban};
use crate::mandate::MandateId;
use crate::money::Amount;
use crate::pain008::{Pain008Version, SequenceType};
use crate::plan::{PlanId, Scheme};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CollectionStatus {
    /// Created, waiting for its batch file.
    Scheduled,
    /// In a pain.008 file in the file store.
    Batched,
    /// The file was handed to the bank.
    Submitted,
    /// No report contradicted it within the settlement window.
    Settled,
    /// Refused before settlement (pain.002).
    Rejected,
    /// Sent back by the debtor's bank after settlement.
    Returned,
    /// Refunded to the debtor on their claim.
    Refunded,
}

impl CollectionStatus {
    pub const ALL: [CollectionStatus; 7] = [
        CollectionStatus::Scheduled,
        CollectionStatus::Batched,
        CollectionStatus::Submitted,
        CollectionStatus::Settled,
        CollectionStatus::Rejected,
        CollectionStatus::Returned,
        CollectionStatus::Refunded,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            CollectionStatus::Scheduled => "scheduled",
            CollectionStatus::Batched => "batched",
            CollectionStatus::Submitted => "submitted",
            CollectionStatus::Settled => "settled",
            CollectionStatus::Rejected => "rejected",
            CollectionStatus::Returned => "returned",
            CollectionStatus::Refunded => "refunded",
        }
    }

    pub fn parse(text: &str) -> Option<CollectionStatus> {
        CollectionStatus::ALL
            .into_iter()
            .find(|s| s.as_str() == text)
    }
}

/// The amendment details the first collection after a mandate change carries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum CollectionAmendment {
    /// The debtor changed account at the same bank: the previous IBAN.
    SameBank { previous_iban: Iban },
    /// The debtor moved to another bank: `SMNDA`.
    OtherBank,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Collection {
    /// `col_<plan id>_<instalment seq>_<attempt>`.
    pub id: String,
    pub creditor_id: CreditorId,
    pub plan_id: PlanId,
    pub mandate_id: MandateId,
    pub instalment_seq: u32,
    /// 1 for the first presentation, 2 and up for re-presentations.
    pub attempt: u32,
    /// Unique per collection, 35 characters at most; the bank's reports quote it.
    pub end_to_end_id: String,
    pub amount: Amount,
    /// The requested collection date (`ReqdColltnDt`), a TARGET day.
    pub collection_date: NaiveDate,
    pub scheme: Scheme,
    pub sequence_type: SequenceType,
    pub amendment: Option<CollectionAmendment>,
    pub mandate_reference: String,
    pub mandate_signed_on: NaiveDate,
    pub debtor_name: String,
    pub debtor_address: Option<PostalAddress>,
    pub debtor_iban: Iban,
    pub debtor_bic: Option<Bic>,
    /// `Plan <id> 3/12 INV-1, INV-2`: what the debtor's statement shows.
    pub remittance: String,
    pub status: CollectionStatus,
    pub batch_id: Option<String>,
    /// Why it is rejected, returned or refunded, when it is.
    pub status_reason: Option<String>,
    /// The R-transaction that failed it, when one did.
    #[serde(default)]
    pub r_transaction: Option<RTransaction>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// The collection's last event, so the next one chains on without reading the log.
    #[serde(default)]
    pub event_head: Option<crate::events::EventHead>,
    pub version: u64,
}

impl Collection {
    /// The id of attempt `attempt` of instalment `seq` of `plan`.
    pub fn id_for(plan: &PlanId, seq: u32, attempt: u32) -> String {
        format!("col_{}_{seq}_{attempt}", plan.0.trim_start_matches("pln_"))
    }
}

/// A pain.008 file: one creditor, one scheme, one collection date (and, above the creditor's
/// maximum, one part of several).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Batch {
    /// `bat_` + the message id in lower case.
    pub id: String,
    /// The pain.008 `MsgId`, unique per creditor; also the first `PmtInfId`'s stem.
    pub message_id: String,
    pub creditor_id: CreditorId,
    pub scheme: Scheme,
    pub collection_date: NaiveDate,
    /// Which round of files for this creditor, scheme and date (re-presentations made later
    /// go in a later round), and which part of the round.
    pub round: u32,
    pub part: u32,
    pub version: Pain008Version,
    pub file_key: String,
    pub number_of_transactions: u64,
    pub control_sum: Amount,
    /// The file's `PmtInf` blocks: their ids and sequence types, so a bank report about one
    /// block finds its collections.
    #[serde(default)]
    pub payment_informations: Vec<PaymentInformationRef>,
    /// When the batch was opened; once it is sealed, when it was sealed: the file's `CreDtTm`,
    /// so that every run writing the file of a sealed batch writes the same bytes.
    pub created_at: DateTime<Utc>,
    /// How far the batch is written. Only a complete batch has its file in the file store
    /// with every one of its collections; the others are steps of the batch generator that a
    /// rerun finishes (see `crate::batches`). Records written before batches had steps are
    /// complete.
    #[serde(default)]
    pub status: BatchStatus,
    /// Bumped by every change of the record; an update is conditional on the stored revision
    /// being one less, so two runs finishing the same batch never both change it.
    #[serde(default)]
    pub revision: u64,
}

/// The steps of a batch, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum BatchStatus {
    /// Collections are being moved into it (each move updates the record too).
    Open,
    /// Its collections and totals are fixed; its file is being written.
    Sealed,
    /// Its file is in the file store and holds exactly its collections.
    #[default]
    Complete,
}

impl BatchStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            BatchStatus::Open => "open",
            BatchStatus::Sealed => "sealed",
            BatchStatus::Complete => "complete",
        }
    }
}

/// One `PmtInf` block of a batch file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentInformationRef {
    pub id: String,
    pub sequence_type: SequenceType,
    /// The block's `NbOfTxs` (absent from records written before batches had steps).
    #[serde(default)]
    pub number_of_transactions: u64,
    /// The block's `CtrlSum` in cents.
    #[serde(default)]
    pub control_sum_cents: i64,
}

/// What the bank reported about a failed collection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RTransaction {
    /// `rejected`, `returned`, `refunded` or `reversed`.
    pub kind: crate::bank_reports::ItemKind,
    pub reason_code: Option<String>,
    pub reason_proprietary: Option<String>,
    /// The code's meaning for people.
    pub meaning: String,
    pub additional_info: Option<String>,
    /// How the dunning handles it.
    pub class: crate::reason_codes::FailureClass,
    /// The report it came in: the file-store key of the bank file and its message id.
    pub source_file: String,
    pub source_message_id: String,
    pub reported_at: DateTime<Utc>,
    pub charges: Option<Amount>,
}

/// A request for the batch generator: write the files of one creditor, scheme and date.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchRequest {
    pub creditor_id: CreditorId,
    pub scheme: Scheme,
    pub collection_date: NaiveDate,
}

/// Something the creditor's staff must do (call the customer, fix a setting).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Task {
    /// Derived from what it is about, so the same problem opens one task.
    pub id: String,
    pub creditor_id: CreditorId,
    pub plan_id: Option<PlanId>,
    pub mandate_id: Option<MandateId>,
    /// `mandate_unusable`, `invalid_creditor_settings`, ...
    pub kind: String,
    pub title: String,
    pub detail: String,
    pub status: TaskStatus,
    pub outcome: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskStatus {
    Open,
    Closed,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_batch_stored_before_batches_had_steps_reads_back_complete() {
        let stored = r#"{
            "id": "bat_tr20270301c01001abcdef12",
            "message_id": "TR20270301C01001ABCDEF12",
            "creditor_id": "acme",
            "scheme": "CORE",
            "collection_date": "2027-03-01",
            "round": 1,
            "part": 1,
            "version": "pain.008.001.08",
            "file_key": "batches/acme/2027-03-01/TR20270301C01001ABCDEF12.xml",
            "number_of_transactions": 2,
            "control_sum": "20.00",
            "payment_informations": [
                {"id": "TR20270301C01001ABCDEF12-1", "sequence_type": "FRST"}
            ],
            "created_at": "2027-02-26T06:00:00Z"
        }"#;

        let batch: Batch = serde_json::from_str(stored).unwrap();

        assert_eq!(batch.status, BatchStatus::Complete);
        assert_eq!(batch.revision, 0);
        assert_eq!(batch.payment_informations[0].number_of_transactions, 0);
    }
}
