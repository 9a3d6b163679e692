//! Standalone activities: a run that writes no events and closes with the activity's outcome.

use super::*;
use crate::activity::Outcome;
use crate::standalone::{SCHEDULED_ID, build, request_cancel, terminate};
use sundial_api::temporal::activity::v1::activity_execution_outcome::Value;
use sundial_api::temporal::common::v1::RetryPolicy;
use sundial_api::temporal::enums::v1::{RetryState, TimeoutType, WorkflowExecutionStatus as S};
use sundial_api::workflowservice::v1::StartActivityExecutionRequest;

fn request(a: StartActivityExecutionRequest) -> StartActivityExecutionRequest {
    StartActivityExecutionRequest {
        namespace: NAMESPACE.into(),
        activity_id: "a1".into(),
        activity_type: Some(ActivityType { name: "A".into() }),
        task_queue: Some(TaskQueue {
            name: TASK_QUEUE.into(),
            ..Default::default()
        }),
        request_id: "start-1".into(),
        ..a
    }
}

fn standalone(a: StartActivityExecutionRequest) -> Run {
    let dc = sundial_dynconfig::DynamicConfig::default();
    let key = sundial_common::standalone::activity_key("a1");
    let (ms, tasks) = build(NAMESPACE_ID, &key, RUN_ID, &request(a), T0, &dc);
    Run::from_parts(ms, Vec::new(), tasks, T0, dc)
}

fn start_to_close(s: i64) -> StartActivityExecutionRequest {
    StartActivityExecutionRequest {
        start_to_close_timeout: Some(secs(s)),
        ..Default::default()
    }
}

fn outcome(run: &Run) -> Value {
    let s = run.info().standalone_activity.clone().unwrap();
    s.outcome.unwrap().value.unwrap()
}

#[test]
fn a_start_dispatches_at_once_and_writes_no_events() {
    let run = standalone(StartActivityExecutionRequest {
        schedule_to_close_timeout: Some(secs(60)),
        ..start_to_close(10)
    });
    assert!(run.history.is_empty());
    assert_eq!(run.last.transfer_types(), vec![TransferTaskType::ActivityTask]);
    let (at, _) = run.timer(TimerTaskType::ActivityTimeout, Some(TimeoutType::ScheduleToClose));
    assert_eq!(at, T0 + 60 * SEC);
    assert!(run.last.has_visibility());
    assert_eq!(run.ms.activities[&SCHEDULED_ID].attempt, 1);
}

#[test]
fn a_start_delay_puts_off_the_first_dispatch() {
    let mut run = standalone(StartActivityExecutionRequest {
        start_delay: Some(secs(5)),
        ..start_to_close(10)
    });
    assert!(run.last.transfers().is_empty());
    let retry = run.timer(TimerTaskType::ActivityRetry, None);
    assert_eq!(retry.0, T0 + 5 * SEC);
    run.fire(&retry);
    assert_eq!(run.last.transfer_types(), vec![TransferTaskType::ActivityTask]);
}

#[test]
fn completion_closes_the_run_with_the_result() {
    let mut run = standalone(start_to_close(10));
    run.start_activity(SCHEDULED_ID);
    run.complete_activity(SCHEDULED_ID, "\"done\"");
    assert!(run.history.is_empty(), "no events, ever");
    assert_eq!(run.info().status, S::Completed as i32);
    assert_eq!(run.last.closed, Some(S::Completed as i32));
    assert!(matches!(outcome(&run), Value::Result(p) if p == payloads("\"done\"")));
    let s = run.info().standalone_activity.clone().unwrap();
    assert!(s.last_started_time.is_some());
    // The activity stays for Describe.
    assert!(run.ms.activities.contains_key(&SCHEDULED_ID));
}

#[test]
fn failures_retry_then_fail_the_run_with_the_retry_state() {
    let mut run = standalone(StartActivityExecutionRequest {
        retry_policy: Some(RetryPolicy {
            maximum_attempts: 2,
            ..Default::default()
        }),
        ..start_to_close(10)
    });
    run.start_activity(SCHEDULED_ID);
    run.fail_activity(SCHEDULED_ID, app_failure("boom", false));
    assert_eq!(run.info().status, S::Running as i32, "retried");
    let retry = run.timer(TimerTaskType::ActivityRetry, None);
    run.fire(&retry);
    run.start_activity(SCHEDULED_ID);
    run.fail_activity(SCHEDULED_ID, app_failure("boom again", false));
    assert_eq!(run.info().status, S::Failed as i32);
    let o = run.info().standalone_activity.clone().unwrap().outcome.unwrap();
    assert_eq!(o.retry_state, RetryState::MaximumAttemptsReached as i32);
    assert!(matches!(o.value, Some(Value::Failure(f)) if f.message == "boom again"));
}

#[test]
fn cancel_ends_a_waiting_activity_at_once_and_tells_a_running_one() {
    let mut waiting = standalone(start_to_close(10));
    waiting
        .step(|m| request_cancel(m, "c1", "not needed", "client"))
        .unwrap();
    assert_eq!(waiting.info().status, S::Canceled as i32);
    // The same request again changes nothing; another is refused on a closed activity.
    assert!(waiting.step(|m| request_cancel(m, "c1", "", "client")).is_ok());
    assert!(waiting.step(|m| request_cancel(m, "c2", "", "client")).is_err());

    let mut running = standalone(start_to_close(10));
    running.start_activity(SCHEDULED_ID);
    running.step(|m| request_cancel(m, "c1", "stop", "client")).unwrap();
    assert_eq!(running.info().status, S::Running as i32);
    assert!(running.heartbeat(SCHEDULED_ID));
    running.finish_activity(SCHEDULED_ID, Outcome::Canceled(None)).unwrap();
    assert_eq!(running.info().status, S::Canceled as i32);
    assert!(matches!(outcome(&running), Value::Failure(f) if f.message == "Activity canceled"));
}

#[test]
fn terminate_is_immediate_and_idempotent_per_request() {
    let mut run = standalone(start_to_close(10));
    run.start_activity(SCHEDULED_ID);
    run.step(|m| terminate(m, "t1", "enough", "operator")).unwrap();
    assert_eq!(run.info().status, S::Terminated as i32);
    assert!(matches!(outcome(&run), Value::Failure(f) if f.message == "enough"));
    assert!(run.step(|m| terminate(m, "t1", "enough", "operator")).is_ok());
    let again = run.step(|m| terminate(m, "t2", "again", "operator"));
    assert!(matches!(again, Err(ServiceError::FailedPrecondition(_))));
    // The worker's late completion finds nothing.
    assert!(run.finish_activity(SCHEDULED_ID, Outcome::Completed(None)).is_err());
}

#[test]
fn schedule_to_close_times_out_an_activity_nobody_ran() {
    let mut run = standalone(StartActivityExecutionRequest {
        schedule_to_close_timeout: Some(secs(3)),
        ..Default::default()
    });
    let deadline = run.timer(TimerTaskType::ActivityTimeout, Some(TimeoutType::ScheduleToClose));
    run.fire(&deadline);
    assert_eq!(run.info().status, S::TimedOut as i32);
    assert!(matches!(outcome(&run), Value::Failure(f) if f.message == "activity ScheduleToClose timeout"));
}
