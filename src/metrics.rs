//! The counters and histograms `/metrics` renders, in the Prometheus text format.
//!
//! Every family is written with `# HELP` and `# TYPE`, and every series of a bounded
//! label set exists from the start at 0: a rate or an alert over a series that appears
//! only after its first event starts from nothing and misses that event. Labels come
//! from fixed lists (decisions, intents, channels, send kinds, configured connectors),
//! never from user input, so the number of series cannot grow with traffic.
//!
//! Related counts are recorded by one call ([`Metrics::answered`], [`Metrics::sent`],
//! the ERP guard's attempt) so that they agree with each other on every scrape taken
//! between messages: the decisions, the answers and the answer-latency histogram count
//! the same messages.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::intent::Intent;

/// Upper bounds (seconds) of the answer-latency histogram: a cached answer takes
/// milliseconds, an ERP or LLM round trip up to the configured timeouts (tens of seconds).
pub const ANSWER_BUCKETS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// Upper bounds (seconds) of the ERP attempt histogram: an embedded SQLite answers in
/// well under a millisecond, a remote ERP in tens to hundreds, a slow one up to the
/// attempt timeout.
pub const ERP_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// Upper bounds (seconds) of the DingTalk send histogram: an OpenAPI round trip takes
/// tens of milliseconds; the client's timeout bounds the rest.
pub const SEND_BUCKETS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// The ways a message reaches the pipeline (the audit record's `channel`): HTTP
/// callbacks (the web chat of `askerp demo` posts them too), Stream frames, card
/// presses over each, and messages answered from the shutdown spool at the next start.
pub const CHANNELS: &[&str] = &["callback", "stream", "http_card", "stream_card", "spool"];

/// The `intent` label of a message nothing was understood for.
pub const NO_INTENT: &str = "none";

/// Send attempt kinds (the part before the first `:` of an audit record's `sends`
/// entry) with the outcomes each can have.
pub const SEND_KINDS: &[(&str, &[&str])] = &[
    ("webhook", &["ok", "failed", "refused"]),
    ("group_api", &["ok", "failed"]),
    ("private_api", &["ok", "partial", "failed"]),
    ("private", &["ok", "partial", "failed"]),
    ("card", &["ok", "failed"]),
    ("private_card", &["ok", "failed"]),
    ("card_update", &["ok"]),
    ("chart_link", &["ok", "failed"]),
    ("chart_media", &["ok", "failed"]),
    ("chart", &["failed"]),
];

/// The send kinds that make a request to DingTalk, and so have a latency.
pub const TIMED_SEND_KINDS: &[&str] = &[
    "webhook",
    "group_api",
    "private_api",
    "private",
    "card",
    "private_card",
    "chart_media",
];

/// The label given to a kind or outcome missing from [`SEND_KINDS`], so that a new send
/// path cannot add unbounded series.
const OTHER: &str = "other";

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

/// A fixed-bucket histogram, safe to observe from many tasks without a lock.
///
/// Only per-bucket counts are stored; `_count` and the `+Inf` bucket are their sum, so a
/// scrape always shows them equal.
#[derive(Debug)]
pub struct Histogram {
    bounds: &'static [f64],
    /// Observations per bucket of `bounds`, not cumulative; the last slot is beyond the
    /// largest bound.
    counts: Box<[AtomicU64]>,
    /// Sum of observations, in nanoseconds.
    sum_ns: AtomicU64,
}

impl Histogram {
    pub fn new(bounds: &'static [f64]) -> Histogram {
        Histogram {
            bounds,
            counts: (0..=bounds.len()).map(|_| AtomicU64::new(0)).collect(),
            sum_ns: AtomicU64::new(0),
        }
    }

