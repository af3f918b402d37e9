//! Scheduled reports (issue 10): subscriptions run through the real pipeline as the
//! subscriber, on a simulated clock (`Scheduler::tick` takes "now"), delivered through
//! the DingTalk client to the simulator, audited with channel `push`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use askerp::audit::AuditLog;
use askerp::config::{Config, Secret};
use askerp::dingtalk::DingTalkClient;
use askerp::dingtalk::sim::{Destination, Simulator};
use askerp::pipeline::Bot;
use askerp::push::config::{GroupConfig, HolidayRule, PushConfig, SubscriptionConfig};
use askerp::push::holidays::Holidays;
use askerp::push::scheduler::{Deps, RunOutcome, Scheduler};
use askerp::push::store::{FileStore, PushStore, RunMark};
use askerp::push::subscriptions::{self, Refusal};
use jiff::Zoned;
use jiff::tz::TimeZone;
use serde_json::Value;

use crate::support::{APP_KEY, SECRET};

pub struct Rig {
    pub sim: Simulator,
    pub client: DingTalkClient,
    pub bot: Arc<Bot>,
    pub audit: AuditLog,
    pub audit_path: PathBuf,
    pub state_path: PathBuf,
    pub push: PushConfig,
    pub _dir: tempfile::TempDir,
}

impl Rig {
    pub async fn new() -> Rig {
        Rig::build(false).await
    }

    /// A rig whose demo ERP lives in `<dir>/demo.sqlite`, read without caching between
    /// polls, so a test can change the stock between two polls.
    pub async fn with_demo_file() -> Rig {
        Rig::build(true).await
    }

    pub fn demo_path(&self) -> PathBuf {
        self._dir.path().join("demo.sqlite")
    }

    async fn build(demo_file: bool) -> Rig {
        let dir = tempfile::tempdir().expect("tempdir");
        let sim = Simulator::new(APP_KEY, SECRET);
        let base = sim.serve_on_loopback().await.expect("simulator");
        let mut config = Config::default();
        config.dingtalk.app_key = APP_KEY.into();
        config.dingtalk.app_secret = Secret::new(SECRET);
        config.dingtalk.api_base = base.clone();
        config.dingtalk.oapi_base = base;
        let client = DingTalkClient::new(&config.dingtalk).expect("client");
        let mut bot = askerp::setup::bot(&config).await.expect("bot");
        if demo_file {
            let today = jiff::Zoned::now().with_time_zone(hk()).date();
            let demo =
                askerp::erp::demo::DemoErp::open(Some(&dir.path().join("demo.sqlite")), today)
                    .await
                    .expect("demo");
            bot.erp = askerp::erp::ErpRouter::from_connector(
                Arc::new(demo),
                std::time::Duration::from_millis(1),
                std::time::Duration::from_secs(10),
            );
        }
        let bot = Arc::new(bot);
        let audit_path = dir.path().join("audit.jsonl");
        let audit = AuditLog::open(&audit_path).expect("audit");
        let state_path = askerp::push::store::path_for(&audit_path);
        let mut push = PushConfig::default();
        push.groups.push(GroupConfig {
            id: "cid-kln-managers".into(),
            name: "Kowloon managers".into(),
            audience_role: "sales_manager".into(),
            regions: vec!["KLN".into()],
            stores: vec![],
        });
        push.groups.push(GroupConfig {
            id: "cid-hki-managers".into(),
            name: "HK Island managers".into(),
            audience_role: "sales_manager".into(),
            regions: vec!["HKI".into()],
            stores: vec![],
        });
        push.groups.push(GroupConfig {
            id: "cid-shop-floor".into(),
            name: "Shop floor".into(),
            audience_role: "store_staff".into(),
            regions: vec![],
            stores: vec!["CWB".into()],
        });
        Rig {
            sim,
            client,
            bot,
            audit,
            audit_path,
            state_path,
            push,
            _dir: dir,
        }
    }

    /// A scheduler over the state file as it is on disk now: a fresh one is a restart.
    pub fn scheduler(&self, subs: Vec<SubscriptionConfig>) -> Scheduler {
        let store = FileStore::open(&self.state_path).expect("state");
        Scheduler::new(
            Arc::new(store),
            Holidays::builtin().expect("holidays"),
            self.push.clone(),
            subs,
            hk(),
        )
    }

