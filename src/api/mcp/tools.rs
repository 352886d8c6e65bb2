//! The MCP tools (API-RECORDS.md §4): search, lookup, collections and schema of the caller's
//! catalog, each answering text a model reads cheaply (tables, YAML). They run the REST API's
//! operations (search validation and execution, entity reads, collection summaries); only the
//! argument parsing and the text are theirs.
//!
//! A tool's failure that the model can fix (an unknown record, a bad filter, an unknown sort
//! field) is a result with `isError: true` and a message saying what to do instead; JSON-RPC
//! errors are kept for calls that cannot be routed (an unknown tool name).

use std::collections::BTreeMap;
use std::sync::{Arc, LazyLock};

use actix_web::web;
use rmcp::model::{CallToolResult, ContentBlock, ErrorData, JsonObject, Tool, ToolAnnotations};
use serde_json::{json, Map, Value};

use super::{Audience, Context};
use crate::api::dialect::{self, rename_text};
use crate::api::search::{self, SearchBody};
use crate::api::verticals::{self, VerticalSummary};
use crate::error::ApiError;
use crate::inferred_schema::Profile;
use crate::search::format::{self, Row};
use crate::search::query::{parse_filters, SearchParams, Sort, SortField};
use crate::store::{Entity, EntityStatus};

/// The tools' names as `/mcp/` serves them; [`Audience::names`] renames them for other audiences.
pub const NAMES: [&str; 5] = [
    "qanatix_search",
    "qanatix_lookup",
    "qanatix_collections",
    "qanatix_verticals",
    "qanatix_schema",
];

/// Most results one `qanatix_search` call shows: a model's context is the budget.
pub const MAX_LIMIT: i64 = 20;
const DEFAULT_LIMIT: i64 = 10;
const MAX_OFFSET: i64 = 10_000;
/// Records read to describe a collection's fields.
pub const SCHEMA_SAMPLE: usize = 100;
const DEFAULT_COLLECTIONS: i64 = 50;
const MAX_COLLECTIONS: i64 = 500;

/// How filters are written, for the tool descriptions and the schema tool's answer.
pub const FILTER_SYNTAX: &str = "\
Filters are a JSON object (up to 20 keys; a record must match all of them). A key is a data \
field of the records (see qanatix_schema), or entity_type (the record type) or source_type, \
with an optional suffix:
- \"field\": value -- equals; strings ignore case; a string with commas means any of them (\"SKF,FAG\")
- \"field_in\": [\"SKF\", \"FAG\"] -- any of these values (a comma string works too)
- \"field_min\" / \"field_max\": number -- at least / at most
- \"field_gt\" / \"field_lt\": number -- greater / less than
- booleans match true / false
A record without the field does not match.
Example: {\"material\": \"stainless steel\", \"diameter_mm_min\": 8, \"brand_in\": [\"SKF\", \"FAG\"], \"in_stock\": true}";

const SORT_SYNTAX: &str = "Order by a data field or name, created_at, updated_at; a leading '-' \
sorts descending (\"-price\"). Without sort, results are ordered by relevance (or newest first \
when there is no query).";

/// The words a call used: the records dialect's (`collection`, `record_id`) or the entities
/// dialect's (`vertical`, `entity_id`). Answers and error texts speak the same words back.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Words {
    Records,
    Entities,
}

impl Words {
    fn collection(self) -> &'static str {
        match self {
            Words::Records => "collection",
            Words::Entities => "vertical",
        }
    }

    fn error(self, text: String) -> String {
        match self {
            Words::Records => rename_text(&text, "data"),
            Words::Entities => text,
        }
    }
}

/// A tool's answer: text for the model, or text about what went wrong (`isError`).
type Answer = Result<String, String>;

fn describe(e: ApiError) -> String {
    match e {
        ApiError::Internal(cause) => {
            log::error!("internal error in an MCP tool: {cause}");
            "The server failed to answer (internal error); try again later.".to_owned()
        }
        other => other.to_string(),
    }
}

fn schema(v: Value) -> Arc<JsonObject> {
    match v {
        Value::Object(m) => Arc::new(m),
        _ => Arc::new(JsonObject::new()),
    }
}

