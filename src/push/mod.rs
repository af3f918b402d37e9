//! The bot speaks first: scheduled reports (subscriptions) and ERP alerts.
//!
//! - [`schedule`]: five-field cron schedules in the company time zone.
//! - [`holidays`]: public holidays (Hong Kong 2026-2027 built in) and the working week.
//! - [`config`]: `[push]`, `[[subscription]]`, `[[alert_route]]`.
//! - [`subscriptions`]: the gate every subscription passes (who, what, where).
//! - [`scheduler`]: runs due subscriptions through [`crate::pipeline::Bot::answer`] as the
//!   subscriber, delivers, audits (channel `push`), and persists the last run.
//! - [`alerts`]: low stock by polling: one message per crossing, re-armed on recovery.
//! - [`orders`]: order state changes and large orders by polling the recent orders.
//! - [`inbound`]: `POST /events/<source>`: signed, replay-protected reports from the ERP.
//! - [`events`]: the canonical event both ways produce, routed, checked, delivered, audited.
//! - [`routing`]: which alerts go to whom.
//! - [`store`]: the state kept between runs, behind a trait (a JSON file by default).
//!
//! A push is a question the subscriber asked: the same pipeline, the same policy, the
//! same audit, every time it runs.

pub mod alerts;
pub mod config;
pub mod events;
pub mod holidays;
pub mod inbound;
pub mod orders;
pub mod routing;
pub mod schedule;
pub mod scheduler;
pub mod store;
pub mod subscriptions;

use std::sync::Arc;

use jiff::Zoned;

use crate::config::Config;
use crate::pipeline::Bot;
use holidays::Holidays;
use scheduler::Scheduler;
use store::FileStore;

/// The holidays `config` names (or the built-in ones), with its working week.
pub fn holidays(config: &Config) -> Result<Holidays, String> {
    let h = match &config.push.holidays {
        Some(p) => Holidays::load(p),
        None => Holidays::builtin(),
    }
    .map_err(|e| e.to_string())?;
    Ok(h.with_working_days(config::working_days(&config.push.working_days)?))
}

/// Where the push state file is.
pub fn state_path(config: &Config) -> std::path::PathBuf {
    config
        .push
        .state
        .clone()
        .unwrap_or_else(|| store::path_for(&config.audit.path))
}

/// The scheduler `config` describes, over the file-backed state.
pub fn scheduler(config: &Config) -> Result<Scheduler, String> {
    let holidays = holidays(config)?;
    let store = FileStore::open(&state_path(config)).map_err(|e| e.to_string())?;
    Ok(Scheduler::new(
        Arc::new(store),
        holidays,
        config.push.clone(),
        config.subscriptions.clone(),
        config.time_zone(),
    ))
}

