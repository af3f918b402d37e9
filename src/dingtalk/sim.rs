//! A DingTalk simulator: it signs callbacks the way DingTalk does and serves the
//! endpoints askerp calls (session webhooks, the access token, the robot send APIs),
//! recording every message it receives.
//!
//! `askerp demo` mounts it inside the demo server so a newcomer can talk to the bot with
//! no DingTalk app at all; the end-to-end tests start it on a loopback port and assert on
//! what it recorded. It follows the wire shapes of the project's protocol notes, including
//! the errors (`300001` for an unknown or expired session, `InvalidAuthentication` for a
//! bad token) so askerp's error paths are exercised too.
//!
//! It also plays the Stream gateway ([`super::sim_gateway`]), the interactive-card
//! endpoints, and injected faults ([`Simulator::inject`]): an endpoint can be made to
//! answer 5xx, 429 or a `QpsLimit` error for its next calls, with or without `Retry-After`.
//! Its contacts APIs (departments and users, [`super::sim_contacts`]) serve an
//! organisation set with [`Simulator::set_org`], for directory sync.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
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
    /// An interactive card created with `createAndDeliver` into `open_space_id`.
    Card {
        open_space_id: String,
        out_track_id: String,
    },
    /// An interactive card's data replaced with `PUT /v1.0/card/instances`.
    CardUpdate { out_track_id: String },
}

/// An endpoint of the simulator whose answers can be replaced by a fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Endpoint {
    AccessToken,
    BatchSend,
    GroupSend,
    SessionWebhook,
    CardDeliver,
    CardUpdate,
    GatewayOpen,
    /// `topapi/v2/department/listsub` of the contacts.
    DepartmentList,
    /// `topapi/v2/user/list` of the contacts.
    UserList,
}

/// A replacement answer: HTTP status, JSON body, and optionally `Retry-After` (seconds).
#[derive(Debug, Clone)]
pub struct Fault {
    pub status: u16,
    pub body: Value,
    pub retry_after_secs: Option<u64>,
    /// Wait this long before answering (a hung endpoint).
    pub delay: Option<Duration>,
}

impl Fault {
    /// HTTP `status` with an OpenAPI-style error body.
    pub fn status(status: u16) -> Fault {
        Fault {
            status,
            body: json!({ "code": format!("Sim.{status}"), "requestid": "sim", "message": "injected fault" }),
            retry_after_secs: None,
            delay: None,
        }
    }

    /// 403 with a `QpsLimit` code, as DingTalk throttles card and robot APIs.
    pub fn qps_limit() -> Fault {
        Fault {
            status: 403,
            body: json!({ "code": "Forbidden.AccessDenied.QpsLimitForApi", "requestid": "sim", "message": "qps limit" }),
            retry_after_secs: None,
            delay: None,
        }
    }

    /// The endpoint hangs for `delay` before answering with this fault.
    pub fn after(mut self, delay: Duration) -> Fault {
        self.delay = Some(delay);
        self
    }

    pub fn retry_after(mut self, secs: u64) -> Fault {
        self.retry_after_secs = Some(secs);
        self
    }

