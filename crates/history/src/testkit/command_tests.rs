//! A workflow task's commands turned into events, state and tasks; bad commands fail the task.

use super::*;
use sundial_api::temporal::command::v1::ScheduleActivityTaskCommandAttributes;
use sundial_api::temporal::enums::v1::{EventType as E, TimeoutType, WorkflowExecutionStatus};

#[test]
fn schedule_activity_writes_scheduled_and_dispatches_it() {
    let mut run = Run::start();
    run.run_wt(vec![cmd::schedule_activity("a1", 30)]);
    assert_eq!(run.last.types(), [E::WorkflowTaskCompleted, E::ActivityTaskScheduled]);
    let s = attrs!(run.last.events[1], ActivityTaskScheduledEventAttributes);
    assert_eq!(s.activity_id, "a1");
    assert_eq!(s.activity_type.as_ref().unwrap().name, "MyActivity");
    assert_eq!(
        s.task_queue.as_ref().unwrap().name,
        TASK_QUEUE,
        "defaults to the workflow's queue"
    );
    assert_eq!(s.workflow_task_completed_event_id, 4);
    assert_eq!(s.start_to_close_timeout, Some(secs(30)));
    // No run timeout: nothing bounds schedule-to-close or schedule-to-start.
    assert_eq!(s.schedule_to_close_timeout, None);
    assert_eq!(s.schedule_to_start_timeout, None);
    // Temporal's default retry policy, filled in.
    let p = s.retry_policy.as_ref().unwrap();
    assert_eq!(
        (
            p.initial_interval,
            p.backoff_coefficient,
            p.maximum_interval,
            p.maximum_attempts
        ),
        (Some(secs(1)), 2.0, Some(secs(100)), 0)
    );

    assert_eq!(run.last.transfer_types(), [TransferTaskType::ActivityTask]);
    let t = run.last.transfers()[0];
    assert_eq!(
        (t.scheduled_event_id, t.task_queue.as_str(), t.stamp),
        (5, TASK_QUEUE, 1)
    );
    assert!(run.last.timers().is_empty());
    let act = &run.ms.activities[&5];
    assert_eq!((act.attempt, act.started_time), (1, None));
}

#[test]
fn schedule_activity_timeouts_are_filled_and_armed_like_temporal() {
    let mut run = Run::start_with(RunSpec {
        run_timeout: Some(secs(3600)),
        ..spec()
    });
    run.run_wt(vec![cmd::schedule_activity_with(
        ScheduleActivityTaskCommandAttributes {
            activity_id: "a1".into(),
            activity_type: Some(ActivityType { name: "A".into() }),
            schedule_to_close_timeout: Some(secs(120)),
            schedule_to_start_timeout: Some(secs(20)),
            heartbeat_timeout: Some(secs(500)),
            task_queue: Some(TaskQueue {
                name: "other".into(),
                ..Default::default()
            }),
            ..Default::default()
        },
    )]);
    let s = attrs!(run.last.events[1], ActivityTaskScheduledEventAttributes);
    assert_eq!(s.schedule_to_close_timeout, Some(secs(120)));
    assert_eq!(s.schedule_to_start_timeout, Some(secs(20)));
    assert_eq!(
        s.start_to_close_timeout,
        Some(secs(120)),
        "defaults to schedule-to-close"
    );
    assert_eq!(s.heartbeat_timeout, Some(secs(120)), "capped at start-to-close");
    assert_eq!(s.task_queue.as_ref().unwrap().name, "other");
    assert_eq!(run.last.transfers()[0].task_queue, "other");
    let now = run.now;
    let timers = run.last.timers();
    assert_eq!(timers.len(), 2);
    let s2s = timers
        .iter()
        .find(|(_, t)| t.timeout_type == TimeoutType::ScheduleToStart as i32);
    let s2c = timers
        .iter()
        .find(|(_, t)| t.timeout_type == TimeoutType::ScheduleToClose as i32);
    assert_eq!(
        s2s.map(|(at, t)| (*at, t.event_id, t.stamp)),
        Some((now + 20 * SEC, 5, 1))
    );
    assert_eq!(s2c.map(|(at, t)| (*at, t.event_id)), Some((now + 120 * SEC, 5)));
}

