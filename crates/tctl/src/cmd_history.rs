//! History: `workflow show`, and following a run for `workflow run`.

use crate::cli::ShowFlags;
use crate::client::Ctx;
use crate::cmd_workflow::Started;
use crate::{payload, render};
use anyhow::{Context as _, anyhow};
use serde_json::{Value, json};
use std::process::ExitCode;
use std::time::{Duration, Instant};
use sundial_api::temporal::common::v1::WorkflowExecution;
use sundial_api::temporal::enums::v1::HistoryEventFilterType;
use sundial_api::temporal::history::v1::{HistoryEvent, history_event::Attributes};
use sundial_api::workflowservice::v1::GetWorkflowExecutionHistoryRequest;
use tonic::Code;

/// How long one long poll for the close event may take before we ask again.
const LONG_POLL: Duration = Duration::from_secs(70);

pub async fn fetch_history(ctx: &Ctx, wid: &str, rid: &str) -> anyhow::Result<Vec<HistoryEvent>> {
    let mut events = Vec::new();
    let mut token = Vec::new();
    let mut client = ctx.workflow.clone();
    loop {
        let req = GetWorkflowExecutionHistoryRequest {
            namespace: ctx.namespace.clone(),
            execution: Some(WorkflowExecution {
                workflow_id: wid.to_owned(),
                run_id: rid.to_owned(),
            }),
            next_page_token: token,
            ..Default::default()
        };
        let resp = ctx
            .call(
                "GetWorkflowExecutionHistory",
                client.get_workflow_execution_history(ctx.request(req)),
            )
            .await?;
        events.extend(resp.history.map(|h| h.events).unwrap_or_default());
        if resp.next_page_token.is_empty() {
            return Ok(events);
        }
        token = resp.next_page_token;
    }
}

/// Event attributes for a text line: empty fields left out, cut to `max` characters.
fn details(e: &HistoryEvent, max: usize) -> String {
    render::truncate(
        render::compact(render::event_attributes(e.attributes.as_ref())).to_string(),
        max,
    )
}

pub async fn show(ctx: &Ctx, wid: &str, rid: &str, flags: &ShowFlags) -> anyhow::Result<()> {
    let events = fetch_history(ctx, wid, rid).await?;
    if let Some(path) = &flags.output_filename {
        let all: Vec<Value> = events.iter().map(render::event).collect();
        let text = serde_json::to_string_pretty(&json!({ "events": all }))?;
        std::fs::write(path, text).with_context(|| format!("cannot write --output_filename {path}"))?;
    }
    if let Some(id) = flags.event_id {
        let event = events.iter().find(|e| e.event_id == id).ok_or_else(|| {
            anyhow!(
                "event id {id} out of range: the history has events 1 - {}",
                events.len()
            )
        })?;
        render::print_json(&render::event(event));
        return Ok(());
    }
    let shown: Vec<&HistoryEvent> = if flags.reset_points_only {
        events
            .iter()
            .filter(|e| e.event_type == sundial_api::temporal::enums::v1::EventType::WorkflowTaskCompleted as i32)
            .collect()
    } else {
        events.iter().collect()
    };
    if ctx.json {
        render::print_json(&json!({ "events": shown.iter().map(|e| render::event(e)).collect::<Vec<_>>() }));
        return Ok(());
    }
    let max = if flags.print_full { 0 } else { flags.max_field_length };
    for e in shown {
        let mut cols = vec![format!("{:>4}", e.event_id)];
        if flags.print_raw_time {
            cols.push(
                e.event_time
                    .as_ref()
                    .map(|t| format!("{}.{:09}", t.seconds, t.nanos))
                    .unwrap_or_default(),
            );
        } else if flags.print_datetime {
            cols.push(render::time_text(e.event_time.as_ref(), true));
        }
        if flags.print_event_version {
            cols.push(format!("version {}", e.version));
        }
        cols.push(format!("{:<42}", render::event_type_short(e.event_type)));
        cols.push(details(e, max));
        outln!("{}", cols.join("  ").trim_end());
    }
    Ok(())
}

fn is_close_event(e: &HistoryEvent) -> bool {
    use sundial_api::temporal::enums::v1::EventType as T;
    [
        T::WorkflowExecutionCompleted,
        T::WorkflowExecutionFailed,
        T::WorkflowExecutionTimedOut,
        T::WorkflowExecutionCanceled,
        T::WorkflowExecutionTerminated,
        T::WorkflowExecutionContinuedAsNew,
    ]
    .iter()
    .any(|t| *t as i32 == e.event_type)
}

