//! The TARGET2 calendar: the days on which SEPA inter-bank settlement happens.
//!
//! Closing days (ECB, long-term calendar since 2002): Saturdays, Sundays, 1 January, Good Friday,
//! Easter Monday, 1 May, 25 December and 26 December. Easter is computed with the Gregorian
//! computus. Collection dates must be TARGET days, and a collection must reach the debtor's bank
//! a number of TARGET days before its date; this module is the arithmetic for both.
//!
//! The six rules are applied to every year. Before 2002 the real calendar differed (TARGET was
//! also closed on 31 December 1998, 1999 and 2001, and before 2000 it was open on Good Friday,
//! Easter Monday, 1 May and 26 December); no collection is dated that far back. A holiday that
//! falls on a weekend is lost, not moved to the next weekday. Every function panics only when
//! the search leaves chrono's date range (around the year 262,000).

use chrono::{Datelike, Days, NaiveDate, Weekday};

/// Whether `date` is a TARGET business day.
pub fn is_target_day(date: NaiveDate) -> bool {
    let weekend = matches!(date.weekday(), Weekday::Sat | Weekday::Sun);
    !weekend && !holidays(date.year()).contains(&date)
}

/// Easter Sunday of `year` in the Gregorian calendar.
///
/// Good Friday and Easter Monday, two of the TARGET closing days, move with it. This is the
/// anonymous Gregorian computus (Meeus/Jones/Butcher); the euclidean divisions keep it total for
/// proleptic years before 1583, although only years from 1583 on have a Gregorian Easter.
pub fn easter_sunday(year: i32) -> NaiveDate {
    let a = year.rem_euclid(19);
    let b = year.div_euclid(100);
    let c = year.rem_euclid(100);
    let (d, e) = (b.div_euclid(4), b.rem_euclid(4));
    let f = (b + 8).div_euclid(25);
    let g = (b - f + 1).div_euclid(3);
    let h = (19 * a + b - d - g + 15).rem_euclid(30);
    let (i, k) = (c / 4, c % 4);
    let l = (32 + 2 * e + 2 * i - h - k).rem_euclid(7);
    let m = (a + 11 * h + 22 * l) / 451;

    // `offset` is 31 * month + day - 1, counted so that 114 is 22 March.
    let offset = h + l - 7 * m + 114;
    let (month, day) = (offset / 31, offset % 31 + 1);
    NaiveDate::from_ymd_opt(year, month as u32, day as u32)
        .expect("Easter falls between 22 March and 25 April of a year in chrono's range")
}

/// The TARGET holidays of `year` that are not weekend days by nature (1 Jan, Good Friday,
/// Easter Monday, 1 May, 25 Dec, 26 Dec), in date order, whatever weekday they fall on.
pub fn holidays(year: i32) -> [NaiveDate; 6] {
    let fixed = |month, day| {
        NaiveDate::from_ymd_opt(year, month, day).expect("a fixed holiday exists in every year")
    };
    let easter = easter_sunday(year);
    [
        fixed(1, 1),
        easter - Days::new(2),
        easter + Days::new(1),
        fixed(5, 1),
        fixed(12, 25),
        fixed(12, 26),
    ]
}

/// `date` itself when it is a TARGET day, else the next TARGET day.
///
/// This is where banks move a due date that is not a TARGET day, so it is where we put it first.
pub fn roll_forward(date: NaiveDate) -> NaiveDate {
    let mut day = date;
    while !is_target_day(day) {
        day = day
            .succ_opt()
            .expect("a TARGET day follows within chrono's range");
    }
    day
}

/// `date` itself when it is a TARGET day, else the TARGET day before it.
///
/// Deadlines roll backward: a file due on a closing day must leave on the TARGET day before.
pub fn roll_backward(date: NaiveDate) -> NaiveDate {
    let mut day = date;
    while !is_target_day(day) {
        day = day
            .pred_opt()
            .expect("a TARGET day precedes within chrono's range");
    }
    day
}

/// The `n`th TARGET day after `date` (`date` itself need not be a TARGET day; `n = 0` gives
/// `roll_forward(date)`).
pub fn add_target_days(date: NaiveDate, n: u32) -> NaiveDate {
    if n == 0 {
        return roll_forward(date);
    }
    (0..n).fold(date, |day, _| roll_forward(day + Days::new(1)))
}

/// The `n`th TARGET day before `date` (`n = 0` gives `roll_backward(date)`).
///
/// The presentation deadline of a collection is `sub_target_days(due_date, 1)` (D-1).
pub fn sub_target_days(date: NaiveDate, n: u32) -> NaiveDate {
    if n == 0 {
        return roll_backward(date);
    }
    (0..n).fold(date, |day, _| roll_backward(day - Days::new(1)))
}

