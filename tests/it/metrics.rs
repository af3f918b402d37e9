//! `/metrics` as Prometheus reads it: HELP and TYPE for every series, bounded families as
//! labels, known series at 0 from the start, the answer-latency histogram.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use crate::support::TestApp;

/// The exposition text parsed: families (name → type, with help present) and samples
/// (full series text → value).
struct Exposition {
    types: BTreeMap<String, String>,
    helps: BTreeSet<String>,
    samples: BTreeMap<String, f64>,
}

fn parse(text: &str) -> Exposition {
    let mut e = Exposition {
        types: BTreeMap::new(),
        helps: BTreeSet::new(),
        samples: BTreeMap::new(),
    };
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let (name, help) = rest.split_once(' ').expect("HELP has a text");
            assert!(!help.trim().is_empty(), "empty help: {line}");
            assert!(e.helps.insert(name.to_string()), "HELP twice: {name}");
        } else if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').expect("TYPE has a kind");
            assert!(
                ["counter", "gauge", "histogram"].contains(&kind),
                "unknown type: {line}"
            );
            assert!(
                e.types.insert(name.to_string(), kind.to_string()).is_none(),
                "TYPE twice: {name}"
            );
        } else {
            assert!(!line.starts_with('#'), "stray comment: {line}");
            let (series, value) = line.rsplit_once(' ').expect("sample has a value");
            let value: f64 = value.parse().expect("numeric value");
            assert!(
                e.samples.insert(series.to_string(), value).is_none(),
                "series twice: {series}"
            );
        }
    }
    e
}

/// The family a sample belongs to: its own name, or for a histogram's `_bucket`, `_sum`
/// and `_count` the histogram's.
fn family_of<'a>(e: &Exposition, series: &'a str) -> &'a str {
    let name = series.split('{').next().unwrap_or(series);
    if e.types.contains_key(name) {
        return name;
    }
    for suffix in ["_bucket", "_sum", "_count"] {
        if let Some(base) = name.strip_suffix(suffix)
            && e.types.get(base).map(String::as_str) == Some("histogram")
        {
            return base;
        }
    }
    name
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
    for series in e.samples.keys() {
        let family = family_of(&e, series);
        assert!(
            e.types.contains_key(family),
            "no # TYPE for {series}\n{text}"
        );
        assert!(e.helps.contains(family), "no # HELP for {series}\n{text}");
    }
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
