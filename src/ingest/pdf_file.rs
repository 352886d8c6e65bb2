//! PDF ingestion (API.md §7): text per page with lopdf; 1–3 pages become one record, 4 or more
//! one record per page.
//!
//! A PDF is hostile input: a few KB of flate streams can inflate to gigabytes, and a file can
//! hold tens of thousands of pages. So every cost is bounded — decompressed bytes per stream at
//! load, per page and per file, text per page and per file, pages per file — and the work
//! checks a deadline between pages and while walking a page's operators. The page list is
//! built once and each page's content stream is decoded as an iterator of operators, so the
//! cost is linear in the file and memory is one page's content at a time. A parser panic on a
//! hostile file is caught and answered as an unreadable PDF.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use lopdf::content::Content;
use lopdf::{Dictionary, Document, Encoding, Object};
use serde_json::{Map, Value};

/// Pages up to which a document is one record.
const WHOLE_DOCUMENT_PAGES: usize = 3;
/// Text kept per record, as serialized in JSON (escapes included), so the record stays within
/// the vertical_data limit.
const MAX_TEXT_BYTES: usize = 60 * 1024;

/// How much reading one PDF may cost.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Decompressed size of one object or cross-reference stream while the file is loaded.
    pub load_stream: usize,
    /// Memory the loaded objects may take, estimated. Object streams parse tiny tokens into
    /// objects of 50 bytes and more each, so a few KB of nested flate could otherwise load
    /// into gigabytes.
    pub load_objects: usize,
    /// Decompressed size of one page's content streams.
    pub page_content: usize,
    /// Decompressed size of every page's content and fonts' text maps together.
    pub file_content: usize,
    /// Text read from one page; the rest of the page is skipped and the text flagged as cut.
    /// Above what a record keeps, so cutting happens in one place ([`records`]).
    pub page_text: usize,
    /// Text read from the whole file.
    pub file_text: usize,
    /// Pages, since each becomes a record: the batch limit.
    pub pages: usize,
}

const MIB: usize = 1024 * 1024;

impl Limits {
    pub const DEFAULT: Limits = Limits {
        load_stream: 2 * MIB,
        load_objects: 128 * MIB,
        page_content: 16 * MIB,
        file_content: 256 * MIB,
        page_text: 2 * MAX_TEXT_BYTES,
        file_text: 64 * MIB,
        pages: super::batch::MAX_RECORDS,
    };
}

#[derive(Debug, PartialEq, Eq)]
pub enum PdfError {
    /// Not a PDF at all (415).
    NotPdf,
    /// Password protected (422).
    Encrypted,
    /// A PDF that cannot be parsed (422).
    Unreadable(String),
    /// No page has text: a scan (422).
    NoText { pages: usize },
    /// Parsing took longer than the limit (422).
    TooSlow { seconds: u64 },
    /// Decompressed content or text over a limit of [`Limits`] (422).
    TooLarge(String),
    /// More pages than a batch may hold records (413).
    TooManyPages { pages: usize, max: usize },
}

impl std::fmt::Display for PdfError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PdfError::NotPdf => write!(f, "the file is not a PDF (it does not start with %PDF-)"),
            PdfError::Encrypted => write!(
                f,
                "the PDF is encrypted; remove its password protection and upload it again"
            ),
            PdfError::Unreadable(e) => write!(f, "the PDF cannot be read: {e}"),
            PdfError::TooSlow { seconds } => write!(
                f,
                "reading the PDF took longer than {seconds} s; it may be malformed"
            ),
            PdfError::NoText { pages } => write!(
                f,
                "none of the PDF's {pages} pages has extractable text; it looks like a scan, and this server does not do OCR"
            ),
            PdfError::TooLarge(what) => write!(f, "the PDF is too large to read: {what}"),
            PdfError::TooManyPages { pages, max } => write!(
                f,
                "a PDF becomes one record per page and a batch holds at most {max} records; this one has {pages} pages"
            ),
        }
    }
}

/// How long reading one PDF may take.
pub const PARSE_LIMIT: Duration = Duration::from_secs(30);

/// When reading must stop. Checked between pages and every few hundred operators, so a file
/// given up on stops using the CPU instead of running to the end in the background.
#[derive(Clone, Copy, Debug)]
pub struct Deadline {
    at: Instant,
    limit: Duration,
}

