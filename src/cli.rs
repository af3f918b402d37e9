//! The command line: `serve`, `demo`, `send`, `ask`, `chat` (in `cli/chat.rs`), `resolve`, `explain`, `check`
//! and `audit verify`. This is the edge of the program, so errors are `anyhow` here.

use std::io::{BufRead, Write};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::{Args, Parser, Subcommand};
use figment::Figment;
use figment::providers::Serialized;
use jiff::{Timestamp, Zoned};
use serde_json::{Value, json};

use crate::audit::{self, AuditLog};
use crate::card::Card;
use crate::channel::{Conversation, Inbound, ReplyRoute};
use crate::config::{Config, ConfigError, DEMO_APP_KEY, DEMO_APP_SECRET};
use crate::dingtalk::sign::sign;
use crate::dingtalk::sim::Simulator;
use crate::pipeline::{Answer, Bot, Question};
use crate::server::{self, AppState};
use crate::{setup, telemetry};

/// `println!` for command output that does not panic when stdout is closed early
/// (`askerp send … | head`): the rest of the output is simply dropped.
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), $($arg)*);
    }};
}

/// `print!` counterpart of [`out!`].
macro_rules! out_part {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = write!(std::io::stdout(), $($arg)*);
    }};
}

mod chat;

/// Exit code for configuration and data-file errors (`EX_CONFIG`).
pub const EXIT_CONFIG: i32 = 78;

#[derive(Debug, Parser)]
#[command(name = "askerp", version, about = "Ask your ERP from DingTalk.", long_about = None)]
pub struct Cli {
    /// Configuration file (TOML). Every key can also be set as ASKERP_<SECTION>__<KEY>.
    #[arg(long, global = true, env = "ASKERP_CONFIG")]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve DingTalk callbacks with the configured ERP and DingTalk app.
    Serve,
    /// Serve on the demo ERP with a built-in DingTalk simulator; no credentials needed.
    Demo,
    /// Sign and post a message to a running server as DingTalk would, and print the reply.
    Send(SendArgs),
    /// Answer one question through the whole pipeline and print the card.
    Ask(AskArgs),
    /// Talk to the bot in the terminal, with line editing and history (/help lists the
    /// commands).
    Chat {
        /// The DingTalk user id to speak as.
        #[arg(long = "as", default_value = "demo.staff")]
        user: String,
        /// The history file [default: $XDG_DATA_HOME/askerp/chat_history, else
        /// ~/.local/share/askerp/chat_history].
        #[arg(long, value_name = "FILE")]
        history: Option<PathBuf>,
        /// Keep no history file.
        #[arg(long, conflicts_with = "history")]
        no_history: bool,
    },
    /// Show how a message is understood (intent and slots).
    Resolve {
        /// Print one JSON object: {"intent", "slots", "source", "locale"}.
        #[arg(long)]
        json: bool,
        /// Resolve as if it were this moment (RFC 3339), in the company time zone.
        #[arg(long)]
        now: Option<String>,
        /// The asking user's DingTalk id. Rules do not depend on who asks; the id is
        /// accepted so scripts keep working once follow-up context (per user) arrives.
        #[arg(long)]
        user: Option<String>,
        /// Read one message per line from standard input and print one result per line
        /// (with --json, one JSON object per line), for evaluation and benchmarking.
        #[arg(long, conflicts_with = "text")]
        batch: bool,
        #[arg(required_unless_present = "batch")]
        text: Option<String>,
    },
    /// Score the rules on an evaluation set: intent and slot accuracy per language.
    Eval {
        /// A JSON-lines evaluation file; defaults to the built-in `eval/utterances.jsonl`.
        file: Option<PathBuf>,
        /// Also list every utterance that did not resolve as expected.
        #[arg(long)]
        misses: bool,
        /// Also print per-intent recall, the precision of "no intent" and the confusion
        /// matrix.
        #[arg(long)]
        confusion: bool,
        /// Score noise variants of the set instead (a letter dropped or swapped, full-width
        /// characters, an emoji, a polite opener; see `intent::noise`).
        #[arg(long)]
        noise: bool,
    },
    /// Explain which rule matched a message and why, or why none did.
    Explain {
        /// Explain as if it were this moment (RFC 3339), in the company time zone.
        #[arg(long)]
        now: Option<String>,
        text: String,
    },
    /// Intent catalog tools.
    Intents {
        #[command(subcommand)]
        command: IntentsCommand,
    },
    /// Validate the configuration and data files, then try the ERP connectors and fetch a
    /// DingTalk access token with the configured credentials.
    Check {
        /// Skip the live connector query and the DingTalk token.
        #[arg(long)]
        offline: bool,
    },
    /// Audit log tools.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// Build the directory from the HR export and DingTalk's contacts.
    Directory {
        #[command(subcommand)]
        command: DirectoryCommand,
    },
    /// Scheduled reports: list them, or remove one.
    Subscriptions {
        #[command(subcommand)]
        command: SubscriptionsCommand,
    },
}

