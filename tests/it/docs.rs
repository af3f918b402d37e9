//! Every TOML snippet in `docs/connectors.md` and `docs/connect-your-erp.md` goes through
//! the real configuration loader (`Config::load`: figment, the file, validation), so the
//! syntax the docs show is the syntax askerp accepts. Connector snippets in
//! `docs/connectors.md` are the inside of one `[erp.connectors.<name>]` table; the test
//! places them there, with the `kind` their section is about.

use askerp::config::Config;

/// (file, heading above the block, first line number, the block's text).
fn toml_blocks(file: &str) -> Vec<(String, String, usize, String)> {
    let path = if file == "README.md" {
        format!("{}/{file}", env!("CARGO_MANIFEST_DIR"))
    } else {
        format!("{}/docs/{file}", env!("CARGO_MANIFEST_DIR"))
    };
    let text = std::fs::read_to_string(&path).expect("docs file");
    let mut out = Vec::new();
    let mut heading = String::new();
    let mut block: Option<(usize, String)> = None;
    for (n, line) in text.lines().enumerate() {
        match &mut block {
            Some((_, body)) if line.trim_start().starts_with("```") => {
                out.push((file.to_string(), heading.clone(), n, std::mem::take(body)));
                block = None;
            }
            Some((_, body)) => {
                body.push_str(line);
                body.push('\n');
            }
            None if line.trim_start().starts_with("```toml") => {
                block = Some((n + 1, String::new()))
            }
            None if line.starts_with("## ") => heading = line.to_string(),
            None => {}
        }
    }
    out
}

/// Loads through the real loader, with the Tryton passwords the snippets leave to the
/// environment (secrets are refused in the file) supplied as if set there.
fn load_with_env_secrets(path: &std::path::Path) -> Result<Config, askerp::config::ConfigError> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let mut defaults = figment::Figment::new();
    for name in ["doc", "shop"] {
        let key = if text.contains(&format!("[erp.connectors.{name}]\nkind = \"tryton\"")) {
            Some("password")
        } else if text.contains(&format!("[erp.connectors.{name}]\nkind = \"odoo\"")) {
            Some("api_key")
        } else if text.contains(&format!("[erp.connectors.{name}.auth]"))
            && text.contains("kind = \"basic\"")
        {
            Some("auth.password")
        } else {
            None
        };
        if let Some(key) = key {
            defaults = defaults.merge(figment::providers::Serialized::default(
                &format!("erp.connectors.{name}.{key}"),
                "from-the-environment",
            ));
        }
    }
    Config::load_with(Some(path), defaults)
}

