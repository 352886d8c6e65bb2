//! CSV files: a header row, `;`, `,` or tab as delimiter (sniffed from the header), an optional
//! UTF-8 BOM, RFC 4180 quoting. Each data row becomes a record: the `name_column` gives the
//! name, `source_id` and `description` columns their fields, every other non-empty cell goes to
//! `vertical_data`, typed (integers and decimals as numbers, `true`/`false` as booleans).

use serde_json::{Map, Number, Value};

use super::batch::Row;
use crate::entity_input::FieldError;

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

/// A cell as a JSON value: numbers and booleans typed, codes with leading zeros kept as text.
fn typed(cell: &str) -> Value {
    let t = cell.trim();
    let leading_zero = t.len() > 1 && t.starts_with('0') && !t.starts_with("0.");
    if !leading_zero && !t.starts_with('+') {
        if let Ok(i) = t.parse::<i64>() {
            return Value::Number(i.into());
        }
        if t.contains(['.', 'e', 'E']) {
            if let Some(n) = t.parse::<f64>().ok().and_then(Number::from_f64) {
                return Value::Number(n);
            }
        }
    }
    match t.to_ascii_lowercase().as_str() {
        "true" => Value::Bool(true),
        "false" => Value::Bool(false),
        _ => Value::String(cell.to_owned()),
    }
}

fn raw_row(cells: &csv::ByteRecord) -> Value {
    Value::Array(
        cells
            .iter()
            .map(|c| Value::String(String::from_utf8_lossy(c).into_owned()))
            .collect(),
    )
}

/// Rows of a CSV file, or why the file as a whole cannot be read.
pub fn parse(bytes: &[u8], name_column: &str) -> Result<Vec<Row>, String> {
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
    let mut rows = Vec::new();
    for result in reader.byte_records() {
        let cells = match result {
            Ok(c) => c,
            Err(e) => {
                rows.push(Err((
                    FieldError {
                        field: None,
                        error_type: "invalid_csv",
                        message: e.to_string(),
                    },
                    Value::Null,
                )));
                continue;
            }
        };
        if cells.len() != headers.len() {
            rows.push(Err((
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
            )));
            continue;
        }
        let mut record = Map::new();
        let mut data = Map::new();
        let mut bad = None;
        for (i, (h, cell)) in headers.iter().zip(cells.iter()).enumerate() {
            let Ok(cell) = std::str::from_utf8(cell) else {
                bad = Some(FieldError::new(
                    h,
                    "invalid_utf8",
                    "cell is not valid UTF-8",
                ));
                break;
            };
            if cell.trim().is_empty() {
                continue;
            }
            if i == name_at {
                record.insert("name".into(), Value::String(cell.trim().to_owned()));
            } else if h.eq_ignore_ascii_case("source_id") || h.eq_ignore_ascii_case("description") {
                record.insert(h.to_ascii_lowercase(), Value::String(cell.to_owned()));
            } else {
                data.insert(h.clone(), typed(cell));
            }
        }
        match bad {
            Some(e) => rows.push(Err((e, raw_row(&cells)))),
            None => {
                record.insert("vertical_data".into(), Value::Object(data));
                rows.push(Ok(Value::Object(record)));
            }
        }
    }
    Ok(rows)
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
    fn types_cells() {
        assert_eq!(typed("42"), json!(42));
        assert_eq!(typed("4.5"), json!(4.5));
        assert_eq!(typed("TRUE"), json!(true));
        assert_eq!(typed("00123"), json!("00123"));
        assert_eq!(typed("+49 30"), json!("+49 30"));
        assert_eq!(typed("M8"), json!("M8"));
        assert_eq!(typed("0.5"), json!(0.5));
    }

    #[test]
    fn bom_semicolons_quotes_and_ragged_rows() {
        let csv = "\u{feff}Name;part_number;price;in_stock;notes\n\"Bolt; hex\";SS-1;0,5;true;\"said \"\"hi\"\"\nthere\"\nNut;N-1;2;false;\nbad;row\n";
        let rows = parse(csv.as_bytes(), "name").unwrap();
        assert_eq!(rows.len(), 3);
        let first = rows[0].as_ref().unwrap();
        assert_eq!(first["name"], "Bolt; hex");
        assert_eq!(first["vertical_data"]["part_number"], "SS-1");
        assert_eq!(
            first["vertical_data"]["price"], "0,5",
            "decimal commas stay text"
        );
        assert_eq!(first["vertical_data"]["in_stock"], true);
        assert_eq!(first["vertical_data"]["notes"], "said \"hi\"\nthere");
        let second = rows[1].as_ref().unwrap();
        assert_eq!(second["vertical_data"]["price"], 2);
        let (e, raw) = rows[2].as_ref().unwrap_err();
        assert_eq!(e.error_type, "ragged_row");
        assert_eq!(raw, &json!(["bad", "row"]));
    }

    #[test]
    fn name_column_is_chosen_and_required() {
        let rows = parse(b"title,sku\nWidget,W-1\n", "title").unwrap();
        assert_eq!(rows[0].as_ref().unwrap()["name"], "Widget");
        assert!(parse(b"title,sku\nWidget,W-1\n", "name")
            .unwrap_err()
            .contains("no 'name' column"));
    }
}
