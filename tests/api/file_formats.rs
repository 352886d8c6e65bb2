//! Fixture files (tests/fixtures) uploaded and found again by search with the right values:
//! awkward CSV, BMEcat, one IDoc of each type; and hostile XML.

use serde_json::{json, Value};

use crate::common::{self, Server};

fn fixture(name: &str) -> Vec<u8> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn upload_file(srv: &Server, vertical: &str, file_name: &str, bytes: &[u8]) -> common::Resp {
    srv.upload(
        "acme",
        &format!("/api/v1/ingest/{vertical}/item/upload"),
        &[("file", Some(file_name), None, bytes)],
    )
}

fn upload_ok(srv: &Server, vertical: &str, file_name: &str) -> Value {
    let r = upload_file(srv, vertical, file_name, &fixture(file_name));
    assert_eq!(r.status, 200, "{file_name}: {}", r.text);
    let r = r.json();
    srv.wait_indexed("acme", r["entity_ids"].as_array().unwrap());
    r
}

/// The first result of a search in `vertical`.
fn top(srv: &Server, vertical: &str, query: &str) -> Value {
    let r = srv
        .search("acme", vertical, &json!({"query": query}))
        .json();
    r["results"][0].clone()
}

#[test]
fn awkward_csv_fixture() {
    let srv = common::start_dev(&[]);
    let r = srv.upload(
        "acme",
        "/api/v1/ingest/parts/item/upload",
        &[
            ("name_column", None, None, b"Artikel"),
            ("file", Some("awkward.csv"), None, &fixture("awkward.csv")),
        ],
    );
    assert_eq!(r.status, 200, "{}", r.text);
    let r = r.json();
    assert_eq!(
        (r["accepted"].as_u64(), r["rejected"].as_u64()),
        (Some(3), Some(1)),
        "{r}"
    );
    assert_eq!(r["errors"][0]["error_type"], "ragged_row");
    srv.wait_indexed("acme", r["entity_ids"].as_array().unwrap());

    let hit = top(&srv, "parts", "DIN933-M10X50");
    assert_eq!(hit["name"], "Hex bolt; DIN 933");
    let d = &hit["vertical_data"];
    assert_eq!(
        (d["length_mm"].clone(), d["price_eur"].clone()),
        (json!(50), json!(0.61))
    );
    assert_eq!(d["remarks"], "8.8 steel, \"zinc\" plated");
    assert_eq!(d["in_stock"], true);
    let hit = top(&srv, "parts", "ISO4762-M6X20");
    assert_eq!(hit["name"], "Socket screw\nISO 4762");
    assert_eq!(hit["vertical_data"]["in_stock"], false);
    let hit = top(&srv, "parts", "DIN125-A10.5");
    assert_eq!(hit["vertical_data"]["remarks"], "semi;colon, comma");
    assert!(
        hit["vertical_data"].get("thread").is_none(),
        "empty cells are left out"
    );
}

#[test]
fn bmecat_fixture() {
    let srv = common::start_dev(&[]);
    let r = upload_ok(&srv, "fasteners", "bmecat.xml");
    assert_eq!(
        (r["accepted"].as_u64(), r["rejected"].as_u64()),
        (Some(2), Some(1)),
        "{r}"
    );
    assert_eq!(
        r["errors"][0]["field"], "name",
        "an ARTICLE without DESCRIPTION_SHORT: {r}"
    );
    let ing = srv.ingestion("acme", &r);
    assert_eq!(ing["source_type"], "bmecat");

    let hit = top(&srv, "fasteners", "FF-933-M12X60");
    assert_eq!(hit["name"], "Hex head bolt M12x60 DIN 933 & ISO 4017");
    let d = &hit["vertical_data"];
    assert_eq!(d["part_number"], "FF-933-M12X60");
    assert_eq!(
        (d["price"].clone(), d["currency"].clone()),
        (json!(0.84), json!("EUR"))
    );
    assert_eq!(
        (d["length"].clone(), d["length_unit"].clone()),
        (json!(60), json!("mm"))
    );
    assert_eq!(d["ean"], "4012345000017");
    assert_eq!(d["order_unit"], "C62");
    let cheap = srv
        .search("acme", "fasteners", &json!({"filters": {"price_max": 0.5}}))
        .json();
    assert_eq!(
        cheap["results"][0]["name"], "Hex nut M12 DIN 934",
        "{cheap}"
    );
    // The standard is found as an identifier too.
    assert_eq!(top(&srv, "fasteners", "ISO 4017")["name"], hit["name"]);

    // Upsert: the same file again gives only duplicates.
    let again = upload_file(&srv, "fasteners", "bmecat.xml", &fixture("bmecat.xml")).json();
    assert_eq!(
        (
            again["accepted"].as_u64(),
            again["duplicate_count"].as_u64()
        ),
        (Some(0), Some(2))
    );
    // A changed price updates the same entity.
    let changed = String::from_utf8(fixture("bmecat.xml")).unwrap().replace(
        "<PRICE_AMOUNT>0.84</PRICE_AMOUNT>",
        "<PRICE_AMOUNT>0.91</PRICE_AMOUNT>",
    );
    let up = upload_file(&srv, "fasteners", "bmecat.xml", changed.as_bytes()).json();
    assert_eq!(
        (up["accepted"].as_u64(), up["duplicate_count"].as_u64()),
        (Some(1), Some(1)),
        "{up}"
    );
    assert_eq!(up["entity_ids"][0], r["entity_ids"][0]);
}

