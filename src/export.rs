//! Export formats (API.md §9): entities written one at a time to any `io::Write`, so an export
//! of any size runs in constant memory.
//!
//! - `json`: one array of entities, in the shape of `GET /entities/{id}` without the indexing
//!   status.
//! - `ndjson`: the same objects, one per line.
//! - `csv`: `id`, `vertical`, `entity_type`, `name`, `source_id`, `description`, then one
//!   column per `vertical_data` key (the union over the exported entities, sorted); objects and
//!   arrays as JSON text. Re-uploading it into the same vertical and type updates the same
//!   entities (matched by source id, else by id) and creates none; text that looks like a
//!   number or a boolean comes back typed and empty values are left out.

use std::collections::BTreeSet;
use std::io::{self, Write};

use serde::Serialize;
use serde_json::{Map, Value};
use uuid::Uuid;

use crate::store::{Entity, EntityStatus};
use crate::timestamp::serde_rfc3339;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Json,
    Ndjson,
    Csv,
}

impl Format {
    pub fn parse(s: &str) -> Option<Format> {
        match s.to_ascii_lowercase().as_str() {
            "json" => Some(Format::Json),
            "ndjson" | "jsonl" => Some(Format::Ndjson),
            "csv" => Some(Format::Csv),
            _ => None,
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Format::Json => "application/json",
            Format::Ndjson => "application/x-ndjson",
            Format::Csv => "text/csv; charset=utf-8",
        }
    }

    pub fn extension(self) -> &'static str {
        match self {
            Format::Json => "json",
            Format::Ndjson => "ndjson",
            Format::Csv => "csv",
        }
    }
}

/// Which entities an export holds.
#[derive(Clone, Debug, Default)]
pub struct Selection {
    pub vertical: Option<String>,
    pub entity_type: Option<String>,
    pub status: Option<EntityStatus>,
}

impl Selection {
    pub fn matches(&self, e: &Entity) -> bool {
        self.vertical.as_ref().is_none_or(|v| *v == e.vertical)
            && self
                .entity_type
                .as_ref()
                .is_none_or(|t| *t == e.entity_type)
            && self.status.is_none_or(|s| s == e.status)
    }
}

/// Fields of an exported entity. Re-importing one through `/upload` reads `name`, `source_id`,
/// `description` and `vertical_data` and ignores the rest (see `ingest::record`).
#[derive(Serialize)]
struct Exported<'a> {
    id: Uuid,
    name: &'a str,
    description: Option<&'a str>,
    source_id: Option<&'a str>,
    vertical: &'a str,
    entity_type: &'a str,
    status: EntityStatus,
    source_type: Option<&'a str>,
    source_name: Option<&'a str>,
    source_url: Option<&'a str>,
    vertical_data: &'a Map<String, Value>,
    #[serde(with = "serde_rfc3339::millis")]
    created_at: i64,
    #[serde(with = "serde_rfc3339::millis")]
    updated_at: i64,
}

fn exported(e: &Entity) -> Exported<'_> {
    Exported {
        id: e.id,
        name: &e.name,
        description: e.description.as_deref(),
        source_id: e.source_id.as_deref(),
        vertical: &e.vertical,
        entity_type: &e.entity_type,
        status: e.status,
        source_type: e.source_type.as_deref(),
        source_name: e.source_name.as_deref(),
        source_url: e.source_url.as_deref(),
        vertical_data: &e.vertical_data,
        created_at: e.created_at,
        updated_at: e.updated_at,
    }
}

type Entities<'a> = Box<dyn Iterator<Item = io::Result<Entity>> + 'a>;

/// Writes the entities in `format`. `entities` is called once (json, ndjson) or twice (csv: the
/// first pass collects the columns) and must yield the same entities each time.
pub fn write<'a, W: Write>(
    out: W,
    format: Format,
    mut entities: impl FnMut() -> Entities<'a>,
) -> io::Result<u64> {
    match format {
        Format::Json => write_json(out, entities()),
        Format::Ndjson => write_ndjson(out, entities()),
        Format::Csv => {
            let mut keys = BTreeSet::new();
            for e in entities() {
                keys.extend(e?.vertical_data.into_iter().map(|(k, _)| k));
            }
            write_csv(out, &keys, entities())
        }
    }
}

fn write_json<W: Write>(mut out: W, entities: Entities<'_>) -> io::Result<u64> {
    let mut n = 0u64;
    out.write_all(b"[")?;
    for e in entities {
        let e = e?;
        out.write_all(if n == 0 { b"\n" } else { b",\n" })?;
        serde_json::to_writer(&mut out, &exported(&e))?;
        n += 1;
    }
    out.write_all(b"\n]\n")?;
    out.flush()?;
    Ok(n)
}

fn write_ndjson<W: Write>(mut out: W, entities: Entities<'_>) -> io::Result<u64> {
    let mut n = 0u64;
    for e in entities {
        serde_json::to_writer(&mut out, &exported(&e?))?;
        out.write_all(b"\n")?;
        n += 1;
    }
    out.flush()?;
    Ok(n)
}

