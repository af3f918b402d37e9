//! Logging setup and the small set of counters `/metrics` exposes.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

use tracing_subscriber::EnvFilter;

use crate::config::{LogColor, LogConfig, LogFormat};

/// Whether logs on stderr get ANSI colours: escape codes are noise in a file or a log
/// collector, so `auto` colours only a terminal (and honours `NO_COLOR`).
pub fn colored(color: LogColor) -> bool {
    use std::io::IsTerminal;
    match color {
        LogColor::Always => true,
        LogColor::Never => false,
        LogColor::Auto => {
            std::io::stderr().is_terminal()
                && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
        }
    }
}

/// Installs the global `tracing` subscriber: text or JSON lines on stderr, filtered by
/// `RUST_LOG` when set, else by `log.level`, coloured per `log.color`. Safe to call more
/// than once.
pub fn init(config: &LogConfig) {
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(&config.level))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(colored(config.color))
        .with_writer(std::io::stderr);
    let _ = match config.format {
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
        LogFormat::Text => builder.try_init(),
    };
}

/// Upper bounds (seconds) of the answer-latency histogram: a cached answer takes
/// milliseconds, an ERP or LLM round trip up to the configured timeouts (tens of seconds).
pub const ANSWER_BUCKETS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// Every decision the pipeline can make (`Decision::as_str`), so each
/// `askerp_decisions_total{decision=…}` series exists at 0 before its first message and a
/// rate over it never starts from nothing.
const DECISIONS: &[&str] = &[
    "allow",
    "deny",
    "clarify",
    "unknown_user",
    "not_understood",
    "not_supported",
    "smalltalk",
    "error",
];

/// Reasons an HTTP callback is refused (the `reason` label of
/// `askerp_callback_rejected_total`), counted as `callback_rejected_<reason>`.
const CALLBACK_REJECTIONS: &[&str] = &[
    "source",
    "missing_signature",
    "expired",
    "bad_signature",
    "malformed",
    "robot_code",
];

/// Reasons a report at `POST /events/<source>` is refused (the `reason` label of
/// `askerp_events_rejected_total`), counted as `events_rejected_<reason>`.
const EVENT_REJECTIONS: &[&str] = &[
    "unknown_source",
    "missing_signature",
    "expired",
    "bad_signature",
    "malformed",
    "push_off",
];

/// Counters rendered at 0 from the start, with their help text. Counters counted under
/// other names still appear (with a generic help) once first counted.
const KNOWN: &[(&str, &str)] = &[
    (
        "callback_accepted",
        "HTTP callbacks accepted for an answer.",
    ),
    (
        "callback_duplicates",
        "HTTP callbacks ignored as redeliveries of a message already accepted.",
    ),
    (
        "card_callbacks_rejected",
        "Card callbacks refused for a missing or wrong token.",
    ),
    (
        "card_callbacks_ignored",
        "Card callbacks that carried no button press.",
    ),
    ("replies_delivered", "Answers delivered to DingTalk."),
    (
        "events_accepted",
        "Signed reports at POST /events/<source> handled (sent, or not sent for a reason in the audit).",
    ),
    (
        "events_duplicates",
        "Signed reports whose event id was handled already (replays, retries): nothing sent.",
    ),
    (
        "events_erp_failed",
        "Signed reports not handled because the ERP did not answer; the source is asked to retry.",
    ),
    (
        "reloads_ok",
        "Reloads (SIGHUP, POST /admin/reload) that swapped in new data files.",
    ),
    (
        "reloads_failed",
        "Reloads refused for a problem in a data file; the previous files stay in use.",
    ),
    (
        "replies_failed",
        "Answers that could not be delivered to DingTalk.",
    ),
    (
        "audit_refusals_sampled_out",
        "Refused requests counted but not recorded one by one in the audit (beyond the per-minute sample).",
    ),
    (
        "stream_connections",
        "Stream mode: connections opened to the DingTalk gateway.",
    ),
    (
        "stream_connect_failures",
        "Stream mode: failed attempts to connect to the DingTalk gateway.",
    ),
    (
        "stream_rotations",
        "Stream mode: disconnect announcements from the gateway.",
    ),
    (
        "stream_dead_sockets",
        "Stream mode: connections found dead by the keepalive.",
    ),
    ("stream_frames", "Stream mode: frames received."),
    (
        "stream_frames_malformed",
        "Stream mode: frames that could not be parsed.",
    ),
    (
        "stream_frames_oversized",
        "Stream mode: frames refused for their size.",
    ),
    (
        "stream_frames_deferred",
        "Stream mode: frames left unacknowledged for a later redelivery.",
    ),
    (
        "stream_acks_replayed",
        "Stream mode: acknowledgements sent again for a redelivered frame.",
    ),
    (
        "stream_accepted",
        "Stream mode: robot messages accepted for an answer.",
    ),
    (
        "stream_duplicates",
        "Stream mode: robot messages ignored as redeliveries.",
    ),
    (
        "stream_rejected_malformed",
        "Stream mode: robot messages that could not be parsed.",
    ),
    (
        "stream_rejected_robot_code",
        "Stream mode: robot messages for another robot.",
    ),
];

