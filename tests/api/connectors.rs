//! Database connectors (API-RECORDS.md §6) against real PostgreSQL and MariaDB servers (see
//! `databases.rs`) and SQLite files: full, incremental and upserting pulls, rejected rows in the
//! dead-letter entries, every way a database can fail, schedules, and the settings' secrecy.

use std::time::Duration;

use serde_json::{json, Value};

use crate::common::{self, files_under, start, start_dev, wait_for, Server};
use crate::databases::{self, Database, PASSWORD};

const T: &str = "acme";

/// A development-mode server whose schedules may run every second, with an SQLite directory.
fn server() -> (Server, tempfile::TempDir) {
    let sqlite = tempfile::tempdir().unwrap();
    let s = start_dev(&[
        ("CONNECTOR_MIN_INTERVAL_SECS", "1"),
        ("CONNECTOR_SQLITE_DIR", sqlite.path().to_str().unwrap()),
    ]);
    (s, sqlite)
}

fn create(s: &Server, body: &Value) -> common::Resp {
    s.post("/api/v1/connectors").tenant(T).json(body).send()
}

fn create_ok(s: &Server, body: &Value) -> Value {
    let r = create(s, body);
    assert_eq!(r.status, 201, "{}", r.text);
    r.json()
}

fn pull(s: &Server, id: &Value) -> Value {
    let r = s
        .post(&format!("/api/v1/connectors/{}/pull", id.as_str().unwrap()))
        .tenant(T)
        .send();
    assert_eq!(r.status, 200, "{}", r.text);
    r.json()
}

fn connector_body(db: &Database, collection: &str, query: &str) -> Value {
    json!({
        "name": format!("{} source", db.connector_type()),
        "connector_type": db.connector_type(),
        "collection": collection,
        "record_type": "item",
        "connection_config": db.config(),
        "query": query,
    })
}

/// The stored records of a collection, by name.
fn records(s: &Server, collection: &str) -> Vec<Value> {
    let r = s
        .get(&format!(
            "/api/v1/records?collection={collection}&limit=100"
        ))
        .tenant(T)
        .send();
    assert_eq!(r.status, 200, "{}", r.text);
    r.json()["records"].as_array().unwrap().clone()
}

/// Runs SQL in one of the three kinds of source.
enum Source<'a> {
    Server(&'a Database),
    Sqlite(std::path::PathBuf),
}

impl Source<'_> {
    fn sql(&self, sql: &str) {
        match self {
            Source::Server(db) => db.sql(sql),
            Source::Sqlite(path) => rusqlite::Connection::open(path)
                .unwrap()
                .execute_batch(sql)
                .unwrap(),
        }
    }
}

