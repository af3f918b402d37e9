//! The breakdown section of a report card and its bars on the chart: one line per month,
//! week, day, customer, region or store, from the same rows `facts` lists.

use super::{Ctx, Draft, md};
use crate::breakdown::{Breakdown, Row, RowKey};
use crate::card::chart::{self, Bar};
use crate::intent::BreakdownBy;

/// Rows listed on the card; the rest are counted ("… and 12 more") and stay in `facts`.
pub(super) const MAX_ROWS: usize = 31;

impl Ctx<'_> {
    /// The heading of a breakdown ("By month", "按門店", "Ikut kedai").
    pub(super) fn breakdown_title(&self, by: BreakdownBy) -> String {
        self.t(&format!("breakdown.{}", by.name()))
    }

    /// How a row is named: the period as cards print periods, the place in the asker's
    /// script, the customer as the ERP writes it.
    pub(super) fn breakdown_label(&self, row: &Row) -> String {
        match &row.key {
            RowKey::Period { period } => self.period(period),
            RowKey::Place { place } => self.place_name(place).into_owned(),
            RowKey::Customer { name } => name.clone(),
        }
    }

    /// The section: heading, a note when the rows are coarser than asked, one line per
    /// row (numbered when the rows are a ranking, in date order otherwise).
    pub(super) fn breakdown_section(&self, card: &mut Draft, b: &Breakdown) {
        card.para(format!("**{}**", self.breakdown_title(b.by)));
        if let Some(asked) = b.asked {
            card.para(self.f(
                "breakdown.coarser",
                &[
                    ("asked", &self.breakdown_title(asked)),
                    ("by", &self.breakdown_title(b.by)),
                ],
            ));
        }
        if b.rows.is_empty() {
            card.para(self.t("breakdown.none"));
            return;
        }
        let lines: Vec<String> = b
            .rows
            .iter()
            .take(MAX_ROWS)
            .map(|r| {
                self.f(
                    "breakdown.row",
                    &[
                        ("label", &md(&self.breakdown_label(r))),
                        ("amount", &self.money(&r.total)),
                        ("orders", &self.plural("count.orders", r.orders)),
                    ],
                )
            })
            .collect();
        if b.by.is_time() {
            card.list(lines);
        } else {
            card.numbered(lines);
        }
        if b.rows.len() > MAX_ROWS {
            card.para(self.more(b.rows.len() - MAX_ROWS));
        }
    }

    /// The chart's breakdown panel for these rows: the largest rows first, as many as
    /// the panel holds (the trend panel shows time rows in date order).
    pub(super) fn breakdown_bars(&self, b: &Breakdown) -> (String, Vec<Bar>) {
        let mut rows: Vec<&Row> = b.rows.iter().collect();
        rows.sort_by_key(|r| std::cmp::Reverse(r.total.amount));
        let bars = rows
            .into_iter()
            .take(chart::MAX_BARS)
            .map(|r| Bar {
                label: self.breakdown_label(r),
                amount: r.total.amount,
                amount_text: self.money(&r.total),
            })
            .collect();
        (self.breakdown_title(b.by), bars)
    }
}
