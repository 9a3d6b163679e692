//! Visibility reads: `ListWorkflowExecutions`, `CountWorkflowExecutions`,
//! `ScanWorkflowExecutions` and the older `ListOpen/ListClosedWorkflowExecutions`, answered
//! from `executions_visibility` with Temporal's list filter language
//! (`sundial_persistence::visibility::query`).

use crate::executions::ExecutionHandler;
use crate::registry::NamespaceRegistry;
use sundial_api::temporal::common::v1::Payload;
use sundial_api::temporal::filter::v1::StartTimeFilter;
use sundial_api::workflowservice::v1::count_workflow_executions_response::AggregationGroup;
use sundial_api::workflowservice::v1::*;
use sundial_common::ServiceError;
use sundial_persistence::visibility::query::{self, VisibilityQuery, quote, status_name};
use sundial_persistence::visibility::{Catalog, format_rfc3339};
use sundial_persistence::{PersistenceError, VisibilityStore};
use tonic::Status;

pub use crate::search_attributes::validate_search_attributes;

/// Temporal's `frontend.visibilityMaxPageSize`.
pub const MAX_PAGE_SIZE: usize = 1000;

/// Resolves the namespace and compiles `query` against its search attributes.
async fn prepare(
    registry: &NamespaceRegistry,
    namespace: &str,
    query: &str,
) -> Result<(String, VisibilityQuery), ServiceError> {
    prepare_for(registry, namespace, query, false).await
}

/// `prepare` for workflows or, with `activities`, for standalone activities.
async fn prepare_for(
    registry: &NamespaceRegistry,
    namespace: &str,
    query: &str,
    activities: bool,
) -> Result<(String, VisibilityQuery), ServiceError> {
    prepare_with(registry, namespace, query, |c| {
        if activities { c.for_activities() } else { c }
    })
    .await
}

async fn prepare_with(
    registry: &NamespaceRegistry,
    namespace: &str,
    query: &str,
    division: impl FnOnce(Catalog) -> Catalog,
) -> Result<(String, VisibilityQuery), ServiceError> {
    if namespace.is_empty() {
        return Err(ServiceError::invalid("Namespace not set on request."));
    }
    let ns = registry.by_name(namespace).await?;
    let catalog = division(Catalog::from_namespace(&ns.detail));
    let compiled = query::compile(query, &catalog)?;
    Ok((ns.id.clone(), compiled))
}

/// `ListActivityExecutions`: standalone activities, with the list filter language over
/// `ActivityId`, `ActivityType`, `ExecutionStatus`, `TaskQueue`, times and search attributes.
pub(crate) async fn list_activities(
    registry: &NamespaceRegistry,
    store: &dyn VisibilityStore,
    req: ListActivityExecutionsRequest,
) -> Result<ListActivityExecutionsResponse, ServiceError> {
    let (namespace_id, q) = prepare_for(registry, &req.namespace, &req.query, true).await?;
    if q.group_by_status {
        return Err(ServiceError::invalid(
            "invalid query: GROUP BY is only supported by CountActivityExecutions",
        ));
    }
    let page = store
        .list_visibility(&namespace_id, &q, page_size(req.page_size), &req.next_page_token)
        .await
        .map_err(token_error)?;
    Ok(ListActivityExecutionsResponse {
        executions: page.records.iter().map(activity_list_info).collect(),
        next_page_token: page.next_page_token,
    })
}

fn activity_list_info(
    r: &sundial_persistence::VisibilityRecord,
) -> sundial_api::temporal::activity::v1::ActivityExecutionListInfo {
    use sundial_common::time::nanos_to_timestamp;
    sundial_api::temporal::activity::v1::ActivityExecutionListInfo {
        activity_id: r.workflow_id.clone(),
        run_id: r.run_id.clone(),
        activity_type: Some(sundial_api::temporal::common::v1::ActivityType {
            name: r.workflow_type.clone(),
        }),
        schedule_time: Some(nanos_to_timestamp(r.start_time)),
        close_time: r.close_time.map(nanos_to_timestamp),
        status: sundial_common::standalone::activity_status(r.status) as i32,
        search_attributes: crate::executions::record_search_attributes(r),
        task_queue: r.task_queue.clone(),
        state_transition_count: r.state_transition_count,
        state_size_bytes: 0,
        execution_duration: r.close_time.map(|c| crate::executions::elapsed(r.start_time, c)),
        execution_time: Some(nanos_to_timestamp(r.execution_time)),
    }
}

