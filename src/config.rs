//! Configuration: built-in defaults, then one TOML file (`--config`), then environment
//! variables `ASKERP_<SECTION>__<KEY>` (e.g. `ASKERP_DINGTALK__APP_SECRET`).
//!
//! Loading parses and then validates everything, collecting *all* problems before failing,
//! so an operator fixes a config in one round. Secrets live in [`Secret`], whose `Debug`
//! and `Display` never show the value, so they cannot reach a log by accident.

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};

mod load;
use load::{FileToml, extract_all, recover_toml, resolve_file_paths, with_env_name};

/// The signing secret `askerp demo` uses when none is configured. It is public on purpose:
/// the demo server only talks to its own built-in DingTalk simulator.
pub const DEMO_APP_SECRET: &str = "askerp-demo-secret";
/// The app key (= robot code) of the demo.
pub const DEMO_APP_KEY: &str = "askerp-demo";

/// The admin listener's default address.
pub const DEFAULT_ADMIN_LISTEN: &str = "127.0.0.1:9090";

/// DingTalk signs callbacks with a timestamp it allows to be an hour old.
const MAX_TIMESTAMP_WINDOW_SECS: u64 = 3600;
/// The window `check` accepts without a warning.
const RECOMMENDED_TIMESTAMP_WINDOW_SECS: u64 = 300;

/// A configuration value that must never be printed.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }
    /// The secret itself, for the few places that sign or authenticate with it.
    pub fn expose(&self) -> &str {
        &self.0
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0.is_empty() { "\"\"" } else { "\"***\"" })
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub server: ServerConfig,
    pub dingtalk: DingTalkConfig,
    pub company: CompanyConfig,
    pub data: DataConfig,
    pub erp: ErpConfig,
    pub audit: AuditConfig,
    pub log: LogConfig,
    pub context: ContextConfig,
    pub llm: LlmConfig,
    /// Where `askerp directory sync` builds the directory from.
    pub directory: crate::directory::config::DirectoryConfig,
    /// Where state that replicas must share lives (dedupe, follow-ups, budgets, ...).
    pub state: StateConfig,
    /// Scheduled reports and alerts: holidays, groups and their audiences.
    pub push: crate::push::config::PushConfig,
    /// `[[subscription]]`: scheduled questions.
    #[serde(rename = "subscription", skip_serializing_if = "Vec::is_empty")]
    pub subscriptions: Vec<crate::push::config::SubscriptionConfig>,
    /// `[[alert_route]]`: who gets which alerts.
    #[serde(rename = "alert_route", skip_serializing_if = "Vec::is_empty")]
    pub alert_routes: Vec<crate::push::routing::AlertRouteConfig>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    /// Address the public HTTP server binds (callbacks, charts, health).
    pub listen: String,
    /// Address of the admin server (`/metrics`, `/healthz`, `/readyz`,
    /// `POST /admin/reload`). Loopback by default: metrics and reload are for the operator
    /// and the orchestrator, never for whoever reaches the callback.
    pub admin_listen: String,
    /// How long shutdown waits for replies still being worked on.
    pub shutdown_grace_secs: u64,
    /// How long, after a stop signal, `/readyz` answers 503 while requests are still
    /// accepted, so a load balancer can take the replica out first (Kubernetes: a few
    /// seconds; 0 stops accepting at once).
    pub shutdown_drain_secs: u64,
    /// How long a `msgId` is remembered to drop redeliveries. Must be at least
    /// `dingtalk.timestamp_window_secs`, or a replayed callback that is still inside the
    /// signature window would be answered again.
    pub dedupe_ttl_secs: u64,
    /// The URL DingTalk clients reach askerp at (e.g. `https://askerp.example.com`).
    /// When set, report charts are served from it under signed, expiring links
    /// (`/charts/…`); when not (Stream mode, on-prem), they are uploaded to DingTalk's
    /// media API instead. See docs/charts.md.
    pub public_url: Option<String>,
    /// How long a chart link stays valid (and the chart in memory).
    pub chart_link_ttl_secs: u64,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            listen: "127.0.0.1:8080".into(),
            admin_listen: DEFAULT_ADMIN_LISTEN.into(),
            shutdown_grace_secs: 30,
            shutdown_drain_secs: 5,
            dedupe_ttl_secs: 300,
            public_url: None,
            chart_link_ttl_secs: 7 * 24 * 3600,
        }
    }
}

/// How DingTalk reaches askerp.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// DingTalk POSTs to `/dingtalk/callback`.
    Http,
    /// askerp opens an outbound WebSocket to DingTalk's Stream gateway (no public endpoint).
    Stream,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DingTalkConfig {
    pub mode: Mode,
    /// The app's Client ID (AppKey); also the robot code of an app robot.
    pub app_key: String,
    /// The app's Client Secret (AppSecret): signs callbacks and obtains access tokens.
    pub app_secret: Secret,
    /// When set, callbacks carrying another `robotCode`, or none, are refused.
    pub robot_code: String,
    /// HTTP mode: the networks callbacks may come from (CIDRs or addresses, e.g. DingTalk's
    /// published egress ranges or the ingress in front of askerp). Empty: any source.
    pub callback_allow_cidrs: Vec<String>,
    /// HTTP mode: proxies (CIDRs) whose `X-Forwarded-For` is believed when checking
    /// `callback_allow_cidrs`; from anyone else the header is ignored.
    pub trusted_proxy_cidrs: Vec<String>,
    /// The OpenAPI base (access token, robot send APIs).
    pub api_base: String,
    /// The legacy API base; session webhooks are only ever posted to URLs under it.
    pub oapi_base: String,
    /// Allowed age of a callback's signed timestamp (HTTP mode). The signature covers the
    /// timestamp only, so a leaked `timestamp`/`sign` pair authorizes any body for this
    /// long: 5 minutes by default, at most DingTalk's hour.
    pub timestamp_window_secs: u64,
    /// Timeout of every request askerp makes to DingTalk.
    pub request_timeout_secs: u64,
    /// Stream mode: send a WebSocket ping after this long without any inbound traffic.
    pub stream_idle_ping_secs: u64,
    /// Stream mode: a socket that answers nothing this long after a ping is replaced.
    pub stream_pong_timeout_secs: u64,
    /// Stream mode: first reconnect delay; doubles per failed attempt (with jitter).
    pub stream_backoff_initial_ms: u64,
    /// Stream mode: longest reconnect delay.
    pub stream_backoff_max_secs: u64,
    /// Stream mode: after a `disconnect` announcement the old socket is kept this long
    /// (for ACKs still in flight) while the new one is already serving.
    pub stream_drain_secs: u64,
    /// Stream mode: frames larger than this are dropped unread.
    pub stream_max_frame_bytes: usize,
    /// OpenAPI sends: retries on 5xx, 429 and `QpsLimit` answers (and flow-controlled users).
    pub send_retries: u32,
    /// OpenAPI sends: first retry delay when DingTalk gives no `Retry-After`; doubles.
    pub send_retry_base_ms: u64,
    /// Messages askerp sends into one conversation per minute at most; more wait their
    /// turn (DingTalk throttles robots above about 20 a minute).
    pub send_per_minute: u32,
    /// Template id of an interactive card (card builder). Set: answers go out as
    /// interactive cards whose buttons call back; unset: markdown / actionCard messages.
    pub card_template_id: String,
    /// How button presses reach askerp: `STREAM` (card callback topic) or `HTTP`
    /// (`/dingtalk/card`). Empty: `STREAM` in stream mode, `HTTP` otherwise.
    pub card_callback_type: String,
    /// With HTTP card callbacks: the `callbackRouteKey` registered with DingTalk.
    pub card_callback_route_key: String,
    /// With HTTP card callbacks: a shared token the registered callback URL carries as
    /// `?token=`; `/dingtalk/card` refuses requests without it. Required for HTTP callbacks.
    pub card_callback_token: Secret,
}

