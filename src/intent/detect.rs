//! Which language a message is in, so that the answer comes back in it.
//!
//! The rules, in order:
//!
//! 1. Any Han character makes the message Chinese, whatever else it contains: Hong Kong
//!    and mainland users mix English product names and words into Chinese sentences
//!    ("iPhone 15 仲有幾多貨?", "SO-2026-00147 这张单现在什么 status?"), and a reader of
//!    the Chinese part reads Chinese.
//!    - If folding to Simplified changes the text, it has Traditional characters:
//!      Hong Kong Chinese (zh-HK).
//!    - Otherwise, if it contains a character that is the Simplified form of another
//!      character (个, 还, 这, 库…), it is Simplified Chinese (zh-CN). Both tests use
//!      the same `fast2s` table as folding, so there is no second list to keep in step.
//!    - Otherwise (only characters both scripts share, e.g. "年假"), Hong Kong Chinese, the
//!      company's own.
//! 2. Letters that only Vietnamese uses (ă, â, ê, ô, ơ, ư, đ and the tone-marked vowels
//!    of the Latin Extended Additional block) make it Vietnamese.
//! 3. Otherwise marker words decide between Malay and Vietnamese written without
//!    diacritics, and English is what remains. Markers are words that are not also
//!    common English words, so an English question naming "Kwun Tong" or "Tai Po" stays
//!    English.

use std::collections::HashSet;
use std::sync::LazyLock;

use super::fold::fold_str;
use super::{Locale, is_han};

/// Characters that are the Simplified form of a different Traditional character, derived
/// once from the folding table. Characters that are also everyday Traditional characters
/// (只 in 只有, 台 in 台灣, 面 in 面積…) prove nothing and are left out.
static SIMPLIFIED_MARKERS: LazyLock<HashSet<char>> = LazyLock::new(|| {
    const SHARED: &str = "只台面后里干于余系征志松谷丑准冲卷舍云范朴才向采游御制致几了借价咸";
    let mut set = HashSet::new();
    let mut buf = [0u8; 4];
    for code in 0x4E00u32..=0x9FFF {
        let Some(c) = char::from_u32(code) else {
            continue;
        };
        let folded = fast2s::convert(c.encode_utf8(&mut buf));
        if let Some(s) = folded.chars().next()
            && s != c
            && !SHARED.contains(s)
        {
            set.insert(s);
        }
    }
    set
});

/// Malay words that English does not use.
const MALAY: [&str; 75] = [
    "tempah",
    "bilik",
    "mesyuarat",
    "pukul",
    "esok",
    "saham",
    "harga",
    "cuaca",
    "nak",
    "mohon",
    "borang",
    "luluskan",
    "tuntutan",
    "awak",
    "macam",
    "berapa",
    "berapakah",
    "stok",
    "jualan",
    "cuti",
    "bulan",
    "lepas",
    "minggu",
    "hari",
    "ini",
    "saya",
    "baki",
    "masih",
    "pesanan",
    "tahun",
    "suku",
    "kedai",
    "gudang",
    "tolong",
    "laporan",
    "barang",
    "produk",
    "untuk",
    "dan",
    "yang",
    "ada",
    "terlaris",
    "rendah",
    "semalam",
    "kelmarin",
    "lalu",
    "tahunan",
    "sakit",
    "tunjuk",
    "tunjukkan",
    "senarai",
    "paling",
    "hampir",
    "habis",
    "jumlah",
    "bagi",
    "kawasan",
    "cawangan",
    "sehingga",
    "dari",
    "hingga",
    "sudah",
    "bila",
    "apa",
    "boleh",
    "tak",
    "mana",
    "bantuan",
    "ketiga",
    "pertama",
    "kedua",
    "keempat",
    "bersalin",
    "ganti",
    "inventori",
];

