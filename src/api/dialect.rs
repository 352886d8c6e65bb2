//! The records dialect's names (API-RECORDS.md §1) over the entities dialect's operations.
//!
//! Both dialects run the same operations on the same store; a records-dialect request is
//! renamed into entities-dialect fields on the way in, and its results (views, errors) are
//! renamed on the way out. Nothing here stores or decides anything.

use serde::Serialize;
use serde_json::{Map, Value};
use uuid::Uuid;

use crate::error::ApiError;
use crate::store::{EmbeddingStatus, Entity, EntityStatus, IngestionStatus, Store, Visibility};
use crate::timestamp::serde_rfc3339;

/// Which vocabulary a request speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dialect {
    /// API.md: verticals, entity types, entities, `vertical_data`.
    Entities,
    /// API-RECORDS.md: collections, record types, records, `data`/`collection_data`.
    Records,
}

impl Dialect {
    /// A batch or file record as batch ingestion (written for the entities dialect) reads it.
    pub fn record(self, raw: Value) -> Value {
        match self {
            Dialect::Entities => raw,
            Dialect::Records => batch_record(raw),
        }
    }
}

/// Renames the records dialect's top-level field names in a create or PATCH body to the
/// entities dialect's. `data` and `collection_data` both mean `vertical_data`; a body naming
/// one field twice (say `data` and `vertical_data`) is refused rather than guessed at.
pub fn entity_fields(body: Map<String, Value>) -> Result<Map<String, Value>, ApiError> {
    let mut out = Map::with_capacity(body.len());
    for (k, v) in body {
        let target = match k.as_str() {
            "collection" => "vertical",
            "record_type" => "entity_type",
            "data" | "collection_data" => "vertical_data",
            other => other,
        }
        .to_owned();
        if out.contains_key(&target) {
            return Err(ApiError::validation(format!(
                "{k}: the body names this field twice (give one of data, collection_data)"
            )));
        }
        out.insert(target, v);
    }
    Ok(out)
}

/// A records-dialect batch record's `source_type` is the route's (API-RECORDS.md §2): left out
/// rather than stored as data. `visibility`, `status`, `source_url` and `source_name` are the
/// record's own (see `ingest::record`).
const ROUTE_METADATA: &[&str] = &["source_type"];

/// A records-dialect batch record in the entities dialect's shape: `collection_data` or
/// `data` (objects) become `vertical_data`, merged, `collection_data`'s keys winning. Anything
/// else is left for the record parser to accept or reject.
fn batch_record(raw: Value) -> Value {
    let Value::Object(mut obj) = raw else {
        return raw;
    };
    let mut data = Map::new();
    let mut named = false;
    for key in ["vertical_data", "data", "collection_data"] {
        match obj.remove(key) {
            Some(Value::Object(m)) => {
                data.extend(m);
                named = true;
            }
            // Not an object: left for the record parser (a flat field, or a bad vertical_data).
            Some(other) => {
                obj.insert(key.to_owned(), other);
            }
            None => {}
        }
    }
    obj.retain(|k, _| !ROUTE_METADATA.contains(&k.as_str()));
    // A `vertical_data` that is not an object stays, so the record is rejected for it. With
    // one, the record parser reads the record's own fields as its own rather than as data.
    // Any of them makes a flat record a structured one, so the parser reads them as its own.
    let own = crate::ingest::record::OWN_FIELDS
        .iter()
        .any(|k| obj.contains_key(*k));
    if (named || own) && !obj.contains_key("vertical_data") {
        obj.insert("vertical_data".into(), Value::Object(data));
    }
    Value::Object(obj)
}

/// Words of the entities dialect and their records-dialect names, for error texts.
const WORDS: &[(&str, &str)] = &[
    ("vertical", "collection"),
    ("verticals", "collections"),
    ("entity_type", "record_type"),
    ("entity_ids", "record_ids"),
    ("entity_id", "record_id"),
    ("entity", "record"),
    ("entities", "records"),
    ("Entity", "Record"),
    ("Entities", "Records"),
    ("ingestion", "upload"),
    ("Ingestion", "Upload"),
];

/// An error text in the records dialect's words: `vertical_data` is called `data_name`
/// (`data` on `/records`, `collection_data` for batch records).
pub fn rename_text(text: &str, data_name: &str) -> String {
    let rename = |word: &str| -> String {
        if word == "vertical_data" {
            return data_name.to_owned();
        }
        WORDS
            .iter()
            .find(|(from, _)| *from == word)
            .map_or(word, |(_, to)| *to)
            .to_owned()
    };
    let mut out = String::with_capacity(text.len());
    let mut start = None;
    for (i, c) in text.char_indices() {
        let in_word = c.is_ascii_alphanumeric() || c == '_';
        match (in_word, start) {
            (true, None) => start = Some(i),
            (false, Some(s)) => {
                out.push_str(&rename(&text[s..i]));
                start = None;
                out.push(c);
            }
            (false, None) => out.push(c),
            (true, Some(_)) => {}
        }
    }
    if let Some(s) = start {
        out.push_str(&rename(&text[s..]));
    }
    out
}