fn tool(name: &'static str, title: &str, description: String, input: Value) -> Tool {
    Tool::new(name, description, schema(input))
        .with_title(title)
        .with_annotations(
            ToolAnnotations::with_title(title)
                .read_only(true)
                .destructive(false)
                .idempotent(true)
                .open_world(false),
        )
}

fn collection_properties() -> Value {
    json!({
        "collection": {"type": "string", "description": "The collection (see qanatix_collections), e.g. \"parts\"."},
        "vertical": {"type": "string", "description": "Older name of collection; give one of the two."},
    })
}

fn merge(mut a: Value, b: Value) -> Value {
    if let (Value::Object(a), Value::Object(b)) = (&mut a, b) {
        a.extend(b);
    }
    a
}

static TOOLS: LazyLock<Vec<Tool>> = LazyLock::new(|| {
    vec![
        tool(
            "qanatix_search",
            "Search a catalog collection",
            format!(
                "Search the records of one collection of the user's QANATIX catalog (parts, \
                 products, suppliers, documents...). Use it to find items by words, by an \
                 identifier (part number, SKU, EAN/GTIN, CAS number, a standard such as \
                 \"DIN 933\" or \"ISO 4017\": exact matches come first with score 1.0), by \
                 filters on their fields, or to list a collection (no query, no filters). Call \
                 qanatix_collections first if you do not know the collection, and qanatix_schema \
                 to learn its field names before filtering. Answers a table (Record ID, Name, \
                 Score, Key Data) headed \"Showing N of M results\"; page with offset; pass a \
                 Record ID to qanatix_lookup for the whole record.\n\n{FILTER_SYNTAX}\n\nSort: {SORT_SYNTAX}"
            ),
            json!({
                "type": "object",
                "properties": merge(collection_properties(), json!({
                    "query": {"type": "string", "maxLength": 500,
                              "description": "Words, an identifier or a question, e.g. \"stainless hex bolt M8\", \"6204-2RS\". Omit to filter or list only."},
                    "filters": {"type": "object", "additionalProperties": true,
                                "description": "Conditions on fields, e.g. {\"material\": \"stainless steel\", \"diameter_mm_min\": 8}. See the tool description."},
                    "sort": {"type": "string", "description": SORT_SYNTAX},
                    "mode": {
                        "type": "string",
                        "enum": ["auto", "keyword", "hybrid", "semantic", "identifier"],
                        "description": "How the query is matched. auto (default): identifiers exactly, other text by keywords fused with meaning (embeddings); keyword: words only; semantic: meaning only."
                    },
                    "limit": {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": DEFAULT_LIMIT,
                              "description": "Results to show (1-20)."},
                    "offset": {"type": "integer", "minimum": 0, "maximum": MAX_OFFSET, "default": 0,
                               "description": "Results to skip, for the next page."},
                })),
                "additionalProperties": false,
            }),
        ),
        tool(
            "qanatix_lookup",
            "Read one record",
            "Read one record of the user's catalog in full (name, collection, record type, every \
             data field, description, source, status, timestamps) as YAML. Use it after \
             qanatix_search, with a Record ID from its table, when the Key Data column is not \
             enough."
                .to_owned(),
            json!({
                "type": "object",
                "properties": {
                    "record_id": {"type": "string", "description": "The record's id (a UUID), from qanatix_search."},
                    "entity_id": {"type": "string", "description": "Older name of record_id; give one of the two."},
                },
                "additionalProperties": false,
            }),
        ),
        tool(
            "qanatix_collections",
            "List catalog collections",
            "List the collections of the user's catalog with their record counts, record types, \
             whether a JSON Schema is registered, and their descriptions. Call it first to find \
             which collection to search; query narrows the list to names or descriptions \
             containing it."
                .to_owned(),
            json!({
                "type": "object",
                "properties": {
                    "query": {"type": "string", "description": "Only collections whose name or description contains this text (any case)."},
                    "limit": {"type": "integer", "minimum": 1, "maximum": MAX_COLLECTIONS, "default": DEFAULT_COLLECTIONS,
                              "description": "Most collections to list."},
                },
                "additionalProperties": false,
            }),
        ),
        tool(
            "qanatix_verticals",
            "List catalog verticals",
            "The same list as qanatix_collections in the older words: verticals with their entity \
             counts, entity types and whether a JSON Schema is registered. Takes no arguments."
                .to_owned(),
            json!({"type": "object", "properties": {}, "additionalProperties": false}),
        ),
        tool(
            "qanatix_schema",
            "Describe a collection's fields",
            format!(
                "Describe the fields of a collection's records (optionally of one record type): \
                 each field's name, inferred type, how many sampled records have it and up to 4 \
                 sample values, the registered JSON Schema if there is one, and how to write \
                 filters and sort on those fields. Call it before filtering or sorting with \
                 qanatix_search, so that field names and value formats are right. Fields are \
                 inferred from the {SCHEMA_SAMPLE} most recently updated records."
            ),
            json!({
                "type": "object",
                "properties": merge(collection_properties(), json!({
                    "record_type": {"type": "string", "description": "Only records of this type, e.g. \"bolt\" (see qanatix_collections)."},
                    "entity_type": {"type": "string", "description": "Older name of record_type."},
                })),
                "additionalProperties": false,
            }),
        ),
    ]
});

