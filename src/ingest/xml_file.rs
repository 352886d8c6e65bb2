//! XML uploads: BMEcat catalogs and SAP IDocs (API.md §7).
//!
//! A document is read twice, both times as a stream of events: [`inspect`] checks the whole of
//! it (well-formed, not truncated, no entity declarations, bounded nesting) and tells its kind
//! before anything is stored; [`records`] then yields one record per `ARTICLE`/`PRODUCT` or
//! `IDOC` element, building a small tree of that element only. Memory stays bounded by the
//! document plus one record.
//!
//! Entities: only the five predefined ones and character references are resolved. A DOCTYPE
//! that declares entities is refused outright, so entity-expansion bombs never expand.

use quick_xml::events::{BytesStart, Event};
use quick_xml::{Reader, XmlVersion};
use serde_json::{Map, Value};

use super::batch::Row;
use super::record::typed;
use crate::entity_input::FieldError;

/// Deeper nesting than this is refused (real catalogs and IDocs stay under 15).
const MAX_DEPTH: usize = 64;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum XmlKind {
    Bmecat,
    Idoc,
}

impl XmlKind {
    pub fn source_type(self) -> &'static str {
        match self {
            XmlKind::Bmecat => "bmecat",
            XmlKind::Idoc => "idoc",
        }
    }
}

/// The document as text. XML is UTF-8 unless it declares otherwise; ISO-8859-1 (common in
/// older BMEcat exports) is transcoded.
pub fn text(bytes: &[u8]) -> Result<std::borrow::Cow<'_, str>, String> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let head = &bytes[..bytes.len().min(200)];
    let head = String::from_utf8_lossy(head).to_ascii_lowercase();
    let latin1 = head.starts_with("<?xml")
        && ["iso-8859-1", "latin1", "latin-1", "windows-1252"]
            .iter()
            .any(|e| head.contains(e));
    match std::str::from_utf8(bytes) {
        Ok(s) => Ok(s.into()),
        Err(_) if latin1 => Ok(bytes.iter().map(|&b| b as char).collect::<String>().into()),
        Err(e) => Err(format!(
            "the XML is not valid UTF-8 ({e}) and declares no supported encoding"
        )),
    }
}

fn reader(text: &str) -> Reader<&[u8]> {
    let mut r = Reader::from_str(text);
    let c = r.config_mut();
    // Not trimmed: text around `&amp;` arrives in pieces; values are trimmed where used.
    c.trim_text(false);
    c.check_end_names = true;
    c.expand_empty_elements = true;
    r
}

fn local(e: &BytesStart<'_>) -> String {
    e.local_name().as_ref().to_owned()
}

/// The text of a `&name;` reference: predefined entities and character references only.
fn resolve_ref(r: &quick_xml::events::BytesRef<'_>) -> Result<String, String> {
    if r.is_char_ref() {
        return match r.resolve_char_ref() {
            Ok(Some(c)) => Ok(c.to_string()),
            _ => Err(format!("invalid character reference &{};", &**r)),
        };
    }
    match &**r {
        "amp" => Ok("&".into()),
        "lt" => Ok("<".into()),
        "gt" => Ok(">".into()),
        "quot" => Ok("\"".into()),
        "apos" => Ok("'".into()),
        other => Err(format!(
            "undefined entity &{other}; (entity declarations are not supported)"
        )),
    }
}

fn position(r: &Reader<&[u8]>) -> String {
    format!("at byte {}", r.buffer_position())
}

#[derive(Debug, PartialEq, Eq)]
pub enum XmlError {
    /// Not well-formed, truncated, hostile or undecodable (400).
    Malformed(String),
    /// Well-formed, but neither BMEcat nor an IDoc (422).
    Unsupported(String),
}

