//! The intent catalog as tests: every example and counter-example in `intents/` must
//! resolve as its file says, the embedded catalog must equal the files on disk, and broken
//! catalogs must be rejected with every problem named.

use std::path::Path;
use std::sync::Arc;

use askerp::intent::{Catalog, CatalogError, Intent, LeaveType, Locale, Resolver, Source};
use jiff::Zoned;
use jiff::tz::TimeZone;

fn hong_kong() -> TimeZone {
    TimeZone::get("Asia/Hong_Kong").unwrap_or(TimeZone::UTC)
}

/// The resolver as `askerp resolve` builds it: the built-in catalog with the demo ERP's
/// vocabulary (places, items, customers, staff) and the demo directory.
fn resolver() -> Resolver {
    static RESOLVER: std::sync::LazyLock<Resolver> = std::sync::LazyLock::new(|| {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap_or_else(|e| panic!("runtime: {e}"));
        rt.block_on(askerp::setup::resolver(&askerp::config::Config::default()))
            .unwrap_or_else(|e| panic!("resolver: {e}"))
    });
    RESOLVER.clone()
}

/// A resolver that knows no vocabulary (what a connector that lists nothing gives).
#[allow(dead_code)]
fn bare_resolver() -> Resolver {
    let catalog = Catalog::builtin().unwrap_or_else(|e| panic!("builtin catalog: {e}"));
    Resolver::new(Arc::new(catalog), hong_kong()).unwrap_or_else(|e| panic!("resolver: {e}"))
}

fn now() -> Zoned {
    "2026-11-21T10:00:00+08:00[Asia/Hong_Kong]"
        .parse()
        .unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn every_example_resolves_as_written() {
    let report = resolver().test_examples();
    println!("{report}");
    assert!(
        report.examples >= 80,
        "too few examples: {}",
        report.examples
    );
    assert!(report.passed(), "{report}");
}

#[test]
fn catalog_has_enough_examples_per_intent_and_language() {
    let catalog = Catalog::builtin().unwrap_or_else(|e| panic!("{e}"));
    for def in &catalog.intents {
        let en = def
            .examples
            .iter()
            .filter(|e| Locale::detect(&e.text) == Locale::En)
            .count();
        let zh = def.examples.len() - en;
        assert!(
            def.examples.len() >= 10,
            "{}: only {} examples",
            def.intent,
            def.examples.len()
        );
        assert!(en >= 3 && zh >= 3, "{}: {en} en / {zh} zh", def.intent);
        for lang in [Locale::En, Locale::ZhHk] {
            let help = catalog.examples(def.intent, lang);
            assert!(
                (1..=3).contains(&help.len()),
                "{} {lang:?}: {help:?}",
                def.intent
            );
        }
    }
}

#[test]
fn files_on_disk_equal_the_embedded_catalog() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("intents");
    let disk = Catalog::load_dir(&dir).unwrap_or_else(|e| panic!("{e}"));
    let builtin = Catalog::builtin().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(disk.content_hash(), builtin.content_hash());
    assert_eq!(disk, builtin);
    let hash = builtin.content_hash();
    assert_eq!(hash.len(), 64);
    assert!(hash.chars().all(|c| c.is_ascii_hexdigit()));
}

#[test]
fn sensitivity_comes_from_the_file() {
    use askerp::intent::Sensitivity;
    let catalog = Catalog::builtin().unwrap_or_else(|e| panic!("{e}"));
    for intent in Intent::ALL {
        let def = catalog
            .def(intent)
            .unwrap_or_else(|| panic!("{intent} missing"));
        let want = if intent == Intent::LeaveBalance {
            Sensitivity::Personal
        } else {
            Sensitivity::Internal
        };
        assert_eq!(def.sensitivity, want, "{intent}");
    }
}

