//! Facet counts: how many documents of a search's whole result set hold each value of a
//! `vertical_data` key, read from the `data` JSON fast field's columns (one pass over the set,
//! no stored document read). String values are counted as that column holds them: lower-cased
//! by the exact analyzer ([`super::schema::EXACT`]), which is also how filters compare them, so
//! a returned value used as a filter finds the documents it counted.
//!
//! A string column of few values in a large segment is counted by value instead: the set of
//! documents holding each value is built once from the column and kept in the
//! [`FilterCache`]; the matches are gathered into a set and each value's count is the size of
//! the intersection, a pass over words rather than a column read per match and field.

use std::cmp::Ordering;
use std::collections::HashMap;
use std::sync::Arc;

use serde::ser::{SerializeMap, Serializer};
use serde::Serialize;
use serde_json::Value;
use tantivy::collector::{Collector, SegmentCollector};
use tantivy::columnar::{Column, DynamicColumn, StrColumn};
use tantivy::{DocId, Score, SegmentOrdinal, SegmentReader};

use super::filter_cache::{Bits, FilterCache};
use super::schema::json_key;

/// Fields one search may facet on: each is a pass over every matching document's column.
pub const MAX_FACETS: usize = 10;
/// Values returned per field, the most frequent first.
pub const FACET_VALUES: usize = 20;
/// Longest field name (the limit filter keys have too).
pub const MAX_FACET_NAME: usize = 128;

/// Reads a request's `facets`: a list of distinct, non-empty `vertical_data` keys.
pub fn parse_facets(v: &Value) -> Result<Vec<String>, String> {
    let Value::Array(items) = v else {
        return Err("facets must be an array of field names".into());
    };
    if items.len() > MAX_FACETS {
        return Err(format!(
            "facets: at most {MAX_FACETS} fields, got {}",
            items.len()
        ));
    }
    let mut out: Vec<String> = Vec::with_capacity(items.len());
    for item in items {
        let Value::String(name) = item else {
            return Err(format!("facets: {item} is not a field name (a string)"));
        };
        if name.trim().is_empty() {
            return Err("facets: field names must not be empty".into());
        }
        if name.chars().count() > MAX_FACET_NAME {
            return Err(format!(
                "facets: field names must be at most {MAX_FACET_NAME} characters"
            ));
        }
        if out.contains(name) {
            return Err(format!("facets: '{name}' is asked for twice"));
        }
        out.push(name.clone());
    }
    Ok(out)
}

/// One value of a field, in its JSON type.
#[derive(Clone, Debug, PartialEq)]
pub enum FacetValue {
    Bool(bool),
    Num(f64),
    Str(String),
}

impl FacetValue {
    /// Order among equal counts: booleans, then numbers, then strings, each in natural order.
    fn cmp_value(&self, other: &FacetValue) -> Ordering {
        use FacetValue::*;
        match (self, other) {
            (Bool(a), Bool(b)) => a.cmp(b),
            (Num(a), Num(b)) => a.total_cmp(b),
            (Str(a), Str(b)) => a.cmp(b),
            (Bool(_), _) | (Num(_), Str(_)) => Ordering::Less,
            _ => Ordering::Greater,
        }
    }
}

impl Serialize for FacetValue {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            FacetValue::Bool(b) => s.serialize_bool(*b),
            // Integral numbers as integers: `8`, as the client wrote them, not `8.0`.
            FacetValue::Num(n) if n.fract() == 0.0 && n.abs() < 9.0e15 => {
                s.serialize_i64(*n as i64)
            }
            FacetValue::Num(n) => s.serialize_f64(*n),
            FacetValue::Str(v) => s.serialize_str(v),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FacetCount {
    pub value: FacetValue,
    pub count: u64,
}

/// Counts per requested field, in the order asked.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Facets(pub Vec<(String, Vec<FacetCount>)>);

impl Facets {
    /// Every field with no value: the answer for an empty result set.
    pub fn empty(fields: &[String]) -> Facets {
        Facets(fields.iter().map(|f| (f.clone(), Vec::new())).collect())
    }
}

impl Serialize for Facets {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.0.len()))?;
        for (field, counts) in &self.0 {
            map.serialize_entry(field, counts)?;
        }
        map.end()
    }
}

/// A value as a hash key: numbers by their bits (-0 folded into 0).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Key {
    Bool(bool),
    Num(u64),
    Str(String),
}

impl Key {
    fn num(v: f64) -> Key {
        Key::Num(if v == 0.0 { 0.0f64 } else { v }.to_bits())
    }