/// Long-polls a run's history, handing each new event to `on_event`, until its close event.
async fn follow_run(
    ctx: &Ctx,
    wid: &str,
    rid: &str,
    mut on_event: impl FnMut(&HistoryEvent),
) -> anyhow::Result<HistoryEvent> {
    let mut client = ctx.workflow.clone();
    let mut token = Vec::new();
    let mut last_seen = 0;
    loop {
        let req = GetWorkflowExecutionHistoryRequest {
            namespace: ctx.namespace.clone(),
            execution: Some(WorkflowExecution {
                workflow_id: wid.to_owned(),
                run_id: rid.to_owned(),
            }),
            next_page_token: token.clone(),
            wait_new_event: true,
            history_event_filter_type: HistoryEventFilterType::AllEvent as i32,
            ..Default::default()
        };
        let mut request = tonic::Request::new(req);
        request.set_timeout(LONG_POLL);
        let call = client.get_workflow_execution_history(request);
        let resp = match ctx
            .call_with_timeout("GetWorkflowExecutionHistory", LONG_POLL + Duration::from_secs(5), call)
            .await
        {
            Ok(resp) => resp,
            // A long poll that ran out of time is not an error; ask again.
            Err(e) if e.code == Some(Code::DeadlineExceeded) || e.code.is_none() => continue,
            Err(e) => return Err(e.into()),
        };
        let before = last_seen;
        for e in resp.history.map(|h| h.events).unwrap_or_default() {
            if e.event_id <= last_seen {
                continue;
            }
            last_seen = e.event_id;
            on_event(&e);
            if is_close_event(&e) {
                return Ok(e);
            }
        }
        // Without a token the server has nothing more to wait on: read again from the start,
        // skipping what we printed, and do not spin if nothing is new.
        token = resp.next_page_token;
        if token.is_empty() && last_seen == before {
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

pub async fn follow(ctx: &Ctx, started: &Started, show_detail: bool, max: usize) -> anyhow::Result<ExitCode> {
    let began = Instant::now();
    if !ctx.json {
        outln!("Running execution:");
        let rows = [
            ("Workflow Id", started.workflow_id.clone()),
            ("Run Id", started.run_id.clone()),
            ("Type", started.workflow_type.clone()),
            ("Namespace", started.namespace.clone()),
            ("Task Queue", started.task_queue.clone()),
            (
                "Args",
                render::truncate(Value::Array(started.input.clone()).to_string(), max),
            ),
        ];
        for (k, v) in rows {
            outln!("  {k:<11} : {v}");
        }
    }
    if !ctx.json {
        outln!("Progress:");
    }
    let print_event = |e: &HistoryEvent| {
        if ctx.json {
            return;
        }
        let time = render::time_text(e.event_time.as_ref(), false);
        let name = render::event_type_short(e.event_type);
        if show_detail {
            outln!("  {}, {time}, {name}, {}", e.event_id, details(e, max));
        } else {
            outln!("  {}, {time}, {name}", e.event_id);
        }
    };
    let mut run_id = started.run_id.clone();
    let close = loop {
        let close = follow_run(ctx, &started.workflow_id, &run_id, print_event).await?;
        match &close.attributes {
            Some(Attributes::WorkflowExecutionContinuedAsNewEventAttributes(a))
                if !a.new_execution_run_id.is_empty() =>
            {
                if !ctx.json {
                    outln!("  Continued as new: run {}", a.new_execution_run_id);
                }
                run_id = a.new_execution_run_id.clone();
            }
            _ => break close,
        }
    };
    let elapsed = began.elapsed().as_secs();
    let (status, result, failure) = outcome(&close);
    if ctx.json {
        let mut out = started.json();
        out["runId"] = json!(run_id);
        out["status"] = json!(status);
        out["result"] = result.clone();
        out["failure"] = failure.clone();
        out["runTimeSeconds"] = json!(elapsed);
        render::print_json(&out);
    } else {
        outln!("\nResult:");
        outln!("  Run Time: {elapsed} seconds");
        outln!("  Status: {status}");
        match status {
            "COMPLETED" => outln!("  Output: {}", single_or_all(&result)),
            "FAILED" => {
                let mut shown = failure.clone();
                if !show_detail && let Some(m) = shown.as_object_mut() {
                    m.remove("stackTrace");
                }
                outln!(
                    "  Failure: {}",
                    render::truncate(render::compact(shown).to_string(), max)
                );
            }
            "CANCELED" => outln!("  Detail: {}", single_or_all(&result)),
            _ => {}
        }
    }
    if status == "COMPLETED" {
        Ok(ExitCode::SUCCESS)
    } else {
        let why = failure
            .get("message")
            .and_then(Value::as_str)
            .map(|m| format!(": {m}"))
            .unwrap_or_default();
        eprintln!(
            "Error: workflow {} closed with status {status}{why}",
            started.workflow_id
        );
        Ok(ExitCode::FAILURE)
    }
}

fn single_or_all(v: &Value) -> String {
    match v.as_array() {
        Some(a) if a.len() == 1 => a[0].to_string(),
        _ => v.to_string(),
    }
}

/// Status, result (or cancel details) and failure of a close event.
fn outcome(e: &HistoryEvent) -> (&'static str, Value, Value) {
    match &e.attributes {
        Some(Attributes::WorkflowExecutionCompletedEventAttributes(a)) => {
            ("COMPLETED", payload::decode_all(a.result.as_ref()), Value::Null)
        }
        Some(Attributes::WorkflowExecutionFailedEventAttributes(a)) => {
            ("FAILED", Value::Null, render::failure(a.failure.as_ref()))
        }
        Some(Attributes::WorkflowExecutionTimedOutEventAttributes(_)) => ("TIMEOUT", Value::Null, Value::Null),
        Some(Attributes::WorkflowExecutionCanceledEventAttributes(a)) => {
            ("CANCELED", payload::decode_all(a.details.as_ref()), Value::Null)
        }
        Some(Attributes::WorkflowExecutionTerminatedEventAttributes(a)) => (
            "TERMINATED",
            Value::Null,
            json!({ "message": format!("terminated: {}", a.reason) }),
        ),
        _ => ("UNKNOWN", Value::Null, Value::Null),
    }
}
