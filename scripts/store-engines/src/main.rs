//! sled 0.34 vs fjall 3.x: the server's write pattern, outside the server (BENCHMARKS.md,
//! "Disk", "An LSM store instead of sled"). A stand-alone crate, not built with the server:
//!
//!   cd scripts/store-engines && cargo build --release && ./run.sh fjall fjall-default 1000000
//!
//! Usage:
//!   store-engines load   <sled|fjall> <dir> <records> [fjall-compression: default|lz4|none]
//!   store-engines verify <sled|fjall> <dir>           (reopen, read-back, bytes held, ack check)
//!   store-engines sit    <sled|fjall> <dir> <secs>    (reopen, stay idle, close cleanly)
//!   store-engines flushmem fjall <dir>                (reopen, rotate memtables to tables, close)
//!   store-engines compact fjall <dir>                 (reopen, major_compact every keyspace, close)
//!
//! Acknowledged batch numbers are appended to "<dir>.acks" (one write(2) per ack,
//! done after the durable flush/persist returned).

use std::fs::OpenOptions;
use std::io::Write;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rand::Rng;

const TENANT: &[u8] = b"acme";
const BATCH_RECORDS: u64 = 10_000; // one client batch (acknowledged unit)
const SUB_BATCH: u64 = 1_000; // records per atomic store batch
const WRITERS: usize = 3;
const INDEX_CHUNK: usize = 1_000;
static SCAN_NS: AtomicU64 = AtomicU64::new(0);
static WRITE_NS: AtomicU64 = AtomicU64::new(0);

fn key(kind: u8, rest: &[u8]) -> Vec<u8> {
    let mut k = Vec::with_capacity(1 + TENANT.len() + 1 + rest.len());
    k.push(kind);
    k.extend_from_slice(TENANT);
    k.push(0);
    k.extend_from_slice(rest);
    k
}
fn prefix(kind: u8) -> Vec<u8> {
    key(kind, &[])
}
fn src_rest(seq: u64) -> Vec<u8> {
    let mut r = b"parts\0bolt\0".to_vec();
    r.extend_from_slice(format!("SRC-{seq:08}").as_bytes());
    r
}

fn json_value(rng: &mut impl Rng) -> Vec<u8> {
    let mut s = String::with_capacity(700);
    s.push('{');
    while s.len() < 670 {
        s.push_str(&format!(
            "\"part_number\":\"PN-{:05}\",\"manufacturer\":\"Acme Fasteners\",\"description\":\"hex bolt m{} x {} zinc plated\",\"qty\":{},\"price\":{}.{:02},",
            rng.gen_range(0..100000),
            rng.gen_range(3..24),
            rng.gen_range(10..200),
            rng.gen_range(0..10000),
            rng.gen_range(0..1000),
            rng.gen_range(0..100)
        ));
    }
    let mut v = s.into_bytes();
    v.truncate(669);
    v.push(b'}');
    v
}

/// Entity-tree ops for one record: Vec<(key, value)>
struct Rec {
    ops: [(Vec<u8>, Vec<u8>); 4],
}
fn make_record(seq: u64, rng: &mut impl Rng) -> Rec {
    let id = *uuid::Uuid::now_v7().as_bytes();
    let value = if rng.gen_range(0..10) == 0 {
        json_value(rng)
    } else {
        let mut v = vec![0u8; 240];
        rng.fill_bytes(&mut v);
        v
    };
    let hash = blake3::hash(&value);
    Rec {
        ops: [
            (key(b'q', &seq.to_be_bytes()), id.to_vec()),
            (key(b'u', &src_rest(seq)), id.to_vec()),
            (key(b'h', hash.as_bytes()), id.to_vec()),
            (key(b'e', &id), value),
        ],
    }
}

// ------------------------------------------------------------------ stores
enum Store {
    Sled {
        db: sled::Db,
        ents: sled::Tree,
        vecs: sled::Tree,
    },
    Fjall {
        db: fjall::Database,
        ents: fjall::Keyspace,
        vecs: fjall::Keyspace,
    },
}

