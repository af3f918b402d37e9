//! Logging setup and the small set of counters `/metrics` exposes.

use std::collections::BTreeMap;
use std::sync::Mutex;

use tracing_subscriber::EnvFilter;

use crate::config::{LogConfig, LogFormat};

/// Installs the global `tracing` subscriber: text or JSON lines on stderr, filtered by
/// `RUST_LOG` when set, else by `log.level`. Safe to call more than once.
pub fn init(config: &LogConfig) {
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(&config.level))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match config.format {
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
        LogFormat::Text => builder.try_init(),
    };
}

/// Counters with bounded label sets, rendered in the Prometheus text format.
#[derive(Debug, Default)]
pub struct Metrics {
    counters: Mutex<BTreeMap<String, u64>>,
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

    /// The Prometheus exposition text: this registry's counters, `counters` kept
    /// elsewhere (both as `askerp_<name>_total`), and `gauges`.
    pub fn render(&self, counters: &[(&str, u64)], gauges: &[(&str, u64)]) -> String {
        let mut all: BTreeMap<String, u64> =
            self.counters.lock().map(|c| c.clone()).unwrap_or_default();
        for (name, value) in counters {
            all.insert((*name).to_string(), *value);
        }
        let mut out = String::new();
        for (name, value) in &all {
            out.push_str(&format!(
                "# TYPE askerp_{name}_total counter\naskerp_{name}_total {value}\n"
            ));
        }
        for (name, value) in gauges {
            out.push_str(&format!(
                "# TYPE askerp_{name} gauge\naskerp_{name} {value}\n"
            ));
        }
        out
    }
}
