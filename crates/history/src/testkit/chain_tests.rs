//! Runs that end with a successor: continue-as-new, workflow retries, cron.

use super::*;
use sundial_api::temporal::command::v1::ContinueAsNewWorkflowExecutionCommandAttributes;
use sundial_api::temporal::common::v1::{RetryPolicy, WorkflowType};
use sundial_api::temporal::enums::v1::{ContinueAsNewInitiator, EventType as E, RetryState, WorkflowExecutionStatus};

#[test]
fn continue_as_new_closes_the_run_and_starts_its_successor_in_the_same_transition() {
    let mut run = Run::start_with(RunSpec {
        run_timeout: Some(secs(600)),
        ..spec()
    });
    run.run_wt(vec![cmd::continue_as_new(
        ContinueAsNewWorkflowExecutionCommandAttributes {
            workflow_type: Some(WorkflowType { name: "Next".into() }),
            input: Some(payloads("\"next-in\"")),
            ..Default::default()
        },
    )]);
    assert_eq!(
        run.last.types(),
        [E::WorkflowTaskCompleted, E::WorkflowExecutionContinuedAsNew]
    );
    let c = attrs!(run.last.events[1], WorkflowExecutionContinuedAsNewEventAttributes);
    let new_run_id = run.last.new_run.as_ref().unwrap().run_id.clone();
    assert_eq!(c.new_execution_run_id, new_run_id);
    assert_eq!(c.workflow_type.as_ref().unwrap().name, "Next");
    assert_eq!(c.task_queue.as_ref().unwrap().name, TASK_QUEUE);
    assert_eq!(c.workflow_run_timeout, Some(secs(600)));
    assert_eq!(c.workflow_task_completed_event_id, 4);
    assert_eq!(c.initiator, ContinueAsNewInitiator::Workflow as i32);
    assert_eq!(run.last.closed, Some(WorkflowExecutionStatus::ContinuedAsNew as i32));
    assert_eq!(run.info().status, WorkflowExecutionStatus::ContinuedAsNew as i32);

    let next = run.successor();
    assert_eq!(
        next.last.types(),
        [E::WorkflowExecutionStarted, E::WorkflowTaskScheduled]
    );
    let s = attrs!(next.last.events[0], WorkflowExecutionStartedEventAttributes);
    assert_eq!(s.continued_execution_run_id, RUN_ID);
    assert_eq!(s.first_execution_run_id, RUN_ID, "the chain keeps its first run");
    assert_eq!(s.original_execution_run_id, new_run_id);
    assert_eq!(s.initiator, ContinueAsNewInitiator::Workflow as i32);
    assert_eq!(s.workflow_type.as_ref().unwrap().name, "Next");
    assert_eq!(s.input, Some(payloads("\"next-in\"")));
    assert_eq!(s.attempt, 1);
    let info = next.info();
    assert_eq!(
        (info.run_id.as_str(), info.workflow_id.as_str()),
        (new_run_id.as_str(), WORKFLOW_ID)
    );
    assert_eq!(next.last.transfer_types(), [TransferTaskType::WorkflowTask]);
    assert_eq!(next.last.transfers()[0].run_id, new_run_id);
    assert_eq!(
        next.last.timer(TimerTaskType::WorkflowRunTimeout).0,
        run.now + 600 * SEC
    );
}

#[test]
fn continue_as_new_with_a_backoff_delays_the_successors_first_task() {
    let mut run = Run::start();
    run.run_wt(vec![cmd::continue_as_new(
        ContinueAsNewWorkflowExecutionCommandAttributes {
            backoff_start_interval: Some(secs(30)),
            ..Default::default()
        },
    )]);
    let c = attrs!(run.last.events[1], WorkflowExecutionContinuedAsNewEventAttributes);
    assert_eq!(c.backoff_start_interval, Some(secs(30)));
    let next = run.successor();
    assert_eq!(next.last.types(), [E::WorkflowExecutionStarted]);
    assert_eq!(next.last.timer(TimerTaskType::WorkflowBackoff).0, run.now + 30 * SEC);
    assert!(next.ms.workflow_task.is_none());
}

