//! Outbound calls to DingTalk: session-webhook replies, the access token, the robot
//! OpenAPI send calls (1:1 batch send and group send) and interactive cards.
//!
//! A session webhook URL arrives inside the (signed) message, but the signature does not
//! cover the body, so the URL is checked against the configured `oapi_base` before any
//! request: askerp never posts to a host an attacker chose.
//!
//! DingTalk throttles robots, so every send first takes a slot from a per-conversation
//! budget (`send_per_minute`): a burst waits its turn rather than being dropped. OpenAPI
//! calls are retried on 5xx, 429 and `QpsLimit` answers (honouring `Retry-After`), and a
//! rejected access token is replaced once.
use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;
use moka::future::Cache;
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::Mutex;
use tokio::time::Instant;
use url::Url;

use super::{robot_message, webhook_message};
use crate::card::Card;
use crate::config::{DingTalkConfig, Secret};

/// Why a session webhook was not used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum WebhookProblem {
    #[error("the message carried no session webhook")]
    Missing,
    #[error("the session webhook is not under the configured oapi_base")]
    ForeignHost,
    #[error("the session webhook has expired")]
    Expired,
}

/// Why a send failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum SendError {
    #[error("session webhook refused: {0}")]
    Webhook(#[from] WebhookProblem),
    #[error("DingTalk answered HTTP {status}: {body}")]
    Http { status: u16, body: String },
    #[error("DingTalk error {code}: {message}")]
    Api { code: String, message: String },
    #[error("request to DingTalk failed: {0}")]
    Transport(String),
    #[error("dingtalk.app_key / dingtalk.app_secret are not configured")]
    NoCredentials,
    /// The message was spooled at shutdown before anything was sent for it; the next
    /// start answers it.
    #[error("withdrawn at shutdown (spooled for the next start)")]
    Withdrawn,
}

/// What a 1:1 batch send reported.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct BatchSendResult {
    pub process_query_key: String,
    pub invalid_staff_id_list: Vec<String>,
    pub flow_controlled_staff_id_list: Vec<String>,
}

/// A cached access token and how long DingTalk said it lives (minus a safety margin).
#[derive(Clone)]
struct Token {
    value: Arc<str>,
    ttl: Duration,
}

/// Access tokens are credentials: never printed.
impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Token")
            .field("value", &"***")
            .field("ttl", &self.ttl)
            .finish()
    }
}

/// Each token expires from the cache when DingTalk's `expireIn` (minus the margin) is over.
struct TokenExpiry;

impl moka::Expiry<(), Token> for TokenExpiry {
    fn expire_after_create(
        &self,
        _key: &(),
        value: &Token,
        _created_at: std::time::Instant,
    ) -> Option<Duration> {
        Some(value.ttl)
    }
}

/// How many delivered cards are remembered, and for how long: presses on older cards are
/// still answered, privately, with the card left as it is.
const DELIVERED_CARDS: u64 = 200_000;
const DELIVERED_CARD_TTL: Duration = Duration::from_secs(7 * 24 * 3600);

/// How long a placed chart is reused: well inside a signed link's lifetime and the time
/// DingTalk keeps an uploaded image.
const PLACED_CHART_TTL: Duration = Duration::from_secs(3600);

/// Where an interactive card goes (serializable: replicas share it through Redis).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum CardSpace {
    /// A group chat (`openConversationId`); `at` is the user to @-mention with their nick.
    Group {
        open_conversation_id: String,
        at: Option<(String, String)>,
    },
    /// The 1:1 chat of the robot with this user.
    Robot { user_id: String },
}

impl CardSpace {
    /// The `openSpaceId` of `createAndDeliver`.
    pub fn open_space_id(&self) -> String {
        match self {
            CardSpace::Group {
                open_conversation_id,
                ..
            } => format!("dtv1.card//IM_GROUP.{open_conversation_id}"),
            CardSpace::Robot { user_id } => format!("dtv1.card//IM_ROBOT.{user_id}"),
        }
    }

    /// The send-budget key: one budget per conversation.
    fn budget_key(&self) -> String {
        match self {
            CardSpace::Group {
                open_conversation_id,
                ..
            } => open_conversation_id.clone(),
            CardSpace::Robot { user_id } => format!("oto:{user_id}"),
        }
    }
}

