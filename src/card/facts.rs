//! The figures a data card shows, as typed JSON (`ask --json`'s `"facts"`): amounts as
//! decimal strings with their currency, rounded as the card prints them, quantities
//! with their units, periods as ISO dates, the scope and the breakdown rows. The card's
//! markdown and these facts come from the same [`Content`], so every figure printed is
//! here, in a form tests and integrators can read without parsing text.

use rust_decimal::{Decimal, RoundingStrategy};
use serde_json::{Value, json};

use super::Content;
use super::format::currency_dp;
use crate::breakdown::{Breakdown, RowKey};
use crate::erp::{Money, Place, Quantity, SalesSummary, StockLine, StoreSales, TopItem};
use crate::intent::Period;

/// An amount as the card prints it: rounded to the currency's decimals.
pub fn money(m: &Money) -> Value {
    let code = m.currency.trim().to_ascii_uppercase();
    let amount = m
        .amount
        .round_dp_with_strategy(currency_dp(&code), RoundingStrategy::MidpointAwayFromZero);
    json!({"amount": amount.to_string(), "currency": code})
}

fn quantity(q: &Quantity) -> Value {
    json!({"value": q.value.normalize().to_string(), "unit": q.unit.trim()})
}

fn period(p: &Period) -> Value {
    json!({"start": p.start.to_string(), "end": p.end.to_string()})
}

fn place(p: &Place) -> Value {
    json!({"code": p.code, "name_en": p.name_en, "name_zh": p.name_zh})
}

fn scope(regions: &[Place], stores: &[Place], customer: Option<&str>) -> Value {
    let customer = customer.map(str::trim).filter(|c| !c.is_empty());
    let kind = if regions.is_empty() && stores.is_empty() {
        "company"
    } else {
        "places"
    };
    json!({
        "kind": kind,
        "regions": regions.iter().map(place).collect::<Vec<_>>(),
        "stores": stores.iter().map(place).collect::<Vec<_>>(),
        "customer": customer,
    })
}

fn average(total: &Money, orders: u64) -> Value {
    if orders == 0 {
        return Value::Null;
    }
    total
        .amount
        .checked_div(Decimal::from(orders))
        .map(|amount| {
            money(&Money {
                amount,
                currency: total.currency.clone(),
            })
        })
        .unwrap_or(Value::Null)
}

fn top_items(items: &[TopItem]) -> Value {
    items
        .iter()
        .enumerate()
        .map(|(i, t)| {
            json!({
                "rank": i + 1,
                "sku": t.item.sku,
                "name_en": t.item.name_en,
                "name_zh": t.item.name_zh,
                "quantity": quantity(&t.quantity),
                "revenue": money(&t.revenue),
            })
        })
        .collect()
}

fn by_store(rows: &[StoreSales]) -> Value {
    rows.iter()
        .map(|s| {
            json!({
                "store": place(&s.store),
                "region": s.store.region,
                "total": money(&s.total),
                "orders": s.orders,
            })
        })
        .collect()
}

/// A breakdown's rows as the card lists them: each row's key (a period, a store or
/// region, a customer), its total and its order count.
fn breakdown_rows(b: &Breakdown) -> Value {
    let rows: Vec<Value> = b
        .rows
        .iter()
        .map(|r| {
            let mut row = match &r.key {
                RowKey::Period { period: p } => json!({"period": period(p)}),
                RowKey::Place { place: p } => json!({
                    "place": place(p),
                    "place_kind": p.kind,
                }),
                RowKey::Customer { name } => json!({"customer": name}),
            };
            row["total"] = money(&r.total);
            row["orders"] = json!(r.orders);
            row
        })
        .collect();
    json!({
        "by": b.by.name(),
        "asked": b.asked.map(|a| a.name()),
        "rows": rows,
    })
}

fn summary_period(s: &SalesSummary) -> Period {
    Period {
        start: s.start,
        end: s.end,
    }
}

