//! The LLM fallback: a message no rule understood, mapped by a language model to one
//! catalog intent and its slots.
//!
//! The fallback is fenced on every side, because a model's output is as untrusted as the
//! user's input that shaped it:
//!
//! - **What it sees.** Only the message, with phone numbers, e-mail addresses and
//!   identity numbers removed ([`redact`]), and the catalog (intent names, descriptions,
//!   slot names). Never ERP data, never the directory, never who is asking. The message
//!   travels as its own user message, never spliced into the instructions.
//! - **What it may say.** One intent and its slots, in a schema generated from the
//!   catalog ([`schema`]). The answer is validated like user input ([`validate`]): an
//!   unknown intent, a slot the intent does not declare, a value of the wrong type, an
//!   over-long text or an impossible period makes the message "not understood". It never
//!   produces figures; the pipeline fetches them after policy has approved the intent.
//! - **What it costs.** A timeout (default 4 s), a cache per normalized text and day, a
//!   per-user rate limit and a circuit breaker bound the calls; every failure degrades to
//!   "not understood" with the help card.
//!
//! The endpoint is any OpenAI-compatible `POST {base_url}/chat/completions`: OpenAI,
//! Azure OpenAI (`auth = "api-key"`), Qwen through DashScope's compatible mode, DeepSeek,
//! a local Ollama or vLLM. With `mode = "tools"` the schema is a forced function call;
//! `mode = "json"` asks for a JSON object for servers without tool calling. Requests go
//! through `async-openai` (its OpenAI and Azure configurations carry the URL and key
//! conventions) with the request and answer as plain JSON, so both answer shapes (tool
//! call, JSON content) are read by the same code; its retry-on-429 backoff is switched
//! off, so the configured timeout is the only wait.
//!
//! The prompt is a template in `prompts/` ([`PromptTemplate`]) whose placeholders are
//! declared in its header and checked at start-up and by `askerp check`.

use std::collections::{BTreeSet, HashMap};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{LazyLock, Mutex};
use std::time::{Duration, Instant};

use async_openai::config::{AzureConfig, OpenAIConfig};
use async_openai::error::OpenAIError;
use jiff::Zoned;
use jiff::civil::Date;
use regex::Regex;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::catalog::KNOWN_SLOTS;
use super::{BreakdownBy, Catalog, Intent, LeaveType, Locale, Period, Slots};
use crate::config::{LlmAuth, LlmConfig, LlmMode};

/// The built-in prompt; `llm.prompt` replaces it.
const BUILTIN_PROMPT: &str = include_str!("../../prompts/fallback.md");

/// The placeholders askerp fills, each of which a template must declare and use.
pub const PLACEHOLDERS: [&str; 4] = ["today", "time_zone", "intents", "schema"];

/// The function the model is made to call in `tools` mode.
const TOOL_NAME: &str = "resolve_question";

/// The largest `limit` ("top N items") the model may ask for.
const MAX_LIMIT: u64 = 50;

/// Messages longer than this are not sent to the model.
const MAX_MESSAGE_CHARS: usize = 500;

/// Why the fallback could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum LlmError {
    #[error("prompt template {name}: {message}")]
    Prompt { name: String, message: String },
    #[error("LLM client: {0}")]
    Client(String),
}

/// Why one call to the model produced nothing usable (logged, never shown to users).
#[derive(Debug, thiserror::Error)]
enum CallError {
    #[error("no answer within {0} ms")]
    Timeout(u64),
    #[error("the API refused the request: {0}")]
    Api(String),
    #[error("request failed: {0}")]
    Transport(String),
    #[error("not a chat completion: {0}")]
    Malformed(String),
}

/// A prompt template: a `+++` header declaring `placeholders = [...]`, then the body
/// using them as `{{name}}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PromptTemplate {
    body: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Header {
    placeholders: Vec<String>,
}

static PLACEHOLDER: LazyLock<Option<Regex>> =
    LazyLock::new(|| Regex::new(r"\{\{\s*([^{}]*?)\s*\}\}").ok());

impl PromptTemplate {
    /// The built-in `prompts/fallback.md`.
    pub fn builtin() -> Result<PromptTemplate, LlmError> {
        PromptTemplate::parse("prompts/fallback.md", BUILTIN_PROMPT)
    }

