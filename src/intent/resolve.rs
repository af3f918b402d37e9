//! Resolution by evidence: entities first, then the intent the evidence points to.
//!
//! 1. The message is prepared ([`super::normalize`], [`super::fold`]) and its Latin words
//!    are put in the lexicon's spelling ([`Lexicon::correct`]).
//! 2. Every entity in the whole message is found with its span: periods
//!    ([`super::period`]), order numbers (the catalog's `[[order_shape]]`s), counts next to
//!    "top", and every phrase of the [`Lexicon`] (cues, closed-class words, places, items,
//!    customers, colleagues, leave types); item mentions the catalog does not spell exactly
//!    are runs of item words; what nothing claimed is left over, and names the vocabulary
//!    does not know (an unknown place after "warehouse", an unknown colleague in a leave
//!    question) are read from it.
//! 3. Each intent scores the weights of its cues found in the message plus the weights of
//!    the entity kinds present (`[intent.evidence]`). The highest score wins when it reaches
//!    [`THRESHOLD`] and beats the runner-up clearly; two close candidates are both returned
//!    so the user can be asked; an action verb makes the message a request the bot does not
//!    serve; a greeting or thanks with nothing else is smalltalk.
//! 4. The winner's slots are filled from the entities.
//!
//! Everything is deterministic and [`Resolver::explain`] shows every cue and entity that
//! counted, with the score of the runner-up.

use std::fmt;
use std::ops::Range;
use std::sync::{Arc, LazyLock, RwLock};

use jiff::Zoned;
use jiff::civil::Date;
use jiff::tz::TimeZone;
use regex::Regex;

use super::catalog::Expect;
use super::fold::fold;
use super::lexicon::{Lexicon, Meaning, Person, designator_kind};
use super::normalize::normalize;
use super::numbers::parse_count;
use super::period::{self, PeriodMatch};
use super::slots::leave_type_in;
use super::{
    BreakdownBy, Catalog, CatalogError, Compare, Intent, Locale, Period, RankBy, RequestKind,
    Resolution, SELF_EMPLOYEE, Slots, Smalltalk, Source,
};
use crate::erp::{PlaceKind, Vocabulary};

/// Longer messages are not questions this bot answers (pasted documents, logs); refusing
/// them keeps the cost of one message bounded.
const MAX_TEXT_BYTES: usize = 16 * 1024;
const MAX_PREPARED_CHARS: usize = 500;

/// The least score an intent needs to be chosen.
pub const THRESHOLD: f32 = 2.0;
/// A runner-up within this much of the winner makes the answer a question ("which one?").
pub const NEAR_TIE: f32 = 0.5;

/// The catalog's cues and the connector's vocabulary, compiled.
#[derive(Debug, Clone)]
pub struct Resolver {
    catalog: Arc<Catalog>,
    tz: TimeZone,
    calendar: period::Calendar,
    lexicon: Arc<RwLock<Arc<Lexicon>>>,
}

/// One entity found in a message.
#[derive(Debug, Clone, PartialEq)]
pub struct Entity {
    /// `item`, `warehouse`, `store`, `region`, `place` (unknown), `customer`, `order`,
    /// `period`, `person`, `leave_type`, `limit`, `rank`.
    pub kind: &'static str,
    /// As the user wrote it.
    pub text: String,
    /// What it is: the canonical value (place code, SKU, order number, dates, …).
    pub value: String,
    /// Byte range in the corrected text.
    pub span: Range<usize>,
}

/// One intent's score, with what made it.
#[derive(Debug, Clone, PartialEq)]
pub struct Score {
    pub intent: Intent,
    pub score: f32,
    /// (cue phrase or `entity:<kind>`, weight)
    pub parts: Vec<(String, f32)>,
}

