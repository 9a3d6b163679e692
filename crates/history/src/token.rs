//! Task tokens: what workers hand back to identify the task they completed.

use sundial_api::prost::Message;
use sundial_api::sundial::token::v1::TaskToken;
use sundial_common::ServiceError;

pub(crate) fn encode(token: &TaskToken) -> Vec<u8> {
    token.encode_to_vec()
}

pub(crate) fn decode(bytes: &[u8]) -> Result<TaskToken, ServiceError> {
    if bytes.is_empty() {
        return Err(ServiceError::invalid("Task token not set on request."));
    }
    let token = TaskToken::decode(bytes).map_err(|_| ServiceError::invalid("Error deserializing task token."))?;
    if token.workflow_id.is_empty() || token.run_id.is_empty() {
        return Err(ServiceError::invalid("Error deserializing task token."));
    }
    Ok(token)
}

/// An activity token. One the frontend built for a `*ById` call (no scheduled event id) may
/// leave the run id empty: the workflow's (or standalone activity's) current run.
pub(crate) fn decode_activity(bytes: &[u8]) -> Result<TaskToken, ServiceError> {
    if bytes.is_empty() {
        return Err(ServiceError::invalid("Task token not set on request."));
    }
    let token = TaskToken::decode(bytes).map_err(|_| ServiceError::invalid("Error deserializing task token."))?;
    let run_ok = !token.run_id.is_empty() || token.scheduled_event_id == 0;
    if token.workflow_id.is_empty() || !run_ok {
        return Err(ServiceError::invalid("Error deserializing task token."));
    }
    Ok(token)
}

#[cfg(test)]
pub(crate) mod props;
