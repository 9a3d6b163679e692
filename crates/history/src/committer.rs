//! Group commit for a shard's state transitions. Transitions queue here; the committer takes
//! everything queued and writes it in one database transaction (one fence check, one commit),
//! then answers each caller with its own outcome. Nothing waits on purpose: while one batch
//! commits, the next one gathers, so a busy shard commits many transitions per round trip
//! and an idle one commits each at once.

use futures::FutureExt;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use sundial_persistence::{PersistenceError, Store, Transition};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

/// Most transitions in one transaction (bounds a batch's time and a failure's blast radius).
const MAX_BATCH: usize = 64;

struct Job {
    transition: Transition,
    done: oneshot::Sender<Result<(), PersistenceError>>,
}

pub(crate) struct Committer {
    queue: mpsc::UnboundedSender<Job>,
    task: JoinHandle<()>,
}

impl Committer {
    /// Starts the committer of a shard; `range_id` is the shard's current lease.
    pub fn start(store: Arc<dyn Store>, range_id: Arc<AtomicI64>) -> Committer {
        let (queue, jobs) = mpsc::unbounded_channel();
        let task = tokio::spawn(run(store, range_id, jobs));
        Committer { queue, task }
    }

    /// Commits `transition` with whatever else is queued; returns once it is durable (or not).
    pub async fn commit(&self, transition: Transition) -> Result<(), PersistenceError> {
        let (done, outcome) = oneshot::channel();
        self.queue
            .send(Job { transition, done })
            .map_err(|_| PersistenceError::Unavailable("the shard is stopping".into()))?;
        outcome
            .await
            .map_err(|_| PersistenceError::Unavailable("the shard stopped during the commit".into()))?
    }
}

impl Drop for Committer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn run(store: Arc<dyn Store>, range_id: Arc<AtomicI64>, mut jobs: mpsc::UnboundedReceiver<Job>) {
    let mut transitions = Vec::with_capacity(MAX_BATCH);
    let mut waiting = Vec::with_capacity(MAX_BATCH);
    while let Some(first) = jobs.recv().await {
        let mut next = Some(first);
        while let Some(job) = next {
            transitions.push(job.transition);
            waiting.push(job.done);
            next = if transitions.len() < MAX_BATCH {
                jobs.try_recv().ok()
            } else {
                None
            };
        }
        let commit = store.commit_transitions(range_id.load(Ordering::Acquire), &transitions);
        // A panic fails this batch (nothing of it is acknowledged; callers drop their cached
        // runs) and the committer goes on with the next one.
        let outcomes = match std::panic::AssertUnwindSafe(commit).catch_unwind().await {
            Ok(outcomes) => outcomes,
            Err(panic) => {
                let message = crate::shard::panic_message(panic.as_ref());
                tracing::error!(panic = %message, "committing a batch panicked");
                (0..transitions.len())
                    .map(|_| Err(PersistenceError::Unavailable(format!("commit panicked: {message}"))))
                    .collect()
            }
        };
        for (done, outcome) in waiting.drain(..).zip(outcomes) {
            // A caller that went away learns nothing; its run is reloaded on next use.
            let _ = done.send(outcome);
        }
        transitions.clear();
    }
}
