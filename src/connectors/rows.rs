//! A database row made into a batch record: the name column gives `name`, a `source_id` column
//! the upsert key, a text `description` column the description, and every other non-NULL
//! column goes into `vertical_data` under its column name.

use serde_json::{Map, Value};

use super::Cell;
use crate::entity_input::FieldError;
use crate::ingest::batch::Row;

/// Where the special columns of a result are.
pub struct Columns {
    names: Vec<String>,
    name_at: usize,
    source_at: Option<usize>,
    description_at: Option<usize>,
}

fn find(names: &[String], wanted: &str) -> Option<usize> {
    names
        .iter()
        .position(|n| n == wanted)
        .or_else(|| names.iter().position(|n| n.eq_ignore_ascii_case(wanted)))
}

impl Columns {
    /// The result's columns, or why its rows cannot become records (no name column).
    pub fn new(names: Vec<String>, name_column: &str) -> Result<Columns, String> {
        let name_at = find(&names, name_column).ok_or_else(|| {
            format!(
                "the query returns no '{name_column}' column (columns: {}); name_column chooses \
                 the column that holds each record's name",
                names.join(", ")
            )
        })?;
        let source_at = find(&names, "source_id").filter(|&i| i != name_at);
        let description_at = find(&names, "description").filter(|&i| i != name_at);
        Ok(Columns {
            names,
            name_at,
            source_at,
            description_at,
        })
    }

    pub fn len(&self) -> usize {
        self.names.len()
    }

    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    /// The record for one row; a value without a JSON form rejects the row, naming its column.
    pub fn record(&self, cells: Vec<Cell>) -> Row {
        let mut record = Map::new();
        let mut data = Map::new();
        let mut bad: Option<FieldError> = None;
        for (i, cell) in cells.into_iter().enumerate() {
            let Some(column) = self.names.get(i) else {
                break;
            };
            let value = match cell {
                Ok(Value::Null) => continue,
                Ok(v) => v,
                Err(why) => {
                    let message = format!("column '{column}': {why}");
                    let e = FieldError::new(column, "unsupported_value", message.clone());
                    bad.get_or_insert(e);
                    data.insert(column.clone(), Value::String(format!("<{message}>")));
                    continue;
                }
            };
            if i == self.name_at {
                record.insert("name".into(), value);
            } else if Some(i) == self.source_at {
                record.insert("source_id".into(), value);
            } else if Some(i) == self.description_at && value.is_string() {
                record.insert("description".into(), value);
            } else {
                data.insert(column.clone(), value);
            }
        }
        record.insert("vertical_data".into(), Value::Object(data));
        match bad {
            Some(e) => Err((e, Value::Object(record))),
            None => Ok(Value::Object(record)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn cols(names: &[&str], name_column: &str) -> Result<Columns, String> {
        Columns::new(names.iter().map(|s| s.to_string()).collect(), name_column)
    }

    #[test]
    fn rows_become_records() {
        let c = cols(
            &["ID", "title", "source_id", "description", "price", "gone"],
            "Title",
        )
        .unwrap();
        let r = c
            .record(vec![
                Ok(json!(1)),
                Ok(json!("Bolt")),
                Ok(json!(42)),
                Ok(json!("A bolt")),
                Ok(json!(1.5)),
                Ok(Value::Null),
            ])
            .unwrap();
        assert_eq!(
            r,
            json!({"name": "Bolt", "source_id": 42, "description": "A bolt",
                   "vertical_data": {"ID": 1, "price": 1.5}})
        );
        let parsed = crate::ingest::record::parse(r).unwrap();
        assert_eq!(parsed.source_id.as_deref(), Some("42"));
    }

    #[test]
    fn a_value_without_json_form_rejects_its_row() {
        let c = cols(&["name", "blob"], "name").unwrap();
        let (e, raw) = c
            .record(vec![Ok(json!("x")), Err("binary data".into())])
            .unwrap_err();
        assert_eq!(e.field.as_deref(), Some("blob"));
        assert!(e.message.contains("binary data"));
        assert_eq!(raw["name"], "x");
    }

    #[test]
    fn a_missing_name_column_is_named() {
        let e = cols(&["a", "b"], "name").err().unwrap();
        assert!(e.contains("no 'name' column") && e.contains("a, b"), "{e}");
        // A numeric description stays data.
        let c = cols(&["name", "description"], "name").unwrap();
        let r = c.record(vec![Ok(json!("n")), Ok(json!(3))]).unwrap();
        assert_eq!(r["vertical_data"]["description"], 3);
    }
}
