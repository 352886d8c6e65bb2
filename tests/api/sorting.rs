//! Pages ordered by a number in `vertical_data` hold what the records say they should: the
//! order is computed here from the records ingested, for whole ranges, ties, missing values,
//! filters whose matches sit at the other end of the range, and integral next to fractional
//! values (which the index keeps as different kinds of terms).

use serde_json::{json, Value};

use crate::common::{self, Server};

const RECORDS: usize = 3_000;

/// A record's price: a permutation of 0, 0.25, … so integral and fractional values alternate;
/// every 13th record has none.
fn price(i: usize) -> Option<f64> {
    (i % 13 != 5).then(|| ((i * 7_919) % RECORDS) as f64 / 4.0)
}

/// Where a price sits, for filters: `cheap` the lowest 40 % of the range, `mid` 40–95 %,
/// `dear` the top 5 %.
fn band(p: Option<f64>) -> &'static str {
    let top = RECORDS as f64 / 4.0;
    match p {
        None => "none",
        Some(p) if p < 0.4 * top => "cheap",
        Some(p) if p < 0.95 * top => "mid",
        Some(_) => "dear",
    }
}

fn record(i: usize) -> Value {
    let mut data = json!({"qty": (i * 31) % 7, "band": band(price(i))});
    if let Some(p) = price(i) {
        data["price"] = json!(p);
    }
    let name = if i.is_multiple_of(2) {
        "Widget"
    } else {
        "Gadget"
    };
    let name = if i.is_multiple_of(5) {
        "Sprocket"
    } else {
        name
    };
    json!({"name": format!("{name} {i}"), "source_id": format!("s-{i}"), "vertical_data": data})
}

struct Catalog {
    srv: Server,
    /// (entity id, record) in ingestion order.
    records: Vec<(String, Value)>,
}

fn catalog() -> Catalog {
    let srv = common::start_dev(&[("DEFAULT_PLAN", "enterprise")]);
    let mut records = Vec::new();
    for chunk in (0..RECORDS).collect::<Vec<_>>().chunks(1_000) {
        let batch: Vec<Value> = chunk.iter().map(|&i| record(i)).collect();
        let r = srv.ingest("acme", "parts", "item", &json!({ "records": batch }));
        let ids = r["entity_ids"].as_array().unwrap();
        assert_eq!(ids.len(), batch.len());
        for (id, rec) in ids.iter().zip(batch) {
            records.push((id.as_str().unwrap().to_owned(), rec));
        }
    }
    let all = json!({"filters": {}, "limit": 1});
    let indexed = common::wait_for(std::time::Duration::from_secs(30), || {
        srv.search("acme", "parts", &all).json()["metadata"]["total_estimate"] == RECORDS
    });
    assert!(indexed, "the records were not all searchable in time");
    Catalog { srv, records }
}

impl Catalog {
    /// Entity ids of the records `keep` selects, ordered by `key` (missing values last), ties
    /// by entity id in the same direction.
    fn expected(&self, key: &str, descending: bool, keep: impl Fn(&Value) -> bool) -> Vec<String> {
        let mut with: Vec<(f64, &str)> = Vec::new();
        let mut without: Vec<&str> = Vec::new();
        for (id, rec) in &self.records {
            if !keep(rec) {
                continue;
            }
            match rec["vertical_data"][key].as_f64() {
                Some(v) => with.push((v, id)),
                None => without.push(id),
            }
        }
        // UUIDs in their hyphenated lower-case form sort as the numbers they are.
        with.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(b.1)));
        without.sort();
        if descending {
            with.reverse();
            without.reverse();
        }
        with.into_iter()
            .map(|(_, id)| id)
            .chain(without)
            .map(str::to_owned)
            .collect()
    }

    fn page(&self, body: &Value, offset: usize, limit: usize) -> (Vec<String>, u64) {
        let mut body = body.clone();
        body["offset"] = json!(offset);
        body["limit"] = json!(limit);
        let r = self.srv.search("acme", "parts", &body);
        assert_eq!(r.status, 200, "{}", r.text);
        let r = r.json();
        let ids = r["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x["entity_id"].as_str().unwrap().to_owned())
            .collect();
        (ids, r["metadata"]["total_estimate"].as_u64().unwrap())
    }

    /// Pages near the start (where the server may read only the end of the range), in the
    /// middle and at the end match the expected order, as does the total.
    fn check(&self, body: Value, expected: &[String]) {
        let n = expected.len();
        let near_start = (0..=60).step_by(6).map(|offset| (offset, 10));
        let others = [(0, 1), (n / 2, 25), (n.saturating_sub(7), 10)];
        for (offset, limit) in near_start.chain(others) {
            let (ids, total) = self.page(&body, offset, limit);
            let want: Vec<String> = expected.iter().skip(offset).take(limit).cloned().collect();
            assert_eq!(ids, want, "{body} offset {offset} limit {limit}");
            assert_eq!(total, n as u64, "{body}");
        }
    }
}

#[test]
fn pages_ordered_by_a_number_follow_the_records() {
    let c = catalog();
    let any = |_: &Value| true;
    for descending in [true, false] {
        let sign = if descending { "-" } else { "" };
        // The whole vertical, by distinct prices (some integral, some not; some missing).
        c.check(
            json!({"sort": format!("{sign}price")}),
            &c.expected("price", descending, any),
        );
        // Few values, many ties.
        c.check(
            json!({"sort": format!("{sign}qty")}),
            &c.expected("qty", descending, any),
        );
        // Filters whose matches lie at one end of the range, or in its middle.
        for b in ["cheap", "mid", "dear"] {
            c.check(
                json!({"filters": {"band": b}, "sort": format!("{sign}price")}),
                &c.expected("price", descending, |r| r["vertical_data"]["band"] == b),
            );
        }
        // A text query of two words (either matches) with a filter.
        let named = |r: &Value| {
            let name = r["name"].as_str().unwrap();
            name.starts_with("Widget") || name.starts_with("Gadget")
        };
        c.check(
            json!({"query": "widget gadget", "filters": {"band": "mid"}, "sort": format!("{sign}price")}),
            &c.expected("price", descending, |r| {
                named(r) && r["vertical_data"]["band"] == "mid"
            }),
        );
    }
}
