//! Builds the demo company's data from the catalog and a seed date, and writes it to SQLite.
//!
//! Generation is a pure function of the seed date (`generate`), kept apart from the writing
//! (`write`) so it is easy to reason about determinism: the same date gives the same rows in
//! the same order, hence the same database content. Each part draws from its own random
//! stream (see [`Rng::stream`]), and the orders of one day draw from a stream keyed by that
//! day, so a given day's orders (lines, customers, amounts) are the same whatever the seed
//! date; only their state and the numbering of the earliest, partial year move with it.

use std::collections::BTreeSet;

use jiff::Span;
use jiff::civil::{Date, Weekday};
use sqlx::query_builder::Separated;
use sqlx::{Connection, QueryBuilder, Sqlite, SqliteConnection};

use super::catalog::{
    CUSTOMERS, Category, EMPLOYEES, FAMILIES, FAMILY_LEAVE, PLACES, STORES, WAREHOUSES,
};
use super::rng::{Rng, cumulative};
use crate::intent::LeaveType;

/// Stream labels for [`Rng::stream`]; any distinct constants do.
const STREAM_CATALOG: u64 = 1;
const STREAM_STOCK: u64 = 2;
const STREAM_CUSTOMERS: u64 = 3;
const STREAM_ORDERS: u64 = 4;
const STREAM_LEAVE: u64 = 5;

/// Months of order history up to and including the seed date.
const HISTORY_MONTHS: i64 = 18;

/// Share of stock lines (per warehouse, in per mille) that start at or below their reorder
/// level, so "what is running low" always has an answer.
const LOW_STOCK_PER_MILLE: usize = 70;

/// Items used as examples in the docs and tests; they are never picked at random as low
/// stock, so the showcase stock question ("iPhone 15 Pro 256GB 觀塘倉仲有幾多?") has a
/// healthy answer in Kwun Tong.
const SHOWCASE_ITEMS: [&str; 3] = [
    "iPhone 15 Pro 256GB",
    "Vita Lemon Tea 250ml",
    "A4 Copy Paper 80g",
];

