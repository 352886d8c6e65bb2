//! Search relevance evaluation over a judged query set (run by `scripts/eval-relevance`, which
//! starts a fresh server).
//!
//! 1. generates the seeded catalog named in the query file (default 20,000 parts, seed 42),
//! 2. computes each query's relevant set from the generated records and the query's predicate
//!    (never from the engine's answers),
//! 3. loads the catalog through `POST /ingest/parts/{type}/batch` and waits until it is indexed,
//! 4. runs every query with `limit` 10 and prints, per class and overall, P@10, MRR,
//!    identifier@1 and the zero-result rate as a markdown table; per-query details go to a JSON
//!    file (default `bench-results/relevance-<label>.json`, `…-runN.json` with `--run N`).
//!
//! `--summarize N` combines runs 1..=N of a label (each on a fresh server, so with a different
//! index layout) into mean (min–max) per class.
//! `--check` does only steps 1–2 and prints each query's relevant-set size: what a case writer
//! runs before adding a case. The query file format is described in tests/relevance/README.md.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use clap::Parser;
use qanatix::sample_catalog;
use serde::Deserialize;
use serde_json::{json, Map, Value};

const VERTICAL: &str = "parts";
const LIMIT: usize = 10;

/// The query classes in report order: (name in the query file, label, identifier class).
/// Identifier classes name one record (or records sharing one identifier), so identifier@1 is
/// reported for them.
const CLASSES: [(&str, &str, bool); 11] = [
    ("part_number", "exact part number", true),
    (
        "part_number_variant",
        "part number, formatting variant",
        true,
    ),
    ("ean", "EAN", true),
    ("standard_size", "standard + size", false),
    ("standard_size_kind", "standard + size + kind", false),
    ("kind_material_size", "kind + material + size", false),
    ("brand_designation", "brand + designation", false),
    ("misspelled", "misspelled (1–2 edits)", false),
    ("natural_language", "natural language", false),
    ("paraphrase", "paraphrase (no shared words)", false),
    ("filtered", "filtered + text", false),
];

#[derive(Parser)]
#[command(about = "Measure search relevance against the judged query set")]
struct Args {
    /// Server base URL.
    #[arg(long, env = "BASE", default_value = "http://127.0.0.1:18081")]
    base: String,
    /// Bearer key with the `search` and `ingest` scopes.
    #[arg(long, env = "KEY", default_value = "")]
    key: String,
    /// The judged query set.
    #[arg(long, default_value = "tests/relevance/queries.json")]
    queries: PathBuf,
    /// Catalog size (default: the query file's).
    #[arg(long)]
    count: Option<u64>,
    /// Catalog seed (default: the query file's).
    #[arg(long)]
    seed: Option<u64>,
    /// Name of this run, used in the output file name (e.g. "before", "after").
    #[arg(long, default_value = "current")]
    label: String,
    /// JSON output (default: bench-results/relevance-<label>.json).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Do not load the catalog: query what an earlier run loaded into the same server.
    #[arg(long)]
    skip_load: bool,
    /// Only validate the query file against the generated catalog; no server needed.
    #[arg(long)]
    check: bool,
    /// Also print every query that scored below P@10 = 1, with its top results.
    #[arg(long)]
    details: bool,
    /// This is run N of a series (default output: bench-results/relevance-<label>-runN.json).
    #[arg(long)]
    run: Option<u32>,
    /// No server: combine runs 1..=N of this label into mean (min–max) per class, written to
    /// bench-results/relevance-<label>.json.
    #[arg(long)]
    summarize: Option<u32>,
}

fn output_path(label: &str, run: Option<u32>) -> PathBuf {
    PathBuf::from(match run {
        Some(n) => format!("bench-results/relevance-{label}-run{n}.json"),
        None => format!("bench-results/relevance-{label}.json"),
    })
}

const METRICS: [&str; 4] = ["p_at_10", "mrr", "identifier_at_1", "zero_result_rate"];

