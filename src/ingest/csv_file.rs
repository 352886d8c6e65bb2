//! CSV files: a header row, `;`, `,` or tab as delimiter (sniffed from the header), an optional
//! UTF-8 BOM, RFC 4180 quoting. Each data row becomes a record: the `name_column` gives the
//! name, `source_id` and `description` columns their fields, every other non-empty cell goes to
//! `vertical_data`, typed (integers and decimals as numbers, `true`/`false` as booleans).
//! A file with `id`, `vertical` and `entity_type` columns is an export (`crate::export`):
//! those columns are the entity's metadata, not data.

use serde_json::{Map, Value};

use super::record::typed;

use super::batch::Row;
use crate::entity_input::{self, FieldError};

fn sniff_delimiter(bytes: &[u8]) -> u8 {
    let header = bytes.split(|&b| b == b'\n').next().unwrap_or(&[]);
    let mut counts = [(b',', 0usize), (b';', 0), (b'\t', 0)];
    let mut quoted = false;
    for &b in header {
        if b == b'"' {
            quoted = !quoted;
        } else if !quoted {
            for (d, n) in counts.iter_mut() {
                if b == *d {
                    *n += 1;
                }
            }
        }
    }
    counts
        .iter()
        .max_by_key(|(_, n)| *n)
        .filter(|(_, n)| *n > 0)
        .map_or(b',', |(d, _)| *d)
}

/// A cell typed; a cell holding a JSON object or array (as exports write nested values) is
/// that value. JSON nested past the parser's limit is refused, not kept as text: it is meant as
/// data, and too deep as data.
fn cell_value(column: &str, cell: &str) -> Result<Value, FieldError> {
    let t = cell.trim();
    if t.starts_with('{') || t.starts_with('[') {
        match serde_json::from_str::<Value>(t) {
            Ok(v @ (Value::Object(_) | Value::Array(_))) => return Ok(v),
            Err(e) if entity_input::is_too_deep(&e) => {
                return Err(entity_input::too_deep(Some(column)))
            }
            _ => {}
        }
    }
    Ok(typed(cell))
}

fn raw_row(cells: &csv::ByteRecord) -> Value {
    Value::Array(
        cells
            .iter()
            .map(|c| Value::String(String::from_utf8_lossy(c).into_owned()))
            .collect(),
    )
}

/// Rows of a CSV file, read lazily, or why the file as a whole cannot be read (no header, no
/// name column).
pub fn rows<'a>(
    bytes: &'a [u8],
    name_column: &str,
) -> Result<impl Iterator<Item = Row> + 'a, String> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(sniff_delimiter(bytes))
        .flexible(true)
        .from_reader(bytes);
    let headers: Vec<String> = reader
        .byte_headers()
        .map_err(|e| format!("cannot read the CSV header: {e}"))?
        .iter()
        .enumerate()
        .map(|(i, h)| {
            let h = String::from_utf8_lossy(h).trim().to_owned();
            if h.is_empty() {
                format!("column_{}", i + 1)
            } else {
                h
            }
        })
        .collect();
    let name_at = headers
        .iter()
        .position(|h| h.eq_ignore_ascii_case(name_column))
        .ok_or_else(|| {
            format!(
                "the CSV has no '{name_column}' column (columns: {}); name_column chooses one",
                headers.join(", ")
            )
        })?;
    let exported = crate::export::CSV_METADATA
        .iter()
        .all(|m| headers.iter().any(|h| h.eq_ignore_ascii_case(m)));
    Ok(reader
        .into_byte_records()
        .map(move |result| row(&headers, name_at, exported, result)))
}

