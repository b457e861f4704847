//! What a reason code of a reject or return means, and what the creditor's dunning does about
//! it: the table of SEPA_RULES section 10 (ISO external code lists and EPC173-14 usage), as data.

use serde::{Deserialize, Serialize};

/// How a failure is handled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureClass {
    /// Money was missing or timing was wrong: re-present later (AM04, TM01, ...).
    Soft,
    /// Reason withheld by the bank (MS03, which may hide AM04): re-present at most once.
    SoftOnce,
    /// The debtor refused or disputes it: no re-presentation; e-mail the debtor and ask the
    /// creditor to call (MD06, MS02, SL01, ...).
    Hard,
    /// The account or the mandate cannot be used: the mandate becomes invalid, the debtor is
    /// asked to sign a new one, the creditor is told (AC04, MD01, ...).
    AccountOrMandate,
    /// The debtor died (MD07): the mandate ends, no new one is asked for; the creditor handles
    /// the estate.
    Deceased,
    /// Our file or data is at fault (FF01, AM05, MD02, ...): nothing goes to the debtor; the
    /// creditor fixes the cause.
    Technical,
}

/// One row of the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReasonCode {
    pub code: &'static str,
    pub meaning: &'static str,
    pub class: FailureClass,
}

/// The codes Tranche knows; any other is handled as [`FailureClass::Hard`] (a person looks).
pub const REASON_CODES: &[ReasonCode] = &[
    ReasonCode {
        code: "AC01",
        meaning: "IBAN or account identifier incorrect",
        class: FailureClass::AccountOrMandate,
    },
    ReasonCode {
        code: "AC04",
        meaning: "Account closed",
        class: FailureClass::AccountOrMandate,
    },
    ReasonCode {
        code: "AC06",
        meaning: "Account blocked, or direct debits blocked by the debtor",
        class: FailureClass::AccountOrMandate,
    },
    ReasonCode {
        code: "AC13",
        meaning: "Debtor account type invalid (a B2B collection on a consumer account)",
        class: FailureClass::AccountOrMandate,
    },
    ReasonCode {
        code: "AG01",
        meaning: "Direct debit forbidden on this account",
        class: FailureClass::AccountOrMandate,
    },
    ReasonCode {
        code: "AG02",
        meaning: "Invalid operation code or file format",
        class: FailureClass::Technical,
    },
    ReasonCode {
        code: "AM04",
        meaning: "Insufficient funds",
        class: FailureClass::Soft,
    },
    ReasonCode {
        code: "AM05",
        meaning: "Duplicate collection",
        class: FailureClass::Technical,
    },
    ReasonCode {
        code: "AM10",
        meaning: "Control sum mismatch",
        class: FailureClass::Technical,
    },
    ReasonCode {
        code: "BE05",
        meaning: "Creditor not recognised (creditor identifier)",
        class: FailureClass::Technical,
    },
    ReasonCode {
        code: "CH03",
        meaning: "Collection date too far in the future",
        class: FailureClass::Soft,
    },
    ReasonCode {
        code: "CNOR",
        meaning: "Creditor bank not reachable",
        class: FailureClass::Technical,
    },
    ReasonCode {
        code: "DNOR",
        meaning: "Debtor bank not reachable",
        class: FailureClass::AccountOrMandate,
    },
    ReasonCode {
        code: "DT01",
        meaning: "Invalid date",
        class: FailureClass::Soft,
    },
    ReasonCode {
        code: "DUPL",
        meaning: "Duplicate message",
        class: FailureClass::Technical,
    },
    ReasonCode {
        code: "ED05",
        meaning: "Settlement failed",
        class: FailureClass::Soft,
    },
    ReasonCode {
        code: "FF01",
        meaning: "Invalid file format",
        class: FailureClass::Technical,
    },
    ReasonCode {
        code: "FOCR",
        meaning: "Returned after a cancellation request",
        class: FailureClass::Technical,
    },
    ReasonCode {
        code: "MD01",
        meaning: "No valid mandate (unauthorised collection)",
        class: FailureClass::AccountOrMandate,
    },
    ReasonCode {
        code: "MD02",
        meaning: "Mandate data missing or incorrect",
        class: FailureClass::Technical,
    },
    ReasonCode {
        code: "MD06",
        meaning: "Refund requested by the debtor",
        class: FailureClass::Hard,
    },
    ReasonCode {
        code: "MD07",
        meaning: "Debtor deceased",
        class: FailureClass::Deceased,
    },
    ReasonCode {
        code: "MS02",
        meaning: "Refused by the debtor",
        class: FailureClass::Hard,
    },
    ReasonCode {
        code: "MS03",
        meaning: "Reason not specified by the bank",
        class: FailureClass::SoftOnce,
    },
    ReasonCode {
        code: "RC01",
        meaning: "BIC format incorrect",
        class: FailureClass::Technical,
    },
    ReasonCode {
        code: "RR01",
        meaning: "Debtor account or identification missing (regulatory)",
        class: FailureClass::Technical,
    },
    ReasonCode {
        code: "RR02",
        meaning: "Debtor name or address missing (regulatory)",
        class: FailureClass::Technical,
    },
    ReasonCode {
        code: "RR03",
        meaning: "Creditor name or address missing (regulatory)",
        class: FailureClass::Technical,
    },
    ReasonCode {
        code: "RR04",
        meaning: "Regulatory reason (e.g. sanctions)",
        class: FailureClass::Hard,
    },
    ReasonCode {
        code: "RR10",
        meaning: "Character set not valid",
        class: FailureClass::Technical,
    },
    ReasonCode {
        code: "SL01",
        meaning: "Specific service of the debtor bank (blocking, limits)",
        class: FailureClass::Hard,
    },
    ReasonCode {
        code: "SL11",
        meaning: "Creditor not on the debtor's whitelist",
        class: FailureClass::Hard,
    },
    ReasonCode {
        code: "SL12",
        meaning: "Creditor on the debtor's blacklist",
        class: FailureClass::Hard,
    },
    ReasonCode {
        code: "SL13",
        meaning: "Maximum number of direct debits reached",
        class: FailureClass::Hard,
    },
    ReasonCode {
        code: "SL14",
        meaning: "Maximum direct debit amount exceeded",
        class: FailureClass::Hard,
    },
    ReasonCode {
        code: "TM01",
        meaning: "Cut-off time missed",
        class: FailureClass::Soft,
    },
];

