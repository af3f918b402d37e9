//! Rule-based resolution over one compiled `RegexSet`.
//!
//! Every pattern of the catalog is compiled once into a single `RegexSet`, which says in
//! one pass over the text which patterns match; only those candidates are then run again
//! with captures. The winner is chosen deterministically — priority, then the longer
//! match, then the more slots filled, then catalog order — so the same text always
//! resolves the same way, and [`Resolver::explain`] can show why.
//!
//! Before matching, the text is prepared ([`super::normalize`]) and its period
//! expressions are found and removed ([`super::period`]); periods, leave types and "self"
//! are then filled in by normalizers for intents that declare those slots.

use std::fmt;
use std::sync::Arc;

use jiff::Zoned;
use jiff::civil::Date;
use jiff::tz::TimeZone;
use regex::{Regex, RegexSet, RegexSetBuilder};

use super::catalog::{Expect, REGEX_SIZE_LIMIT, build_regex, slot_of_group};
use super::fold::{Folded, fold};
use super::normalize::normalize;
use super::numbers::parse_count;
use super::period::{self, PeriodMatch};
use super::slots::{
    clean_customer, clean_employee, clean_item, clean_order, clean_place, leave_type_in,
};
use super::{
    Catalog, CatalogError, Intent, IntentDef, Locale, Period, Resolution, SELF_EMPLOYEE, Slots,
    Source,
};

/// Longer messages are not questions this bot answers (pasted documents, logs); refusing
/// them keeps the cost of one message bounded.
const MAX_TEXT_BYTES: usize = 16 * 1024;
const MAX_PREPARED_CHARS: usize = 500;

/// The catalog's patterns, compiled.
#[derive(Debug, Clone)]
pub struct Resolver {
    catalog: Arc<Catalog>,
    tz: TimeZone,
    set: RegexSet,
    rules: Vec<Rule>,
}

#[derive(Debug, Clone)]
struct Rule {
    /// Index into `catalog.intents`.
    def: usize,
    /// Index into that intent's patterns.
    pattern: usize,
    regex: Regex,
}

/// One pattern that matched the prepared text.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    pub rule: String,
    pub intent: Intent,
    pub priority: i32,
    /// Length of the match in characters.
    pub match_len: usize,
    /// Named groups that captured something, as captured.
    pub captures: Vec<(String, String)>,
    /// Number of slots the captures filled (specificity, the third tie-breaker).
    pub filled: usize,
    /// Why the candidate was not usable despite matching, e.g. a pronoun for a person.
    pub rejected: Option<String>,
}