/// Writes the `# HELP` and `# TYPE` lines of a metric family, which Prometheus and
/// promtool expect before its samples.
pub fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    let help = help.replace('\\', "\\\\").replace('\n', "\\n");
    out.push_str(&format!("# HELP {name} {help}\n# TYPE {name} {kind}\n"));
}

/// A label value escaped as the exposition format requires.
pub fn label_value(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// A fixed-bucket histogram (cumulative counts are computed when rendered).
#[derive(Debug)]
struct Histogram {
    /// Observations per bucket of [`ANSWER_BUCKETS`], not cumulative; the last slot is
    /// `+Inf` beyond the largest bound.
    counts: Vec<u64>,
    sum: f64,
    count: u64,
}

impl Default for Histogram {
    fn default() -> Self {
        Histogram {
            counts: vec![0; ANSWER_BUCKETS.len() + 1],
            sum: 0.0,
            count: 0,
        }
    }
}

/// Counters with bounded label sets and the answer-latency histogram, rendered in the
/// Prometheus text format.
///
/// Counters are kept under flat names (`decisions_allow`, `callback_rejected_expired`,
/// what [`Metrics::get`] takes); rendering folds the bounded families into one metric
/// with a label (`askerp_decisions_total{decision="allow"}`), so call sites stay a
/// single `count` and dashboards get one series per family to sum or break down.
#[derive(Debug, Default)]
pub struct Metrics {
    counters: Mutex<BTreeMap<String, u64>>,
    answer: Mutex<Histogram>,
}

impl Metrics {
    /// Adds one to `askerp_<name>_total`.
    pub fn count(&self, name: &str) {
        self.add(name, 1);
    }

    pub fn add(&self, name: &str, n: u64) {
        // Counted on every message: allocate the name only the first time it is seen.
        if let Ok(mut c) = self.counters.lock() {
            match c.get_mut(name) {
                Some(v) => *v += n,
                None => {
                    c.insert(name.to_string(), n);
                }
            }
        }
    }

    pub fn get(&self, name: &str) -> u64 {
        self.counters
            .lock()
            .ok()
            .and_then(|c| c.get(name).copied())
            .unwrap_or(0)
    }

    /// Records the end-to-end time of one answered message (question in, reply handed
    /// to DingTalk) in `askerp_answer_seconds`.
    pub fn observe_answer(&self, elapsed: Duration) {
        let secs = elapsed.as_secs_f64();
        let slot = ANSWER_BUCKETS
            .iter()
            .position(|le| secs <= *le)
            .unwrap_or(ANSWER_BUCKETS.len());
        if let Ok(mut h) = self.answer.lock() {
            if let Some(c) = h.counts.get_mut(slot) {
                *c += 1;
            }
            h.sum += secs;
            h.count += 1;
        }
    }

    /// The Prometheus exposition text: this registry's counters and histogram, `counters`
    /// kept elsewhere (each `(name, help, value)`, rendered `askerp_<name>_total`), and
    /// `gauges` (`(name, help, value)`, rendered `askerp_<name>`).
    pub fn render(&self, counters: &[(&str, &str, u64)], gauges: &[(&str, &str, u64)]) -> String {
        let mut all: BTreeMap<String, u64> =
            self.counters.lock().map(|c| c.clone()).unwrap_or_default();
        let mut out = String::new();

        let mut labelled = |out: &mut String,
                            prefix: &str,
                            family_name: &str,
                            label: &str,
                            values: &[&str],
                            help: &str| {
            family(out, family_name, "counter", help);
            let mut seen: BTreeMap<String, u64> =
                values.iter().map(|v| ((*v).to_string(), 0)).collect();
            let keys: Vec<String> = all
                .keys()
                .filter(|k| k.starts_with(prefix))
                .cloned()
                .collect();
            for k in keys {
                let v = all.remove(&k).unwrap_or(0);
                *seen.entry(k[prefix.len()..].to_string()).or_insert(0) += v;
            }
            for (value, n) in seen {
                out.push_str(&format!(
                    "{family_name}{{{label}=\"{}\"}} {n}\n",
                    label_value(&value)
                ));
            }
        };
        labelled(
            &mut out,
            "decisions_",
            "askerp_decisions_total",
            "decision",
            DECISIONS,
            "Messages answered, by the pipeline's decision.",
        );
        labelled(
            &mut out,
            "callback_rejected_",
            "askerp_callback_rejected_total",
            "reason",
            CALLBACK_REJECTIONS,
            "HTTP callbacks refused before becoming a message, by reason.",
        );
        labelled(
            &mut out,
            "events_rejected_",
            "askerp_events_rejected_total",
            "reason",
            EVENT_REJECTIONS,
            "Reports at POST /events/<source> refused before being read, by reason.",
        );

        let mut helps: BTreeMap<String, String> = BTreeMap::new();
        for (name, help) in KNOWN {
            all.entry((*name).to_string()).or_insert(0);
            helps.insert((*name).to_string(), (*help).to_string());
        }
        for (name, help, value) in counters {
            all.insert((*name).to_string(), *value);
            helps.insert((*name).to_string(), (*help).to_string());
        }
        for (name, value) in &all {
            let help =
                helps
                    .get(name)
                    .cloned()
                    .unwrap_or_else(|| match name.strip_prefix("sends_") {
                        Some(rest) => {
                            format!("Send attempts to DingTalk of kind and outcome `{rest}`.")
                        }
                        None => format!("Events counted as `{name}`."),
                    });
            let metric = format!("askerp_{name}_total");
            family(&mut out, &metric, "counter", &help);
            out.push_str(&format!("{metric} {value}\n"));
        }

        let h = self
            .answer
            .lock()
            .map(|h| (h.counts.clone(), h.sum, h.count))
            .unwrap_or_default();
        let (counts, sum, count) = h;
        family(
            &mut out,
            "askerp_answer_seconds",
            "histogram",
            "End-to-end time of an answered message: question received to reply handed to DingTalk.",
        );
        let mut cumulative = 0;
        for (i, le) in ANSWER_BUCKETS.iter().enumerate() {
            cumulative += counts.get(i).copied().unwrap_or(0);
            out.push_str(&format!(
                "askerp_answer_seconds_bucket{{le=\"{le}\"}} {cumulative}\n"
            ));
        }
        out.push_str(&format!(
            "askerp_answer_seconds_bucket{{le=\"+Inf\"}} {count}\naskerp_answer_seconds_sum {sum:.6}\naskerp_answer_seconds_count {count}\n"
        ));

        for (name, help, value) in gauges {
            let metric = format!("askerp_{name}");
            family(&mut out, &metric, "gauge", help);
            out.push_str(&format!("{metric} {value}\n"));
        }
        out
    }
}
