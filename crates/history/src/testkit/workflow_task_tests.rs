//! Workflow tasks: started, completed, failed, timed out (transient retries), sticky queues.

use super::*;
use sundial_api::temporal::enums::v1::{EventType as E, TaskQueueKind, TimeoutType};
use sundial_api::temporal::taskqueue::v1::StickyExecutionAttributes;

#[test]
fn starting_a_workflow_task_writes_started_and_arms_its_start_to_close_timeout() {
    let mut run = Run::start();
    run.advance(SEC);
    let t = run.start_wt();
    assert_eq!(run.last.types(), [E::WorkflowTaskStarted]);
    let started = attrs!(run.last.events[0], WorkflowTaskStartedEventAttributes);
    assert_eq!(started.scheduled_event_id, 2);
    assert_eq!(started.identity, WORKER);
    assert_eq!(started.request_id, "request-1");
    assert!(!started.suggest_continue_as_new);
    assert_eq!(t.wt.started_event_id, 3);
    assert_eq!(t.previous_started_event_id, 0);
    assert!(!t.partial_history);

    let (at, timer) = run.last.timer(TimerTaskType::WorkflowTaskTimeout);
    assert_eq!(at, T0 + SEC + 10 * SEC);
    assert_eq!(timer.timeout_type, TimeoutType::StartToClose as i32);
    assert_eq!((timer.event_id, timer.attempt, timer.stamp), (2, 1, 1));
    assert!(run.last.transfers().is_empty());
    assert_eq!(run.wt().started_event_id, 3);
}

#[test]
fn a_repeated_start_by_the_same_request_is_answered_again_and_another_is_refused() {
    let mut run = Run::start();
    run.try_start_wt("poll-a").unwrap();
    let again = run.try_start_wt("poll-a").unwrap();
    assert!(run.last.events.is_empty(), "the retry writes nothing");
    assert!(run.last.tasks.is_empty());
    assert_eq!(again.wt.started_event_id, 3);
    let err = run.try_start_wt("poll-b").err().unwrap();
    assert!(matches!(err, ServiceError::FailedPrecondition(_)), "{err:?}");
    assert_eq!(run.history.len(), 3);
}

#[test]
fn completing_with_no_commands_writes_completed_and_schedules_nothing() {
    let mut run = Run::start();
    run.run_wt(vec![]);
    assert_eq!(run.last.types(), [E::WorkflowTaskCompleted]);
    let completed = attrs!(run.last.events[0], WorkflowTaskCompletedEventAttributes);
    assert_eq!((completed.scheduled_event_id, completed.started_event_id), (2, 3));
    assert_eq!(completed.identity, WORKER);
    assert!(run.last.tasks.is_empty());
    assert!(run.ms.workflow_task.is_none());
    assert_eq!(run.info().last_completed_workflow_task_started_event_id, 3);
}

#[test]
fn a_stale_token_is_not_found_and_changes_nothing() {
    let mut run = Run::start();
    run.start_wt();
    let mut req = run.completion(vec![cmd::complete("\"done\"")]);
    let mut tok = run.wt_token();
    tok.started_event_id = 99;
    req.task_token = crate::token::encode(&tok);
    let before = run.ms.clone();
    let err = run.complete_wt_with(req).err().unwrap();
    assert!(matches!(err, ServiceError::NotFound(_)), "{err:?}");
    assert_eq!(run.ms, before);
    assert_eq!(run.history.len(), 3);
}

#[test]
fn force_create_new_workflow_task_schedules_another_task_at_once() {
    let mut run = Run::start();
    run.start_wt();
    let req = RespondWorkflowTaskCompletedRequest {
        force_create_new_workflow_task: true,
        ..run.completion(vec![cmd::record_marker("m")])
    };
    run.complete_wt_with(req).unwrap();
    assert_eq!(
        run.last.types(),
        [E::WorkflowTaskCompleted, E::MarkerRecorded, E::WorkflowTaskScheduled]
    );
    assert_eq!(run.last.transfers()[0].scheduled_event_id, 6);
}

#[test]
fn return_new_workflow_task_hands_the_next_task_back_without_matching() {
    let mut run = Run::start();
    run.start_wt();
    run.signal("meanwhile");
    let req = RespondWorkflowTaskCompletedRequest {
        return_new_workflow_task: true,
        ..run.completion(vec![])
    };
    let (next, _) = run.complete_wt_with(req).unwrap();
    let next = next.expect("a task handed back");
    assert_eq!(
        run.last.types(),
        [
            E::WorkflowTaskCompleted,
            E::WorkflowExecutionSignaled,
            E::WorkflowTaskScheduled,
            E::WorkflowTaskStarted
        ]
    );
    assert_eq!((next.wt.scheduled_event_id, next.wt.started_event_id), (6, 7));
    assert!(run.last.transfers().is_empty(), "no trip through matching");
    assert_eq!(run.last.timer_types(), [TimerTaskType::WorkflowTaskTimeout]);
}