/// Open's tools: [`TOOLS`] under the `qanatix_open_` names, their descriptions and argument
/// texts pointing at each other by those names.
static OPEN_TOOLS: LazyLock<Vec<Tool>> = LazyLock::new(|| {
    let audience = Audience::Public;
    TOOLS
        .iter()
        .map(|t| {
            let input = serde_json::to_string(t.input_schema.as_ref())
                .ok()
                .and_then(|s| serde_json::from_str(&audience.names(&s)).ok())
                .unwrap_or_else(|| Value::Object((*t.input_schema).clone()));
            let title = t.title.clone().unwrap_or_default();
            let description = audience.names(t.description.as_deref().unwrap_or_default());
            let mut open = tool("", &title, description, input);
            open.name = audience.names(&t.name).into();
            open
        })
        .collect()
});

/// The tools `audience` is served, as `tools/list` announces them.
pub fn list(audience: Audience) -> &'static [Tool] {
    match audience {
        Audience::Tenant => &TOOLS,
        Audience::Public => &OPEN_TOOLS,
    }
}

/// A tool call's arguments, checked against what the tool takes.
struct Args {
    map: Map<String, Value>,
}

impl Args {
    fn new(tool: &Tool, map: Option<Map<String, Value>>) -> Result<Args, String> {
        let map = map.unwrap_or_default();
        let known = tool
            .input_schema
            .get("properties")
            .and_then(Value::as_object);
        for k in map.keys() {
            if !known.is_some_and(|p| p.contains_key(k)) {
                let names: Vec<&String> = known.map(|p| p.keys().collect()).unwrap_or_default();
                return Err(format!(
                    "{} takes no argument '{k}'; its arguments are: {}.",
                    tool.name,
                    if names.is_empty() {
                        "none".to_owned()
                    } else {
                        names
                            .iter()
                            .map(|s| s.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    }
                ));
            }
        }
        Ok(Args { map })
    }

    fn string(&self, key: &str) -> Result<Option<&str>, String> {
        match self.map.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(format!("{key} must be a string.")),
        }
    }

    /// One of two names for the same argument (`collection` / `vertical`), with the words the
    /// caller chose.
    fn either(&self, records: &str, entities: &str) -> Result<Option<(Words, &str)>, String> {
        match (self.string(records)?, self.string(entities)?) {
            (Some(a), Some(b)) if a != b => Err(format!(
                "{records} and {entities} name the same thing; give one of them."
            )),
            (Some(a), _) => Ok(Some((Words::Records, a))),
            (None, Some(b)) => Ok(Some((Words::Entities, b))),
            (None, None) => Ok(None),
        }
    }

    fn integer(&self, key: &str, min: i64, max: i64, default: i64) -> Result<i64, String> {
        match self.map.get(key) {
            None | Some(Value::Null) => Ok(default),
            Some(v) => v
                .as_i64()
                .or_else(|| v.as_f64().filter(|f| f.fract() == 0.0).map(|f| f as i64))
                .filter(|n| (min..=max).contains(n))
                .ok_or_else(|| format!("{key} must be a whole number from {min} to {max}.")),
        }
    }

