//! Text preparation before rule matching.
//!
//! DingTalk messages arrive with the bot's @-mention in front, full-width punctuation and
//! digits from Chinese input methods, stray emoji and politeness words. The rules in
//! `intents/` are written against the cleaned text so that every pattern does not have to
//! repeat these variations. Case is kept: matching is case-insensitive, and captured slot
//! values must stay as the user wrote them.
//!
//! The text is first put in Unicode compatibility form (NFKC), which folds full-width
//! letters and digits, ligatures and circled numbers into their plain forms. Script and
//! diacritic folding (Traditional/Simplified, "tháng"/"thang") happen afterwards, in
//! [`super::fold`], because they apply to the patterns as well.

use unicode_normalization::UnicodeNormalization;

/// Names the bot is @-mentioned by; a leading mention of one of these is dropped. Other
/// leading @-mentions stay, because they may name the colleague a question is about.
const BOT_NAMES: [&str; 16] = [
    "erp assistant",
    "erp助理",
    "erp 助理",
    "erp 小助手",
    "erp助手小幫手",
    "pembantu erp",
    "trợ lý erp",
    "tro ly erp",
    "erp助手",
    "erp 助手",
    "erp小助手",
    "askerp",
    "erp bot",
    "erpbot",
    "erp機械人",
    "erp机器人",
];

/// Words that only make a request polite; dropped at either end so that rules can be
/// anchored without listing them. A word is only dropped when something else remains.
const POLITE_LEADING: [&str; 17] = [
    "please",
    "pls",
    "plz",
    "hi",
    "hey",
    "hello",
    "你好",
    "您好",
    "tolong",
    "hai",
    "xin chào",
    "xin chao",
    "chào bạn",
    "chao ban",
    "làm ơn",
    "lam on",
    "cho hỏi",
];
const POLITE_TRAILING: [&str; 21] = [
    "terima kasih",
    "tq",
    "cảm ơn",
    "cam on",
    "ạ",
    "nhé",
    "nhe",
    "谢谢",
    "麻烦了",
    "please",
    "pls",
    "plz",
    "thanks",
    "thank you",
    "thx",
    "ty",
    "唔該",
    "唔該晒",
    "謝謝",
    "多謝",
    "thanks a lot",
];

/// Cleans a message for matching: width folding, emoji and zero-width characters removed,
/// whitespace collapsed, a leading bot mention and surrounding politeness and punctuation
/// dropped.
pub fn normalize(text: &str) -> String {
    // Most messages are already in NFKC form; the quick check avoids rebuilding them.
    let compat: std::borrow::Cow<'_, str> = if text.is_ascii()
        || unicode_normalization::is_nfkc_quick(text.chars())
            == unicode_normalization::IsNormalized::Yes
    {
        std::borrow::Cow::Borrowed(text)
    } else {
        std::borrow::Cow::Owned(text.nfkc().collect())
    };
    let folded: String = compat.chars().filter_map(fold_char).collect();
    let mut s = collapse_whitespace(&folded);
    // A mention can be repeated ("@ERP助手 @ERP助手 …") when users copy a previous message.
    while let Some(rest) = strip_bot_mention(&s) {
        s = rest.to_string();
    }
    // In a group the mention can also come last ("iPhone 15 仲有幾多 @ERP助手").
    while let Some(rest) = strip_trailing_bot_mention(&s) {
        s = rest;
    }
    loop {
        let before = s.len();
        s = trim_noise(&s).to_string();
        s = strip_polite(&s);
        if s.len() == before {
            break;
        }
    }
    s
}

/// Only the character-level part of [`normalize`] (NFKC, width, emoji, spaces): for rule
/// data, which must be compared in the same form as messages but has no mention or
/// politeness to drop.
pub fn normalize_width(text: &str) -> String {
    let compat: String = text.nfkc().collect();
    collapse_whitespace(&compat.chars().filter_map(fold_char).collect::<String>())
}

/// Maps one character to its matching form, or drops it.
fn fold_char(c: char) -> Option<char> {
    let code = c as u32;
    match code {
        // Full-width ASCII variants (！ … ～) sit exactly 0xFEE0 above their ASCII forms.
        0xFF01..=0xFF5E => char::from_u32(code - 0xFEE0),
        // Ideographic and other Unicode spaces become a plain space.
        0x3000 | 0x00A0 | 0x2000..=0x200A | 0x202F | 0x205F => Some(' '),
        // Zero-width characters and the BOM carry no meaning for matching.
        0x200B..=0x200D | 0x2060 | 0xFEFF => None,
        // Typographic quotes from phone keyboards ("what’s").
        0x2018 | 0x2019 => Some('\''),
        0x201C | 0x201D => Some('"'),
        _ if c.is_whitespace() => Some(' '),
        _ if is_emoji(c) => Some(' '),
        _ if c.is_control() => None,
        _ => Some(c),
    }
}

/// Pictographs, dingbats, variation selectors and skin-tone or tag modifiers.
fn is_emoji(c: char) -> bool {
    matches!(
        c as u32,
        0x1F000..=0x1FAFF | 0x2600..=0x27BF | 0x2B00..=0x2BFF | 0xFE00..=0xFE0F | 0xE0020..=0xE007F
    )
}

