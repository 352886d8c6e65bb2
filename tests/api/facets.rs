//! Search facets: counts per `vertical_data` value over a search's whole result set. Expected
//! counts are computed here from the data ingested (or from every result the search pages
//! through), never taken from the engine.

use std::cmp::Ordering;
use std::collections::HashMap;

use serde_json::{json, Value};

use crate::common::{self, Server};

const MATERIALS: [&str; 4] = ["Stainless Steel", "carbon steel", "Brass", "nylon"];
const N: usize = 60;

/// The test catalog: record `i`'s attributes cycle with different periods, so each query
/// below selects a different mix.
fn catalog() -> Vec<Value> {
    (0..N)
        .map(|i| {
            let kind = if i % 3 == 0 { "Hex" } else { "Socket" };
            let length = [json!(10), json!(20), json!(25.5)][i % 3].clone();
            json!({
                "name": format!("{kind} bolt {i:02}"),
                "source_id": format!("src-{i}"),
                "vertical_data": {
                    "part_number": format!("QX-{:05}", 70000 + i),
                    "material": MATERIALS[i % 4],
                    "thread": format!("M{}", 4 + 2 * (i % 5)),
                    "length_mm": length,
                    "in_stock": i % 2 == 0,
                    // g00..g09 three times each, g10..g24 twice: 25 values, ties at the cut.
                    "grade": format!("g{:02}", i % 25),
                }
            })
        })
        .collect()
}

fn load(srv: &Server, tenant: &str, vertical: &str, records: &[Value]) {
    let r = srv.ingest(tenant, vertical, "item", &json!({ "records": records }));
    srv.wait_indexed(tenant, r["entity_ids"].as_array().unwrap());
}

/// Facet values as documented: strings lower-cased, numbers and booleans as they are.
fn normalized(v: &Value) -> Value {
    match v {
        Value::String(s) => Value::String(s.to_lowercase()),
        other => other.clone(),
    }
}

fn value_order(a: &Value, b: &Value) -> Ordering {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64().unwrap().total_cmp(&y.as_f64().unwrap()),
        (Value::String(x), Value::String(y)) => x.cmp(y),
        (Value::Bool(x), Value::Bool(y)) => x.cmp(y),
        _ => panic!("mixed types in test data"),
    }
}

/// Top 20 values of `field` over `records` (their `vertical_data`), by count then value.
fn expected(records: &[&Value], field: &str) -> Value {
    let mut counts: Vec<(Value, u64)> = Vec::new();
    for r in records {
        if let Some(v) = r.get(field) {
            let v = normalized(v);
            match counts.iter_mut().find(|(x, _)| *x == v) {
                Some((_, n)) => *n += 1,
                None => counts.push((v, 1)),
            }
        }
    }
    counts.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| value_order(&a.0, &b.0)));
    counts.truncate(20);
    Value::Array(
        counts
            .into_iter()
            .map(|(value, count)| json!({"value": value, "count": count}))
            .collect(),
    )
}

fn data_of(records: &[Value]) -> Vec<&Value> {
    records.iter().map(|r| &r["vertical_data"]).collect()
}

fn search_ok(srv: &Server, tenant: &str, vertical: &str, body: &Value) -> Value {
    let r = srv.search(tenant, vertical, body);
    assert_eq!(r.status, 200, "{body}: {}", r.text);
    r.json()
}

/// Runs `body` asking for one page of up to 100 (the whole result set here) and checks that its
/// facets are exactly the counts over the results returned. Returns the response.
fn assert_facets_describe_results(
    srv: &Server,
    tenant: &str,
    vertical: &str,
    body: &Value,
    fields: &[&str],
) -> Value {
    let mut body = body.clone();
    body["limit"] = json!(100);
    body["facets"] = json!(fields);
    let r = srv.search(tenant, vertical, &body);
    assert_eq!(r.status, 200, "{body}: {}", r.text);
    let v = r.json();
    let results = v["results"].as_array().unwrap();
    assert!(
        v["pagination"]["has_more"] == false,
        "{body}: more than a page"
    );
    let data: Vec<&Value> = results.iter().map(|r| &r["vertical_data"]).collect();
    for f in fields {
        assert_eq!(v["facets"][f], expected(&data, f), "{body}: facet {f}");
    }
    // In the order asked (the test's JSON maps sort keys, so read the text).
    let start = r.text.find("\"facets\":{").unwrap();
    let at: Vec<usize> = fields
        .iter()
        .map(|f| start + r.text[start..].find(&format!("\"{f}\":[")).unwrap())
        .collect();
    assert!(at.windows(2).all(|w| w[0] < w[1]), "{}", r.text);
    v
}

