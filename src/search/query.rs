//! Building and running searches: filters, sort, fallbacks. Every query is confined to the
//! caller's tenant and vertical here, in [`SearchIndex::search`], either by scoped terms
//! (`tenant:vertical:word`, see [`super::schema`]) or by explicit tenant and vertical clauses:
//! callers cannot leave it out. The order of a relevance-ordered page is [`super::ranking`]'s.

use std::ops::Bound;
use std::sync::Arc;

use serde_json::{Map, Value};
use tantivy::collector::sort_key::{NaturalComparator, SortByStaticFastValue, SortByString};
use tantivy::collector::{Count, SegmentSortKeyComputer, SortKeyComputer, TopDocs};
use tantivy::columnar::ColumnType;
use tantivy::query::{
    BooleanQuery, ConstScoreQuery, EnableScoring, ExistsQuery, InvertedIndexRangeQuery, Occur,
    Query, QueryClone, TermQuery,
};
use tantivy::schema::{Field, IndexRecordOption, Term};
use tantivy::{
    DocAddress, DocId, DocSet, Order, Score, Searcher, SegmentOrdinal, SegmentReader, TERMINATED,
};
use uuid::Uuid;

use super::by_value;
use super::facets::{FacetCollector, Facets};
use super::fuzzy::ScopedFuzzyQuery;
use super::hybrid::{self, Mode};
use super::newest;
use super::ranking::{fuzzy_score, normalized_score, Ranked};
use super::schema::{self, json_key};
use super::{SearchError, SearchIndex};
use crate::store::Visibility;

pub const MAX_FILTERS: usize = 20;
/// Values of one any-of filter. Each becomes up to three term queries, so without a cap a 1 MB
/// body of comma-separated values made one search cost seconds of CPU.
pub const MAX_FILTER_VALUES: usize = 100;
/// Words of a query tried typo-tolerantly: a typo fallback for a long natural-language query
/// gains little from its 20th word, and every word adds an automaton walk.
pub const MAX_FUZZY_WORDS: usize = 10;

/// A range of terms of one field, by its two ends.
type TermRange = (Bound<Term>, Bound<Term>);

/// The numbers a range filter admits, by its two ends; `None` for other filters.
fn range_of(op: &FilterOp) -> Option<(Bound<f64>, Bound<f64>)> {
    use Bound::{Excluded, Included, Unbounded};
    match *op {
        FilterOp::Min(n) => Some((Included(n), Unbounded)),
        FilterOp::Max(n) => Some((Unbounded, Included(n))),
        FilterOp::Gt(n) => Some((Excluded(n), Unbounded)),
        FilterOp::Lt(n) => Some((Unbounded, Excluded(n))),
        FilterOp::AnyOf(_) | FilterOp::Terms(_) => None,
    }
}

/// The narrower of two bounds on the same end; `narrower(a, b)` says whether value `a` is
/// narrower than `b` on that end. At the same value an excluded bound is the narrower.
fn tighter(a: Bound<f64>, b: Bound<f64>, narrower: fn(f64, f64) -> bool) -> Bound<f64> {
    use Bound::{Excluded, Included, Unbounded};
    match (a, b) {
        (Unbounded, x) | (x, Unbounded) => x,
        (Included(x) | Excluded(x), Included(y) | Excluded(y)) if narrower(x, y) => a,
        (Included(x) | Excluded(x), Included(y) | Excluded(y)) if narrower(y, x) => b,
        (Excluded(_), _) => a,
        _ => b,
    }
}

/// At most this many values in range turn a range filter into those values.
const MAX_RANGE_VALUES: usize = 64;

/// The distinct terms within `ranges` over `searcher`'s segments, or `None` when there are more
/// than [`MAX_RANGE_VALUES`].
fn values_in(searcher: &Searcher, ranges: &[TermRange]) -> tantivy::Result<Option<Vec<Term>>> {
    let bounded = |b: &Bound<Term>| match b {
        Bound::Included(t) | Bound::Excluded(t) => Some(t.clone()),
        Bound::Unbounded => None,
    };
    let mut values: std::collections::BTreeMap<Vec<u8>, Term> = Default::default();
    for (lo, hi) in ranges {
        let Some(template) = bounded(lo).or_else(|| bounded(hi)) else {
            continue;
        };
        for segment in searcher.segment_readers() {
            let index = segment.inverted_index(template.field())?;
            let mut range = index.terms().range();
            range = match lo {
                Bound::Included(t) => range.ge(t.serialized_value_bytes()),
                Bound::Excluded(t) => range.gt(t.serialized_value_bytes()),
                Bound::Unbounded => range,
            };
            range = match hi {
                Bound::Included(t) => range.le(t.serialized_value_bytes()),
                Bound::Excluded(t) => range.lt(t.serialized_value_bytes()),
                Bound::Unbounded => range,
            };
            let mut stream = range.into_stream()?;
            while stream.advance() {
                if !values.contains_key(stream.key()) {
                    if values.len() == MAX_RANGE_VALUES {
                        return Ok(None);
                    }
                    let mut term = template.clone();
                    term.set_bytes(stream.key());
                    values.insert(stream.key().to_vec(), term);
                }
            }
        }
    }
    Ok(Some(values.into_values().collect()))
}

/// One filter value, as the client wrote it.
#[derive(Clone, Debug, PartialEq)]
pub enum Scalar {
    Str(String),
    Num(f64),
    Bool(bool),
}

#[derive(Clone, Debug, PartialEq)]
pub enum FilterOp {
    /// Equality with any of these values.
    AnyOf(Vec<Scalar>),
    Min(f64),
    Max(f64),
    Gt(f64),
    Lt(f64),
    /// A range resolved against the index: the numeric terms it holds within the range
    /// (see [`SearchIndex::resolve_ranges`]).
    Terms(Vec<Term>),
}

#[derive(Clone, Debug, PartialEq)]
pub struct Filter {
    pub key: String,
    pub op: FilterOp,
}

#[derive(Clone, Debug, PartialEq)]
pub enum SortField {
    Name,
    CreatedAt,
    UpdatedAt,
    Data(String),
}

#[derive(Clone, Debug, PartialEq)]
pub struct Sort {
    pub field: SortField,
    pub descending: bool,
}

impl Sort {
    pub fn parse(s: &str) -> Result<Sort, String> {
        let (descending, name) = match s.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, s),
        };
        if name.is_empty() || name.len() > 128 {
            return Err("sort must name a field: name, created_at, updated_at or a vertical_data key, with '-' for descending".into());
        }
        // Other engines spell direction as a suffix; here it is a '-' prefix.
        if let Some((field, dir)) = name.rsplit_once(':') {
            let dir = dir.to_ascii_lowercase();
            if dir == "asc" || dir == "desc" {
                let hint = if dir == "desc" {
                    format!("-{field}")
                } else {
                    field.to_owned()
                };
                return Err(format!(
                    "sort '{s}' is not supported: write '{hint}' ('-' prefix = descending)"
                ));
            }
        }
        let field = match name {
            "name" => SortField::Name,
            "created_at" => SortField::CreatedAt,
            "updated_at" => SortField::UpdatedAt,
            other => SortField::Data(other.to_owned()),
        };
        Ok(Sort { field, descending })
    }
}

