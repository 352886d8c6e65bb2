//! One input record (`{name, source_id?, vertical_data?, description?}`) made into entity fields.
//! Other top-level fields of a flat record become `vertical_data` (explicit `vertical_data` keys win).
//! A record with a `vertical_data` object may also name its own `visibility`, `status`,
//! `source_url` and `source_name`; in a flat record those are data like any other field (a
//! catalog column of that name), and in an exported record (one with an `id`) they are the
//! export's metadata, which re-importing leaves alone.

use serde_json::{Map, Number, Value};

use crate::entity_input::{self, FieldError, MAX_SOURCE_CHARS, MAX_TEXT_CHARS};
use crate::store::{EntityStatus, Visibility};

#[derive(Clone, Debug, PartialEq)]
pub struct RecordInput {
    pub name: String,
    pub source_id: Option<String>,
    pub description: Option<String>,
    pub vertical_data: Map<String, Value>,
    /// The id of the entity an exported record was read from: uploading an export back into
    /// its own vertical and type updates the same entities (see `ingest::batch`).
    pub exported_id: Option<uuid::Uuid>,
    /// `None`: the collection's default for a new entity, unchanged for an updated one.
    pub visibility: Option<Visibility>,
    /// `None`: active.
    pub status: Option<EntityStatus>,
    pub source_url: Option<String>,
    /// `None`: the uploaded file's name, if any.
    pub source_name: Option<String>,
}

/// A structured record's own fields besides name, source id and description.
#[derive(Clone, Debug, Default, PartialEq)]
struct Own {
    visibility: Option<Visibility>,
    status: Option<EntityStatus>,
    source_url: Option<String>,
    source_name: Option<String>,
}

/// The fields [`Own`] reads.
pub const OWN_FIELDS: &[&str] = &["visibility", "status", "source_url", "source_name"];

/// Entity fields an export carries besides the record fields.
const ENTITY_METADATA: &[&str] = &[
    "id",
    "tenant_id",
    "vertical",
    "entity_type",
    "status",
    "source_type",
    "source_name",
    "source_url",
    "embedding_status",
    "created_at",
    "updated_at",
];

/// Validates and takes apart a record. On success nothing is copied; on error the record is
/// handed back untouched, for the dead-letter entry.
pub fn parse(raw: Value) -> Result<RecordInput, (FieldError, Value)> {
    let checked = check(&raw);
    let ((name, source_id, description, own), Value::Object(mut obj)) = (
        match checked {
            Ok(c) => c,
            Err(e) => return Err((e, raw)),
        },
        raw,
    ) else {
        unreachable!("check() accepts only objects")
    };
    let mut exported_id = None;
    let mut own = own;
    let mut data = match obj.remove("vertical_data") {
        Some(Value::Object(m)) => {
            // An exported entity (an `id` beside a `vertical_data` object): its metadata is
            // not data, so an export re-imports as the same content.
            if let Some(id) = obj.get("id") {
                exported_id = id.as_str().and_then(|s| uuid::Uuid::parse_str(s).ok());
                obj.retain(|k, _| !ENTITY_METADATA.contains(&k.as_str()));
                let visibility = own.visibility;
                own = Own {
                    visibility,
                    ..Own::default()
                };
            }
            m
        }
        _ => Map::new(),
    };
    if own != Own::default() {
        obj.retain(|k, _| !OWN_FIELDS.contains(&k.as_str()));
    }
    for (k, v) in obj {
        if !matches!(k.as_str(), "name" | "source_id" | "description") {
            data.entry(k).or_insert(v);
        }
    }
    Ok(RecordInput {
        name,
        source_id,
        description,
        vertical_data: data,
        exported_id,
        visibility: own.visibility,
        status: own.status,
        source_url: own.source_url,
        source_name: own.source_name,
    })
}

