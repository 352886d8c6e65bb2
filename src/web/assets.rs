//! The console's files, embedded at compile time: the binary is the whole deployment.

use std::sync::OnceLock;

pub struct Asset {
    pub name: &'static str,
    pub bytes: &'static [u8],
    pub content_type: &'static str,
    etag: OnceLock<String>,
}

impl Asset {
    const fn new(name: &'static str, bytes: &'static [u8]) -> Asset {
        Asset {
            name,
            bytes,
            content_type: content_type(name),
            etag: OnceLock::new(),
        }
    }

    /// A tag from the content, so it changes exactly when the file does. Weak, because the
    /// same tag is sent with the gzipped and the plain body (a strong tag names one exact
    /// sequence of bytes, RFC 9110 §8.8.1).
    pub fn etag(&self) -> &str {
        self.etag.get_or_init(|| {
            let hash = blake3::hash(self.bytes);
            format!("W/\"{}\"", &hash.to_hex()[..32])
        })
    }
}

/// By extension; every name in [`ASSETS`] has one of these.
const fn content_type(name: &str) -> &'static str {
    let b = name.as_bytes();
    if ends_with(b, b".js") {
        "text/javascript; charset=utf-8"
    } else if ends_with(b, b".css") {
        "text/css; charset=utf-8"
    } else if ends_with(b, b".svg") {
        "image/svg+xml"
    } else if ends_with(b, b".html") {
        "text/html; charset=utf-8"
    } else {
        "application/octet-stream"
    }
}

const fn ends_with(s: &[u8], suffix: &[u8]) -> bool {
    if s.len() < suffix.len() {
        return false;
    }
    let mut i = 0;
    while i < suffix.len() {
        if s[s.len() - suffix.len() + i] != suffix[i] {
            return false;
        }
        i += 1;
    }
    true
}

macro_rules! assets {
    ($($name:literal),* $(,)?) => {
        [$(Asset::new($name, include_bytes!(concat!("../../web/console/", $name)))),*]
    };
}

static ASSETS: [Asset; 13] = assets![
    "index.html",
    "style.css",
    "icon.svg",
    "app.js",
    "api.js",
    "dom.js",
    "signin.js",
    "search.js",
    "records.js",
    "uploads.js",
    "keys.js",
    "usage.js",
    "tenants.js",
];

pub fn index() -> &'static Asset {
    &ASSETS[0]
}

/// A file by its name under `/console/`; the page itself is only served at `/console`.
pub fn find(name: &str) -> Option<&'static Asset> {
    ASSETS.iter().skip(1).find(|a| a.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_asset_has_a_known_type_and_stable_tag() {
        for a in &ASSETS {
            assert_ne!(a.content_type, "application/octet-stream", "{}", a.name);
            assert!(!a.bytes.is_empty(), "{}", a.name);
            assert_eq!(a.etag(), a.etag());
            assert_eq!(a.etag().len(), 36);
            assert!(a.etag().starts_with("W/\""));
        }
        assert_eq!(index().name, "index.html");
        assert!(find("index.html").is_none());
        assert!(find("app.js").is_some());
        assert!(find("../Cargo.toml").is_none());
    }

    #[test]
    fn content_types_by_extension() {
        assert_eq!(content_type("a.js"), "text/javascript; charset=utf-8");
        assert_eq!(content_type("a.css"), "text/css; charset=utf-8");
        assert_eq!(content_type("a.svg"), "image/svg+xml");
        assert_eq!(content_type("a.html"), "text/html; charset=utf-8");
        assert_eq!(content_type("js"), "application/octet-stream");
    }
}
