//! Start-up: turns a validated [`Config`] into a ready [`Bot`], loading and
//! cross-checking every data file (intents, directory, policy, message catalogs) and
//! opening the connector. Everything that can be wrong is found here, before the first
//! message, and reported together.

use std::sync::Arc;
use std::time::Duration;

use crate::card::{Messages, Renderer};
use crate::config::Config;
use crate::config::StateBackend;
use crate::erp::config::{BUILTIN_DEMO, ConnectorKind, DemoConfig, Domain};
use crate::erp::demo::DemoErp;
use crate::erp::odata::ODataConnector;
use crate::erp::odoo::OdooConnector;
use crate::erp::protect::{Guard, Protected};
use crate::erp::router::Opened;
use crate::erp::sql::SqlConnector;
use crate::erp::tryton::TrytonConnector;
use crate::erp::{Connector, ErpRouter};
use crate::identity::Directory;
use crate::intent::context::{ContextStore, MemoryContext};
use crate::intent::lexicon::Person;
use crate::intent::llm::{LlmFallback, PromptTemplate};
use crate::intent::{Catalog, Resolver};
use crate::pipeline::Bot;
use crate::policy::Policy;
use crate::state::RedisStore;
use crate::state::context::RedisContext;

#[derive(Debug, thiserror::Error)]
#[error("askerp cannot start:\n{}", .0.iter().map(|p| format!("  - {p}")).collect::<Vec<_>>().join("\n"))]
pub struct SetupError(pub Vec<String>);

/// Loads the intent catalog from `data.intents_dir` or the built-in copy.
pub fn catalog(config: &Config) -> Result<Catalog, String> {
    match &config.data.intents_dir {
        Some(dir) => Catalog::load_dir(dir).map_err(|e| e.to_string()),
        None => Catalog::builtin().map_err(|e| e.to_string()),
    }
}

/// The data files a [`Bot`] answers from, loaded and cross-checked together: what a
/// reload swaps (the connectors and the follow-up memory stay).
struct Data {
    resolver: Resolver,
    directory: Directory,
    policy: Policy,
    messages: Messages,
    llm: Option<LlmFallback>,
}

/// Loads intents, directory, policy, message catalogs and the LLM prompt, adding every
/// problem to `problems`; `None` when any file is unusable.
fn load_data(
    config: &Config,
    shared: Option<&RedisStore>,
    problems: &mut Vec<String>,
) -> Option<Data> {
    let tz = config.time_zone();
    let catalog = catalog(config).map_err(|e| problems.push(e)).ok();
    let directory = match &config.data.directory {
        Some(path) => Directory::load(path),
        None => Directory::demo(),
    }
    .map_err(|e| problems.push(e.to_string()))
    .ok();
    let policy = match &config.data.policy {
        Some(path) => Policy::load(path),
        None => Policy::builtin(),
    }
    .map_err(|e| problems.push(e.to_string()))
    .ok();
    if let (Some(p), Some(d)) = (&policy, &directory) {
        let unknown = p.unknown_roles(d);
        if !unknown.is_empty() {
            problems.push(format!(
                "the directory uses roles the policy does not define: {}",
                unknown.join(", ")
            ));
        }
    }
    let messages = Messages::builtin()
        .map_err(|e| problems.push(e.to_string()))
        .ok();
    let resolver = catalog.and_then(|c| {
        Resolver::new(Arc::new(c), tz.clone())
            .map(|r| r.with_calendar(config.company.calendar()))
            .map_err(|e| problems.push(e.to_string()))
            .ok()
    });
    // The prompt is checked even while the fallback is off, so `askerp check` finds a
    // broken template before someone turns the fallback on.
    let prompt = match &config.llm.prompt {
        Some(path) => PromptTemplate::load(path),
        None => PromptTemplate::builtin(),
    }
    .map_err(|e| problems.push(e.to_string()))
    .ok();
    let llm = match (&prompt, &resolver) {
        (Some(prompt), Some(resolver)) if config.llm.enabled => {
            LlmFallback::new(&config.llm, prompt.clone(), resolver.catalog())
                .map(|f| f.with_shared_state(shared.cloned()))
                .map_err(|e| problems.push(e.to_string()))
                .ok()
        }
        _ => None,
    };
    match (resolver, directory, policy, messages) {
        (Some(resolver), Some(directory), Some(policy), Some(messages)) => Some(Data {
            resolver,
            directory,
            policy,
            messages,
            llm,
        }),
        _ => None,
    }
}

