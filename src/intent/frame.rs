//! What a period means on a card: the days it really covers, whether it is over, and the
//! one period it is compared with.
//!
//! Every sales, best-seller and report card, and every "previous period" button, takes
//! its period and comparison from [`frame`], so "previous" means one thing everywhere:
//!
//! - A period that is not over (it contains today: "today", "this week", "this month",
//!   "this quarter", "this year", a range that ends after today) is **clipped at today**
//!   and is **to date**. It is compared with the same days of the previous unit: 1–2 Dec
//!   with 1–2 Nov, Monday–Wednesday of this week with Monday–Wednesday of last week,
//!   1 Jan–2 Dec with 1 Jan–2 Dec of last year. The end date steps back by the unit as a
//!   calendar date (clamped to the month's end: 1–31 Mar compares with 1–28 Feb).
//! - A **complete** period is compared with the previous complete period of the same
//!   kind: a whole month, quarter or year with the one before it (November with October),
//!   a whole week with the week before, a month's first days with the same days of the
//!   month before (1–20 Nov with 1–20 Oct), anything else with the same number of days
//!   just before it.
//!
//! The unit of a period that is not over comes from its shape before clipping ("this
//! quarter" is three whole months). A period that already ends today (typed as "1–2 Dec",
//! or sent back by a button) is read as the smallest unit that starts on its first day
//! and contains it: a week, then a month, a quarter, a year.

use jiff::Span;
use jiff::civil::Date;

use super::Period;
use super::period::Calendar;

/// A period as a card shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Framed {
    /// The days the figures cover: never after today.
    pub period: Period,
    /// The period contains today, so it is not over; cards say "to date".
    pub to_date: bool,
    /// What it is compared with, and what "previous period" buttons ask for.
    pub previous: Period,
}

/// The step between a period and the one before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Unit {
    /// One day.
    Day,
    /// A week from the week start.
    Week,
    /// Whole months (1 a month, 3 a quarter, 12 a year).
    Months(i64),
    /// Any other range: the same number of days.
    Span,
}

/// Frames the period a question asked for, as seen on `today` in calendar `cal`.
pub fn frame(asked: Period, today: Date, cal: &Calendar) -> Framed {
    if asked.start > today || asked.end < today {
        return Framed {
            period: asked,
            to_date: false,
            previous: previous_complete(asked, cal),
        };
    }
    let unit = if asked.end > today {
        shape(asked, cal)
    } else {
        started_unit(asked, cal)
    };
    let period = Period {
        start: asked.start,
        end: today,
    };
    Framed {
        period,
        to_date: true,
        previous: same_days_before(period, unit),
    }
}

/// The same period one year earlier, day for day (29 February becomes 28 February).
pub fn year_before(p: Period) -> Period {
    let back = |d: Date| d.checked_sub(Span::new().years(1)).unwrap_or(d);
    Period {
        start: back(p.start),
        end: back(p.end),
    }
}

/// The unit a period that has not been clipped yet spans.
fn shape(p: Period, cal: &Calendar) -> Unit {
    if let Some(n) = whole_months(p) {
        return Unit::Months(n);
    }
    if is_week(p, cal) {
        return Unit::Week;
    }
    if p.start == p.end {
        return Unit::Day;
    }
    Unit::Span
}

/// The smallest unit that starts on `p.start` and contains `p` (for a period that ends
/// today and so has already lost its shape).
fn started_unit(p: Period, cal: &Calendar) -> Unit {
    if p.start == p.end {
        return Unit::Day;
    }
    if cal
        .week_of(p.start)
        .is_some_and(|w| w.start == p.start && p.end <= w.end)
    {
        return Unit::Week;
    }
    let within = |months: i64| {
        p.start
            .checked_add(Span::new().months(months))
            .is_ok_and(|next| p.end < next)
    };
    if p.start.day() == 1 && within(1) {
        return Unit::Months(1);
    }
    if cal
        .quarter_of(p.start)
        .is_some_and(|q| q.start == p.start && p.end <= q.end)
    {
        return Unit::Months(3);
    }
    let year_start =
        p.start.day() == 1 && (p.start.month() == 1 || p.start.month() == cal.fiscal());
    if year_start && within(12) {
        return Unit::Months(12);
    }
    Unit::Span
}

/// The number of whole calendar months `p` covers, if it is whole months.
fn whole_months(p: Period) -> Option<i64> {
    if p.start.day() != 1 || p.end != p.end.last_of_month() || p.start > p.end {
        return None;
    }
    let months = (i64::from(p.end.year()) * 12 + i64::from(p.end.month()))
        - (i64::from(p.start.year()) * 12 + i64::from(p.start.month()))
        + 1;
    Some(months)
}

