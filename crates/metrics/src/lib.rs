//! Prometheus metrics named and shaped like Temporal's server metrics with its default "tally"
//! framework, so the community dashboards and alerts read Sundial unchanged: counters without
//! `_total`, timers as histograms in seconds over Temporal's 19 bounds, label values
//! sanitized to `[A-Za-z0-9_]`, and one fixed label set per metric name.
//!
//! [`Metrics`] is a cheap handle that is passed to whoever records (no global recorder): a
//! disabled handle makes every call a no-op, so roles record unconditionally.

mod rpc;
mod server;

pub use rpc::{RpcMetricsLayer, RpcMetricsService};
pub use server::{HANDLER_PATH, MetricsServer, serve};

use prometheus::{HistogramOpts, HistogramVec, IntCounterVec, IntGaugeVec, Opts, Registry};
use std::sync::Arc;

/// Temporal's default timer bounds (milliseconds list divided by 1000), in seconds.
pub const TIMER_BOUNDS_SECONDS: [f64; 19] = [
    0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0, 500.0, 1000.0,
];

/// The label value Temporal uses when a request names no namespace.
pub const UNKNOWN: &str = "_unknown_";

/// The request header Temporal's SDKs and CLI put the namespace name in.
pub const NAMESPACE_HEADER: &str = "temporal-namespace";

#[derive(Debug, thiserror::Error)]
pub enum MetricsError {
    #[error("registering metric {name}: {source}")]
    Register {
        name: &'static str,
        #[source]
        source: prometheus::Error,
    },
    #[error("encoding metrics: {0}")]
    Encode(#[from] prometheus::Error),
    #[error("metrics endpoint {address}: {source}")]
    Listen {
        address: String,
        #[source]
        source: std::io::Error,
    },
}

/// How a workflow run closed, for the `workflow_*` CompletionStats counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WorkflowOutcome {
    Success,
    Failed,
    Timeout,
    Terminate,
    Cancel,
    ContinuedAsNew,
}

impl WorkflowOutcome {
    fn metric(self, m: &Families) -> &IntCounterVec {
        match self {
            WorkflowOutcome::Success => &m.workflow_success,
            WorkflowOutcome::Failed => &m.workflow_failed,
            WorkflowOutcome::Timeout => &m.workflow_timeout,
            WorkflowOutcome::Terminate => &m.workflow_terminate,
            WorkflowOutcome::Cancel => &m.workflow_cancel,
            WorkflowOutcome::ContinuedAsNew => &m.workflow_continued_as_new,
        }
    }
}

/// A handle on this process's metrics; clones share one registry.
#[derive(Clone, Default)]
pub struct Metrics {
    families: Option<Arc<Families>>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics")
            .field("enabled", &self.families.is_some())
            .finish()
    }
}

struct Families {
    registry: Registry,
    service_requests: IntCounterVec,
    service_errors: IntCounterVec,
    service_latency: HistogramVec,
    service_error_with_type: IntCounterVec,
    service_errors_resource_exhausted: IntCounterVec,
    restarts: IntCounterVec,
    numshards_gauge: IntGaugeVec,
    workflow_success: IntCounterVec,
    workflow_failed: IntCounterVec,
    workflow_timeout: IntCounterVec,
    workflow_terminate: IntCounterVec,
    workflow_cancel: IntCounterVec,
    workflow_continued_as_new: IntCounterVec,
}

const RPC_LABELS: &[&str] = &["service_name", "operation", "namespace"];
const COMPLETION_LABELS: &[&str] = &[
    "service_name",
    "operation",
    "namespace",
    "namespace_state",
    "workflowType",
    "taskqueue",
];

impl Metrics {
    /// A handle that records nothing (metrics are off).
    pub fn disabled() -> Metrics {
        Metrics { families: None }
    }

