//! Work done every interval on behalf of an owner, for as long as the owner lives.

use std::future::Future;
use std::sync::{Arc, Weak};
use std::time::Duration;

/// Runs `tick(owner)` every `interval` (first after one interval) until `owner` is dropped or
/// the task is aborted. The task holds only a weak reference, so it never keeps its owner alive.
pub fn while_alive<T, F, Fut>(owner: &Arc<T>, interval: Duration, tick: F) -> tokio::task::JoinHandle<()>
where
    T: Send + Sync + 'static,
    F: Fn(Arc<T>) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send,
{
    let owner: Weak<T> = Arc::downgrade(owner);
    tokio::spawn(async move {
        let mut timer = tokio::time::interval(interval);
        timer.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        timer.tick().await;
        loop {
            timer.tick().await;
            let Some(owner) = owner.upgrade() else { return };
            tick(owner).await;
        }
    })
}