#[test]
fn resolution_shape_matches_the_cli_contract() {
    let r = resolver();
    let res = r.resolve("@ERP助手 維他檸檬茶 觀塘倉仲有幾多?", &now());
    assert_eq!(res.intent, Some(Intent::InventoryStock));
    assert_eq!(res.source, Some(Source::Rule));
    assert_eq!(res.locale, Locale::ZhHk);
    assert!(res.rule.is_some());
    let json = serde_json::to_value(&res).unwrap_or_default();
    assert_eq!(
        json,
        serde_json::json!({
            "intent": "inventory.stock",
            "slots": {"item": "維他檸檬茶", "warehouse": "觀塘"},
            "source": "rule",
            "locale": "zh-HK"
        })
    );

    let res = r.resolve("sales last month in Kowloon", &now());
    let json = serde_json::to_value(&res).unwrap_or_default();
    assert_eq!(
        json,
        serde_json::json!({
            "intent": "sales.summary",
            "slots": {"region": "Kowloon", "period": {"start": "2026-10-01", "end": "2026-10-31"}},
            "source": "rule",
            "locale": "en"
        })
    );

    let res = r.resolve("what's the weather tomorrow", &now());
    let json = serde_json::to_value(&res).unwrap_or_default();
    assert_eq!(
        json,
        serde_json::json!({"intent": null, "slots": {}, "source": null, "locale": "en"})
    );
    // The mention does not make an English question Chinese.
    let res = r.resolve("@ERP助手 help", &now());
    assert_eq!(res.locale, Locale::En);
}

#[test]
fn now_is_taken_in_the_company_time_zone() {
    let r = resolver();
    // 23:30 UTC on 31 October is already 1 November in Hong Kong.
    let late: Zoned = "2026-10-31T23:30:00+00:00[UTC]"
        .parse()
        .unwrap_or_else(|e| panic!("{e}"));
    let res = r.resolve("sales last month", &late);
    let p = res.slots.period.unwrap_or_else(|| panic!("no period"));
    assert_eq!(p.start.to_string(), "2026-10-01");
    assert_eq!(p.end.to_string(), "2026-10-31");
}

#[test]
fn leave_types_and_people() {
    let r = resolver();
    let res = r.resolve("how much maternity leave does Carmen Lau have left", &now());
    assert_eq!(res.intent, Some(Intent::LeaveBalance));
    assert_eq!(res.slots.employee.as_deref(), Some("Carmen Lau"));
    assert_eq!(res.slots.leave_type, Some(LeaveType::Maternity));
    let res = r.resolve("@陳大文 仲有幾多日年假", &now());
    assert_eq!(res.slots.employee.as_deref(), Some("陳大文"));
}

#[test]
fn explain_shows_candidates_and_the_winner() {
    let r = resolver();
    let ex = r.explain("上個月九龍區營業額有幾多?", &now());
    let text = ex.to_string();
    // Every cue and entity that counted, the scores, the winner and the runner-up.
    assert!(text.contains("\"营业额\" +3"), "{text}");
    assert!(text.contains("entity:period"), "{text}");
    assert!(text.contains("winner:      sales.summary"), "{text}");
    assert!(text.contains("runner-up:"), "{text}");
    assert!(
        text.contains("last_month") || text.contains("2026-10-01"),
        "{text}"
    );
    assert!(ex.scores.len() >= 2);

    let ex = r.explain("what's the weather tomorrow", &now());
    assert!(ex.resolution.intent.is_none(), "{ex}");
    assert!(ex.to_string().contains("winner:      none"), "{ex}");
}

#[test]
fn nothing_panics_on_odd_input() {
    let r = resolver();
    let long_word = "a".repeat(100_000);
    let long_han = "幾多".repeat(300);
    let inputs = [
        "",
        " ",
        "@",
        "@ERP助手",
        "？？？",
        "🙂",
        "👨‍👩‍👧‍👦 stock of 🍋",
        "\u{0}\u{1}\u{7f}",
        "\u{200b}\u{feff}",
        "SO-",
        "top 99999999999999999999 items",
        "top 0 items",
        "最好賣嘅一百零五樣貨品",
        "Q9 sales",
        "第九季營業額",
        "13月營業額",
        "last 99999 days sales",
        long_word.as_str(),
        long_han.as_str(),
        "how many how many how many in stock in stock in in in",
        "(?P<item>.*)",
        "{{ask_en}}",
        "\\d+",
    ];
    for input in inputs {
        let res = r.resolve(input, &now());
        let _ = serde_json::to_string(&res);
        let _ = r.explain(input, &now()).to_string();
    }
    // Arbitrary unicode, deterministic "random" text.
    let mut seed = 0x2545_f491_u32;
    for _ in 0..300 {
        let s: String = (0..40)
            .map(|_| {
                seed ^= seed << 13;
                seed ^= seed >> 17;
                seed ^= seed << 5;
                char::from_u32(seed % 0x3_0000).unwrap_or('?')
            })
            .collect();
        let _ = r.resolve(&s, &now());
    }
}

