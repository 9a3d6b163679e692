//! Frontend limits driven by the live config: a token bucket per namespace
//! (`frontend.namespaceRPS` × `frontend.namespaceBurstRatio`) and concurrent long-poll counters
//! (`frontend.namespaceCount` per namespace and poll API, `limit.maxTaskQueuePollers` per task
//! queue and type). Both read the config on every call, so changes apply without a restart.
//! Map them to gRPC `RESOURCE_EXHAUSTED` with [`LimitError`]'s message.

use crate::{DynamicConfig, Scope, TaskType, keys};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Instant;

/// A request refused by a limit; `to_string()` is the message for the client.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum LimitError {
    #[error(
        "namespace rate limit exceeded: namespace {namespace:?} allows {rps} requests per second on this frontend (frontend.namespaceRPS)"
    )]
    NamespaceRate { namespace: String, rps: i64 },
    #[error(
        "too many concurrent long polls: namespace {namespace:?} allows {limit} concurrent {task_type} task polls on this frontend (frontend.namespaceCount)"
    )]
    NamespacePolls {
        namespace: String,
        task_type: &'static str,
        limit: i64,
    },
    #[error(
        "too many pollers on task queue {task_queue:?} ({task_type}) of namespace {namespace:?}: at most {limit} concurrent polls are allowed (limit.maxTaskQueuePollers)"
    )]
    TaskQueuePollers {
        namespace: String,
        task_queue: String,
        task_type: &'static str,
        limit: i64,
    },
}

#[derive(Debug)]
struct Bucket {
    tokens: f64,
    last: Instant,
}

/// Token buckets per namespace. `check` costs a read-locked map lookup plus one
/// uncontended per-namespace mutex.
pub struct NamespaceRateLimiters {
    dc: DynamicConfig,
    buckets: RwLock<HashMap<Box<str>, Arc<Mutex<Bucket>>>>,
}

impl NamespaceRateLimiters {
    pub fn new(dc: DynamicConfig) -> Self {
        NamespaceRateLimiters {
            dc,
            buckets: RwLock::new(HashMap::new()),
        }
    }

    /// Takes one token of `namespace`'s bucket: rate `frontend.namespaceRPS` per second, burst
    /// `rps × frontend.namespaceBurstRatio` (at least 1). A rate of 0 refuses everything.
    pub fn check(&self, namespace: &str) -> Result<(), LimitError> {
        self.check_at(namespace, Instant::now())
    }

    fn check_at(&self, namespace: &str, now: Instant) -> Result<(), LimitError> {
        let snap = self.dc.snapshot();
        let scope = Scope::namespace(namespace);
        let rps = snap.get(&keys::FRONTEND_NAMESPACE_RPS, &scope);
        let refused = || LimitError::NamespaceRate {
            namespace: namespace.to_owned(),
            rps,
        };
        if rps <= 0 {
            return Err(refused());
        }
        let ratio = snap.get(&keys::FRONTEND_NAMESPACE_BURST_RATIO, &scope).max(1.0);
        let burst = (rps as f64 * ratio).max(1.0);
        let bucket = self.bucket(namespace, burst, now);
        let mut b = bucket.lock().unwrap_or_else(|e| e.into_inner());
        let elapsed = now.saturating_duration_since(b.last).as_secs_f64();
        b.tokens = (b.tokens + elapsed * rps as f64).min(burst);
        b.last = now;
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            Ok(())
        } else {
            Err(refused())
        }
    }

    fn bucket(&self, namespace: &str, burst: f64, now: Instant) -> Arc<Mutex<Bucket>> {
        if let Some(b) = self.buckets.read().unwrap_or_else(|e| e.into_inner()).get(namespace) {
            return b.clone();
        }
        self.buckets
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .entry(namespace.into())
            .or_insert_with(|| {
                Arc::new(Mutex::new(Bucket {
                    tokens: burst,
                    last: now,
                }))
            })
            .clone()
    }
}

type QueueKey = (Box<str>, Box<str>, TaskType);

#[derive(Default)]
struct Counts {
    namespace: HashMap<(Box<str>, TaskType), i64>,
    queue: HashMap<QueueKey, i64>,
}

/// Counts concurrent long polls. [`acquire`](Self::acquire) returns a permit that releases
/// its slot when dropped (when the poll returns, however it returns).
#[derive(Clone)]
pub struct PollerLimiter {
    dc: DynamicConfig,
    counts: Arc<Mutex<Counts>>,
}

impl PollerLimiter {
    pub fn new(dc: DynamicConfig) -> Self {
        PollerLimiter {
            dc,
            counts: Arc::new(Mutex::new(Counts::default())),
        }
    }

