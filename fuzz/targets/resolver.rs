//! The resolver on any text (lossily decoded, as DingTalk text always is UTF-8): an answer
//! for every message, never a panic, and never a hang (AFL reports a target that exceeds
//! its time limit as a hang).

use std::sync::LazyLock;

static RESOLVER: LazyLock<askerp::intent::Resolver> = LazyLock::new(|| {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(askerp::setup::resolver(&askerp::config::Config::default()))
        .expect("the shipped intents load")
});

static NOW: LazyLock<jiff::Zoned> = LazyLock::new(|| {
    "2026-12-02T10:00:00+08:00[Asia/Hong_Kong]"
        .parse()
        .expect("a time")
});

fn main() {
    LazyLock::force(&RESOLVER);
    afl::fuzz!(|data: &[u8]| {
        let text = String::from_utf8_lossy(data);
        let _ = RESOLVER.resolve(&text, &NOW);
    });
}