fn row(
    headers: &[String],
    name_at: usize,
    exported: bool,
    result: csv::Result<csv::ByteRecord>,
) -> Row {
    let cells = match result {
        Ok(c) => c,
        Err(e) => {
            return Err((
                FieldError {
                    field: None,
                    error_type: "invalid_csv",
                    message: e.to_string(),
                },
                Value::Null,
            ))
        }
    };
    if cells.len() != headers.len() {
        return Err((
            FieldError {
                field: None,
                error_type: "ragged_row",
                message: format!(
                    "row has {} fields; the header has {}",
                    cells.len(),
                    headers.len()
                ),
            },
            raw_row(&cells),
        ));
    }
    let mut record = Map::new();
    let mut data = Map::new();
    for (i, (h, cell)) in headers.iter().zip(cells.iter()).enumerate() {
        let Ok(cell) = std::str::from_utf8(cell) else {
            return Err((
                FieldError::new(h, "invalid_utf8", "cell is not valid UTF-8"),
                raw_row(&cells),
            ));
        };
        if cell.trim().is_empty() {
            continue;
        }
        if i == name_at {
            record.insert("name".into(), Value::String(cell.trim().to_owned()));
        } else if h.eq_ignore_ascii_case("source_id")
            || h.eq_ignore_ascii_case("description")
            || (exported
                && crate::export::CSV_METADATA
                    .iter()
                    .any(|m| h.eq_ignore_ascii_case(m)))
        {
            record.insert(h.to_ascii_lowercase(), Value::String(cell.to_owned()));
        } else {
            // `vertical_data.<key>` is how an export names a key that clashes with a field.
            let key = h.strip_prefix("vertical_data.").unwrap_or(h);
            let value = cell_value(h, cell).map_err(|e| (e, raw_row(&cells)))?;
            data.insert(key.to_owned(), value);
        }
    }
    record.insert("vertical_data".into(), Value::Object(data));
    Ok(Value::Object(record))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn sniffs_delimiters_outside_quotes() {
        assert_eq!(sniff_delimiter(b"name;price;\"a,b\"\n1;2;3"), b';');
        assert_eq!(sniff_delimiter(b"name,price\n"), b',');
        assert_eq!(sniff_delimiter(b"name\tprice\n"), b'\t');
        assert_eq!(sniff_delimiter(b"name\n"), b',');
    }

    #[test]
    fn bom_semicolons_quotes_and_ragged_rows() {
        let csv = "\u{feff}Name;part_number;price;in_stock;notes\n\"Bolt; hex\";SS-1;0,5;true;\"said \"\"hi\"\"\nthere\"\nNut;N-1;2;false;\nbad;row\n";
        let got: Vec<_> = rows(csv.as_bytes(), "name").unwrap().collect();
        assert_eq!(got.len(), 3);
        let first = got[0].as_ref().unwrap();
        assert_eq!(first["name"], "Bolt; hex");
        assert_eq!(first["vertical_data"]["part_number"], "SS-1");
        assert_eq!(
            first["vertical_data"]["price"], "0,5",
            "decimal commas stay text"
        );
        assert_eq!(first["vertical_data"]["in_stock"], true);
        assert_eq!(first["vertical_data"]["notes"], "said \"hi\"\nthere");
        let second = got[1].as_ref().unwrap();
        assert_eq!(second["vertical_data"]["price"], 2);
        let (e, raw) = got[2].as_ref().unwrap_err();
        assert_eq!(e.error_type, "ragged_row");
        assert_eq!(raw, &json!(["bad", "row"]));
    }

    #[test]
    fn json_cells_and_prefixed_keys() {
        let csv = "name,dims,vertical_data.name,note\nA,\"{\"\"d\"\": 8}\",inner,[not json\n";
        let got: Vec<_> = rows(csv.as_bytes(), "name").unwrap().collect();
        let d = &got[0].as_ref().unwrap()["vertical_data"];
        assert_eq!(d["dims"], json!({"d": 8}));
        assert_eq!(d["name"], "inner");
        assert_eq!(d["note"], "[not json");
    }

    #[test]
    fn name_column_is_chosen_and_required() {
        let got: Vec<_> = rows(b"title,sku\nWidget,W-1\n", "title").unwrap().collect();
        assert_eq!(got[0].as_ref().unwrap()["name"], "Widget");
        assert!(rows(b"title,sku\nWidget,W-1\n", "name")
            .err()
            .unwrap()
            .contains("no 'name' column"));
    }
}
