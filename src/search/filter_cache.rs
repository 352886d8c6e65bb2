//! Filter results kept per index segment as bitsets.
//!
//! A filter (`material = stainless steel`, `in_stock = true`, a resolved numeric range) matches
//! tens or hundreds of thousands of entities at a million, and catalog searches repeat the same
//! few filters: the facets a buyer clicks through. Evaluated from postings, every search pays for
//! seeking through those long lists (unions of several terms for any-of filters and ranges), more
//! than for scoring its own words. A segment never changes once written (deletions are applied by
//! the collectors, not the postings), so what a filter matches in it can be computed once and
//! reused until the segment is merged away. A search's filters become one set per segment, the
//! AND of their cached sets (a few microseconds over a million documents): the intersection with
//! the query's words is then led by the filtered set when it is the smaller, and each of its
//! members is checked against the words' postings, instead of every document holding the words
//! being checked against each filter.
//!
//! Small segments (fresh writes) are evaluated directly: they are cheap and short-lived. The cache
//! holds at most [`CAPACITY_BYTES`]; entries of merged-away segments are never asked for again and
//! are evicted first.

use std::fmt;
use std::sync::Arc;

use tantivy::columnar::StrColumn;
use tantivy::index::SegmentId;
use tantivy::query::{intersect_scorers, EnableScoring, Explanation, Query, Scorer, Weight};
use tantivy::{DocId, DocSet, Score, SegmentReader, TERMINATED};

/// Memory the cached sets may take: one bit per document of a segment per filter, so about
/// 500 distinct filters over a million-entity index.
pub const CAPACITY_BYTES: u64 = 64 << 20;
/// Segments with fewer documents are not cached: evaluating a filter over them costs little.
pub const MIN_SEGMENT_DOCS: u32 = 10_000;
/// Most values a string column may have for facets to count it by its values' sets: each is a
/// bit per document, built in one pass over the column.
pub const MAX_VALUE_SETS: usize = 64;

/// A set of a segment's documents, one bit each.
pub struct Bits {
    words: Box<[u64]>,
    len: u32,
}

impl Bits {
    /// What `filter` matches in the segment (deleted documents included, as postings hold them).
    fn of(filter: &dyn Weight, reader: &SegmentReader) -> tantivy::Result<Bits> {
        let mut bits = Bits::empty(reader.max_doc());
        filter.for_each_no_score(reader, &mut |docs| {
            docs.iter().for_each(|&doc| bits.insert(doc));
        })?;
        Ok(bits)
    }

    /// The documents in every one of `sets` (all of one segment).
    fn all(sets: &[Arc<Bits>]) -> Bits {
        let mut words: Box<[u64]> = sets[0].words.clone();
        for set in &sets[1..] {
            for (w, o) in words.iter_mut().zip(set.words.iter()) {
                *w &= o;
            }
        }
        let len = words.iter().map(|w| w.count_ones()).sum();
        Bits { words, len }
    }

    fn bytes(&self) -> u64 {
        self.words.len() as u64 * 8
    }

    /// No document of a segment of `max_doc`.
    pub fn empty(max_doc: u32) -> Bits {
        Bits {
            words: vec![0u64; (max_doc as usize).div_ceil(64)].into_boxed_slice(),
            len: 0,
        }
    }

    pub fn insert(&mut self, doc: DocId) {
        let (word, bit) = ((doc / 64) as usize, 1u64 << (doc % 64));
        if let Some(w) = self.words.get_mut(word) {
            self.len += u32::from(*w & bit == 0);
            *w |= bit;
        }
    }

    /// How many documents are in both sets (of one segment).
    pub fn count_both(&self, other: &Bits) -> u32 {
        self.words
            .iter()
            .zip(other.words.iter())
            .map(|(a, b)| (a & b).count_ones())
            .sum()
    }
}

type Key = (SegmentId, Arc<str>);

/// What the cache holds for a key: a filter's set, or one set per value of a column.
#[derive(Clone)]
enum Held {
    Set(Arc<Bits>),
    PerValue(Arc<[Bits]>),
}

#[derive(Clone)]
struct BitsWeight;

