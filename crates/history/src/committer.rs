//! Group commit for a shard's state transitions. Transitions queue here; the committer takes
//! everything queued and writes it in one database transaction (one fence check, one commit),
//! hands each committed transition's new tasks to the shard's queue processors, then answers
//! each caller with its own outcome. The hand-off happens here, not in the caller, so a caller
//! that is dropped while it waits (its client hung up) cannot strand committed tasks. Nothing waits on purpose: while one batch
//! commits, the next one gathers, so a busy shard commits many transitions per round trip
//! and an idle one commits each at once.

use crate::shard::Lease;
use crate::shard::QueueInbox;
use futures::FutureExt;
use std::sync::Arc;
use sundial_persistence::{NewTask, PersistenceError, Store, Transition};
use tokio::sync::{OwnedSemaphorePermit, mpsc, oneshot};
use tokio::task::JoinHandle;

/// Most transitions in one transaction (bounds a batch's time and a failure's blast radius).
const MAX_BATCH: usize = 64;

struct Job {
    transition: Transition,
    /// The transition's new outbox tasks, for the queue processors once it is committed.
    tasks: Vec<NewTask>,
    done: oneshot::Sender<Result<(), PersistenceError>>,
    /// Held until the outcome is known, so the run is not reloaded from the database while
    /// this write may still land (see `Entry::commits`).
    in_flight: OwnedSemaphorePermit,
}

pub(crate) struct Committer {
    queue: mpsc::UnboundedSender<Job>,
    task: JoinHandle<()>,
}

impl Committer {
    /// Starts the committer of a shard; `lease` is the shard's lease, `inbox` where its queue
    /// processors take committed tasks.
    pub fn start(store: Arc<dyn Store>, lease: Arc<Lease>, inbox: QueueInbox) -> Committer {
        let (queue, jobs) = mpsc::unbounded_channel();
        let task = tokio::spawn(run(store, lease, inbox, jobs));
        Committer { queue, task }
    }

    /// Commits `transition` with whatever else is queued and hands `tasks` to the queue
    /// processors once it is durable; returns then (or with why it failed).
    pub async fn commit(
        &self,
        transition: Transition,
        tasks: Vec<NewTask>,
        in_flight: OwnedSemaphorePermit,
    ) -> Result<(), PersistenceError> {
        let (done, outcome) = oneshot::channel();
        self.queue
            .send(Job {
                transition,
                tasks,
                done,
                in_flight,
            })
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

async fn run(store: Arc<dyn Store>, lease: Arc<Lease>, inbox: QueueInbox, mut jobs: mpsc::UnboundedReceiver<Job>) {
    let mut transitions = Vec::with_capacity(MAX_BATCH);
    let mut waiting = Vec::with_capacity(MAX_BATCH);
    while let Some(first) = jobs.recv().await {
        let mut next = Some(first);
        while let Some(job) = next {
            transitions.push(job.transition);
            waiting.push((job.tasks, job.done, job.in_flight));
            next = if transitions.len() < MAX_BATCH {
                jobs.try_recv().ok()
            } else {
                None
            };
        }
        let commit = store.commit_transitions(lease.current(), &transitions);
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
        for ((tasks, done, in_flight), outcome) in waiting.drain(..).zip(outcomes) {
            if outcome.is_ok() {
                inbox.deliver(tasks);
            }
            // A caller that went away learns nothing; its run is reloaded on next use, once
            // this permit is gone, so the reload sees this outcome.
            let _ = done.send(outcome);
            drop(in_flight);
        }
        transitions.clear();
    }
}
