//! Whether a plan falls inside or outside the consumer-credit rules, and why.
//!
//! A table of rules, each citing its legal source; country rules stricter than the EU baseline
//! are data in the same table. The answer informs the operator by default; a creditor setting
//! (`compliance_mode: "refuse"`) makes plan creation refuse a plan that falls inside the rules.
//!
//! The baseline is Directive (EU) 2023/2225 on credit agreements for consumers ("CCD2"), which
//! applies from 20 November 2026 and repeals Directive 2008/48/EC ("CCD1"). A plan that lets a
//! consumer pay later is credit in the form of a deferred payment; the question is whether one of
//! the Directive's exclusions takes it out. The verdict is decided in this order: a rule that
//! makes the law not applicable (a business debtor), then a country rule that brings the plan
//! inside, then any exclusion, else inside.
//!
//! # Limits
//!
//! - This is an aid for the operator, not legal advice. A directive reaches a creditor only
//!   through its country's transposing law, which the table does not quote.
//! - Every citation was checked against the directive's published text or commentaries on it
//!   where they could be found; the doc comment of each rule says where a point could not be
//!   confirmed, and the `source` shown to the operator says so too.
//! - The rules see only [`ComplianceInput`]: the plan's total stands for the total amount of
//!   credit (a down payment on the agreement date lowers the real figure), and the agreement date
//!   stands for the delivery date of what was sold.
//! - [`COUNTRY_RULES`] is empty: no national provision is cited until someone can cite it
//!   precisely.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::money::Amount;
use crate::plan::{DebtorType, PlanKind};

/// The facts about a plan the rules look at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ComplianceInput {
    pub debtor_type: DebtorType,
    pub kind: PlanKind,
    pub total: Amount,
    /// Date of the agreement (today, when a plan is proposed).
    pub agreed_on: NaiveDate,
    pub first_due_date: NaiveDate,
    pub last_due_date: NaiveDate,
    pub instalment_count: u32,
    /// ISO country of the debtor's address when known, else of the creditor.
    pub country: String,
    /// Tranche plans carry no interest and no fees; kept explicit so the rules say so.
    pub interest_or_charges: bool,
}

/// The verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ComplianceStatus {
    /// The debtor is a business: consumer-credit law does not apply.
    NotApplicable,
    /// A consumer plan that an exclusion takes out of the consumer-credit rules.
    OutsideConsumerCredit,
    /// A consumer plan the consumer-credit rules apply to (information duties, a credit
    /// agreement, a withdrawal right...).
    InsideConsumerCredit,
}

/// One rule of the table as it applied to this plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleFinding {
    /// Stable id of the rule (`eu-ccd2-existing-debt-deferral`).
    pub rule: String,
    /// The legal source, precise to the article (`Directive (EU) 2023/2225, Art. 2(2)(c)`), or
    /// saying so where the point could not be confirmed.
    pub source: String,
    /// Whether the rule's condition holds for this plan.
    pub applies: bool,
    /// What it means for this plan, in a sentence an operator understands.
    pub explanation: String,
}

/// The answer shown with every preview and stored with every plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ComplianceAssessment {
    pub status: ComplianceStatus,
    /// One sentence: inside or outside, and the decisive reason.
    pub summary: String,
    pub findings: Vec<RuleFinding>,
}

/// The day Directive (EU) 2023/2225 starts to apply (Art. 48, as commentaries on the Directive
/// cite it; the date itself is confirmed by several). Plans agreed earlier are still governed by
/// the national law transposing Directive 2008/48/EC.
pub const CCD2_APPLIES_FROM: NaiveDate = NaiveDate::from_ymd_opt(2026, 11, 20).unwrap();

/// Directive (EU) 2023/2225, Art. 2(2)(c): credit agreements of more than EUR 100 000 are
/// outside the Directive. In cents.
pub const UPPER_THRESHOLD_CENTS: i64 = 10_000_000;

/// Directive 2008/48/EC, Art. 2(2)(c) kept credit below EUR 200 out; the 2023 Directive does not.
/// In cents; shown to the operator because the old limit is still widely believed.
pub const FORMER_LOWER_THRESHOLD_CENTS: i64 = 20_000;

