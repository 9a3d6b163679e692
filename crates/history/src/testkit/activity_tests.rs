//! Activities: results (buffered while a workflow task runs), retries and timeouts.

use super::*;
use crate::activity::Outcome;
use sundial_api::temporal::command::v1::ScheduleActivityTaskCommandAttributes;
use sundial_api::temporal::common::v1::RetryPolicy;
use sundial_api::temporal::enums::v1::{EventType as E, RetryState, TimeoutType};

/// A run with activity "a1" scheduled (event 5) and no workflow task pending.
fn with_activity(a: ScheduleActivityTaskCommandAttributes) -> Run {
    let mut run = Run::start();
    run.run_wt(vec![cmd::schedule_activity_with(
        ScheduleActivityTaskCommandAttributes {
            activity_id: "a1".into(),
            activity_type: Some(ActivityType { name: "A".into() }),
            ..a
        },
    )]);
    assert_eq!(run.last.events[1].event_id, 5);
    run
}

fn start_to_close(s: i64, policy: Option<RetryPolicy>) -> ScheduleActivityTaskCommandAttributes {
    ScheduleActivityTaskCommandAttributes {
        start_to_close_timeout: Some(secs(s)),
        retry_policy: policy,
        ..Default::default()
    }
}

fn max_attempts(n: i32) -> Option<RetryPolicy> {
    Some(RetryPolicy {
        maximum_attempts: n,
        ..Default::default()
    })
}

#[test]
fn starting_an_attempt_writes_nothing_and_arms_its_timeouts() {
    let mut run = with_activity(ScheduleActivityTaskCommandAttributes {
        start_to_close_timeout: Some(secs(30)),
        heartbeat_timeout: Some(secs(5)),
        ..Default::default()
    });
    run.advance(SEC);
    run.start_activity(5);
    assert!(
        run.last.events.is_empty(),
        "the started event waits for the attempt's end"
    );
    let timers = run.last.timers();
    let kinds: Vec<_> = timers.iter().map(|(at, t)| (*at - run.now, t.timeout_type)).collect();
    assert_eq!(
        kinds,
        [
            (30 * SEC, TimeoutType::StartToClose as i32),
            (5 * SEC, TimeoutType::Heartbeat as i32)
        ]
    );
    let act = &run.ms.activities[&5];
    assert!(act.started_time.is_some());
    assert_eq!(act.last_worker_identity, "activity-worker");
}

#[test]
fn completion_while_idle_writes_started_completed_and_schedules_a_workflow_task() {
    let mut run = with_activity(start_to_close(30, None));
    run.start_activity(5);
    run.complete_activity(5, "\"ok\"");
    assert_eq!(
        run.last.types(),
        [
            E::ActivityTaskStarted,
            E::ActivityTaskCompleted,
            E::WorkflowTaskScheduled
        ]
    );
    let s = attrs!(run.last.events[0], ActivityTaskStartedEventAttributes);
    assert_eq!(
        (s.scheduled_event_id, s.attempt, s.identity.as_str()),
        (5, 1, "activity-worker")
    );
    let c = attrs!(run.last.events[1], ActivityTaskCompletedEventAttributes);
    assert_eq!((c.scheduled_event_id, c.started_event_id), (5, 6));
    assert_eq!(c.result, Some(payloads("\"ok\"")));
    assert_eq!(run.last.transfers()[0].scheduled_event_id, 8);
    assert!(run.ms.activities.is_empty());
}

#[test]
fn completion_during_a_workflow_task_is_buffered_then_written_after_its_events() {
    let mut run = with_activity(start_to_close(30, None));
    run.start_activity(5);
    run.signal("s");
    run.start_wt();
    run.complete_activity(5, "\"ok\"");
    assert!(run.last.events.is_empty());
    assert!(run.last.tasks.is_empty(), "a workflow task is already running");
    assert_eq!(run.ms.buffered_events.len(), 2);

    run.complete_wt(vec![cmd::start_timer("t", 10)]);
    assert_eq!(
        run.last.types(),
        [
            E::WorkflowTaskCompleted,
            E::TimerStarted,
            E::ActivityTaskStarted,
            E::ActivityTaskCompleted,
            E::WorkflowTaskScheduled
        ]
    );
    let started_id = run.last.events[2].event_id;
    assert_eq!(started_id, 11);
    let c = attrs!(run.last.events[3], ActivityTaskCompletedEventAttributes);
    assert_eq!(
        c.started_event_id, started_id,
        "the buffered result learns its started event's id"
    );
    assert!(run.ms.buffered_events.is_empty());
    assert_eq!(run.last.transfer_types(), [TransferTaskType::WorkflowTask]);
}