/// The row of `code`, if Tranche knows it.
pub fn lookup(code: &str) -> Option<&'static ReasonCode> {
    REASON_CODES.iter().find(|r| r.code == code)
}

/// The class a report's reason leads to: the known code's class, else `Hard` (a person looks).
pub fn class_of(code: Option<&str>) -> FailureClass {
    code.and_then(lookup)
        .map_or(FailureClass::Hard, |r| r.class)
}

/// The meaning of a code for people, or a sentence saying it is not one Tranche knows.
pub fn meaning_of(code: Option<&str>) -> String {
    match code {
        Some(code) => lookup(code).map_or_else(
            || format!("reason code {code}, not one Tranche knows"),
            |r| r.meaning.to_owned(),
        ),
        None => "no reason given".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_has_each_code_once_in_order() {
        let codes: Vec<&str> = REASON_CODES.iter().map(|r| r.code).collect();
        let mut sorted = codes.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(codes, sorted);
    }

    #[test]
    fn insufficient_funds_is_soft_and_a_refund_is_hard() {
        assert_eq!(class_of(Some("AM04")), FailureClass::Soft);
        assert_eq!(class_of(Some("MS03")), FailureClass::SoftOnce);
        assert_eq!(class_of(Some("MD06")), FailureClass::Hard);
        assert_eq!(class_of(Some("AC04")), FailureClass::AccountOrMandate);
        assert_eq!(class_of(Some("MD07")), FailureClass::Deceased);
        assert_eq!(class_of(Some("FF01")), FailureClass::Technical);
    }

    #[test]
    fn an_unknown_or_missing_code_goes_to_a_person() {
        assert_eq!(class_of(Some("ZZ99")), FailureClass::Hard);
        assert_eq!(class_of(None), FailureClass::Hard);
        assert!(meaning_of(Some("ZZ99")).contains("ZZ99"));
    }
}
