//! The state pushes keep between runs: the last run of each subscription, subscriptions
//! made by chat, the last reading of each alert, mutes and daily counts.
//!
//! Behind [`PushStore`] so several replicas can later share it (Redis); the default
//! [`FileStore`] keeps it in one JSON file beside the audit log (`<audit.path>.push.json`),
//! rewritten atomically (a temporary file, synced, then renamed) on every change, so a
//! crash leaves either the old state or the new one, never half of each.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use async_trait::async_trait;
use jiff::Timestamp;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::config::SubscriptionConfig;

/// Where a subscription's schedule stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunMark {
    /// Runs are due from here on: when the subscription was first seen, then the
    /// scheduled time of the last run handled (sent, skipped, or failed and recorded).
    pub after: Timestamp,
    /// A run whose sending began and whose outcome was not recorded yet. Found after a
    /// restart, it is recorded as possibly delivered and not sent again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sending: Option<Timestamp>,
}

/// The last reading of one watched quantity (an item at a warehouse).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlertMark {
    /// Whether the alert fired and has not re-armed yet (the stock has not recovered).
    pub fired: bool,
    pub available: Decimal,
    pub level: Decimal,
    pub read_at: Timestamp,
    /// The state an order was in at the last reading (order polling), by
    /// [`super::events::state_name`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
}

/// Everything the store holds, as the file keeps it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct PushState {
    pub runs: BTreeMap<String, RunMark>,
    /// Subscriptions made by chat, by id.
    pub subscriptions: BTreeMap<String, SubscriptionConfig>,
    /// Configured subscriptions switched off with `askerp subscriptions remove`.
    pub removed: BTreeMap<String, Timestamp>,
    /// Alert readings, by `kind:warehouse:sku`.
    pub alerts: BTreeMap<String, AlertMark>,
    /// Users who muted alerts, until when.
    pub mutes: BTreeMap<String, Timestamp>,
}

#[derive(Debug, thiserror::Error)]
#[error("push state {path}: {detail}")]
pub struct StoreError {
    pub path: String,
    pub detail: String,
}

/// Where push state lives.
#[async_trait]
pub trait PushStore: Send + Sync {
    async fn run(&self, id: &str) -> Result<Option<RunMark>, StoreError>;
    async fn set_run(&self, id: &str, mark: RunMark) -> Result<(), StoreError>;

    /// Subscriptions made by chat.
    async fn chat_subscriptions(&self) -> Result<Vec<SubscriptionConfig>, StoreError>;
    async fn put_subscription(&self, sub: SubscriptionConfig) -> Result<(), StoreError>;
    /// Removes a chat subscription (true when there was one), or marks a configured one
    /// as removed.
    async fn remove_subscription(&self, id: &str, configured: bool) -> Result<bool, StoreError>;
    async fn removed(&self, id: &str) -> Result<bool, StoreError>;

    async fn alert(&self, key: &str) -> Result<Option<AlertMark>, StoreError>;
    async fn set_alert(&self, key: &str, mark: AlertMark) -> Result<(), StoreError>;
    /// Every alert reading whose key starts with `prefix`.
    async fn alerts_with_prefix(
        &self,
        prefix: &str,
    ) -> Result<Vec<(String, AlertMark)>, StoreError>;

    async fn muted_until(&self, user: &str) -> Result<Option<Timestamp>, StoreError>;
    /// Mutes `user` until `until`; `None` lifts the mute.
    async fn set_mute(&self, user: &str, until: Option<Timestamp>) -> Result<(), StoreError>;
}

/// The state in one JSON file. Another process (`askerp subscriptions remove`) may
/// change the file: it is read again whenever its size or modification time changed.
pub struct FileStore {
    path: PathBuf,
    state: Mutex<Loaded>,
}

struct Loaded {
    state: PushState,
    /// The file's (length, modification time) when last read or written.
    seen: Option<(u64, std::time::SystemTime)>,
}

fn stamp(path: &Path) -> Option<(u64, std::time::SystemTime)> {
    let m = std::fs::metadata(path).ok()?;
    Some((m.len(), m.modified().ok()?))
}

fn read_state(path: &Path) -> Result<PushState, StoreError> {
    let err = |detail: String| StoreError {
        path: path.display().to_string(),
        detail,
    };
    match std::fs::read_to_string(path) {
        Ok(text) => serde_json::from_str(&text).map_err(|e| err(e.to_string())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(PushState::default()),
        Err(e) => Err(err(e.to_string())),
    }
}

impl std::fmt::Debug for FileStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileStore")
            .field("path", &self.path)
            .finish()
    }
}

/// The state file of the audit log at `audit_path`.
pub fn path_for(audit_path: &Path) -> PathBuf {
    let mut name = audit_path.as_os_str().to_os_string();
    name.push(".push.json");
    PathBuf::from(name)
}

impl FileStore {
    /// Opens the file, or starts empty when there is none. A file that does not parse
    /// is an error, not an empty state: starting from nothing would send every run again.
    pub fn open(path: &Path) -> Result<FileStore, StoreError> {
        let seen = stamp(path);
        let state = read_state(path)?;
        Ok(FileStore {
            path: path.to_path_buf(),
            state: Mutex::new(Loaded { state, seen }),
        })
    }

    /// A copy of everything held.
    pub fn snapshot(&self) -> Result<PushState, StoreError> {
        Ok(self.lock()?.state.clone())
    }

