//! Starting runs: StartWorkflowExecution and SignalWithStartWorkflowExecution, with request-id
//! de-duplication and the workflow-id reuse and conflict policies.

use crate::HistoryEngine;
use crate::mutation::{DEFAULT_WORKFLOW_TASK_TIMEOUT, MAX_WORKFLOW_TASK_TIMEOUT_SECS, Mutation};
use prost_wkt_types::Duration as PbDuration;
use sundial_api::sundial::persistence::v1::{ExecutionInfo, TimerTask, TimerTaskType, WorkflowMutableState};
use sundial_api::temporal::common::v1::{
    Header, Memo, Payloads, Priority, RetryPolicy, SearchAttributes, WorkflowExecution, WorkflowType,
};
use sundial_api::temporal::enums::v1::{
    ContinueAsNewInitiator, TaskQueueKind, WorkflowExecutionStatus, WorkflowIdConflictPolicy, WorkflowIdReusePolicy,
};
use sundial_api::temporal::failure::v1::Failure;
use sundial_api::temporal::history::v1::history_event::Attributes;
use sundial_api::temporal::history::v1::{
    WorkflowExecutionSignaledEventAttributes, WorkflowExecutionStartedEventAttributes,
};
use sundial_api::temporal::taskqueue::v1::TaskQueue;
use sundial_api::temporal::update::v1::Request as UpdateRequest;
use sundial_api::workflowservice::v1::{StartWorkflowExecutionRequest, StartWorkflowExecutionResponse};
use sundial_common::ServiceError;
use sundial_common::time::now_nanos;
use sundial_persistence::{CurrentCondition, CurrentExecution, PersistenceError};

/// The signal of a signal-with-start.
pub(crate) struct StartSignal {
    pub name: String,
    pub input: Option<Payloads>,
    pub header: Option<Header>,
    pub identity: String,
    pub links: Vec<sundial_api::temporal::common::v1::Link>,
}

pub(crate) fn positive(d: Option<&PbDuration>) -> Option<PbDuration> {
    d.filter(|d| d.seconds > 0 || d.nanos > 0).copied()
}

use sundial_common::time::pb_duration_nanos as nanos;

impl HistoryEngine {
    pub(crate) async fn start_workflow(
        &self,
        namespace_id: &str,
        req: StartWorkflowExecutionRequest,
        signal: Option<StartSignal>,
    ) -> Result<StartWorkflowExecutionResponse, ServiceError> {
        self.start_run(namespace_id, req, signal, None).await
    }

    /// Starts a child workflow for `parent`; an id conflict is `WorkflowAlreadyStarted`.
    pub(crate) async fn start_workflow_with_parent(
        &self,
        namespace_id: &str,
        req: StartWorkflowExecutionRequest,
        parent: ParentInfo,
    ) -> Result<StartWorkflowExecutionResponse, ServiceError> {
        self.start_run(namespace_id, req, None, Some(parent)).await
    }

    async fn start_run(
        &self,
        namespace_id: &str,
        req: StartWorkflowExecutionRequest,
        signal: Option<StartSignal>,
        parent: Option<ParentInfo>,
    ) -> Result<StartWorkflowExecutionResponse, ServiceError> {
        Ok(self.start_run_with(namespace_id, req, signal, parent, None).await?.0)
    }

    /// Update-with-start: a new run is created with `update` admitted before anything can
    /// see the run; the update's status comes back with it. No new run (the conflict policy
    /// kept a running one): no status, and the caller sends the update to that run.
    pub(crate) async fn start_with_update(
        &self,
        namespace_id: &str,
        req: StartWorkflowExecutionRequest,
        update: &UpdateRequest,
    ) -> Result<
        (
            StartWorkflowExecutionResponse,
            Option<tokio::sync::watch::Receiver<crate::updates::Status>>,
        ),
        ServiceError,
    > {
        self.start_run_with(namespace_id, req, None, None, Some(update)).await
    }

