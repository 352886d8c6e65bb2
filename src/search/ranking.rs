//! Ranking rules for relevance-ordered pages (no `sort`). docs/search-ranking.md tells the same
//! story for users tuning their data.
//!
//! A query is read as identifiers plus words ([`Plan`]):
//! - an identifier that *pins down* an entity — a code (part number, EAN/GTIN, CAS) whose
//!   document frequency within the tenant's vertical is at most [`UNIQUE_MAX_DF`] — puts its
//!   entities in the top tier, score 1.0, ordered among themselves by the query's words;
//! - a *class* identifier — a standard (`ISO 4762`), or a code shared by more entities (a
//!   series, a size like `M16x50`) — narrows: entities with it (with every class identifier of
//!   the query) and every remaining word first, then entities with them alone (ordered by the
//!   remaining words), then, with several, entities with some of them and every remaining word,
//!   then the remaining words alone;
//! - then entities holding every word, then those holding some.
//!
//! Within a tier, BM25 over the analyzed text (name weighted by repetition, description,
//! vertical_data values; see [`super::analysis`]). Each tier has its own score band below the
//! previous one, so scores never increase down a page and only the top tier reaches 1.0.
//! Unit-qualified sizes and dimension forms (`12mm`, `10x30`) only boost: structured data often
//! holds the bare number. Each tier is one pruned top-k query, and later tiers run only when
//! earlier ones do not fill the page; classifying identifiers costs one term-dictionary lookup
//! each, never work per hit.

use std::collections::HashSet;

use tantivy::collector::{Count, TopDocs};
use tantivy::query::{BooleanQuery, ConstScoreQuery, EnableScoring, Occur, Query, TermQuery};
use tantivy::schema::{IndexRecordOption, Term};
use tantivy::DocSet;
use tantivy::{DocAddress, Score, Searcher};

use super::analysis::is_qualifier;
use super::fuzzy::close_words;
use super::identifiers::{self, Kind};
use super::query::{filter_clause, fuzz, Filter, SearchParams, MAX_FUZZY_WORDS};
use super::{schema, SearchError, SearchIndex};

/// Most entities an identifier may match and still pin one down: a part number listed under a
/// few variants (a packaging size, a duplicate import) stays an identifier; beyond that it is a
/// series or a class.
pub const UNIQUE_MAX_DF: u64 = 3;

/// What holding a bound measure adds to a hit's raw score: more than the words' BM25 scores
/// differ by within a tier.
const BOUND_SCORE: f32 = 8.0;

/// Units a measure in a query may carry, as the data keys spell them (`shaft_mm`).
const UNITS: &[&str] = &[
    "mm", "cm", "m", "in", "kw", "w", "v", "a", "bar", "nm", "kg", "g", "rpm", "hz",
];

fn is_unit(t: &str) -> bool {
    UNITS.contains(&t)
}

/// The noun an adjective of size stands for ("40 mm long" is a length).
fn dimension_noun(word: &str) -> &str {
    match word {
        "long" => "length",
        "wide" => "width",
        "thick" => "thickness",
        "high" | "tall" => "height",
        "deep" => "depth",
        "heavy" => "weight",
        w => w,
    }
}

/// A number, and the unit written onto it (`40mm` → 40, mm; `40` → 40, none).
fn split_measure(t: &str) -> Option<(f64, Option<String>)> {
    let end = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == ','))
        .unwrap_or(t.len());
    let number: f64 = t[..end].replace(',', ".").parse().ok()?;
    match &t[end..] {
        "" => Some((number, None)),
        u if is_unit(u) => Some((number, Some(u.to_owned()))),
        _ => None,
    }
}

/// How many close words a misspelled word's correction considers, most frequent first.
const MAX_CORRECTION_CANDIDATES: usize = 4;

/// Raw score that marks an identifier hit on pages ordered by a field.
pub const IDENT_SCORE: Score = 1_000_000.0;
/// Raw BM25 score mapped to the middle of a band.
const SCORE_HALF: f32 = 8.0;
/// Highest score below 1.0: the band ceilings are open.
pub const BELOW_ONE: f32 = 0.999_999;

