//! The intent catalog: `intents/*.toml` parsed and checked.
//!
//! Intents are data so that adding a phrasing, a language or an example is a reviewable
//! change to a text file, and so that the examples double as tests (`askerp intents test`,
//! `tests/intents.rs`). Loading checks everything it can without running the resolver and
//! reports every problem at once, each with its file and rule id, because an operator
//! editing a mounted `intents/` directory should not have to fix errors one restart at a
//! time.
//!
//! File format (every file starts with a comment block repeating this):
//!
//! ```toml
//! version = 1
//! now = "2026-11-21T10:00:00+08:00"   # the moment the examples are asked at
//!
//! [fragments]                          # reusable regex pieces, `{{name}}` in patterns
//! q_zh = "(?:呀|啊|呢)?"
//!
//! [[intent]]
//! name = "inventory.stock"
//! sensitivity = "internal"             # or "personal"
//! description = { en = "…", zh-HK = "…" }
//! slots = [{ name = "item", required = true }, { name = "warehouse" }]
//!
//! [[intent.pattern]]
//! id = "stock.en.how_many"             # unique over the catalog
//! lang = "en"                          # or "zh-HK", "zh-CN", "ms", "vi"
//! priority = 10                        # optional, default 0; higher wins
//! regex = '''^how many (?P<item>.+?) in stock$'''
//!
//! [[intent.example]]
//! text = "how many iPhone 15 Pro in stock?"
//! slots = { item = "iPhone 15 Pro" }   # exactly the expected slots
//! help = true                          # optional: shown on the help card
//!
//! [[intent.counter_example]]
//! text = "how many annual leave days do I have?"
//! resolves_to = "leave.balance"        # optional: "none" or an intent name
//! ```
//!
//! Named groups in a pattern fill the slot of the same name; a trailing number is ignored
//! (`item2`) so that alternatives in separate patterns can share a shape. Patterns are
//! matched case-insensitively against the prepared text (see [`super::normalize`]) from
//! which period expressions have already been removed.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::Path;

use include_dir::{Dir, include_dir};
use jiff::Timestamp;
use regex::{Regex, RegexBuilder};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{Intent, Locale, Slots};

/// The catalog shipped with the binary.
static BUILTIN: Dir<'_> = include_dir!("$CARGO_MANIFEST_DIR/intents");

/// The only file format version this build understands.
const FORMAT_VERSION: u32 = 1;

/// Slot names the resolver knows how to fill (the fields of [`Slots`]).
pub const KNOWN_SLOTS: [&str; 13] = [
    "item",
    "warehouse",
    "region",
    "store",
    "customer",
    "order",
    "period",
    "employee",
    "leave_type",
    "limit",
    "rank_by",
    "compare",
    "breakdown",
];

/// The compiled-program budget for one pattern and for the whole set. Unicode
/// case-insensitive classes are large; the default 10 MiB is too tight for the set.
pub(crate) const REGEX_SIZE_LIMIT: usize = 64 << 20;

/// How careful delivery must be with an intent's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Sensitivity {
    /// Company data the asker's role may see; may be answered in a group.
    Internal,
    /// One person's data (leave): never posted into a group.
    Personal,
}

/// A slot an intent takes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlotDef {
    pub name: String,
    pub required: bool,
}

/// One cue of an intent: a word or phrase that is evidence for it (or, with a negative
/// weight, against it), found anywhere in the message.
#[derive(Debug, Clone, PartialEq)]
pub struct CueDef {
    /// In matching form: folded ([`super::fold`]) and in ASCII lower case.
    pub text: String,
    /// As written in the file, for `askerp explain`.
    pub written: String,
    pub weight: f32,
    /// The language list it was written in (`en`, `zh`, `ms`, `vi`), informational: every
    /// cue is looked for in every message, because users mix languages.
    pub lang: String,
}

/// The entity kinds an intent may count as evidence (`[intent.evidence]`).
pub const EVIDENCE_KINDS: [&str; 14] = [
    "item",
    "warehouse",
    "store",
    "region",
    "place",
    "customer",
    "order",
    "period",
    "person",
    "leave_type",
    "limit",
    "rank",
    "compare",
    "breakdown",
];