#[test]
fn schedule_activity_without_any_close_timeout_fails_the_task() {
    let mut run = Run::start();
    run.start_wt();
    run.complete_wt(vec![cmd::schedule_activity_with(
        ScheduleActivityTaskCommandAttributes {
            activity_id: "a1".into(),
            activity_type: Some(ActivityType { name: "A".into() }),
            ..Default::default()
        },
    )]);
    assert_eq!(run.last.types(), [E::WorkflowTaskFailed]);
    let f = attrs!(run.last.events[0], WorkflowTaskFailedEventAttributes);
    assert_eq!(f.cause, WorkflowTaskFailedCause::BadScheduleActivityAttributes as i32);
    assert!(run.ms.activities.is_empty());
}

#[test]
fn start_timer_writes_started_and_arms_a_user_timer() {
    let mut run = Run::start();
    run.advance(2 * SEC);
    run.run_wt(vec![cmd::start_timer("t1", 90)]);
    assert_eq!(run.last.types(), [E::WorkflowTaskCompleted, E::TimerStarted]);
    let s = attrs!(run.last.events[1], TimerStartedEventAttributes);
    assert_eq!(
        (
            s.timer_id.as_str(),
            s.start_to_fire_timeout,
            s.workflow_task_completed_event_id
        ),
        ("t1", Some(secs(90)), 4)
    );
    let (at, t) = run.last.timer(TimerTaskType::UserTimer);
    assert_eq!(at, T0 + 92 * SEC);
    assert_eq!((t.event_id, t.timer_id.as_str()), (5, "t1"));
    assert_eq!(run.ms.timers["t1"].started_event_id, 5);
    assert!(run.last.transfers().is_empty());
}

#[test]
fn a_fired_timer_writes_fired_and_schedules_a_workflow_task() {
    let mut run = Run::start();
    run.run_wt(vec![cmd::start_timer("t1", 90)]);
    let timer = run.last.timer(TimerTaskType::UserTimer);
    run.fire(&timer);
    assert_eq!(run.last.types(), [E::TimerFired, E::WorkflowTaskScheduled]);
    let f = attrs!(run.last.events[0], TimerFiredEventAttributes);
    assert_eq!((f.timer_id.as_str(), f.started_event_id), ("t1", 5));
    assert_eq!(run.last.transfers()[0].scheduled_event_id, 7);
    assert!(run.ms.timers.is_empty());
    // Firing it again (a redelivered task) does nothing.
    run.fire(&timer);
    assert!(run.last.events.is_empty());
}

#[test]
fn a_canceled_timer_writes_canceled_and_its_task_no_longer_fires() {
    let mut run = Run::start();
    run.run_wt(vec![cmd::start_timer("t1", 90)]);
    let timer = run.last.timer(TimerTaskType::UserTimer);
    run.signal("s");
    run.run_wt(vec![cmd::cancel_timer("t1")]);
    assert_eq!(run.last.types(), [E::WorkflowTaskCompleted, E::TimerCanceled]);
    let c = attrs!(run.last.events[1], TimerCanceledEventAttributes);
    assert_eq!(
        (
            c.timer_id.as_str(),
            c.started_event_id,
            c.workflow_task_completed_event_id
        ),
        ("t1", 5, 9)
    );
    run.fire(&timer);
    assert!(run.last.events.is_empty());
    assert!(run.last.tasks.is_empty());
}

