//! Loading the configuration file so that one run reports every problem: syntax errors
//! line by line, value errors with their key, environment variable and origin, and the
//! paths written in the file made relative to it.

use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Format, Serialized, Toml};

use super::{Config, env_name};

/// Makes every relative path written in the configuration file relative to that file's
/// directory, so `askerp --config /etc/askerp/config.toml` finds `policy.toml` beside it
/// whatever the working directory is. Paths from the environment, the defaults or
/// `askerp demo` stay relative to the working directory, as a shell user expects.
pub(super) fn resolve_file_paths(fig: &Figment, config: &mut Config) {
    let base_of = |key: &str| -> Option<PathBuf> {
        match &fig.find_metadata(key)?.source {
            Some(figment::Source::File(file)) => {
                Some(file.parent().map(Path::to_path_buf).unwrap_or_default())
            }
            _ => None,
        }
    };
    let resolve = |key: &str, path: &mut PathBuf| {
        if path.is_relative()
            && !path.as_os_str().is_empty()
            && let Some(base) = base_of(key)
        {
            *path = base.join(&*path);
        }
    };
    let optional = |key: &str, path: &mut Option<PathBuf>| {
        if let Some(p) = path.as_mut() {
            resolve(key, p);
        }
    };
    optional("data.intents_dir", &mut config.data.intents_dir);
    optional("data.directory", &mut config.data.directory);
    optional("data.policy", &mut config.data.policy);
    optional("erp.demo_database", &mut config.erp.demo_database);
    resolve("audit.path", &mut config.audit.path);
    optional("llm.prompt", &mut config.llm.prompt);
    optional("directory.output", &mut config.directory.output);
    optional("directory.overrides", &mut config.directory.overrides);
    optional("push.holidays", &mut config.push.holidays);
    optional("push.state", &mut config.push.state);
    if let Some(csv) = config.directory.csv.as_mut() {
        resolve("directory.csv.path", &mut csv.path);
    }
    for (name, connector) in config.erp.connectors.iter_mut() {
        if let crate::erp::config::ConnectorKind::Demo(demo) = &mut connector.kind {
            optional(
                &format!("erp.connectors.{name}.database"),
                &mut demo.database,
            );
        }
    }
}

/// The configuration file as figment sees it, after [`recover_toml`] removed the lines
/// that do not parse. Its metadata names the file, so values written in it are traced back
/// to it (for error messages and [`resolve_file_paths`]).
pub(super) struct FileToml {
    pub(super) path: PathBuf,
    pub(super) text: String,
}

impl figment::Provider for FileToml {
    fn metadata(&self) -> figment::Metadata {
        figment::Metadata::from("TOML file", figment::Source::File(self.path.clone()))
    }

    fn data(
        &self,
    ) -> Result<figment::value::Map<figment::Profile, figment::value::Dict>, figment::Error> {
        Toml::string(&self.text).data()
    }
}

/// Parses `text` as TOML; each line with a syntax error is reported (with its line
/// number) and blanked, and parsing goes on, so one run shows every broken line and the
/// value problems of the rest. Returns the parsable text and the syntax problems.
pub(super) fn recover_toml(text: &str, file: &Path) -> (String, Vec<String>) {
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    let mut problems = Vec::new();
    let mut blanked = std::collections::BTreeSet::new();
    for _ in 0..64 {
        let joined = lines.join("\n");
        let Err(e) = toml::from_str::<toml::Table>(&joined) else {
            return (joined, problems);
        };
        let line = e
            .span()
            .map(|span| joined[..span.start.min(joined.len())].matches('\n').count());
        let message = e
            .message()
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect::<Vec<_>>()
            .join("; ")
            .replace('`', "");
        match line {
            Some(n) if n < lines.len() && blanked.insert(n) => {
                problems.push(format!(
                    "{} line {}: {message} (the line was skipped; the rest of the file is checked)",
                    file.display(),
                    n + 1
                ));
                lines[n].clear();
            }
            _ => {
                problems.push(format!("{}: {message}", file.display()));
                return (String::new(), problems);
            }
        }
    }
    (lines.join("\n"), problems)
}