impl Deadline {
    pub fn after(limit: Duration) -> Self {
        Deadline {
            at: Instant::now() + limit,
            limit,
        }
    }

    fn check(&self) -> Result<(), PdfError> {
        if Instant::now() >= self.at {
            Err(PdfError::TooSlow {
                seconds: self.limit.as_secs(),
            })
        } else {
            Ok(())
        }
    }
}

/// The text of one page; `truncated` when the page had more than [`Limits::page_text`].
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct PageText {
    pub text: String,
    pub truncated: bool,
}

/// [`page_texts`] on its own thread with [`Limits::DEFAULT`], answered after `limit` at the
/// latest. The thread checks the same deadline, so it stops soon after; only loading the file
/// (bounded by its size) is not interrupted.
pub fn page_texts_within(
    bytes: actix_web::web::Bytes,
    limit: Duration,
) -> Result<Vec<PageText>, PdfError> {
    let deadline = Deadline::after(limit);
    within(limit, move || {
        page_texts(&bytes, &Limits::DEFAULT, deadline)
    })
}

fn within<T: Send + 'static>(
    limit: Duration,
    f: impl FnOnce() -> Result<T, PdfError> + Send + 'static,
) -> Result<T, PdfError> {
    let (tx, rx) = std::sync::mpsc::sync_channel(1);
    std::thread::Builder::new()
        .name("pdf-parse".into())
        .spawn(move || {
            let _ = tx.send(f());
        })
        .map_err(|e| PdfError::Unreadable(format!("cannot start the parser: {e}")))?;
    match rx.recv_timeout(limit) {
        Ok(result) => result,
        Err(_) => Err(PdfError::TooSlow {
            seconds: limit.as_secs(),
        }),
    }
}

/// The text of each page, in page order.
pub fn page_texts(
    bytes: &[u8],
    limits: &Limits,
    deadline: Deadline,
) -> Result<Vec<PageText>, PdfError> {
    let start = bytes
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(bytes.len());
    if !bytes[start..].starts_with(b"%PDF-") {
        return Err(PdfError::NotPdf);
    }
    let names_encryption = bytes.windows(8).any(|w| w == b"/Encrypt");
    let parsed = std::panic::catch_unwind(|| -> Result<Vec<PageText>, PdfError> {
        let doc = load(bytes, limits, deadline).map_err(|e| match e {
            LoadError::Pdf(e) => e,
            LoadError::Lopdf(e) if is_over_limit(&e) => PdfError::TooLarge(format!(
                "a stream decompresses to more than {}",
                human(limits.load_stream)
            )),
            LoadError::Lopdf(_) if names_encryption => PdfError::Encrypted,
            LoadError::Lopdf(e) => PdfError::Unreadable(e.to_string()),
        })?;
        if doc.is_encrypted() {
            return Err(PdfError::Encrypted);
        }
        deadline.check()?;
        Extractor::new(&doc, limits, deadline).pages()
    });
    let texts =
        parsed.unwrap_or_else(|_| Err(PdfError::Unreadable("malformed PDF structure".into())))?;
    if texts.iter().all(|t| t.text.is_empty()) {
        return Err(PdfError::NoText { pages: texts.len() });
    }
    Ok(texts)
}

enum LoadError {
    Pdf(PdfError),
    Lopdf(lopdf::Error),
}

/// What loading the current file may still take; read by [`keep_object`], which lopdf calls
/// for every object it loads (on the loading thread: lopdf's parallel loading, the `rayon`
/// feature, is off).
struct LoadBudget {
    left: usize,
    deadline: Deadline,
    refused: Option<PdfError>,
}

thread_local! {
    static LOAD_BUDGET: std::cell::RefCell<Option<LoadBudget>> = const { std::cell::RefCell::new(None) };
}

