//! An entity as a search document.

use std::collections::BTreeMap;

use serde_json::{Map, Value};
use tantivy::schema::OwnedValue;
use tantivy::TantivyDocument;

use super::identifiers;
use super::schema::{json_key, scope, scoped_value, Fields};
use crate::store::Entity;

/// How many times the name is repeated in `text`: a name match weighs more than a description
/// match without a separate field (which would stop block-max pruning).
const NAME_REPEAT: usize = 3;

/// Scalar text of every value, nested ones included, for full-text matching.
fn flatten_text(v: &Value, out: &mut String) {
    match v {
        Value::String(s) => {
            out.push_str(s);
            out.push('\n');
        }
        Value::Number(n) => {
            out.push_str(&n.to_string());
            out.push('\n');
        }
        Value::Bool(_) | Value::Null => {}
        Value::Array(a) => a.iter().for_each(|v| flatten_text(v, out)),
        Value::Object(o) => o.values().for_each(|v| flatten_text(v, out)),
    }
}

fn identifier_terms(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::String(s) => identifiers::index_terms(s, out),
        Value::Number(n) => {
            let digits = n.to_string();
            if n.is_u64() && matches!(digits.len(), 8 | 12 | 13 | 14) && !out.contains(&digits) {
                out.push(digits);
            }
        }
        Value::Array(a) => a.iter().for_each(|v| identifier_terms(v, out)),
        Value::Object(o) => o.values().for_each(|v| identifier_terms(v, out)),
        Value::Bool(_) | Value::Null => {}
    }
}

/// Top-level values for filters and sort: numbers as f64 (one column type per key), strings and
/// booleans as they are, arrays of those. Nested objects are not filterable.
fn filter_value(v: &Value) -> Option<OwnedValue> {
    match v {
        Value::String(s) => Some(OwnedValue::Str(s.clone())),
        Value::Number(n) => n.as_f64().map(OwnedValue::F64),
        Value::Bool(b) => Some(OwnedValue::Bool(*b)),
        Value::Array(a) => {
            let items: Vec<_> = a
                .iter()
                .filter(|v| !v.is_array() && !v.is_object())
                .filter_map(filter_value)
                .collect();
            (!items.is_empty()).then_some(OwnedValue::Array(items))
        }
        Value::Null | Value::Object(_) => None,
    }
}

pub(super) fn filter_object(data: &Map<String, Value>) -> BTreeMap<String, OwnedValue> {
    data.iter()
        .filter_map(|(k, v)| Some((json_key(k), filter_value(v)?)))
        .collect()
}

pub fn build(f: &Fields, e: &Entity) -> TantivyDocument {
    let mut doc = TantivyDocument::new();
    let (hi, lo) = e.id.as_u64_pair();
    doc.add_text(f.id, e.id.to_string());
    doc.add_u64(f.id_hi, hi);
    doc.add_u64(f.id_lo, lo);
    doc.add_text(f.tenant, &e.tenant_id);
    doc.add_text(f.vertical, &e.vertical);
    doc.add_text(f.entity_type, &e.entity_type);
    doc.add_text(f.visibility, e.visibility.as_str());
    if let Some(st) = &e.source_type {
        doc.add_text(f.source_type, st);
    }
    doc.add_text(f.name_sort, &e.name);
    let prefix = scope(&e.tenant_id, &e.vertical);
    let mut data_text = String::new();
    let data = Value::Object(e.vertical_data.clone());
    flatten_text(&data, &mut data_text);
    let description = e.description.as_deref().unwrap_or("");
    let mut text =
        String::with_capacity(e.name.len() * NAME_REPEAT + description.len() + data_text.len() + 8);
    for _ in 0..NAME_REPEAT {
        text.push_str(&e.name);
        text.push('\n');
    }
    let body_start = text.len() - e.name.len() - 1;
    text.push_str(description);
    text.push('\n');
    text.push_str(&data_text);
    doc.add_text(f.text, scoped_value(&e.tenant_id, &e.vertical, &text));
    doc.add_text(
        f.words,
        scoped_value(&e.tenant_id, &e.vertical, &text[body_start..]),
    );

    let mut idents = Vec::new();
    identifiers::index_terms(&e.name, &mut idents);
    identifier_terms(&data, &mut idents);
    for term in idents {
        doc.add_text(f.ident, format!("{prefix}{term}"));
    }
    doc.add_object(f.data, filter_object(&e.vertical_data));
    doc.add_i64(f.created_at, e.created_at);
    doc.add_i64(f.updated_at, e.updated_at);
    doc
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn filter_object_types_values() {
        let data = json!({"price": 3, "brand": "SKF", "ok": true, "tags": ["a", 1], "nested": {"x": 1}, "none": null, "a.b": 1});
        let obj = filter_object(data.as_object().unwrap());
        assert_eq!(obj["price"], OwnedValue::F64(3.0));
        assert_eq!(obj["brand"], OwnedValue::Str("SKF".into()));
        assert_eq!(obj["ok"], OwnedValue::Bool(true));
        assert_eq!(
            obj["tags"],
            OwnedValue::Array(vec![OwnedValue::Str("a".into()), OwnedValue::F64(1.0)])
        );
        assert!(!obj.contains_key("nested") && !obj.contains_key("none"));
        assert!(obj.contains_key("a_b"));
    }

    #[test]
    fn identifiers_come_from_name_and_values() {
        let mut out = Vec::new();
        identifiers::index_terms("Hex bolt ISO 4017 M8x40", &mut out);
        identifier_terms(
            &json!({"pn": "SS-M8-40-A2", "ean": 4006381333931u64, "qty": 40}),
            &mut out,
        );
        assert!(out.contains(&"iso4017".to_string()));
        assert!(out.contains(&"ssm840a2".to_string()));
        assert!(out.contains(&"4006381333931".to_string()));
        assert!(!out.contains(&"40".to_string()));
    }
}