/// The word classes of `[words.*]` (common.toml): closed vocabularies every intent shares.
pub const WORD_CLASSES: [&str; 23] = [
    "filler",
    "action",
    "greeting",
    "thanks",
    "self",
    "quantity",
    "revenue",
    "warehouse",
    "store",
    "region",
    "customer",
    "preposition",
    "order",
    "top",
    "unsupported",
    "last_year",
    "compare_to",
    "by_month",
    "by_week",
    "by_day",
    "by_customer",
    "by_region",
    "by_store",
];

/// An order-number shape: what a number looks like in the ERP, and the form it is sent to
/// the ERP in. `$1`, `$2` … in `canonical` are the regex's groups; without `canonical`,
/// the number is sent as written (upper-cased), never reshaped.
#[derive(Debug, Clone)]
pub struct OrderShape {
    pub regex: Regex,
    pub canonical: Option<String>,
}

impl PartialEq for OrderShape {
    fn eq(&self, other: &Self) -> bool {
        self.regex.as_str() == other.regex.as_str() && self.canonical == other.canonical
    }
}

/// A question with the slots it must resolve to; run as a test.
#[derive(Debug, Clone, PartialEq)]
pub struct Example {
    pub text: String,
    /// Exactly the slots expected (a slot not listed must stay empty).
    pub slots: Slots,
    /// Shown on the help card.
    pub help: bool,
    /// The moment the question is asked at, for period slots.
    pub now: Timestamp,
}

/// What a counter-example must resolve to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    /// Anything but the intent it is listed under (including nothing).
    NotThis,
    /// Nothing at all ("not understood").
    Nothing,
    /// Exactly this other intent.
    Intent(Intent),
}

/// A text that must not resolve to the intent it is listed under.
#[derive(Debug, Clone, PartialEq)]
pub struct CounterExample {
    pub text: String,
    pub expect: Expect,
    pub now: Timestamp,
}

/// Short descriptions of an intent, for the help card and the LLM schema.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Descriptions {
    pub en: String,
    pub zh_hk: String,
    pub zh_cn: String,
    pub ms: String,
    pub vi: String,
}

impl Descriptions {
    /// The description in `locale`, falling back to English.
    pub fn get(&self, locale: Locale) -> &str {
        let own = match locale {
            Locale::En => &self.en,
            Locale::ZhHk => &self.zh_hk,
            Locale::ZhCn => &self.zh_cn,
            Locale::Ms => &self.ms,
            Locale::Vi => &self.vi,
        };
        if own.is_empty() { &self.en } else { own }
    }
}

/// One intent as declared in `intents/`.
#[derive(Debug, Clone, PartialEq)]
pub struct IntentDef {
    pub intent: Intent,
    pub sensitivity: Sensitivity,
    pub slots: Vec<SlotDef>,
    pub description: Descriptions,
    pub cues: Vec<CueDef>,
    /// Entity kind → weight: how much finding such an entity in the message speaks for
    /// this intent ("an item means a stock question unless something else is said").
    pub evidence: BTreeMap<String, f32>,
    pub examples: Vec<Example>,
    pub counter_examples: Vec<CounterExample>,
    /// The file the intent was declared in (name only), for error messages.
    pub file: String,
}

impl IntentDef {
    /// Whether the intent declares the slot `name`.
    pub fn has_slot(&self, name: &str) -> bool {
        self.slots.iter().any(|s| s.name == name)
    }
}

