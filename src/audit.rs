//! Audit: one JSON line per handled message, appended to a file and hash-chained.
//!
//! Each line carries `prev` (the previous line's hash) and `hash` = SHA-256 of `prev`
//! followed by the line's content without `hash`, so editing or deleting a line breaks
//! the chain and [`verify`] shows where.
//!
//! Several processes may append to one log (the server and an operator's `askerp ask`):
//! each append takes an exclusive lock on the file and reads the last record's hash
//! under it, so the chain stays a single chain.

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom, Write};
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
    /// `delivered`, `failed`, `printed` (CLI), `not_processed` (refused requests).
    pub outcome: String,
    /// Total handling time.
    pub latency_ms: Option<u64>,
}

#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    #[error("audit log {path}: {detail}")]
    Io { path: String, detail: String },
}

/// Records are far smaller than this; the last one is always inside the tail read.
const TAIL_BYTES: u64 = 256 * 1024;

/// The append-only audit log.
pub struct AuditLog {
    path: PathBuf,
    /// Serializes appends within the process; the file lock does it across processes.
    file: Mutex<File>,
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
        let file = OpenOptions::new()
            .create(true)
            .read(true)
            .append(true)
            .open(path)
            .map_err(|e| io_err(path, e))?;
        Ok(AuditLog {
            path: path.to_path_buf(),
            file: Mutex::new(file),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends one record. Failures are returned so the caller can log them; handling a
    /// message never stops because the audit disk is full.
    pub fn append(&self, record: &AuditRecord) -> Result<(), AuditError> {
        let mut value = serde_json::to_value(record).map_err(|e| io_err(&self.path, e))?;
        let mut file = self
            .file
            .lock()
            .map_err(|_| io_err(&self.path, "writer lock poisoned"))?;
        file.lock().map_err(|e| io_err(&self.path, e))?;
        let result = append_locked(&mut file, &mut value);
        let unlocked = file.unlock();
        result.map_err(|e| io_err(&self.path, e))?;
        unlocked.map_err(|e| io_err(&self.path, e))
    }
}

/// Appends under the file lock: finds the previous hash, chains, writes one line.
fn append_locked(file: &mut File, value: &mut Value) -> std::io::Result<()> {
    let prev = last_hash(file)?.unwrap_or_else(|| GENESIS.to_string());
    if let Value::Object(map) = value {
        map.insert("prev".into(), Value::String(prev.clone()));
    }
    let hash = chain_hash(&prev, value);
    if let Value::Object(map) = value {
        map.insert("hash".into(), Value::String(hash));
    }
    let mut line = serde_json::to_string(value)?;
    line.push('\n');
    file.write_all(line.as_bytes())?;
    file.flush()
}

/// The hash of the last complete record, read from the end of the file.
fn last_hash(file: &mut File) -> std::io::Result<Option<String>> {
    let len = file.seek(SeekFrom::End(0))?;
    let start = len.saturating_sub(TAIL_BYTES);
    file.seek(SeekFrom::Start(start))?;
    let mut tail = Vec::new();
    file.read_to_end(&mut tail)?;
    let text = String::from_utf8_lossy(&tail);
    Ok(text
        .lines()
        .rev()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find_map(|v| v.get("hash").and_then(Value::as_str).map(str::to_string)))
}

/// SHA-256 over the previous hash and the record (with `prev`, without `hash`).
fn chain_hash(prev: &str, value_without_hash: &Value) -> String {
    let mut h = Sha256::new();
    h.update(prev.as_bytes());
    h.update(value_without_hash.to_string().as_bytes());
    hex::encode(h.finalize())
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

        // Two writers on one file (two processes, or the server and the CLI) keep one chain.
        let other = AuditLog::open(&path).expect("second writer");
        log.append(&record("d")).expect("append");
        other.append(&record("e")).expect("append");
        log.append(&record("f")).expect("append");
        assert_eq!(verify(&path), Ok(6));

        let text = std::fs::read_to_string(&path).expect("read");
        std::fs::write(&path, text.replacen("\"b\"", "\"x\"", 1)).expect("write");
        assert_eq!(verify(&path), Err("chain broken at line 2".into()));
    }
}
