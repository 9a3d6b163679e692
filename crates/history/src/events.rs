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
        _ => EventType::Unspecified,
    }
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
