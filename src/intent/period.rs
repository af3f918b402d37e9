//! Period expressions ("last month", "上個月", "Q3", "3月", "1–15 Nov") to inclusive date
//! ranges.
//!
//! Periods are found by a normalizer over the whole text rather than by every intent
//! pattern: the same few dozen expressions appear in every sales question, in any position,
//! in either language. The resolver also removes the expressions it found from the text
//! before the intent patterns run, so that "sales last month in Kowloon" and "sales in
//! Kowloon" are matched by the same rule and "上個月九龍區營業額" does not leak "上個月"
//! into the region. A range takes its whole span with it, the words that frame it
//! included ("from 1 Nov to 15 Nov", "由11月1號到15號", "dari 1 hingga 15 Nov",
//! "từ 1/11 đến 15/11").
//!
//! Conventions, all in the company's calendar (the caller passes "today" in its time zone):
//!
//! - Weeks run Monday to Sunday unless the company calendar ([`Calendar`],
//!   `company.week_start`) says otherwise; "this month", "this quarter" and "this year" are
//!   whole calendar units even when they end in the future: the report stage
//!   ([`super::frame`]) clips them at today and labels them "to date".
//! - A bare month or quarter ("March", "Q3", "三月") is the most recent one that has
//!   started, so in February 2026 "March" is March 2025.
//! - A day without a year ("23 Nov", "23/11", "11月23日") is in the current year. A range
//!   without a year that wraps the new year ("15/12 to 5/1") is the one that started most
//!   recently.
//! - Numeric dates are day first ("1/11" is 1 November), as Hong Kong, Malaysia and Vietnam
//!   write them; a date that starts with the year ("2026-11-01", "2026/11/01") is ISO order.
//! - Rolling periods end today: "last 7 days" is the seven days ending today, "last 4
//!   weeks" the 28 days ending today, "last 3 months" runs from the day after the same date
//!   three months ago (clamped to the month's end) to today. Counts beyond ten years are not
//!   periods.
//! - "Last weekend" is the most recent Saturday and Sunday that are both over; "this
//!   weekend" the Saturday and Sunday of this week.
//! - "Week/month/quarter/year to date" run from the start of that unit to today.
//! - Quarters follow the fiscal year, which starts in a configurable month
//!   ([`scan_with`]; [`scan`] uses January). A fiscal year is named by the calendar year
//!   it starts in, so with an April start "Q1 2026" is April–June 2026 and "Q4 2026" is
//!   January–March 2027. "This year", "last year", "year to date", bare years and months
//!   always stay calendar units: people say "FY" when they mean the fiscal year.
//! - A bare four-digit year ("2026") is a period only when it is the whole text (the bot
//!   prints whole years that way); inside a sentence it needs a cue ("in 2026", "năm
//!   2026", "2026年") so that model numbers and order numbers are left alone.

use std::sync::LazyLock;

use jiff::civil::Date;
use jiff::{Span, ToSpan};
use regex::{Captures, Regex, RegexBuilder, RegexSet, RegexSetBuilder};

use super::Period;
use super::numbers::parse_count;

/// Finds the first period expression in `text` (as written: it is folded here), relative
/// to `today`.
pub fn find_period(text: &str, today: Date) -> Option<Period> {
    scan(&super::fold::fold_str(text), today)
        .into_iter()
        .next()
        .map(|m| m.period)
}

/// One period expression found in a text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeriodMatch {
    /// The computed range.
    pub period: Period,
    /// What the expression means, e.g. `last_month`; shown by `askerp explain`.
    pub kind: &'static str,
    /// The matched text, as written.
    pub text: String,
    /// Byte range to remove before intent matching; empty when the word also carries
    /// meaning for the intent ("weekly sales report", "週報").
    pub strip: std::ops::Range<usize>,
}

/// Every period expression in `text`, which must be in folded form ([`super::fold`]: the
/// rules are), left to right, without overlaps. Where two
/// expressions start at the same place the longer wins ("今年至今" over "今年").
pub fn scan(text: &str, today: Date) -> Vec<PeriodMatch> {
    scan_with(text, today, 1)
}

/// [`scan`] with a fiscal year that starts in `fiscal_start_month` (1 = January, 4 =
/// April); quarters ("Q1", "this quarter", "第三季") are fiscal quarters. A month outside
/// 1..=12 means January.
pub fn scan_with(text: &str, today: Date, fiscal_start_month: i8) -> Vec<PeriodMatch> {
    scan_in(
        text,
        today,
        Calendar {
            fiscal_start_month,
            ..Calendar::default()
        },
    )
}

/// The company calendar periods are computed in: the day weeks start on and the month
/// the fiscal year starts in (`company.week_start`, `company.fiscal_year_start`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Calendar {
    pub week_start: jiff::civil::Weekday,
    /// 1 = January … 12 = December; anything else means January.
    pub fiscal_start_month: i8,
}

impl Default for Calendar {
    fn default() -> Calendar {
        Calendar {
            week_start: jiff::civil::Weekday::Monday,
            fiscal_start_month: 1,
        }
    }
}

impl Calendar {
    /// The fiscal start month, January when the configured one is out of range.
    pub fn fiscal(&self) -> i8 {
        if (1..=12).contains(&self.fiscal_start_month) {
            self.fiscal_start_month
        } else {
            1
        }
    }

    /// The week (seven days from the week start) around `d`.
    pub fn week_of(&self, d: Date) -> Option<Period> {
        week_of(d, self.week_start)
    }

    /// The fiscal quarter around `d`.
    pub fn quarter_of(&self, d: Date) -> Option<Period> {
        quarter_of(d, self.fiscal())
    }
}

/// [`scan`] in the company calendar `cal`.
pub fn scan_in(text: &str, today: Date, cal: Calendar) -> Vec<PeriodMatch> {
    scan_parts(text, today, cal, false)
}

fn scan_parts(text: &str, today: Date, cal: Calendar, frequency_only: bool) -> Vec<PeriodMatch> {
    let fiscal = cal.fiscal();
    let ws = cal.week_start;
    // A date that does not exist ("30 Feb", "31/2 to 3/3") is kept as a blocker with no
    // period, so that a shorter expression inside it ("Feb", "3/3") is not read instead.
    let mut found: Vec<(usize, usize, Option<PeriodMatch>)> = Vec::new();
    // One pass of the set says which rules can match at all; only those run with captures.
    // Most messages contain one period expression or none, so this skips nearly every rule.
    let candidates = match RULE_SET.as_ref() {
        Some(set) => set.matches(text).into_iter().collect::<Vec<usize>>(),
        None => (0..RULES.len()).collect(),
    };
    for rule in candidates.iter().filter_map(|&i| RULES.get(i)) {
        for caps in rule.regex.captures_iter(text) {
            let Some(whole) = caps.get(0) else { continue };
            if whole.is_empty() {
                continue;
            }
            let Some(period) = compute(rule.kind, &caps, today, fiscal, ws) else {
                if matches!(rule.kind, Kind::Date | Kind::DateRange | Kind::MonthRange) {
                    found.push((whole.start(), whole.end(), None));
                }
                continue;
            };
            let strip_end = caps.name("keep").map_or(whole.end(), |k| k.start());
            let strip = if rule.strip {
                whole.start()..strip_end
            } else {
                whole.start()..whole.start()
            };
            found.push((
                whole.start(),
                whole.end(),
                Some(PeriodMatch {
                    period,
                    kind: rule.kind.name(),
                    text: whole.as_str().to_string(),
                    strip,
                }),
            ));
        }
    }
    // Longest first at each start; at equal spans a real period before a blocker.
    found.sort_by(|a, b| {
        a.0.cmp(&b.0)
            .then(b.1.cmp(&a.1))
            .then(a.2.is_none().cmp(&b.2.is_none()))
    });
    // Frequency words ("weekly", "月報", "hàng tháng") stand for a period only when nothing
    // explicit is there: "weekly report last week" is last week, and "bán hàng tháng này"
    // is this month although "hàng tháng" overlaps "tháng này".
    let frequency = |m: &Option<PeriodMatch>| m.as_ref().is_some_and(|m| m.strip.is_empty());
    let (explicit, freq): (Vec<_>, Vec<_>) = found.into_iter().partition(|f| !frequency(&f.2));
    let pick = |found: Vec<(usize, usize, Option<PeriodMatch>)>| {
        let mut out = Vec::new();
        let mut taken_until = 0usize;
        for (start, end, m) in found {
            if start >= taken_until {
                taken_until = end;
                out.extend(m);
            }
        }
        out
    };
    let out = pick(explicit);
    if out.is_empty() || frequency_only {
        pick(freq)
    } else {
        out
    }
}

/// Only the frequency words of `text` ("weekly", "季度", "hàng tháng") as periods, for when
/// the one explicit period there turned out to be a comparison ("quarterly report, vs last
/// quarter").
pub fn scan_frequency(text: &str, today: Date, cal: Calendar) -> Vec<PeriodMatch> {
    scan_parts(text, today, cal, true)
}

/// `text` without the strip ranges of `matches`. Two ASCII words that end up adjacent
/// keep a space between them; Chinese is joined directly.
pub fn remove(text: &str, matches: &[PeriodMatch]) -> String {
    let mut out = String::with_capacity(text.len());
    let mut pos = 0usize;
    for m in matches {
        let (start, end) = (m.strip.start, m.strip.end);
        if start < pos || end > text.len() || start >= end {
            continue;
        }
        let Some(before) = text.get(pos..start) else {
            continue;
        };
        out.push_str(before);
        let left = out.chars().next_back();
        let right = text.get(end..).and_then(|r| r.chars().next());
        if let (Some(l), Some(r)) = (left, right)
            && l.is_ascii_alphanumeric()
            && r.is_ascii_alphanumeric()
        {
            out.push(' ');
        }
        pos = end;
    }
    if let Some(rest) = text.get(pos..) {
        out.push_str(rest);
    }
    super::normalize::collapse_whitespace(&out)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Today,
    Yesterday,
    DayBeforeYesterday,
    ThisWeek,
    WeekToDate,
    LastWeek,
    ThisMonth,
    MonthToDate,
    LastMonth,
    ThisQuarter,
    QuarterToDate,
    LastQuarter,
    ThisYear,
    YearToDate,
    LastYear,
    YearBeforeLast,
    /// `y` capture, a calendar year.
    Year,
    /// `m` capture (English name or Chinese/Arabic numeral), optional `y`.
    Month,
    /// `q` capture, optional `y`.
    Quarter,
    /// A month (`m`) or quarter (`q`) of this year (`ty`) or last year (`ly`):
    /// "去年十二月", "Q3 last year".
    RelativeMonthOrQuarter,
    /// `n` capture: the last n days including today.
    LastDays,
    /// The last seven days including today ("最近一個禮拜").
    LastSevenDays,
    /// Day/month to day/month (`d1`, `m1`, `d2`, `m2`, optional `y`), Hong Kong order:
    /// "1/3 至 15/3" is 1 to 15 March.
    DateRange,
    /// Month to month (`m`, `m2`, optional `y0` and `y`): "from March to May", "3月至5月",
    /// "Nov 2026 – Feb 2027".
    MonthRange,
    /// One day (`d`, `m`, optional `y`): "23 Nov", "2026-11-23", "23/11", "11月23日".
    Date,
    /// `n` capture: the last n weeks (n × 7 days) including today.
    LastWeeks,
    /// `n` capture: from the day after the same date n months ago to today.
    LastMonths,
    /// `n` capture: the single day n days before today ("3 days ago").
    DaysAgo,
    /// The most recent Saturday–Sunday that has ended.
    LastWeekend,
    /// Saturday–Sunday of this week.
    ThisWeekend,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Today => "today",
            Kind::Yesterday => "yesterday",
            Kind::DayBeforeYesterday => "day_before_yesterday",
            Kind::ThisWeek => "this_week",
            Kind::WeekToDate => "week_to_date",
            Kind::LastWeek => "last_week",
            Kind::ThisMonth => "this_month",
            Kind::MonthToDate => "month_to_date",
            Kind::LastMonth => "last_month",
            Kind::ThisQuarter => "this_quarter",
            Kind::QuarterToDate => "quarter_to_date",
            Kind::LastQuarter => "last_quarter",
            Kind::ThisYear => "this_year",
            Kind::YearToDate => "year_to_date",
            Kind::LastYear => "last_year",
            Kind::YearBeforeLast => "year_before_last",
            Kind::Year => "year",
            Kind::Month => "month",
            Kind::Quarter => "quarter",
            Kind::RelativeMonthOrQuarter => "month_or_quarter_of_year",
            Kind::LastDays => "last_days",
            Kind::LastSevenDays => "last_7_days",
            Kind::DateRange => "date_range",
            Kind::MonthRange => "month_range",
            Kind::Date => "date",
            Kind::LastWeeks => "last_weeks",
            Kind::LastMonths => "last_months",
            Kind::DaysAgo => "days_ago",
            Kind::LastWeekend => "last_weekend",
            Kind::ThisWeekend => "this_weekend",
        }
    }
}

