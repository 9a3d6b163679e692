//! Unit tests of the whole pipeline (text to compiled query), kept apart so the
//! implementation files stay readable.

use super::*;
use crate::visibility::{Catalog, ValueType};

fn catalog() -> Catalog {
    Catalog::with(&[
        ("CustomKeywordField", ValueType::Keyword, "Keyword01"),
        ("CustomIntField", ValueType::Int, "Int01"),
        ("CustomDoubleField", ValueType::Double, "Double01"),
        ("CustomBoolField", ValueType::Bool, "Bool01"),
        ("CustomDatetimeField", ValueType::Datetime, "Datetime01"),
        ("CustomTextField", ValueType::Text, "Text01"),
        ("CustomKeywordListField", ValueType::KeywordList, "KeywordList01"),
        ("My Attr", ValueType::Keyword, "Keyword02"),
    ])
}

fn ok(q: &str) -> VisibilityQuery {
    match compile(q, &catalog()) {
        Ok(v) => v,
        Err(e) => panic!("{q:?} failed: {e}"),
    }
}

fn fails(q: &str, needle: &str) {
    match compile(q, &catalog()) {
        Ok(v) => panic!("{q:?} compiled to {v:?}, expected an error mentioning {needle:?}"),
        Err(e) => assert!(
            e.to_string().contains(needle),
            "{q:?}: error {:?} does not mention {needle:?}",
            e.to_string()
        ),
    }
}

fn cmp(column: &'static str, op: CmpOp, value: SqlValue) -> Filter {
    Filter::Compare { column, op, value }
}

fn text(s: &str) -> SqlValue {
    SqlValue::Text(s.into())
}

#[test]
fn empty_and_whitespace_queries_match_everything() {
    assert_eq!(ok(""), VisibilityQuery::all());
    assert_eq!(ok("  \n\t"), VisibilityQuery::all());
}

#[test]
fn simple_comparisons() {
    assert_eq!(
        ok("WorkflowId = 'wf-1'").filter,
        Some(cmp("workflow_id", CmpOp::Eq, text("wf-1")))
    );
    assert_eq!(
        ok("WorkflowType=\"X\"").filter,
        Some(cmp("workflow_type_name", CmpOp::Eq, text("X")))
    );
    assert_eq!(ok("RunId != 'r'").filter, Some(cmp("run_id", CmpOp::Ne, text("r"))));
    assert_eq!(
        ok("TaskQueue <> 'q'").filter,
        Some(cmp("task_queue", CmpOp::Ne, text("q")))
    );
    assert_eq!(
        ok("HistoryLength >= 10").filter,
        Some(cmp("history_length", CmpOp::Ge, SqlValue::Int(10)))
    );
    assert_eq!(
        ok("StateTransitionCount < 3").filter,
        Some(cmp("state_transition_count", CmpOp::Lt, SqlValue::Int(3)))
    );
    assert_eq!(
        ok("CustomIntField > -5").filter,
        Some(cmp("int01", CmpOp::Gt, SqlValue::Int(-5)))
    );
    assert_eq!(
        ok("CustomDoubleField <= 1.5").filter,
        Some(cmp("double01", CmpOp::Le, SqlValue::Float(1.5)))
    );
    assert_eq!(
        ok("CustomBoolField = true").filter,
        Some(cmp("bool01", CmpOp::Eq, SqlValue::Int(1)))
    );
    assert_eq!(
        ok("CustomBoolField = 'false'").filter,
        Some(cmp("bool01", CmpOp::Eq, SqlValue::Int(0)))
    );
    assert_eq!(
        ok("`My Attr` = 'v'").filter,
        Some(cmp("keyword02", CmpOp::Eq, text("v")))
    );
    assert_eq!(
        ok("ParentWorkflowId = 'p'").filter,
        Some(cmp("parent_workflow_id", CmpOp::Eq, text("p")))
    );
    assert_eq!(
        ok("RootWorkflowId = 'p'").filter,
        Some(cmp("root_workflow_id", CmpOp::Eq, text("p")))
    );
}

#[test]
fn execution_status_maps_to_numbers() {
    assert_eq!(
        ok("ExecutionStatus = 'Completed'").filter,
        Some(cmp("status", CmpOp::Eq, SqlValue::Int(2)))
    );
    assert_eq!(
        ok("ExecutionStatus = 'running'").filter,
        Some(cmp("status", CmpOp::Eq, SqlValue::Int(1)))
    );
    assert_eq!(
        ok("ExecutionStatus IN ('TimedOut', 'ContinuedAsNew')").filter,
        Some(Filter::In {
            column: "status",
            values: vec![SqlValue::Int(7), SqlValue::Int(6)],
            negated: false
        })
    );
    fails("ExecutionStatus = 'Done'", "one of Running");
    fails("ExecutionStatus > 'Running'", "operator >");
    fails("ExecutionStatus STARTS_WITH 'Run'", "STARTS_WITH");
}

