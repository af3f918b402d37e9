//! `askerp chat`: the bot in a terminal, like a shell. Lines are read with `rustyline`
//! (cursor keys edit the line, Up and Down walk the history, Ctrl-R searches it, the
//! history is kept in a file); when standard input is not a terminal it reads plain lines.
//! Either way a line goes through [`parse`]: a `/command` is run or reported as unknown,
//! a number presses a button of the last card, and only what is left is a question,
//! with terminal control sequences removed first so an arrow key typed into a pipe or a
//! dumb terminal never reaches the pipeline or the audit log.

use std::path::{Path, PathBuf};

use anyhow::Result;
use jiff::Zoned;
use rustyline::error::ReadlineError;

use super::{ask, render_terminal};
use crate::card::Card;
use crate::channel::Conversation;
use crate::config::Config;
use crate::pipeline::{Answer, Bot};

/// How many lines the history file keeps.
const HISTORY_SIZE: usize = 1000;

/// The commands, as `/help` lists them.
const COMMANDS: &[(&str, &str)] = &[
    ("/help", "list these commands"),
    (
        "/as USER",
        "speak as another DingTalk user id (e.g. demo.manager)",
    ),
    (
        "/group",
        "ask as in a group chat (personal answers then go privately)",
    ),
    ("/1on1", "ask as in the 1:1 chat with the robot"),
    (
        "/explain",
        "show or hide, under each answer, how it was understood and decided",
    ),
    ("/quit", "leave (also /exit, Ctrl-D)"),
];

/// What one line typed at the prompt asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Line {
    /// Nothing to do (an empty line, or one that held only control sequences).
    Nothing {
        had_controls: bool,
    },
    Help,
    Quit,
    Group,
    OneOnOne,
    Explain,
    /// `/as USER`.
    As(String),
    /// `/as` without a user.
    AsWithoutUser,
    /// A `/command` chat does not know; reported, never asked.
    Unknown(String),
    /// A number: the button of the last card to press (1-based).
    Press(usize),
    Question(String),
}

/// Reads one typed line. Control sequences are removed first ([`strip_controls`]).
pub fn parse(raw: &str) -> Line {
    let line = strip_controls(raw);
    let line = line.trim();
    if line.is_empty() {
        return Line::Nothing {
            had_controls: !raw.trim().is_empty(),
        };
    }
    if let Some(command) = line.strip_prefix('/') {
        let (name, arg) = match command.split_once(char::is_whitespace) {
            Some((name, arg)) => (name, arg.trim()),
            None => (command, ""),
        };
        return match name {
            "help" | "?" => Line::Help,
            "quit" | "exit" => Line::Quit,
            "group" => Line::Group,
            "1on1" => Line::OneOnOne,
            "explain" => Line::Explain,
            "as" if arg.is_empty() => Line::AsWithoutUser,
            "as" => Line::As(arg.to_string()),
            _ => Line::Unknown(format!("/{name}")),
        };
    }
    match line.parse::<usize>() {
        Ok(n) => Line::Press(n),
        Err(_) => Line::Question(line.to_string()),
    }
}

/// The line without terminal control sequences (`ESC [ … final`, `ESC O x`, `ESC ] … BEL`,
/// other `ESC x`, the one-byte CSI) and without other control characters (a tab becomes a
/// space). A terminal that rustyline cannot drive, or a pipe, hands these over as typed.
pub fn strip_controls(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\u{1b}' => match chars.next() {
                Some('[') => skip_csi(&mut chars),
                Some('O') => {
                    chars.next();
                }
                Some(']') => {
                    // Operating-system command: up to BEL or ST (`ESC \`).
                    while let Some(c) = chars.next() {
                        if c == '\u{7}' {
                            break;
                        }
                        if c == '\u{1b}' {
                            chars.next_if_eq(&'\\');
                            break;
                        }
                    }
                }
                _ => {}
            },
            '\u{9b}' => skip_csi(&mut chars),
            '\t' => out.push(' '),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

/// Skips a CSI sequence's parameter and intermediate bytes and its final byte.
fn skip_csi(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) {
    for c in chars.by_ref() {
        if ('\u{40}'..='\u{7e}').contains(&c) {
            break;
        }
    }
}

/// Where the history is kept unless `--history` says otherwise:
/// `$XDG_DATA_HOME/askerp/chat_history`, else `~/.local/share/askerp/chat_history`.
pub fn default_history() -> Option<PathBuf> {
    let data = std::env::var_os("XDG_DATA_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| {
            std::env::var_os("HOME")
                .map(PathBuf::from)
                .filter(|p| p.is_absolute())
                .map(|h| h.join(".local/share"))
        })?;
    Some(data.join("askerp").join("chat_history"))
}

/// The line reader: rustyline with a history file.
struct Reader {
    editor: rustyline::DefaultEditor,
    history: Option<PathBuf>,
}