struct Rule {
    regex: Regex,
    kind: Kind,
    /// Whether the expression is removed before intent matching.
    strip: bool,
}

/// English prepositions that belong to a period ("sales *in* March", "report *for the*
/// last quarter") and go with it when it is removed.
const EN_PRE: &str =
    r"(?:(?:in|for|during|of|over|from|since|untuk|pada|dalam|bagi|trong|vao)\s+)?(?:the\s+)?";
/// Prepositions that go with a single day ("sales *on* 23 Nov", "vào ngày 23/11").
const DATE_PRE: &str =
    r"(?:(?:on|in|for|during|of|untuk|pada|dalam|bagi|trong|vao)\s+)?(?:the\s+)?";
/// Chinese locatives before, and the possessive after, a period ("喺上個月", "上個月嘅").
const ZH_PRE: &str = "(?:喺|在|於)?";
const ZH_POST: &str = "(?:嘅|的)?";
const YEAR: &str = r"(?:19|20)\d{2}";

fn en(kind: Kind, core: &str) -> (String, Kind, bool) {
    (format!(r"(?-u:\b){EN_PRE}(?:{core})(?-u:\b)"), kind, true)
}

/// Like [`en`] for a single day: "since 1 Nov" is not the one day, so "since" and "from"
/// are not taken with it.
fn on(kind: Kind, core: &str) -> (String, Kind, bool) {
    (format!(r"(?-u:\b){DATE_PRE}(?:{core})(?-u:\b)"), kind, true)
}

fn zh(kind: Kind, core: &str) -> (String, Kind, bool) {
    (format!("{ZH_PRE}(?:{core}){ZH_POST}"), kind, true)
}

fn keep(kind: Kind, core: &str) -> (String, Kind, bool) {
    (format!(r"(?-u:\b)(?:{core})"), kind, false)
}

/// Month names in English and Malay, full and abbreviated, as the date rules accept them.
const MONTH_NAMES: &str = "january|february|march|april|may|june|july|august|september|october|\
                           november|december|jan|feb|mar|apr|jun|jul|aug|sept|sep|oct|nov|dec|\
                           januari|februari|mac|mei|julai|ogos|oktober|disember|ogo|okt|dis";
/// A day of the month in digits, with an optional English ordinal suffix.
const DAY: &str = r"[0-3]?[0-9]";
const ORD: &str = r"(?:st|nd|rd|th)?(?-u:\b)";
/// A month number.
const MONTH_NUM: &str = r"1[0-2]|0?[1-9]";
/// A month or a day in Chinese numerals or digits.
const ZH_MONTH: &str = "十[一二]|[一二三四五六七八九十]|1[0-2]|0?[1-9]";
const ZH_DAY: &str = "[一二三]?十[一二三四五六七八九]?|[一二三四五六七八九]|[0-3]?[0-9]";
/// A count in digits or words (English, Malay, Vietnamese folded); [`parse_count`]
/// decides whether it is a number.
/// A count in digits or English words; the Malay and Vietnamese rules add their own
/// number words, each only in its own language's rules ("Bay" in "Causeway Bay bulan
/// lepas" is not the Vietnamese seven).
const COUNT: &str = "[0-9]+|zero|one|two|three|four|five|six|seven|eight|nine|ten|eleven|\
                     twelve|thirteen|fourteen|fifteen|sixteen|seventeen|eighteen|nineteen|\
                     twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety|(?:a|one)\\s+hundred|\
                     hundred|a\\s+dozen|dozen";
const COUNT_MS: &str = "[0-9]+|satu|dua|tiga|empat|lima|enam|tujuh|lapan|sembilan|sepuluh";
const COUNT_VI: &str = "[0-9]+|mot|hai|ba|bon|nam|sau|bay|tam|chin|muoi";
const ZH_COUNT: &str = "[0-9]+|[零一二两兩三四五六七八九十百]+";
/// "Mac" is March in Malay and a computer: "2 Mac mini" is a product, and the `unit`
/// capture makes the rule give it up.
const PRODUCT: &str = r"(?P<unit>\s+(?:mini|pro|air|book|studio)(?-u:\b))?";
/// Separators between the two ends of a range, in every language.
const RANGE_SEP: &str = r"\s*(?:-|–|—|~|至|到|\s(?:to|till|until|through|thru|and|hingga|sehingga|sampai|den|toi)\s)\s*";
/// Words that open a range and are part of it.
const RANGE_OPEN: &str = r"(?:(?:from|between|dari|antara|tu)\s+)?";

