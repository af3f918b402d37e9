//! The fixed master data of the demo company, Harbour Trading Ltd.: places, the product
//! range, customers and staff. Everything random (stock, orders, leave) is derived from these
//! tables in `seed.rs`; keeping the names here makes the catalog easy to read and extend.
//!
//! Naming rule for items: no accessory mentions a phone model, and there is no "Pro Max", so
//! "iphone 15 pro" finds exactly the three iPhone 15 Pro capacities.

/// A region, warehouse or store. `kind` is the `places.kind` column value.
pub(super) struct PlaceDef {
    pub code: &'static str,
    pub kind: &'static str,
    pub name_en: &'static str,
    pub name_zh: &'static str,
    pub region: Option<&'static str>,
    pub aliases: &'static [&'static str],
}

/// Regions first, then warehouses, then stores: the order of [`crate::erp::Places`] and the
/// order rows must be inserted in (stores and warehouses refer to their region).
pub(super) const PLACES: &[PlaceDef] = &[
    PlaceDef {
        code: "HKI",
        kind: "region",
        name_en: "Hong Kong Island",
        name_zh: "港島",
        region: None,
        aliases: &[
            "HK Island",
            "Hong Kong Island",
            "香港島",
            "港島區",
            "Đảo Hồng Kông",
            "Pulau Hong Kong",
        ],
    },
    PlaceDef {
        code: "KLN",
        kind: "region",
        name_en: "Kowloon",
        name_zh: "九龍",
        region: None,
        aliases: &["九龙", "九龍區", "Cửu Long"],
    },
    PlaceDef {
        code: "NT",
        kind: "region",
        name_en: "New Territories",
        name_zh: "新界",
        region: None,
        aliases: &["N.T.", "新界區", "Tân Giới", "Wilayah Baru"],
    },
    PlaceDef {
        code: "KT",
        kind: "warehouse",
        name_en: "Kwun Tong",
        name_zh: "觀塘",
        region: Some("KLN"),
        aliases: &["观塘", "KT", "観塘"],
    },
    PlaceDef {
        code: "TW",
        kind: "warehouse",
        name_en: "Tsuen Wan",
        name_zh: "荃灣",
        region: Some("NT"),
        aliases: &["荃湾", "TW"],
    },
    PlaceDef {
        code: "KC",
        kind: "warehouse",
        name_en: "Kwai Chung",
        name_zh: "葵涌",
        region: Some("NT"),
        aliases: &["KC"],
    },
    PlaceDef {
        code: "CWB",
        kind: "store",
        name_en: "Causeway Bay",
        name_zh: "銅鑼灣",
        region: Some("HKI"),
        aliases: &["铜锣湾", "CWB"],
    },
    PlaceDef {
        code: "CEN",
        kind: "store",
        name_en: "Central",
        name_zh: "中環",
        region: Some("HKI"),
        aliases: &["中环"],
    },
    PlaceDef {
        code: "MK",
        kind: "store",
        name_en: "Mong Kok",
        name_zh: "旺角",
        region: Some("KLN"),
        aliases: &["Mongkok", "MK"],
    },
    PlaceDef {
        code: "TST",
        kind: "store",
        name_en: "Tsim Sha Tsui",
        name_zh: "尖沙咀",
        region: Some("KLN"),
        aliases: &["尖沙嘴", "TST"],
    },
    PlaceDef {
        code: "SSP",
        kind: "store",
        name_en: "Sham Shui Po",
        name_zh: "深水埗",
        region: Some("KLN"),
        aliases: &["Shamshuipo", "SSP"],
    },
    PlaceDef {
        code: "ST",
        kind: "store",
        name_en: "Sha Tin",
        name_zh: "沙田",
        region: Some("NT"),
        aliases: &["Shatin"],
    },
    PlaceDef {
        code: "TM",
        kind: "store",
        name_en: "Tuen Mun",
        name_zh: "屯門",
        region: Some("NT"),
        aliases: &["屯门"],
    },
];

/// Warehouses with their size relative to the main Kwun Tong warehouse, in percent; it
/// scales stock levels.
pub(super) const WAREHOUSES: &[(&str, u64)] = &[("KT", 100), ("TW", 80), ("KC", 60)];

/// Stores with their share of orders (relative weights).
pub(super) const STORES: &[(&str, u64)] = &[
    ("CWB", 20),
    ("CEN", 14),
    ("MK", 20),
    ("TST", 16),
    ("SSP", 10),
    ("ST", 12),
    ("TM", 8),
];