#[test]
fn zero_limit_is_not_a_top_list() {
    let r = resolver();
    let res = r.resolve("top 0 items", &now());
    assert_ne!(res.slots.limit, Some(0));
}

/// "门店" is the everyday word for a shop: a two-character place one character away
/// ("屯门") before "店" must not be read into it, while a real misspelling before a
/// designator still is.
#[test]
fn the_word_for_shop_is_not_a_misspelt_place() {
    let r = resolver();
    let res = r.resolve("客户在门店等着，蓝牙耳机TW100还有吗", &now());
    assert_eq!(res.intent, Some(Intent::InventoryStock), "{res:?}");
    assert_eq!(res.slots.warehouse, None, "{res:?}");
    assert_eq!(res.slots.store, None, "{res:?}");
    let res = r.resolve("客人喺門店等緊，iPhone 15 Pro 仲有冇", &now());
    assert_eq!(res.slots.store, None, "{res:?}");
}

fn write(dir: &Path, name: &str, text: &str) {
    std::fs::write(dir.join(name), text).unwrap_or_else(|e| panic!("{e}"));
}

#[test]
fn broken_catalogs_report_every_problem() {
    let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let dir = tmp.path();
    write(
        dir,
        "a.toml",
        r#"
version = 1
now = "2026-11-21T10:00:00+08:00"

[[order_shape]]
regex = '(so-\d+'

[words.colours]
en = ["red"]

[[intent]]
name = "inventory.stock"
sensitivity = "internal"
slots = [{ name = "item" }, { name = "colour" }]

[intent.evidence]
item = 2.0
smell = 1.0

[[intent.cues]]
weight = 500.0
en = ["stock"]

[[intent.example]]
text = "stock of x"
slots = { item = "x", shoe = "y" }

[[intent]]
name = "inventory.teleport"
sensitivity = "internal"
"#,
    );
    write(
        dir,
        "b.toml",
        r#"
version = 2

[[intent]]
name = "inventory.stock"
sensitivity = "internal"
"#,
    );
    write(dir, "c.toml", "this is = = not toml");
    write(dir, "notes.txt", "ignored");
    let err = Catalog::load_dir(dir)
        .err()
        .unwrap_or_else(|| panic!("accepted"));
    let text = err.to_string();
    let CatalogError::Invalid(problems) = &err else {
        panic!("{text}");
    };
    for needle in [
        "a.toml [order_shape]: bad regex",
        "a.toml [colours]: unknown word class",
        "a.toml [inventory.stock]: unknown slot `colour`",
        "a.toml [inventory.stock]: unknown evidence kind `smell`",
        "a.toml [inventory.stock]: cue weight 500 is not between -100 and 100",
        "a.toml [inventory.stock]: intent has no cue",
        "a.toml [inventory.stock example 1]: unknown slot `shoe`",
        "a.toml [inventory.teleport]: unknown intent name",
        "b.toml: version 2 is not supported",
        "b.toml [inventory.stock]: intent defined again (first in a.toml)",
        "c.toml: invalid TOML",
        "- [help]: intent is not defined",
        "- [leave.balance]: intent is not defined",
    ] {
        assert!(text.contains(needle), "missing `{needle}` in:\n{text}");
    }
    assert!(problems.len() >= 13, "{text}");
    assert!(!text.contains("notes.txt"));
}

#[test]
fn an_intent_without_cues_is_refused() {
    let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let dir = tmp.path();
    let builtin = Path::new(env!("CARGO_MANIFEST_DIR")).join("intents");
    for entry in std::fs::read_dir(builtin).unwrap_or_else(|e| panic!("{e}")) {
        let entry = entry.unwrap_or_else(|e| panic!("{e}"));
        let text = std::fs::read_to_string(entry.path()).unwrap_or_else(|e| panic!("{e}"));
        // Drop every cue block of the help intent.
        let text = if entry.file_name() == "help.toml" {
            text.replace("[[intent.cues]]", "[[intent.cues_removed]]")
        } else {
            text
        };
        write(dir, &entry.file_name().to_string_lossy(), &text);
    }
    let err = Catalog::load_dir(dir)
        .err()
        .unwrap_or_else(|| panic!("accepted"));
    let text = err.to_string();
    assert!(text.contains("help.toml"), "{text}");
}

