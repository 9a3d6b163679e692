//! How a run ends when another follows it: continue-as-new, retry under the workflow's retry
//! policy, and cron. The successor is built here and written in the same transaction that
//! closes the run (`Mutation::new_run`).

use crate::mutation::{Mutation, PendingTask};
use crate::retry::{RetryDecision, decide};
use crate::start::{RunSpec, build_run};
use prost_wkt_types::Duration as PbDuration;
use sundial_api::sundial::persistence::v1::WorkflowMutableState;
use sundial_api::temporal::command::v1::ContinueAsNewWorkflowExecutionCommandAttributes;
use sundial_api::temporal::common::v1::{Payloads, WorkflowType};
use sundial_api::temporal::enums::v1::{ContinueAsNewInitiator, RetryState, TimeoutType, WorkflowExecutionStatus};
use sundial_api::temporal::failure::v1::{Failure, TimeoutFailureInfo, failure::FailureInfo};
use sundial_api::temporal::history::v1::history_event::Attributes;
use sundial_api::temporal::history::v1::*;
use sundial_api::temporal::taskqueue::v1::TaskQueue;
use sundial_common::cron::CronSchedule;
use sundial_common::time::{duration_to_pb, timestamp_to_nanos};

/// A run created by the transition that closes its predecessor.
pub(crate) struct NewRun {
    pub run_id: String,
    pub ms: WorkflowMutableState,
    pub events: Vec<HistoryEvent>,
    pub tasks: Vec<PendingTask>,
}

/// Time from `now` to the schedule's next time; `None` for an empty or invalid schedule.
pub(crate) fn cron_backoff(cron: &str, now: i64) -> Option<PbDuration> {
    if cron.is_empty() {
        return None;
    }
    let next = CronSchedule::parse(cron).ok()?.next_after(now)?;
    Some(duration_to_pb(sundial_common::time::until(next, now)))
}

/// The current run as the template of its successor.
fn successor(m: &Mutation<'_>, initiator: ContinueAsNewInitiator) -> RunSpec {
    let info = m.info_ref();
    RunSpec {
        namespace_id: info.namespace_id.clone(),
        namespace: info.namespace.clone(),
        workflow_id: info.workflow_id.clone(),
        run_id: uuid::Uuid::now_v7().to_string(),
        request_id: uuid::Uuid::new_v4().to_string(),
        workflow_type: info.workflow_type.clone(),
        task_queue: info.task_queue.clone(),
        input: info.input.clone(),
        execution_timeout: info.execution_timeout,
        run_timeout: info.requested_run_timeout,
        task_timeout: info.task_timeout,
        identity: String::new(),
        retry_policy: info.retry_policy.clone(),
        cron_schedule: info.cron_schedule.clone(),
        memo: info.memo.clone(),
        search_attributes: info.search_attributes.clone(),
        header: info.header.clone(),
        priority: None,
        user_metadata: None,
        backoff: None,
        first_execution_run_id: info.first_execution_run_id.clone(),
        continued_execution_run_id: info.run_id.clone(),
        initiator,
        attempt: 1,
        continued_failure: None,
        last_completion_result: info.last_completion_result.clone(),
        execution_expiration: info.execution_expiration_time.as_ref().map(timestamp_to_nanos),
        // A child's later runs still report to the parent.
        parent: (!info.parent_workflow_id.is_empty()).then(|| crate::start::ParentInfo {
            namespace_id: info.parent_namespace_id.clone(),
            namespace: info.parent_namespace.clone(),
            workflow_id: info.parent_workflow_id.clone(),
            run_id: info.parent_run_id.clone(),
            initiated_event_id: info.parent_initiated_event_id,
            root_workflow_id: info.root_workflow_id.clone(),
            root_run_id: info.root_run_id.clone(),
        }),
        // Callbacks pass to the next run with the mutable state (see `nexus::callbacks`).
        completion_callbacks: Vec::new(),
        links: Vec::new(),
    }
}

fn start(m: &mut Mutation<'_>, spec: RunSpec) -> String {
    let (ms, events, tasks) = build_run(&spec, None, m.now_nanos, &m.dc);
    m.new_run = Some(NewRun {
        run_id: spec.run_id.clone(),
        ms,
        events,
        tasks,
    });
    spec.run_id
}

/// Time left before the chain's execution deadline, if it has one.
fn time_left(m: &Mutation<'_>) -> Option<std::time::Duration> {
    m.info_ref()
        .execution_expiration_time
        .as_ref()
        .map(|e| sundial_common::time::until(timestamp_to_nanos(e), m.now_nanos))
}

/// Starts the next cron run if the run has a schedule; returns its run id.
fn next_cron(m: &mut Mutation<'_>, failure: Option<Failure>, result: Option<Payloads>) -> Option<String> {
    let backoff = cron_backoff(&m.info_ref().cron_schedule, m.now_nanos)?;
    let mut spec = successor(m, ContinueAsNewInitiator::CronSchedule);
    spec.backoff = Some(backoff);
    spec.continued_failure = failure;
    if result.is_some() {
        spec.last_completion_result = result;
    }
    Some(start(m, spec))
}

pub(crate) fn complete(m: &mut Mutation<'_>, result: Option<Payloads>, completed_id: i64) {
    let new_run = next_cron(m, None, result.clone()).unwrap_or_default();
    m.close(
        WorkflowExecutionStatus::Completed,
        Attributes::WorkflowExecutionCompletedEventAttributes(WorkflowExecutionCompletedEventAttributes {
            result,
            workflow_task_completed_event_id: completed_id,
            new_execution_run_id: new_run,
        }),
    );
}