/// Days within which a supplier's free-of-charge deferred payment stays outside the Directive
/// (Art. 2(2)(h) of Directive (EU) 2023/2225, the period as commentaries state it).
pub const SHORT_DEFERRED_PAYMENT_DAYS: i64 = 50;

/// What a rule does to the verdict when its condition holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    /// Consumer-credit law does not reach this plan at all (the debtor is not a consumer).
    NotApplicable,
    /// An exclusion: the plan is outside the consumer-credit rules.
    Excludes,
    /// The plan is inside whatever an exclusion says: a stricter national rule.
    Includes,
    /// Explains the plan's position; it does not change the verdict.
    Informs,
}

/// One rule of the table. A rule is data: an id that never changes (stored with every plan), the
/// source precise to the article, its effect, the condition, and the sentence that tells the
/// operator what the rule means for this plan (whether or not it applies).
#[derive(Debug, Clone, Copy)]
pub struct Rule {
    /// Stable id, `<jurisdiction>-<instrument>-<subject>` (`eu-ccd2-upper-threshold`).
    pub id: &'static str,
    /// The legal source, precise to the article, or saying that the point is unconfirmed.
    pub source: &'static str,
    /// What the rule does to the verdict when its condition holds.
    pub effect: Effect,
    /// Whether the rule's condition holds for a plan.
    pub condition: fn(&ComplianceInput) -> bool,
    /// The operator's sentence, given the plan and whether the condition holds.
    pub explanation: fn(&ComplianceInput, bool) -> String,
}

/// A rule of one country's law, beside the EU baseline. Only the rules of the plan's
/// [`ComplianceInput::country`] are assessed and listed in the findings.
#[derive(Debug, Clone, Copy)]
pub struct CountryRule {
    /// ISO 3166-1 alpha-2 code of the country, upper case (`DE`).
    pub country: &'static str,
    /// The rule; its id starts with the country code in lower case (`de-...`).
    pub rule: Rule,
}

/// The EU baseline, in the order the findings list them.
pub static EU_RULES: &[Rule] = &[
    CONSUMERS_ONLY,
    CREDIT_AGREEMENT,
    DATE_OF_APPLICATION,
    NO_LOWER_THRESHOLD,
    UPPER_THRESHOLD,
    FREE_CREDIT_NO_LONGER_EXCLUDED,
    EXISTING_DEBT_DEFERRAL,
    SHORT_DEFERRED_PAYMENT,
];

/// Country rules stricter than, or beside, the EU baseline.
///
/// Empty on purpose: no national provision is listed until it can be cited precisely. To add
/// one, append a [`CountryRule`] whose `country` is the ISO code, whose rule id starts with the
/// code in lower case, whose `source` names the national act and provision (paragraph and
/// sentence) and whose doc comment says what it adds to the Directive; then add a test beside
/// the others. Directive (EU) 2023/2225 harmonises fully (Art. 42, as commentaries cite it), so
/// a national rule mostly matters for what the Directive leaves out (an agreement it excludes
/// that national law still covers: [`Effect::Includes`]) or for an option the Directive leaves to
/// the Member States. A country rule that excludes uses [`Effect::Excludes`].
pub static COUNTRY_RULES: &[CountryRule] = &[];

/// Consumer-credit law protects consumers only.
///
/// Source: Directive (EU) 2023/2225, Art. 3, point (1), the definition of "consumer" (a natural
/// person acting for purposes outside their trade, business, craft or profession). The point
/// number is inferred from the definitions' order (a commentary cites point (3) for "credit
/// agreement"); the wording of point (1) was not seen in the sources at hand.
const CONSUMERS_ONLY: Rule = Rule {
    id: "eu-ccd2-consumers-only",
    source: "Directive (EU) 2023/2225, Art. 3, point (1) (definition of consumer)",
    effect: Effect::NotApplicable,
    condition: |input| input.debtor_type == DebtorType::Business,
    explanation: |_, applies| {
        if applies {
            "The debtor is a business: consumer-credit law protects consumers, people acting \
             outside their trade or profession, so it does not apply to this plan."
                .to_owned()
        } else {
            "The debtor is a consumer, so the plan is assessed against the consumer-credit rules."
                .to_owned()
        }
    },
};

