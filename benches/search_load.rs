//! Search benchmark driver (run by `scripts/bench-search.sh`, which starts the server).
//!
//! 1. generates a seeded catalog of COUNT records in memory (not timed),
//! 2. loads it through `POST /ingest/{vertical}/{type}/batch` with LOADERS concurrent clients,
//! 3. waits until every record is searchable,
//! 4. runs a fixed mixed query set (keyword, misspelled, identifier, filtered, filtered+sorted, keyword and
//!    filter-only with two facet fields, natural language, paraphrase) with CONCURRENCY clients for SECONDS, and reports server-side p50/p99 per kind
//!    (from `metadata.processing_time_ms`) and HTTP requests/s,
//! 5. reports the mean response size per kind, and how much of it the records dialect's
//!    duplicate names in each result take (API-RECORDS.md §3),
//! 6. times listing the vertical (no query, no filters; API-RECORDS.md §3) with one client:
//!    first page, a deep page, and sorted by a field.
//!
//! Environment: BASE (http://127.0.0.1:PORT), KEY (bearer), COUNT, LOADERS, CONCURRENCY, SECONDS,
//! SKIP_LOAD (set: query what an earlier run loaded into the same data dir).
//!
//! DUMP_QUERIES=path (with DUMP_CATALOG=path, optional) writes the query mix, and the catalog,
//! as NDJSON and exits without a server, so that `scripts/bench-peers.sh` runs the very same
//! queries over the very same records on other systems: a query line is
//! `{"kind": ..., "body": {search request}}`, a catalog line is one batch,
//! `{"entity_type": ..., "records": [...]}`.

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use qanatix::sample_catalog;
use serde_json::{json, Value};

fn env<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn agent() -> ureq::Agent {
    ureq::AgentBuilder::new()
        .timeout(Duration::from_secs(120))
        .max_idle_connections_per_host(64)
        .build()
}

fn post(agent: &ureq::Agent, url: &str, key: &str, body: &str) -> Result<Value, String> {
    match agent
        .post(url)
        .set("Authorization", &format!("Bearer {key}"))
        .set("Content-Type", "application/json")
        .send_string(body)
    {
        Ok(r) => r.into_json::<Value>().map_err(|e| e.to_string()),
        Err(ureq::Error::Status(code, r)) => {
            Err(format!("{code}: {}", r.into_string().unwrap_or_default()))
        }
        Err(e) => Err(e.to_string()),
    }
}

/// `metadata.processing_time_ms` and `metadata.timings.hydrate_ms` (reading the hits from the
/// store) without parsing the whole response (the load generator shares the two cores with the
/// server, so it should spend as little CPU as it can), and the response's size in bytes.
fn processing_time(
    agent: &ureq::Agent,
    url: &str,
    key: &str,
    body: &str,
) -> Result<(f64, f64, usize), String> {
    let text = match agent
        .post(url)
        .set("Authorization", &format!("Bearer {key}"))
        .set("Content-Type", "application/json")
        .send_string(body)
    {
        Ok(r) => r.into_string().map_err(|e| e.to_string())?,
        Err(ureq::Error::Status(code, r)) => {
            return Err(format!("{code}: {}", r.into_string().unwrap_or_default()))
        }
        Err(e) => return Err(e.to_string()),
    };
    let number = |name: &str| -> Result<f64, String> {
        let label = format!("\"{name}\":");
        let at = text.rfind(&label).ok_or(format!("no {name}"))? + label.len();
        let end = text[at..].find([',', '}']).ok_or("bad number")? + at;
        text[at..end].parse().map_err(|_| "bad number".to_string())
    };
    Ok((
        number("processing_time_ms")?,
        number("hydrate_ms")?,
        text.len(),
    ))
}

/// Fields a JSON response carries only for the records dialect: each result's second names
/// (API-RECORDS.md §3) and two metadata flags.
const RESULT_DUPLICATES: &[&str] = &[
    "record_id",
    "collection",
    "record_type",
    "collection_data",
    "description_llm",
];
const METADATA_ADDITIONS: &[&str] = &["unknown_collection", "freshness"];

/// Bytes that `"key":value,` takes in compact JSON. Values re-serialize to the server's bytes:
/// both sides print numbers with serde_json's shortest round-trip form.
fn member_bytes(key: &str, value: &Value) -> usize {
    key.len() + 3 + value.to_string().len() + 1
}

