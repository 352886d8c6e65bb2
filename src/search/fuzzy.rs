//! Typo-tolerant matching of one word within a scope.
//!
//! Words are indexed as `tenant:vertical:word` (see [`super::schema`]). tantivy's
//! `FuzzyTermQuery` builds its Levenshtein automaton over the whole term, so its cost grew with
//! the length of the tenant and vertical names (seconds of CPU for a long vertical), and its
//! edits could fall in the scope and reach another vertical's or tenant's words. Here the scope
//! must match byte for byte and only the word, at most 40 bytes as indexed, is fuzzy: the cost
//! depends on the word alone.

use tantivy::query::{AutomatonWeight, DfaWrapper, EnableScoring, FuzzyTermQuery, Query, Weight};
use tantivy::schema::{Field, Term};
use tantivy_fst::Automaton;

/// Terms of `field` that are `scope` followed by a word within `distance` edits of `word`
/// (a transposition counts as one edit). Matches score a constant, like `FuzzyTermQuery`.
#[derive(Clone, Debug)]
pub struct ScopedFuzzyQuery {
    field: Field,
    scope: String,
    word: String,
    distance: u8,
}

impl ScopedFuzzyQuery {
    pub fn new(field: Field, scope: &str, word: &str, distance: u8) -> Self {
        ScopedFuzzyQuery {
            field,
            scope: scope.to_owned(),
            word: word.to_owned(),
            distance,
        }
    }
}

impl Query for ScopedFuzzyQuery {
    fn weight(&self, _scoring: EnableScoring<'_>) -> tantivy::Result<Box<dyn Weight>> {
        // tantivy's own automaton (and its cached builders), over the word only.
        let word = FuzzyTermQuery::new(
            Term::from_field_text(self.field, &self.word),
            self.distance,
            true,
        )
        .automaton()?;
        Ok(Box::new(AutomatonWeight::new(
            self.field,
            ScopedAutomaton {
                scope: self.scope.as_bytes().into(),
                word,
            },
        )))
    }
}

/// The words `field` holds within `scope` that are within `distance` edits of `word`, the
/// ones most documents carry first (ties to the smaller term, so the order does not depend on
/// segment layout), as whole terms (scope included). Walks each segment's term dictionary with
/// the scoped automaton: the cost depends on the word, not on the scope or the number of
/// documents.
pub fn close_words(
    searcher: &tantivy::Searcher,
    field: Field,
    scope: &str,
    word: &str,
    distance: u8,
) -> tantivy::Result<Vec<(String, u64)>> {
    let dfa =
        FuzzyTermQuery::new(Term::from_field_text(field, word), distance, true).automaton()?;
    let automaton = ScopedAutomaton {
        scope: scope.as_bytes().into(),
        word: dfa,
    };
    let mut counts: std::collections::HashMap<Vec<u8>, u64> = std::collections::HashMap::new();
    for segment in searcher.segment_readers() {
        let index = segment.inverted_index(field)?;
        let mut terms = index.terms().search(&automaton).into_stream()?;
        while terms.advance() {
            *counts.entry(terms.key().to_vec()).or_default() += u64::from(terms.value().doc_freq);
        }
    }
    let mut found: Vec<(String, u64)> = counts
        .into_iter()
        .filter_map(|(term, n)| String::from_utf8(term).ok().map(|t| (t, n)))
        .collect();
    found.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    Ok(found)
}

/// The scope's bytes exactly, then the word automaton.
struct ScopedAutomaton {
    scope: Box<[u8]>,
    word: DfaWrapper,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// This many bytes of the scope matched so far.
    Scope(usize),
    Word(u32),
    Dead,
}

impl ScopedAutomaton {
    fn after_scope(&self, matched: usize) -> State {
        if matched == self.scope.len() {
            State::Word(self.word.start())
        } else {
            State::Scope(matched)
        }
    }
}

impl Automaton for ScopedAutomaton {
    type State = State;

    fn start(&self) -> State {
        self.after_scope(0)
    }

    fn is_match(&self, state: &State) -> bool {
        match state {
            State::Word(s) => self.word.is_match(s),
            _ => false,
        }
    }

    fn can_match(&self, state: &State) -> bool {
        match state {
            State::Scope(_) => true,
            State::Word(s) => self.word.can_match(s),
            State::Dead => false,
        }
    }

    fn accept(&self, state: &State, byte: u8) -> State {
        match *state {
            State::Scope(i) if self.scope[i] == byte => self.after_scope(i + 1),
            State::Word(s) => State::Word(self.word.accept(&s, byte)),
            _ => State::Dead,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tantivy::schema::Schema;

    fn automaton(scope: &str, word: &str, distance: u8) -> ScopedAutomaton {
        let mut b = Schema::builder();
        let f = b.add_text_field("w", tantivy::schema::STRING);
        ScopedAutomaton {
            scope: scope.as_bytes().into(),
            word: FuzzyTermQuery::new(Term::from_field_text(f, word), distance, true)
                .automaton()
                .unwrap(),
        }
    }

    fn matches(a: &ScopedAutomaton, term: &str) -> bool {
        let mut s = a.start();
        for &b in term.as_bytes() {
            if !a.can_match(&s) {
                return false;
            }
            s = a.accept(&s, b);
        }
        a.is_match(&s)
    }

    #[test]
    fn edits_apply_to_the_word_only() {
        let a = automaton("acme:parts:", "flange", 1);
        assert!(matches(&a, "acme:parts:flange"));
        assert!(matches(&a, "acme:parts:flang"));
        assert!(matches(&a, "acme:parts:falnge"));
        assert!(!matches(&a, "acme:parts:flan"));
        // One edit in the scope is another tenant or vertical: never a match.
        assert!(!matches(&a, "acme:part:flange"));
        assert!(!matches(&a, "acmf:parts:flange"));
        assert!(!matches(&a, "acme:parts"));
    }

    /// The automaton is built over the word alone, so a long scope costs nothing extra.
    #[test]
    fn cost_does_not_grow_with_the_scope() {
        let scope = format!("t:{}:", "v".repeat(5000));
        let started = std::time::Instant::now();
        for i in 0..50 {
            let word = format!("{:0>40}", i);
            let a = automaton(&scope, &word, 2);
            assert!(matches(&a, &format!("{scope}{word}")));
        }
        assert!(started.elapsed() < std::time::Duration::from_secs(5));
    }
}