#[test]
fn complete_workflow_closes_the_run() {
    let mut run = Run::start();
    run.run_wt(vec![cmd::complete("\"done\"")]);
    assert_eq!(
        run.last.types(),
        [E::WorkflowTaskCompleted, E::WorkflowExecutionCompleted]
    );
    let c = attrs!(run.last.events[1], WorkflowExecutionCompletedEventAttributes);
    assert_eq!(c.result, Some(payloads("\"done\"")));
    assert_eq!(
        (c.workflow_task_completed_event_id, c.new_execution_run_id.as_str()),
        (4, "")
    );
    assert_eq!(run.last.closed, Some(WorkflowExecutionStatus::Completed as i32));
    assert!(run.last.has_visibility());
    assert!(run.last.transfers().is_empty());
    let info = run.info();
    assert_eq!(info.status, WorkflowExecutionStatus::Completed as i32);
    assert_eq!(info.completion_event_id, 5);
    assert!(info.close_time.is_some());
    assert!(run.ms.workflow_task.is_none());
}

#[test]
fn commands_after_the_closing_one_are_ignored() {
    let mut run = Run::start();
    run.run_wt(vec![cmd::complete("\"done\""), cmd::start_timer("late", 5)]);
    assert_eq!(
        run.last.types(),
        [E::WorkflowTaskCompleted, E::WorkflowExecutionCompleted]
    );
    assert!(run.last.timers().is_empty());
    assert!(run.ms.timers.is_empty());
}

#[test]
fn fail_workflow_without_a_retry_policy_closes_the_run_failed() {
    let mut run = Run::start();
    run.run_wt(vec![cmd::fail("boom")]);
    assert_eq!(run.last.types(), [E::WorkflowTaskCompleted, E::WorkflowExecutionFailed]);
    let f = attrs!(run.last.events[1], WorkflowExecutionFailedEventAttributes);
    assert_eq!(f.failure.as_ref().unwrap().message, "boom");
    assert_eq!(
        f.retry_state,
        sundial_api::temporal::enums::v1::RetryState::RetryPolicyNotSet as i32
    );
    assert_eq!(f.new_execution_run_id, "");
    assert_eq!(run.info().status, WorkflowExecutionStatus::Failed as i32);
    assert!(run.last.new_run.is_none());
}

#[test]
fn start_child_writes_initiated_and_a_start_child_task() {
    let mut run = Run::start();
    run.run_wt(vec![cmd::start_child("child-1")]);
    assert_eq!(
        run.last.types(),
        [E::WorkflowTaskCompleted, E::StartChildWorkflowExecutionInitiated]
    );
    let i = attrs!(run.last.events[1], StartChildWorkflowExecutionInitiatedEventAttributes);
    assert_eq!(
        (i.workflow_id.as_str(), i.namespace.as_str(), i.namespace_id.as_str()),
        ("child-1", NAMESPACE, NAMESPACE_ID)
    );
    assert_eq!(i.task_queue.as_ref().unwrap().name, TASK_QUEUE);
    assert_eq!(i.workflow_task_completed_event_id, 4);
    assert_eq!(run.last.transfer_types(), [TransferTaskType::StartChild]);
    assert_eq!(run.last.transfers()[0].scheduled_event_id, 5);
    let child = &run.ms.children[&5];
    assert_eq!(
        (
            child.workflow_id.as_str(),
            child.started_event_id,
            child.workflow_type.as_str()
        ),
        ("child-1", 0, "Child")
    );
}

#[test]
fn signal_and_cancel_external_write_initiated_events_and_transfer_tasks() {
    let mut run = Run::start();
    run.run_wt(vec![
        cmd::signal_external("other", "ping"),
        cmd::cancel_external("other"),
    ]);
    assert_eq!(
        run.last.types(),
        [
            E::WorkflowTaskCompleted,
            E::SignalExternalWorkflowExecutionInitiated,
            E::RequestCancelExternalWorkflowExecutionInitiated
        ]
    );
    let s = attrs!(
        run.last.events[1],
        SignalExternalWorkflowExecutionInitiatedEventAttributes
    );
    assert_eq!(s.signal_name, "ping");
    assert_eq!(s.workflow_execution.as_ref().unwrap().workflow_id, "other");
    assert_eq!(s.namespace, NAMESPACE);
    let c = attrs!(
        run.last.events[2],
        RequestCancelExternalWorkflowExecutionInitiatedEventAttributes
    );
    assert_eq!(c.reason, "no longer needed");
    assert_eq!(
        run.last.transfer_types(),
        [TransferTaskType::SignalExternal, TransferTaskType::CancelExternal]
    );
    assert_eq!(run.last.transfers()[0].scheduled_event_id, 5);
    assert_eq!(run.last.transfers()[1].scheduled_event_id, 6);
    assert_eq!(run.ms.external_signals[&5].signal_name, "ping");
    assert_eq!(run.ms.external_cancels[&6].workflow_id, "other");
}

