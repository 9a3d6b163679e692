//! The persisted side of a partition: appending tasks under the `range_id` lease, acking them,
//! and the background task that pages the backlog into memory and deletes acked tasks.

use super::*;

impl Partition {
    /// Appends a task to the persisted backlog; returns once it is committed.
    pub async fn append(&self, info: TaskInfo) -> Result<(), PersistenceError> {
        let mut w = self.writer.lock().await;
        if self.is_lost() {
            return Err(self.lost_error(w.range_id));
        }
        if w.next_id > w.block_end {
            let lease = match self.store.lease_task_queue(&self.key, &self.owner).await {
                Ok(lease) => lease,
                Err(e @ PersistenceError::TaskQueueOwned { .. }) => {
                    self.mark_lost();
                    return Err(e);
                }
                Err(e) => return Err(e),
            };
            if lease.range_id != w.range_id + 1 {
                // Someone leased it between our blocks: we are no longer the owner.
                self.mark_lost();
                return Err(self.lost_error(w.range_id));
            }
            w.range_id = lease.range_id;
            w.next_id = (lease.range_id - 1) * RANGE_SIZE + 1;
            w.block_end = lease.range_id * RANGE_SIZE;
            self.range_id.store(lease.range_id, Ordering::SeqCst);
        }
        let task_id = w.next_id;
        // Burn the id even if the write fails: the commit may have happened anyway.
        w.next_id += 1;
        match self
            .store
            .create_tasks(&self.key, w.range_id, &[(task_id, info.clone())])
            .await
        {
            Ok(()) => {}
            Err(e @ PersistenceError::TaskQueueOwnershipLost { .. }) => {
                self.mark_lost();
                return Err(e);
            }
            Err(e) => return Err(e),
        }
        let mut st = self.state();
        let caught_up = st.read_level >= st.max_written;
        st.max_written = task_id;
        if caught_up && st.buffer.len() < BUFFER_CAP && !st.lost {
            st.buffer.insert(task_id, info);
            st.unacked.insert(task_id, false);
            st.read_level = task_id;
            self.dispatch(&mut st);
        } else {
            self.wake_background.notify_one();
        }
        Ok(())
    }

    fn lost_error(&self, expected: i64) -> PersistenceError {
        PersistenceError::TaskQueueOwnershipLost {
            task_queue: self.key.to_string(),
            expected,
            actual: -1,
        }
    }

    /// History accepted or rejected backlog task `task_id`: it may be deleted.
    pub fn ack(&self, task_id: i64) {
        let mut st = self.state();
        self.ack_locked(&mut st, task_id);
    }

    pub(super) fn ack_locked(&self, st: &mut State, task_id: i64) {
        if let Some(acked) = st.unacked.get_mut(&task_id) {
            *acked = true;
        }
        let before = st.ack_level;
        while let Some((&id, &acked)) = st.unacked.first_key_value() {
            if !acked {
                break;
            }
            st.unacked.pop_first();
            st.ack_level = id;
        }
        if st.unacked.is_empty() {
            // Everything read is acked, including ids that turned out not to exist.
            st.ack_level = st.ack_level.max(st.read_level);
        }
        if st.ack_level > before {
            self.wake_background.notify_one();
        }
    }

    /// Pages backlog tasks into memory (if needed) or deletes acked ones (if due).
    async fn background_step(&self, last_gc: &mut Instant) -> Step {
        self.run_pending_forward();
        let read = {
            let st = self.state();
            if st.lost {
                return Step::Stop;
            }
            (st.buffer.len() < LOW_WATERMARK && st.read_level < st.max_written)
                .then(|| (st.read_level, st.max_written, BUFFER_CAP - st.buffer.len()))
        };
        if let Some((after, up_to, limit)) = read {
            return match self.store.get_tasks(&self.key, after, up_to, limit).await {
                Ok(tasks) => {
                    let mut st = self.state();
                    let full = tasks.len() >= limit;
                    let last = tasks.last().map(|t| t.task_id);
                    for task in tasks {
                        st.buffer.insert(task.task_id, task.info);
                        st.unacked.insert(task.task_id, false);
                    }
                    // A short page means everything up to `up_to` is now in memory.
                    st.read_level = if full { last.unwrap_or(up_to) } else { up_to };
                    let ack_level = st.ack_level;
                    self.ack_locked(&mut st, ack_level);
                    self.dispatch(&mut st);
                    Step::Busy
                }
                Err(e) => {
                    tracing::warn!(task_queue = %self.key, error = %e, "reading backlog failed");
                    Step::Wait(Some(RETRY_BACKOFF))
                }
            };
        }
        let (ack_level, gc_level) = {
            let st = self.state();
            (st.ack_level, st.gc_level)
        };
        if ack_level <= gc_level {
            return Step::Wait(None);
        }
        let since = last_gc.elapsed();
        if since < GC_INTERVAL {
            return Step::Wait(Some(GC_INTERVAL - since));
        }
        *last_gc = Instant::now();
        match self.collect_garbage(ack_level).await {
            Ok(()) => {
                self.state().gc_level = ack_level;
                Step::Busy
            }
            Err(PersistenceError::TaskQueueOwnershipLost { .. }) => {
                self.mark_lost();
                Step::Stop
            }
            Err(e) => {
                tracing::warn!(task_queue = %self.key, error = %e, "deleting acked tasks failed");
                Step::Wait(Some(RETRY_BACKOFF))
            }
        }
    }

    async fn collect_garbage(&self, ack_level: i64) -> Result<(), PersistenceError> {
        while self.store.complete_tasks_up_to(&self.key, ack_level, GC_BATCH).await? >= GC_BATCH as u64 {}
        self.write_info(Some(ack_level)).await
    }

    /// Deletes acked tasks now (used at shutdown so a clean restart redelivers nothing).
    pub async fn flush_acks(&self) {
        let (ack_level, gc_level) = {
            let st = self.state();
            (st.ack_level, st.gc_level)
        };
        if ack_level > gc_level
            && let Err(e) = self.collect_garbage(ack_level).await
        {
            tracing::debug!(task_queue = %self.key, error = %e, "final ack flush failed");
        }
    }
}

enum Step {
    Busy,
    Wait(Option<Duration>),
    Stop,
}

pub(super) async fn run_background(partition: Weak<Partition>, wake: Arc<Notify>) {
    let mut last_gc = Instant::now();
    loop {
        let step = match partition.upgrade() {
            Some(p) => p.background_step(&mut last_gc).await,
            None => return,
        };
        match step {
            Step::Busy => {}
            Step::Stop => return,
            Step::Wait(None) => wake.notified().await,
            Step::Wait(Some(d)) => {
                let _ = tokio::time::timeout(d, wake.notified()).await;
            }
        }
    }
}
