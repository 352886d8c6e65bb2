//! Text embeddings of the searchable entities, kept so that a restart does not recompute them.
//! They are derived data (the indexer recomputes any of them from the entity), written by the
//! indexer in the same round that indexes the entity, before its queue entry goes.
//!
//! `vectors`: tenant `\0` entity id (16 bytes) → format byte, vertical length (u16 LE), vertical,
//! scale (f32 LE), one signed byte per dimension; and [`MODEL_KEY`] → the id of the model that made them.

use uuid::Uuid;

use super::StoreError;

/// Where the model id is kept: 0xFF never starts a UTF-8 tenant id.
const MODEL_KEY: &[u8] = b"\xffmodel";
const FORMAT_V1: u8 = 1;

/// A unit vector stored as one signed byte per dimension and the scale that maps a byte back:
/// `value ≈ scale × byte`.
#[derive(Clone, Debug, PartialEq)]
pub struct Quantized {
    pub scale: f32,
    pub values: Vec<i8>,
}

impl Quantized {
    /// Scales the largest magnitude to 127.
    pub fn from_f32(v: &[f32]) -> Quantized {
        let max = v.iter().fold(0f32, |m, x| m.max(x.abs()));
        if max == 0.0 || !max.is_finite() {
            return Quantized {
                scale: 0.0,
                values: vec![0; v.len()],
            };
        }
        let scale = max / 127.0;
        Quantized {
            scale,
            values: v
                .iter()
                .map(|x| (x / scale).round().clamp(-127.0, 127.0) as i8)
                .collect(),
        }
    }
}

fn key(tenant: &str, id: Uuid) -> Vec<u8> {
    let mut k = Vec::with_capacity(tenant.len() + 17);
    k.extend_from_slice(tenant.as_bytes());
    k.push(0);
    k.extend_from_slice(id.as_bytes());
    k
}

fn encode(vertical: &str, v: &Quantized) -> Vec<u8> {
    let mut out = Vec::with_capacity(3 + vertical.len() + 4 + v.values.len());
    out.push(FORMAT_V1);
    out.extend_from_slice(&(vertical.len() as u16).to_le_bytes());
    out.extend_from_slice(vertical.as_bytes());
    out.extend_from_slice(&v.scale.to_le_bytes());
    out.extend(v.values.iter().map(|b| *b as u8));
    out
}

/// The vertical of a stored value, and the rest.
fn split(bytes: &[u8]) -> Option<(&str, &[u8])> {
    let bytes = bytes.strip_prefix(&[FORMAT_V1])?;
    let len = u16::from_le_bytes(bytes.get(..2)?.try_into().ok()?) as usize;
    let vertical = std::str::from_utf8(bytes.get(2..2 + len)?).ok()?;
    Some((vertical, &bytes[2 + len..]))
}

fn decode(bytes: &[u8]) -> Option<(&str, Quantized)> {
    let (vertical, rest) = split(bytes)?;
    let scale = f32::from_le_bytes(rest.get(..4)?.try_into().ok()?);
    let values = rest[4..].iter().map(|b| *b as i8).collect();
    Some((vertical, Quantized { scale, values }))
}

fn corrupt(what: &str) -> StoreError {
    StoreError::Codec(format!("stored vector: {what}"))
}

/// One stored vector, as [`VectorStore::for_each`] hands it over.
pub struct StoredVector<'a> {
    pub tenant: &'a str,
    pub id: Uuid,
    pub vertical: &'a str,
    pub vector: Quantized,
}

pub struct VectorStore {
    tree: crate::store::kv::Tree,
}

impl VectorStore {
    pub(super) fn open(db: &crate::store::kv::Db) -> Result<Self, StoreError> {
        Ok(VectorStore {
            tree: db.open_tree("vectors")?,
        })
    }

    /// Stores the vector of an entity; answers the vertical of the one it replaced.
    pub fn put(
        &self,
        tenant: &str,
        id: Uuid,
        vertical: &str,
        v: &Quantized,
    ) -> Result<Option<String>, StoreError> {
        let old = self.tree.swap(key(tenant, id), encode(vertical, v))?;
        Ok(old.and_then(|o| split(&o).map(|(v, _)| v.to_owned())))
    }

