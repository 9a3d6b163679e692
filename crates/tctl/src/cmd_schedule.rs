//! `tctl schedule create|update|toggle|trigger|backfill|describe|delete|list`.
//!
//! `create` and `update` build a whole schedule from the flags; as in tctl, `update` is a full
//! replacement, so a flag left out goes back to its default. `toggle`, `trigger` and
//! `backfill` are PatchSchedule calls. `describe` and `list` print tctl's fields: a table by
//! default, `-o json` for the same view as JSON, `describe --print_raw` for the whole answer.

use crate::cli::{
    ScheduleActionArgs, ScheduleBackfillArgs, ScheduleCmd, ScheduleDefinitionArgs, ScheduleIdArg, ScheduleSpecArgs,
    ScheduleToggleArgs,
};
use crate::client::Ctx;
use crate::cmd_workflow::{done, identity, inputs, memo_from, required, search_attributes_from, timeout};
use crate::{parse, payload, render};
use anyhow::{Context as _, anyhow, bail};
use serde_json::{Value, json};
use sundial_api::prost_wkt_types::Timestamp;
use sundial_api::temporal::common::v1::{Memo, SearchAttributes, WorkflowType};
use sundial_api::temporal::enums::v1::{ScheduleOverlapPolicy, TaskQueueKind};
use sundial_api::temporal::schedule::v1::{
    BackfillRequest, CalendarSpec, IntervalSpec, Schedule, ScheduleAction, ScheduleActionResult, ScheduleListEntry,
    SchedulePatch, SchedulePolicies, ScheduleSpec, ScheduleState, TriggerImmediatelyRequest, schedule_action,
};
use sundial_api::temporal::taskqueue::v1::TaskQueue;
use sundial_api::temporal::workflow::v1::NewWorkflowExecutionInfo;
use sundial_api::workflowservice::v1::{
    CreateScheduleRequest, DeleteScheduleRequest, DescribeScheduleRequest, DescribeScheduleResponse,
    ListSchedulesRequest, PatchScheduleRequest, UpdateScheduleRequest,
};

/// tctl's `--reason` default for `toggle`.
const NO_REASON: &str = "(no reason provided)";

pub async fn run(ctx: &Ctx, cmd: ScheduleCmd) -> anyhow::Result<()> {
    match cmd {
        ScheduleCmd::Create(args) => create(ctx, &args).await,
        ScheduleCmd::Update(args) => update(ctx, &args).await,
        ScheduleCmd::Toggle(args) => toggle(ctx, args).await,
        ScheduleCmd::Trigger(args) => {
            let patch = SchedulePatch {
                trigger_immediately: Some(TriggerImmediatelyRequest {
                    overlap_policy: overlap_policy(args.overlap.overlap_policy.as_deref())?,
                    scheduled_time: None,
                }),
                ..Default::default()
            };
            patch_schedule(ctx, &args.id, patch).await?;
            done(ctx, "Trigger request sent");
            Ok(())
        }
        ScheduleCmd::Backfill(args) => backfill(ctx, args).await,
        ScheduleCmd::Describe(args) => describe(ctx, &args.id, args.print_raw).await,
        ScheduleCmd::Delete(args) => {
            let req = DeleteScheduleRequest {
                namespace: ctx.namespace.clone(),
                schedule_id: schedule_id(&args)?,
                identity: identity(),
            };
            let mut client = ctx.workflow.clone();
            ctx.call("DeleteSchedule", client.delete_schedule(ctx.request(req)))
                .await?;
            done(ctx, "Schedule deleted");
            Ok(())
        }
        ScheduleCmd::List => list(ctx).await,
    }
}

fn schedule_id(arg: &ScheduleIdArg) -> anyhow::Result<String> {
    let id = arg.schedule_id.trim();
    if id.is_empty() {
        bail!("option --schedule_id (-s) must not be empty");
    }
    Ok(id.to_owned())
}

// ---------------------------------------------------------------------------------------------
// flag values