/// `ListNexusOperationExecutions`: standalone Nexus operations, filtered over `OperationId`,
/// `Endpoint`, `Service`, `ExecutionStatus`, times and search attributes.
pub(crate) async fn list_nexus_operations(
    registry: &NamespaceRegistry,
    store: &dyn VisibilityStore,
    req: ListNexusOperationExecutionsRequest,
) -> Result<ListNexusOperationExecutionsResponse, ServiceError> {
    let (namespace_id, q) = prepare_with(registry, &req.namespace, &req.query, Catalog::for_nexus_operations).await?;
    if q.group_by_status {
        return Err(ServiceError::invalid(
            "invalid query: GROUP BY is only supported by CountNexusOperationExecutions",
        ));
    }
    let page = store
        .list_visibility(&namespace_id, &q, page_size(req.page_size), &req.next_page_token)
        .await
        .map_err(token_error)?;
    Ok(ListNexusOperationExecutionsResponse {
        operations: page.records.iter().map(nexus_list_info).collect(),
        next_page_token: page.next_page_token,
    })
}

fn nexus_list_info(
    r: &sundial_persistence::VisibilityRecord,
) -> sundial_api::temporal::nexus::v1::NexusOperationExecutionListInfo {
    use sundial_common::time::nanos_to_timestamp;
    sundial_api::temporal::nexus::v1::NexusOperationExecutionListInfo {
        operation_id: r.workflow_id.clone(),
        run_id: r.run_id.clone(),
        endpoint: r.workflow_type.clone(),
        service: r.task_queue.clone(),
        operation: String::new(),
        schedule_time: Some(nanos_to_timestamp(r.start_time)),
        close_time: r.close_time.map(nanos_to_timestamp),
        status: sundial_common::standalone::nexus_status(r.status) as i32,
        search_attributes: crate::executions::record_search_attributes(r),
        state_transition_count: r.state_transition_count,
        execution_duration: r.close_time.map(|c| crate::executions::elapsed(r.start_time, c)),
        state_size_bytes: 0,
    }
}

/// `CountNexusOperationExecutions`, with `GROUP BY ExecutionStatus` answered in `groups`.
pub(crate) async fn count_nexus_operations(
    registry: &NamespaceRegistry,
    store: &dyn VisibilityStore,
    req: CountNexusOperationExecutionsRequest,
) -> Result<CountNexusOperationExecutionsResponse, ServiceError> {
    use count_nexus_operation_executions_response::AggregationGroup as Group;
    let (namespace_id, q) = prepare_with(registry, &req.namespace, &req.query, Catalog::for_nexus_operations).await?;
    let (count, groups) = counted(store, &namespace_id, &q).await?;
    Ok(CountNexusOperationExecutionsResponse {
        count,
        groups: groups
            .into_iter()
            .map(|(value, count)| Group {
                group_values: vec![value],
                count,
            })
            .collect(),
    })
}

/// The count a query matches and, with `GROUP BY ExecutionStatus`, the count per status (the
/// status name as a JSON string payload, as Temporal groups).
async fn counted(
    store: &dyn VisibilityStore,
    namespace_id: &str,
    q: &VisibilityQuery,
) -> Result<(i64, Vec<(sundial_api::temporal::common::v1::Payload, i64)>), ServiceError> {
    if !q.group_by_status {
        return Ok((store.count_visibility(namespace_id, q).await?, Vec::new()));
    }
    let rows = store.count_visibility_by_status(namespace_id, q).await?;
    let total = rows.iter().map(|(_, n)| n).sum();
    let groups = rows
        .iter()
        .map(|(status, n)| (json_string_payload(status_name(*status).unwrap_or("Unspecified")), *n))
        .collect();
    Ok((total, groups))
}

/// `CountActivityExecutions`, with `GROUP BY ExecutionStatus` answered in `groups`.
pub(crate) async fn count_activities(
    registry: &NamespaceRegistry,
    store: &dyn VisibilityStore,
    req: CountActivityExecutionsRequest,
) -> Result<CountActivityExecutionsResponse, ServiceError> {
    use count_activity_executions_response::AggregationGroup as Group;
    let (namespace_id, q) = prepare_for(registry, &req.namespace, &req.query, true).await?;
    if !q.order_by.is_empty() {
        return Err(ServiceError::invalid(
            "invalid query: ORDER BY is not supported by CountActivityExecutions",
        ));
    }
    let (count, groups) = counted(store, &namespace_id, &q).await?;
    Ok(CountActivityExecutionsResponse {
        count,
        groups: groups
            .into_iter()
            .map(|(value, count)| Group {
                group_values: vec![value],
                count,
            })
            .collect(),
    })
}

