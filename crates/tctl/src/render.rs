//! Public API messages as JSON (camelCase keys, enum names, RFC 3339 times, `"10s"`
//! durations, payloads decoded) and the small text helpers the tables share.

use crate::payload::{decode, decode_all};
use serde_json::{Map, Value, json};
use sundial_api::prost_wkt_types::{Duration, Timestamp};
use sundial_api::temporal::enums::v1 as enums;
use sundial_api::temporal::failure::v1::{Failure, failure::FailureInfo};
use sundial_api::temporal::history::v1::{HistoryEvent, history_event::Attributes};
use sundial_api::temporal::schedule::v1 as sched;
use sundial_api::temporal::workflow::v1::WorkflowExecutionInfo;
use sundial_api::workflowservice::v1::{
    DescribeNamespaceResponse, DescribeScheduleResponse, DescribeWorkflowExecutionResponse,
};

pub fn time(ts: Option<&Timestamp>) -> Value {
    ts.and_then(|t| chrono::DateTime::from_timestamp(t.seconds, t.nanos.max(0) as u32))
        .map(|t| Value::String(t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)))
        .unwrap_or(Value::Null)
}

/// A timestamp for tables: `2006-01-02T15:04:05Z`, or only the time of day for today's.
pub fn time_text(ts: Option<&Timestamp>, full: bool) -> String {
    let Some(t) = ts.and_then(|t| chrono::DateTime::from_timestamp(t.seconds, t.nanos.max(0) as u32)) else {
        return String::new();
    };
    if !full && t.date_naive() == chrono::Utc::now().date_naive() {
        t.format("%H:%M:%S").to_string()
    } else {
        t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
    }
}

/// Proto-JSON duration: `"86400s"`, `"0.500s"`.
pub fn duration(d: Option<&Duration>) -> Value {
    d.map(|d| {
        if d.nanos == 0 {
            Value::String(format!("{}s", d.seconds))
        } else {
            Value::String(format!("{}.{:09}s", d.seconds, d.nanos).replace("000s", "s"))
        }
    })
    .unwrap_or(Value::Null)
}

/// A Go-style duration, as tctl prints retention: `72h0m0s`, `1m30s`, `500ms`.
pub fn go_duration(d: Option<&Duration>) -> String {
    let Some(d) = d else { return "0s".into() };
    let total = d.seconds;
    if total == 0 && d.nanos > 0 {
        return format!("{}ms", d.nanos / 1_000_000);
    }
    let (h, m, s) = (total / 3600, (total % 3600) / 60, total % 60);
    if h > 0 {
        format!("{h}h{m}m{s}s")
    } else if m > 0 {
        format!("{m}m{s}s")
    } else {
        format!("{s}s")
    }
}

macro_rules! enum_name {
    ($fn:ident, $ty:ty) => {
        pub fn $fn(v: i32) -> String {
            <$ty>::try_from(v)
                .map(|e| e.as_str_name().to_owned())
                .unwrap_or_else(|_| v.to_string())
        }
    };
}
enum_name!(status_name, enums::WorkflowExecutionStatus);
enum_name!(event_type_full, enums::EventType);
enum_name!(namespace_state, enums::NamespaceState);
enum_name!(archival_state, enums::ArchivalState);
enum_name!(retry_state, enums::RetryState);
enum_name!(indexed_value_type, enums::IndexedValueType);
enum_name!(pending_activity_state, enums::PendingActivityState);

/// `EVENT_TYPE_WORKFLOW_EXECUTION_STARTED` → `WorkflowExecutionStarted` (tctl's spelling).
pub fn event_type_short(v: i32) -> String {
    camel(event_type_full(v).trim_start_matches("EVENT_TYPE_"))
}

/// `WORKFLOW_EXECUTION_STATUS_COMPLETED` → `Completed`.
pub fn status_short(v: i32) -> String {
    camel(status_name(v).trim_start_matches("WORKFLOW_EXECUTION_STATUS_"))
}

