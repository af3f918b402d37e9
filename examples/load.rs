//! A load generator for DingTalk robots in HTTP callback mode (issue 13).
//!
//! It plays DingTalk on loopback, on its own: it signs callbacks the way DingTalk does
//! (`timestamp` and `sign` headers), posts them to one or more bots, and serves the
//! endpoints a bot answers through (the session webhook, the OpenAPI access token,
//! `oToMessages/batchSend` and `groupMessages/send`). Every callback carries its own
//! session webhook (`…/oapi/robot/sendBySession?session=<n>`), so each reply is matched
//! to the question that caused it without trusting anything the bot says.
//!
//! Each round is closed-loop: `concurrency` workers each send one callback and wait for
//! its reply before sending the next, for a bounded time and a bounded number of
//! messages. Around each round it reads the bot's CPU time (`utime + stime` of
//! `/proc/<pid>/stat`) and RSS (`VmRSS` of `/proc/<pid>/status`), and, when given the
//! bot's audit file, counts the audit records the round added, so a run can check
//! "one audit record per answered message" (`--check-audit`).
//!
//! Rounds are interleaved across bots (A, B, A, B at each concurrency level) so that a
//! drift of the machine (another build, thermal state) hits both alike.
//!
//! ```text
//! cargo run --release --example load -- \
//!   --listen 127.0.0.1:18090 --secret load-secret --app-key load-app \
//!   --target askerp,http://127.0.0.1:18080/dingtalk/callback,<pid>,/tmp/audit.jsonl \
//!   --target baseline,http://127.0.0.1:18081/dingtalk/callback,<pid> \
//!   --concurrency 1,8,64 --duration-secs 10 --reps 2
//! ```
//!
//! A bot under test must send to `http://<listen>` as its OpenAPI base and accept
//! session webhooks under `http://<listen>/oapi` (for askerp: `dingtalk.api_base` and
//! `dingtalk.oapi_base`). Only loopback addresses are accepted, for the bots and for
//! the generator itself.

use std::collections::{HashMap, HashSet};
use std::io::{Read, Seek, SeekFrom};
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use clap::Parser;
use futures_util::{SinkExt as _, StreamExt as _};
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;
use tokio::sync::{mpsc, oneshot};
use tokio_tungstenite::tungstenite::Message;

#[derive(Parser, Debug)]
#[command(about = "Load generator for DingTalk robots in HTTP callback mode (loopback only)")]
struct Args {
    /// Where the generator serves DingTalk (session webhooks under /oapi, OpenAPI at /).
    #[arg(long, default_value = "127.0.0.1:18090")]
    listen: SocketAddr,
    /// Stream mode: where the WebSocket gateway listens (used by `stream` targets).
    #[arg(long, default_value = "127.0.0.1:18091")]
    gateway_listen: SocketAddr,
    /// The app secret the callbacks are signed with.
    #[arg(long)]
    secret: String,
    /// The app key (robot code); the access-token endpoint checks it with the secret.
    #[arg(long, default_value = "load-app")]
    app_key: String,
    /// A bot to measure: `name,callback_url,pid[,audit_file]`. Repeat for several bots;
    /// their rounds are interleaved. Replicas of one bot are joined with `+` in each field
    /// (`askerp2,http://a/cb+http://b/cb,111+222,a.jsonl+b.jsonl`): the round's messages
    /// go to them in turn, and CPU, RSS and audit records are their sums. `stream` as the URL: the bot connects in Stream mode
    /// (to `connections/open` on --listen) and gets frames on its WebSocket instead.
    #[arg(long = "target", required = true)]
    targets: Vec<String>,
    /// Concurrency levels (messages in flight), comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "1,8,64")]
    concurrency: Vec<usize>,
    /// Length of one measured round.
    #[arg(long, default_value_t = 10)]
    duration_secs: u64,
    /// At most this many messages per round.
    #[arg(long, default_value_t = 200_000)]
    max_messages: u64,
    /// Rounds per bot and concurrency level (interleaved A, B, A, B).
    #[arg(long, default_value_t = 2)]
    reps: usize,
    /// An unreported round per bot before measuring (fills caches, token, pools).
    #[arg(long, default_value_t = 3)]
    warmup_secs: u64,
    /// A reply not seen within this long counts as unanswered.
    #[arg(long, default_value_t = 10)]
    reply_timeout_secs: u64,
    /// Number of distinct group conversations the questions are spread over.
    #[arg(long, default_value_t = 512)]
    groups: u64,
    /// Exit with status 3 unless every bot with an audit file wrote exactly one audit
    /// record per answered message in every round.
    #[arg(long)]
    check_audit: bool,
    /// Also write every round as JSON lines to this file.
    #[arg(long)]
    json: Option<PathBuf>,
}

/// The target "URL" of a bot connected in Stream mode.
const STREAM: &str = "stream";

/// One bot under test.
#[derive(Debug, Clone)]
struct Target {
    name: String,
    /// The first replica's URL (`stream` for a Stream-mode bot).
    url: String,
    /// Every replica's URL, `url` first.
    urls: Vec<String>,
    pids: Vec<u32>,
    audits: Vec<PathBuf>,
}

