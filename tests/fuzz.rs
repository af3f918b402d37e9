//! Random-input targets and properties: whatever arrives (a callback body, a Stream frame,
//! a card callback, any text, a model's answer, a configuration file), nothing panics or
//! hangs; and what the bot prints can be read back (every period on a card parses to the
//! same period, money keeps its digits, an order number keeps its shape).
//!
//! Each target is a proptest property. CI runs the default number of cases (a short,
//! bounded run); for a longer run raise it, e.g.
//! `PROPTEST_CASES=200000 cargo test --release --test fuzz`.
//! These are random, not coverage-guided, inputs; the generators are shaped after the
//! real payloads so most cases reach past the first parse. The coverage-guided targets
//! of the same boundaries are in `fuzz/` (AFL++, `scripts/fuzz`).

use std::time::{Duration, Instant};

use askerp::card::format;
use askerp::intent::{Locale, Period, Resolver};
use jiff::Zoned;
use jiff::civil::Date;
use proptest::prelude::*;
use serde_json::{Value, json};

fn resolver() -> &'static Resolver {
    static RESOLVER: std::sync::LazyLock<Resolver> = std::sync::LazyLock::new(|| {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap_or_else(|e| panic!("runtime: {e}"));
        rt.block_on(askerp::setup::resolver(&askerp::config::Config::default()))
            .unwrap_or_else(|e| panic!("resolver: {e}"))
    });
    &RESOLVER
}

fn now() -> Zoned {
    "2026-12-02T10:00:00+08:00[Asia/Hong_Kong]"
        .parse()
        .unwrap_or_else(|e| panic!("{e}"))
}

/// Text the way people type it: words of every script the bot serves, digits, order
/// numbers, punctuation, emoji, control characters and odd whitespace, mixed.
fn message() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("iPhone 15 Pro 256GB".to_string()),
        Just("觀塘".to_string()),
        Just("旺角店".to_string()),
        Just("上個月".to_string()),
        Just("销售额".to_string()),
        Just("仲有幾多".to_string()),
        Just("stock".to_string()),
        Just("sales last week".to_string()),
        Just("top 10".to_string()),
        Just("bao nhiêu".to_string()),
        Just("jualan bulan lepas".to_string()),
        Just("SO-2026-00123".to_string()),
        Just("2026-11-01 to 2026-11-15".to_string()),
        Just("年假".to_string()),
        Just("@ERP助手".to_string()),
        "[0-9]{1,12}",
        "[a-zA-Z]{1,12}",
        "\\PC{1,8}",
        "[\\x00-\\x1f\\u{200b}\\u{feff}\\u{3000}]{1,4}",
        "[💰📦🙏]{1,3}",
    ];
    proptest::collection::vec(piece, 0..12).prop_map(|ps| ps.join(" "))
}

