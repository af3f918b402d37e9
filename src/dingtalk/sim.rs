//! A DingTalk simulator: it signs callbacks the way DingTalk does and serves the
//! endpoints askerp calls (session webhooks, the access token, the robot send APIs),
//! recording every message it receives.
//!
//! `askerp demo` mounts it inside the demo server so a newcomer can talk to the bot with
//! no DingTalk app at all; the end-to-end tests start it on a loopback port and assert on
//! what it recorded. It follows the wire shapes of the project's protocol notes, including
//! the errors (`300001` for an unknown or expired session, `InvalidAuthentication` for a
//! bad token) so askerp's error paths are exercised too.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use axum::{Json, Router};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio::sync::Notify;

use super::sign::sign;

/// Where a recorded message was sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "via", rename_all = "snake_case")]
pub enum Destination {
    /// Posted to a session webhook.
    Webhook { session: String },
    /// Sent 1:1 through `oToMessages/batchSend`.
    Private { user_ids: Vec<String> },
    /// Sent to a group through `groupMessages/send`.
    Group { conversation_id: String },
}

/// One message the bot sent, as DingTalk would show it.
#[derive(Debug, Clone, Serialize)]
pub struct Sent {
    pub seq: u64,
    #[serde(flatten)]
    pub to: Destination,
    /// The title shown in the notification.
    pub title: String,
    /// The body text (markdown).
    pub text: String,
    /// `(title, url)` of every button.
    pub buttons: Vec<(String, String)>,
    /// Users @-mentioned by the message.
    pub at_user_ids: Vec<String>,
    /// The request body exactly as received.
    pub raw: Value,
}

#[derive(Debug, Default)]
struct SimState {
    app_key: String,
    app_secret: String,
    base_url: std::sync::Mutex<String>,
    sent: std::sync::Mutex<Vec<Sent>>,
    expired_sessions: std::sync::Mutex<HashSet<String>>,
    unreachable_users: std::sync::Mutex<HashSet<String>>,
    tokens_issued: AtomicU64,
    seq: AtomicU64,
    notify: Notify,
}

/// The simulator handle. Clones share state.
#[derive(Debug, Clone)]
pub struct Simulator {
    state: Arc<SimState>,
}

/// A message to deliver to the bot as DingTalk would.
#[derive(Debug, Clone)]
pub struct Incoming {
    pub msg_id: String,
    pub text: String,
    pub sender_staff_id: String,
    pub sender_nick: String,
    /// Group chat (`conversationType` "2") instead of 1:1.
    pub group: bool,
    pub conversation_id: String,
    /// Lifetime of the session webhook handed to the bot.
    pub webhook_ttl: Duration,
    /// Overrides the session webhook URL (e.g. to test a foreign host).
    pub session_webhook: Option<String>,
    /// Staff ids of colleagues @-mentioned alongside the bot.
    pub mentions: Vec<String>,
}

impl Incoming {
    /// A text message from `user` with sensible defaults (1:1, fresh webhook).
    pub fn text(user: &str, text: &str) -> Incoming {
        static COUNTER: AtomicU64 = AtomicU64::new(1);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let nanos = Timestamp::now().as_nanosecond();
        Incoming {
            msg_id: format!("msgSim{nanos:x}{n:04}=="),
            text: text.to_string(),
            sender_staff_id: user.to_string(),
            sender_nick: user.to_string(),
            group: false,
            conversation_id: format!("cidSim{}==", user.replace('.', "")),
            webhook_ttl: Duration::from_secs(90 * 60),
            session_webhook: None,
            mentions: Vec::new(),
        }
    }

    /// The same message in a group chat.
    pub fn in_group(mut self, conversation_id: &str) -> Incoming {
        self.group = true;
        self.conversation_id = conversation_id.to_string();
        self
    }
}

/// A signed callback, ready to POST to `/dingtalk/callback`.
#[derive(Debug, Clone)]
pub struct SignedCallback {
    pub timestamp: String,
    pub sign: String,
    pub body: Value,
}