/// Builds the bot for `config`.
pub async fn bot(config: &Config) -> Result<Bot, SetupError> {
    let mut problems = Vec::new();
    let tz = config.time_zone();
    let shared = match config.state.backend {
        StateBackend::Memory => None,
        StateBackend::Redis => match RedisStore::connect(&config.state) {
            Ok(store) => Some(store),
            Err(e) => {
                problems.push(format!("state.url: {e}"));
                None
            }
        },
    };
    let data = load_data(config, shared.as_ref(), &mut problems);
    let today = jiff::Zoned::now().with_time_zone(tz.clone()).date();
    let connector = match connectors(config, today).await {
        Ok(router) => Some(router),
        Err(mut p) => {
            problems.append(&mut p);
            None
        }
    };
    match (data, connector) {
        (Some(data), Some(erp)) if problems.is_empty() => {
            load_vocabulary(&data.resolver, &erp, &data.directory).await;
            Ok(Bot {
                resolver: data.resolver,
                directory: data.directory,
                policy: data.policy,
                erp,
                renderer: Renderer::new(data.messages, tz.clone()),
                tz,
                context: context_store(config, shared.as_ref()),
                llm: data.llm,
                shared,
            })
        }
        _ => Err(SetupError(problems)),
    }
}

/// Follow-up memory: Redis when configured (a follow-up may reach another replica),
/// otherwise this process.
fn context_store(config: &Config, shared: Option<&RedisStore>) -> Arc<dyn ContextStore> {
    let expiry = Duration::from_secs(config.context.expiry_secs);
    match shared {
        Some(store) => Arc::new(RedisContext::new(
            store.clone(),
            expiry,
            config.context.max_entries,
        )),
        None => Arc::new(MemoryContext::new(expiry, config.context.max_entries)),
    }
}

/// A new bot with the data files read again (directory, policy, intents, message
/// catalogs, LLM prompt) and `current`'s connectors and follow-up memory, so open ERP
/// connections, caches and conversations survive. Any problem in any file fails the
/// whole reload with every problem listed; the caller keeps serving `current`.
pub async fn reload(config: &Config, current: &Bot) -> Result<Bot, SetupError> {
    let mut problems = Vec::new();
    let data = load_data(config, current.shared.as_ref(), &mut problems);
    match data {
        Some(data) if problems.is_empty() => {
            load_vocabulary(&data.resolver, &current.erp, &data.directory).await;
            Ok(Bot {
                resolver: data.resolver,
                directory: data.directory,
                policy: data.policy,
                erp: current.erp.clone(),
                renderer: Renderer::new(data.messages, current.tz.clone()),
                tz: current.tz.clone(),
                context: Arc::clone(&current.context),
                llm: data.llm,
                shared: current.shared.clone(),
            })
        }
        _ => Err(SetupError(problems)),
    }
}

/// Gives the resolver the names it looks for in messages: the connectors' places, items,
/// customers and staff, and the directory's people (DESIGN decision 1, entities first).
pub async fn load_vocabulary(resolver: &Resolver, erp: &ErpRouter, directory: &Directory) {
    let vocab = erp.vocabulary().await;
    let mut people: Vec<Person> = vocab
        .employees
        .iter()
        .map(|e| Person {
            id: e.id.clone(),
            names: vec![e.name_en.clone(), e.name_zh.clone()],
        })
        .collect();
    for p in directory.principals() {
        match people.iter_mut().find(|q| q.id == p.employee_id) {
            Some(q) => {
                for n in [&p.name, &p.name_zh] {
                    if !n.is_empty() && !q.names.contains(n) {
                        q.names.push(n.clone());
                    }
                }
            }
            None => people.push(Person {
                id: p.employee_id.clone(),
                names: [p.name.clone(), p.name_zh.clone()]
                    .into_iter()
                    .filter(|n| !n.is_empty())
                    .collect(),
            }),
        }
    }
    tracing::info!(
        places = vocab.places.places.len(),
        items = vocab.items.len(),
        customers = vocab.customers.len(),
        people = people.len(),
        "Vocabulary loaded for understanding."
    );
    resolver.set_vocabulary(vocab, people);
}