/// A JSON value of any shape, a few levels deep.
fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>().prop_map(|f| json!(f)),
        "\\PC{0,40}".prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 32, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            proptest::collection::btree_map("[a-zA-Z]{1,12}", inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// A robot message with each field either right, missing, of the wrong type or odd.
fn robot_message() -> impl Strategy<Value = Value> {
    let field = |good: Value| {
        prop_oneof![
            3 => Just(Some(good)),
            1 => Just(None),
            1 => any_json().prop_map(Some),
        ]
    };
    (
        field(json!("msg1")),
        field(json!("text")),
        message().prop_map(|t| json!({ "content": t })),
        field(json!("2")),
        field(json!("cid==")),
        field(json!("demo.staff")),
        field(json!(
            "https://oapi.dingtalk.com/robot/sendBySession?session=x"
        )),
        field(json!(1_764_640_000_000_i64)),
        field(json!([{ "dingtalkId": "$:LWCP_v1:$bot" }, { "staffId": "demo.hr" }])),
        field(json!({ "downloadCode": "d", "recognition": "stock?" })),
    )
        .prop_map(
            |(id, kind, text, ctype, cid, staff, hook, expires, at, content)| {
                let mut m = serde_json::Map::new();
                let mut put = |k: &str, v: Option<Value>| {
                    if let Some(v) = v {
                        m.insert(k.to_string(), v);
                    }
                };
                put("msgId", id);
                put("msgtype", kind);
                put("text", Some(text));
                put("conversationType", ctype);
                put("conversationId", cid);
                put("senderStaffId", staff);
                put("sessionWebhook", hook);
                put("sessionWebhookExpiredTime", expires);
                put("atUsers", at);
                put("content", content);
                Value::Object(m)
            },
        )
}

fn period_in(lo: Date, days: i32) -> impl Strategy<Value = Period> {
    (0..days, 0..400i32).prop_map(move |(a, len)| {
        let start = lo.checked_add(jiff::Span::new().days(a)).unwrap_or(lo);
        let end = start
            .checked_add(jiff::Span::new().days(len))
            .unwrap_or(start);
        Period { start, end }
    })
}

const LOCALES: [Locale; 5] = [
    Locale::En,
    Locale::ZhHk,
    Locale::ZhCn,
    Locale::Ms,
    Locale::Vi,
];

proptest! {
    #![proptest_config(ProptestConfig { failure_persistence: None, ..ProptestConfig::default() })]

    /// Any text: resolved without a panic, quickly.
    #[test]
    fn the_resolver_takes_any_text(text in message()) {
        let started = Instant::now();
        let _ = resolver().resolve(&text, &now());
        prop_assert!(started.elapsed() < Duration::from_millis(500), "slow: {text:?}");
    }

    /// Any characters at all (not only the shaped ones), including very long input.
    #[test]
    fn the_resolver_takes_any_characters(text in "\\PC{0,600}") {
        let _ = resolver().resolve(&text, &now());
    }

    /// Callback bodies: any bytes, and robot messages with fields wrong in every way.
    #[test]
    fn callback_bodies_never_panic(raw in proptest::collection::vec(any::<u8>(), 0..300), msg in robot_message()) {
        if let Ok(m) = serde_json::from_slice::<askerp::dingtalk::RobotMessage>(&raw) {
            let _ = m.into_inbound();
        }
        let bytes = serde_json::to_vec(&msg).unwrap_or_default();
        if let Ok(m) = serde_json::from_slice::<askerp::dingtalk::RobotMessage>(&bytes) {
            let inbound = m.into_inbound();
            // A conversation is 1:1 only when DingTalk says so.
            if msg.get("conversationType") != Some(&json!("1")) {
                prop_assert_eq!(inbound.conversation, askerp::channel::Conversation::Group);
            }
        }
    }

    /// Stream frames and card callbacks: any JSON in every field.
    #[test]
    fn frames_and_card_callbacks_never_panic(v in any_json(), data in any_json(), content in any_json()) {
        if let Ok(f) = serde_json::from_value::<askerp::dingtalk::stream::Frame>(v.clone()) {
            let _ = f.data_text();
            let _ = f.header("topic");
        }
        let frame = json!({"specVersion": "1.0", "type": "CALLBACK", "headers": {"topic": "/v1.0/im/bot/messages/get"}, "data": data});
        if let Ok(f) = serde_json::from_value::<askerp::dingtalk::stream::Frame>(frame) {
            let _ = serde_json::from_str::<askerp::dingtalk::RobotMessage>(&f.data_text());
        }
        let cb = json!({"outTrackId": "askerp-1", "userId": "demo.staff", "content": content});
        if let Ok(c) = serde_json::from_value::<askerp::dingtalk::cards::CardCallback>(cb) {
            let _ = c.press();
        }
        if let Ok(c) = serde_json::from_value::<askerp::dingtalk::cards::CardCallback>(v) {
            let _ = c.press();
        }
    }

    /// A model's answer of any shape: validated without a panic, and whatever survives
    /// validation and grounding names only what is known or what the user wrote.
    #[test]
    fn any_model_answer_is_validated_safely(v in any_json(), slots in proptest::collection::btree_map(
        prop_oneof![Just("item"), Just("customer"), Just("region"), Just("store"), Just("warehouse"), Just("employee"), Just("order"), Just("period"), Just("limit"), Just("leave_type")],
        any_json(), 0..5), intent in prop_oneof![Just("inventory.stock"), Just("sales.summary"), Just("leave.balance"), Just("sales.order_status"), Just("none"), Just("x")]) {
        let catalog = resolver().catalog();
        let today = now().date();
        let _ = askerp::intent::llm::validate(&v, catalog, today, 200);
        let answer = json!({"intent": intent, "slots": slots});
        if let Ok(Some((_, mut s))) = askerp::intent::llm::validate(&answer, catalog, today, 200) {
            let said = "how many in stock";
            resolver().ground(&mut s, said);
            for name in [&s.item, &s.customer, &s.employee, &s.order].into_iter().flatten() {
                prop_assert!(!name.contains("8888") || said.contains(name.as_str()), "{name}");
            }
        }
    }

    /// Configuration files of any content: an error or a configuration, never a panic.
    #[test]
    fn any_config_text_is_loaded_or_refused(text in "\\PC{0,200}", key in "[a-z_]{1,12}", value in any_json()) {
        let _ = askerp::config::Config::from_toml(&text);
        let section = format!("[server]\n{key} = {value}\n[dingtalk]\n{key} = {value}\n");
        if let Ok(c) = askerp::config::Config::from_toml(&section) {
            let _ = c.validate();
        }
    }

    /// Every period the bot prints, in every language, reads back as the same period.
    #[test]
    fn every_printed_period_parses_back(p in period_in(Date::constant(2024, 1, 1), 1400)) {
        let today = Date::constant(2027, 12, 31);
        for locale in LOCALES {
            let printed = format::period(locale, &p);
            let back = askerp::intent::period::find_period(&printed, today);
            prop_assert_eq!(back, Some(p), "{:?} printed {:?}", locale, printed);
        }
    }

    /// Money keeps its digits and its sign in every language.
    #[test]
    fn money_keeps_its_digits(cents in -10_000_000_000i64..10_000_000_000i64) {
        let amount = rust_decimal::Decimal::new(cents, 2);
        let m = askerp::erp::Money { amount, currency: "HKD".into() };
        for locale in LOCALES {
            let shown = format::money(locale, &m);
            let digits: String = shown.chars().filter(char::is_ascii_digit).collect();
            let want: String = format!("{:.2}", amount.abs()).chars().filter(char::is_ascii_digit).collect();
            prop_assert_eq!(digits.trim_start_matches('0'), want.trim_start_matches('0'), "{:?}: {}", locale, shown);
            prop_assert_eq!(shown.contains('-') || shown.contains('−'), cents < 0, "{:?}: {}", locale, shown);
        }
    }

    /// Order numbers keep their shape: asked about in any of the usual ways, the order
    /// slot is the number as the ERP writes it.
    #[test]
    fn order_numbers_keep_their_shape(n in 1u32..99_999, year in 2020u32..2030, style in 0usize..4, ask in 0usize..4) {
        let number = match style {
            0 => format!("SO-{year}-{n:05}"),
            // Compact with three digits (`SO2026001`, a real ERP's numbering); with five
            // it is the demo's own `SO-2026-00123` written without dashes, and is meant
            // to be read as that.
            1 => format!("SO{year}{:03}", n % 1000),
            2 => format!("S{n:05}"),
            _ => format!("SO-{n:05}"),
        };
        let text = match ask {
            0 => format!("status of {number}"),
            1 => format!("{number} 張單去到邊?"),
            2 => format!("订单 {number} 的状态"),
            _ => format!("tình trạng đơn hàng {number}"),
        };
        let r = resolver().resolve(&text, &now());
        prop_assert_eq!(r.slots.order.as_deref(), Some(number.as_str()), "{}", text);
    }
}
