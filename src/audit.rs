//! Audit: one JSON line per handled message, appended to a file and hash-chained.
//!
//! Each line carries `prev` (the previous line's hash) and `hash` = SHA-256 of `prev`
//! followed by the line's content without `hash`, so editing or deleting a line breaks
//! the chain and [`verify`] shows where.
//!
//! Several processes may append to one log (the server and an operator's `askerp ask`):
//! each append takes an exclusive lock on the file; the last record's hash is kept in
//! memory and the file's tail is re-read only when its length shows another writer
//! appended, so the chain stays a single chain without reading the file per record.
//!
//! Cutting records off the end leaves a valid chain, so the end is pinned twice: a
//! checkpoint file `<log>.head` (byte length and hash of the last record, rewritten at
//! most every second and on close), and the head `askerp audit verify` prints, which an
//! operator keeps elsewhere and passes back with `--expect-head`.

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

/// How often, at most, the checkpoint file next to the log is rewritten while records are
/// appended (and always when the log is closed).
const CHECKPOINT_EVERY: std::time::Duration = std::time::Duration::from_secs(1);

/// The append-only audit log.
pub struct AuditLog {
    path: PathBuf,
    /// Serializes appends within the process; the file lock does it across processes.
    writer: Mutex<Writer>,
}

/// The open file and what this process knows about its end.
struct Writer {
    file: File,
    /// The file's length and last hash after this process's last append (or read). When the
    /// length is unchanged at the next append, nobody else wrote, and the hash is reused
    /// instead of re-reading the file's tail: that re-read was most of the server's CPU.
    head: Option<Head>,
    checkpointed: Option<std::time::Instant>,
}

/// The end of the chain: the hash of the last record and the file length after it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Head {
    pub bytes: u64,
    pub hash: String,
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

/// The checkpoint file of the log at `path`: `<path>.head`.
pub fn checkpoint_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_os_string();
    name.push(".head");
    PathBuf::from(name)
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
            writer: Mutex::new(Writer {
                file,
                head: None,
                checkpointed: None,
            }),
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
        w.file.lock().map_err(|e| io_err(&self.path, e))?;
        let result = append_locked(&mut w, &mut value);
        let unlocked = w.file.unlock();
        result.map_err(|e| io_err(&self.path, e))?;
        unlocked.map_err(|e| io_err(&self.path, e))?;
        if w.checkpointed
            .is_none_or(|t| t.elapsed() >= CHECKPOINT_EVERY)
        {
            w.checkpointed = Some(std::time::Instant::now());
            if let Some(head) = w.head.clone() {
                write_checkpoint(&self.path, &head).map_err(|e| io_err(&self.path, e))?;
            }
        }
        Ok(())
    }

    /// Writes the checkpoint now (at shutdown, so the last records are covered).
    pub fn checkpoint(&self) -> Result<(), AuditError> {
        let w = self
            .writer
            .lock()
            .map_err(|_| io_err(&self.path, "writer lock poisoned"))?;
        match &w.head {
            Some(head) => write_checkpoint(&self.path, head).map_err(|e| io_err(&self.path, e)),
            None => Ok(()),
        }
    }
}

impl Drop for AuditLog {
    fn drop(&mut self) {
        if let Err(e) = self.checkpoint() {
            tracing::warn!(error = %e, "Audit checkpoint could not be written.");
        }
    }
}

/// Replaces the checkpoint atomically (write a sibling, rename over), never moving it
/// backwards: another writer may have checkpointed a later head of the same chain.
fn write_checkpoint(path: &Path, head: &Head) -> std::io::Result<()> {
    let target = checkpoint_path(path);
    if let Some(existing) = read_checkpoint(path)
        && existing.bytes > head.bytes
    {
        return Ok(());
    }
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let tmp = {
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let mut name = target.as_os_str().to_os_string();
        name.push(format!(".{}.{n}", std::process::id()));
        PathBuf::from(name)
    };
    std::fs::write(&tmp, serde_json::to_string(head)?)?;
    std::fs::rename(&tmp, &target)
}