impl Reader {
    fn new(history: Option<PathBuf>) -> Result<Reader> {
        let config = rustyline::Config::builder()
            .max_history_size(HISTORY_SIZE)?
            .history_ignore_dups(true)?
            .auto_add_history(false)
            .build();
        let mut editor = rustyline::DefaultEditor::with_config(config)?;
        if let Some(path) = &history
            && path.exists()
            && let Err(e) = editor.load_history(path)
        {
            eprintln!("(history {} not read: {e})", path.display());
        }
        Ok(Reader { editor, history })
    }

    /// The next line, or `None` at the end of input (Ctrl-D, end of the pipe).
    /// Ctrl-C clears the line being typed, as in a shell.
    fn read(&mut self, prompt: &str) -> Result<Option<String>> {
        loop {
            // rustyline blocks on the terminal; let the runtime move other tasks away.
            let read = tokio::task::block_in_place(|| self.editor.readline(prompt));
            match read {
                Ok(line) => return Ok(Some(line)),
                Err(ReadlineError::Interrupted) => continue,
                Err(ReadlineError::Eof) => return Ok(None),
                Err(e) => return Err(e.into()),
            }
        }
    }

    fn remember(&mut self, line: &str) {
        let _ = self.editor.add_history_entry(line);
    }

    fn save(&mut self) {
        let Some(path) = &self.history else { return };
        if let Some(dir) = path.parent()
            && !dir.as_os_str().is_empty()
            && let Err(e) = std::fs::create_dir_all(dir)
        {
            eprintln!("(history not saved: cannot create {}: {e})", dir.display());
            return;
        }
        if let Err(e) = self.editor.save_history(path) {
            eprintln!("(history not saved to {}: {e})", path.display());
        }
    }
}

/// The `/help` text.
pub fn help() -> String {
    let mut out = String::from(
        "Type a question in any language, or the number of a card's button to press it.\n\
         Follow-ups (\"and in Tsuen Wan?\") continue your previous question.\nCommands:\n",
    );
    for (command, what) in COMMANDS {
        out.push_str(&format!("  {command:<10} {what}\n"));
    }
    out.push_str("Up and Down recall earlier lines; Ctrl-R searches them.\n");
    out
}

/// Runs the chat until `/quit` or the end of input.
pub async fn run(bot: &Bot, config: &Config, user: String, history: Option<PathBuf>) -> Result<()> {
    let mut reader = Reader::new(history)?;
    let result = session(bot, config, user, &mut reader).await;
    reader.save();
    result
}

async fn session(bot: &Bot, config: &Config, mut user: String, reader: &mut Reader) -> Result<()> {
    let mut group = false;
    let mut explain = false;
    let mut last: Option<Card> = None;
    out!(
        "askerp chat: talking to {} as {user}. Type a question, or /help for the commands.",
        bot.erp.name()
    );
    loop {
        let prompt = format!("{user}{}> ", if group { " (group)" } else { "" });
        let Some(raw) = reader.read(&prompt)? else {
            return Ok(());
        };
        let line = parse(&raw);
        if !matches!(line, Line::Nothing { .. }) {
            reader.remember(strip_controls(&raw).trim());
        }
        let text = match line {
            Line::Nothing { had_controls } => {
                if had_controls {
                    out!("(terminal control keys ignored; type a question or /help)");
                }
                continue;
            }
            Line::Help => {
                out_part!("{}", help());
                continue;
            }
            Line::Quit => return Ok(()),
            Line::Group => {
                group = true;
                out!("(now asking as in a group chat)");
                continue;
            }
            Line::OneOnOne => {
                group = false;
                out!("(now asking in the 1:1 chat)");
                continue;
            }
            Line::Explain => {
                explain = !explain;
                out!(
                    "(explain {}: {})",
                    if explain { "on" } else { "off" },
                    if explain {
                        "a trace follows each answer"
                    } else {
                        "answers only"
                    }
                );
                continue;
            }
            Line::As(who) => {
                user = who;
                out!("(now speaking as {user})");
                continue;
            }
            Line::AsWithoutUser => {
                out!("usage: /as USER (a DingTalk user id, e.g. demo.manager)");
                continue;
            }
            Line::Unknown(command) => {
                out!("unknown command {command}; /help lists the commands (it was not sent)");
                continue;
            }
            Line::Press(n) => match last
                .as_ref()
                .and_then(|c| c.buttons.get(n.wrapping_sub(1)))
                .and_then(|b| b.follow_up_text())
            {
                Some(q) => {
                    out!("» {q}");
                    q
                }
                // Not a button of the last card: the number is the question.
                None => n.to_string(),
            },
            Line::Question(q) => q,
        };
        let conversation = if group {
            Conversation::Group
        } else {
            Conversation::OneToOne
        };
        let now = Zoned::now().with_time_zone(bot.tz.clone());
        let answer = ask(bot, config, &user, conversation, &text, now.clone()).await;
        if let Some(note) = &answer.group_note {
            out!("(in the group)\n{}", render_terminal(note));
            out!("(privately to {user})");
        }
        out_part!("{}", render_terminal(&answer.card));
        if explain {
            out_part!("{}", trace(bot, &answer, &text, &now));
        }
        last = Some(answer.card);
    }
}