/// A plan that lets a consumer pay later than the price is due is credit in the form of a
/// deferred payment, and the Directive applies to credit agreements.
///
/// Source: Directive (EU) 2023/2225, Art. 2(1) ("This Directive applies to credit agreements",
/// confirmed) and Art. 3, point (3), the definition of "credit agreement" (point number as a
/// commentary cites it).
const CREDIT_AGREEMENT: Rule = Rule {
    id: "eu-ccd2-credit-agreement",
    source: "Directive (EU) 2023/2225, Art. 2(1) and Art. 3, point (3)",
    effect: Effect::Informs,
    condition: |input| input.debtor_type == DebtorType::Consumer,
    explanation: |input, applies| {
        if applies {
            format!(
                "Paying {} in {} instalments instead of at once is credit in the form of a \
                 deferred payment: the Directive applies unless an exclusion takes the plan out.",
                input.total, input.instalment_count
            )
        } else {
            "Only a consumer's plan is a consumer credit agreement.".to_owned()
        }
    },
};

/// Directive (EU) 2023/2225 applies from 20 November 2026; until then the national law that
/// transposes Directive 2008/48/EC governs, and that Directive excluded credit granted free of
/// interest and without any other charges.
///
/// Sources: Directive (EU) 2023/2225, Art. 48 (transposition and date of application; the
/// article number as commentaries cite it, the date confirmed by several); Directive 2008/48/EC,
/// Art. 2(2)(f) (confirmed). Before that date only this exclusion of the old Directive is
/// modelled: its thresholds (EUR 200 to 75 000) are not.
const DATE_OF_APPLICATION: Rule = Rule {
    id: "eu-ccd2-date-of-application",
    source: "Directive (EU) 2023/2225, Art. 48 (applies from 20 November 2026); \
             Directive 2008/48/EC, Art. 2(2)(f)",
    effect: Effect::Excludes,
    condition: |input| input.agreed_on < CCD2_APPLIES_FROM && !input.interest_or_charges,
    explanation: |input, applies| {
        if applies {
            format!(
                "Agreed on {}, before the 2023 Directive applies (20 November 2026): the law under \
                 Directive 2008/48/EC still governs, and it leaves out credit free of interest \
                 and charges.",
                input.agreed_on
            )
        } else if input.agreed_on < CCD2_APPLIES_FROM {
            format!(
                "Agreed on {}, before 20 November 2026: the law under Directive 2008/48/EC still \
                 governs, and its interest-free exclusion does not help a plan with interest or \
                 charges.",
                input.agreed_on
            )
        } else {
            format!(
                "Agreed on {}, on or after 20 November 2026: the 2023 Directive applies.",
                input.agreed_on
            )
        }
    },
};

/// The 2023 Directive has no lower limit: a small plan is not excluded for being small.
///
/// Sources: Directive (EU) 2023/2225, Art. 2(2)(c), which sets only the upper limit (confirmed);
/// Directive 2008/48/EC, Art. 2(2)(c), which excluded credit below EUR 200 (confirmed). The
/// Member States' option to lighten some duties below EUR 200 is reported by commentaries; its
/// article was not confirmed and it is not modelled.
const NO_LOWER_THRESHOLD: Rule = Rule {
    id: "eu-ccd2-no-lower-threshold",
    source: "Directive (EU) 2023/2225, Art. 2(2)(c) (upper limit only); \
             Directive 2008/48/EC, Art. 2(2)(c) (former EUR 200 limit)",
    effect: Effect::Informs,
    condition: |input| input.total.cents() < FORMER_LOWER_THRESHOLD_CENTS,
    explanation: |input, applies| {
        if applies {
            format!(
                "At EUR {} the plan is below EUR 200, which kept credit out of the old \
                 Directive; the 2023 Directive has no lower limit, so the small amount does not \
                 take the plan out.",
                input.total
            )
        } else {
            "The plan is EUR 200 or more; the 2023 Directive has no lower limit anyway.".to_owned()
        }
    },
};