    fn object(&self, key: &str) -> Result<Option<Map<String, Value>>, String> {
        match self.map.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Object(m)) => Ok(Some(m.clone())),
            Some(_) => Err(format!(
                "{key} must be a JSON object such as {{\"material\": \"steel\"}}."
            )),
        }
    }
}

fn required_collection(args: &Args) -> Result<(Words, String), String> {
    let (words, raw) = args.either("collection", "vertical")?.ok_or_else(|| {
        "collection is required: name the collection to use (qanatix_collections lists them)."
            .to_owned()
    })?;
    let name = crate::api::path::slug(words.collection(), raw).map_err(describe)?;
    Ok((words, name))
}

/// Runs the tool `name`. `Err` only for a call that names no tool of this server.
pub async fn call(
    ctx: &Context<'_>,
    name: &str,
    arguments: Option<Map<String, Value>>,
) -> Result<CallToolResult, ErrorData> {
    let tools = list(ctx.audience);
    let Some(at) = tools.iter().position(|t| t.name == name) else {
        return Err(ErrorData::invalid_params(
            format!(
                "Unknown tool '{name}'. Tools: {}.",
                tools
                    .iter()
                    .map(|t| t.name.as_ref())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            None,
        ));
    };
    let answer = match Args::new(&tools[at], arguments) {
        Err(e) => Err(e),
        Ok(args) => match ctx.count_search() {
            Err(e) => Err(describe(e)),
            // Dispatched by the name `/mcp/` serves the tool under, whatever the audience's.
            Ok(()) => match TOOLS[at].name.as_ref() {
                "qanatix_search" => search_tool(ctx, &args),
                "qanatix_lookup" => lookup_tool(ctx, &args),
                "qanatix_collections" => collections_tool(ctx, &args, Words::Records).await,
                "qanatix_verticals" => collections_tool(ctx, &args, Words::Entities).await,
                _ => schema_tool(ctx, &args),
            },
        },
    };
    // Answers name the other tools by `/mcp/`'s names; the audience's are the ones it has.
    Ok(match answer {
        Ok(text) => CallToolResult::success(vec![ContentBlock::text(ctx.audience.names(&text))]),
        Err(text) => CallToolResult::error(vec![ContentBlock::text(ctx.audience.names(&text))]),
    })
}

fn search_tool(ctx: &Context<'_>, args: &Args) -> Answer {
    let (words, collection) = required_collection(args)?;
    let query = args.string("query")?.map(str::to_owned);
    let body = SearchBody {
        query: query.clone(),
        limit: Some(args.integer("limit", 1, MAX_LIMIT, DEFAULT_LIMIT)?),
        offset: Some(args.integer("offset", 0, MAX_OFFSET, 0)?),
        format: None,
        filters: args.object("filters")?,
        sort: args.string("sort")?.map(str::to_owned),
        rerank: None,
        facets: None,
        mode: args.string("mode")?.map(str::to_owned),
    };
    let fail = |e: ApiError| words.error(describe(e));
    let request = search::validate(
        &ctx.tenant.id,
        ctx.audience.public_only(),
        &collection,
        body,
    )
    .map_err(fail)?;
    let p = &request.params;
    let mut found = search::find(ctx.state, p).map_err(fail)?;
    found
        .hits
        .retain(|(_, e)| ctx.audience.admits(e.status, e.visibility));
    let shown = found.hits.len();
    let total = found.outcome.total.max(p.offset + shown);
    let mut text = format!(
        "Showing {shown} of {total} results in {} '{collection}'",
        words.collection()
    );
    if let Some(q) = &query {
        text.push_str(&format!(" for {}", Value::String(q.clone())));
    }
    if p.offset > 0 {
        text.push_str(&format!(" (from result {})", p.offset + 1));
    }
    text.push_str(".\n");
    match found.outcome.fallback {
        Some("fuzzy") => {
            text.push_str("No exact match: these results match the query with typos allowed.\n")
        }
        Some("relaxed_filters") => text.push_str(
            "No record matched the filters: these results ignore them (check the field names and values with qanatix_schema).\n",
        ),
        _ => {}
    }
    if found.outcome.unknown_vertical {
        text.push_str(&format!(
            "This catalog has no records in {} '{collection}'; qanatix_collections lists the ones it has.\n",
            words.collection()
        ));
        return Ok(text);
    }
    if shown == 0 {
        return Ok(text);
    }
    let rows: Vec<_> = found
        .hits
        .iter()
        .map(|(score, e)| {
            (
                e.id,
                Row {
                    name: &e.name,
                    score: *score,
                    data: &e.vertical_data,
                },
            )
        })
        .collect();
    text.push('\n');
    text.push_str(&format::compact_with_ids(&rows));
    if p.offset + shown < total {
        text.push_str(&format!(
            "\nMore results: call again with offset {}.",
            p.offset + shown
        ));
    }
    text.push_str("\nFull record: qanatix_lookup with a Record ID.");
    Ok(text)
}

/// The whole record as YAML, in the records dialect's view; `None` for an id that is not a
/// record the context admits (malformed, unknown, another tenant's).
pub(super) fn record_yaml(ctx: &Context<'_>, id: &str) -> Result<Option<String>, ApiError> {
    let Ok(id) = uuid::Uuid::parse_str(id) else {
        return Ok(None);
    };
    let Some(entity) = ctx
        .state
        .store
        .entities
        .get_readable(&ctx.tenant.id, id)?
        .filter(|e| ctx.audience.admits(e.status, e.visibility))
    else {
        return Ok(None);
    };
    let view = dialect::record_view(&ctx.state.store, entity)?;
    match serde_json::to_value(view) {
        Ok(Value::Object(fields)) => Ok(Some(format::yaml_document(&fields))),
        Ok(_) => Err(ApiError::Internal("a record view is not an object".into())),
        Err(e) => Err(ApiError::Internal(e.to_string())),
    }
}

fn lookup_tool(ctx: &Context<'_>, args: &Args) -> Answer {
    let (_, id) = args
        .either("record_id", "entity_id")?
        .ok_or("record_id is required: the Record ID column of qanatix_search holds it.")?;
    match record_yaml(ctx, id).map_err(describe)? {
        Some(yaml) => Ok(yaml),
        None => Err(format!(
            "No record with id '{id}' in this catalog. Record ids are UUIDs from the Record ID \
             column of qanatix_search; search again to find the record."
        )),
    }
}

/// One collection's line of the collections table.
struct Listed {
    name: String,
    summary: VerticalSummary,
    description: Option<String>,
}

async fn collections_tool(ctx: &Context<'_>, args: &Args, words: Words) -> Answer {
    let filter = args.string("query")?.map(str::to_lowercase);
    let limit = args.integer("limit", 1, MAX_COLLECTIONS, DEFAULT_COLLECTIONS)? as usize;
    let store = Arc::clone(&ctx.state.store);
    let tenant = ctx.tenant.id.clone();
    let audience = ctx.audience;
    // Counts and schemas, like `GET /collections`: schemas are read from the store, on the blocking pool.
    let listed = web::block(move || -> Result<Vec<Listed>, ApiError> {
        let mut summaries =
            verticals::summaries(&store, &tenant, |h| audience.admits(h.status, h.visibility))?;
        let mut metas: BTreeMap<String, _> = store.collections.list(&tenant)?.into_iter().collect();
        // A collection with nothing the audience may see is listed only to the tenant itself.
        if audience == Audience::Tenant {
            for name in metas.keys() {
                summaries.entry(name.clone()).or_default();
            }
        }
        Ok(summaries
            .into_iter()
            .map(|(name, summary)| Listed {
                description: metas.remove(&name).and_then(|m| m.description),
                name,
                summary,
            })
            .collect())
    })
    .await
    .map_err(|e| describe(ApiError::Internal(e.to_string())))?
    .map_err(describe)?;
    let all = listed.len();
    let matching: Vec<&Listed> = listed
        .iter()
        .filter(|l| {
            filter.as_deref().is_none_or(|f| {
                l.name.contains(f)
                    || l.description
                        .as_deref()
                        .is_some_and(|d| d.to_lowercase().contains(f))
            })
        })
        .collect();
    let (plural, count_col, types_col) = match words {
        Words::Records => ("collections", "Records", "Record types"),
        Words::Entities => ("verticals", "Entities", "Entity types"),
    };
    if all == 0 {
        return Ok(format!(
            "This catalog has no {plural} yet: nothing has been stored."
        ));
    }
    let shown = matching.len().min(limit);
    let mut text = format!("Showing {shown} of {} {plural}", matching.len());
    if filter.is_some() {
        text.push_str(&format!(" matching the query ({all} in all)"));
    }
    text.push_str(".\n\n");
    text.push_str(&format!(
        "{} | {count_col} | {types_col} | Schema | Description\n",
        match words {
            Words::Records => "Collection",
            Words::Entities => "Vertical",
        }
    ));
    text.push_str("---|---|---|---|---\n");
    for l in matching.iter().take(limit) {
        let types: Vec<&str> = l.summary.entity_types.iter().map(String::as_str).collect();
        text.push_str(&format!(
            "{} | {} | {} | {} | {}\n",
            l.name,
            l.summary.entity_count,
            types.join(", "),
            if l.summary.has_schema { "yes" } else { "no" },
            l.description
                .as_deref()
                .unwrap_or("")
                .replace('|', "\\|")
                .replace(['\n', '\r'], " ")
        ));
    }
    text.push_str("\nNext: qanatix_schema for a collection's fields, qanatix_search to search it.");
    Ok(text)
}

/// The most recently updated active records of a collection (of one type, if given): the
/// sample fields are inferred from. Uses the search index like any filter-only search.
pub(super) fn sample(
    ctx: &Context<'_>,
    collection: &str,
    record_type: Option<&str>,
) -> Result<Vec<Entity>, ApiError> {
    let tenant = &ctx.tenant.id;
    let ids = match record_type {
        None => ctx
            .state
            .search
            .recent_ids(
                tenant,
                collection,
                ctx.audience.public_only(),
                SCHEMA_SAMPLE,
            )
            .map_err(|e| ApiError::Internal(e.to_string()))?,
        Some(t) => {
            let filters = parse_filters(&Map::from_iter([(
                "entity_type".to_owned(),
                Value::String(t.to_owned()),
            )]))
            .map_err(ApiError::Validation)?;
            let p = SearchParams {
                tenant: tenant.clone(),
                vertical: collection.to_owned(),
                query: None,
                filters,
                sort: Some(Sort {
                    field: SortField::UpdatedAt,
                    descending: true,
                }),
                limit: SCHEMA_SAMPLE,
                offset: 0,
                public_only: ctx.audience.public_only(),
                facets: Vec::new(),
                mode: Default::default(),
            };
            return Ok(search::find(ctx.state, &p)?
                .hits
                .into_iter()
                .map(|(_, e)| e)
                .filter(|e| ctx.audience.admits(e.status, e.visibility))
                .collect());
        }
    };
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        if let Some(e) = ctx.state.store.entities.get_readable(tenant, id)? {
            if e.status == EntityStatus::Active
                && e.vertical == collection
                && ctx.audience.admits(e.status, e.visibility)
            {
                out.push(e);
            }
        }
    }
    Ok(out)
}

