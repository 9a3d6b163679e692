//! The namespace cache. Reads go through to the store on a miss, so a namespace is usable the
//! moment its registration returns (Temporal's cache once lagged ~10 s: temporal#1941). A
//! background refresh drops everything when the store's notification version moves, which is
//! how a change made by another frontend process becomes visible.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;
use sundial_common::ServiceError;
use sundial_persistence::{NamespaceRecord, NamespaceStore};

#[derive(Default)]
struct Cache {
    by_name: HashMap<String, Arc<NamespaceRecord>>,
    by_id: HashMap<String, Arc<NamespaceRecord>>,
    version: i64,
}

#[derive(Clone)]
pub struct NamespaceRegistry {
    store: Arc<dyn NamespaceStore>,
    cache: Arc<RwLock<Cache>>,
}

impl NamespaceRegistry {
    pub fn new(store: Arc<dyn NamespaceStore>) -> Self {
        Self {
            store,
            cache: Arc::default(),
        }
    }

    pub fn store(&self) -> &Arc<dyn NamespaceStore> {
        &self.store
    }

    /// The namespace called `name`, or `NamespaceNotFound`.
    pub async fn by_name(&self, name: &str) -> Result<Arc<NamespaceRecord>, ServiceError> {
        if let Some(hit) = self.read().by_name.get(name) {
            return Ok(hit.clone());
        }
        match self.store.get_namespace_by_name(name).await? {
            Some(record) => Ok(self.insert(record)),
            None => Err(ServiceError::NamespaceNotFound {
                namespace: name.to_owned(),
            }),
        }
    }

    /// The namespace with id `id`, or `NamespaceNotFound` naming the id.
    pub async fn by_id(&self, id: &str) -> Result<Arc<NamespaceRecord>, ServiceError> {
        if let Some(hit) = self.read().by_id.get(id) {
            return Ok(hit.clone());
        }
        match self.store.get_namespace_by_id(id).await? {
            Some(record) => Ok(self.insert(record)),
            None => Err(ServiceError::NamespaceNotFound {
                namespace: id.to_owned(),
            }),
        }
    }

    /// Records a write made through this process so the cache never serves the old value.
    pub fn insert(&self, record: NamespaceRecord) -> Arc<NamespaceRecord> {
        let record = Arc::new(record);
        let mut cache = self.cache.write().unwrap_or_else(|p| p.into_inner());
        let newer = |old: Option<&Arc<NamespaceRecord>>| {
            old.is_none_or(|o| o.notification_version <= record.notification_version)
        };
        if newer(cache.by_id.get(&record.id)) {
            cache.by_name.insert(record.name.clone(), record.clone());
            cache.by_id.insert(record.id.clone(), record.clone());
        }
        record
    }

    /// Drops a name from the cache (the namespace was renamed by DeleteNamespace).
    pub fn forget_name(&self, name: &str) {
        self.cache
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .by_name
            .remove(name);
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Cache> {
        self.cache.read().unwrap_or_else(|p| p.into_inner())
    }

    /// Checks the store's notification version once; clears the cache if it moved.
    pub async fn refresh(&self) -> Result<(), ServiceError> {
        let version = self.store.namespace_notification_version().await?;
        let mut cache = self.cache.write().unwrap_or_else(|p| p.into_inner());
        if cache.version != version {
            cache.by_name.clear();
            cache.by_id.clear();
            cache.version = version;
        }
        Ok(())
    }

    /// Runs `refresh` every `interval` until the returned task is aborted.
    pub fn spawn_refresher(&self, interval: Duration) -> tokio::task::JoinHandle<()> {
        let this = self.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(interval);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                if let Err(e) = this.refresh().await {
                    tracing::warn!(error = %e, "namespace cache refresh failed");
                }
            }
        })
    }
}
