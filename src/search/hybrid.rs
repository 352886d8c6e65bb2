//! Hybrid retrieval: keyword tiers (see [`super::ranking`]) and vector candidates (see
//! [`super::semantic`]) on one relevance-ordered page. docs/search-ranking.md tells the same
//! story for users.
//!
//! - A query in which an identifier was detected (part number, EAN, standard …) is a keyword
//!   query: identifiers win outright, vectors are not consulted.
//! - Otherwise, when some entity holds every word of the query, the keyword tiers answer alone:
//!   the words found what was asked for. Only when no entity does (a description in other
//!   words, a long query), the hits that hold some of the words and the nearest vectors are
//!   fused by weighted reciprocal rank fusion: each candidate
//!   scores `c/(61 + keyword rank) + (1 − c_max)/(61 + vector rank)`, where `c` is the share
//!   of the query's words the record holds, `c_max` the largest share any keyword hit holds
//!   (the meaning counts as much as the words leave unexplained), and the vector rank is its
//!   similarity rank among all candidates at least [`MIN_SIMILARITY`] similar (keyword hits are
//!   compared with the query vector too). A record that both readings put high wins; one that only one reading finds
//!   still appears; a record that shares one stray word with a paraphrase ranks below records
//!   that mean what it says.
//! - Only vector candidates at least [`MIN_SIMILARITY`] similar to the query count: a query
//!   nothing in the catalog resembles still finds nothing.
//! - When no word of the query matches at all, a keyword query (1–3 words) is read as
//!   misspelled first (the typo-tolerant fallback), a natural-language one (4+ words) by its
//!   meaning (vector candidates alone).
//! - Vector candidates pass the same tenant, vertical, visibility and filter clauses as
//!   keyword ones (one term-set query over their ids), so a vector can never surface a record
//!   the keyword search could not have returned for the same request.
//!
//! `mode` forces a reading: `keyword` (no vectors), `hybrid` (fuse even with identifiers),
//! `semantic` (vector candidates only, by similarity), `identifier` (only entities carrying an
//! identifier of the query). A search with `sort` orders keyword matches by the field.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use tantivy::collector::DocSetCollector;
use tantivy::query::{Query, TermSetQuery};
use tantivy::schema::{IndexRecordOption, Term};
use tantivy::DocSet;
use tantivy::{DocAddress, Searcher};
use uuid::Uuid;

use super::query::{entity_ids, Filter, Outcome, QueryType, SearchParams};
use super::ranking::{Plan, Ranked, BELOW_ONE};
use super::{SearchError, SearchIndex};

/// How a text query is matched.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Mode {
    /// Hybrid when the query has words to embed and no identifier; keyword otherwise.
    #[default]
    Auto,
    Keyword,
    Hybrid,
    Semantic,
    Identifier,
}

impl Mode {
    pub fn parse(s: &str) -> Result<Mode, String> {
        Ok(match s {
            "auto" => Mode::Auto,
            "keyword" | "fulltext" => Mode::Keyword,
            "hybrid" => Mode::Hybrid,
            "semantic" => Mode::Semantic,
            "identifier" => Mode::Identifier,
            other => {
                return Err(format!(
                    "mode '{other}' is not auto, keyword, hybrid, semantic or identifier"
                ))
            }
        })
    }
}

/// The rank constant of reciprocal rank fusion (the customary 60: ranks 1 and 2 differ little,
/// so neither reading alone decides the order).
const RRF_K: f32 = 60.0;
/// Fewest candidates of each reading fused, whatever the page size.
const MIN_WINDOW: usize = 100;
/// How many of the first keyword hits decide that a query's words suffice (no vector scan):
/// a default page (`limit` 20).
const WORDS_SUFFICE_DEPTH: usize = 20;
/// With filters, vector candidates fetched per one wanted: filters drop some.
const FILTERED_OVERFETCH: usize = 10;
const MAX_VECTOR_CANDIDATES: usize = 5_000;
/// Least similarity (cosine) of a vector candidate. Measured with the built-in model over the
/// sample catalog: 0.2–0.7 between a description of a part and the right records, below 0.15
/// for an unrelated text (`birthday cake recipe`); a made-up word can still reach 0.24.
const MIN_SIMILARITY: f32 = 0.2;

