//! Message catalogs: every user-facing sentence, per locale, in `locales/*.toml`.
//!
//! Keeping the texts as data lets a translator or an operator reword a card without
//! touching Rust, and lets a test prove that both languages say the same things. The TOML
//! tables nest by card (`[stock]`, `[sales]`, …); a key is the dotted path to a string
//! (`stock.title`, `unit.pc.other`). Texts take named `{placeholder}`s, filled by
//! [`Messages::fill`].
//!
//! The catalogs are compiled into the binary, so a reply can always be rendered; they are
//! checked together when loaded ([`Messages::builtin`]) so a key or placeholder that
//! is missing from one language is found at start-up (and in the tests), not by a user.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use crate::intent::Locale;

/// The catalogs embedded at build time, one per locale, English first: English is the
/// reference the others are checked against.
const BUILTIN: [(Locale, &str); 5] = [
    (Locale::En, include_str!("../../locales/en.toml")),
    (Locale::ZhHk, include_str!("../../locales/zh-HK.toml")),
    (Locale::ZhCn, include_str!("../../locales/zh-CN.toml")),
    (Locale::Ms, include_str!("../../locales/ms.toml")),
    (Locale::Vi, include_str!("../../locales/vi.toml")),
];

/// One locale's texts, by dotted key.
type Catalog = BTreeMap<String, String>;

/// All user-facing texts, per locale. Cloning is cheap (the catalogs are shared).
#[derive(Debug, Clone, Default)]
pub struct Messages {
    /// Keyed by locale tag; a locale without a catalog falls back to English.
    catalogs: Arc<BTreeMap<&'static str, Catalog>>,
}

/// Everything wrong with a set of catalogs, so one fix-and-rerun cycle repairs them all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("message catalogs have {} problem(s):\n  {}", .problems.len(), .problems.join("\n  "))]
pub struct MessagesError {
    /// One line per problem, naming the locale and the key.
    pub problems: Vec<String>,
}

impl Messages {
    /// The catalogs compiled into the binary (`locales/*.toml`, one per locale), checked
    /// for consistency.
    pub fn builtin() -> Result<Messages, MessagesError> {
        Messages::from_catalogs(&BUILTIN)
    }

    /// Parses and checks an English and a Hong Kong Chinese catalog only (the other
    /// locales then fall back to English).
    pub fn from_toml(en: &str, zh_hk: &str) -> Result<Messages, MessagesError> {
        Messages::from_catalogs(&[(Locale::En, en), (Locale::ZhHk, zh_hk)])
    }

    /// Parses and checks catalogs, the first being the reference: all must be valid TOML
    /// whose leaves are non-empty strings, must have the same keys, and each key must use
    /// the same placeholders in every language, with no stray braces.
    pub fn from_catalogs(sources: &[(Locale, &str)]) -> Result<Messages, MessagesError> {
        let mut problems = Vec::new();
        let parsed: Vec<(Locale, Catalog)> = sources
            .iter()
            .map(|(locale, text)| (*locale, parse_catalog(*locale, text, &mut problems)))
            .collect();
        if let Some(((reference_locale, reference), others)) = parsed.split_first() {
            let rtag = reference_locale.tag();
            for (locale, catalog) in others {
                let tag = locale.tag();
                for (key, text) in reference {
                    match catalog.get(key) {
                        None => {
                            problems.push(format!("{tag}: missing key `{key}` (present in {rtag})"))
                        }
                        Some(other) => {
                            let (a, b) = (placeholders(text), placeholders(other));
                            if a != b {
                                problems.push(format!(
                                    "`{key}`: placeholders differ: {rtag} uses {}, {tag} uses {}",
                                    show_set(&a),
                                    show_set(&b)
                                ));
                            }
                        }
                    }
                }
                for key in catalog.keys().filter(|k| !reference.contains_key(*k)) {
                    problems.push(format!("{rtag}: missing key `{key}` (present in {tag})"));
                }
            }
        }
        for (locale, catalog) in &parsed {
            for (key, text) in catalog {
                if let Some(problem) = brace_problem(text) {
                    problems.push(format!("{}: `{key}`: {problem}", locale.tag()));
                }
            }
        }

        if problems.is_empty() {
            Ok(Messages {
                catalogs: Arc::new(
                    parsed
                        .into_iter()
                        .map(|(locale, catalog)| (locale.tag(), catalog))
                        .collect(),
                ),
            })
        } else {
            Err(MessagesError { problems })
        }
    }

    fn catalog(&self, locale: Locale) -> Option<&Catalog> {
        self.catalogs
            .get(locale.tag())
            .or_else(|| self.catalogs.get(Locale::En.tag()))
    }

    /// The text for `key`, if the catalog has it. For callers that have a fallback of
    /// their own (e.g. a unit code the catalog does not know).
    pub fn get(&self, locale: Locale, key: &str) -> Option<&str> {
        self.catalog(locale)?.get(key).map(String::as_str)
    }