/// The CSV columns that say which entity a row is; a CSV upload with all of them is read as
/// an export (`ingest::csv_file`).
pub const CSV_METADATA: [&str; 3] = ["id", "vertical", "entity_type"];

/// The CSV columns taken by entity fields; a `vertical_data` key of the same name is written
/// as `vertical_data.<key>`.
const FIXED: [&str; 6] = [
    "id",
    "vertical",
    "entity_type",
    "name",
    "source_id",
    "description",
];

fn cell(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn write_csv<W: Write>(out: W, keys: &BTreeSet<String>, entities: Entities<'_>) -> io::Result<u64> {
    let mut w = csv::Writer::from_writer(out);
    let header = FIXED
        .iter()
        .map(|f| f.to_string())
        .chain(keys.iter().map(|k| {
            if FIXED.iter().any(|f| f.eq_ignore_ascii_case(k)) {
                format!("vertical_data.{k}")
            } else {
                k.clone()
            }
        }));
    w.write_record(header)?;
    let mut n = 0u64;
    for e in entities {
        let e = e?;
        let fixed = [
            e.id.to_string(),
            e.vertical.clone(),
            e.entity_type.clone(),
            e.name.clone(),
            e.source_id.clone().unwrap_or_default(),
            e.description.clone().unwrap_or_default(),
        ];
        let data = keys
            .iter()
            .map(|k| e.vertical_data.get(k).map(cell).unwrap_or_default());
        w.write_record(fixed.into_iter().chain(data))?;
        n += 1;
    }
    w.flush()?;
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn entity(name: &str, data: Value) -> Entity {
        let Value::Object(vertical_data) = data else {
            panic!()
        };
        Entity {
            id: Uuid::now_v7(),
            tenant_id: "t".into(),
            vertical: "parts".into(),
            entity_type: "bolt".into(),
            name: name.into(),
            description: None,
            source_id: Some(format!("sid-{name}")),
            source_type: None,
            source_name: None,
            source_url: None,
            status: EntityStatus::Active,
            vertical_data,
            created_at: 0,
            updated_at: 0,
            visibility: Default::default(),
        }
    }

    fn run(format: Format, list: &[Entity]) -> String {
        let mut out = Vec::new();
        let n = write(&mut out, format, || {
            Box::new(list.iter().cloned().map(Ok)) as Entities<'_>
        })
        .unwrap();
        assert_eq!(n, list.len() as u64);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn csv_unions_keys_in_stable_order_and_quotes() {
        let list = [
            entity("Bolt, \"hex\"", json!({"price": 1.5, "thread": "M8"})),
            entity(
                "Nut\nsecond line",
                json!({"alpha": true, "dims": {"d": 8}, "name": "x"}),
            ),
        ];
        let csv = run(Format::Csv, &list);
        let mut r = csv::Reader::from_reader(csv.as_bytes());
        let header: Vec<_> = r.headers().unwrap().iter().map(str::to_owned).collect();
        assert_eq!(
            header,
            [
                "id",
                "vertical",
                "entity_type",
                "name",
                "source_id",
                "description",
                "alpha",
                "dims",
                "vertical_data.name",
                "price",
                "thread"
            ]
        );
        let rows: Vec<csv::StringRecord> = r.records().map(Result::unwrap).collect();
        assert_eq!(&rows[0][0], list[0].id.to_string());
        assert_eq!((&rows[0][1], &rows[0][2]), ("parts", "bolt"));
        assert_eq!(&rows[0][3], "Bolt, \"hex\"");
        assert_eq!(&rows[0][9], "1.5");
        assert_eq!(&rows[0][6], "", "missing keys are empty cells");
        assert_eq!(&rows[1][3], "Nut\nsecond line");
        assert_eq!(&rows[1][7], "{\"d\":8}");
    }

    #[test]
    fn json_and_ndjson_hold_every_entity() {
        let list = [entity("A", json!({"x": 1})), entity("B", json!({}))];
        let v: Value = serde_json::from_str(&run(Format::Json, &list)).unwrap();
        assert_eq!(v.as_array().unwrap().len(), 2);
        assert_eq!(v[1]["name"], "B");
        assert_eq!(v[0]["vertical_data"]["x"], 1);
        let empty: Value = serde_json::from_str(&run(Format::Json, &[])).unwrap();
        assert_eq!(empty, json!([]));
        let nd = run(Format::Ndjson, &list);
        let lines: Vec<Value> = nd
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines[0]["source_id"], "sid-A");
        assert_eq!(lines.len(), 2);
    }

    #[test]
    fn selection_filters() {
        let e = entity("A", json!({}));
        assert!(Selection::default().matches(&e));
        let s = Selection {
            vertical: Some("parts".into()),
            status: Some(EntityStatus::Archived),
            ..Selection::default()
        };
        assert!(!s.matches(&e));
        assert_eq!(Format::parse("CSV"), Some(Format::Csv));
        assert_eq!(Format::parse("xml"), None);
    }
}
