//! Hybrid search: vectors computed by the indexer, fused with keyword hits; `mode`,
//! `search_mode` and `timings.embed_ms`; isolation and filters of vector candidates;
//! `embedding_status`; vectors kept over a restart and recomputed when the model changes.

use std::time::Duration;

use serde_json::{json, Value};

use crate::common::{self, wait_for, Server};

/// None of these records says "electric", "engine", "power" or "pump".
fn catalog() -> Value {
    let motor = |kw: f64, brand: &str, n: u32| {
        json!({
            "name": format!("Three-phase induction motor {kw} kW IE3"),
            "description": format!("{brand} low-voltage three-phase motor, {kw} kW, 4 poles, 400 V, IP55."),
            "source_id": format!("motor-{n}"),
            "vertical_data": {"brand": brand, "power_kw": kw, "part_number": format!("MOT-{n:04}")}
        })
    };
    let mut records = vec![
        motor(1.5, "ABB", 1),
        motor(4.0, "Siemens", 2),
        motor(7.5, "ABB", 3),
    ];
    for (i, d) in [6, 8, 10, 12].iter().enumerate() {
        records.push(json!({
            "name": format!("Hex bolt M{d}x40 stainless steel A2"),
            "description": format!("Hex bolt, metric thread M{d}, length 40 mm, to ISO 4017."),
            "source_id": format!("bolt-{i}"),
            "vertical_data": {"brand": "Bossard", "thread": format!("M{d}"), "part_number": format!("HB-M{d}-40-{i:04}")}
        }));
        records.push(json!({
            "name": format!("O-ring {}x2 NBR 70 Shore A", d * 2),
            "description": "O-ring to ISO 3601, NBR 70 Shore A.",
            "source_id": format!("oring-{i}"),
            "vertical_data": {"brand": "Freudenberg", "material": "NBR", "part_number": format!("OR-{i:04}")}
        }));
    }
    json!({ "records": records })
}

const DRIVE: &str = "electric engine to power a pump";

fn load(srv: &Server, tenant: &str, vertical: &str) -> Vec<Value> {
    let r = srv.ingest(tenant, vertical, "item", &catalog());
    let ids = r["entity_ids"].as_array().unwrap().clone();
    srv.wait_indexed(tenant, &ids);
    ids
}

fn stats(srv: &Server, tenant: &str) -> Value {
    let r = srv.get("/api/v1/admin/stats").tenant(tenant).send();
    assert_eq!(r.status, 200, "{}", r.text);
    r.json()
}

/// Waits until the tenant's vectors are in memory and there are `n` of them.
fn wait_vectors(srv: &Server, tenant: &str, n: u64) {
    let ok = wait_for(Duration::from_secs(20), || {
        let e = &stats(srv, tenant)["embeddings"];
        e["loaded"] == true && e["vectors"] == n
    });
    assert!(ok, "vectors not ready: {}", stats(srv, tenant));
}

fn results(r: &common::Resp) -> Vec<Value> {
    assert_eq!(r.status, 200, "{}", r.text);
    r.json()["results"].as_array().unwrap().clone()
}

