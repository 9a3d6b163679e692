//! A tower layer around a role's tonic server that records Temporal's server-side RPC
//! metrics (`service_requests`, `service_latency`, `service_errors`, `service_error_with_type`,
//! `service_errors_resource_exhausted`) per `service_name`, `operation` and `namespace`.

use crate::{Metrics, NAMESPACE_HEADER, UNKNOWN, sanitize};
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

pub(crate) const RESOURCE_EXHAUSTED: i32 = 8;

/// The labels of one call.
pub(crate) struct Call {
    pub service_name: &'static str,
    pub operation: String,
    pub namespace: String,
}

/// gRPC code names as tonic and grpc-go spell them, for `error_type`.
pub(crate) fn code_name(code: i32) -> &'static str {
    match code {
        0 => "Ok",
        1 => "Canceled",
        2 => "Unknown",
        3 => "InvalidArgument",
        4 => "DeadlineExceeded",
        5 => "NotFound",
        6 => "AlreadyExists",
        7 => "PermissionDenied",
        8 => "ResourceExhausted",
        9 => "FailedPrecondition",
        10 => "Aborted",
        11 => "OutOfRange",
        12 => "Unimplemented",
        13 => "Internal",
        14 => "Unavailable",
        15 => "DataLoss",
        16 => "Unauthenticated",
        _ => "Unknown",
    }
}

/// Errors caused by the caller, which Temporal leaves out of `service_errors` (they are still
/// in `service_error_with_type`). ResourceExhausted counts as the caller's only when it is
/// namespace-scoped; every limit Sundial enforces is per namespace, so a call that names a
/// namespace is taken as namespace-scoped.
pub(crate) fn is_expected(code: i32, has_namespace: bool) -> bool {
    match code {
        // Canceled, InvalidArgument, NotFound, AlreadyExists, PermissionDenied,
        // FailedPrecondition, OutOfRange, Unauthenticated.
        1 | 3 | 5 | 6 | 7 | 9 | 11 | 16 => true,
        RESOURCE_EXHAUSTED => has_namespace,
        _ => false,
    }
}

/// Wraps every service of a tonic server (`Server::builder().layer(..)`).
#[derive(Clone)]
pub struct RpcMetricsLayer {
    metrics: Metrics,
    service_name: &'static str,
}

impl RpcMetricsLayer {
    pub(crate) fn new(metrics: Metrics, service_name: &'static str) -> Self {
        Self { metrics, service_name }
    }
}

impl<S> tower_layer::Layer<S> for RpcMetricsLayer {
    type Service = RpcMetricsService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RpcMetricsService {
            inner,
            metrics: self.metrics.clone(),
            service_name: self.service_name,
        }
    }
}

#[derive(Clone)]
pub struct RpcMetricsService<S> {
    inner: S,
    metrics: Metrics,
    service_name: &'static str,
}

impl<S, B, R> tower_service::Service<http::Request<B>> for RpcMetricsService<S>
where
    S: tower_service::Service<http::Request<B>, Response = http::Response<R>>,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<S::Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let path = request.uri().path();
        // Health checks (container probes, every few seconds) are not Temporal RPCs.
        if !self.metrics.is_enabled() || path.starts_with("/grpc.health.") {
            return Box::pin(self.inner.call(request));
        }
        let call = Call {
            service_name: self.service_name,
            operation: sanitize(path.rsplit('/').next().unwrap_or_default()),
            namespace: request
                .headers()
                .get(NAMESPACE_HEADER)
                .and_then(|v| v.to_str().ok())
                .filter(|v| !v.is_empty())
                .map_or_else(|| UNKNOWN.to_owned(), sanitize),
        };
        let metrics = self.metrics.clone();
        let started = Instant::now();
        let response = self.inner.call(request);
        Box::pin(async move {
            let result = response.await;
            // A handler's error comes back as a trailers-only response: grpc-status is a
            // header. A status sent in trailers after a streamed body is not seen here (no
            // Temporal RPC Sundial serves streams a body and then fails).
            let code = match &result {
                Ok(r) => r
                    .headers()
                    .get("grpc-status")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.parse::<i32>().ok()),
                // Transport-level failure: no gRPC status; count it as Unknown.
                Err(_) => Some(2),
            };
            metrics.record_rpc(&call, code, started.elapsed());
            result
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expected_errors_follow_temporal() {
        for code in [1, 3, 5, 6, 7, 9, 11, 16] {
            assert!(is_expected(code, false), "{}", code_name(code));
        }
        for code in [2, 4, 10, 12, 13, 14, 15] {
            assert!(!is_expected(code, true), "{}", code_name(code));
        }
        assert!(is_expected(RESOURCE_EXHAUSTED, true));
        assert!(!is_expected(RESOURCE_EXHAUSTED, false));
    }
}
