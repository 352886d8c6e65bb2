//! Entity records compressed with a zstd dictionary of their tenant.
//!
//! A stored entity is ~700 bytes of JSON repeating field names and many values ("vertical",
//! "material":"stainless steel", …). Alone, zstd saves little on records that short (~40 %); with
//! a dictionary made from the tenant's earlier records it stores them in about a third of the
//! space (668 → 240 bytes for the benchmark catalog). Fewer bytes also mean less for the storage engine to rewrite as it compacts.
//!
//! - A tenant's dictionary is made once, when it stores [`SAMPLE`] entities, from its first
//!   [`SAMPLE`] records (in key order: the oldest), with every word that occurs in fewer than
//!   [`MIN_SHARED`] of them removed, so no text of a single record (its id, part number, a unique
//!   description) is kept beyond the record's own life. zstd's trainer makes a dictionary of at
//!   most [`MAX_BYTES`] from those remains (content and entropy tables, [`FORMAT_TRAINED`]);
//!   where it cannot, the distinct remains themselves are the dictionary, the last [`MAX_BYTES`]
//!   of them (zstd reaches the end more cheaply; [`FORMAT_V1`], as every store made before had).
//! - It is stored at `z` tenant `\0` in the `entities` tree: format byte, id (u64 BE, from the
//!   database's id generator), content. It never changes; it goes when the tenant is deleted,
//!   after the tenant's entities, and snapshots copy it with them.
//! - Records written with it are `2`, the dictionary's id (u64 BE), then a zstd frame; the other
//!   entity forms (`1` + JSON) stay readable as they are and are never rewritten. The id guards a
//!   reader against a dictionary of an earlier tenant of the same name.

use std::cell::RefCell;
use std::sync::Arc;

use zstd::zstd_safe::{CCtx, CDict, DCtx, DDict};

use super::StoreError;

/// First byte of a compressed entity record.
pub(super) const COMPRESSED: u8 = 2;
/// Key kind of a tenant's dictionary in the `entities` tree. It sorts after every other kind:
/// a snapshot copies the tree in key order while writes go on, and a dictionary is stored
/// (and flushed) before any record that uses it, so a copy that took a compressed record
/// reaches its dictionary later in the same pass.
pub(super) const DICTIONARY: u8 = b'z';
/// A dictionary that is content only (the records it was made from, see below).
const FORMAT_V1: u8 = 1;
/// A dictionary in zstd's own format, made by zstd's trainer from the same sample records:
/// content it picked, and entropy tables it counted. Records as short as entities then use its
/// tables instead of building their own: compressing one takes ~3 µs instead of ~8, reading it
/// ~1 µs instead of ~2.6, for the same size (`measure_dictionary_speed` below).
const FORMAT_TRAINED: u8 = 2;
/// Records a dictionary is made from; a tenant with fewer stores its records uncompressed.
const SAMPLE: usize = 1000;
/// How many sample records must hold a word for the dictionary to keep it.
const MIN_SHARED: u32 = 3;
const MAX_BYTES: usize = 32 * 1024;
/// Larger records are not sampled: the samples stay within ~16 MB.
const MAX_SAMPLE_RECORD: usize = 16 * 1024;
/// Writes between two looks at a tenant's records while it has too few for a dictionary.
const MIN_COUNTDOWN: usize = 100;
/// zstd's fastest level: with a dictionary it compresses catalog records as well as level 3
/// (measured on generated parts: 673 → 155 bytes either way), in ~3.5 µs, and its prepared form
/// is 80 KB, not 440.
const LEVEL: i32 = 1;
/// Larger than any entity record the API accepts: a frame claiming more is damage.
const MAX_RECORD: u64 = 64 << 20;

/// A tenant's dictionary, prepared for both directions (~140 KB).
struct Dictionary {
    id: u64,
    compress: CDict<'static>,
    decompress: DDict<'static>,
}

impl Dictionary {
    fn parse(stored: &[u8]) -> Result<Dictionary, StoreError> {
        match stored.split_first() {
            // zstd tells the two forms apart by the magic number that opens its own.
            Some((&(FORMAT_V1 | FORMAT_TRAINED), rest)) if rest.len() >= 8 => {
                let (id, content) = rest.split_at(8);
                Ok(Dictionary {
                    id: u64::from_be_bytes(id.try_into().unwrap_or_default()),
                    compress: CDict::create(content, LEVEL),
                    decompress: DDict::create(content),
                })
            }
            _ => Err(StoreError::Codec(
                "unknown compression dictionary format".into(),
            )),
        }
    }
}

