//! Requests from outside the run: signals, cancel requests, termination.

use super::*;
use sundial_api::temporal::enums::v1::{EventType as E, WorkflowExecutionStatus};

#[test]
fn a_signal_to_an_idle_run_is_written_and_schedules_a_workflow_task() {
    let mut run = Run::start();
    run.run_wt(vec![]);
    run.signal_with_id("go", "sig-req-1").unwrap();
    assert_eq!(
        run.last.types(),
        [E::WorkflowExecutionSignaled, E::WorkflowTaskScheduled]
    );
    let s = attrs!(run.last.events[0], WorkflowExecutionSignaledEventAttributes);
    assert_eq!(
        (s.signal_name.as_str(), s.identity.as_str(), s.request_id.as_str()),
        ("go", "signaler", "sig-req-1")
    );
    assert_eq!(s.input, Some(payloads("\"sig\"")));
    assert_eq!(run.last.transfer_types(), [TransferTaskType::WorkflowTask]);
    assert_eq!(run.last.transfers()[0].scheduled_event_id, 6);
}

#[test]
fn a_signal_while_a_task_is_scheduled_joins_it_without_another_task() {
    let mut run = Run::start();
    run.signal("go");
    assert_eq!(run.last.types(), [E::WorkflowExecutionSignaled]);
    assert!(run.last.tasks.is_empty());
    assert_eq!(run.wt().scheduled_event_id, 2);
    // The worker gets it with the task: scheduled, signaled, started.
    let t = run.start_wt();
    assert_eq!(t.wt.started_event_id, 4);
}

#[test]
fn a_signal_while_a_task_runs_waits_and_follows_the_task_completion() {
    let mut run = Run::start();
    run.start_wt();
    run.signal("go");
    assert!(run.last.events.is_empty());
    assert!(run.last.tasks.is_empty());
    assert_eq!(run.ms.buffered_events.len(), 1);
    run.complete_wt(vec![cmd::start_timer("t", 60)]);
    assert_eq!(
        run.last.types(),
        [
            E::WorkflowTaskCompleted,
            E::TimerStarted,
            E::WorkflowExecutionSignaled,
            E::WorkflowTaskScheduled
        ]
    );
    // It keeps the time it arrived at, not the time it was written.
    assert_eq!(
        run.last.events[2].event_time,
        Some(sundial_common::time::nanos_to_timestamp(T0))
    );
    assert_eq!(run.last.transfers()[0].scheduled_event_id, 7);
}

#[test]
fn a_signal_repeated_with_the_same_request_id_is_written_once() {
    let mut run = Run::start();
    run.run_wt(vec![]);
    run.signal_with_id("go", "dup").unwrap();
    run.signal_with_id("go", "dup").unwrap();
    assert!(run.last.events.is_empty());
    assert_eq!(run.ms.signal_request_ids, ["dup"]);
    let signals = run
        .history
        .iter()
        .filter(|e| e.event_type == E::WorkflowExecutionSignaled as i32)
        .count();
    assert_eq!(signals, 1);
}

#[test]
fn a_signal_to_a_closed_run_is_not_found() {
    let mut run = Run::start();
    run.run_wt(vec![cmd::complete("\"done\"")]);
    let err = run.signal_with_id("go", "").err().unwrap();
    assert!(matches!(err, ServiceError::NotFound(_)), "{err:?}");
}

/// A signal delivered, then retried after the run closed (the sender died before recording the
/// delivery, and its task ran again), is the same signal: accepted, not "not found", or the
/// sending workflow would see its delivered signal fail.
#[test]
fn a_delivered_signal_retried_after_the_run_closed_is_accepted() {
    let mut run = Run::start();
    run.run_wt(vec![]);
    run.signal_with_id("go", "from-parent").unwrap();
    run.run_wt(vec![cmd::complete("\"done\"")]);
    run.signal_with_id("go", "from-parent").unwrap();
    assert!(run.last.events.is_empty());
    let err = run.signal_with_id("go", "another").err().unwrap();
    assert!(matches!(err, ServiceError::NotFound(_)), "{err:?}");
}

#[test]
fn a_cancel_request_is_written_once_and_the_workflow_may_cancel() {
    let mut run = Run::start();
    run.run_wt(vec![]);
    run.cancel();
    assert_eq!(
        run.last.types(),
        [E::WorkflowExecutionCancelRequested, E::WorkflowTaskScheduled]
    );
    let c = attrs!(run.last.events[0], WorkflowExecutionCancelRequestedEventAttributes);
    assert_eq!((c.cause.as_str(), c.identity.as_str()), ("please stop", "canceler"));
    assert!(run.info().cancel_requested);
    run.cancel();
    assert!(run.last.events.is_empty(), "asking again changes nothing");

    run.run_wt(vec![cmd::cancel_workflow()]);
    assert_eq!(
        run.last.types(),
        [E::WorkflowTaskCompleted, E::WorkflowExecutionCanceled]
    );
    let c = attrs!(run.last.events[1], WorkflowExecutionCanceledEventAttributes);
    assert_eq!(c.workflow_task_completed_event_id, 8);
    assert_eq!(c.details, Some(payloads("\"bye\"")));
    assert_eq!(run.info().status, WorkflowExecutionStatus::Canceled as i32);
    assert!(run.last.has_visibility());
}