fn rule_sources() -> Vec<(String, Kind, bool)> {
    use Kind::*;
    let month_names = "january|february|march|april|may|june|july|august|september|october|\
                       november|december|jan|feb|mar|apr|jun|jul|aug|sept|sep|oct|nov|dec";
    let month_names_ms = "januari|februari|mac|april|mei|jun|julai|ogos|september|oktober|\
                          november|disember|ogo|okt|dis";
    let this = r"(?:this|current|curr|ths)";
    let last = r"(?:last|lst|lastt|previous|prev|prior)";
    let week = r"(?:week|wk|wek)";
    let month = r"(?:month|mnth|mth|moth|monht)";
    let quarter = r"(?:quarter|qtr|quater|quartr)";
    let year = r"(?:year|yr|yeat)";
    let to_date = r"[\s-]+to[\s-]+date";
    let so_far = r"so\s+far";
    let zh_so_far = "(?:至今|至今日|到今日|到今天|到而家|到依家|到宜家|到现在|到現在|到目前为止|到目前為止|\
         截至目前|截至今天|截至今日|截至现在|截至現在|截止目前|截止到现在|截止到現在)";
    let zh_week = "(?:禮拜|礼拜|星期|週|周)";
    let zh_this = "(?:今|呢|這|这|本)一?(?:個|个)?";
    let vi_so_far = r"(?:\s+(?:tinh\s+)?(?:den|toi)\s+(?:nay|gio|hien\s+tai|bay\s+gio))?";
    let vi_until_now = r"\s+(?:tinh\s+)?(?:den|toi)\s+(?:nay|gio|hien\s+tai|bay\s+gio)";
    vec![
        // English.
        en(Today, r"today(?:'s)?|tdy"),
        en(Yesterday, r"yesterday(?:'s)?|yday|ystd|yesterdy"),
        en(DayBeforeYesterday, r"day\s+before\s+yesterday"),
        en(ThisWeek, &format!(r"{this}\s+{week}(?:'s)?")),
        en(
            WeekToDate,
            &format!(r"week{to_date}|wtd|{this}\s+{week}\s+{so_far}|{so_far}\s+this\s+{week}"),
        ),
        en(LastWeek, &format!(r"{last}\s+{week}(?:'s)?")),
        keep(Today, "daily"),
        keep(ThisWeek, "weekly"),
        en(ThisMonth, &format!(r"{this}\s+{month}(?:'s)?")),
        en(
            MonthToDate,
            &format!(r"month{to_date}|mtd|{this}\s+{month}\s+{so_far}|{so_far}\s+this\s+{month}"),
        ),
        en(LastMonth, &format!(r"{last}\s+{month}(?:'s)?")),
        keep(ThisMonth, "monthly"),
        en(ThisQuarter, &format!(r"{this}\s+{quarter}(?:'s)?")),
        en(
            QuarterToDate,
            &format!(
                r"quarter{to_date}|qtd|{this}\s+{quarter}\s+{so_far}|{so_far}\s+this\s+{quarter}"
            ),
        ),
        en(LastQuarter, &format!(r"{last}\s+{quarter}(?:'s)?")),
        keep(ThisQuarter, "quarterly"),
        en(ThisYear, &format!(r"{this}\s+{year}(?:'s)?")),
        en(
            YearToDate,
            &format!(r"year{to_date}|ytd|{this}\s+{year}\s+{so_far}|{so_far}\s+this\s+{year}"),
        ),
        en(LastYear, &format!(r"{last}\s+{year}(?:'s)?")),
        en(YearBeforeLast, r"year\s+before\s+last"),
        keep(ThisYear, "yearly"),
        en(ThisWeekend, r"this\s+week-?end"),
        en(LastWeekend, &format!(r"{last}\s+week-?end")),
        en(
            Quarter,
            &format!(r"q(?P<q>[1-4])(?:\s*(?:of\s+|/|-)?(?P<y>{YEAR}))?"),
        ),
        en(Quarter, &format!(r"(?P<y>{YEAR})\s*[-/]?\s*q(?P<q>[1-4])")),
        en(
            Quarter,
            &format!(
                r"(?P<q>first|second|third|fourth|1st|2nd|3rd|4th)\s+quarter(?:\s+(?:of\s+)?(?P<y>{YEAR}))?"
            ),
        ),
        (
            format!(
                r"(?-u:\b)(?:in|for|during|year|of|whole\s+of|all\s+of|full\s+year|fy)\s+(?P<y>{YEAR})(?-u:\b)"
            ),
            Year,
            true,
        ),
        // A year on its own is the whole text ("2026", as the bot prints whole years).
        (format!(r"\A\s*(?P<y>{YEAR})\s*\z"), Year, true),
        en(
            LastDays,
            &format!(r"(?:{last}|past|trailing|rolling)\s+(?P<n>{COUNT})\s+(?:days?|d)"),
        ),
        en(
            LastWeeks,
            &format!(r"(?:{last}|past|trailing|rolling)\s+(?P<n>{COUNT})\s+(?:weeks?|wks?)"),
        ),
        en(
            LastMonths,
            &format!(
                r"(?:{last}|past|trailing|rolling)\s+(?P<n>{COUNT})\s+(?:months?|mnths?|mths?|moths?)"
            ),
        ),
        en(DaysAgo, &format!(r"(?P<n>{COUNT})\s+days?\s+ago")),
        en(
            RelativeMonthOrQuarter,
            &format!(
                r"(?:(?P<m>{month_names})|q(?P<q>[1-4]))\s+(?:of\s+)?(?:(?P<ly>last|previous)|(?P<ty>this))\s+year"
            ),
        ),
        en(
            RelativeMonthOrQuarter,
            &format!(
                r"(?:(?P<ly>last|previous)|(?P<ty>this))\s+year(?:'s)?\s+(?:(?P<m>{month_names})|q(?P<q>[1-4]))"
            ),
        ),
        // A month name. Some names are also people's names or verbs ("May", "June",
        // "march"), so those count only with a cue word, a year or a following report word;
        // see `month_is_plausible`.
        (
            format!(
                r"(?-u:\b)(?P<cue>(?:in|for|during|of|since|from|over|until|by|last|this|untuk|pada|dalam|bagi)\s+(?:the\s+month\s+of\s+)?)?(?P<m>{month_names})(?-u:\b)\.?(?:\s*,?\s*(?P<y>{YEAR})(?-u:\b))?(?P<keep>\s+(?:sales|revenue|report|turnover|figures|numbers|top))?"
            ),
            Month,
            true,
        ),
        // Single days: "23 Nov", "23rd of November 2026", "Nov 23", "Nov 23, 2026",
        // "2026-11-23", "23/11", "23/11/2026", "ngày 23/11".
        on(
            Date,
            &format!(
                r"(?P<d>{DAY}){ORD}\s+(?:of\s+)?(?P<m>{MONTH_NAMES})(?-u:\b)\.?(?:\s*,?\s*(?P<y>{YEAR})(?-u:\b))?{PRODUCT}"
            ),
        ),
        on(
            Date,
            &format!(
                r"(?P<m>{MONTH_NAMES})\.?\s+(?P<d>{DAY}){ORD}(?:\s*,?\s*(?P<y>{YEAR})(?-u:\b))?"
            ),
        ),
        on(
            Date,
            &format!(r"(?P<y>{YEAR})([-/.])(?P<m>{MONTH_NUM})[-/.](?P<d>{DAY})"),
        ),
        // "1/2 inch" is a size, not 1 February: a unit after it rejects it.
        (
            format!(
                r"(?-u:\b){DATE_PRE}(?:ngay\s+)?(?P<d>{DAY})/(?P<m>{MONTH_NUM})(?:/(?P<y>{YEAR}))?(?-u:\b)(?P<unit>\s*(?:\x22|''|(?:inch|inches|cm|mm|kg|mg|ml|pcs|ft|lb)(?-u:\b)))?"
            ),
            Date,
            true,
        ),
        on(
            Date,
            &format!(
                r"ngay\s+(?P<d>{DAY})\s+thang\s+(?P<m>{MONTH_NUM})(?:\s*(?:/|,?\s*nam)\s*(?P<y>{YEAR}))?"
            ),
        ),
        // Day ranges with month names: "1 Nov to 15 Nov", "from 1 to 15 Nov", "1-15 Nov",
        // "23–29 Nov 2026", "30 Nov – 6 Dec 2026", "28 Dec 2026 – 3 Jan 2027",
        // "dari 1 hingga 15 Nov", "between 1 and 15 Nov".
        en(
            DateRange,
            &format!(
                r"{RANGE_OPEN}(?P<d1>{DAY}){ORD}(?:\s+(?:of\s+)?(?P<m1>{MONTH_NAMES})(?-u:\b)\.?(?:\s*,?\s*(?P<y0>{YEAR}))?)?{RANGE_SEP}(?P<d2>{DAY}){ORD}\s+(?:of\s+)?(?P<m2x>{MONTH_NAMES})(?-u:\b)\.?(?:\s*,?\s*(?P<y>{YEAR})(?-u:\b))?{PRODUCT}"
            ),
        ),
        // "Nov 1 - Nov 15", "Nov 1 to 15", "Nov 1 - 15, 2026".
        en(
            DateRange,
            &format!(
                r"{RANGE_OPEN}(?P<m1>{MONTH_NAMES})\.?\s+(?P<d1>{DAY}){ORD}(?:\s*,?\s*(?P<y0>{YEAR}))?{RANGE_SEP}(?:(?P<m2x>{MONTH_NAMES})\.?\s+)?(?P<d2>{DAY}){ORD}(?:\s*,\s*(?P<y>{YEAR})(?-u:\b))?"
            ),
        ),
        // ISO dates: "2026-11-01 to 2026-11-15", "2026/11/01-2026/11/15".
        en(
            DateRange,
            &format!(
                r"{RANGE_OPEN}(?P<y0>{YEAR})[-/.](?P<m1>{MONTH_NUM})[-/.](?P<d1>{DAY}){RANGE_SEP}(?P<y>{YEAR})[-/.](?P<m2x>{MONTH_NUM})[-/.](?P<d2>{DAY})"
            ),
        ),
        // Day/month to day/month, in every language: "1/3 至 15/3", "from 1/3 to 15/3",
        // "dari 1/3 hingga 15/3", "tu 1/3 den 15/3", "1/10/2026 – 15/10/2026".
        en(
            DateRange,
            &format!(
                r"{RANGE_OPEN}(?:ngay\s+)?(?P<d1>{DAY})/(?P<m1>{MONTH_NUM})(?:/(?P<y0>{YEAR}))?{RANGE_SEP}(?:ngay\s+)?(?P<d2>{DAY})/(?P<m2x>{MONTH_NUM})(?:/(?P<y>{YEAR}))?"
            ),
        ),
        // Vietnamese day numbers: "từ ngày 1 đến ngày 15 tháng 11 (năm 2026)".
        en(
            DateRange,
            &format!(
                r"(?:tu\s+)?(?:ngay\s+)?(?P<d1>{DAY})(?:\s+thang\s+(?P<m1>{MONTH_NUM}))?{RANGE_SEP}(?:ngay\s+)?(?P<d2>{DAY})\s+thang\s+(?P<m2x>{MONTH_NUM})(?:\s*(?:/|,?\s*nam)\s*(?P<y>{YEAR}))?"
            ),
        ),
        // Chinese (Traditional, with the common Simplified spellings).
        zh(Today, "今日|今天"),
        zh(Yesterday, "琴日|尋日|噚日|寻日|昨日|昨天|琴晚"),
        zh(DayBeforeYesterday, "前日|前天"),
        zh(ThisWeek, &format!("{zh_this}{zh_week}")),
        zh(LastWeek, &format!("上一?(?:個|个)?{zh_week}")),
        zh(ThisWeek, &format!("每(?:個|个)?{zh_week}")),
        zh(ThisWeekend, &format!("{zh_this}(?:週末|周末)")),
        zh(LastWeekend, "上一?(?:個|个)?(?:週末|周末)"),
        ("週報|周報|周报".to_string(), ThisWeek, false),
        zh(
            LastSevenDays,
            &format!("(?:最近|過去|过去|近)一?(?:個|个)?{zh_week}"),
        ),
        zh(
            WeekToDate,
            &format!("(?:{zh_this}{zh_week}|本周|周初){zh_so_far}"),
        ),
        zh(ThisMonth, "(?:今|呢|這|这|本)一?(?:個|个)?月份?"),
        zh(
            MonthToDate,
            &format!("(?:本月|(?:今|呢|這|这)一?(?:個|个)?月|月初){zh_so_far}"),
        ),
        zh(LastMonth, "上一?(?:個|个)?月份?"),
        zh(ThisMonth, "每(?:個|个)?月"),
        ("月報|月报".to_string(), ThisMonth, false),
        zh(ThisQuarter, "(?:今|呢|這|这|本)一?(?:個|个)?季度?"),
        zh(
            QuarterToDate,
            &format!("(?:(?:今|呢|這|这|本)一?(?:個|个)?季度?|季初|季度){zh_so_far}"),
        ),
        zh(LastQuarter, "上一?(?:個|个)?季度?"),
        ("季報|季报".to_string(), ThisQuarter, false),
        // "季度銷售報告" (quarterly sales report), "每日報告": frequency words, kept like
        // "weekly"; an explicit period in the same message wins (see `scan_in`).
        ("季度|每季".to_string(), ThisQuarter, false),
        ("日報|日报|每日|每天".to_string(), Today, false),
        ("月度|每月".to_string(), ThisMonth, false),
        ("週度|周度".to_string(), ThisWeek, false),
        zh(
            Quarter,
            &format!(r"(?:(?P<y>{YEAR})\s*年\s*)?第\s*(?P<q>[一二三四1-4])\s*季度?"),
        ),
        zh(ThisYear, "今年|本年度?|呢年|今個年度"),
        zh(
            YearToDate,
            &format!("(?:今年|年初|本年度?|今年年初|由年初|从年初|從年初){zh_so_far}"),
        ),
        zh(
            RelativeMonthOrQuarter,
            r"(?:(?P<ly>去年|舊年|旧年|上年)|(?P<ty>今年|本年))\s*(?:嘅|的)?\s*(?:第\s*(?P<q>[一二三四1-4])\s*季度?|[qQ](?P<q2>[1-4])|(?P<m>十[一二]|[一二三四五六七八九十]|1[0-2]|0?[1-9])\s*月份?)",
        ),
        zh(LastYear, "去年|舊年|旧年|上年|上一年|上個年度|上个年度"),
        // Code-mixed: "呢個 quarter", "上個 weekend", "今個 month".
        zh(ThisWeek, &format!(r"{zh_this}\s*(?:week|wk)")),
        zh(LastWeek, r"上一?(?:個|个)?\s*(?:week|wk)"),
        zh(ThisWeekend, &format!(r"{zh_this}\s*week-?end")),
        zh(LastWeekend, r"上一?(?:個|个)?\s*week-?end"),
        zh(ThisMonth, &format!(r"{zh_this}\s*(?:month|mth)")),
        zh(LastMonth, r"上一?(?:個|个)?\s*(?:month|mth)"),
        zh(ThisQuarter, &format!(r"{zh_this}\s*(?:quarter|qtr)")),
        zh(LastQuarter, r"上一?(?:個|个)?\s*(?:quarter|qtr)"),
        zh(YearBeforeLast, "前年"),
        ("年報|年报".to_string(), ThisYear, false),
        zh(Year, &format!(r"(?P<y>{YEAR})\s*年度?")),
        zh(
            Month,
            &format!(r"(?:(?P<y>{YEAR})\s*年\s*)?(?P<m>{ZH_MONTH})\s*月份?"),
        ),
        zh(
            Date,
            &format!(
                r"(?:(?P<y>{YEAR})\s*年\s*)?(?P<m>{ZH_MONTH})\s*月\s*(?P<d>{ZH_DAY})\s*[日号號]"
            ),
        ),
        zh(
            LastDays,
            &format!(r"(?:最近|過去|过去|近)\s*(?P<n>{ZH_COUNT})\s*(?:個|个)?\s*(?:日|天)"),
        ),
        zh(
            LastWeeks,
            &format!(
                r"(?:最近|過去|过去|近)\s*(?P<n>{ZH_COUNT})\s*(?:個|个)?\s*(?:禮拜|礼拜|星期|週|周)"
            ),
        ),
        zh(
            LastMonths,
            &format!(r"(?:最近|過去|过去|近)\s*(?P<n>{ZH_COUNT})\s*(?:個|个)\s*月"),
        ),
        zh(DaysAgo, &format!(r"(?P<n>{ZH_COUNT})\s*(?:日|天)(?:之)?前")),
        // Explicit ranges: "from March to May", "Oct–Dec 2026", "Nov 2026 – Feb 2027".
        (
            format!(
                r"(?-u:\b){EN_PRE}(?:(?:from|between|dari|antara)\s+)?(?:the\s+month\s+of\s+)?(?P<m>{month_names}|{month_names_ms})(?-u:\b)\.?(?:\s*,?\s*(?P<y0>{YEAR}))?(?:\s*(?:-|–|—|~)\s*|\s+(?:to|until|till|through|thru|and|hingga|sehingga|sampai)\s+)(?P<m2>{month_names}|{month_names_ms})(?-u:\b)\.?(?:\s*,?\s*(?P<y>{YEAR}))?(?-u:\b)"
            ),
            MonthRange,
            true,
        ),
        (
            format!(
                r"(?-u:\b)(?:tu\s+)?thang\s+(?P<m>{MONTH_NUM})(?:\s*/\s*(?P<y0>{YEAR}))?\s*(?:den|toi|-|–|—|~)\s*(?:thang\s+)?(?P<m2>{MONTH_NUM})(?:\s*(?:/|nam)\s*(?P<y>{YEAR}))?(?-u:\b)"
            ),
            MonthRange,
            true,
        ),
        zh(
            DateRange,
            &format!(
                r"(?:由|從|从|自)?\s*(?:(?P<y0>{YEAR})\s*年\s*)?(?P<m1>{ZH_MONTH})\s*月\s*(?P<d1>{ZH_DAY})\s*[日号號]?\s*(?:至|到|-|–|—|~)\s*(?:(?P<y>{YEAR})\s*年\s*)?(?:(?P<m2x>{ZH_MONTH})\s*月\s*)?(?P<d2>{ZH_DAY})\s*[日号號]"
            ),
        ),
        zh(
            MonthRange,
            &format!(
                r"(?:由|從|从|自)?\s*(?:(?P<y0>{YEAR})\s*年\s*)?(?P<m>{ZH_MONTH})\s*月份?\s*(?:至|到|-|–|—|~)\s*(?:(?P<y>{YEAR})\s*年\s*)?(?P<m2>{ZH_MONTH})\s*月份?"
            ),
        ),
        // Malay (no diacritics to fold).
        keep(ThisWeek, "mingguan"),
        keep(ThisMonth, "bulanan"),
        keep(Today, "harian"),
        keep(ThisQuarter, "suku\\s+tahunan"),
        keep(ThisYear, "tahunan"),
        en(Today, r"hari\s+(?:ini|ni)(?:\s+setakat\s+(?:ini|ni))?"),
        en(Yesterday, "semalam"),
        en(
            DayBeforeYesterday,
            "kelmarin|dua\\s+hari\\s+(?:lepas|lps|lpas|lalu)",
        ),
        en(ThisWeek, "(?:minggu|mgu|mggu)\\s+(?:ini|ni)"),
        en(
            LastWeek,
            "(?:minggu|mgu|mggu)\\s+(?:lepas|lps|lpas|lalu|sudah)",
        ),
        en(ThisWeekend, "hujung\\s+(?:minggu|mgu|mggu)\\s+(?:ini|ni)"),
        en(
            LastWeekend,
            "hujung\\s+(?:minggu|mgu|mggu)\\s+(?:lepas|lps|lpas|lalu)",
        ),
        en(
            WeekToDate,
            r"(?:minggu|mgu|mggu)\s+(?:ini|ni)\s+setakat\s+(?:ini|ni)|(?:sejak|dari)\s+awal\s+minggu(?:\s+(?:hingga|sehingga|sampai)\s+(?:kini|sekarang|hari\s+(?:ini|ni)))?",
        ),
        en(ThisMonth, "(?:bulan|bln)\\s+(?:ini|ni)"),
        en(
            MonthToDate,
            r"(?:bulan|bln)\s+(?:ini|ni)\s+setakat\s+(?:ini|ni)|(?:sejak|dari)\s+awal\s+bulan(?:\s+(?:hingga|sehingga|sampai)\s+(?:kini|sekarang|hari\s+(?:ini|ni)))?",
        ),
        en(LastMonth, "(?:bulan|bln)\\s+(?:lepas|lps|lpas|lalu|sudah)"),
        en(ThisQuarter, "suku\\s+(?:(?:tahun|thn)\\s+)?(?:ini|ni)"),
        en(
            QuarterToDate,
            r"suku\s+(?:(?:tahun|thn)\s+)?(?:ini|ni)\s+setakat\s+(?:ini|ni)",
        ),
        en(
            LastQuarter,
            "suku\\s+(?:(?:tahun|thn)\\s+)?(?:lepas|lps|lpas|lalu)",
        ),
        en(
            Quarter,
            &format!(
                r"suku\s+(?:(?:tahun|thn)\s+)?(?:ke-?\s*)?(?P<q>pertama|kedua|ketiga|keempat|[1-4])(?:\s+(?:(?:tahun|thn)\s+)?(?P<y>{YEAR}))?"
            ),
        ),
        en(
            YearToDate,
            r"(?:sejak|dari)\s+awal\s+tahun(?:\s+(?:hingga|sehingga|sampai)\s+(?:kini|sekarang|hari\s+(?:ini|ni)))?|tahun\s+(?:ini|ni)\s+setakat\s+(?:ini|ni)",
        ),
        en(ThisYear, "(?:tahun|thn)\\s+(?:ini|ni)"),
        en(
            RelativeMonthOrQuarter,
            r"q(?P<q>[1-4])\s+(?:(?:tahun|thn)\s+)?(?:(?P<ly>lepas|lalu)|(?P<ty>ini|ni))",
        ),
        en(LastYear, "(?:tahun|thn)\\s+(?:lepas|lps|lpas|lalu)"),
        en(
            LastDays,
            &format!(r"(?P<n>{COUNT_MS})\s+hari\s+(?:yang\s+)?(?:lepas|lps|lpas|lalu|terakhir)"),
        ),
        en(
            LastWeeks,
            &format!(
                r"(?P<n>{COUNT_MS})\s+(?:minggu|mgu|mggu)\s+(?:yang\s+)?(?:lepas|lps|lpas|lalu|terakhir)"
            ),
        ),
        en(
            LastMonths,
            &format!(
                r"(?P<n>{COUNT_MS})\s+(?:bulan|bln)\s+(?:yang\s+)?(?:lepas|lps|lpas|lalu|terakhir)"
            ),
        ),
        (
            format!(
                r"(?-u:\b)(?P<cue>(?:pada|untuk|dalam|bulan)\s+(?:(?:bulan|bln)\s+)?)?(?P<m>{month_names_ms})(?:\s+(?P<y>{YEAR}))?(?-u:\b)"
            ),
            Month,
            true,
        ),
        // Vietnamese, matched without diacritics (the text is folded first).
        // "hàng tuần"/"theo tháng" (weekly/monthly) are frequency words like "weekly": "bán
        // hàng tháng này" (sales this month) contains "hàng tháng", and the explicit
        // "tháng này" wins there (see `scan_in`).
        keep(Today, "hang\\s+ngay"),
        keep(ThisWeek, "hang\\s+tuan|theo\\s+tuan"),
        keep(ThisMonth, "hang\\s+thang|theo\\s+thang"),
        keep(ThisQuarter, "hang\\s+quy|theo\\s+quy"),
        keep(ThisYear, "hang\\s+nam|theo\\s+nam"),
        // "báo cáo tuần" (weekly report): the bare unit is a frequency word too.
        keep(ThisWeek, "tuan(?-u:\\b)"),
        keep(ThisMonth, "thang(?-u:\\b)"),
        keep(ThisQuarter, "quy(?-u:\\b)"),
        en(
            RelativeMonthOrQuarter,
            r"(?:(?:quy\s+|q)(?P<q>[1-4])|thang\s+(?P<m>1[0-2]|0?[1-9]))\s+(?:cua\s+)?nam\s+(?:(?P<ly>ngoai|truoc|roi)|(?P<ty>nay))",
        ),
        en(Today, "(?:ngay\\s+)?hom\\s+nay"),
        en(Yesterday, "(?:ngay\\s+)?hom\\s+qua"),
        en(DayBeforeYesterday, "(?:ngay\\s+)?hom\\s+kia"),
        en(ThisWeek, "tuan\\s+nay"),
        en(LastWeek, "tuan\\s+(?:truoc|roi)"),
        en(ThisWeekend, "cuoi\\s+tuan\\s+nay"),
        en(LastWeekend, "cuoi\\s+tuan\\s+(?:truoc|roi|qua)"),
        en(
            WeekToDate,
            &format!(r"(?:tu|ke\s+tu)\s+dau\s+tuan(?:\s+nay)?{vi_so_far}|tuan\s+nay{vi_until_now}"),
        ),
        en(ThisMonth, "thang\\s+nay"),
        en(
            MonthToDate,
            &format!(
                r"(?:tu|ke\s+tu)\s+dau\s+thang(?:\s+nay)?{vi_so_far}|thang\s+nay{vi_until_now}"
            ),
        ),
        en(LastMonth, "thang\\s+(?:truoc|roi)"),
        en(ThisQuarter, "quy\\s+nay"),
        en(
            QuarterToDate,
            &format!(r"(?:tu|ke\s+tu)\s+dau\s+quy(?:\s+nay)?{vi_so_far}|quy\s+nay{vi_until_now}"),
        ),
        en(LastQuarter, "quy\\s+(?:truoc|roi)"),
        en(
            Quarter,
            &format!(r"quy\s+(?P<q>[1-4]|iv|i{{1,3}})(?:\s*(?:nam\s+|/)?(?P<y>{YEAR}))?"),
        ),
        en(
            YearToDate,
            &format!(r"(?:tu|ke\s+tu)\s+dau\s+nam(?:\s+nay)?{vi_so_far}|nam\s+nay{vi_until_now}"),
        ),
        en(ThisYear, "nam\\s+nay"),
        en(Year, &format!(r"nam\s+(?P<y>{YEAR})")),
        en(LastYear, "nam\\s+(?:ngoai|truoc|roi)"),
        en(
            Month,
            &format!(r"(?P<cue>thang\s+)(?P<m>1[0-2]|0?[1-9])(?:\s*(?:/|nam)\s*(?P<y>{YEAR}))?"),
        ),
        en(
            LastDays,
            &format!(r"(?P<n>{COUNT_VI})\s+ngay\s+(?:qua|vua\s+qua|gan\s+day|gan\s+nhat)"),
        ),
        en(
            LastWeeks,
            &format!(r"(?P<n>{COUNT_VI})\s+tuan\s+(?:qua|vua\s+qua|gan\s+day|gan\s+nhat)"),
        ),
        en(
            LastMonths,
            &format!(r"(?P<n>{COUNT_VI})\s+thang\s+(?:qua|vua\s+qua|gan\s+day|gan\s+nhat)"),
        ),
    ]
}

