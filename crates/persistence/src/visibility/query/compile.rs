//! Name resolution and type checking: the only place a query's names become columns, so
//! column names come from fixed lists and values become typed parameters, never SQL text.

use super::parse::{Condition, Expr, Literal, parse};
use super::{CmpOp, Filter, OrderBy, QueryError, STATUS_NAMES, SqlValue, VisibilityQuery, err};
use crate::visibility::{
    ACTIVITY_DIVISION, Catalog, NEXUS_DIVISION, SYSTEM_ATTRIBUTES, ValueType, parse_duration, parse_rfc3339,
    system_attribute,
};

/// What an attribute resolves to.
#[derive(Clone, Copy)]
struct Resolved {
    name: &'static str,
    column: &'static str,
    ty: ValueType,
    kind: Special,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Special {
    None,
    Status,
    Duration,
}

fn resolve(name: &str, catalog: &Catalog) -> Result<Resolved, QueryError> {
    // Standalone activities keep their id and type in the workflow columns.
    let aliased = match name {
        "ActivityId" if catalog.activities() => Some(("ActivityId", "workflow_id")),
        "ActivityType" if catalog.activities() => Some(("ActivityType", "workflow_type_name")),
        // Standalone Nexus operations keep their id, endpoint and service there too.
        "OperationId" if catalog.nexus_operations() => Some(("OperationId", "workflow_id")),
        "Endpoint" if catalog.nexus_operations() => Some(("Endpoint", "workflow_type_name")),
        "Service" if catalog.nexus_operations() => Some(("Service", "task_queue")),
        _ => None,
    };
    if let Some((name, column)) = aliased {
        return Ok(Resolved {
            name,
            column,
            ty: ValueType::Keyword,
            kind: Special::None,
        });
    }
    if let Some(sys) = system_attribute(name) {
        let Some(column) = sys.column else {
            return err(format!(
                "search attribute {name} is not supported in queries by this server"
            ));
        };
        let kind = match name {
            "ExecutionStatus" => Special::Status,
            "ExecutionDuration" => Special::Duration,
            _ => Special::None,
        };
        return Ok(Resolved {
            name: sys.name,
            column,
            ty: sys.value_type,
            kind,
        });
    }
    if let Some((ty, column)) = catalog.custom(name) {
        return Ok(Resolved {
            name: "",
            column,
            ty,
            kind: Special::None,
        });
    }
    if let Some(sys) = SYSTEM_ATTRIBUTES.iter().find(|a| a.name.eq_ignore_ascii_case(name)) {
        return err(format!("unknown search attribute {name} (did you mean {}?)", sys.name));
    }
    err(format!(
        "unknown search attribute {name}: it is neither a system attribute nor a custom attribute of this namespace"
    ))
}

fn value_of(attr: &str, r: &Resolved, lit: &Literal) -> Result<SqlValue, QueryError> {
    let mismatch = || {
        err(format!(
            "{lit} is not a valid value for {attr}, which is of type {}{}",
            r.ty.name(),
            match (r.kind, r.ty) {
                (Special::Status, _) =>
                    " (one of Running, Completed, Failed, Canceled, Terminated, ContinuedAsNew, TimedOut)",
                (Special::Duration, _) => " (a duration such as '1h30m' or '00:05:00', or nanoseconds)",
                (_, ValueType::Datetime) => " (an RFC 3339 time such as '2024-01-02T15:04:05Z', or nanoseconds)",
                _ => "",
            }
        ))
    };
    match (r.kind, r.ty, lit) {
        (Special::Status, _, Literal::Str(s)) => STATUS_NAMES
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(s))
            .map(|(_, v)| SqlValue::Int(i64::from(*v)))
            .map_or_else(mismatch, Ok),
        (Special::Status, _, Literal::Num(n)) => match n.parse::<i64>() {
            Ok(v) if (1..=7).contains(&v) => Ok(SqlValue::Int(v)),
            _ => mismatch(),
        },
        (Special::Duration, _, Literal::Str(s)) => parse_duration(s).map(SqlValue::Int).map_or_else(mismatch, Ok),
        (_, ValueType::Keyword | ValueType::Text | ValueType::KeywordList, Literal::Str(s)) => {
            Ok(SqlValue::Text(s.clone()))
        }
        (_, ValueType::Int | ValueType::Datetime, Literal::Num(n)) => {
            n.parse().map(SqlValue::Int).or_else(|_| mismatch())
        }
        (_, ValueType::Double, Literal::Num(n)) => n.parse().map(SqlValue::Float).or_else(|_| mismatch()),
        (_, ValueType::Bool, Literal::Bool(b)) => Ok(SqlValue::Int(i64::from(*b))),
        (_, ValueType::Bool, Literal::Str(s)) if s.eq_ignore_ascii_case("true") || s.eq_ignore_ascii_case("false") => {
            Ok(SqlValue::Int(i64::from(s.eq_ignore_ascii_case("true"))))
        }
        (_, ValueType::Datetime, Literal::Str(s)) => parse_rfc3339(s).map(SqlValue::Int).map_or_else(mismatch, Ok),
        _ => mismatch(),
    }
}

fn text_of(v: SqlValue) -> String {
    match v {
        SqlValue::Text(s) => s,
        SqlValue::Int(i) => i.to_string(),
        SqlValue::Float(f) => f.to_string(),
    }
}