fn scalar(v: &Value) -> Option<Scalar> {
    match v {
        Value::String(s) => Some(Scalar::Str(s.clone())),
        Value::Number(n) => n.as_f64().map(Scalar::Num),
        Value::Bool(b) => Some(Scalar::Bool(*b)),
        _ => None,
    }
}

fn split_list(v: &Value, key: &str) -> Result<Vec<Scalar>, String> {
    let items: Vec<Scalar> = match v {
        Value::String(s) => s
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| Scalar::Str(s.to_owned()))
            .collect(),
        Value::Array(a) => a
            .iter()
            .map(|v| {
                scalar(v).ok_or_else(|| {
                    format!("filter '{key}': list items must be strings, numbers or booleans")
                })
            })
            .collect::<Result<_, _>>()?,
        other => vec![scalar(other).ok_or_else(|| format!("filter '{key}': unsupported value"))?],
    };
    if items.is_empty() {
        return Err(format!("filter '{key}': empty value"));
    }
    if items.len() > MAX_FILTER_VALUES {
        return Err(format!(
            "filter '{key}': at most {MAX_FILTER_VALUES} values, got {}",
            items.len()
        ));
    }
    Ok(items)
}

fn number(v: &Value, key: &str) -> Result<f64, String> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse::<f64>().ok().filter(|f| f.is_finite()),
        _ => None,
    }
    .ok_or_else(|| format!("filter '{key}' needs a number"))
}

/// Parses the `filters` object of a search request (API.md §6).
pub fn parse_filters(filters: &Map<String, Value>) -> Result<Vec<Filter>, String> {
    if filters.len() > MAX_FILTERS {
        return Err(format!("at most {MAX_FILTERS} filters"));
    }
    let mut out = Vec::new();
    for (raw_key, v) in filters {
        let ranged = |suffix: &str| raw_key.strip_suffix(suffix).filter(|k| !k.is_empty());
        let (key, op) = if let Some(k) = ranged("_in") {
            (k, FilterOp::AnyOf(split_list(v, raw_key)?))
        } else if let Some(k) = ranged("_min") {
            (k, FilterOp::Min(number(v, raw_key)?))
        } else if let Some(k) = ranged("_max") {
            (k, FilterOp::Max(number(v, raw_key)?))
        } else if let Some(k) = ranged("_gt") {
            (k, FilterOp::Gt(number(v, raw_key)?))
        } else if let Some(k) = ranged("_lt") {
            (k, FilterOp::Lt(number(v, raw_key)?))
        } else {
            (raw_key.as_str(), FilterOp::AnyOf(split_list(v, raw_key)?))
        };
        if key.is_empty() || key.len() > 128 {
            return Err(format!("filter key '{raw_key}' is not valid"));
        }
        out.push(Filter {
            key: key.to_owned(),
            op,
        });
    }
    Ok(out)
}

/// What a search asks for, already validated.
#[derive(Clone, Debug)]
pub struct SearchParams {
    pub tenant: String,
    pub vertical: String,
    pub query: Option<String>,
    pub filters: Vec<Filter>,
    pub sort: Option<Sort>,
    pub limit: usize,
    pub offset: usize,
    /// Only `visibility: public` entities (Open, API-RECORDS.md §7).
    pub public_only: bool,
    /// `vertical_data` keys to count values of over the whole result set (see [`super::facets`]).
    pub facets: Vec<String>,
    /// How a text query is matched (see [`super::hybrid`]).
    pub mode: Mode,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum QueryType {
    Identifier,
    Keyword,
    NaturalLanguage,
    /// No query and no filters: the vertical's active entities, newest first or by `sort`
    /// (API-RECORDS.md §3; the SDK's `search.iter(collection, "")`).
    List,
}

impl QueryType {
    pub fn as_str(self) -> &'static str {
        match self {
            QueryType::Identifier => "identifier",
            QueryType::Keyword => "keyword",
            QueryType::NaturalLanguage => "natural_language",
            QueryType::List => "list",
        }
    }

    /// The type of a search without a query: a list when it has no filters either (a
    /// filter-only search has none).
    fn without_query(p: &SearchParams) -> Option<QueryType> {
        p.filters.is_empty().then_some(QueryType::List)
    }
}

#[derive(Clone, Debug)]
pub struct Hit {
    pub id: Uuid,
    pub score: f32,
    pub identifier: bool,
}

#[derive(Clone, Debug)]
pub struct Outcome {
    pub hits: Vec<Hit>,
    pub total: usize,
    pub query_type: Option<QueryType>,
    pub search_mode: &'static str,
    pub fallback: Option<&'static str>,
    /// The tenant has no entity in the vertical searched.
    pub unknown_vertical: bool,
    /// Counts per value of the requested facet fields (absent when none were requested).
    pub facets: Option<Facets>,
    /// Time spent embedding the query (absent when no vector was used).
    pub embed_ms: Option<f64>,
}

impl Outcome {
    fn no_vertical(p: &SearchParams) -> Outcome {
        Outcome {
            hits: Vec::new(),
            total: 0,
            query_type: match p.query {
                Some(_) => None,
                None => QueryType::without_query(p),
            },
            search_mode: if p.query.is_some() {
                "fulltext"
            } else {
                "filter"
            },
            fallback: None,
            unknown_vertical: true,
            facets: (!p.facets.is_empty()).then(|| Facets::empty(&p.facets)),
            embed_ms: None,
        }
    }
}

/// The queries any of which `q` matches: the clauses of a union (nested unions flattened),
/// else `q` itself. (No query here asks for a minimum number of optional clauses.)
fn alternatives(q: &dyn Query) -> Vec<Box<dyn Query>> {
    match q.downcast_ref::<BooleanQuery>() {
        Some(b) if b.clauses().iter().all(|(o, _)| *o == Occur::Should) => b
            .clauses()
            .iter()
            .flat_map(|(_, c)| alternatives(c.as_ref()))
            .collect(),
        _ => vec![q.box_clone()],
    }
}

fn term_query(term: Term) -> Box<dyn Query> {
    Box::new(TermQuery::new(term, IndexRecordOption::Basic))
}

/// A clause that matches but adds nothing to the score.
pub(super) fn filter_clause(q: Box<dyn Query>) -> (Occur, Box<dyn Query>) {
    (Occur::Must, Box::new(ConstScoreQuery::new(q, 0.0)))
}

fn json_term(field: Field, key: &str) -> Term {
    Term::from_field_json_path(field, &json_key(key), false)
}

/// Edit distance allowed for a word of this length (API.md §6: ≤ 2 by word length).
pub(super) fn fuzz(word: &str) -> u8 {
    match word.chars().count() {
        0..=3 => 0,
        4..=7 => 1,
        _ => 2,
    }
}

