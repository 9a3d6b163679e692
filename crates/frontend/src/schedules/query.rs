//! The `query` of ListSchedules, in Temporal's visibility language, evaluated over each
//! schedule: `ScheduleId` (also `WorkflowId`), `WorkflowType` (the action's),
//! `TemporalSchedulePaused`, and the schedule's custom search attributes.

use std::cmp::Ordering;
use sundial_api::sundial::persistence::v1::NamespaceDetail;
use sundial_api::temporal::schedule::v1::schedule_action;
use sundial_common::ServiceError;
use sundial_persistence::ScheduleRow;
use sundial_persistence::visibility::query::{CmpOp, Condition, Expr, Literal, parse};

pub(super) struct Filter(Option<Expr>);

/// A value an attribute has on one schedule.
#[derive(Debug, PartialEq)]
enum Value {
    Str(String),
    Num(f64),
    Bool(bool),
    List(Vec<Value>),
}

fn from_json(v: serde_json::Value) -> Option<Value> {
    match v {
        serde_json::Value::String(s) => Some(Value::Str(s)),
        serde_json::Value::Number(n) => n.as_f64().map(Value::Num),
        serde_json::Value::Bool(b) => Some(Value::Bool(b)),
        serde_json::Value::Array(items) => Some(Value::List(items.into_iter().filter_map(from_json).collect())),
        _ => None,
    }
}

fn literal(l: &Literal) -> Value {
    match l {
        Literal::Str(s) => Value::Str(s.clone()),
        Literal::Num(n) => n.parse().map_or_else(|_| Value::Str(n.clone()), Value::Num),
        Literal::Bool(b) => Value::Bool(*b),
    }
}

fn compare(a: &Value, b: &Value) -> Option<Ordering> {
    match (a, b) {
        (Value::Str(x), Value::Str(y)) => Some(x.cmp(y)),
        (Value::Num(x), Value::Num(y)) => x.partial_cmp(y),
        (Value::Bool(x), Value::Bool(y)) => Some(x.cmp(y)),
        (Value::Str(x), Value::Num(y)) => x.parse::<f64>().ok().and_then(|x| x.partial_cmp(y)),
        _ => None,
    }
}

fn holds(op: CmpOp, value: &Value, lit: &Value) -> bool {
    if let Value::List(items) = value {
        // A keyword list equals a value it contains, as in Temporal's visibility.
        let contains = items.iter().any(|i| compare(i, lit) == Some(Ordering::Equal));
        return match op {
            CmpOp::Eq => contains,
            CmpOp::Ne => !contains,
            _ => false,
        };
    }
    let Some(ord) = compare(value, lit) else {
        return matches!(op, CmpOp::Ne);
    };
    match op {
        CmpOp::Eq => ord == Ordering::Equal,
        CmpOp::Ne => ord != Ordering::Equal,
        CmpOp::Lt => ord == Ordering::Less,
        CmpOp::Le => ord != Ordering::Greater,
        CmpOp::Gt => ord == Ordering::Greater,
        CmpOp::Ge => ord != Ordering::Less,
    }
}

impl Filter {
    pub(super) fn parse(query: &str) -> Result<Filter, ServiceError> {
        if query.trim().is_empty() {
            return Ok(Filter(None));
        }
        let parsed = parse(query).map_err(|e| ServiceError::invalid(format!("invalid query: {}", e.0)))?;
        if !parsed.order_by.is_empty() || !parsed.group_by.is_empty() {
            return Err(ServiceError::invalid(
                "invalid query: ListSchedules supports neither ORDER BY nor GROUP BY",
            ));
        }
        Ok(Filter(parsed.filter))
    }

    pub(super) fn matches(&self, row: &ScheduleRow, detail: &NamespaceDetail) -> bool {
        match &self.0 {
            None => true,
            Some(expr) => eval(expr, row, detail),
        }
    }
}

