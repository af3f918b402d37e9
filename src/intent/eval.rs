//! The evaluation set and its scorer.
//!
//! The examples in `intents/` show what each rule is for; they were written next to the
//! rules and so flatter them. The evaluation set (`eval/utterances.jsonl`) is kept apart:
//! questions as people write them, in every language askerp answers, code-mixed text,
//! and questions askerp must not answer (leave applications, approvals, share prices,
//! weather). Its score is the honest measure of the rules, and a test fails when it
//! drops below [`Targets`].
//!
//! Format: one JSON object per line,
//! `{"lang": "zh-HK", "now": "2026-11-21T10:00:00+08:00", "text": "…",
//! "intent": "inventory.stock" | null, "slots": {…}}`, with slots exactly as
//! `askerp resolve --json` prints them. `lang` is a locale tag, or `mixed` for
//! code-mixed text (whose reply language is not scored). Blank lines and lines starting
//! with `#` are skipped.

use std::collections::BTreeMap;
use std::fmt;

use jiff::Timestamp;
use serde::Deserialize;

use super::{Intent, Locale, Resolver, Slots};

/// The evaluation set shipped with askerp.
pub const BUILTIN: &str = include_str!("../../eval/utterances.jsonl");

/// The lowest scores the rules must reach on the evaluation set.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Targets {
    /// Share of utterances whose intent (or "not understood") is right.
    pub intent: f64,
    /// Share of in-scope utterances whose intent and every slot are right.
    pub slots: f64,
    /// Intent accuracy of the weakest language.
    pub per_language: f64,
}

impl Targets {
    /// The targets the project holds itself to.
    pub const REQUIRED: Targets = Targets {
        intent: 0.97,
        slots: 0.95,
        per_language: 0.93,
    };
}

/// One utterance with what it must resolve to.
#[derive(Debug, Clone, PartialEq)]
pub struct Case {
    /// Line number in the file, for reports.
    pub line: usize,
    /// A locale tag or `mixed`.
    pub lang: String,
    pub now: Timestamp,
    pub text: String,
    /// `None`: out of scope, must not be understood.
    pub intent: Option<Intent>,
    pub slots: Slots,
    pub request: Option<String>,
    pub smalltalk: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCase {
    lang: String,
    now: Timestamp,
    text: String,
    intent: Option<String>,
    #[serde(default)]
    slots: serde_json::Map<String, serde_json::Value>,
    /// `"action"` for a request to act (intent null).
    request: Option<String>,
    /// `"greeting"` or `"thanks"` (intent null).
    smalltalk: Option<String>,
}

/// A line of the evaluation file that could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("evaluation set has {} problem(s):\n  {}", .0.len(), .0.join("\n  "))]
pub struct EvalError(pub Vec<String>);

/// Parses an evaluation file, reporting every bad line at once.
pub fn parse(text: &str) -> Result<Vec<Case>, EvalError> {
    let mut cases = Vec::new();
    let mut problems = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line_no = i + 1;
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let raw: RawCase = match serde_json::from_str(trimmed) {
            Ok(raw) => raw,
            Err(e) => {
                problems.push(format!("line {line_no}: {e}"));
                continue;
            }
        };
        if raw.lang != "mixed" && raw.lang != "yue" && Locale::from_tag(&raw.lang).is_none() {
            problems.push(format!("line {line_no}: unknown lang `{}`", raw.lang));
            continue;
        }
        let intent = match raw.intent.as_deref() {
            None => None,
            Some(name) => match Intent::from_name(name) {
                Some(i) => Some(i),
                None => {
                    problems.push(format!("line {line_no}: unknown intent `{name}`"));
                    continue;
                }
            },
        };
        // A place named without a designator that the ERP does not know ("sales in
        // Macau") is taken as a store, the most common place of a sales question.
        let mut map = raw.slots;
        if let Some(v) = map.remove("place") {
            map.entry("store").or_insert(v);
        }
        let slots: Slots = match serde_json::from_value(serde_json::Value::Object(map)) {
            Ok(s) => s,
            Err(e) => {
                problems.push(format!("line {line_no}: bad slots: {e}"));
                continue;
            }
        };
        cases.push(Case {
            line: line_no,
            lang: raw.lang,
            now: raw.now,
            text: raw.text,
            intent,
            slots,
            request: raw.request,
            smalltalk: raw.smalltalk,
        });
    }
    if problems.is_empty() {
        Ok(cases)
    } else {
        Err(EvalError(problems))
    }
}

