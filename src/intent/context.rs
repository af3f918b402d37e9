//! Conversation context: follow-up questions and answers to clarifying questions.
//!
//! After "sales last month in Kowloon", people write "and in Tsuen Wan?", "上個月呢?" or
//! "what about last year" and expect the bot to remember the rest. After the bot asked
//! "for which period?", the next message ("last month") answers that question. The bot
//! remembers the last understood question per (conversation, user) — never per group, so
//! one member's follow-up never continues another member's question — for a configurable
//! time, in a [`ContextStore`].
//!
//! What is remembered is the intent and its slots, never data from the ERP. A follow-up
//! becomes an ordinary resolved question that goes through clarification and policy again.
//! Reading a follow-up ([`follow_up`]) is pure; the store is the only state.

use std::time::Duration;

use async_trait::async_trait;

use super::{Intent, Locale, Period, Slots};

/// Whose context: one user in one conversation.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ContextKey {
    pub conversation_id: String,
    pub user_id: String,
}

/// The last question a user asked in a conversation, as understood (serializable: the
/// Redis store keeps it as JSON).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Turn {
    pub intent: Intent,
    pub slots: Slots,
    pub locale: Locale,
    /// The required slot the bot asked for, when its answer was a clarifying question.
    pub pending: Option<String>,
}

/// Where contexts live. In one process a moka cache ([`MemoryContext`]); several replicas
/// need a shared store (Redis) behind the same trait.
#[async_trait]
pub trait ContextStore: Send + Sync {
    async fn get(&self, key: &ContextKey) -> Option<Turn>;
    /// Remembers `turn`, replacing what was there and restarting the expiry.
    async fn put(&self, key: ContextKey, turn: Turn);
}

/// Contexts in process memory, each forgotten `expiry` after it was last written.
pub struct MemoryContext {
    cache: moka::future::Cache<ContextKey, Turn>,
}

impl MemoryContext {
    pub fn new(expiry: Duration, max_entries: u64) -> MemoryContext {
        MemoryContext {
            cache: moka::future::Cache::builder()
                .max_capacity(max_entries)
                .time_to_live(expiry)
                .build(),
        }
    }
}

#[async_trait]
impl ContextStore for MemoryContext {
    async fn get(&self, key: &ContextKey) -> Option<Turn> {
        self.cache.get(key).await
    }

    async fn put(&self, key: ContextKey, turn: Turn) {
        self.cache.insert(key, turn).await;
    }
}

/// Longer remainders are new questions, not follow-ups.
const MAX_REMAINDER_CHARS: usize = 60;

/// Words that only say "this continues the last question", stripped from the front.
/// Longer phrases first, so "and what about" wins over "and".
const LEADING: &[&str] = &[
    "and what about",
    "and how about",
    "what about",
    "how about",
    "and for",
    "and in",
    "and at",
    "and",
    "then",
    "also",
    "same for",
    "same in",
    "in",
    "at",
    "for",
    "bagaimana dengan",
    "macam mana dengan",
    "thế còn",
    "còn",
    "那麼",
    "那么",
    "咁",
    "噉",
    "那",
    "仲有",
    "換成",
    "换成",
    "改為",
    "改为",
    "喺",
    "在",
];

/// The same at the end ("上個月呢?", "bulan lepas pula?", "tháng trước thì sao?").
const TRAILING: &[&str] = &[
    "thì sao",
    "then",
    "instead",
    "pula",
    "pulak",
    "pun",
    "呢",
    "咧",
    "啊",
    "呀",
    "吖",
    "嘅",
    "又點",
    "又如何",
    "又怎樣",
    "又怎样",
];

/// Punctuation dropped at either end.
const PUNCTUATION: &[char] = &['?', '？', '!', '！', '.', '。', ',', '，', '、', '~', '…'];

/// A place the follow-up text may name, as the connector knows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlaceSlot {
    Warehouse,
    Store,
    Region,
}

