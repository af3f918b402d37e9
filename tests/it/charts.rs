//! Report charts end to end: the PNG as the DingTalk simulator receives it (uploaded to
//! its media store, or fetched from askerp's signed link), its size, its ink, and its
//! data checked against independent SQL over the demo database and against the card's
//! text; the signed links refused when expired, altered or pointing anywhere else.

use std::time::Duration;

use askerp::card::chart::{self, ChartData};
use askerp::card::format;
use askerp::dingtalk::sim::SimImage;
use askerp::erp::Money;
use askerp::intent::Locale;
use jiff::civil::Date;
use rust_decimal::Decimal;
use sqlx::Row;

use crate::support::TestApp;

/// Counted sales of stores in `region` from `start` to `end`, in cents.
async fn region_cents(app: &TestApp, region: &str, start: Date, end: Date) -> i64 {
    let db = app.db().await;
    sqlx::query(
        "SELECT COALESCE(SUM(o.total_cents), 0) FROM orders o JOIN places p ON p.code = o.store \
         WHERE p.region = ? AND o.order_date BETWEEN ? AND ? \
         AND o.state IN ('confirmed','picking','shipped','delivered')",
    )
    .bind(region)
    .bind(start.to_string())
    .bind(end.to_string())
    .fetch_one(&db)
    .await
    .expect("sum")
    .get::<i64, _>(0)
}

/// Per-store counted sales in `region`, largest first, in cents.
async fn store_cents(app: &TestApp, region: &str, start: Date, end: Date) -> Vec<i64> {
    let db = app.db().await;
    sqlx::query(
        "SELECT SUM(o.total_cents) AS t FROM orders o JOIN places p ON p.code = o.store \
         WHERE p.region = ? AND o.order_date BETWEEN ? AND ? \
         AND o.state IN ('confirmed','picking','shipped','delivered') \
         GROUP BY o.store ORDER BY t DESC",
    )
    .bind(region)
    .bind(start.to_string())
    .bind(end.to_string())
    .fetch_all(&db)
    .await
    .expect("stores")
    .iter()
    .map(|r| r.get::<i64, _>(0))
    .collect()
}

fn cents(d: Decimal) -> i64 {
    let c = d * Decimal::from(100);
    assert_eq!(c.fract(), Decimal::ZERO, "{d} has fractions of a cent");
    i64::try_from(c).expect("fits")
}

fn hkd(cents: i64, locale: Locale) -> String {
    format::money(
        locale,
        &Money {
            amount: Decimal::new(cents, 2),
            currency: "HKD".into(),
        },
    )
}

/// Share of pixels that are not white.
fn ink(image: &SimImage) -> f64 {
    let decoder = png::Decoder::new(std::io::Cursor::new(&image.bytes));
    let mut reader = decoder.read_info().expect("png header");
    let mut buf = vec![0; reader.output_buffer_size()];
    let frame = reader.next_frame(&mut buf).expect("png data");
    let bytes = &buf[..frame.buffer_size()];
    let step = frame.color_type.samples();
    let px = bytes
        .chunks(step)
        .filter(|p| p[..3] != [255, 255, 255])
        .count();
    px as f64 / (bytes.len() / step) as f64
}

/// The manager's (Kowloon) report, its one image, and that image's data.
async fn report(app: &TestApp, text: &str) -> (String, SimImage, ChartData) {
    let reply = app.ask("demo.manager", text).await;
    let images = app.sim.wait_for_images(1, Duration::from_secs(10)).await;
    let image = images
        .into_iter()
        .find(|i| i.seq == reply.seq)
        .unwrap_or_else(|| panic!("no image shown with {}", reply.text));
    let data: ChartData =
        serde_json::from_value(image.data.clone().expect("chart data in the PNG")).expect("data");
    (reply.text, image, data)
}

/// Checks every figure of the chart against SQL and the card's text.
async fn check_figures(app: &TestApp, card: &str, data: &ChartData, locale: Locale) {
    for series in [&data.current, &data.previous] {
        let total = region_cents(app, "KLN", series.start, series.end).await;
        assert_eq!(cents(series.total), total, "{} total", series.label);
        assert!(card.contains(&hkd(total, locale)), "{card} lacks {total}");
        assert!(
            series.label.contains(&hkd(total, locale)),
            "{}",
            series.label
        );
        let mut sum = 0;
        for p in &series.points {
            let expected = region_cents(app, "KLN", p.start, p.end).await;
            assert_eq!(
                cents(p.amount),
                expected,
                "point {} of {}",
                p.label,
                series.label
            );
            sum += expected;
        }
        assert_eq!(
            sum, total,
            "the points of {} add up to its total",
            series.label
        );
    }
    let stores = store_cents(app, "KLN", data.current.start, data.current.end).await;
    let bars: Vec<i64> = data.breakdown.iter().map(|b| cents(b.amount)).collect();
    assert_eq!(
        bars,
        stores.into_iter().take(chart::MAX_BARS).collect::<Vec<_>>()
    );
    for b in &data.breakdown {
        assert!(
            card.contains(&b.amount_text),
            "{card} lacks {}",
            b.amount_text
        );
        assert!(card.contains(&b.label), "{card} lacks {}", b.label);
    }
}