/// How one OpenAPI attempt ended.
enum Attempt {
    Done(Value),
    /// The access token was refused: replace it and try again (once).
    TokenRejected(SendError),
    /// Worth retrying after the delay DingTalk asked for, if any.
    Retry(SendError, Option<Duration>),
    Fail(SendError),
}

/// Why a shared send slot was not taken.
enum SlotError {
    Withdrawn,
    State(crate::state::StateError),
}

/// The DingTalk client. One per process; cheap to share behind an `Arc`.
pub struct DingTalkClient {
    http: reqwest::Client,
    api_base: Url,
    oapi_base: Url,
    app_key: String,
    app_secret: Secret,
    robot_code: String,
    retries: u32,
    retry_base: Duration,
    per_minute: usize,
    card_template_id: String,
    card_callback_type: String,
    card_callback_route_key: String,
    /// The access token. `try_get_with` makes concurrent misses wait for one refresh.
    token: Cache<(), Token>,
    /// Send times of the last minute, per conversation.
    budget: Cache<String, Arc<Mutex<VecDeque<Instant>>>>,
    /// Where each interactive card was delivered (`outTrackId` → space). A button press is
    /// answered under the rules of the space the card is really in, whatever the callback
    /// claims; a card this process did not deliver is answered privately and never
    /// updated in place.
    delivered_cards: Cache<String, CardSpace>,
    /// Where report charts are kept for signed links (`server.public_url` set); without
    /// it charts are uploaded with [`DingTalkClient::upload_image`].
    chart_store: Option<Arc<crate::chart_store::ChartStore>>,
    /// Charts already placed (a media id or a signed link), by a digest of what they
    /// show: the same report asked again draws and uploads nothing (a PNG costs a few
    /// milliseconds of CPU and ~100 KB of upload, a cached answer microseconds).
    placed_charts: Cache<[u8; 32], String>,
    /// Redis, when replicas share send budgets and delivered cards ([`crate::state`]).
    shared: Option<crate::state::RedisStore>,
}

impl std::fmt::Debug for DingTalkClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DingTalkClient")
            .field("api_base", &self.api_base.as_str())
            .field("oapi_base", &self.oapi_base.as_str())
            .field("app_key", &self.app_key)
            .finish_non_exhaustive()
    }
}

