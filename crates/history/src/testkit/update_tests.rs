//! Workflow updates: admission, delivery on a (speculative) workflow task, and the worker's
//! acceptance, rejection and response messages.

use super::*;
use crate::updates::State;
use sundial_api::prost::Message as _;
use sundial_api::temporal::enums::v1::EventType as E;
use sundial_api::temporal::protocol::v1::{Message, message::SequencingId};
use sundial_api::temporal::update::v1::{Acceptance, Input, Meta, Outcome, Rejection, Request, Response, outcome};
use sundial_api::workflowservice::v1::UpdateWorkflowExecutionRequest;

fn request(id: &str) -> Request {
    Request {
        meta: Some(Meta {
            update_id: id.into(),
            identity: "client".into(),
        }),
        input: Some(Input {
            name: "setValue".into(),
            args: Some(payloads("1")),
            header: None,
        }),
        ..Default::default()
    }
}

fn message<M: sundial_api::prost::Message>(id: &str, kind: &str, body: &M) -> Message {
    Message {
        id: format!("{id}/{kind}"),
        protocol_instance_id: id.into(),
        sequencing_id: None,
        body: Some(prost_wkt_types::Any {
            type_url: format!("type.googleapis.com/temporal.api.update.v1.{kind}"),
            value: body.encode_to_vec(),
        }),
    }
}

fn acceptance(id: &str) -> Message {
    message(
        id,
        "Acceptance",
        &Acceptance {
            accepted_request_message_id: format!("{id}/request"),
            accepted_request_sequencing_event_id: 0,
            accepted_request: None,
        },
    )
}

fn response(id: &str) -> Message {
    message(
        id,
        "Response",
        &Response {
            meta: Some(Meta {
                update_id: id.into(),
                identity: WORKER.into(),
            }),
            outcome: Some(Outcome {
                value: Some(outcome::Value::Success(payloads("\"set\""))),
            }),
        },
    )
}

fn rejection(id: &str) -> Message {
    message(
        id,
        "Rejection",
        &Rejection {
            rejected_request_message_id: format!("{id}/request"),
            rejected_request: None,
            failure: Some(app_failure("invalid value", true)),
            ..Default::default()
        },
    )
}

/// `UpdateWorkflowExecution`'s transition: admits the update.
fn admit(run: &mut Run, id: &str) -> Result<(), ServiceError> {
    let registry = run.updates.clone();
    let nonce = registry.nonce();
    let req = UpdateWorkflowExecutionRequest::default();
    run.step(|m| crate::update::admit(m, &registry, &req, &request(id), nonce).map(|_| ()))
}

fn state(run: &Run, id: &str) -> Option<State> {
    run.updates.lock().updates.get(id).map(|u| u.state)
}

/// A run whose first workflow task completed (events 1–4) and nothing is pending.
fn idle_run() -> Run {
    let mut run = Run::start();
    run.run_wt(vec![]);
    run
}

#[test]
fn an_update_to_an_idle_run_schedules_a_speculative_task_that_writes_nothing() {
    let mut run = idle_run();
    admit(&mut run, "u1").unwrap();
    assert!(run.last.events.is_empty());
    assert_eq!(run.last.transfer_types(), [TransferTaskType::WorkflowTask]);
    assert_eq!(run.last.transfers()[0].scheduled_event_id, 5);
    assert_eq!((run.wt().attempt, run.wt().transient), (1, true));
    assert_eq!(state(&run, "u1"), Some(State::Admitted));

    let t = run.start_wt();
    assert!(run.last.events.is_empty());
    assert_eq!((t.wt.scheduled_event_id, t.wt.started_event_id), (5, 6));
    assert_eq!(t.messages.len(), 1);
    let m = &t.messages[0];
    assert_eq!((m.id.as_str(), m.protocol_instance_id.as_str()), ("u1/request", "u1"));
    assert_eq!(m.sequencing_id, Some(SequencingId::EventId(5)));
    assert_eq!(
        Request::decode(m.body.as_ref().unwrap().value.as_slice()).unwrap(),
        request("u1")
    );
    assert_eq!(state(&run, "u1"), Some(State::Sent));
}

#[test]
fn an_update_while_a_task_is_pending_adds_no_task() {
    let mut run = Run::start();
    admit(&mut run, "u1").unwrap();
    assert!(run.last.tasks.is_empty());
    assert!(run.last.events.is_empty());
    let t = run.start_wt();
    assert_eq!(t.messages.len(), 1, "delivered with the pending task");
}

#[test]
fn acceptance_and_response_make_the_speculative_task_durable() {
    let mut run = idle_run();
    admit(&mut run, "u1").unwrap();
    run.start_wt();
    let req = RespondWorkflowTaskCompletedRequest {
        messages: vec![acceptance("u1"), response("u1")],
        ..run.completion(vec![])
    };
    run.complete_wt_with(req).unwrap();
    assert_eq!(
        run.last.types(),
        [
            E::WorkflowTaskScheduled,
            E::WorkflowTaskStarted,
            E::WorkflowTaskCompleted,
            E::WorkflowExecutionUpdateAccepted,
            E::WorkflowExecutionUpdateCompleted
        ]
    );
    let a = attrs!(run.last.events[3], WorkflowExecutionUpdateAcceptedEventAttributes);
    assert_eq!(a.protocol_instance_id, "u1");
    assert_eq!(a.accepted_request_message_id, "u1/request");
    assert_eq!(
        a.accepted_request,
        Some(request("u1")),
        "the request comes from the registry"
    );
    let c = attrs!(run.last.events[4], WorkflowExecutionUpdateCompletedEventAttributes);
    assert_eq!(c.accepted_event_id, 8);
    assert_eq!(
        c.outcome.as_ref().unwrap().value,
        Some(outcome::Value::Success(payloads("\"set\"")))
    );
    assert_eq!(state(&run, "u1"), Some(State::Completed));
    assert!(run.ms.workflow_task.is_none());
}