/// What a follow-up message changes in the previous question.
///
/// `periods` are the period expressions found in the new message (first one wins) and
/// `rest` is what is left of the message once they are removed. `has_slot` says whether
/// an intent declares a slot; `place` says which kinds of place the text names. Returns
/// the previous question's slots with the change applied, or `None` when the message is
/// not a follow-up.
pub fn follow_up(
    previous: &Turn,
    periods: &[Period],
    rest: &str,
    has_slot: &dyn Fn(Intent, &str) -> bool,
    place: &dyn Fn(&str) -> Vec<PlaceSlot>,
) -> Option<Slots> {
    let (rest, marked) = strip_markers(rest);
    if rest.chars().count() > MAX_REMAINDER_CHARS {
        return None;
    }
    let intent = previous.intent;
    let mut slots = previous.slots.clone();
    let mut changed = false;
    if let Some(p) = periods.first()
        && has_slot(intent, "period")
    {
        slots.period = Some(*p);
        changed = true;
    }
    if previous.pending.as_deref() == Some("period") && !changed {
        // The bot asked for a period and did not get one.
        return None;
    }
    if !rest.is_empty() {
        match previous.pending.as_deref() {
            Some(slot @ ("item" | "order" | "customer" | "employee")) if has_slot(intent, slot) => {
                set_text(&mut slots, slot, &rest);
                changed = true;
            }
            _ => {
                let kinds = place(&rest);
                let wanted = [
                    (PlaceSlot::Warehouse, "warehouse"),
                    (PlaceSlot::Region, "region"),
                    (PlaceSlot::Store, "store"),
                ];
                let target = wanted
                    .iter()
                    .filter(|(kind, _)| kinds.contains(kind))
                    .find_map(|(_, slot)| has_slot(intent, slot).then_some(*slot))
                    // A sales question takes a store in its `region` slot too.
                    .or_else(|| {
                        (kinds.contains(&PlaceSlot::Store) && has_slot(intent, "region"))
                            .then_some("region")
                    });
                match target {
                    Some(slot) => {
                        slots.warehouse = None;
                        slots.region = None;
                        slots.store = None;
                        set_text(&mut slots, slot, &rest);
                        changed = true;
                    }
                    // "and the Galaxy S24?" after a stock question: another item.
                    None if marked && has_slot(intent, "item") => {
                        slots.item = Some(rest.clone());
                        changed = true;
                    }
                    None => return None,
                }
            }
        }
    }
    changed.then_some(slots)
}

/// Copies one slot's value from the previous question; false when it had none.
pub fn copy_slot(from: &Slots, to: &mut Slots, slot: &str) -> bool {
    match slot {
        "item" => to.item.clone_from(&from.item),
        "warehouse" => to.warehouse.clone_from(&from.warehouse),
        "region" => to.region.clone_from(&from.region),
        "store" => to.store.clone_from(&from.store),
        "customer" => to.customer.clone_from(&from.customer),
        "order" => to.order.clone_from(&from.order),
        "period" => to.period = from.period,
        "employee" => to.employee.clone_from(&from.employee),
        "leave_type" => to.leave_type = from.leave_type,
        "limit" => to.limit = from.limit,
        "breakdown" => to.breakdown = from.breakdown,
        _ => return false,
    }
    to.has(slot)
}

fn set_text(slots: &mut Slots, slot: &str, value: &str) {
    let value = Some(value.to_string());
    match slot {
        "item" => slots.item = value,
        "order" => slots.order = value,
        "customer" => slots.customer = value,
        "employee" => slots.employee = value,
        "warehouse" => slots.warehouse = value,
        "region" => slots.region = value,
        "store" => slots.store = value,
        _ => {}
    }
}

/// Removes follow-up words and punctuation from both ends; says whether any word was
/// removed (which marks the message as a follow-up rather than a new question).
pub fn strip_markers(text: &str) -> (String, bool) {
    let mut s = text.trim().trim_matches(PUNCTUATION).trim().to_string();
    let mut marked = false;
    loop {
        let before = s.len();
        let lower = s.to_lowercase();
        if let Some(m) = LEADING.iter().find(|m| starts_with_word(&lower, m)) {
            s = s.get(m.len()..).unwrap_or_default().to_string();
        }
        let lower = s.to_lowercase();
        if let Some(m) = TRAILING.iter().find(|m| ends_with_word(&lower, m)) {
            let end = s.len().saturating_sub(m.len());
            s = s.get(..end).unwrap_or_default().to_string();
        }
        s = s.trim().trim_matches(PUNCTUATION).trim().to_string();
        if s.len() == before {
            break;
        }
        marked = true;
    }
    (s, marked)
}

/// A Latin word must end at a word boundary ("in" is not the start of "inventory");
/// Chinese has no spaces, so a Chinese marker may be followed by anything.
fn starts_with_word(text: &str, word: &str) -> bool {
    text.starts_with(word)
        && (!word.is_ascii()
            || text
                .get(word.len()..)
                .and_then(|r| r.chars().next())
                .is_none_or(|c| !c.is_alphanumeric()))
}

fn ends_with_word(text: &str, word: &str) -> bool {
    text.ends_with(word)
        && (!word.chars().all(|c| c.is_alphabetic() && !super::is_han(c))
            || text
                .get(..text.len() - word.len())
                .and_then(|r| r.chars().last())
                .is_none_or(|c| !c.is_alphanumeric()))
}