/// The tables. Dates are ISO `YYYY-MM-DD` text (sortable, comparable with `BETWEEN`); money
/// is integer cents of HKD; leave is counted in half days so 0.5 days stays exact.
pub(super) const SCHEMA: &str = r#"
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE places (
    code     TEXT PRIMARY KEY,
    kind     TEXT NOT NULL CHECK (kind IN ('region', 'warehouse', 'store')),
    name_en  TEXT NOT NULL,
    name_zh  TEXT NOT NULL,
    region   TEXT REFERENCES places(code),
    position INTEGER NOT NULL
);
CREATE TABLE place_aliases (
    code     TEXT NOT NULL REFERENCES places(code),
    position INTEGER NOT NULL,
    alias    TEXT NOT NULL,
    PRIMARY KEY (code, position)
);
CREATE TABLE items (
    sku              TEXT PRIMARY KEY,
    name_en          TEXT NOT NULL,
    name_zh          TEXT NOT NULL,
    unit             TEXT NOT NULL,
    category         TEXT NOT NULL,
    list_price_cents INTEGER NOT NULL
);
CREATE TABLE stock (
    sku           TEXT NOT NULL REFERENCES items(sku),
    warehouse     TEXT NOT NULL REFERENCES places(code),
    on_hand       INTEGER NOT NULL,
    reserved      INTEGER NOT NULL,
    reorder_level INTEGER NOT NULL,
    PRIMARY KEY (sku, warehouse),
    CHECK (reserved BETWEEN 0 AND on_hand)
);
CREATE TABLE customers (
    id           INTEGER PRIMARY KEY,
    name         TEXT NOT NULL,
    name_lc      TEXT NOT NULL,
    home_store   TEXT NOT NULL REFERENCES places(code),
    discount_pct INTEGER NOT NULL
);
CREATE TABLE orders (
    id            INTEGER PRIMARY KEY,
    number        TEXT NOT NULL UNIQUE,
    order_date    TEXT NOT NULL,
    store         TEXT NOT NULL REFERENCES places(code),
    customer_id   INTEGER NOT NULL REFERENCES customers(id),
    state         TEXT NOT NULL CHECK (state IN
                      ('draft', 'confirmed', 'picking', 'shipped', 'delivered', 'cancelled')),
    delivery_date TEXT,
    total_cents   INTEGER NOT NULL
);
CREATE TABLE order_lines (
    order_id         INTEGER NOT NULL REFERENCES orders(id),
    line_no          INTEGER NOT NULL,
    sku              TEXT NOT NULL REFERENCES items(sku),
    qty              INTEGER NOT NULL,
    unit_price_cents INTEGER NOT NULL,
    amount_cents     INTEGER NOT NULL,
    PRIMARY KEY (order_id, line_no)
);
CREATE TABLE employees (
    id      TEXT PRIMARY KEY,
    name_en TEXT NOT NULL,
    name_zh TEXT NOT NULL,
    role    TEXT NOT NULL,
    place   TEXT REFERENCES places(code)
);
CREATE TABLE leave_entitlements (
    employee_id TEXT NOT NULL REFERENCES employees(id),
    year        INTEGER NOT NULL,
    leave_type  TEXT NOT NULL,
    half_days   INTEGER NOT NULL,
    PRIMARY KEY (employee_id, year, leave_type)
);
CREATE TABLE leave_taken (
    id          INTEGER PRIMARY KEY,
    employee_id TEXT NOT NULL REFERENCES employees(id),
    leave_type  TEXT NOT NULL,
    start_date  TEXT NOT NULL,
    end_date    TEXT NOT NULL,
    half_days   INTEGER NOT NULL
);
"#;

/// Secondary indexes, created after the bulk insert (cheaper than maintaining them row by
/// row). The order index covers every column the sales queries read, so period reports
/// never touch the table itself.
pub(super) const INDEXES: &str = r#"
CREATE INDEX orders_by_date ON orders (order_date, state, store, customer_id, total_cents);
CREATE INDEX order_lines_by_sku ON order_lines (sku);
CREATE INDEX stock_by_warehouse ON stock (warehouse);
CREATE INDEX places_by_region ON places (region);
CREATE INDEX leave_taken_by_employee ON leave_taken (employee_id, start_date);
ANALYZE;
"#;

/// Everything generated for one seed date, in insertion order.
pub(super) struct Seed {
    pub today: Date,
    pub items: Vec<ItemRow>,
    pub stock: Vec<StockRow>,
    pub customers: Vec<CustomerRow>,
    pub orders: Vec<OrderRow>,
    pub lines: Vec<LineRow>,
    pub entitlements: Vec<EntitlementRow>,
    pub taken: Vec<TakenRow>,
}

pub(super) struct ItemRow {
    pub sku: String,
    pub name_en: String,
    pub name_zh: String,
    pub unit: &'static str,
    pub category: Category,
    pub price_cents: i64,
    popularity: u64,
    order_qty: (u64, u64),
    stock: u64,
}

pub(super) struct StockRow {
    /// Index into [`Seed::items`].
    pub item: usize,
    pub warehouse: &'static str,
    pub on_hand: i64,
    pub reserved: i64,
    pub reorder_level: i64,
}

pub(super) struct CustomerRow {
    pub name: &'static str,
    pub home_store: &'static str,
    pub discount_pct: i64,
    size: u64,
}

pub(super) struct OrderRow {
    pub number: String,
    pub date: Date,
    pub store: &'static str,
    /// Index into [`Seed::customers`]; the customer id is this plus one.
    pub customer: usize,
    pub state: &'static str,
    pub delivery_date: Option<Date>,
    pub total_cents: i64,
}

