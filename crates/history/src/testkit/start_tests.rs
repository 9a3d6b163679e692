//! Starting a run: its first events, its first workflow task and its timers.

use super::*;
use sundial_api::temporal::enums::v1::{EventType as E, TaskQueueKind, WorkflowExecutionStatus};

#[test]
fn start_writes_started_then_scheduled_and_sends_the_first_task_to_matching() {
    let run = Run::start();
    assert_eq!(
        run.last.types(),
        [E::WorkflowExecutionStarted, E::WorkflowTaskScheduled]
    );
    let started = attrs!(run.last.events[0], WorkflowExecutionStartedEventAttributes);
    assert_eq!(started.workflow_type.as_ref().unwrap().name, "MyWorkflow");
    assert_eq!(started.task_queue.as_ref().unwrap().name, TASK_QUEUE);
    assert_eq!(started.input, Some(payloads("\"in\"")));
    assert_eq!(started.workflow_task_timeout, Some(secs(10)));
    assert_eq!(started.workflow_run_timeout, None);
    assert_eq!(started.attempt, 1);
    assert_eq!(started.original_execution_run_id, RUN_ID);
    assert_eq!(started.first_execution_run_id, RUN_ID);
    assert_eq!(started.identity, "client");
    assert_eq!(started.first_workflow_task_backoff, None);
    let root = started.root_workflow_execution.as_ref().unwrap();
    assert_eq!((root.workflow_id.as_str(), root.run_id.as_str()), (WORKFLOW_ID, RUN_ID));

    let scheduled = attrs!(run.last.events[1], WorkflowTaskScheduledEventAttributes);
    assert_eq!(scheduled.attempt, 1);
    assert_eq!(scheduled.start_to_close_timeout, Some(secs(10)));
    let q = scheduled.task_queue.as_ref().unwrap();
    assert_eq!((q.name.as_str(), q.kind), (TASK_QUEUE, TaskQueueKind::Normal as i32));
    assert!(
        run.last
            .events
            .iter()
            .all(|e| e.event_time == Some(sundial_common::time::nanos_to_timestamp(T0)))
    );

    // One workflow task to matching, a visibility row, no timers (no timeouts asked for).
    assert_eq!(run.last.transfer_types(), [TransferTaskType::WorkflowTask]);
    let t = run.last.transfers()[0];
    assert_eq!(t.scheduled_event_id, 2);
    assert_eq!(t.task_queue, TASK_QUEUE);
    assert_eq!(t.task_queue_kind, TaskQueueKind::Normal as i32);
    assert_eq!(t.stamp, 1);
    assert_eq!(
        (t.namespace_id.as_str(), t.workflow_id.as_str(), t.run_id.as_str()),
        (NAMESPACE_ID, WORKFLOW_ID, RUN_ID)
    );
    assert!(run.last.has_visibility());
    assert!(run.last.timers().is_empty());

    let info = run.info();
    assert_eq!(info.status, WorkflowExecutionStatus::Running as i32);
    assert_eq!(info.next_event_id, 3);
    assert_eq!(run.wt().scheduled_event_id, 2);
    assert_eq!(run.wt().started_event_id, 0);
    assert!(!run.wt().transient);
}

#[test]
fn run_timeout_arms_a_run_timeout_timer() {
    let run = Run::start_with(RunSpec {
        run_timeout: Some(secs(60)),
        ..spec()
    });
    let (at, _) = run.last.timer(TimerTaskType::WorkflowRunTimeout);
    assert_eq!(at, T0 + 60 * SEC);
    assert_eq!(run.last.timer_types(), [TimerTaskType::WorkflowRunTimeout]);
    let started = attrs!(run.last.events[0], WorkflowExecutionStartedEventAttributes);
    assert_eq!(started.workflow_run_timeout, Some(secs(60)));
    assert_eq!(
        run.info().run_expiration_time,
        Some(sundial_common::time::nanos_to_timestamp(T0 + 60 * SEC))
    );
}

