//! DingTalk Stream mode: askerp keeps an outbound WebSocket to DingTalk's gateway and
//! receives robot messages and card callbacks as frames, so no public endpoint is needed.
//!
//! The life of a connection:
//!
//! 1. `POST {api_base}/v1.0/gateway/connections/open` with the app's credentials and the
//!    subscribed topics returns an `endpoint` and a single-use `ticket` (valid 90 s), so a
//!    new one is fetched for every connection, never reused.
//! 2. The socket `endpoint?ticket=…` delivers JSON text frames (`SYSTEM`, `CALLBACK`,
//!    `EVENT`); every frame is acknowledged on the socket it came from, with its
//!    `messageId`. `ping` is answered by echoing its data. A bot message is acknowledged at
//!    once and answered in a task; a card callback's ACK carries the card update.
//! 3. `disconnect` announces that the gateway will close the socket: askerp opens the next
//!    connection at once and keeps reading the old one for `stream_drain_secs`.
//! 4. A socket that stays silent after a WebSocket ping is dead and is replaced. Failed
//!    connections are retried with jittered exponential backoff up to
//!    `stream_backoff_max_secs`; the delay resets once a connection delivers a frame.
//!
//! The gateway may re-push a frame whose ACK it missed (with a new `messageId` but the same
//! bot `msgId`), so bot messages are deduped by the handler, and an exact re-push of a
//! `messageId` gets the ACK it got before.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hasher};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use futures_util::{SinkExt, StreamExt};
use moka::future::Cache;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio::sync::{Semaphore, mpsc, oneshot};
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_util::sync::CancellationToken;

use super::cards::CARD_CALLBACK_TOPIC;
use crate::config::{DingTalkConfig, Secret};
use crate::telemetry::Metrics;

/// The topic of robot messages.
pub const BOT_MESSAGE_TOPIC: &str = "/v1.0/im/bot/messages/get";

/// How many frames are worked on at once; beyond that frames are left un-ACKed so the
/// gateway pushes them again later, rather than queueing without bound.
const MAX_IN_FLIGHT: usize = 100;

/// Why the gateway could not be reached.
#[derive(Debug, thiserror::Error)]
pub enum StreamError {
    #[error("connections/open answered HTTP {status}: {body}")]
    Open { status: u16, body: String },
    #[error("connections/open failed: {0}")]
    OpenTransport(String),
    #[error("connections/open returned no endpoint or ticket")]
    NoTicket,
    #[error("WebSocket connection failed: {0}")]
    Connect(String),
    #[error("WebSocket connection timed out")]
    ConnectTimeout,
}

/// A frame from the gateway. Header values are strings; anything else is ignored.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Frame {
    #[serde(default)]
    pub spec_version: Option<String>,
    #[serde(rename = "type", default)]
    pub kind: String,
    #[serde(default)]
    pub headers: HashMap<String, Value>,
    /// A JSON document encoded as a string.
    #[serde(default)]
    pub data: Value,
}

impl Frame {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(Value::as_str)
    }

    /// `data` as text (it is a string on the wire; an object is re-encoded).
    pub fn data_text(&self) -> String {
        match &self.data {
            Value::String(s) => s.clone(),
            Value::Null => String::new(),
            v => v.to_string(),
        }
    }
}

/// What a handler answers for a frame: the ACK code, message and the `response` value
/// (`data` becomes `{"response": …}` encoded as a string).
#[derive(Debug, Clone, PartialEq)]
pub struct AckReply {
    pub code: u16,
    pub message: String,
    pub response: Value,
}

impl AckReply {
    pub fn ok(response: Value) -> AckReply {
        AckReply {
            code: 200,
            message: "OK".into(),
            response,
        }
    }

    pub fn error(code: u16, message: &str) -> AckReply {
        AckReply {
            code,
            message: message.into(),
            response: Value::Null,
        }
    }
}

/// What askerp does with the frames it subscribed to.
#[async_trait]
pub trait StreamHandler: Send + Sync + 'static {
    /// A robot message (`data` as received). Must return quickly: the ACK waits for it.
    async fn bot_message(&self, data: &str) -> AckReply;
    /// A card button press; the reply's `response` updates the card.
    async fn card_callback(&self, data: &str) -> AckReply;
}