    pub fn deps(&self) -> Deps<'_> {
        Deps {
            bot: &self.bot,
            client: &self.client,
            audit: &self.audit,
        }
    }

    pub fn audit_lines(&self) -> Vec<Value> {
        read_audit(&self.audit_path)
    }
}

pub fn read_audit(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

pub fn hk() -> TimeZone {
    TimeZone::get("Asia/Hong_Kong").expect("tz")
}

/// A Hong Kong wall-clock time.
pub fn at(local: &str) -> Zoned {
    format!("{local}+08:00[Asia/Hong_Kong]")
        .parse()
        .expect("a Hong Kong time")
}

fn weekly(id: &str, rule: HolidayRule) -> SubscriptionConfig {
    SubscriptionConfig {
        id: id.into(),
        user: "demo.manager".into(),
        group: None,
        question: "weekly sales report".into(),
        intent: Some("report.sales".into()),
        schedule: "0 9 * * mon".into(),
        holidays: rule,
    }
}

fn sent_count(rig: &Rig) -> usize {
    rig.sim.sent().len()
}

#[tokio::test]
async fn a_weekly_report_fires_at_nine_hong_kong_time_skips_a_holiday_and_survives_restarts() {
    let rig = Rig::new().await;
    let subs = vec![weekly("weekly-kln", HolidayRule::Skip)];
    let s = rig.scheduler(subs.clone());
    // First seen on Friday 16 October 2026: nothing is due from before.
    assert!(
        s.tick(&rig.deps(), &at("2026-10-16T10:00:00"))
            .await
            .is_empty()
    );
    // Monday 19 October is a public holiday (the day following Chung Yeung): skipped,
    // recorded, nothing sent.
    let r = s.tick(&rig.deps(), &at("2026-10-19T09:00:00")).await;
    assert_eq!(r.len(), 1);
    assert!(
        matches!(&r[0].outcome, RunOutcome::Skipped(why) if why.contains("Chung Yeung")),
        "{r:?}"
    );
    assert_eq!(sent_count(&rig), 0);
    // The next Monday: not a minute early, then exactly once.
    assert!(
        s.tick(&rig.deps(), &at("2026-10-26T08:59:59"))
            .await
            .is_empty()
    );
    let r = s.tick(&rig.deps(), &at("2026-10-26T09:00:00")).await;
    assert!(matches!(&r[0].outcome, RunOutcome::Sent(_)), "{r:?}");
    assert_eq!(
        r[0].slot.to_string(),
        "2026-10-26T01:00:00Z",
        "09:00 in Hong Kong, UTC+8 all year"
    );
    let sent = rig.sim.sent();
    assert_eq!(sent.len(), 1);
    assert!(
        matches!(&sent[0].to, Destination::Private { user_ids } if user_ids == &["demo.manager".to_string()])
    );
    assert!(
        sent[0].title.to_lowercase().contains("report") || sent[0].text.contains("HK$"),
        "the weekly report card: {} / {}",
        sent[0].title,
        sent[0].text
    );
    assert!(
        s.tick(&rig.deps(), &at("2026-10-26T09:05:00"))
            .await
            .is_empty()
    );
    // A restart (a new scheduler over the same state file) neither sends again...
    let s = rig.scheduler(subs.clone());
    assert!(
        s.tick(&rig.deps(), &at("2026-10-26T09:10:00"))
            .await
            .is_empty()
    );
    assert_eq!(sent_count(&rig), 1);
    drop(s);
    // ...nor skips: down over the next Monday's run, the run is sent when it comes back.
    let s = rig.scheduler(subs.clone());
    let r = s.tick(&rig.deps(), &at("2026-11-02T11:30:00")).await;
    assert_eq!(r.len(), 1, "{r:?}");
    assert!(matches!(&r[0].outcome, RunOutcome::Sent(_)), "{r:?}");
    assert_eq!(sent_count(&rig), 2);
    // Down for three Mondays: one report, not three; the older runs are recorded.
    let r = s.tick(&rig.deps(), &at("2026-11-23T10:00:00")).await;
    let sent: Vec<_> = r
        .iter()
        .filter(|r| matches!(r.outcome, RunOutcome::Sent(_)))
        .collect();
    let superseded = r
        .iter()
        .filter(|r| matches!(&r.outcome, RunOutcome::Skipped(w) if w.contains("superseded")))
        .count();
    assert_eq!((sent.len(), superseded), (1, 2), "{r:?}");
    assert_eq!(sent[0].slot.to_string(), "2026-11-23T01:00:00Z");
    assert_eq!(sent_count(&rig), 3);

    // Every run is audited like an answer, on channel `push`, as the subscriber.
    let audit = rig.audit_lines();
    let pushes: Vec<&Value> = audit.iter().filter(|r| r["channel"] == "push").collect();
    assert_eq!(pushes.len(), audit.len());
    let delivered: Vec<&&Value> = pushes
        .iter()
        .filter(|r| r["outcome"] == "delivered")
        .collect();
    assert_eq!(delivered.len(), 3);
    for r in &delivered {
        assert_eq!(r["user"], "demo.manager");
        assert_eq!(r["principal"], "E2001");
        assert_eq!(r["intent"], "report.sales");
        assert_eq!(r["decision"], "allow");
    }
    assert_eq!(delivered[0]["time"], "2026-10-26T01:00:00Z");
    let skipped = pushes.iter().filter(|r| r["decision"] == "skipped").count();
    assert_eq!(skipped, 3, "the holiday and two superseded runs");
    askerp::audit::verify(&rig.audit_path, None).expect("the chain holds");
}

#[tokio::test]
async fn a_run_on_a_holiday_moves_to_the_next_working_day_and_an_interrupted_send_is_not_repeated()
{
    let rig = Rig::new().await;
    let subs = vec![weekly("weekly-move", HolidayRule::Move)];
    let s = rig.scheduler(subs.clone());
    assert!(
        s.tick(&rig.deps(), &at("2027-02-05T10:00:00"))
            .await
            .is_empty()
    );
    // Monday 8 and Tuesday 9 February 2027 are Lunar New Year holidays: the Monday run
    // goes out on Wednesday at 09:00.
    for t in [
        "2027-02-08T09:00:00",
        "2027-02-09T09:00:00",
        "2027-02-10T08:59:00",
    ] {
        assert!(s.tick(&rig.deps(), &at(t)).await.is_empty(), "{t}");
    }
    let r = s.tick(&rig.deps(), &at("2027-02-10T09:00:00")).await;
    assert_eq!(r.len(), 1);
    assert!(matches!(&r[0].outcome, RunOutcome::Sent(_)), "{r:?}");
    assert_eq!(
        r[0].slot.to_string(),
        "2027-02-08T01:00:00Z",
        "the Monday run, moved"
    );
    assert_eq!(sent_count(&rig), 1);
    // The process stopped after marking the next run as sending: after the restart it
    // is recorded as possibly delivered, not sent a second time.
    let store = FileStore::open(&rig.state_path).expect("state");
    let slot = at("2027-02-15T09:00:00").timestamp();
    let mark = store
        .run("weekly-move")
        .await
        .expect("read")
        .expect("a mark");
    store
        .set_run(
            "weekly-move",
            RunMark {
                after: mark.after,
                sending: Some(slot),
            },
        )
        .await
        .expect("write");
    drop(store);
    let s = rig.scheduler(subs);
    let r = s.tick(&rig.deps(), &at("2027-02-15T09:01:00")).await;
    assert_eq!(r.len(), 1);
    assert_eq!(r[0].outcome, RunOutcome::Interrupted);
    assert_eq!(sent_count(&rig), 1);
    let last = rig.audit_lines().pop().expect("a record");
    assert_eq!(last["outcome"], "unknown");
    assert!(
        last["reason"]
            .as_str()
            .unwrap_or_default()
            .contains("not sent again")
    );
    // The week after runs normally.
    let r = s.tick(&rig.deps(), &at("2027-02-22T09:00:00")).await;
    assert!(matches!(&r[0].outcome, RunOutcome::Sent(_)), "{r:?}");
}

#[tokio::test]
async fn group_subscriptions_need_an_audience_that_may_see_everything_and_never_carry_personal_data()
 {
    let rig = Rig::new().await;
    let now = at("2026-12-04T10:00:00");
    let to_group = |group: &str, user: &str, question: &str| SubscriptionConfig {
        id: "g".into(),
        user: user.into(),
        group: Some(group.into()),
        question: question.into(),
        intent: None,
        schedule: "0 9 * * mon".into(),
        holidays: HolidayRule::Skip,
    };
    let check = |s: SubscriptionConfig| {
        let bot = Arc::clone(&rig.bot);
        let push = rig.push.clone();
        let now = now.clone();
        async move { subscriptions::check(&s, &bot, &push, &now).await }
    };
    // The Kowloon manager's weekly report to the Kowloon managers' group: allowed.
    let ok = check(to_group(
        "cid-kln-managers",
        "demo.manager",
        "weekly sales report",
    ))
    .await
    .expect("allowed");
    assert_eq!(ok.intent.name(), "report.sales");
    // Leave balances are personal: never to a group, whoever asks.
    for user in ["demo.manager", "demo.admin"] {
        let e = check(to_group(
            "cid-kln-managers",
            user,
            "how many annual leave days do I have?",
        ))
        .await
        .expect_err("personal");
        assert!(matches!(e, Refusal::PersonalInGroup(_)), "{e}");
    }
    let e = check(to_group(
        "cid-kln-managers",
        "demo.manager",
        "我仲有幾多日年假?",
    ))
    .await
    .expect_err("personal in Cantonese too");
    assert!(matches!(e, Refusal::PersonalInGroup(_)), "{e}");
    // Store staff may not see sales figures: a group of them gets no sales report.
    let e = check(to_group(
        "cid-shop-floor",
        "demo.admin",
        "weekly sales report",
    ))
    .await
    .expect_err("audience");
    assert!(matches!(e, Refusal::AudienceNotAllowed { .. }), "{e}");
    // The admin sees the whole company; Kowloon managers may not.
    let e = check(to_group(
        "cid-kln-managers",
        "demo.admin",
        "weekly sales report",
    ))
    .await
    .expect_err("scope");
    assert!(matches!(e, Refusal::AudienceScope { .. }), "{e}");
    // The Kowloon manager's figures may not go to the HK Island group.
    let e = check(to_group(
        "cid-hki-managers",
        "demo.manager",
        "weekly sales report",
    ))
    .await
    .expect_err("scope");
    assert!(matches!(e, Refusal::AudienceScope { .. }), "{e}");
    // A group that is not configured has no known audience.
    let e = check(to_group(
        "cid-unknown",
        "demo.manager",
        "weekly sales report",
    ))
    .await
    .expect_err("unknown group");
    assert!(matches!(e, Refusal::UnknownGroup(_)), "{e}");

    // A refused group subscription that runs anyway (configured before the policy
    // changed) sends nothing to the group and records why.
    let sub = SubscriptionConfig {
        id: "leave-to-group".into(),
        ..to_group(
            "cid-kln-managers",
            "demo.manager",
            "how many annual leave days do I have?",
        )
    };
    let s = rig.scheduler(vec![sub]);
    s.tick(&rig.deps(), &at("2026-12-04T10:00:00")).await;
    let r = s.tick(&rig.deps(), &at("2026-12-07T09:00:00")).await;
    assert!(
        matches!(&r[0].outcome, RunOutcome::Failed(why) if why.contains("personal")),
        "{r:?}"
    );
    assert!(rig.sim.sent().is_empty(), "nothing sent anywhere");
    let last = rig.audit_lines().pop().expect("record");
    assert_eq!(last["outcome"], "failed");
    assert_eq!(last["channel"], "push");

    // An allowed group subscription goes into the group, with the subscriber's figures.
    let sub = SubscriptionConfig {
        id: "kln-weekly".into(),
        ..to_group("cid-kln-managers", "demo.manager", "weekly sales report")
    };
    let s = rig.scheduler(vec![sub]);
    s.tick(&rig.deps(), &at("2026-12-04T10:00:00")).await;
    let r = s.tick(&rig.deps(), &at("2026-12-07T09:00:00")).await;
    assert!(matches!(&r[0].outcome, RunOutcome::Sent(_)), "{r:?}");
    let sent = rig.sim.sent();
    assert_eq!(sent.len(), 1);
    assert!(
        matches!(&sent[0].to, Destination::Group { conversation_id } if conversation_id == "cid-kln-managers")
    );
}

fn askerp(config: &Path, args: &[&str]) -> (Option<i32>, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_askerp"))
        .arg("--config")
        .arg(config)
        .args(args)
        .env_remove("ASKERP_CONFIG")
        .output()
        .expect("run askerp");
    (
        out.status.code(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

#[test]
fn check_names_every_bad_subscription_and_the_cli_lists_and_removes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let audit = dir.path().join("audit.jsonl");
    let head = format!(
        "[audit]\npath = \"{}\"\n\n[[push.group]]\nid = \"cid-kln\"\naudience_role = \"sales_manager\"\nregions = [\"KLN\"]\n\n",
        audit.display()
    );
    let bad = dir.path().join("bad.toml");
    std::fs::write(
        &bad,
        format!(
            "{head}{}",
            r#"[[subscription]]
id = "ghost"
user = "nobody.here"
question = "weekly sales report"
schedule = "0 9 * * mon"

[[subscription]]
id = "wrong-intent"
user = "demo.manager"
question = "weekly sales report"
intent = "inventory.low_stock"
schedule = "0 9 * * mon"

[[subscription]]
id = "leave-to-group"
user = "demo.manager"
group = "cid-kln"
question = "how many annual leave days do I have?"
schedule = "0 9 * * mon"

[[subscription]]
id = "gibberish"
user = "demo.manager"
question = "qwxz plorb"
schedule = "0 9 * * mon"
"#
        ),
    )
    .expect("write");
    let (code, out) = askerp(&bad, &["check", "--offline"]);
    assert_eq!(code, Some(78), "{out}");
    for needle in [
        "\"ghost\": user \"nobody.here\" is not in the directory",
        "\"wrong-intent\": the question resolves to report.sales, not inventory.low_stock",
        "\"leave-to-group\": leave.balance is personal",
        "\"gibberish\": the question \"qwxz plorb\" is not understood",
    ] {
        assert!(out.contains(needle), "{needle:?} missing from:\n{out}");
    }
    // What the configuration alone can tell: a bad schedule, an unknown group, a
    // holiday file that does not exist.
    let broken = dir.path().join("broken.toml");
    std::fs::write(
        &broken,
        format!(
            "[push]\nholidays = \"no-such-holidays.toml\"\n\n{head}{}",
            r#"[[subscription]]
id = "bad-schedule"
user = "demo.manager"
question = "weekly sales report"
schedule = "0 25 * * mon"

[[subscription]]
id = "no-group"
user = "demo.manager"
group = "cid-elsewhere"
question = "weekly sales report"
schedule = "0 9 * * mon"
"#
        ),
    )
    .expect("write");
    let (code, out) = askerp(&broken, &["check", "--offline"]);
    assert_eq!(code, Some(78), "{out}");
    for needle in [
        "\"bad-schedule\": schedule \"0 25 * * mon\": hour",
        "\"no-group\": group \"cid-elsewhere\" is not a [[push.group]]",
        "push.holidays",
    ] {
        assert!(out.contains(needle), "{needle:?} missing from:\n{out}");
    }

    let good = dir.path().join("good.toml");
    std::fs::write(
        &good,
        format!(
            "{head}{}",
            r#"[[subscription]]
id = "kln-weekly"
user = "demo.manager"
group = "cid-kln"
question = "weekly sales report"
schedule = "0 9 * * mon"
holidays = "move"
"#
        ),
    )
    .expect("write");
    let (code, out) = askerp(&good, &["check", "--offline"]);
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.contains(
            "✓ subscription \"kln-weekly\": report.sales as demo.manager to cid-kln, next "
        ),
        "{out}"
    );
    let (code, out) = askerp(&good, &["subscriptions", "list"]);
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.contains("kln-weekly\tconfig\tdemo.manager -> group cid-kln"),
        "{out}"
    );
    assert!(out.contains("ok (report.sales)"), "{out}");
    let (code, out) = askerp(&good, &["subscriptions", "remove", "kln-weekly"]);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("switched off"), "{out}");
    let (_, out) = askerp(&good, &["subscriptions", "list"]);
    assert!(out.contains("no subscriptions"), "{out}");
    let (code, out) = askerp(&good, &["subscriptions", "remove", "never-was"]);
    assert_eq!(code, Some(1), "{out}");
}