impl quick_cache::Weighter<Key, Held> for BitsWeight {
    fn weight(&self, key: &Key, held: &Held) -> u64 {
        let bytes = match held {
            Held::Set(bits) => bits.bytes(),
            Held::PerValue(sets) => sets.iter().map(Bits::bytes).sum(),
        };
        bytes + key.1.len() as u64 + 64
    }
}

/// The sets, shared by every search of one index.
pub struct FilterCache {
    bits: quick_cache::sync::Cache<Key, Held, BitsWeight>,
}

impl Default for FilterCache {
    fn default() -> Self {
        FilterCache::with_capacity(CAPACITY_BYTES)
    }
}

impl FilterCache {
    pub fn with_capacity(bytes: u64) -> FilterCache {
        FilterCache {
            bits: quick_cache::sync::Cache::with_weighter(1024, bytes, BitsWeight),
        }
    }

    /// The documents matching every one of `filters`, each `(key, query)`, answered from the
    /// cache on large segments; `None` for no filter. A key must name what its query matches
    /// exactly: two filters with one key share their sets.
    pub fn all_of(
        self: &Arc<Self>,
        filters: Vec<(String, Box<dyn Query>)>,
    ) -> Option<Box<dyn Query>> {
        if filters.is_empty() {
            return None;
        }
        Some(Box::new(CachedFilters {
            filters: filters.into_iter().map(|(k, q)| (k.into(), q)).collect(),
            cache: Arc::clone(self),
        }))
    }

    /// Per term ordinal of a segment's string column (`key` names the column), the documents
    /// holding that value: built from the column on first use, then kept as one entry.
    /// `None` for a small segment or a column of more than [`MAX_VALUE_SETS`] values.
    pub fn value_sets(
        &self,
        key: &str,
        column: &StrColumn,
        reader: &SegmentReader,
    ) -> Option<Arc<[Bits]>> {
        let values = column.num_terms();
        if reader.max_doc() < MIN_SEGMENT_DOCS || values > MAX_VALUE_SETS {
            return None;
        }
        let key = (reader.segment_id(), Arc::from(key));
        if let Some(Held::PerValue(sets)) = self.bits.get(&key) {
            return Some(sets);
        }
        let mut sets: Vec<Bits> = (0..values).map(|_| Bits::empty(reader.max_doc())).collect();
        for doc in 0..reader.max_doc() {
            for ord in column.term_ords(doc) {
                if let Some(set) = sets.get_mut(ord as usize) {
                    set.insert(doc);
                }
            }
        }
        let sets: Arc<[Bits]> = sets.into();
        self.bits.insert(key, Held::PerValue(Arc::clone(&sets)));
        Some(sets)
    }

    /// Sets held (for tests and diagnostics).
    pub fn len(&self) -> usize {
        self.bits.len()
    }

    pub fn is_empty(&self) -> bool {
        self.bits.is_empty()
    }

    /// What `filter` matches in the segment of `reader`, from the cache or computed into it.
    fn get(
        &self,
        key: &Arc<str>,
        filter: &dyn Weight,
        reader: &SegmentReader,
    ) -> tantivy::Result<Arc<Bits>> {
        let key = (reader.segment_id(), Arc::clone(key));
        if let Some(Held::Set(bits)) = self.bits.get(&key) {
            return Ok(bits);
        }
        let bits = Arc::new(Bits::of(filter, reader)?);
        self.bits.insert(key, Held::Set(Arc::clone(&bits)));
        Ok(bits)
    }
}

struct CachedFilters {
    filters: Vec<(Arc<str>, Box<dyn Query>)>,
    cache: Arc<FilterCache>,
}

impl Clone for CachedFilters {
    fn clone(&self) -> Self {
        CachedFilters {
            filters: self
                .filters
                .iter()
                .map(|(k, q)| (Arc::clone(k), q.box_clone()))
                .collect(),
            cache: Arc::clone(&self.cache),
        }
    }
}

impl fmt::Debug for CachedFilters {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        let keys: Vec<&str> = self.filters.iter().map(|(k, _)| &**k).collect();
        write!(f, "CachedFilters({keys:?})")
    }
}