    async fn start_run_with(
        &self,
        namespace_id: &str,
        req: StartWorkflowExecutionRequest,
        signal: Option<StartSignal>,
        parent: Option<ParentInfo>,
        update: Option<&UpdateRequest>,
    ) -> Result<
        (
            StartWorkflowExecutionResponse,
            Option<tokio::sync::watch::Receiver<crate::updates::Status>>,
        ),
        ServiceError,
    > {
        let shard = self.shard(namespace_id, &req.workflow_id)?;
        for _ in 0..3 {
            let current = shard
                .store
                .get_current_execution(shard.id, namespace_id, &req.workflow_id)
                .await?;
            let condition = match current {
                None => CurrentCondition::BrandNew,
                Some(c) => match self.decide(namespace_id, &req, &c, signal.is_some()).await? {
                    Decision::Replace => CurrentCondition::Replace {
                        previous_run_id: c.run_id,
                    },
                    Decision::Existing { started } => {
                        let attach = req
                            .on_conflict_options
                            .as_ref()
                            .filter(|o| !started && o.attach_request_id && signal.is_none() && update.is_none());
                        let link = match attach {
                            Some(options) => {
                                let run =
                                    crate::shard::RunKey::new(namespace_id, req.workflow_id.clone(), c.run_id.clone());
                                shard.update(&run, |m| attach_to_run(m, &req, options)).await?;
                                Some(crate::nexus::links::request_id_event(
                                    &req.namespace,
                                    &req.workflow_id,
                                    &c.run_id,
                                    &req.request_id,
                                    sundial_api::temporal::enums::v1::EventType::WorkflowExecutionOptionsUpdated,
                                ))
                            }
                            None => None,
                        };
                        let resp = StartWorkflowExecutionResponse {
                            run_id: c.run_id,
                            started,
                            status: WorkflowExecutionStatus::Running as i32,
                            link,
                            ..Default::default()
                        };
                        return Ok((resp, None));
                    }
                },
            };
            match self
                .create_run(
                    &shard,
                    namespace_id,
                    &req,
                    signal.as_ref(),
                    condition,
                    parent.as_ref(),
                    update,
                )
                .await
            {
                Ok((run_id, first_task, admitted)) => {
                    let eager_workflow_task = match first_task {
                        Some(scheduled_event_id) if signal.is_none() && parent.is_none() && update.is_none() => {
                            self.eager_task(namespace_id, &req, &run_id, scheduled_event_id).await
                        }
                        _ => None,
                    };
                    // Where the start is in history: a Nexus handler links the operation to it.
                    let link = Some(crate::nexus::links::workflow_event(
                        &req.namespace,
                        &req.workflow_id,
                        &run_id,
                        1,
                        sundial_api::temporal::enums::v1::EventType::WorkflowExecutionStarted,
                    ));
                    let resp = StartWorkflowExecutionResponse {
                        run_id,
                        started: true,
                        status: WorkflowExecutionStatus::Running as i32,
                        eager_workflow_task,
                        link,
                        ..Default::default()
                    };
                    return Ok((resp, admitted.transpose()?));
                }
                // Another start won the race for the id: decide again against the new run.
                Err(PersistenceError::CurrentExecutionExists { .. }) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(ServiceError::Unavailable(
            "concurrent starts of the same workflow id; retry".into(),
        ))
    }

    /// Eager workflow start: the new run's first workflow task, started for the caller's own
    /// worker, when the start asked for it (and `system.enableEagerWorkflowStart` allows it).
    /// The run was committed with the task scheduled and on its way to matching, so starting it
    /// here is a second transition: if a poller took the task first, or this fails, the caller
    /// gets no eager task and the task goes the usual way. Nothing is lost either way.
    async fn eager_task(
        &self,
        namespace_id: &str,
        req: &StartWorkflowExecutionRequest,
        run_id: &str,
        scheduled_event_id: i64,
    ) -> Option<sundial_api::workflowservice::v1::PollWorkflowTaskQueueResponse> {
        let scope = sundial_dynconfig::Scope::namespace(&req.namespace).with_namespace_id(namespace_id);
        // A delayed start has no first task yet (the caller passes none); a cron run's first
        // task is never handed out eagerly either.
        if !req.request_eager_execution
            || !req.cron_schedule.is_empty()
            || !self
                .config()
                .dynamic_config
                .get(&sundial_dynconfig::keys::ENABLE_EAGER_WORKFLOW_START, &scope)
        {
            return None;
        }
        let started = self
            .record_workflow_task_started(
                sundial_api::sundial::historyservice::v1::RecordWorkflowTaskStartedRequest {
                    namespace_id: namespace_id.to_owned(),
                    execution: Some(sundial_api::temporal::common::v1::WorkflowExecution {
                        workflow_id: req.workflow_id.clone(),
                        run_id: run_id.to_owned(),
                    }),
                    scheduled_event_id,
                    request_id: uuid::Uuid::new_v4().to_string(),
                    poll_request: Some(sundial_api::workflowservice::v1::PollWorkflowTaskQueueRequest {
                        namespace: req.namespace.clone(),
                        task_queue: req.task_queue.clone(),
                        identity: req.identity.clone(),
                        ..Default::default()
                    }),
                },
            )
            .await;
        match started {
            Ok(task) => Some(task),
            Err(e) => {
                tracing::debug!(workflow_id = %req.workflow_id, error = %e, "no eager workflow task; it goes through matching");
                None
            }
        }
    }

    async fn decide(
        &self,
        namespace_id: &str,
        req: &StartWorkflowExecutionRequest,
        current: &CurrentExecution,
        with_signal: bool,
    ) -> Result<Decision, ServiceError> {
        let wf = &req.workflow_id;
        let running = current.status == WorkflowExecutionStatus::Running as i32;
        if !req.request_id.is_empty() && current.create_request_id == req.request_id {
            return Ok(Decision::Existing { started: true });
        }
        let reuse = WorkflowIdReusePolicy::try_from(req.workflow_id_reuse_policy).unwrap_or_default();
        if running {
            let conflict = WorkflowIdConflictPolicy::try_from(req.workflow_id_conflict_policy).unwrap_or_default();
            let terminate = conflict == WorkflowIdConflictPolicy::TerminateExisting
                || reuse == WorkflowIdReusePolicy::TerminateIfRunning;
            if terminate {
                self.terminate(
                    namespace_id,
                    wf,
                    &current.run_id,
                    "terminated by a new start with the terminate-existing policy",
                    None,
                    &req.identity,
                )
                .await?;
                return Ok(Decision::Replace);
            }
            if conflict == WorkflowIdConflictPolicy::UseExisting || with_signal {
                return Ok(Decision::Existing { started: false });
            }
            return Err(ServiceError::WorkflowAlreadyStarted {
                message: format!(
                    "Workflow execution is already running. WorkflowId: {wf}, RunId: {}.",
                    current.run_id
                ),
                start_request_id: current.create_request_id.clone(),
                run_id: current.run_id.clone(),
            });
        }
        match reuse {
            WorkflowIdReusePolicy::RejectDuplicate => Err(ServiceError::WorkflowAlreadyStarted {
                message: format!(
                    "Workflow execution already finished and Workflow ID reuse policy is REJECT_DUPLICATE. WorkflowId: {wf}, RunId: {}.",
                    current.run_id
                ),
                start_request_id: current.create_request_id.clone(),
                run_id: current.run_id.clone(),
            }),
            WorkflowIdReusePolicy::AllowDuplicateFailedOnly
                if current.status == WorkflowExecutionStatus::Completed as i32 =>
            {
                Err(ServiceError::WorkflowAlreadyStarted {
                    message: format!(
                        "Workflow execution already finished successfully. WorkflowId: {wf}, RunId: {}. Workflow Id reuse policy: allow duplicate workflow Id if last run failed.",
                        current.run_id
                    ),
                    start_request_id: current.create_request_id.clone(),
                    run_id: current.run_id.clone(),
                })
            }
            _ => Ok(Decision::Replace),
        }
    }

    #[allow(clippy::too_many_arguments, clippy::type_complexity)]
    async fn create_run(
        &self,
        shard: &std::sync::Arc<crate::shard::Shard>,
        namespace_id: &str,
        req: &StartWorkflowExecutionRequest,
        signal: Option<&StartSignal>,
        condition: CurrentCondition,
        parent: Option<&ParentInfo>,
        update: Option<&UpdateRequest>,
    ) -> Result<
        (
            String,
            Option<i64>,
            Option<Result<tokio::sync::watch::Receiver<crate::updates::Status>, ServiceError>>,
        ),
        PersistenceError,
    > {
        let run_id = uuid::Uuid::now_v7().to_string();
        let now = now_nanos();
        let mut backoff = positive(req.workflow_start_delay.as_ref());
        if backoff.is_none() && !req.cron_schedule.is_empty() {
            // A cron workflow's first run waits for the first scheduled time.
            backoff = crate::chain::cron_backoff(&req.cron_schedule, now);
        }
        let dc = &self.config().dynamic_config;
        let scope = sundial_dynconfig::Scope::namespace(&req.namespace).with_namespace_id(namespace_id);
        let bounded = |requested: Option<PbDuration>, limit: std::time::Duration| {
            // The namespace's setting is the default and the upper bound (0: none).
            if limit.is_zero() {
                return requested;
            }
            let limit = sundial_common::time::duration_to_pb(limit);
            Some(match requested {
                Some(r) if nanos(&r) <= nanos(&limit) => r,
                _ => limit,
            })
        };
        let exec_timeout = bounded(
            positive(req.workflow_execution_timeout.as_ref()),
            dc.get(&sundial_dynconfig::keys::WORKFLOW_EXECUTION_TIMEOUT, &scope),
        );
        let run_timeout = bounded(
            positive(req.workflow_run_timeout.as_ref()),
            dc.get(&sundial_dynconfig::keys::WORKFLOW_RUN_TIMEOUT, &scope),
        );
        let task_timeout = positive(req.workflow_task_timeout.as_ref()).or_else(|| {
            Some(sundial_common::time::duration_to_pb(
                dc.get(&sundial_dynconfig::keys::WORKFLOW_TASK_TIMEOUT, &scope),
            ))
        });
        let spec = RunSpec {
            namespace_id: namespace_id.to_owned(),
            namespace: req.namespace.clone(),
            workflow_id: req.workflow_id.clone(),
            run_id: run_id.clone(),
            request_id: req.request_id.clone(),
            workflow_type: req.workflow_type.as_ref().map(|t| t.name.clone()).unwrap_or_default(),
            task_queue: req.task_queue.as_ref().map(|t| t.name.clone()).unwrap_or_default(),
            input: req.input.clone(),
            execution_timeout: exec_timeout,
            run_timeout,
            task_timeout,
            identity: req.identity.clone(),
            retry_policy: req.retry_policy.clone(),
            cron_schedule: req.cron_schedule.clone(),
            memo: req.memo.clone(),
            search_attributes: req.search_attributes.clone(),
            header: req.header.clone(),
            priority: req.priority.clone(),
            user_metadata: req.user_metadata.clone(),
            backoff,
            first_execution_run_id: run_id.clone(),
            continued_execution_run_id: String::new(),
            initiator: ContinueAsNewInitiator::Unspecified,
            attempt: 1,
            // A schedule passes on what its last workflow ended with.
            continued_failure: req.continued_failure.clone(),
            last_completion_result: req.last_completion_result.clone(),
            execution_expiration: exec_timeout.map(|e| {
                now.saturating_add(backoff.as_ref().map_or(0, nanos))
                    .saturating_add(nanos(&e))
            }),
            parent: parent.cloned(),
            completion_callbacks: req.completion_callbacks.clone(),
            links: req.links.clone(),
        };
        let (ms, events, tasks) = build_run(&spec, signal, now, &self.config().dynamic_config);
        let run = crate::shard::RunKey::new(namespace_id, req.workflow_id.clone(), run_id.clone());
        let current = CurrentExecution {
            run_id: run_id.clone(),
            create_request_id: req.request_id.clone(),
            status: WorkflowExecutionStatus::Running as i32,
            start_time: now,
        };
        // The first workflow task, unless a start delay or cron wait puts it off.
        let first_task = ms.workflow_task.as_ref().map(|wt| wt.scheduled_event_id);
        let mut admitted = None;
        shard
            .create_then(&run, ms, events, tasks, condition, current, |entry| {
                if let Some(request) = update {
                    let nonce = entry.updates.nonce();
                    // A new run: its history holds no updates to read back.
                    entry.updates.lock().loaded = true;
                    admitted = Some(crate::updates::find_or_admit(&entry.updates, request, nonce).map(|(rx, _)| rx));
                }
            })
            .await?;
        tracing::debug!(workflow_id = %req.workflow_id, %run_id, "workflow started");
        Ok((run_id, first_task, admitted))
    }
}

/// A start that found the workflow running with USE_EXISTING attaches to that run what its
/// `on_conflict_options` ask for (its request id, completion callbacks, links), in one
/// WorkflowExecutionOptionsUpdated event; once per request id.
fn attach_to_run(
    m: &mut crate::mutation::Mutation<'_>,
    req: &StartWorkflowExecutionRequest,
    options: &sundial_api::temporal::workflow::v1::OnConflictOptions,
) -> Result<(), ServiceError> {
    if !m.is_running() || m.info_ref().attached_request_ids.contains(&req.request_id) {
        return Ok(());
    }
    let callbacks = if options.attach_completion_callbacks {
        req.completion_callbacks.clone()
    } else {
        Vec::new()
    };
    if m.info_ref().callbacks.len() + callbacks.len() > 32 {
        return Err(ServiceError::FailedPrecondition(format!(
            "cannot attach more than 32 callbacks to a workflow ({} callbacks already attached)",
            m.info_ref().callbacks.len()
        )));
    }
    let now = m.now;
    let mut records = crate::nexus::callbacks::register(&callbacks, &req.request_id, now);
    for r in &mut records {
        r.attached = true;
    }
    let info = m.info();
    info.attached_request_ids.push(req.request_id.clone());
    info.callbacks.extend(records);
    let links = if options.attach_links {
        req.links.clone()
    } else {
        Vec::new()
    };
    // Workers need not act on it (worker_may_ignore), as in Temporal.
    m.add_or_buffer_with(
        Attributes::WorkflowExecutionOptionsUpdatedEventAttributes(
            sundial_api::temporal::history::v1::WorkflowExecutionOptionsUpdatedEventAttributes {
                attached_request_id: req.request_id.clone(),
                attached_completion_callbacks: callbacks,
                identity: req.identity.clone(),
                ..Default::default()
            },
        ),
        |e| {
            e.links = links;
            e.worker_may_ignore = true;
        },
    );
    Ok(())
}

/// Everything that defines a new run, whether started by a client or by its predecessor
/// (continue-as-new, retry, cron).
#[derive(Clone, Debug, Default)]
pub(crate) struct RunSpec {
    pub namespace_id: String,
    pub namespace: String,
    pub workflow_id: String,
    pub run_id: String,
    pub request_id: String,
    pub workflow_type: String,
    pub task_queue: String,
    pub input: Option<Payloads>,
    pub execution_timeout: Option<PbDuration>,
    pub run_timeout: Option<PbDuration>,
    pub task_timeout: Option<PbDuration>,
    pub identity: String,
    pub retry_policy: Option<RetryPolicy>,
    pub cron_schedule: String,
    pub memo: Option<Memo>,
    pub search_attributes: Option<SearchAttributes>,
    pub header: Option<Header>,
    pub priority: Option<Priority>,
    /// Summary and details for UIs, shown on `WorkflowExecutionStarted` (first run only).
    pub user_metadata: Option<sundial_api::temporal::sdk::v1::UserMetadata>,
    /// Delay before the first workflow task (start delay, retry backoff, cron wait).
    pub backoff: Option<PbDuration>,
    pub first_execution_run_id: String,
    pub continued_execution_run_id: String,
    pub initiator: ContinueAsNewInitiator,
    pub attempt: i32,
    pub continued_failure: Option<Failure>,
    pub last_completion_result: Option<Payloads>,
    /// Deadline of the whole chain (execution timeout), nanoseconds.
    pub execution_expiration: Option<i64>,
    pub parent: Option<ParentInfo>,
    /// Called when the chain closes (a Nexus operation's handler workflow); first run only.
    pub completion_callbacks: Vec<sundial_api::temporal::common::v1::Callback>,
    /// Links to what caused the start (the caller's Nexus operation), on the started event.
    pub links: Vec<sundial_api::temporal::common::v1::Link>,
}

/// The callbacks as the started event shows them (header keys lower-cased).
fn ms_callbacks(
    callbacks: &[sundial_api::temporal::common::v1::Callback],
) -> Vec<sundial_api::temporal::common::v1::Callback> {
    callbacks
        .iter()
        .cloned()
        .map(crate::nexus::callbacks::lowercase_header)
        .collect()
}

/// Builds a new run's mutable state, first events and tasks.
pub(crate) fn build_run(
    spec: &RunSpec,
    signal: Option<&StartSignal>,
    now: i64,
    dc: &sundial_dynconfig::DynamicConfig,
) -> (
    WorkflowMutableState,
    Vec<sundial_api::temporal::history::v1::HistoryEvent>,
    Vec<crate::mutation::PendingTask>,
) {
    let execution_time = now.saturating_add(spec.backoff.as_ref().map_or(0, nanos));
    let exec_timeout = spec.execution_timeout;
    let mut run_timeout = spec.run_timeout.or(exec_timeout);
    if let (Some(e), Some(r)) = (exec_timeout, run_timeout)
        && nanos(&r) > nanos(&e)
    {
        run_timeout = Some(e);
    }
    let mut task_timeout = spec.task_timeout.unwrap_or(DEFAULT_WORKFLOW_TASK_TIMEOUT);
    if task_timeout.seconds > MAX_WORKFLOW_TASK_TIMEOUT_SECS {
        task_timeout = PbDuration {
            seconds: MAX_WORKFLOW_TASK_TIMEOUT_SECS,
            nanos: 0,
        };
    }
    if let Some(r) = run_timeout
        && nanos(&task_timeout) > nanos(&r)
    {
        task_timeout = r;
    }
    let ts = sundial_common::time::nanos_to_timestamp;
    let parent = spec.parent.clone().unwrap_or_default();
    let exec_deadline = spec.execution_expiration;
    let mut run_deadline = run_timeout.map(|r| execution_time.saturating_add(nanos(&r)));
    if let (Some(r), Some(e)) = (run_deadline, exec_deadline)
        && r >= e
    {
        // The run would outlive the chain: the execution timeout is what fires.
        run_deadline = None;
    }
    let mut ms = WorkflowMutableState {
        info: Some(ExecutionInfo {
            namespace_id: spec.namespace_id.clone(),
            namespace: spec.namespace.clone(),
            workflow_id: spec.workflow_id.clone(),
            run_id: spec.run_id.clone(),
            first_execution_run_id: spec.first_execution_run_id.clone(),
            workflow_type: spec.workflow_type.clone(),
            task_queue: spec.task_queue.clone(),
            execution_timeout: exec_timeout,
            run_timeout,
            task_timeout: Some(task_timeout),
            status: WorkflowExecutionStatus::Running as i32,
            start_time: Some(ts(now)),
            execution_time: Some(ts(execution_time)),
            next_event_id: 1,
            create_request_id: spec.request_id.clone(),
            retry_policy: spec.retry_policy.clone(),
            cron_schedule: spec.cron_schedule.clone(),
            memo: spec.memo.clone(),
            search_attributes: spec.search_attributes.clone(),
            attempt: spec.attempt.max(1),
            execution_expiration_time: exec_deadline.map(ts),
            run_expiration_time: run_deadline.map(ts),
            header: spec.header.clone(),
            input: spec.input.clone(),
            requested_run_timeout: spec.run_timeout,
            last_completion_result: spec.last_completion_result.clone(),
            parent_namespace_id: parent.namespace_id.clone(),
            parent_namespace: parent.namespace.clone(),
            parent_workflow_id: parent.workflow_id.clone(),
            parent_run_id: parent.run_id.clone(),
            parent_initiated_event_id: parent.initiated_event_id,
            root_workflow_id: parent.root_workflow_id.clone(),
            root_run_id: parent.root_run_id.clone(),
            user_metadata: spec.user_metadata.clone(),
            callbacks: crate::nexus::callbacks::register(&spec.completion_callbacks, &spec.request_id, ts(now)),
            ..Default::default()
        }),
        ..Default::default()
    };
    let mut m = Mutation::new(&mut ms, now, dc.clone());
    m.add_event(Attributes::WorkflowExecutionStartedEventAttributes(
        WorkflowExecutionStartedEventAttributes {
            workflow_type: Some(WorkflowType {
                name: spec.workflow_type.clone(),
            }),
            task_queue: Some(TaskQueue {
                name: spec.task_queue.clone(),
                kind: TaskQueueKind::Normal as i32,
                normal_name: String::new(),
            }),
            input: spec.input.clone(),
            workflow_execution_timeout: exec_timeout,
            workflow_run_timeout: run_timeout,
            workflow_task_timeout: Some(task_timeout),
            continued_execution_run_id: spec.continued_execution_run_id.clone(),
            initiator: spec.initiator as i32,
            continued_failure: spec.continued_failure.clone(),
            last_completion_result: spec.last_completion_result.clone(),
            original_execution_run_id: spec.run_id.clone(),
            identity: spec.identity.clone(),
            first_execution_run_id: spec.first_execution_run_id.clone(),
            retry_policy: spec.retry_policy.clone(),
            attempt: spec.attempt.max(1),
            workflow_execution_expiration_time: exec_deadline.map(ts),
            cron_schedule: spec.cron_schedule.clone(),
            first_workflow_task_backoff: spec.backoff,
            memo: spec.memo.clone(),
            search_attributes: spec.search_attributes.clone(),
            header: spec.header.clone(),
            workflow_id: spec.workflow_id.clone(),
            priority: spec.priority.clone(),
            completion_callbacks: ms_callbacks(&spec.completion_callbacks),
            parent_workflow_namespace: parent.namespace.clone(),
            parent_workflow_namespace_id: parent.namespace_id.clone(),
            parent_workflow_execution: spec.parent.as_ref().map(|p| WorkflowExecution {
                workflow_id: p.workflow_id.clone(),
                run_id: p.run_id.clone(),
            }),
            parent_initiated_event_id: parent.initiated_event_id,
            root_workflow_execution: Some(WorkflowExecution {
                workflow_id: if parent.root_workflow_id.is_empty() {
                    spec.workflow_id.clone()
                } else {
                    parent.root_workflow_id.clone()
                },
                run_id: if parent.root_run_id.is_empty() {
                    spec.first_execution_run_id.clone()
                } else {
                    parent.root_run_id.clone()
                },
            }),
            ..Default::default()
        },
    ));
    if let Some(started) = m.events.last_mut() {
        started.user_metadata = spec.user_metadata.clone();
        // A link the callbacks carry already is not repeated on the event (as Temporal does).
        let callback_links: Vec<_> = spec.completion_callbacks.iter().flat_map(|c| c.links.iter()).collect();
        started.links = spec
            .links
            .iter()
            .filter(|l| !callback_links.contains(l))
            .cloned()
            .collect();
    }
    if let Some(s) = signal {
        m.add_event(Attributes::WorkflowExecutionSignaledEventAttributes(
            WorkflowExecutionSignaledEventAttributes {
                signal_name: s.name.clone(),
                input: s.input.clone(),
                identity: s.identity.clone(),
                header: s.header.clone(),
                ..Default::default()
            },
        ));
        if let Some(signaled) = m.events.last_mut() {
            signaled.links = s.links.clone();
        }
    }
    match spec.backoff {
        Some(_) => m.timer_at(
            execution_time,
            TimerTask {
                r#type: TimerTaskType::WorkflowBackoff as i32,
                ..Default::default()
            },
        ),
        None => m.schedule_workflow_task(1),
    }
    if let Some(r) = run_deadline {
        m.timer_at(
            r,
            TimerTask {
                r#type: TimerTaskType::WorkflowRunTimeout as i32,
                ..Default::default()
            },
        );
    }
    if let Some(e) = exec_deadline {
        m.timer_at(
            e,
            TimerTask {
                r#type: TimerTaskType::WorkflowExecutionTimeout as i32,
                ..Default::default()
            },
        );
    }
    m.visibility();
    let (events, tasks) = (std::mem::take(&mut m.events), std::mem::take(&mut m.tasks));
    (ms, events, tasks)
}

/// The parent of a child workflow, recorded in the child's run: the internal API's message, so
/// a child started on another history host carries it unchanged.
pub(crate) type ParentInfo = sundial_api::sundial::historyservice::v1::ParentExecution;

enum Decision {
    Replace,
    Existing { started: bool },
}