/// The change from `previous` to `current`, as the card's comparison line states it:
/// the difference and the percentage (one decimal, `null` when there is no meaningful
/// one: a zero or negative base, or another currency).
fn change(current: &Money, previous: &Money) -> Value {
    let same = current
        .currency
        .trim()
        .eq_ignore_ascii_case(previous.currency.trim());
    let Some(diff) = current.amount.checked_sub(previous.amount).filter(|_| same) else {
        return Value::Null;
    };
    let percent = if previous.amount.is_zero() {
        None
    } else {
        diff.checked_div(previous.amount.abs())
            .and_then(|r| r.checked_mul(Decimal::ONE_HUNDRED))
            .map(|p| {
                p.round_dp_with_strategy(1, RoundingStrategy::MidpointAwayFromZero)
                    .to_string()
            })
    };
    json!({
        "amount": money(&Money { amount: diff, currency: current.currency.clone() }),
        "percent": percent,
    })
}

fn stock_line(l: &StockLine) -> Value {
    json!({
        "sku": l.item.sku,
        "name_en": l.item.name_en,
        "name_zh": l.item.name_zh,
        "warehouse": place(&l.warehouse),
        "on_hand": quantity(&l.on_hand),
        "reserved": quantity(&l.reserved),
        "available": quantity(&l.available),
        "reorder_level": quantity(&l.reorder_level),
        "low": l.is_low(),
    })
}

/// The facts of a data card; `None` for cards without figures (help, refusals,
/// clarifications, notes).
pub fn facts(content: &Content) -> Option<Value> {
    Some(match content {
        Content::Sales {
            summary,
            regions,
            stores,
            customer,
            to_date,
            previous,
            ..
        } => json!({
            "kind": "sales",
            "period": period(&summary_period(summary)),
            "to_date": to_date,
            "comparison": "previous_period",
            "comparison_period": period(previous),
            "scope": scope(regions, stores, customer.as_deref()),
            "total": money(&summary.total),
            "orders": summary.orders,
            "average": average(&summary.total, summary.orders),
            "by_store": by_store(&summary.by_store),
        }),
        Content::TopItems {
            period: p,
            items,
            regions,
            stores,
            to_date,
            previous,
            rank_by,
            ..
        } => json!({
            "kind": "top_items",
            "period": period(p),
            "to_date": to_date,
            "comparison_period": period(previous),
            "scope": scope(regions, stores, None),
            "rank_by": rank_by,
            "top_items": top_items(items),
        }),
        Content::Report {
            current,
            previous,
            top,
            regions,
            stores,
            to_date,
            last_year,
            breakdown,
            ..
        } => json!({
            "kind": "report",
            "breakdown": breakdown.as_ref().map(breakdown_rows),
            "period": period(&summary_period(current)),
            "to_date": to_date,
            "comparison": if *last_year { "last_year" } else { "previous_period" },
            "comparison_period": period(&summary_period(previous)),
            "scope": scope(regions, stores, None),
            "total": money(&current.total),
            "orders": current.orders,
            "average": average(&current.total, current.orders),
            "previous": {
                "total": money(&previous.total),
                "orders": previous.orders,
            },
            "change": change(&current.total, &previous.total),
            "top_items": top_items(top),
            "by_store": by_store(&current.by_store),
        }),
        Content::Stock {
            query,
            warehouse,
            lines,
            ..
        } => json!({
            "kind": "stock",
            "query": query,
            "warehouse": warehouse.as_ref().map(place),
            "lines": lines.iter().map(stock_line).collect::<Vec<_>>(),
        }),
        Content::LowStock {
            warehouse, lines, ..
        } => json!({
            "kind": "low_stock",
            "warehouse": warehouse.as_ref().map(place),
            "lines": lines.iter().map(stock_line).collect::<Vec<_>>(),
        }),
        Content::Leave {
            balance,
            leave_type,
            ..
        } => json!({
            "kind": "leave",
            "employee": {
                "id": balance.employee.id,
                "name_en": balance.employee.name_en,
                "name_zh": balance.employee.name_zh,
            },
            "year": balance.year,
            "lines": balance
                .lines
                .iter()
                .filter(|l| leave_type.is_none_or(|t| t == l.leave_type))
                .map(|l| json!({
                    "leave_type": l.leave_type,
                    "entitled": quantity(&l.entitled),
                    "taken": quantity(&l.taken),
                    "remaining": quantity(&l.remaining),
                }))
                .collect::<Vec<_>>(),
        }),
        _ => return None,
    })
}