    /// A fresh registry with every family Sundial exports.
    pub fn new() -> Result<Metrics, MetricsError> {
        let registry = Registry::new();
        // Tally's HELP text is "<name> <type>"; kept for byte-for-byte familiarity.
        let counter = |name: &'static str, labels: &[&str]| -> Result<IntCounterVec, MetricsError> {
            let c = IntCounterVec::new(Opts::new(name, format!("{name} counter")), labels)
                .map_err(|source| MetricsError::Register { name, source })?;
            registry
                .register(Box::new(c.clone()))
                .map_err(|source| MetricsError::Register { name, source })?;
            Ok(c)
        };
        let service_latency = HistogramVec::new(
            HistogramOpts::new("service_latency", "service_latency histogram").buckets(TIMER_BOUNDS_SECONDS.to_vec()),
            RPC_LABELS,
        )
        .map_err(|source| MetricsError::Register {
            name: "service_latency",
            source,
        })?;
        registry
            .register(Box::new(service_latency.clone()))
            .map_err(|source| MetricsError::Register {
                name: "service_latency",
                source,
            })?;
        let numshards_gauge = IntGaugeVec::new(
            Opts::new("numshards_gauge", "numshards_gauge gauge"),
            &["service_name", "operation"],
        )
        .map_err(|source| MetricsError::Register {
            name: "numshards_gauge",
            source,
        })?;
        registry
            .register(Box::new(numshards_gauge.clone()))
            .map_err(|source| MetricsError::Register {
                name: "numshards_gauge",
                source,
            })?;
        let families = Families {
            service_requests: counter("service_requests", RPC_LABELS)?,
            service_errors: counter("service_errors", RPC_LABELS)?,
            service_latency,
            service_error_with_type: counter(
                "service_error_with_type",
                &["service_name", "operation", "namespace", "error_type"],
            )?,
            service_errors_resource_exhausted: counter("service_errors_resource_exhausted", RPC_LABELS)?,
            restarts: counter("restarts", &["service_name"])?,
            numshards_gauge,
            workflow_success: counter("workflow_success", COMPLETION_LABELS)?,
            workflow_failed: counter("workflow_failed", COMPLETION_LABELS)?,
            workflow_timeout: counter("workflow_timeout", COMPLETION_LABELS)?,
            workflow_terminate: counter("workflow_terminate", COMPLETION_LABELS)?,
            workflow_cancel: counter("workflow_cancel", COMPLETION_LABELS)?,
            workflow_continued_as_new: counter("workflow_continued_as_new", COMPLETION_LABELS)?,
            registry,
        };
        Ok(Metrics {
            families: Some(Arc::new(families)),
        })
    }

    pub fn is_enabled(&self) -> bool {
        self.families.is_some()
    }

    /// The Prometheus text exposition of every family (empty when disabled).
    pub fn render(&self) -> Result<String, MetricsError> {
        let Some(m) = &self.families else {
            return Ok(String::new());
        };
        Ok(prometheus::TextEncoder::new().encode_to_string(&m.registry.gather())?)
    }

    /// A role started (Temporal's `restarts`, +1 per service start).
    pub fn restarted(&self, service_name: &str) {
        if let Some(m) = &self.families {
            m.restarts.with_label_values(&[&sanitize(service_name)]).inc();
        }
    }

    /// How many history shards this host owns now.
    pub fn set_num_shards(&self, owned: usize) {
        if let Some(m) = &self.families {
            m.numshards_gauge
                .with_label_values(&["history", "ShardController"])
                .set(i64::try_from(owned).unwrap_or(i64::MAX));
        }
    }

    /// A run closed and the close is committed.
    pub fn workflow_closed(&self, outcome: WorkflowOutcome, namespace: &str, workflow_type: &str, task_queue: &str) {
        if let Some(m) = &self.families {
            outcome
                .metric(m)
                .with_label_values(&[
                    "history",
                    "CompletionStats",
                    &label_or_unknown(namespace),
                    // Sundial has no replication: every namespace is active here.
                    "active",
                    &label_or_unknown(workflow_type),
                    &label_or_unknown(task_queue),
                ])
                .inc();
        }
    }

    /// The gRPC server layer for one role (`frontend`, `history`, `matching`, `worker`).
    pub fn rpc_layer(&self, service_name: &'static str) -> RpcMetricsLayer {
        RpcMetricsLayer::new(self.clone(), service_name)
    }

    fn record_rpc(&self, call: &rpc::Call, code: Option<i32>, elapsed: std::time::Duration) {
        let Some(m) = &self.families else { return };
        let labels = [call.service_name, call.operation.as_str(), call.namespace.as_str()];
        m.service_requests.with_label_values(&labels).inc();
        m.service_latency
            .with_label_values(&labels)
            .observe(elapsed.as_secs_f64());
        let Some(code) = code.filter(|c| *c != 0) else {
            return;
        };
        let name = rpc::code_name(code);
        m.service_error_with_type
            .with_label_values(&[labels[0], labels[1], labels[2], name])
            .inc();
        if code == rpc::RESOURCE_EXHAUSTED {
            m.service_errors_resource_exhausted.with_label_values(&labels).inc();
        }
        if !rpc::is_expected(code, call.namespace != UNKNOWN) {
            m.service_errors.with_label_values(&labels).inc();
        }
    }
}

