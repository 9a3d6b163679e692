//! `tctl namespace register|describe|list|update`.

use crate::cli::{NamespaceCmd, NamespaceCommonArgs};
use crate::client::Ctx;
use crate::{parse, render};
use anyhow::{Context as _, anyhow, bail};
use serde_json::json;
use std::collections::HashMap;
use sundial_api::prost_wkt_types::Duration;
use sundial_api::temporal::enums::v1::ArchivalState;
use sundial_api::temporal::namespace::v1::{BadBinaryInfo, NamespaceConfig, UpdateNamespaceInfo};
use sundial_api::temporal::replication::v1::{ClusterReplicationConfig, NamespaceReplicationConfig};
use sundial_api::workflowservice::v1::{
    DescribeNamespaceRequest, DescribeNamespaceResponse, ListNamespacesRequest, RegisterNamespaceRequest,
    UpdateNamespaceRequest,
};
use tonic::Code;

/// tctl's default retention when `--retention` is not given.
const DEFAULT_RETENTION_DAYS: i64 = 3;

pub async fn run(ctx: &Ctx, cmd: NamespaceCmd) -> anyhow::Result<()> {
    match cmd {
        NamespaceCmd::Register(args) => register(ctx, args).await,
        NamespaceCmd::Describe(args) => {
            let resp = describe(ctx, &ctx.namespace, args.namespace_id.as_deref()).await?;
            print_namespace(ctx, &resp);
            Ok(())
        }
        NamespaceCmd::List => list(ctx).await,
        NamespaceCmd::Update(args) => update(ctx, args).await,
    }
}

fn retention(text: &str) -> anyhow::Result<Duration> {
    parse::days_or_duration(text)
        .with_context(|| format!("option --retention {text:?} is invalid (days, or a duration like 24h)"))
}

fn archival(flag: &str, value: Option<&str>) -> anyhow::Result<i32> {
    match value.map(str::to_ascii_lowercase).as_deref() {
        None | Some("") => Ok(ArchivalState::Unspecified as i32),
        Some("enabled") => Ok(ArchivalState::Enabled as i32),
        Some("disabled") => Ok(ArchivalState::Disabled as i32),
        Some(other) => bail!("option {flag} {other:?} is invalid: use enabled or disabled"),
    }
}

/// `k1:v1,k2:v2` (tctl's --namespace_data); `=` is accepted as the separator too.
fn namespace_data(text: &str) -> anyhow::Result<HashMap<String, String>> {
    text.split(',')
        .filter(|kv| !kv.trim().is_empty())
        .map(|kv| {
            let (k, v) = kv
                .split_once(':')
                .or_else(|| kv.split_once('='))
                .ok_or_else(|| anyhow!("option --namespace_data {kv:?} is invalid: use key:value,key:value"))?;
            Ok((k.trim().to_owned(), v.trim().to_owned()))
        })
        .collect()
}

fn replication(common: &NamespaceCommonArgs) -> (String, Vec<ClusterReplicationConfig>) {
    let clusters = common
        .clusters
        .iter()
        .flat_map(|c| c.split(','))
        .map(|c| ClusterReplicationConfig {
            cluster_name: c.trim().to_owned(),
            ..Default::default()
        })
        .filter(|c| !c.cluster_name.is_empty())
        .collect();
    (common.active_cluster.clone().unwrap_or_default(), clusters)
}

async fn register(ctx: &Ctx, args: crate::cli::NamespaceRegisterArgs) -> anyhow::Result<()> {
    let c = &args.common;
    let retention = match &c.retention {
        Some(text) => retention(text)?,
        None => Duration {
            seconds: DEFAULT_RETENTION_DAYS * 86_400,
            nanos: 0,
        },
    };
    let is_global = match args.global_namespace.as_deref() {
        None => false,
        Some(v) => v
            .parse::<bool>()
            .map_err(|_| anyhow!("option --global_namespace {v:?} is invalid: use true or false"))?,
    };
    let (active_cluster_name, clusters) = replication(c);
    let req = RegisterNamespaceRequest {
        namespace: ctx.namespace.clone(),
        description: c.description.clone().unwrap_or_default(),
        owner_email: c.owner_email.clone().unwrap_or_default(),
        workflow_execution_retention_period: Some(retention),
        clusters,
        active_cluster_name,
        data: c
            .namespace_data
            .as_deref()
            .map(namespace_data)
            .transpose()?
            .unwrap_or_default(),
        is_global_namespace: is_global,
        history_archival_state: archival("--history_archival_state", c.history_archival_state.as_deref())?,
        history_archival_uri: c.history_uri.clone().unwrap_or_default(),
        visibility_archival_state: archival("--visibility_archival_state", c.visibility_archival_state.as_deref())?,
        visibility_archival_uri: c.visibility_uri.clone().unwrap_or_default(),
        ..Default::default()
    };
    let mut client = ctx.workflow.clone();
    let result = ctx
        .call("RegisterNamespace", client.register_namespace(ctx.request(req)))
        .await;
    if let Err(err) = result {
        if err.code == Some(Code::AlreadyExists) {
            bail!("namespace {} is already registered", ctx.namespace);
        }
        return Err(err.into());
    }
    if ctx.json {
        render::print_json(&json!({ "namespace": ctx.namespace, "registered": true }));
    } else {
        outln!("Namespace {} successfully registered.", ctx.namespace);
    }
    Ok(())
}