fn parse_target(s: &str) -> Result<Target, String> {
    let parts: Vec<&str> = s.split(',').collect();
    if parts.len() < 3 || parts.len() > 4 {
        return Err(format!(
            "--target {s:?}: expected name,url,pid[,audit_file]"
        ));
    }
    let urls: Vec<String> = parts[1].split('+').map(str::to_string).collect();
    for u in &urls {
        let loopback = u == STREAM
            || match url::Url::parse(u)
                .map_err(|e| format!("--target {s:?}: {e}"))?
                .host()
            {
                Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
                Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
                Some(url::Host::Domain(d)) => d == "localhost",
                None => false,
            };
        if !loopback {
            return Err(format!("--target {s:?}: only loopback bots are allowed"));
        }
    }
    if urls.len() > 1 && urls.iter().any(|u| u == STREAM) {
        return Err(format!("--target {s:?}: replicas are HTTP targets"));
    }
    let pids = parts[2]
        .split('+')
        .map(|p| p.parse())
        .collect::<Result<Vec<u32>, _>>()
        .map_err(|_| format!("--target {s:?}: pid is not a number"))?;
    let audits: Vec<PathBuf> = parts
        .get(3)
        .map(|a| a.split('+').map(PathBuf::from).collect())
        .unwrap_or_default();
    if pids.len() != urls.len() || (!audits.is_empty() && audits.len() != urls.len()) {
        return Err(format!(
            "--target {s:?}: as many pids (and audit files) as URLs"
        ));
    }
    Ok(Target {
        name: parts[0].to_string(),
        url: urls[0].clone(),
        urls,
        pids,
        audits,
    })
}

// The questions, in the order they are sent. Each names who asks and where; a leave
// question asked in a group is answered 1:1 through the OpenAPI, and the group gets a
// note through the session webhook only after that, so the webhook post is always the
// last send of a message and marks it answered.
include!("shared/load_mix.rs");

/// What the fake DingTalk saw, shared by its handlers and the workers.
#[derive(Default)]
struct Fake {
    app_key: String,
    secret: String,
    base: String,
    /// Message number → the worker waiting for its reply.
    waiting: Mutex<HashMap<u64, oneshot::Sender<Instant>>>,
    webhook_posts: AtomicU64,
    /// Replies for a message nobody waits for any more (after the reply timeout).
    late: AtomicU64,
    private_sends: AtomicU64,
    group_sends: AtomicU64,
    /// Report charts uploaded (a cached chart is not uploaded again).
    media_uploads: AtomicU64,
    token_calls: AtomicU64,
    /// OpenAPI calls without the token this fake handed out, or with a bad body.
    rejected: AtomicU64,
    /// Stream mode: the WebSocket URL `connections/open` hands out.
    gateway: String,
    /// Stream mode: tickets handed out and not yet used.
    tickets: Mutex<HashSet<String>>,
    /// Stream mode: the newest bot connection; frames are pushed to it.
    stream: Mutex<Option<mpsc::UnboundedSender<String>>>,
    stream_connects: AtomicU64,
    acks: AtomicU64,
}

const TOKEN: &str = "load-generator-token";

async fn webhook(
    State(fake): State<Arc<Fake>>,
    Query(q): Query<HashMap<String, String>>,
    body: Json<Value>,
) -> Response {
    // Taken first, so the latency ends when the reply arrives, not after bookkeeping.
    let at = Instant::now();
    fake.webhook_posts.fetch_add(1, Ordering::Relaxed);
    let well_formed = body.get("msgtype").and_then(Value::as_str).is_some();
    let id = q.get("session").and_then(|s| s.parse::<u64>().ok());
    let (Some(id), true) = (id, well_formed) else {
        fake.rejected.fetch_add(1, Ordering::Relaxed);
        return Json(json!({ "errcode": 300001, "errmsg": "session 不存在" })).into_response();
    };
    let waiter = fake.waiting.lock().expect("waiting map").remove(&id);
    match waiter {
        Some(tx) => {
            let _ = tx.send(at);
        }
        None => {
            fake.late.fetch_add(1, Ordering::Relaxed);
        }
    }
    Json(json!({ "errcode": 0, "errmsg": "ok" })).into_response()
}

async fn access_token(State(fake): State<Arc<Fake>>, body: Json<Value>) -> Response {
    fake.token_calls.fetch_add(1, Ordering::Relaxed);
    let key = body.get("appKey").and_then(Value::as_str);
    let secret = body.get("appSecret").and_then(Value::as_str);
    if key != Some(fake.app_key.as_str()) || secret != Some(fake.secret.as_str()) {
        fake.rejected.fetch_add(1, Ordering::Relaxed);
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({ "code": "invalidClientIdOrSecret", "message": "bad credentials" })),
        )
            .into_response();
    }
    Json(json!({ "accessToken": TOKEN, "expireIn": 7200 })).into_response()
}