#[test]
fn execution_timeout_alone_bounds_the_run_and_only_its_timer_fires() {
    // As `create_run` computes it: the chain's deadline is start + execution timeout.
    let run = Run::start_with(RunSpec {
        execution_timeout: Some(secs(300)),
        execution_expiration: Some(T0 + 300 * SEC),
        ..spec()
    });
    let started = attrs!(run.last.events[0], WorkflowExecutionStartedEventAttributes);
    assert_eq!(started.workflow_execution_timeout, Some(secs(300)));
    // The run timeout defaults to the execution timeout ...
    assert_eq!(started.workflow_run_timeout, Some(secs(300)));
    // ... but the run would not outlive the chain, so only the execution timer is armed.
    assert_eq!(run.last.timer_types(), [TimerTaskType::WorkflowExecutionTimeout]);
    assert_eq!(
        run.last.timer(TimerTaskType::WorkflowExecutionTimeout).0,
        T0 + 300 * SEC
    );
}

#[test]
fn workflow_task_timeout_is_capped_at_two_minutes_and_at_the_run_timeout() {
    let run = Run::start_with(RunSpec {
        task_timeout: Some(secs(600)),
        ..spec()
    });
    assert_eq!(run.info().task_timeout, Some(secs(120)));
    let run = Run::start_with(RunSpec {
        task_timeout: Some(secs(30)),
        run_timeout: Some(secs(5)),
        ..spec()
    });
    assert_eq!(run.info().task_timeout, Some(secs(5)));
    let scheduled = attrs!(run.last.events[1], WorkflowTaskScheduledEventAttributes);
    assert_eq!(scheduled.start_to_close_timeout, Some(secs(5)));
}

#[test]
fn start_delay_waits_with_a_backoff_timer_and_no_workflow_task() {
    let mut run = Run::start_with(RunSpec {
        backoff: Some(secs(30)),
        ..spec()
    });
    assert_eq!(run.last.types(), [E::WorkflowExecutionStarted]);
    let started = attrs!(run.last.events[0], WorkflowExecutionStartedEventAttributes);
    assert_eq!(started.first_workflow_task_backoff, Some(secs(30)));
    assert!(run.last.transfers().is_empty());
    let backoff = run.last.timer(TimerTaskType::WorkflowBackoff);
    assert_eq!(backoff.0, T0 + 30 * SEC);
    assert!(run.ms.workflow_task.is_none());
    assert_eq!(
        run.info().execution_time,
        Some(sundial_common::time::nanos_to_timestamp(T0 + 30 * SEC))
    );

    run.fire(&backoff);
    assert_eq!(run.last.types(), [E::WorkflowTaskScheduled]);
    assert_eq!(run.last.events[0].event_id, 2);
    assert_eq!(run.last.transfer_types(), [TransferTaskType::WorkflowTask]);
    assert_eq!(run.last.transfers()[0].scheduled_event_id, 2);
}

#[test]
fn signal_with_start_writes_the_signal_before_the_first_workflow_task() {
    let run = Run::signal_with_start(spec(), "go");
    assert_eq!(
        run.last.types(),
        [
            E::WorkflowExecutionStarted,
            E::WorkflowExecutionSignaled,
            E::WorkflowTaskScheduled
        ]
    );
    let signaled = attrs!(run.last.events[1], WorkflowExecutionSignaledEventAttributes);
    assert_eq!(signaled.signal_name, "go");
    assert_eq!(signaled.input, Some(payloads("\"sig\"")));
    assert_eq!(run.last.transfers()[0].scheduled_event_id, 3);
}

#[test]
fn a_child_run_records_its_parent_and_root() {
    let run = Run::start_with(RunSpec {
        parent: Some(crate::start::ParentInfo {
            namespace_id: NAMESPACE_ID.into(),
            namespace: NAMESPACE.into(),
            workflow_id: "parent-wf".into(),
            run_id: "parent-run".into(),
            initiated_event_id: 5,
            root_workflow_id: "root-wf".into(),
            root_run_id: "root-run".into(),
        }),
        ..spec()
    });
    let started = attrs!(run.last.events[0], WorkflowExecutionStartedEventAttributes);
    let parent = started.parent_workflow_execution.as_ref().unwrap();
    assert_eq!(
        (parent.workflow_id.as_str(), parent.run_id.as_str()),
        ("parent-wf", "parent-run")
    );
    assert_eq!(started.parent_initiated_event_id, 5);
    let root = started.root_workflow_execution.as_ref().unwrap();
    assert_eq!(
        (root.workflow_id.as_str(), root.run_id.as_str()),
        ("root-wf", "root-run")
    );
    assert_eq!(run.info().parent_workflow_id, "parent-wf");
}