/// The facts of a sales or report card as CSV for a spreadsheet: UTF-8 with a byte-order
/// mark (so Excel reads Chinese names right), one row per figure, columns
/// `section,code,name_en,name_zh,quantity,unit,amount,currency,orders`. The figures are
/// the facts' own, so the file and the card agree. `None` for facts without sales.
pub fn to_csv(facts: &Value) -> Option<Vec<u8>> {
    let kind = facts.get("kind")?.as_str()?;
    if !matches!(kind, "sales" | "report" | "top_items") {
        return None;
    }
    let s = |v: &Value| match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    };
    let mut w = csv::Writer::from_writer(Vec::from("\u{feff}".as_bytes()));
    let header = [
        "section", "code", "name_en", "name_zh", "quantity", "unit", "amount", "currency", "orders",
    ];
    w.write_record(header).ok()?;
    let row = |w: &mut csv::Writer<Vec<u8>>, cells: [String; 9]| w.write_record(cells).ok();
    let range = |p: &Value| format!("{}..{}", s(&p["start"]), s(&p["end"]));
    let empty = String::new;
    row(
        &mut w,
        [
            "period".into(),
            range(&facts["period"]),
            empty(),
            empty(),
            empty(),
            empty(),
            empty(),
            empty(),
            empty(),
        ],
    )?;
    row(
        &mut w,
        [
            "comparison_period".into(),
            range(&facts["comparison_period"]),
            s(&facts["comparison"]),
            empty(),
            empty(),
            empty(),
            empty(),
            empty(),
            empty(),
        ],
    )?;
    if facts.get("total").is_some() {
        row(
            &mut w,
            [
                "total".into(),
                empty(),
                empty(),
                empty(),
                empty(),
                empty(),
                s(&facts["total"]["amount"]),
                s(&facts["total"]["currency"]),
                s(&facts["orders"]),
            ],
        )?;
    }
    if let Some(prev) = facts.get("previous") {
        row(
            &mut w,
            [
                "comparison_total".into(),
                empty(),
                empty(),
                empty(),
                empty(),
                empty(),
                s(&prev["total"]["amount"]),
                s(&prev["total"]["currency"]),
                s(&prev["orders"]),
            ],
        )?;
    }
    for t in facts["top_items"].as_array().into_iter().flatten() {
        row(
            &mut w,
            [
                "top_item".into(),
                s(&t["sku"]),
                s(&t["name_en"]),
                s(&t["name_zh"]),
                s(&t["quantity"]["value"]),
                s(&t["quantity"]["unit"]),
                s(&t["revenue"]["amount"]),
                s(&t["revenue"]["currency"]),
                empty(),
            ],
        )?;
    }
    for r in facts["by_store"].as_array().into_iter().flatten() {
        row(
            &mut w,
            [
                "store".into(),
                s(&r["store"]["code"]),
                s(&r["store"]["name_en"]),
                s(&r["store"]["name_zh"]),
                empty(),
                empty(),
                s(&r["total"]["amount"]),
                s(&r["total"]["currency"]),
                s(&r["orders"]),
            ],
        )?;
    }
    // A breakdown's rows: "month"/"week"/"day" with the dates as the code, "customer" with
    // the name, "region"/"store" with the place.
    let by = s(&facts["breakdown"]["by"]);
    for r in facts["breakdown"]["rows"].as_array().into_iter().flatten() {
        let (code, name_en, name_zh) = if let Some(p) = r.get("period") {
            (range(p), empty(), empty())
        } else if let Some(c) = r.get("customer") {
            (empty(), s(c), empty())
        } else {
            (
                s(&r["place"]["code"]),
                s(&r["place"]["name_en"]),
                s(&r["place"]["name_zh"]),
            )
        };
        row(
            &mut w,
            [
                format!("by_{by}"),
                code,
                name_en,
                name_zh,
                empty(),
                empty(),
                s(&r["total"]["amount"]),
                s(&r["total"]["currency"]),
                s(&r["orders"]),
            ],
        )?;
    }
    w.into_inner().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_has_a_bom_and_the_facts_figures() {
        let facts = json!({
            "kind": "report",
            "period": {"start": "2026-11-01", "end": "2026-11-30"},
            "comparison_period": {"start": "2025-11-01", "end": "2025-11-30"},
            "comparison": "last_year",
            "total": {"amount": "1234.50", "currency": "HKD"},
            "orders": 3,
            "previous": {"total": {"amount": "1000.00", "currency": "HKD"}, "orders": 2},
            "top_items": [{"sku": "VLT-250", "name_en": "Vita Lemon Tea, 24", "name_zh": "維他檸檬茶",
                           "quantity": {"value": "12", "unit": "box"},
                           "revenue": {"amount": "600.00", "currency": "HKD"}}],
            "by_store": [{"store": {"code": "MK", "name_en": "Mong Kok", "name_zh": "旺角"},
                          "total": {"amount": "1234.50", "currency": "HKD"}, "orders": 3}],
        });
        let bytes = to_csv(&facts).expect("csv");
        assert!(bytes.starts_with("\u{feff}".as_bytes()));
        let text = String::from_utf8(bytes).expect("utf-8");
        let lines: Vec<&str> = text.trim_start_matches('\u{feff}').lines().collect();
        assert_eq!(
            lines[0],
            "section,code,name_en,name_zh,quantity,unit,amount,currency,orders"
        );
        assert_eq!(lines[1], "period,2026-11-01..2026-11-30,,,,,,,");
        assert_eq!(
            lines[2],
            "comparison_period,2025-11-01..2025-11-30,last_year,,,,,,"
        );
        assert_eq!(lines[3], "total,,,,,,1234.50,HKD,3");
        assert_eq!(lines[4], "comparison_total,,,,,,1000.00,HKD,2");
        assert_eq!(
            lines[5],
            "top_item,VLT-250,\"Vita Lemon Tea, 24\",維他檸檬茶,12,box,600.00,HKD,"
        );
        assert_eq!(lines[6], "store,MK,Mong Kok,旺角,,,1234.50,HKD,3");
        assert!(to_csv(&json!({"kind": "leave"})).is_none());
    }

    #[test]
    fn csv_lists_a_breakdowns_rows() {
        let facts = json!({
            "kind": "report",
            "period": {"start": "2026-11-01", "end": "2026-11-30"},
            "comparison_period": {"start": "2026-10-01", "end": "2026-10-31"},
            "breakdown": {"by": "customer", "asked": null, "rows": [
                {"customer": "Golden Dragon Trading", "total": {"amount": "900.00", "currency": "HKD"}, "orders": 2},
                {"customer": "金龍貿易有限公司", "total": {"amount": "100.50", "currency": "HKD"}, "orders": 1},
            ]},
        });
        let text = String::from_utf8(to_csv(&facts).expect("csv")).expect("utf-8");
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[3],
            "by_customer,,Golden Dragon Trading,,,,900.00,HKD,2"
        );
        assert_eq!(lines[4], "by_customer,,金龍貿易有限公司,,,,100.50,HKD,1");
        let months = json!({
            "kind": "report",
            "period": {"start": "2026-01-01", "end": "2026-02-28"},
            "comparison_period": {"start": "2025-01-01", "end": "2025-02-28"},
            "breakdown": {"by": "month", "asked": null, "rows": [
                {"period": {"start": "2026-01-01", "end": "2026-01-31"}, "total": {"amount": "5.00", "currency": "HKD"}, "orders": 1},
            ]},
        });
        let text = String::from_utf8(to_csv(&months).expect("csv")).expect("utf-8");
        assert_eq!(
            text.lines().nth(3),
            Some("by_month,2026-01-01..2026-01-31,,,,,5.00,HKD,1")
        );
    }
}
