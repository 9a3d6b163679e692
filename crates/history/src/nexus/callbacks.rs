//! Completion callbacks of runs that back Nexus operations: registered when the run starts
//! (StartWorkflowExecution.completion_callbacks), handed on to the next run while the chain
//! continues, and called once it closes. A `temporal://system` callback is delivered inside the
//! cluster, to the history host of the caller's operation.

use super::{Completion, SYSTEM_CALLBACK_URL, links};
use crate::HistoryEngine;
use crate::mutation::{Mutation, PendingTask};
use crate::shard::{RunKey, Shard};
use sundial_api::sundial::historyservice::v1::{CompleteNexusOperationRequest, complete_nexus_operation_request};
use sundial_api::sundial::persistence::v1::{CallbackRecord, TransferTask, TransferTaskType};
use sundial_api::temporal::common::v1::Callback;
use sundial_api::temporal::common::v1::callback::Variant;
use sundial_api::temporal::enums::v1::{CallbackState, EventType, RetryState, WorkflowExecutionStatus};
use sundial_api::temporal::failure::v1::failure::FailureInfo;
use sundial_api::temporal::failure::v1::{CanceledFailureInfo, Failure, TerminatedFailureInfo, TimeoutFailureInfo};
use sundial_api::temporal::history::v1::history_event::Attributes;
use sundial_common::ServiceError;

/// The records of callbacks a run starts with.
pub(crate) fn register(
    callbacks: &[Callback],
    request_id: &str,
    now: prost_wkt_types::Timestamp,
) -> Vec<CallbackRecord> {
    callbacks
        .iter()
        .map(|c| CallbackRecord {
            callback: Some(lowercase_header(c.clone())),
            registration_time: Some(now),
            state: CallbackState::Standby as i32,
            request_id: request_id.to_owned(),
            ..Default::default()
        })
        .collect()
}

pub(crate) fn lowercase_header(mut c: Callback) -> Callback {
    if let Some(Variant::Nexus(n)) = c.variant.as_mut() {
        n.header = std::mem::take(&mut n.header)
            .into_iter()
            .map(|(k, v)| (k.to_ascii_lowercase(), v))
            .collect();
    }
    c
}

/// Registers the callbacks of an update request (once per request id): they are called when
/// update `update_id` completes.
pub(crate) fn register_update(
    m: &mut Mutation<'_>,
    update_id: &str,
    request: &sundial_api::temporal::update::v1::Request,
) {
    if request.completion_callbacks.is_empty()
        || m.info_ref()
            .callbacks
            .iter()
            .any(|c| c.update_id == update_id && c.request_id == request.request_id)
    {
        return;
    }
    let now = m.now;
    let mut records = register(&request.completion_callbacks, &request.request_id, now);
    for r in &mut records {
        r.update_id = update_id.to_owned();
    }
    m.info().callbacks.extend(records);
}

/// Update `update_id` completed: its callbacks are scheduled with its outcome.
pub(crate) fn update_completed(
    m: &mut Mutation<'_>,
    update_id: &str,
    outcome: &sundial_api::temporal::update::v1::Outcome,
) {
    let due: Vec<usize> = m
        .info_ref()
        .callbacks
        .iter()
        .enumerate()
        .filter(|(_, c)| c.update_id == update_id && c.state == CallbackState::Standby as i32)
        .map(|(i, _)| i)
        .collect();
    schedule(m, &due, Some(outcome));
}

/// Marks callbacks `indexes` scheduled (with an update's outcome) and queues their delivery.
fn schedule(m: &mut Mutation<'_>, indexes: &[usize], outcome: Option<&sundial_api::temporal::update::v1::Outcome>) {
    for &i in indexes {
        if let Some(record) = m.info().callbacks.get_mut(i) {
            record.state = CallbackState::Scheduled as i32;
            if let Some(o) = outcome {
                record.update_outcome = Some(o.clone());
            }
        }
        let task = m.transfer(TransferTaskType::NexusCallback, i as i64);
        m.tasks.push(PendingTask::Transfer(task));
    }
}

/// The run closed. Callbacks wait for the end of the chain: a run that continues (continue-as-
/// new, a retry) passes them on; otherwise each is scheduled for delivery. An update's
/// callbacks still waiting get the failure its waiters get (the workflow closed first).
pub(crate) fn on_close(m: &mut Mutation<'_>, continuing: bool) {
    if m.info_ref().callbacks.is_empty() {
        return;
    }
    if continuing && let Some(next) = m.new_run.as_mut() {
        let callbacks = std::mem::take(&mut m.ms.info.get_or_insert_with(Default::default).callbacks);
        next.ms.info.get_or_insert_with(Default::default).callbacks = callbacks;
        return;
    }
    let waiting = |m: &Mutation<'_>, update: bool| -> Vec<usize> {
        m.info_ref()
            .callbacks
            .iter()
            .enumerate()
            .filter(|(_, c)| c.state == CallbackState::Standby as i32 && c.update_id.is_empty() != update)
            .map(|(i, _)| i)
            .collect()
    };
    let (closing, updates) = (waiting(m, false), waiting(m, true));
    schedule(m, &closing, None);
    schedule(
        m,
        &updates,
        Some(&crate::updates::accepted_update_completed_workflow_failure()),
    );
}