#[derive(Debug, Subcommand)]
pub enum SubscriptionsCommand {
    /// Every subscription (configured and made by chat): who, what, when, last and next run.
    List,
    /// Stops a subscription: one made by chat is deleted; a configured one is switched
    /// off in the push state (remove it from the configuration file too).
    Remove { id: String },
}

#[derive(Debug, Subcommand)]
pub enum DirectoryCommand {
    /// Merge the sources, write the directory the server reads, audit and report changes.
    Sync {
        /// Print the merged directory instead of writing it.
        #[arg(long)]
        print: bool,
    },
    /// Report unmapped people, conflicts and changes since the last sync; writes nothing.
    /// Exits with 1 when there are conflicts.
    Check,
}

#[derive(Debug, Subcommand)]
pub enum IntentsCommand {
    /// Run every example and counter-example in the intent files and report per intent.
    Test,
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Verify the hash chain of the audit log.
    Verify {
        /// The log file; defaults to `audit.path` of the configuration.
        path: Option<PathBuf>,
        /// A head printed by an earlier `verify` and kept outside the log: the log must
        /// still contain that record, so cutting or rewriting it is detected.
        #[arg(long)]
        expect_head: Option<String>,
    },
    /// Who asked about whom or what, where: matching records, one line each, no figures.
    Search {
        /// The asker: DingTalk user id or employee id.
        #[arg(long)]
        user: Option<String>,
        /// Whose or what data: a colleague, customer, place, item or order (substring).
        #[arg(long)]
        subject: Option<String>,
        /// An intent, e.g. `leave.balance`.
        #[arg(long)]
        intent: Option<String>,
        /// Only records since this time (`2026-12-01`, or an RFC 3339 timestamp).
        #[arg(long)]
        since: Option<String>,
        /// Print the matching records as JSON lines instead.
        #[arg(long)]
        json: bool,
        /// The log file; defaults to `audit.path` of the configuration.
        #[arg(long)]
        path: Option<PathBuf>,
    },
}

#[derive(Debug, Args)]
pub struct AskArgs {
    /// The DingTalk user id to ask as (e.g. demo.staff, demo.manager, demo.hr, demo.admin).
    #[arg(long = "as")]
    pub user: String,
    /// Ask as if in a group chat (personal answers then go private).
    #[arg(long)]
    pub group: bool,
    /// Print the answer as JSON.
    #[arg(long)]
    pub json: bool,
    /// Ask as if it were this moment (RFC 3339).
    #[arg(long)]
    pub now: Option<String>,
    pub text: String,
}

#[derive(Debug, Args)]
pub struct SendArgs {
    /// Base URL of the running askerp server.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    pub url: String,
    /// The DingTalk user id to send as.
    #[arg(long = "as", default_value = "demo.staff")]
    pub user: String,
    /// Send as a group @-mention instead of a 1:1 message.
    #[arg(long)]
    pub group: bool,
    /// Signing secret (defaults to the demo secret).
    #[arg(long, env = "ASKERP_DINGTALK__APP_SECRET", hide_env_values = true)]
    pub secret: Option<String>,
    /// How long to wait for the reply, in seconds.
    #[arg(long, default_value_t = 15)]
    pub wait_secs: u64,
    pub text: String,
}

/// Runs the CLI; returns the process exit code.
pub async fn run(cli: Cli) -> i32 {
    match dispatch(cli).await {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("error: {e:#}");
            if e.downcast_ref::<ConfigError>().is_some()
                || e.downcast_ref::<setup::SetupError>().is_some()
                || e.downcast_ref::<crate::directory::SyncError>()
                    .is_some_and(crate::directory::SyncError::is_data_error)
            {
                EXIT_CONFIG
            } else {
                1
            }
        }
    }
}

