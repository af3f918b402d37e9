//! Folding: the form of a text that rules and place names are compared in.
//!
//! People write the same question in Traditional and Simplified characters, and
//! Vietnamese with or without its diacritics ("tháng trước" / "thang truoc"). Rather than
//! writing every pattern twice, both the patterns and the text are folded to one form
//! before matching:
//!
//! - Han characters go from Traditional to Simplified with `fast2s`. That direction is
//!   many-to-one (發 and 髮 both become 发), so two folded forms are equal exactly when
//!   the texts differ only in script; the reverse direction is one-to-many and would need
//!   guessing. `fast2s` maps character to character (its table only holds pairs of
//!   three-byte characters), so a folded Chinese text has the same byte offsets as the
//!   original and captures can be mapped back to what the user wrote.
//!
//!   Of the crates that convert between the scripts, `zhconv` (GPL-2.0) cannot be linked
//!   into this Apache-2.0 program, and `character_converter` converts phrase by phrase
//!   with a 7 MB table, so a converted text can differ in length from the original and
//!   captures could not be mapped back. `fast2s` is MIT, pure Rust, small, and keeps
//!   offsets; converting one way only is all that folding needs.
//! - Latin letters lose their diacritics (canonical decomposition, combining marks
//!   dropped; đ → d), which serves Vietnamese and the odd accented Malay loan word.
//!
//! Case is not folded here: every pattern is compiled case-insensitively, and captured
//! values keep the user's capitals.

use unicode_normalization::char::{decompose_canonical, is_combining_mark};

/// A folded text and, when folding changed byte lengths, where each folded byte came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Folded {
    /// The text in matching form.
    pub text: String,
    /// For each byte offset of `text` (plus its end), the byte offset in the original.
    /// `None` when the offsets are the same in both.
    map: Option<Vec<usize>>,
}

impl Folded {
    /// The part of `original` that folded into `piece`, a substring of [`Folded::text`];
    /// `None` when `piece` is not in the folded text.
    pub fn restore<'a>(&self, original: &'a str, piece: &str) -> Option<&'a str> {
        if piece.is_empty() {
            return None;
        }
        let start = self.text.find(piece)?;
        let end = start + piece.len();
        let (s, e) = match &self.map {
            None => (start, end),
            Some(map) => (*map.get(start)?, *map.get(end)?),
        };
        original.get(s..e)
    }
}

impl Folded {
    /// The part of `original` that folded into the byte range `range` of [`Folded::text`].
    pub fn restore_range<'a>(
        &self,
        original: &'a str,
        range: std::ops::Range<usize>,
    ) -> Option<&'a str> {
        let (s, e) = match &self.map {
            None => (range.start, range.end),
            Some(map) => (*map.get(range.start)?, *map.get(range.end)?),
        };
        original.get(s..e)
    }
}

/// Folds `text` into matching form, remembering how to map pieces back.
pub fn fold(text: &str) -> Folded {
    if text.is_ascii() {
        return Folded {
            text: text.to_string(),
            map: None,
        };
    }
    let mut out = String::with_capacity(text.len());
    let mut map: Vec<usize> = Vec::new();
    let mut changed_len = false;
    for (at, c) in text.char_indices() {
        let before = out.len();
        fold_latin(c, &mut out);
        let written = out.len() - before;
        if written != c.len_utf8() {
            changed_len = true;
        }
        map.extend(std::iter::repeat_n(at, written));
    }
    map.push(text.len());
    let text_out = fold_han(out);
    Folded {
        text: text_out,
        map: changed_len.then_some(map),
    }
}

/// Folds a string without keeping the offset map (patterns, place names, keywords).
pub fn fold_str(text: &str) -> String {
    fold(text).text
}

/// Pushes `c` without diacritics if it is a Latin letter that has them; drops stray
/// combining marks; pushes anything else unchanged.
fn fold_latin(c: char, out: &mut String) {
    let code = c as u32;
    match c {
        'đ' => out.push('d'),
        'Đ' => out.push('D'),
        _ if (0x0300..=0x036F).contains(&code) => {}
        _ if (0x00C0..=0x024F).contains(&code) || (0x1E00..=0x1EFF).contains(&code) => {
            let mut base = None;
            decompose_canonical(c, |d| {
                if base.is_none() && !is_combining_mark(d) {
                    base = Some(d);
                }
            });
            out.push(base.unwrap_or(c));
        }
        _ => out.push(c),
    }
}

/// Traditional to Simplified, only when it keeps every byte offset (it always should;
/// the check keeps a surprise in the table from breaking capture mapping).
fn fold_han(text: String) -> String {
    if !text.chars().any(super::is_han) {
        return text;
    }
    let converted = fast2s::convert(&text);
    if converted.len() == text.len() {
        converted
    } else {
        text
    }
}

/// Whether `text` contains a character that folding to Simplified changes, i.e. it is
/// written (at least partly) in Traditional characters.
pub fn has_traditional(text: &str) -> bool {
    text.chars().any(super::is_han) && fast2s::convert(text) != text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn traditional_and_simplified_fold_together() {
        assert_eq!(fold_str("觀塘倉仲有幾多"), fold_str("观塘仓仲有几多"));
        assert_eq!(fold_str("上個月銷售額"), "上个月销售额");
        assert!(has_traditional("上個月"));
        assert!(!has_traditional("上个月"));
        assert!(!has_traditional("iPhone 15"));
    }

    #[test]
    fn vietnamese_diacritics_fold_away() {
        assert_eq!(fold_str("Doanh thu tháng trước"), "Doanh thu thang truoc");
        assert_eq!(fold_str("Đơn hàng của tôi"), "Don hang cua toi");
        assert_eq!(fold_str("nghỉ phép năm"), "nghi phep nam");
    }

    #[test]
    fn pieces_map_back_to_what_was_written() {
        let original = "tồn kho Máy in Canon ở kho Quán Tống";
        let f = fold(original);
        assert_eq!(f.restore(original, "May in Canon"), Some("Máy in Canon"));
        assert_eq!(f.restore(original, "Quan Tong"), Some("Quán Tống"));
        let zh = "維他檸檬茶觀塘倉";
        let f = fold(zh);
        assert_eq!(f.restore(zh, "维他柠檬茶"), Some("維他檸檬茶"));
        assert_eq!(f.restore(zh, "nothing"), None);
    }

    #[test]
    fn odd_input_is_safe() {
        assert_eq!(fold_str(""), "");
        assert_eq!(fold_str("\u{301}a\u{301}"), "a");
        let f = fold("é");
        assert_eq!(f.restore("é", ""), None);
        let long = "價".repeat(1000);
        assert_eq!(fold_str(&long).chars().count(), 1000);
    }
}