    pub fn observe(&self, elapsed: Duration) {
        let secs = elapsed.as_secs_f64();
        let slot = self
            .bounds
            .iter()
            .position(|le| secs <= *le)
            .unwrap_or(self.bounds.len());
        if let Some(c) = self.counts.get(slot) {
            c.fetch_add(1, Ordering::Relaxed);
        }
        let ns = u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX);
        self.sum_ns.fetch_add(ns, Ordering::Relaxed);
    }

    /// Observations so far.
    pub fn count(&self) -> u64 {
        self.counts.iter().map(|c| c.load(Ordering::Relaxed)).sum()
    }

    /// Writes the `_bucket`, `_sum` and `_count` samples of `name`, each with `labels`
    /// (already rendered, e.g. `connector="demo"`, or empty) before `le`.
    pub fn render(&self, out: &mut String, name: &str, labels: &str) {
        let sep = if labels.is_empty() { "" } else { "," };
        let mut cumulative = 0u64;
        for (i, le) in self.bounds.iter().enumerate() {
            cumulative += self.counts.get(i).map_or(0, |c| c.load(Ordering::Relaxed));
            let _ = writeln!(
                out,
                "{name}_bucket{{{labels}{sep}le=\"{le}\"}} {cumulative}"
            );
        }
        cumulative += self
            .counts
            .get(self.bounds.len())
            .map_or(0, |c| c.load(Ordering::Relaxed));
        let sum = self.sum_ns.load(Ordering::Relaxed) as f64 / 1e9;
        let braced = if labels.is_empty() {
            String::new()
        } else {
            format!("{{{labels}}}")
        };
        let _ = writeln!(
            out,
            "{name}_bucket{{{labels}{sep}le=\"+Inf\"}} {cumulative}"
        );
        let _ = writeln!(out, "{name}_sum{braced} {sum:.9}");
        let _ = writeln!(out, "{name}_count{braced} {cumulative}");
    }
}