#[test]
fn a_retryable_failure_writes_nothing_and_retries_after_the_backoff() {
    let mut run = with_activity(start_to_close(30, None));
    run.start_activity(5);
    run.fail_activity(5, app_failure("flaky", false));
    assert!(run.last.events.is_empty());
    let (at, t) = run.last.timer(TimerTaskType::ActivityRetry);
    assert_eq!(at, run.now + SEC, "initial interval 1s");
    assert_eq!((t.event_id, t.attempt, t.stamp), (5, 2, 2));
    let act = &run.ms.activities[&5];
    assert_eq!((act.attempt, act.stamp, act.started_time), (2, 2, None));
    assert_eq!(act.last_failure.as_ref().unwrap().message, "flaky");

    run.fire(&(at, t));
    assert!(run.last.events.is_empty());
    assert_eq!(run.last.transfer_types(), [TransferTaskType::ActivityTask]);
    assert_eq!(run.last.transfers()[0].stamp, 2);

    // The second failure backs off twice as long.
    run.start_activity(5);
    run.fail_activity(5, app_failure("flaky", false));
    let (at, t) = run.last.timer(TimerTaskType::ActivityRetry);
    assert_eq!((at - run.now, t.attempt), (2 * SEC, 3));
}

#[test]
fn the_final_attempt_records_its_attempt_and_the_last_failure() {
    let mut run = with_activity(start_to_close(30, max_attempts(2)));
    run.start_activity(5);
    run.fail_activity(5, app_failure("first", false));
    let retry = run.last.timer(TimerTaskType::ActivityRetry);
    run.fire(&retry);
    run.start_activity(5);
    run.fail_activity(5, app_failure("second", false));
    assert_eq!(
        run.last.types(),
        [E::ActivityTaskStarted, E::ActivityTaskFailed, E::WorkflowTaskScheduled]
    );
    let s = attrs!(run.last.events[0], ActivityTaskStartedEventAttributes);
    assert_eq!(s.attempt, 2);
    assert_eq!(s.last_failure.as_ref().unwrap().message, "first");
    let f = attrs!(run.last.events[1], ActivityTaskFailedEventAttributes);
    assert_eq!(f.retry_state, RetryState::MaximumAttemptsReached as i32);
    assert_eq!(f.failure.as_ref().unwrap().message, "second");
    assert_eq!(f.started_event_id, run.last.events[0].event_id);
}

#[test]
fn a_non_retryable_failure_is_final() {
    let mut run = with_activity(start_to_close(30, None));
    run.start_activity(5);
    run.fail_activity(5, app_failure("fatal", true));
    assert_eq!(
        run.last.types(),
        [E::ActivityTaskStarted, E::ActivityTaskFailed, E::WorkflowTaskScheduled]
    );
    let f = attrs!(run.last.events[1], ActivityTaskFailedEventAttributes);
    assert_eq!(f.retry_state, RetryState::NonRetryableFailure as i32);
    assert!(run.last.timer_types().is_empty());
}

#[test]
fn a_start_to_close_timeout_is_retried() {
    let mut run = with_activity(start_to_close(30, None));
    run.start_activity(5);
    let timeout = run.last.timer(TimerTaskType::ActivityTimeout);
    run.fire(&timeout);
    assert!(run.last.events.is_empty());
    let (_, retry) = run.last.timer(TimerTaskType::ActivityRetry);
    assert_eq!(retry.attempt, 2);
    let failure = run.ms.activities[&5].last_failure.clone().unwrap();
    assert_eq!(failure.message, "activity StartToClose timeout");
    // The timeout of the old attempt, delivered again, is stale.
    run.fire(&timeout);
    assert!(run.last.events.is_empty());
    assert!(run.last.tasks.is_empty());
}

#[test]
fn a_start_to_close_timeout_of_the_last_attempt_times_the_activity_out() {
    let mut run = with_activity(start_to_close(30, max_attempts(1)));
    run.start_activity(5);
    let timeout = run.last.timer(TimerTaskType::ActivityTimeout);
    run.fire(&timeout);
    assert_eq!(
        run.last.types(),
        [
            E::ActivityTaskStarted,
            E::ActivityTaskTimedOut,
            E::WorkflowTaskScheduled
        ]
    );
    let t = attrs!(run.last.events[1], ActivityTaskTimedOutEventAttributes);
    assert_eq!((t.scheduled_event_id, t.started_event_id), (5, 6));
    assert_eq!(t.retry_state, RetryState::MaximumAttemptsReached as i32);
    let failure = t.failure.as_ref().unwrap();
    assert_eq!(failure.message, "activity StartToClose timeout");
    assert_eq!(failure.source, "Server");
}

