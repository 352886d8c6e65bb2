//! Pages ordered by a numeric `vertical_data` key without reading every match's value.
//!
//! Collecting the top k of a search by a column reads the column for every match: 25–70 ns
//! each for an optional JSON column, so a sorted list of a million entities took 17 ms and a
//! filtered, sorted search of 40,000 matches 3 ms. The page only ever holds matches from the
//! extreme end of the value range, though. So the column is sampled (128 rows per segment,
//! each tested against the search, which also estimates the matches) to find a bound beyond
//! which about twice the page's matches should lie; the page is collected from the matches at
//! or beyond it (a range over the key's terms), and that is exact whenever at least k matches
//! lie there: every other match has a value on the other side of the bound or none (missing
//! values sort last), so it ranks below all of them. When fewer do, the bound is widened.
//! Where the range would cost more to read than every match's value (the matches sit far from
//! the end, or every row has its own value), one pass collects the page as before.

use tantivy::query::{EnableScoring, Query};
use tantivy::{DocAddress, Searcher};

use super::query::on_matching;

/// Column rows sampled per segment: each costs about 100 ns (its value and document read, its
/// document tested), so 128 keep a search of nine segments near 0.1 ms.
const SAMPLES_PER_SEGMENT: u64 = 128;

/// Rough costs on one core, in ns, for deciding whether a range is worth reading: a row of a
/// range's postings met with the matches, a term of the range (dictionary walk and postings
/// opened), and a match of a whole collection (its value read and compared).
const RANGE_ROW_NS: f64 = 25.0;
const RANGE_TERM_NS: f64 = 400.0;
const MATCH_NS: f64 = 15.0;

/// A sampled row: its value, the rows of its segment it stands for, its document, and whether
/// that matches the search.
#[derive(Clone, Copy, Debug)]
struct Sampled {
    value: f64,
    rows: f64,
    doc: DocAddress,
    matches: bool,
}

/// A sample of a numeric column's values over all segments, each row standing for its share of
/// the segment's rows.
pub struct Sample {
    /// Ascending by value.
    values: Vec<Sampled>,
}

impl Sample {
    /// Samples the f64 column `column` (a `data.<key>` path) of every segment holding it.
    pub fn of(searcher: &Searcher, column: &str) -> tantivy::Result<Sample> {
        let mut values = Vec::new();
        for (ord, reader) in searcher.segment_readers().iter().enumerate() {
            let Some((col, _)) = reader
                .fast_fields()
                .u64_lenient_for_type(Some(&[tantivy::columnar::ColumnType::F64]), column)?
            else {
                continue;
            };
            let n = col.values.num_vals();
            if n == 0 {
                continue;
            }
            let step = n.div_ceil(SAMPLES_PER_SEGMENT as u32).max(1);
            let rows: Vec<u32> = (0..n).step_by(step as usize).collect();
            let weight = f64::from(n) / rows.len() as f64;
            let mut docs = rows.clone();
            col.index.select_batch_in_place(0, &mut docs);
            for (row, doc) in rows.into_iter().zip(docs) {
                values.push(Sampled {
                    value: tantivy::u64_to_f64(col.values.get_val(row)),
                    rows: weight,
                    doc: DocAddress::new(ord as u32, doc),
                    matches: false,
                });
            }
        }
        values.sort_by(|a, b| a.value.total_cmp(&b.value));
        Ok(Sample { values })
    }

    /// Tests every sampled row's document against `query`.
    pub fn test(&mut self, searcher: &Searcher, query: &dyn Query) -> tantivy::Result<()> {
        let weight = query.weight(EnableScoring::disabled_from_searcher(searcher))?;
        let docs: Vec<DocAddress> = self.values.iter().map(|s| s.doc).collect();
        on_matching(searcher, weight.as_ref(), &docs, |i, _| {
            let DocAddress {
                segment_ord,
                doc_id,
            } = docs[i];
            let alive = searcher.segment_reader(segment_ord).alive_bitset();
            self.values[i].matches = alive.is_none_or(|a| a.is_alive(doc_id));
        })
    }

    /// The matches the tested sample stands for.
    pub fn matches(&self) -> f64 {
        self.values
            .iter()
            .filter(|s| s.matches)
            .map(|s| s.rows)
            .sum()
    }

    /// The value nearest the page's end of the range (the top descending, the bottom
    /// ascending) with about `wanted` matches at or beyond it, and what lies there, ties with
    /// it included; `None` when that is the whole range.
    pub fn bound(&self, wanted: f64, descending: bool) -> Option<Beyond> {
        let last = self.values.len().checked_sub(1)?;
        let at = |i: usize| self.values[if descending { last - i } else { i }];
        let (mut rows, mut matches, mut distinct) = (0.0, 0.0, 0usize);
        let mut i = 0;
        loop {
            let s = at(i);
            rows += s.rows;
            if s.matches {
                matches += s.rows;
            }
            if i == 0 || s.value != at(i - 1).value {
                distinct += 1;
            }
            let tied = i < last && at(i + 1).value == s.value;
            if (matches >= wanted && !tied) || i == last {
                break;
            }
            i += 1;
        }
        // Reaching the far end of the sample is the whole range.
        if i == last {
            return None;
        }
        // Where sampled values repeat, the sample has seen about all the range's values;
        // where they do not, about every row has its own.
        let terms = if 2 * distinct <= i + 1 {
            distinct as f64
        } else {
            rows
        };
        Some(Beyond {
            value: at(i).value,
            rows,
            terms,
        })
    }
}

