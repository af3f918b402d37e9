//! Chart links: report-chart PNGs served by askerp under signed, expiring paths.
//!
//! In HTTP mode with `server.public_url` set, a chart is kept in memory and the card's
//! markdown shows it from `<public_url>/charts/<id>-<expiry>-<signature>.png`, fetched
//! by the DingTalk client that displays the message. The path is the only key:
//!
//! - `id` is 128 random bits, so links cannot be guessed or enumerated;
//! - `expiry` is a Unix time in seconds, after which the link answers 404;
//! - `signature` is HMAC-SHA256 of `id.expiry` under a key drawn at start-up, so an
//!   altered id or a stretched expiry answers 404 too (compared in constant time).
//!
//! Nothing else is served under `/charts/`: there is no listing, no file system behind
//! it, and every refusal is the same empty 404, so a probe learns nothing. The key and
//! the charts live in this process only: after a restart old links answer 404, which
//! costs a picture, never a figure (the figures are in the card's text).

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use hmac::{Hmac, Mac};
use jiff::Timestamp;
use moka::future::Cache;
use sha2::Sha256;

use crate::config::ServerConfig;
use crate::server::AppState;

/// Memory the kept charts may use; the oldest are dropped first beyond it.
const MAX_BYTES: u64 = 64 * 1024 * 1024;

/// Why a chart link could not be made.
#[derive(Debug, thiserror::Error)]
pub enum ChartStoreError {
    #[error("server.public_url = {0:?} is not an http(s) URL")]
    PublicUrl(String),
    #[error("no randomness for chart link ids: {0}")]
    Random(String),
}

/// The charts of this process, by id, each kept until its link expires.
pub struct ChartStore {
    key: [u8; 32],
    base: String,
    ttl: Duration,
    pngs: Cache<String, Arc<Vec<u8>>>,
}

impl std::fmt::Debug for ChartStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChartStore")
            .field("base", &self.base)
            .field("ttl", &self.ttl)
            .finish_non_exhaustive()
    }
}

impl ChartStore {
    /// The store for `server.public_url`, or `None` when it is not set (charts then go to
    /// DingTalk's media API).
    pub fn from_config(server: &ServerConfig) -> Result<Option<ChartStore>, ChartStoreError> {
        let Some(url) = server
            .public_url
            .as_deref()
            .filter(|u| !u.trim().is_empty())
        else {
            return Ok(None);
        };
        let mut key = [0u8; 32];
        getrandom::fill(&mut key).map_err(|e| ChartStoreError::Random(e.to_string()))?;
        ChartStore::with_key(
            url,
            Duration::from_secs(server.chart_link_ttl_secs.max(1)),
            key,
        )
        .map(Some)
    }

    /// A store with a given signing key (tests use a fixed one).
    pub fn with_key(
        public_url: &str,
        ttl: Duration,
        key: [u8; 32],
    ) -> Result<ChartStore, ChartStoreError> {
        match url::Url::parse(public_url) {
            Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => {}
            _ => return Err(ChartStoreError::PublicUrl(public_url.to_string())),
        }
        Ok(ChartStore {
            key,
            base: public_url.trim_end_matches('/').to_string(),
            ttl,
            pngs: Cache::builder()
                .weigher(|_: &String, v: &Arc<Vec<u8>>| u32::try_from(v.len()).unwrap_or(u32::MAX))
                .max_capacity(MAX_BYTES)
                .time_to_live(ttl)
                .build(),
        })
    }

    /// Keeps `png` and returns its signed link, valid until `now` + the link lifetime.
    pub async fn publish(&self, png: Vec<u8>, now: Timestamp) -> Result<String, ChartStoreError> {
        let mut raw = [0u8; 16];
        getrandom::fill(&mut raw).map_err(|e| ChartStoreError::Random(e.to_string()))?;
        let id = hex::encode(raw);
        let ttl = i64::try_from(self.ttl.as_secs()).unwrap_or(i64::MAX);
        let expiry = now.as_second().saturating_add(ttl);
        self.pngs.insert(id.clone(), Arc::new(png)).await;
        Ok(format!("{}{}", self.base, self.path(&id, expiry)))
    }

    /// The signed path of chart `id` expiring at `expiry` (Unix seconds).
    /// How long a published link works.
    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    pub fn path(&self, id: &str, expiry: i64) -> String {
        format!(
            "/charts/{id}-{expiry}-{}.png",
            hex::encode(self.sign(id, expiry))
        )
    }

    fn mac(&self, id: &str, expiry: i64) -> Hmac<Sha256> {
        #[allow(clippy::expect_used)]
        let mut mac =
            Hmac::<Sha256>::new_from_slice(&self.key).expect("HMAC accepts keys of any length");
        mac.update(id.as_bytes());
        mac.update(b".");
        mac.update(expiry.to_string().as_bytes());
        mac
    }