/// The completion an update's outcome means for the operation it backs.
fn completion_of_update(outcome: &sundial_api::temporal::update::v1::Outcome) -> Completion {
    use sundial_api::temporal::update::v1::outcome::Value;
    match &outcome.value {
        Some(Value::Success(p)) => Completion::Succeeded(p.payloads.first().cloned()),
        Some(Value::Failure(f)) => Completion::Failed(f.clone()),
        None => Completion::Succeeded(None),
    }
}

/// Whether a close leaves the chain going on (the closing attributes say so).
pub(crate) fn continues(status: WorkflowExecutionStatus, attrs: &Attributes) -> bool {
    if status == WorkflowExecutionStatus::ContinuedAsNew {
        return true;
    }
    match attrs {
        Attributes::WorkflowExecutionFailedEventAttributes(a) => a.retry_state == RetryState::InProgress as i32,
        Attributes::WorkflowExecutionTimedOutEventAttributes(a) => a.retry_state == RetryState::InProgress as i32,
        _ => false,
    }
}

/// The completion a close event means for the operation the run backs.
fn completion_of(close: &Attributes) -> Option<Completion> {
    let failure = |message: &str, info: FailureInfo| Failure {
        message: message.to_owned(),
        failure_info: Some(info),
        ..Default::default()
    };
    Some(match close {
        Attributes::WorkflowExecutionCompletedEventAttributes(a) => {
            Completion::Succeeded(a.result.as_ref().and_then(|r| r.payloads.first().cloned()))
        }
        Attributes::WorkflowExecutionFailedEventAttributes(a) => {
            Completion::Failed(a.failure.clone().unwrap_or_default())
        }
        Attributes::WorkflowExecutionCanceledEventAttributes(a) => Completion::Canceled(failure(
            "operation canceled",
            FailureInfo::CanceledFailureInfo(CanceledFailureInfo {
                details: a.details.clone(),
                ..Default::default()
            }),
        )),
        // The reason stays with the handler, as in Temporal.
        Attributes::WorkflowExecutionTerminatedEventAttributes(_) => Completion::Failed(failure(
            "operation terminated",
            FailureInfo::TerminatedFailureInfo(TerminatedFailureInfo::default()),
        )),
        Attributes::WorkflowExecutionTimedOutEventAttributes(_) => Completion::Failed(failure(
            "operation exceeded internal timeout",
            FailureInfo::TimeoutFailureInfo(TimeoutFailureInfo::default()),
        )),
        _ => return None,
    })
}

impl HistoryEngine {
    /// Delivers completion callback number `task.scheduled_event_id` of a closed run.
    pub(crate) async fn nexus_callback_task(&self, shard: &Shard, task: &TransferTask) -> Result<(), ServiceError> {
        let run = RunKey::new(task.namespace_id.clone(), task.workflow_id.clone(), task.run_id.clone());
        let ms = shard.snapshot(&run).await?;
        let info = ms.info.clone().unwrap_or_default();
        let index = usize::try_from(task.scheduled_event_id).unwrap_or(usize::MAX);
        let Some(record) = info
            .callbacks
            .get(index)
            .filter(|r| r.state == CallbackState::Scheduled as i32)
        else {
            return Ok(());
        };
        let completion = match &record.update_outcome {
            Some(outcome) if !record.update_id.is_empty() => completion_of_update(outcome),
            _ => {
                let close = self
                    .read_events(shard, &run, info.completion_event_id, info.completion_event_id)
                    .await?
                    .into_iter()
                    .next();
                let Some(completion) = close
                    .as_ref()
                    .and_then(|e| e.attributes.as_ref())
                    .and_then(completion_of)
                else {
                    return Err(ServiceError::Internal("the closed run's close event is missing".into()));
                };
                completion
            }
        };
        let Some(Variant::Nexus(nexus)) = record.callback.as_ref().and_then(|c| c.variant.clone()) else {
            return self.callback_done(shard, &run, index, Ok(())).await;
        };
        sundial_common::crash::point("history.before_nexus_callback");
        let token = nexus
            .header
            .get(super::CALLBACK_TOKEN_HEADER)
            .and_then(|t| super::invoke::decode_callback_token(t));
        let delivered = match token {
            Some(token) if nexus.url == SYSTEM_CALLBACK_URL => {
                // A callback attached to the running workflow points at the event that
                // attached it; the start's own at the started event.
                let started = if !record.update_id.is_empty() {
                    links::request_id_event(
                        &info.namespace,
                        &info.workflow_id,
                        &info.run_id,
                        &record.request_id,
                        EventType::WorkflowExecutionUpdateAccepted,
                    )
                } else if record.attached {
                    links::request_id_event(
                        &info.namespace,
                        &info.workflow_id,
                        &info.run_id,
                        &record.request_id,
                        EventType::WorkflowExecutionOptionsUpdated,
                    )
                } else {
                    links::workflow_event(
                        &info.namespace,
                        &info.workflow_id,
                        &info.run_id,
                        1,
                        EventType::WorkflowExecutionStarted,
                    )
                };
                let outcome = match completion {
                    Completion::Succeeded(result) => result.map(complete_nexus_operation_request::Outcome::Result),
                    Completion::Failed(f) => Some(complete_nexus_operation_request::Outcome::Failure(f)),
                    Completion::Canceled(f) => Some(complete_nexus_operation_request::Outcome::Canceled(f)),
                };
                let request = CompleteNexusOperationRequest {
                    token: Some(token),
                    operation_token: nexus.header.get("nexus-operation-token").cloned().unwrap_or_default(),
                    links: vec![started],
                    start_time: info.start_time,
                    outcome,
                };
                self.complete_nexus_operation_on_owner(request).await
            }
            _ => Err(ServiceError::NotFound(format!(
                "callback {} cannot be delivered: only {SYSTEM_CALLBACK_URL} callbacks with a token are",
                nexus.url
            ))),
        };
        match delivered {
            Err(e @ (ServiceError::Unavailable(_) | ServiceError::Internal(_))) => {
                // Retried by the queue, with backoff; the record shows the failed attempt.
                let message = e.to_string();
                let _ = self.callback_done(shard, &run, index, Err(e)).await;
                Err(ServiceError::Unavailable(message))
            }
            other => self.callback_done(shard, &run, index, other).await,
        }
    }

