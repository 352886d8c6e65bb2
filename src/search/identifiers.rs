//! Identifier detection: part numbers, SKUs, EAN/GTIN, CAS numbers and standards
//! (`ISO 4017`, `DIN 933`, `EN 10025`, `ASTM A193`). Identifiers are compared in a normal form,
//! lower-case with separators removed, so `ss-m8-40-a2`, `SS M8 40 A2` and `SS_M8/40.A2` meet.

/// Standards bodies whose designations are `<BODY> <number>`.
const STANDARD_BODIES: &[&str] = &[
    "iso", "din", "en", "astm", "ansi", "asme", "jis", "bs", "nf", "sae", "iec", "uni", "gb",
    "nas", "vdi", "api", "mil", "csa", "ul", "aisi",
];

/// Lower-case alphanumerics only.
pub fn normalize(s: &str) -> String {
    s.chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect()
}

fn trim_punct(t: &str) -> &str {
    t.trim_matches(|c: char| !c.is_alphanumeric())
}

fn is_standard_body(t: &str) -> bool {
    STANDARD_BODIES.iter().any(|b| t.eq_ignore_ascii_case(b))
}

/// `4017`, `A193`, `10025-2`: what follows a standards body.
fn is_standard_number(t: &str) -> bool {
    let mut chars = t.chars();
    let first = chars.next();
    let digits = t.chars().filter(char::is_ascii_digit).count();
    digits >= 2
        && match first {
            Some(c) if c.is_ascii_digit() => true,
            Some(c) if c.is_ascii_alphabetic() => chars.next().is_some_and(|c| c.is_ascii_digit()),
            _ => false,
        }
}

/// `ISO4017`, `DIN933`: body and number written together.
fn is_joined_standard(t: &str) -> bool {
    let split = t.find(|c: char| c.is_ascii_digit());
    split.is_some_and(|i| i > 0 && is_standard_body(&t[..i]) && is_standard_number(&t[i..]))
}

/// A single token that is a code: EAN/GTIN, CAS, or a part number mixing letters and digits or
/// digits and separators (`SS-M8-40-A2`, `6204-2RS`, `7732-18-5`).
pub fn is_code(token: &str) -> bool {
    let t = trim_punct(token);
    let alnum = t.chars().filter(|c| c.is_alphanumeric()).count();
    let digits = t.chars().filter(char::is_ascii_digit).count();
    let letters = t.chars().filter(|c| c.is_alphabetic()).count();
    let separators = t.chars().filter(|c| "-_/.".contains(*c)).count();
    if digits == 0 || alnum < 4 || t.chars().any(char::is_whitespace) {
        return false;
    }
    if letters == 0 && separators == 0 {
        return matches!(digits, 8 | 12 | 13 | 14); // EAN-8, UPC-A, EAN-13, GTIN-14
    }
    // A word with one trailing digit ("Bolt2") is not a code; "M8x40", "A2-70", "6204-2RS" are.
    separators > 0 || (letters > 0 && digits >= 2) || alnum >= 6
}

/// What an identifier names: one entity, or a class of them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A standard (`ISO 4017`): shared by every part made to it.
    Standard,
    /// A code: part number, EAN/GTIN, CAS. Whether it pins down one entity depends on the
    /// catalog (see `ranking`).
    Code,
}

/// An identifier found in a query: its normal form and kind.
#[derive(Clone, Debug, PartialEq)]
pub struct Found {
    pub term: String,
    pub kind: Kind,
}

/// A query's whitespace tokens and the identifiers among them.
#[derive(Clone, Debug, Default)]
pub struct Scan {
    tokens: Vec<String>,
    /// Per token, the index in `found` of the identifier it belongs to.
    owner: Vec<Option<usize>>,
    pub found: Vec<Found>,
}