/// Why a text resolved the way it did, for `askerp explain`.
#[derive(Debug, Clone, PartialEq)]
pub struct Explanation {
    /// The message as received.
    pub text: String,
    /// After width folding, mention and punctuation removal.
    pub normalized: String,
    /// Period expressions found, in order; the first one is the period slot.
    pub periods: Vec<(String, &'static str, Period)>,
    /// The text the patterns ran on (periods removed).
    pub matched_text: String,
    /// The date "today" was taken to be, in the company time zone.
    pub today: Date,
    /// The company time zone's name, when it has one.
    pub time_zone: Option<String>,
    /// Every matching pattern, best first.
    pub candidates: Vec<Candidate>,
    /// Why the winner won, or why nothing was understood.
    pub reason: String,
    pub resolution: Resolution,
}

impl fmt::Display for Explanation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "text:        {}", self.text)?;
        writeln!(f, "normalized:  {}", self.normalized)?;
        match &self.time_zone {
            Some(tz) => writeln!(f, "today:       {} ({tz})", self.today)?,
            None => writeln!(f, "today:       {}", self.today)?,
        }
        if self.periods.is_empty() {
            writeln!(f, "periods:     none")?;
        }
        for (i, (text, kind, p)) in self.periods.iter().enumerate() {
            let note = if i == 0 {
                ""
            } else {
                " (ignored: not the first)"
            };
            writeln!(
                f,
                "period:      \"{text}\" = {kind} = {} .. {}{note}",
                p.start, p.end
            )?;
        }
        writeln!(f, "matched on:  {}", self.matched_text)?;
        writeln!(f, "locale:      {}", self.resolution.locale.tag())?;
        if self.candidates.is_empty() {
            writeln!(f, "candidates:  none")?;
        } else {
            writeln!(f, "candidates (best first):")?;
        }
        for c in &self.candidates {
            let caps: Vec<String> = c
                .captures
                .iter()
                .map(|(k, v)| format!("{k}=\"{v}\""))
                .collect();
            write!(
                f,
                "  {} → {} (priority {}, {} chars, {} slot(s))",
                c.rule, c.intent, c.priority, c.match_len, c.filled
            )?;
            if !caps.is_empty() {
                write!(f, " {}", caps.join(" "))?;
            }
            if let Some(why) = &c.rejected {
                write!(f, " REJECTED: {why}")?;
            }
            writeln!(f)?;
        }
        match self.resolution.intent {
            Some(intent) => {
                writeln!(
                    f,
                    "winner:      {} via {}",
                    intent,
                    self.resolution.rule.as_deref().unwrap_or("?")
                )?;
                writeln!(f, "why:         {}", self.reason)?;
                let slots = serde_json::to_string(&self.resolution.slots)
                    .unwrap_or_else(|_| "{}".to_string());
                writeln!(f, "slots:       {slots}")?;
            }
            None => {
                writeln!(f, "winner:      none (not understood)")?;
                writeln!(f, "why:         {}", self.reason)?;
            }
        }
        Ok(())
    }
}

/// One example or counter-example that did not resolve as its file says.
#[derive(Debug, Clone, PartialEq)]
pub struct ExampleFailure {
    pub file: String,
    pub intent: Intent,
    pub text: String,
    pub expected: String,
    pub got: String,
}

impl fmt::Display for ExampleFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} [{}] \"{}\"\n    expected: {}\n    got:      {}",
            self.file, self.intent, self.text, self.expected, self.got
        )
    }
}

/// The outcome of running every example of the catalog.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ExampleReport {
    pub examples: usize,
    pub counter_examples: usize,
    /// Per intent, in catalog order: (intent, examples + counter-examples run, failures).
    pub per_intent: Vec<(Intent, usize, usize)>,
    pub failures: Vec<ExampleFailure>,
}

impl ExampleReport {
    pub fn passed(&self) -> bool {
        self.failures.is_empty()
    }
}

impl fmt::Display for ExampleReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for fail in &self.failures {
            writeln!(f, "FAIL {fail}")?;
        }
        for (intent, run, failed) in &self.per_intent {
            let status = if *failed == 0 { "ok" } else { "FAILED" };
            writeln!(
                f,
                "{:<22} {:>4} run  {:>3} failed  {status}",
                intent.name(),
                run,
                failed
            )?;
        }
        write!(
            f,
            "{} example(s), {} counter-example(s), {} failure(s)",
            self.examples,
            self.counter_examples,
            self.failures.len()
        )
    }
}

impl Resolver {
    /// Compiles the catalog's patterns; `tz` is the company time zone periods are
    /// computed in.
    pub fn new(catalog: Arc<Catalog>, tz: TimeZone) -> Result<Resolver, CatalogError> {
        let mut sources = Vec::new();
        let mut rules = Vec::new();
        let mut problems = Vec::new();
        for (d, def) in catalog.intents.iter().enumerate() {
            for (p, pat) in def.patterns.iter().enumerate() {
                match build_regex(&pat.regex) {
                    Ok(regex) => {
                        sources.push(pat.regex.as_str());
                        rules.push(Rule {
                            def: d,
                            pattern: p,
                            regex,
                        });
                    }
                    Err(e) => problems.push(format!("[{}] {e}", pat.id)),
                }
            }
        }
        if !problems.is_empty() {
            return Err(CatalogError::Compile(problems.join("; ")));
        }
        let set = RegexSetBuilder::new(sources)
            .case_insensitive(true)
            .size_limit(REGEX_SIZE_LIMIT)
            .dfa_size_limit(REGEX_SIZE_LIMIT)
            .build()
            .map_err(|e| CatalogError::Compile(e.to_string()))?;
        Ok(Resolver {
            catalog,
            tz,
            set,
            rules,
        })
    }

