//! The simulator's Stream gateway: `POST /v1.0/gateway/connections/open` hands out a
//! single-use ticket (90 s) and a `ws://127.0.0.1:…/connect` endpoint; the WebSocket
//! accepts only a valid, unused ticket, pushes robot messages and card callbacks as
//! `CALLBACK` frames, `ping` and `disconnect` as `SYSTEM` frames, records every ACK, and
//! pushes a frame again (new `messageId`, same `msgId`) when its ACK does not arrive in
//! time, as DingTalk does.
//!
//! Faults for tests: failing `connections/open` ([`super::sim::Endpoint::GatewayOpen`]),
//! dropped sockets, sockets that go silent (no pongs, no frames), lost ACKs, and raw
//! (malformed or oversized) frames.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use futures_util::{SinkExt, StreamExt};
use jiff::Timestamp;
use serde_json::{Value, json};
use tokio::sync::{Notify, mpsc};
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::handshake::server::{
    ErrorResponse, Request, Response as WsResponse,
};
use tokio_util::sync::CancellationToken;

use super::cards::CARD_CALLBACK_TOPIC;
use super::sim::{Endpoint, Incoming, Simulator};
use super::stream::BOT_MESSAGE_TOPIC;

/// How long a ticket may wait before it is used.
const TICKET_LIFE: Duration = Duration::from_secs(90);

struct Conn {
    id: u64,
    tx: mpsc::UnboundedSender<Message>,
    /// Silent: reads and writes nothing (a dead peer behind an open TCP connection).
    frozen: Arc<AtomicBool>,
    /// Told to go away (a `disconnect` was sent): gets no new pushes.
    leaving: Arc<AtomicBool>,
    close: CancellationToken,
}

/// The gateway's state, part of the simulator's.
#[derive(Default)]
pub struct GatewayState {
    ws_url: std::sync::Mutex<Option<String>>,
    tickets: std::sync::Mutex<HashMap<String, Instant>>,
    opens: std::sync::Mutex<Vec<Value>>,
    conns: std::sync::Mutex<Vec<Conn>>,
    accepted: AtomicU64,
    refused_tickets: AtomicU64,
    seq: AtomicU64,
    acks: std::sync::Mutex<Vec<Value>>,
    lose_acks: AtomicU64,
    /// Redelivery delay after a missing ACK, in ms (0 = 60 s, DingTalk's).
    redeliver_ms: AtomicU64,
    /// How long after a `disconnect` the gateway closes the socket, in ms (0 = 10 s).
    disconnect_grace_ms: AtomicU64,
    notify: Notify,
}

impl std::fmt::Debug for GatewayState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GatewayState").finish_non_exhaustive()
    }
}

fn now_ms() -> String {
    Timestamp::now().as_millisecond().to_string()
}

impl Simulator {
    fn gw(&self) -> &GatewayState {
        &self.state.gateway
    }

