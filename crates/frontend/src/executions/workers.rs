//! Worker heartbeats and the worker list: RecordWorkerHeartbeat (and the last heartbeat of
//! ShutdownWorker) go to the matching host of the namespace's worker registry; ListWorkers,
//! CountWorkers and DescribeWorker read the live ones back and filter them here with the list
//! filter language over Temporal's worker attributes.

use super::*;
use sundial_api::temporal::enums::v1::WorkerStatus;
use sundial_api::temporal::worker::v1::{WorkerHeartbeat, WorkerInfo, WorkerListInfo};
use sundial_persistence::visibility::parse_rfc3339;
use sundial_persistence::visibility::query::{CmpOp, Condition, Expr, Literal, parse};

/// A worker attribute's value, as the query compares it.
enum Value {
    Text(String),
    Time(Option<i64>),
}

fn status_name(status: i32) -> &'static str {
    match WorkerStatus::try_from(status) {
        Ok(WorkerStatus::Running) => "Running",
        Ok(WorkerStatus::ShuttingDown) => "ShuttingDown",
        Ok(WorkerStatus::Shutdown) => "Shutdown",
        _ => "Unspecified",
    }
}

/// The named attribute of a worker; None for a name workers do not have (Temporal's server
/// then matches nothing rather than refusing the query).
fn attribute(hb: &WorkerHeartbeat, name: &str) -> Option<Value> {
    let text = |s: &str| Some(Value::Text(s.to_owned()));
    let version = hb.deployment_version.clone().unwrap_or_default();
    match name {
        "WorkerInstanceKey" => text(&hb.worker_instance_key),
        "WorkerIdentity" => text(&hb.worker_identity),
        "HostName" => text(hb.host_info.as_ref().map_or("", |h| h.host_name.as_str())),
        "TaskQueue" => text(&hb.task_queue),
        "DeploymentName" => text(&version.deployment_name),
        "BuildId" => text(&version.build_id),
        "SdkName" => text(&hb.sdk_name),
        "SdkVersion" => text(&hb.sdk_version),
        "Status" => text(status_name(hb.status)),
        "StartTime" => Some(Value::Time(
            hb.start_time.as_ref().map(sundial_common::time::timestamp_to_nanos),
        )),
        "HeartbeatTime" => Some(Value::Time(
            hb.heartbeat_time.as_ref().map(sundial_common::time::timestamp_to_nanos),
        )),
        _ => None,
    }
}

fn literal_text(lit: &Literal) -> String {
    match lit {
        Literal::Str(s) | Literal::Num(s) => s.clone(),
        Literal::Bool(b) => b.to_string(),
    }
}

fn literal_time(lit: &Literal) -> Result<i64, ServiceError> {
    parse_rfc3339(&literal_text(lit))
        .ok_or_else(|| ServiceError::invalid(format!("invalid query: {lit} is not an RFC 3339 time")))
}

fn compare<T: PartialOrd>(op: CmpOp, a: &T, b: &T) -> bool {
    match op {
        CmpOp::Eq => a == b,
        CmpOp::Ne => a != b,
        CmpOp::Lt => a < b,
        CmpOp::Le => a <= b,
        CmpOp::Gt => a > b,
        CmpOp::Ge => a >= b,
    }
}

fn matches(expr: &Expr, hb: &WorkerHeartbeat) -> Result<bool, ServiceError> {
    match expr {
        Expr::And(items) => {
            for e in items {
                if !matches(e, hb)? {
                    return Ok(false);
                }
            }
            Ok(true)
        }
        Expr::Or(items) => {
            for e in items {
                if matches(e, hb)? {
                    return Ok(true);
                }
            }
            Ok(false)
        }
        Expr::Predicate {
            attribute: name,
            condition,
        } => {
            let Some(value) = attribute(hb, name) else {
                return Ok(false);
            };
            Ok(match (condition, value) {
                (Condition::Compare(op, lit), Value::Text(v)) => compare(*op, &v, &literal_text(lit)),
                (Condition::Compare(op, lit), Value::Time(v)) => {
                    let t = literal_time(lit)?;
                    v.is_some_and(|v| compare(*op, &v, &t))
                }
                (Condition::In { values, negated }, Value::Text(v)) => {
                    values.iter().any(|l| literal_text(l) == v) != *negated
                }
                (Condition::StartsWith { prefix, negated }, Value::Text(v)) => {
                    v.starts_with(&literal_text(prefix)) != *negated
                }
                (Condition::Between { low, high, negated }, Value::Time(v)) => {
                    let (lo, hi) = (literal_time(low)?, literal_time(high)?);
                    v.is_some_and(|v| lo <= v && v <= hi) != *negated
                }
                (Condition::Between { low, high, negated }, Value::Text(v)) => {
                    (literal_text(low) <= v && v <= literal_text(high)) != *negated
                }
                (Condition::IsNull { negated }, Value::Text(v)) => v.is_empty() != *negated,
                (Condition::IsNull { negated }, Value::Time(v)) => v.is_none() != *negated,
                (_, Value::Time(_)) => {
                    return Err(ServiceError::invalid(format!(
                        "invalid query: {name} is a time; compare it with =, <, >, BETWEEN"
                    )));
                }
            })
        }
    }
}

