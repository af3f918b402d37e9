//! Outbound calls to DingTalk: session-webhook replies, the access token, and the robot
//! OpenAPI send calls (1:1 batch send and group send).
//!
//! A session webhook URL arrives inside the (signed) message, but the signature does not
//! cover the body, so the URL is checked against the configured `oapi_base` before any
//! request: askerp never posts to a host an attacker chose.

use std::time::{Duration, Instant};

use jiff::Timestamp;
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::Mutex;
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
}

/// What a 1:1 batch send reported.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct BatchSendResult {
    pub process_query_key: String,
    pub invalid_staff_id_list: Vec<String>,
    pub flow_controlled_staff_id_list: Vec<String>,
}

#[derive(Clone)]
struct Token {
    value: String,
    refresh_at: Instant,
}

/// Access tokens are credentials: never printed.
impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Token")
            .field("value", &"***")
            .field("refresh_at", &self.refresh_at)
            .finish()
    }
}

/// The DingTalk client. One per process; cheap to share behind an `Arc`.
#[derive(Debug)]
pub struct DingTalkClient {
    http: reqwest::Client,
    api_base: Url,
    oapi_base: Url,
    app_key: String,
    app_secret: Secret,
    robot_code: String,
    /// The access token; the mutex also makes concurrent refreshes wait for one call.
    token: Mutex<Option<Token>>,
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
            token: Mutex::new(None),
        })
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

    /// Posts a card to a (checked) session webhook. DingTalk reports business errors
    /// with HTTP 200 and a non-zero `errcode`.
    pub async fn reply_webhook(
        &self,
        url: Url,
        card: &Card,
        at_user: Option<&str>,
    ) -> Result<(), SendError> {
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
    /// expires.
    pub async fn access_token(&self) -> Result<String, SendError> {
        if self.app_key.is_empty() || self.app_secret.is_empty() {
            return Err(SendError::NoCredentials);
        }
        let mut guard = self.token.lock().await;
        if let Some(t) = guard.as_ref()
            && Instant::now() < t.refresh_at
        {
            return Ok(t.value.clone());
        }
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct TokenResponse {
            access_token: String,
            expire_in: u64,
        }
        let url = self.api_url("/v1.0/oauth2/accessToken")?;
        let resp = self
            .http
            .post(url)
            .json(&json!({ "appKey": self.app_key, "appSecret": self.app_secret.expose() }))
            .send()
            .await
            .map_err(|e| SendError::Transport(e.without_url().to_string()))?;
        let status = resp.status();
        let text = resp.text().await.unwrap_or_default();
        if !status.is_success() {
            return Err(api_error(status.as_u16(), &text));
        }
        let token: TokenResponse = serde_json::from_str(&text).map_err(|_| SendError::Http {
            status: status.as_u16(),
            body: "unexpected access token response".into(),
        })?;
        let margin = 300.min(token.expire_in / 2);
        *guard = Some(Token {
            value: token.access_token.clone(),
            refresh_at: Instant::now() + Duration::from_secs(token.expire_in - margin),
        });
        Ok(token.access_token)
    }

    /// Sends a card 1:1 to up to 20 users (`oToMessages/batchSend`).
    pub async fn send_private(
        &self,
        user_ids: &[String],
        card: &Card,
    ) -> Result<BatchSendResult, SendError> {
        let (key, param) = robot_message(card);
        let body = json!({
            "robotCode": self.robot_code,
            "userIds": user_ids,
            "msgKey": key,
            "msgParam": param,
        });
        let v = self
            .post_api("/v1.0/robot/oToMessages/batchSend", &body)
            .await?;
        Ok(serde_json::from_value(v).unwrap_or_default())
    }

    /// Sends a card into a group the robot is a member of (`groupMessages/send`).
    pub async fn send_group(
        &self,
        open_conversation_id: &str,
        card: &Card,
    ) -> Result<(), SendError> {
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

    /// POSTs to the OpenAPI with the access token; a rejected token is refreshed once.
    async fn post_api(&self, path: &str, body: &Value) -> Result<Value, SendError> {
        let url = self.api_url(path)?;
        for attempt in 0..2 {
            let token = self.access_token().await?;
            let resp = self
                .http
                .post(url.clone())
                .header("x-acs-dingtalk-access-token", token)
                .json(body)
                .send()
                .await
                .map_err(|e| SendError::Transport(e.without_url().to_string()))?;
            let status = resp.status().as_u16();
            let text = resp.text().await.unwrap_or_default();
            if (200..300).contains(&status) {
                return Ok(serde_json::from_str(&text).unwrap_or(Value::Null));
            }
            let err = api_error(status, &text);
            let token_rejected = status == 401
                || matches!(&err, SendError::Api { code, .. } if code == "InvalidAuthentication");
            if token_rejected && attempt == 0 {
                *self.token.lock().await = None;
                continue;
            }
            return Err(err);
        }
        Err(SendError::Transport("access token rejected twice".into()))
    }

    fn api_url(&self, path: &str) -> Result<Url, SendError> {
        let base = self.api_base.as_str().trim_end_matches('/');
        Url::parse(&format!("{base}{path}")).map_err(|e| SendError::Transport(e.to_string()))
    }
}

/// Reads `{"code", "message"}` error bodies of the OpenAPI.
fn api_error(status: u16, text: &str) -> SendError {
    let v: Value = serde_json::from_str(text).unwrap_or(Value::Null);
    match v.get("code").and_then(Value::as_str) {
        Some(code) => SendError::Api {
            code: code.to_string(),
            message: v
                .get("message")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string(),
        },
        None => SendError::Http {
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
