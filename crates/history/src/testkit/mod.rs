//! A run's state machine without a database: build a run in memory, drive it through the same
//! transition functions the shard runs (each one `Mutation` over the state, at a fixed clock),
//! and look at the events and outbox tasks each transition produced.
//!
//! `Run::step` does what `Shard::update` does around a transition that touches no database:
//! it drops everything on an error, and after success it applies the bookkeeping of a commit
//! (history size and batch count, transition count, update-registry effects). It also checks
//! that every transition's events continue the run's history without a gap.

// A test that finds `None` where it expects a value should fail right there.
#![allow(clippy::unwrap_used)]

mod activity_ops_tests;
mod activity_tests;
mod chain_tests;
mod command_tests;
mod nexus_tests;
mod signal_tests;
mod standalone_tests;
mod start_tests;
mod timer_tests;
mod update_tests;
mod workflow_task_tests;

use crate::chain::NewRun;
use crate::mutation::{Mutation, PendingTask};
use crate::start::{RunSpec, StartSignal, build_run};
use crate::updates::{Effect, Registry};
use crate::workflow_task::StartedTask;
use prost_wkt_types::Duration as PbDuration;
use sundial_api::sundial::historyservice::v1::RecordWorkflowTaskStartedRequest;
use sundial_api::sundial::persistence::v1::{
    ExecutionInfo, TimerTask, TimerTaskType, TransferTask, TransferTaskType, WorkflowMutableState, WorkflowTaskInfo,
};
use sundial_api::sundial::token::v1::TaskToken;
use sundial_api::temporal::command::v1::{Command, command::Attributes as Cmd};
use sundial_api::temporal::common::v1::{ActivityType, Payload, Payloads};
use sundial_api::temporal::enums::v1::{CommandType, EventType, WorkflowTaskFailedCause};
use sundial_api::temporal::failure::v1::{ApplicationFailureInfo, Failure, failure::FailureInfo};
use sundial_api::temporal::history::v1::HistoryEvent;
use sundial_api::temporal::taskqueue::v1::TaskQueue;
use sundial_api::workflowservice::v1::{PollWorkflowTaskQueueRequest, RespondWorkflowTaskCompletedRequest};
use sundial_common::ServiceError;

/// The fixed clock every run starts at (nanoseconds since the epoch).
pub(crate) const T0: i64 = 1_700_000_000_000_000_000;
pub(crate) const SEC: i64 = 1_000_000_000;

pub(crate) const NAMESPACE: &str = "default";
pub(crate) const NAMESPACE_ID: &str = "ns-id";
pub(crate) const WORKFLOW_ID: &str = "wf-id";
pub(crate) const RUN_ID: &str = "run-1";
pub(crate) const TASK_QUEUE: &str = "tq";
pub(crate) const WORKER: &str = "worker-1";

/// The attributes of an event as the given variant; panics (naming what it got) otherwise.
macro_rules! attrs {
    ($event:expr, $variant:ident) => {
        match $event.attributes.as_ref() {
            Some(sundial_api::temporal::history::v1::history_event::Attributes::$variant(a)) => a,
            other => panic!("expected {} but the event holds {:?}", stringify!($variant), other),
        }
    };
}
pub(crate) use attrs;

pub(crate) fn secs(s: i64) -> PbDuration {
    PbDuration { seconds: s, nanos: 0 }
}

pub(crate) fn payloads(text: &str) -> Payloads {
    Payloads {
        payloads: vec![payload(text)],
    }
}

pub(crate) fn payload(text: &str) -> Payload {
    Payload {
        metadata: [("encoding".to_owned(), b"json/plain".to_vec())].into(),
        data: text.as_bytes().to_vec(),
        ..Default::default()
    }
}

pub(crate) fn app_failure(message: &str, non_retryable: bool) -> Failure {
    Failure {
        message: message.to_owned(),
        failure_info: Some(FailureInfo::ApplicationFailureInfo(ApplicationFailureInfo {
            r#type: "MyError".into(),
            non_retryable,
            ..Default::default()
        })),
        ..Default::default()
    }
}