fn token_ok(fake: &Fake, headers: &HeaderMap) -> bool {
    let ok = headers
        .get("x-acs-dingtalk-access-token")
        .and_then(|v| v.to_str().ok())
        == Some(TOKEN);
    if !ok {
        fake.rejected.fetch_add(1, Ordering::Relaxed);
    }
    ok
}

fn bad_token() -> Response {
    (
        StatusCode::BAD_REQUEST,
        Json(json!({ "code": "InvalidAuthentication", "message": "bad token" })),
    )
        .into_response()
}

async fn batch_send(
    State(fake): State<Arc<Fake>>,
    headers: HeaderMap,
    body: Json<Value>,
) -> Response {
    if !token_ok(&fake, &headers) {
        return bad_token();
    }
    let users = body
        .get("userIds")
        .and_then(Value::as_array)
        .map_or(0, Vec::len);
    if users == 0 || body.get("msgParam").and_then(Value::as_str).is_none() {
        fake.rejected.fetch_add(1, Ordering::Relaxed);
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({ "code": "invalidParameter", "message": "userIds and msgParam" })),
        )
            .into_response();
    }
    fake.private_sends.fetch_add(1, Ordering::Relaxed);
    Json(
        json!({ "processQueryKey": "pqk-load", "invalidStaffIdList": [],
                 "flowControlledStaffIdList": [] }),
    )
    .into_response()
}

async fn group_send(
    State(fake): State<Arc<Fake>>,
    headers: HeaderMap,
    _body: Json<Value>,
) -> Response {
    if !token_ok(&fake, &headers) {
        return bad_token();
    }
    fake.group_sends.fetch_add(1, Ordering::Relaxed);
    Json(json!({ "processQueryKey": "pqk-load" })).into_response()
}

/// `POST {oapi}/media/upload?access_token=…`: a report's chart, answered with a media id
/// as DingTalk does (the body is counted, not kept).
async fn media_upload(
    State(fake): State<Arc<Fake>>,
    axum::extract::Query(q): axum::extract::Query<HashMap<String, String>>,
    body: axum::body::Bytes,
) -> Response {
    if q.get("access_token").is_none_or(String::is_empty) || body.is_empty() {
        fake.rejected.fetch_add(1, Ordering::Relaxed);
        return Json(json!({ "errcode": 40014, "errmsg": "invalid access_token" })).into_response();
    }
    fake.media_uploads.fetch_add(1, Ordering::Relaxed);
    Json(json!({ "errcode": 0, "errmsg": "ok", "type": "image",
                 "media_id": format!("@lALload{}", body.len()), "created_at": 0 }))
    .into_response()
}

/// Stream mode, `POST /v1.0/gateway/connections/open`: checks the credentials and hands
/// out a single-use ticket for the WebSocket.
async fn open_connection(State(fake): State<Arc<Fake>>, body: Json<Value>) -> Response {
    let id = body.get("clientId").and_then(Value::as_str);
    let secret = body.get("clientSecret").and_then(Value::as_str);
    let subscribed = body
        .get("subscriptions")
        .and_then(Value::as_array)
        .is_some_and(|s| !s.is_empty());
    if id != Some(fake.app_key.as_str()) || secret != Some(fake.secret.as_str()) || !subscribed {
        fake.rejected.fetch_add(1, Ordering::Relaxed);
        return (
            StatusCode::UNAUTHORIZED,
            Json(json!({ "code": "InvalidAuthentication", "message": "bad open request" })),
        )
            .into_response();
    }
    let ticket = format!(
        "load-ticket-{}",
        fake.stream_connects.load(Ordering::Relaxed) + 1
    );
    fake.tickets.lock().expect("tickets").insert(ticket.clone());
    Json(json!({ "endpoint": fake.gateway, "ticket": ticket })).into_response()
}

/// Stream mode: accepts bot connections that present a ticket; the newest one receives
/// the pushed frames, and every text frame the bot sends back is counted as an ACK.
async fn serve_gateway(listener: tokio::net::TcpListener, fake: Arc<Fake>) {
    while let Ok((tcp, _)) = listener.accept().await {
        let fake = Arc::clone(&fake);
        tokio::spawn(async move {
            let tickets = Arc::clone(&fake);
            // tungstenite's handshake callback returns its own (large) error type.
            #[allow(clippy::result_large_err)]
            let check = move |req: &tokio_tungstenite::tungstenite::handshake::server::Request,
                              resp| {
                let ticket = req.uri().query().and_then(|q| {
                    url::form_urlencoded::parse(q.as_bytes())
                        .find(|(k, _)| k == "ticket")
                        .map(|(_, v)| v.into_owned())
                });
                let valid =
                    ticket.is_some_and(|t| tickets.tickets.lock().expect("tickets").remove(&t));
                if valid {
                    Ok(resp)
                } else {
                    let mut refuse =
                        tokio_tungstenite::tungstenite::handshake::server::ErrorResponse::new(None);
                    *refuse.status_mut() = StatusCode::UNAUTHORIZED;
                    Err(refuse)
                }
            };
            let Ok(ws) = tokio_tungstenite::accept_hdr_async(tcp, check).await else {
                return;
            };
            fake.stream_connects.fetch_add(1, Ordering::Relaxed);
            let (mut sink, mut source) = ws.split();
            let (tx, mut rx) = mpsc::unbounded_channel::<String>();
            *fake.stream.lock().expect("stream") = Some(tx);
            loop {
                tokio::select! {
                    out = rx.recv() => match out {
                        Some(text) => if sink.send(Message::Text(text.into())).await.is_err() { break },
                        None => break,
                    },
                    inbound = source.next() => match inbound {
                        Some(Ok(Message::Text(_))) => { fake.acks.fetch_add(1, Ordering::Relaxed); }
                        Some(Ok(Message::Ping(p))) => { let _ = sink.send(Message::Pong(p)).await; }
                        Some(Ok(Message::Close(_))) | None | Some(Err(_)) => break,
                        Some(Ok(_)) => {}
                    },
                }
            }
        });
    }
}