    /// Starts the WebSocket side of the gateway on a loopback port.
    pub async fn start_gateway(&self) -> std::io::Result<String> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("ws://{}/connect", listener.local_addr()?);
        if let Ok(mut u) = self.gw().ws_url.lock() {
            *u = Some(url.clone());
        }
        let sim = self.clone();
        tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                tokio::spawn(sim.clone().serve_socket(tcp));
            }
        });
        Ok(url)
    }

    /// Redeliver a pushed frame after `after` without an ACK (DingTalk: about 60 s).
    pub fn set_redelivery_after(&self, after: Duration) {
        self.gw()
            .redeliver_ms
            .store(after.as_millis().max(1) as u64, Ordering::Relaxed);
    }

    /// Close a socket `grace` after announcing `disconnect` on it (DingTalk: about 10 s).
    pub fn set_disconnect_grace(&self, grace: Duration) {
        self.gw()
            .disconnect_grace_ms
            .store(grace.as_millis().max(1) as u64, Ordering::Relaxed);
    }

    /// Every `connections/open` request body received (the secret included), oldest first.
    pub fn gateway_opens(&self) -> Vec<Value> {
        self.gw()
            .opens
            .lock()
            .map(|o| o.clone())
            .unwrap_or_default()
    }

    /// WebSocket connections accepted so far (with a valid ticket).
    pub fn stream_connects(&self) -> u64 {
        self.gw().accepted.load(Ordering::Relaxed)
    }

    /// WebSocket connection attempts refused for a missing, used or expired ticket.
    pub fn refused_tickets(&self) -> u64 {
        self.gw().refused_tickets.load(Ordering::Relaxed)
    }

    /// Live connections that still get pushes.
    pub fn stream_connections(&self) -> usize {
        self.gw()
            .conns
            .lock()
            .map(|c| {
                c.iter()
                    .filter(|c| {
                        !c.frozen.load(Ordering::Relaxed) && !c.leaving.load(Ordering::Relaxed)
                    })
                    .count()
            })
            .unwrap_or(0)
    }

    /// Waits until `total` connections have been accepted in all and one is live.
    pub async fn wait_for_stream_connects(&self, total: u64, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            let notified = self.gw().notify.notified();
            if self.stream_connects() >= total && self.stream_connections() > 0 {
                return true;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return self.stream_connects() >= total && self.stream_connections() > 0;
            }
        }
    }

    /// Every ACK received, oldest first.
    pub fn acks(&self) -> Vec<Value> {
        self.gw().acks.lock().map(|a| a.clone()).unwrap_or_default()
    }

    /// The ACK of `message_id`, waiting up to `timeout` for it.
    pub async fn wait_for_ack(&self, message_id: &str, timeout: Duration) -> Option<Value> {
        let deadline = Instant::now() + timeout;
        loop {
            let notified = self.gw().notify.notified();
            let found = self.acks().into_iter().find(|a| {
                a.pointer("/headers/messageId").and_then(Value::as_str) == Some(message_id)
            });
            if found.is_some() {
                return found;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return None;
            }
        }
    }

    /// The next `n` ACKs of pushed messages are lost on the way (so they are pushed again).
    pub fn lose_next_acks(&self, n: u64) {
        self.gw().lose_acks.store(n, Ordering::Relaxed);
    }

    /// Pushes a robot message to one live connection; returns the frame's `messageId`.
    /// Without an ACK it is pushed again (to a live connection) with a new `messageId`.
    pub fn push_message(&self, msg: &Incoming) -> String {
        let body = self.callback(msg, Timestamp::now()).body;
        self.push_callback(BOT_MESSAGE_TOPIC, body.to_string(), 3)
    }

    /// Pushes the same robot message (one `msgId`) to every live connection, each in its
    /// own frame — what two replicas see when DingTalk delivers a message again to
    /// another connection of the app. Returns the frames' `messageId`s.
    pub fn push_message_to_each(&self, msg: &Incoming) -> Vec<String> {
        let body = self.callback(msg, Timestamp::now()).body.to_string();
        let Ok(conns) = self.gw().conns.lock() else {
            return Vec::new();
        };
        let mut ids = Vec::new();
        for c in conns
            .iter()
            .filter(|c| !c.frozen.load(Ordering::Relaxed) && !c.leaving.load(Ordering::Relaxed))
        {
            let id = self.next_id("cb");
            let frame = json!({ "specVersion": "1.0", "type": "CALLBACK",
                "headers": { "appId": "sim-app", "contentType": "application/json", "messageId": id,
                             "time": now_ms(), "topic": BOT_MESSAGE_TOPIC },
                "data": body });
            if c.tx.send(Message::Text(frame.to_string().into())).is_ok() {
                ids.push(id);
            }
        }
        ids
    }

    /// Pushes a card button press (as `user`, in `space_type`/`space_id`) asking
    /// `question`; returns the frame's `messageId`.
    pub fn push_card_press(
        &self,
        out_track_id: &str,
        user: &str,
        space_type: &str,
        space_id: &str,
        question: &str,
    ) -> String {
        let content = json!({ "cardPrivateData": { "actionIds": ["btn"], "params": { "question": question } } });
        let data = json!({
            "type": "actionCallback", "outTrackId": out_track_id, "corpId": "dingsimcorp",
            "userId": user, "userIdType": 1, "spaceType": space_type, "spaceId": space_id,
            "content": content.to_string(), "extension": "{}",
        });
        self.push_callback(CARD_CALLBACK_TOPIC, data.to_string(), 0)
    }

    /// Sends a `ping`; returns its `messageId` (its `opaque` is the same text).
    pub fn push_ping(&self) -> String {
        let id = self.next_id("ping");
        let frame = json!({ "specVersion": "1.0", "type": "SYSTEM",
            "headers": { "topic": "ping", "messageId": id, "contentType": "application/json", "time": now_ms() },
            "data": json!({ "opaque": id }).to_string() });
        self.send_to_one(Message::Text(frame.to_string().into()));
        id
    }

    /// Sends raw text to one live connection (malformed or oversized frames).
    pub fn push_raw(&self, text: &str) {
        self.send_to_one(Message::Text(text.to_string().into()));
    }

    /// Announces `disconnect` on every live connection and closes each after the grace.
    pub fn announce_disconnect(&self) {
        let grace = match self.gw().disconnect_grace_ms.load(Ordering::Relaxed) {
            0 => Duration::from_secs(10),
            ms => Duration::from_millis(ms),
        };
        let Ok(conns) = self.gw().conns.lock() else {
            return;
        };
        for c in conns.iter().filter(|c| !c.leaving.load(Ordering::Relaxed)) {
            let id = self.next_id("disconnect");
            let frame = json!({ "specVersion": "1.0", "type": "SYSTEM",
                "headers": { "topic": "disconnect", "messageId": id, "contentType": "application/json", "time": now_ms() },
                "data": json!({ "reason": "connection is expired" }).to_string() });
            let _ = c.tx.send(Message::Text(frame.to_string().into()));
            c.leaving.store(true, Ordering::Relaxed);
            let close = c.close.clone();
            tokio::spawn(async move {
                tokio::time::sleep(grace).await;
                close.cancel();
            });
        }
    }

    /// Drops every connection at once, without a close handshake.
    pub fn drop_stream_connections(&self) {
        if let Ok(conns) = self.gw().conns.lock() {
            for c in conns.iter() {
                c.close.cancel();
            }
        }
    }

    /// Makes every current connection go silent: nothing is read or written any more
    /// (no pongs, no frames), while the TCP connection stays open.
    pub fn freeze_stream_connections(&self) {
        if let Ok(conns) = self.gw().conns.lock() {
            for c in conns.iter() {
                c.frozen.store(true, Ordering::Relaxed);
                // Wakes the socket task so it notices.
                let _ = c.tx.send(Message::Pong(Vec::new().into()));
            }
        }
    }

    fn next_id(&self, kind: &str) -> String {
        let n = self.gw().seq.fetch_add(1, Ordering::Relaxed) + 1;
        format!("sim-{kind}-{n:06}")
    }

    /// Sends to the newest live connection; false when there is none.
    fn send_to_one(&self, msg: Message) -> bool {
        let Ok(conns) = self.gw().conns.lock() else {
            return false;
        };
        conns
            .iter()
            .rev()
            .find(|c| !c.frozen.load(Ordering::Relaxed) && !c.leaving.load(Ordering::Relaxed))
            .is_some_and(|c| c.tx.send(msg).is_ok())
    }

    fn push_callback(&self, topic: &str, data: String, redeliveries: u32) -> String {
        let id = self.next_id("cb");
        let frame = json!({ "specVersion": "1.0", "type": "CALLBACK",
            "headers": { "appId": "sim-app", "contentType": "application/json", "messageId": id,
                         "time": now_ms(), "topic": topic },
            "data": data });
        self.send_to_one(Message::Text(frame.to_string().into()));
        if redeliveries > 0 {
            let sim = self.clone();
            let topic = topic.to_string();
            let first = id.clone();
            tokio::spawn(async move {
                let after = match sim.gw().redeliver_ms.load(Ordering::Relaxed) {
                    0 => Duration::from_secs(60),
                    ms => Duration::from_millis(ms),
                };
                if sim.wait_for_ack(&first, after).await.is_none() {
                    sim.push_callback(&topic, data, redeliveries - 1);
                }
            });
        }
        id
    }

    async fn serve_socket(self, tcp: tokio::net::TcpStream) {
        let sim = self.clone();
        // The signature is tungstenite's handshake callback; its error type is its own.
        #[allow(clippy::result_large_err)]
        let check = move |req: &Request, resp: WsResponse| -> Result<WsResponse, ErrorResponse> {
            let ticket = req.uri().query().and_then(|q| {
                url::form_urlencoded::parse(q.as_bytes())
                    .find(|(k, _)| k == "ticket")
                    .map(|(_, v)| v.into_owned())
            });
            let valid = ticket.is_some_and(|t| {
                sim.gw()
                    .tickets
                    .lock()
                    .ok()
                    .and_then(|mut ts| ts.remove(&t))
                    .is_some_and(|issued| issued.elapsed() < TICKET_LIFE)
            });
            if valid {
                Ok(resp)
            } else {
                sim.gw().refused_tickets.fetch_add(1, Ordering::Relaxed);
                let mut refuse = ErrorResponse::new(Some("invalid ticket".into()));
                *refuse.status_mut() = StatusCode::UNAUTHORIZED;
                Err(refuse)
            }
        };
        let Ok(ws) = tokio_tungstenite::accept_hdr_async(tcp, check).await else {
            return;
        };
        let (mut sink, mut source) = ws.split();
        let (tx, mut rx) = mpsc::unbounded_channel();
        let id = self.gw().seq.fetch_add(1, Ordering::Relaxed);
        let frozen = Arc::new(AtomicBool::new(false));
        let leaving = Arc::new(AtomicBool::new(false));
        let close = CancellationToken::new();
        if let Ok(mut conns) = self.gw().conns.lock() {
            conns.push(Conn {
                id,
                tx,
                frozen: Arc::clone(&frozen),
                leaving,
                close: close.clone(),
            });
        }
        self.gw().accepted.fetch_add(1, Ordering::Relaxed);
        self.gw().notify.notify_waiters();
        loop {
            if frozen.load(Ordering::Relaxed) {
                // A dead peer: hold the TCP connection open and do nothing.
                tokio::select! {
                    () = close.cancelled() => {}
                    () = tokio::time::sleep(Duration::from_secs(30)) => {}
                }
                break;
            }
            tokio::select! {
                () = close.cancelled() => break,
                out = rx.recv() => match out {
                    Some(m) if !frozen.load(Ordering::Relaxed) => {
                        if sink.send(m).await.is_err() {
                            break;
                        }
                    }
                    Some(_) => {}
                    None => break,
                },
                inbound = source.next() => match inbound {
                    Some(Ok(Message::Text(t))) => self.on_ack(t.as_str()),
                    Some(Ok(Message::Close(_))) | None | Some(Err(_)) => break,
                    Some(Ok(_)) => {}
                },
            }
        }
        if let Ok(mut conns) = self.gw().conns.lock() {
            conns.retain(|c| c.id != id);
        }
        self.gw().notify.notify_waiters();
    }

    fn on_ack(&self, text: &str) {
        let Ok(ack) = serde_json::from_str::<Value>(text) else {
            return;
        };
        let is_callback_ack = ack
            .pointer("/headers/messageId")
            .and_then(Value::as_str)
            .is_some_and(|id| id.starts_with("sim-cb-"));
        if is_callback_ack
            && self
                .gw()
                .lose_acks
                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1))
                .is_ok()
        {
            return;
        }
        if let Ok(mut a) = self.gw().acks.lock() {
            a.push(ack);
        }
        self.gw().notify.notify_waiters();
    }
}