    pub fn load(path: &Path) -> Result<PromptTemplate, LlmError> {
        let name = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| LlmError::Prompt {
            name: name.clone(),
            message: e.to_string(),
        })?;
        PromptTemplate::parse(&name, &text)
    }

    /// Parses and checks a template: every placeholder the body uses is declared, every
    /// declared one is used, and the declared set is exactly [`PLACEHOLDERS`].
    pub fn parse(name: &str, text: &str) -> Result<PromptTemplate, LlmError> {
        let fail = |message: String| LlmError::Prompt {
            name: name.to_string(),
            message,
        };
        let text = text.replace("\r\n", "\n");
        let (header, body) = text
            .strip_prefix("+++\n")
            .and_then(|rest| rest.split_once("\n+++\n"))
            .ok_or_else(|| {
                fail("must start with a `+++` header declaring `placeholders = [...]`".into())
            })?;
        let header: Header =
            toml::from_str(header).map_err(|e| fail(format!("header: {}", e.message())))?;
        let declared: BTreeSet<String> = header.placeholders.iter().cloned().collect();
        let mut problems = Vec::new();
        if declared.len() != header.placeholders.len() {
            problems.push("declares a placeholder twice".to_string());
        }
        let regex = PLACEHOLDER
            .as_ref()
            .ok_or_else(|| fail("placeholder pattern".into()))?;
        let used: BTreeSet<String> = regex
            .captures_iter(body)
            .filter_map(|c| c.get(1).map(|m| m.as_str().to_string()))
            .collect();
        for u in used.difference(&declared) {
            problems.push(format!("uses {{{{{u}}}}} without declaring it"));
        }
        for d in declared.difference(&used) {
            problems.push(format!("declares {{{{{d}}}}} but never uses it"));
        }
        for d in &declared {
            if !PLACEHOLDERS.contains(&d.as_str()) {
                problems.push(format!(
                    "declares unknown placeholder {{{{{d}}}}} (known: {})",
                    PLACEHOLDERS.join(", ")
                ));
            }
        }
        for k in PLACEHOLDERS {
            if !declared.contains(k) {
                problems.push(format!("is missing placeholder {{{{{k}}}}}"));
            }
        }
        if !problems.is_empty() {
            return Err(fail(problems.join("; ")));
        }
        Ok(PromptTemplate {
            body: body.to_string(),
        })
    }

    /// Fills the placeholders in one pass (a value containing `{{…}}` stays as it is).
    pub fn render(&self, values: &[(&str, &str)]) -> String {
        let Some(regex) = PLACEHOLDER.as_ref() else {
            return self.body.clone();
        };
        regex
            .replace_all(&self.body, |c: &regex::Captures<'_>| {
                let name = c.get(1).map(|m| m.as_str()).unwrap_or_default();
                values
                    .iter()
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| (*v).to_string())
                    .unwrap_or_default()
            })
            .into_owned()
    }
}

/// The JSON schema of an answer, generated from the catalog: an intent name (or `none`)
/// and the slots, each with its type.
pub fn schema(catalog: &Catalog, max_chars: usize) -> Value {
    let mut names: Vec<&str> = catalog.intents.iter().map(|d| d.intent.name()).collect();
    names.push("none");
    let mut slots = Map::new();
    for slot in KNOWN_SLOTS {
        if catalog.intents.iter().any(|d| d.has_slot(slot)) {
            slots.insert(slot.to_string(), slot_schema(slot, max_chars));
        }
    }
    json!({
        "type": "object",
        "properties": {
            "intent": {"type": "string", "enum": names},
            "slots": {"type": "object", "properties": slots, "additionalProperties": false},
        },
        "required": ["intent", "slots"],
        "additionalProperties": false,
    })
}

fn slot_schema(slot: &str, max_chars: usize) -> Value {
    match slot {
        "period" => json!({
            "type": "object",
            "properties": {
                "start": {"type": "string", "format": "date"},
                "end": {"type": "string", "format": "date"},
            },
            "required": ["start", "end"],
            "additionalProperties": false,
        }),
        "leave_type" => {
            let names: Vec<&str> = LeaveType::ALL.iter().map(|t| t.name()).collect();
            json!({"type": "string", "enum": names})
        }
        "limit" => json!({"type": "integer", "minimum": 1, "maximum": MAX_LIMIT}),
        "breakdown" => {
            let names: Vec<&str> = BreakdownBy::ALL.iter().map(|b| b.name()).collect();
            json!({"type": "string", "enum": names})
        }
        _ => json!({"type": "string", "maxLength": max_chars}),
    }
}

/// The catalog as the prompt lists it: per intent its description, slots and an example.
pub fn describe_intents(catalog: &Catalog) -> String {
    let mut out = String::new();
    for def in &catalog.intents {
        let slots: Vec<String> = def
            .slots
            .iter()
            .map(|s| {
                if s.required {
                    format!("{} (required)", s.name)
                } else {
                    s.name.clone()
                }
            })
            .collect();
        let slots = if slots.is_empty() {
            "none".to_string()
        } else {
            slots.join(", ")
        };
        out.push_str(&format!(
            "- {}: {}. Slots: {}.",
            def.intent.name(),
            def.description.get(Locale::En).trim_end_matches('.'),
            slots
        ));
        if let Some(example) = catalog.examples(def.intent, Locale::En).first() {
            out.push_str(&format!(" Example: {}", serde_json::json!(example)));
        }
        out.push('\n');
    }
    out
}

