//! Plan maths: from a total and the terms the operator chose to the dated, exact instalments.
//!
//! The rules, in order:
//! - the total is split either into `count` instalments or into instalments of
//!   `instalment_amount` (the odd one smaller); the remainder cents of a `count` split go on
//!   the first or the last instalment as `rounding` says, so the plan always sums to the total;
//! - a down payment, when there is one, comes first, on its own date (by default the start date,
//!   the instalments then starting one period later);
//! - dates step by the frequency from the start date; monthly-based frequencies keep the start
//!   date's day of the month, falling back to the month's last day (31 Jan, 28/29 Feb, 31 Mar),
//!   and every date is then rolled forward to a TARGET day;
//! - at most [`MAX_INSTALMENTS`] instalments including the down payment, and no due date before
//!   the earliest date a collection can legally reach the debtor ([`earliest_due_date`]).

use chrono::{Days, Months, NaiveDate};
use serde::{Deserialize, Serialize};

use crate::calendar::{add_target_days, roll_forward};
use crate::error::FieldError;
use crate::money::Amount;

/// The most instalments one plan may have, down payment included.
pub const MAX_INSTALMENTS: u32 = 120;

/// How often an instalment falls due.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Frequency {
    Weekly,
    Biweekly,
    Monthly,
    Bimonthly,
    Quarterly,
    Semiannual,
    Yearly,
}

impl Frequency {
    pub const ALL: [Frequency; 7] = [
        Frequency::Weekly,
        Frequency::Biweekly,
        Frequency::Monthly,
        Frequency::Bimonthly,
        Frequency::Quarterly,
        Frequency::Semiannual,
        Frequency::Yearly,
    ];

    /// The API's name for it (`"biweekly"`).
    pub fn as_str(self) -> &'static str {
        match self {
            Frequency::Weekly => "weekly",
            Frequency::Biweekly => "biweekly",
            Frequency::Monthly => "monthly",
            Frequency::Bimonthly => "bimonthly",
            Frequency::Quarterly => "quarterly",
            Frequency::Semiannual => "semiannual",
            Frequency::Yearly => "yearly",
        }
    }

    pub fn parse(text: &str) -> Option<Frequency> {
        Frequency::ALL.into_iter().find(|f| f.as_str() == text)
    }
}

/// How the total is divided.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Split {
    /// So many instalments of (nearly) equal amounts.
    Count(u32),
    /// Instalments of this amount; the odd one is smaller.
    InstalmentAmount(Amount),
}

/// Which instalment takes the remainder cents (or, with `instalment_amount`, the odd amount).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Rounding {
    First,
    #[default]
    Last,
}

/// A down payment: its amount and, when it is not the start date, its own date.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct DownPaymentTerms {
    pub amount: Amount,
    pub date: Option<NaiveDate>,
}

/// Everything the maths needs to lay out a plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScheduleTerms {
    pub total: Amount,
    pub split: Split,
    pub frequency: Frequency,
    pub start_date: NaiveDate,
    pub down_payment: Option<DownPaymentTerms>,
    pub rounding: Rounding,
}

/// Whether an instalment is the down payment or one of the regular instalments.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InstalmentKind {
    DownPayment,
    Regular,
}

/// One dated amount of a schedule. `seq` counts from 1, the down payment included.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScheduledInstalment {
    pub seq: u32,
    pub due_date: NaiveDate,
    pub amount: Amount,
    pub kind: InstalmentKind,
}

/// The earliest due date a plan created `today` may have: the pre-notification must reach the
/// debtor `pre_notification_days` calendar days before the date, and the collection must then
/// reach the bank `lead_days` TARGET days before it. Counted as today + pre-notification days,
/// then `lead_days` TARGET days on.
///
/// The answer is always a TARGET day (with `lead_days = 0` it is the pre-notification date rolled
/// forward). Panics only past chrono's date range, as the calendar does.
pub fn earliest_due_date(
    today: NaiveDate,
    pre_notification_days: u32,
    lead_days: u32,
) -> NaiveDate {
    let notified = today + Days::new(u64::from(pre_notification_days));
    add_target_days(notified, lead_days)
}

