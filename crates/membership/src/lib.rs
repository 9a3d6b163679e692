//! Who is in the cluster. Each process records its roles in `cluster_membership` (the address
//! peers reach them at, and a heartbeat); every process reads the live rows every few seconds
//! and builds one consistent-hash ring per role, which callers use to find the owner of a
//! history shard or a task queue. No gossip: the rows are the truth, and the database fences
//! (shard and task-queue range ids) keep a brief disagreement between processes' rings safe.
//! A process whose heartbeat has not reached the table for a member timeout is gone as far as
//! its peers know, and it sees itself the same way: it leaves its own rings (a history host
//! lets its shards go) until a heartbeat gets through again, so that it neither keeps serving
//! what its peers have taken over nor fights them for it once it can reach the database again.

mod ring;

pub use ring::{Host, Ring};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
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
/// Longest a heartbeat write or a read of the table may take: a call stuck on a connection
/// whose packets vanish must not hold up the next heartbeat (which, on a fresh connection, may
/// get through) nor keep the rings from following the table.
const CALL_TIMEOUT: Duration = HEARTBEAT_INTERVAL;

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
    /// Rings with only `role`'s, of `hosts`: a fixed layout (tests of one role).
    pub fn of(role: Role, hosts: Vec<Host>) -> Rings {
        Rings {
            by_role: HashMap::from([(role as i32, Arc::new(Ring::new(hosts)))]),
        }
    }

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

    /// These rings without the hosts in `host_ids`.
    fn without(&self, host_ids: &[String]) -> Rings {
        let by_role = self
            .by_role
            .iter()
            .map(|(role, ring)| {
                let hosts = ring
                    .hosts()
                    .iter()
                    .filter(|h| !host_ids.contains(&h.host_id))
                    .cloned()
                    .collect();
                (*role, Arc::new(Ring::new(hosts)))
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

/// When this process's rows were last all written: its peers count it as alive until that
/// is `MEMBER_TIMEOUT` old.
#[derive(Clone)]
struct Pulse(Arc<Mutex<tokio::time::Instant>>);

impl Pulse {
    fn new() -> Pulse {
        Pulse(Arc::new(Mutex::new(tokio::time::Instant::now())))
    }

    /// Records a heartbeat whose rows were stamped at `at`.
    fn beat(&self, at: tokio::time::Instant) {
        let mut last = self.0.lock().unwrap_or_else(|p| p.into_inner());
        *last = (*last).max(at);
    }

    fn age(&self) -> Duration {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).elapsed()
    }
}

/// The rings as this process's peers see them: without its own hosts once its heartbeat is
/// older than the member timeout (they have dropped it, and another host may own its share).
fn as_peers_see_them(rings: Rings, local_ids: &[String], heartbeat_age: Duration) -> Rings {
    if heartbeat_age > MEMBER_TIMEOUT {
        rings.without(local_ids)
    } else {
        rings
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
        let pulse = Pulse::new();
        let (tx, rings) = watch::channel(read_rings(store.as_ref()).await?);
        let local_ids = local.iter().map(|m| m.host_id.clone()).collect();
        let tasks = vec![
            tokio::spawn(heartbeat(store.clone(), local.clone(), pulse.clone())),
            tokio::spawn(refresh(store.clone(), tx, local_ids, pulse)),
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

async fn heartbeat(store: Arc<dyn ClusterStore>, local: Vec<LocalMember>, pulse: Pulse) {
    let mut tick = tokio::time::interval(HEARTBEAT_INTERVAL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        // Before the rows are stamped: peers judge them by the stamp.
        let stamped = tokio::time::Instant::now();
        let mut all_written = true;
        for m in &local {
            let error = match tokio::time::timeout(CALL_TIMEOUT, store.upsert_member(&m.record())).await {
                Ok(Ok(())) => continue,
                Ok(Err(e)) => e.to_string(),
                Err(_) => format!("no answer within {CALL_TIMEOUT:?}"),
            };
            all_written = false;
            tracing::warn!(role = m.role.name(), error = %error, "membership heartbeat failed");
        }
        if all_written {
            pulse.beat(stamped);
        }
    }
}

async fn refresh(store: Arc<dyn ClusterStore>, tx: watch::Sender<Rings>, local_ids: Vec<String>, pulse: Pulse) {
    let mut tick = tokio::time::interval(REFRESH_INTERVAL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // Until the table has been readable for a whole member timeout, heartbeats that failed
    // while it was not (a database outage) look like dead members: hosts may then join the
    // rings but not leave them.
    let mut readable_since: Option<tokio::time::Instant> = Some(tokio::time::Instant::now());
    let mut away = false;
    loop {
        tick.tick().await;
        let read = match tokio::time::timeout(CALL_TIMEOUT, read_rings(store.as_ref())).await {
            Ok(Ok(rings)) => Some(rings),
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "cannot read cluster membership");
                None
            }
            Err(_) => {
                tracing::warn!("cannot read cluster membership: no answer within {CALL_TIMEOUT:?}");
                None
            }
        };
        let heartbeat_age = pulse.age();
        if (heartbeat_age > MEMBER_TIMEOUT) != away {
            away = !away;
            if away {
                tracing::warn!(
                    ?heartbeat_age,
                    "this process's membership heartbeat is older than the member timeout: \
                    its peers have dropped it, and it leaves its own rings until a heartbeat gets through"
                );
            } else {
                tracing::info!("membership heartbeat written again; this process rejoins its rings");
            }
        }
        let settled = match read {
            Some(_) => readable_since.get_or_insert_with(tokio::time::Instant::now).elapsed() >= MEMBER_TIMEOUT,
            None => {
                readable_since = None;
                false
            }
        };
        tx.send_if_modified(|current| {
            let next = match read {
                Some(rings) if settled => rings,
                Some(rings) => current.union(&rings),
                None => current.clone(),
            };
            let next = as_peers_see_them(next, &local_ids, heartbeat_age);
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

#[cfg(test)]
mod tests {
    use super::*;

    fn member(host_id: &str, role: Role, port: i32) -> MemberRecord {
        MemberRecord {
            host_id: host_id.into(),
            rpc_address: "127.0.0.1".into(),
            rpc_port: port,
            role,
            session_start: 0,
            last_heartbeat: 0,
            record_expiry: 0,
        }
    }

    fn addresses(rings: &Rings, role: Role) -> Vec<String> {
        rings.ring(role).hosts().iter().map(|h| h.address.clone()).collect()
    }

    #[test]
    fn a_process_whose_heartbeat_is_stale_leaves_its_own_rings() {
        let rings = Rings::from_members(&[
            member("me", Role::History, 1),
            member("peer", Role::History, 2),
            member("me-matching", Role::Matching, 3),
            member("peer-matching", Role::Matching, 4),
        ]);
        let local = vec!["me".to_owned(), "me-matching".to_owned()];

        let fresh = as_peers_see_them(rings.clone(), &local, MEMBER_TIMEOUT / 2);
        assert_eq!(fresh, rings, "a live process keeps its place");

        let stale = as_peers_see_them(rings, &local, MEMBER_TIMEOUT + Duration::from_millis(1));
        assert_eq!(addresses(&stale, Role::History), ["127.0.0.1:2"]);
        assert_eq!(addresses(&stale, Role::Matching), ["127.0.0.1:4"]);
    }

    #[tokio::test]
    async fn the_pulse_ages_from_the_last_heartbeat_stamp() {
        let now = tokio::time::Instant::now();
        let pulse = Pulse(Arc::new(Mutex::new(now - Duration::from_secs(20))));
        assert!(pulse.age() >= Duration::from_secs(20));
        pulse.beat(now - Duration::from_secs(5));
        let age = pulse.age();
        assert!(
            age >= Duration::from_secs(5) && age < Duration::from_secs(15),
            "aged from the stamp: {age:?}"
        );
        pulse.beat(now - Duration::from_secs(30));
        assert!(pulse.age() < Duration::from_secs(15), "an older stamp never rewinds it");
    }
}