impl SearchIndex {
    fn string_eq(&self, field: Field, value: &str) -> Box<dyn Query> {
        term_query(Term::from_field_text(field, &value.to_lowercase()))
    }

    fn f64_term(&self, key: &str, v: f64) -> Term {
        let mut term = json_term(self.fields.data, key);
        term.append_type_and_fast_value(v);
        term
    }

    fn i64_term(&self, key: &str, v: i64) -> Term {
        let mut term = json_term(self.fields.data, key);
        term.append_type_and_fast_value(v);
        term
    }

    /// The term a number is indexed as: tantivy stores integral values as i64 terms and the
    /// rest as f64 terms, so equality must look for the same form.
    pub(super) fn number_term(&self, key: &str, v: f64) -> Term {
        if v.fract() == 0.0 && (i64::MIN as f64..=i64::MAX as f64).contains(&v) {
            self.i64_term(key, v as i64)
        } else {
            self.f64_term(key, v)
        }
    }

    /// The term ranges a numeric range filter covers. Integral values are i64 terms and
    /// fractional ones f64 terms (see [`Self::number_term`]), so it is an f64 range and the i64
    /// range of the integers within the bounds. Open ends are closed at ±∞ (or the i64 limits)
    /// so each byte range stays within this key's terms of one type.
    fn range_bounds(&self, key: &str, lo: Bound<f64>, hi: Bound<f64>) -> Vec<TermRange> {
        let close = |b: Bound<f64>, inf: f64| match b {
            Bound::Unbounded => Bound::Included(inf),
            b => b,
        };
        let mut ranges = vec![(
            close(lo, f64::NEG_INFINITY).map(|v| self.f64_term(key, v)),
            close(hi, f64::INFINITY).map(|v| self.f64_term(key, v)),
        )];
        // `as` saturates at the i64 limits, which is what open-ended bounds need.
        let int_lo = match lo {
            Bound::Unbounded => i64::MIN,
            Bound::Included(x) => x.ceil() as i64,
            Bound::Excluded(x) => (x.floor() as i64).saturating_add(1),
        };
        let int_hi = match hi {
            Bound::Unbounded => i64::MAX,
            Bound::Included(x) => x.floor() as i64,
            Bound::Excluded(x) => (x.ceil() as i64).saturating_sub(1),
        };
        if int_lo <= int_hi {
            ranges.push((
                Bound::Included(self.i64_term(key, int_lo)),
                Bound::Included(self.i64_term(key, int_hi)),
            ));
        }
        ranges
    }

    /// The term ranges of a range filter; `None` for other filters.
    fn filter_ranges(&self, f: &Filter) -> Option<Vec<TermRange>> {
        let (lo, hi) = range_of(&f.op)?;
        Some(self.range_bounds(&f.key, lo, hi))
    }

    /// A numeric range over the term dictionary rather than the fast-field column: catalog
    /// attributes have few distinct values, so a handful of postings beats scanning a million
    /// rows.
    fn data_range(&self, ranges: Vec<TermRange>) -> Box<dyn Query> {
        Box::new(BooleanQuery::new(
            ranges
                .into_iter()
                .map(|(lo, hi)| {
                    let q: Box<dyn Query> = Box::new(InvertedIndexRangeQuery::new(lo, hi));
                    (Occur::Should, q)
                })
                .collect(),
        ))
    }

    /// Range filters as the values the index holds in range, where they are few.
    ///
    /// A range query reads every posting of every value in range into a bitset over each
    /// segment before the search starts: at a million parts a diameter range of three sizes
    /// reads a third of the catalog (about 3 ms, against 1 ms for the same three values as an
    /// `_in` filter, whose postings the search seeks through). Catalog attributes have few
    /// distinct values, so a key's range filters (`_min` and `_max` together are one range)
    /// with at most [`MAX_RANGE_VALUES`] values in `searcher`'s segments become one filter on
    /// those values; a range with more stays a range.
    pub(super) fn resolve_ranges(&self, searcher: &Searcher, filters: &[Filter]) -> Vec<Filter> {
        let mut ranges: Vec<(&str, Bound<f64>, Bound<f64>)> = Vec::new();
        for f in filters {
            let Some((lo, hi)) = range_of(&f.op) else {
                continue;
            };
            match ranges.iter_mut().find(|r| r.0 == f.key) {
                Some(r) => {
                    r.1 = tighter(r.1, lo, |a, b| a > b);
                    r.2 = tighter(r.2, hi, |a, b| a < b);
                }
                None => ranges.push((&f.key, lo, hi)),
            }
        }
        let values: Vec<(&str, Vec<Term>)> = ranges
            .into_iter()
            .filter_map(|(key, lo, hi)| {
                let terms = values_in(searcher, &self.range_bounds(key, lo, hi)).ok()??;
                Some((key, terms))
            })
            .collect();
        let mut out: Vec<Filter> = Vec::new();
        for f in filters {
            let resolved =
                range_of(&f.op).and_then(|_| values.iter().find(|(key, _)| *key == f.key));
            match resolved {
                // The key's range, once.
                Some((key, terms)) => {
                    let op = FilterOp::Terms(terms.clone());
                    if !out.iter().any(|o| o.key == *key && o.op == op) {
                        out.push(Filter {
                            key: f.key.clone(),
                            op,
                        });
                    }
                }
                None => out.push(f.clone()),
            }
        }
        out
    }

    /// Equality on a vertical_data key, in every representation the value may be stored in:
    /// `8`, `"8"`, `true`, `"true"` and strings ignoring case.
    fn data_eq(&self, key: &str, value: &Scalar) -> Vec<Box<dyn Query>> {
        let str_term = |s: &str| {
            let mut term = json_term(self.fields.data, key);
            term.append_type_and_str(&s.to_lowercase());
            term_query(term)
        };
        let bool_term = |b: bool| {
            let mut term = json_term(self.fields.data, key);
            term.append_type_and_fast_value(b);
            term_query(term)
        };
        let mut out = Vec::new();
        match value {
            Scalar::Str(s) => {
                out.push(str_term(s));
                if let Ok(n) = s.trim().parse::<f64>() {
                    out.push(term_query(self.number_term(key, n)));
                }
                match s.trim().to_ascii_lowercase().as_str() {
                    "true" => out.push(bool_term(true)),
                    "false" => out.push(bool_term(false)),
                    _ => {}
                }
            }
            Scalar::Num(n) => {
                out.push(term_query(self.number_term(key, *n)));
                out.push(str_term(&Value::from(*n).to_string()));
            }
            Scalar::Bool(b) => {
                out.push(bool_term(*b));
                out.push(str_term(if *b { "true" } else { "false" }));
            }
        }
        out
    }

