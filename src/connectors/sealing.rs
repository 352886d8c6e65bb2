//! Connection settings sealed at rest: XChaCha20-Poly1305 under the key in
//! `DATA_DIR/connector.key` (see `crate::auth::secrets`). A random 24-byte nonce per seal (safe
//! to draw at random at that size); the tenant and connector id are bound in as associated data,
//! so a sealed blob copied onto another connector or tenant does not open.

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rand::RngCore;
use uuid::Uuid;

const NONCE_LEN: usize = 24;

pub struct Sealer {
    cipher: XChaCha20Poly1305,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sealer(..)")
    }
}

fn associated_data(tenant: &str, id: Uuid) -> Vec<u8> {
    let mut aad = tenant.as_bytes().to_vec();
    aad.push(0);
    aad.extend_from_slice(id.as_bytes());
    aad
}

impl Sealer {
    pub fn new(key: &[u8; 32]) -> Self {
        Sealer {
            cipher: XChaCha20Poly1305::new(key.into()),
        }
    }

    /// Nonce followed by ciphertext and tag.
    pub fn seal(&self, tenant: &str, id: Uuid, plain: &[u8]) -> Result<Vec<u8>, String> {
        let mut nonce = [0u8; NONCE_LEN];
        rand::rng().fill_bytes(&mut nonce);
        let aad = associated_data(tenant, id);
        let sealed = self
            .cipher
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: plain,
                    aad: &aad,
                },
            )
            .map_err(|_| "cannot seal the connection settings".to_owned())?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&sealed);
        Ok(out)
    }

    pub fn open(&self, tenant: &str, id: Uuid, sealed: &[u8]) -> Result<Vec<u8>, String> {
        let unreadable = || {
            "the stored connection settings cannot be decrypted: connector.key is not the key \
             they were sealed with (restore it from the data dir's backup, or create the \
             connector again)"
                .to_owned()
        };
        if sealed.len() < NONCE_LEN {
            return Err(unreadable());
        }
        let (nonce, body) = sealed.split_at(NONCE_LEN);
        let aad = associated_data(tenant, id);
        self.cipher
            .decrypt(
                XNonce::from_slice(nonce),
                Payload {
                    msg: body,
                    aad: &aad,
                },
            )
            .map_err(|_| unreadable())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_settings_open_only_for_their_connector_and_key() {
        let sealer = Sealer::new(&[7u8; 32]);
        let id = Uuid::now_v7();
        let plain = br#"{"password":"hunter2"}"#;
        let sealed = sealer.seal("t1", id, plain).unwrap();
        assert!(!sealed.windows(7).any(|w| w == b"hunter2"));
        assert_ne!(sealed, sealer.seal("t1", id, plain).unwrap(), "fresh nonce");
        assert_eq!(sealer.open("t1", id, &sealed).unwrap(), plain);
        assert!(sealer.open("t2", id, &sealed).is_err());
        assert!(sealer.open("t1", Uuid::now_v7(), &sealed).is_err());
        assert!(Sealer::new(&[8u8; 32]).open("t1", id, &sealed).is_err());
        assert!(sealer.open("t1", id, &sealed[..10]).is_err());
        let mut flipped = sealed.clone();
        *flipped.last_mut().unwrap() ^= 1;
        assert!(sealer.open("t1", id, &flipped).is_err());
    }
}