impl Default for DingTalkConfig {
    fn default() -> Self {
        DingTalkConfig {
            mode: Mode::Http,
            app_key: String::new(),
            app_secret: Secret::default(),
            robot_code: String::new(),
            callback_allow_cidrs: Vec::new(),
            trusted_proxy_cidrs: Vec::new(),
            api_base: "https://api.dingtalk.com".into(),
            oapi_base: "https://oapi.dingtalk.com".into(),
            timestamp_window_secs: 300,
            request_timeout_secs: 10,
            stream_idle_ping_secs: 60,
            stream_pong_timeout_secs: 10,
            stream_backoff_initial_ms: 1000,
            stream_backoff_max_secs: 60,
            stream_drain_secs: 15,
            stream_max_frame_bytes: 256 * 1024,
            send_retries: 3,
            send_retry_base_ms: 1000,
            send_per_minute: 20,
            card_template_id: String::new(),
            card_callback_type: String::new(),
            card_callback_route_key: String::new(),
            card_callback_token: Secret::default(),
        }
    }
}

impl DingTalkConfig {
    /// The robot code used when sending: the configured one, else the app key.
    pub fn effective_robot_code(&self) -> &str {
        if self.robot_code.is_empty() {
            &self.app_key
        } else {
            &self.robot_code
        }
    }

