//! Temporal's list filter language: a small SQL-like `WHERE` clause plus optional `ORDER BY`
//! and `GROUP BY`, e.g.
//! `WorkflowType = 'Order' AND ExecutionStatus = 'Running' AND StartTime > '2024-01-01T00:00:00Z' ORDER BY StartTime DESC`.
//!
//! [`parse`] builds a syntax tree; [`compile`] resolves attribute names against the system
//! attributes and a namespace's [`Catalog`], checks every value against its attribute's type,
//! and returns a [`VisibilityQuery`] whose column names come only from fixed lists and whose
//! values are typed parameters: the SQL store binds them, it never splices them.
//!
//! Strings are quoted with `'` or `"`; a quote inside a string is written `\'` (or `\"`).
//! Doubled quotes (`''`), comments (`--`, `/*`), `;` and anything else outside the grammar are
//! errors, so an injection attempt is a syntax error that names what is wrong.

use super::{Catalog, ValueType, parse_duration, parse_rfc3339, system_attribute};
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
// Lexer

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

#[derive(Clone, Debug, PartialEq)]
enum Tok {
    /// A name; `quoted` when written in backquotes (never a keyword then).
    Ident {
        name: String,
        quoted: bool,
    },
    Str(String),
    Num(String),
    Op(CmpOp),
    LParen,
    RParen,
    Comma,
    Eof,
}

impl Tok {
    fn describe(&self) -> String {
        match self {
            Tok::Ident { name, .. } => format!("'{name}'"),
            Tok::Str(s) => format!("string '{s}'"),
            Tok::Num(n) => format!("number {n}"),
            Tok::Op(op) => format!("'{}'", op.sql()),
            Tok::LParen => "'('".into(),
            Tok::RParen => "')'".into(),
            Tok::Comma => "','".into(),
            Tok::Eof => "end of query".into(),
        }
    }

    fn is_keyword(&self, kw: &str) -> bool {
        matches!(self, Tok::Ident { name, quoted: false } if name.eq_ignore_ascii_case(kw))
    }
}