/// Credit agreements of more than EUR 100 000 are outside the Directive.
///
/// Source: Directive (EU) 2023/2225, Art. 2(2)(c), "credit agreements involving a total amount
/// of credit of more than EUR 100 000" (confirmed). The plan's total stands for the total
/// amount of credit; the Directive's special case of unsecured credit above that amount for
/// renovating a home is not modelled (a Tranche plan pays invoices).
const UPPER_THRESHOLD: Rule = Rule {
    id: "eu-ccd2-upper-threshold",
    source: "Directive (EU) 2023/2225, Art. 2(2)(c)",
    effect: Effect::Excludes,
    condition: |input| input.total.cents() > UPPER_THRESHOLD_CENTS,
    explanation: |input, applies| {
        if applies {
            format!(
                "The total, EUR {}, is more than EUR 100 000: credit agreements above that \
                 amount are outside the Directive.",
                input.total
            )
        } else {
            format!(
                "The total, EUR {}, is not more than EUR 100 000, the Directive's upper limit.",
                input.total
            )
        }
    },
};

/// Credit free of interest and charges is no longer excluded as such: being free of charge only
/// matters through the narrower exclusions of the table.
///
/// Sources: Directive 2008/48/EC, Art. 2(2)(f) (confirmed); that it has no counterpart in
/// Directive (EU) 2023/2225, Art. 2(2) is stated by several commentaries and by the list of
/// exclusions seen in points (a) to (h).
const FREE_CREDIT_NO_LONGER_EXCLUDED: Rule = Rule {
    id: "eu-ccd2-free-credit-in-scope",
    source: "Directive 2008/48/EC, Art. 2(2)(f), not carried into Directive (EU) 2023/2225",
    effect: Effect::Informs,
    condition: |input| !input.interest_or_charges,
    explanation: |_, applies| {
        if applies {
            "The plan is free of interest and charges. The old Directive left such credit out; \
             the 2023 Directive covers it unless a narrower exclusion applies."
                .to_owned()
        } else {
            "The plan carries interest or charges, so none of the free-of-charge exclusions can \
             apply."
                .to_owned()
        }
    },
};

/// A repayment plan defers, free of charge, the payment of a debt the consumer already owes.
///
/// Source: Directive 2008/48/EC excluded "credit agreements which relate to the deferred
/// payment, free of charge, of an existing debt" at Art. 2(2)(j) (confirmed; the Court of Justice
/// read it in case C-127/15, Verein für Konsumenteninformation v INKO, holding that such a
/// deferral stays free of charge when the consumer pays nothing beyond what the original
/// contract provided for). Whether Directive (EU) 2023/2225 keeps this exclusion, and under which
/// point of Art. 2(2), could NOT be confirmed from the sources at hand: points (a) to (g) are
/// other exclusions and point (h) is the supplier's short deferred payment. The rule follows the
/// old Directive until the point is confirmed; the `source` says so to the operator.
const EXISTING_DEBT_DEFERRAL: Rule = Rule {
    id: "eu-ccd2-existing-debt-deferral",
    source: "Directive (EU) 2023/2225, Art. 2(2) (point not confirmed; \
             Directive 2008/48/EC had this exclusion at Art. 2(2)(j))",
    effect: Effect::Excludes,
    condition: |input| input.kind == PlanKind::Repayment && !input.interest_or_charges,
    explanation: |input, applies| {
        if applies {
            "A repayment plan defers, free of charge, a debt the debtor already owes (overdue \
             invoices): such agreements are excluded from the consumer-credit rules, as long as \
             the debtor pays nothing beyond the debt."
                .to_owned()
        } else if input.kind == PlanKind::Instalment {
            "An instalment plan spreads the price of an invoice as it is agreed, not an overdue \
             debt, so the existing-debt exclusion does not apply."
                .to_owned()
        } else {
            "The repayment plan adds interest or charges, so the deferral is not free of charge \
             and the existing-debt exclusion does not apply."
                .to_owned()
        }
    },
};

