//! The system search attributes every namespace has, with Temporal's names and types.

use std::collections::HashMap;
use sundial_api::temporal::enums::v1::IndexedValueType;

pub(crate) fn system_search_attributes() -> HashMap<String, i32> {
    use IndexedValueType::*;
    [
        ("BatcherNamespace", Keyword),
        ("BatcherUser", Keyword),
        ("BinaryChecksums", KeywordList),
        ("BuildIds", KeywordList),
        ("CloseTime", Datetime),
        ("ExecutionDuration", Int),
        ("ExecutionStatus", Keyword),
        ("ExecutionTime", Datetime),
        ("HistoryLength", Int),
        ("HistorySizeBytes", Int),
        ("ParentRunId", Keyword),
        ("ParentWorkflowId", Keyword),
        ("RootRunId", Keyword),
        ("RootWorkflowId", Keyword),
        ("RunId", Keyword),
        ("StartTime", Datetime),
        ("StateTransitionCount", Int),
        ("TaskQueue", Keyword),
        ("TemporalChangeVersion", KeywordList),
        ("TemporalExternalPayloadCount", Int),
        ("TemporalExternalPayloadSizeBytes", Int),
        ("TemporalNamespaceDivision", Keyword),
        ("TemporalPauseInfo", KeywordList),
        ("TemporalReportedProblems", KeywordList),
        ("TemporalSchedulePaused", Bool),
        ("TemporalScheduledById", Keyword),
        ("TemporalScheduledStartTime", Datetime),
        ("TemporalUsedWorkerDeploymentVersions", KeywordList),
        ("TemporalWorkerDeployment", Keyword),
        ("TemporalWorkerDeploymentVersion", Keyword),
        ("TemporalWorkflowVersioningBehavior", Keyword),
        ("WorkflowId", Keyword),
        ("WorkflowType", Keyword),
    ]
    .into_iter()
    .map(|(name, ty)| (name.to_owned(), ty as i32))
    .collect()
}
