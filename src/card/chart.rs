//! Report charts: the figures of a report card drawn as a PNG, in-process.
//!
//! The data must not leave the company, so no outside chart service is used: the chart
//! is drawn with `tiny-skia` (shapes) and `ab_glyph` (glyph outlines) from fonts embedded
//! in the binary, and encoded with `png`. Text is laid out glyph by glyph with a fallback
//! between two fonts: DejaVu Sans first (Latin, including every Vietnamese letter), then
//! Droid Sans Fallback (Traditional and Simplified Chinese), so a label mixing 銅鑼灣 and
//! "HK$" renders without tofu whatever the asker's language.
//!
//! A chart never carries a figure the card does not: [`ChartData`] is built by the
//! renderer from the same [`super::Content::Report`] as the card's text, amounts stay
//! `Decimal` (converted to `f64` only to place a pixel), and every printed value on the
//! chart is text the renderer formatted. The PNG carries its data as JSON in an iTXt
//! chunk ([`DATA_KEY`]), so whoever receives the image (the DingTalk simulator, a test,
//! an auditor) can check the picture against the figures without OCR.

use std::sync::LazyLock;

use ab_glyph::{Font, FontRef, GlyphId, PxScale, ScaleFont, point};
use jiff::civil::Date;
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;
use serde::{Deserialize, Serialize};
use tiny_skia::{
    Color, LineCap, Paint, PathBuilder, Pixmap, PremultipliedColorU8, Rect, Stroke, StrokeDash,
    Transform,
};

/// Width of every chart, in pixels: wide enough for two panels, and DingTalk scales an
/// image to the chat width, so on a phone it fills the bubble.
pub const WIDTH: u32 = 800;
/// Height of every chart, in pixels (5:3, a phone held upright shows it whole).
pub const HEIGHT: u32 = 480;
/// Keyword of the PNG iTXt chunk that holds the chart's [`ChartData`] as JSON.
pub const DATA_KEY: &str = "askerp-chart";
/// Bars shown in the breakdown panel; more would be too thin to read on a phone.
pub const MAX_BARS: usize = 6;

/// Latin, Greek, Cyrillic and Vietnamese (Bitstream Vera licence, see assets/fonts/).
static LATIN_FONT: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");
/// CJK: Traditional and Simplified Chinese (Apache-2.0, see assets/fonts/). The demo's
/// web chat serves it too, so Chinese shows on machines without CJK fonts.
pub(crate) static CJK_FONT: &[u8] = include_bytes!("../../assets/fonts/DroidSansFallbackFull.ttf");

/// The two embedded fonts, parsed once.
struct Fonts {
    latin: FontRef<'static>,
    cjk: FontRef<'static>,
}

static FONTS: LazyLock<Result<Fonts, String>> = LazyLock::new(|| {
    Ok(Fonts {
        latin: FontRef::try_from_slice(LATIN_FONT).map_err(|e| format!("DejaVuSans: {e}"))?,
        cjk: FontRef::try_from_slice(CJK_FONT)
            .map_err(|e| format!("DroidSansFallbackFull: {e}"))?,
    })
});

/// Why a chart could not be drawn. The card is still sent without it.
#[derive(Debug, thiserror::Error)]
pub enum ChartError {
    #[error("embedded font unreadable: {0}")]
    Font(String),
    #[error("chart canvas could not be allocated")]
    Canvas,
    #[error("chart data could not be serialized: {0}")]
    Data(String),
    #[error("PNG encoding failed: {0}")]
    Png(String),
}

/// How the trend is bucketed: per day up to a month, per week up to a quarter, per month
/// beyond, so a line never has more points than a phone can show.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Granularity {
    Day,
    Week,
    Month,
}

impl Granularity {
    /// The bucket size for a period of `days` days.
    pub fn for_days(days: i64) -> Granularity {
        match days {
            ..=31 => Granularity::Day,
            32..=120 => Granularity::Week,
            _ => Granularity::Month,
        }
    }
}

/// One point of a trend line: the total of one bucket (a day, week or month).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Point {
    /// The axis label, in the asker's language.
    pub label: String,
    pub start: Date,
    pub end: Date,
    pub amount: Decimal,
}