/// A supplier that lets the consumer pay its price later, itself and without a third party
/// providing the credit, free of interest and with only limited charges for late payment, stays
/// outside the Directive when the price is paid within 50 days ("buy now, pay later" carve-out).
///
/// Source: Directive (EU) 2023/2225, Art. 2(2)(h), the deferred-payment exclusion (point
/// confirmed). Its conditions are taken from commentaries: free of interest, only limited
/// charges for late payment, no third party offering the credit, the price paid within 50 days
/// of delivery. Some commentaries report that the 50 days hold only for micro, small and
/// medium-sized suppliers and that other suppliers have 14 days; that could not be confirmed and
/// Tranche does not know the creditor's size, so the explanation asks the operator to check.
/// Tranche's creditor collects its own invoice, so there is no third party. The delivery date is
/// unknown: the days are counted from the agreement.
const SHORT_DEFERRED_PAYMENT: Rule = Rule {
    id: "eu-ccd2-short-deferred-payment",
    source: "Directive (EU) 2023/2225, Art. 2(2)(h)",
    effect: Effect::Excludes,
    condition: |input| {
        input.kind == PlanKind::Instalment
            && !input.interest_or_charges
            && days_to_pay(input) <= SHORT_DEFERRED_PAYMENT_DAYS
    },
    explanation: |input, applies| {
        let days = days_to_pay(input);
        if applies {
            format!(
                "The creditor itself defers the price free of charge and the last instalment is \
                 due {days} days after the agreement, within 50 days: such deferred payments are \
                 outside the Directive. Commentaries report 14 days instead of 50 for suppliers \
                 that are not small or medium-sized: check which applies to the creditor."
            )
        } else if input.kind == PlanKind::Repayment {
            "This carve-out covers a supplier deferring the price as it sells; a repayment plan \
             of overdue invoices falls under the existing-debt exclusion instead."
                .to_owned()
        } else if input.interest_or_charges {
            "The plan carries interest or charges, so it is not the free-of-charge deferred \
             payment this carve-out covers."
                .to_owned()
        } else {
            format!(
                "The last instalment is due {days} days after the agreement, beyond the 50 days \
                 of the short deferred-payment carve-out."
            )
        }
    },
};

/// Days from the agreement to the last due date.
fn days_to_pay(input: &ComplianceInput) -> i64 {
    (input.last_due_date - input.agreed_on).num_days()
}

/// Assesses a plan against the rule table.
///
/// Every EU rule is listed in the findings, applying or not, and so is every rule of the plan's
/// country, so the operator sees the whole reasoning.
pub fn assess(input: &ComplianceInput) -> ComplianceAssessment {
    assess_against(input, EU_RULES, COUNTRY_RULES)
}

/// [`assess`] against any tables, so the country mechanism is tested without inventing law.
fn assess_against(
    input: &ComplianceInput,
    eu_rules: &[Rule],
    country_rules: &[CountryRule],
) -> ComplianceAssessment {
    let country_rules = country_rules
        .iter()
        .filter(|entry| entry.country.eq_ignore_ascii_case(input.country.trim()))
        .map(|entry| (&entry.rule, true));
    let rules: Vec<(&Rule, bool)> = eu_rules
        .iter()
        .map(|rule| (rule, false))
        .chain(country_rules)
        .collect();
    let findings: Vec<(RuleFinding, Effect, bool)> = rules
        .iter()
        .map(|(rule, national)| {
            let applies = (rule.condition)(input);
            let finding = RuleFinding {
                rule: rule.id.to_owned(),
                source: rule.source.to_owned(),
                applies,
                explanation: (rule.explanation)(input, applies),
            };
            (finding, rule.effect, *national)
        })
        .collect();

    let decisive = |effect: Effect, national_only: bool| {
        findings
            .iter()
            .find(|(finding, e, national)| {
                finding.applies && *e == effect && (*national || !national_only)
            })
            .map(|(finding, _, _)| finding)
    };
    let (status, summary) = if let Some(finding) = decisive(Effect::NotApplicable, false) {
        (
            ComplianceStatus::NotApplicable,
            format!("Not applicable. {}", finding.explanation),
        )
    } else if let Some(finding) = decisive(Effect::Includes, true) {
        (
            ComplianceStatus::InsideConsumerCredit,
            format!(
                "Inside consumer credit by {}, a rule of {}. {}",
                finding.source,
                input.country.trim().to_uppercase(),
                finding.explanation
            ),
        )
    } else if let Some(finding) = decisive(Effect::Excludes, false) {
        (
            ComplianceStatus::OutsideConsumerCredit,
            format!(
                "Outside consumer credit by {}. {}",
                finding.source, finding.explanation
            ),
        )
    } else if input.agreed_on < CCD2_APPLIES_FROM {
        (
            ComplianceStatus::InsideConsumerCredit,
            "Inside consumer credit: agreed before 20 November 2026 and carrying interest or \
             charges, the plan falls under the national law transposing Directive 2008/48/EC, \
             whose duties (pre-contractual information, creditworthiness assessment, withdrawal \
             right) apply."
                .to_owned(),
        )
    } else {
        (
            ComplianceStatus::InsideConsumerCredit,
            format!(
                "Inside consumer credit: Directive (EU) 2023/2225 applies to this consumer plan \
                 and none of its exclusions takes it out. {CREDITOR_DUTIES}"
            ),
        )
    };

    ComplianceAssessment {
        status,
        summary,
        findings: findings
            .into_iter()
            .map(|(finding, _, _)| finding)
            .collect(),
    }
}