fn page_size(requested: i32) -> usize {
    usize::try_from(requested)
        .ok()
        .filter(|p| *p > 0)
        .unwrap_or(MAX_PAGE_SIZE)
        .min(MAX_PAGE_SIZE)
}

fn token_error(e: PersistenceError) -> ServiceError {
    match e {
        PersistenceError::ConditionFailed(_) => ServiceError::invalid("Invalid NextPageToken."),
        other => other.into(),
    }
}

/// `ListWorkflowExecutions`. `order_by_disabled` is the namespace's
/// `system.visibilityDisableOrderByClause`.
pub(crate) async fn list(
    registry: &NamespaceRegistry,
    store: &dyn VisibilityStore,
    req: ListWorkflowExecutionsRequest,
    order_by_disabled: bool,
) -> Result<ListWorkflowExecutionsResponse, ServiceError> {
    let (namespace_id, q) = prepare(registry, &req.namespace, &req.query).await?;
    if q.group_by_status {
        return Err(ServiceError::invalid(
            "invalid query: GROUP BY is only supported by CountWorkflowExecutions",
        ));
    }
    if !q.order_by.is_empty() && order_by_disabled {
        return Err(ServiceError::invalid(
            "invalid query: ORDER BY is disabled on this server (system.visibilityDisableOrderByClause)",
        ));
    }
    let page = store
        .list_visibility(&namespace_id, &q, page_size(req.page_size), &req.next_page_token)
        .await
        .map_err(token_error)?;
    Ok(ListWorkflowExecutionsResponse {
        executions: page.records.iter().map(crate::executions::execution_info).collect(),
        next_page_token: page.next_page_token,
    })
}

/// A `json/plain` payload of a string, as Temporal sends group values.
fn json_string_payload(s: &str) -> Payload {
    Payload {
        metadata: [("encoding".to_owned(), b"json/plain".to_vec())].into(),
        data: sundial_persistence::visibility::json::string(s).into_bytes(),
        ..Default::default()
    }
}

/// `CountWorkflowExecutions`, with `GROUP BY ExecutionStatus` answered in `groups`.
pub(crate) async fn count(
    registry: &NamespaceRegistry,
    store: &dyn VisibilityStore,
    req: CountWorkflowExecutionsRequest,
) -> Result<CountWorkflowExecutionsResponse, ServiceError> {
    let (namespace_id, q) = prepare(registry, &req.namespace, &req.query).await?;
    if !q.order_by.is_empty() {
        return Err(ServiceError::invalid(
            "invalid query: ORDER BY is not supported by CountWorkflowExecutions",
        ));
    }
    if !q.group_by_status {
        let count = store.count_visibility(&namespace_id, &q).await?;
        return Ok(CountWorkflowExecutionsResponse {
            count,
            groups: Vec::new(),
        });
    }
    let rows = store.count_visibility_by_status(&namespace_id, &q).await?;
    let groups: Vec<AggregationGroup> = rows
        .iter()
        .map(|(status, n)| AggregationGroup {
            group_values: vec![json_string_payload(status_name(*status).unwrap_or("Unspecified"))],
            count: *n,
        })
        .collect();
    Ok(CountWorkflowExecutionsResponse {
        count: rows.iter().map(|(_, n)| n).sum(),
        groups,
    })
}

/// `ScanWorkflowExecutions`: a list in no particular order; served as a list.
pub async fn scan(
    executions: &ExecutionHandler,
    req: ScanWorkflowExecutionsRequest,
) -> Result<ScanWorkflowExecutionsResponse, Status> {
    let resp = executions
        .list(ListWorkflowExecutionsRequest {
            namespace: req.namespace,
            page_size: req.page_size,
            next_page_token: req.next_page_token,
            query: req.query,
        })
        .await?;
    Ok(ScanWorkflowExecutionsResponse {
        executions: resp.executions,
        next_page_token: resp.next_page_token,
    })
}

fn nanos(ts: &prost_wkt_types::Timestamp) -> i64 {
    sundial_common::time::timestamp_to_nanos(ts)
}