/// Loads the document within `limits.load_objects` and the deadline. Objects past either are
/// dropped as they are loaded (an object stream is seen before it is unpacked), so the rest of
/// the load is cheap, and the load is then refused.
fn load(bytes: &[u8], limits: &Limits, deadline: Deadline) -> Result<Document, LoadError> {
    let attempt = |force_reconstruct: bool| {
        LOAD_BUDGET.with(|b| {
            *b.borrow_mut() = Some(LoadBudget {
                left: limits.load_objects,
                deadline,
                refused: None,
            })
        });
        let options = lopdf::LoadOptions {
            max_decompressed_size: Some(limits.load_stream),
            filter: Some(keep_object),
            force_reconstruct,
            ..Default::default()
        };
        let loaded = Document::load_mem_with_options(bytes, options);
        let refused = LOAD_BUDGET.with(|b| b.borrow_mut().take().and_then(|b| b.refused));
        match (refused, loaded) {
            (Some(e), _) => Err(LoadError::Pdf(e)),
            (None, loaded) => loaded.map_err(LoadError::Lopdf),
        }
    };
    let doc = attempt(false)?;
    // lopdf rebuilds a damaged cross-reference table whose page tree did not load only when no
    // filter is given; do the same.
    if doc.page_iter().next().is_none() && doc.trailer.get(b"Encrypt").is_err() {
        if let Ok(rebuilt) = attempt(true) {
            if rebuilt.page_iter().next().is_some() {
                return Ok(rebuilt);
            }
        }
    }
    Ok(doc)
}

fn keep_object(id: lopdf::ObjectId, object: &mut Object) -> Option<(lopdf::ObjectId, Object)> {
    let keep = LOAD_BUDGET.with(|b| {
        let mut b = b.borrow_mut();
        let Some(budget) = b.as_mut() else {
            return true;
        };
        if budget.refused.is_some() {
            return false;
        }
        if let Err(e) = budget.deadline.check() {
            budget.refused = Some(e);
            return false;
        }
        match budget.left.checked_sub(object_size(object)) {
            Some(left) => {
                budget.left = left;
                true
            }
            None => {
                budget.refused = Some(PdfError::TooLarge(
                    "its objects take too much memory to load".into(),
                ));
                false
            }
        }
    });
    // lopdf keeps `object` itself for objects at the top level of the file and the returned
    // copy for objects unpacked from an object stream, which never holds streams.
    keep.then(|| match object {
        Object::Stream(_) => (id, Object::Null),
        other => (id, other.clone()),
    })
}

/// Roughly the memory `object` takes once loaded.
fn object_size(object: &Object) -> usize {
    const NODE: usize = std::mem::size_of::<Object>();
    NODE + match object {
        Object::Name(b) | Object::String(b, _) => b.len(),
        Object::Array(items) => items.iter().map(object_size).sum(),
        Object::Dictionary(d) => dictionary_size(d),
        Object::Stream(s) => dictionary_size(&s.dict) + s.content.len(),
        _ => 0,
    }
}

fn dictionary_size(d: &Dictionary) -> usize {
    // Keys are vectors in an index map: their bytes plus about two words of entry each.
    d.iter()
        .map(|(k, v)| k.len() + 2 * std::mem::size_of::<usize>() + object_size(v))
        .sum()
}

fn is_over_limit(e: &lopdf::Error) -> bool {
    matches!(
        e,
        lopdf::Error::Decompress(lopdf::DecompressError::MemoryLimitExceeded { .. })
    )
}

/// Operators between deadline checks.
const OPS_PER_CHECK: usize = 256;

/// Page-by-page text extraction over one loaded document, charging what it decompresses and
/// reads against the file's budgets.
struct Extractor<'a> {
    doc: &'a Document,
    limits: &'a Limits,
    deadline: Deadline,
    content_used: usize,
    text_used: usize,
    /// Font encodings by font dictionary (its address: the document is not changed while it is
    /// read), so a font shared by every page has its text map decoded once.
    encodings: HashMap<*const Dictionary, Option<Encoding<'a>>>,
}

impl<'a> Extractor<'a> {
    fn new(doc: &'a Document, limits: &'a Limits, deadline: Deadline) -> Self {
        Extractor {
            doc,
            limits,
            deadline,
            content_used: 0,
            text_used: 0,
            encodings: HashMap::new(),
        }
    }