/// Why a text resolved the way it did, for `askerp explain`.
#[derive(Debug, Clone, PartialEq)]
pub struct Explanation {
    /// The message as received.
    pub text: String,
    /// After width folding, mention and punctuation removal.
    pub normalized: String,
    /// Words corrected for typos (as written → as known).
    pub corrections: Vec<(String, String)>,
    /// Period expressions found, in order; the first one is the period slot.
    pub periods: Vec<(String, &'static str, Period)>,
    /// The text with its period expressions removed (what follow-ups look at).
    pub matched_text: String,
    /// The date "today" was taken to be, in the company time zone.
    pub today: Date,
    pub time_zone: Option<String>,
    pub entities: Vec<Entity>,
    /// Closed-class words found (class, phrase).
    pub words: Vec<(&'static str, String)>,
    /// What nothing claimed.
    pub leftover: Vec<String>,
    /// Every intent with a score, best first.
    pub scores: Vec<Score>,
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
        writeln!(f, "locale:      {}", self.resolution.locale.tag())?;
        for (from, to) in &self.corrections {
            writeln!(f, "typo:        \"{from}\" read as \"{to}\"")?;
        }
        if self.entities.is_empty() {
            writeln!(f, "entities:    none")?;
        } else {
            writeln!(f, "entities:")?;
        }
        for e in &self.entities {
            writeln!(f, "  {:<11} \"{}\" = {}", e.kind, e.text, e.value)?;
        }
        if !self.words.is_empty() {
            let w: Vec<String> = self
                .words
                .iter()
                .map(|(c, p)| format!("{c}:\"{p}\""))
                .collect();
            writeln!(f, "words:       {}", w.join(" "))?;
        }
        if !self.leftover.is_empty() {
            writeln!(f, "left over:   {}", self.leftover.join(" | "))?;
        }
        if self.scores.is_empty() {
            writeln!(
                f,
                "scores:      none (no cue or entity speaks for any intent)"
            )?;
        } else {
            writeln!(f, "scores (best first; {THRESHOLD} needed):")?;
        }
        for s in &self.scores {
            let parts: Vec<String> = s.parts.iter().map(|(p, w)| format!("{p} {w:+}")).collect();
            writeln!(
                f,
                "  {:<20} {:>5.1}  {}",
                s.intent.name(),
                s.score,
                parts.join(", ")
            )?;
        }
        match self.resolution.intent {
            Some(intent) => {
                writeln!(f, "winner:      {intent}")?;
                let slots = serde_json::to_string(&self.resolution.slots)
                    .unwrap_or_else(|_| "{}".to_string());
                writeln!(f, "slots:       {slots}")?;
            }
            None => writeln!(f, "winner:      none")?,
        }
        if let Some(runner) = self.scores.get(1) {
            writeln!(f, "runner-up:   {} ({:.1})", runner.intent, runner.score)?;
        }
        writeln!(f, "why:         {}", self.reason)?;
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

/// A short word written with Vietnamese diacritics that folds into another language's
/// word: "sếp" (boss) is not "sep" (September), "liệu" (data) is not "lieu" (time off in
/// lieu). Folding lets "thang truoc" match "tháng trước"; it must not let a Vietnamese
/// word match an English or Malay abbreviation.
fn diacritic_lookalike(written: &str) -> bool {
    let word = written.trim();
    !word.contains(char::is_whitespace)
        && word.chars().count() <= 5
        && word
            .chars()
            .any(|c| c.is_alphabetic() && !c.is_ascii() && !super::is_han(c))
}

/// Counts next to a "top" word: "top 5", "5 best", "前五", "頭5位", "5大", "10 mặt hàng".
static LIMIT: LazyLock<Option<Regex>> = LazyLock::new(|| {
    let num = r"(\d{1,4}|[零〇一二两三四五六七八九十百]{1,4}|one|two|three|four|five|six|seven|eight|nine|ten|twelve|fifteen|twenty|thirty|fifty|hundred|satu|dua|tiga|empat|lima|enam|tujuh|lapan|sembilan|sepuluh|muoi)";
    let before =
        r"(?:top|best|first|teratas|top-|前|头|首|最好卖的|最好卖嘅|卖得最好的|卖得最好嘅)";
    let after = r"(?:大|个最|个商品|個商品|个产品|個產品|个货品|個貨品|樣|样|款|种|種|件|位|名|項|项|items?|products?|skus?|best|top|bestsellers?|best-sellers?|barang|produk|item|mat hang|san pham|sp|mon)";
    Regex::new(&format!(r"(?i)(?:{before}\s*{num})|(?:{num}\s*{after})")).ok()
});

impl Resolver {
    /// Compiles the catalog's cues; `tz` is the company time zone periods are computed in.
    /// The vocabulary starts empty (places, items, … are then what is left over) until
    /// [`Resolver::set_vocabulary`] gives the connector's.
    pub fn new(catalog: Arc<Catalog>, tz: TimeZone) -> Result<Resolver, CatalogError> {
        let lexicon = Lexicon::new(&catalog, Vocabulary::default(), Vec::new());
        Ok(Resolver {
            catalog,
            tz,
            calendar: period::Calendar::default(),
            lexicon: Arc::new(RwLock::new(Arc::new(lexicon))),
        })
    }

    /// The same resolver computing periods in the company calendar `calendar` (week
    /// start, fiscal year start).
    pub fn with_calendar(mut self, calendar: period::Calendar) -> Resolver {
        self.calendar = calendar;
        self
    }

    /// The company calendar periods are computed in.
    pub fn calendar(&self) -> &period::Calendar {
        &self.calendar
    }

    /// Replaces the names the resolver knows: the connector's places, items, customers and
    /// staff, and the directory's people.
    pub fn set_vocabulary(&self, vocab: Vocabulary, people: Vec<Person>) {
        let lexicon = Arc::new(Lexicon::new(&self.catalog, vocab, people));
        if let Ok(mut guard) = self.lexicon.write() {
            *guard = lexicon;
        }
    }

    /// The lexicon in use.
    pub fn lexicon(&self) -> Arc<Lexicon> {
        match self.lexicon.read() {
            Ok(g) => Arc::clone(&g),
            Err(poisoned) => Arc::clone(&poisoned.into_inner()),
        }
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

    /// Resolves `text` and records every step.
    pub fn explain(&self, text: &str, now: &Zoned) -> Explanation {
        let today = now.with_time_zone(self.tz.clone()).date();
        let mut ex = Explanation {
            text: text.to_string(),
            normalized: String::new(),
            corrections: Vec::new(),
            periods: Vec::new(),
            matched_text: String::new(),
            today,
            time_zone: self.tz.iana_name().map(str::to_string),
            entities: Vec::new(),
            words: Vec::new(),
            leftover: Vec::new(),
            scores: Vec::new(),
            reason: String::new(),
            resolution: Resolution::none(Locale::En),
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
        let lower = folded.text.to_ascii_lowercase();
        let lexicon = self.lexicon();
        let corrected = lexicon.correct(&lower);
        ex.corrections = corrected
            .pieces
            .iter()
            .map(|p| (lower[p.original.clone()].to_string(), p.word.clone()))
            .collect();
        let ct = corrected.text.as_str();
        let as_written = |r: &Range<usize>| -> String {
            let back = corrected.back_range(r);
            folded
                .restore_range(&normalized, back.clone())
                .or_else(|| lower.get(back))
                .unwrap_or_default()
                .to_string()
        };

        // "vs last year", "同比", "比去年同期": a comparison, whose "last year" is not the
        // period asked about; it owns its words before the periods are read.
        let compare_spans = phrase_spans(ct, self.catalog.words("last_year"));
        // Periods first: they own their words ("1 Nov to 15 Nov" is not a place).
        let mut periods = period::scan_in(ct, today, self.calendar);
        // "by month", "每月", "theo tháng": a breakdown, not this month; the lexicon reads
        // the words below (they are in no period's span then).
        let breakdown_spans: Vec<Range<usize>> = BreakdownBy::ALL
            .iter()
            .flat_map(|b| phrase_spans(ct, self.catalog.words(b.word_class())))
            .collect();
        periods.retain(|m| {
            let span = period_span(ct, m);
            // A named month only for the lookalike: "tháng" alone is Vietnamese for monthly.
            let lookalike = m.kind == "month" && diacritic_lookalike(&as_written(&span));
            !overlaps(&compare_spans, &span) && !overlaps(&breakdown_spans, &span) && !lookalike
        });
        // "vs last month", "同上季比", "so với tuần trước": a period right after a comparison
        // word is what the figure is compared with. The card always compares with the period
        // just before, so such a period is dropped; one that is not just before is named
        // on the card as not honoured.
        let compare_words = phrase_spans(ct, self.catalog.words("compare_to"));
        let mut compared_with: Vec<Period> = Vec::new();
        let mut entities_pre: Vec<Entity> = Vec::new();
        if !periods.is_empty() && !compare_words.is_empty() {
            let is_compared = |m: &PeriodMatch| {
                let span = period_span(ct, m);
                compare_words.iter().any(|w| {
                    w.end <= span.start
                        && ct
                            .get(w.end..span.start)
                            .is_some_and(|gap| gap.trim().is_empty())
                })
            };
            let (compared, asked): (Vec<PeriodMatch>, Vec<PeriodMatch>) =
                periods.into_iter().partition(is_compared);
            compared_with = compared.iter().map(|m| m.period).collect();
            periods = if asked.is_empty() && !compared.is_empty() {
                // Only a compared period is explicit: the period asked about may be a
                // frequency word ("quarterly report 同上季比").
                let frequency = period::scan_frequency(ct, today, self.calendar);
                if frequency.is_empty() {
                    compared
                } else {
                    frequency
                }
            } else {
                asked
            };
            if periods.first().map(|m| m.period) == compared_with.first().copied() {
                compared_with.clear();
            }
        }
        let asked_period = periods.first().map(|m| m.period);
        let mut compare_other = false;
        for c in &compared_with {
            let Some(asked) = asked_period else { break };
            let just_before = c.end.tomorrow().ok() == Some(asked.start);
            if *c == super::frame::year_before(asked) && compare_spans.is_empty() {
                entities_pre.push(Entity {
                    kind: "compare",
                    text: String::new(),
                    value: "last_year".to_string(),
                    span: 0..0,
                });
            } else if !just_before {
                compare_other = true;
            }
        }
        ex.matched_text = period::remove(ct, &periods);
        let mut taken: Vec<Range<usize>> = compare_spans.clone();
        let mut entities: Vec<Entity> = entities_pre;
        if let Some(span) = compare_spans.first() {
            entities.push(Entity {
                kind: "compare",
                text: as_written(span),
                value: "last_year".to_string(),
                span: span.clone(),
            });
        }
        for m in &periods {
            let span = period_span(ct, m);
            entities.push(Entity {
                kind: "period",
                text: as_written(&span),
                value: format!("{}..{}", m.period.start, m.period.end),
                span: span.clone(),
            });
            if !m.strip.is_empty() {
                taken.push(m.strip.clone());
            }
        }
        ex.periods = periods
            .iter()
            .map(|m| (m.text.clone(), m.kind, m.period))
            .collect();

        // Order numbers, in the shapes the ERP uses.
        for shape in &self.catalog.order_shapes {
            for caps in shape.regex.captures_iter(ct) {
                let Some(whole) = caps.get(0) else { continue };
                let span = whole.start()..whole.end();
                if overlaps(&taken, &span) {
                    continue;
                }
                let value = match &shape.canonical {
                    Some(template) => {
                        let mut out = String::new();
                        caps.expand(template, &mut out);
                        out.to_uppercase()
                    }
                    None => caps
                        .get(1)
                        .map_or(whole.as_str(), |g| g.as_str())
                        .to_uppercase(),
                };
                taken.push(span.clone());
                entities.push(Entity {
                    kind: "order",
                    text: as_written(&span),
                    value,
                    span,
                });
            }
        }

        // Every phrase of the lexicon.
        let found = lexicon.find(ct, &taken);
        // A short Malay or Vietnamese message can look English to the detector; words that
        // only those languages use decide.
        if ex.resolution.locale == Locale::En {
            let (mut ms, mut vi) = (0, 0);
            for f in &found {
                match lexicon.phrase_locale.get(&f.phrase) {
                    Some(Locale::Ms) => ms += 1,
                    Some(Locale::Vi) => vi += 1,
                    _ => {}
                }
            }
            if ms > vi {
                ex.resolution.locale = Locale::Ms;
            } else if vi > ms {
                ex.resolution.locale = Locale::Vi;
            }
        }
        for f in &found {
            taken.push(f.span.clone());
        }
        // Counts next to "top": found on the corrected text, outside other entities.
        if let Some(re) = LIMIT.as_ref() {
            // Matches may overlap: in "Q3 top 3", "3 top" is rejected (the 3 is the
            // quarter's) and "top 3" is tried after it.
            let mut at = 0;
            while let Some(caps) = re.captures_at(ct, at) {
                let Some(g) = caps.get(1).or_else(|| caps.get(2)) else {
                    break;
                };
                let Some(whole) = caps.get(0) else { break };
                let span = g.start()..g.end();
                at = g.end().max(at + 1);
                while at < ct.len() && !ct.is_char_boundary(at) {
                    at += 1;
                }
                if at > ct.len() {
                    break;
                }
                if overlaps_any(&entities, &span) {
                    continue;
                }
                if let Some(n) = parse_count(g.as_str()).filter(|n| *n > 0) {
                    entities.push(Entity {
                        kind: "limit",
                        text: g.as_str().to_string(),
                        value: n.to_string(),
                        span: whole.start()..whole.end(),
                    });
                    taken.push(span);
                    break;
                }
            }
        }

        let mut words: Vec<(&'static str, String, Range<usize>)> = Vec::new();
        let mut cues: Vec<(Intent, f32, String)> = Vec::new();
        for f in &found {
            for m in &f.meanings {
                match m {
                    Meaning::Cue { intent, weight } => {
                        cues.push((*intent, *weight, f.phrase.clone()));
                    }
                    // "WH-1000XM5": a designator glued to a model number is part of it.
                    Meaning::Word(class)
                        if designator_kind(class).is_some() && glued_to_code(ct, &f.span) => {}
                    Meaning::Word(class) => {
                        words.push((class, f.phrase.clone(), f.span.clone()));
                    }
                    Meaning::Place(i) => {
                        if let Some(p) = lexicon.vocab.places.places.get(*i) {
                            let kind = match p.kind {
                                PlaceKind::Warehouse => "warehouse",
                                PlaceKind::Store => "store",
                                PlaceKind::Region => "region",
                            };
                            if !entities.iter().any(|e| e.span == f.span && e.kind == kind) {
                                entities.push(Entity {
                                    kind,
                                    text: as_written(&f.span),
                                    value: p.code.clone(),
                                    span: f.span.clone(),
                                });
                            }
                        }
                    }
                    Meaning::Item(i) => {
                        if let Some((item, _)) = lexicon.vocab.items.get(*i)
                            && !entities
                                .iter()
                                .any(|e| e.span == f.span && e.kind == "item")
                        {
                            entities.push(Entity {
                                kind: "item",
                                text: as_written(&f.span),
                                value: item.sku.clone(),
                                span: f.span.clone(),
                            });
                        }
                    }
                    Meaning::Customer(i) => {
                        if let Some(c) = lexicon.vocab.customers.get(*i)
                            && !entities
                                .iter()
                                .any(|e| e.span == f.span && e.kind == "customer")
                        {
                            entities.push(Entity {
                                kind: "customer",
                                text: as_written(&f.span),
                                value: c.clone(),
                                span: f.span.clone(),
                            });
                        }
                    }
                    Meaning::Person(i) => {
                        if let Some(p) = lexicon.people.get(*i)
                            && !entities
                                .iter()
                                .any(|e| e.span == f.span && e.kind == "person")
                        {
                            entities.push(Entity {
                                kind: "person",
                                text: as_written(&f.span),
                                value: p.id.clone(),
                                span: f.span.clone(),
                            });
                        }
                    }
                    Meaning::ItemText => {
                        if !entities
                            .iter()
                            .any(|e| e.span == f.span && e.kind == "item")
                        {
                            entities.push(Entity {
                                kind: "item",
                                text: as_written(&f.span),
                                value: String::new(),
                                span: f.span.clone(),
                            });
                        }
                    }
                    Meaning::LeaveType(t) => {
                        let foreign = lexicon.phrase_locale.get(&f.phrase) != Some(&Locale::Vi)
                            && diacritic_lookalike(&as_written(&f.span));
                        if !foreign && !entities.iter().any(|e| e.kind == "leave_type") {
                            entities.push(Entity {
                                kind: "leave_type",
                                text: as_written(&f.span),
                                value: t.name().to_string(),
                                span: f.span.clone(),
                            });
                        }
                    }
                }
            }
        }
        for (class, _, span) in &words {
            if let Some(by) = BreakdownBy::ALL.iter().find(|b| b.word_class() == *class)
                && !entities.iter().any(|e| e.kind == "breakdown")
            {
                entities.push(Entity {
                    kind: "breakdown",
                    text: as_written(span),
                    value: by.name().to_string(),
                    span: span.clone(),
                });
            }
        }
        for (class, _, span) in &words {
            let value = match *class {
                "quantity" => "quantity",
                "revenue" => "revenue",
                _ => continue,
            };
            if !entities.iter().any(|e| e.kind == "rank") {
                entities.push(Entity {
                    kind: "rank",
                    text: as_written(span),
                    value: value.to_string(),
                    span: span.clone(),
                });
            }
        }

        // What nothing claimed.
        let leftover = leftover_pieces(ct, &taken);
        // Places the vocabulary does not know, by their designator ("Tuen Mun warehouse",
        // "深圳倉", "kho Thâm Quyến"); and known places named with another kind's designator.
        for (class, _, span) in &words {
            let Some(kind) = designator_kind(class) else {
                continue;
            };
            let kind_name = match kind {
                PlaceKind::Warehouse => "warehouse",
                PlaceKind::Store => "store",
                PlaceKind::Region => "region",
            };
            // A known place right before the designator.
            if let Some(e) = entities.iter_mut().find(|e| {
                matches!(e.kind, "warehouse" | "store" | "region")
                    && ct
                        .get(e.span.end..span.start)
                        .is_some_and(|g| g.trim().is_empty())
            }) {
                if e.kind != kind_name && !(kind_name == "region" && e.kind == "store") {
                    e.kind = kind_name;
                    e.value = String::new();
                }
                continue;
            }
            // A known place right after ("kho Kwun Tong").
            if entities.iter().any(|e| {
                matches!(e.kind, "warehouse" | "store" | "region")
                    && ct
                        .get(span.end..e.span.start)
                        .is_some_and(|g| g.trim().is_empty())
            }) {
                continue;
            }
            if let Some(mut piece) = adjacent_leftover(ct, &leftover, span) {
                // A capitalised word next to the name belongs to it even when it is also a
                // small word of some language ("Tai Po store": tại; "Chai Wan godown":
                // chai; "kedai Tseung Kwan O": ở).
                let capital = |r: &Range<usize>| {
                    as_written(r)
                        .chars()
                        .next()
                        .is_some_and(|c| c.is_ascii_uppercase())
                };
                loop {
                    let next = words.iter().find(|(class, _, w)| {
                        matches!(*class, "filler" | "preposition")
                            && capital(w)
                            && ((w.end < piece.start
                                && ct.get(w.end..piece.start) == Some(" ")
                                && w.end + 1 == piece.start
                                && *w != *span)
                                || (piece.end < w.start && ct.get(piece.end..w.start) == Some(" ")))
                            && !overlaps(std::slice::from_ref(span), w)
                    });
                    match next {
                        Some((_, _, w)) => {
                            piece = piece.start.min(w.start)..piece.end.max(w.end);
                        }
                        None => break,
                    }
                }
                let cleaned = clean_name(&as_written(&piece));
                // "各倉", "all warehouses", "semua gudang": every place of the kind, which
                // is what no place slot means.
                if !cleaned.is_empty() && !is_every(&cleaned) {
                    entities.push(Entity {
                        kind: kind_name,
                        text: cleaned,
                        value: String::new(),
                        span: piece,
                    });
                }
            }
        }
        // Item mentions by their words, in what the places left.
        if lexicon.knows_items() {
            let mut claimed = taken.clone();
            claimed.extend(entities.iter().map(|e| e.span.clone()));
            for s in lexicon.item_spans(ct, &claimed) {
                taken.push(s.clone());
                entities.push(Entity {
                    kind: "item",
                    text: as_written(&s),
                    value: String::new(),
                    span: s,
                });
            }
        }
        entities.sort_by_key(|e| e.span.start);
        // "A4影印紙", "USB-C 火牛": an item word in the other script right next to an item
        // mention belongs to it.
        let claimed: Vec<Range<usize>> = taken
            .iter()
            .cloned()
            .chain(entities.iter().map(|e| e.span.clone()))
            .collect();
        let bounds = super::lexicon::ascii_word_bounds(ct);
        for e in entities.iter_mut().filter(|e| e.kind == "item") {
            let starts_han = ct[e.span.clone()].chars().next().is_some_and(super::is_han);
            let ends_han = ct[e.span.clone()]
                .chars()
                .next_back()
                .is_some_and(super::is_han);
            if let Some(&(s, _)) = bounds.iter().rev().find(|(s, end)| {
                starts_han
                    && *end <= e.span.start
                    && ct
                        .get(*end..e.span.start)
                        .is_some_and(|g| g.chars().all(|c| c == ' ' || c == '-'))
                    && lexicon.is_item_word(&ct[*s..*end])
                    && !claimed
                        .iter()
                        .any(|r| r.start < *end && *s < r.end && *r != e.span)
            }) {
                e.span.start = s;
                e.text = as_written(&e.span);
            }
            if let Some(&(_, end)) = bounds.iter().find(|(s, end)| {
                ends_han
                    && *s >= e.span.end
                    && ct
                        .get(e.span.end..*s)
                        .is_some_and(|g| g.chars().all(|c| c == ' ' || c == '-'))
                    && lexicon.is_item_word(&ct[*s..*end])
                    && !claimed
                        .iter()
                        .any(|r| r.start < *end && *s < r.end && *r != e.span)
            }) {
                e.span.end = end;
                e.text = as_written(&e.span);
            }
        }
        for e in &entities {
            if !taken.contains(&e.span) {
                taken.push(e.span.clone());
            }
        }
        let leftover = leftover_pieces(ct, &taken);
        // Item mentions take the unknown sizes and model numbers next to them ("Jasmine
        // Rice 5kg", "pixel 8 256"), not the other words ("customer tanya AirPods Pro": the
        // matcher needs every word of the mention in a name, so a stray word loses the item).
        for e in entities
            .iter_mut()
            .filter(|e| e.kind == "item" && e.value.is_empty())
        {
            for l in leftover
                .iter()
                .filter(|l| ct[(*l).clone()].bytes().any(|b| b.is_ascii_digit()))
            {
                let gap_after = ct
                    .get(e.span.end..l.start)
                    .is_some_and(|g| g.chars().all(|c| c == ' '));
                let gap_before = ct
                    .get(l.end..e.span.start)
                    .is_some_and(|g| g.chars().all(|c| c == ' '));
                let han = |r: &Range<usize>| ct[r.clone()].chars().any(super::is_han);
                let same_script = han(l) == han(&e.span);
                if gap_before && same_script {
                    e.span.start = l.start;
                } else if gap_after && same_script {
                    e.span.end = l.end;
                }
            }
            e.text = as_written(&e.span);
        }
        // Two item mentions side by side are one item named in parts ("李錦記蠔油",
        // "熊仔餅 士多啤梨", "M300 滑鼠"): the matcher gets them together.
        let mut merged: Vec<Entity> = Vec::with_capacity(entities.len());
        for e in std::mem::take(&mut entities) {
            if let Some(prev) = merged.last_mut()
                && prev.kind == "item"
                && e.kind == "item"
                && prev.span.end <= e.span.start
                && ct
                    .get(prev.span.end..e.span.start)
                    .is_some_and(|g| g.chars().all(|c| c == ' ' || c == '-'))
            {
                prev.span.end = e.span.end;
                prev.text = as_written(&prev.span);
                prev.value = String::new();
                continue;
            }
            merged.push(e);
        }
        entities = merged;
        let item_now: Vec<Range<usize>> = entities
            .iter()
            .filter(|e| e.kind == "item")
            .map(|e| e.span.clone())
            .collect();
        let leftover: Vec<Range<usize>> = leftover
            .into_iter()
            .filter(|l| !overlaps(&item_now, l))
            .collect();
        // Where a name the vocabulary does not know ends: at the next known phrase.
        let stops: Vec<Range<usize>> = found
            .iter()
            .filter(|f| {
                !f.meanings
                    .iter()
                    .all(|m| matches!(m, Meaning::Item(_) | Meaning::ItemText))
            })
            .map(|f| f.span.clone())
            .chain(
                entities
                    .iter()
                    .filter(|e| e.kind != "item")
                    .map(|e| e.span.clone()),
            )
            .collect();

        // Score.
        let has_action = words.iter().any(|(c, _, _)| *c == "action");
        let unsupported_words = words.iter().filter(|(c, _, _)| *c == "unsupported").count();
        let mut scores: Vec<Score> = Vec::new();
        for def in &self.catalog.intents {
            let mut parts: Vec<(String, f32)> = Vec::new();
            let mut seen_phrases: Vec<&str> = Vec::new();
            for (intent, weight, phrase) in &cues {
                if *intent == def.intent && !seen_phrases.contains(&phrase.as_str()) {
                    seen_phrases.push(phrase);
                    parts.push((format!("\"{phrase}\""), *weight));
                }
            }
            let mut kinds: Vec<&str> = entities.iter().map(|e| e.kind).collect();
            kinds.sort_unstable();
            kinds.dedup();
            for k in kinds {
                let k_ev = if matches!(k, "warehouse" | "store" | "region")
                    && entities.iter().all(|e| e.kind != k || e.value.is_empty())
                {
                    "place"
                } else {
                    k
                };
                if let Some(w) = def.evidence.get(k_ev) {
                    parts.push((format!("entity:{k}"), *w));
                }
            }
            if unsupported_words > 0 {
                parts.push(("out of scope".to_string(), -4.0));
            }
            let score: f32 = parts.iter().map(|(_, w)| w).sum();
            if !parts.is_empty() {
                scores.push(Score {
                    intent: def.intent,
                    score,
                    parts,
                });
            }
        }
        scores.sort_by(|a, b| {
            b.score
                .partial_cmp(&a.score)
                .unwrap_or(std::cmp::Ordering::Equal)
        });

        let resolution = &mut ex.resolution;
        let best = scores.first().filter(|s| s.score >= THRESHOLD);
        let greeting = words.iter().any(|(c, _, _)| *c == "greeting");
        let thanks = words.iter().any(|(c, _, _)| *c == "thanks");
        let substantive = leftover
            .iter()
            .any(|r| ct[r.clone()].chars().any(char::is_alphanumeric));
        if has_action {
            resolution.request = Some(RequestKind::Action);
            ex.reason = "an action verb: askerp only reads the ERP".to_string();
        } else if let Some(best) = best {
            let runner = scores.get(1).filter(|s| s.score >= THRESHOLD);
            if let Some(r) = runner.filter(|r| best.score - r.score < NEAR_TIE) {
                resolution.candidates = vec![best.intent, r.intent];
                ex.reason = format!(
                    "{} ({:.1}) and {} ({:.1}) are too close to choose: ask",
                    best.intent, best.score, r.intent, r.score
                );
            } else {
                ex.reason = match runner.or(scores.get(1)) {
                    Some(r) => format!(
                        "{} scored {:.1}, runner-up {} {:.1}",
                        best.intent, best.score, r.intent, r.score
                    ),
                    None => format!("{} scored {:.1}, no other intent", best.intent, best.score),
                };
                resolution.intent = Some(best.intent);
                resolution.source = Some(Source::Rule);
                let top: Vec<String> = best
                    .parts
                    .iter()
                    .map(|(p, w)| format!("{p}{w:+}"))
                    .collect();
                resolution.rule = Some(format!("evidence: {}", top.join(" ")));
            }
        } else if (greeting || thanks) && !substantive && entities.is_empty() {
            resolution.smalltalk = Some(if thanks && !greeting {
                Smalltalk::Thanks
            } else {
                Smalltalk::Greeting
            });
            ex.reason = "a greeting or thanks on its own".to_string();
        } else {
            ex.reason = match scores.first() {
                Some(s) => format!(
                    "the best intent, {}, scored {:.1}, below {THRESHOLD}",
                    s.intent, s.score
                ),
                None => "no cue or entity speaks for any intent".to_string(),
            };
        }
        if let Some(intent) = resolution.intent {
            let lead_words: Vec<(&'static str, Range<usize>)> =
                words.iter().map(|(c, _, r)| (*c, r.clone())).collect();
            resolution.slots = self.fill(
                intent,
                &entities,
                &lead_words,
                ct,
                &leftover,
                &as_written,
                &stops,
                &normalized,
            );
            // "每月銷售額", "sales by day": a breakdown in time without a period covers the
            // unit above it (this year by month, this quarter by week, this month by day),
            // never a single row.
            if resolution.slots.period.is_none()
                && let Some(by) = resolution.slots.breakdown.filter(|b| b.is_time())
            {
                resolution.slots.period = default_breakdown_period(by, today, self.calendar);
            }
            resolution.unsupported = unsupported_parts(&entities);
            if compare_other {
                resolution.unsupported.push("compare_period".to_string());
            }
        }
        ex.words = words.iter().map(|(c, p, _)| (*c, p.clone())).collect();
        ex.leftover = leftover
            .iter()
            .map(|r| ct[r.clone()].trim().to_string())
            .filter(|s| !s.is_empty())
            .collect();
        ex.entities = entities;
        ex.scores = scores;
        ex.normalized = normalized;
        ex
    }

    /// Fills the winner's slots from the entities.
    #[allow(clippy::too_many_arguments)]
    fn fill(
        &self,
        intent: Intent,
        entities: &[Entity],
        words: &[(&'static str, Range<usize>)],
        ct: &str,
        leftover: &[Range<usize>],
        as_written: &dyn Fn(&Range<usize>) -> String,
        stops: &[Range<usize>],
        normalized: &str,
    ) -> Slots {
        let mut slots = Slots::default();
        let Some(def) = self.catalog.def(intent) else {
            return slots;
        };
        let first = |kind: &str| entities.iter().find(|e| e.kind == kind);
        let place = entities
            .iter()
            .find(|e| matches!(e.kind, "warehouse" | "store" | "region"));
        if def.has_slot("item") {
            // An item the catalog names exactly beats words that only occur in item names;
            // otherwise the longest mention.
            let best_item = entities
                .iter()
                .filter(|e| e.kind == "item")
                .max_by_key(|e| (!e.value.is_empty(), e.span.len()));
            slots.item = best_item
                .map(|e| clean_name(&e.text))
                .or_else(|| {
                    // Names the catalog does not know: what is left of the message.
                    longest_leftover(ct, leftover).map(|r| clean_name(&as_written(&r)))
                })
                .filter(|s| !s.is_empty());
        }
        // A place found through a typo ("Causway Bay", "觀唐倉") is sent on by its name, so
        // the connector finds what the resolver found.
        let lexicon = self.lexicon();
        let place_text = |e: &Entity| {
            let text = clean_name(&e.text);
            let kind = match e.kind {
                "warehouse" => PlaceKind::Warehouse,
                "region" => PlaceKind::Region,
                _ => PlaceKind::Store,
            };
            if e.value.is_empty() || lexicon.vocab.places.find(kind, &text).is_some() {
                return text;
            }
            match lexicon
                .vocab
                .places
                .places
                .iter()
                .find(|p| p.code == e.value && p.kind == kind)
            {
                Some(p) if text.chars().any(super::is_han) => p.name_zh.clone(),
                Some(p) => p.name_en.clone(),
                None => text,
            }
        };
        if def.has_slot("warehouse") {
            slots.warehouse = place.map(place_text);
        }
        if (def.has_slot("store") || def.has_slot("region"))
            && let Some(p) = place
        {
            let text = place_text(p);
            match p.kind {
                "region" => slots.region = Some(text),
                _ => slots.store = Some(text),
            }
        }
        if def.has_slot("customer") {
            slots.customer = first("customer").map(|e| e.text.clone()).or_else(|| {
                // "sales to ABC Trading": the words after a customer marker, up to the next
                // known phrase.
                words
                    .iter()
                    .filter(|(c, _)| *c == "customer")
                    .find_map(|(_, r)| {
                        let end = stops
                            .iter()
                            .filter(|s| s.start >= r.end)
                            .map(|s| s.start)
                            .min()
                            .unwrap_or(ct.len());
                        let span = r.end..end;
                        let name = clean_name(&as_written(&span));
                        (name.chars().filter(|c| c.is_alphanumeric()).count() >= 2).then_some(name)
                    })
            });
        }
        if def.has_slot("customer") && slots.customer.is_none() {
            // "金龍貿易有限公司上個月營業額", "how much did Golden Dragon Trading buy": a
            // left-over name that ends like a company.
            const COMPANY: &[&str] = &[
                "有限公司",
                "公司",
                "贸易",
                "集团",
                "商行",
                "trading",
                "ltd",
                "limited",
                "co",
                "company",
                "group",
                "holdings",
                "enterprise",
                "enterprises",
                "bhd",
                "sdn bhd",
            ];
            slots.customer = leftover
                .iter()
                .map(as_written)
                .find(|t| {
                    let m = super::catalog::matching_form(t);
                    m.chars().filter(|c| c.is_alphanumeric()).count() >= 3
                        && COMPANY.iter().any(|c| m.ends_with(c))
                })
                .map(|t| clean_name(&t));
        }
        if def.has_slot("order") {
            slots.order = first("order").map(|e| e.value.clone());
        }
        if def.has_slot("period") {
            slots.period = first("period").and_then(|e| parse_period_value(&e.value));
        }
        if def.has_slot("limit") {
            slots.limit = first("limit").and_then(|e| e.value.parse().ok());
        }
        if def.has_slot("rank_by") {
            slots.rank_by = first("rank").map(|e| {
                if e.value == "quantity" {
                    RankBy::Quantity
                } else {
                    RankBy::Revenue
                }
            });
        }
        if def.has_slot("compare") {
            slots.compare = first("compare").map(|_| Compare::LastYear);
        }
        if def.has_slot("breakdown") {
            slots.breakdown = first("breakdown").and_then(|e| BreakdownBy::from_name(&e.value));
        }
        if def.has_slot("leave_type") {
            slots.leave_type = first("leave_type")
                .and_then(|e| super::LeaveType::from_name(&e.value))
                .or_else(|| leave_type_in(normalized))
                .or_else(|| leave_type_in(ct));
        }
        if def.has_slot("employee") {
            let is_self = words.iter().any(|(c, _)| *c == "self");
            slots.employee = first("person")
                .map(|e| e.text.clone())
                .or_else(|| {
                    if is_self {
                        return None;
                    }
                    // A colleague's name may contain words that are also item words
                    // ("Nguyễn Văn Hùng"); in a leave question they are part of the name.
                    let mut pieces: Vec<Range<usize>> = leftover
                        .iter()
                        .cloned()
                        .chain(
                            entities
                                .iter()
                                .filter(|e| e.kind == "item")
                                .map(|e| e.span.clone()),
                        )
                        .collect();
                    pieces.sort_by_key(|r| r.start);
                    let mut joined: Vec<Range<usize>> = Vec::new();
                    for p in pieces {
                        match joined.last_mut() {
                            Some(last)
                                if last.end <= p.start
                                    && ct.get(last.end..p.start) == Some(" ") =>
                            {
                                last.end = p.end;
                            }
                            _ => joined.push(p),
                        }
                    }
                    longest_leftover(ct, &joined)
                        .map(|r| clean_name(&as_written(&r)))
                        .filter(|s| looks_like_name(s) && !is_leave_word(s))
                })
                .or_else(|| Some(SELF_EMPLOYEE.to_string()));
        }
        slots
    }

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
                if got.intent != Some(def.intent) || !self.same_slots(&got.slots, &ex.slots) {
                    report.failures.push(ExampleFailure {
                        file: def.file.clone(),
                        intent: def.intent,
                        text: ex.text.clone(),
                        expected: describe(Some(def.intent), &ex.slots),
                        got: describe(got.intent, &got.slots),
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
                        got: describe(got.intent, &got.slots),
                    });
                }
            }
            let failed = report.failures.len() - failures_before;
            report.per_intent.push((def.intent, run, failed));
        }
        report
    }

    /// Grounds slots that did not come from the rules (the LLM fallback) in what is known:
    /// a name is kept only when the vocabulary knows it (and is then replaced by the
    /// vocabulary's own spelling) or when the user wrote it in `message`; anything else is
    /// dropped, so text the model made up never reaches a card. Returns the dropped slots.
    pub fn ground(&self, slots: &mut Slots, message: &str) -> Vec<&'static str> {
        let lex = self.lexicon();
        let said = super::catalog::matching_form(message);
        let written = |v: &str| {
            let m = super::catalog::matching_form(v);
            !m.is_empty() && said.contains(&m)
        };
        let mut dropped = Vec::new();
        let places = &lex.vocab.places;
        for (name, kind, slot) in [
            ("warehouse", PlaceKind::Warehouse, &mut slots.warehouse),
            ("store", PlaceKind::Store, &mut slots.store),
            ("region", PlaceKind::Region, &mut slots.region),
        ] {
            if let Some(v) = slot.take() {
                match places.find(kind, &v) {
                    Some(p) => *slot = Some(p.name_en.clone()),
                    None if written(&v) => *slot = Some(v),
                    None => dropped.push(name),
                }
            }
        }
        if let Some(v) = slots.item.take() {
            let exact = lex.vocab.items.iter().find(|(i, a)| {
                let m = super::catalog::matching_form(&v);
                [&i.name_en, &i.name_zh, &i.sku]
                    .into_iter()
                    .chain(a.iter())
                    .any(|n| super::catalog::matching_form(n) == m)
            });
            match exact {
                Some((i, _)) => slots.item = Some(i.name_en.clone()),
                None if written(&v) => slots.item = Some(v),
                None => dropped.push("item"),
            }
        }
        if let Some(v) = slots.customer.take() {
            let m = super::catalog::matching_form(&v);
            let known = lex
                .vocab
                .customers
                .iter()
                .find(|c| super::catalog::matching_form(c) == m);
            match known {
                Some(c) => slots.customer = Some(c.clone()),
                None if written(&v) => slots.customer = Some(v),
                None => dropped.push("customer"),
            }
        }
        if let Some(v) = slots.employee.take() {
            let m = super::catalog::matching_form(&v);
            let known = lex.people.iter().find(|p| {
                p.names
                    .iter()
                    .any(|n| super::catalog::matching_form(n) == m)
            });
            match known {
                _ if v == SELF_EMPLOYEE => slots.employee = Some(v),
                Some(p) => slots.employee = p.names.first().cloned(),
                None if written(&v) => slots.employee = Some(v),
                None => dropped.push("employee"),
            }
        }
        if let Some(v) = slots.order.take() {
            if written(&v) {
                slots.order = Some(v);
            } else {
                dropped.push("order");
            }
        }
        dropped
    }

    /// Whether two slot sets name the same things: names compared through the vocabulary
    /// (a place by its code, an item by the items it can mean, a colleague by id), the rest
    /// exactly.
    pub fn same_slots(&self, got: &Slots, want: &Slots) -> bool {
        self.slot_differences(got, want).is_empty()
    }

    /// The names of the slots in which `got` and `want` differ, compared as
    /// [`Self::same_slots`] does; the evaluation counts them per slot.
    pub fn slot_differences(&self, got: &Slots, want: &Slots) -> Vec<&'static str> {
        let lex = self.lexicon();
        let place_key = |kind: PlaceKind, t: &Option<String>| -> Option<String> {
            let t = t.as_deref()?;
            Some(
                lex.vocab
                    .places
                    .find(kind, t)
                    .map_or_else(|| super::catalog::matching_form(t), |p| p.code.clone()),
            )
        };
        let item_key = |t: &Option<String>| -> Option<Vec<String>> {
            let t = t.as_deref()?;
            let entries: Vec<crate::erp::matching::Entry<'_>> = lex
                .vocab
                .items
                .iter()
                .map(|(i, a)| {
                    let mut names = vec![i.name_en.as_str(), i.name_zh.as_str()];
                    names.extend(a.iter().map(String::as_str));
                    crate::erp::matching::Entry {
                        sku: i.sku.as_str(),
                        names,
                    }
                })
                .collect();
            let hits = crate::erp::matching::rank(t, &entries);
            if hits.is_empty() {
                return Some(vec![super::catalog::matching_form(t)]);
            }
            let mut skus: Vec<String> = match crate::erp::matching::unique_best(&hits) {
                Some(h) => vec![entries[h.index].sku.to_string()],
                None => hits
                    .iter()
                    .map(|h| entries[h.index].sku.to_string())
                    .collect(),
            };
            skus.sort();
            Some(skus)
        };
        let person_key = |t: &Option<String>| -> Option<String> {
            let t = t.as_deref()?;
            let m = super::catalog::matching_form(&t.trim_start_matches('@').replace('-', " "));
            Some(
                lex.people
                    .iter()
                    .find(|p| {
                        p.names
                            .iter()
                            .any(|n| super::catalog::matching_form(&n.replace('-', " ")) == m)
                    })
                    .map_or(m, |p| p.id.clone()),
            )
        };
        let customer_key = |t: &Option<String>| -> Option<String> {
            let t = t.as_deref()?;
            let m = super::catalog::matching_form(t);
            Some(
                lex.vocab
                    .customers
                    .iter()
                    .find(|c| {
                        let f = super::catalog::matching_form(c);
                        f == m || f.starts_with(&m) || m.starts_with(&f)
                    })
                    .cloned()
                    .unwrap_or(m),
            )
        };
        let mut differ = Vec::new();
        let mut check = |name: &'static str, same: bool| {
            if !same {
                differ.push(name);
            }
        };
        check("period", got.period == want.period);
        check("limit", got.limit == want.limit);
        check("rank_by", got.rank_by == want.rank_by);
        check("compare", got.compare == want.compare);
        check("breakdown", got.breakdown == want.breakdown);
        check("leave_type", got.leave_type == want.leave_type);
        check(
            "order",
            got.order.as_deref().map(str::to_uppercase)
                == want.order.as_deref().map(str::to_uppercase),
        );
        check(
            "warehouse",
            place_key(PlaceKind::Warehouse, &got.warehouse)
                == place_key(PlaceKind::Warehouse, &want.warehouse),
        );
        check(
            "store",
            place_key(PlaceKind::Store, &got.store) == place_key(PlaceKind::Store, &want.store),
        );
        check(
            "region",
            place_key(PlaceKind::Region, &got.region) == place_key(PlaceKind::Region, &want.region),
        );
        check("item", item_key(&got.item) == item_key(&want.item));
        check(
            "employee",
            person_key(&got.employee) == person_key(&want.employee),
        );
        check(
            "customer",
            customer_key(&got.customer) == customer_key(&want.customer),
        );
        differ
    }
}

/// Where the phrases (in matching form) occur in `text`, longest first, without overlaps;
/// a phrase that starts or ends with a Latin letter or digit must do so at a word edge.
fn phrase_spans(text: &str, phrases: &[(String, String)]) -> Vec<Range<usize>> {
    let mut sorted: Vec<&str> = phrases.iter().map(|(p, _)| p.as_str()).collect();
    sorted.sort_by_key(|p| std::cmp::Reverse(p.len()));
    let bytes = text.as_bytes();
    let edge = |i: usize| bytes.get(i).is_none_or(|b| !b.is_ascii_alphanumeric());
    let mut out: Vec<Range<usize>> = Vec::new();
    for phrase in sorted.into_iter().filter(|p| !p.is_empty()) {
        let first_alnum = phrase
            .as_bytes()
            .first()
            .is_some_and(u8::is_ascii_alphanumeric);
        let last_alnum = phrase
            .as_bytes()
            .last()
            .is_some_and(u8::is_ascii_alphanumeric);
        for (at, _) in text.match_indices(phrase) {
            let span = at..at + phrase.len();
            let starts_ok = !first_alnum || at == 0 || edge(at - 1);
            let ends_ok = !last_alnum || edge(span.end);
            if starts_ok && ends_ok && !overlaps(&out, &span) {
                out.push(span);
            }
        }
    }
    out.sort_by_key(|r| r.start);
    out
}

/// The byte span a period expression covers in the text it was found in.
fn period_span(text: &str, m: &PeriodMatch) -> Range<usize> {
    if !m.strip.is_empty() {
        return m.strip.clone();
    }
    let lower = m.text.to_ascii_lowercase();
    text.find(&lower).map_or(0..0, |s| s..s + lower.len())
}

/// The period a breakdown in time covers when the question names none.
fn default_breakdown_period(by: BreakdownBy, today: Date, cal: period::Calendar) -> Option<Period> {
    match by {
        BreakdownBy::Month => {
            let start = today.first_of_year();
            Some(Period {
                start,
                end: today.last_of_year(),
            })
        }
        BreakdownBy::Week => cal.quarter_of(today),
        _ => Some(Period {
            start: today.first_of_month(),
            end: today.last_of_month(),
        }),
    }
}

fn parse_period_value(v: &str) -> Option<Period> {
    let (a, b) = v.split_once("..")?;
    Some(Period {
        start: a.parse().ok()?,
        end: b.parse().ok()?,
    })
}

fn overlaps(taken: &[Range<usize>], r: &Range<usize>) -> bool {
    taken.iter().any(|t| t.start < r.end && r.start < t.end)
}

fn overlaps_any(entities: &[Entity], r: &Range<usize>) -> bool {
    entities
        .iter()
        .any(|e| e.span.start < r.end && r.start < e.span.end)
}

/// The parts of `text` no range in `taken` covers, split at punctuation, trimmed.
fn leftover_pieces(text: &str, taken: &[Range<usize>]) -> Vec<Range<usize>> {
    let mut free = vec![true; text.len()];
    for r in taken {
        for b in free.iter_mut().take(r.end.min(text.len())).skip(r.start) {
            *b = false;
        }
    }
    let mut out = Vec::new();
    let mut start: Option<usize> = None;
    let mut prev_han: Option<bool> = None;
    for (i, c) in text.char_indices() {
        let is_free = free.get(i).copied().unwrap_or(false) && !is_separator(c);
        // "Dyson V15 將軍澳": a change of script ends a piece.
        if c.is_alphanumeric() {
            let han = super::is_han(c);
            if is_free
                && prev_han.is_some_and(|p| p != han)
                && let Some(s) = start.take()
            {
                out.push(s..i);
            }
            prev_han = Some(han);
        }
        if !is_free {
            prev_han = None;
        }
        match (is_free, start) {
            (true, None) => start = Some(i),
            (false, Some(s)) => {
                out.push(s..i);
                start = None;
            }
            _ => {}
        }
    }
    if let Some(s) = start {
        out.push(s..text.len());
    }
    // Trim spaces; drop pieces with nothing in them.
    out.into_iter()
        .filter_map(|r| {
            let piece = &text[r.clone()];
            let lead = piece.len() - piece.trim_start().len();
            let trail = piece.len() - piece.trim_end().len();
            let r = r.start + lead..r.end - trail;
            (r.start < r.end && text[r.clone()].chars().any(char::is_alphanumeric)).then_some(r)
        })
        .collect()
}

fn is_separator(c: char) -> bool {
    matches!(
        c,
        '?' | '!'
            | ','
            | ';'
            | ':'
            | '。'
            | '，'
            | '、'
            | '？'
            | '！'
            | '；'
            | '：'
            | '"'
            | '“'
            | '”'
            | '('
            | ')'
            | '['
            | ']'
            | '~'
            | '…'
    )
}

/// The leftover piece right before or right after a designator.
fn adjacent_leftover(
    text: &str,
    leftover: &[Range<usize>],
    d: &Range<usize>,
) -> Option<Range<usize>> {
    let before = leftover.iter().find(|l| {
        text.get(l.end..d.start)
            .is_some_and(|g| g.trim().is_empty())
    });
    let after = leftover.iter().find(|l| {
        text.get(d.end..l.start)
            .is_some_and(|g| g.trim().is_empty())
    });
    let word = text.get(d.clone()).unwrap_or_default();
    let designator_first = word.is_ascii()
        && matches!(
            word,
            "kho"
                | "gudang"
                | "kedai"
                | "cua hang"
                | "chi nhanh"
                | "cawangan"
                | "stor"
                | "vung"
                | "khu vuc"
                | "kawasan"
                | "wilayah"
        );
    // A Chinese designator follows its name ("元朗倉"); what comes after it is the rest of
    // the sentence ("在门店等着" names no store called 等着).
    let han_designator = !word.is_empty() && word.chars().all(super::is_han);
    let pick = if designator_first {
        after.or(before)
    } else if han_designator {
        before
    } else {
        before.or(after)
    }?;
    // Keep at most the last two words (Latin) or characters (Han) next to the designator.
    let piece = &text[pick.clone()];
    if piece.chars().all(super::is_han) {
        let chars: Vec<(usize, char)> = piece.char_indices().collect();
        if chars.len() > 3 && !designator_first {
            let (off, _) = chars[chars.len() - 2];
            return Some(pick.start + off..pick.end);
        }
        return Some(pick.clone());
    }
    let words: Vec<(usize, usize)> = super::lexicon::ascii_word_bounds(piece);
    if words.len() > 2 {
        if designator_first {
            let (_, e) = words[1];
            return Some(pick.start..pick.start + e);
        }
        let (s, _) = words[words.len() - 2];
        return Some(pick.start + s..pick.end);
    }
    Some(pick.clone())
}

fn longest_leftover(text: &str, leftover: &[Range<usize>]) -> Option<Range<usize>> {
    leftover
        .iter()
        .filter(|r| {
            text[(*r).clone()]
                .chars()
                .filter(|c| c.is_alphanumeric())
                .count()
                >= 2
        })
        .max_by_key(|r| {
            text[(*r).clone()]
                .chars()
                .filter(|c| c.is_alphanumeric())
                .count()
        })
        .cloned()
}

/// A name without surrounding punctuation, a possessive or a trailing particle.
fn clean_name(raw: &str) -> String {
    let t = raw.trim_matches(|c: char| c.is_whitespace() || "?!.,;:'\"~()[]-–—@".contains(c));
    let t = t
        .strip_suffix("'s")
        .or_else(|| t.strip_suffix("’s"))
        .unwrap_or(t);
    let t = t.trim_end_matches(['嘅', '的', '之']);
    t.trim().to_string()
}

/// Whether the Latin word at `span` is joined by a hyphen to letters or digits ("WH-1000XM5",
/// "XM5-WH"): part of a product code, not a word on its own.
fn glued_to_code(text: &str, span: &Range<usize>) -> bool {
    let bytes = text.as_bytes();
    let after = bytes.get(span.end) == Some(&b'-')
        && bytes
            .get(span.end + 1)
            .is_some_and(u8::is_ascii_alphanumeric);
    let before = span.start >= 2
        && bytes.get(span.start - 1) == Some(&b'-')
        && bytes
            .get(span.start - 2)
            .is_some_and(u8::is_ascii_alphanumeric);
    after || before
}

/// Words for "every" that stand where a place name would ("各倉", "all stores").
fn is_every(name: &str) -> bool {
    matches!(
        name.to_lowercase().as_str(),
        "各" | "各個"
            | "各个"
            | "所有"
            | "全部"
            | "每個"
            | "每个"
            | "全"
            | "all"
            | "every"
            | "each"
            | "semua"
            | "setiap"
            | "tất cả"
            | "tat ca"
            | "các"
            | "cac"
            | "mọi"
            | "moi"
    )
}

/// Short forms of leave types that are left over next to "leave" ("comp leave balance"):
/// not a colleague's name.
fn is_leave_word(s: &str) -> bool {
    matches!(
        s.to_ascii_lowercase().as_str(),
        "comp" | "compo" | "annual" | "sick" | "lieu" | "al" | "sl" | "cl" | "unpaid"
    )
}

/// Whether leftover text can be a person's name (not a number, not one letter).
fn looks_like_name(s: &str) -> bool {
    let letters = s.chars().filter(|c| c.is_alphabetic()).count();
    letters >= 2 && !s.chars().any(|c| c.is_ascii_digit()) && s.split_whitespace().count() <= 4
}

/// What was understood but cannot be honoured by `intent`'s answer.
fn unsupported_parts(entities: &[Entity]) -> Vec<String> {
    let mut out = Vec::new();
    let periods = entities.iter().filter(|e| e.kind == "period").count();
    if periods > 1 {
        out.push("second_period".to_string());
    }
    if let Some(limit) = entities
        .iter()
        .find(|e| e.kind == "limit")
        .and_then(|e| e.value.parse::<u32>().ok())
        && limit > 20
    {
        out.push(format!("limit_above_20:{limit}"));
    }
    out
}

fn describe(intent: Option<Intent>, slots: &Slots) -> String {
    let slots = serde_json::to_string(slots).unwrap_or_default();
    match intent {
        Some(i) => format!("{i} {slots}"),
        None => format!("none {slots}"),
    }
}