/// A trend line: one period's buckets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Series {
    /// The legend: the period and its total, as the card prints them.
    pub label: String,
    pub start: Date,
    pub end: Date,
    /// The period's total (the card's figure), which the points add up to.
    pub total: Decimal,
    pub points: Vec<Point>,
}

/// One bar of the breakdown (a store, or an item when there is no store breakdown).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bar {
    pub label: String,
    pub amount: Decimal,
    /// The amount as the card prints it.
    pub amount_text: String,
}

/// Everything a report chart shows, already in the asker's language.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChartData {
    /// The asker's locale tag (`en`, `zh-HK`, …), for the record.
    pub locale: String,
    /// ISO 4217 code of every amount.
    pub currency: String,
    pub title: String,
    /// The trend panel's heading ("Sales per day").
    pub trend_title: String,
    pub granularity: Granularity,
    pub current: Series,
    pub previous: Series,
    /// The breakdown panel's heading ("By store", "Top items").
    pub breakdown_title: String,
    pub breakdown: Vec<Bar>,
    /// The image's alternative text in the markdown.
    pub alt: String,
}

const INK: [u8; 3] = [0x1f, 0x29, 0x37];
const MUTED: [u8; 3] = [0x6b, 0x72, 0x80];
const GRID: [u8; 3] = [0xe5, 0xe7, 0xeb];
const CURRENT: [u8; 3] = [0x25, 0x63, 0xeb];
const PREVIOUS: [u8; 3] = [0x9c, 0xa3, 0xaf];
const BAR: [u8; 3] = [0x0e, 0xa5, 0xe9];

/// Renders `data` as an 800×480 PNG with the data as JSON in its [`DATA_KEY`] chunk.
pub fn render_png(data: &ChartData) -> Result<Vec<u8>, ChartError> {
    let pixmap = draw(data)?;
    let json = serde_json::to_string(data).map_err(|e| ChartError::Data(e.to_string()))?;
    encode(&pixmap, &json)
}

/// Draws the chart into a pixmap (opaque, white background).
pub fn draw(data: &ChartData) -> Result<Pixmap, ChartError> {
    let fonts = FONTS.as_ref().map_err(|e| ChartError::Font(e.clone()))?;
    let mut pm = Pixmap::new(WIDTH, HEIGHT).ok_or(ChartError::Canvas)?;
    pm.fill(Color::WHITE);
    let mut c = Canvas { pm: &mut pm, fonts };
    c.text(&data.title, 24.0, 40.0, 26.0, INK, Some(752.0));
    c.trend(data);
    c.breakdown(data);
    Ok(pm)
}

/// A text's box in a pixmap: `(x0, y0, x1, y1)`, `x1` and `y1` exclusive.
pub type TextBox = (u32, u32, u32, u32);

/// Draws `text` alone (for tests and font checks); returns the pixmap and the text's
/// bounding box `(x0, y0, x1, y1)`.
pub fn draw_label(text: &str, px: f32) -> Result<(Pixmap, TextBox), ChartError> {
    let fonts = FONTS.as_ref().map_err(|e| ChartError::Font(e.clone()))?;
    let mut pm = Pixmap::new(WIDTH, 120).ok_or(ChartError::Canvas)?;
    pm.fill(Color::WHITE);
    let mut c = Canvas { pm: &mut pm, fonts };
    let width = c.text(text, 10.0, 80.0, px, INK, None);
    let x1 = (10.0 + width).ceil().clamp(0.0, WIDTH as f32) as u32;
    let y0 = (80.0 - px).max(0.0) as u32;
    Ok((pm, (10, y0, x1, 100)))
}

/// Which embedded font draws `c`: DejaVu when it has the glyph, Droid Sans Fallback
/// otherwise; `None` when neither has it (it is drawn as DejaVu's missing-glyph box).
pub fn font_for(c: char) -> Option<&'static str> {
    let fonts = FONTS.as_ref().ok()?;
    if fonts.latin.glyph_id(c).0 != 0 {
        Some("DejaVuSans")
    } else if fonts.cjk.glyph_id(c).0 != 0 {
        Some("DroidSansFallbackFull")
    } else {
        None
    }
}

