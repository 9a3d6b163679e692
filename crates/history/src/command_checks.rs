//! Validation of command attributes before they are applied, with Temporal's rules
//! (`CommandAttrValidator` and the payload size checks of its workflow-task handler): ids and
//! names within `limit.maxIDLength`, durations valid and capped at 100 years, retry policies
//! and cron schedules valid, payloads within `limit.blobSize.error`.
//!
//! A bad attribute fails the workflow task with the command's cause; an oversized payload fails
//! it and terminates the run, as Temporal does.

use crate::commands::CommandFailure;
use prost_wkt_types::Duration as PbDuration;
use sundial_api::prost::Message;
use sundial_api::temporal::command::v1::{
    ContinueAsNewWorkflowExecutionCommandAttributes, RequestCancelExternalWorkflowExecutionCommandAttributes,
    ScheduleActivityTaskCommandAttributes, SignalExternalWorkflowExecutionCommandAttributes,
    StartChildWorkflowExecutionCommandAttributes, StartTimerCommandAttributes,
};
use sundial_api::temporal::common::v1::RetryPolicy;
use sundial_api::temporal::enums::v1::WorkflowTaskFailedCause as C;
use sundial_api::temporal::taskqueue::v1::TaskQueue;
use sundial_common::time::validate_and_cap_opt;

/// The limits a command is checked against.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Limits {
    /// `limit.maxIDLength` (bytes, as Temporal counts).
    pub max_id: usize,
    /// `limit.blobSize.error` (bytes; 0 or less: none).
    pub max_blob: i64,
}

impl Limits {
    pub(crate) fn of(m: &crate::mutation::Mutation<'_>) -> Limits {
        use sundial_dynconfig::{Scope, keys};
        Limits {
            max_id: usize::try_from(m.dc.get(&keys::MAX_ID_LENGTH, &Scope::global())).unwrap_or(usize::MAX),
            max_blob: m.dc.get(&keys::BLOB_SIZE_LIMIT_ERROR, &m.scope()),
        }
    }
}

fn bad(cause: C, message: String) -> CommandFailure {
    CommandFailure {
        cause,
        message,
        terminate: false,
    }
}

fn id_length(cause: C, command: &str, what: &str, value: &str, limits: Limits) -> Result<(), CommandFailure> {
    if value.len() > limits.max_id {
        return Err(bad(
            cause,
            format!(
                "{what} on {command} exceeds length limit. Length={} Limit={}",
                value.len(),
                limits.max_id
            ),
        ));
    }
    Ok(())
}

fn duration(cause: C, command: &str, what: &str, d: &mut Option<PbDuration>) -> Result<(), CommandFailure> {
    validate_and_cap_opt(d).map_err(|e| bad(cause, format!("Invalid {what} on {command}: {e}.")))
}

/// A payload over `limit.blobSize.error`: the task fails and the run is terminated.
fn payload<M: Message>(cause: C, what: &str, p: Option<&M>, limits: Limits) -> Result<(), CommandFailure> {
    let size = p.map_or(0, |p| p.encoded_len() as i64);
    if limits.max_blob > 0 && size > limits.max_blob {
        return Err(CommandFailure {
            cause,
            message: format!("{what} exceeds size limit."),
            terminate: true,
        });
    }
    Ok(())
}

fn run_id(cause: C, command: &str, id: &str) -> Result<(), CommandFailure> {
    if !id.is_empty() && uuid::Uuid::try_parse(id).is_err() {
        return Err(bad(cause, format!("Invalid RunId set on {command}. RunId={id}")));
    }
    Ok(())
}

/// A task queue given on a command: empty means the workflow's own.
fn task_queue(cause: C, command: &str, tq: Option<&TaskQueue>, limits: Limits) -> Result<(), CommandFailure> {
    let Some(name) = tq.map(|t| t.name.as_str()).filter(|n| !n.is_empty()) else {
        return Ok(());
    };
    if name.len() > limits.max_id {
        return Err(bad(
            cause,
            format!(
                "invalid TaskQueue on {command}: task queue name exceeds length limit of {}",
                limits.max_id
            ),
        ));
    }
    if name.starts_with(sundial_common::partition::RESERVED_PREFIX) {
        return Err(bad(
            cause,
            format!(
                "invalid TaskQueue on {command}: task queue name cannot start with reserved prefix {}: {name}",
                sundial_common::partition::RESERVED_PREFIX
            ),
        ));
    }
    Ok(())
}

