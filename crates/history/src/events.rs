//! History events: building them and naming their types.

use sundial_api::temporal::enums::v1::EventType;
use sundial_api::temporal::history::v1::HistoryEvent;
use sundial_api::temporal::history::v1::history_event::Attributes;

/// The event type that goes with an attributes variant.
pub(crate) fn event_type(attrs: &Attributes) -> EventType {
    use Attributes as A;
    match attrs {
        A::WorkflowExecutionStartedEventAttributes(_) => EventType::WorkflowExecutionStarted,
        A::WorkflowExecutionCompletedEventAttributes(_) => EventType::WorkflowExecutionCompleted,
        A::WorkflowExecutionFailedEventAttributes(_) => EventType::WorkflowExecutionFailed,
        A::WorkflowExecutionTimedOutEventAttributes(_) => EventType::WorkflowExecutionTimedOut,
        A::WorkflowTaskScheduledEventAttributes(_) => EventType::WorkflowTaskScheduled,
        A::WorkflowTaskStartedEventAttributes(_) => EventType::WorkflowTaskStarted,
        A::WorkflowTaskCompletedEventAttributes(_) => EventType::WorkflowTaskCompleted,
        A::WorkflowTaskTimedOutEventAttributes(_) => EventType::WorkflowTaskTimedOut,
        A::WorkflowTaskFailedEventAttributes(_) => EventType::WorkflowTaskFailed,
        A::ActivityTaskScheduledEventAttributes(_) => EventType::ActivityTaskScheduled,
        A::ActivityTaskStartedEventAttributes(_) => EventType::ActivityTaskStarted,
        A::ActivityTaskCompletedEventAttributes(_) => EventType::ActivityTaskCompleted,
        A::ActivityTaskFailedEventAttributes(_) => EventType::ActivityTaskFailed,
        A::ActivityTaskTimedOutEventAttributes(_) => EventType::ActivityTaskTimedOut,
        A::TimerStartedEventAttributes(_) => EventType::TimerStarted,
        A::TimerFiredEventAttributes(_) => EventType::TimerFired,
        A::ActivityTaskCancelRequestedEventAttributes(_) => EventType::ActivityTaskCancelRequested,
        A::ActivityTaskCanceledEventAttributes(_) => EventType::ActivityTaskCanceled,
        A::TimerCanceledEventAttributes(_) => EventType::TimerCanceled,
        A::MarkerRecordedEventAttributes(_) => EventType::MarkerRecorded,
        A::WorkflowExecutionSignaledEventAttributes(_) => EventType::WorkflowExecutionSignaled,
        A::WorkflowExecutionTerminatedEventAttributes(_) => EventType::WorkflowExecutionTerminated,
        A::WorkflowExecutionCancelRequestedEventAttributes(_) => EventType::WorkflowExecutionCancelRequested,
        A::WorkflowExecutionCanceledEventAttributes(_) => EventType::WorkflowExecutionCanceled,
        A::UpsertWorkflowSearchAttributesEventAttributes(_) => EventType::UpsertWorkflowSearchAttributes,
        A::WorkflowPropertiesModifiedEventAttributes(_) => EventType::WorkflowPropertiesModified,
        A::WorkflowExecutionContinuedAsNewEventAttributes(_) => EventType::WorkflowExecutionContinuedAsNew,
        A::StartChildWorkflowExecutionInitiatedEventAttributes(_) => EventType::StartChildWorkflowExecutionInitiated,
        A::StartChildWorkflowExecutionFailedEventAttributes(_) => EventType::StartChildWorkflowExecutionFailed,
        A::ChildWorkflowExecutionStartedEventAttributes(_) => EventType::ChildWorkflowExecutionStarted,
        A::ChildWorkflowExecutionCompletedEventAttributes(_) => EventType::ChildWorkflowExecutionCompleted,
        A::ChildWorkflowExecutionFailedEventAttributes(_) => EventType::ChildWorkflowExecutionFailed,
        A::ChildWorkflowExecutionCanceledEventAttributes(_) => EventType::ChildWorkflowExecutionCanceled,
        A::ChildWorkflowExecutionTimedOutEventAttributes(_) => EventType::ChildWorkflowExecutionTimedOut,
        A::ChildWorkflowExecutionTerminatedEventAttributes(_) => EventType::ChildWorkflowExecutionTerminated,
        A::SignalExternalWorkflowExecutionInitiatedEventAttributes(_) => {
            EventType::SignalExternalWorkflowExecutionInitiated
        }
        A::SignalExternalWorkflowExecutionFailedEventAttributes(_) => EventType::SignalExternalWorkflowExecutionFailed,
        A::ExternalWorkflowExecutionSignaledEventAttributes(_) => EventType::ExternalWorkflowExecutionSignaled,
        A::RequestCancelExternalWorkflowExecutionInitiatedEventAttributes(_) => {
            EventType::RequestCancelExternalWorkflowExecutionInitiated
        }
        A::RequestCancelExternalWorkflowExecutionFailedEventAttributes(_) => {
            EventType::RequestCancelExternalWorkflowExecutionFailed
        }
        A::ExternalWorkflowExecutionCancelRequestedEventAttributes(_) => {
            EventType::ExternalWorkflowExecutionCancelRequested
        }
        A::WorkflowExecutionUpdateAcceptedEventAttributes(_) => EventType::WorkflowExecutionUpdateAccepted,
        A::WorkflowExecutionUpdateCompletedEventAttributes(_) => EventType::WorkflowExecutionUpdateCompleted,
        A::WorkflowExecutionOptionsUpdatedEventAttributes(_) => EventType::WorkflowExecutionOptionsUpdated,
        A::NexusOperationScheduledEventAttributes(_) => EventType::NexusOperationScheduled,
        A::NexusOperationStartedEventAttributes(_) => EventType::NexusOperationStarted,
        A::NexusOperationCompletedEventAttributes(_) => EventType::NexusOperationCompleted,
        A::NexusOperationFailedEventAttributes(_) => EventType::NexusOperationFailed,
        A::NexusOperationCanceledEventAttributes(_) => EventType::NexusOperationCanceled,
        A::NexusOperationTimedOutEventAttributes(_) => EventType::NexusOperationTimedOut,
        A::NexusOperationCancelRequestedEventAttributes(_) => EventType::NexusOperationCancelRequested,
        A::NexusOperationCancelRequestCompletedEventAttributes(_) => EventType::NexusOperationCancelRequestCompleted,
        A::NexusOperationCancelRequestFailedEventAttributes(_) => EventType::NexusOperationCancelRequestFailed,
        _ => EventType::Unspecified,
    }
}

/// `PascalCase` for a `CONSTANT_CASE` enum name (what Temporal's Go API prints).
pub(crate) fn pascal_case(constant: &str) -> String {
    constant
        .split('_')
        .map(|w| {
            let lower = w.to_ascii_lowercase();
            let mut c = lower.chars();
            c.next()
                .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                .unwrap_or_default()
        })
        .collect()
}

pub(crate) fn new_event(event_id: i64, time: prost_wkt_types::Timestamp, attrs: Attributes) -> HistoryEvent {
    HistoryEvent {
        event_id,
        event_time: Some(time),
        event_type: event_type(&attrs) as i32,
        attributes: Some(attrs),
        ..Default::default()
    }
}
