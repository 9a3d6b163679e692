//! `executions_visibility`: one row per run, upserted by history's visibility queue and read by
//! the frontend's list and count. A [`VisibilityQuery`] is rendered here into SQL for the
//! store's dialect: column names come from fixed lists, every value is a bound parameter.

use super::{Dialect, SqlStore};
use crate::visibility::query::{Filter, SqlValue, VisibilityQuery};
use crate::visibility::{AttributeValue, ValueType, custom_columns};
use crate::{PersistenceError, Result, VisibilityPage, VisibilityRecord, VisibilityStore};
use async_trait::async_trait;
use sqlx::Row;
use sqlx::any::{AnyArguments, AnyRow};
use std::fmt::Write as _;
use std::sync::OnceLock;

/// Sort key of the default order: open runs (no close time) first, then newest start first.
const OPEN_SORT: i64 = i64::MAX;
/// The default-order key; must match the expression of the `by_*` indexes exactly.
const CLOSE_SORT: &str = "COALESCE(close_time, 9223372036854775807)";

fn record_from_row(r: &AnyRow) -> Result<VisibilityRecord> {
    Ok(VisibilityRecord {
        namespace_id: r.try_get("namespace_id")?,
        run_id: r.try_get("run_id")?,
        workflow_id: r.try_get("workflow_id")?,
        workflow_type: r.try_get("workflow_type_name")?,
        status: r.try_get("status")?,
        start_time: r.try_get("start_time")?,
        execution_time: r.try_get("execution_time")?,
        close_time: r.try_get("close_time")?,
        history_length: r.try_get::<Option<i64>, _>("history_length")?.unwrap_or_default(),
        history_size_bytes: r.try_get::<Option<i64>, _>("history_size_bytes")?.unwrap_or_default(),
        state_transition_count: r
            .try_get::<Option<i64>, _>("state_transition_count")?
            .unwrap_or_default(),
        task_queue: r.try_get("task_queue")?,
        parent_workflow_id: r.try_get("parent_workflow_id")?,
        parent_run_id: r.try_get("parent_run_id")?,
        root_workflow_id: r.try_get("root_workflow_id")?,
        root_run_id: r.try_get("root_run_id")?,
        memo: r.try_get("memo")?,
        search_attributes: r.try_get("search_attributes_data")?,
        temporal_change_version: r.try_get("temporal_change_version")?,
        custom: Vec::new(),
        version: r.try_get("_version")?,
        division: r.try_get("division")?,
    })
}

const COLUMNS: &str = "namespace_id, run_id, workflow_id, workflow_type_name, status, start_time, execution_time, \
     close_time, history_length, history_size_bytes, state_transition_count, task_queue, parent_workflow_id, \
     parent_run_id, root_workflow_id, root_run_id, memo, search_attributes_data, temporal_change_version, _version, division";

/// Where a page starts.
#[derive(Debug, PartialEq)]
enum Cursor {
    Start,
    /// Default order: after the row with this (close sort key, start time, run id).
    After(i64, i64, String),
    /// Custom `ORDER BY`: skip this many rows.
    Offset(i64),
}

fn encode_after(r: &VisibilityRecord) -> Vec<u8> {
    format!("k:{}|{}|{}", r.close_time.unwrap_or(OPEN_SORT), r.start_time, r.run_id).into_bytes()
}

fn decode_token(token: &[u8]) -> Result<Cursor> {
    if token.is_empty() {
        return Ok(Cursor::Start);
    }
    let bad = || PersistenceError::ConditionFailed("malformed page token".into());
    let text = std::str::from_utf8(token).map_err(|_| bad())?;
    if let Some(rest) = text.strip_prefix("k:") {
        let mut parts = rest.splitn(3, '|');
        let close = parts.next().and_then(|p| p.parse().ok()).ok_or_else(bad)?;
        let start = parts.next().and_then(|p| p.parse().ok()).ok_or_else(bad)?;
        let run = parts.next().ok_or_else(bad)?.to_owned();
        return Ok(Cursor::After(close, start, run));
    }
    if let Some(rest) = text.strip_prefix("o:") {
        let n: i64 = rest.parse().map_err(|_| bad())?;
        if n < 0 {
            return Err(bad());
        }
        return Ok(Cursor::Offset(n));
    }
    Err(bad())
}

