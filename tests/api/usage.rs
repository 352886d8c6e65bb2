//! Usage metering, plan quotas (402), `/admin/stats`.

use std::time::Duration;

use serde_json::{json, Value};

use crate::common::{self, Server};

fn usage(srv: &Server, tenant: &str) -> Value {
    let r = srv.get("/api/v1/usage").tenant(tenant).send();
    assert_eq!(r.status, 200, "{}", r.text);
    r.json()
}

/// The month's counts are the sum of its days; the last day listed is today.
fn days_add_up(u: &Value) {
    let days = u["daily"].as_array().unwrap();
    let today = time::OffsetDateTime::now_utc().date().to_string();
    assert_eq!(days.last().unwrap()["date"], today.as_str(), "{u}");
    assert_eq!(
        days.len() as u8,
        time::OffsetDateTime::now_utc().day(),
        "{u}"
    );
    for k in [
        "requests",
        "searches",
        "ingested_records",
        "entities_created",
    ] {
        let sum: u64 = days.iter().map(|d| d[k].as_u64().unwrap()).sum();
        assert_eq!(sum, u["usage"][k].as_u64().unwrap(), "{k}: {u}");
    }
}

fn records(n: usize, prefix: &str) -> Value {
    let list: Vec<Value> = (0..n)
        .map(|i| json!({"name": format!("{prefix} {i}"), "source_id": format!("{prefix}-{i}")}))
        .collect();
    json!({ "records": list })
}

#[test]
fn usage_counts_each_kind_and_survives_restarts() {
    let srv = common::start_dev(&[]);
    let r = srv.ingest("acme", "parts", "item", &records(3, "Gear"));
    srv.wait_indexed("acme", r["entity_ids"].as_array().unwrap());
    // Re-sending is an update and two duplicates: one more ingested record, no new entity.
    let mut again = records(3, "Gear");
    again["records"][0]["name"] = json!("Gear renamed");
    srv.ingest("acme", "parts", "item", &again);
    for q in ["gear", "renamed"] {
        assert_eq!(
            srv.search("acme", "parts", &json!({"query": q})).status,
            200
        );
    }
    let created = srv
        .post("/api/v1/entities")
        .tenant("acme")
        .json(&json!({"name": "Manual", "vertical": "parts", "entity_type": "item"}))
        .send();
    assert_eq!(created.status, 201);

    let u = usage(&srv, "acme");
    assert_eq!(u["tenant_id"], "acme");
    assert_eq!(u["plan"], "enterprise");
    let period = u["period"].as_str().unwrap().to_owned();
    assert_eq!(period.len(), 7, "YYYY-MM: {period}");
    assert_eq!(u["usage"]["searches"], 2, "{u}");
    assert_eq!(u["usage"]["ingested_records"], 4, "{u}");
    assert_eq!(u["usage"]["entities_created"], 4, "{u}");
    let requests = u["usage"]["requests"].as_u64().unwrap();
    assert!(requests >= 6, "{u}");
    days_add_up(&u);
    assert_eq!(
        u["limits"]["max_entities"],
        Value::Null,
        "enterprise is unlimited"
    );
    assert_eq!(u["limits"]["general_rpm"], 5000);
    assert_eq!(
        usage(&srv, "other")["usage"]["ingested_records"],
        0,
        "per tenant"
    );

    // kill -9 after more than a second: the counts were written.
    std::thread::sleep(Duration::from_millis(2500));
    let mut srv = srv;
    srv.kill9();
    let srv = srv.restart();
    let after = usage(&srv, "acme");
    assert_eq!(after["usage"]["ingested_records"], 4, "{after}");
    days_add_up(&after);
    assert_eq!(after["usage"]["searches"], 2);
    assert!(
        after["usage"]["requests"].as_u64().unwrap() > requests,
        "{after}"
    );
    // A graceful stop writes everything at once.
    srv.search("acme", "parts", &json!({"query": "gear"}));
    let mut srv = srv;
    assert!(srv.terminate().success());
    let srv = srv.restart();
    assert_eq!(usage(&srv, "acme")["usage"]["searches"], 3);
}

