//! The lexicon: every word and name the rules know, compiled into one automaton, and the
//! typo corrector that puts a message's words into the lexicon's spelling first.
//!
//! Understanding works entities first (DESIGN decision 1): before anything decides what a
//! message asks, every cue word, closed-class word (openers, designators, action verbs,
//! "me"), place, item, customer and colleague in the whole message is found with its span.
//! All of them come from data: the cues and words from `intents/`, the names from the
//! connector's [`Vocabulary`] and the directory. One Aho-Corasick pass finds every
//! candidate; overlapping candidates are settled longest first, so "Kowloon Bay Office
//! Supplies" is a customer and not the Kowloon region, and "low stock" is one cue rather
//! than "low" and "stock".
//!
//! Typos are forgiven in Latin words of four letters or more that the lexicon does not
//! know: such a word is replaced by the known word one edit away (two for words of eight
//! letters or more) before matching. Digits are never corrected ("128GB" is not "256GB").

use std::collections::{HashMap, HashSet};
use std::ops::Range;

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};

use super::catalog::{Catalog, matching_form};
use super::{Intent, LeaveType};
use crate::erp::{PlaceKind, Vocabulary};

/// What a phrase of the lexicon means. One phrase can mean several things (a cue of two
/// intents; a word that is also a name).
#[derive(Debug, Clone, PartialEq)]
pub enum Meaning {
    /// Evidence for (or against) an intent.
    Cue {
        intent: Intent,
        weight: f32,
    },
    /// A closed-class word (`filler`, `action`, `warehouse`, …; see `WORD_CLASSES`).
    Word(&'static str),
    /// A place of the vocabulary (index into `Vocabulary::places.places`).
    Place(usize),
    /// An item named exactly: SKU, name or alias (index into `Vocabulary::items`).
    Item(usize),
    /// A customer (index into `Vocabulary::customers`).
    Customer(usize),
    /// A colleague (index into `Lexicon::people`).
    Person(usize),
    LeaveType(LeaveType),
    /// Part of an item name written in Han characters ("維他檸檬茶", "火牛"): competes with
    /// the other phrases so a one-character word never splits an item name.
    ItemText,
}

/// A colleague as the lexicon knows them: the id the leave connector uses and every name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Person {
    pub id: String,
    pub names: Vec<String>,
}

/// The compiled lexicon.
#[derive(Debug, Clone)]
pub struct Lexicon {
    ac: AhoCorasick,
    /// Per automaton pattern, what it means.
    meanings: Vec<Vec<Meaning>>,
    /// Per automaton pattern, its text (for explain).
    phrases: Vec<String>,
    /// Latin words the lexicon spells, for typo correction.
    known: HashSet<String>,
    /// Single-deletion variants of known words of four letters or more → those words.
    deletions: HashMap<String, Vec<u32>>,
    known_list: Vec<String>,
    /// Latin item words → how many items use them (a word in many items is weak).
    item_words: HashMap<String, u32>,
    /// Han substrings (two characters or more) of item names and aliases.
    item_han: HashSet<String>,
    /// Latin words of multi-word place names → the word that follows them ("tsuen" →
    /// "wan"), so a short typo of the second word ("Tsuen Wna") is corrected.
    place_next: HashMap<String, Vec<String>>,
    /// Chinese place names and aliases (matching form), for one-character typos.
    place_han: Vec<Vec<char>>,
    /// Indices into `place_han` by a name's first and by its second character: a window
    /// with at most one wrong character shares one of them with the name.
    place_han_by_first: HashMap<char, Vec<usize>>,
    place_han_by_second: HashMap<char, Vec<usize>>,
    pub vocab: Vocabulary,
    pub people: Vec<Person>,
    /// Phrases written only in the Malay or only in the Vietnamese lists: evidence of the
    /// language of a short message ("batalkan SO-2026-00123", "xin chào").
    pub phrase_locale: HashMap<String, super::Locale>,
}

/// Indices of `names` by their character at `at`.
fn index_by(names: &[Vec<char>], at: usize) -> HashMap<char, Vec<usize>> {
    let mut out: HashMap<char, Vec<usize>> = HashMap::new();
    for (i, n) in names.iter().enumerate() {
        if let Some(c) = n.get(at) {
            out.entry(*c).or_default().push(i);
        }
    }
    out
}

/// Whether `word` is `stem` with an English inflection ("reserved", "updates", "moving").
fn is_inflection_of(word: &str, stem: &str) -> bool {
    let base = stem.strip_suffix('e').unwrap_or(stem);
    ["s", "es", "d", "ed", "ing", "led"].iter().any(|suffix| {
        word.strip_suffix(suffix)
            .is_some_and(|w| w == stem || w == base)
    })
}