async fn dispatch(cli: Cli) -> Result<()> {
    let config_path = cli.config.clone();
    match cli.command {
        Command::Serve => {
            let config = Config::load(config_path.as_deref())?;
            config.validate_for_serving()?;
            telemetry::init(&config.log);
            serve(config, None).await
        }
        Command::Demo => {
            let config = demo_config(config_path)?;
            telemetry::init(&config.log);
            let sim = Simulator::new(
                &config.dingtalk.app_key,
                config.dingtalk.app_secret.expose(),
            );
            sim.set_base_url(&format!("http://{}/demo/dingtalk", config.server.listen));
            // With `dingtalk.mode = "stream"` the demo connects to the simulator's gateway.
            sim.start_gateway().await?;
            print_demo_banner(&config);
            serve(config, Some(sim)).await
        }
        Command::Send(args) => send(args).await,
        Command::Ask(args) => {
            let config = Config::load(config_path.as_deref())?;
            let bot = setup::bot(&config).await?;
            let now = now_in(&bot, args.now.as_deref())?;
            let conversation = if args.group {
                Conversation::Group
            } else {
                Conversation::OneToOne
            };
            let answer = ask(&bot, &config, &args.user, conversation, &args.text, now).await;
            if args.json {
                out!("{}", answer_json(&answer));
            } else {
                out_part!("{}", render_terminal(&answer.card));
                if let Some(note) = &answer.group_note {
                    out!("(delivered privately; the group sees: {})", note.title);
                }
            }
            Ok(())
        }
        Command::Chat {
            user,
            history,
            no_history,
        } => {
            let config = Config::load(config_path.as_deref())?;
            let bot = setup::bot(&config).await?;
            let history = chat::history_path(history.as_deref(), no_history);
            chat::run(&bot, &config, user, history).await
        }
        Command::Resolve {
            json,
            now,
            user: _,
            batch,
            text,
        } => {
            let config = Config::load(config_path.as_deref())?;
            let tz = config.time_zone();
            let resolver = setup::resolver(&config).await?;
            let now = parse_now(now.as_deref(), &tz)?;
            if batch {
                return resolve_batch(&resolver, &now, json);
            }
            let text = text.unwrap_or_default();
            let resolution = resolver.resolve(&text, &now);
            if json {
                out!("{}", serde_json::to_string(&resolution)?);
            } else {
                out!(
                    "intent: {}\nslots:  {}\nsource: {}\nlocale: {}",
                    resolution.intent.map_or("(none)", |i| i.name()),
                    serde_json::to_string(&resolution.slots)?,
                    resolution.rule.as_deref().unwrap_or("-"),
                    resolution.locale.tag()
                );
            }
            Ok(())
        }
        Command::Explain { now, text } => {
            let config = Config::load(config_path.as_deref())?;
            let tz = config.time_zone();
            let resolver = setup::resolver(&config).await?;
            let now = parse_now(now.as_deref(), &tz)?;
            out_part!("{}", resolver.explain(&text, &now));
            Ok(())
        }
        Command::Intents {
            command: IntentsCommand::Test,
        } => {
            let config = Config::load(config_path.as_deref())?;
            let resolver = setup::resolver(&config).await?;
            let report = resolver.test_examples();
            out_part!("{report}");
            if !report.passed() {
                bail!("{} intent example(s) failed", report.failures.len());
            }
            Ok(())
        }
        Command::Eval {
            file,
            misses,
            confusion,
            noise,
        } => {
            let config = Config::load(config_path.as_deref())?;
            let resolver = setup::resolver(&config).await?;
            let text = match &file {
                Some(path) => std::fs::read_to_string(path)
                    .with_context(|| format!("cannot read {}", path.display()))?,
                None => crate::intent::eval::BUILTIN.to_string(),
            };
            let mut cases = crate::intent::eval::parse(&text)?;
            if noise {
                let variants = crate::intent::noise::variants(&cases);
                out!(
                    "noise variants: {} of {} questions ({})",
                    variants.len(),
                    cases.len(),
                    crate::intent::noise::KINDS.join(", ")
                );
                cases = variants;
            }
            let report = crate::intent::eval::evaluate(&resolver, &cases);
            if misses {
                for miss in &report.misses {
                    out!("MISS {miss}");
                }
            }
            out!("{report}");
            if confusion {
                out!("{}", report.confusion_table());
            }
            let short = report.shortfalls(crate::intent::eval::Targets::REQUIRED);
            if !short.is_empty() {
                bail!("below target: {}", short.join("; "));
            }
            Ok(())
        }
        Command::Check { offline } => check(config_path, offline).await,
        Command::Subscriptions { command } => {
            let config = Config::load(config_path.as_deref())?;
            subscriptions(&config, command).await
        }
        Command::Directory { command } => {
            let config = Config::load(config_path.as_deref())?;
            directory(&config, command).await
        }
        Command::Audit {
            command: AuditCommand::Verify { path, expect_head },
        } => {
            let config = Config::load(config_path.as_deref())?;
            let (label, verified) = match path {
                None if config.audit.sink == crate::config::AuditSink::Postgres => (
                    format!("postgres table {}", config.audit.postgres_table),
                    audit::postgres::verify(
                        config.audit.postgres_url.expose(),
                        &config.audit.postgres_table,
                        expect_head.as_deref(),
                    )
                    .await,
                ),
                p => {
                    let p = p.unwrap_or(config.audit.path);
                    let v = audit::verify(&p, expect_head.as_deref());
                    (p.display().to_string(), v)
                }
            };
            match verified {
                Ok(v) => {
                    let checkpoint = if v.checkpoint {
                        "checkpoint matches"
                    } else {
                        "no checkpoint"
                    };
                    let files = if v.files > 1 {
                        format!(" in {} files", v.files)
                    } else {
                        String::new()
                    };
                    out!(
                        "{label}: {} records{files}, chain intact, {checkpoint}\nhead {}",
                        v.records,
                        v.head
                    );
                    if v.starts_at != audit::GENESIS {
                        out!(
                            "starts after {} (older files removed by retention)",
                            v.starts_at
                        );
                    }
                    Ok(())
                }
                Err(e) => bail!("{label}: {e}"),
            }
        }
        Command::Audit {
            command:
                AuditCommand::Search {
                    user,
                    subject,
                    intent,
                    since,
                    json,
                    path,
                },
        } => {
            let path = match path {
                Some(p) => p,
                None => Config::load(config_path.as_deref())?.audit.path,
            };
            let since = match since {
                None => None,
                Some(s) => Some(
                    s.parse::<jiff::Timestamp>()
                        .or_else(|_| {
                            s.parse::<jiff::civil::Date>().and_then(|d| {
                                d.to_zoned(jiff::tz::TimeZone::system())
                                    .map(|z| z.timestamp())
                            })
                        })
                        .with_context(|| format!("--since {s:?} is not a date or timestamp"))?,
                ),
            };
            let filter = audit::search::Filter {
                user,
                subject,
                intent,
                since,
            };
            let found = audit::search::search(&path, &filter)
                .with_context(|| format!("cannot read {}", path.display()))?;
            for r in &found {
                if json {
                    out!("{r}");
                } else {
                    out!("{}", audit::search::describe(r));
                }
            }
            if !json {
                out!("{} records", found.len());
            }
            Ok(())
        }
    }
}