fn lex(q: &str) -> Result<Vec<(Tok, usize)>, QueryError> {
    let chars: Vec<(usize, char)> = q.char_indices().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let (pos, c) = chars[i];
        let next = chars.get(i + 1).map(|&(_, c)| c);
        match c {
            c if c.is_whitespace() => i += 1,
            '(' => {
                out.push((Tok::LParen, pos));
                i += 1;
            }
            ')' => {
                out.push((Tok::RParen, pos));
                i += 1;
            }
            ',' => {
                out.push((Tok::Comma, pos));
                i += 1;
            }
            '=' => {
                out.push((Tok::Op(CmpOp::Eq), pos));
                i += if next == Some('=') { 2 } else { 1 };
            }
            '!' if next == Some('=') => {
                out.push((Tok::Op(CmpOp::Ne), pos));
                i += 2;
            }
            '<' => match next {
                Some('=') => {
                    out.push((Tok::Op(CmpOp::Le), pos));
                    i += 2;
                }
                Some('>') => {
                    out.push((Tok::Op(CmpOp::Ne), pos));
                    i += 2;
                }
                _ => {
                    out.push((Tok::Op(CmpOp::Lt), pos));
                    i += 1;
                }
            },
            '>' => {
                if next == Some('=') {
                    out.push((Tok::Op(CmpOp::Ge), pos));
                    i += 2;
                } else {
                    out.push((Tok::Op(CmpOp::Gt), pos));
                    i += 1;
                }
            }
            '\'' | '"' => {
                let quote = c;
                let mut s = String::new();
                i += 1;
                loop {
                    let Some(&(_, ch)) = chars.get(i) else {
                        return err(format!("unterminated string starting at offset {pos}"));
                    };
                    i += 1;
                    if ch == '\\' {
                        let Some(&(_, esc)) = chars.get(i) else {
                            return err(format!("unterminated string starting at offset {pos}"));
                        };
                        i += 1;
                        s.push(match esc {
                            'n' => '\n',
                            't' => '\t',
                            'r' => '\r',
                            '0' => '\0',
                            other => other,
                        });
                    } else if ch == quote {
                        break;
                    } else {
                        s.push(ch);
                    }
                }
                if chars.get(i).map(|&(_, c)| c) == Some(quote) {
                    return err(format!(
                        "doubled quote at offset {}: write a quote inside a string as \\{quote}",
                        chars[i].0
                    ));
                }
                out.push((Tok::Str(s), pos));
            }
            '`' => {
                let mut s = String::new();
                i += 1;
                loop {
                    let Some(&(_, ch)) = chars.get(i) else {
                        return err(format!("unterminated `name` starting at offset {pos}"));
                    };
                    i += 1;
                    if ch == '`' {
                        break;
                    }
                    s.push(ch);
                }
                out.push((Tok::Ident { name: s, quoted: true }, pos));
            }
            '-' if next == Some('-') => return err(format!("comments ('--') are not allowed (offset {pos})")),
            '/' if next == Some('*') => return err(format!("comments ('/*') are not allowed (offset {pos})")),
            c if c.is_ascii_digit()
                || c == '.'
                || (c == '-' && next.is_some_and(|n| n.is_ascii_digit() || n == '.')) =>
            {
                let start = i;
                i += 1;
                while let Some(&(_, ch)) = chars.get(i) {
                    let prev = chars[i - 1].1;
                    if ch.is_ascii_digit()
                        || ch == '.'
                        || ch == 'e'
                        || ch == 'E'
                        || ((ch == '-' || ch == '+') && (prev == 'e' || prev == 'E'))
                    {
                        i += 1;
                    } else {
                        break;
                    }
                }
                let text: String = chars[start..i].iter().map(|&(_, c)| c).collect();
                if text.parse::<f64>().is_err() {
                    return err(format!("malformed number '{text}' at offset {pos}"));
                }
                if chars.get(i).is_some_and(|&(_, c)| c.is_alphanumeric() || c == '_') {
                    return err(format!("malformed number at offset {pos}"));
                }
                out.push((Tok::Num(text), pos));
            }
            c if c.is_alphabetic() || c == '_' => {
                let start = i;
                while chars.get(i).is_some_and(|&(_, c)| c.is_alphanumeric() || c == '_') {
                    i += 1;
                }
                let name: String = chars[start..i].iter().map(|&(_, c)| c).collect();
                out.push((Tok::Ident { name, quoted: false }, pos));
            }
            ';' => return err(format!("';' is not allowed (offset {pos}): a query is a single filter")),
            other => return err(format!("unexpected character '{other}' at offset {pos}")),
        }
    }
    out.push((Tok::Eof, q.len()));
    Ok(out)
}

// ---------------------------------------------------------------------------------------------
// Syntax tree

/// A literal as written.
#[derive(Clone, Debug, PartialEq)]
pub enum Literal {
    Str(String),
    Num(String),
    Bool(bool),
}

impl fmt::Display for Literal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Literal::Str(s) => write!(f, "'{s}'"),
            Literal::Num(n) => f.write_str(n),
            Literal::Bool(b) => write!(f, "{b}"),
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum Condition {
    Compare(CmpOp, Literal),
    In { values: Vec<Literal>, negated: bool },
    Between { low: Literal, high: Literal, negated: bool },
    StartsWith { prefix: Literal, negated: bool },
    IsNull { negated: bool },
}

#[derive(Clone, Debug, PartialEq)]
pub enum Expr {
    And(Vec<Expr>),
    Or(Vec<Expr>),
    Predicate { attribute: String, condition: Condition },
}

#[derive(Clone, Debug, PartialEq)]
pub struct ParsedQuery {
    pub filter: Option<Expr>,
    /// (attribute, descending)
    pub order_by: Vec<(String, bool)>,
    pub group_by: Vec<String>,
}

struct Parser {
    toks: Vec<(Tok, usize)>,
    i: usize,
    depth: usize,
}

impl Parser {
    fn peek(&self) -> &Tok {
        &self.toks[self.i].0
    }

    fn pos(&self) -> usize {
        self.toks[self.i].1
    }

    fn bump(&mut self) -> Tok {
        let t = self.toks[self.i].0.clone();
        if self.i + 1 < self.toks.len() {
            self.i += 1;
        }
        t
    }

