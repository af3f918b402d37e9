//! Understanding: turns a message text into an [`Intent`] with typed [`Slots`].
//!
//! The rules live as data in `intents/*.toml` ([`catalog`]), are compiled once into a
//! single `RegexSet` ([`resolve`]), and periods are computed in the company time zone
//! ([`period`]). Before matching, the text is prepared ([`normalize`]); after matching,
//! captured text becomes slot values ([`slots`], [`numbers`]). Nothing here touches the
//! ERP or decides access.

pub mod catalog;
pub mod context;
pub mod detect;
pub mod eval;
pub mod fold;
pub mod frame;
pub mod lexicon;
pub mod llm;
pub mod noise;
pub mod normalize;
pub mod numbers;
pub mod period;
pub mod resolve;
pub mod slots;

use std::fmt;

use jiff::civil::Date;
use serde::{Deserialize, Serialize};

pub use catalog::{
    Catalog, CatalogError, CounterExample, CueDef, Example, Expect, IntentDef, Problem,
    Sensitivity, SlotDef,
};
pub use resolve::{Entity, ExampleFailure, ExampleReport, Explanation, Resolver, Score};

/// Every question askerp can answer. The wire name (`inventory.stock`, …) is the contract
/// used by `intents/`, the policy file, the CLI JSON and the audit log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Intent {
    #[serde(rename = "inventory.stock")]
    InventoryStock,
    #[serde(rename = "inventory.low_stock")]
    InventoryLowStock,
    #[serde(rename = "sales.summary")]
    SalesSummary,
    #[serde(rename = "sales.top_items")]
    SalesTopItems,
    #[serde(rename = "sales.order_status")]
    SalesOrderStatus,
    #[serde(rename = "leave.balance")]
    LeaveBalance,
    #[serde(rename = "report.sales")]
    ReportSales,
    #[serde(rename = "help")]
    Help,
}

impl Intent {
    /// All intents, in the order the help card lists them.
    pub const ALL: [Intent; 8] = [
        Intent::InventoryStock,
        Intent::InventoryLowStock,
        Intent::SalesSummary,
        Intent::SalesTopItems,
        Intent::SalesOrderStatus,
        Intent::ReportSales,
        Intent::LeaveBalance,
        Intent::Help,
    ];

    /// The wire name, e.g. `inventory.stock`.
    pub fn name(self) -> &'static str {
        match self {
            Intent::InventoryStock => "inventory.stock",
            Intent::InventoryLowStock => "inventory.low_stock",
            Intent::SalesSummary => "sales.summary",
            Intent::SalesTopItems => "sales.top_items",
            Intent::SalesOrderStatus => "sales.order_status",
            Intent::LeaveBalance => "leave.balance",
            Intent::ReportSales => "report.sales",
            Intent::Help => "help",
        }
    }

    /// Parses a wire name; `None` for anything not in the catalog.
    pub fn from_name(name: &str) -> Option<Intent> {
        Intent::ALL.into_iter().find(|i| i.name() == name)
    }
}

impl fmt::Display for Intent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The language a question was asked in, and so the language of its answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
pub enum Locale {
    #[default]
    #[serde(rename = "en")]
    En,
    /// Hong Kong written Chinese and Cantonese, answered in Traditional Chinese.
    #[serde(rename = "zh-HK")]
    ZhHk,
    /// Simplified Chinese (Mandarin), answered in Simplified Chinese.
    #[serde(rename = "zh-CN")]
    ZhCn,
    /// Malay.
    #[serde(rename = "ms")]
    Ms,
    /// Vietnamese.
    #[serde(rename = "vi")]
    Vi,
}

impl Locale {
    /// Every locale, in the order catalogs and reports list them.
    pub const ALL: [Locale; 5] = [
        Locale::En,
        Locale::ZhHk,
        Locale::ZhCn,
        Locale::Ms,
        Locale::Vi,
    ];