/// Retries under the workflow's policy, else the next cron run, else nothing. Returns the
/// retry state for the close event and the successor's run id (empty when none).
fn retry_or_cron(m: &mut Mutation<'_>, failure: &Failure) -> (RetryState, String) {
    let Some(policy) = m.info_ref().retry_policy.clone() else {
        let cron = next_cron(m, Some(failure.clone()), None).unwrap_or_default();
        return (RetryState::RetryPolicyNotSet, cron);
    };
    let attempt = m.info_ref().attempt;
    match decide(&crate::retry::fill_retry_policy(policy), attempt, failure, time_left(m)) {
        RetryDecision::Retry(backoff) => {
            let mut spec = successor(m, ContinueAsNewInitiator::Retry);
            spec.attempt = attempt + 1;
            spec.backoff = Some(duration_to_pb(backoff));
            spec.continued_failure = Some(failure.clone());
            (RetryState::InProgress, start(m, spec))
        }
        RetryDecision::Stop(state) => {
            let cron = next_cron(m, Some(failure.clone()), None).unwrap_or_default();
            (state, cron)
        }
    }
}

pub(crate) fn fail(m: &mut Mutation<'_>, failure: Option<Failure>, completed_id: i64) {
    let f = failure.clone().unwrap_or_default();
    let (retry_state, new_run) = retry_or_cron(m, &f);
    m.close(
        WorkflowExecutionStatus::Failed,
        Attributes::WorkflowExecutionFailedEventAttributes(WorkflowExecutionFailedEventAttributes {
            failure,
            retry_state: retry_state as i32,
            workflow_task_completed_event_id: completed_id,
            new_execution_run_id: new_run,
        }),
    );
}

/// The run timeout fired: like Temporal, a retry policy may start another attempt.
pub(crate) fn run_timed_out(m: &mut Mutation<'_>) {
    let failure = Failure {
        message: "workflow run timed out".into(),
        source: "Server".into(),
        failure_info: Some(FailureInfo::TimeoutFailureInfo(TimeoutFailureInfo {
            timeout_type: TimeoutType::StartToClose as i32,
            last_heartbeat_details: None,
        })),
        ..Default::default()
    };
    let (retry_state, new_run) = retry_or_cron(m, &failure);
    let retry_state = if retry_state == RetryState::RetryPolicyNotSet || retry_state == RetryState::InProgress {
        retry_state
    } else {
        RetryState::Timeout
    };
    m.close(
        WorkflowExecutionStatus::TimedOut,
        Attributes::WorkflowExecutionTimedOutEventAttributes(WorkflowExecutionTimedOutEventAttributes {
            retry_state: retry_state as i32,
            new_execution_run_id: new_run,
        }),
    );
}

pub(crate) fn continue_as_new(
    m: &mut Mutation<'_>,
    a: &ContinueAsNewWorkflowExecutionCommandAttributes,
    completed_id: i64,
) {
    let mut spec = successor(m, ContinueAsNewInitiator::Workflow);
    if let Some(t) = a.workflow_type.as_ref().filter(|t| !t.name.is_empty()) {
        spec.workflow_type = t.name.clone();
    }
    if let Some(q) = a.task_queue.as_ref().filter(|q| !q.name.is_empty()) {
        spec.task_queue = q.name.clone();
    }
    spec.input = a.input.clone();
    if a.workflow_run_timeout.is_some() {
        spec.run_timeout = a.workflow_run_timeout;
    }
    if a.workflow_task_timeout.is_some() {
        spec.task_timeout = a.workflow_task_timeout;
    }
    spec.backoff = a.backoff_start_interval.filter(|d| d.seconds > 0 || d.nanos > 0);
    if a.retry_policy.is_some() {
        spec.retry_policy = a.retry_policy.clone();
    }
    if !a.cron_schedule.is_empty() {
        spec.cron_schedule = a.cron_schedule.clone();
    }
    if a.header.is_some() {
        spec.header = a.header.clone();
    }
    if a.memo.is_some() {
        spec.memo = a.memo.clone();
    }
    if a.search_attributes.is_some() {
        spec.search_attributes = a.search_attributes.clone();
    }
    spec.continued_failure = a.failure.clone();
    spec.last_completion_result = a.last_completion_result.clone();
    let attrs = WorkflowExecutionContinuedAsNewEventAttributes {
        new_execution_run_id: spec.run_id.clone(),
        workflow_type: Some(WorkflowType {
            name: spec.workflow_type.clone(),
        }),
        task_queue: Some(TaskQueue {
            name: spec.task_queue.clone(),
            kind: sundial_api::temporal::enums::v1::TaskQueueKind::Normal as i32,
            normal_name: String::new(),
        }),
        input: spec.input.clone(),
        workflow_run_timeout: spec.run_timeout,
        workflow_task_timeout: spec.task_timeout,
        workflow_task_completed_event_id: completed_id,
        backoff_start_interval: spec.backoff,
        initiator: ContinueAsNewInitiator::Workflow as i32,
        failure: a.failure.clone(),
        last_completion_result: a.last_completion_result.clone(),
        header: spec.header.clone(),
        memo: spec.memo.clone(),
        search_attributes: spec.search_attributes.clone(),
        ..Default::default()
    };
    start(m, spec);
    m.close(
        WorkflowExecutionStatus::ContinuedAsNew,
        Attributes::WorkflowExecutionContinuedAsNewEventAttributes(attrs),
    );
}
