//! `Mutation`: one state transition of a run in the making. Handlers change the mutable state
//! through it; it numbers events, buffers those that arrive while a workflow task is running,
//! and collects the outbox tasks the transition must write. The shard then persists all of it
//! in one transaction.

use crate::events::new_event;

use prost_wkt_types::{Duration as PbDuration, Timestamp};
use sundial_api::sundial::persistence::v1::{
    ExecutionInfo, TimerTask, TimerTaskType, TransferTask, TransferTaskType, WorkflowMutableState, WorkflowTaskInfo,
};
use sundial_api::temporal::enums::v1::{TaskQueueKind, TimeoutType, WorkflowExecutionStatus};
use sundial_api::temporal::history::v1::history_event::Attributes;
use sundial_api::temporal::history::v1::{HistoryEvent, WorkflowTaskScheduledEventAttributes};
use sundial_api::temporal::taskqueue::v1::TaskQueue;
use sundial_common::time::duration_from_pb;

/// Default workflow task start-to-close timeout and its hard cap (Temporal's values).
pub(crate) const DEFAULT_WORKFLOW_TASK_TIMEOUT: PbDuration = PbDuration { seconds: 10, nanos: 0 };
pub(crate) const MAX_WORKFLOW_TASK_TIMEOUT_SECS: i64 = 120;

/// An outbox task before it has an id.
#[derive(Debug, Clone)]
pub(crate) enum PendingTask {
    Transfer(TransferTask),
    Timer { fire_at: i64, task: TimerTask },
    Visibility,
}

pub(crate) struct Mutation<'a> {
    pub ms: &'a mut WorkflowMutableState,
    pub now: Timestamp,
    pub now_nanos: i64,
    /// Events to append in this transition, numbered.
    pub events: Vec<HistoryEvent>,
    pub tasks: Vec<PendingTask>,
    /// Set when this transition closes the run (the new status).
    pub closed: Option<i32>,
    /// Changes to the run's update registry, applied once the transition commits (a close
    /// without a `RunClosed` among them gets one).
    pub update_effects: Vec<crate::updates::Effect>,
    /// The run that follows this one, created in the same transaction.
    pub new_run: Option<crate::chain::NewRun>,
    /// Live settings (defaults and limits per namespace).
    pub dc: sundial_dynconfig::DynamicConfig,
    /// The Nexus endpoints this transition's commands name, resolved before it began (the
    /// registry is in the database, and a transition does not wait on I/O).
    pub nexus_endpoints: crate::nexus::Endpoints,
}

impl<'a> Mutation<'a> {
    pub fn new(ms: &'a mut WorkflowMutableState, now_nanos: i64, dc: sundial_dynconfig::DynamicConfig) -> Self {
        Self {
            ms,
            now: sundial_common::time::nanos_to_timestamp(now_nanos),
            now_nanos,
            events: Vec::new(),
            tasks: Vec::new(),
            closed: None,
            update_effects: Vec::new(),
            new_run: None,
            dc,
            nexus_endpoints: Default::default(),
        }
    }

    pub fn info(&mut self) -> &mut ExecutionInfo {
        self.ms.info.get_or_insert_with(Default::default)
    }

    pub fn info_ref(&self) -> &ExecutionInfo {
        static EMPTY: std::sync::OnceLock<ExecutionInfo> = std::sync::OnceLock::new();
        self.ms
            .info
            .as_ref()
            .unwrap_or_else(|| EMPTY.get_or_init(ExecutionInfo::default))
    }