    /// Removes the vector of an entity; answers the vertical it was stored under.
    pub fn remove(&self, tenant: &str, id: Uuid) -> Result<Option<String>, StoreError> {
        let old = self.tree.take(key(tenant, id))?;
        Ok(old.and_then(|o| split(&o).map(|(v, _)| v.to_owned())))
    }

    /// The id of the model the stored vectors were made with.
    pub fn model(&self) -> Result<Option<String>, StoreError> {
        Ok(self
            .tree
            .get(MODEL_KEY)?
            .map(|v| String::from_utf8_lossy(&v).into_owned()))
    }

    /// Drops every vector and records the model the next ones will be made with.
    pub fn reset(&self, model: &str) -> Result<(), StoreError> {
        self.tree.clear()?;
        self.tree.insert(MODEL_KEY, model.as_bytes())?;
        Ok(())
    }

    pub fn delete_tenant(&self, tenant: &str) -> Result<(), StoreError> {
        let mut prefix = tenant.as_bytes().to_vec();
        prefix.push(0);
        for item in self.tree.scan_prefix(prefix) {
            self.tree.remove(item?.0)?;
        }
        Ok(())
    }

    /// Every stored vector, in key order.
    pub fn for_each(&self, mut f: impl FnMut(StoredVector<'_>)) -> Result<(), StoreError> {
        for item in self.tree.iter() {
            let (k, v) = item?;
            if k.as_ref() == MODEL_KEY {
                continue;
            }
            let nul = k
                .len()
                .checked_sub(17)
                .ok_or_else(|| corrupt("short key"))?;
            let tenant = std::str::from_utf8(&k[..nul]).map_err(|_| corrupt("tenant"))?;
            let id = Uuid::from_slice(&k[nul + 1..]).map_err(|_| corrupt("id"))?;
            let (vertical, vector) = decode(&v).ok_or_else(|| corrupt("value"))?;
            f(StoredVector {
                tenant,
                id,
                vertical,
                vector,
            });
        }
        Ok(())
    }

    pub fn len(&self) -> usize {
        self.tree.len().saturating_sub(usize::from(
            self.tree.contains_key(MODEL_KEY).unwrap_or(false),
        ))
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn open() -> (tempfile::TempDir, VectorStore) {
        let dir = tempfile::tempdir().unwrap();
        let db = crate::store::kv::Db::open(dir.path()).unwrap();
        (dir, VectorStore::open(&db).unwrap())
    }

    #[test]
    fn quantizing_keeps_direction() {
        let v = [0.6f32, -0.8, 0.0, 0.05];
        let q = Quantized::from_f32(&v);
        assert_eq!(q.values[1], -127);
        for (x, b) in v.iter().zip(&q.values) {
            assert!((x - q.scale * f32::from(*b)).abs() < 0.01);
        }
        assert_eq!(Quantized::from_f32(&[0.0, 0.0]).values, vec![0, 0]);
    }

    #[test]
    fn put_answers_the_previous_vertical_and_scans_back() {
        let (_d, s) = open();
        let id = Uuid::now_v7();
        let v = Quantized::from_f32(&[0.5, -0.5]);
        assert_eq!(s.put("acme", id, "parts", &v).unwrap(), None);
        assert_eq!(
            s.put("acme", id, "tools", &v).unwrap().as_deref(),
            Some("parts")
        );
        s.reset("m1").unwrap();
        assert!(s.is_empty());
        assert_eq!(s.model().unwrap().as_deref(), Some("m1"));
        s.put("acme", id, "tools", &v).unwrap();
        s.put("other", Uuid::now_v7(), "tools", &v).unwrap();
        let mut seen = Vec::new();
        s.for_each(|sv| seen.push((sv.tenant.to_owned(), sv.vertical.to_owned(), sv.vector)))
            .unwrap();
        assert_eq!(seen.len(), 2);
        assert_eq!(seen[0], ("acme".into(), "tools".into(), v));
        s.delete_tenant("acme").unwrap();
        assert_eq!(s.len(), 1);
        assert_eq!(s.remove("other", id).unwrap(), None);
    }
}
