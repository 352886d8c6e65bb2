//! The one text analysis of the index: the same analyzer turns stored text and queries into
//! terms, so whatever form a size or code is written in, both sides meet on the same tokens.
//!
//! [`PartTokenizer`] splits text into words the way a parts catalog needs:
//! - thread designations give the size too: `M10` → `m10`, `10`;
//! - dimension forms give each number and the whole: `M10x30` → `m10`, `10`, `30`, `10x30`
//!   (`x`, `X`, `×` or `*` between digits);
//! - a number with a unit, attached or not, gives the number and a unit-qualified size:
//!   `12mm`, `12 mm`, `12 millimetres` → `12`, `12mm`; a diameter sign implies millimetres:
//!   `Ø12` → `12`, `12mm`; an inch mark is the unit `in`: `1/4"` → `1/4in`;
//! - fractions stay whole and give their parts: `1/4-20` → `1/4`, `1`, `4`, `20`;
//! - decimals stay whole: `1.5`, `1,5` → `1.5`;
//! - codes split at their separators: `6204-C3` → `6204`, `c3` (codes are also compared
//!   whole, separators ignored, through the identifier field: see [`super::identifiers`]);
//! - a bearing designation's closure suffix also gives one token per kind of closure
//!   ([`CLOSURES`]), which the words a buyer uses give too: `6204-2RSH/C3`, `608-LLU` and
//!   "sealed" → … `2rs`; `6204-2Z`, `608ZZ` and "shielded" → … `zz`.
//!
//! The filters that follow fold accents and German umlauts and ß to ASCII (`Würth` → `wurth`),
//! fold the German transliterations `ae`, `oe`, `ue` the same way (`Wuerth` → `wurth`), drop
//! English stop words and stem (`bolts` → `bolt`).
//!
//! Unit-qualified sizes and dimension forms are *qualifiers* ([`is_qualifier`]): ranking uses
//! them to boost, never to exclude, because structured data often holds a bare number
//! (`length_mm: 40`) where the query says `40 mm`.

use tantivy::tokenizer::{
    AsciiFoldingFilter, Language, RemoveLongFilter, Stemmer, StopWordFilter, TextAnalyzer, Token,
    TokenFilter, TokenStream, Tokenizer,
};

/// Longest token kept: longer ones are noise (hashes, URLs), not words.
const MAX_TOKEN_LEN: usize = 40;

/// The analyzer for ranked text: domain tokens, folded, stop words removed, stemmed.
pub fn text_analyzer() -> TextAnalyzer {
    let mut a = TextAnalyzer::builder(PartTokenizer)
        .filter(RemoveLongFilter::limit(MAX_TOKEN_LEN))
        .filter(AsciiFoldingFilter)
        .dynamic();
    if let Some(stop) = StopWordFilter::new(Language::English) {
        a = a.filter_dynamic(stop);
    }
    // After stop words, so a folded word ("toe" → "to") is never taken for one.
    a.filter_dynamic(GermanDigraphs)
        .filter_dynamic(Stemmer::new(Language::English))
        .build()
}

/// The same tokens unstemmed and with stop words kept: what typo-tolerant matching compares
/// against.
pub fn words_analyzer() -> TextAnalyzer {
    TextAnalyzer::builder(PartTokenizer)
        .filter(RemoveLongFilter::limit(MAX_TOKEN_LEN))
        .filter(AsciiFoldingFilter)
        .filter(GermanDigraphs)
        .build()
}

/// Whether an analyzed token is a unit-qualified size (`12mm`, `1/4in`) or a dimension form
/// (`10x30`): a qualifier that ranks but does not have to match.
pub fn is_qualifier(token: &str) -> bool {
    let Some(first) = token.chars().next() else {
        return false;
    };
    if !first.is_ascii_digit() {
        return false;
    }
    let bytes = token.as_bytes();
    let dims = (1..bytes.len().saturating_sub(1)).any(|i| {
        bytes[i] == b'x' && bytes[i - 1].is_ascii_digit() && bytes[i + 1].is_ascii_digit()
    });
    let unit_at = token.find(|c: char| c.is_ascii_alphabetic()).filter(|&i| {
        token[..i]
            .chars()
            .all(|c| c.is_ascii_digit() || c == '.' || c == '/')
    });
    dims || unit_at.is_some_and(|i| UNITS.iter().any(|(_, canon)| *canon == &token[i..]))
}

