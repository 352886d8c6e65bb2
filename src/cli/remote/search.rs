//! `qanatix search QUERY [--collection C] [--filter k=v ...]`: `POST /search/{collection}`
//! (API.md §6). Without `--collection` it searches every collection the key can see
//! (`GET /collections`) and merges the results by score.

use clap::{Args, ValueEnum};
use serde_json::{json, Map, Value};

use super::client::{Body, Client};
use super::outcome::{finish, Failure};
use super::table::{self, Table};
use super::{Remote, DEFAULT_TIMEOUT};

#[derive(Debug, Args)]
#[command(after_help = super::EXIT_CODES_HELP)]
pub struct SearchArgs {
    /// What to search for: words, a part number, a standard. An empty query lists records,
    /// newest first.
    pub query: String,

    /// Collection (vertical) to search; every collection when omitted.
    #[arg(long, short = 'c')]
    pub collection: Option<String>,

    /// Filter on a data field as KEY=VALUE; repeat for AND. Suffixes: KEY_min=, KEY_max=,
    /// KEY_gt=, KEY_lt= (numbers), KEY_in=a,b (any of); a plain KEY=a,b is any of too.
    #[arg(long = "filter", short = 'f', value_name = "KEY=VALUE", value_parser = parse_filter)]
    pub filters: Vec<(String, String)>,

    /// Most results to show.
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..=100))]
    pub limit: u32,

    /// Output: a table for people, or JSON for scripts.
    #[arg(long, value_enum, default_value = "table")]
    pub format: Output,

    /// Same as --format json.
    #[arg(long, conflicts_with = "format")]
    pub json: bool,

    #[command(flatten)]
    pub remote: Remote,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Output {
    Table,
    Json,
}

fn parse_filter(raw: &str) -> Result<(String, String), String> {
    match raw.split_once('=') {
        Some((k, v)) if !k.trim().is_empty() => Ok((k.trim().to_owned(), v.to_owned())),
        _ => Err(format!("'{raw}' is not KEY=VALUE")),
    }
}

pub fn run_search(args: SearchArgs) -> std::process::ExitCode {
    finish("search", search(&args))
}

fn search(args: &SearchArgs) -> Result<u8, Failure> {
    let client = Client::new(&args.remote, DEFAULT_TIMEOUT)?;
    let mut filters = Map::new();
    for (k, v) in &args.filters {
        // Values go as strings: the server reads numbers, booleans and lists out of them.
        if filters
            .insert(k.clone(), Value::String(v.clone()))
            .is_some()
        {
            return Err(Failure::usage(format!(
                "--filter {k} is given twice; use {k}=a,b for any of several values"
            )));
        }
    }
    let body = json!({"query": args.query, "limit": args.limit, "filters": filters});
    let as_json = args.json || args.format == Output::Json;

    let answer = match &args.collection {
        Some(c) => client.json("POST", &client.api(&["search", c]), Body::Json(&body))?,
        None => search_everywhere(&client, &body, args.limit as usize)?,
    };
    if as_json {
        println!("{answer:#}");
        return Ok(0);
    }
    let results = answer["results"].as_array().map_or(&[][..], Vec::as_slice);
    if results.is_empty() {
        println!("No results.");
        return Ok(0);
    }
    let mut t = Table::new(&["SCORE", "NAME", "COLLECTION", "TYPE", "ID", "DATA"]);
    for r in results {
        let score = r["score"]
            .as_f64()
            .map_or_else(|| "-".into(), |s| format!("{s:.3}"));
        t.row(vec![
            score,
            table::text(&r["name"]),
            table::text(&r["collection"]),
            table::text(&r["record_type"]),
            table::text(&r["record_id"]),
            data_summary(&r["collection_data"]),
        ]);
    }
    print!("{}", t.render());
    if let Some(total) = answer["metadata"]["total_estimate"].as_u64() {
        println!("{} of about {total} results", results.len());
    }
    Ok(0)
}

/// The first few `key=value` pairs of a record's data.
fn data_summary(data: &Value) -> String {
    data.as_object()
        .map(|m| {
            m.iter()
                .take(4)
                .map(|(k, v)| format!("{k}={}", table::text(v)))
                .collect::<Vec<_>>()
                .join(" ")
        })
        .unwrap_or_default()
}

/// Searches each collection the key can see and keeps the best `limit` results by score.
fn search_everywhere(client: &Client, body: &Value, limit: usize) -> Result<Value, Failure> {
    let listed = client.get(&client.api(&["collections"]))?;
    let names: Vec<&str> = listed["collections"]
        .as_array()
        .map_or(&[][..], Vec::as_slice)
        .iter()
        .filter_map(|c| c["collection"].as_str())
        .collect();
    let mut results = Vec::new();
    for name in &names {
        let answer = client.json("POST", &client.api(&["search", name]), Body::Json(body))?;
        if let Some(found) = answer["results"].as_array() {
            results.extend(found.iter().cloned());
        }
    }
    let score = |r: &Value| r["score"].as_f64().unwrap_or(0.0);
    results.sort_by(|a, b| score(b).total_cmp(&score(a)));
    results.truncate(limit);
    Ok(json!({"results": results, "searched_collections": names}))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_are_key_value() {
        assert_eq!(
            parse_filter("price_max=9.5").unwrap(),
            ("price_max".into(), "9.5".into())
        );
        assert_eq!(
            parse_filter("note=a=b").unwrap(),
            ("note".into(), "a=b".into())
        );
        assert!(parse_filter("novalue").is_err());
        assert!(parse_filter("=x").is_err());
    }

    #[test]
    fn data_summaries_stay_short() {
        let d = json!({"a": 1, "b": "x", "c": [1, 2], "d": null, "e": 5});
        assert_eq!(data_summary(&d), "a=1 b=x c=1,2 d=-");
    }
}