pub async fn describe(ctx: &Ctx, namespace: &str, id: Option<&str>) -> anyhow::Result<DescribeNamespaceResponse> {
    let req = match id {
        Some(id) => DescribeNamespaceRequest {
            id: id.to_owned(),
            ..Default::default()
        },
        None => DescribeNamespaceRequest {
            namespace: namespace.to_owned(),
            ..Default::default()
        },
    };
    let mut client = ctx.workflow.clone();
    ctx.call("DescribeNamespace", client.describe_namespace(ctx.request(req)))
        .await
        .map_err(|err| {
            if err.code == Some(Code::NotFound) {
                match id {
                    Some(id) => anyhow!("namespace with id {id} does not exist"),
                    None => anyhow!("namespace {namespace} does not exist"),
                }
            } else {
                err.into()
            }
        })
}

fn print_namespace(ctx: &Ctx, ns: &DescribeNamespaceResponse) {
    if ctx.json {
        render::print_json(&render::namespace(ns));
    } else {
        print_namespace_text(ns);
    }
}

fn print_namespace_text(ns: &DescribeNamespaceResponse) {
    let v = render::namespace(ns);
    let info = ns.namespace_info.clone().unwrap_or_default();
    let cfg = ns.config.clone().unwrap_or_default();
    let mut data: Vec<String> = info.data.iter().map(|(k, v)| format!("{k}:{v}")).collect();
    data.sort();
    outln!("Name: {}", info.name);
    outln!("Id: {}", info.id);
    outln!("Description: {}", info.description);
    outln!("OwnerEmail: {}", info.owner_email);
    outln!("NamespaceData: {}", data.join(","));
    outln!(
        "State: {}",
        render::namespace_state(info.state)
            .trim_start_matches("NAMESPACE_STATE_")
            .to_owned()
    );
    outln!(
        "Retention: {}",
        render::go_duration(cfg.workflow_execution_retention_ttl.as_ref())
    );
    outln!(
        "ActiveClusterName: {}",
        v["replicationConfig"]["activeClusterName"].as_str().unwrap_or("")
    );
    let clusters: Vec<String> = v["replicationConfig"]["clusters"]
        .as_array()
        .map(|a| a.iter().filter_map(|c| c.as_str().map(str::to_owned)).collect())
        .unwrap_or_default();
    outln!("Clusters: {}", clusters.join(", "));
    outln!("HistoryArchivalState: {}", short_archival(cfg.history_archival_state));
    outln!("IsGlobalNamespace: {}", ns.is_global_namespace);
    outln!("FailoverVersion: {}", ns.failover_version);
    if !cfg.history_archival_uri.is_empty() {
        outln!("HistoryArchivalURI: {}", cfg.history_archival_uri);
    }
    outln!(
        "VisibilityArchivalState: {}",
        short_archival(cfg.visibility_archival_state)
    );
    if !cfg.visibility_archival_uri.is_empty() {
        outln!("VisibilityArchivalURI: {}", cfg.visibility_archival_uri);
    }
    if let Some(bad) = cfg.bad_binaries.as_ref().filter(|b| !b.binaries.is_empty()) {
        outln!("Bad binaries to reset:");
        let rows: Vec<Vec<String>> = bad
            .binaries
            .iter()
            .map(|(k, b)| {
                vec![
                    k.clone(),
                    b.operator.clone(),
                    render::time_text(b.create_time.as_ref(), true),
                    b.reason.clone(),
                ]
            })
            .collect();
        render::print_table(&["Binary Checksum", "Operator", "Start Time", "Reason"], &rows);
    }
}

