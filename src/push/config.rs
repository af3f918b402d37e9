//! The configuration of pushes: `[push]` (holidays, working week, the groups pushes may
//! go to and who their audience is), `[[subscription]]` and `[[alert_route]]`.
//!
//! What can be checked without the directory, the policy and the intent rules is checked
//! here, as part of [`crate::config::Config::validate`]; the rest (users, roles, what a
//! question resolves to) by [`crate::push::subscriptions::check`] at start-up and in
//! `askerp check`.

use std::collections::{BTreeMap, HashSet};
use std::path::PathBuf;

use jiff::civil::Weekday;
use serde::{Deserialize, Serialize};

use super::schedule::Schedule;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PushConfig {
    /// Whether `serve` runs subscriptions and alerts at all.
    pub enabled: bool,
    /// The holiday file; unset: the built-in Hong Kong holidays 2026-2027.
    pub holidays: Option<PathBuf>,
    /// The days a run moved off a holiday may land on (`mon` … `sun`).
    pub working_days: Vec<String>,
    /// How often the scheduler looks for runs that are due.
    pub tick_secs: u64,
    /// How often the low-stock list is polled for `[[alert_route]]`s of kind `low_stock`.
    pub low_stock_poll_secs: u64,
    /// How often recent orders are polled for `[[alert_route]]`s of kind `order_state` or
    /// `order_amount` (when the connector can list them).
    pub order_poll_secs: u64,
    /// How far back "recent" orders go: those booked within this many days.
    pub order_lookback_days: u32,
    /// Where the push state (last runs, alert readings, chat subscriptions) is kept;
    /// unset: `<audit.path>.push.json`.
    pub state: Option<PathBuf>,
    /// Groups pushes may be sent to.
    #[serde(rename = "group")]
    pub groups: Vec<GroupConfig>,
    /// Systems that may report events at `POST /events/<name>`, by name.
    #[serde(rename = "source")]
    pub sources: BTreeMap<String, SourceConfig>,
    /// How far an inbound event's signed timestamp may be from now, either way; an
    /// event id is remembered for twice this, so a replay is refused for as long as its
    /// signature would be accepted.
    pub event_window_secs: u64,
}

/// A system that reports events (an ERP's webhook, middleware): `[push.source.<name>]`.
/// Its secret, like every secret, comes from the environment or a file only
/// (`ASKERP_PUSH__SOURCE__<NAME>__SECRET` or `…__SECRET_FILE`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SourceConfig {
    /// The shared secret the source signs each request with (HMAC-SHA256).
    pub secret: crate::config::Secret,
}

impl Default for PushConfig {
    fn default() -> Self {
        PushConfig {
            enabled: true,
            holidays: None,
            working_days: ["mon", "tue", "wed", "thu", "fri"]
                .map(String::from)
                .to_vec(),
            tick_secs: 30,
            low_stock_poll_secs: 300,
            order_poll_secs: 300,
            order_lookback_days: 14,
            state: None,
            groups: Vec::new(),
            sources: BTreeMap::new(),
            event_window_secs: 300,
        }
    }
}

/// A group chat pushes may go to, and who is in it: everyone in the group is taken to
/// hold `audience_role` over `regions` / `stores`, so a push to it may carry only what
/// that role may see there.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupConfig {
    /// The group's `openConversationId`.
    pub id: String,
    /// A name for `askerp subscriptions list` and the audit.
    #[serde(default)]
    pub name: String,
    /// The policy role every member of the group holds at least.
    pub audience_role: String,
    #[serde(default)]
    pub regions: Vec<String>,
    #[serde(default)]
    pub stores: Vec<String>,
}

/// What to do with a run that falls on a public holiday.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum HolidayRule {
    /// Drop the run.
    #[default]
    Skip,
    /// Send it at the same time on the next working day.
    Move,
    /// Send it anyway.
    Ignore,
}

/// A scheduled question: `question` asked as `user` on `schedule`, the answer sent to the
/// user 1:1 or to `group`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubscriptionConfig {
    /// A stable id: the key of the last run, and what `askerp subscriptions remove` takes.
    pub id: String,
    /// The subscriber's DingTalk user id: the question is asked as them.
    pub user: String,
    /// A group id from `[[push.group]]`; unset: 1:1 to `user`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    /// Any question the bot answers, in the language the answer should come in.
    pub question: String,
    /// The intent the question must resolve to (checked at start-up), when given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub intent: Option<String>,
    /// `minute hour day-of-month month day-of-week` in `company.time_zone`.
    pub schedule: String,
    #[serde(default)]
    pub holidays: HolidayRule,
}