fn total(v: &Value) -> u64 {
    v["metadata"]["total_estimate"].as_u64().unwrap()
}

#[test]
fn facets_count_the_whole_result_set_for_every_query_shape() {
    let srv = common::start_dev(&[]);
    let records = catalog();
    load(&srv, "acme", "parts", &records);
    // Another tenant's values share the index (and the columns) but are never counted.
    let other: Vec<Value> = (0..5)
        .map(|i| json!({"name": format!("Hex bolt other {i}"),
                          "vertical_data": {"material": "Unobtainium", "grade": "g00", "length_mm": 10}}))
        .collect();
    load(&srv, "other", "parts", &other);
    let all = data_of(&records);
    let fields = ["material", "thread", "length_mm", "in_stock", "grade"];
    let subset = |pred: &dyn Fn(usize) -> bool| -> Vec<&Value> {
        all.iter()
            .enumerate()
            .filter(|(i, _)| pred(*i))
            .map(|(_, v)| *v)
            .collect()
    };

    // A page of 5 still counts the whole set.
    let cases: Vec<(Value, Vec<&Value>)> = vec![
        (json!({"query": "hex"}), subset(&|i| i % 3 == 0)),
        (
            json!({"query": "bolt", "filters": {"in_stock": true}}),
            subset(&|i| i % 2 == 0),
        ),
        (
            json!({"filters": {"material": "brass"}}),
            subset(&|i| i % 4 == 2),
        ),
        (
            json!({"query": "hex", "sort": "-length_mm"}),
            subset(&|i| i % 3 == 0),
        ),
        (json!({}), all.clone()),
        (json!({"query": ""}), all.clone()),
        // No `titanium` anywhere: the filters are relaxed, and the counts follow the results.
        (
            json!({"query": "hex", "filters": {"material": "titanium"}}),
            subset(&|i| i % 3 == 0),
        ),
    ];
    for (body, set) in cases {
        let mut asked = body.clone();
        asked["facets"] = json!(fields);
        asked["limit"] = json!(5);
        let v = search_ok(&srv, "acme", "parts", &asked);
        assert_eq!(total(&v), set.len() as u64, "{asked}");
        for f in fields {
            assert_eq!(v["facets"][f], expected(&set, f), "{asked}: {f}");
        }
        assert!(!v.to_string().contains("unobtainium"), "{v}");
        assert_facets_describe_results(&srv, "acme", "parts", &body, &fields);
    }

    // The relaxed-filter answer says so, and its counts are the unfiltered ones.
    let v = search_ok(
        &srv,
        "acme",
        "parts",
        &json!({"query": "hex", "filters": {"material": "titanium"}, "facets": ["material"]}),
    );
    assert_eq!(
        v["metadata"]["zero_result_fallback_used"],
        "relaxed_filters"
    );

    // Identifier queries: the pinned entity, then whatever the words find on later pages.
    for q in ["QX-70003", "QX-70003 hex", "socket QX-70004"] {
        let v =
            assert_facets_describe_results(&srv, "acme", "parts", &json!({"query": q}), &fields);
        assert_eq!(v["metadata"]["query_type"], "identifier", "{q}");
    }
    // A typo the fuzzy fallback answers (a wrong first letter is not corrected in place),
    // ranked and sorted.
    for body in [
        json!({"query": "xocket"}),
        json!({"query": "xocket", "sort": "name"}),
        json!({"query": "xocket", "filters": {"in_stock": false}}),
    ] {
        let v = assert_facets_describe_results(&srv, "acme", "parts", &body, &fields);
        assert_eq!(v["metadata"]["zero_result_fallback_used"], "fuzzy", "{v}");
        assert!(!v["results"].as_array().unwrap().is_empty(), "{v}");
    }

    // Nothing matched: every field asked, each empty.
    let v = search_ok(
        &srv,
        "acme",
        "parts",
        &json!({"query": "zzzqqqxxx", "facets": ["material", "grade"]}),
    );
    assert_eq!(v["facets"], json!({"material": [], "grade": []}));
    let v = search_ok(
        &srv,
        "acme",
        "nowhere",
        &json!({"facets": ["material"], "sort": "-length_mm"}),
    );
    assert_eq!(v["facets"], json!({"material": []}));
}

