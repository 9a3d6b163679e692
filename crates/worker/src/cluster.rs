//! What every system job needs: which jobs the worker ring gives this process, a client of
//! a live frontend, and namespace names by id.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use sundial_membership::Rings;
use sundial_persistence::{PersistenceError, Role, Store};
use tokio::sync::watch;

#[derive(Clone)]
pub struct WorkerConfig {
    /// This worker's address in the membership ring.
    pub address: String,
    pub rings: watch::Receiver<Rings>,
    /// Live settings (the scavengers' interval and retention).
    pub dynamic_config: sundial_dynconfig::DynamicConfig,
    /// The cluster's history shard count (to find a workflow's execution row).
    pub shard_count: i32,
    /// How to reach a frontend that serves TLS (`global.tls.systemWorker`); plaintext if `None`.
    pub frontend_tls: Option<tonic::transport::ClientTlsConfig>,
    /// The cluster's system token, which a frontend with authorization on takes for a system
    /// admin's.
    pub system_token: String,
}

/// Why one pass of a job could not finish; the job is retried later.
#[derive(Debug)]
pub(crate) enum PassError {
    Persistence(PersistenceError),
    Rpc(tonic::Status),
    NoFrontend,
}

impl From<PersistenceError> for PassError {
    fn from(e: PersistenceError) -> Self {
        PassError::Persistence(e)
    }
}

impl From<tonic::Status> for PassError {
    fn from(e: tonic::Status) -> Self {
        PassError::Rpc(e)
    }
}

impl std::fmt::Display for PassError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PassError::Persistence(e) => write!(f, "{e}"),
            PassError::Rpc(s) => write!(f, "{}: {}", s.code(), s.message()),
            PassError::NoFrontend => f.write_str("no live frontend in the cluster"),
        }
    }
}

pub(crate) struct Cluster {
    pub store: Arc<dyn Store>,
    pub config: WorkerConfig,
    clients: Mutex<HashMap<String, sundial_rpc::FrontendClient>>,
    namespaces: Mutex<HashMap<String, String>>,
}

impl Cluster {
    pub fn new(store: Arc<dyn Store>, config: WorkerConfig) -> Arc<Cluster> {
        Arc::new(Cluster {
            store,
            config,
            clients: Mutex::default(),
            namespaces: Mutex::default(),
        })
    }

    /// Whether the worker ring gives the job named `key` to this process.
    pub fn owns(&self, key: &str) -> bool {
        let ring = self.config.rings.borrow().ring(Role::Worker);
        ring.owner(key).is_some_and(|h| h.address == self.config.address)
    }

    pub fn frontend(&self) -> Result<sundial_rpc::FrontendClient, PassError> {
        let ring = self.config.rings.borrow().ring(Role::Frontend);
        let address = ring
            .hosts()
            .first()
            .map(|h| h.address.clone())
            .ok_or(PassError::NoFrontend)?;
        let mut clients = self.clients.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(c) = clients.get(&address) {
            return Ok(c.clone());
        }
        let token = sundial_rpc::SystemToken::new(&self.config.system_token);
        let client = sundial_rpc::frontend_client_as(&address, self.config.frontend_tls.as_ref(), token)
            .map_err(|e| PassError::Rpc(tonic::Status::internal(e.to_string())))?;
        clients.insert(address, client.clone());
        Ok(client)
    }

    /// The namespace's name, `None` if it no longer exists.
    pub async fn namespace_name(&self, namespace_id: &str) -> Result<Option<String>, PassError> {
        if let Some(name) = self
            .namespaces
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(namespace_id)
        {
            return Ok(Some(name.clone()));
        }
        let Some(ns) = self.store.get_namespace_by_id(namespace_id).await? else {
            return Ok(None);
        };
        self.namespaces
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(namespace_id.to_owned(), ns.name.clone());
        Ok(Some(ns.name))
    }
}