    fn pages(mut self) -> Result<Vec<PageText>, PdfError> {
        let ids: Vec<_> = self.doc.page_iter().collect();
        if ids.is_empty() {
            return Err(PdfError::Unreadable("it has no pages".into()));
        }
        if ids.len() > self.limits.pages {
            return Err(PdfError::TooManyPages {
                pages: ids.len(),
                max: self.limits.pages,
            });
        }
        let mut out = Vec::with_capacity(ids.len());
        for (i, id) in ids.into_iter().enumerate() {
            self.deadline.check()?;
            out.push(self.page(i + 1, id)?);
        }
        Ok(out)
    }

    fn charge_content(&mut self, bytes: usize) -> Result<(), PdfError> {
        self.content_used += bytes;
        if self.content_used > self.limits.file_content {
            return Err(PdfError::TooLarge(format!(
                "its pages decompress to more than {} in total",
                human(self.limits.file_content)
            )));
        }
        Ok(())
    }

    /// The page's fonts by resource name; fonts whose encoding cannot be read are left out
    /// (their text cannot be decoded), as lopdf's own extraction does.
    fn fonts(
        &mut self,
        page: lopdf::ObjectId,
    ) -> Result<BTreeMap<Vec<u8>, *const Dictionary>, PdfError> {
        let doc = self.doc;
        let Ok(fonts) = doc.get_page_fonts(page) else {
            return Ok(BTreeMap::new());
        };
        let mut by_name = BTreeMap::new();
        for (name, font) in fonts {
            let key: *const Dictionary = font;
            if !self.encodings.contains_key(&key) {
                let budget = self
                    .limits
                    .page_content
                    .min(self.limits.file_content.saturating_sub(self.content_used));
                // The text map is decompressed by lopdf inside the encoding; measuring it first
                // lets many distinct fonts count against the file's budget.
                if let Ok(map) = font
                    .get_deref(b"ToUnicode", doc)
                    .and_then(Object::as_stream)
                {
                    match map.decompressed_content_with_limit(budget) {
                        Ok(data) => self.charge_content(data.len())?,
                        Err(e) if is_over_limit(&e) => {
                            return Err(PdfError::TooLarge(format!(
                                "a font's text map decompresses to more than {}",
                                human(budget)
                            )))
                        }
                        Err(_) => {}
                    }
                }
                let encoding = match font.get_font_encoding_with_limit(doc, budget) {
                    Ok(e) => Some(e),
                    Err(e) if is_over_limit(&e) => {
                        return Err(PdfError::TooLarge(format!(
                            "a font's text map decompresses to more than {}",
                            human(budget)
                        )))
                    }
                    Err(_) => None,
                };
                self.encodings.insert(key, encoding);
            }
            by_name.insert(name, key);
        }
        Ok(by_name)
    }

    fn page(&mut self, number: usize, id: lopdf::ObjectId) -> Result<PageText, PdfError> {
        let fonts = self.fonts(id)?;
        let content = self
            .doc
            .get_page_content_with_limit(id, self.limits.page_content)
            .map_err(|e| {
                if is_over_limit(&e) {
                    PdfError::TooLarge(format!(
                        "the content of page {number} decompresses to more than {}",
                        human(self.limits.page_content)
                    ))
                } else {
                    PdfError::Unreadable(format!("page {number}: {e}"))
                }
            })?;
        self.charge_content(content.len())?;
        let page_text = self.limits.page_text;
        let mut text = String::new();
        let mut truncated = false;
        let mut encoding: Option<&Encoding> = None;
        // A stream that stops parsing part-way keeps the text read so far, as lopdf's own
        // extraction keeps the operators before the error.
        for (n, op) in Content::decode_iter(&content)
            .map_while(Result::ok)
            .enumerate()
        {
            if n % OPS_PER_CHECK == 0 {
                self.deadline.check()?;
            }
            match op.operator.as_str() {
                "Tf" => {
                    encoding = op
                        .operands
                        .first()
                        .and_then(|o| o.as_name().ok())
                        .and_then(|name| fonts.get(name))
                        .and_then(|key| self.encodings.get(key))
                        .and_then(Option::as_ref);
                }
                "Tj" | "TJ" => {
                    if let Some(enc) = encoding {
                        collect_text(&mut text, enc, &op.operands, page_text);
                    }
                }
                // `'` and `"` move to the next line, then show their last string operand.
                "'" | "\"" => {
                    if let Some(enc) = encoding {
                        if !text.ends_with('\n') {
                            text.push('\n');
                        }
                        let shown = op.operands.last().map(std::slice::from_ref);
                        collect_text(&mut text, enc, shown.unwrap_or_default(), page_text);
                    }
                }
                "T*" | "ET" if !text.ends_with('\n') => text.push('\n'),
                _ => {}
            }
            if text.len() > page_text {
                truncated = true;
                break;
            }
        }
        let mut text = tidy(&text);
        if truncated {
            let end = floor_char_boundary(&text, self.limits.page_text);
            text.truncate(end);
        }
        self.text_used += text.len();
        if self.text_used > self.limits.file_text {
            return Err(PdfError::TooLarge(format!(
                "it holds more than {} of text",
                human(self.limits.file_text)
            )));
        }
        Ok(PageText { text, truncated })
    }
}