#[test]
fn times_and_durations() {
    assert_eq!(
        ok("StartTime > '2024-01-01T00:00:00Z'").filter,
        Some(cmp("start_time", CmpOp::Gt, SqlValue::Int(1_704_067_200_000_000_000)))
    );
    assert_eq!(
        ok("CloseTime BETWEEN '2024-01-01T00:00:00Z' AND '2024-01-01T01:00:00+01:00'").filter,
        Some(Filter::Between {
            column: "close_time",
            low: SqlValue::Int(1_704_067_200_000_000_000),
            high: SqlValue::Int(1_704_067_200_000_000_000),
            negated: false
        })
    );
    assert_eq!(
        ok("ExecutionTime < 5").filter,
        Some(cmp("execution_time", CmpOp::Lt, SqlValue::Int(5)))
    );
    assert_eq!(
        ok("ExecutionDuration > '1h'").filter,
        Some(cmp("execution_duration", CmpOp::Gt, SqlValue::Int(3_600_000_000_000)))
    );
    assert_eq!(
        ok("ExecutionDuration > '00:00:02'").filter,
        Some(cmp("execution_duration", CmpOp::Gt, SqlValue::Int(2_000_000_000)))
    );
    assert!(ok("CustomDatetimeField >= '2024-05-01T10:00:00.5Z'").filter.is_some());
    fails("StartTime > 'yesterday'", "RFC 3339");
    fails("ExecutionDuration > 'forever'", "duration");
}

#[test]
fn set_range_prefix_and_null_operators() {
    assert_eq!(
        ok("WorkflowId NOT IN ('a', 'b')").filter,
        Some(Filter::In {
            column: "workflow_id",
            values: vec![text("a"), text("b")],
            negated: true
        })
    );
    assert_eq!(
        ok("CustomIntField NOT BETWEEN 1 AND 5").filter,
        Some(Filter::Between {
            column: "int01",
            low: SqlValue::Int(1),
            high: SqlValue::Int(5),
            negated: true
        })
    );
    assert_eq!(
        ok("WorkflowId STARTS_WITH 'order-'").filter,
        Some(Filter::StartsWith {
            column: "workflow_id",
            prefix: "order-".into(),
            negated: false
        })
    );
    assert_eq!(
        ok("CloseTime IS NULL").filter,
        Some(Filter::IsNull {
            column: "close_time",
            negated: false
        })
    );
    assert_eq!(
        ok("CustomKeywordField is not null").filter,
        Some(Filter::IsNull {
            column: "keyword01",
            negated: true
        })
    );
}

#[test]
fn lists_and_text() {
    assert_eq!(
        ok("TemporalChangeVersion = 'patch-1'").filter,
        Some(Filter::ListContains {
            column: "temporal_change_version",
            values: vec!["patch-1".into()],
            negated: false
        })
    );
    assert_eq!(
        ok("CustomKeywordListField NOT IN ('a', 'b')").filter,
        Some(Filter::ListContains {
            column: "keywordlist01",
            values: vec!["a".into(), "b".into()],
            negated: true
        })
    );
    assert_eq!(
        ok("CustomTextField = 'Hello  World'").filter,
        Some(Filter::TextMatch {
            column: "text01",
            words: vec!["hello".into(), "world".into()],
            negated: false
        })
    );
    fails("CustomTextField > 'a'", "operator >");
    fails("CustomKeywordListField STARTS_WITH 'a'", "STARTS_WITH");
    fails("CustomTextField = '   '", "no words");
}

#[test]
fn boolean_structure_and_precedence() {
    let q = ok("WorkflowType = 'A' OR WorkflowType = 'B' AND ExecutionStatus = 'Running'");
    assert_eq!(
        q.filter,
        Some(Filter::Or(vec![
            cmp("workflow_type_name", CmpOp::Eq, text("A")),
            Filter::And(vec![
                cmp("workflow_type_name", CmpOp::Eq, text("B")),
                cmp("status", CmpOp::Eq, SqlValue::Int(1)),
            ]),
        ]))
    );
    let q = ok("(WorkflowType = 'A' OR WorkflowType = 'B') and ExecutionStatus = 'Running'");
    assert!(matches!(q.filter, Some(Filter::And(ref v)) if matches!(v[0], Filter::Or(_))));
    assert!(ok("((((WorkflowId = 'x'))))").filter.is_some());
}