/// The topic of robot messages in Stream mode.
const BOT_MESSAGE_TOPIC: &str = "/v1.0/im/bot/messages/get";

/// Pushes message `n` as a Stream `CALLBACK` frame; false when no bot is connected.
fn push_frame(fake: &Fake, n: u64, body: &Value) -> bool {
    let frame = json!({
        "specVersion": "1.0",
        "type": "CALLBACK",
        "headers": { "appId": "load-app", "contentType": "application/json",
                     "messageId": format!("load-cb-{n}"), "time": now_ms().to_string(),
                     "topic": BOT_MESSAGE_TOPIC },
        "data": body.to_string(),
    });
    fake.stream
        .lock()
        .expect("stream")
        .as_ref()
        .is_some_and(|tx| tx.send(frame.to_string()).is_ok())
}

/// DingTalk's callback signature: base64(HMAC-SHA256(secret, timestamp + "\n" + secret)).
/// Written here rather than borrowed from askerp, so the generator checks the bot
/// against the protocol, not against itself.
fn sign(secret: &str, timestamp: &str) -> String {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes keys of any size");
    mac.update(timestamp.as_bytes());
    mac.update(b"\n");
    mac.update(secret.as_bytes());
    STANDARD.encode(mac.finalize().into_bytes())
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// The robot-message body DingTalk would post for message `n`.
fn callback_body(fake: &Fake, n: u64, groups: u64) -> Value {
    let (user, group, text) = MIX[(n % MIX.len() as u64) as usize];
    let ms = now_ms();
    let conversation = if group {
        format!("cidLoadGroup{}==", (n / MIX.len() as u64) % groups.max(1))
    } else {
        // A user's 1:1 chat with the robot is one conversation.
        format!("cidLoadOto{}==", user.replace('.', ""))
    };
    let mut body = json!({
        "msgId": format!("msgLoad{:x}{n:08}==", ms),
        "msgtype": "text",
        "text": { "content": format!(" {text}") },
        "createAt": ms,
        "conversationType": if group { "2" } else { "1" },
        "conversationId": conversation,
        "senderId": format!("$:LWCP_v1:${user}"),
        "senderStaffId": user,
        "senderNick": user,
        "senderCorpId": "dingloadcorp",
        "isAdmin": false,
        "chatbotUserId": "$:LWCP_v1:$loadbot",
        "chatbotCorpId": "dingloadcorp",
        "robotCode": fake.app_key,
        "sessionWebhook": format!("{}/oapi/robot/sendBySession?session={n}", fake.base),
        "sessionWebhookExpiredTime": ms + 90 * 60 * 1000,
    });
    if group {
        body["conversationTitle"] = json!("Load test group");
        body["isInAtList"] = json!(true);
        body["atUsers"] = json!([{ "dingtalkId": "$:LWCP_v1:$loadbot" }]);
    }
    body
}

/// CPU time (user + system, µs) and resident memory (KiB) of a process.
#[derive(Debug, Clone, Copy, Default)]
struct Usage {
    cpu_us: u64,
    rss_kib: u64,
}

fn clock_ticks_per_sec() -> u64 {
    // `getconf` avoids a libc dependency for one number; Linux uses 100 nearly always.
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100)
}

/// The summed usage of a bot's replicas.
fn usage_of(pids: &[u32], ticks: u64) -> Result<Usage, String> {
    let mut sum = Usage {
        cpu_us: 0,
        rss_kib: 0,
    };
    for &pid in pids {
        let u = usage(pid, ticks)?;
        sum.cpu_us += u.cpu_us;
        sum.rss_kib += u.rss_kib;
    }
    Ok(sum)
}