/// The server runs the scheduler: a run due since yesterday (as the state file says) is
/// sent by the first tick, through the simulator, and audited on channel `push`.
#[tokio::test]
async fn the_server_sends_a_due_run_on_its_first_tick() {
    let app = crate::support::TestApp::start_with(
        |c| {
            c.push.tick_secs = 1;
            c.subscriptions.push(SubscriptionConfig {
                id: "daily-low".into(),
                user: "demo.staff".into(),
                group: None,
                question: "低庫存".into(),
                intent: Some("inventory.low_stock".into()),
                schedule: "30 8 * * *".into(),
                holidays: HolidayRule::Ignore,
            });
            let yesterday = jiff::Timestamp::now() - jiff::SignedDuration::from_hours(48);
            let state = format!("{{\"runs\": {{\"daily-low\": {{\"after\": \"{yesterday}\"}}}}}}");
            std::fs::write(askerp::push::store::path_for(&c.audit.path), state).expect("state");
        },
        None,
    )
    .await;
    let sent = app
        .sim
        .wait_for_sent(1, std::time::Duration::from_secs(10))
        .await;
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert!(
        matches!(&sent[0].to, Destination::Private { user_ids } if user_ids == &["demo.staff".to_string()])
    );
    assert!(
        sent[0].text.contains("低") || sent[0].title.contains("低"),
        "in the question's language: {}",
        sent[0].title
    );
    // Two days down: the older run is recorded as superseded, the latest one sent.
    let audit = app.audit(2).await;
    let push: Vec<&Value> = audit.iter().filter(|r| r["channel"] == "push").collect();
    assert_eq!(push.len(), 2, "{audit:?}");
    assert_eq!(push[0]["decision"], "skipped");
    assert_eq!(push[1]["outcome"], "delivered");
    assert_eq!(push[1]["intent"], "inventory.low_stock");
    assert_eq!(push[1]["principal"], "E1001");
    // Later ticks send nothing more (the run is recorded).
    tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
    assert_eq!(app.sim.sent().len(), 1);
}

