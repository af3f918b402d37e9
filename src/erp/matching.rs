//! Item matching: what a user typed against a connector's list of items.
//!
//! People type item names the way they remember them: words in another order ("256GB
//! iPhone 15 Pro"), with typos ("iphnoe", "vita lemon tee"), in Chinese without spaces,
//! by SKU, or by a nickname the company uses (an alias). Every connector that can list its
//! items runs the same matcher, so the bot behaves the same whatever the ERP.
//!
//! The matcher ranks; it does not guess. [`unique_best`] says whether one item stands out
//! (an exact name, SKU or alias, or the only item whose every word the user wrote); when
//! none does, the pipeline asks "did you mean…" instead of picking one.
//!
//! Digits are never corrected: "128GB" is not a typo of "256GB", and "iPhone 14" is not
//! "iPhone 15". Typos are only forgiven in words of letters, and only when no item matches
//! the words as written.

/// One item as the matcher sees it: its SKU and every name it is known by (English,
/// Chinese, aliases).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry<'a> {
    pub sku: &'a str,
    pub names: Vec<&'a str>,
}

/// How well an entry matched, best first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Quality {
    /// The text is the SKU, a name or an alias (ignoring case, width and spaces).
    Exact,
    /// The text contains every word of one of the names, in any order (possibly with
    /// typos): the user named this item completely.
    Complete,
    /// Every word of the text occurs in a name.
    Words,
    /// Every word of the text occurs in a name once typos are forgiven.
    Fuzzy,
}

/// A matching entry: its index in the list given to [`rank`] and how it matched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hit {
    pub index: usize,
    pub quality: Quality,
    /// 0: a name starts with the text; 1: a name contains the text as written; 2: the
    /// words occur apart. Keeps "cola 330ml" ranking "Coca-Cola 330ml" before "Coca-Cola
    /// Zero 330ml".
    pub closeness: u8,
    /// Letters changed to forgive typos (0 unless `quality` is `Fuzzy` or a fuzzy
    /// `Complete`).
    pub edits: usize,
}

