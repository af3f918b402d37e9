//! Card rendering: a JSON snapshot of every `Content` variant in both languages, plus
//! properties every card must have (no figures in private notes, working follow-up
//! buttons, no unfilled placeholders or raw catalog keys).
//!
//! The canonical values are hand-made for a fictional Hong Kong trading company; the
//! clock is fixed so "as of" lines are stable.

use std::str::FromStr;

use askerp::card::{Card, Content, DenyReason, Failure, Messages, NotFound, Renderer};
use askerp::erp::{
    Employee, Item, LeaveBalance, LeaveLine, Money, Order, OrderLine, OrderState, Place, PlaceKind,
    Quantity, SalesSummary, StockLine, StoreSales, TopItem,
};
use askerp::intent::{Intent, LeaveType, Locale, Period, RankBy};
use jiff::Timestamp;
use jiff::civil::{Date, date};
use jiff::tz::TimeZone;
use rust_decimal::Decimal;

const LOCALES: [Locale; 5] = Locale::ALL;

fn renderer() -> Renderer {
    let messages = Messages::builtin().expect("builtin catalogs");
    let tz = TimeZone::get("Asia/Hong_Kong").expect("bundled tzdb");
    Renderer::new(messages, tz)
}

/// 21 Nov 2026 14:05 in Hong Kong.
fn now() -> Timestamp {
    "2026-11-21T06:05:00Z".parse().expect("timestamp")
}

fn dec(s: &str) -> Decimal {
    Decimal::from_str(s).expect("test decimal")
}

fn hkd(s: &str) -> Money {
    Money {
        amount: dec(s),
        currency: "HKD".into(),
    }
}

fn qty(v: &str, unit: &str) -> Quantity {
    Quantity {
        value: dec(v),
        unit: unit.into(),
    }
}

fn place(kind: PlaceKind, code: &str, en: &str, zh: &str, region: Option<&str>) -> Place {
    Place {
        code: code.into(),
        kind,
        name_en: en.into(),
        name_zh: zh.into(),
        region: region.map(Into::into),
        aliases: vec![],
    }
}

fn kwun_tong() -> Place {
    place(
        PlaceKind::Warehouse,
        "WH-KT",
        "Kwun Tong",
        "觀塘倉",
        Some("KLN"),
    )
}
fn tsuen_wan() -> Place {
    place(
        PlaceKind::Warehouse,
        "WH-TW",
        "Tsuen Wan",
        "荃灣倉",
        Some("NT"),
    )
}
fn kwai_chung() -> Place {
    place(
        PlaceKind::Warehouse,
        "WH-KC",
        "Kwai Chung",
        "葵涌倉",
        Some("NT"),
    )
}
fn warehouses() -> Vec<Place> {
    vec![kwun_tong(), tsuen_wan(), kwai_chung()]
}
fn kowloon() -> Place {
    place(PlaceKind::Region, "KLN", "Kowloon", "九龍", None)
}
fn hk_island() -> Place {
    place(PlaceKind::Region, "HKI", "HK Island", "港島", None)
}
fn store(code: &str, en: &str, zh: &str, region: &str) -> Place {
    place(PlaceKind::Store, code, en, zh, Some(region))
}
fn mong_kok() -> Place {
    store("ST-MK", "Mong Kok", "旺角店", "KLN")
}

fn item(sku: &str, en: &str, zh: &str, unit: &str) -> Item {
    Item {
        sku: sku.into(),
        name_en: en.into(),
        name_zh: zh.into(),
        unit: unit.into(),
    }
}
fn iphone() -> Item {
    item(
        "IP15P-256-BLK",
        "iPhone 15 Pro 256GB Black",
        "iPhone 15 Pro 256GB 黑色",
        "pc",
    )
}
fn paper() -> Item {
    item("PAP-A4-80", "A4 Copy Paper 80gsm", "A4 影印紙 80克", "ream")
}
fn water() -> Item {
    item(
        "BEV-WTR-500",
        "Mineral Water 500ml",
        "礦泉水 500毫升",
        "bottle",
    )
}

fn stock_line(item: Item, wh: Place, on_hand: &str, reserved: &str, reorder: &str) -> StockLine {
    let unit = item.unit.clone();
    let available = dec(on_hand) - dec(reserved);
    StockLine {
        item,
        warehouse: wh,
        on_hand: qty(on_hand, &unit),
        reserved: qty(reserved, &unit),
        available: Quantity {
            value: available,
            unit: unit.clone(),
        },
        reorder_level: qty(reorder, &unit),
    }
}