/// Closed-class word lists every catalog must be able to name (`'static` for [`Meaning`]).
const CLASSES: [&str; 23] = super::catalog::WORD_CLASSES;

/// Words that belong to period expressions and numbers: known to the corrector so that
/// "last mnth" becomes "last month" before periods are scanned.
const PERIOD_WORDS: &[&str] = &[
    "today",
    "yesterday",
    "tomorrow",
    "last",
    "this",
    "next",
    "past",
    "previous",
    "week",
    "weeks",
    "month",
    "months",
    "year",
    "years",
    "quarter",
    "quarters",
    "days",
    "weekend",
    "january",
    "february",
    "march",
    "april",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
    "since",
    "from",
    "until",
    "through",
    "between",
    "minggu",
    "bulan",
    "tahun",
    "semalam",
    "hari",
    "lepas",
    "thang",
    "tuan",
    "ngay",
    "truoc",
    "nay",
    "qua",
    "daily",
    "weekly",
    "monthly",
    "quarterly",
    "yearly",
    "annual",
    "three",
    "four",
    "five",
    "seven",
    "eight",
    "nine",
    "twelve",
    "twenty",
    "thirty",
    "dozen",
];

/// Frequent English words that are never typos of something else ("rules" is not "ruled",
/// "boss" is not "boxes"): known to the corrector, so it leaves them alone.
const COMMON_WORDS: &[&str] = &[
    "about",
    "above",
    "after",
    "again",
    "against",
    "along",
    "also",
    "always",
    "among",
    "another",
    "anyone",
    "anything",
    "around",
    "asked",
    "away",
    "back",
    "because",
    "been",
    "before",
    "being",
    "below",
    "best",
    "better",
    "between",
    "both",
    "boss",
    "bring",
    "call",
    "came",
    "come",
    "could",
    "data",
    "dear",
    "does",
    "done",
    "down",
    "dump",
    "during",
    "each",
    "else",
    "email",
    "enough",
    "even",
    "ever",
    "every",
    "everyone",
    "everything",
    "fine",
    "first",
    "from",
    "give",
    "going",
    "gone",
    "good",
    "great",
    "have",
    "hello",
    "help",
    "here",
    "ignore",
    "into",
    "just",
    "keep",
    "kind",
    "know",
    "last",
    "late",
    "later",
    "least",
    "less",
    "like",
    "line",
    "list",
    "little",
    "long",
    "look",
    "made",
    "make",
    "many",
    "maybe",
    "mean",
    "more",
    "most",
    "much",
    "must",
    "name",
    "need",
    "never",
    "next",
    "nice",
    "none",
    "nothing",
    "okay",
    "once",
    "only",
    "open",
    "other",
    "over",
    "part",
    "people",
    "please",
    "plus",
    "previous",
    "pull",
    "quick",
    "quite",
    "rather",
    "read",
    "real",
    "really",
    "right",
    "rule",
    "rules",
    "said",
    "same",
    "says",
    "seem",
    "send",
    "should",
    "show",
    "since",
    "some",
    "something",
    "soon",
    "sorry",
    "start",
    "still",
    "such",
    "sure",
    "take",
    "tell",
    "than",
    "thank",
    "thanks",
    "that",
    "their",
    "them",
    "then",
    "there",
    "these",
    "they",
    "thing",
    "things",
    "think",
    "this",
    "those",
    "though",
    "through",
    "time",
    "today",
    "told",
    "tomorrow",
    "too",
    "under",
    "until",
    "upon",
    "very",
    "want",
    "wants",
    "well",
    "went",
    "were",
    "what",
    "when",
    "where",
    "which",
    "while",
    "will",
    "wish",
    "with",
    "within",
    "without",
    "work",
    "would",
    "year",
    "your",
    "yours",
    "instructions",
    "everybody",
    "system",
    "prompt",
    "admin",
    "now",
];

/// Characters that may sit between the words of one item name ("USB-C", "Coca-Cola",
/// "AirPods Pro (2nd generation)").
fn item_gap(c: char) -> bool {
    c == ' ' || c == '-' || c == '.' || c == '&' || c == '(' || c == ')' || c == '/' || c == '\''
}