#[test]
fn missing_directory_is_a_read_error() {
    let err = Catalog::load_dir(Path::new("does-not-exist-anywhere"))
        .err()
        .unwrap_or_else(|| panic!("accepted"));
    assert!(matches!(err, CatalogError::Read(_)));
}

/// The evaluation set, kept apart from the examples: the rules alone must reach the
/// project's targets, overall and in every language. The table is printed so that
/// `cargo test -- --nocapture` shows the figures `BENCHMARKS.md` records.
#[test]
fn evaluation_set_meets_the_accuracy_targets() {
    use askerp::intent::eval::{BUILTIN, Targets, evaluate, parse};
    let cases = parse(BUILTIN).unwrap_or_else(|e| panic!("{e}"));
    let report = evaluate(&resolver(), &cases);
    println!("{report}");
    for miss in &report.misses {
        println!("MISS {miss}");
    }
    let short = report.shortfalls(Targets::REQUIRED);
    assert!(short.is_empty(), "below target: {}", short.join("; "));
}

/// What a user of each language sees: the reply language follows the question, and the
/// same question in Traditional and Simplified characters, or Vietnamese with and without
/// diacritics, resolves identically.
#[test]
fn five_languages_and_their_spellings_agree() {
    let r = resolver();
    let at = now();
    let pairs = [
        ("上個月九龍區營業額", "上个月九龙区营业额"),
        ("觀塘倉維他檸檬茶仲有幾多", "观塘仓维他柠檬茶仲有几多"),
        ("doanh thu tháng trước", "doanh thu thang truoc"),
        (
            "tôi còn bao nhiêu ngày phép năm",
            "toi con bao nhieu ngay phep nam",
        ),
    ];
    for (a, b) in pairs {
        let (ra, rb) = (r.resolve(a, &at), r.resolve(b, &at));
        assert!(ra.intent.is_some(), "{a} not understood");
        assert_eq!(ra.intent, rb.intent, "{a} / {b}");
        assert_eq!(
            ra.slots.period, rb.slots.period,
            "{a} / {b}: periods differ"
        );
    }
    let locales = [
        ("how many iPhone 15 in stock", Locale::En),
        ("iPhone 15 仲有幾多貨?", Locale::ZhHk),
        ("SO-2026-00147 这张单现在什么 status?", Locale::ZhCn),
        ("berapa stok iPhone 15?", Locale::Ms),
        ("iPhone 15 con bao nhieu?", Locale::Vi),
    ];
    for (text, locale) in locales {
        assert_eq!(r.resolve(text, &at).locale, locale, "{text}");
    }
    // Names keep the script and diacritics they were written in.
    let got = r.resolve("觀塘倉維他檸檬茶仲有幾多", &at);
    assert_eq!(got.slots.warehouse.as_deref(), Some("觀塘"));
    let got = r.resolve("Bút bi Thiên Long ở kho Quán Tống còn bao nhiêu?", &at);
    assert_eq!(got.slots.item.as_deref(), Some("Bút bi Thiên Long"));
    assert_eq!(got.slots.warehouse.as_deref(), Some("Quán Tống"));
}

#[test]
fn order_numbers_are_canonical_in_every_form() {
    let r = resolver();
    for text in [
        "status of so-2026-00123",
        "ＳＯ－２０２６－００１２３到咗邊?",
        "order status SO 2026 00123",
        "status pesanan so_2026_00123",
        "trạng thái đơn hàng SO-2026-00123",
    ] {
        let got = r.resolve(text, &now());
        assert_eq!(got.intent, Some(Intent::SalesOrderStatus), "{text}");
        assert_eq!(got.slots.order.as_deref(), Some("SO-2026-00123"), "{text}");
    }
}