/// The ACK frame.
fn ack_frame(message_id: &str, code: u16, message: &str, data: String) -> String {
    json!({
        "code": code,
        "headers": { "messageId": message_id, "contentType": "application/json" },
        "message": message,
        "data": data,
    })
    .to_string()
}

/// Timing and limits of the Stream connection.
#[derive(Debug, Clone)]
pub struct StreamSettings {
    pub api_base: String,
    pub client_id: String,
    pub client_secret: Secret,
    pub idle_ping: Duration,
    pub pong_timeout: Duration,
    pub backoff_initial: Duration,
    pub backoff_max: Duration,
    pub drain: Duration,
    pub max_frame_bytes: usize,
    pub open_timeout: Duration,
}

impl StreamSettings {
    pub fn from_config(c: &DingTalkConfig) -> StreamSettings {
        // Clamped so that no configured value can overflow a deadline.
        const DAY: u64 = 86_400;
        StreamSettings {
            api_base: c.api_base.trim_end_matches('/').to_string(),
            client_id: c.app_key.clone(),
            client_secret: c.app_secret.clone(),
            idle_ping: Duration::from_secs(c.stream_idle_ping_secs.clamp(1, DAY)),
            pong_timeout: Duration::from_secs(c.stream_pong_timeout_secs.clamp(1, DAY)),
            backoff_initial: Duration::from_millis(
                c.stream_backoff_initial_ms.clamp(1, DAY * 1000),
            ),
            backoff_max: Duration::from_secs(c.stream_backoff_max_secs.clamp(1, DAY)),
            drain: Duration::from_secs(c.stream_drain_secs.min(DAY)),
            max_frame_bytes: c.stream_max_frame_bytes.max(1024),
            open_timeout: Duration::from_secs(c.request_timeout_secs.clamp(1, 10)),
        }
    }
}

/// The reconnect delay before attempt `attempt` (0 = first retry): `initial · 2^attempt`
/// capped at `max`, of which the upper half is random ("equal jitter"), so replicas that
/// lost the gateway together do not come back in lockstep.
pub fn backoff(attempt: u32, initial: Duration, max: Duration, unit_random: f64) -> Duration {
    let full = initial
        .saturating_mul(2u32.saturating_pow(attempt.min(30)))
        .min(max);
    let r = unit_random.clamp(0.0, 1.0);
    full / 2 + (full / 2).mul_f64(r)
}

/// A random number in `[0, 1)` from the standard library's per-process random hasher keys.
fn unit_random() -> f64 {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    (h.finish() >> 11) as f64 / (1u64 << 53) as f64
}

/// How one connection ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum End {
    /// The gateway closed the socket (or the TCP connection broke).
    Closed,
    /// No answer to a ping within the timeout.
    Dead,
    /// Shutdown was requested.
    Shutdown,
    /// The drain period after a `disconnect` is over.
    Drained,
}

/// The Stream client. Runs until the cancellation token fires.
pub struct StreamClient {
    http: reqwest::Client,
    settings: StreamSettings,
    metrics: Arc<Metrics>,
    /// ACKs already sent, by `messageId`, for exact re-pushes (five minutes, like the
    /// official SDK).
    acks: Cache<String, String>,
    in_flight: Arc<Semaphore>,
}

impl StreamClient {
    pub fn new(
        http: reqwest::Client,
        settings: StreamSettings,
        metrics: Arc<Metrics>,
    ) -> StreamClient {
        StreamClient {
            http,
            settings,
            metrics,
            acks: Cache::builder()
                .max_capacity(10_000)
                .time_to_live(Duration::from_secs(300))
                .build(),
            in_flight: Arc::new(Semaphore::new(MAX_IN_FLIGHT)),
        }
    }

