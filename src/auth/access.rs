//! What a route requires (API.md §1) and which rate-limit bucket it draws from (§3). Every route
//! declares its [`Policy`] where it is registered ([`crate::api::resource`] takes one and is the
//! only way to register a route), so a route cannot exist without a declared access rule, and a
//! path no route matches is a 404 for every caller.

use actix_web::http::Method;

use crate::auth::scope::Scope;
use crate::ratelimit::BucketKind;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// No credentials needed (`/health`, `/ready`, `/metrics`).
    Public,
    /// Any valid key, dev-mode tenant or the master key.
    AnyCaller,
    /// No credentials: the published tenant (`OPEN_TENANT_ID`), its public records only,
    /// limited per client IP (API-RECORDS.md §7). The route is absent when none is published.
    Open,
    Scope(Scope),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rule {
    pub access: Access,
    pub bucket: BucketKind,
    /// The request acts within its caller's tenant, so it holds the tenant's gate (shared) and
    /// cannot interleave with the tenant's deletion. False for `/admin/tenants`, which creates
    /// and deletes tenants and takes the gate itself (exclusively to delete).
    pub within_tenant: bool,
}

const fn scoped(scope: Scope) -> Rule {
    Rule {
        access: Access::Scope(scope),
        bucket: BucketKind::General,
        within_tenant: true,
    }
}

pub const PUBLIC: Rule = Rule {
    access: Access::Public,
    bucket: BucketKind::General,
    within_tenant: false,
};
pub const ANY_CALLER: Rule = Rule {
    access: Access::AnyCaller,
    ..scoped(Scope::Search)
};
/// Searching draws from the search bucket (API.md §3); every other route from the general one.
pub const SEARCH: Rule = Rule {
    bucket: BucketKind::Search,
    ..scoped(Scope::Search)
};
/// Reading metadata a search needs (collections, verticals' twin): the `search` scope, general bucket.
pub const SEARCH_READ: Rule = scoped(Scope::Search);
pub const ENTITIES: Rule = scoped(Scope::Entities);
pub const INGEST: Rule = scoped(Scope::Ingest);
pub const ADMIN: Rule = scoped(Scope::Admin);
/// Creating, changing and deleting tenants: admin scope (the handlers further require the
/// master key), outside any one tenant's gate.
pub const TENANT_ADMIN: Rule = Rule {
    within_tenant: false,
    ..scoped(Scope::Admin)
};
/// Pulling a connector: admin scope, outside the tenant's gate, which the pull takes itself on the
/// connector worker (a pull may outlive its request: a client that goes away does not stop it).
pub const CONNECTOR_PULL: Rule = Rule {
    within_tenant: false,
    ..scoped(Scope::Admin)
};

/// Open's lists and reads: 120 per minute per client IP.
pub const OPEN_LIST: Rule = Rule {
    access: Access::Open,
    bucket: BucketKind::General,
    within_tenant: true,
};
/// Open's searches: 60 per minute per client IP.
pub const OPEN_SEARCH: Rule = Rule {
    bucket: BucketKind::Search,
    ..OPEN_LIST
};

/// Requests per minute per client IP on Open, by bucket.
pub const fn open_rpm(bucket: BucketKind) -> u32 {
    match bucket {
        BucketKind::General => 120,
        BucketKind::Search => 60,
    }
}

/// A resource's rule: one for every method, or one for reads (GET, HEAD) and one for writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Policy {
    read: Rule,
    write: Rule,
}

impl Policy {
    pub const fn reads_and_writes(read: Rule, write: Rule) -> Policy {
        Policy { read, write }
    }

    pub fn rule(&self, method: &Method) -> Rule {
        if method == Method::GET || method == Method::HEAD {
            self.read
        } else {
            self.write
        }
    }
}

impl From<Rule> for Policy {
    fn from(rule: Rule) -> Policy {
        Policy {
            read: rule,
            write: rule,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_policy_picks_by_method() {
        let p = Policy::reads_and_writes(ANY_CALLER, ADMIN);
        assert_eq!(p.rule(&Method::GET), ANY_CALLER);
        assert_eq!(p.rule(&Method::HEAD), ANY_CALLER);
        assert_eq!(p.rule(&Method::POST), ADMIN);
        assert_eq!(p.rule(&Method::DELETE), ADMIN);
        let same = Policy::from(INGEST);
        assert_eq!(same.rule(&Method::GET), same.rule(&Method::POST));
    }

    #[test]
    fn only_search_draws_from_the_search_bucket() {
        assert_eq!(SEARCH.bucket, BucketKind::Search);
        assert_eq!(OPEN_SEARCH.bucket, BucketKind::Search);
        for r in [
            ANY_CALLER,
            SEARCH_READ,
            ENTITIES,
            INGEST,
            ADMIN,
            TENANT_ADMIN,
            CONNECTOR_PULL,
        ] {
            assert_eq!(r.bucket, BucketKind::General);
        }
    }

    #[test]
    fn only_tenant_administration_and_pulls_are_outside_a_tenant() {
        const { assert!(!TENANT_ADMIN.within_tenant) };
        const { assert!(!CONNECTOR_PULL.within_tenant) };
        for r in [ANY_CALLER, SEARCH, SEARCH_READ, ENTITIES, INGEST, ADMIN] {
            assert!(r.within_tenant);
        }
    }
}
