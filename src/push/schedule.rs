//! Schedules: a five-field cron expression (`minute hour day-of-month month day-of-week`)
//! read in the company time zone.
//!
//! Each field is `*`, a number, a range `a-b`, a step `*/n` or `a-b/n`, or a list of those
//! separated by commas; months and weekdays may be written as names (`jan`, `mon`), and
//! Sunday is 0 or 7. As in Vixie cron, when both day fields are restricted a day matches
//! if either does. Small on purpose: the cron crates on crates.io compute in `chrono`
//! types, and every date here is a `jiff` date in `company.time_zone`.

use jiff::civil::{Date, DateTime, Time};
use jiff::tz::TimeZone;
use jiff::{Timestamp, ToSpan, Zoned};

/// A parsed schedule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schedule {
    text: String,
    minutes: u64,
    hours: u64,
    days: u64,
    months: u64,
    weekdays: u64,
    /// Whether the day-of-month field was `*` (then only weekdays restrict the day).
    any_day: bool,
    /// Whether the day-of-week field was `*`.
    any_weekday: bool,
}

/// Why a schedule does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("schedule {text:?}: {detail}")]
pub struct ScheduleError {
    pub text: String,
    pub detail: String,
}

const MONTHS: [&str; 12] = [
    "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
];
const WEEKDAYS: [&str; 7] = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];

/// How far ahead a schedule is searched for its next time (a schedule such as
/// `0 9 30 2 *` never fires).
const SEARCH_DAYS: i32 = 366 * 5;

impl Schedule {
    pub fn parse(text: &str) -> Result<Schedule, ScheduleError> {
        let err = |detail: String| ScheduleError {
            text: text.to_string(),
            detail,
        };
        let fields: Vec<&str> = text.split_whitespace().collect();
        if fields.len() != 5 {
            return Err(err(format!(
                "expected 5 fields (minute hour day-of-month month day-of-week), found {}",
                fields.len()
            )));
        }
        let minutes = field(fields[0], 0, 59, &[]).map_err(|d| err(format!("minute: {d}")))?;
        let hours = field(fields[1], 0, 23, &[]).map_err(|d| err(format!("hour: {d}")))?;
        let days = field(fields[2], 1, 31, &[]).map_err(|d| err(format!("day of month: {d}")))?;
        let months = field(fields[3], 1, 12, &MONTHS).map_err(|d| err(format!("month: {d}")))?;
        let mut weekdays =
            field(fields[4], 0, 7, &WEEKDAYS).map_err(|d| err(format!("day of week: {d}")))?;
        if weekdays & (1 << 7) != 0 {
            weekdays = (weekdays | 1) & !(1 << 7);
        }
        Ok(Schedule {
            text: text.to_string(),
            minutes,
            hours,
            days,
            months,
            weekdays,
            any_day: fields[2] == "*",
            any_weekday: fields[4] == "*",
        })
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Whether the schedule fires on `date` (at some time of day).
    pub fn fires_on(&self, date: Date) -> bool {
        let month = bit(&self.months, date.month() as u32);
        let dom = bit(&self.days, date.day() as u32);
        let dow = bit(
            &self.weekdays,
            date.weekday().to_sunday_zero_offset() as u32,
        );
        let day = match (self.any_day, self.any_weekday) {
            (true, true) => true,
            (true, false) => dow,
            (false, true) => dom,
            (false, false) => dom || dow,
        };
        month && day
    }

    /// The times of day the schedule fires at, in order.
    fn times(&self) -> impl Iterator<Item = Time> + '_ {
        (0..24).filter(|h| bit(&self.hours, *h)).flat_map(move |h| {
            (0..60)
                .filter(|m| bit(&self.minutes, *m))
                .map(move |m| Time::constant(h as i8, m as i8, 0, 0))
        })
    }

    /// The first time strictly after `after` at which the schedule fires, in `tz`; `None`
    /// when it never fires within five years. A local time that does not exist (a
    /// daylight-saving gap) is taken as the instant after the gap, one that exists twice
    /// as the earlier one.
    pub fn next_after(&self, after: Timestamp, tz: &TimeZone) -> Option<Zoned> {
        let local = after.to_zoned(tz.clone());
        let mut date = local.date();
        for _ in 0..SEARCH_DAYS {
            if self.fires_on(date) {
                for t in self.times() {
                    let at = DateTime::from_parts(date, t).to_zoned(tz.clone()).ok()?;
                    if at.timestamp() > after {
                        return Some(at);
                    }
                }
            }
            date = date.checked_add(1.day()).ok()?;
        }
        None
    }
}

fn bit(set: &u64, n: u32) -> bool {
    n < 64 && set & (1u64 << n) != 0
}

/// One field as a bit set of the values it allows.
fn field(text: &str, min: u32, max: u32, names: &[&str]) -> Result<u64, String> {
    let value = |s: &str| -> Result<u32, String> {
        let lower = s.to_ascii_lowercase();
        if let Some(i) = names.iter().position(|n| *n == lower) {
            // Month names count from 1, weekday names from 0 (Sunday).
            return Ok(i as u32 + u32::from(names.len() == 12));
        }
        let n: u32 = s
            .parse()
            .map_err(|_| format!("{s:?} is not a number{}", name_hint(names)))?;
        if n < min || n > max {
            return Err(format!("{n} is outside {min}-{max}"));
        }
        Ok(n)
    };
    let mut set = 0u64;
    for part in text.split(',') {
        if part.is_empty() {
            return Err(format!("empty list entry in {text:?}"));
        }
        let (range, step) = match part.split_once('/') {
            Some((r, s)) => {
                let step: u32 = s
                    .parse()
                    .map_err(|_| format!("step {s:?} is not a number"))?;
                if step == 0 {
                    return Err("a step of 0".into());
                }
                (r, step)
            }
            None => (part, 1),
        };
        let (lo, hi) = if range == "*" {
            (min, max)
        } else if let Some((a, b)) = range.split_once('-') {
            let (a, b) = (value(a)?, value(b)?);
            if a > b {
                return Err(format!("range {range:?} runs backwards"));
            }
            (a, b)
        } else {
            let a = value(range)?;
            // `5/15` means from 5 to the end in steps of 15.
            (a, if step > 1 { max } else { a })
        };
        let mut n = lo;
        while n <= hi {
            set |= 1 << n;
            n += step;
        }
    }
    Ok(set)
}