pub(super) struct LineRow {
    /// Index into [`Seed::orders`]; the order id is this plus one.
    pub order: usize,
    pub line_no: i64,
    /// Index into [`Seed::items`].
    pub item: usize,
    pub qty: i64,
    pub unit_price_cents: i64,
    pub amount_cents: i64,
}

pub(super) struct EntitlementRow {
    pub employee: &'static str,
    pub year: i16,
    pub leave_type: LeaveType,
    pub half_days: i64,
}

pub(super) struct TakenRow {
    pub employee: &'static str,
    pub leave_type: LeaveType,
    pub start: Date,
    pub end: Date,
    pub half_days: i64,
}

/// Generates all data for the seed date `today`. Fails only for dates so close to the ends
/// of the calendar that 18 months of history cannot be laid out.
pub(super) fn generate(today: Date) -> Result<Seed, jiff::Error> {
    let items = items();
    let stock = stock(&items);
    let customers = customers();
    let (orders, lines) = orders(today, &items, &customers)?;
    let (entitlements, taken) = leave(today)?;
    Ok(Seed {
        today,
        items,
        stock,
        customers,
        orders,
        lines,
        entitlements,
        taken,
    })
}

/// Expands the product families into items, numbering SKUs per category (`ELE-1001`, …).
fn items() -> Vec<ItemRow> {
    let mut rng = Rng::stream(&[STREAM_CATALOG]);
    let mut next_number = [1001u32; Category::ALL.len()];
    let mut items = Vec::new();
    for family in FAMILIES {
        for &(suffix_en, suffix_zh, price_cents) in family.variants {
            let slot = Category::ALL
                .iter()
                .position(|c| *c == family.category)
                .unwrap_or(0);
            let sku = format!("{}-{}", family.category.sku_prefix(), next_number[slot]);
            next_number[slot] += 1;
            items.push(ItemRow {
                sku,
                name_en: join_name(family.en, suffix_en),
                name_zh: join_name(family.zh, suffix_zh),
                unit: family.unit,
                category: family.category,
                price_cents,
                // Variants of one product sell at different rates.
                popularity: family.popularity * rng.range(60, 140),
                order_qty: family.order_qty,
                stock: family.stock,
            });
        }
    }
    items
}

fn join_name(base: &str, suffix: &str) -> String {
    if suffix.is_empty() {
        base.to_string()
    } else {
        format!("{base} {suffix}")
    }
}

/// Stock of every item in every warehouse. A fixed share of lines per warehouse is at or
/// below its reorder level; one showcase line (the iPhone 15 Pro 256GB in Tsuen Wan) is low
/// on purpose so the stock card shows its warning next to healthy warehouses.
fn stock(items: &[ItemRow]) -> Vec<StockRow> {
    let showcase: Vec<usize> = items
        .iter()
        .enumerate()
        .filter(|(_, it)| SHOWCASE_ITEMS.contains(&it.name_en.as_str()))
        .map(|(i, _)| i)
        .collect();
    let deliberately_low = items
        .iter()
        .position(|it| it.name_en == "iPhone 15 Pro 256GB")
        .map(|i| (i, "TW"));
    let mut rows = Vec::with_capacity(items.len() * WAREHOUSES.len());
    let mut per_warehouse = Vec::new();
    for (w, &(code, size_pct)) in WAREHOUSES.iter().enumerate() {
        let mut rng = Rng::stream(&[STREAM_STOCK, w as u64]);
        // Partial Fisher–Yates over the non-showcase items picks the low lines.
        let mut candidates: Vec<usize> =
            (0..items.len()).filter(|i| !showcase.contains(i)).collect();
        let wanted = (items.len() * LOW_STOCK_PER_MILLE).div_ceil(1000);
        let mut low = BTreeSet::new();
        for k in 0..wanted.min(candidates.len()) {
            let j = k + rng.below((candidates.len() - k) as u64) as usize;
            candidates.swap(k, j);
            low.insert(candidates[k]);
        }
        if let Some((i, wh)) = deliberately_low
            && wh == code
        {
            low.insert(i);
        }
        per_warehouse.push((code, size_pct, low, rng));
    }
    for (i, item) in items.iter().enumerate() {
        for (code, size_pct, low, rng) in per_warehouse.iter_mut() {
            let base = (item.stock * *size_pct / 100).max(5);
            let reorder = (base * rng.range(15, 25) / 100).max(2);
            let (available, reserved) = if low.contains(&i) {
                // A few lines are out of stock altogether; the others still have some.
                let available = if rng.chance(200) {
                    0
                } else {
                    rng.range(1, reorder)
                };
                (available, rng.below(base / 10 + 1))
            } else {
                let available = rng.range(reorder + 1, reorder + base * 130 / 100);
                (available, available * rng.range(0, 15) / 100)
            };
            rows.push(StockRow {
                item: i,
                warehouse: code,
                on_hand: to_i64(available + reserved),
                reserved: to_i64(reserved),
                reorder_level: to_i64(reorder),
            });
        }
    }
    rows
}