/// Ties in a ranking are broken by index layout, which differs from load to load, so one run
/// can be lucky; the series shows the spread.
fn summarize(args: &Args, runs: u32) -> Result<(), String> {
    let mut reports = Vec::new();
    for n in 1..=runs {
        let path = output_path(&args.label, Some(n));
        let text =
            std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        let v: Value =
            serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
        reports.push(v);
    }
    let first = reports
        .first()
        .ok_or("--summarize needs at least one run")?;
    let stats = |values: Vec<f64>| -> Value {
        if values.is_empty() {
            return Value::Null;
        }
        let mean = values.iter().sum::<f64>() / values.len() as f64;
        let min = values.iter().copied().fold(f64::INFINITY, f64::min);
        let max = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        json!({"mean": mean, "min": min, "max": max})
    };
    let cell = |v: &Value| match (v["mean"].as_f64(), v["min"].as_f64(), v["max"].as_f64()) {
        (Some(mean), Some(min), Some(max)) if runs > 1 && max > min => {
            format!("{mean:.3} ({min:.3}–{max:.3})")
        }
        (Some(mean), ..) => format!("{mean:.3}"),
        _ => "—".into(),
    };
    println!(
        "Search relevance, {runs} run(s), each on a fresh server: mean (min–max). \
         {} queries, catalog of {} parts (seed {}), limit {LIMIT}, commit {}, {}\n",
        first["overall"]["queries"],
        first["catalog"]["count"],
        first["catalog"]["seed"],
        first["commit"].as_str().unwrap_or("?"),
        first["date"].as_str().unwrap_or("?"),
    );
    println!("| class | queries | P@10 | MRR | identifier@1 | zero-result rate |");
    println!("|---|---|---|---|---|---|");
    let mut classes = Vec::new();
    let rows = CLASSES
        .iter()
        .map(|(name, label, _)| (Some(*name), *label))
        .chain([(None, "**overall**")]);
    for (name, label) in rows {
        let of = |r: &Value| -> Value {
            match name {
                Some(n) => r["classes"]
                    .as_array()
                    .and_then(|a| a.iter().find(|c| c["class"] == n))
                    .cloned()
                    .unwrap_or(Value::Null),
                None => r["overall"].clone(),
            }
        };
        let queries = of(first)["queries"].clone();
        if queries.is_null() {
            continue;
        }
        let mut entry = json!({"class": name.unwrap_or("overall"), "queries": queries});
        let mut cells = Vec::new();
        for m in METRICS {
            let st = stats(reports.iter().filter_map(|r| of(r)[m].as_f64()).collect());
            cells.push(cell(&st));
            entry[m] = st;
        }
        println!("| {label} | {queries} | {} |", cells.join(" | "));
        classes.push(entry);
    }
    println!(
        "\nP@10 is R-capped: a query with fewer than 10 relevant records is scored P@|relevant|. \
         identifier@1: the first result carries the queried identifier."
    );
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| output_path(&args.label, None));
    let summary = json!({
        "label": args.label, "runs": runs, "commit": first["commit"], "date": first["date"],
        "catalog": first["catalog"], "limit": LIMIT, "classes": classes,
        "run_files": (1..=runs).map(|n| output_path(&args.label, Some(n))).collect::<Vec<_>>(),
    });
    let text = serde_json::to_string_pretty(&summary).map_err(|e| e.to_string())?;
    std::fs::write(&out, text).map_err(|e| format!("{}: {e}", out.display()))?;
    eprintln!("wrote {}", out.display());
    Ok(())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct QueryFile {
    catalog: CatalogSpec,
    queries: Vec<Case>,
}

#[derive(Deserialize, Clone, Copy)]
#[serde(deny_unknown_fields)]
struct CatalogSpec {
    seed: u64,
    count: u64,
    batch_size: usize,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    id: String,
    class: String,
    query: String,
    #[serde(default)]
    filters: Option<Map<String, Value>>,
    #[serde(default)]
    pick: Option<Pick>,
    relevant: Map<String, Value>,
}

/// The `nth` record (modulo that type's count) of `entity_type`, in generation order.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Pick {
    entity_type: String,
    nth: usize,
}

/// One generated record: what a predicate can look at.
struct Record {
    entity_type: &'static str,
    name: String,
    data: Map<String, Value>,
}