/// Temporal's `retrypolicy.Validate` (intervals are also capped at 100 years).
/// A retry policy given outside a command (UpdateActivityOptions), checked as a command's is.
pub(crate) fn check_retry_policy(command: &str, p: &mut Option<RetryPolicy>) -> Result<(), CommandFailure> {
    retry_policy(C::BadScheduleActivityAttributes, command, p)
}

fn retry_policy(cause: C, command: &str, p: &mut Option<RetryPolicy>) -> Result<(), CommandFailure> {
    let Some(p) = p.as_mut() else { return Ok(()) };
    let invalid = |msg: &str| bad(cause, format!("invalid WorkflowRetryPolicy on {command}: {msg}"));
    validate_and_cap_opt(&mut p.initial_interval)
        .map_err(|_| invalid("InitialInterval cannot be negative on retry policy."))?;
    validate_and_cap_opt(&mut p.maximum_interval)
        .map_err(|_| invalid("MaximumInterval cannot be negative on retry policy."))?;
    if p.backoff_coefficient != 0.0 && (p.backoff_coefficient.is_nan() || p.backoff_coefficient < 1.0) {
        return Err(invalid("BackoffCoefficient cannot be less than 1 on retry policy."));
    }
    let nanos = |d: &Option<PbDuration>| d.as_ref().map_or(0, sundial_common::time::pb_duration_nanos);
    if nanos(&p.maximum_interval) > 0 && nanos(&p.maximum_interval) < nanos(&p.initial_interval) {
        return Err(invalid(
            "MaximumInterval cannot be less than InitialInterval on retry policy.",
        ));
    }
    if p.maximum_attempts < 0 {
        return Err(invalid("MaximumAttempts cannot be negative on retry policy."));
    }
    Ok(())
}

pub(crate) fn start_timer(a: &mut StartTimerCommandAttributes, limits: Limits) -> Result<(), CommandFailure> {
    const CMD: &str = "StartTimerCommand";
    let cause = C::BadStartTimerAttributes;
    id_length(cause, CMD, "TimerId", &a.timer_id, limits)?;
    duration(cause, CMD, "StartToFireTimeout", &mut a.start_to_fire_timeout)
}

pub(crate) fn schedule_activity(
    a: &mut ScheduleActivityTaskCommandAttributes,
    limits: Limits,
) -> Result<(), CommandFailure> {
    const CMD: &str = "ScheduleActivityTaskCommand";
    let cause = C::BadScheduleActivityAttributes;
    id_length(cause, CMD, "ActivityId", &a.activity_id, limits)?;
    id_length(
        cause,
        CMD,
        "ActivityType",
        a.activity_type.as_ref().map_or("", |t| t.name.as_str()),
        limits,
    )?;
    task_queue(cause, CMD, a.task_queue.as_ref(), limits)?;
    duration(cause, CMD, "ScheduleToCloseTimeout", &mut a.schedule_to_close_timeout)?;
    duration(cause, CMD, "ScheduleToStartTimeout", &mut a.schedule_to_start_timeout)?;
    duration(cause, CMD, "StartToCloseTimeout", &mut a.start_to_close_timeout)?;
    duration(cause, CMD, "HeartbeatTimeout", &mut a.heartbeat_timeout)?;
    if let Some(p) = a.retry_policy.as_mut() {
        // Activity policies are checked like workflow ones, under the activity's cause.
        let mut opt = Some(p.clone());
        retry_policy(cause, CMD, &mut opt)?;
        *p = opt.unwrap_or_default();
    }
    payload(
        cause,
        "ScheduleActivityTaskCommandAttributes.Input",
        a.input.as_ref(),
        limits,
    )
}

