//! Runs that act on other runs: child workflows (start, started/closed reported to the parent,
//! parent close policies) and signals and cancel requests to external workflows. Each crosses
//! shards through a transfer task, so the two sides are two transactions, retried until done.

use crate::HistoryEngine;
use crate::mutation::{BUFFERED_STARTED_ID, Mutation, PendingTask};
use crate::shard::{RunKey, Shard};
use crate::signals::Signal;
use crate::start::ParentInfo;
use sundial_api::sundial::persistence::v1::{ChildExecutionInfo, ExternalTarget, TransferTask, TransferTaskType};
use sundial_api::temporal::command::v1::{
    RequestCancelExternalWorkflowExecutionCommandAttributes, SignalExternalWorkflowExecutionCommandAttributes,
    StartChildWorkflowExecutionCommandAttributes,
};
use sundial_api::temporal::common::v1::{WorkflowExecution, WorkflowType};
use sundial_api::temporal::enums::v1::{
    CancelExternalWorkflowExecutionFailedCause, ParentClosePolicy, SignalExternalWorkflowExecutionFailedCause,
    StartChildWorkflowExecutionFailedCause,
};
use sundial_api::temporal::history::v1::history_event::Attributes;
use sundial_api::temporal::history::v1::*;
use sundial_api::workflowservice::v1::StartWorkflowExecutionRequest;
use sundial_common::ServiceError;

fn same_namespace(m: &Mutation<'_>, namespace: &str) -> bool {
    namespace.is_empty() || namespace == m.info_ref().namespace
}

/// `StartChildWorkflowExecution`: records the intent; the start happens in a transfer task.
pub(crate) fn start_child(m: &mut Mutation<'_>, a: &StartChildWorkflowExecutionCommandAttributes, completed_id: i64) {
    let namespace = if a.namespace.is_empty() {
        m.info_ref().namespace.clone()
    } else {
        a.namespace.clone()
    };
    let namespace_id = if same_namespace(m, &a.namespace) {
        m.info_ref().namespace_id.clone()
    } else {
        String::new()
    };
    let mut task_queue = a.task_queue.clone().unwrap_or_default();
    if task_queue.name.is_empty() {
        task_queue.name = m.info_ref().task_queue.clone();
    }
    let initiated = m.add_event(Attributes::StartChildWorkflowExecutionInitiatedEventAttributes(
        StartChildWorkflowExecutionInitiatedEventAttributes {
            namespace: namespace.clone(),
            namespace_id: namespace_id.clone(),
            workflow_id: a.workflow_id.clone(),
            workflow_type: a.workflow_type.clone(),
            task_queue: Some(task_queue),
            input: a.input.clone(),
            workflow_execution_timeout: a.workflow_execution_timeout,
            workflow_run_timeout: a.workflow_run_timeout,
            workflow_task_timeout: a.workflow_task_timeout,
            parent_close_policy: a.parent_close_policy,
            control: a.control.clone(),
            workflow_task_completed_event_id: completed_id,
            workflow_id_reuse_policy: a.workflow_id_reuse_policy,
            retry_policy: a.retry_policy.clone(),
            cron_schedule: a.cron_schedule.clone(),
            header: a.header.clone(),
            memo: a.memo.clone(),
            search_attributes: a.search_attributes.clone(),
            priority: a.priority.clone(),
            ..Default::default()
        },
    ));
    m.ms.children.insert(
        initiated,
        ChildExecutionInfo {
            initiated_event_id: initiated,
            started_event_id: 0,
            namespace,
            namespace_id,
            workflow_id: a.workflow_id.clone(),
            run_id: String::new(),
            workflow_type: a.workflow_type.as_ref().map(|t| t.name.clone()).unwrap_or_default(),
            parent_close_policy: a.parent_close_policy,
        },
    );
    let task = m.transfer(TransferTaskType::StartChild, initiated);
    m.tasks.push(PendingTask::Transfer(task));
}

fn external_target(
    m: &Mutation<'_>,
    namespace: &str,
    workflow_id: &str,
    run_id: &str,
    initiated: i64,
) -> ExternalTarget {
    ExternalTarget {
        initiated_event_id: initiated,
        namespace: if namespace.is_empty() {
            m.info_ref().namespace.clone()
        } else {
            namespace.to_owned()
        },
        namespace_id: if same_namespace(m, namespace) {
            m.info_ref().namespace_id.clone()
        } else {
            String::new()
        },
        workflow_id: workflow_id.to_owned(),
        run_id: run_id.to_owned(),
        ..Default::default()
    }
}

