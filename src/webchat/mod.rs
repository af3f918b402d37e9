//! The demo's web chat: a page at `/` where anyone evaluating askerp can pick a directory
//! user, a group or a 1:1 chat, ask a question and see the answer as DingTalk shows it,
//! with a trace of why the bot answered that way.
//!
//! It is mounted only beside the simulator (`askerp demo`), never by `serve`. It takes no
//! shortcut into the pipeline: a question becomes a callback signed by the simulator and
//! handed to the same handler as `POST /dingtalk/callback` (signature, timestamp window,
//! robot code, source allow-list, dedupe, the answer task); a press on an interactive
//! card's button becomes a card callback for `POST /dingtalk/card`. What the page shows is
//! what the simulator then received, read back from the request bodies it recorded, and the
//! trace is the message's audit record plus the resolver's explanation of the text.
//!
//! The page itself (`assets/webchat/`) is plain HTML, CSS and one script, embedded with
//! `include_str!`; ARCHITECTURE.md says why.

mod view;

use std::collections::HashMap;
use std::io::{BufRead, Seek};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use jiff::Timestamp;
use serde::Deserialize;
use serde_json::{Value, json};

pub use view::{Pane, follow_up_text};

use crate::config::AuditSink;
use crate::dingtalk::sim::{Incoming, Simulator};
use crate::server::AppState;

/// The group every web chat user shares; `askerp send --group` posts into the same one.
pub const DEMO_GROUP: &str = "cidDemoGroup==";

/// The longest question the page may send (DingTalk's text messages are limited to a few
/// thousand characters; nobody asks an ERP question this long).
pub const MAX_TEXT_CHARS: usize = 2000;

/// How long the page waits for an answer's audit record.
const ANSWER_WAIT: Duration = Duration::from_secs(20);

const INDEX_HTML: &str = include_str!("../../assets/webchat/index.html");
const APP_JS: &str = include_str!("../../assets/webchat/app.js");
const APP_CSS: &str = include_str!("../../assets/webchat/app.css");
/// The page's labels in the five UI languages (same keys in each; a test checks).
pub const LABELS_JSON: &str = include_str!("../../assets/webchat/labels.json");

/// A request the page got wrong, answered with a 4xx and a sentence.
#[derive(Debug, thiserror::Error)]
pub enum WebchatError {
    #[error("{0}")]
    BadInput(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Unavailable(String),
}

impl IntoResponse for WebchatError {
    fn into_response(self) -> Response {
        let status = match &self {
            WebchatError::BadInput(_) => StatusCode::BAD_REQUEST,
            WebchatError::NotFound(_) => StatusCode::NOT_FOUND,
            WebchatError::Unavailable(_) => StatusCode::CONFLICT,
        };
        (status, Json(json!({ "error": self.to_string() }))).into_response()
    }
}

/// The web chat's own state: the server's, the simulator playing DingTalk, which pane each
/// session webhook it handed out belongs to, and a lock so questions are answered one at a
/// time (the trace's cache counts are then this answer's).
#[derive(Clone)]
struct Webchat {
    app: AppState,
    sim: Simulator,
    sessions: Arc<std::sync::Mutex<HashMap<String, Pane>>>,
    one_at_a_time: Arc<tokio::sync::Mutex<()>>,
}

/// The page, its assets and API. Mounted by `server::router` only in demo mode.
pub fn router(app: AppState, sim: Simulator) -> Router {
    let chat = Webchat {
        app,
        sim,
        sessions: Arc::default(),
        one_at_a_time: Arc::default(),
    };
    Router::new()
        .route(
            "/",
            get(|| async { asset("text/html; charset=utf-8", INDEX_HTML) }),
        )
        .route(
            "/webchat/app.js",
            get(|| async { asset("text/javascript; charset=utf-8", APP_JS) }),
        )
        .route(
            "/webchat/app.css",
            get(|| async { asset("text/css; charset=utf-8", APP_CSS) }),
        )
        .route(
            "/webchat/labels.json",
            get(|| async { asset("application/json", LABELS_JSON) }),
        )
        .route("/webchat/fonts/cjk.ttf", get(cjk_font))
        .route("/webchat/api/users", get(users))
        .route("/webchat/api/ask", post(ask))
        .route("/webchat/api/press", post(press))
        .route("/webchat/api/messages", get(messages))
        .route("/webchat/api/image", get(image))
        .with_state(chat)
}

/// An embedded asset, with a policy that lets the page load nothing from anywhere but the
/// demo server.
fn asset(content_type: &'static str, body: &'static str) -> Response {
    let mut resp = body.into_response();
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; img-src 'self'; script-src 'self'; style-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
        ),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    resp
}

