//! Content → Card. (Stub: to be implemented.)

use jiff::tz::TimeZone;

use super::{Card, Content, Messages};
use crate::intent::Locale;

/// Renders content in a locale.
#[derive(Debug, Clone)]
pub struct Renderer {
    #[allow(dead_code)]
    messages: Messages,
    #[allow(dead_code)]
    tz: TimeZone,
}

impl Renderer {
    pub fn new(messages: Messages, tz: TimeZone) -> Renderer {
        Renderer { messages, tz }
    }

    pub fn render(&self, _locale: Locale, _content: &Content) -> Card {
        Card {
            title: String::new(),
            markdown: String::new(),
            buttons: vec![],
        }
    }
}

/// A DingTalk deep link that sends `text` as the user when pressed.
pub fn follow_up_url(text: &str) -> String {
    let q: String = url::form_urlencoded::byte_serialize(text.as_bytes()).collect();
    format!("dtmd://dingtalkclient/sendMessage?content={q}")
}
