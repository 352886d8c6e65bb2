//! Database connectors (API-RECORDS.md §6): definitions and when each scheduled one runs next.
//!
//! - `connectors`: tenant `\0` uuid → [`Connector`] (a prefix scan lists a tenant's connectors in
//!   creation order). The connection settings are stored sealed (`crate::connectors::sealing`);
//!   nothing in this tree holds them in clear.
//! - `connector_due`: tenant `\0` uuid → next run (unix ms, i64 BE), one entry per scheduled
//!   connector. The scheduler reads only this small tree on each tick; an entry whose connector
//!   is gone is dropped when met.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{decode, encode, IngestionStatus, StoreError};

/// The outcome of a connector's latest pull.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PullRecord {
    pub upload_id: Uuid,
    pub status: IngestionStatus,
    /// Unix ms.
    pub started_at: i64,
    pub completed_at: i64,
    /// Why a failed pull failed (passwords redacted).
    pub error: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Connector {
    pub id: Uuid,
    pub tenant_id: String,
    pub name: String,
    /// `postgresql`, `mysql` or `sqlite`.
    pub connector_type: String,
    pub vertical: String,
    pub entity_type: String,
    /// The connection settings (JSON), sealed.
    pub sealed_config: Vec<u8>,
    pub query: String,
    pub name_column: String,
    pub batch_size: u32,
    pub schedule: Option<String>,
    /// Unix ms.
    pub created_at: i64,
    pub updated_at: i64,
    pub last_pull: Option<PullRecord>,
    /// Start of the latest pull that completed: the value of `:last_pull` for the next one.
    pub last_success_started_at: Option<i64>,
}

fn tenant_prefix(tenant: &str) -> Vec<u8> {
    let mut k = tenant.as_bytes().to_vec();
    k.push(0);
    k
}

fn key(tenant: &str, id: Uuid) -> Vec<u8> {
    let mut k = tenant_prefix(tenant);
    k.extend_from_slice(id.as_bytes());
    k
}

/// The tenant and id a key names.
fn parse_key(k: &[u8]) -> Option<(String, Uuid)> {
    let (id, rest) = k.split_last_chunk::<16>()?;
    let tenant = id.strip_suffix(&[0])?;
    Some((
        String::from_utf8(tenant.to_vec()).ok()?,
        Uuid::from_bytes(*rest),
    ))
}

pub struct ConnectorStore {
    connectors: crate::store::kv::Tree,
    due: crate::store::kv::Tree,
}

impl ConnectorStore {
    pub(super) fn open(db: &crate::store::kv::Db) -> Result<Self, StoreError> {
        Ok(ConnectorStore {
            connectors: db.open_tree("connectors")?,
            due: db.open_tree("connector_due")?,
        })
    }

    /// Stores the connector; `next_run` (unix ms) schedules it, `None` unschedules it.
    pub fn put(&self, c: &Connector, next_run: Option<i64>) -> Result<(), StoreError> {
        self.connectors
            .insert(key(&c.tenant_id, c.id), encode(c)?)?;
        self.set_due(&c.tenant_id, c.id, next_run)
    }

    pub fn get(&self, tenant: &str, id: Uuid) -> Result<Option<Connector>, StoreError> {
        self.connectors
            .get(key(tenant, id))?
            .map(|b| decode(&b))
            .transpose()
    }

    pub fn list(&self, tenant: &str) -> Result<Vec<Connector>, StoreError> {
        self.connectors
            .scan_prefix(tenant_prefix(tenant))
            .map(|item| decode(&item?.1))
            .collect()
    }

    pub fn count(&self, tenant: &str) -> usize {
        self.connectors.scan_prefix(tenant_prefix(tenant)).count()
    }

    /// Changes a stored connector atomically (a pull's result must not undo a concurrent
    /// change, nor bring back a deleted connector). `None` if it does not exist.
    pub fn update(
        &self,
        tenant: &str,
        id: Uuid,
        f: impl Fn(&mut Connector),
    ) -> Result<Option<Connector>, StoreError> {
        let k = key(tenant, id);
        loop {
            let Some(old) = self.connectors.get(&k)? else {
                return Ok(None);
            };
            let mut c: Connector = decode(&old)?;
            f(&mut c);
            if self
                .connectors
                .compare_and_swap(&k, Some(old), Some(encode(&c)?))?
                .is_ok()
            {
                return Ok(Some(c));
            }
        }
    }