    /// The BCP 47 tag used in JSON output and the message catalogs.
    pub fn tag(self) -> &'static str {
        match self {
            Locale::En => "en",
            Locale::ZhHk => "zh-HK",
            Locale::ZhCn => "zh-CN",
            Locale::Ms => "ms",
            Locale::Vi => "vi",
        }
    }

    /// Parses a tag as written in `intents/`, the policy file and JSON.
    pub fn from_tag(tag: &str) -> Option<Locale> {
        Locale::ALL.into_iter().find(|l| l.tag() == tag)
    }

    /// Whether the locale is written in Chinese characters.
    pub fn is_chinese(self) -> bool {
        matches!(self, Locale::ZhHk | Locale::ZhCn)
    }

    /// Guesses the language of a message. See [`detect::detect`] for the rules.
    pub fn detect(text: &str) -> Locale {
        detect::detect(text)
    }
}

/// True for CJK unified ideographs (the blocks Hong Kong text uses).
pub fn is_han(c: char) -> bool {
    matches!(c as u32, 0x3400..=0x4DBF | 0x4E00..=0x9FFF | 0xF900..=0xFAFF | 0x20000..=0x2FFFF)
}

/// How an intent was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    Rule,
    Llm,
    Context,
}

/// The leave categories every connector maps its own codes onto.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LeaveType {
    Annual,
    Sick,
    Compensation,
    Maternity,
    Paternity,
    Unpaid,
    Other,
}

impl LeaveType {
    pub const ALL: [LeaveType; 7] = [
        LeaveType::Annual,
        LeaveType::Sick,
        LeaveType::Compensation,
        LeaveType::Maternity,
        LeaveType::Paternity,
        LeaveType::Unpaid,
        LeaveType::Other,
    ];

    /// The wire name (`annual`, `sick`, …).
    pub fn name(self) -> &'static str {
        match self {
            LeaveType::Annual => "annual",
            LeaveType::Sick => "sick",
            LeaveType::Compensation => "compensation",
            LeaveType::Maternity => "maternity",
            LeaveType::Paternity => "paternity",
            LeaveType::Unpaid => "unpaid",
            LeaveType::Other => "other",
        }
    }

    pub fn from_name(name: &str) -> Option<LeaveType> {
        LeaveType::ALL.into_iter().find(|t| t.name() == name)
    }
}

/// An inclusive date range in the company time zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Period {
    pub start: Date,
    pub end: Date,
}

impl Period {
    /// The period of the same length that ends the day before this one starts; used for
    /// "vs previous period" comparisons on report cards.
    pub fn previous(&self) -> Period {
        let days = self
            .end
            .since(self.start)
            .map(|s| s.get_days())
            .unwrap_or(0);
        let end = self.start.yesterday().unwrap_or(self.start);
        let start = end
            .checked_sub(jiff::Span::new().days(i64::from(days)))
            .unwrap_or(end);
        Period { start, end }
    }
}

/// Who a leave question is about.
pub const SELF_EMPLOYEE: &str = "self";

/// The typed slots of a resolved intent. Text slots keep what the user wrote (trimmed);
/// matching them to the ERP's catalog happens later, against the routed connector.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Slots {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub item: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub warehouse: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub store: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub customer: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub order: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub period: Option<Period>,
    /// `"self"` or a colleague's name / @-mentioned DingTalk id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub employee: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub leave_type: Option<LeaveType>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
    /// How top items are ranked, when the question says ("by quantity").
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rank_by: Option<RankBy>,
    /// What a sales figure is compared with, when the question says ("vs last year",
    /// `同比`); without it, the previous period ([`frame`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub compare: Option<Compare>,
    /// What the figure is broken down by, when the question says ("by month", `按门店`,
    /// "ikut kedai"); the answer is then a report with one row per month, store, ….
    #[serde(skip_serializing_if = "Option::is_none")]
    pub breakdown: Option<BreakdownBy>,
}

/// What a sales figure is broken down by. The time units cut the period in the company
/// calendar; the others group the same orders by who sold or bought them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BreakdownBy {
    Month,
    Week,
    Day,
    Customer,
    Region,
    Store,
}