    fn keyword(&mut self, kw: &str) -> bool {
        if self.peek().is_keyword(kw) {
            self.bump();
            true
        } else {
            false
        }
    }

    fn expect_keyword(&mut self, kw: &str, after: &str) -> Result<(), QueryError> {
        if self.keyword(kw) {
            Ok(())
        } else {
            err(format!(
                "expected {kw} after {after}, found {} at offset {}",
                self.peek().describe(),
                self.pos()
            ))
        }
    }

    fn query(&mut self) -> Result<ParsedQuery, QueryError> {
        let filter =
            if matches!(self.peek(), Tok::Eof) || self.peek().is_keyword("ORDER") || self.peek().is_keyword("GROUP") {
                None
            } else {
                Some(self.or_expr()?)
            };
        let mut order_by = Vec::new();
        let mut group_by = Vec::new();
        loop {
            if self.keyword("ORDER") {
                self.expect_keyword("BY", "ORDER")?;
                if !order_by.is_empty() {
                    return err("ORDER BY appears twice");
                }
                loop {
                    let attr = self.attribute("ORDER BY")?;
                    let desc = if self.keyword("DESC") {
                        true
                    } else {
                        self.keyword("ASC");
                        false
                    };
                    order_by.push((attr, desc));
                    if !matches!(self.peek(), Tok::Comma) {
                        break;
                    }
                    self.bump();
                }
            } else if self.keyword("GROUP") {
                self.expect_keyword("BY", "GROUP")?;
                if !group_by.is_empty() {
                    return err("GROUP BY appears twice");
                }
                loop {
                    group_by.push(self.attribute("GROUP BY")?);
                    if !matches!(self.peek(), Tok::Comma) {
                        break;
                    }
                    self.bump();
                }
            } else {
                break;
            }
        }
        match self.peek() {
            Tok::Eof => Ok(ParsedQuery {
                filter,
                order_by,
                group_by,
            }),
            Tok::RParen => err(format!(
                "unbalanced parentheses: ')' at offset {} has no matching '('",
                self.pos()
            )),
            other => err(format!(
                "unexpected {} at offset {}; expected AND, OR, ORDER BY, GROUP BY or the end of the query",
                other.describe(),
                self.pos()
            )),
        }
    }

    fn attribute(&mut self, context: &str) -> Result<String, QueryError> {
        let pos = self.pos();
        match self.bump() {
            Tok::Ident { name, quoted } => {
                const RESERVED: [&str; 14] = [
                    "AND",
                    "OR",
                    "NOT",
                    "IN",
                    "BETWEEN",
                    "IS",
                    "NULL",
                    "ORDER",
                    "GROUP",
                    "BY",
                    "ASC",
                    "DESC",
                    "STARTS_WITH",
                    "LIKE",
                ];
                if !quoted && RESERVED.iter().any(|k| name.eq_ignore_ascii_case(k)) {
                    return err(format!(
                        "expected a search attribute name in {context}, found keyword {name} at offset {pos}"
                    ));
                }
                Ok(name)
            }
            other => err(format!(
                "expected a search attribute name in {context}, found {} at offset {pos}",
                other.describe()
            )),
        }
    }

    fn or_expr(&mut self) -> Result<Expr, QueryError> {
        let mut items = vec![self.and_expr()?];
        while self.keyword("OR") {
            items.push(self.and_expr()?);
        }
        Ok(if items.len() == 1 {
            items.remove(0)
        } else {
            Expr::Or(items)
        })
    }

    fn and_expr(&mut self) -> Result<Expr, QueryError> {
        let mut items = vec![self.primary()?];
        while self.keyword("AND") {
            items.push(self.primary()?);
        }
        Ok(if items.len() == 1 {
            items.remove(0)
        } else {
            Expr::And(items)
        })
    }