/// What `askerp check` says about pushes: one line per subscription and route that is
/// fine, and every problem.
pub async fn check(config: &Config, bot: &Bot, now: &Zoned) -> (Vec<String>, Vec<String>) {
    let mut ok = Vec::new();
    let mut problems = Vec::new();
    let holidays = match holidays(config) {
        Ok(h) => {
            ok.push(format!(
                "holidays: {} ({})",
                if h.region().is_empty() {
                    "?"
                } else {
                    h.region()
                },
                h.years()
                    .iter()
                    .map(i16::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
            Some(h)
        }
        Err(e) => {
            problems.push(e);
            None
        }
    };
    for sub in &config.subscriptions {
        let at = format!("subscription {:?}", sub.id);
        let Ok(schedule) = schedule::Schedule::parse(&sub.schedule) else {
            continue; // Reported by the configuration's own validation.
        };
        match subscriptions::check(sub, bot, &config.push, now).await {
            Ok(c) => {
                let next = schedule.next_after(now.timestamp(), &config.time_zone());
                let Some(next) = next else {
                    problems.push(format!("{at}: schedule {:?} never fires", sub.schedule));
                    continue;
                };
                if let Some(h) = &holidays
                    && !h.covers(next.date())
                {
                    problems.push(format!(
                        "{at}: its next run ({}) is in a year the holiday file does not cover; extend push.holidays",
                        next.date()
                    ));
                }
                ok.push(format!(
                    "{at}: {} as {} to {}, next {}",
                    c.intent,
                    sub.user,
                    sub.group.as_deref().unwrap_or("1:1"),
                    next.strftime("%Y-%m-%d %H:%M %Z")
                ));
            }
            Err(e) => problems.push(format!("{at}: {e}")),
        }
    }
    for (n, route) in config.alert_routes.iter().enumerate() {
        let at = format!("alert_route #{} ({})", n + 1, route.kind.as_str());
        let before = problems.len();
        for user in &route.users {
            match bot.directory.lookup(user) {
                None => problems.push(format!("{at}: user {user:?} is not in the directory")),
                Some(p) if !bot.policy.allows(p, routing::intent_of(route.kind)) => {
                    problems.push(format!(
                        "{at}: user {user:?} may not see {} (policy)",
                        routing::intent_of(route.kind)
                    ))
                }
                Some(_) => {}
            }
        }
        for group in &route.groups {
            if let Some(g) = config.push.groups.iter().find(|g| &g.id == group)
                && !routing::audience_allows(bot, g, routing::intent_of(route.kind))
            {
                problems.push(format!(
                    "{at}: group {group:?}'s audience ({}) may not see {}",
                    g.audience_role,
                    routing::intent_of(route.kind)
                ));
            }
        }
        if problems.len() == before {
            ok.push(format!(
                "{at}: {} users, {} groups",
                route.users.len(),
                route.groups.len()
            ));
        }
    }
    (ok, problems)
}

/// The scheduler of a server, or `None` (logged) when pushes are off or cannot start.
pub fn open(config: &Config) -> Option<Arc<Scheduler>> {
    if !config.push.enabled {
        return None;
    }
    match scheduler(config) {
        Ok(s) => Some(Arc::new(s)),
        Err(e) => {
            tracing::error!(error = %e, "Scheduled reports and alerts are off.");
            None
        }
    }
}

/// Runs the server's scheduler every `push.tick_secs` until `stop`; a tick in progress
/// is finished first.
pub fn spawn(
    state: crate::server::AppState,
    stop: tokio_util::sync::CancellationToken,
) -> Option<tokio::task::JoinHandle<()>> {
    let scheduler = state.push.clone()?;
    let alerts = alerts::LowStockAlerts::new(
        state.config.alert_routes.clone(),
        state.config.push.groups.clone(),
    );
    if !alerts.is_empty() {
        let state = state.clone();
        let scheduler = Arc::clone(&scheduler);
        let stop = stop.clone();
        tokio::spawn(async move {
            let mut every = tokio::time::interval(std::time::Duration::from_secs(
                state.config.push.low_stock_poll_secs.max(1),
            ));
            every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    () = stop.cancelled() => break,
                    _ = every.tick() => {}
                }
                let bot = state.bot();
                let now = Zoned::now().with_time_zone(bot.tz.clone());
                let deps = scheduler::Deps {
                    bot: &bot,
                    client: &state.dingtalk,
                    audit: &state.audit,
                };
                match alerts.poll(&deps, scheduler.store.as_ref(), &now).await {
                    Ok(r) => {
                        for _ in 0..r.delivered {
                            state.metrics.count("alerts_delivered");
                        }
                        for _ in 0..(r.failed.len() + r.refused.len()) {
                            state.metrics.count("alerts_not_delivered");
                        }
                    }
                    Err(e) => tracing::error!(error = %e, "Alert state could not be written."),
                }
            }
        });
    }
    let orders = orders::OrderAlerts::new(
        state.config.alert_routes.clone(),
        state.config.push.groups.clone(),
        state.config.push.order_lookback_days,
    );
    if !orders.is_empty() {
        let state = state.clone();
        let scheduler = Arc::clone(&scheduler);
        let stop = stop.clone();
        tokio::spawn(async move {
            let mut every = tokio::time::interval(std::time::Duration::from_secs(
                state.config.push.order_poll_secs.max(1),
            ));
            every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    () = stop.cancelled() => break,
                    _ = every.tick() => {}
                }
                let bot = state.bot();
                let now = Zoned::now().with_time_zone(bot.tz.clone());
                let deps = scheduler::Deps {
                    bot: &bot,
                    client: &state.dingtalk,
                    audit: &state.audit,
                };
                match orders.poll(&deps, scheduler.store.as_ref(), &now).await {
                    Ok(r) => {
                        state.metrics.add("alerts_delivered", r.delivered as u64);
                        state.metrics.add(
                            "alerts_not_delivered",
                            (r.failed.len() + r.refused.len()) as u64,
                        );
                    }
                    Err(e) => {
                        tracing::error!(error = %e, "Order alert state could not be written.")
                    }
                }
            }
        });
    }
    Some(tokio::spawn(async move {
        {
            let bot = state.bot();
            let now = Zoned::now().with_time_zone(bot.tz.clone());
            let (_, problems) = check(&state.config, &bot, &now).await;
            for p in problems {
                tracing::error!(problem = %p, "Subscription or alert route refused; its runs are recorded as failed.");
            }
        }
        let mut every = tokio::time::interval(std::time::Duration::from_secs(
            state.config.push.tick_secs.max(1),
        ));
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = stop.cancelled() => break,
                _ = every.tick() => {}
            }
            let bot = state.bot();
            let now = Zoned::now().with_time_zone(bot.tz.clone());
            let deps = scheduler::Deps {
                bot: &bot,
                client: &state.dingtalk,
                audit: &state.audit,
            };
            for r in scheduler.tick(&deps, &now).await {
                state.metrics.count(match r.outcome {
                    scheduler::RunOutcome::Sent(_) => "pushes_sent",
                    scheduler::RunOutcome::Skipped(_) => "pushes_skipped",
                    scheduler::RunOutcome::Failed(_) => "pushes_failed",
                    scheduler::RunOutcome::Interrupted => "pushes_interrupted",
                });
            }
        }
    }))
}