/// A page of documents with their normalized score and whether they matched an identifier.
pub type Ranked = Vec<(f32, bool, DocAddress)>;

/// How a hit was found: decides its place on a relevance-ordered page and its score band.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tier {
    /// An identifier that pins down an entity: 1.0.
    Identifier,
    /// Every class identifier and every remaining word.
    ClassAndWords,
    /// Every class identifier, by the remaining words.
    Class,
    /// Some of several class identifiers and every remaining word.
    ClassAny,
    /// Every word.
    AllWords,
    /// Some words.
    SomeWords,
}

/// The query read as identifiers and words, all as scoped terms.
#[derive(Clone, Debug, Default)]
pub struct Plan {
    /// Identifiers that pin down an entity.
    pub unique: Vec<String>,
    /// Standards and shared codes.
    pub class: Vec<String>,
    /// Every analyzed word of the query.
    pub words: Vec<String>,
    /// The words outside identifiers.
    pub rest: Vec<String>,
    /// Any identifier was written in the query, matching or not.
    pub detected: bool,
    /// Only corrected words match: as typed, the query matches nothing, so what it finds is
    /// the typo-tolerant answer.
    pub typo_only: bool,
    /// Measures the query binds to an attribute ("40 mm shaft" → `shaft_mm` = 40): the
    /// attribute's value terms, which rank the entities holding them first within a tier.
    pub bound: Vec<Term>,
}

impl Plan {
    /// The tiers below the identifier tier this plan uses, best first: the score bands.
    fn bands(&self) -> Vec<Tier> {
        let mut t = Vec::new();
        if !self.class.is_empty() {
            if self.rest.iter().any(|w| !is_qualifier(unscoped(w))) {
                t.push(Tier::ClassAndWords);
            }
            t.push(Tier::Class);
            if self.class.len() > 1 {
                t.push(Tier::ClassAny);
            }
        }
        t.extend([Tier::AllWords, Tier::SomeWords]);
        t
    }

    /// Scores below this belong to hits holding only some of the words (the last band): the
    /// part of a page hybrid search fuses with vector candidates (see [`super::hybrid`]).
    pub fn fusion_ceiling(&self) -> f32 {
        1.0 / self.bands().len().max(1) as f32
    }

    /// The plan without its words: only entities carrying one of its identifiers match.
    pub fn identifiers_only(mut self) -> Plan {
        self.words.clear();
        self.rest.clear();
        self
    }

    /// The words the every-word tier asks for: outside the identifiers when one matched (its
    /// own words would only find it again), else all.
    fn word_base(&self) -> &[String] {
        let identified = !self.unique.is_empty() || !self.class.is_empty();
        if identified && !self.rest.is_empty() {
            &self.rest
        } else {
            &self.words
        }
    }
}

fn unscoped(term: &str) -> &str {
    term.rsplit(':').next().unwrap_or(term)
}

/// A raw BM25 score mapped into [0, 1), increasing.
fn unit(raw: Score) -> f32 {
    let s = raw.max(0.0);
    (s / (s + SCORE_HALF)).min(BELOW_ONE)
}

/// The score of a hit of `tier` under `bands`: identifier hits 1.0, band `i` of `n`
/// `[(n-1-i)/n, (n-i)/n)`.
pub fn tier_score(tier: Tier, bands: &[Tier], raw: Score) -> f32 {
    if tier == Tier::Identifier {
        return 1.0;
    }
    let n = bands.len().max(1) as f32;
    let i = bands.iter().position(|t| *t == tier).unwrap_or(bands.len()) as f32;
    let lo = ((n - 1.0 - i) / n).max(0.0);
    let hi = ((n - i) / n).max(0.0);
    (lo + (hi - lo) * unit(raw))
        .min(hi - 1e-6)
        .clamp(0.0, BELOW_ONE)
}

/// A typo-tolerant match: below 1.0, by BM25.
pub fn fuzzy_score(raw: Score) -> f32 {
    unit(raw)
}

