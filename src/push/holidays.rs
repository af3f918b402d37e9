//! Public holidays, for schedules that skip or move runs falling on one.
//!
//! The file is `config/holidays-hk.toml` (built in: Hong Kong 2026-2027) or
//! `push.holidays`. A date outside the years the file covers is a working day unless it
//! falls on a non-working weekday; [`Holidays::covers`] lets `askerp check` warn when a
//! schedule runs past the file's last year.

use std::collections::BTreeMap;
use std::path::Path;

use jiff::ToSpan;
use jiff::civil::{Date, Weekday};
use serde::Deserialize;

/// The holiday file built into the binary.
pub const BUILTIN_HOLIDAYS: &str = include_str!("../../config/holidays-hk.toml");

/// How far a run is moved at most (a long run of holidays and weekends).
const MAX_MOVE_DAYS: i32 = 31;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct HolidayFile {
    version: u32,
    #[serde(default)]
    region: String,
    #[serde(default, rename = "holiday")]
    holidays: Vec<Entry>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    date: String,
    name: String,
}

#[derive(Debug, Clone, thiserror::Error)]
pub enum HolidayError {
    #[error("cannot read holiday file {origin}: {detail}")]
    Read { origin: String, detail: String },
    #[error("holiday file {origin} is invalid:\n{}", .problems.iter().map(|p| format!("  - {p}")).collect::<Vec<_>>().join("\n"))]
    Invalid {
        origin: String,
        problems: Vec<String>,
    },
}

/// The loaded holidays and the working week.
#[derive(Debug, Clone)]
pub struct Holidays {
    region: String,
    days: BTreeMap<Date, String>,
    working_days: Vec<Weekday>,
}

impl Holidays {
    pub fn builtin() -> Result<Holidays, HolidayError> {
        Holidays::parse(BUILTIN_HOLIDAYS, "built-in holidays")
    }

    pub fn load(path: &Path) -> Result<Holidays, HolidayError> {
        let text = std::fs::read_to_string(path).map_err(|e| HolidayError::Read {
            origin: path.display().to_string(),
            detail: e.to_string(),
        })?;
        Holidays::parse(&text, &path.display().to_string())
    }

    /// Parses a holiday file; every date must be a real `YYYY-MM-DD` date, listed once.
    pub fn parse(text: &str, origin: &str) -> Result<Holidays, HolidayError> {
        let file: HolidayFile = toml::from_str(text).map_err(|e| HolidayError::Read {
            origin: origin.to_string(),
            detail: e.to_string(),
        })?;
        let mut problems = Vec::new();
        if file.version != 1 {
            problems.push(format!(
                "version {} is not supported (expected 1)",
                file.version
            ));
        }
        let mut days = BTreeMap::new();
        for e in file.holidays {
            match e.date.parse::<Date>() {
                Ok(d) => {
                    if days.insert(d, e.name).is_some() {
                        problems.push(format!("{d} is listed twice"));
                    }
                }
                Err(err) => problems.push(format!("date {:?}: {err}", e.date)),
            }
        }
        if !problems.is_empty() {
            return Err(HolidayError::Invalid {
                origin: origin.to_string(),
                problems,
            });
        }
        Ok(Holidays {
            region: file.region,
            days,
            working_days: vec![
                Weekday::Monday,
                Weekday::Tuesday,
                Weekday::Wednesday,
                Weekday::Thursday,
                Weekday::Friday,
            ],
        })
    }

    /// The same holidays with another working week.
    pub fn with_working_days(mut self, days: Vec<Weekday>) -> Holidays {
        if !days.is_empty() {
            self.working_days = days;
        }
        self
    }

    pub fn region(&self) -> &str {
        &self.region
    }

    /// The holiday's name when `date` is one.
    pub fn holiday(&self, date: Date) -> Option<&str> {
        self.days.get(&date).map(String::as_str)
    }

    pub fn is_working_day(&self, date: Date) -> bool {
        self.working_days.contains(&date.weekday()) && !self.days.contains_key(&date)
    }

    /// The first working day after `date`.
    pub fn next_working_day(&self, date: Date) -> Option<Date> {
        let mut d = date;
        for _ in 0..MAX_MOVE_DAYS {
            d = d.checked_add(1.day()).ok()?;
            if self.is_working_day(d) {
                return Some(d);
            }
        }
        None
    }

    /// Whether the file lists holidays for `date`'s year.
    pub fn covers(&self, date: Date) -> bool {
        self.days.keys().any(|d| d.year() == date.year())
    }

    /// The years the file lists holidays for.
    pub fn years(&self) -> Vec<i16> {
        let mut y: Vec<i16> = self.days.keys().map(|d| d.year()).collect();
        y.dedup();
        y
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_file_lists_hong_kongs_general_holidays() {
        let h = Holidays::builtin().expect("holidays");
        assert_eq!(h.region(), "HK");
        assert_eq!(h.years(), [2026, 2027]);
        assert_eq!(h.days.len(), 34, "17 general holidays a year");
        assert_eq!(
            h.holiday(Date::constant(2026, 2, 17)),
            Some("Lunar New Year's Day")
        );
        assert!(!h.is_working_day(Date::constant(2026, 10, 1)));
        assert!(!h.is_working_day(Date::constant(2026, 12, 5)), "a Saturday");
        assert!(h.is_working_day(Date::constant(2026, 12, 4)));
        // Good Friday 2026 to the Tuesday after Easter: Friday, Saturday, (Sunday),
        // Monday, Tuesday are off, so a run moved from Good Friday lands on Wednesday.
        assert_eq!(
            h.next_working_day(Date::constant(2026, 4, 3)),
            Some(Date::constant(2026, 4, 8))
        );
    }

    #[test]
    fn a_bad_file_is_reported_with_every_problem() {
        let e = Holidays::parse(
            "version = 1\n[[holiday]]\ndate = \"2026-02-30\"\nname = \"x\"\n[[holiday]]\ndate = \"2026-01-01\"\nname = \"a\"\n[[holiday]]\ndate = \"2026-01-01\"\nname = \"b\"\n",
            "t",
        )
        .expect_err("invalid");
        let text = e.to_string();
        assert!(text.contains("2026-02-30"), "{text}");
        assert!(text.contains("listed twice"), "{text}");
    }
}