#[test]
fn a_worker_failing_the_task_records_why_and_retries_it_transiently() {
    let mut run = Run::start();
    run.start_wt();
    run.fail_wt(WorkflowTaskFailedCause::WorkflowWorkerUnhandledFailure);
    assert_eq!(run.last.types(), [E::WorkflowTaskFailed]);
    let failed = attrs!(run.last.events[0], WorkflowTaskFailedEventAttributes);
    assert_eq!((failed.scheduled_event_id, failed.started_event_id), (2, 3));
    assert_eq!(
        failed.cause,
        WorkflowTaskFailedCause::WorkflowWorkerUnhandledFailure as i32
    );
    assert_eq!(failed.failure.as_ref().unwrap().message, "worker panic");
    // Attempt 2 is transient: it goes to matching but writes no scheduled event.
    assert_eq!(run.last.transfer_types(), [TransferTaskType::WorkflowTask]);
    assert_eq!(run.last.transfers()[0].scheduled_event_id, 5);
    assert_eq!((run.wt().attempt, run.wt().transient), (2, true));
    // A second failure writes nothing at all.
    run.start_wt();
    assert!(run.last.events.is_empty());
    run.fail_wt(WorkflowTaskFailedCause::WorkflowWorkerUnhandledFailure);
    assert!(run.last.events.is_empty());
    assert_eq!(run.wt().attempt, 3);
    assert_eq!(run.history.len(), 4);
}

#[test]
fn a_start_to_close_timeout_retries_the_task_transiently() {
    let mut run = Run::start();
    run.start_wt();
    let timeout = run.last.timer(TimerTaskType::WorkflowTaskTimeout);
    run.fire(&timeout);
    assert_eq!(run.now, T0 + 10 * SEC);
    assert_eq!(run.last.types(), [E::WorkflowTaskTimedOut]);
    let timed_out = attrs!(run.last.events[0], WorkflowTaskTimedOutEventAttributes);
    assert_eq!((timed_out.scheduled_event_id, timed_out.started_event_id), (2, 3));
    assert_eq!(timed_out.timeout_type, TimeoutType::StartToClose as i32);
    // Attempt 2: to matching with the id its scheduled event will have, nothing in history.
    assert_eq!(run.last.transfers()[0].scheduled_event_id, 5);
    assert_eq!(
        (run.wt().attempt, run.wt().transient, run.wt().scheduled_event_id),
        (2, true, 5)
    );
    assert_eq!(run.info().next_event_id, 5);
}

#[test]
fn a_transient_task_writes_its_scheduled_and_started_events_only_when_it_completes() {
    let mut run = Run::start();
    run.start_wt();
    let timeout = run.last.timer(TimerTaskType::WorkflowTaskTimeout);
    run.fire(&timeout);
    let t = run.start_wt();
    assert!(run.last.events.is_empty(), "starting attempt 2 writes nothing");
    assert_eq!(
        (t.wt.scheduled_event_id, t.wt.started_event_id, t.wt.attempt),
        (5, 6, 2)
    );
    // Its own timeout timer is armed with its attempt.
    let (_, timer) = run.last.timer(TimerTaskType::WorkflowTaskTimeout);
    assert_eq!((timer.event_id, timer.attempt), (5, 2));

    run.complete_wt(vec![cmd::start_timer("t", 5)]);
    assert_eq!(
        run.last.types(),
        [
            E::WorkflowTaskScheduled,
            E::WorkflowTaskStarted,
            E::WorkflowTaskCompleted,
            E::TimerStarted
        ]
    );
    assert_eq!(
        attrs!(run.last.events[0], WorkflowTaskScheduledEventAttributes).attempt,
        2
    );
    assert_eq!(
        attrs!(run.last.events[1], WorkflowTaskStartedEventAttributes).scheduled_event_id,
        5
    );
    let completed = attrs!(run.last.events[2], WorkflowTaskCompletedEventAttributes);
    assert_eq!((completed.scheduled_event_id, completed.started_event_id), (5, 6));
    assert_eq!(
        attrs!(run.last.events[3], TimerStartedEventAttributes).workflow_task_completed_event_id,
        7
    );
}