fn stores() -> Vec<Place> {
    vec![
        mong_kok(),
        store("ST-CWB", "Causeway Bay", "銅鑼灣店", "HKI"),
        store("ST-TST", "Tsim Sha Tsui", "尖沙咀店", "KLN"),
        store("ST-ST", "Sha Tin", "沙田店", "NT"),
        store("ST-KT", "Kwun Tong", "觀塘店", "KLN"),
        store("ST-CW", "Central", "中環店", "HKI"),
        store("ST-TM", "Tuen Mun", "屯門店", "NT"),
        store("ST-YL", "Yuen Long", "元朗店", "NT"),
        store("ST-TKO", "Tseung Kwan O", "將軍澳店", "NT"),
        store("ST-NP", "North Point", "北角店", "HKI"),
        store("ST-TW", "Tsuen Wan", "荃灣店", "NT"),
        store("ST-SSP", "Sham Shui Po", "深水埗店", "KLN"),
    ]
}

fn store_sales(place: Place, total: &str, orders: u64) -> StoreSales {
    StoreSales {
        store: place,
        total: hkd(total),
        orders,
    }
}

fn month(year: i16, m: i8) -> (Date, Date) {
    let start = date(year, m, 1);
    (start, start.last_of_month())
}

fn summary(
    start: Date,
    end: Date,
    total: &str,
    orders: u64,
    by_store: Vec<StoreSales>,
) -> SalesSummary {
    SalesSummary {
        start,
        end,
        total: hkd(total),
        orders,
        by_store,
    }
}

fn company_october() -> SalesSummary {
    let (start, end) = month(2026, 10);
    let amounts = [
        "412350.50",
        "388120.00",
        "301775.25",
        "254000.00",
        "198420.80",
        "176300.00",
        "143210.40",
        "120999.90",
        "98000.00",
        "87654.30",
        "65400.00",
        "1200.00",
    ];
    let by_store: Vec<StoreSales> = stores()
        .into_iter()
        .zip(amounts)
        .zip([412u64, 390, 301, 260, 199, 170, 150, 121, 97, 88, 66, 1])
        .map(|((p, a), n)| store_sales(p, a, n))
        .collect();
    summary(start, end, "2247431.15", 2255, by_store)
}

fn top_items() -> Vec<TopItem> {
    vec![
        TopItem {
            item: iphone(),
            quantity: qty("128", "pc"),
            revenue: hkd("1151872"),
        },
        TopItem {
            item: item(
                "APW-S9-45",
                "Apple Watch Series 9 45mm",
                "Apple Watch Series 9 45毫米",
                "pc",
            ),
            quantity: qty("64", "pc"),
            revenue: hkd("210560"),
        },
        TopItem {
            item: paper(),
            quantity: qty("1240", "ream"),
            revenue: hkd("37200"),
        },
        TopItem {
            item: water(),
            quantity: qty("9600", "bottle"),
            revenue: hkd("28800"),
        },
        TopItem {
            item: item("USB-C-1M", "USB-C Cable 1m", "USB-C 充電線 1米", "pc"),
            quantity: qty("1", "pc"),
            revenue: hkd("89"),
        },
        TopItem {
            item: item("TAPE-18", "Packing Tape 18mm", "封箱膠紙 18毫米", "roll"),
            quantity: qty("300", "roll"),
            revenue: hkd("3600"),
        },
    ]
}

fn peter() -> Employee {
    Employee {
        id: "E1024".into(),
        name_en: "Peter Wong".into(),
        name_zh: "黃彼得".into(),
    }
}

fn leave_balance(employee: Employee) -> LeaveBalance {
    let line = |t, e: &str, taken: &str| LeaveLine {
        leave_type: t,
        entitled: qty(e, "day"),
        taken: qty(taken, "day"),
        remaining: Quantity {
            value: dec(e) - dec(taken),
            unit: "day".into(),
        },
    };
    LeaveBalance {
        employee,
        year: 2026,
        lines: vec![
            line(LeaveType::Annual, "14", "4.5"),
            line(LeaveType::Sick, "24", "2"),
            line(LeaveType::Compensation, "1", "0"),
        ],
    }
}

/// The text a user would have typed, per language.
fn say(locale: Locale, en: &str, zh: &str) -> String {
    match locale {
        Locale::ZhHk => zh.to_string(),
        // A mainland user types the same words in Simplified characters.
        Locale::ZhCn => askerp::intent::fold::fold_str(zh),
        // Malay and Vietnamese users name products as they are sold, in English.
        Locale::En | Locale::Ms | Locale::Vi => en.to_string(),
    }
}

