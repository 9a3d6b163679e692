//! Request validation shared by the execution APIs, with Temporal's messages.

use prost_wkt_types::Duration as PbDuration;
use sundial_api::temporal::common::v1::RetryPolicy;
use sundial_api::temporal::taskqueue::v1::TaskQueue;
use sundial_common::ServiceError;

/// Temporal's `limit.maxIDLength` default.
pub(crate) const MAX_ID_LENGTH: usize = 1000;

pub(crate) fn workflow_id(id: &str) -> Result<(), ServiceError> {
    if id.is_empty() {
        return Err(ServiceError::invalid("WorkflowId is not set on request."));
    }
    if id.len() > MAX_ID_LENGTH {
        return Err(ServiceError::invalid(format!(
            "WorkflowId exceeds maximum allowed length ({}/{MAX_ID_LENGTH})",
            id.len()
        )));
    }
    if id.starts_with(sundial_common::standalone::ACTIVITY_KEY_PREFIX) {
        // Standalone activities are kept under such keys.
        return Err(ServiceError::invalid(
            "WorkflowId may not start with the control character U+0001.",
        ));
    }
    Ok(())
}

pub(crate) fn run_id(id: &str) -> Result<(), ServiceError> {
    if !id.is_empty() && uuid::Uuid::try_parse(id).is_err() {
        return Err(ServiceError::invalid("Invalid RunId."));
    }
    Ok(())
}

pub(crate) fn named(value: &str, what: &str) -> Result<(), ServiceError> {
    if value.is_empty() {
        return Err(ServiceError::invalid(format!("{what} is not set on request.")));
    }
    if value.len() > MAX_ID_LENGTH {
        return Err(ServiceError::invalid(format!(
            "{what} exceeds maximum allowed length ({}/{MAX_ID_LENGTH})",
            value.len()
        )));
    }
    Ok(())
}

pub(crate) fn task_queue(tq: Option<&TaskQueue>) -> Result<(), ServiceError> {
    let Some(tq) = tq else {
        return Err(ServiceError::invalid("taskQueue is not set"));
    };
    if tq.name.is_empty() {
        return Err(ServiceError::invalid("missing task queue name"));
    }
    if tq.name.len() > MAX_ID_LENGTH {
        return Err(ServiceError::invalid(format!(
            "task queue name exceeds length limit of {MAX_ID_LENGTH}"
        )));
    }
    if tq.name.starts_with("/_sys/") {
        return Err(ServiceError::invalid(format!(
            "task queue name cannot start with reserved prefix /_sys/: {}",
            tq.name
        )));
    }
    Ok(())
}

/// Like `task_queue`, but a partition's name (`/_sys/<name>/<n>`) is accepted too.
pub(crate) fn task_queue_partition(tq: Option<&TaskQueue>) -> Result<(), ServiceError> {
    let Some(tq) = tq.filter(|tq| tq.name.starts_with(sundial_common::partition::RESERVED_PREFIX)) else {
        return task_queue(tq);
    };
    let (base, _) = sundial_common::partition::parse(&tq.name).map_err(ServiceError::invalid)?;
    task_queue(Some(&TaskQueue {
        name: base.to_owned(),
        ..tq.clone()
    }))
}

/// Like Temporal's `ValidateAndCapProtoDuration`: a negative duration (or one whose seconds and
/// nanos disagree in sign) is INVALID_ARGUMENT; one over 100 years is cut to 100 years, so no
/// deadline computed from it can overflow.
pub(crate) fn timeout(d: &mut Option<PbDuration>, field: &str) -> Result<(), ServiceError> {
    sundial_common::time::validate_and_cap_opt(d)
        .map_err(|e| ServiceError::invalid(format!("An invalid {field} is set on request. cause: {e}")))
}

/// A start delay is a duration like the timeouts, and cannot be combined with a cron schedule.
pub(crate) fn start_delay(d: &mut Option<PbDuration>, cron: &str) -> Result<(), ServiceError> {
    // Temporal rejects any delay set with a cron; a zero delay is accepted here because some
    // clients send an explicit zero when no delay was asked for.
    if !cron.is_empty() && d.is_some_and(|d| d.seconds != 0 || d.nanos != 0) {
        return Err(ServiceError::invalid(
            "CronSchedule and WorkflowStartDelay may not be used together.",
        ));
    }
    timeout(d, "WorkflowStartDelaySeconds")
}

