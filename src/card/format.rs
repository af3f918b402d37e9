//! Locale-aware formatting of numbers, money, quantities and dates.
//!
//! Hong Kong writes numbers the same way in English and Chinese (`1,234,567.50`), so the
//! locale mostly changes dates and unit names. Month abbreviations and the date patterns
//! are part of each locale's date format rather than sentences, which is why they live
//! here and not in the message catalogs; unit names are words and do come from the
//! catalogs. Every function is total: odd input (an empty currency, a negative zero, a
//! period that ends before it starts) still yields readable text instead of a panic.

use jiff::Timestamp;
use jiff::civil::Date;
use jiff::tz::TimeZone;
use rust_decimal::{Decimal, RoundingStrategy};

use super::Messages;
use crate::erp::{Money, Quantity};
use crate::intent::{Locale, Period};

/// English month abbreviations, as Hong Kong English writes dates ("21 Nov 2026").
const MONTHS_EN: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// Malay month abbreviations ("21 Okt 2026").
const MONTHS_MS: [&str; 12] = [
    "Jan", "Feb", "Mac", "Apr", "Mei", "Jun", "Jul", "Ogo", "Sep", "Okt", "Nov", "Dis",
];

/// The most decimal places a `Decimal` can hold; larger requests are clamped to it.
const MAX_SCALE: u32 = 28;

/// Formats `d` with thousands separators, rounded half away from zero to at most `max_dp`
/// decimal places and padded to at least `min_dp`: `1234567.5` with (2, 2) is
/// `1,234,567.50`, `7.50` with (0, 3) is `7.5`. A value that rounds to zero never shows
/// a minus sign.
pub fn decimal(locale: Locale, d: Decimal, min_dp: u32, max_dp: u32) -> String {
    let max_dp = max_dp.min(MAX_SCALE);
    let min_dp = min_dp.min(max_dp);
    let mut value = d
        .round_dp_with_strategy(max_dp, RoundingStrategy::MidpointAwayFromZero)
        .normalize();
    if value.scale() < min_dp {
        value.rescale(min_dp);
    }
    let negative = value.is_sign_negative() && !value.is_zero();
    let digits = value.abs().to_string();
    let (int_part, frac_part) = match digits.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (digits.as_str(), None),
    };
    let mut out = String::with_capacity(digits.len() + digits.len() / 3 + 2);
    if negative {
        out.push('-');
    }
    // Vietnamese groups thousands with a dot and writes a decimal comma.
    let (group, point) = if locale == Locale::Vi {
        ('.', ',')
    } else {
        (',', '.')
    };
    out.push_str(&group_thousands(int_part, group));
    if let Some(frac) = frac_part {
        out.push(point);
        out.push_str(frac);
    }
    out
}

/// Formats a whole number with thousands separators (order counts, line counts).
pub fn count(locale: Locale, n: u64) -> String {
    decimal(locale, Decimal::from(n), 0, 0)
}

/// Inserts `sep` every three digits from the right of a string of ASCII digits.
fn group_thousands(int_part: &str, sep: char) -> String {
    let len = int_part.chars().count();
    let mut out = String::with_capacity(len + len / 3);
    for (i, c) in int_part.chars().enumerate() {
        if i > 0 && (len - i).is_multiple_of(3) {
            out.push(sep);
        }
        out.push(c);
    }
    out
}

/// How many decimal places a currency is shown with; yen and won have no minor unit.
pub(crate) fn currency_dp(code: &str) -> u32 {
    match code {
        "JPY" | "KRW" | "VND" | "IDR" => 0,
        _ => 2,
    }
}

/// Formats money. Hong Kong dollars are written `HK$1,234,567.50` in both languages (it is
/// what receipts and reports show); other currencies keep their ISO code in front,
/// `USD 12.00`, so an amount is never mistaken for HKD.
pub fn money(locale: Locale, m: &Money) -> String {
    let code = m.currency.trim().to_ascii_uppercase();
    let dp = currency_dp(&code);
    let number = decimal(locale, m.amount, dp, dp);
    match (code.as_str(), number.strip_prefix('-')) {
        ("HKD", Some(abs)) => format!("-HK${abs}"),
        ("HKD", None) => format!("HK${number}"),
        ("", _) => number,
        _ => format!("{code} {number}"),
    }
}

