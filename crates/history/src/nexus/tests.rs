use super::*;
use sundial_common::time::duration_to_pb;

fn op_with(s2s: Option<u64>, s2c: Option<u64>) -> NexusOperationInfo {
    NexusOperationInfo {
        scheduled_time: Some(nanos_to_timestamp(0)),
        schedule_to_start_timeout: s2s.map(|s| duration_to_pb(Duration::from_millis(s))),
        schedule_to_close_timeout: s2c.map(|s| duration_to_pb(Duration::from_millis(s))),
        ..Default::default()
    }
}

#[test]
fn backoff_doubles_from_a_second_to_an_hour_with_downward_jitter() {
    for (attempt, full) in [(1, 1), (2, 2), (3, 4), (13, 3600), (100, 3600)] {
        let d = backoff(attempt);
        let full = Duration::from_secs(full);
        assert!(d <= full && d >= full * 4 / 5, "attempt {attempt}: {d:?}");
    }
}

#[test]
fn start_budget_is_cut_by_the_nearest_timeout() {
    let ten = Duration::from_secs(10);
    assert_eq!(start_budget(&op_with(None, None), 5, ten), (ten, None));
    assert_eq!(
        start_budget(&op_with(Some(100), Some(60_000)), 0, ten),
        (Duration::from_millis(100), Some(TimeoutType::ScheduleToStart))
    );
    assert_eq!(
        start_budget(&op_with(None, Some(2_000)), 500_000_000, ten),
        (Duration::from_millis(1_500), Some(TimeoutType::ScheduleToClose))
    );
    assert_eq!(start_budget(&op_with(None, Some(60_000)), 0, ten), (ten, None));
    // Past the deadline: nothing left, never negative.
    assert_eq!(
        start_budget(&op_with(None, Some(1_000)), 5_000_000_000, ten),
        (Duration::ZERO, Some(TimeoutType::ScheduleToClose))
    );
}

#[test]
fn failures_wrap_the_cause_under_temporals_message() {
    let op = NexusOperationInfo {
        scheduled_event_id: 5,
        endpoint: "ep".into(),
        service: "svc".into(),
        operation: "op".into(),
        operation_token: "tok".into(),
        ..Default::default()
    };
    let f = unsuccessful(
        &op,
        Failure {
            message: "boom".into(),
            ..Default::default()
        },
    );
    assert_eq!(f.message, UNSUCCESSFUL);
    let Some(FailureInfo::NexusOperationExecutionFailureInfo(info)) = &f.failure_info else {
        panic!("wrapper info");
    };
    assert_eq!((info.scheduled_event_id, info.operation_token.as_str()), (5, "tok"));
    assert_eq!(f.cause.map(|c| c.message), Some("boom".into()));
}