    async fn callback_done(
        &self,
        shard: &Shard,
        run: &RunKey,
        index: usize,
        result: Result<(), ServiceError>,
    ) -> Result<(), ServiceError> {
        shard
            .update(run, |m| {
                let now = m.now;
                if let Some(record) = m.info().callbacks.get_mut(index) {
                    record.attempt += 1;
                    record.last_attempt_complete_time = Some(now);
                    match &result {
                        Ok(()) => {
                            record.state = CallbackState::Succeeded as i32;
                            record.last_attempt_failure = None;
                        }
                        Err(e) => {
                            let retrying = matches!(e, ServiceError::Unavailable(_) | ServiceError::Internal(_));
                            record.state = if retrying {
                                CallbackState::BackingOff as i32
                            } else {
                                CallbackState::Failed as i32
                            };
                            record.last_attempt_failure = Some(Failure {
                                message: e.to_string(),
                                failure_info: Some(FailureInfo::ApplicationFailureInfo(Default::default())),
                                ..Default::default()
                            });
                        }
                    }
                }
                Ok(())
            })
            .await
    }

    async fn complete_nexus_operation_on_owner(&self, req: CompleteNexusOperationRequest) -> Result<(), ServiceError> {
        let token = req.token.clone().unwrap_or_default();
        if self.shard(&token.namespace_id, &token.workflow_id).is_ok() {
            return self.complete_nexus_operation(req).await;
        }
        let mut client = self
            .history_router()
            .for_workflow(&token.namespace_id, &token.workflow_id)
            .map_err(|e| ServiceError::Unavailable(e.to_string()))?;
        client
            .complete_nexus_operation(req)
            .await
            .map(|_| ())
            .map_err(|s| ServiceError::from_status(&s))
    }

    /// The caller's side of a completion (on the host of the caller's shard).
    pub(crate) async fn complete_nexus_operation(
        &self,
        req: CompleteNexusOperationRequest,
    ) -> Result<(), ServiceError> {
        let token = req
            .token
            .ok_or_else(|| ServiceError::invalid("invalid callback token"))?;
        let run = RunKey::new(
            token.namespace_id.clone(),
            token.workflow_id.clone(),
            token.run_id.clone(),
        );
        let shard = self.shard(&run.namespace_id, &run.workflow_id)?;
        let completion = match req.outcome {
            None => Completion::Succeeded(None),
            Some(complete_nexus_operation_request::Outcome::Result(p)) => Completion::Succeeded(Some(p)),
            Some(complete_nexus_operation_request::Outcome::Failure(f)) => Completion::Failed(f),
            Some(complete_nexus_operation_request::Outcome::Canceled(f)) => Completion::Canceled(f),
        };
        let start_time = req.start_time.as_ref().map(sundial_common::time::timestamp_to_nanos);
        let applied = shard
            .update(&run, |m| {
                Ok(super::complete(
                    m,
                    token.scheduled_event_id,
                    &token.request_id,
                    &req.operation_token,
                    req.links.clone(),
                    start_time,
                    completion.clone(),
                ))
            })
            .await?;
        if applied {
            Ok(())
        } else {
            Err(ServiceError::NotFound("operation not found".into()))
        }
    }
}
