//! Run and execution timeouts.

use super::*;
use sundial_api::temporal::common::v1::RetryPolicy;
use sundial_api::temporal::enums::v1::{ContinueAsNewInitiator, EventType as E, RetryState, WorkflowExecutionStatus};

#[test]
fn a_run_timeout_while_idle_closes_the_run_timed_out() {
    let mut run = Run::start_with(RunSpec {
        run_timeout: Some(secs(60)),
        ..spec()
    });
    run.run_wt(vec![cmd::start_timer("t", 600)]);
    let timeout = run.timer(TimerTaskType::WorkflowRunTimeout, None);
    run.fire(&timeout);
    assert_eq!(run.last.types(), [E::WorkflowExecutionTimedOut]);
    let t = attrs!(run.last.events[0], WorkflowExecutionTimedOutEventAttributes);
    assert_eq!(t.retry_state, RetryState::RetryPolicyNotSet as i32);
    assert_eq!(t.new_execution_run_id, "");
    assert_eq!(run.last.closed, Some(WorkflowExecutionStatus::TimedOut as i32));
    assert!(run.last.has_visibility());
    assert_eq!(run.info().completion_event_id, 6);
}

#[test]
fn a_run_timeout_under_a_retry_policy_starts_the_next_attempt() {
    let mut run = Run::start_with(RunSpec {
        run_timeout: Some(secs(60)),
        retry_policy: Some(RetryPolicy {
            maximum_attempts: 2,
            ..Default::default()
        }),
        ..spec()
    });
    let timeout = run.timer(TimerTaskType::WorkflowRunTimeout, None);
    run.fire(&timeout);
    // No task was running: the scheduled one is simply dropped.
    assert_eq!(run.last.types(), [E::WorkflowExecutionTimedOut]);
    let t = attrs!(run.last.events[0], WorkflowExecutionTimedOutEventAttributes);
    assert_eq!(t.retry_state, RetryState::InProgress as i32);
    assert!(!t.new_execution_run_id.is_empty());
    let next = run.successor();
    let s = attrs!(next.last.events[0], WorkflowExecutionStartedEventAttributes);
    assert_eq!((s.attempt, s.initiator), (2, ContinueAsNewInitiator::Retry as i32));
    assert_eq!(s.continued_failure.as_ref().unwrap().message, "workflow run timed out");
}

#[test]
fn an_execution_timeout_closes_the_run_timed_out() {
    let mut run = Run::start_with(RunSpec {
        execution_timeout: Some(secs(300)),
        execution_expiration: Some(T0 + 300 * SEC),
        ..spec()
    });
    let timeout = run.timer(TimerTaskType::WorkflowExecutionTimeout, None);
    run.fire(&timeout);
    assert_eq!(run.now, T0 + 300 * SEC);
    assert_eq!(run.last.types(), [E::WorkflowExecutionTimedOut]);
    let t = attrs!(run.last.events[0], WorkflowExecutionTimedOutEventAttributes);
    assert_eq!(t.retry_state, RetryState::Timeout as i32);
    assert_eq!(run.info().status, WorkflowExecutionStatus::TimedOut as i32);
}

#[test]
fn a_run_timeout_with_a_task_in_flight_fails_the_task_first_and_flushes_the_buffer() {
    // Temporal's TimeoutWorkflow: a started workflow task is failed (FORCE_CLOSE_COMMAND) and
    // the buffered events written before the timed-out event.
    let mut run = Run::start_with(RunSpec {
        run_timeout: Some(secs(60)),
        ..spec()
    });
    run.start_wt();
    run.signal("late");
    let timeout = run.timer(TimerTaskType::WorkflowRunTimeout, None);
    run.fire(&timeout);
    assert_eq!(
        run.last.types(),
        [
            E::WorkflowTaskFailed,
            E::WorkflowExecutionSignaled,
            E::WorkflowExecutionTimedOut
        ]
    );
    let f = attrs!(run.last.events[0], WorkflowTaskFailedEventAttributes);
    assert_eq!((f.scheduled_event_id, f.started_event_id), (2, 3));
    assert_eq!(f.cause, WorkflowTaskFailedCause::ForceCloseCommand as i32);
    assert_eq!(f.identity, "history-service");
    assert!(run.ms.workflow_task.is_none());
    assert!(run.ms.buffered_events.is_empty());
    assert_eq!(run.info().completion_event_id, 6);
}

#[test]
fn an_execution_timeout_with_a_task_in_flight_fails_the_task_first() {
    let mut run = Run::start_with(RunSpec {
        execution_timeout: Some(secs(300)),
        execution_expiration: Some(T0 + 300 * SEC),
        ..spec()
    });
    run.start_wt();
    let timeout = run.timer(TimerTaskType::WorkflowExecutionTimeout, None);
    run.fire(&timeout);
    assert_eq!(run.last.types(), [E::WorkflowTaskFailed, E::WorkflowExecutionTimedOut]);
    let f = attrs!(run.last.events[0], WorkflowTaskFailedEventAttributes);
    assert_eq!(f.cause, WorkflowTaskFailedCause::ForceCloseCommand as i32);
}

#[test]
fn a_run_timeout_during_a_transient_attempt_writes_its_events_before_failing_it() {
    let mut run = Run::start_with(RunSpec {
        run_timeout: Some(secs(60)),
        ..spec()
    });
    run.start_wt();
    run.fail_wt(WorkflowTaskFailedCause::WorkflowWorkerUnhandledFailure);
    run.start_wt();
    let timeout = run.timer(TimerTaskType::WorkflowRunTimeout, None);
    run.fire(&timeout);
    assert_eq!(
        run.last.types(),
        [
            E::WorkflowTaskScheduled,
            E::WorkflowTaskStarted,
            E::WorkflowTaskFailed,
            E::WorkflowExecutionTimedOut
        ]
    );
    let f = attrs!(run.last.events[2], WorkflowTaskFailedEventAttributes);
    assert_eq!((f.scheduled_event_id, f.started_event_id), (5, 6));
}
