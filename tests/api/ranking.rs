//! Ranking of part queries (docs/search-ranking.md): standards narrow rather than pin down,
//! codes that name one entity score 1.0, and sizes and codes written in any common form meet.
//! Also the strictness of `sort` and unknown verticals.

use serde_json::{json, Value};

use crate::common::{self, Server};

/// A small fastener and bearing catalog, generated so each case has look-alikes to beat.
fn catalog() -> Vec<Value> {
    let mut r = Vec::new();
    for size in [5, 6, 8, 10, 12, 16, 20, 24] {
        for len in [20, 30, 40] {
            r.push(json!({
                "name": format!("Socket head cap screw ISO 4762 M{size}x{len} A2"),
                "vertical_data": {"part_number": format!("SHCS-M{size}-{len}-A2"),
                    "standard": "ISO 4762", "thread": format!("M{size}"), "length_mm": len,
                    "price_eur": 0.1 * size as f64}
            }));
        }
    }
    for size in [8, 10, 12, 16] {
        for len in [30, 50] {
            r.push(json!({
                "name": format!("Hex bolt DIN 933 M{size}x{len} zinc plated"),
                "vertical_data": {"part_number": format!("HB-M{size}-{len}-ZN"),
                    "standard": "DIN 933", "thread": format!("M{size}"), "length_mm": len}
            }));
            r.push(json!({
                "name": format!("Hex bolt ISO 4017 M{size}x{len} stainless"),
                "vertical_data": {"part_number": format!("HB4017-M{size}-{len}"),
                    "standard": "ISO 4017", "thread": format!("M{size}"), "length_mm": len}
            }));
        }
    }
    let more = json!([
        {"name": "Hex bolt M8x40 A2-70", "vertical_data": {"part_number": "HB-M8-40-A2-17", "length_mm": 40}},
        {"name": "Deep groove ball bearing 6204-2RS", "vertical_data": {"part_number": "6204-2RS-C3", "brand": "SKF"}},
        {"name": "Deep groove ball bearing 6204-ZZ", "vertical_data": {"part_number": "6204-ZZ-C3", "brand": "FAG"}},
        {"name": "Deep groove ball bearing 6304-2RS", "vertical_data": {"part_number": "6304-2RS-C3", "brand": "SKF"}},
        {"name": "Hex cap screw 1/4\"-20 x 1\" grade 5", "vertical_data": {"part_number": "HCS-UNC-1420"}},
        {"name": "Hex cap screw 5/16\"-18 x 1\" grade 5", "vertical_data": {"part_number": "HCS-UNC-51618"}},
        {"name": "Dowel pin Ø12 hardened", "vertical_data": {"part_number": "DP-12-H"}},
        {"name": "Dowel pin Ø10 hardened", "vertical_data": {"part_number": "DP-10-H"}},
        {"name": "Assortment box Würth fasteners", "vertical_data": {"part_number": "ASB-1"}},
        {"name": "Assortment box generic fasteners", "vertical_data": {"part_number": "ASB-2"}},
        {"name": "Threaded stud M16x50 DIN 976", "vertical_data": {"part_number": "TS-16-50"}},
        {"name": "Threaded stud M16x50 DIN 976 zinc", "vertical_data": {"part_number": "TS-16-50-ZN"}},
        {"name": "Spring washer 20 pack", "vertical_data": {"series": "RS-100"}},
        {"name": "Spring washer 30 pack", "vertical_data": {"series": "RS-100"}},
        {"name": "Spring washer 40 pack", "vertical_data": {"series": "RS-100"}},
        {"name": "Spring washer 50 pack", "vertical_data": {"series": "RS-100"}},
        {"name": "Spring washer 60 pack", "vertical_data": {"series": "RS-100"}},
    ]);
    r.extend(more.as_array().unwrap().iter().cloned());
    r
}

fn server() -> Server {
    let srv = common::start_dev(&[("DEFAULT_PLAN", "enterprise")]);
    let r = srv.ingest("acme", "parts", "item", &json!({"records": catalog()}));
    srv.wait_indexed("acme", r["entity_ids"].as_array().unwrap());
    srv
}

fn results(srv: &Server, body: Value) -> Vec<Value> {
    let r = srv.search("acme", "parts", &body);
    assert_eq!(r.status, 200, "{}", r.text);
    let v = r.json();
    assert_eq!(
        v["metadata"]["zero_result_fallback_used"],
        Value::Null,
        "{body}: {v}"
    );
    v["results"].as_array().unwrap().clone()
}