/// Seven days from the week start.
fn is_week(p: Period, cal: &Calendar) -> bool {
    cal.week_of(p.start).is_some_and(|w| w == p)
}

/// The days of the previous unit that match the days of `p` so far.
fn same_days_before(p: Period, unit: Unit) -> Period {
    let step = match unit {
        Unit::Day => Span::new().days(1),
        Unit::Week => Span::new().days(7),
        Unit::Months(n) => Span::new().months(n),
        Unit::Span => return p.previous(),
    };
    match (p.start.checked_sub(step), p.end.checked_sub(step)) {
        (Ok(start), Ok(end)) if start <= end => Period { start, end },
        _ => p.previous(),
    }
}

/// The complete period before a complete one.
fn previous_complete(p: Period, cal: &Calendar) -> Period {
    if let Some(n) = whole_months(p) {
        let start = p.start.checked_sub(Span::new().months(n));
        let end = p.start.yesterday();
        if let (Ok(start), Ok(end)) = (start, end) {
            return Period { start, end };
        }
    }
    if is_week(p, cal) {
        return same_days_before(p, Unit::Week);
    }
    // A month's first days: the same days of the month before (1–20 Nov → 1–20 Oct).
    let same_month = p.start.year() == p.end.year() && p.start.month() == p.end.month();
    if p.start.day() == 1 && same_month && p.start != p.end {
        return same_days_before(p, Unit::Months(1));
    }
    p.previous()
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::{Weekday, date};

    fn p(s: (i16, i8, i8), e: (i16, i8, i8)) -> Period {
        Period {
            start: date(s.0, s.1, s.2),
            end: date(e.0, e.1, e.2),
        }
    }

    fn framed(today: (i16, i8, i8), asked: Period) -> Framed {
        frame(asked, date(today.0, today.1, today.2), &Calendar::default())
    }

    #[test]
    fn a_month_not_over_is_clipped_and_compared_with_the_same_days() {
        // 2 Dec 2026, a Wednesday: "this month".
        let f = framed((2026, 12, 2), p((2026, 12, 1), (2026, 12, 31)));
        assert_eq!(f.period, p((2026, 12, 1), (2026, 12, 2)));
        assert!(f.to_date);
        assert_eq!(f.previous, p((2026, 11, 1), (2026, 11, 2)));
        // On the 1st, one day against one day.
        let f = framed((2026, 12, 1), p((2026, 12, 1), (2026, 12, 31)));
        assert_eq!(f.period, p((2026, 12, 1), (2026, 12, 1)));
        assert_eq!(f.previous, p((2026, 11, 1), (2026, 11, 1)));
        // On the last day the month is still not over; February is shorter.
        let f = framed((2026, 3, 31), p((2026, 3, 1), (2026, 3, 31)));
        assert!(f.to_date);
        assert_eq!(f.previous, p((2026, 2, 1), (2026, 2, 28)));
    }

    #[test]
    fn a_week_not_over_compares_the_same_weekdays() {
        // Wednesday 2 Dec 2026: Monday to Wednesday against last week's.
        let f = framed((2026, 12, 2), p((2026, 11, 30), (2026, 12, 6)));
        assert_eq!(f.period, p((2026, 11, 30), (2026, 12, 2)));
        assert_eq!(f.previous, p((2026, 11, 23), (2026, 11, 25)));
        // Monday 30 Nov: one day, last Monday.
        let f = framed((2026, 11, 30), p((2026, 11, 30), (2026, 12, 6)));
        assert_eq!(f.period, p((2026, 11, 30), (2026, 11, 30)));
        assert_eq!(f.previous, p((2026, 11, 23), (2026, 11, 23)));
        // Typed back as it was printed, it means the same.
        let f = framed((2026, 12, 2), p((2026, 11, 30), (2026, 12, 2)));
        assert_eq!(f.previous, p((2026, 11, 23), (2026, 11, 25)));
    }

    #[test]
    fn quarters_and_years_not_over() {
        // First day of a quarter.
        let f = framed((2026, 10, 1), p((2026, 10, 1), (2026, 12, 31)));
        assert_eq!(f.period, p((2026, 10, 1), (2026, 10, 1)));
        assert_eq!(f.previous, p((2026, 7, 1), (2026, 7, 1)));
        let f = framed((2026, 11, 2), p((2026, 10, 1), (2026, 12, 31)));
        assert_eq!(f.previous, p((2026, 7, 1), (2026, 8, 2)));
        // 1 January: this year is one day.
        let f = framed((2026, 1, 1), p((2026, 1, 1), (2026, 12, 31)));
        assert_eq!(f.period, p((2026, 1, 1), (2026, 1, 1)));
        assert_eq!(f.previous, p((2025, 1, 1), (2025, 1, 1)));
        let f = framed((2026, 12, 2), p((2026, 1, 1), (2026, 12, 31)));
        assert_eq!(f.previous, p((2025, 1, 1), (2025, 12, 2)));
        // Year to date typed back.
        let f = framed((2026, 12, 2), p((2026, 1, 1), (2026, 12, 2)));
        assert_eq!(f.previous, p((2025, 1, 1), (2025, 12, 2)));
    }

    #[test]
    fn today_is_to_date_and_compares_with_yesterday() {
        let f = framed((2026, 12, 2), p((2026, 12, 2), (2026, 12, 2)));
        assert!(f.to_date);
        assert_eq!(f.previous, p((2026, 12, 1), (2026, 12, 1)));
    }

    #[test]
    fn complete_periods_compare_with_the_previous_one_of_their_kind() {
        let today = (2026, 12, 2);
        // November against October, not "2–31 Oct".
        let f = framed(today, p((2026, 11, 1), (2026, 11, 30)));
        assert!(!f.to_date);
        assert_eq!(f.period, p((2026, 11, 1), (2026, 11, 30)));
        assert_eq!(f.previous, p((2026, 10, 1), (2026, 10, 31)));
        // March against February, whole.
        let f = framed(today, p((2026, 3, 1), (2026, 3, 31)));
        assert_eq!(f.previous, p((2026, 2, 1), (2026, 2, 28)));
        // A quarter, a year.
        let f = framed(today, p((2026, 7, 1), (2026, 9, 30)));
        assert_eq!(f.previous, p((2026, 4, 1), (2026, 6, 30)));
        let f = framed(today, p((2025, 1, 1), (2025, 12, 31)));
        assert_eq!(f.previous, p((2024, 1, 1), (2024, 12, 31)));
        // A full week against the full week before.
        let f = framed(today, p((2026, 11, 23), (2026, 11, 29)));
        assert_eq!(f.previous, p((2026, 11, 16), (2026, 11, 22)));
        // A month's first days against the same days of the month before.
        let f = framed(today, p((2026, 11, 1), (2026, 11, 20)));
        assert_eq!(f.previous, p((2026, 10, 1), (2026, 10, 20)));
        // Anything else: the same number of days just before.
        let f = framed(today, p((2026, 11, 10), (2026, 11, 19)));
        assert_eq!(f.previous, p((2026, 10, 31), (2026, 11, 9)));
        // Yesterday against the day before.
        let f = framed(today, p((2026, 12, 1), (2026, 12, 1)));
        assert_eq!(f.previous, p((2026, 11, 30), (2026, 11, 30)));
    }

    #[test]
    fn no_framed_period_reaches_past_today() {
        let cal = Calendar::default();
        let mut d = date(2025, 12, 25);
        let end = date(2027, 1, 5);
        while d <= end {
            for asked in [
                cal.week_of(d),
                cal.quarter_of(d),
                Some(p((d.year(), d.month(), 1), (d.year(), d.month(), 1))),
                Some(Period {
                    start: d.first_of_month(),
                    end: d.last_of_month(),
                }),
                Some(Period {
                    start: d.first_of_year(),
                    end: d.last_of_year(),
                }),
            ]
            .into_iter()
            .flatten()
            {
                let f = frame(asked, d, &cal);
                assert!(f.period.end <= d || asked.start > d, "{asked:?} on {d}");
                assert!(f.previous.end < f.period.start, "{asked:?} on {d}: {f:?}");
                assert!(
                    f.previous.start <= f.previous.end,
                    "{asked:?} on {d}: {f:?}"
                );
            }
            d = d.tomorrow().expect("date");
        }
    }

    #[test]
    fn weeks_follow_the_company_week_start() {
        let cal = Calendar {
            week_start: Weekday::Sunday,
            fiscal_start_month: 4,
        };
        // Wednesday 2 Dec 2026: the week began on Sunday 29 Nov.
        let today = date(2026, 12, 2);
        let week = cal.week_of(today).expect("week");
        assert_eq!(week, p((2026, 11, 29), (2026, 12, 5)));
        let f = frame(week, today, &cal);
        assert_eq!(f.previous, p((2026, 11, 22), (2026, 11, 25)));
        // The fiscal quarter from October (April start) to date.
        let q = cal.quarter_of(today).expect("quarter");
        assert_eq!(q, p((2026, 10, 1), (2026, 12, 31)));
        let f = frame(
            Period {
                start: date(2026, 4, 1),
                end: today,
            },
            today,
            &cal,
        );
        assert_eq!(
            f.previous,
            p((2025, 4, 1), (2025, 12, 2)),
            "fiscal year to date"
        );
    }
}
