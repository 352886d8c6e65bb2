//! Entity vectors in memory, one partition per tenant and vertical: a query can only ever be
//! compared with vectors of its own tenant and vertical.
//!
//! Each vector is held as signed bytes (one per dimension, with a scale), once per distinct
//! value: entities whose texts embed identically (variants of one part that differ only in
//! numbers and codes the model has no words for) share one vector, compared once per query.
//! A partition of up to [`EXACT_MAX`] distinct vectors is compared with the query in full. A
//! larger one is divided into [`LISTS`] lists by the nearest of as many centroids (an
//! inverted-file index: spherical k-means over a sample of the partition, computed again
//! whenever the partition has doubled); a query compares the vectors of the [`PROBES`] lists
//! whose centroids are nearest to it. benches/vector_recall.rs measures how many of the exact
//! nearest this finds. (Sign bits of the components were the prefilter before: this model's
//! vectors share a strong common direction, and the signs found a minority of the true
//! nearest.)

use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::RwLock;

use uuid::Uuid;

use crate::store::vectors::Quantized;

/// Partitions of up to this many distinct vectors are compared exactly.
pub const EXACT_MAX: usize = 50_000;
/// Lists of a larger partition.
pub const LISTS: usize = 256;
/// Lists a query compares the vectors of, at least ...
pub const PROBES: usize = 3;
/// ... and more until they hold this many distinct vectors per result asked for.
pub const PROBE_FACTOR: usize = 8;
/// Vectors of the sample k-means trains on, per list.
const TRAIN_PER_LIST: usize = 40;
/// Rounds of k-means.
const TRAIN_ROUNDS: usize = 8;
/// Free entries a partition keeps before packing its entries again (see
/// [`Partition::compact`]), at least; and never more than the entries in use.
const COMPACT_FREE: usize = 1_024;
/// Vectors assigned to lists per hold of the read lock (~0.1 s): a writer waiting for the
/// lock, and the searches queued behind it, wait no longer than that.
const ASSIGN_CHUNK: usize = 16_384;

/// Centroids of the lists of a large partition, and the distinct vectors in each.
struct Lists {
    /// `LISTS × dim`, each of unit length.
    centroids: Vec<f32>,
    /// The distinct vectors of each list, in no order: a query reads the lists it probes.
    members: Vec<Vec<u32>>,
    /// Distinct vectors when they were computed: they are computed again when that doubles.
    built_at: usize,
}

/// The distinct vectors of a partition. An entry's index never changes while entities hold
/// it; an entry no entity holds is free, and reused by the next new vector.
#[derive(Default)]
struct Distinct {
    /// `dim` bytes per entry.
    bytes: Vec<i8>,
    scales: Vec<f32>,
    /// The entity slots holding each entry, in the order of their ids (none: the entry is
    /// free). Equally similar entities are returned in that order, whatever the history of
    /// writes (a restart reads vectors back in id order).
    holders: Vec<Vec<u32>>,
    free: Vec<u32>,
    /// Entries by a hash of their value. On the rare collision of two values the later one is
    /// simply not found here, and not shared.
    by_hash: HashMap<u64, u32>,
    /// The list of each entry, and its place among the list's members (meaningful when the
    /// partition has lists).
    list_of: Vec<u16>,
    list_place: Vec<u32>,
}

#[derive(Default)]
struct Partition {
    /// Per entity slot: its id and its distinct vector.
    ids: Vec<Uuid>,
    vector_of: Vec<u32>,
    slot: HashMap<Uuid, usize>,
    distinct: Distinct,
    lists: Option<Lists>,
    /// The computation of lists under way, if any: the last one started is the only one that
    /// may install its result (see [`Partitions::maintain`]).
    build: Option<u64>,
    /// Entries filled with a new value since that computation sampled the partition: their
    /// lists are assigned again when it installs.
    refilled: Vec<u32>,
}

/// Numbers the computations of lists over all partitions, so that a partition deleted and
/// created again, or a newer computation, is never confused with the one a ticket was for.
static BUILDS: AtomicU64 = AtomicU64::new(1);

/// A computation of lists between its steps (see [`Partitions::maintain`]).
struct Build {
    ticket: u64,
    centroids: Vec<f32>,
    /// The lists of the first entries, as far as assigned.
    list_of: Vec<u16>,
}

/// Inlined, like [`Distinct::similarity`], so that the AVX2 build of
/// [`Partition::scored`] multiplies with AVX2 too.
#[inline(always)]
fn dot(a: &[i8], b: &[i8]) -> i32 {
    a.iter()
        .zip(b)
        .map(|(x, y)| i32::from(*x) * i32::from(*y))
        .sum()
}

/// Eight partial sums, so that the compiler keeps them in one vector register.
#[inline(always)]
fn dot_f32(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0f32; 8];
    let (a8, a_rest) = a.as_chunks::<8>();
    let (b8, b_rest) = b.as_chunks::<8>();
    for (x, y) in a8.iter().zip(b8) {
        for j in 0..8 {
            acc[j] += x[j] * y[j];
        }
    }
    let tail: f32 = a_rest.iter().zip(b_rest).map(|(x, y)| x * y).sum();
    acc.iter().sum::<f32>() + tail
}

fn to_f32(v: &[i8], scale: f32) -> Vec<f32> {
    v.iter().map(|b| f32::from(*b) * scale).collect()
}

/// The centroid (of `centroids`, `dim` floats each) nearest to `v`.
#[inline(always)]
fn nearest_centroid(centroids: &[f32], dim: usize, v: &[f32]) -> u16 {
    let mut best = (f32::MIN, 0usize);
    for (i, c) in centroids.chunks_exact(dim).enumerate() {
        let d = dot_f32(c, v);
        if d > best.0 {
            best = (d, i);
        }
    }
    best.1 as u16
}

/// The list of one vector (`dim` bytes with `scale`).
fn list_of_one(centroids: &[f32], dim: usize, bytes: &[i8], scale: f32) -> u16 {
    nearest_centroid(centroids, dim, &to_f32(bytes, scale))
}