/// One page of a list: where it starts (from the client's page token) and how many rows it
/// holds. Kept apart from the store so hostile tokens can be tested without a database.
#[derive(Debug)]
struct ListPage {
    cursor: Cursor,
    custom_order: bool,
    limit: i64,
}

impl ListPage {
    /// Decodes `token` for `query`: a clean error for a token that is malformed or that came
    /// from a query of the other kind (default order vs `ORDER BY`).
    fn new(query: &VisibilityQuery, page_size: usize, token: &[u8]) -> Result<ListPage> {
        let cursor = decode_token(token)?;
        let custom_order = !query.order_by.is_empty();
        if matches!(
            (&cursor, custom_order),
            (Cursor::After(..), true) | (Cursor::Offset(_), false)
        ) {
            return Err(PersistenceError::ConditionFailed(
                "page token does not belong to this query".into(),
            ));
        }
        Ok(ListPage {
            cursor,
            custom_order,
            limit: page_limit(page_size),
        })
    }

    fn offset(&self) -> i64 {
        match self.cursor {
            Cursor::Offset(n) => n,
            _ => 0,
        }
    }

    /// The page's `SELECT`.
    fn statement(&self, dialect: Dialect, namespace_id: &str, query: &VisibilityQuery) -> Statement {
        let mut st = Statement::new(dialect, &format!("SELECT {COLUMNS}"), namespace_id);
        st.where_query(query);
        if let Cursor::After(close, start, run) = &self.cursor {
            let (c, s, r) = (
                st.param(SqlValue::Int(*close)),
                st.param(SqlValue::Int(*start)),
                st.param(SqlValue::Text(run.clone())),
            );
            let _ = write!(
                st.sql,
                " AND ({CLOSE_SORT} < {c} OR ({CLOSE_SORT} = {c} AND (start_time < {s} OR (start_time = {s} AND run_id > {r}))))"
            );
        }
        if self.custom_order {
            let keys: Vec<String> = query
                .order_by
                .iter()
                .map(|o| format!("{} {} NULLS LAST", o.column, if o.descending { "DESC" } else { "ASC" }))
                .collect();
            let _ = write!(st.sql, " ORDER BY {}, run_id", keys.join(", "));
        } else {
            let _ = write!(st.sql, " ORDER BY {CLOSE_SORT} DESC, start_time DESC, run_id");
        }
        let l = st.param(SqlValue::Int(self.limit));
        let _ = write!(st.sql, " LIMIT {l}");
        let offset = self.offset();
        if offset > 0 {
            let o = st.param(SqlValue::Int(offset));
            let _ = write!(st.sql, " OFFSET {o}");
        }
        st
    }

    /// The token of the page after this one, given the rows it returned; empty when the page
    /// was not full (or when no row can follow: the offset would pass i64::MAX).
    fn next_token(&self, records: &[VisibilityRecord]) -> Vec<u8> {
        if records.len() as i64 != self.limit {
            return Vec::new();
        }
        if self.custom_order {
            self.offset()
                .checked_add(self.limit)
                .map(|n| format!("o:{n}").into_bytes())
                .unwrap_or_default()
        } else {
            records.last().map(encode_after).unwrap_or_default()
        }
    }
}

/// SQL text under construction, with its bound parameters (`$1` is always the namespace id).
struct Statement {
    dialect: Dialect,
    sql: String,
    params: Vec<SqlValue>,
}

fn like_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '\\' | '%' | '_') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

impl Statement {
    fn new(dialect: Dialect, head: &str, namespace_id: &str) -> Self {
        Self {
            dialect,
            sql: format!("{head} FROM executions_visibility WHERE namespace_id = $1"),
            params: vec![SqlValue::Text(namespace_id.to_owned())],
        }
    }

    fn param(&mut self, v: SqlValue) -> String {
        self.params.push(v);
        format!("${}", self.params.len())
    }