/// What a plan inside the rules asks of the creditor, by the articles of Directive (EU)
/// 2023/2225 (article titles confirmed from its table of contents; the 14 days from
/// commentaries).
const CREDITOR_DUTIES: &str = "The creditor must give the pre-contractual information (Art. 10) \
     and adequate explanations (Art. 12), assess the debtor's creditworthiness (Art. 18), put the \
     agreement on paper or another durable medium with the information Art. 20 and 21 require, \
     and let the debtor withdraw within 14 days (Art. 26); a creditor that is not a bank may \
     also need to be admitted and registered as a creditor.";

#[cfg(test)]
mod tests {
    use chrono::Days;

    use super::*;

    fn date(year: i32, month: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(year, month, day).unwrap()
    }

    /// A consumer's interest-free instalment plan of 1200.00 in 12 monthly instalments, agreed in
    /// 2027 in Germany.
    fn consumer_plan() -> ComplianceInput {
        ComplianceInput {
            debtor_type: DebtorType::Consumer,
            kind: PlanKind::Instalment,
            total: Amount::parse("1200.00").unwrap(),
            agreed_on: date(2027, 3, 1),
            first_due_date: date(2027, 3, 15),
            last_due_date: date(2028, 2, 15),
            instalment_count: 12,
            country: "DE".to_owned(),
            interest_or_charges: false,
        }
    }

    /// An instalment plan whose last instalment is due `days` after the agreement.
    fn paid_within(days: u64) -> ComplianceInput {
        let plan = consumer_plan();
        ComplianceInput {
            first_due_date: plan.agreed_on + Days::new(days.min(20)),
            last_due_date: plan.agreed_on + Days::new(days),
            instalment_count: 2,
            ..plan
        }
    }

    fn applying(assessment: &ComplianceAssessment) -> Vec<&str> {
        assessment
            .findings
            .iter()
            .filter(|f| f.applies)
            .map(|f| f.rule.as_str())
            .collect()
    }

    #[test]
    fn a_business_debtor_is_not_applicable() {
        let input = ComplianceInput {
            debtor_type: DebtorType::Business,
            ..consumer_plan()
        };

        let assessment = assess(&input);

        assert_eq!(assessment.status, ComplianceStatus::NotApplicable);
        assert!(applying(&assessment).contains(&"eu-ccd2-consumers-only"));
        assert!(
            assessment.summary.contains("business"),
            "{}",
            assessment.summary
        );
    }

    #[test]
    fn a_consumer_repaying_an_existing_debt_free_of_charge_is_outside() {
        let input = ComplianceInput {
            kind: PlanKind::Repayment,
            ..consumer_plan()
        };

        let assessment = assess(&input);

        assert_eq!(assessment.status, ComplianceStatus::OutsideConsumerCredit);
        assert!(applying(&assessment).contains(&"eu-ccd2-existing-debt-deferral"));
        assert!(
            assessment.summary.contains("not confirmed"),
            "{}",
            assessment.summary
        );
    }