/// The list of each of `vectors` (`dim` bytes each, with `scales`). It multiplies every
/// vector with every centroid; where the CPU has AVX2, the same code is compiled with it (8
/// products per instruction, not 4).
fn assign(centroids: &[f32], dim: usize, vectors: &[i8], scales: &[f32]) -> Vec<u16> {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU supports AVX2, checked just above.
        return unsafe { assign_avx2(centroids, dim, vectors, scales) };
    }
    assign_portable(centroids, dim, vectors, scales)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn assign_avx2(centroids: &[f32], dim: usize, vectors: &[i8], scales: &[f32]) -> Vec<u16> {
    assign_portable(centroids, dim, vectors, scales)
}

#[inline(always)]
fn assign_portable(centroids: &[f32], dim: usize, vectors: &[i8], scales: &[f32]) -> Vec<u16> {
    let mut v = vec![0f32; dim];
    let mut out = Vec::with_capacity(scales.len());
    for (bytes, scale) in vectors.chunks_exact(dim).zip(scales) {
        for (x, b) in v.iter_mut().zip(bytes) {
            *x = f32::from(*b) * scale;
        }
        out.push(nearest_centroid(centroids, dim, &v));
    }
    out
}

/// [`LISTS`] unit centroids by spherical k-means over `sample` (`dim` bytes per vector, with
/// `scales`), started from vectors spread over the sample.
fn train(dim: usize, sample: &[i8], scales: &[f32]) -> Vec<f32> {
    let n = scales.len();
    if n == 0 {
        return vec![0.0; LISTS * dim];
    }
    let step = (n / LISTS).max(1);
    let mut centroids: Vec<f32> = (0..LISTS)
        .flat_map(|c| {
            let i = (c * step) % n;
            to_f32(&sample[i * dim..(i + 1) * dim], scales[i])
        })
        .collect();
    for _ in 0..TRAIN_ROUNDS {
        let lists = assign(&centroids, dim, sample, scales);
        let mut sums = vec![0f32; LISTS * dim];
        for ((bytes, scale), l) in sample.chunks_exact(dim).zip(scales).zip(&lists) {
            let sum = &mut sums[usize::from(*l) * dim..(usize::from(*l) + 1) * dim];
            for (s, b) in sum.iter_mut().zip(bytes) {
                *s += f32::from(*b) * scale;
            }
        }
        for (c, sum) in centroids.chunks_exact_mut(dim).zip(sums.chunks_exact(dim)) {
            let norm = sum.iter().map(|x| x * x).sum::<f32>().sqrt();
            // A list nothing was assigned to keeps its centroid.
            if norm > 0.0 {
                for (x, s) in c.iter_mut().zip(sum) {
                    *x = s / norm;
                }
            }
        }
    }
    centroids
}

fn value_hash(values: &[i8], scale: f32) -> u64 {
    let mut h = DefaultHasher::new();
    values.hash(&mut h);
    scale.to_bits().hash(&mut h);
    h.finish()
}

impl Distinct {
    /// Entries in use.
    fn len(&self) -> usize {
        self.holders.len() - self.free.len()
    }

    fn live(&self, e: u32) -> bool {
        !self.holders[e as usize].is_empty()
    }

    fn value(&self, dim: usize, e: u32) -> &[i8] {
        let e = e as usize;
        &self.bytes[e * dim..(e + 1) * dim]
    }

    /// The similarity of entry `e` to a query (bytes `q`, scale `qs`): cosine for unit vectors.
    #[inline(always)]
    fn similarity(&self, dim: usize, e: u32, q: &[i8], qs: f32) -> f32 {
        dot(self.value(dim, e), q) as f32 * self.scales[e as usize] * qs
    }

    /// The entry holding `v`, if one does.
    fn find(&self, dim: usize, v: &Quantized, hash: u64) -> Option<u32> {
        let e = *self.by_hash.get(&hash)?;
        (self.live(e) && self.scales[e as usize] == v.scale && self.value(dim, e) == v.values)
            .then_some(e)
    }

    /// A free entry filled with `v` (no holders yet), and whether it was reused.
    fn fill(&mut self, dim: usize, v: &Quantized, hash: u64) -> (u32, bool) {
        let (e, reused) = match self.free.pop() {
            Some(e) => {
                let at = e as usize;
                self.bytes[at * dim..(at + 1) * dim].copy_from_slice(&v.values);
                self.scales[at] = v.scale;
                (e, true)
            }
            None => {
                self.bytes.extend_from_slice(&v.values);
                self.scales.push(v.scale);
                self.holders.push(Vec::new());
                self.list_of.push(0);
                self.list_place.push(0);
                ((self.holders.len() - 1) as u32, false)
            }
        };
        self.by_hash.entry(hash).or_insert(e);
        (e, reused)
    }

    /// Frees entry `e`, which no entity holds any longer.
    fn release(&mut self, dim: usize, e: u32) {
        let hash = value_hash(self.value(dim, e), self.scales[e as usize]);
        if self.by_hash.get(&hash) == Some(&e) {
            self.by_hash.remove(&hash);
        }
        self.free.push(e);
    }

    /// Takes entry `e` out of its list's members.
    fn leave_list(&mut self, lists: &mut Lists, e: u32) {
        let members = &mut lists.members[usize::from(self.list_of[e as usize])];
        let at = self.list_place[e as usize] as usize;
        members.swap_remove(at);
        if let Some(&moved) = members.get(at) {
            self.list_place[moved as usize] = at as u32;
        }
    }

    /// Puts entry `e` among the members of `list`.
    fn join_list(&mut self, lists: &mut Lists, e: u32, list: u16) {
        let members = &mut lists.members[usize::from(list)];
        self.list_of[e as usize] = list;
        self.list_place[e as usize] = members.len() as u32;
        members.push(e);
    }

    /// Bytes and scales of about [`TRAIN_PER_LIST`] × [`LISTS`] entries in use, spread over
    /// all.
    fn train_sample(&self, dim: usize) -> (Vec<i8>, Vec<f32>) {
        let n = self.holders.len();
        let step = self.len().div_ceil(TRAIN_PER_LIST * LISTS).max(1);
        let mut bytes = Vec::new();
        let mut scales = Vec::new();
        for e in (0..n as u32).filter(|e| self.live(*e)).step_by(step) {
            bytes.extend_from_slice(self.value(dim, e));
            scales.push(self.scales[e as usize]);
        }
        (bytes, scales)
    }
}