    fn filter(&mut self, f: &Filter) {
        match f {
            Filter::And(items) | Filter::Or(items) => {
                let joiner = if matches!(f, Filter::And(_)) { " AND " } else { " OR " };
                self.sql.push('(');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        self.sql.push_str(joiner);
                    }
                    self.filter(item);
                }
                self.sql.push(')');
            }
            Filter::Compare { column, op, value } => {
                let p = self.param(value.clone());
                let _ = write!(self.sql, "{column} {} {p}", op.sql());
            }
            Filter::In {
                column,
                values,
                negated,
            } => {
                let ps: Vec<String> = values.iter().map(|v| self.param(v.clone())).collect();
                let not = if *negated { "NOT " } else { "" };
                let _ = write!(self.sql, "{column} {not}IN ({})", ps.join(", "));
            }
            Filter::Between {
                column,
                low,
                high,
                negated,
            } => {
                let (lo, hi) = (self.param(low.clone()), self.param(high.clone()));
                let not = if *negated { "NOT " } else { "" };
                let _ = write!(self.sql, "{column} {not}BETWEEN {lo} AND {hi}");
            }
            Filter::StartsWith {
                column,
                prefix,
                negated,
            } => {
                let not = if *negated { "NOT " } else { "" };
                match self.dialect {
                    // LIKE is case-sensitive on PostgreSQL.
                    Dialect::Postgres => {
                        let p = self.param(SqlValue::Text(format!("{}%", like_escape(prefix))));
                        let _ = write!(self.sql, "{column} {not}LIKE {p} ESCAPE '\\'");
                    }
                    // SQLite's LIKE ignores case; compare the prefix exactly instead.
                    Dialect::Sqlite => {
                        let n = self.param(SqlValue::Int(prefix.chars().count() as i64));
                        let p = self.param(SqlValue::Text(prefix.clone()));
                        let _ = write!(self.sql, "{not}(substr({column}, 1, {n}) = {p})");
                    }
                }
            }
            Filter::IsNull { column, negated } => {
                let not = if *negated { "NOT " } else { "" };
                let _ = write!(self.sql, "{column} IS {not}NULL");
            }
            Filter::ListContains {
                column,
                values,
                negated,
            } => {
                let mut parts = Vec::new();
                for v in values {
                    let p = self.param(SqlValue::Text(v.clone()));
                    parts.push(match self.dialect {
                        Dialect::Postgres => format!("CAST({column} AS jsonb) @> jsonb_build_array(CAST({p} AS TEXT))"),
                        Dialect::Sqlite => {
                            format!("EXISTS (SELECT 1 FROM json_each({column}) WHERE json_each.value = {p})")
                        }
                    });
                }
                let any = format!("COALESCE(({}), FALSE)", parts.join(" OR "));
                if *negated {
                    let _ = write!(self.sql, "NOT {any}");
                } else {
                    self.sql.push_str(&any);
                }
            }
            Filter::TextMatch { column, words, negated } => {
                let mut parts = Vec::new();
                for w in words {
                    let p = self.param(SqlValue::Text(format!("%{}%", like_escape(w))));
                    parts.push(format!("LOWER({column}) LIKE {p} ESCAPE '\\'"));
                }
                let all = parts.join(" AND ");
                if *negated {
                    let _ = write!(self.sql, "NOT COALESCE(({all}), FALSE)");
                } else {
                    let _ = write!(self.sql, "({all})");
                }
            }
        }
    }

    fn where_query(&mut self, q: &VisibilityQuery) {
        let division = self.param(SqlValue::Text(q.division.clone()));
        let _ = write!(self.sql, " AND division = {division}");
        if let Some(f) = &q.filter {
            self.sql.push_str(" AND ");
            self.filter(f);
        }
    }

    fn arguments(&self) -> AnyArguments<'static> {
        use sqlx::Arguments as _;
        let mut args = AnyArguments::default();
        for p in &self.params {
            let _ = match p {
                SqlValue::Int(i) => args.add(*i),
                SqlValue::Float(f) => args.add(*f),
                SqlValue::Text(s) => args.add(s.clone()),
            };
        }
        args
    }
}

