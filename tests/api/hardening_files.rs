//! Hostile uploads: PDF decompression bombs, PDFs with very many pages, page text that grows
//! when escaped, and request bodies that stop arriving.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use serde_json::json;

use crate::common::{self, Server, BOUNDARY};

/// A PDF whose pages have the given content streams (flate-compressed when `compress`), with
/// Helvetica as `/F1`. Written with lopdf, so tests need no large fixture files.
fn pdf(pages: Vec<Vec<u8>>, compress: bool) -> Vec<u8> {
    use lopdf::{dictionary, Document, Object, Stream};
    let mut doc = Document::with_version("1.5");
    let pages_id = doc.new_object_id();
    let font_id = doc.add_object(dictionary! {
        "Type" => "Font", "Subtype" => "Type1", "BaseFont" => "Helvetica",
    });
    let resources_id = doc.add_object(dictionary! { "Font" => dictionary! { "F1" => font_id } });
    let mut kids: Vec<Object> = Vec::new();
    for content in pages {
        let mut stream = Stream::new(dictionary! {}, content);
        if compress {
            stream.compress().unwrap();
        }
        let content_id = doc.add_object(stream);
        let page_id = doc.add_object(dictionary! {
            "Type" => "Page", "Parent" => pages_id, "Contents" => content_id,
        });
        kids.push(page_id.into());
    }
    let count = kids.len() as i64;
    doc.objects.insert(
        pages_id,
        Object::Dictionary(dictionary! {
            "Type" => "Pages", "Kids" => kids, "Count" => count, "Resources" => resources_id,
            "MediaBox" => vec![0.into(), 0.into(), 595.into(), 842.into()],
        }),
    );
    let catalog_id = doc.add_object(dictionary! { "Type" => "Catalog", "Pages" => pages_id });
    doc.trailer.set("Root", catalog_id);
    let mut out = Vec::new();
    doc.save_to(&mut out).unwrap();
    out
}

fn text_page(text: &str) -> Vec<u8> {
    format!("BT /F1 12 Tf 72 720 Td ({text}) Tj ET").into_bytes()
}

fn pdf_upload(srv: &Server, file_name: &str, bytes: &[u8]) -> common::Resp {
    srv.upload(
        "acme",
        "/api/v1/ingest/docs/sheet/pdf",
        &[("file", Some(file_name), Some("application/pdf"), bytes)],
    )
}

#[test]
fn pdf_decompression_bomb_is_refused_in_bounded_memory() {
    let srv = common::start_dev(&[]);
    // 24 MB of tiny text operators, about 25 KB compressed: every `Tj` used to become a
    // parsed operation held in memory at once.
    let bomb = "(A) Tj\n".repeat(24 << 20 >> 3);
    let page = format!("BT /F1 12 Tf\n{bomb}ET").into_bytes();
    let file = pdf(vec![page], true);
    assert!(file.len() < 100_000, "{} bytes", file.len());
    let before = srv.peak_rss_mb();
    let r = pdf_upload(&srv, "bomb.pdf", &file);
    r.expect_error(422, "validation_error");
    let detail = r.json()["detail"].as_str().unwrap().to_owned();
    assert!(
        detail.contains("page 1") && detail.contains("MiB"),
        "{detail}"
    );
    let grown = srv.peak_rss_mb().saturating_sub(before);
    assert!(grown < 120, "peak RSS grew by {grown} MB");
    assert_eq!(srv.get("/health").send().status, 200);
}

#[test]
fn pdf_pages_are_read_in_linear_time_and_capped_like_batches() {
    let srv = common::start_dev(&[]);
    let pages = |n: usize| {
        (1..=n)
            .map(|i| text_page(&format!("Catalogue page {i} bolt M{i}")))
            .collect::<Vec<_>>()
    };
    // Storing 10,000 records costs what it costs; reading the pages must add little to it.
    // Reading used to rebuild the page list for every page: 10,000 pages took over 30 s.
    let records: Vec<_> = (1..=10_000)
        .map(|i| json!({"name": format!("Catalogue page {i}"), "source_id": format!("row:{i}"), "text": format!("bolt M{i}")}))
        .collect();
    let started = Instant::now();
    srv.ingest("acme", "docs", "rows", &json!({ "records": records }));
    let batch_took = started.elapsed();
    let file = pdf(pages(10_000), false);
    let started = Instant::now();
    let r = pdf_upload(&srv, "big.pdf", &file);
    let took = started.elapsed();
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["accepted"], 10_000);
    // Relative to the batch, so a loaded test machine slows both alike; quadratic reading
    // blew through the client's 30 s timeout on a quiet one.
    assert!(
        took < batch_took * 2 + Duration::from_secs(8),
        "pdf {took:?}, batch {batch_took:?}"
    );

    // One record per page: more pages than a batch may hold are refused like a batch.
    let file = pdf(pages(10_001), false);
    let started = Instant::now();
    let r = pdf_upload(&srv, "bigger.pdf", &file);
    r.expect_error(413, "payload_too_large");
    let detail = r.json()["detail"].as_str().unwrap().to_owned();
    assert!(
        detail.contains("10001") && detail.contains("10000"),
        "{detail}"
    );
    assert!(started.elapsed() < Duration::from_secs(8));
}

