//! Search attributes: the system ones every namespace has (Temporal's names and types), and
//! the check of client-set values against a namespace's registered custom attributes.

use std::collections::HashMap;
use sundial_api::sundial::persistence::v1::NamespaceDetail;
use sundial_api::temporal::common::v1::SearchAttributes;
use sundial_common::ServiceError;

pub(crate) fn system_search_attributes() -> HashMap<String, i32> {
    sundial_persistence::visibility::system_attribute_types()
}

/// Checks search attributes set by a client (StartWorkflowExecution,
/// SignalWithStartWorkflowExecution) against the namespace's registered attributes and their
/// types; `INVALID_ARGUMENT` naming the attribute otherwise.
pub fn validate_search_attributes(
    detail: &NamespaceDetail,
    attrs: Option<&SearchAttributes>,
) -> Result<(), ServiceError> {
    match attrs {
        Some(a) if !a.indexed_fields.is_empty() => {
            sundial_persistence::visibility::validate_search_attributes(detail, a)
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sundial_api::temporal::enums::v1::IndexedValueType;

    #[test]
    fn system_attributes_keep_temporal_names_and_types() {
        let sys = system_search_attributes();
        assert_eq!(sys.get("WorkflowType"), Some(&(IndexedValueType::Keyword as i32)));
        assert_eq!(sys.get("StartTime"), Some(&(IndexedValueType::Datetime as i32)));
        assert_eq!(
            sys.get("TemporalChangeVersion"),
            Some(&(IndexedValueType::KeywordList as i32))
        );
        assert_eq!(sys.get("HistoryLength"), Some(&(IndexedValueType::Int as i32)));
        assert_eq!(sys.len(), 33);
        assert!(validate_search_attributes(&NamespaceDetail::default(), None).is_ok());
    }
}