fn usage(pid: u32, ticks: u64) -> Result<Usage, String> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map_err(|e| format!("/proc/{pid}/stat: {e}"))?;
    // The command name is in parentheses and may hold spaces: count fields after it.
    let rest = stat
        .rsplit_once(')')
        .map(|(_, r)| r)
        .ok_or("unexpected /proc/<pid>/stat")?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // Fields 14 and 15 of stat(5); `rest` starts at field 3.
    let field = |i: usize| -> Result<u64, String> {
        fields
            .get(i - 3)
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| format!("/proc/{pid}/stat field {i}"))
    };
    let cpu_ticks = field(14)? + field(15)?;
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .map_err(|e| format!("/proc/{pid}/status: {e}"))?;
    let rss_kib = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    Ok(Usage {
        cpu_us: cpu_ticks * 1_000_000 / ticks.max(1),
        rss_kib,
    })
}

/// Busy and total jiffies of every CPU, from `/proc/stat`. With the bot and the
/// generator pinned, the busy share of a CPU beyond what they used is other work on the
/// machine, which the report shows because it caps the throughput.
fn cpu_jiffies() -> Vec<(u64, u64)> {
    let Ok(stat) = std::fs::read_to_string("/proc/stat") else {
        return Vec::new();
    };
    stat.lines()
        .filter(|l| l.starts_with("cpu") && l.as_bytes().get(3).is_some_and(u8::is_ascii_digit))
        .map(|l| {
            let v: Vec<u64> = l
                .split_whitespace()
                .skip(1)
                .filter_map(|x| x.parse().ok())
                .collect();
            let total: u64 = v.iter().sum();
            // idle and iowait are fields 4 and 5.
            let idle = v.get(3).copied().unwrap_or(0) + v.get(4).copied().unwrap_or(0);
            (total - idle, total)
        })
        .collect()
}

fn busy_percent(before: &[(u64, u64)], after: &[(u64, u64)]) -> Vec<f64> {
    before
        .iter()
        .zip(after)
        .map(|((b0, t0), (b1, t1))| {
            100.0 * b1.saturating_sub(*b0) as f64 / (t1.saturating_sub(*t0)).max(1) as f64
        })
        .collect()
}

/// Counts audit lines appended since `offset`; returns the count and the new offset.
/// Only the new bytes are read, so a long run does not re-read a growing file.
fn audit_lines_since(path: &PathBuf, offset: u64) -> Result<(u64, u64), String> {
    let mut f = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((0, 0)),
        Err(e) => return Err(format!("{}: {e}", path.display())),
    };
    f.seek(SeekFrom::Start(offset))
        .map_err(|e| format!("{}: {e}", path.display()))?;
    let mut buf = Vec::new();
    f.read_to_end(&mut buf)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    // A record being written has no newline yet; it is counted next time.
    let complete = buf.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
    let lines = buf[..complete].iter().filter(|b| **b == b'\n').count() as u64;
    Ok((lines, offset + complete as u64))
}

/// What one round measured.
#[derive(Debug, Default, Clone, serde::Serialize)]
struct Round {
    bot: String,
    concurrency: usize,
    rep: usize,
    sent: u64,
    answered: u64,
    unanswered: u64,
    /// Callbacks answered with anything but 200, or not at all.
    callback_errors: u64,
    wall_secs: f64,
    cpu_us: u64,
    /// The generator's own CPU time in the round, to show it was not the bottleneck.
    generator_cpu_us: u64,
    rss_kib_before: u64,
    rss_kib_after: u64,
    audit_records: Option<u64>,
    private_sends: u64,
    late_replies: u64,
    /// How busy each CPU of the machine was during the round, whoever used it.
    cpu_busy_percent: Vec<f64>,
    #[serde(skip)]
    latencies_us: Vec<u64>,
}

struct Runner {
    fake: Arc<Fake>,
    client: reqwest::Client,
    secret: String,
    next_id: Arc<AtomicU64>,
    reply_timeout: Duration,
    groups: u64,
    ticks: u64,
}