fn open(engine: &str, dir: &str, comp: &str) -> Store {
    match engine {
        "sled" => {
            let db = sled::Config::new().path(dir).open().expect("sled open");
            let ents = db.open_tree("entities").unwrap();
            let vecs = db.open_tree("vectors").unwrap();
            Store::Sled { db, ents, vecs }
        }
        "fjall" => {
            use fjall::config::CompressionPolicy;
            use fjall::{CompressionType, KeyspaceCreateOptions};
            let db = fjall::Database::builder(dir).open().expect("fjall open");
            let mk = || {
                let o = KeyspaceCreateOptions::default();
                match comp {
                    "default" => o,
                    "lz4" => o.data_block_compression_policy(CompressionPolicy::all(
                        CompressionType::Lz4,
                    )),
                    "none" => o.data_block_compression_policy(CompressionPolicy::disabled()),
                    other => panic!("unknown compression config {other}"),
                }
            };
            // options only take effect when the keyspace is created
            let ents = db.keyspace("entities", mk).unwrap();
            let vecs = db.keyspace("vectors", mk).unwrap();
            Store::Fjall { db, ents, vecs }
        }
        _ => panic!("engine must be sled or fjall"),
    }
}

impl Store {
    /// One atomic batch in the entities tree/keyspace.
    fn apply(&self, recs: &[Rec]) {
        match self {
            Store::Sled { ents, .. } => {
                let mut b = sled::Batch::default();
                for r in recs {
                    for (k, v) in &r.ops {
                        b.insert(k.as_slice(), v.as_slice());
                    }
                }
                ents.apply_batch(b).unwrap();
            }
            Store::Fjall { db, ents, .. } => {
                let mut b = db.batch();
                for r in recs {
                    for (k, v) in &r.ops {
                        b.insert(ents, k.as_slice(), v.as_slice());
                    }
                }
                b.commit().unwrap();
            }
        }
    }
    fn durable(&self) {
        match self {
            Store::Sled { db, .. } => {
                db.flush().unwrap();
            }
            Store::Fjall { db, .. } => db.persist(fjall::PersistMode::SyncAll).unwrap(),
        }
    }
    /// Indexer step: take up to n queue entries, write vectors, delete queue entries, persist.
    /// If `cursor` is Some, scanning starts at that key (inclusive) instead of the start of the
    /// queue prefix (INDEXER_CURSOR=1); otherwise every chunk rescans from the queue's start.
    /// The cursor only measures what the rescans cost: with three writers, sequence numbers
    /// commit out of order, so it skips entries committed behind it.
    fn index_chunk(&self, n: usize, rng: &mut impl Rng, cursor: &mut Option<Vec<u8>>) -> usize {
        let qp = prefix(b'q');
        let start = cursor.clone().unwrap_or_else(|| qp.clone());
        let ts = Instant::now();
        let mut items: Vec<(Vec<u8>, Vec<u8>)> = Vec::with_capacity(n);
        match self {
            Store::Sled { ents, .. } => {
                for kv in ents.range(start.clone()..) {
                    let (k, v) = kv.unwrap();
                    if !k.starts_with(&qp) || items.len() >= n {
                        break;
                    }
                    items.push((k.to_vec(), v.to_vec()));
                }
            }
            Store::Fjall { ents, .. } => {
                for g in ents.range(start.clone()..) {
                    let (k, v) = g.into_inner().unwrap();
                    if !k.starts_with(&qp) || items.len() >= n {
                        break;
                    }
                    items.push((k.to_vec(), v.to_vec()));
                }
            }
        }
        SCAN_NS.fetch_add(ts.elapsed().as_nanos() as u64, Ordering::Relaxed);
        if items.is_empty() {
            return 0;
        }
        if cursor.is_some() {
            let mut next = items.last().unwrap().0.clone();
            next.push(0);
            *cursor = Some(next);
        }
        let tw = Instant::now();
        let vals: Vec<(Vec<u8>, Vec<u8>)> = items
            .iter()
            .map(|(_, id)| {
                let mut emb = vec![0u8; 260];
                rng.fill_bytes(&mut emb);
                (key(b'v', id), emb)
            })
            .collect();
        match self {
            Store::Sled { db, ents, vecs } => {
                // sled batches are per tree: vectors first, then queue removal
                let mut vb = sled::Batch::default();
                for (k, v) in &vals {
                    vb.insert(k.as_slice(), v.as_slice());
                }
                vecs.apply_batch(vb).unwrap();
                let mut qb = sled::Batch::default();
                for (k, _) in &items {
                    qb.remove(k.as_slice());
                }
                ents.apply_batch(qb).unwrap();
                db.flush().unwrap();
            }
            Store::Fjall { db, ents, vecs } => {
                // one atomic cross-keyspace batch
                let mut b = db.batch();
                for (k, v) in &vals {
                    b.insert(vecs, k.as_slice(), v.as_slice());
                }
                for (k, _) in &items {
                    b.remove(ents, k.as_slice());
                }
                b.commit().unwrap();
                db.persist(fjall::PersistMode::SyncAll).unwrap();
            }
        }
        WRITE_NS.fetch_add(tw.elapsed().as_nanos() as u64, Ordering::Relaxed);
        items.len()
    }
    fn get_ent(&self, k: &[u8]) -> Option<Vec<u8>> {
        match self {
            Store::Sled { ents, .. } => ents.get(k).unwrap().map(|v| v.to_vec()),
            Store::Fjall { ents, .. } => ents.get(k).unwrap().map(|v| v.to_vec()),
        }
    }
    fn has_vec(&self, k: &[u8]) -> bool {
        match self {
            Store::Sled { vecs, .. } => vecs.contains_key(k).unwrap(),
            Store::Fjall { vecs, .. } => vecs.contains_key(k).unwrap(),
        }
    }
    /// (count, key bytes, value bytes) for a prefix in entities (or vectors if vec=true)
    fn scan(&self, vec: bool, p: &[u8]) -> (u64, u64, u64) {
        let (mut n, mut kb, mut vb) = (0u64, 0u64, 0u64);
        match self {
            Store::Sled { ents, vecs, .. } => {
                let t = if vec { vecs } else { ents };
                for kv in t.scan_prefix(p) {
                    let (k, v) = kv.unwrap();
                    n += 1;
                    kb += k.len() as u64;
                    vb += v.len() as u64;
                }
            }
            Store::Fjall { ents, vecs, .. } => {
                let t = if vec { vecs } else { ents };
                for g in t.prefix(p) {
                    let (k, v) = g.into_inner().unwrap();
                    n += 1;
                    kb += k.len() as u64;
                    vb += v.len() as u64;
                }
            }
        }
        (n, kb, vb)
    }
}