/// A response's size, and what it would be without the fields [`RESULT_DUPLICATES`] and
/// [`METADATA_ADDITIONS`] name.
fn sizes_with_and_without_duplicates(text: &str) -> Option<(usize, usize)> {
    let v: Value = serde_json::from_str(text).ok()?;
    let mut extra = 0;
    for r in v["results"].as_array()? {
        for k in RESULT_DUPLICATES {
            if let Some(x) = r.get(*k) {
                extra += member_bytes(k, x);
            }
        }
    }
    for k in METADATA_ADDITIONS {
        if let Some(x) = v["metadata"].get(*k) {
            extra += member_bytes(k, x);
        }
    }
    Some((text.len(), text.len() - extra))
}

fn post_text(agent: &ureq::Agent, url: &str, key: &str, body: &str) -> Result<String, String> {
    match agent
        .post(url)
        .set("Authorization", &format!("Bearer {key}"))
        .set("Content-Type", "application/json")
        .send_string(body)
    {
        Ok(r) => r.into_string().map_err(|e| e.to_string()),
        Err(e) => Err(e.to_string()),
    }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx]
}

/// The identifiers the mix looks up: in every 7th batch, record 17's part number and record 3's
/// EAN.
fn sample_identifiers(batch: usize, records: &[Value], into: &mut Vec<String>) {
    if !batch.is_multiple_of(7) || records.is_empty() {
        return;
    }
    for (record, field) in [(17, "part_number"), (3, "ean")] {
        into.push(
            records[record % records.len()]["vertical_data"][field]
                .as_str()
                .unwrap_or("x")
                .to_owned(),
        );
    }
}