/// Every case, in the asker's language.
fn cases(locale: Locale) -> Vec<(&'static str, Content)> {
    let as_of = now();
    let many_items: Vec<StockLine> = (1..=12)
        .map(|i| {
            stock_line(
                item(
                    &format!("CASE-IP15-{i:02}"),
                    &format!("iPhone 15 Case Style {i}"),
                    &format!("iPhone 15 手機殼 款式{i}"),
                    "pc",
                ),
                kwun_tong(),
                &format!("{}", i * 7),
                "2",
                "10",
            )
        })
        .collect();
    let many_low: Vec<StockLine> = (1..=17)
        .map(|i| {
            stock_line(
                item(
                    &format!("STN-{i:03}"),
                    &format!("Stationery Set {i}"),
                    &format!("文具套裝 {i}"),
                    "set",
                ),
                if i % 2 == 0 {
                    tsuen_wan()
                } else {
                    kwai_chung()
                },
                "3",
                "1",
                "5",
            )
        })
        .collect();
    let (nov_start, _) = month(2026, 11);
    let (sep_start, sep_end) = month(2026, 9);
    let october = company_october();
    let september = summary(sep_start, sep_end, "2103550.00", 2190, vec![]);

    vec![
        (
            "stock_one_warehouse",
            Content::Stock {
                query: say(locale, "iPhone 15 Pro 256GB", "iPhone 15 Pro 256GB"),
                warehouse: Some(kwun_tong()),
                lines: vec![stock_line(iphone(), kwun_tong(), "42", "5", "10")],
                warehouses: warehouses(),
                as_of,
            },
        ),
        (
            "stock_all_warehouses",
            Content::Stock {
                query: say(locale, "a4 paper", "A4紙"),
                warehouse: None,
                lines: vec![
                    stock_line(paper(), kwun_tong(), "1250", "200", "300"),
                    stock_line(paper(), tsuen_wan(), "120", "20", "150"),
                    stock_line(paper(), kwai_chung(), "1", "0", "50"),
                ],
                warehouses: warehouses(),
                as_of,
            },
        ),
        (
            "stock_many_items",
            Content::Stock {
                query: say(locale, "iphone 15 case", "iPhone 15 手機殼"),
                warehouse: Some(kwun_tong()),
                lines: many_items,
                warehouses: warehouses(),
                as_of,
            },
        ),
        (
            "stock_none_in_warehouse",
            Content::Stock {
                query: say(locale, "mineral water", "礦泉水"),
                warehouse: Some(tsuen_wan()),
                lines: vec![],
                warehouses: warehouses(),
                as_of,
            },
        ),
        (
            "stock_none",
            Content::Stock {
                query: say(locale, "unicorn horn", "獨角獸角"),
                warehouse: None,
                lines: vec![],
                warehouses: warehouses(),
                as_of,
            },
        ),
        (
            "low_stock",
            Content::LowStock {
                warehouse: None,
                lines: vec![
                    stock_line(paper(), kwai_chung(), "1", "0", "50"),
                    stock_line(iphone(), tsuen_wan(), "6", "3", "5"),
                    stock_line(water(), kwai_chung(), "24", "0", "240"),
                ],
                as_of,
            },
        ),
        (
            "low_stock_many",
            Content::LowStock {
                warehouse: None,
                lines: many_low,
                as_of,
            },
        ),
        (
            "low_stock_none_in_warehouse",
            Content::LowStock {
                warehouse: Some(kwun_tong()),
                lines: vec![],
                as_of,
            },
        ),
        (
            "sales_company_month",
            Content::Sales {
                summary: october.clone(),
                regions: vec![],
                stores: vec![],
                customer: None,
                to_date: false,
                previous: Period {
                    start: date(2026, 9, 1),
                    end: date(2026, 9, 30),
                },
                as_of,
            },
        ),
        (
            "sales_region_customer_partial",
            Content::Sales {
                summary: summary(
                    nov_start,
                    date(2026, 11, 20),
                    "86420.00",
                    3,
                    vec![store_sales(mong_kok(), "86420.00", 3)],
                ),
                regions: vec![kowloon()],
                stores: vec![],
                customer: Some("Wing On Trading Ltd".into()),
                // Asked on 20 Nov: "this month" is not over.
                to_date: true,
                previous: Period {
                    start: date(2026, 10, 1),
                    end: date(2026, 10, 20),
                },
                as_of,
            },
        ),
        (
            "sales_store_none",
            Content::Sales {
                summary: summary(date(2026, 11, 16), date(2026, 11, 22), "0", 0, vec![]),
                regions: vec![],
                stores: vec![mong_kok()],
                customer: None,
                to_date: false,
                previous: Period {
                    start: date(2026, 11, 9),
                    end: date(2026, 11, 15),
                },
                as_of,
            },
        ),
        (
            "top_items",
            Content::TopItems {
                period: Period {
                    start: date(2026, 10, 1),
                    end: date(2026, 10, 31),
                },
                items: top_items(),
                regions: vec![kowloon()],
                stores: vec![],
                to_date: false,
                previous: Period {
                    start: date(2026, 9, 1),
                    end: date(2026, 9, 30),
                },
                rank_by: RankBy::Revenue,
                as_of,
            },
        ),
        (
            "top_items_store_by_quantity_beyond_the_card",
            Content::TopItems {
                period: Period {
                    start: date(2026, 11, 30),
                    end: date(2026, 12, 2),
                },
                items: top_items(),
                regions: vec![],
                stores: vec![mong_kok()],
                to_date: true,
                previous: Period {
                    start: date(2026, 11, 23),
                    end: date(2026, 11, 25),
                },
                rank_by: RankBy::Quantity,
                as_of,
            },
        ),
        (
            "not_found_customer",
            Content::NotFound(NotFound::Customer {
                text: "Blue Sky Travl Agency".into(),
                suggestions: vec!["Blue Sky Travel Agency Ltd.".into()],
                question: "sales to Blue Sky Travl Agency this year".into(),
            }),
        ),
        (
            "top_items_none",
            Content::TopItems {
                period: Period {
                    start: date(2026, 12, 28),
                    end: date(2027, 1, 3),
                },
                items: vec![],
                regions: vec![],
                stores: vec![],
                to_date: false,
                previous: Period {
                    start: date(2026, 12, 21),
                    end: date(2026, 12, 27),
                },
                rank_by: RankBy::Revenue,
                as_of,
            },
        ),
        (
            "order_shipped",
            Content::Order {
                order: Order {
                    number: "SO-2026-00123".into(),
                    customer: "Wing On Trading Ltd".into(),
                    store: mong_kok(),
                    order_date: date(2026, 11, 18),
                    state: OrderState::Shipped,
                    delivery_date: Some(date(2026, 11, 23)),
                    lines: vec![
                        OrderLine {
                            item: iphone(),
                            quantity: qty("2", "pc"),
                            unit_price: hkd("8999"),
                            amount: hkd("17998"),
                        },
                        OrderLine {
                            item: paper(),
                            quantity: qty("1", "ream"),
                            unit_price: hkd("30"),
                            amount: hkd("30"),
                        },
                        OrderLine {
                            item: water(),
                            quantity: qty("48", "bottle"),
                            unit_price: hkd("3.5"),
                            amount: hkd("168"),
                        },
                    ],
                    total: hkd("18196"),
                },
                as_of,
            },
        ),
        (
            "order_draft_empty",
            Content::Order {
                order: Order {
                    number: "SO-2026-00456".into(),
                    customer: "陳記士多".into(),
                    store: store("ST-CWB", "Causeway Bay", "銅鑼灣店", "HKI"),
                    order_date: date(2026, 11, 21),
                    state: OrderState::Draft,
                    delivery_date: None,
                    lines: vec![],
                    total: hkd("0"),
                },
                as_of,
            },
        ),
        (
            "leave_own",
            Content::Leave {
                balance: leave_balance(Employee {
                    id: "E0001".into(),
                    name_en: "Mary Chan".into(),
                    name_zh: "陳美玲".into(),
                }),
                leave_type: None,
                own: true,
                as_of,
            },
        ),
        (
            "leave_other_annual",
            Content::Leave {
                balance: leave_balance(peter()),
                leave_type: Some(LeaveType::Annual),
                own: false,
                as_of,
            },
        ),
        (
            "leave_own_missing_type",
            Content::Leave {
                balance: leave_balance(peter()),
                leave_type: Some(LeaveType::Paternity),
                own: true,
                as_of,
            },
        ),
        (
            "report_up",
            Content::Report {
                last_year: false,
                current: october.clone(),
                previous: september.clone(),
                top: top_items(),
                regions: vec![],
                stores: vec![],
                to_date: false,
                daily: vec![],
                previous_daily: vec![],
                breakdown: None,
                as_of,
            },
        ),
        (
            "report_down",
            Content::Report {
                last_year: false,
                current: summary(
                    nov_start,
                    date(2026, 11, 20),
                    "86420.00",
                    3,
                    vec![store_sales(mong_kok(), "86420.00", 3)],
                ),
                previous: summary(
                    date(2026, 10, 1),
                    date(2026, 10, 20),
                    "120000.00",
                    5,
                    vec![],
                ),
                top: top_items().into_iter().take(2).collect(),
                regions: vec![kowloon(), hk_island()],
                stores: vec![],
                // Asked on 20 Nov: compared with the same days of October.
                to_date: true,
                daily: vec![],
                previous_daily: vec![],
                breakdown: None,
                as_of,
            },
        ),
        (
            "report_from_zero",
            Content::Report {
                last_year: false,
                current: summary(date(2026, 11, 16), date(2026, 11, 22), "5200", 2, vec![]),
                previous: summary(date(2026, 11, 9), date(2026, 11, 15), "0", 0, vec![]),
                top: vec![],
                regions: vec![kowloon()],
                stores: vec![],
                to_date: false,
                daily: vec![],
                previous_daily: vec![],
                breakdown: None,
                as_of,
            },
        ),
        (
            "help",
            Content::Help {
                entries: vec![
                    (
                        Intent::InventoryStock,
                        vec![
                            say(
                                locale,
                                "how many iPhone 15 Pro 256GB in stock in Kwun Tong?",
                                "iPhone 15 Pro 256GB 觀塘倉仲有幾多?",
                            ),
                            say(locale, "stock of A4 paper", "A4紙庫存"),
                        ],
                    ),
                    (
                        Intent::SalesSummary,
                        vec![say(
                            locale,
                            "sales in Kowloon last month",
                            "九龍上個月銷售額",
                        )],
                    ),
                    (
                        Intent::SalesOrderStatus,
                        vec![say(
                            locale,
                            "status of SO-2026-00123",
                            "SO-2026-00123 到咗邊?",
                        )],
                    ),
                    (
                        Intent::LeaveBalance,
                        vec![say(
                            locale,
                            "how many annual leave days do I have?",
                            "我仲有幾多日年假?",
                        )],
                    ),
                    (Intent::Help, vec!["help".into()]),
                ],
            },
        ),
        ("help_nothing_allowed", Content::Help { entries: vec![] }),
        (
            "private_note",
            Content::PrivateNote {
                intent: Intent::LeaveBalance,
            },
        ),
        (
            "private_undelivered",
            Content::PrivateUndelivered {
                intent: Intent::LeaveBalance,
            },
        ),
        (
            "deny_intent",
            Content::Deny(DenyReason::IntentNotAllowed {
                intent: Intent::SalesSummary,
                roles: vec!["store_staff".into()],
            }),
        ),
        (
            "deny_intent_no_role",
            Content::Deny(DenyReason::IntentNotAllowed {
                intent: Intent::ReportSales,
                roles: vec![],
            }),
        ),
        (
            "deny_out_of_scope",
            Content::Deny(DenyReason::OutOfScope {
                requested: hk_island(),
                allowed: vec![kowloon()],
            }),
        ),
        ("deny_others_leave", Content::Deny(DenyReason::OthersLeave)),
        (
            "unknown_user",
            Content::UnknownUser {
                user_id: "0123456789012345".into(),
            },
        ),
        (
            "not_understood",
            Content::NotUnderstood {
                text: say(locale, "what's the *weather* like?", "今日天氣點呀？"),
            },
        ),
        (
            "not_understood_empty",
            Content::NotUnderstood { text: "  ".into() },
        ),
        (
            "not_supported",
            Content::NotSupported {
                text: say(locale, "cancel SO-2026-00123", "幫我取消SO-2026-00123"),
            },
        ),
        (
            "smalltalk_greeting",
            Content::Smalltalk {
                kind: askerp::intent::Smalltalk::Greeting,
                entries: vec![(
                    Intent::InventoryStock,
                    vec![say(
                        locale,
                        "how many iPhone 15 Pro 256GB in stock?",
                        "iPhone 15 Pro 256GB 仲有幾多?",
                    )],
                )],
            },
        ),
        (
            "smalltalk_thanks",
            Content::Smalltalk {
                kind: askerp::intent::Smalltalk::Thanks,
                entries: Vec::new(),
            },
        ),
        (
            "choose_intent",
            Content::ChooseIntent {
                question: say(locale, "Kowloon last week", "九龍上星期"),
                candidates: vec![Intent::SalesSummary, Intent::ReportSales],
            },
        ),
        (
            "clarify_period",
            Content::Clarify {
                intent: Intent::SalesSummary,
                slot: "period".into(),
                question: say(locale, "sales in Kowloon?", "九龍銷售額係幾多?"),
            },
        ),
        (
            "clarify_item",
            Content::Clarify {
                intent: Intent::InventoryStock,
                slot: "item".into(),
                question: say(locale, "how many in stock in Kwun Tong?", "觀塘倉仲有幾多?"),
            },
        ),
        (
            "clarify_order",
            Content::Clarify {
                intent: Intent::SalesOrderStatus,
                slot: "order".into(),
                question: say(locale, "where is my order?", "我張單去到邊?"),
            },
        ),
        (
            "clarify_leave_type",
            Content::Clarify {
                intent: Intent::LeaveBalance,
                slot: "leave_type".into(),
                question: say(locale, "how many days do I have left?", "我仲有幾多日?"),
            },
        ),
        (
            "clarify_unknown_slot",
            Content::Clarify {
                intent: Intent::SalesTopItems,
                slot: "limit".into(),
                question: say(locale, "top items", "熱賣貨品"),
            },
        ),
        (
            "choose_employee",
            Content::ChooseEmployee {
                question: say(
                    locale,
                    "how many leave days does Wong have?",
                    "黃生仲有幾多日假?",
                ),
                candidates: vec![
                    peter(),
                    Employee {
                        id: "E2048".into(),
                        name_en: "Wong Ka Yan".into(),
                        name_zh: "王嘉欣".into(),
                    },
                    Employee {
                        id: "E3072".into(),
                        name_en: "Anthony Wong".into(),
                        name_zh: String::new(),
                    },
                ],
            },
        ),
        (
            "choose_item",
            Content::ChooseItem {
                question: say(locale, "how many iphone in stock?", "iPhone仲有幾多?"),
                candidates: (1..=7)
                    .map(|i| {
                        item(
                            &format!("IP15-{i}"),
                            &format!("iPhone 15 Model {i}"),
                            &format!("iPhone 15 型號{i}"),
                            "pc",
                        )
                    })
                    .collect(),
            },
        ),
        (
            "not_found_item",
            Content::NotFound(NotFound::Item(say(locale, "flux capacitor", "時光機"))),
        ),
        (
            "not_found_order",
            Content::NotFound(NotFound::Order("SO-2026-99999".into())),
        ),
        (
            "not_found_employee",
            Content::NotFound(NotFound::Employee(say(locale, "Tony Stark", "史達克"))),
        ),
        (
            "not_found_place",
            Content::NotFound(NotFound::Place(
                PlaceKind::Warehouse,
                say(locale, "Lantau", "大嶼山倉"),
            )),
        ),
        (
            "failure_timeout",
            Content::Failure {
                failure: Failure::ErpTimeout,
                reference: "r-7f3a9c".into(),
            },
        ),
        (
            "failure_unavailable",
            Content::Failure {
                failure: Failure::ErpUnavailable,
                reference: "r-51be02".into(),
            },
        ),
        (
            "failure_credentials",
            Content::Failure {
                failure: Failure::ErpCredentials,
                reference: "r-c4ed5e".into(),
            },
        ),
        (
            "failure_internal",
            Content::Failure {
                failure: Failure::Internal,
                reference: "r-00c0de".into(),
            },
        ),
        (
            "unsupported_picture",
            Content::Unsupported {
                msgtype: "picture".into(),
            },
        ),
        (
            "unsupported_other",
            Content::Unsupported {
                msgtype: "interactiveCard".into(),
            },
        ),
    ]
}

