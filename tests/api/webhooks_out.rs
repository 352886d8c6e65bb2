//! Outgoing webhooks (API-RECORDS.md §5): subscriptions, signed deliveries from the write
//! paths, retries while the receiver is down, and an outbox that survives `kill -9`.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;

use crate::common::{self, wait_for, Server};

/// One request the receiver got.
#[derive(Clone, Debug)]
struct Received {
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Received {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap()
    }
}

/// A webhook receiver on 127.0.0.1: answers every request 200 and keeps it. Stops (and frees
/// its port) when dropped.
struct Receiver {
    port: u16,
    got: Arc<Mutex<Vec<Received>>>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Receiver {
    fn start() -> Receiver {
        Self::on_port(0)
    }

    fn on_port(port: u16) -> Receiver {
        let listener = TcpListener::bind(("127.0.0.1", port)).unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let got = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (sink, flag) = (Arc::clone(&got), Arc::clone(&stop));
        let thread = std::thread::spawn(move || {
            while !flag.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((conn, _)) => {
                        if let Some(r) = serve_one(conn) {
                            sink.lock().unwrap().push(r);
                        }
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(10)),
                }
            }
        });
        Receiver {
            port,
            got,
            stop,
            thread: Some(thread),
        }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}/hook", self.port)
    }

    fn received(&self) -> Vec<Received> {
        self.got.lock().unwrap().clone()
    }

    /// Waits until `n` requests have arrived; returns them.
    fn wait_for(&self, n: usize) -> Vec<Received> {
        let ok = wait_for(Duration::from_secs(20), || self.received().len() >= n);
        let got = self.received();
        assert!(ok, "expected {n} deliveries, got {}: {got:?}", got.len());
        got
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Reads one HTTP/1.1 request (headers and a Content-Length body) and answers 200.
fn serve_one(conn: TcpStream) -> Option<Received> {
    conn.set_nonblocking(false).ok()?;
    conn.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    let mut reader = BufReader::new(conn.try_clone().ok()?);
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    let mut headers = Vec::new();
    loop {
        line.clear();
        reader.read_line(&mut line).ok()?;
        let l = line.trim_end();
        if l.is_empty() {
            break;
        }
        let (k, v) = l.split_once(':')?;
        headers.push((k.trim().to_owned(), v.trim().to_owned()));
    }
    let len: usize = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; len];
    reader.read_exact(&mut body).ok()?;
    let mut conn = conn;
    conn.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        .ok()?;
    Some(Received { headers, body })
}

