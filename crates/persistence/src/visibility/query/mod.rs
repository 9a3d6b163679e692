//! Temporal's list filter language: a small SQL-like `WHERE` clause plus optional `ORDER BY`
//! and `GROUP BY`, e.g.
//! `WorkflowType = 'Order' AND ExecutionStatus = 'Running' AND StartTime > '2024-01-01T00:00:00Z' ORDER BY StartTime DESC`.
//!
//! [`parse`](fn@parse) builds a syntax tree; [`compile`](fn@compile) resolves attribute names
//! against the system attributes and a namespace's [`Catalog`](super::Catalog), checks every
//! value against its attribute's type, and returns a [`VisibilityQuery`] whose column names
//! come only from fixed lists and whose values are typed parameters: the SQL store binds them,
//! it never splices them.
//!
//! Strings are quoted with `'` or `"`; a quote inside a string is written `\'` (or `\"`).
//! Doubled quotes (`''`), comments (`--`, `/*`), `;` and anything else outside the grammar are
//! errors, so an injection attempt is a syntax error that names what is wrong.

mod compile;
mod lex;
mod parse;
#[cfg(test)]
pub(crate) mod props;
#[cfg(test)]
mod tests;

pub use compile::compile;
pub use parse::{Condition, Expr, Literal, ParsedQuery, parse};

use std::fmt;

/// Longest query accepted.
pub const MAX_QUERY_LEN: usize = 32 * 1024;
/// Deepest parenthesis nesting accepted.
const MAX_DEPTH: usize = 64;
/// Most values in one `IN (…)` list.
const MAX_IN_VALUES: usize = 1000;

/// A query that cannot be parsed or does not fit the namespace's attributes; the message says
/// why (it is returned to the client as `INVALID_ARGUMENT`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QueryError(pub String);

impl fmt::Display for QueryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid query: {}", self.0)
    }
}

impl std::error::Error for QueryError {}

impl From<QueryError> for sundial_common::ServiceError {
    fn from(e: QueryError) -> Self {
        sundial_common::ServiceError::invalid(e.to_string())
    }
}

fn err<T>(msg: impl Into<String>) -> Result<T, QueryError> {
    Err(QueryError(msg.into()))
}

// ---------------------------------------------------------------------------------------------
// Compiled query

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CmpOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl CmpOp {
    pub fn sql(self) -> &'static str {
        match self {
            CmpOp::Eq => "=",
            CmpOp::Ne => "!=",
            CmpOp::Lt => "<",
            CmpOp::Le => "<=",
            CmpOp::Gt => ">",
            CmpOp::Ge => ">=",
        }
    }
}

/// A bound parameter.
#[derive(Clone, Debug, PartialEq)]
pub enum SqlValue {
    Int(i64),
    Float(f64),
    Text(String),
}

/// A condition on a column. Column names are `'static` identifiers from fixed lists.
#[derive(Clone, Debug, PartialEq)]
pub enum Filter {
    And(Vec<Filter>),
    Or(Vec<Filter>),
    Compare {
        column: &'static str,
        op: CmpOp,
        value: SqlValue,
    },
    In {
        column: &'static str,
        values: Vec<SqlValue>,
        negated: bool,
    },
    Between {
        column: &'static str,
        low: SqlValue,
        high: SqlValue,
        negated: bool,
    },
    StartsWith {
        column: &'static str,
        prefix: String,
        negated: bool,
    },
    IsNull {
        column: &'static str,
        negated: bool,
    },
    /// A keyword-list column (JSON array) contains any of `values` (or none, when negated).
    ListContains {
        column: &'static str,
        values: Vec<String>,
        negated: bool,
    },
    /// A text column contains every word (case-insensitive), or not all of them when negated.
    TextMatch {
        column: &'static str,
        words: Vec<String>,
        negated: bool,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OrderBy {
    pub column: &'static str,
    pub descending: bool,
}

/// A query ready for the store.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct VisibilityQuery {
    pub filter: Option<Filter>,
    /// Empty: the default order (open runs first, then newest start first).
    pub order_by: Vec<OrderBy>,
    pub group_by_status: bool,
    /// Which executions the query lists: "" workflows, "activity" standalone activities.
    pub division: String,
}

impl VisibilityQuery {
    /// Every execution, default order.
    pub fn all() -> VisibilityQuery {
        VisibilityQuery::default()
    }
}

/// Workflow execution status names as the query language writes them.
pub const STATUS_NAMES: [(&str, i32); 7] = [
    ("Running", 1),
    ("Completed", 2),
    ("Failed", 3),
    ("Canceled", 4),
    ("Terminated", 5),
    ("ContinuedAsNew", 6),
    ("TimedOut", 7),
];

pub fn status_name(status: i32) -> Option<&'static str> {
    STATUS_NAMES.iter().find(|(_, v)| *v == status).map(|(n, _)| *n)
}

/// Quotes a value as a string literal of this language (for building queries from the older
/// filter-style list requests).
pub fn quote(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('\'');
    for c in value.chars() {
        match c {
            '\'' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out.push('\'');
    out
}