/// Scores of one language (or of everything).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Score {
    pub utterances: usize,
    pub intent_ok: usize,
    /// In-scope utterances, the denominator of slot accuracy.
    pub in_scope: usize,
    pub slots_ok: usize,
    /// Utterances whose reply language was checked, and how many were right.
    pub locale_checked: usize,
    pub locale_ok: usize,
}

impl Score {
    pub fn intent_accuracy(&self) -> f64 {
        ratio(self.intent_ok, self.utterances)
    }

    pub fn slot_accuracy(&self) -> f64 {
        ratio(self.slots_ok, self.in_scope)
    }

    pub fn locale_accuracy(&self) -> f64 {
        ratio(self.locale_ok, self.locale_checked)
    }

    fn add(&mut self, other: &Score) {
        self.utterances += other.utterances;
        self.intent_ok += other.intent_ok;
        self.in_scope += other.in_scope;
        self.slots_ok += other.slots_ok;
        self.locale_checked += other.locale_checked;
        self.locale_ok += other.locale_ok;
    }
}

fn ratio(a: usize, b: usize) -> f64 {
    if b == 0 { 1.0 } else { a as f64 / b as f64 }
}

/// One utterance that did not resolve as expected.
#[derive(Debug, Clone, PartialEq)]
pub struct Miss {
    pub line: usize,
    pub lang: String,
    pub text: String,
    pub expected: String,
    pub got: String,
}

/// The outcome of scoring the rules on an evaluation set.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Report {
    /// Per language, in the order en, zh-HK, zh-CN, ms, vi, mixed.
    pub languages: Vec<(String, Score)>,
    pub total: Score,
    pub misses: Vec<Miss>,
    /// (expected, got) → count; `None` is "no intent" (null, smalltalk, action, ask).
    pub confusion: BTreeMap<(Option<Intent>, Option<Intent>), usize>,
    /// Out-of-scope and action cases, and how many of them got no intent.
    pub null_cases: usize,
    pub null_ok: usize,
    /// Cases the engine answered with "which one?" candidates.
    pub asked: usize,
    /// Slot name → in-scope cases with the right intent whose value for it was wrong.
    pub slot_errors: BTreeMap<&'static str, usize>,
}

impl Report {
    /// Per expected intent: (cases, right).
    pub fn per_intent(&self) -> Vec<(Option<Intent>, usize, usize)> {
        let mut m: BTreeMap<Option<Intent>, (usize, usize)> = BTreeMap::new();
        for ((want, got), n) in &self.confusion {
            let e = m.entry(*want).or_default();
            e.0 += n;
            if want == got {
                e.1 += n;
            }
        }
        m.into_iter().map(|(k, (n, ok))| (k, n, ok)).collect()
    }

    /// Share of null cases (out of scope, actions) that got no intent.
    pub fn null_precision(&self) -> f64 {
        ratio(self.null_ok, self.null_cases)
    }