/// A port nobody listens on (bound, then released).
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn hmac_hex(secret: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

/// A production-mode server whose webhooks may target 127.0.0.1, retrying quickly.
fn server() -> Server {
    common::start(&[
        ("WEBHOOK_ALLOW_PRIVATE", "true"),
        ("WEBHOOK_RETRY_BASE_MS", "200"),
    ])
}

/// A tenant with an admin key.
fn tenant(s: &Server, id: &str) -> String {
    s.create_tenant(id, "enterprise");
    s.create_key(id, &["admin"])
}

/// Subscribes `url` to `events`; returns (id, secret).
fn subscribe(s: &Server, key: &str, url: &str, events: &[&str]) -> (String, String) {
    let r = s
        .post("/api/v1/portal/webhooks")
        .bearer(key)
        .json(&json!({"url": url, "events": events, "description": "test"}))
        .send();
    assert_eq!(r.status, 201, "{}", r.text);
    let b = r.json();
    let secret = b["secret"].as_str().unwrap().to_owned();
    assert!(
        secret.starts_with("whsec_") && secret.len() == 6 + 64,
        "{secret}"
    );
    assert_eq!(b["active"], true);
    (b["id"].as_str().unwrap().to_owned(), secret)
}

fn create_entity(s: &Server, key: &str, name: &str) -> String {
    let r = s
        .post("/api/v1/entities")
        .bearer(key)
        .json(
            &json!({"name": name, "vertical": "parts", "entity_type": "bolt",
                      "vertical_data": {"size": "M8"}}),
        )
        .send();
    assert_eq!(r.status, 201, "{}", r.text);
    r.json()["id"].as_str().unwrap().to_owned()
}

fn deliveries(s: &Server, key: &str, id: &str) -> Vec<Value> {
    let r = s
        .get(&format!("/api/v1/portal/webhooks/{id}/deliveries"))
        .bearer(key)
        .send();
    assert_eq!(r.status, 200, "{}", r.text);
    r.json()["deliveries"].as_array().unwrap().clone()
}

const ALL: [&str; 4] = [
    "record.created",
    "record.updated",
    "record.deleted",
    "upload.complete",
];

#[test]
fn writes_send_signed_events_for_every_write_path() {
    let s = server();
    let key = tenant(&s, "acme");
    let rx = Receiver::start();
    let (sub, secret) = subscribe(&s, &key, &rx.url(), &ALL);

    let id = create_entity(&s, &key, "Hex bolt");
    let r = s
        .req("PATCH", &format!("/api/v1/entities/{id}"))
        .bearer(&key)
        .json(&json!({"name": "Hex bolt M8"}))
        .send();
    assert_eq!(r.status, 200, "{}", r.text);
    let r = s
        .req("DELETE", &format!("/api/v1/entities/{id}"))
        .bearer(&key)
        .send();
    assert_eq!(r.status, 200, "{}", r.text);
    let got = rx.wait_for(3);
    let events: Vec<Value> = got.iter().map(Received::json).collect();
    let names: Vec<&str> = events
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["record.created", "record.updated", "record.deleted"],
        "in order"
    );
    for (r, e) in got.iter().zip(&events) {
        assert_eq!(
            r.header("X-Qanatix-Signature"),
            Some(hmac_hex(&secret, &r.body).as_str()),
            "signature is hex HMAC-SHA256 of the raw body"
        );
        assert_eq!(r.header("X-Qanatix-Event"), e["event"].as_str());
        assert_eq!(e["tenant_id"], "acme");
        assert!(e["id"].is_string() && e["created_at"].is_string(), "{e}");
        assert_eq!(e["data"]["record_id"], id.as_str());
        assert_eq!(e["data"]["collection"], "parts");
    }
    assert_eq!(events[1]["data"]["name"], "Hex bolt M8");
    assert_eq!(events[2]["data"]["status"], "archived");
    assert_eq!(events[2]["data"]["permanent"], false);

    // A batch: one event per stored record, then upload.complete.
    let r = s
        .post("/api/v1/ingest/parts/bolt/batch")
        .bearer(&key)
        .json(
            &json!({"records": [{"name": "A", "source_id": "a"}, {"name": "B", "source_id": "b"}]}),
        )
        .send();
    assert_eq!(r.status, 200, "{}", r.text);
    let ingestion = r.json()["ingestion_id"].as_str().unwrap().to_owned();
    let got = rx.wait_for(6);
    let batch: Vec<Value> = got[3..].iter().map(Received::json).collect();
    let names: Vec<&str> = batch.iter().map(|e| e["event"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        ["record.created", "record.created", "upload.complete"]
    );
    let done = &batch[2]["data"];
    assert_eq!(done["upload_id"], ingestion.as_str());
    assert_eq!(done["status"], "complete");
    assert_eq!(done["summary"]["accepted"], 2);
    for r in &got[3..] {
        assert_eq!(
            r.header("X-Qanatix-Signature"),
            Some(hmac_hex(&secret, &r.body).as_str())
        );
    }

    // The same records again with a change: updates.
    let r = s
        .post("/api/v1/ingest/parts/bolt/batch")
        .bearer(&key)
        .json(&json!([{"name": "A2", "source_id": "a"}]))
        .send();
    assert_eq!(r.status, 200, "{}", r.text);
    let got = rx.wait_for(8);
    assert_eq!(got[6].json()["event"], "record.updated");
    assert_eq!(got[6].json()["data"]["name"], "A2");
    assert_eq!(got[7].json()["event"], "upload.complete");

    let log = deliveries(&s, &key, &sub);
    assert_eq!(log.len(), 8, "{log:?}");
    assert!(log
        .iter()
        .all(|d| d["status_code"] == 200 && d["attempts"] == 1 && d["delivered_at"].is_string()));
    assert_eq!(log[0]["event"], "upload.complete", "newest first");
}

#[test]
fn only_subscribed_events_and_tenants_are_sent() {
    let s = server();
    let key = tenant(&s, "acme");
    let other = tenant(&s, "other");
    let rx = Receiver::start();
    subscribe(&s, &key, &rx.url(), &["record.deleted"]);
    let id = create_entity(&s, &key, "Nut");
    create_entity(&s, &other, "Other tenant's nut");
    let r = s
        .post("/api/v1/entities/bulk-delete")
        .bearer(&key)
        .json(&json!({"entity_ids": [id]}))
        .send();
    assert_eq!(r.status, 200, "{}", r.text);
    let got = rx.wait_for(1);
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(rx.received().len(), 1, "{got:?}");
    assert_eq!(got[0].json()["event"], "record.deleted");
    assert_eq!(got[0].json()["data"]["record_id"], id.as_str());
    assert_eq!(got[0].json()["data"]["permanent"], false);

    let r = s
        .req("DELETE", &format!("/api/v1/entities/{id}?permanent=true"))
        .bearer(&key)
        .send();
    assert_eq!(r.status, 204, "{}", r.text);
    let got = rx.wait_for(2);
    assert_eq!(got[1].json()["event"], "record.deleted");
    assert_eq!(got[1].json()["data"]["permanent"], true);
    assert_eq!(got[1].json()["data"]["record_id"], id.as_str());
}

#[test]
fn a_receiver_that_was_down_gets_the_event_once_it_is_back() {
    let s = server();
    let key = tenant(&s, "acme");
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}/hook");
    let (sub, secret) = subscribe(&s, &key, &url, &["record.created"]);
    let id = create_entity(&s, &key, "Washer");
    assert!(
        wait_for(Duration::from_secs(10), || {
            deliveries(&s, &key, &sub)
                .first()
                .is_some_and(|d| d["attempts"].as_u64() >= Some(2) && d["error"].is_string())
        }),
        "failed attempts are logged: {:?}",
        deliveries(&s, &key, &sub)
    );
    let d = &deliveries(&s, &key, &sub)[0];
    assert!(
        d["delivered_at"].is_null() && d["status_code"].is_null(),
        "{d}"
    );

    let rx = Receiver::on_port(port);
    let got = rx.wait_for(1);
    assert_eq!(got[0].json()["data"]["record_id"], id.as_str());
    assert_eq!(
        got[0].header("X-Qanatix-Signature"),
        Some(hmac_hex(&secret, &got[0].body).as_str())
    );
    assert!(wait_for(Duration::from_secs(5), || deliveries(
        &s, &key, &sub
    )[0]["delivered_at"]
        .is_string()));
    let d = &deliveries(&s, &key, &sub)[0];
    assert_eq!(d["status_code"], 200);
    assert!(d["attempts"].as_u64() >= Some(3), "{d}");
}

