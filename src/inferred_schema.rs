//! What a collection's records hold, read from a sample of them: each `vertical_data` field's
//! JSON types, how many records have it and a few distinct values. Agents use it to learn a
//! collection's fields before filtering (the MCP `qanatix_schema` tool), and it stands in for a
//! JSON Schema where none is registered (the `schema://` resource).

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{json, Map, Value};

/// Distinct sample values kept per field.
pub const MAX_SAMPLES: usize = 4;
/// Sample strings longer than this are cut (a PDF page's text is not a useful example).
const MAX_SAMPLE_CHARS: usize = 60;

#[derive(Debug, Default, PartialEq)]
pub struct FieldProfile {
    /// JSON Schema type names seen (`integer` for whole numbers).
    pub types: BTreeSet<&'static str>,
    /// Records of the sample holding the field.
    pub present: usize,
    pub samples: Vec<Value>,
}

impl FieldProfile {
    /// The types as one name: `number` covers integers when both occur, several others are
    /// joined with `|`.
    pub fn type_name(&self) -> String {
        self.merged_types()
            .into_iter()
            .collect::<Vec<_>>()
            .join("|")
    }

    fn merged_types(&self) -> BTreeSet<&'static str> {
        let mut types = self.types.clone();
        if types.contains("number") {
            types.remove("integer");
        }
        types
    }
}

#[derive(Debug, Default, PartialEq)]
pub struct Profile {
    /// Records sampled.
    pub records: usize,
    pub fields: BTreeMap<String, FieldProfile>,
}

fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// A value as an example: long strings cut, containers left out (their shape is in the type).
fn sample(v: &Value) -> Option<Value> {
    match v {
        Value::String(s) if s.chars().count() > MAX_SAMPLE_CHARS => {
            let cut: String = s.chars().take(MAX_SAMPLE_CHARS).collect();
            Some(Value::String(format!("{cut}…")))
        }
        Value::Array(_) | Value::Object(_) | Value::Null => None,
        other => Some(other.clone()),
    }
}

impl Profile {
    /// Profiles the `vertical_data` of each sampled record.
    pub fn of<'a>(records: impl IntoIterator<Item = &'a Map<String, Value>>) -> Profile {
        let mut p = Profile::default();
        for data in records {
            p.records += 1;
            for (k, v) in data {
                let f = p.fields.entry(k.clone()).or_default();
                f.present += 1;
                f.types.insert(json_type(v));
                if f.samples.len() < MAX_SAMPLES {
                    if let Some(s) = sample(v) {
                        if !f.samples.contains(&s) {
                            f.samples.push(s);
                        }
                    }
                }
            }
        }
        p
    }

    /// The profile as a JSON Schema (2020-12) of `vertical_data`, marked as inferred.
    pub fn json_schema(&self, title: &str) -> Value {
        let properties: Map<String, Value> = self
            .fields
            .iter()
            .map(|(k, f)| {
                let types = f.merged_types();
                let ty = match types.len() {
                    1 => json!(types.first()),
                    _ => json!(types),
                };
                let mut prop = json!({ "type": ty });
                if !f.samples.is_empty() {
                    prop["examples"] = Value::Array(f.samples.clone());
                }
                (k.clone(), prop)
            })
            .collect();
        json!({
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "title": title,
            "description": format!(
                "Inferred from the {} most recently updated records; no schema is registered for this type.",
                self.records
            ),
            "type": "object",
            "properties": properties,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obj(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn fields_types_and_samples_are_collected() {
        let long = "x".repeat(100);
        let records = [
            obj(json!({"d": 8, "m": "steel", "ok": true, "tags": ["a"], "t": long})),
            obj(json!({"d": 8.5, "m": "steel"})),
            obj(json!({"d": 10, "m": "brass"})),
            obj(json!({"d": 12, "m": "a"})),
            obj(json!({"d": 16, "m": "b"})),
        ];
        let p = Profile::of(records.iter());
        assert_eq!(p.records, 5);
        let d = &p.fields["d"];
        assert_eq!(d.present, 5);
        assert_eq!(d.type_name(), "number");
        assert_eq!(d.samples, vec![json!(8), json!(8.5), json!(10), json!(12)]);
        assert_eq!(
            p.fields["m"].samples,
            vec![json!("steel"), json!("brass"), json!("a"), json!("b")]
        );
        assert_eq!(p.fields["ok"].type_name(), "boolean");
        assert_eq!(p.fields["ok"].present, 1);
        assert!(p.fields["tags"].samples.is_empty());
        assert_eq!(
            p.fields["t"].samples[0].as_str().unwrap().chars().count(),
            MAX_SAMPLE_CHARS + 1
        );
    }

    #[test]
    fn the_profile_reads_as_a_json_schema() {
        let records = [obj(json!({"d": 8, "x": "a"})), obj(json!({"x": 1}))];
        let s = Profile::of(records.iter()).json_schema("parts/bolt");
        assert_eq!(s["type"], "object");
        assert_eq!(s["properties"]["d"]["type"], "integer");
        assert_eq!(s["properties"]["x"]["type"], json!(["integer", "string"]));
        assert_eq!(s["properties"]["d"]["examples"], json!([8]));
        assert!(jsonschema::validator_for(&s).is_ok());
    }
}