/// `POST /v1.0/gateway/connections/open`.
pub(super) async fn open_connection(
    State(sim): State<Simulator>,
    Json(body): Json<Value>,
) -> Response {
    if let Some(f) = sim.take_fault(Endpoint::GatewayOpen) {
        return f.respond().await;
    }
    if let Ok(mut o) = sim.gw().opens.lock() {
        o.push(body.clone());
    }
    let id = body.get("clientId").and_then(Value::as_str);
    let secret = body.get("clientSecret").and_then(Value::as_str);
    if id != Some(sim.state.app_key.as_str()) || secret != Some(sim.state.app_secret.as_str()) {
        return (
            StatusCode::UNAUTHORIZED,
            Json(json!({ "code": "InvalidAuthentication", "requestid": "sim", "message": "clientId or clientSecret invalid" })),
        )
            .into_response();
    }
    let subscribed = body
        .get("subscriptions")
        .and_then(Value::as_array)
        .is_some_and(|s| !s.is_empty());
    if !subscribed {
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({ "code": "invalidParameter.subscriptions", "requestid": "sim", "message": "no subscriptions" })),
        )
            .into_response();
    }
    let Some(endpoint) = sim.gw().ws_url.lock().ok().and_then(|u| u.clone()) else {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({ "code": "Sim.NoGateway" })),
        )
            .into_response();
    };
    let ticket = format!(
        "{:08x}-sim-{:06}",
        Timestamp::now().subsec_nanosecond(),
        sim.gw().seq.fetch_add(1, Ordering::Relaxed)
    );
    if let Ok(mut t) = sim.gw().tickets.lock() {
        t.insert(ticket.clone(), Instant::now());
    }
    Json(json!({ "endpoint": endpoint, "ticket": ticket })).into_response()
}