#[tokio::test]
async fn without_a_public_url_the_chart_is_uploaded_and_shown_by_media_id() {
    let app = TestApp::start().await;
    let (card, image, data) = report(&app, "sales report this week").await;
    assert!(image.source.starts_with("@lALP"), "{}", image.source);
    assert!(card.contains(&format!("]({})", image.source)), "{card}");
    assert_eq!(app.sim.uploads(), 1);
    assert_eq!((image.width, image.height), (chart::WIDTH, chart::HEIGHT));
    let ink = ink(&image);
    assert!(ink > 0.03 && ink < 0.6, "ink {ink}");
    assert_eq!(data.locale, "en");
    assert!(!data.current.points.is_empty(), "a trend");
    check_figures(&app, &card, &data, Locale::En).await;
    let audit = app.audit(1).await;
    assert!(
        audit[0]["sends"].to_string().contains("chart_media:ok"),
        "{}",
        audit[0]["sends"]
    );
}

#[tokio::test]
async fn a_chinese_report_has_chinese_labels_and_the_same_figures() {
    let app = TestApp::start().await;
    let (card, image, data) = report(&app, "上個月銷售報告").await;
    assert_eq!(data.locale, "zh-HK");
    assert!(data.title.contains("銷售報告"), "{}", data.title);
    assert_eq!(data.breakdown_title, "各分店");
    assert!(data.breakdown.iter().any(|b| b.label == "旺角"), "{data:?}");
    assert_eq!(data.trend_title, "每日營業額");
    check_figures(&app, &card, &data, Locale::ZhHk).await;
    assert!(ink(&image) > 0.03);
}

/// The OCR-free check that Chinese renders: each character of a known label is drawn
/// from the CJK font, covers a good part of its box with ink, and no two of them, nor any
/// of them and the missing-glyph box, draw the same pixels. A font without the glyphs
/// would draw blanks (no ink) or identical tofu boxes (same pixels).
#[test]
fn chinese_labels_render_as_distinct_glyphs_not_tofu() {
    let glyph_pixels = |text: &str| -> (Vec<bool>, f64) {
        let (pm, (x0, y0, x1, y1)) = chart::draw_label(text, 48.0).expect("draw");
        let mut on = Vec::new();
        for y in y0..y1 {
            for x in x0..(x0 + 48).min(x1.max(x0 + 48)) {
                let p = pm.pixel(x, y).expect("pixel");
                on.push(p.red() < 128);
            }
        }
        let ink = on.iter().filter(|b| **b).count() as f64 / on.len() as f64;
        (on, ink)
    };
    let tofu = glyph_pixels("\u{e000}").0;
    let mut seen: Vec<(char, Vec<bool>)> = Vec::new();
    for c in ['銅', '鑼', '灣', '观', '塘', '销', '售'] {
        assert_eq!(chart::font_for(c), Some("DroidSansFallbackFull"), "{c}");
        let (on, ink) = glyph_pixels(&c.to_string());
        assert!(ink > 0.08, "{c}: ink {ink}");
        let differ = |a: &[bool], b: &[bool]| a.iter().zip(b).filter(|(x, y)| x != y).count();
        assert!(differ(&on, &tofu) > on.len() / 20, "{c} looks like tofu");
        for (other, pixels) in &seen {
            assert!(
                differ(&on, pixels) > on.len() / 20,
                "{c} looks like {other}"
            );
        }
        seen.push((c, on));
    }
}

#[tokio::test]
async fn with_a_public_url_the_chart_is_a_signed_link_that_expires() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let public = format!("http://{}", listener.local_addr().expect("addr"));
    let url = public.clone();
    let app = TestApp::start_on(listener, move |c| c.server.public_url = Some(url), None).await;
    let (card, image, data) = report(&app, "sales report last week").await;
    assert!(
        image.source.starts_with(&format!("{public}/charts/")),
        "{}",
        image.source
    );
    assert!(card.contains(&image.source), "{card}");
    assert_eq!(app.sim.uploads(), 0, "nothing uploaded to DingTalk");
    check_figures(&app, &card, &data, Locale::En).await;

    // The link serves the PNG, and only while valid.
    let resp = app.http.get(&image.source).send().await.expect("get");
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "image/png");
    assert_eq!(
        resp.bytes().await.expect("body").as_ref(),
        image.bytes.as_slice()
    );

    let file = image.source.rsplit('/').next().expect("file").to_string();
    let (id, rest) = file.split_once('-').expect("id");
    let (expiry, sig) = rest.split_once('-').expect("expiry");
    let store = app.state.dingtalk.chart_store().expect("store");
    let expired = store.path(id, jiff::Timestamp::now().as_second() - 1);
    let longer = expiry.parse::<i64>().expect("expiry") + 86_400;
    let mut refused = vec![
        expired,
        format!("/charts/{id}-{longer}-{sig}"),
        format!(
            "/charts/{}{}-{rest}",
            if id.starts_with('a') { 'b' } else { 'a' },
            &id[1..]
        ),
        format!("/charts/{id}-{expiry}-{}", sig.replace(".png", "0.png")),
        "/charts/".into(),
        "/charts".into(),
        "/charts/..%2f..%2fCargo.toml".into(),
        "/charts/%2e%2e/audit.jsonl".into(),
        format!("/charts/{id}.png"),
    ];
    // A well-signed link to a chart this store never had is refused too.
    refused.push(store.path(&"0".repeat(32), jiff::Timestamp::now().as_second() + 60));
    for path in refused {
        let resp = app
            .http
            .get(format!("{public}{path}"))
            .send()
            .await
            .expect("get");
        assert_eq!(resp.status(), 404, "{path} answered {}", resp.status());
        assert!(
            resp.bytes().await.expect("body").is_empty(),
            "{path} has a body"
        );
    }
}
