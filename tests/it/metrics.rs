//! `/metrics` as Prometheus reads it: HELP and TYPE for every series, bounded families as
//! labels, known series at 0 from the start, the answer-latency histogram.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use crate::support::TestApp;

/// One sample: metric name, labels (sorted by name), value.
#[derive(Debug, Clone)]
struct Sample {
    name: String,
    labels: BTreeMap<String, String>,
    value: f64,
}

/// The exposition text parsed by [`parse`]: families (name → type, with help present)
/// and samples (series text with labels in name order → value).
struct Exposition {
    types: BTreeMap<String, String>,
    helps: BTreeSet<String>,
    samples: BTreeMap<String, f64>,
    all: Vec<Sample>,
}

impl Exposition {
    /// The sum of the samples of `name` whose labels include every pair of `with`.
    fn sum(&self, name: &str, with: &[(&str, &str)]) -> f64 {
        self.all
            .iter()
            .filter(|s| s.name == name)
            .filter(|s| {
                with.iter()
                    .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
            })
            .map(|s| s.value)
            .sum()
    }

    /// The values a label takes on samples of `name`.
    fn label_values(&self, name: &str, label: &str) -> BTreeSet<String> {
        self.all
            .iter()
            .filter(|s| s.name == name)
            .filter_map(|s| s.labels.get(label).cloned())
            .collect()
    }
}

