//! Search (API.md §6): relevance on a fixed catalog, identifiers, every filter operator, sort,
//! pagination, formats, fallbacks, isolation and validation.

use serde_json::{json, Value};

use crate::common::{self, Server};

fn catalog_server() -> Server {
    let srv = common::start_dev(&[("DEFAULT_PLAN", "enterprise")]);
    srv.load_catalog("acme");
    srv
}

fn first(srv: &Server, body: Value) -> Value {
    let r = srv.search("acme", "parts", &body);
    assert_eq!(r.status, 200, "{}", r.text);
    r.json()["results"][0].clone()
}

#[test]
fn relevance_on_the_fixture_catalog() {
    let srv = catalog_server();

    // An identifier ranks its part first with score 1.0, whatever case and separators.
    for q in ["SS-M8-40-A2", "ss m8 40 a2", "ss_m8/40.a2"] {
        let r = srv.search("acme", "parts", &json!({"query": q}));
        let body = r.json();
        assert_eq!(
            body["results"][0]["vertical_data"]["part_number"], "SS-M8-40-A2",
            "{q}"
        );
        assert_eq!(body["results"][0]["score"], 1.0, "{q}");
        assert_eq!(body["metadata"]["query_type"], "identifier", "{q}");
        assert_eq!(body["metadata"]["search_mode"], "identifier", "{q}");
        assert!(body["results"][1]["score"].as_f64().unwrap() < 1.0);
    }
    let top = first(&srv, json!({"query": "6204-2RS"}));
    assert_eq!(top["name"], "Deep groove ball bearing 6204-2RS");
    let top = first(&srv, json!({"query": "7316577012345"}));
    assert_eq!(top["vertical_data"]["part_number"], "6204-2RS", "EAN-13");
    let top = first(&srv, json!({"query": "67-63-0"}));
    assert_eq!(top["vertical_data"]["cas"], "67-63-0", "CAS number");

    // Standards: every DIN 933 part before anything else. A standard is shared by many parts,
    // so it narrows the results but does not identify one (scores below 1.0).
    let r = srv
        .search("acme", "parts", &json!({"query": "DIN 933", "limit": 100}))
        .json();
    let results = r["results"].as_array().unwrap();
    let din: Vec<_> = results
        .iter()
        .take_while(|x| x["vertical_data"]["standard"] == "DIN 933")
        .collect();
    assert_eq!(din.len(), 6, "six zinc bolts are DIN 933");
    assert!(results.iter().all(|x| x["score"].as_f64().unwrap() < 1.0));
    assert_eq!(r["metadata"]["query_type"], "identifier");

    // Natural keywords: stainless M8 bolts above everything else.
    let names = srv.search_names("acme", &json!({"query": "stainless M8 bolt"}));
    assert!(
        names[0].starts_with("Hex bolt M8") && names[0].contains("stainless"),
        "{names:?}"
    );
    assert!(
        names[1].starts_with("Hex bolt M8") && names[1].contains("stainless"),
        "{names:?}"
    );

    // A typo falls back to typo-tolerant matching, and says so.
    let r = srv
        .search("acme", "parts", &json!({"query": "bering"}))
        .json();
    assert_eq!(r["metadata"]["zero_result_fallback_used"], "fuzzy");
    assert!(r["results"][0]["name"]
        .as_str()
        .unwrap()
        .contains("bearing"));
    let r = srv
        .search("acme", "parts", &json!({"query": "stainles"}))
        .json();
    assert_eq!(r["metadata"]["zero_result_fallback_used"], "fuzzy");
    assert!(r["results"][0]["name"]
        .as_str()
        .unwrap()
        .contains("stainless"));

    // A misspelled word beside correct ones is corrected as typed, before stemming (the stem
    // of "stainles" is far from that of "stainless"), into the close word that occurs with the
    // query's other words ("seel" is one edit from the commoner "steel" too), so the parts
    // holding every word rank first. The query's other words match as typed: no fallback.
    for (q, want) in [
        ("stainles hex bolt", "stainless"),
        ("shaft seel", "Radial shaft seal"),
    ] {
        let r = srv.search("acme", "parts", &json!({"query": q})).json();
        let top = &r["results"][0];
        assert!(top["name"].as_str().unwrap().contains(want), "{q}: {r}");
        assert!(top["score"].as_f64().unwrap() > 0.5, "{q}: every word: {r}");
        assert_eq!(r["metadata"]["zero_result_fallback_used"], Value::Null);
    }
}

