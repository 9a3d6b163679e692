//! Pause, unpause, reset and option updates of pending activities.

use super::*;
use crate::activity_ops::{self, Select};
use std::time::Duration;
use sundial_api::temporal::activity::v1::ActivityOptions;
use sundial_api::temporal::command::v1::ScheduleActivityTaskCommandAttributes;
use sundial_api::temporal::common::v1::RetryPolicy;
use sundial_api::temporal::enums::v1::{EventType as E, TimeoutType};
use sundial_api::temporal::taskqueue::v1::TaskQueue;
use sundial_common::time::nanos_to_timestamp;

/// A run with activity "a1" of type "A" (event 5), 30 s start-to-close, 100 s
/// schedule-to-close, no workflow task pending.
fn with_activity() -> Run {
    let mut run = Run::start();
    run.run_wt(vec![cmd::schedule_activity_with(
        ScheduleActivityTaskCommandAttributes {
            activity_id: "a1".into(),
            activity_type: Some(ActivityType { name: "A".into() }),
            start_to_close_timeout: Some(secs(30)),
            schedule_to_close_timeout: Some(secs(100)),
            ..Default::default()
        },
    )]);
    run
}

fn pause(run: &mut Run, request_id: &str) -> Result<(), ServiceError> {
    run.step(|m| {
        let ids = activity_ops::select(m, &Select::Id("a1".into()))?;
        activity_ops::pause(m, &ids, "operator", "maintenance", request_id)
    })
}

fn unpause(run: &mut Run, reset_attempts: bool) {
    run.step(|m| {
        let ids = activity_ops::select(m, &Select::All)?;
        activity_ops::unpause(m, &ids, reset_attempts, false, Duration::ZERO)
    })
    .expect("unpause");
}

fn try_start(run: &mut Run) -> Result<(), ServiceError> {
    run.step(|m| crate::activity::start_attempt(m, 5, "late-task", "w").map(|_| ()))
}

#[test]
fn pausing_a_waiting_activity_writes_nothing_and_disowns_its_dispatch() {
    let mut run = with_activity();
    let stamp = run.ms.activities[&5].stamp;
    pause(&mut run, "p1").expect("pause");
    assert!(
        run.last.events.is_empty() && run.last.tasks.is_empty(),
        "no event, no task"
    );
    let act = &run.ms.activities[&5];
    assert!(act.paused);
    assert_eq!(act.stamp, stamp + 1);
    let info = act.pause_info.clone().expect("pause info");
    assert_eq!(info.pause_time, Some(nanos_to_timestamp(run.now)));
    // A task matching still holds is stale: nothing starts while paused.
    let err = try_start(&mut run).expect_err("paused");
    assert!(matches!(err, ServiceError::NotFound(_)), "{err:?}");
    // The schedule-to-close deadline does not fire while paused.
    run.advance(200 * SEC);
    let s2c = (
        run.now,
        crate::activity::activity_timer(&run.ms.activities[&5], TimeoutType::ScheduleToClose),
    );
    run.fire(&s2c);
    assert!(run.ms.activities.contains_key(&5));
}

#[test]
fn the_same_pause_request_again_is_a_no_op_and_another_is_refused() {
    let mut run = with_activity();
    pause(&mut run, "p1").expect("pause");
    let stamp = run.ms.activities[&5].stamp;
    pause(&mut run, "p1").expect("same request again");
    assert_eq!(run.ms.activities[&5].stamp, stamp);
    let err = pause(&mut run, "p2").expect_err("already paused");
    assert!(
        matches!(&err, ServiceError::FailedPrecondition(m) if m == "activity is already paused"),
        "{err:?}"
    );
}

#[test]
fn a_running_attempt_of_a_paused_activity_is_told_and_its_failure_waits_for_unpause() {
    let mut run = with_activity();
    run.start_activity(5);
    pause(&mut run, "p1").expect("pause");
    let answer = run.heartbeat_answer(5);
    assert!(answer.paused && !answer.cancel_requested && !answer.reset);
    run.fail_activity(5, app_failure("flaky", false));
    assert!(run.last.events.is_empty());
    assert!(run.last.timers().is_empty(), "no retry while paused");
    let act = &run.ms.activities[&5];
    assert_eq!((act.attempt, act.started_time, act.paused), (2, None, true));

    unpause(&mut run, false);
    let act = run.ms.activities[&5].clone();
    assert!(!act.paused && act.pause_info.is_none());
    let (at, retry) = run.last.timer(TimerTaskType::ActivityRetry);
    assert_eq!(
        (at, retry.stamp, retry.attempt),
        (run.now, act.stamp, 2),
        "dispatched at once"
    );
    let (s2c_at, _) = run.last.timer(TimerTaskType::ActivityTimeout);
    assert_eq!(
        Some(nanos_to_timestamp(s2c_at)),
        act.expiration_time,
        "deadline re-armed"
    );
    run.fire(&(at, retry));
    assert_eq!(run.last.transfer_types(), [TransferTaskType::ActivityTask]);
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
}

#[test]
fn a_paused_running_attempt_may_still_complete() {
    let mut run = with_activity();
    run.start_activity(5);
    pause(&mut run, "p1").expect("pause");
    run.complete_activity(5, "\"done anyway\"");
    assert!(!run.ms.activities.contains_key(&5));
}