#[test]
fn one_idoc_of_each_type() {
    let srv = common::start_dev(&[]);
    for file in [
        "idoc_matmas.xml",
        "idoc_debmas.xml",
        "idoc_cremas.xml",
        "idoc_orders.xml",
    ] {
        let r = upload_ok(&srv, "erp", file);
        assert_eq!(r["accepted"], 1, "{file}: {r}");
    }
    let m = top(&srv, "erp", "gear pump");
    assert_eq!(m["name"], "Hydraulic gear pump HGP-25");
    assert_eq!(m["vertical_data"]["material_number"], "000000000000200345");
    assert_eq!(m["vertical_data"]["material_type"], "HALB");
    assert_eq!(m["vertical_data"]["idoc_type"], "MATMAS");
    assert_eq!(m["vertical_data"]["segments"]["E1MAKTM"][1]["SPRAS"], "D");

    let d = top(&srv, "erp", "Nordwerk");
    assert_eq!(d["name"], "Nordwerk Maschinenbau AG");
    assert_eq!(d["vertical_data"]["customer_number"], "0000100200");
    assert_eq!(d["vertical_data"]["country"], "DE");

    let c = top(&srv, "erp", "Alpine Bearings");
    assert_eq!(c["name"], "Alpine Bearings Srl");
    assert_eq!(c["vertical_data"]["vendor_number"], "0000300400");
    assert_eq!(c["vertical_data"]["country"], "IT");

    let o = top(&srv, "erp", "ORDERS IDoc");
    assert_eq!(o["name"], "ORDERS IDoc 4711004");
    let lines = &o["vertical_data"]["segments"]["E1EDP01"];
    assert_eq!(lines.as_array().map(Vec::len), Some(2), "{o}");
    assert_eq!(lines[1]["MENGE"], "40");

    // Re-sending the MATMAS with a new description updates the material.
    let changed = String::from_utf8(fixture("idoc_matmas.xml"))
        .unwrap()
        .replace(
            "Hydraulic gear pump HGP-25",
            "Hydraulic gear pump HGP-25 rev B",
        );
    let up = upload_file(&srv, "erp", "matmas.xml", changed.as_bytes()).json();
    assert_eq!(up["accepted"], 1);
    assert_eq!(up["entity_ids"][0], m["entity_id"], "{up}");
}

#[test]
fn hostile_xml_is_refused_with_a_clear_4xx() {
    let srv = common::start_dev(&[]);
    let bomb = br#"<?xml version="1.0"?>
<!DOCTYPE BMECAT [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol9 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
]>
<BMECAT><T_NEW_CATALOG><ARTICLE><SUPPLIER_AID>X</SUPPLIER_AID>
<ARTICLE_DETAILS><DESCRIPTION_SHORT>&lol9;</DESCRIPTION_SHORT></ARTICLE_DETAILS></ARTICLE></T_NEW_CATALOG></BMECAT>"#;
    let r = upload_file(&srv, "x", "bomb.xml", bomb);
    r.expect_error(400, "bad_request");
    assert!(
        r.json()["detail"].as_str().unwrap().contains("entit"),
        "{}",
        r.text
    );

    let whole = fixture("bmecat.xml");
    let truncated = &whole[..whole.len() * 2 / 3];
    let r = upload_file(&srv, "x", "cut.xml", truncated);
    r.expect_error(400, "bad_request");
    assert!(
        r.json()["detail"].as_str().unwrap().contains("truncated"),
        "{}",
        r.text
    );

    upload_file(&srv, "x", "a.xml", b"<BMECAT><A></B></BMECAT>").expect_error(400, "bad_request");
    upload_file(
        &srv,
        "x",
        "a.xml",
        b"<?xml version=\"1.0\"?><BMECAT>\xff\xfe</BMECAT>",
    )
    .expect_error(400, "bad_request");
    upload_file(&srv, "x", "a.xml", b"<rss><channel/></rss>").expect_error(422, "validation_error");
    upload_file(&srv, "x", "a.xml", b"<BMECAT><T_NEW_CATALOG/></BMECAT>")
        .expect_error(422, "validation_error");

    // Nothing of any refused file was stored.
    let list = srv
        .get("/api/v1/entities?vertical=x")
        .tenant("acme")
        .send()
        .json();
    assert_eq!(list["items"], json!([]), "{list}");
    // The server is fine afterwards.
    assert_eq!(srv.get("/health").send().status, 200);
}

