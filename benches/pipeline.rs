//! Latency of the hot path: rule resolution, card rendering, and a whole answer on the
//! demo ERP with a warm cache. Run with `cargo bench --bench pipeline`; results are
//! recorded in BENCHMARKS.md.

use std::hint::black_box;

use askerp::channel::Conversation;
use askerp::config::Config;
use askerp::pipeline::Question;
use criterion::{Criterion, criterion_group, criterion_main};

const UTTERANCES: [&str; 12] = [
    "@ERP assistant how many iPhone 15 Pro 256GB in stock?",
    "@ERP助手 維他檸檬茶 觀塘倉仲有幾多?",
    "上个月九龙区销售额",
    "berapa baki cuti tahunan saya?",
    "doanh thu tháng trước ở Kowloon",
    "SO-2026-00147 这张单现在什么 status?",
    "sales last month in Kowloon",
    "上個月九龍區營業額",
    "how many annual leave days do I have?",
    "status of SO-2026-00123",
    "top 5 items this month",
    "what's the weather tomorrow?",
];

fn resolution(c: &mut Criterion) {
    let tz = jiff::tz::TimeZone::get("Asia/Hong_Kong").expect("tz");
    // As `askerp serve` runs it: with the demo ERP's vocabulary (items, places, customers,
    // staff), which is what entity search looks through.
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let resolver = rt
        .block_on(askerp::setup::resolver(&Config::default()))
        .expect("resolver");
    let now = jiff::Zoned::now().with_time_zone(tz);
    c.bench_function("resolve/one_utterance_avg_of_12", |b| {
        let mut i = 0;
        b.iter(|| {
            i = (i + 1) % UTTERANCES.len();
            black_box(resolver.resolve(black_box(UTTERANCES[i]), &now))
        })
    });
    // Every utterance of the evaluation set in turn: five languages, code-mixed text and
    // out-of-scope questions, as the catalog meets them.
    // The blind set: questions written by people who never saw the rules.
    let blind = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/eval/blind.jsonl"))
        .expect("eval/blind.jsonl");
    let eval: Vec<String> = askerp::intent::eval::parse(&blind)
        .expect("evaluation set")
        .into_iter()
        .map(|c| c.text)
        .collect();
    // Criterion times batches of iterations; the target is about single messages, so each
    // message of the set is also timed on its own and the median across messages printed.
    let mut per_message: Vec<f64> = eval
        .iter()
        .map(|text| {
            const REPS: u32 = 200;
            let start = std::time::Instant::now();
            for _ in 0..REPS {
                black_box(resolver.resolve(black_box(text), &now));
            }
            start.elapsed().as_secs_f64() * 1e6 / f64::from(REPS)
        })
        .collect();
    per_message.sort_by(f64::total_cmp);
    let at = |q: f64| per_message[((per_message.len() - 1) as f64 * q) as usize];
    println!(
        "resolve/blind_set per message over {} messages: median {:.2} µs, p90 {:.2} µs, p99 {:.2} µs, max {:.2} µs",
        per_message.len(),
        at(0.5),
        at(0.9),
        at(0.99),
        at(1.0)
    );
    c.bench_function("resolve/eval_set_per_utterance", |b| {
        let mut i = 0;
        b.iter(|| {
            i = (i + 1) % eval.len();
            black_box(resolver.resolve(black_box(&eval[i]), &now))
        })
    });
}

fn whole_answer(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let config = Config::default();
    let bot = rt.block_on(askerp::setup::bot(&config)).expect("bot");
    let question = |text: &str, user: &str| Question {
        text: Some(text.to_string()),
        msgtype: "text".into(),
        user_id: Some(user.to_string()),
        conversation: Conversation::Group,
        conversation_id: "bench".into(),
        mentioned: vec![],
        now: jiff::Zoned::now().with_time_zone(bot.tz.clone()),
        reference: "bench".into(),
    };
    let stock = question("how many iPhone 15 Pro 256GB in stock?", "demo.staff");
    let sales = question("上個月九龍區營業額", "demo.manager");
    c.bench_function("answer/stock_warm_cache", |b| {
        b.to_async(&rt).iter(|| bot.answer(&stock))
    });
    c.bench_function("answer/sales_warm_cache", |b| {
        b.to_async(&rt).iter(|| bot.answer(&sales))
    });
}

criterion_group!(benches, resolution, whole_answer);
criterion_main!(benches);