fn names(srv: &Server, q: &str) -> Vec<String> {
    results(srv, json!({"query": q, "limit": 100}))
        .iter()
        .map(|x| x["name"].as_str().unwrap().to_owned())
        .collect()
}

fn scores(rs: &[Value]) -> Vec<f64> {
    rs.iter().map(|x| x["score"].as_f64().unwrap()).collect()
}

fn assert_ordered(q: &str, s: &[f64]) {
    assert!(s.iter().all(|x| (0.0..=1.0).contains(x)), "{q}: {s:?}");
    assert!(s.windows(2).all(|w| w[0] >= w[1]), "{q}: {s:?}");
}

#[test]
fn standard_plus_size_puts_that_size_first() {
    let srv = server();
    let rs = results(&srv, json!({"query": "ISO 4762 M8", "limit": 100}));
    let top: Vec<&str> = rs[..3]
        .iter()
        .map(|x| x["name"].as_str().unwrap())
        .collect();
    assert!(
        top.iter().all(|n| n.contains("ISO 4762 M8x")),
        "the three M8 ISO 4762 screws first: {top:?}"
    );
    // Then the rest of the standard, before M8 parts of other standards.
    let next: Vec<&str> = rs[3..24]
        .iter()
        .map(|x| x["name"].as_str().unwrap())
        .collect();
    assert!(next.iter().all(|n| n.contains("ISO 4762")), "{next:?}");
    assert!(
        rs[24]["name"].as_str().unwrap().contains("M8"),
        "{:?}",
        rs[24]
    );
    // A standard is shared by many parts: it narrows, it does not identify.
    let s = scores(&rs);
    assert!(s.iter().all(|x| *x < 1.0), "{s:?}");
    assert_ordered("ISO 4762 M8", &s);
    let r = srv
        .search("acme", "parts", &json!({"query": "ISO 4762 M8"}))
        .json();
    assert_eq!(r["metadata"]["query_type"], "identifier");
}

#[test]
fn standard_plus_size_plus_kind() {
    let srv = server();
    let rs = results(&srv, json!({"query": "DIN 933 M12 hex bolt", "limit": 100}));
    let n: Vec<&str> = rs.iter().map(|x| x["name"].as_str().unwrap()).collect();
    assert!(
        n[..2]
            .iter()
            .all(|x| x.starts_with("Hex bolt DIN 933 M12x")),
        "{n:?}"
    );
    assert!(n[2..8].iter().all(|x| x.contains("DIN 933")), "{n:?}");
    // Then M12 hex bolts of another standard.
    assert!(
        n[8..10].iter().all(|x| x.contains("ISO 4017 M12x")),
        "{n:?}"
    );
    assert_ordered("DIN 933 M12 hex bolt", &scores(&rs));
    assert!(scores(&rs)[0] < 1.0);

    // A size written as a code (shared by four parts here, so a class) narrows together with
    // the standard, not instead of it.
    for q in ["ISO 4017 hex bolt M16x50", "hex bolt M16x50 ISO 4017"] {
        let rs = results(&srv, json!({"query": q, "limit": 100}));
        assert_eq!(rs[0]["name"], "Hex bolt ISO 4017 M16x50 stainless", "{q}");
        assert_ordered(q, &scores(&rs));
    }
}

#[test]
fn part_numbers_and_their_formatting_variants_score_one() {
    let srv = server();
    for q in [
        "HB-M8-40-A2-17",
        "hb-m8-40-a2-17",
        "HB M8 40 A2 17",
        "HB_M8_40_A2_17",
        "HBM840A217",
        "HB/M8/40/A2/17",
        "HB-M8-40-A2-17 datasheet",
    ] {
        let rs = results(&srv, json!({"query": q}));
        assert_eq!(
            rs[0]["vertical_data"]["part_number"], "HB-M8-40-A2-17",
            "{q}"
        );
        assert_eq!(rs[0]["score"], 1.0, "{q}");
        let s = scores(&rs);
        assert!(s[1..].iter().all(|x| *x < 1.0), "{q}: {s:?}");
        assert_ordered(q, &s);
    }
    // A code shared by more than a few entities is a series: it narrows, never 1.0.
    let rs = results(&srv, json!({"query": "RS-100"}));
    assert_eq!(rs.len(), 5, "{rs:?}");
    assert!(rs.iter().all(|x| x["vertical_data"]["series"] == "RS-100"));
    assert!(scores(&rs).iter().all(|x| *x < 1.0), "{:?}", scores(&rs));
}