    /// The dynamic-config scope of this run's namespace.
    pub fn scope(&self) -> sundial_dynconfig::Scope<'_> {
        let info = self.info_ref();
        sundial_dynconfig::Scope::namespace(&info.namespace).with_namespace_id(&info.namespace_id)
    }

    pub fn is_running(&self) -> bool {
        self.info_ref().status == WorkflowExecutionStatus::Running as i32
    }

    /// A workflow task has been handed to a worker and not finished.
    pub fn workflow_task_started(&self) -> bool {
        self.ms.workflow_task.as_ref().is_some_and(|w| w.started_event_id != 0)
    }

    /// Appends an event now. A transient workflow task that is scheduled but not started is
    /// first made durable, since events may no longer be assumed to follow it directly.
    pub fn add_event(&mut self, attrs: Attributes) -> i64 {
        self.materialize_transient_schedule();
        self.push_event(attrs)
    }

    fn push_event(&mut self, attrs: Attributes) -> i64 {
        let info = self.info();
        let id = info.next_event_id;
        info.next_event_id += 1;
        let event = new_event(id, self.now, attrs);
        self.events.push(event);
        id
    }

    /// Events from outside the workflow (signals, activity results, timers) wait while a
    /// workflow task runs, and are written when it ends, after its commands' events.
    /// Returns the event id, or `None` when buffered (numbered when flushed).
    pub fn add_or_buffer(&mut self, attrs: Attributes) -> Option<i64> {
        self.add_or_buffer_with(attrs, |_| {})
    }

    /// `add_or_buffer` for an event that carries links to other executions.
    pub fn add_or_buffer_linked(&mut self, attrs: Attributes, links: Vec<sundial_api::temporal::common::v1::Link>) {
        self.add_or_buffer_with(attrs, |e| e.links = links);
    }

    /// `add_or_buffer` for an event SDKs that do not know it may skip (`worker_may_ignore`).
    pub fn add_or_buffer_ignorable(&mut self, attrs: Attributes) {
        self.add_or_buffer_with(attrs, |e| e.worker_may_ignore = true);
    }

    /// `add_or_buffer`, with `decorate` setting the event's other fields (links, flags).
    pub fn add_or_buffer_with(&mut self, attrs: Attributes, decorate: impl FnOnce(&mut HistoryEvent)) -> Option<i64> {
        if self.workflow_task_started() {
            let mut event = new_event(0, self.now, attrs);
            decorate(&mut event);
            self.ms.buffered_events.push(event);
            None
        } else {
            let id = self.add_event(attrs);
            if let Some(event) = self.events.last_mut() {
                decorate(event);
            }
            Some(id)
        }
    }

    pub fn flush_buffered(&mut self) -> bool {
        if self.ms.buffered_events.is_empty() {
            return false;
        }
        // Activity results buffered with their started event learn its id only now.
        let mut started_ids = std::collections::HashMap::new();
        for mut event in std::mem::take(&mut self.ms.buffered_events) {
            if let Some(mut attrs) = event.attributes.take() {
                fix_started_id(&mut attrs, &started_ids);
                let (scheduled, child) = match &attrs {
                    Attributes::ActivityTaskStartedEventAttributes(a) => (Some(a.scheduled_event_id), false),
                    Attributes::ChildWorkflowExecutionStartedEventAttributes(a) => (Some(a.initiated_event_id), true),
                    _ => (None, false),
                };
                let id = self.add_event(attrs);
                if let Some(scheduled) = scheduled {
                    started_ids.insert(scheduled, id);
                    if child && let Some(c) = self.ms.children.get_mut(&scheduled) {
                        c.started_event_id = id;
                    }
                }
                // Keep the time the event happened, not the time it was written.
                if let Some(last) = self.events.last_mut()
                    && last.event_id == id
                {
                    last.event_time = event.event_time;
                    last.links = std::mem::take(&mut event.links);
                    last.worker_may_ignore = event.worker_may_ignore;
                }
            }
        }
        true
    }

    fn materialize_transient_schedule(&mut self) {
        let Some(wt) = self.ms.workflow_task.as_ref() else {
            return;
        };
        if !wt.transient || wt.started_event_id != 0 {
            return;
        }
        let attrs = scheduled_attributes(wt, &self.info_ref().task_queue);
        if let Some(wt) = self.ms.workflow_task.as_mut() {
            wt.transient = false;
        }
        self.push_event(attrs);
    }

    /// Writes the scheduled and started events of a transient task that is now completing.
    pub fn materialize_transient_task(&mut self) {
        let Some(wt) = self.ms.workflow_task.clone() else {
            return;
        };
        if !wt.transient {
            return;
        }
        let normal = self.info_ref().task_queue.clone();
        self.push_event(scheduled_attributes(&wt, &normal));
        self.push_event(started_attributes(&wt));
        if let Some(w) = self.ms.workflow_task.as_mut() {
            w.transient = false;
        }
    }

    /// Schedules a workflow task unless one is pending. `attempt` > 1 makes it transient.
    pub fn schedule_workflow_task(&mut self, attempt: i32) {
        self.schedule_task(attempt, false);
    }

    /// Schedules a *speculative* workflow task (for an update): like a transient one, its
    /// scheduled and started events reach history only if its completion writes something.
    /// It is told apart from a transient retry by being transient on attempt 1.
    pub fn schedule_speculative_workflow_task(&mut self) {
        self.schedule_task(1, true);
    }

    /// The pending workflow task is speculative (see `schedule_speculative_workflow_task`).
    pub fn speculative_task(&self) -> bool {
        self.ms
            .workflow_task
            .as_ref()
            .is_some_and(|w| w.transient && w.attempt == 1)
    }

    fn schedule_task(&mut self, attempt: i32, speculative: bool) {
        if self.ms.workflow_task.is_some() || !self.is_running() {
            return;
        }
        let info = self.info_ref();
        let sticky = !info.sticky_task_queue.is_empty();
        let (queue, kind) = if sticky {
            (info.sticky_task_queue.clone(), TaskQueueKind::Sticky)
        } else {
            (info.task_queue.clone(), TaskQueueKind::Normal)
        };
        let timeout = info.task_timeout.unwrap_or(DEFAULT_WORKFLOW_TASK_TIMEOUT);
        let sticky_timeout = info.sticky_schedule_to_start_timeout;
        let stamp = info.workflow_task_stamp + 1;
        self.info().workflow_task_stamp = stamp;
        let transient = attempt > 1 || speculative;
        let mut wt = WorkflowTaskInfo {
            scheduled_event_id: 0,
            attempt,
            scheduled_time: Some(self.now),
            original_scheduled_time: Some(self.now),
            task_queue: queue.clone(),
            task_queue_kind: kind as i32,
            start_to_close_timeout: Some(timeout),
            stamp,
            transient,
            ..Default::default()
        };
        wt.scheduled_event_id = if transient {
            self.info_ref().next_event_id
        } else {
            let normal = self.info_ref().task_queue.clone();
            self.push_event(scheduled_attributes(&wt, &normal))
        };
        let scheduled_event_id = wt.scheduled_event_id;
        self.ms.workflow_task = Some(wt);
        self.transfer_workflow_task(
            scheduled_event_id,
            &queue,
            kind,
            if sticky { sticky_timeout } else { None },
            stamp,
        );
        if sticky && let Some(t) = sticky_timeout.as_ref().and_then(duration_from_pb) {
            self.timer_after(
                t,
                TimerTask {
                    r#type: TimerTaskType::WorkflowTaskTimeout as i32,
                    event_id: scheduled_event_id,
                    timeout_type: TimeoutType::ScheduleToStart as i32,
                    attempt,
                    stamp,
                    ..Default::default()
                },
            );
        }
    }

    pub fn transfer_workflow_task(
        &mut self,
        scheduled_event_id: i64,
        queue: &str,
        kind: TaskQueueKind,
        schedule_to_start: Option<PbDuration>,
        stamp: i64,
    ) {
        let task = self.transfer(TransferTaskType::WorkflowTask, scheduled_event_id);
        self.tasks.push(PendingTask::Transfer(TransferTask {
            task_queue: queue.to_owned(),
            task_queue_kind: kind as i32,
            schedule_to_start_timeout: schedule_to_start,
            stamp,
            ..task
        }));
    }

    pub fn transfer(&self, kind: TransferTaskType, scheduled_event_id: i64) -> TransferTask {
        let info = self.info_ref();
        TransferTask {
            r#type: kind as i32,
            namespace_id: info.namespace_id.clone(),
            workflow_id: info.workflow_id.clone(),
            run_id: info.run_id.clone(),
            scheduled_event_id,
            ..Default::default()
        }
    }

    /// Adds a timer task `after` from now, filling in the execution's identity.
    pub fn timer_after(&mut self, after: std::time::Duration, task: TimerTask) {
        let fire_at = self
            .now_nanos
            .saturating_add(i64::try_from(after.as_nanos()).unwrap_or(i64::MAX));
        self.timer_at(fire_at, task);
    }

    pub fn timer_at(&mut self, fire_at: i64, task: TimerTask) {
        let info = self.info_ref();
        let task = TimerTask {
            namespace_id: info.namespace_id.clone(),
            workflow_id: info.workflow_id.clone(),
            run_id: info.run_id.clone(),
            ..task
        };
        self.tasks.push(PendingTask::Timer { fire_at, task });
    }

    pub fn visibility(&mut self) {
        if !self.tasks.iter().any(|t| matches!(t, PendingTask::Visibility)) {
            self.tasks.push(PendingTask::Visibility);
        }
    }

    /// Marks a run that writes no events (a standalone activity) closed with `status`.
    pub fn close_without_event(&mut self, status: WorkflowExecutionStatus) {
        let now = self.now;
        let info = self.info();
        info.status = status as i32;
        info.close_time = Some(now);
        self.closed = Some(status as i32);
        self.visibility();
    }

    /// Writes the close event and marks the run closed with `status`. Pending work is dropped;
    /// buffered events are written first so nothing that happened is lost from history.
    pub fn close(&mut self, status: WorkflowExecutionStatus, attrs: Attributes) -> i64 {
        self.flush_buffered();
        let continuing = crate::nexus::callbacks::continues(status, &attrs);
        let id = self.add_event(attrs);
        let now = self.now;
        let info = self.info();
        info.status = status as i32;
        info.close_time = Some(now);
        info.completion_event_id = id;
        self.ms.workflow_task = None;
        self.closed = Some(status as i32);
        self.visibility();
        crate::children::on_close(self);
        crate::nexus::callbacks::on_close(self, continuing);
        id
    }
}

