//! Shared building blocks for every role: time conversions, names of system entities, and
//! `ServiceError`, the error every handler returns before it becomes a `tonic::Status`.

pub mod crash;
pub mod cron;
pub mod error;
pub mod partition;
pub mod periodic;
pub mod random;
pub mod standalone;
pub mod time;

pub use error::ServiceError;

/// The namespace Temporal creates for its own system workflows.
pub const SYSTEM_NAMESPACE: &str = "temporal-system";
/// The system namespace's fixed id (the same as Temporal's, so tools that look for it agree).
pub const SYSTEM_NAMESPACE_ID: &str = "32049b68-7872-4094-8e63-d0dd59896a83";
/// Default cluster name, as Temporal's dev server and docker image call it.
pub const DEFAULT_CLUSTER_NAME: &str = "active";
/// Sundial's version; reported as the server version.
pub const SERVER_VERSION: &str = env!("CARGO_PKG_VERSION");

/// The history shard (0-based) that owns a workflow id: a stable hash of
/// `namespace_id + "_" + workflow_id`, modulo the shard count. Every role must agree on it.
pub fn shard_for(namespace_id: &str, workflow_id: &str, shard_count: i32) -> i32 {
    let mut hash: u32 = 0x811c_9dc5;
    for b in namespace_id
        .bytes()
        .chain(std::iter::once(b'_'))
        .chain(workflow_id.bytes())
    {
        hash ^= u32::from(b);
        hash = hash.wrapping_mul(0x0100_0193);
    }
    (hash % shard_count.max(1) as u32) as i32
}

#[cfg(test)]
mod shard_tests {
    #[test]
    fn shard_is_stable_and_in_range() {
        assert_eq!(super::shard_for("ns", "wf", 1), 0);
        let a = super::shard_for("ns", "order-1", 16);
        assert_eq!(a, super::shard_for("ns", "order-1", 16));
        assert!((0..16).contains(&a));
        let spread: std::collections::HashSet<i32> = (0..200)
            .map(|i| super::shard_for("ns", &format!("wf-{i}"), 4))
            .collect();
        assert_eq!(spread.len(), 4, "ids must spread over every shard");
    }
}