#[test]
fn the_outbox_survives_kill_9_and_is_delivered_after_restart() {
    let mut s = server();
    let key = tenant(&s, "acme");
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}/hook");
    subscribe(&s, &key, &url, &ALL);
    let id = create_entity(&s, &key, "Rivet");
    let r = s
        .post("/api/v1/ingest/parts/bolt/batch")
        .bearer(&key)
        .json(&json!([{"name": "Pin", "source_id": "p1"}]))
        .send();
    assert_eq!(r.status, 200, "{}", r.text);
    // Acknowledged, receiver down, no chance to flush anything more.
    s.kill9();

    let rx = Receiver::on_port(port);
    let s = s.restart();
    let got = rx.wait_for(3);
    let mut names: Vec<String> = got
        .iter()
        .map(|r| r.json()["event"].as_str().unwrap().to_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        ["record.created", "record.created", "upload.complete"]
    );
    assert!(got
        .iter()
        .any(|r| r.json()["data"]["record_id"] == id.as_str()));
    drop(s);
}

#[test]
fn portal_routes_need_admin_and_stay_within_the_tenant() {
    let s = server();
    let key = tenant(&s, "acme");
    let other = tenant(&s, "other");
    let rx = Receiver::start();
    let (sub, _) = subscribe(&s, &key, &rx.url(), &["record.created"]);

    let entities_only = s.create_key("acme", &["entities", "ingest", "search"]);
    for (m, p) in [
        ("GET", "/api/v1/portal/webhooks".to_owned()),
        ("POST", "/api/v1/portal/webhooks".to_owned()),
        ("GET", format!("/api/v1/portal/webhooks/{sub}")),
        ("POST", format!("/api/v1/portal/webhooks/{sub}/test")),
        ("GET", format!("/api/v1/portal/webhooks/{sub}/deliveries")),
        ("DELETE", format!("/api/v1/portal/webhooks/{sub}")),
    ] {
        s.req(m, &p)
            .bearer(&entities_only)
            .json(&json!({"url": rx.url(), "events": ["ping"]}))
            .send()
            .expect_error(403, "insufficient_scope");
    }

    // Another tenant's id is not found, whatever it asks.
    for (m, p) in [
        ("GET", format!("/api/v1/portal/webhooks/{sub}")),
        ("PATCH", format!("/api/v1/portal/webhooks/{sub}")),
        ("POST", format!("/api/v1/portal/webhooks/{sub}/test")),
        ("GET", format!("/api/v1/portal/webhooks/{sub}/deliveries")),
        ("DELETE", format!("/api/v1/portal/webhooks/{sub}")),
        ("GET", "/api/v1/portal/webhooks/not-a-uuid".to_owned()),
    ] {
        s.req(m, &p)
            .bearer(&other)
            .json(&json!({"active": false}))
            .send()
            .expect_error(404, "not_found");
    }
    let r = s.get("/api/v1/portal/webhooks").bearer(&other).send();
    assert_eq!(r.json()["webhooks"], json!([]));
    assert!(
        rx.received().is_empty(),
        "no ping went out for the other tenant"
    );

    // Listing and reading never show the secret.
    let r = s.get("/api/v1/portal/webhooks").bearer(&key).send();
    assert_eq!(r.status, 200);
    let list = r.json()["webhooks"].as_array().unwrap().clone();
    assert_eq!(list.len(), 1);
    assert!(list[0].get("secret").is_none(), "{}", r.text);
    let r = s
        .get(&format!("/api/v1/portal/webhooks/{sub}"))
        .bearer(&key)
        .send();
    assert_eq!(r.status, 200);
    assert!(r.json().get("secret").is_none(), "{}", r.text);
    assert!(!s.logs().contains("whsec_"), "secrets stay out of the log");

    // Deleting a tenant removes its webhooks.
    let r = s
        .req("DELETE", "/api/v1/admin/tenants/acme")
        .bearer(&s.master_key())
        .send();
    assert!(r.status == 200 || r.status == 204, "{}", r.text);
    let key = tenant(&s, "acme");
    let r = s.get("/api/v1/portal/webhooks").bearer(&key).send();
    assert_eq!(r.json()["webhooks"], json!([]), "{}", r.text);
}