/// Unit spellings and their canonical form. `in` only counts attached to a number or as `"`:
/// written apart it is far more often the English word.
const UNITS: &[(&str, &str)] = &[
    ("mm", "mm"),
    ("millimeter", "mm"),
    ("millimeters", "mm"),
    ("millimetre", "mm"),
    ("millimetres", "mm"),
    ("cm", "cm"),
    ("m", "m"),
    ("meter", "m"),
    ("meters", "m"),
    ("metre", "m"),
    ("metres", "m"),
    ("in", "in"),
    ("inch", "in"),
    ("inches", "in"),
    ("kg", "kg"),
    ("g", "g"),
    ("kw", "kw"),
    ("w", "w"),
    ("watt", "w"),
    ("watts", "w"),
    ("v", "v"),
    ("volt", "v"),
    ("volts", "v"),
    ("nm", "nm"),
    ("bar", "bar"),
    ("l", "l"),
    ("liter", "l"),
    ("liters", "l"),
    ("litre", "l"),
    ("litres", "l"),
    ("ml", "ml"),
];

/// How a bearing is closed, as one token each: the suffix catalogs print most (`6204-2RS`,
/// `6204-ZZ`). Other makers' suffixes and the words buyers use ("sealed", "shielded") read as
/// these, on both sides of the index. A token the stemmer leaves alone: "sealed" as its own word
/// would stem to the noun "seal", and every sealed bearing would answer a search for a seal.
const SEALED: &str = "2rs";
const SHIELDED: &str = "zz";

/// Closure suffixes and what they mean. `distinct` ones mean that much anywhere (written onto
/// a number, after it, or alone: `608ZZ`, `6204-2RS`, `2RS`); the others only next to a
/// bearing number (`6204-RS`, `6301-DDU`: alone, DDU is also an Incoterm). Contact and
/// non-contact seals of the common makers (SKF `2RS1`, `2RSH`, `2RZ`; FAG `2RSR`; NTN `LLU`,
/// `LLB`; NSK `DDU`, `VV`) and metal shields (`ZZ`, `2Z`, `ZR`). A single `Z` or `DU` is left
/// out: `DIN 7985-Z` is a Pozidriv screw, `2020DU` a plain bush.
const CLOSURES: &[(&str, &str, bool)] = &[
    ("2rs", SEALED, true),
    ("2rs1", SEALED, true),
    ("2rsh", SEALED, true),
    ("2rsr", SEALED, true),
    ("2rsl", SEALED, true),
    ("2rz", SEALED, true),
    ("llu", SEALED, true),
    ("llb", SEALED, true),
    ("rs", SEALED, false),
    ("rs1", SEALED, false),
    ("rsh", SEALED, false),
    ("rsr", SEALED, false),
    ("ddu", SEALED, false),
    ("vv", SEALED, false),
    ("zz", SHIELDED, true),
    ("2z", SHIELDED, true),
    ("2zr", SHIELDED, true),
    ("zr", SHIELDED, false),
];

/// The closure token a word for a closure stands for.
fn closure_word(word: &str) -> Option<&'static str> {
    match word {
        "sealed" => Some(SEALED),
        "shielded" => Some(SHIELDED),
        _ => None,
    }
}