impl Lexicon {
    /// Compiles the catalog's cues and words with the vocabulary's names.
    pub fn new(catalog: &Catalog, vocab: Vocabulary, people: Vec<Person>) -> Lexicon {
        let mut table: HashMap<String, Vec<Meaning>> = HashMap::new();
        let mut add = |text: String, m: Meaning| {
            if text.is_empty() {
                return;
            }
            let list = table.entry(text).or_default();
            if !list.contains(&m) {
                list.push(m);
            }
        };
        for def in &catalog.intents {
            for cue in &def.cues {
                add(
                    cue.text.clone(),
                    Meaning::Cue {
                        intent: def.intent,
                        weight: cue.weight,
                    },
                );
            }
        }
        for class in CLASSES {
            for (w, _) in catalog.words(class) {
                add(w.clone(), Meaning::Word(class));
            }
        }
        for t in LeaveType::ALL {
            for w in leave_words(t) {
                add(matching_form(w), Meaning::LeaveType(t));
            }
        }
        for (i, p) in vocab.places.places.iter().enumerate() {
            for name in std::iter::once(&p.name_en)
                .chain([&p.name_zh, &p.code])
                .chain(p.aliases.iter())
            {
                let m = matching_form(name);
                // Two-letter codes ("KT", "MK") only as written in capitals, see below.
                if m.len() >= 2 {
                    add(m, Meaning::Place(i));
                }
            }
        }
        let mut place_next: HashMap<String, Vec<String>> = HashMap::new();
        let mut place_han: Vec<Vec<char>> = Vec::new();
        for p in &vocab.places.places {
            for name in std::iter::once(&p.name_en)
                .chain([&p.name_zh])
                .chain(p.aliases.iter())
            {
                let m = matching_form(name);
                let words: Vec<&str> = m.split(' ').collect();
                for pair in words.windows(2) {
                    if pair
                        .iter()
                        .all(|w| w.bytes().all(|b| b.is_ascii_alphabetic()))
                    {
                        let next = place_next.entry(pair[0].to_string()).or_default();
                        if !next.iter().any(|n| n == pair[1]) {
                            next.push(pair[1].to_string());
                        }
                    }
                }
                let chars: Vec<char> = m.chars().collect();
                if chars.len() >= 2 && chars.iter().all(|c| super::is_han(*c)) {
                    place_han.push(chars);
                }
            }
        }
        let mut item_words: HashMap<String, u32> = HashMap::new();
        let mut item_han = HashSet::new();
        for (i, (item, aliases)) in vocab.items.iter().enumerate() {
            let mut seen = HashSet::new();
            for name in std::iter::once(&item.name_en)
                .chain([&item.name_zh, &item.sku])
                .chain(aliases.iter())
            {
                let m = matching_form(name);
                add(m.clone(), Meaning::Item(i));
                for w in latin_words(&m) {
                    // "512G" is how people write "512GB": the short form is an item word too.
                    let short = storage_short_form(w);
                    for w in std::iter::once(w.to_string()).chain(short) {
                        if seen.insert(w.clone()) {
                            *item_words.entry(w).or_default() += 1;
                        }
                    }
                }
                for run in han_runs(&m) {
                    let chars: Vec<char> = run.chars().collect();
                    for a in 0..chars.len() {
                        for b in a + 2..=chars.len().min(a + 8) {
                            item_han.insert(chars[a..b].iter().collect::<String>());
                        }
                    }
                }
            }
        }
        for (i, c) in vocab.customers.iter().enumerate() {
            for form in customer_forms(c) {
                let is_place = vocab
                    .places
                    .places
                    .iter()
                    .any(|p| matching_form(&p.name_en) == form);
                if !is_place {
                    add(form, Meaning::Customer(i));
                }
            }
        }
        for (i, p) in people.iter().enumerate() {
            for n in &p.names {
                let m = matching_form(n);
                if m.chars().count() >= 2 {
                    add(m, Meaning::Person(i));
                }
            }
        }
        let mut langs: HashMap<String, HashSet<String>> = HashMap::new();
        for def in &catalog.intents {
            for cue in &def.cues {
                langs
                    .entry(cue.text.clone())
                    .or_default()
                    .insert(cue.lang.clone());
            }
        }
        for class in CLASSES {
            for (w, l) in catalog.words(class) {
                langs.entry(w.clone()).or_default().insert(l.clone());
            }
        }
        let phrase_locale: HashMap<String, super::Locale> = langs
            .into_iter()
            .filter_map(
                |(p, ls)| match ls.iter().map(String::as_str).collect::<Vec<_>>()[..] {
                    ["ms"] => Some((p, super::Locale::Ms)),
                    ["vi"] => Some((p, super::Locale::Vi)),
                    _ => None,
                },
            )
            .collect();
        let mut phrases: Vec<String> = table.keys().cloned().collect();
        phrases.sort();
        let meanings: Vec<Vec<Meaning>> = phrases
            .iter()
            .map(|p| table.remove(p).unwrap_or_default())
            .collect();
        let ac = AhoCorasickBuilder::new()
            .match_kind(MatchKind::Standard)
            .build(&phrases)
            .unwrap_or_else(|_| {
                AhoCorasick::new(Vec::<String>::new()).expect("an empty automaton always builds")
            });
        let mut known: HashSet<String> = HashSet::new();
        for p in &phrases {
            for w in latin_words(p) {
                known.insert(w.to_string());
            }
        }
        for w in PERIOD_WORDS {
            known.insert((*w).to_string());
        }
        for w in super::period::words() {
            known.insert(w.clone());
        }
        // Common words stop corrections but are not targets of one.
        let targets_end = known.clone();
        for w in COMMON_WORDS {
            known.insert((*w).to_string());
        }
        let known_list: Vec<String> = {
            let mut v: Vec<String> = targets_end
                .iter()
                .filter(|w| w.len() >= 4 && w.chars().all(|c| c.is_ascii_alphabetic()))
                .cloned()
                .collect();
            v.sort();
            v
        };
        let mut deletions: HashMap<String, Vec<u32>> = HashMap::new();
        for (i, w) in known_list.iter().enumerate() {
            let idx = u32::try_from(i).unwrap_or(u32::MAX);
            deletions.entry(w.clone()).or_default().push(idx);
            for d in single_deletions(w) {
                deletions.entry(d).or_default().push(idx);
            }
        }
        Lexicon {
            place_next,
            place_han_by_first: index_by(&place_han, 0),
            place_han_by_second: index_by(&place_han, 1),
            place_han,
            ac,
            meanings,
            phrases,
            known,
            deletions,
            known_list,
            item_words,
            item_han,
            vocab,
            people,
            phrase_locale,
        }
    }