    fn filter_query(&self, f: &Filter) -> Box<dyn Query> {
        let dedicated = match f.key.as_str() {
            // `record_type` is the records dialect's name for it (API-RECORDS.md §1).
            "entity_type" | "record_type" => Some(self.fields.entity_type),
            "source_type" => Some(self.fields.source_type),
            _ => None,
        };
        let any_of = |clauses: Vec<Box<dyn Query>>| -> Box<dyn Query> {
            Box::new(BooleanQuery::new(
                clauses.into_iter().map(|q| (Occur::Should, q)).collect(),
            ))
        };
        match (&f.op, dedicated) {
            (FilterOp::AnyOf(values), Some(field)) => any_of(
                values
                    .iter()
                    .map(|v| match v {
                        Scalar::Str(s) => self.string_eq(field, s),
                        Scalar::Num(n) => self.string_eq(field, &n.to_string()),
                        Scalar::Bool(b) => self.string_eq(field, &b.to_string()),
                    })
                    .collect(),
            ),
            (FilterOp::AnyOf(values), None) => any_of(
                values
                    .iter()
                    .flat_map(|v| self.data_eq(&f.key, v))
                    .collect(),
            ),
            // Numeric comparisons on a dedicated string field match nothing.
            (_, Some(_)) => Box::new(BooleanQuery::new(Vec::new())),
            (FilterOp::Terms(terms), None) => {
                any_of(terms.iter().cloned().map(term_query).collect())
            }
            (_, None) => match self.filter_ranges(f) {
                Some(ranges) => self.data_range(ranges),
                None => Box::new(BooleanQuery::new(Vec::new())),
            },
        }
    }

    /// Query words as scoped terms of the `text` (stemmed) or `words` (unstemmed) field.
    pub(super) fn scoped_words(
        &self,
        analyzer: &str,
        p: &SearchParams,
        query: &str,
    ) -> Vec<String> {
        let prefix = schema::scope(&p.tenant, &p.vertical);
        schema::analyze(&self.index, analyzer, query)
            .into_iter()
            .map(|w| format!("{prefix}{w}"))
            .collect()
    }

    /// Typo-tolerant variant: unstemmed words within an edit distance scaled by word length,
    /// the scope matched exactly (see [`ScopedFuzzyQuery`]). Each word costs an automaton and
    /// a walk of the term dictionary, so only the first [`MAX_FUZZY_WORDS`] are tried.
    fn fuzzy_query(&self, p: &SearchParams, query: &str) -> Option<Box<dyn Query>> {
        let scope = schema::scope(&p.tenant, &p.vertical);
        let clauses: Vec<(Occur, Box<dyn Query>)> =
            schema::analyze(&self.index, schema::WORDS, query)
                .iter()
                .take(MAX_FUZZY_WORDS)
                .map(|w| {
                    let q: Box<dyn Query> = match fuzz(w) {
                        0 => term_query(Term::from_field_text(
                            self.fields.words,
                            &format!("{scope}{w}"),
                        )),
                        d => Box::new(ScopedFuzzyQuery::new(self.fields.words, &scope, w, d)),
                    };
                    (Occur::Should, q)
                })
                .collect();
        (!clauses.is_empty()).then(|| super::ranking::combined(clauses))
    }

    /// `q` restricted by the filters, and by tenant and vertical when `q` is not scoped itself.
    pub(super) fn restrict(
        &self,
        q: Box<dyn Query>,
        p: &SearchParams,
        filters: &[Filter],
        scoped: bool,
    ) -> Box<dyn Query> {
        if filters.is_empty() && scoped && !p.public_only {
            return q;
        }
        let mut clauses = vec![(Occur::Must, q)];
        clauses.extend(self.confinement(p, filters, !scoped).map(filter_clause));
        Box::new(BooleanQuery::new(clauses))
    }

    /// What a search may return, whatever its words: the tenant and vertical (with `scope`; a
    /// query of scoped terms is confined by them already), public records for Open, and the
    /// filters. One set per segment, each part's matches cached (see [`super::filter_cache`]):
    /// a part's description fully determines what it matches, so it is the part's key.
    pub(super) fn confinement(
        &self,
        p: &SearchParams,
        filters: &[Filter],
        scope: bool,
    ) -> Option<Box<dyn Query>> {
        let mut parts: Vec<(String, Box<dyn Query>)> = Vec::new();
        if scope {
            parts.push((
                format!("tenant {:?}", p.tenant),
                term_query(Term::from_field_text(self.fields.tenant, &p.tenant)),
            ));
            parts.push((
                format!("vertical {:?}", p.vertical),
                term_query(Term::from_field_text(self.fields.vertical, &p.vertical)),
            ));
        }
        parts.extend(
            self.public_term(p)
                .map(|t| ("public".to_owned(), term_query(t))),
        );
        parts.extend(
            filters
                .iter()
                .map(|f| (format!("{f:?}"), self.filter_query(f))),
        );
        self.filters.all_of(parts)
    }

    /// Tenant and vertical (and public visibility, for Open) as term clauses: for a walk that
    /// stops at the first match, where building a segment's whole set would cost more than it
    /// saves.
    fn scope_clauses(&self, p: &SearchParams) -> Vec<(Occur, Box<dyn Query>)> {
        let mut terms = vec![
            Term::from_field_text(self.fields.tenant, &p.tenant),
            Term::from_field_text(self.fields.vertical, &p.vertical),
        ];
        terms.extend(self.public_term(p));
        terms
            .into_iter()
            .map(|t| filter_clause(term_query(t)))
            .collect()
    }

    /// The term of public records, when the search is Open's.
    fn public_term(&self, p: &SearchParams) -> Option<Term> {
        p.public_only
            .then(|| Term::from_field_text(self.fields.visibility, Visibility::Public.as_str()))
    }

    /// What a page ordered by a field selects: `matcher` (if any) within the scope and filters.
    fn sorted_query(
        &self,
        p: &SearchParams,
        matcher: Option<Box<dyn Query>>,
        filters: &[Filter],
    ) -> BooleanQuery {
        let set = self.confinement(p, filters, true);
        match matcher {
            // Each alternative of the matcher meets the set on its own: a term is then seeked
            // only to the set's documents, where a union seeked by the set reads every posting
            // of every term (at a million entities, 4 of 5 ms of a sorted two-word search).
            // Scores are the same: the set scores nothing and the alternatives still add up.
            Some(m) => {
                let alternatives = alternatives(m.as_ref());
                match set {
                    Some(set) if alternatives.len() > 1 => BooleanQuery::new(
                        alternatives
                            .into_iter()
                            .map(|a| {
                                let met = BooleanQuery::new(vec![
                                    (Occur::Must, a),
                                    filter_clause(set.box_clone()),
                                ]);
                                (Occur::Should, Box::new(met) as Box<dyn Query>)
                            })
                            .collect(),
                    ),
                    set => {
                        let mut clauses = vec![(Occur::Must, m)];
                        clauses.extend(set.map(filter_clause));
                        BooleanQuery::new(clauses)
                    }
                }
            }
            // Nothing is scored: the set alone selects the documents.
            None => BooleanQuery::new(set.map(|s| (Occur::Must, s)).into_iter().collect()),
        }
    }

