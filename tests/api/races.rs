//! Concurrency: key mutations and tenant deletion racing other requests. Each test repeats a
//! race a bounded number of times; before key mutations were serialized and tenant deletion
//! excluded in-flight writes, these loops reproduced a ghost key and surviving records.

use serde_json::{json, Value};

use crate::common;

/// Twelve rotations and one revoke of the same key at once: afterwards no value the key ever
/// had authenticates, and the key is not listed.
#[test]
fn racing_rotations_and_revoke_leave_no_ghost_key() {
    let srv = common::start(&[("WORKERS", "8"), ("AUTH_FAILURES_PER_MINUTE", "0")]);
    srv.create_tenant("t1", "enterprise");
    let admin = srv.create_key("t1", &["admin"]);
    for trial in 0..25 {
        let r = srv
            .post("/api/v1/auth/keys")
            .bearer(&admin)
            .json(&json!({"name": format!("victim {trial}"), "scopes": ["search"]}))
            .send();
        assert_eq!(r.status, 201, "{}", r.text);
        let victim = r.json();
        let id = victim["id"].as_str().unwrap().to_owned();
        let start = std::sync::Barrier::new(13);
        let values: Vec<String> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..13)
                .map(|i| {
                    let (srv, start, id, admin) = (&srv, &start, &id, &admin);
                    s.spawn(move || {
                        start.wait();
                        if i == 12 {
                            let r = srv
                                .req("DELETE", &format!("/api/v1/auth/keys/{id}"))
                                .bearer(admin)
                                .send();
                            assert!([204, 404].contains(&r.status), "{}", r.text);
                            None
                        } else {
                            let r = srv
                                .post(&format!("/api/v1/auth/keys/{id}/rotate"))
                                .bearer(admin)
                                .send();
                            assert!([200, 404].contains(&r.status), "{}", r.text);
                            (r.status == 200).then(|| r.json()["key"].as_str().unwrap().to_owned())
                        }
                    })
                })
                .collect();
            handles
                .into_iter()
                .filter_map(|h| h.join().unwrap())
                .collect()
        });
        let listed = srv.get("/api/v1/auth/keys").bearer(&admin).send().json();
        assert!(
            !listed.as_array().unwrap().iter().any(|k| k["id"] == id),
            "trial {trial}: revoked key still listed"
        );
        for value in values
            .iter()
            .chain(std::iter::once(&victim["key"].as_str().unwrap().to_owned()))
        {
            let me = srv.get("/api/v1/auth/me").bearer(value).send();
            assert_eq!(
                me.status, 401,
                "trial {trial}: a value of the revoked key still authenticates: {}",
                me.text
            );
        }
    }
}

fn records(n: usize, tag: &str) -> Value {
    let records: Vec<Value> = (0..n)
        .map(|i| json!({"name": format!("{tag} part {i}"), "source_id": format!("{tag}-{i}"), "vertical_data": {"i": i}}))
        .collect();
    json!({ "records": records })
}

/// Deleting a tenant while a large batch and key creation run: whatever they answered, nothing
/// of the old tenant survives into a new tenant of the same id.
#[test]
fn tenant_delete_racing_writes_leaves_nothing_behind() {
    let srv = common::start(&[("WORKERS", "4"), ("AUTH_FAILURES_PER_MINUTE", "0")]);
    let master = srv.master_key();
    let body = records(4000, "old");
    for trial in 0..4 {
        srv.create_tenant("t1", "enterprise");
        let admin = srv.create_key("t1", &["admin", "ingest", "search", "entities"]);
        let (batch, deleted, minted) = std::thread::scope(|s| {
            let batch = s.spawn(|| {
                srv.post("/api/v1/ingest/v/item/batch")
                    .bearer(&admin)
                    .json(&body)
                    .send()
                    .status
            });
            let minted = s.spawn(|| {
                (0..20)
                    .filter_map(|i| {
                        let r = srv
                            .post("/api/v1/auth/keys")
                            .bearer(&master)
                            .tenant("t1")
                            .json(&json!({"name": format!("k{i}"), "scopes": ["search"]}))
                            .send();
                        (r.status == 201).then(|| r.json()["key"].as_str().unwrap().to_owned())
                    })
                    .collect::<Vec<_>>()
            });
            std::thread::sleep(std::time::Duration::from_millis(30 + 40 * trial));
            let deleted = srv
                .req("DELETE", "/api/v1/admin/tenants/t1")
                .bearer(&master)
                .send()
                .status;
            (batch.join().unwrap(), deleted, minted.join().unwrap())
        });
        assert_eq!(deleted, 204, "trial {trial}");
        assert!([200, 401].contains(&batch), "trial {trial}: batch {batch}");

        srv.create_tenant("t1", "enterprise");
        let fresh = srv.create_key("t1", &["admin", "entities", "search"]);
        let listed = srv
            .get("/api/v1/entities?status=all&limit=10")
            .bearer(&fresh)
            .send();
        assert_eq!(listed.status, 200, "{}", listed.text);
        assert_eq!(
            listed.json()["items"].as_array().map(Vec::len),
            Some(0),
            "trial {trial}: the new tenant inherited records: {}",
            listed.text
        );
        let keys = srv.get("/api/v1/auth/keys").bearer(&fresh).send().json();
        assert_eq!(
            keys.as_array().unwrap().len(),
            1,
            "trial {trial}: keys minted during the delete survived: {keys}"
        );
        for k in minted {
            assert_eq!(srv.get("/api/v1/auth/me").bearer(&k).send().status, 401);
        }
        std::thread::sleep(std::time::Duration::from_millis(1500));
        let found = srv
            .post("/api/v1/search/v")
            .bearer(&fresh)
            .json(&json!({"query": "old part", "limit": 5}))
            .send();
        assert_eq!(found.status, 200, "{}", found.text);
        assert_eq!(
            found.json()["metadata"]["total_estimate"],
            0,
            "trial {trial}: search documents survived: {}",
            found.text
        );
        let r = srv
            .req("DELETE", "/api/v1/admin/tenants/t1")
            .bearer(&master)
            .send();
        assert_eq!(r.status, 204);
    }
}
