//! The one table of what each route family requires (API.md §1) and which rate-limit bucket it
//! draws from (§3). Routes added later under a family inherit its rule without further code.

use actix_web::http::Method;

use crate::auth::scope::Scope;
use crate::ratelimit::BucketKind;

pub const API_PREFIX: &str = "/api/v1";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// No credentials needed (`/health`, `/ready`, `/metrics`, unknown paths outside the API).
    Public,
    /// Any valid key, dev-mode tenant or the master key.
    AnyCaller,
    Scope(Scope),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rule {
    pub access: Access,
    pub bucket: BucketKind,
    /// The request acts within its caller's tenant, so it holds the tenant's gate (shared) and
    /// cannot interleave with the tenant's deletion. False for `/admin/tenants`, which creates
    /// and deletes tenants and takes the gate exclusively itself.
    pub within_tenant: bool,
}

const fn rule(access: Access, bucket: BucketKind) -> Rule {
    Rule {
        access,
        bucket,
        within_tenant: true,
    }
}

/// `path` is under `family` when it is the family itself or below it (segment-aware).
fn under(path: &str, family: &str) -> bool {
    path.strip_prefix(family)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}

pub fn rule_for(method: &Method, path: &str) -> Rule {
    use BucketKind::General;
    let Some(p) = path
        .strip_prefix(API_PREFIX)
        .filter(|r| r.is_empty() || r.starts_with('/'))
    else {
        return rule(Access::Public, General);
    };
    let scoped = |s| rule(Access::Scope(s), General);
    if under(p, "/admin/tenants") {
        Rule {
            within_tenant: false,
            ..scoped(Scope::Admin)
        }
    } else if p == "/auth/me" {
        rule(Access::AnyCaller, General)
    } else if under(p, "/auth/keys") {
        scoped(Scope::Admin)
    } else if under(p, "/search") {
        rule(Access::Scope(Scope::Search), BucketKind::Search)
    } else if under(p, "/entities") || under(p, "/records") {
        scoped(Scope::Entities)
    } else if [
        "/ingest",
        "/webhooks/ingest",
        "/ingestions",
        "/pipeline",
        "/upload",
        "/uploads",
    ]
    .iter()
    .any(|f| under(p, f))
    {
        scoped(Scope::Ingest)
    } else if under(p, "/collections") {
        // Listing is reading (the twin of `/verticals`); changing metadata is administration.
        if method == Method::GET || method == Method::HEAD {
            scoped(Scope::Search)
        } else {
            scoped(Scope::Admin)
        }
    } else if p == "/chat" {
        scoped(Scope::Search)
    } else if under(p, "/schemas") {
        if method == Method::GET || method == Method::HEAD {
            rule(Access::AnyCaller, General)
        } else {
            scoped(Scope::Admin)
        }
    } else if under(p, "/connectors") {
        // A pull takes the tenant's gate itself, on the connector worker: it may outlive the
        // request (a client that goes away does not stop it).
        Rule {
            within_tenant: !p.ends_with("/pull"),
            ..scoped(Scope::Admin)
        }
    } else if ["/admin", "/export", "/usage", "/portal"]
        .iter()
        .any(|f| under(p, f))
    {
        scoped(Scope::Admin)
    } else {
        // `/verticals` and unknown API paths: authenticate, then let routing answer.
        rule(Access::AnyCaller, General)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn access(m: Method, p: &str) -> Access {
        rule_for(&m, p).access
    }

    #[test]
    fn families_map_to_their_scope() {
        use Access::*;
        assert_eq!(access(Method::GET, "/health"), Public);
        assert_eq!(access(Method::GET, "/metrics"), Public);
        assert_eq!(access(Method::GET, "/api/v1/auth/me"), AnyCaller);
        assert_eq!(
            access(Method::POST, "/api/v1/auth/keys"),
            Scope(super::Scope::Admin)
        );
        assert_eq!(
            access(Method::DELETE, "/api/v1/auth/keys/x"),
            Scope(super::Scope::Admin)
        );
        assert_eq!(
            access(Method::POST, "/api/v1/search/parts"),
            Scope(super::Scope::Search)
        );
        assert_eq!(
            access(Method::GET, "/api/v1/entities"),
            Scope(super::Scope::Entities)
        );
        assert_eq!(
            access(Method::PATCH, "/api/v1/entities/bulk"),
            Scope(super::Scope::Entities)
        );
        for p in [
            "/ingest/a/b/batch",
            "/webhooks/ingest/a/b",
            "/ingestions/x",
            "/pipeline/status/x",
        ] {
            assert_eq!(
                access(Method::POST, &format!("/api/v1{p}")),
                Scope(super::Scope::Ingest)
            );
        }
        assert_eq!(
            access(Method::POST, "/api/v1/schemas"),
            Scope(super::Scope::Admin)
        );
        assert_eq!(access(Method::GET, "/api/v1/schemas/a/b"), AnyCaller);
        assert_eq!(access(Method::GET, "/api/v1/verticals"), AnyCaller);
        for p in [
            "/admin/stats",
            "/export",
            "/usage",
            "/portal/webhooks",
            "/portal/webhooks/x/test",
            "/connectors",
            "/connectors/x",
            "/connectors/x/pull",
        ] {
            assert_eq!(
                access(Method::GET, &format!("/api/v1{p}")),
                Scope(super::Scope::Admin)
            );
        }
    }

    #[test]
    fn records_dialect_families_map_to_their_twins_scopes() {
        use super::Scope as S;
        for (m, p, s) in [
            (Method::POST, "/records", S::Entities),
            (Method::PATCH, "/records/bulk", S::Entities),
            (Method::POST, "/records/bulk-visibility", S::Entities),
            (Method::POST, "/ingest/batch/c/t", S::Ingest),
            (Method::POST, "/upload/c/t/batch", S::Ingest),
            (Method::GET, "/uploads/x/dlq", S::Ingest),
            (Method::GET, "/collections", S::Search),
            (Method::PATCH, "/collections/c", S::Admin),
            (Method::PATCH, "/collections/c/default-visibility", S::Admin),
            (Method::POST, "/chat", S::Search),
        ] {
            assert_eq!(access(m, &format!("/api/v1{p}")), Access::Scope(s), "{p}");
        }
    }

    #[test]
    fn matching_is_segment_aware() {
        assert_eq!(access(Method::GET, "/api/v1/entitiesX"), Access::AnyCaller);
        assert_eq!(access(Method::GET, "/api/v1/usagex"), Access::AnyCaller);
        assert_eq!(access(Method::GET, "/api/v1x/entities"), Access::Public);
    }

    #[test]
    fn tenant_administration_is_not_within_a_tenant() {
        assert!(!rule_for(&Method::DELETE, "/api/v1/admin/tenants/t1").within_tenant);
        assert!(!rule_for(&Method::POST, "/api/v1/admin/tenants").within_tenant);
        assert!(rule_for(&Method::POST, "/api/v1/ingest/a/b/batch").within_tenant);
        assert!(rule_for(&Method::POST, "/api/v1/auth/keys").within_tenant);
        assert!(rule_for(&Method::GET, "/api/v1/admin/stats").within_tenant);
        assert!(rule_for(&Method::POST, "/api/v1/connectors").within_tenant);
        assert!(rule_for(&Method::DELETE, "/api/v1/connectors/x").within_tenant);
        assert!(!rule_for(&Method::POST, "/api/v1/connectors/x/pull").within_tenant);
    }

    #[test]
    fn only_search_uses_the_search_bucket() {
        assert_eq!(
            rule_for(&Method::GET, "/api/v1/search/x").bucket,
            BucketKind::Search
        );
        assert_eq!(
            rule_for(&Method::GET, "/api/v1/entities").bucket,
            BucketKind::General
        );
    }
}
