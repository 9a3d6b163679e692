//! Nexus tasks: history's DispatchNexusTask hands a request to a Nexus poller of the queue's
//! root partition (never persisted, like a query) and waits for the worker's answer, which the
//! frontend brings back with RespondNexusTask. Whatever does not arrive in time is a
//! `request_timeout` outcome: history treats it as a retryable attempt.

use crate::engine::{MatchingEngine, Polled};
use crate::error::MatchingError;
use crate::partition::{QueryTask, Withdraw};
use std::sync::Arc;
use std::time::Duration;
use sundial_api::prost::Message;
use sundial_api::sundial::matchingservice::v1::{
    DispatchNexusTaskRequest, DispatchNexusTaskResponse, RespondNexusTaskRequest, dispatch_nexus_task_response,
    respond_nexus_task_request,
};
use sundial_api::sundial::token::v1::TaskToken;
use sundial_api::workflowservice::v1::PollNexusTaskQueueResponse;
use sundial_persistence::{TASK_TYPE_NEXUS, TaskQueueKey};

type Answer = dispatch_nexus_task_response::Outcome;

/// Nexus tasks handed out and waiting for the worker's answer.
pub(crate) type NexusWaiters = crate::query::Waiters<Answer>;

/// Go's `time.Duration.String()` form ("9.5s", "850ms"), which SDKs parse from the
/// `Request-Timeout` header.
pub(crate) fn go_duration(d: Duration) -> String {
    let ms = d.as_millis();
    if ms >= 1000 {
        let secs = d.as_secs_f64();
        let text = format!("{secs:.3}");
        format!("{}s", text.trim_end_matches('0').trim_end_matches('.'))
    } else {
        format!("{ms}ms")
    }
}

impl MatchingEngine {
    pub(crate) async fn dispatch_nexus_task(
        self: &Arc<Self>,
        request: DispatchNexusTaskRequest,
    ) -> Result<DispatchNexusTaskResponse, MatchingError> {
        if request.task_queue.is_empty() {
            return Err(MatchingError::InvalidArgument("task_queue is required".into()));
        }
        let mut nexus_request = request
            .request
            .ok_or_else(|| MatchingError::InvalidArgument("request is required".into()))?;
        let timeout = request
            .timeout
            .as_ref()
            .and_then(sundial_common::time::duration_from_pb)
            .unwrap_or(Duration::from_secs(60));
        let key = TaskQueueKey::new(&request.namespace_id, &request.task_queue, TASK_TYPE_NEXUS);
        let partition = self.partition(&key, false).await?;
        // What the handler may spend: SDKs cancel the handler's context at this deadline. Both
        // spellings, as Temporal sends them (Java reads the capitalised one).
        let budget = go_duration(timeout);
        nexus_request.header.insert("request-timeout".into(), budget.clone());
        nexus_request.header.insert("Request-Timeout".into(), budget);

        let id = uuid::Uuid::new_v4().to_string();
        let response = PollNexusTaskQueueResponse {
            task_token: TaskToken {
                namespace_id: request.namespace_id.clone(),
                task_queue: request.task_queue.clone(),
                nexus_task_id: id.clone(),
                ..Default::default()
            }
            .encode_to_vec(),
            request: Some(nexus_request),
            ..Default::default()
        };
        let (_registration, rx) = self.nexus.register(&id);
        if !partition.offer_query(QueryTask {
            id: id.clone(),
            response: Box::new(Polled::Nexus(response)),
        }) {
            return Err(MatchingError::ShuttingDown);
        }
        let _withdraw = Withdraw(&partition, &id);
        let outcome = match tokio::time::timeout(timeout, rx).await {
            Ok(Ok(answer)) => answer,
            Ok(Err(_)) => return Err(MatchingError::ShuttingDown),
            Err(_) => Answer::RequestTimeout(true),
        };
        Ok(DispatchNexusTaskResponse { outcome: Some(outcome) })
    }

    /// Delivers a worker's answer to the waiting dispatch.
    pub(crate) fn respond_nexus_task(&self, request: RespondNexusTaskRequest) -> Result<(), MatchingError> {
        let answer = match request.outcome {
            Some(respond_nexus_task_request::Outcome::Response(r)) => Answer::Response(r),
            Some(respond_nexus_task_request::Outcome::Failure(f)) => Answer::Failure(f),
            None => return Err(MatchingError::InvalidArgument("an outcome is required".into())),
        };
        // A dispatch that gave up just now drops the answer, as if it came too late.
        if self.nexus.deliver(&request.task_id, answer) {
            Ok(())
        } else {
            Err(MatchingError::NexusTaskNotFound)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_timeouts_read_like_go_durations() {
        assert_eq!(go_duration(Duration::from_millis(9_990)), "9.99s");
        assert_eq!(go_duration(Duration::from_secs(10)), "10s");
        assert_eq!(go_duration(Duration::from_millis(850)), "850ms");
        assert_eq!(go_duration(Duration::from_millis(1_500)), "1.5s");
    }
}