fn compile_predicate(attr: &str, cond: &Condition, catalog: &Catalog) -> Result<Filter, QueryError> {
    let r = resolve(attr, catalog)?;
    let shown = if r.name.is_empty() { attr } else { r.name };
    let column = r.column;
    let unsupported = |what: &str| {
        err(format!(
            "{what} cannot be used with {shown}, which is of type {}",
            r.ty.name()
        ))
    };
    match (r.ty, cond) {
        (_, Condition::IsNull { negated }) => Ok(Filter::IsNull {
            column,
            negated: *negated,
        }),
        (ValueType::KeywordList, Condition::Compare(op @ (CmpOp::Eq | CmpOp::Ne), lit)) => Ok(Filter::ListContains {
            column,
            values: vec![text_of(value_of(shown, &r, lit)?)],
            negated: *op == CmpOp::Ne,
        }),
        (ValueType::KeywordList, Condition::In { values, negated }) => Ok(Filter::ListContains {
            column,
            values: values
                .iter()
                .map(|l| value_of(shown, &r, l).map(text_of))
                .collect::<Result<_, _>>()?,
            negated: *negated,
        }),
        (ValueType::KeywordList, Condition::Compare(op, _)) => unsupported(&format!("operator {}", op.sql())),
        (ValueType::Text, Condition::Compare(op @ (CmpOp::Eq | CmpOp::Ne), lit)) => {
            let text = text_of(value_of(shown, &r, lit)?);
            let words: Vec<String> = text.split_whitespace().map(str::to_lowercase).collect();
            if words.is_empty() {
                return err(format!("the value for {shown} has no words to match"));
            }
            Ok(Filter::TextMatch {
                column,
                words,
                negated: *op == CmpOp::Ne,
            })
        }
        (ValueType::Text, Condition::Compare(op, _)) => unsupported(&format!("operator {}", op.sql())),
        (ValueType::Text | ValueType::KeywordList, Condition::Between { .. }) => unsupported("BETWEEN"),
        (ValueType::Text | ValueType::KeywordList, Condition::StartsWith { .. }) => unsupported("STARTS_WITH"),
        (ValueType::Text, Condition::In { .. }) => unsupported("IN"),
        (ValueType::Bool, Condition::Compare(op, _)) if !matches!(op, CmpOp::Eq | CmpOp::Ne) => {
            unsupported(&format!("operator {}", op.sql()))
        }
        (ValueType::Bool, Condition::Between { .. }) => unsupported("BETWEEN"),
        (_, Condition::Compare(op, _)) if r.kind == Special::Status && !matches!(op, CmpOp::Eq | CmpOp::Ne) => {
            unsupported(&format!("operator {}", op.sql()))
        }
        (_, Condition::Between { .. }) if r.kind == Special::Status => unsupported("BETWEEN"),
        (_, Condition::Compare(op, lit)) => Ok(Filter::Compare {
            column,
            op: *op,
            value: value_of(shown, &r, lit)?,
        }),
        (_, Condition::In { values, negated }) => Ok(Filter::In {
            column,
            values: values
                .iter()
                .map(|l| value_of(shown, &r, l))
                .collect::<Result<_, _>>()?,
            negated: *negated,
        }),
        (_, Condition::Between { low, high, negated }) => Ok(Filter::Between {
            column,
            low: value_of(shown, &r, low)?,
            high: value_of(shown, &r, high)?,
            negated: *negated,
        }),
        (ValueType::Keyword, Condition::StartsWith { prefix, negated }) if r.kind == Special::None => match prefix {
            Literal::Str(s) => Ok(Filter::StartsWith {
                column,
                prefix: s.clone(),
                negated: *negated,
            }),
            other => err(format!("STARTS_WITH needs a string for {shown}, found {other}")),
        },
        (_, Condition::StartsWith { .. }) => unsupported("STARTS_WITH"),
    }
}

fn compile_expr(e: &Expr, catalog: &Catalog) -> Result<Filter, QueryError> {
    Ok(match e {
        Expr::And(items) => Filter::And(
            items
                .iter()
                .map(|i| compile_expr(i, catalog))
                .collect::<Result<_, _>>()?,
        ),
        Expr::Or(items) => Filter::Or(
            items
                .iter()
                .map(|i| compile_expr(i, catalog))
                .collect::<Result<_, _>>()?,
        ),
        Expr::Predicate { attribute, condition } => compile_predicate(attribute, condition, catalog)?,
    })
}

/// Parses and resolves a query against the system attributes and `catalog`.
pub fn compile(query: &str, catalog: &Catalog) -> Result<VisibilityQuery, QueryError> {
    let parsed = parse(query)?;
    let filter = parsed.filter.as_ref().map(|f| compile_expr(f, catalog)).transpose()?;
    let mut order_by = Vec::new();
    for (attr, descending) in &parsed.order_by {
        let r = resolve(attr, catalog)?;
        if matches!(r.ty, ValueType::Text | ValueType::KeywordList) {
            return err(format!(
                "ORDER BY {attr} is not supported: {attr} is of type {}",
                r.ty.name()
            ));
        }
        order_by.push(OrderBy {
            column: r.column,
            descending: *descending,
        });
    }
    let mut group_by_status = false;
    for attr in &parsed.group_by {
        if attr != "ExecutionStatus" {
            return err(format!(
                "GROUP BY {attr} is not supported: only GROUP BY ExecutionStatus is"
            ));
        }
        if group_by_status {
            return err("GROUP BY lists ExecutionStatus twice");
        }
        group_by_status = true;
    }
    Ok(VisibilityQuery {
        filter,
        order_by,
        group_by_status,
        division: if catalog.activities() {
            ACTIVITY_DIVISION.to_owned()
        } else if catalog.nexus_operations() {
            NEXUS_DIVISION.to_owned()
        } else {
            String::new()
        },
    })
}