fn camel(upper_snake: &str) -> String {
    upper_snake
        .split('_')
        .map(|w| {
            let mut c = w.chars();
            c.next()
                .map(|f| f.to_string() + &c.as_str().to_lowercase())
                .unwrap_or_default()
        })
        .collect()
}

pub fn failure(f: Option<&Failure>) -> Value {
    let Some(f) = f else { return Value::Null };
    let mut m = Map::new();
    m.insert("message".into(), json!(f.message));
    if !f.source.is_empty() {
        m.insert("source".into(), json!(f.source));
    }
    if !f.stack_trace.is_empty() {
        m.insert("stackTrace".into(), json!(f.stack_trace));
    }
    match &f.failure_info {
        Some(FailureInfo::ApplicationFailureInfo(a)) => {
            m.insert(
                "applicationFailureInfo".into(),
                json!({ "type": a.r#type, "nonRetryable": a.non_retryable, "details": decode_all(a.details.as_ref()) }),
            );
        }
        Some(FailureInfo::TimeoutFailureInfo(t)) => {
            let kind = enums::TimeoutType::try_from(t.timeout_type)
                .map(|e| e.as_str_name())
                .unwrap_or("");
            m.insert("timeoutFailureInfo".into(), json!({ "timeoutType": kind }));
        }
        Some(FailureInfo::CanceledFailureInfo(c)) => {
            m.insert(
                "canceledFailureInfo".into(),
                json!({ "details": decode_all(c.details.as_ref()) }),
            );
        }
        Some(FailureInfo::TerminatedFailureInfo(_)) => {
            m.insert("terminatedFailureInfo".into(), json!({}));
        }
        Some(FailureInfo::ActivityFailureInfo(a)) => {
            m.insert(
                "activityFailureInfo".into(),
                json!({ "activityId": a.activity_id, "activityType": a.activity_type.as_ref().map(|t| t.name.clone()),
                        "retryState": retry_state(a.retry_state) }),
            );
        }
        Some(other) => {
            m.insert("failureInfo".into(), json!(format!("{other:?}")));
        }
        None => {}
    }
    if let Some(cause) = f.cause.as_deref() {
        m.insert("cause".into(), failure(Some(cause)));
    }
    Value::Object(m)
}

fn tq(t: Option<&sundial_api::temporal::taskqueue::v1::TaskQueue>) -> Value {
    t.map(|t| json!(t.name)).unwrap_or(Value::Null)
}

/// The attributes of an event; the common ones field by field, the rest as their debug text.
pub fn event_attributes(attrs: Option<&Attributes>) -> Value {
    use Attributes as A;
    let Some(attrs) = attrs else { return Value::Null };
    match attrs {
        A::WorkflowExecutionStartedEventAttributes(a) => json!({
            "workflowType": a.workflow_type.as_ref().map(|t| t.name.clone()),
            "taskQueue": tq(a.task_queue.as_ref()),
            "input": decode_all(a.input.as_ref()),
            "workflowExecutionTimeout": duration(a.workflow_execution_timeout.as_ref()),
            "workflowRunTimeout": duration(a.workflow_run_timeout.as_ref()),
            "workflowTaskTimeout": duration(a.workflow_task_timeout.as_ref()),
            "attempt": a.attempt,
            "cronSchedule": a.cron_schedule,
            "firstExecutionRunId": a.first_execution_run_id,
            "originalExecutionRunId": a.original_execution_run_id,
            "continuedExecutionRunId": a.continued_execution_run_id,
            "identity": a.identity,
        }),
        A::WorkflowExecutionCompletedEventAttributes(a) => json!({
            "result": decode_all(a.result.as_ref()),
            "workflowTaskCompletedEventId": a.workflow_task_completed_event_id,
            "newExecutionRunId": a.new_execution_run_id,
        }),
        A::WorkflowExecutionFailedEventAttributes(a) => json!({
            "failure": failure(a.failure.as_ref()),
            "retryState": retry_state(a.retry_state),
            "workflowTaskCompletedEventId": a.workflow_task_completed_event_id,
            "newExecutionRunId": a.new_execution_run_id,
        }),
        A::WorkflowExecutionTimedOutEventAttributes(a) => json!({
            "retryState": retry_state(a.retry_state),
            "newExecutionRunId": a.new_execution_run_id,
        }),
        A::WorkflowExecutionCanceledEventAttributes(a) => json!({
            "details": decode_all(a.details.as_ref()),
            "workflowTaskCompletedEventId": a.workflow_task_completed_event_id,
        }),
        A::WorkflowExecutionTerminatedEventAttributes(a) => json!({
            "reason": a.reason, "details": decode_all(a.details.as_ref()), "identity": a.identity,
        }),
        A::WorkflowExecutionContinuedAsNewEventAttributes(a) => json!({
            "newExecutionRunId": a.new_execution_run_id,
            "workflowType": a.workflow_type.as_ref().map(|t| t.name.clone()),
            "taskQueue": tq(a.task_queue.as_ref()),
            "input": decode_all(a.input.as_ref()),
        }),
        A::WorkflowExecutionSignaledEventAttributes(a) => json!({
            "signalName": a.signal_name, "input": decode_all(a.input.as_ref()), "identity": a.identity,
        }),
        A::WorkflowExecutionCancelRequestedEventAttributes(a) => json!({
            "cause": a.cause, "identity": a.identity,
        }),
        A::WorkflowTaskScheduledEventAttributes(a) => json!({
            "taskQueue": tq(a.task_queue.as_ref()),
            "startToCloseTimeout": duration(a.start_to_close_timeout.as_ref()),
            "attempt": a.attempt,
        }),
        A::WorkflowTaskStartedEventAttributes(a) => json!({
            "scheduledEventId": a.scheduled_event_id, "identity": a.identity, "requestId": a.request_id,
        }),
        A::WorkflowTaskCompletedEventAttributes(a) => json!({
            "scheduledEventId": a.scheduled_event_id, "startedEventId": a.started_event_id, "identity": a.identity,
        }),
        A::WorkflowTaskTimedOutEventAttributes(a) => json!({
            "scheduledEventId": a.scheduled_event_id, "startedEventId": a.started_event_id,
        }),
        A::WorkflowTaskFailedEventAttributes(a) => json!({
            "scheduledEventId": a.scheduled_event_id, "startedEventId": a.started_event_id,
            "cause": enums::WorkflowTaskFailedCause::try_from(a.cause).map(|c| c.as_str_name()).unwrap_or(""),
            "failure": failure(a.failure.as_ref()), "identity": a.identity,
        }),
        A::ActivityTaskScheduledEventAttributes(a) => json!({
            "activityId": a.activity_id,
            "activityType": a.activity_type.as_ref().map(|t| t.name.clone()),
            "taskQueue": tq(a.task_queue.as_ref()),
            "input": decode_all(a.input.as_ref()),
            "scheduleToCloseTimeout": duration(a.schedule_to_close_timeout.as_ref()),
            "scheduleToStartTimeout": duration(a.schedule_to_start_timeout.as_ref()),
            "startToCloseTimeout": duration(a.start_to_close_timeout.as_ref()),
            "heartbeatTimeout": duration(a.heartbeat_timeout.as_ref()),
            "workflowTaskCompletedEventId": a.workflow_task_completed_event_id,
        }),
        A::ActivityTaskStartedEventAttributes(a) => json!({
            "scheduledEventId": a.scheduled_event_id, "identity": a.identity, "attempt": a.attempt,
        }),
        A::ActivityTaskCompletedEventAttributes(a) => json!({
            "result": decode_all(a.result.as_ref()), "scheduledEventId": a.scheduled_event_id,
            "startedEventId": a.started_event_id, "identity": a.identity,
        }),
        A::ActivityTaskFailedEventAttributes(a) => json!({
            "failure": failure(a.failure.as_ref()), "scheduledEventId": a.scheduled_event_id,
            "startedEventId": a.started_event_id, "retryState": retry_state(a.retry_state),
        }),
        A::ActivityTaskTimedOutEventAttributes(a) => json!({
            "failure": failure(a.failure.as_ref()), "scheduledEventId": a.scheduled_event_id,
            "startedEventId": a.started_event_id, "retryState": retry_state(a.retry_state),
        }),
        A::TimerStartedEventAttributes(a) => json!({
            "timerId": a.timer_id, "startToFireTimeout": duration(a.start_to_fire_timeout.as_ref()),
        }),
        A::TimerFiredEventAttributes(a) => json!({ "timerId": a.timer_id, "startedEventId": a.started_event_id }),
        A::TimerCanceledEventAttributes(a) => json!({ "timerId": a.timer_id, "startedEventId": a.started_event_id }),
        A::MarkerRecordedEventAttributes(a) => json!({ "markerName": a.marker_name }),
        other => json!({ "debug": format!("{other:?}") }),
    }
}

pub fn event(e: &HistoryEvent) -> Value {
    json!({
        "eventId": e.event_id,
        "eventTime": time(e.event_time.as_ref()),
        "eventType": event_type_short(e.event_type),
        "taskId": e.task_id,
        "attributes": event_attributes(e.attributes.as_ref()),
    })
}

/// The payload map of memo or search attributes as a JSON object.
pub fn payload_map(
    fields: Option<&std::collections::HashMap<String, sundial_api::temporal::common::v1::Payload>>,
) -> Value {
    let mut m = Map::new();
    if let Some(fields) = fields {
        let mut keys: Vec<_> = fields.keys().collect();
        keys.sort();
        for k in keys {
            m.insert(k.clone(), decode(&fields[k]));
        }
    }
    Value::Object(m)
}

pub fn memo(e: &WorkflowExecutionInfo) -> Value {
    payload_map(e.memo.as_ref().map(|m| &m.fields))
}

pub fn search_attributes(e: &WorkflowExecutionInfo) -> Value {
    payload_map(e.search_attributes.as_ref().map(|s| &s.indexed_fields))
}

pub fn execution_info(e: &WorkflowExecutionInfo) -> Value {
    let exec = e.execution.as_ref();
    json!({
        "execution": {
            "workflowId": exec.map(|x| x.workflow_id.clone()).unwrap_or_default(),
            "runId": exec.map(|x| x.run_id.clone()).unwrap_or_default(),
        },
        "type": { "name": e.r#type.as_ref().map(|t| t.name.clone()).unwrap_or_default() },
        "startTime": time(e.start_time.as_ref()),
        "closeTime": time(e.close_time.as_ref()),
        "executionTime": time(e.execution_time.as_ref()),
        "status": status_name(e.status),
        "historyLength": e.history_length,
        "taskQueue": e.task_queue,
        "memo": memo(e),
        "searchAttributes": search_attributes(e),
        "stateTransitionCount": e.state_transition_count,
        "historySizeBytes": e.history_size_bytes,
        "firstRunId": e.first_run_id,
    })
}

pub fn describe_workflow(d: &DescribeWorkflowExecutionResponse) -> Value {
    let cfg = d.execution_config.as_ref();
    let pending: Vec<Value> = d
        .pending_activities
        .iter()
        .map(|p| {
            json!({
                "activityId": p.activity_id,
                "activityType": p.activity_type.as_ref().map(|t| t.name.clone()),
                "state": pending_activity_state(p.state),
                "attempt": p.attempt,
                "maximumAttempts": p.maximum_attempts,
                "scheduledTime": time(p.scheduled_time.as_ref()),
                "lastStartedTime": time(p.last_started_time.as_ref()),
                "lastHeartbeatTime": time(p.last_heartbeat_time.as_ref()),
                "heartbeatDetails": decode_all(p.heartbeat_details.as_ref()),
                "lastFailure": failure(p.last_failure.as_ref()),
                "lastWorkerIdentity": p.last_worker_identity,
            })
        })
        .collect();
    let children: Vec<Value> = d
        .pending_children
        .iter()
        .map(|c| json!({ "workflowId": c.workflow_id, "runId": c.run_id, "workflowTypeName": c.workflow_type_name }))
        .collect();
    json!({
        "executionConfig": {
            "taskQueue": tq(cfg.and_then(|c| c.task_queue.as_ref())),
            "workflowExecutionTimeout": duration(cfg.and_then(|c| c.workflow_execution_timeout.as_ref())),
            "workflowRunTimeout": duration(cfg.and_then(|c| c.workflow_run_timeout.as_ref())),
            "defaultWorkflowTaskTimeout": duration(cfg.and_then(|c| c.default_workflow_task_timeout.as_ref())),
        },
        "workflowExecutionInfo": d.workflow_execution_info.as_ref().map(execution_info),
        "pendingActivities": pending,
        "pendingChildren": children,
        "pendingWorkflowTask": d.pending_workflow_task.as_ref().map(|t| json!({
            "state": t.state, "attempt": t.attempt,
            "scheduledTime": time(t.scheduled_time.as_ref()), "startedTime": time(t.started_time.as_ref()),
        })),
    })
}

pub fn namespace(ns: &DescribeNamespaceResponse) -> Value {
    let info = ns.namespace_info.as_ref();
    let cfg = ns.config.as_ref();
    let repl = ns.replication_config.as_ref();
    let mut data: Vec<_> = info.map(|i| i.data.iter().collect()).unwrap_or_default();
    data.sort();
    let bad: Map<String, Value> = cfg
        .and_then(|c| c.bad_binaries.as_ref())
        .map(|b| {
            b.binaries
                .iter()
                .map(|(k, v)| {
                    (k.clone(), json!({ "reason": v.reason, "operator": v.operator, "createTime": time(v.create_time.as_ref()) }))
                })
                .collect()
        })
        .unwrap_or_default();
    json!({
        "namespaceInfo": {
            "name": info.map(|i| i.name.clone()).unwrap_or_default(),
            "id": info.map(|i| i.id.clone()).unwrap_or_default(),
            "state": info.map(|i| namespace_state(i.state)),
            "description": info.map(|i| i.description.clone()).unwrap_or_default(),
            "ownerEmail": info.map(|i| i.owner_email.clone()).unwrap_or_default(),
            "data": data.into_iter().map(|(k, v)| (k.clone(), json!(v))).collect::<Map<_, _>>(),
        },
        "config": {
            "workflowExecutionRetentionTtl": duration(cfg.and_then(|c| c.workflow_execution_retention_ttl.as_ref())),
            "historyArchivalState": cfg.map(|c| archival_state(c.history_archival_state)),
            "historyArchivalUri": cfg.map(|c| c.history_archival_uri.clone()).unwrap_or_default(),
            "visibilityArchivalState": cfg.map(|c| archival_state(c.visibility_archival_state)),
            "visibilityArchivalUri": cfg.map(|c| c.visibility_archival_uri.clone()).unwrap_or_default(),
            "badBinaries": bad,
        },
        "replicationConfig": {
            "activeClusterName": repl.map(|r| r.active_cluster_name.clone()).unwrap_or_default(),
            "clusters": repl.map(|r| r.clusters.iter().map(|c| c.cluster_name.clone()).collect::<Vec<_>>()).unwrap_or_default(),
        },
        "failoverVersion": ns.failover_version,
        "isGlobalNamespace": ns.is_global_namespace,
    })
}

// ---------------------------------------------------------------------------------------------
// schedules

enum_name!(overlap_policy_name, enums::ScheduleOverlapPolicy);

/// Structured ranges back in calendar-string form (`1-5/2,10`), as tctl shows a stored spec.
pub fn ranges_text(ranges: &[sched::Range]) -> String {
    ranges
        .iter()
        .map(|r| {
            let mut s = r.start.to_string();
            if r.end > r.start {
                s += &format!("-{}", r.end);
            }
            if r.step > 1 {
                s += &format!("/{}", r.step);
            }
            s
        })
        .collect::<Vec<_>>()
        .join(",")
}

fn calendar(c: &sched::CalendarSpec) -> Value {
    json!({
        "second": c.second, "minute": c.minute, "hour": c.hour, "dayOfMonth": c.day_of_month,
        "month": c.month, "year": c.year, "dayOfWeek": c.day_of_week, "comment": c.comment,
    })
}

fn structured_calendar(c: &sched::StructuredCalendarSpec) -> Value {
    let ranges = |rs: &[sched::Range]| -> Value {
        rs.iter()
            .map(|r| json!({ "start": r.start, "end": r.end, "step": r.step }))
            .collect()
    };
    json!({
        "second": ranges(&c.second), "minute": ranges(&c.minute), "hour": ranges(&c.hour),
        "dayOfMonth": ranges(&c.day_of_month), "month": ranges(&c.month), "year": ranges(&c.year),
        "dayOfWeek": ranges(&c.day_of_week), "comment": c.comment,
    })
}

/// The calendar-string form of a structured calendar.
pub fn uncanonical_calendar(c: &sched::StructuredCalendarSpec) -> sched::CalendarSpec {
    sched::CalendarSpec {
        second: ranges_text(&c.second),
        minute: ranges_text(&c.minute),
        hour: ranges_text(&c.hour),
        day_of_month: ranges_text(&c.day_of_month),
        month: ranges_text(&c.month),
        year: ranges_text(&c.year),
        day_of_week: ranges_text(&c.day_of_week),
        comment: c.comment.clone(),
    }
}

/// A spec as JSON. `readable` shows the structured calendars the server stores as calendar
/// strings, the way tctl prints a schedule for people; otherwise the spec is as received.
// The deprecated `exclude_calendar` is still shown: an older client may have set it.
#[allow(deprecated)]
pub fn schedule_spec(spec: Option<&sched::ScheduleSpec>, readable: bool) -> Value {
    let Some(s) = spec else { return Value::Null };
    let mut calendars: Vec<Value> = s.calendar.iter().map(calendar).collect();
    let mut m = Map::new();
    if readable {
        calendars.extend(s.structured_calendar.iter().map(|c| calendar(&uncanonical_calendar(c))));
        let excluded: Vec<Value> = s
            .exclude_calendar
            .iter()
            .cloned()
            .chain(s.exclude_structured_calendar.iter().map(uncanonical_calendar))
            .map(|c| calendar(&c))
            .collect();
        m.insert("excludeCalendar".into(), Value::Array(excluded));
    } else {
        m.insert(
            "structuredCalendar".into(),
            s.structured_calendar.iter().map(structured_calendar).collect(),
        );
        m.insert(
            "excludeCalendar".into(),
            s.exclude_calendar.iter().map(calendar).collect(),
        );
        m.insert(
            "excludeStructuredCalendar".into(),
            s.exclude_structured_calendar.iter().map(structured_calendar).collect(),
        );
    }
    m.insert("calendar".into(), Value::Array(calendars));
    m.insert("cronString".into(), json!(s.cron_string));
    m.insert(
        "interval".into(),
        s.interval
            .iter()
            .map(|i| json!({ "interval": duration(i.interval.as_ref()), "phase": duration(i.phase.as_ref()) }))
            .collect(),
    );
    m.insert("startTime".into(), time(s.start_time.as_ref()));
    m.insert("endTime".into(), time(s.end_time.as_ref()));
    m.insert("jitter".into(), duration(s.jitter.as_ref()));
    m.insert("timezoneName".into(), json!(s.timezone_name));
    Value::Object(m)
}

fn retry_policy(p: Option<&sundial_api::temporal::common::v1::RetryPolicy>) -> Value {
    p.map(|p| {
        json!({
            "initialInterval": duration(p.initial_interval.as_ref()),
            "backoffCoefficient": p.backoff_coefficient,
            "maximumInterval": duration(p.maximum_interval.as_ref()),
            "maximumAttempts": p.maximum_attempts,
            "nonRetryableErrorTypes": p.non_retryable_error_types,
        })
    })
    .unwrap_or(Value::Null)
}

pub fn start_workflow(w: &sundial_api::temporal::workflow::v1::NewWorkflowExecutionInfo) -> Value {
    json!({
        "workflowId": w.workflow_id,
        "workflowType": { "name": w.workflow_type.as_ref().map(|t| t.name.clone()).unwrap_or_default() },
        "taskQueue": tq(w.task_queue.as_ref()),
        "input": decode_all(w.input.as_ref()),
        "workflowExecutionTimeout": duration(w.workflow_execution_timeout.as_ref()),
        "workflowRunTimeout": duration(w.workflow_run_timeout.as_ref()),
        "workflowTaskTimeout": duration(w.workflow_task_timeout.as_ref()),
        "retryPolicy": retry_policy(w.retry_policy.as_ref()),
        "memo": payload_map(w.memo.as_ref().map(|m| &m.fields)),
        "searchAttributes": payload_map(w.search_attributes.as_ref().map(|s| &s.indexed_fields)),
    })
}

pub fn schedule_action(a: Option<&sched::ScheduleAction>) -> Value {
    match a.and_then(|a| a.action.as_ref()) {
        Some(sched::schedule_action::Action::StartWorkflow(w)) => json!({ "startWorkflow": start_workflow(w) }),
        None => Value::Null,
    }
}

pub fn schedule_policies(p: Option<&sched::SchedulePolicies>) -> Value {
    p.map(|p| {
        json!({
            "overlapPolicy": overlap_policy_name(p.overlap_policy),
            "catchupWindow": duration(p.catchup_window.as_ref()),
            "pauseOnFailure": p.pause_on_failure,
            "keepOriginalWorkflowId": p.keep_original_workflow_id,
        })
    })
    .unwrap_or(Value::Null)
}

pub fn schedule_state(s: Option<&sched::ScheduleState>) -> Value {
    s.map(|s| {
        json!({
            "notes": s.notes, "paused": s.paused,
            "limitedActions": s.limited_actions, "remainingActions": s.remaining_actions,
        })
    })
    .unwrap_or(Value::Null)
}

pub fn workflow_execution(e: Option<&sundial_api::temporal::common::v1::WorkflowExecution>) -> Value {
    e.map(|e| json!({ "workflowId": e.workflow_id, "runId": e.run_id }))
        .unwrap_or(Value::Null)
}

pub fn schedule_action_result(r: &sched::ScheduleActionResult) -> Value {
    json!({
        "scheduleTime": time(r.schedule_time.as_ref()),
        "actualTime": time(r.actual_time.as_ref()),
        "startWorkflowResult": workflow_execution(r.start_workflow_result.as_ref()),
        "startWorkflowStatus": status_name(r.start_workflow_status),
    })
}

// The deprecated `invalid_schedule_error` is still shown: tctl lists it, and a server may set it.
#[allow(deprecated)]
pub fn schedule_info(i: Option<&sched::ScheduleInfo>) -> Value {
    let Some(i) = i else { return Value::Null };
    json!({
        "actionCount": i.action_count,
        "missedCatchupWindow": i.missed_catchup_window,
        "overlapSkipped": i.overlap_skipped,
        "bufferDropped": i.buffer_dropped,
        "bufferSize": i.buffer_size,
        "runningWorkflows": i.running_workflows.iter().map(|e| workflow_execution(Some(e))).collect::<Vec<_>>(),
        "recentActions": i.recent_actions.iter().map(schedule_action_result).collect::<Vec<_>>(),
        "futureActionTimes": i.future_action_times.iter().map(|t| time(Some(t))).collect::<Vec<_>>(),
        "createTime": time(i.create_time.as_ref()),
        "updateTime": time(i.update_time.as_ref()),
        "invalidScheduleError": i.invalid_schedule_error,
    })
}

pub fn schedule(s: Option<&sched::Schedule>) -> Value {
    let Some(s) = s else { return Value::Null };
    json!({
        "spec": schedule_spec(s.spec.as_ref(), false),
        "action": schedule_action(s.action.as_ref()),
        "policies": schedule_policies(s.policies.as_ref()),
        "state": schedule_state(s.state.as_ref()),
    })
}

/// The whole DescribeSchedule answer, for `--print_raw`.
pub fn describe_schedule(d: &DescribeScheduleResponse) -> Value {
    json!({
        "schedule": schedule(d.schedule.as_ref()),
        "info": schedule_info(d.info.as_ref()),
        "memo": payload_map(d.memo.as_ref().map(|m| &m.fields)),
        "searchAttributes": payload_map(d.search_attributes.as_ref().map(|s| &s.indexed_fields)),
        "conflictToken": crate::payload::base64(&d.conflict_token),
    })
}

/// Drops nulls, empty strings and empty containers, for terse text output.
pub fn compact(v: Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.into_iter()
                .map(|(k, v)| (k, compact(v)))
                .filter(|(_, v)| match v {
                    Value::Null => false,
                    Value::String(s) => !s.is_empty(),
                    Value::Object(o) => !o.is_empty(),
                    Value::Array(a) => !a.is_empty(),
                    _ => true,
                })
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.into_iter().map(compact).collect()),
        other => other,
    }
}

/// Cuts a field to `max` characters (0 = no limit), as tctl's --max_field_length does.
pub fn truncate(s: String, max: usize) -> String {
    if max == 0 || s.chars().count() <= max {
        s
    } else {
        s.chars().take(max).collect::<String>() + "..."
    }
}

pub fn print_json(v: &Value) {
    outln!("{}", serde_json::to_string_pretty(v).unwrap_or_else(|_| v.to_string()));
}

/// Prints rows under upper-case headers, columns separated by ` | ` (tctl's table layout).
pub fn print_table(headers: &[&str], rows: &[Vec<String>]) {
    let upper: Vec<String> = headers.iter().map(|h| h.to_uppercase()).collect();
    print_aligned(&upper, rows, " | ");
}

/// Prints rows under headers kept as given, columns separated by spaces: the layout of the
/// newer tctl commands (schedules), whose headers are field names such as `ScheduleId`.
pub fn print_columns(headers: &[&str], rows: &[Vec<String>]) {
    let headers: Vec<String> = headers.iter().map(|h| h.to_string()).collect();
    print_aligned(&headers, rows, "  ");
}

fn print_aligned(headers: &[String], rows: &[Vec<String>], separator: &str) {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            if i < widths.len() {
                widths[i] = widths[i].max(cell.chars().count());
            }
        }
    }
    let line = |cells: &[String]| {
        let padded: Vec<String> = cells
            .iter()
            .enumerate()
            .map(|(i, c)| format!("{c:<w$}", w = widths.get(i).copied().unwrap_or(0)))
            .collect();
        outln!("  {}", padded.join(separator).trim_end());
    };
    line(headers);
    for row in rows {
        line(row);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_and_names() {
        let d = |s, n| Duration { seconds: s, nanos: n };
        assert_eq!(go_duration(Some(&d(259_200, 0))), "72h0m0s");
        assert_eq!(go_duration(Some(&d(90, 0))), "1m30s");
        assert_eq!(duration(Some(&d(86_400, 0))), json!("86400s"));
        assert_eq!(duration(Some(&d(0, 500_000_000))), json!("0.500000s"));
        assert_eq!(
            event_type_short(enums::EventType::WorkflowExecutionStarted as i32),
            "WorkflowExecutionStarted"
        );
        assert_eq!(
            status_short(enums::WorkflowExecutionStatus::ContinuedAsNew as i32),
            "ContinuedAsNew"
        );
    }
}