/// Product categories; the prefix starts every SKU of the category.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Category {
    Electronics,
    Drinks,
    Snacks,
    Stationery,
    Household,
}

impl Category {
    pub(super) fn sku_prefix(self) -> &'static str {
        match self {
            Category::Electronics => "ELE",
            Category::Drinks => "DRK",
            Category::Snacks => "SNK",
            Category::Stationery => "STA",
            Category::Household => "HHD",
        }
    }

    pub(super) fn name(self) -> &'static str {
        match self {
            Category::Electronics => "electronics",
            Category::Drinks => "drinks",
            Category::Snacks => "snacks",
            Category::Stationery => "stationery",
            Category::Household => "household",
        }
    }

    /// Every category, in SKU numbering order.
    pub(super) const ALL: [Category; 5] = [
        Category::Electronics,
        Category::Drinks,
        Category::Snacks,
        Category::Stationery,
        Category::Household,
    ];
}

/// A product with its variants. Item names are `en`/`zh` followed by the variant suffix
/// (separated by a space when the suffix is not empty).
pub(super) struct Family {
    pub category: Category,
    pub en: &'static str,
    pub zh: &'static str,
    pub unit: &'static str,
    /// (English suffix, Chinese suffix, list price in HKD cents).
    pub variants: &'static [(&'static str, &'static str, i64)],
    /// How often the product appears on orders, relative to other families.
    pub popularity: u64,
    /// Quantity range a customer orders at once, in the item's unit.
    pub order_qty: (u64, u64),
    /// Typical quantity on hand in the main warehouse.
    pub stock: u64,
}

/// Positional so the table below stays one product per line.
#[allow(clippy::too_many_arguments)]
const fn f(
    category: Category,
    en: &'static str,
    zh: &'static str,
    unit: &'static str,
    variants: &'static [(&'static str, &'static str, i64)],
    popularity: u64,
    order_qty: (u64, u64),
    stock: u64,
) -> Family {
    Family {
        category,
        en,
        zh,
        unit,
        variants,
        popularity,
        order_qty,
        stock,
    }
}

use Category::{Drinks as D, Electronics as E, Household as H, Snacks as S, Stationery as P};