/// Ranks `entries` against `text`, best first; entries that do not match are left out.
/// Ties keep the order of `entries`.
pub fn rank(text: &str, entries: &[Entry<'_>]) -> Vec<Hit> {
    let query = fold(text);
    let tokens = words(&query);
    if tokens.is_empty() {
        return Vec::new();
    }
    let compact_query = compact(&query);
    let joined = tokens.join(" ");
    let prepared: Vec<Prepared> = entries.iter().map(Prepared::new).collect();

    let exact: Vec<Hit> = prepared
        .iter()
        .enumerate()
        .filter(|(_, p)| p.sku == compact_query || p.compacts.contains(&compact_query))
        .map(|(index, _)| Hit {
            index,
            quality: Quality::Exact,
            closeness: 0,
            edits: 0,
        })
        .collect();
    if !exact.is_empty() {
        return exact;
    }

    let mut hits: Vec<Hit> = prepared
        .iter()
        .enumerate()
        .filter_map(|(index, p)| p.direct(&tokens, &compact_query, &joined, index))
        .collect();
    if hits.is_empty() {
        hits = prepared
            .iter()
            .enumerate()
            .filter_map(|(index, p)| p.fuzzy(&tokens, index))
            .collect();
    }
    hits.sort_by(|a, b| {
        a.quality
            .cmp(&b.quality)
            .then(a.closeness.cmp(&b.closeness))
            .then(a.edits.cmp(&b.edits))
            .then(a.index.cmp(&b.index))
    });
    hits
}

/// The indices of the `n` entries whose names look most like `text` (by edit distance
/// over the folded forms), most alike first, for a "did you mean…" list when nothing
/// matches. Entries less than 40 % alike are left out.
pub fn closest(text: &str, entries: &[Entry<'_>], n: usize) -> Vec<usize> {
    let query = fold(text);
    if query.trim().is_empty() {
        return Vec::new();
    }
    let mut scored: Vec<(usize, f64)> = entries
        .iter()
        .enumerate()
        .map(|(i, e)| {
            let best = e
                .names
                .iter()
                .map(|name| strsim::normalized_levenshtein(&query, &fold(name)))
                .fold(0.0_f64, f64::max);
            (i, best)
        })
        .filter(|(_, s)| *s >= 0.4)
        .collect();
    scored.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    scored.into_iter().take(n).map(|(i, _)| i).collect()
}

/// The one hit that stands out, if any: the only exact match, the only complete one, or
/// the only hit at all. `None` means the user must choose.
pub fn unique_best(hits: &[Hit]) -> Option<Hit> {
    if let [only] = hits {
        return Some(*only);
    }
    for quality in [Quality::Exact, Quality::Complete] {
        let mut of_quality = hits.iter().filter(|h| h.quality == quality);
        if let Some(first) = of_quality.next() {
            return match of_quality.next() {
                None => Some(*first),
                // Two complete matches with different typo counts: the closer one wins
                // only if it needed no correction at all.
                Some(second) if first.edits == 0 && second.edits > 0 => Some(*first),
                Some(_) => None,
            };
        }
    }
    None
}

/// An entry with its names folded once.
struct Prepared {
    sku: String,
    /// Folded names (lower case, half width).
    names: Vec<String>,
    /// The same without spaces (Chinese is written without them).
    compacts: Vec<String>,
    /// The words of each name.
    words: Vec<Vec<String>>,
}

impl Prepared {
    fn new(e: &Entry<'_>) -> Prepared {
        let names: Vec<String> = e.names.iter().map(|n| fold(n)).collect();
        Prepared {
            sku: compact(&fold(e.sku)),
            compacts: names.iter().map(|n| compact(n)).collect(),
            words: names.iter().map(|n| words(n)).collect(),
            names,
        }
    }

    /// Every token occurs in a name as written.
    fn direct(
        &self,
        tokens: &[String],
        compact_query: &str,
        joined: &str,
        index: usize,
    ) -> Option<Hit> {
        let all = tokens.iter().all(|t| {
            self.names.iter().any(|n| n.contains(t.as_str()))
                || self.compacts.iter().any(|n| n.contains(t.as_str()))
                || self.has_han_pieces(t)
        });
        if !all {
            return None;
        }
        let closeness = if self.compacts.iter().any(|n| n.starts_with(compact_query)) {
            0
        } else if self.names.iter().any(|n| n.contains(joined)) {
            1
        } else {
            2
        };
        let complete = self.complete(tokens, compact_query).is_some();
        Some(Hit {
            index,
            quality: if complete {
                Quality::Complete
            } else {
                Quality::Words
            },
            closeness,
            edits: 0,
        })
    }

    /// A run of Chinese written without the spaces or the word order of the name
    /// ("李錦記蠔油" for "李錦記 特級蠔油", "成人外科口罩" for "外科口罩 成人 50個裝"): the
    /// run splits, longest pieces first, into pieces of two characters or more that all
    /// occur in one name.
    fn has_han_pieces(&self, token: &str) -> bool {
        let chars: Vec<char> = token.chars().collect();
        if chars.len() < 4 || !chars.iter().all(|c| crate::intent::is_han(*c)) {
            return false;
        }
        self.compacts.iter().any(|name| {
            let mut at = 0;
            while at < chars.len() {
                let longest = (2..=chars.len() - at).rev().find(|&len| {
                    let piece: String = chars[at..at + len].iter().collect();
                    name.contains(&piece)
                });
                match longest {
                    Some(len) => at += len,
                    None => return false,
                }
            }
            true
        })
    }

    /// Every token occurs in a name once typos are forgiven.
    fn fuzzy(&self, tokens: &[String], index: usize) -> Option<Hit> {
        let mut edits = 0;
        for t in tokens {
            let direct = self.names.iter().any(|n| n.contains(t.as_str()))
                || self.compacts.iter().any(|n| n.contains(t.as_str()));
            if direct {
                continue;
            }
            edits += self
                .words
                .iter()
                .flatten()
                .filter_map(|w| typo_distance(t, w))
                .min()?;
        }
        let compact_query: String = tokens.concat();
        let quality = match self.complete(tokens, &compact_query) {
            Some(_) => Quality::Complete,
            None => Quality::Fuzzy,
        };
        Some(Hit {
            index,
            quality,
            closeness: 2,
            edits,
        })
    }

    /// Whether the text names every word of one of the names (with typos forgiven);
    /// returns the letters changed.
    fn complete(&self, tokens: &[String], compact_query: &str) -> Option<usize> {
        self.words
            .iter()
            .filter(|ws| !ws.is_empty())
            .filter_map(|ws| {
                let mut edits = 0;
                for w in ws {
                    if compact_query.contains(w.as_str()) {
                        continue;
                    }
                    edits += tokens.iter().filter_map(|t| typo_distance(t, w)).min()?;
                }
                Some(edits)
            })
            .min()
    }
}

/// The number of letters that turn `typed` into `word`, when small enough to be a typo.
/// Words with digits, and words shorter than three letters, must be written exactly.
fn typo_distance(typed: &str, word: &str) -> Option<usize> {
    if typed == word {
        return Some(0);
    }
    let letters = |s: &str| s.chars().all(char::is_alphabetic) && s.is_ascii();
    if !letters(typed) || !letters(word) {
        return None;
    }
    let len = typed.chars().count().min(word.chars().count());
    let allowed = match len {
        0..=2 => 0,
        3..=7 => 1,
        _ => 2,
    };
    if allowed == 0 {
        return None;
    }
    let d = strsim::damerau_levenshtein(typed, word);
    (d <= allowed).then_some(d)
}

/// Lower case, one script (Traditional as Simplified), no Vietnamese diacritics, full-width
/// forms folded to ASCII, ideographic space to a space.
pub fn fold(text: &str) -> String {
    // Simplified and Traditional spellings and Vietnamese with or without diacritics
    // compare equal ("维他柠檬茶" finds "維他檸檬茶"), the same folding the intent rules use.
    let text = crate::intent::fold::fold_str(text);
    text.chars()
        .map(|c| match c {
            '\u{3000}' => ' ',
            '\u{ff01}'..='\u{ff5e}' => char::from_u32(c as u32 - 0xfee0).unwrap_or(c),
            _ => c,
        })
        .flat_map(char::to_lowercase)
        .collect()
}

fn compact(text: &str) -> String {
    text.chars().filter(|c| !c.is_whitespace()).collect()
}

/// Words: runs of letters and digits; punctuation ("coca-cola", "x 24") separates.
/// Chinese runs stay whole, since they are matched as substrings.
/// A change between Chinese and other letters or digits also separates ("拖板6位" is 拖板,
/// 6, 位; "寶礦力900ml" is 寶礦力, 900ml), since people write a size or model right after a
/// Chinese name that the catalog spells with a space.
fn words(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for run in text
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
    {
        let mut start = 0;
        let mut prev: Option<bool> = None;
        for (i, c) in run.char_indices() {
            let han = crate::intent::is_han(c);
            if prev.is_some_and(|p| p != han) {
                out.push(run[start..i].to_string());
                start = i;
            }
            prev = Some(han);
        }
        out.push(run[start..].to_string());
    }
    // "512G" / "1T" as people write storage sizes: the catalog spells them "512GB" / "1TB".
    for w in &mut out {
        let digits = w.trim_end_matches(['g', 't', 'G', 'T']);
        if w.len() == digits.len() + 1
            && !digits.is_empty()
            && digits.bytes().all(|b| b.is_ascii_digit())
        {
            w.push('b');
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const ITEMS: &[(&str, &str, &str)] = &[
        (
            "APL-IP15P-128",
            "iPhone 15 Pro 128GB",
            "iPhone 15 Pro 128GB",
        ),
        (
            "APL-IP15P-256",
            "iPhone 15 Pro 256GB",
            "iPhone 15 Pro 256GB",
        ),
        (
            "APL-IP15P-512",
            "iPhone 15 Pro 512GB",
            "iPhone 15 Pro 512GB",
        ),
        ("VITA-LT-250", "Vita Lemon Tea 250ml", "維他檸檬茶 250ml"),
        ("VITA-LT-500", "Vita Lemon Tea 500ml", "維他檸檬茶 500ml"),
        ("COKE-330", "Coca-Cola 330ml", "可口可樂 330ml"),
    ];

    fn entries() -> Vec<Entry<'static>> {
        ITEMS
            .iter()
            .map(|(sku, en, zh)| Entry {
                sku,
                names: if *sku == "COKE-330" {
                    vec![en, zh, "Coke"]
                } else {
                    vec![en, zh]
                },
            })
            .collect()
    }

    fn best(text: &str) -> Option<&'static str> {
        let hits = rank(text, &entries());
        unique_best(&hits).map(|h| ITEMS[h.index].0)
    }

    fn skus(text: &str) -> Vec<&'static str> {
        rank(text, &entries())
            .into_iter()
            .map(|h| ITEMS[h.index].0)
            .collect()
    }

    #[test]
    fn typos_and_word_order_still_name_one_item() {
        assert_eq!(best("iphnoe 15 pro 256gb"), Some("APL-IP15P-256"));
        assert_eq!(best("256GB iPhone 15 Pro"), Some("APL-IP15P-256"));
        assert_eq!(best("ｉＰｈｏｎｅ　15 Pro 256GB"), Some("APL-IP15P-256"));
        assert_eq!(best("apl-ip15p-256"), Some("APL-IP15P-256"));
        assert_eq!(best("coke"), Some("COKE-330"));
        assert_eq!(best("維他檸檬茶250ml"), Some("VITA-LT-250"));
    }

    #[test]
    fn ambiguous_text_has_no_best_but_lists_candidates() {
        assert_eq!(best("iphone 15 pro"), None);
        assert_eq!(skus("iphone 15 pro").len(), 3);
        assert_eq!(best("vita lemon tee"), None);
        assert_eq!(skus("vita lemon tee"), ["VITA-LT-250", "VITA-LT-500"]);
        assert_eq!(best("維他檸檬茶"), None);
    }

    #[test]
    fn digits_are_never_corrected() {
        assert!(skus("iphone 15 pro 265gb").is_empty());
        assert!(skus("iphone 14 pro").is_empty());
    }

    #[test]
    fn nonsense_and_blank_match_nothing() {
        assert!(skus("zzz").is_empty());
        assert!(skus("   ").is_empty());
        assert!(skus("??").is_empty());
    }

    /// Chinese written without the catalog's spaces, in Simplified characters, or with a
    /// size right after the name still finds the item.
    #[test]
    fn chinese_in_other_spacing_script_and_order() {
        let entries = [
            Entry {
                sku: "OYS",
                names: vec![
                    "Lee Kum Kee Premium Oyster Sauce 510g",
                    "李錦記 特級蠔油 510克",
                ],
            },
            Entry {
                sku: "MASK-A",
                names: vec!["Surgical Masks Adult, Box of 50", "外科口罩 成人 50個裝"],
            },
            Entry {
                sku: "MASK-K",
                names: vec!["Surgical Masks Kids, Box of 50", "外科口罩 兒童 50個裝"],
            },
            Entry {
                sku: "SOCK-6",
                names: vec!["Extension Socket 6-way", "拖板 6位"],
            },
            Entry {
                sku: "SOCK-4",
                names: vec!["Extension Socket 4-way", "拖板 4位"],
            },
        ];
        let one = |text: &str| {
            let hits = rank(text, &entries);
            unique_best(&hits).map(|h| entries[h.index].sku)
        };
        assert_eq!(one("李錦記蠔油"), Some("OYS"));
        assert_eq!(one("李锦记蚝油"), Some("OYS"));
        assert_eq!(one("成人外科口罩"), Some("MASK-A"));
        assert_eq!(one("兒童外科口罩"), Some("MASK-K"));
        assert_eq!(one("拖板6位"), Some("SOCK-6"));
        // Pieces must all be in one name; a character no name has matches nothing.
        assert!(rank("李錦記醬油王", &entries).is_empty());
    }
}
