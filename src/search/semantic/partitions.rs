//! Entity vectors in memory, one partition per tenant and vertical: a query can only ever be
//! compared with vectors of its own tenant and vertical, and a partition is scanned without an
//! index structure to keep up to date.
//!
//! Each vector is held twice: as signed bytes (one per dimension, with a scale; the ranking
//! similarity) and as one sign bit per dimension (the prefilter). A partition up to
//! [`EXACT_MAX`] vectors is compared byte-wise in full; a larger one is first narrowed by the
//! Hamming distance of the first 64 sign bits (8 bytes per vector per query), then of all of
//! them, and the [`PREFILTER_FACTOR`]× nearest are re-ranked by their bytes.

use std::collections::{BinaryHeap, HashMap};
use std::sync::RwLock;

use uuid::Uuid;

use crate::store::vectors::Quantized;

/// Partitions up to this size are compared exactly.
pub const EXACT_MAX: usize = 50_000;
/// Candidates the sign-bit prefilter keeps, per result asked for.
pub const PREFILTER_FACTOR: usize = 8;
/// The prefilter's first stage keeps one slot in this many ...
const FIRST_STAGE_SHARE: usize = 50;
/// ... and at least this many.
const FIRST_STAGE_MIN: usize = 5_000;

#[derive(Default)]
struct Partition {
    ids: Vec<Uuid>,
    scales: Vec<f32>,
    /// `dim` bytes per vector.
    bytes: Vec<i8>,
    /// `dim / 64` words per vector, word-major: `bits[k][i]` is word `k` of slot `i`, so the
    /// prefilter's first stage reads one contiguous array (8 bytes per vector, not 32).
    bits: Vec<Vec<u64>>,
    slot: HashMap<Uuid, usize>,
}

fn sign_bits(values: &[i8], out: &mut Vec<u64>) {
    for chunk in values.chunks(64) {
        let mut w = 0u64;
        for (i, v) in chunk.iter().enumerate() {
            if *v > 0 {
                w |= 1 << i;
            }
        }
        out.push(w);
    }
}

fn dot(a: &[i8], b: &[i8]) -> i32 {
    a.iter()
        .zip(b)
        .map(|(x, y)| i32::from(*x) * i32::from(*y))
        .sum()
}

impl Partition {
    fn words(dim: usize) -> usize {
        dim.div_ceil(64)
    }

    fn upsert(&mut self, dim: usize, id: Uuid, v: &Quantized) {
        let w = Self::words(dim);
        let mut bits = Vec::with_capacity(w);
        sign_bits(&v.values, &mut bits);
        self.bits.resize_with(w, Vec::new);
        match self.slot.get(&id) {
            Some(&i) => {
                self.scales[i] = v.scale;
                self.bytes[i * dim..(i + 1) * dim].copy_from_slice(&v.values);
                for (column, word) in self.bits.iter_mut().zip(bits) {
                    column[i] = word;
                }
            }
            None => {
                self.slot.insert(id, self.ids.len());
                self.ids.push(id);
                self.scales.push(v.scale);
                self.bytes.extend_from_slice(&v.values);
                for (column, word) in self.bits.iter_mut().zip(bits) {
                    column.push(word);
                }
            }
        }
    }

    fn remove(&mut self, dim: usize, id: Uuid) {
        let Some(i) = self.slot.remove(&id) else {
            return;
        };
        let last = self.ids.len() - 1;
        for column in &mut self.bits {
            column.swap_remove(i);
        }
        if i != last {
            let moved = self.ids[last];
            self.ids.swap(i, last);
            self.scales.swap(i, last);
            for k in 0..dim {
                self.bytes.swap(i * dim + k, last * dim + k);
            }
            self.slot.insert(moved, i);
        }
        self.ids.pop();
        self.scales.pop();
        self.bytes.truncate(last * dim);
    }

    /// The similarity of slot `i` to a query (bytes `q`, scale `qs`): cosine for unit vectors.
    fn similarity(&self, dim: usize, i: usize, q: &[i8], qs: f32) -> f32 {
        dot(&self.bytes[i * dim..(i + 1) * dim], q) as f32 * self.scales[i] * qs
    }

    fn nearest(&self, dim: usize, q: &Quantized, k: usize, exact_max: usize) -> Vec<(Uuid, f32)> {
        let n = self.ids.len();
        let candidates: Vec<usize> = if n <= exact_max {
            (0..n).collect()
        } else {
            self.prefiltered(dim, q, k.saturating_mul(PREFILTER_FACTOR).max(k))
        };
        let mut scored: Vec<(Uuid, f32)> = candidates
            .into_iter()
            .map(|i| (self.ids[i], self.similarity(dim, i, &q.values, q.scale)))
            .collect();
        scored.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        scored.truncate(k);
        scored
    }