/// The product range. SKUs are numbered in this order within each category, so do not
/// reorder entries casually: it renumbers SKUs (bump `SEED_VERSION` if you do).
/// Kept one product per line for readability, hence no rustfmt.
#[rustfmt::skip]
pub(super) const FAMILIES: &[Family] = &[
    // Electronics
    f(E, "iPhone 15", "iPhone 15", "pc", &[("128GB", "128GB", 689_900), ("256GB", "256GB", 769_900), ("512GB", "512GB", 939_900)], 30, (1, 6), 80),
    f(E, "iPhone 15 Plus", "iPhone 15 Plus", "pc", &[("128GB", "128GB", 769_900), ("256GB", "256GB", 849_900)], 12, (1, 4), 50),
    f(E, "iPhone 15 Pro", "iPhone 15 Pro", "pc", &[("128GB", "128GB", 859_900), ("256GB", "256GB", 939_900), ("512GB", "512GB", 1_109_900)], 34, (1, 6), 90),
    f(E, "iPad (10th generation) Wi-Fi", "iPad (第十代) Wi-Fi", "pc", &[("64GB", "64GB", 349_900), ("256GB", "256GB", 479_900)], 10, (1, 5), 50),
    f(E, "Apple Watch Series 9 GPS", "Apple Watch Series 9 GPS", "pc", &[("41mm", "41mm", 319_900), ("45mm", "45mm", 349_900)], 8, (1, 4), 40),
    f(E, "Samsung Galaxy S24", "三星 Galaxy S24", "pc", &[("256GB", "256GB", 699_800), ("512GB", "512GB", 789_800)], 15, (1, 5), 60),
    f(E, "Samsung Galaxy A55 5G", "三星 Galaxy A55 5G", "pc", &[("128GB", "128GB", 299_800), ("256GB", "256GB", 329_800)], 15, (1, 8), 70),
    f(E, "Google Pixel 8", "Google Pixel 8", "pc", &[("128GB", "128GB", 509_900), ("256GB", "256GB", 549_900)], 7, (1, 4), 40),
    f(E, "Xiaomi 14", "小米 14", "pc", &[("256GB", "256GB", 529_900), ("512GB", "512GB", 579_900)], 9, (1, 5), 45),
    f(E, "OPPO Reno11 5G", "OPPO Reno11 5G", "pc", &[("256GB", "256GB", 329_900)], 6, (1, 5), 40),
    f(E, "AirPods Pro (2nd generation)", "AirPods Pro (第二代)", "pc", &[("", "", 189_900)], 18, (1, 8), 120),
    f(E, "USB-C Charging Cable", "USB-C 充電線", "pc", &[("1m", "1米", 9_900), ("2m", "2米", 12_900)], 22, (5, 40), 600),
    f(E, "USB-C Power Adapter", "USB-C 火牛", "pc", &[("20W", "20W", 16_900), ("35W", "35W", 29_900)], 18, (3, 30), 400),
    f(E, "Power Bank", "流動充電器", "pc", &[("10000mAh", "10000mAh", 19_900), ("20000mAh", "20000mAh", 32_900)], 14, (2, 20), 300),
    f(E, "Screen Protector", "手機玻璃保護貼", "pc", &[("6.1-inch", "6.1吋", 12_900), ("6.7-inch", "6.7吋", 14_900)], 14, (5, 50), 500),
    f(E, "Clear Phone Case", "透明手機殼", "pc", &[("6.1-inch", "6.1吋", 9_900), ("6.7-inch", "6.7吋", 10_900)], 12, (5, 40), 450),
    f(E, "Bluetooth Earbuds", "藍牙耳機", "pc", &[("TW100", "TW100", 24_900), ("TW300", "TW300", 49_900)], 8, (2, 20), 200),
    f(E, "Wireless Mouse", "無線滑鼠", "pc", &[("M100", "M100", 8_900), ("M300", "M300", 15_900)], 9, (2, 30), 300),
    f(E, "Wireless Keyboard", "無線鍵盤", "pc", &[("K200", "K200", 19_900)], 5, (2, 20), 150),
    f(E, "USB Flash Drive", "USB 手指", "pc", &[("64GB", "64GB", 6_900), ("128GB", "128GB", 11_900), ("256GB", "256GB", 22_900)], 8, (5, 50), 400),
    f(E, "microSD Card", "microSD 記憶卡", "pc", &[("128GB", "128GB", 12_900), ("256GB", "256GB", 23_900)], 6, (3, 30), 300),
    f(E, "AA Alkaline Batteries 4-pack", "AA 鹼性電池 4粒裝", "pack", &[("", "", 3_900)], 10, (10, 100), 900),
    f(E, "AAA Alkaline Batteries 4-pack", "AAA 鹼性電池 4粒裝", "pack", &[("", "", 3_600)], 8, (10, 100), 800),
    f(E, "LED Desk Lamp", "LED 枱燈", "pc", &[("", "", 12_900)], 4, (1, 10), 100),
    f(E, "Extension Socket", "拖板", "pc", &[("4-way", "4位", 12_900), ("6-way", "6位", 17_900)], 6, (2, 20), 200),
    f(E, "HDMI Cable", "HDMI 線", "pc", &[("2m", "2米", 7_900)], 5, (2, 30), 250),
    // Drinks
    f(D, "Vita Lemon Tea", "維他檸檬茶", "pack", &[("250ml", "250ml", 2_450)], 30, (10, 150), 2_500),
    f(D, "Vita Lemon Tea", "維他檸檬茶", "bottle", &[("500ml", "500ml", 890)], 12, (24, 240), 3_000),
    f(D, "Vita Soy Milk", "維他奶", "pack", &[("250ml", "250ml", 2_290)], 18, (10, 120), 2_000),
    f(D, "Vita Chrysanthemum Tea", "維他菊花茶", "pack", &[("250ml", "250ml", 2_290)], 8, (10, 80), 1_200),
    f(D, "Coca-Cola", "可口可樂", "can", &[("330ml", "330ml", 650)], 20, (24, 240), 4_000),
    f(D, "Coca-Cola Zero", "可口可樂 零系", "can", &[("330ml", "330ml", 650)], 12, (24, 240), 3_000),
    f(D, "Coca-Cola 330ml x 24", "可口可樂 330ml 24罐裝", "carton", &[("", "", 13_900)], 10, (2, 30), 400),
    f(D, "Sprite", "雪碧", "can", &[("330ml", "330ml", 600)], 9, (24, 192), 2_500),
    f(D, "Fanta Orange", "芬達 橙味", "can", &[("330ml", "330ml", 600)], 6, (24, 144), 2_000),
    f(D, "Pocari Sweat", "寶礦力水特", "bottle", &[("500ml", "500ml", 990), ("900ml", "900ml", 1_590)], 10, (24, 200), 2_500),
    f(D, "Bonaqua Mineralized Water", "飛雪礦物質水", "bottle", &[("500ml", "500ml", 650), ("1.5L", "1.5公升", 1_150)], 14, (24, 240), 4_000),
    f(D, "Bonaqua Mineralized Water 500ml x 24", "飛雪礦物質水 500ml 24支裝", "carton", &[("", "", 12_900)], 10, (2, 40), 500),
    f(D, "Watsons Distilled Water", "屈臣氏蒸餾水", "bottle", &[("800ml", "800ml", 800), ("4.5L", "4.5公升", 2_450)], 12, (12, 200), 3_000),
    f(D, "UCC Black Coffee", "UCC 黑咖啡", "can", &[("185g", "185克", 750)], 7, (24, 144), 1_800),
    f(D, "Yakult", "養樂多", "pack", &[("100ml x 5", "100ml 5支裝", 1_390)], 7, (10, 80), 800),
    f(D, "Mr. Juicy Orange Juice", "果汁先生 鮮橙汁", "bottle", &[("1L", "1公升", 2_990)], 5, (6, 48), 600),
    f(D, "Lipton Yellow Label Tea Bags", "立頓 黃牌紅茶包", "box", &[("100s", "100包", 4_290)], 6, (2, 30), 400),
    f(D, "Nescafé Gold Instant Coffee", "雀巢 金牌即溶咖啡", "bottle", &[("200g", "200克", 10_900)], 5, (2, 24), 300),
    f(D, "Suntory Oolong Tea", "三得利 烏龍茶", "bottle", &[("500ml", "500ml", 990)], 6, (24, 144), 1_500),
    f(D, "Kirin Nama-cha Green Tea", "麒麟 生茶", "bottle", &[("500ml", "500ml", 1_090)], 5, (24, 144), 1_200),
    f(D, "Hung Fook Tong Sugarcane Drink", "鴻福堂 竹蔗茅根", "bottle", &[("500ml", "500ml", 1_290)], 4, (12, 96), 800),
    f(D, "Ribena Blackcurrant Drink", "利賓納 黑加侖子飲品", "pack", &[("250ml x 6", "250ml 6包裝", 2_590)], 4, (6, 60), 600),
    // Snacks
    f(S, "Calbee Potato Chips", "卡樂B 薯片", "pack", &[("Original 55g", "原味 55克", 1_190), ("Seaweed 55g", "紫菜味 55克", 1_190), ("BBQ 55g", "燒烤味 55克", 1_190), ("Hot & Spicy 55g", "熱浪 55克", 1_190)], 16, (12, 120), 1_500),
    f(S, "Glico Pocky", "固力果 百奇", "box", &[("Chocolate", "朱古力味", 990), ("Strawberry", "士多啤梨味", 990), ("Matcha", "抹茶味", 1_090)], 10, (12, 96), 1_200),
    f(S, "Garden Wafers", "嘉頓 威化餅", "pack", &[("Lemon", "檸檬味", 1_290), ("Chocolate", "朱古力味", 1_290)], 7, (12, 96), 900),
    f(S, "Garden Cream Crackers", "嘉頓 忌廉餅", "pack", &[("", "", 2_290)], 6, (6, 60), 700),
    f(S, "Doll Instant Noodles 5-pack", "公仔麵 5包裝", "pack", &[("Sesame Oil", "麻油味", 2_290), ("Beef", "牛肉味", 2_290), ("Tonkotsu", "豬骨湯味", 2_490)], 12, (10, 100), 1_500),
    f(S, "Nissin Cup Noodles", "日清 合味道杯麵", "pc", &[("Original", "原味", 890), ("Seafood", "海鮮味", 890), ("Spicy Seafood", "香辣海鮮味", 890)], 12, (12, 144), 2_000),
    f(S, "Lotte Koala's March", "樂天 熊仔餅", "box", &[("Chocolate", "朱古力味", 790), ("Strawberry", "士多啤梨味", 790)], 6, (12, 96), 900),
    f(S, "Meiji Chocolate", "明治 朱古力", "pc", &[("Milk 50g", "牛奶 50克", 1_290), ("Dark 50g", "黑 50克", 1_290)], 6, (12, 96), 800),
    f(S, "Sunny Bakery Egg Rolls", "陽光餅家 蛋卷", "can", &[("454g", "454克", 7_800)], 4, (2, 24), 300),
    f(S, "Mixed Nuts", "雜錦果仁", "pack", &[("150g", "150克", 3_290)], 4, (6, 48), 500),
    f(S, "Dried Mango", "芒果乾", "pack", &[("100g", "100克", 2_490)], 4, (6, 48), 500),
    f(S, "Oreo Cookies", "奧利奧 朱古力夾心餅", "pack", &[("133g", "133克", 1_090)], 6, (12, 96), 900),
    f(S, "Haw Flakes", "山楂餅", "pack", &[("", "", 590)], 3, (12, 120), 800),
    f(S, "White Rabbit Creamy Candy", "大白兔奶糖", "pack", &[("180g", "180克", 1_990)], 3, (6, 60), 500),
    f(S, "Tao Kae Noi Crispy Seaweed", "小老闆 脆紫菜", "pack", &[("Original 32g", "原味 32克", 1_590), ("Hot & Spicy 32g", "辣味 32克", 1_590)], 5, (12, 96), 700),
    f(S, "Kinder Bueno", "健達繽紛樂", "pc", &[("43g", "43克", 1_090)], 4, (12, 96), 700),
    f(S, "Pringles Original", "品客 原味薯片", "can", &[("110g", "110克", 2_190)], 5, (6, 72), 700),
    // Stationery
    f(P, "A4 Copy Paper", "A4影印紙", "ream", &[("80g", "80克", 3_490), ("70g", "70克", 2_990)], 30, (5, 100), 3_000),
    f(P, "A3 Copy Paper", "A3影印紙", "ream", &[("80g", "80克", 6_990)], 8, (2, 40), 800),
    f(P, "A4 Colour Paper 80g", "A4顏色紙 80克", "ream", &[("Assorted", "雜色", 5_990)], 4, (2, 20), 300),
    f(P, "Ballpoint Pen 0.7mm", "原子筆 0.7mm", "box", &[("Blue", "藍色", 3_590), ("Black", "黑色", 3_590), ("Red", "紅色", 3_590)], 10, (2, 30), 400),
    f(P, "Gel Pen 0.5mm", "啫喱筆 0.5mm", "box", &[("Blue", "藍色", 5_990), ("Black", "黑色", 5_990)], 6, (2, 20), 300),
    f(P, "Highlighter", "螢光筆", "pc", &[("Yellow", "黃色", 690), ("Green", "綠色", 690), ("Pink", "粉紅色", 690)], 6, (10, 100), 800),
    f(P, "Whiteboard Marker", "白板筆", "pc", &[("Black", "黑色", 890), ("Blue", "藍色", 890), ("Red", "紅色", 890)], 6, (10, 100), 800),
    f(P, "Permanent Marker", "油性筆", "pc", &[("Black", "黑色", 990), ("Red", "紅色", 990)], 4, (10, 60), 500),
    f(P, "Sticky Notes 3x3in", "便條貼 3x3吋", "pack", &[("Yellow", "黃色", 1_590), ("Assorted", "雜色", 1_890)], 6, (5, 60), 600),
    f(P, "Stapler No.10", "10號釘書機", "pc", &[("", "", 2_990)], 3, (2, 20), 200),
    f(P, "Staples No.10", "10號釘書釘", "box", &[("", "", 490)], 4, (10, 100), 900),
    f(P, "Lever Arch File A4", "A4 檔案夾", "pc", &[("2-inch", "2吋", 1_890), ("3-inch", "3吋", 1_990)], 6, (10, 100), 800),
    f(P, "Clear Folder A4 12-pack", "A4 文件套 12個裝", "pack", &[("", "", 2_490)], 4, (5, 50), 500),
    f(P, "Envelope", "信封", "box", &[("DL White 100s", "DL 白色 100個", 4_590), ("C4 Brown 50s", "C4 牛皮紙 50個", 5_890)], 4, (2, 20), 300),
    f(P, "Correction Tape", "塗改帶", "pc", &[("", "", 1_290)], 4, (10, 60), 500),
    f(P, "Scissors 8-inch", "剪刀 8吋", "pc", &[("", "", 1_990)], 2, (2, 20), 200),
    f(P, "Calculator 12-digit", "12位計數機", "pc", &[("", "", 8_900)], 3, (1, 10), 150),
    f(P, "Notebook A5", "A5 筆記簿", "pc", &[("Ruled", "橫間", 1_290), ("Grid", "方格", 1_290)], 4, (10, 80), 600),
    f(P, "Glue Stick 21g", "膠水筆 21克", "pc", &[("", "", 990)], 3, (10, 60), 500),
    f(P, "Paper Clips 33mm", "萬字夾 33mm", "box", &[("", "", 490)], 3, (10, 60), 600),
    f(P, "Toner Cartridge HP 26A", "HP 26A 碳粉盒", "pc", &[("", "", 69_900)], 4, (1, 6), 60),
    f(P, "Thermal Receipt Roll 80mm 10-pack", "熱敏收銀紙 80mm 10卷裝", "pack", &[("", "", 8_900)], 5, (2, 30), 300),
    f(P, "Packing Tape 48mm", "封箱膠紙 48mm", "pc", &[("", "", 1_290)], 5, (12, 120), 900),
    f(P, "A4 Labels 21-up 100 Sheets", "A4 標籤貼紙 21格 100張", "pack", &[("", "", 7_900)], 2, (1, 10), 150),
    // Household and groceries
    f(H, "Tempo Facial Tissue", "Tempo 盒裝紙巾", "pack", &[("4 Boxes", "4盒裝", 3_290)], 12, (6, 60), 1_000),
    f(H, "Tempo Pocket Tissue", "Tempo 紙手帕", "pack", &[("18 Packs", "18包裝", 2_490)], 10, (6, 60), 1_000),
    f(H, "Virjoy Toilet Roll 3-ply", "唯潔雅 三層衛生紙", "pack", &[("10 Rolls", "10卷裝", 4_990)], 12, (5, 50), 800),
    f(H, "Kitchen Towel", "廚房紙", "pack", &[("2 Rolls", "2卷裝", 1_990)], 6, (6, 60), 600),
    f(H, "Hand Soap", "洗手液", "bottle", &[("Lemon 500ml", "檸檬 500毫升", 2_490), ("Aloe Vera 500ml", "蘆薈 500毫升", 2_490)], 6, (6, 48), 600),
    f(H, "Axe Dishwashing Liquid", "斧頭牌 洗潔精", "bottle", &[("Lemon 500g", "檸檬 500克", 1_590), ("Lemon 1.1kg", "檸檬 1.1公斤", 2_590)], 7, (6, 48), 700),
    f(H, "Bleach", "漂白水", "bottle", &[("1L", "1公升", 1_390)], 5, (6, 48), 600),
    f(H, "Laundry Liquid", "洗衣液", "bottle", &[("2L", "2公升", 5_990), ("3.6L", "3.6公升", 8_990)], 6, (4, 36), 500),
    f(H, "Garbage Bags", "垃圾袋", "pack", &[("Medium", "中碼", 1_590), ("Large", "大碼", 1_990)], 6, (10, 80), 800),
    f(H, "Surgical Masks", "外科口罩", "box", &[("Adult, Box of 50", "成人 50個裝", 4_990), ("Kids, Box of 50", "兒童 50個裝", 4_990)], 8, (5, 60), 700),
    f(H, "Alcohol Hand Sanitiser", "酒精搓手液", "bottle", &[("500ml", "500毫升", 3_990)], 5, (6, 48), 500),
    f(H, "Disinfectant Wipes", "消毒濕紙巾", "pack", &[("80 Sheets", "80片", 2_990)], 4, (6, 48), 500),
    f(H, "Dettol Antiseptic Liquid", "滴露 消毒藥水", "bottle", &[("750ml", "750毫升", 5_990)], 3, (4, 36), 300),
    f(H, "Sponge Scourer 3-pack", "百潔布 3個裝", "pack", &[("", "", 1_290)], 3, (10, 80), 600),
    f(H, "Dragon Boat Thai Hom Mali Rice", "龍舟 泰國香米", "pack", &[("5kg", "5公斤", 9_900), ("8kg", "8公斤", 14_900)], 8, (2, 30), 400),
    f(H, "Lee Kum Kee Premium Oyster Sauce", "李錦記 特級蠔油", "bottle", &[("510g", "510克", 3_290)], 5, (6, 48), 500),
    f(H, "Lee Kum Kee Light Soy Sauce", "李錦記 生抽", "bottle", &[("500ml", "500ml", 1_890)], 5, (6, 48), 500),
    f(H, "Knife Canola Oil", "刀嘜 芥花籽油", "bottle", &[("2L", "2公升", 6_490)], 4, (2, 24), 300),
    f(H, "Paper Cups 8oz 50 pcs", "紙杯 8安士 50個", "pack", &[("", "", 1_890)], 3, (5, 50), 400),
    f(H, "Aluminium Foil 30cm x 7.6m", "錫紙 30厘米 x 7.6米", "pc", &[("", "", 2_190)], 2, (5, 40), 300),
    f(H, "Cling Wrap 30cm x 30m", "保鮮紙 30厘米 x 30米", "pc", &[("", "", 1_990)], 2, (5, 40), 300),
    f(H, "Mop Refill", "地拖頭", "pc", &[("", "", 3_990)], 2, (2, 20), 150),
    f(H, "Floor Cleaner", "地板清潔劑", "bottle", &[("2L", "2公升", 3_490)], 3, (4, 36), 300),
];