/// The score of a hit on a page ordered by a field, and whether it is an identifier hit.
pub fn normalized_score(raw: Score) -> (f32, bool) {
    if raw >= IDENT_SCORE {
        (1.0, true)
    } else {
        (unit(raw), false)
    }
}

fn term_query(term: Term, option: IndexRecordOption) -> Box<dyn Query> {
    Box::new(TermQuery::new(term, option))
}

/// `clauses` combined; a lone clause that matches is returned as itself. Scores are the same,
/// but tantivy prunes a top-k search with block-max WAND only for a bare term query or a
/// boolean of two or more terms: a boolean around one term scores every posting (at a
/// million entities, a one-word search read 400,000 postings instead of a few blocks).
pub(super) fn combined(mut clauses: Vec<(Occur, Box<dyn Query>)>) -> Box<dyn Query> {
    if clauses.len() == 1 && clauses[0].0 != Occur::MustNot {
        if let Some((_, q)) = clauses.pop() {
            return q;
        }
    }
    Box::new(BooleanQuery::new(clauses))
}

impl SearchIndex {
    /// Reads a query: identifiers classified by kind and document frequency in the tenant's
    /// vertical (one dictionary lookup each), and the analyzed words.
    pub fn plan(&self, searcher: &Searcher, p: &SearchParams, q: &str) -> Plan {
        let prefix = schema::scope(&p.tenant, &p.vertical);
        let scan = identifiers::scan(q);
        let mut found = scan.found.clone();
        let detected = !found.is_empty();
        if let Some(whole) = identifiers::whole_query_candidate(q) {
            if !found.iter().any(|f| f.term == whole) {
                found.push(identifiers::Found {
                    term: whole,
                    kind: Kind::Code,
                });
            }
        }
        let mut plan = Plan {
            words: self.scoped_words(schema::TEXT, p, q),
            detected,
            ..Plan::default()
        };
        let mut matched: HashSet<String> = HashSet::new();
        for f in found {
            let term = format!("{prefix}{}", f.term);
            let df = searcher
                .doc_freq(&Term::from_field_text(self.fields.ident, &term))
                .unwrap_or(0);
            match (df, f.kind) {
                (0, _) => continue,
                (1..=UNIQUE_MAX_DF, Kind::Code) => plan.unique.push(term),
                _ => plan.class.push(term),
            }
            matched.insert(f.term);
        }
        let rest = scan.rest(|f| matched.contains(&f.term));
        plan.rest = self.scoped_words(schema::TEXT, p, &rest);
        let held = |t: &str| {
            searcher
                .doc_freq(&Term::from_field_text(self.fields.text, t))
                .is_ok_and(|n| n > 0)
        };
        // Read only when a word matches nothing as typed.
        let typed = std::cell::OnceCell::new();
        let mut corrections = 0;
        let mut any_typed_matches = !plan.unique.is_empty() || !plan.class.is_empty();
        for words in [&mut plan.words, &mut plan.rest] {
            for i in 0..words.len() {
                if held(&words[i]) {
                    any_typed_matches = true;
                    continue;
                }
                if corrections == MAX_FUZZY_WORDS {
                    continue;
                }
                let typed = typed.get_or_init(|| self.typed_words(&prefix, q));
                if let Some(fixed) = self.correction(searcher, &prefix, words, i, typed) {
                    words[i] = fixed;
                    corrections += 1;
                }
            }
        }
        plan.typo_only = corrections > 0 && !any_typed_matches;
        plan.bound = self.bound_measures(searcher, q);
        plan
    }