fn pdf_upload(srv: &Server, file_name: &str, bytes: &[u8]) -> common::Resp {
    srv.upload(
        "acme",
        "/api/v1/ingest/docs/datasheet/pdf",
        &[("file", Some(file_name), Some("application/pdf"), bytes)],
    )
}

#[test]
fn pdfs_are_chunked_by_page_count_and_searchable() {
    let srv = common::start_dev(&[]);
    let r = pdf_upload(&srv, "datasheet_2p.pdf", &fixture("datasheet_2p.pdf"));
    assert_eq!(r.status, 200, "{}", r.text);
    let r = r.json();
    assert_eq!(r["accepted"], 1, "2 pages are one entity: {r}");
    let datasheet_id = r["entity_ids"][0].clone();
    srv.wait_indexed("acme", r["entity_ids"].as_array().unwrap());
    let hit = top(&srv, "docs", "rated torque servo");
    assert_eq!(hit["name"], "datasheet_2p");
    let d = &hit["vertical_data"];
    assert_eq!(
        (d["page_start"].clone(), d["page_end"].clone()),
        (json!(1), json!(2))
    );
    assert_eq!(d["page_count"], 2);
    assert_eq!(d["file_name"], "datasheet_2p.pdf");
    assert!(
        d["text"]
            .as_str()
            .unwrap()
            .contains("Part number SM-4820-B"),
        "{d}"
    );
    let ing = srv.ingestion("acme", &r);
    assert_eq!(ing["source_type"], "pdf");

    let r = pdf_upload(&srv, "catalogue_5p.pdf", &fixture("catalogue_5p.pdf")).json();
    assert_eq!(r["accepted"], 5, "5 pages are five entities: {r}");
    srv.wait_indexed("acme", r["entity_ids"].as_array().unwrap());
    let hit = top(&srv, "docs", "grease nipple lubrication");
    assert_eq!(hit["name"], "catalogue_5p — page 4");
    assert_eq!(hit["vertical_data"]["page"], 4);
    assert_eq!(hit["vertical_data"]["page_count"], 5);
    // The standard on page 4 is found as an identifier.
    assert_eq!(
        top(&srv, "docs", "DIN 71412")["name"],
        "catalogue_5p — page 4"
    );

    // A new edition of the 2-page datasheet under the same name updates its entity. The edit
    // keeps the byte length, so the PDF's cross-reference offsets stay valid.
    let mut edition = fixture("datasheet_2p.pdf");
    let at = edition
        .windows(19)
        .position(|w| w == b"Rated torque 4.8 Nm")
        .unwrap();
    edition[at..at + 19].copy_from_slice(b"Rated torque 5.2 Nm");
    let up = pdf_upload(&srv, "datasheet_2p.pdf", &edition).json();
    assert_eq!(up["accepted"], 1, "{up}");
    assert_eq!(up["entity_ids"][0], datasheet_id, "the same entity");
    let e = srv
        .get(&format!(
            "/api/v1/entities/{}",
            datasheet_id.as_str().unwrap()
        ))
        .tenant("acme")
        .send()
        .json();
    assert!(
        e["vertical_data"]["text"]
            .as_str()
            .unwrap()
            .contains("5.2 Nm"),
        "{e}"
    );

    // The same file again: duplicates only.
    let again = pdf_upload(&srv, "catalogue_5p.pdf", &fixture("catalogue_5p.pdf")).json();
    assert_eq!(
        (
            again["accepted"].as_u64(),
            again["duplicate_count"].as_u64()
        ),
        (Some(0), Some(5))
    );
}

#[test]
fn bad_pdfs_get_clear_4xx() {
    let srv = common::start_dev(&[]);
    let r = pdf_upload(&srv, "notes.pdf", b"name,price\nBolt,1\n");
    r.expect_error(415, "unsupported_media_type");
    let r = pdf_upload(&srv, "locked.pdf", &fixture("encrypted.pdf"));
    r.expect_error(422, "validation_error");
    assert!(
        r.json()["detail"].as_str().unwrap().contains("encrypted"),
        "{}",
        r.text
    );
    let r = pdf_upload(&srv, "scan.pdf", &fixture("scanned.pdf"));
    r.expect_error(422, "validation_error");
    assert!(
        r.json()["detail"].as_str().unwrap().contains("scan"),
        "{}",
        r.text
    );
    pdf_upload(&srv, "broken.pdf", b"%PDF-1.7\n1 0 obj << /Type /Catalog")
        .expect_error(422, "validation_error");
    srv.post("/api/v1/ingest/docs/datasheet/pdf")
        .tenant("acme")
        .raw(fixture("datasheet_2p.pdf"), "application/pdf")
        .send()
        .expect_error(415, "unsupported_media_type");
    let list = srv
        .get("/api/v1/entities?vertical=docs")
        .tenant("acme")
        .send()
        .json();
    assert_eq!(list["items"], json!([]), "{list}");
}