/// The registry of the server's own counters and histograms.
///
/// Plain counters are kept under flat names (`callback_accepted`,
/// `callback_rejected_expired`, what [`Metrics::get`] takes); rendering folds the bounded
/// families among them into one metric with a label
/// (`askerp_callback_rejected_total{reason="expired"}`), so call sites stay a single
/// `count`. Answers and sends have their own methods, which record every related series
/// at once.
#[derive(Debug)]
pub struct Metrics {
    counters: Mutex<BTreeMap<String, u64>>,
    /// Answered messages by (channel, intent).
    answers: Mutex<BTreeMap<(String, String), u64>>,
    /// Send attempts by (kind, outcome).
    sends: Mutex<BTreeMap<(String, String), u64>>,
    answer: Histogram,
    /// One histogram per entry of [`TIMED_SEND_KINDS`].
    send_latency: Vec<(&'static str, Histogram)>,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics {
            counters: Mutex::default(),
            answers: Mutex::default(),
            sends: Mutex::default(),
            answer: Histogram::new(ANSWER_BUCKETS),
            send_latency: TIMED_SEND_KINDS
                .iter()
                .map(|k| (*k, Histogram::new(SEND_BUCKETS)))
                .collect(),
        }
    }
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

    /// Records one answered message: its decision (`askerp_decisions_total`), its
    /// channel and intent (`askerp_answers_total`) and its end-to-end time, question
    /// received to reply handed to DingTalk (`askerp_answer_seconds`).
    pub fn answered(
        &self,
        channel: &str,
        intent: Option<Intent>,
        decision: &str,
        elapsed: Duration,
    ) {
        self.count(&format!("decisions_{decision}"));
        let channel = if CHANNELS.contains(&channel) {
            channel
        } else {
            OTHER
        };
        let intent = intent.map_or(NO_INTENT, Intent::name);
        if let Ok(mut a) = self.answers.lock() {
            *a.entry((channel.to_string(), intent.to_string()))
                .or_insert(0) += 1;
        }
        self.answer.observe(elapsed);
    }

    /// Answered messages of `channel` and `intent` (`None`: not understood).
    pub fn answers(&self, channel: &str, intent: Option<Intent>) -> u64 {
        let key = (
            channel.to_string(),
            intent.map_or(NO_INTENT, Intent::name).to_string(),
        );
        self.answers
            .lock()
            .ok()
            .and_then(|a| a.get(&key).copied())
            .unwrap_or(0)
    }

    /// Send attempts of `kind` that ended in `outcome`.
    pub fn sends(&self, kind: &str, outcome: &str) -> u64 {
        self.sends
            .lock()
            .ok()
            .and_then(|s| s.get(&(kind.to_string(), outcome.to_string())).copied())
            .unwrap_or(0)
    }

    /// Records one send attempt, from its audit label (`webhook:ok`,
    /// `private:failed:…`): `askerp_sends_total{kind,outcome}`, and when it made a
    /// request to DingTalk (`elapsed`), `askerp_dingtalk_send_seconds{kind}`.
    pub fn sent(&self, label: &str, elapsed: Option<Duration>) {
        let mut parts = label.split(':');
        let kind = parts.next().unwrap_or_default();
        let outcome = parts.next().unwrap_or_default();
        let (kind, outcome) = match SEND_KINDS.iter().find(|(k, _)| *k == kind) {
            Some((k, outcomes)) => (
                *k,
                if outcomes.contains(&outcome) {
                    outcome
                } else {
                    OTHER
                },
            ),
            None => (OTHER, OTHER),
        };
        if let Ok(mut s) = self.sends.lock() {
            *s.entry((kind.to_string(), outcome.to_string()))
                .or_insert(0) += 1;
        }
        if let Some(elapsed) = elapsed
            && let Some((_, h)) = self.send_latency.iter().find(|(k, _)| *k == kind)
        {
            h.observe(elapsed);
        }
    }

    /// The Prometheus exposition text: this registry's counters and histograms,
    /// `counters` kept elsewhere (each `(name, help, value)`, rendered
    /// `askerp_<name>_total`), and `gauges` (`(name, help, value)`, rendered
    /// `askerp_<name>`).
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
                let _ = writeln!(
                    out,
                    "{family_name}{{{label}=\"{}\"}} {n}",
                    label_value(&value)
                );
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

        family(
            &mut out,
            "askerp_answers_total",
            "counter",
            "Messages answered, by the channel they came in on and the intent understood (none: not understood).",
        );
        let mut answers: BTreeMap<(String, String), u64> = BTreeMap::new();
        for channel in CHANNELS {
            for intent in Intent::ALL.iter().map(|i| i.name()).chain([NO_INTENT]) {
                answers.insert(((*channel).to_string(), intent.to_string()), 0);
            }
        }
        if let Ok(a) = self.answers.lock() {
            for (k, v) in a.iter() {
                *answers.entry(k.clone()).or_insert(0) += v;
            }
        }
        for ((channel, intent), n) in answers {
            let _ = writeln!(
                out,
                "askerp_answers_total{{channel=\"{}\",intent=\"{}\"}} {n}",
                label_value(&channel),
                label_value(&intent)
            );
        }

        family(
            &mut out,
            "askerp_sends_total",
            "counter",
            "Send attempts to DingTalk, by kind (webhook, group_api, private_api, private, card, private_card, card_update, chart_link, chart_media, chart) and outcome.",
        );
        let mut sends: BTreeMap<(String, String), u64> = BTreeMap::new();
        for (kind, outcomes) in SEND_KINDS {
            for outcome in *outcomes {
                sends.insert(((*kind).to_string(), (*outcome).to_string()), 0);
            }
        }
        if let Ok(s) = self.sends.lock() {
            for (k, v) in s.iter() {
                *sends.entry(k.clone()).or_insert(0) += v;
            }
        }
        for ((kind, outcome), n) in sends {
            let _ = writeln!(
                out,
                "askerp_sends_total{{kind=\"{}\",outcome=\"{}\"}} {n}",
                label_value(&kind),
                label_value(&outcome)
            );
        }

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
            let help = helps
                .get(name)
                .cloned()
                .unwrap_or_else(|| format!("Events counted as `{name}`."));
            let metric = format!("askerp_{name}_total");
            family(&mut out, &metric, "counter", &help);
            let _ = writeln!(out, "{metric} {value}");
        }

        family(
            &mut out,
            "askerp_answer_seconds",
            "histogram",
            "End-to-end time of an answered message: question received to reply handed to DingTalk.",
        );
        self.answer.render(&mut out, "askerp_answer_seconds", "");

        family(
            &mut out,
            "askerp_dingtalk_send_seconds",
            "histogram",
            "Time of each request to DingTalk that delivers an answer, by send kind.",
        );
        for (kind, h) in &self.send_latency {
            h.render(
                &mut out,
                "askerp_dingtalk_send_seconds",
                &format!("kind=\"{kind}\""),
            );
        }

        for (name, help, value) in gauges {
            let metric = format!("askerp_{name}");
            family(&mut out, &metric, "gauge", help);
            let _ = writeln!(out, "{metric} {value}");
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_histogram_renders_cumulative_buckets_ending_at_its_count() {
        let h = Histogram::new(&[0.01, 0.1, 1.0]);
        for ms in [5, 50, 50, 500, 5000] {
            h.observe(Duration::from_millis(ms));
        }
        let mut out = String::new();
        h.render(&mut out, "x_seconds", "kind=\"a\"");
        assert_eq!(
            out,
            "x_seconds_bucket{kind=\"a\",le=\"0.01\"} 1\n\
             x_seconds_bucket{kind=\"a\",le=\"0.1\"} 3\n\
             x_seconds_bucket{kind=\"a\",le=\"1\"} 4\n\
             x_seconds_bucket{kind=\"a\",le=\"+Inf\"} 5\n\
             x_seconds_sum{kind=\"a\"} 5.605000000\n\
             x_seconds_count{kind=\"a\"} 5\n"
        );
        assert_eq!(h.count(), 5);
    }

    #[test]
    fn sends_keep_to_the_known_kinds_and_time_only_requests() {
        let m = Metrics::default();
        m.sent("webhook:ok", Some(Duration::from_millis(20)));
        m.sent("webhook:refused:expired", None);
        m.sent(
            "private:partial:invalid=[\"u9\"]",
            Some(Duration::from_millis(30)),
        );
        // A kind or outcome outside the lists cannot add a series per text.
        m.sent("carrier_pigeon:ok", Some(Duration::from_millis(1)));
        m.sent("webhook:exploded:boom", Some(Duration::from_millis(1)));
        assert_eq!(m.sends("webhook", "ok"), 1);
        assert_eq!(m.sends("webhook", "refused"), 1);
        assert_eq!(m.sends("private", "partial"), 1);
        assert_eq!(m.sends("other", "other"), 1);
        assert_eq!(m.sends("webhook", "other"), 1);
        let text = m.render(&[], &[]);
        assert!(text.contains("askerp_dingtalk_send_seconds_count{kind=\"webhook\"} 2\n"));
        assert!(text.contains("askerp_dingtalk_send_seconds_count{kind=\"private\"} 1\n"));
        assert!(text.contains("askerp_sends_total{kind=\"group_api\",outcome=\"ok\"} 0\n"));
        assert!(!text.contains("carrier_pigeon"));
    }

    #[test]
    fn an_answer_counts_its_decision_channel_intent_and_time_at_once() {
        let m = Metrics::default();
        m.answered(
            "callback",
            Some(Intent::InventoryStock),
            "allow",
            Duration::from_millis(3),
        );
        m.answered("stream", None, "not_understood", Duration::from_millis(3));
        m.answered("somewhere", None, "allow", Duration::from_millis(3));
        assert_eq!(m.answers("callback", Some(Intent::InventoryStock)), 1);
        assert_eq!(m.answers("stream", None), 1);
        assert_eq!(m.answers("other", None), 1);
        assert_eq!(m.get("decisions_allow"), 2);
        let text = m.render(&[], &[]);
        assert!(text.contains("askerp_answer_seconds_count 3\n"), "{text}");
        assert!(
            text.contains("askerp_answers_total{channel=\"spool\",intent=\"leave.balance\"} 0\n")
        );
        assert!(text.contains("askerp_decisions_total{decision=\"deny\"} 0\n"));
    }
}