fn load(engine: &str, dir: &str, records: u64, comp: &str) {
    assert!(records % BATCH_RECORDS == 0);
    let nbatches = records / BATCH_RECORDS;
    let t_open = Instant::now();
    let store = Arc::new(open(engine, dir, comp));
    println!("open_new_s={:.3}", t_open.elapsed().as_secs_f64());
    let acks = Arc::new(Mutex::new(
        OpenOptions::new()
            .create(true)
            .append(true)
            .open(format!("{dir}.acks"))
            .unwrap(),
    ));
    let next_batch = Arc::new(AtomicU64::new(0));
    let acked_records = Arc::new(AtomicU64::new(0));
    let indexed = Arc::new(AtomicU64::new(0));
    let writers_done = Arc::new(AtomicBool::new(false));
    let lat = Arc::new(Mutex::new(Vec::<f64>::new()));

    let t0 = Instant::now();
    // indexer
    let ix = {
        let (store, writers_done, indexed) = (store.clone(), writers_done.clone(), indexed.clone());
        std::thread::spawn(move || {
            let mut rng = rand::thread_rng();
            let mut chunks = 0u64;
            let mut cursor = if std::env::var("INDEXER_CURSOR").as_deref() == Ok("1") {
                Some(prefix(b'q'))
            } else {
                None
            };
            loop {
                let done = writers_done.load(Ordering::SeqCst);
                let n = store.index_chunk(INDEX_CHUNK, &mut rng, &mut cursor);
                indexed.fetch_add(n as u64, Ordering::SeqCst);
                if n > 0 {
                    chunks += 1;
                }
                if n == 0 {
                    if done {
                        break;
                    }
                    std::thread::sleep(Duration::from_millis(20));
                }
            }
            chunks
        })
    };
    let mut ws = vec![];
    for _ in 0..WRITERS {
        let (store, next_batch, acks, acked_records, lat) = (
            store.clone(),
            next_batch.clone(),
            acks.clone(),
            acked_records.clone(),
            lat.clone(),
        );
        ws.push(std::thread::spawn(move || {
            let mut rng = rand::thread_rng();
            loop {
                let b = next_batch.fetch_add(1, Ordering::SeqCst);
                if b >= nbatches {
                    break;
                }
                let tb = Instant::now();
                let base = b * BATCH_RECORDS;
                for sub in 0..(BATCH_RECORDS / SUB_BATCH) {
                    let recs: Vec<Rec> = (0..SUB_BATCH)
                        .map(|i| make_record(base + sub * SUB_BATCH + i, &mut rng))
                        .collect();
                    store.apply(&recs);
                }
                store.durable();
                // acknowledge: one write(2) to the ack file (survives SIGKILL of this process)
                acks.lock()
                    .unwrap()
                    .write_all(format!("{b}\n").as_bytes())
                    .unwrap();
                acked_records.fetch_add(BATCH_RECORDS, Ordering::SeqCst);
                lat.lock().unwrap().push(tb.elapsed().as_secs_f64());
            }
        }));
    }
    for w in ws {
        w.join().unwrap();
    }
    let write_s = t0.elapsed().as_secs_f64();
    writers_done.store(true, Ordering::SeqCst);
    let backlog = acked_records.load(Ordering::SeqCst) - indexed.load(Ordering::SeqCst);
    let chunks = ix.join().unwrap();
    let all_s = t0.elapsed().as_secs_f64();
    let mut l = lat.lock().unwrap().clone();
    l.sort_by(|a, b| a.partial_cmp(b).unwrap());
    println!(
        "records={} ack_write_s={:.3} records_per_s={:.0} batch_latency_p50_s={:.3} p90_s={:.3} max_s={:.3}",
        records,
        write_s,
        records as f64 / write_s,
        l[l.len() / 2],
        l[l.len() * 9 / 10],
        l[l.len() - 1]
    );
    println!(
        "indexer_backlog_at_writers_end={backlog} indexer_chunks={chunks} indexer_drained_s={all_s:.3} indexer_scan_s={:.3} indexer_write_persist_s={:.3} cursor={}",
        SCAN_NS.load(Ordering::Relaxed) as f64 / 1e9,
        WRITE_NS.load(Ordering::Relaxed) as f64 / 1e9,
        std::env::var("INDEXER_CURSOR").unwrap_or_default()
    );
    if let Store::Fjall { db, ents, vecs } = &*store {
        println!(
            "fjall_before_close: disk_space={} journal_count={} journal_disk={} ents_tables={} vecs_tables={} ents_l0={} compactions_completed={}",
            db.disk_space().unwrap(),
            db.journal_count(),
            db.journal_disk_space().unwrap(),
            ents.table_count(),
            vecs.table_count(),
            ents.l0_table_count(),
            db.compactions_completed()
        );
    }
    if let Store::Sled { db, .. } = &*store {
        println!(
            "sled_before_close: size_on_disk={}",
            db.size_on_disk().unwrap()
        );
    }
    let tc = Instant::now();
    drop(Arc::try_unwrap(store).ok().expect("store still shared"));
    println!("close_s={:.3}", tc.elapsed().as_secs_f64());
}