thread_local! {
    // zstd contexts hold ~100s of KB of working memory; one per thread is reused by every call.
    static CCTX: RefCell<CCtx<'static>> = RefCell::new(CCtx::create());
    static DCTX: RefCell<DCtx<'static>> = RefCell::new(DCtx::create());
}

/// The tenants' dictionaries: stored in the `entities` tree, cached prepared.
pub(super) struct Dictionaries {
    db: crate::store::kv::Db,
    tree: crate::store::kv::Tree,
    cache: crate::concurrent_map::ConcurrentMap<String, Arc<Dictionary>>,
    /// Tenants without a dictionary: writes to go before their records are counted again.
    countdown: crate::concurrent_map::ConcurrentMap<String, usize>,
}

fn dictionary_key(tenant: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(tenant.len() + 2);
    k.push(DICTIONARY);
    k.extend_from_slice(tenant.as_bytes());
    k.push(0);
    k
}

impl Dictionaries {
    pub(super) fn new(db: &crate::store::kv::Db, tree: &crate::store::kv::Tree) -> Dictionaries {
        Dictionaries {
            db: db.clone(),
            tree: tree.clone(),
            cache: Default::default(),
            countdown: Default::default(),
        }
    }

    /// The stored form of an entity record of `tenant` given as JSON: compressed if the tenant
    /// has (or now gets) a dictionary, else `1` + JSON. `records` is the prefix of the tenant's
    /// entity records, sampled to make the dictionary.
    pub(super) fn encode(
        &self,
        tenant: &str,
        json: &[u8],
        records: &[u8],
    ) -> Result<Vec<u8>, StoreError> {
        let Some(d) = self.for_writing(tenant, records)? else {
            let mut out = Vec::with_capacity(json.len() + 1);
            out.push(FORMAT_V1);
            out.extend_from_slice(json);
            return Ok(out);
        };
        let mut out = Vec::with_capacity(9 + zstd::zstd_safe::compress_bound(json.len()));
        out.push(COMPRESSED);
        out.extend_from_slice(&d.id.to_be_bytes());
        // The frame goes after the header (a bare Vec would be written from its start).
        let mut frame = std::io::Cursor::new(out);
        frame.set_position(9);
        CCTX.with_borrow_mut(|c| c.compress_using_cdict(&mut frame, json, &d.compress))
            .map_err(|code| codec_error("compress", code))?;
        Ok(frame.into_inner())
    }

    /// The JSON of a record in the [`COMPRESSED`] form.
    pub(super) fn decompress(&self, tenant: &str, record: &[u8]) -> Result<Vec<u8>, StoreError> {
        let damaged = || StoreError::Codec("compressed entity record is damaged".into());
        let (id, frame) = match record.get(1..9) {
            Some(id) => (
                u64::from_be_bytes(id.try_into().map_err(|_| damaged())?),
                &record[9..],
            ),
            None => return Err(damaged()),
        };
        let d = self.for_reading(tenant, id)?;
        let size = match zstd::zstd_safe::get_frame_content_size(frame) {
            Ok(Some(n)) if n <= MAX_RECORD => n as usize,
            _ => return Err(damaged()),
        };
        let mut out = Vec::with_capacity(size);
        DCTX.with_borrow_mut(|c| c.decompress_using_ddict(&mut out, frame, &d.decompress))
            .map_err(|code| codec_error("decompress", code))?;
        Ok(out)
    }

    /// Forgets a deleted tenant's dictionary (after its stored one is removed).
    pub(super) fn forget(&self, tenant: &str) {
        self.cache.remove(tenant);
        self.countdown.remove(tenant);
    }

    fn for_reading(&self, tenant: &str, id: u64) -> Result<Arc<Dictionary>, StoreError> {
        if let Some(d) = self.cache.get(tenant).filter(|d| d.id == id) {
            return Ok(Arc::clone(&d));
        }
        match self.load(tenant)? {
            Some(d) if d.id == id => Ok(d),
            _ => Err(StoreError::Codec(format!(
                "the compression dictionary {id} of tenant '{tenant}' is missing"
            ))),
        }
    }