/// The closure token of piece `i` of a chunk, when the piece is a closure suffix: after a
/// bearing number (`6204-2RS`, `6204-2RSH/C3`), written onto one (`608ZZ`), or a distinct
/// suffix alone (`2RS`).
fn closure_token(ps: &[Piece], i: usize) -> Option<&'static str> {
    let text = ps[i].text.as_str();
    // A bearing's basic designation: `608`, `6204`, `61804`.
    let bearing_number = |s: &str| (3..=5).contains(&s.len()) && is_number(s);
    let lookup = |s: &str, next_to_number: bool| {
        CLOSURES
            .iter()
            .find(|(k, _, distinct)| *k == s && (*distinct || next_to_number))
            .map(|(_, token, _)| *token)
    };
    let digits = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    if digits < text.len() && bearing_number(&text[..digits]) {
        return lookup(&text[digits..], true);
    }
    // Most pieces are words: ruled out before the table is searched.
    let after_number = i > 0 && bearing_number(&ps[i - 1].text);
    if !(after_number || ps.len() == 1) {
        return None;
    }
    lookup(text, after_number)
}

fn unit(word: &str) -> Option<&'static str> {
    UNITS.iter().find(|(s, _)| *s == word).map(|(_, c)| *c)
}

fn is_number(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

fn is_diameter_sign(c: char) -> bool {
    matches!(c, 'Ø' | 'ø' | '⌀')
}

fn is_dimension_sign(c: char) -> bool {
    matches!(c, 'x' | 'X' | '×' | '*')
}

/// A run of word characters in a chunk, and the character that ended it.
struct Piece {
    text: String,
    /// Ended by a dimension sign between digits (`10` in `10x30`).
    dim_next: bool,
    /// The separator after the piece, if any.
    sep: Option<char>,
    /// Preceded by a diameter sign.
    diameter: bool,
}

/// Splits one whitespace-free chunk into lower-cased pieces.
fn pieces(chunk: &str, chars: &mut Vec<char>) -> Vec<Piece> {
    chars.clear();
    chars.extend(chunk.chars());
    let chars: &[char] = chars;
    let mut out: Vec<Piece> = Vec::new();
    let mut cur = String::new();
    let mut diameter = false;
    let digit_at = |i: usize| chars.get(i).is_some_and(char::is_ascii_digit);
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let dim = is_dimension_sign(c) && i > 0 && digit_at(i - 1) && digit_at(i + 1);
        let diam = is_diameter_sign(c) && cur.is_empty() && digit_at(i + 1);
        if c.is_alphanumeric() && !dim && !diam {
            cur.extend(c.to_lowercase());
        } else {
            if !cur.is_empty() {
                out.push(Piece {
                    text: std::mem::take(&mut cur),
                    dim_next: dim,
                    sep: Some(c),
                    diameter,
                });
            }
            diameter = diam;
        }
        i += 1;
    }
    if !cur.is_empty() {
        out.push(Piece {
            text: cur,
            dim_next: false,
            sep: None,
            diameter,
        });
    }
    out
}

/// `m10` → `10`: the size of a metric thread designation.
fn thread_size(p: &str) -> Option<&str> {
    p.strip_prefix('m').filter(|n| is_number(n))
}

/// `12mm` → (`12`, `mm`).
fn number_with_unit(p: &str) -> Option<(&str, &'static str)> {
    let i = p.find(|c: char| !c.is_ascii_digit())?;
    (i > 0).then_some(())?;
    Some((&p[..i], unit(&p[i..])?))
}