/// The chart's embedded Chinese font, for browsers on machines without one (the page's
/// CSS asks for it only for CJK characters, and only when no local font has them).
async fn cjk_font() -> Response {
    (
        [
            (header::CONTENT_TYPE, "font/ttf"),
            (header::CACHE_CONTROL, "max-age=86400"),
        ],
        crate::card::chart::CJK_FONT,
    )
        .into_response()
}

/// The directory's users, with their roles and scope, for the "who are you" picker.
async fn users(State(chat): State<Webchat>) -> Json<Value> {
    let mut users: Vec<Value> = chat
        .app
        .bot()
        .directory
        .principals()
        .map(|p| {
            json!({
                "id": p.dingtalk_user_id,
                "name": p.name,
                "name_zh": p.name_zh,
                "roles": p.roles,
                "stores": p.stores,
                "regions": p.regions,
            })
        })
        .collect();
    users.sort_by(|a, b| a["id"].as_str().cmp(&b["id"].as_str()));
    Json(json!({ "users": users, "group": DEMO_GROUP, "last_seq": last_seq(&chat.sim) }))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AskRequest {
    /// The DingTalk user id to ask as (need not be in the directory: an unknown user gets
    /// the "how to get access" card, as in DingTalk).
    user: String,
    /// `group` or `1:1`.
    conversation: String,
    text: String,
}

/// A user id as DingTalk staff ids look: short, printable, no spaces.
fn check_user(user: &str) -> Result<(), WebchatError> {
    let ok = !user.is_empty()
        && user.chars().count() <= 64
        && user
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '@'));
    if ok {
        Ok(())
    } else {
        Err(WebchatError::BadInput(
            "user must be 1 to 64 letters, digits or . _ - @".into(),
        ))
    }
}

fn check_text(text: &str) -> Result<(), WebchatError> {
    if text.trim().is_empty() {
        return Err(WebchatError::BadInput("text is empty".into()));
    }
    if text.chars().count() > MAX_TEXT_CHARS {
        return Err(WebchatError::BadInput(format!(
            "text is longer than {MAX_TEXT_CHARS} characters"
        )));
    }
    Ok(())
}

/// Reads a JSON body, turning every problem into a 400 with a sentence.
fn parse_body<T: serde::de::DeserializeOwned>(
    headers: &HeaderMap,
    body: &[u8],
) -> Result<T, WebchatError> {
    let json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("application/json"));
    if !json {
        return Err(WebchatError::BadInput(
            "expected a JSON body (content-type: application/json)".into(),
        ));
    }
    serde_json::from_slice(body).map_err(|e| WebchatError::BadInput(format!("bad request: {e}")))
}

