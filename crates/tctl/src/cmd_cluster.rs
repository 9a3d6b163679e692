//! `tctl taskqueue …`, `tctl cluster …` and `tctl admin …`.

use crate::cli::{
    AdminClusterCmd, AdminCmd, AdminMembershipCmd, AdminShardCmd, AdminWorkflowCmd, ClusterCmd, DynamicConfigCmd,
    DynamicConfigDescribeArgs, TaskQueueCmd,
};
use crate::client::Ctx;
use crate::render;
use anyhow::bail;
use serde_json::{Value, json};
use std::process::ExitCode;
use sundial_api::operatorservice::v1::ListSearchAttributesRequest;
use sundial_api::sundial::adminservice::v1::admin_service_client::AdminServiceClient;
use sundial_api::sundial::adminservice::v1::{
    DescribeDynamicConfigRequest, DescribeMembershipRequest, DescribeMembershipResponse, DynamicConfigEntry,
};
use sundial_api::temporal::enums::v1::{TaskQueueKind, TaskQueueType};
use sundial_api::temporal::taskqueue::v1::TaskQueue;
use sundial_api::workflowservice::v1::{
    DescribeTaskQueueRequest, GetClusterInfoRequest, GetSystemInfoRequest, ListTaskQueuePartitionsRequest,
};
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

/// The service name tctl's `cluster health` checks.
const WORKFLOW_SERVICE: &str = "temporal.api.workflowservice.v1.WorkflowService";

fn required_tq(tq: Option<String>) -> anyhow::Result<String> {
    match tq {
        Some(tq) if !tq.is_empty() => Ok(tq),
        _ => bail!("option --taskqueue (--tq) is required"),
    }
}

fn task_queue(name: String) -> Option<TaskQueue> {
    Some(TaskQueue {
        name,
        kind: TaskQueueKind::Normal as i32,
        ..Default::default()
    })
}

pub async fn taskqueue(ctx: &Ctx, cmd: TaskQueueCmd) -> anyhow::Result<()> {
    let mut client = ctx.workflow.clone();
    match cmd {
        TaskQueueCmd::Describe(args) => {
            let name = required_tq(args.taskqueue.taskqueue)?;
            let tq_type = match args.taskqueuetype.to_ascii_lowercase().as_str() {
                "workflow" | "wf" => TaskQueueType::Workflow,
                "activity" | "act" => TaskQueueType::Activity,
                other => bail!("option --taskqueuetype {other:?} is invalid: use workflow or activity"),
            };
            let req = DescribeTaskQueueRequest {
                namespace: ctx.namespace.clone(),
                task_queue: task_queue(name.clone()),
                task_queue_type: tq_type as i32,
                ..Default::default()
            };
            let resp = ctx
                .call("DescribeTaskQueue", client.describe_task_queue(ctx.request(req)))
                .await?;
            if ctx.json {
                let pollers: Vec<Value> = resp
                    .pollers
                    .iter()
                    .map(|p| json!({ "identity": p.identity, "lastAccessTime": render::time(p.last_access_time.as_ref()), "ratePerSecond": p.rate_per_second }))
                    .collect();
                render::print_json(
                    &json!({ "taskQueue": name, "taskQueueType": tq_type.as_str_name(), "pollers": pollers }),
                );
            } else if resp.pollers.is_empty() {
                outln!(
                    "No pollers on task queue {name} ({}).",
                    args.taskqueuetype.to_ascii_lowercase()
                );
            } else {
                let rows: Vec<Vec<String>> = resp
                    .pollers
                    .iter()
                    .map(|p| vec![p.identity.clone(), render::time_text(p.last_access_time.as_ref(), true)])
                    .collect();
                render::print_table(&["Poller Identity", "Last Access Time"], &rows);
            }
        }
        TaskQueueCmd::ListPartition(args) => {
            let name = required_tq(args.taskqueue)?;
            let req = ListTaskQueuePartitionsRequest {
                namespace: ctx.namespace.clone(),
                task_queue: task_queue(name),
            };
            let resp = ctx
                .call(
                    "ListTaskQueuePartitions",
                    client.list_task_queue_partitions(ctx.request(req)),
                )
                .await?;
            let rows = |kind: &str, parts: &[sundial_api::temporal::taskqueue::v1::TaskQueuePartitionMetadata]| {
                parts
                    .iter()
                    .map(|p| vec![kind.to_owned(), p.key.clone(), p.owner_host_name.clone()])
                    .collect::<Vec<_>>()
            };
            if ctx.json {
                let list = |parts: &[sundial_api::temporal::taskqueue::v1::TaskQueuePartitionMetadata]| {
                    parts
                        .iter()
                        .map(|p| json!({ "key": p.key, "ownerHostName": p.owner_host_name }))
                        .collect::<Vec<_>>()
                };
                render::print_json(&json!({
                    "workflowTaskQueuePartitions": list(&resp.workflow_task_queue_partitions),
                    "activityTaskQueuePartitions": list(&resp.activity_task_queue_partitions),
                }));
            } else {
                let mut all = rows("Workflow", &resp.workflow_task_queue_partitions);
                all.extend(rows("Activity", &resp.activity_task_queue_partitions));
                render::print_table(&["Type", "Partition", "Host"], &all);
            }
        }
    }
    Ok(())
}