    /// Admits one more poll of `task_type` tasks on `task_queue` of `namespace`, or refuses it
    /// when `frontend.namespaceCount` (per namespace and task type) or
    /// `limit.maxTaskQueuePollers` (per task queue and type; 0 = unlimited) would be exceeded.
    pub fn acquire(&self, namespace: &str, task_queue: &str, task_type: TaskType) -> Result<PollerPermit, LimitError> {
        let snap = self.dc.snapshot();
        let ns_limit = snap.get(&keys::FRONTEND_NAMESPACE_COUNT, &Scope::namespace(namespace));
        let tq_limit = snap.get(
            &keys::MAX_TASK_QUEUE_POLLERS,
            &Scope::task_queue(namespace, task_queue, task_type),
        );
        let mut counts = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        let ns_key: (Box<str>, TaskType) = (namespace.into(), task_type);
        let ns_now = counts.namespace.get(&ns_key).copied().unwrap_or(0);
        if ns_now >= ns_limit {
            return Err(LimitError::NamespacePolls {
                namespace: namespace.to_owned(),
                task_type: type_word(task_type),
                limit: ns_limit,
            });
        }
        let q_key: QueueKey = (namespace.into(), task_queue.into(), task_type);
        let q_now = counts.queue.get(&q_key).copied().unwrap_or(0);
        if tq_limit > 0 && q_now >= tq_limit {
            return Err(LimitError::TaskQueuePollers {
                namespace: namespace.to_owned(),
                task_queue: task_queue.to_owned(),
                task_type: type_word(task_type),
                limit: tq_limit,
            });
        }
        *counts.namespace.entry(ns_key.clone()).or_insert(0) += 1;
        *counts.queue.entry(q_key.clone()).or_insert(0) += 1;
        Ok(PollerPermit {
            counts: self.counts.clone(),
            ns_key,
            q_key,
        })
    }

    /// Polls now in flight on a task queue (for tests and metrics).
    pub fn in_flight(&self, namespace: &str, task_queue: &str, task_type: TaskType) -> i64 {
        let counts = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        counts
            .queue
            .get(&(namespace.into(), task_queue.into(), task_type) as &QueueKey)
            .copied()
            .unwrap_or(0)
    }
}

fn type_word(t: TaskType) -> &'static str {
    match t {
        TaskType::Workflow => "workflow",
        TaskType::Activity => "activity",
    }
}

/// One admitted poll; dropping it frees the slot.
#[must_use = "the poll slot is released when the permit is dropped"]
pub struct PollerPermit {
    counts: Arc<Mutex<Counts>>,
    ns_key: (Box<str>, TaskType),
    q_key: QueueKey,
}

impl Drop for PollerPermit {
    fn drop(&mut self) {
        let mut counts = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(n) = counts.namespace.get_mut(&self.ns_key) {
            *n -= 1;
            if *n <= 0 {
                counts.namespace.remove(&self.ns_key);
            }
        }
        if let Some(n) = counts.queue.get_mut(&self.q_key) {
            *n -= 1;
            if *n <= 0 {
                counts.queue.remove(&self.q_key);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn dc(yaml: &str) -> DynamicConfig {
        DynamicConfig::from_yaml_str(yaml).expect("config")
    }

    #[test]
    fn rate_limiter_uses_rps_and_burst() {
        let limiters = NamespaceRateLimiters::new(dc("
frontend.namespaceRPS:
  - value: 10
    constraints: {namespace: slow}
frontend.namespaceBurstRatio:
  - value: 1.5
    constraints: {namespace: slow}
"));
        let t0 = Instant::now();
        // Burst 15, then refused.
        for _ in 0..15 {
            limiters.check_at("slow", t0).expect("within burst");
        }
        let err = limiters.check_at("slow", t0).expect_err("over burst");
        assert!(err.to_string().contains("frontend.namespaceRPS"), "{err}");
        assert!(err.to_string().contains("\"slow\""), "{err}");
        // 10 rps: after 100 ms one more token.
        let t1 = t0 + Duration::from_millis(100);
        limiters.check_at("slow", t1).expect("refilled");
        assert!(limiters.check_at("slow", t1).is_err());
        // Other namespaces use the default (2400 × 2).
        for _ in 0..1000 {
            limiters.check_at("other", t0).expect("default is generous");
        }
        let zero = NamespaceRateLimiters::new(dc("frontend.namespaceRPS:\n  - value: 0\n"));
        assert!(zero.check("any").is_err());
    }

    #[test]
    fn poller_limits_per_queue_and_namespace() {
        let limiter = PollerLimiter::new(dc("
limit.maxTaskQueuePollers:
  - value: 2
    constraints:
      namespace: order-service
      taskQueueName: order-service-task-queue
frontend.namespaceCount:
  - value: 3
    constraints: {namespace: small}
"));
        let (ns, tq) = ("order-service", "order-service-task-queue");
        let a = limiter.acquire(ns, tq, TaskType::Workflow).expect("1");
        let b = limiter.acquire(ns, tq, TaskType::Workflow).expect("2");
        let err = limiter.acquire(ns, tq, TaskType::Workflow).err().expect("3rd refused");
        let msg = err.to_string();
        assert!(
            msg.contains("limit.maxTaskQueuePollers") && msg.contains(tq) && msg.contains("at most 2"),
            "{msg}"
        );
        // Activity polls on the same name are another queue; other queues are unlimited.
        let _c = limiter.acquire(ns, tq, TaskType::Activity).expect("activity");
        let _d: Vec<_> = (0..5)
            .map(|_| limiter.acquire(ns, "other", TaskType::Workflow).expect("unlimited"))
            .collect();
        assert_eq!(limiter.in_flight(ns, tq, TaskType::Workflow), 2);
        drop(a);
        assert_eq!(limiter.in_flight(ns, tq, TaskType::Workflow), 1);
        let _e = limiter.acquire(ns, tq, TaskType::Workflow).expect("slot freed");
        drop(b);

        let permits: Vec<_> = (0..3)
            .map(|i| {
                limiter
                    .acquire("small", &format!("q{i}"), TaskType::Workflow)
                    .expect("ns count")
            })
            .collect();
        let err = limiter
            .acquire("small", "q9", TaskType::Workflow)
            .err()
            .expect("namespace full");
        assert!(err.to_string().contains("frontend.namespaceCount"), "{err}");
        drop(permits);
        assert!(limiter.acquire("small", "q9", TaskType::Workflow).is_ok());
    }
}