impl Simulator {
    pub fn new(app_key: &str, app_secret: &str) -> Simulator {
        Simulator {
            state: Arc::new(SimState {
                app_key: app_key.to_string(),
                app_secret: app_secret.to_string(),
                ..SimState::default()
            }),
        }
    }

    /// Tells the simulator the URL it is reachable at (scheme, host, port and the prefix
    /// it is mounted under), so it can hand out session webhooks.
    pub fn set_base_url(&self, base: &str) {
        if let Ok(mut b) = self.state.base_url.lock() {
            *b = base.trim_end_matches('/').to_string();
        }
    }

    pub fn base_url(&self) -> String {
        self.state
            .base_url
            .lock()
            .map(|b| b.clone())
            .unwrap_or_default()
    }

    /// Starts the simulator alone on a loopback port; returns its base URL.
    pub async fn serve_on_loopback(&self) -> std::io::Result<String> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let base = format!("http://{}", listener.local_addr()?);
        self.set_base_url(&base);
        let app = self.router();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(base)
    }

    /// The routes DingTalk serves (relative to the simulator's base URL).
    pub fn router(&self) -> Router {
        Router::new()
            .route("/robot/sendBySession", post(session_webhook))
            .route("/v1.0/oauth2/accessToken", post(access_token))
            .route("/v1.0/robot/oToMessages/batchSend", post(batch_send))
            .route("/v1.0/robot/groupMessages/send", post(group_send))
            .route("/sim/sent", get(list_sent))
            .with_state(self.clone())
    }

    /// Builds the callback DingTalk would POST for `msg`, signed at `at`.
    pub fn callback(&self, msg: &Incoming, at: Timestamp) -> SignedCallback {
        let ms = at.as_millisecond();
        let timestamp = ms.to_string();
        let session = session_of(&msg.msg_id);
        let webhook = msg.session_webhook.clone().unwrap_or_else(|| {
            format!("{}/robot/sendBySession?session={session}", self.base_url())
        });
        let ttl_ms = i64::try_from(msg.webhook_ttl.as_millis()).unwrap_or(i64::MAX / 2);
        let mut at_users = vec![json!({ "dingtalkId": "$:LWCP_v1:$simbot" })];
        at_users.extend(
            msg.mentions
                .iter()
                .map(|id| json!({ "dingtalkId": format!("$:LWCP_v1:${id}"), "staffId": id })),
        );
        let mut body = json!({
            "msgId": msg.msg_id,
            "msgtype": "text",
            "text": { "content": format!(" {}", msg.text) },
            "createAt": ms,
            "conversationType": if msg.group { "2" } else { "1" },
            "conversationId": msg.conversation_id,
            "senderId": format!("$:LWCP_v1:${}", msg.sender_staff_id),
            "senderStaffId": msg.sender_staff_id,
            "senderNick": msg.sender_nick,
            "senderCorpId": "dingsimcorp",
            "isAdmin": false,
            "chatbotUserId": "$:LWCP_v1:$simbot",
            "chatbotCorpId": "dingsimcorp",
            "robotCode": self.state.app_key,
            "sessionWebhook": webhook,
            "sessionWebhookExpiredTime": ms.saturating_add(ttl_ms),
        });
        if msg.group {
            body["conversationTitle"] = json!("Simulated group");
            body["isInAtList"] = json!(true);
            body["atUsers"] = json!(at_users);
        }
        SignedCallback {
            sign: sign(&self.state.app_secret, &timestamp),
            timestamp,
            body,
        }
    }

    /// The session id embedded in the webhook handed out for `msg_id`.
    pub fn session_for(&self, msg_id: &str) -> String {
        session_of(msg_id)
    }

    /// Makes the webhook of `session` answer `300001` from now on.
    pub fn expire_session(&self, session: &str) {
        if let Ok(mut s) = self.state.expired_sessions.lock() {
            s.insert(session.to_string());
        }
    }

    /// Makes 1:1 sends to `user` come back in `invalidStaffIdList`, as DingTalk does for
    /// ids it cannot deliver to.
    pub fn make_unreachable(&self, user: &str) {
        if let Ok(mut s) = self.state.unreachable_users.lock() {
            s.insert(user.to_string());
        }
    }

    /// Everything sent so far, oldest first.
    pub fn sent(&self) -> Vec<Sent> {
        self.state
            .sent
            .lock()
            .map(|s| s.clone())
            .unwrap_or_default()
    }

    /// How many access tokens were issued.
    pub fn tokens_issued(&self) -> u64 {
        self.state.tokens_issued.load(Ordering::Relaxed)
    }

    /// Waits until at least `n` messages were sent in total, or `timeout` passes;
    /// returns everything sent.
    pub async fn wait_for_sent(&self, n: usize, timeout: Duration) -> Vec<Sent> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let notified = self.state.notify.notified();
            let sent = self.sent();
            if sent.len() >= n {
                return sent;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return self.sent();
            }
        }
    }

    fn record(&self, to: Destination, raw: Value, at_user_ids: Vec<String>) -> Sent {
        let (title, text, buttons) = read_message(&raw);
        let sent = Sent {
            seq: self.state.seq.fetch_add(1, Ordering::Relaxed) + 1,
            to,
            title,
            text,
            buttons,
            at_user_ids,
            raw,
        };
        if let Ok(mut s) = self.state.sent.lock() {
            s.push(sent.clone());
        }
        self.state.notify.notify_waiters();
        sent
    }

    fn token_ok(&self, headers: &HeaderMap) -> bool {
        headers
            .get("x-acs-dingtalk-access-token")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|t| t.starts_with("sim-token-"))
    }
}