/// Reads the [`ChartData`] JSON back from a PNG made by [`render_png`], with its size.
pub fn read_png(bytes: &[u8]) -> Result<(u32, u32, Option<String>), ChartError> {
    let decoder = png::Decoder::new(std::io::Cursor::new(bytes));
    let reader = decoder
        .read_info()
        .map_err(|e| ChartError::Png(e.to_string()))?;
    let info = reader.info();
    let json = info
        .utf8_text
        .iter()
        .find(|t| t.keyword == DATA_KEY)
        .and_then(|t| t.get_text().ok());
    Ok((info.width, info.height, json))
}

fn encode(pm: &Pixmap, json: &str) -> Result<Vec<u8>, ChartError> {
    // The pixmap is opaque, so premultiplied RGBA is plain RGBA; alpha is dropped.
    let rgb: Vec<u8> = pm
        .data()
        .chunks_exact(4)
        .flat_map(|p| [p[0], p[1], p[2]])
        .collect();
    let mut out = Vec::with_capacity(64 * 1024);
    {
        let mut enc = png::Encoder::new(&mut out, pm.width(), pm.height());
        enc.set_color(png::ColorType::Rgb);
        enc.set_depth(png::BitDepth::Eight);
        // Flat colours compress well even at the fast level, and it keeps a render far
        // under the 50 ms budget (BENCHMARKS.md).
        enc.set_compression(png::Compression::Fast);
        enc.add_itxt_chunk(DATA_KEY.to_string(), json.to_string())
            .map_err(|e| ChartError::Png(e.to_string()))?;
        let mut writer = enc
            .write_header()
            .map_err(|e| ChartError::Png(e.to_string()))?;
        writer
            .write_image_data(&rgb)
            .map_err(|e| ChartError::Png(e.to_string()))?;
        writer
            .finish()
            .map_err(|e| ChartError::Png(e.to_string()))?;
    }
    Ok(out)
}

fn paint(rgb: [u8; 3]) -> Paint<'static> {
    let mut p = Paint::default();
    p.set_color_rgba8(rgb[0], rgb[1], rgb[2], 255);
    p.anti_alias = true;
    p
}

/// A "nice" axis maximum at or above `v`: 1, 2, 2.5 or 5 times a power of ten.
fn nice_ceiling(v: f64) -> f64 {
    if !(v.is_finite() && v > 0.0) {
        return 1.0;
    }
    let mag = 10f64.powf(v.log10().floor());
    for step in [1.0, 2.0, 2.5, 5.0, 10.0] {
        if step * mag >= v {
            return step * mag;
        }
    }
    10.0 * mag
}

/// An axis tick as a short number ("120k", "1.5M"): ticks are positions, not figures;
/// the figures are in the legend and on the card.
fn tick_text(v: f64) -> String {
    let a = v.abs();
    let (n, suffix) = if a >= 1e6 {
        (v / 1e6, "M")
    } else if a >= 1e3 {
        (v / 1e3, "k")
    } else {
        (v, "")
    };
    if (n - n.round()).abs() < 0.05 {
        format!("{:.0}{suffix}", n)
    } else {
        format!("{:.1}{suffix}", n)
    }
}

struct Canvas<'a> {
    pm: &'a mut Pixmap,
    fonts: &'a Fonts,
}

/// The font and glyph that draw `c`: DejaVu first, then Droid Sans Fallback, else
/// DejaVu's missing-glyph box.
fn glyph(fonts: &Fonts, c: char) -> (&FontRef<'static>, GlyphId) {
    let id = fonts.latin.glyph_id(c);
    if id.0 != 0 {
        return (&fonts.latin, id);
    }
    let cjk = fonts.cjk.glyph_id(c);
    if cjk.0 != 0 {
        (&fonts.cjk, cjk)
    } else {
        (&fonts.latin, id)
    }
}

impl<'a> Canvas<'a> {
    fn glyph(&self, c: char) -> (&'a FontRef<'static>, GlyphId) {
        glyph(self.fonts, c)
    }