#[test]
fn a_new_month_starts_from_zero() {
    // The meter's clock starts five seconds before the end of January 2030.
    let srv = common::start_dev(&[("QANATIX_USAGE_CLOCK_START", "2030-01-31T23:59:55Z")]);
    srv.ingest("acme", "parts", "item", &records(2, "Jan"));
    let jan = usage(&srv, "acme");
    assert_eq!(jan["period"], "2030-01");
    assert_eq!(jan["usage"]["ingested_records"], 2);
    let rolled = common::wait_for(Duration::from_secs(20), || {
        usage(&srv, "acme")["period"] == "2030-02"
    });
    assert!(rolled, "the period never changed");
    let feb = usage(&srv, "acme");
    assert_eq!(feb["usage"]["ingested_records"], 0, "{feb}");
    srv.ingest("acme", "parts", "item", &records(1, "Feb"));
    assert_eq!(usage(&srv, "acme")["usage"]["ingested_records"], 1);
}

const SMALL_FREE: &str = r#"{"free": {"general_rpm": 100000, "search_rpm": 100000,
  "max_verticals": 1, "max_entities": 5, "max_searches_per_month": 3,
  "max_ingested_records_per_month": 6}}"#;

fn small_free_server() -> Server {
    let dir = tempfile::tempdir().unwrap();
    let plans = dir.path().join("plans.json");
    std::fs::write(&plans, SMALL_FREE).unwrap();
    let srv = common::start_dev(&[
        ("DEFAULT_PLAN", "free"),
        ("PLANS_FILE", plans.to_str().unwrap()),
    ]);
    // The plans file is read at start; the temp dir may go now.
    drop(dir);
    srv
}

fn count_entities(srv: &Server, tenant: &str) -> usize {
    let r = srv
        .get("/api/v1/entities?status=all&limit=100")
        .tenant(tenant)
        .send()
        .json();
    r["items"].as_array().unwrap().len()
}

fn expect_quota(r: common::Resp, words: &str) {
    r.expect_error(402, "quota_exceeded");
    let detail = r.json()["detail"].as_str().unwrap().to_owned();
    assert!(
        detail.contains(words),
        "detail should name the cap ({words}): {detail}"
    );
}

#[test]
fn free_plan_caps_answer_402_and_a_crossing_batch_stores_nothing() {
    let srv = small_free_server();
    let batch = |vertical: &str, body: &Value| {
        srv.post(&format!("/api/v1/ingest/{vertical}/item/batch"))
            .tenant("acme")
            .json(body)
            .send()
    };
    // Entity cap (5): 3 stored, then a batch of 3 new would make 6: refused whole.
    assert_eq!(batch("parts", &records(3, "A")).status, 200);
    expect_quota(batch("parts", &records(3, "B")), "5 stored entities");
    assert_eq!(
        count_entities(&srv, "acme"),
        3,
        "nothing of the refused batch stored"
    );
    // Updates and duplicates do not count as new entities.
    let mut update = records(3, "A");
    update["records"][0]["name"] = json!("A renamed");
    let r = batch("parts", &update);
    assert_eq!(r.status, 200, "{}", r.text);
    // Vertical cap (1).
    expect_quota(batch("tools", &records(1, "T")), "1 vertical");
    expect_quota(
        srv.post("/api/v1/entities")
            .tenant("acme")
            .json(&json!({"name": "X", "vertical": "tools", "entity_type": "item"}))
            .send(),
        "1 vertical",
    );
    // Two more entities reach the cap; the next create is refused.
    assert_eq!(batch("parts", &records(2, "C")).status, 200);
    expect_quota(
        srv.post("/api/v1/entities")
            .tenant("acme")
            .json(&json!({"name": "Sixth", "vertical": "parts", "entity_type": "item"}))
            .send(),
        "5 stored entities",
    );
    assert_eq!(count_entities(&srv, "acme"), 5);
    // Monthly ingested records (6): 3 + 1 update + 2 = 6 used; any further record is refused.
    assert_eq!(usage(&srv, "acme")["usage"]["ingested_records"], 6);
    let mut one_more = records(1, "A");
    one_more["records"][0]["name"] = json!("A renamed again");
    expect_quota(batch("parts", &one_more), "6 ingested records per month");
    // Uploads are checked the same way.
    let up = srv.upload(
        "acme",
        "/api/v1/ingest/parts/item/upload",
        &[(
            "file",
            Some("x.csv"),
            None,
            b"name,source_id\nA renamed twice,A-0\n",
        )],
    );
    expect_quota(up, "ingested records");

    // Searches (3 per month).
    for _ in 0..3 {
        assert_eq!(
            srv.search("acme", "parts", &json!({"query": "a"})).status,
            200
        );
    }
    expect_quota(
        srv.search("acme", "parts", &json!({"query": "a"})),
        "3 searches per month",
    );
    expect_quota(
        srv.get("/api/v1/search/parts?q=a").tenant("acme").send(),
        "searches",
    );
    assert_eq!(
        usage(&srv, "acme")["usage"]["searches"],
        3,
        "refused searches are not counted"
    );

    // Another tenant on a paid plan is not capped.
    let m = srv.master_key();
    let r = srv
        .post("/api/v1/admin/tenants")
        .bearer(&m)
        .json(&json!({"tenant_id": "paid", "plan": "starter"}))
        .send();
    assert_eq!(r.status, 201, "{}", r.text);
    let key = srv.create_key("paid", &["ingest", "search"]);
    for v in ["one", "two"] {
        let r = srv
            .post(&format!("/api/v1/ingest/{v}/item/batch"))
            .bearer(&key)
            .json(&records(10, v))
            .send();
        assert_eq!(r.status, 200, "{}", r.text);
    }
}