#[test]
fn pdf_text_is_cut_to_fit_once_escaped() {
    let srv = common::start_dev(&[]);
    // 40,000 quotes are 40 KB of text but 80 KB of JSON: the cut must measure the latter.
    let file = pdf(vec![text_page(&"\"".repeat(40_000))], true);
    let r = pdf_upload(&srv, "quotes.pdf", &file);
    assert_eq!(r.status, 200, "{}", r.text);
    let r = r.json();
    assert_eq!(
        (r["accepted"].as_u64(), r["rejected"].as_u64()),
        (Some(1), Some(0)),
        "{r}"
    );
    let e = srv
        .get(&format!(
            "/api/v1/entities/{}",
            r["entity_ids"][0].as_str().unwrap()
        ))
        .tenant("acme")
        .send()
        .json();
    assert_eq!(e["vertical_data"]["text_truncated"], true);
    let text = e["vertical_data"]["text"].as_str().unwrap();
    assert!(text.len() > 20_000 && text.chars().all(|c| c == '"'));
}

/// Sends the head of a request and part of its body, then stops sending.
fn stalled_request(srv: &Server, path: &str, content_type: &str, partial: &[u8]) -> TcpStream {
    let addr = srv.base.trim_start_matches("http://");
    let mut s = TcpStream::connect(addr).unwrap();
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nX-Tenant-Id: acme\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\r\n",
        partial.len() + 1000
    );
    s.write_all(head.as_bytes()).unwrap();
    s.write_all(partial).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(40))).unwrap();
    s
}

fn read_response(mut s: TcpStream) -> String {
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                out.extend_from_slice(&buf[..n]);
                if out.windows(4).any(|w| w == b"\r\n\r\n") && out.ends_with(b"}") {
                    break;
                }
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[test]
fn stalled_bodies_get_408() {
    let srv = common::start_dev(&[]);
    let unterminated = format!(
        "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.csv\"\r\n\r\nname\nbolt\n"
    );
    let cases = [
        (
            "/api/v1/ingest/parts/item/upload",
            format!("multipart/form-data; boundary={BOUNDARY}"),
            unterminated.as_bytes(),
        ),
        (
            "/api/v1/ingest/parts/item/batch",
            "application/json".to_owned(),
            &b"{\"records\": ["[..],
        ),
        (
            "/api/v1/ingest/parts/item/stream",
            "application/x-ndjson".to_owned(),
            &b"{\"name\": \"bolt\"}\n"[..],
        ),
        (
            "/api/v1/entities",
            "application/json".to_owned(),
            &b"{\"name\": "[..],
        ),
    ];
    let streams: Vec<_> = cases
        .iter()
        .map(|(path, ct, body)| (path, Instant::now(), stalled_request(&srv, path, ct, body)))
        .collect();
    for (path, started, s) in streams {
        let answer = read_response(s);
        let took = started.elapsed();
        assert!(answer.starts_with("HTTP/1.1 408"), "{path}: {answer}");
        assert!(answer.contains("request_timeout"), "{path}: {answer}");
        assert!(took < Duration::from_secs(25), "{path}: {took:?}");
    }
    assert_eq!(srv.get("/health").send().status, 200);
}

#[test]
fn stalled_body_does_not_hold_shutdown() {
    let mut srv = common::start_dev(&[]);
    let body = format!("--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.csv\"\r\n\r\nname\n");
    let s = stalled_request(
        &srv,
        "/api/v1/ingest/parts/item/upload",
        &format!("multipart/form-data; boundary={BOUNDARY}"),
        body.as_bytes(),
    );
    // Let the server start reading the body.
    std::thread::sleep(Duration::from_millis(300));
    let started = Instant::now();
    let status = srv.terminate();
    assert!(status.success(), "{status:?}");
    let took = started.elapsed();
    assert!(took < Duration::from_secs(5), "shutdown took {took:?}");
    drop(s);
}

#[test]
fn stalled_body_does_not_hold_tenant_creation() {
    let srv = common::start_dev(&[]);
    assert_eq!(
        srv.get("/api/v1/entities").tenant("acme").send().status,
        200
    );
    let s = stalled_request(&srv, "/api/v1/entities", "application/json", b"{\"name\": ");
    // Let the server start reading the body, holding the tenant's gate.
    std::thread::sleep(Duration::from_millis(300));
    let started = Instant::now();
    let r = srv
        .post("/api/v1/admin/tenants")
        .bearer(&srv.master_key())
        .json(&json!({"tenant_id": "acme"}))
        .send();
    let took = started.elapsed();
    r.expect_error(409, "conflict");
    assert!(took < Duration::from_secs(5), "creation waited {took:?}");
    drop(s);
}