impl Record {
    fn ean(&self) -> &str {
        self.data.get("ean").and_then(Value::as_str).unwrap_or("")
    }

    fn field(&self, key: &str) -> Option<Value> {
        match key {
            "entity_type" => Some(Value::String(self.entity_type.to_owned())),
            "name" => Some(Value::String(self.name.clone())),
            _ => self.data.get(key).cloned(),
        }
    }
}

struct Catalog {
    batches: Vec<(&'static str, Vec<Value>)>,
    records: Vec<Record>,
}

/// Generates the catalog. Records are identified by their EAN (results carry it in
/// `vertical_data`, and the generator's 10 random digits make a collision in 20,000 records
/// very unlikely); a collision is refused rather than mis-scored.
fn catalog(spec: CatalogSpec) -> Result<Catalog, String> {
    let batches: Vec<_> = sample_catalog::batches(spec.seed, spec.count, spec.batch_size).collect();
    let mut records = Vec::new();
    let mut eans = HashSet::new();
    for (entity_type, batch) in &batches {
        for r in batch {
            let data = r["vertical_data"].as_object().cloned().unwrap_or_default();
            let record = Record {
                entity_type,
                name: r["name"].as_str().unwrap_or_default().to_owned(),
                data,
            };
            if !eans.insert(record.ean().to_owned()) {
                return Err(format!(
                    "two generated records share EAN {}: choose another seed",
                    record.ean()
                ));
            }
            records.push(record);
        }
    }
    Ok(Catalog { batches, records })
}

/// A case with placeholders filled and its relevant set computed.
struct Resolved<'a> {
    case: &'a Case,
    query: String,
    predicate: Map<String, Value>,
    relevant: HashSet<String>,
}