    /// A page ordered by a field (or newest first for filter-only queries): exhaustive, so the
    /// count is exact. Relevance scores are computed for the page when there is a text query.
    fn run_sorted(
        &self,
        searcher: &Searcher,
        p: &SearchParams,
        matcher: Option<Box<dyn Query>>,
        filters: &[Filter],
        sort: &Sort,
    ) -> Result<(Ranked, usize), SearchError> {
        let scored = matcher.is_some();
        let query = self.sorted_query(p, matcher, filters);
        let top = TopDocs::with_limit(p.limit).and_offset(p.offset);
        let order = if sort.descending {
            Order::Desc
        } else {
            Order::Asc
        };
        let (addresses, total) = match &sort.field {
            SortField::CreatedAt | SortField::UpdatedAt => {
                let (column, field) = if sort.field == SortField::CreatedAt {
                    ("created_at", self.fields.created_at)
                } else {
                    ("updated_at", self.fields.updated_at)
                };
                let key = SortByStaticFastValue::<i64>::for_field(column);
                let bound = match sort.descending {
                    true => newest::lower_bound(searcher, &query, column, p.offset + p.limit)?,
                    false => None,
                };
                match bound {
                    // Collected from the documents at or above the bound (see `newest`).
                    Some(bound) => {
                        let recent = BooleanQuery::new(vec![
                            (Occur::Must, query.box_clone()),
                            (
                                Occur::Must,
                                Box::new(InvertedIndexRangeQuery::new(
                                    Bound::Included(Term::from_field_i64(field, bound)),
                                    Bound::Included(Term::from_field_i64(field, i64::MAX)),
                                )),
                            ),
                        ]);
                        let (addresses, _) = top_by(searcher, &recent, top, order, key)?;
                        (addresses, searcher.search(&query, &Count)?)
                    }
                    None => top_by(searcher, &query, top, order, key)?,
                }
            }
            SortField::Name => top_by(
                searcher,
                &query,
                top,
                order,
                SortByString::for_field("name_sort"),
            )?,
            SortField::Data(key) => {
                let column = format!("data.{}", json_key(key));
                if self.is_numeric_column(searcher, &column) {
                    let page = (p.offset, p.limit);
                    self.top_by_number(searcher, &query, page, sort.descending, key, column)?
                } else {
                    top_by(
                        searcher,
                        &query,
                        top,
                        order,
                        SortByString::for_field(column),
                    )?
                }
            }
        };
        let scores = if scored {
            score_docs(searcher, &query, &addresses)?
        } else {
            vec![(1.0, false); addresses.len()]
        };
        Ok((
            scores
                .into_iter()
                .zip(addresses)
                .map(|((s, i), a)| (s, i, a))
                .collect(),
            total,
        ))
    }

    /// A page of `query` ordered by the numbers under `key` (its fast-field `column`), and the
    /// number of matches: collected beyond a sampled bound where enough matches lie there (see
    /// [`by_value`]).
    fn top_by_number(
        &self,
        searcher: &Searcher,
        query: &BooleanQuery,
        (offset, limit): (usize, usize),
        descending: bool,
        key: &str,
        column: String,
    ) -> Result<(Vec<DocAddress>, usize), SearchError> {
        let order = if descending { Order::Desc } else { Order::Asc };
        let top = || TopDocs::with_limit(limit).and_offset(offset);
        let k = offset + limit;
        // The sample tells whether a range can pay (it estimates the matches too); only then
        // are the matches counted on their own, else one pass collects and counts them.
        let mut sample = by_value::Sample::of(searcher, &column)?;
        sample.test(searcher, query)?;
        let estimate = sample.matches() as usize;
        let promising = sample
            .bound(2.0 * k as f64, descending)
            .is_some_and(|b| b.worth_reading(estimate));
        if promising {
            let total = searcher.search(query, &Count)?;
            let beyond = |bound: f64| {
                let (lo, hi) = match descending {
                    true => (Bound::Included(bound), Bound::Unbounded),
                    false => (Bound::Unbounded, Bound::Included(bound)),
                };
                let within = BooleanQuery::new(vec![
                    (Occur::Must, query.box_clone()),
                    (Occur::Must, self.data_range(self.range_bounds(key, lo, hi))),
                ]);
                top_by(searcher, &within, top(), order, NumericPath(column.clone()))
            };
            if let Some(docs) = by_value::page_beyond(&sample, (k, total), descending, beyond)? {
                return Ok((docs, total));
            }
        }
        top_by(searcher, query, top(), order, NumericPath(column))
    }

    /// Whether any segment stores numbers under this column.
    fn is_numeric_column(&self, searcher: &Searcher, column: &str) -> bool {
        searcher.segment_readers().iter().any(|r| {
            r.fast_fields()
                .dynamic_column_handles(column)
                .map(|hs| {
                    hs.iter()
                        .any(|h| h.column_type().numerical_type().is_some())
                })
                .unwrap_or(false)
        })
    }

    /// Whether the tenant's vertical holds a live document matching `extra` (any document
    /// without it). Stops at the first one: cheap when the answer is yes.
    fn scope_has(
        &self,
        searcher: &Searcher,
        p: &SearchParams,
        extra: Option<Box<dyn Query>>,
    ) -> Result<bool, SearchError> {
        let mut clauses = self.scope_clauses(p);
        if let Some(q) = extra {
            clauses.push((Occur::Must, q));
        }
        let weight =
            BooleanQuery::new(clauses).weight(EnableScoring::disabled_from_searcher(searcher))?;
        for reader in searcher.segment_readers() {
            let mut scorer = weight.scorer(reader, 1.0)?;
            let alive = reader.alive_bitset();
            let mut doc = scorer.doc();
            while doc != TERMINATED {
                if alive.is_none_or(|a| a.is_alive(doc)) {
                    return Ok(true);
                }
                doc = scorer.advance();
            }
        }
        Ok(false)
    }

    /// Checks that a `vertical_data` sort key exists in the tenant's vertical: sorting by a
    /// misspelt key would otherwise order nothing, silently.
    fn check_sort(&self, searcher: &Searcher, p: &SearchParams) -> Result<(), SearchError> {
        let Some(Sort {
            field: SortField::Data(key),
            ..
        }) = &p.sort
        else {
            return Ok(());
        };
        let column = format!("data.{}", json_key(key));
        if !self.has_data_column(searcher, key)
            || !self.scope_has(searcher, p, Some(Box::new(ExistsQuery::new(column, false))))?
        {
            return Err(SearchError::UnknownSort(key.clone()));
        }
        Ok(())
    }

    /// Ids of up to `n` of the tenant's most recently updated entities in the vertical (its
    /// public ones only, with `public_only`).
    pub fn recent_ids(
        &self,
        tenant: &str,
        vertical: &str,
        public_only: bool,
        n: usize,
    ) -> Result<Vec<Uuid>, SearchError> {
        let searcher = self.reader.searcher();
        let p = SearchParams {
            tenant: tenant.to_owned(),
            vertical: vertical.to_owned(),
            query: None,
            filters: Vec::new(),
            sort: None,
            limit: n,
            offset: 0,
            public_only,
            facets: Vec::new(),
            mode: Mode::Auto,
        };
        let sort = Sort {
            field: SortField::UpdatedAt,
            descending: true,
        };
        let (hits, _) = self.run_sorted(&searcher, &p, None, &[], &sort)?;
        entity_ids(&searcher, hits.iter().map(|h| h.2))
    }