pub(crate) fn signal_external(
    m: &mut Mutation<'_>,
    a: &SignalExternalWorkflowExecutionCommandAttributes,
    completed_id: i64,
) {
    let exec = a.execution.clone().unwrap_or_default();
    let mut target = external_target(m, &a.namespace, &exec.workflow_id, &exec.run_id, 0);
    let initiated = m.add_event(Attributes::SignalExternalWorkflowExecutionInitiatedEventAttributes(
        SignalExternalWorkflowExecutionInitiatedEventAttributes {
            workflow_task_completed_event_id: completed_id,
            namespace: target.namespace.clone(),
            namespace_id: target.namespace_id.clone(),
            workflow_execution: Some(exec),
            signal_name: a.signal_name.clone(),
            input: a.input.clone(),
            control: a.control.clone(),
            child_workflow_only: a.child_workflow_only,
            header: a.header.clone(),
        },
    ));
    target.initiated_event_id = initiated;
    target.control = a.control.clone();
    target.signal_name = a.signal_name.clone();
    target.input = a.input.clone();
    target.header = a.header.clone();
    m.ms.external_signals.insert(initiated, target);
    let task = m.transfer(TransferTaskType::SignalExternal, initiated);
    m.tasks.push(PendingTask::Transfer(task));
}

pub(crate) fn cancel_external(
    m: &mut Mutation<'_>,
    a: &RequestCancelExternalWorkflowExecutionCommandAttributes,
    completed_id: i64,
) {
    let mut target = external_target(m, &a.namespace, &a.workflow_id, &a.run_id, 0);
    let initiated = m.add_event(
        Attributes::RequestCancelExternalWorkflowExecutionInitiatedEventAttributes(
            RequestCancelExternalWorkflowExecutionInitiatedEventAttributes {
                workflow_task_completed_event_id: completed_id,
                namespace: target.namespace.clone(),
                namespace_id: target.namespace_id.clone(),
                workflow_execution: Some(WorkflowExecution {
                    workflow_id: a.workflow_id.clone(),
                    run_id: a.run_id.clone(),
                }),
                control: a.control.clone(),
                child_workflow_only: a.child_workflow_only,
                reason: a.reason.clone(),
            },
        ),
    );
    target.initiated_event_id = initiated;
    target.control = a.control.clone();
    target.reason = a.reason.clone();
    m.ms.external_cancels.insert(initiated, target);
    let task = m.transfer(TransferTaskType::CancelExternal, initiated);
    m.tasks.push(PendingTask::Transfer(task));
}

/// Called when a run closes: a child reports to its parent (unless a successor run carries
/// on), and a parent applies its children's close policies.
pub(crate) fn on_close(m: &mut Mutation<'_>) {
    let info = m.info_ref().clone();
    if !info.parent_workflow_id.is_empty() && m.new_run.is_none() {
        let task = TransferTask {
            target_namespace_id: info.parent_namespace_id.clone(),
            target_workflow_id: info.parent_workflow_id.clone(),
            target_run_id: info.parent_run_id.clone(),
            target_initiated_event_id: info.parent_initiated_event_id,
            ..m.transfer(TransferTaskType::RecordChildCompletion, 0)
        };
        m.tasks.push(PendingTask::Transfer(task));
    }
    let children: Vec<ChildExecutionInfo> = m.ms.children.values().cloned().collect();
    for child in children {
        let policy = ParentClosePolicy::try_from(child.parent_close_policy).unwrap_or_default();
        if policy == ParentClosePolicy::Abandon {
            continue;
        }
        let task = TransferTask {
            target_namespace_id: child.namespace_id.clone(),
            target_workflow_id: child.workflow_id.clone(),
            target_run_id: child.run_id.clone(),
            target_initiated_event_id: child.initiated_event_id,
            parent_close_policy: child.parent_close_policy,
            ..m.transfer(TransferTaskType::ParentClosePolicy, child.initiated_event_id)
        };
        m.tasks.push(PendingTask::Transfer(task));
    }
}

fn execution(wf: &str, run: &str) -> Option<WorkflowExecution> {
    Some(WorkflowExecution {
        workflow_id: wf.to_owned(),
        run_id: run.to_owned(),
    })
}