    /// The state, read again first if another process changed the file.
    fn lock(&self) -> Result<std::sync::MutexGuard<'_, Loaded>, StoreError> {
        let mut loaded = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let now = stamp(&self.path);
        if now != loaded.seen {
            loaded.state = read_state(&self.path)?;
            loaded.seen = now;
        }
        Ok(loaded)
    }

    fn read<T>(&self, f: impl FnOnce(&PushState) -> T) -> Result<T, StoreError> {
        Ok(f(&self.lock()?.state))
    }

    /// Applies `change` and writes the file; on a write error the change is undone, so
    /// memory never runs ahead of the disk.
    fn change<T>(&self, change: impl FnOnce(&mut PushState) -> T) -> Result<T, StoreError> {
        let mut loaded = self.lock()?;
        let before = loaded.state.clone();
        let out = change(&mut loaded.state);
        if loaded.state == before {
            return Ok(out);
        }
        match write_atomically(&self.path, &loaded.state) {
            Ok(()) => {
                loaded.seen = stamp(&self.path);
                Ok(out)
            }
            Err(e) => {
                loaded.state = before;
                Err(StoreError {
                    path: self.path.display().to_string(),
                    detail: e.to_string(),
                })
            }
        }
    }
}

fn write_atomically(path: &Path, state: &PushState) -> std::io::Result<()> {
    let text = serde_json::to_string_pretty(state)?;
    let mut tmp = path.as_os_str().to_os_string();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(text.as_bytes())?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, path)
}

#[async_trait]
impl PushStore for FileStore {
    async fn run(&self, id: &str) -> Result<Option<RunMark>, StoreError> {
        self.read(|s| s.runs.get(id).copied())
    }

    async fn set_run(&self, id: &str, mark: RunMark) -> Result<(), StoreError> {
        self.change(|s| {
            s.runs.insert(id.to_string(), mark);
        })
    }

    async fn chat_subscriptions(&self) -> Result<Vec<SubscriptionConfig>, StoreError> {
        self.read(|s| s.subscriptions.values().cloned().collect())
    }

    async fn put_subscription(&self, sub: SubscriptionConfig) -> Result<(), StoreError> {
        self.change(|s| {
            s.removed.remove(&sub.id);
            s.subscriptions.insert(sub.id.clone(), sub);
        })
    }

    async fn remove_subscription(&self, id: &str, configured: bool) -> Result<bool, StoreError> {
        let now = Timestamp::now();
        self.change(|s| {
            let chat = s.subscriptions.remove(id).is_some();
            if chat {
                s.runs.remove(id);
            }
            if configured {
                s.removed.insert(id.to_string(), now);
            }
            chat || configured
        })
    }

    async fn removed(&self, id: &str) -> Result<bool, StoreError> {
        self.read(|s| s.removed.contains_key(id))
    }

    async fn alert(&self, key: &str) -> Result<Option<AlertMark>, StoreError> {
        self.read(|s| s.alerts.get(key).cloned())
    }

    async fn set_alert(&self, key: &str, mark: AlertMark) -> Result<(), StoreError> {
        self.change(|s| {
            s.alerts.insert(key.to_string(), mark);
        })
    }

    async fn alerts_with_prefix(
        &self,
        prefix: &str,
    ) -> Result<Vec<(String, AlertMark)>, StoreError> {
        self.read(|s| {
            s.alerts
                .range(prefix.to_string()..)
                .take_while(|(k, _)| k.starts_with(prefix))
                .map(|(k, m)| (k.clone(), m.clone()))
                .collect()
        })
    }

    async fn muted_until(&self, user: &str) -> Result<Option<Timestamp>, StoreError> {
        self.read(|s| s.mutes.get(user).copied())
    }

    async fn set_mute(&self, user: &str, until: Option<Timestamp>) -> Result<(), StoreError> {
        self.change(|s| match until {
            Some(t) => {
                s.mutes.insert(user.to_string(), t);
            }
            None => {
                s.mutes.remove(user);
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn state_survives_reopening_and_a_bad_file_is_not_taken_for_empty() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("audit.jsonl.push.json");
        let t: Timestamp = "2026-12-07T01:00:00Z".parse().expect("ts");
        {
            let store = FileStore::open(&path).expect("open");
            store
                .set_run(
                    "weekly",
                    RunMark {
                        after: t,
                        sending: None,
                    },
                )
                .await
                .expect("set");
        }
        let store = FileStore::open(&path).expect("reopen");
        assert_eq!(
            store.run("weekly").await.expect("run").map(|m| m.after),
            Some(t)
        );
        assert!(!path.with_extension("json.tmp").exists());
        std::fs::write(&path, "{ not json").expect("write");
        assert!(FileStore::open(&path).is_err());
    }

    #[tokio::test]
    async fn a_change_by_another_process_is_seen() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("state.json");
        let server = FileStore::open(&path).expect("open");
        let sub = SubscriptionConfig {
            id: "s".into(),
            user: "u".into(),
            group: None,
            question: "q".into(),
            intent: None,
            schedule: "0 9 * * *".into(),
            holidays: Default::default(),
        };
        server.put_subscription(sub).await.expect("put");
        // `askerp subscriptions remove` in another process:
        let cli = FileStore::open(&path).expect("open");
        assert!(cli.remove_subscription("s", false).await.expect("remove"));
        assert!(server.chat_subscriptions().await.expect("read").is_empty());
        // The server's next write does not bring it back.
        server.set_mute("u", None).await.expect("write");
        server
            .set_run(
                "other",
                RunMark {
                    after: Timestamp::UNIX_EPOCH,
                    sending: None,
                },
            )
            .await
            .expect("write");
        let again = FileStore::open(&path).expect("open");
        assert!(again.chat_subscriptions().await.expect("read").is_empty());
    }
}