/// Checks a model's answer like user input. `Ok(None)`: the model says the message is
/// none of the catalog's questions. `Err`: the answer is unusable (the reason is logged).
pub fn validate(
    answer: &Value,
    catalog: &Catalog,
    today: Date,
    max_chars: usize,
) -> Result<Option<(Intent, Slots)>, String> {
    let obj = answer
        .as_object()
        .ok_or("the answer is not a JSON object")?;
    if let Some(k) = obj.keys().find(|k| *k != "intent" && *k != "slots") {
        return Err(format!("unexpected field {}", short(k)));
    }
    let name = match obj.get("intent") {
        Some(Value::String(s)) => s.as_str(),
        _ => return Err("no intent name".into()),
    };
    if name == "none" {
        return Ok(None);
    }
    let intent =
        Intent::from_name(name).ok_or_else(|| format!("unknown intent {}", short(name)))?;
    let def = catalog
        .def(intent)
        .ok_or_else(|| format!("intent {intent} is not in the catalog"))?;
    let mut slots = Slots::default();
    match obj.get("slots") {
        None | Some(Value::Null) => {}
        Some(Value::Object(given)) => {
            for (slot, value) in given {
                if !def.has_slot(slot) {
                    return Err(format!("{intent} has no slot {}", short(slot)));
                }
                if value.is_null() {
                    continue;
                }
                fill(&mut slots, slot, value, today, max_chars)
                    .map_err(|why| format!("slot {slot}: {why}"))?;
            }
        }
        Some(_) => return Err("slots is not an object".into()),
    }
    Ok(Some((intent, slots)))
}

fn fill(
    slots: &mut Slots,
    slot: &str,
    value: &Value,
    today: Date,
    max_chars: usize,
) -> Result<(), String> {
    match slot {
        "period" => slots.period = Some(period(value, today)?),
        "leave_type" => {
            let name = value.as_str().ok_or("not a string")?;
            slots.leave_type = Some(LeaveType::from_name(name).ok_or("not a leave type")?);
        }
        "breakdown" => {
            let name = value.as_str().ok_or("not a string")?;
            slots.breakdown = Some(BreakdownBy::from_name(name).ok_or("not a breakdown")?);
        }
        "limit" => {
            let n = value.as_u64().ok_or("not a positive integer")?;
            if !(1..=MAX_LIMIT).contains(&n) {
                return Err(format!("{n} is outside 1..={MAX_LIMIT}"));
            }
            slots.limit = u32::try_from(n).ok();
        }
        _ => {
            let text = value.as_str().ok_or("not a string")?.trim();
            if text.is_empty() {
                return Err("empty".into());
            }
            if text.chars().count() > max_chars {
                return Err(format!("longer than {max_chars} characters"));
            }
            if text.chars().any(char::is_control) {
                return Err("contains control characters".into());
            }
            let text = Some(text.to_string());
            match slot {
                "item" => slots.item = text,
                "warehouse" => slots.warehouse = text,
                "region" => slots.region = text,
                "store" => slots.store = text,
                "customer" => slots.customer = text,
                "order" => slots.order = text,
                "employee" => slots.employee = text,
                other => return Err(format!("unknown slot {other}")),
            }
        }
    }
    Ok(())
}

/// A period the model wrote as dates: both ISO dates, start ≤ end, within ten years
/// before today and one year after.
fn period(value: &Value, today: Date) -> Result<Period, String> {
    let obj = value.as_object().ok_or("not an object")?;
    if obj.len() != 2 {
        return Err("must have exactly start and end".into());
    }
    let date = |key: &str| -> Result<Date, String> {
        obj.get(key)
            .and_then(Value::as_str)
            .ok_or_else(|| format!("{key} missing"))?
            .parse::<Date>()
            .map_err(|_| format!("{key} is not an ISO date"))
    };
    let (start, end) = (date("start")?, date("end")?);
    if start > end {
        return Err("starts after it ends".into());
    }
    let earliest = today
        .checked_sub(jiff::Span::new().years(10))
        .unwrap_or(Date::MIN);
    let latest = today
        .checked_add(jiff::Span::new().years(1))
        .unwrap_or(Date::MAX);
    if start < earliest || end > latest {
        return Err("outside the ten years before and the year after today".into());
    }
    Ok(Period { start, end })
}

/// Quotes a string from the model for a log line, cut to a sane length.
fn short(s: &str) -> String {
    let cut: String = s.chars().take(40).collect();
    format!("{cut:?}")
}

static REDACTIONS: LazyLock<Vec<(Regex, &'static str)>> = LazyLock::new(|| {
    [
        (r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}", "[email]"),
        // Hong Kong identity card: one or two letters, six digits, check digit.
        (r"[A-Za-z]{1,2}[0-9]{6}\s?\(?[0-9Aa]\)?", "[id]"),
    ]
    .into_iter()
    .filter_map(|(p, r)| Regex::new(p).ok().map(|re| (re, r)))
    .collect()
});