#[test]
fn thread_and_dimension_forms() {
    let srv = server();
    // `M10` finds M10x30 (and every M10 part before anything else).
    let n = names(&srv, "M10");
    assert!(n.iter().any(|x| x.contains("M10x30")), "{n:?}");
    let m10 = n.iter().take_while(|x| x.contains("M10x")).count();
    assert_eq!(m10, 3 + 4, "{n:?}");
    // The dimension alone.
    let n = names(&srv, "10x30");
    assert!(n[0].contains("M10x30"), "{n:?}");
    let n = names(&srv, "M10x30");
    assert!(n[0].contains("M10x30"), "{n:?}");
}

#[test]
fn bearing_designations_with_suffixes() {
    let srv = server();
    let n = names(&srv, "6204");
    assert_eq!(n.len(), 2, "{n:?}");
    assert!(n.iter().all(|x| x.contains("6204-")), "{n:?}");
    let n = names(&srv, "SKF 6204 2RS");
    assert_eq!(n[0], "Deep groove ball bearing 6204-2RS");
    let n = names(&srv, "6204-2RS");
    assert_eq!(n[0], "Deep groove ball bearing 6204-2RS");
    // The closure suffix answers to the word a buyer uses for it.
    let sealed = [
        "Deep groove ball bearing 6204-2RS",
        "Deep groove ball bearing 6304-2RS",
    ];
    for q in ["sealed bearing", "sealed ball bearings"] {
        let mut n = names(&srv, q);
        assert_eq!(n[2], "Deep groove ball bearing 6204-ZZ", "{q}: {n:?}");
        n.truncate(2);
        n.sort();
        assert_eq!(n, sealed, "{q}");
    }
    let n = names(&srv, "sealed bearing 6204");
    assert_eq!(n[0], "Deep groove ball bearing 6204-2RS");
    let n = names(&srv, "shielded ball bearing");
    assert_eq!(n[0], "Deep groove ball bearing 6204-ZZ", "{n:?}");
    // A search for a seal is not a search for a sealed bearing.
    let r = srv
        .search(
            "acme",
            "parts",
            &json!({"query": "seal", "mode": "keyword"}),
        )
        .json();
    let found = r["results"].as_array().unwrap();
    assert!(
        found
            .iter()
            .all(|x| !x["name"].as_str().unwrap().contains("bearing")),
        "{r}"
    );
    // "RS-100" is a series, not a bearing's seal.
    assert!(!names(&srv, "sealed").iter().any(|n| n.contains("washer")));
}

#[test]
fn inch_threads() {
    let srv = server();
    for q in ["1/4-20", "1/4\"-20", "1/4 20"] {
        let n = names(&srv, q);
        assert_eq!(n[0], "Hex cap screw 1/4\"-20 x 1\" grade 5", "{q}: {n:?}");
    }
}

#[test]
fn diameters_and_units() {
    let srv = server();
    for q in ["12 mm", "12mm", "Ø12", "dowel pin 12 mm"] {
        let n = names(&srv, q);
        assert!(!n.is_empty(), "{q}");
        let pin = n.iter().position(|x| x == "Dowel pin Ø12 hardened");
        let other = n.iter().position(|x| x == "Dowel pin Ø10 hardened");
        assert!(pin.is_some(), "{q}: {n:?}");
        assert!(other.is_none_or(|o| pin < Some(o)), "{q}: {n:?}");
    }
    let n = names(&srv, "dowel pin 12 mm");
    assert_eq!(n[0], "Dowel pin Ø12 hardened");
}

#[test]
fn umlauts_and_their_transliterations() {
    let srv = server();
    for q in ["Würth", "Wuerth", "Wurth", "WÜRTH"] {
        let n = names(&srv, q);
        assert_eq!(n, vec!["Assortment box Würth fasteners"], "{q}");
    }
}

#[test]
fn plurals_find_singulars() {
    let srv = server();
    let bolts = names(&srv, "hex bolts");
    let bolt = names(&srv, "hex bolt");
    assert!(!bolts.is_empty());
    assert_eq!(bolts, bolt);
    let n = names(&srv, "dowel pins");
    assert!(n[0].starts_with("Dowel pin"), "{n:?}");
}