/// A text value from a file (a CSV cell, an XML element) as JSON: numbers and booleans typed, codes with leading zeros kept as text.
pub fn typed(cell: &str) -> Value {
    let t = cell.trim();
    let leading_zero = t.len() > 1 && t.starts_with('0') && !t.starts_with("0.");
    // Long digit strings are codes (EAN-13, GTIN-14, ERP numbers), not quantities.
    let code = t.len() > 12 && t.bytes().all(|b| b.is_ascii_digit());
    if !leading_zero && !code && !t.starts_with('+') {
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

/// The record as a JSON object again (for a dead-letter entry after parsing).
pub fn reassemble(r: RecordInput) -> Value {
    let mut obj = Map::new();
    obj.insert("name".into(), Value::String(r.name));
    if let Some(s) = r.source_id {
        obj.insert("source_id".into(), Value::String(s));
    }
    if let Some(d) = r.description {
        obj.insert("description".into(), Value::String(d));
    }
    if let Some(id) = r.exported_id {
        obj.insert("id".into(), Value::String(id.to_string()));
    }
    if let Some(v) = r.visibility {
        obj.insert("visibility".into(), Value::String(v.as_str().into()));
    }
    if let Some(v) = r.status {
        obj.insert("status".into(), Value::String(v.as_str().into()));
    }
    if let Some(v) = r.source_url {
        obj.insert("source_url".into(), Value::String(v));
    }
    if let Some(v) = r.source_name {
        obj.insert("source_name".into(), Value::String(v));
    }
    obj.insert("vertical_data".into(), Value::Object(r.vertical_data));
    Value::Object(obj)
}

/// Everything about a record that can be wrong, except the size of its vertical_data (checked
/// where it is serialized anyway).
type Checked = (String, Option<String>, Option<String>, Own);

fn check(raw: &Value) -> Result<Checked, FieldError> {
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
    let structured = match obj.get("vertical_data") {
        None | Some(Value::Null) => false,
        Some(Value::Object(_)) => true,
        Some(_) => {
            return Err(FieldError::new(
                "vertical_data",
                "invalid_type",
                "must be a JSON object",
            ))
        }
    };
    let own = if structured {
        own_fields(obj)?
    } else {
        Own::default()
    };
    // Every other field becomes vertical_data, so all of them are held to its nesting cap.
    let flat = obj
        .iter()
        .filter(|(k, _)| k.as_str() != "vertical_data")
        .map(|(_, v)| v);
    let nested = obj
        .get("vertical_data")
        .and_then(Value::as_object)
        .into_iter()
        .flat_map(Map::values);
    entity_input::check_nesting("vertical_data", flat.chain(nested))?;
    Ok((name, source_id, description, own))
}

/// A structured record's own fields, checked.
fn own_fields(obj: &Map<String, Value>) -> Result<Own, FieldError> {
    let text = |field: &str| match obj.get(field) {
        None => Ok(None),
        Some(v) => entity_input::optional_text(field, v, MAX_SOURCE_CHARS),
    };
    Ok(Own {
        visibility: match obj.get("visibility") {
            None => None,
            Some(v) => Some(v.as_str().and_then(Visibility::parse).ok_or_else(|| {
                FieldError::new("visibility", "invalid_value", "must be public or private")
            })?),
        },
        status: match obj.get("status") {
            None | Some(Value::Null) => None,
            Some(v) => Some(v.as_str().and_then(EntityStatus::parse).ok_or_else(|| {
                FieldError::new(
                    "status",
                    "invalid_value",
                    "must be active, archived or draft",
                )
            })?),
        },
        source_url: text("source_url")?,
        source_name: text("source_name")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn types_cells() {
        assert_eq!(typed("42"), json!(42));
        assert_eq!(typed("4.5"), json!(4.5));
        assert_eq!(typed("TRUE"), json!(true));
        assert_eq!(typed("00123"), json!("00123"));
        assert_eq!(typed("+49 30"), json!("+49 30"));
        assert_eq!(typed("M8"), json!("M8"));
        assert_eq!(typed("0.5"), json!(0.5));
        assert_eq!(typed("4012345000017"), json!("4012345000017"));
        assert_eq!(typed("123456789012"), json!(123456789012_i64));
    }

    fn error(v: Value) -> FieldError {
        parse(v).unwrap_err().0
    }

    #[test]
    fn status_and_source_are_the_records_beside_a_vertical_data_object() {
        let r = parse(
            json!({"name": "B", "status": "draft", "source_url": "https://erp/1",
            "source_name": "ERP", "vertical_data": {"a": 1}}),
        )
        .unwrap();
        assert_eq!(r.status, Some(EntityStatus::Draft));
        assert_eq!(r.source_url.as_deref(), Some("https://erp/1"));
        assert_eq!(r.source_name.as_deref(), Some("ERP"));
        assert_eq!(r.vertical_data, *json!({"a": 1}).as_object().unwrap());
        // Flat: catalog columns.
        let r = parse(json!({"name": "B", "status": "discontinued"})).unwrap();
        assert_eq!(r.status, None);
        assert_eq!(r.vertical_data["status"], "discontinued");
        // An export's metadata is not applied on re-import.
        let r = parse(
            json!({"id": "01a22845-eccd-732e-a3e7-9b8d9c0b178c", "name": "B",
            "status": "archived", "source_url": "x", "vertical_data": {}}),
        )
        .unwrap();
        assert_eq!((r.status, r.source_url), (None, None));
        for (field, value) in [("status", json!("gone")), ("source_url", json!(5))] {
            let mut raw = json!({"name": "B", "vertical_data": {}});
            raw[field] = value;
            assert_eq!(error(raw).field.as_deref(), Some(field));
        }
        let back = reassemble(
            parse(json!({"name": "B", "status": "draft", "vertical_data": {}})).unwrap(),
        );
        assert_eq!(back["status"], "draft");
    }

    #[test]
    fn visibility_is_the_records_only_beside_a_vertical_data_object() {
        let r =
            parse(json!({"name": "B", "visibility": "public", "vertical_data": {"a": 1}})).unwrap();
        assert_eq!(r.visibility, Some(Visibility::Public));
        assert_eq!(Value::Object(r.vertical_data), json!({"a": 1}));
        // A flat record's `visibility` is a catalog column.
        let r = parse(json!({"name": "B", "visibility": "internal"})).unwrap();
        assert_eq!(r.visibility, None);
        assert_eq!(
            Value::Object(r.vertical_data),
            json!({"visibility": "internal"})
        );
        let e = error(json!({"name": "B", "visibility": "everyone", "vertical_data": {}}));
        assert_eq!(e.field.as_deref(), Some("visibility"));
    }

    #[test]
    fn flat_fields_become_vertical_data() {
        let r = parse(
            json!({"name": "Bolt", "source_id": 42, "pn": "X-1", "vertical_data": {"pn": "Y-2"}}),
        )
        .unwrap();
        assert_eq!(r.source_id.as_deref(), Some("42"));
        assert_eq!(
            r.vertical_data,
            json!({"pn": "Y-2"}).as_object().unwrap().clone()
        );
        let r = parse(json!({"name": "Bolt", "material": "A2"})).unwrap();
        assert_eq!(r.vertical_data["material"], "A2");
        // A flat record keeps a field called status; an exported entity's metadata is dropped.
        let r = parse(json!({"name": "Bolt", "status": "discontinued"})).unwrap();
        assert_eq!(r.vertical_data["status"], "discontinued");
        let r = parse(json!({"id": "0192", "name": "Bolt", "status": "active",
                             "created_at": "2026-11-27T10:00:00Z", "vertical_data": {"pn": "X"}}))
        .unwrap();
        assert_eq!(
            r.vertical_data,
            json!({"pn": "X"}).as_object().unwrap().clone()
        );
        assert_eq!(r.exported_id, None, "not a uuid");
        let id = uuid::Uuid::now_v7();
        let r = parse(json!({"id": id, "name": "Bolt", "vertical_data": {}})).unwrap();
        assert_eq!(r.exported_id, Some(id));
        let r = parse(json!({"id": id, "name": "Bolt"})).unwrap();
        assert_eq!((r.exported_id, &r.vertical_data["id"]), (None, &json!(id)));
    }

    #[test]
    fn errors_name_the_field_and_hand_back_the_record() {
        assert_eq!(error(json!("x")).error_type, "invalid_type");
        assert_eq!(error(json!({})).field.as_deref(), Some("name"));
        assert_eq!(error(json!({"name": ["a"]})).error_type, "invalid_type");
        assert_eq!(
            error(json!({"name": "a", "vertical_data": 3}))
                .field
                .as_deref(),
            Some("vertical_data")
        );
        assert_eq!(
            error(json!({"name": "a", "description": 3}))
                .field
                .as_deref(),
            Some("description")
        );
        let deep = (0..crate::entity_input::MAX_NESTING)
            .fold(json!([]), |inner, _| Value::Array(vec![inner]));
        let e = error(json!({"name": "a", "dims": deep.clone()}));
        assert_eq!(
            (e.field.as_deref(), e.error_type),
            (Some("vertical_data"), "too_deep")
        );
        assert_eq!(
            error(json!({"name": "a", "vertical_data": {"dims": deep}})).error_type,
            "too_deep"
        );
        let raw = json!({"name": "", "keep": [1, 2]});
        assert_eq!(parse(raw.clone()).unwrap_err().1, raw);
    }

    #[test]
    fn reassembled_records_parse_back_the_same() {
        let r =
            parse(json!({"name": "Nut", "source_id": "s", "description": "d", "m": 1})).unwrap();
        assert_eq!(parse(reassemble(r.clone())).unwrap(), r);
        let r =
            parse(json!({"id": uuid::Uuid::now_v7(), "name": "Nut", "vertical_data": {"m": 1}}))
                .unwrap();
        assert_eq!(parse(reassemble(r.clone())).unwrap(), r);
    }
}