/// Deserializes the merged configuration, collecting every value error: a wrong type, an
/// unknown variant or key is reported with its dotted key, its environment variable and
/// where it was set, then removed (the default takes its place) and extraction retried.
/// Returns the configuration built from what is left (`None` when nothing could be
/// salvaged) and the problems.
pub(super) fn extract_all(fig: &Figment) -> (Option<Config>, Vec<String>) {
    let mut problems = Vec::new();
    let mut dict: figment::value::Dict = match fig.extract() {
        Ok(d) => d,
        Err(errors) => {
            return (
                None,
                errors.into_iter().map(|e| describe(fig, &e)).collect(),
            );
        }
    };
    for _ in 0..64 {
        match Figment::from(Serialized::defaults(&dict)).extract::<Config>() {
            Ok(config) => return (Some(config), problems),
            Err(errors) => {
                let mut removed = false;
                for e in errors {
                    problems.push(describe(fig, &e));
                    removed |= remove_key(&mut dict, &error_key(&e));
                }
                if !removed {
                    return (None, problems);
                }
            }
        }
    }
    (None, problems)
}

/// The dotted path of the value an error is about (for an unknown key, the key itself).
pub(super) fn error_key(e: &figment::Error) -> Vec<String> {
    let mut path = e.path.clone();
    match &e.kind {
        figment::error::Kind::UnknownField(field, _) if path.last() != Some(field) => {
            path.push(field.clone())
        }
        figment::error::Kind::MissingField(field)
            if path.last().map(String::as_str) != Some(field) =>
        {
            path.push(field.to_string())
        }
        _ => {}
    }
    path
}

/// Removes `path` from `dict`; for a missing key, its table. True when something went.
pub(super) fn remove_key(dict: &mut figment::value::Dict, path: &[String]) -> bool {
    match path {
        [] => false,
        [last] => dict.remove(last).is_some(),
        [first, rest @ ..] => match dict.get_mut(first) {
            Some(figment::value::Value::Dict(_, inner)) => {
                remove_key(inner, rest) || dict.remove(first).is_some()
            }
            Some(_) => dict.remove(first).is_some(),
            None => false,
        },
    }
}

/// A semantic problem that starts with a dotted key (`company.time_zone = …`) and does
/// not name its environment variable yet gets it appended, so the operator sees both ways
/// of fixing it.
pub(super) fn with_env_name(problem: &str) -> String {
    let key: String = problem
        .chars()
        .take_while(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_' || *c == '.')
        .collect();
    let key = key.trim_end_matches('.');
    if !key.contains('.') || problem.contains("ASKERP_") {
        return problem.to_string();
    }
    format!("{problem} ({})", env_name(key))
}

/// One value error as an operator reads it: the dotted key (never figment's profile
/// prefix), the environment variable that sets it, and where the bad value came from.
pub(super) fn describe(fig: &Figment, e: &figment::Error) -> String {
    let path = error_key(e);
    let key = path.join(".");
    let env = env_name(&key);
    let origin = fig
        .find_metadata(&key)
        .map(|m| match &m.source {
            Some(figment::Source::File(f)) => format!(" in {}", f.display()),
            _ if m.name.contains("environment") => format!(" from the environment ({env})"),
            _ => String::new(),
        })
        .unwrap_or_default();
    let plain = |s: String| s.replace('`', "");
    let also = if origin.contains(&env) {
        String::new()
    } else {
        format!(" (the key can also be set with {env})")
    };
    use figment::error::Kind;
    match &e.kind {
        Kind::UnknownField(_, known) => format!(
            "{key}{origin} is not a known key{}",
            if known.is_empty() {
                String::new()
            } else {
                format!(" (known here: {})", known.join(", "))
            }
        ),
        Kind::UnknownVariant(value, known) => format!(
            "{key}{origin} = {value:?} is not one of {}{also}",
            known.join(", ")
        ),
        Kind::InvalidType(actual, expected) | Kind::InvalidValue(actual, expected) => format!(
            "{key}{origin}: expected {}, found {}{also}",
            plain(expected.clone()),
            plain(actual.to_string())
        ),
        Kind::MissingField(_) => {
            format!("{key} is required{origin} (in the file or as {env})")
        }
        other => format!("{key}{origin}: {} ({env})", plain(other.to_string())),
    }
}
