//! The tantivy schema and analyzers. One index serves all tenants. Words and identifiers are
//! indexed *scoped*, as `tenant:vertical:word` ([`scope`]): a query for a word can only reach
//! documents of that tenant and vertical, needs no filter clause (which would stop tantivy's
//! block-max pruning), and word statistics (BM25's IDF) are per tenant and vertical.
//! Filter-only queries use the plain `tenant` and `vertical` fields.

use tantivy::schema::{
    Field, IndexRecordOption, JsonObjectOptions, Schema, TextFieldIndexing, TextOptions, FAST,
    INDEXED, STRING,
};
use tantivy::tokenizer::{
    BoxTokenStream, LowerCaser, RawTokenizer, RemoveLongFilter, TextAnalyzer, Token, TokenStream,
    Tokenizer,
};
use tantivy::Index;

/// Word analyzer for name, description and vertical_data text: domain tokens (sizes, threads,
/// dimensions, units), folded, English stop words removed, stemmed. See [`super::analysis`].
pub const TEXT: &str = "qx_text";
/// The same words without stemming: what typo-tolerant (fuzzy) matching compares against.
pub const WORDS: &str = "qx_words";
/// Whole value lower-cased: exact, case-insensitive equality for filters and sorting.
pub const EXACT: &str = "qx_exact";

/// Bump when the schema, the analysis or the scoping of terms changes: an index of another version is
/// rebuilt from the store at start-up.
pub const SCHEMA_VERSION: &str = "7";

/// Scoped analyzers: [`TEXT`] and [`WORDS`] applied to the part of a value after
/// [`SCOPE_END`], each token prefixed with the part before it (see [`scoped_value`]).
pub const TEXT_SCOPED: &str = "qx_text_scoped";
pub const WORDS_SCOPED: &str = "qx_words_scoped";
pub const SCOPE_END: char = '\u{1}';

/// A value for a scoped field: `tenant:vertical:` + [`SCOPE_END`] + text.
pub fn scoped_value(tenant: &str, vertical: &str, text: &str) -> String {
    let mut v = scope(tenant, vertical);
    v.push(SCOPE_END);
    v.push_str(text);
    v
}

/// Tokenizes the text of a scoped value with an inner analyzer and prefixes every token with
/// the value's scope. (Pre-tokenized documents would do the same, but tantivy round-trips them
/// through JSON, which halved indexing throughput.)
#[derive(Clone)]
pub struct Scoped(TextAnalyzer);

pub struct ScopedStream<'a> {
    inner: BoxTokenStream<'a>,
    prefix: &'a str,
    token: Token,
}

impl Tokenizer for Scoped {
    type TokenStream<'a> = ScopedStream<'a>;

    fn token_stream<'a>(&'a mut self, text: &'a str) -> ScopedStream<'a> {
        let (prefix, body) = text.split_once(SCOPE_END).unwrap_or(("", text));
        ScopedStream {
            inner: self.0.token_stream(body),
            prefix,
            token: Token::default(),
        }
    }
}

impl TokenStream for ScopedStream<'_> {
    fn advance(&mut self) -> bool {
        if !self.inner.advance() {
            return false;
        }
        let t = self.inner.token();
        self.token.text.clear();
        self.token.text.push_str(self.prefix);
        self.token.text.push_str(&t.text);
        self.token.position = t.position;
        self.token.position_length = t.position_length;
        self.token.offset_from = t.offset_from;
        self.token.offset_to = t.offset_to;
        true
    }

    fn token(&self) -> &Token {
        &self.token
    }

    fn token_mut(&mut self) -> &mut Token {
        &mut self.token
    }
}

/// The prefix of scoped terms. Tenant ids and verticals cannot contain ':'.
pub fn scope(tenant: &str, vertical: &str) -> String {
    format!("{tenant}:{vertical}:")
}

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
    /// `public` or `private`: Open searches only the public.
    pub visibility: Field,
    /// Scoped, stemmed words of name (three times, as a boost), description and vertical_data.
    pub text: Field,
    /// Scoped, unstemmed words of the same, for typo-tolerant matching.
    pub words: Field,
    pub name_sort: Field,
    /// Scoped identifier normal forms.
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
        visibility: b.add_text_field("visibility", STRING),
        text: b.add_text_field("text", text(TEXT_SCOPED)),
        words: b.add_text_field("words", text(WORDS_SCOPED)),
        name_sort: b.add_text_field("name_sort", TextOptions::default().set_fast(EXACT)),
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
    // One definition for both sides: documents are indexed and queries analyzed with these.
    let text = super::analysis::text_analyzer();
    let words = super::analysis::words_analyzer();
    tokenizers.register(
        TEXT_SCOPED,
        TextAnalyzer::builder(Scoped(text.clone())).build(),
    );
    tokenizers.register(
        WORDS_SCOPED,
        TextAnalyzer::builder(Scoped(words.clone())).build(),
    );
    tokenizers.register(TEXT, text);
    tokenizers.register(WORDS, words);
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
    let mut stream = a.token_stream(text);
    let mut out = Vec::new();
    while stream.advance() {
        let t = stream.token().text.clone();
        if !out.contains(&t) {
            out.push(t);
        }
    }
    out
}

/// JSON keys become path segments: dots would split them, so they are replaced.
pub fn json_key(key: &str) -> String {
    key.chars()
        .map(|c| if c == '.' || c.is_control() { '_' } else { c })
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn scoped_values_prefix_every_token() {
        let index = tantivy::Index::create_in_ram(super::build().0);
        super::register_analyzers(&index);
        let value = super::scoped_value("acme", "parts", "Hex bolts M8x40");
        let mut a = index.tokenizers().get(super::TEXT_SCOPED).unwrap();
        let mut stream = a.token_stream(&value);
        let mut tokens = Vec::new();
        while tantivy::tokenizer::TokenStream::advance(&mut stream) {
            tokens.push(tantivy::tokenizer::TokenStream::token(&stream).text.clone());
        }
        assert_eq!(
            tokens,
            [
                "acme:parts:hex",
                "acme:parts:bolt",
                "acme:parts:m8",
                "acme:parts:8",
                "acme:parts:40",
                "acme:parts:8x40"
            ]
        );
    }
}