pub(crate) fn continue_as_new(
    a: &mut ContinueAsNewWorkflowExecutionCommandAttributes,
    limits: Limits,
) -> Result<(), CommandFailure> {
    const CMD: &str = "ContinueAsNewWorkflowExecutionCommand";
    let cause = C::BadContinueAsNewAttributes;
    id_length(
        cause,
        CMD,
        "WorkflowType",
        a.workflow_type.as_ref().map_or("", |t| t.name.as_str()),
        limits,
    )?;
    task_queue(cause, CMD, a.task_queue.as_ref(), limits)?;
    duration(cause, CMD, "WorkflowRunTimeout", &mut a.workflow_run_timeout)?;
    duration(cause, CMD, "WorkflowTaskTimeout", &mut a.workflow_task_timeout)?;
    duration(cause, CMD, "BackoffStartInterval", &mut a.backoff_start_interval)?;
    retry_policy(cause, CMD, &mut a.retry_policy)?;
    // Temporal does not validate a continue-as-new's cron schedule: an invalid one never
    // schedules a run (see `chain::cron_backoff`).
    payload(
        cause,
        "ContinueAsNewWorkflowExecutionCommandAttributes. Input",
        a.input.as_ref(),
        limits,
    )
}

pub(crate) fn start_child(
    a: &mut StartChildWorkflowExecutionCommandAttributes,
    limits: Limits,
) -> Result<(), CommandFailure> {
    const CMD: &str = "StartChildWorkflowExecutionCommand";
    let cause = C::BadStartChildExecutionAttributes;
    let wf_type = a.workflow_type.as_ref().map_or("", |t| t.name.as_str()).to_owned();
    if a.workflow_id.is_empty() {
        return Err(bad(
            cause,
            format!("Required field WorkflowId is not set on {CMD}. WorkflowType={wf_type}"),
        ));
    }
    if wf_type.is_empty() {
        return Err(bad(
            cause,
            format!(
                "Required field WorkflowType is not set on {CMD}. WorkflowId={}",
                a.workflow_id
            ),
        ));
    }
    id_length(cause, CMD, "Namespace", &a.namespace, limits)?;
    id_length(cause, CMD, "WorkflowId", &a.workflow_id, limits)?;
    id_length(cause, CMD, "WorkflowType", &wf_type, limits)?;
    duration(
        cause,
        CMD,
        "WorkflowExecutionTimeout",
        &mut a.workflow_execution_timeout,
    )?;
    duration(cause, CMD, "WorkflowRunTimeout", &mut a.workflow_run_timeout)?;
    duration(cause, CMD, "WorkflowTaskTimeout", &mut a.workflow_task_timeout)?;
    retry_policy(cause, CMD, &mut a.retry_policy)?;
    if !a.cron_schedule.is_empty() {
        sundial_common::cron::CronSchedule::parse(&a.cron_schedule).map_err(|e| {
            bad(
                cause,
                format!("invalid CronSchedule on {CMD}: {e}. WorkflowId={}", a.workflow_id),
            )
        })?;
    }
    task_queue(cause, CMD, a.task_queue.as_ref(), limits)?;
    payload(
        cause,
        "StartChildWorkflowExecutionCommandAttributes. Input",
        a.input.as_ref(),
        limits,
    )
}

pub(crate) fn signal_external(
    a: &SignalExternalWorkflowExecutionCommandAttributes,
    limits: Limits,
) -> Result<(), CommandFailure> {
    const CMD: &str = "SignalExternalWorkflowExecutionCommand";
    let cause = C::BadSignalWorkflowExecutionAttributes;
    let Some(execution) = a.execution.as_ref() else {
        return Err(bad(cause, format!("Execution is not set on {CMD}.")));
    };
    if execution.workflow_id.is_empty() {
        return Err(bad(cause, format!("WorkflowId is not set on {CMD}.")));
    }
    id_length(cause, CMD, "Namespace", &a.namespace, limits)?;
    id_length(cause, CMD, "WorkflowId", &execution.workflow_id, limits)?;
    run_id(cause, CMD, &execution.run_id)?;
    if a.signal_name.is_empty() {
        return Err(bad(
            cause,
            format!("SignalName is not set on {CMD}. WorkflowId={}", execution.workflow_id),
        ));
    }
    payload(
        cause,
        "SignalExternalWorkflowExecutionCommandAttributes.Input",
        a.input.as_ref(),
        limits,
    )
}

