//! A seeded generator of realistic manufacturing catalogs (fasteners, bearings, seals, O-rings,
//! motors, gears) with part numbers, standards, materials, dimensions, prices, stock and EANs.
//! Tooling for the sample data, the benchmarks and `scripts/gen-catalog`; the server never calls it.
//! The same seed always gives the same catalog.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};

/// The entity types generated, one per batch (a batch has one entity type).
pub const ENTITY_TYPES: [&str; 8] = [
    "hex_bolt",
    "hex_nut",
    "washer",
    "socket_screw",
    "ball_bearing",
    "shaft_seal",
    "o_ring",
    "motor",
];

const THREADS: [u32; 9] = [3, 4, 5, 6, 8, 10, 12, 16, 20];
const LENGTHS: [u32; 12] = [6, 8, 10, 12, 16, 20, 25, 30, 40, 50, 60, 80];
const STEELS: [(&str, &str, &str); 5] = [
    ("stainless steel", "A2", "A2-70"),
    ("stainless steel", "A4", "A4-80"),
    ("carbon steel", "88", "8.8"),
    ("alloy steel", "109", "10.9"),
    ("brass", "MS", "CuZn39Pb3"),
];
const FINISHES: [&str; 4] = ["plain", "zinc plated", "hot-dip galvanized", "black oxide"];
const FASTENER_BRANDS: [&str; 5] = ["Würth", "Bossard", "Fabory", "Reyher", "Kipp"];
const BEARING_BRANDS: [&str; 5] = ["SKF", "FAG", "NSK", "NTN", "Timken"];
const MOTOR_BRANDS: [&str; 4] = ["ABB", "Siemens", "WEG", "Nord"];
const ELASTOMERS: [&str; 4] = ["NBR", "FKM", "EPDM", "VMQ"];

fn ean13(rng: &mut StdRng) -> String {
    let mut digits: Vec<u32> = vec![4, 0];
    digits.extend((0..10).map(|_| rng.random_range(0..10)));
    let sum: u32 = digits
        .iter()
        .enumerate()
        .map(|(i, d)| if i % 2 == 0 { *d } else { d * 3 })
        .sum();
    digits.push((10 - sum % 10) % 10);
    digits
        .iter()
        .map(|d| char::from_digit(*d, 10).unwrap_or('0'))
        .collect()
}

fn pick<'a, T>(rng: &mut StdRng, items: &'a [T]) -> &'a T {
    &items[rng.random_range(0..items.len())]
}

fn price(rng: &mut StdRng, base: f64) -> f64 {
    (base * rng.random_range(0.8..1.25) * 100.0).round() / 100.0
}

fn stock(rng: &mut StdRng) -> u32 {
    if rng.random_bool(0.12) {
        0
    } else {
        rng.random_range(1..5000)
    }
}

