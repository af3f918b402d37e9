//! `askerp check` tries the DingTalk credentials: the real binary fetches an access token
//! from the DingTalk simulator, which refuses a wrong app key or secret as DingTalk does
//! (HTTP 400, `invalidClientIdOrSecret`); `--offline` does not try.

use std::process::Command;

use askerp::dingtalk::sim::Simulator;

const KEY: &str = "dingcheckappkey";
const SECRET: &str = "the-right-secret";

/// Runs `askerp check ARGS` against the simulator at `base` with `key` and `secret`.
async fn check(base: &str, key: &str, secret: &str, args: &[&str]) -> (i32, String) {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_askerp"));
    cmd.arg("check").args(args).current_dir(dir.path());
    for (k, _) in std::env::vars() {
        if k.starts_with("ASKERP_") || k == "RUST_LOG" {
            cmd.env_remove(k);
        }
    }
    cmd.env("ASKERP_DINGTALK__APP_KEY", key)
        .env("ASKERP_DINGTALK__APP_SECRET", secret)
        .env("ASKERP_DINGTALK__API_BASE", base)
        .env("ASKERP_DINGTALK__OAPI_BASE", base)
        .env("ASKERP_AUDIT__PATH", dir.path().join("audit.jsonl"));
    let out = tokio::task::spawn_blocking(move || cmd.output())
        .await
        .expect("join")
        .expect("run askerp");
    drop(dir);
    (
        out.status.code().unwrap_or(-1),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_fetches_a_token_and_reports_wrong_credentials_with_dingtalks_error() {
    let sim = Simulator::new(KEY, SECRET);
    let base = sim.serve_on_loopback().await.expect("simulator");

    let (code, out) = check(&base, KEY, SECRET, &[]).await;
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("✓ DingTalk credentials: access token obtained"),
        "{out}"
    );
    assert_eq!(sim.tokens_issued(), 1, "one token fetched: {out}");

    let (code, out) = check(&base, KEY, "a-wrong-secret", &[]).await;
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("✗ DingTalk credentials for app key dingcheckappkey"),
        "{out}"
    );
    // DingTalk's own code and message, and what to do.
    assert!(
        out.contains("invalidClientIdOrSecret") && out.contains("无效的clientId或者clientSecret"),
        "{out}"
    );
    assert!(out.contains("dingtalk.app_secret"), "{out}");
    assert!(
        !out.contains("a-wrong-secret"),
        "the secret is never printed: {out}"
    );

    let (code, out) = check(&base, "dingsomeotherapp", SECRET, &[]).await;
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("invalidClientIdOrSecret"), "{out}");

    // Offline: nothing is asked of DingTalk, so wrong credentials pass.
    let (code, out) = check(&base, KEY, "a-wrong-secret", &["--offline"]).await;
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("DingTalk credentials not tried (--offline)"),
        "{out}"
    );
    assert_eq!(sim.tokens_issued(), 1, "{out}");

    // Nothing listening: the transport error and a hint, exit 1.
    let (code, out) = check("http://127.0.0.1:9", KEY, SECRET, &[]).await;
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("dingtalk.api_base"), "{out}");
}