fn retrying(max_attempts: i32) -> RunSpec {
    RunSpec {
        retry_policy: Some(RetryPolicy {
            initial_interval: Some(secs(2)),
            maximum_attempts: max_attempts,
            ..Default::default()
        }),
        ..spec()
    }
}

#[test]
fn a_failure_under_a_retry_policy_starts_the_next_attempt_after_its_backoff() {
    let mut run = Run::start_with(retrying(3));
    run.run_wt(vec![cmd::fail("boom")]);
    assert_eq!(run.last.types(), [E::WorkflowTaskCompleted, E::WorkflowExecutionFailed]);
    let f = attrs!(run.last.events[1], WorkflowExecutionFailedEventAttributes);
    assert_eq!(f.retry_state, RetryState::InProgress as i32);
    let new_run_id = run.last.new_run.as_ref().unwrap().run_id.clone();
    assert_eq!(f.new_execution_run_id, new_run_id);
    assert_eq!(run.info().status, WorkflowExecutionStatus::Failed as i32);

    let next = run.successor();
    assert_eq!(next.last.types(), [E::WorkflowExecutionStarted]);
    let s = attrs!(next.last.events[0], WorkflowExecutionStartedEventAttributes);
    assert_eq!(s.attempt, 2);
    assert_eq!(s.initiator, ContinueAsNewInitiator::Retry as i32);
    assert_eq!(s.first_workflow_task_backoff, Some(secs(2)));
    assert_eq!(s.continued_failure.as_ref().unwrap().message, "boom");
    assert_eq!(s.continued_execution_run_id, RUN_ID);
    assert_eq!(next.last.timer(TimerTaskType::WorkflowBackoff).0, run.now + 2 * SEC);
}

#[test]
fn the_last_attempt_of_a_retry_policy_fails_for_good() {
    let mut run = Run::start_with(RunSpec {
        attempt: 3,
        ..retrying(3)
    });
    run.run_wt(vec![cmd::fail("boom")]);
    let f = attrs!(run.last.events[1], WorkflowExecutionFailedEventAttributes);
    assert_eq!(f.retry_state, RetryState::MaximumAttemptsReached as i32);
    assert_eq!(f.new_execution_run_id, "");
    assert!(run.last.new_run.is_none());
}

#[test]
fn a_non_retryable_failure_is_not_retried() {
    let mut run = Run::start_with(retrying(0));
    run.start_wt();
    let mut fail = cmd::fail("fatal");
    if let Some(sundial_api::temporal::command::v1::command::Attributes::FailWorkflowExecutionCommandAttributes(a)) =
        fail.attributes.as_mut()
    {
        a.failure = Some(app_failure("fatal", true));
    }
    run.complete_wt(vec![fail]);
    let f = attrs!(run.last.events[1], WorkflowExecutionFailedEventAttributes);
    assert_eq!(f.retry_state, RetryState::NonRetryableFailure as i32);
    assert!(run.last.new_run.is_none());
}

#[test]
fn a_cron_run_that_completes_starts_the_next_one_at_the_next_scheduled_time() {
    // T0 is 2023-11-14 22:13:20 UTC; "0 * * * *" next fires at 23:00:00.
    let next_hour = T0 + (46 * 60 + 40) * SEC;
    let mut run = Run::start_with(RunSpec {
        cron_schedule: "0 * * * *".into(),
        ..spec()
    });
    assert_eq!(crate::chain::cron_backoff("0 * * * *", T0), Some(secs(46 * 60 + 40)));
    run.run_wt(vec![cmd::complete("\"r1\"")]);
    let c = attrs!(run.last.events[1], WorkflowExecutionCompletedEventAttributes);
    let new_run_id = run.last.new_run.as_ref().unwrap().run_id.clone();
    assert_eq!(c.new_execution_run_id, new_run_id);
    assert_eq!(run.info().status, WorkflowExecutionStatus::Completed as i32);

    let next = run.successor();
    assert_eq!(next.last.types(), [E::WorkflowExecutionStarted]);
    let s = attrs!(next.last.events[0], WorkflowExecutionStartedEventAttributes);
    assert_eq!(s.initiator, ContinueAsNewInitiator::CronSchedule as i32);
    assert_eq!(s.cron_schedule, "0 * * * *");
    assert_eq!(s.last_completion_result, Some(payloads("\"r1\"")));
    assert_eq!(next.last.timer(TimerTaskType::WorkflowBackoff).0, next_hour);
}