/// Placeholder for "the started event buffered just before this one".
pub(crate) const BUFFERED_STARTED_ID: i64 = -1;

fn fix_started_id(attrs: &mut Attributes, started: &std::collections::HashMap<i64, i64>) {
    let (scheduled, slot) = match attrs {
        Attributes::ActivityTaskCompletedEventAttributes(a) => (a.scheduled_event_id, &mut a.started_event_id),
        Attributes::ActivityTaskFailedEventAttributes(a) => (a.scheduled_event_id, &mut a.started_event_id),
        Attributes::ActivityTaskTimedOutEventAttributes(a) => (a.scheduled_event_id, &mut a.started_event_id),
        Attributes::ActivityTaskCanceledEventAttributes(a) => (a.scheduled_event_id, &mut a.started_event_id),
        Attributes::ChildWorkflowExecutionCompletedEventAttributes(a) => {
            (a.initiated_event_id, &mut a.started_event_id)
        }
        Attributes::ChildWorkflowExecutionFailedEventAttributes(a) => (a.initiated_event_id, &mut a.started_event_id),
        Attributes::ChildWorkflowExecutionCanceledEventAttributes(a) => (a.initiated_event_id, &mut a.started_event_id),
        Attributes::ChildWorkflowExecutionTimedOutEventAttributes(a) => (a.initiated_event_id, &mut a.started_event_id),
        Attributes::ChildWorkflowExecutionTerminatedEventAttributes(a) => {
            (a.initiated_event_id, &mut a.started_event_id)
        }
        _ => return,
    };
    if *slot == BUFFERED_STARTED_ID {
        *slot = started.get(&scheduled).copied().unwrap_or_default();
    }
}