impl BreakdownBy {
    pub const ALL: [BreakdownBy; 6] = [
        BreakdownBy::Month,
        BreakdownBy::Week,
        BreakdownBy::Day,
        BreakdownBy::Customer,
        BreakdownBy::Region,
        BreakdownBy::Store,
    ];

    /// The wire name (`month`, `store`, …), also the slot value in `intents/`.
    pub fn name(self) -> &'static str {
        match self {
            BreakdownBy::Month => "month",
            BreakdownBy::Week => "week",
            BreakdownBy::Day => "day",
            BreakdownBy::Customer => "customer",
            BreakdownBy::Region => "region",
            BreakdownBy::Store => "store",
        }
    }

    pub fn from_name(name: &str) -> Option<BreakdownBy> {
        BreakdownBy::ALL.into_iter().find(|b| b.name() == name)
    }

    /// The word class of `intents/common.toml` whose phrases ask for this breakdown.
    pub fn word_class(self) -> &'static str {
        match self {
            BreakdownBy::Month => "by_month",
            BreakdownBy::Week => "by_week",
            BreakdownBy::Day => "by_day",
            BreakdownBy::Customer => "by_customer",
            BreakdownBy::Region => "by_region",
            BreakdownBy::Store => "by_store",
        }
    }

    /// Whether the rows are parts of the period rather than groups of its orders.
    pub fn is_time(self) -> bool {
        matches!(
            self,
            BreakdownBy::Month | BreakdownBy::Week | BreakdownBy::Day
        )
    }
}

/// What a sales figure or report is compared with, when the question names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Compare {
    /// The same dates one year earlier ([`frame::year_before`]).
    LastYear,
}

/// What "best-selling" is measured in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RankBy {
    Quantity,
    Revenue,
}

impl Slots {
    /// Whether the named slot has a value (names as in `intents/`).
    pub fn has(&self, name: &str) -> bool {
        match name {
            "item" => self.item.is_some(),
            "warehouse" => self.warehouse.is_some(),
            "region" => self.region.is_some(),
            "store" => self.store.is_some(),
            "customer" => self.customer.is_some(),
            "order" => self.order.is_some(),
            "period" => self.period.is_some(),
            "employee" => self.employee.is_some(),
            "leave_type" => self.leave_type.is_some(),
            "limit" => self.limit.is_some(),
            "rank_by" => self.rank_by.is_some(),
            "compare" => self.compare.is_some(),
            "breakdown" => self.breakdown.is_some(),
            _ => false,
        }
    }
}

/// The result of understanding one message.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Resolution {
    pub intent: Option<Intent>,
    pub slots: Slots,
    pub source: Option<Source>,
    pub locale: Locale,
    /// The id of the rule that matched, for the audit log and `askerp explain`.
    #[serde(skip)]
    pub rule: Option<String>,
    /// A greeting or thanks on its own: answered briefly, not as a question.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub smalltalk: Option<Smalltalk>,
    /// The message asks the bot to do something (cancel, approve, change…): never answered
    /// as a read question.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request: Option<RequestKind>,
    /// Two intents with nearly the same evidence: the user is asked which one.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub candidates: Vec<Intent>,
    /// Parts of the question that were understood but that the answer cannot honour
    /// (a comparison, a breakdown, a second period); the card names them.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub unsupported: Vec<String>,
}

/// Smalltalk the bot answers in a word.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Smalltalk {
    Greeting,
    Thanks,
}

/// A request the bot does not serve as a question.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RequestKind {
    /// Do something in the ERP: askerp only reads.
    Action,
}

impl Resolution {
    /// Nothing understood, in `locale`.
    pub fn none(locale: Locale) -> Resolution {
        Resolution {
            intent: None,
            slots: Slots::default(),
            source: None,
            locale,
            rule: None,
            smalltalk: None,
            request: None,
            candidates: Vec::new(),
            unsupported: Vec::new(),
        }
    }
}