/// The workers a query selects, in instance-key order.
fn select(workers: Vec<WorkerHeartbeat>, query: &str) -> Result<Vec<WorkerHeartbeat>, ServiceError> {
    let parsed = parse(query).map_err(|e| ServiceError::invalid(format!("invalid query: {e}")))?;
    if !parsed.order_by.is_empty() || !parsed.group_by.is_empty() {
        return Err(ServiceError::invalid(
            "invalid query: ORDER BY and GROUP BY are not supported for workers",
        ));
    }
    let Some(filter) = parsed.filter else {
        return Ok(workers);
    };
    let mut out = Vec::new();
    for w in workers {
        if matches(&filter, &w)? {
            out.push(w);
        }
    }
    Ok(out)
}

fn list_info(hb: &WorkerHeartbeat) -> WorkerListInfo {
    let host = hb.host_info.clone().unwrap_or_default();
    WorkerListInfo {
        worker_instance_key: hb.worker_instance_key.clone(),
        worker_identity: hb.worker_identity.clone(),
        task_queue: hb.task_queue.clone(),
        deployment_version: hb.deployment_version.clone(),
        sdk_name: hb.sdk_name.clone(),
        sdk_version: hb.sdk_version.clone(),
        status: hb.status,
        start_time: hb.start_time,
        host_name: host.host_name,
        worker_grouping_key: host.worker_grouping_key,
        process_id: host.process_id,
        plugins: hb.plugins.clone(),
        drivers: hb.drivers.clone(),
    }
}

impl ExecutionHandler {
    async fn record_heartbeats(&self, namespace_id: &str, heartbeats: Vec<WorkerHeartbeat>) -> Res<()> {
        if heartbeats.is_empty() {
            return Ok(());
        }
        let mut client = self.matching(namespace_id, sundial_rpc::WORKER_REGISTRY)?;
        client
            .record_worker_heartbeat(ms::RecordWorkerHeartbeatRequest {
                namespace_id: namespace_id.to_owned(),
                worker_heartbeat: heartbeats,
            })
            .await?;
        Ok(())
    }

    /// ShutdownWorker's last heartbeat (the worker's final status).
    pub(crate) async fn record_last_heartbeat(&self, namespace_id: &str, hb: Option<WorkerHeartbeat>) -> Res<()> {
        self.record_heartbeats(namespace_id, hb.into_iter().collect()).await
    }

    async fn live_workers(&self, namespace_id: &str) -> Res<Vec<WorkerHeartbeat>> {
        let mut client = self.matching(namespace_id, sundial_rpc::WORKER_REGISTRY)?;
        let resp = client
            .list_workers(ms::ListWorkersRequest {
                namespace_id: namespace_id.to_owned(),
            })
            .await?
            .into_inner();
        Ok(resp.workers)
    }

    pub async fn record_worker_heartbeat(
        &self,
        req: RecordWorkerHeartbeatRequest,
    ) -> Res<RecordWorkerHeartbeatResponse> {
        let namespace_id = self.ns(&req.namespace).await?;
        self.record_heartbeats(&namespace_id, req.worker_heartbeat).await?;
        Ok(RecordWorkerHeartbeatResponse {})
    }