    /// Whether `word` (matching form) occurs in an item name.
    pub fn is_item_word(&self, word: &str) -> bool {
        self.item_words.contains_key(word)
    }

    /// Whether the vocabulary lists items (otherwise items are what is left over).
    pub fn knows_items(&self) -> bool {
        !self.vocab.items.is_empty()
    }

    /// Corrects typos in Latin words the lexicon does not know. Returns the corrected text
    /// and the corrections made (as byte ranges of the corrected text with the original
    /// word), so spans can be mapped back.
    pub fn correct(&self, text: &str) -> Corrected {
        let mut out = String::with_capacity(text.len());
        let mut pieces = Vec::new();
        let mut last = 0;
        let bounds = ascii_word_bounds(text);
        for (n, &(start, end)) in bounds.iter().enumerate() {
            let word = &text[start..end];
            if !word.bytes().all(|b| b.is_ascii_alphabetic()) || self.known.contains(word) {
                continue;
            }
            // After the first word of a place name, the place's second word is the likely
            // reading ("Kwun Tonh", "Tsuen Wna"); otherwise the nearest known word.
            // "reserved", "cancelled", "leaves": an inflected word is not a typo of its
            // stem; "correcting" it would turn a description into a request.
            let fix = self.place_second_word(text, &bounds, n).or_else(|| {
                (word.len() >= 4)
                    .then(|| self.nearest(word))
                    .flatten()
                    .filter(|fix| !is_inflection_of(word, fix))
            });
            let Some(fix) = fix else {
                continue;
            };
            out.push_str(&text[last..start]);
            let c_start = out.len();
            out.push_str(fix);
            pieces.push(Correction {
                corrected: c_start..out.len(),
                original: start..end,
                word: fix.to_string(),
            });
            last = end;
        }
        out.push_str(&text[last..]);
        let mut corrected = Corrected { text: out, pieces };
        self.correct_han_places(&mut corrected);
        corrected
    }

    /// A word right after the first word of a two-word place name, one edit from that
    /// name's second word ("tsuen wna", "tsuen wn", "kwun tonh").
    fn place_second_word(&self, text: &str, bounds: &[(usize, usize)], n: usize) -> Option<&str> {
        let (word_start, word_end) = *bounds.get(n)?;
        let (prev_start, prev_end) = *bounds.get(n.checked_sub(1)?)?;
        if text.get(prev_end..word_start) != Some(" ") {
            return None;
        }
        let word = &text[word_start..word_end];
        let nexts = self.place_next.get(&text[prev_start..prev_end])?;
        let mut close = nexts
            .iter()
            .filter(|w| w.len() >= 3 && osa_distance(word, w) == 1);
        let first = close.next()?;
        close.next().is_none().then_some(first.as_str())
    }