impl Partition {
    fn upsert(&mut self, dim: usize, id: Uuid, v: &Quantized) {
        let hash = value_hash(&v.values, v.scale);
        let existing = self.slot.get(&id).copied();
        let found = self.distinct.find(dim, v, hash);
        if existing.is_some_and(|i| found == Some(self.vector_of[i])) {
            return;
        }
        let e = match found {
            Some(e) => e,
            None => self.fill(dim, v, hash),
        };
        let i = match existing {
            Some(i) => {
                self.leave_vector(dim, i);
                i
            }
            None => {
                self.slot.insert(id, self.ids.len());
                self.ids.push(id);
                self.vector_of.push(0);
                self.ids.len() - 1
            }
        };
        self.vector_of[i] = e;
        let ids = &self.ids;
        let holders = &mut self.distinct.holders[e as usize];
        // Ids are time-ordered (v7), so a new entity's place is almost always the end.
        let at = match holders.last() {
            Some(&last) if ids[last as usize] > id => holders
                .binary_search_by(|&h| ids[h as usize].cmp(&id))
                .unwrap_or_else(|at| at),
            _ => holders.len(),
        };
        holders.insert(at, i as u32);
        self.maybe_compact(dim);
    }

    /// The place of slot `i` among its vector's holders.
    fn holder_place(&self, i: usize) -> usize {
        let ids = &self.ids;
        let id = ids[i];
        let holders = &self.distinct.holders[self.vector_of[i] as usize];
        holders
            .binary_search_by(|&h| ids[h as usize].cmp(&id))
            .unwrap_or_else(|at| at)
    }

    /// A new entry for `v`, in the list of its nearest centroid when there are lists.
    fn fill(&mut self, dim: usize, v: &Quantized, hash: u64) -> u32 {
        let (e, reused) = self.distinct.fill(dim, v, hash);
        if let Some(lists) = &mut self.lists {
            let list = list_of_one(&lists.centroids, dim, &v.values, v.scale);
            self.distinct.join_list(lists, e, list);
        }
        if reused && self.build.is_some() {
            // An entry can be refilled many times during one computation; past this many
            // records the computation is given up (and tried again) rather than let the
            // record grow without bound or miss one.
            if self.refilled.len() < self.distinct.holders.len() {
                self.refilled.push(e);
            } else {
                self.build = None;
                self.refilled.clear();
            }
        }
        e
    }

    /// Takes slot `i` off its vector's holders, freeing the vector if it was the last.
    fn leave_vector(&mut self, dim: usize, i: usize) {
        let e = self.vector_of[i];
        let at = self.holder_place(i);
        let holders = &mut self.distinct.holders[e as usize];
        holders.remove(at);
        if holders.is_empty() {
            if let Some(lists) = &mut self.lists {
                self.distinct.leave_list(lists, e);
            }
            self.distinct.release(dim, e);
        }
    }

    /// Packs the entries when most are free (at the end of a write: entry numbers held
    /// across a write would change).
    fn maybe_compact(&mut self, dim: usize) {
        if self.distinct.free.len() > COMPACT_FREE.max(self.distinct.len()) {
            self.compact(dim);
        }
    }

    /// Renumbers the entries in use from 0, dropping the free ones: scans walk every entry,
    /// free or not, so a partition that lost most of its vectors is packed again. A
    /// computation of lists under way is voided (its entries are renumbered).
    fn compact(&mut self, dim: usize) {
        let d = std::mem::take(&mut self.distinct);
        let mut renumbered = vec![u32::MAX; d.holders.len()];
        let mut next = Distinct::default();
        for (e, holders) in d.holders.into_iter().enumerate() {
            if holders.is_empty() {
                continue;
            }
            let n = next.holders.len() as u32;
            renumbered[e] = n;
            next.bytes
                .extend_from_slice(&d.bytes[e * dim..(e + 1) * dim]);
            next.scales.push(d.scales[e]);
            next.holders.push(holders);
            next.list_of.push(d.list_of[e]);
            next.list_place.push(d.list_place[e]);
        }
        for (hash, e) in d.by_hash {
            if let Some(&n) = renumbered.get(e as usize).filter(|n| **n != u32::MAX) {
                next.by_hash.insert(hash, n);
            }
        }
        for e in &mut self.vector_of {
            *e = renumbered[*e as usize];
        }
        if let Some(lists) = &mut self.lists {
            for members in &mut lists.members {
                for e in members.iter_mut() {
                    *e = renumbered[*e as usize];
                }
            }
        }
        self.distinct = next;
        self.build = None;
        self.refilled.clear();
    }

    fn remove(&mut self, dim: usize, id: Uuid) {
        let Some(&i) = self.slot.get(&id) else {
            return;
        };
        self.leave_vector(dim, i);
        self.slot.remove(&id);
        let last = self.ids.len() - 1;
        if i != last {
            // The last slot moves into the hole; its id, so its place among its vector's
            // holders, stays.
            let at = self.holder_place(last);
            let moved = self.ids[last];
            self.distinct.holders[self.vector_of[last] as usize][at] = i as u32;
            self.ids.swap(i, last);
            self.vector_of.swap(i, last);
            self.slot.insert(moved, i);
        }
        self.ids.pop();
        self.vector_of.pop();
        self.maybe_compact(dim);
    }

    /// Whether the partition is compared by lists (it holds more than `exact_max` distinct
    /// vectors) and they are missing or were computed for half as many or fewer.
    fn needs_lists(&self, exact_max: usize) -> bool {
        let n = self.distinct.len();
        n > exact_max && self.lists.as_ref().is_none_or(|l| n > 2 * l.built_at)
    }