/// The demo's configuration: the built-in simulator as DingTalk, the documented demo
/// secret, unless the file or environment say otherwise.
fn demo_config(path: Option<PathBuf>) -> Result<Config> {
    let defaults = Figment::new()
        .merge(Serialized::default("dingtalk.app_key", DEMO_APP_KEY))
        .merge(Serialized::default("dingtalk.app_secret", DEMO_APP_SECRET))
        .merge(Serialized::default("audit.path", "askerp-demo-audit.jsonl"));
    let mut config = Config::load_with(path.as_deref(), defaults)?;
    if config.erp.connector != "demo" {
        bail!(
            "askerp demo runs on the demo ERP; erp.connector is {:?}",
            config.erp.connector
        );
    }
    // The demo is the one place fake data is what the user asked for.
    config.erp.allow_demo = true;
    // Several demos (or a demo beside a server) may run on one machine: unless an admin
    // address is configured, the demo's admin listener takes any free loopback port (the
    // start-up log says which).
    if config.server.admin_listen == crate::config::DEFAULT_ADMIN_LISTEN {
        config.server.admin_listen = "127.0.0.1:0".into();
    }
    // The demo always has credentials: its simulator checks them like DingTalk does.
    if config.dingtalk.app_key.is_empty() {
        config.dingtalk.app_key = DEMO_APP_KEY.into();
    }
    if config.dingtalk.app_secret.is_empty() {
        config.dingtalk.app_secret = crate::config::Secret::new(DEMO_APP_SECRET);
    }
    // Unless pointed elsewhere, DingTalk is the simulator mounted in the demo server.
    let sim_base = format!("http://{}/demo/dingtalk", config.server.listen);
    let stock = crate::config::DingTalkConfig::default();
    if config.dingtalk.api_base == stock.api_base {
        config.dingtalk.api_base = sim_base.clone();
    }
    if config.dingtalk.oapi_base == stock.oapi_base {
        config.dingtalk.oapi_base = sim_base;
    }
    Ok(config)
}

