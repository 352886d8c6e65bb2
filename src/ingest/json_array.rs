//! JSON array files (`[{...}, {...}]`), read one element at a time: the array is never built
//! as a whole, so memory does not grow with the file beyond the file itself.

use serde_json::Value;

use super::batch::Row;

#[derive(Debug, PartialEq, Eq)]
pub enum JsonFileError {
    /// Not JSON at all (400).
    Malformed(String),
    /// JSON, but not an array (422).
    NotAnArray,
}

/// Checks the whole file's syntax without building it, and that it is an array.
pub fn check(bytes: &[u8]) -> Result<(), JsonFileError> {
    serde_json::from_slice::<serde::de::IgnoredAny>(bytes)
        .map_err(|e| JsonFileError::Malformed(e.to_string()))?;
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
        let mut stream = serde_json::Deserializer::from_slice(&bytes[pos..]).into_iter::<Value>();
        let value = stream.next()?.ok()?;
        pos = skip_whitespace(bytes, pos + stream.byte_offset());
        if bytes.get(pos) == Some(&b',') {
            pos += 1;
        }
        Some(Ok(value))
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
