//! `tctl workflow start|run|signal|query|stack|cancel|terminate|reset|delete|describe`
//! (history and visibility commands are in [`crate::cmd_history`]).
//!
//! tctl v1 speaks in binary checksums, the `TerminateIfRunning` reuse policy and the
//! single reset reapply type, which the current API marks deprecated; we keep them on purpose.
#![allow(deprecated)]

use crate::cli::{ExecutionArgs, InputArgs, StartArgs, WorkflowCmd};
use crate::client::Ctx;
use crate::cmd_history::{self, fetch_history};
use crate::cmd_list;
use crate::{parse, payload, render};
use anyhow::{Context as _, anyhow, bail};
use serde_json::{Value, json};
use std::process::ExitCode;
use sundial_api::temporal::common::v1::{Memo, SearchAttributes, WorkflowExecution, WorkflowType};
use sundial_api::temporal::enums::v1::{
    EventType, QueryRejectCondition, ResetReapplyType, TaskQueueKind, WorkflowIdReusePolicy,
};
use sundial_api::temporal::history::v1::history_event::Attributes;
use sundial_api::temporal::query::v1::WorkflowQuery;
use sundial_api::temporal::taskqueue::v1::TaskQueue;
use sundial_api::workflowservice::v1::{
    DeleteWorkflowExecutionRequest, DescribeWorkflowExecutionRequest, QueryWorkflowRequest,
    RequestCancelWorkflowExecutionRequest, ResetWorkflowExecutionRequest, SignalWorkflowExecutionRequest,
    StartWorkflowExecutionRequest, TerminateWorkflowExecutionRequest,
};