fn print_demo_banner(config: &Config) {
    let listen = &config.server.listen;
    out!(
        "askerp demo: the demo ERP (a fictional Hong Kong trading company) and a built-in DingTalk simulator.\n\
         Listening on http://{listen}  (callback: POST /dingtalk/callback, signing secret: {DEMO_APP_SECRET})\n\
         \n\
         Open http://{listen}/ in a browser to chat with it as any demo user, in a group or 1:1.\n\
         Or ask it something from another terminal:\n\
         \x20 askerp send --url http://{listen} --as demo.staff \"how many iPhone 15 Pro 256GB in stock?\"\n\
         \x20 askerp send --url http://{listen} --as demo.manager --group \"上個月九龍區營業額\"\n\
         \x20 askerp send --url http://{listen} --as demo.staff --group \"how many annual leave days do I have?\"\n\
         Demo users: demo.staff (store staff), demo.manager (sales manager, Kowloon), demo.hr (HR), demo.admin.\n\
         Replies are printed by `askerp send` and listed at http://{listen}/demo/dingtalk/sim/sent\n"
    );
}

async fn serve(config: Config, sim: Option<Simulator>) -> Result<()> {
    for w in config.warnings() {
        tracing::warn!("{w}");
    }
    let bot = Arc::new(setup::bot(&config).await?);
    let audit = Arc::new(AuditLog::from_config(&config.audit)?);
    let listener = tokio::net::TcpListener::bind(&config.server.listen)
        .await
        .with_context(|| format!("cannot listen on {}", config.server.listen))?;
    let admin = tokio::net::TcpListener::bind(&config.server.admin_listen)
        .await
        .with_context(|| {
            format!(
                "cannot listen on server.admin_listen = {}",
                config.server.admin_listen
            )
        })?;
    let admin_addr = admin.local_addr()?;
    tracing::info!(
        listen = %config.server.listen,
        admin = %admin_addr,
        mode = ?config.dingtalk.mode,
        connector = %bot.erp.name(),
        audit = %config.audit.path.display(),
        "askerp is ready."
    );
    let state = AppState::new(Arc::new(config), bot, audit)?;
    let admin = tokio::spawn(server::serve_admin(admin, state.clone()));
    #[cfg(unix)]
    let hangup = tokio::spawn(server::reload_on_hangup(state.clone()));
    server::serve(listener, state, sim, server::shutdown_signal()).await?;
    #[cfg(unix)]
    hangup.abort();
    admin.abort();
    Ok(())
}

/// `resolve --batch`: one message per line of standard input, one result per line of
/// standard output, in the same shape as the single form. Every line is resolved at the
/// same `now`, so a batch is reproducible.
fn resolve_batch(resolver: &crate::intent::Resolver, now: &Zoned, json: bool) -> Result<()> {
    let stdin = std::io::stdin();
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    for line in stdin.lock().lines() {
        let line = line.context("cannot read standard input")?;
        let resolution = resolver.resolve(&line, now);
        if json {
            writeln!(out, "{}", serde_json::to_string(&resolution)?)?;
        } else {
            writeln!(
                out,
                "{}\t{}\t{}",
                resolution.intent.map_or("(none)", |i| i.name()),
                serde_json::to_string(&resolution.slots)?,
                resolution.locale.tag()
            )?;
        }
    }
    out.flush()?;
    Ok(())
}

fn parse_now(now: Option<&str>, tz: &jiff::tz::TimeZone) -> Result<Zoned> {
    Ok(match now {
        Some(s) => s
            .parse::<Timestamp>()
            .with_context(|| format!("--now {s:?} is not an RFC 3339 time"))?
            .to_zoned(tz.clone()),
        None => Zoned::now().with_time_zone(tz.clone()),
    })
}

fn now_in(bot: &Bot, now: Option<&str>) -> Result<Zoned> {
    parse_now(now, &bot.tz)
}

/// Runs one question through the pipeline as a CLI message, and audits it.
async fn ask(
    bot: &Bot,
    config: &Config,
    user: &str,
    conversation: Conversation,
    text: &str,
    now: Zoned,
) -> Answer {
    let msg_id = format!("cli-{}", now.timestamp().as_nanosecond());
    let question = Question {
        text: Some(text.to_string()),
        msgtype: "text".into(),
        user_id: Some(user.to_string()),
        conversation,
        conversation_id: "cli".into(),
        mentioned: vec![],
        now,
        reference: server::reference(&msg_id),
    };
    let answer = bot.answer(&question).await;
    let inbound = Inbound {
        msg_id,
        msgtype: "text".into(),
        text: Some(text.to_string()),
        conversation,
        conversation_id: "cli".into(),
        conversation_title: None,
        sender_staff_id: Some(user.to_string()),
        sender_nick: user.to_string(),
        sender_corp_id: None,
        robot_code: None,
        mentioned_staff_ids: vec![],
        reply: ReplyRoute {
            session_webhook: None,
            webhook_expires_at: None,
        },
        created_at: None,
    };
    let mut record = server::audit_record(&inbound, &answer, "cli");
    record.outcome = "printed".into();
    match AuditLog::from_config(&config.audit) {
        Ok(log) => {
            if let Err(e) = log.append(&record) {
                tracing::warn!(error = %e, "Audit record could not be written.");
            }
            if let Err(e) = log.close().await {
                tracing::warn!(error = %e, "Audit record could not be stored.");
            }
        }
        Err(e) => tracing::warn!(error = %e, "Audit log could not be opened."),
    }
    answer
}

