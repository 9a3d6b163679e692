//! Deletes a shard's carried-out outbox tasks in batches: one commit for every task finished
//! within a short window, instead of one per task (a database commit is the scarcest thing a
//! busy shard has). A task whose delete is still pending when the process dies just runs again,
//! which the queue processors already allow for (at least once; receivers are idempotent).

use crate::shard::Shard;
use std::sync::Arc;
use std::time::Duration;
use sundial_persistence::{CompletedTasks, PersistenceError};
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender, unbounded_channel};
use tokio::task::JoinHandle;

/// How long finished tasks gather before they are deleted together.
const FLUSH_DELAY: Duration = Duration::from_millis(100);
/// Deleted at once even if the window is not over.
const MAX_BATCH: usize = 1000;
/// A batch that keeps failing is dropped after this many tries (its tasks just run again
/// after a restart).
const MAX_ATTEMPTS: u32 = 5;

pub(crate) type TimerKey = (i64, i64);

/// A task a processor has carried out.
pub(crate) enum Done {
    Transfer(i64),
    Timer(TimerKey),
    Visibility(i64),
}

/// Sends finished tasks to the shard's reaper.
#[derive(Clone)]
pub(crate) struct Reaper(UnboundedSender<Done>);

impl Reaper {
    pub fn done(&self, task: Done) {
        // The reaper only stops with the shard; a task finishing after that runs again later.
        let _ = self.0.send(task);
    }
}

/// Starts the reaper of `shard`.
pub(crate) fn spawn(shard: Arc<Shard>) -> (Reaper, JoinHandle<()>) {
    let (tx, rx) = unbounded_channel();
    (Reaper(tx), tokio::spawn(run(shard, rx)))
}

async fn run(shard: Arc<Shard>, mut rx: UnboundedReceiver<Done>) {
    let mut batch = CompletedTasks::default();
    loop {
        let Some(first) = rx.recv().await else { return };
        add(&mut batch, first);
        let window = tokio::time::sleep(FLUSH_DELAY);
        tokio::pin!(window);
        let mut open = true;
        while open && batch.len() < MAX_BATCH {
            tokio::select! {
                next = rx.recv() => match next {
                    Some(task) => add(&mut batch, task),
                    None => open = false,
                },
                _ = &mut window => break,
            }
        }
        flush(&shard, &batch).await;
        batch.timer.clear();
        batch.transfer.clear();
        batch.visibility.clear();
        if !open {
            return;
        }
    }
}

fn add(batch: &mut CompletedTasks, task: Done) {
    match task {
        Done::Transfer(id) => batch.transfer.push(id),
        Done::Timer(key) => batch.timer.push(key),
        Done::Visibility(id) => batch.visibility.push(id),
    }
}

async fn flush(shard: &Shard, batch: &CompletedTasks) {
    let mut delay = Duration::from_millis(50);
    for attempt in 1..=MAX_ATTEMPTS {
        match shard.store.delete_tasks(shard.id, shard.lease().current(), batch).await {
            Ok(()) => return,
            Err(PersistenceError::ShardOwnershipLost { .. }) => {
                // The tasks belong to the new owner, which carries them out (again) itself.
                shard.ownership_lost("deleting finished tasks under this lease was refused");
                return;
            }
            Err(e) if attempt == MAX_ATTEMPTS => {
                tracing::warn!(shard = shard.id, tasks = batch.len(), error = %e,
                    "cannot delete finished tasks; they will run again after a restart");
            }
            Err(e) => {
                tracing::debug!(shard = shard.id, error = %e, "deleting finished tasks failed; retrying");
                tokio::time::sleep(delay).await;
                delay *= 2;
            }
        }
    }
}
