//! The best documents of a scored query within a set (tenant, filters), found with the
//! query's own block-max pruning.
//!
//! A query wrapped in a boolean with the set as a second required clause is a general
//! intersection to tantivy: every document matching both is scored to find the first page
//! (block-max WAND prunes only bare terms and flat term unions or intersections). Here the
//! query runs alone, pruned, and each document it offers is checked against the set before it
//! can raise the bar the pruning uses; the set only ever removes candidates, so the page is the
//! one the intersection would have ranked, in the same order (score, then document address).
//! The number of matches is counted in a second, unscored pass over each segment.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use tantivy::query::{intersect_scorers, EnableScoring, Query};
use tantivy::{DocAddress, DocSet, Score, Searcher, TERMINATED};

/// A candidate of the page; the greatest is the worst kept (lowest score, then latest).
#[derive(PartialEq)]
struct Kept {
    score: Score,
    doc: DocAddress,
}

impl Eq for Kept {}

impl Ord for Kept {
    fn cmp(&self, other: &Self) -> Ordering {
        other
            .score
            .total_cmp(&self.score)
            .then(self.doc.cmp(&other.doc))
    }
}

impl PartialOrd for Kept {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// The `limit` best documents of `scored` that `set` also matches, best first, and how many
/// documents match both.
pub fn top_within(
    searcher: &Searcher,
    scored: &dyn Query,
    set: &dyn Query,
    limit: usize,
) -> tantivy::Result<(Vec<(Score, DocAddress)>, usize)> {
    let mut kept: BinaryHeap<Kept> = BinaryHeap::with_capacity(limit + 1);
    let weight = scored.weight(EnableScoring::enabled_from_searcher(searcher))?;
    let unscored = scored.weight(EnableScoring::disabled_from_searcher(searcher))?;
    let within = set.weight(EnableScoring::disabled_from_searcher(searcher))?;
    // Below any score, so the first documents are taken whatever they score.
    let mut threshold = Score::MIN;
    let mut count = 0usize;
    for (ord, reader) in searcher.segment_readers().iter().enumerate() {
        let alive = reader.alive_bitset();
        if limit > 0 {
            let mut members = within.scorer(reader, 1.0)?;
            let segment_ord = ord as u32;
            // Documents are offered in increasing order, so the set is only ever sought forward.
            weight.for_each_pruning(threshold, reader, &mut |doc, score| {
                let at = match members.doc() {
                    d if d < doc => members.seek(doc),
                    d => d,
                };
                if at != doc || at == TERMINATED || alive.is_some_and(|a| a.is_deleted(doc)) {
                    return threshold;
                }
                kept.push(Kept {
                    score,
                    doc: DocAddress::new(segment_ord, doc),
                });
                if kept.len() > limit {
                    kept.pop();
                }
                if kept.len() == limit {
                    if let Some(worst) = kept.peek() {
                        threshold = worst.score;
                    }
                }
                threshold
            })?;
        }
        let mut both = intersect_scorers(
            vec![unscored.scorer(reader, 1.0)?, within.scorer(reader, 1.0)?],
            reader.num_docs(),
        );
        count += match alive {
            Some(a) => both.count(a),
            None => both.count_including_deleted(),
        } as usize;
    }
    let page = kept
        .into_sorted_vec()
        .into_iter()
        .map(|k| (k.score, k.doc))
        .collect();
    Ok((page, count))
}

#[cfg(test)]
mod tests {
    use super::*;
    use tantivy::collector::{Count, TopDocs};
    use tantivy::query::{BooleanQuery, ConstScoreQuery, Occur, TermQuery};
    use tantivy::schema::{IndexRecordOption, Schema, STRING, TEXT};
    use tantivy::{doc, Index, IndexWriter, Term};

    /// Three segments of documents whose texts repeat a word a varying number of times, at
    /// varying lengths (so scores differ and many tie), each tagged odd or even.
    fn index() -> (Index, tantivy::schema::Field, tantivy::schema::Field) {
        let mut schema = Schema::builder();
        let text = schema.add_text_field("text", TEXT);
        let tag = schema.add_text_field("tag", STRING);
        let index = Index::create_in_ram(schema.build());
        let mut writer: IndexWriter = index.writer_with_num_threads(1, 15_000_000).unwrap();
        for segment in 0..3u32 {
            for i in 0..700u32 {
                let n = i + segment * 700;
                let words =
                    "bolt ".repeat((n % 5 + 1) as usize) + &"filler ".repeat((n % 7) as usize);
                let parity = if n % 2 == 0 { "even" } else { "odd" };
                writer
                    .add_document(doc!(text => words, tag => parity))
                    .unwrap();
            }
            writer.commit().unwrap();
        }
        (index, text, tag)
    }

    /// The scored word of every document.
    fn bolt(text: tantivy::schema::Field) -> TermQuery {
        TermQuery::new(
            Term::from_field_text(text, "bolt"),
            IndexRecordOption::WithFreqs,
        )
    }

    fn tagged(tag: tantivy::schema::Field, parity: &str) -> TermQuery {
        TermQuery::new(Term::from_field_text(tag, parity), IndexRecordOption::Basic)
    }

    fn reference(
        searcher: &Searcher,
        scored: &dyn Query,
        set: &dyn Query,
        limit: usize,
    ) -> (Vec<(Score, DocAddress)>, usize) {
        let q = BooleanQuery::new(vec![
            (Occur::Must, scored.box_clone()),
            (
                Occur::Must,
                Box::new(ConstScoreQuery::new(set.box_clone(), 0.0)),
            ),
        ]);
        searcher
            .search(&q, &(TopDocs::with_limit(limit).order_by_score(), Count))
            .unwrap()
    }

    #[test]
    fn the_page_and_count_are_those_of_the_intersection() {
        let (index, text, tag) = index();
        let searcher = index.reader().unwrap().searcher();
        assert!(searcher.segment_readers().len() > 1);
        let scored = bolt(text);
        for parity in ["odd", "even"] {
            let set = tagged(tag, parity);
            for limit in [1, 7, 21, 500, 5_000] {
                let got = top_within(&searcher, &scored, &set, limit).unwrap();
                assert_eq!(
                    got,
                    reference(&searcher, &scored, &set, limit),
                    "{parity} {limit}"
                );
                assert_eq!(got.1, 1_050);
            }
        }
    }

    #[test]
    fn deleted_documents_are_neither_ranked_nor_counted() {
        let (index, text, tag) = index();
        let mut writer: IndexWriter = index.writer_with_num_threads(1, 15_000_000).unwrap();
        // Deleted but not merged away: still in the postings of `bolt` and `odd`.
        writer.delete_term(Term::from_field_text(tag, "odd"));
        writer.commit().unwrap();
        let reader = index.reader().unwrap();
        reader.reload().unwrap();
        let searcher = reader.searcher();
        let scored = bolt(text);
        let odd = tagged(tag, "odd");
        assert_eq!(
            top_within(&searcher, &scored, &odd, 10).unwrap(),
            (vec![], 0)
        );
        let even = tagged(tag, "even");
        let got = top_within(&searcher, &scored, &even, 10).unwrap();
        assert_eq!(got, reference(&searcher, &scored, &even, 10));
        assert_eq!(got.1, 1_050);
    }

    #[test]
    fn an_empty_page_still_counts() {
        let (index, text, tag) = index();
        let searcher = index.reader().unwrap().searcher();
        let scored = bolt(text);
        let set = tagged(tag, "odd");
        assert_eq!(
            top_within(&searcher, &scored, &set, 0).unwrap(),
            (vec![], 1_050)
        );
    }
}