fn name_hint(names: &[&str]) -> String {
    if names.is_empty() {
        String::new()
    } else {
        format!(" or one of {}", names.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hk() -> TimeZone {
        TimeZone::get("Asia/Hong_Kong").expect("tz")
    }

    fn at(s: &str) -> Timestamp {
        s.parse::<Zoned>().expect("zoned").timestamp()
    }

    #[test]
    fn monday_nine_in_hong_kong() {
        let s = Schedule::parse("0 9 * * mon").expect("parse");
        // Friday 4 December 2026, 10:00 in Hong Kong: next Monday 7 December 09:00 local,
        // which is 01:00 UTC.
        let next = s
            .next_after(at("2026-12-04T10:00:00+08:00[Asia/Hong_Kong]"), &hk())
            .expect("next");
        assert_eq!(
            next.to_string(),
            "2026-12-07T09:00:00+08:00[Asia/Hong_Kong]"
        );
        assert_eq!(next.timestamp().to_string(), "2026-12-07T01:00:00Z");
        // At exactly 09:00 that Monday the next one is a week later.
        let again = s.next_after(next.timestamp(), &hk()).expect("next");
        assert_eq!(again.date().to_string(), "2026-12-14");
    }

    #[test]
    fn hong_kong_has_no_daylight_saving_but_the_zone_is_honoured_where_it_does() {
        let s = Schedule::parse("0 9 * * *").expect("parse");
        for (after, utc) in [
            (
                "2026-07-01T10:00:00+08:00[Asia/Hong_Kong]",
                "2026-07-02T01:00:00Z",
            ),
            (
                "2026-12-01T10:00:00+08:00[Asia/Hong_Kong]",
                "2026-12-02T01:00:00Z",
            ),
        ] {
            let next = s.next_after(at(after), &hk()).expect("next");
            assert_eq!(next.timestamp().to_string(), utc);
        }
        let london = TimeZone::get("Europe/London").expect("tz");
        let summer = s
            .next_after(at("2026-07-01T12:00:00+00:00[UTC]"), &london)
            .expect("next");
        let winter = s
            .next_after(at("2026-12-01T12:00:00+00:00[UTC]"), &london)
            .expect("next");
        assert_eq!(summer.timestamp().to_string(), "2026-07-02T08:00:00Z");
        assert_eq!(winter.timestamp().to_string(), "2026-12-02T09:00:00Z");
        // 01:30 does not exist in London on 29 March 2026: the run is just after the gap.
        let gap = Schedule::parse("30 1 29 3 *").expect("parse");
        let t = gap
            .next_after(at("2026-03-01T00:00:00+00:00[UTC]"), &london)
            .expect("next");
        assert_eq!(t.timestamp().to_string(), "2026-03-29T01:30:00Z");
    }

    #[test]
    fn lists_ranges_steps_and_names() {
        let s = Schedule::parse("30 8-18/5 * * 1-5").expect("parse");
        let times: Vec<String> = s.times().map(|t| t.to_string()).collect();
        assert_eq!(times, ["08:30:00", "13:30:00", "18:30:00"]);
        assert!(s.fires_on(Date::constant(2026, 12, 4)), "a Friday");
        assert!(!s.fires_on(Date::constant(2026, 12, 5)), "a Saturday");
        let sunday7 = Schedule::parse("0 9 * * 7").expect("parse");
        assert!(sunday7.fires_on(Date::constant(2026, 12, 6)));
        let monthly = Schedule::parse("0 9 1 jan,jul *").expect("parse");
        let next = monthly
            .next_after(at("2026-12-04T10:00:00+08:00[Asia/Hong_Kong]"), &hk())
            .expect("next");
        assert_eq!(next.date().to_string(), "2027-01-01");
        // Both day fields restricted: either matches (the 1st, or any Friday).
        let either = Schedule::parse("0 9 1 * fri").expect("parse");
        assert!(either.fires_on(Date::constant(2026, 12, 4)));
        assert!(either.fires_on(Date::constant(2026, 12, 1)));
        assert!(!either.fires_on(Date::constant(2026, 12, 2)));
    }

    #[test]
    fn bad_schedules_say_what_is_wrong() {
        for (text, needle) in [
            ("0 9 * *", "5 fields"),
            ("60 9 * * *", "minute: 60 is outside 0-59"),
            ("0 25 * * *", "hour"),
            ("0 9 * * funday", "day of week"),
            ("0 9 5-1 * *", "backwards"),
            ("*/0 9 * * *", "step of 0"),
            ("0 9 ,1 * *", "empty"),
        ] {
            let e = Schedule::parse(text).expect_err(text);
            assert!(e.to_string().contains(needle), "{text}: {e}");
        }
        let never = Schedule::parse("0 9 30 2 *").expect("parses");
        assert!(
            never
                .next_after(at("2026-12-04T10:00:00+08:00[Asia/Hong_Kong]"), &hk())
                .is_none()
        );
    }
}
