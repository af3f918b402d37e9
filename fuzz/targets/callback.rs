//! A DingTalk callback body (HTTP mode, or a Stream frame's `data`): any bytes parse to a
//! robot message or are refused, and a parsed message becomes an inbound message whose
//! conversation is 1:1 only when DingTalk says so.

fn main() {
    afl::fuzz!(|data: &[u8]| {
        if let Ok(m) = serde_json::from_slice::<askerp::dingtalk::RobotMessage>(data) {
            // The oracle reads the body as a whole; fields the message ignores are not
            // checked for valid UTF-8 by serde, so a body only the message accepts is
            // not judged.
            let one_to_one = serde_json::from_slice::<serde_json::Value>(data)
                .ok()
                .map(|v| v.get("conversationType") == Some(&serde_json::json!("1")));
            let _ = m.is_for_robot("dingrobot");
            let inbound = m.into_inbound();
            if one_to_one == Some(false) {
                assert_eq!(inbound.conversation, askerp::channel::Conversation::Group);
            }
        }
    });
}