#[test]
fn bad_subscriptions_are_refused_with_422() {
    let s = common::start(&[]);
    let key = tenant(&s, "acme");
    for (body, needle) in [
        (
            json!({"url": "ftp://example.com/x", "events": ["ping"]}),
            "http or https",
        ),
        (json!({"url": "not a url", "events": ["ping"]}), "valid URL"),
        (
            json!({"url": "https://example.com/x", "events": []}),
            "at least one",
        ),
        (
            json!({"url": "https://example.com/x", "events": ["record.exploded"]}),
            "unknown event",
        ),
        (
            json!({"url": "http://127.0.0.1:9/x", "events": ["ping"]}),
            "WEBHOOK_ALLOW_PRIVATE",
        ),
        (
            json!({"url": "http://[::1]/x", "events": ["ping"]}),
            "WEBHOOK_ALLOW_PRIVATE",
        ),
        (json!({"events": ["ping"]}), "url"),
    ] {
        let r = s
            .post("/api/v1/portal/webhooks")
            .bearer(&key)
            .json(&body)
            .send();
        r.expect_error(422, "validation_error");
        assert!(
            r.json()["detail"].as_str().unwrap().contains(needle),
            "{body}: {}",
            r.text
        );
    }
    let r = s
        .post("/api/v1/portal/webhooks")
        .bearer(&key)
        .json(&json!({"url": "https://hooks.example.com/x", "events": ["record.created"]}))
        .send();
    assert_eq!(r.status, 201, "{}", r.text);
    let id = r.json()["id"].as_str().unwrap().to_owned();
    s.req("PATCH", &format!("/api/v1/portal/webhooks/{id}"))
        .bearer(&key)
        .json(&json!({"url": "gopher://x"}))
        .send()
        .expect_error(422, "validation_error");
}

