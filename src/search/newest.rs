//! Newest-first pages without a pass that fights the collector.
//!
//! Documents are indexed roughly in write order, so a segment's timestamps mostly grow with
//! the document id. Ordering by a timestamp *descending* then makes every document beat the
//! running top-k threshold of tantivy's collector, which keeps re-selecting its buffer: a list
//! of 1M entities cost 3x the same list in ascending order. Instead, the last few matching
//! documents of each segment give a lower bound for the k-th newest match (they are real
//! matches, so the k-th newest of all is at least as new); the page is then collected from the
//! documents at or above that bound only, a handful of term postings of the timestamp field,
//! and the total is counted separately.

use tantivy::query::{EnableScoring, Query};
use tantivy::{DocSet, Searcher, TERMINATED};

use super::SearchError;

/// Matching documents read from the end of each segment at first; the window grows fourfold
/// until it holds `k` matches or covers the segment.
const FIRST_WINDOW: u32 = 256;

/// A value of the i64 fast field `column` such that at least `k` documents matching `query`
/// have a value at or above it, or `None` when fewer than `k` documents match (the plain
/// collection is then cheap and exact).
pub fn lower_bound(
    searcher: &Searcher,
    query: &dyn Query,
    column: &str,
    k: usize,
) -> Result<Option<i64>, SearchError> {
    if k == 0 {
        return Ok(None);
    }
    let weight = query.weight(EnableScoring::disabled_from_searcher(searcher))?;
    let mut newest: Vec<i64> = Vec::new();
    for reader in searcher.segment_readers() {
        let values = reader.fast_fields().i64(column)?;
        let alive = reader.alive_bitset();
        let max_doc = reader.max_doc();
        let mut window = FIRST_WINDOW.max(u32::try_from(2 * k).unwrap_or(u32::MAX));
        loop {
            let start = max_doc.saturating_sub(window);
            let mut scorer = weight.scorer(reader, 1.0)?;
            let mut doc = if scorer.doc() < start {
                scorer.seek(start)
            } else {
                scorer.doc()
            };
            let mut found = Vec::new();
            while doc != TERMINATED {
                if alive.is_none_or(|a| a.is_alive(doc)) {
                    found.extend(values.first(doc));
                }
                doc = scorer.advance();
            }
            if found.len() >= k || start == 0 {
                newest.extend(found);
                break;
            }
            window = window.saturating_mul(4);
        }
    }
    if newest.len() < k {
        return Ok(None);
    }
    // The k-th largest.
    let (_, kth, _) = newest.select_nth_unstable_by(k - 1, |a, b| b.cmp(a));
    Ok(Some(*kth))
}

#[cfg(test)]
mod tests {
    use tantivy::collector::{Count, TopDocs};
    use tantivy::query::{AllQuery, RangeQuery};
    use tantivy::schema::{Schema, FAST, INDEXED};
    use tantivy::{doc, Index, Order, Term};

    use super::*;

    /// An index whose timestamps grow with the document id (as writes are indexed), in three
    /// segments, with some documents deleted.
    fn index() -> (Index, tantivy::schema::Field) {
        let mut b = Schema::builder();
        let ts = b.add_i64_field("ts", FAST | INDEXED);
        let index = Index::create_in_ram(b.build());
        let mut w = index.writer_with_num_threads(1, 15_000_000).unwrap();
        for chunk in 0..3i64 {
            for i in 0..1000i64 {
                // Some timestamps repeat, as a batch shares one.
                w.add_document(doc!(ts => chunk * 1000 + i - i % 3))
                    .unwrap();
            }
            w.commit().unwrap();
        }
        w.delete_term(Term::from_field_i64(ts, 2997));
        w.commit().unwrap();
        (index, ts)
    }

    #[test]
    fn the_bound_keeps_every_document_of_the_true_top_k() {
        let (index, ts) = index();
        let searcher = index.reader().unwrap().searcher();
        for k in [1, 10, 100, 2500] {
            let bound = lower_bound(&searcher, &AllQuery, "ts", k).unwrap().unwrap();
            let top = searcher
                .search(
                    &AllQuery,
                    &TopDocs::with_limit(k).order_by_fast_field::<i64>("ts", Order::Desc),
                )
                .unwrap();
            let kth = top.last().unwrap().0.unwrap();
            assert!(
                bound <= kth,
                "k {k}: bound {bound} above the k-th newest {kth}"
            );
            let above = searcher
                .search(
                    &RangeQuery::new(
                        std::ops::Bound::Included(Term::from_field_i64(ts, bound)),
                        std::ops::Bound::Unbounded,
                    ),
                    &Count,
                )
                .unwrap();
            assert!(above >= k, "k {k}: only {above} at or above the bound");
        }
        // More than match: no bound, the caller collects everything.
        assert_eq!(lower_bound(&searcher, &AllQuery, "ts", 5000).unwrap(), None);
        assert_eq!(lower_bound(&searcher, &AllQuery, "ts", 0).unwrap(), None);
    }
}