/// The upsert statement: every column, pool columns included (NULL when unset), so a row
/// always reflects the run's current search attributes.
fn upsert_sql() -> &'static str {
    static SQL: OnceLock<String> = OnceLock::new();
    SQL.get_or_init(|| {
        let mut cols: Vec<&str> = vec![
            "namespace_id",
            "run_id",
            "workflow_id",
            "workflow_type_name",
            "status",
            "start_time",
            "execution_time",
            "close_time",
            "history_length",
            "history_size_bytes",
            "execution_duration",
            "state_transition_count",
            "task_queue",
            "memo",
            "parent_workflow_id",
            "parent_run_id",
            "root_workflow_id",
            "root_run_id",
            "search_attributes_data",
            "temporal_change_version",
            "_version",
            "division",
        ];
        cols.extend(custom_columns().map(|(c, _)| c));
        let placeholders: Vec<String> = (1..=cols.len()).map(|i| format!("${i}")).collect();
        let updates: Vec<String> = cols[2..].iter().map(|c| format!("{c} = excluded.{c}")).collect();
        format!(
            "INSERT INTO executions_visibility ({}) VALUES ({}) ON CONFLICT (namespace_id, run_id) DO UPDATE SET {} \
             WHERE executions_visibility._version < excluded._version",
            cols.join(", "),
            placeholders.join(", "),
            updates.join(", ")
        )
    })
}

fn page_limit(page_size: usize) -> i64 {
    i64::try_from(page_size.max(1)).unwrap_or(i64::MAX)
}

#[async_trait]
impl VisibilityStore for SqlStore {
    async fn upsert_visibility(&self, r: &VisibilityRecord) -> Result<()> {
        let duration = r.close_time.map(|c| c - r.execution_time);
        let mut q = sqlx::query(upsert_sql())
            .bind(&r.namespace_id)
            .bind(&r.run_id)
            .bind(&r.workflow_id)
            .bind(&r.workflow_type)
            .bind(r.status)
            .bind(r.start_time)
            .bind(r.execution_time)
            .bind(r.close_time)
            .bind(r.history_length)
            .bind(r.history_size_bytes)
            .bind(duration)
            .bind(r.state_transition_count)
            .bind(&r.task_queue)
            .bind(r.memo.as_deref())
            .bind(r.parent_workflow_id.as_deref())
            .bind(r.parent_run_id.as_deref())
            .bind(&r.root_workflow_id)
            .bind(&r.root_run_id)
            .bind(r.search_attributes.as_deref())
            .bind(r.temporal_change_version.as_deref())
            .bind(r.version)
            .bind(&r.division);
        for (column, ty) in custom_columns() {
            let value = r.custom.iter().find(|(c, _)| *c == column).map(|(_, v)| v);
            q = match (ty, value) {
                (ValueType::Bool, Some(AttributeValue::Bool(b))) => q.bind(Some(i16::from(*b))),
                (ValueType::Bool, _) => q.bind(None::<i16>),
                (ValueType::Int, Some(AttributeValue::Int(i))) => q.bind(Some(*i)),
                (ValueType::Datetime, Some(AttributeValue::Datetime(i))) => q.bind(Some(*i)),
                (ValueType::Int | ValueType::Datetime, _) => q.bind(None::<i64>),
                (ValueType::Double, Some(AttributeValue::Double(f))) => q.bind(Some(*f)),
                (ValueType::Double, _) => q.bind(None::<f64>),
                (ValueType::Keyword | ValueType::Text, Some(AttributeValue::Text(s))) => q.bind(Some(s.clone())),
                (ValueType::KeywordList, Some(AttributeValue::List(items))) => {
                    q.bind(Some(crate::visibility::json::string_array(items)))
                }
                (ValueType::Keyword | ValueType::Text | ValueType::KeywordList, _) => q.bind(None::<String>),
            };
        }
        with_conn!(self, write, |conn| {
            q.execute(&mut *conn).await?;
            Ok(())
        })
    }

    async fn list_visibility(
        &self,
        namespace_id: &str,
        query: &VisibilityQuery,
        page_size: usize,
        token: &[u8],
    ) -> Result<VisibilityPage> {
        let page = ListPage::new(query, page_size, token)?;
        let st = page.statement(self.dialect, namespace_id, query);
        let rows = with_conn!(self, read, |conn| Ok(sqlx::query_with(&st.sql, st.arguments())
            .fetch_all(&mut *conn)
            .await?))?;
        let records = rows.iter().map(record_from_row).collect::<Result<Vec<_>>>()?;
        let next_page_token = page.next_token(&records);
        Ok(VisibilityPage {
            records,
            next_page_token,
        })
    }