#[test]
fn test_pings_update_and_delete() {
    let s = server();
    let key = tenant(&s, "acme");
    let rx = Receiver::start();
    let (sub, secret) = subscribe(&s, &key, &rx.url(), &["record.created"]);
    let r = s
        .post(&format!("/api/v1/portal/webhooks/{sub}/test"))
        .bearer(&key)
        .send();
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["delivered"], true);
    assert_eq!(r.json()["status_code"], 200);
    let got = rx.wait_for(1);
    assert_eq!(got[0].json()["event"], "ping");
    assert_eq!(
        got[0].header("X-Qanatix-Signature"),
        Some(hmac_hex(&secret, &got[0].body).as_str())
    );
    let log = deliveries(&s, &key, &sub);
    assert_eq!(log[0]["event"], "ping");
    assert_eq!(log[0]["status_code"], 200);

    // A paused subscription gets nothing.
    let r = s
        .req("PATCH", &format!("/api/v1/portal/webhooks/{sub}"))
        .bearer(&key)
        .json(&json!({"active": false, "description": null}))
        .send();
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["active"], false);
    assert!(r.json()["description"].is_null());
    create_entity(&s, &key, "Quiet");
    std::thread::sleep(Duration::from_millis(600));
    assert_eq!(rx.received().len(), 1);

    // A ping to a receiver that is gone answers delivered: false.
    let down = format!("http://127.0.0.1:{}/hook", free_port());
    let r = s
        .req("PATCH", &format!("/api/v1/portal/webhooks/{sub}"))
        .bearer(&key)
        .json(&json!({"url": down, "active": true}))
        .send();
    assert_eq!(r.status, 200, "{}", r.text);
    let r = s
        .post(&format!("/api/v1/portal/webhooks/{sub}/test"))
        .bearer(&key)
        .send();
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["delivered"], false, "{}", r.text);
    assert!(r.json()["status_code"].is_null());

    let r = s
        .req("DELETE", &format!("/api/v1/portal/webhooks/{sub}"))
        .bearer(&key)
        .send();
    assert_eq!(r.status, 204, "{}", r.text);
    s.get(&format!("/api/v1/portal/webhooks/{sub}"))
        .bearer(&key)
        .send()
        .expect_error(404, "not_found");
}

#[test]
fn file_uploads_streams_and_signed_ingest_webhooks_send_events_too() {
    let s = server();
    let key = tenant(&s, "acme");
    let rx = Receiver::start();
    subscribe(&s, &key, &rx.url(), &["record.created", "upload.complete"]);

    let csv = b"name,source_id\nFlange,f1\nGasket,g1\n";
    let r = s
        .post("/api/v1/ingest/parts/seal/upload")
        .bearer(&key)
        .raw(
            common::multipart(&[("file", Some("seals.csv"), Some("text/csv"), csv)]),
            &format!("multipart/form-data; boundary={}", common::BOUNDARY),
        )
        .send();
    assert_eq!(r.status, 200, "{}", r.text);
    let got = rx.wait_for(3);
    let names: Vec<String> = got
        .iter()
        .map(|r| r.json()["event"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        names,
        ["record.created", "record.created", "upload.complete"]
    );
    assert_eq!(got[2].json()["data"]["source_type"], "csv");

    let r = s
        .post("/api/v1/ingest/parts/seal/stream")
        .bearer(&key)
        .raw(
            b"{\"name\": \"O-ring\"}\nnot json\n".to_vec(),
            "application/x-ndjson",
        )
        .send();
    assert_eq!(r.status, 200, "{}", r.text);
    let got = rx.wait_for(5);
    assert_eq!(got[3].json()["event"], "record.created");
    let done = got[4].json();
    assert_eq!(done["event"], "upload.complete");
    assert_eq!(done["data"]["status"], "partial");
    assert_eq!(done["data"]["summary"]["rejected"], 1);

    let r = s
        .post("/api/v1/webhooks/ingest/parts/seal")
        .bearer(&key)
        .json(&json!({"records": [{"name": "Shim"}]}))
        .send();
    assert_eq!(r.status, 200, "{}", r.text);
    let got = rx.wait_for(7);
    assert_eq!(got[5].json()["data"]["name"], "Shim");
    assert_eq!(got[6].json()["data"]["source_type"], "webhook");
}
