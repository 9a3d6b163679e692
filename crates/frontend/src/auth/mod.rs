//! Authorization at the frontend, as Temporal's `global.authorization` with the default claim
//! mapper and authorizer: a JWT in the `authorization` header (`Bearer …`, RS256/ES256, keys by
//! `kid` from JWKS URIs) carries `namespace:role` permissions; each RPC needs a role in the
//! request's namespace (or `temporal-system`, the cluster-wide scope) at its level. A refused
//! call gets PERMISSION_DENIED "Request unauthorized." whatever the reason, which is logged.
//!
//! The system worker carries no JWT: it presents the cluster's system token (a secret in the
//! database, so only processes of the cluster know it) and is a system admin, as Temporal's
//! internal frontend makes it.

mod api;
mod jwt;
mod service;

pub use jwt::KeySet;
pub use service::{AuthLayer, AuthService};

use std::collections::HashMap;

pub use sundial_rpc::SYSTEM_TOKEN_HEADER;

/// Role bits, as Temporal orders them: a role passes a check when it is at least the level.
pub mod role {
    pub const WORKER: u8 = 1;
    pub const READER: u8 = 2;
    pub const WRITER: u8 = 4;
    pub const ADMIN: u8 = 8;
}

/// What a caller may do.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Claims {
    pub subject: String,
    /// Roles in `temporal-system`: every namespace and the cluster.
    pub system: u8,
    pub namespaces: HashMap<String, u8>,
}

/// How permissions are written in the token.
#[derive(Clone)]
pub struct Permissions {
    /// The claim holding them (`permissions`).
    pub claim: String,
    /// A regex with `namespace` and `role` groups; `None`: split at the first ':'.
    pub pattern: Option<regex::Regex>,
}

impl Permissions {
    /// Temporal's: the `permissions` claim, split at the first ':'.
    pub fn standard() -> Self {
        Permissions {
            claim: "permissions".into(),
            pattern: None,
        }
    }

    /// Claims from the permission strings of a token; unknown roles count for nothing.
    pub fn claims(&self, subject: String, permissions: &[String]) -> Claims {
        let mut claims = Claims {
            subject,
            ..Claims::default()
        };
        for p in permissions {
            let parsed = match &self.pattern {
                Some(re) => re.captures(p).and_then(|c| {
                    Some((
                        c.name("namespace")?.as_str().to_owned(),
                        c.name("role")?.as_str().to_owned(),
                    ))
                }),
                None => p.split_once(':').map(|(n, r)| (n.to_owned(), r.to_owned())),
            };
            let Some((namespace, role_name)) = parsed else { continue };
            let bits = match role_name.to_ascii_lowercase().as_str() {
                "read" => role::READER,
                "write" => role::WRITER,
                "worker" => role::WORKER,
                "admin" => role::ADMIN,
                _ => 0,
            };
            if namespace == sundial_common::SYSTEM_NAMESPACE {
                claims.system |= bits;
            } else {
                *claims.namespaces.entry(namespace).or_default() |= bits;
            }
        }
        claims
    }
}

/// Whether `claims` may call `path` on `namespace`.
pub fn authorize(path: &str, namespace: &str, claims: &Claims) -> bool {
    let Some(need) = api::requirement(path) else {
        return false;
    };
    let role = match need.scope {
        api::Scope::Cluster => claims.system,
        api::Scope::Namespace => claims.system | claims.namespaces.get(namespace).copied().unwrap_or(0),
    };
    role >= need.level
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(permissions: &[&str]) -> Claims {
        let p: Vec<String> = permissions.iter().map(|s| s.to_string()).collect();
        Permissions::standard().claims("me".into(), &p)
    }

    const WS: &str = "/temporal.api.workflowservice.v1.WorkflowService/";
    const OS: &str = "/temporal.api.operatorservice.v1.OperatorService/";

    #[test]
    fn roles_cover_the_levels_below_them_in_their_namespace_only() {
        let reader = claims(&["orders:read"]);
        assert!(authorize(&format!("{WS}DescribeWorkflowExecution"), "orders", &reader));
        assert!(!authorize(&format!("{WS}StartWorkflowExecution"), "orders", &reader));
        assert!(!authorize(
            &format!("{WS}DescribeWorkflowExecution"),
            "billing",
            &reader
        ));
        let writer = claims(&["orders:write"]);
        assert!(authorize(&format!("{WS}StartWorkflowExecution"), "orders", &writer));
        assert!(authorize(&format!("{WS}PollWorkflowTaskQueue"), "orders", &writer));
        assert!(authorize(&format!("{WS}ListWorkflowExecutions"), "orders", &writer));
        assert!(!authorize(&format!("{WS}UpdateNamespace"), "orders", &writer));
        assert!(
            !authorize(&format!("{WS}ListNamespaces"), "", &writer),
            "cluster scope needs the system"
        );
        let worker_only = claims(&["orders:worker"]);
        assert!(!authorize(
            &format!("{WS}PollWorkflowTaskQueue"),
            "orders",
            &worker_only
        ));
    }

    #[test]
    fn the_system_scope_reaches_every_namespace_and_the_cluster() {
        let admin = claims(&["temporal-system:admin"]);
        assert!(authorize(&format!("{WS}RegisterNamespace"), "new-ns", &admin));
        assert!(authorize(&format!("{OS}ListClusters"), "", &admin));
        let system_reader = claims(&["temporal-system:read"]);
        assert!(authorize(&format!("{WS}ListNamespaces"), "", &system_reader));
        assert!(!authorize(&format!("{OS}ListClusters"), "", &system_reader));
        assert_eq!(
            claims(&["system:admin"]).system,
            0,
            "a namespace called system, not the scope"
        );
    }

    #[test]
    fn always_allowed_and_unknown_methods() {
        let nobody = Claims::default();
        assert!(authorize(&format!("{WS}GetSystemInfo"), "", &nobody));
        assert!(authorize("/grpc.health.v1.Health/Check", "", &nobody));
        assert!(!authorize(
            &format!("{WS}NoSuchMethod"),
            "x",
            &claims(&["temporal-system:admin"])
        ));
    }

    #[test]
    fn roles_are_case_insensitive_and_namespaces_are_not() {
        let c = claims(&["Orders:WRITE", "bad", "x:owner"]);
        assert_eq!(c.namespaces.get("Orders"), Some(&role::WRITER));
        assert_eq!(c.namespaces.get("x"), Some(&0));
        assert!(!authorize(&format!("{WS}StartWorkflowExecution"), "orders", &c));
    }
}