fn session_of(msg_id: &str) -> String {
    msg_id
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .collect::<String>()
}

/// Title, text and buttons of a webhook message or of an OpenAPI `msgKey`/`msgParam`.
fn read_message(raw: &Value) -> (String, String, Vec<(String, String)>) {
    let s = |v: &Value, k: &str| {
        v.get(k)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    if let Some(kind) = raw.get("msgtype").and_then(Value::as_str) {
        let body = raw.get(kind).cloned().unwrap_or(Value::Null);
        let text = if kind == "text" {
            s(&body, "content")
        } else {
            s(&body, "text")
        };
        let buttons = body
            .get("btns")
            .and_then(Value::as_array)
            .map(|bs| {
                bs.iter()
                    .map(|b| (s(b, "title"), s(b, "actionURL")))
                    .collect()
            })
            .unwrap_or_default();
        return (s(&body, "title"), text, buttons);
    }
    let param: Value = raw
        .get("msgParam")
        .and_then(Value::as_str)
        .and_then(|p| serde_json::from_str(p).ok())
        .unwrap_or(Value::Null);
    let mut buttons = Vec::new();
    if param.get("singleTitle").is_some() {
        buttons.push((s(&param, "singleTitle"), s(&param, "singleURL")));
    }
    for i in 1..=5 {
        if param.get(format!("actionTitle{i}")).is_some() {
            buttons.push((
                s(&param, &format!("actionTitle{i}")),
                s(&param, &format!("actionURL{i}")),
            ));
        }
    }
    let text = if param.get("content").is_some() {
        s(&param, "content")
    } else {
        s(&param, "text")
    };
    (s(&param, "title"), text, buttons)
}

#[derive(Deserialize)]
struct SessionQuery {
    #[serde(default)]
    session: String,
}

async fn session_webhook(
    State(sim): State<Simulator>,
    Query(q): Query<SessionQuery>,
    Json(body): Json<Value>,
) -> Json<Value> {
    let expired = sim
        .state
        .expired_sessions
        .lock()
        .map(|s| s.contains(&q.session))
        .unwrap_or(false);
    if q.session.is_empty() || expired {
        return Json(json!({ "errcode": 300001, "errmsg": "session 不存在" }));
    }
    let at = body
        .pointer("/at/atUserIds")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    sim.record(Destination::Webhook { session: q.session }, body, at);
    Json(json!({ "errcode": 0, "errmsg": "ok" }))
}

async fn access_token(
    State(sim): State<Simulator>,
    Json(body): Json<Value>,
) -> (StatusCode, Json<Value>) {
    let key = body.get("appKey").and_then(Value::as_str);
    let secret = body.get("appSecret").and_then(Value::as_str);
    if key != Some(sim.state.app_key.as_str()) || secret != Some(sim.state.app_secret.as_str()) {
        return (
            StatusCode::BAD_REQUEST,
            Json(
                json!({ "code": "invalidClientIdOrSecret", "requestid": "sim", "message": "无效的clientId或者clientSecret" }),
            ),
        );
    }
    let n = sim.state.tokens_issued.fetch_add(1, Ordering::Relaxed) + 1;
    (
        StatusCode::OK,
        Json(json!({ "accessToken": format!("sim-token-{n}"), "expireIn": 7200 })),
    )
}

fn bad_token() -> (StatusCode, Json<Value>) {
    (
        StatusCode::BAD_REQUEST,
        Json(
            json!({ "code": "InvalidAuthentication", "requestid": "sim", "message": "不合法的access_token" }),
        ),
    )
}

async fn batch_send(
    State(sim): State<Simulator>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> (StatusCode, Json<Value>) {
    if !sim.token_ok(&headers) {
        return bad_token();
    }
    let users: Vec<String> = body
        .get("userIds")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    if users.is_empty() || users.len() > 20 {
        return (
            StatusCode::BAD_REQUEST,
            Json(
                json!({ "code": "invalidParameter.userIds.overMax", "requestid": "sim", "message": "userIds must hold 1 to 20 ids" }),
            ),
        );
    }
    if body.get("msgParam").and_then(Value::as_str).is_none() {
        return (
            StatusCode::BAD_REQUEST,
            Json(
                json!({ "code": "invalidParameter.msgParam.invalid", "requestid": "sim", "message": "msgParam must be JSON" }),
            ),
        );
    }
    let unreachable: HashSet<String> = sim
        .state
        .unreachable_users
        .lock()
        .map(|s| s.clone())
        .unwrap_or_default();
    let (invalid, reachable): (Vec<String>, Vec<String>) =
        users.into_iter().partition(|u| unreachable.contains(u));
    let key = if reachable.is_empty() {
        String::new()
    } else {
        let to = Destination::Private {
            user_ids: reachable,
        };
        format!("pqk-{}", sim.record(to, body, vec![]).seq)
    };
    (
        StatusCode::OK,
        Json(
            json!({ "processQueryKey": key, "invalidStaffIdList": invalid,
                     "flowControlledStaffIdList": [], "filteredStaffIdList": [] }),
        ),
    )
}

async fn group_send(
    State(sim): State<Simulator>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> (StatusCode, Json<Value>) {
    if !sim.token_ok(&headers) {
        return bad_token();
    }
    let conversation_id = body
        .get("openConversationId")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let seq = sim
        .record(Destination::Group { conversation_id }, body, vec![])
        .seq;
    (
        StatusCode::OK,
        Json(json!({ "processQueryKey": format!("pqk-{seq}") })),
    )
}

#[derive(Deserialize)]
struct SentQuery {
    /// Only messages with a larger sequence number.
    #[serde(default)]
    after: u64,
    /// Wait up to this long for at least one such message.
    #[serde(default)]
    wait_ms: u64,
}

/// Lists what the bot sent (used by `askerp send` to show the reply).
async fn list_sent(State(sim): State<Simulator>, Query(q): Query<SentQuery>) -> Json<Vec<Sent>> {
    let deadline = tokio::time::Instant::now() + Duration::from_millis(q.wait_ms.min(30_000));
    loop {
        let notified = sim.state.notify.notified();
        let newer: Vec<Sent> = sim.sent().into_iter().filter(|s| s.seq > q.after).collect();
        if !newer.is_empty() || tokio::time::timeout_at(deadline, notified).await.is_err() {
            let newer = sim.sent().into_iter().filter(|s| s.seq > q.after).collect();
            return Json(newer);
        }
    }
}