#[test]
fn acceptance_in_a_protocol_message_command_takes_the_commands_place() {
    let mut run = idle_run();
    admit(&mut run, "u1").unwrap();
    run.start_wt();
    let req = RespondWorkflowTaskCompletedRequest {
        messages: vec![acceptance("u1")],
        ..run.completion(vec![
            cmd::start_timer("before", 5),
            cmd::protocol_message("u1/Acceptance"),
            cmd::start_timer("after", 5),
        ])
    };
    run.complete_wt_with(req).unwrap();
    assert_eq!(
        run.last.types(),
        [
            E::WorkflowTaskScheduled,
            E::WorkflowTaskStarted,
            E::WorkflowTaskCompleted,
            E::TimerStarted,
            E::WorkflowExecutionUpdateAccepted,
            E::TimerStarted
        ]
    );
    assert_eq!(state(&run, "u1"), Some(State::Accepted));
}

#[test]
fn a_speculative_task_answered_only_with_a_rejection_leaves_no_trace() {
    let mut run = idle_run();
    admit(&mut run, "u1").unwrap();
    run.start_wt();
    let req = RespondWorkflowTaskCompletedRequest {
        messages: vec![rejection("u1")],
        ..run.completion(vec![])
    };
    let (next, reset) = run.complete_wt_with(req).unwrap();
    assert!(next.is_none());
    assert!(run.last.events.is_empty());
    assert!(run.last.tasks.is_empty());
    assert_eq!(reset, 3, "the worker goes back to the last completed task");
    assert!(run.ms.workflow_task.is_none());
    assert_eq!(state(&run, "u1"), None, "a rejected update is forgotten");
    assert_eq!(run.history.len(), 4);
    assert_eq!(run.info().next_event_id, 5);
}

#[test]
fn an_update_the_worker_ignores_is_rejected_by_the_server() {
    let mut run = Run::start();
    admit(&mut run, "u1").unwrap();
    run.start_wt();
    run.complete_wt(vec![cmd::start_timer("t", 5)]);
    assert_eq!(run.last.types(), [E::WorkflowTaskCompleted, E::TimerStarted]);
    assert_eq!(run.last.effect_names.len(), 1);
    assert!(
        run.last.effect_names[0].starts_with("Rejected { id: \"u1\""),
        "{:?}",
        run.last.effect_names
    );
    assert!(run.last.effect_names[0].contains("UnprocessedUpdate"));
    assert_eq!(state(&run, "u1"), None);
}

#[test]
fn an_acceptance_of_an_unknown_update_fails_the_task() {
    let mut run = Run::start();
    run.start_wt();
    let req = RespondWorkflowTaskCompletedRequest {
        messages: vec![acceptance("ghost")],
        ..run.completion(vec![])
    };
    run.complete_wt_with(req).unwrap();
    assert_eq!(run.last.types(), [E::WorkflowTaskFailed]);
    let f = attrs!(run.last.events[0], WorkflowTaskFailedEventAttributes);
    assert_eq!(
        f.cause,
        WorkflowTaskFailedCause::BadUpdateWorkflowExecutionMessage as i32
    );
}

#[test]
fn updates_are_refused_while_the_workflow_task_keeps_failing() {
    let mut run = Run::start();
    for _ in 0..2 {
        run.start_wt();
        run.fail_wt(WorkflowTaskFailedCause::WorkflowWorkerUnhandledFailure);
    }
    assert_eq!(run.wt().attempt, 3);
    let err = admit(&mut run, "u1").err().unwrap();
    assert!(matches!(err, ServiceError::FailedPrecondition(_)), "{err:?}");
    assert_eq!(state(&run, "u1"), None);
}

#[test]
fn closing_the_run_ends_an_accepted_update_with_a_failure() {
    let mut run = idle_run();
    admit(&mut run, "u1").unwrap();
    run.start_wt();
    let req = RespondWorkflowTaskCompletedRequest {
        messages: vec![acceptance("u1")],
        ..run.completion(vec![])
    };
    run.complete_wt_with(req).unwrap();
    let rx = crate::updates::lookup(&run.updates, "u1").unwrap();
    run.terminate("enough");
    assert!(run.last.effect_names.iter().any(|e| e.starts_with("RunClosed")));
    let st = rx.borrow().clone();
    assert_eq!(
        st.stage,
        sundial_api::temporal::enums::v1::UpdateWorkflowExecutionLifecycleStage::Completed as i32
    );
    let Some(Outcome {
        value: Some(outcome::Value::Failure(f)),
    }) = st.outcome
    else {
        panic!("a failure outcome: {st:?}")
    };
    assert_eq!(
        f.message,
        "Workflow Update failed because the Workflow completed before the Update completed."
    );
}
