//! Compiled JSON Schemas for validating records (API.md §8). A schema describes an entity's
//! `vertical_data` (where a flat record's other fields land); properties it does not name are
//! allowed unless the schema itself says otherwise.
//!
//! Stored versions and the cache of compiled validators live in [`crate::store::SchemaStore`].

use serde_json::Value;

use crate::entity_input::FieldError;
use crate::store::Entity;

/// Largest schema document accepted, serialized.
pub const MAX_SCHEMA_BYTES: usize = 256 * 1024;

pub struct Compiled {
    pub version: u32,
    validator: jsonschema::Validator,
}

impl Compiled {
    /// The entity's `vertical_data` against the schema; the first violation as a field error.
    pub fn check(&self, entity: &Entity) -> Result<(), FieldError> {
        let data = Value::Object(entity.vertical_data.clone());
        self.validator.validate(&data).map_err(|e| {
            let path = e
                .instance_path()
                .as_str()
                .trim_start_matches('/')
                .replace('/', ".");
            let field = if path.is_empty() {
                "vertical_data".to_owned()
            } else {
                format!("vertical_data.{path}")
            };
            FieldError {
                message: format!(
                    "{field} does not match schema version {}: {e}",
                    self.version
                ),
                field: Some(field),
                error_type: "schema_violation",
            }
        })
    }
}

/// A schema document compiled, or why it is not a usable JSON Schema.
pub fn compile(schema: &Value, version: u32) -> Result<Compiled, String> {
    if !matches!(schema, Value::Object(_) | Value::Bool(_)) {
        return Err("schema must be a JSON Schema object".into());
    }
    let validator =
        jsonschema::validator_for(schema).map_err(|e| format!("invalid JSON Schema: {e}"))?;
    Ok(Compiled { version, validator })
}

/// Stands in for a stored schema that no longer compiles (a validator upgrade): validation
/// must not silently stop, so it rejects every record until the schema is posted again.
pub fn reject_all(version: u32) -> Compiled {
    Compiled {
        version,
        validator: jsonschema::validator_for(&Value::Bool(false))
            .expect("the false schema compiles"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn entity(data: Value) -> Entity {
        let Value::Object(vertical_data) = data else {
            panic!()
        };
        Entity {
            id: uuid::Uuid::now_v7(),
            tenant_id: "t".into(),
            vertical: "v".into(),
            entity_type: "part".into(),
            name: "n".into(),
            description: None,
            source_id: None,
            source_type: None,
            source_name: None,
            source_url: None,
            status: crate::store::EntityStatus::Active,
            vertical_data,
            created_at: 0,
            updated_at: 0,
            visibility: Default::default(),
        }
    }

    #[test]
    fn violations_name_the_field_and_extra_fields_pass() {
        let c = compile(
            &json!({"type": "object", "required": ["price"],
                    "properties": {"price": {"type": "number", "minimum": 0}}}),
            3,
        )
        .unwrap();
        assert!(c
            .check(&entity(json!({"price": 2.5, "other": "x"})))
            .is_ok());
        let e = c.check(&entity(json!({"price": "cheap"}))).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("vertical_data.price"));
        assert_eq!(e.error_type, "schema_violation");
        assert!(e.message.contains("version 3"), "{}", e.message);
        let e = c.check(&entity(json!({}))).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("vertical_data"));
        assert!(e.message.contains("price"), "{}", e.message);
    }

    #[test]
    fn bad_schemas_are_refused() {
        assert!(compile(&json!({"type": "no-such-type"}), 1).is_err());
        assert!(compile(&json!([1, 2]), 1).is_err());
        assert!(compile(&json!({"$ref": "http://example.com/s.json"}), 1).is_err());
    }
}
