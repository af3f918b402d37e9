//! Breakdowns of a sales figure: one row per month, week or day of the period, or per
//! customer, region or store of its orders ("sales by month this year", `按门店`, "ikut
//! kedai").
//!
//! The rows come from the same filter as the report's total, so they carry the asker's
//! scope with them (a Kowloon manager's "by store" can only list Kowloon stores) and add
//! up to that total. Time rows are one `sales_summary` per bucket through the cache, so
//! every connector answers them with the figures it already gives; store and region rows
//! are the summary's own per-store totals, grouped; customer rows need
//! [`crate::erp::Connector::sales_by_customer`].

use futures_util::future::join_all;
use jiff::ToSpan;
use serde::Serialize;

use crate::erp::{ErpError, ErpRouter, Money, Place, PlaceKind, Places, SalesFilter, SalesSummary};
use crate::intent::period::Calendar;
use crate::intent::{BreakdownBy, Period};

/// The most time rows a card lists. A finer breakdown that would need more rows is shown
/// one unit coarser (days → weeks → months), and the card says so: a phone cannot show
/// 365 lines, and a connector should not be asked 365 questions for one card.
pub const MAX_TIME_ROWS: usize = 31;

/// What one row is about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum RowKey {
    /// A month, week or day of the period (clipped to it).
    Period { period: Period },
    /// A store or region.
    Place { place: Place },
    /// A customer, named as the ERP writes it.
    Customer { name: String },
}

/// One row: the total and order count of what its key selects.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Row {
    pub key: RowKey,
    pub total: Money,
    pub orders: u64,
}

/// The rows of a breakdown, in the order the card lists them: time rows in date order,
/// the others largest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Breakdown {
    /// What the rows are (after any coarsening).
    pub by: BreakdownBy,
    /// What the question asked for, when it was too fine to list (`by` is coarser then).
    pub asked: Option<BreakdownBy>,
    pub rows: Vec<Row>,
}

/// The buckets of `period` for a time breakdown, each clipped to the period: calendar
/// months, weeks from the company's week start, or days. Empty for other kinds.
pub fn buckets(period: Period, by: BreakdownBy, cal: Calendar) -> Vec<Period> {
    let mut out = Vec::new();
    let mut start = period.start;
    while start <= period.end {
        let whole = match by {
            BreakdownBy::Month => Some(Period {
                start: start.first_of_month(),
                end: start.last_of_month(),
            }),
            BreakdownBy::Week => cal.week_of(start),
            BreakdownBy::Day => Some(Period { start, end: start }),
            _ => None,
        };
        let Some(whole) = whole else { break };
        let end = whole.end.min(period.end);
        out.push(Period { start, end });
        match end.checked_add(1.day()) {
            Ok(next) => start = next,
            Err(_) => break,
        }
        // A runaway period (years by day) stops well past what any card shows.
        if out.len() > MAX_TIME_ROWS * 12 {
            break;
        }
    }
    out
}

/// The time unit actually listed for `asked` over `period`: the asked one when its rows
/// fit on a card, else the next coarser one that fits (months always do for a year).
pub fn listed_unit(period: Period, asked: BreakdownBy, cal: Calendar) -> BreakdownBy {
    let order = [BreakdownBy::Day, BreakdownBy::Week, BreakdownBy::Month];
    let from = order.iter().position(|b| *b == asked).unwrap_or(0);
    for by in &order[from..] {
        if buckets(period, *by, cal).len() <= MAX_TIME_ROWS {
            return *by;
        }
    }
    BreakdownBy::Month
}