    fn primary(&mut self) -> Result<Expr, QueryError> {
        if matches!(self.peek(), Tok::LParen) {
            let open = self.pos();
            self.bump();
            self.depth += 1;
            if self.depth > MAX_DEPTH {
                return err(format!("parentheses nested deeper than {MAX_DEPTH}"));
            }
            let inner = self.or_expr()?;
            self.depth -= 1;
            if !matches!(self.peek(), Tok::RParen) {
                return err(format!(
                    "unbalanced parentheses: '(' at offset {open} is not closed (found {} at offset {})",
                    self.peek().describe(),
                    self.pos()
                ));
            }
            self.bump();
            return Ok(inner);
        }
        if self.peek().is_keyword("NOT") {
            return err(format!(
                "NOT is only supported as NOT IN, NOT BETWEEN, NOT STARTS_WITH or IS NOT NULL (offset {})",
                self.pos()
            ));
        }
        if matches!(self.peek(), Tok::Eof) {
            return err("the query ends where a condition was expected");
        }
        let attribute = self.attribute("a condition")?;
        let condition = self.condition(&attribute)?;
        Ok(Expr::Predicate { attribute, condition })
    }

    fn condition(&mut self, attribute: &str) -> Result<Condition, QueryError> {
        let pos = self.pos();
        if let Tok::Op(op) = self.peek().clone() {
            self.bump();
            return Ok(Condition::Compare(op, self.literal(attribute)?));
        }
        if self.keyword("IS") {
            let negated = self.keyword("NOT");
            self.expect_keyword("NULL", if negated { "IS NOT" } else { "IS" })?;
            return Ok(Condition::IsNull { negated });
        }
        let negated = self.keyword("NOT");
        if self.keyword("IN") {
            if !matches!(self.peek(), Tok::LParen) {
                return err(format!("expected '(' after IN at offset {}", self.pos()));
            }
            let open = self.pos();
            self.bump();
            let mut values = vec![self.literal(attribute)?];
            while matches!(self.peek(), Tok::Comma) {
                self.bump();
                values.push(self.literal(attribute)?);
                if values.len() > MAX_IN_VALUES {
                    return err(format!("IN lists are limited to {MAX_IN_VALUES} values"));
                }
            }
            if !matches!(self.peek(), Tok::RParen) {
                return err(format!(
                    "unbalanced parentheses: IN list opened at offset {open} is not closed (found {} at offset {})",
                    self.peek().describe(),
                    self.pos()
                ));
            }
            self.bump();
            return Ok(Condition::In { values, negated });
        }
        if self.keyword("BETWEEN") {
            let low = self.literal(attribute)?;
            self.expect_keyword("AND", "BETWEEN's first value")?;
            let high = self.literal(attribute)?;
            return Ok(Condition::Between { low, high, negated });
        }
        if self.keyword("STARTS_WITH") {
            let prefix = self.literal(attribute)?;
            return Ok(Condition::StartsWith { prefix, negated });
        }
        if self.peek().is_keyword("LIKE") {
            return err(format!(
                "LIKE is not supported (offset {}); use STARTS_WITH",
                self.pos()
            ));
        }
        err(format!(
            "expected an operator (=, !=, >, >=, <, <=, IN, NOT IN, BETWEEN, STARTS_WITH, IS NULL) after {attribute}, found {} at offset {pos}",
            self.peek().describe()
        ))
    }

    fn literal(&mut self, attribute: &str) -> Result<Literal, QueryError> {
        let pos = self.pos();
        match self.bump() {
            Tok::Str(s) => Ok(Literal::Str(s)),
            Tok::Num(n) => Ok(Literal::Num(n)),
            t if t.is_keyword("TRUE") => Ok(Literal::Bool(true)),
            t if t.is_keyword("FALSE") => Ok(Literal::Bool(false)),
            Tok::Ident { name, .. } => err(format!(
                "expected a value for {attribute} at offset {pos}, found '{name}' (quote strings: '{name}')"
            )),
            other => err(format!(
                "expected a value for {attribute} at offset {pos}, found {}",
                other.describe()
            )),
        }
    }
}

/// Parses a query without resolving its attribute names.
pub fn parse(query: &str) -> Result<ParsedQuery, QueryError> {
    if query.len() > MAX_QUERY_LEN {
        return err(format!("the query is longer than {MAX_QUERY_LEN} bytes"));
    }
    let toks = lex(query)?;
    Parser { toks, i: 0, depth: 0 }.query()
}

// ---------------------------------------------------------------------------------------------
// Compiled query

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
    if let Some(sys) = super::SYSTEM_ATTRIBUTES
        .iter()
        .find(|a| a.name.eq_ignore_ascii_case(name))
    {
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
    })
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