/// The parsed working week, for [`super::holidays::Holidays::with_working_days`].
pub fn working_days(names: &[String]) -> Result<Vec<Weekday>, String> {
    names
        .iter()
        .map(|n| match n.to_ascii_lowercase().as_str() {
            "mon" | "monday" => Ok(Weekday::Monday),
            "tue" | "tuesday" => Ok(Weekday::Tuesday),
            "wed" | "wednesday" => Ok(Weekday::Wednesday),
            "thu" | "thursday" => Ok(Weekday::Thursday),
            "fri" | "friday" => Ok(Weekday::Friday),
            "sat" | "saturday" => Ok(Weekday::Saturday),
            "sun" | "sunday" => Ok(Weekday::Sunday),
            _ => Err(format!(
                "push.working_days: {n:?} is not a weekday (mon … sun)"
            )),
        })
        .collect()
}

/// The checks that need nothing but the configuration itself.
pub fn validate(
    push: &PushConfig,
    subscriptions: &[SubscriptionConfig],
    routes: &[super::routing::AlertRouteConfig],
    problems: &mut Vec<String>,
) {
    if let Err(e) = working_days(&push.working_days) {
        problems.push(e);
    }
    if push.tick_secs == 0 {
        problems.push("push.tick_secs must be at least 1".into());
    }
    if push.order_poll_secs == 0 {
        problems.push("push.order_poll_secs must be at least 1".into());
    }
    if push.order_lookback_days == 0 {
        problems.push("push.order_lookback_days must be at least 1".into());
    }
    if push.low_stock_poll_secs == 0 {
        problems.push("push.low_stock_poll_secs must be at least 1".into());
    }
    if let Some(path) = &push.holidays
        && !path.is_file()
    {
        problems.push(format!(
            "push.holidays = {:?}: no such file",
            path.display().to_string()
        ));
    }
    if push.event_window_secs == 0 || push.event_window_secs > 3600 {
        problems.push(format!(
            "push.event_window_secs = {}: must be between 1 and 3600",
            push.event_window_secs
        ));
    }
    for (name, source) in &push.sources {
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-')
        {
            problems.push(format!(
                "push.source {name:?}: a source name is lower-case letters, digits, '_' and '-' (it is the path /events/<name> and part of an environment variable)"
            ));
        }
        if source.secret.is_empty() {
            let env = format!("ASKERP_PUSH__SOURCE__{}__SECRET", name.to_ascii_uppercase());
            problems.push(format!(
                "push.source {name:?} has no secret: set {env} or {env}_FILE"
            ));
        }
    }
    let mut groups = HashSet::new();
    for g in &push.groups {
        if g.id.trim().is_empty() {
            problems.push("push.group: id is empty".into());
        } else if !groups.insert(g.id.as_str()) {
            problems.push(format!("push.group {:?} is listed twice", g.id));
        }
    }
    let mut ids = HashSet::new();
    for s in subscriptions {
        let at = format!("subscription {:?}", s.id);
        if s.id.trim().is_empty() {
            problems.push("subscription: id is empty".into());
        } else if !ids.insert(s.id.as_str()) {
            problems.push(format!("{at} is listed twice"));
        }
        if s.user.trim().is_empty() {
            problems.push(format!("{at}: user is empty"));
        }
        if s.question.trim().is_empty() {
            problems.push(format!("{at}: question is empty"));
        }
        if let Err(e) = Schedule::parse(&s.schedule) {
            problems.push(format!("{at}: {e}"));
        }
        if let Some(g) = &s.group
            && !groups.contains(g.as_str())
        {
            problems.push(format!(
                "{at}: group {g:?} is not a [[push.group]] (a group needs its audience_role before anything is pushed to it)"
            ));
        }
        if let Some(i) = &s.intent
            && crate::intent::Intent::from_name(i).is_none()
        {
            problems.push(format!("{at}: unknown intent {i:?}"));
        }
    }
    super::routing::validate(routes, &groups, problems);
}