#[test]
fn sort_strictness() {
    let srv = server();
    // A field no entity of the vertical has: 422 naming the fields that can be sorted on.
    let r = srv.search("acme", "parts", &json!({"query": "bolt", "sort": "colour"}));
    r.expect_error(422, "validation_error");
    let detail = r.json()["detail"].as_str().unwrap().to_owned();
    for f in ["colour", "name", "updated_at", "length_mm", "part_number"] {
        assert!(detail.contains(f), "{f}: {detail}");
    }
    // Also for filter-only requests, and for a key only another tenant's entities have.
    let r = srv.ingest(
        "rival",
        "parts",
        "item",
        &json!({"records": [{"name": "Rival bolt", "vertical_data": {"colour": "red"}}]}),
    );
    srv.wait_indexed("rival", r["entity_ids"].as_array().unwrap());
    srv.search(
        "acme",
        "parts",
        &json!({"filters": {"standard": "DIN 933"}, "sort": "-colour"}),
    )
    .expect_error(422, "validation_error");
    let r = srv.search(
        "rival",
        "parts",
        &json!({"query": "bolt", "sort": "colour"}),
    );
    assert_eq!(r.status, 200, "{}", r.text);

    // Another engine's spelling of direction gets the hint.
    for (sort, hint) in [
        ("price_eur:desc", "'-price_eur'"),
        ("price_eur:asc", "'price_eur'"),
    ] {
        let r = srv.search("acme", "parts", &json!({"query": "screw", "sort": sort}));
        r.expect_error(422, "validation_error");
        let detail = r.json()["detail"].as_str().unwrap().to_owned();
        assert!(detail.contains(hint), "{sort}: {detail}");
    }
    let r = srv
        .get("/api/v1/search/parts?q=screw&sort=price_eur:desc")
        .tenant("acme")
        .send();
    r.expect_error(422, "validation_error");

    // Known fields still sort.
    let rs = results(
        &srv,
        json!({"query": "screw", "sort": "-price_eur", "limit": 100}),
    );
    let prices: Vec<f64> = rs
        .iter()
        .filter_map(|x| x["vertical_data"]["price_eur"].as_f64())
        .collect();
    assert!(prices.windows(2).all(|w| w[0] >= w[1]), "{prices:?}");
    assert!(!prices.is_empty());
}

#[test]
fn unknown_vertical_is_flagged() {
    let srv = server();
    for body in [
        json!({"query": "bolt"}),
        json!({"filters": {"standard": "DIN 933"}}),
        json!({"query": "bolt", "sort": "-price_eur"}),
    ] {
        let r = srv.search("acme", "tools", &body);
        assert_eq!(r.status, 200, "{}", r.text);
        let v = r.json();
        assert_eq!(v["results"], json!([]), "{body}");
        assert_eq!(v["metadata"]["unknown_vertical"], true, "{body}: {v}");
    }
    // A vertical the tenant has, with no match, is not unknown.
    let r = srv
        .search("acme", "parts", &json!({"query": "zeppelin"}))
        .json();
    assert_eq!(r["results"], json!([]));
    assert_eq!(r["metadata"]["unknown_vertical"], false);
    let r = srv
        .search("acme", "parts", &json!({"query": "bolt"}))
        .json();
    assert_eq!(r["metadata"]["unknown_vertical"], false);
}

/// A word the vertical does not hold is read as the closest word it does, and keeps ranking
/// beside the query's other words (the typo fallback used to run only when nothing matched).
#[test]
fn a_misspelled_word_still_narrows() {
    let srv = server();
    // The zinc-plated bolts have the longer names, so without the correction the shorter
    // stainless ones outrank them on the other words.
    for q in [
        "zinx hex bolt M8",
        "hex bolt M8 zinx plated",
        "hex bolt M8 zinc plaited",
    ] {
        let n = names(&srv, q);
        assert!(
            n.len() >= 2
                && n[..2]
                    .iter()
                    .all(|x| x.contains("M8") && x.contains("zinc")),
            "{q}: {n:?}"
        );
    }
    // Sizes and codes are never corrected: M7 is not a typo of M8.
    let r = srv.search("acme", "parts", &json!({"query": "socket screw M7"}));
    let first = r.json()["results"][0]["name"]
        .as_str()
        .unwrap_or("")
        .to_owned();
    assert!(!first.contains("M8"), "{first}");
}