static NUMBER_RUN: LazyLock<Option<Regex>> =
    LazyLock::new(|| Regex::new(r"(?:[A-Za-z]+-)?\+?[0-9][0-9 ()-]{6,}[0-9Xx]").ok());

static ISO_DATE: LazyLock<Option<Regex>> =
    LazyLock::new(|| Regex::new(r"^[0-9]{4}[-/][0-9]{1,2}[-/][0-9]{1,2}$").ok());

/// Removes personal identifiers before text leaves askerp: e-mail addresses, Hong Kong
/// identity numbers, and runs of eight or more digits (phone numbers, mainland identity
/// and card numbers). Document numbers that start with letters (`SO-2026-00123`) and
/// ISO dates stay, since they are what the question is about.
pub fn redact(text: &str) -> String {
    let mut out = text.to_string();
    for (re, replacement) in REDACTIONS.iter() {
        out = re.replace_all(&out, *replacement).into_owned();
    }
    if let Some(re) = NUMBER_RUN.as_ref() {
        out = re
            .replace_all(&out, |c: &regex::Captures<'_>| {
                let m = c.get(0).map(|m| m.as_str()).unwrap_or_default();
                let digits = m.chars().filter(char::is_ascii_digit).count();
                let document = m.starts_with(|ch: char| ch.is_ascii_alphabetic());
                let date = ISO_DATE.as_ref().is_some_and(|d| d.is_match(m.trim()));
                if digits >= 8 && !document && !date {
                    "[number]".to_string()
                } else {
                    m.to_string()
                }
            })
            .into_owned();
    }
    out
}

/// The cache key: the redacted text with case, spacing and end punctuation folded.
fn cache_key(redacted: &str, today: Date) -> String {
    let folded: Vec<String> = redacted.split_whitespace().map(str::to_lowercase).collect();
    let text = folded.join(" ");
    let text = text.trim_matches(|c: char| c.is_ascii_punctuation() || "？！。，".contains(c));
    format!("{today}|{text}")
}

/// Counters for `/metrics`.
#[derive(Debug, Default)]
pub struct LlmStats {
    pub calls: AtomicU64,
    pub failures: AtomicU64,
    pub timeouts: AtomicU64,
    pub invalid: AtomicU64,
    pub cache_hits: AtomicU64,
    pub rate_limited: AtomicU64,
    pub breaker_rejected: AtomicU64,
    pub understood: AtomicU64,
    /// Sum of call latencies; with `calls`, the mean latency.
    pub latency_ms: AtomicU64,
}

impl LlmStats {
    /// Name and value of every counter (rendered as `askerp_llm_<name>_total`).
    pub fn counters(&self) -> Vec<(&'static str, u64)> {
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        vec![
            ("llm_calls", get(&self.calls)),
            ("llm_failures", get(&self.failures)),
            ("llm_timeouts", get(&self.timeouts)),
            ("llm_invalid_answers", get(&self.invalid)),
            ("llm_cache_hits", get(&self.cache_hits)),
            ("llm_rate_limited", get(&self.rate_limited)),
            ("llm_breaker_rejected", get(&self.breaker_rejected)),
            ("llm_understood", get(&self.understood)),
            ("llm_latency_ms", get(&self.latency_ms)),
        ]
    }
}

impl LlmStats {
    /// The counters in the Prometheus text format, for `/metrics`.
    pub fn render(&self) -> String {
        let mut out = String::new();
        for (name, v) in self.counters() {
            let help = match name {
                "llm_calls" => "Calls made to the LLM fallback.",
                "llm_failures" => "LLM calls that failed (transport or HTTP error).",
                "llm_timeouts" => "LLM calls that ran out of time.",
                "llm_invalid_answers" => "LLM answers that did not fit the schema.",
                "llm_cache_hits" => "Questions the LLM fallback answered from its cache.",
                "llm_rate_limited" => "Questions not sent to the LLM because of a per-user limit.",
                "llm_breaker_rejected" => {
                    "Questions not sent to the LLM because its circuit was open."
                }
                "llm_understood" => "Questions the LLM fallback turned into an intent.",
                "llm_latency_ms" => {
                    "Sum of LLM call latencies in milliseconds; divided by the calls, the mean."
                }
                _ => "LLM fallback counter.",
            };
            let metric = format!("askerp_{name}_total");
            crate::telemetry::family(&mut out, &metric, "counter", help);
            out.push_str(&format!("{metric} {v}\n"));
        }
        out
    }
}

fn bump(a: &AtomicU64) {
    a.fetch_add(1, Ordering::Relaxed);
}

/// What the fallback made of a message.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Understood {
        intent: Intent,
        slots: Slots,
    },
    /// With the reason, for the audit record.
    NotUnderstood(&'static str),
}