/// The `ask --json` shape.
pub fn answer_json(answer: &Answer) -> Value {
    let resolution = answer.resolution.as_ref();
    json!({
        "intent": resolution.and_then(|r| r.intent),
        "slots": resolution.map(|r| r.slots.clone()).unwrap_or_default(),
        "decision": answer.decision,
        "delivery": answer.delivery,
        "card": {
            "title": answer.card.title,
            "markdown": answer.card.markdown,
            "buttons": answer.card.buttons,
        },
        "facts": answer.facts(),
    })
}

/// A card for a terminal: title, body, numbered buttons.
pub fn render_terminal(card: &Card) -> String {
    let mut out = format!("┌─ {}\n", card.title);
    let mut lines = card.markdown.lines().peekable();
    // The body repeats the title as its first heading; the frame already shows it.
    if lines
        .peek()
        .is_some_and(|l| l.trim_start_matches('#').trim() == card.title)
    {
        lines.next();
    }
    for line in lines {
        let line = line
            .trim_end()
            .trim_start_matches('#')
            .trim_start()
            .replace("**", "");
        out.push_str(&format!("│ {line}\n"));
    }
    for (i, b) in card.buttons.iter().enumerate() {
        match b.follow_up_text() {
            Some(q) => out.push_str(&format!("│ [{}] {}  → \"{}\"\n", i + 1, b.title, q)),
            None => out.push_str(&format!("│ [{}] {}  → {}\n", i + 1, b.title, b.url)),
        }
    }
    out.push_str("└─\n");
    out
}

/// Signs and posts a callback like DingTalk, then waits for the reply on the demo
/// simulator.
async fn send(args: SendArgs) -> Result<()> {
    let base = args.url.trim_end_matches('/');
    let sim_base = format!("{base}/demo/dingtalk");
    let secret = args.secret.unwrap_or_else(|| DEMO_APP_SECRET.to_string());
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(args.wait_secs + 5))
        .build()?;
    // Start after whatever the simulator already holds, so only this reply is printed.
    let after = http
        .get(format!("{sim_base}/sim/sent"))
        .send()
        .await
        .ok()
        .and_then(|r| r.status().is_success().then_some(r));
    let after = match after {
        Some(r) => r
            .json::<Vec<Value>>()
            .await
            .unwrap_or_default()
            .iter()
            .filter_map(|s| s.get("seq").and_then(Value::as_u64))
            .max()
            .unwrap_or(0),
        None => 0,
    };
    let sim = Simulator::new(DEMO_APP_KEY, &secret);
    sim.set_base_url(&sim_base);
    let mut msg = crate::dingtalk::sim::Incoming::text(&args.user, &args.text);
    if args.group {
        msg = msg.in_group("cidDemoGroup==");
    }
    let cb = sim.callback(&msg, Timestamp::now());
    let resp = http
        .post(format!("{base}/dingtalk/callback"))
        .header("timestamp", &cb.timestamp)
        .header("sign", sign(&secret, &cb.timestamp))
        .json(&cb.body)
        .send()
        .await
        .with_context(|| format!("cannot reach {base}"))?;
    out!("POST {base}/dingtalk/callback → {}", resp.status());
    if !resp.status().is_success() {
        bail!("the server refused the message");
    }
    // Collect replies until none has come for a second after the first one (a private
    // answer asked in a group is two messages: the 1:1 answer and the group's note).
    let mut seen = 0;
    let mut last = after;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(args.wait_secs);
    while tokio::time::Instant::now() < deadline {
        let wait_ms = if seen == 0 { 3000 } else { 1000 };
        let got: Vec<Value> = http
            .get(format!(
                "{sim_base}/sim/sent?after={last}&wait_ms={wait_ms}"
            ))
            .send()
            .await?
            .json()
            .await
            .unwrap_or_default();
        if got.is_empty() && seen > 0 {
            break;
        }
        for s in &got {
            print_sent(s);
            last = last.max(s.get("seq").and_then(Value::as_u64).unwrap_or(last));
            seen += 1;
        }
    }
    if seen == 0 {
        out!(
            "(no reply seen on the demo simulator within {} s)",
            args.wait_secs
        );
    }
    Ok(())
}