/// The part of a column's range at or beyond a bound.
#[derive(Debug, PartialEq)]
pub struct Beyond {
    pub value: f64,
    /// Rows estimated to lie there.
    pub rows: f64,
    /// Distinct values (index terms) estimated to lie there.
    pub terms: f64,
}

impl Beyond {
    /// Whether reading the range costs less than collecting all `matches` matches.
    pub fn worth_reading(&self, matches: usize) -> bool {
        RANGE_ROW_NS * self.rows + RANGE_TERM_NS * self.terms <= MATCH_NS * matches as f64
    }
}

/// How many more matches each retry asks the range for.
const WIDEN: f64 = 4.0;

/// The page collected from the matches beyond a bound, by `collect` (which returns it and how
/// many matches lay beyond the bound), for the first bound beyond which at least `k` of the
/// `total` matches lie; `None` when no range worth reading holds them (collect them all).
pub fn page_beyond<T, E>(
    sample: &Sample,
    (k, total): (usize, usize),
    descending: bool,
    mut collect: impl FnMut(f64) -> Result<(T, usize), E>,
) -> Result<Option<T>, E> {
    if k == 0 || total <= k {
        return Ok(None);
    }
    // Twice the page's matches, as the sample estimates them coarsely.
    let mut wanted = 2.0 * k as f64;
    while let Some(beyond) = sample.bound(wanted, descending) {
        if !beyond.worth_reading(total) {
            break;
        }
        let (page, n) = collect(beyond.value)?;
        if n >= k {
            return Ok(Some(page));
        }
        wanted *= WIDEN;
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A sample of one row per value; `matching` says which rows match.
    fn sample(values: &[f64], matching: impl Fn(usize) -> bool) -> Sample {
        Sample {
            values: values
                .iter()
                .enumerate()
                .map(|(i, v)| Sampled {
                    value: *v,
                    rows: 1.0,
                    doc: DocAddress::new(0, i as u32),
                    matches: matching(i),
                })
                .collect(),
        }
    }

    fn at(b: Option<Beyond>) -> Option<(f64, f64)> {
        b.map(|b| (b.value, b.rows))
    }

    #[test]
    fn a_bound_leaves_the_wanted_matches_beyond_it() {
        let s = sample(&(0..100).map(f64::from).collect::<Vec<_>>(), |_| true);
        assert_eq!(at(s.bound(10.0, true)), Some((90.0, 10.0)));
        assert_eq!(at(s.bound(10.0, false)), Some((9.0, 10.0)));
        assert_eq!(at(s.bound(0.5, true)), Some((99.0, 1.0)));
        // Every sampled value differs: about a term per row.
        assert_eq!(s.bound(10.0, true).map(|b| b.terms), Some(10.0));
    }

    #[test]
    fn rows_that_do_not_match_lie_beyond_the_bound_too() {
        // Only every fourth row matches: ten matches lie beyond the fortieth row from the top.
        let s = sample(&(0..100).map(f64::from).collect::<Vec<_>>(), |i| i % 4 == 0);
        assert_eq!(at(s.bound(10.0, true)), Some((60.0, 40.0)));
        // Matches only at the bottom: ascending finds them at once, descending nearly never.
        let s = sample(&(0..100).map(f64::from).collect::<Vec<_>>(), |i| i < 5);
        assert_eq!(at(s.bound(5.0, false)), Some((4.0, 5.0)));
        assert_eq!(s.bound(5.0, true), None);
    }

    #[test]
    fn ties_with_the_bound_count_as_beyond_it() {
        // Nine rows of 0, then 1..=10.
        let mut values = vec![0.0; 9];
        values.extend((1..=10).map(f64::from));
        let s = sample(&values, |_| true);
        let zeros = s.bound(1.0, false);
        assert_eq!(
            zeros,
            Some(Beyond {
                value: 0.0,
                rows: 9.0,
                terms: 1.0
            })
        );
        assert_eq!(at(s.bound(10.0, false)), Some((1.0, 10.0)));
        assert_eq!(sample(&[5.0; 4], |_| true).bound(1.0, true), None);
        assert_eq!(sample(&[], |_| true).bound(1.0, true), None);
    }

    #[test]
    fn a_page_comes_from_the_first_bound_with_enough_matches_beyond_it() {
        let s = sample(&(0..1_000).map(f64::from).collect::<Vec<_>>(), |_| true);
        // Fewer than k beyond the first bound: it looks further, never returning a short page.
        let mut bounds = Vec::new();
        let page = page_beyond(&s, (10, 1_000_000), true, |bound| {
            bounds.push(bound);
            Ok::<_, ()>((bound, if bounds.len() < 3 { 9 } else { 10 }))
        });
        assert_eq!(bounds, [980.0, 920.0, 680.0]);
        assert_eq!(page, Ok(Some(680.0)));
        // Never enough: the caller collects every match.
        let page = page_beyond(&s, (10, 1_000_000), false, |b| Ok::<_, ()>((b, 0)));
        assert_eq!(page, Ok(None));
        // A page holding every match needs no bound.
        let page = page_beyond(&s, (10, 10), true, |b| Ok::<_, ()>((b, 10)));
        assert_eq!(page, Ok(None));
    }

    #[test]
    fn a_range_is_read_when_cheaper_than_every_match() {
        let b = |rows, terms| Beyond {
            value: 0.0,
            rows,
            terms,
        };
        // A thousand rows of three values against 40,000 matches.
        assert!(b(1_000.0, 3.0).worth_reading(40_000));
        // 130,000 rows of two values against 880,000 matches.
        assert!(b(130_000.0, 2.0).worth_reading(880_000));
        // 20,000 rows of as many prices against 120,000 matches.
        assert!(!b(20_000.0, 20_000.0).worth_reading(120_000));
    }
}
