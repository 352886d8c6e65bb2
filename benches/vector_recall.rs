//! Recall and speed of the k-means lists that narrow the search of a large vector partition
//! (src/search/semantic/partitions.rs), against comparing every vector's bytes.
//!
//!    COUNT=1000000 cargo bench --bench vector_recall
//!
//! 1. generates COUNT catalog records (the seeded generator of `search_load`, seed 42) and
//!    embeds them with the built-in model into one partition, as the indexer would (lists
//!    computed on the way, as the partition doubles). This is done twice: for the records as
//!    generated, whose texts differ mostly in numbers the model has no words for (so that
//!    entities share a few hundred distinct vectors, each compared once), and for the same
//!    records with one made-up word each (letters that spell the record's number), which
//!    makes nearly every vector distinct: the case the lists are for,
//! 2. embeds the natural-language and paraphrase queries of the judged set
//!    (tests/relevance/queries.json) and the benchmark's query mix the way a search does,
//! 3. for k = 20 and 101 (a default page; the window hybrid search asks for), prints the mean
//!    and worst recall of `nearest` (through the lists) against `nearest_exact` (the share of its
//!    hits at least as similar as the exact k-th), the share of the exact hits' summed
//!    similarity its hits keep, and the mean time per query of each.
//!
//! No server is involved: this measures the partition alone, on one core.

use std::time::Instant;

use qanatix::sample_catalog;
use qanatix::search::semantic::{Embedder, Partitions};
use qanatix::store::entities::{Entity, EntityStatus};
use qanatix::store::vectors::Quantized;
use serde_json::Value;
use uuid::Uuid;

/// The queries a hybrid search embeds: descriptions of parts, in the catalog's words or not.
fn queries() -> Vec<String> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/relevance/queries.json");
    let judged: Value = serde_json::from_str(&std::fs::read_to_string(path).expect("judged set"))
        .expect("judged set is JSON");
    let mut out: Vec<String> = judged["queries"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|q| matches!(q["class"].as_str(), Some("natural_language" | "paraphrase")))
        .filter_map(|q| q["query"].as_str().map(str::to_owned))
        .collect();
    out.extend(
        [
            "stainless steel hex bolt for outdoor use",
            "sealed ball bearing for an electric motor",
            "high temperature shaft seal for a gearbox",
            "energy efficient four pole motor with 4 kW",
            "electric engine to power a pump",
            "lip seal for a rotating axle",
            "rolling element support for a rotating spindle",
            "rubber ring to seal a groove",
        ]
        .map(str::to_owned),
    );
    out
}

fn entity(record: &Value, entity_type: &str) -> Entity {
    let text = |k: &str| record[k].as_str().map(str::to_owned);
    Entity {
        id: Uuid::now_v7(),
        tenant_id: "bench".into(),
        vertical: "parts".into(),
        entity_type: entity_type.into(),
        name: text("name").unwrap_or_default(),
        description: text("description"),
        source_id: text("source_id"),
        source_type: None,
        source_name: None,
        source_url: None,
        status: EntityStatus::Active,
        vertical_data: record["vertical_data"]
            .as_object()
            .cloned()
            .unwrap_or_default(),
        created_at: 0,
        updated_at: 0,
        visibility: Default::default(),
    }
}

/// A word of letters only, different for every `n` (the model ignores digits).
fn made_up_word(mut n: u64) -> String {
    let mut word = String::from("zq");
    loop {
        word.push(char::from(b'a' + (n % 26) as u8));
        n /= 26;
        if n == 0 {
            return word;
        }
    }
}

fn main() {
    let count: u64 = std::env::var("COUNT")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(1_000_000);
    let embedder = Embedder::builtin().expect("built-in model");
    for distinct in [false, true] {
        let partitions = Partitions::new(embedder.dim());
        let started = Instant::now();
        let mut n = 0u64;
        for (entity_type, records) in sample_catalog::batches(42, count, 10_000) {
            for r in &records {
                let e = entity(r, entity_type);
                let mut text = qanatix::search::semantic::model::entity_text(&e);
                if distinct {
                    text.push(' ');
                    text.push_str(&made_up_word(n));
                }
                n += 1;
                if let Some(v) = embedder.embed(&text) {
                    partitions.upsert("bench", "parts", None, e.id, &Quantized::from_f32(&v));
                }
            }
        }
        println!(
            "{}: {} vectors ({} distinct) embedded in {:.1} s",
            if distinct {
                "with a made-up word per record"
            } else {
                "records as generated"
            },
            partitions.len(),
            partitions.distinct_len(),
            started.elapsed().as_secs_f64()
        );
        measure(&embedder, &partitions);
    }
}

fn measure(embedder: &Embedder, partitions: &Partitions) {
    let queries = queries();
    let vectors: Vec<Vec<f32>> = queries
        .iter()
        .filter_map(|q| {
            let words = qanatix::search::semantic::model::semantic_words(q).to_lowercase();
            embedder.embed(&words)
        })
        .collect();
    println!("{} queries", vectors.len());
    const REPEAT: u32 = 5;
    for k in [20usize, 101] {
        let (mut sum, mut worst) = (0.0f64, 1.0f64);
        let (mut ratio_sum, mut ratio_worst) = (0.0f64, 1.0f64);
        let (mut t_approx, mut t_exact) = (0.0f64, 0.0f64);
        for v in &vectors {
            let t = Instant::now();
            let mut exact = Vec::new();
            for _ in 0..REPEAT {
                exact = partitions.nearest_exact("bench", "parts", v, k);
            }
            t_exact += t.elapsed().as_secs_f64() / f64::from(REPEAT);
            let t = Instant::now();
            let mut approx = Vec::new();
            for _ in 0..REPEAT {
                approx = partitions.nearest("bench", "parts", v, k);
            }
            t_approx += t.elapsed().as_secs_f64() / f64::from(REPEAT);
            // Catalog records repeat their words, so many vectors tie: a hit as similar as the
            // exact k-th counts as found, whichever of the tied ones it is.
            let kth = exact.last().map_or(f32::MIN, |h| h.1);
            let found = approx.iter().filter(|(_, sim)| *sim >= kth).count();
            let recall = found as f64 / exact.len().max(1) as f64;
            sum += recall;
            worst = worst.min(recall);
            // How much similarity the listed page keeps of the exact one's.
            let total = |hits: &[(Uuid, f32)]| hits.iter().map(|h| f64::from(h.1)).sum::<f64>();
            let ratio = total(&approx) / total(&exact).max(f64::MIN_POSITIVE);
            ratio_sum += ratio;
            ratio_worst = ratio_worst.min(ratio);
        }
        let n = vectors.len() as f64;
        println!(
            "k={k:>3}: recall mean {:.3}, worst {:.3}; similarity kept mean {:.3}, worst {:.3}; \
             lists {:.2} ms, exact {:.2} ms per query",
            sum / n,
            worst,
            ratio_sum / n,
            ratio_worst,
            t_approx / n * 1e3,
            t_exact / n * 1e3
        );
    }
}
