//! `workflow list|listall|count`: tctl's filters become a visibility query; a server that
//! does not understand the query gets an empty one and the filters are applied here.

use crate::cli::ListFilterArgs;
use crate::client::{Ctx, RpcError};
use crate::{parse, render};
use anyhow::{Context as _, anyhow, bail};
use serde_json::{Value, json};
use sundial_api::temporal::enums::v1::WorkflowExecutionStatus as Status;
use sundial_api::temporal::workflow::v1::WorkflowExecutionInfo;
use sundial_api::workflowservice::v1::{CountWorkflowExecutionsRequest, ListWorkflowExecutionsRequest};
use tonic::Code;

/// The list filters tctl offers besides `--query`, as a query and as a local predicate (used
/// when the server does not understand the query).
struct Filter {
    open: bool,
    workflow_id: Option<String>,
    workflow_type: Option<String>,
    status: Option<i32>,
    earliest: Option<i64>,
    latest: Option<i64>,
}

fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\\', "\\\\").replace('\'', "\\'"))
}

impl Filter {
    fn from_args(args: &ListFilterArgs) -> anyhow::Result<Filter> {
        if args.open && args.status.is_some() {
            bail!("you can only filter on --status for closed workflows, not with --open");
        }
        if args.workflow_id.is_some() && args.workflow_type.is_some() {
            bail!("you can filter on --workflow_id or --workflow_type, but not on both");
        }
        let status = match &args.status {
            None => None,
            Some(s) => {
                let names: Vec<(&str, i32)> = [
                    Status::Completed,
                    Status::Failed,
                    Status::Canceled,
                    Status::Terminated,
                    Status::ContinuedAsNew,
                    Status::TimedOut,
                ]
                .iter()
                .map(|st| (st.as_str_name(), *st as i32))
                .collect();
                let wanted = if s.eq_ignore_ascii_case("cancelled") {
                    "canceled"
                } else {
                    s.as_str()
                };
                Some(parse::enum_value(wanted, "WORKFLOW_EXECUTION_STATUS_", &names).ok_or_else(|| {
                    anyhow!("option --status {s:?} is invalid: use completed, failed, canceled, terminated, continuedasnew or timedout")
                })?)
            }
        };
        let secs = |flag: &str, v: &Option<String>| -> anyhow::Result<Option<i64>> {
            v.as_deref()
                .map(|t| {
                    parse::time_filter(t)
                        .map(|ts| ts.seconds)
                        .with_context(|| format!("option {flag}"))
                })
                .transpose()
        };
        Ok(Filter {
            open: args.open,
            workflow_id: args.workflow_id.clone(),
            workflow_type: args.workflow_type.clone(),
            status,
            earliest: secs("--earliest_time", &args.earliest_time)?,
            latest: secs("--latest_time", &args.latest_time)?,
        })
    }

    fn query(&self) -> String {
        let mut parts = vec![if self.open {
            "ExecutionStatus = 'Running'".to_owned()
        } else {
            "ExecutionStatus != 'Running'".to_owned()
        }];
        if let Some(st) = self.status {
            parts[0] = format!("ExecutionStatus = {}", quote(&render::status_short(st)));
        }
        if let Some(w) = &self.workflow_id {
            parts.push(format!("WorkflowId = {}", quote(w)));
        }
        if let Some(t) = &self.workflow_type {
            parts.push(format!("WorkflowType = {}", quote(t)));
        }
        let rfc = |s: i64| {
            chrono::DateTime::from_timestamp(s, 0)
                .map(|t| t.to_rfc3339())
                .unwrap_or_default()
        };
        if let Some(s) = self.earliest {
            parts.push(format!("StartTime >= {}", quote(&rfc(s))));
        }
        if let Some(s) = self.latest {
            parts.push(format!("StartTime <= {}", quote(&rfc(s))));
        }
        parts.join(" AND ")
    }

