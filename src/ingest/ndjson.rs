//! NDJSON bodies: one JSON value per line; blank lines are ignored.

use serde_json::Value;

/// The values of the good lines, and how many lines were not JSON (or not UTF-8).
pub fn parse(body: &[u8]) -> (Vec<Value>, usize) {
    let mut values = Vec::new();
    let mut bad = 0;
    for line in body.split(|&b| b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        match serde_json::from_slice::<Value>(line) {
            Ok(v) => values.push(v),
            Err(_) => bad += 1,
        }
    }
    (values, bad)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn good_lines_kept_bad_lines_counted() {
        let body = b"{\"name\": \"a\"}\r\n\n{broken\n\xff\xfe\n{\"name\": \"b\"}";
        let (v, bad) = parse(body);
        assert_eq!(v.len(), 2);
        assert_eq!(bad, 2);
        assert_eq!(v[1]["name"], "b");
    }
}