pub async fn cluster(ctx: &Ctx, cmd: ClusterCmd) -> anyhow::Result<ExitCode> {
    match cmd {
        ClusterCmd::Health => health(ctx).await,
        ClusterCmd::GetSearchAttributes => search_attributes(ctx).await.map(|()| ExitCode::SUCCESS),
    }
}

async fn health(ctx: &Ctx) -> anyhow::Result<ExitCode> {
    let mut client = HealthClient::new(ctx.channel.clone());
    let req = HealthCheckRequest {
        service: WORKFLOW_SERVICE.to_owned(),
    };
    let resp = ctx
        .call("the health check", client.check(ctx.request(req)))
        .await
        .map_err(|e| anyhow::anyhow!("unable to get {WORKFLOW_SERVICE:?} health check status: {e}"))?;
    let status = ServingStatus::try_from(resp.status).unwrap_or(ServingStatus::Unknown);
    let name = status.as_str_name();
    if ctx.json {
        render::print_json(&json!({ "service": WORKFLOW_SERVICE, "status": name }));
    } else {
        outln!("{WORKFLOW_SERVICE}: {name}");
    }
    if status == ServingStatus::Serving {
        Ok(ExitCode::SUCCESS)
    } else {
        eprintln!("Error: {WORKFLOW_SERVICE} is {name}");
        Ok(ExitCode::FAILURE)
    }
}

async fn search_attributes(ctx: &Ctx) -> anyhow::Result<()> {
    let mut client = ctx.operator.clone();
    let req = ListSearchAttributesRequest {
        namespace: ctx.namespace.clone(),
    };
    let resp = ctx
        .call("ListSearchAttributes", client.list_search_attributes(ctx.request(req)))
        .await?;
    let sorted = |m: &std::collections::HashMap<String, i32>| {
        let mut v: Vec<(String, String)> = m
            .iter()
            .map(|(k, t)| {
                (
                    k.clone(),
                    render::indexed_value_type(*t)
                        .trim_start_matches("INDEXED_VALUE_TYPE_")
                        .to_owned(),
                )
            })
            .collect();
        v.sort();
        v
    };
    let system = sorted(&resp.system_attributes);
    let custom = sorted(&resp.custom_attributes);
    if ctx.json {
        let obj = |v: &[(String, String)]| {
            v.iter()
                .map(|(k, t)| (k.clone(), json!(t)))
                .collect::<serde_json::Map<_, _>>()
        };
        render::print_json(&json!({ "systemAttributes": obj(&system), "customAttributes": obj(&custom) }));
    } else {
        let mut rows: Vec<Vec<String>> = custom
            .iter()
            .map(|(k, t)| vec![k.clone(), t.clone(), "custom".into()])
            .collect();
        rows.extend(system.iter().map(|(k, t)| vec![k.clone(), t.clone(), "system".into()]));
        render::print_table(&["Name", "Type", "Kind"], &rows);
    }
    Ok(())
}