#[test]
fn a_failed_cron_run_without_retries_still_starts_the_next_one() {
    let mut run = Run::start_with(RunSpec {
        cron_schedule: "@every 1h".into(),
        ..spec()
    });
    run.run_wt(vec![cmd::fail("boom")]);
    let f = attrs!(run.last.events[1], WorkflowExecutionFailedEventAttributes);
    assert_eq!(f.retry_state, RetryState::RetryPolicyNotSet as i32);
    assert!(!f.new_execution_run_id.is_empty());
    let next = run.successor();
    let s = attrs!(next.last.events[0], WorkflowExecutionStartedEventAttributes);
    assert_eq!(s.continued_failure.as_ref().unwrap().message, "boom");
    assert_eq!(s.initiator, ContinueAsNewInitiator::CronSchedule as i32);
}

fn child_spec() -> RunSpec {
    RunSpec {
        parent: Some(crate::start::ParentInfo {
            namespace_id: NAMESPACE_ID.into(),
            namespace: NAMESPACE.into(),
            workflow_id: "parent-wf".into(),
            run_id: "parent-run".into(),
            initiated_event_id: 5,
            root_workflow_id: "parent-wf".into(),
            root_run_id: "parent-run".into(),
        }),
        ..spec()
    }
}

#[test]
fn a_child_that_closes_reports_to_its_parent() {
    let mut run = Run::start_with(child_spec());
    run.run_wt(vec![cmd::complete("\"child-done\"")]);
    assert_eq!(run.last.transfer_types(), [TransferTaskType::RecordChildCompletion]);
    let t = run.last.transfers()[0];
    assert_eq!(
        (
            t.target_workflow_id.as_str(),
            t.target_run_id.as_str(),
            t.target_initiated_event_id
        ),
        ("parent-wf", "parent-run", 5)
    );
}

#[test]
fn a_child_that_continues_as_new_leaves_the_report_to_its_last_run() {
    let mut run = Run::start_with(child_spec());
    run.run_wt(vec![cmd::continue_as_new(
        ContinueAsNewWorkflowExecutionCommandAttributes::default(),
    )]);
    assert!(run.last.transfers().is_empty(), "{:?}", run.last.transfer_types());
    let next = run.successor();
    assert_eq!(next.info().parent_workflow_id, "parent-wf");
    assert_eq!(next.info().parent_initiated_event_id, 5);
}

#[test]
fn a_parent_that_closes_applies_its_childrens_close_policies() {
    use sundial_api::temporal::command::v1::command::Attributes as Cmd;
    use sundial_api::temporal::enums::v1::ParentClosePolicy;
    let mut run = Run::start();
    let mut terminate = cmd::start_child("c-terminate");
    let mut abandon = cmd::start_child("c-abandon");
    for (c, policy) in [
        (&mut terminate, ParentClosePolicy::Terminate),
        (&mut abandon, ParentClosePolicy::Abandon),
    ] {
        if let Some(Cmd::StartChildWorkflowExecutionCommandAttributes(a)) = c.attributes.as_mut() {
            a.parent_close_policy = policy as i32;
        }
    }
    run.run_wt(vec![terminate, abandon]);
    assert_eq!(run.ms.children.len(), 2);
    run.terminate("enough");
    assert_eq!(run.last.transfer_types(), [TransferTaskType::ParentClosePolicy]);
    let t = run.last.transfers()[0];
    assert_eq!(
        (t.target_workflow_id.as_str(), t.target_initiated_event_id),
        ("c-terminate", 5)
    );
    assert_eq!(t.parent_close_policy, ParentClosePolicy::Terminate as i32);
}