/// Tally's sanitizer: every character outside `[A-Za-z0-9_]` becomes `_`.
pub fn sanitize(value: &str) -> String {
    value
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || c == '_' { c } else { '_' })
        .collect()
}

/// A sanitized label value, `_unknown_` when empty.
fn label_or_unknown(value: &str) -> String {
    if value.is_empty() {
        UNKNOWN.to_owned()
    } else {
        sanitize(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sanitizes_like_tally() {
        assert_eq!(sanitize("billing.prod-1"), "billing_prod_1");
        assert_eq!(sanitize("internal-frontend"), "internal_frontend");
        assert_eq!(sanitize("ok_Name9"), "ok_Name9");
        assert_eq!(label_or_unknown(""), "_unknown_");
    }

    #[test]
    fn renders_tally_names_and_buckets() {
        let m = Metrics::new().expect("registry");
        m.restarted("frontend");
        m.workflow_closed(WorkflowOutcome::Success, "default", "my-wf", "tq.1");
        let call = rpc::Call {
            service_name: "frontend",
            operation: "StartWorkflowExecution".into(),
            namespace: "default".into(),
        };
        m.record_rpc(&call, None, std::time::Duration::from_millis(3));
        m.record_rpc(&call, Some(5), std::time::Duration::from_millis(3));
        m.record_rpc(&call, Some(13), std::time::Duration::from_millis(3));
        let text = m.render().expect("render");
        assert!(!text.contains("_total"), "{text}");
        assert!(text.contains("# TYPE service_requests counter"), "{text}");
        assert!(text.contains("# TYPE service_latency histogram"), "{text}");
        assert!(
            text.contains(r#"le="0.001""#) && text.contains(r#"le="1000""#),
            "{text}"
        );
        assert!(text.contains(
            r#"service_requests{namespace="default",operation="StartWorkflowExecution",service_name="frontend"} 3"#
        ));
        // NotFound is expected, Internal is not.
        assert!(text.contains(
            r#"service_errors{namespace="default",operation="StartWorkflowExecution",service_name="frontend"} 1"#
        ));
        assert!(text.contains(r#"error_type="NotFound""#) && text.contains(r#"error_type="Internal""#));
        assert!(text.contains(r#"taskqueue="tq_1""#) && text.contains(r#"workflowType="my_wf""#));
    }

    #[test]
    fn disabled_records_nothing() {
        let m = Metrics::disabled();
        m.restarted("history");
        m.set_num_shards(3);
        assert_eq!(m.render().expect("render"), "");
    }
}
