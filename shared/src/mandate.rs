//! SEPA mandates: the debtor's authorisation to collect, with the evidence of its signature and
//! every amendment.
//!
//! Life of a mandate: `invited` (created with its plan, waiting for the debtor) -> `signed` (the
//! debtor signed on the signing page) -> `active` (its first collection was presented) and then
//! `amended` (the debtor's account changed), `cancelled` (by the creditor or the debtor),
//! `expired` (36 months without a collection) or `invalid` (the bank says there is no valid
//! mandate). The collections of a later issue read the amendments to set the amendment indicator
//! on the first collection after a change.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::creditor::{CreditorId, Language, PostalAddress};
use crate::document::MandateDocument;
use crate::identifiers::{Bic, Iban};
use crate::plan::{DebtorType, PlanId, Scheme};

/// A mandate's id, `mnd_` and 26 random base-32 characters. Not the mandate reference.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct MandateId(pub String);

impl std::fmt::Display for MandateId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MandateStatus {
    Invited,
    Signed,
    Active,
    Amended,
    Cancelled,
    Expired,
    Invalid,
}

impl MandateStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            MandateStatus::Invited => "invited",
            MandateStatus::Signed => "signed",
            MandateStatus::Active => "active",
            MandateStatus::Amended => "amended",
            MandateStatus::Cancelled => "cancelled",
            MandateStatus::Expired => "expired",
            MandateStatus::Invalid => "invalid",
        }
    }

    /// Whether collections may be made under a mandate in this status.
    pub fn is_usable(self) -> bool {
        matches!(
            self,
            MandateStatus::Signed | MandateStatus::Active | MandateStatus::Amended
        )
    }
}

/// How the debtor signs, chosen per creditor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum SigningMethod {
    /// The signer types their full name and ticks the consent box.
    #[default]
    Click,
    /// As `click`, and the signer also enters a 6-digit code mailed to the debtor's address.
    EmailCode,
}

/// The debtor's side of the mandate, as entered on the signing page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MandateDebtor {
    /// The account holder.
    pub name: String,
    pub address: PostalAddress,
    pub iban: Iban,
    pub bic: Option<Bic>,
}

/// What is kept as evidence of a signature.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignatureEvidence {
    pub signed_at: DateTime<Utc>,
    pub method: SigningMethod,
    /// The signer's name exactly as typed.
    pub signer_name: String,
    /// The address the request came from, as the host saw it.
    pub ip_address: String,
    pub user_agent: String,
    /// SHA-256 of the canonical text of the mandate document as signed.
    pub document_sha256: String,
    /// For `email_code`: the address the code went to.
    pub code_sent_to: Option<String>,
}

/// A change of the debtor's account after signing. The first collection after it carries the
/// amendment indicator and these details (SMNDA when the bank changed).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Amendment {
    pub at: DateTime<Utc>,
    pub previous_iban: Iban,
    pub new_iban: Iban,
    pub previous_bic: Option<Bic>,
    pub new_bic: Option<Bic>,
    /// Why, in the operator's words.
    pub reason: Option<String>,
    /// Set once a collection carrying the amendment indicator has been presented.
    pub presented: bool,
}

impl Amendment {
    /// Whether the debtor moved to another bank (the bank code inside the IBAN, or the country,
    /// changed), which pain.008 says with `SMNDA` instead of the old IBAN.
    pub fn moved_bank(&self) -> bool {
        self.previous_iban.bank_code() != self.new_iban.bank_code()
    }
}

/// A pending e-mail code challenge. Only the code's hash is stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmailCodeChallenge {
    /// SHA-256 of the mandate id and the code.
    pub code_hash: String,
    pub sent_to: String,
    pub expires_at: DateTime<Utc>,
    pub attempts_left: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cancellation {
    pub at: DateTime<Utc>,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mandate {
    pub id: MandateId,
    /// The unique mandate reference (UMR, AT-01): 1 to 35 characters of the SEPA identifier
    /// set, unique per creditor.
    pub reference: String,
    pub creditor_id: CreditorId,
    pub plan_id: PlanId,
    pub scheme: Scheme,
    pub debtor_type: DebtorType,
    pub language: Language,
    /// Where the confirmation, the codes and the pre-notifications go.
    pub debtor_email: String,
    /// `None` until signed.
    pub debtor: Option<MandateDebtor>,
    pub status: MandateStatus,
    pub signature: Option<SignatureEvidence>,
    /// The document as signed (with its signature line and fingerprint).
    pub document: Option<MandateDocument>,
    /// The file-store key of the PDF copy.
    pub document_key: Option<String>,
    /// SHA-256 of the one-day download link shown on the confirmation page.
    pub download_token_hash: Option<String>,
    pub download_expires_at: Option<DateTime<Utc>>,
    pub email_code: Option<EmailCodeChallenge>,
    pub amendments: Vec<Amendment>,
    pub cancellation: Option<Cancellation>,
    /// The sequence type of the next collection: `FRST` until a first collection was presented
    /// and not rejected, then `RCUR`. `None` until the first collection is made.
    #[serde(default)]
    pub next_sequence: Option<crate::pain008::SequenceType>,
    /// The date of the last collection presented under the mandate: 36 months after it (or
    /// after the signature, when there was none) the mandate expires.
    #[serde(default)]
    pub last_presented_on: Option<chrono::NaiveDate>,
    /// Whether the creditor was warned that the mandate is about to expire.
    #[serde(default)]
    pub expiry_warned: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Optimistic-lock version: 1 on creation, +1 on every stored change.
    pub version: u64,
}

/// Random characters after the creditor's prefix in a mandate reference: 12 base-32 characters
/// (60 bits) keep references unique per creditor with room to spare, and leave the prefix 20 of
/// the 35 characters.
pub const REFERENCE_RANDOM_CHARS: usize = 12;

/// A new mandate reference: the creditor's prefix and [`REFERENCE_RANDOM_CHARS`] random
/// characters.
pub fn new_reference(prefix: &str) -> String {
    format!(
        "{prefix}{}",
        crate::secrets::random_reference(REFERENCE_RANDOM_CHARS)
    )
}

impl Mandate {
    /// A mandate the debtor is invited to sign for `plan_id`: a new id and reference, nothing
    /// signed yet.
    #[allow(clippy::too_many_arguments)]
    pub fn invited(
        creditor_id: CreditorId,
        reference_prefix: &str,
        plan_id: PlanId,
        scheme: Scheme,
        debtor_type: DebtorType,
        language: Language,
        debtor_email: String,
        now: DateTime<Utc>,
    ) -> Mandate {
        Mandate {
            id: MandateId(crate::secrets::random_id("mnd")),
            reference: new_reference(reference_prefix),
            creditor_id,
            plan_id,
            scheme,
            debtor_type,
            language,
            debtor_email,
            debtor: None,
            status: MandateStatus::Invited,
            signature: None,
            document: None,
            document_key: None,
            download_token_hash: None,
            download_expires_at: None,
            email_code: None,
            amendments: Vec::new(),
            cancellation: None,
            next_sequence: None,
            last_presented_on: None,
            expiry_warned: false,
            created_at: now,
            updated_at: now,
            version: 1,
        }
    }
}