#[test]
fn a_stale_workflow_task_timeout_does_nothing() {
    let mut run = Run::start();
    run.start_wt();
    let timeout = run.last.timer(TimerTaskType::WorkflowTaskTimeout);
    run.complete_wt(vec![]);
    run.fire(&timeout);
    assert!(run.last.events.is_empty());
    assert!(run.last.tasks.is_empty());
    assert!(run.ms.workflow_task.is_none());
}

fn sticky_completion(run: &Run) -> RespondWorkflowTaskCompletedRequest {
    RespondWorkflowTaskCompletedRequest {
        sticky_attributes: Some(StickyExecutionAttributes {
            worker_task_queue: Some(TaskQueue {
                name: "worker-1-sticky".into(),
                kind: TaskQueueKind::Sticky as i32,
                normal_name: TASK_QUEUE.into(),
            }),
            schedule_to_start_timeout: Some(secs(5)),
        }),
        ..run.completion(vec![])
    }
}

#[test]
fn a_sticky_worker_gets_the_next_task_on_its_queue_with_a_schedule_to_start_timeout() {
    let mut run = Run::start();
    run.start_wt();
    let req = sticky_completion(&run);
    run.complete_wt_with(req).unwrap();
    assert_eq!(run.info().sticky_task_queue, "worker-1-sticky");

    run.signal("wake");
    assert_eq!(
        run.last.types(),
        [E::WorkflowExecutionSignaled, E::WorkflowTaskScheduled]
    );
    let scheduled = attrs!(run.last.events[1], WorkflowTaskScheduledEventAttributes);
    let q = scheduled.task_queue.as_ref().unwrap();
    assert_eq!(
        (q.name.as_str(), q.kind, q.normal_name.as_str()),
        ("worker-1-sticky", TaskQueueKind::Sticky as i32, TASK_QUEUE)
    );
    let t = run.last.transfers()[0];
    assert_eq!(
        (t.task_queue.as_str(), t.task_queue_kind),
        ("worker-1-sticky", TaskQueueKind::Sticky as i32)
    );
    assert_eq!(t.schedule_to_start_timeout, Some(secs(5)));
    let (at, timer) = run.last.timer(TimerTaskType::WorkflowTaskTimeout);
    assert_eq!(at, run.now + 5 * SEC);
    assert_eq!(timer.timeout_type, TimeoutType::ScheduleToStart as i32);
    assert_eq!(timer.event_id, 6);

    let t = run.start_wt();
    assert!(t.partial_history, "the sticky worker has the history cached");
    assert_eq!(t.previous_started_event_id, 3);
}

#[test]
fn a_sticky_schedule_to_start_timeout_moves_the_task_to_the_normal_queue() {
    let mut run = Run::start();
    run.start_wt();
    let req = sticky_completion(&run);
    run.complete_wt_with(req).unwrap();
    run.signal("wake");
    let s2s = run.last.timer(TimerTaskType::WorkflowTaskTimeout);
    run.fire(&s2s);
    assert_eq!(run.last.types(), [E::WorkflowTaskTimedOut, E::WorkflowTaskScheduled]);
    let timed_out = attrs!(run.last.events[0], WorkflowTaskTimedOutEventAttributes);
    assert_eq!((timed_out.scheduled_event_id, timed_out.started_event_id), (6, 0));
    assert_eq!(timed_out.timeout_type, TimeoutType::ScheduleToStart as i32);
    let scheduled = attrs!(run.last.events[1], WorkflowTaskScheduledEventAttributes);
    assert_eq!(scheduled.task_queue.as_ref().unwrap().name, TASK_QUEUE);
    assert_eq!(scheduled.attempt, 1);
    let t = run.last.transfers()[0];
    assert_eq!(
        (t.task_queue.as_str(), t.task_queue_kind),
        (TASK_QUEUE, TaskQueueKind::Normal as i32)
    );
    assert!(run.info().sticky_task_queue.is_empty());
    assert!(run.last.timers().is_empty());
}

#[test]
fn a_schedule_to_start_timer_for_a_normal_queue_task_does_nothing() {
    let mut run = Run::start();
    let mut stray = run.timers.first().cloned().unwrap_or_default();
    stray.1 = TimerTask {
        r#type: TimerTaskType::WorkflowTaskTimeout as i32,
        event_id: 2,
        timeout_type: TimeoutType::ScheduleToStart as i32,
        attempt: 1,
        stamp: 1,
        ..Default::default()
    };
    run.fire(&stray);
    assert!(run.last.events.is_empty());
    assert_eq!(run.wt().scheduled_event_id, 2);
}