/// The keyword pass of a hybrid search: from the first hit, at least [`MIN_WINDOW`] deep.
pub fn window(p: &SearchParams) -> SearchParams {
    SearchParams {
        offset: 0,
        limit: (p.offset + p.limit + 1).max(MIN_WINDOW),
        ..p.clone()
    }
}

/// A fused page.
pub struct Fused {
    pub hits: Ranked,
    pub total: usize,
    /// Vector candidates were sought (the page is hybrid).
    pub consulted: bool,
}

/// A candidate of the fused part of a page.
struct Candidate {
    doc: DocAddress,
    keyword_rank: Option<usize>,
    similarity: Option<f32>,
}

impl SearchIndex {
    fn vectors_ready(&self) -> bool {
        self.semantic.as_ref().is_some_and(|s| s.ready())
    }

    /// The reading a search gets: a forced one falls back to keyword where vectors cannot
    /// serve (embeddings off or still loading, or a page ordered by a field).
    pub(super) fn resolve_mode(&self, p: &SearchParams, plan: &Plan) -> Mode {
        let vectors = self.vectors_ready() && p.sort.is_none();
        match p.mode {
            Mode::Auto if vectors && !plan.detected => Mode::Hybrid,
            Mode::Auto => Mode::Keyword,
            Mode::Hybrid | Mode::Semantic if !vectors => Mode::Keyword,
            m => m,
        }
    }

    /// The query's vector (none when it has no words to embed) and the time it took.
    pub(super) fn query_vector(&self, q: &str) -> (Option<Arc<[f32]>>, Option<f64>) {
        let Some(s) = &self.semantic else {
            return (None, None);
        };
        let started = Instant::now();
        let (v, _cached) = s.query_vector(q);
        (v, Some(started.elapsed().as_secs_f64() * 1e3))
    }

    /// Up to `want` of the vectors nearest to `v` whose entities the search may return (scope,
    /// visibility, `filters`), best first, with their similarity.
    fn vector_candidates(
        &self,
        searcher: &Searcher,
        p: &SearchParams,
        filters: &[Filter],
        v: &[f32],
        want: usize,
    ) -> Result<Vec<(DocAddress, f32)>, SearchError> {
        let Some(s) = &self.semantic else {
            return Ok(Vec::new());
        };
        let k = if filters.is_empty() && !p.public_only {
            want
        } else {
            (want * FILTERED_OVERFETCH).min(MAX_VECTOR_CANDIDATES)
        };
        let near = s.partitions.nearest(&p.tenant, &p.vertical, v, k);
        if near.is_empty() {
            return Ok(Vec::new());
        }
        let ids = near
            .iter()
            .map(|(id, _)| Term::from_field_text(self.fields.id, &id.to_string()));
        let set: Box<dyn Query> = Box::new(TermSetQuery::new(ids));
        let q = self.restrict(set, p, filters, false);
        let docs: Vec<DocAddress> = searcher.search(&q, &DocSetCollector)?.into_iter().collect();
        let by_id: HashMap<Uuid, DocAddress> = entity_ids(searcher, docs.iter().copied())?
            .into_iter()
            .zip(docs)
            .collect();
        Ok(near
            .into_iter()
            .take_while(|(_, sim)| *sim >= MIN_SIMILARITY)
            .filter_map(|(id, sim)| by_id.get(&id).map(|d| (*d, sim)))
            .take(want)
            .collect())
    }