fn suffix(locale: Locale) -> &'static str {
    match locale {
        Locale::En => "en",
        Locale::ZhHk => "zh_hk",
        Locale::ZhCn => "zh_cn",
        Locale::Ms => "ms",
        Locale::Vi => "vi",
    }
}

/// The variant name of a content value. The match is exhaustive on purpose: a new
/// variant fails to compile here until it gets a snapshot case.
fn variant(content: &Content) -> &'static str {
    match content {
        Content::Stock { .. } => "Stock",
        Content::LowStock { .. } => "LowStock",
        Content::Sales { .. } => "Sales",
        Content::TopItems { .. } => "TopItems",
        Content::Order { .. } => "Order",
        Content::Leave { .. } => "Leave",
        Content::Report { .. } => "Report",
        Content::Help { .. } => "Help",
        Content::PrivateNote { .. } => "PrivateNote",
        Content::PrivateUndelivered { .. } => "PrivateUndelivered",
        Content::Deny(_) => "Deny",
        Content::UnknownUser { .. } => "UnknownUser",
        Content::NotUnderstood { .. } => "NotUnderstood",
        Content::Clarify { .. } => "Clarify",
        Content::ChooseEmployee { .. } => "ChooseEmployee",
        Content::ChooseItem { .. } => "ChooseItem",
        Content::NotFound(_) => "NotFound",
        Content::Failure { .. } => "Failure",
        Content::Unsupported { .. } => "Unsupported",
        Content::NotSupported { .. } => "NotSupported",
        Content::Smalltalk { .. } => "Smalltalk",
        Content::ChooseIntent { .. } => "ChooseIntent",
    }
}

