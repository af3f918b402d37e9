//! Slot values from captured text: trimming, designator words, people, leave types.
//!
//! Captures keep what the user wrote; these functions only remove what is not part of the
//! name (surrounding punctuation, "倉" in "觀塘倉", "warehouse" in "Kwun Tong warehouse",
//! "'s" in "Peter Wong's") and recognise the few closed vocabularies (leave types, "me").
//! Matching names against the ERP's own lists happens later, against the connector.

use std::sync::LazyLock;

use regex::{Regex, RegexBuilder};

use super::{LeaveType, SELF_EMPLOYEE};

/// Words that, on their own, name nothing ("total sales" must not give region "total",
/// "有冇貨" must not give item "貨").
const FILLER: [&str; 52] = [
    "the",
    "our",
    "my",
    "all",
    "any",
    "some",
    "total",
    "overall",
    "company",
    "gross",
    "net",
    "whole",
    "entire",
    "current",
    "check",
    "show",
    "we",
    "us",
    "i",
    "you",
    "weekly",
    "monthly",
    "quarterly",
    "yearly",
    "daily",
    "item",
    "items",
    "goods",
    "products",
    "stock",
    "stuff",
    "公司",
    "全公司",
    "總",
    "整體",
    "嘅",
    "的",
    "我哋",
    "我們",
    "全部",
    "所有",
    "我",
    "你",
    "佢",
    "銷售",
    "營業",
    "貨",
    "存貨",
    "現貨",
    "嘢",
    "貨品",
    "產品",
];

/// A capture that starts with one of these is a phrase, not a name ("sales by region",
/// "sales vs last month", "sales and stock").
const NOT_A_NAME_START: [&str; 8] = ["by", "vs", "vs.", "versus", "and", "or", "per", "compared"];

/// Characters that surround a name without being part of it.
const EDGE_NOISE: &str = " \t,.:;!?、，。：；「」『』【】《》\"'“”‘’()（）[]";

/// Trims surrounding punctuation and quotes and a trailing possessive (嘅/的).
fn trim_edges(s: &str) -> &str {
    let mut t = s.trim_matches(|c: char| EDGE_NOISE.contains(c));
    for suffix in ["嘅", "的"] {
        if let Some(rest) = t.strip_suffix(suffix) {
            t = rest.trim_matches(|c: char| EDGE_NOISE.contains(c));
        }
    }
    t
}

fn is_filler(s: &str) -> bool {
    let lower = s.to_lowercase();
    let first = lower.split_whitespace().next().unwrap_or_default();
    FILLER.contains(&lower.as_str()) || NOT_A_NAME_START.contains(&first)
}

/// Removes an English leading word ("the Kwun Tong" → "Kwun Tong"), case-insensitively.
fn strip_leading_word<'a>(s: &'a str, words: &[&str]) -> &'a str {
    for w in words {
        if let Some(head) = s.get(..w.len())
            && head.eq_ignore_ascii_case(w)
            && s[w.len()..].starts_with(' ')
        {
            return s[w.len()..].trim_start();
        }
    }
    s
}

/// An item name as written, or `None` if nothing but filler was captured.
pub fn clean_item(raw: &str) -> Option<String> {
    let t = trim_edges(raw);
    let t = strip_leading_word(t, &["the", "any", "some", "our"]);
    let t = trim_edges(t);
    (!t.is_empty() && !is_filler(t)).then(|| t.to_string())
}

/// Designator words dropped from the end of a place name, per slot.
fn designators(slot: &str) -> (&'static [&'static str], &'static [&'static str]) {
    match slot {
        "warehouse" => (
            &["warehouse", "wh", "godown", "depot", "dc"],
            &["倉庫", "貨倉", "倉", "仓库", "货仓", "仓"],
        ),
        "region" => (
            &["region", "district", "area"],
            &["區域", "地區", "區", "区域", "地区", "区"],
        ),
        "store" => (
            &["store", "shop", "branch", "outlet", "boutique"],
            &[
                "分店", "門市", "店舖", "店鋪", "店", "舖", "鋪", "门市", "店铺", "铺",
            ],
        ),
        _ => (&[], &[]),
    }
}