/// `--overlap_policy`: tctl's short names (`BufferOne`), any case, or the full enum name.
fn overlap_policy(text: Option<&str>) -> anyhow::Result<i32> {
    use ScheduleOverlapPolicy as P;
    let Some(text) = text.map(str::trim).filter(|t| !t.is_empty()) else {
        return Ok(P::Unspecified as i32);
    };
    let names: Vec<(&str, i32)> = [
        P::Unspecified,
        P::Skip,
        P::BufferOne,
        P::BufferAll,
        P::CancelOther,
        P::TerminateOther,
        P::AllowAll,
    ]
    .iter()
    .map(|p| (p.as_str_name(), *p as i32))
    .collect();
    parse::enum_value(text, "SCHEDULE_OVERLAP_POLICY_", &names).ok_or_else(|| {
        anyhow!(
            "option --overlap_policy {text:?} is invalid: use Skip, BufferOne, BufferAll, CancelOther, \
             TerminateOther or AllowAll"
        )
    })
}

/// `--calendar`: a CalendarSpec in JSON, with proto-JSON (`dayOfWeek`) or proto (`day_of_week`)
/// field names. Numbers are taken as their text, so `{"hour": 17}` means `"17"`.
fn calendar(text: &str) -> anyhow::Result<CalendarSpec> {
    let value: Value =
        serde_json::from_str(text).with_context(|| format!("option --calendar {text:?} is not valid JSON"))?;
    let Value::Object(fields) = value else {
        bail!(r#"option --calendar {text:?} must be a JSON object, e.g. {{"dayOfWeek":"Fri","hour":"17"}}"#);
    };
    let mut spec = CalendarSpec::default();
    for (key, value) in fields {
        let slot = match key.as_str() {
            "second" => &mut spec.second,
            "minute" => &mut spec.minute,
            "hour" => &mut spec.hour,
            "dayOfMonth" | "day_of_month" => &mut spec.day_of_month,
            "month" => &mut spec.month,
            "year" => &mut spec.year,
            "dayOfWeek" | "day_of_week" => &mut spec.day_of_week,
            "comment" => &mut spec.comment,
            other => bail!(
                "option --calendar: unknown field {other:?} (use second, minute, hour, dayOfMonth, month, year, \
                 dayOfWeek, comment)"
            ),
        };
        *slot = match value {
            Value::String(s) => s,
            Value::Number(n) => n.to_string(),
            Value::Null => String::new(),
            other => bail!("option --calendar: field {key:?} must be a string such as \"1-5\" or \"*\", not {other}"),
        };
    }
    Ok(spec)
}

/// `--interval`: `90m`, or `90m/13m` for an interval with a phase offset.
fn interval(text: &str) -> anyhow::Result<IntervalSpec> {
    let bad = || format!("option --interval {text:?} is invalid: use a duration like 90m, or 90m/13m with a phase");
    let mut parts = text.split('/');
    let every = parts.next().unwrap_or_default();
    let phase = parts.next();
    if parts.next().is_some() {
        bail!(bad());
    }
    Ok(IntervalSpec {
        interval: Some(parse::go_duration(every).with_context(bad)?),
        phase: phase.map(parse::go_duration).transpose().with_context(bad)?,
    })
}

fn time_flag(flag: &str, text: &str) -> anyhow::Result<Timestamp> {
    parse::time_filter(text).with_context(|| {
        format!("option {flag} {text:?} is invalid (RFC3339 like 2006-01-02T15:04:05Z, Unix nanoseconds, or a range back from now like 15m)")
    })
}

fn duration_flag(flag: &str, text: &str) -> anyhow::Result<sundial_api::prost_wkt_types::Duration> {
    parse::go_duration(text).with_context(|| format!("option {flag} {text:?} is invalid (a duration like 30s or 10m)"))
}

fn spec(args: &ScheduleSpecArgs) -> anyhow::Result<ScheduleSpec> {
    let timezone_name = match args.time_zone.as_deref().map(str::trim) {
        None | Some("") => String::new(),
        // Checked here, against the same zone database the server uses, so a typo is caught
        // before anything is sent.
        Some(name) => match jiff::tz::TimeZone::get(name) {
            Ok(_) => name.to_owned(),
            Err(_) => {
                bail!("option --time_zone: unknown time zone name {name:?} (use an IANA name such as Europe/Paris)")
            }
        },
    };
    Ok(ScheduleSpec {
        calendar: args
            .calendar
            .iter()
            .map(|c| calendar(c))
            .collect::<anyhow::Result<_>>()?,
        cron_string: args.cron.clone(),
        interval: args
            .interval
            .iter()
            .map(|i| interval(i))
            .collect::<anyhow::Result<_>>()?,
        start_time: args
            .start_time
            .as_deref()
            .map(|t| time_flag("--start_time", t))
            .transpose()?,
        end_time: args
            .end_time
            .as_deref()
            .map(|t| time_flag("--end_time", t))
            .transpose()?,
        jitter: args
            .jitter
            .as_deref()
            .map(|j| duration_flag("--jitter", j))
            .transpose()?,
        timezone_name,
        ..Default::default()
    })
}

fn action(args: &ScheduleActionArgs) -> anyhow::Result<ScheduleAction> {
    let task_queue = required(args.taskqueue.clone(), "--taskqueue (--tq)")?;
    let workflow_type = required(args.workflow_type.clone(), "--workflow_type (--wt)")?;
    let workflow_id = args
        .workflow_id
        .clone()
        .filter(|w| !w.is_empty())
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    let input = inputs(&args.input)?;
    Ok(ScheduleAction {
        action: Some(schedule_action::Action::StartWorkflow(NewWorkflowExecutionInfo {
            workflow_id,
            workflow_type: Some(WorkflowType { name: workflow_type }),
            task_queue: Some(TaskQueue {
                name: task_queue,
                kind: TaskQueueKind::Normal as i32,
                ..Default::default()
            }),
            input: payload::to_payloads(&input),
            workflow_execution_timeout: timeout("--execution_timeout", args.execution_timeout.as_deref())?,
            workflow_run_timeout: timeout("--run-timeout", args.run_timeout.as_deref())?,
            workflow_task_timeout: timeout("--workflow_task_timeout", Some(&args.workflow_task_timeout))?,
            ..Default::default()
        })),
    })
}

fn schedule(args: &ScheduleDefinitionArgs) -> anyhow::Result<Schedule> {
    let policy = &args.policy;
    let state = &args.state;
    Ok(Schedule {
        spec: Some(spec(&args.spec)?),
        action: Some(action(&args.action)?),
        policies: Some(SchedulePolicies {
            overlap_policy: overlap_policy(policy.overlap.overlap_policy.as_deref())?,
            catchup_window: policy
                .catchup_window
                .as_deref()
                .map(|c| duration_flag("--catchup_window", c))
                .transpose()?,
            pause_on_failure: policy.pause_on_failure,
            ..Default::default()
        }),
        state: Some(ScheduleState {
            notes: state.notes.clone().unwrap_or_default(),
            paused: state.pause,
            limited_actions: state.remaining_actions.is_some(),
            remaining_actions: state.remaining_actions.unwrap_or(0),
        }),
    })
}

fn visibility(args: &ScheduleDefinitionArgs) -> anyhow::Result<(Option<Memo>, Option<SearchAttributes>)> {
    let v = &args.visibility;
    Ok((
        memo_from(&v.memo_key, &v.memo, v.memo_file.as_deref())?,
        search_attributes_from(&v.search_attr_key, &v.search_attr_value)?,
    ))
}

// ---------------------------------------------------------------------------------------------
// commands

async fn create(ctx: &Ctx, args: &ScheduleDefinitionArgs) -> anyhow::Result<()> {
    let schedule_id = schedule_id(&args.id)?;
    let (memo, search_attributes) = visibility(args)?;
    let req = CreateScheduleRequest {
        namespace: ctx.namespace.clone(),
        schedule_id,
        schedule: Some(schedule(args)?),
        initial_patch: None,
        identity: identity(),
        request_id: uuid::Uuid::new_v4().to_string(),
        memo,
        search_attributes,
    };
    let mut client = ctx.workflow.clone();
    ctx.call("CreateSchedule", client.create_schedule(ctx.request(req)))
        .await?;
    done(ctx, "Schedule created");
    Ok(())
}

async fn update(ctx: &Ctx, args: &ScheduleDefinitionArgs) -> anyhow::Result<()> {
    let schedule_id = schedule_id(&args.id)?;
    let (memo, search_attributes) = visibility(args)?;
    let req = UpdateScheduleRequest {
        namespace: ctx.namespace.clone(),
        schedule_id,
        schedule: Some(schedule(args)?),
        // No conflict token: like tctl, the new definition wins over any change made meanwhile.
        conflict_token: Vec::new(),
        identity: identity(),
        request_id: uuid::Uuid::new_v4().to_string(),
        search_attributes,
        memo,
    };
    let mut client = ctx.workflow.clone();
    ctx.call("UpdateSchedule", client.update_schedule(ctx.request(req)))
        .await?;
    done(ctx, "Schedule updated");
    Ok(())
}

async fn patch_schedule(ctx: &Ctx, id: &ScheduleIdArg, patch: SchedulePatch) -> anyhow::Result<()> {
    let req = PatchScheduleRequest {
        namespace: ctx.namespace.clone(),
        schedule_id: schedule_id(id)?,
        patch: Some(patch),
        identity: identity(),
        request_id: uuid::Uuid::new_v4().to_string(),
    };
    let mut client = ctx.workflow.clone();
    ctx.call("PatchSchedule", client.patch_schedule(ctx.request(req)))
        .await?;
    Ok(())
}

async fn toggle(ctx: &Ctx, args: ScheduleToggleArgs) -> anyhow::Result<()> {
    // The patch says "pause" or "unpause" by a non-empty reason, so an empty one would do nothing.
    let reason = if args.reason.trim().is_empty() {
        NO_REASON.to_owned()
    } else {
        args.reason
    };
    let patch = match (args.pause, args.unpause) {
        (true, true) => bail!("cannot specify both --pause and --unpause"),
        (false, false) => bail!("must specify one of --pause and --unpause"),
        (true, false) => SchedulePatch {
            pause: reason,
            ..Default::default()
        },
        (false, true) => SchedulePatch {
            unpause: reason,
            ..Default::default()
        },
    };
    patch_schedule(ctx, &args.id, patch).await?;
    done(ctx, "Schedule updated");
    Ok(())
}

async fn backfill(ctx: &Ctx, args: ScheduleBackfillArgs) -> anyhow::Result<()> {
    let start = time_flag("--start_time", &args.start_time)?;
    let end = time_flag("--end_time", &args.end_time)?;
    if (end.seconds, end.nanos) < (start.seconds, start.nanos) {
        bail!(
            "--end_time {} is before --start_time {}",
            render::time_text(Some(&end), true),
            render::time_text(Some(&start), true)
        );
    }
    let patch = SchedulePatch {
        backfill_request: vec![BackfillRequest {
            start_time: Some(start),
            end_time: Some(end),
            overlap_policy: overlap_policy(args.overlap.overlap_policy.as_deref())?,
        }],
        ..Default::default()
    };
    patch_schedule(ctx, &args.id, patch).await?;
    done(ctx, "Backfill request sent");
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// describe and list

/// The last of the recent actions, which the server keeps oldest first.
fn last_run(recent: &[ScheduleActionResult]) -> Option<&ScheduleActionResult> {
    recent.last()
}

fn when(ts: Option<&Timestamp>) -> String {
    render::time_text(ts, true)
}

/// tctl's view of a schedule: the schedule's parts, plus the next and last run pulled out of
/// the info. Unset overlap policy shows as Skip, the server's default.
fn describe_view(id: &str, d: &DescribeScheduleResponse) -> Value {
    let s = d.schedule.clone().unwrap_or_default();
    let info = d.info.clone().unwrap_or_default();
    let start = s.action.as_ref().and_then(|a| a.action.as_ref()).map(|a| {
        let schedule_action::Action::StartWorkflow(w) = a;
        w
    });
    let mut policies = s.policies.unwrap_or_default();
    if policies.overlap_policy == ScheduleOverlapPolicy::Unspecified as i32 {
        policies.overlap_policy = ScheduleOverlapPolicy::Skip as i32;
    }
    let last = last_run(&info.recent_actions);
    json!({
        "scheduleId": id,
        "specification": render::schedule_spec(s.spec.as_ref(), true),
        "startWorkflow": start.map(render::start_workflow),
        "workflowType": start.and_then(|w| w.workflow_type.as_ref()).map(|t| t.name.clone()).unwrap_or_default(),
        "input": payload::decode_all(start.and_then(|w| w.input.as_ref())),
        "policies": render::schedule_policies(Some(&policies)),
        "state": render::schedule_state(Some(&s.state.clone().unwrap_or_default())),
        "info": render::schedule_info(Some(&info)),
        "nextRunTime": render::time(info.future_action_times.first()),
        "lastRunTime": render::time(last.and_then(|r| r.schedule_time.as_ref())),
        "lastRunExecution": render::workflow_execution(last.and_then(|r| r.start_workflow_result.as_ref())),
        "lastRunActualTime": render::time(last.and_then(|r| r.actual_time.as_ref())),
        "memo": render::payload_map(d.memo.as_ref().map(|m| &m.fields)),
        "searchAttributes": render::payload_map(d.search_attributes.as_ref().map(|a| &a.indexed_fields)),
    })
}

async fn describe(ctx: &Ctx, id: &ScheduleIdArg, print_raw: bool) -> anyhow::Result<()> {
    let schedule_id = schedule_id(id)?;
    let req = DescribeScheduleRequest {
        namespace: ctx.namespace.clone(),
        schedule_id: schedule_id.clone(),
    };
    let mut client = ctx.workflow.clone();
    let resp = ctx
        .call("DescribeSchedule", client.describe_schedule(ctx.request(req)))
        .await?;
    if print_raw {
        render::print_json(&render::describe_schedule(&resp));
        return Ok(());
    }
    let view = describe_view(&schedule_id, &resp);
    if ctx.json {
        render::print_json(&view);
        return Ok(());
    }
    let info = resp.info.unwrap_or_default();
    let state = resp.schedule.as_ref().and_then(|s| s.state.clone()).unwrap_or_default();
    let last = last_run(&info.recent_actions);
    let running: Vec<&str> = info.running_workflows.iter().map(|e| e.workflow_id.as_str()).collect();
    render::print_columns(
        &[
            "ScheduleId",
            "WorkflowType",
            "Paused",
            "Notes",
            "RunningWorkflows",
            "NextRunTime",
            "LastRunTime",
            "Specification",
        ],
        &[vec![
            schedule_id,
            view["workflowType"].as_str().unwrap_or_default().to_owned(),
            state.paused.to_string(),
            state.notes,
            running.join(","),
            when(info.future_action_times.first()),
            when(last.and_then(|r| r.schedule_time.as_ref())),
            render::compact(view["specification"].clone()).to_string(),
        ]],
    );
    Ok(())
}

fn list_view(e: &ScheduleListEntry) -> Value {
    let info = e.info.clone().unwrap_or_default();
    let last = last_run(&info.recent_actions);
    json!({
        "scheduleId": e.schedule_id,
        "specification": render::schedule_spec(info.spec.as_ref(), true),
        "startWorkflow": {
            "workflowType": info.workflow_type.as_ref().map(|t| t.name.clone()).unwrap_or_default(),
        },
        "state": { "paused": info.paused, "notes": info.notes },
        "info": {
            "nextRunTime": render::time(info.future_action_times.first()),
            "lastRunTime": render::time(last.and_then(|r| r.schedule_time.as_ref())),
            "lastRunExecution": render::workflow_execution(last.and_then(|r| r.start_workflow_result.as_ref())),
            "lastRunActualTime": render::time(last.and_then(|r| r.actual_time.as_ref())),
        },
    })
}

async fn list(ctx: &Ctx) -> anyhow::Result<()> {
    let mut entries: Vec<ScheduleListEntry> = Vec::new();
    let mut token = Vec::new();
    loop {
        let req = ListSchedulesRequest {
            namespace: ctx.namespace.clone(),
            maximum_page_size: 0,
            next_page_token: token,
            query: String::new(),
        };
        let mut client = ctx.workflow.clone();
        let resp = ctx
            .call("ListSchedules", client.list_schedules(ctx.request(req)))
            .await?;
        entries.extend(resp.schedules);
        token = resp.next_page_token;
        if token.is_empty() {
            break;
        }
    }
    if ctx.json {
        render::print_json(&Value::Array(entries.iter().map(list_view).collect()));
        return Ok(());
    }
    // A server without advanced visibility lists ids only; tctl says so and shows just those.
    if entries.iter().any(|e| e.info.is_none()) {
        outln!("Note: Extended schedule information is not available without Elasticsearch");
        let rows: Vec<Vec<String>> = entries.iter().map(|e| vec![e.schedule_id.clone()]).collect();
        render::print_columns(&["ScheduleId"], &rows);
        return Ok(());
    }
    let rows: Vec<Vec<String>> = entries
        .iter()
        .map(|e| {
            let info = e.info.clone().unwrap_or_default();
            let last = last_run(&info.recent_actions);
            vec![
                e.schedule_id.clone(),
                info.workflow_type.map(|t| t.name).unwrap_or_default(),
                info.paused.to_string(),
                info.notes,
                when(info.future_action_times.first()),
                when(last.and_then(|r| r.schedule_time.as_ref())),
            ]
        })
        .collect();
    render::print_columns(
        &[
            "ScheduleId",
            "WorkflowType",
            "Paused",
            "Notes",
            "NextRunTime",
            "LastRunTime",
        ],
        &rows,
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overlap_policy_names() {
        assert_eq!(
            overlap_policy(None).expect("none"),
            ScheduleOverlapPolicy::Unspecified as i32
        );
        assert_eq!(
            overlap_policy(Some("BufferOne")).expect("short"),
            ScheduleOverlapPolicy::BufferOne as i32
        );
        assert_eq!(
            overlap_policy(Some("allowall")).expect("case"),
            ScheduleOverlapPolicy::AllowAll as i32
        );
        assert_eq!(
            overlap_policy(Some("SCHEDULE_OVERLAP_POLICY_TERMINATE_OTHER")).expect("full"),
            ScheduleOverlapPolicy::TerminateOther as i32
        );
        let err = overlap_policy(Some("Sometimes")).expect_err("bad").to_string();
        assert!(err.contains("--overlap_policy") && err.contains("BufferOne"), "{err}");
    }

    #[test]
    fn calendar_json() {
        let c = calendar(r#"{"dayOfWeek":"Fri","hour":"17","minute":5,"day_of_month":"1-7"}"#).expect("calendar");
        assert_eq!(
            (
                c.day_of_week.as_str(),
                c.hour.as_str(),
                c.minute.as_str(),
                c.day_of_month.as_str()
            ),
            ("Fri", "17", "5", "1-7")
        );
        assert!(calendar("{").is_err());
        assert!(calendar("[]").expect_err("array").to_string().contains("JSON object"));
        assert!(
            calendar(r#"{"weekday":"Fri"}"#)
                .expect_err("unknown")
                .to_string()
                .contains("weekday")
        );
        assert!(calendar(r#"{"hour":[1]}"#).is_err());
    }

    #[test]
    fn interval_forms() {
        let i = interval("90m/13m").expect("phase");
        assert_eq!(i.interval.map(|d| d.seconds), Some(5_400));
        assert_eq!(i.phase.map(|d| d.seconds), Some(780));
        let i = interval("2s").expect("plain");
        assert_eq!(i.interval.map(|d| d.seconds), Some(2));
        assert!(i.phase.is_none());
        assert_eq!(interval("1d").expect("days").interval.map(|d| d.seconds), Some(86_400));
        assert!(interval("5h/1m/2m").is_err());
        assert!(interval("soon").expect_err("bad").to_string().contains("--interval"));
        assert!(interval("").is_err());
    }

    #[test]
    fn structured_calendar_reads_back_as_text() {
        use sundial_api::temporal::schedule::v1::Range;
        let r = |start, end, step| Range { start, end, step };
        assert_eq!(render::ranges_text(&[r(1, 5, 2), r(10, 0, 1)]), "1-5/2,10");
        assert_eq!(render::ranges_text(&[r(0, 59, 15)]), "0-59/15");
    }
}