fn verify(engine: &str, dir: &str) {
    let t = Instant::now();
    let store = open(engine, dir, "default");
    println!("reopen_s={:.3}", t.elapsed().as_secs_f64());

    let t = Instant::now();
    let (ne, ke, ve) = store.scan(false, &prefix(b'e'));
    println!(
        "readback_e: count={ne} bytes={} secs={:.3}",
        ke + ve,
        t.elapsed().as_secs_f64()
    );

    let t = Instant::now();
    let mut held = 0u64;
    for (vec, kind) in [
        (false, b'q'),
        (false, b'u'),
        (false, b'h'),
        (false, b'e'),
        (true, b'v'),
    ] {
        let (n, k, v) = store.scan(vec, &prefix(kind));
        held += k + v;
        println!(
            "  kind {} count={n} key_bytes={k} value_bytes={v}",
            kind as char
        );
    }
    // anything else?
    let (na, ka, va) = store.scan(false, b"");
    let (nv, kv, vv) = store.scan(true, b"");
    println!(
        "bytes_held={held} (all-entries check: entities n={na} bytes={} vectors n={nv} bytes={}) full_scan_s={:.3}",
        ka + va,
        kv + vv,
        t.elapsed().as_secs_f64()
    );

    // ack check
    let acks_path = format!("{dir}.acks");
    let acks: Vec<u64> = std::fs::read_to_string(&acks_path)
        .unwrap_or_default()
        .lines()
        .filter(|l| !l.is_empty())
        .map(|l| l.parse().unwrap())
        .collect();
    let t = Instant::now();
    let mut missing = 0u64;
    let mut bad_batches = 0u64;
    for &b in &acks {
        let mut m = 0;
        for seq in b * BATCH_RECORDS..(b + 1) * BATCH_RECORDS {
            if !record_complete(&store, seq) {
                m += 1;
            }
        }
        if m > 0 {
            bad_batches += 1;
            missing += m;
        }
    }
    // Atomicity check of 1000-record sub-batches over all batch numbers seen in the u index.
    // (a sub-batch must be either fully present or fully absent)
    let max_b = acks.iter().copied().max().unwrap_or(0) + 8;
    let (mut full, mut partial) = (0u64, 0u64);
    for sb in 0..(max_b + 1) * (BATCH_RECORDS / SUB_BATCH) {
        let mut present = 0;
        for seq in sb * SUB_BATCH..(sb + 1) * SUB_BATCH {
            if store.get_ent(&key(b'u', &src_rest(seq))).is_some() {
                present += 1;
            }
        }
        if present == SUB_BATCH {
            full += 1;
        } else if present > 0 {
            partial += 1;
        }
    }
    println!(
        "ack_check: acked_batches={} incomplete_acked_batches={bad_batches} missing_records={missing} secs={:.3} | sub-batches(1000 rec) present_full={full} partial={partial} (records present in e: {ne}, acked records: {})",
        acks.len(),
        t.elapsed().as_secs_f64(),
        acks.len() as u64 * BATCH_RECORDS
    );
    let t = Instant::now();
    drop(store);
    println!("close_s={:.3}", t.elapsed().as_secs_f64());
}

