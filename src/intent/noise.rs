//! Noise variants of an evaluation set: the same questions as people also type them.
//!
//! A blind set measures the phrasings its writers chose; real messages add slips on top.
//! Each case yields up to five variants with the same expected answer: a letter dropped
//! from a Latin word, two neighbouring letters swapped, the text in full-width
//! characters (a Chinese input method left in full-width mode), an emoji added, and a
//! polite opener in the case's language. The choices are deterministic (derived from the
//! text), so a figure can be compared from run to run; `askerp eval FILE --noise`
//! scores them apart from the set itself.

use super::eval::Case;

/// The kinds of noise, in the order their variants are produced.
pub const KINDS: [&str; 5] = [
    "drop_letter",
    "swap_letters",
    "full_width",
    "emoji",
    "opener",
];

/// Every variant of every case that the case's text allows (a case with no Latin word of
/// five letters or more has no typo variants; greetings and thanks get no opener).
pub fn variants(cases: &[Case]) -> Vec<Case> {
    let mut out = Vec::with_capacity(cases.len() * KINDS.len());
    for case in cases {
        for kind in KINDS {
            if let Some(text) = apply(kind, case) {
                let mut v = case.clone();
                v.text = text;
                out.push(v);
            }
        }
    }
    out
}

/// The text of `case` with one kind of noise, or `None` when it does not apply.
pub fn apply(kind: &str, case: &Case) -> Option<String> {
    let text = case.text.as_str();
    match kind {
        "drop_letter" | "swap_letters" => {
            let (start, end) = pick_word(text)?;
            let word: Vec<char> = text[start..end].chars().collect();
            let at = word.len() / 2;
            let mut typo: String = String::new();
            for (i, c) in word.iter().enumerate() {
                match kind {
                    "drop_letter" if i == at => {}
                    "swap_letters" if i == at - 1 => typo.push(word[at]),
                    "swap_letters" if i == at => typo.push(word[at - 1]),
                    _ => typo.push(*c),
                }
            }
            (typo != text[start..end]).then(|| format!("{}{typo}{}", &text[..start], &text[end..]))
        }
        "full_width" => {
            let wide: String = text
                .chars()
                .map(|c| match c {
                    '!'..='~' => char::from_u32(c as u32 + 0xFEE0).unwrap_or(c),
                    ' ' => '\u{3000}',
                    _ => c,
                })
                .collect();
            (wide != text).then_some(wide)
        }
        "emoji" => {
            let emoji = ["🙏", "😅", "👍", "🙂"][index(text, 4)];
            Some(format!("{text} {emoji}"))
        }
        "opener" => {
            if case.smalltalk.is_some() {
                return None;
            }
            let opener = match case.lang.as_str() {
                "en" => "hi, could you check for me: ",
                "zh-HK" => "你好，請問",
                "yue" => "唔該，想問下",
                "zh-CN" => "你好，请问",
                "ms" => "hai, tolong semak: ",
                "vi" => "chào bạn, cho mình hỏi ",
                _ => "hi, 唔該 ",
            };
            Some(format!("{opener}{text}"))
        }
        _ => None,
    }
}

/// The Latin word of five letters or more (letters only) to misspell, chosen from the
/// text so that the same text always gets the same typo.
fn pick_word(text: &str) -> Option<(usize, usize)> {
    let words: Vec<(usize, usize)> = super::lexicon::ascii_word_bounds(text)
        .into_iter()
        .filter(|(s, e)| e - s >= 5 && text[*s..*e].bytes().all(|b| b.is_ascii_alphabetic()))
        .collect();
    if words.is_empty() {
        return None;
    }
    Some(words[index(text, words.len())])
}

/// A stable index below `n` derived from `text` (FNV-1a).
fn index(text: &str, n: usize) -> usize {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in text.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    usize::try_from(h % (n.max(1) as u64)).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn case(text: &str, lang: &str) -> Case {
        let line = format!(
            r#"{{"lang": "{lang}", "now": "2026-12-02T10:00:00+08:00", "text": "{text}", "intent": null}}"#
        );
        super::super::eval::parse(&line)
            .unwrap_or_else(|e| panic!("{e}"))
            .remove(0)
    }

    #[test]
    fn each_kind_changes_the_text_as_described() {
        let c = case("stock of Bonaqua in Kwun Tong", "en");
        let drop = apply("drop_letter", &c).unwrap_or_default();
        let swap = apply("swap_letters", &c).unwrap_or_default();
        assert_eq!(drop.chars().count() + 1, c.text.chars().count(), "{drop}");
        assert_eq!(swap.chars().count(), c.text.chars().count());
        assert_ne!(swap, c.text);
        assert_eq!(
            apply("full_width", &c).unwrap_or_default(),
            "ｓｔｏｃｋ\u{3000}ｏｆ\u{3000}Ｂｏｎａｑｕａ\u{3000}ｉｎ\u{3000}Ｋｗｕｎ\u{3000}Ｔｏｎｇ"
        );
        assert!(apply("opener", &c).unwrap_or_default().ends_with(&c.text));
        // The same text always gets the same noise.
        assert_eq!(apply("drop_letter", &c), apply("drop_letter", &c));
        // Chinese alone has no Latin word to misspell.
        assert_eq!(apply("drop_letter", &case("觀塘倉仲有幾多", "yue")), None);
    }
}