impl HistoryEngine {
    async fn namespace_id_of(&self, shard: &Shard, name: &str, known: &str) -> Result<String, ServiceError> {
        if !known.is_empty() {
            return Ok(known.to_owned());
        }
        match shard.store.get_namespace_by_name(name).await? {
            Some(ns) => Ok(ns.id),
            None => Err(ServiceError::NamespaceNotFound {
                namespace: name.to_owned(),
            }),
        }
    }

    /// Transfer task: start the child, then record the outcome in the parent.
    pub(crate) async fn start_child_task(&self, shard: &Shard, task: &TransferTask) -> Result<(), ServiceError> {
        let parent = RunKey::new(task.namespace_id.clone(), task.workflow_id.clone(), task.run_id.clone());
        let ms = shard.snapshot(&parent).await?;
        let Some(child) = ms.children.get(&task.scheduled_event_id).cloned() else {
            return Ok(());
        };
        if child.started_event_id != 0 {
            return Ok(());
        }
        let info = ms.info.clone().unwrap_or_default();
        let initiated = self
            .read_events(shard, &parent, child.initiated_event_id, child.initiated_event_id)
            .await?;
        let Some(Attributes::StartChildWorkflowExecutionInitiatedEventAttributes(a)) =
            initiated.into_iter().next().and_then(|e| e.attributes)
        else {
            return Err(ServiceError::Internal("child initiated event is missing".into()));
        };
        let namespace_id = match self.namespace_id_of(shard, &child.namespace, &child.namespace_id).await {
            Ok(id) => id,
            Err(ServiceError::NamespaceNotFound { .. }) => {
                return self
                    .child_start_failed(
                        shard,
                        &parent,
                        &child,
                        StartChildWorkflowExecutionFailedCause::NamespaceNotFound,
                    )
                    .await;
            }
            Err(e) => return Err(e),
        };
        let req = StartWorkflowExecutionRequest {
            namespace: child.namespace.clone(),
            workflow_id: child.workflow_id.clone(),
            workflow_type: a.workflow_type.clone(),
            task_queue: a.task_queue.clone(),
            input: a.input.clone(),
            workflow_execution_timeout: a.workflow_execution_timeout,
            workflow_run_timeout: a.workflow_run_timeout,
            workflow_task_timeout: a.workflow_task_timeout,
            // Deterministic, so a retried task finds the child it already started.
            request_id: format!("{}-{}", task.run_id, child.initiated_event_id),
            workflow_id_reuse_policy: a.workflow_id_reuse_policy,
            retry_policy: a.retry_policy.clone(),
            cron_schedule: a.cron_schedule.clone(),
            memo: a.memo.clone(),
            search_attributes: a.search_attributes.clone(),
            header: a.header.clone(),
            priority: a.priority.clone(),
            ..Default::default()
        };
        let root = crate::mutation::root_execution(&info);
        let parent_info = ParentInfo {
            namespace_id: task.namespace_id.clone(),
            namespace: info.namespace.clone(),
            workflow_id: task.workflow_id.clone(),
            run_id: task.run_id.clone(),
            initiated_event_id: child.initiated_event_id,
            root_workflow_id: root.workflow_id,
            root_run_id: root.run_id,
        };
        match self.start_child_on_owner(&namespace_id, req, parent_info).await {
            Ok(resp) => {
                let child_shard = self.shard(&task.namespace_id, &task.workflow_id)?;
                child_shard
                    .update(&parent, |m| {
                        let Some(mut c) = m.ms.children.get(&child.initiated_event_id).cloned() else {
                            return Ok(());
                        };
                        if c.started_event_id != 0 {
                            return Ok(());
                        }
                        c.run_id = resp.run_id.clone();
                        c.namespace_id = namespace_id.clone();
                        let id = m.add_or_buffer(Attributes::ChildWorkflowExecutionStartedEventAttributes(
                            ChildWorkflowExecutionStartedEventAttributes {
                                namespace: c.namespace.clone(),
                                namespace_id: namespace_id.clone(),
                                initiated_event_id: c.initiated_event_id,
                                workflow_execution: execution(&c.workflow_id, &resp.run_id),
                                workflow_type: Some(WorkflowType {
                                    name: c.workflow_type.clone(),
                                }),
                                header: a.header.clone(),
                            },
                        ));
                        c.started_event_id = id.unwrap_or(BUFFERED_STARTED_ID);
                        m.ms.children.insert(c.initiated_event_id, c);
                        m.schedule_workflow_task(1);
                        Ok(())
                    })
                    .await
            }
            Err(ServiceError::WorkflowAlreadyStarted { .. }) => {
                self.child_start_failed(
                    shard,
                    &parent,
                    &child,
                    StartChildWorkflowExecutionFailedCause::WorkflowAlreadyExists,
                )
                .await
            }
            Err(e) => Err(e),
        }
    }