/// Fills `{field}` and `{field|transform|…}` from `record`. Transforms: `lower`, `upper`,
/// `spaces` (hyphens → spaces), `slashes` (hyphens → slashes), `nosep` (hyphens, spaces,
/// slashes and underscores removed).
fn fill(template: &str, record: Option<&Record>) -> Result<String, String> {
    let mut out = String::new();
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let close = rest[open..]
            .find('}')
            .ok_or_else(|| format!("unclosed '{{' in {template:?}"))?
            + open;
        let mut parts = rest[open + 1..close].split('|');
        let field = parts.next().unwrap_or_default().trim();
        let record =
            record.ok_or_else(|| format!("{template:?} has a placeholder but no \"pick\""))?;
        let mut value = match record.field(field) {
            Some(Value::String(s)) => s,
            Some(v @ (Value::Number(_) | Value::Bool(_))) => v.to_string(),
            _ => return Err(format!("the picked record has no scalar field {field:?}")),
        };
        for transform in parts {
            value = match transform.trim() {
                "lower" => value.to_lowercase(),
                "upper" => value.to_uppercase(),
                "spaces" => value.replace('-', " "),
                "slashes" => value.replace('-', "/"),
                "nosep" => value.replace(['-', ' ', '/', '_'], ""),
                other => return Err(format!("unknown transform {other:?} in {template:?}")),
            };
        }
        out.push_str(&value);
        rest = &rest[close + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

fn fill_value(v: &Value, record: Option<&Record>) -> Result<Value, String> {
    Ok(match v {
        Value::String(s) => Value::String(fill(s, record)?),
        Value::Array(a) => Value::Array(
            a.iter()
                .map(|x| fill_value(x, record))
                .collect::<Result<_, _>>()?,
        ),
        Value::Object(o) => Value::Object(
            o.iter()
                .map(|(k, x)| Ok::<_, String>((k.clone(), fill_value(x, record)?)))
                .collect::<Result<_, _>>()?,
        ),
        other => other.clone(),
    })
}

/// Scalar equality as a buyer means it: strings ignore case, numbers compare by value.
fn scalar_eq(actual: &Value, expected: &Value) -> bool {
    match (actual, expected) {
        (Value::String(a), Value::String(b)) => a.to_lowercase() == b.to_lowercase(),
        (Value::Number(a), Value::Number(b)) => a.as_f64() == b.as_f64(),
        (Value::Bool(a), Value::Bool(b)) => a == b,
        _ => false,
    }
}

/// Whether `actual` satisfies one predicate term: a scalar (equals), an array (any of), or an
/// object of operators `prefix` (strings, ignoring case), `min` / `max` (numbers, inclusive).
fn term_matches(actual: &Value, expected: &Value) -> Result<bool, String> {
    match expected {
        Value::Array(any) => {
            for e in any {
                if term_matches(actual, e)? {
                    return Ok(true);
                }
            }
            Ok(false)
        }
        Value::Object(ops) => {
            let mut ok = true;
            for (op, arg) in ops {
                ok &= match (op.as_str(), arg) {
                    ("prefix", Value::String(p)) => actual
                        .as_str()
                        .is_some_and(|a| a.to_lowercase().starts_with(&p.to_lowercase())),
                    ("min", Value::Number(n)) => {
                        actual.as_f64().zip(n.as_f64()).is_some_and(|(a, n)| a >= n)
                    }
                    ("max", Value::Number(n)) => {
                        actual.as_f64().zip(n.as_f64()).is_some_and(|(a, n)| a <= n)
                    }
                    _ => return Err(format!("unknown predicate operator {op:?}: {arg}")),
                };
            }
            Ok(ok)
        }
        Value::Null => Err("a predicate value cannot be null".into()),
        scalar => Ok(scalar_eq(actual, scalar)),
    }
}

/// Every predicate key holds for the record; a key the record lacks fails.
fn matches(predicate: &Map<String, Value>, record: &Record) -> Result<bool, String> {
    for (key, expected) in predicate {
        let Some(actual) = record.field(key) else {
            return Ok(false);
        };
        if !term_matches(&actual, expected)? {
            return Ok(false);
        }
    }
    Ok(true)
}

fn class_of(name: &str) -> Option<(&'static str, &'static str, bool)> {
    CLASSES.iter().copied().find(|(n, _, _)| *n == name)
}

/// Resolves every case against the catalog: placeholders, predicate, relevant set.
fn resolve<'a>(cases: &'a [Case], catalog: &Catalog) -> Result<Vec<Resolved<'a>>, String> {
    let mut by_type: HashMap<&str, Vec<&Record>> = HashMap::new();
    for r in &catalog.records {
        by_type.entry(r.entity_type).or_default().push(r);
    }
    let mut ids = HashSet::new();
    let mut out = Vec::new();
    for case in cases {
        let at = |e: String| format!("query {:?}: {e}", case.id);
        if !ids.insert(case.id.as_str()) {
            return Err(at("duplicate id".into()));
        }
        if class_of(&case.class).is_none() {
            return Err(at(format!("unknown class {:?}", case.class)));
        }
        let picked = match &case.pick {
            Some(p) => {
                let of_type = by_type
                    .get(p.entity_type.as_str())
                    .filter(|v| !v.is_empty())
                    .ok_or_else(|| at(format!("no records of type {:?}", p.entity_type)))?;
                Some(of_type[p.nth % of_type.len()])
            }
            None => None,
        };
        let query = fill(&case.query, picked).map_err(at)?;
        if query.trim().is_empty() {
            return Err(at("empty query".into()));
        }
        let predicate = match fill_value(&Value::Object(case.relevant.clone()), picked) {
            Ok(Value::Object(p)) => p,
            Ok(_) => return Err(at("the predicate must be an object".into())),
            Err(e) => return Err(at(e)),
        };
        if predicate.is_empty() {
            return Err(at("empty predicate".into()));
        }
        let mut relevant = HashSet::new();
        for r in &catalog.records {
            if matches(&predicate, r).map_err(at)? {
                relevant.insert(r.ean().to_owned());
            }
        }
        if let Some(p) = picked {
            if !relevant.contains(p.ean()) {
                return Err(at("the picked record does not satisfy the predicate".into()));
            }
        }
        out.push(Resolved {
            case,
            query,
            predicate,
            relevant,
        });
    }
    Ok(out)
}

