//! Who is in the cluster. Each process records its roles in `cluster_membership` (the address
//! peers reach them at, and a heartbeat); every process reads the live rows every few seconds
//! and builds one consistent-hash ring per role, which callers use to find the owner of a
//! history shard or a task queue. No gossip: the rows are the truth, and the database fences
//! (shard and task-queue range ids) keep a brief disagreement between processes' rings safe.

mod ring;

pub use ring::{Host, Ring};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use sundial_common::time::now_nanos;
use sundial_persistence::{ClusterStore, MemberRecord, PersistenceError, Role};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// How often a process renews its rows.
pub const HEARTBEAT_INTERVAL: Duration = Duration::from_secs(3);
/// A member whose last heartbeat is older than this is gone (a killed process drops out of
/// every ring within this plus one refresh).
pub const MEMBER_TIMEOUT: Duration = Duration::from_secs(10);
/// How often the rings are rebuilt from the table.
pub const REFRESH_INTERVAL: Duration = Duration::from_secs(1);
/// Rows stay this long before anyone prunes them (as Temporal keeps them, 48 h).
const RECORD_TTL_NANOS: i64 = 48 * 3600 * 1_000_000_000;

/// One role of this process.
#[derive(Clone, Debug)]
pub struct LocalMember {
    pub role: Role,
    /// The address peers reach the role at (never a wildcard like 0.0.0.0).
    pub address: String,
    pub host_id: String,
    session_start: i64,
}

impl LocalMember {
    pub fn new(role: Role, address: String) -> LocalMember {
        LocalMember {
            role,
            address,
            host_id: uuid::Uuid::new_v4().to_string(),
            session_start: now_nanos(),
        }
    }

    fn record(&self) -> MemberRecord {
        let (ip, port) = match self.address.rsplit_once(':') {
            Some((ip, port)) => (ip.to_owned(), port.parse().unwrap_or(0)),
            None => (self.address.clone(), 0),
        };
        let now = now_nanos();
        MemberRecord {
            host_id: self.host_id.clone(),
            rpc_address: ip,
            rpc_port: port,
            role: self.role,
            session_start: self.session_start,
            last_heartbeat: now,
            record_expiry: now.saturating_add(RECORD_TTL_NANOS),
        }
    }
}

/// The ring of every role, as last read.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Rings {
    by_role: HashMap<i32, Arc<Ring>>,
}

impl Rings {
    pub fn ring(&self, role: Role) -> Arc<Ring> {
        self.by_role.get(&(role as i32)).cloned().unwrap_or_default()
    }

    /// Every host of either.
    fn union(&self, other: &Rings) -> Rings {
        let mut roles: Vec<i32> = self.by_role.keys().chain(other.by_role.keys()).copied().collect();
        roles.sort_unstable();
        roles.dedup();
        let by_role = roles
            .into_iter()
            .map(|r| {
                let hosts = [self.by_role.get(&r), other.by_role.get(&r)]
                    .into_iter()
                    .flatten()
                    .flat_map(|ring| ring.hosts().iter().cloned())
                    .collect();
                (r, Arc::new(Ring::new(hosts)))
            })
            .collect();
        Rings { by_role }
    }

    fn from_members(members: &[MemberRecord]) -> Rings {
        let mut hosts: HashMap<i32, Vec<Host>> = HashMap::new();
        for m in members {
            hosts.entry(m.role as i32).or_default().push(Host {
                address: format!("{}:{}", m.rpc_address, m.rpc_port),
                host_id: m.host_id.clone(),
            });
        }
        Rings {
            by_role: hosts.into_iter().map(|(r, h)| (r, Arc::new(Ring::new(h)))).collect(),
        }
    }
}

/// This process's view of the cluster; dropping it stops the heartbeat and refresh.
pub struct Membership {
    store: Arc<dyn ClusterStore>,
    local: Vec<LocalMember>,
    rings: watch::Receiver<Rings>,
    tasks: Vec<JoinHandle<()>>,
}