/// Numbers as other ERPs write them are recognised and never reshaped: Tryton's sale
/// numbers (a prefix, or its default plain sequence with a number marker), Odoo's, and
/// plain numbers after an order word.
#[test]
fn order_numbers_of_other_erps_keep_their_shape() {
    let r = resolver();
    for (text, want) in [
        ("status of SO-00056", "SO-00056"),
        ("so1001 shipped?", "SO1001"),
        ("S00042 到咗未", "S00042"),
        ("order 4500012345 status", "4500012345"),
        ("status of order #2", "2"),
        ("訂單號 2 狀態", "2"),
        ("đơn hàng số 12 thế nào", "12"),
    ] {
        let got = r.resolve(text, &now());
        assert_eq!(got.intent, Some(Intent::SalesOrderStatus), "{text}");
        assert_eq!(got.slots.order.as_deref(), Some(want), "{text}");
    }
    // Without a marker a small number is not an order ("top 5 orders").
    assert_ne!(
        r.resolve("top 5 orders last week", &now()).intent,
        Some(Intent::SalesOrderStatus)
    );
}

#[test]
fn leave_types_in_every_language() {
    let r = resolver();
    let cases = [
        ("我仲有幾多日年假", LeaveType::Annual),
        ("我还有多少天病假", LeaveType::Sick),
        ("補假仲有幾多日", LeaveType::Compensation),
        ("產假仲有幾多日", LeaveType::Maternity),
        ("侍產假仲有幾多日", LeaveType::Paternity),
        ("berapa baki cuti tahunan saya", LeaveType::Annual),
        ("berapa baki cuti sakit saya", LeaveType::Sick),
        ("berapa baki cuti bersalin saya", LeaveType::Maternity),
        ("tôi còn bao nhiêu ngày phép năm", LeaveType::Annual),
        ("toi con bao nhieu ngay nghi om", LeaveType::Sick),
        (
            "how much paternity leave do I have left",
            LeaveType::Paternity,
        ),
    ];
    for (text, expected) in cases {
        let got = r.resolve(text, &now());
        assert_eq!(got.intent, Some(Intent::LeaveBalance), "{text}");
        assert_eq!(got.slots.leave_type, Some(expected), "{text}");
        assert_eq!(got.slots.employee.as_deref(), Some("self"), "{text}");
    }
}

/// Places are matched in any of their local names and in either Chinese script.
#[test]
fn places_match_in_either_script() {
    use askerp::erp::{Place, PlaceKind, Places};
    let places = Places {
        places: vec![Place {
            code: "KT".into(),
            kind: PlaceKind::Warehouse,
            name_en: "Kwun Tong".into(),
            name_zh: "觀塘".into(),
            region: Some("KLN".into()),
            aliases: vec![],
        }],
    };
    for text in [
        "Kwun Tong",
        "觀塘",
        "观塘",
        "观塘仓",
        "觀塘倉",
        "kwun tong warehouse",
        "KT",
    ] {
        let found = places
            .find(PlaceKind::Warehouse, text)
            .map(|p| p.code.as_str());
        assert_eq!(found, Some("KT"), "{text}");
    }
    assert_eq!(places.find(PlaceKind::Warehouse, "荃湾"), None);
}

/// `askerp resolve --json --batch`: one JSON object per input line, in the shape of the
/// single form, all at the same `--now`.
#[test]
fn resolve_batch_prints_one_json_object_per_line() {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let mut child = Command::new(env!("CARGO_BIN_EXE_askerp"))
        .args([
            "resolve",
            "--json",
            "--batch",
            "--now",
            "2026-11-21T10:00:00+08:00",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn: {e}"));
    let input =
        "sales last month\n上个月九龙区销售额\n\nwhat's the weather?\ndoanh thu tháng trước\n";
    child
        .stdin
        .take()
        .unwrap_or_else(|| panic!("stdin"))
        .write_all(input.as_bytes())
        .unwrap_or_else(|e| panic!("write: {e}"));
    let out = child
        .wait_with_output()
        .unwrap_or_else(|e| panic!("wait: {e}"));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}")))
        .collect();
    assert_eq!(lines.len(), 5);
    let october = serde_json::json!({"start": "2026-10-01", "end": "2026-10-31"});
    assert_eq!(lines[0]["intent"], "sales.summary");
    assert_eq!(lines[0]["slots"]["period"], october);
    assert_eq!(lines[1]["locale"], "zh-CN");
    // The alias as written ("九龍區" is one of Kowloon's names).
    assert_eq!(lines[1]["slots"]["region"], "九龙区");
    assert_eq!(lines[2]["intent"], serde_json::Value::Null);
    assert_eq!(lines[3]["intent"], serde_json::Value::Null);
    assert_eq!(lines[4]["locale"], "vi");
    assert_eq!(lines[4]["slots"]["period"], october);
    for line in &lines {
        for key in ["intent", "slots", "source", "locale"] {
            assert!(line.get(key).is_some(), "{line} lacks {key}");
        }
    }
}

/// `askerp eval` prints the per-language table and succeeds on the built-in set.
#[test]
fn eval_command_prints_the_table() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_askerp"))
        .arg("eval")
        .output()
        .unwrap_or_else(|e| panic!("run: {e}"));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for lang in ["en", "zh-HK", "zh-CN", "ms", "vi", "mixed", "all"] {
        assert!(
            text.lines().any(|l| l.starts_with(lang)),
            "no {lang} row in\n{text}"
        );
    }
}

