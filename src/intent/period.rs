//! Period expressions ("last month", "上個月", "Q3", "3月") to inclusive date ranges.
//!
//! Periods are found by a normalizer over the whole text rather than by every intent
//! pattern: the same few dozen expressions appear in every sales question, in any position,
//! in either language. The resolver also removes the expressions it found from the text
//! before the intent patterns run, so that "sales last month in Kowloon" and "sales in
//! Kowloon" are matched by the same rule and "上個月九龍區營業額" does not leak "上個月"
//! into the region.
//!
//! Conventions, all in the company's calendar (the caller passes "today" in its time zone):
//! weeks run Monday to Sunday; "this month", "this quarter" and "this year" are whole
//! calendar units even when they end in the future; a bare month or quarter ("March",
//! "Q3", "三月") is the most recent one that has started, so in February 2026 "March" is
//! March 2025.

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
    let mut found: Vec<(usize, usize, PeriodMatch)> = Vec::new();
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
            let Some(period) = compute(rule.kind, &caps, today) else {
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
                PeriodMatch {
                    period,
                    kind: rule.kind.name(),
                    text: whole.as_str().to_string(),
                    strip,
                },
            ));
        }
    }
    found.sort_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(&a.1)));
    let mut out = Vec::new();
    let mut taken_until = 0usize;
    for (start, end, m) in found {
        if start >= taken_until {
            taken_until = end;
            out.push(m);
        }
    }
    out
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
    /// Month to month (`m`, `m2`, optional `y`): "from March to May", "3月至5月".
    MonthRange,
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
/// Chinese locatives before, and the possessive after, a period ("喺上個月", "上個月嘅").
const ZH_PRE: &str = "(?:喺|在|於)?";
const ZH_POST: &str = "(?:嘅|的)?";
const YEAR: &str = r"(?:19|20)\d{2}";

fn en(kind: Kind, core: &str) -> (String, Kind, bool) {
    (format!(r"(?-u:\b){EN_PRE}(?:{core})(?-u:\b)"), kind, true)
}

fn zh(kind: Kind, core: &str) -> (String, Kind, bool) {
    (format!("{ZH_PRE}(?:{core}){ZH_POST}"), kind, true)
}

fn keep(kind: Kind, core: &str) -> (String, Kind, bool) {
    (format!(r"(?-u:\b)(?:{core})"), kind, false)
}