    fn into_value(self) -> FacetValue {
        match self {
            Key::Bool(b) => FacetValue::Bool(b),
            Key::Num(bits) => FacetValue::Num(f64::from_bits(bits)),
            Key::Str(s) => FacetValue::Str(s),
        }
    }
}

/// Collects facet counts for fields of `vertical_data` over every document a query matches.
pub struct FacetCollector {
    columns: Vec<String>,
    value_sets: Option<Arc<FilterCache>>,
}

impl FacetCollector {
    pub fn new(fields: &[String]) -> FacetCollector {
        FacetCollector {
            columns: fields
                .iter()
                .map(|f| format!("data.{}", json_key(f)))
                .collect(),
            value_sets: None,
        }
    }

    /// Counts string columns of few values by their values' sets kept in `cache`: the
    /// matching documents are gathered into a set and each value's count is the size of its
    /// intersection with it (a pass over words), instead of reading every match's values.
    pub fn with_value_sets(mut self, cache: Arc<FilterCache>) -> FacetCollector {
        self.value_sets = Some(cache);
        self
    }

    /// The top [`FACET_VALUES`] of merged counts, by count then value.
    pub fn top(fields: &[String], counts: Vec<HashMap<Key, u64>>) -> Facets {
        Facets(
            fields
                .iter()
                .cloned()
                .zip(counts)
                .map(|(field, counts)| {
                    let mut values: Vec<FacetCount> = counts
                        .into_iter()
                        .map(|(k, count)| FacetCount {
                            value: k.into_value(),
                            count,
                        })
                        .collect();
                    values.sort_by(|a, b| {
                        b.count
                            .cmp(&a.count)
                            .then_with(|| a.value.cmp_value(&b.value))
                    });
                    values.truncate(FACET_VALUES);
                    (field, values)
                })
                .collect(),
        )
    }
}

/// One column of a field in one segment (a JSON path has a column per value type).
enum Counter {
    /// Counts per term ordinal of the segment's dictionary.
    Str(StrColumn, Vec<u32>),
    /// Per term ordinal, the documents holding it: counted against the matches at harvest.
    Values(StrColumn, Arc<[Bits]>),
    I64(Column<i64>, HashMap<u64, u32>),
    U64(Column<u64>, HashMap<u64, u32>),
    F64(Column<f64>, HashMap<u64, u32>),
    Bool(Column<bool>, [u32; 2]),
}

/// Adds one to each distinct value of a document (an array may repeat a value; the document
/// still counts once for it).
fn count_distinct<T: PartialOrd + Copy>(
    values: impl Iterator<Item = T>,
    buf: &mut Vec<T>,
    mut add: impl FnMut(T),
) {
    buf.clear();
    buf.extend(values);
    if buf.len() > 1 {
        buf.sort_by(|a, b| a.partial_cmp(b).unwrap_or(Ordering::Equal));
        buf.dedup_by(|a, b| a == b);
    }
    buf.iter().for_each(|v| add(*v));
}

impl Counter {
    fn open(
        column: DynamicColumn,
        key: &str,
        value_sets: Option<&FilterCache>,
        reader: &SegmentReader,
    ) -> Option<Counter> {
        Some(match column {
            DynamicColumn::Str(c) => match value_sets.and_then(|v| v.value_sets(key, &c, reader)) {
                Some(sets) => Counter::Values(c, sets),
                None => {
                    let n = c.num_terms();
                    Counter::Str(c, vec![0; n])
                }
            },
            DynamicColumn::I64(c) => Counter::I64(c, HashMap::new()),
            DynamicColumn::U64(c) => Counter::U64(c, HashMap::new()),
            DynamicColumn::F64(c) => Counter::F64(c, HashMap::new()),
            DynamicColumn::Bool(c) => Counter::Bool(c, [0; 2]),
            // Dates, addresses and bytes are never written into `data`.
            _ => return None,
        })
    }

    fn collect(&mut self, doc: DocId, ords: &mut Vec<u64>, nums: &mut Vec<f64>) {
        match self {
            Counter::Str(c, counts) => count_distinct(c.term_ords(doc), ords, |o| {
                if let Some(n) = counts.get_mut(o as usize) {
                    *n += 1;
                }
            }),
            Counter::Values(..) => {}
            Counter::I64(c, counts) => {
                count_distinct(c.values_for_doc(doc).map(|v| v as f64), nums, |v| {
                    *counts.entry(v.to_bits()).or_default() += 1
                })
            }
            Counter::U64(c, counts) => {
                count_distinct(c.values_for_doc(doc).map(|v| v as f64), nums, |v| {
                    *counts.entry(v.to_bits()).or_default() += 1
                })
            }
            Counter::F64(c, counts) => count_distinct(c.values_for_doc(doc), nums, |v| {
                *counts.entry(v.to_bits()).or_default() += 1
            }),
            Counter::Bool(c, counts) => {
                let mut seen = [false; 2];
                for v in c.values_for_doc(doc) {
                    seen[v as usize] = true;
                }
                for (n, s) in counts.iter_mut().zip(seen) {
                    *n += s as u32;
                }
            }
        }
    }