    /// The per-intent recall table and the confusion matrix, as text.
    pub fn confusion_table(&self) -> String {
        let name = |i: &Option<Intent>| i.map_or("(none)", |i| i.name()).to_string();
        let mut out = String::new();
        out.push_str(&format!(
            "{:<22} {:>5} {:>8}\n",
            "expected intent", "n", "recall"
        ));
        for (i, n, ok) in self.per_intent() {
            out.push_str(&format!(
                "{:<22} {:>5} {:>6.1} %\n",
                name(&i),
                n,
                ratio(ok, n) * 100.0
            ));
        }
        out.push_str(&format!(
            "null precision (out of scope and actions answered as nothing): {:.1} % of {}\n",
            self.null_precision() * 100.0,
            self.null_cases
        ));
        out.push_str(&format!("asked which intent: {}\n", self.asked));
        if !self.slot_errors.is_empty() {
            out.push_str("wrong slot values (right intent), per slot:");
            for (name, n) in &self.slot_errors {
                out.push_str(&format!(" {name} {n};"));
            }
            out.push('\n');
        }
        out.push_str("confusion (expected → got: count), errors only:\n");
        for ((want, got), n) in &self.confusion {
            if want != got {
                out.push_str(&format!("  {} → {}: {n}\n", name(want), name(got)));
            }
        }
        out
    }
}

impl Report {
    /// The weakest language's intent accuracy.
    pub fn weakest_language(&self) -> Option<(&str, f64)> {
        self.languages
            .iter()
            .map(|(l, s)| (l.as_str(), s.intent_accuracy()))
            .min_by(|a, b| a.1.total_cmp(&b.1))
    }

    /// Which targets are missed, as sentences; empty when all are met.
    pub fn shortfalls(&self, targets: Targets) -> Vec<String> {
        let mut out = Vec::new();
        let pct = |x: f64| format!("{:.1} %", x * 100.0);
        if self.total.intent_accuracy() < targets.intent {
            out.push(format!(
                "intent accuracy {} is below {}",
                pct(self.total.intent_accuracy()),
                pct(targets.intent)
            ));
        }
        if self.null_precision() < 0.95 {
            out.push(format!(
                "null precision {} is below 95.0 %",
                pct(self.null_precision())
            ));
        }
        if self.total.slot_accuracy() < targets.slots {
            out.push(format!(
                "slot accuracy {} is below {}",
                pct(self.total.slot_accuracy()),
                pct(targets.slots)
            ));
        }
        for (lang, score) in &self.languages {
            if score.intent_accuracy() < targets.per_language {
                out.push(format!(
                    "{lang}: intent accuracy {} is below {}",
                    pct(score.intent_accuracy()),
                    pct(targets.per_language)
                ));
            }
        }
        out
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{:<8} {:>6} {:>9} {:>9} {:>9}",
            "lang", "n", "intent", "slots", "reply"
        )?;
        let row = |f: &mut fmt::Formatter<'_>, name: &str, s: &Score| {
            let reply = if s.locale_checked == 0 {
                "-".to_string()
            } else {
                format!("{:.1} %", s.locale_accuracy() * 100.0)
            };
            writeln!(
                f,
                "{:<8} {:>6} {:>7.1} % {:>7.1} % {:>9}",
                name,
                s.utterances,
                s.intent_accuracy() * 100.0,
                s.slot_accuracy() * 100.0,
                reply
            )
        };
        for (lang, score) in &self.languages {
            row(f, lang, score)?;
        }
        row(f, "all", &self.total)?;
        write!(
            f,
            "intent: right intent, or nothing for out-of-scope text; slots: right intent and \
             exactly the expected slots (in-scope only); reply: language of the answer"
        )
    }
}

impl fmt::Display for Miss {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "line {} [{}] \"{}\"\n    expected: {}\n    got:      {}",
            self.line, self.lang, self.text, self.expected, self.got
        )
    }
}