fn print_sent(s: &Value) {
    let via = s.get("via").and_then(Value::as_str).unwrap_or("?");
    let to = match via {
        "webhook" => "in the conversation (session webhook)".to_string(),
        "private" => format!(
            "privately to {}",
            s.get("user_ids").map(Value::to_string).unwrap_or_default()
        ),
        "group" => "in the group (OpenAPI)".to_string(),
        other => other.to_string(),
    };
    let card = Card {
        title: s
            .get("title")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string(),
        markdown: s
            .get("text")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string(),
        buttons: s
            .get("buttons")
            .and_then(Value::as_array)
            .map(|bs| {
                bs.iter()
                    .filter_map(|b| {
                        Some(crate::card::Button {
                            title: b.get(0)?.as_str()?.to_string(),
                            url: b.get(1)?.as_str()?.to_string(),
                        })
                    })
                    .collect()
            })
            .unwrap_or_default(),
    };
    out!("\nReply {to}:\n{}", render_terminal(&card));
}

/// `askerp directory sync|check`: prints the report (to stderr when the directory itself
/// goes to stdout). `check` fails when people are in conflict, so a cron job notices.
async fn directory(config: &Config, command: DirectoryCommand) -> Result<()> {
    let checking = matches!(command, DirectoryCommand::Check);
    let report = match command {
        DirectoryCommand::Sync { print } => crate::directory::sync(config, print).await?,
        DirectoryCommand::Check => crate::directory::check(config).await?,
    };
    let printed = !checking && report.written.is_none();
    if printed {
        out_part!("{}", crate::directory::render(&report.merged.principals));
    }
    let say = |line: String| {
        if printed {
            eprintln!("{line}");
        } else {
            out!("{line}");
        }
    };
    let m = &report.merged;
    say(format!("{} people in the directory", m.principals.len()));
    if let Some(p) = &report.written {
        say(format!("written to {}", p.display()));
    }
    let verb = if report.written.is_some() {
        "change"
    } else {
        "would change"
    };
    if report.changes.is_empty() {
        say("no changes since the last sync".into());
    }
    for c in &report.changes {
        say(format!("{verb}: {c}"));
    }
    for u in &m.unmapped {
        say(format!("unmapped: {}: {}", u.who, u.why));
    }
    for c in &m.conflicts {
        say(format!("conflict: {c}"));
    }
    for r in &m.unknown_roles {
        say(format!("unknown role, dropped: {r} (not in the policy)"));
    }
    if checking && !m.conflicts.is_empty() {
        bail!("{} conflict(s) in the directory sources", m.conflicts.len());
    }
    Ok(())
}

/// `askerp check`: every problem in configuration and data files, then a live query.
async fn check(config_path: Option<PathBuf>, offline: bool) -> Result<()> {
    let config = Config::load(config_path.as_deref())?;
    out!("✓ configuration");
    for w in config.warnings() {
        out!("! {w}");
    }
    if !config.erp.allow_demo && !config.erp.demo_domains().is_empty() {
        out!(
            "! the demo ERP answers some domains: askerp serve refuses that unless erp.allow_demo = true (ASKERP_ERP__ALLOW_DEMO=true)"
        );
    }
    let bot = setup::bot(&config).await?;
    out!("✓ intents, directory, policy, message catalogs");
    let now = jiff::Zoned::now().with_time_zone(config.time_zone());
    let (fine, push_problems) = crate::push::check(&config, &bot, &now).await;
    for line in fine {
        out!("✓ {line}");
    }
    for p in &push_problems {
        out!("✗ {p}");
    }
    if !push_problems.is_empty() {
        return Err(setup::SetupError(push_problems).into());
    }
    if offline {
        out!("- connector {} not tried (--offline)", bot.erp.name());
        out!("- DingTalk credentials not tried (--offline)");
        if bot.shared.is_some() {
            out!("- shared state (Redis) not tried (--offline)");
        }
        return Ok(());
    }
    let mut failed = Vec::new();
    // Shared state, as every replica will reach it: one PING. `serve` starts without
    // Redis (and falls back to memory), so only `check` says it is unreachable.
    if let Some(store) = &bot.shared {
        let at = redis_address(config.state.url.expose());
        match store.ping().await {
            Ok(()) => out!("✓ shared state: Redis at {at} answered PING"),
            Err(e) => {
                out!(
                    "✗ shared state: Redis at {at} did not answer PING: {e} (is it running, and is state.url / ASKERP_STATE__URL right?)"
                );
                failed.push("Redis".to_string());
            }
        }
    }
    // The credentials, as `serve` will use them: one access token from DingTalk.
    if config.dingtalk.app_key.is_empty() || config.dingtalk.app_secret.is_empty() {
        out!(
            "- DingTalk credentials not set (dingtalk.app_key, ASKERP_DINGTALK__APP_SECRET): no access token tried"
        );
    } else {
        let client = crate::dingtalk::client::DingTalkClient::new(&config.dingtalk)
            .context("cannot build the DingTalk client")?;
        let base = &config.dingtalk.api_base;
        match client.access_token().await {
            Ok(_) => out!(
                "✓ DingTalk credentials: access token obtained from {base} for app key {}",
                config.dingtalk.app_key
            ),
            Err(e) => {
                let hint = match &e {
                    crate::dingtalk::client::SendError::Api { .. } => {
                        " (DingTalk refused dingtalk.app_key / dingtalk.app_secret: copy both from the app's credentials page)"
                    }
                    crate::dingtalk::client::SendError::Transport(_) => {
                        " (is dingtalk.api_base reachable from here?)"
                    }
                    _ => "",
                };
                out!(
                    "✗ DingTalk credentials for app key {}: {e}{hint}",
                    config.dingtalk.app_key
                );
                failed.push("DingTalk".to_string());
            }
        }
    }
    // Each connector live: reachability, credentials, one harmless read.
    for (name, result) in bot.erp.health().await {
        match result {
            Ok(()) => out!("✓ connector {name}: answered"),
            Err(e) => {
                let hint = match &e {
                    crate::erp::ErpError::Credentials { .. } => {
                        " (check the user name and password it connects with)"
                    }
                    crate::erp::ErpError::Timeout { .. } => " (the system is slow or unreachable)",
                    crate::erp::ErpError::Unavailable { .. }
                    | crate::erp::ErpError::CircuitOpen { .. } => {
                        " (is it running, and is the address right?)"
                    }
                    _ => "",
                };
                out!("✗ connector {name}: {e}{hint}");
                failed.push(name);
            }
        }
    }
    if !failed.is_empty() {
        anyhow::bail!("did not answer as they should: {}", failed.join(", "));
    }
    Ok(())
}