    /// The text for `key`; a missing key yields the key itself, which is visible enough to
    /// be reported yet never stops a reply.
    pub fn text(&self, locale: Locale, key: &str) -> String {
        self.get(locale, key).unwrap_or(key).to_string()
    }

    /// The text for `key` with each `{name}` replaced by its value from `args`. Values are
    /// inserted as they are (a value containing `{x}` is not expanded again); placeholders
    /// without a value stay visible.
    pub fn fill(&self, locale: Locale, key: &str, args: &[(&str, &str)]) -> String {
        substitute(self.get(locale, key).unwrap_or(key), args)
    }

    /// Every key of a locale, in order; for tests and tools that check coverage.
    pub fn keys(&self, locale: Locale) -> impl Iterator<Item = &str> {
        self.catalog(locale)
            .into_iter()
            .flat_map(|c| c.keys().map(String::as_str))
    }
}

/// Parses one catalog into dotted keys, recording problems instead of stopping.
fn parse_catalog(locale: Locale, source: &str, problems: &mut Vec<String>) -> Catalog {
    let mut out = Catalog::new();
    match source.parse::<toml::Table>() {
        Ok(table) => flatten(locale, "", &table, &mut out, problems),
        Err(e) => problems.push(format!("{}: not valid TOML: {}", locale.tag(), e.message())),
    }
    out
}

fn flatten(
    locale: Locale,
    prefix: &str,
    table: &toml::Table,
    out: &mut Catalog,
    problems: &mut Vec<String>,
) {
    for (name, value) in table {
        let key = if prefix.is_empty() {
            name.clone()
        } else {
            format!("{prefix}.{name}")
        };
        match value {
            toml::Value::String(text) if text.trim().is_empty() => {
                problems.push(format!("{}: `{key}` is empty", locale.tag()));
            }
            toml::Value::String(text) => {
                out.insert(key, text.clone());
            }
            toml::Value::Table(inner) => flatten(locale, &key, inner, out, problems),
            other => problems.push(format!(
                "{}: `{key}` is a {}, expected a string",
                locale.tag(),
                other.type_str()
            )),
        }
    }
}

/// True for the characters a placeholder name may use.
fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// Splits a template into literal text and `{name}` placeholders.
enum Piece<'a> {
    Literal(&'a str),
    Placeholder(&'a str),
}

/// Walks `template`, yielding literal runs and well-formed placeholders; a brace that does
/// not start a well-formed placeholder is literal text.
fn pieces(template: &str) -> Vec<Piece<'_>> {
    let mut out = Vec::new();
    let mut literal_start = 0;
    let mut i = 0;
    while let Some(offset) = template.get(i..).and_then(|rest| rest.find('{')) {
        let open = i + offset;
        let after = open + 1;
        let name_len = template
            .get(after..)
            .map(|rest| rest.chars().take_while(|c| is_name_char(*c)).count())
            .unwrap_or(0);
        // Placeholder names are ASCII, so chars and bytes agree here.
        let close = after + name_len;
        if name_len > 0 && template.get(close..close + 1) == Some("}") {
            if literal_start < open {
                out.push(Piece::Literal(&template[literal_start..open]));
            }
            out.push(Piece::Placeholder(&template[after..close]));
            i = close + 1;
            literal_start = i;
        } else {
            i = after;
        }
    }
    if literal_start < template.len() {
        out.push(Piece::Literal(&template[literal_start..]));
    }
    out
}

/// The placeholder names a template uses.
fn placeholders(template: &str) -> BTreeSet<&str> {
    pieces(template)
        .into_iter()
        .filter_map(|p| match p {
            Piece::Placeholder(name) => Some(name),
            Piece::Literal(_) => None,
        })
        .collect()
}

/// A brace outside a well-formed placeholder is almost always a typo (`{name` or
/// `{ name }`) that would show up in a card, so the check rejects it.
fn brace_problem(template: &str) -> Option<String> {
    pieces(template).into_iter().find_map(|p| match p {
        Piece::Literal(text) if text.contains(['{', '}']) => Some(format!(
            "malformed placeholder near \"{}\"",
            text.chars().take(30).collect::<String>()
        )),
        _ => None,
    })
}