    /// Registers and returns the WebSocket URL with a fresh ticket.
    #[tracing::instrument(name = "stream_open", skip_all)]
    pub async fn open(&self) -> Result<String, StreamError> {
        let body = json!({
            "clientId": self.settings.client_id,
            "clientSecret": self.settings.client_secret.expose(),
            "subscriptions": [
                { "type": "CALLBACK", "topic": BOT_MESSAGE_TOPIC },
                { "type": "CALLBACK", "topic": CARD_CALLBACK_TOPIC },
            ],
            "ua": concat!("askerp/", env!("CARGO_PKG_VERSION")),
        });
        let resp = self
            .http
            .post(format!(
                "{}/v1.0/gateway/connections/open",
                self.settings.api_base
            ))
            .header("accept", "application/json")
            .timeout(self.settings.open_timeout)
            .json(&body)
            .send()
            .await
            .map_err(|e| StreamError::OpenTransport(e.without_url().to_string()))?;
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap_or_default();
        if !(200..300).contains(&status) {
            return Err(StreamError::Open {
                status,
                body: text.chars().take(200).collect(),
            });
        }
        let v: Value = serde_json::from_str(&text).map_err(|_| StreamError::NoTicket)?;
        let endpoint = v.get("endpoint").and_then(Value::as_str).unwrap_or("");
        let ticket = v.get("ticket").and_then(Value::as_str).unwrap_or("");
        if endpoint.is_empty() || ticket.is_empty() {
            return Err(StreamError::NoTicket);
        }
        let ticket: String =
            url::form_urlencoded::byte_serialize(ticket.as_bytes()).collect::<String>();
        let sep = if endpoint.contains('?') { '&' } else { '?' };
        Ok(format!("{endpoint}{sep}ticket={ticket}"))
    }

    /// Keeps a connection to the gateway until `shutdown` fires.
    pub async fn run(
        self: Arc<Self>,
        handler: Arc<dyn StreamHandler>,
        shutdown: CancellationToken,
    ) {
        let mut attempt: u32 = 0;
        loop {
            if shutdown.is_cancelled() {
                return;
            }
            let ws = match self.connect().await {
                Ok(ws) => ws,
                Err(e) => {
                    self.metrics.count("stream_connect_failures");
                    let wait = backoff(
                        attempt,
                        self.settings.backoff_initial,
                        self.settings.backoff_max,
                        unit_random(),
                    );
                    tracing::warn!(error = %e, attempt, wait_ms = wait.as_millis() as u64, "Stream connection failed; retrying.");
                    attempt = attempt.saturating_add(1);
                    tokio::select! {
                        () = tokio::time::sleep(wait) => continue,
                        () = shutdown.cancelled() => return,
                    }
                }
            };
            self.metrics.count("stream_connections");
            tracing::info!("Stream connection open.");
            let (rotate_tx, mut rotate_rx) = oneshot::channel();
            let got_frame = Arc::new(std::sync::atomic::AtomicBool::new(false));
            let mut conn = tokio::spawn(Arc::clone(&self).serve_socket(
                ws,
                Arc::clone(&handler),
                rotate_tx,
                shutdown.clone(),
                Arc::clone(&got_frame),
            ));
            tokio::select! {
                Ok(()) = &mut rotate_rx => {
                    // The old socket keeps draining in its task; connect again now.
                    self.metrics.count("stream_rotations");
                    attempt = 0;
                    continue;
                }
                end = &mut conn => {
                    let end = end.unwrap_or(End::Closed);
                    if end == End::Shutdown || shutdown.is_cancelled() {
                        return;
                    }
                    if got_frame.load(Ordering::Relaxed) {
                        attempt = 0;
                    }
                    if end == End::Dead {
                        self.metrics.count("stream_dead_sockets");
                    }
                    let wait = backoff(attempt, self.settings.backoff_initial, self.settings.backoff_max, unit_random());
                    tracing::warn!(?end, wait_ms = wait.as_millis() as u64, "Stream connection lost; reconnecting.");
                    attempt = attempt.saturating_add(1);
                    tokio::select! {
                        () = tokio::time::sleep(wait) => {}
                        () = shutdown.cancelled() => return,
                    }
                }
            }
        }
    }