/// A warehouse, region or store name without its trailing designator word: "觀塘倉" →
/// "觀塘", "Kwun Tong warehouse" → "Kwun Tong", "九龍區" → "九龍". A one-character Chinese
/// remainder keeps its designator, because "東區" (Eastern District) is a name, not "東".
pub fn clean_place(slot: &str, raw: &str) -> Option<String> {
    let t = trim_edges(raw);
    let t = strip_leading_word(t, &["the"]);
    let (english, chinese) = designators(slot);
    let mut out = t;
    let lower = t.to_ascii_lowercase();
    let mut done = false;
    for w in english {
        if lower.len() > w.len() + 1
            && lower.ends_with(w)
            && lower[..lower.len() - w.len()].ends_with(' ')
        {
            out = t[..t.len() - w.len()].trim_end();
            done = true;
            break;
        }
    }
    if !done {
        for w in chinese {
            if let Some(rest) = t.strip_suffix(w) {
                let rest = rest.trim_end();
                let han_count = rest.chars().filter(|c| super::is_han(*c)).count();
                let single_han = han_count == 1 && rest.chars().count() == 1;
                if !rest.is_empty() && !single_han {
                    out = rest;
                }
                break;
            }
        }
    }
    let out = trim_edges(out);
    (!out.is_empty() && !is_filler(out)).then(|| out.to_string())
}

/// A customer name as written, without a leading "customer"/"客戶".
pub fn clean_customer(raw: &str) -> Option<String> {
    let t = trim_edges(raw);
    let t = strip_leading_word(t, &["customer", "client", "the"]);
    let t = ["客戶", "客人", "顧客", "客户"]
        .iter()
        .find_map(|p| t.strip_prefix(p))
        .unwrap_or(t);
    let t = trim_edges(t);
    (!t.is_empty() && !is_filler(t)).then(|| t.to_string())
}

/// An order number as written, trimmed.
/// An order number in its canonical form: "so 2026 00123", "so_2026_00123" and
/// "ＳＯ－２０２６－００１２３" all become "SO-2026-00123", the form the ERP prints, so that
/// the cache, the audit log and the connector see one spelling. Numbers of another shape
/// are kept as written.
pub fn clean_order(raw: &str) -> Option<String> {
    let t = trim_edges(raw).trim_start_matches('#');
    if t.is_empty() {
        return None;
    }
    Some(canonical_order(t).unwrap_or_else(|| t.to_string()))
}

/// `PREFIX-YEAR-SEQ` from a prefix of letters and two digit groups separated by nothing,
/// a space, a hyphen or an underscore; `None` for any other shape.
fn canonical_order(t: &str) -> Option<String> {
    let letters: String = t.chars().take_while(char::is_ascii_alphabetic).collect();
    let rest = &t[letters.len()..];
    let digits: Vec<&str> = rest
        .split([' ', '-', '_'])
        .filter(|p| !p.is_empty())
        .collect();
    if letters.is_empty() || !digits.iter().all(|d| d.chars().all(|c| c.is_ascii_digit())) {
        return None;
    }
    let joined: String = digits.concat();
    match digits.as_slice() {
        [year, seq] if year.len() == 4 => {
            Some(format!("{}-{year}-{seq}", letters.to_ascii_uppercase()))
        }
        [_] if joined.len() > 4 => Some(format!(
            "{}-{}-{}",
            letters.to_ascii_uppercase(),
            &joined[..4],
            &joined[4..]
        )),
        _ => None,
    }
}