    /// The share of the plan's words each document holds (one posting-list seek per word and
    /// document, documents visited in order per segment).
    fn coverage(
        &self,
        searcher: &Searcher,
        plan: &Plan,
        docs: &[DocAddress],
    ) -> Result<Vec<f32>, SearchError> {
        if plan.words.is_empty() {
            return Ok(vec![1.0; docs.len()]);
        }
        let mut held = vec![0u32; docs.len()];
        let mut by_segment: HashMap<u32, Vec<(u32, usize)>> = HashMap::new();
        for (i, d) in docs.iter().enumerate() {
            by_segment
                .entry(d.segment_ord)
                .or_default()
                .push((d.doc_id, i));
        }
        for (segment, mut list) in by_segment {
            list.sort_unstable();
            let inverted = searcher
                .segment_reader(segment)
                .inverted_index(self.fields.text)?;
            for w in &plan.words {
                let term = Term::from_field_text(self.fields.text, w);
                let postings = inverted
                    .read_postings(&term, IndexRecordOption::Basic)
                    .map_err(|e| SearchError::Directory(e.to_string()))?;
                let Some(mut postings) = postings else {
                    continue;
                };
                // A seek may only move forward; the postings start on their first document.
                let mut at = postings.doc();
                for &(doc, i) in &list {
                    if at < doc {
                        at = postings.seek(doc);
                    }
                    if at == doc {
                        held[i] += 1;
                    }
                }
            }
        }
        let n = plan.words.len() as f32;
        Ok(held.into_iter().map(|h| h as f32 / n).collect())
    }