/// A replica with `push.enabled = false` (every replica but one, when several share
/// Redis) sends nothing: the run due since yesterday stays unsent (and its state file
/// untouched, for the pushing replica), and reported events are turned away with 503 so
/// the source sends them to the replica that pushes.
#[tokio::test]
async fn a_replica_with_pushes_off_sends_no_run_and_turns_events_away() {
    let state_file = std::sync::Arc::new(std::sync::Mutex::new(None));
    let keep = std::sync::Arc::clone(&state_file);
    let app = crate::support::TestApp::start_with(
        move |c| {
            c.push.enabled = false;
            c.push.tick_secs = 1;
            c.push.sources.insert(
                "wms".into(),
                askerp::push::config::SourceConfig {
                    secret: Secret::new("s"),
                },
            );
            c.subscriptions.push(SubscriptionConfig {
                id: "daily-low".into(),
                user: "demo.staff".into(),
                group: None,
                question: "低庫存".into(),
                intent: Some("inventory.low_stock".into()),
                schedule: "30 8 * * *".into(),
                holidays: HolidayRule::Ignore,
            });
            let yesterday = jiff::Timestamp::now() - jiff::SignedDuration::from_hours(48);
            let state = format!("{{\"runs\": {{\"daily-low\": {{\"after\": \"{yesterday}\"}}}}}}");
            let path = askerp::push::store::path_for(&c.audit.path);
            std::fs::write(&path, &state).expect("state");
            *keep.lock().expect("lock") = Some((path, state));
        },
        None,
    )
    .await;
    let body = br#"{"id":"e1","kind":"low_stock","warehouse":"KC","sku":"X"}"#.to_vec();
    let t = jiff::Timestamp::now().as_second();
    let resp = app
        .http
        .post(format!("{}/events/wms", app.base))
        .header(askerp::push::inbound::TIMESTAMP_HEADER, t.to_string())
        .header(
            askerp::push::inbound::SIGNATURE_HEADER,
            askerp::push::inbound::sign("s", t, &body),
        )
        .body(body)
        .send()
        .await
        .expect("post");
    assert_eq!(resp.status().as_u16(), 503);
    assert_eq!(app.state.metrics.get("events_rejected_push_off"), 1);
    tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
    assert!(app.sim.sent().is_empty(), "{:?}", app.sim.sent());
    let (path, state) = state_file.lock().expect("lock").clone().expect("written");
    assert_eq!(std::fs::read_to_string(path).expect("state"), state);
    assert!(
        !app.audit_lines().iter().any(|r| r["channel"] == "push"),
        "no run recorded"
    );
}