/// The scores of a search answer's results, in order.
fn scores(answer: &Value) -> Vec<f64> {
    answer["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["score"].as_f64().unwrap())
        .collect()
}

#[test]
fn scores_are_in_unit_interval_and_non_increasing() {
    let srv = catalog_server();
    for q in [
        "hex bolt",
        "steel",
        "stainless M8 bolt for outdoor use",
        "DIN 933 zinc",
    ] {
        let r = srv
            .search("acme", "parts", &json!({"query": q, "limit": 100}))
            .json();
        let scores = scores(&r);
        assert!(!scores.is_empty(), "{q}");
        assert!(
            scores.iter().all(|s| (0.0..=1.0).contains(s)),
            "{q}: {scores:?}"
        );
        assert!(scores.windows(2).all(|w| w[0] >= w[1]), "{q}: {scores:?}");
    }
    let r = srv
        .search(
            "acme",
            "parts",
            &json!({"query": "stainless M8 bolt for outdoor use"}),
        )
        .json();
    assert_eq!(r["metadata"]["query_type"], "natural_language");
    let r = srv
        .search("acme", "parts", &json!({"query": "hex bolt"}))
        .json();
    assert_eq!(r["metadata"]["query_type"], "keyword");
    assert_eq!(r["metadata"]["search_mode"], "fulltext");
}

#[test]
fn every_filter_operator() {
    let srv = catalog_server();
    let count = |filters: Value| -> usize {
        let r = srv.search("acme", "parts", &json!({"filters": filters, "limit": 100}));
        assert_eq!(r.status, 200, "{}", r.text);
        let body = r.json();
        assert_eq!(body["metadata"]["search_mode"], "filter");
        body["results"].as_array().unwrap().len()
    };
    assert_eq!(
        count(json!({"material": "STAINLESS STEEL"})),
        9,
        "equality ignores case"
    );
    assert_eq!(count(json!({"brand": "SKF,ABB"})), 2, "comma means any-of");
    assert_eq!(count(json!({"brand_in": "skf,fag"})), 2);
    assert_eq!(count(json!({"brand_in": ["SKF", "FAG", "ABB"]})), 3);
    assert_eq!(count(json!({"diameter_mm": 8})), 7, "number equality");
    assert_eq!(
        count(json!({"diameter_mm": "8"})),
        7,
        "number given as string"
    );
    assert_eq!(count(json!({"diameter_mm_min": 10})), 5);
    assert_eq!(count(json!({"diameter_mm_max": 6})), 4);
    assert_eq!(count(json!({"diameter_mm_gt": 8})), 5);
    assert_eq!(count(json!({"diameter_mm_lt": 8})), 4);
    assert_eq!(
        count(json!({"price_eur_min": 1.1, "price_eur_max": 5.6})),
        4,
        "inclusive bounds"
    );
    assert_eq!(count(json!({"in_stock": false})), 3, "JSON boolean");
    assert_eq!(count(json!({"in_stock": "false"})), 3, "boolean as string");
    assert_eq!(count(json!({"hazardous": true})), 1);
    assert_eq!(
        count(json!({"material": "stainless steel", "thread": "M8", "standard": "ISO 4017"})),
        2,
        "keys AND"
    );
    assert_eq!(
        count(json!({"efficiency_class": "IE3", "diameter_mm": 8})),
        0,
        "a missing key never matches"
    );
    assert_eq!(count(json!({"entity_type": "item"})), 21);
    assert_eq!(count(json!({"entity_type": "other"})), 0);
    assert_eq!(count(json!({"source_type": "BATCH"})), 21);
    assert_eq!(count(json!({"grade": "a2-70"})), 6);
}

/// A range over a key with few values in the index is answered as those values, one with
/// many as a range: both find exactly the records in range, integral and fractional values
/// alike, with and without a query.
#[test]
fn numeric_ranges_with_few_and_many_values() {
    let srv = common::start_dev(&[]);
    // 200 distinct lengths: 0, 0.5, 1, ... 99.5 (integral values and fractional ones are
    // indexed as different term types).
    let records: Vec<Value> = (0..200)
        .map(|i| json!({"name": format!("spacer {i}"), "vertical_data": {"length_mm": f64::from(i) / 2.0}}))
        .collect();
    let r = srv.ingest("acme", "parts", "item", &json!({ "records": records }));
    srv.wait_indexed("acme", r["entity_ids"].as_array().unwrap());
    let total = |body: Value| -> u64 {
        let r = srv.search("acme", "parts", &body);
        assert_eq!(r.status, 200, "{}", r.text);
        r.json()["metadata"]["total_estimate"].as_u64().unwrap()
    };
    for (filters, want) in [
        // 21 values in range.
        (json!({"length_mm_min": 10, "length_mm_max": 20}), 21),
        (json!({"length_mm_gt": 10, "length_mm_lt": 12}), 3),
        // Several bounds on one end: the narrowest holds.
        (
            json!({"length_mm_min": 10, "length_mm_gt": 10, "length_mm_max": 11}),
            2,
        ),
        (
            json!({"length_mm_max": 30, "length_mm_lt": 11, "length_mm_gt": 9}),
            3,
        ),
        (json!({"length_mm_max": 0.5}), 2),
        (json!({"length_mm_min": 99.5}), 1),
        (json!({"length_mm_min": 100}), 0),
        // More values in range than a range is resolved into.
        (json!({"length_mm_min": 10}), 180),
        (json!({"length_mm_lt": 60.25}), 121),
        (json!({"length_mm_min": 0.25, "length_mm_max": 99.25}), 198),
    ] {
        assert_eq!(total(json!({ "filters": filters })), want, "{filters}");
        if want > 0 {
            // (With none in range, a query answers without its filters: relaxed_filters.)
            let spacers = total(json!({"query": "spacer", "filters": filters, "limit": 5}));
            assert_eq!(spacers, want, "with a query: {filters}");
        }
    }
}

/// "40 mm shaft" reads as the value of the attribute `shaft_mm`: the seal for a 40 mm shaft
/// ranks above one whose name holds 40 as its outer diameter, though both hold every word.
#[test]
fn a_measure_next_to_an_attribute_name_ranks_by_that_attribute() {
    let srv = common::start_dev(&[]);
    let seal = |name: &str, shaft: u32, outer: u32| json!({"name": name, "vertical_data": {"shaft_mm": shaft, "outer_mm": outer, "material": "FKM"}});
    let records = json!({"records": [
        seal("Radial shaft seal 25x40x7 FKM", 25, 40),
        seal("Radial shaft seal 40x52x7 FKM", 40, 52),
        seal("Radial shaft seal 30x40x7 FKM", 30, 40),
    ]});
    let r = srv.ingest("acme", "parts", "item", &records);
    srv.wait_indexed("acme", r["entity_ids"].as_array().unwrap());
    for q in [
        "shaft seal for a 40 mm shaft",
        "FKM seal 40mm shaft",
        "seal with a shaft of 40 mm",
        // The key is `shaft_mm`; a plural names it too.
        "seal for 40 mm shafts",
        // A decimal comma.
        "shaft seal for a 40,0 mm shaft",
    ] {
        let r = srv.search("acme", "parts", &json!({"query": q})).json();
        let results = r["results"].as_array().unwrap();
        assert_eq!(
            results[0]["name"], "Radial shaft seal 40x52x7 FKM",
            "{q}: {r}"
        );
        let (first, second) = (results[0]["score"].as_f64(), results[1]["score"].as_f64());
        assert!(first > second, "{q}: {first:?} {second:?}");
    }
    // A measure next to a word that names no attribute ranks as before: by the words.
    let r = srv
        .search("acme", "parts", &json!({"query": "seal 40 mm FKM"}))
        .json();
    let scores = scores(&r);
    assert_eq!(scores.len(), 3, "{r}");
    assert!(scores.iter().all(|s| *s == scores[0]), "{scores:?}");
}

#[test]
fn an_attribute_name_of_two_words_binds_a_measure() {
    let srv = common::start_dev(&[]);
    let ring = |id: f64, cs: f64| {
        json!({"name": format!("O-ring {id}x{cs} NBR"),
            "vertical_data": {"inner_diameter_mm": id, "cross_section_mm": cs, "material": "NBR"}})
    };
    let records =
        json!({"records": [ring(3.0, 1.5), ring(20.0, 3.0), ring(3.0, 2.0), ring(30.0, 2.5)]});
    let r = srv.ingest("acme", "parts", "item", &records);
    srv.wait_indexed("acme", r["entity_ids"].as_array().unwrap());
    for (q, want) in [
        ("NBR o-ring with 3 mm cross section", "O-ring 20x3 NBR"),
        ("o-ring 3 mm cross-sections", "O-ring 20x3 NBR"),
        (
            "o-ring with an inner diameter of 30 mm",
            "O-ring 30x2.5 NBR",
        ),
        // Two measures, each with its own name.
        ("cross section 3 mm inner diameter 20 mm", "O-ring 20x3 NBR"),
        ("inner diameter 3 mm cross section 2 mm", "O-ring 3x2 NBR"),
    ] {
        let r = srv.search("acme", "parts", &json!({"query": q})).json();
        assert_eq!(r["results"][0]["name"], want, "{q}: {r}");
    }
}

#[test]
fn sort_filter_only_order_and_pagination() {
    let srv = catalog_server();
    let prices = |sort: &str| -> Vec<f64> {
        let r = srv
            .search(
                "acme",
                "parts",
                &json!({"filters": {"material": "stainless steel"}, "sort": sort, "limit": 100}),
            )
            .json();
        r["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x["vertical_data"]["price_eur"].as_f64().unwrap())
            .collect()
    };
    let asc = prices("price_eur");
    assert!(asc.windows(2).all(|w| w[0] <= w[1]), "{asc:?}");
    let desc = prices("-price_eur");
    assert!(desc.windows(2).all(|w| w[0] >= w[1]), "{desc:?}");
    let names = srv.search_names(
        "acme",
        &json!({"query": "bolt", "sort": "-name", "limit": 100}),
    );
    let mut sorted = names.clone();
    sorted.sort_by_key(|n| std::cmp::Reverse(n.to_lowercase()));
    assert_eq!(names, sorted);

    // Filter-only results come newest first: touch one entity and it leads.
    let r = srv
        .search("acme", "parts", &json!({"filters": {"brand": "FAG"}}))
        .json();
    let id = r["results"][0]["entity_id"].as_str().unwrap().to_owned();
    srv.req("PATCH", &format!("/api/v1/entities/{id}"))
        .tenant("acme")
        .json(&json!({"vertical_data": {"note": "x"}}))
        .send();
    assert!(common::wait_for(std::time::Duration::from_secs(5), || {
        let r = srv
            .search(
                "acme",
                "parts",
                &json!({"filters": {"entity_type": "item"}, "limit": 1}),
            )
            .json();
        r["results"][0]["entity_id"] == id.as_str()
    }));

    // Offset pagination.
    let page = |offset: usize| {
        srv.search(
            "acme",
            "parts",
            &json!({"query": "bolt", "limit": 5, "offset": offset}),
        )
        .json()
    };
    let p0 = page(0);
    assert_eq!(
        p0["pagination"],
        json!({"offset": 0, "limit": 5, "has_more": true})
    );
    let total = p0["metadata"]["total_estimate"].as_u64().unwrap() as usize;
    assert_eq!(total, 12, "twelve hex bolts");
    let last = page(total - 2);
    assert_eq!(last["results"].as_array().unwrap().len(), 2);
    assert_eq!(last["pagination"]["has_more"], false);
    let ids = |v: &Value| {
        v["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x["entity_id"].clone())
            .collect::<Vec<_>>()
    };
    let p1 = page(5);
    assert!(
        ids(&p0).iter().all(|i| !ids(&p1).contains(i)),
        "pages do not overlap"
    );
}

#[test]
fn get_search_and_output_formats() {
    let srv = catalog_server();
    let r = srv
        .get("/api/v1/search/parts?q=bearing&limit=2&in_stock=true")
        .tenant("acme")
        .send();
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["results"].as_array().unwrap().len(), 2);

    let r = srv
        .get("/api/v1/search/parts?q=bearing&format=compact")
        .tenant("acme")
        .send();
    assert!(r.header("content-type").unwrap().starts_with("text/plain"));
    let lines: Vec<_> = r.text.lines().collect();
    assert_eq!(lines[0], "# | Name | Score | Key Data");
    assert!(lines[2].starts_with("1 | Deep groove ball bearing"));
    assert!(lines[2].contains("brand: "));

    let r = srv.search(
        "acme",
        "parts",
        &json!({"query": "6204-2RS", "format": "yaml", "limit": 1}),
    );
    assert!(r.header("content-type").unwrap().starts_with("text/plain"));
    assert!(
        r.text
            .starts_with("- name: \"Deep groove ball bearing 6204-2RS\"\n  score: 1.000000\n"),
        "{}",
        r.text
    );
    assert!(r.text.contains("  brand: \"SKF\"\n"));
    assert!(r.text.contains("  bore_mm: 20\n"));
}

#[test]
fn metadata_is_complete() {
    let srv = catalog_server();
    let r = srv
        .search("acme", "parts", &json!({"query": "bolt", "rerank": true}))
        .json();
    let m = &r["metadata"];
    for key in [
        "search_mode",
        "query_type",
        "processing_time_ms",
        "total_estimate",
        "zero_result_fallback_used",
        "reranked",
        "cache_hit",
        "timings",
        "index_rebuilding",
        "unknown_vertical",
        "unknown_collection",
        "freshness",
    ] {
        assert!(m.get(key).is_some(), "missing {key}: {m}");
    }
    assert_eq!(m["reranked"], false);
    assert!(m["timings"]["search_ms"].is_number() && m["timings"]["hydrate_ms"].is_number());
    let res = &r["results"][0];
    for key in [
        "entity_id",
        "record_id",
        "name",
        "score",
        "vertical",
        "collection",
        "entity_type",
        "record_type",
        "vertical_data",
        "collection_data",
        "description",
        "description_llm",
        "source_type",
        "updated_at",
    ] {
        assert!(res.get(key).is_some(), "missing {key}: {res}");
    }
}

#[test]
fn relaxed_filters_fallback() {
    let srv = catalog_server();
    let r = srv
        .search(
            "acme",
            "parts",
            &json!({"query": "bearing", "filters": {"brand": "Bosch"}}),
        )
        .json();
    assert_eq!(
        r["metadata"]["zero_result_fallback_used"],
        "relaxed_filters"
    );
    assert!(r["results"][0]["name"]
        .as_str()
        .unwrap()
        .contains("bearing"));
    let r = srv
        .search("acme", "parts", &json!({"query": "bearing"}))
        .json();
    assert_eq!(r["metadata"]["zero_result_fallback_used"], Value::Null);
}

#[test]
fn archived_draft_foreign_and_other_vertical_entities_never_appear() {
    let srv = catalog_server();
    let visible = |q: &str| srv.search_names("acme", &json!({"query": q, "limit": 100}));
    let create = |tenant: &str, name: &str, status: &str, vertical: &str| -> String {
        let r = srv.post("/api/v1/entities").tenant(tenant).json(&json!({"name": name, "vertical": vertical, "entity_type": "item", "status": status})).send();
        assert_eq!(r.status, 201, "{}", r.text);
        r.json()["id"].as_str().unwrap().to_owned()
    };
    let draft = create("acme", "Zirconium draft widget", "draft", "parts");
    create("rival", "Zirconium rival widget", "active", "parts");
    let other = create("acme", "Zirconium other-vertical widget", "active", "tools");
    let active = create("acme", "Zirconium active widget", "active", "parts");
    srv.wait_indexed("acme", &[json!(draft), json!(active), json!(other)]);
    assert_eq!(visible("zirconium"), vec!["Zirconium active widget"]);

    let r = srv
        .req("DELETE", &format!("/api/v1/entities/{active}"))
        .tenant("acme")
        .send();
    assert_eq!(r.status, 200);
    assert!(common::wait_for(std::time::Duration::from_secs(2), || {
        visible("zirconium").is_empty()
    }));
    // The rival sees only its own, and an unknown vertical is simply empty.
    assert_eq!(
        srv.search_names("rival", &json!({"query": "zirconium"})),
        vec!["Zirconium rival widget"]
    );
    let r = srv.search("acme", "nonexistent", &json!({"query": "bolt"}));
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["results"], json!([]));
}

#[test]
fn writes_are_searchable_within_one_second() {
    let srv = common::start_dev(&[]);
    for i in 0..5 {
        let name = format!("Freshness probe {i} quokka{i}");
        let r = srv.ingest(
            "acme",
            "parts",
            "item",
            &json!({"records": [{"name": name}]}),
        );
        let acked = std::time::Instant::now();
        let mut seen = false;
        while acked.elapsed() < std::time::Duration::from_secs(1) {
            if srv
                .search_names("acme", &json!({"query": format!("quokka{i}")}))
                .len()
                == 1
            {
                seen = true;
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        assert!(
            seen,
            "write {i} not searchable within 1 s (ingestion {})",
            r["ingestion_id"]
        );
    }
}

#[test]
fn search_validation_errors() {
    let srv = common::start_dev(&[]);
    let bad = |body: Value| {
        srv.search("acme", "parts", &body)
            .expect_error(422, "validation_error");
    };
    bad(json!({"query": "x".repeat(501)}));
    bad(json!({"limit": 0}));
    bad(json!({"sort": "price:desc"}));
    bad(json!({"query": "x", "limit": 0}));
    bad(json!({"query": "x", "limit": 101}));
    bad(json!({"query": "x", "offset": 10001}));
    bad(json!({"query": "x", "offset": -1}));
    bad(json!({"query": "x", "format": "xml"}));
    bad(json!({"query": "x", "filters": {"price_min": "cheap"}}));
    bad(json!({"query": "x", "filters": {"nested": {"a": 1}}}));
    bad(json!({"query": "x", "unknown": 1}));
    bad(json!({"query": "x", "sort": "-"}));
    let many: serde_json::Map<String, Value> =
        (0..21).map(|i| (format!("k{i}"), json!(1))).collect();
    bad(json!({"query": "x", "filters": many}));
    srv.post("/api/v1/search/parts")
        .tenant("acme")
        .raw(b"{\"query\":".to_vec(), "application/json")
        .send()
        .expect_error(400, "bad_request");
    srv.get("/api/v1/search/parts?q=x&limit=ten")
        .tenant("acme")
        .send()
        .expect_error(400, "bad_request");
    assert_eq!(
        srv.search("acme", "parts", &json!({"query": "x".repeat(500)}))
            .status,
        200
    );
}

#[test]
fn typo_tolerance_never_reaches_a_similarly_named_tenant() {
    let srv = common::start_dev(&[]);
    // "acme" and "acmf" are one edit apart, and so are their scoped terms.
    let r = srv.ingest(
        "acme",
        "parts",
        "item",
        &json!({"records": [{"name": "Zeppelin valve"}]}),
    );
    srv.wait_indexed("acme", r["entity_ids"].as_array().unwrap());
    let r = srv.ingest(
        "acmf",
        "parts",
        "item",
        &json!({"records": [{"name": "Unrelated gasket"}]}),
    );
    srv.wait_indexed("acmf", r["entity_ids"].as_array().unwrap());
    for q in ["zeppelin", "zepelin", "zeppelin valve", "valve"] {
        let body = srv.search("acmf", "parts", &json!({"query": q})).json();
        assert_eq!(body["results"], json!([]), "{q}: {body}");
    }
    assert_eq!(
        srv.search_names("acme", &json!({"query": "zepelin"})),
        vec!["Zeppelin valve"]
    );
    assert_eq!(
        srv.search_names("acmf", &json!({"query": "gaskt"})),
        vec!["Unrelated gasket"]
    );
}