#[test]
fn a_schedule_to_close_timeout_before_any_start_writes_only_timed_out() {
    let mut run = with_activity(ScheduleActivityTaskCommandAttributes {
        schedule_to_close_timeout: Some(secs(60)),
        ..Default::default()
    });
    let s2c = run.last.timer(TimerTaskType::ActivityTimeout);
    assert_eq!(s2c.1.timeout_type, TimeoutType::ScheduleToClose as i32);
    run.fire(&s2c);
    assert_eq!(run.last.types(), [E::ActivityTaskTimedOut, E::WorkflowTaskScheduled]);
    let t = attrs!(run.last.events[0], ActivityTaskTimedOutEventAttributes);
    assert_eq!(t.started_event_id, 0, "never started: no started event");
    assert_eq!(t.retry_state, RetryState::Timeout as i32);
    let info = t.failure.as_ref().unwrap();
    assert_eq!(info.message, "activity ScheduleToClose timeout");
}

#[test]
fn a_schedule_to_start_timeout_is_not_retried() {
    let mut run = with_activity(ScheduleActivityTaskCommandAttributes {
        start_to_close_timeout: Some(secs(30)),
        schedule_to_start_timeout: Some(secs(10)),
        ..Default::default()
    });
    let s2s = run.last.timer(TimerTaskType::ActivityTimeout);
    assert_eq!(s2s.1.timeout_type, TimeoutType::ScheduleToStart as i32);
    run.fire(&s2s);
    assert_eq!(run.last.types(), [E::ActivityTaskTimedOut, E::WorkflowTaskScheduled]);
    let t = attrs!(run.last.events[0], ActivityTaskTimedOutEventAttributes);
    assert_eq!(t.retry_state, RetryState::Timeout as i32);
}

#[test]
fn a_heartbeat_pushes_the_heartbeat_deadline_back() {
    let mut run = with_activity(ScheduleActivityTaskCommandAttributes {
        start_to_close_timeout: Some(secs(300)),
        heartbeat_timeout: Some(secs(10)),
        retry_policy: max_attempts(1),
        ..Default::default()
    });
    run.start_activity(5);
    let hb = run.timer(TimerTaskType::ActivityTimeout, Some(TimeoutType::Heartbeat));
    run.advance(6 * SEC);
    run.heartbeat(5);
    let heartbeat_at = run.now;
    // The first heartbeat timer fires: a heartbeat came since, so it waits again.
    run.fire(&hb);
    assert!(run.last.events.is_empty());
    let (again, _) = run.last.timer(TimerTaskType::ActivityTimeout);
    assert_eq!(again, heartbeat_at + 10 * SEC);
    let hb = run.timer(TimerTaskType::ActivityTimeout, Some(TimeoutType::Heartbeat));
    run.fire(&hb);
    assert_eq!(
        run.last.types(),
        [
            E::ActivityTaskStarted,
            E::ActivityTaskTimedOut,
            E::WorkflowTaskScheduled
        ]
    );
    let t = attrs!(run.last.events[1], ActivityTaskTimedOutEventAttributes);
    let failure = t.failure.as_ref().unwrap();
    assert_eq!(failure.message, "activity Heartbeat timeout");
    let Some(sundial_api::temporal::failure::v1::failure::FailureInfo::TimeoutFailureInfo(info)) =
        &failure.failure_info
    else {
        panic!("a timeout failure: {failure:?}")
    };
    assert_eq!(info.timeout_type, TimeoutType::Heartbeat as i32);
    assert_eq!(info.last_heartbeat_details, Some(payloads("\"progress\"")));
}

#[test]
fn a_token_of_an_earlier_attempt_is_refused() {
    let mut run = with_activity(start_to_close(30, None));
    run.start_activity(5);
    let old = run.activity_token(5);
    run.fail_activity(5, app_failure("flaky", false));
    let err = run.step(|m| crate::activity::find(m, &old).map(|_| ())).err().unwrap();
    assert!(matches!(err, ServiceError::NotFound(_)), "{err:?}");
    // And the current attempt, not started yet, cannot be completed either.
    let err = run.finish_activity(5, Outcome::Completed(None)).err().unwrap();
    assert!(matches!(err, ServiceError::NotFound(_)), "{err:?}");
}
