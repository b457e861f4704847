//! The creditor: the company that agrees plans with its customers and collects them.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::identifiers::{Bic, CreditorIdentifier, Iban};
use crate::mandate::SigningMethod;

/// The operator's own id for a creditor (`acme-gmbh`): 1 to 64 of `A-Z a-z 0-9 - _`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct CreditorId(String);

impl CreditorId {
    pub fn parse(text: &str) -> Option<CreditorId> {
        let ok = !text.is_empty()
            && text.len() <= 64
            && text
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        ok.then(|| CreditorId(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for CreditorId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// A language Tranche writes pages and e-mails in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Language {
    En,
    De,
    Fr,
    Nl,
}

impl Language {
    pub const ALL: [Language; 4] = [Language::En, Language::De, Language::Fr, Language::Nl];

    pub fn as_str(self) -> &'static str {
        match self {
            Language::En => "en",
            Language::De => "de",
            Language::Fr => "fr",
            Language::Nl => "nl",
        }
    }

    pub fn parse(text: &str) -> Option<Language> {
        Language::ALL.into_iter().find(|l| l.as_str() == text)
    }
}

/// A structured postal address, as the EPC requires from November 2026 (town and country
/// mandatory; no unstructured address lines).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PostalAddress {
    pub street: String,
    pub building: Option<String>,
    pub postcode: String,
    pub town: String,
    /// ISO 3166 alpha-2, upper case.
    pub country: String,
}

/// The creditor's house style on the signing page and in e-mails.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Branding {
    /// An `https` URL of the logo image.
    pub logo_url: Option<String>,
    /// The accent colour, `#RRGGBB`.
    pub color: Option<String>,
}

/// What plan creation does with a consumer plan that falls inside the consumer-credit rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum ComplianceMode {
    /// Create it and show the assessment (the default).
    #[default]
    Inform,
    /// Refuse it with a 422 that explains the assessment.
    Refuse,
}

/// The mandate reference prefix when the creditor sets none.
pub const DEFAULT_MANDATE_REFERENCE_PREFIX: &str = "TR-";

/// The longest mandate reference prefix: it leaves 15 characters of the 35 for the random part.
pub const MAX_MANDATE_REFERENCE_PREFIX_CHARS: usize = 20;

fn default_mandate_reference_prefix() -> String {
    DEFAULT_MANDATE_REFERENCE_PREFIX.to_owned()
}

/// The creditor's dunning policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct DunningPolicy {
    /// Calendar days after a soft failure (insufficient funds) before the re-presentation (the
    /// new date also honours the pre-notification period).
    pub retry_after_days: u32,
    /// How many times a softly failed instalment is re-presented.
    pub max_representations: u32,
    /// Days a plan stays `in_dunning` before it is `defaulted`.
    pub default_after_days: u32,
}

impl Default for DunningPolicy {
    fn default() -> Self {
        DunningPolicy {
            retry_after_days: 7,
            max_representations: 2,
            default_after_days: 30,
        }
    }
}

/// What a debtor may change alone through the self-service page: a request within every limit
/// applies at once (the creditor is told); one beyond any becomes a task for the creditor to
/// accept or refuse.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SelfServiceLimits {
    /// The most instalments the plan may have left after the change.
    pub max_count: u32,
    /// The smallest instalment a change may make, in euro.
    pub min_instalment: crate::money::Amount,
    /// How many months later than before the change the plan may end.
    pub max_extension_months: u32,
    /// How many self-service changes one plan may have.
    pub max_changes_per_plan: u32,
}

impl Default for SelfServiceLimits {
    fn default() -> Self {
        SelfServiceLimits {
            max_count: 24,
            min_instalment: crate::money::Amount::from_cents(2_000).expect("20.00 is an amount"),
            max_extension_months: 6,
            max_changes_per_plan: 2,
        }
    }
}

/// How a mandate's first collection is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum FirstSequence {
    #[default]
    #[serde(rename = "FRST")]
    First,
    #[serde(rename = "RCUR")]
    Recurrent,
}

/// Default most transactions in one pain.008 file.
pub const DEFAULT_MAX_TRANSACTIONS_PER_FILE: u32 = 10_000;
/// Default settlement window in TARGET days (Core returns come up to D+5).
pub const DEFAULT_SETTLEMENT_DAYS: u32 = 5;

fn default_max_transactions_per_file() -> u32 {
    DEFAULT_MAX_TRANSACTIONS_PER_FILE
}

fn default_settlement_days() -> u32 {
    DEFAULT_SETTLEMENT_DAYS
}

/// Default calendar days between the pre-notification and the due date (EPC rulebook).
pub const DEFAULT_PRE_NOTIFICATION_DAYS: u32 = 14;
/// Default TARGET days a collection must reach the bank before its due date (D-1).
pub const DEFAULT_LEAD_DAYS: u32 = 1;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Creditor {
    pub id: CreditorId,
    /// The name the debtor knows and the bank shows (at most 70 characters in pain.008).
    pub name: String,
    pub creditor_identifier: CreditorIdentifier,
    /// The account the instalments are collected into.
    pub iban: Iban,
    pub bic: Option<Bic>,
    pub address: PostalAddress,
    pub email: String,
    pub language: Language,
    pub pre_notification_days: u32,
    pub lead_days: u32,
    pub branding: Branding,
    pub compliance_mode: ComplianceMode,
    /// How debtors sign this creditor's mandates.
    #[serde(default)]
    pub signing_method: SigningMethod,
    /// The start of every mandate reference (`ACME-`), so the creditor's bank statements and
    /// systems recognise them; up to 20 characters of the SEPA identifier set.
    #[serde(default = "default_mandate_reference_prefix")]
    pub mandate_reference_prefix: String,
    /// The sequence type of a mandate's first collection: `FRST` (the default), or `RCUR` from
    /// the start, which the rulebooks allow since November 2016.
    #[serde(default)]
    pub first_sequence: FirstSequence,
    /// The message version the creditor's bank takes.
    #[serde(default)]
    pub pain008_version: crate::pain008::Pain008Version,
    /// The most transactions one file may hold; larger batches are split.
    #[serde(default = "default_max_transactions_per_file")]
    pub max_transactions_per_file: u32,
    /// TARGET days after the collection date without a contrary report after which a
    /// collection counts as settled.
    #[serde(default = "default_settlement_days")]
    pub settlement_days: u32,
    /// What happens after a failed collection.
    #[serde(default)]
    pub dunning: DunningPolicy,
    /// What debtors may change alone on the self-service page.
    #[serde(default)]
    pub self_service: SelfServiceLimits,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}
