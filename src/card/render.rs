//! Content → Card, in the asker's language.
//!
//! Every card starts with a `###` heading that repeats its title (DingTalk shows the
//! title only in notifications and the chat list), uses lists rather than tables (DingTalk
//! renders markdown tables poorly) and separates blocks with blank lines, the one line
//! break every DingTalk client honours. Names that come from the ERP or from the user are
//! escaped so they cannot inject markdown, and long listings are capped with a "…and N
//! more" line so a card stays readable on a phone.
//!
//! Buttons are follow-up questions (`dtmd://…sendMessage` links): pressing one sends the
//! question as the user, so it goes through the same understanding and policy checks as a
//! typed one. Their texts come from the `followup.*` catalog keys and must stay phrased
//! the way the intent rules understand; periods in them use [`format::period`].

use jiff::Timestamp;
use jiff::tz::TimeZone;
use rust_decimal::Decimal;

use super::chart::{self, Bar, ChartData, Granularity, Series};
use super::{Button, Card, Content, DenyReason, Failure, Messages, NotFound, format};
use crate::breakdown::Breakdown;
use crate::erp::{
    DailySales, Employee, Item, LeaveBalance, Money, Order, OrderState, Place, PlaceKind, Quantity,
    SalesSummary, StockLine, StoreSales, TopItem,
};
use crate::intent::{Intent, LeaveType, Locale, Period, RankBy};

mod breakdown;

/// Items listed on a stock card before "…and N more".
const MAX_STOCK_ITEMS: usize = 10;
/// Lines listed on a low-stock card.
const MAX_LOW_STOCK: usize = 15;
/// Stores listed in a sales or report breakdown.
const MAX_STORES: usize = 10;
/// Rows listed on a top-items card (the connector usually sends fewer).
const MAX_TOP_ITEMS: usize = 20;
/// Top items shown on a report card.
const MAX_REPORT_TOP: usize = 5;
/// Stores that get a drill-down button on a report card.
const MAX_REPORT_STORE_BUTTONS: usize = 3;
/// Order lines listed on an order card.
const MAX_ORDER_LINES: usize = 20;
/// Candidates offered on a "which one did you mean?" card.
const MAX_CANDIDATES: usize = 5;
/// Buttons on any card; more would push the card body off a phone screen.
const MAX_BUTTONS: usize = 8;
/// Title length: titles show in notifications and the chat list, where space is short.
const MAX_TITLE_CHARS: usize = 40;
/// Button title length, so buttons stay one line.
const MAX_BUTTON_CHARS: usize = 32;
/// How much of a user's text is echoed back.
const MAX_ECHO_CHARS: usize = 80;

/// Renders content in a locale. Cheap to clone; shareable across requests.
#[derive(Debug, Clone)]
pub struct Renderer {
    messages: Messages,
    tz: TimeZone,
}

impl Renderer {
    /// A renderer with the given catalogs, showing times in `tz` (the company time zone).
    pub fn new(messages: Messages, tz: TimeZone) -> Renderer {
        Renderer { messages, tz }
    }

    /// The catalogs this renderer uses.
    pub fn messages(&self) -> &Messages {
        &self.messages
    }

    /// The chart of a report card, in `locale`: the figures of the same `content` the
    /// card shows, ready for [`super::chart::render_png`]. `None` for every other card.
    pub fn chart(&self, locale: Locale, content: &Content) -> Option<ChartData> {
        let Content::Report {
            current,
            previous,
            top,
            to_date,
            daily,
            previous_daily,
            breakdown,
            ..
        } = content
        else {
            return None;
        };
        let r = Ctx {
            m: &self.messages,
            tz: &self.tz,
            locale,
        };
        Some(r.chart(
            current,
            previous,
            (top, breakdown.as_ref()),
            *to_date,
            (daily, previous_daily),
        ))
    }

    /// The paragraph naming what the question asked for but the answer does not give
    /// ([`crate::intent::Resolution::unsupported`]: a second period, more than 20 items, a
    /// comparison with another period), so nothing is dropped silently. `None` when
    /// everything was honoured; unknown part names are skipped.
    pub fn not_honoured(&self, locale: Locale, parts: &[String]) -> Option<String> {
        let m = &self.messages;
        let lines: Vec<String> = parts
            .iter()
            .filter_map(|part| {
                let (name, arg) = part.split_once(':').unwrap_or((part.as_str(), ""));
                match name {
                    "second_period" | "compare_period" => {
                        Some(m.text(locale, &format!("not_honoured.{name}")))
                    }
                    "limit_above_20" => {
                        Some(m.fill(locale, "not_honoured.limit_above_20", &[("limit", arg)]))
                    }
                    _ => None,
                }
            })
            .collect();
        if lines.is_empty() {
            return None;
        }
        let mut out = m.text(locale, "not_honoured.intro");
        for line in lines {
            out.push_str("\n- ");
            out.push_str(&md(&line));
        }
        Some(out)
    }

    /// The catalog text for `key` in `locale`, with `{name}` placeholders filled.
    pub fn text(&self, locale: Locale, key: &str, args: &[(&str, &str)]) -> String {
        self.messages.fill(locale, key, args)
    }

    /// An item's name as cards show it in `locale`.
    pub fn item_name(&self, locale: Locale, item: &crate::erp::Item) -> String {
        let r = Ctx {
            m: &self.messages,
            tz: &self.tz,
            locale,
        };
        r.item_name(item).to_string()
    }

    /// A place's name as cards show it in `locale`.
    pub fn place_name(&self, locale: Locale, place: &Place) -> String {
        let r = Ctx {
            m: &self.messages,
            tz: &self.tz,
            locale,
        };
        r.place_name(place).into_owned()
    }

    /// Renders `content` as a card in `locale`. Total: every variant and every value
    /// (empty lists, zero totals, missing names) yields a card, never a panic.
    pub fn render(&self, locale: Locale, content: &Content) -> Card {
        let r = Ctx {
            m: &self.messages,
            tz: &self.tz,
            locale,
        };
        match content {
            Content::Stock {
                query,
                warehouse,
                lines,
                warehouses,
                as_of,
            } => r.stock(query, warehouse.as_ref(), lines, warehouses, *as_of),
            Content::LowStock {
                warehouse,
                lines,
                as_of,
            } => r.low_stock(warehouse.as_ref(), lines, *as_of),
            Content::Sales {
                summary,
                regions,
                stores,
                customer,
                to_date,
                previous,
                as_of,
            } => r.sales(
                summary,
                (regions, stores),
                customer.as_deref(),
                (*to_date, previous),
                *as_of,
            ),
            Content::TopItems {
                period,
                items,
                regions,
                stores,
                to_date,
                previous,
                rank_by,
                as_of,
            } => r.top_items(
                (period, *to_date, previous),
                items,
                (regions, stores),
                *rank_by,
                *as_of,
            ),
            Content::Order { order, as_of } => r.order(order, *as_of),
            Content::Leave {
                balance,
                leave_type,
                own,
                as_of,
            } => r.leave(balance, *leave_type, *own, *as_of),
            Content::Report {
                current,
                previous,
                top,
                regions,
                stores,
                to_date,
                last_year,
                breakdown,
                as_of,
                ..
            } => r.report(
                current,
                previous,
                (top, breakdown.as_ref()),
                (regions, stores),
                (*to_date, *last_year),
                *as_of,
            ),
            Content::Help { entries } => r.help(entries),
            Content::PrivateNote { intent } => r.private_note(*intent),
            Content::PrivateUndelivered { intent } => r.private_undelivered(*intent),
            Content::Deny(reason) => r.deny(reason),
            Content::UnknownUser { user_id } => r.unknown_user(user_id),
            Content::NotUnderstood { text } => r.not_understood(text),
            Content::NotSupported { text } => r.not_supported(text),
            Content::Smalltalk { kind, entries } => r.smalltalk(*kind, entries),
            Content::ChooseIntent {
                question,
                candidates,
            } => r.choose_intent(question, candidates),
            Content::Clarify {
                intent: _,
                slot,
                question,
            } => r.clarify(slot, question),
            Content::ChooseEmployee {
                question,
                candidates,
            } => r.choose_employee(question, candidates),
            Content::ChooseItem {
                question,
                candidates,
            } => r.choose_item(question, candidates),
            Content::NotFound(what) => r.not_found(what),
            Content::Failure { failure, reference } => r.failure(*failure, reference),
            Content::Unsupported { msgtype } => r.unsupported(msgtype),
        }
    }
}