/// The checkpoint of the log at `path`, when there is one.
pub fn read_checkpoint(path: &Path) -> Option<Head> {
    let text = std::fs::read_to_string(checkpoint_path(path)).ok()?;
    serde_json::from_str(&text).ok()
}

/// Appends under the file lock: finds the previous hash, chains, writes one line.
fn append_locked(w: &mut Writer, value: &mut Value) -> std::io::Result<()> {
    let len = w.file.metadata()?.len();
    let prev = match &w.head {
        Some(h) if h.bytes == len => h.hash.clone(),
        _ => last_hash(&mut w.file)?.unwrap_or_else(|| GENESIS.to_string()),
    };
    if let Value::Object(map) = value {
        map.insert("prev".into(), Value::String(prev.clone()));
    }
    // Serialized once: the hash covers exactly these bytes, and `hash` is spliced in as
    // the last key (`verify` parses the line and drops `hash`, so key order is moot).
    let body = value.to_string();
    let hash = hash_bytes(&prev, &body);
    let mut line = body;
    if line.ends_with('}') && line.len() > 2 {
        line.pop();
        line.push_str(",\"hash\":\"");
        line.push_str(&hash);
        line.push_str("\"}");
    } else {
        return Err(std::io::Error::other(
            "an audit record must be a JSON object",
        ));
    }
    line.push('\n');
    w.file.write_all(line.as_bytes())?;
    w.file.flush()?;
    w.head = Some(Head {
        bytes: len + line.len() as u64,
        hash,
    });
    Ok(())
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
    hash_bytes(prev, &value_without_hash.to_string())
}

fn hash_bytes(prev: &str, body: &str) -> String {
    let mut h = Sha256::new();
    h.update(prev.as_bytes());
    h.update(body.as_bytes());
    hex::encode(h.finalize())
}

/// What [`verify`] found in an intact log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    pub records: usize,
    /// The hash of the last record (the genesis hash for an empty log): keep it elsewhere
    /// and pass it back as `--expect-head` to detect a log cut short or rewritten.
    pub head: String,
    /// Whether the checkpoint file next to the log was found and matched.
    pub checkpoint: bool,
}