/// The Latin words (four letters or more) the period rules are written with, as the
/// spelling corrector must know them: a period word is never "corrected" into another
/// word ("dari awal tahun" is not "awak"), and a typo of one is corrected into it.
pub fn words() -> &'static [String] {
    static WORDS: LazyLock<Vec<String>> = LazyLock::new(|| {
        let mut out: Vec<String> = Vec::new();
        for (src, _, _) in rule_sources() {
            let src = super::fold::fold_str(&src);
            let mut rest = src.as_str();
            while !rest.is_empty() {
                // Capture-group names are not words of the language.
                if let Some(after) = rest.strip_prefix("?P<") {
                    rest = after.split_once('>').map_or("", |(_, r)| r);
                    continue;
                }
                // An escape (`\s`, `\b`) is one letter, not the start of a word.
                if let Some(after) = rest.strip_prefix('\\') {
                    let mut chars = after.chars();
                    chars.next();
                    rest = chars.as_str();
                    continue;
                }
                let len = rest.bytes().take_while(u8::is_ascii_alphabetic).count();
                if len == 0 {
                    let mut chars = rest.chars();
                    chars.next();
                    rest = chars.as_str();
                    continue;
                }
                let word = rest[..len].to_ascii_lowercase();
                if len >= 4 && !out.contains(&word) {
                    out.push(word);
                }
                rest = &rest[len..];
            }
        }
        out.sort();
        out
    });
    &WORDS
}

/// The compiled period rules. They are constants, so a rule that failed to compile would be
/// a programming error; it is skipped rather than panicking, and a unit test checks that
/// none is skipped.
static RULES: LazyLock<Vec<Rule>> = LazyLock::new(|| {
    rule_sources()
        .into_iter()
        .filter_map(|(src, kind, strip)| {
            // The text is folded before scanning (see `super::fold`), so the rules are too.
            RegexBuilder::new(&super::fold::fold_str(&src))
                .case_insensitive(true)
                .build()
                .ok()
                .map(|regex| Rule { regex, kind, strip })
        })
        .collect()
});

/// All rules as one set, in the order of [`RULES`], for the prefilter in [`scan`]. `None`
/// only if the set failed to build, in which case every rule is tried.
static RULE_SET: LazyLock<Option<RegexSet>> = LazyLock::new(|| {
    RegexSetBuilder::new(RULES.iter().map(|r| r.regex.as_str()))
        .case_insensitive(true)
        .size_limit(64 << 20)
        .dfa_size_limit(64 << 20)
        .build()
        .ok()
});