impl DingTalkClient {
    pub fn new(config: &DingTalkConfig) -> Result<DingTalkClient, SendError> {
        let parse = |s: &str| Url::parse(s).map_err(|e| SendError::Transport(e.to_string()));
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(config.request_timeout_secs))
            .connect_timeout(Duration::from_secs(5))
            .user_agent(concat!("askerp/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| SendError::Transport(e.to_string()))?;
        Ok(DingTalkClient {
            http,
            api_base: parse(&config.api_base)?,
            oapi_base: parse(&config.oapi_base)?,
            app_key: config.app_key.clone(),
            app_secret: config.app_secret.clone(),
            robot_code: config.effective_robot_code().to_string(),
            retries: config.send_retries,
            retry_base: Duration::from_millis(config.send_retry_base_ms.max(1)),
            per_minute: usize::try_from(config.send_per_minute.max(1)).unwrap_or(20),
            card_template_id: config.card_template_id.clone(),
            card_callback_type: config.effective_card_callback_type().to_string(),
            card_callback_route_key: config.card_callback_route_key.clone(),
            token: Cache::builder()
                .max_capacity(1)
                .expire_after(TokenExpiry)
                .build(),
            budget: Cache::builder()
                .max_capacity(100_000)
                .time_to_idle(Duration::from_secs(120))
                .build(),
            delivered_cards: Cache::builder()
                .max_capacity(DELIVERED_CARDS)
                .time_to_live(DELIVERED_CARD_TTL)
                .build(),
            placed_charts: Cache::builder()
                .max_capacity(10_000)
                .time_to_live(PLACED_CHART_TTL)
                .build(),
            chart_store: None,
            shared: None,
        })
    }

    /// The same client, sharing send budgets and delivered cards with other replicas.
    pub fn with_shared_state(mut self, shared: Option<crate::state::RedisStore>) -> Self {
        self.shared = shared;
        self
    }

    /// The same client, showing report charts through signed links from `store`.
    pub fn with_chart_store(mut self, store: Option<crate::chart_store::ChartStore>) -> Self {
        self.chart_store = store.map(Arc::new);
        self
    }

    /// Where a chart showing `digest` was already placed, if it was recently.
    pub async fn placed_chart(&self, digest: &[u8; 32]) -> Option<String> {
        self.placed_charts.get(digest).await
    }

    /// Remembers where the chart showing `digest` was placed.
    pub async fn remember_chart(&self, digest: [u8; 32], src: String) {
        self.placed_charts.insert(digest, src).await;
    }

    /// The chart store, when charts are served by askerp itself.
    pub fn chart_store(&self) -> Option<&crate::chart_store::ChartStore> {
        self.chart_store.as_deref()
    }

    /// Uploads a PNG to DingTalk's media store (`POST {oapi_base}/media/upload`, multipart
    /// fields `type=image` and `media`) and returns its `media_id`, which markdown images
    /// and `sampleImageMsg.photoURL` accept (docs/charts.md). The OpenAPI token is used,
    /// as DingTalk's own SDK does; a rejected token is replaced once.
    pub async fn upload_image(&self, png: &[u8], file_name: &str) -> Result<String, SendError> {
        #[derive(Deserialize)]
        struct Uploaded {
            #[serde(default)]
            errcode: i64,
            #[serde(default)]
            errmsg: String,
            #[serde(default)]
            media_id: String,
        }
        let base = self.oapi_base.as_str().trim_end_matches('/');
        let mut nonce = [0u8; 12];
        // A fixed boundary would still work for a PNG; random bytes only make a clash
        // with the image's own bytes practically impossible.
        let _ = getrandom::fill(&mut nonce);
        let boundary = format!("askerp-{}", hex::encode(nonce));
        let mut body = Vec::with_capacity(png.len() + 512);
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"type\"\r\n\r\nimage\r\n\
                 --{boundary}\r\nContent-Disposition: form-data; name=\"media\"; filename=\"{file_name}\"\r\n\
                 Content-Type: image/png\r\n\r\n"
            )
            .as_bytes(),
        );
        body.extend_from_slice(png);
        body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
        for attempt in 0..2 {
            let token = self.access_token().await?;
            let mut url = Url::parse(&format!("{base}/media/upload"))
                .map_err(|e| SendError::Transport(e.to_string()))?;
            url.query_pairs_mut()
                .append_pair("access_token", &token)
                .append_pair("type", "image");
            let resp = self
                .http
                .post(url)
                .header(
                    reqwest::header::CONTENT_TYPE,
                    format!("multipart/form-data; boundary={boundary}"),
                )
                .body(body.clone())
                .send()
                .await
                .map_err(|e| SendError::Transport(e.without_url().to_string()))?;
            let status = resp.status().as_u16();
            let text = resp
                .text()
                .await
                .map_err(|e| SendError::Transport(e.to_string()))?;
            if !(200..300).contains(&status) {
                return Err(SendError::Http {
                    status,
                    body: truncate(&text),
                });
            }
            let up: Uploaded = serde_json::from_str(&text).map_err(|e| SendError::Api {
                code: "bad_response".into(),
                message: format!("{e}: {}", truncate(&text)),
            })?;
            // 40001 / 40014 / 42001: the token is invalid or expired.
            if matches!(up.errcode, 40001 | 40014 | 42001) && attempt == 0 {
                self.token.invalidate(&()).await;
                continue;
            }
            if up.errcode != 0 || up.media_id.is_empty() {
                return Err(SendError::Api {
                    code: up.errcode.to_string(),
                    message: up.errmsg,
                });
            }
            return Ok(up.media_id);
        }
        Err(SendError::Api {
            code: "40014".into(),
            message: "access token refused twice".into(),
        })
    }

    /// Where this process delivered the card `out_track_id`, if it did (within the last
    /// [`DELIVERED_CARD_TTL`]).
    pub async fn delivered_to(&self, out_track_id: &str) -> Option<CardSpace> {
        if let Some(space) = self.delivered_cards.get(out_track_id).await {
            return Some(space);
        }
        let store = self.shared.as_ref()?;
        match store
            .get_json::<CardSpace>(&store.key("card", out_track_id))
            .await
        {
            Ok(space) => space,
            Err(e) => {
                // Unknown counts as "a group of unknown members": answered privately.
                store.stats.fallback("cards");
                tracing::warn!(error = %e, "Shared card memory unavailable.");
                None
            }
        }
    }

    /// The shared HTTP client (timeouts set), for the Stream gateway registration.
    pub(crate) fn http(&self) -> &reqwest::Client {
        &self.http
    }

    /// Whether answers go out as interactive cards.
    pub fn cards_enabled(&self) -> bool {
        !self.card_template_id.is_empty()
    }

    /// Whether a session webhook may be used at `now`: same scheme, host and port as
    /// `oapi_base`, path under its path, and not expired.
    pub fn check_webhook(
        &self,
        url: Option<&str>,
        expires_at: Option<Timestamp>,
        now: Timestamp,
    ) -> Result<Url, WebhookProblem> {
        let url = url.ok_or(WebhookProblem::Missing)?;
        let parsed = Url::parse(url).map_err(|_| WebhookProblem::ForeignHost)?;
        let base = &self.oapi_base;
        let same_origin = parsed.scheme() == base.scheme()
            && parsed.host_str() == base.host_str()
            && parsed.port_or_known_default() == base.port_or_known_default();
        let base_path = base.path().trim_end_matches('/');
        let path_ok =
            parsed.path() == base_path || parsed.path().starts_with(&format!("{base_path}/"));
        if !same_origin || !path_ok || !parsed.username().is_empty() {
            return Err(WebhookProblem::ForeignHost);
        }
        match expires_at {
            Some(t) if t > now => Ok(parsed),
            _ => Err(WebhookProblem::Expired),
        }
    }

    /// Waits until `key` may send another message: at most `send_per_minute` in any
    /// sliding minute. Waiting rather than dropping keeps every answer.
    pub async fn take_send_slot(&self, key: &str) -> Result<(), SendError> {
        if let Some(store) = &self.shared {
            match self.take_shared_slot(store, key).await {
                Ok(()) => return Ok(()),
                Err(SlotError::Withdrawn) => return Err(SendError::Withdrawn),
                Err(SlotError::State(e)) => {
                    store.stats.fallback("budget");
                    tracing::warn!(error = %e, "Shared send budget unavailable; this replica counts alone.");
                }
            }
        }
        let window = Duration::from_secs(60);
        let slots = self
            .budget
            .get_with_by_ref(key, async { Arc::new(Mutex::new(VecDeque::new())) })
            .await;
        loop {
            let wait = {
                let mut sent = slots.lock().await;
                let now = Instant::now();
                while sent
                    .front()
                    .is_some_and(|t| now.duration_since(*t) >= window)
                {
                    sent.pop_front();
                }
                if sent.len() < self.per_minute {
                    // The last moment a queued answer can still be withdrawn for the spool.
                    if !crate::spool::may_send() {
                        return Err(SendError::Withdrawn);
                    }
                    sent.push_back(now);
                    return Ok(());
                }
                sent.front()
                    .map(|t| window.saturating_sub(now.duration_since(*t)))
                    .unwrap_or(window)
            };
            tracing::info!(
                wait_ms = wait.as_millis() as u64,
                "Send budget of the conversation used up; waiting."
            );
            tokio::time::sleep(wait).await;
        }
    }

    /// The send budget shared by every replica: the same sliding minute, on Redis' clock.
    async fn take_shared_slot(
        &self,
        store: &crate::state::RedisStore,
        key: &str,
    ) -> Result<(), SlotError> {
        let budget = store.key("budget", key);
        loop {
            match store
                .take_send_slot(&budget, self.per_minute)
                .await
                .map_err(SlotError::State)?
            {
                None => {
                    // The last moment a queued answer can still be withdrawn for the spool.
                    return if crate::spool::may_send() {
                        Ok(())
                    } else {
                        Err(SlotError::Withdrawn)
                    };
                }
                Some(wait) => {
                    tracing::info!(
                        wait_ms = wait.as_millis() as u64,
                        "Send budget of the conversation used up (all replicas); waiting."
                    );
                    tokio::time::sleep(wait).await;
                }
            }
        }
    }

    /// Posts a card to a (checked) session webhook. DingTalk reports business errors
    /// with HTTP 200 and a non-zero `errcode`; a 429 or 5xx is not retried here because
    /// the caller falls back to the OpenAPI at once.
    pub async fn reply_webhook(
        &self,
        conversation: &str,
        url: Url,
        card: &Card,
        at_user: Option<&str>,
    ) -> Result<(), SendError> {
        self.take_send_slot(conversation).await?;
        let body = webhook_message(card, at_user);
        let resp = self
            .http
            .post(url)
            .json(&body)
            .send()
            .await
            .map_err(|e| SendError::Transport(e.without_url().to_string()))?;
        let status = resp.status();
        let text = resp.text().await.unwrap_or_default();
        if !status.is_success() {
            return Err(SendError::Http {
                status: status.as_u16(),
                body: truncate(&text),
            });
        }
        let v: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        match v.get("errcode").and_then(Value::as_i64) {
            Some(0) | None => Ok(()),
            Some(code) => Err(SendError::Api {
                code: code.to_string(),
                message: v
                    .get("errmsg")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string(),
            }),
        }
    }

    /// The OpenAPI access token, fetched once and reused until five minutes before it
    /// expires. Concurrent callers share one refresh.
    pub async fn access_token(&self) -> Result<String, SendError> {
        self.token_attempt().await.map_err(|(e, _)| e)
    }

    async fn token_attempt(&self) -> Result<String, (SendError, Option<Duration>)> {
        if self.app_key.is_empty() || self.app_secret.is_empty() {
            return Err((SendError::NoCredentials, None));
        }
        self.token
            .try_get_with((), self.fetch_token())
            .await
            .map(|t| t.value.to_string())
            .map_err(|e| (*e).clone())
    }

    async fn fetch_token(&self) -> Result<Token, (SendError, Option<Duration>)> {
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct TokenResponse {
            access_token: String,
            expire_in: u64,
        }
        let url = self
            .api_url("/v1.0/oauth2/accessToken")
            .map_err(|e| (e, None))?;
        let resp = self
            .http
            .post(url)
            .json(&json!({ "appKey": self.app_key, "appSecret": self.app_secret.expose() }))
            .send()
            .await
            .map_err(|e| (SendError::Transport(e.without_url().to_string()), None))?;
        let status = resp.status().as_u16();
        let retry_after = retry_after(resp.headers());
        let text = resp.text().await.unwrap_or_default();
        if !(200..300).contains(&status) {
            return Err((api_error(status, &text), retry_after));
        }
        let token: TokenResponse = serde_json::from_str(&text).map_err(|_| {
            (
                SendError::Http {
                    status,
                    body: "unexpected access token response".into(),
                },
                None,
            )
        })?;
        tracing::debug!(expire_in = token.expire_in, "Access token refreshed.");
        let margin = 300.min(token.expire_in / 2);
        Ok(Token {
            value: token.access_token.into(),
            ttl: Duration::from_secs(token.expire_in.saturating_sub(margin).max(1)),
        })
    }

    /// Sends a card 1:1 (`oToMessages/batchSend`), 20 users per call. Users DingTalk
    /// reports as flow-controlled are sent again after a pause, up to `send_retries` times;
    /// those still throttled stay in the result.
    pub async fn send_private(
        &self,
        user_ids: &[String],
        card: &Card,
    ) -> Result<BatchSendResult, SendError> {
        let (key, param) = robot_message(card);
        let mut total = BatchSendResult::default();
        for chunk in user_ids.chunks(20) {
            for user in chunk {
                self.take_send_slot(&format!("oto:{user}")).await?;
            }
            let mut pending: Vec<String> = chunk.to_vec();
            let mut round = 0;
            loop {
                let body = json!({
                    "robotCode": self.robot_code,
                    "userIds": pending,
                    "msgKey": key,
                    "msgParam": param,
                });
                let v = self
                    .post_api("/v1.0/robot/oToMessages/batchSend", &body)
                    .await?;
                let r: BatchSendResult = serde_json::from_value(v).unwrap_or_default();
                if total.process_query_key.is_empty() {
                    total.process_query_key = r.process_query_key.clone();
                }
                total.invalid_staff_id_list.extend(r.invalid_staff_id_list);
                if r.flow_controlled_staff_id_list.is_empty() || round >= self.retries {
                    total
                        .flow_controlled_staff_id_list
                        .extend(r.flow_controlled_staff_id_list);
                    break;
                }
                tracing::info!(
                    users = r.flow_controlled_staff_id_list.len(),
                    "Some users are flow-controlled; sending to them again shortly."
                );
                tokio::time::sleep(self.backoff(round)).await;
                pending = r.flow_controlled_staff_id_list;
                round += 1;
            }
        }
        Ok(total)
    }

    /// Sends a card into a group the robot is a member of (`groupMessages/send`).
    pub async fn send_group(
        &self,
        open_conversation_id: &str,
        card: &Card,
    ) -> Result<(), SendError> {
        self.take_send_slot(open_conversation_id).await?;
        let (key, param) = robot_message(card);
        let body = json!({
            "robotCode": self.robot_code,
            "openConversationId": open_conversation_id,
            "msgKey": key,
            "msgParam": param,
        });
        self.post_api("/v1.0/robot/groupMessages/send", &body)
            .await
            .map(|_| ())
    }

    /// Creates an interactive card from the configured template and delivers it
    /// (`card/instances/createAndDeliver`). `params` become the string-valued
    /// `cardParamMap`.
    pub async fn deliver_card(
        &self,
        out_track_id: &str,
        space: &CardSpace,
        params: &serde_json::Map<String, Value>,
    ) -> Result<(), SendError> {
        self.take_send_slot(&space.budget_key()).await?;
        // Remembered before sending: a press can arrive before the response does.
        self.delivered_cards
            .insert(out_track_id.to_string(), space.clone())
            .await;
        if let Some(store) = &self.shared
            && let Err(e) = store
                .put_json(&store.key("card", out_track_id), space, DELIVERED_CARD_TTL)
                .await
        {
            store.stats.fallback("cards");
            tracing::warn!(error = %e, "Card's space kept in this replica only; a press through another replica is answered privately.");
        }
        let mut body = json!({
            "cardTemplateId": self.card_template_id,
            "outTrackId": out_track_id,
            "callbackType": self.card_callback_type,
            "userIdType": 1,
            "openSpaceId": space.open_space_id(),
            "cardData": { "cardParamMap": params },
        });
        if self.card_callback_type == "HTTP" && !self.card_callback_route_key.is_empty() {
            body["callbackRouteKey"] = json!(self.card_callback_route_key);
        }
        match space {
            CardSpace::Group { at, .. } => {
                body["imGroupOpenSpaceModel"] = json!({ "supportForward": false });
                let mut deliver = json!({ "robotCode": self.robot_code });
                if let Some((user, nick)) = at {
                    deliver["atUserIds"] = json!({ user.as_str(): nick });
                }
                body["imGroupOpenDeliverModel"] = deliver;
            }
            CardSpace::Robot { .. } => {
                body["imRobotOpenSpaceModel"] = json!({ "supportForward": false });
                body["imRobotOpenDeliverModel"] =
                    json!({ "spaceType": "IM_ROBOT", "robotCode": self.robot_code });
            }
        }
        let v = self
            .post_api("/v1.0/card/instances/createAndDeliver", &body)
            .await?;
        // HTTP 200 is not enough: each delivery reports its own success.
        let failed = v
            .pointer("/result/deliverResults")
            .and_then(Value::as_array)
            .and_then(|rs| {
                rs.iter()
                    .find(|r| r.get("success").and_then(Value::as_bool) == Some(false))
            })
            .map(|r| {
                r.get("errorMsg")
                    .and_then(Value::as_str)
                    .unwrap_or("delivery failed")
                    .to_string()
            });
        match (v.get("success").and_then(Value::as_bool), failed) {
            (Some(false), _) => Err(SendError::Api {
                code: "card.notDelivered".into(),
                message: truncate(&v.to_string()),
            }),
            (_, Some(msg)) => Err(SendError::Api {
                code: "card.notDelivered".into(),
                message: msg,
            }),
            _ => Ok(()),
        }
    }

    /// Replaces the given keys of a card's public data (`PUT card/instances`).
    pub async fn update_card(
        &self,
        out_track_id: &str,
        params: &serde_json::Map<String, Value>,
    ) -> Result<(), SendError> {
        let body = json!({
            "outTrackId": out_track_id,
            "cardData": { "cardParamMap": params },
            "cardUpdateOptions": { "updateCardDataByKey": true },
            "userIdType": 1,
        });
        self.send_api(reqwest::Method::PUT, "/v1.0/card/instances", &body)
            .await
            .map(|_| ())
    }

    /// POSTs to the OpenAPI with the access token.
    async fn post_api(&self, path: &str, body: &Value) -> Result<Value, SendError> {
        self.send_api(reqwest::Method::POST, path, body).await
    }

    /// Calls the OpenAPI with the access token: a rejected token is replaced once;
    /// 5xx, 429 and `QpsLimit` answers are retried up to `send_retries` times after
    /// `Retry-After` or an exponential delay.
    async fn send_api(
        &self,
        method: reqwest::Method,
        path: &str,
        body: &Value,
    ) -> Result<Value, SendError> {
        let url = self.api_url(path)?;
        let mut token_replaced = false;
        let mut retries = 0;
        loop {
            match self.attempt(method.clone(), &url, body).await {
                Attempt::Done(v) => return Ok(v),
                Attempt::TokenRejected(e) => {
                    if token_replaced {
                        return Err(e);
                    }
                    token_replaced = true;
                    self.token.invalidate(&()).await;
                }
                Attempt::Retry(e, after) => {
                    if retries >= self.retries {
                        return Err(e);
                    }
                    let wait = after
                        .map(|d| d.min(Duration::from_secs(60)))
                        .unwrap_or_else(|| self.backoff(retries));
                    tracing::info!(path, error = %e, wait_ms = wait.as_millis() as u64, "DingTalk call will be retried.");
                    tokio::time::sleep(wait).await;
                    retries += 1;
                }
                Attempt::Fail(e) => return Err(e),
            }
        }
    }

    async fn attempt(&self, method: reqwest::Method, url: &Url, body: &Value) -> Attempt {
        let token = match self.token_attempt().await {
            Ok(t) => t,
            Err((e, after)) => {
                return if retryable(&e) {
                    Attempt::Retry(e, after)
                } else {
                    Attempt::Fail(e)
                };
            }
        };
        let resp = match self
            .http
            .request(method, url.clone())
            .header("x-acs-dingtalk-access-token", token)
            .json(body)
            .send()
            .await
        {
            Ok(r) => r,
            Err(e) => {
                let connect = e.is_connect();
                let err = SendError::Transport(e.without_url().to_string());
                // Only a refused connection is surely not delivered; a timeout might
                // have been, and sending twice is worse than reporting a failure.
                return if connect {
                    Attempt::Retry(err, None)
                } else {
                    Attempt::Fail(err)
                };
            }
        };
        let status = resp.status().as_u16();
        let after = retry_after(resp.headers());
        let text = resp.text().await.unwrap_or_default();
        if (200..300).contains(&status) {
            return Attempt::Done(serde_json::from_str(&text).unwrap_or(Value::Null));
        }
        let err = api_error(status, &text);
        let token_rejected = status == 401
            || matches!(&err, SendError::Api { code, .. } if code == "InvalidAuthentication");
        if token_rejected {
            Attempt::TokenRejected(err)
        } else if retryable(&err) {
            Attempt::Retry(err, after)
        } else {
            Attempt::Fail(err)
        }
    }

    /// `send_retry_base_ms`, doubled per retry, at most a minute.
    fn backoff(&self, retry: u32) -> Duration {
        self.retry_base
            .saturating_mul(2u32.saturating_pow(retry))
            .min(Duration::from_secs(60))
    }

    pub(crate) fn api_url(&self, path: &str) -> Result<Url, SendError> {
        let base = self.api_base.as_str().trim_end_matches('/');
        Url::parse(&format!("{base}{path}")).map_err(|e| SendError::Transport(e.to_string()))
    }
}