/// One record of `entity_type`; `n` makes source ids unique within a catalog.
pub fn record(rng: &mut StdRng, entity_type: &str, n: u64) -> Value {
    let st = stock(rng);
    let ean = ean13(rng);
    let mut r = match entity_type {
        "hex_bolt" | "socket_screw" => {
            let d = *pick(rng, &THREADS);
            let l = *pick(rng, &LENGTHS);
            let (material, code, grade) = *pick(rng, &STEELS);
            let finish = if material == "carbon steel" || material == "alloy steel" {
                *pick(rng, &FINISHES)
            } else {
                "plain"
            };
            let (kind, prefix, standard) = if entity_type == "hex_bolt" {
                (
                    "Hex bolt",
                    "HB",
                    *pick(rng, &["ISO 4017", "DIN 933", "ISO 4014", "DIN 931"]),
                )
            } else {
                (
                    "Socket head cap screw",
                    "SHC",
                    *pick(rng, &["ISO 4762", "DIN 912"]),
                )
            };
            json!({
                "name": format!("{kind} M{d}x{l} {material} {grade}"),
                "description": format!("{kind}, metric thread M{d}, length {l} mm, {material} {grade}, {finish}, to {standard}."),
                "vertical_data": {
                    "part_number": format!("{prefix}-M{d}-{l}-{code}-{:05}", n % 100_000),
                    "standard": standard, "material": material, "grade": grade, "finish": finish,
                    "thread": format!("M{d}"), "diameter_mm": d, "length_mm": l,
                    "brand": *pick(rng, &FASTENER_BRANDS),
                    "price_eur": price(rng, 0.02 * f64::from(d) + 0.003 * f64::from(l)),
                }
            })
        }
        "hex_nut" | "washer" => {
            let d = *pick(rng, &THREADS);
            let (material, code, grade) = *pick(rng, &STEELS);
            let (kind, prefix, standard) = if entity_type == "hex_nut" {
                ("Hex nut", "HN", *pick(rng, &["DIN 934", "ISO 4032"]))
            } else {
                ("Flat washer", "FW", *pick(rng, &["ISO 7089", "DIN 125"]))
            };
            json!({
                "name": format!("{kind} M{d} {material} {grade}"),
                "description": format!("{kind} for M{d}, {material} {grade}, to {standard}."),
                "vertical_data": {
                    "part_number": format!("{prefix}-M{d}-{code}-{:05}", n % 100_000),
                    "standard": standard, "material": material, "grade": grade,
                    "thread": format!("M{d}"), "diameter_mm": d,
                    "brand": *pick(rng, &FASTENER_BRANDS),
                    "price_eur": price(rng, 0.01 * f64::from(d)),
                }
            })
        }
        "ball_bearing" => {
            let series = *pick(rng, &[60u32, 62, 63]);
            let size = rng.random_range(0..20u32);
            let bore = if size < 4 {
                [10, 12, 15, 17][size as usize]
            } else {
                size * 5
            };
            let suffix = *pick(rng, &["2RS", "ZZ", "2RS-C3", "", "C3"]);
            let designation = if suffix.is_empty() {
                format!("{series}{size:02}")
            } else {
                format!("{series}{size:02}-{suffix}")
            };
            let od = bore + 12 + series - 58 + size * 2;
            json!({
                "name": format!("Deep groove ball bearing {designation}"),
                "description": format!("Single row deep groove ball bearing {designation}, bore {bore} mm, outer diameter {od} mm."),
                "vertical_data": {
                    "part_number": designation, "brand": *pick(rng, &BEARING_BRANDS),
                    "bore_mm": bore, "outer_diameter_mm": od, "width_mm": 6 + size / 2 + (series - 60),
                    "seal": if suffix.contains("2RS") { "rubber" } else if suffix.contains("ZZ") { "metal shield" } else { "open" },
                    "price_eur": price(rng, 2.0 + f64::from(bore) * 0.15),
                }
            })
        }
        "shaft_seal" => {
            let d = rng.random_range(8..120u32);
            let od = d + rng.random_range(10..30u32);
            let b = *pick(rng, &[5u32, 7, 8, 10, 12]);
            let m = *pick(rng, &ELASTOMERS);
            json!({
                "name": format!("Radial shaft seal {d}x{od}x{b} {m}"),
                "description": format!("Rotary shaft seal type BA to DIN 3760, shaft {d} mm, housing {od} mm, width {b} mm, {m}."),
                "vertical_data": {
                    "part_number": format!("RWDR-{d}{od}{b}-{m}"), "standard": "DIN 3760", "material": m,
                    "shaft_mm": d, "housing_mm": od, "width_mm": b,
                    "max_temp_c": match m { "FKM" => 200, "VMQ" => 180, "EPDM" => 130, _ => 100 },
                    "price_eur": price(rng, 0.8 + f64::from(d) * 0.03),
                }
            })
        }
        "o_ring" => {
            let id = rng.random_range(2..200u32);
            let cs = *pick(rng, &[1.0f64, 1.5, 2.0, 2.5, 3.0, 3.5, 5.0]);
            let m = *pick(rng, &ELASTOMERS);
            let shore = *pick(rng, &[70u32, 80, 90]);
            json!({
                "name": format!("O-ring {id}x{cs} {m} {shore} Shore A"),
                "description": format!("O-ring to ISO 3601, inner diameter {id} mm, cross-section {cs} mm, {m} {shore} Shore A."),
                "vertical_data": {
                    "part_number": format!("OR-{id}x{cs}-{m}{shore}"), "standard": "ISO 3601", "material": m,
                    "inner_diameter_mm": id, "cross_section_mm": cs, "hardness_shore_a": shore,
                    "price_eur": price(rng, 0.05 + f64::from(id) * 0.004),
                }
            })
        }
        _ => {
            let kw = *pick(
                rng,
                &[
                    0.37f64, 0.55, 0.75, 1.1, 1.5, 2.2, 3.0, 4.0, 5.5, 7.5, 11.0, 15.0,
                ],
            );
            let poles = *pick(rng, &[2u32, 4, 6]);
            let ie = *pick(rng, &["IE2", "IE3", "IE4"]);
            let brand = *pick(rng, &MOTOR_BRANDS);
            json!({
                "name": format!("Three-phase induction motor {kw} kW {poles}-pole {ie}"),
                "description": format!("{brand} low-voltage three-phase motor, {kw} kW, {poles} poles, efficiency class {ie}, 400 V, IP55."),
                "vertical_data": {
                    "part_number": format!("{}-{}-{:05}", &brand[..3].to_uppercase(), (kw * 100.0) as u32, n % 100_000),
                    "brand": brand, "power_kw": kw, "poles": poles, "efficiency_class": ie,
                    "voltage": "400V", "protection": "IP55", "rpm": 3000 / poles * 95 / 100 * 2 / 2,
                    "price_eur": price(rng, 180.0 + kw * 60.0),
                }
            })
        }
    };
    let data = r["vertical_data"]
        .as_object_mut()
        .expect("vertical_data is an object");
    data.insert("stock".into(), json!(st));
    data.insert("in_stock".into(), json!(st > 0));
    data.insert("ean".into(), json!(ean));
    r["source_id"] = json!(format!("{entity_type}-{n}"));
    r
}