    /// `STREAM` or `HTTP`: how card button presses reach askerp.
    pub fn effective_card_callback_type(&self) -> &str {
        match self.card_callback_type.to_ascii_uppercase().as_str() {
            "STREAM" => "STREAM",
            "HTTP" => "HTTP",
            _ if self.mode == Mode::Stream => "STREAM",
            _ => "HTTP",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CompanyConfig {
    pub name: String,
    /// IANA time zone in which "today", "last month" etc. are computed.
    pub time_zone: String,
    /// ISO 4217 currency of the ERP's amounts.
    pub currency: String,
    /// The day weeks start on ("this week", "last week", weekly reports): `monday` …
    /// `sunday`.
    pub week_start: String,
    /// The month (1–12) the fiscal year starts in; quarters ("Q1", "this quarter") are
    /// fiscal quarters.
    pub fiscal_year_start: i8,
}

impl Default for CompanyConfig {
    fn default() -> Self {
        CompanyConfig {
            name: "Harbour Trading Ltd. (demo)".into(),
            time_zone: "Asia/Hong_Kong".into(),
            currency: "HKD".into(),
            week_start: "monday".into(),
            fiscal_year_start: 1,
        }
    }
}

impl CompanyConfig {
    /// The company calendar; an invalid week start (refused by validation) means Monday.
    pub fn calendar(&self) -> crate::intent::period::Calendar {
        crate::intent::period::Calendar {
            week_start: weekday(&self.week_start).unwrap_or(jiff::civil::Weekday::Monday),
            fiscal_start_month: self.fiscal_year_start,
        }
    }
}

/// A weekday by its English name (or three-letter abbreviation), any case.
fn weekday(name: &str) -> Option<jiff::civil::Weekday> {
    use jiff::civil::Weekday::*;
    let lower = name.trim().to_ascii_lowercase();
    [
        ("monday", Monday),
        ("tuesday", Tuesday),
        ("wednesday", Wednesday),
        ("thursday", Thursday),
        ("friday", Friday),
        ("saturday", Saturday),
        ("sunday", Sunday),
    ]
    .into_iter()
    .find(|(n, _)| *n == lower || (lower.len() == 3 && n.starts_with(lower.as_str())))
    .map(|(_, d)| d)
}

/// Where the data files live. Unset means the copies built into the binary.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DataConfig {
    /// A directory of intent files replacing the built-in `intents/`.
    pub intents_dir: Option<PathBuf>,
    /// DingTalk user → principal map. Unset: the demo directory (only with the demo ERP).
    pub directory: Option<PathBuf>,
    /// Role → permissions. Unset: the built-in `policy.toml`.
    pub policy: Option<PathBuf>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ErpConfig {
    /// The connector answering every domain `routes` does not route elsewhere: `demo` (the
    /// built-in demo ERP) or the name of an entry in `connectors`.
    pub connector: String,
    /// SQLite file of the built-in demo ERP; unset keeps it in memory.
    pub demo_database: Option<PathBuf>,
    /// `askerp serve` refuses a demo connector (fake data answering real DingTalk users)
    /// unless this is true; `askerp demo` sets it.
    pub allow_demo: bool,
    /// Longest wait for one ERP call, retries included, before the user is told the ERP is
    /// not answering.
    pub timeout_secs: u64,
    /// How long an ERP answer is reused for identical questions.
    pub cache_ttl_secs: u64,
    /// Per-domain cache lifetimes; unset ones use `cache_ttl_secs`.
    pub cache_ttl: crate::erp::config::CacheTtl,
    /// Which connector answers each domain (`inventory`, `sales`, `leave`).
    pub routes: crate::erp::config::Routes,
    /// Limits, retries and circuit breaker for every connector (each may override them).
    pub protect: crate::erp::config::Protect,
    /// Named connectors: `[erp.connectors.<name>]` with `kind = "demo"` or `"sql"`.
    pub connectors: BTreeMap<String, crate::erp::config::NamedConnector>,
}

impl Default for ErpConfig {
    fn default() -> Self {
        ErpConfig {
            connector: "demo".into(),
            demo_database: None,
            allow_demo: false,
            timeout_secs: 10,
            cache_ttl_secs: 60,
            cache_ttl: crate::erp::config::CacheTtl::default(),
            routes: crate::erp::config::Routes::default(),
            protect: crate::erp::config::Protect::default(),
            connectors: BTreeMap::new(),
        }
    }
}

impl ErpConfig {
    /// The connector name answering `domain`.
    pub fn route(&self, domain: crate::erp::config::Domain) -> &str {
        self.routes.get(domain).unwrap_or(&self.connector)
    }

    /// The domains answered by a demo connector (the built-in one or a named `kind = "demo"`).
    pub fn demo_domains(&self) -> Vec<crate::erp::config::Domain> {
        crate::erp::config::Domain::ALL
            .iter()
            .copied()
            .filter(|d| self.is_demo_connector(self.route(*d)))
            .collect()
    }

    fn is_demo_connector(&self, name: &str) -> bool {
        match self.connectors.get(name) {
            Some(c) => matches!(c.kind, crate::erp::config::ConnectorKind::Demo(_)),
            None => name == crate::erp::config::BUILTIN_DEMO,
        }
    }

    /// True when every domain is answered by a demo connector.
    pub fn is_demo_only(&self) -> bool {
        crate::erp::config::Domain::ALL
            .iter()
            .all(|d| self.is_demo_connector(self.route(*d)))
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuditConfig {
    /// Append-only, hash-chained JSON Lines file (with the other sinks: where the state
    /// kept beside it goes, the shutdown spool).
    pub path: PathBuf,
    /// Where records go: `file` (default), `stdout` (one chained JSON line each, for a log
    /// pipeline) or `postgres`.
    pub sink: AuditSink,
    /// File sink: rotate when the file would pass this size (0: never).
    pub max_bytes: u64,
    /// File sink: how many rotated files to keep (`path.1` … `path.N`).
    pub keep: usize,
    /// PostgreSQL sink: the server (secret: environment only).
    pub postgres_url: Secret,
    /// PostgreSQL sink: the table, created when missing.
    pub postgres_table: String,
}

/// Where audit records go.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AuditSink {
    #[default]
    File,
    Stdout,
    Postgres,
}

impl Default for AuditConfig {
    fn default() -> Self {
        AuditConfig {
            path: PathBuf::from("askerp-audit.jsonl"),
            sink: AuditSink::File,
            max_bytes: 0,
            keep: 10,
            postgres_url: Secret::default(),
            postgres_table: "askerp_audit".into(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    pub format: LogFormat,
    /// A `tracing` filter such as `info` or `askerp=debug,info`; `RUST_LOG` wins when set.
    pub level: String,
    /// ANSI colours in text logs. `auto` colours only when stderr is a terminal, so logs
    /// sent to a file, a pipe, journald or a container runtime carry no escape codes.
    pub color: LogColor,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            format: LogFormat::Text,
            level: "info".into(),
            color: LogColor::Auto,
        }
    }
}

/// When text logs are coloured (`log.color`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogColor {
    /// Colours when stderr is a terminal and `NO_COLOR` is not set.
    Auto,
    Always,
    Never,
}

/// Follow-up questions: what the bot remembers of a user's last question.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ContextConfig {
    /// How long after a question a follow-up ("and in Tsuen Wan?") still refers to it.
    pub expiry_secs: u64,
    /// At most this many (conversation, user) contexts are kept; the oldest go first.
    pub max_entries: u64,
}

impl Default for ContextConfig {
    fn default() -> Self {
        ContextConfig {
            expiry_secs: 600,
            max_entries: 100_000,
        }
    }
}

/// Where the state that several replicas must agree on lives: message dedupe (two-phase:
/// in flight, then done), follow-up context, per-conversation send budgets, where each
/// card was delivered, the LLM fallback's cache and per-user limits, and the shutdown
/// spool. `memory` is one process; `redis` lets any number of replicas share it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StateConfig {
    pub backend: StateBackend,
    /// `redis://host:6379/0` or `rediss://…` (secret: environment only, as it may carry a
    /// password: `ASKERP_STATE__URL` or `ASKERP_STATE__URL_FILE`).
    pub url: Secret,
    /// Prepended to every key, so several deployments can share one Redis.
    pub key_prefix: String,
    /// How long one Redis command may take before the replica falls back (see
    /// [`crate::state`] for what each part does then).
    pub timeout_ms: u64,
    /// How long a message claimed by a replica stays "in flight" without a heartbeat: when
    /// the replica dies mid-answer, a redelivery is answered after this long.
    pub in_flight_secs: u64,
}

/// The state backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StateBackend {
    #[default]
    Memory,
    Redis,
}

impl Default for StateConfig {
    fn default() -> Self {
        StateConfig {
            backend: StateBackend::Memory,
            url: Secret::default(),
            key_prefix: "askerp:".into(),
            timeout_ms: 500,
            in_flight_secs: 30,
        }
    }
}

/// How the fallback asks the model for structured output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LlmMode {
    /// Function calling (`tools` with a forced `tool_choice`).
    Tools,
    /// JSON mode (`response_format: json_object`), for endpoints without tool calling.
    Json,
}

/// How the API key is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LlmAuth {
    /// `Authorization: Bearer <key>` (OpenAI, DashScope, DeepSeek, vLLM, Ollama).
    Bearer,
    /// Azure OpenAI: `api-key: <key>`, `base_url` is the resource endpoint, `model` the
    /// deployment name, and `api_version` is sent as `api-version`.
    ApiKey,
}

/// The optional LLM fallback for messages no rule understands.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LlmConfig {
    /// Off by default: without it, a message no rule matches is "not understood".
    pub enabled: bool,
    /// Base URL of an OpenAI-compatible API; `/chat/completions` is appended.
    pub base_url: String,
    pub model: String,
    /// From `ASKERP_LLM__API_KEY`; may stay empty for a local server without auth.
    pub api_key: Secret,
    pub auth: LlmAuth,
    /// Azure OpenAI's `api-version` (only with `auth = "api-key"`).
    pub api_version: String,
    pub mode: LlmMode,
    /// A prompt template replacing the built-in `prompts/fallback.md`.
    pub prompt: Option<PathBuf>,
    /// Longest wait for the model before the message is "not understood".
    pub timeout_ms: u64,
    /// How long an answer is reused for the same (normalized) text.
    pub cache_ttl_secs: u64,
    /// Calls one user may cause per minute; more are "not understood" without a call.
    pub rate_per_user_per_minute: u32,
    /// Consecutive failures that open the circuit breaker.
    pub breaker_failures: u32,
    /// How long the breaker stays open before one trial call.
    pub breaker_cooldown_secs: u64,
    /// Longest text value the model may return for a slot.
    pub max_slot_chars: usize,
}

