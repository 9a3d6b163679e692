//! A partition's links to the rest of its queue: backlog handed up to pollers waiting at the
//! parent, and (on the root) the number of partitions the queue has ever used, persisted so a
//! restart finds backlog left in partitions beyond today's configured count.

use super::*;
use crate::engine::MatchingEngine;

/// The parent a non-root partition forwards to, looked up through the engine each time so a
/// reloaded parent is found.
pub(crate) struct Forward {
    pub parent: TaskQueueKey,
    pub engine: Weak<MatchingEngine>,
}

/// A partition's position and counters, for DescribeTaskQueue.
pub(crate) struct PartitionStatus {
    pub range_id: i64,
    pub ack_level: i64,
    pub read_level: i64,
    pub backlog_hint: i64,
}

impl Partition {
    /// Gives `offer` to a poller waiting here, or returns it.
    pub fn try_hand_off(&self, mut offer: Offer) -> Result<(), Offer> {
        let mut st = self.state();
        if st.lost {
            return Err(offer);
        }
        while let Some(waiter) = st.waiters.pop_front() {
            match waiter.tx.send(offer) {
                Ok(()) => {
                    st.last_activity = Instant::now();
                    return Ok(());
                }
                Err(back) => offer = back,
            }
        }
        Err(offer)
    }

    /// Offers buffered backlog to pollers waiting at `parent` while this partition has none of
    /// its own. Never holds both partitions' locks at once.
    pub fn forward_backlog(&self, parent: &Partition) {
        while let Some(offer) = self.take_for_forward() {
            if let Err(offer) = parent.try_hand_off(offer) {
                // Back in the buffer without re-flagging: the parent's next waiter pulls it.
                let mut st = self.state();
                if !st.lost {
                    give_back_locked(&mut st, offer);
                    self.dispatch_local(&mut st);
                }
                return;
            }
        }
    }

    /// The oldest buffered task, for the parent's pollers, while nobody waits here.
    pub fn take_for_forward(&self) -> Option<Offer> {
        let mut st = self.state();
        st.forward_pending = false;
        if st.lost || !st.waiters.is_empty() {
            return None;
        }
        self.pop_backlog(&mut st)
    }

    /// Backlog is buffered and nobody waits here for it.
    pub fn has_forwardable(&self) -> bool {
        let st = self.state();
        !st.lost && st.waiters.is_empty() && !st.buffer.is_empty()
    }

    /// Runs a pending forward (set by `dispatch`) from the background task: to the parent
    /// here, or through the host that owns it.
    pub(super) fn run_pending_forward(&self) {
        let Some(forward) = &self.forward else { return };
        if !std::mem::take(&mut self.state().forward_pending) {
            return;
        }
        let Some(engine) = forward.engine.upgrade() else { return };
        if !engine.owns(&forward.parent) {
            if let Some(me) = self.me.upgrade() {
                engine.forward_backlog_remote(me, forward.parent.clone());
            }
            return;
        }
        if let Some(parent) = engine.loaded(&forward.parent) {
            self.forward_backlog(&parent);
        }
    }

    /// Partitions the queue has used (root only; at least 1).
    pub fn partition_count(&self) -> u32 {
        u32::try_from(self.state().info.partition_count).unwrap_or(0).max(1)
    }

    /// Raises the recorded partition count to `count` and saves it before returning, so no
    /// task can land in a partition the root does not know of. True if it grew (the caller
    /// loads the new partitions).
    pub async fn note_partition_count(&self, count: u32) -> bool {
        {
            let mut st = self.state();
            if st.lost || i64::from(count) <= i64::from(st.info.partition_count) {
                return false;
            }
            st.info.partition_count = i32::try_from(count).unwrap_or(i32::MAX);
        }
        if let Err(e) = self.write_info(None).await {
            tracing::warn!(task_queue = %self.key, error = %e, "saving the partition count failed");
        }
        true
    }

    /// Saves `State::info` (with `ack_level` raised to `ack_level` if given) under the lease.
    pub(super) async fn write_info(&self, ack_level: Option<i64>) -> Result<(), PersistenceError> {
        let _serial = self.meta_writer.lock().await;
        let mut info = self.state().info.clone();
        if let Some(level) = ack_level {
            info.ack_level = level;
        }
        info.last_update_time = Some(sundial_common::time::now_timestamp());
        let range_id = self.range_id.load(Ordering::SeqCst);
        self.store.update_task_queue(&self.key, range_id, &info).await?;
        let mut st = self.state();
        st.info.ack_level = st.info.ack_level.max(info.ack_level);
        st.info.last_update_time = info.last_update_time;
        Ok(())
    }

    pub fn status(&self) -> PartitionStatus {
        let st = self.state();
        PartitionStatus {
            range_id: self.range_id.load(Ordering::SeqCst),
            ack_level: st.ack_level,
            read_level: st.read_level,
            // Ids above the read level may be burnt (failed writes), so this is an upper bound.
            backlog_hint: st.buffer.len() as i64 + (st.max_written - st.read_level).max(0),
        }
    }
}