/// Why the bot answered as it did: the reading the answer used (rule or follow-up, with
/// its slots), the cues and entities that decided and the runner-up, then the policy's
/// decision and the connector. The same facts as the web chat's trace and `ask --json`.
pub fn trace(bot: &Bot, answer: &Answer, text: &str, now: &Zoned) -> String {
    let ex = bot.resolver.explain(text, now);
    let mut out = String::from("┌─ trace\n");
    let mut line = |s: String| {
        out.push_str("│ ");
        out.push_str(&s);
        out.push('\n');
    };
    line(format!("normalized: {}", ex.normalized));
    match answer.resolution.as_ref() {
        Some(r) => {
            let source = r
                .source
                .map(|s| {
                    serde_json::to_value(s)
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_string))
                        .unwrap_or_default()
                })
                .unwrap_or_else(|| "-".into());
            line(format!(
                "intent: {}  source: {source}  rule: {}  locale: {}",
                r.intent.map_or("(none)", |i| i.name()),
                r.rule.as_deref().unwrap_or("-"),
                r.locale.tag()
            ));
            line(format!(
                "slots: {}",
                serde_json::to_string(&r.slots).unwrap_or_else(|_| "{}".into())
            ));
            if !r.candidates.is_empty() {
                let c: Vec<&str> = r.candidates.iter().map(|i| i.name()).collect();
                line(format!("candidates: {}", c.join(", ")));
            }
        }
        None => line("intent: (not resolved)".into()),
    }
    for (from, to) in &ex.corrections {
        line(format!("typo: \"{from}\" read as \"{to}\""));
    }
    for e in &ex.entities {
        line(format!("entity: {} \"{}\" = {}", e.kind, e.text, e.value));
    }
    match ex.scores.first() {
        Some(s) => {
            let parts: Vec<String> = s.parts.iter().map(|(p, w)| format!("{p} {w:+}")).collect();
            line(format!(
                "cues: {} {:.1} ({})",
                s.intent.name(),
                s.score,
                parts.join(", ")
            ));
        }
        None => line("cues: none".into()),
    }
    if let Some(r) = ex.scores.get(1) {
        line(format!("runner-up: {} {:.1}", r.intent.name(), r.score));
    }
    if !ex.reason.is_empty() {
        line(format!("why: {}", ex.reason));
    }
    line(format!(
        "decision: {}{}",
        answer.decision.as_str(),
        answer
            .reason
            .as_deref()
            .map(|r| format!(" ({r})"))
            .unwrap_or_default()
    ));
    if let Some(p) = &answer.principal {
        line(format!("principal: {p}"));
    }
    if let Some(c) = &answer.connector {
        let latency = answer
            .erp_latency_ms
            .map(|ms| format!(", {ms} ms"))
            .unwrap_or_default();
        line(format!("connector: {c}{latency}"));
    }
    out.push_str("└─\n");
    out
}

/// A history path given on the command line, or the default one; `None` keeps no file.
pub fn history_path(flag: Option<&Path>, disabled: bool) -> Option<PathBuf> {
    if disabled {
        return None;
    }
    flag.map(Path::to_path_buf).or_else(default_history)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_sequences_are_no_question() {
        for keys in [
            "\u{1b}[A",
            "\u{1b}[B\u{1b}[C\u{1b}[D",
            "\u{1b}OA",
            "\u{1b}[1;5C",
            "\u{9b}A",
        ] {
            assert_eq!(
                parse(keys),
                Line::Nothing { had_controls: true },
                "{keys:?}"
            );
        }
        assert_eq!(
            parse("   "),
            Line::Nothing {
                had_controls: false
            }
        );
        // Keys typed into a question are dropped from it, the question stays.
        assert_eq!(
            parse("\u{1b}[Asales last month\u{1b}[D"),
            Line::Question("sales last month".into())
        );
        assert_eq!(strip_controls("a\tb\u{7}c\u{1b}]0;title\u{7}d"), "a bcd");
    }

    #[test]
    fn commands_are_parsed_and_unknown_ones_reported() {
        assert_eq!(parse("/help"), Line::Help);
        assert_eq!(parse("/explain"), Line::Explain);
        assert_eq!(parse(" /as demo.hr "), Line::As("demo.hr".into()));
        assert_eq!(parse("/as"), Line::AsWithoutUser);
        assert_eq!(parse("/foo bar"), Line::Unknown("/foo".into()));
        assert_eq!(parse("/exit"), Line::Quit);
        assert_eq!(parse("2"), Line::Press(2));
        assert_eq!(parse("上個月營業額"), Line::Question("上個月營業額".into()));
    }

    #[test]
    fn help_lists_every_command() {
        let h = help();
        for (command, _) in COMMANDS {
            assert!(h.contains(command), "{command} missing from {h}");
        }
    }
}