    /// The `keep` slots nearest to `q` by the Hamming distance of their sign bits, in two
    /// stages: the first 64 bits (the model's dimensions are PCA components, strongest first)
    /// pick [`FIRST_STAGE_SHARE`] of the partition, at least [`FIRST_STAGE_MIN`], by a
    /// histogram threshold; all the bits then rank those.
    ///
    /// It counts bits over every vector of the partition. x86-64's baseline has no popcount
    /// instruction (the portable build counts bits in a dozen instructions), so where the CPU
    /// has one, the same code is compiled with it.
    fn prefiltered(&self, dim: usize, q: &Quantized, keep: usize) -> Vec<usize> {
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("popcnt") {
            // SAFETY: the CPU supports popcnt, checked just above.
            return unsafe { self.prefiltered_popcnt(dim, q, keep) };
        }
        self.prefiltered_portable(dim, q, keep)
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "popcnt")]
    unsafe fn prefiltered_popcnt(&self, dim: usize, q: &Quantized, keep: usize) -> Vec<usize> {
        self.prefiltered_portable(dim, q, keep)
    }

    #[inline(always)]
    fn prefiltered_portable(&self, dim: usize, q: &Quantized, keep: usize) -> Vec<usize> {
        let w = Self::words(dim);
        let mut qbits = Vec::with_capacity(w);
        sign_bits(&q.values, &mut qbits);
        let n = self.ids.len();
        // Plain loops, not iterator adapters: a `collect` is compiled once, outside the
        // popcount build of this function.
        let mut first = vec![0u8; n];
        let mut histogram = [0usize; 65];
        for (d, word) in first.iter_mut().zip(&self.bits[0]) {
            *d = (word ^ qbits[0]).count_ones() as u8;
            histogram[usize::from(*d)] += 1;
        }
        let wanted = (n / FIRST_STAGE_SHARE).max(FIRST_STAGE_MIN).max(keep);
        let mut seen = 0;
        let threshold = histogram
            .iter()
            .position(|c| {
                seen += c;
                seen >= wanted
            })
            .unwrap_or(64) as u8;
        // Max-heap on distance: the root is the worst of the best `keep` so far.
        let mut heap: BinaryHeap<(u32, usize)> = BinaryHeap::with_capacity(keep + 1);
        for (i, d0) in first.iter().enumerate() {
            if *d0 > threshold {
                continue;
            }
            let d: u32 = self
                .bits
                .iter()
                .zip(&qbits)
                .map(|(column, b)| (column[i] ^ b).count_ones())
                .sum();
            if heap.len() < keep {
                heap.push((d, i));
            } else if heap.peek().is_some_and(|top| d < top.0) {
                heap.pop();
                heap.push((d, i));
            }
        }
        heap.into_iter().map(|(_, i)| i).collect()
    }
}

/// Every partition, keyed by tenant and vertical.
pub struct Partitions {
    dim: usize,
    parts: RwLock<HashMap<(String, String), Partition>>,
}

impl Partitions {
    pub fn new(dim: usize) -> Partitions {
        Partitions {
            dim,
            parts: RwLock::new(HashMap::new()),
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
        parts
            .entry((tenant.to_owned(), vertical.to_owned()))
            .or_default()
            .upsert(self.dim, id, v);
    }

    pub fn remove(&self, tenant: &str, vertical: &str, id: Uuid) {
        if let Some(p) = self
            .write()
            .get_mut(&(tenant.to_owned(), vertical.to_owned()))
        {
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
        let q = Quantized::from_f32(query);
        self.read()
            .get(&(tenant.to_owned(), vertical.to_owned()))
            .map(|p| p.nearest(self.dim, &q, k, EXACT_MAX))
            .unwrap_or_default()
    }

    /// [`Self::nearest`] by comparing every vector's bytes, whatever the partition's size: the
    /// answer the prefilter approximates (benches/vector_recall.rs measures how well).
    pub fn nearest_exact(
        &self,
        tenant: &str,
        vertical: &str,
        query: &[f32],
        k: usize,
    ) -> Vec<(Uuid, f32)> {
        let q = Quantized::from_f32(query);
        self.read()
            .get(&(tenant.to_owned(), vertical.to_owned()))
            .map(|p| p.nearest(self.dim, &q, k, usize::MAX))
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
                p.slot
                    .get(id)
                    .map(|&i| p.similarity(self.dim, i, &q.values, q.scale))
            })
            .collect()
    }

    /// Vectors held, over all partitions.
    pub fn len(&self) -> usize {
        self.read().values().map(|p| p.ids.len()).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
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

    #[test]
    fn the_prefilter_finds_what_the_exact_scan_finds() {
        // Clustered vectors, like a catalog's: 600 families of 100 near-identical records; the
        // first stage keeps 5,000 of the 60,000.
        let dim = 256;
        let mut part = Partition::default();
        for s in 0..60_000u64 {
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
        for family in [3u64, 170, 420] {
            let q = Quantized::from_f32(&unit(family, dim));
            let exact = part.nearest(dim, &q, 20, usize::MAX);
            let filtered = part.nearest(dim, &q, 20, 0);
            let overlap = filtered.iter().filter(|h| exact.contains(h)).count();
            assert!(overlap >= 18, "family {family}: {overlap} of 20");
            assert!(filtered
                .iter()
                .all(|(id, _)| id.as_u128() as u64 / 100 == family));
        }
    }

    #[test]
    fn removals_and_updates_keep_the_sign_bits_with_their_slots() {
        let dim = 256;
        let mut part = Partition::default();
        let id = |s: u64| Uuid::from_u128(u128::from(s) + 1);
        for s in 0..300u64 {
            part.upsert(dim, id(s), &Quantized::from_f32(&unit(s, dim)));
        }
        // Removals move the last slot into the hole; updates rewrite a slot in place.
        for s in (0..300u64).step_by(7) {
            part.remove(dim, id(s));
        }
        for s in (1..300u64).step_by(11) {
            part.upsert(dim, id(s), &Quantized::from_f32(&unit(1_000 + s, dim)));
        }
        for s in (0..300u64).filter(|s| s % 7 != 0) {
            let v = if s % 11 == 1 {
                unit(1_000 + s, dim)
            } else {
                unit(s, dim)
            };
            // Through the prefilter (exact limit 0): only the sign bits choose the candidates.
            let hit = part.nearest(dim, &Quantized::from_f32(&v), 1, 0);
            assert_eq!(hit[0].0, id(s), "slot of {s}");
        }
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