pub(crate) fn cancel_external(
    a: &RequestCancelExternalWorkflowExecutionCommandAttributes,
    limits: Limits,
) -> Result<(), CommandFailure> {
    const CMD: &str = "RequestCancelExternalWorkflowExecutionCommand";
    let cause = C::BadRequestCancelExternalWorkflowExecutionAttributes;
    if a.workflow_id.is_empty() {
        return Err(bad(cause, format!("WorkflowId is not set on {CMD}.")));
    }
    id_length(cause, CMD, "Namespace", &a.namespace, limits)?;
    id_length(cause, CMD, "WorkflowId", &a.workflow_id, limits)?;
    run_id(cause, CMD, &a.run_id)
}

pub(crate) fn marker(name: &str, details_size: i64, limits: Limits) -> Result<(), CommandFailure> {
    let cause = C::BadRecordMarkerAttributes;
    id_length(cause, "RecordMarkerCommand", "MarkerName", name, limits)?;
    if limits.max_blob > 0 && details_size > limits.max_blob {
        return Err(CommandFailure {
            cause,
            message: "RecordMarkerCommandAttributes.Details exceeds size limit.".into(),
            terminate: true,
        });
    }
    Ok(())
}

/// A workflow's result or failure over the blob limit terminates it (Temporal reports the
/// result with `BadScheduleActivityAttributes`, and we keep its cause).
pub(crate) fn close_payload<M: Message>(
    cause: C,
    what: &str,
    p: Option<&M>,
    limits: Limits,
) -> Result<(), CommandFailure> {
    payload(cause, what, p, limits)
}

#[cfg(test)]
mod tests {
    use super::*;
    use sundial_api::temporal::common::v1::{Payload, Payloads, WorkflowExecution, WorkflowType};

    const LIMITS: Limits = Limits {
        max_id: 10,
        max_blob: 100,
    };

    fn payloads(n: usize) -> Option<Payloads> {
        Some(Payloads {
            payloads: vec![Payload {
                data: vec![b'x'; n],
                ..Default::default()
            }],
        })
    }

    fn child() -> StartChildWorkflowExecutionCommandAttributes {
        StartChildWorkflowExecutionCommandAttributes {
            workflow_id: "child".into(),
            workflow_type: Some(WorkflowType { name: "Wf".into() }),
            ..Default::default()
        }
    }

    #[test]
    fn start_child_rejects_bad_attributes_and_caps_timeouts() {
        let mut ok = child();
        ok.workflow_run_timeout = Some(PbDuration {
            seconds: 9_000_000_000,
            nanos: 0,
        });
        start_child(&mut ok, LIMITS).expect("valid");
        assert_eq!(
            ok.workflow_run_timeout.map(|d| d.seconds),
            Some(sundial_common::time::MAX_DURATION_SECS)
        );
        type Change = Box<dyn Fn(&mut StartChildWorkflowExecutionCommandAttributes)>;
        let cases: Vec<(&str, Change)> = vec![
            ("no id", Box::new(|a| a.workflow_id.clear())),
            ("no type", Box::new(|a| a.workflow_type = None)),
            ("long id", Box::new(|a| a.workflow_id = "x".repeat(11))),
            (
                "long type",
                Box::new(|a| a.workflow_type = Some(WorkflowType { name: "x".repeat(11) })),
            ),
            (
                "bad cron",
                Box::new(|a| a.cron_schedule = "@every 99999999999999999s".into()),
            ),
            (
                "step cron",
                Box::new(|a| a.cron_schedule = "*/99999999999999999999 * * * *".into()),
            ),
            (
                "negative timeout",
                Box::new(|a| a.workflow_task_timeout = Some(PbDuration { seconds: -1, nanos: 0 })),
            ),
            (
                "reserved queue",
                Box::new(|a| {
                    a.task_queue = Some(TaskQueue {
                        name: "/_sys/q/1".into(),
                        ..Default::default()
                    })
                }),
            ),
            (
                "bad retry",
                Box::new(|a| {
                    a.retry_policy = Some(RetryPolicy {
                        backoff_coefficient: 0.5,
                        ..Default::default()
                    })
                }),
            ),
        ];
        for (name, change) in cases {
            let mut a = child();
            change(&mut a);
            let err = start_child(&mut a, LIMITS).expect_err(name);
            assert_eq!(err.cause, C::BadStartChildExecutionAttributes, "{name}");
            assert!(!err.terminate, "{name}");
        }
        let mut big = child();
        big.input = payloads(200);
        let err = start_child(&mut big, LIMITS).expect_err("too big");
        assert!(err.terminate);
        assert_eq!(err.cause, C::BadStartChildExecutionAttributes);
    }

