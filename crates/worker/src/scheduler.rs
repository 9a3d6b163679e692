//! The scheduler loop. Every tick it reads the schedules whose wake-up time has passed, takes
//! those the worker ring gives to this process (one process per schedule, so one action is
//! never fired twice by two workers), and runs one pass of each: see which started workflows
//! closed, buffer the nominal times that came due, act on the buffer (start, cancel, terminate
//! per the overlap policy), then save the record with compare-and-set and the next wake-up.
//!
//! A crash between a start and the save repeats the pass: the start is found (its workflow id
//! names the nominal time) instead of being made twice.

use crate::cluster::{Cluster, PassError};
use futures::StreamExt;
use jiff::Timestamp;
use std::sync::Arc;
use std::time::Duration;
use sundial_api::sundial::persistence::v1::ScheduleRecord;
use sundial_api::temporal::common::v1::{Payload, Payloads, SearchAttributes, WorkflowExecution};
use sundial_api::temporal::enums::v1::{ScheduleOverlapPolicy, WorkflowExecutionStatus, WorkflowIdReusePolicy};
use sundial_api::temporal::failure::v1::Failure;
use sundial_api::temporal::schedule::v1::schedule_action;
use sundial_api::workflowservice::v1::{
    DescribeWorkflowExecutionRequest, GetWorkflowExecutionHistoryReverseRequest, RequestCancelWorkflowExecutionRequest,
    StartWorkflowExecutionRequest, TerminateWorkflowExecutionRequest,
};
use sundial_persistence::{PersistenceError, ScheduleRow};
use sundial_schedule::proto::{timestamp_from_nanos, timestamp_nanos};
use sundial_schedule::scheduler::{self as machine, PlannedStart, Step};
use tokio::task::JoinHandle;
use tonic::Code;

/// How often due schedules are looked for: the latency of a trigger or a new schedule.
const TICK: Duration = Duration::from_millis(500);
/// Due schedules read per tick.
const BATCH: usize = 200;
/// Schedules worked on at once.
const CONCURRENT_PASSES: usize = 32;
/// Started workflows whose status one pass looks up at most, when no decision waits on them
/// (ALLOW_ALL keeps starting regardless); the rest are looked at in later passes.
const STATUS_CHECKS: usize = 8;
/// …and when the overlap policy or pause-on-failure needs to know.
const STATUS_CHECKS_NEEDED: usize = 100;
/// Compare-and-set attempts of one pass against a concurrent user change.
const SAVE_ATTEMPTS: usize = 3;
/// A pass whose action could not be carried out is retried this much later.
const RETRY_AFTER: jiff::SignedDuration = jiff::SignedDuration::from_secs(2);
const IDENTITY: &str = "sundial-scheduler";

pub struct Scheduler {
    cluster: Arc<Cluster>,
}

fn now() -> Timestamp {
    timestamp_from_nanos(sundial_common::time::now_nanos())
}

/// A search attribute value as SDKs send one: JSON, tagged with its type.
fn attribute(json: String, value_type: &str) -> Payload {
    let mut p = Payload {
        data: json.into_bytes(),
        ..Default::default()
    };
    p.metadata.insert("encoding".into(), b"json/plain".to_vec());
    p.metadata.insert("type".into(), value_type.as_bytes().to_vec());
    p
}