pub(crate) fn scheduled_attributes(wt: &WorkflowTaskInfo, normal_queue: &str) -> Attributes {
    let kind = wt.task_queue_kind;
    Attributes::WorkflowTaskScheduledEventAttributes(WorkflowTaskScheduledEventAttributes {
        task_queue: Some(TaskQueue {
            name: wt.task_queue.clone(),
            kind,
            normal_name: if kind == TaskQueueKind::Sticky as i32 {
                normal_queue.to_owned()
            } else {
                String::new()
            },
        }),
        start_to_close_timeout: wt.start_to_close_timeout,
        attempt: wt.attempt,
    })
}

pub(crate) fn started_attributes(wt: &WorkflowTaskInfo) -> Attributes {
    Attributes::WorkflowTaskStartedEventAttributes(
        sundial_api::temporal::history::v1::WorkflowTaskStartedEventAttributes {
            scheduled_event_id: wt.scheduled_event_id,
            identity: wt.identity.clone(),
            request_id: wt.request_id.clone(),
            ..Default::default()
        },
    )
}

/// Merges upserted memo fields or search attributes into `current`, as Temporal does: a value
/// that is empty, JSON `null` or an empty JSON list removes the key.
pub(crate) fn merge_payloads(
    current: &mut std::collections::HashMap<String, sundial_api::temporal::common::v1::Payload>,
    upsert: &std::collections::HashMap<String, sundial_api::temporal::common::v1::Payload>,
) {
    for (key, value) in upsert {
        if matches!(value.data.as_slice(), b"" | b"null" | b"[]") {
            current.remove(key);
        } else {
            current.insert(key.clone(), value.clone());
        }
    }
}

/// The root of a run's chain of parents: recorded for children, the run itself otherwise.
pub(crate) fn root_execution(info: &ExecutionInfo) -> sundial_api::temporal::common::v1::WorkflowExecution {
    let (workflow_id, run_id) = if info.root_workflow_id.is_empty() {
        (&info.workflow_id, &info.run_id)
    } else {
        (&info.root_workflow_id, &info.root_run_id)
    };
    sundial_api::temporal::common::v1::WorkflowExecution {
        workflow_id: workflow_id.clone(),
        run_id: run_id.clone(),
    }
}