/// The older filter-style requests, as a query of the filter language.
fn time_range(attribute: &str, filter: Option<&StartTimeFilter>, clauses: &mut Vec<String>) {
    let Some(f) = filter else { return };
    if let Some(t) = f.earliest_time.as_ref().map(nanos).filter(|n| *n > 0) {
        clauses.push(format!("{attribute} >= {}", quote(&format_rfc3339(t))));
    }
    if let Some(t) = f.latest_time.as_ref().map(nanos).filter(|n| *n > 0) {
        clauses.push(format!("{attribute} <= {}", quote(&format_rfc3339(t))));
    }
}

/// The query of a `ListOpenWorkflowExecutions` request.
fn open_query(req: &ListOpenWorkflowExecutionsRequest) -> String {
    use list_open_workflow_executions_request::Filters;
    let mut clauses = vec!["ExecutionStatus = 'Running'".to_owned()];
    time_range("StartTime", req.start_time_filter.as_ref(), &mut clauses);
    match &req.filters {
        Some(Filters::ExecutionFilter(f)) => {
            clauses.push(format!("WorkflowId = {}", quote(&f.workflow_id)));
            if !f.run_id.is_empty() {
                clauses.push(format!("RunId = {}", quote(&f.run_id)));
            }
        }
        Some(Filters::TypeFilter(f)) => clauses.push(format!("WorkflowType = {}", quote(&f.name))),
        None => {}
    }
    clauses.join(" AND ")
}

/// `ListOpenWorkflowExecutions`: running executions, by start time.
pub async fn list_open(
    executions: &ExecutionHandler,
    req: ListOpenWorkflowExecutionsRequest,
) -> Result<ListOpenWorkflowExecutionsResponse, Status> {
    let query = open_query(&req);
    let resp = executions
        .list(ListWorkflowExecutionsRequest {
            namespace: req.namespace,
            page_size: req.maximum_page_size,
            next_page_token: req.next_page_token,
            query,
        })
        .await?;
    Ok(ListOpenWorkflowExecutionsResponse {
        executions: resp.executions,
        next_page_token: resp.next_page_token,
    })
}

/// The query of a `ListClosedWorkflowExecutions` request; the time filter applies to close
/// time.
fn closed_query(req: &ListClosedWorkflowExecutionsRequest) -> Result<String, ServiceError> {
    use list_closed_workflow_executions_request::Filters;
    let mut clauses = vec!["ExecutionStatus != 'Running'".to_owned()];
    time_range("CloseTime", req.start_time_filter.as_ref(), &mut clauses);
    match &req.filters {
        Some(Filters::ExecutionFilter(f)) => {
            clauses.push(format!("WorkflowId = {}", quote(&f.workflow_id)));
            if !f.run_id.is_empty() {
                clauses.push(format!("RunId = {}", quote(&f.run_id)));
            }
        }
        Some(Filters::TypeFilter(f)) => clauses.push(format!("WorkflowType = {}", quote(&f.name))),
        Some(Filters::StatusFilter(f)) => match status_name(f.status) {
            Some(name) => clauses.push(format!("ExecutionStatus = '{name}'")),
            None => return Err(ServiceError::invalid(format!("Invalid status filter: {}", f.status))),
        },
        None => {}
    }
    Ok(clauses.join(" AND "))
}

/// `ListClosedWorkflowExecutions`: closed executions.
pub async fn list_closed(
    executions: &ExecutionHandler,
    req: ListClosedWorkflowExecutionsRequest,
) -> Result<ListClosedWorkflowExecutionsResponse, Status> {
    let query = closed_query(&req)?;
    let resp = executions
        .list(ListWorkflowExecutionsRequest {
            namespace: req.namespace,
            page_size: req.maximum_page_size,
            next_page_token: req.next_page_token,
            query,
        })
        .await?;
    Ok(ListClosedWorkflowExecutionsResponse {
        executions: resp.executions,
        next_page_token: resp.next_page_token,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_sizes_are_capped() {
        assert_eq!(page_size(0), MAX_PAGE_SIZE);
        assert_eq!(page_size(-3), MAX_PAGE_SIZE);
        assert_eq!(page_size(10), 10);
        assert_eq!(page_size(5000), MAX_PAGE_SIZE);
    }

    #[test]
    fn group_values_are_json_strings() {
        let p = json_string_payload("Completed");
        assert_eq!(p.data, b"\"Completed\"");
        assert_eq!(p.metadata.get("encoding").map(Vec::as_slice), Some(&b"json/plain"[..]));
    }
}

#[cfg(test)]
mod props;
