//! Property tests of the filter-style list requests: whatever filter a client sends
//! (any ids, names, times, statuses), the query built from it compiles, or the request is
//! `INVALID_ARGUMENT`. Fixed budgets and seed.

use super::*;
use crate::executions::props::config;
use proptest::prelude::*;
use sundial_api::temporal::filter::v1::{StatusFilter, WorkflowExecutionFilter, WorkflowTypeFilter};

fn timestamp() -> impl Strategy<Value = Option<prost_wkt_types::Timestamp>> {
    prop::option::of(
        (
            prop_oneof![any::<i64>(), Just(i64::MAX), Just(i64::MIN), 0..4_000_000_000i64],
            prop_oneof![any::<i32>(), 0..1_000_000_000i32],
        )
            .prop_map(|(seconds, nanos)| prost_wkt_types::Timestamp { seconds, nanos }),
    )
}

fn time_filter() -> impl Strategy<Value = Option<StartTimeFilter>> {
    prop::option::of(
        (timestamp(), timestamp()).prop_map(|(earliest_time, latest_time)| StartTimeFilter {
            earliest_time,
            latest_time,
        }),
    )
}

fn compiles(q: &str) -> Result<(), TestCaseError> {
    match query::compile(q, &Catalog::default()) {
        Ok(_) => Ok(()),
        Err(e) => Err(TestCaseError::fail(format!("{q:?}: {e}"))),
    }
}

proptest! {
    #![proptest_config(config(3000))]

    #[test]
    fn open_filters_build_queries_that_compile(
        start_time_filter in time_filter(),
        filter in prop::option::of((any::<bool>(), ".{0,16}", ".{0,16}")),
    ) {
        use list_open_workflow_executions_request::Filters;
        let filters = filter.map(|(by_exec, a, b)| if by_exec {
            Filters::ExecutionFilter(WorkflowExecutionFilter { workflow_id: a, run_id: b })
        } else {
            Filters::TypeFilter(WorkflowTypeFilter { name: a })
        });
        compiles(&open_query(&ListOpenWorkflowExecutionsRequest {
            start_time_filter,
            filters,
            ..Default::default()
        }))?;
    }

    #[test]
    fn closed_filters_build_queries_that_compile_or_fail_cleanly(
        start_time_filter in time_filter(),
        filter in prop::option::of((0..3u8, ".{0,16}", ".{0,16}", any::<i32>())),
        requested in any::<i32>(),
    ) {
        use list_closed_workflow_executions_request::Filters;
        let filters = filter.map(|(kind, a, b, status)| match kind {
            0 => Filters::ExecutionFilter(WorkflowExecutionFilter { workflow_id: a, run_id: b }),
            1 => Filters::TypeFilter(WorkflowTypeFilter { name: a }),
            _ => Filters::StatusFilter(StatusFilter { status }),
        });
        let status = match &filters {
            Some(Filters::StatusFilter(f)) => Some(f.status),
            _ => None,
        };
        let req = ListClosedWorkflowExecutionsRequest {
            start_time_filter,
            filters,
            ..Default::default()
        };
        match closed_query(&req) {
            Ok(q) => compiles(&q)?,
            Err(ServiceError::InvalidArgument(m)) => {
                prop_assert!(status.is_some_and(|s| status_name(s).is_none()), "{m}");
            }
            Err(other) => prop_assert!(false, "{other:?}"),
        }
        prop_assert!((1..=MAX_PAGE_SIZE).contains(&page_size(requested)));
    }
}