pub async fn admin(ctx: &Ctx, cmd: AdminCmd) -> anyhow::Result<ExitCode> {
    match cmd {
        AdminCmd::Cluster(AdminClusterCmd::Describe(args)) => describe_cluster(ctx, args.cluster.as_deref()).await?,
        AdminCmd::Cluster(AdminClusterCmd::GetSearchAttributes) => search_attributes(ctx).await?,
        AdminCmd::DynamicConfig(DynamicConfigCmd::Describe(args)) => describe_dynamic_config(ctx, args).await?,
        AdminCmd::Membership(AdminMembershipCmd::ListGossip) => list_gossip(ctx).await?,
        AdminCmd::Shard(AdminShardCmd::Describe(args)) => shards(ctx, Some(args.shard_id)).await?,
        AdminCmd::Shard(AdminShardCmd::List) => shards(ctx, None).await?,
        AdminCmd::Workflow(AdminWorkflowCmd::Delete(args)) => {
            return crate::cmd_workflow::run(ctx, crate::cli::WorkflowCmd::Delete(args)).await;
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn describe_cluster(ctx: &Ctx, cluster: Option<&str>) -> anyhow::Result<()> {
    let mut client = ctx.workflow.clone();
    let info = ctx
        .call(
            "GetClusterInfo",
            client.get_cluster_info(ctx.request(GetClusterInfoRequest {})),
        )
        .await?;
    if let Some(name) = cluster.filter(|n| !n.is_empty() && *n != info.cluster_name) {
        bail!(
            "cluster {name} is not known to this server (the local cluster is {})",
            info.cluster_name
        );
    }
    let system = ctx
        .call(
            "GetSystemInfo",
            client.get_system_info(ctx.request(GetSystemInfoRequest {})),
        )
        .await?;
    let caps = system.capabilities.unwrap_or_default();
    let mut clients: Vec<(String, String)> = info.supported_clients.into_iter().collect();
    clients.sort();
    if ctx.json {
        render::print_json(&json!({
            "clusterName": info.cluster_name,
            "clusterId": info.cluster_id,
            "serverVersion": info.server_version,
            "historyShardCount": info.history_shard_count,
            "persistenceStore": info.persistence_store,
            "visibilityStore": info.visibility_store,
            "failoverVersionIncrement": info.failover_version_increment,
            "initialFailoverVersion": info.initial_failover_version,
            "supportedClients": clients.iter().map(|(k, v)| (k.clone(), json!(v))).collect::<serde_json::Map<_, _>>(),
            "capabilities": {
                "signalAndQueryHeader": caps.signal_and_query_header,
                "internalErrorDifferentiation": caps.internal_error_differentiation,
                "supportsSchedules": caps.supports_schedules,
                "encodedFailureAttributes": caps.encoded_failure_attributes,
                "eagerWorkflowStart": caps.eager_workflow_start,
                "upsertMemo": caps.upsert_memo,
            },
        }));
    } else {
        let rows = vec![
            vec!["Cluster Name".into(), info.cluster_name],
            vec!["Cluster Id".into(), info.cluster_id],
            vec!["Server Version".into(), info.server_version],
            vec!["History Shard Count".into(), info.history_shard_count.to_string()],
            vec!["Persistence Store".into(), info.persistence_store],
            vec!["Visibility Store".into(), info.visibility_store],
        ];
        for row in rows {
            outln!("{:<20} {}", format!("{}:", row[0]), row[1]);
        }
    }
    Ok(())
}

async fn membership(ctx: &Ctx) -> anyhow::Result<DescribeMembershipResponse> {
    let mut client = AdminServiceClient::new(ctx.channel.clone());
    Ok(ctx
        .call(
            "DescribeMembership",
            client.describe_membership(ctx.request(DescribeMembershipRequest {})),
        )
        .await?)
}

/// `admin membership list_gossip`: each role's ring, in the shape tctl v1 prints.
async fn list_gossip(ctx: &Ctx) -> anyhow::Result<()> {
    let resp = membership(ctx).await?;
    if ctx.json {
        render::print_json(&Value::Array(
            resp.rings
                .iter()
                .map(|r| {
                    json!({
                        "role": r.role,
                        "memberCount": r.members.len(),
                        "members": r.members.iter().map(|m| json!({"identity": m})).collect::<Vec<_>>(),
                    })
                })
                .collect(),
        ));
    } else {
        let rows: Vec<Vec<String>> = resp
            .rings
            .iter()
            .flat_map(|r| r.members.iter().map(|m| vec![r.role.clone(), m.clone()]))
            .collect();
        render::print_table(&["Role", "Member"], &rows);
    }
    Ok(())
}

/// `admin shard describe --shard_id N` / `admin shard list`: the history host of each shard.
async fn shards(ctx: &Ctx, only: Option<i32>) -> anyhow::Result<()> {
    let resp = membership(ctx).await?;
    let shards: Vec<_> = resp
        .shards
        .iter()
        .filter(|s| only.is_none_or(|id| s.shard_id == id))
        .collect();
    if let Some(id) = only
        && shards.is_empty()
    {
        bail!(
            "shard {id} does not exist (this cluster has {} shards)",
            resp.shards.len()
        );
    }
    if ctx.json {
        let items: Vec<Value> = shards
            .iter()
            .map(|s| json!({"shardId": s.shard_id, "owner": s.owner}))
            .collect();
        match (only, items.as_slice()) {
            (Some(_), [one]) => render::print_json(one),
            _ => render::print_json(&Value::Array(items)),
        }
    } else {
        let rows: Vec<Vec<String>> = shards
            .iter()
            .map(|s| vec![s.shard_id.to_string(), s.owner.clone()])
            .collect();
        render::print_table(&["Shard", "Owner"], &rows);
    }
    Ok(())
}

/// `admin dynamic-config describe`: every dynamic config key's effective value for the
/// namespace (and task queue / task type), from Sundial's AdminService.
async fn describe_dynamic_config(ctx: &Ctx, args: DynamicConfigDescribeArgs) -> anyhow::Result<()> {
    let task_queue = args.taskqueue.taskqueue.unwrap_or_default();
    let task_type = match args.task_type.as_deref().map(str::to_ascii_lowercase).as_deref() {
        None | Some("") => String::new(),
        Some(_) if task_queue.is_empty() => bail!("option --task_type needs --taskqueue (--tq)"),
        Some("workflow" | "wf") => "workflow".into(),
        Some("activity" | "act") => "activity".into(),
        Some(other) => bail!("option --task_type {other:?} is invalid: use workflow or activity"),
    };
    let req = DescribeDynamicConfigRequest {
        namespace: ctx.namespace.clone(),
        task_queue,
        task_type,
    };
    let mut client = AdminServiceClient::new(ctx.channel.clone());
    let resp = ctx
        .call(
            "DescribeDynamicConfig",
            client.describe_dynamic_config(ctx.request(req)),
        )
        .await?;
    if ctx.json {
        render::print_json(&Value::Array(resp.entries.iter().map(dynamic_config_json).collect()));
    } else {
        let rows: Vec<Vec<String>> = resp.entries.iter().map(dynamic_config_row).collect();
        render::print_table(&["Key", "Value", "Source", "Constraints"], &rows);
    }
    Ok(())
}

fn entry_value(e: &DynamicConfigEntry) -> Value {
    serde_json::from_str(&e.value_json).unwrap_or_else(|_| Value::String(e.value_json.clone()))
}

/// The shape of `sundial show-dynamic-config --json`.
fn dynamic_config_json(e: &DynamicConfigEntry) -> Value {
    let none_if_empty = |s: &str| if s.is_empty() { Value::Null } else { json!(s) };
    json!({
        "key": e.key,
        "aliases": e.aliases,
        "type": e.kind,
        "scope": e.scope,
        "value": entry_value(e),
        "source": e.source,
        "writtenAs": none_if_empty(&e.written_as),
        "constraints": none_if_empty(&e.constraints),
        "live": e.live,
        "unit": e.unit,
    })
}

/// Key, value (strings unquoted, with the unit), source (and the alias it was written as),
/// constraints of the winning entry.
fn dynamic_config_row(e: &DynamicConfigEntry) -> Vec<String> {
    let mut value = match entry_value(e) {
        Value::String(s) => s,
        other => other.to_string(),
    };
    if !e.unit.is_empty() {
        value = format!("{value} {}", e.unit);
    }
    let mut source = e.source.clone();
    if !e.written_as.is_empty() && e.written_as != e.key {
        source = format!("{source} (as {})", e.written_as);
    }
    vec![e.key.clone(), value, source, e.constraints.clone()]
}