impl Runner {
    /// One closed-loop round against `target`.
    async fn round(
        &self,
        target: &Target,
        concurrency: usize,
        duration: Duration,
        max: u64,
        audit_offsets: &mut [u64],
    ) -> Result<Round, String> {
        let before = usage_of(&target.pids, self.ticks)?;
        let gen_before = usage(std::process::id(), self.ticks)?;
        let machine_before = cpu_jiffies();
        for (path, offset) in target.audits.iter().zip(audit_offsets.iter_mut()) {
            // Anything a previous round left settles before this one counts.
            *offset = audit_lines_since(path, *offset)?.1;
        }
        let private_before = self.fake.private_sends.load(Ordering::Relaxed);
        let late_before = self.fake.late.load(Ordering::Relaxed);
        let issued = Arc::new(AtomicU64::new(0));
        let started = Instant::now();
        let deadline = started + duration;
        let mut workers = Vec::with_capacity(concurrency);
        for worker in 0..concurrency {
            let fake = Arc::clone(&self.fake);
            let client = self.client.clone();
            let secret = self.secret.clone();
            // Replicas take the workers in turn, as a round-robin load balancer would.
            let url = target.urls[worker % target.urls.len()].clone();
            let next_id = Arc::clone(&self.next_id);
            let issued = Arc::clone(&issued);
            let (timeout, groups) = (self.reply_timeout, self.groups);
            workers.push(tokio::spawn(async move {
                let mut r = Round::default();
                while Instant::now() < deadline && issued.fetch_add(1, Ordering::Relaxed) < max {
                    let n = next_id.fetch_add(1, Ordering::Relaxed);
                    let body = callback_body(&fake, n, groups);
                    let (tx, rx) = oneshot::channel();
                    fake.waiting.lock().expect("waiting map").insert(n, tx);
                    let timestamp = now_ms().to_string();
                    let signature = sign(&secret, &timestamp);
                    r.sent += 1;
                    let sent_at = Instant::now();
                    let accepted = if url == STREAM {
                        push_frame(&fake, n, &body)
                    } else {
                        client
                            .post(&url)
                            .header("timestamp", &timestamp)
                            .header("sign", signature)
                            .json(&body)
                            .send()
                            .await
                            .map(|resp| resp.status() == reqwest::StatusCode::OK)
                            .unwrap_or(false)
                    };
                    if !accepted {
                        r.callback_errors += 1;
                        r.unanswered += 1;
                        fake.waiting.lock().expect("waiting map").remove(&n);
                        continue;
                    }
                    match tokio::time::timeout(timeout, rx).await {
                        Ok(Ok(at)) => {
                            r.answered += 1;
                            r.latencies_us
                                .push(at.saturating_duration_since(sent_at).as_micros() as u64);
                        }
                        _ => {
                            r.unanswered += 1;
                            fake.waiting.lock().expect("waiting map").remove(&n);
                        }
                    }
                }
                r
            }));
        }
        let mut round = Round {
            bot: target.name.clone(),
            concurrency,
            rss_kib_before: before.rss_kib,
            ..Round::default()
        };
        for w in workers {
            let r = w.await.map_err(|e| format!("worker: {e}"))?;
            round.sent += r.sent;
            round.answered += r.answered;
            round.unanswered += r.unanswered;
            round.callback_errors += r.callback_errors;
            round.latencies_us.extend(r.latencies_us);
        }
        round.wall_secs = started.elapsed().as_secs_f64();
        // The audit record is written after the reply is posted: let the last ones land
        // (and count their CPU) before reading.
        tokio::time::sleep(Duration::from_millis(300)).await;
        let after = usage_of(&target.pids, self.ticks)?;
        round.cpu_busy_percent = busy_percent(&machine_before, &cpu_jiffies());
        round.cpu_us = after.cpu_us.saturating_sub(before.cpu_us);
        round.generator_cpu_us = usage(std::process::id(), self.ticks)?
            .cpu_us
            .saturating_sub(gen_before.cpu_us);
        round.rss_kib_after = after.rss_kib;
        if !target.audits.is_empty() {
            let mut total = 0;
            for (path, offset) in target.audits.iter().zip(audit_offsets.iter_mut()) {
                let (lines, next) = audit_lines_since(path, *offset)?;
                *offset = next;
                total += lines;
            }
            round.audit_records = Some(total);
        }
        round.private_sends = self.fake.private_sends.load(Ordering::Relaxed) - private_before;
        round.late_replies = self.fake.late.load(Ordering::Relaxed) - late_before;
        Ok(round)
    }
}

fn percentile(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    // Nearest rank: the smallest value with at least p % of the samples at or below it.
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1] as f64 / 1000.0
}

/// The rounds of one bot at one concurrency level, combined.
struct Summary {
    rounds: usize,
    answered: u64,
    unanswered: u64,
    rate: f64,
    p50: f64,
    p90: f64,
    p99: f64,
    cpu_per_answer_us: f64,
    rss_mib: f64,
    audit: Option<u64>,
}

fn summarize(rounds: &[&Round]) -> Summary {
    let mut lat: Vec<u64> = rounds
        .iter()
        .flat_map(|r| r.latencies_us.iter().copied())
        .collect();
    lat.sort_unstable();
    let answered: u64 = rounds.iter().map(|r| r.answered).sum();
    let wall: f64 = rounds.iter().map(|r| r.wall_secs).sum();
    let cpu: u64 = rounds.iter().map(|r| r.cpu_us).sum();
    Summary {
        rounds: rounds.len(),
        answered,
        unanswered: rounds.iter().map(|r| r.unanswered).sum(),
        rate: answered as f64 / wall.max(1e-9),
        p50: percentile(&lat, 50.0),
        p90: percentile(&lat, 90.0),
        p99: percentile(&lat, 99.0),
        cpu_per_answer_us: cpu as f64 / (answered.max(1)) as f64,
        rss_mib: rounds.iter().map(|r| r.rss_kib_after).max().unwrap_or(0) as f64 / 1024.0,
        audit: rounds.iter().map(|r| r.audit_records).sum::<Option<u64>>(),
    }
}