fn is_metric_name(n: &str) -> bool {
    let mut chars = n.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

fn is_label_name(n: &str) -> bool {
    let mut chars = n.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !n.starts_with("__")
}

/// Parses `{a="x",b="y"}` at the start of `s` strictly (escapes `\\`, `\"`, `\n` only;
/// no duplicate names); returns the labels and the rest of the line.
fn parse_labels(s: &str, line: &str) -> (BTreeMap<String, String>, String) {
    let mut labels = BTreeMap::new();
    let mut chars = s.chars().peekable();
    assert_eq!(chars.next(), Some('{'), "labels open with {{: {line}");
    loop {
        if chars.peek() == Some(&'}') {
            chars.next();
            break;
        }
        let name: String = std::iter::from_fn(|| chars.next_if(|c| *c != '=')).collect();
        assert!(is_label_name(&name), "bad label name {name:?}: {line}");
        assert_eq!(chars.next(), Some('='), "label = : {line}");
        assert_eq!(chars.next(), Some('"'), "label value quoted: {line}");
        let mut value = String::new();
        loop {
            match chars.next() {
                Some('\\') => match chars.next() {
                    Some('\\') => value.push('\\'),
                    Some('"') => value.push('"'),
                    Some('n') => value.push('\n'),
                    other => panic!("bad escape {other:?}: {line}"),
                },
                Some('"') => break,
                Some('\n') | None => panic!("unterminated label value: {line}"),
                Some(c) => value.push(c),
            }
        }
        assert!(
            labels.insert(name.clone(), value).is_none(),
            "label {name} twice: {line}"
        );
        match chars.next() {
            Some(',') => {}
            Some('}') => break,
            other => panic!("after a label value {other:?}: {line}"),
        }
    }
    (labels, chars.collect())
}

fn parse_value(v: &str, line: &str) -> f64 {
    match v {
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        "NaN" => f64::NAN,
        _ => {
            assert!(
                v.chars()
                    .all(|c| c.is_ascii_digit() || matches!(c, '.' | '-' | '+' | 'e' | 'E')),
                "bad value {v:?}: {line}"
            );
            v.parse()
                .unwrap_or_else(|_| panic!("bad value {v:?}: {line}"))
        }
    }
}

/// The family a sample name belongs to: its own name, or for a histogram's `_bucket`,
/// `_sum` and `_count` the histogram's.
fn family_name(types: &BTreeMap<String, String>, name: &str) -> String {
    if types.contains_key(name) {
        return name.to_string();
    }
    for suffix in ["_bucket", "_sum", "_count"] {
        if let Some(base) = name.strip_suffix(suffix)
            && types.get(base).map(String::as_str) == Some("histogram")
        {
            return base.to_string();
        }
    }
    name.to_string()
}

/// A strict parser of the Prometheus text exposition format (0.0.4), failing the test at
/// the first departure: names and label syntax, escapes, one HELP and one TYPE per
/// family written before its samples, a family's samples together, no series twice,
/// counters named `_total` and never negative, histograms with `le` on every bucket,
/// cumulative buckets ending in `+Inf` equal to `_count`, and a `_sum`.
fn parse(text: &str) -> Exposition {
    assert!(text.ends_with('\n'), "the text ends with a line feed");
    let mut e = Exposition {
        types: BTreeMap::new(),
        helps: BTreeSet::new(),
        samples: BTreeMap::new(),
        all: Vec::new(),
    };
    let mut finished: BTreeSet<String> = BTreeSet::new();
    let mut current: Option<String> = None;
    for line in text.lines() {
        assert!(!line.is_empty(), "empty line in the text");
        assert_eq!(line, line.trim_end(), "trailing space: {line:?}");
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let (name, help) = rest.split_once(' ').expect("HELP has a text");
            assert!(is_metric_name(name), "bad name in HELP: {line}");
            assert!(!help.trim().is_empty(), "empty help: {line}");
            assert!(
                !e.types.contains_key(name),
                "HELP after TYPE or samples: {line}"
            );
            assert!(e.helps.insert(name.to_string()), "HELP twice: {name}");
            if let Some(c) = current.replace(name.to_string()) {
                finished.insert(c);
            }
        } else if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').expect("TYPE has a kind");
            assert!(
                ["counter", "gauge", "histogram"].contains(&kind),
                "unknown type: {line}"
            );
            assert!(e.helps.contains(name), "TYPE without HELP first: {line}");
            assert_eq!(
                current.as_deref(),
                Some(name),
                "TYPE for another family: {line}"
            );
            assert!(
                e.types.insert(name.to_string(), kind.to_string()).is_none(),
                "TYPE twice: {name}"
            );
            if kind == "counter" {
                assert!(name.ends_with("_total"), "counter not named _total: {name}");
            }
        } else {
            assert!(!line.starts_with('#'), "stray comment: {line}");
            let name_end = line
                .find(['{', ' '])
                .unwrap_or_else(|| panic!("sample without value: {line}"));
            let name = &line[..name_end];
            assert!(is_metric_name(name), "bad metric name: {line}");
            let (labels, rest) = if line[name_end..].starts_with('{') {
                parse_labels(&line[name_end..], line)
            } else {
                (BTreeMap::new(), line[name_end..].to_string())
            };
            let rest = rest
                .strip_prefix(' ')
                .unwrap_or_else(|| panic!("one space before the value: {line}"));
            let mut fields = rest.split(' ');
            let value = parse_value(fields.next().unwrap_or_default(), line);
            if let Some(ts) = fields.next() {
                assert!(ts.parse::<i64>().is_ok(), "bad timestamp: {line}");
            }
            assert!(fields.next().is_none(), "extra fields: {line}");
            let family = family_name(&e.types, name);
            let kind = e
                .types
                .get(&family)
                .unwrap_or_else(|| panic!("sample before its # TYPE: {line}"));
            assert_eq!(
                current.as_deref(),
                Some(family.as_str()),
                "family split: {line}"
            );
            assert!(!finished.contains(&family), "family split: {line}");
            match kind.as_str() {
                "counter" => assert!(value >= 0.0, "negative counter: {line}"),
                "histogram" => {
                    assert!(name != family, "histogram sample without suffix: {line}");
                    if name.ends_with("_bucket") {
                        assert!(labels.contains_key("le"), "bucket without le: {line}");
                    } else {
                        assert!(!labels.contains_key("le"), "le off a bucket: {line}");
                    }
                }
                _ => {}
            }
            let key = format!(
                "{name}{}",
                if labels.is_empty() {
                    String::new()
                } else {
                    format!(
                        "{{{}}}",
                        labels
                            .iter()
                            .map(|(k, v)| format!("{k}=\"{v}\""))
                            .collect::<Vec<_>>()
                            .join(",")
                    )
                }
            );
            assert!(
                e.samples.insert(key.clone(), value).is_none(),
                "series twice: {key}"
            );
            e.all.push(Sample {
                name: name.to_string(),
                labels,
                value,
            });
        }
    }
    for name in &e.helps {
        assert!(e.types.contains_key(name), "HELP without TYPE: {name}");
    }
    check_histograms(&e);
    e
}