/// Lays out the instalments. Every error names the request field at fault (`total`, `count`,
/// `instalment_amount`, `start_date`, `down_payment.amount`, `down_payment.date`) with a
/// message that says the limit; a start date too early names the earliest allowed date.
///
/// All the errors the terms have are reported together, so the operator fixes a request once.
/// Amounts are split in integer cents, so the instalments always sum to the total exactly.
pub fn build_schedule(
    terms: &ScheduleTerms,
    earliest_due_date: NaiveDate,
) -> Result<Vec<ScheduledInstalment>, Vec<FieldError>> {
    let mut errors = Vec::new();

    let rest = check_down_payment(terms, &mut errors);
    let max_regular = MAX_INSTALMENTS - u32::from(terms.down_payment.is_some());
    let count = check_split(terms, rest, max_regular, &mut errors);
    let dates = lay_out_dates(terms, count, earliest_due_date, &mut errors);

    let (Some(rest), Some(count), Some(dates)) = (rest, count, dates) else {
        debug_assert!(!errors.is_empty(), "a check gave up without saying why");
        return Err(errors);
    };
    if !errors.is_empty() {
        return Err(errors);
    }

    let amounts = split_amounts(terms.split, terms.rounding, rest, count);
    let down_payment = terms
        .down_payment
        .zip(dates.down_payment)
        .map(|(down, due_date)| (due_date, down.amount, InstalmentKind::DownPayment));
    let regular = dates
        .regular
        .into_iter()
        .zip(amounts)
        .map(|(due_date, cents)| (due_date, cents_to_amount(cents), InstalmentKind::Regular));
    Ok(down_payment
        .into_iter()
        .chain(regular)
        .zip(1..)
        .map(|((due_date, amount, kind), seq)| ScheduledInstalment {
            seq,
            due_date,
            amount,
            kind,
        })
        .collect())
}

/// The due date of step `periods` of a plan starting on `start`, before it is rolled to a TARGET
/// day: `start + periods × frequency`, always counted from the start (never from the previous
/// date), so a monthly plan from 31 January comes back to the 31st after a short month. Months
/// that lack the start's day of the month fall back to their last day. `None` past chrono's
/// date range.
pub fn unrolled_due_date(
    start: NaiveDate,
    frequency: Frequency,
    periods: u32,
) -> Option<NaiveDate> {
    match frequency.step() {
        Step::Days(days) => start.checked_add_days(Days::new(days * u64::from(periods))),
        Step::Months(months) => start.checked_add_months(Months::new(months.checked_mul(periods)?)),
    }
}

/// One period of a frequency: a fixed number of days, or of calendar months.
enum Step {
    Days(u64),
    Months(u32),
}

impl Frequency {
    fn step(self) -> Step {
        match self {
            Frequency::Weekly => Step::Days(7),
            Frequency::Biweekly => Step::Days(14),
            Frequency::Monthly => Step::Months(1),
            Frequency::Bimonthly => Step::Months(2),
            Frequency::Quarterly => Step::Months(3),
            Frequency::Semiannual => Step::Months(6),
            Frequency::Yearly => Step::Months(12),
        }
    }
}

/// The rolled due dates of a schedule, the down payment apart.
struct Dates {
    down_payment: Option<NaiveDate>,
    regular: Vec<NaiveDate>,
}

/// Checks the down payment and answers the cents left for the regular instalments (`None` when
/// the down payment leaves nothing sound to split).
fn check_down_payment(terms: &ScheduleTerms, errors: &mut Vec<FieldError>) -> Option<i64> {
    let total = terms.total.cents();
    let Some(down_payment) = terms.down_payment else {
        return Some(total);
    };

    if let Some(date) = down_payment.date
        && date >= terms.start_date
    {
        errors.push(FieldError::new(
            "down_payment.date",
            format!(
                "must be before the start date ({}); leave it out to collect the down payment on \
                 the start date and the instalments from one period later",
                terms.start_date
            ),
        ));
    }

    if down_payment.amount.cents() >= total {
        errors.push(FieldError::new(
            "down_payment.amount",
            format!(
                "must be less than the total ({}): the instalments collect what the down payment \
                 leaves",
                terms.total
            ),
        ));
        return None;
    }
    Some(total - down_payment.amount.cents())
}

/// Checks the split against the limits and answers how many regular instalments it makes.
fn check_split(
    terms: &ScheduleTerms,
    rest: Option<i64>,
    max_regular: u32,
    errors: &mut Vec<FieldError>,
) -> Option<u32> {
    let limit = if max_regular < MAX_INSTALMENTS {
        format!(
            "a plan has at most {MAX_INSTALMENTS} instalments, the down payment included, so at \
             most {max_regular} besides it"
        )
    } else {
        format!("a plan has at most {MAX_INSTALMENTS} instalments")
    };

    match terms.split {
        Split::Count(0) => {
            errors.push(FieldError::new("count", "must be at least 1"));
            None
        }
        Split::Count(count) if count > max_regular => {
            errors.push(FieldError::new(
                "count",
                format!("must be at most {max_regular}: {limit}"),
            ));
            None
        }
        Split::Count(count) => match rest {
            Some(rest) if i64::from(count) > rest => {
                errors.push(FieldError::new(
                    "count",
                    format!(
                        "is more than the {} cents left to split ({}): every instalment must be \
                         at least 0.01",
                        rest,
                        cents_to_amount(rest)
                    ),
                ));
                None
            }
            Some(_) => Some(count),
            None => None,
        },
        Split::InstalmentAmount(amount) if amount > terms.total => {
            errors.push(FieldError::new(
                "instalment_amount",
                format!("must not be more than the total ({})", terms.total),
            ));
            None
        }
        Split::InstalmentAmount(amount) => {
            let rest = rest?;
            let count = instalments_of(rest, amount.cents());
            if count > i64::from(max_regular) {
                let smallest = instalments_of(rest, i64::from(max_regular));
                errors.push(FieldError::new(
                    "instalment_amount",
                    format!(
                        "makes {count} instalments, and {limit}: it must be at least {}",
                        cents_to_amount(smallest)
                    ),
                ));
                return None;
            }
            u32::try_from(count).ok()
        }
    }
}