    #[test]
    fn a_consumer_instalment_plan_over_three_months_is_inside_with_the_creditor_duties() {
        let input = ComplianceInput {
            last_due_date: date(2027, 6, 1),
            instalment_count: 4,
            ..consumer_plan()
        };

        let assessment = assess(&input);

        assert_eq!(assessment.status, ComplianceStatus::InsideConsumerCredit);
        assert!(assessment.summary.contains("pre-contractual information"));
        assert!(assessment.summary.contains("creditworthiness"));
        assert!(assessment.summary.contains("withdraw"));
        let carve_out = assessment
            .findings
            .iter()
            .find(|f| f.rule == "eu-ccd2-short-deferred-payment")
            .unwrap();
        assert!(!carve_out.applies);
        assert!(
            carve_out.explanation.contains("92 days"),
            "{}",
            carve_out.explanation
        );
    }

    #[test]
    fn a_total_above_the_upper_threshold_is_outside() {
        let input = ComplianceInput {
            total: Amount::parse("100000.01").unwrap(),
            ..consumer_plan()
        };

        let assessment = assess(&input);

        assert_eq!(assessment.status, ComplianceStatus::OutsideConsumerCredit);
        assert!(applying(&assessment).contains(&"eu-ccd2-upper-threshold"));
        assert!(assessment.summary.contains("Art. 2(2)(c)"));
    }

    #[test]
    fn a_total_of_exactly_100000_euros_is_not_above_the_threshold() {
        let input = ComplianceInput {
            total: Amount::parse("100000.00").unwrap(),
            ..consumer_plan()
        };

        assert_eq!(
            assess(&input).status,
            ComplianceStatus::InsideConsumerCredit
        );
    }

    #[test]
    fn an_instalment_plan_paid_within_50_days_is_outside_under_the_short_carve_out() {
        let assessment = assess(&paid_within(50));

        assert_eq!(assessment.status, ComplianceStatus::OutsideConsumerCredit);
        assert!(applying(&assessment).contains(&"eu-ccd2-short-deferred-payment"));
        assert!(assessment.summary.contains("Art. 2(2)(h)"));
        assert!(
            assessment.summary.contains("14 days"),
            "{}",
            assessment.summary
        );
    }

    #[test]
    fn an_instalment_plan_paid_in_51_days_is_inside() {
        assert_eq!(
            assess(&paid_within(51)).status,
            ComplianceStatus::InsideConsumerCredit
        );
    }

    #[test]
    fn interest_or_charges_take_away_the_free_of_charge_exclusions() {
        let repayment = ComplianceInput {
            kind: PlanKind::Repayment,
            interest_or_charges: true,
            ..consumer_plan()
        };
        let short = ComplianceInput {
            interest_or_charges: true,
            ..paid_within(30)
        };

        for input in [repayment, short] {
            let assessment = assess(&input);

            assert_eq!(assessment.status, ComplianceStatus::InsideConsumerCredit);
            assert!(!applying(&assessment).contains(&"eu-ccd2-existing-debt-deferral"));
            assert!(!applying(&assessment).contains(&"eu-ccd2-short-deferred-payment"));
            assert!(!applying(&assessment).contains(&"eu-ccd2-free-credit-in-scope"));
        }
    }

    #[test]
    fn a_plan_below_200_euros_is_not_excluded_for_being_small() {
        let input = ComplianceInput {
            total: Amount::parse("150.00").unwrap(),
            ..consumer_plan()
        };

        let assessment = assess(&input);

        assert_eq!(assessment.status, ComplianceStatus::InsideConsumerCredit);
        assert!(applying(&assessment).contains(&"eu-ccd2-no-lower-threshold"));
    }