/// Corporate customers, as Hong Kong companies style themselves in English.
pub(super) const CUSTOMERS: &[&str] = &[
    "Golden Harbour Trading Co., Ltd.",
    "Lucky Star Electronics Ltd.",
    "Wing Fat Stationery Co.",
    "Tai Hing Provisions Ltd.",
    "Kowloon Bay Office Supplies Ltd.",
    "Sun Kee Mobile Centre",
    "Man Fung Hardware Co.",
    "Pearl River Catering Services Ltd.",
    "Victoria Heights Hotel Management Ltd.",
    "Chung Yip Logistics Ltd.",
    "Harbourfront Property Management Ltd.",
    "Kam Lung Restaurant Group Ltd.",
    "Fook Wah Supermarket Ltd.",
    "Shun Cheong Engineering Co., Ltd.",
    "Oriental Pearl Travel Ltd.",
    "Kwai Fong Medical Centre",
    "Tin Hau School Supplies Co.",
    "Jade Garden Tea House",
    "Sai Kung Marine Services Ltd.",
    "New Era Digital Ltd.",
    "Prosperity Office Solutions Ltd.",
    "Yue Hing Import & Export Co.",
    "Silverstrand Accounting Services Ltd.",
    "Lion Rock Education Centre",
    "Hing Lung Construction Co., Ltd.",
    "Fortune Garden Seafood Restaurant",
    "Tsuen Wan Community Clinic",
    "Ocean Crest Property Agency",
    "Bright Future Kindergarten",
    "Harbour Breeze Café",
    "Cheung Kee Mobile & Accessories",
    "Dragon Gate Securities Ltd.",
    "Kin Wah Printing Co.",
    "Hoi Yuen Trading Ltd.",
    "Grand Pacific Insurance Agency Ltd.",
    "Apliu Street Electronics Co.",
    "Peak Performance Fitness Ltd.",
    "Lai Chi Kok Textiles Ltd.",
    "Tung Fat Convenience Store",
    "Ming Sun Optical Co.",
    "Wah Yan Property Services Ltd.",
    "Evergreen Elderly Home",
    "Blue Sky Travel Agency Ltd.",
    "Tak Shing Motor Co.",
    "Pine Hill Secondary School",
    "Sunrise Dental Clinic",
    "Kowloon City Bakery Ltd.",
    "Lantau Island Resort Ltd.",
];