/// Every histogram series: buckets cumulative, `+Inf` last and equal to `_count`, a `_sum`.
fn check_histograms(e: &Exposition) {
    for (family, _) in e.types.iter().filter(|(_, k)| k.as_str() == "histogram") {
        let mut series: BTreeMap<String, Vec<(f64, f64)>> = BTreeMap::new();
        for s in e
            .all
            .iter()
            .filter(|s| s.name == format!("{family}_bucket"))
        {
            let mut rest = s.labels.clone();
            let le = rest.remove("le").unwrap_or_default();
            let key = format!("{rest:?}");
            series
                .entry(key)
                .or_default()
                .push((parse_value(&le, family), s.value));
        }
        assert!(!series.is_empty(), "histogram {family} without buckets");
        for (labels, mut buckets) in series {
            buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
            assert!(
                buckets.windows(2).all(|w| w[0].1 <= w[1].1),
                "{family}{labels}: buckets not cumulative"
            );
            let last = buckets.last().copied().unwrap_or_default();
            assert!(last.0.is_infinite(), "{family}{labels}: no +Inf bucket");
            let count = e
                .all
                .iter()
                .find(|s| {
                    s.name == format!("{family}_count") && format!("{:?}", s.labels) == labels
                })
                .unwrap_or_else(|| panic!("{family}{labels}: no _count"));
            assert_eq!(
                count.value, last.1,
                "{family}{labels}: +Inf bucket != _count"
            );
            assert!(
                e.all
                    .iter()
                    .any(|s| s.name == format!("{family}_sum")
                        && format!("{:?}", s.labels) == labels),
                "{family}{labels}: no _sum"
            );
        }
    }
}

async fn scrape(app: &TestApp) -> String {
    app.http
        .get(format!("{}/metrics", app.admin_base))
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text")
}

#[tokio::test]
async fn metrics_carry_help_and_type_labels_and_an_answer_histogram() {
    let app = TestApp::start().await;

    // Before any message: the known series are there, at 0.
    let before = parse(&scrape(&app).await);
    for series in [
        "askerp_decisions_total{decision=\"allow\"}",
        "askerp_decisions_total{decision=\"deny\"}",
        "askerp_decisions_total{decision=\"unknown_user\"}",
        "askerp_callback_accepted_total",
        "askerp_callback_rejected_total{reason=\"bad_signature\"}",
        "askerp_callback_rejected_total{reason=\"expired\"}",
        "askerp_replies_delivered_total",
        "askerp_replies_failed_total",
        "askerp_answer_seconds_count",
        "askerp_answer_seconds_bucket{le=\"+Inf\"}",
    ] {
        assert_eq!(before.samples.get(series), Some(&0.0), "{series} at start");
    }
    // Every channel × intent (the catalog's and none), every send kind's outcomes and
    // every timed send kind's histogram, before the first message.
    for channel in askerp::metrics::CHANNELS {
        for intent in askerp::intent::Intent::ALL
            .iter()
            .map(|i| i.name())
            .chain(["none"])
        {
            let series =
                format!("askerp_answers_total{{channel=\"{channel}\",intent=\"{intent}\"}}");
            assert_eq!(before.samples.get(&series), Some(&0.0), "{series} at start");
        }
    }
    for (kind, outcomes) in askerp::metrics::SEND_KINDS {
        for outcome in *outcomes {
            let series = format!("askerp_sends_total{{kind=\"{kind}\",outcome=\"{outcome}\"}}");
            assert_eq!(before.samples.get(&series), Some(&0.0), "{series} at start");
        }
    }
    for kind in askerp::metrics::TIMED_SEND_KINDS {
        let series = format!("askerp_dingtalk_send_seconds_count{{kind=\"{kind}\"}}");
        assert_eq!(before.samples.get(&series), Some(&0.0), "{series} at start");
    }
    assert!(
        before
            .samples
            .contains_key("askerp_erp_connector_latency_seconds_count{connector=\"demo\"}"),
        "ERP histogram at start"
    );

    app.ask("demo.staff", "how many iPhone 15 Pro 256GB in stock?")
        .await;
    app.ask("demo.staff", "help").await;
    app.ask("someone.unknown", "how many iPhone 15 Pro 256GB in stock?")
        .await;
    app.audit(3).await;
    // The audit is written after the histogram is fed; give the last task a moment.
    tokio::time::sleep(Duration::from_millis(100)).await;

    let text = scrape(&app).await;
    let e = parse(&text);
    // Decisions are one metric with a label, not a name per decision.
    assert!(!text.contains("askerp_decisions_allow"), "{text}");
    assert!(!text.contains("callback_rejected_bad_signature"), "{text}");
    let decisions: f64 = e
        .samples
        .iter()
        .filter(|(k, _)| k.starts_with("askerp_decisions_total{decision=\""))
        .map(|(_, v)| v)
        .sum();
    assert_eq!(decisions, 3.0, "{text}");
    assert!(e.samples["askerp_decisions_total{decision=\"allow\"}"] >= 1.0);
    assert_eq!(
        e.samples["askerp_decisions_total{decision=\"unknown_user\"}"],
        1.0
    );
    assert_eq!(e.samples["askerp_callback_accepted_total"], 3.0);
    assert_eq!(e.samples["askerp_replies_delivered_total"], 3.0);

    // The histogram: three observations, cumulative buckets ending at the count.
    assert_eq!(e.types["askerp_answer_seconds"], "histogram");
    assert_eq!(e.samples["askerp_answer_seconds_count"], 3.0, "{text}");
    assert_eq!(e.samples["askerp_answer_seconds_bucket{le=\"+Inf\"}"], 3.0);
    assert!(e.samples["askerp_answer_seconds_sum"] > 0.0);
    let mut buckets: Vec<(f64, f64)> = e
        .samples
        .iter()
        .filter(|(k, _)| k.starts_with("askerp_answer_seconds_bucket{le=\"") && !k.contains("+Inf"))
        .map(|(k, v)| {
            let le: f64 = k
                .trim_start_matches("askerp_answer_seconds_bucket{le=\"")
                .trim_end_matches("\"}")
                .parse()
                .expect("numeric le");
            (le, *v)
        })
        .collect();
    buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
    let buckets: Vec<f64> = buckets.into_iter().map(|(_, v)| v).collect();
    assert!(buckets.len() >= 5, "{text}");
    assert!(
        buckets.windows(2).all(|w| w[0] <= w[1]),
        "not cumulative: {text}"
    );
    assert_eq!(
        buckets.last().copied(),
        Some(3.0),
        "30 s bucket holds all: {text}"
    );

    // One count of ERP calls: the per-connector one; the cache's misses are named so.
    assert!(!text.contains("askerp_erp_calls_total"), "{text}");
    assert!(e.samples.contains_key("askerp_erp_cache_misses_total"));
    assert!(
        e.samples
            .contains_key("askerp_erp_connector_calls_total{connector=\"demo\"}"),
        "{text}"
    );
}