fn attribute(name: &str, row: &ScheduleRow, detail: &NamespaceDetail) -> Option<Value> {
    let schedule = row.record.schedule.as_ref();
    match name {
        "ScheduleId" | "WorkflowId" => Some(Value::Str(row.schedule_id.clone())),
        "TemporalSchedulePaused" => Some(Value::Bool(
            schedule.and_then(|s| s.state.as_ref()).is_some_and(|s| s.paused),
        )),
        "WorkflowType" => schedule
            .and_then(|s| s.action.as_ref())
            .and_then(|a| a.action.as_ref())
            .and_then(|schedule_action::Action::StartWorkflow(w)| w.workflow_type.as_ref())
            .map(|t| Value::Str(t.name.clone())),
        custom => {
            if !detail.search_attributes.contains_key(custom) {
                return None;
            }
            let payload = row.record.search_attributes.as_ref()?.indexed_fields.get(custom)?;
            serde_json::from_slice(&payload.data).ok().and_then(from_json)
        }
    }
}

fn eval(expr: &Expr, row: &ScheduleRow, detail: &NamespaceDetail) -> bool {
    match expr {
        Expr::And(parts) => parts.iter().all(|e| eval(e, row, detail)),
        Expr::Or(parts) => parts.iter().any(|e| eval(e, row, detail)),
        Expr::Predicate {
            attribute: name,
            condition,
        } => {
            let value = attribute(name, row, detail);
            match condition {
                Condition::IsNull { negated } => value.is_some() == *negated,
                Condition::Compare(op, lit) => value.is_some_and(|v| holds(*op, &v, &literal(lit))),
                Condition::In { values, negated } => {
                    let found = value.is_some_and(|v| values.iter().any(|l| holds(CmpOp::Eq, &v, &literal(l))));
                    found != *negated
                }
                Condition::Between { low, high, negated } => {
                    let inside = value
                        .is_some_and(|v| holds(CmpOp::Ge, &v, &literal(low)) && holds(CmpOp::Le, &v, &literal(high)));
                    inside != *negated
                }
                Condition::StartsWith { prefix, negated } => {
                    let starts = match (value, prefix) {
                        (Some(Value::Str(s)), Literal::Str(p)) => s.starts_with(p.as_str()),
                        _ => false,
                    };
                    starts != *negated
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sundial_api::sundial::persistence::v1::ScheduleRecord;
    use sundial_api::temporal::common::v1::{Payload, SearchAttributes};
    use sundial_api::temporal::schedule::v1::{Schedule, ScheduleState};

    fn row(id: &str, paused: bool, team: &str) -> ScheduleRow {
        let mut attrs = SearchAttributes::default();
        attrs.indexed_fields.insert(
            "Team".into(),
            Payload {
                data: format!("\"{team}\"").into_bytes(),
                ..Default::default()
            },
        );
        ScheduleRow {
            namespace_id: "ns".into(),
            schedule_id: id.into(),
            version: 1,
            next_wake: 0,
            record: ScheduleRecord {
                schedule: Some(Schedule {
                    state: Some(ScheduleState {
                        paused,
                        ..Default::default()
                    }),
                    ..Default::default()
                }),
                search_attributes: Some(attrs),
                ..Default::default()
            },
        }
    }

    #[test]
    fn filters_on_ids_paused_and_custom_attributes() {
        let mut detail = NamespaceDetail::default();
        detail.search_attributes.insert("Team".into(), 2);
        let rows = [row("a", false, "red"), row("b", true, "blue"), row("c", false, "blue")];
        let pick = |q: &str| -> Vec<String> {
            let f = Filter::parse(q).expect("parses");
            rows.iter()
                .filter(|r| f.matches(r, &detail))
                .map(|r| r.schedule_id.clone())
                .collect()
        };
        assert_eq!(pick(""), ["a", "b", "c"]);
        assert_eq!(pick("Team = 'blue'"), ["b", "c"]);
        assert_eq!(pick("Team = 'blue' AND TemporalSchedulePaused = false"), ["c"]);
        assert_eq!(pick("ScheduleId IN ('a', 'c')"), ["a", "c"]);
        assert_eq!(pick("ScheduleId STARTS_WITH 'b' OR Team = 'red'"), ["a", "b"]);
        assert_eq!(pick("Unregistered = 'x'"), Vec::<String>::new());
        assert!(Filter::parse("Team = ").is_err());
        assert!(Filter::parse("Team = 'x' ORDER BY Team").is_err());
    }
}
