//! Parsing of entity fields from input (API.md §5): every write path goes through these, so past
//! this point values are known to be valid.

use serde_json::{Map, Value};

pub const MAX_NAME_CHARS: usize = 500;
pub const MAX_VERTICAL_DATA_BYTES: usize = 64 * 1024;
pub const MAX_TEXT_CHARS: usize = 65_536;
pub const MAX_SOURCE_CHARS: usize = 2_048;
/// How many levels of arrays and objects a value in `vertical_data` may nest. Catalog data
/// needs a handful; the cap keeps every stored entity well inside what serde_json parses by
/// default (128 levels, counting the entity around its `vertical_data`).
pub const MAX_NESTING: usize = 32;

/// A problem with one field of one input record.
#[derive(Clone, Debug, PartialEq)]
pub struct FieldError {
    pub field: Option<String>,
    pub error_type: &'static str,
    pub message: String,
}

impl FieldError {
    pub fn new(field: &str, error_type: &'static str, message: impl Into<String>) -> Self {
        FieldError {
            field: Some(field.to_owned()),
            error_type,
            message: message.into(),
        }
    }
}

impl std::fmt::Display for FieldError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.field {
            Some(field) => write!(f, "{field}: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

/// `vertical` and `entity_type`: 1–64 chars of `[a-z0-9_-]`, lower-cased on input.
pub fn slug(field: &str, raw: &str) -> Result<String, FieldError> {
    let s = raw.to_ascii_lowercase();
    let ok = (1..=64).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
    ok.then_some(s).ok_or_else(|| {
        FieldError::new(
            field,
            "invalid_format",
            "must be 1-64 characters of a-z, 0-9, '_' or '-'",
        )
    })
}

pub fn name(raw: &str) -> Result<String, FieldError> {
    let n = raw.chars().count();
    if raw.trim().is_empty() {
        return Err(FieldError::new("name", "missing", "name must not be empty"));
    }
    if n > MAX_NAME_CHARS {
        return Err(FieldError::new(
            "name",
            "too_long",
            format!("name has {n} characters; at most {MAX_NAME_CHARS}"),
        ));
    }
    Ok(raw.to_owned())
}

/// An optional text field: `null` is none, a string is checked by [`text`], anything else is
/// the wrong type.
pub fn optional_text(field: &str, v: &Value, max: usize) -> Result<Option<String>, FieldError> {
    match v {
        Value::Null => Ok(None),
        Value::String(s) => text(field, s, max).map(Some),
        _ => Err(FieldError::new(
            field,
            "invalid_type",
            "must be a string or null",
        )),
    }
}

pub fn text(field: &str, raw: &str, max: usize) -> Result<String, FieldError> {
    if raw.chars().count() > max {
        return Err(FieldError::new(
            field,
            "too_long",
            format!("at most {max} characters"),
        ));
    }
    Ok(raw.to_owned())
}

pub fn vertical_data(data: Map<String, Value>) -> Result<Map<String, Value>, FieldError> {
    check_nesting("vertical_data", data.values())?;
    let size = serde_json::to_vec(&data)
        .map(|v| v.len())
        .unwrap_or(usize::MAX);
    if size > MAX_VERTICAL_DATA_BYTES {
        return Err(vertical_data_too_large(size));
    }
    Ok(data)
}

pub fn vertical_data_too_large(size: usize) -> FieldError {
    FieldError::new(
        "vertical_data",
        "too_large",
        format!("vertical_data is {size} bytes serialized; at most {MAX_VERTICAL_DATA_BYTES}"),
    )
}

/// Fails when any of `values` nests arrays and objects more than [`MAX_NESTING`] levels (a
/// top-level array or object is one level). Walks with its own stack, so any depth is safe.
pub fn check_nesting<'a>(
    field: &str,
    values: impl IntoIterator<Item = &'a Value>,
) -> Result<(), FieldError> {
    let mut stack: Vec<(&Value, usize)> = values.into_iter().map(|v| (v, 1)).collect();
    while let Some((v, level)) = stack.pop() {
        let deeper = level + 1;
        match v {
            Value::Array(_) | Value::Object(_) if level > MAX_NESTING => {
                return Err(too_deep(Some(field)))
            }
            Value::Array(a) => stack.extend(a.iter().map(|c| (c, deeper))),
            Value::Object(o) => stack.extend(o.values().map(|c| (c, deeper))),
            _ => {}
        }
    }
    Ok(())
}

/// The error for a value nested past [`MAX_NESTING`] (or past what the JSON parser takes).
pub fn too_deep(field: Option<&str>) -> FieldError {
    FieldError {
        field: field.map(str::to_owned),
        error_type: "too_deep",
        message: format!("arrays and objects may nest at most {MAX_NESTING} levels deep"),
    }
}

/// Whether serde_json gave up on input because it nests past its recursion limit.
pub fn is_too_deep(e: &serde_json::Error) -> bool {
    // serde_json exposes no error code, only its message.
    e.is_syntax() && e.to_string().starts_with("recursion limit exceeded")
}

/// A JSON syntax error as the API reports it: nesting past the parser's limit is named as such.
pub fn json_syntax_error(e: &serde_json::Error) -> String {
    if is_too_deep(e) {
        format!(
            "JSON nested too deeply at line {} column {}: arrays and objects may nest at most \
             {MAX_NESTING} levels deep in entity data",
            e.line(),
            e.column()
        )
    } else {
        e.to_string()
    }
}

/// A string field that may arrive as a number (ERP ids often do).
pub fn string_like(field: &str, v: &Value) -> Result<Option<String>, FieldError> {
    match v {
        Value::Null => Ok(None),
        Value::String(s) if s.is_empty() => Ok(None),
        Value::String(s) => Ok(Some(s.clone())),
        Value::Number(n) => Ok(Some(n.to_string())),
        _ => Err(FieldError::new(field, "invalid_type", "must be a string")),
    }
}

/// RFC 7396 JSON Merge Patch: `null` removes a key, objects merge, anything else replaces.
pub fn merge_patch(target: &mut Map<String, Value>, patch: &Map<String, Value>) {
    for (k, v) in patch {
        match v {
            Value::Null => {
                target.remove(k);
            }
            Value::Object(p) => {
                let entry = target
                    .entry(k.clone())
                    .or_insert_with(|| Value::Object(Map::new()));
                if !entry.is_object() {
                    *entry = Value::Object(Map::new());
                }
                if let Value::Object(t) = entry {
                    merge_patch(t, p);
                }
            }
            other => {
                target.insert(k.clone(), other.clone());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn slugs_are_lowercased_and_checked() {
        assert_eq!(slug("vertical", "Parts_2").unwrap(), "parts_2");
        assert!(slug("vertical", "").is_err());
        assert!(slug("vertical", "a b").is_err());
        assert!(slug("vertical", &"a".repeat(65)).is_err());
    }

    #[test]
    fn names_and_sizes() {
        assert!(name("Bolt").is_ok());
        assert_eq!(name(" ").unwrap_err().error_type, "missing");
        assert_eq!(name(&"x".repeat(501)).unwrap_err().error_type, "too_long");
        let big: Map<String, Value> = [("k".to_string(), json!("x".repeat(70_000)))]
            .into_iter()
            .collect();
        assert_eq!(vertical_data(big).unwrap_err().error_type, "too_large");
    }

    #[test]
    fn nesting_is_capped_at_any_depth() {
        let nest = |levels: usize| (0..levels).fold(json!(1), |inner, _| Value::Array(vec![inner]));
        assert!(check_nesting("f", [&nest(MAX_NESTING)]).is_ok());
        assert!(check_nesting("f", [&json!({"a": nest(MAX_NESTING - 1)})]).is_ok());
        let e = check_nesting("f", [&json!(1), &nest(MAX_NESTING + 1)]).unwrap_err();
        assert_eq!((e.field.as_deref(), e.error_type), (Some("f"), "too_deep"));
        assert!(check_nesting("f", [&json!({"a": nest(MAX_NESTING)})]).is_err());
        let data: Map<String, Value> = [("k".to_string(), nest(MAX_NESTING + 1))]
            .into_iter()
            .collect();
        assert_eq!(vertical_data(data).unwrap_err().error_type, "too_deep");
        // Far past serde_json's limit: built without it, checked without recursing.
        let deep = nest(100_000);
        assert!(check_nesting("f", [&deep]).is_err());
        // Dropping it recursively would overflow the stack: take it apart first.
        let mut v = deep;
        while let Value::Array(mut a) = v {
            v = a.pop().unwrap_or(Value::Null);
        }
    }

    #[test]
    fn parser_depth_errors_are_named() {
        let text = format!("{}{}", "[".repeat(200), "]".repeat(200));
        let e = serde_json::from_str::<Value>(&text).unwrap_err();
        assert!(is_too_deep(&e));
        assert!(json_syntax_error(&e).starts_with("JSON nested too deeply at line 1 column 128"));
        let e = serde_json::from_str::<Value>("[1,").unwrap_err();
        assert!(!is_too_deep(&e));
        assert_eq!(json_syntax_error(&e), e.to_string());
    }

    #[test]
    fn merge_patch_follows_rfc_7396() {
        let mut t = json!({"a": "b", "c": {"d": "e", "f": "g"}})
            .as_object()
            .unwrap()
            .clone();
        let p = json!({"a": "z", "c": {"f": null}, "n": {"x": 1}})
            .as_object()
            .unwrap()
            .clone();
        merge_patch(&mut t, &p);
        assert_eq!(
            Value::Object(t),
            json!({"a": "z", "c": {"d": "e"}, "n": {"x": 1}})
        );
    }
}