#[test]
fn upsert_search_attributes_merges_them_and_updates_visibility() {
    let mut run = Run::start();
    run.run_wt(vec![cmd::upsert_search_attributes(&[
        ("CustomKeywordField", "\"a\""),
        ("CustomIntField", "1"),
    ])]);
    assert_eq!(
        run.last.types(),
        [E::WorkflowTaskCompleted, E::UpsertWorkflowSearchAttributes]
    );
    let u = attrs!(run.last.events[1], UpsertWorkflowSearchAttributesEventAttributes);
    assert_eq!(u.search_attributes.as_ref().unwrap().indexed_fields.len(), 2);
    assert!(run.last.has_visibility());
    run.signal("s");
    // `null` removes a key.
    run.run_wt(vec![cmd::upsert_search_attributes(&[("CustomIntField", "null")])]);
    let fields = &run.info().search_attributes.as_ref().unwrap().indexed_fields;
    assert_eq!(fields.keys().collect::<Vec<_>>(), ["CustomKeywordField"]);
}

#[test]
fn record_marker_writes_the_marker_with_its_details_and_command_metadata() {
    let mut run = Run::start();
    let mut marker = cmd::record_marker("Version");
    marker.user_metadata = Some(sundial_api::temporal::sdk::v1::UserMetadata {
        summary: Some(payload("\"why\"")),
        details: None,
    });
    run.run_wt(vec![marker]);
    assert_eq!(run.last.types(), [E::WorkflowTaskCompleted, E::MarkerRecorded]);
    let m = attrs!(run.last.events[1], MarkerRecordedEventAttributes);
    assert_eq!(m.marker_name, "Version");
    assert_eq!(m.details["data"], payloads("\"v\""));
    assert_eq!(m.workflow_task_completed_event_id, 4);
    assert_eq!(
        run.last.events[1].user_metadata.as_ref().unwrap().summary,
        Some(payload("\"why\""))
    );
    assert!(run.last.tasks.is_empty());
}

#[test]
fn a_bad_command_fails_the_task_and_nothing_of_the_good_ones_is_kept() {
    let mut run = Run::start();
    run.start_wt();
    run.complete_wt(vec![
        cmd::schedule_activity("a1", 30),
        cmd::start_timer("", 5),
        cmd::complete("\"never\""),
    ]);
    assert_eq!(run.last.types(), [E::WorkflowTaskFailed]);
    let f = attrs!(run.last.events[0], WorkflowTaskFailedEventAttributes);
    assert_eq!((f.scheduled_event_id, f.started_event_id), (2, 3));
    assert_eq!(f.cause, WorkflowTaskFailedCause::BadStartTimerAttributes as i32);
    assert_eq!(f.identity, WORKER);
    assert!(run.ms.activities.is_empty());
    assert!(run.ms.timers.is_empty());
    assert_eq!(run.info().status, WorkflowExecutionStatus::Running as i32);
    assert_eq!(run.info().last_completed_workflow_task_started_event_id, 0);
    // Only the retry of the task: no activity task, no timer, no close.
    assert_eq!(run.last.transfer_types(), [TransferTaskType::WorkflowTask]);
    assert!(run.last.timers().is_empty());
    assert_eq!((run.wt().attempt, run.wt().scheduled_event_id), (2, 5));
}

