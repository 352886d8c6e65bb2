//! API key values: format (`sk_live_` + 64 lowercase hex), generation and the keyed hash that is
//! the only form ever stored.

use rand::RngCore;

pub const PREFIX: &str = "sk_live_";
const HEX_LEN: usize = 64;
/// Characters of a key shown in listings (`sk_live_1a2b`).
pub const DISPLAY_PREFIX_LEN: usize = 12;

/// A syntactically valid API key. Holding one says nothing about whether it exists.
/// Borrowed when parsed from a request (no allocation on the hot path), owned when generated.
pub struct ApiKey<'a>(std::borrow::Cow<'a, str>);

impl<'a> ApiKey<'a> {
    /// Checks the format only; no lookup happens for a value that fails here.
    pub fn parse(value: &'a str) -> Option<ApiKey<'a>> {
        let hex = value.strip_prefix(PREFIX)?;
        let well_formed = hex.len() == HEX_LEN
            && hex
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        well_formed.then_some(ApiKey(std::borrow::Cow::Borrowed(value)))
    }

    /// 32 bytes from the OS-seeded CSPRNG.
    pub fn generate() -> ApiKey<'static> {
        let mut bytes = [0u8; 32];
        rand::rng().fill_bytes(&mut bytes);
        ApiKey(std::borrow::Cow::Owned(format!(
            "{PREFIX}{}",
            hex::encode(bytes)
        )))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn display_prefix(&self) -> String {
        self.0[..DISPLAY_PREFIX_LEN].to_owned()
    }

    pub fn into_string(self) -> String {
        self.0.into_owned()
    }
}

/// Keyed blake3 with the server's salt: a stolen data dir without the salt reveals nothing.
#[derive(Clone)]
pub struct KeyHasher {
    salt: [u8; 32],
}

impl KeyHasher {
    pub fn new(salt: [u8; 32]) -> Self {
        KeyHasher { salt }
    }

    /// Turns an operator-chosen `API_KEY_SALT` string of any length into a hashing key.
    pub fn from_secret(secret: &str) -> Self {
        KeyHasher::new(blake3::derive_key(
            "qanatix-server 2026-11 api key salt",
            secret.as_bytes(),
        ))
    }

    pub fn hash(&self, key: &ApiKey<'_>) -> [u8; 32] {
        *blake3::keyed_hash(&self.salt, key.0.as_bytes()).as_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex64(c: char) -> String {
        std::iter::repeat_n(c, 64).collect()
    }

    #[test]
    fn accepts_only_the_exact_format() {
        assert!(ApiKey::parse(&format!("sk_live_{}", hex64('a'))).is_some());
        assert!(ApiKey::parse(&format!("sk_live_{}", hex64('0'))).is_some());
        for bad in [
            format!("sk_test_{}", hex64('a')),
            format!("sk_live_{}", &hex64('a')[..63]),
            format!("sk_live_{}a", hex64('a')),
            format!("sk_live_{}", hex64('A')),
            format!("sk_live_{}", hex64('g')),
            format!("SK_LIVE_{}", hex64('a')),
            String::new(),
            "sk_live_".into(),
            format!("sk_live_{}é", &hex64('a')[..62]),
        ] {
            assert!(ApiKey::parse(&bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn generated_keys_are_valid_and_distinct() {
        let a = ApiKey::generate();
        let b = ApiKey::generate();
        assert!(ApiKey::parse(a.as_str()).is_some());
        assert_ne!(a.as_str(), b.as_str());
        assert_eq!(a.display_prefix().len(), 12);
        assert!(a.display_prefix().starts_with("sk_live_"));
    }

    #[test]
    fn hash_depends_on_salt_and_key() {
        let value = format!("sk_live_{}", hex64('b'));
        let k = ApiKey::parse(&value).unwrap();
        let h1 = KeyHasher::new([1; 32]).hash(&k);
        let h2 = KeyHasher::new([2; 32]).hash(&k);
        assert_ne!(h1, h2);
        assert_eq!(h1, KeyHasher::new([1; 32]).hash(&k));
        assert_ne!(
            KeyHasher::from_secret("x").hash(&k),
            KeyHasher::from_secret("y").hash(&k)
        );
    }
}