/// A DingTalk deep link that sends `text` as the user when pressed.
///
/// Spaces are encoded as `%20`, not `+`: the DingTalk client percent-decodes the link and
/// would otherwise send "iPhone+15+Pro".
pub fn follow_up_url(text: &str) -> String {
    let q = percent_encoding::utf8_percent_encode(text, percent_encoding::NON_ALPHANUMERIC);
    format!("dtmd://dingtalkclient/sendMessage?content={q}")
}

/// Makes text from the ERP or the user safe to place in DingTalk markdown: characters that
/// would start emphasis, code, links or HTML become their full-width look-alikes (which
/// every client shows as they are, unlike backslash escapes), and line breaks become
/// spaces so a name cannot start a heading or a list.
fn md(text: &str) -> String {
    text.trim()
        .chars()
        .map(|c| match c {
            '*' => '＊',
            '_' => '＿',
            '`' => '｀',
            '[' => '［',
            ']' => '］',
            '<' => '＜',
            '>' => '＞',
            '\n' | '\r' | '\t' => ' ',
            other => other,
        })
        .collect()
}

/// An identifier (role, user id, reference) as an inline code span, which shows it
/// verbatim (underscores included) and makes it easy to copy.
fn code(text: &str) -> String {
    let clean: String = text
        .trim()
        .chars()
        .filter(|c| *c != '`' && !c.is_control())
        .collect();
    if clean.is_empty() {
        "—".to_string()
    } else {
        format!("`{clean}`")
    }
}

/// Shortens `text` to at most `max` characters, marking the cut with "…".
fn clip(text: &str, max: usize) -> String {
    let text = text.trim();
    if text.chars().count() <= max {
        text.to_string()
    } else {
        let mut out: String = text.chars().take(max.saturating_sub(1)).collect();
        out.push('…');
        out
    }
}

/// The name of a thing in the asker's language, falling back to the other language and
/// then to its code so a card never shows an empty name.
fn pick<'a>(locale: Locale, en: &'a str, zh: &'a str, code: &'a str) -> &'a str {
    let (first, second) = if locale.is_chinese() {
        (zh, en)
    } else {
        (en, zh)
    };
    [first, second, code]
        .into_iter()
        .map(str::trim)
        .find(|s| !s.is_empty())
        .unwrap_or("?")
}

/// The name in the language the asker does not use, when it adds something.
fn other_name<'a>(locale: Locale, en: &'a str, zh: &'a str) -> Option<&'a str> {
    let (shown, other) = if locale.is_chinese() {
        (zh.trim(), en.trim())
    } else {
        (en.trim(), zh.trim())
    };
    (!other.is_empty() && !shown.is_empty() && other != shown).then_some(other)
}

/// Drops trailing question marks and full stops so a follow-up can append to a question.
fn trim_question(question: &str) -> &str {
    question
        .trim()
        .trim_end_matches(['?', '？', '.', '。', '!', '！'])
        .trim_end()
}

/// `question` with the name `written` (found ignoring case) replaced by `name`; `None`
/// when the question does not contain it.
fn replace_name(question: &str, written: &str, name: &str) -> Option<String> {
    let written = written.trim();
    if written.is_empty() {
        return None;
    }
    let lower = question.to_lowercase();
    let at = lower.find(&written.to_lowercase())?;
    // Lower-casing can change byte lengths outside ASCII; only cut where both agree.
    if lower.len() != question.len() {
        return question
            .contains(written)
            .then(|| question.replacen(written, name, 1));
    }
    let (before, rest) = (question.get(..at)?, question.get(at + written.len()..)?);
    Some(format!("{before}{name}{rest}"))
}

/// Sums quantities that share a unit; `None` when units differ or the sum overflows, in
/// which case no total is shown rather than a wrong one.
fn sum_quantities<'a>(mut qs: impl Iterator<Item = &'a Quantity>) -> Option<Quantity> {
    let first = qs.next()?.clone();
    qs.try_fold(first, |acc, q| {
        (q.unit == acc.unit).then_some(())?;
        Some(Quantity {
            value: acc.value.checked_add(q.value)?,
            unit: acc.unit,
        })
    })
}

/// Whether a line is low ([`StockLine::is_low`], the definition the legend states).
fn is_low(line: &StockLine) -> bool {
    line.is_low()
}

/// The average order value, when there are orders to divide by.
fn average(total: &Money, orders: u64) -> Option<Money> {
    if orders == 0 {
        return None;
    }
    let amount = total.amount.checked_div(Decimal::from(orders))?;
    Some(Money {
        amount,
        currency: total.currency.clone(),
    })
}

/// A card under construction: the title, markdown blocks and buttons.
struct Draft {
    title: String,
    blocks: Vec<String>,
    buttons: Vec<Button>,
}

impl Draft {
    /// Starts a card whose body opens with the title as a heading.
    fn new(title: String) -> Draft {
        let heading = format!("### {}", md(&title));
        Draft {
            title,
            blocks: vec![heading],
            buttons: Vec::new(),
        }
    }

    /// A paragraph (already markdown).
    fn para(&mut self, text: String) {
        if !text.trim().is_empty() {
            self.blocks.push(text);
        }
    }

    /// Several short lines in one paragraph, using DingTalk's two-space line break.
    fn lines(&mut self, lines: Vec<String>) {
        let lines: Vec<String> = lines.into_iter().filter(|l| !l.is_empty()).collect();
        if !lines.is_empty() {
            self.blocks.push(lines.join("  \n"));
        }
    }

    /// A bulleted list.
    fn list(&mut self, items: Vec<String>) {
        if !items.is_empty() {
            let list: Vec<String> = items.into_iter().map(|i| format!("- {i}")).collect();
            self.blocks.push(list.join("\n"));
        }
    }

    /// A numbered list.
    fn numbered(&mut self, items: Vec<String>) {
        if !items.is_empty() {
            let list: Vec<String> = items
                .into_iter()
                .enumerate()
                .map(|(i, item)| format!("{}. {item}", i + 1))
                .collect();
            self.blocks.push(list.join("\n"));
        }
    }

    /// A button that sends `question` as the user. Empty questions, duplicates and
    /// buttons beyond the cap are dropped.
    fn ask(&mut self, title: String, question: String) {
        let question = question.trim();
        if question.is_empty() || self.buttons.len() >= MAX_BUTTONS {
            return;
        }
        let url = follow_up_url(question);
        if self.buttons.iter().any(|b| b.url == url) {
            return;
        }
        self.buttons.push(Button {
            title: clip(&title, MAX_BUTTON_CHARS),
            url,
        });
    }

