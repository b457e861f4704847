//! Plans: a total agreed with a debtor, collected in dated instalments under one mandate.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::compliance::ComplianceAssessment;
use crate::creditor::{CreditorId, Language, PostalAddress};
use crate::money::{Amount, Currency};
use crate::schedule::{Frequency, InstalmentKind, Rounding, ScheduleTerms};

/// A plan's id, `pln_` and 26 random base-32 characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct PlanId(pub String);

impl std::fmt::Display for PlanId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Why the plan exists: overdue invoices (`repayment`) or one large invoice (`instalment`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PlanKind {
    Repayment,
    Instalment,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DebtorType {
    Consumer,
    Business,
}

/// The SEPA direct debit scheme: Core for anyone, B2B only between businesses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Scheme {
    #[serde(rename = "CORE")]
    Core,
    #[serde(rename = "B2B")]
    B2b,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Debtor {
    pub name: String,
    pub email: String,
    pub language: Language,
    #[serde(rename = "type")]
    pub debtor_type: DebtorType,
    pub address: Option<PostalAddress>,
}

/// An invoice the plan pays off.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Invoice {
    pub reference: String,
    pub amount: Amount,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PlanStatus {
    AwaitingSignature,
    Active,
    Paused,
    Completed,
    Cancelled,
    InDunning,
    Defaulted,
}

impl PlanStatus {
    pub const ALL: [PlanStatus; 7] = [
        PlanStatus::AwaitingSignature,
        PlanStatus::Active,
        PlanStatus::Paused,
        PlanStatus::Completed,
        PlanStatus::Cancelled,
        PlanStatus::InDunning,
        PlanStatus::Defaulted,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            PlanStatus::AwaitingSignature => "awaiting_signature",
            PlanStatus::Active => "active",
            PlanStatus::Paused => "paused",
            PlanStatus::Completed => "completed",
            PlanStatus::Cancelled => "cancelled",
            PlanStatus::InDunning => "in_dunning",
            PlanStatus::Defaulted => "defaulted",
        }
    }

    pub fn parse(text: &str) -> Option<PlanStatus> {
        PlanStatus::ALL.into_iter().find(|s| s.as_str() == text)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InstalmentStatus {
    Planned,
    Notified,
    Collecting,
    Collected,
    Failed,
    Retrying,
    Skipped,
    Cancelled,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Instalment {
    /// Position in the plan, from 1; the down payment, when there is one, is 1.
    pub seq: u32,
    pub due_date: NaiveDate,
    pub amount: Amount,
    pub kind: InstalmentKind,
    pub status: InstalmentStatus,
    /// The day the debtor was told of this instalment's date and amount (by the signing
    /// confirmation or a pre-notification).
    #[serde(default)]
    pub notified_on: Option<NaiveDate>,
    /// The collection attempts made for it (`Collection::id_for` with these numbers).
    #[serde(default)]
    pub attempts: u32,
}

/// A plan request after every field was checked: what the operator agreed with the debtor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanTerms {
    pub creditor_id: CreditorId,
    pub kind: PlanKind,
    pub debtor: Debtor,
    pub currency: Currency,
    pub invoices: Vec<Invoice>,
    pub schedule: ScheduleTerms,
    pub scheme: Scheme,
    /// An existing mandate to collect under, instead of inviting the debtor to sign one.
    pub mandate_id: Option<String>,
}

/// The link the debtor signs the mandate through. Only the SHA-256 of the token is stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SigningToken {
    /// Hex SHA-256 of the token in the link.
    pub token_hash: String,
    pub plan_id: PlanId,
    pub expires_at: DateTime<Utc>,
    pub used_at: Option<DateTime<Utc>>,
    /// The mandate this link signs: the plan's first mandate, or a new one that replaces it.
    #[serde(default)]
    pub mandate_id: Option<String>,
}

/// A debtor's link to the self-service page of a plan, sent in pre-notifications and dunning
/// e-mails. Only the SHA-256 of the token is stored; it works any number of times until it
/// expires (each e-mail carries a fresh one).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SelfServiceToken {
    /// Hex SHA-256 of the token in the link.
    pub token_hash: String,
    pub plan_id: PlanId,
    pub expires_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    pub id: PlanId,
    pub creditor_id: CreditorId,
    pub kind: PlanKind,
    pub debtor: Debtor,
    pub currency: Currency,
    pub total: Amount,
    pub invoices: Vec<Invoice>,
    pub frequency: Frequency,
    /// The first regular due date as agreed, before rolling to a TARGET day: the calendar's
    /// rhythm (step `k` is `start_date + k × frequency`), which instalments moved by a plan
    /// action keep; a reschedule sets it to the new calendar's start.
    pub start_date: NaiveDate,
    pub rounding: Rounding,
    pub scheme: Scheme,
    pub mandate_id: Option<String>,
    pub status: PlanStatus,
    /// Why the plan is in its status when that is not obvious (a cancelled mandate).
    #[serde(default)]
    pub status_reason: Option<String>,
    /// The next day the daily job has something to do for this plan (a notice, a collection);
    /// `None` when nothing is pending. Indexed: the daily job's work list.
    #[serde(default)]
    pub next_action_on: Option<NaiveDate>,
    /// The day the plan went into dunning (a failure that re-presentation cannot fix); it is
    /// `defaulted` the creditor's `default_after_days` later unless resolved.
    #[serde(default)]
    pub dunning_since: Option<NaiveDate>,
    pub instalments: Vec<Instalment>,
    pub compliance: ComplianceAssessment,
    /// When the signing link stops working.
    pub signing_expires_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// The plan's last event, so the next one chains on without reading the log.
    #[serde(default)]
    pub event_head: Option<crate::events::EventHead>,
    /// Optimistic-lock version: 1 on creation, +1 on every stored change.
    pub version: u64,
    /// Money the creditor received outside direct debit (a bank transfer, cash), part of the
    /// money invariant (`plan_actions::balance`).
    #[serde(default)]
    pub received_outside: Vec<crate::plan_actions::OutsidePayment>,
    /// The pause agreed last, when there is one: an open pause (no `until`) holds the
    /// instalments due from `from` on while the plan is `paused`.
    #[serde(default)]
    pub pause: Option<crate::plan_actions::Pause>,
    /// How many changes the debtor made through self-service, counted against the creditor's
    /// limit per plan.
    #[serde(default)]
    pub self_service_changes: u32,
    /// A debtor's self-service request beyond the creditor's limits, waiting for the creditor
    /// to accept or refuse it (the open task `task_id`).
    #[serde(default)]
    pub pending_request: Option<crate::self_service::PendingRequest>,
}