    async fn connect(
        &self,
    ) -> Result<
        tokio_tungstenite::WebSocketStream<
            tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
        >,
        StreamError,
    > {
        let url = self.open().await?;
        // Larger than our own frame limit, so an oversized frame is dropped by askerp
        // (and the connection kept) rather than failing the whole socket.
        let limit = self
            .settings
            .max_frame_bytes
            .saturating_mul(16)
            .max(4 << 20);
        let config = WebSocketConfig::default()
            .max_message_size(Some(limit))
            .max_frame_size(Some(limit));
        let connecting =
            tokio_tungstenite::connect_async_with_config(url.as_str(), Some(config), false);
        match tokio::time::timeout(self.settings.open_timeout, connecting).await {
            Ok(Ok((ws, _))) => Ok(ws),
            // The error text can contain the URL with its ticket: keep only the kind.
            Ok(Err(e)) => Err(StreamError::Connect(error_kind(&e))),
            Err(_) => Err(StreamError::ConnectTimeout),
        }
    }

    /// Reads one socket until it closes, dies, drains or shutdown; ACKs go back on the
    /// same socket through its own writer task.
    async fn serve_socket(
        self: Arc<Self>,
        ws: tokio_tungstenite::WebSocketStream<
            tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
        >,
        handler: Arc<dyn StreamHandler>,
        rotate: oneshot::Sender<()>,
        shutdown: CancellationToken,
        got_frame: Arc<std::sync::atomic::AtomicBool>,
    ) -> End {
        let (mut sink, mut source) = ws.split();
        let (tx, mut rx) = mpsc::channel::<Message>(256);
        tokio::spawn(async move {
            while let Some(m) = rx.recv().await {
                if sink.send(m).await.is_err() {
                    break;
                }
            }
            let _ = sink.close().await;
        });
        let mut rotate = Some(rotate);
        let mut last_rx = Instant::now();
        let mut ping_sent: Option<Instant> = None;
        let mut drain_until: Option<Instant> = None;
        loop {
            let liveness = match ping_sent {
                Some(at) => at + self.settings.pong_timeout,
                None => last_rx + self.settings.idle_ping,
            };
            let deadline = drain_until.map_or(liveness, |d| d.min(liveness));
            let next = tokio::select! {
                () = shutdown.cancelled(), if drain_until.is_none() => {
                    let _ = tx.send(Message::Close(None)).await;
                    return End::Shutdown;
                }
                r = tokio::time::timeout_at(deadline, source.next()) => r,
            };
            let now = Instant::now();
            match next {
                Err(_) => {
                    if drain_until.is_some_and(|d| now >= d) {
                        let _ = tx.send(Message::Close(None)).await;
                        return End::Drained;
                    }
                    if ping_sent.is_some() {
                        tracing::warn!("Stream socket silent after a ping; replacing it.");
                        return End::Dead;
                    }
                    let _ = tx.send(Message::Ping(Vec::new().into())).await;
                    ping_sent = Some(now);
                }
                Ok(None) | Ok(Some(Err(_))) => return End::Closed,
                Ok(Some(Ok(msg))) => {
                    last_rx = now;
                    ping_sent = None;
                    match msg {
                        Message::Text(text) => {
                            got_frame.store(true, Ordering::Relaxed);
                            if let Some(announced) =
                                self.on_text(text.as_str(), &tx, &handler).await
                                && announced
                            {
                                if let Some(r) = rotate.take() {
                                    let _ = r.send(());
                                }
                                drain_until = Some(now + self.settings.drain);
                            }
                        }
                        Message::Close(_) => return End::Closed,
                        // WebSocket pings are answered by the library; binary frames
                        // are not part of the protocol.
                        _ => {}
                    }
                }
            }
        }
    }