    pub fn catalog(&self) -> &Catalog {
        &self.catalog
    }

    /// The company time zone.
    pub fn time_zone(&self) -> &TimeZone {
        &self.tz
    }

    /// Resolves `text` as asked at `now` (converted to the company time zone).
    pub fn resolve(&self, text: &str, now: &Zoned) -> Resolution {
        self.explain(text, now).resolution
    }

    /// Resolves `text` and records every step: what the text became, which patterns
    /// matched with which captures, and why the winner won.
    pub fn explain(&self, text: &str, now: &Zoned) -> Explanation {
        let today = now.with_time_zone(self.tz.clone()).date();
        let mut ex = Explanation {
            text: text.to_string(),
            normalized: String::new(),
            periods: Vec::new(),
            matched_text: String::new(),
            today,
            time_zone: self.tz.iana_name().map(str::to_string),
            candidates: Vec::new(),
            reason: String::new(),
            resolution: Resolution {
                intent: None,
                slots: Slots::default(),
                source: None,
                locale: Locale::En,
                rule: None,
            },
        };
        if text.len() > MAX_TEXT_BYTES {
            let head: String = text.chars().take(256).collect();
            ex.resolution.locale = Locale::detect(&head);
            ex.reason = format!("the message is longer than {MAX_TEXT_BYTES} bytes");
            return ex;
        }
        let normalized = normalize(text);
        if normalized.chars().count() > MAX_PREPARED_CHARS {
            let head: String = normalized.chars().take(256).collect();
            ex.resolution.locale = Locale::detect(&head);
            ex.normalized = normalized;
            ex.reason = format!("the message is longer than {MAX_PREPARED_CHARS} characters");
            return ex;
        }
        let folded = fold(&normalized);
        ex.resolution.locale = super::detect::detect_folded(&normalized, &folded.text);
        let periods = period::scan(&folded.text, today);
        let matched = period::remove(&folded.text, &periods);
        ex.periods = periods
            .iter()
            .map(|m| (m.text.clone(), m.kind, m.period))
            .collect();

        let mut candidates: Vec<(Candidate, usize, Slots)> = Vec::new();
        for idx in self.set.matches(&matched).iter() {
            let Some(rule) = self.rules.get(idx) else {
                continue;
            };
            let prepared = Prepared {
                normalized: &normalized,
                folded: &folded,
                matched: &matched,
                periods: &periods,
            };
            if let Some(c) = self.candidate(rule, &prepared) {
                candidates.push((c.0, idx, c.1));
            }
        }
        // Best first: usable, priority, longer match, more slots, catalog order.
        candidates.sort_by(|(a, ai, _), (b, bi, _)| {
            a.rejected
                .is_some()
                .cmp(&b.rejected.is_some())
                .then(b.priority.cmp(&a.priority))
                .then(b.match_len.cmp(&a.match_len))
                .then(b.filled.cmp(&a.filled))
                .then(ai.cmp(bi))
        });
        let winner = candidates.iter().find(|(c, _, _)| c.rejected.is_none());
        ex.reason = match winner {
            None if matched.is_empty() => "nothing left to match after preparation".to_string(),
            None if candidates.is_empty() => "no pattern matched".to_string(),
            None => "every matching pattern was rejected (see above)".to_string(),
            Some((w, _, slots)) => {
                ex.resolution.intent = Some(w.intent);
                ex.resolution.slots = slots.clone();
                ex.resolution.source = Some(Source::Rule);
                ex.resolution.rule = Some(w.rule.clone());
                why_won(w, candidates.iter().map(|(c, _, _)| c))
            }
        };
        ex.normalized = normalized;
        ex.matched_text = matched;
        ex.candidates = candidates.into_iter().map(|(c, _, _)| c).collect();
        ex
    }

