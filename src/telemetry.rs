//! Logging setup. The counters and histograms `/metrics` renders live in
//! [`crate::metrics`]; they are re-exported here for the call sites that name them so.

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

pub use crate::metrics::{Metrics, family, label_value};