#[test]
fn facet_values_have_their_json_type_truncate_at_20_and_work_as_filters() {
    let srv = common::start_dev(&[]);
    let records = catalog();
    load(&srv, "acme", "parts", &records);
    let all = data_of(&records);

    let v = search_ok(
        &srv,
        "acme",
        "parts",
        &json!({"facets": ["length_mm", "in_stock", "grade", "material", "nope"]}),
    );
    let facets = &v["facets"];
    assert_eq!(
        facets["length_mm"],
        json!([{"value": 10, "count": 20}, {"value": 20, "count": 20}, {"value": 25.5, "count": 20}])
    );
    assert_eq!(
        facets["in_stock"],
        json!([{"value": false, "count": 30}, {"value": true, "count": 30}])
    );
    // 25 grades: g00..g09 three times, then the ties at two broken by value, cut at 20.
    let grades = facets["grade"].as_array().unwrap();
    assert_eq!(grades.len(), 20);
    assert_eq!(facets["grade"], expected(&all, "grade"));
    assert_eq!(grades[9], json!({"value": "g09", "count": 3}));
    assert_eq!(grades[10], json!({"value": "g10", "count": 2}));
    assert_eq!(grades[19], json!({"value": "g19", "count": 2}));
    // A field no record has is an empty list, not an error.
    assert_eq!(facets["nope"], json!([]));
    // Strings are counted lower-cased, one value per spelling-insensitive string.
    assert_eq!(facets["material"][0]["value"], "brass");
    assert!(v.to_string().contains("\"stainless steel\""), "{v}");

    // Clicking a value: the value as a filter finds exactly `count` records, in both the
    // filter-only and the text-query form.
    for field in ["material", "length_mm", "in_stock", "grade"] {
        for fc in facets[field].as_array().unwrap() {
            let count = fc["count"].as_u64().unwrap();
            let body = json!({"filters": {field: fc["value"].clone()}, "limit": 100});
            let hits = search_ok(&srv, "acme", "parts", &body);
            assert_eq!(total(&hits), count, "{body}");
            assert_eq!(hits["results"].as_array().unwrap().len() as u64, count);
            let body =
                json!({"query": "bolt", "filters": {field: fc["value"].clone()}, "limit": 100});
            let hits = search_ok(&srv, "acme", "parts", &body);
            assert_eq!(
                hits["results"].as_array().unwrap().len() as u64,
                count,
                "{body}"
            );
        }
    }

    // No facets asked: no `facets` key; other formats carry none.
    let v = search_ok(&srv, "acme", "parts", &json!({"query": "hex"}));
    assert!(v.get("facets").is_none(), "{v}");
    let r = srv.search(
        "acme",
        "parts",
        &json!({"query": "hex", "format": "compact", "facets": ["material"]}),
    );
    assert_eq!(r.status, 200, "{}", r.text);
}

#[test]
fn facets_work_in_both_dialects_and_on_get() {
    let srv = common::start_dev(&[]);
    let colors = ["Red", "blue", "red", "green", "blue", "red"];
    for (i, color) in colors.iter().enumerate() {
        let r = srv
            .post("/api/v1/records")
            .tenant("acme")
            .json(&json!({"collection": "tools", "record_type": "tool",
                          "name": format!("Wrench {i}"), "data": {"color": color, "size": 8 + i % 2}}))
            .send();
        assert_eq!(r.status, 201, "{}", r.text);
    }
    let data: Vec<Value> = colors
        .iter()
        .enumerate()
        .map(|(i, c)| json!({"color": c, "size": 8 + i % 2}))
        .collect();
    let data: Vec<&Value> = data.iter().collect();
    let want = json!({"color": expected(&data, "color"), "size": expected(&data, "size")});
    assert_eq!(
        want["color"][0],
        json!({"value": "red", "count": 3}),
        "test data"
    );

    let v = search_ok(
        &srv,
        "acme",
        "tools",
        &json!({"query": "wrench", "facets": ["color", "size"]}),
    );
    assert_eq!(v["facets"], want);
    for path in [
        "/api/v1/search/tools?q=wrench&facets=color,size",
        "/api/v1/search/tools?facets=color,%20size",
        "/api/v1/search/tools?facets=color,size&limit=1",
    ] {
        let r = srv.get(path).tenant("acme").send();
        assert_eq!(r.status, 200, "{path}: {}", r.text);
        assert_eq!(r.json()["facets"], want, "{path}");
    }
    // GET filters still apply beside facets.
    let r = srv
        .get("/api/v1/search/tools?color=blue&facets=color")
        .tenant("acme")
        .send();
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        r.json()["facets"],
        json!({"color": [{"value": "blue", "count": 2}]})
    );
    for bad in ["facets=", "facets=color,color", "facets=a,,b"] {
        srv.get(&format!("/api/v1/search/tools?{bad}"))
            .tenant("acme")
            .send()
            .expect_error(422, "validation_error");
    }
}