/// Consecutive failures open the breaker for a cool-down; then one trial call decides.
#[derive(Debug, Default)]
struct Breaker {
    failures: u32,
    open_until: Option<Instant>,
    trial_running: bool,
}

impl Breaker {
    fn allow(&mut self, now: Instant) -> bool {
        match self.open_until {
            None => true,
            Some(until) if now < until => false,
            Some(_) if self.trial_running => false,
            Some(_) => {
                self.trial_running = true;
                true
            }
        }
    }

    fn success(&mut self) {
        *self = Breaker::default();
    }

    fn failure(&mut self, now: Instant, threshold: u32, cooldown: Duration) {
        self.failures = self.failures.saturating_add(1);
        self.trial_running = false;
        if self.failures >= threshold {
            self.open_until = Some(now + cooldown);
        }
    }
}

/// The fallback, ready to call: client, prompt, schema, cache, limits.
pub struct LlmFallback {
    config: LlmConfig,
    client: ModelClient,
    prompt: PromptTemplate,
    schema: Value,
    intents: String,
    cache: moka::future::Cache<String, Option<(Intent, Slots)>>,
    rates: Mutex<HashMap<String, (Instant, u32)>>,
    breaker: Mutex<Breaker>,
    pub stats: LlmStats,
    /// Redis, when replicas share the cache and the per-user limit.
    shared: Option<crate::state::RedisStore>,
}