    /// Runs the capturing regex of one candidate rule and turns its captures into slots.
    fn candidate(&self, rule: &Rule, prepared: &Prepared<'_>) -> Option<(Candidate, Slots)> {
        let Prepared {
            normalized,
            folded,
            matched,
            periods,
        } = *prepared;
        let def = self.catalog.intents.get(rule.def)?;
        let pat = def.patterns.get(rule.pattern)?;
        let caps = rule.regex.captures(matched)?;
        let whole = caps.get(0)?;
        let mut c = Candidate {
            rule: pat.id.clone(),
            intent: def.intent,
            priority: pat.priority,
            match_len: whole.as_str().chars().count(),
            captures: Vec::new(),
            filled: 0,
            rejected: None,
        };
        let mut slots = Slots::default();
        for group in rule.regex.capture_names().flatten() {
            let Some(m) = caps.name(group) else { continue };
            let raw = m.as_str();
            if raw.trim().is_empty() {
                continue;
            }
            let slot = slot_of_group(group);
            // Names go back to the script and diacritics the user wrote them in.
            let raw = if NAME_SLOTS.contains(&slot) {
                folded.restore(normalized, raw.trim()).unwrap_or(raw)
            } else {
                raw
            };
            c.captures.push((group.to_string(), raw.to_string()));
            if slots.has(slot) {
                continue;
            }
            if let Err(why) = fill(&mut slots, slot, raw, period_in(periods, m.as_str())) {
                c.rejected = Some(why);
            }
        }
        c.filled = super::catalog::KNOWN_SLOTS
            .iter()
            .filter(|s| slots.has(s))
            .count();
        complete(def, &mut slots, &folded.text, periods);
        Some((c, slots))
    }
}

/// Slots whose value is a name as written (restored from the folded text).
const NAME_SLOTS: [&str; 6] = [
    "item",
    "warehouse",
    "region",
    "store",
    "customer",
    "employee",
];

/// The forms of one message the candidates are built from.
#[derive(Clone, Copy)]
struct Prepared<'a> {
    /// After [`normalize`]: what the user wrote, cleaned.
    normalized: &'a str,
    /// `normalized` in matching form, with the way back.
    folded: &'a Folded,
    /// `folded` without its period expressions: what the patterns run on.
    matched: &'a str,
    periods: &'a [PeriodMatch],
}

/// For a `period` group: the period expression found inside the captured text.
fn period_in(periods: &[PeriodMatch], raw: &str) -> Option<Period> {
    periods
        .iter()
        .find(|m| raw.contains(m.text.as_str()))
        .map(|m| m.period)
}

/// Puts one captured value into its slot, or says why the capture is unusable.
fn fill(slots: &mut Slots, slot: &str, raw: &str, period: Option<Period>) -> Result<(), String> {
    match slot {
        "item" => slots.item = clean_item(raw),
        "warehouse" => slots.warehouse = clean_place(slot, raw),
        "region" => slots.region = clean_place(slot, raw),
        "store" => slots.store = clean_place(slot, raw),
        "customer" => slots.customer = clean_customer(raw),
        "order" => slots.order = clean_order(raw),
        "employee" => slots.employee = clean_employee(raw)?,
        "leave_type" => {
            slots.leave_type =
                Some(leave_type_in(raw).ok_or_else(|| format!("`{raw}` is not a leave type"))?);
        }
        "limit" => {
            let n = parse_count(raw).ok_or_else(|| format!("`{raw}` is not a count"))?;
            if n == 0 {
                return Err("a limit of zero".to_string());
            }
            slots.limit = Some(n);
        }
        "period" => {
            slots.period = Some(period.ok_or_else(|| format!("`{raw}` is not a period"))?);
        }
        _ => {}
    }
    Ok(())
}