/// A connector table's snippet as a whole configuration file.
fn as_connector(kind: &str, body: &str) -> String {
    let mut out =
        format!("[erp]\nconnector = \"doc\"\n\n[erp.connectors.doc]\nkind = \"{kind}\"\n");
    for line in body.lines() {
        let t = line.trim_start();
        if let Some(rest) = t.strip_prefix("[[") {
            out.push_str(&format!("[[erp.connectors.doc.{rest}\n"));
        } else if let Some(rest) = t.strip_prefix('[') {
            out.push_str(&format!("[erp.connectors.doc.{rest}\n"));
        } else {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

/// The `[data]` table naming the shipped demo directory (any valid directory file).
fn directory() -> String {
    format!(
        "[data]\ndirectory = \"{}/config/demo-directory.toml\"\n\n",
        env!("CARGO_MANIFEST_DIR")
    )
}

#[test]
fn every_documented_toml_snippet_loads_through_the_real_loader() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut failures = Vec::new();
    let mut checked = 0;
    // The worked SQL example: snippets that only add to it (protection overrides) are
    // loaded on top of it.
    let worked = toml_blocks("connect-your-erp.md")
        .into_iter()
        .map(|b| b.3)
        .find(|b| b.contains("[erp.connectors.legacy.queries.places]"))
        .expect("the worked SQL example");
    for file in ["connectors.md", "connect-your-erp.md"] {
        for (file, heading, line, body) in toml_blocks(file) {
            let body = if body.contains("[erp.connectors.legacy.") && !body.contains("kind =") {
                format!("{worked}\n{body}")
            } else {
                body
            };
            let kind = ["Tryton", "OData", "Odoo"]
                .into_iter()
                .find(|k| file == "connectors.md" && heading.contains(k))
                .map(str::to_ascii_lowercase);
            let snippet = match &kind {
                Some(kind) => as_connector(kind, &body),
                None => body.clone(),
            };
            // A real ERP needs a real directory; the snippets leave it out.
            let text = format!("{}{snippet}", directory());
            let path = dir
                .path()
                .join(format!("{}-{line}.toml", file.replace('.', "-")));
            std::fs::write(&path, &text).expect("write");
            checked += 1;
            match load_with_env_secrets(&path) {
                Ok(_) => {}
                // A snippet that says its queries follow ("# ...queries, see below") parses,
                // and only the queries it leaves out are missing.
                Err(askerp::config::ConfigError::Invalid(problems))
                    if body.contains("# ...queries")
                        && problems
                            .iter()
                            .all(|p| p.contains(".queries.") && p.contains("is missing")) => {}
                Err(e) => failures.push(format!("{file}:{line} ({heading}): {e}\n{text}")),
            }
        }
    }
    assert!(checked >= 6, "only {checked} snippets found");
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// The configuration snippets of README, `docs/charts.md` and `docs/deploy.md` (the
/// directory and policy files they show are other formats, loaded by their own tests;
/// the directory-sync snippets by `tests/it/directory.rs`), with the secrets they leave to
/// the environment supplied as if set there.
#[test]
fn readme_and_operations_snippets_load_through_the_real_loader() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut checked = 0;
    let mut failures = Vec::new();
    for file in ["README.md", "charts.md", "deploy.md"] {
        for (file, heading, line, body) in toml_blocks(file) {
            if body.trim_start().starts_with("version =") || body.contains("[directory") {
                continue;
            }
            let path = dir
                .path()
                .join(format!("{}-{line}.toml", file.replace('.', "-")));
            std::fs::write(&path, &body).expect("write");
            let mut env = figment::Figment::new();
            if body.contains("backend = \"redis\"") {
                env = env.merge(figment::providers::Serialized::default(
                    "state.url",
                    "redis://127.0.0.1:6379/0",
                ));
            }
            env = source_secrets(&body, env);
            checked += 1;
            if let Err(e) = Config::load_with(Some(&path), env) {
                failures.push(format!("{file}:{line} ({heading}): {e}\n{body}"));
            }
        }
    }
    assert!(checked >= 3, "only {checked} snippets found");
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// The secret of every `[push.source.<name>]` in `body`, as if set in the environment
/// (`ASKERP_PUSH__SOURCE__<NAME>__SECRET`), where the loader insists it comes from.
fn source_secrets(body: &str, mut env: figment::Figment) -> figment::Figment {
    for line in body.lines() {
        if let Some(name) = line
            .trim()
            .strip_prefix("[push.source.")
            .and_then(|s| s.strip_suffix(']'))
        {
            env = env.merge(figment::providers::Serialized::default(
                &format!("push.source.{name}.secret"),
                "from-the-environment",
            ));
        }
    }
    env
}

/// The syntax issue 9 reported refused: numbers, not only strings.
#[test]
fn reorder_levels_are_numbers_or_strings() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("askerp.toml");
    std::fs::write(
        &path,
        directory()
            + r#"
[erp]
connector = "shop"

[erp.connectors.shop]
kind = "tryton"
url = "http://127.0.0.1:8000"
database = "erp"
username = "askerp"
reorder_levels = { "WIDGET-B" = 40, "GADGET-X" = "10.5", "BOLT-M4" = 2.25 }
default_reorder_level = 0
"#,
    )
    .expect("write");
    let config = load_with_env_secrets(&path).expect("the documented syntax loads");
    let Some(askerp::erp::config::ConnectorKind::Tryton(t)) =
        config.erp.connectors.get("shop").map(|c| &c.kind)
    else {
        panic!("a tryton connector");
    };
    use rust_decimal::Decimal;
    assert_eq!(t.reorder_levels["WIDGET-B"], Decimal::from(40));
    assert_eq!(t.reorder_levels["GADGET-X"], Decimal::new(105, 1));
    assert_eq!(t.reorder_levels["BOLT-M4"], Decimal::new(225, 2));
    assert_eq!(t.default_reorder_level, Decimal::ZERO);
}

/// The README's "Scheduled reports and alerts" examples load through the real loader and
/// pass every check `askerp check` makes of subscriptions and routes.
#[tokio::test]
async fn the_push_examples_in_the_readme_load_and_pass_the_checks() {
    let text = std::fs::read_to_string(format!("{}/README.md", env!("CARGO_MANIFEST_DIR")))
        .expect("README");
    let section = text
        .split("## Scheduled reports and alerts")
        .nth(1)
        .and_then(|s| s.split("\n## ").next())
        .expect("the README section");
    let mut blocks = Vec::new();
    let mut block: Option<String> = None;
    for line in section.lines() {
        match &mut block {
            Some(b) if line.trim_start().starts_with("```") => {
                blocks.push(std::mem::take(b));
                block = None;
            }
            Some(b) => {
                b.push_str(line);
                b.push('\n');
            }
            None if line.trim_start().starts_with("```toml") => block = Some(String::new()),
            None => {}
        }
    }
    assert!(!blocks.is_empty(), "no TOML example in the section");
    let dir = tempfile::tempdir().expect("tempdir");
    for (n, body) in blocks.iter().enumerate() {
        let path = dir.path().join(format!("push-{n}.toml"));
        std::fs::write(&path, body).expect("write");
        let config = Config::load_with(Some(&path), source_secrets(body, figment::Figment::new()))
            .unwrap_or_else(|e| panic!("{e}\n{body}"));
        assert!(!config.subscriptions.is_empty() || !config.alert_routes.is_empty());
        let bot = askerp::setup::bot(&config).await.expect("bot");
        let now = jiff::Zoned::now().with_time_zone(config.time_zone());
        let (fine, problems) = askerp::push::check(&config, &bot, &now).await;
        assert!(problems.is_empty(), "{problems:?}\n{body}");
        assert!(fine.len() > config.subscriptions.len(), "{fine:?}");
    }
}
