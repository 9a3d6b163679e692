//! Nexus operations as a run sees them: the schedule command, each outcome of a start attempt,
//! retries and timeouts, a completion callback, and cancellation.

use super::*;
use crate::nexus::{self, CancelOutcome, Completion, StartOutcome};
use EventType as E;
use sundial_api::temporal::command::v1::{
    RequestCancelNexusOperationCommandAttributes, ScheduleNexusOperationCommandAttributes,
};
use sundial_api::temporal::enums::v1::{PendingNexusOperationState as State, TimeoutType};

const ENDPOINT: &str = "my-endpoint";

fn schedule_command(s2c: Option<i64>) -> Command {
    Command {
        attributes: Some(Cmd::ScheduleNexusOperationCommandAttributes(
            ScheduleNexusOperationCommandAttributes {
                endpoint: ENDPOINT.into(),
                service: "svc".into(),
                operation: "op".into(),
                input: Some(payload("in")),
                schedule_to_close_timeout: s2c.map(secs),
                nexus_header: [("X-Custom".to_owned(), "v".to_owned())].into(),
                ..Default::default()
            },
        )),
        ..Default::default()
    }
}

/// A run whose first workflow task scheduled one operation (scheduled event 5).
fn scheduled(s2c: Option<i64>) -> Run {
    let mut run = Run::start();
    run.start_wt();
    let req = run.completion(vec![schedule_command(s2c)]);
    let tok = crate::token::decode(&req.task_token).unwrap();
    let registry = run.updates.clone();
    run.step(|m| {
        m.nexus_endpoints = [(ENDPOINT.to_owned(), "endpoint-id".to_owned())].into();
        crate::workflow_task::complete_task(m, &registry, &tok, &req)
    })
    .unwrap();
    run
}

fn attempt_done(run: &mut Run, stamp: i64, outcome: StartOutcome) {
    run.step(|m| {
        nexus::start_attempt_done(m, 5, stamp, outcome);
        Ok(())
    })
    .unwrap();
}

#[test]
fn scheduling_writes_the_event_queues_the_start_and_arms_the_timeout() {
    let run = scheduled(Some(30));
    assert_eq!(run.last.types(), [E::WorkflowTaskCompleted, E::NexusOperationScheduled]);
    let a = attrs!(run.last.events[1], NexusOperationScheduledEventAttributes);
    assert_eq!(a.endpoint_id, "endpoint-id");
    assert!(!a.request_id.is_empty());
    assert_eq!(
        a.nexus_header.get("x-custom").map(String::as_str),
        Some("v"),
        "keys lower-cased"
    );
    assert_eq!(run.last.transfer_types(), [TransferTaskType::NexusStart]);
    assert_eq!(
        run.last.timer(TimerTaskType::NexusTimeout).1.timeout_type,
        TimeoutType::ScheduleToClose as i32
    );
    assert_eq!(run.ms.nexus_operations[&5].state, State::Scheduled as i32);
}

#[test]
fn an_unknown_endpoint_or_a_cancel_of_nothing_fails_the_task() {
    let mut run = Run::start();
    run.start_wt();
    run.complete_wt(vec![schedule_command(None)]);
    assert_eq!(run.last.types(), [E::WorkflowTaskFailed]);
    let f = attrs!(run.last.events[0], WorkflowTaskFailedEventAttributes);
    assert_eq!(
        f.cause,
        WorkflowTaskFailedCause::BadScheduleNexusOperationAttributes as i32
    );

    let mut run = Run::start();
    run.start_wt();
    run.complete_wt(vec![Command {
        attributes: Some(Cmd::RequestCancelNexusOperationCommandAttributes(
            RequestCancelNexusOperationCommandAttributes { scheduled_event_id: 9 },
        )),
        ..Default::default()
    }]);
    let f = attrs!(run.last.events[0], WorkflowTaskFailedEventAttributes);
    assert_eq!(
        f.cause,
        WorkflowTaskFailedCause::BadRequestCancelNexusOperationAttributes as i32
    );
}