pub async fn run(ctx: &Ctx, cmd: WorkflowCmd) -> anyhow::Result<ExitCode> {
    match cmd {
        WorkflowCmd::Start(args) => {
            let started = start(ctx, &args).await?;
            if ctx.json {
                render::print_json(&started.json());
            } else {
                outln!(
                    "Started Workflow Id: {}, run Id: {}",
                    started.workflow_id,
                    started.run_id
                );
            }
        }
        WorkflowCmd::Run(args) => {
            let started = start(ctx, &args.start).await?;
            return cmd_history::follow(ctx, &started, args.show_detail, args.max_field_length).await;
        }
        WorkflowCmd::List(args) => cmd_list::list(ctx, &args.filter, Some((args.pagesize, args.more))).await?,
        WorkflowCmd::Listall(args) => cmd_list::list(ctx, &args, None).await?,
        WorkflowCmd::Count(args) => cmd_list::count(ctx, args.query.as_deref()).await?,
        WorkflowCmd::Show(args) => {
            let (wid, rid) = execution(&args.execution)?;
            cmd_history::show(ctx, &wid, &rid, &args.flags).await?;
        }
        WorkflowCmd::Showid(args) => {
            cmd_history::show(ctx, &args.workflow_id, &args.run_id.unwrap_or_default(), &args.flags).await?;
        }
        WorkflowCmd::Describe(args) => {
            let (wid, rid) = execution(&args.execution)?;
            describe(ctx, &wid, &rid, args.flags.reset_points_only).await?;
        }
        WorkflowCmd::Describeid(args) => {
            describe(
                ctx,
                &args.workflow_id,
                &args.run_id.unwrap_or_default(),
                args.flags.reset_points_only,
            )
            .await?;
        }
        WorkflowCmd::Signal(args) => {
            no_batch(args.batch.query.as_deref(), "signal")?;
            let (wid, rid) = execution(&args.execution)?;
            let name = required(args.name, "--name (-n)")?;
            let input = inputs(&args.input)?;
            let req = SignalWorkflowExecutionRequest {
                namespace: ctx.namespace.clone(),
                workflow_execution: Some(WorkflowExecution {
                    workflow_id: wid,
                    run_id: rid,
                }),
                signal_name: name,
                input: payload::to_payloads(&input),
                identity: identity(),
                request_id: uuid::Uuid::new_v4().to_string(),
                ..Default::default()
            };
            let mut client = ctx.workflow.clone();
            ctx.call(
                "SignalWorkflowExecution",
                client.signal_workflow_execution(ctx.request(req)),
            )
            .await?;
            done(ctx, "Signal workflow succeeded.");
        }
        WorkflowCmd::Query(args) => {
            let query_type = required(args.query_type, "--query_type (--qt)")?;
            query(
                ctx,
                &args.execution,
                &query_type,
                &args.input,
                args.query_reject_condition.as_deref(),
            )
            .await?;
        }
        WorkflowCmd::Stack(args) => {
            query(
                ctx,
                &args.execution,
                "__stack_trace",
                &args.input,
                args.query_reject_condition.as_deref(),
            )
            .await?;
        }
        WorkflowCmd::Cancel(args) => {
            no_batch(args.batch.query.as_deref(), "cancel")?;
            let (wid, rid) = execution(&args.execution)?;
            let req = RequestCancelWorkflowExecutionRequest {
                namespace: ctx.namespace.clone(),
                workflow_execution: Some(WorkflowExecution {
                    workflow_id: wid,
                    run_id: rid,
                }),
                identity: identity(),
                request_id: uuid::Uuid::new_v4().to_string(),
                reason: args.reason.unwrap_or_default(),
                ..Default::default()
            };
            let mut client = ctx.workflow.clone();
            ctx.call(
                "RequestCancelWorkflowExecution",
                client.request_cancel_workflow_execution(ctx.request(req)),
            )
            .await?;
            done(ctx, "Cancel workflow succeeded.");
        }
        WorkflowCmd::Terminate(args) => {
            no_batch(args.batch.query.as_deref(), "terminate")?;
            let (wid, rid) = execution(&args.execution)?;
            let req = TerminateWorkflowExecutionRequest {
                namespace: ctx.namespace.clone(),
                workflow_execution: Some(WorkflowExecution {
                    workflow_id: wid,
                    run_id: rid,
                }),
                reason: args.reason.unwrap_or_default(),
                identity: identity(),
                ..Default::default()
            };
            let mut client = ctx.workflow.clone();
            ctx.call(
                "TerminateWorkflowExecution",
                client.terminate_workflow_execution(ctx.request(req)),
            )
            .await?;
            done(ctx, "Terminate workflow succeeded.");
        }
        WorkflowCmd::Reset(args) => reset(ctx, args).await?,
        WorkflowCmd::Delete(args) => {
            let (wid, rid) = execution(&args.execution)?;
            let req = DeleteWorkflowExecutionRequest {
                namespace: ctx.namespace.clone(),
                workflow_execution: Some(WorkflowExecution {
                    workflow_id: wid,
                    run_id: rid,
                }),
            };
            let mut client = ctx.workflow.clone();
            ctx.call(
                "DeleteWorkflowExecution",
                client.delete_workflow_execution(ctx.request(req)),
            )
            .await?;
            done(ctx, "Delete workflow succeeded.");
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub fn done(ctx: &Ctx, text: &str) {
    if ctx.json {
        render::print_json(&json!({ "result": text }));
    } else {
        outln!("{text}");
    }
}

pub fn required(value: Option<String>, flag: &str) -> anyhow::Result<String> {
    value
        .filter(|v| !v.is_empty())
        .ok_or_else(|| anyhow!("option {flag} is required"))
}

pub fn execution(args: &ExecutionArgs) -> anyhow::Result<(String, String)> {
    let wid = required(args.workflow_id.clone(), "--workflow_id (-w)")?;
    Ok((wid, args.run_id.clone().unwrap_or_default()))
}

fn no_batch(query: Option<&str>, verb: &str) -> anyhow::Result<()> {
    match query {
        Some(_) => {
            bail!("batch {verb} (--query) is not supported by this build; {verb} one workflow with -w WORKFLOW_ID")
        }
        None => Ok(()),
    }
}

pub fn inputs(args: &InputArgs) -> anyhow::Result<Vec<Value>> {
    payload::parse_inputs(&args.input, args.input_file.as_deref())
}

pub fn identity() -> String {
    let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "localhost".into());
    format!("{}@{host}@tctl", crate::cmd_namespace::current_user())
}

/// What `start` did, for printing and for `run` to follow.
pub struct Started {
    pub workflow_id: String,
    pub run_id: String,
    pub workflow_type: String,
    pub namespace: String,
    pub task_queue: String,
    pub input: Vec<Value>,
}

impl Started {
    pub fn json(&self) -> Value {
        json!({
            "workflowId": self.workflow_id, "runId": self.run_id, "type": self.workflow_type,
            "namespace": self.namespace, "taskQueue": self.task_queue,
        })
    }
}

fn reuse_policy(text: &str) -> anyhow::Result<i32> {
    use WorkflowIdReusePolicy as P;
    let names: Vec<(&str, i32)> = [
        P::AllowDuplicate,
        P::AllowDuplicateFailedOnly,
        P::RejectDuplicate,
        P::TerminateIfRunning,
    ]
    .iter()
    .map(|p| (p.as_str_name(), *p as i32))
    .collect();
    parse::enum_value(text, "WORKFLOW_ID_REUSE_POLICY_", &names).ok_or_else(|| {
        anyhow!(
            "option --workflowidreusepolicy {text:?} is invalid: use AllowDuplicate, AllowDuplicateFailedOnly, \
             RejectDuplicate or TerminateIfRunning"
        )
    })
}

pub fn timeout(flag: &str, value: Option<&str>) -> anyhow::Result<Option<sundial_api::prost_wkt_types::Duration>> {
    value
        .filter(|v| !v.is_empty() && *v != "0")
        .map(|v| {
            parse::seconds_or_duration(v)
                .with_context(|| format!("option {flag} {v:?} is invalid (seconds, or a duration like 1h)"))
        })
        .transpose()
}

fn memo(args: &StartArgs) -> anyhow::Result<Option<Memo>> {
    memo_from(&args.memo_key, &args.memo, args.memo_file.as_deref())
}

/// tctl's `--memo_key`/`--memo`/`--memo_file` as a memo (`None` when no flag is given).
pub fn memo_from(keys: &[String], memo: &[String], memo_file: Option<&str>) -> anyhow::Result<Option<Memo>> {
    if keys.is_empty() {
        if !memo.is_empty() || memo_file.is_some() {
            bail!("memo keys must be given with --memo_key");
        }
        return Ok(None);
    }
    let values: Vec<String> = match memo_file {
        Some(_) if !memo.is_empty() => bail!("only one of --memo or --memo_file should be used"),
        Some(path) => crate::client::read_flag_file("--memo_file", path)?
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(str::to_owned)
            .collect(),
        None => memo.to_vec(),
    };
    Ok(Some(Memo {
        fields: payload::keyed_values(keys, &values, "memo")?,
    }))
}

fn search_attributes(args: &StartArgs) -> anyhow::Result<Option<SearchAttributes>> {
    search_attributes_from(args.search_attr_key.as_slice(), args.search_attr_value.as_slice())
}

/// tctl's `--search_attr_key`/`--search_attr_value`: each flag holds one or more
/// `|`-separated entries (`None` when no flag is given).
pub fn search_attributes_from(keys: &[String], values: &[String]) -> anyhow::Result<Option<SearchAttributes>> {
    let split = |flags: &[String]| -> Vec<String> {
        flags
            .iter()
            .flat_map(|s| s.split('|'))
            .map(|p| p.trim().to_owned())
            .collect()
    };
    let (keys, values) = (split(keys), split(values));
    if keys.is_empty() && values.is_empty() {
        return Ok(None);
    }
    Ok(Some(SearchAttributes {
        indexed_fields: payload::keyed_values(&keys, &values, "search attribute")?,
    }))
}

async fn start(ctx: &Ctx, args: &StartArgs) -> anyhow::Result<Started> {
    let task_queue = required(args.taskqueue.clone(), "--taskqueue (--tq)")?;
    let workflow_type = required(args.workflow_type.clone(), "--workflow_type (--wt)")?;
    let workflow_id = args
        .workflow_id
        .clone()
        .filter(|w| !w.is_empty())
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    let input = inputs(&args.input)?;
    let req = StartWorkflowExecutionRequest {
        namespace: ctx.namespace.clone(),
        workflow_id: workflow_id.clone(),
        workflow_type: Some(WorkflowType {
            name: workflow_type.clone(),
        }),
        task_queue: Some(TaskQueue {
            name: task_queue.clone(),
            kind: TaskQueueKind::Normal as i32,
            ..Default::default()
        }),
        input: payload::to_payloads(&input),
        workflow_execution_timeout: timeout("--execution_timeout", args.execution_timeout.as_deref())?,
        workflow_run_timeout: timeout("--run-timeout", args.run_timeout.as_deref())?,
        workflow_task_timeout: timeout("--workflow_task_timeout", Some(&args.workflow_task_timeout))?,
        identity: identity(),
        request_id: uuid::Uuid::new_v4().to_string(),
        workflow_id_reuse_policy: args
            .workflowidreusepolicy
            .as_deref()
            .map(reuse_policy)
            .transpose()?
            .unwrap_or(0),
        cron_schedule: args.cron.clone().unwrap_or_default(),
        memo: memo(args)?,
        search_attributes: search_attributes(args)?,
        ..Default::default()
    };
    let mut client = ctx.workflow.clone();
    let resp = ctx
        .call(
            "StartWorkflowExecution",
            client.start_workflow_execution(ctx.request(req)),
        )
        .await?;
    Ok(Started {
        workflow_id,
        run_id: resp.run_id,
        workflow_type,
        namespace: ctx.namespace.clone(),
        task_queue,
        input,
    })
}

async fn query(
    ctx: &Ctx,
    exec: &ExecutionArgs,
    query_type: &str,
    input: &InputArgs,
    reject: Option<&str>,
) -> anyhow::Result<()> {
    let (wid, rid) = execution(exec)?;
    let reject_condition = match reject.map(str::to_ascii_lowercase).as_deref() {
        None | Some("") => QueryRejectCondition::None,
        Some("not_open") => QueryRejectCondition::NotOpen,
        Some("not_completed_cleanly") => QueryRejectCondition::NotCompletedCleanly,
        Some(other) => {
            bail!("invalid reject condition {other:?}, valid values are \"not_open\" and \"not_completed_cleanly\"")
        }
    };
    let args = inputs(input)?;
    let req = QueryWorkflowRequest {
        namespace: ctx.namespace.clone(),
        execution: Some(WorkflowExecution {
            workflow_id: wid,
            run_id: rid,
        }),
        query: Some(WorkflowQuery {
            query_type: query_type.to_owned(),
            query_args: payload::to_payloads(&args),
            header: None,
        }),
        query_reject_condition: reject_condition as i32,
    };
    let mut client = ctx.workflow.clone();
    let resp = ctx
        .call("QueryWorkflow", client.query_workflow(ctx.request(req)))
        .await?;
    if let Some(rejected) = resp.query_rejected {
        let status = render::status_name(rejected.status);
        if ctx.json {
            render::print_json(&json!({ "queryRejected": { "status": status } }));
        } else {
            outln!("Query was rejected, workflow has status: {status}");
        }
        return Ok(());
    }
    let result = payload::decode_all(resp.query_result.as_ref());
    if ctx.json {
        render::print_json(&json!({ "queryResult": result }));
    } else if query_type == "__stack_trace" {
        for v in result.as_array().into_iter().flatten() {
            match v {
                Value::String(s) => outln!("{s}"),
                other => outln!("{other}"),
            }
        }
    } else {
        outln!("Query result:\n{result}");
    }
    Ok(())
}

async fn describe(ctx: &Ctx, wid: &str, rid: &str, reset_points_only: bool) -> anyhow::Result<()> {
    let req = DescribeWorkflowExecutionRequest {
        namespace: ctx.namespace.clone(),
        execution: Some(WorkflowExecution {
            workflow_id: wid.to_owned(),
            run_id: rid.to_owned(),
        }),
    };
    let mut client = ctx.workflow.clone();
    let resp = ctx
        .call(
            "DescribeWorkflowExecution",
            client.describe_workflow_execution(ctx.request(req)),
        )
        .await?;
    if reset_points_only {
        let points = resp
            .workflow_execution_info
            .as_ref()
            .and_then(|i| i.auto_reset_points.as_ref())
            .map(|p| p.points.clone())
            .unwrap_or_default();
        if ctx.json {
            let list: Vec<Value> = points
                .iter()
                .map(|p| {
                    json!({ "buildId": p.build_id, "binaryChecksum": p.binary_checksum, "runId": p.run_id,
                                 "firstWorkflowTaskCompletedId": p.first_workflow_task_completed_id,
                                 "createTime": render::time(p.create_time.as_ref()), "resettable": p.resettable })
                })
                .collect();
            render::print_json(&Value::Array(list));
        } else {
            outln!("Auto Reset Points:");
            let rows: Vec<Vec<String>> = points
                .iter()
                .map(|p| {
                    vec![
                        p.binary_checksum.clone(),
                        render::time_text(p.create_time.as_ref(), true),
                        p.run_id.clone(),
                        p.first_workflow_task_completed_id.to_string(),
                    ]
                })
                .collect();
            render::print_table(&["Binary Checksum", "Create Time", "RunId", "EventId"], &rows);
        }
        return Ok(());
    }
    // tctl prints describe as JSON in both modes.
    render::print_json(&render::describe_workflow(&resp));
    Ok(())
}

async fn reset(ctx: &Ctx, args: crate::cli::ResetArgs) -> anyhow::Result<()> {
    let (wid, rid) = execution(&args.execution)?;
    let reason = required(args.reason, "--reason")?;
    let reapply = match args.reset_reapply_type.to_ascii_lowercase().as_str() {
        "signal" => ResetReapplyType::Signal,
        "none" => ResetReapplyType::None,
        "all" | "alleligible" | "all_eligible" => ResetReapplyType::AllEligible,
        other => bail!("must specify valid reset reapply type: Signal, None or All (not {other:?})"),
    };
    let (base_run, event_id) = match (args.event_id, args.reset_type.as_deref()) {
        (Some(id), None) if id > 0 => (rid, id),
        (None, Some(kind)) => reset_point(ctx, &wid, &rid, kind, args.reset_bad_binary_checksum.as_deref()).await?,
        _ => bail!(
            "must specify either a valid --event_id or --reset_type (one of FirstWorkflowTask, LastWorkflowTask, \
             LastContinuedAsNew, BadBinary)"
        ),
    };
    let req = ResetWorkflowExecutionRequest {
        namespace: ctx.namespace.clone(),
        workflow_execution: Some(WorkflowExecution {
            workflow_id: wid,
            run_id: base_run,
        }),
        reason: format!("{}:{reason}", crate::cmd_namespace::current_user()),
        workflow_task_finish_event_id: event_id,
        request_id: uuid::Uuid::new_v4().to_string(),
        reset_reapply_type: reapply as i32,
        identity: identity(),
        ..Default::default()
    };
    let mut client = ctx.workflow.clone();
    let resp = ctx
        .call(
            "ResetWorkflowExecution",
            client.reset_workflow_execution(ctx.request(req)),
        )
        .await?;
    render::print_json(&json!({ "runId": resp.run_id }));
    Ok(())
}

/// `rid`, or the id of the workflow's current run when `rid` is empty.
async fn current_run(ctx: &Ctx, wid: &str, rid: &str) -> anyhow::Result<String> {
    if !rid.is_empty() {
        return Ok(rid.to_owned());
    }
    let req = DescribeWorkflowExecutionRequest {
        namespace: ctx.namespace.clone(),
        execution: Some(WorkflowExecution {
            workflow_id: wid.to_owned(),
            run_id: String::new(),
        }),
    };
    let mut client = ctx.workflow.clone();
    let d = ctx
        .call(
            "DescribeWorkflowExecution",
            client.describe_workflow_execution(ctx.request(req)),
        )
        .await?;
    Ok(d.workflow_execution_info
        .and_then(|i| i.execution)
        .map(|e| e.run_id)
        .unwrap_or_default())
}

/// The run and the WorkflowTaskCompleted event id a `--reset_type` points at.
async fn reset_point(
    ctx: &Ctx,
    wid: &str,
    rid: &str,
    kind: &str,
    checksum: Option<&str>,
) -> anyhow::Result<(String, i64)> {
    let completed = |events: &[sundial_api::temporal::history::v1::HistoryEvent]| -> Vec<i64> {
        events
            .iter()
            .filter(|e| e.event_type == EventType::WorkflowTaskCompleted as i32)
            .map(|e| e.event_id)
            .collect()
    };
    let run = current_run(ctx, wid, rid).await?;
    let events = fetch_history(ctx, wid, &run).await?;
    let found = match kind {
        "FirstWorkflowTask" => completed(&events).first().map(|id| (run.clone(), *id)),
        "LastWorkflowTask" => completed(&events).last().map(|id| (run.clone(), *id)),
        "LastContinuedAsNew" => {
            let previous = events.first().and_then(|e| match &e.attributes {
                Some(Attributes::WorkflowExecutionStartedEventAttributes(a)) => {
                    Some(a.continued_execution_run_id.clone())
                }
                _ => None,
            });
            match previous.filter(|p| !p.is_empty()) {
                Some(prev) => {
                    let prev_events = fetch_history(ctx, wid, &prev).await?;
                    completed(&prev_events).last().map(|id| (prev.clone(), *id))
                }
                None => bail!("workflow {wid} run {run} did not continue from another run"),
            }
        }
        "BadBinary" => {
            let checksum = checksum
                .filter(|c| !c.is_empty())
                .ok_or_else(|| anyhow!("option --reset_bad_binary_checksum is required"))?;
            events
                .iter()
                .find(|e| matches!(&e.attributes, Some(Attributes::WorkflowTaskCompletedEventAttributes(a)) if a.binary_checksum == checksum))
                .map(|e| (run.clone(), e.event_id))
        }
        other => bail!(
            "--reset_type {other:?} is invalid: use FirstWorkflowTask, LastWorkflowTask, LastContinuedAsNew or BadBinary"
        ),
    };
    found.ok_or_else(|| anyhow!("no WorkflowTaskCompleted event to reset to ({kind}) in workflow {wid}"))
}
