//! The tantivy schema and analyzers. One index for all tenants: every document carries its
//! `tenant`, and every query gets a tenant filter added in [`super::query`].

use tantivy::schema::{
    Field, IndexRecordOption, JsonObjectOptions, Schema, TextFieldIndexing, TextOptions, FAST,
    INDEXED, STRING,
};
use tantivy::tokenizer::{
    Language, LowerCaser, RawTokenizer, RemoveLongFilter, SimpleTokenizer, Stemmer, StopWordFilter,
    TextAnalyzer,
};
use tantivy::Index;

/// Word analyzer for name, description and vertical_data text: lower-cased, English stop words
/// removed, stemmed (so "bolts" finds "bolt").
pub const TEXT: &str = "qx_text";
/// Lower-cased words without stemming: what typo-tolerant (fuzzy) matching compares against.
pub const WORDS: &str = "qx_words";
/// Whole value lower-cased: exact, case-insensitive equality for filters and sorting.
pub const EXACT: &str = "qx_exact";

/// Longest token kept by [`EXACT`]: longer strings are prose, not filter values.
pub const MAX_EXACT_LEN: usize = 256;

#[derive(Clone, Debug)]
pub struct Fields {
    pub id: Field,
    pub id_hi: Field,
    pub id_lo: Field,
    pub tenant: Field,
    pub vertical: Field,
    pub entity_type: Field,
    pub source_type: Field,
    pub name: Field,
    pub name_words: Field,
    pub name_sort: Field,
    pub description: Field,
    pub data_text: Field,
    pub data_words: Field,
    pub ident: Field,
    pub data: Field,
    pub created_at: Field,
    pub updated_at: Field,
}

fn text(analyzer: &str) -> TextOptions {
    TextOptions::default().set_indexing_options(
        TextFieldIndexing::default()
            .set_tokenizer(analyzer)
            .set_index_option(IndexRecordOption::WithFreqs),
    )
}

pub fn build() -> (Schema, Fields) {
    let mut b = Schema::builder();
    let exact = TextOptions::default().set_indexing_options(
        TextFieldIndexing::default()
            .set_tokenizer(EXACT)
            .set_index_option(IndexRecordOption::Basic),
    );
    let fields = Fields {
        id: b.add_text_field("id", STRING),
        id_hi: b.add_u64_field("id_hi", FAST),
        id_lo: b.add_u64_field("id_lo", FAST),
        tenant: b.add_text_field("tenant", STRING),
        vertical: b.add_text_field("vertical", STRING),
        entity_type: b.add_text_field("entity_type", exact.clone()),
        source_type: b.add_text_field("source_type", exact),
        name: b.add_text_field("name", text(TEXT)),
        name_words: b.add_text_field("name_words", text(WORDS)),
        name_sort: b.add_text_field("name_sort", TextOptions::default().set_fast(EXACT)),
        description: b.add_text_field("description", text(TEXT)),
        data_text: b.add_text_field("data_text", text(TEXT)),
        data_words: b.add_text_field("data_words", text(WORDS)),
        ident: b.add_text_field("ident", STRING),
        data: b.add_json_field(
            "data",
            JsonObjectOptions::default()
                .set_indexing_options(
                    TextFieldIndexing::default()
                        .set_tokenizer(EXACT)
                        .set_index_option(IndexRecordOption::Basic),
                )
                .set_fast(EXACT),
        ),
        created_at: b.add_i64_field("created_at", FAST | INDEXED),
        updated_at: b.add_i64_field("updated_at", FAST | INDEXED),
    };
    (b.build(), fields)
}

/// Analyzers are not stored in the index: register them on every open.
pub fn register_analyzers(index: &Index) {
    let tokenizers = index.tokenizers();
    let mut text = TextAnalyzer::builder(SimpleTokenizer::default())
        .filter(RemoveLongFilter::limit(40))
        .filter(LowerCaser)
        .dynamic();
    if let Some(stop) = StopWordFilter::new(Language::English) {
        text = text.filter_dynamic(stop);
    }
    tokenizers.register(
        TEXT,
        text.filter_dynamic(Stemmer::new(Language::English)).build(),
    );
    tokenizers.register(
        WORDS,
        TextAnalyzer::builder(SimpleTokenizer::default())
            .filter(RemoveLongFilter::limit(40))
            .filter(LowerCaser)
            .build(),
    );
    let exact = TextAnalyzer::builder(RawTokenizer::default())
        .filter(RemoveLongFilter::limit(MAX_EXACT_LEN))
        .filter(LowerCaser)
        .build();
    tokenizers.register(EXACT, exact.clone());
    index.fast_field_tokenizer().register(EXACT, exact);
}

/// Turns text into the tokens an analyzer would index.
pub fn analyze(index: &Index, analyzer: &str, text: &str) -> Vec<String> {
    let Some(mut a) = index.tokenizers().get(analyzer) else {
        return Vec::new();
    };
    let text = split_dimensions(text);
    let mut stream = a.token_stream(&text);
    let mut out = Vec::new();
    while stream.advance() {
        let t = stream.token().text.clone();
        if !out.contains(&t) {
            out.push(t);
        }
    }
    out
}

/// Splits dimension notation so its parts are words: `M8x40` → `M8 40`, `20x35x7` → `20 35 7`.
/// Applied to indexed text and to queries alike, so `M8` finds "Hex bolt M8x40".
pub fn split_dimensions(text: &str) -> std::borrow::Cow<'_, str> {
    let chars: Vec<char> = text.chars().collect();
    let is_sep = |c: char| matches!(c, 'x' | 'X' | '×' | '*');
    let splits = (1..chars.len().saturating_sub(1)).any(|i| {
        is_sep(chars[i]) && chars[i - 1].is_ascii_digit() && chars[i + 1].is_ascii_digit()
    });
    if !splits {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    for (i, &c) in chars.iter().enumerate() {
        let between_digits = i > 0
            && i + 1 < chars.len()
            && chars[i - 1].is_ascii_digit()
            && chars[i + 1].is_ascii_digit();
        out.push(if is_sep(c) && between_digits { ' ' } else { c });
    }
    std::borrow::Cow::Owned(out)
}

/// JSON keys become path segments: dots would split them, so they are replaced.
pub fn json_key(key: &str) -> String {
    key.chars()
        .map(|c| if c == '.' || c.is_control() { '_' } else { c })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::split_dimensions;

    #[test]
    fn dimensions_split_only_between_digits() {
        assert_eq!(split_dimensions("Hex bolt M8x40"), "Hex bolt M8 40");
        assert_eq!(split_dimensions("Seal 20x35x7 NBR"), "Seal 20 35 7 NBR");
        assert_eq!(split_dimensions("box 2×3"), "box 2 3");
        assert_eq!(split_dimensions("xenon 8x"), "xenon 8x");
        assert_eq!(split_dimensions("Hex nut"), "Hex nut");
    }
}