/// A resolver with the configured connectors' vocabulary, for the CLI's `resolve`,
/// `explain`, `eval` and `intents test`.
pub async fn resolver(config: &Config) -> anyhow::Result<Resolver> {
    let tz = config.time_zone();
    let catalog = catalog(config).map_err(anyhow::Error::msg)?;
    let resolver =
        Resolver::new(Arc::new(catalog), tz.clone())?.with_calendar(config.company.calendar());
    let directory = match &config.data.directory {
        Some(path) => Directory::load(path),
        None => Directory::demo(),
    }?;
    let today = jiff::Zoned::now().with_time_zone(tz).date();
    match connectors(config, today).await {
        Ok(erp) => load_vocabulary(&resolver, &erp, &directory).await,
        Err(p) => tracing::warn!(problems = ?p, "No connector: resolving without its vocabulary."),
    }
    Ok(resolver)
}

/// Opens every connector a domain is routed to, each behind its guard, and routes the
/// domains to them. SQL connectors connect lazily, so a database that is down does not
/// stop askerp from starting (its circuit breaker answers for it meanwhile).
pub async fn connectors(
    config: &Config,
    today: jiff::civil::Date,
) -> Result<ErpRouter, Vec<String>> {
    let erp = &config.erp;
    let mut problems = Vec::new();
    let mut opened: Vec<Opened> = Vec::new();
    let mut routes = std::collections::BTreeMap::new();
    for domain in Domain::ALL {
        let name = erp.route(domain).to_string();
        routes.insert(domain, name.clone());
        if opened.iter().any(|o| o.name == name) {
            continue;
        }
        let (kind, overrides) = match erp.connectors.get(&name) {
            Some(c) => (c.kind.clone(), c.protect.clone()),
            None if name == BUILTIN_DEMO => (
                ConnectorKind::Demo(DemoConfig {
                    database: erp.demo_database.clone(),
                }),
                Default::default(),
            ),
            None => {
                problems.push(format!("erp: connector {name:?} is not configured"));
                continue;
            }
        };
        let inner: Result<Arc<dyn Connector>, String> = match &kind {
            ConnectorKind::Demo(d) => DemoErp::open(d.database.as_deref(), today)
                .await
                .map(|e| Arc::new(e) as Arc<dyn Connector>)
                .map_err(|e| format!("demo ERP: {e}")),
            ConnectorKind::Sql(c) => SqlConnector::connect(&name, c, &config.company.currency)
                .map(|e| Arc::new(e) as Arc<dyn Connector>)
                .map_err(|e| e.to_string()),
            ConnectorKind::Tryton(c) => TrytonConnector::connect(&name, c)
                .await
                .map(|e| Arc::new(e) as Arc<dyn Connector>)
                .map_err(|e| e.to_string()),
            ConnectorKind::OData(c) => ODataConnector::connect(&name, c)
                .await
                .map(|e| Arc::new(e) as Arc<dyn Connector>)
                .map_err(|e| e.to_string()),
            ConnectorKind::Odoo(c) => OdooConnector::connect(&name, c)
                .await
                .map(|e| Arc::new(e) as Arc<dyn Connector>)
                .map_err(|e| e.to_string()),
        };
        match inner {
            Ok(inner) => {
                let guard = Arc::new(Guard::new(&name, erp.protect.with(&overrides)));
                opened.push(Opened {
                    name,
                    connector: Arc::new(Protected::new(inner, Arc::clone(&guard))),
                    guard,
                });
            }
            Err(e) => problems.push(e),
        }
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    let base = erp.cache_ttl_secs;
    ErpRouter::new(
        opened,
        &routes,
        |d| Duration::from_secs(erp.cache_ttl.get(d).unwrap_or(base)),
        Duration::from_secs(erp.timeout_secs),
    )
    .map_err(|e| vec![e])
}