fn sample_text(v: &Value) -> String {
    let s = v.to_string();
    s.replace('|', "\\|")
}

fn schema_tool(ctx: &Context<'_>, args: &Args) -> Answer {
    let (words, collection) = required_collection(args)?;
    let record_type = match args.either("record_type", "entity_type")? {
        None => None,
        Some((w, raw)) => Some(
            crate::api::path::slug(
                match w {
                    Words::Records => "record_type",
                    Words::Entities => "entity_type",
                },
                raw,
            )
            .map_err(describe)?,
        ),
    };
    let fail = |e: ApiError| words.error(describe(e));
    let records = sample(ctx, &collection, record_type.as_deref()).map_err(fail)?;
    let registered = match &record_type {
        // Registered schemas say what the tenant keeps; Open shows them beside public records only.
        _ if records.is_empty() && ctx.audience != Audience::Tenant => Vec::new(),
        Some(t) => ctx
            .state
            .store
            .schemas
            .latest(&ctx.tenant.id, &collection, t)
            .map_err(|e| fail(e.into()))?
            .into_iter()
            .collect(),
        None => ctx
            .state
            .store
            .schemas
            .list_latest(&ctx.tenant.id, Some(&collection))
            .map_err(|e| fail(e.into()))?,
    };
    let what = match &record_type {
        Some(t) => format!(
            "{} '{collection}', {} '{t}'",
            words.collection(),
            match words {
                Words::Records => "record type",
                Words::Entities => "entity type",
            }
        ),
        None => format!("{} '{collection}'", words.collection()),
    };
    if records.is_empty() && registered.is_empty() {
        return Err(format!(
            "No active records and no registered schema in {what}; qanatix_collections lists the collections and record types this catalog has."
        ));
    }
    let profile = Profile::of(records.iter().map(|e| &e.vertical_data));
    let mut text = format!(
        "Fields of {what}, inferred from the {} most recently updated records.\n",
        profile.records
    );
    text.push_str(
        "Every record also has: name (text, searched by query), description, record type \
         (filter key entity_type), source_type.\n\n",
    );
    text.push_str("Field | Type | In records | Sample values\n---|---|---|---\n");
    for (name, f) in &profile.fields {
        let samples: Vec<String> = f.samples.iter().map(sample_text).collect();
        text.push_str(&format!(
            "{name} | {} | {}/{} | {}\n",
            f.type_name(),
            f.present,
            profile.records,
            samples.join(", ")
        ));
    }
    if profile.fields.is_empty() {
        text.push_str("(the sampled records hold no data fields)\n");
    }
    text.push('\n');
    if registered.is_empty() {
        text.push_str("No JSON Schema is registered for these records.\n");
    }
    for r in &registered {
        text.push_str(&format!(
            "Registered JSON Schema for record type '{}' (version {}, resource schema://{}/{}): {}\n",
            r.entity_type, r.version, r.vertical, r.entity_type, r.schema
        ));
    }
    text.push_str(&format!(
        "\n{FILTER_SYNTAX}\n{}\nSort: {SORT_SYNTAX}",
        filter_examples(&profile)
    ));
    Ok(text)
}

