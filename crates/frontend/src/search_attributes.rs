//! Search attributes: the system ones every namespace has (Temporal's names and types), and
//! the check of client-set values against a namespace's registered custom attributes.

use std::collections::HashMap;
use sundial_api::sundial::persistence::v1::NamespaceDetail;
use sundial_api::temporal::common::v1::SearchAttributes;
use sundial_common::ServiceError;

pub(crate) fn system_search_attributes() -> HashMap<String, i32> {
    sundial_persistence::visibility::system_attribute_types()
}

/// A pre-allocated visibility column as Temporal names it (`Keyword01`, `KeywordList02`).
pub(crate) fn column_name(column: &str) -> String {
    let shown = column.replacen("keywordlist", "KeywordList", 1);
    let mut chars = shown.chars();
    chars
        .next()
        .map(|c| c.to_ascii_uppercase().to_string() + chars.as_str())
        .unwrap_or_default()
}

/// GetSearchAttributes (cluster-wide, deprecated in Temporal): the system attributes and, as
/// Temporal's SQL visibility answers, every pre-allocated column custom attributes map to.
pub(crate) fn cluster_search_attributes() -> HashMap<String, i32> {
    let mut keys = system_search_attributes();
    for ty in sundial_persistence::visibility::ValueType::ALL {
        for column in ty.pool() {
            keys.insert(column_name(column), ty.indexed() as i32);
        }
    }
    keys
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