#[test]
fn default_free_plan_refuses_a_batch_over_500_records() {
    let srv = common::start_dev(&[("DEFAULT_PLAN", "free"), ("RATE_LIMIT_ENABLED", "false")]);
    let r = srv
        .post("/api/v1/ingest/parts/item/batch")
        .tenant("acme")
        .json(&records(501, "Big"))
        .send();
    expect_quota(r, "500 ingested records per month");
    assert_eq!(count_entities(&srv, "acme"), 0);
    let r = srv.ingest("acme", "parts", "item", &records(500, "Fits"));
    assert_eq!(r["accepted"], 500);
    let u = usage(&srv, "acme");
    assert_eq!(u["limits"]["max_entities"], 1000);
    assert_eq!(u["limits"]["max_searches_per_month"], 1000);
}

#[test]
fn admin_stats_count_by_status_and_index_state() {
    let srv = common::start_dev(&[]);
    let r = srv.ingest("acme", "parts", "item", &records(3, "S"));
    let ids = r["entity_ids"].as_array().unwrap().clone();
    srv.wait_indexed("acme", &ids);
    let archived = srv
        .req(
            "DELETE",
            &format!("/api/v1/entities/{}", ids[0].as_str().unwrap()),
        )
        .tenant("acme")
        .send();
    assert!(archived.status < 300, "{}", archived.text);
    srv.ingest("rival", "parts", "item", &records(2, "R"));
    let s = common::wait_for(Duration::from_secs(10), || {
        let s = srv.get("/api/v1/admin/stats").tenant("acme").send().json();
        s["queue_depth"] == 0 && s["embedding_status"]["completed"] == 3
    });
    assert!(s, "indexing did not settle");
    let s = srv.get("/api/v1/admin/stats").tenant("acme").send().json();
    assert_eq!(s["total_entities"], 3, "{s}");
    assert_eq!(
        s["entities_by_status"],
        json!({"active": 2, "archived": 1, "draft": 0})
    );
    assert_eq!(s["embedding_status"]["pending"], 0);
    let all = srv
        .get("/api/v1/admin/stats")
        .bearer(&srv.master_key())
        .send()
        .json();
    assert_eq!(all["total_entities"], 5, "master sees every tenant: {all}");
}

#[test]
fn usage_stats_and_export_need_the_admin_scope() {
    let srv = common::start(&[]);
    srv.create_tenant("acme", "pro");
    let search_only = srv.create_key("acme", &["search", "ingest"]);
    for path in ["/api/v1/usage", "/api/v1/admin/stats", "/api/v1/export"] {
        srv.get(path)
            .bearer(&search_only)
            .send()
            .expect_error(403, "insufficient_scope");
    }
    let admin = srv.create_key("acme", &["admin"]);
    for path in ["/api/v1/usage", "/api/v1/admin/stats", "/api/v1/export"] {
        assert_eq!(srv.get(path).bearer(&admin).send().status, 200, "{path}");
    }
    srv.get("/api/v1/usage")
        .send()
        .expect_error(401, "invalid_api_key");
}