/// Formats a quantity with its unit name from the catalogs (`unit.<code>.one` /
/// `unit.<code>.other`): "42 pcs", "1 ream", "7.5 days"; in Chinese "42 件", "7.5 日".
/// A unit the catalogs do not know is shown as the ERP wrote it, never dropped.
pub fn quantity(locale: Locale, q: &Quantity, messages: &Messages) -> String {
    let number = decimal(locale, q.value, 0, 3);
    let code = q.unit.trim().to_lowercase();
    if code.is_empty() {
        return number;
    }
    let form = if q.value.abs() == Decimal::ONE {
        "one"
    } else {
        "other"
    };
    let name = messages
        .get(locale, &format!("unit.{code}.{form}"))
        .map(str::to_string)
        .unwrap_or_else(|| q.unit.trim().to_string());
    format!("{number} {name}")
}

/// The abbreviation of a month number in a Latin-script locale, tolerating out-of-range
/// input.
fn month_abbr(locale: Locale, month: i8) -> &'static str {
    let names = if locale == Locale::Ms {
        &MONTHS_MS
    } else {
        &MONTHS_EN
    };
    usize::try_from(i32::from(month) - 1)
        .ok()
        .and_then(|i| names.get(i))
        .copied()
        .unwrap_or("?")
}

/// Formats a date: "21 Nov 2026" / "2026年11月21日" / "21 Okt 2026" / "21/11/2026".
pub fn date(locale: Locale, d: Date) -> String {
    match locale {
        Locale::En | Locale::Ms => {
            format!("{} {} {}", d.day(), month_abbr(locale, d.month()), d.year())
        }
        Locale::ZhHk | Locale::ZhCn => format!("{}年{}月{}日", d.year(), d.month(), d.day()),
        Locale::Vi => format!("{}/{}/{}", d.day(), d.month(), d.year()),
    }
}

/// A day without its year, for chart axes: "3 Dec" / "12月3日" / "3/12".
pub fn short_date(locale: Locale, d: Date) -> String {
    match locale {
        Locale::En | Locale::Ms => format!("{} {}", d.day(), month_abbr(locale, d.month())),
        Locale::ZhHk | Locale::ZhCn => format!("{}月{}日", d.month(), d.day()),
        Locale::Vi => format!("{}/{}", d.day(), d.month()),
    }
}

/// A month, for chart axes: "Oct 2026" / "2026年10月" / "tháng 10/2026".
pub fn month_label(locale: Locale, d: Date) -> String {
    month(locale, d)
}

/// Formats a month: "Oct 2026" / "2026年10月" / "Okt 2026" / "tháng 10/2026".
fn month(locale: Locale, d: Date) -> String {
    match locale {
        Locale::En | Locale::Ms => format!("{} {}", month_abbr(locale, d.month()), d.year()),
        Locale::ZhHk | Locale::ZhCn => format!("{}年{}月", d.year(), d.month()),
        Locale::Vi => format!("tháng {}/{}", d.month(), d.year()),
    }
}