pub(crate) fn retry_policy(p: Option<&RetryPolicy>) -> Result<(), ServiceError> {
    let Some(p) = p else { return Ok(()) };
    let negative = |d: &Option<PbDuration>| d.as_ref().is_some_and(|d| d.seconds < 0 || d.nanos < 0);
    if negative(&p.initial_interval) {
        return Err(ServiceError::invalid(
            "InitialInterval cannot be negative on retry policy.",
        ));
    }
    if p.backoff_coefficient != 0.0 && p.backoff_coefficient < 1.0 {
        return Err(ServiceError::invalid(
            "BackoffCoefficient cannot be less than 1 on retry policy.",
        ));
    }
    if negative(&p.maximum_interval) {
        return Err(ServiceError::invalid(
            "MaximumInterval cannot be negative on retry policy.",
        ));
    }
    let nanos = |d: &Option<PbDuration>| {
        d.as_ref()
            .map_or(0, |d| d.seconds as i128 * 1_000_000_000 + d.nanos as i128)
    };
    if nanos(&p.maximum_interval) > 0 && nanos(&p.maximum_interval) < nanos(&p.initial_interval) {
        return Err(ServiceError::invalid(
            "MaximumInterval cannot be less than InitialInterval on retry policy.",
        ));
    }
    if p.maximum_attempts < 0 {
        return Err(ServiceError::invalid(
            "MaximumAttempts cannot be negative on retry policy.",
        ));
    }
    Ok(())
}

pub(crate) fn cron_schedule(spec: &str) -> Result<(), ServiceError> {
    if spec.is_empty() {
        return Ok(());
    }
    sundial_common::cron::CronSchedule::parse(spec)
        .map(|_| ())
        .map_err(|e| ServiceError::invalid(format!("Invalid CronSchedule. {e}")))
}

pub(crate) fn request_id(id: &str) -> Result<(), ServiceError> {
    if id.len() > MAX_ID_LENGTH {
        return Err(ServiceError::invalid("RequestId exceeds length limit."));
    }
    Ok(())
}

pub(crate) fn task_token(token: &[u8]) -> Result<(), ServiceError> {
    if token.is_empty() {
        return Err(ServiceError::invalid("Task token not set on request."));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_queues() {
        assert!(workflow_id("").is_err());
        assert!(workflow_id(&"x".repeat(1000)).is_ok());
        let long = workflow_id(&"x".repeat(1001)).expect_err("too long");
        assert!(long.to_string().contains("1001/1000"));
        assert!(task_queue(None).is_err());
        assert!(
            task_queue(Some(&TaskQueue {
                name: "/_sys/x/1".into(),
                ..Default::default()
            }))
            .is_err()
        );
        assert!(
            task_queue(Some(&TaskQueue {
                name: "orders".into(),
                ..Default::default()
            }))
            .is_ok()
        );
        assert!(run_id("not-a-uuid").is_err());
        assert!(run_id("").is_ok());
    }

    #[test]
    fn timeouts_and_retry_policies() {
        let mut neg = Some(PbDuration { seconds: -1, nanos: 0 });
        let err = timeout(&mut neg, "WorkflowRunTimeoutSeconds").expect_err("negative");
        assert!(err.to_string().contains("WorkflowRunTimeoutSeconds"));
        let mut mixed = Some(PbDuration { seconds: 1, nanos: -1 });
        assert!(timeout(&mut mixed, "WorkflowTaskTimeoutSeconds").is_err());
        // Huge durations are capped at 100 years, as in Temporal, not rejected.
        let mut huge = Some(PbDuration {
            seconds: 9_000_000_000,
            nanos: 0,
        });
        timeout(&mut huge, "WorkflowRunTimeoutSeconds").expect("capped");
        assert_eq!(huge.map(|d| d.seconds), Some(100 * 365 * 24 * 3600));
        let mut none = None;
        timeout(&mut none, "WorkflowRunTimeoutSeconds").expect("absent");
        assert_eq!(none, None);
        let mut delay = Some(PbDuration { seconds: 5, nanos: 0 });
        assert!(start_delay(&mut delay, "@daily").is_err());
        start_delay(&mut delay, "").expect("delay alone");
        assert!(
            retry_policy(Some(&RetryPolicy {
                backoff_coefficient: 0.5,
                ..Default::default()
            }))
            .is_err()
        );
        assert!(
            retry_policy(Some(&RetryPolicy {
                maximum_attempts: -1,
                ..Default::default()
            }))
            .is_err()
        );
        assert!(retry_policy(Some(&RetryPolicy::default())).is_ok());
    }
}