    fn width(&self, text: &str, px: f32) -> f32 {
        text.chars()
            .map(|c| {
                let (font, id) = self.glyph(c);
                font.as_scaled(PxScale::from(px)).h_advance(id)
            })
            .sum()
    }

    /// `text` shortened with "…" to fit `max` pixels.
    fn fit(&self, text: &str, px: f32, max: f32) -> String {
        if self.width(text, px) <= max {
            return text.to_string();
        }
        let ell = self.width("…", px);
        let mut out = String::new();
        let mut w = 0.0;
        for c in text.chars() {
            let (font, id) = self.glyph(c);
            let a = font.as_scaled(PxScale::from(px)).h_advance(id);
            if w + a + ell > max {
                break;
            }
            w += a;
            out.push(c);
        }
        out.push('…');
        out
    }

    /// Draws `text` with its baseline at `y`; returns its width.
    fn text(&mut self, text: &str, x: f32, y: f32, px: f32, rgb: [u8; 3], max: Option<f32>) -> f32 {
        let text = match max {
            Some(m) => self.fit(text, px, m),
            None => text.to_string(),
        };
        let (w, h) = (self.pm.width() as i32, self.pm.height() as i32);
        let mut caret = x;
        for c in text.chars() {
            let (font, id) = self.glyph(c);
            let scaled = font.as_scaled(PxScale::from(px));
            let glyph = id.with_scale_and_position(px, point(caret, y));
            if let Some(outline) = font.outline_glyph(glyph) {
                let b = outline.px_bounds();
                let pixels = self.pm.pixels_mut();
                outline.draw(|gx, gy, cov| {
                    let px_x = b.min.x as i32 + gx as i32;
                    let px_y = b.min.y as i32 + gy as i32;
                    if px_x < 0 || px_y < 0 || px_x >= w || px_y >= h {
                        return;
                    }
                    let i = (px_y * w + px_x) as usize;
                    let a = cov.clamp(0.0, 1.0);
                    let old = pixels[i];
                    let mix = |o: u8, n: u8| -> u8 {
                        (f32::from(o) * (1.0 - a) + f32::from(n) * a).round() as u8
                    };
                    if let Some(p) = PremultipliedColorU8::from_rgba(
                        mix(old.red(), rgb[0]),
                        mix(old.green(), rgb[1]),
                        mix(old.blue(), rgb[2]),
                        255,
                    ) {
                        pixels[i] = p;
                    }
                });
            }
            caret += scaled.h_advance(id);
        }
        caret - x
    }

    fn rect(&mut self, x: f32, y: f32, w: f32, h: f32, rgb: [u8; 3]) {
        if let Some(r) = Rect::from_xywh(x, y, w.max(0.5), h.max(0.5)) {
            self.pm
                .fill_rect(r, &paint(rgb), Transform::identity(), None);
        }
    }

    fn line(&mut self, pts: &[(f32, f32)], rgb: [u8; 3], width: f32, dashed: bool) {
        let mut pb = PathBuilder::new();
        let Some(&(x0, y0)) = pts.first() else {
            return;
        };
        pb.move_to(x0, y0);
        for &(x, y) in &pts[1..] {
            pb.line_to(x, y);
        }
        let Some(path) = pb.finish() else {
            return;
        };
        let stroke = Stroke {
            width,
            line_cap: LineCap::Round,
            dash: if dashed {
                StrokeDash::new(vec![8.0, 6.0], 0.0)
            } else {
                None
            },
            ..Stroke::default()
        };
        self.pm
            .stroke_path(&path, &paint(rgb), &stroke, Transform::identity(), None);
    }

    fn dot(&mut self, x: f32, y: f32, r: f32, rgb: [u8; 3]) {
        if let Some(path) = PathBuilder::from_circle(x, y, r) {
            self.pm.fill_path(
                &path,
                &paint(rgb),
                tiny_skia::FillRule::Winding,
                Transform::identity(),
                None,
            );
        }
    }

