//! Usage counts per tenant, by month and by day. `usage`: tenant `\0` period (`YYYY-MM` for the
//! month, `YYYY-MM-DD` for one of its days) → a version byte and four u64 (BE): requests,
//! searches, ingested records, entities created. Records written before the version byte
//! existed are the 32 bytes alone (and there are no day records from before days were kept).

use super::StoreError;

const FORMAT_V1: u8 = 1;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct UsageCounts {
    pub requests: u64,
    pub searches: u64,
    pub ingested_records: u64,
    pub entities_created: u64,
}

impl UsageCounts {
    fn encode(&self) -> [u8; 33] {
        let mut out = [0u8; 33];
        out[0] = FORMAT_V1;
        for (i, v) in [
            self.requests,
            self.searches,
            self.ingested_records,
            self.entities_created,
        ]
        .into_iter()
        .enumerate()
        {
            out[1 + i * 8..9 + i * 8].copy_from_slice(&v.to_be_bytes());
        }
        out
    }

    fn decode(b: &[u8]) -> Result<Self, StoreError> {
        let b = match b.len() {
            32 => b,
            33 if b[0] == FORMAT_V1 => &b[1..],
            33 => return Err(StoreError::Codec(format!("unknown usage format {}", b[0]))),
            _ => {
                return Err(StoreError::Codec(
                    "usage record has the wrong length".into(),
                ))
            }
        };
        let field = |i: usize| -> Result<u64, StoreError> {
            b.get(i * 8..i * 8 + 8)
                .and_then(|s| s.try_into().ok())
                .map(u64::from_be_bytes)
                .ok_or_else(|| StoreError::Codec("usage record has the wrong length".into()))
        };
        Ok(UsageCounts {
            requests: field(0)?,
            searches: field(1)?,
            ingested_records: field(2)?,
            entities_created: field(3)?,
        })
    }
}

fn key(tenant: &str, period: &str) -> Vec<u8> {
    let mut k = tenant.as_bytes().to_vec();
    k.push(0);
    k.extend_from_slice(period.as_bytes());
    k
}

pub struct UsageStore {
    tree: crate::store::kv::Tree,
}

impl UsageStore {
    pub(super) fn open(db: &crate::store::kv::Db) -> Result<Self, StoreError> {
        Ok(UsageStore {
            tree: db.open_tree("usage")?,
        })
    }

    pub fn get(&self, tenant: &str, period: &str) -> Result<UsageCounts, StoreError> {
        match self.tree.get(key(tenant, period))? {
            Some(v) => UsageCounts::decode(&v),
            None => Ok(UsageCounts::default()),
        }
    }

    /// The day records of a month (`YYYY-MM`), as (day of the month, counts), in order.
    pub fn days(&self, tenant: &str, month: &str) -> Result<Vec<(u32, UsageCounts)>, StoreError> {
        let prefix = key(tenant, &format!("{month}-"));
        let mut out = Vec::new();
        for item in self.tree.scan_prefix(&prefix) {
            let (k, v) = item?;
            let day = std::str::from_utf8(&k[prefix.len()..])
                .ok()
                .and_then(|d| d.parse::<u32>().ok())
                .ok_or_else(|| StoreError::Codec("usage day key".into()))?;
            out.push((day, UsageCounts::decode(&v)?));
        }
        Ok(out)
    }

    /// Not flushed: the meter flushes after a round of writes.
    pub fn put(&self, tenant: &str, period: &str, counts: &UsageCounts) -> Result<(), StoreError> {
        self.tree
            .insert(key(tenant, period), &counts.encode()[..])?;
        Ok(())
    }

    pub fn delete_tenant(&self, tenant: &str) -> Result<(), StoreError> {
        for item in self.tree.scan_prefix(key(tenant, "")) {
            self.tree.remove(item?.0)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_round_trip_per_tenant_and_period() {
        let dir = tempfile::tempdir().unwrap();
        let db = crate::store::kv::Db::open(dir.path()).unwrap();
        let s = UsageStore::open(&db).unwrap();
        let c = UsageCounts {
            requests: 1,
            searches: 2,
            ingested_records: u64::MAX,
            entities_created: 4,
        };
        s.put("t", "2026-11", &c).unwrap();
        assert_eq!(s.get("t", "2026-11").unwrap(), c);
        assert_eq!(s.get("t", "2026-12").unwrap(), UsageCounts::default());
        assert_eq!(s.get("t2", "2026-11").unwrap(), UsageCounts::default());
        s.put("t2", "2026-11", &c).unwrap();
        s.delete_tenant("t").unwrap();
        assert_eq!(s.get("t", "2026-11").unwrap(), UsageCounts::default());
        assert_eq!(s.get("t2", "2026-11").unwrap(), c);
        assert!(UsageCounts::decode(&[1, 2]).is_err());
        assert!(UsageCounts::decode(&[9; 33]).is_err());
        let mut legacy = Vec::new();
        for v in [1u64, 2, u64::MAX, 4] {
            legacy.extend_from_slice(&v.to_be_bytes());
        }
        assert_eq!(UsageCounts::decode(&legacy).unwrap(), c);
    }
}