impl Scheduler {
    pub(crate) fn spawn(cluster: Arc<Cluster>) -> JoinHandle<()> {
        let scheduler = Arc::new(Scheduler { cluster });
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(TICK);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                if let Err(e) = scheduler.tick().await {
                    tracing::warn!(error = %e, "reading due schedules failed; retrying");
                }
            }
        })
    }

    async fn tick(&self) -> Result<(), PersistenceError> {
        let due = self
            .cluster
            .store
            .due_schedules(sundial_common::time::now_nanos(), BATCH)
            .await?;
        let mine = due
            .into_iter()
            .filter(|(ns, id)| self.cluster.owns(&format!("schedule/{ns}/{id}")));
        // Passes are mostly waiting on the frontend and the database: run several at once.
        futures::stream::iter(mine)
            .for_each_concurrent(CONCURRENT_PASSES, |(namespace_id, schedule_id)| async move {
                if let Err(e) = self.process(&namespace_id, &schedule_id).await {
                    tracing::warn!(%namespace_id, %schedule_id, error = %e, "schedule pass failed; retrying");
                }
            })
            .await;
        Ok(())
    }

    /// One pass over one schedule; retried from a fresh read when the user changed it meanwhile.
    async fn process(&self, namespace_id: &str, schedule_id: &str) -> Result<(), PassError> {
        for _ in 0..SAVE_ATTEMPTS {
            let Some(mut row) = self.cluster.store.get_schedule(namespace_id, schedule_id).await? else {
                return Ok(());
            };
            let Some(namespace) = self.cluster.namespace_name(namespace_id).await? else {
                // The namespace is gone; its schedules go with it.
                self.cluster.store.delete_schedule(namespace_id, schedule_id).await?;
                return Ok(());
            };
            let spec = row
                .record
                .schedule
                .as_ref()
                .and_then(|s| s.spec.as_ref())
                .map(|s| sundial_schedule::proto::compile(s, namespace_id, schedule_id));
            let Some(Ok(spec)) = spec else {
                tracing::error!(%namespace_id, %schedule_id, "stored schedule spec does not compile; the schedule sleeps");
                row.next_wake = i64::MAX;
                return match self.cluster.store.update_schedule(&row).await {
                    Ok(()) | Err(PersistenceError::ConditionFailed(_)) => Ok(()),
                    Err(e) => Err(e.into()),
                };
            };
            let key = format!(
                "{}-{}",
                schedule_id,
                row.record
                    .create_time
                    .as_ref()
                    .map_or(0, sundial_common::time::timestamp_to_nanos)
            );
            let failed = self.advance(&mut row, &namespace, &key, &spec).await;
            let now = now();
            let mut wake = machine::next_wake(&row.record, &spec, now);
            if let Err(e) = &failed {
                tracing::warn!(%namespace_id, %schedule_id, error = %e, "schedule action failed; retrying");
                wake = wake.min(now.checked_add(RETRY_AFTER).unwrap_or(Timestamp::MAX));
            }
            row.next_wake = timestamp_nanos(wake);
            match self.cluster.store.update_schedule(&row).await {
                Ok(()) => return Ok(()),
                Err(PersistenceError::ConditionFailed(_)) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }

    /// Observes closed workflows, buffers due times and acts on the buffer, recording each
    /// step in the record as it succeeds.
    async fn advance(
        &self,
        row: &mut ScheduleRow,
        namespace: &str,
        key: &str,
        spec: &sundial_schedule::CompiledSpec,
    ) -> Result<(), PassError> {
        let needed = machine::policy_of(&row.record) != ScheduleOverlapPolicy::AllowAll
            || row
                .record
                .schedule
                .as_ref()
                .and_then(|s| s.policies.as_ref())
                .is_some_and(|p| p.pause_on_failure);
        let mut running = row
            .record
            .progress
            .as_ref()
            .map(|p| p.running.clone())
            .unwrap_or_default();
        running.truncate(if needed { STATUS_CHECKS_NEEDED } else { STATUS_CHECKS });
        for execution in running {
            if let Some(status) = self.status(namespace, &execution).await? {
                if matches!(
                    status,
                    WorkflowExecutionStatus::Completed | WorkflowExecutionStatus::Failed
                ) {
                    let (result, failure) = self.outcome(namespace, &execution).await?;
                    let progress = row.record.progress.get_or_insert_with(Default::default);
                    if status == WorkflowExecutionStatus::Completed {
                        progress.last_completion_result = result;
                        progress.continued_failure = None;
                    } else {
                        progress.continued_failure = failure;
                    }
                }
                machine::closed(&mut row.record, &execution, status);
            }
        }
        machine::catch_up(&mut row.record, spec, now());
        loop {
            match machine::next_step(&mut row.record, key) {
                Step::Wait => return Ok(()),
                Step::Start(planned) => {
                    let run_id = self.start(namespace, &row.schedule_id, &row.record, &planned).await?;
                    machine::started(&mut row.record, &planned, &run_id, now());
                }
                Step::Cancel(executions) => {
                    for e in executions {
                        let request = RequestCancelWorkflowExecutionRequest {
                            namespace: namespace.to_owned(),
                            workflow_execution: Some(e),
                            identity: IDENTITY.into(),
                            reason: "cancelled by its schedule's overlap policy".into(),
                            ..Default::default()
                        };
                        ignore_gone(
                            self.cluster
                                .frontend()?
                                .request_cancel_workflow_execution(request)
                                .await,
                        )?;
                    }
                }
                Step::Terminate(executions) => {
                    for e in executions {
                        let request = TerminateWorkflowExecutionRequest {
                            namespace: namespace.to_owned(),
                            workflow_execution: Some(e),
                            identity: IDENTITY.into(),
                            reason: "terminated by its schedule's overlap policy".into(),
                            ..Default::default()
                        };
                        ignore_gone(self.cluster.frontend()?.terminate_workflow_execution(request).await)?;
                    }
                }
            }
        }
    }

    /// The close status of a started workflow, `None` while it runs. A workflow that is gone
    /// (deleted, retention) counts as terminated.
    async fn status(
        &self,
        namespace: &str,
        execution: &WorkflowExecution,
    ) -> Result<Option<WorkflowExecutionStatus>, PassError> {
        let request = DescribeWorkflowExecutionRequest {
            namespace: namespace.to_owned(),
            execution: Some(execution.clone()),
        };
        match self.cluster.frontend()?.describe_workflow_execution(request).await {
            Ok(resp) => {
                let status = resp.into_inner().workflow_execution_info.map_or(0, |i| i.status);
                let status = WorkflowExecutionStatus::try_from(status).unwrap_or(WorkflowExecutionStatus::Unspecified);
                Ok((status != WorkflowExecutionStatus::Running).then_some(status))
            }
            Err(s) if s.code() == Code::NotFound => Ok(Some(WorkflowExecutionStatus::Terminated)),
            Err(s) => Err(s.into()),
        }
    }

    /// A closed workflow's result or failure, from its close event.
    async fn outcome(
        &self,
        namespace: &str,
        execution: &WorkflowExecution,
    ) -> Result<(Option<Payloads>, Option<Failure>), PassError> {
        use sundial_api::temporal::history::v1::history_event::Attributes;
        let request = GetWorkflowExecutionHistoryReverseRequest {
            namespace: namespace.to_owned(),
            execution: Some(execution.clone()),
            maximum_page_size: 1,
            next_page_token: Vec::new(),
        };
        let last = match self
            .cluster
            .frontend()?
            .get_workflow_execution_history_reverse(request)
            .await
        {
            Ok(resp) => resp.into_inner().history.and_then(|h| h.events.into_iter().next()),
            Err(s) if s.code() == Code::NotFound => None,
            Err(s) => return Err(s.into()),
        };
        Ok(match last.and_then(|e| e.attributes) {
            Some(Attributes::WorkflowExecutionCompletedEventAttributes(a)) => (a.result, None),
            Some(Attributes::WorkflowExecutionFailedEventAttributes(a)) => (None, a.failure),
            _ => (None, None),
        })
    }

    /// Starts the action for `planned` and returns the run id. A run already there under the
    /// planned workflow id (an earlier pass started it and crashed before saving) is taken as
    /// this start.
    async fn start(
        &self,
        namespace: &str,
        schedule_id: &str,
        rec: &ScheduleRecord,
        planned: &PlannedStart,
    ) -> Result<String, PassError> {
        let Some(schedule_action::Action::StartWorkflow(action)) = rec
            .schedule
            .as_ref()
            .and_then(|s| s.action.as_ref())
            .and_then(|a| a.action.clone())
        else {
            return Err(PassError::Rpc(tonic::Status::failed_precondition(
                "the schedule has no action",
            )));
        };
        // As Temporal: a new run may reuse the id of a closed one (two triggers within the same
        // second share the id). A retry of this very start (an earlier pass started it, then
        // crashed before saving) carries the same request id, which history answers with the
        // run it started, closed or not, so nothing starts twice.
        let reuse = WorkflowIdReusePolicy::AllowDuplicate;
        let mut attrs = action
            .search_attributes
            .clone()
            .unwrap_or_else(SearchAttributes::default);
        attrs.indexed_fields.insert(
            "TemporalScheduledById".into(),
            attribute(json_string(schedule_id), "Keyword"),
        );
        attrs.indexed_fields.insert(
            "TemporalScheduledStartTime".into(),
            attribute(json_string(&planned.nominal.to_string()), "Datetime"),
        );
        let request = StartWorkflowExecutionRequest {
            namespace: namespace.to_owned(),
            workflow_id: planned.workflow_id.clone(),
            workflow_type: action.workflow_type,
            task_queue: action.task_queue,
            input: action.input,
            workflow_execution_timeout: action.workflow_execution_timeout,
            workflow_run_timeout: action.workflow_run_timeout,
            workflow_task_timeout: action.workflow_task_timeout,
            identity: IDENTITY.into(),
            request_id: planned.request_id.clone(),
            workflow_id_reuse_policy: reuse as i32,
            retry_policy: action.retry_policy,
            memo: action.memo,
            search_attributes: Some(attrs),
            header: action.header,
            user_metadata: action.user_metadata,
            priority: action.priority,
            last_completion_result: rec.progress.as_ref().and_then(|p| p.last_completion_result.clone()),
            continued_failure: rec.progress.as_ref().and_then(|p| p.continued_failure.clone()),
            ..Default::default()
        };
        Ok(self
            .cluster
            .frontend()?
            .start_workflow_execution(request)
            .await?
            .into_inner()
            .run_id)
    }
}

/// A cancel or terminate of a workflow that already closed or vanished is done.
fn ignore_gone<T>(r: Result<T, tonic::Status>) -> Result<(), PassError> {
    match r {
        Ok(_) => Ok(()),
        Err(s) if matches!(s.code(), Code::NotFound | Code::FailedPrecondition) => Ok(()),
        Err(s) => Err(s.into()),
    }
}

/// A JSON string literal (the schedule id and an RFC 3339 time need only quote escaping).
fn json_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn json_strings_are_escaped() {
        assert_eq!(super::json_string(r#"a"b\c"#), r#""a\"b\\c""#);
        assert_eq!(super::json_string("x\ny"), "\"x\\u000ay\"");
    }
}