/// A message, the intent it must resolve to, and some of its slots (periods as `start..end`).
type WhyCase = (
    &'static str,
    Option<Intent>,
    &'static [(&'static str, &'static str)],
);

/// Every example the understanding issue lists as misunderstood resolves correctly now.
#[test]
fn the_examples_that_used_to_fail() {
    let r = resolver();
    let wed: Zoned = "2026-12-02T10:00:00+08:00[Asia/Hong_Kong]"
        .parse()
        .unwrap_or_else(|e| panic!("{e}"));
    let cases: &[WhyCase] = &[
        (
            "sales in Mong Kok for 23–29 Nov 2026",
            Some(Intent::SalesSummary),
            &[("store", "Mong Kok"), ("period", "2026-11-23..2026-11-29")],
        ),
        (
            "旺角 2026年11月23日至11月29日銷售額",
            Some(Intent::SalesSummary),
            &[("store", "旺角"), ("period", "2026-11-23..2026-11-29")],
        ),
        (
            "觀塘有咩貨低庫存?",
            Some(Intent::InventoryLowStock),
            &[("warehouse", "觀塘")],
        ),
        ("最好賣係咩?", Some(Intent::SalesTopItems), &[]),
        (
            "今個月旺角賣咗幾多?",
            Some(Intent::SalesSummary),
            &[("store", "旺角"), ("period", "2026-12-01..2026-12-31")],
        ),
        (
            "我仲有幾多日假放?",
            Some(Intent::LeaveBalance),
            &[("employee", "self")],
        ),
        (
            "这个月卖得最好的是什么?",
            Some(Intent::SalesTopItems),
            &[("period", "2026-12-01..2026-12-31")],
        ),
        (
            "how's Mong Kok doing this month?",
            Some(Intent::SalesSummary),
            &[("store", "Mong Kok")],
        ),
        (
            "what's selling best in Tsim Sha Tsui?",
            Some(Intent::SalesTopItems),
            &[("store", "Tsim Sha Tsui")],
        ),
        (
            "can I still take leave this year?",
            Some(Intent::LeaveBalance),
            &[("employee", "self")],
        ),
        (
            "còn bao nhiêu iPhone 15 Pro 256GB trong kho?",
            Some(Intent::InventoryStock),
            &[("item", "iPhone 15 Pro 256GB")],
        ),
        (
            "iPhone 15 Pro 128GB",
            Some(Intent::InventoryStock),
            &[("item", "iPhone 15 Pro 128GB")],
        ),
        (
            "iPhone 15 Pro 256GB 还有库存吗?",
            Some(Intent::InventoryStock),
            &[("item", "iPhone 15 Pro 256GB")],
        ),
        (
            "sales from 1 Nov to 15 Nov",
            Some(Intent::SalesSummary),
            &[("period", "2026-11-01..2026-11-15")],
        ),
        (
            "sales 2026-11-01 to 2026-11-15",
            Some(Intent::SalesSummary),
            &[("period", "2026-11-01..2026-11-15")],
        ),
        (
            "what were sales like yesterday in Kowloon",
            Some(Intent::SalesSummary),
            &[("region", "Kowloon"), ("period", "2026-12-01..2026-12-01")],
        ),
        (
            "sales last 4 weeks in Kowloon",
            Some(Intent::SalesSummary),
            &[("region", "Kowloon"), ("period", "2026-11-05..2026-12-02")],
        ),
        (
            "sales last weekend",
            Some(Intent::SalesSummary),
            &[("period", "2026-11-28..2026-11-29")],
        ),
        (
            "sales last mnth",
            Some(Intent::SalesSummary),
            &[("period", "2026-11-01..2026-11-30")],
        ),
        (
            "status of SO-00056",
            Some(Intent::SalesOrderStatus),
            &[("order", "SO-00056")],
        ),
        (
            "status of SO2026001",
            Some(Intent::SalesOrderStatus),
            &[("order", "SO2026001")],
        ),
        (
            "order SO1001",
            Some(Intent::SalesOrderStatus),
            &[("order", "SO1001")],
        ),
        (
            "where is S00042",
            Some(Intent::SalesOrderStatus),
            &[("order", "S00042")],
        ),
        ("Cancel sales order SO-2026-00123", None, &[]),
    ];
    for (text, intent, slots) in cases {
        let got = r.resolve(text, &wed);
        assert_eq!(got.intent, *intent, "{text}: {got:?}");
        let json = serde_json::to_value(&got.slots).unwrap_or_default();
        for (slot, want) in *slots {
            let value = match &json[*slot] {
                serde_json::Value::Object(p) => format!(
                    "{}..{}",
                    p["start"].as_str().unwrap_or(""),
                    p["end"].as_str().unwrap_or("")
                ),
                v => v.as_str().unwrap_or("").to_string(),
            };
            assert_eq!(value, *want, "{text}: slot {slot} in {json}");
        }
    }
    let action = r.resolve("Cancel sales order SO-2026-00123", &wed);
    assert_eq!(action.request, Some(askerp::intent::RequestKind::Action));
    let hi = r.resolve("hello", &wed);
    assert_eq!(hi.smalltalk, Some(askerp::intent::Smalltalk::Greeting));
    let json = serde_json::to_value(&hi).unwrap_or_default();
    assert_eq!(json["smalltalk"], "greeting");
    assert_eq!(json["intent"], serde_json::Value::Null);
}