/// Scores of one query against its relevant set, from the EANs of the results in rank order.
#[derive(Debug, PartialEq)]
struct Score {
    /// Precision at min(10, |relevant|): with fewer than 10 relevant records a perfect ranking
    /// would otherwise score below 1.
    precision: f64,
    reciprocal_rank: f64,
    top_is_relevant: bool,
    zero_results: bool,
}

fn score(results: &[String], relevant: &HashSet<String>) -> Score {
    let k = LIMIT.min(relevant.len()).max(1);
    let hits = results
        .iter()
        .take(k)
        .filter(|e| relevant.contains(*e))
        .count();
    let first = results
        .iter()
        .take(LIMIT)
        .position(|e| relevant.contains(e));
    Score {
        precision: hits as f64 / k as f64,
        reciprocal_rank: first.map_or(0.0, |i| 1.0 / (i + 1) as f64),
        top_is_relevant: first == Some(0),
        zero_results: results.is_empty(),
    }
}

#[derive(Default, Clone, Copy)]
struct Totals {
    n: usize,
    precision: f64,
    rr: f64,
    id_n: usize,
    id_hits: usize,
    zero: usize,
}

impl Totals {
    fn add(&mut self, s: &Score, identifier: bool) {
        self.n += 1;
        self.precision += s.precision;
        self.rr += s.reciprocal_rank;
        self.zero += usize::from(s.zero_results);
        if identifier {
            self.id_n += 1;
            self.id_hits += usize::from(s.top_is_relevant);
        }
    }

    fn json(&self) -> Value {
        let n = self.n.max(1) as f64;
        json!({
            "queries": self.n,
            "p_at_10": self.precision / n,
            "mrr": self.rr / n,
            "identifier_at_1": (self.id_n > 0).then(|| self.id_hits as f64 / self.id_n as f64),
            "zero_result_rate": self.zero as f64 / n,
        })
    }

    fn row(&self, label: &str) -> String {
        let n = self.n.max(1) as f64;
        let id = if self.id_n > 0 {
            format!(
                "{:.3} ({}/{})",
                self.id_hits as f64 / self.id_n as f64,
                self.id_hits,
                self.id_n
            )
        } else {
            "—".into()
        };
        format!(
            "| {label} | {} | {:.3} | {:.3} | {id} | {:.3} |",
            self.n,
            self.precision / n,
            self.rr / n,
            self.zero as f64 / n
        )
    }
}

fn agent() -> ureq::Agent {
    ureq::AgentBuilder::new()
        .timeout(Duration::from_secs(120))
        .build()
}

fn post(agent: &ureq::Agent, url: &str, key: &str, body: &Value) -> Result<Value, String> {
    match agent
        .post(url)
        .set("Authorization", &format!("Bearer {key}"))
        .send_json(body)
    {
        Ok(r) => r.into_json::<Value>().map_err(|e| e.to_string()),
        Err(ureq::Error::Status(code, r)) => Err(format!(
            "{url}: {code}: {}",
            r.into_string().unwrap_or_default()
        )),
        Err(e) => Err(format!("{url}: {e}")),
    }
}