    /// Takes lists computed for the first `list_of.len()` entries, assigning the entries added
    /// since and those filled again since the computation began.
    fn install(&mut self, dim: usize, centroids: Vec<f32>, mut list_of: Vec<u16>) {
        let d = &self.distinct;
        let n = d.holders.len();
        let tail = list_of.len().min(n);
        list_of.truncate(n);
        list_of.extend(assign(
            &centroids,
            dim,
            &d.bytes[tail * dim..],
            &d.scales[tail..],
        ));
        for e in std::mem::take(&mut self.refilled) {
            let at = e as usize;
            if at < tail {
                list_of[at] = list_of_one(&centroids, dim, d.value(dim, e), d.scales[at]);
            }
        }
        self.build = None;
        let mut members = vec![Vec::new(); LISTS];
        let mut list_place = vec![0u32; n];
        for (e, l) in list_of.iter().enumerate() {
            if d.live(e as u32) {
                let list: &mut Vec<u32> = &mut members[usize::from(*l)];
                list_place[e] = list.len() as u32;
                list.push(e as u32);
            }
        }
        self.distinct.list_of = list_of;
        self.distinct.list_place = list_place;
        self.lists = Some(Lists {
            centroids,
            members,
            built_at: self.distinct.len(),
        });
    }

    /// Computes the lists in place (the caller holds the partition exclusively).
    #[cfg(test)]
    fn build_lists(&mut self, dim: usize) {
        let (sample, scales) = self.distinct.train_sample(dim);
        let centroids = train(dim, &sample, &scales);
        self.install(dim, centroids, Vec::new());
    }

    /// The `k` entities most similar to `q`, best first; equally similar ones in the order of
    /// their ids (for entities of one vector; vectors of equal similarity by their first id).
    fn nearest(&self, dim: usize, q: &Quantized, k: usize, exact_max: usize) -> Vec<(Uuid, f32)> {
        if k == 0 {
            return Vec::new();
        }
        let d = &self.distinct;
        let candidates: Vec<u32> = match &self.lists {
            Some(lists) if d.len() > exact_max => self.probed(dim, lists, q, k),
            _ => (0..d.holders.len() as u32).filter(|e| d.live(*e)).collect(),
        };
        let mut scored = self.scored(dim, q, &candidates);
        // The k entities are held by at most k of the vectors: only those are ordered (a full
        // sort of tens of thousands of candidates would cost more than comparing them).
        let first = |e: u32| d.holders[e as usize].first().map(|&i| self.ids[i as usize]);
        let order = |a: &(f32, u32), b: &(f32, u32)| {
            b.0.total_cmp(&a.0)
                .then_with(|| first(a.1).cmp(&first(b.1)))
        };
        if scored.len() > k {
            scored.select_nth_unstable_by(k - 1, order);
            scored.truncate(k);
        }
        scored.sort_by(order);
        scored
            .iter()
            .flat_map(|&(sim, e)| {
                d.holders[e as usize]
                    .iter()
                    .map(move |&i| (self.ids[i as usize], sim))
            })
            .take(k)
            .collect()
    }

    /// The similarity of each candidate entry to `q`. Where the CPU has AVX2, the same code is
    /// compiled with it (it multiplies 16 bytes per instruction instead of 8).
    fn scored(&self, dim: usize, q: &Quantized, candidates: &[u32]) -> Vec<(f32, u32)> {
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU supports AVX2, checked just above.
            return unsafe { self.scored_avx2(dim, q, candidates) };
        }
        self.scored_portable(dim, q, candidates)
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    unsafe fn scored_avx2(&self, dim: usize, q: &Quantized, candidates: &[u32]) -> Vec<(f32, u32)> {
        self.scored_portable(dim, q, candidates)
    }

    #[inline(always)]
    fn scored_portable(&self, dim: usize, q: &Quantized, candidates: &[u32]) -> Vec<(f32, u32)> {
        let d = &self.distinct;
        let mut scored = Vec::with_capacity(candidates.len());
        for (j, &e) in candidates.iter().enumerate() {
            // The candidates' bytes are scattered: ask for a later one's while this one is
            // compared, or each waits for memory in turn.
            if let Some(&ahead) = candidates.get(j + PREFETCH_AHEAD) {
                prefetch(&d.bytes, ahead as usize * dim);
            }
            scored.push((d.similarity(dim, e, &q.values, q.scale), e));
        }
        scored
    }

    /// The entries of the lists nearest to `q`: [`PROBES`] lists, more while they hold fewer
    /// than [`PROBE_FACTOR`] entries per result asked for.
    fn probed(&self, dim: usize, lists: &Lists, q: &Quantized, k: usize) -> Vec<u32> {
        let qf = to_f32(&q.values, q.scale);
        let mut order: Vec<(f32, usize)> = lists
            .centroids
            .chunks_exact(dim)
            .enumerate()
            .map(|(i, c)| (dot_f32(c, &qf), i))
            .collect();
        order.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        let wanted = k.saturating_mul(PROBE_FACTOR);
        let mut probed = Vec::new();
        for (probes, (_, l)) in order.iter().enumerate() {
            if probes >= PROBES && probed.len() >= wanted {
                break;
            }
            probed.extend_from_slice(&lists.members[*l]);
        }
        // In index order the vectors are read front to back, which memory serves faster.
        probed.sort_unstable();
        probed
    }
}

/// Candidates the comparison asks memory for ahead of the one it compares.
const PREFETCH_AHEAD: usize = 8;