    #[test]
    fn a_free_plan_agreed_before_20_november_2026_falls_under_the_old_interest_free_exclusion() {
        let before = ComplianceInput {
            agreed_on: date(2026, 11, 19),
            ..consumer_plan()
        };
        let from = ComplianceInput {
            agreed_on: date(2026, 11, 20),
            ..consumer_plan()
        };
        let before_with_interest = ComplianceInput {
            interest_or_charges: true,
            ..before.clone()
        };

        assert_eq!(
            assess(&before).status,
            ComplianceStatus::OutsideConsumerCredit
        );
        assert_eq!(assess(&from).status, ComplianceStatus::InsideConsumerCredit);
        let assessment = assess(&before_with_interest);
        assert_eq!(assessment.status, ComplianceStatus::InsideConsumerCredit);
        assert!(
            assessment.summary.contains("2008/48/EC"),
            "{}",
            assessment.summary
        );
    }

    #[test]
    fn the_findings_name_every_rule_of_the_table_with_its_source() {
        let assessment = assess(&consumer_plan());

        let named: Vec<&str> = assessment
            .findings
            .iter()
            .map(|f| f.rule.as_str())
            .collect();
        let table: Vec<&str> = EU_RULES.iter().map(|rule| rule.id).collect();
        assert_eq!(named, table);
        for finding in &assessment.findings {
            assert!(finding.source.contains("Directive"), "{}", finding.rule);
            assert!(finding.source.contains("Art."), "{}", finding.rule);
            assert!(!finding.explanation.is_empty(), "{}", finding.rule);
        }
    }

    #[test]
    fn rule_ids_are_unique_and_country_rules_are_keyed_by_their_iso_code() {
        let mut ids: Vec<&str> = EU_RULES
            .iter()
            .chain(COUNTRY_RULES.iter().map(|entry| &entry.rule))
            .map(|rule| rule.id)
            .collect();
        let count = ids.len();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), count);

        for entry in COUNTRY_RULES {
            assert_eq!(entry.country.len(), 2);
            assert!(entry.country.chars().all(|c| c.is_ascii_uppercase()));
            assert!(entry.rule.id.starts_with(&entry.country.to_lowercase()));
        }
    }

    /// A made-up national rule, to test the mechanism without inventing law.
    const TEST_NATIONAL_RULE: CountryRule = CountryRule {
        country: "AT",
        rule: Rule {
            id: "at-test-repayment-plans-inside",
            source: "a test rule, no law",
            effect: Effect::Includes,
            condition: |input| input.kind == PlanKind::Repayment,
            explanation: |_, _| "Repayment plans are inside in this test.".to_owned(),
        },
    };

    #[test]
    fn a_country_rule_of_the_debtors_country_overrides_an_eu_exclusion() {
        let input = ComplianceInput {
            kind: PlanKind::Repayment,
            country: "at".to_owned(),
            ..consumer_plan()
        };

        let assessment = assess_against(&input, EU_RULES, &[TEST_NATIONAL_RULE]);

        assert_eq!(assessment.status, ComplianceStatus::InsideConsumerCredit);
        assert!(applying(&assessment).contains(&"eu-ccd2-existing-debt-deferral"));
        assert!(applying(&assessment).contains(&"at-test-repayment-plans-inside"));
        assert!(
            assessment.summary.contains("a rule of AT"),
            "{}",
            assessment.summary
        );
    }

    #[test]
    fn a_country_rule_of_another_country_is_neither_applied_nor_listed() {
        let input = ComplianceInput {
            kind: PlanKind::Repayment,
            ..consumer_plan()
        };

        let assessment = assess_against(&input, EU_RULES, &[TEST_NATIONAL_RULE]);

        assert_eq!(assessment.status, ComplianceStatus::OutsideConsumerCredit);
        assert_eq!(assessment.findings.len(), EU_RULES.len());
    }

    #[test]
    fn a_country_rule_does_not_reach_a_business_debtor() {
        let input = ComplianceInput {
            kind: PlanKind::Repayment,
            debtor_type: DebtorType::Business,
            country: "AT".to_owned(),
            ..consumer_plan()
        };

        let assessment = assess_against(&input, EU_RULES, &[TEST_NATIONAL_RULE]);

        assert_eq!(assessment.status, ComplianceStatus::NotApplicable);
    }
}