fn load(args: &Args, catalog: &Catalog) -> Result<(), String> {
    let a = agent();
    let started = Instant::now();
    let mut accepted = 0u64;
    for (entity_type, records) in &catalog.batches {
        let url = format!("{}/api/v1/ingest/{VERTICAL}/{entity_type}/batch", args.base);
        let v = post(&a, &url, &args.key, &json!({ "records": records }))?;
        accepted += v["accepted"].as_u64().unwrap_or(0);
    }
    let expected = catalog.records.len() as u64;
    eprintln!(
        "loaded {accepted} records in {:.1} s; waiting until indexed...",
        started.elapsed().as_secs_f64()
    );
    let url = format!("{}/api/v1/search/{VERTICAL}", args.base);
    let all = json!({"filters": {"entity_type_in": sample_catalog::ENTITY_TYPES}, "limit": 1});
    loop {
        let total = post(&a, &url, &args.key, &all)?["metadata"]["total_estimate"]
            .as_u64()
            .unwrap_or(0);
        if total >= expected {
            eprintln!(
                "all {total} searchable after {:.1} s",
                started.elapsed().as_secs_f64()
            );
            return Ok(());
        }
        if started.elapsed() > Duration::from_secs(600) {
            return Err(format!("only {total} of {expected} searchable after 600 s"));
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn git_commit() -> String {
    let run = |args: &[&str]| {
        std::process::Command::new("git")
            .args(args)
            .output()
            .ok()
            .filter(|o| o.status.success())
    };
    let Some(head) = run(&["rev-parse", "--short", "HEAD"]) else {
        return "unknown".into();
    };
    let mut s = String::from_utf8_lossy(&head.stdout).trim().to_owned();
    if run(&["diff", "--quiet", "HEAD"]).is_none() {
        s.push_str("-dirty");
    }
    s
}

fn run(args: Args) -> Result<(), String> {
    if let Some(runs) = args.summarize {
        return summarize(&args, runs);
    }
    let text = std::fs::read_to_string(&args.queries)
        .map_err(|e| format!("{}: {e}", args.queries.display()))?;
    let file: QueryFile =
        serde_json::from_str(&text).map_err(|e| format!("{}: {e}", args.queries.display()))?;
    let spec = CatalogSpec {
        seed: args.seed.unwrap_or(file.catalog.seed),
        count: args.count.unwrap_or(file.catalog.count),
        batch_size: file.catalog.batch_size,
    };
    let catalog = catalog(spec)?;
    let cases = resolve(&file.queries, &catalog)?;
    let empty: Vec<_> = cases.iter().filter(|c| c.relevant.is_empty()).collect();

    if args.check {
        for c in &cases {
            println!("{:>6}  {:<24} {}", c.relevant.len(), c.case.class, c.query);
        }
        println!(
            "{} queries; {} with no relevant record",
            cases.len(),
            empty.len()
        );
        return if empty.is_empty() {
            Ok(())
        } else {
            Err(format!(
                "no relevant record: {}",
                empty
                    .iter()
                    .map(|c| c.case.id.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        };
    }
    if !empty.is_empty() {
        return Err(format!(
            "{} queries have no relevant record in this catalog (run with --check)",
            empty.len()
        ));
    }

    if !args.skip_load {
        load(&args, &catalog)?;
    }

    let a = agent();
    let url = format!("{}/api/v1/search/{VERTICAL}", args.base);
    let mut per_class: BTreeMap<&str, Totals> = BTreeMap::new();
    let mut overall = Totals::default();
    let mut rows = Vec::new();
    let mut misses = Vec::new();
    for c in &cases {
        let mut body = json!({"query": c.query, "limit": LIMIT});
        if let Some(f) = &c.case.filters {
            body["filters"] = Value::Object(f.clone());
        }
        // A refused query scores as an empty page: it is the engine's failure, not the tool's.
        let (v, error) = match post(&a, &url, &args.key, &body) {
            Ok(v) => (v, None),
            Err(e) => {
                eprintln!("query {:?} failed: {e}", c.case.id);
                (Value::Null, Some(e))
            }
        };
        let results = v["results"].as_array().cloned().unwrap_or_default();
        let eans: Vec<String> = results
            .iter()
            .map(|r| r["vertical_data"]["ean"].as_str().unwrap_or("").to_owned())
            .collect();
        let s = score(&eans, &c.relevant);
        let identifier = class_of(&c.case.class).is_some_and(|(_, _, id)| id);
        per_class
            .entry(c.case.class.as_str())
            .or_default()
            .add(&s, identifier);
        overall.add(&s, identifier);
        let top: Vec<Value> = results
            .iter()
            .zip(&eans)
            .map(|(r, e)| {
                json!({
                    "name": r["name"], "score": r["score"], "ean": e,
                    "relevant": c.relevant.contains(e),
                })
            })
            .collect();
        if s.precision < 1.0 {
            misses.push(format!(
                "- `{}` [{}] P={:.2} |rel|={} fallback={}: {}",
                c.query,
                c.case.class,
                s.precision,
                c.relevant.len(),
                v["metadata"]["zero_result_fallback_used"],
                top.iter()
                    .take(5)
                    .map(|t| format!(
                        "{}{}",
                        if t["relevant"] == true { "+" } else { "-" },
                        t["name"].as_str().unwrap_or("")
                    ))
                    .collect::<Vec<_>>()
                    .join(" | ")
            ));
        }
        rows.push(json!({
            "id": c.case.id, "class": c.case.class, "query": c.query,
            "filters": c.case.filters, "predicate": c.predicate,
            "relevant_count": c.relevant.len(),
            "p_at_10": s.precision, "reciprocal_rank": s.reciprocal_rank,
            "top_is_relevant": s.top_is_relevant, "zero_results": s.zero_results,
            "query_type": v["metadata"]["query_type"],
            "search_mode": v["metadata"]["search_mode"],
            "zero_result_fallback_used": v["metadata"]["zero_result_fallback_used"],
            "total_estimate": v["metadata"]["total_estimate"], "error": error,
            "results": top,
        }));
    }

    let date = time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    let commit = git_commit();
    println!(
        "Search relevance: {} queries, catalog of {} parts (seed {}), limit {LIMIT}, commit {commit}, {date}\n",
        cases.len(),
        catalog.records.len(),
        spec.seed
    );
    println!("| class | queries | P@10 | MRR | identifier@1 | zero-result rate |");
    println!("|---|---|---|---|---|---|");
    let mut classes = Vec::new();
    for (name, label, _) in CLASSES {
        if let Some(t) = per_class.get(name) {
            println!("{}", t.row(label));
            let mut j = t.json();
            j["class"] = json!(name);
            classes.push(j);
        }
    }
    println!("{}", overall.row("**overall**"));
    println!(
        "\nP@10 is R-capped: a query with fewer than 10 relevant records is scored P@|relevant|. \
         identifier@1: the first result carries the queried identifier."
    );
    if args.details && !misses.is_empty() {
        println!("\nQueries below P@10 = 1 (+ relevant, - not):");
        for m in &misses {
            println!("{m}");
        }
    }

    let out = args
        .out
        .clone()
        .unwrap_or_else(|| output_path(&args.label, args.run));
    if let Some(dir) = out.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    let report = json!({
        "label": args.label, "run": args.run, "date": date, "commit": commit,
        "queries_file": args.queries, "catalog": {"seed": spec.seed, "count": catalog.records.len(), "batch_size": spec.batch_size},
        "limit": LIMIT, "overall": overall.json(), "classes": classes, "queries": rows,
    });
    let text = serde_json::to_string_pretty(&report).map_err(|e| e.to_string())?;
    std::fs::write(&out, text).map_err(|e| format!("{}: {e}", out.display()))?;
    eprintln!("wrote {}", out.display());
    Ok(())
}

fn main() {
    if let Err(e) = run(Args::parse()) {
        eprintln!("eval-relevance: {e}");
        std::process::exit(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query_file() -> QueryFile {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/relevance/queries.json");
        let text = std::fs::read_to_string(path).expect("query file");
        serde_json::from_str(&text).expect("query file parses")
    }

    /// The judged set stays usable: it parses, covers every class, and every predicate has at
    /// least one relevant record in the default catalog.
    #[test]
    fn every_query_has_relevant_records_in_the_default_catalog() {
        let file = query_file();
        assert!(file.queries.len() >= 80, "{} queries", file.queries.len());
        assert!(file.catalog.count >= 20_000);
        let catalog = catalog(file.catalog).expect("catalog");
        let types: HashSet<_> = catalog.records.iter().map(|r| r.entity_type).collect();
        assert_eq!(
            types.len(),
            sample_catalog::ENTITY_TYPES.len(),
            "batch_size leaves entity types out of the catalog"
        );
        let cases = resolve(&file.queries, &catalog).expect("every case resolves");
        let empty: Vec<_> = cases
            .iter()
            .filter(|c| c.relevant.is_empty())
            .map(|c| c.case.id.as_str())
            .collect();
        assert!(empty.is_empty(), "no relevant record: {empty:?}");
        for (name, _, _) in CLASSES {
            assert!(
                cases.iter().any(|c| c.case.class == name),
                "no query of class {name}"
            );
        }
        for c in &cases {
            assert_eq!(
                c.case.filters.is_some(),
                c.case.class == "filtered",
                "{}: filters belong to the filtered class exactly",
                c.case.id
            );
        }
        let pnv = cases
            .iter()
            .filter(|c| c.case.class == "part_number_variant")
            .count();
        assert!(pnv >= 5, "{pnv} part number variants");
    }

    #[test]
    fn placeholders_and_transforms() {
        let r = Record {
            entity_type: "hex_bolt",
            name: "Hex bolt".into(),
            data: json!({"part_number": "HB-M8-40-A2-00017", "length_mm": 40})
                .as_object()
                .cloned()
                .unwrap_or_default(),
        };
        let f = |t: &str| fill(t, Some(&r)).unwrap_or_else(|e| e);
        assert_eq!(f("{part_number|lower}"), "hb-m8-40-a2-00017");
        assert_eq!(f("{part_number|lower|spaces}"), "hb m8 40 a2 00017");
        assert_eq!(f("{part_number|nosep}"), "HBM840A200017");
        assert_eq!(f("{part_number|slashes}"), "HB/M8/40/A2/00017");
        assert_eq!(f("x {length_mm} mm {entity_type}"), "x 40 mm hex_bolt");
        assert!(fill("{part_number|reverse}", Some(&r)).is_err());
        assert!(fill("{missing}", Some(&r)).is_err());
        assert!(fill("{part_number}", None).is_err());
        assert_eq!(
            fill("no placeholder", None).as_deref(),
            Ok("no placeholder")
        );
    }

    #[test]
    fn predicate_terms() {
        let r = Record {
            entity_type: "ball_bearing",
            name: "b".into(),
            data:
                json!({"part_number": "6204-2RS", "bore_mm": 20, "brand": "SKF", "in_stock": true})
                    .as_object()
                    .cloned()
                    .unwrap_or_default(),
        };
        let m = |p: Value| matches(p.as_object().expect("object"), &r);
        assert_eq!(m(json!({"brand": "skf", "bore_mm": 20.0})), Ok(true));
        assert_eq!(
            m(json!({"entity_type": ["hex_bolt", "ball_bearing"]})),
            Ok(true)
        );
        assert_eq!(m(json!({"part_number": {"prefix": "6204"}})), Ok(true));
        assert_eq!(m(json!({"part_number": {"prefix": "6205"}})), Ok(false));
        assert_eq!(m(json!({"bore_mm": {"min": 15, "max": 20}})), Ok(true));
        assert_eq!(m(json!({"bore_mm": {"max": 19}})), Ok(false));
        assert_eq!(m(json!({"in_stock": true, "thread": "M8"})), Ok(false));
        assert_eq!(m(json!({"bore_mm": "20"})), Ok(false));
        assert!(m(json!({"bore_mm": {"near": 20}})).is_err());
    }

    #[test]
    fn precision_is_capped_by_the_relevant_set() {
        let rel = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<HashSet<_>>();
        let res = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        // Two relevant records ranked 1st and 2nd: perfect, though 8 more results follow.
        let s = score(&res(&["a", "b", "x", "y"]), &rel(&["a", "b"]));
        assert_eq!(
            (s.precision, s.reciprocal_rank, s.top_is_relevant),
            (1.0, 1.0, true)
        );
        // The relevant one at rank 3 of a single-record set: P@1 = 0, MRR = 1/3.
        let s = score(&res(&["x", "y", "a"]), &rel(&["a"]));
        assert_eq!((s.precision, s.top_is_relevant), (0.0, false));
        assert!((s.reciprocal_rank - 1.0 / 3.0).abs() < 1e-12);
        // A large relevant set and three hits in a short page: 3/10.
        let many: Vec<String> = (0..50).map(|i| i.to_string()).collect();
        let s = score(&res(&["1", "2", "3"]), &many.into_iter().collect());
        assert_eq!(s.precision, 0.3);
        let s = score(&[], &rel(&["a"]));
        assert_eq!(
            (s.precision, s.reciprocal_rank, s.zero_results),
            (0.0, 0.0, true)
        );
    }
}
