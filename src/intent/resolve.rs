//! Rule-based resolution over one compiled `RegexSet`. (Stub: to be implemented.)

use std::fmt;
use std::sync::Arc;

use jiff::Zoned;
use jiff::tz::TimeZone;

use super::{Catalog, CatalogError, Locale, Resolution, Slots};

/// Compiled rules.
#[derive(Debug, Clone)]
pub struct Resolver {
    catalog: Arc<Catalog>,
    #[allow(dead_code)]
    tz: TimeZone,
}

/// Why a text resolved the way it did, for `askerp explain`.
#[derive(Debug, Clone)]
pub struct Explanation {
    pub lines: Vec<String>,
}

impl fmt::Display for Explanation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for l in &self.lines {
            writeln!(f, "{l}")?;
        }
        Ok(())
    }
}

impl Resolver {
    pub fn new(catalog: Arc<Catalog>, tz: TimeZone) -> Result<Resolver, CatalogError> {
        Ok(Resolver { catalog, tz })
    }

    pub fn catalog(&self) -> &Catalog {
        &self.catalog
    }

    /// Resolves `text` as asked at `now` (in the company time zone).
    pub fn resolve(&self, text: &str, _now: &Zoned) -> Resolution {
        Resolution {
            intent: None,
            slots: Slots::default(),
            source: None,
            locale: Locale::detect(text),
            rule: None,
        }
    }

    pub fn explain(&self, _text: &str, _now: &Zoned) -> Explanation {
        Explanation { lines: vec![] }
    }
}
