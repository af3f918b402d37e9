//! The intent catalog: `intents/*.toml` parsed and checked. (Stub: to be implemented.)

use std::path::Path;

use serde::Serialize;

use super::{Intent, Locale};

/// How careful delivery must be with an intent's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Sensitivity {
    /// Company data the asker's role may see; may be answered in a group.
    Internal,
    /// One person's data (leave): never posted into a group.
    Personal,
}

/// A slot an intent takes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlotDef {
    pub name: String,
    pub required: bool,
}

/// One intent as declared in `intents/`.
#[derive(Debug, Clone)]
pub struct IntentDef {
    pub intent: Intent,
    pub sensitivity: Sensitivity,
    pub slots: Vec<SlotDef>,
}

#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    #[error("{0}")]
    Invalid(String),
}

/// All intents.
#[derive(Debug, Clone)]
pub struct Catalog {
    pub intents: Vec<IntentDef>,
}

impl Catalog {
    /// The catalog compiled into the binary from `intents/`.
    pub fn builtin() -> Result<Catalog, CatalogError> {
        Err(CatalogError::Invalid("not implemented".into()))
    }

    /// Loads every `*.toml` in `dir`, reporting all problems at once.
    pub fn load_dir(_dir: &Path) -> Result<Catalog, CatalogError> {
        Err(CatalogError::Invalid("not implemented".into()))
    }

    /// The definition of `intent` (every intent is present in a valid catalog).
    pub fn def(&self, intent: Intent) -> Option<&IntentDef> {
        self.intents.iter().find(|d| d.intent == intent)
    }

    /// Example questions for the help card, in `locale`.
    pub fn examples(&self, _intent: Intent, _locale: Locale) -> Vec<String> {
        Vec::new()
    }
}