/// Formats an inclusive period as compactly as it reads naturally.
///
/// Whole calendar months collapse to the month ("Oct 2026", "2026年10月"), a run of whole
/// months to a month range ("Oct–Dec 2026"), a whole year to the year ("2026"); other
/// ranges repeat only what changes ("1–15 Oct 2026", "28 Sep – 4 Oct 2026",
/// "2026年10月1日至10月15日"). Chinese keeps the month on both sides, as HK notices do.
/// Vietnamese writes numeric dates ("1/10/2026 – 15/10/2026", "tháng 10–12/2026").
pub fn period(locale: Locale, p: &Period) -> String {
    let (start, end) = (p.start, p.end);
    if start == end {
        return date(locale, start);
    }
    if start > end {
        // Not a valid period; show both dates rather than guess which one is wrong.
        return if locale.is_chinese() {
            format!("{}至{}", date(locale, start), date(locale, end))
        } else {
            format!("{} – {}", date(locale, start), date(locale, end))
        };
    }
    let whole_months = start.day() == 1 && end == end.last_of_month();
    let same_year = start.year() == end.year();
    let same_month = same_year && start.month() == end.month();
    match locale {
        Locale::En | Locale::Ms => {
            let abbr = |m: i8| month_abbr(locale, m);
            if whole_months {
                if same_month {
                    month(locale, start)
                } else if same_year && start.month() == 1 && end.month() == 12 {
                    start.year().to_string()
                } else if same_year {
                    format!(
                        "{}–{} {}",
                        abbr(start.month()),
                        abbr(end.month()),
                        end.year()
                    )
                } else {
                    format!("{} – {}", month(locale, start), month(locale, end))
                }
            } else if same_month {
                format!(
                    "{}–{} {} {}",
                    start.day(),
                    end.day(),
                    abbr(end.month()),
                    end.year()
                )
            } else if same_year {
                format!(
                    "{} {} – {}",
                    start.day(),
                    abbr(start.month()),
                    date(locale, end)
                )
            } else {
                format!("{} – {}", date(locale, start), date(locale, end))
            }
        }
        Locale::ZhHk | Locale::ZhCn => {
            if whole_months {
                if same_month {
                    month(locale, start)
                } else if same_year && start.month() == 1 && end.month() == 12 {
                    format!("{}年", start.year())
                } else if same_year {
                    format!("{}年{}月至{}月", start.year(), start.month(), end.month())
                } else {
                    format!("{}至{}", month(locale, start), month(locale, end))
                }
            } else if same_year {
                format!("{}至{}月{}日", date(locale, start), end.month(), end.day())
            } else {
                format!("{}至{}", date(locale, start), date(locale, end))
            }
        }
        Locale::Vi => {
            if whole_months && same_month {
                month(locale, start)
            } else if whole_months && same_year && start.month() == 1 && end.month() == 12 {
                format!("năm {}", start.year())
            } else if whole_months && same_year {
                format!("tháng {}–{}/{}", start.month(), end.month(), end.year())
            } else {
                format!("{} – {}", date(locale, start), date(locale, end))
            }
        }
    }
}