#[test]
fn reset_sends_a_backing_off_activity_again_at_once_from_attempt_one() {
    let mut run = with_activity();
    run.start_activity(5);
    run.fail_activity(5, app_failure("flaky", false));
    let (backoff_at, old) = run.last.timer(TimerTaskType::ActivityRetry);
    assert!(backoff_at > run.now);
    run.step(|m| {
        let ids = activity_ops::select(m, &Select::Type("A".into()))?;
        activity_ops::reset(m, &ids, false, false, Duration::ZERO)
    })
    .expect("reset");
    let act = run.ms.activities[&5].clone();
    assert_eq!(act.attempt, 1);
    let (at, retry) = run.last.timer(TimerTaskType::ActivityRetry);
    assert_eq!((at, retry.attempt), (run.now, 1));
    // The old backoff timer belongs to the old stamp.
    run.fire(&(backoff_at, old));
    assert!(run.last.transfers().is_empty());
}

#[test]
fn reset_of_a_running_attempt_counts_it_as_the_first_when_it_ends() {
    let mut run = with_activity();
    run.start_activity(5);
    run.fail_activity(5, app_failure("one", false));
    let retry = run.last.timer(TimerTaskType::ActivityRetry);
    run.fire(&retry);
    run.start_activity(5);
    assert_eq!(run.ms.activities[&5].attempt, 2);
    run.step(|m| activity_ops::reset(m, &[5], true, false, Duration::ZERO))
        .expect("reset");
    assert!(run.heartbeat_answer(5).reset, "the worker is told");
    // Its token (attempt 2) still works; the next attempt is the second counted from the reset.
    run.fail_activity(5, app_failure("two", false));
    let act = &run.ms.activities[&5];
    assert_eq!(
        (act.attempt, act.reset_requested, act.heartbeat_details.clone()),
        (2, false, None)
    );
}

#[test]
fn unpausing_with_reset_attempts_starts_counting_again() {
    let mut run = with_activity();
    run.start_activity(5);
    run.fail_activity(5, app_failure("one", false));
    pause(&mut run, "p1").expect("pause");
    assert_eq!(run.ms.activities[&5].attempt, 2);
    unpause(&mut run, true);
    assert_eq!(run.ms.activities[&5].attempt, 1);
}

#[test]
fn selection_by_id_type_or_all_and_its_errors() {
    let mut run = with_activity();
    for which in [Select::Id("a1".into()), Select::Type("A".into()), Select::All] {
        let ids = run.step(|m| activity_ops::select(m, &which)).expect("select");
        assert_eq!(ids, [5]);
    }
    let err = run
        .step(|m| activity_ops::select(m, &Select::Id("nope".into())))
        .expect_err("unknown");
    assert!(
        matches!(&err, ServiceError::NotFound(m) if m.starts_with("Can't find pending activity")),
        "{err:?}"
    );
}

#[test]
fn options_update_by_mask_and_reschedule_a_waiting_attempt() {
    let mut run = with_activity();
    let update = ActivityOptions {
        task_queue: Some(TaskQueue {
            name: "other-q".into(),
            ..Default::default()
        }),
        start_to_close_timeout: Some(secs(7)),
        retry_policy: Some(RetryPolicy {
            maximum_attempts: 9,
            ..Default::default()
        }),
        heartbeat_timeout: Some(secs(99)),
        ..Default::default()
    };
    let paths = [
        "taskQueue.name",
        "start_to_close_timeout",
        "retry_policy.maximum_attempts",
    ]
    .map(String::from);
    let got = run
        .step(|m| activity_ops::update_options(m, &[5], &update, &paths))
        .expect("update");
    let act = run.ms.activities[&5].clone();
    assert_eq!(act.task_queue, "other-q");
    assert_eq!(act.start_to_close_timeout, Some(secs(7)));
    assert_eq!(act.heartbeat_timeout, None, "not in the mask");
    assert_eq!(act.retry_policy.as_ref().map(|p| p.maximum_attempts), Some(9));
    assert_eq!(got.task_queue.map(|q| q.name).as_deref(), Some("other-q"));
    // The waiting attempt goes out again, to the new queue.
    let retry = run.last.timer(TimerTaskType::ActivityRetry);
    run.fire(&retry);
    assert_eq!(run.last.transfers()[0].task_queue, "other-q");

    let bad = ActivityOptions {
        retry_policy: Some(RetryPolicy {
            backoff_coefficient: 0.5,
            ..Default::default()
        }),
        ..Default::default()
    };
    let err = run
        .step(|m| activity_ops::update_options(m, &[5], &bad, &["retry_policy.backoff_coefficient".into()]))
        .expect_err("bad policy");
    assert!(matches!(err, ServiceError::InvalidArgument(_)), "{err:?}");
}

#[test]
fn a_new_schedule_to_close_moves_the_deadline() {
    let mut run = with_activity();
    let (old_at, old) = run.last.timer(TimerTaskType::ActivityTimeout);
    let update = ActivityOptions {
        schedule_to_close_timeout: Some(secs(200)),
        ..Default::default()
    };
    run.step(|m| activity_ops::update_options(m, &[5], &update, &["schedule_to_close_timeout".into()]))
        .expect("update");
    let new: Vec<(i64, TimerTask)> = run
        .last
        .timers()
        .into_iter()
        .filter(|(_, t)| t.timeout_type == TimeoutType::ScheduleToClose as i32)
        .map(|(at, t)| (at, t.clone()))
        .collect();
    assert_eq!(new.len(), 1, "one new deadline");
    assert!(new[0].0 > old_at);
    // The old deadline passes and nothing times out; the new one does.
    run.fire(&(old_at, old));
    assert!(run.ms.activities.contains_key(&5));
    run.fire(&new[0]);
    assert!(!run.ms.activities.contains_key(&5));
}