#[cfg(test)]
mod tests {
    use jiff::civil::date;

    use super::*;

    fn sales() -> Turn {
        Turn {
            intent: Intent::SalesSummary,
            slots: Slots {
                region: Some("Kowloon".into()),
                period: Some(Period {
                    start: date(2026, 10, 1),
                    end: date(2026, 10, 31),
                }),
                ..Slots::default()
            },
            locale: Locale::En,
            pending: None,
        }
    }

    fn has(intent: Intent, slot: &str) -> bool {
        match intent {
            Intent::SalesSummary => ["period", "region", "store", "customer"].contains(&slot),
            Intent::InventoryStock => ["item", "warehouse"].contains(&slot),
            _ => false,
        }
    }

    fn places(text: &str) -> Vec<PlaceSlot> {
        match text.to_lowercase().as_str() {
            "tsuen wan" | "荃灣" => vec![PlaceSlot::Warehouse],
            "mong kok" => vec![PlaceSlot::Store],
            "hong kong island" => vec![PlaceSlot::Region],
            _ => vec![],
        }
    }

    const LAST_YEAR: Period = Period {
        start: date(2025, 1, 1),
        end: date(2025, 12, 31),
    };

    #[test]
    fn a_new_period_replaces_the_old_one() {
        for rest in ["", "呢", "what about", "pula", "thì sao", "and?"] {
            let slots = follow_up(&sales(), &[LAST_YEAR], rest, &has, &places)
                .unwrap_or_else(|| panic!("{rest:?} is a follow-up"));
            assert_eq!(slots.period, Some(LAST_YEAR));
            assert_eq!(slots.region.as_deref(), Some("Kowloon"));
        }
    }

    #[test]
    fn a_place_replaces_the_old_place() {
        let slots = follow_up(&sales(), &[], "and in Mong Kok?", &has, &places).expect("store");
        assert_eq!(slots.store.as_deref(), Some("Mong Kok"));
        assert_eq!(slots.region, None, "the new place replaces the old one");
        assert_eq!(slots.period, sales().slots.period);
        let slots =
            follow_up(&sales(), &[], "what about Hong Kong Island", &has, &places).expect("region");
        assert_eq!(slots.region.as_deref(), Some("Hong Kong Island"));

        let stock = Turn {
            intent: Intent::InventoryStock,
            slots: Slots {
                item: Some("iPhone 15 Pro 256GB".into()),
                warehouse: Some("觀塘".into()),
                ..Slots::default()
            },
            locale: Locale::ZhHk,
            pending: None,
        };
        let slots = follow_up(&stock, &[], "荃灣呢?", &has, &places).expect("warehouse");
        assert_eq!(slots.warehouse.as_deref(), Some("荃灣"));
        assert_eq!(slots.item.as_deref(), Some("iPhone 15 Pro 256GB"));
        let slots = follow_up(&stock, &[], "and Galaxy S24?", &has, &places).expect("item");
        assert_eq!(slots.item.as_deref(), Some("Galaxy S24"));
    }

    #[test]
    fn unrelated_text_is_not_a_follow_up() {
        assert_eq!(follow_up(&sales(), &[], "hello there", &has, &places), None);
        assert_eq!(follow_up(&sales(), &[], "", &has, &places), None);
        assert_eq!(follow_up(&sales(), &[], "inventory", &has, &places), None);
        let long = "and ".to_string() + &"x".repeat(100);
        assert_eq!(follow_up(&sales(), &[], &long, &has, &places), None);
    }

    #[test]
    fn a_pending_question_is_answered_by_the_next_message() {
        let mut asked = sales();
        asked.slots.period = None;
        asked.pending = Some("period".into());
        let slots = follow_up(&asked, &[LAST_YEAR], "", &has, &places).expect("period");
        assert_eq!(slots.period, Some(LAST_YEAR));
        assert_eq!(follow_up(&asked, &[], "Mong Kok", &has, &places), None);

        let stock = Turn {
            intent: Intent::InventoryStock,
            slots: Slots::default(),
            locale: Locale::En,
            pending: Some("item".into()),
        };
        let slots = follow_up(&stock, &[], "iPhone 15 Pro 256GB", &has, &places).expect("item");
        assert_eq!(slots.item.as_deref(), Some("iPhone 15 Pro 256GB"));
    }

    #[test]
    fn markers_respect_word_boundaries() {
        assert_eq!(strip_markers("inventory"), ("inventory".to_string(), false));
        assert_eq!(strip_markers("and in Tsuen Wan?").0, "Tsuen Wan");
        assert_eq!(strip_markers("荃灣呢？").0, "荃灣");
        assert_eq!(strip_markers("Sandra").0, "Sandra");
    }
}