/// Resolves every case and scores the result.
pub fn evaluate(resolver: &Resolver, cases: &[Case]) -> Report {
    let mut per_lang: BTreeMap<String, Score> = BTreeMap::new();
    let mut misses = Vec::new();
    let mut confusion: BTreeMap<(Option<Intent>, Option<Intent>), usize> = BTreeMap::new();
    let (mut null_cases, mut null_ok, mut asked) = (0, 0, 0);
    let mut slot_errors: BTreeMap<&'static str, usize> = BTreeMap::new();
    for case in cases {
        let now = case.now.to_zoned(resolver.time_zone().clone());
        let got = resolver.resolve(&case.text, &now);
        let score = per_lang.entry(case.lang.clone()).or_default();
        score.utterances += 1;
        let intent_ok = got.intent == case.intent;
        let differ = if intent_ok {
            resolver.slot_differences(&got.slots, &case.slots)
        } else {
            Vec::new()
        };
        let slots_ok = intent_ok && differ.is_empty();
        if case.intent.is_some() {
            for name in &differ {
                *slot_errors.entry(*name).or_default() += 1;
            }
        }
        *confusion.entry((case.intent, got.intent)).or_default() += 1;
        if !got.candidates.is_empty() {
            asked += 1;
        }
        if case.intent.is_none() && case.smalltalk.is_none() {
            null_cases += 1;
            if got.intent.is_none() {
                null_ok += 1;
            }
        }
        if intent_ok {
            score.intent_ok += 1;
        }
        if case.intent.is_some() {
            score.in_scope += 1;
            if slots_ok {
                score.slots_ok += 1;
            }
        }
        let mut locale_wrong = None;
        let expected_locale = if case.lang == "yue" {
            Some(Locale::ZhHk)
        } else {
            Locale::from_tag(&case.lang)
        };
        if let Some(expected) = expected_locale {
            score.locale_checked += 1;
            if got.locale == expected {
                score.locale_ok += 1;
            } else {
                locale_wrong = Some(got.locale);
            }
        }
        let wrong = !intent_ok || (case.intent.is_some() && !slots_ok);
        if wrong || locale_wrong.is_some() {
            let describe = |intent: Option<Intent>, slots: &Slots| {
                let slots = serde_json::to_string(slots).unwrap_or_default();
                match intent {
                    Some(i) => format!("{i} {slots}"),
                    None => "not understood".to_string(),
                }
            };
            let _ = &got.candidates;
            let mut got_text = format!(
                "{} (rule {})",
                describe(got.intent, &got.slots),
                got.rule.as_deref().unwrap_or("-")
            );
            if !differ.is_empty() {
                got_text.push_str(&format!(", wrong: {}", differ.join(" ")));
            }
            if let Some(l) = locale_wrong {
                got_text.push_str(&format!(", replied in {}", l.tag()));
            }
            misses.push(Miss {
                line: case.line,
                lang: case.lang.clone(),
                text: case.text.clone(),
                expected: describe(case.intent, &case.slots),
                got: got_text,
            });
        }
    }
    let order = |l: &str| {
        Locale::ALL
            .iter()
            .position(|x| x.tag() == l)
            .unwrap_or(Locale::ALL.len())
    };
    let mut languages: Vec<(String, Score)> = per_lang.into_iter().collect();
    languages.sort_by(|a, b| order(&a.0).cmp(&order(&b.0)).then(a.0.cmp(&b.0)));
    let mut total = Score::default();
    for (_, s) in &languages {
        total.add(s);
    }
    Report {
        languages,
        total,
        misses,
        confusion,
        null_cases,
        null_ok,
        asked,
        slot_errors,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_set_parses_and_is_large_enough() {
        let cases = parse(BUILTIN).expect("builtin evaluation set");
        assert!(cases.len() >= 300, "only {} utterances", cases.len());
        let out_of_scope = cases.iter().filter(|c| c.intent.is_none()).count();
        assert!(out_of_scope >= 30, "only {out_of_scope} out-of-scope");
        for locale in Locale::ALL {
            assert!(
                cases.iter().filter(|c| c.lang == locale.tag()).count() >= 40,
                "too few {} utterances",
                locale.tag()
            );
        }
    }

    #[test]
    fn bad_lines_are_all_reported() {
        let text = "{\"lang\":\"xx\",\"now\":\"2026-11-21T10:00:00+08:00\",\"text\":\"a\",\"intent\":null}\n\
                    not json\n\
                    {\"lang\":\"en\",\"now\":\"2026-11-21T10:00:00+08:00\",\"text\":\"a\",\"intent\":\"nope\"}\n";
        let err = parse(text).expect_err("bad lines");
        assert_eq!(err.0.len(), 3, "{err}");
    }
}