/// A model's slot that names nothing known and that the user never wrote is dropped; a
/// known one comes back in the vocabulary's spelling.
#[test]
fn slots_from_the_model_are_grounded() {
    let r = resolver();
    let mut slots = askerp::intent::Slots {
        item: Some("iPhone 15 Pro 256GB: 4242 units available".into()),
        customer: Some("HK$8,888,888.88 total".into()),
        region: Some("kowloon".into()),
        ..Default::default()
    };
    let dropped = r.ground(&mut slots, "wie viele Stück haben wir in Kowloon");
    assert!(
        dropped.contains(&"item") && dropped.contains(&"customer"),
        "{dropped:?}"
    );
    assert_eq!(slots.item, None);
    assert_eq!(slots.customer, None);
    assert_eq!(slots.region.as_deref(), Some("Kowloon"));
}

/// The blind set (`eval/blind.jsonl`, written by people who never saw the rules) must not
/// fall below what the engine reached when it landed. These floors are a ratchet, NOT the
/// targets of the understanding issue (intent 97 %, slots 95 %, null 95 %), which are not
/// met yet; raise them as the engine improves.
#[test]
fn blind_set_does_not_regress() {
    let text =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("eval/blind.jsonl"))
            .unwrap_or_else(|e| panic!("{e}"));
    let cases = askerp::intent::eval::parse(&text).unwrap_or_else(|e| panic!("{e}"));
    assert!(cases.len() >= 840, "{}", cases.len());
    let report = askerp::intent::eval::evaluate(&resolver(), &cases);
    println!("{report}\n{}", report.confusion_table());
    assert!(report.total.intent_accuracy() >= 0.97, "{report}");
    assert!(report.total.slot_accuracy() >= 0.935, "{report}");
    assert!(
        report.null_precision() >= 0.94,
        "{}",
        report.confusion_table()
    );
    for (lang, score) in &report.languages {
        assert!(score.intent_accuracy() >= 0.93, "{lang}: {report}");
    }
}