    /// The left panel: both periods' buckets as lines over one axis.
    fn trend(&mut self, data: &ChartData) {
        let (x0, x1, y0, y1) = (78.0f32, 500.0f32, 92.0f32, 372.0f32);
        self.text(&data.trend_title, 24.0, 74.0, 19.0, MUTED, Some(470.0));
        let amounts = |s: &Series| -> Vec<f64> {
            s.points
                .iter()
                .map(|p| p.amount.to_f64().unwrap_or(0.0))
                .collect()
        };
        let cur = amounts(&data.current);
        let prev = amounts(&data.previous);
        let hi = cur.iter().chain(&prev).cloned().fold(0.0f64, f64::max);
        let lo = cur.iter().chain(&prev).cloned().fold(0.0f64, f64::min);
        let top = nice_ceiling(hi);
        let bottom = if lo < 0.0 { -nice_ceiling(-lo) } else { 0.0 };
        let span = (top - bottom).max(f64::MIN_POSITIVE);
        let y_of = |v: f64| -> f32 { y1 - ((v - bottom) / span) as f32 * (y1 - y0) };
        // Five intervals: every "nice" maximum (1, 2, 2.5, 5 × 10ⁿ) divides into round ticks.
        for i in 0..=5 {
            let v = bottom + span * f64::from(i) / 5.0;
            let y = y_of(v);
            self.rect(x0, y, x1 - x0, 1.0, GRID);
            let t = tick_text(v);
            let w = self.width(&t, 16.0);
            self.text(&t, x0 - 8.0 - w, y + 6.0, 16.0, MUTED, None);
        }
        let n = cur.len().max(prev.len()).max(1);
        let x_of = |i: usize| -> f32 {
            if n == 1 {
                (x0 + x1) / 2.0
            } else {
                x0 + 10.0 + (x1 - x0 - 20.0) * i as f32 / (n - 1) as f32
            }
        };
        // At most eight axis labels, evenly spaced, always the first and the last.
        let step = n.div_ceil(8).max(1);
        let labels = if data.current.points.len() >= data.previous.points.len() {
            &data.current.points
        } else {
            &data.previous.points
        };
        for (i, p) in labels.iter().enumerate() {
            if i % step == 0 || i + 1 == n {
                if i + 1 == n && i % step != 0 && i % step < step / 2 {
                    continue;
                }
                let w = self.width(&p.label, 16.0).min(90.0);
                let label = self.fit(&p.label, 16.0, 90.0);
                self.text(&label, x_of(i) - w / 2.0, y1 + 24.0, 16.0, MUTED, None);
            }
        }
        let prev_pts: Vec<(f32, f32)> = prev
            .iter()
            .enumerate()
            .map(|(i, v)| (x_of(i), y_of(*v)))
            .collect();
        let cur_pts: Vec<(f32, f32)> = cur
            .iter()
            .enumerate()
            .map(|(i, v)| (x_of(i), y_of(*v)))
            .collect();
        self.line(&prev_pts, PREVIOUS, 2.5, true);
        self.line(&cur_pts, CURRENT, 3.5, false);
        if n <= 31 {
            for &(x, y) in &prev_pts {
                self.dot(x, y, 3.0, PREVIOUS);
            }
            for &(x, y) in &cur_pts {
                self.dot(x, y, 4.5, CURRENT);
            }
        }
        // Legend: each period with its total, as the card prints them.
        self.rect(24.0, 418.0, 22.0, 5.0, CURRENT);
        self.text(&data.current.label, 54.0, 428.0, 18.0, INK, Some(446.0));
        self.rect(24.0, 450.0, 22.0, 5.0, PREVIOUS);
        self.text(&data.previous.label, 54.0, 460.0, 18.0, INK, Some(446.0));
    }

