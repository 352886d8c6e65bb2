//! MCP sessions (Streamable HTTP, `Mcp-Session-Id`): issued by `initialize`, bound to the
//! caller who made them, ended by `DELETE` or by idleness. Kept in memory: after a restart a
//! client's next request gets 404 and the protocol has it initialize again.

use std::sync::atomic::{AtomicI64, Ordering};

use dashmap::DashMap;
use rand::RngCore;
use uuid::Uuid;

use super::Audience;

/// A session unused this long is forgotten.
pub const IDLE_SECS: i64 = 60 * 60;
/// Sessions one tenant may hold; a new one beyond it replaces the tenant's least recently used
/// (clients that never send DELETE cannot grow memory without bound).
pub const MAX_PER_TENANT: usize = 256;

/// Who may use a session: the tenant, key (none for the master key, development mode and
/// Open) and audience that initialized it. Another caller presenting its id is told it does not
/// exist, so an `/open/mcp/` session is unknown on `/mcp/` and the reverse.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Owner {
    pub tenant: String,
    pub key: Option<Uuid>,
    pub audience: Audience,
}

pub struct Session {
    pub owner: Owner,
    /// The protocol version `initialize` agreed on.
    pub version: &'static str,
    last_used: AtomicI64,
}

#[derive(Default)]
pub struct Sessions {
    by_id: DashMap<String, Session>,
}

fn now() -> i64 {
    crate::timestamp::now()
}

impl Sessions {
    /// A new session for `owner`; its id is 128 random bits in hex.
    pub fn create(&self, owner: Owner, version: &'static str) -> String {
        let mut bytes = [0u8; 16];
        rand::rng().fill_bytes(&mut bytes);
        let id = hex::encode(bytes);
        let held: Vec<(String, i64)> = self
            .by_id
            .iter()
            .filter(|s| s.owner.tenant == owner.tenant)
            .map(|s| (s.key().clone(), s.last_used.load(Ordering::Relaxed)))
            .collect();
        if held.len() >= MAX_PER_TENANT {
            if let Some((oldest, _)) = held.iter().min_by_key(|(_, t)| *t) {
                self.by_id.remove(oldest);
            }
        }
        self.by_id.insert(
            id.clone(),
            Session {
                owner,
                version,
                last_used: AtomicI64::new(now()),
            },
        );
        id
    }

    /// The protocol version of the session `id` if `owner` holds it, marking it used.
    pub fn touch(&self, id: &str, owner: &Owner) -> Option<&'static str> {
        let s = self.by_id.get(id)?;
        if s.owner != *owner {
            return None;
        }
        s.last_used.store(now(), Ordering::Relaxed);
        Some(s.version)
    }

    /// Ends the session `id` if `owner` holds it; whether it did.
    pub fn end(&self, id: &str, owner: &Owner) -> bool {
        self.by_id.remove_if(id, |_, s| s.owner == *owner).is_some()
    }

    /// Forgets sessions idle for [`IDLE_SECS`].
    pub fn evict_idle(&self) {
        let cutoff = now() - IDLE_SECS;
        self.by_id
            .retain(|_, s| s.last_used.load(Ordering::Relaxed) >= cutoff);
    }

    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn owner(t: &str) -> Owner {
        Owner {
            tenant: t.into(),
            key: None,
            audience: Audience::Tenant,
        }
    }

    #[test]
    fn sessions_belong_to_their_owner() {
        let s = Sessions::default();
        let id = s.create(owner("a"), "2025-06-18");
        assert_eq!(id.len(), 32);
        assert_eq!(s.touch(&id, &owner("a")), Some("2025-06-18"));
        assert_eq!(s.touch(&id, &owner("b")), None);
        let other_key = Owner {
            key: Some(Uuid::nil()),
            ..owner("a")
        };
        assert_eq!(s.touch(&id, &other_key), None);
        let open = Owner {
            audience: Audience::Public,
            ..owner("a")
        };
        assert_eq!(s.touch(&id, &open), None);
        assert!(!s.end(&id, &owner("b")));
        assert!(s.end(&id, &owner("a")));
        assert_eq!(s.touch(&id, &owner("a")), None);
        assert!(!s.end(&id, &owner("a")));
    }

    #[test]
    fn a_tenant_holds_a_bounded_number() {
        let s = Sessions::default();
        for _ in 0..MAX_PER_TENANT {
            s.create(owner("a"), "2025-06-18");
        }
        s.create(owner("b"), "2025-06-18");
        assert_eq!(s.len(), MAX_PER_TENANT + 1);
        // All were made within the same second; the one replaced is one of the tenant's own.
        s.create(owner("a"), "2025-06-18");
        assert_eq!(s.len(), MAX_PER_TENANT + 1);
    }

    #[test]
    fn idle_sessions_are_evicted() {
        let s = Sessions::default();
        let id = s.create(owner("a"), "2025-06-18");
        s.by_id
            .get(&id)
            .unwrap()
            .last_used
            .store(now() - IDLE_SECS - 1, Ordering::Relaxed);
        s.evict_idle();
        assert!(s.is_empty());
    }
}