#[test]
fn a_duplicate_timer_id_fails_the_task() {
    let mut run = Run::start();
    run.run_wt(vec![cmd::start_timer("t1", 60)]);
    run.signal("s");
    run.start_wt();
    run.complete_wt(vec![cmd::start_timer("t1", 60)]);
    assert_eq!(run.last.types(), [E::WorkflowTaskFailed]);
    let f = attrs!(run.last.events[0], WorkflowTaskFailedEventAttributes);
    assert_eq!(f.cause, WorkflowTaskFailedCause::StartTimerDuplicateId as i32);
    assert_eq!(run.ms.timers.len(), 1);
}

#[test]
fn closing_while_new_events_wait_fails_the_task_and_delivers_them() {
    let mut run = Run::start();
    run.start_wt();
    run.signal("late");
    assert!(run.last.events.is_empty(), "buffered behind the running task");
    run.complete_wt(vec![cmd::complete("\"done\"")]);
    // The workflow must see the signal first: its completion is refused.
    assert_eq!(
        run.last.types(),
        [
            E::WorkflowTaskFailed,
            E::WorkflowExecutionSignaled,
            E::WorkflowTaskScheduled
        ]
    );
    let f = attrs!(run.last.events[0], WorkflowTaskFailedEventAttributes);
    assert_eq!(f.cause, WorkflowTaskFailedCause::UnhandledCommand as i32);
    assert_eq!(run.info().status, WorkflowExecutionStatus::Running as i32);
    // Something new was delivered, so the next task is a fresh attempt 1.
    assert_eq!(
        attrs!(run.last.events[2], WorkflowTaskScheduledEventAttributes).attempt,
        1
    );
    assert!(run.ms.buffered_events.is_empty());
}

#[test]
fn request_cancel_of_an_unstarted_activity_cancels_it_at_once() {
    let mut run = Run::start();
    run.run_wt(vec![cmd::schedule_activity("a1", 30)]);
    run.signal("s");
    run.run_wt(vec![cmd::request_cancel_activity(5)]);
    assert_eq!(
        run.last.types(),
        [
            E::WorkflowTaskCompleted,
            E::ActivityTaskCancelRequested,
            E::ActivityTaskCanceled
        ]
    );
    let c = attrs!(run.last.events[2], ActivityTaskCanceledEventAttributes);
    assert_eq!(
        (
            c.scheduled_event_id,
            c.latest_cancel_requested_event_id,
            c.started_event_id
        ),
        (5, 10, 0)
    );
    assert!(run.ms.activities.is_empty());
}

#[test]
fn request_cancel_of_a_running_activity_is_seen_by_its_heartbeat() {
    let mut run = Run::start();
    run.run_wt(vec![cmd::schedule_activity("a1", 30)]);
    run.start_activity(5);
    assert!(!run.heartbeat(5));
    run.signal("s");
    run.run_wt(vec![cmd::request_cancel_activity(5)]);
    assert_eq!(
        run.last.types(),
        [E::WorkflowTaskCompleted, E::ActivityTaskCancelRequested]
    );
    assert!(run.heartbeat(5), "the worker learns of the cancellation");
    run.finish_activity(5, crate::activity::Outcome::Canceled(None))
        .unwrap();
    assert_eq!(
        run.last.types(),
        [
            E::ActivityTaskStarted,
            E::ActivityTaskCanceled,
            E::WorkflowTaskScheduled
        ]
    );
    let c = attrs!(run.last.events[1], ActivityTaskCanceledEventAttributes);
    assert_eq!((c.latest_cancel_requested_event_id, c.started_event_id), (10, 11));
}

#[test]
fn a_command_without_attributes_fails_the_task_as_unhandled() {
    let mut run = Run::start();
    run.start_wt();
    run.complete_wt(vec![Command::default()]);
    assert_eq!(run.last.types(), [E::WorkflowTaskFailed]);
    let f = attrs!(run.last.events[0], WorkflowTaskFailedEventAttributes);
    assert_eq!(f.cause, WorkflowTaskFailedCause::UnhandledCommand as i32);
}