/// Checks the whole chain, the checkpoint next to it, and (when given) that the chain
/// contains `expect_head`; returns what was verified, or where it breaks.
///
/// Editing, reordering or deleting a record breaks the chain; cutting records off the end
/// does not, which is what the heads are for: the checkpoint (rewritten every second) must
/// fall on a record boundary with the same hash, and an expected head kept outside the
/// log must be the hash of one of its records.
pub fn verify(path: &Path, expect_head: Option<&str>) -> Result<Verified, String> {
    let file = File::open(path).map_err(|e| e.to_string())?;
    let checkpoint = read_checkpoint(path);
    let mut checkpoint_seen = false;
    let mut expected_seen = expect_head.is_none_or(|h| h == GENESIS);
    let mut prev = GENESIS.to_string();
    let mut n = 0;
    let mut bytes: u64 = 0;
    let mut reader = BufReader::new(file);
    let mut raw = String::new();
    loop {
        raw.clear();
        let read = reader.read_line(&mut raw).map_err(|e| e.to_string())?;
        if read == 0 {
            break;
        }
        let line_no = n + 1;
        if !raw.ends_with('\n') {
            return Err(format!(
                "line {line_no} is incomplete (the log was cut mid-record)"
            ));
        }
        bytes += read as u64;
        let mut v: Value = serde_json::from_str(raw.trim_end())
            .map_err(|_| format!("line {line_no} is not JSON"))?;
        let Some(Value::String(hash)) = v.as_object_mut().and_then(|m| m.remove("hash")) else {
            return Err(format!("line {line_no} has no hash"));
        };
        if v.get("prev").and_then(Value::as_str) != Some(prev.as_str())
            || chain_hash(&prev, &v) != hash
        {
            return Err(format!("chain broken at line {line_no}"));
        }
        if let Some(c) = &checkpoint
            && c.bytes == bytes
        {
            if c.hash != hash {
                return Err(format!(
                    "line {line_no} does not match the checkpoint {}",
                    checkpoint_path(path).display()
                ));
            }
            checkpoint_seen = true;
        }
        if expect_head == Some(hash.as_str()) {
            expected_seen = true;
        }
        prev = hash;
        n += 1;
    }
    if let Some(c) = &checkpoint
        && !checkpoint_seen
    {
        return Err(format!(
            "the log ends before its checkpoint (byte {}, {}): records were removed from the end",
            c.bytes,
            checkpoint_path(path).display()
        ));
    }
    if !expected_seen {
        return Err(format!(
            "the expected head {} is not in the log: records were removed or rewritten",
            expect_head.unwrap_or_default()
        ));
    }
    Ok(Verified {
        records: n,
        head: prev,
        checkpoint: checkpoint_seen,
    })
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
        assert_eq!(verify(&path, None).map(|v| v.records), Ok(3));

        // Two writers on one file (two processes, or the server and the CLI) keep one chain.
        let other = AuditLog::open(&path).expect("second writer");
        log.append(&record("d")).expect("append");
        other.append(&record("e")).expect("append");
        log.append(&record("f")).expect("append");
        assert_eq!(verify(&path, None).map(|v| v.records), Ok(6));

        let text = std::fs::read_to_string(&path).expect("read");
        std::fs::write(&path, text.replacen("\"b\"", "\"x\"", 1)).expect("write");
        assert_eq!(verify(&path, None), Err("chain broken at line 2".into()));
    }

    /// Every kind of tampering is detected: editing, deleting, reordering a record, and
    /// cutting the tail (by the checkpoint, and by a head kept outside the log even when
    /// the checkpoint is removed too).
    #[test]
    fn tampering_and_truncation_are_detected_by_the_heads() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("audit.jsonl");
        let head = {
            let log = AuditLog::open(&path).expect("open");
            for m in ["a", "b", "c", "d", "e"] {
                log.append(&record(m)).expect("append");
            }
            log.checkpoint().expect("checkpoint");
            let v = verify(&path, None).expect("intact");
            assert_eq!((v.records, v.checkpoint), (5, true));
            v.head
        };
        assert_eq!(verify(&path, Some(&head)).map(|v| v.records), Ok(5));
        let original = std::fs::read_to_string(&path).expect("read");
        let lines: Vec<&str> = original.lines().collect();
        let join = |ls: &[&str]| ls.iter().map(|l| format!("{l}\n")).collect::<String>();
        let cases: Vec<(&str, String)> = vec![
            ("edit", original.replacen("\"c\"", "\"x\"", 1)),
            ("delete", join(&[lines[0], lines[1], lines[3], lines[4]])),
            (
                "reorder",
                join(&[lines[0], lines[2], lines[1], lines[3], lines[4]]),
            ),
            ("cut tail", join(&lines[..4])),
            (
                "cut mid-record",
                original[..original.len() - 10].to_string(),
            ),
            ("empty", String::new()),
        ];
        for (what, text) in &cases {
            std::fs::write(&path, text).expect("write");
            assert!(verify(&path, None).is_err(), "{what} not detected");
            assert!(verify(&path, Some(&head)).is_err(), "{what} not detected");
        }
        // Without the checkpoint, the kept head still catches a cut tail.
        std::fs::remove_file(checkpoint_path(&path)).expect("rm");
        std::fs::write(&path, join(&lines[..4])).expect("write");
        assert!(verify(&path, None).is_ok());
        assert!(verify(&path, Some(&head)).is_err());
    }

    /// The chain head is kept in memory, but another writer's appends are still chained
    /// onto (the file length tells that someone else wrote).
    #[test]
    fn another_writers_records_are_chained_onto() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("audit.jsonl");
        let a = AuditLog::open(&path).expect("a");
        let b = AuditLog::open(&path).expect("b");
        for i in 0..20 {
            let log = if i % 3 == 0 { &b } else { &a };
            log.append(&record(&format!("m{i}"))).expect("append");
        }
        assert_eq!(verify(&path, None).map(|v| v.records), Ok(20));
    }
}