/// `POST /webchat/api/ask`: the question as a signed DingTalk callback, through the
/// callback handler; answers with the trace and the messages the simulator received.
async fn ask(
    State(chat): State<Webchat>,
    peer: Option<Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, WebchatError> {
    let req: AskRequest = parse_body(&headers, &body)?;
    check_user(&req.user)?;
    check_text(&req.text)?;
    let group = match req.conversation.as_str() {
        "group" => true,
        "1:1" => false,
        other => {
            return Err(WebchatError::BadInput(format!(
                "conversation must be \"group\" or \"1:1\", not {other:?}"
            )));
        }
    };
    let _turn = chat.one_at_a_time.lock().await;
    let mut msg = Incoming::text(&req.user, &req.text);
    let name = chat
        .app
        .bot()
        .directory
        .lookup(&req.user)
        .map(|p| p.name.clone())
        .unwrap_or_else(|| req.user.clone());
    msg.sender_nick = name;
    let pane = if group {
        msg = msg.in_group(DEMO_GROUP);
        Pane::Group(DEMO_GROUP.into())
    } else {
        Pane::OneToOne(req.user.clone())
    };
    chat.sessions
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .insert(chat.sim.session_for(&msg.msg_id), pane.clone());
    let before = Before::take(&chat);
    let cb = chat.sim.callback(&msg, Timestamp::now());
    let mut cb_headers = HeaderMap::new();
    for (k, v) in [("timestamp", &cb.timestamp), ("sign", &cb.sign)] {
        if let Ok(v) = HeaderValue::from_str(v) {
            cb_headers.insert(k, v);
        }
    }
    cb_headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    let resp = crate::channel::http::callback(
        State(chat.app.clone()),
        peer,
        cb_headers,
        Bytes::from(cb.body.to_string()),
    )
    .await;
    let status = resp.status().as_u16();
    let record = if resp.status().is_success() {
        let id = msg.msg_id.clone();
        before
            .wait_for_record(&chat, move |r| {
                r.get("msg_id").and_then(Value::as_str) == Some(id.as_str())
            })
            .await
    } else {
        None
    };
    let explanation = chat.app.bot().resolver.explain(
        &req.text,
        &jiff::Zoned::now().with_time_zone(chat.app.bot().tz.clone()),
    );
    let trace = view::trace(
        &explanation,
        record.as_ref(),
        before.cache_delta(&chat),
        status,
    );
    Ok(Json(json!({
        "msg_id": msg.msg_id,
        "pane": pane,
        "trace": trace,
        "messages": page_messages(&chat, before.seq),
    })))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PressRequest {
    user: String,
    /// The interactive card (`outTrackId`) whose button was pressed.
    card: String,
    /// The question the button carries.
    question: String,
}

/// `POST /webchat/api/press`: a press on an interactive card's button, sent as DingTalk
/// sends card callbacks (`POST /dingtalk/card?token=…`), for cards delivered with
/// `dingtalk.card_template_id`.
async fn press(
    State(chat): State<Webchat>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, WebchatError> {
    let req: PressRequest = parse_body(&headers, &body)?;
    check_user(&req.user)?;
    check_text(&req.question)?;
    if req.card.is_empty() || req.card.len() > 128 {
        return Err(WebchatError::BadInput("card must be an outTrackId".into()));
    }
    let token = chat
        .app
        .config
        .dingtalk
        .card_callback_token
        .expose()
        .to_string();
    if token.is_empty() {
        return Err(WebchatError::Unavailable(
            "interactive cards need dingtalk.card_callback_token (and card_template_id)".into(),
        ));
    }
    let _turn = chat.one_at_a_time.lock().await;
    let before = Before::take(&chat);
    let callback = json!({
        "type": "actionCallback",
        "outTrackId": req.card,
        "corpId": "dingsimcorp",
        "userId": req.user,
        "content": json!({ "cardPrivateData": { "actionIds": ["askerp_button"], "params": { "question": req.question } } }).to_string(),
    });
    let uri: axum::http::Uri = format!(
        "/dingtalk/card?token={}",
        percent_encoding::utf8_percent_encode(&token, percent_encoding::NON_ALPHANUMERIC)
    )
    .parse()
    .map_err(|_| WebchatError::Unavailable("card callback token is not URL-safe".into()))?;
    let query = Query::try_from_uri(&uri)
        .map_err(|e| WebchatError::Unavailable(format!("card callback query: {e}")))?;
    let resp = crate::channel::http::card_callback(
        State(chat.app.clone()),
        query,
        Bytes::from(callback.to_string()),
    )
    .await;
    let status = resp.status().as_u16();
    let prefix = format!("card:{}:{}:", req.card, req.user);
    let record = if resp.status().is_success() {
        before
            .wait_for_record(&chat, move |r| {
                r.get("msg_id")
                    .and_then(Value::as_str)
                    .is_some_and(|m| m.starts_with(&prefix))
            })
            .await
    } else {
        None
    };
    // The card update is sent after the press is audited: give it a moment to arrive.
    if record.is_some() {
        let _ = chat
            .sim
            .wait_for_sent(before.count + 1, Duration::from_secs(2))
            .await;
    }
    let explanation = chat.app.bot().resolver.explain(
        &req.question,
        &jiff::Zoned::now().with_time_zone(chat.app.bot().tz.clone()),
    );
    Ok(Json(json!({
        "trace": view::trace(&explanation, record.as_ref(), before.cache_delta(&chat), status),
        "messages": page_messages(&chat, before.seq),
    })))
}

#[derive(Debug, Deserialize)]
struct MessagesQuery {
    #[serde(default)]
    after: u64,
    #[serde(default)]
    wait_ms: u64,
}

/// `GET /webchat/api/messages?after=N&wait_ms=M`: what the simulator received after `N`,
/// waiting up to `M` ms (at most 25 s) for something new.
async fn messages(State(chat): State<Webchat>, Query(q): Query<MessagesQuery>) -> Json<Value> {
    let wait = Duration::from_millis(q.wait_ms.min(25_000));
    if last_seq(&chat.sim) <= q.after && !wait.is_zero() {
        let count = chat.sim.sent().len();
        let _ = chat.sim.wait_for_sent(count + 1, wait).await;
    }
    Json(json!({ "messages": page_messages(&chat, q.after) }))
}

#[derive(Debug, Deserialize)]
struct ImageQuery {
    seq: u64,
    #[serde(default)]
    n: usize,
}

/// `GET /webchat/api/image?seq=&n=`: the bytes of the `n`-th image of message `seq`, as
/// the simulator resolved it (media store or link), so the page never fetches a picture
/// from anywhere but the demo server.
async fn image(
    State(chat): State<Webchat>,
    Query(q): Query<ImageQuery>,
) -> Result<Response, WebchatError> {
    let image = chat
        .sim
        .images()
        .into_iter()
        .filter(|i| i.seq == q.seq)
        .nth(q.n)
        .ok_or_else(|| WebchatError::NotFound("no such image".into()))?;
    let kind = if image.bytes.starts_with(b"\x89PNG") {
        "image/png"
    } else if image.bytes.starts_with(&[0xff, 0xd8, 0xff]) {
        "image/jpeg"
    } else if image.bytes.starts_with(b"GIF8") {
        "image/gif"
    } else {
        "application/octet-stream"
    };
    Ok(([(header::CONTENT_TYPE, kind)], image.bytes).into_response())
}

/// The simulator's messages after `after`, placed in their panes.
fn page_messages(chat: &Webchat, after: u64) -> Vec<view::PageMessage> {
    let sessions = chat
        .sessions
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clone();
    let images = chat.sim.images();
    chat.sim
        .sent()
        .iter()
        .filter(|s| s.seq > after)
        .flat_map(|s| view::page_message(s, &sessions, &images))
        .collect()
}

/// The sequence number of the newest recorded message (0 when none).
fn last_seq(sim: &Simulator) -> u64 {
    sim.sent().last().map(|s| s.seq).unwrap_or(0)
}

/// What was true before a question was sent: the last recorded message, the cache
/// counters, and where the audit file ended.
struct Before {
    seq: u64,
    /// How many messages were recorded.
    count: usize,
    hits: u64,
    misses: u64,
    audit_offset: u64,
}

impl Before {
    fn take(chat: &Webchat) -> Before {
        let stats = chat.app.bot().erp.stats();
        Before {
            seq: last_seq(&chat.sim),
            count: chat.sim.sent().len(),
            hits: stats.hits.load(Ordering::Relaxed),
            misses: stats.misses.load(Ordering::Relaxed),
            audit_offset: audit_file(chat)
                .and_then(|p| std::fs::metadata(p).ok())
                .map(|m| m.len())
                .unwrap_or(0),
        }
    }

    fn cache_delta(&self, chat: &Webchat) -> view::CacheDelta {
        let stats = chat.app.bot().erp.stats();
        view::CacheDelta {
            hits: stats.hits.load(Ordering::Relaxed).saturating_sub(self.hits),
            misses: stats
                .misses
                .load(Ordering::Relaxed)
                .saturating_sub(self.misses),
        }
    }

    /// Waits for the audit record `wanted` picks, written after the file's old end. With
    /// another sink (stdout, PostgreSQL) the record cannot be read back: waits until the
    /// answer task is done and returns `None`.
    async fn wait_for_record(
        &self,
        chat: &Webchat,
        wanted: impl Fn(&Value) -> bool,
    ) -> Option<Value> {
        let deadline = tokio::time::Instant::now() + ANSWER_WAIT;
        let Some(path) = audit_file(chat) else {
            while !chat.app.tasks.is_empty() && tokio::time::Instant::now() < deadline {
                tokio::time::sleep(Duration::from_millis(25)).await;
            }
            return None;
        };
        loop {
            if let Some(r) = read_records_from(&path, self.audit_offset)
                .into_iter()
                .find(|r| wanted(r))
            {
                return Some(r);
            }
            if tokio::time::Instant::now() >= deadline {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }
}

/// The audit file, when the audit goes to a file.
fn audit_file(chat: &Webchat) -> Option<PathBuf> {
    (chat.app.config.audit.sink == AuditSink::File).then(|| chat.app.audit.path().to_path_buf())
}

/// The records written at or after byte `offset` (the whole file if it is now shorter,
/// i.e. it was rotated).
fn read_records_from(path: &std::path::Path, offset: u64) -> Vec<Value> {
    let Ok(mut file) = std::fs::File::open(path) else {
        return Vec::new();
    };
    let len = file.metadata().map(|m| m.len()).unwrap_or(0);
    let start = if len >= offset { offset } else { 0 };
    if file.seek(std::io::SeekFrom::Start(start)).is_err() {
        return Vec::new();
    }
    std::io::BufReader::new(file)
        .lines()
        .map_while(Result::ok)
        .filter_map(|l| serde_json::from_str(&l).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_ids_and_texts_are_checked() {
        assert!(check_user("demo.staff").is_ok());
        assert!(check_user("").is_err());
        assert!(check_user("a b").is_err());
        assert!(check_user("<script>").is_err());
        assert!(check_user(&"x".repeat(65)).is_err());
        assert!(check_text("  ").is_err());
        assert!(check_text(&"字".repeat(MAX_TEXT_CHARS + 1)).is_err());
        assert!(check_text("how many iPhone 15 Pro 256GB in stock?").is_ok());
    }

    #[test]
    fn every_language_has_every_label() {
        let labels: Value = serde_json::from_str(LABELS_JSON).unwrap_or(Value::Null);
        let langs = ["en", "zh-HK", "zh-CN", "ms", "vi"];
        let keys = |lang: &str| -> Vec<String> {
            let mut k: Vec<String> = labels[lang]
                .as_object()
                .map(|o| o.keys().cloned().collect())
                .unwrap_or_default();
            k.sort();
            k
        };
        let en = keys("en");
        assert!(en.len() > 20, "labels.json has an English section");
        for lang in langs {
            assert_eq!(keys(lang), en, "labels of {lang} differ from English");
            for k in &en {
                let v = labels[lang][k].as_str().unwrap_or_default();
                assert!(!v.trim().is_empty(), "{lang}.{k} is empty");
            }
        }
        assert_eq!(
            labels.as_object().map(|o| o.len()),
            Some(langs.len()),
            "labels.json has exactly the five UI languages"
        );
    }
}
