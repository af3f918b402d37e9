//! Audit: one JSON line per handled message, hash-chained, written to a file (rotated
//! and kept), to standard output for a log pipeline, or to PostgreSQL.
//!
//! Each line carries `prev` (the previous line's hash) and `hash` = SHA-256 of `prev`
//! followed by the line's content without `hash`, so editing, reordering or deleting a
//! line breaks the chain and [`verify`] shows where.
//!
//! Cutting records off the end leaves a valid chain, so the end is pinned twice: a
//! checkpoint file `<log>.head` (where the current file ends and its last hash, rewritten
//! at most every second and on close), and the head `askerp audit verify` prints, which an
//! operator keeps elsewhere and passes back with `--expect-head`.
//!
//! The sinks are [`file`] (the default), stdout and [`postgres`]; [`search`] answers
//! "who saw whose data, where" from the file.

pub mod file;
pub mod postgres;
pub mod search;

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::config::{AuditConfig, AuditSink};
use crate::intent::Slots;

/// The hash a chain starts from.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

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
    /// `degraded` when shared state (Redis) did not answer and this replica alone deduped
    /// the message: should it also have reached another replica, both records show it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    #[error("audit log {path}: {detail}")]
    Io { path: String, detail: String },
}

pub(crate) fn io_err(path: &Path, e: impl std::fmt::Display) -> AuditError {
    AuditError::Io {
        path: path.display().to_string(),
        detail: e.to_string(),
    }
}

/// The end of a chain: the hash of the last record, where the current file ends after it,
/// and the `prev` of that file's first record (which names the file across rotations).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Head {
    pub bytes: u64,
    pub hash: String,
    #[serde(default = "genesis")]
    pub file_starts_at: String,
}

fn genesis() -> String {
    GENESIS.to_string()
}

/// Where records go.
enum Sink {
    File(Mutex<file::Writer>),
    Stdout(Mutex<String>),
    Postgres(postgres::PgSink),
}

/// The append-only audit log.
pub struct AuditLog {
    /// `audit.path`: the file, or with the other sinks the base name of the state kept
    /// beside it (the shutdown spool).
    path: PathBuf,
    sink: Sink,
}

impl std::fmt::Debug for AuditLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditLog")
            .field("path", &self.path)
            .finish()
    }
}

impl AuditLog {
    /// Opens (creating if needed) the file log at `path` and continues its chain, without
    /// rotation.
    pub fn open(path: &Path) -> Result<AuditLog, AuditError> {
        Ok(AuditLog {
            path: path.to_path_buf(),
            sink: Sink::File(Mutex::new(file::Writer::open(path, 0, 0)?)),
        })
    }