/// Full pull (one row without a name goes to the dead-letter entries), then an incremental
/// pull that picks up a changed row (upserted by `source_id`) and a new one, then a pull that
/// finds nothing changed in content.
fn full_incremental_upsert(s: &Server, src: &Source<'_>, body: Value, table: &str, ts: &str) {
    let collection = body
        .get("collection")
        .or(body.get("vertical"))
        .and_then(Value::as_str)
        .unwrap()
        .to_owned();
    src.sql(&format!(
        "INSERT INTO {table} (id, name, price, updated_at) VALUES \
         (1, 'Hex bolt M8', 0.50, '2000-01-01 00:00:00{ts}'), \
         (2, 'Hex nut M8', 0.20, '2000-01-01 00:00:00{ts}'), \
         (3, NULL, 1.00, '2000-01-01 00:00:00{ts}')"
    ));
    let c = create_ok(s, &body);
    assert_eq!(c["connection_config"], "***REDACTED***");
    assert_eq!(c["collection"], collection.as_str());
    assert_eq!(c["vertical"], collection.as_str());

    let first = pull(s, &c["id"]);
    assert_eq!(first["status"], "partial", "{first}");
    assert_eq!(first["summary"]["submitted"], 3);
    assert_eq!(first["summary"]["accepted"], 2);
    assert_eq!(first["summary"]["created"], 2);
    assert_eq!(first["summary"]["rejected"], 1);
    let upload = first["upload_id"].as_str().unwrap();
    let dlq = s
        .get(&format!("/api/v1/uploads/{upload}/dlq"))
        .tenant(T)
        .send()
        .json();
    let entries = dlq["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 1, "{dlq}");
    assert_eq!(entries[0]["field"], "name");
    assert_eq!(entries[0]["raw"]["source_id"], 3);
    let ingestion = s
        .get(&format!("/api/v1/ingestions/{upload}"))
        .tenant(T)
        .send()
        .json();
    assert_eq!(ingestion["source_type"], "connector");
    assert_eq!(ingestion["status"], "partial");
    assert_eq!(ingestion["accepted"], 2);
    let up = s
        .get(&format!("/api/v1/uploads/{upload}"))
        .tenant(T)
        .send()
        .json();
    assert_eq!(up["summary"]["accepted"], 2);

    src.sql(&format!(
        "UPDATE {table} SET price = 0.55, updated_at = '2100-01-01 00:00:00{ts}' WHERE id = 1; \
         INSERT INTO {table} (id, name, price, updated_at) \
         VALUES (4, 'Washer M8', 0.05, '2100-01-01 00:00:00{ts}')"
    ));
    let second = pull(s, &c["id"]);
    assert_eq!(second["status"], "complete", "{second}");
    assert_eq!(
        second["summary"]["submitted"], 2,
        "only rows changed since the last pull"
    );
    assert_eq!(second["summary"]["created"], 1);
    assert_eq!(second["summary"]["updated"], 1);

    let stored = records(s, &collection);
    assert_eq!(stored.len(), 3, "{stored:?}");
    let bolt = stored.iter().find(|r| r["name"] == "Hex bolt M8").unwrap();
    assert_eq!(bolt["data"]["price"], 0.55);
    assert_eq!(bolt["source_id"], "1");
    assert_eq!(bolt["source_name"], body["name"]);

    let third = pull(s, &c["id"]);
    assert_eq!(third["summary"]["submitted"], 2);
    assert_eq!(third["summary"]["dedup_skipped"], 2);
    let listed = s.get("/api/v1/connectors").tenant(T).send().json();
    let view = &listed["connectors"][0];
    assert_eq!(view["last_pull"]["upload_id"], third["upload_id"]);
    assert_eq!(view["last_pull"]["status"], "complete");
    assert!(view["last_successful_pull_at"].is_string());
}

const INCREMENTAL: &str =
    "SELECT id AS source_id, name, price FROM {t} WHERE updated_at > :last_pull ORDER BY id";

#[test]
fn postgres_full_incremental_and_upserting_pulls() {
    let db = databases::postgres();
    let (s, _dir) = server();
    db.sql("CREATE TABLE pg_parts (id int PRIMARY KEY, name text, price numeric(10,2), updated_at timestamptz NOT NULL)");
    let body = connector_body(db, "pg-parts", &INCREMENTAL.replace("{t}", "pg_parts"));
    full_incremental_upsert(&s, &Source::Server(db), body, "pg_parts", "+00");
}

#[test]
fn mariadb_full_incremental_and_upserting_pulls() {
    let db = databases::mariadb();
    let (s, _dir) = server();
    db.sql("CREATE TABLE my_parts (id int PRIMARY KEY, name varchar(100) NULL, price decimal(10,2), updated_at datetime NOT NULL)");
    let body = connector_body(db, "my-parts", &INCREMENTAL.replace("{t}", "my_parts"));
    full_incremental_upsert(&s, &Source::Server(db), body, "my_parts", "");
}

#[test]
fn sqlite_full_incremental_and_upserting_pulls_in_the_entities_dialect() {
    let (s, dir) = server();
    let file = dir.path().join("parts.db");
    let src = Source::Sqlite(file);
    src.sql("CREATE TABLE parts (id integer PRIMARY KEY, name text, price real, updated_at text NOT NULL)");
    let body = json!({
        "name": "sqlite source",
        "connector_type": "sqlite",
        "vertical": "lite-parts",
        "entity_type": "item",
        "connection_config": {"path": "parts.db"},
        "query": INCREMENTAL.replace("{t}", "parts"),
    });
    full_incremental_upsert(&s, &src, body, "parts", "");
}

#[test]
fn postgres_types_stream_through_a_cursor() {
    let db = databases::postgres();
    let (s, _dir) = server();
    let mut body = connector_body(
        db,
        "pg-stream",
        "SELECT g AS source_id, 'Part ' || g AS title, g * 1.5 AS price, g % 2 = 0 AS even, \
         ARRAY['a', 'b'] AS tags, '{\"k\": 1}'::jsonb AS extra, \
         timestamptz '2026-01-02 03:04:05+00' AS seen, date '2026-01-02' AS day, \
         'b7f1c5a2-0000-4000-8000-000000000001'::uuid AS ref \
         FROM generate_series(1, 2500) g",
    );
    body["name_column"] = json!("title");
    body["batch_size"] = json!(100);
    let c = create_ok(&s, &body);
    let r = pull(&s, &c["id"]);
    assert_eq!(r["status"], "complete", "{r}");
    assert_eq!(r["summary"]["accepted"], 2500);
    let got = s
        .get("/api/v1/records?collection=pg-stream&q=Part&limit=1")
        .tenant(T)
        .send()
        .json();
    let data = &got["records"][0]["data"];
    assert_eq!(data["tags"], json!(["a", "b"]));
    assert_eq!(data["extra"], json!({"k": 1}));
    assert_eq!(data["seen"], "2026-01-02T03:04:05Z");
    assert_eq!(data["day"], "2026-01-02");
    assert_eq!(data["ref"], "b7f1c5a2-0000-4000-8000-000000000001");
    assert!(
        data["even"].is_boolean() && data["price"].is_number(),
        "{data}"
    );
}

/// Pulls that fail: a failed upload with the reason, never a 5xx, and no password in it.
fn assert_failed(s: &Server, body: &Value, expected: &[&str]) -> Value {
    let c = create_ok(s, body);
    let r = pull(s, &c["id"]);
    assert_eq!(r["status"], "failed", "{r}");
    let error = r["error"]
        .as_str()
        .unwrap_or_else(|| panic!("no error: {r}"));
    assert!(
        expected.iter().any(|e| error.contains(e)),
        "expected one of {expected:?} in: {error}"
    );
    assert!(
        !error.contains(PASSWORD) && !error.contains("Wr0ng-"),
        "{error}"
    );
    let up = s
        .get(&format!(
            "/api/v1/uploads/{}",
            r["upload_id"].as_str().unwrap()
        ))
        .tenant(T)
        .send()
        .json();
    assert_eq!(up["status"], "failed");
    assert_eq!(up["error"], error);
    let view = s
        .get(&format!("/api/v1/connectors/{}", c["id"].as_str().unwrap()))
        .tenant(T)
        .send()
        .json();
    assert_eq!(view["last_pull"]["status"], "failed");
    assert!(view["last_successful_pull_at"].is_null());
    r
}

fn failure_modes(db: &Database, table_missing: &[&str], bad_login: &[&str]) {
    let (s, _dir) = server();
    let mut body = connector_body(db, "fails", "SELECT 'x' AS name FROM no_such_table");
    assert_failed(&s, &body, table_missing);

    body["query"] = json!("SELECT 'x' AS name");
    body["connection_config"] = db.config_with_password("Wr0ng-pw-4471");
    assert_failed(&s, &body, bad_login);

    let mut unreachable = db.config();
    // A port nothing listens on.
    unreachable["port"] = json!(std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port());
    body["connection_config"] = unreachable;
    assert_failed(&s, &body, &["refused", "connect"]);

    body["connection_config"] = db.config();
    body["query"] = json!("SELECT 'x' AS title");
    assert_failed(&s, &body, &["no 'name' column"]);
    assert!(!s.logs().contains(PASSWORD) && !s.logs().contains("Wr0ng-pw-4471"));
}

#[test]
fn postgres_failures_are_failed_uploads_with_the_reason() {
    let db = databases::postgres();
    failure_modes(db, &["no_such_table"], &["password authentication failed"]);
    let (s, _dir) = server();
    let body = connector_body(db, "bytes", "SELECT 'x' AS name, '\\x00ff'::bytea AS raw");
    assert_failed(&s, &body, &["column 'raw' has type bytea", "::text"]);
    // The transaction is read-only: a query cannot change the source.
    db.sql("CREATE TABLE pg_guarded (id int)");
    let body = connector_body(
        db,
        "writes",
        "INSERT INTO pg_guarded VALUES (1) RETURNING 'x' AS name",
    );
    assert_failed(&s, &body, &["read-only"]);
}

#[test]
fn mariadb_failures_are_failed_uploads_with_the_reason() {
    let db = databases::mariadb();
    failure_modes(db, &["doesn't exist"], &["Access denied"]);
}

#[test]
fn sqlite_failures_and_rows_without_a_json_form() {
    let (s, dir) = server();
    let src = Source::Sqlite(dir.path().join("odd.db"));
    src.sql("CREATE TABLE odd (name text, raw blob); INSERT INTO odd VALUES ('ok', NULL), ('bin', x'00ff')");
    let mut body = json!({
        "name": "odd", "connector_type": "sqlite", "collection": "odd", "record_type": "item",
        "connection_config": {"path": "odd.db"}, "query": "SELECT name, raw FROM odd",
    });
    let c = create_ok(&s, &body);
    let r = pull(&s, &c["id"]);
    assert_eq!(r["status"], "partial", "{r}");
    let dlq = s
        .get(&format!(
            "/api/v1/uploads/{}/dlq",
            r["upload_id"].as_str().unwrap()
        ))
        .tenant(T)
        .send()
        .json();
    assert_eq!(dlq["entries"][0]["field"], "raw");
    assert!(dlq["entries"][0]["message"]
        .as_str()
        .unwrap()
        .contains("hex("));

    body["query"] = json!("SELECT nope FROM odd");
    assert_failed(&s, &body, &["no such column"]);
    body["connection_config"] = json!({"path": "missing.db"});
    assert_failed(&s, &body, &["missing.db"]);
    let outside = tempfile::NamedTempFile::new().unwrap();
    body["connection_config"] = json!({"path": outside.path().to_str().unwrap()});
    assert_failed(&s, &body, &["outside the SQLite directory"]);
}

#[test]
fn a_schedule_fires_repeatedly_and_survives_a_restart() {
    let (mut s, dir) = server();
    let src = Source::Sqlite(dir.path().join("tick.db"));
    src.sql("CREATE TABLE tick (name text); INSERT INTO tick VALUES ('one')");
    let c = create_ok(
        &s,
        &json!({
            "name": "ticker", "connector_type": "sqlite", "collection": "tick", "record_type": "item",
            "connection_config": {"path": "tick.db"}, "query": "SELECT name FROM tick",
            "schedule": "every 1s",
        }),
    );
    assert!(c["next_run_at"].is_string(), "{c}");
    let path = format!("/api/v1/connectors/{}", c["id"].as_str().unwrap());
    let mut seen = std::collections::HashSet::new();
    let mut watch = |s: &Server, want: usize| {
        wait_for(Duration::from_secs(20), || {
            let v = s.get(&path).tenant(T).send().json();
            if let Some(id) = v["last_pull"]["upload_id"].as_str() {
                seen.insert(id.to_owned());
            }
            seen.len() >= want
        })
    };
    assert!(watch(&s, 2), "the schedule did not fire twice");
    assert_eq!(
        records(&s, "tick").len(),
        1,
        "repeated pulls upsert, not duplicate"
    );
    assert!(s.terminate().success());
    let s2 = s.restart();
    assert!(watch(&s2, 3), "the schedule did not fire after a restart");
}

#[test]
fn a_connector_never_runs_two_pulls_at_once() {
    let db = databases::postgres();
    let (s, _dir) = server();
    let c = create_ok(
        &s,
        &connector_body(db, "slow", "SELECT 'slow' AS name FROM pg_sleep(3)"),
    );
    let id = c["id"].as_str().unwrap().to_owned();
    std::thread::scope(|scope| {
        let first = scope.spawn(|| pull(&s, &json!(id)));
        let path = format!("/api/v1/connectors/{id}");
        assert!(wait_for(Duration::from_secs(10), || {
            s.get(&path).tenant(T).send().json()["status"] == "running"
        }));
        s.post(&format!("{path}/pull"))
            .tenant(T)
            .send()
            .expect_error(409, "conflict");
        assert_eq!(first.join().unwrap()["status"], "complete");
    });
}

#[test]
fn connection_settings_never_reach_disk_logs_or_answers_in_clear() {
    let db = databases::postgres();
    let (mut s, _dir) = server();
    db.sql("CREATE TABLE pg_secret (name text); INSERT INTO pg_secret VALUES ('kept')");
    let mut body = connector_body(db, "secret", "SELECT name FROM pg_secret");
    body["connection_config"]["url"] = json!(format!(
        "postgresql://{}:{PASSWORD}@127.0.0.1:{}/{}",
        databases::USER,
        db.port,
        databases::DATABASE
    ));
    for k in ["host", "port", "database", "user", "password"] {
        body["connection_config"].as_object_mut().unwrap().remove(k);
    }
    let c = create_ok(&s, &body);
    assert_eq!(pull(&s, &c["id"])["status"], "complete");
    let mut wrong = connector_body(db, "secret", "SELECT name FROM pg_secret");
    wrong["connection_config"] = db.config_with_password("Wr0ng-secret-8812");
    let w = create_ok(&s, &wrong);
    assert_eq!(pull(&s, &w["id"])["status"], "failed");
    for listed in [
        s.get("/api/v1/connectors").tenant(T).send().text,
        s.get(&format!("/api/v1/connectors/{}", c["id"].as_str().unwrap()))
            .tenant(T)
            .send()
            .text,
    ] {
        assert!(!listed.contains(PASSWORD) && !listed.contains("Wr0ng-secret"));
        assert!(
            !listed.contains("127.0.0.1"),
            "no setting is returned: {listed}"
        );
    }
    assert!(s.terminate().success());
    for file in files_under(s.data_dir()) {
        let bytes = std::fs::read(&file).unwrap();
        for secret in [PASSWORD.as_bytes(), b"Wr0ng-secret-8812"] {
            assert!(
                !bytes.windows(secret.len()).any(|w| w == secret),
                "{} holds a password in clear",
                file.display()
            );
        }
    }
    let logs = s.logs();
    assert!(
        !logs.contains(PASSWORD) && !logs.contains("Wr0ng-secret"),
        "{logs}"
    );
    use std::os::unix::fs::PermissionsExt;
    let key = std::fs::metadata(s.data_dir().join("connector.key")).unwrap();
    assert_eq!(key.permissions().mode() & 0o777, 0o600);
}

#[test]
fn bad_definitions_are_422_and_unknown_ids_404() {
    let s = start_dev(&[]);
    let good = json!({
        "name": "n", "connector_type": "postgresql", "collection": "c", "record_type": "t",
        "connection_config": {"host": "db.example", "user": "u", "password": "p"},
        "query": "SELECT 1 AS name",
    });
    let with = |k: &str, v: Value| {
        let mut b = good.clone();
        b[k] = v;
        b
    };
    for (body, words) in [
        (with("connector_type", json!("oracle")), "connector_type"),
        (with("connection_config", json!({"user": "u"})), "host"),
        (
            with("connection_config", json!("postgresql://u:p@h/d")),
            "object",
        ),
        (with("batch_size", json!(0)), "batch_size"),
        (with("batch_size", json!(10_001)), "batch_size"),
        (
            with("schedule", json!("every 1s")),
            "shortest allowed interval is 60 s",
        ),
        (with("schedule", json!("sometimes")), "schedule"),
        (with("vertical", json!("other")), "collection and vertical"),
        (with("query", json!("  ")), "query"),
        (with("name", json!("")), "name"),
        (with("collection", json!("Not Valid!")), "collection"),
        (with("surprise", json!(1)), "surprise"),
    ] {
        let r = create(&s, &body);
        r.expect_error(422, "validation_error");
        assert!(r.text.contains(words), "{words}: {}", r.text);
    }
    let mut missing = good.clone();
    missing.as_object_mut().unwrap().remove("query");
    create(&s, &missing).expect_error(422, "validation_error");
    let sqlite = json!({
        "name": "n", "connector_type": "sqlite", "collection": "c", "record_type": "t",
        "connection_config": {"path": "../escape.db"}, "query": "SELECT 1",
    });
    create(&s, &sqlite).expect_error(422, "validation_error");
    assert_eq!(
        create(&s, &with("schedule", json!("*/5 * * * *"))).status,
        201
    );
    for (m, p) in [
        ("GET", "/api/v1/connectors/not-a-uuid"),
        (
            "GET",
            "/api/v1/connectors/01a228fd-4094-7290-b145-9d26ff5b8438",
        ),
        (
            "DELETE",
            "/api/v1/connectors/01a228fd-4094-7290-b145-9d26ff5b8438",
        ),
        (
            "POST",
            "/api/v1/connectors/01a228fd-4094-7290-b145-9d26ff5b8438/pull",
        ),
    ] {
        s.req(m, p).tenant(T).send().expect_error(404, "not_found");
    }
    s.req("PUT", "/api/v1/connectors")
        .tenant(T)
        .send()
        .expect_error(405, "method_not_allowed");
}

#[test]
fn only_admin_keys_manage_connectors_and_only_in_their_tenant() {
    let s = start(&[]);
    let master = s.master_key();
    s.create_tenant("t1", "pro");
    s.create_tenant("t2", "pro");
    let admin1 = s.create_key("t1", &["admin"]);
    let admin2 = s.create_key("t2", &["admin"]);
    let ingest = s.create_key("t1", &["ingest", "search", "entities"]);
    let body = json!({
        "name": "n", "connector_type": "sqlite", "collection": "c", "record_type": "t",
        "connection_config": {"path": "x.db"}, "query": "SELECT 1 AS name",
    });
    for (m, p) in [
        ("POST", "/api/v1/connectors"),
        ("GET", "/api/v1/connectors"),
    ] {
        s.req(m, p)
            .bearer(&ingest)
            .json(&body)
            .send()
            .expect_error(403, "insufficient_scope");
    }
    let r = s
        .post("/api/v1/connectors")
        .bearer(&admin1)
        .json(&body)
        .send();
    assert_eq!(r.status, 201, "{}", r.text);
    let id = r.json()["id"].as_str().unwrap().to_owned();
    for (m, p) in [
        ("GET", format!("/api/v1/connectors/{id}")),
        ("POST", format!("/api/v1/connectors/{id}/pull")),
        ("DELETE", format!("/api/v1/connectors/{id}")),
    ] {
        s.req(m, &p)
            .bearer(&admin2)
            .send()
            .expect_error(404, "not_found");
        s.req(m, &p)
            .bearer(&ingest)
            .send()
            .expect_error(403, "insufficient_scope");
    }
    let theirs = s.get("/api/v1/connectors").bearer(&admin2).send().json();
    assert_eq!(theirs["connectors"], json!([]));
    // The pull runs (and fails: no such file) in t1 only.
    let p = s
        .post(&format!("/api/v1/connectors/{id}/pull"))
        .bearer(&admin1)
        .send();
    assert_eq!(p.status, 200, "{}", p.text);
    assert_eq!(p.json()["status"], "failed");
    // Deleting the tenant deletes its connectors.
    let d = s
        .req("DELETE", "/api/v1/admin/tenants/t1")
        .bearer(&master)
        .send();
    assert_eq!(d.status, 204, "{}", d.text);
    s.create_tenant("t1", "pro");
    let again = s
        .get("/api/v1/connectors")
        .bearer(&master)
        .tenant("t1")
        .send()
        .json();
    assert_eq!(again["connectors"], json!([]));
    let r = s
        .req("DELETE", &format!("/api/v1/connectors/{id}"))
        .bearer(&master)
        .tenant("t1")
        .send();
    r.expect_error(404, "not_found");
}