fn rule_sources() -> Vec<(String, Kind, bool)> {
    use Kind::*;
    let month_names = "january|february|march|april|may|june|july|august|september|october|\
                       november|december|jan|feb|mar|apr|jun|jul|aug|sept|sep|oct|nov|dec";
    let month_names_ms = "januari|februari|mac|april|mei|jun|julai|ogos|september|oktober|\
                          november|disember|ogo|okt|dis";
    let small_en = "one|two|three|four|five|six|seven|eight|nine|ten|fourteen|thirty|sixty|ninety";
    vec![
        // English.
        en(Today, r"today(?:'s)?|tdy"),
        en(Yesterday, r"yesterday(?:'s)?|yday"),
        en(DayBeforeYesterday, r"day\s+before\s+yesterday"),
        en(ThisWeek, r"(?:this|current)\s+(?:week|wk)(?:'s)?"),
        en(WeekToDate, r"week\s+to\s+date|wtd"),
        en(LastWeek, r"(?:last|previous|prior)\s+(?:week|wk)(?:'s)?"),
        keep(ThisWeek, "weekly"),
        en(ThisMonth, r"(?:this|current)\s+month(?:'s)?"),
        en(MonthToDate, r"month\s+to\s+date|mtd"),
        en(LastMonth, r"(?:last|previous|prior)\s+month(?:'s)?"),
        keep(ThisMonth, "monthly"),
        en(ThisQuarter, r"(?:this|current)\s+(?:quarter|qtr)(?:'s)?"),
        en(QuarterToDate, r"quarter\s+to\s+date|qtd"),
        en(
            LastQuarter,
            r"(?:last|previous|prior)\s+(?:quarter|qtr)(?:'s)?",
        ),
        keep(ThisQuarter, "quarterly"),
        en(ThisYear, r"(?:this|current)\s+year(?:'s)?"),
        en(YearToDate, r"year\s+to\s+date|ytd"),
        en(LastYear, r"(?:last|previous|prior)\s+year(?:'s)?"),
        en(YearBeforeLast, r"year\s+before\s+last"),
        keep(ThisYear, "yearly"),
        en(
            Quarter,
            &format!(r"q(?P<q>[1-4])(?:\s*(?:of\s+)?(?P<y>{YEAR}))?"),
        ),
        en(Quarter, &format!(r"(?P<y>{YEAR})\s*q(?P<q>[1-4])")),
        en(
            Quarter,
            &format!(
                r"(?P<q>first|second|third|fourth|1st|2nd|3rd|4th)\s+quarter(?:\s+(?:of\s+)?(?P<y>{YEAR}))?"
            ),
        ),
        (
            format!(r"(?-u:\b)(?:in|for|during|year)\s+(?P<y>{YEAR})(?-u:\b)"),
            Year,
            true,
        ),
        en(
            LastDays,
            &format!(r"(?:last|past|previous)\s+(?P<n>\d{{1,3}}|{small_en})\s+days"),
        ),
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
        // Chinese (Traditional, with the common Simplified spellings).
        zh(Today, "今日|今天"),
        zh(Yesterday, "琴日|尋日|噚日|寻日|昨日|昨天|琴晚"),
        zh(DayBeforeYesterday, "前日|前天"),
        zh(
            ThisWeek,
            "(?:今|呢|這|这|本)一?(?:個|个)?(?:禮拜|礼拜|星期|週|周)",
        ),
        zh(LastWeek, "上一?(?:個|个)?(?:禮拜|礼拜|星期|週|周)"),
        zh(ThisWeek, "每(?:個|个)?(?:禮拜|礼拜|星期|週|周)"),
        ("週報|周報|周报".to_string(), ThisWeek, false),
        zh(
            LastSevenDays,
            "(?:最近|過去|过去|近)一?(?:個|个)?(?:禮拜|礼拜|星期|週|周)",
        ),
        zh(ThisMonth, "(?:今|呢|這|这|本)一?(?:個|个)?月份?"),
        zh(MonthToDate, "(?:本月|今個月|月初)至今"),
        zh(LastMonth, "上一?(?:個|个)?月份?"),
        zh(ThisMonth, "每(?:個|个)?月"),
        ("月報|月报".to_string(), ThisMonth, false),
        zh(ThisQuarter, "(?:今|呢|這|这|本)一?(?:個|个)?季度?"),
        zh(LastQuarter, "上一?(?:個|个)?季度?"),
        ("季報|季报".to_string(), ThisQuarter, false),
        zh(
            Quarter,
            &format!(r"(?:(?P<y>{YEAR})\s*年\s*)?第\s*(?P<q>[一二三四1-4])\s*季度?"),
        ),
        zh(ThisYear, "今年|本年度?|呢年|今個年度"),
        zh(YearToDate, "(?:今年|年初|本年)至今"),
        zh(
            RelativeMonthOrQuarter,
            r"(?:(?P<ly>去年|舊年|旧年|上年)|(?P<ty>今年|本年))\s*(?:嘅|的)?\s*(?:第\s*(?P<q>[一二三四1-4])\s*季度?|(?P<m>十[一二]|[一二三四五六七八九十]|1[0-2]|0?[1-9])\s*月份?)",
        ),
        zh(LastYear, "去年|舊年|旧年|上年|上一年|上個年度|上个年度"),
        zh(YearBeforeLast, "前年"),
        ("年報|年报".to_string(), ThisYear, false),
        zh(Year, &format!(r"(?P<y>{YEAR})\s*年度?")),
        zh(
            Month,
            &format!(
                r"(?:(?P<y>{YEAR})\s*年\s*)?(?P<m>十[一二]|[一二三四五六七八九十]|1[0-2]|0?[1-9])\s*月份?"
            ),
        ),
        zh(
            LastDays,
            r"(?:最近|過去|过去|近)\s*(?P<n>\d{1,3}|[一二兩两三四五六七八九十百]+)\s*(?:日|天)",
        ),
        // Explicit ranges, in every language: "1/3 至 15/3", "from 1/3 to 15/3",
        // "dari 1/3 hingga 15/3", "tu 1/3 den 15/3"; "from March to May", "3月至5月".
        (
            format!(
                r"(?-u:\b)(?:(?:from|dari|tu|between)\s+)?(?P<d1>[0-3]?\d)/(?P<m1>[01]?\d)(?:/(?P<y0>{YEAR}))?\s*(?:至|到|-|–|~|to|until|till|and|hingga|sehingga|sampai|den)\s*(?P<d2>[0-3]?\d)/(?P<m2x>[01]?\d)(?:/(?P<y>{YEAR}))?(?-u:\b)"
            ),
            DateRange,
            true,
        ),
        (
            format!(
                r"(?-u:\b)(?:(?:from|between|dari)\s+)?(?:the\s+month\s+of\s+)?(?P<m>{month_names}|{month_names_ms})\s+(?:to|until|till|through|and|-|–|hingga|sehingga|sampai)\s+(?P<m2>{month_names}|{month_names_ms})(?:\s*,?\s*(?P<y>{YEAR}))?(?-u:\b)"
            ),
            MonthRange,
            true,
        ),
        (
            format!(
                r"(?-u:\b)(?:tu\s+)?thang\s+(?P<m>1[0-2]|0?[1-9])\s*(?:den|toi|-|–)\s*(?:thang\s+)?(?P<m2>1[0-2]|0?[1-9])(?:\s*(?:/|nam)\s*(?P<y>{YEAR}))?(?-u:\b)"
            ),
            MonthRange,
            true,
        ),
        zh(
            DateRange,
            &format!(
                r"(?:(?P<y0>{YEAR})\s*年\s*)?(?P<m1>1[0-2]|0?[1-9])\s*月\s*(?P<d1>[0-3]?\d)\s*[日号號]\s*(?:至|到|-|–|~)\s*(?:(?P<y>{YEAR})\s*年\s*)?(?:(?P<m2x>1[0-2]|0?[1-9])\s*月\s*)?(?P<d2>[0-3]?\d)\s*[日号號]"
            ),
        ),
        zh(
            MonthRange,
            r"(?:由|從|从)?\s*(?P<m>十[一二]|[一二三四五六七八九十]|1[0-2]|0?[1-9])\s*月份?\s*(?:至|到|-|–|~)\s*(?P<m2>十[一二]|[一二三四五六七八九十]|1[0-2]|0?[1-9])\s*月份?",
        ),
        // Malay (no diacritics to fold).
        keep(ThisWeek, "mingguan"),
        keep(ThisMonth, "bulanan"),
        en(Today, "hari\\s+ini"),
        en(Yesterday, "semalam"),
        en(DayBeforeYesterday, "kelmarin|dua\\s+hari\\s+(?:lepas|lalu)"),
        en(ThisWeek, "minggu\\s+ini"),
        en(LastWeek, "minggu\\s+(?:lepas|lalu|sudah)"),
        en(ThisMonth, "bulan\\s+ini"),
        en(LastMonth, "bulan\\s+(?:lepas|lalu|sudah)"),
        en(ThisQuarter, "suku\\s+(?:tahun\\s+)?ini"),
        en(LastQuarter, "suku\\s+(?:tahun\\s+)?(?:lepas|lalu)"),
        en(
            Quarter,
            &format!(
                r"suku\s+(?:tahun\s+)?(?:ke-?\s*)?(?P<q>pertama|kedua|ketiga|keempat|[1-4])(?:\s+(?:tahun\s+)?(?P<y>{YEAR}))?"
            ),
        ),
        en(
            YearToDate,
            r"(?:sejak|dari)\s+awal\s+tahun(?:\s+(?:hingga|sehingga|sampai)\s+kini)?|tahun\s+ini\s+setakat\s+ini",
        ),
        en(ThisYear, "tahun\\s+ini"),
        en(LastYear, "tahun\\s+(?:lepas|lalu)"),
        (
            format!(
                r"(?-u:\b)(?P<cue>(?:pada|untuk|dalam|bulan)\s+(?:bulan\s+)?)?(?P<m>{month_names_ms})(?:\s+(?P<y>{YEAR}))?(?-u:\b)"
            ),
            Month,
            true,
        ),
        // Vietnamese, matched without diacritics (the text is folded first).
        // "hàng tuần"/"hàng tháng" (weekly/monthly) are not read as periods: "bán hàng
        // tháng này" (sales this month) contains the same words.
        en(Today, "(?:ngay\\s+)?hom\\s+nay"),
        en(Yesterday, "(?:ngay\\s+)?hom\\s+qua"),
        en(DayBeforeYesterday, "(?:ngay\\s+)?hom\\s+kia"),
        en(ThisWeek, "tuan\\s+nay"),
        en(LastWeek, "tuan\\s+(?:truoc|roi)"),
        en(ThisMonth, "thang\\s+nay"),
        en(LastMonth, "thang\\s+(?:truoc|roi)"),
        en(ThisQuarter, "quy\\s+nay"),
        en(LastQuarter, "quy\\s+(?:truoc|roi)"),
        en(
            Quarter,
            &format!(r"quy\s+(?P<q>[1-4]|iv|i{{1,3}})(?:\s*(?:nam\s+|/)?(?P<y>{YEAR}))?"),
        ),
        en(
            YearToDate,
            r"(?:tu|ke\s+tu)\s+dau\s+nam(?:\s+(?:den|toi)\s+nay)?",
        ),
        en(ThisYear, "nam\\s+nay"),
        en(Year, &format!(r"nam\s+(?P<y>{YEAR})")),
        en(LastYear, "nam\\s+(?:ngoai|truoc|roi)"),
        en(
            Month,
            &format!(r"(?P<cue>thang\s+)(?P<m>1[0-2]|0?[1-9])(?:\s*(?:/|nam)\s*(?P<y>{YEAR}))?"),
        ),
    ]
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

fn compute(kind: Kind, caps: &Captures<'_>, today: Date) -> Option<Period> {
    let year_cap = caps.name("y").and_then(|y| y.as_str().parse::<i16>().ok());
    match kind {
        Kind::Today => day(today),
        Kind::Yesterday => day(today.checked_sub(1.day()).ok()?),
        Kind::DayBeforeYesterday => day(today.checked_sub(2.days()).ok()?),
        Kind::ThisWeek => week_of(today),
        Kind::WeekToDate => Some(Period {
            start: week_of(today)?.start,
            end: today,
        }),
        Kind::LastWeek => week_of(today.checked_sub(7.days()).ok()?),
        Kind::ThisMonth => month_of(today),
        Kind::MonthToDate => Some(Period {
            start: today.first_of_month(),
            end: today,
        }),
        Kind::LastMonth => month_of(today.first_of_month().yesterday().ok()?),
        Kind::ThisQuarter => quarter_of(today),
        Kind::QuarterToDate => Some(Period {
            start: quarter_of(today)?.start,
            end: today,
        }),
        Kind::LastQuarter => quarter_of(quarter_of(today)?.start.yesterday().ok()?),
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
            let first_month = (q - 1) * 3 + 1;
            let y = match year_cap {
                Some(y) => y,
                None if first_month <= today.month() => today.year(),
                None => today.year().checked_sub(1)?,
            };
            quarter_of(Date::new(y, first_month, 1).ok()?)
        }
        Kind::RelativeMonthOrQuarter => {
            let y = if caps.name("ly").is_some() {
                today.year().checked_sub(1)?
            } else {
                today.year()
            };
            if let Some(m) = caps.name("m") {
                month_of(Date::new(y, month_number(m.as_str())?, 1).ok()?)
            } else {
                let q = quarter_number(caps.name("q")?.as_str())?;
                quarter_of(Date::new(y, (q - 1) * 3 + 1, 1).ok()?)
            }
        }
        Kind::LastDays => {
            let n = parse_count(caps.name("n")?.as_str())?;
            if n == 0 || n > 3660 {
                return None;
            }
            last_days(today, i64::from(n))
        }
        Kind::LastSevenDays => last_days(today, 7),
        Kind::DateRange => {
            let num = |name: &str| caps.name(name)?.as_str().parse::<i8>().ok();
            let (d1, m1, d2) = (num("d1")?, num("m1")?, num("d2")?);
            // "1日至15日" within one month names the month once.
            let m2 = num("m2x").unwrap_or(m1);
            let start_year = caps.name("y0").and_then(|y| y.as_str().parse::<i16>().ok());
            let (start_y, end_y) = match (start_year, year_cap) {
                (Some(s), Some(e)) => (s, Some(e)),
                (Some(s), None) => (s, None),
                (None, Some(e)) if (m1, d1) <= (m2, d2) => (e, Some(e)),
                (None, Some(e)) => (e.checked_sub(1)?, Some(e)),
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
            let start_y = match year_cap {
                Some(y) if m2 < m1 => y.checked_sub(1)?,
                Some(y) => y,
                None if m1 <= today.month() => today.year(),
                None => today.year().checked_sub(1)?,
            };
            let end_y = if m2 < m1 {
                start_y.checked_add(1)?
            } else {
                start_y
            };
            Some(Period {
                start: Date::new(start_y, m1, 1).ok()?,
                end: Date::new(end_y, m2, 1).ok()?.last_of_month(),
            })
        }
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

/// Monday to Sunday around `d`.
fn week_of(d: Date) -> Option<Period> {
    let offset = i64::from(d.weekday().to_monday_zero_offset());
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

fn quarter_of(d: Date) -> Option<Period> {
    let first_month = (d.month() - 1) / 3 * 3 + 1;
    let start = Date::new(d.year(), first_month, 1).ok()?;
    let end = Date::new(d.year(), first_month + 2, 1)
        .ok()?
        .last_of_month();
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