    fn finish(self) -> Card {
        Card {
            title: clip(&self.title, MAX_TITLE_CHARS),
            markdown: self.blocks.join("\n\n"),
            buttons: self.buttons,
        }
    }
}

/// One render call: the catalogs, the time zone and the asker's locale.
struct Ctx<'a> {
    m: &'a Messages,
    tz: &'a TimeZone,
    locale: Locale,
}

impl Ctx<'_> {
    fn t(&self, key: &str) -> String {
        self.m.text(self.locale, key)
    }

    fn f(&self, key: &str, args: &[(&str, &str)]) -> String {
        self.m.fill(self.locale, key, args)
    }

    /// `key.one` or `key.other` depending on `n`, with `{count}` filled in.
    fn plural(&self, key: &str, n: u64) -> String {
        let form = if n == 1 { "one" } else { "other" };
        let count = format::count(self.locale, n);
        self.f(&format!("{key}.{form}"), &[("count", &count)])
    }

    fn item_name<'i>(&self, item: &'i Item) -> &'i str {
        pick(self.locale, &item.name_en, &item.name_zh, &item.sku)
    }

    /// A place's name in the asker's script: Simplified Chinese readers see 观塘, not 觀塘.
    fn place_name<'p>(&self, place: &'p Place) -> std::borrow::Cow<'p, str> {
        let name = pick(self.locale, &place.name_en, &place.name_zh, &place.code);
        if self.locale == Locale::ZhCn {
            std::borrow::Cow::Owned(fast2s::convert(name))
        } else {
            std::borrow::Cow::Borrowed(name)
        }
    }

    fn employee_name<'e>(&self, e: &'e Employee) -> &'e str {
        pick(self.locale, &e.name_en, &e.name_zh, &e.id)
    }

    fn qty(&self, q: &Quantity) -> String {
        format::quantity(self.locale, q, self.m)
    }

    fn money(&self, m: &Money) -> String {
        format::money(self.locale, m)
    }

    fn period(&self, p: &Period) -> String {
        format::period(self.locale, p)
    }

    /// A period as a title shows it: "(to date)" when it is not over.
    fn period_label(&self, p: &Period, to_date: bool) -> String {
        let text = self.period(p);
        if to_date {
            self.f("common.to_date", &[("period", &text)])
        } else {
            text
        }
    }

    /// The sentence a card not over carries: what it is compared with.
    fn same_days(&self, p: &Period, previous: &Period) -> String {
        self.f(
            "common.same_days",
            &[
                ("period", &self.period(p)),
                ("previous_period", &self.period(previous)),
            ],
        )
    }

    fn as_of(&self, ts: Timestamp) -> String {
        format::as_of(self.locale, ts, self.tz)
    }

    /// User text echoed back in quotation marks, shortened and escaped.
    fn quoted(&self, text: &str) -> String {
        self.f(
            "common.quoted",
            &[("text", &md(&clip(text, MAX_ECHO_CHARS)))],
        )
    }

    /// Names joined with the locale's list separator.
    fn join(&self, names: &[&str]) -> String {
        names.join(&self.t("common.list_sep"))
    }

    /// The places a figure covers, or "whole company" when there are none.
    fn scope_text(&self, places: &[&Place]) -> String {
        if places.is_empty() {
            self.t("common.whole_company")
        } else {
            let names: Vec<String> = places.iter().map(|p| md(&self.place_name(p))).collect();
            let names: Vec<&str> = names.iter().map(String::as_str).collect();
            self.join(&names)
        }
    }

    /// The scope part of a follow-up question ("" for the whole company).
    fn followup_scope(&self, places: &[&Place]) -> String {
        if places.is_empty() {
            String::new()
        } else {
            let names: Vec<_> = places.iter().map(|p| self.place_name(p)).collect();
            let names: Vec<&str> = names.iter().map(|n| n.as_ref()).collect();
            self.f("followup.scope", &[("places", &self.join(&names))])
        }
    }

    fn leave_type_name(&self, t: LeaveType) -> String {
        self.t(&format!("leave_type.{}", t.name()))
    }

    fn intent_text(&self, intent: Intent, what: &str) -> String {
        self.t(&format!("intent.{}.{what}", intent.name()))
    }

    fn more(&self, count: usize) -> String {
        self.f("common.more", &[("count", &count.to_string())])
    }

    // ---------------------------------------------------------------- stock

    fn stock(
        &self,
        query: &str,
        warehouse: Option<&Place>,
        lines: &[StockLine],
        warehouses: &[Place],
        as_of: Timestamp,
    ) -> Card {
        // Group lines by item, keeping the connector's order.
        let mut groups: Vec<(&Item, Vec<&StockLine>)> = Vec::new();
        for line in lines {
            match groups
                .iter_mut()
                .find(|(item, _)| item.sku == line.item.sku)
            {
                Some((_, group)) => group.push(line),
                None => groups.push((&line.item, vec![line])),
            }
        }
        let single = match groups.as_slice() {
            [(item, _)] => Some(*item),
            _ => None,
        };
        let subject = match single {
            Some(item) => self.item_name(item).to_string(),
            None if query.trim().is_empty() => "?".to_string(),
            None => clip(query, MAX_ECHO_CHARS),
        };
        let mut card = Draft::new(self.f("stock.title", &[("item", &subject)]));

        if groups.is_empty() {
            let query = self.quoted(query);
            card.para(match warehouse {
                Some(w) => self.f(
                    "stock.none_in",
                    &[("query", &query), ("warehouse", &md(&self.place_name(w)))],
                ),
                None => self.f("stock.none", &[("query", &query)]),
            });
        }

        let mut any_low = false;
        for (item, group) in groups.iter().take(MAX_STOCK_ITEMS) {
            let sku = md(&item.sku);
            if single.is_some() {
                card.para(self.f("stock.sku", &[("sku", &sku)]));
            } else {
                card.para(self.f(
                    "stock.item_heading",
                    &[("item", &md(self.item_name(item))), ("sku", &sku)],
                ));
            }
            let mut rows: Vec<String> = group
                .iter()
                .map(|line| {
                    let low = is_low(line);
                    any_low |= low;
                    let key = if low { "stock.line_low" } else { "stock.line" };
                    self.f(
                        key,
                        &[
                            ("warehouse", &md(&self.place_name(&line.warehouse))),
                            ("available", &self.qty(&line.available)),
                            ("on_hand", &self.qty(&line.on_hand)),
                            ("reserved", &self.qty(&line.reserved)),
                            ("reorder", &self.qty(&line.reorder_level)),
                        ],
                    )
                })
                .collect();
            if group.len() > 1 {
                let totals = (
                    sum_quantities(group.iter().map(|l| &l.available)),
                    sum_quantities(group.iter().map(|l| &l.on_hand)),
                    sum_quantities(group.iter().map(|l| &l.reserved)),
                );
                if let (Some(available), Some(on_hand), Some(reserved)) = totals {
                    rows.push(self.f(
                        "stock.total",
                        &[
                            ("available", &self.qty(&available)),
                            ("on_hand", &self.qty(&on_hand)),
                            ("reserved", &self.qty(&reserved)),
                        ],
                    ));
                }
            }
            card.list(rows);
        }
        if groups.len() > MAX_STOCK_ITEMS {
            let hidden = (groups.len() - MAX_STOCK_ITEMS).to_string();
            card.para(self.f("stock.more", &[("count", &hidden)]));
        }
        if any_low {
            card.para(self.t("common.low_legend"));
        }
        card.para(self.as_of(as_of));

        // Other-warehouse buttons make sense for one item, or for the text the user typed
        // when nothing was found in the warehouse they named.
        let followup_item = match single {
            Some(item) => Some(self.item_name(item).to_string()),
            None if groups.is_empty() && warehouse.is_some() && !query.trim().is_empty() => {
                Some(query.trim().to_string())
            }
            None => None,
        };
        if let Some(item) = followup_item {
            let mut seen: Vec<&str> = Vec::new();
            for place in warehouses {
                if warehouse.is_some_and(|w| w.code == place.code)
                    || seen.contains(&place.code.as_str())
                {
                    continue;
                }
                seen.push(&place.code);
                let name = self.place_name(place);
                card.ask(
                    self.f("stock.button_in", &[("warehouse", &name)]),
                    self.f(
                        "followup.stock_in",
                        &[("item", &item), ("warehouse", &name)],
                    ),
                );
            }
            if warehouse.is_some() {
                card.ask(
                    self.t("stock.button_all"),
                    self.f("followup.stock", &[("item", &item)]),
                );
            }
        }
        card.finish()
    }

    fn low_stock(&self, warehouse: Option<&Place>, lines: &[StockLine], as_of: Timestamp) -> Card {
        let title = match warehouse {
            Some(w) => self.f("low_stock.title_in", &[("warehouse", &self.place_name(w))]),
            None => self.t("low_stock.title"),
        };
        let mut card = Draft::new(title);
        if lines.is_empty() {
            card.para(match warehouse {
                Some(w) => self.f(
                    "low_stock.none_in",
                    &[("warehouse", &md(&self.place_name(w)))],
                ),
                None => self.t("low_stock.none"),
            });
        } else {
            card.list(
                lines
                    .iter()
                    .take(MAX_LOW_STOCK)
                    .map(|line| {
                        self.f(
                            "low_stock.line",
                            &[
                                ("item", &md(self.item_name(&line.item))),
                                ("warehouse", &md(&self.place_name(&line.warehouse))),
                                ("available", &self.qty(&line.available)),
                                ("reorder", &self.qty(&line.reorder_level)),
                            ],
                        )
                    })
                    .collect(),
            );
            if lines.len() > MAX_LOW_STOCK {
                card.para(self.more(lines.len() - MAX_LOW_STOCK));
            }
            card.para(self.t("common.low_legend"));
        }
        card.para(self.as_of(as_of));

        let mut seen: Vec<&str> = Vec::new();
        for line in lines {
            let place = &line.warehouse;
            if warehouse.is_some_and(|w| w.code == place.code)
                || seen.contains(&place.code.as_str())
            {
                continue;
            }
            seen.push(&place.code);
            let name = self.place_name(place);
            card.ask(
                self.f("low_stock.button_in", &[("warehouse", &name)]),
                self.f("followup.low_stock_in", &[("warehouse", &name)]),
            );
        }
        if warehouse.is_some() {
            card.ask(self.t("low_stock.button_all"), self.t("followup.low_stock"));
        }
        card.finish()
    }

    // ---------------------------------------------------------------- sales

    /// The per-store lines of a sales or report card, numbered, capped.
    fn store_breakdown(&self, card: &mut Draft, heading_key: &str, stores: &[StoreSales]) {
        card.para(format!("**{}**", self.t(heading_key)));
        card.numbered(
            stores
                .iter()
                .take(MAX_STORES)
                .map(|s| {
                    self.f(
                        "sales.store_line",
                        &[
                            ("store", &md(&self.place_name(&s.store))),
                            ("amount", &self.money(&s.total)),
                            ("orders", &self.plural("count.orders", s.orders)),
                        ],
                    )
                })
                .collect(),
        );
        if stores.len() > MAX_STORES {
            card.para(self.more(stores.len() - MAX_STORES));
        }
    }

    fn sales(
        &self,
        summary: &SalesSummary,
        (regions, stores): (&[Place], &[Place]),
        customer: Option<&str>,
        (to_date, previous_period): (bool, &Period),
        as_of: Timestamp,
    ) -> Card {
        let period = Period {
            start: summary.start,
            end: summary.end,
        };
        let period_text = self.period(&period);
        let mut card = Draft::new(self.f(
            "sales.title",
            &[("period", &self.period_label(&period, to_date))],
        ));
        let places: Vec<&Place> = regions.iter().chain(stores).collect();
        let customer = customer.map(str::trim).filter(|c| !c.is_empty());

        card.lines(vec![
            self.f("common.scope", &[("places", &self.scope_text(&places))]),
            customer
                .map(|c| self.f("common.customer", &[("customer", &md(c))]))
                .unwrap_or_default(),
        ]);
        card.para(format!("## {}", self.money(&summary.total)));
        if summary.orders == 0 && summary.total.amount.is_zero() {
            card.para(self.t("sales.no_sales"));
        } else {
            let mut facts = vec![self.f(
                "sales.orders",
                &[("count", &format::count(self.locale, summary.orders))],
            )];
            if let Some(avg) = average(&summary.total, summary.orders) {
                facts.push(self.f("sales.average", &[("amount", &self.money(&avg))]));
            }
            card.list(facts);
        }
        if summary.by_store.len() > 1 {
            self.store_breakdown(&mut card, "sales.by_store", &summary.by_store);
        }
        card.para(self.as_of(as_of));

        let scope = self.followup_scope(&places);
        let customer_part = customer
            .map(|c| self.f("followup.customer", &[("customer", c)]))
            .unwrap_or_default();
        let previous = self.period(previous_period);
        card.ask(
            self.t("sales.button_previous"),
            self.f(
                "followup.sales",
                &[
                    ("scope", &scope),
                    ("customer", &customer_part),
                    ("period", &previous),
                ],
            ),
        );
        card.ask(
            self.t("sales.button_top"),
            self.f(
                "followup.top_items",
                &[("scope", &scope), ("period", &period_text)],
            ),
        );
        card.ask(
            self.t("sales.button_report"),
            self.f(
                "followup.report",
                &[("scope", &scope), ("period", &period_text)],
            ),
        );
        card.finish()
    }

    fn top_item_lines(&self, items: &[TopItem], max: usize) -> Vec<String> {
        items
            .iter()
            .take(max)
            .map(|t| {
                self.f(
                    "top_items.line",
                    &[
                        ("item", &md(self.item_name(&t.item))),
                        ("quantity", &self.qty(&t.quantity)),
                        ("revenue", &self.money(&t.revenue)),
                    ],
                )
            })
            .collect()
    }

    fn top_items(
        &self,
        (period, to_date, previous): (&Period, bool, &Period),
        items: &[TopItem],
        (regions, stores): (&[Place], &[Place]),
        rank_by: RankBy,
        as_of: Timestamp,
    ) -> Card {
        let period_text = self.period(period);
        let mut card = Draft::new(self.f(
            "top_items.title",
            &[("period", &self.period_label(period, to_date))],
        ));
        let places: Vec<&Place> = regions.iter().chain(stores).collect();
        card.para(self.f("common.scope", &[("places", &self.scope_text(&places))]));
        if rank_by == RankBy::Quantity {
            card.para(self.t("top_items.by_quantity"));
        }
        if items.is_empty() {
            card.para(self.t("top_items.none"));
        } else {
            card.numbered(self.top_item_lines(items, MAX_TOP_ITEMS));
            if items.len() > MAX_TOP_ITEMS {
                card.para(self.f(
                    "top_items.showing",
                    &[
                        ("shown", &format::count(self.locale, MAX_TOP_ITEMS as u64)),
                        ("total", &format::count(self.locale, items.len() as u64)),
                    ],
                ));
            }
        }
        if to_date {
            card.para(self.same_days(period, previous));
        }
        card.para(self.as_of(as_of));

        let scope = self.followup_scope(&places);
        card.ask(
            self.t("top_items.button_sales"),
            self.f(
                "followup.sales",
                &[
                    ("scope", &scope),
                    ("customer", ""),
                    ("period", &period_text),
                ],
            ),
        );
        let again = match rank_by {
            RankBy::Quantity => "followup.top_items_quantity",
            RankBy::Revenue => "followup.top_items",
        };
        card.ask(
            self.t("top_items.button_previous"),
            self.f(
                again,
                &[("scope", &scope), ("period", &self.period(previous))],
            ),
        );
        card.finish()
    }

    // ---------------------------------------------------------------- order

    fn order_state(&self, state: OrderState) -> String {
        let key = match state {
            OrderState::Draft => "draft",
            OrderState::Confirmed => "confirmed",
            OrderState::Picking => "picking",
            OrderState::Shipped => "shipped",
            OrderState::Delivered => "delivered",
            OrderState::Cancelled => "cancelled",
        };
        self.t(&format!("order_state.{key}"))
    }

    fn order(&self, order: &Order, as_of: Timestamp) -> Card {
        let mut card = Draft::new(self.f("order.title", &[("number", order.number.trim())]));
        card.para(self.f("order.status", &[("state", &self.order_state(order.state))]));
        card.lines(vec![
            self.f("order.customer", &[("customer", &md(&order.customer))]),
            self.f(
                "order.store",
                &[("store", &md(&self.place_name(&order.store)))],
            ),
            self.f(
                "order.order_date",
                &[("date", &format::date(self.locale, order.order_date))],
            ),
            order
                .delivery_date
                .map(|d| {
                    self.f(
                        "order.delivery_date",
                        &[("date", &format::date(self.locale, d))],
                    )
                })
                .unwrap_or_default(),
        ]);
        if order.lines.is_empty() {
            card.para(self.t("order.no_lines"));
        } else {
            card.para(format!("**{}**", self.t("order.lines")));
            card.numbered(
                order
                    .lines
                    .iter()
                    .take(MAX_ORDER_LINES)
                    .map(|l| {
                        self.f(
                            "order.line",
                            &[
                                ("item", &md(self.item_name(&l.item))),
                                ("quantity", &self.qty(&l.quantity)),
                                ("unit_price", &self.money(&l.unit_price)),
                                ("amount", &self.money(&l.amount)),
                            ],
                        )
                    })
                    .collect(),
            );
            if order.lines.len() > MAX_ORDER_LINES {
                card.para(self.more(order.lines.len() - MAX_ORDER_LINES));
            }
        }
        card.para(self.f("order.total", &[("total", &self.money(&order.total))]));
        card.para(self.as_of(as_of));
        card.finish()
    }

    // ---------------------------------------------------------------- leave

    fn leave(
        &self,
        balance: &LeaveBalance,
        leave_type: Option<LeaveType>,
        own: bool,
        as_of: Timestamp,
    ) -> Card {
        let name = self.employee_name(&balance.employee);
        let title = if own {
            self.t("leave.title_own")
        } else {
            self.f("leave.title_other", &[("name", name)])
        };
        let mut card = Draft::new(title);
        let year = balance.year.to_string();
        match leave_type {
            Some(t) => {
                let type_name = self.leave_type_name(t);
                match balance.lines.iter().find(|l| l.leave_type == t) {
                    Some(line) => {
                        card.para(format!("## {}", self.qty(&line.remaining)));
                        card.para(self.f(
                            "leave.single_caption",
                            &[("leave_type", &type_name), ("year", &year)],
                        ));
                        card.para(self.f(
                            "leave.single_detail",
                            &[
                                ("entitled", &self.qty(&line.entitled)),
                                ("taken", &self.qty(&line.taken)),
                            ],
                        ));
                    }
                    None => card.para(self.f(
                        "leave.missing_type",
                        &[("leave_type", &type_name), ("year", &year)],
                    )),
                }
            }
            None => {
                card.para(self.f("leave.year", &[("year", &year)]));
                if balance.lines.is_empty() {
                    card.para(self.f("leave.none", &[("year", &year)]));
                } else {
                    card.list(
                        balance
                            .lines
                            .iter()
                            .map(|l| {
                                self.f(
                                    "leave.line",
                                    &[
                                        ("leave_type", &self.leave_type_name(l.leave_type)),
                                        ("remaining", &self.qty(&l.remaining)),
                                        ("entitled", &self.qty(&l.entitled)),
                                        ("taken", &self.qty(&l.taken)),
                                    ],
                                )
                            })
                            .collect(),
                    );
                }
            }
        }
        card.para(self.as_of(as_of));
        if leave_type.is_some() {
            let question = if own {
                self.t("followup.leave_own")
            } else {
                self.f("followup.leave_other", &[("name", name)])
            };
            card.ask(self.t("leave.button_all"), question);
        }
        card.finish()
    }

    // ---------------------------------------------------------------- report

    /// The "vs previous period" line: absolute and relative change with an arrow.
    fn change_line(&self, current: &Money, previous: &Money, previous_period: &str) -> String {
        let same_currency = current
            .currency
            .trim()
            .eq_ignore_ascii_case(previous.currency.trim());
        let previous_text = self.money(previous);
        let diff = current
            .amount
            .checked_sub(previous.amount)
            .filter(|_| same_currency);
        let Some(diff) = diff else {
            return self.f(
                "report.change_other_currency",
                &[
                    ("previous_period", previous_period),
                    ("previous", &previous_text),
                ],
            );
        };
        let abs_diff = Money {
            amount: diff.abs(),
            currency: current.currency.clone(),
        };
        let diff_text = self.money(&abs_diff);
        if previous.amount.is_zero() {
            return if current.amount.is_zero() {
                self.f(
                    "report.change_both_zero",
                    &[("previous_period", previous_period)],
                )
            } else if diff.is_sign_positive() {
                self.f(
                    "report.change_from_zero",
                    &[("diff", &diff_text), ("previous_period", previous_period)],
                )
            } else {
                // A negative total (returns) after a period without sales: no meaningful
                // percentage, so just show both figures.
                self.f(
                    "report.change_other_currency",
                    &[
                        ("previous_period", previous_period),
                        ("previous", &previous_text),
                    ],
                )
            };
        }
        if diff.is_zero() {
            return self.f(
                "report.change_none",
                &[
                    ("previous_period", previous_period),
                    ("previous", &previous_text),
                ],
            );
        }
        let percent = diff
            .checked_div(previous.amount.abs())
            .and_then(|r| r.checked_mul(Decimal::ONE_HUNDRED))
            .map(|p| {
                let text = format::decimal(self.locale, p, 1, 1);
                if p.is_sign_positive() {
                    format!("+{text}%")
                } else {
                    format!("{text}%")
                }
            })
            .unwrap_or_else(|| "—".to_string());
        let key = if diff.is_sign_positive() {
            "report.change_up"
        } else {
            "report.change_down"
        };
        self.f(
            key,
            &[
                ("diff", &diff_text),
                ("percent", &percent),
                ("previous_period", previous_period),
                ("previous", &previous_text),
            ],
        )
    }

    fn report(
        &self,
        current: &SalesSummary,
        previous: &SalesSummary,
        (top, breakdown): (&[TopItem], Option<&Breakdown>),
        (regions, stores): (&[Place], &[Place]),
        (to_date, last_year): (bool, bool),
        as_of: Timestamp,
    ) -> Card {
        let period = Period {
            start: current.start,
            end: current.end,
        };
        let prev_period = Period {
            start: previous.start,
            end: previous.end,
        };
        let period_text = self.period(&period);
        let prev_text = self.period(&prev_period);
        let mut card = Draft::new(self.f(
            "report.title",
            &[("period", &self.period_label(&period, to_date))],
        ));
        let places: Vec<&Place> = regions.iter().chain(stores).collect();
        card.para(self.f("common.scope", &[("places", &self.scope_text(&places))]));
        card.para(format!("## {}", self.money(&current.total)));
        card.para(self.change_line(&current.total, &previous.total, &prev_text));
        if last_year {
            card.para(self.f(
                "report.vs_last_year",
                &[("period", &period_text), ("previous_period", &prev_text)],
            ));
        } else if to_date {
            card.para(self.same_days(&period, &prev_period));
        }
        let mut facts = vec![self.f(
            "report.orders",
            &[
                ("current", &format::count(self.locale, current.orders)),
                ("previous_period", &prev_text),
                ("previous", &format::count(self.locale, previous.orders)),
            ],
        )];
        if let Some(avg) = average(&current.total, current.orders) {
            facts.push(self.f("report.average", &[("amount", &self.money(&avg))]));
        }
        card.list(facts);
        if !top.is_empty() {
            card.para(format!("**{}**", self.t("report.top")));
            card.numbered(self.top_item_lines(top, MAX_REPORT_TOP));
        }
        if let Some(b) = breakdown {
            // The asked breakdown replaces the per-store lines (a "by store" would repeat
            // them); the stores stay in `facts` and on the buttons.
            self.breakdown_section(&mut card, b);
        } else if !current.by_store.is_empty() {
            self.store_breakdown(&mut card, "report.by_store", &current.by_store);
        }
        card.para(self.as_of(as_of));

        let scope = self.followup_scope(&places);
        card.ask(
            self.t("report.button_previous"),
            self.f(
                "followup.report",
                &[("scope", &scope), ("period", &prev_text)],
            ),
        );
        card.ask(
            self.t("report.button_top"),
            self.f(
                "followup.top_items",
                &[("scope", &scope), ("period", &period_text)],
            ),
        );
        for s in current.by_store.iter().take(MAX_REPORT_STORE_BUTTONS) {
            let store = self.place_name(&s.store);
            let store_scope = self.followup_scope(&[&s.store]);
            card.ask(
                self.f("report.button_store", &[("store", &store)]),
                self.f(
                    "followup.sales",
                    &[
                        ("scope", &store_scope),
                        ("customer", ""),
                        ("period", &period_text),
                    ],
                ),
            );
        }
        card.finish()
    }

    /// The chart's data for a report; see [`Renderer::chart`].
    fn chart(
        &self,
        current: &SalesSummary,
        previous: &SalesSummary,
        (top, asked): (&[TopItem], Option<&Breakdown>),
        to_date: bool,
        (daily, previous_daily): (&[DailySales], &[DailySales]),
    ) -> ChartData {
        let period = Period {
            start: current.start,
            end: current.end,
        };
        let prev_period = Period {
            start: previous.start,
            end: previous.end,
        };
        let days = current
            .end
            .since(current.start)
            .map(|s| i64::from(s.get_days()) + 1)
            .unwrap_or(1);
        let granularity = Granularity::for_days(days);
        let series = |summary: &SalesSummary, p: &Period, days: &[DailySales]| Series {
            label: self.f(
                "chart.legend",
                &[
                    ("period", &self.period(p)),
                    ("total", &self.money(&summary.total)),
                ],
            ),
            start: p.start,
            end: p.end,
            total: summary.total.amount,
            points: self.chart_points(p, granularity, days),
        };
        let (breakdown_title, breakdown) = if let Some(b) = asked {
            self.breakdown_bars(b)
        } else if current.by_store.is_empty() {
            (
                self.t("report.top"),
                top.iter()
                    .take(chart::MAX_BARS)
                    .map(|t| Bar {
                        label: self.item_name(&t.item).to_string(),
                        amount: t.revenue.amount,
                        amount_text: self.money(&t.revenue),
                    })
                    .collect(),
            )
        } else {
            (
                self.t("report.by_store"),
                current
                    .by_store
                    .iter()
                    .take(chart::MAX_BARS)
                    .map(|s| Bar {
                        label: self.place_name(&s.store).into_owned(),
                        amount: s.total.amount,
                        amount_text: self.money(&s.total),
                    })
                    .collect(),
            )
        };
        let trend_key = match granularity {
            Granularity::Day => "chart.daily",
            Granularity::Week => "chart.weekly",
            Granularity::Month => "chart.monthly",
        };
        let title = self.f(
            "report.title",
            &[("period", &self.period_label(&period, to_date))],
        );
        ChartData {
            locale: self.locale.tag().to_string(),
            currency: current.total.currency.clone(),
            alt: self.f("chart.alt", &[("period", &self.period(&period))]),
            title,
            trend_title: self.t(trend_key),
            granularity,
            current: series(current, &period, daily),
            previous: series(previous, &prev_period, previous_daily),
            breakdown_title,
            breakdown,
        }
    }

    /// The period cut into days, weeks (seven days from its first) or calendar months,
    /// each with the sum of the daily totals that fall in it. No days, no points.
    fn chart_points(
        &self,
        p: &Period,
        granularity: Granularity,
        days: &[DailySales],
    ) -> Vec<chart::Point> {
        let in_period: Vec<&DailySales> = days
            .iter()
            .filter(|d| d.date >= p.start && d.date <= p.end)
            .collect();
        if in_period.is_empty() {
            return Vec::new();
        }
        let mut points = Vec::new();
        let mut start = p.start;
        while start <= p.end {
            let end = match granularity {
                Granularity::Day => start,
                Granularity::Week => start
                    .checked_add(jiff::Span::new().days(6))
                    .unwrap_or(p.end),
                Granularity::Month => start.last_of_month(),
            }
            .min(p.end);
            let amount: Decimal = in_period
                .iter()
                .filter(|d| d.date >= start && d.date <= end)
                .map(|d| d.total.amount)
                .sum();
            let label = match granularity {
                Granularity::Day | Granularity::Week => format::short_date(self.locale, start),
                Granularity::Month => format::month_label(self.locale, start),
            };
            points.push(chart::Point {
                label,
                start,
                end,
                amount,
            });
            match end.tomorrow() {
                Ok(next) => start = next,
                Err(_) => break,
            }
        }
        points
    }

    // ---------------------------------------------------------------- conversation

    fn help(&self, entries: &[(Intent, Vec<String>)]) -> Card {
        let mut card = Draft::new(self.t("help.title"));
        if entries.is_empty() {
            card.para(self.t("help.none"));
            return card.finish();
        }
        card.para(self.t("help.intro"));
        // This card is the help; listing "help" in it would only add noise.
        for (intent, examples) in entries.iter().filter(|(i, _)| *i != Intent::Help) {
            card.para(self.f(
                "help.entry",
                &[
                    ("label", &self.intent_text(*intent, "label")),
                    ("describe", &self.intent_text(*intent, "describe")),
                ],
            ));
            card.list(
                examples
                    .iter()
                    .filter(|e| !e.trim().is_empty())
                    .map(|e| self.quoted(e))
                    .collect(),
            );
        }
        for (intent, examples) in entries.iter().filter(|(i, _)| *i != Intent::Help) {
            if let Some(first) = examples.iter().find(|e| !e.trim().is_empty()) {
                card.ask(self.intent_text(*intent, "label"), first.clone());
            }
        }
        if !card.buttons.is_empty() {
            card.para(self.t("help.outro"));
        }
        card.finish()
    }

    fn private_note(&self, intent: Intent) -> Card {
        let mut card = Draft::new(self.t("private_note.title"));
        card.para(self.f(
            "private_note.body",
            &[("thing", &self.intent_text(intent, "thing"))],
        ));
        card.para(self.t("private_note.why"));
        card.finish()
    }

    fn private_undelivered(&self, intent: Intent) -> Card {
        let mut card = Draft::new(self.t("private_undelivered.title"));
        card.para(self.f(
            "private_undelivered.body",
            &[("thing", &self.intent_text(intent, "thing"))],
        ));
        card.para(self.t("private_undelivered.how"));
        card.finish()
    }

    fn deny(&self, reason: &DenyReason) -> Card {
        let mut card = Draft::new(self.t("deny.title"));
        match reason {
            DenyReason::IntentNotAllowed { intent, roles } => {
                let thing = self.intent_text(*intent, "thing");
                let roles: Vec<String> = roles
                    .iter()
                    .filter(|r| !r.trim().is_empty())
                    .map(|r| code(r))
                    .collect();
                if roles.is_empty() {
                    card.para(self.f("deny.intent_no_role", &[("thing", &thing)]));
                } else {
                    let roles: Vec<&str> = roles.iter().map(String::as_str).collect();
                    card.para(self.f(
                        "deny.intent",
                        &[("roles", &self.join(&roles)), ("thing", &thing)],
                    ));
                }
                card.para(self.t("deny.intent_hint"));
                card.ask(self.t("common.button_help"), self.t("followup.help"));
            }
            DenyReason::OutOfScope { requested, allowed } => {
                let requested = md(&self.place_name(requested));
                if allowed.is_empty() {
                    card.para(self.f("deny.scope_none", &[("requested", &requested)]));
                } else {
                    let allowed: Vec<&Place> = allowed.iter().collect();
                    card.para(self.f(
                        "deny.scope",
                        &[
                            ("allowed", &self.scope_text(&allowed)),
                            ("requested", &requested),
                        ],
                    ));
                }
                card.para(self.t("deny.scope_hint"));
            }
            DenyReason::OthersLeave => {
                card.para(self.t("deny.others_leave"));
                card.para(self.t("deny.others_leave_hint"));
                card.ask(
                    self.t("deny.button_own_leave"),
                    self.t("followup.leave_own"),
                );
            }
        }
        card.finish()
    }

    fn unknown_user(&self, user_id: &str) -> Card {
        let mut card = Draft::new(self.t("unknown_user.title"));
        card.para(self.t("unknown_user.body"));
        // Without an id this is the note a group sees: nobody's id is posted there.
        if user_id.is_empty() {
            card.para(self.t("unknown_user.how_group"));
        } else {
            card.para(self.t("unknown_user.how"));
            card.para(self.f(
                "unknown_user.id",
                &[("user_id", &code(&clip(user_id, MAX_ECHO_CHARS)))],
            ));
        }
        card.finish()
    }

    fn not_supported(&self, text: &str) -> Card {
        let mut card = Draft::new(self.t("not_supported.title"));
        card.para(self.f("not_supported.body", &[("text", &self.quoted(text))]));
        card.para(self.t("not_supported.where"));
        card.ask(self.t("common.button_help"), self.t("followup.help"));
        card.finish()
    }

    fn smalltalk(&self, kind: crate::intent::Smalltalk, entries: &[(Intent, Vec<String>)]) -> Card {
        match kind {
            crate::intent::Smalltalk::Thanks => {
                let mut card = Draft::new(self.t("smalltalk.thanks_title"));
                card.para(self.t("smalltalk.thanks_body"));
                card.finish()
            }
            crate::intent::Smalltalk::Greeting => {
                let mut card = Draft::new(self.t("smalltalk.greeting_title"));
                card.para(self.t("smalltalk.greeting_body"));
                for (intent, examples) in entries.iter().filter(|(i, _)| *i != Intent::Help) {
                    if let Some(first) = examples.iter().find(|e| !e.trim().is_empty()) {
                        card.ask(self.intent_text(*intent, "label"), first.clone());
                    }
                }
                card.ask(self.t("common.button_help"), self.t("followup.help"));
                card.finish()
            }
        }
    }

    fn choose_intent(&self, question: &str, candidates: &[Intent]) -> Card {
        let mut card = Draft::new(self.t("choose_intent.title"));
        card.para(self.f("choose_intent.body", &[("text", &self.quoted(question))]));
        for intent in candidates {
            let cue = self.t(&format!(
                "choose_intent.cue_{}",
                intent.name().replace('.', "_")
            ));
            card.ask(
                self.intent_text(*intent, "label"),
                format!("{} {cue}", question.trim()),
            );
        }
        card.finish()
    }

    fn not_understood(&self, text: &str) -> Card {
        let mut card = Draft::new(self.t("not_understood.title"));
        if text.trim().is_empty() {
            card.para(self.t("not_understood.body_empty"));
        } else {
            card.para(self.f("not_understood.body", &[("text", &self.quoted(text))]));
        }
        card.para(self.t("not_understood.examples"));
        let examples: Vec<(String, String)> = [
            (Intent::InventoryStock, "example_stock"),
            (Intent::SalesSummary, "example_sales"),
            (Intent::LeaveBalance, "example_leave"),
        ]
        .into_iter()
        .map(|(intent, key)| {
            (
                self.intent_text(intent, "label"),
                self.t(&format!("not_understood.{key}")),
            )
        })
        .collect();
        card.list(examples.iter().map(|(_, e)| self.quoted(e)).collect());
        card.para(self.t("not_understood.help"));
        for (label, example) in examples {
            card.ask(label, example);
        }
        card.ask(self.t("common.button_help"), self.t("followup.help"));
        card.finish()
    }

    fn clarify(&self, slot: &str, question: &str) -> Card {
        let slot = match slot {
            "period" | "item" | "order" | "warehouse" | "store" | "region" | "customer"
            | "employee" | "leave_type" => slot,
            _ => "other",
        };
        let mut card = Draft::new(self.t(&format!("clarify.{slot}")));
        if !question.trim().is_empty() {
            card.para(self.f("clarify.asked", &[("question", &self.quoted(question))]));
        }
        card.para(self.t(&format!("clarify.{slot}_hint")));

        let base = trim_question(question);
        let mut offer = |button_title: String, addition: String| {
            if !base.is_empty() {
                let q = self.f(
                    "followup.append",
                    &[("question", base), ("addition", &addition)],
                );
                card.ask(button_title, q);
            }
        };
        match slot {
            "period" => {
                for which in ["last_month", "this_month", "this_year"] {
                    offer(
                        self.t(&format!("clarify.button_{which}")),
                        self.t(&format!("clarify.period_{which}")),
                    );
                }
            }
            "leave_type" => {
                for t in [LeaveType::Annual, LeaveType::Sick, LeaveType::Compensation] {
                    offer(
                        self.leave_type_name(t),
                        self.t(&format!("clarify.leave_{}", t.name())),
                    );
                }
            }
            _ => {}
        }
        card.finish()
    }

    fn choose_employee(&self, question: &str, candidates: &[Employee]) -> Card {
        if candidates.is_empty() {
            return self.not_found(&NotFound::Employee(question.to_string()));
        }
        let mut card = Draft::new(self.t("choose.title"));
        card.para(self.t("choose.employees"));
        card.list(
            candidates
                .iter()
                .take(MAX_CANDIDATES)
                .map(|e| {
                    let name = md(self.employee_name(e));
                    let id = md(&e.id);
                    match other_name(self.locale, &e.name_en, &e.name_zh) {
                        Some(other) => self.f(
                            "choose.employee_line",
                            &[("name", &name), ("other_name", &md(other)), ("id", &id)],
                        ),
                        None => self.f(
                            "choose.employee_line_single",
                            &[("name", &name), ("id", &id)],
                        ),
                    }
                })
                .collect(),
        );
        if candidates.len() > MAX_CANDIDATES {
            card.para(self.f(
                "choose.more",
                &[("count", &(candidates.len() - MAX_CANDIDATES).to_string())],
            ));
        }
        card.para(self.t("choose.tap"));
        for e in candidates.iter().take(MAX_CANDIDATES) {
            let name = self.employee_name(e);
            card.ask(
                name.to_string(),
                self.f("followup.leave_other", &[("name", name)]),
            );
        }
        card.finish()
    }

    fn choose_item(&self, question: &str, candidates: &[Item]) -> Card {
        if candidates.is_empty() {
            return self.not_found(&NotFound::Item(question.to_string()));
        }
        let mut card = Draft::new(self.t("choose.title"));
        card.para(self.t("choose.items"));
        card.list(
            candidates
                .iter()
                .take(MAX_CANDIDATES)
                .map(|item| {
                    let name = md(self.item_name(item));
                    let sku = md(&item.sku);
                    match other_name(self.locale, &item.name_en, &item.name_zh) {
                        Some(other) => self.f(
                            "choose.item_line",
                            &[("name", &name), ("other_name", &md(other)), ("sku", &sku)],
                        ),
                        None => {
                            self.f("choose.item_line_single", &[("name", &name), ("sku", &sku)])
                        }
                    }
                })
                .collect(),
        );
        if candidates.len() > MAX_CANDIDATES {
            card.para(self.f(
                "choose.more",
                &[("count", &(candidates.len() - MAX_CANDIDATES).to_string())],
            ));
        }
        card.para(self.t("choose.tap"));
        for item in candidates.iter().take(MAX_CANDIDATES) {
            let name = self.item_name(item);
            card.ask(
                name.to_string(),
                self.f("followup.stock", &[("item", name)]),
            );
        }
        card.finish()
    }

    fn not_found(&self, what: &NotFound) -> Card {
        let mut card = Draft::new(self.t("not_found.title"));
        let (sentence, hint) = match what {
            NotFound::Item(text) => (
                self.f("not_found.item", &[("text", &self.quoted(text))]),
                "not_found.item_hint",
            ),
            NotFound::Customer {
                text,
                suggestions,
                question,
            } => {
                card.para(self.f("not_found.customer", &[("text", &self.quoted(text))]));
                if suggestions.is_empty() {
                    card.para(self.t("not_found.customer_none_hint"));
                } else {
                    card.para(self.t("not_found.customer_hint"));
                    card.list(suggestions.iter().map(|s| md(s)).collect());
                    for name in suggestions {
                        if let Some(again) = replace_name(question, text, name) {
                            card.ask(name.clone(), again);
                        }
                    }
                }
                return card.finish();
            }
            NotFound::Order(text) => (
                self.f("not_found.order", &[("text", &self.quoted(text))]),
                "not_found.order_hint",
            ),
            NotFound::Employee(text) => (
                self.f("not_found.employee", &[("text", &self.quoted(text))]),
                "not_found.employee_hint",
            ),
            NotFound::Place(kind, text) => {
                let kind = match kind {
                    PlaceKind::Warehouse => "warehouse",
                    PlaceKind::Store => "store",
                    PlaceKind::Region => "region",
                };
                (
                    self.f(
                        "not_found.place",
                        &[
                            ("kind", &self.t(&format!("place_kind.{kind}"))),
                            ("text", &self.quoted(text)),
                        ],
                    ),
                    "not_found.place_hint",
                )
            }
        };
        card.para(sentence);
        card.para(self.t(hint));
        card.finish()
    }

    fn failure(&self, failure: Failure, reference: &str) -> Card {
        let mut card = Draft::new(self.t("failure.title"));
        let (key, quote) = match failure {
            Failure::ErpTimeout => ("failure.erp_timeout", false),
            Failure::ErpUnavailable => ("failure.erp_unavailable", true),
            Failure::ErpCredentials => ("failure.erp_credentials", true),
            Failure::Internal => ("failure.internal", true),
        };
        card.para(self.t(key));
        let reference = code(&clip(reference, MAX_ECHO_CHARS));
        card.lines(vec![
            if quote {
                self.t("failure.quote_ref")
            } else {
                String::new()
            },
            self.f("common.ref", &[("reference", &reference)]),
        ]);
        card.finish()
    }

    fn unsupported(&self, msgtype: &str) -> Card {
        let mut card = Draft::new(self.t("unsupported.title"));
        let raw = msgtype.trim();
        let shown = md(&clip(raw, 30));
        let what = match self.m.get(self.locale, &format!("msgtype.{raw}")) {
            Some(_) if !raw.is_empty() && raw != "other" => {
                self.f(&format!("msgtype.{raw}"), &[("msgtype", &shown)])
            }
            _ => self.f("msgtype.other", &[("msgtype", &shown)]),
        };
        card.para(self.f("unsupported.body", &[("msgtype", &what)]));
        card.para(self.t("unsupported.hint"));
        card.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn follow_up_url_round_trips() {
        let b = Button {
            title: "x".into(),
            url: follow_up_url("iPhone 15 Pro 256GB 荃灣倉仲有幾多?"),
        };
        assert_eq!(
            b.follow_up_text().as_deref(),
            Some("iPhone 15 Pro 256GB 荃灣倉仲有幾多?")
        );
    }

    #[test]
    fn md_neutralises_markup() {
        assert_eq!(md(" a*b_c [x](y) <b>\n#h "), "a＊b＿c ［x］(y) ＜b＞ #h");
    }

    #[test]
    fn clip_counts_characters() {
        assert_eq!(clip("觀塘倉庫存查詢", 4), "觀塘倉…");
        assert_eq!(clip("short", 10), "short");
        assert_eq!(clip("abc", 0), "…");
    }

    #[test]
    fn trim_question_drops_final_punctuation() {
        assert_eq!(trim_question("sales? "), "sales");
        assert_eq!(trim_question("銷售額係幾多？"), "銷售額係幾多");
    }
}