    /// The right panel: horizontal bars, largest first, each with its amount.
    fn breakdown(&mut self, data: &ChartData) {
        let (x0, x1) = (530.0f32, 776.0f32);
        self.text(&data.breakdown_title, x0, 74.0, 19.0, MUTED, Some(x1 - x0));
        let bars = &data.breakdown[..data.breakdown.len().min(MAX_BARS)];
        let hi = bars
            .iter()
            .map(|b| b.amount.to_f64().unwrap_or(0.0))
            .fold(0.0f64, f64::max);
        for (i, b) in bars.iter().enumerate() {
            let y = 96.0 + i as f32 * 58.0;
            let value_w = self.width(&b.amount_text, 16.0);
            self.text(&b.amount_text, x1 - value_w, y + 20.0, 16.0, INK, None);
            self.text(
                &b.label,
                x0,
                y + 20.0,
                18.0,
                INK,
                Some(x1 - x0 - value_w - 10.0),
            );
            let share = if hi > 0.0 {
                (b.amount.to_f64().unwrap_or(0.0) / hi).clamp(0.0, 1.0) as f32
            } else {
                0.0
            };
            self.rect(x0, y + 28.0, x1 - x0, 14.0, GRID);
            self.rect(x0, y + 28.0, (x1 - x0) * share, 14.0, BAR);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> ChartData {
        let d = |day: i8| Date::new(2026, 12, day).expect("date");
        let point = |day: i8, amount: i64| Point {
            label: day.to_string(),
            start: d(day),
            end: d(day),
            amount: Decimal::new(amount, 2),
        };
        ChartData {
            locale: "zh-HK".into(),
            currency: "HKD".into(),
            title: "銷售報告：2026年12月1日至7日".into(),
            trend_title: "每日營業額".into(),
            granularity: Granularity::Day,
            current: Series {
                label: "12月1日至7日：HK$1,234.00".into(),
                start: d(1),
                end: d(7),
                total: Decimal::new(123_400, 2),
                points: (1..=7).map(|i| point(i, i64::from(i) * 3_000)).collect(),
            },
            previous: Series {
                label: "11月24日至30日：HK$900.00".into(),
                start: d(1),
                end: d(7),
                total: Decimal::new(90_000, 2),
                points: (1..=7)
                    .map(|i| point(i, 20_000 - i64::from(i) * 500))
                    .collect(),
            },
            breakdown_title: "各分店".into(),
            breakdown: vec![
                Bar {
                    label: "銅鑼灣".into(),
                    amount: Decimal::new(80_000, 2),
                    amount_text: "HK$800.00".into(),
                },
                Bar {
                    label: "旺角".into(),
                    amount: Decimal::new(43_400, 2),
                    amount_text: "HK$434.00".into(),
                },
            ],
            alt: "圖表".into(),
        }
    }

    #[test]
    fn renders_a_png_of_the_stated_size_carrying_its_data() {
        let data = sample();
        let png = render_png(&data).expect("png");
        // A look at the picture: `ASKERP_CHART_OUT=/tmp/chart.png cargo test --lib chart`.
        if let Ok(path) = std::env::var("ASKERP_CHART_OUT") {
            std::fs::write(path, &png).expect("write chart");
        }
        let (w, h, json) = read_png(&png).expect("decodes");
        assert_eq!((w, h), (WIDTH, HEIGHT));
        let back: ChartData = serde_json::from_str(&json.expect("data chunk")).expect("json");
        assert_eq!(back, data);
    }

    #[test]
    fn every_character_of_the_five_languages_has_a_glyph() {
        for text in [
            "Sales report 1–7 Dec HK$1,234.56 ▲",
            "銷售報告 各分店 銅鑼灣 觀塘 每週營業額",
            "销售报告 各门店 观塘 每周营业额",
            "Laporan jualan Mengikut kedai",
            "Báo cáo doanh thu theo tuần Hàng bán chạy Tất cả",
        ] {
            for c in text.chars().filter(|c| !c.is_whitespace()) {
                assert!(font_for(c).is_some(), "{c:?} in {text:?} has no glyph");
            }
        }
        assert_eq!(font_for('ệ'), Some("DejaVuSans"));
        assert_eq!(font_for('觀'), Some("DroidSansFallbackFull"));
    }

    #[test]
    fn degenerate_data_still_draws() {
        let mut data = sample();
        data.current.points.clear();
        data.previous.points.truncate(1);
        data.breakdown.clear();
        data.title = "x".repeat(500);
        render_png(&data).expect("png");
        assert_eq!(nice_ceiling(0.0), 1.0);
        assert_eq!(nice_ceiling(1234.0), 2000.0);
        assert_eq!(tick_text(120_000.0), "120k");
        assert_eq!(tick_text(1_500_000.0), "1.5M");
    }
}