#[cfg(test)]
mod tests {
    use chrono::{Datelike, Days, NaiveDate, Weekday};
    use fasti::{BusinessDayConvention, EasterMethod, Year, calendars::TARGET};
    use proptest::prelude::*;

    use super::*;

    fn date(year: i32, month: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(year, month, day).unwrap()
    }

    /// The TARGET closing days other than weekends, 2024 to 2030, worked out by hand: 1 January,
    /// Good Friday, Easter Monday, 1 May, 25 and 26 December (as month, day).
    const CLOSING_DAYS: [(i32, [(u32, u32); 6]); 7] = [
        (2024, [(1, 1), (3, 29), (4, 1), (5, 1), (12, 25), (12, 26)]),
        (2025, [(1, 1), (4, 18), (4, 21), (5, 1), (12, 25), (12, 26)]),
        (2026, [(1, 1), (4, 3), (4, 6), (5, 1), (12, 25), (12, 26)]),
        (2027, [(1, 1), (3, 26), (3, 29), (5, 1), (12, 25), (12, 26)]),
        (2028, [(1, 1), (4, 14), (4, 17), (5, 1), (12, 25), (12, 26)]),
        (2029, [(1, 1), (3, 30), (4, 2), (5, 1), (12, 25), (12, 26)]),
        (2030, [(1, 1), (4, 19), (4, 22), (5, 1), (12, 25), (12, 26)]),
    ];

    fn closing_days() -> impl Iterator<Item = NaiveDate> {
        CLOSING_DAYS.iter().flat_map(|(year, days)| {
            days.iter()
                .map(move |&(month, day)| date(*year, month, day))
        })
    }

    fn is_weekend(day: NaiveDate) -> bool {
        matches!(day.weekday(), Weekday::Sat | Weekday::Sun)
    }

    fn to_fasti(day: NaiveDate) -> fasti::Date {
        day.try_into().unwrap()
    }

    fn count_target_days(days: impl Iterator<Item = NaiveDate>) -> usize {
        days.filter(|day| is_target_day(*day)).count()
    }

    #[test]
    fn easter_sunday_falls_on_the_known_dates_from_2024_to_2030() {
        let known = [
            date(2024, 3, 31),
            date(2025, 4, 20),
            date(2026, 4, 5),
            date(2027, 3, 28),
            date(2028, 4, 16),
            date(2029, 4, 1),
            date(2030, 4, 21),
        ];

        for easter in known {
            assert_eq!(easter_sunday(easter.year()), easter);
            assert_eq!(easter.weekday(), Weekday::Sun);
        }
    }

    #[test]
    fn holidays_lists_the_six_closing_days_of_each_year_from_2024_to_2030_in_order() {
        for (year, days) in CLOSING_DAYS {
            let expected = days.map(|(month, day)| date(year, month, day));

            assert_eq!(holidays(year), expected, "{year}");
        }
    }

    #[test]
    fn every_target_closing_day_from_2024_to_2030_is_closed() {
        for day in closing_days() {
            assert!(!is_target_day(day), "{day} should be closed");
        }
    }

    #[test]
    fn the_weekdays_next_to_the_closing_days_from_2024_to_2030_are_open() {
        let closed: Vec<NaiveDate> = closing_days().collect();

        let neighbours = closed
            .iter()
            .flat_map(|day| [*day - Days::new(1), *day + Days::new(1)]);
        for day in neighbours.filter(|day| !is_weekend(*day) && !closed.contains(day)) {
            assert!(is_target_day(day), "{day} should be open");
        }
    }

    #[test]
    fn a_holiday_that_falls_on_a_weekend_is_not_moved_to_the_next_weekday() {
        // 26 Dec 2026 is a Saturday; 1 May, 25 and 26 Dec 2027 and 1 Jan 2028 are weekend days.
        for monday in [
            date(2026, 12, 28),
            date(2027, 5, 3),
            date(2027, 12, 27),
            date(2028, 1, 3),
        ] {
            assert_eq!(monday.weekday(), Weekday::Mon);
            assert!(is_target_day(monday), "{monday} should be open");
        }
    }

    #[test]
    fn a_collection_due_on_good_friday_2026_moves_to_the_tuesday_after_easter() {
        let good_friday = date(2026, 4, 3);

        assert_eq!(roll_forward(good_friday), date(2026, 4, 7));
        assert_eq!(roll_backward(good_friday), date(2026, 4, 2));
        assert_eq!(sub_target_days(date(2026, 4, 7), 1), date(2026, 4, 2));
        assert_eq!(add_target_days(date(2026, 4, 2), 1), date(2026, 4, 7));
    }

    #[test]
    fn zero_target_days_from_a_target_day_is_that_day() {
        let wednesday = date(2026, 4, 8);

        assert_eq!(add_target_days(wednesday, 0), wednesday);
        assert_eq!(sub_target_days(wednesday, 0), wednesday);
    }