/// Checks the whole document and tells whether it is a BMEcat catalog or an IDoc.
pub fn inspect(text: &str) -> Result<XmlKind, XmlError> {
    let (root, has_control_record) = scan(text).map_err(XmlError::Malformed)?;
    match root.as_deref() {
        None => Err(XmlError::Malformed("the XML file has no root element".into())),
        Some("BMECAT") => Ok(XmlKind::Bmecat),
        Some(_) if has_control_record => Ok(XmlKind::Idoc),
        Some(other) => Err(XmlError::Unsupported(format!(
            "unsupported XML document <{other}>: expected a BMEcat catalog (<BMECAT>) or a SAP IDoc (with EDI_DC40 control records)"
        ))),
    }
}

/// Reads every event: the root element's name and whether an IDoc control record occurs.
fn scan(text: &str) -> Result<(Option<String>, bool), String> {
    let mut r = reader(text);
    let mut open: Vec<String> = Vec::new();
    let mut root: Option<String> = None;
    let mut has_control_record = false;
    loop {
        let event = r.read_event().map_err(|e| {
            if r.buffer_position() >= text.len() as u64 {
                format!("the XML is truncated: {e}")
            } else {
                format!("malformed XML {}: {e}", position(&r))
            }
        })?;
        match event {
            Event::DocType(d) if d.to_ascii_uppercase().contains("<!ENTITY") => {
                return Err(
                    "the XML declares entities in its DOCTYPE; entity declarations are refused"
                        .into(),
                );
            }
            Event::Start(e) => {
                let name = local(&e);
                if open.is_empty() && root.is_some() {
                    return Err(format!(
                        "malformed XML {}: more than one root element",
                        position(&r)
                    ));
                }
                has_control_record |= name == "EDI_DC40";
                root.get_or_insert_with(|| name.clone());
                for a in e.attributes() {
                    let a = a.map_err(|e| format!("malformed XML {}: {e}", position(&r)))?;
                    a.normalized_value(XmlVersion::Implicit1_0)
                        .map_err(|e| format!("malformed XML {}: {e}", position(&r)))?;
                }
                open.push(name);
                if open.len() > MAX_DEPTH {
                    return Err(format!("the XML nests deeper than {MAX_DEPTH} elements"));
                }
            }
            Event::End(_) => {
                open.pop();
            }
            Event::GeneralRef(g) => {
                resolve_ref(&g).map_err(|e| format!("{e} {}", position(&r)))?;
            }
            Event::Text(t) if open.is_empty() && !t.trim().is_empty() => {
                return Err(format!(
                    "malformed XML {}: text outside the root element",
                    position(&r)
                ));
            }
            Event::Eof => break,
            _ => {}
        }
    }
    if let Some(unclosed) = open.last() {
        return Err(format!(
            "the XML is truncated: <{unclosed}> is never closed"
        ));
    }
    Ok((root, has_control_record))
}

/// One element of a record: name, attributes, text and children.
#[derive(Debug, Default)]
struct Node {
    name: String,
    attrs: Vec<(String, String)>,
    text: String,
    children: Vec<Node>,
}

impl Node {
    fn is_leaf(&self) -> bool {
        self.children.is_empty()
    }

    /// The first descendant (or self) named `name`, depth first.
    fn find(&self, name: &str) -> Option<&Node> {
        if self.name == name {
            return Some(self);
        }
        self.children.iter().find_map(|c| c.find(name))
    }

    fn text_of(&self, name: &str) -> Option<&str> {
        self.find(name)
            .map(|n| n.text.trim())
            .filter(|t| !t.is_empty())
    }

    fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Reads the element whose start tag was just read, to its end tag.
fn read_node(r: &mut Reader<&[u8]>, start: &BytesStart<'_>) -> Result<Node, String> {
    let new = |e: &BytesStart<'_>| -> Result<Node, String> {
        let mut attrs = Vec::new();
        for a in e.attributes() {
            let a = a.map_err(|e| e.to_string())?;
            let v = a
                .normalized_value(XmlVersion::Implicit1_0)
                .map_err(|e| e.to_string())?;
            attrs.push((a.key.local_name().as_ref().to_owned(), v.into_owned()));
        }
        Ok(Node {
            name: local(e),
            attrs,
            ..Node::default()
        })
    };
    let mut stack = vec![new(start)?];
    loop {
        let event = r.read_event().map_err(|e| e.to_string())?;
        let Some(top) = stack.last_mut() else {
            return Err("unbalanced XML".into());
        };
        match event {
            Event::Start(e) => stack.push(new(&e)?),
            Event::End(_) => {
                let done = stack.pop().ok_or("unbalanced XML")?;
                match stack.last_mut() {
                    Some(parent) => parent.children.push(done),
                    None => return Ok(done),
                }
            }
            Event::Text(t) => top.text.push_str(&t.xml10_content()),
            Event::CData(c) => top.text.push_str(&c),
            Event::GeneralRef(g) => top.text.push_str(&resolve_ref(&g)?),
            Event::Eof => return Err("the XML is truncated".into()),
            _ => {}
        }
    }
}

/// The records of a document that [`inspect`] accepted as `kind`, one per record element.
pub fn records(text: &str, kind: XmlKind) -> impl Iterator<Item = Row> + '_ {
    let mut r = reader(text);
    let mut root_name: Option<String> = None;
    std::iter::from_fn(move || loop {
        let event = match r.read_event() {
            Ok(e) => e,
            // inspect() read the same text without error.
            Err(_) => return None,
        };
        match event {
            Event::Start(e) => {
                let name = local(&e);
                root_name.get_or_insert_with(|| name.clone());
                let is_record = match kind {
                    XmlKind::Bmecat => name == "ARTICLE" || name == "PRODUCT",
                    XmlKind::Idoc => name == "IDOC",
                };
                if is_record {
                    let node = match read_node(&mut r, &e) {
                        Ok(n) => n,
                        Err(msg) => return Some(Err((xml_error(msg), Value::Null))),
                    };
                    return Some(match kind {
                        XmlKind::Bmecat => Ok(bmecat_record(&node)),
                        XmlKind::Idoc => Ok(idoc_record(node, root_name.as_deref())),
                    });
                }
            }
            Event::Eof => return None,
            _ => {}
        }
    })
}

fn xml_error(message: String) -> FieldError {
    FieldError {
        field: None,
        error_type: "invalid_xml",
        message,
    }
}

/// BMEcat tags mapped to record fields (not copied again as other fields).
const BMECAT_MAPPED: &[&str] = &[
    "SUPPLIER_AID",
    "SUPPLIER_PID",
    "DESCRIPTION_SHORT",
    "DESCRIPTION_LONG",
];

/// Every leaf under `node` not in `skip` and not inside a `skip_under` element, as lower-case
/// key → typed value; the first occurrence of a tag wins.
fn other_fields(node: &Node, skip: &[&str], skip_under: &[&str], out: &mut Map<String, Value>) {
    for c in &node.children {
        if skip_under.contains(&c.name.as_str()) {
            continue;
        }
        if c.is_leaf() {
            let t = c.text.trim();
            if !t.is_empty() && !skip.contains(&c.name.as_str()) {
                out.entry(c.name.to_ascii_lowercase())
                    .or_insert_with(|| typed(t));
            }
        } else {
            other_fields(c, skip, skip_under, out);
        }
    }
}

