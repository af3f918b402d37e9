//! Messages accepted but not answered when the server stops, kept for the next start.
//!
//! A message is acknowledged to DingTalk at once (HTTP 200 or the Stream ACK), so DingTalk
//! never sends it again: if the answer is still queued when the shutdown grace period
//! ends, it would be lost. Such messages are written to the spool (`<audit.path>.spool`,
//! one JSON line each) and answered by the next start.
//!
//! Never twice: each message's delivery passes a [`Gate`]. The first send attempt opens
//! it; shutdown may only withdraw a message whose gate is still closed (nothing sent yet),
//! and a withdrawn message's sends are refused, so a message is either sent by this
//! process or spooled for the next, not both. A message caught mid-send is recorded as
//! not answered instead (it may have arrived; sending it again could repeat it).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};

use serde::{Deserialize, Serialize};

use crate::channel::Inbound;

const QUEUED: u8 = 0;
const SENDING: u8 = 1;
const WITHDRAWN: u8 = 2;

/// The delivery gate of one message.
#[derive(Debug, Default)]
pub struct Gate(AtomicU8);

impl Gate {
    /// Called before every send: true when the send may go out (and from now on the
    /// message can no longer be withdrawn).
    pub fn open(&self) -> bool {
        match self
            .0
            .compare_exchange(QUEUED, SENDING, Ordering::AcqRel, Ordering::Acquire)
        {
            Ok(_) => true,
            Err(state) => state == SENDING,
        }
    }

    /// Withdraws the message if nothing was sent for it yet.
    pub fn withdraw(&self) -> bool {
        self.0
            .compare_exchange(QUEUED, WITHDRAWN, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    }

    pub fn withdrawn(&self) -> bool {
        self.0.load(Ordering::Acquire) == WITHDRAWN
    }
}

tokio::task_local! {
    /// The gate of the message whose answer the current task is delivering.
    pub static GATE: Arc<Gate>;
}

/// Whether a send may go out now: always outside a gated delivery (the CLI, tests),
/// otherwise as the current message's gate says.
pub fn may_send() -> bool {
    GATE.try_with(|g| g.open()).unwrap_or(true)
}

/// One spooled message.
#[derive(Debug, Serialize, Deserialize)]
pub struct Spooled {
    pub inbound: Inbound,
    pub channel: String,
}

/// The spool file of the audit log at `audit_path`.
pub fn path_for(audit_path: &Path) -> PathBuf {
    let mut name = audit_path.as_os_str().to_os_string();
    name.push(".spool");
    PathBuf::from(name)
}

/// Appends `messages` to the spool and syncs it to disk.
pub fn save(path: &Path, messages: &[Spooled]) -> std::io::Result<()> {
    if messages.is_empty() {
        return Ok(());
    }
    let mut text = String::new();
    for m in messages {
        text.push_str(&serde_json::to_string(m)?);
        text.push('\n');
    }
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?;
    file.write_all(text.as_bytes())?;
    file.sync_all()
}

/// Takes every spooled message, leaving the spool empty. The file is renamed first, so
/// two processes starting together cannot both take the same messages; lines that do
/// not parse are returned as errors, to be logged, not dropped silently.
pub fn take(path: &Path) -> std::io::Result<(Vec<Spooled>, Vec<String>)> {
    let taking = {
        let mut name = path.as_os_str().to_os_string();
        name.push(format!(".taking.{}", std::process::id()));
        PathBuf::from(name)
    };
    match std::fs::rename(path, &taking) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((Vec::new(), Vec::new())),
        Err(e) => return Err(e),
    }
    let text = std::fs::read_to_string(&taking)?;
    let mut taken = Vec::new();
    let mut bad = Vec::new();
    for (i, line) in text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        match serde_json::from_str::<Spooled>(line) {
            Ok(m) => taken.push(m),
            Err(e) => bad.push(format!("spool line {}: {e}", i + 1)),
        }
    }
    std::fs::remove_file(&taking)?;
    Ok((taken, bad))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_is_either_sent_or_withdrawn_never_both() {
        let g = Gate::default();
        assert!(g.withdraw());
        assert!(!g.open());
        let g = Gate::default();
        assert!(g.open());
        assert!(
            g.open(),
            "a second send of the same answer (a fallback) may go out"
        );
        assert!(!g.withdraw());
    }
}
