//! Retry policies: Temporal's defaults and the decision after a failed attempt.

use prost_wkt_types::Duration as PbDuration;
use std::time::Duration;
use sundial_api::temporal::common::v1::RetryPolicy;
use sundial_api::temporal::enums::v1::{RetryState, TimeoutType};
use sundial_api::temporal::failure::v1::Failure;
use sundial_api::temporal::failure::v1::failure::FailureInfo;
use sundial_common::time::{duration_from_pb, duration_to_pb};

pub(crate) fn default_retry_policy() -> RetryPolicy {
    RetryPolicy {
        initial_interval: Some(PbDuration { seconds: 1, nanos: 0 }),
        backoff_coefficient: 2.0,
        maximum_interval: Some(PbDuration { seconds: 100, nanos: 0 }),
        maximum_attempts: 0,
        non_retryable_error_types: Vec::new(),
    }
}

/// Fills the fields a policy leaves unset: 1 s initial interval, coefficient 2, maximum
/// interval 100 × the initial interval.
pub(crate) fn fill_retry_policy(mut p: RetryPolicy) -> RetryPolicy {
    let initial = p
        .initial_interval
        .as_ref()
        .and_then(duration_from_pb)
        .filter(|d| !d.is_zero());
    let initial = initial.unwrap_or(Duration::from_secs(1));
    p.initial_interval = Some(duration_to_pb(initial));
    if p.backoff_coefficient < 1.0 {
        p.backoff_coefficient = 2.0;
    }
    if p.maximum_interval
        .as_ref()
        .and_then(duration_from_pb)
        .is_none_or(|d| d.is_zero())
    {
        p.maximum_interval = Some(duration_to_pb(initial.saturating_mul(100)));
    }
    p
}

pub(crate) enum RetryDecision {
    Retry(Duration),
    Stop(RetryState),
}

/// What to do after attempt `attempt` failed with `failure`. `time_left` is what remains of
/// the schedule-to-close deadline, if there is one.
pub(crate) fn decide(
    policy: &RetryPolicy,
    attempt: i32,
    failure: &Failure,
    time_left: Option<Duration>,
) -> RetryDecision {
    if policy.maximum_attempts == 1 {
        return RetryDecision::Stop(RetryState::MaximumAttemptsReached);
    }
    let mut next_delay = None;
    match &failure.failure_info {
        Some(FailureInfo::ApplicationFailureInfo(app)) => {
            if app.non_retryable || policy.non_retryable_error_types.contains(&app.r#type) {
                return RetryDecision::Stop(RetryState::NonRetryableFailure);
            }
            next_delay = app
                .next_retry_delay
                .as_ref()
                .and_then(duration_from_pb)
                .filter(|d| !d.is_zero());
        }
        Some(FailureInfo::TimeoutFailureInfo(t)) => {
            let retryable =
                t.timeout_type == TimeoutType::StartToClose as i32 || t.timeout_type == TimeoutType::Heartbeat as i32;
            if !retryable {
                return RetryDecision::Stop(RetryState::Timeout);
            }
        }
        _ => {}
    }
    if policy.maximum_attempts > 0 && attempt >= policy.maximum_attempts {
        return RetryDecision::Stop(RetryState::MaximumAttemptsReached);
    }
    let interval = next_delay.unwrap_or_else(|| backoff(policy, attempt));
    if time_left.is_some_and(|left| left <= interval) {
        return RetryDecision::Stop(RetryState::Timeout);
    }
    RetryDecision::Retry(interval)
}

fn backoff(policy: &RetryPolicy, attempt: i32) -> Duration {
    let initial = policy
        .initial_interval
        .as_ref()
        .and_then(duration_from_pb)
        .unwrap_or(Duration::from_secs(1));
    let max = policy
        .maximum_interval
        .as_ref()
        .and_then(duration_from_pb)
        .filter(|d| !d.is_zero());
    let factor = policy
        .backoff_coefficient
        .max(1.0)
        .powi(attempt.saturating_sub(1).max(0));
    let secs = (initial.as_secs_f64() * factor).min(max.map_or(f64::MAX, |m| m.as_secs_f64()));
    Duration::try_from_secs_f64(secs).unwrap_or(Duration::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use sundial_api::temporal::failure::v1::ApplicationFailureInfo;

    fn app_failure(ty: &str, non_retryable: bool) -> Failure {
        Failure {
            message: "boom".into(),
            failure_info: Some(FailureInfo::ApplicationFailureInfo(ApplicationFailureInfo {
                r#type: ty.into(),
                non_retryable,
                ..Default::default()
            })),
            ..Default::default()
        }
    }

    #[test]
    fn backoff_grows_and_caps() {
        let p = fill_retry_policy(RetryPolicy {
            initial_interval: Some(PbDuration { seconds: 1, nanos: 0 }),
            backoff_coefficient: 2.0,
            maximum_interval: Some(PbDuration { seconds: 5, nanos: 0 }),
            ..Default::default()
        });
        let delays: Vec<u64> = (1..=5)
            .map(|a| match decide(&p, a, &app_failure("E", false), None) {
                RetryDecision::Retry(d) => d.as_secs(),
                RetryDecision::Stop(s) => panic!("stopped: {s:?}"),
            })
            .collect();
        assert_eq!(delays, vec![1, 2, 4, 5, 5]);
    }

    #[test]
    fn stops_for_the_right_reasons() {
        let mut p = fill_retry_policy(RetryPolicy {
            maximum_attempts: 3,
            ..Default::default()
        });
        assert!(matches!(
            decide(&p, 3, &app_failure("E", false), None),
            RetryDecision::Stop(RetryState::MaximumAttemptsReached)
        ));
        assert!(matches!(
            decide(&p, 1, &app_failure("E", true), None),
            RetryDecision::Stop(RetryState::NonRetryableFailure)
        ));
        p.non_retryable_error_types = vec!["Fatal".into()];
        assert!(matches!(
            decide(&p, 1, &app_failure("Fatal", false), None),
            RetryDecision::Stop(RetryState::NonRetryableFailure)
        ));
        assert!(matches!(
            decide(&p, 1, &app_failure("E", false), Some(Duration::from_millis(500))),
            RetryDecision::Stop(RetryState::Timeout)
        ));
        assert!(matches!(
            decide(&p, 1, &app_failure("E", false), None),
            RetryDecision::Retry(_)
        ));
    }
}
