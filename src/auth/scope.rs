//! Scopes a key can hold (API.md §1). `admin` implies every other scope.

use serde::Serialize;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    Search,
    Ingest,
    Entities,
    Admin,
}

impl Scope {
    pub const ALL: [Scope; 4] = [Scope::Search, Scope::Ingest, Scope::Entities, Scope::Admin];

    pub fn parse(s: &str) -> Option<Scope> {
        Scope::ALL.into_iter().find(|scope| scope.as_str() == s)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Search => "search",
            Scope::Ingest => "ingest",
            Scope::Entities => "entities",
            Scope::Admin => "admin",
        }
    }

    fn bit(self) -> u8 {
        match self {
            Scope::Search => 1,
            Scope::Ingest => 2,
            Scope::Entities => 4,
            Scope::Admin => 8,
        }
    }
}

/// The records dialect's name for `ingest` (API-RECORDS.md §1). It grants exactly what
/// `ingest` grants; it has a bit of its own only so a key lists its scopes back as they were
/// given.
const UPLOAD_ALIAS: &str = "upload";
const UPLOAD_ALIAS_BIT: u8 = 16;

const VALID: &str = "search, ingest (or its alias upload), entities, admin";

/// A non-empty set of scopes, as a bit set so checks on the hot path are one AND.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Scopes(u8);

impl Scopes {
    pub fn all() -> Scopes {
        Scopes(Scope::Admin.bit())
    }

    pub fn from_bits(bits: u8) -> Scopes {
        Scopes(bits & 0b1_1111)
    }

    pub fn bits(self) -> u8 {
        self.0
    }

    pub fn allows(self, scope: Scope) -> bool {
        let alias = if scope == Scope::Ingest {
            UPLOAD_ALIAS_BIT
        } else {
            0
        };
        self.0 & (scope.bit() | alias | Scope::Admin.bit()) != 0
    }

    /// Parses a requested scope list: unknown names and an empty list are errors.
    pub fn parse_list(names: &[String]) -> Result<Scopes, String> {
        if names.is_empty() {
            return Err(format!("scopes must name at least one of: {VALID}"));
        }
        let mut bits = 0;
        for name in names {
            bits |= match Scope::parse(name) {
                Some(scope) => scope.bit(),
                None if name == UPLOAD_ALIAS => UPLOAD_ALIAS_BIT,
                None => return Err(format!("unknown scope '{name}'; valid scopes: {VALID}")),
            };
        }
        Ok(Scopes(bits))
    }

    /// The scopes as granted, in canonical order (admin is listed alone only if granted alone;
    /// `upload` as given, after `ingest`).
    pub fn names(self) -> Vec<&'static str> {
        let mut out = Vec::with_capacity(5);
        for s in Scope::ALL {
            if self.0 & s.bit() != 0 {
                out.push(s.as_str());
            }
            if s == Scope::Ingest && self.0 & UPLOAD_ALIAS_BIT != 0 {
                out.push(UPLOAD_ALIAS);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn admin_implies_everything() {
        let admin = Scopes::parse_list(&list(&["admin"])).unwrap();
        assert!(Scope::ALL.into_iter().all(|s| admin.allows(s)));
    }

    #[test]
    fn a_scope_allows_only_itself() {
        let s = Scopes::parse_list(&list(&["search", "ingest"])).unwrap();
        assert!(s.allows(Scope::Search) && s.allows(Scope::Ingest));
        assert!(!s.allows(Scope::Entities) && !s.allows(Scope::Admin));
        assert_eq!(s.names(), vec!["search", "ingest"]);
    }

    #[test]
    fn upload_is_ingest_under_another_name() {
        let s = Scopes::parse_list(&list(&["upload"])).unwrap();
        assert!(s.allows(Scope::Ingest));
        assert!(!s.allows(Scope::Search) && !s.allows(Scope::Entities) && !s.allows(Scope::Admin));
        assert_eq!(s.names(), vec!["upload"]);
        assert_eq!(Scopes::from_bits(s.bits()), s);
        let both = Scopes::parse_list(&list(&["entities", "upload", "search"])).unwrap();
        assert_eq!(both.names(), vec!["search", "upload", "entities"]);
        let e = Scopes::parse_list(&list(&["uploads"])).unwrap_err();
        assert!(e.contains("upload"), "{e}");
    }

    #[test]
    fn rejects_unknown_and_empty() {
        assert!(Scopes::parse_list(&[]).is_err());
        assert!(Scopes::parse_list(&list(&["search", "root"])).is_err());
        assert!(Scopes::parse_list(&list(&["Search"])).is_err());
    }
}