/// Who a leave question is about: `Ok(Some("self"))` for the asker, `Ok(Some(name))` for
/// a colleague, `Err(reason)` when the capture cannot be a person the bot can look up
/// ("he", "佢", or a phrase that is plainly not a name).
pub fn clean_employee(raw: &str) -> Result<Option<String>, String> {
    const SELF_WORDS: [&str; 22] = [
        "i",
        "me",
        "my",
        "myself",
        "mine",
        "my own",
        "we",
        "我",
        "我自己",
        "自己",
        "本人",
        "我嘅",
        "我的",
        "saya",
        "aku",
        "saya sendiri",
        "tôi",
        "toi",
        "mình",
        "minh",
        "em",
        "của tôi",
    ];
    const PRONOUNS: [&str; 18] = [
        "he", "she", "him", "her", "his", "they", "them", "their", "you", "your", "it", "佢",
        "佢哋", "他", "她", "他們", "你", "你哋",
    ];
    let mut t = trim_edges(raw);
    // "HR: 陳大文" — a label before a colon is not part of the name.
    if let Some((_, after)) = t.rsplit_once([':', '：']) {
        t = trim_edges(after);
    }
    let mut t = t.trim_start_matches('@').trim();
    for suffix in ["'s", "’s", "s'"] {
        if let Some(rest) = t.strip_suffix(suffix) {
            // "James'" keeps its s: only the apostrophe goes.
            t = if suffix == "s'" {
                &t[..t.len() - 1]
            } else {
                rest
            };
            break;
        }
    }
    let t = strip_leading_word(t, &["colleague", "staff", "employee"]);
    let t = ["同事", "員工", "员工"]
        .iter()
        .find_map(|p| t.strip_prefix(p))
        .unwrap_or(t);
    let t = trim_edges(t);
    if t.is_empty() {
        return Ok(None);
    }
    let lower = t.to_lowercase();
    if SELF_WORDS.contains(&lower.as_str()) {
        return Ok(Some(SELF_EMPLOYEE.to_string()));
    }
    if PRONOUNS.contains(&lower.as_str()) {
        return Err(format!("`{t}` does not say who; ask with a name"));
    }
    if t.chars().count() > 40 || t.split_whitespace().count() > 5 {
        return Err(format!("`{t}` is too long to be a name"));
    }
    const NOT_IN_NAMES: [&str; 10] = [
        "how", "what", "many", "much", "leave", "幾多", "多少", "咩", "假", "請",
    ];
    if NOT_IN_NAMES.iter().any(|w| {
        if w.is_ascii() {
            lower.split_whitespace().any(|word| word == *w)
        } else {
            t.contains(w)
        }
    }) {
        return Err(format!("`{t}` is not a name"));
    }
    Ok(Some(t.to_string()))
}

/// The leave type a text talks about, if it names one. The leftmost mention wins;
/// "侍產假" (paternity) is found before the "產假" (maternity) inside it.
pub fn leave_type_in(text: &str) -> Option<LeaveType> {
    let folded = super::fold::fold_str(text);
    let caps = LEAVE_TYPES.as_ref()?.captures(&folded)?;
    LeaveType::ALL
        .into_iter()
        .find(|t| caps.name(t.name()).is_some())
}

