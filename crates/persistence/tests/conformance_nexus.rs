//! Conformance suite for the `nexus_endpoints` table, on every backend (see `common`).

mod common;

use std::sync::Arc;
use sundial_api::sundial::persistence::v1::{NexusEndpointRecord, NexusWorkerTarget, nexus_endpoint_record};
use sundial_persistence::*;

conformance!(endpoints_have_unique_names_versions_and_pages_by_id,);

fn record(name: &str, queue: &str) -> NexusEndpointRecord {
    NexusEndpointRecord {
        name: name.into(),
        target: Some(nexus_endpoint_record::Target::Worker(NexusWorkerTarget {
            namespace_id: "ns-id".into(),
            task_queue: queue.into(),
        })),
        ..Default::default()
    }
}

async fn endpoints_have_unique_names_versions_and_pages_by_id(store: Arc<SqlStore>) {
    for (id, name) in [("b", "second"), ("a", "first"), ("c", "third")] {
        let row = store
            .create_nexus_endpoint(id, &record(name, "q"))
            .await
            .expect("create");
        assert_eq!(row.version, 1);
    }
    assert!(matches!(
        store.create_nexus_endpoint("d", &record("first", "q")).await,
        Err(PersistenceError::AlreadyExists(_))
    ));

    let updated = store
        .update_nexus_endpoint("a", 1, &record("renamed", "q2"))
        .await
        .expect("update");
    assert_eq!(updated.version, 2);
    assert!(matches!(
        store.update_nexus_endpoint("a", 1, &record("renamed", "q3")).await,
        Err(PersistenceError::ConditionFailed(_))
    ));
    assert!(matches!(
        store.update_nexus_endpoint("a", 2, &record("second", "q3")).await,
        Err(PersistenceError::AlreadyExists(_))
    ));
    let by_name = store
        .get_nexus_endpoint_by_name("renamed")
        .await
        .expect("get")
        .expect("present");
    assert_eq!((by_name.id.as_str(), by_name.version), ("a", 2));
    assert!(store.get_nexus_endpoint_by_name("first").await.expect("get").is_none());

    let page = store.list_nexus_endpoints("", 2).await.expect("list");
    assert_eq!(page.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(), ["a", "b"]);
    let rest = store.list_nexus_endpoints("b", 2).await.expect("list");
    assert_eq!(rest.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(), ["c"]);

    assert!(store.delete_nexus_endpoint("b").await.expect("delete"));
    assert!(!store.delete_nexus_endpoint("b").await.expect("delete"));
    assert!(store.get_nexus_endpoint("b").await.expect("get").is_none());
    // A deleted endpoint's name is free again.
    store
        .create_nexus_endpoint("e", &record("second", "q"))
        .await
        .expect("create");
}