/// Dates the down payment and the `count` regular instalments (when the count is known), and
/// checks them against the earliest allowed date and against each other.
fn lay_out_dates(
    terms: &ScheduleTerms,
    count: Option<u32>,
    earliest: NaiveDate,
    errors: &mut Vec<FieldError>,
) -> Option<Dates> {
    let too_far = || {
        FieldError::new(
            "start_date",
            "is too far in the future to lay out the plan's dates",
        )
    };
    let too_early = |field: &str| {
        FieldError::new(
            field,
            format!(
                "is before {earliest}, the earliest date a collection can legally reach the \
                 debtor (pre-notification and bank lead time)"
            ),
        )
    };

    // With a down payment on the start date, the regular instalments begin one period later.
    let down_payment_date = terms
        .down_payment
        .map(|down_payment| down_payment.date.unwrap_or(terms.start_date));
    let explicit_date = terms
        .down_payment
        .and_then(|down_payment| down_payment.date);
    let offset = u32::from(down_payment_date.is_some() && explicit_date.is_none());

    let Some(first) = roll(Some(terms.start_date)) else {
        errors.push(too_far());
        return None;
    };
    if first < earliest {
        errors.push(too_early("start_date"));
    }

    let mut down_payment = None;
    if let Some(date) = down_payment_date {
        // A down payment date on or after the start date has already been refused.
        let Some(rolled) = roll(Some(date)) else {
            errors.push(too_far());
            return None;
        };
        if explicit_date.is_some() && date < terms.start_date {
            if rolled < earliest {
                errors.push(too_early("down_payment.date"));
            }
            if rolled >= first {
                errors.push(FieldError::new(
                    "down_payment.date",
                    format!(
                        "falls on {rolled} once moved to a TARGET business day, not before the \
                         first instalment on {first}; choose an earlier date"
                    ),
                ));
            }
        }
        down_payment = Some(rolled);
    }

    let count = count?;
    let mut regular = Vec::with_capacity(count as usize);
    for k in 0..count {
        let Some(date) = roll(unrolled_due_date(
            terms.start_date,
            terms.frequency,
            k + offset,
        )) else {
            errors.push(too_far());
            return None;
        };
        regular.push(date);
    }
    Some(Dates {
        down_payment,
        regular,
    })
}

/// Rolls a date forward to a TARGET day, or `None` when that could leave chrono's date range
/// (the calendar would panic there; a week is more than any run of TARGET closing days).
fn roll(date: Option<NaiveDate>) -> Option<NaiveDate> {
    let date = date?;
    date.checked_add_days(Days::new(7))?;
    Some(roll_forward(date))
}

/// The amounts of the regular instalments, in cents, in order.
fn split_amounts(split: Split, rounding: Rounding, rest: i64, count: u32) -> Vec<i64> {
    let count = count as usize;
    let odd_one = match rounding {
        Rounding::First => 0,
        Rounding::Last => count - 1,
    };
    let mut amounts;
    match split {
        Split::Count(_) => {
            let base = rest / count as i64;
            amounts = vec![base; count];
            amounts[odd_one] += rest % count as i64;
        }
        Split::InstalmentAmount(amount) => {
            let amount = amount.cents();
            amounts = vec![amount; count];
            amounts[odd_one] = rest - amount * (count as i64 - 1);
        }
    }
    amounts
}

/// How many instalments of `amount` cents it takes to collect `rest` cents.
fn instalments_of(rest: i64, amount: i64) -> i64 {
    (rest + amount - 1) / amount
}

/// An amount the split produced: at least one cent and at most the total, so always valid.
fn cents_to_amount(cents: i64) -> Amount {
    Amount::from_cents(cents).expect("a split amount lies between one cent and the total")
}

#[cfg(test)]
mod tests {
    use chrono::Datelike;
    use proptest::prelude::*;

    use super::*;
    use crate::calendar::is_target_day;

    fn date(year: i32, month: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(year, month, day).unwrap()
    }

    fn euros(text: &str) -> Amount {
        Amount::parse(text).unwrap()
    }