    /// A number with a unit next to a word that names an attribute with that unit ("40 mm
    /// shaft", "a shaft of 40 mm", "25mm bore") reads as that attribute's value: the vertical's
    /// data must have the key `<word>_<unit>` (`shaft_mm`, `bore_mm`, `power_kw`), in any
    /// segment. The word may stand up to two words before the number or after the unit; the
    /// nearest one that names such a key counts. A name of two words counts as the key joined
    /// by `_`, as does a hyphen ("3 mm cross section", "3 mm cross-section" → `cross_section_mm`). Adjectives of size stand for their
    /// noun ("40 mm long" → `length_mm`).
    fn bound_measures(&self, searcher: &Searcher, q: &str) -> Vec<Term> {
        if !q.bytes().any(|b| b.is_ascii_digit()) {
            return Vec::new();
        }
        let tokens: Vec<String> = q
            // Not on ',': "2,5 kW" is a decimal comma.
            .split(|c: char| c.is_whitespace() || matches!(c, ';' | '(' | ')'))
            .map(|t| t.trim_matches(','))
            .filter(|t| !t.is_empty())
            .map(str::to_lowercase)
            .collect();
        let mut out = Vec::new();
        for (i, t) in tokens.iter().enumerate() {
            // "40mm" or "40 mm".
            let (number, unit, after) = match split_measure(t) {
                Some((n, Some(u))) => (n, u, i + 1),
                Some((n, None)) => match tokens.get(i + 1).filter(|u| is_unit(u)) {
                    Some(u) => (n, u.clone(), i + 2),
                    None => continue,
                },
                None => continue,
            };
            // Nearest first; at equal distance the word after ("40 mm shaft"). A name of two
            // words ("3 mm cross section", "outer diameter 52 mm") before its first word. A
            // name after the unit that a number follows belongs to that number ("inner
            // diameter 30 mm cross section 3 mm").
            let starts_measure =
                |j: usize| tokens.get(j).is_some_and(|t| split_measure(t).is_some());
            let word = |j: usize| {
                tokens
                    .get(j)
                    .filter(|_| j < after || !starts_measure(j + 1))
                    .map(String::as_str)
            };
            let pair = |a: Option<&str>, b: Option<&str>| Some(format!("{}_{}", a?, b?));
            let near = (0..2).flat_map(|d| {
                let preceding = i.checked_sub(d + 1);
                let first_of_pair = tokens.get(after + d).map(String::as_str);
                [
                    pair(first_of_pair, word(after + d + 1)),
                    word(after + d).map(str::to_owned),
                    preceding.and_then(|j| pair(j.checked_sub(1).and_then(word), word(j))),
                    preceding.and_then(word).map(str::to_owned),
                ]
                .into_iter()
                .flatten()
            });
            // The name as typed, then without a plural "s" ("thickness" stays whole).
            let key = near
                .map(|w| w.replace('-', "_"))
                .flat_map(|w| {
                    let singular = w.strip_suffix('s').map(str::to_owned);
                    std::iter::once(w).chain(singular)
                })
                .filter(|w| w.len() > 2 && w.chars().all(|c| c.is_alphabetic() || c == '_'))
                .map(|w| format!("{}_{unit}", dimension_noun(&w)))
                .find(|key| self.has_data_column(searcher, key));
            if let Some(key) = key {
                out.push(self.number_term(&key, number));
            }
        }
        out
    }

    /// Whether any segment has a column for the `vertical_data` key (of any tenant).
    pub(super) fn has_data_column(&self, searcher: &Searcher, key: &str) -> bool {
        let column = format!("data.{}", schema::json_key(key));
        searcher.segment_readers().iter().any(|r| {
            r.fast_fields()
                .dynamic_column_handles(&column)
                .is_ok_and(|h| !h.is_empty())
        })
    }

    /// Each analyzed (stemmed, scoped) term of `q` and the word as typed, before stemming: a
    /// misspelling is corrected as typed ("stainles" is one edit from "stainless", but its
    /// stem "stainl" is three from the stem "stainless").
    fn typed_words(&self, prefix: &str, q: &str) -> Vec<(String, String)> {
        schema::analyze(&self.index, schema::WORDS, q)
            .into_iter()
            .filter_map(|w| {
                let stem = schema::analyze(&self.index, schema::TEXT, &w)
                    .into_iter()
                    .next()?;
                Some((format!("{prefix}{stem}"), w))
            })
            .collect()
    }