/// A client's start request, as `create_run` turns it into a spec (no timeouts, no backoff).
pub(crate) fn spec() -> RunSpec {
    RunSpec {
        namespace_id: NAMESPACE_ID.into(),
        namespace: NAMESPACE.into(),
        workflow_id: WORKFLOW_ID.into(),
        run_id: RUN_ID.into(),
        request_id: "start-request".into(),
        workflow_type: "MyWorkflow".into(),
        task_queue: TASK_QUEUE.into(),
        input: Some(payloads("\"in\"")),
        task_timeout: Some(secs(10)),
        identity: "client".into(),
        first_execution_run_id: RUN_ID.into(),
        attempt: 1,
        ..Default::default()
    }
}

/// What one transition produced.
#[derive(Default)]
pub(crate) struct Step {
    pub events: Vec<HistoryEvent>,
    pub tasks: Vec<PendingTask>,
    pub closed: Option<i32>,
    pub new_run: Option<NewRun>,
    /// The update-registry effects of the transition (applied to `Run::updates` on commit).
    pub effects: Vec<Effect>,
    /// The same effects, described (`{:?}`), kept after they were applied.
    pub effect_names: Vec<String>,
}

impl Step {
    pub fn types(&self) -> Vec<EventType> {
        types(&self.events)
    }

    pub fn transfers(&self) -> Vec<&TransferTask> {
        self.tasks
            .iter()
            .filter_map(|t| match t {
                PendingTask::Transfer(t) => Some(t),
                _ => None,
            })
            .collect()
    }