    pub(super) async fn respond(self) -> Response {
        if let Some(d) = self.delay {
            tokio::time::sleep(d).await;
        }
        let mut resp = (
            StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            Json(self.body),
        )
            .into_response();
        if let Some(secs) = self.retry_after_secs
            && let Ok(v) = secs.to_string().parse()
        {
            resp.headers_mut().insert("retry-after", v);
        }
        resp
    }
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

/// An image a recorded message shows, fetched the way a DingTalk client would: a media
/// id from the simulator's media store, or an http(s) URL fetched from where it points.
#[derive(Debug, Clone, Serialize)]
pub struct SimImage {
    /// The `seq` of the message that shows it.
    pub seq: u64,
    /// The reference in the markdown: a `media_id` or a URL.
    pub source: String,
    /// The image's bytes (not listed by `/sim/sent`).
    #[serde(skip)]
    pub bytes: Vec<u8>,
    pub width: u32,
    pub height: u32,
    /// The chart data askerp keeps inside its PNGs (iTXt `askerp-chart`), as JSON.
    pub data: Option<Value>,
}

/// The largest image the media store accepts (DingTalk: 20 MB for `type=image`).
const MAX_IMAGE_BYTES: usize = 20 * 1024 * 1024;

#[derive(Debug, Default)]
pub(super) struct SimState {
    /// `media_id` → bytes of every image uploaded through `media/upload`.
    uploads: std::sync::Mutex<HashMap<String, Vec<u8>>>,
    /// Images shown by recorded messages, in the order they were resolved.
    images: std::sync::Mutex<Vec<SimImage>>,
    pub(super) app_key: String,
    pub(super) app_secret: String,
    pub(super) gateway: super::sim_gateway::GatewayState,
    faults: std::sync::Mutex<HashMap<Endpoint, VecDeque<Fault>>>,
    calls: std::sync::Mutex<HashMap<Endpoint, u64>>,
    /// Session → expiry (ms) of every session webhook handed out.
    sessions: std::sync::Mutex<HashMap<String, i64>>,
    /// User → how many more batch sends report them as flow-controlled.
    flow_controlled: std::sync::Mutex<HashMap<String, u32>>,
    /// The organisation the contacts APIs serve ([`super::sim_contacts`]).
    org: std::sync::Mutex<super::sim_contacts::SimOrg>,
    /// outTrackId → the card's current `cardParamMap`.
    cards: std::sync::Mutex<HashMap<String, Value>>,
    base_url: std::sync::Mutex<String>,
    sent: std::sync::Mutex<Vec<Sent>>,
    expired_sessions: std::sync::Mutex<HashSet<String>>,
    unreachable_users: std::sync::Mutex<HashSet<String>>,
    tokens_issued: AtomicU64,
    /// Tokens numbered below this are rejected (`InvalidAuthentication`).
    tokens_valid_from: AtomicU64,
    seq: AtomicU64,
    notify: Notify,
}

/// The simulator handle. Clones share state.
#[derive(Debug, Clone)]
pub struct Simulator {
    pub(super) state: Arc<SimState>,
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
    /// `msgtype` and `content` of a non-text message (`text` is then not sent).
    pub content: Option<(String, Value)>,
    /// Quoted message: the text is sent as a reply quoting this earlier text.
    pub quoting: Option<String>,
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
            content: None,
            quoting: None,
        }
    }

    /// A message of another type (`audio`, `picture`, `richText`, …) with its `content`.
    pub fn typed(user: &str, msgtype: &str, content: Value) -> Incoming {
        let mut m = Incoming::text(user, "");
        m.content = Some((msgtype.to_string(), content));
        m
    }

    /// The same message @-mentioning colleagues (by staff id) besides the bot.
    pub fn mentioning(mut self, staff_ids: &[&str]) -> Incoming {
        self.mentions = staff_ids.iter().map(|s| s.to_string()).collect();
        self
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
        self.start_gateway().await?;
        Ok(base)
    }

    /// The routes DingTalk serves (relative to the simulator's base URL).
    pub fn router(&self) -> Router {
        Router::new()
            .route("/robot/sendBySession", post(session_webhook))
            .route("/v1.0/oauth2/accessToken", post(access_token))
            .route("/v1.0/robot/oToMessages/batchSend", post(batch_send))
            .route("/v1.0/robot/groupMessages/send", post(group_send))
            .route(
                "/v1.0/card/instances/createAndDeliver",
                post(card_create_and_deliver),
            )
            .route("/v1.0/card/instances", put(card_update))
            .route(
                "/v1.0/gateway/connections/open",
                post(super::sim_gateway::open_connection),
            )
            .route(
                "/topapi/v2/department/listsub",
                post(super::sim_contacts::list_sub_departments),
            )
            .route(
                "/topapi/v2/user/list",
                post(super::sim_contacts::list_users),
            )
            .route("/media/upload", post(media_upload))
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
        if let Some((kind, content)) = &msg.content {
            body["msgtype"] = json!(kind);
            body["content"] = content.clone();
            if let Some(o) = body.as_object_mut() {
                o.remove("text");
            }
        }
        if let Some(quoted) = &msg.quoting {
            body["text"]["isReplyMsg"] = json!(true);
            body["text"]["repliedMsg"] = json!({
                "msgId": "msgSimQuoted==", "msgType": "text",
                "senderId": "$:LWCP_v1:$someone", "content": { "text": quoted }
            });
        }
        if let Ok(mut s) = self.state.sessions.lock() {
            s.insert(session.clone(), ms.saturating_add(ttl_ms));
        }
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

    /// Makes the next `times` calls of `endpoint` answer `fault` instead.
    pub fn inject(&self, endpoint: Endpoint, fault: Fault, times: usize) {
        if let Ok(mut f) = self.state.faults.lock() {
            let q = f.entry(endpoint).or_default();
            q.extend(std::iter::repeat_n(fault, times));
        }
    }

    /// How many calls `endpoint` received (faulted ones included).
    pub fn calls(&self, endpoint: Endpoint) -> u64 {
        self.state
            .calls
            .lock()
            .map(|c| c.get(&endpoint).copied().unwrap_or(0))
            .unwrap_or(0)
    }

    /// Counts a call and returns the injected fault to answer with, if any.
    pub(super) fn take_fault(&self, endpoint: Endpoint) -> Option<Fault> {
        if let Ok(mut c) = self.state.calls.lock() {
            *c.entry(endpoint).or_default() += 1;
        }
        self.state
            .faults
            .lock()
            .ok()
            .and_then(|mut f| f.get_mut(&endpoint).and_then(VecDeque::pop_front))
    }

    /// Makes the next `times` 1:1 sends to `user` report them in
    /// `flowControlledStaffIdList` (not delivered).
    pub fn flow_control(&self, user: &str, times: u32) {
        if let Ok(mut s) = self.state.flow_controlled.lock() {
            s.insert(user.to_string(), times);
        }
    }

    /// The current `cardParamMap` of an interactive card.
    pub fn card(&self, out_track_id: &str) -> Option<Value> {
        self.state
            .cards
            .lock()
            .ok()
            .and_then(|c| c.get(out_track_id).cloned())
    }

    /// Everything sent so far, oldest first.
    pub fn sent(&self) -> Vec<Sent> {
        self.state
            .sent
            .lock()
            .map(|s| s.clone())
            .unwrap_or_default()
    }

    /// Invalidates every access token issued so far, as DingTalk does when a token is
    /// reset or expires early.
    pub fn revoke_tokens(&self) {
        let next = self.state.tokens_issued.load(Ordering::Relaxed) + 1;
        self.state.tokens_valid_from.store(next, Ordering::Relaxed);
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

    pub(super) fn record(&self, to: Destination, raw: Value, at_user_ids: Vec<String>) -> Sent {
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
        self.show_images(sent.seq, &sent.text);
        self.state.notify.notify_waiters();
        sent
    }

    /// Resolves every `![…](src)` of a message as a client would: a media id from the
    /// media store (an unknown one shows nothing, as in DingTalk), a URL by fetching it.
    fn show_images(&self, seq: u64, text: &str) {
        for source in image_sources(text) {
            if source.starts_with("http://") || source.starts_with("https://") {
                let sim = self.clone();
                tokio::spawn(async move {
                    let fetched = async {
                        let resp = reqwest::Client::new()
                            .get(&source)
                            .timeout(Duration::from_secs(5))
                            .send()
                            .await
                            .ok()?;
                        if !resp.status().is_success() {
                            return None;
                        }
                        resp.bytes().await.ok().map(|b| b.to_vec())
                    };
                    if let Some(bytes) = fetched.await {
                        sim.keep_image(seq, source, bytes);
                    }
                });
            } else {
                let bytes = self
                    .state
                    .uploads
                    .lock()
                    .ok()
                    .and_then(|u| u.get(&source).cloned());
                if let Some(bytes) = bytes {
                    self.keep_image(seq, source, bytes);
                }
            }
        }
    }

    fn keep_image(&self, seq: u64, source: String, bytes: Vec<u8>) {
        let Ok((width, height, json)) = crate::card::chart::read_png(&bytes) else {
            return;
        };
        let data = json.and_then(|j| serde_json::from_str(&j).ok());
        if let Ok(mut images) = self.state.images.lock() {
            images.push(SimImage {
                seq,
                source,
                bytes,
                width,
                height,
                data,
            });
        }
        self.state.notify.notify_waiters();
    }

    /// Every image shown so far.
    pub fn images(&self) -> Vec<SimImage> {
        self.state
            .images
            .lock()
            .map(|i| i.clone())
            .unwrap_or_default()
    }

    /// How many images were uploaded through `media/upload`.
    pub fn uploads(&self) -> usize {
        self.state.uploads.lock().map(|u| u.len()).unwrap_or(0)
    }

    /// Waits until at least `n` images were shown or `timeout` passes.
    pub async fn wait_for_images(&self, n: usize, timeout: Duration) -> Vec<SimImage> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let notified = self.state.notify.notified();
            let images = self.images();
            if images.len() >= n || tokio::time::Instant::now() >= deadline {
                return images;
            }
            let _ = tokio::time::timeout_at(deadline, notified).await;
        }
    }

    fn token_ok(&self, headers: &HeaderMap) -> bool {
        headers
            .get("x-acs-dingtalk-access-token")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|t| self.token_value_ok(t))
    }

    /// Whether `token` is one this simulator issued and has not revoked (the legacy API
    /// carries it in the `access_token` query parameter).
    pub(super) fn token_value_ok(&self, token: &str) -> bool {
        token
            .strip_prefix("sim-token-")
            .and_then(|n| n.parse::<u64>().ok())
            .is_some_and(|n| n >= self.state.tokens_valid_from.load(Ordering::Relaxed))
    }

    /// Replaces the organisation the contacts APIs serve (empty until set).
    pub fn set_org(&self, org: super::sim_contacts::SimOrg) {
        if let Ok(mut o) = self.state.org.lock() {
            *o = org;
        }
    }

    /// The organisation the contacts APIs serve.
    pub fn org(&self) -> super::sim_contacts::SimOrg {
        self.state.org.lock().map(|o| o.clone()).unwrap_or_default()
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
    if let Some(params) = raw.pointer("/cardData/cardParamMap") {
        let buttons = params
            .get("buttons")
            .and_then(Value::as_str)
            .and_then(|b| serde_json::from_str::<Vec<Value>>(b).ok())
            .unwrap_or_default()
            .iter()
            .map(|b| (s(b, "text"), s(b, "question")))
            .collect();
        return (s(params, "title"), s(params, "markdown"), buttons);
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

/// The `src` of every markdown image in `text`.
fn image_sources(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("![") {
        rest = &rest[start + 2..];
        let Some(close) = rest.find("](") else { break };
        rest = &rest[close + 2..];
        let Some(end) = rest.find(')') else { break };
        out.push(rest[..end].trim().to_string());
        rest = &rest[end + 1..];
    }
    out
}

#[derive(Deserialize)]
struct UploadQuery {
    #[serde(default)]
    access_token: String,
    #[serde(default, rename = "type")]
    kind: Option<String>,
}

/// `POST /media/upload?access_token=…&type=image`, multipart fields `type` and `media`,
/// answered like oapi: `errcode` 0 with a `media_id`, or DingTalk's error codes (40014
/// bad token, 40004 bad media type, 40005 not an image, 40006 bad size, 41005 no file).
async fn media_upload(
    State(sim): State<Simulator>,
    Query(q): Query<UploadQuery>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let err =
        |code: i64, msg: &str| Json(json!({ "errcode": code, "errmsg": msg })).into_response();
    let token_ok = q
        .access_token
        .strip_prefix("sim-token-")
        .and_then(|n| n.parse::<u64>().ok())
        .is_some_and(|n| n >= sim.state.tokens_valid_from.load(Ordering::Relaxed));
    if !token_ok {
        return err(40014, "不合法的access_token");
    }
    let boundary = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .filter(|ct| ct.starts_with("multipart/form-data"))
        .and_then(|ct| ct.split("boundary=").nth(1))
        .map(|b| b.trim_matches('"').to_string());
    let Some(boundary) = boundary else {
        return err(41005, "缺少多媒体文件数据");
    };
    let parts = multipart_parts(&body, &boundary);
    let kind = parts
        .iter()
        .find(|(name, _)| name == "type")
        .map(|(_, v)| String::from_utf8_lossy(v).trim().to_string())
        .or(q.kind);
    if kind.as_deref() != Some("image") {
        return err(40004, "不合法的媒体文件类型");
    }
    let Some((_, media)) = parts.into_iter().find(|(name, _)| name == "media") else {
        return err(41005, "缺少多媒体文件数据");
    };
    if media.is_empty() || media.len() > MAX_IMAGE_BYTES {
        return err(40006, "不合法的文件大小");
    }
    let image = media.starts_with(b"\x89PNG\r\n\x1a\n")
        || media.starts_with(&[0xff, 0xd8, 0xff])
        || media.starts_with(b"GIF8")
        || media.starts_with(b"BM");
    if !image {
        return err(40005, "不合法的文件类型");
    }
    let n = sim.state.seq.fetch_add(1, Ordering::Relaxed) + 1;
    let media_id = format!("@lALPsim{n:08x}");
    if let Ok(mut u) = sim.state.uploads.lock() {
        u.insert(media_id.clone(), media);
    }
    Json(json!({
        "errcode": 0, "errmsg": "ok", "type": "image", "media_id": media_id,
        "created_at": Timestamp::now().as_millisecond(),
    }))
    .into_response()
}

/// `(name, content)` of each part of a multipart/form-data body.
fn multipart_parts(body: &[u8], boundary: &str) -> Vec<(String, Vec<u8>)> {
    let delimiter = format!("--{boundary}");
    let d = delimiter.as_bytes();
    let mut starts = Vec::new();
    let mut i = 0;
    while i + d.len() <= body.len() {
        if &body[i..i + d.len()] == d {
            starts.push(i);
            i += d.len();
        } else {
            i += 1;
        }
    }
    let mut parts = Vec::new();
    for w in starts.windows(2) {
        let part = &body[w[0] + d.len()..w[1]];
        let part = part.strip_prefix(b"\r\n").unwrap_or(part);
        let part = part.strip_suffix(b"\r\n").unwrap_or(part);
        let Some(split) = part.windows(4).position(|x| x == b"\r\n\r\n") else {
            continue;
        };
        let head = String::from_utf8_lossy(&part[..split]);
        let name = head
            .split(';')
            .find_map(|p| p.trim().strip_prefix("name=\""))
            .and_then(|n| n.split('"').next())
            .unwrap_or_default()
            .to_string();
        parts.push((name, part[split + 4..].to_vec()));
    }
    parts
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
) -> Response {
    if let Some(f) = sim.take_fault(Endpoint::SessionWebhook) {
        return f.respond().await;
    }
    let now = Timestamp::now().as_millisecond();
    let expired = sim
        .state
        .expired_sessions
        .lock()
        .map(|s| s.contains(&q.session))
        .unwrap_or(false)
        || sim
            .state
            .sessions
            .lock()
            .map(|s| s.get(&q.session).is_some_and(|exp| *exp <= now))
            .unwrap_or(false);
    if q.session.is_empty() || expired {
        return Json(json!({ "errcode": 300001, "errmsg": "session 不存在" })).into_response();
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
    Json(json!({ "errcode": 0, "errmsg": "ok" })).into_response()
}

async fn access_token(State(sim): State<Simulator>, Json(body): Json<Value>) -> Response {
    if let Some(f) = sim.take_fault(Endpoint::AccessToken) {
        return f.respond().await;
    }
    let key = body.get("appKey").and_then(Value::as_str);
    let secret = body.get("appSecret").and_then(Value::as_str);
    if key != Some(sim.state.app_key.as_str()) || secret != Some(sim.state.app_secret.as_str()) {
        return (
            StatusCode::BAD_REQUEST,
            Json(
                json!({ "code": "invalidClientIdOrSecret", "requestid": "sim", "message": "无效的clientId或者clientSecret" }),
            ),
        )
            .into_response();
    }
    let n = sim.state.tokens_issued.fetch_add(1, Ordering::Relaxed) + 1;
    (
        StatusCode::OK,
        Json(json!({ "accessToken": format!("sim-token-{n}"), "expireIn": 7200 })),
    )
        .into_response()
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
) -> Response {
    if let Some(f) = sim.take_fault(Endpoint::BatchSend) {
        return f.respond().await;
    }
    if !sim.token_ok(&headers) {
        return bad_token().into_response();
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
        )
            .into_response();
    }
    if body.get("msgParam").and_then(Value::as_str).is_none() {
        return (
            StatusCode::BAD_REQUEST,
            Json(
                json!({ "code": "invalidParameter.msgParam.invalid", "requestid": "sim", "message": "msgParam must be JSON" }),
            ),
        )
            .into_response();
    }
    let unreachable: HashSet<String> = sim
        .state
        .unreachable_users
        .lock()
        .map(|s| s.clone())
        .unwrap_or_default();
    let (invalid, users): (Vec<String>, Vec<String>) =
        users.into_iter().partition(|u| unreachable.contains(u));
    let (throttled, reachable): (Vec<String>, Vec<String>) = match sim.state.flow_controlled.lock()
    {
        Ok(mut fc) => users.into_iter().partition(|u| match fc.get_mut(u) {
            Some(n) if *n > 0 => {
                *n -= 1;
                true
            }
            _ => false,
        }),
        Err(_) => (Vec::new(), users),
    };
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
                     "flowControlledStaffIdList": throttled, "filteredStaffIdList": [] }),
        ),
    )
        .into_response()
}

