//! A configuration file of any content: loaded and validated, or refused with problems;
//! never a panic.

fn main() {
    afl::fuzz!(|data: &[u8]| {
        let text = String::from_utf8_lossy(data);
        if let Ok(c) = askerp::config::Config::from_toml(&text) {
            let _ = c.validate();
        }
    });
}
