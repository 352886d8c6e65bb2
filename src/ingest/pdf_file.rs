//! PDF ingestion (API.md §7): text per page with lopdf; 1–3 pages become one record, 4 or more
//! one record per page. Decompression is bounded by lopdf's limits; a parser panic on a hostile
//! file is caught and answered as an unreadable PDF.

use serde_json::{Map, Value};

/// Pages up to which a document is one record.
const WHOLE_DOCUMENT_PAGES: usize = 3;
/// Text kept per record, so the record stays within the vertical_data limit.
const MAX_TEXT_BYTES: usize = 60 * 1024;

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
        }
    }
}

/// How long reading one PDF may take.
pub const PARSE_LIMIT: std::time::Duration = std::time::Duration::from_secs(30);

/// [`page_texts`] on its own thread, given up after `limit`: a pathological file gets an
/// answer instead of holding the request (its thread finishes in the background).
pub fn page_texts_within(
    bytes: actix_web::web::Bytes,
    limit: std::time::Duration,
) -> Result<Vec<String>, PdfError> {
    within(limit, move || page_texts(&bytes))
}

fn within<T: Send + 'static>(
    limit: std::time::Duration,
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
pub fn page_texts(bytes: &[u8]) -> Result<Vec<String>, PdfError> {
    let start = bytes
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(bytes.len());
    if !bytes[start..].starts_with(b"%PDF-") {
        return Err(PdfError::NotPdf);
    }
    let names_encryption = bytes.windows(8).any(|w| w == b"/Encrypt");
    let parsed = std::panic::catch_unwind(|| -> Result<Vec<String>, PdfError> {
        let doc = lopdf::Document::load_mem(bytes).map_err(|e| {
            if names_encryption {
                PdfError::Encrypted
            } else {
                PdfError::Unreadable(e.to_string())
            }
        })?;
        if doc.is_encrypted() {
            return Err(PdfError::Encrypted);
        }
        let pages = doc.get_pages();
        if pages.is_empty() {
            return Err(PdfError::Unreadable("it has no pages".into()));
        }
        Ok(pages
            .keys()
            .map(|&n| doc.extract_text(&[n]).map(|t| tidy(&t)).unwrap_or_default())
            .collect())
    });
    let texts =
        parsed.unwrap_or_else(|_| Err(PdfError::Unreadable("malformed PDF structure".into())))?;
    if texts.iter().all(|t| t.is_empty()) {
        return Err(PdfError::NoText { pages: texts.len() });
    }
    Ok(texts)
}

/// Lines trimmed, blank lines dropped.
fn tidy(text: &str) -> String {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join("\n")
}

fn cut(text: &str) -> (&str, bool) {
    if text.len() <= MAX_TEXT_BYTES {
        return (text, false);
    }
    let mut end = MAX_TEXT_BYTES;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    (&text[..end], true)
}

/// The records of a document: one for 1–3 pages, else one per page. Names come from the file
/// name; `source_id`s from the file name and pages, so uploading a new edition of the same
/// file updates its records.
pub fn records(file_name: Option<&str>, pages: &[String]) -> Vec<Value> {
    let title = file_name
        .map(|f| {
            f.strip_suffix(".pdf")
                .or_else(|| f.strip_suffix(".PDF"))
                .unwrap_or(f)
        })
        .filter(|t| !t.trim().is_empty())
        .unwrap_or("PDF document");
    let page_count = pages.len();
    let record = |name: String, pages_key: Map<String, Value>, text: &str, sid: String| {
        let (text, truncated) = cut(text);
        let mut data = Map::new();
        if let Some(f) = file_name {
            data.insert("file_name".into(), Value::String(f.to_owned()));
        }
        data.extend(pages_key);
        data.insert("page_count".into(), page_count.into());
        data.insert("text".into(), Value::String(text.to_owned()));
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
        vec![record(
            title.to_owned(),
            keys,
            &pages.join("\n\n"),
            format!("pdf:{file}"),
        )]
    } else {
        pages
            .iter()
            .enumerate()
            .map(|(i, text)| {
                let mut keys = Map::new();
                keys.insert("page".into(), (i + 1).into());
                record(
                    format!("{title} — page {}", i + 1),
                    keys,
                    text,
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

    #[test]
    fn text_per_page() {
        let pages = page_texts(&fixture("datasheet_2p.pdf")).unwrap();
        assert_eq!(pages.len(), 2);
        assert!(pages[0].contains("Servo motor SM-4820"), "{pages:?}");
        assert!(pages[1].contains("SM-4820-B"), "{pages:?}");
        let pages = page_texts(&fixture("catalogue_5p.pdf")).unwrap();
        assert_eq!(pages.len(), 5);
        assert!(
            pages[3].contains("DIN 71412"),
            "compressed streams: {pages:?}"
        );
    }

    #[test]
    fn slow_parses_are_given_up() {
        use std::time::Duration;
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
    fn chunking_by_page_count() {
        let two = vec!["a".to_owned(), "b".to_owned()];
        let r = records(Some("spec.pdf"), &two);
        assert_eq!(r.len(), 1);
        assert_eq!(r[0]["name"], "spec");
        assert_eq!(r[0]["vertical_data"]["page_start"], 1);
        assert_eq!(r[0]["vertical_data"]["page_end"], 2);
        assert_eq!(r[0]["vertical_data"]["text"], "a\n\nb");
        let five: Vec<String> = (1..=5).map(|i| format!("p{i}")).collect();
        let r = records(Some("cat.pdf"), &five);
        assert_eq!(r.len(), 5);
        assert_eq!(r[4]["vertical_data"]["page"], 5);
        assert_eq!(r[4]["vertical_data"]["page_count"], 5);
        assert_eq!(r[4]["source_id"], "pdf:cat.pdf#page=5");
        let long = vec!["é".repeat(40_000)];
        let r = records(None, &long);
        assert_eq!(r[0]["vertical_data"]["text_truncated"], true);
        assert!(r[0].get("source_id").is_none());
    }

    #[test]
    fn bad_pdfs_get_reasons() {
        assert_eq!(page_texts(b"name,price\n"), Err(PdfError::NotPdf));
        assert_eq!(
            page_texts(&fixture("encrypted.pdf")),
            Err(PdfError::Encrypted)
        );
        assert_eq!(
            page_texts(&fixture("scanned.pdf")),
            Err(PdfError::NoText { pages: 1 })
        );
        assert!(matches!(
            page_texts(b"%PDF-1.4\n1 0 obj << /Type /Catalog"),
            Err(PdfError::Unreadable(_))
        ));
        // Truncated files may be repaired or refused, but never panic.
        let whole = fixture("catalogue_5p.pdf");
        for cut in (9..whole.len()).step_by(37) {
            let _ = page_texts(&whole[..cut]);
        }
    }
}