    /// Handles one text frame. Returns `Some(true)` for a `disconnect` announcement.
    async fn on_text(
        &self,
        text: &str,
        tx: &mpsc::Sender<Message>,
        handler: &Arc<dyn StreamHandler>,
    ) -> Option<bool> {
        if text.len() > self.settings.max_frame_bytes {
            self.metrics.count("stream_frames_oversized");
            tracing::warn!(bytes = text.len(), "Stream frame too large; dropped.");
            return None;
        }
        let frame: Frame = match serde_json::from_str(text) {
            Ok(f) => f,
            Err(e) => {
                self.metrics.count("stream_frames_malformed");
                tracing::warn!(error = %e, "Stream frame is not JSON; dropped.");
                return None;
            }
        };
        self.metrics.count("stream_frames");
        let message_id = frame.header("messageId").unwrap_or_default().to_string();
        let topic = frame.header("topic").unwrap_or_default().to_string();
        match frame.kind.as_str() {
            "SYSTEM" => {
                // ping: echo the data. disconnect and unknown SYSTEM topics: acknowledge
                // too (never an error that could close the link).
                let ack = ack_frame(&message_id, 200, "OK", frame.data_text());
                let _ = tx.send(Message::Text(ack.into())).await;
                if topic == "disconnect" {
                    tracing::info!("Stream gateway announced a disconnect; connecting again.");
                    return Some(true);
                }
            }
            "CALLBACK" => {
                if let Some(ack) = self.acks.get(&message_id).await {
                    self.metrics.count("stream_acks_replayed");
                    let _ = tx.send(Message::Text(ack.into())).await;
                    return None;
                }
                let Ok(permit) = Arc::clone(&self.in_flight).try_acquire_owned() else {
                    // Saturated: leave it un-ACKed so the gateway pushes it again.
                    self.metrics.count("stream_frames_deferred");
                    return None;
                };
                let handler = Arc::clone(handler);
                let tx = tx.clone();
                let acks = self.acks.clone();
                let data = frame.data_text();
                tokio::spawn(async move {
                    let reply = match topic.as_str() {
                        BOT_MESSAGE_TOPIC => handler.bot_message(&data).await,
                        CARD_CALLBACK_TOPIC => handler.card_callback(&data).await,
                        _ => AckReply::error(404, "topic not handled"),
                    };
                    let ack = ack_frame(
                        &message_id,
                        reply.code,
                        &reply.message,
                        json!({ "response": reply.response }).to_string(),
                    );
                    if !message_id.is_empty() {
                        acks.insert(message_id, ack.clone()).await;
                    }
                    let _ = tx.send(Message::Text(ack.into())).await;
                    drop(permit);
                });
            }
            "EVENT" => {
                let data = json!({ "status": "SUCCESS", "message": "OK" }).to_string();
                let ack = ack_frame(&message_id, 200, "OK", data);
                let _ = tx.send(Message::Text(ack.into())).await;
            }
            _ => {
                self.metrics.count("stream_frames_malformed");
            }
        }
        None
    }
}

/// A connection error without anything that could carry the ticket.
fn error_kind(e: &tokio_tungstenite::tungstenite::Error) -> String {
    use tokio_tungstenite::tungstenite::Error as E;
    match e {
        E::Http(resp) => format!("gateway answered HTTP {}", resp.status().as_u16()),
        E::Io(io) => format!("I/O: {}", io.kind()),
        E::Tls(_) => "TLS error".into(),
        E::Url(_) => "bad endpoint URL".into(),
        _ => "protocol error".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_with_jitter_and_is_capped() {
        let (i, m) = (Duration::from_secs(1), Duration::from_secs(60));
        assert_eq!(backoff(0, i, m, 0.0), Duration::from_millis(500));
        assert_eq!(backoff(0, i, m, 1.0), Duration::from_secs(1));
        assert_eq!(backoff(3, i, m, 0.0), Duration::from_secs(4));
        for attempt in [6, 7, 20, 1000] {
            for r in [0.0, 0.5, 0.999] {
                let d = backoff(attempt, i, m, r);
                assert!(d <= m && d >= m / 2, "{attempt} {r}: {d:?}");
            }
        }
        let a = unit_random();
        assert!((0.0..1.0).contains(&a));
    }

    #[test]
    fn acks_echo_the_message_id() {
        let a: Value =
            serde_json::from_str(&ack_frame("m-1", 200, "OK", "{\"opaque\":\"x\"}".into()))
                .unwrap_or_default();
        assert_eq!(a["headers"]["messageId"], "m-1");
        assert_eq!(a["headers"]["contentType"], "application/json");
        assert_eq!(a["data"], "{\"opaque\":\"x\"}");
    }
}