    #[test]
    fn easter_sunday_agrees_with_fastis_tables_from_1901_to_2199() {
        for year in 1901..=2199 {
            let day_of_year = fasti::easter_sunday(Year::new(year).unwrap(), EasterMethod::Western);

            assert_eq!(
                easter_sunday(i32::from(year)).ordinal(),
                u32::from(day_of_year),
                "{year}"
            );
        }
    }

    #[test]
    fn is_target_day_agrees_with_fasti_on_every_day_from_2000_to_2100_but_new_year_s_eve_2001() {
        let mut disagreements = Vec::new();

        for day in date(2000, 1, 1)
            .iter_days()
            .take_while(|day| day.year() <= 2100)
        {
            if is_target_day(day) != TARGET.is_business_day(to_fasti(day)) {
                disagreements.push(day);
            }
        }

        // fasti also closes 31 Dec 2001, a one-off closing before the long-term calendar.
        assert_eq!(disagreements, [date(2001, 12, 31)]);
    }

    #[test]
    fn rolling_and_stepping_agree_with_fasti_on_every_day_from_2002_to_2100() {
        // From mid-January 2002 no step of up to three TARGET days reaches back to 31 Dec 2001.
        type Step = fn(&fasti::Calendar<'static>, fasti::Date) -> Option<fasti::Date>;
        let steps = |start: NaiveDate, n: u32, next: Step| {
            (0..n).fold(to_fasti(start), |day, _| next(&TARGET, day).unwrap())
        };

        for day in date(2002, 1, 15)
            .iter_days()
            .take_while(|day| day.year() <= 2100)
        {
            let following = TARGET.adjust(to_fasti(day), BusinessDayConvention::Following);
            let preceding = TARGET.adjust(to_fasti(day), BusinessDayConvention::Preceding);
            assert_eq!(to_fasti(roll_forward(day)), following.unwrap(), "{day}");
            assert_eq!(to_fasti(roll_backward(day)), preceding.unwrap(), "{day}");

            for n in 1..=3 {
                let later = steps(day, n, fasti::Calendar::next_business_day);
                let earlier = steps(day, n, fasti::Calendar::prev_business_day);
                assert_eq!(to_fasti(add_target_days(day, n)), later, "{day} + {n}");
                assert_eq!(to_fasti(sub_target_days(day, n)), earlier, "{day} - {n}");
            }
        }
    }

    fn any_date() -> impl Strategy<Value = NaiveDate> {
        (0u64..80_000).prop_map(|offset| date(1950, 1, 1) + Days::new(offset))
    }

    proptest! {
        #[test]
        fn roll_forward_gives_the_first_target_day_on_or_after_the_date(day in any_date()) {
            let rolled = roll_forward(day);

            prop_assert!(is_target_day(rolled));
            prop_assert!(rolled >= day);
            prop_assert!(day.iter_days().take_while(|d| *d < rolled).all(|d| !is_target_day(d)));
        }

        #[test]
        fn roll_backward_gives_the_last_target_day_on_or_before_the_date(day in any_date()) {
            let rolled = roll_backward(day);

            prop_assert!(is_target_day(rolled));
            prop_assert!(rolled <= day);
            prop_assert!(rolled.iter_days().skip(1).take_while(|d| *d <= day).all(|d| !is_target_day(d)));
        }

        #[test]
        fn add_target_days_lands_on_a_target_day_with_exactly_n_target_days_after_the_date(
            day in any_date(),
            n in 1u32..80,
        ) {
            let later = add_target_days(day, n);

            prop_assert!(is_target_day(later));
            let after = day.iter_days().skip(1).take_while(|d| *d <= later);
            prop_assert_eq!(count_target_days(after), n as usize);
        }

        #[test]
        fn sub_target_days_lands_on_a_target_day_with_exactly_n_target_days_before_the_date(
            day in any_date(),
            n in 1u32..80,
        ) {
            let earlier = sub_target_days(day, n);

            prop_assert!(is_target_day(earlier));
            let before = earlier.iter_days().take_while(|d| *d < day);
            prop_assert_eq!(count_target_days(before), n as usize);
        }

        #[test]
        fn zero_target_days_rolls_the_date(day in any_date()) {
            prop_assert_eq!(add_target_days(day, 0), roll_forward(day));
            prop_assert_eq!(sub_target_days(day, 0), roll_backward(day));
        }

        #[test]
        fn stepping_forward_then_back_by_n_target_days_returns_to_the_rolled_back_date(
            day in any_date(),
            n in 1u32..80,
        ) {
            prop_assert_eq!(sub_target_days(add_target_days(day, n), n), roll_backward(day));
            prop_assert_eq!(add_target_days(sub_target_days(day, n), n), roll_forward(day));
        }
    }
}
