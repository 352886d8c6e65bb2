//! One input record (`{name, source_id?, vertical_data?, description?}`) made into entity fields.
//! Other top-level fields of a flat record become `vertical_data` (explicit `vertical_data` keys win).

use serde_json::{Map, Value};

use crate::entity_input::{self, FieldError, MAX_SOURCE_CHARS, MAX_TEXT_CHARS};

#[derive(Clone, Debug, PartialEq)]
pub struct RecordInput {
    pub name: String,
    pub source_id: Option<String>,
    pub description: Option<String>,
    pub vertical_data: Map<String, Value>,
}

pub fn parse(raw: &Value) -> Result<RecordInput, FieldError> {
    let Value::Object(obj) = raw else {
        return Err(FieldError {
            field: None,
            error_type: "invalid_type",
            message: "a record must be a JSON object".into(),
        });
    };
    let name = match obj.get("name") {
        None | Some(Value::Null) => {
            return Err(FieldError::new("name", "missing", "name is required"))
        }
        Some(v) => entity_input::string_like("name", v)?
            .ok_or_else(|| FieldError::new("name", "missing", "name must not be empty"))?,
    };
    let name = entity_input::name(&name)?;
    let source_id = match obj.get("source_id") {
        Some(v) => entity_input::string_like("source_id", v)?
            .map(|s| entity_input::text("source_id", &s, MAX_SOURCE_CHARS))
            .transpose()?,
        None => None,
    };
    let description = match obj.get("description") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(entity_input::text("description", s, MAX_TEXT_CHARS)?),
        Some(_) => {
            return Err(FieldError::new(
                "description",
                "invalid_type",
                "must be a string",
            ))
        }
    };
    let mut data = match obj.get("vertical_data") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(m)) => m.clone(),
        Some(_) => {
            return Err(FieldError::new(
                "vertical_data",
                "invalid_type",
                "must be a JSON object",
            ))
        }
    };
    for (k, v) in obj {
        if !matches!(
            k.as_str(),
            "name" | "source_id" | "description" | "vertical_data"
        ) {
            data.entry(k.clone()).or_insert_with(|| v.clone());
        }
    }
    Ok(RecordInput {
        name,
        source_id,
        description,
        vertical_data: entity_input::vertical_data(data)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn flat_fields_become_vertical_data() {
        let r = parse(
            &json!({"name": "Bolt", "source_id": 42, "pn": "X-1", "vertical_data": {"pn": "Y-2"}}),
        )
        .unwrap();
        assert_eq!(r.source_id.as_deref(), Some("42"));
        assert_eq!(
            r.vertical_data,
            json!({"pn": "Y-2"}).as_object().unwrap().clone()
        );
        let r = parse(&json!({"name": "Bolt", "material": "A2"})).unwrap();
        assert_eq!(r.vertical_data["material"], "A2");
    }

    #[test]
    fn errors_name_the_field() {
        assert_eq!(parse(&json!("x")).unwrap_err().error_type, "invalid_type");
        assert_eq!(
            parse(&json!({})).unwrap_err().field.as_deref(),
            Some("name")
        );
        assert_eq!(
            parse(&json!({"name": ["a"]})).unwrap_err().error_type,
            "invalid_type"
        );
        assert_eq!(
            parse(&json!({"name": "a", "vertical_data": 3}))
                .unwrap_err()
                .field
                .as_deref(),
            Some("vertical_data")
        );
        assert_eq!(
            parse(&json!({"name": "a", "description": 3}))
                .unwrap_err()
                .field
                .as_deref(),
            Some("description")
        );
    }
}
