//! Verticals and entity types named in paths and query strings.
//!
//! They end up in storage keys and in scoped index terms (`tenant:vertical:word`), whose length
//! drives the cost of typo-tolerant search, so every route checks them with the rule of the
//! entity fields (API.md §5) before doing any work: one check, one error for every route.

use crate::entity_input;
use crate::error::ApiError;

/// A vertical or entity type: 1–64 chars of `[a-z0-9_-]`, lower-cased. Otherwise 422 naming
/// the field and the rule.
pub fn slug(field: &str, raw: &str) -> Result<String, ApiError> {
    entity_input::slug(field, raw).map_err(|e| ApiError::Validation(e.to_string()))
}

pub fn vertical(raw: &str) -> Result<String, ApiError> {
    slug("vertical", raw)
}

/// `{vertical}/{entity_type}` of a route.
pub fn target(path: &(String, String)) -> Result<(String, String), ApiError> {
    Ok((slug("vertical", &path.0)?, slug("entity_type", &path.1)?))
}

/// An optional query parameter naming a vertical or type.
pub fn optional(field: &str, raw: Option<&str>) -> Result<Option<String>, ApiError> {
    raw.map(|v| slug(field, v)).transpose()
}

/// A resource id from the path. A malformed id names nothing, so it is that resource's 404,
/// never a 400 that tells ids apart from unknown ones.
pub fn id(what: &str, raw: &str) -> Result<uuid::Uuid, ApiError> {
    uuid::Uuid::parse_str(raw).map_err(|_| ApiError::not_found(what))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_rule_and_message_for_every_segment() {
        assert_eq!(vertical("Parts").unwrap(), "parts");
        let long = "a".repeat(1500);
        for bad in ["", "a b", "a:b", "a/b", "é", long.as_str()] {
            let e = vertical(bad).unwrap_err();
            assert!(matches!(e, ApiError::Validation(_)));
            assert_eq!(
                e.to_string(),
                "vertical: must be 1-64 characters of a-z, 0-9, '_' or '-'"
            );
        }
        let e = target(&("parts".into(), "a b".into())).unwrap_err();
        assert!(e.to_string().starts_with("entity_type: "));
        assert_eq!(optional("vertical", None).unwrap(), None);
        assert_eq!(
            optional("vertical", Some("X")).unwrap(),
            Some("x".to_owned())
        );
    }
}
