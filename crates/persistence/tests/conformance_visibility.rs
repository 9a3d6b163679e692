//! Conformance suite for visibility: upserts, the list filter language rendered to SQL, paging,
//! counting and grouping, on every backend (see `common`).

mod common;

use std::sync::Arc;
use sundial_persistence::visibility::query::{VisibilityQuery, compile};
use sundial_persistence::visibility::{AttributeValue, Catalog, ValueType, parse_rfc3339};
use sundial_persistence::*;

conformance!(
    upsert_keeps_the_newest_version,
    filters_match_by_type,
    custom_attributes_and_lists,
    default_order_and_paging,
    custom_order_and_paging,
    count_and_group_by_status,
    namespaces_are_isolated,
    divisions_are_isolated,
    hostile_values_are_data,
    malformed_tokens_are_refused,
);

const NS: &str = "ns-vis";
const SEC: i64 = 1_000_000_000;

fn catalog() -> Catalog {
    Catalog::with(&[
        ("CustomerId", ValueType::Keyword, "Keyword01"),
        ("Priority", ValueType::Int, "Int01"),
        ("Score", ValueType::Double, "Double01"),
        ("Vip", ValueType::Bool, "Bool01"),
        ("DueAt", ValueType::Datetime, "Datetime01"),
        ("Notes", ValueType::Text, "Text01"),
        ("Tags", ValueType::KeywordList, "KeywordList01"),
    ])
}

fn q(query: &str) -> VisibilityQuery {
    compile(query, &catalog()).unwrap_or_else(|e| panic!("{query}: {e}"))
}

/// Run `i`: workflow `wf-i` of type A (even) or B (odd), started at i seconds; runs with
/// i % 3 == 0 are still running, the others completed (2) or failed (3) at i + 10 s.
fn record(i: i64) -> VisibilityRecord {
    let mut r = VisibilityRecord::new(
        NS,
        &format!("wf-{i}"),
        &format!("run-{i:03}"),
        if i % 2 == 0 { "A" } else { "B" },
    );
    r.start_time = i * SEC;
    r.execution_time = i * SEC;
    r.task_queue = "tq".into();
    r.history_length = i;
    r.state_transition_count = i;
    r.version = 1;
    match i % 3 {
        0 => r.status = 1,
        1 => {
            r.status = 2;
            r.close_time = Some((i + 10) * SEC);
        }
        _ => {
            r.status = 3;
            r.close_time = Some((i + 10) * SEC);
        }
    }
    r
}

async fn seed(store: &SqlStore, n: i64) {
    for i in 0..n {
        store.upsert_visibility(&record(i)).await.expect("upsert");
    }
}

async fn ids(store: &SqlStore, query: &str) -> Vec<String> {
    let page = store.list_visibility(NS, &q(query), 1000, &[]).await.expect("list");
    let mut ids: Vec<String> = page.records.into_iter().map(|r| r.workflow_id).collect();
    ids.sort();
    ids
}

fn wf(list: &[i64]) -> Vec<String> {
    let mut v: Vec<String> = list.iter().map(|i| format!("wf-{i}")).collect();
    v.sort();
    v
}

