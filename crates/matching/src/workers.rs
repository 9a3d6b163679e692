//! The worker registry: the heartbeats SDK workers send (RecordWorkerHeartbeat, and the last one
//! in ShutdownWorker), kept in memory per namespace on the matching host the namespace's worker
//! key hashes to, as Temporal's matching keeps them. An entry not refreshed within the TTL is
//! dropped; a restarted host relearns its workers from their next heartbeats.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};
use sundial_api::temporal::enums::v1::WorkerStatus;
use sundial_api::temporal::worker::v1::WorkerHeartbeat;

/// How long a worker stays listed after its last heartbeat (Temporal's
/// `matching.workerRegistryEntryTTL` default).
pub(crate) const ENTRY_TTL: Duration = Duration::from_secs(5 * 60);
/// At most this many workers are kept per namespace; the stalest go first.
const MAX_PER_NAMESPACE: usize = 10_000;

/// One namespace's workers: instance key → (last heartbeat, when it arrived).
type Workers = HashMap<String, (WorkerHeartbeat, Instant)>;

#[derive(Default)]
pub(crate) struct WorkerRegistry {
    by_namespace: Mutex<HashMap<String, Workers>>,
}

impl WorkerRegistry {
    pub(crate) fn record(&self, namespace_id: &str, heartbeats: Vec<WorkerHeartbeat>, now: Instant) {
        let mut all = self.by_namespace.lock().unwrap_or_else(|p| p.into_inner());
        let workers = all.entry(namespace_id.to_owned()).or_default();
        for hb in heartbeats.into_iter().filter(|h| !h.worker_instance_key.is_empty()) {
            // As Temporal: a worker that says it has shut down leaves the list at once.
            if hb.status == WorkerStatus::Shutdown as i32 {
                workers.remove(&hb.worker_instance_key);
                continue;
            }
            workers.insert(hb.worker_instance_key.clone(), (hb, now));
        }
        workers.retain(|_, (_, seen)| now.saturating_duration_since(*seen) < ENTRY_TTL);
        if workers.len() > MAX_PER_NAMESPACE {
            let mut seen: Vec<(Instant, String)> = workers.iter().map(|(k, (_, t))| (*t, k.clone())).collect();
            seen.sort();
            for (_, key) in seen.iter().take(workers.len() - MAX_PER_NAMESPACE) {
                workers.remove(key);
            }
        }
    }

    /// The namespace's live workers, by instance key.
    pub(crate) fn list(&self, namespace_id: &str, now: Instant) -> Vec<WorkerHeartbeat> {
        let all = self.by_namespace.lock().unwrap_or_else(|p| p.into_inner());
        let mut out: Vec<WorkerHeartbeat> = all
            .get(namespace_id)
            .map(|w| {
                w.values()
                    .filter(|(_, seen)| now.saturating_duration_since(*seen) < ENTRY_TTL)
                    .map(|(hb, _)| hb.clone())
                    .collect()
            })
            .unwrap_or_default();
        out.sort_by(|a, b| a.worker_instance_key.cmp(&b.worker_instance_key));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hb(key: &str, queue: &str) -> WorkerHeartbeat {
        WorkerHeartbeat {
            worker_instance_key: key.into(),
            task_queue: queue.into(),
            ..Default::default()
        }
    }

    #[test]
    fn heartbeats_replace_by_key_and_expire() {
        let r = WorkerRegistry::default();
        let t0 = Instant::now();
        r.record("ns", vec![hb("b", "q1"), hb("a", "q1"), hb("", "ignored")], t0);
        r.record("ns", vec![hb("a", "q2")], t0);
        let keys: Vec<(String, String)> = r
            .list("ns", t0)
            .into_iter()
            .map(|h| (h.worker_instance_key, h.task_queue))
            .collect();
        assert_eq!(keys, [("a".into(), "q2".into()), ("b".into(), "q1".into())]);
        assert!(r.list("other", t0).is_empty());
        let mut gone = hb("b", "q1");
        gone.status = WorkerStatus::Shutdown as i32;
        r.record("ns", vec![gone], t0);
        assert_eq!(r.list("ns", t0).len(), 1, "a worker that shut down leaves the list");
        assert!(r.list("ns", t0 + ENTRY_TTL).is_empty());
    }
}
