//! The syntax tree and its parser. Names stay unresolved here, so a query's syntax can be
//! checked (and its errors reported) before any namespace is consulted.

use super::lex::{Tok, lex};
use super::{CmpOp, MAX_DEPTH, MAX_IN_VALUES, MAX_QUERY_LEN, QueryError, err};
use std::fmt;

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