impl LlmFallback {
    pub fn new(
        config: &LlmConfig,
        prompt: PromptTemplate,
        catalog: &Catalog,
    ) -> Result<LlmFallback, LlmError> {
        let timeout = Duration::from_millis(config.timeout_ms);
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| LlmError::Client(e.to_string()))?;
        Ok(LlmFallback {
            client: ModelClient::new(config, http),
            prompt,
            schema: schema(catalog, config.max_slot_chars),
            intents: describe_intents(catalog),
            cache: moka::future::Cache::builder()
                .max_capacity(10_000)
                .time_to_live(Duration::from_secs(config.cache_ttl_secs.max(1)))
                .build(),
            rates: Mutex::new(HashMap::new()),
            breaker: Mutex::new(Breaker::default()),
            stats: LlmStats::default(),
            shared: None,
            config: config.clone(),
        })
    }

    /// Shares the answer cache and the per-user limit with the other replicas through
    /// Redis (each replica keeps its own copy of what it read, too).
    pub fn with_shared_state(mut self, shared: Option<crate::state::RedisStore>) -> LlmFallback {
        self.shared = shared;
        self
    }

    /// The Redis key of a cache key: hashed, so no question text sits in Redis keys.
    fn shared_key(store: &crate::state::RedisStore, key: &str) -> String {
        use sha2::Digest;
        store.key(
            "llm",
            &hex::encode(&sha2::Sha256::digest(key.as_bytes())[..16]),
        )
    }

    /// The configured model name, for the audit record.
    pub fn model(&self) -> &str {
        &self.config.model
    }

    /// Asks the model what `text` (from `user`, at `now`) means. Never fails: anything
    /// that goes wrong is "not understood".
    #[tracing::instrument(name = "llm", skip_all)]
    pub async fn resolve(&self, catalog: &Catalog, text: &str, user: &str, now: &Zoned) -> Outcome {
        if text.chars().count() > MAX_MESSAGE_CHARS {
            return Outcome::NotUnderstood("message too long for the fallback");
        }
        let today = now.date();
        let redacted = redact(text);
        let key = cache_key(&redacted, today);
        if let Some(cached) = self.cache.get(&key).await {
            bump(&self.stats.cache_hits);
            return outcome(cached);
        }
        if let Some(store) = &self.shared {
            match store
                .get_json::<Option<(Intent, Slots)>>(&Self::shared_key(store, &key))
                .await
            {
                Ok(Some(found)) => {
                    bump(&self.stats.cache_hits);
                    self.cache.insert(key, found.clone()).await;
                    return outcome(found);
                }
                Ok(None) => {}
                Err(e) => {
                    store.stats.fallback("llm_cache");
                    tracing::warn!(error = %e, "Shared LLM cache unavailable.");
                }
            }
        }
        // Identical messages arriving together (the 9 a.m. burst) wait for one call.
        let fresh = self.fresh(catalog, &redacted, user, now);
        match self.cache.try_get_with(key.clone(), fresh).await {
            Ok(found) => {
                if let Some(store) = &self.shared {
                    let ttl = Duration::from_secs(self.config.cache_ttl_secs.max(1));
                    if let Err(e) = store
                        .put_json(&Self::shared_key(store, &key), &found, ttl)
                        .await
                    {
                        store.stats.fallback("llm_cache");
                        tracing::warn!(error = %e, "LLM answer not shared with the other replicas.");
                    }
                }
                outcome(found)
            }
            Err(refused) => Outcome::NotUnderstood(*refused),
        }
    }

    /// One call, when the user's budget and the breaker allow it. `Ok(None)` (cached):
    /// the model found no intent or gave an unusable answer. `Err` (not cached): no call
    /// was made, or it failed.
    async fn fresh(
        &self,
        catalog: &Catalog,
        redacted: &str,
        user: &str,
        now: &Zoned,
    ) -> Result<Option<(Intent, Slots)>, &'static str> {
        if !self.within_shared_rate(user).await {
            bump(&self.stats.rate_limited);
            return Err("fallback rate limit");
        }
        let allowed = self
            .breaker
            .lock()
            .map(|mut b| b.allow(Instant::now()))
            .unwrap_or(false);
        if !allowed {
            bump(&self.stats.breaker_rejected);
            return Err("fallback circuit open");
        }
        bump(&self.stats.calls);
        let started = Instant::now();
        let result = self.call(redacted, now).await;
        let ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.stats.latency_ms.fetch_add(ms, Ordering::Relaxed);
        let completion = match result {
            Ok(v) => {
                if let Ok(mut b) = self.breaker.lock() {
                    b.success();
                }
                v
            }
            Err(e) => {
                bump(&self.stats.failures);
                if matches!(e, CallError::Timeout(_)) {
                    bump(&self.stats.timeouts);
                }
                if let Ok(mut b) = self.breaker.lock() {
                    b.failure(
                        Instant::now(),
                        self.config.breaker_failures,
                        Duration::from_secs(self.config.breaker_cooldown_secs),
                    );
                }
                tracing::warn!(error = %e, latency_ms = ms, "LLM fallback failed.");
                return Err("fallback failed");
            }
        };
        let checked = answer_of(&completion)
            .and_then(|answer| validate(&answer, catalog, now.date(), self.config.max_slot_chars));
        match checked {
            Ok(found) => {
                if found.is_some() {
                    bump(&self.stats.understood);
                }
                tracing::info!(
                    latency_ms = ms,
                    understood = found.is_some(),
                    "LLM fallback answered."
                );
                Ok(found)
            }
            Err(why) => {
                bump(&self.stats.invalid);
                tracing::warn!(reason = %why, "LLM answer refused.");
                Ok(None)
            }
        }
    }

    /// The per-user limit across replicas (Redis), or this replica's when there is no
    /// Redis or it does not answer.
    async fn within_shared_rate(&self, user: &str) -> bool {
        if let Some(store) = &self.shared {
            let key = store.key("llmrate", user);
            match store.count_in_window(&key, Duration::from_secs(60)).await {
                Ok(n) => return n <= u64::from(self.config.rate_per_user_per_minute),
                Err(e) => {
                    store.stats.fallback("llm_rate");
                    tracing::warn!(error = %e, "Shared LLM limit unavailable; this replica counts alone.");
                }
            }
        }
        self.within_rate(user)
    }

    /// Counts a call against the user's budget for the current minute.
    fn within_rate(&self, user: &str) -> bool {
        let Ok(mut rates) = self.rates.lock() else {
            return false;
        };
        let now = Instant::now();
        let minute = Duration::from_secs(60);
        if rates.len() > 10_000 {
            rates.retain(|_, (start, _)| now.duration_since(*start) < minute);
        }
        let entry = rates.entry(user.to_string()).or_insert((now, 0));
        if now.duration_since(entry.0) >= minute {
            *entry = (now, 0);
        }
        if entry.1 >= self.config.rate_per_user_per_minute {
            return false;
        }
        entry.1 += 1;
        true
    }

    /// One chat-completions request, bounded by the timeout.
    async fn call(&self, redacted: &str, now: &Zoned) -> Result<Value, CallError> {
        let today = now.date().to_string();
        let tz = now.time_zone().iana_name().unwrap_or("UTC").to_string();
        let schema = serde_json::to_string_pretty(&self.schema).unwrap_or_default();
        let system = self.prompt.render(&[
            ("today", &today),
            ("time_zone", &tz),
            ("intents", &self.intents),
            ("schema", &schema),
        ]);
        let mut body = json!({
            "model": self.config.model,
            "temperature": 0,
            "messages": [
                {"role": "system", "content": system},
                {"role": "user", "content": redacted},
            ],
        });
        match self.config.mode {
            LlmMode::Tools => {
                body["tools"] = json!([{
                    "type": "function",
                    "function": {
                        "name": TOOL_NAME,
                        "description": "Record which catalog question the message asks, with its slots.",
                        "parameters": self.schema,
                    },
                }]);
                body["tool_choice"] = json!({"type": "function", "function": {"name": TOOL_NAME}});
            }
            LlmMode::Json => body["response_format"] = json!({"type": "json_object"}),
        }
        let timeout = Duration::from_millis(self.config.timeout_ms);
        let exchange = async {
            let answer: Result<Value, OpenAIError> = match &self.client {
                ModelClient::OpenAi(c) => c.chat().create_byot(body).await,
                ModelClient::Azure(c) => c.chat().create_byot(body).await,
            };
            answer.map_err(call_error)
        };
        match tokio::time::timeout(timeout, exchange).await {
            Ok(Ok(v)) if v.pointer("/choices/0/message").is_some() => Ok(v),
            Ok(Ok(_)) => Err(CallError::Malformed("no choices[0].message".into())),
            Ok(Err(CallError::Transport(e))) if e.contains("timed out") => {
                Err(CallError::Timeout(self.config.timeout_ms))
            }
            Ok(Err(e)) => Err(e),
            Err(_) => Err(CallError::Timeout(self.config.timeout_ms)),
        }
    }
}