    /// Adds the counts to `out`; `matches` holds every collected document when a counter
    /// counts by value sets.
    fn harvest(self, out: &mut HashMap<Key, u64>, matches: Option<&Bits>) -> tantivy::Result<()> {
        let mut add = |k: Key, n: u32| *out.entry(k).or_default() += u64::from(n);
        let mut add_ords = |c: &StrColumn, counts: &mut dyn Iterator<Item = u32>| {
            let mut text = String::new();
            for (ord, n) in counts.enumerate().filter(|(_, n)| *n > 0) {
                if c.ord_to_str(ord as u64, &mut text)? {
                    add(Key::Str(text.clone()), n);
                }
            }
            tantivy::Result::Ok(())
        };
        match self {
            Counter::Str(c, counts) => add_ords(&c, &mut counts.into_iter())?,
            Counter::Values(c, sets) => {
                if let Some(m) = matches {
                    add_ords(&c, &mut sets.iter().map(|s| m.count_both(s)))?;
                }
            }
            Counter::I64(_, counts) | Counter::U64(_, counts) | Counter::F64(_, counts) => {
                for (bits, n) in counts {
                    add(Key::num(f64::from_bits(bits)), n);
                }
            }
            Counter::Bool(_, [f, t]) => {
                for (b, n) in [(false, f), (true, t)].into_iter().filter(|(_, n)| *n > 0) {
                    add(Key::Bool(b), n);
                }
            }
        }
        Ok(())
    }
}

pub struct FacetSegment {
    /// Per field, its columns in this segment (none when no document of it has the key).
    fields: Vec<Vec<Counter>>,
    /// The documents collected, when some counter counts by value sets.
    matches: Option<Bits>,
    /// Some counter reads each document's values.
    per_document: bool,
    ords: Vec<u64>,
    nums: Vec<f64>,
}

impl Collector for FacetCollector {
    type Fruit = Vec<HashMap<Key, u64>>;
    type Child = FacetSegment;

    fn for_segment(
        &self,
        _segment: SegmentOrdinal,
        reader: &SegmentReader,
    ) -> tantivy::Result<FacetSegment> {
        let ff = reader.fast_fields();
        let mut fields = Vec::with_capacity(self.columns.len());
        for column in &self.columns {
            let mut counters = Vec::new();
            for handle in ff.dynamic_column_handles(column)? {
                let key = format!("{column} {:?}", handle.column_type());
                let values = self.value_sets.as_deref();
                counters.extend(Counter::open(handle.open()?, &key, values, reader));
            }
            fields.push(counters);
        }
        let by_values = |c: &Counter| matches!(c, Counter::Values(..));
        Ok(FacetSegment {
            matches: fields
                .iter()
                .flatten()
                .any(by_values)
                .then(|| Bits::empty(reader.max_doc())),
            per_document: !fields.iter().flatten().all(by_values),
            fields,
            ords: Vec::new(),
            nums: Vec::new(),
        })
    }

    fn requires_scoring(&self) -> bool {
        false
    }

    fn merge_fruits(
        &self,
        segments: Vec<Result<Vec<HashMap<Key, u64>>, String>>,
    ) -> tantivy::Result<Vec<HashMap<Key, u64>>> {
        let mut out: Vec<HashMap<Key, u64>> = vec![HashMap::new(); self.columns.len()];
        for segment in segments {
            let segment = segment.map_err(tantivy::TantivyError::InternalError)?;
            for (total, counts) in out.iter_mut().zip(segment) {
                for (k, n) in counts {
                    *total.entry(k).or_default() += n;
                }
            }
        }
        Ok(out)
    }
}

impl SegmentCollector for FacetSegment {
    /// Per field. (A dictionary read can fail, and `harvest` cannot return a `tantivy::Result`.)
    type Fruit = Result<Vec<HashMap<Key, u64>>, String>;

    fn collect(&mut self, doc: DocId, _score: Score) {
        if let Some(m) = &mut self.matches {
            m.insert(doc);
        }
        if self.per_document {
            for counters in &mut self.fields {
                for c in counters {
                    c.collect(doc, &mut self.ords, &mut self.nums);
                }
            }
        }
    }