    /// Opens the log `config` describes. The PostgreSQL sink connects lazily and needs a
    /// Tokio runtime.
    pub fn from_config(config: &AuditConfig) -> Result<AuditLog, AuditError> {
        let path = config.path.clone();
        let sink = match config.sink {
            AuditSink::File => Sink::File(Mutex::new(file::Writer::open(
                &path,
                config.max_bytes,
                config.keep,
            )?)),
            AuditSink::Stdout => Sink::Stdout(Mutex::new(GENESIS.to_string())),
            AuditSink::Postgres => Sink::Postgres(postgres::PgSink::start(
                config.postgres_url.expose(),
                &config.postgres_table,
            )?),
        };
        Ok(AuditLog { path, sink })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends one record. Failures are returned so the caller can log them; handling a
    /// message never stops because the audit disk is full.
    pub fn append(&self, record: &AuditRecord) -> Result<(), AuditError> {
        if let Sink::File(w) = &self.sink {
            // The file sink writes the record's canonical line straight from the struct
            // (`record_line`), not through a `Value` tree built and dropped per message.
            return w
                .lock()
                .map_err(|_| io_err(&self.path, "writer lock poisoned"))?
                .append_with(|prev| record_line(prev, record));
        }
        let value = serde_json::to_value(record).map_err(|e| io_err(&self.path, e))?;
        match &self.sink {
            Sink::File(w) => w
                .lock()
                .map_err(|_| io_err(&self.path, "writer lock poisoned"))?
                .append(value),
            Sink::Stdout(head) => {
                let mut head = head
                    .lock()
                    .map_err(|_| io_err(&self.path, "writer lock poisoned"))?;
                let (line, hash) = chain_line(&head, value).map_err(|e| io_err(&self.path, e))?;
                use std::io::Write;
                let mut out = std::io::stdout().lock();
                out.write_all(line.as_bytes())
                    .and_then(|()| out.flush())
                    .map_err(|e| io_err(Path::new("stdout"), e))?;
                *head = hash;
                Ok(())
            }
            Sink::Postgres(pg) => pg.append(value),
        }
    }

    /// Writes the checkpoint now (at shutdown, so the last records are covered) and, for
    /// PostgreSQL, waits until every queued record is stored.
    pub async fn close(&self) -> Result<(), AuditError> {
        match &self.sink {
            Sink::Postgres(pg) => pg.flush().await,
            _ => self.checkpoint(),
        }
    }

    /// Writes the file log's checkpoint now.
    pub fn checkpoint(&self) -> Result<(), AuditError> {
        match &self.sink {
            Sink::File(w) => w
                .lock()
                .map_err(|_| io_err(&self.path, "writer lock poisoned"))?
                .checkpoint(),
            _ => Ok(()),
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

/// Chains `value` onto `prev`: inserts `prev`, serializes once, and splices `hash` in as
/// the last key (`verify` parses the line and drops `hash`, so key order is moot).
/// Returns the line (with its newline) and its hash.
pub(crate) fn chain_line(prev: &str, mut value: Value) -> std::io::Result<(String, String)> {
    let Value::Object(map) = &mut value else {
        return Err(std::io::Error::other(
            "an audit record must be a JSON object",
        ));
    };
    map.insert("prev".into(), Value::String(prev.to_string()));
    let body = value.to_string();
    let hash = hash_bytes(prev, &body);
    let mut line = body;
    line.pop();
    line.push_str(",\"hash\":\"");
    line.push_str(&hash);
    line.push_str("\"}\n");
    Ok((line, hash))
}

/// `record` chained onto `prev`, byte for byte the line [`chain_line`] makes of
/// `serde_json::to_value(record)`: the same keys in the same (sorted) order, the same
/// values, so [`verify`], which re-serializes each parsed line, checks it unchanged.
/// Serialized straight from the struct, which costs a fraction of building the `Value`
/// tree (tested against `chain_line` on full and empty records).
pub(crate) fn record_line(prev: &str, record: &AuditRecord) -> std::io::Result<(String, String)> {
    /// The record's fields in the order `Value`'s sorted map writes them, `prev` included.
    #[derive(Serialize)]
    struct Canonical<'a> {
        channel: &'a str,
        connector: &'a Option<String>,
        conversation_id: &'a str,
        conversation_type: &'a str,
        decision: &'a str,
        delivery: &'a Option<String>,
        erp_latency_ms: &'a Option<u64>,
        intent: &'a Option<String>,
        latency_ms: &'a Option<u64>,
        msg_id: &'a str,
        outcome: &'a str,
        prev: &'a str,
        principal: &'a Option<String>,
        reason: &'a Option<String>,
        rule: &'a Option<String>,
        sends: &'a [String],
        // A nested struct: through `Value` so its keys are sorted as well.
        slots: Value,
        source: &'a Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        state: &'a Option<String>,
        text: &'a Option<String>,
        time: &'a Option<Timestamp>,
        user: &'a Option<String>,
    }
    let canonical = Canonical {
        channel: &record.channel,
        connector: &record.connector,
        conversation_id: &record.conversation_id,
        conversation_type: &record.conversation_type,
        decision: &record.decision,
        delivery: &record.delivery,
        erp_latency_ms: &record.erp_latency_ms,
        intent: &record.intent,
        latency_ms: &record.latency_ms,
        msg_id: &record.msg_id,
        outcome: &record.outcome,
        prev,
        principal: &record.principal,
        reason: &record.reason,
        rule: &record.rule,
        sends: &record.sends,
        slots: serde_json::to_value(&record.slots).map_err(std::io::Error::other)?,
        source: &record.source,
        state: &record.state,
        text: &record.text,
        time: &record.time,
        user: &record.user,
    };
    let mut line = serde_json::to_string(&canonical).map_err(std::io::Error::other)?;
    let hash = hash_bytes(prev, &line);
    line.pop();
    line.push_str(",\"hash\":\"");
    line.push_str(&hash);
    line.push_str("\"}\n");
    Ok((line, hash))
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
    /// How many files the chain spans (rotated ones first).
    pub files: usize,
    /// The `prev` of the first kept record: the genesis hash, or the hash of the last
    /// record of a file that retention (`audit.keep`) removed.
    pub starts_at: String,
}

/// Checks a chain line by line.
pub(crate) struct ChainCheck<'a> {
    prev: Option<String>,
    expect_head: Option<&'a str>,
    expected_seen: bool,
    pub records: usize,
    pub starts_at: Option<String>,
}

impl<'a> ChainCheck<'a> {
    pub(crate) fn new(expect_head: Option<&'a str>) -> ChainCheck<'a> {
        ChainCheck {
            prev: None,
            expected_seen: expect_head.is_none_or(|h| h == GENESIS),
            expect_head,
            records: 0,
            starts_at: None,
        }
    }

    /// Checks one line (without its newline); `where_` names it in errors. Returns its
    /// hash. The very first line may start from a hash other than genesis (retention).
    pub(crate) fn line(&mut self, text: &str, where_: &str) -> Result<String, String> {
        let mut v: Value =
            serde_json::from_str(text).map_err(|_| format!("{where_} is not JSON"))?;
        let Some(Value::String(hash)) = v.as_object_mut().and_then(|m| m.remove("hash")) else {
            return Err(format!("{where_} has no hash"));
        };
        let prev = v
            .get("prev")
            .and_then(Value::as_str)
            .map(str::to_string)
            .ok_or_else(|| format!("{where_} has no prev"))?;
        match &self.prev {
            Some(p) if *p != prev => return Err(format!("chain broken at {where_}")),
            None => self.starts_at = Some(prev.clone()),
            _ => {}
        }
        if chain_hash(&prev, &v) != hash {
            return Err(format!("chain broken at {where_}"));
        }
        if self.expect_head == Some(hash.as_str()) {
            self.expected_seen = true;
        }
        self.prev = Some(hash.clone());
        self.records += 1;
        Ok(hash)
    }

    pub(crate) fn finish(self, checkpoint: bool, files: usize) -> Result<Verified, String> {
        if !self.expected_seen {
            return Err(format!(
                "the expected head {} is not in the log: records were removed or rewritten",
                self.expect_head.unwrap_or_default()
            ));
        }
        Ok(Verified {
            records: self.records,
            head: self.prev.unwrap_or_else(genesis),
            checkpoint,
            files,
            starts_at: self.starts_at.unwrap_or_else(genesis),
        })
    }
}

/// Checks the file log at `path` with its rotated files (`path.N` … `path.1`, then
/// `path`), the checkpoint next to it, and (when given) that the chain contains
/// `expect_head`; returns what was verified, or where it breaks.
pub fn verify(path: &Path, expect_head: Option<&str>) -> Result<Verified, String> {
    file::verify(path, expect_head)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// The file sink's direct line must be the line of the `Value` path byte for byte, or
    /// `verify` (which re-serializes) would call every new record tampered with.
    #[test]
    fn the_direct_line_is_the_value_line() {
        let full = AuditRecord {
            time: Some(Timestamp::from_second(1_796_000_000).expect("time")),
            channel: "callback".into(),
            msg_id: "msg\"quoted\"\n==".into(),
            conversation_id: "cid九龍==".into(),
            conversation_type: "group".into(),
            user: Some("demo.manager".into()),
            principal: Some("E1002".into()),
            text: Some("上個月九龍區營業額 \u{1f600} <b>&</b>\t".into()),
            intent: Some("sales_summary".into()),
            slots: Slots {
                region: Some("Kowloon".into()),
                item: Some("iPhone 15 Pro 256GB".into()),
                limit: Some(5),
                compare: Some(crate::intent::Compare::LastYear),
                ..Slots::default()
            },
            source: Some("rule".into()),
            rule: Some("sales.region".into()),
            decision: "allow".into(),
            reason: Some("not found: \\ backslash".into()),
            connector: Some("demo".into()),
            erp_latency_ms: Some(3),
            delivery: Some("conversation".into()),
            sends: vec!["webhook:ok".into(), "private:ok".into()],
            outcome: "delivered".into(),
            latency_ms: Some(12),
            state: Some("degraded".into()),
        };
        let empty = AuditRecord::default();
        let plain = record("msgPlain==");
        for r in [&full, &empty, &plain] {
            let via_value =
                chain_line(GENESIS, serde_json::to_value(r).expect("value")).expect("line");
            assert_eq!(record_line(GENESIS, r).expect("line"), via_value);
        }
    }

    /// A minimal answered record, for the sinks' tests.
    pub(crate) fn record(msg: &str) -> AuditRecord {
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
        std::fs::remove_file(file::checkpoint_path(&path)).expect("rm");
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
