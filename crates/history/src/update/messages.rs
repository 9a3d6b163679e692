//! The update protocol messages of workflow tasks: requests sent to the worker, and the
//! acceptances, rejections and responses handled when it completes the task.

use crate::commands::CommandFailure;
use crate::mutation::Mutation;
use crate::updates::{Effect, Registry, State, Update, failure};
use std::collections::HashMap;
use sundial_api::prost::Message as _;
use sundial_api::temporal::enums::v1::WorkflowTaskFailedCause;
use sundial_api::temporal::failure::v1::Failure;
use sundial_api::temporal::history::v1::history_event::Attributes;
use sundial_api::temporal::history::v1::{
    WorkflowExecutionUpdateAcceptedEventAttributes, WorkflowExecutionUpdateCompletedEventAttributes,
};
use sundial_api::temporal::protocol::v1::{Message, message::SequencingId};
use sundial_api::temporal::update::v1::{Acceptance, Rejection, Response};

const TYPE_PREFIX: &str = "type.googleapis.com/";
const REQUEST_TYPE: &str = "temporal.api.update.v1.Request";
const ACCEPTANCE_TYPE: &str = "temporal.api.update.v1.Acceptance";
const REJECTION_TYPE: &str = "temporal.api.update.v1.Rejection";
const RESPONSE_TYPE: &str = "temporal.api.update.v1.Response";

/// `history.discardSpeculativeWorkflowTaskMaximumEventsCount`.
pub(crate) const DISCARD_SPECULATIVE_MAX_EVENTS: i64 = 10;

fn pack<M: sundial_api::prost::Message>(type_name: &str, msg: &M) -> prost_wkt_types::Any {
    prost_wkt_types::Any {
        type_url: format!("{TYPE_PREFIX}{type_name}"),
        value: msg.encode_to_vec(),
    }
}

fn unprocessed_update_failure() -> Failure {
    failure(
        "Workflow Update is rejected because it wasn't processed by worker. Probably, Workflow Update is not supported by the worker.",
        "UnprocessedUpdate",
    )
}

/// The update's messages for a workflow task that started with `started_event_id`: every
/// admitted update (and, unless the task is a heartbeat, those sent before but not answered),
/// in admission order. They become "sent".
pub(crate) fn outgoing(reg: &Registry, started_event_id: i64, include_already_sent: bool) -> Vec<Message> {
    let mut r = reg.lock();
    let mut ups: Vec<(&String, &mut Update)> = r
        .updates
        .iter_mut()
        .filter(|(_, u)| u.state == State::Admitted || (include_already_sent && u.state == State::Sent))
        .collect();
    ups.sort_by_key(|(_, u)| u.seq);
    ups.into_iter()
        .filter_map(|(id, u)| {
            u.state = State::Sent;
            let request = u.request.as_ref()?;
            Some(Message {
                id: format!("{id}/request"),
                protocol_instance_id: id.clone(),
                sequencing_id: Some(SequencingId::EventId(started_event_id - 1)),
                body: Some(pack(REQUEST_TYPE, request)),
            })
        })
        .collect()
}

/// Whether admitted updates wait for a workflow task.
pub(crate) fn has_outgoing(reg: &Registry) -> bool {
    reg.lock().updates.values().any(|u| u.state == State::Admitted)
}

/// The update messages of one workflow task completion being applied.
#[derive(Default)]
pub(crate) struct Completion {
    pub effects: Vec<Effect>,
    /// Updates this completion answered, with the event id of their acceptance if written now.
    handled: HashMap<String, i64>,
}

fn bad_message(message: impl Into<String>) -> CommandFailure {
    CommandFailure {
        cause: WorkflowTaskFailedCause::BadUpdateWorkflowExecutionMessage,
        message: message.into(),
        terminate: false,
    }
}

/// A decoded protocol message body.
pub(crate) enum Body {
    Acceptance(Acceptance),
    Rejection(Rejection),
    Response(Response),
}

pub(crate) fn decode(msg: &Message) -> Result<Body, CommandFailure> {
    let body = msg
        .body
        .as_ref()
        .ok_or_else(|| bad_message(format!("message {} has no body", msg.id)))?;
    let name = body.type_url.rsplit('/').next().unwrap_or_default();
    let bad = |e: sundial_api::prost::DecodeError| bad_message(format!("unable to decode message {}: {e}", msg.id));
    Ok(match name {
        ACCEPTANCE_TYPE => Body::Acceptance(Acceptance::decode(body.value.as_slice()).map_err(bad)?),
        REJECTION_TYPE => Body::Rejection(Rejection::decode(body.value.as_slice()).map_err(bad)?),
        RESPONSE_TYPE => Body::Response(Response::decode(body.value.as_slice()).map_err(bad)?),
        other => return Err(bad_message(format!("unsupported protocol message type {other}"))),
    })
}