    fn load(&self, tenant: &str) -> Result<Option<Arc<Dictionary>>, StoreError> {
        let Some(stored) = self.tree.get(dictionary_key(tenant))? else {
            return Ok(None);
        };
        let d = Arc::new(Dictionary::parse(&stored)?);
        self.cache.insert(tenant.to_owned(), Arc::clone(&d));
        Ok(Some(d))
    }

    fn for_writing(
        &self,
        tenant: &str,
        records: &[u8],
    ) -> Result<Option<Arc<Dictionary>>, StoreError> {
        if let Some(d) = self.cache.get(tenant).map(|d| Arc::clone(&d)) {
            // A record is only ever written with the dictionary the store holds: the cached one
            // may be of a tenant deleted under this one's name.
            let stored = self.tree.get(dictionary_key(tenant))?;
            if stored.as_deref().and_then(|s| s.get(1..9)) == Some(&d.id.to_be_bytes()[..]) {
                return Ok(Some(d));
            }
            self.cache.remove(tenant);
        }
        if let Some(mut n) = self.countdown.get_mut(tenant) {
            if *n > 0 {
                *n -= 1;
                return Ok(None);
            }
        }
        if let Some(d) = self.load(tenant)? {
            return Ok(Some(d));
        }
        let mut samples = Vec::with_capacity(SAMPLE);
        for item in self.tree.scan_prefix(records).values().take(SAMPLE) {
            let v = item?;
            if v.first() == Some(&FORMAT_V1) && v.len() <= MAX_SAMPLE_RECORD {
                samples.push(v);
            }
        }
        if samples.len() < SAMPLE {
            // Counted in writes, not new records: a tenant just short of SAMPLE that only
            // updates looks again every MIN_COUNTDOWN writes, not at every one.
            self.countdown.insert(
                tenant.to_owned(),
                (SAMPLE - samples.len()).max(MIN_COUNTDOWN),
            );
            return Ok(None);
        }
        let samples: Vec<&[u8]> = samples.iter().map(|s| &s[1..]).collect();
        let (format, dictionary) = made(&samples);
        let mut stored = vec![format];
        stored.extend_from_slice(&self.db.generate_id()?.to_be_bytes());
        stored.extend_from_slice(&dictionary);
        // Two writers may make one at once: the first stored wins, and both use it.
        let _ = self
            .tree
            .compare_and_swap(dictionary_key(tenant), None::<&[u8]>, Some(stored))?;
        // On disk before any record that needs it.
        self.db.flush()?;
        self.countdown.remove(tenant);
        self.load(tenant)
    }
}

fn codec_error(what: &str, code: usize) -> StoreError {
    StoreError::Codec(format!(
        "cannot {what} an entity record: {}",
        zstd::zstd_safe::get_error_name(code)
    ))
}

/// Word characters: a run of them is one word (bytes of non-ASCII UTF-8 letters included).
fn is_word(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b >= 0x80 || matches!(b, b'_' | b'.' | b'-')
}

/// The spans of the words of `text`.
fn words(text: &[u8]) -> impl Iterator<Item = std::ops::Range<usize>> + '_ {
    let mut i = 0;
    std::iter::from_fn(move || {
        while i < text.len() && !is_word(text[i]) {
            i += 1;
        }
        let start = i;
        while i < text.len() && is_word(text[i]) {
            i += 1;
        }
        (start < i).then_some(start..i)
    })
}

/// A dictionary made from sample records, and its format: trained where zstd's trainer takes
/// the samples (it refuses too few or too uniform ones), else their content.
fn made(samples: &[&[u8]]) -> (u8, Vec<u8>) {
    let kept = filtered(samples);
    let sizes: Vec<usize> = kept.iter().map(Vec::len).collect();
    match zstd::dict::from_continuous(&kept.concat(), &sizes, MAX_BYTES) {
        Ok(trained) => (FORMAT_TRAINED, trained),
        Err(e) => {
            log::debug!(
                "zstd cannot train a dictionary from these records ({e}): using them as is"
            );
            (FORMAT_V1, content(&kept))
        }
    }
}

