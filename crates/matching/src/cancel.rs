//! Polls that can be ended early: a poll forwarded by a child partition's host (which cancels
//! it by poller id when its own partition matched first) and a poll of a worker that is shutting
//! down (ShutdownWorker cancels all of that worker instance's polls of a queue). A cancelled poll
//! answers empty, as one that timed out.

use crate::partition::lock;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// A cancel that arrived before its poll is remembered this long.
const TOMBSTONE_TTL: Duration = Duration::from_secs(120);

/// The worker instance a poll came from, and the queue it polls.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct WorkerPoll {
    pub namespace_id: String,
    pub task_queue: String,
    pub task_type: i32,
    pub instance_key: String,
}

enum Entry {
    Waiting {
        tx: watch::Sender<bool>,
        worker: Option<WorkerPoll>,
    },
    /// Cancelled before it arrived (a forwarded poll's cancel overtook it).
    Cancelled(Instant),
}

/// The cancellable polls waiting on this host, by poller id.
#[derive(Default)]
pub(crate) struct CancellablePolls {
    polls: Mutex<HashMap<String, Entry>>,
}

/// A poll's registration; dropping it forgets the poll.
pub(crate) struct Registration<'a> {
    polls: &'a CancellablePolls,
    poller_id: String,
    pub cancelled: watch::Receiver<bool>,
}

impl CancellablePolls {
    pub(crate) fn register(&self, poller_id: &str, worker: Option<WorkerPoll>) -> Registration<'_> {
        let mut polls = lock(&self.polls);
        polls.retain(|_, e| !matches!(e, Entry::Cancelled(at) if at.elapsed() > TOMBSTONE_TTL));
        let already = matches!(polls.get(poller_id), Some(Entry::Cancelled(_)));
        let (tx, rx) = watch::channel(already);
        polls.insert(poller_id.to_owned(), Entry::Waiting { tx, worker });
        Registration {
            polls: self,
            poller_id: poller_id.to_owned(),
            cancelled: rx,
        }
    }

    /// Ends the poll `poller_id`, now or, if it has not arrived yet, when it does.
    pub(crate) fn cancel(&self, poller_id: &str) {
        let mut polls = lock(&self.polls);
        match polls.get(poller_id) {
            Some(Entry::Waiting { tx, .. }) => {
                let _ = tx.send(true);
            }
            _ => {
                polls.insert(poller_id.to_owned(), Entry::Cancelled(Instant::now()));
            }
        }
    }

    /// Ends every poll of worker instance `instance_key` on the queue, for the given task
    /// types; returns how many.
    pub(crate) fn cancel_worker(
        &self,
        namespace_id: &str,
        task_queue: &str,
        task_types: &[i32],
        instance_key: &str,
    ) -> usize {
        let polls = lock(&self.polls);
        let mut n = 0;
        for entry in polls.values() {
            if let Entry::Waiting { tx, worker: Some(w) } = entry
                && w.instance_key == instance_key
                && w.namespace_id == namespace_id
                && w.task_queue == task_queue
                && task_types.contains(&w.task_type)
            {
                let _ = tx.send(true);
                n += 1;
            }
        }
        n
    }
}

impl Drop for Registration<'_> {
    fn drop(&mut self) {
        let mut polls = lock(&self.polls.polls);
        if matches!(polls.get(&self.poller_id), Some(Entry::Waiting { .. })) {
            polls.remove(&self.poller_id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn worker(queue: &str, task_type: i32, key: &str) -> Option<WorkerPoll> {
        Some(WorkerPoll {
            namespace_id: "ns".into(),
            task_queue: queue.into(),
            task_type,
            instance_key: key.into(),
        })
    }

    #[test]
    fn a_cancel_reaches_a_waiting_poll_and_one_not_yet_arrived() {
        let polls = CancellablePolls::default();
        let waiting = polls.register("a", None);
        polls.cancel("a");
        assert!(*waiting.cancelled.borrow());
        polls.cancel("b");
        let late = polls.register("b", None);
        assert!(*late.cancelled.borrow(), "the cancel overtook the poll");
        drop((waiting, late));
        assert!(lock(&polls.polls).is_empty());
    }

    #[test]
    fn a_worker_shutdown_ends_only_that_workers_polls_of_that_queue() {
        let polls = CancellablePolls::default();
        let mine = polls.register("1", worker("q", 1, "w1"));
        let my_activities = polls.register("2", worker("q", 2, "w1"));
        let other_queue = polls.register("3", worker("other", 1, "w1"));
        let other_worker = polls.register("4", worker("q", 1, "w2"));
        assert_eq!(polls.cancel_worker("ns", "q", &[1], "w1"), 1);
        assert!(*mine.cancelled.borrow());
        assert!(!*my_activities.cancelled.borrow());
        assert!(!*other_queue.cancelled.borrow());
        assert!(!*other_worker.cancelled.borrow());
    }
}