/// One thing wrong with the catalog.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The file name (no directory), or `-` for problems of the catalog as a whole.
    pub file: String,
    /// The pattern id, intent name or example the problem is in.
    pub rule: Option<String>,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.rule {
            Some(rule) => write!(f, "{} [{}]: {}", self.file, rule, self.message),
            None => write!(f, "{}: {}", self.file, self.message),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    /// The directory itself could not be listed.
    #[error("cannot read the intents directory: {0}")]
    Read(#[source] std::io::Error),
    /// Every problem found in the files.
    #[error("{}", list_problems(.0))]
    Invalid(Vec<Problem>),
    /// The cues are valid one by one but could not be compiled together.
    #[error("cannot compile the intent cues together: {0}")]
    Compile(String),
}

fn list_problems(problems: &[Problem]) -> String {
    let mut out = format!("{} problem(s) in the intent catalog:", problems.len());
    for p in problems {
        out.push_str("\n  ");
        out.push_str(&p.to_string());
    }
    out
}

/// All intents, checked.
#[derive(Debug, Clone, PartialEq)]
pub struct Catalog {
    /// One definition per [`Intent`], in [`Intent::ALL`] order.
    pub intents: Vec<IntentDef>,
    /// Word class → (phrase in matching form, language list it came from) ([`WORD_CLASSES`]).
    pub words: BTreeMap<String, Vec<(String, String)>>,
    /// Order-number shapes, tried in order ([`OrderShape`]).
    pub order_shapes: Vec<OrderShape>,
    hash: String,
}

impl Catalog {
    /// The catalog compiled into the binary from `intents/`.
    pub fn builtin() -> Result<Catalog, CatalogError> {
        let mut files = Vec::new();
        let mut problems = Vec::new();
        for file in BUILTIN.files() {
            let name = file_name(file.path());
            if !name.ends_with(".toml") {
                continue;
            }
            match file.contents_utf8() {
                Some(text) => files.push((name, text.to_string())),
                None => problems.push(problem(&name, None, "not valid UTF-8")),
            }
        }
        Catalog::build(files, problems)
    }

    /// Loads every `*.toml` in `dir` (not recursively), reporting all problems at once.
    pub fn load_dir(dir: &Path) -> Result<Catalog, CatalogError> {
        let mut files = Vec::new();
        let mut problems = Vec::new();
        for entry in std::fs::read_dir(dir).map_err(CatalogError::Read)? {
            let entry = entry.map_err(CatalogError::Read)?;
            let path = entry.path();
            let name = file_name(&path);
            if !name.ends_with(".toml") || !path.is_file() {
                continue;
            }
            match std::fs::read_to_string(&path) {
                Ok(text) => files.push((name, text)),
                Err(e) => problems.push(problem(&name, None, &format!("cannot read: {e}"))),
            }
        }
        Catalog::build(files, problems)
    }

    /// Parses and checks catalog files given as `(file name, contents)`, e.g. from a
    /// configuration store rather than a directory.
    pub fn from_files(files: Vec<(String, String)>) -> Result<Catalog, CatalogError> {
        Catalog::build(files, Vec::new())
    }

    /// Parses and checks `files`, adding to the problems already found while reading them.
    fn build(
        mut files: Vec<(String, String)>,
        problems: Vec<Problem>,
    ) -> Result<Catalog, CatalogError> {
        files.sort_by(|a, b| a.0.cmp(&b.0));
        let mut loader = Loader { problems };
        let mut hasher = Sha256::new();
        let mut parsed = Vec::new();
        let mut words: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
        let mut order_shapes = Vec::new();
        for (name, text) in &files {
            hasher.update(text.as_bytes());
            match toml::from_str::<FileSpec>(text) {
                Ok(spec) => {
                    if spec.version != FORMAT_VERSION {
                        loader.push(
                            name,
                            None,
                            format!(
                                "version {} is not supported (expected {FORMAT_VERSION})",
                                spec.version
                            ),
                        );
                    }
                    for (class, langs) in &spec.words {
                        if !WORD_CLASSES.contains(&class.as_str()) {
                            loader.push(
                                name,
                                Some(class),
                                format!("unknown word class (known: {})", WORD_CLASSES.join(", ")),
                            );
                            continue;
                        }
                        let list = words.entry(class.clone()).or_default();
                        for (lang, phrases) in langs {
                            if !["en", "zh", "ms", "vi"].contains(&lang.as_str()) {
                                loader.push(
                                    name,
                                    Some(class),
                                    format!("unknown language list `{lang}` (en, zh, ms, vi)"),
                                );
                            }
                            for phrase in phrases {
                                let m = matching_form(phrase);
                                if !m.is_empty() && !list.iter().any(|(w, _)| *w == m) {
                                    list.push((m, lang.clone()));
                                }
                            }
                        }
                    }
                    for shape in &spec.order_shape {
                        match RegexBuilder::new(&shape.regex)
                            .case_insensitive(true)
                            .size_limit(REGEX_SIZE_LIMIT)
                            .build()
                        {
                            Ok(regex) => order_shapes.push(OrderShape {
                                regex,
                                canonical: shape.canonical.clone(),
                            }),
                            Err(e) => {
                                loader.push(name, Some("order_shape"), format!("bad regex: {e}"))
                            }
                        }
                    }
                    parsed.push((name.clone(), spec));
                }
                Err(e) => loader.push(name, None, format!("invalid TOML: {}", e.message())),
            }
        }
        let mut defs: BTreeMap<Intent, IntentDef> = BTreeMap::new();
        for (file, spec) in parsed {
            let now = match &spec.now {
                Some(s) => match s.parse::<Timestamp>() {
                    Ok(t) => Some(t),
                    Err(e) => {
                        loader.push(&file, None, format!("`now` is not an RFC 3339 time: {e}"));
                        None
                    }
                },
                None => None,
            };
            for intent_spec in spec.intent {
                if let Some(def) = loader.intent(&file, now, intent_spec) {
                    if let Some(first) = defs.get(&def.intent) {
                        let msg = format!("intent defined again (first in {})", first.file);
                        loader.push(&file, Some(def.intent.name()), msg);
                    } else {
                        defs.insert(def.intent, def);
                    }
                }
            }
        }
        for intent in Intent::ALL {
            if !defs.contains_key(&intent) {
                loader.push("-", Some(intent.name()), "intent is not defined".into());
            }
        }
        if !loader.problems.is_empty() {
            return Err(CatalogError::Invalid(loader.problems));
        }
        let intents = Intent::ALL.iter().filter_map(|i| defs.remove(i)).collect();
        Ok(Catalog {
            intents,
            words,
            order_shapes,
            hash: hex::encode(hasher.finalize()),
        })
    }

    /// The definition of `intent` (every intent is present in a valid catalog).
    pub fn def(&self, intent: Intent) -> Option<&IntentDef> {
        self.intents.iter().find(|d| d.intent == intent)
    }

    /// Up to three example questions for the help card, in `locale`: those marked
    /// `help = true`, or else the first examples written in that language.
    pub fn examples(&self, intent: Intent, locale: Locale) -> Vec<String> {
        self.examples_where(intent, locale, |_| true)
    }

    /// [`Catalog::examples`] among the examples whose slots pass `keep` (the help card
    /// keeps only examples that name things the connected ERP has).
    pub fn examples_where(
        &self,
        intent: Intent,
        locale: Locale,
        keep: impl Fn(&Slots) -> bool,
    ) -> Vec<String> {
        let Some(def) = self.def(intent) else {
            return Vec::new();
        };
        let keep = &keep;
        let in_locale = || {
            def.examples
                .iter()
                .filter(move |e| Locale::detect(&e.text) == locale && keep(&e.slots))
        };
        let marked: Vec<String> = in_locale()
            .filter(|e| e.help)
            .take(3)
            .map(|e| e.text.clone())
            .collect();
        if !marked.is_empty() {
            return marked;
        }
        in_locale().take(3).map(|e| e.text.clone()).collect()
    }

    /// Hex SHA-256 of the files' contents in file-name order; identifies the rules in use
    /// in logs and `/readyz`.
    pub fn content_hash(&self) -> String {
        self.hash.clone()
    }
}

impl Catalog {
    /// The phrases of one word class (empty when the catalog has none).
    pub fn words(&self, class: &str) -> &[(String, String)] {
        self.words.get(class).map(Vec::as_slice).unwrap_or(&[])
    }
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn problem(file: &str, rule: Option<&str>, message: &str) -> Problem {
    Problem {
        file: file.to_string(),
        rule: rule.map(str::to_string),
        message: message.to_string(),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileSpec {
    version: u32,
    now: Option<String>,
    #[serde(default)]
    words: BTreeMap<String, BTreeMap<String, Vec<String>>>,
    #[serde(default)]
    order_shape: Vec<OrderShapeSpec>,
    #[serde(default)]
    intent: Vec<IntentSpec>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OrderShapeSpec {
    regex: String,
    canonical: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CueSpec {
    weight: f32,
    #[serde(default)]
    en: Vec<String>,
    #[serde(default)]
    zh: Vec<String>,
    #[serde(default)]
    ms: Vec<String>,
    #[serde(default)]
    vi: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct IntentSpec {
    name: String,
    sensitivity: Sensitivity,
    #[serde(default)]
    description: BTreeMap<String, String>,
    #[serde(default)]
    slots: Vec<SlotSpec>,
    #[serde(default)]
    cues: Vec<CueSpec>,
    #[serde(default)]
    evidence: BTreeMap<String, f32>,
    #[serde(default)]
    example: Vec<ExampleSpec>,
    #[serde(default)]
    counter_example: Vec<CounterSpec>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SlotSpec {
    name: String,
    #[serde(default)]
    required: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ExampleSpec {
    text: String,
    #[serde(default)]
    slots: toml::Table,
    #[serde(default)]
    help: bool,
    now: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CounterSpec {
    text: String,
    resolves_to: Option<String>,
    now: Option<String>,
}

/// Accumulates problems while turning specs into definitions.
#[derive(Default)]
struct Loader {
    problems: Vec<Problem>,
}

impl Loader {
    fn push(&mut self, file: &str, rule: Option<&str>, message: String) {
        self.problems.push(Problem {
            file: file.to_string(),
            rule: rule.map(str::to_string),
            message,
        });
    }

    fn intent(
        &mut self,
        file: &str,
        file_now: Option<Timestamp>,
        spec: IntentSpec,
    ) -> Option<IntentDef> {
        let Some(intent) = Intent::from_name(&spec.name) else {
            self.push(
                file,
                Some(&spec.name),
                "unknown intent name (see `Intent` for the list)".into(),
            );
            return None;
        };
        let rule = Some(spec.name.as_str());
        let mut slots = Vec::new();
        let mut seen = BTreeSet::new();
        for s in spec.slots {
            if !KNOWN_SLOTS.contains(&s.name.as_str()) {
                self.push(file, rule, format!("unknown slot `{}`", s.name));
            } else if !seen.insert(s.name.clone()) {
                self.push(file, rule, format!("slot `{}` declared twice", s.name));
            } else {
                slots.push(SlotDef {
                    name: s.name,
                    required: s.required,
                });
            }
        }
        let mut description = Descriptions::default();
        for (lang, text) in spec.description {
            match lang.as_str() {
                "en" => description.en = text,
                "zh-HK" => description.zh_hk = text,
                "zh-CN" => description.zh_cn = text,
                "ms" => description.ms = text,
                "vi" => description.vi = text,
                other => self.push(
                    file,
                    rule,
                    format!("unknown description language `{other}`"),
                ),
            }
        }
        let declared: BTreeSet<&str> = slots.iter().map(|s| s.name.as_str()).collect();
        let mut cues = Vec::new();
        for c in spec.cues {
            if !c.weight.is_finite() || c.weight.abs() > 100.0 {
                self.push(
                    file,
                    rule,
                    format!("cue weight {} is not between -100 and 100", c.weight),
                );
                continue;
            }
            for (lang, list) in [("en", c.en), ("zh", c.zh), ("ms", c.ms), ("vi", c.vi)] {
                for written in list {
                    let text = matching_form(&written);
                    if text.is_empty() {
                        self.push(file, rule, format!("empty cue in `{lang}`"));
                        continue;
                    }
                    cues.push(CueDef {
                        text,
                        written,
                        weight: c.weight,
                        lang: lang.to_string(),
                    });
                }
            }
        }
        if cues.is_empty() {
            self.push(file, rule, "intent has no cue".into());
        }
        for (kind, weight) in &spec.evidence {
            if !EVIDENCE_KINDS.contains(&kind.as_str()) {
                self.push(
                    file,
                    rule,
                    format!(
                        "unknown evidence kind `{kind}` ({})",
                        EVIDENCE_KINDS.join(", ")
                    ),
                );
            } else if !weight.is_finite() || weight.abs() > 100.0 {
                self.push(
                    file,
                    rule,
                    format!("evidence weight {weight} is not between -100 and 100"),
                );
            }
        }
        let evidence = spec.evidence;
        let mut examples = Vec::new();
        for (i, e) in spec.example.into_iter().enumerate() {
            let label = format!("{} example {}", spec.name, i + 1);
            let Some(now) = self.example_now(file, &label, e.now.as_deref(), file_now) else {
                continue;
            };
            if e.text.trim().is_empty() {
                self.push(file, Some(&label), "empty example text".into());
                continue;
            }
            if let Some(slots) = self.example_slots(file, &label, &declared, e.slots) {
                examples.push(Example {
                    text: e.text,
                    slots,
                    help: e.help,
                    now,
                });
            }
        }
        if examples.is_empty() {
            self.push(file, rule, "intent has no example".into());
        }
        let mut counter_examples = Vec::new();
        for (i, c) in spec.counter_example.into_iter().enumerate() {
            let label = format!("{} counter-example {}", spec.name, i + 1);
            let Some(now) = self.example_now(file, &label, c.now.as_deref(), file_now) else {
                continue;
            };
            let expect = match c.resolves_to.as_deref() {
                None => Expect::NotThis,
                Some("none") => Expect::Nothing,
                Some(name) => match Intent::from_name(name) {
                    Some(other) if other == intent => {
                        self.push(
                            file,
                            Some(&label),
                            "a counter-example cannot resolve to its own intent".into(),
                        );
                        continue;
                    }
                    Some(other) => Expect::Intent(other),
                    None => {
                        self.push(
                            file,
                            Some(&label),
                            format!("resolves_to `{name}` is not an intent or \"none\""),
                        );
                        continue;
                    }
                },
            };
            counter_examples.push(CounterExample {
                text: c.text,
                expect,
                now,
            });
        }
        Some(IntentDef {
            intent,
            sensitivity: spec.sensitivity,
            slots,
            description,
            cues,
            evidence,
            examples,
            counter_examples,
            file: file.to_string(),
        })
    }

    fn example_now(
        &mut self,
        file: &str,
        label: &str,
        own: Option<&str>,
        file_now: Option<Timestamp>,
    ) -> Option<Timestamp> {
        match own {
            Some(s) => match s.parse::<Timestamp>() {
                Ok(t) => Some(t),
                Err(e) => {
                    self.push(
                        file,
                        Some(label),
                        format!("`now` is not an RFC 3339 time: {e}"),
                    );
                    None
                }
            },
            None => {
                if file_now.is_none() {
                    self.push(
                        file,
                        Some(label),
                        "no `now` in the file or the example".into(),
                    );
                }
                file_now
            }
        }
    }

    fn example_slots(
        &mut self,
        file: &str,
        label: &str,
        declared: &BTreeSet<&str>,
        table: toml::Table,
    ) -> Option<Slots> {
        let mut ok = true;
        for key in table.keys() {
            if !KNOWN_SLOTS.contains(&key.as_str()) {
                self.push(file, Some(label), format!("unknown slot `{key}`"));
                ok = false;
            } else if !declared.contains(key.as_str()) {
                self.push(
                    file,
                    Some(label),
                    format!("slot `{key}` is not declared by the intent"),
                );
                ok = false;
            }
        }
        if !ok {
            return None;
        }
        match Slots::deserialize(toml::Value::Table(table)) {
            Ok(slots) => Some(slots),
            Err(e) => {
                self.push(
                    file,
                    Some(label),
                    format!("bad slot value: {}", e.message()),
                );
                None
            }
        }
    }
}

/// The form cues, words and vocabulary are compared in: NFKC and width folding as for
/// messages, Traditional to Simplified, diacritics removed, ASCII lower case, one space
/// between words.
pub fn matching_form(text: &str) -> String {
    let folded = super::fold::fold_str(&super::normalize::normalize_width(text));
    super::normalize::collapse_whitespace(&folded.to_ascii_lowercase())
}