#[test]
fn open_counts_only_public_records() {
    let srv = common::start_dev(&[("OPEN_TENANT_ID", "pub")]);
    let records: Vec<Value> = (0..12)
        .map(|i| {
            json!({"name": format!("Open bolt {i}"),
                   "visibility": if i % 3 == 0 { "private" } else { "public" },
                   "vertical_data": {"material": if i % 3 == 0 { "secret alloy" } else { MATERIALS[i % 2] },
                                     "size": i % 4}})
        })
        .collect();
    load(&srv, "pub", "parts", &records);
    let public: Vec<&Value> = records
        .iter()
        .filter(|r| r["visibility"] == "public")
        .map(|r| &r["vertical_data"])
        .collect();
    for body in [
        json!({"query": "bolt", "facets": ["material", "size"]}),
        json!({"facets": ["material", "size"]}),
        json!({"filters": {"size_min": 0}, "facets": ["material", "size"]}),
    ] {
        let r = srv.post("/open/v1/search/parts").json(&body).send();
        assert_eq!(r.status, 200, "{}", r.text);
        let v = r.json();
        assert_eq!(
            v["facets"]["material"],
            expected(&public, "material"),
            "{body}"
        );
        assert_eq!(v["facets"]["size"], expected(&public, "size"), "{body}");
        assert!(!r.text.contains("secret"), "{}", r.text);
    }
    let r = srv
        .get("/open/v1/search/parts?q=bolt&facets=material")
        .send();
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        r.json()["facets"]["material"],
        expected(&public, "material")
    );
    srv.post("/open/v1/search/parts")
        .json(&json!({"facets": "material"}))
        .send()
        .expect_error(422, "validation_error");
    // The tenant itself counts its private records too.
    let all = data_of(&records);
    let v = search_ok(&srv, "pub", "parts", &json!({"facets": ["material"]}));
    assert_eq!(v["facets"]["material"], expected(&all, "material"));
}

#[test]
fn bad_facet_lists_are_422_with_a_reason() {
    let srv = common::start_dev(&[]);
    load(&srv, "acme", "parts", &catalog()[..3]);
    let eleven: Vec<String> = (0..11).map(|i| format!("f{i}")).collect();
    let cases: Vec<(Value, &str)> = vec![
        (json!("material"), "array"),
        (json!({"material": true}), "array"),
        (json!([1, 2]), "not a field name"),
        (json!([["material"]]), "not a field name"),
        (json!(eleven), "at most 10"),
        (json!([""]), "empty"),
        (json!(["x".repeat(129)]), "128"),
        (json!(["material", "material"]), "twice"),
    ];
    for (facets, reason) in cases {
        let r = srv.search("acme", "parts", &json!({"query": "bolt", "facets": facets}));
        r.expect_error(422, "validation_error");
        assert!(r.text.contains(reason), "{facets}: {}", r.text);
    }
    // Ten distinct fields and `null` are fine.
    let ten = &eleven[..10];
    let r = srv.search("acme", "parts", &json!({"facets": ten}));
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["facets"].as_object().unwrap().len(), 10);
    let r = srv.search("acme", "parts", &json!({"facets": null}));
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(r.json().get("facets").is_none());
}

#[test]
fn facet_counts_are_per_record_not_per_array_item() {
    let srv = common::start_dev(&[]);
    let records = vec![
        json!({"name": "Kit a", "vertical_data": {"tags": ["Steel", "steel", "metric"]}}),
        json!({"name": "Kit b", "vertical_data": {"tags": ["metric"]}}),
        json!({"name": "Kit c", "vertical_data": {"tags": "steel"}}),
    ];
    load(&srv, "acme", "kits", &records);
    let v = search_ok(&srv, "acme", "kits", &json!({"facets": ["tags"]}));
    let mut want: HashMap<&str, u64> = HashMap::new();
    want.insert("metric", 2);
    want.insert("steel", 2);
    assert_eq!(
        v["facets"]["tags"],
        json!([{"value": "metric", "count": want["metric"]}, {"value": "steel", "count": want["steel"]}])
    );
}