const ALL_VARIANTS: [&str; 22] = [
    "NotSupported",
    "Smalltalk",
    "ChooseIntent",
    "Stock",
    "LowStock",
    "Sales",
    "TopItems",
    "Order",
    "Leave",
    "Report",
    "Help",
    "PrivateNote",
    "PrivateUndelivered",
    "Deny",
    "UnknownUser",
    "NotUnderstood",
    "Clarify",
    "ChooseEmployee",
    "ChooseItem",
    "NotFound",
    "Failure",
    "Unsupported",
];

#[test]
fn snapshots() {
    let r = renderer();
    for locale in LOCALES {
        for (name, content) in cases(locale) {
            let card = r.render(locale, &content);
            insta::assert_json_snapshot!(format!("{name}_{}", suffix(locale)), card);
        }
    }
}

#[test]
fn every_variant_has_a_case() {
    let covered: Vec<&str> = cases(Locale::En).iter().map(|(_, c)| variant(c)).collect();
    for v in ALL_VARIANTS {
        assert!(covered.contains(&v), "no snapshot case for Content::{v}");
    }
}

/// All text a card shows, for property checks.
fn all_text(card: &Card) -> String {
    let mut text = format!("{}\n{}", card.title, card.markdown);
    for b in &card.buttons {
        text.push('\n');
        text.push_str(&b.title);
        if let Some(q) = b.follow_up_text() {
            text.push('\n');
            text.push_str(&q);
        }
    }
    text
}