/// Batches of at most `batch_size` records, each of one entity type, until `count` records.
/// Yields `(entity_type, records)`.
pub fn batches(
    seed: u64,
    count: u64,
    batch_size: usize,
) -> impl Iterator<Item = (&'static str, Vec<Value>)> {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut made = 0u64;
    let mut i = 0usize;
    std::iter::from_fn(move || {
        if made >= count {
            return None;
        }
        let entity_type = ENTITY_TYPES[i % ENTITY_TYPES.len()];
        i += 1;
        let n = (count - made).min(batch_size as u64);
        let records = (0..n)
            .map(|k| record(&mut rng, entity_type, made + k))
            .collect();
        made += n;
        Some((entity_type, records))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_catalog() {
        let a: Vec<_> = batches(7, 50, 20).collect();
        let b: Vec<_> = batches(7, 50, 20).collect();
        assert_eq!(a, b);
        assert_eq!(
            a.iter().map(|(_, r)| r.len()).collect::<Vec<_>>(),
            vec![20, 20, 10]
        );
        assert_ne!(a, batches(8, 50, 20).collect::<Vec<_>>());
    }

    #[test]
    fn records_are_valid_and_unique_by_source_id() {
        let mut ids = std::collections::HashSet::new();
        for (t, records) in batches(1, 400, 25) {
            for r in records {
                assert!(crate::ingest::record::parse(r.clone()).is_ok(), "{t}: {r}");
                assert!(ids.insert(r["source_id"].as_str().unwrap().to_owned()));
                let ean = r["vertical_data"]["ean"].as_str().unwrap();
                let digits: Vec<u32> = ean.chars().map(|c| c.to_digit(10).unwrap()).collect();
                let sum: u32 = digits[..12]
                    .iter()
                    .enumerate()
                    .map(|(i, d)| if i % 2 == 0 { *d } else { d * 3 })
                    .sum();
                assert_eq!(digits[12], (10 - sum % 10) % 10, "EAN check digit");
            }
        }
    }
}