/// When the figures were read, in the company time zone: "as of 21 Nov 2026 14:05" /
/// "截至 2026年11月21日 14:05".
pub fn as_of(locale: Locale, ts: Timestamp, tz: &TimeZone) -> String {
    let local = ts.to_zoned(tz.clone());
    let when = format!(
        "{} {:02}:{:02}",
        date(locale, local.date()),
        local.hour(),
        local.minute()
    );
    match locale {
        Locale::En => format!("as of {when}"),
        Locale::ZhHk | Locale::ZhCn => format!("截至 {when}"),
        Locale::Ms => format!("setakat {when}"),
        Locale::Vi => format!("tính đến {when}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date as d;
    use std::str::FromStr;

    fn dec(s: &str) -> Decimal {
        Decimal::from_str(s).expect("test decimal")
    }

    fn hkd(s: &str) -> Money {
        Money {
            amount: dec(s),
            currency: "HKD".into(),
        }
    }

    fn messages() -> Messages {
        Messages::builtin().expect("builtin catalogs")
    }

    #[test]
    fn decimal_groups_thousands() {
        assert_eq!(decimal(Locale::En, dec("1234567.5"), 2, 2), "1,234,567.50");
        assert_eq!(
            decimal(Locale::ZhHk, dec("1234567.5"), 2, 2),
            "1,234,567.50"
        );
        assert_eq!(decimal(Locale::En, dec("999"), 0, 0), "999");
        assert_eq!(decimal(Locale::En, dec("1000"), 0, 0), "1,000");
        assert_eq!(decimal(Locale::En, dec("100000"), 0, 2), "100,000");
        assert_eq!(
            decimal(Locale::En, dec("12345678901234"), 0, 0),
            "12,345,678,901,234"
        );
    }

    #[test]
    fn decimal_rounds_and_trims() {
        assert_eq!(decimal(Locale::En, dec("7.50"), 0, 3), "7.5");
        assert_eq!(decimal(Locale::En, dec("7.000"), 0, 3), "7");
        assert_eq!(decimal(Locale::En, dec("2.005"), 2, 2), "2.01");
        assert_eq!(decimal(Locale::En, dec("2.5"), 0, 0), "3");
        assert_eq!(decimal(Locale::En, dec("1.23456"), 1, 3), "1.235");
        assert_eq!(decimal(Locale::En, dec("1"), 2, 2), "1.00");
        // min above max is clamped instead of panicking
        assert_eq!(decimal(Locale::En, dec("1.5"), 5, 1), "1.5");
    }

    #[test]
    fn decimal_negative_and_zero() {
        assert_eq!(decimal(Locale::En, dec("-1234.5"), 2, 2), "-1,234.50");
        assert_eq!(decimal(Locale::En, dec("-999"), 0, 0), "-999");
        assert_eq!(decimal(Locale::En, Decimal::ZERO, 2, 2), "0.00");
        assert_eq!(decimal(Locale::En, Decimal::ZERO, 0, 3), "0");
        assert_eq!(decimal(Locale::En, dec("-0.001"), 2, 2), "0.00");
        assert_eq!(decimal(Locale::En, dec("0.5"), 2, 2), "0.50");
    }

    #[test]
    fn decimal_extremes_do_not_panic() {
        let _ = decimal(Locale::En, Decimal::MAX, 2, 2);
        let _ = decimal(Locale::En, Decimal::MIN, 0, 40);
        assert_eq!(count(Locale::En, u64::MAX), "18,446,744,073,709,551,615");
    }

    #[test]
    fn money_formats() {
        assert_eq!(money(Locale::En, &hkd("1234567.5")), "HK$1,234,567.50");
        assert_eq!(money(Locale::ZhHk, &hkd("1234567.5")), "HK$1,234,567.50");
        assert_eq!(money(Locale::En, &hkd("0")), "HK$0.00");
        assert_eq!(money(Locale::En, &hkd("-250")), "-HK$250.00");
        assert_eq!(money(Locale::En, &hkd("0.005")), "HK$0.01");
        let usd = Money {
            amount: dec("12"),
            currency: "usd".into(),
        };
        assert_eq!(money(Locale::En, &usd), "USD 12.00");
        let jpy = Money {
            amount: dec("1200.4"),
            currency: "JPY".into(),
        };
        assert_eq!(money(Locale::ZhHk, &jpy), "JPY 1,200");
        let none = Money {
            amount: dec("5"),
            currency: String::new(),
        };
        assert_eq!(money(Locale::En, &none), "5.00");
    }

    #[test]
    fn quantity_uses_catalog_units() {
        let m = messages();
        let q = |v: &str, u: &str| Quantity {
            value: dec(v),
            unit: u.into(),
        };
        assert_eq!(quantity(Locale::En, &q("42", "pc"), &m), "42 pcs");
        assert_eq!(quantity(Locale::En, &q("1", "pc"), &m), "1 pc");
        assert_eq!(quantity(Locale::ZhHk, &q("42", "pc"), &m), "42 件");
        assert_eq!(quantity(Locale::En, &q("1", "ream"), &m), "1 ream");
        assert_eq!(quantity(Locale::ZhHk, &q("1", "ream"), &m), "1 令");
        assert_eq!(quantity(Locale::En, &q("7.5", "day"), &m), "7.5 days");
        assert_eq!(quantity(Locale::En, &q("1.0", "day"), &m), "1 day");
        assert_eq!(quantity(Locale::ZhHk, &q("7.50", "day"), &m), "7.5 日");
        assert_eq!(quantity(Locale::En, &q("0", "box"), &m), "0 boxes");
        assert_eq!(quantity(Locale::En, &q("12000", "PC"), &m), "12,000 pcs");
        assert_eq!(quantity(Locale::En, &q("3", "drum"), &m), "3 drum");
        assert_eq!(quantity(Locale::En, &q("3", ""), &m), "3");
    }

    #[test]
    fn dates() {
        assert_eq!(date(Locale::En, d(2026, 11, 21)), "21 Nov 2026");
        assert_eq!(date(Locale::ZhHk, d(2026, 11, 21)), "2026年11月21日");
        assert_eq!(date(Locale::En, d(2027, 1, 1)), "1 Jan 2027");
    }

    fn p(a: Date, b: Date) -> Period {
        Period { start: a, end: b }
    }

    #[test]
    fn whole_month_periods() {
        let oct = p(d(2026, 10, 1), d(2026, 10, 31));
        assert_eq!(period(Locale::En, &oct), "Oct 2026");
        assert_eq!(period(Locale::ZhHk, &oct), "2026年10月");
        let feb = p(d(2028, 2, 1), d(2028, 2, 29));
        assert_eq!(period(Locale::En, &feb), "Feb 2028");
        let q4 = p(d(2026, 10, 1), d(2026, 12, 31));
        assert_eq!(period(Locale::En, &q4), "Oct–Dec 2026");
        assert_eq!(period(Locale::ZhHk, &q4), "2026年10月至12月");
        let year = p(d(2026, 1, 1), d(2026, 12, 31));
        assert_eq!(period(Locale::En, &year), "2026");
        assert_eq!(period(Locale::ZhHk, &year), "2026年");
    }

    #[test]
    fn partial_and_cross_month_periods() {
        let half = p(d(2026, 10, 1), d(2026, 10, 15));
        assert_eq!(period(Locale::En, &half), "1–15 Oct 2026");
        assert_eq!(period(Locale::ZhHk, &half), "2026年10月1日至10月15日");
        let week = p(d(2026, 9, 28), d(2026, 10, 4));
        assert_eq!(period(Locale::En, &week), "28 Sep – 4 Oct 2026");
        assert_eq!(period(Locale::ZhHk, &week), "2026年9月28日至10月4日");
        let day = p(d(2026, 11, 21), d(2026, 11, 21));
        assert_eq!(period(Locale::En, &day), "21 Nov 2026");
        assert_eq!(period(Locale::ZhHk, &day), "2026年11月21日");
    }

    #[test]
    fn year_boundary_periods() {
        let week = p(d(2026, 12, 28), d(2027, 1, 3));
        assert_eq!(period(Locale::En, &week), "28 Dec 2026 – 3 Jan 2027");
        assert_eq!(period(Locale::ZhHk, &week), "2026年12月28日至2027年1月3日");
        let months = p(d(2026, 11, 1), d(2027, 2, 28));
        assert_eq!(period(Locale::En, &months), "Nov 2026 – Feb 2027");
        assert_eq!(period(Locale::ZhHk, &months), "2026年11月至2027年2月");
        let backwards = p(d(2027, 1, 3), d(2026, 12, 28));
        assert_eq!(period(Locale::En, &backwards), "3 Jan 2027 – 28 Dec 2026");
    }

    #[test]
    fn as_of_in_company_time_zone() {
        let tz = TimeZone::get("Asia/Hong_Kong").expect("bundled tzdb");
        let ts: Timestamp = "2026-11-21T06:05:00Z".parse().expect("timestamp");
        assert_eq!(as_of(Locale::En, ts, &tz), "as of 21 Nov 2026 14:05");
        assert_eq!(as_of(Locale::ZhHk, ts, &tz), "截至 2026年11月21日 14:05");
        // 23:30 UTC on New Year's Eve is already the next year in Hong Kong.
        let ts: Timestamp = "2026-12-31T23:30:00Z".parse().expect("timestamp");
        assert_eq!(as_of(Locale::En, ts, &tz), "as of 1 Jan 2027 07:30");
    }
}