fn compute(
    kind: Kind,
    caps: &Captures<'_>,
    today: Date,
    fiscal: i8,
    ws: jiff::civil::Weekday,
) -> Option<Period> {
    let year_cap = caps.name("y").and_then(|y| y.as_str().parse::<i16>().ok());
    match kind {
        Kind::Today => day(today),
        Kind::Yesterday => day(today.checked_sub(1.day()).ok()?),
        Kind::DayBeforeYesterday => day(today.checked_sub(2.days()).ok()?),
        Kind::ThisWeek => week_of(today, ws),
        Kind::WeekToDate => Some(Period {
            start: week_of(today, ws)?.start,
            end: today,
        }),
        Kind::LastWeek => week_of(today.checked_sub(7.days()).ok()?, ws),
        Kind::ThisMonth => month_of(today),
        Kind::MonthToDate => Some(Period {
            start: today.first_of_month(),
            end: today,
        }),
        Kind::LastMonth => month_of(today.first_of_month().yesterday().ok()?),
        Kind::ThisQuarter => quarter_of(today, fiscal),
        Kind::QuarterToDate => Some(Period {
            start: quarter_of(today, fiscal)?.start,
            end: today,
        }),
        Kind::LastQuarter => quarter_of(quarter_of(today, fiscal)?.start.yesterday().ok()?, fiscal),
        Kind::ThisYear => year(today.year()),
        Kind::YearToDate => Some(Period {
            start: today.first_of_year(),
            end: today,
        }),
        Kind::LastYear => year(today.year().checked_sub(1)?),
        Kind::YearBeforeLast => year(today.year().checked_sub(2)?),
        Kind::Year => year(year_cap?),
        Kind::Month => {
            let m = caps.name("m")?;
            let month = month_number(m.as_str())?;
            if year_cap.is_none() && !month_is_plausible(m.as_str(), caps) {
                return None;
            }
            let y = match year_cap {
                Some(y) => y,
                None if month <= today.month() => today.year(),
                None => today.year().checked_sub(1)?,
            };
            month_of(Date::new(y, month, 1).ok()?)
        }
        Kind::Quarter => {
            let q = quarter_number(caps.name("q")?.as_str())?;
            match year_cap {
                Some(y) => fiscal_quarter(y, q, fiscal),
                None => {
                    let fy = fiscal_year_of(today, fiscal)?;
                    let this = fiscal_quarter(fy, q, fiscal)?;
                    if this.start <= today {
                        Some(this)
                    } else {
                        fiscal_quarter(fy.checked_sub(1)?, q, fiscal)
                    }
                }
            }
        }
        Kind::RelativeMonthOrQuarter => {
            let last = caps.name("ly").is_some();
            if let Some(m) = caps.name("m") {
                let y = if last {
                    today.year().checked_sub(1)?
                } else {
                    today.year()
                };
                month_of(Date::new(y, month_number(m.as_str())?, 1).ok()?)
            } else {
                let q = caps.name("q").or_else(|| caps.name("q2"))?;
                let q = quarter_number(q.as_str())?;
                let fy = fiscal_year_of(today, fiscal)?;
                let fy = if last { fy.checked_sub(1)? } else { fy };
                fiscal_quarter(fy, q, fiscal)
            }
        }
        Kind::LastDays => {
            let n = count(caps, 3660)?;
            last_days(today, i64::from(n))
        }
        Kind::LastWeeks => {
            let n = count(caps, 520)?;
            last_days(today, i64::from(n) * 7)
        }
        Kind::LastMonths => {
            let n = count(caps, 120)?;
            let back = today
                .checked_sub(Span::new().try_months(i64::from(n)).ok()?)
                .ok()?;
            Some(Period {
                start: back.tomorrow().ok()?,
                end: today,
            })
        }
        Kind::DaysAgo => {
            let n = parse_count(caps.name("n")?.as_str())?;
            if n > 3660 {
                return None;
            }
            day(today
                .checked_sub(Span::new().try_days(i64::from(n)).ok()?)
                .ok()?)
        }
        Kind::LastSevenDays => last_days(today, 7),
        Kind::LastWeekend => {
            // The Sunday before today (a week back when today is Sunday: that weekend is
            // not over yet).
            let back = match today.weekday().to_sunday_zero_offset() {
                0 => 7,
                n => i64::from(n),
            };
            let sunday = today.checked_sub(Span::new().try_days(back).ok()?).ok()?;
            Some(Period {
                start: sunday.yesterday().ok()?,
                end: sunday,
            })
        }
        Kind::ThisWeekend => {
            // Saturday and Sunday next to each other, whatever day weeks start on.
            let week = week_of(today, jiff::civil::Weekday::Monday)?;
            Some(Period {
                start: week.end.yesterday().ok()?,
                end: week.end,
            })
        }
        Kind::Date => {
            if caps.name("unit").is_some() {
                return None;
            }
            let d = day_number(caps.name("d")?.as_str())?;
            let m = month_number(caps.name("m")?.as_str())?;
            day(Date::new(year_cap.unwrap_or(today.year()), m, d).ok()?)
        }
        Kind::DateRange => {
            if caps.name("unit").is_some() {
                return None;
            }
            let d1 = day_number(caps.name("d1")?.as_str())?;
            let d2 = day_number(caps.name("d2")?.as_str())?;
            let month = |name: &str| caps.name(name).and_then(|m| month_number(m.as_str()));
            // "1日至15日" names the month once, after the start; "1-15 Nov" once, at the end.
            let (m1, m2) = match (month("m1"), month("m2x")) {
                (Some(a), Some(b)) => (a, b),
                (Some(a), None) => (a, a),
                (None, Some(b)) => (b, b),
                (None, None) => return None,
            };
            let start_year = caps.name("y0").and_then(|y| y.as_str().parse::<i16>().ok());
            let wraps = (m1, d1) > (m2, d2);
            let (start_y, end_y) = match (start_year, year_cap) {
                (Some(s), Some(e)) => (s, Some(e)),
                (Some(s), None) => (s, None),
                (None, Some(e)) if !wraps => (e, Some(e)),
                (None, Some(e)) => (e.checked_sub(1)?, Some(e)),
                (None, None) if !wraps => (today.year(), None),
                // A range across the new year without a year: the one that started last.
                (None, None) if (m1, d1) <= (today.month(), today.day()) => (today.year(), None),
                (None, None) => (today.year().checked_sub(1)?, None),
            };
            let start = Date::new(start_y, m1, d1).ok()?;
            let mut end = Date::new(end_y.unwrap_or(start_y), m2, d2).ok()?;
            if end < start && end_y.is_none() {
                end = Date::new(start_y.checked_add(1)?, m2, d2).ok()?;
            }
            (end >= start).then_some(Period { start, end })
        }
        Kind::MonthRange => {
            let m1 = month_number(caps.name("m")?.as_str())?;
            let m2 = month_number(caps.name("m2")?.as_str())?;
            let wraps = m2 < m1;
            let start_year = caps.name("y0").and_then(|y| y.as_str().parse::<i16>().ok());
            let (start_y, end_y) = match (start_year, year_cap) {
                (Some(s), Some(e)) => (s, e),
                (Some(s), None) if wraps => (s, s.checked_add(1)?),
                (Some(s), None) => (s, s),
                (None, Some(e)) if wraps => (e.checked_sub(1)?, e),
                (None, Some(e)) => (e, e),
                (None, None) => {
                    let s = if m1 <= today.month() {
                        today.year()
                    } else {
                        today.year().checked_sub(1)?
                    };
                    (s, if wraps { s.checked_add(1)? } else { s })
                }
            };
            let start = Date::new(start_y, m1, 1).ok()?;
            let end = Date::new(end_y, m2, 1).ok()?.last_of_month();
            (end >= start).then_some(Period { start, end })
        }
    }
}

/// The `n` capture as a count from 1 to `max`; anything else is not a period.
fn count(caps: &Captures<'_>, max: u32) -> Option<u32> {
    let n = parse_count(caps.name("n")?.as_str())?;
    (1..=max).contains(&n).then_some(n)
}

/// A day of the month in digits or Chinese numerals.
fn day_number(text: &str) -> Option<i8> {
    let n = parse_count(text)?;
    if (1..=31).contains(&n) {
        i8::try_from(n).ok()
    } else {
        None
    }
}

fn day(d: Date) -> Option<Period> {
    Some(Period { start: d, end: d })
}

fn last_days(today: Date, n: i64) -> Option<Period> {
    Some(Period {
        start: today.checked_sub(Span::new().try_days(n - 1).ok()?).ok()?,
        end: today,
    })
}

/// The seven days from the week start `ws` around `d` (Monday to Sunday by default).
fn week_of(d: Date, ws: jiff::civil::Weekday) -> Option<Period> {
    let offset = i64::from(d.weekday().since(ws));
    let start = d.checked_sub(offset.days()).ok()?;
    let end = start.checked_add(6.days()).ok()?;
    Some(Period { start, end })
}

fn month_of(d: Date) -> Option<Period> {
    Some(Period {
        start: d.first_of_month(),
        end: d.last_of_month(),
    })
}

/// The fiscal quarter around `d`, for a fiscal year starting in month `fiscal`.
fn quarter_of(d: Date, fiscal: i8) -> Option<Period> {
    let into_year = (d.month() - fiscal).rem_euclid(12);
    let first_month = (fiscal - 1 + into_year / 3 * 3).rem_euclid(12) + 1;
    let y = if first_month <= d.month() {
        d.year()
    } else {
        d.year().checked_sub(1)?
    };
    three_months(y, first_month)
}

/// The fiscal year `d` falls in, named by the calendar year it starts in.
fn fiscal_year_of(d: Date, fiscal: i8) -> Option<i16> {
    if d.month() >= fiscal {
        Some(d.year())
    } else {
        d.year().checked_sub(1)
    }
}

/// Quarter `q` (1–4) of fiscal year `fy`.
fn fiscal_quarter(fy: i16, q: i8, fiscal: i8) -> Option<Period> {
    let months_in = i16::from(fiscal - 1) + i16::from(q - 1) * 3;
    let y = fy.checked_add(months_in / 12)?;
    three_months(y, i8::try_from(months_in % 12 + 1).ok()?)
}

/// Three calendar months from the first of `month` in `y`.
fn three_months(y: i16, month: i8) -> Option<Period> {
    let start = Date::new(y, month, 1).ok()?;
    let end = start
        .checked_add(Span::new().months(3))
        .ok()?
        .yesterday()
        .ok()?;
    Some(Period { start, end })
}

fn year(y: i16) -> Option<Period> {
    Some(Period {
        start: Date::new(y, 1, 1).ok()?,
        end: Date::new(y, 12, 31).ok()?,
    })
}

fn month_number(text: &str) -> Option<i8> {
    let lower = text.to_ascii_lowercase();
    let english = [
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
    ];
    const MALAY: [&str; 12] = [
        "januari",
        "februari",
        "mac",
        "april",
        "mei",
        "jun",
        "julai",
        "ogos",
        "september",
        "oktober",
        "november",
        "disember",
    ];
    if let Some(idx) = MALAY
        .iter()
        .position(|m| *m == lower || (lower.len() == 3 && m.starts_with(lower.as_str())))
    {
        return i8::try_from(idx + 1).ok();
    }
    if lower.is_ascii() && !lower.chars().all(|c| c.is_ascii_digit()) {
        let prefix = lower.get(..3)?;
        let idx = english.iter().position(|m| *m == prefix)?;
        return i8::try_from(idx + 1).ok();
    }
    let n = parse_count(text)?;
    if (1..=12).contains(&n) {
        i8::try_from(n).ok()
    } else {
        None
    }
}

/// English month names that double as names or verbs need a cue ("in May"), a year
/// ("May 2026") or a report word after them ("May sales"). Chinese months are never
/// ambiguous.
fn month_is_plausible(name: &str, caps: &Captures<'_>) -> bool {
    const AMBIGUOUS: [&str; 12] = [
        "jan", "mar", "march", "apr", "april", "may", "jun", "june", "aug", "august", "mac", "mei",
    ];
    let lower = name.to_ascii_lowercase();
    !AMBIGUOUS.contains(&lower.as_str())
        || caps.name("cue").is_some()
        || caps.name("keep").is_some()
}

