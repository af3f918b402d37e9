//! Rendering: canonical results ([`Content`]) become a [`Card`] in the asker's language.
//!
//! A card is channel-neutral (title, markdown body, buttons); `dingtalk` turns it into a
//! `markdown` or `actionCard` message and `askerp chat` prints it in the terminal. All
//! user-facing text comes from the message catalogs in `locales/` ([`messages`]); number,
//! money, quantity and date formatting lives in [`format`].

pub mod chart;
pub mod facts;
pub mod format;
pub mod messages;
pub mod render;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::erp::{
    DailySales, Employee, Item, LeaveBalance, Order, Place, PlaceKind, SalesSummary, StockLine,
    TopItem,
};
use crate::intent::{Intent, LeaveType, Period, RankBy};

pub use messages::Messages;
pub use render::{Renderer, follow_up_url};

/// What the user sees: a title (also the notification text), a markdown body in DingTalk's
/// markdown subset, and buttons.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Card {
    pub title: String,
    pub markdown: String,
    pub buttons: Vec<Button>,
}

/// A button. `url` is either an https link or a DingTalk deep link
/// `dtmd://dingtalkclient/sendMessage?content=…` that sends a follow-up question as the user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Button {
    pub title: String,
    pub url: String,
}

impl Button {
    /// The question this button sends, when it is a "send message" deep link.
    pub fn follow_up_text(&self) -> Option<String> {
        let rest = self
            .url
            .strip_prefix("dtmd://dingtalkclient/sendMessage?")?;
        url::form_urlencoded::parse(rest.as_bytes())
            .find(|(k, _)| k == "content")
            .map(|(_, v)| v.into_owned())
    }
}

/// Why a question was refused. Rendered as a polite sentence that says why and what to do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum DenyReason {
    /// None of the asker's roles grants this intent.
    IntentNotAllowed { intent: Intent, roles: Vec<String> },
    /// The asker may use the intent, but not for this store / region.
    OutOfScope {
        requested: Place,
        allowed: Vec<Place>,
    },
    /// A colleague's leave needs the HR role.
    OthersLeave,
}

/// What could not be found in the ERP.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", content = "text", rename_all = "snake_case")]
pub enum NotFound {
    Item(String),
    /// A customer the ERP does not know, with the known names closest to it.
    Customer {
        text: String,
        suggestions: Vec<String>,
        /// The question as asked, re-sent with a suggested name by the buttons.
        question: String,
    },
    Order(String),
    Employee(String),
    Place(PlaceKind, String),
}

/// Why a question could not be answered for a technical reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Failure {
    /// The ERP did not answer within the timeout.
    ErpTimeout,
    /// The ERP answered with an error or could not be reached.
    ErpUnavailable,
    /// The ERP refused askerp's own credentials: nothing the asker can fix, so the card
    /// says the IT admin must check the connector.
    ErpCredentials,
    /// Something inside askerp went wrong.
    Internal,
}

/// Everything the pipeline can ask the renderer to show.
#[derive(Debug, Clone, PartialEq)]
pub enum Content {
    Stock {
        /// The item text as the user wrote it.
        query: String,
        /// The warehouse asked about, if any.
        warehouse: Option<Place>,
        lines: Vec<StockLine>,
        /// All warehouses, for "other warehouse" buttons.
        warehouses: Vec<Place>,
        as_of: Timestamp,
    },
    LowStock {
        warehouse: Option<Place>,
        lines: Vec<StockLine>,
        as_of: Timestamp,
    },
    Sales {
        summary: SalesSummary,
        /// The regions / stores the figure covers; both empty means the whole company.
        regions: Vec<Place>,
        stores: Vec<Place>,
        customer: Option<String>,
        /// The period is not over (it ends today): the card says "to date".
        to_date: bool,
        /// The period "previous period" means for this one ([`crate::intent::frame`]).
        previous: Period,
        as_of: Timestamp,
    },
    TopItems {
        period: Period,
        items: Vec<TopItem>,
        /// The regions / stores the ranking covers; both empty means the whole company.
        regions: Vec<Place>,
        stores: Vec<Place>,
        to_date: bool,
        previous: Period,
        /// What the items are ranked by.
        rank_by: RankBy,
        as_of: Timestamp,
    },
    Order {
        order: Order,
        as_of: Timestamp,
    },
    Leave {
        balance: LeaveBalance,
        /// Only this leave type, when the question named one.
        leave_type: Option<LeaveType>,
        /// True when the asker asked about their own leave.
        own: bool,
        as_of: Timestamp,
    },
    Report {
        current: SalesSummary,
        /// The comparison period's figures ([`crate::intent::frame`]).
        previous: SalesSummary,
        top: Vec<TopItem>,
        /// The regions / stores the figures cover; both empty means the whole company.
        regions: Vec<Place>,
        stores: Vec<Place>,
        /// The period is not over: the card says "to date" and that the comparison is
        /// the same days of the previous period.
        to_date: bool,
        /// The comparison is the same dates last year ("vs last year", `同比`), not the
        /// previous period; the card says so.
        last_year: bool,
        /// Sales per day of both periods, for the chart's trend; empty when the connector
        /// could not say (the chart then shows only the breakdown and the totals).
        daily: Vec<DailySales>,
        previous_daily: Vec<DailySales>,
        /// The rows the question asked for ("by month", `按门店`), within the same scope.
        breakdown: Option<crate::breakdown::Breakdown>,
        as_of: Timestamp,
    },
    /// What the asker's roles allow, each with example questions in their language.
    Help {
        entries: Vec<(Intent, Vec<String>)>,
    },
    /// Shown in a group when the real answer went to the asker 1:1; carries no figures.
    PrivateNote {
        intent: Intent,
    },
    /// Shown in a group when the 1:1 answer could not be sent (e.g. the asker never
    /// opened a chat with the bot); carries no figures either.
    PrivateUndelivered {
        intent: Intent,
    },
    Deny(DenyReason),
    /// The DingTalk user is not in the directory.
    UnknownUser {
        user_id: String,
    },
    NotUnderstood {
        text: String,
    },
    /// A request to act in the ERP; askerp only reads.
    NotSupported {
        text: String,
    },
    /// A greeting or thanks on its own, with what the asker may ask.
    Smalltalk {
        kind: crate::intent::Smalltalk,
        entries: Vec<(Intent, Vec<String>)>,
    },
    /// Two intents fit equally well; one button for each, the rest of the question kept.
    ChooseIntent {
        question: String,
        candidates: Vec<Intent>,
    },
    /// A required slot is missing; `question` is the original text so buttons can re-ask
    /// it with the missing part filled in.
    Clarify {
        intent: Intent,
        slot: String,
        question: String,
    },
    /// Several employees match a name; the asker must pick one.
    ChooseEmployee {
        question: String,
        candidates: Vec<Employee>,
    },
    /// Several items match; shown with buttons to ask about each.
    ChooseItem {
        question: String,
        candidates: Vec<Item>,
    },
    NotFound(NotFound),
    Failure {
        failure: Failure,
        /// A short id that also appears in the logs and the audit record.
        reference: String,
    },
    /// A message type askerp cannot read (picture, file, …).
    Unsupported {
        msgtype: String,
    },
}
