//! NDJSON bodies: one JSON value per line; blank lines are ignored.

use serde_json::Value;

use super::batch::Row;
use crate::entity_input::{self, FieldError};

/// One row per non-blank line, read lazily: the value, or an `invalid_json` error with the line
/// as text (for the dead-letter entry).
pub fn rows(body: &[u8]) -> impl Iterator<Item = Row> + '_ {
    body.split(|&b| b == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
        .filter(|l| !l.iter().all(u8::is_ascii_whitespace))
        .map(|l| {
            serde_json::from_slice::<Value>(l).map_err(|e| {
                let error = if entity_input::is_too_deep(&e) {
                    entity_input::too_deep(None)
                } else {
                    FieldError {
                        field: None,
                        error_type: "invalid_json",
                        message: e.to_string(),
                    }
                };
                (
                    error,
                    Value::String(String::from_utf8_lossy(l).into_owned()),
                )
            })
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn good_lines_kept_bad_lines_reported() {
        let body = b"{\"name\": \"a\"}\r\n\n{broken\n\xff\xfe\n{\"name\": \"b\"}";
        let got: Vec<Row> = rows(body).collect();
        assert_eq!(got.len(), 4);
        assert_eq!(got.iter().filter(|r| r.is_err()).count(), 2);
        assert_eq!(got[3].as_ref().unwrap()["name"], "b");
        let (e, raw) = got[1].as_ref().unwrap_err();
        assert_eq!(
            (e.error_type, raw),
            ("invalid_json", &Value::String("{broken".into()))
        );
    }

    #[test]
    fn lines_too_deep_for_the_parser_are_named() {
        let body = format!(
            "{}{}\n{{\"name\": \"a\"}}",
            "[".repeat(500),
            "]".repeat(500)
        );
        let got: Vec<Row> = rows(body.as_bytes()).collect();
        assert_eq!(got[0].as_ref().unwrap_err().0.error_type, "too_deep");
        assert!(got[1].is_ok());
    }
}