    /// Fuses a keyword window (from the first hit) with vector candidates, as the module
    /// documentation says, and cuts the page `p` asks for.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn fuse(
        &self,
        searcher: &Searcher,
        p: &SearchParams,
        plan: &Plan,
        filters: &[Filter],
        keyword: Ranked,
        keyword_total: usize,
        v: &[f32],
    ) -> Result<Fused, SearchError> {
        let want = (p.offset + p.limit + 1).max(MIN_WINDOW);
        let ceiling = plan.fusion_ceiling();
        // The words alone found what was asked for (hits holding every word rank first):
        // meaning is not consulted, the page is cut from the window.
        if keyword.first().is_some_and(|h| h.0 >= ceiling) {
            return Ok(Fused {
                hits: keyword.into_iter().skip(p.offset).take(p.limit).collect(),
                total: keyword_total,
                consulted: false,
            });
        }
        let rest = keyword;
        let mut cands: Vec<Candidate> = rest
            .iter()
            .enumerate()
            .map(|(i, h)| Candidate {
                doc: h.2,
                keyword_rank: Some(i),
                similarity: None,
            })
            .collect();
        if let Some(s) = &self.semantic {
            let ids = entity_ids(searcher, rest.iter().map(|h| h.2))?;
            let sims = s.partitions.similarities(&p.tenant, &p.vertical, v, &ids);
            for (c, sim) in cands.iter_mut().zip(sims) {
                c.similarity = sim;
            }
        }
        let keyword_docs: Vec<DocAddress> = cands.iter().map(|c| c.doc).collect();
        let mut coverage = self.coverage(searcher, plan, &keyword_docs)?;
        let rrf = |r: Option<usize>| r.map_or(0.0, |r| 1.0 / (RRF_K + 1.0 + r as f32));
        // The meaning counts as much as the words leave unexplained: what the best keyword
        // hit does not hold of the query.
        let explained = coverage.iter().copied().fold(0.0f32, f32::max);
        let meaning = 1.0 - explained;
        // A record only the vectors find scores at most `meaning · rrf(0)`; a keyword hit at
        // least its words' part. When each of the first WORDS_SUFFICE_DEPTH keyword hits
        // scores more on words alone, no vector-only record can come before them: the query's
        // meaning is taken as carried by its words, the partition is not scanned and keyword
        // hits are ranked by similarity among themselves. Those first hits are the same
        // whatever page is asked for, so every page of a query reads it the same way.
        let words_suffice = cands.len() >= WORDS_SUFFICE_DEPTH
            && (0..WORDS_SUFFICE_DEPTH)
                .map(|i| coverage[i] * rrf(Some(i)))
                .all(|floor| floor > meaning * rrf(Some(0)));
        let mut vector_only = 0;
        if !words_suffice {
            let at: HashMap<DocAddress, usize> =
                cands.iter().enumerate().map(|(i, c)| (c.doc, i)).collect();
            let mut extra = Vec::new();
            for (doc, sim) in self.vector_candidates(searcher, p, filters, v, want)? {
                match at.get(&doc) {
                    Some(&i) => cands[i].similarity = Some(sim),
                    None => {
                        extra.push(doc);
                        cands.push(Candidate {
                            doc,
                            keyword_rank: None,
                            similarity: Some(sim),
                        });
                    }
                }
            }
            vector_only = extra.len();
            coverage.extend(self.coverage(searcher, plan, &extra)?);
        }
        let mut by_similarity: Vec<usize> = (0..cands.len())
            .filter(|&i| cands[i].similarity.is_some_and(|s| s >= MIN_SIMILARITY))
            .collect();
        by_similarity.sort_by(|&a, &b| {
            let (x, y) = (cands[a].similarity, cands[b].similarity);
            y.unwrap_or(0.0)
                .total_cmp(&x.unwrap_or(0.0))
                .then(a.cmp(&b))
        });
        let mut vector_rank = vec![None; cands.len()];
        for (rank, &i) in by_similarity.iter().enumerate() {
            vector_rank[i] = Some(rank);
        }
        let mut scored: Vec<(f32, usize)> = cands
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let words = coverage[i] * rrf(c.keyword_rank);
                (words + meaning * rrf(vector_rank[i]), i)
            })
            .collect();
        scored.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        let best = (explained + meaning) * rrf(Some(0));
        let hits: Ranked = scored
            .into_iter()
            .map(|(f, i)| {
                let score = (ceiling * (f / best).min(1.0) * BELOW_ONE).min(ceiling * BELOW_ONE);
                (score, false, cands[i].doc)
            })
            .collect();
        let total = (keyword_total + vector_only).max(hits.len());
        let hits = hits.into_iter().skip(p.offset).take(p.limit).collect();
        Ok(Fused {
            hits,
            total,
            consulted: true,
        })
    }

    /// A page of vector candidates only, by similarity.
    pub(super) fn semantic_search(
        &self,
        searcher: &Searcher,
        p: &SearchParams,
        v: Option<Arc<[f32]>>,
        word_type: QueryType,
        embed_ms: Option<f64>,
    ) -> Result<Outcome, SearchError> {
        let want = p.offset + p.limit + 1;
        let cands = match &v {
            Some(v) => self.vector_candidates(searcher, p, &p.filters, v, want)?,
            None => Vec::new(),
        };
        let total = cands.len();
        let docs: Vec<DocAddress> = cands.iter().map(|c| c.0).collect();
        let hits: Ranked = cands
            .into_iter()
            .skip(p.offset)
            .take(p.limit)
            .map(|(d, sim)| (sim.clamp(0.0, BELOW_ONE), false, d))
            .collect();
        let facets = self.facets(searcher, p, total, || {
            let ids = entity_ids(searcher, docs.into_iter()).ok()?;
            let terms = ids
                .iter()
                .map(|id| Term::from_field_text(self.fields.id, &id.to_string()));
            Some(self.restrict(Box::new(TermSetQuery::new(terms)), p, &[], false))
        })?;
        let mut out = self.outcome(searcher, hits, total, Some(word_type), "semantic", None)?;
        out.embed_ms = embed_ms;
        Ok(Outcome { facets, ..out })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_parse_and_explain_themselves() {
        assert_eq!(Mode::parse("hybrid"), Ok(Mode::Hybrid));
        assert_eq!(Mode::parse("fulltext"), Ok(Mode::Keyword));
        assert!(Mode::parse("vector").unwrap_err().contains("semantic"));
    }
}