    /// Chinese place names with one character wrong ("觀唐倉", "銅羅灣", "全湾仓"): names of
    /// three characters or more anywhere, two-character names only right before a
    /// designator (倉, 店, 區), where a place is certain to be meant. Replaced in place
    /// (Han characters keep their byte length), so offsets stay valid.
    fn correct_han_places(&self, c: &mut Corrected) {
        if self.place_han.is_empty() || c.text.is_ascii() {
            return;
        }
        let chars: Vec<(usize, char)> = c.text.char_indices().collect();
        // Closed-class phrases the lexicon spells exactly are not typos: "按门店" (by
        // store) is not a misspelt "屯门" before a designator.
        let spelled: Vec<Range<usize>> = self
            .ac
            .find_overlapping_iter(&c.text)
            .filter(|m| {
                self.meanings
                    .get(m.pattern().as_usize())
                    .is_some_and(|ms| ms.iter().any(|x| matches!(x, Meaning::Word(_))))
                    && c.text[m.start()..m.end()].chars().count() >= 2
            })
            .map(|m| m.start()..m.end())
            .collect();
        let mut fixes: Vec<(Range<usize>, String)> = Vec::new();
        let window = |i: usize, n: usize| {
            chars
                .get(i..i + n)
                .filter(|w| w.iter().all(|(_, ch)| super::is_han(*ch)))
        };
        let mut i = 0;
        'scan: while i < chars.len() {
            // A place spelt right here wins over any near miss.
            let first = chars.get(i).map(|(_, c)| *c);
            let second = chars.get(i + 1).map(|(_, c)| *c);
            let exact_candidates = first
                .and_then(|c| self.place_han_by_first.get(&c))
                .map(Vec::as_slice)
                .unwrap_or_default();
            let near_candidates = second
                .and_then(|c| self.place_han_by_second.get(&c))
                .map(Vec::as_slice)
                .unwrap_or_default();
            for name in exact_candidates
                .iter()
                .filter_map(|&k| self.place_han.get(k))
            {
                if let Some(w) = window(i, name.len())
                    && w.iter().zip(name).all(|((_, a), b)| a == b)
                {
                    i += name.len();
                    continue 'scan;
                }
            }
            for name in exact_candidates
                .iter()
                .chain(near_candidates)
                .filter_map(|&k| self.place_han.get(k))
            {
                let n = name.len();
                let Some(w) = window(i, n) else { continue };
                // One wrong character, counted without allocating; most windows stop at two.
                let mut wrong_at = None;
                let mut wrong = 0;
                for (k, ((_, a), b)) in w.iter().zip(name).enumerate() {
                    if a != b {
                        wrong += 1;
                        if wrong > 1 {
                            break;
                        }
                        wrong_at = Some(k);
                    }
                }
                let Some(k) = wrong_at.filter(|_| wrong == 1) else {
                    continue;
                };
                let next = chars.get(i + n).map(|(_, ch)| *ch);
                let designated = next.is_some_and(|ch| "仓店区".contains(ch));
                // The wrong character inside the name ("銅羅灣"), not at an edge, where the
                // window would only be overlapping a neighbouring word ("本週港島" is not
                // a misspelt "香港島"); or any character before a designator.
                // "门店" / "門店" is the everyday word for a shop, not a designator after a
                // misspelt "屯门": "客户在门店等着" names no place.
                let shop_word = matches!((w[n - 1].1, next), ('门' | '門', Some('店')));
                let fits = (n >= 3 && k > 0 && k + 1 < n) || (n == 2 && designated && !shop_word);
                if !fits || w[k].1.len_utf8() != name[k].len_utf8() {
                    continue;
                }
                // Nor when a place spelt right starts inside the window ("週港島區").
                let overlaps_exact = (i + 1..i + n).any(|j| {
                    let at = chars.get(j).map(|(_, c)| *c);
                    let others = at
                        .and_then(|c| self.place_han_by_first.get(&c))
                        .map(Vec::as_slice)
                        .unwrap_or_default();
                    others
                        .iter()
                        .filter_map(|&k| self.place_han.get(k))
                        .any(|other| {
                            window(j, other.len())
                                .is_some_and(|w| w.iter().zip(other).all(|((_, a), b)| a == b))
                        })
                });
                let start = w[0].0;
                let end = w[n - 1].0 + w[n - 1].1.len_utf8();
                let in_phrase = spelled.iter().any(|r| r.start < end && start < r.end);
                if !overlaps_exact && !in_phrase {
                    fixes.push((start..end, name.iter().collect()));
                    i += n;
                    continue 'scan;
                }
            }
            i += 1;
        }
        for (range, fix) in fixes {
            let original = c.back_range(&range);
            c.text.replace_range(range.clone(), &fix);
            c.pieces.push(Correction {
                corrected: range,
                original,
                word: fix,
            });
        }
        c.pieces.sort_by_key(|p| p.corrected.start);
    }

    /// The known word nearest to `word` within the allowed distance, if one stands out.
    fn nearest(&self, word: &str) -> Option<&str> {
        let allowed = if word.len() >= 8 { 2 } else { 1 };
        let mut best: Option<(usize, &str)> = None;
        let mut tie = false;
        let mut probe = |key: &str| {
            if let Some(ids) = self.deletions.get(key) {
                for &i in ids {
                    let Some(cand) = self.known_list.get(i as usize) else {
                        continue;
                    };
                    let d = osa_distance(word, cand);
                    if d == 0 || d > allowed {
                        continue;
                    }
                    match best {
                        Some((bd, bw)) if d > bd || (d == bd && bw == cand.as_str()) => {}
                        Some((bd, _)) if d == bd => tie = true,
                        _ => {
                            best = Some((d, cand.as_str()));
                            tie = false;
                        }
                    }
                }
            }
        };
        probe(word);
        for d in single_deletions(word) {
            probe(&d);
        }
        match best {
            Some((_, w)) if !tie => Some(w),
            _ => None,
        }
    }

    /// Every lexicon phrase in `text` (corrected, lower-case), overlaps settled longest
    /// first, Latin phrases only on word boundaries.
    pub fn find(&self, text: &str, taken: &[Range<usize>]) -> Vec<Found> {
        let bytes = text.as_bytes();
        let mut all: Vec<(usize, usize, usize)> = Vec::new();
        for m in self.ac.find_overlapping_iter(text) {
            let (s, e) = (m.start(), m.end());
            let starts_word = bytes.get(s).is_some_and(|b| b.is_ascii_alphanumeric());
            let ends_word = e > 0 && bytes.get(e - 1).is_some_and(|b| b.is_ascii_alphanumeric());
            if starts_word && s > 0 && bytes.get(s - 1).is_some_and(|b| b.is_ascii_alphanumeric()) {
                continue;
            }
            if ends_word && bytes.get(e).is_some_and(|b| b.is_ascii_alphanumeric()) {
                continue;
            }
            all.push((s, e, m.pattern().as_usize()));
        }
        // Han fragments of item names compete too (longest at each position).
        let chars: Vec<(usize, char)> = text.char_indices().collect();
        let item_text = self.meanings.len();
        for i in 0..chars.len() {
            let (at, c) = chars[i];
            if !super::is_han(c) {
                continue;
            }
            for j in (i + 2..=(i + 8).min(chars.len())).rev() {
                let end = chars.get(j).map_or(text.len(), |(b, _)| *b);
                let piece = &text[at..end];
                if piece.chars().all(super::is_han) && self.item_han.contains(piece) {
                    all.push((at, end, item_text));
                    break;
                }
            }
        }
        // Longest first; at equal length the earlier one.
        all.sort_by(|a, b| (b.1 - b.0).cmp(&(a.1 - a.0)).then(a.0.cmp(&b.0)));
        let mut used: Vec<Range<usize>> = taken.to_vec();
        let mut found = Vec::new();
        for (s, e, p) in all {
            if used.iter().any(|r| r.start < e && s < r.end) {
                continue;
            }
            if p == item_text {
                used.push(s..e);
                found.push(Found {
                    span: s..e,
                    phrase: text[s..e].to_string(),
                    meanings: vec![Meaning::ItemText],
                });
                continue;
            }
            let Some(meanings) = self.meanings.get(p) else {
                continue;
            };
            let meanings = meanings.clone();
            used.push(s..e);
            found.push(Found {
                span: s..e,
                phrase: self.phrases.get(p).cloned().unwrap_or_default(),
                meanings,
            });
        }
        found.sort_by_key(|f| f.span.start);
        found
    }

    /// Item mentions in the parts of `text` no other phrase took: runs of item words
    /// (Latin) and item-name fragments (Han), joined when adjacent.
    pub fn item_spans(&self, text: &str, taken: &[Range<usize>]) -> Vec<Range<usize>> {
        let free = |r: &Range<usize>| !taken.iter().any(|t| t.start < r.end && r.start < t.end);
        let mut pieces: Vec<(Range<usize>, bool, bool)> = Vec::new();
        for (s, e) in ascii_word_bounds(text) {
            let w = &text[s..e];
            if !free(&(s..e)) {
                continue;
            }
            if let Some(&n) = self.item_words.get(w) {
                // Alone, a word names an item only when few items share it ("dyson", not
                // "pro"); next to another item word any non-generic word will do.
                let weak = n >= 10 || w.bytes().all(|b| b.is_ascii_digit()) || w.len() < 2;
                let alone = !weak && n <= 3 && w.len() >= 4;
                pieces.push((s..e, !weak, alone));
            }
        }
        // Han fragments: the longest item fragment at each free position.
        let idx: Vec<(usize, char)> = text.char_indices().collect();
        let mut i = 0;
        while i < idx.len() {
            let (at, c) = idx[i];
            if !super::is_han(c) || !free(&(at..at + c.len_utf8())) {
                i += 1;
                continue;
            }
            let mut best = None;
            for j in (i + 2..=(i + 8).min(idx.len())).rev() {
                let end = idx.get(j).map_or(text.len(), |(b, _)| *b);
                let piece = &text[at..end];
                if piece.chars().all(super::is_han)
                    && free(&(at..end))
                    && self.item_han.contains(piece)
                {
                    best = Some((j, end));
                    break;
                }
            }
            match best {
                Some((j, end)) => {
                    pieces.push((at..end, true, true));
                    i = j;
                }
                None => i += 1,
            }
        }
        pieces.sort_by_key(|(r, _, _)| r.start);
        // Join pieces separated only by gap characters.
        let mut spans: Vec<(Range<usize>, bool, usize, bool)> = Vec::new();
        for (r, strong, alone) in pieces {
            if let Some((last, s, n, a)) = spans.last_mut()
                && text
                    .get(last.end..r.start)
                    .is_some_and(|g| g.chars().all(item_gap))
            {
                last.end = r.end;
                *s |= strong;
                *n += 1;
                *a |= alone;
                continue;
            }
            spans.push((r, strong, 1, alone));
        }
        spans
            .into_iter()
            .filter(|(_, s, n, a)| *s && (*n >= 2 || *a))
            .map(|(r, _, _, _)| r)
            .collect()
    }
}