    #[allow(deprecated)] // workers_info: the CLI still reads it.
    pub async fn list_workers(&self, req: ListWorkersRequest) -> Res<ListWorkersResponse> {
        let namespace_id = self.ns(&req.namespace).await?;
        let selected = select(self.live_workers(&namespace_id).await?, &req.query)?;
        let page = usize::try_from(req.page_size).ok().filter(|p| *p > 0).unwrap_or(1000);
        let offset: usize = if req.next_page_token.is_empty() {
            0
        } else {
            std::str::from_utf8(&req.next_page_token)
                .ok()
                .and_then(|t| t.parse().ok())
                .ok_or_else(|| ServiceError::invalid("Invalid NextPageToken."))?
        };
        let chunk: Vec<WorkerHeartbeat> = selected.iter().skip(offset).take(page).cloned().collect();
        let next = offset.saturating_add(chunk.len());
        Ok(ListWorkersResponse {
            workers: chunk.iter().map(list_info).collect(),
            workers_info: chunk
                .iter()
                .map(|hb| WorkerInfo {
                    worker_heartbeat: Some(hb.clone()),
                })
                .collect(),
            next_page_token: if next < selected.len() {
                next.to_string().into_bytes()
            } else {
                Vec::new()
            },
        })
    }

    pub async fn count_workers(&self, req: CountWorkersRequest) -> Res<CountWorkersResponse> {
        let namespace_id = self.ns(&req.namespace).await?;
        let selected = select(self.live_workers(&namespace_id).await?, &req.query)?;
        Ok(CountWorkersResponse {
            count: selected.len() as i64,
        })
    }

    pub async fn describe_worker(&self, req: DescribeWorkerRequest) -> Res<DescribeWorkerResponse> {
        let namespace_id = self.ns(&req.namespace).await?;
        if req.worker_instance_key.is_empty() {
            return Err(ServiceError::invalid("WorkerInstanceKey is not set on request.").into());
        }
        let found = self
            .live_workers(&namespace_id)
            .await?
            .into_iter()
            .find(|w| w.worker_instance_key == req.worker_instance_key)
            .ok_or_else(|| ServiceError::NotFound(format!("worker not found: {}", req.worker_instance_key)))?;
        Ok(DescribeWorkerResponse {
            worker_info: Some(WorkerInfo {
                worker_heartbeat: Some(found),
            }),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sundial_api::temporal::worker::v1::WorkerHostInfo;

    fn hb(key: &str, queue: &str, host: &str, status: WorkerStatus) -> WorkerHeartbeat {
        WorkerHeartbeat {
            worker_instance_key: key.into(),
            task_queue: queue.into(),
            host_info: Some(WorkerHostInfo {
                host_name: host.into(),
                ..Default::default()
            }),
            status: status as i32,
            start_time: Some(sundial_common::time::nanos_to_timestamp(1_700_000_000_000_000_000)),
            ..Default::default()
        }
    }

    fn keys(query: &str) -> Vec<String> {
        let all = vec![
            hb("a", "q1", "h1", WorkerStatus::Running),
            hb("b", "q2", "h1", WorkerStatus::Shutdown),
            hb("c", "q2", "h2", WorkerStatus::Running),
        ];
        select(all, query)
            .unwrap_or_else(|e| panic!("{query}: {e}"))
            .into_iter()
            .map(|w| w.worker_instance_key)
            .collect()
    }

    #[test]
    fn queries_filter_on_worker_attributes() {
        assert_eq!(keys(""), ["a", "b", "c"]);
        assert_eq!(keys("TaskQueue = 'q2'"), ["b", "c"]);
        assert_eq!(keys("TaskQueue = 'q2' AND Status = 'Running'"), ["c"]);
        assert_eq!(keys("HostName IN ('h2') OR WorkerInstanceKey = 'a'"), ["a", "c"]);
        assert_eq!(keys("WorkerInstanceKey STARTS_WITH 'b'"), ["b"]);
        assert_eq!(keys("StartTime > '2020-01-01T00:00:00Z'"), ["a", "b", "c"]);
        assert_eq!(keys("StartTime < '2020-01-01T00:00:00Z'"), Vec::<String>::new());
        assert_eq!(
            keys("Nope = 'x'"),
            Vec::<String>::new(),
            "an unknown attribute matches nothing"
        );
        assert!(select(vec![], "TaskQueue = ").is_err(), "bad syntax is refused");
        assert!(select(vec![hb("a", "q", "h", WorkerStatus::Running)], "StartTime = 'soon'").is_err());
    }
}
