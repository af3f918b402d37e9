//! Audit: one JSON line per handled message, appended to a file and hash-chained.
//!
//! Each line carries `prev` (the previous line's hash) and `hash` = SHA-256 of `prev`
//! followed by the line's content without `hash`, so editing or deleting a line breaks
//! the chain and [`verify`] shows where. The writer continues the chain of an existing
//! file on restart.

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use jiff::Timestamp;
use serde::Serialize;
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::intent::Slots;

/// The hash a chain starts from.
const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// What is recorded about one handled message.
#[derive(Debug, Clone, Default, Serialize)]
pub struct AuditRecord {
    pub time: Option<Timestamp>,
    /// `callback`, `cli`, …
    pub channel: String,
    pub msg_id: String,
    pub conversation_id: String,
    /// `1:1` or `group`.
    pub conversation_type: String,
    /// The DingTalk user id.
    pub user: Option<String>,
    /// The employee id the user maps to.
    pub principal: Option<String>,
    pub text: Option<String>,
    pub intent: Option<String>,
    pub slots: Slots,
    /// `rule`, `llm`, `context`.
    pub source: Option<String>,
    /// The id of the rule that matched.
    pub rule: Option<String>,
    /// `allow`, `deny`, `clarify`, `unknown_user`, `not_understood`, `error`, `refused`.
    pub decision: String,
    pub reason: Option<String>,
    pub connector: Option<String>,
    pub erp_latency_ms: Option<u64>,
    /// `conversation` or `private`.
    pub delivery: Option<String>,
    /// Every send attempt: `webhook:ok`, `webhook:refused:foreign_host`, `private:ok`, …
    pub sends: Vec<String>,
    /// `delivered`, `failed`, `not_sent`, `duplicate`.
    pub outcome: String,
    /// Total handling time.
    pub latency_ms: Option<u64>,
}

#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    #[error("audit log {path}: {detail}")]
    Io { path: String, detail: String },
}

struct Writer {
    file: File,
    prev: String,
}

/// The append-only audit log.
pub struct AuditLog {
    path: PathBuf,
    writer: Mutex<Writer>,
}

impl std::fmt::Debug for AuditLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditLog")
            .field("path", &self.path)
            .finish()
    }
}

fn io_err(path: &Path, e: impl std::fmt::Display) -> AuditError {
    AuditError::Io {
        path: path.display().to_string(),
        detail: e.to_string(),
    }
}

impl AuditLog {
    /// Opens (creating if needed) the log at `path` and continues its chain.
    pub fn open(path: &Path) -> Result<AuditLog, AuditError> {
        if let Some(dir) = path.parent()
            && !dir.as_os_str().is_empty()
        {
            std::fs::create_dir_all(dir).map_err(|e| io_err(path, e))?;
        }
        let prev = last_hash(path)?.unwrap_or_else(|| GENESIS.to_string());
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|e| io_err(path, e))?;
        Ok(AuditLog {
            path: path.to_path_buf(),
            writer: Mutex::new(Writer { file, prev }),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends one record. Failures are returned so the caller can log them; handling a
    /// message never stops because the audit disk is full.
    pub fn append(&self, record: &AuditRecord) -> Result<(), AuditError> {
        let mut value = serde_json::to_value(record).map_err(|e| io_err(&self.path, e))?;
        let mut w = self
            .writer
            .lock()
            .map_err(|_| io_err(&self.path, "writer lock poisoned"))?;
        if let Value::Object(map) = &mut value {
            map.insert("prev".into(), Value::String(w.prev.clone()));
        }
        let hash = chain_hash(&w.prev, &value);
        if let Value::Object(map) = &mut value {
            map.insert("hash".into(), Value::String(hash.clone()));
        }
        let mut line = serde_json::to_string(&value).map_err(|e| io_err(&self.path, e))?;
        line.push('\n');
        w.file
            .write_all(line.as_bytes())
            .and_then(|()| w.file.flush())
            .map_err(|e| io_err(&self.path, e))?;
        w.prev = hash;
        Ok(())
    }
}

/// SHA-256 over the previous hash and the record (with `prev`, without `hash`).
fn chain_hash(prev: &str, value_without_hash: &Value) -> String {
    let mut h = Sha256::new();
    h.update(prev.as_bytes());
    h.update(value_without_hash.to_string().as_bytes());
    hex::encode(h.finalize())
}

fn last_hash(path: &Path) -> Result<Option<String>, AuditError> {
    let file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io_err(path, e)),
    };
    let mut last = None;
    for line in BufReader::new(file).lines() {
        let line = line.map_err(|e| io_err(path, e))?;
        if let Ok(v) = serde_json::from_str::<Value>(&line)
            && let Some(h) = v.get("hash").and_then(Value::as_str)
        {
            last = Some(h.to_string());
        }
    }
    Ok(last)
}

/// Checks the whole chain; returns the number of records, or the 1-based line where it
/// breaks.
pub fn verify(path: &Path) -> Result<usize, String> {
    let file = File::open(path).map_err(|e| e.to_string())?;
    let mut prev = GENESIS.to_string();
    let mut n = 0;
    for (i, line) in BufReader::new(file).lines().enumerate() {
        let line = line.map_err(|e| e.to_string())?;
        let mut v: Value =
            serde_json::from_str(&line).map_err(|_| format!("line {} is not JSON", i + 1))?;
        let Some(Value::String(hash)) = v.as_object_mut().and_then(|m| m.remove("hash")) else {
            return Err(format!("line {} has no hash", i + 1));
        };
        if v.get("prev").and_then(Value::as_str) != Some(prev.as_str())
            || chain_hash(&prev, &v) != hash
        {
            return Err(format!("chain broken at line {}", i + 1));
        }
        prev = hash;
        n += 1;
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(msg: &str) -> AuditRecord {
        AuditRecord {
            msg_id: msg.into(),
            decision: "allow".into(),
            outcome: "delivered".into(),
            ..AuditRecord::default()
        }
    }

    #[test]
    fn chain_survives_restart_and_detects_tampering() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("audit.jsonl");
        {
            let log = AuditLog::open(&path).expect("open");
            log.append(&record("a")).expect("append");
            log.append(&record("b")).expect("append");
        }
        let log = AuditLog::open(&path).expect("reopen");
        log.append(&record("c")).expect("append");
        assert_eq!(verify(&path), Ok(3));

        let text = std::fs::read_to_string(&path).expect("read");
        std::fs::write(&path, text.replacen("\"b\"", "\"x\"", 1)).expect("write");
        assert_eq!(verify(&path), Err("chain broken at line 2".into()));
    }
}