    /// Runs a search: identifiers and words first, then the fallbacks of API.md §6. A vertical
    /// in which the tenant has no entity answers no results, flagged `unknown_vertical`.
    pub fn search(&self, p: &SearchParams) -> Result<Outcome, SearchError> {
        let searcher = self.reader.searcher();
        if matches!(
            &p.sort,
            Some(Sort {
                field: SortField::Data(_),
                ..
            })
        ) {
            if !self.scope_has(&searcher, p, None)? {
                return Ok(Outcome::no_vertical(p));
            }
            self.check_sort(&searcher, p)?;
        }
        let mut out = self.search_in(&searcher, p)?;
        if out.total == 0 && !self.scope_has(&searcher, p, None)? {
            out.unknown_vertical = true;
        }
        Ok(out)
    }

    fn search_in(&self, searcher: &Searcher, p: &SearchParams) -> Result<Outcome, SearchError> {
        let searcher = searcher.clone();
        let resolved;
        let p = if p.filters.iter().any(|f| range_of(&f.op).is_some()) {
            resolved = SearchParams {
                filters: self.resolve_ranges(&searcher, &p.filters),
                ..p.clone()
            };
            &resolved
        } else {
            p
        };
        let query_text = p.query.as_deref().map(str::trim).filter(|q| !q.is_empty());
        let Some(q) = query_text else {
            let sort = p.sort.clone().unwrap_or(Sort {
                field: SortField::UpdatedAt,
                descending: true,
            });
            let (hits, total) = self.run_sorted(&searcher, p, None, &p.filters, &sort)?;
            let query_type = QueryType::without_query(p);
            let set = || Some(Box::new(self.sorted_query(p, None, &p.filters)) as Box<dyn Query>);
            let facets = self.facets(&searcher, p, total, set)?;
            let out = self.outcome(&searcher, hits, total, query_type, "filter", None)?;
            return Ok(Outcome { facets, ..out });
        };

        let mut plan = self.plan(&searcher, p, q);
        let word_count = q.split_whitespace().count();
        let word_type = if word_count >= 4 {
            QueryType::NaturalLanguage
        } else {
            QueryType::Keyword
        };
        let mode = self.resolve_mode(p, &plan);
        if mode == Mode::Identifier {
            plan = plan.identifiers_only();
        }
        let (vector, embed_ms) = match mode {
            Mode::Hybrid | Mode::Semantic => self.query_vector(q),
            _ => (None, None),
        };
        if mode == Mode::Semantic {
            return self.semantic_search(&searcher, p, vector, word_type, embed_ms);
        }

        // What a page ordered by a field matches: any identifier or any word.
        let sort_matcher = || -> Option<Box<dyn Query>> {
            let mut any = self.ident_matcher(&plan);
            if !plan.words.is_empty() {
                any.push((Occur::Should, self.words_query(&plan.words, false)));
            }
            (!any.is_empty()).then(|| Box::new(BooleanQuery::new(any)) as Box<dyn Query>)
        };
        let primary =
            |kp: &SearchParams, filters: &[Filter]| -> Result<(Ranked, usize), SearchError> {
                match &p.sort {
                    None => self.run_ranked(&searcher, kp, &plan, filters),
                    Some(sort) => match sort_matcher() {
                        Some(m) => self.run_sorted(&searcher, kp, Some(m), filters, sort),
                        None => Ok((Vec::new(), 0)),
                    },
                }
            };
        // Every document the primary search can page through (see [`Self::ranked_set`]).
        let primary_set = |filters: &[Filter]| -> Option<Box<dyn Query>> {
            match &p.sort {
                None => Some(self.restrict(self.ranked_set(&plan)?, p, filters, true)),
                Some(_) => Some(Box::new(self.sorted_query(
                    p,
                    Some(sort_matcher()?),
                    filters,
                ))),
            }
        };
        // With a query vector and no entity holding every word, the hits with some words (over
        // a window wider than the page) are fused with vector candidates (see [`hybrid`]).
        let hybrid_page = |hits: Ranked,
                           total: usize,
                           filters: &[Filter]|
         -> Result<(Ranked, usize, bool), SearchError> {
            let Some(v) = vector.as_deref() else {
                return Ok((hits, total, false));
            };
            // Hits holding every word rank first: the search's first hit tells.
            let complete = |h: &Ranked| h.first().is_some_and(|h| h.0 >= plan.fusion_ceiling());
            if p.offset == 0 && complete(&hits) {
                return Ok((hits, total, false));
            }
            let (window, window_total) = match total {
                0 => (Vec::new(), 0),
                _ => primary(&hybrid::window(p), filters)?,
            };
            // `fuse` cuts the page from the window itself when the words suffice.
            let f = self.fuse(&searcher, p, &plan, filters, window, window_total, v)?;
            Ok((f.hits, f.total, f.consulted))
        };

        // When no word matches: a keyword query (1–3 words) is read as misspelled first (the
        // typo-tolerant fallback), a natural-language one (4+ words) for its meaning.
        let natural = match vector.as_deref() {
            Some(v) if word_type == QueryType::NaturalLanguage => Some(v),
            _ => None,
        };
        let (mut hits, mut total, mut fused) = match natural {
            // A natural-language query seldom has an entity holding every word: its keyword
            // pass ranks the fusion window at once, and the page is cut from that window when
            // the words do suffice.
            Some(v) => {
                let (window, window_total) = primary(&hybrid::window(p), &p.filters)?;
                if window_total == 0 {
                    (window, 0, false)
                } else {
                    let f = self.fuse(&searcher, p, &plan, &p.filters, window, window_total, v)?;
                    (f.hits, f.total, f.consulted)
                }
            }
            None => {
                let (hits, total) = primary(p, &p.filters)?;
                match total {
                    0 => (hits, total, false),
                    _ => hybrid_page(hits, total, &p.filters)?,
                }
            }
        };
        // Corrected words found it: the query as typed matches nothing.
        let mut fallback = (total > 0 && plan.typo_only).then_some("fuzzy");
        let mut filters: &[Filter] = &p.filters;
        let described = vector.is_some() && word_type == QueryType::NaturalLanguage;
        if total == 0 && mode != Mode::Identifier && !described {
            if let Some(fq) = self.fuzzy_query(p, q) {
                (hits, total) = match &p.sort {
                    Some(sort) => {
                        self.run_sorted(&searcher, p, Some(fq.box_clone()), &p.filters, sort)?
                    }
                    None => {
                        let fq = self.restrict(fq.box_clone(), p, &p.filters, true);
                        let (docs, n) = searcher.search(
                            &fq,
                            &(
                                TopDocs::with_limit(p.limit)
                                    .and_offset(p.offset)
                                    .order_by_score(),
                                Count,
                            ),
                        )?;
                        (
                            docs.into_iter()
                                .map(|(s, d)| (fuzzy_score(s), false, d))
                                .collect(),
                            n,
                        )
                    }
                };
                if total > 0 {
                    fallback = Some("fuzzy");
                    // Counted over the typo-tolerant matches, as the page and total are.
                    let set = || {
                        Some(match &p.sort {
                            Some(_) => Box::new(self.sorted_query(p, Some(fq), &p.filters))
                                as Box<dyn Query>,
                            None => self.restrict(fq, p, &p.filters, true),
                        })
                    };
                    let facets = self.facets(&searcher, p, total, set)?;
                    let out = self.finish(&searcher, &plan, word_type, hits, total, fallback)?;
                    return Ok(Outcome {
                        facets,
                        embed_ms,
                        ..out
                    });
                }
            }
        }
        if total == 0 {
            (hits, total, fused) = hybrid_page(hits, total, &p.filters)?;
        }
        if total == 0 && !p.filters.is_empty() {
            filters = &[];
            let (h, t) = primary(p, filters)?;
            (hits, total, fused) = hybrid_page(h, t, filters)?;
            fallback = (total > 0).then_some("relaxed_filters");
        }
        let facets = self.facets(&searcher, p, total, || primary_set(filters))?;
        let mut out = self.finish(&searcher, &plan, word_type, hits, total, fallback)?;
        if fused {
            out.search_mode = "hybrid";
        }
        Ok(Outcome {
            facets,
            embed_ms,
            ..out
        })
    }

