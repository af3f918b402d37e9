//! `askerp check` tries the DingTalk credentials: the real binary fetches an access token
//! from the DingTalk simulator, which refuses a wrong app key or secret as DingTalk does
//! (HTTP 400, `invalidClientIdOrSecret`); `--offline` does not try. With
//! `state.backend = "redis"` it PINGs the real Redis of `scripts/ci/redis.sh`.

use std::process::Command;

use askerp::dingtalk::sim::Simulator;

const KEY: &str = "dingcheckappkey";
const SECRET: &str = "the-right-secret";

/// Runs `askerp check ARGS` against the simulator at `base` with `key` and `secret`.
async fn check(base: &str, key: &str, secret: &str, args: &[&str]) -> (i32, String) {
    check_with(base, key, secret, args, &[]).await
}

/// [`check`] with more environment variables.
async fn check_with(
    base: &str,
    key: &str,
    secret: &str,
    args: &[&str],
    env: &[(&str, &str)],
) -> (i32, String) {
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
    for (k, v) in env {
        cmd.env(k, v);
    }
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_pings_redis_and_names_the_variable_when_it_does_not_answer() {
    let Some(url) = crate::replicas::redis_url() else {
        return;
    };
    let sim = Simulator::new(KEY, SECRET);
    let base = sim.serve_on_loopback().await.expect("simulator");
    let redis = |url: &str| {
        vec![
            ("ASKERP_STATE__BACKEND", "redis".to_string()),
            ("ASKERP_STATE__URL", url.to_string()),
        ]
    };
    let run = |env: Vec<(&'static str, String)>, args: &'static [&'static str]| {
        let base = base.clone();
        async move {
            let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
            check_with(&base, KEY, SECRET, args, &env).await
        }
    };

    let (code, out) = run(redis(&url), &[]).await;
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("✓ shared state: Redis at redis://127.0.0.1:"),
        "{out}"
    );
    assert!(out.contains("answered PING"), "{out}");

    // Nothing listens on port 9; the password in the URL is never printed.
    let (code, out) = run(redis("redis://:hunter2pw@127.0.0.1:9/0"), &[]).await;
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("✗ shared state: Redis at redis://127.0.0.1:9/0 did not answer PING"),
        "{out}"
    );
    assert!(out.contains("ASKERP_STATE__URL"), "{out}");
    assert!(!out.contains("hunter2pw"), "{out}");
    // The other checks still ran and passed.
    assert!(out.contains("✓ DingTalk credentials"), "{out}");
    assert!(out.contains("✓ connector demo"), "{out}");

    // Offline: Redis is not asked.
    let (code, out) = run(redis("redis://127.0.0.1:9/0"), &["--offline"]).await;
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("shared state (Redis) not tried (--offline)"),
        "{out}"
    );

    // The memory backend has nothing to ping.
    let (code, out) = run(Vec::new(), &[]).await;
    assert_eq!(code, 0, "{out}");
    assert!(!out.contains("shared state"), "{out}");
}