/// Customers, each with a home store (where most of their orders are booked), a size (how
/// often they order) and a negotiated discount.
fn customers() -> Vec<CustomerRow> {
    let mut rng = Rng::stream(&[STREAM_CUSTOMERS]);
    CUSTOMERS
        .iter()
        .enumerate()
        .map(|(i, &name)| CustomerRow {
            name,
            home_store: STORES[i % STORES.len()].0,
            discount_pct: [0, 0, 2, 3, 5][rng.below(5) as usize],
            size: rng.range(1, 10),
        })
        .collect()
}

/// Sales orders for every day of the history window, numbered `SO-<year>-<5-digit seq>` in
/// date order, the sequence restarting every year.
fn orders(
    today: Date,
    items: &[ItemRow],
    customers: &[CustomerRow],
) -> Result<(Vec<OrderRow>, Vec<LineRow>), jiff::Error> {
    let days = history(today)?;
    let store_cum = cumulative(STORES.iter().map(|&(_, w)| w));
    let all_cum = cumulative(customers.iter().map(|c| c.size));
    let local: Vec<(Vec<usize>, Vec<u64>)> = STORES
        .iter()
        .map(|&(code, _)| {
            let ids: Vec<usize> = (0..customers.len())
                .filter(|&c| customers[c].home_store == code)
                .collect();
            let cum = cumulative(ids.iter().map(|&c| customers[c].size));
            (ids, cum)
        })
        .collect();
    let item_cum = cumulative(items.iter().map(|it| it.popularity));
    let lines_cum = cumulative([30, 30, 20, 12, 8]);

    let mut orders = Vec::with_capacity(days.len() * 40);
    let mut lines = Vec::with_capacity(days.len() * 110);
    let mut year = None;
    let mut seq = 0u32;
    for (idx, &day) in days.iter().enumerate() {
        if year != Some(day.year()) {
            year = Some(day.year());
            seq = 0;
        }
        let age = days.len() - 1 - idx;
        let mut rng = Rng::stream(&[STREAM_ORDERS, day_key(day)]);
        for _ in 0..orders_on(day, &mut rng) {
            // Draw everything in a fixed order, before looking at the order's age, so that
            // the seed date only changes states, never what was ordered.
            let store = rng.weighted(&store_cum);
            let walk_in = rng.chance(100);
            let anyone = rng.weighted(&all_cum);
            let (ids, cum) = &local[store];
            let regular = if ids.is_empty() {
                anyone
            } else {
                ids[rng.weighted(cum).min(ids.len() - 1)]
            };
            let customer = if walk_in { anyone } else { regular };
            let line_count = 1 + rng.weighted(&lines_cum);
            let order = orders.len();
            let mut chosen: Vec<usize> = Vec::with_capacity(line_count);
            let mut total = 0i64;
            for _ in 0..line_count {
                let Some(item) = (0..10)
                    .map(|_| rng.weighted(&item_cum))
                    .find(|i| !chosen.contains(i))
                else {
                    continue;
                };
                chosen.push(item);
                let it = &items[item];
                let qty = to_i64(rng.range(it.order_qty.0, it.order_qty.1));
                let discount = customers[customer].discount_pct;
                let unit_price = (it.price_cents * (100 - discount) + 50) / 100;
                let amount = qty * unit_price;
                total += amount;
                lines.push(LineRow {
                    order,
                    line_no: to_i64(chosen.len() as u64),
                    item,
                    qty,
                    unit_price_cents: unit_price,
                    amount_cents: amount,
                });
            }
            let cancelled = rng.chance(30);
            let draft = rng.chance(80);
            let lead = rng.range(1, 5) as usize;
            let progress = rng.below(100);
            let (state, delivery_date) = if cancelled {
                ("cancelled", None)
            } else if age >= lead {
                ("delivered", days.get(idx + lead).copied())
            } else if age <= 1 && draft {
                ("draft", None)
            } else {
                let state = match (age, progress) {
                    (0, p) if p < 70 => "confirmed",
                    (0, _) => "picking",
                    (1, p) if p < 30 => "confirmed",
                    (1, p) if p < 80 => "picking",
                    (_, p) if p < 20 => "picking",
                    _ => "shipped",
                };
                (state, None)
            };
            seq += 1;
            orders.push(OrderRow {
                number: format!("SO-{}-{seq:05}", day.year()),
                date: day,
                store: STORES[store.min(STORES.len() - 1)].0,
                customer,
                state,
                delivery_date,
                total_cents: total,
            });
        }
    }
    Ok((orders, lines))
}

