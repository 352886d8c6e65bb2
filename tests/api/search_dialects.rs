//! Search in both dialects (API-RECORDS.md §3): results in both vocabularies, listing a
//! collection with an empty query, unknown collections, and read-your-writes for every write
//! the records dialect acknowledges.

use serde_json::{json, Value};

use crate::common::{self, Server};

/// Every key of a result, in both dialects' names, and the pairs that must agree.
const SAME: &[(&str, &str)] = &[
    ("entity_id", "record_id"),
    ("vertical", "collection"),
    ("entity_type", "record_type"),
    ("vertical_data", "collection_data"),
];

fn post_json(srv: &Server, path: &str, body: &Value) -> Value {
    let r = srv.post(path).tenant("acme").json(body).send();
    assert!(r.status == 200 || r.status == 201, "{path}: {}", r.text);
    r.json()
}

fn search(srv: &Server, collection: &str, body: &Value) -> Value {
    let r = srv.search("acme", collection, body);
    assert_eq!(r.status, 200, "{}", r.text);
    r.json()
}

fn names(v: &Value) -> Vec<String> {
    v["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap().to_owned())
        .collect()
}

/// Creates `n` records one after another (each answered once searchable, so their
/// `updated_at` differ) and returns their names in creation order.
fn create_records(srv: &Server, collection: &str, n: usize) -> Vec<String> {
    (0..n)
        .map(|i| {
            let name = format!("Listed widget {i:02}");
            post_json(
                srv,
                "/api/v1/records",
                &json!({"collection": collection, "record_type": "widget", "name": name,
                        "data": {"rank": i, "color": if i % 2 == 0 { "red" } else { "blue" }}}),
            );
            std::thread::sleep(std::time::Duration::from_millis(2));
            name
        })
        .collect()
}

fn assert_both_vocabularies(result: &Value) {
    for (entities, records) in SAME {
        assert!(
            result.get(*entities).is_some(),
            "missing {entities}: {result}"
        );
        assert_eq!(
            result[*entities], result[*records],
            "{entities} / {records}"
        );
    }
    assert!(
        result["record_id"].as_str().unwrap().len() == 36,
        "{result}"
    );
    // The SDK reads these too; there is no language model, so no description_llm.
    for key in ["name", "score", "description", "source_type", "updated_at"] {
        assert!(result.get(key).is_some(), "missing {key}: {result}");
    }
    assert_eq!(result["description_llm"], Value::Null, "{result}");
}

#[test]
fn results_carry_both_vocabularies_in_post_and_get() {
    let srv = common::start_dev(&[]);
    post_json(
        &srv,
        "/api/v1/ingest/batch/gadgets/sprocket",
        &json!([{"name": "Brass sprocket", "teeth": 12, "description": "for chains"}]),
    );
    let v = search(&srv, "gadgets", &json!({"query": "sprocket"}));
    let r = &v["results"][0];
    assert_both_vocabularies(r);
    assert_eq!(r["collection"], "gadgets");
    assert_eq!(r["record_type"], "sprocket");
    assert_eq!(r["collection_data"], json!({"teeth": 12}));

    for path in [
        "/api/v1/search/gadgets?q=sprocket",
        "/api/v1/search/gadgets",
        "/api/v1/search/gadgets?teeth=12",
    ] {
        let g = srv.get(path).tenant("acme").send();
        assert_eq!(g.status, 200, "{path}: {}", g.text);
        let g = g.json();
        assert_eq!(g["results"].as_array().unwrap().len(), 1, "{path}: {g}");
        assert_both_vocabularies(&g["results"][0]);
    }

    // The text formats are for people and models: one name, one set of data fields.
    for format in ["compact", "yaml"] {
        let t = srv.search(
            "acme",
            "gadgets",
            &json!({"query": "sprocket", "format": format}),
        );
        assert_eq!(t.status, 200);
        assert!(t.header("content-type").unwrap().starts_with("text/plain"));
        assert!(t.text.contains("Brass sprocket"), "{}", t.text);
        assert_eq!(t.text.matches("teeth").count(), 1, "{}", t.text);
        for key in ["record_id", "collection", "entity_id", "vertical"] {
            assert!(!t.text.contains(key), "{format} has {key}: {}", t.text);
        }
    }
}

#[test]
fn an_empty_query_lists_the_collection_newest_first_in_pages() {
    let srv = common::start_dev(&[]);
    let created = create_records(&srv, "listing", 7);
    // Not listed: archived and draft records, another collection, another tenant.
    let gone = post_json(
        &srv,
        "/api/v1/records",
        &json!({"collection": "listing", "record_type": "widget", "name": "Archived widget"}),
    );
    srv.req(
        "DELETE",
        &format!("/api/v1/records/{}", gone["id"].as_str().unwrap()),
    )
    .tenant("acme")
    .send();
    post_json(
        &srv,
        "/api/v1/records",
        &json!({"collection": "listing", "record_type": "widget", "name": "Draft widget",
                "status": "draft"}),
    );
    post_json(
        &srv,
        "/api/v1/records",
        &json!({"collection": "elsewhere", "record_type": "widget", "name": "Other widget"}),
    );
    let r = srv
        .post("/api/v1/records")
        .tenant("rival")
        .json(&json!({"collection": "listing", "record_type": "widget", "name": "Rival widget"}))
        .send();
    assert_eq!(r.status, 201);

    let newest_first: Vec<String> = created.iter().rev().cloned().collect();
    for body in [json!({}), json!({"query": ""}), json!({"query": "   "})] {
        let v = search(&srv, "listing", &body);
        assert_eq!(names(&v), newest_first, "{body}");
        let m = &v["metadata"];
        assert_eq!(m["query_type"], "list", "{m}");
        assert_eq!(m["total_estimate"], 7, "{m}");
        assert_eq!(m["unknown_collection"], false, "{m}");
        assert_eq!(v["pagination"]["has_more"], false);
    }

    // Pages of 3: every record exactly once, has_more until the last page.
    let mut seen = Vec::new();
    for (offset, more) in [(0, true), (3, true), (6, false)] {
        let v = search(&srv, "listing", &json!({"limit": 3, "offset": offset}));
        assert_eq!(v["pagination"]["offset"], offset);
        assert_eq!(v["pagination"]["limit"], 3);
        assert_eq!(v["pagination"]["has_more"], more, "offset {offset}: {v}");
        assert_eq!(v["metadata"]["total_estimate"], 7);
        seen.extend(names(&v));
    }
    assert_eq!(seen, newest_first);
    let past = search(&srv, "listing", &json!({"limit": 3, "offset": 9}));
    assert_eq!(past["results"], json!([]));
    assert_eq!(past["pagination"]["has_more"], false);

    // The GET form, paged the same way.
    let g = srv
        .get("/api/v1/search/listing?limit=2&offset=1")
        .tenant("acme")
        .send();
    assert_eq!(g.status, 200, "{}", g.text);
    let g = g.json();
    assert_eq!(names(&g), newest_first[1..3].to_vec());
    assert_eq!(g["metadata"]["query_type"], "list");
    assert_eq!(g["pagination"]["has_more"], true);

    // A filter without a query is a filter search, not a list.
    let f = search(&srv, "listing", &json!({"filters": {"color": "red"}}));
    assert_eq!(f["metadata"]["query_type"], Value::Null);
    assert_eq!(f["metadata"]["total_estimate"], 4);
}

/// Records of one batch share `updated_at`: they list in reverse batch order, and pages stay
/// consistent while other writes commit (and segments merge) between two page requests.
#[test]
fn a_batch_lists_newest_first_and_pages_without_skips_or_repeats() {
    let srv = common::start_dev(&[]);
    let records: Vec<Value> = (0..40)
        .map(|i| json!({"name": format!("Batch row {i:02}")}))
        .collect();
    post_json(&srv, "/api/v1/ingest/batch/rows/row", &json!(records));
    let newest_first: Vec<String> = (0..40).rev().map(|i| format!("Batch row {i:02}")).collect();
    let all = search(&srv, "rows", &json!({"limit": 100}));
    assert_eq!(names(&all), newest_first);
    let mut paged = Vec::new();
    for page in 0..6 {
        let v = search(&srv, "rows", &json!({"limit": 7, "offset": page * 7}));
        paged.extend(names(&v));
        // Writes elsewhere between pages: new segments, and merges of the old ones.
        for k in 0..3 {
            post_json(
                &srv,
                "/api/v1/records",
                &json!({"collection": "other", "record_type": "row",
                        "name": format!("Other {page} {k}")}),
            );
        }
    }
    assert_eq!(paged, newest_first);
}

#[test]
fn a_list_follows_sort() {
    let srv = common::start_dev(&[]);
    let created = create_records(&srv, "sorted", 5);
    let by = |sort: &str| names(&search(&srv, "sorted", &json!({"sort": sort})));
    assert_eq!(by("name"), created);
    assert_eq!(
        by("-rank"),
        created.iter().rev().cloned().collect::<Vec<_>>()
    );
    assert_eq!(by("rank"), created);
    assert_eq!(by("created_at"), created);
    let page = search(
        &srv,
        "sorted",
        &json!({"sort": "-name", "limit": 2, "offset": 1}),
    );
    assert_eq!(names(&page), vec![created[3].clone(), created[2].clone()]);
    assert_eq!(page["metadata"]["query_type"], "list");
    let g = srv
        .get("/api/v1/search/sorted?sort=rank&limit=2")
        .tenant("acme")
        .send()
        .json();
    assert_eq!(names(&g), created[..2].to_vec());
    // An unknown sort key is still refused, naming the keys there are.
    let r = srv.search("acme", "sorted", &json!({"sort": "-weight"}));
    r.expect_error(422, "validation_error");
    assert!(
        r.json()["detail"].as_str().unwrap().contains("rank"),
        "{}",
        r.text
    );
}

#[test]
fn an_unknown_collection_answers_no_results_flagged_in_both_words() {
    let srv = common::start_dev(&[]);
    create_records(&srv, "known", 1);
    for body in [
        json!({"query": "widget"}),
        json!({}),
        json!({"filters": {"color": "red"}}),
        json!({"sort": "-rank"}),
    ] {
        let v = search(&srv, "unknown", &body);
        assert_eq!(v["results"], json!([]), "{body}");
        assert_eq!(v["metadata"]["unknown_collection"], true, "{body}: {v}");
        assert_eq!(v["metadata"]["unknown_vertical"], true, "{body}: {v}");
        assert_eq!(v["pagination"]["has_more"], false);
    }
    let v = search(&srv, "unknown", &json!({}));
    assert_eq!(v["metadata"]["query_type"], "list");
    let g = srv.get("/api/v1/search/unknown").tenant("acme").send();
    assert_eq!(g.status, 200, "{}", g.text);
    assert_eq!(g.json()["metadata"]["unknown_collection"], true);
    // Another tenant's collection is unknown to this one.
    let v = srv.search("rival", "known", &json!({})).json();
    assert_eq!(v["metadata"]["unknown_collection"], true, "{v}");
    // A collection the tenant has, without a match, is known.
    let v = search(&srv, "known", &json!({"query": "zeppelin"}));
    assert_eq!(v["results"], json!([]));
    assert_eq!(v["metadata"]["unknown_collection"], false);
    assert_eq!(v["metadata"]["unknown_vertical"], false);
}

/// The hits of a one-word query and the response's freshness.
fn found(srv: &Server, collection: &str, word: &str) -> (Vec<String>, Value) {
    let v = search(srv, collection, &json!({"query": word, "limit": 100}));
    (names(&v), v["metadata"]["freshness"].clone())
}

#[test]
fn records_writes_are_searchable_in_the_next_request() {
    let srv = common::start_dev(&[]);
    for i in 0..20 {
        // Single create: the record view already says it is indexed.
        let word = format!("quokka{i}");
        let rec = post_json(
            &srv,
            "/api/v1/records",
            &json!({"collection": "fresh", "record_type": "note", "name": format!("Note {word}")}),
        );
        assert_eq!(rec["indexing_status"], "indexed", "{rec}");
        let (hits, freshness) = found(&srv, "fresh", &word);
        assert_eq!(hits, vec![format!("Note {word}")], "create {i}");
        assert_eq!(freshness, "current");

        // Update: the new name is found, the old one is not.
        let id = rec["id"].as_str().unwrap();
        let renamed = format!("wombat{i}");
        let r = srv
            .req("PATCH", &format!("/api/v1/records/{id}"))
            .tenant("acme")
            .json(&json!({"name": format!("Note {renamed}")}))
            .send();
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(found(&srv, "fresh", &renamed).0.len(), 1, "update {i}");
        assert!(found(&srv, "fresh", &word).0.is_empty(), "update {i}");

        // Batch, under both paths, bare array and wrapped.
        let bword = format!("kookaburra{i}");
        post_json(
            &srv,
            "/api/v1/ingest/batch/fresh/note",
            &json!([{"name": format!("Batch {bword}")}]),
        );
        let uword = format!("bilby{i}");
        post_json(
            &srv,
            "/api/v1/upload/fresh/note/batch",
            &json!({"records": [{"name": format!("Upload {uword}")}]}),
        );
        assert_eq!(found(&srv, "fresh", &bword).0.len(), 1, "batch {i}");
        assert_eq!(found(&srv, "fresh", &uword).0.len(), 1, "upload batch {i}");

        // Delete: gone from the list and from its count (two batch records per round stay).
        let r = srv
            .req("DELETE", &format!("/api/v1/records/{id}"))
            .tenant("acme")
            .send();
        assert_eq!(r.status, 200);
        let v = search(&srv, "fresh", &json!({"limit": 100}));
        assert!(
            !names(&v).contains(&format!("Note {renamed}")),
            "delete {i}"
        );
        assert_eq!(v["metadata"]["total_estimate"], 2 * (i + 1), "delete {i}");
    }
}

#[test]
fn records_bulk_file_and_stream_writes_are_searchable_at_once() {
    let srv = common::start_dev(&[]);
    let ids: Vec<Value> = (0..3)
        .map(|i| {
            post_json(
                &srv,
                "/api/v1/records",
                &json!({"collection": "bulk", "record_type": "part", "name": format!("Part {i}")}),
            )["id"]
                .clone()
        })
        .collect();
    let r = srv
        .req("PATCH", "/api/v1/records/bulk")
        .tenant("acme")
        .json(&json!({"record_ids": ids, "description": "galvanised platypus"}))
        .send();
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(found(&srv, "bulk", "platypus").0.len(), 3);
    post_json(
        &srv,
        "/api/v1/records/bulk-delete",
        &json!({"record_ids": [ids[0], ids[1]]}),
    );
    let v = search(&srv, "bulk", &json!({}));
    assert_eq!(names(&v), vec!["Part 2"]);
    assert_eq!(v["metadata"]["total_estimate"], 1);

    let csv = b"name,colour\nEchidna bracket,grey\n";
    let r = srv.upload(
        "acme",
        "/api/v1/upload/bulk/part/upload",
        &[("file", Some("p.csv"), Some("text/csv"), csv)],
    );
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(found(&srv, "bulk", "echidna").0.len(), 1);

    let r = srv
        .post("/api/v1/upload/bulk/part/stream")
        .tenant("acme")
        .raw(
            b"{\"name\": \"Dingo hinge\"}\n".to_vec(),
            "application/x-ndjson",
        )
        .send();
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(found(&srv, "bulk", "dingo").0.len(), 1);

    let pdf = std::fs::read("tests/fixtures/datasheet_2p.pdf").unwrap();
    let r = srv.upload(
        "acme",
        "/api/v1/upload/bulk/sheet/pdf",
        &[("file", Some("sheet.pdf"), Some("application/pdf"), &pdf)],
    );
    assert_eq!(r.status, 201, "{}", r.text);
    let v = search(&srv, "bulk", &json!({"filters": {"record_type": "sheet"}}));
    assert_eq!(v["metadata"]["total_estimate"], 1, "{v}");
    assert_eq!(v["metadata"]["freshness"], "current");
}

#[test]
fn a_thousand_record_batch_is_searchable_when_answered() {
    let srv = common::start_dev(&[]);
    for round in 0..3 {
        let records: Vec<Value> = (0..1000)
            .map(|i| json!({"name": format!("Thousand {round} item {i}"), "round": round}))
            .collect();
        let r = post_json(&srv, "/api/v1/ingest/batch/thousand/item", &json!(records));
        assert_eq!(r["summary"]["accepted"], 1000);
        let v = search(
            &srv,
            "thousand",
            &json!({"filters": {"round": round}, "limit": 1}),
        );
        assert_eq!(v["metadata"]["total_estimate"], 1000, "round {round}: {v}");
    }
    let v = search(&srv, "thousand", &json!({}));
    assert_eq!(v["metadata"]["total_estimate"], 3000);
}

/// The entities dialect keeps API.md's lag (its writes do not wait), and a search says when it
/// may be missing some of them.
#[test]
fn freshness_says_when_entities_writes_are_still_being_indexed() {
    let srv = common::start_dev(&[]);
    let records: Vec<Value> = (0..10_000)
        .map(|i| json!({"name": format!("Backlog item {i}")}))
        .collect();
    srv.ingest("acme", "backlog", "item", &json!({"records": records}));
    let first = search(&srv, "backlog", &json!({"limit": 1}));
    assert_eq!(first["metadata"]["freshness"], "indexing", "{first}");
    // Another tenant's backlog is not this tenant's concern.
    let other = srv.search("rival", "backlog", &json!({})).json();
    assert_eq!(other["metadata"]["freshness"], "current", "{other}");
    let caught_up = common::wait_for(std::time::Duration::from_secs(30), || {
        let v = search(&srv, "backlog", &json!({"limit": 1}));
        v["metadata"]["freshness"] == "current"
    });
    assert!(caught_up);
    let v = search(&srv, "backlog", &json!({"limit": 1}));
    assert_eq!(v["metadata"]["total_estimate"], 10_000);
}

/// Open's anonymous readers get the same results shape and list mode, but not `freshness`:
/// it would tell them when the published tenant writes, private records included.
#[test]
fn open_search_answers_both_vocabularies_without_freshness() {
    let srv = common::start_dev(&[("OPEN_TENANT_ID", "acme")]);
    post_json(
        &srv,
        "/api/v1/records",
        &json!({"collection": "pub", "record_type": "part", "name": "Published gear",
                "data": {"teeth": 9}, "visibility": "public"}),
    );
    let keyed = search(&srv, "pub", &json!({}));
    assert_eq!(keyed["metadata"]["freshness"], "current");
    let r = srv.post("/open/v1/search/pub").json(&json!({})).send();
    assert_eq!(r.status, 200, "{}", r.text);
    let v = r.json();
    assert_eq!(names(&v), vec!["Published gear"]);
    assert_both_vocabularies(&v["results"][0]);
    assert_eq!(v["metadata"]["query_type"], "list");
    assert!(v["metadata"].get("freshness").is_none(), "{v}");
}