/// Replaces every run of whitespace by one space and trims both ends.
pub fn collapse_whitespace(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for word in s.split_whitespace() {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    out
}

/// The text after a leading mention of the bot, if there is one.
fn strip_bot_mention(s: &str) -> Option<&str> {
    let rest = s.strip_prefix('@')?;
    for name in BOT_NAMES {
        let Some(head) = rest.get(..name.len()) else {
            continue;
        };
        if !head.eq_ignore_ascii_case(name) {
            continue;
        }
        let tail = &rest[name.len()..];
        // "@askerpbot" is some other account; the name must end at a non-ASCII-word char.
        if tail
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_')
        {
            continue;
        }
        return Some(tail.trim_start_matches(|c: char| c.is_whitespace() || ",:;-".contains(c)));
    }
    None
}

/// The text before a trailing mention of the bot, if there is one.
fn strip_trailing_bot_mention(s: &str) -> Option<String> {
    let at = s.rfind('@')?;
    let tail = s.get(at + 1..)?;
    let is_bot = BOT_NAMES.iter().any(|name| {
        tail.trim_end_matches(|c: char| c.is_whitespace() || "?!.,;:。，？！".contains(c))
            .eq_ignore_ascii_case(name)
    });
    is_bot.then(|| s[..at].trim_end().to_string())
}

/// Trims punctuation that ends or starts a chat message but never changes its meaning.
fn trim_noise(s: &str) -> &str {
    const NOISE: &str = "?!.,;:~。，、…？！～ ";
    s.trim_matches(|c: char| NOISE.contains(c))
}

/// Drops one politeness word from each end, if something remains.
fn strip_polite(s: &str) -> String {
    let mut out = s;
    for word in POLITE_LEADING {
        if let Some(head) = out.get(..word.len())
            && head.eq_ignore_ascii_case(word)
        {
            let rest = &out[word.len()..];
            let word_ends = rest
                .chars()
                .next()
                .is_some_and(|c| !c.is_ascii_alphanumeric());
            let rest = rest.trim_start_matches(|c: char| c.is_whitespace() || ",!".contains(c));
            if word_ends && !rest.is_empty() {
                out = rest;
                break;
            }
        }
    }
    for word in POLITE_TRAILING {
        let Some(cut) = out.len().checked_sub(word.len()) else {
            continue;
        };
        if let Some(tail) = out.get(cut..)
            && tail.eq_ignore_ascii_case(word)
        {
            let rest = &out[..cut];
            let word_starts = rest
                .chars()
                .next_back()
                .is_some_and(|c| !c.is_ascii_alphanumeric());
            let rest = rest.trim_end_matches(|c: char| c.is_whitespace() || ",".contains(c));
            if word_starts && !rest.is_empty() {
                out = rest;
                break;
            }
        }
    }
    out.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn removes_bot_mentions() {
        assert_eq!(
            normalize("@ERP助手 維他檸檬茶 觀塘倉仲有幾多?"),
            "維他檸檬茶 觀塘倉仲有幾多"
        );
        assert_eq!(
            normalize("@ERP assistant how many iPhone 15 Pro 256GB in stock?"),
            "how many iPhone 15 Pro 256GB in stock"
        );
        assert_eq!(normalize("@askerp, help"), "help");
        assert_eq!(normalize("@ERP助手維他檸檬茶有冇貨"), "維他檸檬茶有冇貨");
        // Not the bot: a colleague's mention stays.
        assert_eq!(normalize("@陳大文 年假"), "@陳大文 年假");
        assert_eq!(normalize("@askerpbot help"), "@askerpbot help");
    }

    #[test]
    fn folds_width_and_whitespace() {
        assert_eq!(
            normalize("ＳＯ－２０２６－００１２３　到咗邊？"),
            "SO-2026-00123 到咗邊"
        );
        assert_eq!(normalize("  top\t5 \n items  "), "top 5 items");
        assert_eq!(normalize("what’s up"), "what's up");
    }

    #[test]
    fn drops_emoji_and_politeness() {
        assert_eq!(normalize("維他檸檬茶🍋 有冇貨?🙏🏻"), "維他檸檬茶 有冇貨");
        assert_eq!(
            normalize("please show my leave balance, thanks!"),
            "show my leave balance"
        );
        assert_eq!(normalize("hello"), "hello");
        assert_eq!(normalize("help please"), "help");
        assert_eq!(normalize("年假仲有幾多日?唔該"), "年假仲有幾多日");
    }

    #[test]
    fn compatibility_forms_and_other_languages() {
        // NFKC: full-width letters, circled and Roman numerals.
        assert_eq!(normalize("ＳＫ－Ⅱ ①"), "SK-II 1");
        assert_eq!(normalize("@ERP助理 上个月销售额，谢谢"), "上个月销售额");
        assert_eq!(
            normalize("tolong semak stok iPhone 15"),
            "semak stok iPhone 15"
        );
        assert_eq!(
            normalize("doanh thu tháng trước ạ"),
            "doanh thu tháng trước"
        );
        // The mention may also come last in a group message.
        assert_eq!(
            normalize("iPhone 15 仲有幾多 @ERP助手"),
            "iPhone 15 仲有幾多"
        );
        assert_eq!(
            normalize("sales last month @ERP assistant?"),
            "sales last month"
        );
    }

    #[test]
    fn survives_odd_input() {
        assert_eq!(normalize(""), "");
        assert_eq!(normalize("@"), "@");
        assert_eq!(normalize("???"), "");
        assert_eq!(normalize("@ERP助手"), "");
        assert_eq!(normalize("\u{0}\u{200b}"), "");
        let long = "價".repeat(10_000);
        assert_eq!(normalize(&long).chars().count(), 10_000);
    }
}
