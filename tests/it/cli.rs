//! The CLI contracts other tools depend on: `resolve --json`, `ask --json`, `explain`.

use std::process::Command;

use serde_json::{Value, json};

fn askerp(args: &[&str], audit: &std::path::Path) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_askerp"))
        .args(args)
        .env("ASKERP_AUDIT__PATH", audit)
        .env_remove("ASKERP_CONFIG")
        .output()
        .expect("run askerp");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn json_of(stdout: &str) -> Value {
    serde_json::from_str(stdout.trim()).unwrap_or_else(|e| panic!("not JSON ({e}): {stdout}"))
}

#[test]
fn resolve_json_has_the_documented_shape() {
    let dir = tempfile::tempdir().expect("tempdir");
    let audit = dir.path().join("a.jsonl");
    let now = "2026-11-21T10:00:00+08:00";
    let (code, out, err) = askerp(
        &[
            "resolve",
            "--json",
            "--now",
            now,
            "sales last month in Kowloon",
        ],
        &audit,
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        json_of(&out),
        json!({"intent": "sales.summary",
               "slots": {"region": "Kowloon", "period": {"start": "2026-10-01", "end": "2026-10-31"}},
               "source": "rule", "locale": "en"})
    );
    let (_, out, _) = askerp(
        &[
            "resolve",
            "--json",
            "--now",
            now,
            "@ERP助手 維他檸檬茶 觀塘倉仲有幾多?",
        ],
        &audit,
    );
    let v = json_of(&out);
    assert_eq!(v["intent"], "inventory.stock");
    assert_eq!(v["slots"]["item"], "維他檸檬茶");
    assert_eq!(v["slots"]["warehouse"], "觀塘");
    assert_eq!(v["locale"], "zh-HK");
    let (_, out, _) = askerp(
        &[
            "resolve",
            "--json",
            "--now",
            now,
            "what's the weather tomorrow?",
        ],
        &audit,
    );
    assert_eq!(
        json_of(&out),
        json!({"intent": null, "slots": {}, "source": null, "locale": "en"})
    );
}

#[test]
fn explain_says_which_rule_matched() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (code, out, _) = askerp(
        &["explain", "how many iPhone 15 Pro 256GB in stock?"],
        &dir.path().join("a.jsonl"),
    );
    assert_eq!(code, 0);
    assert!(out.contains("inventory.stock"), "{out}");
}

#[test]
fn ask_json_runs_the_whole_pipeline() {
    let dir = tempfile::tempdir().expect("tempdir");
    let audit = dir.path().join("a.jsonl");
    let (code, out, err) = askerp(
        &[
            "ask",
            "--as",
            "demo.staff",
            "--group",
            "--json",
            "how many annual leave days do I have?",
        ],
        &audit,
    );
    assert_eq!(code, 0, "{err}");
    let v = json_of(&out);
    assert_eq!(v["intent"], "leave.balance");
    assert_eq!(v["slots"]["employee"], "self");
    assert_eq!(v["decision"], "allow");
    assert_eq!(v["delivery"], "private");
    assert!(v["card"]["title"].is_string());
    assert!(v["card"]["markdown"].is_string());
    assert!(v["card"]["buttons"].is_array());
    assert_eq!(v["facts"]["kind"], "leave");
    assert!(v["facts"]["lines"][0]["remaining"]["unit"].is_string());

    let (_, out, _) = askerp(
        &[
            "ask",
            "--as",
            "demo.staff",
            "--json",
            "sales last month in Kowloon",
        ],
        &audit,
    );
    assert_eq!(json_of(&out)["decision"], "deny");
    let (_, out, _) = askerp(&["ask", "--as", "nobody", "--json", "help"], &audit);
    assert_eq!(json_of(&out)["decision"], "unknown_user");
    let (_, out, _) = askerp(
        &["ask", "--as", "demo.staff", "--json", "tell me a joke"],
        &audit,
    );
    assert_eq!(json_of(&out)["decision"], "not_understood");
    let (_, out, _) = askerp(
        &["ask", "--as", "demo.manager", "--json", "sales in Kowloon"],
        &audit,
    );
    assert_eq!(json_of(&out)["decision"], "clarify");

    // Every CLI question is audited, and the chain verifies.
    let (code, out, err) = askerp(
        &["audit", "verify", audit.to_str().unwrap_or_default()],
        &audit,
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("5 records"), "{out}");
}

#[test]
fn config_errors_are_all_reported_with_exit_code_78() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = dir.path().join("bad.toml");
    std::fs::write(
        &cfg,
        "[server]\nlisten = \"nowhere\"\n[company]\ntime_zone = \"Mars/Base\"\n",
    )
    .expect("write");
    let (code, _, err) = askerp(
        &[
            "check",
            "--offline",
            "--config",
            cfg.to_str().unwrap_or_default(),
        ],
        &dir.path().join("a.jsonl"),
    );
    assert_eq!(code, 78, "{err}");
    assert!(
        err.contains("server.listen") && err.contains("company.time_zone"),
        "{err}"
    );
}

