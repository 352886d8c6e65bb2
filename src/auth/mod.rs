//! Who is calling: an API key of a tenant, the operator's master key, or (development mode only)
//! a tenant named by `X-Tenant-Id`. See API.md §1.

pub mod access;
pub mod key;
pub mod middleware;
pub mod scope;
pub mod secrets;

use std::future::{ready, Ready};
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use actix_web::http::header::{HeaderMap, AUTHORIZATION};
use actix_web::{dev::Payload, FromRequest, HttpMessage, HttpRequest};

use crate::error::ApiError;
use crate::ratelimit::AuthFailureLimiter;
use crate::store::{KeyEntry, Store, Tenant, TenantId, TenantStatus};
use crate::timestamp;
use key::{ApiKey, KeyHasher};
use scope::Scopes;

pub const TENANT_HEADER: &str = "x-tenant-id";

pub(crate) const INVALID_KEY: &str = "Invalid API key.";
const MISSING_KEY: &str = "Missing API key. Send 'Authorization: Bearer <key>'.";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CallerKind {
    ApiKey,
    Master,
    Development,
}

/// The authenticated principal of a request. Handlers obtain it only through its extractor, which
/// fails unless the auth middleware put it there.
#[derive(Clone, Debug)]
pub struct Caller {
    pub kind: CallerKind,
    /// `None` only for the master key without `X-Tenant-Id`.
    pub tenant: Option<Arc<Tenant>>,
    pub key: Option<Arc<KeyEntry>>,
    pub scopes: Scopes,
}

impl Caller {
    /// The tenant acted for; the master key must name one with `X-Tenant-Id`.
    pub fn tenant(&self) -> Result<&Arc<Tenant>, ApiError> {
        self.tenant.as_ref().ok_or_else(|| {
            ApiError::BadRequest(
                "The master key must name a tenant with the X-Tenant-Id header.".into(),
            )
        })
    }

    pub fn is_master(&self) -> bool {
        self.kind == CallerKind::Master
    }

    pub fn require_master(&self) -> Result<(), ApiError> {
        if self.is_master() {
            Ok(())
        } else {
            Err(ApiError::InsufficientScope(
                "Only the master key may create, update or delete tenants.".into(),
            ))
        }
    }

    /// Whether the per-tenant rate limit applies (the operator is never limited).
    pub fn rate_limited_tenant(&self) -> Option<&Arc<Tenant>> {
        (!self.is_master())
            .then_some(self.tenant.as_ref())
            .flatten()
    }
}

impl FromRequest for Caller {
    type Error = ApiError;
    type Future = Ready<Result<Caller, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(
            req.extensions()
                .get::<Caller>()
                .cloned()
                .ok_or(ApiError::InvalidApiKey(MISSING_KEY)),
        )
    }
}

/// Resolves credentials to a [`Caller`].
pub struct Authenticator {
    hasher: KeyHasher,
    master_hash: blake3::Hash,
    development: bool,
    /// Plan of tenants created by development mode on first use.
    dev_plan: String,
    failures: AuthFailureLimiter,
    /// Key-store lookups performed; exported as a metric so tests can see that a malformed key
    /// is refused before any lookup.
    pub lookups: AtomicU64,
}

/// The token of `Authorization: Bearer <token>`: scheme case-insensitive, exactly one space.
fn bearer_token(value: &str) -> Option<&str> {
    let (scheme, token) = value.split_at_checked(7)?;
    (scheme.eq_ignore_ascii_case("bearer ") && !token.is_empty() && !token.starts_with(' '))
        .then_some(token)
}

impl Authenticator {
    pub fn new(
        hasher: KeyHasher,
        master_key: &str,
        development: bool,
        dev_plan: String,
        failures: AuthFailureLimiter,
    ) -> Self {
        Authenticator {
            hasher,
            master_hash: blake3::hash(master_key.as_bytes()),
            development,
            dev_plan,
            failures,
            lookups: AtomicU64::new(0),
        }
    }

    pub fn hasher(&self) -> &KeyHasher {
        &self.hasher
    }

    pub fn evict_idle(&self) {
        self.failures.evict_idle();
    }