/// "512g" for "512gb", "1t" for "1tb": the storage sizes people write without the "B".
fn storage_short_form(word: &str) -> Option<String> {
    let digits = word.trim_end_matches(|c: char| c.is_ascii_alphabetic());
    let unit = &word[digits.len()..];
    (!digits.is_empty()
        && digits.bytes().all(|b| b.is_ascii_digit())
        && matches!(unit, "gb" | "tb"))
    .then(|| format!("{digits}{}", &unit[..1]))
}

/// A phrase of the lexicon found in a message.
#[derive(Debug, Clone, PartialEq)]
pub struct Found {
    pub span: Range<usize>,
    pub phrase: String,
    pub meanings: Vec<Meaning>,
}

/// A message after typo correction, with the way back to the uncorrected text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Corrected {
    pub text: String,
    pub pieces: Vec<Correction>,
}

/// One corrected word.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Correction {
    pub corrected: Range<usize>,
    pub original: Range<usize>,
    pub word: String,
}

impl Corrected {
    /// Maps a byte offset of the corrected text to the uncorrected one.
    pub fn back(&self, pos: usize) -> usize {
        let mut delta: isize = 0;
        for p in &self.pieces {
            if pos < p.corrected.start {
                break;
            }
            if pos < p.corrected.end {
                // Inside a corrected word: its start or end in the original.
                return if pos == p.corrected.start {
                    p.original.start
                } else {
                    p.original.end
                };
            }
            delta = (p.original.end as isize) - (p.corrected.end as isize);
        }
        (pos as isize + delta).max(0) as usize
    }

