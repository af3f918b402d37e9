//! A Stream gateway frame: any bytes parse to a frame or are refused; a frame's data and
//! headers are read without a panic, and a bot message inside it is parsed like a
//! callback.

fn main() {
    afl::fuzz!(|data: &[u8]| {
        if let Ok(f) = serde_json::from_slice::<askerp::dingtalk::stream::Frame>(data) {
            let _ = f.header("topic");
            let _ = f.header("messageId");
            let text = f.data_text();
            if let Ok(m) = serde_json::from_str::<askerp::dingtalk::RobotMessage>(&text) {
                let _ = m.into_inbound();
            }
        }
    });
}