/// A Redis URL fit to print: scheme, host, port and database, without the user name
/// and password it may carry.
fn redis_address(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(u) => format!(
            "{}://{}:{}{}",
            u.scheme(),
            u.host_str().unwrap_or("?"),
            u.port().unwrap_or(6379),
            u.path()
        ),
        Err(_) => "(state.url is not a URL)".into(),
    }
}

async fn subscriptions(config: &Config, command: SubscriptionsCommand) -> Result<()> {
    let scheduler = crate::push::scheduler(config).map_err(|e| setup::SetupError(vec![e]))?;
    match command {
        SubscriptionsCommand::List => {
            let bot = setup::bot(config).await?;
            let tz = config.time_zone();
            let now = jiff::Zoned::now().with_time_zone(tz.clone());
            let subs = scheduler.subscriptions().await?;
            if subs.is_empty() {
                out!("no subscriptions");
            }
            for (sub, origin) in subs {
                let to = sub
                    .group
                    .as_deref()
                    .map(|g| format!("group {g}"))
                    .unwrap_or_else(|| "1:1".into());
                let last = scheduler
                    .store
                    .run(&sub.id)
                    .await?
                    .map(|m| {
                        m.after
                            .to_zoned(tz.clone())
                            .strftime("%Y-%m-%d %H:%M")
                            .to_string()
                    })
                    .unwrap_or_else(|| "never".into());
                let next = crate::push::schedule::Schedule::parse(&sub.schedule)
                    .ok()
                    .and_then(|s| s.next_after(now.timestamp(), &tz))
                    .map(|t| t.strftime("%Y-%m-%d %H:%M").to_string())
                    .unwrap_or_else(|| "never".into());
                let status =
                    match crate::push::subscriptions::check(&sub, &bot, &config.push, &now).await {
                        Ok(c) => format!("ok ({})", c.intent),
                        Err(e) => format!("refused: {e}"),
                    };
                out!(
                    "{}\t{}\t{} -> {}\t{:?}\t{}\tholidays={:?}\tlast={last}\tnext={next}\t{status}",
                    sub.id,
                    origin.as_str(),
                    sub.user,
                    to,
                    sub.question,
                    sub.schedule,
                    sub.holidays,
                );
            }
            Ok(())
        }
        SubscriptionsCommand::Remove { id } => {
            let configured = scheduler.is_configured(&id);
            if !scheduler.store.remove_subscription(&id, configured).await? {
                bail!("no subscription {id:?}");
            }
            if configured {
                out!("subscription {id:?} switched off; remove it from the configuration file too");
            } else {
                out!("subscription {id:?} removed");
            }
            Ok(())
        }
    }
}