/// Bytes of a string decoded at a time through a font's text map. A text map can send one
/// code to a long string, so a long string is decoded in steps with the page's text limit
/// checked between them; 4 keeps 1-, 2- and 4-byte codes whole.
const MAPPED_BYTES_PER_STEP: usize = 4;

/// Appends the text a show-text operator's operands draw, up to about `max` bytes of `text`; a
/// large negative kerning in a `TJ` array reads as a space. Undecodable strings are skipped.
fn collect_text(text: &mut String, encoding: &Encoding, operands: &[Object], max: usize) {
    for operand in operands {
        if text.len() > max {
            return;
        }
        match operand {
            Object::String(bytes, _) => match encoding {
                Encoding::UnicodeMapEncoding(_) => {
                    for step in bytes.chunks(MAPPED_BYTES_PER_STEP) {
                        let _ = encoding.write_to_string(step, text);
                        if text.len() > max {
                            return;
                        }
                    }
                }
                // At most a few bytes of text per byte of the string.
                _ => {
                    let _ = encoding.write_to_string(bytes, text);
                }
            },
            Object::Array(items) => {
                collect_text(text, encoding, items, max);
                text.push(' ');
            }
            Object::Integer(i) if *i < -100 => text.push(' '),
            _ => {}
        }
    }
}

/// A byte limit as people read it.
fn human(bytes: usize) -> String {
    if bytes >= MIB {
        format!("{} MiB", bytes / MIB)
    } else {
        format!("{} KiB", bytes / 1024)
    }
}

fn floor_char_boundary(text: &str, max: usize) -> usize {
    let mut end = max.min(text.len());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    end
}

/// Lines trimmed, blank lines dropped.
fn tidy(text: &str) -> String {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join("\n")
}

/// Bytes `c` takes in a JSON string as serde_json writes it.
fn json_len(c: char) -> usize {
    match c {
        '"' | '\\' | '\u{8}' | '\u{c}' | '\n' | '\r' | '\t' => 2,
        c if c < ' ' => 6,
        c => c.len_utf8(),
    }
}

/// The longest prefix of `text` that takes at most `max` bytes serialized as JSON (the measure
/// of the vertical_data limit), and whether it is shorter than `text`.
fn cut(text: &str, max: usize) -> (&str, bool) {
    let mut size = 0;
    for (i, c) in text.char_indices() {
        size += json_len(c);
        if size > max {
            return (&text[..i], true);
        }
    }
    (text, false)
}