#[test]
fn a_sync_result_completes_the_operation_and_a_stale_attempt_is_ignored() {
    let mut run = scheduled(None);
    attempt_done(
        &mut run,
        7,
        StartOutcome::Sync {
            result: Some(payload("x")),
            links: vec![],
        },
    );
    assert!(
        run.last.events.is_empty(),
        "an attempt of another stamp changes nothing"
    );
    attempt_done(
        &mut run,
        1,
        StartOutcome::Sync {
            result: Some(payload("out")),
            links: vec![],
        },
    );
    assert_eq!(run.last.types(), [E::NexusOperationCompleted, E::WorkflowTaskScheduled]);
    assert!(run.ms.nexus_operations.is_empty());
}

#[test]
fn a_retryable_failure_backs_off_and_the_retry_timer_sends_the_next_attempt() {
    let mut run = scheduled(None);
    attempt_done(&mut run, 1, StartOutcome::Retry(app_failure("busy", false)));
    let op = &run.ms.nexus_operations[&5];
    assert_eq!((op.state, op.attempt), (State::BackingOff as i32, 1));
    let retry = run.last.timer(TimerTaskType::NexusRetry);
    assert!(
        retry.0 > T0 && retry.0 <= T0 + SEC,
        "the first retry comes within a second"
    );
    run.fire(&retry);
    assert_eq!(run.last.transfer_types(), [TransferTaskType::NexusStart]);
    assert_eq!(run.ms.nexus_operations[&5].stamp, 2);
    attempt_done(&mut run, 2, StartOutcome::Failed(app_failure("no", true)));
    assert_eq!(run.last.types(), [E::NexusOperationFailed, E::WorkflowTaskScheduled]);
    let f = attrs!(run.last.events[0], NexusOperationFailedEventAttributes)
        .failure
        .clone()
        .unwrap();
    assert_eq!(f.message, "nexus operation completed unsuccessfully");
    assert_eq!(
        f.cause.unwrap().message,
        "no",
        "the handler's failure is kept as the cause"
    );
}

#[test]
fn an_async_start_then_its_callback_complete_the_operation() {
    let mut run = scheduled(None);
    attempt_done(
        &mut run,
        1,
        StartOutcome::Async {
            token: "tok".into(),
            links: vec![],
        },
    );
    assert_eq!(run.last.types(), [E::NexusOperationStarted, E::WorkflowTaskScheduled]);
    let request_id = run.ms.nexus_operations[&5].request_id.clone();
    let applied = run
        .step(|m| {
            Ok(nexus::complete(
                m,
                5,
                "another-request",
                "tok",
                vec![],
                None,
                Completion::Succeeded(None),
            ))
        })
        .unwrap();
    assert!(!applied, "a completion for another request is refused");
    let applied = run
        .step(|m| {
            Ok(nexus::complete(
                m,
                5,
                &request_id,
                "tok",
                vec![],
                None,
                Completion::Succeeded(Some(payload("r"))),
            ))
        })
        .unwrap();
    assert!(applied);
    assert_eq!(run.last.types(), [E::NexusOperationCompleted]);
    assert!(run.ms.nexus_operations.is_empty());
}

#[test]
fn a_completion_before_the_start_response_records_the_start_first() {
    let mut run = scheduled(None);
    let request_id = run.ms.nexus_operations[&5].request_id.clone();
    let applied = run
        .step(|m| {
            Ok(nexus::complete(
                m,
                5,
                &request_id,
                "tok",
                vec![],
                None,
                Completion::Failed(app_failure("f", true)),
            ))
        })
        .unwrap();
    assert!(applied);
    assert_eq!(
        run.last.types(),
        [
            E::NexusOperationStarted,
            E::WorkflowTaskScheduled,
            E::NexusOperationFailed
        ]
    );
    // The start response arriving afterwards finds nothing to do.
    attempt_done(
        &mut run,
        1,
        StartOutcome::Async {
            token: "tok".into(),
            links: vec![],
        },
    );
    assert!(run.last.events.is_empty());
}