#[test]
fn intents_test_reports_every_intent() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (code, out, err) = askerp(&["intents", "test"], &dir.path().join("a.jsonl"));
    assert_eq!(code, 0, "{err}");
    for intent in ["inventory.stock", "sales.summary", "leave.balance", "help"] {
        assert!(out.contains(intent), "{intent} missing: {out}");
    }
    assert!(out.contains("0 failure(s)"), "{out}");
}

/// Every connector kind can be named, routed and checked offline from one file, with
/// secrets from the environment.
#[test]
fn every_connector_kind_is_configurable() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = dir.path().join("erp.toml");
    // A relative path in the file would be relative to the file (in the temp dir).
    let directory = concat!(env!("CARGO_MANIFEST_DIR"), "/config/demo-directory.toml");
    std::fs::write(
        &cfg,
        format!(
            r#"
[data]
directory = "{directory}"

[erp]
connector = "erp"

[erp.connectors.erp]
kind = "tryton"
url = "http://127.0.0.1:8000"
database = "erp"
username = "askerp"

[erp.connectors.s4]
kind = "odata"
url = "http://127.0.0.1:4004"
version = "v2"

[erp.connectors.hr]
kind = "odoo"
url = "http://127.0.0.1:8069"
database = "hr"
api = "jsonrpc"
username = "askerp"

[erp.routes]
sales = "s4"
leave = "hr"
"#
        ),
    )
    .expect("write");
    let out = Command::new(env!("CARGO_BIN_EXE_askerp"))
        .args([
            "check",
            "--offline",
            "--config",
            cfg.to_str().unwrap_or_default(),
        ])
        .env(
            "ASKERP_ERP__CONNECTORS__ERP__PASSWORD",
            "from-the-environment",
        )
        .env(
            "ASKERP_ERP__CONNECTORS__HR__API_KEY",
            "from-the-environment-too",
        )
        .output()
        .expect("run askerp");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("inventory=erp,sales=s4,leave=hr"),
        "{stdout}"
    );
    assert!(!stdout.contains("from-the-environment"));
}

/// The commented example configuration is loaded by the real loader and validates: every
/// key it documents exists, with a value of the right type.
#[test]
fn the_example_configuration_loads_and_validates() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("config/askerp.example.toml");
    let config = askerp::config::Config::load(Some(&path)).unwrap_or_else(|e| panic!("{e}"));
    config.validate().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(config.dingtalk.timestamp_window_secs, 300);
    assert!(config.dingtalk.callback_allow_cidrs.is_empty());
}

/// With `audit.sink = "stdout"` the record is a chained JSON line on standard output
/// (for a log pipeline), and no audit file is written.
#[test]
fn the_stdout_sink_prints_chained_records() {
    let dir = tempfile::tempdir().expect("tempdir");
    let audit = dir.path().join("a.jsonl");
    let out = Command::new(env!("CARGO_BIN_EXE_askerp"))
        .args(["ask", "--as", "demo.staff", "help"])
        .env("ASKERP_AUDIT__PATH", &audit)
        .env("ASKERP_AUDIT__SINK", "stdout")
        .env_remove("ASKERP_CONFIG")
        .output()
        .expect("run askerp");
    assert_eq!(out.status.code(), Some(0));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let record: Value = stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|v| v.get("hash").is_some())
        .unwrap_or_else(|| panic!("no audit line on stdout: {stdout}"));
    assert_eq!(record["channel"], "cli");
    assert_eq!(record["prev"], askerp::audit::GENESIS);
    assert!(!audit.exists());
}

/// Runs `askerp demo` with stderr going to a file (as under systemd, Docker or a pipe)
/// until it has logged that it listens, then stops it; returns what it logged.
fn demo_log(extra_env: &[(&str, &str)]) -> String {
    let dir = tempfile::tempdir().expect("tempdir");
    let log_path = dir.path().join("stderr.log");
    let log = std::fs::File::create(&log_path).expect("log file");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_askerp"));
    cmd.arg("demo")
        .current_dir(dir.path())
        .env_remove("ASKERP_CONFIG")
        .env_remove("RUST_LOG")
        .env_remove("NO_COLOR")
        .env("ASKERP_SERVER__LISTEN", "127.0.0.1:0")
        .env("ASKERP_AUDIT__PATH", dir.path().join("audit.jsonl"))
        .stdout(std::process::Stdio::null())
        .stderr(log);
    for (k, v) in extra_env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("spawn askerp demo");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let mut text = String::new();
    while std::time::Instant::now() < deadline {
        text = std::fs::read_to_string(&log_path).unwrap_or_default();
        if text.contains("INFO") {
            break;
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!("askerp demo exited ({status}): {text}");
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let _ = child.kill();
    let _ = child.wait();
    assert!(text.contains("INFO"), "no log line within 30 s: {text:?}");
    text
}

#[test]
fn logs_to_a_file_carry_no_colour_codes_unless_asked() {
    let plain = demo_log(&[]);
    assert!(
        !plain.contains('\u{1b}'),
        "ANSI escape in a log file: {plain:?}"
    );
    let forced = demo_log(&[("ASKERP_LOG__COLOR", "always")]);
    assert!(forced.contains("\u{1b}["), "log.color = always: {forced:?}");
    let never = demo_log(&[("ASKERP_LOG__COLOR", "never")]);
    assert!(!never.contains('\u{1b}'), "{never:?}");
}
