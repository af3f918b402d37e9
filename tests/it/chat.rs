//! `askerp chat` as a user meets it: the real binary, once with piped standard input
//! (rustyline's plain fallback) and once on a pseudo-terminal made by util-linux `script`
//! (line editing: the Up key recalls the last line). Commands are run or reported, never
//! asked; `/explain` shows the trace; terminal control sequences never reach the audit log.

use std::io::{Read, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_askerp");
const QUESTION: &str = "how many iPhone 15 Pro 256GB in stock?";

fn records(audit: &Path) -> Vec<Value> {
    std::fs::read_to_string(audit)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).expect("audit line is JSON"))
        .collect()
}

fn chat_command(audit: &Path, history: &Path) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.args(["chat", "--as", "demo.staff", "--history"])
        .arg(history)
        .env("ASKERP_AUDIT__PATH", audit)
        .env_remove("ASKERP_CONFIG")
        .env_remove("RUST_LOG");
    cmd
}

#[test]
fn piped_chat_reports_commands_explains_and_never_asks_control_keys() {
    let dir = tempfile::tempdir().expect("tempdir");
    let audit = dir.path().join("audit.jsonl");
    let history = dir.path().join("hist/chat_history");
    let mut child = chat_command(&audit, &history)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run askerp chat");
    let input = format!("/foo\n/help\n\u{1b}[A\n\u{1b}[B\u{1b}[D\n/explain\n{QUESTION}\n/quit\n");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input.as_bytes())
        .expect("write");
    let out = child.wait_with_output().expect("chat ends");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("unknown command /foo"),
        "an unknown command is reported: {stdout}"
    );
    for command in ["/help", "/as USER", "/group", "/1on1", "/explain", "/quit"] {
        assert!(stdout.contains(command), "/help lists {command}: {stdout}");
    }
    assert!(stdout.contains("terminal control keys ignored"), "{stdout}");
    assert!(stdout.contains("(explain on"), "{stdout}");
    // The answer, then its trace: the rule's reading, the cues, the decision.
    let card = stdout.find("iPhone 15 Pro 256GB").expect("the stock card");
    let trace = stdout.find("┌─ trace").expect("a trace under the answer");
    assert!(card < trace, "{stdout}");
    let trace = &stdout[trace..];
    for part in [
        "intent: inventory.stock",
        "source: rule",
        "cues: inventory.stock",
        "entity: item",
        "decision: allow",
        "principal: ",
        "connector: demo",
    ] {
        assert!(trace.contains(part), "trace lacks {part:?}: {trace}");
    }
    // Exactly one question reached the pipeline: not /foo, not /help, not the arrow keys.
    let recs = records(&audit);
    assert_eq!(recs.len(), 1, "{recs:#?}");
    assert_eq!(recs[0]["text"], QUESTION);
    let log = std::fs::read_to_string(&audit).expect("audit");
    assert!(!log.contains("\\u001b") && !log.contains('\u{1b}'), "{log}");
    // The history file was written (its directory created), without control sequences.
    let hist = std::fs::read_to_string(&history).expect("history written");
    assert!(hist.contains(QUESTION), "{hist}");
    assert!(!hist.contains('\u{1b}'), "{hist:?}");
}

/// Output of a process on a pseudo-terminal, collected by a reader thread.
struct Screen(Arc<Mutex<Vec<u8>>>);

impl Screen {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().expect("screen")).into_owned()
    }

    /// Waits until `needle` has appeared `times` times.
    fn wait_for(&self, needle: &str, times: usize) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while self.text().matches(needle).count() < times {
            assert!(
                Instant::now() < deadline,
                "waited for {needle:?} x{times}; screen:\n{}",
                self.text()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

#[test]
fn on_a_terminal_the_up_key_recalls_the_last_line_instead_of_asking_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let audit = dir.path().join("audit.jsonl");
    let history = dir.path().join("chat_history");
    let chat = chat_command(&audit, &history);
    let mut line = format!("{BIN:?}");
    for arg in chat.get_args() {
        line.push(' ');
        line.push_str(&format!("{:?}", arg.to_string_lossy()));
    }
    // `script` (util-linux, in every Debian) runs the chat on a new pseudo-terminal and
    // copies this pipe to it as if typed.
    let mut cmd = Command::new("script");
    cmd.args(["-q", "-e", "-c", &line, "/dev/null"])
        .env("TERM", "xterm")
        .env("ASKERP_AUDIT__PATH", &audit)
        .env_remove("ASKERP_CONFIG")
        .env_remove("RUST_LOG")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    let mut child = cmd.spawn().expect("util-linux script is installed");
    let mut stdout = child.stdout.take().expect("stdout");
    let screen = Screen(Arc::new(Mutex::new(Vec::new())));
    let buf = screen.0.clone();
    let reader = std::thread::spawn(move || {
        let mut chunk = [0u8; 4096];
        while let Ok(n) = stdout.read(&mut chunk) {
            if n == 0 {
                break;
            }
            buf.lock().expect("screen").extend_from_slice(&chunk[..n]);
        }
    });
    let mut keys = child.stdin.take().expect("stdin");
    let mut type_keys = |s: &str| {
        keys.write_all(s.as_bytes()).expect("type");
        keys.flush().expect("flush");
    };
    screen.wait_for("demo.staff> ", 1);
    type_keys("/foo\r");
    screen.wait_for("unknown command /foo", 1);
    type_keys("/explain\r");
    screen.wait_for("(explain on", 1);
    type_keys(&format!("{QUESTION}\r"));
    screen.wait_for("┌─ trace", 1);
    // Up recalls the last line: Enter asks the question again, exactly as typed.
    type_keys("\u{1b}[A\r");
    screen.wait_for("┌─ trace", 2);
    // Left moves the cursor before the "l", so typing "x" there makes "/hexl".
    type_keys("/hel\u{1b}[Dx\r");
    screen.wait_for("unknown command /hexl", 1);
    type_keys("/quit\r");
    let status = child.wait().expect("chat ends");
    let _ = reader.join();
    assert!(status.success(), "{}", screen.text());
    let recs = records(&audit);
    let texts: Vec<&str> = recs.iter().filter_map(|r| r["text"].as_str()).collect();
    assert_eq!(texts, vec![QUESTION, QUESTION], "{}", screen.text());
    let log = std::fs::read_to_string(&audit).expect("audit");
    assert!(!log.contains("\\u001b") && !log.contains('\u{1b}'), "{log}");
    let hist = std::fs::read_to_string(&history).expect("history saved on /quit");
    assert!(hist.contains(QUESTION) && hist.contains("/hexl"), "{hist}");
}