    /// A word no entity of the vertical holds is most likely misspelled ("hex blot M8"): it is
    /// read as a close word the vertical does hold, so it keeps narrowing and ranking beside the
    /// query's other words instead of matching nothing. Only words of letters are corrected
    /// (never a size or a code: `M6` is not a typo of `M8`), within the edit distance the fuzzy
    /// fallback allows for their length, keeping their first letter. Of the close words, the
    /// most frequent one that some entity holds together with the query's other words wins
    /// ("shaft seel FKM" reads "seal", though "steel" is commoner); without such a word, the
    /// most frequent.
    fn correction(
        &self,
        searcher: &Searcher,
        prefix: &str,
        words: &[String],
        i: usize,
        typed: &[(String, String)],
    ) -> Option<String> {
        let df = |t: &str| {
            searcher
                .doc_freq(&Term::from_field_text(self.fields.text, t))
                .unwrap_or(0)
        };
        let term = words[i].as_str();
        let word = typed
            .iter()
            .find(|(stem, _)| stem == term)
            .map_or(unscoped(term), |(_, w)| w.as_str());
        let distance = fuzz(word);
        if distance == 0 || !word.chars().all(char::is_alphabetic) {
            return None;
        }
        // The first letter is kept, as spelling correctors commonly do (typos rarely hit it):
        // the dictionary walk then covers one letter's words instead of the vertical's all,
        // which is what keeps a correction well under a millisecond at a million entities.
        let first = word.chars().next()?;
        let rest = &word[first.len_utf8()..];
        let close = close_words(
            searcher,
            self.fields.words,
            &format!("{prefix}{first}"),
            rest,
            distance,
        )
        .ok()?;
        let known: Vec<&str> = words
            .iter()
            .map(String::as_str)
            .filter(|o| *o != term && !is_qualifier(unscoped(o)) && df(o) > 0)
            .collect();
        let mut fallback = None;
        for (close, _) in close.iter().take(MAX_CORRECTION_CANDIDATES) {
            let Some(stem) = schema::analyze(&self.index, schema::TEXT, unscoped(close))
                .into_iter()
                .next()
                .map(|s| format!("{prefix}{s}"))
                .filter(|s| df(s) > 0)
            else {
                continue;
            };
            if known.is_empty() || self.held_together(searcher, &stem, &known) {
                return Some(stem);
            }
            fallback.get_or_insert(stem);
        }
        fallback
    }

    /// Whether some document holds `term` and every one of `others` (text terms).
    fn held_together(&self, searcher: &Searcher, term: &str, others: &[&str]) -> bool {
        let all = BooleanQuery::new(
            std::iter::once(term)
                .chain(others.iter().copied())
                .map(|t| {
                    let t = Term::from_field_text(self.fields.text, t);
                    (Occur::Must, term_query(t, IndexRecordOption::Basic))
                })
                .collect(),
        );
        let Ok(weight) = all.weight(EnableScoring::disabled_from_searcher(searcher)) else {
            return false;
        };
        // A scorer starts on its first match: no need to walk the intersection.
        searcher.segment_readers().iter().any(|segment| {
            weight
                .scorer(segment, 1.0)
                .is_ok_and(|s| s.doc() != tantivy::TERMINATED)
        })
    }

    /// Any of these identifier terms, scoring nothing.
    fn ident_union(&self, terms: &[String]) -> Box<dyn Query> {
        Box::new(ConstScoreQuery::new(self.ident_any(terms), 0.0))
    }

    /// Any of these identifier terms, scored: a flat union tantivy prunes.
    fn ident_any(&self, terms: &[String]) -> Box<dyn Query> {
        combined(
            terms
                .iter()
                .map(|t| {
                    (
                        Occur::Should,
                        term_query(
                            Term::from_field_text(self.fields.ident, t),
                            IndexRecordOption::Basic,
                        ),
                    )
                })
                .collect(),
        )
    }

    fn word_clause(&self, w: &str, occur: Occur) -> (Occur, Box<dyn Query>) {
        (
            occur,
            term_query(
                Term::from_field_text(self.fields.text, w),
                IndexRecordOption::WithFreqs,
            ),
        )
    }

