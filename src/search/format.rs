//! Text renderings of search results for LLM agents and terminals (API.md §6): `compact`, a
//! markdown table, and `yaml`, a YAML list. YAML is emitted by hand (serde_yaml is archived):
//! strings as double-quoted JSON strings and nested values as JSON flow, both valid YAML.

use serde_json::{Map, Value};
use uuid::Uuid;

/// One result row as the text formats need it.
pub struct Row<'a> {
    pub name: &'a str,
    pub score: f32,
    pub data: &'a Map<String, Value>,
}

const KEY_DATA_FIELDS: usize = 6;

fn scalar_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace(['\n', '\r'], " ")
}

pub fn compact(rows: &[Row<'_>]) -> String {
    table(rows.iter().map(|r| (None, r)), false)
}

/// [`compact`] with each row's record id in a second column, for readers (MCP tools) that look
/// records up afterwards.
pub fn compact_with_ids(rows: &[(Uuid, Row<'_>)]) -> String {
    table(rows.iter().map(|(id, r)| (Some(*id), r)), true)
}

fn table<'a, 'r: 'a>(
    rows: impl Iterator<Item = (Option<Uuid>, &'a Row<'r>)>,
    with_ids: bool,
) -> String {
    let mut out = String::from(if with_ids {
        "# | Record ID | Name | Score | Key Data\n--|-----------|------|-------|---------\n"
    } else {
        "# | Name | Score | Key Data\n--|------|-------|---------\n"
    });
    for (i, (id, r)) in rows.enumerate() {
        let key_data: Vec<String> = r
            .data
            .iter()
            .filter(|(_, v)| !v.is_object() && !v.is_array() && !v.is_null())
            .take(KEY_DATA_FIELDS)
            .map(|(k, v)| format!("{k}: {}", scalar_text(v)))
            .collect();
        out.push_str(&(i + 1).to_string());
        if let Some(id) = id {
            out.push_str(&format!(" | {id}"));
        }
        out.push_str(&format!(
            " | {} | {:.3} | {}\n",
            cell(r.name),
            r.score,
            cell(&key_data.join("; "))
        ));
    }
    out
}

fn yaml_key(k: &str) -> String {
    let plain = !k.is_empty()
        && k.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        && !k.starts_with('-')
        && !matches!(
            k.to_ascii_lowercase().as_str(),
            "true" | "false" | "null" | "yes" | "no" | "on" | "off" | "y" | "n" | "~"
        )
        && k.parse::<f64>().is_err();
    if plain {
        k.to_owned()
    } else {
        Value::String(k.to_owned()).to_string()
    }
}

fn yaml_value(v: &Value) -> String {
    // JSON is a subset of YAML 1.2: strings, numbers, booleans, null and flow collections.
    v.to_string()
}

pub fn yaml(rows: &[Row<'_>]) -> String {
    if rows.is_empty() {
        return "[]\n".into();
    }
    let mut out = String::new();
    for r in rows {
        out.push_str(&format!(
            "- name: {}\n",
            yaml_value(&Value::String(r.name.to_owned()))
        ));
        out.push_str(&format!("  score: {:.6}\n", r.score));
        for (k, v) in r.data {
            if k == "name" || k == "score" {
                continue;
            }
            out.push_str(&format!("  {}: {}\n", yaml_key(k), yaml_value(v)));
        }
    }
    out
}

/// A whole JSON object as a YAML block mapping: nested objects become indented mappings, other
/// values JSON flow (valid YAML 1.2), so any document round-trips through a YAML parser.
pub fn yaml_document(fields: &Map<String, Value>) -> String {
    let mut out = String::new();
    yaml_mapping(&mut out, fields, 0);
    out
}

fn yaml_mapping(out: &mut String, fields: &Map<String, Value>, indent: usize) {
    for (k, v) in fields {
        out.push_str(&" ".repeat(indent));
        out.push_str(&yaml_key(k));
        match v {
            Value::Object(inner) if !inner.is_empty() => {
                out.push_str(":\n");
                yaml_mapping(out, inner, indent + 2);
            }
            other => {
                out.push_str(": ");
                out.push_str(&yaml_value(other));
                out.push('\n');
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn data() -> Map<String, Value> {
        json!({"brand": "SKF | Group", "bore": 20, "tags": ["a"], "yes": true, "odd key": "x\ny"})
            .as_object()
            .unwrap()
            .clone()
    }

    #[test]
    fn compact_is_a_markdown_table() {
        let d = data();
        let text = compact(&[Row {
            name: "Bearing 6204",
            score: 0.5,
            data: &d,
        }]);
        let lines: Vec<_> = text.lines().collect();
        assert_eq!(lines[0], "# | Name | Score | Key Data");
        assert!(lines[2].starts_with("1 | Bearing 6204 | 0.500 | "));
        assert!(lines[2].contains("brand: SKF \\| Group"));
        assert!(!lines[2].contains("tags"));
    }

    #[test]
    fn yaml_quotes_what_needs_quoting() {
        let d = data();
        let text = yaml(&[Row {
            name: "a: b",
            score: 1.0,
            data: &d,
        }]);
        assert!(text.contains("- name: \"a: b\"\n"));
        assert!(text.contains("  score: 1.000000\n"));
        assert!(text.contains("  bore: 20\n"));
        assert!(text.contains("  tags: [\"a\"]\n"));
        assert!(text.contains("  \"yes\": true\n"));
        assert!(text.contains("  \"odd key\": \"x\\ny\"\n"));
        assert_eq!(yaml(&[]), "[]\n");
    }

    #[test]
    fn ids_are_a_second_column() {
        let d = data();
        let id = Uuid::nil();
        let text = compact_with_ids(&[(
            id,
            Row {
                name: "Bearing",
                score: 1.0,
                data: &d,
            },
        )]);
        let lines: Vec<_> = text.lines().collect();
        assert_eq!(lines[0], "# | Record ID | Name | Score | Key Data");
        assert!(lines[2].starts_with(&format!("1 | {id} | Bearing | 1.000 | ")));
    }

    #[test]
    fn documents_nest_objects_as_mappings() {
        let doc = json!({"name": "a: b", "data": {"bore": 20, "dims": {"w": 1}, "empty": {}},
                         "tags": ["x"], "none": null});
        let text = yaml_document(doc.as_object().unwrap());
        assert_eq!(
            text,
            "data:\n  bore: 20\n  dims:\n    w: 1\n  empty: {}\nname: \"a: b\"\nnone: null\ntags: [\"x\"]\n"
        );
    }
}