static LEAVE_TYPES: LazyLock<Option<Regex>> = LazyLock::new(|| {
    let b = r"(?-u:\b)";
    // "AL"/"SL" are office shorthand, matched in capitals only so "Al Wong" stays a name.
    let source = format!(
        "(?P<annual>{b}(?:annual|vacation|holiday leave|(?-i:AL)|cuti\\s+tahunan|(?:nghi\\s+)?phep\\s+nam){b}|年假|大假|年休假?)\
         |(?P<sick>{b}(?:sick|sickness|medical leave|(?-i:SL)|cuti\\s+sakit|nghi\\s+(?:om|benh)|phep\\s+om){b}|病假|病休)\
         |(?P<compensation>{b}(?:comp(?:ensation|ensatory)?\\s+(?:leave|off|days?)|time\\s+off\\s+in\\s+lieu|toil|lieu\\s+(?:leave|days?)|days?\\s+in\\s+lieu|cuti\\s+ganti(?:an)?|nghi\\s+bu){b}|補假|補休|調休|补假|补休)\
         |(?P<paternity>{b}(?:paternity|cuti\\s+(?:paterniti|isteri\\s+bersalin)|nghi\\s+(?:cham\\s+soc\\s+)?vo\\s+sinh){b}|侍產假|陪產假|侍产假|陪产假)\
         |(?P<maternity>{b}(?:maternity|cuti\\s+bersalin|nghi\\s+thai\\s+san|thai\\s+san){b}|產假|产假|分娩假)\
         |(?P<unpaid>{b}(?:unpaid|no[-\\s]?pay|cuti\\s+tanpa\\s+gaji|nghi\\s+khong\\s+luong){b}|無薪假?|冇薪假?|无薪假?|停薪留職)\
         |(?P<other>{b}(?:(?:marriage|wedding|compassionate|bereavement|funeral|birthday|study|exam|examination|jury|special|personal|casual|other)\\s+leave|cuti\\s+(?:kahwin|ihsan|belajar|peperiksaan)|nghi\\s+(?:cuoi|tang|viec\\s+rieng)){b}|婚假|恩恤假|喪假|丧假|生日假|考試假|进修假|進修假|事假|其他假期?|特別假|陪審假)"
    );
    // Compared with folded text (see `super::fold`), so the vocabulary is folded too.
    let source = super::fold::fold_str(&source);
    RegexBuilder::new(&source)
        .case_insensitive(true)
        .build()
        .ok()
});

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leave_type_regex_compiles() {
        assert!(LEAVE_TYPES.is_some());
    }

    #[test]
    fn places_lose_their_designator() {
        assert_eq!(clean_place("warehouse", "觀塘倉").as_deref(), Some("觀塘"));
        assert_eq!(
            clean_place("warehouse", "觀塘貨倉").as_deref(),
            Some("觀塘")
        );
        assert_eq!(
            clean_place("warehouse", "Kwun Tong warehouse").as_deref(),
            Some("Kwun Tong")
        );
        assert_eq!(
            clean_place("warehouse", "the Kwun Tong Warehouse").as_deref(),
            Some("Kwun Tong")
        );
        assert_eq!(
            clean_place("warehouse", "Kwun Tong").as_deref(),
            Some("Kwun Tong")
        );
        assert_eq!(clean_place("region", "九龍區").as_deref(), Some("九龍"));
        assert_eq!(clean_place("region", "東區").as_deref(), Some("東區"));
        assert_eq!(clean_place("region", "Kowloon").as_deref(), Some("Kowloon"));
        assert_eq!(clean_place("store", "銅鑼灣店").as_deref(), Some("銅鑼灣"));
        assert_eq!(
            clean_place("store", "Causeway Bay store").as_deref(),
            Some("Causeway Bay")
        );
        assert_eq!(clean_place("store", "store").as_deref(), Some("store"));
        assert_eq!(clean_place("region", "total"), None);
        assert_eq!(clean_place("region", "by"), None);
        assert_eq!(clean_place("region", "vs"), None);
        assert_eq!(clean_place("region", "and stock"), None);
        assert_eq!(clean_place("region", " "), None);
    }

    #[test]
    fn people() {
        assert_eq!(clean_employee("我"), Ok(Some("self".into())));
        assert_eq!(clean_employee("I"), Ok(Some("self".into())));
        assert_eq!(clean_employee("my"), Ok(Some("self".into())));
        assert_eq!(clean_employee("陳大文"), Ok(Some("陳大文".into())));
        assert_eq!(
            clean_employee("Peter Wong's"),
            Ok(Some("Peter Wong".into()))
        );
        assert_eq!(clean_employee("James'"), Ok(Some("James".into())));
        assert_eq!(clean_employee("@陳大文"), Ok(Some("陳大文".into())));
        assert_eq!(clean_employee("HR: 陳大文"), Ok(Some("陳大文".into())));
        assert_eq!(clean_employee("同事陳大文"), Ok(Some("陳大文".into())));
        assert!(clean_employee("佢").is_err());
        assert!(clean_employee("he").is_err());
        assert!(clean_employee("how many days").is_err());
        assert_eq!(clean_employee(""), Ok(None));
    }

    #[test]
    fn leave_types() {
        let cases = [
            (
                "how many annual leave days do I have",
                Some(LeaveType::Annual),
            ),
            ("我仲有幾多日年假", Some(LeaveType::Annual)),
            (
                "how much sick leave does Peter Wong have left",
                Some(LeaveType::Sick),
            ),
            ("病假", Some(LeaveType::Sick)),
            ("comp leave balance", Some(LeaveType::Compensation)),
            ("補假仲有幾多", Some(LeaveType::Compensation)),
            ("maternity leave", Some(LeaveType::Maternity)),
            ("產假", Some(LeaveType::Maternity)),
            ("侍產假", Some(LeaveType::Paternity)),
            ("paternity leave", Some(LeaveType::Paternity)),
            ("no pay leave", Some(LeaveType::Unpaid)),
            ("無薪假", Some(LeaveType::Unpaid)),
            ("婚假", Some(LeaveType::Other)),
            ("birthday leave", Some(LeaveType::Other)),
            ("my leave balance", None),
            ("my AL balance", Some(LeaveType::Annual)),
            ("how much leave does Al Wong have", None),
            ("假期", None),
        ];
        for (text, want) in cases {
            assert_eq!(leave_type_in(text), want, "{text}");
        }
    }

    #[test]
    fn items_and_customers() {
        assert_eq!(
            clean_item(" 「維他檸檬茶」 ").as_deref(),
            Some("維他檸檬茶")
        );
        assert_eq!(clean_item("the A4 paper").as_deref(), Some("A4 paper"));
        assert_eq!(clean_item("total"), None);
        assert_eq!(
            clean_customer("customer Golden Dragon Trading").as_deref(),
            Some("Golden Dragon Trading")
        );
        assert_eq!(clean_customer("客戶金龍貿易").as_deref(), Some("金龍貿易"));
        assert_eq!(
            clean_order(" #SO-2026-00123 ").as_deref(),
            Some("SO-2026-00123")
        );
    }
}