impl Query for CachedFilters {
    fn weight(&self, scoring: EnableScoring<'_>) -> tantivy::Result<Box<dyn Weight>> {
        // Filters score nothing: their postings are read without frequencies.
        let unscored = EnableScoring::Disabled {
            schema: scoring.schema(),
            searcher_opt: scoring.searcher(),
        };
        let each = self
            .filters
            .iter()
            .map(|(k, q)| Ok((Arc::clone(k), q.weight(unscored)?)))
            .collect::<tantivy::Result<Vec<_>>>()?;
        Ok(Box::new(CachedFiltersWeight {
            each,
            cache: Arc::clone(&self.cache),
        }))
    }

    fn query_terms<'a>(&'a self, visitor: &mut dyn FnMut(&'a tantivy::Term, bool)) {
        for (_, q) in &self.filters {
            q.query_terms(visitor);
        }
    }
}

struct CachedFiltersWeight {
    each: Vec<(Arc<str>, Box<dyn Weight>)>,
    cache: Arc<FilterCache>,
}

impl Weight for CachedFiltersWeight {
    fn scorer(&self, reader: &SegmentReader, boost: Score) -> tantivy::Result<Box<dyn Scorer>> {
        if reader.max_doc() < MIN_SEGMENT_DOCS {
            let scorers = self
                .each
                .iter()
                .map(|(_, w)| w.scorer(reader, boost))
                .collect::<tantivy::Result<Vec<_>>>()?;
            return Ok(intersect_scorers(scorers, reader.num_docs()));
        }
        let sets = self
            .each
            .iter()
            .map(|(key, w)| self.cache.get(key, w.as_ref(), reader))
            .collect::<tantivy::Result<Vec<_>>>()?;
        let set = match sets.len() {
            1 => Arc::clone(&sets[0]),
            _ => Arc::new(Bits::all(&sets)),
        };
        Ok(Box::new(BitsDocSet::new(set, boost)))
    }

    fn explain(&self, reader: &SegmentReader, doc: DocId) -> tantivy::Result<Explanation> {
        let mut scorer = self.scorer(reader, 1.0)?;
        if scorer.doc() > doc || scorer.seek(doc) != doc {
            return Err(tantivy::TantivyError::InvalidArgument(format!(
                "document {doc} does not pass the filters"
            )));
        }
        Ok(Explanation::new("Filters", 1.0))
    }
}

/// The documents of a [`Bits`], in order, each with the same score.
struct BitsDocSet {
    bits: Arc<Bits>,
    /// The word holding the current document, and its bits above it.
    word: usize,
    rest: u64,
    doc: DocId,
    score: Score,
}

impl BitsDocSet {
    fn new(bits: Arc<Bits>, score: Score) -> BitsDocSet {
        let rest = bits.words.first().copied().unwrap_or(0);
        let mut set = BitsDocSet {
            bits,
            word: 0,
            rest,
            doc: 0,
            score,
        };
        set.advance();
        set
    }
}

impl Scorer for BitsDocSet {
    fn score(&mut self) -> Score {
        self.score
    }
}

impl DocSet for BitsDocSet {
    fn advance(&mut self) -> DocId {
        loop {
            if self.rest != 0 {
                let low = self.rest.trailing_zeros();
                self.rest &= self.rest - 1;
                self.doc = self.word as u32 * 64 + low;
                return self.doc;
            }
            self.word += 1;
            match self.bits.words.get(self.word) {
                Some(&w) => self.rest = w,
                None => {
                    self.word = self.bits.words.len();
                    self.doc = TERMINATED;
                    return TERMINATED;
                }
            }
        }
    }

    fn seek(&mut self, target: DocId) -> DocId {
        if self.doc >= target {
            return self.doc;
        }
        let word = (target / 64) as usize;
        let Some(&w) = self.bits.words.get(word) else {
            self.word = self.bits.words.len();
            self.doc = TERMINATED;
            return TERMINATED;
        };
        if word != self.word {
            self.word = word;
            self.rest = w;
        }
        self.rest &= u64::MAX << (target % 64);
        self.advance()
    }

    fn doc(&self) -> DocId {
        self.doc
    }

    fn size_hint(&self) -> u32 {
        self.bits.len
    }