/// Asks the CPU to bring `bytes[at]` into cache: a hint, which never faults.
#[inline(always)]
fn prefetch(bytes: &[i8], at: usize) {
    #[cfg(target_arch = "x86_64")]
    if let Some(byte) = bytes.get(at) {
        // SAFETY: the pointer is to an element of the slice, and a prefetch neither reads nor
        // writes memory as far as the program can observe.
        unsafe {
            std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(
                (byte as *const i8).cast(),
            )
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = (bytes, at);
}

/// Every partition, keyed by tenant and vertical.
pub struct Partitions {
    dim: usize,
    /// [`EXACT_MAX`], but for tests.
    exact_max: usize,
    parts: RwLock<HashMap<(String, String), Partition>>,
    /// Vectors are being read back in bulk: lists are computed once at the end, not each time
    /// a partition doubles on the way.
    bulk: AtomicBool,
}

type Key = (String, String);

impl Partitions {
    pub fn new(dim: usize) -> Partitions {
        Partitions::with_exact_max(dim, EXACT_MAX)
    }

    fn with_exact_max(dim: usize, exact_max: usize) -> Partitions {
        Partitions {
            dim,
            exact_max,
            parts: RwLock::new(HashMap::new()),
            bulk: AtomicBool::new(false),
        }
    }

    /// Upserts that follow add many vectors at once (a start-up reading them back): lists
    /// wait for [`Self::end_bulk`].
    pub fn begin_bulk(&self) {
        self.bulk.store(true, Ordering::Release);
    }

    /// Computes the lists every partition needs after a bulk of upserts.
    pub fn end_bulk(&self) {
        self.bulk.store(false, Ordering::Release);
        let keys: Vec<Key> = self.read().keys().cloned().collect();
        for key in keys {
            self.maintain(&key);
        }
    }

    /// Computes the lists of a partition that needs them (see [`Partition::needs_lists`]), in
    /// steps that let searches and writes go on: a sample is taken under the write lock
    /// (briefly), k-means runs with no lock, the distinct vectors are assigned
    /// [`ASSIGN_CHUNK`] at a time under the read lock, and the result is installed under the
    /// write lock, with the vectors added or filled again meanwhile assigned then. A newer
    /// computation or the partition's deletion voids it; it is tried again, a few times.
    /// During a bulk of upserts it waits for [`Self::end_bulk`].
    fn maintain(&self, key: &Key) {
        if self.bulk.load(Ordering::Acquire) {
            return;
        }
        for _ in 0..3 {
            let Some(mut build) = self.begin_build(key) else {
                return;
            };
            if self.assign_build(key, &mut build) && self.finish_build(key, build) {
                return;
            }
        }
    }

    /// Samples a partition that needs lists and trains their centroids.
    fn begin_build(&self, key: &Key) -> Option<Build> {
        let dim = self.dim;
        let ticket = BUILDS.fetch_add(1, Ordering::Relaxed);
        let (sample, scales) = {
            let mut parts = self.write();
            let p = parts
                .get_mut(key)
                .filter(|p| p.needs_lists(self.exact_max))?;
            p.build = Some(ticket);
            p.refilled.clear();
            p.distinct.train_sample(dim)
        };
        Some(Build {
            ticket,
            centroids: train(dim, &sample, &scales),
            list_of: Vec::new(),
        })
    }

    /// Assigns the partition's distinct vectors to the build's lists; false when the build
    /// was voided.
    fn assign_build(&self, key: &Key, build: &mut Build) -> bool {
        let dim = self.dim;
        loop {
            let parts = self.read();
            let Some(p) = parts.get(key).filter(|p| p.build == Some(build.ticket)) else {
                return false;
            };
            let d = &p.distinct;
            let from = build.list_of.len();
            let to = d.holders.len().min(from + ASSIGN_CHUNK);
            if from >= to {
                return true;
            }
            build.list_of.extend(assign(
                &build.centroids,
                dim,
                &d.bytes[from * dim..to * dim],
                &d.scales[from..to],
            ));
        }
    }

    /// Installs the build's lists; false when it was voided.
    fn finish_build(&self, key: &Key, build: Build) -> bool {
        let mut parts = self.write();
        match parts.get_mut(key).filter(|p| p.build == Some(build.ticket)) {
            Some(p) => {
                p.install(self.dim, build.centroids, build.list_of);
                true
            }
            None => false,
        }
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, HashMap<(String, String), Partition>> {
        self.parts.write().unwrap_or_else(|e| e.into_inner())
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, HashMap<(String, String), Partition>> {
        self.parts.read().unwrap_or_else(|e| e.into_inner())
    }

    /// Sets the vector of an entity in `vertical`, taking it out of `moved_from` first (the
    /// vertical it was stored under, if another).
    pub fn upsert(
        &self,
        tenant: &str,
        vertical: &str,
        moved_from: Option<&str>,
        id: Uuid,
        v: &Quantized,
    ) {
        if v.values.len() != self.dim {
            return;
        }
        let mut parts = self.write();
        if let Some(old) = moved_from.filter(|o| *o != vertical) {
            if let Some(p) = parts.get_mut(&(tenant.to_owned(), old.to_owned())) {
                p.remove(self.dim, id);
            }
        }
        let part = parts
            .entry((tenant.to_owned(), vertical.to_owned()))
            .or_default();
        part.upsert(self.dim, id, v);
        let needs_lists = part.needs_lists(self.exact_max);
        drop(parts);
        if needs_lists {
            self.maintain(&(tenant.to_owned(), vertical.to_owned()));
        }
    }

    pub fn remove(&self, tenant: &str, vertical: &str, id: Uuid) {
        let key = (tenant.to_owned(), vertical.to_owned());
        if let Some(p) = self.write().get_mut(&key) {
            p.remove(self.dim, id);
        }
    }

    pub fn delete_tenant(&self, tenant: &str) {
        self.write().retain(|(t, _), _| t != tenant);
    }

    pub fn clear(&self) {
        self.write().clear();
    }

    /// The `k` vectors of the tenant's vertical most similar to `query`, best first.
    pub fn nearest(
        &self,
        tenant: &str,
        vertical: &str,
        query: &[f32],
        k: usize,
    ) -> Vec<(Uuid, f32)> {
        self.nearest_within(tenant, vertical, query, k, self.exact_max)
    }

    /// [`Self::nearest`] by comparing every distinct vector's bytes, whatever the partition's
    /// size: the answer the lists approximate (benches/vector_recall.rs measures how well).
    pub fn nearest_exact(
        &self,
        tenant: &str,
        vertical: &str,
        query: &[f32],
        k: usize,
    ) -> Vec<(Uuid, f32)> {
        self.nearest_within(tenant, vertical, query, k, usize::MAX)
    }

    /// The nearest, comparing every vector of a partition of up to `exact_max` distinct ones.
    fn nearest_within(
        &self,
        tenant: &str,
        vertical: &str,
        query: &[f32],
        k: usize,
        exact_max: usize,
    ) -> Vec<(Uuid, f32)> {
        let q = Quantized::from_f32(query);
        self.read()
            .get(&(tenant.to_owned(), vertical.to_owned()))
            .map(|p| p.nearest(self.dim, &q, k, exact_max))
            .unwrap_or_default()
    }

    /// The similarity of each given entity of the tenant's vertical to `query` (`None` for an
    /// entity without a vector there).
    pub fn similarities(
        &self,
        tenant: &str,
        vertical: &str,
        query: &[f32],
        ids: &[Uuid],
    ) -> Vec<Option<f32>> {
        let q = Quantized::from_f32(query);
        let parts = self.read();
        let Some(p) = parts.get(&(tenant.to_owned(), vertical.to_owned())) else {
            return vec![None; ids.len()];
        };
        ids.iter()
            .map(|id| {
                p.slot.get(id).map(|&i| {
                    p.distinct
                        .similarity(self.dim, p.vector_of[i], &q.values, q.scale)
                })
            })
            .collect()
    }

    /// Vectors held (one per entity), over all partitions.
    pub fn len(&self) -> usize {
        self.read().values().map(|p| p.ids.len()).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Distinct vectors held (entities with identical vectors share one), over all partitions.
    pub fn distinct_len(&self) -> usize {
        self.read().values().map(|p| p.distinct.len()).sum()
    }

    /// Vectors held for one tenant.
    pub fn tenant_len(&self, tenant: &str) -> usize {
        self.read()
            .iter()
            .filter(|((t, _), _)| t == tenant)
            .map(|(_, p)| p.ids.len())
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unit(seed: u64, dim: usize) -> Vec<f32> {
        let mut x = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let mut v: Vec<f32> = (0..dim)
            .map(|_| {
                x = x
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                ((x >> 33) as f32 / (1u64 << 31) as f32) - 0.5
            })
            .collect();
        let n = v.iter().map(|a| a * a).sum::<f32>().sqrt();
        v.iter_mut().for_each(|a| *a /= n);
        v
    }

    #[test]
    fn nearest_stays_inside_the_tenant_and_vertical() {
        let p = Partitions::new(64);
        let q = unit(1, 64);
        let a = Uuid::now_v7();
        let b = Uuid::now_v7();
        let c = Uuid::now_v7();
        p.upsert("acme", "parts", None, a, &Quantized::from_f32(&unit(2, 64)));
        p.upsert("other", "parts", None, b, &Quantized::from_f32(&q));
        p.upsert("acme", "tools", None, c, &Quantized::from_f32(&q));
        let hits = p.nearest("acme", "parts", &q, 10);
        assert_eq!(hits.len(), 1);
        assert_eq!(hits[0].0, a);
        assert_eq!(p.nearest_exact("acme", "parts", &q, 10), hits);
        assert!(p.nearest_exact("nobody", "parts", &q, 10).is_empty());
        assert!(p.nearest("nobody", "parts", &q, 10).is_empty());
    }

    /// Clustered vectors, like a catalog's: `families` families of 100 near-identical records.
    fn clustered(dim: usize, families: u64) -> Partition {
        let mut part = Partition::default();
        for s in 0..families * 100 {
            let centre = unit(s / 100, dim);
            let noise = unit(10_000 + s, dim);
            let v: Vec<f32> = centre
                .iter()
                .zip(&noise)
                .map(|(c, e)| c + 0.3 * e)
                .collect();
            part.upsert(
                dim,
                Uuid::from_u128(u128::from(s)),
                &Quantized::from_f32(&v),
            );
        }
        part
    }

    /// Each entity slot is among its vector's holders at its place; each distinct vector in
    /// use is in the list of its nearest centroid, among its members at its place; nothing
    /// else is held.
    fn assert_consistent(part: &Partition, dim: usize) {
        let d = &part.distinct;
        assert_eq!(part.vector_of.len(), part.ids.len());
        assert_eq!(part.slot.len(), part.ids.len());
        for (i, id) in part.ids.iter().enumerate() {
            assert_eq!(part.slot[id], i, "slot of {id}");
        }
        for (e, holders) in d.holders.iter().enumerate() {
            for h in holders {
                assert_eq!(part.vector_of[*h as usize], e as u32, "holder {h}");
            }
            let ids: Vec<Uuid> = holders.iter().map(|h| part.ids[*h as usize]).collect();
            assert!(ids.windows(2).all(|w| w[0] < w[1]), "holders of {e} by id");
        }
        let held: usize = d.holders.iter().map(Vec::len).sum();
        assert_eq!(held, part.ids.len());
        // Every value is found by its hash unless another value of that hash is.
        for e in (0..d.holders.len() as u32).filter(|e| d.live(*e)) {
            let value = Quantized {
                scale: d.scales[e as usize],
                values: d.value(dim, e).to_vec(),
            };
            let hash = value_hash(&value.values, value.scale);
            let indexed = d.by_hash[&hash];
            assert!(d.live(indexed), "vector {e}: hash points to a free entry");
        }
        assert_eq!(d.by_hash.len(), d.len(), "stale or missing hashes");
        let live = (0..d.holders.len() as u32).filter(|e| d.live(*e)).count();
        assert_eq!(live, d.len());
        let Some(lists) = part.lists.as_ref() else {
            return;
        };
        for e in (0..d.holders.len() as u32).filter(|e| d.live(*e)) {
            let l = d.list_of[e as usize];
            let own = assign(
                &lists.centroids,
                dim,
                d.value(dim, e),
                &d.scales[e as usize..=e as usize],
            );
            assert_eq!(own, vec![l], "vector {e}");
            let members = &lists.members[usize::from(l)];
            assert_eq!(members[d.list_place[e as usize] as usize], e, "vector {e}");
        }
        let members: usize = lists.members.iter().map(Vec::len).sum();
        assert_eq!(members, d.len());
    }

    fn ids_of(hits: &[(Uuid, f32)]) -> Vec<Uuid> {
        hits.iter().map(|h| h.0).collect()
    }

    #[test]
    fn entities_with_identical_vectors_share_one_and_are_all_found() {
        let dim = 64;
        let mut part = Partition::default();
        let id = |s: u128| Uuid::from_u128(s + 1);
        let a = Quantized::from_f32(&unit(1, dim));
        let b = Quantized::from_f32(&unit(2, dim));
        for s in [2, 0, 1] {
            part.upsert(dim, id(s), &a);
        }
        part.upsert(dim, id(3), &b);
        // Writing an entity's vector again, unchanged, changes nothing (shared or not).
        part.upsert(dim, id(1), &a);
        part.upsert(dim, id(3), &b);
        assert_eq!(part.distinct.len(), 2);
        assert_consistent(&part, dim);
        let hits = part.nearest(dim, &a, 10, usize::MAX);
        assert_eq!(ids_of(&hits), vec![id(0), id(1), id(2), id(3)]);
        assert!(hits[0].1 > 0.99 && hits[0].1 == hits[2].1);
        // Equally similar entities come in id order, whatever the order of the writes.
        part.upsert(dim, id(1), &b);
        part.upsert(dim, id(1), &a);
        assert_eq!(
            ids_of(&part.nearest(dim, &a, 2, usize::MAX)),
            vec![id(0), id(1)]
        );
        // Moving every holder of `a` away frees its entry: a free entry is never returned,
        // and the next new value reuses it, bytes and scale.
        let a_entry = part.vector_of[part.slot[&id(0)]];
        part.remove(dim, id(0));
        part.upsert(dim, id(1), &b);
        part.upsert(dim, id(2), &b);
        assert_eq!(part.distinct.len(), 1);
        assert_eq!(part.nearest(dim, &a, 10, usize::MAX).len(), 3);
        assert_consistent(&part, dim);
        let c = Quantized::from_f32(&unit(3, dim));
        part.upsert(dim, id(4), &c);
        assert_eq!(part.vector_of[part.slot[&id(4)]], a_entry);
        let own = dot(&c.values, &c.values) as f32 * c.scale * c.scale;
        assert_eq!(part.nearest(dim, &c, 1, usize::MAX), vec![(id(4), own)]);
        // `a` again: shared by the entities that take it.
        part.upsert(dim, id(5), &a);
        part.upsert(dim, id(6), &a);
        assert_eq!(part.distinct.len(), 3);
        assert_consistent(&part, dim);
    }

    #[test]
    fn a_vector_is_shared_only_with_its_equal_even_when_hashes_collide() {
        let dim = 64;
        let mut part = Partition::default();
        let a = Quantized::from_f32(&unit(1, dim));
        let b = Quantized::from_f32(&unit(2, dim));
        part.upsert(dim, Uuid::from_u128(1), &a);
        // As if `b` hashed like `a`.
        let a_entry = part.vector_of[0];
        part.distinct
            .by_hash
            .insert(value_hash(&b.values, b.scale), a_entry);
        part.upsert(dim, Uuid::from_u128(2), &b);
        assert_ne!(part.vector_of[1], a_entry);
        assert_eq!(
            part.nearest(dim, &b, 1, usize::MAX)[0].0,
            Uuid::from_u128(2)
        );
        assert_eq!(
            part.nearest(dim, &a, 1, usize::MAX)[0].0,
            Uuid::from_u128(1)
        );
    }

    /// The id of the `s`-th entity of [`spread`].
    fn nth(s: u64) -> Uuid {
        Uuid::from_u128(u128::from(s) + 1)
    }

    /// `n` entities, each with a vector of its own, and lists.
    fn spread(dim: usize, n: u64) -> Partition {
        let mut part = Partition::default();
        for s in 0..n {
            part.upsert(dim, nth(s), &Quantized::from_f32(&unit(s, dim)));
        }
        part.build_lists(dim);
        part
    }

    #[test]
    fn a_partition_that_lost_most_of_its_vectors_is_packed_and_keeps_its_lists() {
        let dim = 64;
        let id = nth;
        let mut part = spread(dim, 6_000);
        for s in 0..5_000u64 {
            part.remove(dim, id(s));
        }
        assert_eq!(part.distinct.len(), 1_000);
        assert!(
            part.distinct.holders.len() <= 1_000 + COMPACT_FREE,
            "packed"
        );
        assert_consistent(&part, dim);
        for s in (5_000..6_000u64).step_by(37) {
            // Through the lists (exact limit 0).
            let hit = part.nearest(dim, &Quantized::from_f32(&unit(s, dim)), 1, 0);
            assert_eq!(hit[0].0, id(s));
        }
    }

    #[test]
    fn the_lists_find_what_the_exact_scan_finds() {
        let dim = 64;
        let mut part = clustered(dim, 300);
        part.build_lists(dim);
        for family in [3u64, 170, 260] {
            let q = Quantized::from_f32(&unit(family, dim));
            let exact = part.nearest(dim, &q, 20, usize::MAX);
            // Exact limit 0: only the probed lists are compared.
            let listed = part.nearest(dim, &q, 20, 0);
            let overlap = listed.iter().filter(|h| exact.contains(h)).count();
            assert!(overlap >= 18, "family {family}: {overlap} of 20");
            assert!(listed
                .iter()
                .all(|(id, _)| id.as_u128() as u64 / 100 == family));
        }
        // A query compares a few lists' vectors, not the partition's.
        let lists = part.lists.as_ref().unwrap();
        let probed = part.probed(dim, lists, &Quantized::from_f32(&unit(3, dim)), 20);
        assert!(probed.len() < 30_000 / 4, "{} compared", probed.len());
        assert!(probed.len() >= 20 * PROBE_FACTOR);
    }

    #[test]
    fn removals_and_updates_keep_the_lists_with_their_slots() {
        let dim = 64;
        let id = nth;
        let mut part = spread(dim, 3_000);
        // Removals move the last slot into the hole; updates rewrite a slot in place and move
        // it to the list of its new value.
        for s in (0..3_000u64).step_by(7) {
            part.remove(dim, id(s));
        }
        for s in (1..3_000u64).step_by(11) {
            part.upsert(dim, id(s), &Quantized::from_f32(&unit(10_000 + s, dim)));
        }
        assert_consistent(&part, dim);
        for s in (0..3_000u64).filter(|s| s % 7 != 0) {
            let v = if s % 11 == 1 {
                unit(10_000 + s, dim)
            } else {
                unit(s, dim)
            };
            // Through the lists (exact limit 0).
            let hit = part.nearest(dim, &Quantized::from_f32(&v), 1, 0);
            assert_eq!(hit[0].0, id(s), "slot of {s}");
        }
    }

    #[test]
    fn lists_are_computed_when_a_partition_outgrows_the_exact_scan_and_when_it_doubles() {
        let dim = 64;
        let p = Partitions::with_exact_max(dim, 1_000);
        let add = |from: u64, to: u64| {
            for s in from..to {
                let v = Quantized::from_f32(&unit(s, dim));
                p.upsert("t", "v", None, Uuid::from_u128(u128::from(s) + 1), &v);
            }
        };
        let built_at = || {
            let parts = p.read();
            let part = &parts[&("t".to_owned(), "v".to_owned())];
            part.lists.as_ref().map(|l| l.built_at)
        };
        add(0, 1_000);
        assert_eq!(built_at(), None);
        add(1_000, 1_001);
        assert_eq!(built_at(), Some(1_001));
        add(1_001, 2_002);
        assert_eq!(built_at(), Some(1_001));
        add(2_002, 2_003);
        assert_eq!(built_at(), Some(2_003));
        // Every vector is still its own nearest through the lists.
        for s in (0..2_003u64).step_by(97) {
            let hit = p.nearest("t", "v", &unit(s, dim), 1);
            assert_eq!(hit[0].0, Uuid::from_u128(u128::from(s) + 1));
        }
        // Entities sharing vectors count once: 5,000 entities of 10 vectors need no lists.
        let r = Partitions::with_exact_max(dim, 1_000);
        for s in 0..5_000u64 {
            let v = Quantized::from_f32(&unit(s % 10, dim));
            r.upsert("t", "v", None, Uuid::from_u128(u128::from(s) + 1), &v);
        }
        assert!(r.read()[&("t".to_owned(), "v".to_owned())].lists.is_none());
        assert_eq!(r.nearest("t", "v", &unit(3, dim), 600).len(), 600);
        // Reading back in bulk computes them once, at the end.
        let q = Partitions::with_exact_max(dim, 1_000);
        q.begin_bulk();
        for s in 0..3_000u64 {
            let v = Quantized::from_f32(&unit(s, dim));
            q.upsert("t", "v", None, Uuid::from_u128(u128::from(s) + 1), &v);
        }
        assert!(q.read()[&("t".to_owned(), "v".to_owned())].lists.is_none());
        q.end_bulk();
        let parts = q.read();
        let lists = parts[&("t".to_owned(), "v".to_owned())].lists.as_ref();
        assert_eq!(lists.map(|l| l.built_at), Some(3_000));
    }

    #[test]
    fn lists_computed_while_vectors_change_fit_the_slots_they_are_installed_on() {
        let dim = 64;
        let key = ("t".to_owned(), "v".to_owned());
        let id = |s: u64| Uuid::from_u128(u128::from(s) + 1);
        let p = Partitions::with_exact_max(dim, 1_000);
        p.begin_bulk();
        let put = |s: u64, seed: u64| {
            p.upsert(
                "t",
                "v",
                None,
                id(s),
                &Quantized::from_f32(&unit(seed, dim)),
            );
        };
        for s in 0..2_000 {
            put(s, s);
        }
        // Added and updated in place between the steps: assigned when the lists install.
        let mut build = p.begin_build(&key).expect("needs lists");
        put(2_000, 2_000);
        put(5, 50_005);
        assert!(p.assign_build(&key, &mut build));
        put(2_001, 2_001);
        put(7, 50_007);
        assert!(p.finish_build(&key, build));
        assert_consistent(&p.read()[&key], dim);

        // Fresh lists are not computed again until the partition has doubled.
        assert!(p.begin_build(&key).is_none());
        for s in 2_002..4_100 {
            put(s, s);
        }
        // Removals free vectors (their entries are skipped at install) but move none: the
        // computation under way goes on.
        let mut build = p.begin_build(&key).expect("the partition doubled");
        p.remove("t", "v", id(3));
        assert!(p.assign_build(&key, &mut build));
        p.remove("t", "v", id(4));
        put(4_100, 4_100);
        assert!(p.finish_build(&key, build));
        assert_consistent(&p.read()[&key], dim);
        // Deleted and created again: a ticket of the old partition installs nothing.
        for s in 4_101..8_400 {
            put(s, s);
        }
        let mut build = p.begin_build(&key).expect("the partition doubled again");
        p.delete_tenant("t");
        put(1, 1);
        assert!(!p.assign_build(&key, &mut build));
        assert!(!p.finish_build(&key, build));
        assert!(p.read()[&key].lists.is_none());
        p.end_bulk();
    }

    #[test]
    fn a_computation_outrun_by_refills_is_given_up() {
        let dim = 64;
        let key = ("t".to_owned(), "v".to_owned());
        let p = Partitions::with_exact_max(dim, 100);
        p.begin_bulk();
        for s in 0..300u64 {
            let v = Quantized::from_f32(&unit(s, dim));
            p.upsert("t", "v", None, Uuid::from_u128(u128::from(s) + 1), &v);
        }
        let mut build = p.begin_build(&key).expect("needs lists");
        // One entity flipping between two values refills a freed entry each time.
        for flip in 0..400u64 {
            let v = Quantized::from_f32(&unit(1_000 + flip % 2, dim));
            p.upsert("t", "v", None, Uuid::from_u128(1), &v);
        }
        assert!(!p.assign_build(&key, &mut build));
        p.end_bulk();
        assert_consistent(&p.read()[&key], dim);
    }

    #[test]
    fn updates_moves_and_removals_keep_slots_consistent() {
        let p = Partitions::new(64);
        let ids: Vec<Uuid> = (0..5).map(|i| Uuid::from_u128(i + 1)).collect();
        for (i, id) in ids.iter().enumerate() {
            p.upsert(
                "t",
                "v",
                None,
                *id,
                &Quantized::from_f32(&unit(i as u64, 64)),
            );
        }
        p.remove("t", "v", ids[1]);
        p.upsert(
            "t",
            "w",
            Some("v"),
            ids[0],
            &Quantized::from_f32(&unit(0, 64)),
        );
        assert_eq!(p.len(), 4);
        // Each remaining vector is still found as its own nearest.
        for (i, id) in ids.iter().enumerate().skip(2) {
            let hit = p.nearest("t", "v", &unit(i as u64, 64), 1);
            assert_eq!(hit[0].0, *id);
        }
        assert_eq!(p.nearest("t", "w", &unit(0, 64), 1)[0].0, ids[0]);
        let sims = p.similarities("t", "v", &unit(3, 64), &[ids[3], ids[1]]);
        assert!(sims[0].unwrap() > 0.95 && sims[1].is_none());
        p.delete_tenant("t");
        assert!(p.is_empty());
    }
}