/// Filters written with this collection's own fields, so the model sees its names in use.
fn filter_examples(p: &Profile) -> String {
    let mut parts: Vec<String> = Vec::new();
    if let Some((k, f)) = p.fields.iter().find(|(_, f)| f.type_name() == "string") {
        if let Some(v) = f.samples.first() {
            parts.push(format!("\"{k}\": {v}"));
        }
    }
    if let Some((k, f)) = p
        .fields
        .iter()
        .find(|(_, f)| matches!(f.type_name().as_str(), "number" | "integer"))
    {
        if let Some(v) = f.samples.first() {
            parts.push(format!("\"{k}_min\": {v}"));
        }
    }
    if parts.is_empty() {
        return String::new();
    }
    format!("With this collection's fields: {{{}}}\n", parts.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_tool_is_named_in_names_and_open_tools_mention_only_open_names() {
        let tenant: Vec<&str> = list(Audience::Tenant)
            .iter()
            .map(|t| t.name.as_ref())
            .collect();
        assert_eq!(tenant, NAMES);
        for (t, open) in list(Audience::Tenant).iter().zip(list(Audience::Public)) {
            assert_eq!(open.name, Audience::Public.names(&t.name));
            assert!(open.name.starts_with("qanatix_open_"), "{}", open.name);
            assert_eq!(open.title, t.title);
            let text = format!("{:?} {:?}", open.description, open.input_schema);
            for name in NAMES {
                assert!(!text.contains(name), "{} mentions {name}", open.name);
            }
            assert_eq!(
                open.input_schema
                    .get("properties")
                    .map(|p| p.as_object().map(|o| o.len())),
                t.input_schema
                    .get("properties")
                    .map(|p| p.as_object().map(|o| o.len()))
            );
        }
    }
}