    /// A monthly plan of `total` in `count` instalments from Monday 1 February 2027, with the
    /// earliest allowed date well before it.
    fn monthly(total: &str, count: u32) -> ScheduleTerms {
        ScheduleTerms {
            total: euros(total),
            split: Split::Count(count),
            frequency: Frequency::Monthly,
            start_date: date(2027, 2, 1),
            down_payment: None,
            rounding: Rounding::Last,
        }
    }

    const EARLIEST: NaiveDate = NaiveDate::from_ymd_opt(2027, 1, 18).unwrap();

    fn amounts(schedule: &[ScheduledInstalment]) -> Vec<String> {
        schedule.iter().map(|i| i.amount.to_string()).collect()
    }

    fn due_dates(schedule: &[ScheduledInstalment]) -> Vec<NaiveDate> {
        schedule.iter().map(|i| i.due_date).collect()
    }

    fn fields(errors: &[FieldError]) -> Vec<&str> {
        errors.iter().map(|e| e.field.as_str()).collect()
    }

    fn message_of<'a>(errors: &'a [FieldError], field: &str) -> &'a str {
        &errors.iter().find(|e| e.field == field).unwrap().message
    }

    #[test]
    fn the_earliest_due_date_is_the_pre_notification_date_then_the_lead_days_in_target_days() {
        // Monday 4 January 2027 + 14 days is Monday 18 January, a TARGET day.
        assert_eq!(
            earliest_due_date(date(2027, 1, 4), 14, 0),
            date(2027, 1, 18)
        );
        assert_eq!(
            earliest_due_date(date(2027, 1, 4), 14, 1),
            date(2027, 1, 19)
        );
        assert_eq!(
            earliest_due_date(date(2027, 1, 4), 14, 2),
            date(2027, 1, 20)
        );
    }

    #[test]
    fn the_earliest_due_date_steps_over_closing_days() {
        // 11 December 2026 + 14 days is Christmas Day, a Friday: TARGET reopens on Monday 28.
        assert_eq!(
            earliest_due_date(date(2026, 12, 11), 14, 0),
            date(2026, 12, 28)
        );
        assert_eq!(
            earliest_due_date(date(2026, 12, 11), 14, 2),
            date(2026, 12, 29)
        );
    }

    #[test]
    fn a_thousand_euros_in_three_puts_the_extra_cent_first_when_rounding_is_first() {
        let terms = ScheduleTerms {
            rounding: Rounding::First,
            ..monthly("1000.00", 3)
        };

        let schedule = build_schedule(&terms, EARLIEST).unwrap();

        assert_eq!(amounts(&schedule), ["333.34", "333.33", "333.33"]);
        assert_eq!(
            due_dates(&schedule),
            [date(2027, 2, 1), date(2027, 3, 1), date(2027, 4, 1)]
        );
        assert_eq!(
            schedule.iter().map(|i| i.seq).collect::<Vec<_>>(),
            [1, 2, 3]
        );
        assert!(schedule.iter().all(|i| i.kind == InstalmentKind::Regular));
    }

    #[test]
    fn a_thousand_euros_in_three_puts_the_extra_cent_last_when_rounding_is_last() {
        let schedule = build_schedule(&monthly("1000.00", 3), EARLIEST).unwrap();

        assert_eq!(amounts(&schedule), ["333.33", "333.33", "333.34"]);
    }

    #[test]
    fn a_monthly_plan_from_31_january_keeps_the_31st_and_falls_back_to_the_end_of_short_months() {
        assert_eq!(
            unrolled_due_date(date(2027, 1, 31), Frequency::Monthly, 1),
            Some(date(2027, 2, 28))
        );
        assert_eq!(
            unrolled_due_date(date(2028, 1, 31), Frequency::Monthly, 1),
            Some(date(2028, 2, 29))
        );
        assert_eq!(
            unrolled_due_date(date(2027, 1, 31), Frequency::Monthly, 2),
            Some(date(2027, 3, 31))
        );
        assert_eq!(
            unrolled_due_date(date(2027, 1, 31), Frequency::Monthly, 3),
            Some(date(2027, 4, 30))
        );

        let terms = ScheduleTerms {
            start_date: date(2028, 1, 31),
            ..monthly("400.00", 4)
        };
        let schedule = build_schedule(&terms, EARLIEST).unwrap();

        // Sunday 30 April 2028 and Monday 1 May (closed) roll to Tuesday 2 May.
        assert_eq!(
            due_dates(&schedule),
            [
                date(2028, 1, 31),
                date(2028, 2, 29),
                date(2028, 3, 31),
                date(2028, 5, 2)
            ]
        );
    }

    #[test]
    fn every_frequency_steps_from_the_start_date() {
        let start = date(2027, 1, 31);
        let third = |frequency| unrolled_due_date(start, frequency, 3).unwrap();

        assert_eq!(third(Frequency::Weekly), date(2027, 2, 21));
        assert_eq!(third(Frequency::Biweekly), date(2027, 3, 14));
        assert_eq!(third(Frequency::Monthly), date(2027, 4, 30));
        assert_eq!(third(Frequency::Bimonthly), date(2027, 7, 31));
        assert_eq!(third(Frequency::Quarterly), date(2027, 10, 31));
        assert_eq!(third(Frequency::Semiannual), date(2028, 7, 31));
        assert_eq!(third(Frequency::Yearly), date(2030, 1, 31));
    }

    #[test]
    fn dates_that_are_not_target_days_roll_forward() {
        // Friday 26 March 2027 is Good Friday and Monday 29 March Easter Monday.
        let terms = ScheduleTerms {
            start_date: date(2027, 3, 12),
            frequency: Frequency::Biweekly,
            ..monthly("300.00", 3)
        };

        let schedule = build_schedule(&terms, EARLIEST).unwrap();

        assert_eq!(
            due_dates(&schedule),
            [date(2027, 3, 12), date(2027, 3, 30), date(2027, 4, 9)]
        );
    }

    #[test]
    fn a_down_payment_without_a_date_is_due_on_the_start_date_and_instalments_follow_a_period_later()
     {
        let terms = ScheduleTerms {
            down_payment: Some(DownPaymentTerms {
                amount: euros("100.00"),
                date: None,
            }),
            ..monthly("1000.00", 3)
        };

        let schedule = build_schedule(&terms, EARLIEST).unwrap();

        assert_eq!(schedule.len(), 4);
        assert_eq!(schedule[0].kind, InstalmentKind::DownPayment);
        assert_eq!(schedule[0].seq, 1);
        assert_eq!(amounts(&schedule), ["100.00", "300.00", "300.00", "300.00"]);
        assert_eq!(
            due_dates(&schedule),
            [
                date(2027, 2, 1),
                date(2027, 3, 1),
                date(2027, 4, 1),
                date(2027, 5, 3)
            ]
        );
    }

    #[test]
    fn a_down_payment_with_its_own_date_comes_first_and_instalments_start_on_the_start_date() {
        let terms = ScheduleTerms {
            down_payment: Some(DownPaymentTerms {
                amount: euros("100.00"),
                date: Some(date(2027, 1, 20)),
            }),
            ..monthly("1000.00", 3)
        };

        let schedule = build_schedule(&terms, EARLIEST).unwrap();

        assert_eq!(
            due_dates(&schedule),
            [
                date(2027, 1, 20),
                date(2027, 2, 1),
                date(2027, 3, 1),
                date(2027, 4, 1)
            ]
        );
        assert_eq!(schedule[0].kind, InstalmentKind::DownPayment);
        assert!(
            schedule[1..]
                .iter()
                .all(|i| i.kind == InstalmentKind::Regular)
        );
    }

    #[test]
    fn an_instalment_amount_makes_equal_instalments_with_the_smaller_odd_one_last() {
        let terms = ScheduleTerms {
            split: Split::InstalmentAmount(euros("300.00")),
            ..monthly("1000.00", 1)
        };

        let schedule = build_schedule(&terms, EARLIEST).unwrap();

        assert_eq!(amounts(&schedule), ["300.00", "300.00", "300.00", "100.00"]);
    }

    #[test]
    fn an_instalment_amount_puts_the_odd_one_first_when_rounding_is_first() {
        let terms = ScheduleTerms {
            split: Split::InstalmentAmount(euros("300.00")),
            rounding: Rounding::First,
            ..monthly("1000.00", 1)
        };

        let schedule = build_schedule(&terms, EARLIEST).unwrap();

        assert_eq!(amounts(&schedule), ["100.00", "300.00", "300.00", "300.00"]);
    }

    #[test]
    fn an_instalment_amount_that_divides_the_rest_makes_no_odd_one() {
        let terms = ScheduleTerms {
            split: Split::InstalmentAmount(euros("250.00")),
            down_payment: Some(DownPaymentTerms {
                amount: euros("250.00"),
                date: None,
            }),
            ..monthly("1000.00", 1)
        };

        let schedule = build_schedule(&terms, EARLIEST).unwrap();

        assert_eq!(amounts(&schedule), ["250.00", "250.00", "250.00", "250.00"]);
    }

    #[test]
    fn a_count_of_zero_is_refused() {
        let errors = build_schedule(&monthly("1000.00", 0), EARLIEST).unwrap_err();

        assert_eq!(fields(&errors), ["count"]);
        assert_eq!(message_of(&errors, "count"), "must be at least 1");
    }

    #[test]
    fn more_than_120_instalments_are_refused_with_the_limit() {
        let errors = build_schedule(&monthly("1000.00", 121), EARLIEST).unwrap_err();

        assert_eq!(fields(&errors), ["count"]);
        assert!(message_of(&errors, "count").contains("at most 120"));
        assert!(build_schedule(&monthly("1000.00", 120), EARLIEST).is_ok());
    }

    #[test]
    fn the_down_payment_counts_towards_the_120_instalments() {
        let terms = ScheduleTerms {
            down_payment: Some(DownPaymentTerms {
                amount: euros("100.00"),
                date: None,
            }),
            ..monthly("1000.00", 120)
        };

        let errors = build_schedule(&terms, EARLIEST).unwrap_err();

        assert_eq!(fields(&errors), ["count"]);
        let message = message_of(&errors, "count");
        assert!(message.contains("at most 119"), "{message}");
        assert!(message.contains("120"), "{message}");
    }

    #[test]
    fn an_instalment_amount_that_needs_more_than_120_instalments_is_refused_with_the_smallest_allowed()
     {
        let terms = ScheduleTerms {
            split: Split::InstalmentAmount(euros("1.00")),
            ..monthly("1000.00", 1)
        };

        let errors = build_schedule(&terms, EARLIEST).unwrap_err();

        assert_eq!(fields(&errors), ["instalment_amount"]);
        let message = message_of(&errors, "instalment_amount");
        assert!(message.contains("1000 instalments"), "{message}");
        assert!(message.contains("at most 120"), "{message}");
        assert!(message.contains("at least 8.34"), "{message}");
    }

    #[test]
    fn an_instalment_amount_above_the_total_is_refused() {
        let terms = ScheduleTerms {
            split: Split::InstalmentAmount(euros("1000.01")),
            ..monthly("1000.00", 1)
        };

        let errors = build_schedule(&terms, EARLIEST).unwrap_err();

        assert_eq!(fields(&errors), ["instalment_amount"]);
        assert!(message_of(&errors, "instalment_amount").contains("1000.00"));
    }

    #[test]
    fn a_count_above_the_cents_to_split_is_refused_because_every_instalment_needs_a_cent() {
        let errors = build_schedule(&monthly("0.05", 6), EARLIEST).unwrap_err();

        assert_eq!(fields(&errors), ["count"]);
        assert!(message_of(&errors, "count").contains("0.01"));
        assert_eq!(
            amounts(&build_schedule(&monthly("0.05", 5), EARLIEST).unwrap()),
            ["0.01"; 5]
        );
    }

    #[test]
    fn a_down_payment_of_the_whole_total_is_refused() {
        let terms = ScheduleTerms {
            down_payment: Some(DownPaymentTerms {
                amount: euros("1000.00"),
                date: None,
            }),
            ..monthly("1000.00", 3)
        };

        let errors = build_schedule(&terms, EARLIEST).unwrap_err();

        assert_eq!(fields(&errors), ["down_payment.amount"]);
        assert!(message_of(&errors, "down_payment.amount").contains("less than the total"));
    }

    #[test]
    fn a_down_payment_dated_on_or_after_the_start_date_is_refused() {
        let terms = ScheduleTerms {
            down_payment: Some(DownPaymentTerms {
                amount: euros("100.00"),
                date: Some(date(2027, 2, 1)),
            }),
            ..monthly("1000.00", 3)
        };

        let errors = build_schedule(&terms, EARLIEST).unwrap_err();

        assert_eq!(fields(&errors), ["down_payment.date"]);
        assert!(message_of(&errors, "down_payment.date").contains("before the start date"));
    }

    #[test]
    fn a_down_payment_that_rolls_onto_the_first_instalment_is_refused() {
        // Saturday 30 January 2027 rolls to Monday 1 February, the start date.
        let terms = ScheduleTerms {
            down_payment: Some(DownPaymentTerms {
                amount: euros("100.00"),
                date: Some(date(2027, 1, 30)),
            }),
            ..monthly("1000.00", 3)
        };

        let errors = build_schedule(&terms, EARLIEST).unwrap_err();

        assert_eq!(fields(&errors), ["down_payment.date"]);
        assert!(message_of(&errors, "down_payment.date").contains("2027-02-01"));
    }

    #[test]
    fn a_start_date_before_the_earliest_due_date_is_refused_with_that_date() {
        let terms = ScheduleTerms {
            start_date: date(2027, 1, 15),
            ..monthly("1000.00", 3)
        };

        let errors = build_schedule(&terms, EARLIEST).unwrap_err();

        assert_eq!(fields(&errors), ["start_date"]);
        assert_eq!(
            message_of(&errors, "start_date"),
            "is before 2027-01-18, the earliest date a collection can legally reach the debtor \
             (pre-notification and bank lead time)"
        );
    }

    #[test]
    fn a_start_date_that_rolls_onto_the_earliest_due_date_is_accepted() {
        // Saturday 16 January 2027 rolls to Monday 18 January.
        let terms = ScheduleTerms {
            start_date: date(2027, 1, 16),
            ..monthly("1000.00", 3)
        };

        let schedule = build_schedule(&terms, EARLIEST).unwrap();

        assert_eq!(schedule[0].due_date, EARLIEST);
    }

    #[test]
    fn a_defaulted_down_payment_before_the_earliest_due_date_is_blamed_on_the_start_date() {
        let terms = ScheduleTerms {
            start_date: date(2027, 1, 12),
            down_payment: Some(DownPaymentTerms {
                amount: euros("100.00"),
                date: None,
            }),
            ..monthly("1000.00", 3)
        };

        let errors = build_schedule(&terms, EARLIEST).unwrap_err();

        assert_eq!(fields(&errors), ["start_date"]);
    }

    #[test]
    fn a_down_payment_dated_before_the_earliest_due_date_is_blamed_on_its_own_date() {
        let terms = ScheduleTerms {
            down_payment: Some(DownPaymentTerms {
                amount: euros("100.00"),
                date: Some(date(2027, 1, 11)),
            }),
            ..monthly("1000.00", 3)
        };

        let errors = build_schedule(&terms, EARLIEST).unwrap_err();

        assert_eq!(fields(&errors), ["down_payment.date"]);
        assert!(message_of(&errors, "down_payment.date").contains("is before 2027-01-18"));
    }

    #[test]
    fn every_error_is_reported_at_once() {
        let terms = ScheduleTerms {
            start_date: date(2027, 1, 4),
            down_payment: Some(DownPaymentTerms {
                amount: euros("1000.00"),
                date: Some(date(2027, 1, 5)),
            }),
            ..monthly("1000.00", 0)
        };

        let errors = build_schedule(&terms, EARLIEST).unwrap_err();

        assert_eq!(
            fields(&errors),
            [
                "down_payment.date",
                "down_payment.amount",
                "count",
                "start_date"
            ]
        );
    }

    #[test]
    fn a_plan_past_the_end_of_the_calendar_is_refused_rather_than_panicking() {
        let terms = ScheduleTerms {
            start_date: NaiveDate::MAX - Days::new(400),
            frequency: Frequency::Yearly,
            ..monthly("1000.00", 3)
        };

        let errors = build_schedule(&terms, EARLIEST).unwrap_err();

        assert_eq!(fields(&errors), ["start_date"]);
    }

    /// The start date plus `periods` frequencies, worked out independently of the code under
    /// test: days for weekly frequencies, else the same day of the month, or the month's last.
    fn expected_unrolled(start: NaiveDate, frequency: Frequency, periods: u32) -> NaiveDate {
        let months = match frequency {
            Frequency::Weekly => return start + Days::new(7 * u64::from(periods)),
            Frequency::Biweekly => return start + Days::new(14 * u64::from(periods)),
            Frequency::Monthly => 1,
            Frequency::Bimonthly => 2,
            Frequency::Quarterly => 3,
            Frequency::Semiannual => 6,
            Frequency::Yearly => 12,
        };
        let index = start.year() * 12 + start.month0() as i32 + (months * periods) as i32;
        let (year, month) = (index.div_euclid(12), index.rem_euclid(12) as u32 + 1);
        (1..=start.day())
            .rev()
            .find_map(|day| NaiveDate::from_ymd_opt(year, month, day))
            .unwrap()
    }

    /// Sound terms: any total, a count or an amount that fits the limits, any frequency and
    /// rounding, a start date from 2026 to 2035 and, sometimes, a down payment.
    fn sound_terms() -> impl Strategy<Value = ScheduleTerms> {
        (
            2i64..=500_000_000,
            0usize..Frequency::ALL.len(),
            0i64..3650,
            any::<bool>(),
            prop_oneof![
                Just(None),
                Just(Some(None)),
                (5i64..60).prop_map(Some).prop_map(Some)
            ],
            1u32..=120,
            any::<bool>(),
            1i64..=1_000,
        )
            .prop_map(
                |(total, frequency, offset, first, down, count, by_amount, share)| {
                    let start = date(2026, 1, 1) + Days::new(offset as u64);
                    let down_payment = down.map(|days_before: Option<i64>| DownPaymentTerms {
                        amount: cents_to_amount((total * share / 1_001).max(1).min(total - 1)),
                        date: days_before.map(|days| start - Days::new(days as u64)),
                    });
                    let rest = total - down_payment.map_or(0, |d| d.amount.cents());
                    let max = 120 - u32::from(down_payment.is_some());
                    let count = count.min(max).min(rest as u32).max(1);
                    let split = if by_amount {
                        Split::InstalmentAmount(cents_to_amount(
                            instalments_of(rest, i64::from(count)).max(1),
                        ))
                    } else {
                        Split::Count(count)
                    };
                    ScheduleTerms {
                        total: cents_to_amount(total),
                        split,
                        frequency: Frequency::ALL[frequency],
                        start_date: start,
                        down_payment,
                        rounding: if first {
                            Rounding::First
                        } else {
                            Rounding::Last
                        },
                    }
                },
            )
    }

    const LONG_AGO: NaiveDate = NaiveDate::from_ymd_opt(2020, 1, 1).unwrap();

    fn regular(schedule: &[ScheduledInstalment]) -> Vec<&ScheduledInstalment> {
        schedule
            .iter()
            .filter(|i| i.kind == InstalmentKind::Regular)
            .collect()
    }

    proptest! {
        #[test]
        fn the_plan_sums_to_the_total_to_the_cent(terms in sound_terms()) {
            let schedule = build_schedule(&terms, LONG_AGO).unwrap();

            let sum: i64 = schedule.iter().map(|i| i.amount.cents()).sum();
            prop_assert_eq!(sum, terms.total.cents());
        }

        #[test]
        fn due_dates_are_strictly_ascending_target_days(terms in sound_terms()) {
            let schedule = build_schedule(&terms, LONG_AGO).unwrap();

            prop_assert!(schedule.windows(2).all(|pair| pair[0].due_date < pair[1].due_date));
            prop_assert!(schedule.iter().all(|i| is_target_day(i.due_date)));
            prop_assert!(schedule.iter().zip(1..).all(|(i, seq)| i.seq == seq));
        }

        #[test]
        fn each_instalment_is_its_period_from_the_start_rolled_by_at_most_four_days(
            terms in sound_terms()
        ) {
            let schedule = build_schedule(&terms, LONG_AGO).unwrap();
            let offset = u32::from(terms.down_payment.is_some_and(|d| d.date.is_none()));

            for (k, instalment) in (0u32..).zip(regular(&schedule)) {
                let unrolled = expected_unrolled(terms.start_date, terms.frequency, k + offset);
                prop_assert_eq!(
                    unrolled_due_date(terms.start_date, terms.frequency, k + offset),
                    Some(unrolled)
                );
                prop_assert!(instalment.due_date >= unrolled);
                prop_assert!(instalment.due_date <= unrolled + Days::new(4));
            }
        }

        #[test]
        fn the_remainder_sits_where_rounding_says(terms in sound_terms()) {
            let schedule = build_schedule(&terms, LONG_AGO).unwrap();
            let regular = regular(&schedule);
            let (odd, others) = match terms.rounding {
                Rounding::First => (regular[0], &regular[1..]),
                Rounding::Last => (regular[regular.len() - 1], &regular[..regular.len() - 1]),
            };

            let rest = terms.total.cents() - terms.down_payment.map_or(0, |d| d.amount.cents());
            let n = regular.len() as i64;
            match terms.split {
                Split::Count(_) => {
                    prop_assert!(others.iter().all(|i| i.amount.cents() == rest / n));
                    prop_assert_eq!(odd.amount.cents(), rest / n + rest % n);
                }
                Split::InstalmentAmount(amount) => {
                    prop_assert!(others.iter().all(|i| i.amount == amount));
                    prop_assert!(odd.amount <= amount);
                }
            }
        }

        #[test]
        fn the_down_payment_comes_first_and_only_once(terms in sound_terms()) {
            let schedule = build_schedule(&terms, LONG_AGO).unwrap();
            let down_payments = schedule
                .iter()
                .filter(|i| i.kind == InstalmentKind::DownPayment)
                .count();

            match terms.down_payment {
                Some(down_payment) => {
                    prop_assert_eq!(down_payments, 1);
                    prop_assert_eq!(schedule[0].kind, InstalmentKind::DownPayment);
                    prop_assert_eq!(schedule[0].amount, down_payment.amount);
                    prop_assert_eq!(
                        schedule[0].due_date,
                        roll_forward(down_payment.date.unwrap_or(terms.start_date))
                    );
                }
                None => prop_assert_eq!(down_payments, 0),
            }
        }

        #[test]
        fn the_count_of_instalments_is_the_one_asked_for(terms in sound_terms()) {
            let schedule = build_schedule(&terms, LONG_AGO).unwrap();
            let rest = terms.total.cents() - terms.down_payment.map_or(0, |d| d.amount.cents());
            let expected = match terms.split {
                Split::Count(count) => i64::from(count),
                Split::InstalmentAmount(amount) => instalments_of(rest, amount.cents()),
            };

            prop_assert_eq!(regular(&schedule).len() as i64, expected);
            prop_assert!(schedule.len() as u32 <= MAX_INSTALMENTS);
            prop_assert!(schedule.iter().all(|i| i.amount.cents() >= 1));
        }
    }
}