    fn collect_block(&mut self, docs: &[DocId]) {
        match (&mut self.matches, self.per_document) {
            (Some(m), false) => docs.iter().for_each(|&d| m.insert(d)),
            _ => docs.iter().for_each(|&d| self.collect(d, 0.0)),
        }
    }

    fn harvest(self) -> Self::Fruit {
        let matches = self.matches.as_ref();
        self.fields
            .into_iter()
            .map(|counters| {
                let mut out = HashMap::new();
                for c in counters {
                    c.harvest(&mut out, matches).map_err(|e| e.to_string())?;
                }
                Ok(out)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn facet_lists_are_validated() {
        assert_eq!(
            parse_facets(&json!(["material", "thread"])).unwrap(),
            ["material", "thread"]
        );
        assert!(parse_facets(&json!([])).unwrap().is_empty());
        let err = |v: Value| parse_facets(&v).unwrap_err();
        assert!(err(json!("material")).contains("array"));
        assert!(err(json!([1])).contains("not a field name"));
        assert!(err(json!([""])).contains("empty"));
        assert!(err(json!(["  "])).contains("empty"));
        assert!(err(json!(["x".repeat(129)])).contains("128"));
        assert!(parse_facets(&json!(["x".repeat(128)])).is_ok());
        assert!(err(json!(["a", "a"])).contains("twice"));
        let many: Vec<String> = (0..11).map(|i| format!("f{i}")).collect();
        assert!(err(json!(many)).contains("at most 10"));
        assert!(parse_facets(&json!(many[..10])).is_ok());
    }

    #[test]
    fn top_values_by_count_then_value() {
        let mut counts = HashMap::new();
        for (i, n) in (0..25).zip([3u64; 25]) {
            counts.insert(Key::Str(format!("v{i:02}")), n);
        }
        counts.insert(Key::Str("most".into()), 9);
        counts.insert(Key::num(8.0), 3);
        counts.insert(Key::Bool(true), 3);
        let fields = vec!["f".to_owned()];
        let Facets(top) = FacetCollector::top(&fields, vec![counts]);
        let values: Vec<&FacetValue> = top[0].1.iter().map(|c| &c.value).collect();
        assert_eq!(values.len(), FACET_VALUES);
        assert_eq!(values[0], &FacetValue::Str("most".into()));
        assert_eq!(values[1], &FacetValue::Bool(true));
        assert_eq!(values[2], &FacetValue::Num(8.0));
        assert_eq!(values[3], &FacetValue::Str("v00".into()));
        assert_eq!(values[19], &FacetValue::Str("v16".into()));
    }

    #[test]
    fn values_serialize_in_their_json_type() {
        let facets = Facets(vec![(
            "size".into(),
            vec![
                FacetCount {
                    value: FacetValue::Num(8.0),
                    count: 2,
                },
                FacetCount {
                    value: FacetValue::Num(1.25),
                    count: 1,
                },
                FacetCount {
                    value: FacetValue::Bool(false),
                    count: 1,
                },
            ],
        )]);
        assert_eq!(
            serde_json::to_value(&facets).unwrap(),
            json!({"size": [{"value": 8, "count": 2}, {"value": 1.25, "count": 1}, {"value": false, "count": 1}]})
        );
    }

    /// The real schema and document encoding, two segments, one key holding a number in one
    /// document and a string in another, and a second tenant whose values must not count.
    #[test]
    fn counts_merge_segments_and_keep_value_types() {
        use tantivy::query::TermQuery;
        use tantivy::schema::{IndexRecordOption, Term};
        use tantivy::{IndexWriter, TantivyDocument};

        let (schema, fields) = crate::search::schema::build();
        let index = tantivy::Index::create_in_ram(schema);
        crate::search::schema::register_analyzers(&index);
        let mut w: IndexWriter = index.writer_with_num_threads(1, 15_000_000).unwrap();
        w.set_merge_policy(Box::new(tantivy::indexer::NoMergePolicy));
        let add = |w: &IndexWriter, tenant: &str, data: Value| {
            let mut doc = TantivyDocument::new();
            doc.add_text(fields.tenant, tenant);
            let object = crate::search::document::filter_object(data.as_object().unwrap());
            doc.add_object(fields.data, object);
            w.add_document(doc).unwrap();
        };
        add(
            &w,
            "a",
            json!({"size": 8, "material": "Steel", "tags": ["x", "X"]}),
        );
        add(
            &w,
            "a",
            json!({"size": "8", "material": "steel", "ok": true}),
        );
        w.commit().unwrap();
        add(
            &w,
            "a",
            json!({"size": 1.5, "material": "brass", "ok": false, "m.d": 2}),
        );
        add(&w, "b", json!({"material": "gold", "size": 8}));
        w.commit().unwrap();
        let searcher = index.reader().unwrap().searcher();
        assert_eq!(searcher.segment_readers().len(), 2);

        let asked: Vec<String> = ["size", "material", "ok", "tags", "m.d", "none"]
            .map(String::from)
            .to_vec();
        let tenant_a = TermQuery::new(
            Term::from_field_text(fields.tenant, "a"),
            IndexRecordOption::Basic,
        );
        let counts = searcher
            .search(&tenant_a, &FacetCollector::new(&asked))
            .unwrap();
        let facets = serde_json::to_value(FacetCollector::top(&asked, counts)).unwrap();
        assert_eq!(
            facets,
            json!({
                "size": [{"value": 1.5, "count": 1}, {"value": 8, "count": 1}, {"value": "8", "count": 1}],
                "material": [{"value": "steel", "count": 2}, {"value": "brass", "count": 1}],
                "ok": [{"value": false, "count": 1}, {"value": true, "count": 1}],
                "tags": [{"value": "x", "count": 1}],
                "m.d": [{"value": 2, "count": 1}],
                "none": [],
            })
        );
    }

    /// On a segment large enough for value sets, counting by them gives the column's counts:
    /// arrays count a document once per value, deleted documents not at all, and a column of
    /// more than [`crate::search::filter_cache::MAX_VALUE_SETS`] values is read as before.
    #[test]
    fn value_sets_count_as_the_columns_do() {
        use crate::search::filter_cache::{MAX_VALUE_SETS, MIN_SEGMENT_DOCS};
        use tantivy::query::TermQuery;
        use tantivy::schema::{IndexRecordOption, Term};
        use tantivy::{IndexWriter, TantivyDocument};

        let (schema, fields) = crate::search::schema::build();
        let index = tantivy::Index::create_in_ram(schema);
        crate::search::schema::register_analyzers(&index);
        let mut w: IndexWriter = index.writer_with_num_threads(1, 50_000_000).unwrap();
        let n = MIN_SEGMENT_DOCS + 500;
        for i in 0..n {
            let mut doc = TantivyDocument::new();
            doc.add_text(fields.tenant, if i % 3 == 0 { "b" } else { "a" });
            doc.add_text(fields.id, format!("{i}"));
            let material = ["steel", "brass", "FKM"][i as usize % 3];
            let tags = if i % 2 == 0 {
                json!(["x", "y", "x"])
            } else {
                json!("y")
            };
            let code = format!("c{}", i as usize % (MAX_VALUE_SETS + 5));
            let data = json!({"material": material, "tags": tags, "code": code});
            let object = crate::search::document::filter_object(data.as_object().unwrap());
            doc.add_object(fields.data, object);
            w.add_document(doc).unwrap();
        }
        w.commit().unwrap();
        for i in (1..n).step_by(7) {
            w.delete_term(Term::from_field_text(fields.id, &format!("{i}")));
        }
        w.commit().unwrap();
        let reader = index.reader().unwrap();
        reader.reload().unwrap();
        let searcher = reader.searcher();
        assert!(searcher.segment_reader(0).max_doc() >= MIN_SEGMENT_DOCS);

        let asked: Vec<String> = ["material", "tags", "code"].map(String::from).to_vec();
        let tenant_a = TermQuery::new(
            Term::from_field_text(fields.tenant, "a"),
            IndexRecordOption::Basic,
        );
        let cache = Arc::new(FilterCache::default());
        let by_column = searcher
            .search(&tenant_a, &FacetCollector::new(&asked))
            .unwrap();
        for round in 0..2 {
            let collector = FacetCollector::new(&asked).with_value_sets(Arc::clone(&cache));
            let by_values = searcher.search(&tenant_a, &collector).unwrap();
            assert_eq!(by_values, by_column, "round {round}");
        }
        // Two columns of few values, one entry each: material and tags; not code.
        assert_eq!(cache.len(), 2);
        assert!(by_column[1][&Key::Str("x".into())] > 0);
    }

    #[test]
    fn a_document_counts_once_per_value() {
        let mut buf = Vec::new();
        let mut seen = Vec::new();
        count_distinct([2.0, 1.0, 2.0].into_iter(), &mut buf, |v| seen.push(v));
        assert_eq!(seen, [1.0, 2.0]);
    }
}