/// A dictionary's content: the kept forms of the records, as far as they fit.
fn content(kept: &[Vec<u8>]) -> Vec<u8> {
    let mut out = kept.concat();
    if out.len() > MAX_BYTES {
        out.drain(..out.len() - MAX_BYTES);
    }
    out
}

/// Sample records with the words few of them hold removed, each distinct remain once (see the
/// module docs).
fn filtered(samples: &[&[u8]]) -> Vec<Vec<u8>> {
    use std::collections::{HashMap, HashSet};
    let mut holders: HashMap<&[u8], u32> = HashMap::new();
    for s in samples {
        let distinct: HashSet<&[u8]> = words(s).map(|w| &s[w]).collect();
        for w in distinct {
            *holders.entry(w).or_default() += 1;
        }
    }
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for s in samples {
        let mut kept = Vec::with_capacity(s.len());
        let mut last = 0;
        for w in words(s) {
            kept.extend_from_slice(&s[last..w.start]);
            if holders.get(&s[w.clone()]).is_some_and(|&n| n >= MIN_SHARED) {
                kept.extend_from_slice(&s[w.clone()]);
            }
            last = w.end;
        }
        kept.extend_from_slice(&s[last..]);
        if seen.insert(kept.clone()) {
            out.push(kept);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(i: usize) -> Vec<u8> {
        format!(
            r#"{{"id":"0000-{i:06}","tenant_id":"t","name":"Hex bolt M{}","vertical_data":{{"material":"stainless steel","part_number":"HB-{i:06}"}}}}"#,
            i % 4 + 8
        )
        .into_bytes()
    }

    /// Snapshots copy the tree in key order during writes: the dictionary must come after
    /// every record kind (see [`DICTIONARY`]).
    #[test]
    fn the_dictionary_key_sorts_after_every_record_kind() {
        assert!(b"euhqfm".iter().all(|&kind| kind < DICTIONARY));
        assert!(dictionary_key("t") > b"e\xff".to_vec());
    }

    #[test]
    fn words_shared_by_few_records_are_left_out() {
        let samples: Vec<Vec<u8>> = (0..10).map(record).collect();
        let refs: Vec<&[u8]> = samples.iter().map(|s| &s[..]).collect();
        let text = String::from_utf8(content(&filtered(&refs))).unwrap();
        assert!(text.contains(r#""material":"stainless steel""#), "{text}");
        assert!(text.contains("Hex bolt M9"), "{text}");
        // Ids and part numbers occur in one record each.
        assert!(!text.contains("000003") && !text.contains("HB-0"), "{text}");
        // What is left of the records is kept once.
        assert_eq!(text.matches("Hex bolt M9").count(), 1, "{text}");
    }

    #[test]
    fn words_split_on_punctuation_and_keep_utf8() {
        let text = "Würth, M10x10 (zinc-plated)".as_bytes();
        let found: Vec<&str> = words(text)
            .map(|w| std::str::from_utf8(&text[w]).unwrap())
            .collect();
        assert_eq!(found, ["Würth", "M10x10", "zinc-plated"]);
    }

    fn open() -> (
        tempfile::TempDir,
        crate::store::kv::Db,
        crate::store::kv::Tree,
        Dictionaries,
    ) {
        let dir = tempfile::tempdir().unwrap();
        let db = crate::store::kv::Db::open(dir.path()).unwrap();
        let tree = db.open_tree("entities").unwrap();
        let d = Dictionaries::new(&db, &tree);
        (dir, db, tree, d)
    }

    fn store_plain(tree: &crate::store::kv::Tree, n: usize) {
        store_records(tree, &(0..n).map(record).collect::<Vec<_>>());
    }

    /// Stores `records` uncompressed as tenant `t`'s entity records.
    fn store_records(tree: &crate::store::kv::Tree, records: &[Vec<u8>]) {
        for (i, r) in records.iter().enumerate() {
            let mut v = vec![FORMAT_V1];
            v.extend(r);
            tree.insert(format!("et\0{i:08}"), v).unwrap();
        }
    }

    /// Encodes `json` for tenant `t`: compressed, to less than half, and read back whole.
    fn assert_packs(d: &Dictionaries, json: &[u8]) -> Vec<u8> {
        let packed = d.encode("t", json, b"et\0").unwrap();
        assert_eq!(packed[0], COMPRESSED);
        assert!(
            packed.len() * 2 < json.len(),
            "{} of {}",
            packed.len(),
            json.len()
        );
        assert_eq!(d.decompress("t", &packed).unwrap(), json);
        packed
    }

    #[test]
    fn records_compress_once_the_tenant_has_enough_of_them() {
        let (_dir, _db, tree, d) = open();
        let json = record(5000);
        store_plain(&tree, SAMPLE - 1);
        assert_eq!(d.encode("t", &json, b"et\0").unwrap()[0], FORMAT_V1);
        assert!(tree.get(dictionary_key("t")).unwrap().is_none());
        store_plain(&tree, SAMPLE);
        // The next look at the tenant's records is MIN_COUNTDOWN writes later.
        for _ in 0..MIN_COUNTDOWN {
            assert_eq!(d.encode("t", &json, b"et\0").unwrap()[0], FORMAT_V1);
        }
        let packed = assert_packs(&d, &json);
        // A fresh reader loads the stored dictionary.
        let fresh = Dictionaries::new(&_db, &tree);
        assert_eq!(fresh.decompress("t", &packed).unwrap(), json);
        // Another tenant has its own.
        assert_eq!(d.encode("u", &json, b"eu\0").unwrap()[0], FORMAT_V1);
    }

    #[test]
    fn a_deleted_tenants_dictionary_is_not_used_again() {
        let (_dir, _db, tree, d) = open();
        store_plain(&tree, SAMPLE);
        let json = record(7);
        let packed = d.encode("t", &json, b"et\0").unwrap();
        assert_eq!(packed[0], COMPRESSED);
        // Deleted (records and dictionary) and made again by another instance of the store.
        tree.remove(dictionary_key("t")).unwrap();
        let other = Dictionaries::new(&_db, &tree);
        let again = other.encode("t", &json, b"et\0").unwrap();
        assert_eq!(again[0], COMPRESSED);
        // This instance still caches the old dictionary: it neither writes nor reads with it.
        let mine = d.encode("t", &json, b"et\0").unwrap();
        assert_eq!(mine[1..9], again[1..9]);
        assert_eq!(d.decompress("t", &again).unwrap(), json);
        let e = d.decompress("t", &packed).unwrap_err();
        assert!(e.to_string().contains("missing"), "{e}");
    }

    #[test]
    fn damaged_records_are_codec_errors() {
        let (_dir, _db, tree, d) = open();
        store_plain(&tree, SAMPLE);
        let mut packed = d.encode("t", &record(1), b"et\0").unwrap();
        for bad in [&packed[..5], &packed[..12]] {
            assert!(matches!(d.decompress("t", bad), Err(StoreError::Codec(_))));
        }
        let last = packed.len() - 3;
        packed[last] ^= 0xff;
        packed.truncate(last + 1);
        assert!(matches!(
            d.decompress("t", &packed),
            Err(StoreError::Codec(_))
        ));
    }

    /// Entity-like records of the generated catalog, as the store keeps them (JSON).
    fn catalog_records(n: u64) -> Vec<Vec<u8>> {
        use rand::SeedableRng;
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let types = crate::sample_catalog::ENTITY_TYPES;
        (0..n)
            .map(|i| {
                let t = types[i as usize % types.len()];
                let mut v = crate::sample_catalog::record(&mut rng, t, i);
                v["id"] = format!("0194f3a2-7c1e-7b3d-9a4f-{i:012}").into();
                v["tenant_id"] = "bench".into();
                v["vertical"] = "parts".into();
                v["created_at"] = (1_764_547_200_000 + i).into();
                serde_json::to_vec(&v).unwrap()
            })
            .collect()
    }

    #[test]
    fn catalog_records_get_a_trained_dictionary_without_their_rare_words() {
        let records = catalog_records(SAMPLE as u64 + 10);
        let samples: Vec<&[u8]> = records[..SAMPLE].iter().map(|r| &r[..]).collect();
        let (format, dictionary) = made(&samples);
        assert_eq!(format, FORMAT_TRAINED);
        // Ids, and part numbers held by fewer than MIN_SHARED records, are not kept.
        let text = String::from_utf8_lossy(&dictionary);
        let mut holders = std::collections::HashMap::<String, u32>::new();
        let parsed: Vec<serde_json::Value> = records[..SAMPLE]
            .iter()
            .map(|r| serde_json::from_slice(r).unwrap())
            .collect();
        for v in &parsed {
            let pn = v["vertical_data"]["part_number"].as_str().unwrap();
            *holders.entry(pn.to_owned()).or_default() += 1;
        }
        let mut rare = 0;
        for v in &parsed {
            let id = v["id"].as_str().unwrap();
            assert!(!text.contains(id), "{id} is in the dictionary");
            let pn = v["vertical_data"]["part_number"].as_str().unwrap();
            if holders[pn] < MIN_SHARED {
                rare += 1;
                assert!(!text.contains(pn), "{pn} is in the dictionary");
            }
        }
        assert!(rare > SAMPLE / 2, "{rare}");

        let (_dir, _db, tree, d) = open();
        store_records(&tree, &records[..SAMPLE]);
        for _ in 0..=MIN_COUNTDOWN {
            d.encode("t", &records[SAMPLE], b"et\0").unwrap();
        }
        assert_eq!(
            tree.get(dictionary_key("t")).unwrap().unwrap()[0],
            FORMAT_TRAINED
        );
        for r in &records[SAMPLE..] {
            assert_packs(&d, r);
        }
    }

    /// Stores made before dictionaries were trained hold content-only ones: they stay in use.
    #[test]
    fn content_only_dictionaries_stay_readable_and_in_use() {
        let records = catalog_records(SAMPLE as u64 + 1);
        let samples: Vec<&[u8]> = records[..SAMPLE].iter().map(|r| &r[..]).collect();
        let (_dir, db, tree, d) = open();
        let mut stored = vec![FORMAT_V1];
        stored.extend_from_slice(&db.generate_id().unwrap().to_be_bytes());
        stored.extend_from_slice(&content(&filtered(&samples)));
        tree.insert(dictionary_key("t"), &stored).unwrap();
        let r = &records[SAMPLE];
        let packed = assert_packs(&d, r);
        assert_eq!(
            packed[1..9],
            stored[1..9],
            "written with the stored dictionary"
        );
        assert_eq!(
            &Dictionaries::new(&db, &tree)
                .decompress("t", &packed)
                .unwrap(),
            r
        );
    }

    /// A measurement, not a test (timings are the machine's):
    /// `cargo test --release --lib measure_dictionary_speed -- --ignored --nocapture`.
    #[test]
    #[ignore]
    fn measure_dictionary_speed() {
        let recs = catalog_records(5000);
        let samples: Vec<&[u8]> = recs[..SAMPLE].iter().map(|r| &r[..]).collect();
        let kept = filtered(&samples);
        let raw = content(&kept);
        let t = std::time::Instant::now();
        let (format, trained) = made(&samples);
        assert_eq!(format, FORMAT_TRAINED);
        println!("trained {} bytes in {:?}", trained.len(), t.elapsed());
        let rest = &recs[SAMPLE..];
        let total: usize = rest.iter().map(|r| r.len()).sum();
        for (name, dict) in [("content only", &raw), ("trained", &trained)] {
            let c = CDict::create(dict, LEVEL);
            let dd = DDict::create(dict);
            let mut cc = CCtx::create();
            let mut dc = DCtx::create();
            let mut packed = Vec::new();
            let t = std::time::Instant::now();
            for _ in 0..10 {
                packed.clear();
                for r in rest {
                    let mut out = Vec::with_capacity(zstd::zstd_safe::compress_bound(r.len()));
                    cc.compress_using_cdict(&mut out, r, &c).unwrap();
                    packed.push(out);
                }
            }
            let ct = t.elapsed() / (10 * rest.len() as u32);
            let t = std::time::Instant::now();
            for _ in 0..10 {
                for (p, r) in packed.iter().zip(rest) {
                    let mut out = Vec::with_capacity(r.len());
                    dc.decompress_using_ddict(&mut out, p, &dd).unwrap();
                    assert_eq!(&out, r);
                }
            }
            let dt = t.elapsed() / (10 * rest.len() as u32);
            let size: usize = packed.iter().map(|p| p.len()).sum();
            println!(
                "{name}: {} -> {} bytes per record, compress {ct:?}, decompress {dt:?}",
                total / rest.len(),
                size / rest.len()
            );
        }
    }
}