    /// Clauses for `words`: each required except qualifiers, which only boost (`must`), or
    /// each optional (`!must`).
    fn word_clauses(&self, words: &[String], must: bool) -> Vec<(Occur, Box<dyn Query>)> {
        let required = must && words.iter().any(|w| !is_qualifier(unscoped(w)));
        words
            .iter()
            .map(|w| {
                let occur = if required && !is_qualifier(unscoped(w)) {
                    Occur::Must
                } else {
                    Occur::Should
                };
                self.word_clause(w, occur)
            })
            .collect()
    }

    /// Every word (`must`) or any word: a flat intersection or union of term queries, the
    /// shapes tantivy prunes with block-max WAND.
    pub fn words_query(&self, words: &[String], must: bool) -> Box<dyn Query> {
        combined(self.word_clauses(words, must))
    }

    /// Entities with every one of `idents`, ordered by `words` (and, with `every`, holding
    /// them).
    fn narrowed(&self, idents: &[String], words: &[String], every: bool) -> Box<dyn Query> {
        let mut clauses: Vec<(Occur, Box<dyn Query>)> = idents
            .iter()
            .map(|i| (Occur::Must, self.ident_union(std::slice::from_ref(i))))
            .collect();
        clauses.extend(self.word_clauses(words, every));
        Box::new(BooleanQuery::new(clauses))
    }

    /// Identifier terms of the plan as one clause for pages ordered by a field: unique ones
    /// mark their hits with [`IDENT_SCORE`].
    pub fn ident_matcher(&self, plan: &Plan) -> Vec<(Occur, Box<dyn Query>)> {
        let mut out: Vec<(Occur, Box<dyn Query>)> = Vec::new();
        if !plan.unique.is_empty() {
            out.push((
                Occur::Should,
                Box::new(ConstScoreQuery::new(
                    self.ident_union(&plan.unique),
                    IDENT_SCORE,
                )),
            ));
        }
        if !plan.class.is_empty() {
            out.push((
                Occur::Should,
                Box::new(ConstScoreQuery::new(self.ident_union(&plan.class), 1.0)),
            ));
        }
        out
    }

    /// The query of one tier of `plan`, if the plan has that tier.
    fn tier_query(&self, plan: &Plan, tier: Tier) -> Option<Box<dyn Query>> {
        Some(match tier {
            Tier::Identifier if !plan.unique.is_empty() => {
                self.narrowed(&plan.unique, &plan.words, false)
            }
            Tier::Identifier => return None,
            Tier::ClassAndWords => self.narrowed(&plan.class, &plan.rest, true),
            // With no other words, the identifier's own words are in every entity of the
            // class: a plain (pruned) term query orders it as well and much cheaper.
            Tier::Class if plan.rest.is_empty() && plan.class.len() == 1 => {
                self.ident_any(&plan.class)
            }
            Tier::Class => self.narrowed(&plan.class, &plan.rest, false),
            // Entities with more of the class identifiers (and rarer ones) rank higher.
            Tier::ClassAny => {
                let mut clauses = vec![(Occur::Must, self.ident_any(&plan.class))];
                clauses.extend(self.word_clauses(&plan.rest, true));
                Box::new(BooleanQuery::new(clauses))
            }
            Tier::AllWords if !plan.word_base().is_empty() => {
                self.with_bound(plan, self.words_query(plan.word_base(), true))
            }
            Tier::SomeWords if plan.words.len() > 1 => {
                self.with_bound(plan, self.words_query(&plan.words, false))
            }
            Tier::AllWords | Tier::SomeWords => return None,
        })
    }

    /// `q`, with the entities holding a bound measure of the plan scored above the others.
    fn with_bound(&self, plan: &Plan, q: Box<dyn Query>) -> Box<dyn Query> {
        if plan.bound.is_empty() {
            return q;
        }
        let mut clauses = vec![(Occur::Must, q)];
        clauses.extend(plan.bound.iter().map(|t| {
            let held: Box<dyn Query> = Box::new(ConstScoreQuery::new(
                term_query(t.clone(), IndexRecordOption::Basic),
                BOUND_SCORE,
            ));
            (Occur::Should, held)
        }));
        Box::new(BooleanQuery::new(clauses))
    }