#[test]
fn private_notes_carry_no_figures() {
    let r = renderer();
    for locale in LOCALES {
        for intent in Intent::ALL {
            for content in [
                Content::PrivateNote { intent },
                Content::PrivateUndelivered { intent },
            ] {
                let card = r.render(locale, &content);
                let text = all_text(&card);
                assert!(
                    !text.chars().any(|c| c.is_numeric()),
                    "{intent} in {}: {text}",
                    locale.tag()
                );
            }
        }
    }
}

#[test]
fn follow_up_buttons_decode_to_questions() {
    let r = renderer();
    for locale in LOCALES {
        for (name, content) in cases(locale) {
            let card = r.render(locale, &content);
            for b in &card.buttons {
                assert!(!b.title.trim().is_empty(), "{name}: empty button title");
                if b.url.starts_with("dtmd://") {
                    let q = b.follow_up_text().unwrap_or_default();
                    assert!(
                        !q.trim().is_empty(),
                        "{name}: button {:?} sends nothing",
                        b.title
                    );
                }
            }
        }
    }
}

/// A button sends a question as the user; in every language it must be one the rules
/// understand, or pressing it would answer "I didn't get that".
#[test]
fn follow_up_questions_are_understood_in_every_language() {
    use std::sync::Arc;
    let catalog = askerp::intent::Catalog::builtin().expect("builtin catalog");
    let tz = jiff::tz::TimeZone::get("Asia/Hong_Kong").expect("tz");
    let resolver = askerp::intent::Resolver::new(Arc::new(catalog), tz.clone()).expect("resolver");
    let at = now().to_zoned(tz);
    let r = renderer();
    // Follow-ups that combine several places, or a place and a customer, name more than
    // one scope; the slots hold one, so the rules do not read them yet.
    const SEVERAL_SCOPES: [&str; 2] = ["sales_region_customer_partial", "report_down"];
    let mut failures = Vec::new();
    for locale in LOCALES {
        for (name, content) in cases(locale) {
            if SEVERAL_SCOPES.contains(&name) {
                continue;
            }
            let card = r.render(locale, &content);
            for b in &card.buttons {
                let Some(q) = b.follow_up_text() else {
                    continue;
                };
                let got = resolver.resolve(&q, &at);
                if got.intent.is_none() {
                    failures.push(format!("{} {name}: {q:?}", locale.tag()));
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "not understood:\n{}",
        failures.join("\n")
    );
}

#[test]
fn cards_are_complete_and_short_titled() {
    let r = renderer();
    let messages = Messages::builtin().expect("builtin catalogs");
    let keys: Vec<String> = messages.keys(Locale::En).map(str::to_string).collect();
    let placeholder = regex::Regex::new(r"\{[A-Za-z0-9_]+\}").expect("regex");
    for locale in LOCALES {
        for (name, content) in cases(locale) {
            let card = r.render(locale, &content);
            let text = all_text(&card);
            assert!(!card.title.trim().is_empty(), "{name}: empty title");
            assert!(card.title.chars().count() <= 40, "{name}: long title");
            assert!(card.markdown.starts_with("### "), "{name}: no heading");
            assert!(card.buttons.len() <= 8, "{name}: too many buttons");
            assert!(
                !placeholder.is_match(&text),
                "{name}: unfilled placeholder in {text}"
            );
            for key in &keys {
                assert!(
                    !text.contains(key.as_str()),
                    "{name}: raw key {key} in {text}"
                );
            }
            assert!(!text.contains("|"), "{name}: looks like a table");
        }
    }
}

#[test]
fn chinese_cards_use_chinese_names() {
    let r = renderer();
    for (name, content) in cases(Locale::ZhHk) {
        let text = all_text(&r.render(Locale::ZhHk, &content));
        for english in [
            "Kwun Tong",
            "Tsuen Wan",
            "Kowloon",
            "Black",
            "Copy Paper",
            "Mineral Water",
        ] {
            assert!(
                !text.contains(english),
                "{name}: English name {english:?} in {text}"
            );
        }
    }
}

#[test]
fn odd_values_never_panic() {
    let r = renderer();
    let blank_item = item("", "", "", "");
    let blank_place = place(PlaceKind::Warehouse, "", "", "", None);
    let huge = Money {
        amount: Decimal::MAX,
        currency: "HKD".into(),
    };
    let tiny = Money {
        amount: Decimal::MIN,
        currency: "".into(),
    };
    let weird_summary = SalesSummary {
        start: date(2026, 12, 31),
        end: date(2026, 1, 1),
        total: huge.clone(),
        orders: u64::MAX,
        by_store: vec![StoreSales {
            store: blank_place.clone(),
            total: tiny.clone(),
            orders: 1,
        }],
    };
    let contents = vec![
        Content::Stock {
            query: String::new(),
            warehouse: Some(blank_place.clone()),
            lines: vec![
                StockLine {
                    item: blank_item.clone(),
                    warehouse: blank_place.clone(),
                    on_hand: Quantity {
                        value: Decimal::MAX,
                        unit: "pc".into(),
                    },
                    reserved: qty("1", "box"),
                    available: Quantity {
                        value: Decimal::MAX,
                        unit: "pc".into(),
                    },
                    reorder_level: qty("0", ""),
                },
                StockLine {
                    item: blank_item.clone(),
                    warehouse: blank_place.clone(),
                    on_hand: Quantity {
                        value: Decimal::MAX,
                        unit: "pc".into(),
                    },
                    reserved: qty("-1", "pc"),
                    available: Quantity {
                        value: Decimal::MAX,
                        unit: "pc".into(),
                    },
                    reorder_level: qty("0", "pc"),
                },
            ],
            warehouses: vec![blank_place.clone(), blank_place.clone()],
            as_of: Timestamp::MAX,
        },
        Content::Sales {
            summary: weird_summary.clone(),
            regions: vec![blank_place.clone()],
            stores: vec![],
            customer: Some("  ".into()),
            to_date: true,
            previous: Period {
                start: date(2026, 12, 31),
                end: date(2026, 1, 1),
            },
            as_of: Timestamp::MIN,
        },
        Content::Report {
            last_year: false,
            current: weird_summary.clone(),
            previous: SalesSummary {
                total: tiny.clone(),
                ..weird_summary.clone()
            },
            top: vec![],
            regions: vec![],
            stores: vec![],
            to_date: true,
            daily: vec![],
            previous_daily: vec![],
            breakdown: None,
            as_of: Timestamp::UNIX_EPOCH,
        },
        Content::Report {
            last_year: false,
            current: SalesSummary {
                total: Money {
                    amount: dec("-10"),
                    currency: "HKD".into(),
                },
                ..weird_summary.clone()
            },
            previous: SalesSummary {
                total: hkd("0"),
                ..weird_summary.clone()
            },
            top: vec![],
            regions: vec![],
            stores: vec![],
            to_date: true,
            daily: vec![],
            previous_daily: vec![],
            breakdown: None,
            as_of: Timestamp::UNIX_EPOCH,
        },
        Content::Report {
            last_year: false,
            current: weird_summary.clone(),
            previous: SalesSummary {
                total: Money {
                    amount: dec("1"),
                    currency: "USD".into(),
                },
                ..weird_summary.clone()
            },
            top: vec![],
            regions: vec![],
            stores: vec![],
            to_date: true,
            daily: vec![],
            previous_daily: vec![],
            breakdown: None,
            as_of: Timestamp::UNIX_EPOCH,
        },
        Content::Help {
            entries: vec![
                (Intent::Help, vec![]),
                (Intent::InventoryStock, vec![" ".into()]),
            ],
        },
        Content::Clarify {
            intent: Intent::Help,
            slot: String::new(),
            question: "???".into(),
        },
        Content::ChooseEmployee {
            question: String::new(),
            candidates: vec![],
        },
        Content::ChooseItem {
            question: String::new(),
            candidates: vec![blank_item.clone()],
        },
        Content::Failure {
            failure: Failure::Internal,
            reference: String::new(),
        },
        Content::Unsupported {
            msgtype: "other".into(),
        },
        Content::Unsupported {
            msgtype: String::new(),
        },
        Content::Deny(DenyReason::OutOfScope {
            requested: blank_place.clone(),
            allowed: vec![],
        }),
        Content::UnknownUser {
            user_id: "`rm -rf`\n# hi".into(),
        },
    ];
    for locale in LOCALES {
        for content in &contents {
            let card = r.render(locale, content);
            assert!(!card.title.is_empty());
            assert!(!card.markdown.is_empty());
            // A report's chart draws whatever the values (negative, zero, odd dates).
            if let Some(data) = r.chart(locale, content) {
                askerp::card::chart::render_png(&data).expect("chart");
            }
        }
    }
}

/// A ranking longer than a card shows says how much of it is shown, in every language.
#[test]
fn a_long_ranking_says_how_much_is_shown() {
    let r = renderer();
    let items: Vec<TopItem> = (0..37)
        .map(|i| TopItem {
            item: item(&format!("SKU-{i:02}"), &format!("Item {i}"), "", "pc"),
            quantity: qty(&(100 - i).to_string(), "pc"),
            revenue: hkd(&(1000 - i).to_string()),
        })
        .collect();
    let content = Content::TopItems {
        period: Period {
            start: date(2026, 11, 1),
            end: date(2026, 11, 30),
        },
        items,
        regions: vec![],
        stores: vec![],
        to_date: false,
        previous: Period {
            start: date(2026, 10, 1),
            end: date(2026, 10, 31),
        },
        rank_by: RankBy::Quantity,
        as_of: Timestamp::UNIX_EPOCH,
    };
    let expected = [
        (Locale::En, "Showing 20 of 37"),
        (Locale::ZhHk, "顯示 37 項中嘅 20 項"),
        (Locale::ZhCn, "显示 37 项中的 20 项"),
        (Locale::Ms, "Menunjukkan 20 daripada 37"),
        (Locale::Vi, "Hiển thị 20 trên 37"),
    ];
    for (locale, text) in expected {
        let card = r.render(locale, &content);
        assert!(
            card.markdown.contains(text),
            "{locale:?}: {}",
            card.markdown
        );
        assert!(card.markdown.contains("20. "), "{locale:?}: twenty rows");
        assert!(!card.markdown.contains("21. "), "{locale:?}: not more");
    }
}
