//! A card button press (HTTP card callback body or Stream card frame data): parsed or
//! refused, and a press yields at most one question, never longer than what was sent.

fn main() {
    afl::fuzz!(|data: &[u8]| {
        if let Ok(c) = serde_json::from_slice::<askerp::dingtalk::cards::CardCallback>(data)
            && let Some(press) = c.press()
        {
            assert!(press.question.len() <= data.len(), "a press invented text");
        }
    });
}