    pub fn delete(&self, tenant: &str, id: Uuid) -> Result<bool, StoreError> {
        self.due.remove(key(tenant, id))?;
        Ok(self.connectors.take(key(tenant, id))?.is_some())
    }

    pub fn set_due(&self, tenant: &str, id: Uuid, next_run: Option<i64>) -> Result<(), StoreError> {
        match next_run {
            Some(ms) => self.due.insert(key(tenant, id), ms.to_be_bytes())?,
            None => self.due.remove(key(tenant, id))?,
        };
        Ok(())
    }

    /// When the connector runs next (unix ms), if it is scheduled.
    pub fn due_at(&self, tenant: &str, id: Uuid) -> Result<Option<i64>, StoreError> {
        Ok(self
            .due
            .get(key(tenant, id))?
            .and_then(|v| v.as_ref().try_into().ok().map(i64::from_be_bytes)))
    }

    /// Scheduled connectors whose next run is at or before `now_ms`: (tenant, id, due).
    pub fn due(&self, now_ms: i64) -> Result<Vec<(String, Uuid, i64)>, StoreError> {
        let mut out = Vec::new();
        for item in self.due.iter() {
            let (k, v) = item?;
            let at = v
                .as_ref()
                .try_into()
                .map(i64::from_be_bytes)
                .unwrap_or(i64::MIN);
            match parse_key(&k) {
                Some((tenant, id)) if at <= now_ms => out.push((tenant, id, at)),
                Some(_) => {}
                None => {
                    self.due.remove(k)?;
                }
            }
        }
        Ok(out)
    }

    /// Gives every scheduled connector that has no next run one at `at_ms`; returns how many.
    /// A restored store can hold a connector whose schedule entry was written after the copy
    /// passed it; without an entry it would never run by itself again.
    pub(super) fn schedule_missing(&self, at_ms: i64) -> Result<usize, StoreError> {
        let mut n = 0;
        for item in self.connectors.iter() {
            let (k, v) = item?;
            let c: Connector = decode(&v)?;
            if c.schedule.is_some() && !self.due.contains_key(&k)? {
                self.due.insert(k, at_ms.to_be_bytes())?;
                n += 1;
            }
        }
        Ok(n)
    }

    pub(super) fn delete_tenant(&self, tenant: &str) -> Result<(), StoreError> {
        let prefix = tenant_prefix(tenant);
        super::remove_prefix(&[&self.connectors, &self.due], &prefix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn connector(tenant: &str) -> Connector {
        Connector {
            id: Uuid::now_v7(),
            tenant_id: tenant.into(),
            name: "c".into(),
            connector_type: "sqlite".into(),
            vertical: "v".into(),
            entity_type: "t".into(),
            sealed_config: vec![1, 2, 3],
            query: "SELECT 1".into(),
            name_column: "name".into(),
            batch_size: 1000,
            schedule: Some("every 1m".into()),
            created_at: 1,
            updated_at: 1,
            last_pull: None,
            last_success_started_at: None,
        }
    }

    #[test]
    fn due_entries_follow_their_connectors_and_tenants() {
        let dir = tempfile::tempdir().unwrap();
        let db = crate::store::kv::Db::open(dir.path()).unwrap();
        let s = ConnectorStore::open(&db).unwrap();
        let (a, b, c) = (connector("t"), connector("t"), connector("u"));
        s.put(&a, Some(1_000)).unwrap();
        s.put(&b, Some(5_000)).unwrap();
        s.put(&c, None).unwrap();
        assert_eq!(s.due_at("t", b.id).unwrap(), Some(5_000));
        assert_eq!(s.due_at("u", c.id).unwrap(), None);
        assert_eq!(s.due(2_000).unwrap(), vec![("t".to_owned(), a.id, 1_000)]);
        assert_eq!(s.list("t").unwrap().len(), 2);
        assert_eq!(s.count("u"), 1);
        let changed = s.update("t", a.id, |x| x.name = "renamed".into()).unwrap();
        assert_eq!(changed.unwrap().name, "renamed");
        assert!(s.delete("t", a.id).unwrap());
        assert!(s
            .update("t", a.id, |x| x.name = "back".into())
            .unwrap()
            .is_none());
        assert!(s.due(2_000).unwrap().is_empty());
        s.delete_tenant("t").unwrap();
        assert!(s.due(10_000).unwrap().is_empty());
        assert!(s.list("t").unwrap().is_empty());
        assert_eq!(s.list("u").unwrap(), vec![c]);
    }
}