/// The tokens of a text, in order (duplicates kept: they are term frequencies).
pub fn tokenize(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let chunks: Vec<&str> = text.split_whitespace().collect();
    // Reused across chunks: documents have thousands of them.
    let mut chars: Vec<char> = Vec::new();
    let mut c = 0;
    while c < chunks.len() {
        let ps = pieces(chunks[c], &mut chars);
        // Only a number ending the chunk can take the next chunk as its unit.
        let next_unit = chunks
            .get(c + 1)
            .filter(|_| ps.last().is_some_and(|p| is_number(&p.text)))
            .map(|n| n.trim_matches(|ch: char| !ch.is_alphanumeric()))
            .filter(|n| !n.eq_ignore_ascii_case("in"))
            .and_then(|n| {
                UNITS
                    .iter()
                    .find(|(s, _)| s.eq_ignore_ascii_case(n))
                    .map(|(_, canon)| *canon)
            });
        let mut consumed_next = false;
        // Numbers of the current dimension form (`10`, `30` of `M10x30`).
        let mut dims: Vec<String> = Vec::new();
        let mut i = 0;
        while i < ps.len() {
            let p = &ps[i];
            let last = i + 1 == ps.len();
            let next = ps.get(i + 1);
            // Decimal: `1.5`, `1,5`.
            if is_number(&p.text)
                && matches!(p.sep, Some('.' | ','))
                && next.is_some_and(|n| is_number(&n.text) && !matches!(n.sep, Some('.' | ',')))
            {
                let n = next.map(|n| n.text.as_str()).unwrap_or_default();
                let value = format!("{}.{}", p.text, n);
                let trailing = next.and_then(|n| n.sep);
                let is_last = i + 2 == ps.len();
                out.push(value.clone());
                unit_forms(
                    &value,
                    trailing,
                    is_last,
                    next_unit,
                    &mut consumed_next,
                    &mut out,
                );
                i += 2;
                continue;
            }
            // Fraction: `1/4`.
            if is_number(&p.text) && p.sep == Some('/') && next.is_some_and(|n| is_number(&n.text))
            {
                let n = next.map(|n| n.text.as_str()).unwrap_or_default();
                let value = format!("{}/{}", p.text, n);
                let trailing = next.and_then(|n| n.sep);
                let is_last = i + 2 == ps.len();
                out.push(value.clone());
                out.push(p.text.clone());
                out.push(n.to_owned());
                unit_forms(
                    &value,
                    trailing,
                    is_last,
                    next_unit,
                    &mut consumed_next,
                    &mut out,
                );
                i += 2;
                continue;
            }
            let size = thread_size(&p.text);
            let with_unit = number_with_unit(&p.text);
            match (size, with_unit) {
                (Some(n), _) => {
                    out.push(p.text.clone());
                    out.push(n.to_owned());
                }
                (None, Some((n, u))) => {
                    out.push(n.to_owned());
                    out.push(format!("{n}{u}"));
                }
                (None, None) => {
                    // The words for a closure stand for it: "sealed" is not the noun "seal".
                    if let Some(token) = closure_word(&p.text) {
                        out.push(token.to_owned());
                    } else {
                        out.push(p.text.clone());
                        if let Some(token) = closure_token(&ps, i).filter(|t| *t != p.text) {
                            out.push(token.to_owned());
                        }
                    }
                    if is_number(&p.text) {
                        if p.diameter && !(last && next_unit.is_some()) && p.sep != Some('"') {
                            out.push(format!("{}mm", p.text));
                        }
                        unit_forms(
                            &p.text,
                            p.sep,
                            last,
                            next_unit,
                            &mut consumed_next,
                            &mut out,
                        );
                    }
                }
            }
            // Dimension forms: collect the numbers joined by dimension signs.
            let numeric = size
                .map(str::to_owned)
                .or_else(|| with_unit.map(|(n, _)| n.to_owned()))
                .or_else(|| is_number(&p.text).then(|| p.text.clone()));
            match numeric {
                Some(n) if p.dim_next || !dims.is_empty() => {
                    dims.push(n);
                    if !p.dim_next {
                        out.push(dims.join("x"));
                        dims.clear();
                    }
                }
                _ => dims.clear(),
            }
            i += 1;
        }
        c += if consumed_next { 2 } else { 1 };
    }
    out
}

/// The unit-qualified form of a number: an inch mark after it, or a unit word after the chunk.
fn unit_forms(
    value: &str,
    sep: Option<char>,
    last_in_chunk: bool,
    next_unit: Option<&'static str>,
    consumed_next: &mut bool,
    out: &mut Vec<String>,
) {
    if matches!(sep, Some('"' | '″')) {
        out.push(format!("{value}in"));
    } else if last_in_chunk {
        if let Some(u) = next_unit {
            out.push(format!("{value}{u}"));
            *consumed_next = true;
        }
    }
}

/// Splits catalog text into domain tokens (see the module documentation).
#[derive(Clone, Default)]
pub struct PartTokenizer;

pub struct VecTokenStream {
    tokens: std::vec::IntoIter<String>,
    token: Token,
    position: usize,
}