/// Every day of the order history: the 18 months ending with (and including) `today`.
fn history(today: Date) -> Result<Vec<Date>, jiff::Error> {
    let start = today
        .checked_sub(Span::new().months(HISTORY_MONTHS))?
        .tomorrow()?;
    let mut days = Vec::with_capacity(560);
    let mut day = start;
    while day < today {
        days.push(day);
        day = day.tomorrow()?;
    }
    days.push(today);
    Ok(days)
}

/// How many orders the company books on `day`: busier at weekends, before Christmas and
/// around Chinese New Year, between roughly 24 and 54.
fn orders_on(day: Date, rng: &mut Rng) -> u64 {
    let weekday = match day.weekday() {
        Weekday::Monday => 0,
        Weekday::Tuesday => 1,
        Weekday::Wednesday | Weekday::Thursday => 2,
        Weekday::Friday => 5,
        Weekday::Saturday => 10,
        Weekday::Sunday => 6,
    };
    let season = match day.month() {
        12 => 8,
        1 => 5,
        2 => 4,
        8 | 11 => 3,
        7 => 2,
        _ => 0,
    };
    24 + weekday + season + rng.range(0, 12)
}

fn day_key(day: Date) -> u64 {
    (u64::from(day.year() as u16) << 16) | ((day.month() as u64) << 8) | day.day() as u64
}