    /// The outcome of a text search.
    pub(super) fn finish(
        &self,
        searcher: &Searcher,
        plan: &super::ranking::Plan,
        word_type: QueryType,
        hits: Ranked,
        total: usize,
        fallback: Option<&'static str>,
    ) -> Result<Outcome, SearchError> {
        let identified = plan.detected || hits.iter().any(|h| h.1);
        let query_type = if identified {
            QueryType::Identifier
        } else {
            word_type
        };
        let mode = if identified { "identifier" } else { "fulltext" };
        self.outcome(searcher, hits, total, Some(query_type), mode, fallback)
    }

    /// Facet counts over the documents `set` selects, when the search asks for any: every
    /// field empty when nothing matched (`set` is not even built then).
    pub(super) fn facets(
        &self,
        searcher: &Searcher,
        p: &SearchParams,
        total: usize,
        set: impl FnOnce() -> Option<Box<dyn Query>>,
    ) -> Result<Option<Facets>, SearchError> {
        if p.facets.is_empty() {
            return Ok(None);
        }
        let query = match total {
            0 => None,
            _ => set(),
        };
        let Some(query) = query else {
            return Ok(Some(Facets::empty(&p.facets)));
        };
        let collector = FacetCollector::new(&p.facets).with_value_sets(Arc::clone(&self.filters));
        let counts = searcher.search(&query, &collector)?;
        Ok(Some(FacetCollector::top(&p.facets, counts)))
    }

    pub(super) fn outcome(
        &self,
        searcher: &Searcher,
        hits: Ranked,
        total: usize,
        query_type: Option<QueryType>,
        search_mode: &'static str,
        fallback: Option<&'static str>,
    ) -> Result<Outcome, SearchError> {
        let ids = entity_ids(searcher, hits.iter().map(|h| h.2))?;
        Ok(Outcome {
            hits: hits
                .into_iter()
                .zip(ids)
                .map(|((score, identifier, _), id)| Hit {
                    id,
                    score,
                    identifier,
                })
                .collect(),
            total,
            query_type,
            search_mode,
            fallback,
            unknown_vertical: false,
            facets: None,
            embed_ms: None,
        })
    }
}

/// A page ordered by `key`, ties broken by entity id in the same direction, and the count of
/// all matches. Ids are time-ordered (UUIDv7), so records written together (one batch shares
/// its `updated_at`) still list newest first; and the order no longer depends on segment
/// layout, which commits and merges change between two page requests (with the document
/// address as tie-break, paging through a batch could skip or repeat records).
fn top_by<K>(
    searcher: &Searcher,
    query: &dyn Query,
    top: TopDocs,
    order: Order,
    key: K,
) -> Result<(Vec<DocAddress>, usize), SearchError>
where
    K: SortKeyComputer + Send + Sync + 'static,
    K::SortKey: Clone + Send + Sync + std::fmt::Debug + 'static,
    (K, Order): SortKeyComputer<SortKey = K::SortKey>,
{
    let id_part = |half: &str| (SortByStaticFastValue::<u64>::for_field(half), order);
    let (docs, total) = searcher.search(
        query,
        &(
            top.order_by(((key, order), id_part("id_hi"), id_part("id_lo"))),
            Count,
        ),
    )?;
    Ok((docs.into_iter().map(|(_, a)| a).collect(), total))
}

/// Sort key of a numeric vertical_data key. tantivy's own fast-value sorter wants a schema
/// field; a JSON path is only a column, and segments without it simply have no value.
struct NumericPath(String);

struct NumericPathSegment(Option<tantivy::columnar::Column<u64>>);

impl SortKeyComputer for NumericPath {
    type SortKey = Option<u64>;
    type Child = NumericPathSegment;
    type Comparator = NaturalComparator;

    fn segment_sort_key_computer(
        &self,
        reader: &SegmentReader,
    ) -> tantivy::Result<NumericPathSegment> {
        // Numbers are indexed as f64 (see `document`), whose u64 mapping keeps their order.
        let column = reader
            .fast_fields()
            .u64_lenient_for_type(Some(&[ColumnType::F64]), &self.0)?
            .map(|(c, _)| c);
        Ok(NumericPathSegment(column))
    }
}

impl SegmentSortKeyComputer for NumericPathSegment {
    type SortKey = Option<u64>;
    type SegmentSortKey = Option<u64>;
    type SegmentComparator = NaturalComparator;

    fn segment_sort_key(&mut self, doc: DocId, _score: Score) -> Option<u64> {
        self.0.as_ref()?.first(doc)
    }

    fn convert_segment_sort_key(&self, key: Option<u64>) -> Option<u64> {
        key
    }
}

/// Entity ids of hits, read from the `id_hi`/`id_lo` fast fields.
pub(super) fn entity_ids(
    searcher: &Searcher,
    docs: impl Iterator<Item = DocAddress>,
) -> Result<Vec<Uuid>, SearchError> {
    let mut columns: Vec<
        Option<(
            tantivy::columnar::Column<u64>,
            tantivy::columnar::Column<u64>,
        )>,
    > = vec![None; searcher.segment_readers().len()];
    let mut out = Vec::new();
    for d in docs {
        let slot = &mut columns[d.segment_ord as usize];
        if slot.is_none() {
            let ff = searcher.segment_reader(d.segment_ord).fast_fields();
            *slot = Some((ff.u64("id_hi")?, ff.u64("id_lo")?));
        }
        let (hi, lo) = slot.as_ref().expect("just filled");
        let id = Uuid::from_u64_pair(
            hi.first(d.doc_id).unwrap_or_default(),
            lo.first(d.doc_id).unwrap_or_default(),
        );
        out.push(id);
    }
    Ok(out)
}

