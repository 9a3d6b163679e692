//! How DescribeWorkflowExecution shows Nexus operations and completion callbacks.

use sundial_api::sundial::persistence::v1::{ExecutionInfo, WorkflowMutableState};
use sundial_api::temporal::enums::v1::NexusOperationCancellationState as CancelState;
use sundial_api::temporal::workflow::v1::{
    CallbackInfo, NexusOperationCancellationInfo, PendingNexusOperationInfo, callback_info,
};

pub(crate) fn pending_operations(ms: &WorkflowMutableState) -> Vec<PendingNexusOperationInfo> {
    let mut ops: Vec<_> = ms.nexus_operations.values().collect();
    ops.sort_by_key(|op| op.scheduled_event_id);
    #[allow(deprecated)]
    ops.into_iter()
        .map(|op| PendingNexusOperationInfo {
            endpoint: op.endpoint.clone(),
            service: op.service.clone(),
            operation: op.operation.clone(),
            operation_id: op.operation_token.clone(),
            schedule_to_close_timeout: op.schedule_to_close_timeout,
            scheduled_time: op.scheduled_time,
            state: op.state,
            attempt: op.attempt,
            last_attempt_complete_time: op.last_attempt_complete_time,
            last_attempt_failure: op.last_attempt_failure.clone(),
            next_attempt_schedule_time: op.next_attempt_schedule_time,
            cancellation_info: (op.cancel_requested_event_id != 0).then(|| NexusOperationCancellationInfo {
                requested_time: op.cancel_requested_time,
                state: if op.cancel_state == 0 {
                    CancelState::Unspecified as i32
                } else {
                    op.cancel_state
                },
                attempt: op.cancel_attempt,
                last_attempt_complete_time: op.cancel_last_attempt_complete_time,
                last_attempt_failure: op.cancel_last_attempt_failure.clone(),
                next_attempt_schedule_time: op.cancel_next_attempt_schedule_time,
                ..Default::default()
            }),
            scheduled_event_id: op.scheduled_event_id,
            operation_token: op.operation_token.clone(),
            schedule_to_start_timeout: op.schedule_to_start_timeout,
            start_to_close_timeout: op.start_to_close_timeout,
            ..Default::default()
        })
        .collect()
}

pub(crate) fn callbacks(info: &ExecutionInfo) -> Vec<CallbackInfo> {
    info.callbacks
        .iter()
        .map(|c| CallbackInfo {
            callback: c.callback.clone(),
            trigger: Some(callback_info::Trigger {
                variant: Some(callback_info::trigger::Variant::WorkflowClosed(
                    callback_info::WorkflowClosed {},
                )),
            }),
            registration_time: c.registration_time,
            state: c.state,
            attempt: c.attempt,
            last_attempt_complete_time: c.last_attempt_complete_time,
            last_attempt_failure: c.last_attempt_failure.clone(),
            request_id: c.request_id.clone(),
            ..Default::default()
        })
        .collect()
}