/// Reads the rows of `by` for `filter` (already narrowed to the asker's scope), given the
/// period's `summary` over the same filter.
pub async fn fetch(
    erp: &ErpRouter,
    filter: &SalesFilter,
    summary: &SalesSummary,
    asked: BreakdownBy,
    places: &Places,
    cal: Calendar,
) -> Result<Breakdown, ErpError> {
    let period = Period {
        start: filter.start,
        end: filter.end,
    };
    match asked {
        BreakdownBy::Month | BreakdownBy::Week | BreakdownBy::Day => {
            let by = listed_unit(period, asked, cal);
            let parts: Vec<Period> = buckets(period, by, cal)
                .into_iter()
                .take(MAX_TIME_ROWS)
                .collect();
            let filters: Vec<SalesFilter> = parts
                .iter()
                .map(|p| SalesFilter {
                    start: p.start,
                    end: p.end,
                    ..filter.clone()
                })
                .collect();
            let answers = join_all(filters.iter().map(|f| erp.sales_summary(f))).await;
            let mut rows = Vec::with_capacity(parts.len());
            for (p, answer) in parts.into_iter().zip(answers) {
                let s = answer?.data;
                rows.push(Row {
                    key: RowKey::Period { period: p },
                    total: s.total,
                    orders: s.orders,
                });
            }
            Ok(Breakdown {
                by,
                asked: (by != asked).then_some(asked),
                rows,
            })
        }
        BreakdownBy::Store => Ok(Breakdown {
            by: asked,
            asked: None,
            rows: summary
                .by_store
                .iter()
                .map(|s| Row {
                    key: RowKey::Place {
                        place: s.store.clone(),
                    },
                    total: s.total.clone(),
                    orders: s.orders,
                })
                .collect(),
        }),
        BreakdownBy::Region => Ok(Breakdown {
            by: asked,
            asked: None,
            rows: by_region(summary, places),
        }),
        BreakdownBy::Customer => {
            let customers = erp.sales_by_customer(filter).await?.data;
            Ok(Breakdown {
                by: asked,
                asked: None,
                rows: customers
                    .into_iter()
                    .map(|c| Row {
                        key: RowKey::Customer { name: c.customer },
                        total: c.total,
                        orders: c.orders,
                    })
                    .collect(),
            })
        }
    }
}

/// The summary's stores grouped by their region, largest first. A store the connector
/// gives no region is its own row under its own name, so no sale is dropped.
fn by_region(summary: &SalesSummary, places: &Places) -> Vec<Row> {
    let mut rows: Vec<Row> = Vec::new();
    for s in &summary.by_store {
        let region = s
            .store
            .region
            .as_deref()
            .and_then(|code| {
                places
                    .of_kind(PlaceKind::Region)
                    .find(|p| p.code == code)
                    .cloned()
            })
            .unwrap_or_else(|| s.store.clone());
        match rows.iter_mut().find(|r| match &r.key {
            RowKey::Place { place } => place.code == region.code && place.kind == region.kind,
            _ => false,
        }) {
            Some(row) => {
                row.total.amount += s.total.amount;
                row.orders += s.orders;
            }
            None => rows.push(Row {
                key: RowKey::Place { place: region },
                total: s.total.clone(),
                orders: s.orders,
            }),
        }
    }
    let code = |r: &Row| match &r.key {
        RowKey::Place { place } => place.code.clone(),
        _ => String::new(),
    };
    rows.sort_by(|a, b| {
        b.total
            .amount
            .cmp(&a.total.amount)
            .then_with(|| code(a).cmp(&code(b)))
    });
    rows
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;

    fn p(a: jiff::civil::Date, b: jiff::civil::Date) -> Period {
        Period { start: a, end: b }
    }

    #[test]
    fn months_weeks_and_days_cover_the_period_exactly() {
        let cal = Calendar::default();
        let year = p(date(2026, 1, 1), date(2026, 12, 2));
        let months = buckets(year, BreakdownBy::Month, cal);
        assert_eq!(months.len(), 12);
        assert_eq!(months[1], p(date(2026, 2, 1), date(2026, 2, 28)));
        assert_eq!(months[11], p(date(2026, 12, 1), date(2026, 12, 2)));
        // Wednesday 2 December 2026: weeks start on Monday 30 November.
        let month = p(date(2026, 12, 1), date(2026, 12, 31));
        let weeks = buckets(month, BreakdownBy::Week, cal);
        assert_eq!(weeks[0], p(date(2026, 12, 1), date(2026, 12, 6)));
        assert_eq!(weeks[1], p(date(2026, 12, 7), date(2026, 12, 13)));
        assert_eq!(
            weeks.last().copied(),
            Some(p(date(2026, 12, 28), date(2026, 12, 31)))
        );
        assert_eq!(buckets(month, BreakdownBy::Day, cal).len(), 31);
        assert!(buckets(month, BreakdownBy::Store, cal).is_empty());
    }

    #[test]
    fn a_breakdown_too_fine_for_a_card_is_listed_coarser() {
        let cal = Calendar::default();
        let year = p(date(2026, 1, 1), date(2026, 12, 31));
        assert_eq!(listed_unit(year, BreakdownBy::Day, cal), BreakdownBy::Month);
        assert_eq!(
            listed_unit(year, BreakdownBy::Week, cal),
            BreakdownBy::Month
        );
        let quarter = p(date(2026, 10, 1), date(2026, 12, 31));
        assert_eq!(
            listed_unit(quarter, BreakdownBy::Day, cal),
            BreakdownBy::Week
        );
        let month = p(date(2026, 11, 1), date(2026, 11, 30));
        assert_eq!(listed_unit(month, BreakdownBy::Day, cal), BreakdownBy::Day);
    }
}