impl Tokenizer for PartTokenizer {
    type TokenStream<'a> = VecTokenStream;

    fn token_stream<'a>(&'a mut self, text: &'a str) -> VecTokenStream {
        VecTokenStream {
            tokens: tokenize(text).into_iter(),
            token: Token::default(),
            position: 0,
        }
    }
}

impl TokenStream for VecTokenStream {
    fn advance(&mut self) -> bool {
        let Some(t) = self.tokens.next() else {
            return false;
        };
        // Offsets are only for highlighting, which this index does not do.
        self.token.text = t;
        self.token.position = self.position;
        self.token.position_length = 1;
        self.position += 1;
        true
    }

    fn token(&self) -> &Token {
        &self.token
    }

    fn token_mut(&mut self) -> &mut Token {
        &mut self.token
    }
}

/// Folds the German transliterations `ae`, `oe`, `ue` to the vowel, as [`AsciiFoldingFilter`]
/// folds `ä`, `ö`, `ü`: `Wuerth`, `Würth` and `Wurth` all become `wurth`. Lossy for some English
/// words ("blue" → "blu"), harmlessly: queries are folded the same way.
#[derive(Clone)]
pub struct GermanDigraphs;

impl TokenFilter for GermanDigraphs {
    type Tokenizer<T: Tokenizer> = GermanDigraphsFilter<T>;

    fn transform<T: Tokenizer>(self, tokenizer: T) -> GermanDigraphsFilter<T> {
        GermanDigraphsFilter(tokenizer)
    }
}

#[derive(Clone)]
pub struct GermanDigraphsFilter<T>(T);

impl<T: Tokenizer> Tokenizer for GermanDigraphsFilter<T> {
    type TokenStream<'a> = GermanDigraphsStream<T::TokenStream<'a>>;

    fn token_stream<'a>(&'a mut self, text: &'a str) -> Self::TokenStream<'a> {
        GermanDigraphsStream(self.0.token_stream(text))
    }
}

pub struct GermanDigraphsStream<S>(S);

fn fold_digraphs(text: &mut String) {
    let b = text.as_bytes();
    let folds = (1..b.len()).any(|i| b[i] == b'e' && matches!(b[i - 1], b'a' | b'o' | b'u'));
    if !folds {
        return;
    }
    let mut out = String::with_capacity(text.len());
    let mut prev: Option<char> = None;
    for c in text.chars() {
        if c == 'e' && matches!(prev, Some('a' | 'o' | 'u')) {
            prev = None;
            continue;
        }
        out.push(c);
        prev = Some(c);
    }
    *text = out;
}

impl<S: TokenStream> TokenStream for GermanDigraphsStream<S> {
    fn advance(&mut self) -> bool {
        if !self.0.advance() {
            return false;
        }
        fold_digraphs(&mut self.0.token_mut().text);
        true
    }

    fn token(&self) -> &Token {
        self.0.token()
    }