#[test]
fn a_cancel_waits_for_the_start_and_its_outcome_is_recorded() {
    let mut run = scheduled(None);
    run.signal("wake up"); // a workflow task to send the cancel from
    run.start_wt();
    run.complete_wt(vec![Command {
        attributes: Some(Cmd::RequestCancelNexusOperationCommandAttributes(
            RequestCancelNexusOperationCommandAttributes { scheduled_event_id: 5 },
        )),
        ..Default::default()
    }]);
    assert_eq!(
        run.last.types(),
        [E::WorkflowTaskCompleted, E::NexusOperationCancelRequested]
    );
    assert!(
        run.last.transfer_types().is_empty(),
        "nothing to cancel before the start"
    );
    attempt_done(
        &mut run,
        1,
        StartOutcome::Async {
            token: "tok".into(),
            links: vec![],
        },
    );
    assert!(run.last.transfer_types().contains(&TransferTaskType::NexusCancel));
    run.step(|m| {
        nexus::cancel_attempt_done(m, 5, 1, CancelOutcome::Done);
        Ok(())
    })
    .unwrap();
    assert_eq!(run.last.types(), [E::NexusOperationCancelRequestCompleted]);
    assert!(run.last.events[0].worker_may_ignore);
}

#[test]
fn the_schedule_to_close_timer_times_the_operation_out() {
    let mut run = scheduled(Some(2));
    let timer = run.last.timer(TimerTaskType::NexusTimeout);
    run.fire(&timer);
    assert_eq!(run.last.types(), [E::NexusOperationTimedOut, E::WorkflowTaskScheduled]);
    let f = attrs!(run.last.events[0], NexusOperationTimedOutEventAttributes)
        .failure
        .clone()
        .unwrap();
    let Some(FailureInfo::TimeoutFailureInfo(t)) = f.cause.unwrap().failure_info else {
        panic!("a timeout cause");
    };
    assert_eq!(t.timeout_type, TimeoutType::ScheduleToClose as i32);
}

#[test]
fn an_update_callback_waits_for_its_update_and_registers_once_per_request() {
    use sundial_api::temporal::common::v1::{Callback, callback};
    use sundial_api::temporal::enums::v1::CallbackState;
    use sundial_api::temporal::update::v1::{Meta, Outcome, Request};
    let mut run = Run::start();
    let request = Request {
        meta: Some(Meta {
            update_id: "u-1".into(),
            ..Default::default()
        }),
        request_id: "caller-req".into(),
        completion_callbacks: vec![Callback {
            variant: Some(callback::Variant::Nexus(callback::Nexus {
                url: nexus::SYSTEM_CALLBACK_URL.into(),
                ..Default::default()
            })),
            ..Default::default()
        }],
        ..Default::default()
    };
    for _ in 0..2 {
        run.step(|m| {
            nexus::callbacks::register_update(m, "u-1", &request);
            Ok(())
        })
        .unwrap();
    }
    assert_eq!(run.info().callbacks.len(), 1, "the same request registers once");
    run.step(|m| {
        nexus::callbacks::update_completed(m, "another-update", &Outcome::default());
        Ok(())
    })
    .unwrap();
    assert!(run.last.transfer_types().is_empty());
    run.step(|m| {
        nexus::callbacks::update_completed(m, "u-1", &Outcome::default());
        Ok(())
    })
    .unwrap();
    assert_eq!(run.last.transfer_types(), [TransferTaskType::NexusCallback]);
    let record = &run.info().callbacks[0];
    assert_eq!(record.state, CallbackState::Scheduled as i32);
    assert!(record.update_outcome.is_some());
}