impl Scan {
    /// The query without the tokens of the identifiers `keep_out` selects: the words that still
    /// rank within what those identifiers match. An identifier that matches nothing keeps its
    /// words, which may still be found as words.
    pub fn rest(&self, keep_out: impl Fn(&Found) -> bool) -> String {
        self.tokens
            .iter()
            .zip(&self.owner)
            .filter(|(_, o)| !o.is_some_and(|i| keep_out(&self.found[i])))
            .map(|(t, _)| t.as_str())
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// Identifiers in free text, normalized, without duplicates.
pub fn scan(text: &str) -> Scan {
    let tokens: Vec<&str> = text
        .split_whitespace()
        .map(trim_punct)
        .filter(|t| !t.is_empty())
        .collect();
    let mut out = Scan {
        tokens: tokens.iter().map(|t| (*t).to_owned()).collect(),
        owner: vec![None; tokens.len()],
        found: Vec::new(),
    };
    let push = |out: &mut Scan, term: String, kind: Kind, at: std::ops::Range<usize>| {
        let index = match out.found.iter().position(|f| f.term == term) {
            Some(i) => i,
            None => {
                out.found.push(Found { term, kind });
                out.found.len() - 1
            }
        };
        for o in &mut out.owner[at] {
            *o = Some(index);
        }
    };
    let mut i = 0;
    while i < tokens.len() {
        let t = tokens[i];
        match tokens
            .get(i + 1)
            .filter(|n| is_standard_body(t) && is_standard_number(n))
        {
            Some(number) => {
                // The number belongs to the standard: "EN 10025-2" is one identifier, not two.
                let term = normalize(&format!("{t}{number}"));
                push(&mut out, term, Kind::Standard, i..i + 2);
                i += 1;
            }
            None if is_joined_standard(t) => push(&mut out, normalize(t), Kind::Standard, i..i + 1),
            None if is_code(t) => push(&mut out, normalize(t), Kind::Code, i..i + 1),
            None => {}
        }
        i += 1;
    }
    out
}

/// Identifiers found in free text, normalized, without duplicates.
pub fn detect(text: &str) -> Vec<String> {
    scan(text).found.into_iter().map(|f| f.term).collect()
}

/// The whole of a short query as one identifier candidate (`SS M8 40 A2` → `ssm840a2`): only
/// for queries of at most six words that contain a digit.
pub fn whole_query_candidate(query: &str) -> Option<String> {
    let words = query.split_whitespace().count();
    let n = normalize(query);
    (words > 1 && words <= 6 && n.len() >= 4 && n.chars().any(|c| c.is_ascii_digit())).then_some(n)
}

/// Identifier terms to index for a stored value: the whole value when it is code-like (at most
/// four words, with a digit), plus identifiers inside it.
pub fn index_terms(value: &str, out: &mut Vec<String>) {
    let words = value.split_whitespace().count();
    let n = normalize(value);
    if (1..=4).contains(&words)
        && (4..=64).contains(&n.len())
        && n.chars().any(|c| c.is_ascii_digit())
    {
        if words == 1 && !is_code(value) && !is_joined_standard(trim_punct(value)) {
            // a plain word with a digit, like "Bolt2": not an identifier
        } else if !out.contains(&n) {
            out.push(n);
        }
    }
    for d in detect(value) {
        if !out.contains(&d) {
            out.push(d);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normal_form_ignores_case_and_separators() {
        assert_eq!(normalize("SS-M8-40-A2"), "ssm840a2");
        assert_eq!(normalize("ss m8 40 a2"), "ssm840a2");
        assert_eq!(normalize("SS_M8/40.A2"), "ssm840a2");
    }

    #[test]
    fn detects_codes_and_standards_in_queries() {
        assert_eq!(detect("SS-M8-40-A2"), vec!["ssm840a2"]);
        assert_eq!(detect("hex bolt ISO 4017 M8"), vec!["iso4017"]);
        assert_eq!(detect("DIN 933"), vec!["din933"]);
        assert_eq!(detect("din933 zinc"), vec!["din933"]);
        assert_eq!(detect("EN 10025-2 steel"), vec!["en100252"]);
        assert_eq!(detect("ASTM A193 stud"), vec!["astma193"]);
        assert_eq!(detect("4006381333931"), vec!["4006381333931"]);
        assert_eq!(detect("CAS 7732-18-5"), vec!["7732185"]);
        assert_eq!(detect("bearing 6204-2RS"), vec!["62042rs"]);
    }

    #[test]
    fn scan_tells_standards_from_codes_and_keeps_the_rest() {
        let s = scan("DIN 933 M12 hex bolt");
        assert_eq!(
            s.found,
            vec![Found {
                term: "din933".into(),
                kind: Kind::Standard
            }]
        );
        assert_eq!(s.rest(|_| true), "M12 hex bolt");
        assert_eq!(s.rest(|_| false), "DIN 933 M12 hex bolt");
        let s = scan("ISO 4017 hex bolt M16x50");
        assert_eq!(s.found.len(), 2);
        assert_eq!(s.found[1].kind, Kind::Code);
        assert_eq!(s.rest(|f| f.kind == Kind::Standard), "hex bolt M16x50");
        assert_eq!(scan("ISO4762 M8").found[0].kind, Kind::Standard);
    }

    #[test]
    fn ordinary_words_and_sizes_are_not_identifiers() {
        assert!(detect("stainless M8 bolt").is_empty());
        assert!(detect("bolts for 40 mm plate").is_empty());
        assert!(detect("Bolt2").is_empty());
        assert!(detect("year 2024").is_empty());
        assert!(detect("ISO standard").is_empty());
    }

    #[test]
    fn whole_query_candidate_only_for_short_queries_with_digits() {
        assert_eq!(
            whole_query_candidate("SS M8 40 A2").as_deref(),
            Some("ssm840a2")
        );
        assert_eq!(whole_query_candidate("stainless bolt"), None);
        assert_eq!(whole_query_candidate("one"), None);
        assert_eq!(whole_query_candidate("a b c d e f g 1"), None);
    }

    #[test]
    fn index_terms_of_values() {
        let mut out = Vec::new();
        index_terms("SS-M8-40-A2", &mut out);
        index_terms("DIN 933 / ISO 4017", &mut out);
        index_terms("stainless steel", &mut out);
        index_terms("Bolt2", &mut out);
        // "DIN 933 / ISO 4017" has five words: too long to be one code, but holds two.
        assert_eq!(out, vec!["ssm840a2", "din933", "iso4017"]);
    }
}