#[test]
fn order_and_group_by() {
    let q = ok("WorkflowType = 'A' ORDER BY StartTime DESC, CustomIntField");
    assert_eq!(
        q.order_by,
        vec![
            OrderBy {
                column: "start_time",
                descending: true
            },
            OrderBy {
                column: "int01",
                descending: false
            }
        ]
    );
    assert!(ok("order by CloseTime asc").filter.is_none());
    let q = ok("WorkflowType = 'A' GROUP BY ExecutionStatus");
    assert!(q.group_by_status);
    assert!(ok("GROUP BY ExecutionStatus").group_by_status);
    fails("GROUP BY WorkflowType", "only GROUP BY ExecutionStatus");
    fails("ORDER BY CustomTextField", "ORDER BY CustomTextField is not supported");
    fails("ORDER StartTime", "expected BY after ORDER");
}

#[test]
fn unknown_attributes_and_type_mismatches_are_named() {
    fails("Foo = 'x'", "unknown search attribute Foo");
    fails("workflowid = 'x'", "did you mean WorkflowId");
    fails(
        "HistoryLength = 'ten'",
        "'ten' is not a valid value for HistoryLength, which is of type Int",
    );
    fails("CustomIntField = 1.5", "type Int");
    fails("WorkflowId = 12", "12 is not a valid value for WorkflowId");
    fails("CustomBoolField > true", "operator >");
    fails("CustomDoubleField = 'x'", "type Double");
    fails("BuildIds = 'x'", "not supported in queries");
    fails("WorkflowId = Foo", "quote strings");
}

#[test]
fn syntax_errors_are_named() {
    fails(
        "(WorkflowId = 'x'",
        "unbalanced parentheses: '(' at offset 0 is not closed",
    );
    fails("WorkflowId = 'x')", "unbalanced parentheses: ')' at offset 16");
    fails("WorkflowId IN ('a', 'b'", "IN list opened at offset 14 is not closed");
    fails("WorkflowId = 'x", "unterminated string");
    fails("WorkflowId = ", "expected a value for WorkflowId");
    fails("WorkflowId 'x'", "expected an operator");
    fails("WorkflowId = 'x' AND", "ends where a condition was expected");
    fails("AND WorkflowId = 'x'", "found keyword AND");
    fails("WorkflowId = 'x' WorkflowType = 'y'", "unexpected 'WorkflowType'");
    fails("NOT WorkflowId = 'x'", "NOT is only supported");
    fails("WorkflowId LIKE 'x%'", "LIKE is not supported");
    fails("WorkflowId BETWEEN 'a' 'b'", "expected AND after BETWEEN");
    fails("WorkflowId IS 'x'", "expected NULL after IS");
    fails("HistoryLength = 1x", "malformed number");
    fails("WorkflowId = 'x' #", "unexpected character '#'");
    fails(&"(".repeat(100), "nested deeper");
    fails(&format!("WorkflowId = '{}'", "x".repeat(MAX_QUERY_LEN)), "longer than");
}

#[test]
fn injection_attempts_are_rejected() {
    fails("WorkflowId = 'x'' OR 1=1 --'", "doubled quote");
    fails(
        "WorkflowId = 'x' OR 1=1",
        "expected a search attribute name in a condition, found number 1",
    );
    fails("WorkflowId = 'x' -- comment", "comments");
    fails(
        "WorkflowId = 'x'; DROP TABLE executions_visibility",
        "';' is not allowed",
    );
    fails("WorkflowId = 'x' /* */", "comments");
    fails("WorkflowId = 'x' UNION SELECT id FROM namespaces", "unexpected 'UNION'");
    fails(
        "WorkflowId = 'x' UNION SELECT * FROM namespaces",
        "unexpected character '*'",
    );
    fails("`workflow_id) OR (1` = 'x'", "unknown search attribute");
    fails(
        "WorkflowId = 'x' ORDER BY `run_id; DROP TABLE x`",
        "unknown search attribute",
    );
    fails("(SELECT 1) = 1", "expected an operator");
    // An escaped quote is data, bound as a parameter.
    assert_eq!(
        ok(r"WorkflowId = 'x\' OR 1=1 --'").filter,
        Some(cmp("workflow_id", CmpOp::Eq, text("x' OR 1=1 --")))
    );
    assert_eq!(
        ok(r#"WorkflowId = "a\"b\\""#).filter,
        Some(cmp("workflow_id", CmpOp::Eq, text("a\"b\\")))
    );
}

#[test]
fn quote_round_trips() {
    for v in ["plain", "it's", r"back\slash", "' OR 1=1 --"] {
        assert_eq!(
            ok(&format!("WorkflowId = {}", quote(v))).filter,
            Some(cmp("workflow_id", CmpOp::Eq, text(v)))
        );
    }
}