fn quarter_number(text: &str) -> Option<i8> {
    Some(match text.to_ascii_lowercase().as_str() {
        "1" | "一" | "first" | "1st" | "pertama" | "i" => 1,
        "2" | "二" | "second" | "2nd" | "kedua" | "ii" => 2,
        "3" | "三" | "third" | "3rd" | "ketiga" | "iii" => 3,
        "4" | "四" | "fourth" | "4th" | "keempat" | "iv" => 4,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;

    fn p(s: (i16, i8, i8), e: (i16, i8, i8)) -> Option<Period> {
        Some(Period {
            start: date(s.0, s.1, s.2),
            end: date(e.0, e.1, e.2),
        })
    }

    #[test]
    fn every_rule_compiles() {
        assert_eq!(RULES.len(), rule_sources().len());
        assert!(RULE_SET.is_some(), "the prefilter set must build");
    }

    /// Saturday 21 November 2026, the reference "now" of the intent examples.
    const SAT: (i16, i8, i8) = (2026, 11, 21);

    fn at(d: (i16, i8, i8), text: &str) -> Option<Period> {
        find_period(text, date(d.0, d.1, d.2))
    }

    /// `find_period` folds, as the resolver does before scanning.
    fn folded(d: (i16, i8, i8), text: &str) -> Option<Period> {
        at(d, text)
    }

    #[test]
    fn every_language_names_the_same_periods() {
        let last_month = p((2026, 10, 1), (2026, 10, 31));
        let yesterday = p((2026, 11, 20), (2026, 11, 20));
        let day_before = p((2026, 11, 19), (2026, 11, 19));
        let this_week = p((2026, 11, 16), (2026, 11, 22));
        let last_week = p((2026, 11, 9), (2026, 11, 15));
        let q3 = p((2026, 7, 1), (2026, 9, 30));
        let this_quarter = p((2026, 10, 1), (2026, 12, 31));
        let last_quarter = q3;
        let this_year = p((2026, 1, 1), (2026, 12, 31));
        let last_year = p((2025, 1, 1), (2025, 12, 31));
        let ytd = p((2026, 1, 1), (2026, 11, 21));
        let march = p((2026, 3, 1), (2026, 3, 31));
        let cases: [(&str, Option<Period>); 46] = [
            ("last month", last_month),
            ("上個月", last_month),
            ("上个月", last_month),
            ("bulan lepas", last_month),
            ("tháng trước", last_month),
            ("thang truoc", last_month),
            ("yesterday", yesterday),
            ("琴日", yesterday),
            ("昨天", yesterday),
            ("semalam", yesterday),
            ("hôm qua", yesterday),
            ("前日", day_before),
            ("前天", day_before),
            ("hom kia", day_before),
            ("this week", this_week),
            ("今個禮拜", this_week),
            ("本周", this_week),
            ("minggu ini", this_week),
            ("tuần này", this_week),
            ("上個禮拜", last_week),
            ("minggu lepas", last_week),
            ("tuan truoc", last_week),
            ("Q3", q3),
            ("第三季", q3),
            ("第三季度", q3),
            ("suku ketiga", q3),
            ("quý 3", q3),
            ("quy III", q3),
            ("this quarter", this_quarter),
            ("suku ini", this_quarter),
            ("quý này", this_quarter),
            ("last quarter", last_quarter),
            ("quý trước", last_quarter),
            ("this year", this_year),
            ("tahun ini", this_year),
            ("năm nay", this_year),
            ("last year", last_year),
            ("tahun lepas", last_year),
            ("năm ngoái", last_year),
            ("YTD", ytd),
            ("dari awal tahun", ytd),
            ("từ đầu năm đến nay", ytd),
            ("3月", march),
            ("tháng 3", march),
            ("bulan Mac", march),
            ("Mac 2025", p((2025, 3, 1), (2025, 3, 31))),
        ];
        for (text, expected) in cases {
            assert_eq!(folded(SAT, text), expected, "{text}");
        }
    }

    #[test]
    fn explicit_ranges() {
        let first_half_march = p((2026, 3, 1), (2026, 3, 15));
        for text in [
            "1/3 至 15/3",
            "1/3-15/3",
            "from 1/3 to 15/3",
            "dari 1/3 hingga 15/3",
            "từ 1/3 đến 15/3",
        ] {
            assert_eq!(folded(SAT, text), first_half_march, "{text}");
        }
        let march_to_may = p((2026, 3, 1), (2026, 5, 31));
        for text in [
            "from March to May",
            "March to May 2026",
            "3月至5月",
            "三月到五月",
            "dari Mac hingga Mei",
            "từ tháng 3 đến tháng 5",
        ] {
            assert_eq!(folded(SAT, text), march_to_may, "{text}");
        }
        assert_eq!(
            folded(SAT, "2026年11月9日至11月15日"),
            p((2026, 11, 9), (2026, 11, 15))
        );
        assert_eq!(
            folded(SAT, "2026年12月28日至2027年1月3日"),
            p((2026, 12, 28), (2027, 1, 3))
        );
        assert_eq!(folded(SAT, "3月1日至15日"), first_half_march);
        // A range that wraps the new year ends in the next one.
        assert_eq!(folded(SAT, "15/12 to 5/1"), p((2025, 12, 15), (2026, 1, 5)));
        // An impossible date is no period rather than a guess.
        assert_eq!(folded(SAT, "31/2 to 3/3"), None);
    }

    #[test]
    fn malay_month_names_need_a_cue_when_they_are_also_words() {
        // "Mac" is also a computer, "Mei" a name.
        assert_eq!(folded(SAT, "stok Mac mini"), None);
        assert_eq!(folded(SAT, "jualan Ogos"), p((2026, 8, 1), (2026, 8, 31)));
        assert_eq!(
            folded(SAT, "jualan bulan Mei"),
            p((2026, 5, 1), (2026, 5, 31))
        );
    }

    #[test]
    fn days() {
        assert_eq!(at(SAT, "sales today"), p(SAT, SAT));
        assert_eq!(at(SAT, "今日營業額"), p(SAT, SAT));
        assert_eq!(at(SAT, "今天"), p(SAT, SAT));
        for y in ["yesterday", "琴日", "尋日", "昨日", "昨天", "噚日"] {
            assert_eq!(at(SAT, y), p((2026, 11, 20), (2026, 11, 20)), "{y}");
        }
        assert_eq!(at(SAT, "前日"), p((2026, 11, 19), (2026, 11, 19)));
        assert_eq!(
            at((2026, 1, 1), "yesterday"),
            p((2025, 12, 31), (2025, 12, 31))
        );
        assert_eq!(
            at((2024, 3, 1), "昨日"),
            p((2024, 2, 29), (2024, 2, 29)),
            "leap day"
        );
    }

    #[test]
    fn weeks_start_on_monday() {
        let this = p((2026, 11, 16), (2026, 11, 22));
        let last = p((2026, 11, 9), (2026, 11, 15));
        for t in [
            "this week",
            "今個禮拜",
            "本週",
            "這週",
            "呢個星期",
            "今個星期",
            "本周",
            "weekly",
            "週報",
        ] {
            assert_eq!(at(SAT, t), this, "{t}");
        }
        for t in [
            "last week",
            "上個禮拜",
            "上星期",
            "上週",
            "上個星期",
            "上周",
            "上禮拜",
        ] {
            assert_eq!(at(SAT, t), last, "{t}");
        }
        // On a Monday this week starts today; on a Sunday it started six days ago.
        assert_eq!(
            at((2026, 11, 16), "this week"),
            p((2026, 11, 16), (2026, 11, 22))
        );
        assert_eq!(
            at((2026, 11, 22), "this week"),
            p((2026, 11, 16), (2026, 11, 22))
        );
        // Across the year end: Friday 1 January 2027.
        assert_eq!(
            at((2027, 1, 1), "last week"),
            p((2026, 12, 21), (2026, 12, 27))
        );
        assert_eq!(
            at((2027, 1, 1), "this week"),
            p((2026, 12, 28), (2027, 1, 3))
        );
        assert_eq!(at(SAT, "week to date"), p((2026, 11, 16), (2026, 11, 21)));
        assert_eq!(at(SAT, "最近一個禮拜"), p((2026, 11, 15), SAT));
    }

    #[test]
    fn months() {
        let this = p((2026, 11, 1), (2026, 11, 30));
        let last = p((2026, 10, 1), (2026, 10, 31));
        for t in [
            "this month",
            "今個月",
            "本月",
            "呢個月",
            "monthly",
            "月報",
            "this month's",
        ] {
            assert_eq!(at(SAT, t), this, "{t}");
        }
        for t in ["last month", "上個月", "上月", "previous month", "上一個月"] {
            assert_eq!(at(SAT, t), last, "{t}");
        }
        // Last month in January is December of the previous year.
        assert_eq!(
            at((2026, 1, 15), "last month"),
            p((2025, 12, 1), (2025, 12, 31))
        );
        assert_eq!(at((2026, 3, 31), "上個月"), p((2026, 2, 1), (2026, 2, 28)));
        assert_eq!(
            at((2024, 3, 10), "last month"),
            p((2024, 2, 1), (2024, 2, 29))
        );
        assert_eq!(at(SAT, "month to date"), p((2026, 11, 1), SAT));
        assert_eq!(at(SAT, "本月至今"), p((2026, 11, 1), SAT));
    }

    #[test]
    fn month_names_take_the_most_recent_started() {
        let mar26 = p((2026, 3, 1), (2026, 3, 31));
        let mar25 = p((2025, 3, 1), (2025, 3, 31));
        assert_eq!(at(SAT, "sales in March"), mar26);
        assert_eq!(at((2026, 2, 10), "sales in March"), mar25);
        assert_eq!(at((2026, 3, 1), "sales in march"), mar26);
        for t in ["三月", "3月", "3月份", "03月"] {
            assert_eq!(at(SAT, t), mar26, "{t}");
            assert_eq!(at((2026, 2, 10), t), mar25, "{t}");
        }
        assert_eq!(at(SAT, "十二月"), p((2025, 12, 1), (2025, 12, 31)));
        assert_eq!(at(SAT, "十一月"), p((2026, 11, 1), (2026, 11, 30)));
        assert_eq!(at(SAT, "一月"), p((2026, 1, 1), (2026, 1, 31)));
        assert_eq!(at(SAT, "12月"), p((2025, 12, 1), (2025, 12, 31)));
        assert_eq!(at(SAT, "January"), p((2026, 1, 1), (2026, 1, 31)));
        assert_eq!(at(SAT, "Feb"), p((2026, 2, 1), (2026, 2, 28)));
        assert_eq!(at(SAT, "for Sept"), p((2026, 9, 1), (2026, 9, 30)));
        assert_eq!(at(SAT, "December"), p((2025, 12, 1), (2025, 12, 31)));
        assert_eq!(at(SAT, "May 2024"), p((2024, 5, 1), (2024, 5, 31)));
        assert_eq!(at(SAT, "2025年3月"), mar25);
        assert_eq!(at(SAT, "March sales"), mar26);
        // Ambiguous names without a cue are not periods.
        assert_eq!(at(SAT, "May I know my leave balance"), None);
        assert_eq!(at(SAT, "how much leave does June Lee have"), None);
        assert_eq!(at(SAT, "Jan Chan"), None);
        // Not months.
        assert_eq!(at(SAT, "3個月"), None);
        assert_eq!(at(SAT, "iPhone 15 Pro 256GB"), None);
        assert_eq!(at(SAT, "SO-2026-00123"), None);
    }

    #[test]
    fn quarters() {
        let q4 = p((2026, 10, 1), (2026, 12, 31));
        let q3 = p((2026, 7, 1), (2026, 9, 30));
        for t in ["this quarter", "今季", "本季", "本季度", "quarterly"] {
            assert_eq!(at(SAT, t), q4, "{t}");
        }
        for t in ["last quarter", "上季", "上個季度", "上一季"] {
            assert_eq!(at(SAT, t), q3, "{t}");
        }
        // Last quarter in Q1 is Q4 of the previous year.
        assert_eq!(
            at((2026, 2, 10), "last quarter"),
            p((2025, 10, 1), (2025, 12, 31))
        );
        assert_eq!(at((2026, 2, 10), "上季"), p((2025, 10, 1), (2025, 12, 31)));
        assert_eq!(at(SAT, "Q3"), q3);
        assert_eq!(at(SAT, "q3"), q3);
        assert_eq!(at(SAT, "第三季"), q3);
        assert_eq!(at(SAT, "third quarter"), q3);
        assert_eq!(at(SAT, "Q1"), p((2026, 1, 1), (2026, 3, 31)));
        assert_eq!(at(SAT, "第一季"), p((2026, 1, 1), (2026, 3, 31)));
        assert_eq!(at(SAT, "第四季"), q4);
        // A quarter that has not started yet this year means last year's.
        assert_eq!(at((2026, 2, 10), "Q2"), p((2025, 4, 1), (2025, 6, 30)));
        assert_eq!(at((2026, 2, 10), "Q1"), p((2026, 1, 1), (2026, 3, 31)));
        assert_eq!(at(SAT, "Q2 2025"), p((2025, 4, 1), (2025, 6, 30)));
        assert_eq!(at(SAT, "2025年第二季"), p((2025, 4, 1), (2025, 6, 30)));
        assert_eq!(at(SAT, "SQ3"), None);
    }

    #[test]
    fn years() {
        let y26 = p((2026, 1, 1), (2026, 12, 31));
        let y25 = p((2025, 1, 1), (2025, 12, 31));
        for t in ["this year", "今年", "本年度"] {
            assert_eq!(at(SAT, t), y26, "{t}");
        }
        for t in ["last year", "去年", "舊年", "上年"] {
            assert_eq!(at(SAT, t), y25, "{t}");
        }
        assert_eq!(at((2026, 1, 1), "last year"), y25);
        assert_eq!(at(SAT, "year to date"), p((2026, 1, 1), SAT));
        assert_eq!(at(SAT, "今年至今"), p((2026, 1, 1), SAT));
        assert_eq!(at(SAT, "in 2024"), p((2024, 1, 1), (2024, 12, 31)));
        assert_eq!(at(SAT, "2024年"), p((2024, 1, 1), (2024, 12, 31)));
        assert_eq!(at(SAT, "前年"), p((2024, 1, 1), (2024, 12, 31)));
        // A month or quarter tied to this or last year.
        assert_eq!(at(SAT, "去年十二月"), p((2025, 12, 1), (2025, 12, 31)));
        assert_eq!(at(SAT, "舊年3月"), p((2025, 3, 1), (2025, 3, 31)));
        assert_eq!(at(SAT, "今年十二月"), p((2026, 12, 1), (2026, 12, 31)));
        assert_eq!(at(SAT, "去年第三季"), p((2025, 7, 1), (2025, 9, 30)));
        assert_eq!(at(SAT, "Q3 last year"), p((2025, 7, 1), (2025, 9, 30)));
        assert_eq!(
            at(SAT, "March of last year"),
            p((2025, 3, 1), (2025, 3, 31))
        );
        assert_eq!(
            at(SAT, "last year's December"),
            p((2025, 12, 1), (2025, 12, 31))
        );
        assert_eq!(at(SAT, "May this year"), p((2026, 5, 1), (2026, 5, 31)));
    }

    #[test]
    fn last_n_days() {
        assert_eq!(at(SAT, "last 7 days"), p((2026, 11, 15), SAT));
        assert_eq!(at(SAT, "past thirty days"), p((2026, 10, 23), SAT));
        assert_eq!(at(SAT, "最近三日"), p((2026, 11, 19), SAT));
        assert_eq!(at(SAT, "過去30天"), p((2026, 10, 23), SAT));
        assert_eq!(at(SAT, "last 0 days"), None);
    }

    #[test]
    fn first_expression_wins_and_is_removed() {
        let today = date(2026, 11, 21);
        let f = crate::intent::fold::fold_str;
        let text = &f("上個月九龍區營業額");
        let found = scan(text, today);
        assert_eq!(found.len(), 1);
        assert_eq!(remove(text, &found), f("九龍區營業額"));

        let text = &f("sales last month in Kowloon");
        assert_eq!(remove(text, &scan(text, today)), "sales in Kowloon");
        let text = &f("sales to Golden Dragon Trading for the last quarter");
        assert_eq!(
            remove(text, &scan(text, today)),
            "sales to Golden Dragon Trading"
        );
        let text = &f("weekly sales report");
        assert_eq!(remove(text, &scan(text, today)), "weekly sales report");
        let text = &f("九龍區上個月嘅營業額");
        assert_eq!(remove(text, &scan(text, today)), f("九龍區營業額"));
        let text = &f("March sales");
        assert_eq!(remove(text, &scan(text, today)), "sales");
        let text = &f("今年至今嘅銷售");
        assert_eq!(remove(text, &scan(text, today)), f("銷售"));
        assert_eq!(
            find_period("last month vs this month", today),
            p((2026, 10, 1), (2026, 10, 31))
        );
    }

    /// Wednesday 2 December 2026, the "today" of the examples in the brief for these forms.
    const WED: (i16, i8, i8) = (2026, 12, 2);

    /// Scans folded `text` and returns the first period and what is left after removal.
    fn scan_left(d: (i16, i8, i8), text: &str) -> (Option<Period>, String) {
        let folded = crate::intent::fold::fold_str(text);
        let found = scan(&folded, date(d.0, d.1, d.2));
        (found.first().map(|m| m.period), remove(&folded, &found))
    }

    #[test]
    fn explicit_dates_and_ranges_take_their_whole_span() {
        let first_half = p((2026, 11, 1), (2026, 11, 15));
        for text in [
            "1 Nov to 15 Nov",
            "from 1 to 15 Nov",
            "from 1 Nov to 15 Nov",
            "1-15 Nov",
            "1 – 15 Nov",
            "1—15 Nov",
            "1~15 Nov",
            "1st to 15th November",
            "between 1 and 15 Nov",
            "1 Nov till 15 Nov",
            "1 Nov until 15 Nov 2026",
            "1 Nov through 15 Nov",
            "Nov 1 - Nov 15",
            "Nov 1 to 15",
            "Nov 1 - 15, 2026",
            "2026-11-01 to 2026-11-15",
            "2026/11/01-2026/11/15",
            "1/11–15/11",
            "1/11 - 15/11",
            "1/11/2026 - 15/11/2026",
            "11月1日至15日",
            "11月1日至11月15日",
            "11月1日到11月15日",
            "由11月1號到15號",
            "從11月1日至15日",
            "11月1号到15号",
            "十一月一日至十五日",
            "dari 1 hingga 15 Nov",
            "1 hingga 15 November 2026",
            "dari 1 Nov hingga 15 Nov",
            "từ 1/11 đến 15/11",
            "tu 1/11 den 15/11",
            "từ ngày 1/11 đến ngày 15/11",
            "từ ngày 1 đến ngày 15 tháng 11",
            "từ ngày 1 tháng 11 đến ngày 15 tháng 11",
        ] {
            let (period, left) = scan_left(WED, text);
            assert_eq!(period, first_half, "{text}");
            assert_eq!(left, "", "{text} must be consumed whole");
        }
        assert_eq!(
            folded(WED, "2026年11月23日至11月29日"),
            p((2026, 11, 23), (2026, 11, 29))
        );
        assert_eq!(
            folded(WED, "30 Nov – 6 Dec 2026"),
            p((2026, 11, 30), (2026, 12, 6))
        );
        assert_eq!(
            folded(WED, "28 Dec 2026 – 3 Jan 2027"),
            p((2026, 12, 28), (2027, 1, 3))
        );
        assert_eq!(
            folded(WED, "28 Dec – 3 Jan 2027"),
            p((2026, 12, 28), (2027, 1, 3))
        );
        // The framing words go with the range, the words around it stay.
        for (text, left) in [
            ("sales from 1 Nov to 15 Nov in Kowloon", "sales in Kowloon"),
            ("sales between 1 and 15 Nov in Kowloon", "sales in Kowloon"),
            ("sales for 1-15 Nov in Kowloon", "sales in Kowloon"),
            ("九龍區由11月1號到15號嘅營業額", "九龙区营业额"),
            (
                "jualan dari 1 hingga 15 Nov di Kowloon",
                "jualan di Kowloon",
            ),
            (
                "doanh thu từ 1/11 đến 15/11 ở Kowloon",
                "doanh thu o Kowloon",
            ),
            ("sales on 23 Nov in Kowloon", "sales in Kowloon"),
            ("top 5 items 1-15 Nov", "top 5 items"),
        ] {
            assert_eq!(scan_left(WED, text).1, left, "{text}");
        }
    }

    #[test]
    fn single_dates() {
        let d23 = p((2026, 11, 23), (2026, 11, 23));
        for text in [
            "23 Nov",
            "23 Nov 2026",
            "23rd of November",
            "Nov 23",
            "Nov 23, 2026",
            "November 23rd",
            "2026-11-23",
            "2026/11/23",
            "23/11",
            "23/11/2026",
            "11月23日",
            "11月23號",
            "2026年11月23日",
            "十一月二十三日",
            "ngày 23/11",
            "ngày 23 tháng 11",
            "ngày 23 tháng 11 năm 2026",
            "23 November 2026",
            "on 23 Nov",
        ] {
            let (period, left) = scan_left(WED, text);
            assert_eq!(period, d23, "{text}");
            assert_eq!(left, "", "{text} must be consumed whole");
        }
        // A day without a year is in the current year, even when it is still to come.
        assert_eq!(folded(WED, "25 Dec"), p((2026, 12, 25), (2026, 12, 25)));
        assert_eq!(
            folded(WED, "23 Nov 2025"),
            p((2025, 11, 23), (2025, 11, 23))
        );
        // Impossible dates are no period, sizes are not dates.
        assert_eq!(folded(WED, "31/2"), None);
        assert_eq!(folded(WED, "30 Feb"), None);
        assert_eq!(folded(WED, "2026-13-01"), None);
        assert_eq!(folded(WED, "PVC pipe 1/2 inch"), None);
        assert_eq!(folded(WED, "pipe 3/4\""), None);
        assert_eq!(folded(WED, "SO-2026-00123"), None);
        assert_eq!(folded(WED, "iPhone 15 Pro 256GB"), None);
        // "since" is not the one day; the month alone is not taken in the middle of it.
        assert_ne!(folded(WED, "since 23 Nov"), None);
        let since = scan_left(WED, "sales since 23 Nov");
        assert_eq!(since.1, "sales since");
    }

    #[test]
    fn rolling_periods_end_today() {
        let days7 = p((2026, 11, 26), WED);
        let days30 = p((2026, 11, 3), WED);
        let weeks4 = p((2026, 11, 5), WED);
        let months3 = p((2026, 9, 3), WED);
        let cases: [(&str, Option<Period>); 31] = [
            ("last 7 days", days7),
            ("past 7 days", days7),
            ("previous 7 days", days7),
            ("the last seven days", days7),
            ("last 30 days", days30),
            ("past thirty days", days30),
            ("過去7日", days7),
            ("最近7天", days7),
            ("近30日", days30),
            ("最近七天", days7),
            ("过去三十天", days30),
            ("7 hari lepas", days7),
            ("tujuh hari terakhir", days7),
            ("7 ngày qua", days7),
            ("30 ngày gần đây", days30),
            ("last 4 weeks", weeks4),
            ("past four weeks", weeks4),
            ("過去4個星期", weeks4),
            ("最近四个礼拜", weeks4),
            ("近4周", weeks4),
            ("4 minggu lepas", weeks4),
            ("4 tuần qua", weeks4),
            ("last 3 months", months3),
            ("past three months", months3),
            ("last 3 mnths", months3),
            ("最近三个月", months3),
            ("過去3個月", months3),
            ("3 bulan lepas", months3),
            ("tiga bulan terakhir", months3),
            ("3 tháng gần đây", months3),
            ("3 tháng qua", months3),
        ];
        for (text, expected) in cases {
            let (period, left) = scan_left(WED, text);
            assert_eq!(period, expected, "{text}");
            assert_eq!(left, "", "{text} must be consumed whole");
        }
        assert_eq!(folded(WED, "last 1 month"), p((2026, 11, 3), WED));
        assert_eq!(folded(WED, "last sixty days"), p((2026, 10, 4), WED));
        // A month ago from the 31st clamps to the shorter month's end.
        assert_eq!(
            folded((2026, 3, 31), "last 1 month"),
            p((2026, 3, 1), (2026, 3, 31))
        );
        assert_eq!(folded(WED, "3 days ago"), p((2026, 11, 29), (2026, 11, 29)));
        assert_eq!(folded(WED, "3天前"), p((2026, 11, 29), (2026, 11, 29)));
        // Absurd counts are not periods and never overflow.
        for text in [
            "last 99999999 days",
            "last 99999999999999999999999 days",
            "last 9999 weeks",
            "last 9999 months",
            "過去99999999日",
            "99999999 hari lepas",
            "99999999 ngày qua",
            "99999999 days ago",
            "last 0 weeks",
        ] {
            assert_eq!(folded(WED, text), None, "{text}");
        }
        // Malay "two days ago" stays the single day.
        assert_eq!(
            folded(WED, "dua hari lepas"),
            p((2026, 11, 30), (2026, 11, 30))
        );
    }

    #[test]
    fn weekends_and_the_day_before_yesterday() {
        let last = p((2026, 11, 28), (2026, 11, 29));
        let this = p((2026, 12, 5), (2026, 12, 6));
        for text in [
            "last weekend",
            "sales last weekend",
            "上個週末",
            "上周末",
            "上个周末",
            "hujung minggu lepas",
            "cuối tuần trước",
        ] {
            assert_eq!(folded(WED, text), last, "{text}");
        }
        for text in [
            "this weekend",
            "今個週末",
            "本周末",
            "hujung minggu ini",
            "cuối tuần này",
        ] {
            assert_eq!(folded(WED, text), this, "{text}");
        }
        // On Saturday and Sunday the weekend under way is not over: last weekend is the one
        // before; this weekend is the current one.
        assert_eq!(folded((2026, 12, 5), "last weekend"), last);
        assert_eq!(folded((2026, 12, 6), "last weekend"), last);
        assert_eq!(folded((2026, 12, 6), "this weekend"), this);
        assert_eq!(
            folded((2026, 12, 7), "last weekend"),
            p((2026, 12, 5), (2026, 12, 6))
        );
        let dby = p((2026, 11, 30), (2026, 11, 30));
        for text in [
            "the day before yesterday",
            "day before yesterday",
            "前日",
            "前天",
            "kelmarin",
            "hôm kia",
        ] {
            let (period, left) = scan_left(WED, text);
            assert_eq!(period, dby, "{text}");
            assert_eq!(left, "", "{text}");
        }
        assert_eq!(folded(WED, "semalam"), p((2026, 12, 1), (2026, 12, 1)));
    }

    #[test]
    fn to_date_periods_start_at_the_unit() {
        let wtd = p((2026, 11, 30), WED);
        let mtd = p((2026, 12, 1), WED);
        let qtd = p((2026, 10, 1), WED);
        let ytd = p((2026, 1, 1), WED);
        let cases: [(&str, Option<Period>); 34] = [
            ("week to date", wtd),
            ("WTD", wtd),
            ("week-to-date", wtd),
            ("this week so far", wtd),
            ("本周至今", wtd),
            ("minggu ini setakat ini", wtd),
            ("từ đầu tuần đến nay", wtd),
            ("month to date", mtd),
            ("MTD", mtd),
            ("month-to-date", mtd),
            ("so far this month", mtd),
            ("this month so far", mtd),
            ("本月至今", mtd),
            ("本月截至目前", mtd),
            ("今個月到而家", mtd),
            ("这个月到现在", mtd),
            ("bulan ini setakat ini", mtd),
            ("dari awal bulan", mtd),
            ("từ đầu tháng đến nay", mtd),
            ("quarter to date", qtd),
            ("QTD", qtd),
            ("this quarter so far", qtd),
            ("本季至今", qtd),
            ("từ đầu quý đến nay", qtd),
            ("year to date", ytd),
            ("YTD", ytd),
            ("ytd", ytd),
            ("so far this year", ytd),
            ("今年至今", ytd),
            ("年初至今", ytd),
            ("今年到而家", ytd),
            ("tahun ini setakat ini", ytd),
            ("từ đầu năm đến nay", ytd),
            ("year-to-date", ytd),
        ];
        for (text, expected) in cases {
            let (period, left) = scan_left(WED, text);
            assert_eq!(period, expected, "{text}");
            assert_eq!(left, "", "{text} must be consumed whole");
        }
        assert_eq!(
            scan_left(WED, "sales so far this month in Kowloon").1,
            "sales in Kowloon"
        );
    }

    #[test]
    fn quarters_in_every_form_and_fiscal_years() {
        let q3 = p((2026, 7, 1), (2026, 9, 30));
        for text in [
            "Q3",
            "第三季",
            "第3季度",
            "suku ketiga",
            "suku 3",
            "quý 3",
            "Q3 2026",
            "2026 Q3",
            "2026Q3",
            "Q3/2026",
        ] {
            assert_eq!(folded(WED, text), q3, "{text}");
        }
        assert_eq!(folded(WED, "Q3 2025"), p((2025, 7, 1), (2025, 9, 30)));
        assert_eq!(folded(WED, "2025 Q3"), p((2025, 7, 1), (2025, 9, 30)));
        assert_eq!(folded(WED, "Q1"), p((2026, 1, 1), (2026, 3, 31)));
        assert_eq!(folded(WED, "Q4"), p((2026, 10, 1), (2026, 12, 31)));

        // A fiscal year from April, named by the year it starts in.
        let fy = |d: (i16, i8, i8), text: &str| {
            scan_with(&crate::intent::fold::fold_str(text), date(d.0, d.1, d.2), 4)
                .first()
                .map(|m| m.period)
        };
        assert_eq!(fy(WED, "Q1"), p((2026, 4, 1), (2026, 6, 30)));
        assert_eq!(fy(WED, "Q3"), p((2026, 10, 1), (2026, 12, 31)));
        // Q4 of FY2026 (Jan–Mar 2027) has not started: the last one that has.
        assert_eq!(fy(WED, "Q4"), p((2026, 1, 1), (2026, 3, 31)));
        assert_eq!(fy(WED, "Q4 2026"), p((2027, 1, 1), (2027, 3, 31)));
        assert_eq!(fy(WED, "Q2 2025"), p((2025, 7, 1), (2025, 9, 30)));
        assert_eq!(fy(WED, "第一季"), p((2026, 4, 1), (2026, 6, 30)));
        assert_eq!(fy(WED, "this quarter"), p((2026, 10, 1), (2026, 12, 31)));
        assert_eq!(fy(WED, "last quarter"), p((2026, 7, 1), (2026, 9, 30)));
        assert_eq!(fy(WED, "QTD"), p((2026, 10, 1), WED));
        assert_eq!(fy(WED, "Q1 last year"), p((2025, 4, 1), (2025, 6, 30)));
        // In February we are in Q4 of the fiscal year that started the April before.
        assert_eq!(fy((2027, 2, 10), "Q1"), p((2026, 4, 1), (2026, 6, 30)));
        assert_eq!(fy((2027, 2, 10), "Q4"), p((2027, 1, 1), (2027, 3, 31)));
        // Years stay calendar years.
        assert_eq!(fy(WED, "this year"), p((2026, 1, 1), (2026, 12, 31)));
        assert_eq!(fy(WED, "last year"), p((2025, 1, 1), (2025, 12, 31)));
        assert_eq!(fy(WED, "YTD"), p((2026, 1, 1), WED));
        // A fiscal start that does not fall on a calendar quarter moves the boundaries.
        let feb = |text: &str| {
            scan_with(text, date(2026, 12, 2), 2)
                .first()
                .map(|m| m.period)
        };
        assert_eq!(feb("this quarter"), p((2026, 11, 1), (2027, 1, 31)));
        assert_eq!(feb("last quarter"), p((2026, 8, 1), (2026, 10, 31)));
        assert_eq!(feb("Q1"), p((2026, 2, 1), (2026, 4, 30)));
        // A month that is not a month means January.
        assert_eq!(
            scan_with("Q1", date(2026, 12, 2), 13)
                .first()
                .map(|m| m.period),
            p((2026, 1, 1), (2026, 3, 31))
        );
    }

    #[test]
    fn typos_and_abbreviations() {
        let last_month = p((2026, 11, 1), (2026, 11, 30));
        for text in [
            "last mnth",
            "last moth",
            "lst month",
            "last mth",
            "prev month",
        ] {
            assert_eq!(folded(WED, text), last_month, "{text}");
        }
        assert_eq!(folded(WED, "this wk"), p((2026, 11, 30), (2026, 12, 6)));
        assert_eq!(folded(WED, "last wk"), p((2026, 11, 23), (2026, 11, 29)));
        assert_eq!(folded(WED, "yday"), p((2026, 12, 1), (2026, 12, 1)));
        assert_eq!(folded(WED, "this yr"), p((2026, 1, 1), (2026, 12, 31)));
        assert_eq!(folded(WED, "ytd"), p((2026, 1, 1), WED));
        // Only the period goes; the words next to it stay.
        for (text, left) in [
            ("sales lst month Kowloon", "sales Kowloon"),
            ("weekend sales", "weekend sales"),
            ("lastmonth", "lastmonth"),
            ("ytds", "ytds"),
            ("the mtd figure", "figure"),
            ("Mac mini 1/2 inch", "Mac mini 1/2 inch"),
            ("stok 2 Mac mini", "stok 2 Mac mini"),
            ("harga 12-15 Mac Pro", "harga 12-15 Mac Pro"),
            ("jualan 2 Mac", "jualan"),
            ("stock of item 2026", "stock of item 2026"),
        ] {
            assert_eq!(scan_left(WED, text).1, left, "{text}");
        }
    }

    #[test]
    fn every_printed_period_reads_back() {
        use crate::card::format::period as print;
        use crate::intent::Locale;
        let d = |y, m, dd| date(y, m, dd);
        let periods = [
            (d(2026, 11, 23), d(2026, 11, 23)),
            (d(2026, 1, 1), d(2026, 1, 1)),
            (d(2026, 12, 31), d(2026, 12, 31)),
            (d(2026, 11, 23), d(2026, 11, 29)),
            (d(2026, 10, 1), d(2026, 10, 15)),
            (d(2026, 2, 2), d(2026, 2, 28)),
            (d(2026, 11, 30), d(2026, 12, 6)),
            (d(2026, 1, 31), d(2026, 3, 1)),
            (d(2026, 8, 15), d(2026, 9, 14)),
            (d(2026, 12, 28), d(2027, 1, 3)),
            (d(2025, 6, 1), d(2026, 6, 30)),
            (d(2025, 12, 15), d(2026, 1, 5)),
            (d(2026, 11, 1), d(2026, 11, 30)),
            (d(2026, 2, 1), d(2026, 2, 28)),
            (d(2024, 2, 1), d(2024, 2, 29)),
            (d(2025, 5, 1), d(2025, 5, 31)),
            (d(2026, 10, 1), d(2026, 12, 31)),
            (d(2026, 1, 1), d(2026, 6, 30)),
            (d(2026, 3, 1), d(2026, 8, 31)),
            (d(2026, 11, 1), d(2027, 2, 28)),
            (d(2025, 1, 1), d(2026, 12, 31)),
            (d(2026, 1, 1), d(2026, 12, 31)),
            (d(2024, 1, 1), d(2024, 12, 31)),
            (d(2026, 1, 1), d(2026, 11, 30)),
            (d(2026, 9, 1), d(2026, 9, 30)),
            (d(2026, 7, 1), d(2026, 8, 31)),
        ];
        // Every month name in every locale, as whole months and as days.
        let mut all = periods.to_vec();
        for m in 1..=12 {
            let first = d(2026, m, 1);
            all.push((first, first.last_of_month()));
            all.push((d(2026, m, 3), d(2026, m, 3)));
            all.push((d(2026, m, 2), d(2026, m, 9)));
        }
        let today = d(2026, 12, 2);
        for (start, end) in all {
            let want = Period { start, end };
            for locale in Locale::ALL {
                let printed = print(locale, &want);
                let folded = crate::intent::fold::fold_str(&printed);
                let found = scan(&folded, today);
                assert_eq!(
                    found.first().map(|m| m.period),
                    Some(want),
                    "{locale:?}: {printed}"
                );
                assert_eq!(found.len(), 1, "{locale:?}: {printed}");
                assert_eq!(
                    remove(&folded, &found),
                    "",
                    "{locale:?}: {printed} must be consumed whole"
                );
            }
        }
    }

    #[test]
    fn random_text_never_panics() {
        // A small deterministic generator: no dependency, the same strings every run.
        let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let pieces = [
            "last",
            "7",
            "99999999999",
            "days",
            "weeks",
            "months",
            "Nov",
            "Mac",
            "1",
            "15",
            "31",
            "2026",
            "1999",
            "/",
            "-",
            "–",
            "—",
            "~",
            "to",
            "from",
            "between",
            "and",
            "至",
            "到",
            "月",
            "日",
            "號",
            "年",
            "第",
            "季",
            "過去",
            "最近",
            "個",
            "tu",
            "den",
            "ngày",
            "tháng",
            "năm",
            "hari",
            "lepas",
            "bulan",
            "Q",
            "q4",
            "weekend",
            "上",
            "周末",
            "so far",
            "this",
            " ",
            "  ",
            "🙂",
            "é",
            "\u{301}",
            "十",
            "三十一",
            "0",
            "00",
            "12",
            "13",
            "32",
            ",",
            ".",
            "ytd",
            "since",
            "hingga",
            "dari",
            "'",
            "\"",
        ];
        let todays = [
            date(2026, 12, 2),
            date(2024, 2, 29),
            date(-9999, 1, 1),
            date(9999, 12, 31),
        ];
        for _ in 0..3000 {
            let len = next() % 10;
            let mut text = String::new();
            for _ in 0..len {
                let i = usize::try_from(next() % pieces.len() as u64).unwrap_or(0);
                text.push_str(pieces[i]);
                if next() % 3 == 0 {
                    text.push(' ');
                }
            }
            let folded = crate::intent::fold::fold_str(&text);
            for today in todays {
                for fiscal in [1, 4, 12] {
                    let found = scan_with(&folded, today, fiscal);
                    for m in &found {
                        assert!(m.period.start <= m.period.end, "{text}");
                        assert!(folded.get(m.strip.clone()).is_some(), "{text}");
                    }
                    let _ = remove(&folded, &found);
                }
            }
        }
    }

    #[test]
    fn nothing_panics() {
        let today = date(2026, 11, 21);
        for t in [
            "",
            " ",
            "🙂",
            "Q9",
            "第九季",
            "13月",
            "0月",
            "in 1900",
            "last 999 days",
            "二十月",
        ] {
            let _ = find_period(t, today);
            let _ = remove(t, &scan(t, today));
        }
        let long = "上個月".repeat(2_000);
        assert!(find_period(&long, today).is_some());
        // Extreme dates at the edge of the calendar.
        let _ = find_period("last year yesterday last week", date(-9999, 1, 1));
        let _ = find_period("next this week this quarter", date(9999, 12, 31));
    }
}