impl Default for LlmConfig {
    fn default() -> Self {
        LlmConfig {
            enabled: false,
            base_url: "https://api.openai.com/v1".into(),
            model: "gpt-4o-mini".into(),
            api_key: Secret::default(),
            auth: LlmAuth::Bearer,
            api_version: "2024-10-21".into(),
            mode: LlmMode::Tools,
            prompt: None,
            timeout_ms: 4000,
            cache_ttl_secs: 3600,
            rate_per_user_per_minute: 10,
            breaker_failures: 5,
            breaker_cooldown_secs: 30,
            max_slot_chars: 80,
        }
    }
}

impl LlmConfig {
    /// Problems of the `[llm]` and `[context]` sections (added to [`Config::validate`]).
    fn problems(&self, context: &ContextConfig) -> Vec<String> {
        let mut problems = Vec::new();
        if context.expiry_secs == 0 {
            problems.push("context.expiry_secs must be greater than 0".to_string());
        }
        match url::Url::parse(&self.base_url) {
            Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => {}
            _ => problems.push(format!(
                "llm.base_url = {:?} is not an http(s) URL",
                self.base_url
            )),
        }
        if self.enabled && self.model.trim().is_empty() {
            problems.push("llm.model must be set when llm.enabled = true".to_string());
        }
        for (key, v) in [
            ("llm.timeout_ms", self.timeout_ms),
            ("llm.breaker_cooldown_secs", self.breaker_cooldown_secs),
            ("llm.max_slot_chars", self.max_slot_chars as u64),
            ("llm.breaker_failures", u64::from(self.breaker_failures)),
        ] {
            if v == 0 {
                problems.push(format!("{key} must be greater than 0"));
            }
        }
        if let Some(p) = &self.prompt
            && !p.exists()
        {
            problems.push(format!("llm.prompt = {} does not exist", p.display()));
        }
        problems
    }
}

/// Whether the dotted key names a [`Secret`]: the DingTalk secret and card token, the
/// audit database URL, the LLM key, an event source's secret
/// (`push.source.<name>.secret`), and a connector's password, API key or client secret
/// (at any depth, e.g. `erp.connectors.s4.auth.client_secret`).
fn is_secret_key(key: &str) -> bool {
    matches!(
        key,
        "dingtalk.app_secret"
            | "dingtalk.card_callback_token"
            | "audit.postgres_url"
            | "state.url"
            | "llm.api_key"
    ) || (key.starts_with("push.source.") && key.ends_with(".secret"))
        || (key.starts_with("erp.connectors.")
            && key
                .rsplit('.')
                .next()
                .is_some_and(|leaf| matches!(leaf, "password" | "api_key" | "client_secret")))
}

/// The dotted secret key an `ASKERP_<SECTION>__<KEY>_FILE` variable (already without the
/// `ASKERP_` prefix, any case) points at, or `None` when it is not one.
fn secret_file_key(var: &str) -> Option<String> {
    let stem = var
        .strip_suffix("_FILE")
        .or_else(|| var.strip_suffix("_file"))?;
    let key = stem
        .split("__")
        .collect::<Vec<_>>()
        .join(".")
        .to_lowercase();
    is_secret_key(&key).then_some(key)
}

/// The environment variable that sets the dotted `key`.
fn env_name(key: &str) -> String {
    format!("ASKERP_{}", key.to_uppercase().replace('.', "__"))
}

/// Secrets read from the files `ASKERP_…_FILE` variables name (Docker and Kubernetes
/// mount secrets as files, so the value never sits in the environment or the process
/// list). The trailing newline editors and `echo` leave is trimmed. Returns the values by
/// dotted key and every problem: an unreadable file, or both `X` and `X_FILE` set.
fn secrets_from_files(
    vars: impl Iterator<Item = (String, String)>,
) -> (Vec<(String, String)>, Vec<String>) {
    let vars: Vec<(String, String)> = vars.collect();
    let mut values = Vec::new();
    let mut problems = Vec::new();
    for (var, path) in &vars {
        let Some(rest) = var.strip_prefix("ASKERP_") else {
            continue;
        };
        let Some(key) = secret_file_key(rest) else {
            continue;
        };
        let direct = env_name(&key);
        if vars.iter().any(|(v, _)| v.eq_ignore_ascii_case(&direct)) {
            problems.push(format!(
                "{key}: both {direct} and {var} are set; set only one"
            ));
            continue;
        }
        match std::fs::read_to_string(path) {
            Ok(text) => {
                let value = text
                    .strip_suffix("\r\n")
                    .or_else(|| text.strip_suffix('\n'))
                    .unwrap_or(&text);
                values.push((key, value.to_string()));
            }
            Err(e) => problems.push(format!("{key}: {var} = {path:?} cannot be read: {e}")),
        }
    }
    (values, problems)
}

/// Records a problem for every non-empty secret written in the configuration file:
/// secrets come from the environment or `*_FILE` only, so a config file can be shared,
/// committed or mounted as a ConfigMap without leaking one.
fn secrets_in_file(
    dict: &figment::value::Dict,
    prefix: &str,
    file: &Path,
    problems: &mut Vec<String>,
) {
    for (name, value) in dict {
        let key = if prefix.is_empty() {
            name.clone()
        } else {
            format!("{prefix}.{name}")
        };
        match value {
            figment::value::Value::Dict(_, inner) => secrets_in_file(inner, &key, file, problems),
            figment::value::Value::String(_, v) if !v.is_empty() && is_secret_key(&key) => {
                let env = env_name(&key);
                problems.push(format!(
                    "{key} is a secret and is written in the config file {}: remove it there and set {env} or {env}_FILE (a file holding it) instead",
                    file.display()
                ));
            }
            _ => {}
        }
    }
}

/// Everything wrong with a configuration, reported together.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read the configuration: {0}")]
    Parse(String),
    #[error("the configuration has {} problem(s):\n{}", .0.len(), .0.iter().map(|p| format!("  - {p}")).collect::<Vec<_>>().join("\n"))]
    Invalid(Vec<String>),
}

impl Config {
    /// Loads defaults ← `file` (if given) ← `ASKERP_*` environment variables, then
    /// validates. `overrides` are applied last (used by `askerp demo`).
    pub fn load(file: Option<&Path>) -> Result<Config, ConfigError> {
        Self::load_with(file, Figment::new())
    }

