//! Operator actions on a workflow's pending activities (PauseActivity, UnpauseActivity,
//! ResetActivity, UpdateActivityOptions), as Temporal applies them: no history event and no
//! workflow task, only the activities' state and the tasks that dispatch them.
//!
//! A paused activity gets no new attempt: its queued dispatch and retry timer are disowned by
//! bumping its stamp, its timeouts do not fire, and an attempt that fails while paused stays
//! pending (paused) instead of arming a retry. A running attempt is never interrupted: it may
//! complete, and heartbeats tell its worker `activity_paused` / `activity_reset`. Unpausing
//! (or resetting) a waiting activity dispatches it again, after a random `jitter`.
//!
//! One deviation from Temporal: resetting the attempt count of a running attempt takes effect
//! when that attempt ends (Describe shows attempt 1 at once), so the running worker's task
//! token, which carries its attempt, stays valid for its heartbeats and result.

use crate::commands::activity_timeouts;
use crate::mutation::Mutation;
use sundial_api::sundial::persistence::v1::ActivityInfo;
use sundial_api::temporal::activity::v1::ActivityOptions;
use sundial_api::temporal::command::v1::ScheduleActivityTaskCommandAttributes;
use sundial_api::temporal::common::v1::{Priority, RetryPolicy};
use sundial_api::temporal::enums::v1::{TaskQueueKind, TimeoutType};
use sundial_api::temporal::taskqueue::v1::TaskQueue;
use sundial_api::temporal::workflow::v1::pending_activity_info::{PauseInfo, pause_info};
use sundial_common::ServiceError;
use sundial_common::time::nanos_to_timestamp;

/// Which pending activities an operation applies to.
#[derive(Clone, Debug)]
pub(crate) enum Select {
    Id(String),
    Type(String),
    All,
}

fn activity_not_found() -> ServiceError {
    ServiceError::NotFound(
        "Can't find pending activity with such ID. Invalid activityID or activity already completed".into(),
    )
}

/// The scheduled event ids of the selected activities; none selected is NotFound.
pub(crate) fn select(m: &Mutation<'_>, which: &Select) -> Result<Vec<i64>, ServiceError> {
    if !m.is_running() {
        return Err(ServiceError::NotFound("workflow execution already completed".into()));
    }
    let mut ids: Vec<i64> =
        m.ms.activities
            .values()
            .filter(|a| match which {
                Select::Id(id) => a.activity_id == *id,
                Select::Type(t) => a.activity_type == *t,
                Select::All => true,
            })
            .map(|a| a.scheduled_event_id)
            .collect();
    if ids.is_empty() {
        return Err(activity_not_found());
    }
    ids.sort_unstable();
    Ok(ids)
}