    /// Authenticates the request's headers. `ip` is the peer, for the failed-auth limit.
    pub async fn authenticate(
        &self,
        store: &Store,
        headers: &HeaderMap,
        ip: Option<IpAddr>,
    ) -> Result<Caller, ApiError> {
        let tenant_header = headers
            .get(TENANT_HEADER)
            .map(|v| {
                v.to_str().ok().and_then(TenantId::parse).ok_or_else(|| {
                    ApiError::BadRequest(
                        "X-Tenant-Id must be 1-64 characters of A-Z, a-z, 0-9, '_' or '-'.".into(),
                    )
                })
            })
            .transpose();

        let Some(authorization) = headers.get(AUTHORIZATION) else {
            // Without a key, only development mode reads X-Tenant-Id; in production a malformed
            // one is just another unauthenticated call.
            return match self.development {
                true => match tenant_header? {
                    Some(tenant) => self.development_caller(store, &tenant).await,
                    None => Err(ApiError::InvalidApiKey(MISSING_KEY)),
                },
                false => Err(ApiError::InvalidApiKey(MISSING_KEY)),
            };
        };

        let token = authorization.to_str().ok().and_then(bearer_token);
        let result = match token {
            None => Err(ApiError::InvalidApiKey(INVALID_KEY)),
            Some(token) => match ApiKey::parse(token) {
                Some(key) => self.key_caller(store, &key),
                None if blake3::hash(token.as_bytes()) == self.master_hash => {
                    // blake3::Hash equality is constant-time.
                    self.master_caller(store, tenant_header?).await
                }
                None => Err(ApiError::InvalidApiKey(INVALID_KEY)),
            },
        };
        // Only failures are limited: a client whose guesses were cut off keeps using valid
        // credentials, so one noisy client behind a shared proxy cannot lock out every tenant
        // and the operator.
        if let (Err(ApiError::InvalidApiKey(_) | ApiError::KeyExpired), Some(ip)) = (&result, ip) {
            if let Some(retry_after) = self.failures.blocked(ip) {
                return Err(ApiError::RateLimited { retry_after });
            }
            self.failures.record_failure(ip);
        }
        result
    }

    fn key_caller(&self, store: &Store, key: &ApiKey<'_>) -> Result<Caller, ApiError> {
        self.lookups.fetch_add(1, Ordering::Relaxed);
        let entry = store
            .keys
            .lookup(&self.hasher.hash(key))
            .ok_or(ApiError::InvalidApiKey(INVALID_KEY))?;
        let now = timestamp::now();
        if entry.is_expired(now) {
            return Err(ApiError::KeyExpired);
        }
        let tenant = store
            .tenants
            .get(&entry.record.tenant_id)
            .ok_or(ApiError::InvalidApiKey(INVALID_KEY))?;
        if tenant.status == TenantStatus::Suspended {
            return Err(ApiError::TenantSuspended);
        }
        store.keys.touch(&entry, now);
        Ok(Caller {
            kind: CallerKind::ApiKey,
            scopes: Scopes::from_bits(entry.record.scopes),
            tenant: Some(tenant),
            key: Some(entry),
        })
    }

    async fn master_caller(
        &self,
        store: &Store,
        tenant: Option<TenantId>,
    ) -> Result<Caller, ApiError> {
        let tenant = match tenant {
            None => None,
            Some(id) if self.development => Some(self.get_or_create(store, &id).await?),
            Some(id) => Some(
                store
                    .tenants
                    .get(id.as_str())
                    .ok_or_else(|| ApiError::not_found(&format!("Tenant '{}'", id.as_str())))?,
            ),
        };
        Ok(Caller {
            kind: CallerKind::Master,
            tenant,
            key: None,
            scopes: Scopes::all(),
        })
    }

    async fn development_caller(&self, store: &Store, id: &TenantId) -> Result<Caller, ApiError> {
        let tenant = self.get_or_create(store, id).await?;
        if tenant.status == TenantStatus::Suspended {
            return Err(ApiError::TenantSuspended);
        }
        Ok(Caller {
            kind: CallerKind::Development,
            tenant: Some(tenant),
            key: None,
            scopes: Scopes::all(),
        })
    }

    /// Development mode creates unknown tenants on first use, durably, on `DEV_PLAN`.
    async fn get_or_create(&self, store: &Store, id: &TenantId) -> Result<Arc<Tenant>, ApiError> {
        if let Some(t) = store.tenants.get(id.as_str()) {
            return Ok(t);
        }
        let fresh = Tenant {
            id: id.as_str().to_owned(),
            name: id.as_str().to_owned(),
            plan: self.dev_plan.clone(),
            status: TenantStatus::Active,
            created_at: timestamp::now(),
        };
        // Shared, like any request in the tenant: enough to wait out a deletion of the same id,
        // and a request that raced this one to create the tenant (and now holds the gate while
        // its body arrives) does not hold this one up.
        let _not_deleting = store.tenants.gate(id.as_str()).read_owned().await;
        let created = store.tenants.insert_new(fresh)?;
        store.flush().await?;
        if created.is_some() {
            log::info!("development mode: created tenant '{}'", id.as_str());
        }
        store
            .tenants
            .get(id.as_str())
            .ok_or_else(|| ApiError::Internal("tenant vanished after creation".into()))
    }
}

#[cfg(test)]
mod tests {
    use super::bearer_token;

    #[test]
    fn bearer_parsing_is_strict() {
        assert_eq!(bearer_token("Bearer abc"), Some("abc"));
        assert_eq!(bearer_token("bearer abc"), Some("abc"));
        assert_eq!(bearer_token("Bearer  abc"), None);
        assert_eq!(bearer_token("Bearer "), None);
        assert_eq!(bearer_token("Bearer"), None);
        assert_eq!(bearer_token("Basic abc"), None);
        assert_eq!(bearer_token("Bearerabc"), None);
        assert_eq!(bearer_token("Beаrer abc"), None);
    }
}