async fn group_send(
    State(sim): State<Simulator>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    if let Some(f) = sim.take_fault(Endpoint::GroupSend) {
        return f.respond().await;
    }
    if !sim.token_ok(&headers) {
        return bad_token().into_response();
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
        .into_response()
}

fn invalid(code: &str, message: &str) -> Response {
    (
        StatusCode::BAD_REQUEST,
        Json(json!({ "code": code, "requestid": "sim", "message": message })),
    )
        .into_response()
}

/// `createAndDeliver`, checked the way DingTalk documents it: template and track ids
/// present, a valid `openSpaceId` with its deliver model, string-valued `cardParamMap`.
async fn card_create_and_deliver(
    State(sim): State<Simulator>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    if let Some(f) = sim.take_fault(Endpoint::CardDeliver) {
        return f.respond().await;
    }
    if !sim.token_ok(&headers) {
        return bad_token().into_response();
    }
    let str_of = |k: &str| body.get(k).and_then(Value::as_str).unwrap_or_default();
    if str_of("cardTemplateId").is_empty() {
        return invalid("param.cardTemplateIdEmpty", "cardTemplateId is empty");
    }
    let out_track_id = str_of("outTrackId").to_string();
    if out_track_id.is_empty() {
        return invalid("param.outTrackIdEmpty", "outTrackId is empty");
    }
    if !matches!(str_of("callbackType"), "STREAM" | "HTTP") {
        return invalid(
            "param.callbackTypeInvalid",
            "callbackType must be STREAM or HTTP",
        );
    }
    let space = str_of("openSpaceId").to_string();
    let model_ok = if let Some(cid) = space.strip_prefix("dtv1.card//IM_GROUP.") {
        !cid.is_empty()
            && body
                .pointer("/imGroupOpenDeliverModel/robotCode")
                .and_then(Value::as_str)
                == Some(sim.state.app_key.as_str())
    } else if let Some(user) = space.strip_prefix("dtv1.card//IM_ROBOT.") {
        !user.is_empty()
            && body
                .pointer("/imRobotOpenDeliverModel/spaceType")
                .and_then(Value::as_str)
                == Some("IM_ROBOT")
    } else {
        false
    };
    if !model_ok {
        return invalid(
            "param.openSpaceModelInvalid",
            "openSpaceId or deliver model invalid",
        );
    }
    let params = body
        .pointer("/cardData/cardParamMap")
        .cloned()
        .unwrap_or(Value::Null);
    if !params
        .as_object()
        .is_some_and(|m| m.values().all(Value::is_string))
    {
        return invalid(
            "param.cardParamMapInvalid",
            "cardParamMap values must be strings",
        );
    }
    if let Ok(mut c) = sim.state.cards.lock() {
        c.insert(out_track_id.clone(), params);
    }
    let to = Destination::Card {
        open_space_id: space.clone(),
        out_track_id: out_track_id.clone(),
    };
    sim.record(to, body, vec![]);
    let space_type = if space.contains("IM_GROUP") {
        "IM_GROUP"
    } else {
        "IM_ROBOT"
    };
    Json(json!({ "success": true, "result": { "outTrackId": out_track_id,
        "deliverResults": [{ "spaceType": space_type, "spaceId": space, "success": true, "errorMsg": "", "carrierId": "sim" }] } }))
        .into_response()
}

/// `PUT /v1.0/card/instances`: updates the stored card data by key.
async fn card_update(
    State(sim): State<Simulator>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    if let Some(f) = sim.take_fault(Endpoint::CardUpdate) {
        return f.respond().await;
    }
    if !sim.token_ok(&headers) {
        return bad_token().into_response();
    }
    let out_track_id = body
        .get("outTrackId")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let known = sim
        .state
        .cards
        .lock()
        .map(|c| c.contains_key(&out_track_id))
        .unwrap_or(false);
    if !known {
        return invalid("param.outTrackIdNotExist", "no such card");
    }
    sim.apply_card_update(&out_track_id, &body);
    sim.record(Destination::CardUpdate { out_track_id }, body, vec![]);
    Json(json!({ "success": true, "result": true })).into_response()
}

impl Simulator {
    /// Applies `{cardData: {cardParamMap}}` to a stored card, key by key.
    pub(super) fn apply_card_update(&self, out_track_id: &str, update: &Value) {
        let Some(new) = update
            .pointer("/cardData/cardParamMap")
            .and_then(Value::as_object)
        else {
            return;
        };
        if let Ok(mut c) = self.state.cards.lock()
            && let Some(Value::Object(card)) = c.get_mut(out_track_id)
        {
            for (k, v) in new {
                card.insert(k.clone(), v.clone());
            }
        }
    }
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