/// Vietnamese words (without diacritics) that English does not use.
const VIETNAMESE: [&str; 52] = [
    "tro", "hoi", "gi", "muon", "nhieu", "khong", "cua", "toi", "thang", "tuan", "hom", "nay",
    "truoc", "doanh", "nghi", "phep", "ngay", "chay", "kiem", "trang", "thai", "bao", "cao", "kho",
    "hang", "quy", "nam", "ton", "xem", "giup", "duoc", "con", "mat", "ban", "qua", "sap", "het",
    "nhat", "dang", "dau", "tu", "den", "cac", "nhung", "giao", "chua", "san", "pham", "thu",
    "lai", "om", "sinh",
];

static MARKERS_MS: LazyLock<HashSet<&'static str>> = LazyLock::new(|| MALAY.into_iter().collect());
static MARKERS_VI: LazyLock<HashSet<&'static str>> =
    LazyLock::new(|| VIETNAMESE.into_iter().collect());

/// Guesses the language of `text` (see the module documentation).
pub fn detect(text: &str) -> Locale {
    detect_folded(text, &fold_str(text))
}

/// [`detect`] for a text whose folded form ([`super::fold`]) is already at hand, as in the
/// resolver: folding never adds or drops a Han character, so the Han characters of both
/// line up one to one, and any that differ were Traditional.
pub fn detect_folded(text: &str, folded: &str) -> Locale {
    if text.chars().any(is_han) {
        let traditional = text
            .chars()
            .filter(|c| is_han(*c))
            .zip(folded.chars().filter(|c| is_han(*c)))
            .any(|(a, b)| a != b);
        if traditional {
            return Locale::ZhHk;
        }
        if text.chars().any(|c| SIMPLIFIED_MARKERS.contains(&c)) {
            return Locale::ZhCn;
        }
        return Locale::ZhHk;
    }
    if text.chars().any(is_vietnamese_letter) {
        return Locale::Vi;
    }
    let folded = folded.to_lowercase();
    let words: Vec<&str> = folded
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect();
    let ms = words.iter().filter(|w| MARKERS_MS.contains(*w)).count();
    let vi = words.iter().filter(|w| MARKERS_VI.contains(*w)).count();
    // One Vietnamese marker among English words is often a place or a name ("Tai Po",
    // "Ban"); two make a sentence.
    if ms > vi && ms >= 1 {
        Locale::Ms
    } else if vi > ms && vi >= 2 {
        Locale::Vi
    } else {
        Locale::En
    }
}

/// Letters only Vietnamese uses among the languages askerp answers in.
fn is_vietnamese_letter(c: char) -> bool {
    matches!(
        c,
        'ă' | 'Ă' | 'â' | 'Â' | 'đ' | 'Đ' | 'ê' | 'Ê' | 'ô' | 'Ô' | 'ơ' | 'Ơ' | 'ư' | 'Ư'
    ) || (0x1EA0..=0x1EF9).contains(&(c as u32))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chinese_scripts() {
        assert_eq!(detect("觀塘倉仲有幾多"), Locale::ZhHk);
        assert_eq!(detect("iPhone 15 仲有幾多貨?"), Locale::ZhHk);
        assert_eq!(detect("上个月销售额"), Locale::ZhCn);
        assert_eq!(detect("SO-2026-00147 这张单现在什么 status?"), Locale::ZhCn);
        assert_eq!(detect("年假"), Locale::ZhHk);
        assert_eq!(detect("只有"), Locale::ZhHk);
    }

    #[test]
    fn latin_languages() {
        assert_eq!(detect("how many iPhone 15 in stock"), Locale::En);
        assert_eq!(detect("stock iPhone 15 at Tai Po"), Locale::En);
        assert_eq!(detect("berapa stok iPhone 15"), Locale::Ms);
        assert_eq!(detect("jualan bulan lepas"), Locale::Ms);
        assert_eq!(detect("doanh thu tháng trước"), Locale::Vi);
        assert_eq!(detect("doanh thu thang truoc"), Locale::Vi);
        assert_eq!(detect("iPhone 15 con bao nhieu"), Locale::Vi);
        assert_eq!(detect(""), Locale::En);
    }
}