/// Period forms found missing by the blind set's categories (not its cases): Malay "ni" for
/// "ini" and abbreviations, frequency words in every language (an explicit period beats
/// them), to-date forms, "Qn of last year", code-mixed "呢個 quarter", and a Vietnamese
/// number word inside a place name ("Causeway Bay bulan lepas" is last month).
#[test]
fn periods_in_colloquial_and_mixed_forms() {
    let r = resolver();
    let now = now();
    let period = |text: &str| {
        r.resolve(text, &now)
            .slots
            .period
            .map(|p| (p.start.to_string(), p.end.to_string()))
    };
    let p = |a: &str, b: &str| Some((a.to_string(), b.to_string()));
    let today = now.date();
    let t = today.to_string();
    let cases = [
        ("jualan Causeway Bay hari ni", p(&t, &t)),
        ("daily report Mong Kok", p(&t, &t)),
        ("laporan harian Mong Kok", p(&t, &t)),
        ("bao cao hang ngay Mong Kok", p(&t, &t)),
        (
            "top 5 barang paling laris kat Causeway Bay bulan lepas",
            p("2026-10-01", "2026-10-31"),
        ),
        (
            "báo cáo weekly tuần trước Sha Tin",
            p("2026-11-09", "2026-11-15"),
        ),
        ("jualan TST minggu lps", p("2026-11-09", "2026-11-15")),
        ("doanh thu Q3 năm ngoái", p("2025-07-01", "2025-09-30")),
        ("去年Q3港岛区销售额多少", p("2025-07-01", "2025-09-30")),
        (
            "sales report for the whole of 2025",
            p("2025-01-01", "2025-12-31"),
        ),
        (
            "Kam Lung 呢個 quarter 買咗幾多",
            p("2026-10-01", "2026-12-31"),
        ),
        (
            "quarterly report 新界 要同上季比",
            p("2026-10-01", "2026-12-31"),
        ),
        (
            "doanh số tuần này so với tuần trước",
            p("2026-11-16", "2026-11-22"),
        ),
    ];
    for (text, want) in cases {
        assert_eq!(period(text), want, "{text}");
    }
    // A comparison with a period that is not the one just before is named, not dropped.
    let got = r.resolve("sales in November vs in March", &now);
    assert_eq!(got.unsupported, vec!["compare_period".to_string()]);
    let got = r.resolve("sales last month vs the month before", &now);
    assert!(
        !got.unsupported.contains(&"compare_period".to_string()),
        "{got:?}"
    );
}

/// Noise variants of the blind set (a letter dropped or swapped in a Latin word,
/// full-width characters, an emoji, a polite opener): intent at the issue's target of
/// 93 %, slots held at what they reached (a ratchet; raise it as the engine improves).
#[test]
fn noise_variants_of_the_blind_set() {
    let text =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("eval/blind.jsonl"))
            .unwrap_or_else(|e| panic!("{e}"));
    let cases = askerp::intent::eval::parse(&text).unwrap_or_else(|e| panic!("{e}"));
    let variants = askerp::intent::noise::variants(&cases);
    assert!(variants.len() >= 3 * cases.len(), "{}", variants.len());
    let report = askerp::intent::eval::evaluate(&resolver(), &variants);
    println!("{report}");
    assert!(report.total.intent_accuracy() >= 0.93, "{report}");
    assert!(report.total.slot_accuracy() >= 0.88, "{report}");
}

/// The held-out half of the second independent set (`eval/heldout2.jsonl`), never tuned
/// on: a floor at what it measured, far below the blind set's figures, because that is
/// what questions nobody here has read look like. A ratchet, not a target.
#[test]
fn held_out_second_set_does_not_regress() {
    let text =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("eval/heldout2.jsonl"))
            .unwrap_or_else(|e| panic!("{e}"));
    let cases = askerp::intent::eval::parse(&text).unwrap_or_else(|e| panic!("{e}"));
    assert!(cases.len() >= 200, "{}", cases.len());
    let report = askerp::intent::eval::evaluate(&resolver(), &cases);
    println!("{report}\n{}", report.confusion_table());
    assert!(report.total.intent_accuracy() >= 0.91, "{report}");
    assert!(report.total.slot_accuracy() >= 0.85, "{report}");
}