    /// Every document a relevance-ordered search of `plan` can page through: the union of its
    /// tiers (a page stops at the tiers it needs; paging on reaches the others). Unrestricted,
    /// like the tier queries.
    pub fn ranked_set(&self, plan: &Plan) -> Option<Box<dyn Query>> {
        let tiers: Vec<(Occur, Box<dyn Query>)> = std::iter::once(Tier::Identifier)
            .chain(plan.bands())
            .filter_map(|t| self.tier_query(plan, t))
            .map(|q| (Occur::Should, q))
            .collect();
        (!tiers.is_empty()).then(|| Box::new(BooleanQuery::new(tiers)) as Box<dyn Query>)
    }

    /// A relevance-ordered page by the tiers of the module documentation.
    pub fn run_ranked(
        &self,
        searcher: &Searcher,
        p: &SearchParams,
        plan: &Plan,
        filters: &[Filter],
    ) -> Result<(Ranked, usize), SearchError> {
        let need = p.offset + p.limit + 1;
        // Tier queries are scoped: only filters and Open's visibility confine them, the same
        // set for every tier. Open counts exactly too: document frequencies would count
        // private records.
        let confined = self.confinement(p, filters, false);
        let bands = plan.bands();
        let mut found: Ranked = Vec::new();
        let mut seen: HashSet<DocAddress> = HashSet::new();
        // With filters a tier's matches are counted exactly; without, the total is estimated
        // from document frequencies.
        let mut take = |found: &mut Ranked,
                        q: Box<dyn Query>,
                        tier: Tier|
         -> Result<usize, SearchError> {
            let limit = need + seen.len();
            let top = TopDocs::with_limit(limit).order_by_score();
            // A one-word tier is ranked with its own pruning, then confined (see
            // [`super::pruned`]). Several words are left to the intersection with the
            // filters: where most blocks of a word's postings hold a near-best document
            // (a catalog of variants), their block-max pruning skips little, and filters
            // that keep a few percent would leave it to scan nearly every match.
            let (docs, count) = match &confined {
                Some(set) if q.is::<TermQuery>() => {
                    super::pruned::top_within(searcher, q.as_ref(), set.as_ref(), limit)?
                }
                Some(set) => {
                    let q =
                        BooleanQuery::new(vec![(Occur::Must, q), filter_clause(set.box_clone())]);
                    searcher.search(&q, &(top, Count))?
                }
                None => (searcher.search(&q, &top)?, 0),
            };
            for (raw, doc) in docs {
                if found.len() >= need {
                    break;
                }
                if seen.insert(doc) {
                    found.push((tier_score(tier, &bands, raw), tier == Tier::Identifier, doc));
                }
            }
            Ok(count)
        };
        let mut ident_count = 0;
        if let Some(q) = self.tier_query(plan, Tier::Identifier) {
            ident_count = take(&mut found, q, Tier::Identifier)?;
        }
        let mut other_count = 0;
        let mut class_ran = false;
        for &tier in &bands {
            if found.len() >= need {
                break;
            }
            let Some(q) = self.tier_query(plan, tier) else {
                continue;
            };
            class_ran |= matches!(tier, Tier::ClassAndWords | Tier::Class | Tier::ClassAny);
            other_count = other_count.max(take(&mut found, q, tier)?);
        }
        // The number of documents in the tiers this page draws from.
        let total = if found.len() < need {
            found.len()
        } else if confined.is_some() {
            ident_count + other_count
        } else {
            // Document frequencies are per tenant and vertical (terms are scoped): the rarest
            // word bounds the every-word tier from above, the most frequent the union from
            // below. Deleted documents not yet merged away still count: an estimate.
            let df = |field, t: &str| {
                searcher
                    .doc_freq(&Term::from_field_text(field, t))
                    .unwrap_or(0) as usize
            };
            let partial = plan.words.len() > 1;
            let dfs = plan.words.iter().map(|w| df(self.fields.text, w));
            let words_df = if partial { dfs.max() } else { dfs.min() }.unwrap_or(0);
            let ident_df: usize = plan.unique.iter().map(|c| df(self.fields.ident, c)).sum();
            let class_df: usize = if class_ran {
                plan.class.iter().map(|c| df(self.fields.ident, c)).sum()
            } else {
                0
            };
            found.len().max(ident_df + class_df.max(words_df))
        };
        let page = found.into_iter().skip(p.offset).take(p.limit).collect();
        Ok((page, total))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const WORDS_ONLY: &[Tier] = &[Tier::AllWords, Tier::SomeWords];
    const WITH_CLASS: &[Tier] = &[
        Tier::ClassAndWords,
        Tier::Class,
        Tier::AllWords,
        Tier::SomeWords,
    ];

    #[test]
    fn a_lone_clause_stays_a_term_query() {
        let mut schema = tantivy::schema::Schema::builder();
        let text = schema.add_text_field("text", tantivy::schema::TEXT);
        let _ = schema.build();
        let term = || {
            term_query(
                Term::from_field_text(text, "steel"),
                IndexRecordOption::Basic,
            )
        };
        for occur in [Occur::Must, Occur::Should] {
            assert!(combined(vec![(occur, term())]).is::<TermQuery>());
        }
        // Excluding a term is not matching it.
        assert!(combined(vec![(Occur::MustNot, term())]).is::<BooleanQuery>());
        assert!(combined(vec![(Occur::Must, term()), (Occur::Must, term())]).is::<BooleanQuery>());
    }

    #[test]
    fn tiers_keep_scores_ordered() {
        let ident = tier_score(Tier::Identifier, WORDS_ONLY, 0.0);
        let all_low = tier_score(Tier::AllWords, WORDS_ONLY, 0.01);
        let all_high = tier_score(Tier::AllWords, WORDS_ONLY, 1e9);
        let some_high = tier_score(Tier::SomeWords, WORDS_ONLY, 1e9);
        assert_eq!(ident, 1.0);
        assert!(all_high < 1.0 && all_low > 0.5 && all_low < all_high);
        assert!(some_high < 0.5 && some_high < all_low);
        assert_eq!(tier_score(Tier::SomeWords, WORDS_ONLY, 0.0), 0.0);
    }

    #[test]
    fn class_bands_sit_between_identifiers_and_words() {
        let mut last = 1.0;
        for tier in WITH_CLASS {
            let high = tier_score(*tier, WITH_CLASS, 1e9);
            let low = tier_score(*tier, WITH_CLASS, 0.0);
            assert!(high < last && low <= high, "{tier:?}");
            last = low;
        }
        assert!(tier_score(Tier::ClassAndWords, WITH_CLASS, 1e9) < 1.0);
    }

    #[test]
    fn scores_are_in_unit_interval_and_monotonic() {
        assert_eq!(normalized_score(IDENT_SCORE + 3.0), (1.0, true));
        let (a, _) = normalized_score(2.0);
        let (b, _) = normalized_score(20.0);
        assert!(0.0 < a && a < b && b < 1.0);
        assert_eq!(normalized_score(0.0).0, 0.0);
    }

    #[test]
    fn measures_and_units() {
        assert_eq!(split_measure("40mm"), Some((40.0, Some("mm".into()))));
        assert_eq!(split_measure("2,5kw"), Some((2.5, Some("kw".into()))));
        assert_eq!(split_measure("40"), Some((40.0, None)));
        assert_eq!(split_measure("m8"), None);
        assert_eq!(split_measure("40x52"), None);
        assert!(is_unit("mm") && !is_unit("shaft"));
        assert_eq!(dimension_noun("long"), "length");
        assert_eq!(dimension_noun("bore"), "bore");
    }

    #[test]
    fn unscoped_terms() {
        assert_eq!(unscoped("acme:parts:12mm"), "12mm");
        assert_eq!(unscoped("12mm"), "12mm");
    }
}