fn each(
    m: &mut Mutation<'_>,
    ids: &[i64],
    mut f: impl FnMut(&mut Mutation<'_>, &mut ActivityInfo) -> Result<(), ServiceError>,
) -> Result<(), ServiceError> {
    for id in ids {
        let Some(mut act) = m.ms.activities.get(id).cloned() else {
            return Err(activity_not_found());
        };
        f(m, &mut act)?;
        m.ms.activities.insert(*id, act);
    }
    Ok(())
}

/// PauseActivity. The same request again (same request id) changes nothing; another on an
/// already paused activity is refused.
pub(crate) fn pause(
    m: &mut Mutation<'_>,
    ids: &[i64],
    identity: &str,
    reason: &str,
    request_id: &str,
) -> Result<(), ServiceError> {
    each(m, ids, |m, act| {
        if act.paused {
            if act.pause_request_id == request_id {
                return Ok(());
            }
            return Err(ServiceError::FailedPrecondition("activity is already paused".into()));
        }
        act.paused = true;
        act.pause_request_id = request_id.to_owned();
        act.pause_info = Some(PauseInfo {
            pause_time: Some(m.now),
            paused_by: Some(pause_info::PausedBy::Manual(pause_info::Manual {
                identity: identity.to_owned(),
                reason: reason.to_owned(),
            })),
        });
        if act.started_time.is_none() {
            // Its queued dispatch and retry timer belong to the old stamp now.
            act.stamp += 1;
        }
        Ok(())
    })
}

fn clear_pause(act: &mut ActivityInfo) {
    act.paused = false;
    act.pause_info = None;
    act.pause_request_id.clear();
}

fn clear_heartbeat(act: &mut ActivityInfo) {
    act.heartbeat_details = None;
    act.last_heartbeat_time = None;
}

/// Resets the attempt count: at once for a waiting activity; for a running attempt, when it
/// ends (see the module comment).
fn reset_attempts(act: &mut ActivityInfo) {
    if act.started_time.is_some() {
        act.reset_requested = true;
    } else {
        act.attempt = 1;
    }
}

/// Dispatches a waiting activity's next attempt after `jitter` (at random below it), and
/// re-arms its schedule-to-close timeout, which does not fire while paused.
fn redispatch(m: &mut Mutation<'_>, act: &mut ActivityInfo, jitter: std::time::Duration) {
    let delay = i64::try_from(sundial_common::random::jitter(jitter).as_nanos()).unwrap_or(i64::MAX);
    dispatch_at(m, act, m.now_nanos.saturating_add(delay));
}

/// Schedules the next attempt of a waiting activity at `at` under a new stamp (what was
/// queued under the old one is dropped), with its schedule-to-close timeout armed.
fn dispatch_at(m: &mut Mutation<'_>, act: &mut ActivityInfo, at: i64) {
    act.stamp += 1;
    act.started_time = None;
    act.started_request_id.clear();
    act.current_attempt_scheduled_time = Some(nanos_to_timestamp(at));
    m.timer_at(at, crate::activity::retry_timer(act));
    if let Some(expiration) = act.expiration_time {
        m.timer_at(
            sundial_common::time::timestamp_to_nanos(&expiration),
            crate::activity::activity_timer(act, TimeoutType::ScheduleToClose),
        );
    }
}

/// UnpauseActivity. Activities that are not paused are left alone.
pub(crate) fn unpause(
    m: &mut Mutation<'_>,
    ids: &[i64],
    reset_attempt_count: bool,
    reset_heartbeat: bool,
    jitter: std::time::Duration,
) -> Result<(), ServiceError> {
    each(m, ids, |m, act| {
        if !act.paused {
            return Ok(());
        }
        clear_pause(act);
        if reset_attempt_count {
            reset_attempts(act);
        }
        if reset_heartbeat {
            clear_heartbeat(act);
        }
        if act.started_time.is_none() {
            redispatch(m, act, jitter);
        }
        Ok(())
    })
}

/// ResetActivity: back to attempt 1, unpaused unless `keep_paused`; a waiting activity is
/// dispatched again at once (after `jitter`).
pub(crate) fn reset(
    m: &mut Mutation<'_>,
    ids: &[i64],
    reset_heartbeat: bool,
    keep_paused: bool,
    jitter: std::time::Duration,
) -> Result<(), ServiceError> {
    each(m, ids, |m, act| {
        if act.paused && !keep_paused {
            clear_pause(act);
        }
        if act.started_time.is_some() {
            act.reset_requested = true;
            act.reset_heartbeats = reset_heartbeat;
            return Ok(());
        }
        act.attempt = 1;
        if reset_heartbeat {
            clear_heartbeat(act);
        }
        if act.paused {
            // Stays paused with its count reset; unpausing dispatches it.
            act.stamp += 1;
        } else {
            redispatch(m, act, jitter);
        }
        Ok(())
    })
}

/// The options an activity runs with, as UpdateActivityOptions and Describe report them.
pub(crate) fn options_of(act: &ActivityInfo) -> ActivityOptions {
    ActivityOptions {
        task_queue: Some(TaskQueue {
            name: act.task_queue.clone(),
            kind: TaskQueueKind::Normal as i32,
            normal_name: String::new(),
        }),
        schedule_to_close_timeout: act.schedule_to_close_timeout,
        schedule_to_start_timeout: act.schedule_to_start_timeout,
        start_to_close_timeout: act.start_to_close_timeout,
        heartbeat_timeout: act.heartbeat_timeout,
        retry_policy: act.retry_policy.as_ref().map(|p| RetryPolicy {
            initial_interval: p.initial_interval,
            backoff_coefficient: p.backoff_coefficient,
            maximum_interval: p.maximum_interval,
            maximum_attempts: p.maximum_attempts,
            non_retryable_error_types: Vec::new(),
        }),
        priority: act.priority.clone(),
        start_delay: None,
    }
}

/// A field-mask path in snake case (clients send either case).
fn snake(path: &str) -> String {
    let mut out = String::with_capacity(path.len() + 4);
    for c in path.chars() {
        if c.is_ascii_uppercase() {
            out.push('_');
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// UpdateActivityOptions: the fields `paths` name are taken from `update`; the timeouts are
/// then filled in and capped as for a newly scheduled activity. A waiting activity's pending
/// attempt is rescheduled under the new options; a running one is not interrupted. Returns
/// the options of the last activity updated.
pub(crate) fn update_options(
    m: &mut Mutation<'_>,
    ids: &[i64],
    update: &ActivityOptions,
    paths: &[String],
) -> Result<ActivityOptions, ServiceError> {
    let paths: Vec<String> = paths.iter().map(|p| snake(p)).collect();
    let has = |p: &str| paths.iter().any(|x| x == p);
    let invalid = |m: &str| ServiceError::InvalidArgument(m.to_owned());
    let mut last = None;
    each(m, ids, |m, act| {
        if has("task_queue.name") {
            let name = update
                .task_queue
                .as_ref()
                .ok_or_else(|| invalid("TaskQueue is not provided"))?
                .name
                .clone();
            if name.is_empty() {
                return Err(invalid("TaskQueue is not provided"));
            }
            act.task_queue = name;
        }
        for (path, from, to) in [
            (
                "schedule_to_close_timeout",
                update.schedule_to_close_timeout,
                &mut act.schedule_to_close_timeout,
            ),
            (
                "schedule_to_start_timeout",
                update.schedule_to_start_timeout,
                &mut act.schedule_to_start_timeout,
            ),
            (
                "start_to_close_timeout",
                update.start_to_close_timeout,
                &mut act.start_to_close_timeout,
            ),
            (
                "heartbeat_timeout",
                update.heartbeat_timeout,
                &mut act.heartbeat_timeout,
            ),
        ] {
            if has(path) {
                *to = from;
            }
        }
        if has("priority") {
            act.priority = update.priority.clone();
        }
        type CopyPriority = fn(&mut Priority, &Priority);
        let priority_fields: [(&str, CopyPriority); 3] = [
            ("priority.priority_key", |to, from| to.priority_key = from.priority_key),
            ("priority.fairness_key", |to, from| {
                to.fairness_key = from.fairness_key.clone()
            }),
            ("priority.fairness_weight", |to, from| {
                to.fairness_weight = from.fairness_weight
            }),
        ];
        for (path, copy) in priority_fields {
            if has(path) {
                let from = update
                    .priority
                    .as_ref()
                    .ok_or_else(|| invalid("Priority is not provided"))?;
                copy(act.priority.get_or_insert_with(Priority::default), from);
            }
        }
        let mut retry_changed = false;
        if has("retry_policy") {
            act.retry_policy = update.retry_policy.clone();
            retry_changed = true;
        }
        type CopyRetry = fn(&mut RetryPolicy, &RetryPolicy);
        let retry_fields: [(&str, CopyRetry); 4] = [
            ("retry_policy.initial_interval", |to, from| {
                to.initial_interval = from.initial_interval
            }),
            ("retry_policy.backoff_coefficient", |to, from| {
                to.backoff_coefficient = from.backoff_coefficient
            }),
            ("retry_policy.maximum_interval", |to, from| {
                to.maximum_interval = from.maximum_interval
            }),
            ("retry_policy.maximum_attempts", |to, from| {
                to.maximum_attempts = from.maximum_attempts
            }),
        ];
        for (path, copy) in retry_fields {
            if has(path) {
                let from = update
                    .retry_policy
                    .as_ref()
                    .ok_or_else(|| invalid("RetryPolicy is not provided"))?;
                copy(act.retry_policy.get_or_insert_with(RetryPolicy::default), from);
                retry_changed = true;
            }
        }
        if retry_changed {
            crate::command_checks::check_retry_policy("UpdateActivityOptions", &mut act.retry_policy)
                .map_err(|e| ServiceError::InvalidArgument(e.message))?;
        }
        let mut timeouts = ScheduleActivityTaskCommandAttributes {
            schedule_to_close_timeout: act.schedule_to_close_timeout,
            schedule_to_start_timeout: act.schedule_to_start_timeout,
            start_to_close_timeout: act.start_to_close_timeout,
            heartbeat_timeout: act.heartbeat_timeout,
            ..Default::default()
        };
        activity_timeouts(m, &mut timeouts).map_err(|e| ServiceError::InvalidArgument(e.message))?;
        act.schedule_to_close_timeout = timeouts.schedule_to_close_timeout;
        act.schedule_to_start_timeout = timeouts.schedule_to_start_timeout;
        act.start_to_close_timeout = timeouts.start_to_close_timeout;
        act.heartbeat_timeout = timeouts.heartbeat_timeout;
        // The schedule-to-close deadline follows the new timeout (the old timer then finds
        // the deadline moved and does nothing).
        act.expiration_time = act
            .schedule_to_close_timeout
            .filter(|d| sundial_common::time::pb_duration_nanos(d) > 0)
            .zip(act.scheduled_time)
            .map(|(d, at)| {
                nanos_to_timestamp(sundial_common::time::deadline_after(
                    sundial_common::time::timestamp_to_nanos(&at),
                    &d,
                ))
            });
        if act.started_time.is_none() && !act.paused {
            // The pending attempt goes out again under the new options (task queue,
            // timeouts) when it was due.
            let due = act
                .current_attempt_scheduled_time
                .map_or(m.now_nanos, |t| sundial_common::time::timestamp_to_nanos(&t));
            dispatch_at(m, act, due.max(m.now_nanos));
        } else if let Some(expiration) = act.expiration_time {
            m.timer_at(
                sundial_common::time::timestamp_to_nanos(&expiration),
                crate::activity::activity_timer(act, TimeoutType::ScheduleToClose),
            );
        }
        last = Some(options_of(act));
        Ok(())
    })?;
    Ok(last.unwrap_or_default())
}

impl crate::HistoryEngine {
    /// Applies `f` to the selected pending activities of a run (the current run when `run_id`
    /// is empty), in one transition.
    pub(crate) async fn on_activities<R>(
        &self,
        namespace_id: &str,
        workflow_id: &str,
        run_id: &str,
        which: &Select,
        mut f: impl FnMut(&mut Mutation<'_>, &[i64]) -> Result<R, ServiceError>,
    ) -> Result<R, ServiceError> {
        let run = self.resolve_run(namespace_id, workflow_id, run_id).await?;
        let shard = self.shard(namespace_id, workflow_id)?;
        shard
            .update(&run, |m| {
                let ids = select(m, which)?;
                f(m, &ids)
            })
            .await
    }
}