fn show_set(set: &BTreeSet<&str>) -> String {
    if set.is_empty() {
        "none".to_string()
    } else {
        set.iter()
            .map(|n| format!("{{{n}}}"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// Fills placeholders in one pass.
fn substitute(template: &str, args: &[(&str, &str)]) -> String {
    let mut out = String::with_capacity(template.len() + 16);
    for piece in pieces(template) {
        match piece {
            Piece::Literal(text) => out.push_str(text),
            Piece::Placeholder(name) => match args.iter().find(|(k, _)| *k == name) {
                Some((_, value)) => out.push_str(value),
                None => {
                    out.push('{');
                    out.push_str(name);
                    out.push('}');
                }
            },
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_catalogs_are_consistent() {
        if let Err(e) = Messages::builtin() {
            panic!("{e}");
        }
    }

    #[test]
    fn builtin_catalogs_have_the_same_keys() {
        let m = Messages::builtin().expect("builtin catalogs");
        let en: Vec<_> = m.keys(Locale::En).collect();
        assert!(en.len() > 100, "only {} keys", en.len());
        for locale in Locale::ALL {
            let other: Vec<_> = m.keys(locale).collect();
            assert_eq!(en, other, "{}", locale.tag());
        }
    }

    #[test]
    fn every_locale_has_its_own_catalog() {
        let m = Messages::builtin().expect("builtin catalogs");
        let en = m.text(Locale::En, "failure.erp_timeout");
        for locale in [Locale::ZhHk, Locale::ZhCn, Locale::Ms, Locale::Vi] {
            assert_ne!(
                m.text(locale, "failure.erp_timeout"),
                en,
                "{}",
                locale.tag()
            );
        }
    }

    #[test]
    fn simplified_catalog_has_no_traditional_characters() {
        let m = Messages::builtin().expect("builtin catalogs");
        for key in m.keys(Locale::ZhCn) {
            let text = m.text(Locale::ZhCn, key);
            assert!(
                !crate::intent::fold::has_traditional(&text),
                "`{key}` has traditional characters: {text}"
            );
        }
    }

    #[test]
    fn a_key_missing_from_any_locale_is_reported() {
        let err = Messages::from_catalogs(&[
            (Locale::En, "a = \"x {n}\"\nb = \"y\""),
            (Locale::Ms, "a = \"x {n}\""),
            (Locale::Vi, "a = \"x {m}\"\nb = \"y\""),
        ])
        .expect_err("inconsistent");
        let all = err.problems.join("\n");
        assert!(all.contains("ms: missing key `b`"), "{all}");
        assert!(all.contains("en uses {n}, vi uses {m}"), "{all}");
    }

    #[test]
    fn chinese_catalog_is_traditional() {
        // Simplified-only forms of characters the cards use, which slip in easily from
        // mainland sources.
        let simplified = [
            '库', '销', '订', '单', '货', '仓', '门', '时', '这', '们', '无', '请', '询', '区',
            '总', '额', '发', '说', '员', '项', '类', '数', '个', '结', '对', '价', '态', '认',
            '经', '钉', '设', '还', '没', '么', '间', '问', '题', '补', '产', '视',
        ];
        let m = Messages::builtin().expect("builtin catalogs");
        for key in m.keys(Locale::ZhHk) {
            let text = m.text(Locale::ZhHk, key);
            for c in simplified {
                assert!(!text.contains(c), "`{key}` has simplified '{c}': {text}");
            }
        }
    }

    #[test]
    fn fill_replaces_named_placeholders() {
        let m = Messages::from_toml(
            "[a]\nx = \"Hi {name}, {name}! {n} left\"",
            "[a]\nx = \"{name}你好，仲有 {n}\"",
        )
        .expect("valid");
        assert_eq!(
            m.fill(Locale::En, "a.x", &[("name", "Ann"), ("n", "3")]),
            "Hi Ann, Ann! 3 left"
        );
        assert_eq!(
            m.fill(Locale::ZhHk, "a.x", &[("name", "陳生"), ("n", "3")]),
            "陳生你好，仲有 3"
        );
        // values are not expanded again; missing values stay visible
        assert_eq!(
            m.fill(Locale::En, "a.x", &[("name", "{n}")]),
            "Hi {n}, {n}! {n} left"
        );
    }

    #[test]
    fn missing_key_yields_the_key() {
        let m = Messages::builtin().expect("builtin catalogs");
        assert_eq!(m.text(Locale::En, "no.such.key"), "no.such.key");
        assert_eq!(
            m.fill(Locale::ZhHk, "no.such.key", &[("a", "b")]),
            "no.such.key"
        );
        assert_eq!(Messages::default().text(Locale::En, "x"), "x");
    }

    #[test]
    fn all_problems_are_listed() {
        let en = r#"
            only_en = "a"
            both = "{a} and {b}"
            typo = "{oops"
            number = 3
            [nested]
            x = "fine"
        "#;
        let zh = r#"
            only_zh = "甲"
            both = "{a}同{c}"
            typo = "乙"
            number = "三"
            empty = " "
            [nested]
            x = "好"
        "#;
        let err = Messages::from_toml(en, zh).expect_err("inconsistent");
        let all = err.problems.join("\n");
        for expected in [
            "zh-HK: missing key `only_en`",
            "en: missing key `only_zh`",
            "`both`: placeholders differ: en uses {a}, {b}, zh-HK uses {a}, {c}",
            "en: `typo`: malformed placeholder",
            "en: `number` is a integer",
            "zh-HK: `empty` is empty",
        ] {
            assert!(all.contains(expected), "missing {expected:?} in:\n{all}");
        }
        assert!(err.to_string().contains("problem(s)"));
    }

    #[test]
    fn invalid_toml_is_reported() {
        let err = Messages::from_toml("a = ", "a = \"x\"").expect_err("invalid");
        assert!(
            err.problems
                .iter()
                .any(|p| p.starts_with("en: not valid TOML"))
        );
    }
}