    /// Like [`Config::load`], with `defaults` merged between the built-in defaults and the
    /// file (so the file and environment still win).
    pub fn load_with(file: Option<&Path>, defaults: Figment) -> Result<Config, ConfigError> {
        let mut fig = Figment::from(Serialized::defaults(Config::default())).merge(defaults);
        let mut problems = Vec::new();
        if let Some(path) = file {
            if !path.exists() {
                return Err(ConfigError::Parse(format!(
                    "config file {} does not exist",
                    path.display()
                )));
            }
            let text = std::fs::read_to_string(path)
                .map_err(|e| ConfigError::Parse(format!("cannot read {}: {e}", path.display())))?;
            let (text, syntax) = recover_toml(&text, path);
            problems.extend(syntax);
            let toml = FileToml {
                path: path.to_path_buf(),
                text,
            };
            if let Ok(data) = figment::Provider::data(&toml) {
                for dict in data.values() {
                    secrets_in_file(dict, "", path, &mut problems);
                }
            }
            fig = fig.merge(toml);
        }
        fig = fig.merge(
            Env::prefixed("ASKERP_")
                .filter(|k| k.as_str().contains("__") && secret_file_key(k.as_str()).is_none())
                .split("__"),
        );
        let (from_files, file_problems) = secrets_from_files(std::env::vars());
        problems.extend(file_problems);
        for (key, value) in from_files {
            fig = fig.merge(Serialized::default(&key, value));
        }
        // Every value problem, then every semantic one of what remains, in one report.
        let (config, value_problems) = extract_all(&fig);
        problems.extend(value_problems);
        if let Some(mut config) = config {
            resolve_file_paths(&fig, &mut config);
            match config.validate() {
                Ok(()) if problems.is_empty() => return Ok(config),
                Ok(()) => {}
                Err(ConfigError::Invalid(more)) => {
                    problems.extend(more.into_iter().map(|p| with_env_name(&p)))
                }
                Err(e) => problems.push(e.to_string()),
            }
        }
        Err(ConfigError::Invalid(problems))
    }

    /// Parses a TOML string on top of the defaults, without the environment (for tests).
    pub fn from_toml(text: &str) -> Result<Config, ConfigError> {
        let config: Config = Figment::from(Serialized::defaults(Config::default()))
            .merge(Toml::string(text))
            .extract()
            .map_err(|e| ConfigError::Parse(e.to_string()))?;
        config.validate()?;
        Ok(config)
    }

    /// Settings that work but weaken a guarantee; `check` prints them and `serve` logs them.
    pub fn warnings(&self) -> Vec<String> {
        let mut w = Vec::new();
        if self.dingtalk.mode == Mode::Http
            && self.dingtalk.timestamp_window_secs > RECOMMENDED_TIMESTAMP_WINDOW_SECS
        {
            w.push(format!(
                "dingtalk.timestamp_window_secs = {} is above {RECOMMENDED_TIMESTAMP_WINDOW_SECS}: a leaked timestamp/sign pair authorizes any callback body for that long (Stream mode avoids this)",
                self.dingtalk.timestamp_window_secs
            ));
        }
        w
    }

