//! What each durable timer does when it fires. Every handler first checks that the timer still
//! matters (the task, attempt or timer it was set for is still current); stale timers do nothing.

use crate::activity::{Outcome, activity_timer, finish_attempt, retry_fired};
use crate::mutation::Mutation;
use crate::shard::{RunKey, Shard};
use crate::workflow_task::clear_sticky;
use sundial_api::sundial::persistence::v1::{TimerTask, TimerTaskType};
use sundial_api::temporal::enums::v1::{RetryState, TaskQueueKind, TimeoutType, WorkflowExecutionStatus};
use sundial_api::temporal::history::v1::history_event::Attributes;
use sundial_api::temporal::history::v1::{
    TimerFiredEventAttributes, WorkflowExecutionTimedOutEventAttributes, WorkflowTaskTimedOutEventAttributes,
};
use sundial_common::ServiceError;
use sundial_common::time::{duration_from_pb, timestamp_to_nanos};

pub(crate) async fn fire(shard: &Shard, task: &TimerTask) -> Result<(), ServiceError> {
    let run = RunKey::new(task.namespace_id.clone(), task.workflow_id.clone(), task.run_id.clone());
    let retention_over = task.r#type == TimerTaskType::DeleteHistory as i32;
    let result = shard
        .update(&run, |m| {
            if retention_over {
                // Marked here, deleted by the run's visibility task (after any update queued
                // before it), as DeleteWorkflowExecution does.
                if !m.is_running() && !m.info_ref().deleted {
                    m.info().deleted = true;
                    m.visibility();
                }
            } else if m.is_running() {
                apply(m, task);
            }
            Ok(())
        })
        .await;
    match result {
        // The run was deleted: nothing to time out.
        Err(ServiceError::NotFound(_)) => Ok(()),
        other => other,
    }
}

pub(crate) fn apply(m: &mut Mutation<'_>, task: &TimerTask) {
    match TimerTaskType::try_from(task.r#type).unwrap_or(TimerTaskType::Unspecified) {
        TimerTaskType::UserTimer => {
            let matches =
                m.ms.timers
                    .get(&task.timer_id)
                    .is_some_and(|t| t.started_event_id == task.event_id);
            if matches {
                m.ms.timers.remove(&task.timer_id);
                m.add_or_buffer(Attributes::TimerFiredEventAttributes(TimerFiredEventAttributes {
                    timer_id: task.timer_id.clone(),
                    started_event_id: task.event_id,
                }));
                m.schedule_workflow_task(1);
            }
        }
        TimerTaskType::ActivityTimeout => activity_timeout(m, task),
        TimerTaskType::ActivityRetry => retry_fired(m, task.event_id, task.stamp),
        TimerTaskType::WorkflowTaskTimeout => workflow_task_timeout(m, task),
        TimerTaskType::WorkflowRunTimeout => {
            // Like Temporal's `TimeoutWorkflow`: a running workflow task is failed first.
            crate::signals::fail_started_task_for_close(m);
            crate::chain::run_timed_out(m);
        }
        TimerTaskType::WorkflowExecutionTimeout => {
            crate::signals::fail_started_task_for_close(m);
            m.close(
                WorkflowExecutionStatus::TimedOut,
                Attributes::WorkflowExecutionTimedOutEventAttributes(WorkflowExecutionTimedOutEventAttributes {
                    retry_state: RetryState::Timeout as i32,
                    new_execution_run_id: String::new(),
                }),
            );
        }
        TimerTaskType::WorkflowBackoff => m.schedule_workflow_task(1),
        TimerTaskType::NexusTimeout => crate::nexus::timeout_fired(m, task),
        TimerTaskType::NexusRetry => crate::nexus::retry_fired(m, task),
        TimerTaskType::NexusCancelRetry => crate::nexus::cancel_retry_fired(m, task),
        // Handled in `fire`: it acts on closed runs only.
        TimerTaskType::DeleteHistory => {}
        TimerTaskType::Unspecified => tracing::warn!(?task, "timer task of unknown type ignored"),
    }
}

fn activity_timeout(m: &mut Mutation<'_>, task: &TimerTask) {
    let Some(act) = m.ms.activities.get(&task.event_id).cloned() else {
        return;
    };
    let kind = TimeoutType::try_from(task.timeout_type).unwrap_or(TimeoutType::Unspecified);
    let current_attempt = task.stamp == act.stamp;
    // A paused activity's timeouts wait (unpausing re-arms its schedule-to-close); a running
    // attempt of a paused activity still times out as any attempt does.
    if act.paused && (act.started_time.is_none() || kind == TimeoutType::ScheduleToClose) {
        return;
    }
    let fire = match kind {
        // The deadline may have moved (UpdateActivityOptions): a newer timer has the new one.
        TimeoutType::ScheduleToClose => act
            .expiration_time
            .is_none_or(|e| timestamp_to_nanos(&e) <= m.now_nanos),
        TimeoutType::ScheduleToStart => current_attempt && act.started_time.is_none(),
        TimeoutType::StartToClose => current_attempt && act.started_time.is_some(),
        TimeoutType::Heartbeat => {
            if !current_attempt || act.started_time.is_none() {
                false
            } else {
                let last = act
                    .last_heartbeat_time
                    .or(act.started_time)
                    .map_or(0, |t| timestamp_to_nanos(&t));
                let hb = act
                    .heartbeat_timeout
                    .as_ref()
                    .and_then(duration_from_pb)
                    .unwrap_or_default();
                let deadline = last.saturating_add(i64::try_from(hb.as_nanos()).unwrap_or(i64::MAX));
                if deadline > m.now_nanos {
                    // A heartbeat arrived since this timer was set: wait for the new deadline.
                    m.timer_at(deadline, activity_timer(&act, TimeoutType::Heartbeat));
                    false
                } else {
                    true
                }
            }
        }
        TimeoutType::Unspecified => false,
    };
    if fire {
        let identity = act.last_worker_identity.clone();
        finish_attempt(m, act, Outcome::TimedOut(kind), &identity);
    }
}

fn workflow_task_timeout(m: &mut Mutation<'_>, task: &TimerTask) {
    let Some(wt) = m.ms.workflow_task.clone() else { return };
    if wt.scheduled_event_id != task.event_id || wt.stamp != task.stamp {
        return;
    }
    let kind = TimeoutType::try_from(task.timeout_type).unwrap_or(TimeoutType::Unspecified);
    let next_attempt = match kind {
        TimeoutType::StartToClose if wt.started_event_id != 0 => wt.attempt + 1,
        // A sticky worker that never picked the task up: move it to the normal queue.
        TimeoutType::ScheduleToStart
            if wt.started_event_id == 0 && wt.task_queue_kind == TaskQueueKind::Sticky as i32 =>
        {
            1
        }
        _ => return,
    };
    // A speculative task (an update's, attempt 1) that times out shows in history, as in Temporal.
    let speculative = wt.transient && wt.attempt == 1 && wt.started_event_id != 0;
    if speculative {
        m.materialize_transient_task();
    }
    if !wt.transient || speculative {
        m.add_event(Attributes::WorkflowTaskTimedOutEventAttributes(
            WorkflowTaskTimedOutEventAttributes {
                scheduled_event_id: wt.scheduled_event_id,
                started_event_id: wt.started_event_id,
                timeout_type: kind as i32,
            },
        ));
    }
    m.ms.workflow_task = None;
    clear_sticky(m);
    let flushed = m.flush_buffered();
    let attempt = if flushed || kind == TimeoutType::ScheduleToStart {
        1
    } else {
        next_attempt
    };
    m.schedule_workflow_task(attempt);
}