/// Fills the slots that come from the whole text rather than from a capture: the period,
/// the leave type, and "self" for a leave question that names nobody. `folded` is the
/// whole message in matching form.
fn complete(def: &IntentDef, slots: &mut Slots, folded: &str, periods: &[PeriodMatch]) {
    if def.has_slot("period") && slots.period.is_none() {
        slots.period = periods.first().map(|m| m.period);
    }
    if def.has_slot("leave_type") && slots.leave_type.is_none() {
        slots.leave_type = leave_type_in(folded);
    }
    if def.has_slot("employee") && slots.employee.is_none() {
        slots.employee = Some(SELF_EMPLOYEE.to_string());
    }
}

/// A sentence saying why `winner` beat the next usable candidate.
fn why_won<'a>(winner: &Candidate, all: impl Iterator<Item = &'a Candidate>) -> String {
    let others: Vec<&Candidate> = all
        .filter(|c| c.rejected.is_none() && c.rule != winner.rule)
        .collect();
    let Some(next) = others.first() else {
        return format!("{} is the only usable matching rule", winner.rule);
    };
    let how = if winner.priority != next.priority {
        format!("higher priority ({} > {})", winner.priority, next.priority)
    } else if winner.match_len != next.match_len {
        format!(
            "same priority, longer match ({} > {} chars)",
            winner.match_len, next.match_len
        )
    } else if winner.filled != next.filled {
        format!(
            "same priority and length, more slots filled ({} > {})",
            winner.filled, next.filled
        )
    } else {
        "a full tie, broken by catalog order".to_string()
    };
    format!(
        "{} beat {} ({}) on {how}",
        winner.rule, next.rule, next.intent
    )
}

impl Resolver {
    /// Runs every example and counter-example of the catalog, each at its own `now`.
    pub fn test_examples(&self) -> ExampleReport {
        let mut report = ExampleReport::default();
        for def in &self.catalog.intents {
            let failures_before = report.failures.len();
            let run = def.examples.len() + def.counter_examples.len();
            for ex in &def.examples {
                report.examples += 1;
                let now = ex.now.to_zoned(self.tz.clone());
                let got = self.resolve(&ex.text, &now);
                if got.intent != Some(def.intent) || got.slots != ex.slots {
                    report.failures.push(ExampleFailure {
                        file: def.file.clone(),
                        intent: def.intent,
                        text: ex.text.clone(),
                        expected: describe(Some(def.intent), &ex.slots),
                        got: format!(
                            "{} (rule {})",
                            describe(got.intent, &got.slots),
                            got.rule.as_deref().unwrap_or("-")
                        ),
                    });
                }
            }
            for ce in &def.counter_examples {
                report.counter_examples += 1;
                let now = ce.now.to_zoned(self.tz.clone());
                let got = self.resolve(&ce.text, &now);
                let (ok, expected) = match ce.expect {
                    Expect::NotThis => (
                        got.intent != Some(def.intent),
                        format!("not {}", def.intent),
                    ),
                    Expect::Nothing => (got.intent.is_none(), "not understood".to_string()),
                    Expect::Intent(i) => (got.intent == Some(i), i.to_string()),
                };
                if !ok {
                    report.failures.push(ExampleFailure {
                        file: def.file.clone(),
                        intent: def.intent,
                        text: ce.text.clone(),
                        expected,
                        got: format!(
                            "{} (rule {})",
                            describe(got.intent, &got.slots),
                            got.rule.as_deref().unwrap_or("-")
                        ),
                    });
                }
            }
            let failed = report.failures.len() - failures_before;
            report.per_intent.push((def.intent, run, failed));
        }
        report
    }
}

fn describe(intent: Option<Intent>, slots: &Slots) -> String {
    let slots = serde_json::to_string(slots).unwrap_or_default();
    match intent {
        Some(i) => format!("{i} {slots}"),
        None => format!("none {slots}"),
    }
}