/// The fixed query mix: `(kind, search request body)`.
fn query_mix(identifiers: &[String]) -> Vec<(&'static str, String)> {
    let mut queries: Vec<(&'static str, String)> = Vec::new();
    for q in [
        "stainless hex bolt",
        "ball bearing",
        "shaft seal FKM",
        "induction motor",
        "O-ring NBR",
        "socket screw",
        "washer",
        "brass nut",
    ] {
        queries.push(("keyword", json!({"query": q}).to_string()));
    }
    // Misspelled: no word matches as typed, so the typo-tolerant fallback answers.
    for q in [
        "stainles hex bolt",
        "ball baering",
        "shaft seel FKM",
        "induction moter",
    ] {
        queries.push(("typo", json!({"query": q}).to_string()));
    }
    let mut ids: Vec<String> = identifiers.iter().take(16).cloned().collect();
    ids.extend(["DIN 933", "ISO 3601", "6204-2RS"].map(String::from));
    for id in ids {
        queries.push(("identifier", json!({"query": id}).to_string()));
    }
    for (q, f) in [
        (
            "hex bolt",
            json!({"material": "stainless steel", "diameter_mm_min": 8, "diameter_mm_max": 12}),
        ),
        ("bearing", json!({"brand": "SKF,FAG", "in_stock": true})),
        ("seal", json!({"material": "FKM", "shaft_mm_max": 40})),
        (
            "motor",
            json!({"efficiency_class": "IE3", "power_kw_min": 2}),
        ),
    ] {
        queries.push(("filtered", json!({"query": q, "filters": f}).to_string()));
    }
    for (q, f, s) in [
        (
            "hex bolt",
            json!({"material": "stainless steel", "thread": "M8"}),
            "price_eur",
        ),
        ("bearing", json!({"brand": "NSK"}), "-bore_mm"),
        ("motor", json!({"poles": 4}), "-power_kw"),
        (
            "screw",
            json!({"grade": "A4-80", "in_stock": true}),
            "-stock",
        ),
    ] {
        queries.push((
            "filtered_sorted",
            json!({"query": q, "filters": f, "sort": s}).to_string(),
        ));
    }
    // Facets count the whole result set (not the page): a keyword search and a filter-only
    // search, each counting two fields.
    for (q, f) in [
        (Some("hex bolt"), json!({})),
        (Some("bearing"), json!({})),
        (None, json!({"material": "stainless steel"})),
        (None, json!({"brand": "SKF", "in_stock": true})),
    ] {
        let mut body = json!({"filters": f, "facets": ["material", "brand"]});
        let kind = match q {
            Some(q) => {
                body["query"] = json!(q);
                "facets_keyword"
            }
            None => "facets_filter",
        };
        queries.push((kind, body.to_string()));
    }
    for q in [
        "stainless steel hex bolt for outdoor use",
        "sealed ball bearing for an electric motor",
        "high temperature shaft seal for a gearbox",
        "energy efficient four pole motor with 4 kW",
    ] {
        queries.push(("natural_language", json!({"query": q}).to_string()));
    }
    // Descriptions in words the catalog does not use: found by the vectors (hybrid search).
    for q in [
        "electric engine to power a pump",
        "lip seal for a rotating axle",
        "rolling element support for a rotating spindle",
        "rubber ring to seal a groove",
    ] {
        queries.push(("paraphrase", json!({"query": q}).to_string()));
    }
    queries
}

/// DUMP_QUERIES mode: streams the catalog (when `catalog` is set) and writes the query mix.
fn dump(queries_path: &str, catalog: Option<&str>, count: u64) -> std::io::Result<()> {
    let mut catalog = catalog
        .map(|p| std::fs::File::create(p).map(std::io::BufWriter::new))
        .transpose()?;
    let mut identifiers = Vec::new();
    for (i, (t, records)) in sample_catalog::batches(42, count, 10_000).enumerate() {
        sample_identifiers(i, &records, &mut identifiers);
        if let Some(out) = catalog.as_mut() {
            serde_json::to_writer(&mut *out, &json!({"entity_type": t, "records": records}))?;
            out.write_all(b"\n")?;
        }
    }
    if let Some(mut out) = catalog {
        out.flush()?;
    }
    let mut out = std::io::BufWriter::new(std::fs::File::create(queries_path)?);
    for (kind, body) in query_mix(&identifiers) {
        writeln!(out, "{{\"kind\":{},\"body\":{body}}}", json!(kind))?;
    }
    out.flush()
}

fn main() {
    let base: String = env("BASE", "http://127.0.0.1:18081".to_string());
    let key: String = env("KEY", String::new());
    let count: u64 = env("COUNT", 1_000_000);
    let loaders: usize = env("LOADERS", 3);
    let concurrency: usize = env("CONCURRENCY", 16);
    let seconds: u64 = env("SECONDS", 20);
    let vertical = "parts";

    if let Ok(path) = std::env::var("DUMP_QUERIES") {
        let catalog = std::env::var("DUMP_CATALOG").ok();
        if let Err(e) = dump(&path, catalog.as_deref(), count) {
            eprintln!("dump failed: {e}");
            std::process::exit(1);
        }
        return;
    }

    eprintln!("generating {count} records...");
    let mut identifiers: Vec<String> = Vec::new();
    let batches: Vec<(String, String, usize)> = sample_catalog::batches(42, count, 10_000)
        .enumerate()
        .map(|(i, (t, records))| {
            sample_identifiers(i, &records, &mut identifiers);
            let n = records.len();
            (t.to_owned(), json!({ "records": records }).to_string(), n)
        })
        .collect();
    let bytes: usize = batches.iter().map(|b| b.1.len()).sum();
    eprintln!(
        "{} batches, {:.0} MB of JSON; loading with {loaders} clients...",
        batches.len(),
        bytes as f64 / 1e6
    );

    // Load (SKIP_LOAD=1 reuses what a previous run loaded into the server's data dir).
    let skip_load = std::env::var("SKIP_LOAD").is_ok();
    let next = Arc::new(AtomicUsize::new(if skip_load { usize::MAX / 2 } else { 0 }));
    let batches = Arc::new(batches);
    let started = Instant::now();
    let handles: Vec<_> = (0..loaders)
        .map(|_| {
            let (next, batches, base, key) = (
                Arc::clone(&next),
                Arc::clone(&batches),
                base.clone(),
                key.clone(),
            );
            std::thread::spawn(move || {
                let a = agent();
                let mut accepted = 0u64;
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some((t, body, _)) = batches.get(i) else {
                        break;
                    };
                    let url = format!("{base}/api/v1/ingest/{vertical}/{t}/batch");
                    match post(&a, &url, &key, body) {
                        Ok(v) => accepted += v["accepted"].as_u64().unwrap_or(0),
                        Err(e) => panic!("batch {i} failed: {e}"),
                    }
                }
                accepted
            })
        })
        .collect();
    let mut accepted: u64 = handles.into_iter().map(|h| h.join().expect("loader")).sum();
    if skip_load {
        accepted = count;
    }
    let load_secs = started.elapsed().as_secs_f64();
    eprintln!("loaded {accepted} records in {load_secs:.1} s; waiting until searchable...");

    // Searchable: a filter-only count over every entity type.
    let a = agent();
    let all_types =
        json!({"filters": {"entity_type_in": sample_catalog::ENTITY_TYPES}, "limit": 1})
            .to_string();
    let search_url = format!("{base}/api/v1/search/{vertical}");
    let searchable_secs = loop {
        let total = post(&a, &search_url, &key, &all_types)
            .ok()
            .and_then(|v| v["metadata"]["total_estimate"].as_u64())
            .unwrap_or(0);
        if total >= accepted || skip_load {
            break started.elapsed().as_secs_f64();
        }
        if started.elapsed() > Duration::from_secs(900) {
            panic!("not searchable after 900 s ({total} of {accepted})");
        }
        std::thread::sleep(Duration::from_millis(100));
    };

    let queries = Arc::new(query_mix(&identifiers));

    eprintln!(
        "running {} queries in a mix with {concurrency} clients for {seconds} s...",
        queries.len()
    );
    /// Per kind: processing times, hydration times, response bytes.
    type Samples = BTreeMap<&'static str, (Vec<f64>, Vec<f64>, usize)>;
    let samples: Arc<Mutex<Samples>> = Arc::default();
    let errors = Arc::new(AtomicUsize::new(0));
    let done = Arc::new(AtomicUsize::new(0));
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let qstart = Instant::now();
    let handles: Vec<_> = (0..concurrency)
        .map(|c| {
            let (queries, samples, errors, done, url, key) = (
                Arc::clone(&queries),
                Arc::clone(&samples),
                Arc::clone(&errors),
                Arc::clone(&done),
                search_url.clone(),
                key.clone(),
            );
            std::thread::spawn(move || {
                let a = agent();
                let mut local: Samples = BTreeMap::new();
                let mut i = c * 7;
                while Instant::now() < deadline {
                    let (kind, body) = &queries[i % queries.len()];
                    i += 1;
                    match processing_time(&a, &url, &key, body) {
                        Ok((ms, hydrate, bytes)) => {
                            let slot = local.entry(kind).or_default();
                            slot.0.push(ms);
                            slot.1.push(hydrate);
                            slot.2 += bytes;
                            done.fetch_add(1, Ordering::Relaxed);
                        }
                        Err(_) => {
                            errors.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
                let mut all = samples.lock().expect("samples");
                for (k, (ms, hydrate, bytes)) in local {
                    let slot = all.entry(k).or_default();
                    slot.0.extend(ms);
                    slot.1.extend(hydrate);
                    slot.2 += bytes;
                }
            })
        })
        .collect();
    for h in handles {
        h.join().expect("query client");
    }
    let qsecs = qstart.elapsed().as_secs_f64();
    let total = done.load(Ordering::Relaxed);

    println!("records loaded              : {accepted}");
    println!(
        "load throughput (durable)   : {:.0} records/s ({load_secs:.1} s)",
        accepted as f64 / load_secs
    );
    println!("all searchable after        : {searchable_secs:.1} s from the first batch");
    println!("search requests             : {total} in {qsecs:.1} s = {:.0} req/s over HTTP ({concurrency} clients), {} errors", total as f64 / qsecs, errors.load(Ordering::Relaxed));
    println!("server-side processing_time_ms per query kind, and mean response size:");
    println!(
        "  {:<18} {:>8} {:>8} {:>8} {:>10} {:>12}",
        "kind", "n", "p50", "p99", "bytes", "hydrate p50"
    );
    for (kind, (mut v, mut hydrate, bytes)) in samples.lock().expect("samples").clone() {
        v.sort_by(f64::total_cmp);
        hydrate.sort_by(f64::total_cmp);
        println!(
            "  {kind:<18} {:>8} {:>8.3} {:>8.3} {:>10.0} {:>12.3}",
            v.len(),
            percentile(&v, 0.5),
            percentile(&v, 0.99),
            bytes as f64 / v.len().max(1) as f64,
            percentile(&hydrate, 0.5)
        );
    }

    // Response sizes with and without the records dialect's names, each query once.
    let (mut with, mut without) = (0usize, 0usize);
    for (_, body) in queries.iter() {
        if let Some((w, wo)) = post_text(&a, &search_url, &key, body)
            .ok()
            .as_deref()
            .and_then(sizes_with_and_without_duplicates)
        {
            with += w;
            without += wo;
        }
    }
    let n = queries.len().max(1) as f64;
    println!(
        "mean JSON response, {} queries: {:.0} bytes; without the records dialect's names {:.0} \
         bytes (+{:.1} %)",
        queries.len(),
        with as f64 / n,
        without as f64 / n,
        100.0 * (with as f64 - without as f64) / without.max(1) as f64
    );

    // Listing the vertical (1 client, one request at a time).
    println!("listing the vertical, one client: processing_time_ms p50 / p99 / max");
    for (label, body, n) in [
        ("first page (20)", json!({}), 50),
        ("page at offset 5,000", json!({"offset": 5000}), 20),
        ("sorted by -price_eur", json!({"sort": "-price_eur"}), 20),
        ("sorted by name", json!({"sort": "name"}), 20),
    ] {
        let body = body.to_string();
        let mut v: Vec<f64> = (0..n)
            .filter_map(|_| processing_time(&a, &search_url, &key, &body).ok())
            .map(|(ms, _, _)| ms)
            .collect();
        v.sort_by(f64::total_cmp);
        println!(
            "  {label:<22} {:>8.3} {:>8.3} {:>8.3}",
            percentile(&v, 0.5),
            percentile(&v, 0.99),
            v.last().copied().unwrap_or(f64::NAN)
        );
    }
}