    fn matches(&self, e: &WorkflowExecutionInfo) -> bool {
        let running = e.status == Status::Running as i32;
        let start = e.start_time.as_ref().map(|t| t.seconds).unwrap_or(0);
        running == self.open
            && self.status.is_none_or(|s| s == e.status)
            && self
                .workflow_id
                .as_ref()
                .is_none_or(|w| e.execution.as_ref().is_some_and(|x| &x.workflow_id == w))
            && self
                .workflow_type
                .as_ref()
                .is_none_or(|t| e.r#type.as_ref().is_some_and(|x| &x.name == t))
            && self.earliest.is_none_or(|s| start >= s)
            && self.latest.is_none_or(|s| start <= s)
    }
}

async fn list_page(
    ctx: &Ctx,
    query: &str,
    page_size: i32,
    token: Vec<u8>,
) -> Result<(Vec<WorkflowExecutionInfo>, Vec<u8>), RpcError> {
    let req = ListWorkflowExecutionsRequest {
        namespace: ctx.namespace.clone(),
        page_size,
        next_page_token: token,
        query: query.to_owned(),
    };
    let mut client = ctx.workflow.clone();
    let resp = ctx
        .call(
            "ListWorkflowExecutions",
            client.list_workflow_executions(ctx.request(req)),
        )
        .await?;
    Ok((resp.executions, resp.next_page_token))
}

/// `paging` is (page size, all pages) for `list`; `None` lists everything (`listall`).
pub async fn list(ctx: &Ctx, args: &ListFilterArgs, paging: Option<(i32, bool)>) -> anyhow::Result<()> {
    let (page_size, all_pages) = match paging {
        Some((size, more)) => (if size > 0 { size } else { 10 }, more),
        None => (1000, true),
    };
    let limit = if all_pages { usize::MAX } else { page_size as usize };
    let mut found: Vec<WorkflowExecutionInfo> = Vec::new();
    let (query, mut local) = match &args.query {
        Some(q) => (q.clone(), None),
        None => {
            let filter = Filter::from_args(args)?;
            (filter.query(), Some(filter))
        }
    };
    // Try the filters as a query; a server that rejects it gets an empty query and we filter here.
    let mut query = query;
    let mut token = Vec::new();
    let mut first = true;
    loop {
        let page = match list_page(ctx, &query, page_size, token).await {
            Ok(page) => page,
            Err(e) if first && local.is_some() && e.code == Some(Code::InvalidArgument) => {
                query = String::new();
                list_page(ctx, &query, page_size, Vec::new()).await?
            }
            Err(e) => return Err(e.into()),
        };
        if !query.is_empty() {
            local = None;
        }
        first = false;
        found.extend(
            page.0
                .into_iter()
                .filter(|e| local.as_ref().is_none_or(|f| f.matches(e))),
        );
        token = page.1;
        if token.is_empty() || found.len() >= limit {
            break;
        }
    }
    found.truncate(limit);
    if ctx.json {
        render::print_json(&Value::Array(found.iter().map(render::execution_info).collect()));
        return Ok(());
    }
    let closed = !args.open || args.query.is_some();
    let mut headers = vec![
        "Workflow Type",
        "Workflow Id",
        "Run Id",
        "Task Queue",
        "Start Time",
        "Execution Time",
    ];
    if closed {
        headers.push("End Time");
    }
    if args.print_memo {
        headers.push("Memo");
    }
    if args.print_search_attr {
        headers.push("Search Attributes");
    }
    let when = |t: Option<&sundial_api::prost_wkt_types::Timestamp>| {
        if args.print_raw_time {
            t.map(|t| format!("{}.{:09}", t.seconds, t.nanos)).unwrap_or_default()
        } else {
            render::time_text(t, args.print_datetime)
        }
    };
    let rows: Vec<Vec<String>> = found
        .iter()
        .map(|e| {
            let exec = e.execution.clone().unwrap_or_default();
            let mut row = vec![
                e.r#type.as_ref().map(|t| t.name.clone()).unwrap_or_default(),
                exec.workflow_id,
                exec.run_id,
                e.task_queue.clone(),
                when(e.start_time.as_ref()),
                when(e.execution_time.as_ref()),
            ];
            if closed {
                row.push(when(e.close_time.as_ref()));
            }
            if args.print_memo {
                row.push(render::memo(e).to_string());
            }
            if args.print_search_attr {
                row.push(render::search_attributes(e).to_string());
            }
            row
        })
        .collect();
    render::print_table(&headers, &rows);
    Ok(())
}

pub async fn count(ctx: &Ctx, query: Option<&str>) -> anyhow::Result<()> {
    let req = CountWorkflowExecutionsRequest {
        namespace: ctx.namespace.clone(),
        query: query.unwrap_or_default().to_owned(),
    };
    let mut client = ctx.workflow.clone();
    let resp = ctx
        .call(
            "CountWorkflowExecutions",
            client.count_workflow_executions(ctx.request(req)),
        )
        .await?;
    if ctx.json {
        render::print_json(&json!({ "count": resp.count }));
    } else {
        outln!("{}", resp.count);
    }
    Ok(())
}