/// u -> id, e(id) -> value, h(blake3(value)) -> id, and (q(seq) or v(id)) present.
fn record_complete(store: &Store, seq: u64) -> bool {
    let Some(id) = store.get_ent(&key(b'u', &src_rest(seq))) else {
        return false;
    };
    let Some(val) = store.get_ent(&key(b'e', &id)) else {
        return false;
    };
    match store.get_ent(&key(b'h', blake3::hash(&val).as_bytes())) {
        Some(hid) if hid == id => {}
        _ => return false,
    }
    store.get_ent(&key(b'q', &seq.to_be_bytes())).is_some() || store.has_vec(&key(b'v', &id))
}

fn main() {
    let a: Vec<String> = std::env::args().collect();
    let cmd = a.get(1).map(String::as_str).unwrap_or("");
    match cmd {
        "load" => load(
            &a[2],
            &a[3],
            a[4].parse().unwrap(),
            a.get(5).map(String::as_str).unwrap_or("default"),
        ),
        "verify" => verify(&a[2], &a[3]),
        "sit" => {
            let t = Instant::now();
            let s = open(&a[2], &a[3], "default");
            println!("reopen_s={:.3}", t.elapsed().as_secs_f64());
            std::thread::sleep(Duration::from_secs(a[4].parse().unwrap()));
            if let Store::Fjall { db, .. } = &s {
                println!(
                    "fjall: journal_count={} compactions_completed={}",
                    db.journal_count(),
                    db.compactions_completed()
                );
            }
            drop(s);
        }
        "flushmem" => {
            let s = open(&a[2], &a[3], "default");
            if let Store::Fjall { ents, vecs, db } = &s {
                let t = Instant::now();
                ents.rotate_memtable_and_wait().unwrap();
                vecs.rotate_memtable_and_wait().unwrap();
                println!(
                    "rotate_memtables_s={:.3} journal_count={}",
                    t.elapsed().as_secs_f64(),
                    db.journal_count()
                );
            }
            drop(s);
        }
        "compact" => {
            let s = open(&a[2], &a[3], "default");
            if let Store::Fjall { ents, vecs, db } = &s {
                let t = Instant::now();
                ents.major_compact().unwrap();
                vecs.major_compact().unwrap();
                println!(
                    "major_compact_s={:.3} ents_tables={} vecs_tables={} disk_space={} journal_count={}",
                    t.elapsed().as_secs_f64(),
                    ents.table_count(),
                    vecs.table_count(),
                    db.disk_space().unwrap(),
                    db.journal_count()
                );
            }
            drop(s);
        }
        _ => eprintln!("see source header for usage"),
    }
}