fn short_archival(v: i32) -> String {
    let name = render::archival_state(v);
    let short = name.trim_start_matches("ARCHIVAL_STATE_");
    let mut c = short.chars();
    c.next()
        .map(|f| f.to_string() + &c.as_str().to_lowercase())
        .unwrap_or_default()
}

async fn list(ctx: &Ctx) -> anyhow::Result<()> {
    let mut all = Vec::new();
    let mut token = Vec::new();
    let mut client = ctx.workflow.clone();
    loop {
        let req = ListNamespacesRequest {
            page_size: 100,
            next_page_token: token,
            ..Default::default()
        };
        let resp = ctx
            .call("ListNamespaces", client.list_namespaces(ctx.request(req)))
            .await?;
        all.extend(resp.namespaces);
        if resp.next_page_token.is_empty() {
            break;
        }
        token = resp.next_page_token;
    }
    if ctx.json {
        render::print_json(&serde_json::Value::Array(all.iter().map(render::namespace).collect()));
    } else {
        for (i, ns) in all.iter().enumerate() {
            if i > 0 {
                outln!();
            }
            print_namespace_text(ns);
        }
    }
    Ok(())
}

async fn update(ctx: &Ctx, args: crate::cli::NamespaceUpdateArgs) -> anyhow::Result<()> {
    let current = describe(ctx, &ctx.namespace, None).await?;
    let c = &args.common;
    let info = current.namespace_info.clone().unwrap_or_default();
    let mut data = info.data.clone();
    if let Some(text) = &c.namespace_data {
        data.extend(namespace_data(text)?);
    }
    let update_info = UpdateNamespaceInfo {
        description: c.description.clone().unwrap_or(info.description),
        owner_email: c.owner_email.clone().unwrap_or(info.owner_email),
        data,
        ..Default::default()
    };
    let mut config = NamespaceConfig {
        history_archival_state: archival("--history_archival_state", c.history_archival_state.as_deref())?,
        history_archival_uri: c.history_uri.clone().unwrap_or_default(),
        visibility_archival_state: archival("--visibility_archival_state", c.visibility_archival_state.as_deref())?,
        visibility_archival_uri: c.visibility_uri.clone().unwrap_or_default(),
        ..Default::default()
    };
    if let Some(text) = &c.retention {
        config.workflow_execution_retention_ttl = Some(retention(text)?);
    }
    if let Some(checksum) = &args.add_bad_binary {
        let reason = args
            .reason
            .clone()
            .filter(|r| !r.is_empty())
            .ok_or_else(|| anyhow!("--reason is required with --add_bad_binary"))?;
        let mut bad = sundial_api::temporal::namespace::v1::BadBinaries::default();
        bad.binaries.insert(
            checksum.clone(),
            BadBinaryInfo {
                reason,
                operator: current_user(),
                ..Default::default()
            },
        );
        config.bad_binaries = Some(bad);
    }
    let replication_config = if c.active_cluster.is_some() || c.clusters.is_some() {
        let (active_cluster_name, clusters) = replication(c);
        Some(NamespaceReplicationConfig {
            active_cluster_name,
            clusters,
            ..Default::default()
        })
    } else {
        None
    };
    let req = UpdateNamespaceRequest {
        namespace: ctx.namespace.clone(),
        update_info: Some(update_info),
        config: Some(config),
        replication_config,
        delete_bad_binary: args.remove_bad_binary.clone().unwrap_or_default(),
        promote_namespace: args.promote_namespace,
        ..Default::default()
    };
    let mut client = ctx.workflow.clone();
    let resp = ctx
        .call("UpdateNamespace", client.update_namespace(ctx.request(req)))
        .await?;
    if ctx.json {
        let described = DescribeNamespaceResponse {
            namespace_info: resp.namespace_info,
            config: resp.config,
            replication_config: resp.replication_config,
            failover_version: resp.failover_version,
            is_global_namespace: resp.is_global_namespace,
            ..Default::default()
        };
        render::print_json(&render::namespace(&described));
    } else {
        outln!("Namespace {} successfully updated.", ctx.namespace);
    }
    Ok(())
}

pub fn current_user() -> String {
    std::env::var("USER")
        .or_else(|_| std::env::var("USERNAME"))
        .unwrap_or_else(|_| "tctl".into())
}