    async fn child_start_failed(
        &self,
        shard: &Shard,
        parent: &RunKey,
        child: &ChildExecutionInfo,
        cause: StartChildWorkflowExecutionFailedCause,
    ) -> Result<(), ServiceError> {
        let initiated_event_id = child.initiated_event_id;
        shard
            .update(parent, |m| {
                if m.ms.children.remove(&initiated_event_id).is_none() || !m.is_running() {
                    return Ok(());
                }
                m.add_or_buffer(Attributes::StartChildWorkflowExecutionFailedEventAttributes(
                    StartChildWorkflowExecutionFailedEventAttributes {
                        namespace: child.namespace.clone(),
                        namespace_id: child.namespace_id.clone(),
                        workflow_id: child.workflow_id.clone(),
                        workflow_type: Some(WorkflowType {
                            name: child.workflow_type.clone(),
                        }),
                        cause: cause as i32,
                        control: String::new(),
                        initiated_event_id,
                        workflow_task_completed_event_id: 0,
                    },
                ));
                m.schedule_workflow_task(1);
                Ok(())
            })
            .await
    }

    /// Transfer task of a closed child: report how it ended to the parent.
    pub(crate) async fn record_child_completion_task(
        &self,
        shard: &Shard,
        task: &TransferTask,
    ) -> Result<(), ServiceError> {
        let child_run = RunKey::new(task.namespace_id.clone(), task.workflow_id.clone(), task.run_id.clone());
        let ms = shard.snapshot(&child_run).await?;
        let info = ms.info.clone().unwrap_or_default();
        let close = self
            .read_events(shard, &child_run, info.completion_event_id, info.completion_event_id)
            .await?
            .into_iter()
            .next();
        self.record_child_completion_on_owner(task, close).await
    }