impl Membership {
    /// Records `local` and reads the rings once, then keeps both fresh in the background.
    pub async fn join(store: Arc<dyn ClusterStore>, local: Vec<LocalMember>) -> Result<Membership, PersistenceError> {
        for m in &local {
            store.upsert_member(&m.record()).await?;
        }
        let (tx, rings) = watch::channel(read_rings(store.as_ref()).await?);
        let tasks = vec![
            tokio::spawn(heartbeat(store.clone(), local.clone())),
            tokio::spawn(refresh(store.clone(), tx)),
        ];
        Ok(Membership {
            store,
            local,
            rings,
            tasks,
        })
    }

    /// Rings that follow the table (a receiver sees every rebuild that changed something).
    pub fn rings(&self) -> watch::Receiver<Rings> {
        self.rings.clone()
    }

    pub fn local(&self) -> &[LocalMember] {
        &self.local
    }

    /// Waits until the ring of `role` has a host (peers of a process started at the same time).
    pub async fn wait_for(&self, role: Role, timeout: Duration) -> bool {
        let mut rx = self.rings.clone();
        tokio::time::timeout(timeout, rx.wait_for(|r| !r.ring(role).is_empty()))
            .await
            .is_ok_and(|r| r.is_ok())
    }

    /// Leaves the cluster: stops heartbeating and removes this process's rows, so peers drop
    /// it at their next refresh instead of waiting for the member timeout.
    pub async fn leave(&mut self) {
        for t in self.tasks.drain(..) {
            t.abort();
        }
        for m in &self.local {
            if let Err(e) = self.store.remove_member(&m.host_id).await {
                tracing::warn!(role = m.role.name(), error = %e, "cannot remove the membership row");
            }
        }
    }
}

impl Drop for Membership {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

async fn read_rings(store: &dyn ClusterStore) -> Result<Rings, PersistenceError> {
    let timeout = i64::try_from(MEMBER_TIMEOUT.as_nanos()).unwrap_or(i64::MAX);
    let live = store.list_members(None, now_nanos().saturating_sub(timeout)).await?;
    Ok(Rings::from_members(&live))
}

async fn heartbeat(store: Arc<dyn ClusterStore>, local: Vec<LocalMember>) {
    let mut tick = tokio::time::interval(HEARTBEAT_INTERVAL);
    loop {
        tick.tick().await;
        for m in &local {
            if let Err(e) = store.upsert_member(&m.record()).await {
                tracing::warn!(role = m.role.name(), error = %e, "membership heartbeat failed");
            }
        }
    }
}

async fn refresh(store: Arc<dyn ClusterStore>, tx: watch::Sender<Rings>) {
    let mut tick = tokio::time::interval(REFRESH_INTERVAL);
    // Until the table has been readable for a whole member timeout, heartbeats that failed
    // while it was not (a database outage) look like dead members: hosts may then join the
    // rings but not leave them.
    let mut readable_since: Option<tokio::time::Instant> = Some(tokio::time::Instant::now());
    loop {
        tick.tick().await;
        let rings = match read_rings(store.as_ref()).await {
            Ok(rings) => rings,
            Err(e) => {
                readable_since = None;
                tracing::warn!(error = %e, "cannot read cluster membership");
                continue;
            }
        };
        let since = *readable_since.get_or_insert_with(tokio::time::Instant::now);
        let settled = since.elapsed() >= MEMBER_TIMEOUT;
        tx.send_if_modified(|current| {
            let next = if settled { rings } else { current.union(&rings) };
            if *current == next {
                return false;
            }
            tracing::info!(
                history = next.ring(Role::History).hosts().len(),
                matching = next.ring(Role::Matching).hosts().len(),
                frontend = next.ring(Role::Frontend).hosts().len(),
                "cluster membership changed"
            );
            *current = next;
            true
        });
    }
}