    #[test]
    fn continue_as_new_checks() {
        let mut a = ContinueAsNewWorkflowExecutionCommandAttributes {
            workflow_run_timeout: Some(PbDuration { seconds: 1, nanos: -5 }),
            ..Default::default()
        };
        assert_eq!(
            continue_as_new(&mut a, LIMITS).expect_err("signs").cause,
            C::BadContinueAsNewAttributes
        );
        let mut a = ContinueAsNewWorkflowExecutionCommandAttributes {
            workflow_type: Some(WorkflowType { name: "x".repeat(11) }),
            ..Default::default()
        };
        assert!(continue_as_new(&mut a, LIMITS).is_err());
        // Like Temporal, the cron schedule is not checked; huge durations are capped.
        let mut a = ContinueAsNewWorkflowExecutionCommandAttributes {
            cron_schedule: "not a cron".into(),
            backoff_start_interval: Some(PbDuration {
                seconds: i64::MAX,
                nanos: 0,
            }),
            ..Default::default()
        };
        continue_as_new(&mut a, LIMITS).expect("accepted");
        assert_eq!(
            a.backoff_start_interval.map(|d| d.seconds),
            Some(sundial_common::time::MAX_DURATION_SECS)
        );
        let mut a = ContinueAsNewWorkflowExecutionCommandAttributes {
            input: payloads(200),
            ..Default::default()
        };
        assert!(continue_as_new(&mut a, LIMITS).expect_err("big").terminate);
    }

    #[test]
    fn signal_and_cancel_external_checks() {
        let good = SignalExternalWorkflowExecutionCommandAttributes {
            execution: Some(WorkflowExecution {
                workflow_id: "target".into(),
                run_id: String::new(),
            }),
            signal_name: "sig".into(),
            ..Default::default()
        };
        signal_external(&good, LIMITS).expect("valid");
        let mut bad_run = good.clone();
        bad_run.execution.as_mut().expect("set").run_id = "not-a-uuid".into();
        assert_eq!(
            signal_external(&bad_run, LIMITS).expect_err("run id").cause,
            C::BadSignalWorkflowExecutionAttributes
        );
        let mut long = good.clone();
        long.execution.as_mut().expect("set").workflow_id = "x".repeat(11);
        assert!(signal_external(&long, LIMITS).is_err());
        let mut big = good.clone();
        big.input = payloads(200);
        assert!(signal_external(&big, LIMITS).expect_err("big").terminate);
        let cancel = RequestCancelExternalWorkflowExecutionCommandAttributes {
            workflow_id: "x".repeat(11),
            ..Default::default()
        };
        assert_eq!(
            cancel_external(&cancel, LIMITS).expect_err("long").cause,
            C::BadRequestCancelExternalWorkflowExecutionAttributes
        );
    }

    #[test]
    fn timers_and_activities_are_capped() {
        let mut t = StartTimerCommandAttributes {
            timer_id: "t".into(),
            start_to_fire_timeout: Some(PbDuration {
                seconds: i64::MAX,
                nanos: 999_999_999,
            }),
        };
        start_timer(&mut t, LIMITS).expect("capped");
        assert_eq!(
            t.start_to_fire_timeout.map(|d| d.seconds),
            Some(sundial_common::time::MAX_DURATION_SECS)
        );
        let mut a = ScheduleActivityTaskCommandAttributes {
            activity_id: "x".repeat(11),
            ..Default::default()
        };
        assert_eq!(
            schedule_activity(&mut a, LIMITS).expect_err("long").cause,
            C::BadScheduleActivityAttributes
        );
        let mut a = ScheduleActivityTaskCommandAttributes {
            activity_id: "a".into(),
            start_to_close_timeout: Some(PbDuration {
                seconds: 9_000_000_000,
                nanos: 0,
            }),
            ..Default::default()
        };
        schedule_activity(&mut a, LIMITS).expect("capped");
        assert_eq!(
            a.start_to_close_timeout.map(|d| d.seconds),
            Some(sundial_common::time::MAX_DURATION_SECS)
        );
    }
}