    pub fn transfer_types(&self) -> Vec<TransferTaskType> {
        self.transfers()
            .iter()
            .map(|t| TransferTaskType::try_from(t.r#type).unwrap_or_default())
            .collect()
    }

    /// Timer tasks with the time they fire at.
    pub fn timers(&self) -> Vec<(i64, &TimerTask)> {
        self.tasks
            .iter()
            .filter_map(|t| match t {
                PendingTask::Timer { fire_at, task } => Some((*fire_at, task)),
                _ => None,
            })
            .collect()
    }

    pub fn timer_types(&self) -> Vec<TimerTaskType> {
        self.timers()
            .iter()
            .map(|(_, t)| TimerTaskType::try_from(t.r#type).unwrap_or_default())
            .collect()
    }

    /// The one timer task of type `t`, with its fire time.
    pub fn timer(&self, t: TimerTaskType) -> (i64, TimerTask) {
        let found: Vec<_> = self
            .timers()
            .into_iter()
            .filter(|(_, x)| x.r#type == t as i32)
            .collect();
        assert_eq!(found.len(), 1, "expected one {t:?} timer in {:?}", self.timer_types());
        (found[0].0, found[0].1.clone())
    }

    pub fn has_visibility(&self) -> bool {
        self.tasks.iter().any(|t| matches!(t, PendingTask::Visibility))
    }
}

pub(crate) fn types(events: &[HistoryEvent]) -> Vec<EventType> {
    events
        .iter()
        .map(|e| EventType::try_from(e.event_type).unwrap_or_default())
        .collect()
}

/// One run in memory, and everything its transitions wrote so far.
pub(crate) struct Run {
    pub ms: WorkflowMutableState,
    pub now: i64,
    pub dc: sundial_dynconfig::DynamicConfig,
    /// The run's update registry (shared, as the shard's cache entry holds it).
    pub updates: std::sync::Arc<Registry>,
    /// Every event written, in order.
    pub history: Vec<HistoryEvent>,
    /// Every timer task created, in order, with its fire time.
    pub timers: Vec<(i64, TimerTask)>,
    /// The last transition's output.
    pub last: Step,
    requests: u64,
}

impl Run {
    pub fn start() -> Run {
        Self::start_with(spec())
    }

    pub fn start_with(spec: RunSpec) -> Run {
        Self::build(&spec, None)
    }

    pub fn signal_with_start(spec: RunSpec, name: &str) -> Run {
        let signal = StartSignal {
            name: name.into(),
            input: Some(payloads("\"sig\"")),
            header: None,
            identity: "client".into(),
            links: Vec::new(),
        };
        Self::build(&spec, Some(&signal))
    }

    fn build(spec: &RunSpec, signal: Option<&StartSignal>) -> Run {
        let dc = sundial_dynconfig::DynamicConfig::default();
        let (ms, events, tasks) = build_run(spec, signal, T0, &dc);
        Self::from_parts(ms, events, tasks, T0, dc)
    }

    /// The run a transition created to follow this one (continue-as-new, retry, cron).
    pub fn successor(&mut self) -> Run {
        let next = self
            .last
            .new_run
            .take()
            .expect("the last transition started no new run");
        Self::from_parts(next.ms, next.events, next.tasks, self.now, self.dc.clone())
    }

    fn from_parts(
        ms: WorkflowMutableState,
        events: Vec<HistoryEvent>,
        tasks: Vec<PendingTask>,
        now: i64,
        dc: sundial_dynconfig::DynamicConfig,
    ) -> Run {
        let mut run = Run {
            ms,
            now,
            dc,
            updates: std::sync::Arc::default(),
            history: Vec::new(),
            timers: Vec::new(),
            last: Step::default(),
            requests: 0,
        };
        run.commit(Step {
            events,
            tasks,
            ..Default::default()
        });
        run
    }

    pub fn info(&self) -> &ExecutionInfo {
        self.ms.info.as_ref().expect("run has no info")
    }

    /// The pending workflow task.
    pub fn wt(&self) -> &WorkflowTaskInfo {
        self.ms.workflow_task.as_ref().expect("no workflow task is pending")
    }

    pub fn advance(&mut self, nanos: i64) {
        self.now += nanos;
    }

    /// One transition, as `Shard::update` runs it: on error nothing of it is kept.
    pub fn step<R>(&mut self, f: impl FnOnce(&mut Mutation<'_>) -> Result<R, ServiceError>) -> Result<R, ServiceError> {
        let before = self.ms.clone();
        let mut m = Mutation::new(&mut self.ms, self.now, self.dc.clone());
        let result = f(&mut m);
        let step = Step {
            events: std::mem::take(&mut m.events),
            tasks: std::mem::take(&mut m.tasks),
            closed: m.closed,
            new_run: m.new_run.take(),
            effects: std::mem::take(&mut m.update_effects),
            ..Default::default()
        };
        drop(m);
        match result {
            Ok(r) => {
                self.commit(step);
                Ok(r)
            }
            Err(e) => {
                self.ms = before;
                self.last = Step::default();
                Err(e)
            }
        }
    }

    /// The bookkeeping of a commit (see `shard::prepare` and `Shard::update`).
    fn commit(&mut self, mut step: Step) {
        let first = self.history.len() as i64 + 1;
        for (i, e) in step.events.iter().enumerate() {
            assert_eq!(
                e.event_id,
                first + i as i64,
                "events must continue the history without a gap: {:?}",
                types(&step.events)
            );
        }
        let info = self.ms.info.get_or_insert_with(Default::default);
        assert_eq!(
            info.next_event_id,
            first + step.events.len() as i64,
            "next_event_id follows the last event written"
        );
        info.state_transition_count += 1;
        if !step.events.is_empty() {
            let batch = sundial_api::temporal::history::v1::History {
                events: step.events.clone(),
            };
            info.history_size_bytes += sundial_api::prost::Message::encoded_len(&batch) as i64;
            info.history_batch_count += 1;
        }
        let mut effects = std::mem::take(&mut step.effects);
        if step.closed.is_some() && !effects.iter().any(|e| matches!(e, Effect::RunClosed { .. })) {
            effects.push(Effect::RunClosed {
                continuing: step.new_run.is_some(),
            });
        }
        step.effect_names = effects.iter().map(|e| format!("{e:?}")).collect();
        crate::updates::apply(&self.updates, effects);
        self.history.extend(step.events.iter().cloned());
        self.timers
            .extend(step.timers().into_iter().map(|(at, t)| (at, t.clone())));
        self.last = step;
    }

    fn next_request_id(&mut self) -> String {
        self.requests += 1;
        format!("request-{}", self.requests)
    }

    // --- workflow tasks ---

    /// A poller takes the pending workflow task (`RecordWorkflowTaskStarted`).
    pub fn start_wt(&mut self) -> StartedTask {
        let request_id = self.next_request_id();
        self.try_start_wt(&request_id).expect("start workflow task")
    }

    pub fn try_start_wt(&mut self, request_id: &str) -> Result<StartedTask, ServiceError> {
        let wt = self.wt().clone();
        let req = RecordWorkflowTaskStartedRequest {
            namespace_id: NAMESPACE_ID.into(),
            scheduled_event_id: wt.scheduled_event_id,
            request_id: request_id.into(),
            ..Default::default()
        };
        let poll = PollWorkflowTaskQueueRequest {
            namespace: NAMESPACE.into(),
            task_queue: Some(TaskQueue {
                name: wt.task_queue.clone(),
                kind: wt.task_queue_kind,
                normal_name: String::new(),
            }),
            identity: WORKER.into(),
            ..Default::default()
        };
        let partial = wt.task_queue_kind == sundial_api::temporal::enums::v1::TaskQueueKind::Sticky as i32;
        let registry = self.updates.clone();
        self.step(|m| crate::workflow_task::record_started(m, &registry, &req, &poll, partial))
    }

    /// The token a worker holds for the started workflow task.
    pub fn wt_token(&self) -> TaskToken {
        let wt = self.wt();
        TaskToken {
            namespace_id: NAMESPACE_ID.into(),
            workflow_id: self.info().workflow_id.clone(),
            run_id: self.info().run_id.clone(),
            scheduled_event_id: wt.scheduled_event_id,
            started_event_id: wt.started_event_id,
            attempt: wt.attempt,
            workflow_task_stamp: wt.stamp,
            ..Default::default()
        }
    }

    pub fn completion(&self, commands: Vec<Command>) -> RespondWorkflowTaskCompletedRequest {
        RespondWorkflowTaskCompletedRequest {
            task_token: crate::token::encode(&self.wt_token()),
            commands,
            identity: WORKER.into(),
            namespace: NAMESPACE.into(),
            ..Default::default()
        }
    }

    /// The worker completes the started workflow task with `commands`.
    pub fn complete_wt(&mut self, commands: Vec<Command>) {
        let req = self.completion(commands);
        self.complete_wt_with(req).expect("complete workflow task");
    }

    /// `RespondWorkflowTaskCompleted`: returns the task handed straight back, if any, and the
    /// event id a discarded speculative task resets the worker to.
    pub fn complete_wt_with(
        &mut self,
        req: RespondWorkflowTaskCompletedRequest,
    ) -> Result<(Option<StartedTask>, i64), ServiceError> {
        let tok = crate::token::decode(&req.task_token)?;
        let registry = self.updates.clone();
        self.step(|m| crate::workflow_task::complete_task(m, &registry, &tok, &req))
    }

    /// Starts the pending workflow task and completes it with `commands`.
    pub fn run_wt(&mut self, commands: Vec<Command>) {
        self.start_wt();
        self.complete_wt(commands);
    }

    /// `RespondWorkflowTaskFailed` for the started task.
    pub fn fail_wt(&mut self, cause: WorkflowTaskFailedCause) {
        let tok = self.wt_token();
        self.step(|m| {
            crate::workflow_task::check_token(m, &tok)?;
            crate::workflow_task::fail_task(m, cause, Some(app_failure("worker panic", false)), WORKER, "");
            Ok(())
        })
        .expect("fail workflow task");
    }

    // --- activities ---

    /// A poller takes the activity's current attempt (`RecordActivityTaskStarted`).
    pub fn start_activity(&mut self, scheduled_event_id: i64) {
        let request_id = self.next_request_id();
        self.step(|m| crate::activity::start_attempt(m, scheduled_event_id, &request_id, "activity-worker"))
            .expect("start activity");
    }

    /// The token of the activity's current attempt.
    pub fn activity_token(&self, scheduled_event_id: i64) -> TaskToken {
        let act = &self.ms.activities[&scheduled_event_id];
        TaskToken {
            namespace_id: NAMESPACE_ID.into(),
            workflow_id: self.info().workflow_id.clone(),
            run_id: self.info().run_id.clone(),
            scheduled_event_id,
            attempt: act.attempt,
            activity_id: act.activity_id.clone(),
            activity_type: act.activity_type.clone(),
            ..Default::default()
        }
    }

    /// A worker reports how the current attempt ended (`RespondActivityTask*`).
    pub fn finish_activity(
        &mut self,
        scheduled_event_id: i64,
        outcome: crate::activity::Outcome,
    ) -> Result<bool, ServiceError> {
        let tok = self.activity_token(scheduled_event_id);
        self.step(|m| {
            let act = crate::activity::find(m, &tok)?;
            Ok(crate::activity::finish_attempt(m, act, outcome, "activity-worker"))
        })
    }

    pub fn complete_activity(&mut self, scheduled_event_id: i64, result: &str) {
        self.finish_activity(
            scheduled_event_id,
            crate::activity::Outcome::Completed(Some(payloads(result))),
        )
        .expect("complete activity");
    }

    pub fn fail_activity(&mut self, scheduled_event_id: i64, failure: Failure) {
        self.finish_activity(
            scheduled_event_id,
            crate::activity::Outcome::Failed {
                failure: Box::new(failure),
                details: None,
            },
        )
        .expect("fail activity");
    }

    /// Heartbeats the running attempt; returns whether cancellation was requested.
    pub fn heartbeat(&mut self, scheduled_event_id: i64) -> bool {
        self.heartbeat_answer(scheduled_event_id).cancel_requested
    }

    pub fn heartbeat_answer(&mut self, scheduled_event_id: i64) -> crate::activity::HeartbeatAnswer {
        let tok = self.activity_token(scheduled_event_id);
        self.step(|m| crate::activity::heartbeat(m, &tok, Some(payloads("\"progress\""))))
            .expect("heartbeat")
    }

    // --- timers ---

    /// Moves the clock to the task's time and fires it, as the timer queue does.
    pub fn fire(&mut self, (fire_at, task): &(i64, TimerTask)) {
        self.now = self.now.max(*fire_at);
        self.step(|m| {
            if m.is_running() {
                crate::timers::apply(m, task);
            }
            Ok(())
        })
        .expect("fire timer");
    }

    /// The last timer task created of this type (and timeout type, for timeouts).
    pub fn timer(
        &self,
        t: TimerTaskType,
        timeout: Option<sundial_api::temporal::enums::v1::TimeoutType>,
    ) -> (i64, TimerTask) {
        self.timers
            .iter()
            .rev()
            .find(|(_, x)| x.r#type == t as i32 && timeout.is_none_or(|k| x.timeout_type == k as i32))
            .cloned()
            .unwrap_or_else(|| panic!("no {t:?} {timeout:?} timer among {:?}", self.timers))
    }

    // --- requests from outside ---

    pub fn signal(&mut self, name: &str) {
        self.signal_with_id(name, "").expect("signal");
    }

    pub fn signal_with_id(&mut self, name: &str, request_id: &str) -> Result<(), ServiceError> {
        let s = crate::signals::Signal {
            name: name.into(),
            input: Some(payloads("\"sig\"")),
            header: None,
            identity: "signaler".into(),
            request_id: request_id.into(),
            external: None,
            links: Vec::new(),
        };
        self.step(|m| crate::signals::signal_in(m, &s))
    }

    pub fn cancel(&mut self) {
        self.step(|m| crate::signals::request_cancel_in(m, "please stop", "canceler"))
            .expect("cancel");
    }

    /// `TerminateWorkflowExecution`, as `HistoryEngine::terminate` applies it.
    pub fn terminate(&mut self, reason: &str) {
        self.step(|m| {
            if !m.is_running() {
                return Err(ServiceError::NotFound("workflow execution already completed".into()));
            }
            crate::signals::terminate_in(m, reason, None, "terminator");
            Ok(())
        })
        .expect("terminate");
    }
}

/// Commands a worker sends.
pub(crate) mod cmd {
    use super::*;
    use sundial_api::temporal::command::v1::*;
    use sundial_api::temporal::common::v1::{SearchAttributes, WorkflowExecution, WorkflowType};

    fn command(t: CommandType, attrs: Cmd) -> Command {
        Command {
            command_type: t as i32,
            attributes: Some(attrs),
            ..Default::default()
        }
    }

    pub fn schedule_activity(id: &str, start_to_close: i64) -> Command {
        schedule_activity_with(ScheduleActivityTaskCommandAttributes {
            activity_id: id.into(),
            activity_type: Some(ActivityType {
                name: "MyActivity".into(),
            }),
            input: Some(payloads("\"act-in\"")),
            start_to_close_timeout: Some(secs(start_to_close)),
            ..Default::default()
        })
    }

    pub fn schedule_activity_with(a: ScheduleActivityTaskCommandAttributes) -> Command {
        command(
            CommandType::ScheduleActivityTask,
            Cmd::ScheduleActivityTaskCommandAttributes(a),
        )
    }

    pub fn request_cancel_activity(scheduled_event_id: i64) -> Command {
        command(
            CommandType::RequestCancelActivityTask,
            Cmd::RequestCancelActivityTaskCommandAttributes(RequestCancelActivityTaskCommandAttributes {
                scheduled_event_id,
            }),
        )
    }

    pub fn start_timer(id: &str, after: i64) -> Command {
        command(
            CommandType::StartTimer,
            Cmd::StartTimerCommandAttributes(StartTimerCommandAttributes {
                timer_id: id.into(),
                start_to_fire_timeout: Some(secs(after)),
            }),
        )
    }

    pub fn cancel_timer(id: &str) -> Command {
        command(
            CommandType::CancelTimer,
            Cmd::CancelTimerCommandAttributes(CancelTimerCommandAttributes { timer_id: id.into() }),
        )
    }

    pub fn complete(result: &str) -> Command {
        command(
            CommandType::CompleteWorkflowExecution,
            Cmd::CompleteWorkflowExecutionCommandAttributes(CompleteWorkflowExecutionCommandAttributes {
                result: Some(payloads(result)),
            }),
        )
    }

    pub fn fail(message: &str) -> Command {
        command(
            CommandType::FailWorkflowExecution,
            Cmd::FailWorkflowExecutionCommandAttributes(FailWorkflowExecutionCommandAttributes {
                failure: Some(app_failure(message, false)),
            }),
        )
    }

    pub fn cancel_workflow() -> Command {
        command(
            CommandType::CancelWorkflowExecution,
            Cmd::CancelWorkflowExecutionCommandAttributes(CancelWorkflowExecutionCommandAttributes {
                details: Some(payloads("\"bye\"")),
            }),
        )
    }

    pub fn continue_as_new(a: ContinueAsNewWorkflowExecutionCommandAttributes) -> Command {
        command(
            CommandType::ContinueAsNewWorkflowExecution,
            Cmd::ContinueAsNewWorkflowExecutionCommandAttributes(a),
        )
    }

    pub fn start_child(workflow_id: &str) -> Command {
        command(
            CommandType::StartChildWorkflowExecution,
            Cmd::StartChildWorkflowExecutionCommandAttributes(StartChildWorkflowExecutionCommandAttributes {
                workflow_id: workflow_id.into(),
                workflow_type: Some(WorkflowType { name: "Child".into() }),
                input: Some(payloads("\"child-in\"")),
                ..Default::default()
            }),
        )
    }

    pub fn signal_external(workflow_id: &str, signal: &str) -> Command {
        command(
            CommandType::SignalExternalWorkflowExecution,
            Cmd::SignalExternalWorkflowExecutionCommandAttributes(SignalExternalWorkflowExecutionCommandAttributes {
                execution: Some(WorkflowExecution {
                    workflow_id: workflow_id.into(),
                    run_id: String::new(),
                }),
                signal_name: signal.into(),
                input: Some(payloads("\"ext\"")),
                ..Default::default()
            }),
        )
    }

    pub fn cancel_external(workflow_id: &str) -> Command {
        command(
            CommandType::RequestCancelExternalWorkflowExecution,
            Cmd::RequestCancelExternalWorkflowExecutionCommandAttributes(
                RequestCancelExternalWorkflowExecutionCommandAttributes {
                    workflow_id: workflow_id.into(),
                    reason: "no longer needed".into(),
                    ..Default::default()
                },
            ),
        )
    }

    pub fn upsert_search_attributes(fields: &[(&str, &str)]) -> Command {
        command(
            CommandType::UpsertWorkflowSearchAttributes,
            Cmd::UpsertWorkflowSearchAttributesCommandAttributes(UpsertWorkflowSearchAttributesCommandAttributes {
                search_attributes: Some(SearchAttributes {
                    indexed_fields: fields.iter().map(|(k, v)| ((*k).to_owned(), payload(v))).collect(),
                }),
            }),
        )
    }

    pub fn record_marker(name: &str) -> Command {
        command(
            CommandType::RecordMarker,
            Cmd::RecordMarkerCommandAttributes(RecordMarkerCommandAttributes {
                marker_name: name.into(),
                details: [("data".to_owned(), payloads("\"v\""))].into(),
                ..Default::default()
            }),
        )
    }

    pub fn protocol_message(message_id: &str) -> Command {
        command(
            CommandType::ProtocolMessage,
            Cmd::ProtocolMessageCommandAttributes(ProtocolMessageCommandAttributes {
                message_id: message_id.into(),
            }),
        )
    }
}