#[test]
fn a_description_of_the_part_finds_it_by_meaning() {
    let srv = common::start_dev(&[]);
    load(&srv, "acme", "parts");
    wait_vectors(&srv, "acme", 11);

    let r = srv.search("acme", "parts", &json!({"query": DRIVE}));
    let body = r.json();
    let hits = results(&r);
    assert_eq!(body["metadata"]["search_mode"], "hybrid", "{body}");
    assert!(body["metadata"]["timings"]["embed_ms"].as_f64().is_some());
    assert!(
        hits[0]["name"].as_str().unwrap().contains("motor"),
        "{hits:?}"
    );
    // Scores stay in [0, 1) and do not increase down the page.
    let scores: Vec<f64> = hits.iter().map(|h| h["score"].as_f64().unwrap()).collect();
    assert!(
        scores.windows(2).all(|w| w[0] >= w[1]) && scores[0] < 1.0,
        "{scores:?}"
    );

    // Keyword-only: none of the words is in the catalog, so no motor is found.
    let r = srv.search("acme", "parts", &json!({"query": DRIVE, "mode": "keyword"}));
    assert_eq!(r.json()["metadata"]["search_mode"], "fulltext");
    assert!(r.json()["metadata"]["timings"]["embed_ms"].is_null());
    assert!(results(&r)
        .iter()
        .all(|h| !h["name"].as_str().unwrap().contains("motor")));

    // Meaning only: ordered by similarity, the motors first.
    let r = srv.search(
        "acme",
        "parts",
        &json!({"query": DRIVE, "mode": "semantic"}),
    );
    assert_eq!(r.json()["metadata"]["search_mode"], "semantic");
    let hits = results(&r);
    assert!(hits.len() >= 3);
    assert!(hits[..3]
        .iter()
        .all(|h| h["name"].as_str().unwrap().contains("motor")));

    // Identifiers win outright and are not fused.
    let r = srv.search("acme", "parts", &json!({"query": "MOT-0002"}));
    assert_eq!(r.json()["metadata"]["search_mode"], "identifier");
    let hits = results(&r);
    assert_eq!(hits[0]["vertical_data"]["part_number"], "MOT-0002");
    assert_eq!(hits[0]["score"], 1.0);

    // A query nothing resembles finds nothing, as before.
    let r = srv.search(
        "acme",
        "parts",
        &json!({"query": "birthday cake recipe", "mode": "semantic"}),
    );
    assert!(results(&r).is_empty());

    // GET takes the mode too; an unknown one is a 422 naming the valid ones.
    let r = srv
        .get("/api/v1/search/parts?q=electric+engine&mode=semantic")
        .tenant("acme")
        .send();
    assert_eq!(r.json()["metadata"]["search_mode"], "semantic");
    let r = srv.search("acme", "parts", &json!({"query": DRIVE, "mode": "vector"}));
    r.expect_error(422, "validation_error");
    assert!(
        r.json()["detail"].as_str().unwrap().contains("semantic"),
        "{}",
        r.text
    );
}

#[test]
fn vector_candidates_never_cross_tenants_or_verticals() {
    let srv = common::start_dev(&[]);
    let mine = load(&srv, "acme", "parts");
    load(&srv, "globex", "parts");
    load(&srv, "acme", "tools");
    wait_vectors(&srv, "acme", 22);
    wait_vectors(&srv, "globex", 11);

    for mode in ["semantic", "hybrid", "auto"] {
        let r = srv.search(
            "acme",
            "parts",
            &json!({"query": DRIVE, "mode": mode, "limit": 100}),
        );
        let hits = results(&r);
        assert!(!hits.is_empty(), "{mode}");
        for h in hits {
            assert!(mine.contains(&h["entity_id"]), "{mode}: {h}");
            assert_eq!(h["vertical"], "parts");
        }
    }
}

#[test]
fn filters_apply_to_vector_candidates() {
    let srv = common::start_dev(&[]);
    load(&srv, "acme", "parts");
    wait_vectors(&srv, "acme", 11);
    for mode in ["semantic", "hybrid"] {
        let r = srv.search(
            "acme",
            "parts",
            &json!({"query": DRIVE, "mode": mode, "filters": {"brand": "ABB"}}),
        );
        let hits = results(&r);
        assert_eq!(hits.len(), 2, "{mode}: {hits:?}");
        assert!(hits.iter().all(|h| h["vertical_data"]["brand"] == "ABB"));
        let r = srv.search(
            "acme",
            "parts",
            &json!({"query": DRIVE, "mode": mode, "filters": {"power_kw_min": 5}}),
        );
        let hits = results(&r);
        assert_eq!(hits.len(), 1, "{mode}: {hits:?}");
        assert_eq!(hits[0]["vertical_data"]["power_kw"], 7.5);
    }
}