/// Throttling and server-side failures are worth another try; anything else (bad
/// parameters, bad credentials) would fail the same way again.
fn retryable(e: &SendError) -> bool {
    match e {
        SendError::Http { status, .. } => *status == 429 || *status >= 500,
        SendError::Api { code, .. } => {
            code.contains("QpsLimit") || code.starts_with("Throttling") || code == "429"
        }
        SendError::Transport(_) => true,
        SendError::Webhook(_) | SendError::NoCredentials | SendError::Withdrawn => false,
    }
}

/// `Retry-After` in seconds (the HTTP-date form is not used by DingTalk).
fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    headers
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse::<u64>()
        .ok()
        .map(Duration::from_secs)
}

/// Reads `{"code", "message"}` error bodies of the OpenAPI. A 429 or 5xx keeps its
/// status so it is recognised as retryable whatever the body says.
fn api_error(status: u16, text: &str) -> SendError {
    let v: Value = serde_json::from_str(text).unwrap_or(Value::Null);
    match v.get("code").and_then(Value::as_str) {
        Some(code) if status != 429 && status < 500 => SendError::Api {
            code: code.to_string(),
            message: v
                .get("message")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string(),
        },
        _ => SendError::Http {
            status,
            body: truncate(text),
        },
    }
}

fn truncate(text: &str) -> String {
    text.chars().take(200).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(oapi: &str) -> DingTalkClient {
        let cfg = DingTalkConfig {
            oapi_base: oapi.into(),
            ..DingTalkConfig::default()
        };
        DingTalkClient::new(&cfg).expect("client")
    }

    #[tokio::test(start_paused = true)]
    async fn a_conversation_over_its_budget_waits_instead_of_dropping() {
        let cfg = DingTalkConfig {
            send_per_minute: 2,
            ..DingTalkConfig::default()
        };
        let c = DingTalkClient::new(&cfg).expect("client");
        let start = Instant::now();
        let _ = c.take_send_slot("cid1").await;
        let _ = c.take_send_slot("cid1").await;
        // Another conversation has its own budget.
        let _ = c.take_send_slot("cid2").await;
        assert!(start.elapsed() < Duration::from_secs(1));
        let _ = c.take_send_slot("cid1").await;
        let waited = start.elapsed();
        assert!(
            waited >= Duration::from_secs(60) && waited < Duration::from_secs(61),
            "{waited:?}"
        );
    }

    #[test]
    fn throttling_and_server_errors_are_retried_bad_requests_not() {
        assert!(retryable(&api_error(429, "{\"code\":\"x\"}")));
        assert!(retryable(&api_error(503, "")));
        assert!(retryable(&api_error(
            403,
            "{\"code\":\"Forbidden.AccessDenied.QpsLimitForApi\"}"
        )));
        assert!(!retryable(&api_error(
            400,
            "{\"code\":\"invalidParameter.userIds.overMax\"}"
        )));
        assert!(!retryable(&api_error(
            400,
            "{\"code\":\"InvalidAuthentication\"}"
        )));
    }

    #[test]
    fn tokens_never_print() {
        let t = Token {
            value: "secret-token".into(),
            ttl: Duration::from_secs(1),
        };
        assert!(!format!("{t:?}").contains("secret-token"));
    }

    #[test]
    fn webhook_must_be_under_oapi_base_and_fresh() {
        let c = client("https://oapi.dingtalk.com");
        let now = Timestamp::from_second(1_700_000_000).expect("ts");
        let later = Some(Timestamp::from_second(1_700_005_400).expect("ts"));
        let ok = "https://oapi.dingtalk.com/robot/sendBySession?session=abc";
        assert!(c.check_webhook(Some(ok), later, now).is_ok());
        for bad in [
            "https://oapi.dingtalk.com.evil.example/robot/sendBySession",
            "http://oapi.dingtalk.com/robot/sendBySession",
            "https://oapi.dingtalk.com:8443/robot/sendBySession",
            "https://evil.example/https://oapi.dingtalk.com/",
            "https://user@oapi.dingtalk.com/robot",
            "not a url",
        ] {
            assert_eq!(
                c.check_webhook(Some(bad), later, now),
                Err(WebhookProblem::ForeignHost),
                "{bad}"
            );
        }
        assert_eq!(
            c.check_webhook(Some(ok), Some(now), now),
            Err(WebhookProblem::Expired)
        );
        assert_eq!(
            c.check_webhook(Some(ok), None, now),
            Err(WebhookProblem::Expired)
        );
        assert_eq!(
            c.check_webhook(None, later, now),
            Err(WebhookProblem::Missing)
        );

        let c = client("http://127.0.0.1:9000/sim");
        assert!(
            c.check_webhook(
                Some("http://127.0.0.1:9000/sim/robot/sendBySession?session=1"),
                later,
                now
            )
            .is_ok()
        );
        assert_eq!(
            c.check_webhook(Some("http://127.0.0.1:9000/simulated/robot"), later, now),
            Err(WebhookProblem::ForeignHost)
        );
    }
}