async fn upsert_keeps_the_newest_version(store: Arc<SqlStore>) {
    let mut r = record(1);
    r.version = 5;
    r.memo = Some(vec![1, 2, 3]);
    r.search_attributes = Some(vec![9, 9]);
    r.temporal_change_version = Some(r#"["p-1"]"#.into());
    store.upsert_visibility(&r).await.expect("upsert v5");
    let mut old = r.clone();
    old.version = 4;
    old.status = 5;
    store
        .upsert_visibility(&old)
        .await
        .expect("stale upsert is ignored, not an error");
    let page = store
        .list_visibility(NS, &VisibilityQuery::all(), 10, &[])
        .await
        .expect("list");
    assert_eq!(page.records.len(), 1);
    let got = &page.records[0];
    assert_eq!(got.status, 2);
    assert_eq!(got.memo.as_deref(), Some(&[1u8, 2, 3][..]));
    assert_eq!(got.search_attributes.as_deref(), Some(&[9u8, 9][..]));
    assert_eq!(got.temporal_change_version.as_deref(), Some(r#"["p-1"]"#));
    assert_eq!(got.root_workflow_id, "wf-1");
    assert_eq!(got.parent_workflow_id, None);
    let mut newer = r.clone();
    newer.version = 6;
    newer.status = 5;
    store.upsert_visibility(&newer).await.expect("upsert v6");
    assert_eq!(ids(&store, "ExecutionStatus = 'Terminated'").await, wf(&[1]));
}

async fn filters_match_by_type(store: Arc<SqlStore>) {
    seed(&store, 12).await;
    assert_eq!(ids(&store, "").await.len(), 12);
    assert_eq!(ids(&store, "WorkflowId = 'wf-3'").await, wf(&[3]));
    assert_eq!(ids(&store, "RunId = 'run-004'").await, wf(&[4]));
    assert_eq!(
        ids(&store, "WorkflowType = 'A' AND ExecutionStatus = 'Running'").await,
        wf(&[0, 6])
    );
    assert_eq!(ids(&store, "ExecutionStatus = 'Completed'").await, wf(&[1, 4, 7, 10]));
    assert_eq!(
        ids(&store, "ExecutionStatus != 'Running' AND WorkflowType = 'B'").await,
        wf(&[1, 5, 7, 11])
    );
    assert_eq!(
        ids(
            &store,
            "ExecutionStatus IN ('Failed', 'Completed') AND HistoryLength < 5"
        )
        .await,
        wf(&[1, 2, 4])
    );
    assert_eq!(
        ids(&store, "WorkflowId NOT IN ('wf-0', 'wf-1') AND HistoryLength <= 3").await,
        wf(&[2, 3])
    );
    assert_eq!(ids(&store, "HistoryLength BETWEEN 3 AND 5").await, wf(&[3, 4, 5]));
    assert_eq!(
        ids(&store, "StateTransitionCount NOT BETWEEN 1 AND 10").await,
        wf(&[0, 11])
    );
    assert_eq!(
        ids(&store, "StartTime >= '1970-01-01T00:00:09Z'").await,
        wf(&[9, 10, 11])
    );
    assert_eq!(
        ids(
            &store,
            "StartTime BETWEEN '1970-01-01T00:00:02Z' AND '1970-01-01T00:00:03Z'"
        )
        .await,
        wf(&[2, 3])
    );
    assert_eq!(ids(&store, "CloseTime IS NULL").await, wf(&[0, 3, 6, 9]));
    assert_eq!(ids(&store, "CloseTime > '1970-01-01T00:00:20Z'").await, wf(&[11]));
    assert_eq!(ids(&store, "ExecutionDuration = '10s'").await.len(), 8);
    assert_eq!(ids(&store, "ExecutionDuration > '10s'").await, wf(&[]));
    assert_eq!(ids(&store, "WorkflowId STARTS_WITH 'wf-1'").await, wf(&[1, 10, 11]));
    assert_eq!(
        ids(&store, "WorkflowId STARTS_WITH 'WF-1'").await,
        wf(&[]),
        "STARTS_WITH is case-sensitive"
    );
    assert_eq!(
        ids(&store, "WorkflowId NOT STARTS_WITH 'wf-1' AND HistoryLength < 3").await,
        wf(&[0, 2])
    );
    assert_eq!(
        ids(
            &store,
            "(WorkflowType = 'A' OR HistoryLength = 1) AND (ExecutionStatus = 'Failed' OR WorkflowId = 'wf-1')"
        )
        .await,
        wf(&[1, 2, 8])
    );
    assert_eq!(
        ids(&store, "TaskQueue = 'tq' AND RootWorkflowId = 'wf-5'").await,
        wf(&[5])
    );
    assert_eq!(ids(&store, "ParentWorkflowId IS NULL").await.len(), 12);
}

/// (run, customer, priority, score, vip, notes, tags)
type Row = (i64, &'static str, i64, f64, bool, &'static str, &'static [&'static str]);

async fn custom_attributes_and_lists(store: Arc<SqlStore>) {
    let due = parse_rfc3339("2024-06-01T12:00:00Z").expect("time");
    let rows: [Row; 4] = [
        (1, "cust-1", 1, 0.5, true, "Rush order for ACME", &["red", "blue"]),
        (2, "cust-2", 5, 2.5, false, "normal order", &["blue"]),
        (3, "cust-10", 10, 9.0, true, "gift wrapping", &[]),
        (
            4,
            "o'brien",
            7,
            -1.0,
            false,
            "100% refund_requested",
            &["a\"b", "red,blue"],
        ),
    ];
    for (i, cust, prio, score, vip, notes, tags) in rows {
        let mut r = record(i);
        r.custom = vec![
            ("keyword01", AttributeValue::Text(cust.into())),
            ("int01", AttributeValue::Int(prio)),
            ("double01", AttributeValue::Double(score)),
            ("bool01", AttributeValue::Bool(vip)),
            ("datetime01", AttributeValue::Datetime(due + i * SEC)),
            ("text01", AttributeValue::Text(notes.into())),
        ];
        if !tags.is_empty() {
            r.custom.push((
                "keywordlist01",
                AttributeValue::List(tags.iter().map(|t| (*t).to_owned()).collect()),
            ));
        }
        store.upsert_visibility(&r).await.expect("upsert");
    }
    store
        .upsert_visibility(&record(5))
        .await
        .expect("row without attributes");
    assert_eq!(ids(&store, "CustomerId = 'cust-1'").await, wf(&[1]));
    assert_eq!(ids(&store, "CustomerId STARTS_WITH 'cust-1'").await, wf(&[1, 3]));
    assert_eq!(ids(&store, r"CustomerId = 'o\'brien'").await, wf(&[4]));
    assert_eq!(ids(&store, "CustomerId IS NULL").await, wf(&[5]));
    assert_eq!(ids(&store, "Priority > 4").await, wf(&[2, 3, 4]));
    assert_eq!(ids(&store, "Priority IN (1, 10)").await, wf(&[1, 3]));
    assert_eq!(ids(&store, "Score >= 2.5").await, wf(&[2, 3]));
    assert_eq!(ids(&store, "Score < 0").await, wf(&[4]));
    assert_eq!(ids(&store, "Vip = true").await, wf(&[1, 3]));
    assert_eq!(ids(&store, "Vip != true").await, wf(&[2, 4]));
    assert_eq!(ids(&store, "DueAt > '2024-06-01T12:00:02Z'").await, wf(&[3, 4]));
    assert_eq!(ids(&store, "Notes = 'order'").await, wf(&[1, 2]));
    assert_eq!(ids(&store, "Notes = 'ORDER acme'").await, wf(&[1]));
    assert_eq!(ids(&store, "Notes = '100%'").await, wf(&[4]));
    assert_eq!(
        ids(&store, "Notes = '0_r'").await,
        wf(&[]),
        "LIKE wildcards in values are literal"
    );
    assert_eq!(ids(&store, "Notes != 'order'").await, wf(&[3, 4, 5]));
    assert_eq!(ids(&store, "Tags = 'blue'").await, wf(&[1, 2]));
    assert_eq!(ids(&store, "Tags IN ('red', 'nothing')").await, wf(&[1]));
    assert_eq!(ids(&store, r#"Tags = 'a"b'"#).await, wf(&[4]));
    assert_eq!(ids(&store, "Tags = 'red,blue'").await, wf(&[4]));
    assert_eq!(ids(&store, "Tags != 'blue'").await, wf(&[3, 4, 5]));
    assert_eq!(ids(&store, "Tags IS NULL").await, wf(&[3, 5]));

    // A later version without the attribute clears its column.
    let mut r = record(1);
    r.version = 2;
    store.upsert_visibility(&r).await.expect("upsert");
    assert_eq!(ids(&store, "CustomerId = 'cust-1'").await, wf(&[]));
}

async fn default_order_and_paging(store: Arc<SqlStore>) {
    seed(&store, 25).await;
    let mut seen = Vec::new();
    let mut token = Vec::new();
    loop {
        let page = store
            .list_visibility(NS, &VisibilityQuery::all(), 4, &token)
            .await
            .expect("page");
        seen.extend(page.records.iter().map(|r| (r.close_time, r.start_time)));
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    assert_eq!(seen.len(), 25);
    // Open runs first (newest start first), then closed runs by close time, newest first.
    let open: Vec<i64> = seen.iter().take_while(|(c, _)| c.is_none()).map(|(_, s)| *s).collect();
    assert_eq!(
        open,
        vec![
            24 * SEC,
            21 * SEC,
            18 * SEC,
            15 * SEC,
            12 * SEC,
            9 * SEC,
            6 * SEC,
            3 * SEC,
            0
        ]
    );
    let closed: Vec<i64> = seen[open.len()..].iter().map(|(c, _)| c.expect("closed")).collect();
    assert!(closed.windows(2).all(|w| w[0] > w[1]), "{closed:?}");

    // Paging with a filter visits every match once.
    let query = q("WorkflowType = 'A'");
    let mut n = 0;
    let mut token = Vec::new();
    loop {
        let page = store.list_visibility(NS, &query, 5, &token).await.expect("page");
        n += page.records.len();
        assert!(page.records.iter().all(|r| r.workflow_type == "A"));
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    assert_eq!(n, 13);
}

async fn custom_order_and_paging(store: Arc<SqlStore>) {
    seed(&store, 10).await;
    let query = q("ExecutionStatus != 'Running' ORDER BY HistoryLength ASC");
    let mut got = Vec::new();
    let mut token = Vec::new();
    loop {
        let page = store.list_visibility(NS, &query, 3, &token).await.expect("page");
        got.extend(page.records.iter().map(|r| r.history_length));
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    assert_eq!(got, vec![1, 2, 4, 5, 7, 8]);
    let page = store
        .list_visibility(NS, &q("ORDER BY StartTime DESC"), 2, &[])
        .await
        .expect("page");
    assert_eq!(
        page.records.iter().map(|r| r.workflow_id.as_str()).collect::<Vec<_>>(),
        vec!["wf-9", "wf-8"]
    );
    // A token of one ordering is refused by the other.
    let err = store
        .list_visibility(NS, &VisibilityQuery::all(), 2, &page.next_page_token)
        .await;
    assert!(matches!(err, Err(PersistenceError::ConditionFailed(_))), "{err:?}");
}

async fn count_and_group_by_status(store: Arc<SqlStore>) {
    seed(&store, 10).await;
    assert_eq!(
        store
            .count_visibility(NS, &VisibilityQuery::all())
            .await
            .expect("count"),
        10
    );
    assert_eq!(
        store
            .count_visibility(NS, &q("WorkflowType = 'A'"))
            .await
            .expect("count"),
        5
    );
    let groups = store
        .count_visibility_by_status(NS, &q("GROUP BY ExecutionStatus"))
        .await
        .expect("group");
    // statuses: running 0,3,6,9 (4); completed 1,4,7 (3); failed 2,5,8 (3)
    assert_eq!(groups, vec![(1, 4), (2, 3), (3, 3)]);
    let groups = store
        .count_visibility_by_status(NS, &q("WorkflowType = 'B' GROUP BY ExecutionStatus"))
        .await
        .expect("group");
    assert_eq!(groups, vec![(1, 2), (2, 2), (3, 1)]);
}

async fn namespaces_are_isolated(store: Arc<SqlStore>) {
    seed(&store, 3).await;
    let mut other = record(0);
    other.namespace_id = "ns-other".into();
    store.upsert_visibility(&other).await.expect("upsert");
    assert_eq!(
        store
            .count_visibility("ns-other", &VisibilityQuery::all())
            .await
            .expect("count"),
        1
    );
    assert_eq!(
        store
            .count_visibility(NS, &VisibilityQuery::all())
            .await
            .expect("count"),
        3
    );
    let page = store
        .list_visibility("ns-other", &q("WorkflowId = 'wf-0' OR WorkflowId = 'wf-1'"), 10, &[])
        .await
        .expect("list");
    assert_eq!(page.records.len(), 1, "an OR must not escape the namespace condition");
    assert_eq!(page.records[0].namespace_id, "ns-other");
}

/// Standalone activities share the table with workflows but never show in their lists, and
/// their queries name `ActivityId` / `ActivityType`.
async fn divisions_are_isolated(store: Arc<SqlStore>) {
    seed(&store, 3).await;
    let mut act = VisibilityRecord::new(NS, "wf-0", "run-act", "greet");
    act.division = visibility::ACTIVITY_DIVISION.into();
    act.version = 1;
    store.upsert_visibility(&act).await.expect("upsert");
    assert_eq!(ids(&store, "WorkflowId = 'wf-0'").await, wf(&[0]));
    assert_eq!(store.count_visibility(NS, &q("")).await.expect("count"), 3);
    let activities =
        |query: &str| compile(query, &catalog().for_activities()).unwrap_or_else(|e| panic!("{query}: {e}"));
    let page = store
        .list_visibility(
            NS,
            &activities("ActivityId = 'wf-0' AND ActivityType = 'greet'"),
            10,
            &[],
        )
        .await
        .expect("list");
    assert_eq!(
        page.records.iter().map(|r| r.run_id.as_str()).collect::<Vec<_>>(),
        ["run-act"]
    );
    assert_eq!(store.count_visibility(NS, &activities("")).await.expect("count"), 1);
    assert!(
        compile("ActivityId = 'x'", &catalog()).is_err(),
        "workflow queries know no ActivityId"
    );
}

async fn hostile_values_are_data(store: Arc<SqlStore>) {
    seed(&store, 3).await;
    let mut r = record(7);
    r.workflow_id = "x' OR 1=1 --".into();
    store.upsert_visibility(&r).await.expect("upsert");
    assert_eq!(
        ids(&store, r"WorkflowId = 'x\' OR 1=1 --'").await,
        vec!["x' OR 1=1 --".to_owned()]
    );
    assert_eq!(ids(&store, r"WorkflowId = 'y\' OR 1=1 --'").await, Vec::<String>::new());
    assert_eq!(ids(&store, r"WorkflowId STARTS_WITH '%'").await, Vec::<String>::new());
    assert_eq!(
        ids(&store, r"WorkflowId = '\'; DROP TABLE executions_visibility; --'")
            .await
            .len(),
        0
    );
    assert_eq!(
        store
            .count_visibility(NS, &VisibilityQuery::all())
            .await
            .expect("table intact"),
        4
    );
}

async fn malformed_tokens_are_refused(store: Arc<SqlStore>) {
    seed(&store, 2).await;
    for bad in [&b"garbage"[..], b"k:1|2", b"o:x", b"k:1|2|run' OR '1'='1"] {
        let res = store.list_visibility(NS, &VisibilityQuery::all(), 10, bad).await;
        match res {
            Err(PersistenceError::ConditionFailed(_)) => {}
            Ok(page) => assert!(page.records.len() <= 2),
            Err(e) => panic!("{bad:?}: {e}"),
        }
    }
}