    /// Counted by words: a list of a million entities counts its set in microseconds.
    fn count_including_deleted(&mut self) -> u32 {
        if self.doc == TERMINATED {
            return 0;
        }
        let later: u32 = self.bits.words[self.word + 1..]
            .iter()
            .map(|w| w.count_ones())
            .sum();
        let n = 1 + self.rest.count_ones() + later;
        self.word = self.bits.words.len();
        self.rest = 0;
        self.doc = TERMINATED;
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bits(docs: &[u32], max: u32) -> Arc<Bits> {
        let mut words = vec![0u64; (max as usize).div_ceil(64)];
        for &d in docs {
            words[(d / 64) as usize] |= 1 << (d % 64);
        }
        Arc::new(Bits {
            words: words.into(),
            len: docs.len() as u32,
        })
    }

    fn all_docs(mut set: BitsDocSet) -> Vec<u32> {
        let mut seen = Vec::new();
        while set.doc() != TERMINATED {
            seen.push(set.doc());
            set.advance();
        }
        assert_eq!(set.advance(), TERMINATED);
        seen
    }

    #[test]
    fn iterates_every_document_in_order() {
        let docs = [0, 1, 63, 64, 65, 200, 4095, 4096, 9999];
        assert_eq!(all_docs(BitsDocSet::new(bits(&docs, 10_000), 1.0)), docs);
    }

    #[test]
    fn seeks_to_the_first_document_at_or_after_the_target() {
        let docs = [3, 64, 130, 131, 5000];
        let expect = |target: u32| docs.iter().copied().find(|&d| d >= target);
        for target in [
            0u32, 3, 4, 63, 64, 65, 129, 130, 131, 132, 4999, 5000, 5001, 9000,
        ] {
            let mut set = BitsDocSet::new(bits(&docs, 6000), 1.0);
            let got = set.seek(target);
            assert_eq!(
                Some(got).filter(|&d| d != TERMINATED),
                expect(target),
                "{target}"
            );
        }
        // Successive seeks, as an intersection makes them.
        let mut set = BitsDocSet::new(bits(&docs, 6000), 1.0);
        assert_eq!(set.seek(5), 64);
        assert_eq!(set.seek(64), 64);
        assert_eq!(set.seek(100), 130);
        assert_eq!(set.seek(131), 131);
        assert_eq!(set.advance(), 5000);
        assert_eq!(set.seek(5001), TERMINATED);
        assert_eq!(set.size_hint(), 5);
    }

    mod on_an_index {
        use tantivy::collector::{Count, DocSetCollector};
        use tantivy::query::{BooleanQuery, Occur, TermQuery};
        use tantivy::schema::{IndexRecordOption, Schema, STRING};
        use tantivy::{doc, Index, Term};

        use super::*;

        /// One segment of `n` documents tagged by divisibility, and the tag field.
        fn index(n: u32) -> (Index, tantivy::schema::Field) {
            let mut schema = Schema::builder();
            let tag = schema.add_text_field("tag", STRING);
            let index = Index::create_in_ram(schema.build());
            let mut writer = index.writer_with_num_threads(1, 50_000_000).unwrap();
            for i in 0..n {
                let mut d = doc!(tag => if i % 2 == 0 { "even" } else { "odd" });
                if i % 3 == 0 {
                    d.add_text(tag, "three");
                }
                writer.add_document(d).unwrap();
            }
            writer.commit().unwrap();
            (index, tag)
        }

        fn term(tag: tantivy::schema::Field, v: &str) -> Box<dyn Query> {
            Box::new(TermQuery::new(
                Term::from_field_text(tag, v),
                IndexRecordOption::Basic,
            ))
        }

        fn filters(cache: &Arc<FilterCache>, tag: tantivy::schema::Field) -> Box<dyn Query> {
            cache
                .all_of(vec![
                    ("even".into(), term(tag, "even")),
                    ("three".into(), term(tag, "three")),
                ])
                .unwrap()
        }

        fn plain(tag: tantivy::schema::Field) -> BooleanQuery {
            BooleanQuery::new(vec![
                (Occur::Must, term(tag, "even")),
                (Occur::Must, term(tag, "three")),
            ])
        }

        #[test]
        fn a_large_segment_is_answered_from_the_cache_as_from_postings() {
            let (index, tag) = index(MIN_SEGMENT_DOCS + 2_000);
            let searcher = index.reader().unwrap().searcher();
            let cache = Arc::new(FilterCache::default());
            let expected = searcher.search(&plain(tag), &DocSetCollector).unwrap();
            assert_eq!(
                expected.len(),
                (MIN_SEGMENT_DOCS as usize + 2_000).div_ceil(6)
            );
            for _ in 0..2 {
                let got = searcher
                    .search(&filters(&cache, tag), &DocSetCollector)
                    .unwrap();
                assert_eq!(got, expected);
                // One set per filter of the one segment, built on first use.
                assert_eq!(cache.len(), 2);
            }
            // Intersected with another clause: led by the set or by the postings.
            for (other, n) in [("odd", 0), ("even", expected.len())] {
                let q = BooleanQuery::new(vec![
                    (Occur::Must, term(tag, other)),
                    (Occur::Must, filters(&cache, tag)),
                ]);
                assert_eq!(searcher.search(&q, &Count).unwrap(), n, "{other}");
            }
        }

        #[test]
        fn deleted_documents_are_not_counted() {
            let (index, tag) = index(MIN_SEGMENT_DOCS + 2_000);
            let cache = Arc::new(FilterCache::default());
            let reader = index.reader().unwrap();
            let before = reader
                .searcher()
                .search(&filters(&cache, tag), &Count)
                .unwrap();
            let mut writer: tantivy::IndexWriter =
                index.writer_with_num_threads(1, 50_000_000).unwrap();
            writer.delete_term(Term::from_field_text(tag, "three"));
            writer.commit().unwrap();
            reader.reload().unwrap();
            assert!(before > 0);
            let searcher = reader.searcher();
            assert_eq!(searcher.search(&filters(&cache, tag), &Count).unwrap(), 0);
            assert_eq!(
                searcher
                    .search(&filters(&cache, tag), &DocSetCollector)
                    .unwrap()
                    .len(),
                0
            );
        }

        #[test]
        fn a_small_segment_is_read_from_postings() {
            let (index, tag) = index(600);
            let searcher = index.reader().unwrap().searcher();
            let cache = Arc::new(FilterCache::default());
            assert_eq!(searcher.search(&filters(&cache, tag), &Count).unwrap(), 100);
            assert!(cache.is_empty());
        }

        #[test]
        fn the_cache_keeps_within_its_capacity() {
            let (index, tag) = index(MIN_SEGMENT_DOCS + 2_000);
            let searcher = index.reader().unwrap().searcher();
            // Room for about two sets of this segment.
            let cache = Arc::new(FilterCache::with_capacity(2 * 1_600 + 400));
            for v in ["even", "odd", "three"] {
                let q = cache.all_of(vec![(v.into(), term(tag, v))]).unwrap();
                assert!(searcher.search(&q, &Count).unwrap() > 0);
            }
            assert!(cache.len() <= 2, "{}", cache.len());
        }
    }

    #[test]
    fn counts_what_is_left() {
        let docs = [3, 64, 130, 131, 5000];
        assert_eq!(
            BitsDocSet::new(bits(&docs, 6000), 1.0).count_including_deleted(),
            5
        );
        let mut set = BitsDocSet::new(bits(&docs, 6000), 1.0);
        set.seek(130);
        assert_eq!(set.count_including_deleted(), 3);
        assert_eq!(set.doc(), TERMINATED);
        assert_eq!(set.count_including_deleted(), 0);
    }

    #[test]
    fn an_empty_set_is_terminated() {
        assert_eq!(BitsDocSet::new(bits(&[], 0), 1.0).doc(), TERMINATED);
        assert_eq!(BitsDocSet::new(bits(&[], 100), 1.0).doc(), TERMINATED);
    }

    #[test]
    fn the_intersection_holds_what_every_set_holds() {
        let a = bits(&[1, 5, 64, 70, 300, 999], 1000);
        let b = bits(&[5, 64, 71, 300, 998], 1000);
        let c = bits(&[0, 5, 300, 999], 1000);
        let all = Arc::new(Bits::all(&[a, b, c]));
        assert_eq!(all.len, 2);
        assert_eq!(all_docs(BitsDocSet::new(all, 1.0)), [5, 300]);
    }
}