/// `ARTICLE` (BMEcat 1.2) or `PRODUCT` (BMEcat 2005): `SUPPLIER_AID`/`SUPPLIER_PID` →
/// `part_number` (and `source_id`, so re-uploads update), `DESCRIPTION_SHORT` → name,
/// `DESCRIPTION_LONG` → description, the first price → `price`, `currency`, `price_type`,
/// features → their `FNAME` (with `<FNAME>_unit`), other leaf fields by lower-case tag.
fn bmecat_record(node: &Node) -> Value {
    let mut rec = Map::new();
    let mut data = Map::new();
    let aid = node
        .text_of("SUPPLIER_AID")
        .or_else(|| node.text_of("SUPPLIER_PID"));
    if let Some(aid) = aid {
        data.insert("part_number".into(), Value::String(aid.to_owned()));
        rec.insert("source_id".into(), Value::String(aid.to_owned()));
    }
    if let Some(n) = node.text_of("DESCRIPTION_SHORT") {
        rec.insert("name".into(), Value::String(n.to_owned()));
    }
    if let Some(d) = node.text_of("DESCRIPTION_LONG") {
        rec.insert("description".into(), Value::String(d.to_owned()));
    }
    let price = node
        .find("ARTICLE_PRICE")
        .or_else(|| node.find("PRODUCT_PRICE"));
    if let Some(p) = price {
        if let Some(amount) = p.text_of("PRICE_AMOUNT") {
            data.insert("price".into(), typed(amount));
        }
        if let Some(c) = p.text_of("PRICE_CURRENCY") {
            data.insert("currency".into(), Value::String(c.to_owned()));
        }
        if let Some(t) = p.attr("price_type") {
            data.insert("price_type".into(), Value::String(t.to_owned()));
        }
    }
    collect_features(node, &mut data);
    other_fields(
        node,
        BMECAT_MAPPED,
        &["FEATURE", "ARTICLE_PRICE", "PRODUCT_PRICE"],
        &mut data,
    );
    rec.insert("vertical_data".into(), Value::Object(data));
    Value::Object(rec)
}

fn collect_features(node: &Node, data: &mut Map<String, Value>) {
    for c in &node.children {
        if c.name == "FEATURE" {
            let (Some(name), Some(value)) = (c.text_of("FNAME"), c.text_of("FVALUE")) else {
                continue;
            };
            data.entry(name.to_owned()).or_insert_with(|| typed(value));
            if let Some(unit) = c.text_of("FUNIT") {
                data.entry(format!("{name}_unit"))
                    .or_insert_with(|| Value::String(unit.to_owned()));
            }
        } else {
            collect_features(c, data);
        }
    }
}

/// Segment name → its occurrences, each its leaf fields as text (IDoc values are fixed-width
/// text: `0000100001` stays as sent).
fn segments(node: &Node, out: &mut Map<String, Value>) {
    for seg in node.children.iter().filter(|c| !c.is_leaf()) {
        let mut fields = Map::new();
        for f in seg.children.iter().filter(|f| f.is_leaf()) {
            fields.insert(f.name.clone(), Value::String(f.text.trim().to_owned()));
        }
        if let Value::Array(list) = out
            .entry(seg.name.clone())
            .or_insert_with(|| Value::Array(Vec::new()))
        {
            list.push(Value::Object(fields));
        }
        segments(seg, out);
    }
}