    /// Maps a range of the corrected text to the uncorrected one.
    pub fn back_range(&self, r: &Range<usize>) -> Range<usize> {
        let s = self.back(r.start);
        let e = if r.end == 0 {
            0
        } else {
            self.back(r.end - 1) + 1
        };
        // A range ending inside a corrected word ends where that word ends.
        let e = self
            .pieces
            .iter()
            .find(|p| p.corrected.start < r.end && r.end <= p.corrected.end)
            .map_or(e, |p| p.original.end);
        s..e.max(s)
    }
}

/// Byte ranges of the ASCII letter-and-digit runs of `text`.
pub fn ascii_word_bounds(text: &str) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut start = None;
    for (i, b) in text.bytes().enumerate() {
        if b.is_ascii_alphanumeric() {
            if start.is_none() {
                start = Some(i);
            }
        } else if let Some(s) = start.take() {
            out.push((s, i));
        }
    }
    if let Some(s) = start {
        out.push((s, text.len()));
    }
    out
}

fn latin_words(text: &str) -> impl Iterator<Item = &str> {
    ascii_word_bounds(text)
        .into_iter()
        .map(move |(s, e)| &text[s..e])
}

fn han_runs(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = None;
    for (i, c) in text.char_indices() {
        if super::is_han(c) {
            if start.is_none() {
                start = Some(i);
            }
        } else if let Some(s) = start.take() {
            out.push(&text[s..i]);
        }
    }
    if let Some(s) = start {
        out.push(&text[s..]);
    }
    out
}