/// Counters that describe the same events agree, after real traffic through the HTTP
/// callback: every kind of decision, 1:1 and group, a personal answer sent privately
/// with a note in the group, a redelivery, a refused callback.
#[tokio::test]
async fn counters_agree_with_each_other_and_with_the_audit_after_real_traffic() {
    let app = TestApp::start().await;
    // Start-up reads the connectors' vocabulary past the cache; the traffic below is
    // compared from here.
    let before = parse(&scrape(&app).await);
    let questions: &[(&str, &str, Option<&str>)] = &[
        ("demo.staff", "how many iPhone 15 Pro 256GB in stock?", None),
        ("demo.staff", "觀塘倉仲有幾多 iPhone 15 Pro 256GB?", None),
        (
            "demo.staff",
            "which items are low on stock in Tsuen Wan?",
            None,
        ),
        ("demo.manager", "sales last month in Kowloon", None),
        ("demo.manager", "上個月九龍區營業額", Some("cid-managers")),
        (
            "demo.staff",
            "how many annual leave days do I have?",
            Some("cid-store"),
        ),
        ("demo.staff", "help", None),
        ("demo.staff", "zzqx blorp", None),
        (
            "someone.unknown",
            "how many iPhone 15 Pro 256GB in stock?",
            None,
        ),
    ];
    let mut redelivered = None;
    for (user, text, group) in questions {
        let mut msg = askerp::dingtalk::sim::Incoming::text(user, text);
        if let Some(cid) = group {
            msg = msg.in_group(cid);
        }
        let cb = app.sim.callback(&msg, jiff::Timestamp::now());
        assert_eq!(app.post(&cb).await, 200);
        redelivered.get_or_insert(cb);
    }
    // DingTalk redelivers the first message: acknowledged, not answered again.
    if let Some(cb) = &redelivered {
        assert_eq!(app.post(cb).await, 200);
    }
    // A forged callback: refused before it is a message.
    let status = app
        .post_raw(
            Some(&jiff::Timestamp::now().as_millisecond().to_string()),
            Some("forged"),
            &serde_json::json!({"msgtype": "text"}),
        )
        .await;
    assert_ne!(status, 200);

    let n = questions.len();
    let records = app.audit(n + 1).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let text = scrape(&app).await;
    let e = parse(&text);

    let answered: Vec<&serde_json::Value> = records
        .iter()
        .filter(|r| r["decision"] != "refused")
        .collect();
    assert_eq!(
        answered.len(),
        n,
        "one audit record per message: {records:?}"
    );
    let n = n as f64;
    assert_eq!(e.sum("askerp_answers_total", &[]), n, "{text}");
    assert_eq!(e.sum("askerp_decisions_total", &[]), n);
    assert_eq!(e.sum("askerp_answer_seconds_count", &[]), n);
    assert_eq!(
        e.sum("askerp_replies_delivered_total", &[]) + e.sum("askerp_replies_failed_total", &[]),
        n
    );
    assert_eq!(e.sum("askerp_callback_accepted_total", &[]), n);
    assert_eq!(e.sum("askerp_callback_duplicates_total", &[]), 1.0);
    assert_eq!(e.sum("askerp_callback_rejected_total", &[]), 1.0);

    // By intent and by decision, the metrics say what the audit says.
    for intent in e.label_values("askerp_answers_total", "intent") {
        let audited = answered
            .iter()
            .filter(|r| r["intent"].as_str().unwrap_or("none") == intent)
            .count() as f64;
        assert_eq!(
            e.sum(
                "askerp_answers_total",
                &[("channel", "callback"), ("intent", intent.as_str())]
            ),
            audited,
            "intent {intent}"
        );
    }
    for decision in e.label_values("askerp_decisions_total", "decision") {
        let audited = answered
            .iter()
            .filter(|r| r["decision"] == decision.as_str())
            .count() as f64;
        assert_eq!(
            e.sum("askerp_decisions_total", &[("decision", decision.as_str())]),
            audited,
            "decision {decision}"
        );
    }
    assert!(e.sum("askerp_answers_total", &[("intent", "inventory.stock")]) >= 3.0);
    assert!(e.sum("askerp_answers_total", &[("intent", "leave.balance")]) >= 1.0);
    assert!(e.sum("askerp_answers_total", &[("intent", "none")]) >= 1.0);

    // Sends: the audit's attempts, the counters, the histograms and what DingTalk
    // (the simulator) received are one count.
    let audited_sends: Vec<String> = answered
        .iter()
        .flat_map(|r| r["sends"].as_array().cloned().unwrap_or_default())
        .filter_map(|s| s.as_str().map(str::to_string))
        .collect();
    assert_eq!(e.sum("askerp_sends_total", &[]), audited_sends.len() as f64);
    for (kind, outcomes) in askerp::metrics::SEND_KINDS {
        for outcome in *outcomes {
            let audited = audited_sends
                .iter()
                .filter(|s| s.starts_with(&format!("{kind}:{outcome}")))
                .count() as f64;
            assert_eq!(
                e.sum(
                    "askerp_sends_total",
                    &[("kind", *kind), ("outcome", *outcome)]
                ),
                audited,
                "sends {kind}:{outcome}"
            );
        }
    }
    let mut timed = 0.0;
    for kind in askerp::metrics::TIMED_SEND_KINDS {
        let kind: &str = kind;
        let requests = e.sum("askerp_sends_total", &[("kind", kind), ("outcome", "ok")])
            + e.sum(
                "askerp_sends_total",
                &[("kind", kind), ("outcome", "partial")],
            )
            + e.sum(
                "askerp_sends_total",
                &[("kind", kind), ("outcome", "failed")],
            );
        let count = e.sum("askerp_dingtalk_send_seconds_count", &[("kind", kind)]);
        assert_eq!(count, requests, "send histogram of {kind}");
        // A chart upload is a request, but not a message the simulator records.
        if kind != "chart_media" {
            timed += count;
        }
    }
    assert_eq!(
        timed,
        app.sim.sent().len() as f64,
        "messages DingTalk received"
    );
    assert!(e.sum("askerp_dingtalk_send_seconds_count", &[("kind", "private")]) >= 1.0);
    assert!(e.sum("askerp_dingtalk_send_seconds_count", &[("kind", "webhook")]) >= n - 1.0);

    // ERP: per connector, the calls are the histogram's observations; while answering,
    // every call was a lookup the cache passed on (no retries, no open circuit, no
    // health check in this test).
    let mut calls = 0.0;
    for connector in e.label_values("askerp_erp_connector_calls_total", "connector") {
        let c = e.sum(
            "askerp_erp_connector_calls_total",
            &[("connector", connector.as_str())],
        );
        assert_eq!(
            e.sum(
                "askerp_erp_connector_latency_seconds_count",
                &[("connector", connector.as_str())]
            ),
            c,
            "ERP histogram of {connector}"
        );
        calls += c;
    }
    let calls = calls - before.sum("askerp_erp_connector_calls_total", &[]);
    assert!(calls >= 3.0, "{text}");
    assert_eq!(e.sum("askerp_erp_connector_retries_total", &[]), 0.0);
    assert_eq!(
        calls,
        e.sum("askerp_erp_cache_misses_total", &[])
            - before.sum("askerp_erp_cache_misses_total", &[]),
        "ERP calls vs cache misses while answering\n{text}"
    );
    assert!(e.sum("askerp_erp_connector_latency_seconds_sum", &[]) > 0.0);
}