/// `IDOC`: MATMAS (`MAKTX` → name, `MATNR` → `material_number`, `MTART` → `material_type`),
/// DEBMAS (`NAME1`, `KUNNR` → `customer_number`, `LAND1` → `country`), CREMAS (`NAME1`,
/// `LIFNR` → `vendor_number`, `LAND1` → `country`); any other type gets the name
/// `"<TYPE> IDoc <DOCNUM>"`. All keep their segments; the business key is the `source_id`.
fn idoc_record(node: Node, root: Option<&str>) -> Value {
    // Business fields come from the data segments, never from the control record.
    let (control, data_segments): (Vec<Node>, Vec<Node>) = node
        .children
        .into_iter()
        .partition(|c| c.name == "EDI_DC40");
    let control = control.first();
    let body = Node {
        children: data_segments,
        ..Node::default()
    };
    let control_field = |f: &str| control.and_then(|c| c.text_of(f));
    let strip_version = |s: &str| s.trim_end_matches(|c: char| c.is_ascii_digit()).to_owned();
    let idoc_type = control_field("MESTYP")
        .map(str::to_owned)
        .or_else(|| control_field("IDOCTYP").map(strip_version))
        .or_else(|| root.map(strip_version))
        .unwrap_or_else(|| "IDOC".into());
    let docnum = control_field("DOCNUM").unwrap_or("");
    let field = |f: &str| body.text_of(f).map(str::to_owned);

    let mut rec = Map::new();
    let mut data = Map::new();
    data.insert("idoc_type".into(), Value::String(idoc_type.clone()));
    if let Some(basic) = control_field("IDOCTYP") {
        data.insert("idoc_basic_type".into(), Value::String(basic.to_owned()));
    }
    if !docnum.is_empty() {
        data.insert("docnum".into(), Value::String(docnum.to_owned()));
    }
    let mapped: &[(&str, &str)] = match idoc_type.as_str() {
        "MATMAS" => &[("MATNR", "material_number"), ("MTART", "material_type")],
        "DEBMAS" => &[("KUNNR", "customer_number"), ("LAND1", "country")],
        "CREMAS" => &[("LIFNR", "vendor_number"), ("LAND1", "country")],
        _ => &[],
    };
    for (tag, key) in mapped {
        if let Some(v) = field(tag) {
            data.insert((*key).into(), Value::String(v));
        }
    }
    let name = match idoc_type.as_str() {
        "MATMAS" => field("MAKTX"),
        "DEBMAS" | "CREMAS" => field("NAME1"),
        _ => None,
    };
    let key_field = match idoc_type.as_str() {
        "MATMAS" => field("MATNR"),
        "DEBMAS" => field("KUNNR"),
        "CREMAS" => field("LIFNR"),
        _ => None,
    };
    let short_docnum = docnum.trim_start_matches('0');
    let name = name.unwrap_or_else(|| format!("{idoc_type} IDoc {short_docnum}"));
    rec.insert("name".into(), Value::String(name));
    let source_id = key_field
        .map(|k| format!("{idoc_type}:{k}"))
        .or_else(|| (!docnum.is_empty()).then(|| format!("{idoc_type}:{docnum}")));
    if let Some(s) = source_id {
        rec.insert("source_id".into(), Value::String(s));
    }
    let mut segs = Map::new();
    segments(&body, &mut segs);
    data.insert("segments".into(), Value::Object(segs));
    rec.insert("vertical_data".into(), Value::Object(data));
    Value::Object(rec)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn all(xml: &str) -> (XmlKind, Vec<Value>) {
        let kind = inspect(xml).unwrap();
        let rows = records(xml, kind).map(|r| r.unwrap()).collect();
        (kind, rows)
    }

    #[test]
    fn bmecat_articles_map_to_records() {
        let xml = r#"<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE BMECAT SYSTEM "bmecat_new_catalog_1_2.dtd">
<BMECAT version="1.2"><HEADER><CATALOG><LANGUAGE>deu</LANGUAGE></CATALOG></HEADER>
<T_NEW_CATALOG>
 <ARTICLE mode="new">
  <SUPPLIER_AID>DIN933-M8x40</SUPPLIER_AID>
  <ARTICLE_DETAILS>
   <DESCRIPTION_SHORT>Hex bolt M8 &amp; nut</DESCRIPTION_SHORT>
   <DESCRIPTION_LONG><![CDATA[Zinc <plated>]]></DESCRIPTION_LONG>
   <EAN>04012345678901</EAN>
  </ARTICLE_DETAILS>
  <ARTICLE_FEATURES><FEATURE><FNAME>length</FNAME><FVALUE>40</FVALUE><FUNIT>mm</FUNIT></FEATURE></ARTICLE_FEATURES>
  <ARTICLE_PRICE_DETAILS><ARTICLE_PRICE price_type="net_list"><PRICE_AMOUNT>0.42</PRICE_AMOUNT><PRICE_CURRENCY>EUR</PRICE_CURRENCY></ARTICLE_PRICE></ARTICLE_PRICE_DETAILS>
 </ARTICLE>
 <ARTICLE><SUPPLIER_AID>NO-NAME</SUPPLIER_AID></ARTICLE>
</T_NEW_CATALOG></BMECAT>"#;
        let (kind, rows) = all(xml);
        assert_eq!(kind, XmlKind::Bmecat);
        assert_eq!(rows.len(), 2);
        let r = &rows[0];
        assert_eq!(r["name"], "Hex bolt M8 & nut");
        assert_eq!(r["source_id"], "DIN933-M8x40");
        assert_eq!(r["description"], "Zinc <plated>");
        let d = &r["vertical_data"];
        assert_eq!(d["part_number"], "DIN933-M8x40");
        assert_eq!(
            (d["price"].clone(), d["currency"].clone()),
            (json!(0.42), json!("EUR"))
        );
        assert_eq!(d["price_type"], "net_list");
        assert_eq!(
            (d["length"].clone(), d["length_unit"].clone()),
            (json!(40), json!("mm"))
        );
        assert_eq!(d["ean"], "04012345678901");
        assert!(
            d.get("price_amount").is_none() && d.get("fname").is_none(),
            "{d}"
        );
        assert!(
            rows[1].get("name").is_none(),
            "no DESCRIPTION_SHORT, no name"
        );
    }

    #[test]
    fn idocs_of_each_type() {
        let xml = r#"<?xml version="1.0"?><MATMAS05><IDOC BEGIN="1">
<EDI_DC40 SEGMENT="1"><DOCNUM>0000000000123456</DOCNUM><IDOCTYP>MATMAS05</IDOCTYP><MESTYP>MATMAS</MESTYP></EDI_DC40>
<E1MARAM SEGMENT="1"><MATNR>000000000000100001</MATNR><MTART>FERT</MTART>
<E1MAKTM SEGMENT="1"><SPRAS>E</SPRAS><MAKTX>Gear pump GP-20</MAKTX></E1MAKTM></E1MARAM>
</IDOC></MATMAS05>"#;
        let (kind, rows) = all(xml);
        assert_eq!(kind, XmlKind::Idoc);
        let r = &rows[0];
        assert_eq!(r["name"], "Gear pump GP-20");
        assert_eq!(r["vertical_data"]["material_number"], "000000000000100001");
        assert_eq!(r["vertical_data"]["material_type"], "FERT");
        assert_eq!(r["vertical_data"]["segments"]["E1MAKTM"][0]["SPRAS"], "E");
        assert_eq!(r["source_id"], "MATMAS:000000000000100001");

        let xml = r#"<ORDERS05><IDOC><EDI_DC40><DOCNUM>0000000000000777</DOCNUM><IDOCTYP>ORDERS05</IDOCTYP></EDI_DC40><E1EDK01><BELNR>4500001</BELNR></E1EDK01></IDOC></ORDERS05>"#;
        let (_, rows) = all(xml);
        assert_eq!(rows[0]["name"], "ORDERS IDoc 777");
        assert_eq!(
            rows[0]["vertical_data"]["segments"]["E1EDK01"][0]["BELNR"],
            "4500001"
        );
    }

    fn malformed(xml: &str) -> String {
        match inspect(xml) {
            Err(XmlError::Malformed(m)) => m,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn hostile_and_broken_documents_are_refused() {
        let bomb = r#"<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">]><BMECAT>&lol2;</BMECAT>"#;
        assert!(malformed(bomb).contains("entit"));
        let undeclared = "<BMECAT><T>&lol9;</T></BMECAT>";
        assert!(malformed(undeclared).contains("undefined entity"));
        let truncated = "<BMECAT><T_NEW_CATALOG><ARTICLE><SUPPLIER_AID>1</SUPPLIER_AID>";
        assert!(malformed(truncated).contains("truncated"));
        assert!(malformed("<BMECAT><T_NEW_CATALOG><ART").contains("truncated"));
        assert!(inspect("<BMECAT><A></B></BMECAT>").is_err());
        assert!(matches!(
            inspect("<catalog/>"),
            Err(XmlError::Unsupported(_))
        ));
        assert!(inspect("").is_err());
        assert!(inspect("not xml at all").is_err());
        let deep = "<BMECAT>".to_owned() + &"<a>".repeat(100) + &"</a>".repeat(100) + "</BMECAT>";
        assert!(malformed(&deep).contains("deeper"));
        assert!(text(b"<?xml version=\"1.0\"?><a>\xff</a>").is_err());
        let latin =
            text(b"<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><a>Gr\xf6\xdfe</a>").unwrap();
        assert!(latin.contains("Größe"));
    }
}
