//! Small counts as people write them: "5", "十", "兩", "二十五", "ten".
//!
//! Used for slots such as `limit` ("top 5 items", "最好賣嘅十樣貨品"). Only non-negative
//! integers up to 9999 are understood; anything else is "not a number" rather than a guess.

/// Parses a count written in ASCII digits, Chinese numerals or English words.
pub fn parse_count(text: &str) -> Option<u32> {
    let t = text.trim();
    if t.is_empty() {
        return None;
    }
    if t.chars().all(|c| c.is_ascii_digit()) {
        // More than four digits is not a count anybody asks for; also avoids overflow.
        return if t.len() <= 4 { t.parse().ok() } else { None };
    }
    parse_english(t)
        .or_else(|| parse_chinese(t))
        .or_else(|| parse_malay_vietnamese(t))
}

/// One to ten in Malay and in Vietnamese (diacritics folded: "năm" is "nam"), the counts
/// people put in "5 barang terlaris" or "mười mặt hàng bán chạy".
fn parse_malay_vietnamese(t: &str) -> Option<u32> {
    const MALAY: [&str; 10] = [
        "satu", "dua", "tiga", "empat", "lima", "enam", "tujuh", "lapan", "sembilan", "sepuluh",
    ];
    const VIETNAMESE: [&str; 10] = [
        "mot", "hai", "ba", "bon", "nam", "sau", "bay", "tam", "chin", "muoi",
    ];
    let lower = super::fold::fold_str(t).to_lowercase();
    MALAY
        .iter()
        .position(|w| *w == lower)
        .or_else(|| VIETNAMESE.iter().position(|w| *w == lower))
        .and_then(|i| u32::try_from(i + 1).ok())
}

fn parse_english(t: &str) -> Option<u32> {
    const WORDS: [&str; 21] = [
        "zero",
        "one",
        "two",
        "three",
        "four",
        "five",
        "six",
        "seven",
        "eight",
        "nine",
        "ten",
        "eleven",
        "twelve",
        "thirteen",
        "fourteen",
        "fifteen",
        "sixteen",
        "seventeen",
        "eighteen",
        "nineteen",
        "twenty",
    ];
    let lower = t.to_ascii_lowercase();
    if let Some(n) = WORDS.iter().position(|w| *w == lower) {
        return u32::try_from(n).ok();
    }
    match lower.as_str() {
        "a dozen" | "dozen" => Some(12),
        "thirty" => Some(30),
        "forty" => Some(40),
        "fifty" => Some(50),
        "sixty" => Some(60),
        "seventy" => Some(70),
        "eighty" => Some(80),
        "ninety" => Some(90),
        "a hundred" | "one hundred" | "hundred" => Some(100),
        _ => None,
    }
}

fn digit_value(c: char) -> Option<u32> {
    Some(match c {
        '零' | '〇' => 0,
        '一' => 1,
        '二' | '兩' | '两' => 2,
        '三' => 3,
        '四' => 4,
        '五' => 5,
        '六' => 6,
        '七' => 7,
        '八' => 8,
        '九' => 9,
        _ => return None,
    })
}

fn unit_value(c: char) -> Option<u32> {
    Some(match c {
        '十' => 10,
        '百' => 100,
        '千' => 1000,
        _ => return None,
    })
}

/// Chinese numerals below 10 000: "十" = 10, "十五" = 15, "二十" = 20, "一百零五" = 105,
/// "兩百" = 200. Digit runs without units ("三五", which means "three or five") are
/// rejected rather than read as 35.
fn parse_chinese(t: &str) -> Option<u32> {
    let chars: Vec<char> = t.chars().collect();
    let mut total = 0u32;
    let mut pending: Option<u32> = None;
    let mut last_unit = u32::MAX;
    for c in chars {
        if let Some(d) = digit_value(c) {
            if pending.is_some() {
                // Two digits in a row without a unit ("三五") is not a number.
                return None;
            }
            pending = if d == 0 { None } else { Some(d) };
        } else if let Some(u) = unit_value(c) {
            // Units must decrease ("一百二十"), never repeat or grow ("十百").
            if u >= last_unit {
                return None;
            }
            last_unit = u;
            // A bare "十" at the start means ten.
            total += pending.take().unwrap_or(1) * u;
        } else {
            return None;
        }
    }
    total += pending.unwrap_or(0);
    Some(total)
}

#[cfg(test)]
mod tests {
    use super::parse_count;

    #[test]
    fn counts_in_every_language() {
        assert_eq!(parse_count("5"), Some(5));
        assert_eq!(parse_count("five"), Some(5));
        assert_eq!(parse_count("五"), Some(5));
        assert_eq!(parse_count("十五"), Some(15));
        assert_eq!(parse_count("兩"), Some(2));
        assert_eq!(parse_count("三"), Some(3));
        assert_eq!(parse_count("lima"), Some(5));
        assert_eq!(parse_count("sepuluh"), Some(10));
        assert_eq!(parse_count("năm"), Some(5));
        assert_eq!(parse_count("mười"), Some(10));
        assert_eq!(parse_count("muoi"), Some(10));
        assert_eq!(parse_count("banyak"), None);
    }

    #[test]
    fn digits_words_and_chinese() {
        let cases = [
            ("5", Some(5)),
            ("10", Some(10)),
            ("0", Some(0)),
            ("99999", None),
            ("three", Some(3)),
            ("Ten", Some(10)),
            ("a dozen", Some(12)),
            ("ninety", Some(90)),
            ("三", Some(3)),
            ("五", Some(5)),
            ("十", Some(10)),
            ("兩", Some(2)),
            ("十五", Some(15)),
            ("二十", Some(20)),
            ("二十五", Some(25)),
            ("一百", Some(100)),
            ("一百零五", Some(105)),
            ("兩百", Some(200)),
            ("一二", None),
            ("三五", None),
            ("三零", None),
            ("二十三五", None),
            ("十百", None),
            ("", None),
            ("abc", None),
            ("五個", None),
        ];
        for (text, want) in cases {
            assert_eq!(parse_count(text), want, "{text}");
        }
    }
}
