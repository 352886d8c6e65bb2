//! JSON array files (`[{...}, {...}]`), read one element at a time: the array is never built
//! as a whole, so memory does not grow with the file beyond the file itself.

use serde::de::IgnoredAny;
use serde_json::Value;

use super::batch::Row;
use crate::entity_input;

#[derive(Debug, PartialEq, Eq)]
pub enum JsonFileError {
    /// Not JSON at all (400).
    Malformed(String),
    /// JSON, but not an array (422).
    NotAnArray,
}

/// Checks the whole file's syntax without building it, and that it is an array.
pub fn check(bytes: &[u8]) -> Result<(), JsonFileError> {
    serde_json::from_slice::<IgnoredAny>(bytes)
        .map_err(|e| JsonFileError::Malformed(crate::entity_input::json_syntax_error(&e)))?;
    match bytes.iter().find(|b| !b.is_ascii_whitespace()) {
        Some(b'[') => Ok(()),
        _ => Err(JsonFileError::NotAnArray),
    }
}

fn skip_whitespace(bytes: &[u8], mut pos: usize) -> usize {
    while bytes.get(pos).is_some_and(u8::is_ascii_whitespace) {
        pos += 1;
    }
    pos
}

/// The elements of an array that [`check`] accepted.
pub fn rows(bytes: &[u8]) -> impl Iterator<Item = Row> + '_ {
    // Just past the opening bracket.
    let mut pos = skip_whitespace(bytes, 0) + 1;
    std::iter::from_fn(move || {
        pos = skip_whitespace(bytes, pos);
        if matches!(bytes.get(pos), None | Some(b']')) {
            return None;
        }
        let rest = &bytes[pos..];
        let mut stream = serde_json::Deserializer::from_slice(rest).into_iter::<Value>();
        let (row, len) = match stream.next()? {
            Ok(value) => (Ok(value), stream.byte_offset()),
            // Nested past the parser's limit: skipped without being built (serde_json skips
            // values iteratively, at any depth, as check() did) and reported as that record's
            // error, so the records after it are still read.
            Err(e) if entity_input::is_too_deep(&e) => {
                let mut skip = serde_json::Deserializer::from_slice(rest).into_iter::<IgnoredAny>();
                skip.next()?.ok()?;
                let len = skip.byte_offset();
                let raw = Value::String(String::from_utf8_lossy(&rest[..len]).into_owned());
                (Err((entity_input::too_deep(None), raw)), len)
            }
            // check() accepted the file, so this does not happen.
            Err(_) => return None,
        };
        pos = skip_whitespace(bytes, pos + len);
        if bytes.get(pos) == Some(&b',') {
            pos += 1;
        }
        Some(row)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn elements_one_at_a_time() {
        let body = b" [ {\"name\": \"a\"} ,\n 2, \"x,]\", [1, 2], {\"name\": \"b\"} ] ";
        assert_eq!(check(body), Ok(()));
        let rows: Vec<Value> = rows(body).map(|r| r.unwrap()).collect();
        assert_eq!(
            rows,
            [
                json!({"name": "a"}),
                json!(2),
                json!("x,]"),
                json!([1, 2]),
                json!({"name": "b"})
            ]
        );
        assert_eq!(rows_of(b"[]"), 0);
        assert_eq!(rows_of(b"[ ]"), 0);
    }

    #[test]
    fn an_element_too_deep_for_the_parser_is_one_bad_row() {
        let deep = format!("{}{}", "[".repeat(300), "]".repeat(300));
        let body = format!("[{{\"name\": \"a\"}}, {deep}, {{\"name\": \"b\"}}]");
        assert_eq!(check(body.as_bytes()), Ok(()));
        let rows: Vec<Row> = rows(body.as_bytes()).collect();
        assert_eq!(rows.len(), 3);
        let (e, raw) = rows[1].as_ref().unwrap_err();
        assert_eq!((e.error_type, raw), ("too_deep", &Value::String(deep)));
        assert_eq!(rows[2].as_ref().unwrap()["name"], "b");
    }

    fn rows_of(b: &[u8]) -> usize {
        check(b).unwrap();
        rows(b).count()
    }

    #[test]
    fn malformed_and_non_arrays() {
        assert!(matches!(
            check(b"[{\"name\": "),
            Err(JsonFileError::Malformed(_))
        ));
        assert!(matches!(check(b"[1] x"), Err(JsonFileError::Malformed(_))));
        assert_eq!(check(b"{\"records\": []}"), Err(JsonFileError::NotAnArray));
        assert!(matches!(check(b""), Err(JsonFileError::Malformed(_))));
    }
}