    /// The parent's side of a child's close (on the host of the parent's shard): the child's
    /// close event becomes the matching child event in the parent.
    pub(crate) async fn record_child_completion_in_parent(
        &self,
        task: &TransferTask,
        close_event: Option<sundial_api::temporal::history::v1::HistoryEvent>,
    ) -> Result<(), ServiceError> {
        let close = close_event.and_then(|e| e.attributes);
        let parent = RunKey::new(
            task.target_namespace_id.clone(),
            task.target_workflow_id.clone(),
            task.target_run_id.clone(),
        );
        let parent_shard = self.shard(&parent.namespace_id, &parent.workflow_id)?;
        let result = parent_shard
            .update(&parent, |m| {
                let Some(child) = m.ms.children.get(&task.target_initiated_event_id).cloned() else {
                    return Ok(());
                };
                if !m.is_running() {
                    return Ok(());
                }
                let mut started = child.started_event_id;
                if started == 0 {
                    // The child closed before its start was recorded: record both, in order.
                    started = m
                        .add_or_buffer(Attributes::ChildWorkflowExecutionStartedEventAttributes(
                            ChildWorkflowExecutionStartedEventAttributes {
                                namespace: child.namespace.clone(),
                                namespace_id: task.namespace_id.clone(),
                                initiated_event_id: child.initiated_event_id,
                                workflow_execution: execution(&child.workflow_id, &task.run_id),
                                workflow_type: Some(WorkflowType {
                                    name: child.workflow_type.clone(),
                                }),
                                header: None,
                            },
                        ))
                        .unwrap_or(BUFFERED_STARTED_ID);
                }
                let exec = execution(&child.workflow_id, &task.run_id);
                let wf_type = Some(WorkflowType {
                    name: child.workflow_type.clone(),
                });
                let (ns, ns_id, initiated) = (
                    child.namespace.clone(),
                    task.namespace_id.clone(),
                    child.initiated_event_id,
                );
                let attrs = match &close {
                    Some(Attributes::WorkflowExecutionCompletedEventAttributes(c)) => {
                        Attributes::ChildWorkflowExecutionCompletedEventAttributes(
                            ChildWorkflowExecutionCompletedEventAttributes {
                                result: c.result.clone(),
                                namespace: ns,
                                namespace_id: ns_id,
                                workflow_execution: exec,
                                workflow_type: wf_type,
                                initiated_event_id: initiated,
                                started_event_id: started,
                            },
                        )
                    }
                    Some(Attributes::WorkflowExecutionFailedEventAttributes(c)) => {
                        Attributes::ChildWorkflowExecutionFailedEventAttributes(
                            ChildWorkflowExecutionFailedEventAttributes {
                                failure: c.failure.clone(),
                                namespace: ns,
                                namespace_id: ns_id,
                                workflow_execution: exec,
                                workflow_type: wf_type,
                                initiated_event_id: initiated,
                                started_event_id: started,
                                retry_state: c.retry_state,
                            },
                        )
                    }
                    Some(Attributes::WorkflowExecutionCanceledEventAttributes(c)) => {
                        Attributes::ChildWorkflowExecutionCanceledEventAttributes(
                            ChildWorkflowExecutionCanceledEventAttributes {
                                details: c.details.clone(),
                                namespace: ns,
                                namespace_id: ns_id,
                                workflow_execution: exec,
                                workflow_type: wf_type,
                                initiated_event_id: initiated,
                                started_event_id: started,
                            },
                        )
                    }
                    Some(Attributes::WorkflowExecutionTimedOutEventAttributes(c)) => {
                        Attributes::ChildWorkflowExecutionTimedOutEventAttributes(
                            ChildWorkflowExecutionTimedOutEventAttributes {
                                namespace: ns,
                                namespace_id: ns_id,
                                workflow_execution: exec,
                                workflow_type: wf_type,
                                initiated_event_id: initiated,
                                started_event_id: started,
                                retry_state: c.retry_state,
                            },
                        )
                    }
                    _ => Attributes::ChildWorkflowExecutionTerminatedEventAttributes(
                        ChildWorkflowExecutionTerminatedEventAttributes {
                            namespace: ns,
                            namespace_id: ns_id,
                            workflow_execution: exec,
                            workflow_type: wf_type,
                            initiated_event_id: initiated,
                            started_event_id: started,
                        },
                    ),
                };
                m.add_or_buffer(attrs);
                m.ms.children.remove(&initiated);
                m.schedule_workflow_task(1);
                Ok(())
            })
            .await;
        match result {
            Err(ServiceError::NotFound(_)) => Ok(()),
            other => other,
        }
    }

    /// Transfer task of a closed parent: terminate or cancel one child, per its policy.
    pub(crate) async fn parent_close_policy_task(&self, task: &TransferTask) -> Result<(), ServiceError> {
        let ns = &task.target_namespace_id;
        if ns.is_empty() {
            return Ok(());
        }
        let outcome = match ParentClosePolicy::try_from(task.parent_close_policy).unwrap_or_default() {
            ParentClosePolicy::Abandon => Ok(()),
            ParentClosePolicy::RequestCancel => {
                self.cancel_on_owner(
                    ns,
                    &task.target_workflow_id,
                    &task.target_run_id,
                    "by parent close policy",
                    "history-service",
                )
                .await
            }
            _ => {
                self.terminate_on_owner(
                    ns,
                    &task.target_workflow_id,
                    &task.target_run_id,
                    "by parent close policy",
                    "history-service",
                )
                .await
            }
        };
        match outcome {
            Err(ServiceError::NotFound(_)) => Ok(()),
            other => other,
        }
    }

    /// Transfer task: deliver a signal to another workflow, then record the outcome.
    pub(crate) async fn signal_external_task(&self, shard: &Shard, task: &TransferTask) -> Result<(), ServiceError> {
        self.external_task(shard, task, External::Signal).await
    }

    /// Transfer task: deliver a cancel request to another workflow, then record the outcome.
    pub(crate) async fn cancel_external_task(&self, shard: &Shard, task: &TransferTask) -> Result<(), ServiceError> {
        self.external_task(shard, task, External::Cancel).await
    }