    /// Checks every value that parsing cannot, collecting all problems.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let mut problems = Vec::new();
        crate::push::config::validate(
            &self.push,
            &self.subscriptions,
            &self.alert_routes,
            &mut problems,
        );
        if self.server.listen.parse::<SocketAddr>().is_err() {
            problems.push(format!(
                "server.listen = {:?} is not an address like 127.0.0.1:8080",
                self.server.listen
            ));
        }
        match self.server.admin_listen.parse::<SocketAddr>() {
            Err(_) => problems.push(format!(
                "server.admin_listen = {:?} is not an address like 127.0.0.1:9090",
                self.server.admin_listen
            )),
            Ok(admin) if admin.port() != 0 && Some(admin) == self.server.listen.parse().ok() => {
                problems.push(format!(
                    "server.admin_listen = {:?} is the same address as server.listen: metrics and reload must not share the public callback port",
                    self.server.admin_listen
                ))
            }
            Ok(_) => {}
        }
        let public_url = self
            .server
            .public_url
            .iter()
            .map(|v| ("server.public_url", v));
        for (key, value) in [
            ("dingtalk.api_base", &self.dingtalk.api_base),
            ("dingtalk.oapi_base", &self.dingtalk.oapi_base),
        ]
        .into_iter()
        .chain(public_url)
        {
            match url::Url::parse(value) {
                Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => {}
                _ => problems.push(format!("{key} = {value:?} is not an http(s) URL")),
            }
        }
        if jiff::tz::TimeZone::get(&self.company.time_zone).is_err() {
            problems.push(format!(
                "company.time_zone = {:?} is not a known IANA time zone",
                self.company.time_zone
            ));
        }
        if weekday(&self.company.week_start).is_none() {
            problems.push(format!(
                "company.week_start = {:?} is not a day of the week such as \"monday\"",
                self.company.week_start
            ));
        }
        if !(1..=12).contains(&self.company.fiscal_year_start) {
            problems.push(format!(
                "company.fiscal_year_start = {} is not a month number from 1 to 12",
                self.company.fiscal_year_start
            ));
        }
        if self.company.currency.len() != 3
            || !self
                .company
                .currency
                .chars()
                .all(|c| c.is_ascii_uppercase())
        {
            problems.push(format!(
                "company.currency = {:?} is not an ISO 4217 code such as HKD",
                self.company.currency
            ));
        }
        problems.extend(crate::erp::config::problems(
            &self.erp.connector,
            &self.erp.connectors,
            &self.erp.routes,
            &self.erp.protect,
        ));
        // The built-in demo directory only makes sense with the demo ERP's employees.
        if !self.erp.is_demo_only() && self.data.directory.is_none() {
            problems.push("data.directory must be set when the ERP is not the demo".into());
        }
        for (key, v) in [
            ("erp.timeout_secs", self.erp.timeout_secs),
            (
                "dingtalk.request_timeout_secs",
                self.dingtalk.request_timeout_secs,
            ),
            (
                "dingtalk.timestamp_window_secs",
                self.dingtalk.timestamp_window_secs,
            ),
            ("server.dedupe_ttl_secs", self.server.dedupe_ttl_secs),
            (
                "server.chart_link_ttl_secs",
                self.server.chart_link_ttl_secs,
            ),
            (
                "dingtalk.stream_idle_ping_secs",
                self.dingtalk.stream_idle_ping_secs,
            ),
            (
                "dingtalk.stream_pong_timeout_secs",
                self.dingtalk.stream_pong_timeout_secs,
            ),
            (
                "dingtalk.stream_backoff_max_secs",
                self.dingtalk.stream_backoff_max_secs,
            ),
            (
                "dingtalk.send_per_minute",
                u64::from(self.dingtalk.send_per_minute),
            ),
        ] {
            if v == 0 {
                problems.push(format!("{key} must be greater than 0"));
            }
        }
        if self.dingtalk.timestamp_window_secs > MAX_TIMESTAMP_WINDOW_SECS {
            problems.push(format!(
                "dingtalk.timestamp_window_secs = {} is longer than DingTalk's own hour ({MAX_TIMESTAMP_WINDOW_SECS})",
                self.dingtalk.timestamp_window_secs
            ));
        }
        for (key, list) in [
            (
                "dingtalk.callback_allow_cidrs",
                &self.dingtalk.callback_allow_cidrs,
            ),
            (
                "dingtalk.trusted_proxy_cidrs",
                &self.dingtalk.trusted_proxy_cidrs,
            ),
        ] {
            for c in list {
                if crate::channel::sources::parse_net(c).is_none() {
                    problems.push(format!(
                        "{key}: {c:?} is not an IP network (e.g. \"203.0.113.0/24\" or \"10.0.0.5\")"
                    ));
                }
            }
        }
        if self.audit.sink == AuditSink::Postgres {
            if self.audit.postgres_url.expose().is_empty() {
                problems.push(
                    "audit.sink = \"postgres\" needs audit.postgres_url (ASKERP_AUDIT__POSTGRES_URL)".into(),
                );
            }
            let t = &self.audit.postgres_table;
            let ident = t
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
                && t.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
            if !ident || t.len() > 63 {
                problems.push(format!(
                    "audit.postgres_table = {t:?} must be a lower-case SQL identifier"
                ));
            }
        }
        if self.state.backend == StateBackend::Redis {
            let url = self.state.url.expose();
            if url.is_empty() {
                problems.push(
                    "state.backend = \"redis\" needs state.url (ASKERP_STATE__URL or ASKERP_STATE__URL_FILE)".into(),
                );
            } else if !(url.starts_with("redis://") || url.starts_with("rediss://")) {
                problems.push(
                    "state.url must start with redis:// or rediss:// (the value is not shown: it may carry a password)".into(),
                );
            }
            if self.state.timeout_ms == 0 {
                problems.push("state.timeout_ms must be at least 1".into());
            }
            if self.state.in_flight_secs == 0 {
                problems.push("state.in_flight_secs must be at least 1".into());
            }
        }
        if self.audit.max_bytes > 0 && self.audit.keep == 0 {
            problems.push("audit.keep must be at least 1 when audit.max_bytes is set".into());
        }
        if self.server.dedupe_ttl_secs < self.dingtalk.timestamp_window_secs {
            problems.push(format!(
                "server.dedupe_ttl_secs = {} is shorter than dingtalk.timestamp_window_secs = {}: a callback replayed after the dedupe memory but inside the signature window would be answered twice",
                self.server.dedupe_ttl_secs, self.dingtalk.timestamp_window_secs
            ));
        }
        if !self.dingtalk.card_callback_type.is_empty()
            && !matches!(
                self.dingtalk
                    .card_callback_type
                    .to_ascii_uppercase()
                    .as_str(),
                "STREAM" | "HTTP"
            )
        {
            problems.push(format!(
                "dingtalk.card_callback_type = {:?} must be STREAM or HTTP",
                self.dingtalk.card_callback_type
            ));
        }
        if !self.dingtalk.card_template_id.is_empty()
            && self.dingtalk.effective_card_callback_type() == "HTTP"
            && self.dingtalk.card_callback_token.is_empty()
        {
            problems.push(
                "dingtalk.card_callback_token is required for HTTP card callbacks (it authenticates /dingtalk/card)"
                    .into(),
            );
        }
        // The synced directory does not exist before the first sync, which writes it.
        let synced_directory = self.directory.has_sources()
            && (self.directory.output.is_none() || self.directory.output == self.data.directory);
        for (key, path) in [
            ("data.intents_dir", &self.data.intents_dir),
            (
                "data.directory",
                if synced_directory {
                    &None
                } else {
                    &self.data.directory
                },
            ),
            ("data.policy", &self.data.policy),
        ] {
            if let Some(p) = path
                && !p.exists()
            {
                problems.push(format!("{key} = {} does not exist", p.display()));
            }
        }
        problems.extend(self.llm.problems(&self.context));
        problems.extend(self.directory.problems(self.data.directory.as_deref()));
        if problems.is_empty() {
            Ok(())
        } else {
            Err(ConfigError::Invalid(problems))
        }
    }

    /// Problems that only matter when serving real DingTalk traffic.
    pub fn validate_for_serving(&self) -> Result<(), ConfigError> {
        let mut problems = Vec::new();
        if self.dingtalk.app_secret.is_empty() {
            problems.push(
                "dingtalk.app_secret is required to verify callbacks (ASKERP_DINGTALK__APP_SECRET)"
                    .to_string(),
            );
        }
        if self.dingtalk.app_key.is_empty() {
            problems.push(
                "dingtalk.app_key is required to send private answers (ASKERP_DINGTALK__APP_KEY)"
                    .to_string(),
            );
        }
        let demo = self.erp.demo_domains();
        if !demo.is_empty() && !self.erp.allow_demo {
            let domains: Vec<&str> = demo.iter().map(|d| d.as_str()).collect();
            problems.push(format!(
                "the demo ERP (fictional data) answers {}: askerp serve refuses it unless erp.allow_demo = true (ASKERP_ERP__ALLOW_DEMO=true); point erp.connector at your ERP, or use askerp demo to try askerp",
                domains.join(", ")
            ));
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(ConfigError::Invalid(problems))
        }
    }

    /// The company time zone (validated at load).
    pub fn time_zone(&self) -> jiff::tz::TimeZone {
        jiff::tz::TimeZone::get(&self.company.time_zone).unwrap_or(jiff::tz::TimeZone::UTC)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        let c = Config::from_toml("").expect("defaults");
        assert_eq!(c.dingtalk.api_base, "https://api.dingtalk.com");
        assert_eq!(c.dingtalk.oapi_base, "https://oapi.dingtalk.com");
        assert_eq!(c.company.time_zone, "Asia/Hong_Kong");
        assert_eq!(c.server.admin_listen, "127.0.0.1:9090", "admin on loopback");
        assert_eq!(
            c.server.shutdown_drain_secs, 5,
            "/readyz turns 503 for a few seconds before the port closes"
        );
        assert!(!c.erp.allow_demo);
    }

    #[test]
    fn the_admin_listener_must_be_an_address_of_its_own() {
        let err = Config::from_toml("[server]\nadmin_listen = \"127.0.0.1:8080\"\n")
            .expect_err("same as listen");
        assert!(
            err.to_string().contains("same address as server.listen"),
            "{err}"
        );
        let err =
            Config::from_toml("[server]\nadmin_listen = \"loopback\"\n").expect_err("no address");
        assert!(err.to_string().contains("server.admin_listen"), "{err}");
        Config::from_toml("[server]\nadmin_listen = \"127.0.0.1:0\"\n").expect("any free port");
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let err = Config::from_toml(
            r#"
            [server]
            listen = "nowhere"
            [dingtalk]
            api_base = "ftp:/x"
            [company]
            time_zone = "Mars/Olympus"
            currency = "dollars"
            "#,
        )
        .expect_err("invalid");
        let text = err.to_string();
        for needle in [
            "server.listen",
            "dingtalk.api_base",
            "company.time_zone",
            "company.currency",
        ] {
            assert!(text.contains(needle), "{needle} missing from {text}");
        }
    }

    #[test]
    fn llm_and_context_problems_are_reported() {
        let c = Config::from_toml("").expect("defaults");
        assert!(!c.llm.enabled, "the fallback is off by default");
        assert_eq!(c.llm.timeout_ms, 4000);
        assert_eq!(c.context.expiry_secs, 600);
        let err = Config::from_toml(
            "[llm]\nenabled = true\nbase_url = \"not a url\"\nmodel = \"\"\ntimeout_ms = 0\n\
             [context]\nexpiry_secs = 0\n",
        )
        .expect_err("invalid");
        let text = err.to_string();
        for needle in [
            "llm.base_url",
            "llm.model",
            "llm.timeout_ms",
            "context.expiry_secs",
        ] {
            assert!(text.contains(needle), "{needle} missing from {text}");
        }
        let mode =
            Config::from_toml("[llm]\nmode = \"json\"\nauth = \"api-key\"\n").expect("valid");
        assert_eq!(mode.llm.mode, LlmMode::Json);
        assert_eq!(mode.llm.auth, LlmAuth::ApiKey);
    }

    #[test]
    fn stream_mode_and_card_settings_are_checked() {
        let c = Config::from_toml("[dingtalk]\nmode = \"stream\"\ncard_template_id = \"t\"\n")
            .expect("stream mode with STREAM card callbacks");
        assert_eq!(c.dingtalk.mode, Mode::Stream);
        assert_eq!(c.dingtalk.effective_card_callback_type(), "STREAM");
        let err = Config::from_toml("[dingtalk]\ncard_template_id = \"t\"\n")
            .expect_err("HTTP card callbacks without a token");
        assert!(err.to_string().contains("card_callback_token"), "{err}");
        let err = Config::from_toml("[dingtalk]\ncard_callback_type = \"carrier pigeon\"\n")
            .expect_err("unknown callback type");
        assert!(err.to_string().contains("card_callback_type"), "{err}");
        let err =
            Config::from_toml("[dingtalk]\nmode = \"websocket\"\n").expect_err("unknown mode");
        assert!(err.to_string().contains("mode"), "{err}");
    }

    #[test]
    fn unknown_keys_are_refused() {
        let err = Config::from_toml("[server]\nlisten_port = 1\n").expect_err("unknown key");
        assert!(err.to_string().contains("listen_port"), "{err}");
    }

    #[test]
    fn secrets_never_print() {
        let mut c = Config::default();
        c.dingtalk.app_secret = Secret::new("hunter2");
        let shown = format!("{c:?} {}", c.dingtalk.app_secret);
        assert!(!shown.contains("hunter2"));
        assert_eq!(c.dingtalk.app_secret.expose(), "hunter2");
    }

    #[test]
    #[allow(clippy::result_large_err)]
    fn environment_overrides_file_and_defaults() {
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "askerp.toml",
                "[server]\nlisten = \"127.0.0.1:9000\"\n[dingtalk]\napp_key = \"from-file\"\n",
            )?;
            jail.set_env("ASKERP_DINGTALK__APP_KEY", "from-env");
            jail.set_env("ASKERP_DINGTALK__APP_SECRET", "s3cret");
            jail.set_env("ASKERP_SERVER__DEDUPE_TTL_SECS", "420");
            jail.set_env("ASKERP_CONFIG", "ignored: not a section key");
            let c = Config::load(Some(Path::new("askerp.toml"))).map_err(|e| e.to_string())?;
            assert_eq!(c.server.listen, "127.0.0.1:9000");
            assert_eq!(c.dingtalk.app_key, "from-env");
            assert_eq!(c.dingtalk.app_secret.expose(), "s3cret");
            assert_eq!(c.server.dedupe_ttl_secs, 420);
            Ok(())
        });
    }

    #[test]
    #[allow(clippy::result_large_err)] // figment::Jail's own error type
    fn every_secret_is_read_from_a_file_named_by_its_file_variable() {
        figment::Jail::expect_with(|jail| {
            jail.create_file("app_secret", "from-a-file\n")?;
            jail.create_file("token", "card-token\r\n")?;
            jail.create_file("pg", "postgres://u:p@db/audit")?;
            jail.create_file("llm", "sk-file\n")?;
            jail.create_file("odoo", "odoo-key\n")?;
            jail.create_file(
                "askerp.toml",
                "[erp.connectors.hr]\nkind = \"odoo\"\nurl = \"http://127.0.0.1:8069\"\ndatabase = \"hr\"\nusername = \"askerp\"\n",
            )?;
            jail.set_env("ASKERP_DINGTALK__APP_SECRET_FILE", "app_secret");
            jail.set_env("ASKERP_DINGTALK__CARD_CALLBACK_TOKEN_FILE", "token");
            jail.set_env("ASKERP_AUDIT__POSTGRES_URL_FILE", "pg");
            jail.set_env("ASKERP_LLM__API_KEY_FILE", "llm");
            jail.set_env("ASKERP_ERP__CONNECTORS__HR__API_KEY_FILE", "odoo");
            let c = Config::load(Some(Path::new("askerp.toml"))).map_err(|e| e.to_string())?;
            assert_eq!(c.dingtalk.app_secret.expose(), "from-a-file");
            assert_eq!(c.dingtalk.card_callback_token.expose(), "card-token");
            assert_eq!(c.audit.postgres_url.expose(), "postgres://u:p@db/audit");
            assert_eq!(c.llm.api_key.expose(), "sk-file");
            let hr = format!("{:?}", c.erp.connectors.get("hr"));
            assert!(hr.contains("***"), "the odoo key was not set: {hr}");
            Ok(())
        });
    }

    #[test]
    #[allow(clippy::result_large_err)] // figment::Jail's own error type
    fn an_event_source_secret_comes_from_the_environment_or_a_file_never_the_config() {
        figment::Jail::expect_with(|jail| {
            jail.create_file("wms", "wms-secret\n")?;
            jail.create_file("askerp.toml", "[push.source.wms]\n[push.source.pos]\n")?;
            jail.set_env("ASKERP_PUSH__SOURCE__WMS__SECRET_FILE", "wms");
            jail.set_env("ASKERP_PUSH__SOURCE__POS__SECRET", "pos-secret");
            let c = Config::load(Some(Path::new("askerp.toml"))).map_err(|e| e.to_string())?;
            assert_eq!(c.push.sources["wms"].secret.expose(), "wms-secret");
            assert_eq!(c.push.sources["pos"].secret.expose(), "pos-secret");
            assert!(!format!("{:?}", c.push).contains("wms-secret"));
            // Without it the source is refused, and the variable to set is named.
            jail.clear_env();
            let e = Config::load(Some(Path::new("askerp.toml")))
                .expect_err("no secret")
                .to_string();
            assert!(e.contains("ASKERP_PUSH__SOURCE__WMS__SECRET"), "{e}");
            // Written in the file, it is refused as every secret is.
            jail.create_file("askerp.toml", "[push.source.wms]\nsecret = \"oops\"\n")?;
            let e = Config::load(Some(Path::new("askerp.toml")))
                .expect_err("a secret in the file")
                .to_string();
            assert!(e.contains("push.source.wms.secret is a secret"), "{e}");
            Ok(())
        });
    }

    #[test]
    #[allow(clippy::result_large_err)] // figment::Jail's own error type
    fn a_missing_secret_file_or_two_sources_are_reported_together() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("ASKERP_DINGTALK__APP_SECRET_FILE", "/nonexistent/secret");
            jail.set_env("ASKERP_LLM__API_KEY_FILE", "/nonexistent/key");
            jail.set_env("ASKERP_LLM__API_KEY", "also-here");
            let e = Config::load(None).expect_err("must fail").to_string();
            assert!(
                e.contains("dingtalk.app_secret: ASKERP_DINGTALK__APP_SECRET_FILE"),
                "{e}"
            );
            assert!(e.contains("cannot be read"), "{e}");
            assert!(
                e.contains("both ASKERP_LLM__API_KEY and ASKERP_LLM__API_KEY_FILE are set"),
                "{e}"
            );
            Ok(())
        });
    }

    #[test]
    #[allow(clippy::result_large_err)] // figment::Jail's own error type
    fn paths_in_the_file_are_relative_to_it_and_paths_from_the_environment_are_not() {
        figment::Jail::expect_with(|jail| {
            std::fs::create_dir_all(jail.directory().join("etc/data"))
                .map_err(|e| e.to_string())?;
            jail.create_file("etc/data/policy.toml", askerp_policy())?;
            jail.create_file(
                "etc/askerp.toml",
                "[data]\npolicy = \"data/policy.toml\"\n[audit]\npath = \"audit.jsonl\"\n\
                 [erp]\ndemo_database = \"/abs/demo.sqlite\"\n\
                 [erp.connectors.d]\nkind = \"demo\"\ndatabase = \"d.sqlite\"\n",
            )?;
            jail.set_env("ASKERP_LLM__PROMPT", "prompts/mine.md");
            std::fs::create_dir_all(jail.directory().join("prompts")).map_err(|e| e.to_string())?;
            jail.create_file("prompts/mine.md", "x")?;
            let c = Config::load(Some(Path::new("etc/askerp.toml"))).map_err(|e| e.to_string())?;
            let etc = c
                .data
                .policy
                .as_deref()
                .and_then(Path::parent)
                .and_then(Path::parent);
            assert!(
                c.data
                    .policy
                    .as_deref()
                    .is_some_and(|p| p.ends_with("etc/data/policy.toml")),
                "{:?}",
                c.data.policy
            );
            assert!(
                c.audit.path.ends_with("etc/audit.jsonl"),
                "{:?}",
                c.audit.path
            );
            assert_eq!(c.audit.path.parent(), etc);
            assert_eq!(
                c.erp.demo_database.as_deref(),
                Some(Path::new("/abs/demo.sqlite"))
            );
            let d = format!("{:?}", c.erp.connectors.get("d"));
            assert!(d.contains("etc/d.sqlite"), "{d}");
            assert_eq!(c.llm.prompt.as_deref(), Some(Path::new("prompts/mine.md")));
            Ok(())
        });
    }

    #[test]
    #[allow(clippy::result_large_err)] // figment::Jail's own error type
    fn syntax_type_and_semantic_errors_are_reported_in_one_round() {
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "askerp.toml",
                "[server]\nlisten = \"127.0.0.1:8080\"\ndedupe_ttl_secs = \"five\"\n\
                 [log]\nformat = \"fancy\"\ncolour = \"auto\"\n\
                 [company]\ntime_zone = \"Mars/Olympus\"\nname = \"unterminated\n\
                 currency = HKD\n",
            )?;
            jail.set_env("ASKERP_ERP__TIMEOUT_SECS", "soon");
            let e = Config::load(Some(Path::new("askerp.toml")))
                .expect_err("must fail")
                .to_string();
            for needle in [
                "askerp.toml line 9:",
                "askerp.toml line 10:",
                "server.dedupe_ttl_secs in askerp.toml: expected u64, found string \"five\" (the key can also be set with ASKERP_SERVER__DEDUPE_TTL_SECS)",
                "log.format in askerp.toml = \"fancy\" is not one of text, json",
                "log.colour in askerp.toml is not a known key",
                "company.time_zone = \"Mars/Olympus\" is not a known IANA time zone (ASKERP_COMPANY__TIME_ZONE)",
                "erp.timeout_secs from the environment (ASKERP_ERP__TIMEOUT_SECS)",
            ] {
                assert!(e.contains(needle), "{needle:?} missing from:\n{e}");
            }
            assert!(!e.contains("default."), "figment's profile leaked: {e}");
            assert!(!e.contains("``"), "doubled backticks: {e}");
            Ok(())
        });
    }

    fn askerp_policy() -> &'static str {
        include_str!("../config/policy.toml")
    }

    #[test]
    #[allow(clippy::result_large_err)] // figment::Jail's own error type
    fn a_secret_written_in_the_config_file_is_refused() {
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "askerp.toml",
                "[dingtalk]\napp_secret = \"oops\"\n[llm]\napi_key = \"sk-oops\"\n[erp.connectors.legacy]\nkind = \"sql\"\nurl = \"postgres://db/erp\"\npassword = \"pw\"\n",
            )?;
            let e = Config::load(Some(Path::new("askerp.toml")))
                .expect_err("must fail")
                .to_string();
            for needle in [
                "dingtalk.app_secret is a secret and is written in the config file",
                "set ASKERP_DINGTALK__APP_SECRET or ASKERP_DINGTALK__APP_SECRET_FILE",
                "llm.api_key is a secret",
                "erp.connectors.legacy.password is a secret",
            ] {
                assert!(e.contains(needle), "{needle}: {e}");
            }
            assert!(
                !e.contains("oops") && !e.contains("pw\""),
                "the secret was echoed: {e}"
            );
            Ok(())
        });
    }
}