    fn sign(&self, id: &str, expiry: i64) -> Vec<u8> {
        self.mac(id, expiry).finalize().into_bytes().to_vec()
    }

    /// The chart a link's file name (`<id>-<expiry>-<signature>.png`) names, if the
    /// signature is right, the link has not expired at `now`, and the chart is still kept.
    pub async fn lookup(&self, file: &str, now: Timestamp) -> Option<Arc<Vec<u8>>> {
        let stem = file.strip_suffix(".png")?;
        let mut parts = stem.split('-');
        let (id, expiry, sig) = (parts.next()?, parts.next()?, parts.next()?);
        if parts.next().is_some()
            || id.len() != 32
            || !id
                .bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
            || expiry.is_empty()
            || !expiry.bytes().all(|b| b.is_ascii_digit())
        {
            return None;
        }
        let expiry_secs: i64 = expiry.parse().ok()?;
        let sig = hex::decode(sig).ok()?;
        self.mac(id, expiry_secs).verify_slice(&sig).ok()?;
        // The canonical spelling only: "007" and "7" must not both be valid links.
        if expiry_secs.to_string() != expiry || expiry_secs <= now.as_second() {
            return None;
        }
        self.pngs.get(id).await
    }
}

/// `GET /charts/{file}`: the chart, or an empty 404 for anything else.
pub async fn serve(State(state): State<AppState>, Path(file): Path<String>) -> Response {
    let Some(store) = state.dingtalk.chart_store() else {
        return StatusCode::NOT_FOUND.into_response();
    };
    match store.lookup(&file, Timestamp::now()).await {
        Some(png) => (
            [
                (header::CONTENT_TYPE, HeaderValue::from_static("image/png")),
                (
                    header::CACHE_CONTROL,
                    HeaderValue::from_static("private, max-age=3600"),
                ),
                (
                    header::X_CONTENT_TYPE_OPTIONS,
                    HeaderValue::from_static("nosniff"),
                ),
            ],
            png.as_ref().clone(),
        )
            .into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> ChartStore {
        ChartStore::with_key(
            "https://askerp.example.com/",
            Duration::from_secs(60),
            [7; 32],
        )
        .expect("store")
    }

    fn file_of(url: &str) -> &str {
        url.rsplit('/').next().expect("file")
    }

    #[tokio::test]
    async fn a_published_chart_is_found_until_its_link_expires() {
        let s = store();
        let now = Timestamp::from_second(1_800_000_000).expect("ts");
        let url = s.publish(vec![1, 2, 3], now).await.expect("url");
        assert!(
            url.starts_with("https://askerp.example.com/charts/"),
            "{url}"
        );
        let file = file_of(&url);
        assert_eq!(s.lookup(file, now).await.as_deref(), Some(&vec![1, 2, 3]));
        let later = Timestamp::from_second(1_800_000_060).expect("ts");
        assert!(s.lookup(file, later).await.is_none(), "expired");
    }

    #[tokio::test]
    async fn altered_links_are_refused() {
        let s = store();
        let now = Timestamp::from_second(1_800_000_000).expect("ts");
        let url = s.publish(vec![9], now).await.expect("url");
        let file = file_of(&url).to_string();
        let (id, rest) = file.split_once('-').expect("id");
        let (expiry, sig) = rest.split_once('-').expect("expiry");
        let longer: i64 = expiry.parse::<i64>().expect("n") + 3600;
        let flipped = if id.starts_with('0') { "1" } else { "0" };
        for bad in [
            format!("{id}-{longer}-{sig}"),
            format!("{flipped}{}-{rest}", &id[1..]),
            format!("{id}-0{expiry}-{sig}"),
            format!("{id}-{expiry}-{}", &sig[..sig.len() - 6]),
            format!("{}-{rest}", id.to_uppercase()),
            file.replace(".png", ""),
            format!("../{file}"),
            String::new(),
            "index.html".into(),
        ] {
            assert!(s.lookup(&bad, now).await.is_none(), "{bad} accepted");
        }
        // Another process's key (or a restart) signs differently.
        let other = ChartStore::with_key("https://x.example", Duration::from_secs(60), [8; 32])
            .expect("store");
        assert!(other.lookup(&file, now).await.is_none());
    }

    #[test]
    fn the_public_url_must_be_http() {
        assert!(ChartStore::with_key("ftp://x", Duration::from_secs(1), [0; 32]).is_err());
        assert!(ChartStore::with_key("not a url", Duration::from_secs(1), [0; 32]).is_err());
    }
}