fn single_deletions(w: &str) -> Vec<String> {
    (0..w.len())
        .filter(|&i| w.is_char_boundary(i) && w.is_char_boundary(i + 1))
        .map(|i| format!("{}{}", &w[..i], &w[i + 1..]))
        .collect()
}

/// Optimal string alignment distance (Levenshtein with adjacent transpositions).
pub fn osa_distance(a: &str, b: &str) -> usize {
    let a = a.as_bytes();
    let b = b.as_bytes();
    let (n, m) = (a.len(), b.len());
    if n.abs_diff(m) > 2 {
        return 3;
    }
    let mut d = vec![vec![0usize; m + 1]; n + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=n {
        for j in 1..=m {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut v = (d[i - 1][j] + 1)
                .min(d[i][j - 1] + 1)
                .min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                v = v.min(d[i - 2][j - 2] + 1);
            }
            d[i][j] = v;
        }
    }
    d[n][m]
}

/// The forms a customer is written in: the full name, the name without its company
/// suffix ("Ltd.", "Co.", "Limited"), and its first two words when they are distinctive.
fn customer_forms(name: &str) -> Vec<String> {
    const SUFFIX: &[&str] = &["ltd", "limited", "co", "company", "inc", "llc", "corp"];
    let full = matching_form(name);
    let words: Vec<&str> = latin_words(&full).collect();
    let mut out = vec![full.clone(), words.join(" ")];
    let mut core: Vec<&str> = words.clone();
    while core.last().is_some_and(|w| SUFFIX.contains(w)) {
        core.pop();
    }
    if !core.is_empty() {
        out.push(core.join(" "));
    }
    if core.len() >= 3 {
        out.push(core[..2].join(" "));
        out.push(core[..3].join(" "));
    }
    out.sort();
    out.dedup();
    out.retain(|f| f.len() >= 4);
    out
}

/// The words of each leave type, in every language.
fn leave_words(t: LeaveType) -> &'static [&'static str] {
    match t {
        LeaveType::Annual => &[
            "annual leave",
            "annual",
            "AL",
            "vacation",
            "vacation days",
            "年假",
            "大假",
            "年休假",
            "有薪年假",
            "cuti tahunan",
            "cuti tahun",
            "phép năm",
            "nghỉ phép năm",
            "ngày phép năm",
        ],
        LeaveType::Sick => &[
            "sick leave",
            "sick",
            "sickness",
            "SL",
            "病假",
            "cuti sakit",
            "nghỉ ốm",
            "phép ốm",
            "ốm",
        ],
        LeaveType::Compensation => &[
            "compensation leave",
            "compensatory leave",
            "comp leave",
            "time off in lieu",
            "days in lieu",
            "day in lieu",
            "lieu days",
            "lieu",
            "TOIL",
            "補假",
            "補休",
            "調休",
            "cuti ganti",
            "nghỉ bù",
            "phép bù",
        ],
        LeaveType::Maternity => &[
            "maternity leave",
            "maternity",
            "產假",
            "cuti bersalin",
            "nghỉ thai sản",
            "thai sản",
        ],
        LeaveType::Paternity => &[
            "paternity leave",
            "paternity",
            "侍產假",
            "陪產假",
            "cuti paterniti",
            "nghỉ chăm con",
        ],
        LeaveType::Unpaid => &[
            "unpaid leave",
            "no pay leave",
            "no-pay leave",
            "unpaid",
            "無薪假",
            "冇薪假",
            "cuti tanpa gaji",
            "nghỉ không lương",
            "không lương",
        ],
        LeaveType::Other => &[],
    }
}

/// A place's kind as the designator word classes name it.
pub fn designator_kind(class: &str) -> Option<PlaceKind> {
    match class {
        "warehouse" => Some(PlaceKind::Warehouse),
        "store" => Some(PlaceKind::Store),
        "region" => Some(PlaceKind::Region),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distance() {
        assert_eq!(osa_distance("mnth", "month"), 1);
        assert_eq!(osa_distance("teh", "the"), 1);
        assert_eq!(osa_distance("iphnoe", "iphone"), 1);
        assert_eq!(osa_distance("abc", "abcdef"), 3);
    }

    #[test]
    fn corrected_maps_back() {
        let c = Corrected {
            text: "sales last month in kowloon".into(),
            pieces: vec![Correction {
                corrected: 11..16,
                original: 11..15,
                word: "month".into(),
            }],
        };
        assert_eq!(c.back_range(&(20..27)), 19..26);
        assert_eq!(c.back_range(&(6..16)), 6..15);
    }
}
