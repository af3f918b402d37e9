//! Message catalogs (`locales/*.toml`). (Stub: to be implemented.)

/// All user-facing texts, per locale.
#[derive(Debug, Clone, Default)]
pub struct Messages {}

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct MessagesError(pub String);

impl Messages {
    pub fn builtin() -> Result<Messages, MessagesError> {
        Ok(Messages {})
    }
}