    async fn count_visibility(&self, namespace_id: &str, query: &VisibilityQuery) -> Result<i64> {
        let mut st = Statement::new(self.dialect, "SELECT COUNT(*) AS n", namespace_id);
        st.where_query(query);
        let row = with_conn!(self, read, |conn| Ok(sqlx::query_with(&st.sql, st.arguments())
            .fetch_one(&mut *conn)
            .await?))?;
        Ok(row.try_get("n")?)
    }

    async fn count_visibility_by_status(&self, namespace_id: &str, query: &VisibilityQuery) -> Result<Vec<(i32, i64)>> {
        let mut st = Statement::new(self.dialect, "SELECT status, COUNT(*) AS n", namespace_id);
        st.where_query(query);
        st.sql.push_str(" GROUP BY status ORDER BY n DESC, status");
        let rows = with_conn!(self, read, |conn| Ok(sqlx::query_with(&st.sql, st.arguments())
            .fetch_all(&mut *conn)
            .await?))?;
        rows.iter()
            .map(|r| Ok((r.try_get::<i32, _>("status")?, r.try_get::<i64, _>("n")?)))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::visibility::Catalog;
    use crate::visibility::query::compile;

    fn render(q: &str, dialect: Dialect) -> (String, Vec<SqlValue>) {
        let catalog = Catalog::with(&[("Kw", ValueType::Keyword, "keyword01")]);
        let vq = compile(q, &catalog).expect("compiles");
        let mut st = Statement::new(dialect, "SELECT 1", "ns");
        st.where_query(&vq);
        (st.sql, st.params)
    }

    #[test]
    fn values_are_parameters_never_text() {
        let (sql, params) = render(r"WorkflowId = 'x\' OR 1=1 --' AND Kw IN ('a', 'b')", Dialect::Postgres);
        assert_eq!(
            sql,
            "SELECT 1 FROM executions_visibility WHERE namespace_id = $1 AND division = $2 AND (workflow_id = $3 AND keyword01 IN ($4, $5))"
        );
        assert_eq!(
            params[1],
            SqlValue::Text(String::new()),
            "workflows: the empty division"
        );
        assert_eq!(params[2], SqlValue::Text("x' OR 1=1 --".into()));
        assert!(!sql.contains("OR 1=1"));
    }

    #[test]
    fn dialects_differ_only_where_they_must() {
        let (pg, p) = render("WorkflowId STARTS_WITH 'a_%'", Dialect::Postgres);
        assert!(pg.ends_with("workflow_id LIKE $3 ESCAPE '\\'"), "{pg}");
        assert_eq!(p[2], SqlValue::Text("a\\_\\%%".into()));
        let (lite, p) = render("WorkflowId STARTS_WITH 'a_%'", Dialect::Sqlite);
        assert!(lite.ends_with("(substr(workflow_id, 1, $3) = $4)"), "{lite}");
        assert_eq!(p[2], SqlValue::Int(3));
        let (pg, _) = render("TemporalChangeVersion = 'v'", Dialect::Postgres);
        assert!(pg.contains("@> jsonb_build_array"), "{pg}");
        let (lite, _) = render("TemporalChangeVersion != 'v'", Dialect::Sqlite);
        assert!(
            lite.contains("NOT COALESCE((EXISTS (SELECT 1 FROM json_each(temporal_change_version)"),
            "{lite}"
        );
    }

    #[test]
    fn tokens() {
        assert_eq!(decode_token(b"").ok(), Some(Cursor::Start));
        assert_eq!(decode_token(b"o:20").ok(), Some(Cursor::Offset(20)));
        assert_eq!(decode_token(b"k:1|2|r|x").ok(), Some(Cursor::After(1, 2, "r|x".into())));
        for bad in [&b"junk"[..], b"o:-1", b"k:1|x|r", b"\xff"] {
            assert!(decode_token(bad).is_err());
        }
    }
}

#[cfg(test)]
mod props;