/// Relevance scores of given documents (for pages ordered by a field).
fn score_docs(
    searcher: &Searcher,
    query: &dyn Query,
    docs: &[DocAddress],
) -> Result<Vec<(f32, bool)>, SearchError> {
    let weight = query.weight(EnableScoring::enabled_from_searcher(searcher))?;
    let mut out = vec![(0.0, false); docs.len()];
    on_matching(searcher, weight.as_ref(), docs, |i, scorer| {
        out[i] = normalized_score(scorer.score());
    })?;
    Ok(out)
}

/// Calls `on(i, scorer)` for each of `docs` that `weight` matches, with the scorer on it. The
/// documents are visited in index order, with one scorer per segment that only moves forward.
pub(super) fn on_matching(
    searcher: &Searcher,
    weight: &dyn tantivy::query::Weight,
    docs: &[DocAddress],
    mut on: impl FnMut(usize, &mut dyn tantivy::query::Scorer),
) -> tantivy::Result<()> {
    let mut order: Vec<usize> = (0..docs.len()).collect();
    order.sort_by_key(|&i| docs[i]);
    let mut current: Option<(SegmentOrdinal, Box<dyn tantivy::query::Scorer>)> = None;
    for i in order {
        let DocAddress {
            segment_ord,
            doc_id,
        } = docs[i];
        if current.as_ref().is_none_or(|(s, _)| *s != segment_ord) {
            let reader = searcher.segment_reader(segment_ord);
            current = Some((segment_ord, weight.scorer(reader, 1.0)?));
        }
        if let Some((_, scorer)) = current.as_mut() {
            let at: DocId = if scorer.doc() < doc_id {
                scorer.seek(doc_id)
            } else {
                scorer.doc()
            };
            if at == doc_id {
                on(i, scorer.as_mut());
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn filter_suffixes() {
        let f = parse_filters(
            json!({"brand": "SKF,ABB", "size_in": ["M8", "M10"], "price_min": 1, "price_max": "9.5", "len_gt": 2, "len_lt": 3, "ok": true})
                .as_object()
                .unwrap(),
        )
        .unwrap();
        let by = |k: &str| {
            f.iter()
                .filter(|x| x.key == k)
                .map(|x| x.op.clone())
                .collect::<Vec<_>>()
        };
        assert_eq!(
            by("brand"),
            vec![FilterOp::AnyOf(vec![
                Scalar::Str("SKF".into()),
                Scalar::Str("ABB".into())
            ])]
        );
        assert_eq!(
            by("size"),
            vec![FilterOp::AnyOf(vec![
                Scalar::Str("M8".into()),
                Scalar::Str("M10".into())
            ])]
        );
        assert_eq!(by("price"), vec![FilterOp::Max(9.5), FilterOp::Min(1.0)]);
        assert_eq!(by("len"), vec![FilterOp::Gt(2.0), FilterOp::Lt(3.0)]);
        assert_eq!(by("ok"), vec![FilterOp::AnyOf(vec![Scalar::Bool(true)])]);
    }

    #[test]
    fn bad_filters_are_errors() {
        assert!(parse_filters(json!({"price_min": "cheap"}).as_object().unwrap()).is_err());
        assert!(parse_filters(json!({"x": {"a": 1}}).as_object().unwrap()).is_err());
        assert!(parse_filters(json!({"x": ""}).as_object().unwrap()).is_err());
        let many: Map<String, Value> = (0..21).map(|i| (format!("k{i}"), json!(1))).collect();
        assert!(parse_filters(&many).is_err());
        let values = |n: usize| (0..n).map(|i| i.to_string()).collect::<Vec<_>>();
        assert!(parse_filters(json!({"x_in": values(100)}).as_object().unwrap()).is_ok());
        let err = parse_filters(json!({"x_in": values(101)}).as_object().unwrap()).unwrap_err();
        assert_eq!(err, "filter 'x_in': at most 100 values, got 101");
        let list = values(101).join(",");
        assert!(parse_filters(json!({ "x": list }).as_object().unwrap()).is_err());
        // A bare suffix is a key, not an operator.
        assert_eq!(
            parse_filters(json!({"_min": 1}).as_object().unwrap()).unwrap()[0].key,
            "_min"
        );
    }

    #[test]
    fn sort_parse() {
        assert_eq!(
            Sort::parse("-price").unwrap(),
            Sort {
                field: SortField::Data("price".into()),
                descending: true
            }
        );
        assert_eq!(Sort::parse("name").unwrap().field, SortField::Name);
        assert!(Sort::parse("-").is_err());
        let err = Sort::parse("price:desc").unwrap_err();
        assert!(err.contains("'-price'"), "{err}");
        assert!(Sort::parse("price:ASC").unwrap_err().contains("'price'"));
    }

    #[test]
    fn only_a_search_without_query_and_filters_is_a_list() {
        let mut p = SearchParams {
            tenant: "t".into(),
            vertical: "v".into(),
            query: None,
            filters: Vec::new(),
            sort: None,
            limit: 20,
            offset: 0,
            public_only: false,
            facets: Vec::new(),
            mode: Mode::Auto,
        };
        assert_eq!(QueryType::without_query(&p), Some(QueryType::List));
        assert_eq!(QueryType::List.as_str(), "list");
        p.filters = parse_filters(json!({"brand": "SKF"}).as_object().unwrap()).unwrap();
        assert_eq!(QueryType::without_query(&p), None);
        p.filters.clear();
        p.query = Some("bolt".into());
        assert_eq!(Outcome::no_vertical(&p).query_type, None);
        p.query = None;
        assert_eq!(Outcome::no_vertical(&p).query_type, Some(QueryType::List));
    }

    #[test]
    fn the_narrower_bound_holds() {
        use Bound::{Excluded, Included, Unbounded};
        let lower = |a, b| tighter(a, b, |x, y| x > y);
        let upper = |a, b| tighter(a, b, |x, y| x < y);
        assert_eq!(lower(Included(1.0), Included(2.0)), Included(2.0));
        assert_eq!(lower(Excluded(3.0), Included(2.0)), Excluded(3.0));
        assert_eq!(lower(Included(2.0), Excluded(2.0)), Excluded(2.0));
        assert_eq!(lower(Unbounded, Included(2.0)), Included(2.0));
        assert_eq!(upper(Included(1.0), Included(2.0)), Included(1.0));
        assert_eq!(upper(Included(2.0), Excluded(2.0)), Excluded(2.0));
        assert_eq!(upper(Excluded(2.0), Unbounded), Excluded(2.0));
        assert_eq!(upper(Unbounded, Unbounded), Unbounded);
    }

    #[test]
    fn fuzz_by_length() {
        assert_eq!((fuzz("m8"), fuzz("bolt"), fuzz("stainles")), (0, 1, 2));
    }
}