/// An error of a shared operation, told in the records dialect's words.
pub fn records_error(e: ApiError) -> ApiError {
    let r = |s: String| rename_text(&s, "data");
    match e {
        ApiError::BadRequest(s) => ApiError::BadRequest(r(s)),
        ApiError::NotFound(s) => ApiError::NotFound(r(s)),
        ApiError::Conflict(s) => ApiError::Conflict(r(s)),
        ApiError::Validation(s) => ApiError::Validation(r(s)),
        other => other,
    }
}

/// `indexing_status`, the records dialect's `embedding_status`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum IndexingStatus {
    Pending,
    Indexed,
    Failed,
}

impl From<EmbeddingStatus> for IndexingStatus {
    fn from(s: EmbeddingStatus) -> Self {
        match s {
            EmbeddingStatus::Pending => IndexingStatus::Pending,
            EmbeddingStatus::Completed => IndexingStatus::Indexed,
            EmbeddingStatus::Failed => IndexingStatus::Failed,
        }
    }
}

/// A record as the records dialect shows it (API-RECORDS.md §1).
#[derive(Serialize)]
pub struct RecordView {
    id: Uuid,
    record_id: Uuid,
    name: String,
    collection: String,
    record_type: String,
    data: Map<String, Value>,
    description: Option<String>,
    /// There is no language model to write one; always null here.
    description_llm: Option<String>,
    source_type: Option<String>,
    source_id: Option<String>,
    source_url: Option<String>,
    source_name: Option<String>,
    status: EntityStatus,
    visibility: Visibility,
    indexing_status: IndexingStatus,
    #[serde(with = "serde_rfc3339::millis")]
    created_at: i64,
    #[serde(with = "serde_rfc3339::millis")]
    updated_at: i64,
}

pub fn record_view(store: &Store, e: Entity) -> Result<RecordView, ApiError> {
    let indexing_status = store.entities.embedding_status(&e.tenant_id, e.id)?.into();
    Ok(RecordView {
        id: e.id,
        record_id: e.id,
        name: e.name,
        collection: e.vertical,
        record_type: e.entity_type,
        data: e.vertical_data,
        description: e.description,
        description_llm: None,
        source_type: e.source_type,
        source_id: e.source_id,
        source_url: e.source_url,
        source_name: e.source_name,
        status: e.status,
        visibility: e.visibility,
        indexing_status,
        created_at: e.created_at,
        updated_at: e.updated_at,
    })
}

/// An upload's status in the records dialect (`completed` is called `complete`).
pub fn upload_status(s: IngestionStatus) -> &'static str {
    match s {
        IngestionStatus::Completed => "complete",
        IngestionStatus::Partial => "partial",
        IngestionStatus::Failed => "failed",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn request_fields_are_renamed_and_doubles_refused() {
        let m = entity_fields(obj(
            json!({"collection": "c", "record_type": "t", "data": {"a": 1}, "name": "n"}),
        ))
        .unwrap();
        assert_eq!(
            Value::Object(m),
            json!({"vertical": "c", "entity_type": "t", "vertical_data": {"a": 1}, "name": "n"})
        );
        assert!(entity_fields(obj(json!({"data": {}, "collection_data": {}}))).is_err());
    }

    #[test]
    fn batch_records_keep_their_own_fields_and_gather_data() {
        assert_eq!(
            batch_record(json!({"name": "n", "color": "red", "source_type": "api"})),
            json!({"name": "n", "color": "red"})
        );
        assert_eq!(
            batch_record(json!({"name": "n", "color": "red", "status": "draft"})),
            json!({"name": "n", "color": "red", "status": "draft", "vertical_data": {}})
        );
        assert_eq!(
            batch_record(json!({"name": "n", "color": "red", "visibility": "public"})),
            json!({"name": "n", "color": "red", "visibility": "public", "vertical_data": {}})
        );
        assert_eq!(
            batch_record(
                json!({"name": "n", "data": {"a": 1, "b": 1}, "collection_data": {"b": 2}, "c": 3})
            ),
            json!({"name": "n", "c": 3, "vertical_data": {"a": 1, "b": 2}})
        );
        // A `data` that is not an object is a flat field like any other.
        assert_eq!(
            batch_record(json!({"name": "n", "data": "x"})),
            json!({"name": "n", "data": "x"})
        );
        assert_eq!(batch_record(json!([1])), json!([1]));
    }

    #[test]
    fn error_texts_use_the_records_words() {
        assert_eq!(
            rename_text("vertical_data.price: must be a number", "data"),
            "data.price: must be a number"
        );
        assert_eq!(
            rename_text("Entity not found.", "data"),
            "Record not found."
        );
        assert_eq!(
            rename_text("entity_ids must hold 1 to 1000 ids", "data"),
            "record_ids must hold 1 to 1000 ids"
        );
        assert_eq!(
            rename_text("vertical: must be 1-64 characters of a-z", "data"),
            "collection: must be 1-64 characters of a-z"
        );
        assert_eq!(rename_text("verticality", "data"), "verticality");
    }
}