fn print_tables(targets: &[Target], levels: &[usize], rounds: &[Round]) {
    println!(
        "| bot | concurrency | rounds | answered | answered/s | p50 ms | p90 ms | p99 ms | unanswered | CPU µs/answer | RSS MiB (max after) | audit records |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    let mut by_level: Vec<(usize, Vec<(String, Summary)>)> = Vec::new();
    for &c in levels {
        let mut row = Vec::new();
        for t in targets {
            let rs: Vec<&Round> = rounds
                .iter()
                .filter(|r| r.bot == t.name && r.concurrency == c)
                .collect();
            let s = summarize(&rs);
            println!(
                "| {} | {c} | {} | {} | {:.0} | {:.2} | {:.2} | {:.2} | {} | {:.0} | {:.1} | {} |",
                t.name,
                s.rounds,
                s.answered,
                s.rate,
                s.p50,
                s.p90,
                s.p99,
                s.unanswered,
                s.cpu_per_answer_us,
                s.rss_mib,
                s.audit.map_or("-".to_string(), |a| a.to_string()),
            );
            row.push((t.name.clone(), s));
        }
        by_level.push((c, row));
    }
    // Every other bot against the last one named (the baseline, by convention).
    if targets.len() >= 2 {
        let base = &targets[targets.len() - 1].name;
        println!();
        println!(
            "| bot vs {base} | concurrency | answered/s ratio | p50 ratio | p99 ratio | CPU/answer ratio |"
        );
        println!("|---|---:|---:|---:|---:|---:|");
        for (c, row) in &by_level {
            let Some((_, b)) = row.iter().find(|(n, _)| n == base) else {
                continue;
            };
            for (name, s) in row.iter().filter(|(n, _)| n != base) {
                println!(
                    "| {name} | {c} | {:.2} | {:.2} | {:.2} | {:.2} |",
                    s.rate / b.rate,
                    s.p50 / b.p50,
                    s.p99 / b.p99,
                    s.cpu_per_answer_us / b.cpu_per_answer_us,
                );
            }
        }
    }
}

/// Waits until something accepts TCP connections at the target's address.
async fn wait_until_listening(
    target: &Target,
    fake: &Fake,
    within: Duration,
) -> Result<(), String> {
    let until = Instant::now() + within;
    if target.url == STREAM {
        while Instant::now() < until {
            if fake.stream.lock().expect("stream").is_some() {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        return Err(format!("{} did not connect to the gateway", target.name));
    }
    'replicas: for u in &target.urls {
        let url = url::Url::parse(u).map_err(|e| e.to_string())?;
        let addr = url
            .socket_addrs(|| Some(80))
            .map_err(|e| e.to_string())?
            .into_iter()
            .next()
            .ok_or("no address")?;
        while Instant::now() < until {
            if tokio::net::TcpStream::connect(addr).await.is_ok() {
                continue 'replicas;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        return Err(format!("{} is not listening at {addr}", target.name));
    }
    Ok(())
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    let code = match run(args).await {
        Ok(code) => code,
        Err(e) => {
            eprintln!("load: {e}");
            2
        }
    };
    std::process::exit(code);
}

async fn run(args: Args) -> Result<i32, String> {
    if !is_loopback(args.listen.ip()) || !is_loopback(args.gateway_listen.ip()) {
        return Err("--listen and --gateway-listen must be loopback addresses".into());
    }
    let targets: Vec<Target> = args
        .targets
        .iter()
        .map(|s| parse_target(s))
        .collect::<Result<_, _>>()?;
    let fake = Arc::new(Fake {
        app_key: args.app_key.clone(),
        secret: args.secret.clone(),
        base: format!("http://{}", args.listen),
        gateway: format!("ws://{}/connect", args.gateway_listen),
        ..Fake::default()
    });
    if targets.iter().any(|t| t.url == STREAM) {
        let gw = tokio::net::TcpListener::bind(args.gateway_listen)
            .await
            .map_err(|e| format!("cannot listen on {}: {e}", args.gateway_listen))?;
        tokio::spawn(serve_gateway(gw, Arc::clone(&fake)));
    }
    let app = Router::new()
        .route("/oapi/robot/sendBySession", post(webhook))
        .route("/v1.0/oauth2/accessToken", post(access_token))
        .route("/v1.0/robot/oToMessages/batchSend", post(batch_send))
        .route("/v1.0/robot/groupMessages/send", post(group_send))
        .route("/oapi/media/upload", post(media_upload))
        .route("/v1.0/gateway/connections/open", post(open_connection))
        .with_state(Arc::clone(&fake));
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", args.listen))?;
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    for t in &targets {
        wait_until_listening(t, &fake, Duration::from_secs(60)).await?;
    }
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(args.reply_timeout_secs))
        .pool_max_idle_per_host(1024)
        .build()
        .map_err(|e| e.to_string())?;
    let runner = Runner {
        fake: Arc::clone(&fake),
        client,
        secret: args.secret.clone(),
        next_id: Arc::new(AtomicU64::new(1)),
        reply_timeout: Duration::from_secs(args.reply_timeout_secs),
        groups: args.groups,
        ticks: clock_ticks_per_sec(),
    };
    let mut offsets: Vec<Vec<u64>> = targets.iter().map(|t| vec![0u64; t.audits.len()]).collect();
    let mut json_out = match &args.json {
        Some(p) => Some(std::fs::File::create(p).map_err(|e| format!("{}: {e}", p.display()))?),
        None => None,
    };
    let max_level = args.concurrency.iter().copied().max().unwrap_or(1);
    if args.warmup_secs > 0 {
        for (i, t) in targets.iter().enumerate() {
            let r = runner
                .round(
                    t,
                    max_level.min(8),
                    Duration::from_secs(args.warmup_secs),
                    args.max_messages,
                    &mut offsets[i],
                )
                .await?;
            eprintln!(
                "warm-up {}: {} answered, {} unanswered",
                t.name, r.answered, r.unanswered
            );
        }
    }
    let mut rounds = Vec::new();
    let mut audit_ok = true;
    for &c in &args.concurrency {
        for rep in 1..=args.reps {
            for (i, t) in targets.iter().enumerate() {
                let mut r = runner
                    .round(
                        t,
                        c,
                        Duration::from_secs(args.duration_secs),
                        args.max_messages,
                        &mut offsets[i],
                    )
                    .await?;
                r.rep = rep;
                eprintln!(
                    "{} c={c} rep={rep}: sent {} answered {} unanswered {} in {:.1} s, bot CPU {:.0} µs/answer ({:.0} % of a core), generator {:.0} % of a core, CPUs busy {:?} %, RSS {} KiB, audit {:?}, private sends {}, late {}",
                    r.bot,
                    r.sent,
                    r.answered,
                    r.unanswered,
                    r.wall_secs,
                    r.cpu_us as f64 / r.answered.max(1) as f64,
                    r.cpu_us as f64 / 1e4 / r.wall_secs.max(1e-9),
                    r.generator_cpu_us as f64 / 1e4 / r.wall_secs.max(1e-9),
                    r.cpu_busy_percent
                        .iter()
                        .map(|p| p.round() as u64)
                        .collect::<Vec<_>>(),
                    r.rss_kib_after,
                    r.audit_records,
                    r.private_sends,
                    r.late_replies,
                );
                if let Some(a) = r.audit_records
                    && a != r.answered
                {
                    audit_ok = false;
                    eprintln!(
                        "  audit records {a} != answered {} ({} sent)",
                        r.answered, r.sent
                    );
                }
                if let Some(f) = json_out.as_mut() {
                    use std::io::Write as _;
                    let line = serde_json::to_string(&r).map_err(|e| e.to_string())?;
                    writeln!(f, "{line}").map_err(|e| e.to_string())?;
                }
                rounds.push(r);
            }
        }
    }
    print_tables(&targets, &args.concurrency, &rounds);
    println!();
    println!(
        "DingTalk side: {} webhook posts, {} private sends, {} group sends, {} chart uploads, {} token calls, {} rejected calls, {} late replies, {} stream connections, {} stream ACKs",
        fake.webhook_posts.load(Ordering::Relaxed),
        fake.private_sends.load(Ordering::Relaxed),
        fake.group_sends.load(Ordering::Relaxed),
        fake.media_uploads.load(Ordering::Relaxed),
        fake.token_calls.load(Ordering::Relaxed),
        fake.rejected.load(Ordering::Relaxed),
        fake.late.load(Ordering::Relaxed),
        fake.stream_connects.load(Ordering::Relaxed),
        fake.acks.load(Ordering::Relaxed),
    );
    if args.check_audit && !audit_ok {
        eprintln!("load: audit records differ from answered messages");
        return Ok(3);
    }
    Ok(0)
}

fn is_loopback(ip: IpAddr) -> bool {
    ip.is_loopback()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signs_like_the_protocol_notes() {
        // The test vector of dingtalk-protocol.md §1.1.
        assert_eq!(
            sign("askerp-test-secret", "1700000000000"),
            "tBbgKopcQk6pEtDoJWYBnt71o6n8TIO0a4G3pg4bZdw="
        );
    }

    #[test]
    fn audit_lines_are_counted_only_when_complete() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("audit.jsonl");
        std::fs::write(&path, "{}\n{}\n{\"half").expect("write");
        let (n, offset) = audit_lines_since(&path, 0).expect("count");
        assert_eq!((n, offset), (2, 6));
        std::fs::write(&path, "{}\n{}\n{\"half\":1}\n").expect("write");
        assert_eq!(audit_lines_since(&path, offset).expect("count").0, 1);
    }

    #[test]
    fn nearest_rank_percentiles() {
        let v: Vec<u64> = (1..=100).map(|i| i * 1000).collect();
        assert_eq!(percentile(&v, 50.0), 50.0);
        assert_eq!(percentile(&v, 99.0), 99.0);
        assert_eq!(percentile(&[7000], 90.0), 7.0);
    }

    #[test]
    fn only_loopback_targets() {
        assert!(parse_target("a,http://127.0.0.1:1/cb,1").is_ok());
        assert!(parse_target("a,stream,1,/tmp/x").is_ok());
        assert!(parse_target("a,http://10.0.0.1:1/cb,1").is_err());
        assert!(parse_target("a,http://127.0.0.1:1/cb").is_err());
    }
}