/// A member of staff. `role` and `place` describe the demo directory (who may ask what);
/// `female` decides maternity or paternity entitlements.
pub(super) struct EmployeeDef {
    pub id: &'static str,
    pub name_en: &'static str,
    pub name_zh: &'static str,
    pub role: &'static str,
    pub place: Option<&'static str>,
    pub female: bool,
    /// Whole years of service at the start of the current year; annual leave grows with it
    /// as under the Employment Ordinance (7 days, one more per year from the third year, up
    /// to 14) plus a company top-up for managers.
    pub service_years: u64,
}

const fn e(
    id: &'static str,
    name_en: &'static str,
    name_zh: &'static str,
    role: &'static str,
    place: Option<&'static str>,
    female: bool,
    service_years: u64,
) -> EmployeeDef {
    EmployeeDef {
        id,
        name_en,
        name_zh,
        role,
        place,
        female,
        service_years,
    }
}

pub(super) const EMPLOYEES: &[EmployeeDef] = &[
    e(
        "E1001",
        "Chan Tai Man",
        "陳大文",
        "store_staff",
        Some("CWB"),
        false,
        6,
    ),
    e(
        "E1002",
        "Peter Wong",
        "王彼得",
        "store_staff",
        Some("MK"),
        false,
        3,
    ),
    e(
        "E1003",
        "Cheung Wing Sze",
        "張詠詩",
        "store_staff",
        Some("TST"),
        true,
        4,
    ),
    e(
        "E1004",
        "Lam Chi Keung",
        "林志強",
        "store_staff",
        Some("CEN"),
        false,
        9,
    ),
    e(
        "E1005",
        "Ng Mei Kuen",
        "吳美娟",
        "store_staff",
        Some("SSP"),
        true,
        2,
    ),
    e(
        "E1006",
        "Tsang Ka Lok",
        "曾家樂",
        "store_staff",
        Some("ST"),
        false,
        1,
    ),
    e(
        "E1007",
        "Yeung Hoi Yan",
        "楊凱欣",
        "store_staff",
        Some("TM"),
        true,
        5,
    ),
    e(
        "E1008",
        "Nguyen Thi Lan",
        "阮氏蘭",
        "store_staff",
        Some("MK"),
        true,
        2,
    ),
    e(
        "E1009",
        "Siti Aminah",
        "西蒂·阿米娜",
        "store_staff",
        Some("TST"),
        true,
        3,
    ),
    e(
        "E1010",
        "Kwok Chun Hei",
        "郭俊希",
        "store_staff",
        Some("CWB"),
        false,
        0,
    ),
    e(
        "E2001",
        "Wong Siu Ming",
        "黃小明",
        "sales_manager",
        None,
        false,
        12,
    ),
    e(
        "E2002",
        "Chow Wai Kit",
        "周偉傑",
        "sales",
        Some("HKI"),
        false,
        4,
    ),
    e(
        "E2003",
        "Leung Pui Shan",
        "梁佩珊",
        "sales",
        Some("KLN"),
        true,
        6,
    ),
    e(
        "E2004",
        "Fung Tsz Ching",
        "馮芷晴",
        "sales",
        Some("NT"),
        true,
        2,
    ),
    e(
        "E2005",
        "Michelle Lau",
        "劉美芝",
        "sales_manager",
        Some("KLN"),
        true,
        8,
    ),
    e(
        "E3001",
        "Lee Mei Ling",
        "李美玲",
        "hr_officer",
        None,
        true,
        7,
    ),
    e(
        "E3002",
        "Mak Siu Fong",
        "麥少芳",
        "hr_manager",
        None,
        true,
        15,
    ),
    e(
        "E4001",
        "Lo Kin Wah",
        "盧建華",
        "warehouse_staff",
        Some("KT"),
        false,
        10,
    ),
    e(
        "E4002",
        "Tang Chi Ho",
        "鄧志豪",
        "warehouse_staff",
        Some("TW"),
        false,
        5,
    ),
    e(
        "E4003",
        "Au Yeung Kwok Fai",
        "歐陽國輝",
        "warehouse_staff",
        Some("KC"),
        false,
        11,
    ),
    e(
        "E4004",
        "Tran Van Minh",
        "陳文明",
        "warehouse_staff",
        Some("KT"),
        false,
        1,
    ),
    e("E5001", "Chu Wai Man", "朱慧敏", "finance", None, true, 6),
    e("E5002", "Kenneth Ip", "葉健明", "finance", None, false, 3),
    e("E9001", "Ho Ka Yan", "何家欣", "it_admin", None, true, 4),
    e(
        "E9002",
        "Yip Chun Wai",
        "葉俊偉",
        "it_admin",
        None,
        false,
        2,
    ),
];

/// Who is on maternity or paternity leave in which year, relative to the seed year (`-1` =
/// last year, `0` = this year). Only these employees get such an entitlement; last year's is
/// taken in full, this year's is still to come.
pub(super) const FAMILY_LEAVE: &[(&str, i16)] =
    &[("E5001", -1), ("E1003", 0), ("E4002", -1), ("E2002", 0)];
