//! The callback signature: `base64(HMAC-SHA256(key = app secret, msg = timestamp + "\n" +
//! app secret))`, carried in the `timestamp` and `sign` headers. It covers only the
//! timestamp, so the window check and `msgId` dedupe are what stop replays.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// Why a callback was refused. All of them answer 401.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignError {
    #[error("the timestamp or sign header is missing")]
    Missing,
    #[error("the timestamp header is not a number of milliseconds")]
    BadTimestamp,
    #[error("the timestamp is outside the accepted window")]
    Expired,
    #[error("the signature does not match")]
    Mismatch,
}

fn mac(secret: &str, timestamp: &str) -> HmacSha256 {
    #[allow(clippy::expect_used)]
    let mut mac =
        HmacSha256::new_from_slice(secret.as_bytes()).expect("HMAC accepts keys of any length");
    mac.update(timestamp.as_bytes());
    mac.update(b"\n");
    mac.update(secret.as_bytes());
    mac
}

/// Signs like DingTalk does; used by the simulator and `askerp send`.
pub fn sign(secret: &str, timestamp: &str) -> String {
    STANDARD.encode(mac(secret, timestamp).finalize().into_bytes())
}

/// Verifies the headers of a callback received at `now_ms`.
pub fn verify(
    secret: &str,
    timestamp: Option<&str>,
    signature: Option<&str>,
    now_ms: i64,
    window_ms: i64,
) -> Result<(), SignError> {
    let (Some(timestamp), Some(signature)) = (timestamp, signature) else {
        return Err(SignError::Missing);
    };
    let ts: i64 = timestamp
        .trim()
        .parse()
        .map_err(|_| SignError::BadTimestamp)?;
    if now_ms.abs_diff(ts) > window_ms.unsigned_abs() {
        return Err(SignError::Expired);
    }
    let given = STANDARD
        .decode(signature.trim())
        .map_err(|_| SignError::Mismatch)?;
    // `verify_slice` compares in constant time.
    mac(secret, timestamp)
        .verify_slice(&given)
        .map_err(|_| SignError::Mismatch)
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: i64 = 3_600_000;

    #[test]
    fn protocol_test_vector() {
        assert_eq!(
            sign("askerp-test-secret", "1700000000000"),
            "tBbgKopcQk6pEtDoJWYBnt71o6n8TIO0a4G3pg4bZdw="
        );
        assert_eq!(
            verify(
                "askerp-test-secret",
                Some("1700000000000"),
                Some("tBbgKopcQk6pEtDoJWYBnt71o6n8TIO0a4G3pg4bZdw="),
                1_700_000_000_000,
                HOUR
            ),
            Ok(())
        );
    }

    #[test]
    fn refuses_missing_wrong_and_expired() {
        let s = "askerp-test-secret";
        let good = sign(s, "1700000000000");
        assert_eq!(
            verify(s, None, Some(&good), 0, HOUR),
            Err(SignError::Missing)
        );
        assert_eq!(
            verify(s, Some("1700000000000"), None, 0, HOUR),
            Err(SignError::Missing)
        );
        assert_eq!(
            verify(s, Some("soon"), Some(&good), 0, HOUR),
            Err(SignError::BadTimestamp)
        );
        assert_eq!(
            verify(
                "other",
                Some("1700000000000"),
                Some(&good),
                1_700_000_000_000,
                HOUR
            ),
            Err(SignError::Mismatch)
        );
        assert_eq!(
            verify(
                s,
                Some("1700000000000"),
                Some("bm90IGl0"),
                1_700_000_000_000,
                HOUR
            ),
            Err(SignError::Mismatch)
        );
        assert_eq!(
            verify(
                s,
                Some("1700000000000"),
                Some(&good),
                1_700_000_000_000 + HOUR + 1,
                HOUR
            ),
            Err(SignError::Expired)
        );
        assert_eq!(
            verify(
                s,
                Some("1700000000000"),
                Some(&good),
                1_700_000_000_000 - HOUR - 1,
                HOUR
            ),
            Err(SignError::Expired)
        );
        assert_eq!(
            verify(
                s,
                Some("1700000000000"),
                Some(&good),
                1_700_000_000_000 + HOUR,
                HOUR
            ),
            Ok(())
        );
    }
}