/// The API client for the configured auth convention.
enum ModelClient {
    /// `{base_url}/chat/completions` with `Authorization: Bearer <key>`.
    OpenAi(async_openai::Client<OpenAIConfig>),
    /// Azure OpenAI: `{base_url}/openai/deployments/{model}/chat/completions?api-version=…`
    /// with `api-key: <key>`.
    Azure(async_openai::Client<AzureConfig>),
}

impl ModelClient {
    fn new(config: &LlmConfig, http: reqwest::Client) -> ModelClient {
        // A 429 is a failure like any other here: the breaker and the "not understood"
        // card handle it, and the user is not kept waiting by retries.
        let no_retries = backoff::ExponentialBackoff {
            max_elapsed_time: Some(Duration::ZERO),
            ..backoff::ExponentialBackoff::default()
        };
        let base = config.base_url.trim_end_matches('/');
        let key = config.api_key.expose();
        match config.auth {
            LlmAuth::Bearer => ModelClient::OpenAi(
                async_openai::Client::with_config(
                    OpenAIConfig::new().with_api_base(base).with_api_key(key),
                )
                .with_http_client(http)
                .with_backoff(no_retries),
            ),
            LlmAuth::ApiKey => ModelClient::Azure(
                async_openai::Client::with_config(
                    AzureConfig::new()
                        .with_api_base(base)
                        .with_api_key(key)
                        .with_deployment_id(&config.model)
                        .with_api_version(&config.api_version),
                )
                .with_http_client(http)
                .with_backoff(no_retries),
            ),
        }
    }
}

/// Sorts a client error into the fallback's failure kinds (URLs and keys left out).
fn call_error(e: OpenAIError) -> CallError {
    match e {
        OpenAIError::Reqwest(e) if e.is_timeout() => CallError::Transport("timed out".into()),
        OpenAIError::Reqwest(e) => CallError::Transport(e.without_url().to_string()),
        OpenAIError::ApiError(api) => CallError::Api(api.message.chars().take(200).collect()),
        OpenAIError::JSONDeserialize(e) => CallError::Malformed(e.to_string()),
        other => CallError::Transport(other.to_string().chars().take(200).collect()),
    }
}

fn outcome(found: Option<(Intent, Slots)>) -> Outcome {
    match found {
        Some((intent, slots)) => Outcome::Understood { intent, slots },
        None => Outcome::NotUnderstood("fallback found no intent"),
    }
}