#[test]
fn embedding_status_and_vectors_follow_each_write() {
    let srv = common::start_dev(&[]);
    let r = srv
        .post("/api/v1/entities")
        .tenant("acme")
        .json(&json!({
            "name": "Three-phase induction motor 3 kW",
            "vertical": "parts",
            "entity_type": "motor",
            "description": "Low-voltage three-phase motor, 4 poles, IP55.",
        }))
        .send();
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.json()["embedding_status"], "pending");
    let id = r.json()["id"].clone();
    srv.wait_indexed("acme", std::slice::from_ref(&id));
    wait_vectors(&srv, "acme", 1);
    let found = |q: &str| -> Vec<Value> {
        let r = srv.search("acme", "parts", &json!({"query": q, "mode": "semantic"}));
        results(&r).iter().map(|h| h["entity_id"].clone()).collect()
    };
    assert_eq!(found(DRIVE), vec![id.clone()]);

    // Rewritten as an o-ring: pending again, then its vector says what it now is.
    let path = format!("/api/v1/entities/{}", id.as_str().unwrap());
    let r = srv
        .req("PATCH", &path)
        .tenant("acme")
        .json(&json!({"name": "O-ring 20x2 NBR", "description": "O-ring to ISO 3601, NBR 70 Shore A."}))
        .send();
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["embedding_status"], "pending");
    srv.wait_indexed("acme", std::slice::from_ref(&id));
    assert!(found(DRIVE).is_empty());
    assert_eq!(found("toroidal elastomer packing"), vec![id.clone()]);

    // Archived: no longer searchable, its vector goes.
    let r = srv
        .req("PATCH", &path)
        .tenant("acme")
        .json(&json!({"status": "archived"}))
        .send();
    assert_eq!(r.status, 200, "{}", r.text);
    srv.wait_indexed("acme", std::slice::from_ref(&id));
    wait_vectors(&srv, "acme", 0);
    assert!(found("toroidal elastomer packing").is_empty());
}

#[test]
fn vectors_survive_a_restart_and_a_model_change_recomputes_them() {
    let mut srv = common::start_dev(&[]);
    load(&srv, "acme", "parts");
    wait_vectors(&srv, "acme", 11);
    srv.terminate();

    let mut srv = srv.restart();
    wait_vectors(&srv, "acme", 11);
    assert!(
        srv.logs().contains("11 entity vectors loaded"),
        "{}",
        srv.logs()
    );
    assert!(!srv.logs().contains("embedding model changed"));
    let r = srv.search("acme", "parts", &json!({"query": DRIVE}));
    assert!(results(&r)[0]["name"].as_str().unwrap().contains("motor"));
    srv.terminate();

    // Vectors of another model on disk: dropped and made again with the built-in one.
    {
        let store = qanatix::store::Store::open(srv.data_dir()).unwrap();
        store.vectors.reset("some-older-model/0").unwrap();
        store.flush_blocking().unwrap();
    }
    let srv = srv.restart();
    wait_vectors(&srv, "acme", 11);
    assert!(
        srv.logs().contains("embedding model changed"),
        "{}",
        srv.logs()
    );
    let r = srv.search("acme", "parts", &json!({"query": DRIVE}));
    assert!(results(&r)[0]["name"].as_str().unwrap().contains("motor"));
}

#[test]
fn with_embeddings_off_every_search_is_keyword_only() {
    let srv = common::start_dev(&[("EMBEDDINGS_ENABLED", "false")]);
    load(&srv, "acme", "parts");
    assert_eq!(stats(&srv, "acme")["embeddings"], json!({"enabled": false}));
    for mode in ["auto", "hybrid", "semantic"] {
        let r = srv.search("acme", "parts", &json!({"query": "hex bolt", "mode": mode}));
        assert_eq!(r.json()["metadata"]["search_mode"], "fulltext", "{mode}");
        assert_eq!(results(&r).len(), 4);
    }
}