    async fn external_task(&self, shard: &Shard, task: &TransferTask, kind: External) -> Result<(), ServiceError> {
        let source = RunKey::new(task.namespace_id.clone(), task.workflow_id.clone(), task.run_id.clone());
        let ms = shard.snapshot(&source).await?;
        let pending = match kind {
            External::Signal => &ms.external_signals,
            External::Cancel => &ms.external_cancels,
        };
        let Some(target) = pending.get(&task.scheduled_event_id).cloned() else {
            return Ok(());
        };
        let delivered = match self
            .namespace_id_of(shard, &target.namespace, &target.namespace_id)
            .await
        {
            Ok(ns_id) => match kind {
                External::Signal => {
                    let signal = Signal {
                        name: target.signal_name.clone(),
                        input: target.input.clone(),
                        header: target.header.clone(),
                        identity: String::new(),
                        request_id: format!("{}-{}", task.run_id, target.initiated_event_id),
                        external: execution(&task.workflow_id, &task.run_id),
                        links: Vec::new(),
                    };
                    self.signal_on_owner(&ns_id, &target.workflow_id, &target.run_id, signal)
                        .await
                }
                External::Cancel => {
                    self.cancel_on_owner(
                        &ns_id,
                        &target.workflow_id,
                        &target.run_id,
                        &target.reason,
                        "history-service",
                    )
                    .await
                }
            }
            .map(|_| ns_id),
            Err(e) => Err(e),
        };
        let delivered_to = match delivered {
            Ok(id) => Some(id),
            Err(ServiceError::NotFound(_)) | Err(ServiceError::NamespaceNotFound { .. }) => None,
            Err(e) => return Err(e),
        };
        shard
            .update(&source, |m| {
                let pending = match kind {
                    External::Signal => &mut m.ms.external_signals,
                    External::Cancel => &mut m.ms.external_cancels,
                };
                if pending.remove(&target.initiated_event_id).is_none() || !m.is_running() {
                    return Ok(());
                }
                m.add_or_buffer(external_outcome(kind, &target, delivered_to.as_deref()));
                m.schedule_workflow_task(1);
                Ok(())
            })
            .await
    }
}

#[derive(Clone, Copy)]
enum External {
    Signal,
    Cancel,
}

/// The event recording how a signal or cancel request to another workflow went: delivered
/// (with the target's namespace id), or failed because the target does not exist.
fn external_outcome(kind: External, target: &ExternalTarget, delivered_to: Option<&str>) -> Attributes {
    let exec = execution(&target.workflow_id, &target.run_id);
    let (initiated, namespace, control) = (
        target.initiated_event_id,
        target.namespace.clone(),
        target.control.clone(),
    );
    match (kind, delivered_to) {
        (External::Signal, Some(ns_id)) => Attributes::ExternalWorkflowExecutionSignaledEventAttributes(
            ExternalWorkflowExecutionSignaledEventAttributes {
                initiated_event_id: initiated,
                namespace,
                namespace_id: ns_id.to_owned(),
                workflow_execution: exec,
                control,
            },
        ),
        (External::Signal, None) => Attributes::SignalExternalWorkflowExecutionFailedEventAttributes(
            SignalExternalWorkflowExecutionFailedEventAttributes {
                cause: SignalExternalWorkflowExecutionFailedCause::ExternalWorkflowExecutionNotFound as i32,
                workflow_task_completed_event_id: 0,
                namespace,
                namespace_id: target.namespace_id.clone(),
                workflow_execution: exec,
                initiated_event_id: initiated,
                control,
            },
        ),
        (External::Cancel, Some(ns_id)) => Attributes::ExternalWorkflowExecutionCancelRequestedEventAttributes(
            ExternalWorkflowExecutionCancelRequestedEventAttributes {
                initiated_event_id: initiated,
                namespace,
                namespace_id: ns_id.to_owned(),
                workflow_execution: exec,
            },
        ),
        (External::Cancel, None) => Attributes::RequestCancelExternalWorkflowExecutionFailedEventAttributes(
            RequestCancelExternalWorkflowExecutionFailedEventAttributes {
                cause: CancelExternalWorkflowExecutionFailedCause::ExternalWorkflowExecutionNotFound as i32,
                workflow_task_completed_event_id: 0,
                namespace,
                namespace_id: target.namespace_id.clone(),
                workflow_execution: exec,
                initiated_event_id: initiated,
                control,
            },
        ),
    }
}