#[test]
fn a_cancel_request_while_a_task_runs_is_buffered() {
    let mut run = Run::start();
    run.start_wt();
    run.cancel();
    assert!(run.last.events.is_empty());
    run.complete_wt(vec![]);
    assert_eq!(
        run.last.types(),
        [
            E::WorkflowTaskCompleted,
            E::WorkflowExecutionCancelRequested,
            E::WorkflowTaskScheduled
        ]
    );
}

#[test]
fn terminate_while_idle_writes_only_terminated() {
    let mut run = Run::start();
    run.run_wt(vec![cmd::start_timer("t", 60)]);
    run.terminate("enough");
    assert_eq!(run.last.types(), [E::WorkflowExecutionTerminated]);
    let t = attrs!(run.last.events[0], WorkflowExecutionTerminatedEventAttributes);
    assert_eq!((t.reason.as_str(), t.identity.as_str()), ("enough", "terminator"));
    assert_eq!(run.last.closed, Some(WorkflowExecutionStatus::Terminated as i32));
    assert_eq!(run.info().status, WorkflowExecutionStatus::Terminated as i32);
    assert!(run.last.has_visibility());
    // The pending timer stays in the queue but finds the run closed.
    let timer = run.timer(TimerTaskType::UserTimer, None);
    run.fire(&timer);
    assert!(run.last.events.is_empty());
}

#[test]
fn terminate_with_a_task_in_flight_fails_it_first_and_flushes_what_was_buffered() {
    let mut run = Run::start();
    run.start_wt();
    run.signal("late");
    run.terminate("enough");
    assert_eq!(
        run.last.types(),
        [
            E::WorkflowTaskFailed,
            E::WorkflowExecutionSignaled,
            E::WorkflowExecutionTerminated
        ]
    );
    let f = attrs!(run.last.events[0], WorkflowTaskFailedEventAttributes);
    assert_eq!((f.scheduled_event_id, f.started_event_id), (2, 3));
    assert_eq!(f.cause, WorkflowTaskFailedCause::ForceCloseCommand as i32);
    // Temporal's TerminateWorkflow: the server fails the task; the terminator signs the close.
    assert_eq!(f.identity, "history-service");
    let t = attrs!(run.last.events[2], WorkflowExecutionTerminatedEventAttributes);
    assert_eq!(t.identity, "terminator");
    assert!(run.ms.workflow_task.is_none());
    assert!(run.ms.buffered_events.is_empty());
    // The worker's late completion finds the run closed.
    let err = run.complete_wt_with(RespondWorkflowTaskCompletedRequest {
        task_token: crate::token::encode(&TaskToken {
            workflow_id: WORKFLOW_ID.into(),
            run_id: RUN_ID.into(),
            scheduled_event_id: 2,
            started_event_id: 3,
            ..Default::default()
        }),
        ..Default::default()
    });
    assert!(matches!(err, Err(ServiceError::NotFound(_))), "{:?}", err.map(|_| ()));
}

#[test]
fn terminate_during_a_transient_attempt_writes_its_events_before_failing_it() {
    let mut run = Run::start();
    run.start_wt();
    run.fail_wt(WorkflowTaskFailedCause::WorkflowWorkerUnhandledFailure);
    run.start_wt();
    run.terminate("enough");
    assert_eq!(
        run.last.types(),
        [
            E::WorkflowTaskScheduled,
            E::WorkflowTaskStarted,
            E::WorkflowTaskFailed,
            E::WorkflowExecutionTerminated
        ]
    );
    assert_eq!(
        attrs!(run.last.events[0], WorkflowTaskScheduledEventAttributes).attempt,
        2
    );
    let f = attrs!(run.last.events[2], WorkflowTaskFailedEventAttributes);
    assert_eq!((f.scheduled_event_id, f.started_event_id), (5, 6));
}

/// Sundial's behaviour today, which differs from Temporal's: Temporal leaves the transient
/// task alone when the signal is written and, when the task starts, writes a new
/// `WorkflowTaskScheduled` with attempt 1 after the signal (`AddWorkflowTaskStartedEvent`:
/// "new events came since transient workflowTask was scheduled"), i.e. [signaled,
/// scheduled(1), started]. Sundial writes [scheduled(2), signaled, started] and keeps
/// counting attempts from 2. Both are valid histories; the attempt count is not reset.
#[test]
fn a_signal_during_a_transient_attempt_makes_its_scheduled_event_durable_first() {
    let mut run = Run::start();
    run.start_wt();
    run.fail_wt(WorkflowTaskFailedCause::WorkflowWorkerUnhandledFailure);
    assert_eq!(run.history.len(), 4);
    run.signal("go");
    assert_eq!(
        run.last.types(),
        [E::WorkflowTaskScheduled, E::WorkflowExecutionSignaled]
    );
    assert_eq!(
        attrs!(run.last.events[0], WorkflowTaskScheduledEventAttributes).attempt,
        2
    );
    assert!(!run.wt().transient);
    let t = run.start_wt();
    assert_eq!(run.last.types(), [E::WorkflowTaskStarted]);
    assert_eq!((t.wt.scheduled_event_id, t.wt.started_event_id), (5, 7));
}
