//! The smallest honest DingTalk robot, as a yardstick for askerp under load (issue 13).
//!
//! It does what any HTTP-callback robot must and nothing more: verify the `timestamp`
//! and `sign` headers (HMAC-SHA256 of `timestamp + "\n" + secret`, one-hour window),
//! read the session webhook from the body, answer 200, and post one fixed markdown reply
//! to the webhook from a task. It only posts under `--oapi-base`, because the webhook
//! URL is in the unsigned body and a robot that posts anywhere it is told is not one
//! anybody would deploy. No dedupe, no pipeline, no audit, no logging per message.
//!
//! ```text
//! cargo run --release --example baseline_bot -- --listen 127.0.0.1:18081 \
//!   --secret load-secret --oapi-base http://127.0.0.1:18090/oapi
//! ```

use std::net::SocketAddr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use clap::Parser;
use hmac::{Hmac, Mac};
use serde_json::json;
use sha2::Sha256;

#[derive(Parser, Debug)]
#[command(about = "A minimal DingTalk HTTP-callback robot that answers every message the same")]
struct Args {
    #[arg(long, default_value = "127.0.0.1:18081")]
    listen: SocketAddr,
    /// The app secret callbacks are signed with.
    #[arg(long)]
    secret: String,
    /// Session webhooks are only posted to when they start with this.
    #[arg(long)]
    oapi_base: String,
}

#[derive(Clone)]
struct Bot {
    secret: String,
    webhook_prefix: String,
    http: reqwest::Client,
}

/// The part of a robot message this bot reads.
#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct Message {
    session_webhook: String,
}

fn signature_ok(secret: &str, timestamp: &str, sign: &str) -> bool {
    let Ok(ts) = timestamp.trim().parse::<i64>() else {
        return false;
    };
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0);
    if now.abs_diff(ts) > 3_600_000 {
        return false;
    }
    let Ok(given) = STANDARD.decode(sign.trim()) else {
        return false;
    };
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes keys of any size");
    mac.update(timestamp.as_bytes());
    mac.update(b"\n");
    mac.update(secret.as_bytes());
    // Constant-time comparison, as a real robot must.
    mac.verify_slice(&given).is_ok()
}

async fn callback(State(bot): State<Bot>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let (Some(ts), Some(sign)) = (header("timestamp"), header("sign")) else {
        return StatusCode::UNAUTHORIZED;
    };
    if !signature_ok(&bot.secret, ts, sign) {
        return StatusCode::UNAUTHORIZED;
    }
    let Ok(msg) = serde_json::from_slice::<Message>(&body) else {
        return StatusCode::BAD_REQUEST;
    };
    // A prefix check is enough for a yardstick; askerp parses and compares origins.
    if !msg.session_webhook.starts_with(&bot.webhook_prefix) {
        return StatusCode::OK;
    }
    tokio::spawn(async move {
        let reply = json!({
            "msgtype": "markdown",
            "markdown": { "title": "ERP", "text": "### ERP\nThis is the fixed reply of the baseline bot." },
        });
        // A lost reply shows up as unanswered in the generator; nothing to do here.
        let _ = bot
            .http
            .post(&msg.session_webhook)
            .json(&reply)
            .send()
            .await;
    });
    StatusCode::OK
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    let bot = Bot {
        secret: args.secret,
        webhook_prefix: format!("{}/", args.oapi_base.trim_end_matches('/')),
        // The same timeouts askerp's DingTalk client uses.
        http: reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .connect_timeout(Duration::from_secs(5))
            .build()
            .expect("HTTP client"),
    };
    let app = Router::new()
        .route("/dingtalk/callback", post(callback))
        .route("/healthz", get(|| async { "ok" }))
        .with_state(bot);
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .expect("cannot listen");
    axum::serve(listener, app).await.expect("server");
}
