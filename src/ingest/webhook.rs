//! Webhook signatures: `X-Webhook-Signature: sha256=<hex HMAC-SHA256 of the raw body>`.

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Whether a signature header value matches the body. The comparison is constant-time
/// (`Mac::verify_slice`).
pub fn verify(secret: &[u8], body: &[u8], header: &[u8]) -> bool {
    let Some(sig) = header
        .strip_prefix(b"sha256=")
        .and_then(|h| hex::decode(h).ok())
    else {
        return false;
    };
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret) else {
        return false;
    };
    mac.update(body);
    mac.verify_slice(&sig).is_ok()
}

/// The header value for a body (for clients and tests).
pub fn sign(secret: &[u8], body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes keys of any length");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_verify_only_for_the_same_secret_and_body() {
        let s = sign(b"secret", b"{}");
        assert!(verify(b"secret", b"{}", s.as_bytes()));
        assert!(!verify(b"other", b"{}", s.as_bytes()));
        assert!(!verify(b"secret", b"{ }", s.as_bytes()));
        assert!(!verify(
            b"secret",
            b"{}",
            s.trim_start_matches("sha256=").as_bytes()
        ));
        assert!(!verify(b"secret", b"{}", b"sha256=zz"));
        // RFC 4231 test case 2.
        assert_eq!(
            sign(b"Jefe", b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
