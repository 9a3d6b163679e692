//! Standalone activities (StartActivityExecution) live in history beside workflows, under an
//! internal execution key of their own: the activity id behind a prefix that no workflow id
//! may carry (the frontend refuses it), so the two id spaces never meet.

use sundial_api::temporal::enums::v1::{ActivityExecutionStatus, WorkflowExecutionStatus};

/// Starts with a control character, which no SDK puts in a workflow id.
pub const ACTIVITY_KEY_PREFIX: &str = "\u{1}activity/";

/// The execution key of the standalone activity `activity_id`.
pub fn activity_key(activity_id: &str) -> String {
    format!("{ACTIVITY_KEY_PREFIX}{activity_id}")
}

/// The API status of a standalone activity whose run (and visibility row) has the workflow
/// status `run_status`: the codes agree but for TimedOut.
pub fn activity_status(run_status: i32) -> ActivityExecutionStatus {
    match WorkflowExecutionStatus::try_from(run_status) {
        Ok(WorkflowExecutionStatus::Running) => ActivityExecutionStatus::Running,
        Ok(WorkflowExecutionStatus::Completed) => ActivityExecutionStatus::Completed,
        Ok(WorkflowExecutionStatus::Failed) => ActivityExecutionStatus::Failed,
        Ok(WorkflowExecutionStatus::Canceled) => ActivityExecutionStatus::Canceled,
        Ok(WorkflowExecutionStatus::Terminated) => ActivityExecutionStatus::Terminated,
        Ok(WorkflowExecutionStatus::TimedOut) => ActivityExecutionStatus::TimedOut,
        _ => ActivityExecutionStatus::Unspecified,
    }
}

/// Standalone Nexus operations (StartNexusOperationExecution) have keys of their own the same way.
pub const NEXUS_KEY_PREFIX: &str = "\u{1}nexus/";

/// The execution key of the standalone Nexus operation `operation_id`.
pub fn nexus_key(operation_id: &str) -> String {
    format!("{NEXUS_KEY_PREFIX}{operation_id}")
}

/// The API status of a standalone Nexus operation whose run has the workflow status
/// `run_status` (the same codes as activities').
pub fn nexus_status(run_status: i32) -> sundial_api::temporal::enums::v1::NexusOperationExecutionStatus {
    sundial_api::temporal::enums::v1::NexusOperationExecutionStatus::try_from(activity_status(run_status) as i32)
        .unwrap_or_default()
}

/// The activity id behind an execution key, if the key is a standalone activity's.
pub fn activity_id_of(key: &str) -> Option<&str> {
    key.strip_prefix(ACTIVITY_KEY_PREFIX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_round_trip_and_workflow_ids_are_not_keys() {
        assert_eq!(activity_id_of(&activity_key("a/b")), Some("a/b"));
        assert_eq!(activity_id_of("activity/x"), None);
    }

    #[test]
    fn run_statuses_map_to_activity_statuses() {
        assert_eq!(
            activity_status(WorkflowExecutionStatus::TimedOut as i32),
            ActivityExecutionStatus::TimedOut
        );
        assert_eq!(
            activity_status(WorkflowExecutionStatus::Canceled as i32),
            ActivityExecutionStatus::Canceled
        );
        assert_eq!(
            activity_status(WorkflowExecutionStatus::ContinuedAsNew as i32),
            ActivityExecutionStatus::Unspecified
        );
    }
}