/// Whether every message of a completion is a rejection (a speculative task answered only
/// with rejections can be discarded).
pub(crate) fn only_rejections(messages: &[Message]) -> bool {
    messages
        .iter()
        .all(|m| m.body.as_ref().is_some_and(|b| b.type_url.ends_with(REJECTION_TYPE)))
}

impl Completion {
    /// Applies one protocol message from the worker: acceptance and response write their
    /// events, a rejection writes nothing.
    pub(crate) fn handle(&mut self, m: &mut Mutation<'_>, reg: &Registry, msg: &Message) -> Result<(), CommandFailure> {
        let id = msg.protocol_instance_id.clone();
        let known = reg
            .lock()
            .updates
            .get(&id)
            .map(|u| (u.state, u.request.clone(), u.accepted_event_id));
        match decode(msg)? {
            Body::Acceptance(a) => {
                let request = match known {
                    Some((State::Admitted | State::Sent, request, _)) if !self.handled.contains_key(&id) => {
                        request.or(a.accepted_request.clone())
                    }
                    // Not in the registry (lost on restart): resurrect it from the message.
                    None if a.accepted_request.is_some() && !self.handled.contains_key(&id) => {
                        a.accepted_request.clone()
                    }
                    _ => {
                        return Err(bad_message(format!(
                            "invalid state transition attempted for Update {id}: received Acceptance message"
                        )));
                    }
                };
                let attached = reg
                    .lock()
                    .updates
                    .get(&id)
                    .map(|u| u.attached.clone())
                    .unwrap_or_default();
                for r in request.iter().chain(attached.iter()) {
                    crate::nexus::callbacks::register_update(m, &id, r);
                }
                let links = request.as_ref().map(|r| r.links.clone()).unwrap_or_default();
                let event_id = m.add_event(Attributes::WorkflowExecutionUpdateAcceptedEventAttributes(
                    WorkflowExecutionUpdateAcceptedEventAttributes {
                        protocol_instance_id: id.clone(),
                        accepted_request_message_id: format!("{id}/request"),
                        accepted_request_sequencing_event_id: a.accepted_request_sequencing_event_id,
                        accepted_request: request,
                    },
                ));
                if let Some(accepted) = m.events.last_mut() {
                    accepted.links = links;
                }
                self.handled.insert(id.clone(), event_id);
                self.effects.push(Effect::Accepted { id, event_id });
            }
            Body::Rejection(r) => {
                match known {
                    Some((State::Admitted | State::Sent, ..)) | None if !self.handled.contains_key(&id) => {}
                    _ => {
                        return Err(bad_message(format!(
                            "invalid state transition attempted for Update {id}: received Rejection message"
                        )));
                    }
                }
                self.handled.insert(id.clone(), 0);
                self.effects.push(Effect::Rejected {
                    id,
                    failure: r.failure.unwrap_or_default(),
                });
            }
            Body::Response(r) => {
                let accepted_event_id = match (self.handled.get(&id), known) {
                    (Some(&event_id), _) if event_id != 0 => event_id,
                    (None, Some((State::Accepted, _, event_id))) => event_id,
                    _ => {
                        return Err(bad_message(format!(
                            "invalid state transition attempted for Update {id}: received Response message"
                        )));
                    }
                };
                let outcome = r.outcome.clone().unwrap_or_default();
                m.add_event(Attributes::WorkflowExecutionUpdateCompletedEventAttributes(
                    WorkflowExecutionUpdateCompletedEventAttributes {
                        meta: r.meta.clone(),
                        accepted_event_id,
                        outcome: Some(outcome.clone()),
                    },
                ));
                crate::nexus::callbacks::update_completed(m, &id, &outcome);
                self.handled.insert(id.clone(), -1);
                self.effects.push(Effect::Completed { id, outcome });
            }
        }
        Ok(())
    }

    /// Updates sent to the worker that it did not answer are rejected by the server, so they
    /// are not delivered again and again (an old SDK or a bug).
    pub(crate) fn reject_unprocessed(&mut self, reg: &Registry) {
        let r = reg.lock();
        for (id, u) in &r.updates {
            if u.state == State::Sent && !self.handled.contains_key(id) {
                tracing::warn!(update_id = %id, "workflow task completed without processing an update; rejecting it");
                self.effects.push(Effect::Rejected {
                    id: id.clone(),
                    failure: unprocessed_update_failure(),
                });
            }
        }
    }
}
