//! A language model's answer of any shape: validated against the shipped catalog without a
//! panic; whatever survives validation and grounding names only what the user wrote or
//! what the bot knows (a model cannot put its own text on a card).

use std::sync::LazyLock;

static RESOLVER: LazyLock<askerp::intent::Resolver> = LazyLock::new(|| {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(askerp::setup::resolver(&askerp::config::Config::default()))
        .expect("the shipped intents load")
});

fn main() {
    LazyLock::force(&RESOLVER);
    let today = jiff::civil::date(2026, 12, 2);
    afl::fuzz!(|data: &[u8]| {
        let Ok(answer) = serde_json::from_slice::<serde_json::Value>(data) else {
            return;
        };
        let catalog = RESOLVER.catalog();
        if let Ok(Some((_, mut slots))) = askerp::intent::llm::validate(&answer, catalog, today, 200) {
            let said = "how many in stock";
            RESOLVER.ground(&mut slots, said);
            for name in [&slots.item, &slots.customer, &slots.employee, &slots.order]
                .into_iter()
                .flatten()
            {
                assert!(!name.contains("8888") || said.contains(name.as_str()), "{name}");
            }
        }
    });
}