/// Leave entitlements for last year, this year and next year (so December questions about
/// next year have an answer), and leave taken last year and this year up to `today`. Nothing
/// is booked after `today`, so "taken in the year" and "taken so far" are the same.
fn leave(today: Date) -> Result<(Vec<EntitlementRow>, Vec<TakenRow>), jiff::Error> {
    let this_year = today.year();
    let mut entitlements = Vec::new();
    let mut taken = Vec::new();
    for (e, emp) in EMPLOYEES.iter().enumerate() {
        for offset in [-1i16, 0, 1] {
            let year = this_year + offset;
            let mut rng = Rng::stream(&[STREAM_LEAVE, e as u64, u64::from(year as u16)]);
            let service = (emp.service_years as i64 + i64::from(offset)).max(0) as u64;
            let top_up = if emp.role.ends_with("manager") {
                4
            } else {
                (e % 3) as i64
            };
            let annual = 2 * (7 + service.saturating_sub(2).min(7) as i64 + top_up);
            let sick = 2 * (12 + 4 * service as i64).min(48);
            let compensation = [0, 0, 2, 3, 4, 6][rng.below(6) as usize];
            let family = FAMILY_LEAVE
                .iter()
                .any(|&(id, y)| id == emp.id && y == offset)
                .then_some(if emp.female {
                    (LeaveType::Maternity, 2 * 98)
                } else {
                    (LeaveType::Paternity, 2 * 5)
                });
            let mut ent = vec![
                (LeaveType::Annual, annual),
                (LeaveType::Sick, sick),
                (LeaveType::Compensation, compensation),
            ];
            ent.extend(family);
            for &(leave_type, half_days) in &ent {
                if half_days > 0 {
                    entitlements.push(EntitlementRow {
                        employee: emp.id,
                        year,
                        leave_type,
                        half_days,
                    });
                }
            }
            if offset <= 0 {
                taken.extend(leave_taken(emp.id, year, today, &ent, &mut rng)?);
            }
        }
    }
    Ok((entitlements, taken))
}

/// Leave records of one employee in one year: each leave type's target is a share of the
/// entitlement (all of the year for past years, the elapsed part for this year), carved into
/// half days, single days and short runs of working days that never overlap.
fn leave_taken(
    employee: &'static str,
    year: i16,
    today: Date,
    entitlements: &[(LeaveType, i64)],
    rng: &mut Rng,
) -> Result<Vec<TakenRow>, jiff::Error> {
    let first = Date::new(year, 1, 1)?;
    let last = if year == today.year() {
        today
    } else {
        first.last_of_year()
    };
    let mut workdays = Vec::new();
    let mut d = first;
    while d <= last {
        if !matches!(d.weekday(), Weekday::Saturday | Weekday::Sunday) {
            workdays.push(d);
        }
        if d == last {
            break;
        }
        d = d.tomorrow()?;
    }
    let elapsed = if year == today.year() {
        i64::from(today.day_of_year()) * 1000 / i64::from(today.days_in_year())
    } else {
        1000
    };
    let mut used = vec![false; workdays.len()];
    let mut rows = Vec::new();
    for &(leave_type, entitled) in entitlements {
        let share = rng.range(60, 105) as i64;
        let target = match leave_type {
            LeaveType::Maternity | LeaveType::Paternity => {
                if elapsed == 1000 {
                    entitled
                } else {
                    0
                }
            }
            LeaveType::Sick => (rng.range(0, 12) as i64 * elapsed / 1000).min(entitled),
            _ => (entitled * share * elapsed / 100_000).min(entitled),
        };
        if leave_type == LeaveType::Maternity && target > 0 {
            // Fourteen weeks in one stretch, counted in calendar days.
            let span = target / 2;
            let room = i64::from(first.days_in_year()) - span;
            let start =
                first.checked_add(Span::new().days(rng.below(room.max(1) as u64) as i64))?;
            let end = start.checked_add(Span::new().days(span - 1))?;
            for (u, w) in used.iter_mut().zip(&workdays) {
                *u |= *w >= start && *w <= end;
            }
            rows.push(TakenRow {
                employee,
                leave_type,
                start,
                end,
                half_days: target,
            });
            continue;
        }
        let mut remaining = target;
        let mut misses = 0;
        while remaining > 0 && misses < 20 && !workdays.is_empty() {
            let roll = rng.below(10);
            let mut half_days = match roll {
                0 => 1,
                1..=5 => 2,
                _ => 2 * rng.range(2, 5) as i64,
            };
            if leave_type == LeaveType::Paternity {
                half_days = remaining;
            }
            half_days = half_days.min(remaining);
            let len = (half_days as usize).div_ceil(2);
            let start = rng.below(workdays.len() as u64) as usize;
            if start + len > workdays.len() || used[start..start + len].iter().any(|&u| u) {
                misses += 1;
                continue;
            }
            used[start..start + len].iter_mut().for_each(|u| *u = true);
            rows.push(TakenRow {
                employee,
                leave_type,
                start: workdays[start],
                end: workdays[start + len - 1],
                half_days,
            });
            remaining -= half_days;
        }
    }
    rows.sort_by_key(|r| r.start);
    Ok(rows)
}