/// The records of a document: one for 1–3 pages, else one per page. Names come from the file
/// name; `source_id`s from the file name and pages, so uploading a new edition of the same
/// file updates its records.
pub fn records(file_name: Option<&str>, pages: Vec<PageText>) -> Vec<Value> {
    let title = file_name
        .map(|f| {
            f.strip_suffix(".pdf")
                .or_else(|| f.strip_suffix(".PDF"))
                .unwrap_or(f)
        })
        .filter(|t| !t.trim().is_empty())
        .unwrap_or("PDF document");
    let page_count = pages.len();
    let record = |name: String, pages_key: Map<String, Value>, page: PageText, sid: String| {
        let mut data = Map::new();
        if let Some(f) = file_name {
            data.insert("file_name".into(), Value::String(f.to_owned()));
        }
        data.extend(pages_key);
        data.insert("page_count".into(), page_count.into());
        // What the other fields leave of the vertical_data limit, with room for the text and
        // truncation keys.
        let rest = serde_json::to_vec(&data).map_or(0, |v| v.len())
            + r#","text":"","text_truncated":true"#.len();
        let budget =
            MAX_TEXT_BYTES.min(crate::entity_input::MAX_VERTICAL_DATA_BYTES.saturating_sub(rest));
        let (kept, cut_here) = cut(&page.text, budget);
        let (kept, truncated) = (kept.len(), page.truncated || cut_here);
        let mut text = page.text;
        text.truncate(kept);
        data.insert("text".into(), Value::String(text));
        if truncated {
            data.insert("text_truncated".into(), Value::Bool(true));
        }
        let mut rec = Map::new();
        rec.insert("name".into(), Value::String(name));
        if file_name.is_some() {
            rec.insert("source_id".into(), Value::String(sid));
        }
        rec.insert("vertical_data".into(), Value::Object(data));
        Value::Object(rec)
    };
    let file = file_name.unwrap_or("");
    if page_count <= WHOLE_DOCUMENT_PAGES {
        let mut keys = Map::new();
        keys.insert("page_start".into(), 1.into());
        keys.insert("page_end".into(), page_count.into());
        let whole = PageText {
            truncated: pages.iter().any(|p| p.truncated),
            text: pages
                .into_iter()
                .map(|p| p.text)
                .collect::<Vec<_>>()
                .join("\n\n"),
        };
        vec![record(title.to_owned(), keys, whole, format!("pdf:{file}"))]
    } else {
        pages
            .into_iter()
            .enumerate()
            .map(|(i, page)| {
                let mut keys = Map::new();
                keys.insert("page".into(), (i + 1).into());
                record(
                    format!("{title} — page {}", i + 1),
                    keys,
                    page,
                    format!("pdf:{file}#page={}", i + 1),
                )
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> Vec<u8> {
        std::fs::read(format!(
            "{}/tests/fixtures/{name}",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap()
    }

    fn texts(bytes: &[u8]) -> Result<Vec<String>, PdfError> {
        with_limits(bytes, &Limits::DEFAULT)
    }

    fn with_limits(bytes: &[u8], limits: &Limits) -> Result<Vec<String>, PdfError> {
        let pages = page_texts(bytes, limits, Deadline::after(PARSE_LIMIT))?;
        Ok(pages.into_iter().map(|p| p.text).collect())
    }

    fn page(text: &str) -> PageText {
        PageText {
            text: text.to_owned(),
            truncated: false,
        }
    }

    /// A PDF of pages with the given content streams, flate-compressed, Helvetica as `/F1`.
    fn pdf(pages: &[Vec<u8>]) -> Vec<u8> {
        use lopdf::{dictionary, Stream};
        let mut doc = Document::with_version("1.5");
        let pages_id = doc.new_object_id();
        let font = doc.add_object(dictionary! {
            "Type" => "Font", "Subtype" => "Type1", "BaseFont" => "Helvetica",
        });
        let resources = doc.add_object(dictionary! { "Font" => dictionary! { "F1" => font } });
        let mut kids: Vec<Object> = Vec::new();
        for content in pages {
            let mut stream = Stream::new(dictionary! {}, content.clone());
            stream.compress().unwrap();
            let content = doc.add_object(stream);
            let page = doc.add_object(dictionary! {
                "Type" => "Page", "Parent" => pages_id, "Contents" => content,
            });
            kids.push(page.into());
        }
        let count = kids.len() as i64;
        doc.objects.insert(
            pages_id,
            Object::Dictionary(dictionary! {
                "Type" => "Pages", "Kids" => kids, "Count" => count, "Resources" => resources,
            }),
        );
        let catalog = doc.add_object(dictionary! { "Type" => "Catalog", "Pages" => pages_id });
        doc.trailer.set("Root", catalog);
        let mut out = Vec::new();
        doc.save_to(&mut out).unwrap();
        out
    }

    fn shown(text: &str) -> Vec<u8> {
        format!("BT /F1 12 Tf ({text}) Tj ET").into_bytes()
    }

    #[test]
    fn text_per_page() {
        let pages = texts(&fixture("datasheet_2p.pdf")).unwrap();
        assert_eq!(pages.len(), 2);
        assert!(pages[0].contains("Servo motor SM-4820"), "{pages:?}");
        assert!(pages[1].contains("SM-4820-B"), "{pages:?}");
        let pages = texts(&fixture("catalogue_5p.pdf")).unwrap();
        assert_eq!(pages.len(), 5);
        assert!(
            pages[3].contains("DIN 71412"),
            "compressed streams: {pages:?}"
        );
        let made = pdf(&[
            b"BT /F1 12 Tf (one) Tj T* [(tw) -200 (o)] TJ (three) ' ET".to_vec(),
            shown("four"),
        ]);
        assert_eq!(texts(&made).unwrap(), ["one\ntw o\nthree", "four"]);
    }

    #[test]
    fn slow_parses_are_given_up() {
        let slow = within(Duration::from_millis(20), || {
            std::thread::sleep(Duration::from_millis(500));
            Ok(1)
        });
        assert!(matches!(slow, Err(PdfError::TooSlow { .. })));
        let quick = page_texts_within(
            actix_web::web::Bytes::from(fixture("datasheet_2p.pdf")),
            Duration::from_secs(30),
        );
        assert_eq!(quick.unwrap().len(), 2);
    }

    #[test]
    fn work_stops_at_the_deadline() {
        let many: Vec<_> = (0..2_000).map(|i| shown(&format!("page {i}"))).collect();
        let file = pdf(&many);
        let started = Instant::now();
        let past = Deadline {
            at: Instant::now(),
            limit: PARSE_LIMIT,
        };
        assert_eq!(
            page_texts(&file, &Limits::DEFAULT, past),
            Err(PdfError::TooSlow { seconds: 30 })
        );
        assert!(started.elapsed() < Duration::from_secs(2));
    }

    #[test]
    fn costs_are_bounded() {
        let small = Limits {
            load_stream: MIB,
            load_objects: 64 * MIB,
            page_content: 64 * 1024,
            file_content: 100 * 1024,
            page_text: 1000,
            file_text: 2500,
            pages: 3,
        };
        // One page's content over the page limit.
        let big = format!("BT /F1 12 Tf {} ET", "(A) Tj ".repeat(10_000));
        let err = with_limits(&pdf(&[big.into_bytes()]), &small).unwrap_err();
        assert_eq!(
            err,
            PdfError::TooLarge("the content of page 1 decompresses to more than 64 KiB".into())
        );
        // Pages each under the limit, together over the file's.
        let half = format!("BT /F1 12 Tf {} ET", "(A) Tj ".repeat(5_000)).into_bytes();
        let limits = Limits { pages: 10, ..small };
        assert!(matches!(
            with_limits(&pdf(&vec![half; 3]), &limits),
            Err(PdfError::TooLarge(m)) if m.contains("in total")
        ));
        // Text over a page's limit is cut and flagged; over the file's, refused.
        let long = shown(&"x".repeat(3_000));
        let pages = page_texts(
            &pdf(std::slice::from_ref(&long)),
            &small,
            Deadline::after(PARSE_LIMIT),
        )
        .unwrap();
        assert_eq!(pages[0].text.len(), 1000);
        assert!(pages[0].truncated);
        assert!(matches!(
            with_limits(&pdf(&vec![long; 3]), &small),
            Err(PdfError::TooLarge(m)) if m.contains("text")
        ));
        // More pages than records a batch may hold.
        assert_eq!(
            with_limits(&pdf(&vec![shown("a"); 4]), &small),
            Err(PdfError::TooManyPages { pages: 4, max: 3 })
        );
    }

    #[test]
    fn chunking_by_page_count() {
        let r = records(Some("spec.pdf"), vec![page("a"), page("b")]);
        assert_eq!(r.len(), 1);
        assert_eq!(r[0]["name"], "spec");
        assert_eq!(r[0]["vertical_data"]["page_start"], 1);
        assert_eq!(r[0]["vertical_data"]["page_end"], 2);
        assert_eq!(r[0]["vertical_data"]["text"], "a\n\nb");
        let five: Vec<_> = (1..=5).map(|i| page(&format!("p{i}"))).collect();
        let r = records(Some("cat.pdf"), five);
        assert_eq!(r.len(), 5);
        assert_eq!(r[4]["vertical_data"]["page"], 5);
        assert_eq!(r[4]["vertical_data"]["page_count"], 5);
        assert_eq!(r[4]["source_id"], "pdf:cat.pdf#page=5");
        let r = records(None, vec![page(&"é".repeat(40_000))]);
        assert_eq!(r[0]["vertical_data"]["text_truncated"], true);
        assert!(r[0].get("source_id").is_none());
        let cut_before = PageText {
            text: "short".into(),
            truncated: true,
        };
        let r = records(None, vec![cut_before]);
        assert_eq!(r[0]["vertical_data"]["text_truncated"], true);
    }

    #[test]
    fn text_is_cut_by_its_json_size() {
        let max = crate::entity_input::MAX_VERTICAL_DATA_BYTES;
        // Quotes, backslashes and control characters grow when escaped.
        for text in [
            "\"".repeat(40_000),
            "\\".repeat(50_000),
            "\u{1}".repeat(20_000),
        ] {
            let name = "\"quoted\" \\ name ".repeat(15) + ".pdf";
            let r = records(Some(&name), vec![page(&text)]);
            let data = serde_json::to_vec(&r[0]["vertical_data"]).unwrap();
            assert!(data.len() <= max, "{} bytes", data.len());
            assert!(data.len() > max - 8 * 1024, "cut too short: {}", data.len());
            assert_eq!(r[0]["vertical_data"]["text_truncated"], true);
        }
        assert_eq!(cut("a\"b", 3), ("a\"", true));
        assert_eq!(cut("a\"b", 4), ("a\"b", false));
    }

    /// Object streams each holding an array of many small numbers, which load into far more
    /// memory than their decompressed bytes.
    fn object_stream_bomb(streams: usize, numbers: usize) -> Vec<u8> {
        let mut out = b"%PDF-1.5\n".to_vec();
        let numbers = "0 ".repeat(numbers);
        for i in 0..streams {
            let header = format!("{} 0 ", 1000 + i);
            let mut s = lopdf::Stream::new(
                Dictionary::new(),
                format!("{header}[{numbers}]").into_bytes(),
            );
            s.compress().unwrap();
            out.extend_from_slice(format!("{} 0 obj\n<< /Type /ObjStm /N 1 /First {} /Filter /FlateDecode /Length {} >>\nstream\n", i + 1, header.len(), s.content.len()).as_bytes());
            out.extend_from_slice(&s.content);
            out.extend_from_slice(b"\nendstream\nendobj\n");
        }
        out.extend_from_slice(b"trailer << /Root 1 0 R >>\n%%EOF\n");
        out
    }

    #[test]
    fn loading_is_bounded() {
        let limits = Limits {
            load_stream: 256 * 1024,
            load_objects: 4 * MIB,
            ..Limits::DEFAULT
        };
        let bomb = object_stream_bomb(20, 100_000);
        assert!(matches!(
            with_limits(&bomb, &limits),
            Err(PdfError::TooLarge(m)) if m.contains("memory to load")
        ));
        let bomb = object_stream_bomb(1, 200_000);
        assert_eq!(
            with_limits(&bomb, &limits),
            Err(PdfError::TooLarge(
                "a stream decompresses to more than 256 KiB".into()
            ))
        );
        // The deadline is checked while loading too.
        let past = Deadline {
            at: Instant::now(),
            limit: PARSE_LIMIT,
        };
        assert_eq!(
            page_texts(&object_stream_bomb(20, 1_000), &limits, past),
            Err(PdfError::TooSlow { seconds: 30 })
        );
    }

    #[test]
    fn bad_pdfs_get_reasons() {
        assert_eq!(texts(b"name,price\n"), Err(PdfError::NotPdf));
        assert_eq!(texts(&fixture("encrypted.pdf")), Err(PdfError::Encrypted));
        assert_eq!(
            texts(&fixture("scanned.pdf")),
            Err(PdfError::NoText { pages: 1 })
        );
        assert!(matches!(
            texts(b"%PDF-1.4\n1 0 obj << /Type /Catalog"),
            Err(PdfError::Unreadable(_))
        ));
        // Truncated files may be repaired or refused, but never panic.
        let whole = fixture("catalogue_5p.pdf");
        for cut in (9..whole.len()).step_by(37) {
            let _ = texts(&whole[..cut]);
        }
    }
}
