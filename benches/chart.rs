//! Report-chart rendering: a report card's chart drawn and encoded as PNG, from the data
//! of a real report on the demo ERP (a month per day, the per-store breakdown), in
//! English and in Traditional Chinese. Run with `cargo bench --bench chart`; the target
//! (≤ 50 ms median, release) and the figures are in BENCHMARKS.md.

use std::hint::black_box;

use askerp::card::chart::render_png;
use askerp::channel::Conversation;
use askerp::config::Config;
use askerp::pipeline::Question;
use criterion::{Criterion, criterion_group, criterion_main};

fn chart(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let bot = rt
        .block_on(askerp::setup::bot(&Config::default()))
        .expect("bot");
    let chart_of = |text: &str| {
        let q = Question {
            text: Some(text.to_string()),
            msgtype: "text".into(),
            user_id: Some("demo.manager".into()),
            conversation: Conversation::OneToOne,
            conversation_id: "bench".into(),
            mentioned: vec![],
            now: jiff::Zoned::now().with_time_zone(bot.tz.clone()),
            reference: "bench".into(),
        };
        rt.block_on(bot.answer(&q))
            .chart
            .expect("a report has a chart")
    };
    let en = chart_of("sales report last month");
    let zh = chart_of("上個月銷售報告");
    println!(
        "chart PNG sizes: en {} bytes, zh-HK {} bytes",
        render_png(&en).expect("png").len(),
        render_png(&zh).expect("png").len()
    );
    c.bench_function("chart/report_png_en", |b| {
        b.iter(|| render_png(black_box(&en)))
    });
    c.bench_function("chart/report_png_zh_hk", |b| {
        b.iter(|| render_png(black_box(&zh)))
    });
}

criterion_group!(benches, chart);
criterion_main!(benches);