fn to_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// Most bound parameters per INSERT: well under SQLite's limit (32766 since 3.32), large
/// enough that 18 months of orders take a few dozen statements instead of 100 000.
const MAX_PARAMS: usize = 30_000;

/// Inserts `rows` with multi-row `INSERT … VALUES (…), (…)` statements; `head` is the
/// statement up to `VALUES`.
async fn insert<'r, T>(
    conn: &mut SqliteConnection,
    head: &'static str,
    params_per_row: usize,
    rows: &'r [T],
    mut bind: impl FnMut(&mut Separated<'_, 'r, Sqlite, &'static str>, &'r T),
) -> Result<(), sqlx::Error> {
    for chunk in rows.chunks((MAX_PARAMS / params_per_row).max(1)) {
        let mut qb: QueryBuilder<'r, Sqlite> = QueryBuilder::new(head);
        qb.push_values(chunk, |mut b, row| bind(&mut b, row));
        qb.build().execute(&mut *conn).await?;
    }
    Ok(())
}

/// Creates the schema and writes `seed` in one transaction, the meta rows last: a database
/// without them is treated as unseeded and rebuilt.
pub(super) async fn write(
    conn: &mut SqliteConnection,
    seed: &Seed,
    version: u32,
    currency: &str,
) -> Result<(), sqlx::Error> {
    let mut tx = conn.begin().await?;
    sqlx::raw_sql(SCHEMA).execute(&mut *tx).await?;

    let places: Vec<(usize, &_)> = PLACES.iter().enumerate().collect();
    insert(
        &mut tx,
        "INSERT INTO places (code, kind, name_en, name_zh, region, position) ",
        6,
        &places,
        |b, (i, p)| {
            b.push_bind(p.code)
                .push_bind(p.kind)
                .push_bind(p.name_en)
                .push_bind(p.name_zh)
                .push_bind(p.region)
                .push_bind(*i as i64);
        },
    )
    .await?;
    let aliases: Vec<(&str, usize, &str)> = PLACES
        .iter()
        .flat_map(|p| p.aliases.iter().enumerate().map(|(i, a)| (p.code, i, *a)))
        .collect();
    insert(
        &mut tx,
        "INSERT INTO place_aliases (code, position, alias) ",
        3,
        &aliases,
        |b, (code, i, alias)| {
            b.push_bind(*code).push_bind(*i as i64).push_bind(*alias);
        },
    )
    .await?;
    insert(
        &mut tx,
        "INSERT INTO items (sku, name_en, name_zh, unit, category, list_price_cents) ",
        6,
        &seed.items,
        |b, it| {
            b.push_bind(it.sku.as_str())
                .push_bind(it.name_en.as_str())
                .push_bind(it.name_zh.as_str())
                .push_bind(it.unit)
                .push_bind(it.category.name())
                .push_bind(it.price_cents);
        },
    )
    .await?;
    insert(
        &mut tx,
        "INSERT INTO stock (sku, warehouse, on_hand, reserved, reorder_level) ",
        5,
        &seed.stock,
        |b, s| {
            b.push_bind(seed.items[s.item].sku.as_str())
                .push_bind(s.warehouse)
                .push_bind(s.on_hand)
                .push_bind(s.reserved)
                .push_bind(s.reorder_level);
        },
    )
    .await?;
    let customers: Vec<(usize, &CustomerRow, String)> = seed
        .customers
        .iter()
        .enumerate()
        .map(|(i, c)| (i, c, c.name.to_lowercase()))
        .collect();
    insert(
        &mut tx,
        "INSERT INTO customers (id, name, name_lc, home_store, discount_pct) ",
        5,
        &customers,
        |b, (i, c, lc)| {
            b.push_bind(*i as i64 + 1)
                .push_bind(c.name)
                .push_bind(lc.as_str())
                .push_bind(c.home_store)
                .push_bind(c.discount_pct);
        },
    )
    .await?;
    let orders: Vec<(usize, &OrderRow, String, Option<String>)> = seed
        .orders
        .iter()
        .enumerate()
        .map(|(i, o)| {
            let delivered = o.delivery_date.map(|d| d.to_string());
            (i, o, o.date.to_string(), delivered)
        })
        .collect();
    insert(
        &mut tx,
        "INSERT INTO orders \
         (id, number, order_date, store, customer_id, state, delivery_date, total_cents) ",
        8,
        &orders,
        |b, (i, o, date, delivered)| {
            b.push_bind(*i as i64 + 1)
                .push_bind(o.number.as_str())
                .push_bind(date.as_str())
                .push_bind(o.store)
                .push_bind(o.customer as i64 + 1)
                .push_bind(o.state)
                .push_bind(delivered.as_deref())
                .push_bind(o.total_cents);
        },
    )
    .await?;
    insert(
        &mut tx,
        "INSERT INTO order_lines \
         (order_id, line_no, sku, qty, unit_price_cents, amount_cents) ",
        6,
        &seed.lines,
        |b, l| {
            b.push_bind(l.order as i64 + 1)
                .push_bind(l.line_no)
                .push_bind(seed.items[l.item].sku.as_str())
                .push_bind(l.qty)
                .push_bind(l.unit_price_cents)
                .push_bind(l.amount_cents);
        },
    )
    .await?;
    insert(
        &mut tx,
        "INSERT INTO employees (id, name_en, name_zh, role, place) ",
        5,
        EMPLOYEES,
        |b, e| {
            b.push_bind(e.id)
                .push_bind(e.name_en)
                .push_bind(e.name_zh)
                .push_bind(e.role)
                .push_bind(e.place);
        },
    )
    .await?;
    insert(
        &mut tx,
        "INSERT INTO leave_entitlements (employee_id, year, leave_type, half_days) ",
        4,
        &seed.entitlements,
        |b, r| {
            b.push_bind(r.employee)
                .push_bind(i64::from(r.year))
                .push_bind(r.leave_type.name())
                .push_bind(r.half_days);
        },
    )
    .await?;
    let taken: Vec<(usize, &TakenRow, String, String)> = seed
        .taken
        .iter()
        .enumerate()
        .map(|(i, t)| (i, t, t.start.to_string(), t.end.to_string()))
        .collect();
    insert(
        &mut tx,
        "INSERT INTO leave_taken \
         (id, employee_id, leave_type, start_date, end_date, half_days) ",
        6,
        &taken,
        |b, (i, t, start, end)| {
            b.push_bind(*i as i64 + 1)
                .push_bind(t.employee)
                .push_bind(t.leave_type.name())
                .push_bind(start.as_str())
                .push_bind(end.as_str())
                .push_bind(t.half_days);
        },
    )
    .await?;

    sqlx::raw_sql(INDEXES).execute(&mut *tx).await?;
    let meta = [
        ("company", "Harbour Trading Ltd.".to_string()),
        ("currency", currency.to_string()),
        ("seed_date", seed.today.to_string()),
        ("seed_version", version.to_string()),
    ];
    insert(
        &mut tx,
        "INSERT INTO meta (key, value) ",
        2,
        &meta,
        |b, (k, v)| {
            b.push_bind(*k).push_bind(v.as_str());
        },
    )
    .await?;
    tx.commit().await
}
