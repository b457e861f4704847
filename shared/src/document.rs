//! The mandate as a document: every line the debtor saw and signed, already in their language.
//!
//! The same [`MandateDocument`] is shown on the signing page, hashed as evidence
//! ([`MandateDocument::sha256`] over [`MandateDocument::canonical_text`]) and rendered as the
//! PDF copy both sides receive, so what was shown, what was hashed and what was sent cannot
//! drift apart.

use serde::{Deserialize, Serialize};

use crate::creditor::Language;
use crate::secrets::sha256_hex;

/// A label and its value (`Mandate reference`, `ACME-7K3M9Q2X4T8B`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DocumentField {
    pub label: String,
    pub value: String,
}

/// One row of the plan's calendar, formatted for the reader.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScheduleLine {
    /// `1`, `2`, ... or the word for the down payment.
    pub number: String,
    pub due_date: String,
    pub amount: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MandateDocument {
    pub language: Language,
    /// "SEPA Direct Debit Mandate" in the reader's language.
    pub title: String,
    /// The creditor's name and postal address, one line each.
    pub creditor_lines: Vec<String>,
    /// Creditor identifier, mandate reference, payment type, scheme, debtor, address, IBAN,
    /// BIC: the fields a SEPA mandate must carry.
    pub fields: Vec<DocumentField>,
    /// The authorisation, the debtor's rights (refund or its absence) and the pre-notification
    /// period.
    pub paragraphs: Vec<String>,
    /// "Your payment plan"
    pub schedule_heading: String,
    pub schedule: Vec<ScheduleLine>,
    /// The plan's total.
    pub total: DocumentField,
    /// After signing: "Signed electronically on ... by ...". Not part of the hashed text.
    pub signature: Option<String>,
    /// After signing: the SHA-256 of the canonical text as signed. Not part of the hashed text.
    pub fingerprint: Option<DocumentField>,
}

impl MandateDocument {
    /// The document's text, one item per line, in a fixed order: what the SHA-256 evidence is
    /// taken over. The signature line and the fingerprint are left out, since they are added
    /// after signing.
    pub fn canonical_text(&self) -> String {
        let mut lines = vec![self.language.as_str().to_owned(), self.title.clone()];
        lines.extend(self.creditor_lines.iter().cloned());
        lines.extend(
            self.fields
                .iter()
                .map(|f| format!("{}: {}", f.label, f.value)),
        );
        lines.extend(self.paragraphs.iter().cloned());
        lines.push(self.schedule_heading.clone());
        lines.extend(
            self.schedule
                .iter()
                .map(|l| format!("{} | {} | {}", l.number, l.due_date, l.amount)),
        );
        lines.push(format!("{}: {}", self.total.label, self.total.value));
        let mut text = lines.join("\n");
        text.push('\n');
        text
    }

    /// Hex SHA-256 of [`MandateDocument::canonical_text`].
    pub fn sha256(&self) -> String {
        sha256_hex(self.canonical_text())
    }
}