/// A stock line of the demo ERP that is watched (a reorder level) and not low now.
async fn watched_line(db: &sqlx::SqlitePool) -> (String, String, i64, i64) {
    sqlx::query_as(
        "SELECT s.sku, s.warehouse, s.reserved, s.reorder_level FROM stock s \
         WHERE s.reorder_level > 0 AND s.on_hand - s.reserved > s.reorder_level \
         ORDER BY s.sku, s.warehouse LIMIT 1",
    )
    .fetch_one(db)
    .await
    .expect("a watched line")
}

async fn set_on_hand(db: &sqlx::SqlitePool, sku: &str, warehouse: &str, on_hand: i64) {
    sqlx::query("UPDATE stock SET on_hand = ? WHERE sku = ? AND warehouse = ?")
        .bind(on_hand)
        .bind(sku)
        .bind(warehouse)
        .execute(db)
        .await
        .expect("update");
}

async fn settle() {
    // The ERP cache of the rig keeps answers for a millisecond.
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
}

#[tokio::test]
async fn a_low_stock_crossing_is_one_message_per_recipient_re_arms_on_recovery_and_survives_restart()
 {
    use askerp::push::alerts::LowStockAlerts;
    use askerp::push::routing::{AlertKind, AlertRouteConfig};

    let rig = Rig::with_demo_file().await;
    let db = sqlx::SqlitePool::connect(&format!("sqlite://{}", rig.demo_path().display()))
        .await
        .expect("demo db");
    let (sku, warehouse, reserved, level) = watched_line(&db).await;
    let routes = vec![
        AlertRouteConfig {
            kind: AlertKind::LowStock,
            warehouses: vec![warehouse.clone()],
            regions: vec![],
            stores: vec![],
            states: vec![],
            min_amount: None,
            users: vec!["demo.staff".into(), "demo.hr".into()],
            groups: vec!["cid-shop-floor".into()],
            locale: "zh-HK".into(),
        },
        // Covers no warehouse of the demo: its recipient hears nothing.
        AlertRouteConfig {
            kind: AlertKind::LowStock,
            warehouses: vec![],
            regions: vec!["NOWHERE".into()],
            stores: vec![],
            states: vec![],
            min_amount: None,
            users: vec!["demo.manager".into()],
            groups: vec![],
            locale: "en".into(),
        },
    ];
    let alerts = LowStockAlerts::new(routes, rig.push.groups.clone());
    let store = FileStore::open(&rig.state_path).expect("state");
    let clock = std::cell::RefCell::new(at("2026-12-04T10:00:00"));
    let tick = || {
        let next = clock
            .borrow()
            .checked_add(jiff::SignedDuration::from_mins(5))
            .expect("time");
        *clock.borrow_mut() = next.clone();
        next
    };
    // The first poll records what is already low; nothing is sent.
    let r = alerts
        .poll(&rig.deps(), &store, &tick())
        .await
        .expect("poll");
    assert!(r.baseline && r.fired.is_empty(), "{r:?}");
    assert!(rig.sim.sent().is_empty());
    // The stock drops to nothing available: polled ten times, one message per recipient.
    set_on_hand(&db, &sku, &warehouse, reserved).await;
    for _ in 0..10 {
        settle().await;
        alerts
            .poll(&rig.deps(), &store, &tick())
            .await
            .expect("poll");
    }
    let sent = rig.sim.sent();
    assert_eq!(sent.len(), 2, "{sent:#?}");
    assert!(sent.iter().any(|s| matches!(&s.to, Destination::Private { user_ids } if user_ids == &["demo.staff".to_string()])));
    assert!(sent.iter().any(|s| matches!(&s.to, Destination::Group { conversation_id } if conversation_id == "cid-shop-floor")));
    // In the route's language, with the ERP's figures and the next question as a button.
    let card = &sent[0];
    assert!(card.title.contains("低於安全存量"), "{}", card.title);
    assert!(
        card.text.contains(&format!("{level}")),
        "the reorder level: {}",
        card.text
    );
    let next = askerp::card::Button {
        title: card.buttons[0].0.clone(),
        url: card.buttons[0].1.clone(),
    }
    .follow_up_text()
    .expect("a question button");
    let asked = rig
        .bot
        .resolver
        .explain(&next, &at("2026-12-04T10:00:00"))
        .resolution;
    assert_eq!(
        asked.intent.map(|i| i.name()),
        Some("inventory.stock"),
        "{next}"
    );
    assert!(
        asked.slots.warehouse.is_none(),
        "stock in all warehouses: {next}"
    );
    // The HR officer may not see low stock: refused and recorded, nothing sent.
    let audit = rig.audit_lines();
    let denied: Vec<&Value> = audit.iter().filter(|r| r["decision"] == "deny").collect();
    assert_eq!(denied.len(), 1, "{audit:#?}");
    assert_eq!(denied[0]["channel"], "alert");
    assert!(
        denied[0]["reason"]
            .as_str()
            .unwrap_or_default()
            .contains("demo.hr")
    );
    let delivered = audit
        .iter()
        .filter(|r| r["channel"] == "alert" && r["outcome"] == "delivered")
        .count();
    assert_eq!(delivered, 2);

    // A restart while it is still low: not sent again.
    drop(store);
    let store = FileStore::open(&rig.state_path).expect("state");
    settle().await;
    let r = alerts
        .poll(&rig.deps(), &store, &tick())
        .await
        .expect("poll");
    assert!(r.fired.is_empty(), "{r:?}");
    assert_eq!(rig.sim.sent().len(), 2);
    // Still at the level exactly is still low (at or below): nothing re-arms.
    set_on_hand(&db, &sku, &warehouse, reserved + level).await;
    settle().await;
    let r = alerts
        .poll(&rig.deps(), &store, &tick())
        .await
        .expect("poll");
    assert!(r.rearmed.is_empty(), "{r:?}");
    // It recovers above the level: re-armed, nothing sent.
    set_on_hand(&db, &sku, &warehouse, reserved + level + 10).await;
    settle().await;
    let r = alerts
        .poll(&rig.deps(), &store, &tick())
        .await
        .expect("poll");
    assert_eq!(r.rearmed, [format!("{warehouse}:{sku}")]);
    assert_eq!(rig.sim.sent().len(), 2);
    // The staff member mutes alerts for a day; it falls again: only the group hears.
    let until = clock.borrow().timestamp() + jiff::SignedDuration::from_hours(24);
    store
        .set_mute("demo.staff", Some(until))
        .await
        .expect("mute");
    set_on_hand(&db, &sku, &warehouse, reserved).await;
    settle().await;
    let r = alerts
        .poll(&rig.deps(), &store, &tick())
        .await
        .expect("poll");
    assert_eq!(r.fired, [format!("{warehouse}:{sku}")]);
    let sent = rig.sim.sent();
    assert_eq!(sent.len(), 3);
    assert!(matches!(&sent[2].to, Destination::Group { .. }));
    assert!(r.refused.iter().any(|x| x.contains("muted")), "{r:?}");
    askerp::audit::verify(&rig.audit_path, None).expect("the chain holds");
}
