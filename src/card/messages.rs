//! Message catalogs (`locales/*.toml`). (Stub: to be implemented.)

/// All user-facing texts, per locale.
#[derive(Debug, Clone, Default)]
pub struct Messages {}