/// The model's answer inside a chat completion: the first tool call's arguments (a JSON
/// string on the wire), or else the message content as JSON (possibly in a code fence).
fn answer_of(completion: &Value) -> Result<Value, String> {
    let message = completion
        .pointer("/choices/0/message")
        .ok_or("no message")?;
    if let Some(args) = message.pointer("/tool_calls/0/function/arguments") {
        return match args {
            Value::String(s) => serde_json::from_str(s).map_err(|e| format!("arguments: {e}")),
            Value::Object(_) => Ok(args.clone()),
            _ => Err("arguments are neither a string nor an object".into()),
        };
    }
    let content = message
        .get("content")
        .and_then(Value::as_str)
        .ok_or("neither a tool call nor content")?;
    let trimmed = content.trim();
    let unfenced = trimmed
        .strip_prefix("```json")
        .or_else(|| trimmed.strip_prefix("```"))
        .and_then(|s| s.strip_suffix("```"))
        .unwrap_or(trimmed);
    serde_json::from_str(unfenced.trim()).map_err(|e| format!("content: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn catalog() -> Catalog {
        Catalog::builtin().expect("catalog")
    }

    fn today() -> Date {
        jiff::civil::date(2026, 11, 21)
    }

    #[test]
    fn the_builtin_prompt_declares_what_it_uses() {
        let p = PromptTemplate::builtin().expect("valid");
        let text = p.render(&[
            ("today", "2026-11-21"),
            ("time_zone", "Asia/Hong_Kong"),
            ("intents", "- help"),
            ("schema", "{}"),
        ]);
        assert!(text.contains("Today is 2026-11-21"));
        assert!(!text.contains("{{"));
    }

    #[test]
    fn missing_extra_and_unknown_placeholders_are_errors() {
        let head = "+++\nplaceholders = [\"today\", \"time_zone\", \"intents\", \"schema\"]\n+++\n";
        let all = "{{today}} {{time_zone}} {{intents}} {{schema}}";
        assert!(PromptTemplate::parse("ok", &format!("{head}{all}")).is_ok());
        let unused = PromptTemplate::parse(
            "t",
            &format!("{head}{{{{today}}}} {{{{intents}}}} {{{{schema}}}}"),
        )
        .expect_err("declared, unused");
        assert!(unused.to_string().contains("never uses it"), "{unused}");
        let undeclared = PromptTemplate::parse("t", &format!("{head}{all} {{{{user}}}}"))
            .expect_err("undeclared");
        assert!(
            undeclared.to_string().contains("without declaring"),
            "{undeclared}"
        );
        let missing = PromptTemplate::parse("t", "+++\nplaceholders = [\"today\"]\n+++\n{{today}}")
            .expect_err("missing");
        assert!(
            missing.to_string().contains("missing placeholder"),
            "{missing}"
        );
        assert!(PromptTemplate::parse("t", "no header {{today}}").is_err());
    }

    #[test]
    fn answers_are_validated_like_user_input() {
        let c = catalog();
        let ok = validate(
            &json!({"intent": "sales.summary", "slots": {"region": "Kowloon",
                "period": {"start": "2026-10-01", "end": "2026-10-31"}}}),
            &c,
            today(),
            80,
        )
        .expect("valid")
        .expect("understood");
        assert_eq!(ok.0, Intent::SalesSummary);
        assert_eq!(ok.1.region.as_deref(), Some("Kowloon"));
        assert_eq!(
            validate(&json!({"intent": "none", "slots": {}}), &c, today(), 80),
            Ok(None)
        );
        for bad in [
            json!({"intent": "admin.dump_everything", "slots": {}}),
            json!({"intent": "help", "slots": {"item": "x"}}),
            json!({"intent": "inventory.stock", "slots": {"item": 42}}),
            json!({"intent": "inventory.stock", "slots": {"item": "x".repeat(81)}}),
            json!({"intent": "inventory.stock", "slots": {"sql": "DROP TABLE"}}),
            json!({"intent": "sales.summary", "slots": {"period": {"start": "2026-10-31", "end": "2026-10-01"}}}),
            json!({"intent": "sales.summary", "slots": {"period": {"start": "1990-01-01", "end": "1990-01-31"}}}),
            json!({"intent": "sales.summary", "slots": {"period": {"start": "yesterday", "end": "today"}}}),
            json!({"intent": "sales.top_items", "slots": {"limit": 100000}}),
            json!({"intent": "leave.balance", "slots": {"leave_type": "holiday"}}),
            json!({"intent": "help", "slots": {}, "figures": {"sales": 1}}),
            json!(["help"]),
        ] {
            assert!(validate(&bad, &c, today(), 80).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn personal_identifiers_are_redacted() {
        let text = "call 9123 4567 or +852 2345-6789, mail chan.tm@example.com, HKID A123456(7), 身份證110101199003074512";
        let r = redact(text);
        for secret in ["9123", "2345", "chan.tm", "A123456", "110101199003074512"] {
            assert!(!r.contains(secret), "{secret} left in {r}");
        }
        let kept = redact("status of SO-2026-00123 from 2026-10-01, iPhone 15 Pro 256GB");
        assert_eq!(
            kept,
            "status of SO-2026-00123 from 2026-10-01, iPhone 15 Pro 256GB"
        );
    }

    #[test]
    fn the_schema_lists_catalog_intents_and_slots() {
        let s = schema(&catalog(), 80);
        let names = s.pointer("/properties/intent/enum").expect("enum");
        assert!(
            names
                .as_array()
                .is_some_and(|a| a.contains(&json!("inventory.stock")))
        );
        assert!(
            s.pointer("/properties/slots/properties/period/properties/start")
                .is_some()
        );
    }

    #[test]
    fn answers_are_read_from_tool_calls_and_from_content() {
        let tool = json!({"choices": [{"index": 0, "finish_reason": "tool_calls", "message": {
            "role": "assistant", "content": null, "tool_calls": [{"id": "call_1", "type": "function",
            "function": {"name": TOOL_NAME, "arguments": "{\"intent\":\"help\",\"slots\":{}}"}}]}}]});
        assert_eq!(answer_of(&tool), Ok(json!({"intent": "help", "slots": {}})));
        let content = json!({"choices": [{"index": 0, "finish_reason": "stop", "message": {
            "role": "assistant", "content": "```json\n{\"intent\":\"help\",\"slots\":{}}\n```"}}]});
        assert_eq!(
            answer_of(&content),
            Ok(json!({"intent": "help", "slots": {}}))
        );
    }
}