    fn token_mut(&mut self) -> &mut Token {
        self.0.token_mut()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(s: &str) -> Vec<String> {
        let mut a = text_analyzer();
        let mut stream = a.token_stream(s);
        let mut out = Vec::new();
        while stream.advance() {
            out.push(stream.token().text.clone());
        }
        out
    }

    #[test]
    fn threads_and_dimensions() {
        assert_eq!(tokenize("M10x30"), ["m10", "10", "30", "10x30"]);
        assert_eq!(tokenize("10x30"), ["10", "30", "10x30"]);
        assert_eq!(
            tokenize("Seal 20x35x7 NBR"),
            ["seal", "20", "35", "7", "20x35x7", "nbr"]
        );
        assert_eq!(tokenize("M8"), ["m8", "8"]);
        assert_eq!(tokenize("xenon 8x"), ["xenon", "8x"]);
    }

    #[test]
    fn sizes_with_units() {
        assert_eq!(tokenize("12mm"), ["12", "12mm"]);
        assert_eq!(tokenize("12 mm"), ["12", "12mm"]);
        assert_eq!(tokenize("12 millimetres long"), ["12", "12mm", "long"]);
        assert_eq!(tokenize("Ø12"), ["12", "12mm"]);
        assert_eq!(tokenize("ø12 mm"), ["12", "12mm"]);
        assert_eq!(tokenize("1/4\"-20"), ["1/4", "1", "4", "1/4in", "20"]);
        assert_eq!(tokenize("1/4-20"), ["1/4", "1", "4", "20"]);
        assert_eq!(tokenize("1,5 kW"), ["1.5", "1.5kw"]);
        assert_eq!(tokenize("bolt 10 in steel"), ["bolt", "10", "in", "steel"]);
        assert_eq!(tokenize("Øresund"), ["øresund"]);
    }

    #[test]
    fn codes_split_at_separators() {
        assert_eq!(tokenize("6204-C3"), ["6204", "c3"]);
        assert_eq!(tokenize("A2-70"), ["a2", "70"]);
    }

    #[test]
    fn bearing_closures_give_their_token() {
        assert_eq!(tokenize("6204-2RS"), ["6204", "2rs"]);
        assert_eq!(tokenize("6204-2RSH/C3"), ["6204", "2rsh", "2rs", "c3"]);
        assert_eq!(tokenize("608-LLU"), ["608", "llu", "2rs"]);
        assert_eq!(tokenize("6301-DDU"), ["6301", "ddu", "2rs"]);
        assert_eq!(tokenize("6204-RS"), ["6204", "rs", "2rs"]);
        assert_eq!(tokenize("6204-ZZ"), ["6204", "zz"]);
        assert_eq!(tokenize("6204-2Z"), ["6204", "2z", "zz"]);
        assert_eq!(tokenize("608ZZ"), ["608zz", "zz"]);
        assert_eq!(tokenize("SKF 6204 2RS"), ["skf", "6204", "2rs"]);
        assert_eq!(tokenize("2RSH"), ["2rsh", "2rs"]);
        assert_eq!(tokenize("sealed ball bearing"), ["2rs", "ball", "bearing"]);
        assert_eq!(tokenize("shielded"), ["zz"]);
        // Not closures: ambiguous suffixes alone or after something else than a bearing
        // number, a Pozidriv screw, a plain bush, an Incoterm.
        for plain in [
            "RS components",
            "Z axis",
            "A2-RS",
            "12-RS",
            "DIN 7985-Z",
            "6204-Z",
            "2020DU",
            "DDU",
            "RS-100",
            "123456-RS",
        ] {
            let words: Vec<String> = plain
                .split(|c: char| !c.is_alphanumeric())
                .filter(|w| !w.is_empty())
                .map(str::to_lowercase)
                .collect();
            assert_eq!(tokenize(plain), words, "{plain}");
        }
        // One analysis: the word meets the suffix, and not the noun it would stem to.
        assert!(text("Ball bearing 6205-2RS").contains(&text("sealed")[0]));
        assert!(text("6205-2Z").contains(&text("shielded")[0]));
        assert_ne!(text("sealed"), text("seal"));
        assert!(!text("Ball bearing 6205-2RS").contains(&text("seal")[0]));
    }

    #[test]
    fn folding_and_stemming() {
        assert_eq!(text("Würth"), ["wurth"]);
        assert_eq!(text("Wuerth"), ["wurth"]);
        assert_eq!(text("Wurth"), ["wurth"]);
        assert_eq!(text("Straße"), text("strasse"));
        assert_eq!(text("bolts"), text("bolt"));
        assert_eq!(text("steel toe cap"), ["steel", "to", "cap"]);
        assert_eq!(text("bolt for the M8"), ["bolt", "m8", "8"]);
    }

    #[test]
    fn qualifiers() {
        for q in ["12mm", "1/4in", "10x30", "1.5kw", "20x35x7"] {
            assert!(is_qualifier(q), "{q}");
        }
        for w in ["12", "m12", "bolt", "2rs", "1/4", "a2", "8x"] {
            assert!(!is_qualifier(w), "{w}");
        }
    }
}
